//! Behaviour of `SqliteLedger` through the `Ledger` trait: every transition
//! allowed and refused, file recording outcomes, due windows, persistence and
//! racing claims.

#![allow(
    clippy::unwrap_used,
    reason = "shared test helpers; allow-unwrap-in-tests only covers #[test] functions"
)]

use std::sync::Arc;

use ledger::{
    ClaimOptions, CommitInfo, FileEntry, Ledger, LedgerError, Recorded, SqliteLedger, WindowRecord,
    WindowState,
};

/// 2026-11-22T13:05Z
const W: &str = "2026-11-22T13:05Z";
const W_START: i64 = 1_795_352_700;
/// 2026-11-22T13:06Z
const W2: &str = "2026-11-22T13:06Z";
const W2_START: i64 = W_START + 60;

/// A time well after the window, when runs happen.
const T: i64 = W_START + 3_600;
const LEASE: i64 = 900;

fn file(key: &str, window: &str, window_start: i64, size: u64, etag: Option<&str>) -> FileEntry {
    FileEntry {
        key: key.to_owned(),
        window: window.to_owned(),
        window_start,
        account: "111122223333".to_owned(),
        size,
        etag: etag.map(str::to_owned),
    }
}

fn opts(lease_secs: i64) -> ClaimOptions {
    ClaimOptions {
        expected_version: None,
        lease_secs,
        force: false,
    }
}

fn info(tag: &str) -> CommitInfo {
    CommitInfo {
        digest: format!("digest-{tag}"),
        outputs: vec![
            format!("out/{tag}-0.parquet"),
            format!("out/{tag}-1.parquet"),
        ],
        counts: serde_json::json!({ "records": 10, "tag": tag }),
    }
}

/// A ledger with window `W` holding files `b` (200 bytes) and `a` (100 bytes).
async fn ledger_with_window() -> SqliteLedger {
    let ledger = SqliteLedger::in_memory().unwrap();
    let recorded = ledger
        .record_files(
            &[
                file("b", W, W_START, 200, Some("eb")),
                file("a", W, W_START, 100, Some("ea")),
            ],
            W_START + 70,
        )
        .await
        .unwrap();
    assert_eq!(recorded, [Recorded::New, Recorded::New]);
    ledger
}

async fn record(ledger: &dyn Ledger, window: &str) -> WindowRecord {
    ledger.window(window).await.unwrap().unwrap()
}

