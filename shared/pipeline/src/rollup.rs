//! The hour tier: an hour's minute outputs merged into hour files, with flows
//! that continue across minutes joined under the run's `max_gap`.
//!
//! An hour is a ledger window of its own (`2026-11-22T13Z`) run by the same
//! three steps, so it is produced exactly once like a minute:
//!
//! * a committed minute joins its hour's input set as one entry
//!   ([`minute_entry`]: key `minute:2026-11-22T13:05Z`, the minute's digest
//!   as etag), so a minute that commits again with other output makes a
//!   committed hour dirty, and the hour runs again;
//! * an hour is due once it has ended, the settle time has passed, and none
//!   of its minutes is still waiting to run or running ([`due`]);
//! * its list-batch resolves those entries to the minutes' committed output
//!   files ([`minute_outputs`]) and splits the hour into account shards
//!   ([`shard_groups`]): each partial merge reads every minute file but keeps
//!   only its shard's accounts, so each shard is merged whole and the
//!   combine step writes the shards' files as they are.
//!
//! Hour files go under their own prefix: the minute tier stays complete and
//! current, the hour tier holds complete hours, and neither counts a record
//! twice.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use flowlog::Window;
use ledger::{FileEntry, Ledger, LedgerError, WindowRecord, WindowState};
use serde::{Deserialize, Serialize};

use crate::layout::Layout;
use crate::plan::{Group, InputFile};
use crate::{Context, PipelineError};

/// Which tier above the minute a run feeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rollup {
    /// Minutes only.
    #[default]
    None,
    /// Committed minutes join their hour, which is merged once complete.
    Hour,
}

impl Rollup {
    /// The spelling in settings: `none` or `hour`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Hour => "hour",
        }
    }
}

impl fmt::Display for Rollup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rollup {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "hour" => Ok(Self::Hour),
            other => Err(format!("expected `none` or `hour`, got {other:?}")),
        }
    }
}

/// Key prefix of the entries by which minutes join their hour.
const MINUTE_KEY: &str = "minute:";

/// The account of an hour's entries (they hold every account of a minute).
const ALL_ACCOUNTS: &str = "*";

/// The ledger entry by which a committed minute joins its hour: its digest
/// as etag and its Parquet bytes as size, so a commit with other output
/// replaces it (and dirties a committed hour) and the same output does not.
pub fn minute_entry(minute: Window, digest: &str, bytes_out: u64) -> FileEntry {
    let hour = minute.hour();
    FileEntry {
        key: format!("{MINUTE_KEY}{minute}"),
        window: hour.to_string(),
        window_start: hour.start(),
        account: ALL_ACCOUNTS.into(),
        size: bytes_out,
        etag: Some(digest.to_owned()),
        home: None,
    }
}

/// Records a committed minute in its hour (nothing for an hour, or without
/// a rollup), from the minute's ledger record.
pub(crate) async fn join_hour(ctx: &Context, record: &WindowRecord) -> Result<(), PipelineError> {
    let Ok(minute) = record.window.parse::<Window>() else {
        return Ok(());
    };
    let Some(digest) = &record.digest else {
        return Ok(());
    };
    if ctx.config.rollup != Rollup::Hour || minute.is_hour() {
        return Ok(());
    }
    let bytes_out = record
        .counts
        .as_ref()
        .and_then(|c| c.get("bytes_out")?.as_u64())
        .unwrap_or(0);
    let entry = minute_entry(minute, digest, bytes_out);
    ctx.ledger.record_files(&[entry], ctx.now()).await?;
    Ok(())
}

/// The committed output files of the minutes that joined `hour`, as the
/// hour's input files (key and size from the output store, the minute's
/// digest as etag). A minute the ledger lost, or an output file that is
/// gone, makes the run incomplete: the hour must never silently lack a
/// minute the minute tier has.
pub(crate) async fn minute_outputs(
    ctx: &Context,
    hour: Window,
    entries: &[FileEntry],
) -> Result<Vec<InputFile>, PipelineError> {
    let mut files = Vec::new();
    for entry in entries {
        let incomplete = |key: &str| PipelineError::Incomplete {
            window: hour,
            what: "minute output",
            key: key.to_owned(),
        };
        let minute: Window = entry
            .key
            .strip_prefix(MINUTE_KEY)
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| incomplete(&entry.key))?;
        let record = ctx
            .ledger
            .window(&minute.to_string())
            .await?
            .ok_or_else(|| incomplete(&entry.key))?;
        let outputs: Vec<&String> = record
            .outputs
            .iter()
            .filter(|k| k.ends_with(".parquet"))
            .collect();
        if outputs.is_empty() {
            continue;
        }
        let layout = Layout::new(&ctx.config, minute);
        let sizes: BTreeMap<String, u64> = ctx
            .output
            .list(&layout.output_stem())
            .await?
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        for key in outputs {
            let size = *sizes.get(key).ok_or_else(|| incomplete(key))?;
            files.push(InputFile {
                key: key.clone(),
                account: ALL_ACCOUNTS.into(),
                size,
                etag: record.digest.clone(),
                home: None,
            });
        }
    }
    Ok(files)
}

