//! [`DynamoLedger`]: the [`Ledger`] of AWS runs, one on-demand DynamoDB table.
//!
//! The table layout and how each operation reads and writes it are
//! documented on [`DynamoLedger`]. Submodules: `items` (keys, attribute
//! conversion and batch entries), `expr` (expression names and values),
//! `read` (reads and listings), `record` (recording files), `ops` (claim,
//! commit, fail),
//! `table` (creating the table), `error` ([`DynamoError`]).

mod error;
mod expr;
mod items;
mod ops;
mod read;
mod record;
mod table;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

pub use error::DynamoError;
pub use ops::fail_write;

use crate::{
    Claim, ClaimOptions, CommitInfo, FileEntry, Ledger, LedgerError, Recorded, WindowRecord,
    WindowState,
};

/// How long items are kept after their window by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// A [`Ledger`] stored in one DynamoDB table.
///
/// Cloning is cheap (the SDK client is reference-counted); all methods take
/// `&self`, and any number of ledgers in any number of processes may share a
/// table.
///
/// ```no_run
/// # async fn example() -> Result<(), ledger::LedgerError> {
/// use ledger::{DynamoLedger, Ledger};
///
/// let config = aws_sdk_dynamodb::Config::builder()
///     .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
///     .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
///     .build();
/// let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::from_conf(config), "flowmerge-ledger")
///     .with_retention(std::time::Duration::from_secs(90 * 24 * 3600));
/// let due = ledger.due(1_795_353_360, 600).await?;
/// # Ok(())
/// # }
/// ```
///
/// # Table
///
/// One table with a string partition key `pk` and a string sort key `sk`, a
/// sparse global secondary index `due` (partition key `due_pk`, sort key
/// `due_sk`, all attributes projected) and TTL on the attribute `ttl`. The CDK
/// app creates it under these names; [`DynamoLedger::create_table`] does the
/// same for tests and local setups.
///
/// | item | `pk` | `sk` | attributes |
/// |---|---|---|---|
/// | window | `W#2026-11-22T13:05Z` | `WINDOW` | every [`WindowRecord`] field, `input_rev`, `claimed_rev`, `ttl`, and while due `due_pk`/`due_sk` |
/// | batch | `W#<window>` | `B#<digest>` | `entries` (B: zstd of the JSON of the [`FileEntry`]s), `files`, `recorded_at`, `ttl` |
///
/// * Window attributes: `window` (S), `window_start`, `version`, `files`,
///   `bytes`, `claimed_files`, `attempts`, `updated_at`, `last_file_at` (N),
///   `state` (S: `open`, `running`, ...), `claimed_at` (N), `digest`, `error`
///   (S), `counts` (S, JSON text) and `outputs` (L of S); optional fields are
///   absent rather than null. `input_rev` counts every recorded batch and
///   `claimed_rev` is its value at the last claim: commit compares the two,
///   so that a file that arrived while a run was going leaves the window dirty.
/// * `due_pk = "DUE"` and `due_sk = <window>` are present while the window is
///   `open`, `dirty` or `failed` (and may be while it runs, when files arrive),
///   so the `due` index holds only windows that may need a run and
///   [`Ledger::due`] never scans.
/// * A batch item holds the files one [`Ledger::record_files`] call recorded
///   in the window (split over several items past 300 KB); its sort key is the
///   digest of its entries, so the same entries recorded again find it. The
///   window's input set is one `Query` of its partition: the latest entry of
///   each key (a repeated delivery of the same file keeps the first). File
///   items (`F#<key>`, one per file) of earlier versions are read the same way.
/// * A key's window is the caller's: on AWS it comes from the key, so a key
///   is always recorded in the same window (the SQLite ledger also pins keys
///   whose window comes from elsewhere).
/// * `files` and `bytes` count what was recorded: a file delivered again in
///   another call to a window that is not committed is counted again (it is
///   listed once) until the next claim recounts the input set.
/// * `ttl` is `window_start` plus the retention ([`DynamoLedger::with_retention`],
///   30 days by default) on every item of the window; DynamoDB deletes expired
///   items within days, not at once. A file arriving for a window whose
///   items have expired starts that window anew, so the retention must exceed
///   any lateness the pipeline should still merge into existing output.
///
/// # Writes
///
/// Every transition takes effect through one conditional write, refused with
/// [`LedgerError::Conflict`] (reason taken from the item as it was when the
/// condition failed) or [`LedgerError::NotFound`]:
///
/// * claim: `UpdateItem` on the window, conditioned on the state, the expected
///   version and the lease; the input set is then read with a `Query`. A file
///   that joins between the two is listed but moves `input_rev` past
///   `claimed_rev`, so the commit reports the window dirty and it is re-run.
///   Counts that repeated deliveries inflated are then set to the input set's.
/// * commit: `UpdateItem` on `state = running AND version = v`, plus
///   `input_rev = claimed_rev` (to `committed`) or `<>` (to `dirty`). The
///   first is tried; when it is refused while the window is still running at
///   `v`, the input set changed, and the second is sent.
/// * fail: `UpdateItem` on `state = running AND version = v`. Reasons past
///   16 KiB are cut (marked `[cut]`) to keep the item within DynamoDB's 400 KB.
/// * record files: per window, one `TransactWriteItems` of the batch item
///   (put if absent) and the window (created if missing, counted, on the
///   condition that it is not committed), without reading first. An existing
///   batch item means the same entries were recorded: nothing changes. A
///   committed window's input set is read, and only if an entry is new or
///   changed is the batch written with the window made `dirty` (conditioned
///   on it still being committed). The batch and its window change together
///   or not at all, so every batch a claim lists was counted.
///
/// Reads of single items and of a window's files are strongly consistent;
/// [`Ledger::due`] reads a global secondary index, which is eventually
/// consistent (a window may show up, or stay listed, a moment late; the
/// claim's conditions keep that safe).
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
    retention_secs: i64,
}