/// Puts `W` into `state` through the public transitions; returns its version.
async fn drive_to(ledger: &dyn Ledger, state: WindowState) -> u64 {
    if state == WindowState::Open {
        return 0;
    }
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    match state {
        WindowState::Open | WindowState::Running => {}
        WindowState::Committed => {
            let s = ledger
                .commit(W, claim.version, &info("c"), T + 1)
                .await
                .unwrap();
            assert_eq!(s, WindowState::Committed);
        }
        WindowState::Failed => ledger.fail(W, claim.version, "boom", T + 1).await.unwrap(),
        WindowState::Dirty => {
            ledger
                .commit(W, claim.version, &info("c"), T + 1)
                .await
                .unwrap();
            let r = ledger
                .record_files(&[file("late", W, W_START, 5, None)], T + 2)
                .await
                .unwrap();
            assert_eq!(r, [Recorded::Dirtied]);
        }
    }
    assert_eq!(record(ledger, W).await.state, state);
    claim.version
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, LedgerError>, needle: &str) {
    match result {
        Err(LedgerError::Conflict { window, reason }) => {
            assert_eq!(window, W);
            assert!(
                reason.contains(needle),
                "reason {reason:?} lacks {needle:?}"
            );
        }
        other => panic!("expected a conflict mentioning {needle:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- record_files

#[tokio::test]
async fn first_file_creates_an_open_window() {
    let ledger = ledger_with_window().await;
    let rec = record(&ledger, W).await;
    assert_eq!(rec.state, WindowState::Open);
    assert_eq!((rec.version, rec.files, rec.bytes), (0, 2, 300));
    assert_eq!(
        (rec.claimed_files, rec.attempts, rec.claimed_at),
        (0, 0, None)
    );
    assert_eq!(rec.window_start, W_START);
    assert_eq!(
        (rec.updated_at, rec.last_file_at),
        (W_START + 70, W_START + 70)
    );
    assert_eq!((rec.digest, rec.counts, rec.error), (None, None, None));
    assert!(rec.outputs.is_empty());
    assert!(ledger.window(W2).await.unwrap().is_none());
}

#[tokio::test]
async fn files_are_listed_by_key() {
    let ledger = ledger_with_window().await;
    let files = ledger.files(W).await.unwrap();
    let keys: Vec<_> = files.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(files[0], file("a", W, W_START, 100, Some("ea")));
    assert!(ledger.files(W2).await.unwrap().is_empty());
}

#[tokio::test]
async fn same_file_again_is_a_duplicate() {
    let ledger = ledger_with_window().await;
    let r = ledger
        .record_files(
            &[
                file("a", W, W_START, 100, Some("ea")),
                // An unknown etag proves nothing: same size means same file.
                file("b", W, W_START, 200, None),
            ],
            T,
        )
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Duplicate, Recorded::Duplicate]);
    let rec = record(&ledger, W).await;
    assert_eq!(
        (rec.files, rec.bytes, rec.last_file_at),
        (2, 300, W_START + 70)
    );
}

#[tokio::test]
async fn changed_size_or_etag_is_a_replacement() {
    let ledger = ledger_with_window().await;
    let r = ledger
        .record_files(
            &[
                file("a", W, W_START, 150, Some("ea")),
                file("b", W, W_START, 200, Some("eb2")),
            ],
            T,
        )
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Replaced, Recorded::Replaced]);
    let rec = record(&ledger, W).await;
    assert_eq!(
        (rec.state, rec.files, rec.bytes),
        (WindowState::Open, 2, 350)
    );
    assert_eq!(rec.last_file_at, T);
    let files = ledger.files(W).await.unwrap();
    assert_eq!(files[0].size, 150);
    assert_eq!(files[1].etag.as_deref(), Some("eb2"));
}

#[tokio::test]
async fn a_key_stays_in_its_first_window() {
    let ledger = ledger_with_window().await;
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
}

#[tokio::test]
async fn repeated_key_within_one_call() {
    let ledger = SqliteLedger::in_memory().unwrap();
    let f = file("a", W, W_START, 1, None);
    let r = ledger.record_files(&[f.clone(), f], T).await.unwrap();
    assert_eq!(r, [Recorded::New, Recorded::Duplicate]);
    assert_eq!(record(&ledger, W).await.files, 1);
    assert!(ledger.record_files(&[], T).await.unwrap().is_empty());
}

#[tokio::test]
async fn new_or_replaced_file_dirties_a_committed_window() {
    let ledger = ledger_with_window().await;
    drive_to(&ledger, WindowState::Committed).await;
    let r = ledger
        .record_files(&[file("c", W, W_START, 7, None)], T + 10)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Dirtied]);
    let rec = record(&ledger, W).await;
    assert_eq!(
        (rec.state, rec.files, rec.bytes),
        (WindowState::Dirty, 3, 307)
    );
    // Once dirty, further files are plain news; duplicates change nothing.
    let r = ledger
        .record_files(
            &[
                file("d", W, W_START, 1, None),
                file("c", W, W_START, 7, None),
            ],
            T + 11,
        )
        .await
        .unwrap();
    assert_eq!(r, [Recorded::New, Recorded::Duplicate]);

    let ledger = ledger_with_window().await;
    drive_to(&ledger, WindowState::Committed).await;
    let r = ledger
        .record_files(&[file("a", W, W_START, 101, None)], T + 10)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Dirtied]);
    assert_eq!(record(&ledger, W).await.state, WindowState::Dirty);

    // A duplicate does not dirty a committed window.
    let ledger = ledger_with_window().await;
    drive_to(&ledger, WindowState::Committed).await;
    let r = ledger
        .record_files(&[file("a", W, W_START, 100, Some("ea"))], T + 10)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Duplicate]);
    assert_eq!(record(&ledger, W).await.state, WindowState::Committed);
}

