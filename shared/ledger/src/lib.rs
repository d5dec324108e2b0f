//! The ledger: per-window state and per-file membership with conditional
//! transitions, which is what makes flowmerge produce each window exactly once.
//!
//! A window (one UTC minute, named like `"2026-11-22T13:05Z"`) moves like this:
//!
//! ```text
//! record_files, first file           (none)    ──▶ open
//! claim                              open      ──▶ running   (version + 1)
//!                                    dirty     ──▶ running
//!                                    failed    ──▶ running
//!                  lease expired     running   ──▶ running   (takeover)
//!                  force             committed ──▶ running
//! commit on the claimed version      running   ──▶ committed, or dirty if the
//!                                                  input set changed meanwhile
//! fail on the claimed version        running   ──▶ failed
//! record_files, new/replaced file    committed ──▶ dirty
//! ```
//!
//! Claim, commit and fail are each one conditional write on the window's state
//! and version (one SQLite `UPDATE ... WHERE` locally, one DynamoDB
//! `UpdateItem` with a condition on AWS); recording a file is a conditional put
//! of the file (on DynamoDB, of a batch of files) plus an update of its window.
//! A run claims a window (version + 1), writes its output, then commits *on
//! the version it claimed*; a run that lost its claim (someone took over a
//! stale lease, or forced a re-run) gets [`LedgerError::Conflict`] and must not
//! publish anything.
//!
//! [`SqliteLedger`] is the embedded implementation used by the local CLI;
//! [`DynamoLedger`] keeps the same contract in one DynamoDB table on AWS.
//!
//! # Example
//!
//! ```
//! use ledger::{ClaimOptions, CommitInfo, FileEntry, Ledger, SqliteLedger, WindowState};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ledger::LedgerError> {
//! let ledger = SqliteLedger::in_memory()?;
//! let file = FileEntry {
//!     key: "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/22/111122223333_vpcflowlogs_eu-west-1_fl-1_20261122T1305Z_ab12.log.gz".into(),
//!     window: "2026-11-22T13:05Z".into(),
//!     window_start: 1_795_352_700,
//!     account: "111122223333".into(),
//!     size: 4096,
//!     etag: Some("\"9b2cf535f27731c974343645a3985328\"".into()),
//!     home: None,
//! };
//! ledger.record_files(&[file], 1_795_352_770).await?;
//!
//! // Ten minutes of quiet after the window's end make it due.
//! let now = 1_795_352_700 + 60 + 600;
//! let due = ledger.due(now, 600).await?;
//! assert_eq!(due.len(), 1);
//!
//! let opts = ClaimOptions { expected_version: Some(due[0].version), lease_secs: 900, force: false };
//! let claim = ledger.claim("2026-11-22T13:05Z", &opts, now).await?;
//! assert_eq!(claim.files.len(), 1);
//!
//! // ... merge claim.files and write the output ...
//! let info = CommitInfo {
//!     digest: "sha256:...".into(),
//!     outputs: vec!["flowlogs/year=2026/month=11/day=22/hour=13/20261122T1305Z.parquet".into()],
//!     counts: serde_json::json!({ "records": 42 }),
//! };
//! let state = ledger.commit(&claim.window, claim.version, &info, now + 5).await?;
//! assert_eq!(state, WindowState::Committed);
//!
//! // A second commit of the same claim is refused: exactly once.
//! let again = ledger.commit(&claim.window, claim.version, &info, now + 6).await;
//! assert!(again.is_err_and(|e| e.is_conflict()));
//! # Ok(())
//! # }
//! ```

mod dynamo;
mod error;
mod refusal;
mod sqlite;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use dynamo::{DEFAULT_RETENTION, DynamoError, DynamoLedger, fail_write};
pub use error::{BoxError, LedgerError, ParseWindowStateError};
pub use sqlite::SqliteLedger;

/// One input object and the window it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Object key (or local path relative to the input root); identifies the file.
    pub key: String,
    /// Window name, e.g. `"2026-11-22T13:05Z"`.
    pub window: String,
    /// Start of the window, unix seconds.
    pub window_start: i64,
    /// AWS account the file was delivered for.
    pub account: String,
    /// Object size in bytes.
    pub size: u64,
    /// Object ETag when known; `None` means "unknown", not "empty".
    pub etag: Option<String>,
    /// Set when the object's records are split between windows by their own
    /// `start` (Firehose deliveries with windows from `start`): the window
    /// the object's key names, its *home*. The entry then stands for the
    /// records that start in `window`, and the home entry also for the lines
    /// that are not records. `None`: the entry is the whole object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

