//! The ledger operations in SQL.
//!
//! Each transition is one conditional `UPDATE ... WHERE <state/version checks>
//! RETURNING ...` (the shape of a DynamoDB conditional write), run inside a
//! `BEGIN IMMEDIATE` transaction so that the claim's input set, or the reason
//! for a refusal, is read from the same snapshot the write was checked against.
//! When the update matches no row, the current record is read to tell
//! [`LedgerError::NotFound`] from [`LedgerError::Conflict`] and explain the latter.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::rows::{FILE_COLUMNS, WINDOW_COLUMNS, WindowRow, read_file, to_sql_int};
use crate::refusal::{claim_refusal, run_refusal};
use crate::{
    Claim, ClaimOptions, CommitInfo, FileEntry, LedgerError, Recorded, WindowRecord, WindowState,
};

/// Attaches the operation name to SQLite errors.
trait Op<T> {
    fn op(self, op: &'static str) -> Result<T, LedgerError>;
}

impl<T> Op<T> for rusqlite::Result<T> {
    fn op(self, op: &'static str) -> Result<T, LedgerError> {
        self.map_err(|e| LedgerError::backend(op, e))
    }
}

fn immediate<'c>(
    conn: &'c mut Connection,
    op: &'static str,
) -> Result<Transaction<'c>, LedgerError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .op(op)
}

pub(crate) fn record_files(
    conn: &mut Connection,
    files: &[FileEntry],
    now: i64,
) -> Result<Vec<Recorded>, LedgerError> {
    const OP: &str = "record files";
    let tx = immediate(conn, OP)?;
    // What the files do to each window, written once per window at the end:
    // one listing records hundreds of files of each window.
    let mut changes: BTreeMap<String, WindowChange> = BTreeMap::new();
    let mut recorded = Vec::with_capacity(files.len());
    for file in files {
        let window_exists = |window: &str| changes.contains_key(window);
        let Some(joined) = record_one(&tx, file, window_exists, now)? else {
            recorded.push(Recorded::Duplicate);
            continue;
        };
        let change = changes.entry(joined.window.clone()).or_default();
        // The window's first change of this listing makes it dirty if it
        // was committed; that file is the one reported as dirtying it.
        let outcome = if change.files_changed == 0 && dirty(&tx, &joined.window)? {
            Recorded::Dirtied
        } else {
            joined.outcome
        };
        change.files_changed += 1;
        change.added_files += joined.added_files;
        change.added_bytes += joined.added_bytes;
        recorded.push(outcome);
    }
    for (window, change) in &changes {
        change.apply(&tx, window, now)?;
    }
    tx.commit().op(OP)?;
    Ok(recorded)
}

/// A file that joined its window's input set (new) or changed in it (replaced).
struct Joined {
    window: String,
    added_files: i64,
    added_bytes: i64,
    outcome: Recorded,
}

