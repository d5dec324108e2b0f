//! Conversions between SQLite rows and the ledger's types.
//!
//! SQLite integers are `i64`; counts and versions are `u64`. Rows are first
//! read as stored, then decoded, so that a bad value surfaces as
//! [`LedgerError::Corrupt`] naming the window or file, not as a SQL error.

use rusqlite::Row;

use crate::{FileEntry, LedgerError, WindowRecord};

/// Column list matching [`WindowRow::read`].
pub(crate) const WINDOW_COLUMNS: &str = "window, window_start, state, version, files, bytes, \
     claimed_files, attempts, claimed_at, updated_at, last_file_at, digest, outputs, counts, error";

/// Column list matching [`read_file`].
pub(crate) const FILE_COLUMNS: &str = "key, window, window_start, account, size, etag, home";

/// A `windows` row as stored.
pub(crate) struct WindowRow {
    window: String,
    window_start: i64,
    state: String,
    version: i64,
    files: i64,
    bytes: i64,
    claimed_files: i64,
    attempts: i64,
    claimed_at: Option<i64>,
    updated_at: i64,
    last_file_at: i64,
    digest: Option<String>,
    outputs: String,
    counts: Option<String>,
    error: Option<String>,
}

impl WindowRow {
    /// Reads a row selected with [`WINDOW_COLUMNS`].
    pub(crate) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            window: row.get(0)?,
            window_start: row.get(1)?,
            state: row.get(2)?,
            version: row.get(3)?,
            files: row.get(4)?,
            bytes: row.get(5)?,
            claimed_files: row.get(6)?,
            attempts: row.get(7)?,
            claimed_at: row.get(8)?,
            updated_at: row.get(9)?,
            last_file_at: row.get(10)?,
            digest: row.get(11)?,
            outputs: row.get(12)?,
            counts: row.get(13)?,
            error: row.get(14)?,
        })
    }

    /// Decodes the stored values.
    pub(crate) fn decode(self) -> Result<WindowRecord, LedgerError> {
        let w = &self.window;
        let corrupt = |what: String| LedgerError::Corrupt {
            what: format!("window {w}: {what}"),
        };
        let state = self.state.parse().map_err(|e| corrupt(format!("{e}")))?;
        let outputs = serde_json::from_str(&self.outputs)
            .map_err(|e| corrupt(format!("outputs are not a JSON list of strings: {e}")))?;
        let counts = self
            .counts
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt(format!("counts are not JSON: {e}")))?;
        Ok(WindowRecord {
            state,
            version: unsigned(self.version, "version").map_err(corrupt)?,
            files: unsigned(self.files, "files").map_err(corrupt)?,
            bytes: unsigned(self.bytes, "bytes").map_err(corrupt)?,
            claimed_files: unsigned(self.claimed_files, "claimed_files").map_err(corrupt)?,
            attempts: unsigned(self.attempts, "attempts").map_err(corrupt)?,
            claimed_at: self.claimed_at,
            updated_at: self.updated_at,
            last_file_at: self.last_file_at,
            digest: self.digest,
            outputs,
            counts,
            error: self.error,
            window_start: self.window_start,
            window: self.window,
        })
    }
}

/// Reads and decodes a `files` row selected with [`FILE_COLUMNS`].
pub(crate) fn read_file(row: &Row<'_>) -> rusqlite::Result<Result<FileEntry, LedgerError>> {
    let key: String = row.get(0)?;
    let size: i64 = row.get(4)?;
    let size = match unsigned(size, "size") {
        Ok(size) => size,
        Err(what) => {
            return Ok(Err(LedgerError::Corrupt {
                what: format!("file {key}: {what}"),
            }));
        }
    };
    Ok(Ok(FileEntry {
        window: row.get(1)?,
        window_start: row.get(2)?,
        account: row.get(3)?,
        size,
        etag: row.get(5)?,
        home: row.get(6)?,
        key,
    }))
}

/// A stored integer as an unsigned count, or why it cannot be one.
fn unsigned<T: TryFrom<i64>>(value: i64, column: &str) -> Result<T, String> {
    T::try_from(value).map_err(|_| format!("{column} = {value} is out of range"))
}

/// A count as a SQLite integer; counts past `i64::MAX` cannot be stored.
pub(crate) fn to_sql_int(value: u64, what: &'static str) -> Result<i64, LedgerError> {
    i64::try_from(value).map_err(|e| LedgerError::backend(what, e))
}