impl DynamoLedger {
    /// A ledger in `table`, which must exist with the layout described on
    /// [`DynamoLedger`] (see [`DynamoLedger::create_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention_secs: secs(DEFAULT_RETENTION),
        }
    }

    /// Keeps items for `retention` after their window starts (the `ttl`
    /// attribute) instead of [`DEFAULT_RETENTION`]. Applies to items this
    /// ledger creates or updates from now on.
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention_secs = secs(retention);
        self
    }

    /// The table this ledger uses.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates `table` with the ledger's key schema, the `due` index and TTL
    /// on `ttl` (on-demand billing), and waits until table and index are
    /// active. A table that already exists is left as it is, so this may be
    /// called on every start of a local setup. Production tables come from
    /// the CDK app instead.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), LedgerError> {
        table::create(client, table).await
    }

    /// The `ttl` of items of a window starting at `window_start`.
    fn expiry(&self, window_start: i64) -> i64 {
        window_start.saturating_add(self.retention_secs)
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn record_files(
        &self,
        files: &[FileEntry],
        now: i64,
    ) -> Result<Vec<Recorded>, LedgerError> {
        record::record_files(self, files, now).await
    }

    async fn window(&self, window: &str) -> Result<Option<WindowRecord>, LedgerError> {
        read::window(self, window).await
    }

    async fn windows(&self) -> Result<Vec<WindowRecord>, LedgerError> {
        read::windows(self).await
    }

    async fn due(&self, now: i64, settle_secs: i64) -> Result<Vec<WindowRecord>, LedgerError> {
        read::due(self, now, settle_secs).await
    }

    async fn files(&self, window: &str) -> Result<Vec<FileEntry>, LedgerError> {
        read::files(self, window).await
    }

    async fn claim(
        &self,
        window: &str,
        opts: &ClaimOptions,
        now: i64,
    ) -> Result<Claim, LedgerError> {
        ops::claim(self, window, opts, now).await
    }

    async fn commit(
        &self,
        window: &str,
        version: u64,
        info: &CommitInfo,
        now: i64,
    ) -> Result<WindowState, LedgerError> {
        ops::commit(self, window, version, info, now).await
    }

    async fn fail(
        &self,
        window: &str,
        version: u64,
        reason: &str,
        now: i64,
    ) -> Result<(), LedgerError> {
        ops::fail(self, window, version, reason, now).await
    }
}