/// Records one file, unless it is a duplicate; a new file's window is
/// created first unless `window_exists` (this listing already changed it).
fn record_one(
    tx: &Connection,
    file: &FileEntry,
    window_exists: impl Fn(&str) -> bool,
    now: i64,
) -> Result<Option<Joined>, LedgerError> {
    const OP: &str = "record a file";
    let size = to_sql_int(file.size, OP)?;
    let stored = stored(tx, file)?;
    let (window, window_start) = match &stored {
        Some(row) => (row.window.clone(), row.window_start),
        None => (file.window.clone(), file.window_start),
    };

    let Some(Stored {
        size: old_size,
        etag: old_etag,
        home: old_home,
        ..
    }) = stored
    else {
        if !window_exists(&window) {
            tx.prepare_cached(
                "INSERT INTO windows (window, window_start, state, updated_at, last_file_at)
                 VALUES (?1, ?2, 'open', ?3, ?3) ON CONFLICT (window) DO NOTHING",
            )
            .op(OP)?
            .execute(params![window, window_start, now])
            .op(OP)?;
        }
        tx.prepare_cached(&format!(
            "INSERT INTO files ({FILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))
        .op(OP)?
        .execute(params![
            file.key,
            window,
            window_start,
            file.account,
            size,
            file.etag,
            file.home
        ])
        .op(OP)?;
        return Ok(Some(Joined {
            window,
            added_files: 1,
            added_bytes: size,
            outcome: Recorded::New,
        }));
    };
    // An unknown etag on either side proves nothing: compare only known ones.
    let etag_differs = matches!((&old_etag, &file.etag), (Some(a), Some(b)) if a != b);
    if old_size == size && !etag_differs && old_home == file.home {
        return Ok(None);
    }
    tx.prepare_cached(
        "UPDATE files SET size = ?3, etag = COALESCE(?4, etag), home = ?5
         WHERE key = ?1 AND window = ?2",
    )
    .op(OP)?
    .execute(params![file.key, window, size, file.etag, file.home])
    .op(OP)?;
    Ok(Some(Joined {
        window,
        added_files: 0,
        added_bytes: size - old_size,
        outcome: Recorded::Replaced,
    }))
}

/// The row of `file`'s key that `file` is recorded as, if any.
struct Stored {
    window: String,
    window_start: i64,
    size: i64,
    etag: Option<String>,
    home: Option<String>,
}

/// Finds, in one query, the row `file` is kept under. A whole object keeps
/// the home it was first recorded with (its home row, else the row of its
/// own window), so that a replaced object re-runs one window rather than
/// moving between two; a split object's entries are kept under their own
/// windows.
fn stored(tx: &Connection, file: &FileEntry) -> Result<Option<Stored>, LedgerError> {
    const OP: &str = "record a file";
    let sql = if file.home.is_some() {
        "SELECT window, window_start, size, etag, home FROM files
         WHERE key = ?1 AND window = ?2"
    } else {
        "SELECT window, window_start, size, etag, home FROM files
         WHERE key = ?1 AND window IN (COALESCE(home, window), ?2)
         ORDER BY window = COALESCE(home, window) DESC LIMIT 1"
    };
    tx.prepare_cached(sql)
        .op(OP)?
        .query_row([&file.key, &file.window], |r| {
            Ok(Stored {
                window: r.get(0)?,
                window_start: r.get(1)?,
                size: r.get(2)?,
                etag: r.get(3)?,
                home: r.get(4)?,
            })
        })
        .optional()
        .op(OP)
}

/// Makes a committed window dirty; whether it was committed.
fn dirty(tx: &Connection, window: &str) -> Result<bool, LedgerError> {
    const OP: &str = "record a file";
    let dirtied = tx
        .prepare_cached(
            "UPDATE windows SET state = 'dirty' WHERE window = ?1 AND state = 'committed'",
        )
        .op(OP)?
        .execute([window])
        .op(OP)?;
    Ok(dirtied == 1)
}

/// What one listing's files did to a window.
#[derive(Default)]
struct WindowChange {
    /// Files that joined or changed (each bumps the input revision).
    files_changed: i64,
    added_files: i64,
    added_bytes: i64,
}

impl WindowChange {
    fn apply(&self, tx: &Connection, window: &str, now: i64) -> Result<(), LedgerError> {
        const OP: &str = "record files";
        let touched = tx
            .prepare_cached(
                "UPDATE windows SET files = files + ?2, bytes = bytes + ?3,
                     input_rev = input_rev + ?4, last_file_at = ?5, updated_at = ?5
                 WHERE window = ?1",
            )
            .op(OP)?
            .execute(params![
                window,
                self.added_files,
                self.added_bytes,
                self.files_changed,
                now
            ])
            .op(OP)?;
        if touched != 1 {
            return Err(LedgerError::Corrupt {
                what: format!("files were recorded under window {window}, which is missing"),
            });
        }
        Ok(())
    }
}

pub(crate) fn window(conn: &Connection, window: &str) -> Result<Option<WindowRecord>, LedgerError> {
    const OP: &str = "read a window";
    conn.prepare_cached(&format!(
        "SELECT {WINDOW_COLUMNS} FROM windows WHERE window = ?1"
    ))
    .op(OP)?
    .query_row([window], WindowRow::read)
    .optional()
    .op(OP)?
    .map(WindowRow::decode)
    .transpose()
}

pub(crate) fn windows(conn: &mut Connection) -> Result<Vec<WindowRecord>, LedgerError> {
    const OP: &str = "list windows";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {WINDOW_COLUMNS} FROM windows ORDER BY window"
        ))
        .op(OP)?;
    let rows = stmt.query_map([], WindowRow::read).op(OP)?;
    rows.map(|row| row.op(OP)?.decode()).collect()
}

pub(crate) fn due(
    conn: &mut Connection,
    now: i64,
    settle_secs: i64,
) -> Result<Vec<WindowRecord>, LedgerError> {
    const OP: &str = "list due windows";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {WINDOW_COLUMNS} FROM windows
             WHERE state IN ('open', 'dirty') AND window_start + 60 + ?2 <= ?1
             ORDER BY window"
        ))
        .op(OP)?;
    let rows = stmt.query_map([now, settle_secs], WindowRow::read).op(OP)?;
    rows.map(|row| row.op(OP)?.decode()).collect()
}

