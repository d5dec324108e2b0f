//! What an object's first bytes say it is. Magic numbers only: a kind is never
//! guessed from a name or from text that merely looks right.

/// The outer encoding of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// gzip (one member or several).
    Gzip,
    /// Apache Parquet (`PAR1`), as VPC Flow Logs write with `file-format=parquet`.
    Parquet,
    /// Anything else: read as text (flow log lines or JSON).
    Plain,
    /// A compression flowmerge does not read, named.
    Unsupported(&'static str),
}

const GZIP: &[u8] = &[0x1f, 0x8b];
const PARQUET: &[u8] = b"PAR1";

impl Container {
    /// The container of an object, from its first bytes.
    ///
    /// ```
    /// use flowlog::Container;
    /// assert_eq!(Container::of(b"PAR1\x15\x04"), Container::Parquet);
    /// assert_eq!(Container::of(b"version account-id"), Container::Plain);
    /// ```
    pub fn of(data: &[u8]) -> Container {
        const OTHERS: &[(&[u8], &str)] = &[
            (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
            (b"PK\x03\x04", "zip"),
            (b"\xff\x06\x00\x00sNaPpY", "snappy"),
        ];
        if data.starts_with(GZIP) {
            return Container::Gzip;
        }
        if data.starts_with(PARQUET) {
            return Container::Parquet;
        }
        OTHERS
            .iter()
            .find(|(magic, _)| data.starts_with(magic))
            .map_or(Container::Plain, |&(_, name)| Container::Unsupported(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(Container::of(&[0x1f, 0x8b, 8, 0]), Container::Gzip);
        assert_eq!(Container::of(b"PAR1"), Container::Parquet);
        assert_eq!(
            Container::of(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Container::Unsupported("zstd")
        );
        assert_eq!(Container::of(b"PK\x03\x04"), Container::Unsupported("zip"));
        assert_eq!(Container::of(b"{\"message\":\"2 1\"}"), Container::Plain);
        assert_eq!(Container::of(b""), Container::Plain);
        // Text that starts like a magic number but is not one.
        assert_eq!(Container::of(b"PAR2 x"), Container::Plain);
    }
}
