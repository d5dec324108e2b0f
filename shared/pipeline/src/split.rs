//! Windows from each record's `start`, for Firehose deliveries: an object's
//! records are split between the windows they start in, instead of all going
//! to the minute in its key.
//!
//! A Firehose object buffers records for up to 15 minutes, so its key's
//! minute says when it was delivered, not when its flows ran. With
//! [`WindowFrom::Start`] the object is read when it is found (by discovery
//! locally, by ingest on AWS) and recorded in the ledger once per window its
//! records start in ([`FileEntry::home`] names the key's window). Each
//! window's merge then reads the object and keeps the records that start in
//! it ([`keep_window`]); the home window also keeps the records without a
//! `start` and reports what is not a record (bad lines, control messages, an
//! unreadable object). Every record lands in exactly one window, so the
//! windows' totals add up to the object's.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use columnar::ObjectReader;
use flowlog::{FlowTable, Formats, KeySource, NULL, Window, parse_key};
use futures::{StreamExt, TryStreamExt};
use ledger::FileEntry;
use serde::{Deserialize, Serialize};
use store::{BlobStore, StoreError};

use crate::PipelineError;

/// Objects read at once while splitting.
const CONCURRENCY: usize = 8;

/// Which minute a Firehose-delivered record's window is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowFrom {
    /// The delivery minute in the object's key (one window per object).
    #[default]
    Key,
    /// The minute of each record's own `start`.
    Start,
}

impl WindowFrom {
    /// The spelling in settings: `key` or `start`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Start => "start",
        }
    }
}

impl fmt::Display for WindowFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WindowFrom {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "key" => Ok(Self::Key),
            "start" => Ok(Self::Start),
            other => Err(format!("expected `key` or `start`, got {other:?}")),
        }
    }
}

/// Splits the Firehose objects among `files` by their records' `start`
/// (reading each through `store` with `formats`), keeping every other file
/// as it is. An object that is gone or unreadable stays whole at its home,
/// whose merge reports it.
pub async fn split_by_start(
    store: &dyn BlobStore,
    files: Vec<FileEntry>,
    formats: &Formats,
) -> Result<Vec<FileEntry>, PipelineError> {
    let split: Vec<Vec<FileEntry>> = futures::stream::iter(files)
        .map(|file| split_one(store, file, formats))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(split.into_iter().flatten().collect())
}

async fn split_one(
    store: &dyn BlobStore,
    file: FileEntry,
    formats: &Formats,
) -> Result<Vec<FileEntry>, PipelineError> {
    let firehose =
        parse_key(&file.key).is_some_and(|info| matches!(info.source, KeySource::Firehose { .. }));
    if !firehose || file.home.is_some() {
        return Ok(vec![file]);
    }
    let body = match store.get(&file.key).await {
        Ok(body) => body,
        Err(StoreError::NotFound { .. }) => return Ok(vec![file]),
        Err(e) => return Err(e.into()),
    };
    let formats = formats.clone();
    let key = file.key.clone();
    let windows = tokio::task::spawn_blocking(move || {
        let mut table = FlowTable::new();
        ObjectReader::new(formats).read(&key, body, &mut table);
        start_windows(&table)
    })
    .await?;
    Ok(slices(file, &windows))
}

/// The windows the records of `table` start in.
fn start_windows(table: &FlowTable) -> BTreeSet<Window> {
    table
        .metric("start")
        .unwrap_or_default()
        .iter()
        .filter(|&&start| start != NULL)
        .map(|&start| Window::containing(start))
        .collect()
}

/// The entries of `file` (recorded under its home) for its home and each
/// window in `windows`.
fn slices(file: FileEntry, windows: &BTreeSet<Window>) -> Vec<FileEntry> {
    let home = FileEntry {
        home: Some(file.window.clone()),
        ..file
    };
    let others = windows.iter().filter(|w| w.to_string() != home.window);
    let others: Vec<FileEntry> = others
        .map(|window| FileEntry {
            window: window.to_string(),
            window_start: window.start(),
            ..home.clone()
        })
        .collect();
    std::iter::once(home).chain(others).collect()
}

