//! The table's items: their keys, and conversions between DynamoDB attribute
//! maps and the ledger's types.
//!
//! Decoding never trusts the table: a missing or mistyped attribute becomes
//! [`LedgerError::Corrupt`] naming the window or file and the attribute.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use sha2::{Digest, Sha256};

use super::expr::{n, s};
use crate::{FileEntry, LedgerError, WindowRecord};

/// A DynamoDB item (or key): attribute name → value.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Partition key attribute.
pub(crate) const PK: &str = "pk";
/// Sort key attribute.
pub(crate) const SK: &str = "sk";
/// Sort key of window items.
pub(crate) const WINDOW_SK: &str = "WINDOW";
/// Sort key prefix of file items (one file each; written by earlier
/// versions, still read).
pub(crate) const FILE_SK_PREFIX: &str = "F#";
/// Sort key prefix of batch items (the files one call recorded in a window).
pub(crate) const BATCH_SK_PREFIX: &str = "B#";
/// Name of the sparse index of windows that may need a run.
pub(crate) const DUE_INDEX: &str = "due";
/// `due_pk` of every item in [`DUE_INDEX`].
pub(crate) const DUE: &str = "DUE";

/// Partition key of a window and its files.
pub(crate) fn window_pk(window: &str) -> String {
    format!("W#{window}")
}

/// Key of a window item.
pub(crate) fn window_key(window: &str) -> Item {
    key(window_pk(window), WINDOW_SK.to_owned())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// Encoded entries of a batch item: their JSON, compressed with zstd. Keys
/// of one window share most of their text, so an entry takes a few dozen
/// bytes, and write units follow bytes.
pub(crate) fn encode_entries(entries: &[&FileEntry]) -> Result<Vec<u8>, LedgerError> {
    const OP: &str = "encode a batch";
    let json = serde_json::to_vec(entries).map_err(|e| LedgerError::backend(OP, e))?;
    zstd::bulk::compress(&json, ZSTD_LEVEL).map_err(|e| LedgerError::backend(OP, e))
}

/// zstd level of batch entries: small inputs, so a high level costs little.
const ZSTD_LEVEL: i32 = 9;
/// Largest decoded batch accepted: a batch item is at most 400 KB, and
/// entries never compress a thousandfold.
const MAX_DECODED_BYTES: usize = 400 * 1024 * 1024;

/// The sort key of the batch item holding `encoded`: its digest, so that
/// recording the same entries again (a retried delivery) finds the item.
pub(crate) fn batch_sk(encoded: &[u8]) -> String {
    let digest = Sha256::digest(encoded);
    let mut sk = String::from(BATCH_SK_PREFIX);
    for byte in &digest[..16] {
        let _ = write!(sk, "{byte:02x}");
    }
    sk
}

/// The item of a batch of `window`'s entries, encoded as `encoded`.
pub(crate) fn batch_item(window: &str, encoded: &[u8], files: usize, now: i64, ttl: i64) -> Item {
    let mut item = key(window_pk(window), batch_sk(encoded));
    item.extend([
        ("files".to_owned(), n(files)),
        (
            "entries".to_owned(),
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(encoded)),
        ),
        ("recorded_at".to_owned(), n(now)),
        ("ttl".to_owned(), n(ttl)),
    ]);
    item
}

/// A recorded entry as read back, with when and in which item it was
/// recorded (the latest entry of a key is its current one).
pub(crate) struct Stored {
    pub(crate) recorded_at: i64,
    pub(crate) sk: String,
    pub(crate) entry: FileEntry,
}