impl FileEntry {
    /// The window the key belongs to: its home when split, else its window.
    pub fn home_window(&self) -> &str {
        self.home.as_deref().unwrap_or(&self.window)
    }

    /// True if `other` records what this entry does: the same size and
    /// split, and etags equal where both are known (an unknown etag proves
    /// nothing).
    pub fn same_file(&self, other: &FileEntry) -> bool {
        let etag_differs = matches!((&self.etag, &other.etag), (Some(a), Some(b)) if a != b);
        self.size == other.size && !etag_differs && self.home == other.home
    }
}

/// Where a window stands. Stored and serialized as lowercase strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowState {
    /// Has files, never processed (or never claimed since the first file).
    Open,
    /// Claimed by a run that has not committed or failed yet.
    Running,
    /// Output written and recorded for the current input set.
    Committed,
    /// Committed earlier, but the input set changed since; needs a re-run.
    Dirty,
    /// The last run failed; see [`WindowRecord::error`].
    Failed,
}

impl WindowState {
    /// Every state, in lifecycle order.
    pub const ALL: [WindowState; 5] = [
        Self::Open,
        Self::Running,
        Self::Committed,
        Self::Dirty,
        Self::Failed,
    ];

    /// The stored form: `"open"`, `"running"`, `"committed"`, `"dirty"`, `"failed"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Running => "running",
            Self::Committed => "committed",
            Self::Dirty => "dirty",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for WindowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WindowState {
    type Err = ParseWindowStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| ParseWindowStateError { text: s.to_owned() })
    }
}

/// Everything the ledger knows about one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// Window name, e.g. `"2026-11-22T13:05Z"`; sorts chronologically.
    pub window: String,
    /// Start of the window, unix seconds.
    pub window_start: i64,
    /// Current state.
    pub state: WindowState,
    /// Claim counter: starts at 0, +1 on every claim and on nothing else.
    /// Commit and fail must name the version their claim returned.
    pub version: u64,
    /// Files in the current input set.
    pub files: u64,
    /// Bytes in the current input set.
    pub bytes: u64,
    /// Files in the input set at the last claim.
    pub claimed_files: u64,
    /// Claims since the last commit (bounds automatic retries).
    pub attempts: u32,
    /// When the last claim was made, unix seconds.
    pub claimed_at: Option<i64>,
    /// When the record last changed, unix seconds.
    pub updated_at: i64,
    /// When a file last joined or replaced one in the input set, unix seconds.
    pub last_file_at: i64,
    /// Digest of the input set of the last commit.
    pub digest: Option<String>,
    /// Output keys of the last commit.
    pub outputs: Vec<String>,
    /// Counts reported by the last commit (records, bytes, bad lines, ...).
    pub counts: Option<serde_json::Value>,
    /// Reason of the last failure; cleared by the next claim.
    pub error: Option<String>,
}

/// What [`Ledger::record_files`] did with one input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recorded {
    /// First time this key was seen; it joined its window's input set.
    New,
    /// Key already known with the same size and etag; nothing changed.
    Duplicate,
    /// Key already known with a different size or etag; the entry was updated.
    Replaced,
    /// New or replaced file of a committed window, which is now dirty.
    Dirtied,
}

/// A successful claim: the version to commit on and the input set to process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The claimed window.
    pub window: String,
    /// The version this claim created; pass it to commit or fail.
    pub version: u64,
    /// The input set at claim time, sorted by key.
    pub files: Vec<FileEntry>,
}

/// What a successful run records on commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// Digest of the input set that was processed.
    pub digest: String,
    /// Keys of every output object of this run.
    pub outputs: Vec<String>,
    /// Counts for reports (records in/out, bad lines, ...), free-form JSON.
    pub counts: serde_json::Value,
}