/// Keeps, of the rows of `table` from `first` on, those of `window`: the
/// records that start in it, and at the object's home those without a
/// `start`. Returns how many rows it dropped (they belong to other windows).
pub fn keep_window(table: &mut FlowTable, first: usize, window: Window, home: bool) -> u64 {
    let Some(starts) = table.metric("start") else {
        // No record has a start: they all belong to the home.
        if home {
            return 0;
        }
        let dropped = table.rows() - first;
        table.truncate(first);
        return dropped as u64;
    };
    let (from, to) = (window.start(), window.end());
    let drop: Vec<bool> = starts[first..]
        .iter()
        .map(|&start| {
            if start == NULL {
                !home
            } else {
                !(from..to).contains(&start)
            }
        })
        .collect();
    let dropped = drop.iter().filter(|&&d| d).count();
    table.drop_rows(first, |row| drop[row]);
    dropped as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(text: &str) -> Window {
        text.parse().unwrap()
    }

    fn table(lines: &str) -> FlowTable {
        let mut table = FlowTable::new();
        let report = flowlog::parse_object("t", lines.as_bytes(), &mut table);
        assert!(report.bad_lines.is_empty(), "{:?}", report.bad_lines);
        table
    }

    /// Records starting at 13:04:10, 13:05:00, 13:05:59 and 13:06:00, one
    /// without a start.
    const LINES: &str = "\
2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 1795352650 1795352659 ACCEPT OK
2 1 eni-1 10.0.0.1 10.0.0.2 443 1025 6 1 40 1795352700 1795352709 ACCEPT OK
2 1 eni-1 10.0.0.1 10.0.0.2 443 1026 6 1 40 1795352759 1795352760 ACCEPT OK
2 1 eni-1 10.0.0.1 10.0.0.2 443 1027 6 1 40 1795352760 1795352769 ACCEPT OK
2 1 eni-1 10.0.0.1 10.0.0.2 443 1028 6 1 40 - - ACCEPT OK
";

    #[test]
    fn each_record_is_kept_by_exactly_one_window() {
        let windows = start_windows(&table(LINES));
        let names: Vec<String> = windows.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "2026-11-22T13:04Z",
                "2026-11-22T13:05Z",
                "2026-11-22T13:06Z"
            ]
        );
        let home = window("2026-11-22T13:06Z");
        let mut kept = 0;
        for w in &windows {
            let mut t = table(LINES);
            let before = t.rows();
            let dropped = keep_window(&mut t, 0, *w, *w == home);
            assert_eq!(t.rows() as u64 + dropped, before as u64);
            kept += t.rows();
            let expected = match w.to_string().as_str() {
                "2026-11-22T13:05Z" => 2,
                "2026-11-22T13:06Z" => 2, // 13:06:00 and the one without a start
                _ => 1,
            };
            assert_eq!(t.rows(), expected, "{w}");
        }
        assert_eq!(kept, 5);
    }

    #[test]
    fn rows_before_first_are_left_alone() {
        let mut t = table(LINES);
        let dropped = keep_window(&mut t, 3, window("2026-11-22T13:05Z"), false);
        assert_eq!((t.rows(), dropped), (3, 2));
    }

    #[test]
    fn an_object_is_recorded_at_its_home_and_each_window_it_starts_in() {
        let file = FileEntry {
            key: "2026/11/22/13/s-1-2026-11-22-13-06-41-uuid.gz".into(),
            window: "2026-11-22T13:06Z".into(),
            window_start: 1_795_352_760,
            account: "unknown".into(),
            size: 9,
            etag: None,
            home: None,
        };
        let windows = BTreeSet::from([window("2026-11-22T13:04Z"), window("2026-11-22T13:06Z")]);
        let entries = slices(file.clone(), &windows);
        let placed: Vec<(&str, Option<&str>)> = entries
            .iter()
            .map(|e| (e.window.as_str(), e.home.as_deref()))
            .collect();
        assert_eq!(
            placed,
            [
                ("2026-11-22T13:06Z", Some("2026-11-22T13:06Z")),
                ("2026-11-22T13:04Z", Some("2026-11-22T13:06Z")),
            ]
        );
        assert_eq!(entries[1].window_start, 1_795_352_640);
        // With no record starting anywhere, the home alone.
        assert_eq!(slices(file, &BTreeSet::new()).len(), 1);
    }

    #[test]
    fn window_from_round_trips() {
        for from in [WindowFrom::Key, WindowFrom::Start] {
            assert_eq!(from.as_str().parse::<WindowFrom>(), Ok(from));
        }
        assert!("record".parse::<WindowFrom>().is_err());
    }
}