/// Decodes the entries of a batch item or the entry of a file item.
pub(crate) fn stored_entries(item: &Item) -> Result<Vec<Stored>, LedgerError> {
    let sk = item
        .get(SK)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    let a = Attrs {
        item,
        what: format!("item {sk}"),
    };
    // Items of earlier versions may lack recorded_at: they are the oldest.
    let recorded_at = a.opt_n("recorded_at")?.unwrap_or(i64::MIN);
    let entries = if sk.starts_with(FILE_SK_PREFIX) {
        vec![file_entry(item)?]
    } else {
        let Some(AttributeValue::B(blob)) = item.get("entries") else {
            return Err(a.corrupt("entries are missing or not binary"));
        };
        let json = zstd::bulk::decompress(blob.as_ref(), MAX_DECODED_BYTES)
            .map_err(|e| a.corrupt(format!("entries do not decompress: {e}")))?;
        serde_json::from_slice(&json)
            .map_err(|e| a.corrupt(format!("entries are not JSON: {e}")))?
    };
    Ok(entries
        .into_iter()
        .map(|entry| Stored {
            recorded_at,
            sk: sk.clone(),
            entry,
        })
        .collect())
}

/// The current entry of each key among `stored`, sorted by key: the latest
/// recorded (ties broken by item) that changed the file; a later entry of
/// the same file (a repeated delivery) keeps the earlier, whose etag may be
/// the only one known.
pub(crate) fn current(mut stored: Vec<Stored>) -> Vec<FileEntry> {
    stored.sort_by(|a, b| (a.recorded_at, &a.sk).cmp(&(b.recorded_at, &b.sk)));
    let mut latest: BTreeMap<String, FileEntry> = BTreeMap::new();
    for Stored { entry, .. } in stored {
        match latest.get(&entry.key) {
            Some(have) if have.same_file(&entry) => {}
            _ => {
                latest.insert(entry.key.clone(), entry);
            }
        }
    }
    latest.into_values().collect()
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

    pub(crate) fn opt_n<T: FromStr>(&self, name: &str) -> Result<Option<T>, LedgerError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WindowState;

    #[test]
    fn batches_round_trip_and_name_their_items_by_content() {
        let entry = |key: &str| FileEntry {
            key: key.to_owned(),
            window: "2026-11-22T13:05Z".to_owned(),
            window_start: 60,
            account: "111122223333".to_owned(),
            size: 7,
            etag: Some("e".to_owned()),
            home: None,
        };
        let (a, b) = (entry("a"), entry("b"));
        let encoded = encode_entries(&[&a, &b]).unwrap();
        let item = batch_item("2026-11-22T13:05Z", &encoded, 2, 5, 99);
        let sk = item[SK].as_s().unwrap();
        assert!(sk.starts_with(BATCH_SK_PREFIX) && sk.len() == 34, "{sk}");
        assert_eq!(sk, &batch_sk(&encode_entries(&[&a, &b]).unwrap()));
        assert_ne!(sk, &batch_sk(&encode_entries(&[&b, &a]).unwrap()));
        let stored = stored_entries(&item).unwrap();
        assert_eq!(stored.len(), 2);
        assert_eq!((stored[0].recorded_at, &stored[1].entry), (5, &b));

        // The latest entry of a key is its current one.
        let newer = FileEntry {
            size: 8,
            ..a.clone()
        };
        let later = batch_item(
            "2026-11-22T13:05Z",
            &encode_entries(&[&newer]).unwrap(),
            1,
            6,
            99,
        );
        let mut all = stored_entries(&later).unwrap();
        all.extend(stored_entries(&item).unwrap());
        assert_eq!(current(all), [newer, b]);

        let mut bad = item;
        bad.insert("entries".into(), s("not binary"));
        assert!(stored_entries(&bad).is_err());
    }

    #[test]
    fn window_items_decode_and_report_damage() {
        let mut item = window_key("2026-11-22T13:05Z");
        item.extend(
            [
                ("window", s("2026-11-22T13:05Z")),
                ("state", s("open")),
                ("window_start", n(60)),
                ("version", n(0)),
                ("files", n(1)),
                ("bytes", n(10)),
                ("claimed_files", n(0)),
                ("attempts", n(0)),
                ("updated_at", n(70)),
                ("last_file_at", n(70)),
            ]
            .map(|(name, value)| (name.to_owned(), value)),
        );
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