/// Conditions of a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimOptions {
    /// Refuse unless the window is at exactly this version (the version the
    /// caller saw when it decided to run, e.g. the scheduler's).
    pub expected_version: Option<u64>,
    /// A `running` claim older than this many seconds is considered abandoned
    /// (crashed run) and may be taken over; 0 makes any running claim takeable.
    pub lease_secs: i64,
    /// Also claim a `committed` window (manual re-run).
    pub force: bool,
}

/// Per-window state and per-file membership with conditional transitions.
///
/// Implementations must make every transition atomic and conditional on the
/// state/version checks described per method, so that two runs racing on one
/// window can never both succeed. Times are unix seconds supplied by the
/// caller; implementations never read the clock.
#[async_trait]
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Records input files under their windows, one result per file, in order.
    ///
    /// The first file of a window creates it (`open`). A new or replaced file
    /// of a `committed` window makes it `dirty` ([`Recorded::Dirtied`]); other
    /// states are kept (commit notices files that arrived while running).
    /// A file is identified by key and window. An entry is a duplicate when
    /// size, etag and split are unchanged ([`FileEntry::same_file`]); a
    /// window lists each key once, at its latest entry.
    ///
    /// Outcomes and counts into a window that is not committed are exact
    /// where the ledger reads before it writes ([`SqliteLedger`], which also
    /// keeps a key with the home it was first recorded with). [`DynamoLedger`]
    /// writes a call's files without reading (its cost grows with windows,
    /// not files): a file delivered again in another call is reported new and
    /// counted again until the window's next claim. Into a committed window,
    /// both read first, so that only a new or changed file dirties it.
    async fn record_files(
        &self,
        files: &[FileEntry],
        now: i64,
    ) -> Result<Vec<Recorded>, LedgerError>;

    /// The record of one window, if it exists.
    async fn window(&self, window: &str) -> Result<Option<WindowRecord>, LedgerError>;

    /// All windows, sorted by window.
    async fn windows(&self) -> Result<Vec<WindowRecord>, LedgerError>;

    /// Windows to run now: `open` and `dirty` windows whose end lies at least
    /// `settle_secs` in the past (`window_start + 60 + settle_secs <= now`),
    /// sorted by window. Failed and stuck running windows are not included.
    async fn due(&self, now: i64, settle_secs: i64) -> Result<Vec<WindowRecord>, LedgerError>;

    /// The current input set of a window, sorted by key (empty if unknown).
    async fn files(&self, window: &str) -> Result<Vec<FileEntry>, LedgerError>;

    /// Claims a window for a run.
    ///
    /// Allowed from `open`, `dirty` and `failed`; from `running` only once
    /// `claimed_at + lease_secs <= now`; from `committed` only with `force`;
    /// and only at `expected_version` when given. Sets `running`,
    /// version + 1, `claimed_at`, `claimed_files`, attempts + 1, clears `error`.
    ///
    /// Errors: [`LedgerError::NotFound`], [`LedgerError::Conflict`].
    async fn claim(
        &self,
        window: &str,
        opts: &ClaimOptions,
        now: i64,
    ) -> Result<Claim, LedgerError>;

    /// Commits a run's output. Requires `running` at `version`.
    ///
    /// Stores digest, outputs and counts, resets attempts, and returns the new
    /// state: `committed`, or `dirty` if the input set changed after the claim.
    ///
    /// Errors: [`LedgerError::NotFound`], [`LedgerError::Conflict`].
    async fn commit(
        &self,
        window: &str,
        version: u64,
        info: &CommitInfo,
        now: i64,
    ) -> Result<WindowState, LedgerError>;

    /// Records a run's failure. Requires `running` at `version`; sets `failed`
    /// with `reason`.
    ///
    /// Errors: [`LedgerError::NotFound`], [`LedgerError::Conflict`].
    async fn fail(
        &self,
        window: &str,
        version: u64,
        reason: &str,
        now: i64,
    ) -> Result<(), LedgerError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_state_round_trips_through_text_and_json() {
        for state in WindowState::ALL {
            assert_eq!(state.as_str().parse::<WindowState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(serde_json::from_str::<WindowState>(&json).unwrap(), state);
        }
        let err = "Committed".parse::<WindowState>().unwrap_err();
        assert_eq!(err.text, "Committed");
    }

    #[test]
    fn recorded_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Recorded::Dirtied).unwrap(),
            "\"dirtied\""
        );
    }
}
