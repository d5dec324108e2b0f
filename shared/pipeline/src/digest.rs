//! Digest of a window's input set: names output files, so the same inputs
//! always produce the same keys (and a re-run overwrites instead of adding).

use sha2::{Digest, Sha256};

use crate::plan::InputFile;

/// Hex digest (16 characters) of keys, sizes, etags and split homes, in key order.
pub fn input_digest(files: &[InputFile]) -> String {
    let mut sorted: Vec<&InputFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut hasher = Sha256::new();
    for file in sorted {
        hasher.update(file.key.as_bytes());
        hasher.update(b"\t");
        hasher.update(file.size.to_string().as_bytes());
        hasher.update(b"\t");
        hasher.update(file.etag.as_deref().unwrap_or("").as_bytes());
        if let Some(home) = &file.home {
            hasher.update(b"\thome=");
            hasher.update(home.as_bytes());
        }
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, size: u64) -> InputFile {
        InputFile {
            key: key.into(),
            account: "1".into(),
            size,
            etag: None,
            home: None,
        }
    }

    #[test]
    fn order_independent_and_sensitive_to_content() {
        let a = input_digest(&[file("a", 1), file("b", 2)]);
        assert_eq!(a.len(), 16);
        assert_eq!(a, input_digest(&[file("b", 2), file("a", 1)]));
        assert_ne!(a, input_digest(&[file("a", 1), file("b", 3)]));
        assert_ne!(a, input_digest(&[file("a", 1)]));
        let split = InputFile {
            home: Some("2026-11-22T13:06Z".into()),
            ..file("a", 1)
        };
        assert_ne!(a, input_digest(&[split, file("b", 2)]));
    }
}
