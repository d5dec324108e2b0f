//! The table's items: their keys, and conversions between DynamoDB attribute
//! maps and the ledger's types.
//!
//! Decoding never trusts the table: a missing or mistyped attribute becomes
//! [`LedgerError::Corrupt`] naming the window or file and the attribute.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use super::expr::{n, s};
use crate::{FileEntry, LedgerError, WindowRecord, WindowState};

/// A DynamoDB item (or key): attribute name → value.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub(crate) const PK: &str = "pk";
/// Sort key attribute.
pub(crate) const SK: &str = "sk";
/// Sort key of window items.
pub(crate) const WINDOW_SK: &str = "WINDOW";
/// Sort key prefix of file items.
pub(crate) const FILE_SK_PREFIX: &str = "F#";
/// Name of the sparse index of windows that may need a run.
pub(crate) const DUE_INDEX: &str = "due";
/// `due_pk` of every item in [`DUE_INDEX`].
pub(crate) const DUE: &str = "DUE";

/// Longest sort key DynamoDB accepts, in bytes.
const MAX_SK_BYTES: usize = 1024;
/// Longest partition key DynamoDB accepts, in bytes.
const MAX_PK_BYTES: usize = 2048;

/// Partition key of a window and its files.
pub(crate) fn window_pk(window: &str) -> String {
    format!("W#{window}")
}

/// Key of a window item.
pub(crate) fn window_key(window: &str) -> Item {
    key(window_pk(window), WINDOW_SK.to_owned())
}

/// Key of the item of file `key` under `window`.
pub(crate) fn file_key(window: &str, key: &str) -> Item {
    self::key(
        window_pk(window),
        bounded(FILE_SK_PREFIX, key, MAX_SK_BYTES),
    )
}

/// Key of the guard item that pins file `key` to its first window.
pub(crate) fn guard_key(key: &str) -> Item {
    self::key(bounded("K#", key, MAX_PK_BYTES), "KEY".to_owned())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// `prefix` + `key`, or, past `limit` bytes, `prefix` + as much of `key` as
/// fits + `~` + the SHA-256 of `key`: still unique, still readable.
fn bounded(prefix: &str, key: &str, limit: usize) -> String {
    if prefix.len() + key.len() <= limit {
        return format!("{prefix}{key}");
    }
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    let mut head = limit - prefix.len() - 1 - hex.len();
    while !key.is_char_boundary(head) {
        head -= 1;
    }
    format!("{prefix}{}~{hex}", &key[..head])
}

/// True if `item` has the key `key` (same `pk` and `sk`).
pub(crate) fn has_key(item: &Item, key: &Item) -> bool {
    item.get(PK) == key.get(PK) && item.get(SK) == key.get(SK)
}

/// The item of a file recorded under `window`.
pub(crate) fn file_item(
    file: &FileEntry,
    window: &str,
    window_start: i64,
    now: i64,
    ttl: i64,
) -> Item {
    let mut item = file_key(window, &file.key);
    item.extend([
        ("key".to_owned(), s(&file.key)),
        ("window".to_owned(), s(window)),
        ("window_start".to_owned(), n(window_start)),
        ("account".to_owned(), s(&file.account)),
        ("size".to_owned(), n(file.size)),
        ("recorded_at".to_owned(), n(now)),
        ("ttl".to_owned(), n(ttl)),
    ]);
    if let Some(etag) = &file.etag {
        item.insert("etag".to_owned(), s(etag));
    }
    if let Some(home) = &file.home {
        item.insert("home".to_owned(), s(home));
    }
    item
}

/// The guard item pinning `key` to `window`.
pub(crate) fn guard_item(key: &str, window: &str, window_start: i64, ttl: i64) -> Item {
    let mut item = guard_key(key);
    item.extend([
        ("key".to_owned(), s(key)),
        ("window".to_owned(), s(window)),
        ("window_start".to_owned(), n(window_start)),
        ("ttl".to_owned(), n(ttl)),
    ]);
    item
}

/// The item of a window created by its first file.
pub(crate) fn new_window_item(
    window: &str,
    window_start: i64,
    size: u64,
    now: i64,
    ttl: i64,
) -> Item {
    let mut item = window_key(window);
    item.extend([
        ("window".to_owned(), s(window)),
        ("window_start".to_owned(), n(window_start)),
        ("state".to_owned(), s(WindowState::Open.as_str())),
        ("version".to_owned(), n(0)),
        ("files".to_owned(), n(1)),
        ("bytes".to_owned(), n(size)),
        ("claimed_files".to_owned(), n(0)),
        ("attempts".to_owned(), n(0)),
        ("updated_at".to_owned(), n(now)),
        ("last_file_at".to_owned(), n(now)),
        ("outputs".to_owned(), AttributeValue::L(Vec::new())),
        ("input_rev".to_owned(), n(1)),
        ("claimed_rev".to_owned(), n(0)),
        ("ttl".to_owned(), n(ttl)),
        ("due_pk".to_owned(), s(DUE)),
        ("due_sk".to_owned(), s(window)),
    ]);
    item
}

/// Reads attributes of one item, naming it in errors.
struct Attrs<'a> {
    item: &'a Item,
    what: String,
}

impl<'a> Attrs<'a> {
    fn corrupt(&self, detail: impl std::fmt::Display) -> LedgerError {
        LedgerError::Corrupt {
            what: format!("{}: {detail}", self.what),
        }
    }

