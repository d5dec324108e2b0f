//! The ground truth of a generated data set, written as `truth.json`.
//!
//! Totals are kept per delivery window (the minute stamp in the file name) and
//! account, exactly as a conserving compactor must reproduce them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::GenError;

/// Per window and account totals of the raw records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Number of records (incl. NODATA/SKIPDATA, excl. bad lines).
    pub records: u64,
    /// Sum of `packets` (NODATA/SKIPDATA count as 0).
    pub packets: u64,
    /// Sum of `bytes` (NODATA/SKIPDATA count as 0).
    pub bytes: u64,
    /// Minimum `start` (epoch seconds).
    pub start_min: i64,
    /// Maximum `end` (epoch seconds).
    pub end_max: i64,
}

impl Totals {
    /// Totals of a single record.
    pub fn one(packets: u64, bytes: u64, start: i64, end: i64) -> Self {
        Self {
            records: 1,
            packets,
            bytes,
            start_min: start,
            end_max: end,
        }
    }

    /// Fold `other` into `self`.
    pub fn add(&mut self, other: &Totals) {
        self.records += other.records;
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.start_min = self.start_min.min(other.start_min);
        self.end_max = self.end_max.max(other.end_max);
    }
}

/// Everything `generate` wrote, for checking a compactor's output against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// The seed used.
    pub seed: u64,
    /// Flow-log files written, including bad files (not counting `truth.json`).
    pub files: u64,
    /// Total on-disk bytes of all written flow-log files, including bad files.
    pub bytes: u64,
    /// Data lines written: records + bad lines (no header lines, no bad files).
    pub lines: u64,
    /// Valid records (incl. NODATA/SKIPDATA).
    pub records: u64,
    /// Malformed lines mixed into otherwise good files.
    pub bad_lines: u64,
    /// Unreadable files (truncated gzip, non-flow-log text).
    pub bad_files: u64,
    /// CloudWatch Logs control messages (no records).
    #[serde(default)]
    pub control_messages: u64,
    /// Formats of the headerless sources, in AWS's `${field}` syntax, by the
    /// key prefix or log group a reader must be given them for
    /// (`--format-for PREFIX=FORMAT`); only those other than version 2.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub formats: BTreeMap<String, String>,
    /// Totals by delivery window (`2026-11-22T13:05Z`) and account id.
    pub windows: BTreeMap<String, BTreeMap<String, Totals>>,
}

impl Truth {
    /// Add one record's totals under `window` and `account`.
    pub fn add_record(&mut self, window: &str, account: &str, t: &Totals) {
        let accounts = match self.windows.get_mut(window) {
            Some(a) => a,
            None => self.windows.entry(window.to_owned()).or_default(),
        };
        match accounts.get_mut(account) {
            Some(existing) => existing.add(t),
            None => {
                accounts.insert(account.to_owned(), *t);
            }
        }
    }

    /// Fold another (partial) truth into this one; `seed` is kept.
    pub fn merge(&mut self, other: &Truth) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.lines += other.lines;
        self.records += other.records;
        self.bad_lines += other.bad_lines;
        self.bad_files += other.bad_files;
        self.control_messages += other.control_messages;
        self.formats
            .extend(other.formats.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (window, accounts) in &other.windows {
            for (account, t) in accounts {
                self.add_record(window, account, t);
            }
        }
    }

    /// Sum of the per-window totals over all windows and accounts.
    pub fn total(&self) -> Option<Totals> {
        let mut all = self.windows.values().flat_map(|a| a.values());
        let mut acc = *all.next()?;
        for t in all {
            acc.add(t);
        }
        Some(acc)
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<String, GenError> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Read a `truth.json` written by [`crate::generate`].
    pub fn read(path: &Path) -> Result<Self, GenError> {
        let text = std::fs::read_to_string(path).map_err(|e| GenError::io(path, e))?;
        Ok(serde_json::from_str(&text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_merge() {
        let mut a = Truth::default();
        a.add_record("w1", "111", &Totals::one(3, 300, 100, 160));
        a.add_record("w1", "111", &Totals::one(0, 0, 90, 150));
        let mut b = Truth::default();
        b.add_record("w1", "111", &Totals::one(1, 40, 95, 200));
        b.add_record("w2", "222", &Totals::one(1, 40, 95, 200));
        b.records = 2;
        a.merge(&b);
        let t = a.windows["w1"]["111"];
        assert_eq!(
            t,
            Totals {
                records: 3,
                packets: 4,
                bytes: 340,
                start_min: 90,
                end_max: 200
            }
        );
        assert_eq!(a.records, 2);
        assert_eq!(a.total().map(|t| t.records), Some(4));
        let json = a.to_json().unwrap();
        let back: Truth = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