#[tokio::test]
async fn other_states_are_kept_when_files_arrive() {
    for state in [WindowState::Running, WindowState::Failed] {
        let ledger = ledger_with_window().await;
        drive_to(&ledger, state).await;
        let r = ledger
            .record_files(&[file("c", W, W_START, 7, None)], T + 10)
            .await
            .unwrap();
        assert_eq!(r, [Recorded::New], "in state {state}");
        let rec = record(&ledger, W).await;
        assert_eq!((rec.state, rec.files), (state, 3));
    }
}

// ----------------------------------------------------------------------- claim

#[tokio::test]
async fn claim_from_open_returns_the_input_set() {
    let ledger = ledger_with_window().await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    assert_eq!(claim.window, W);
    assert_eq!(claim.version, 1);
    let keys: Vec<_> = claim.files.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    let rec = record(&ledger, W).await;
    assert_eq!(rec.state, WindowState::Running);
    assert_eq!((rec.version, rec.claimed_files, rec.attempts), (1, 2, 1));
    assert_eq!((rec.claimed_at, rec.updated_at), (Some(T), T));
}

#[tokio::test]
async fn claim_is_allowed_from_dirty_and_failed() {
    for state in [WindowState::Dirty, WindowState::Failed] {
        let ledger = ledger_with_window().await;
        let v = drive_to(&ledger, state).await;
        let claim = ledger.claim(W, &opts(LEASE), T + 20).await.unwrap();
        assert_eq!(claim.version, v + 1, "from {state}");
        let rec = record(&ledger, W).await;
        assert_eq!(rec.state, WindowState::Running);
        assert_eq!(rec.error, None, "claim clears the error");
        assert_eq!(rec.claimed_files, rec.files);
    }
}

#[tokio::test]
async fn attempts_count_claims_since_the_last_commit() {
    let ledger = ledger_with_window().await;
    let c1 = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    ledger.fail(W, c1.version, "boom", T + 1).await.unwrap();
    let rec = record(&ledger, W).await;
    assert_eq!((rec.attempts, rec.error.as_deref()), (1, Some("boom")));
    let c2 = ledger.claim(W, &opts(LEASE), T + 2).await.unwrap();
    assert_eq!(record(&ledger, W).await.attempts, 2);
    ledger
        .commit(W, c2.version, &info("x"), T + 3)
        .await
        .unwrap();
    assert_eq!(record(&ledger, W).await.attempts, 0);
}

#[tokio::test]
async fn claim_of_a_running_window_waits_for_the_lease() {
    let ledger = ledger_with_window().await;
    let first = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let before = record(&ledger, W).await;

    assert_conflict(
        ledger.claim(W, &opts(LEASE), T + LEASE - 1).await,
        "already running at version 1",
    );
    assert_eq!(
        record(&ledger, W).await,
        before,
        "a refused claim changes nothing"
    );

    let second = ledger.claim(W, &opts(LEASE), T + LEASE).await.unwrap();
    assert_eq!(second.version, first.version + 1);
    let rec = record(&ledger, W).await;
    assert_eq!((rec.claimed_at, rec.attempts), (Some(T + LEASE), 2));
}

#[tokio::test]
async fn lease_zero_takes_over_any_running_claim() {
    let ledger = ledger_with_window().await;
    let first = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let second = ledger.claim(W, &opts(0), T).await.unwrap();
    assert_eq!(second.version, first.version + 1);
}

#[tokio::test]
async fn claim_of_a_committed_window_needs_force() {
    let ledger = ledger_with_window().await;
    let v = drive_to(&ledger, WindowState::Committed).await;
    let before = record(&ledger, W).await;
    assert_conflict(ledger.claim(W, &opts(LEASE), T + 10).await, "force");
    assert_eq!(record(&ledger, W).await, before);

    let forced = ClaimOptions {
        force: true,
        ..opts(LEASE)
    };
    let claim = ledger.claim(W, &forced, T + 10).await.unwrap();
    assert_eq!(claim.version, v + 1);
    assert_eq!(claim.files.len(), 2);
    let state = ledger
        .commit(W, claim.version, &info("rerun"), T + 11)
        .await
        .unwrap();
    assert_eq!(state, WindowState::Committed);
    let rec = record(&ledger, W).await;
    assert_eq!(rec.digest.as_deref(), Some("digest-rerun"));
}