    fn opt_s(&self, name: &str) -> Result<Option<&'a str>, LedgerError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text)),
            Some(other) => Err(self.corrupt(format!("{name} is not a string: {other:?}"))),
        }
    }

    fn s(&self, name: &str) -> Result<&'a str, LedgerError> {
        self.opt_s(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    fn opt_n<T: FromStr>(&self, name: &str) -> Result<Option<T>, LedgerError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(text)) => text
                .parse()
                .map(Some)
                .map_err(|_| self.corrupt(format!("{name} = {text} is out of range"))),
            Some(other) => Err(self.corrupt(format!("{name} is not a number: {other:?}"))),
        }
    }

    fn n<T: FromStr>(&self, name: &str) -> Result<T, LedgerError> {
        self.opt_n(name)?
            .ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, LedgerError> {
        match self.item.get(name) {
            None => Ok(Vec::new()),
            Some(AttributeValue::L(list)) => list
                .iter()
                .map(|value| match value {
                    AttributeValue::S(text) => Ok(text.clone()),
                    other => Err(self.corrupt(format!("{name} holds a non-string: {other:?}"))),
                })
                .collect(),
            Some(other) => Err(self.corrupt(format!("{name} is not a list: {other:?}"))),
        }
    }
}

/// Decodes a window item.
pub(crate) fn window_record(item: &Item) -> Result<WindowRecord, LedgerError> {
    let pk = item.get(PK).and_then(|v| v.as_s().ok());
    let a = Attrs {
        item,
        what: format!(
            "window {}",
            pk.map_or("?", |pk| pk.trim_start_matches("W#"))
        ),
    };
    let state = a.s("state")?.parse().map_err(|e| a.corrupt(e))?;
    let counts = a
        .opt_s("counts")?
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| a.corrupt(format!("counts are not JSON: {e}")))?;
    Ok(WindowRecord {
        window: a.s("window")?.to_owned(),
        window_start: a.n("window_start")?,
        state,
        version: a.n("version")?,
        files: a.n("files")?,
        bytes: a.n("bytes")?,
        claimed_files: a.n("claimed_files")?,
        attempts: a.n("attempts")?,
        claimed_at: a.opt_n("claimed_at")?,
        updated_at: a.n("updated_at")?,
        last_file_at: a.n("last_file_at")?,
        digest: a.opt_s("digest")?.map(str::to_owned),
        outputs: a.strings("outputs")?,
        counts,
        error: a.opt_s("error")?.map(str::to_owned),
    })
}

/// The state of a window item, without decoding the rest.
pub(crate) fn window_state(item: &Item) -> Result<WindowState, LedgerError> {
    Ok(window_record(item)?.state)
}

/// Decodes a file item.
pub(crate) fn file_entry(item: &Item) -> Result<FileEntry, LedgerError> {
    let mut a = Attrs {
        item,
        what: "file item".to_owned(),
    };
    let key = a.s("key")?;
    a.what = format!("file {key}");
    Ok(FileEntry {
        key: key.to_owned(),
        window: a.s("window")?.to_owned(),
        window_start: a.n("window_start")?,
        account: a.s("account")?.to_owned(),
        size: a.n("size")?,
        etag: a.opt_s("etag")?.map(str::to_owned),
        home: a.opt_s("home")?.map(str::to_owned),
    })
}

/// The `(window, window_start)` a guard item pins its key to.
pub(crate) fn guard_window(item: &Item) -> Result<(String, i64), LedgerError> {
    let a = Attrs {
        item,
        what: "key guard".to_owned(),
    };
    Ok((a.s("window")?.to_owned(), a.n("window_start")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sk(item: &Item) -> &str {
        item[SK].as_s().unwrap()
    }

    #[test]
    fn long_keys_are_hashed_within_the_key_limits() {
        assert_eq!(sk(&file_key("w", "a/b.log.gz")), "F#a/b.log.gz");
        let exact = "k".repeat(MAX_SK_BYTES - 2);
        assert_eq!(sk(&file_key("w", &exact)), format!("F#{exact}"));

        // Multi-byte characters straddle the cut: it must fall on a boundary.
        let long = "é".repeat(700);
        let a = file_key("w", &long);
        let b = file_key("w", &format!("{long}x"));
        assert!(sk(&a).len() <= MAX_SK_BYTES && sk(&b).len() <= MAX_SK_BYTES);
        assert_ne!(sk(&a), sk(&b));
        assert!(sk(&a).starts_with("F#éé"));

        let guard = guard_key(&"g".repeat(3000));
        assert!(guard[PK].as_s().unwrap().len() <= MAX_PK_BYTES);
    }

    #[test]
    fn window_items_decode_and_report_damage() {
        let item = new_window_item("2026-11-22T13:05Z", 60, 10, 70, 99);
        let rec = window_record(&item).unwrap();
        assert_eq!(rec.state, WindowState::Open);
        assert_eq!((rec.files, rec.bytes, rec.last_file_at), (1, 10, 70));

        let mut bad = item.clone();
        bad.insert("bytes".into(), n(-1));
        let err = window_record(&bad).unwrap_err().to_string();
        assert!(
            err.contains("window 2026-11-22T13:05Z: bytes = -1 is out of range"),
            "{err}"
        );
        let mut bad = item;
        bad.insert("counts".into(), s("{"));
        assert!(window_record(&bad).is_err());
    }
}
