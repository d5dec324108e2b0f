//! Parquet's RLE / bit-packing hybrid encoding, used for definition levels
//! and dictionary indices: a run of eight or more equal values is one
//! run-length pair, everything between runs is bit-packed eight at a time.

/// Appends `values` (each below `2^bit_width`) to `out`, hybrid-encoded.
pub(crate) fn encode(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    // Values from `literal` on are not written yet; they are bit-packed when a
    // run begins, in groups of eight, so a run may lend a group its first values.
    let mut literal = 0;
    let mut at = 0;
    while at < values.len() {
        let value = values[at];
        let run = values[at..].iter().take_while(|&&v| v == value).count();
        let lent = (8 - (at - literal) % 8) % 8;
        if run >= lent + 8 {
            bit_pack(&values[literal..at + lent], bit_width, out);
            run_length(value, run - lent, bit_width, out);
            literal = at + run;
        }
        at += run;
    }
    bit_pack(&values[literal..], bit_width, out);
}

/// Smallest bit width that holds `max`.
pub(crate) fn bit_width(max: u32) -> u8 {
    (u32::BITS - max.leading_zeros()) as u8
}

/// Appends `count` times `value` as one run.
pub(crate) fn run_length(value: u32, count: usize, bit_width: u8, out: &mut Vec<u8>) {
    uleb128((count as u64) << 1, out);
    let bytes = usize::from(bit_width).div_ceil(8);
    out.extend_from_slice(&value.to_le_bytes()[..bytes]);
}

/// Values packed `bit_width` bits each, lowest bits first; the last group of
/// eight is padded with zeros (readers know the value count).
fn bit_pack(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    let groups = values.len().div_ceil(8);
    uleb128((groups as u64) << 1 | 1, out);
    let (mut bits, mut filled) = (0u64, 0u8);
    let padding = std::iter::repeat_n(&0, groups * 8 - values.len());
    for &value in values.iter().chain(padding) {
        bits |= u64::from(value) << filled;
        filled += bit_width;
        while filled >= 8 {
            out.push(bits as u8);
            bits >>= 8;
            filled -= 8;
        }
    }
}

fn uleb128(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A reference decoder, straight from the format's description.
    fn decode(mut data: &[u8], bit_width: u8, count: usize) -> Vec<u32> {
        let mut values = Vec::new();
        while values.len() < count {
            let mut header = 0u64;
            let mut shift = 0;
            loop {
                let byte = data[0];
                data = &data[1..];
                header |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            if header & 1 == 0 {
                let bytes = usize::from(bit_width).div_ceil(8);
                let mut value = [0u8; 4];
                value[..bytes].copy_from_slice(&data[..bytes]);
                data = &data[bytes..];
                let value = u32::from_le_bytes(value);
                values.extend(std::iter::repeat_n(value, (header >> 1) as usize));
            } else {
                let n = (header >> 1) as usize * 8;
                let bytes = n * usize::from(bit_width) / 8;
                for i in 0..n {
                    let mut value = 0u32;
                    for b in 0..usize::from(bit_width) {
                        let bit = i * usize::from(bit_width) + b;
                        value |= u32::from(data[bit / 8] >> (bit % 8) & 1) << b;
                    }
                    values.push(value);
                }
                data = &data[bytes..];
            }
        }
        values.truncate(count);
        values
    }

    #[test]
    fn runs_and_literals() {
        let values: Vec<u32> = [1, 2, 3].into_iter().chain([5; 20]).chain([6, 7]).collect();
        let mut out = Vec::new();
        encode(&values, 3, &mut out);
        assert_eq!(decode(&out, 3, values.len()), values);
        // Three literals borrow five of the run: one packed group, then a run of 15.
        assert_eq!(out[0], 0b11);
        assert_eq!(out[4], 15 << 1);
    }

    #[test]
    fn widths() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(256), 9);
        assert_eq!(bit_width(u32::MAX), 32);
    }

    proptest! {
        #[test]
        fn decodes_to_the_values(
            runs in proptest::collection::vec((0u32..6, 1usize..20), 0..40),
            bit_width in 3u8..=32,
        ) {
            let values: Vec<u32> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(v, n)).collect();
            let mut out = Vec::new();
            encode(&values, bit_width, &mut out);
            prop_assert_eq!(decode(&out, bit_width, values.len()), values);
        }
    }
}