pub(crate) fn files(conn: &Connection, window: &str) -> Result<Vec<FileEntry>, LedgerError> {
    const OP: &str = "list files";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE window = ?1 ORDER BY key"
        ))
        .op(OP)?;
    let rows = stmt.query_map([window], read_file).op(OP)?;
    rows.map(|row| row.op(OP)?).collect()
}

pub(crate) fn claim(
    conn: &mut Connection,
    window: &str,
    opts: &ClaimOptions,
    now: i64,
) -> Result<Claim, LedgerError> {
    const OP: &str = "claim a window";
    let expected = opts
        .expected_version
        .map(|v| to_sql_int(v, OP))
        .transpose()?;
    let tx = immediate(conn, OP)?;
    let version: Option<i64> = tx
        .prepare_cached(
            "UPDATE windows SET state = 'running', version = version + 1, claimed_at = ?2,
                 claimed_files = files, claimed_rev = input_rev, attempts = attempts + 1,
                 error = NULL, updated_at = ?2
             WHERE window = ?1
               AND (?3 IS NULL OR version = ?3)
               AND (state IN ('open', 'dirty', 'failed')
                    OR (state = 'running' AND COALESCE(claimed_at, 0) + ?4 <= ?2)
                    OR (state = 'committed' AND ?5))
             RETURNING version",
        )
        .op(OP)?
        .query_row(
            params![window, now, expected, opts.lease_secs, opts.force],
            |r| r.get(0),
        )
        .optional()
        .op(OP)?;
    let Some(version) = version else {
        return Err(refusal(&tx, window, |rec| claim_refusal(rec, opts)));
    };
    let files = files(&tx, window)?;
    tx.commit().op(OP)?;
    Ok(Claim {
        window: window.to_owned(),
        version: u64::try_from(version).map_err(|_| LedgerError::Corrupt {
            what: format!("window {window}: version = {version} is out of range"),
        })?,
        files,
    })
}

pub(crate) fn commit(
    conn: &mut Connection,
    window: &str,
    version: u64,
    info: &CommitInfo,
    now: i64,
) -> Result<WindowState, LedgerError> {
    const OP: &str = "commit a window";
    let outputs = serde_json::to_string(&info.outputs).map_err(|e| LedgerError::backend(OP, e))?;
    let counts = serde_json::to_string(&info.counts).map_err(|e| LedgerError::backend(OP, e))?;
    let sql_version = to_sql_int(version, OP)?;
    let tx = immediate(conn, OP)?;
    let state: Option<String> = tx
        .prepare_cached(
            "UPDATE windows
             SET state = CASE WHEN input_rev > claimed_rev THEN 'dirty' ELSE 'committed' END,
                 digest = ?3, outputs = ?4, counts = ?5, attempts = 0, error = NULL,
                 updated_at = ?6
             WHERE window = ?1 AND state = 'running' AND version = ?2
             RETURNING state",
        )
        .op(OP)?
        .query_row(
            params![window, sql_version, info.digest, outputs, counts, now],
            |r| r.get(0),
        )
        .optional()
        .op(OP)?;
    let Some(state) = state else {
        return Err(refusal(&tx, window, |rec| run_refusal(rec, version)));
    };
    tx.commit().op(OP)?;
    state.parse().map_err(|e| LedgerError::Corrupt {
        what: format!("window {window}: {e}"),
    })
}

pub(crate) fn fail(
    conn: &mut Connection,
    window: &str,
    version: u64,
    reason: &str,
    now: i64,
) -> Result<(), LedgerError> {
    const OP: &str = "fail a window";
    let sql_version = to_sql_int(version, OP)?;
    let tx = immediate(conn, OP)?;
    let changed = tx
        .prepare_cached(
            "UPDATE windows SET state = 'failed', error = ?3, updated_at = ?4
             WHERE window = ?1 AND state = 'running' AND version = ?2",
        )
        .op(OP)?
        .execute(params![window, sql_version, reason, now])
        .op(OP)?;
    if changed == 0 {
        return Err(refusal(&tx, window, |rec| run_refusal(rec, version)));
    }
    tx.commit().op(OP)
}

/// The error for a conditional write that matched nothing: the window is
/// missing, or `describe` says what was found instead of what was required.
fn refusal(
    conn: &Connection,
    name: &str,
    describe: impl FnOnce(&WindowRecord) -> String,
) -> LedgerError {
    match window(conn, name) {
        Ok(Some(rec)) => LedgerError::Conflict {
            window: name.to_owned(),
            reason: describe(&rec),
        },
        Ok(None) => LedgerError::NotFound {
            window: name.to_owned(),
        },
        Err(err) => err,
    }
}
