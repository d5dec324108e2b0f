//! Splits a line into its fields at runs of spaces and tabs, eight bytes at a
//! time: each word of the line becomes a mask of its separator bytes, and the
//! fields end where the mask's bits are. No per-byte branch.

/// One high bit per byte of `x` that is zero.
const fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// One high bit per byte of `x` that is a space or a tab.
const fn separators(x: u64) -> u64 {
    zero_bytes(x ^ 0x2020_2020_2020_2020) | zero_bytes(x ^ 0x0909_0909_0909_0909)
}

/// The eight bytes of `text` from `at`, zero past its end (zero is no separator).
fn word(text: &[u8], at: usize) -> u64 {
    match text[at..].first_chunk::<8>() {
        Some(bytes) => u64::from_le_bytes(*bytes),
        None => {
            let mut bytes = [0u8; 8];
            bytes[..text.len() - at].copy_from_slice(&text[at..]);
            u64::from_le_bytes(bytes)
        }
    }
}

/// The non-empty fields of a line.
pub(super) struct Fields<'a> {
    text: &'a [u8],
    /// Offset of the word after the one `mask` is from.
    next_word: usize,
    /// Separators of the current word not yet returned.
    mask: u64,
    /// Where the field being scanned starts; past the end once all is returned.
    start: usize,
}

impl<'a> Fields<'a> {
    pub(super) fn new(text: &'a [u8]) -> Self {
        Fields {
            text,
            next_word: 0,
            mask: 0,
            start: 0,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            while self.mask == 0 {
                if self.next_word >= self.text.len() {
                    let field = self.text.get(self.start..).unwrap_or_default();
                    self.start = self.text.len() + 1;
                    return (!field.is_empty()).then_some(field);
                }
                self.mask = separators(word(self.text, self.next_word));
                self.next_word += 8;
            }
            let end = self.next_word - 8 + (self.mask.trailing_zeros() / 8) as usize;
            self.mask &= self.mask - 1;
            let field = &self.text[self.start..end];
            self.start = end + 1;
            if !field.is_empty() {
                return Some(field);
            }
        }
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
    }

    proptest! {
        #[test]
        fn splits_like_the_naive_split(line in proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\t'), Just(b'a'), Just(b'-'), Just(0u8), Just(0xa0u8), Just(0x89u8)],
            0..40,
        )) {
            prop_assert_eq!(Fields::new(&line).collect::<Vec<_>>(), naive(&line));
        }
    }
}