#[tokio::test]
async fn force_does_not_skip_a_live_lease() {
    let ledger = ledger_with_window().await;
    drive_to(&ledger, WindowState::Running).await;
    let forced = ClaimOptions {
        force: true,
        ..opts(LEASE)
    };
    assert_conflict(ledger.claim(W, &forced, T + 1).await, "already running");
}

#[tokio::test]
async fn claim_checks_the_expected_version() {
    let ledger = ledger_with_window().await;
    let stale = ClaimOptions {
        expected_version: Some(3),
        ..opts(LEASE)
    };
    assert_conflict(
        ledger.claim(W, &stale, T).await,
        "expected version 3, found open at version 0",
    );
    assert_eq!(record(&ledger, W).await.version, 0);

    let current = ClaimOptions {
        expected_version: Some(0),
        ..opts(LEASE)
    };
    let claim = ledger.claim(W, &current, T).await.unwrap();
    assert_eq!(claim.version, 1);
    // The same scheduled start delivered twice: the second loses.
    assert_conflict(ledger.claim(W, &current, T).await, "expected version 0");
}

#[tokio::test]
async fn unknown_windows_are_not_found() {
    let ledger = ledger_with_window().await;
    let err = ledger.claim(W2, &opts(LEASE), T).await.unwrap_err();
    assert!(matches!(&err, LedgerError::NotFound { window } if window == W2));
    assert!(
        ledger
            .commit(W2, 1, &info("x"), T)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(ledger.fail(W2, 1, "x", T).await.unwrap_err().is_not_found());
}

// ---------------------------------------------------------------------- commit

#[tokio::test]
async fn commit_stores_the_outcome() {
    let ledger = ledger_with_window().await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let state = ledger
        .commit(W, claim.version, &info("one"), T + 5)
        .await
        .unwrap();
    assert_eq!(state, WindowState::Committed);
    let rec = record(&ledger, W).await;
    assert_eq!(rec.state, WindowState::Committed);
    assert_eq!(rec.version, claim.version);
    assert_eq!(rec.digest.as_deref(), Some("digest-one"));
    assert_eq!(rec.outputs, info("one").outputs);
    assert_eq!(rec.counts, Some(info("one").counts));
    assert_eq!((rec.attempts, rec.updated_at), (0, T + 5));
    assert!(ledger.due(T + 100, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn commit_requires_the_claimed_version() {
    let ledger = ledger_with_window().await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    assert_conflict(
        ledger.commit(W, claim.version + 1, &info("x"), T + 1).await,
        "expected running at version 2, found running at version 1",
    );
    assert_eq!(record(&ledger, W).await.state, WindowState::Running);
}

#[tokio::test]
async fn commit_after_a_newer_claim_is_refused() {
    let ledger = ledger_with_window().await;
    let old = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let new = ledger.claim(W, &opts(LEASE), T + LEASE).await.unwrap();
    assert_conflict(
        ledger
            .commit(W, old.version, &info("old"), T + LEASE + 1)
            .await,
        "a newer claim took the window over",
    );
    assert_conflict(
        ledger.fail(W, old.version, "late", T + LEASE + 1).await,
        "a newer claim",
    );
    let state = ledger
        .commit(W, new.version, &info("new"), T + LEASE + 2)
        .await
        .unwrap();
    assert_eq!(state, WindowState::Committed);
    // The old run finishing now still cannot publish.
    assert_conflict(
        ledger
            .commit(W, old.version, &info("old"), T + LEASE + 3)
            .await,
        "found committed at version 2",
    );
    assert_eq!(
        record(&ledger, W).await.digest.as_deref(),
        Some("digest-new")
    );
}

#[tokio::test]
async fn commit_is_refused_unless_running() {
    for state in [
        WindowState::Open,
        WindowState::Committed,
        WindowState::Dirty,
        WindowState::Failed,
    ] {
        let ledger = ledger_with_window().await;
        let v = drive_to(&ledger, state).await;
        let before = record(&ledger, W).await;
        assert_conflict(
            ledger.commit(W, v, &info("x"), T + 30).await,
            &format!("found {state} at version {v}"),
        );
        assert_conflict(ledger.fail(W, v, "x", T + 30).await, "expected running");
        assert_eq!(
            record(&ledger, W).await,
            before,
            "refusal in {state} changed it"
        );
    }
}

#[tokio::test]
async fn commit_leaves_the_window_dirty_when_files_arrived_while_running() {
    let ledger = ledger_with_window().await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    ledger
        .record_files(&[file("c", W, W_START, 9, None)], T + 1)
        .await
        .unwrap();
    let state = ledger
        .commit(W, claim.version, &info("partial"), T + 2)
        .await
        .unwrap();
    assert_eq!(state, WindowState::Dirty);
    let rec = record(&ledger, W).await;
    assert_eq!(
        (rec.state, rec.files, rec.claimed_files),
        (WindowState::Dirty, 3, 2)
    );
    assert_eq!(
        rec.outputs,
        info("partial").outputs,
        "the output is still recorded"
    );
    assert_eq!(ledger.due(T + 2, 600).await.unwrap().len(), 1);

    // The re-run sees all three files and commits cleanly.
    let rerun = ledger.claim(W, &opts(LEASE), T + 3).await.unwrap();
    assert_eq!(rerun.files.len(), 3);
    let state = ledger
        .commit(W, rerun.version, &info("full"), T + 4)
        .await
        .unwrap();
    assert_eq!(state, WindowState::Committed);
}

#[tokio::test]
async fn commit_leaves_the_window_dirty_when_a_file_was_replaced_while_running() {
    let ledger = ledger_with_window().await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let r = ledger
        .record_files(&[file("a", W, W_START, 111, Some("ea2"))], T + 1)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Replaced]);
    let state = ledger
        .commit(W, claim.version, &info("x"), T + 2)
        .await
        .unwrap();
    assert_eq!(state, WindowState::Dirty);
}

// ------------------------------------------------------------------------ fail

#[tokio::test]
async fn fail_records_the_reason() {
    let ledger = ledger_with_window().await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    assert_conflict(
        ledger.fail(W, claim.version + 1, "x", T + 1).await,
        "expected running at version 2",
    );
    ledger
        .fail(W, claim.version, "partial-merge timed out", T + 1)
        .await
        .unwrap();
    let rec = record(&ledger, W).await;
    assert_eq!(rec.state, WindowState::Failed);
    assert_eq!(rec.error.as_deref(), Some("partial-merge timed out"));
    assert_eq!((rec.version, rec.updated_at), (claim.version, T + 1));
    // Failing twice is refused: the claim is over.
    assert_conflict(
        ledger.fail(W, claim.version, "again", T + 2).await,
        "found failed",
    );
    // Failed windows are left to the redrive, not the scheduler.
    assert!(ledger.due(T + 100, 0).await.unwrap().is_empty());
}

// ------------------------------------------------------------------ due, list

#[tokio::test]
async fn due_waits_for_the_settle_time() {
    let ledger = ledger_with_window().await;
    ledger
        .record_files(&[file("z", W2, W2_START, 1, None)], W2_START + 60)
        .await
        .unwrap();
    let settle = 600;
    let names = |rs: Vec<WindowRecord>| rs.into_iter().map(|r| r.window).collect::<Vec<_>>();

    let w_due = W_START + 60 + settle;
    assert!(ledger.due(w_due - 1, settle).await.unwrap().is_empty());
    assert_eq!(names(ledger.due(w_due, settle).await.unwrap()), [W]);
    assert_eq!(
        names(ledger.due(w_due + 60, settle).await.unwrap()),
        [W, W2]
    );
    assert_eq!(names(ledger.due(W_START + 60, 0).await.unwrap()), [W]);
}

#[tokio::test]
async fn due_lists_open_and_dirty_windows_only() {
    for state in WindowState::ALL {
        let ledger = ledger_with_window().await;
        drive_to(&ledger, state).await;
        let due = ledger.due(T + 100, 600).await.unwrap();
        let expected = matches!(state, WindowState::Open | WindowState::Dirty);
        assert_eq!(due.len(), usize::from(expected), "in state {state}");
    }
}

#[tokio::test]
async fn windows_are_listed_in_order() {
    let ledger = SqliteLedger::in_memory().unwrap();
    assert!(ledger.windows().await.unwrap().is_empty());
    ledger
        .record_files(
            &[
                file("x", W2, W2_START, 1, None),
                file("y", W, W_START, 1, None),
                file("z", "2026-11-22T12:59Z", W_START - 360, 1, None),
            ],
            T,
        )
        .await
        .unwrap();
    let names: Vec<_> = ledger
        .windows()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.window)
        .collect();
    assert_eq!(names, ["2026-11-22T12:59Z", W, W2]);
}

#[tokio::test]
async fn records_round_trip_through_json() {
    let ledger = ledger_with_window().await;
    drive_to(&ledger, WindowState::Committed).await;
    let rec = record(&ledger, W).await;
    let json = serde_json::to_value(&rec).unwrap();
    assert_eq!(json["state"], "committed");
    assert_eq!(serde_json::from_value::<WindowRecord>(json).unwrap(), rec);
    let claim = ledger
        .claim(
            W,
            &ClaimOptions {
                force: true,
                ..opts(LEASE)
            },
            T + 5,
        )
        .await
        .unwrap();
    let text = serde_json::to_string(&claim).unwrap();
    assert_eq!(serde_json::from_str::<ledger::Claim>(&text).unwrap(), claim);
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
    assert_eq!(version, 1);
}

fn assert_conflict_on<T: std::fmt::Debug>(result: Result<T, LedgerError>, on: &str) {
    assert!(
        matches!(&result, Err(LedgerError::Conflict { window, .. }) if window == on),
        "expected a conflict on {on}, got {result:?}"
    );
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

// ----------------------------------------------------------------- concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_on_one_ledger_have_one_winner() {
    let ledger: Arc<dyn Ledger> = Arc::new(ledger_with_window().await);
    for round in 0..20_u64 {
        let now = T + i64::try_from(round).unwrap() * 10;
        let expected = Some(round);
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let ledger = Arc::clone(&ledger);
                tokio::spawn(async move {
                    let opts = ClaimOptions {
                        expected_version: expected,
                        lease_secs: LEASE,
                        force: true,
                    };
                    ledger.claim(W, &opts, now).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(claim) => winners.push(claim),
                Err(err) => assert!(err.is_conflict(), "{err:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let state = ledger
            .commit(W, winners[0].version, &info("r"), now + 1)
            .await
            .unwrap();
        assert_eq!(state, WindowState::Committed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_across_connections_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let first = Arc::new(SqliteLedger::open(&path).unwrap());
    first
        .record_files(&[file("a", W, W_START, 1, None)], T)
        .await
        .unwrap();
    let second = Arc::new(SqliteLedger::open(&path).unwrap());
    for round in 0..20_i64 {
        let now = T + round * 10;
        let tasks: Vec<_> = [Arc::clone(&first), Arc::clone(&second)]
            .into_iter()
            .map(|ledger| {
                tokio::spawn(async move {
                    let opts = ClaimOptions {
                        expected_version: None,
                        lease_secs: LEASE,
                        force: true,
                    };
                    ledger.claim(W, &opts, now).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(claim) => winners.push(claim),
                Err(err) => assert!(err.is_conflict(), "{err:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let state = second
            .commit(W, winners[0].version, &info("r"), now + 1)
            .await
            .unwrap();
        assert_eq!(state, WindowState::Committed);
    }
    assert_eq!(record(first.as_ref(), W).await.version, 20);
}

#[tokio::test(flavor = "current_thread")]
async fn works_on_a_current_thread_runtime() {
    let ledger = ledger_with_window().await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    assert_eq!(claim.files.len(), 2);
}