/// The output column a shard is chosen by.
pub(crate) const ACCOUNT_COLUMN: &str = "account_id";

/// The accounts one partial merge of an hour keeps: those whose hash modulo
/// `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard.
    pub index: usize,
    /// Shards of the hour.
    pub count: usize,
}

impl Shard {
    /// Whether `account` is this shard's (FNV-1a: stable across builds and
    /// machines, which `std`'s hasher is not).
    pub fn holds(&self, account: &str) -> bool {
        let hash = account.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        hash % self.count.max(1) as u64 == self.index as u64
    }
}

/// Splits an hour into account shards of about `shard_bytes` of minute
/// output each; every shard reads every file.
pub(crate) fn shard_groups(files: &[InputFile], shard_bytes: u64) -> Vec<Group> {
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    let count = usize::try_from(bytes.div_ceil(shard_bytes.max(1)))
        .unwrap_or(usize::MAX)
        .max(1);
    let mut sorted = files.to_vec();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    (0..count)
        .map(|index| Group {
            index,
            bytes,
            files: sorted.clone(),
            shard: Some(Shard { index, count }),
        })
        .collect()
}

/// Windows to run now. Minutes: open or dirty and settled, as the ledger
/// says ([`Ledger::due`]). Hours: open or dirty, ended at least `settle_secs`
/// ago, and none of their minutes open, dirty or running, so an hour runs
/// once its minutes are done rather than once per late minute. A failed
/// minute does not hold its hour back; it re-runs the hour when it commits.
pub async fn due(
    ledger: &dyn Ledger,
    now: i64,
    settle_secs: i64,
) -> Result<Vec<WindowRecord>, LedgerError> {
    let mut due = Vec::new();
    for record in ledger.due(now, settle_secs).await? {
        match record.window.parse::<Window>() {
            Ok(hour) if hour.is_hour() => {
                if hour.end() + settle_secs <= now && minutes_done(ledger, hour).await? {
                    due.push(record);
                }
            }
            _ => due.push(record),
        }
    }
    Ok(due)
}

/// Whether no minute of `hour` is waiting to run or running.
async fn minutes_done(ledger: &dyn Ledger, hour: Window) -> Result<bool, LedgerError> {
    for minute in hour.minutes() {
        if let Some(record) = ledger.window(&minute.to_string()).await?
            && matches!(
                record.state,
                WindowState::Open | WindowState::Dirty | WindowState::Running
            )
        {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_accounts_stably_and_completely() {
        let accounts: Vec<String> = (0..200).map(|n| format!("{:012}", n * 7919)).collect();
        let count = 4;
        let mut seen = vec![0; count];
        for account in &accounts {
            let holders: Vec<usize> = (0..count)
                .filter(|&index| Shard { index, count }.holds(account))
                .collect();
            assert_eq!(holders.len(), 1, "{account}");
            seen[holders[0]] += 1;
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
        // Pinned (FNV-1a of the text, modulo 3 is 2): a change of hash
        // would re-shard every hour.
        assert!(Shard { index: 2, count: 3 }.holds("111122223333"));
    }

    #[test]
    fn an_hour_is_split_by_its_bytes() {
        let file = |n: u64| InputFile {
            key: format!("m{n}.parquet"),
            account: ALL_ACCOUNTS.into(),
            size: 100,
            etag: None,
            home: None,
        };
        let files: Vec<InputFile> = (0..10).map(file).collect();
        let groups = shard_groups(&files, 300);
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.files.len() == 10));
        assert_eq!(groups[3].shard, Some(Shard { index: 3, count: 4 }));
        assert_eq!(shard_groups(&[], 300).len(), 1);
    }

    #[test]
    fn minute_entries_name_their_hour() {
        let minute: Window = "2026-11-22T13:05Z".parse().unwrap();
        let entry = minute_entry(minute, "abcd", 42);
        assert_eq!(entry.key, "minute:2026-11-22T13:05Z");
        assert_eq!(entry.window, "2026-11-22T13Z");
        assert_eq!(entry.window_start, minute.hour().start());
        assert_eq!((entry.size, entry.etag.as_deref()), (42, Some("abcd")));
        assert_eq!("hour".parse::<Rollup>(), Ok(Rollup::Hour));
        assert!("hours".parse::<Rollup>().is_err());
    }
}
