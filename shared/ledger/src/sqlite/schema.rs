//! The ledger's SQLite schema and its versioning through `PRAGMA user_version`.
//!
//! Besides the columns every [`WindowRecord`](crate::WindowRecord) shows, a
//! window keeps `input_rev` (bumped whenever a file joins or is replaced) and
//! `claimed_rev` (its value at the last claim). Commit compares the two rather
//! than file counts, so a file *replaced* while a run was going also leaves the
//! window dirty, not only a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::LedgerError;

/// The schema version this code writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = 1;

const V1: &str = "
CREATE TABLE windows (
    window        TEXT PRIMARY KEY,
    window_start  INTEGER NOT NULL,
    state         TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 0,
    files         INTEGER NOT NULL DEFAULT 0,
    bytes         INTEGER NOT NULL DEFAULT 0,
    claimed_files INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_at    INTEGER,
    updated_at    INTEGER NOT NULL,
    last_file_at  INTEGER NOT NULL,
    digest        TEXT,
    outputs       TEXT NOT NULL DEFAULT '[]',
    counts        TEXT,
    error         TEXT,
    input_rev     INTEGER NOT NULL DEFAULT 0,
    claimed_rev   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX windows_by_state ON windows (state, window_start);

CREATE TABLE files (
    key           TEXT PRIMARY KEY,
    window        TEXT NOT NULL REFERENCES windows (window),
    window_start  INTEGER NOT NULL,
    account       TEXT NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT
);
CREATE INDEX files_by_window ON files (window, key);
";

/// Brings the schema up to [`SCHEMA_VERSION`], in one transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), LedgerError> {
    let op = "migrate the ledger schema";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| LedgerError::backend(op, e))?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| LedgerError::backend(op, e))?;
    match found {
        0 => {
            tx.execute_batch(V1)
                .map_err(|e| LedgerError::backend(op, e))?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(|e| LedgerError::backend(op, e))?;
        }
        SCHEMA_VERSION => {}
        other => {
            return Err(LedgerError::Corrupt {
                what: format!(
                    "ledger schema version {other} is not one this build understands \
                     (it writes version {SCHEMA_VERSION}); was it written by a newer flowmerge?"
                ),
            });
        }
    }
    tx.commit().map_err(|e| LedgerError::backend(op, e))
}
