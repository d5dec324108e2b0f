//! Splits a line into its fields at runs of spaces and tabs, 64 bytes at a
//! time: each block of the line becomes a mask of its separator bytes (16-byte
//! SIMD compares: SSE2 on x86-64, NEON on arm64), and the fields end where the
//! mask's bits are. No per-byte branch.

use wide::u8x16;

/// Bytes whose separators one mask holds.
const BLOCK: usize = 64;

/// One bit per byte of the 64 bytes of the line from `at` that is a space or a
/// tab. The line is `padded[..len]`; bytes past it are no separators. The
/// block is read straight from `padded` when it holds 64 bytes from `at`
/// (mostly it does: a line is followed by the next ones), else from a copy.
fn separators(padded: &[u8], len: usize, at: usize) -> u64 {
    let rest = &padded[at..];
    let copy;
    let block = match rest.first_chunk::<BLOCK>() {
        Some(block) => block,
        None => {
            let mut block = [0u8; BLOCK];
            block[..rest.len()].copy_from_slice(rest);
            copy = block;
            &copy
        }
    };
    let (space, tab) = (u8x16::splat(b' '), u8x16::splat(b'\t'));
    let mut mask = 0;
    for (i, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let bytes = u8x16::new(*lane);
        let found = (bytes.simd_eq(space) | bytes.simd_eq(tab)).to_bitmask();
        mask |= u64::from(found) << (16 * i);
    }
    match len - at {
        in_line @ 0..BLOCK => mask & ((1 << in_line) - 1),
        _ => mask,
    }
}

/// The non-empty fields of a line.
pub(super) struct Fields<'a> {
    /// The line, then whatever follows it in memory.
    padded: &'a [u8],
    /// Length of the line.
    len: usize,
    /// Offset of the block after the one `mask` is from.
    next_block: usize,
    /// Separators of the current block not yet returned.
    mask: u64,
    /// Where the field being scanned starts; past the end once all is returned.
    start: usize,
}

impl<'a> Fields<'a> {
    pub(super) fn new(text: &'a [u8]) -> Self {
        Self::padded(text, text.len())
    }

    /// The fields of the line `padded[..len]`.
    pub(super) fn padded(padded: &'a [u8], len: usize) -> Self {
        Fields {
            padded,
            len,
            next_block: 0,
            mask: 0,
            start: 0,
        }
    }
}

impl Fields<'_> {
    /// Where the next field starts and ends in the line.
    pub(super) fn next_span(&mut self) -> Option<(usize, usize)> {
        loop {
            let start = self.start;
            while self.mask == 0 {
                if self.next_block >= self.len {
                    self.start = self.len + 1;
                    return (start < self.len).then_some((start, self.len));
                }
                self.mask = separators(self.padded, self.len, self.next_block);
                self.next_block += BLOCK;
            }
            let end = self.next_block - BLOCK + self.mask.trailing_zeros() as usize;
            self.mask &= self.mask - 1;
            self.start = end + 1;
            if end > start {
                return Some((start, end));
            }
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let padded = self.padded;
        self.next_span().map(|(start, end)| &padded[start..end])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn naive(text: &[u8]) -> Vec<&[u8]> {
        text.split(|&b| b == b' ' || b == b'\t')
            .filter(|t| !t.is_empty())
            .collect()
    }

    #[test]
    fn fields_at_every_position_of_a_word() {
        let line = b"2 123456789012 eni-0a1b  10.0.0.1\t10.0.0.2 443 - ACCEPT OK";
        assert_eq!(Fields::new(line).collect::<Vec<_>>(), naive(line));
        assert_eq!(Fields::new(b"").count(), 0);
        assert_eq!(Fields::new(b"   \t ").count(), 0);
        assert_eq!(Fields::new(b"12345678").collect::<Vec<_>>(), [b"12345678"]);
        assert_eq!(Fields::new(b" 1234567 ").collect::<Vec<_>>(), [b"1234567"]);
        // Fields across block boundaries, and a separator as a block's last byte.
        let long = [&[b'a'; 63][..], b" ", &[b'b'; 70], b"\t c"].concat();
        assert_eq!(Fields::new(&long).collect::<Vec<_>>(), naive(&long));
    }

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            proptest::sample::select(&[b' ', b'\t', b'a', b'-', 0, 0xa0, 0x89][..]),
            0..max,
        )
    }

    proptest! {
        #[test]
        fn splits_like_the_naive_split(line in bytes(200)) {
            prop_assert_eq!(Fields::new(&line).collect::<Vec<_>>(), naive(&line));
        }

        #[test]
        fn bytes_after_the_line_are_ignored(line in bytes(200), after in bytes(100)) {
            let padded = [&line[..], &after].concat();
            let fields = Fields::padded(&padded, line.len()).collect::<Vec<_>>();
            prop_assert_eq!(fields, naive(&line));
        }
    }
}
