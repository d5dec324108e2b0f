//! The end-of-run summary of `flowmerge compact`: a table for people, JSON
//! for machines.

use std::time::Duration;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use pipeline::{CombineResponse, PipelineError};
use serde::Serialize;

use crate::units::human_bytes;

/// Totals of one `compact` run.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Input files found.
    pub files_found: u64,
    /// Of those, new or changed since the last run.
    pub files_new: u64,
    /// Input entries passed over: objects that are not flow log files,
    /// links not followed, link loops, unreadable directories.
    pub files_skipped: u64,
    /// Each of those, with the reason.
    pub skipped: Vec<SkippedEntry>,
    /// Windows compacted by this run.
    pub windows_run: u64,
    /// Hours rolled up from their minutes by this run (their files and rows
    /// are counted apart: they hold the same records as the minutes).
    pub hours_run: u64,
    /// Hour Parquet files written.
    pub hour_files_out: u64,
    /// Hour Parquet bytes written.
    pub hour_bytes_out: u64,
    /// Hour rows written.
    pub hour_rows_out: u64,
    /// Windows already committed and left alone.
    pub windows_committed_before: u64,
    /// Windows whose files changed while they ran (dirty again).
    pub windows_dirty: u64,
    /// Input files read by this run.
    pub files_in: u64,
    /// Compressed input bytes read.
    pub bytes_in: u64,
    /// Parquet files written.
    pub files_out: u64,
    /// Parquet bytes written.
    pub bytes_out: u64,
    /// Records read.
    pub records_in: u64,
    /// Rows written.
    pub rows_out: u64,
    /// Lines that did not fit their header (quarantined).
    pub bad_lines: u64,
    /// Files that could not be read (quarantined).
    pub bad_files: u64,
    /// CloudWatch Logs control messages skipped (they hold no records).
    pub control_messages: u64,
    /// Wall time.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Windows that failed, with the reason.
    pub failures: Vec<Failure>,
}

/// An input entry passed over.
#[derive(Debug, Serialize)]
pub struct SkippedEntry {
    /// Its key under INPUT.
    pub key: String,
    /// Why it was not read.
    pub reason: String,
}

impl From<store::Skipped> for SkippedEntry {
    fn from(skipped: store::Skipped) -> Self {
        SkippedEntry {
            key: skipped.key,
            reason: skipped.reason,
        }
    }
}

/// Skipped entries listed by name in the table summary; the JSON lists all.
const SKIPPED_SHOWN: usize = 10;

/// A window that failed.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// The window.
    pub window: String,
    /// Stable error type.
    pub error_type: &'static str,
    /// What went wrong.
    pub message: String,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Summary {
    /// Adds a committed window.
    pub fn add_window(&mut self, done: &CombineResponse) {
        let s = &done.stats;
        if done.window.is_hour() {
            self.hours_run += 1;
            self.hour_files_out += s.files_out;
            self.hour_bytes_out += s.bytes_out;
            self.hour_rows_out += s.rows_out;
            return;
        }
        self.windows_run += 1;
        self.windows_dirty += u64::from(done.state == ledger::WindowState::Dirty);
        self.files_in += s.files_in;
        self.bytes_in += s.bytes_in;
        self.files_out += s.files_out;
        self.bytes_out += s.bytes_out;
        self.records_in += s.records_in;
        self.rows_out += s.rows_out;
        self.bad_lines += s.bad_lines;
        self.bad_files += s.bad_files;
        self.control_messages += s.control_messages;
    }

    /// Adds a failed window.
    pub fn add_failure(&mut self, window: String, error: &PipelineError) {
        self.failures.push(Failure {
            window,
            error_type: error.error_type(),
            message: error.to_string(),
        });
    }

    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 { 0.0 } else { a as f64 / b as f64 }
    }

    /// Prints the summary to stdout.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string_pretty(self).unwrap_or_default());
            return;
        }
        for skipped in self.skipped.iter().take(SKIPPED_SHOWN) {
            println!("skipped {}: {}", skipped.key, skipped.reason);
        }
        if self.skipped.len() > SKIPPED_SHOWN {
            println!(
                "skipped {} more (--json lists them all)",
                self.skipped.len() - SKIPPED_SHOWN
            );
        }
        if self.windows_run == 0 && self.hours_run == 0 && self.failures.is_empty() {
            println!(
                "Nothing to do: {} files known, {} new; {} windows already committed. Nothing written.",
                self.files_found, self.files_new, self.windows_committed_before
            );
            return;
        }
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut table = Table::new();
        table
            .load_style(UTF8_FULL_CONDENSED)
            .set_header(["", "in", "out", "out ÷ in"]);
        table.add_row([
            "files".to_string(),
            self.files_in.to_string(),
            self.files_out.to_string(),
            format!("{:.4}", Self::ratio(self.files_out, self.files_in)),
        ]);
        table.add_row([
            "bytes".to_string(),
            human_bytes(self.bytes_in),
            human_bytes(self.bytes_out),
            format!("{:.3}", Self::ratio(self.bytes_out, self.bytes_in)),
        ]);
        table.add_row([
            "records / rows".to_string(),
            self.records_in.to_string(),
            self.rows_out.to_string(),
            format!("{:.3}", Self::ratio(self.rows_out, self.records_in)),
        ]);
        println!("{table}");
        println!(
            "windows: {} compacted ({} dirty again), {} already committed, {} failed",
            self.windows_run,
            self.windows_dirty,
            self.windows_committed_before,
            self.failures.len()
        );
        if self.hours_run > 0 {
            println!(
                "hours: {} rolled up into {} files, {}, {} rows",
                self.hours_run,
                self.hour_files_out,
                human_bytes(self.hour_bytes_out),
                self.hour_rows_out
            );
        }
        println!(
            "quarantined: {} bad lines, {} bad files; {} other objects skipped",
            self.bad_lines, self.bad_files, self.files_skipped
        );
        if self.control_messages > 0 {
            println!(
                "skipped: {} CloudWatch Logs control messages",
                self.control_messages
            );
        }
        println!(
            "elapsed: {:.2} s, {:.0} records/s",
            self.elapsed.as_secs_f64(),
            self.records_in as f64 / secs
        );
        for failure in &self.failures {
            println!(
                "FAILED {} [{}]: {}",
                failure.window, failure.error_type, failure.message
            );
        }
    }
}
