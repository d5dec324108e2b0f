//! Window planning: bin-packs a window's files into groups of about
//! `group_bytes` compressed bytes, keeping each account's files together so a
//! group's merge sees whole flows. An account larger than a group is split
//! into several groups, and the combine step merges its partial results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rollup::Shard;

/// One input object of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Key in the input store.
    pub key: String,
    /// Account it was delivered for (`unknown` when the key does not say).
    pub account: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The home window of a split object, whose records this window keeps
    /// only where they start in it ([`crate::split`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

/// Files merged together by one partial merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Position in the manifest.
    pub index: usize,
    /// Compressed bytes of its files.
    pub bytes: u64,
    /// Its files, sorted by key.
    pub files: Vec<InputFile>,
    /// An hour's shard: the accounts this group keeps of every file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
}

/// Packs files into groups, deterministically: accounts by size (largest
/// first, then by name) into the first group with room (first-fit decreasing).
pub fn plan_groups(files: &[InputFile], group_bytes: u64) -> Vec<Group> {
    let group_bytes = group_bytes.max(1);
    let mut accounts: BTreeMap<&str, Vec<&InputFile>> = BTreeMap::new();
    for file in files {
        accounts.entry(&file.account).or_default().push(file);
    }
    let mut ordered: Vec<(u64, &str, Vec<&InputFile>)> = accounts
        .into_iter()
        .map(|(account, mut files)| {
            files.sort_by(|a, b| a.key.cmp(&b.key));
            (files.iter().map(|f| f.size).sum(), account, files)
        })
        .collect();
    ordered.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));

    let mut groups: Vec<Vec<&InputFile>> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    for (bytes, _, files) in ordered {
        if bytes > group_bytes {
            for chunk in split(&files, group_bytes) {
                sizes.push(chunk.iter().map(|f| f.size).sum());
                groups.push(chunk);
            }
        } else if let Some(at) = sizes.iter().position(|&used| used + bytes <= group_bytes) {
            sizes[at] += bytes;
            groups[at].extend(files);
        } else {
            sizes.push(bytes);
            groups.push(files);
        }
    }
    groups
        .into_iter()
        .zip(sizes)
        .enumerate()
        .map(|(index, (mut files, bytes))| {
            files.sort_by(|a, b| a.key.cmp(&b.key));
            Group {
                index,
                bytes,
                files: files.into_iter().cloned().collect(),
                shard: None,
            }
        })
        .collect()
}

/// Consecutive runs of files of at most `limit` bytes (a larger file alone).
fn split<'a>(files: &[&'a InputFile], limit: u64) -> Vec<Vec<&'a InputFile>> {
    let mut chunks: Vec<Vec<&InputFile>> = Vec::new();
    let mut used = 0;
    for &file in files {
        match chunks.last_mut() {
            Some(chunk) if used + file.size <= limit => chunk.push(file),
            _ => {
                chunks.push(vec![file]);
                used = 0;
            }
        }
        used += file.size;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn file(account: &str, n: usize, size: u64) -> InputFile {
        InputFile {
            key: format!("{account}/{n:03}.log.gz"),
            account: account.into(),
            size,
            etag: None,
            home: None,
        }
    }

    #[test]
    fn small_accounts_share_a_group() {
        let files = [file("a", 0, 10), file("b", 0, 20), file("c", 0, 30)];
        let groups = plan_groups(&files, 100);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].bytes, 60);
    }

    #[test]
    fn a_large_account_is_split() {
        let mut files: Vec<_> = (0..10).map(|n| file("big", n, 40)).collect();
        files.push(file("small", 0, 30));
        let groups = plan_groups(&files, 100);
        let big: Vec<_> = groups
            .iter()
            .filter(|g| g.files.iter().any(|f| f.account == "big"))
            .collect();
        assert_eq!(big.len(), 5);
        assert!(groups.iter().all(|g| g.bytes <= 100));
    }

    #[test]
    fn a_file_larger_than_a_group_stands_alone() {
        let groups = plan_groups(&[file("a", 0, 500), file("a", 1, 10)], 100);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].files.len(), 1);
    }

    proptest! {
        #[test]
        fn every_file_lands_in_exactly_one_group(sizes in proptest::collection::vec((0u8..6, 1u64..200), 0..60), limit in 1u64..400) {
            let files: Vec<_> = sizes.iter().enumerate().map(|(n, (a, s))| file(&a.to_string(), n, *s)).collect();
            let groups = plan_groups(&files, limit);
            let mut keys: Vec<_> = groups.iter().flat_map(|g| g.files.iter().map(|f| f.key.clone())).collect();
            keys.sort();
            let mut expected: Vec<_> = files.iter().map(|f| f.key.clone()).collect();
            expected.sort();
            prop_assert_eq!(keys, expected);
            for g in &groups {
                prop_assert!(g.bytes <= limit || g.files.len() == 1);
            }
            // Deterministic whatever the input order.
            let mut reversed = files.clone();
            reversed.reverse();
            prop_assert_eq!(plan_groups(&reversed, limit), groups);
        }
    }
}
