//! Behaviour of `SqliteLedger`: the shared `Ledger` contract (every
//! transition allowed and refused, file recording outcomes, due windows,
//! racing claims and recorders; see `common/contract.rs`), plus what only a
//! SQLite file has: persistence, schema versions, damaged rows and racing
//! connections.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers; allow-unwrap-in-tests only covers #[test] functions"
)]

mod common;

use std::sync::Arc;

use common::contract::{
    Fresh, LEASE, T, W, W_START, W2, W2_START, claims_race, file, info, ledger_contract,
    ledger_with_window, opts, record, slice,
};
use ledger::{Ledger, LedgerError, Recorded, SqliteLedger, WindowState};

/// In-memory ledgers: each one is private and empty.
struct InMemory;

impl Fresh for InMemory {
    type Ledger = SqliteLedger;
    const EXACT: bool = true;

    async fn fresh(&self) -> SqliteLedger {
        SqliteLedger::in_memory().unwrap()
    }
}

async fn in_memory() -> InMemory {
    InMemory
}

ledger_contract!(in_memory);

/// Keys whose window the caller may report differently on another call
/// (the local runner takes a window from a file's modification time when
/// its name has none) stay in their first window. On AWS a key's window
/// comes from the key, and the DynamoDB ledger does not look.
#[tokio::test]
async fn a_key_stays_in_its_first_window() {
    let f = &InMemory;
    let ledger = ledger_with_window(f).await;
    let r = ledger
        .record_files(&[file("a", W2, W2_START, 100, Some("ea"))], T)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Duplicate]);
    let r = ledger
        .record_files(&[file("a", W2, W2_START, 120, Some("ea2"))], T)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Replaced]);
    assert!(ledger.window(W2).await.unwrap().is_none());
    assert_eq!(record(&ledger, W).await.bytes, 320);

    let ledger = f.fresh().await;
    let entries = [
        slice("fh", W, W_START, W2, 100),
        slice("fh", W2, W2_START, W2, 100),
    ];
    ledger.record_files(&entries, T).await.unwrap();
    // Reported whole under another window, the key is kept at its home,
    // which now holds the whole object: a replacement there.
    let whole = file("fh", W, W_START, 100, Some("e"));
    let r = ledger.record_files(&[whole], T + 2).await.unwrap();
    assert_eq!(r, [Recorded::Replaced]);
    let home = ledger.files(W2).await.unwrap();
    assert_eq!(home.len(), 1);
    assert_eq!(
        (home[0].window.as_str(), home[0].home.as_deref()),
        (W2, None)
    );
    assert_eq!(ledger.files(W).await.unwrap(), [entries[0].clone()]);
}

// ------------------------------------------------------------ file-backed use

#[tokio::test]
async fn file_backed_ledger_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/_flowmerge/ledger.sqlite");
    {
        let ledger = SqliteLedger::open(&path).unwrap();
        ledger
            .record_files(
                &[
                    file("a", W, W_START, 100, Some("ea")),
                    file("b", W2, W2_START, 5, None),
                ],
                T,
            )
            .await
            .unwrap();
        let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
        ledger
            .commit(W, claim.version, &info("p"), T + 1)
            .await
            .unwrap();
        ledger.claim(W2, &opts(LEASE), T + 2).await.unwrap();
    }
    let ledger = SqliteLedger::open(&path).unwrap();
    let w = record(&ledger, W).await;
    assert_eq!(
        (w.state, w.version, w.files),
        (WindowState::Committed, 1, 1)
    );
    assert_eq!(w.outputs, info("p").outputs);
    let w2 = record(&ledger, W2).await;
    assert_eq!(
        (w2.state, w2.claimed_at),
        (WindowState::Running, Some(T + 2))
    );
    // The running claim survives, lease and all.
    assert_conflict_on(ledger.claim(W2, &opts(LEASE), T + 3).await, W2);
    assert_eq!(
        ledger
            .record_files(&[file("a", W, W_START, 100, Some("ea"))], T + 4)
            .await
            .unwrap(),
        [Recorded::Duplicate]
    );

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

#[tokio::test]
async fn newer_schema_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    drop(SqliteLedger::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteLedger::open(&path).unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt { what } if what.contains("schema version 99")),
        "{err:?}"
    );
}

#[tokio::test]
async fn undecodable_rows_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = SqliteLedger::open(&path).unwrap();
    ledger
        .record_files(&[file("a", W, W_START, 1, None)], T)
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE windows SET state = 'paused'", [])
        .unwrap();
    let err = ledger.window(W).await.unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt { what } if what.contains("paused") && what.contains(W)),
        "{err:?}"
    );
    conn.execute("UPDATE windows SET state = 'open', outputs = 'nope'", [])
        .unwrap();
    assert!(matches!(
        ledger.windows().await.unwrap_err(),
        LedgerError::Corrupt { .. }
    ));
    conn.execute("UPDATE files SET size = -1", []).unwrap();
    assert!(matches!(
        ledger.files(W).await.unwrap_err(),
        LedgerError::Corrupt { what } if what.contains("size = -1")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_across_connections_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let first: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(&path).unwrap());
    first
        .record_files(&[file("a", W, W_START, 1, None)], T)
        .await
        .unwrap();
    let second: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(&path).unwrap());
    claims_race(Arc::clone(&first), second, 20, false).await;
    assert_eq!(record(first.as_ref(), W).await.version, 20);
}

#[tokio::test(flavor = "current_thread")]
async fn works_on_a_current_thread_runtime() {
    let ledger = ledger_with_window(&InMemory).await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    assert_eq!(claim.files.len(), 2);
}

fn assert_conflict_on<T: std::fmt::Debug>(result: Result<T, LedgerError>, on: &str) {
    assert!(
        matches!(&result, Err(LedgerError::Conflict { window, .. }) if window == on),
        "expected a conflict on {on}, got {result:?}"
    );
}
