//! Request and response types of the three steps. They are the Lambda payloads
//! and the Step Functions state, so they carry references (keys), never data.
//! JSON fixtures in `tests/fixtures/payloads/` pin their shape.

use std::collections::BTreeMap;

use flowlog::Window;
use merge::Totals;
use serde::{Deserialize, Serialize};

use crate::config::MergeSettings;
use crate::plan::Group;

/// Input of `list_batch`: which window to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBatchRequest {
    /// The window, e.g. `"2026-11-22T13:05Z"`.
    pub window: Window,
    /// Run only if the window is still at this version (the scheduler's view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// Re-run a committed window (manual re-run).
    #[serde(default)]
    pub force: bool,
}

/// Output of `list_batch`: the claim and where its manifest is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBatchResponse {
    /// The window.
    pub window: Window,
    /// The claimed version.
    pub version: u64,
    /// Digest of the input set.
    pub digest: String,
    /// Manifest key in the output store.
    pub manifest: String,
    /// Item list key (one item per group) for a Distributed Map.
    pub items: String,
    /// Number of groups.
    pub groups: usize,
    /// Input files.
    pub files: usize,
    /// Input bytes.
    pub bytes: u64,
}

/// The plan of one claimed run, written by `list_batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The window.
    pub window: Window,
    /// The claimed version.
    pub version: u64,
    /// Digest of the input set.
    pub digest: String,
    /// Settings every step of this run uses.
    pub settings: MergeSettings,
    /// Groups of files, one partial merge each.
    pub groups: Vec<Group>,
}

/// One item of a manifest's item list and the input of `partial_merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialMergeRequest {
    /// Manifest key.
    pub manifest: String,
    /// Group index.
    pub group: usize,
}

/// Output of `partial_merge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialMergeResponse {
    /// Group index.
    pub group: usize,
    /// Raw records read.
    pub records_in: u64,
    /// Merged rows written.
    pub rows_out: u64,
    /// Bad lines and files.
    pub bad_lines: u64,
    /// Files that could not be read.
    pub bad_files: u64,
    /// Sorted parts the group was staged in: more than one when its table
    /// passed the step's memory budget.
    pub parts: u64,
}

/// Input of `combine_commit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CombineRequest {
    /// Manifest key.
    pub manifest: String,
}

/// Output of `combine_commit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombineResponse {
    /// The window.
    pub window: Window,
    /// The committed version.
    pub version: u64,
    /// State after the commit (`committed`, or `dirty` if files arrived meanwhile).
    pub state: ledger::WindowState,
    /// Output keys (Parquet files, then error files).
    pub outputs: Vec<String>,
    /// Counts of the run.
    pub stats: Stats,
}

/// Counts of a run or of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Input files.
    pub files_in: u64,
    /// Input bytes (compressed, as stored).
    pub bytes_in: u64,
    /// Data lines read.
    pub lines: u64,
    /// Good records read.
    pub records_in: u64,
    /// Lines that did not fit their header.
    pub bad_lines: u64,
    /// Files that could not be read.
    pub bad_files: u64,
    /// CloudWatch Logs control messages skipped.
    pub control_messages: u64,
    /// Merged rows written.
    pub rows_out: u64,
    /// Parquet files written.
    pub files_out: u64,
    /// Parquet bytes written.
    pub bytes_out: u64,
    /// Conservation totals of the input, by account (a group's partial only;
    /// left empty in a window's commit).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub totals: BTreeMap<String, Totals>,
}

impl Stats {
    /// Adds another group's counts.
    pub fn add(&mut self, other: &Stats) {
        self.files_in += other.files_in;
        self.bytes_in += other.bytes_in;
        self.lines += other.lines;
        self.records_in += other.records_in;
        self.bad_lines += other.bad_lines;
        self.bad_files += other.bad_files;
        self.control_messages += other.control_messages;
        self.rows_out += other.rows_out;
        self.files_out += other.files_out;
        self.bytes_out += other.bytes_out;
        merge::add_totals(&mut self.totals, &other.totals);
    }
}
