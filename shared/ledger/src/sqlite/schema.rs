//! The ledger's SQLite schema and its versioning through `PRAGMA user_version`.
//!
//! Besides the columns every [`WindowRecord`](crate::WindowRecord) shows, a
//! window keeps `input_rev` (bumped whenever a file joins or is replaced) and
//! `claimed_rev` (its value at the last claim). Commit compares the two rather
//! than file counts, so a file *replaced* while a run was going also leaves the
//! window dirty, not only a new one.
//!
//! Version 2 identifies a file by key *and* window, and adds its `home`: an
//! object whose records are split between windows has one row per window.

use rusqlite::{Connection, TransactionBehavior};

use crate::LedgerError;

/// The schema version this code writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = 2;

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

/// From version 1: rows of a file per window, and the home of split objects.
const V2: &str = "
CREATE TABLE files_v2 (
    key           TEXT NOT NULL,
    window        TEXT NOT NULL REFERENCES windows (window),
    window_start  INTEGER NOT NULL,
    account       TEXT NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT,
    home          TEXT,
    PRIMARY KEY (key, window)
);
INSERT INTO files_v2 (key, window, window_start, account, size, etag)
    SELECT key, window, window_start, account, size, etag FROM files;
DROP TABLE files;
ALTER TABLE files_v2 RENAME TO files;
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
    let steps: &[&str] = match found {
        0 => &[V1, V2],
        1 => &[V2],
        SCHEMA_VERSION => &[],
        other => {
            return Err(LedgerError::Corrupt {
                what: format!(
                    "ledger schema version {other} is not one this build understands \
                     (it writes version {SCHEMA_VERSION}); was it written by a newer flowmerge?"
                ),
            });
        }
    };
    if !steps.is_empty() {
        for step in steps {
            tx.execute_batch(step)
                .map_err(|e| LedgerError::backend(op, e))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| LedgerError::backend(op, e))?;
    }
    tx.commit().map_err(|e| LedgerError::backend(op, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_files_keep_their_window_and_may_then_span_several() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO windows (window, window_start, state, updated_at, last_file_at)
                 VALUES ('w1', 60, 'committed', 0, 0), ('w2', 120, 'open', 0, 0);
             INSERT INTO files VALUES ('a', 'w1', 60, '1', 10, '\"e\"');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let row: (String, i64, Option<String>) = conn
            .query_row(
                "SELECT window, size, home FROM files WHERE key = 'a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("w1".to_owned(), 10, None));
        conn.execute(
            "INSERT INTO files VALUES ('a', 'w2', 120, '1', 10, NULL, 'w1')",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
    }
}
