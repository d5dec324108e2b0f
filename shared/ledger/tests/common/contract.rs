//! The `Ledger` contract as behavioural tests, written once against the
//! trait and run for every backend: `ledger_contract!(factory)` expands to one
//! `#[tokio::test]` per test below, each getting fresh, empty ledgers from
//! the factory.

#![allow(
    clippy::unwrap_used,
    reason = "shared test helpers; allow-unwrap-in-tests only covers #[test] functions"
)]

use std::future::Future;
use std::sync::Arc;

use ledger::{
    Claim, ClaimOptions, CommitInfo, FileEntry, Ledger, LedgerError, Recorded, WindowRecord,
    WindowState,
};

/// Makes ledgers for the contract tests.
pub trait Fresh: Sync {
    /// The ledger type under test.
    type Ledger: Ledger + 'static;

    /// A new, empty ledger that shares nothing with earlier ones.
    fn fresh(&self) -> impl Future<Output = Self::Ledger> + Send;

    /// Whether the ledger reads a window before recording files into it
    /// when it is not committed, and so reports a file delivered again in
    /// another call as a duplicate or replacement and counts it once
    /// (SQLite). A ledger that records without reading (DynamoDB) reports
    /// it as new and counts it again until the next claim; both list it
    /// once, at its latest entry.
    const EXACT: bool;
}

/// What `record_files` reports for a file delivered again in another call
/// to a window that is not committed: `exact` where the ledger reads first.
pub fn again<F: Fresh>(exact: Recorded) -> Recorded {
    if F::EXACT { exact } else { Recorded::New }
}

/// 2026-11-22T13:05Z
pub const W: &str = "2026-11-22T13:05Z";
pub const W_START: i64 = 1_795_352_700;
/// 2026-11-22T13:06Z
pub const W2: &str = "2026-11-22T13:06Z";
pub const W2_START: i64 = W_START + 60;

/// A time well after the window, when runs happen.
pub const T: i64 = W_START + 3_600;
pub const LEASE: i64 = 900;

pub fn file(
    key: &str,
    window: &str,
    window_start: i64,
    size: u64,
    etag: Option<&str>,
) -> FileEntry {
    FileEntry {
        key: key.to_owned(),
        window: window.to_owned(),
        window_start,
        account: "111122223333".to_owned(),
        size,
        etag: etag.map(str::to_owned),
        home: None,
    }
}

/// The entry of a split object's records that start in `window`.
pub fn slice(key: &str, window: &str, window_start: i64, home: &str, size: u64) -> FileEntry {
    FileEntry {
        home: Some(home.to_owned()),
        ..file(key, window, window_start, size, Some("e"))
    }
}

pub fn opts(lease_secs: i64) -> ClaimOptions {
    ClaimOptions {
        expected_version: None,
        lease_secs,
        force: false,
    }
}

pub fn info(tag: &str) -> CommitInfo {
    CommitInfo {
        digest: format!("digest-{tag}"),
        outputs: vec![
            format!("out/{tag}-0.parquet"),
            format!("out/{tag}-1.parquet"),
        ],
        counts: serde_json::json!({ "records": 10, "tag": tag }),
    }
}

/// A fresh ledger with window `W` holding files `b` (200 bytes) and `a` (100 bytes).
pub async fn ledger_with_window<F: Fresh>(f: &F) -> F::Ledger {
    let ledger = f.fresh().await;
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

pub async fn record(ledger: &dyn Ledger, window: &str) -> WindowRecord {
    ledger.window(window).await.unwrap().unwrap()
}

/// The keys of a window's files, as the ledger lists them.
pub async fn keys_of(ledger: &dyn Ledger, window: &str) -> Vec<String> {
    let files = ledger.files(window).await.unwrap();
    files.into_iter().map(|f| f.key).collect()
}

/// Puts `W` into `state` through the public transitions; returns its version.
pub async fn drive_to(ledger: &dyn Ledger, state: WindowState) -> u64 {
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

pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, LedgerError>, needle: &str) {
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

/// Runs `tasks` at once and returns their results in order.
async fn race<T: Send + 'static>(
    tasks: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

// ---------------------------------------------------------------- record_files

pub async fn first_file_creates_an_open_window(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn files_are_listed_by_key(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
    let files = ledger.files(W).await.unwrap();
    let keys: Vec<_> = files.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(files[0], file("a", W, W_START, 100, Some("ea")));
    assert!(ledger.files(W2).await.unwrap().is_empty());
}

pub async fn same_file_again_is_a_duplicate<F: Fresh>(f: &F) {
    let ledger = ledger_with_window(f).await;
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
    let dup = again::<F>(Recorded::Duplicate);
    assert_eq!(r, [dup, dup]);
    let files = ledger.files(W).await.unwrap();
    assert_eq!(
        files[1],
        file("b", W, W_START, 200, Some("eb")),
        "the known etag stays"
    );
    if F::EXACT {
        let rec = record(&ledger, W).await;
        assert_eq!(
            (rec.files, rec.bytes, rec.last_file_at),
            (2, 300, W_START + 70)
        );
    }
    // A claim counts the input set.
    ledger.claim(W, &opts(LEASE), T + 1).await.unwrap();
    let rec = record(&ledger, W).await;
    assert_eq!((rec.files, rec.bytes, rec.claimed_files), (2, 300, 2));
}

pub async fn changed_size_or_etag_is_a_replacement<F: Fresh>(f: &F) {
    let ledger = ledger_with_window(f).await;
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
    let replaced = again::<F>(Recorded::Replaced);
    assert_eq!(r, [replaced, replaced]);
    let rec = record(&ledger, W).await;
    assert_eq!((rec.state, rec.last_file_at), (WindowState::Open, T));
    if F::EXACT {
        assert_eq!((rec.files, rec.bytes), (2, 350));
    }
    let files = ledger.files(W).await.unwrap();
    assert_eq!(files[0].size, 150);
    assert_eq!(files[1].etag.as_deref(), Some("eb2"));
}

pub async fn a_split_object_has_an_entry_in_each_window(f: &impl Fresh) {
    let ledger = f.fresh().await;
    let entries = [
        slice("fh", W, W_START, W2, 100),
        slice("fh", W2, W2_START, W2, 100),
    ];
    let r = ledger.record_files(&entries, T).await.unwrap();
    assert_eq!(r, [Recorded::New, Recorded::New]);
    let r = ledger.record_files(&entries, T + 1).await.unwrap();
    assert_eq!(r, [Recorded::Duplicate, Recorded::Duplicate]);
    for window in [W, W2] {
        let rec = record(&ledger, window).await;
        assert_eq!((rec.files, rec.bytes), (1, 100), "{window}");
        assert_eq!(
            ledger.files(window).await.unwrap(),
            [entries[usize::from(window == W2)].clone()]
        );
    }
}

pub async fn repeated_key_within_one_call(f: &impl Fresh) {
    let ledger = f.fresh().await;
    let f = file("a", W, W_START, 1, None);
    let r = ledger.record_files(&[f.clone(), f], T).await.unwrap();
    assert_eq!(r, [Recorded::New, Recorded::Duplicate]);
    assert_eq!(record(&ledger, W).await.files, 1);
    assert!(ledger.record_files(&[], T).await.unwrap().is_empty());
}

pub async fn new_or_replaced_file_dirties_a_committed_window<F: Fresh>(f: &F) {
    let ledger = ledger_with_window(f).await;
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
    assert_eq!(r, [Recorded::New, again::<F>(Recorded::Duplicate)]);

    let ledger = ledger_with_window(f).await;
    drive_to(&ledger, WindowState::Committed).await;
    let r = ledger
        .record_files(&[file("a", W, W_START, 101, None)], T + 10)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Dirtied]);
    assert_eq!(record(&ledger, W).await.state, WindowState::Dirty);

    // A duplicate does not dirty a committed window.
    let ledger = ledger_with_window(f).await;
    drive_to(&ledger, WindowState::Committed).await;
    let r = ledger
        .record_files(&[file("a", W, W_START, 100, Some("ea"))], T + 10)
        .await
        .unwrap();
    assert_eq!(r, [Recorded::Duplicate]);
    assert_eq!(record(&ledger, W).await.state, WindowState::Committed);
}

pub async fn one_listing_of_many_files_across_windows(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
    drive_to(&ledger, WindowState::Committed).await;
    let r = ledger
        .record_files(
            &[
                file("c", W, W_START, 7, None),
                file("x", W2, W2_START, 5, None),
                file("a", W, W_START, 100, Some("ea")),
                file("b", W, W_START, 250, Some("eb2")),
                file("d", W, W_START, 1, None),
                file("y", W2, W2_START, 6, None),
            ],
            T + 10,
        )
        .await
        .unwrap();
    // The committed window's first change dirties it; later ones are plain.
    assert_eq!(
        r,
        [
            Recorded::Dirtied,
            Recorded::New,
            Recorded::Duplicate,
            Recorded::Replaced,
            Recorded::New,
            Recorded::New,
        ]
    );
    let w = record(&ledger, W).await;
    assert_eq!(
        (w.state, w.files, w.bytes, w.last_file_at),
        (WindowState::Dirty, 4, 358, T + 10)
    );
    let w2 = record(&ledger, W2).await;
    assert_eq!((w2.state, w2.files, w2.bytes), (WindowState::Open, 2, 11));
    assert_eq!(keys_of(&ledger, W).await, ["a", "b", "c", "d"]);
}

pub async fn other_states_are_kept_when_files_arrive(f: &impl Fresh) {
    for state in [WindowState::Running, WindowState::Failed] {
        let ledger = ledger_with_window(f).await;
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

pub async fn claim_from_open_returns_the_input_set(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn claim_is_allowed_from_dirty_and_failed(f: &impl Fresh) {
    for state in [WindowState::Dirty, WindowState::Failed] {
        let ledger = ledger_with_window(f).await;
        let v = drive_to(&ledger, state).await;
        let claim = ledger.claim(W, &opts(LEASE), T + 20).await.unwrap();
        assert_eq!(claim.version, v + 1, "from {state}");
        let rec = record(&ledger, W).await;
        assert_eq!(rec.state, WindowState::Running);
        assert_eq!(rec.error, None, "claim clears the error");
        assert_eq!(rec.claimed_files, rec.files);
    }
}

pub async fn attempts_count_claims_since_the_last_commit(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn claim_of_a_running_window_waits_for_the_lease(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn lease_zero_takes_over_any_running_claim(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
    let first = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let second = ledger.claim(W, &opts(0), T).await.unwrap();
    assert_eq!(second.version, first.version + 1);
}

pub async fn claim_of_a_committed_window_needs_force(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn force_does_not_skip_a_live_lease(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
    drive_to(&ledger, WindowState::Running).await;
    let forced = ClaimOptions {
        force: true,
        ..opts(LEASE)
    };
    assert_conflict(ledger.claim(W, &forced, T + 1).await, "already running");
}

pub async fn claim_checks_the_expected_version(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn unknown_windows_are_not_found(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn commit_stores_the_outcome(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn commit_requires_the_claimed_version(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    assert_conflict(
        ledger.commit(W, claim.version + 1, &info("x"), T + 1).await,
        "expected running at version 2, found running at version 1",
    );
    assert_eq!(record(&ledger, W).await.state, WindowState::Running);
}

pub async fn commit_after_a_newer_claim_is_refused(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn commit_is_refused_unless_running(f: &impl Fresh) {
    for state in [
        WindowState::Open,
        WindowState::Committed,
        WindowState::Dirty,
        WindowState::Failed,
    ] {
        let ledger = ledger_with_window(f).await;
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

pub async fn commit_leaves_the_window_dirty_when_files_arrived_while_running(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn commit_leaves_the_window_dirty_when_a_file_was_replaced_while_running<F: Fresh>(
    f: &F,
) {
    let ledger = ledger_with_window(f).await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let r = ledger
        .record_files(&[file("a", W, W_START, 111, Some("ea2"))], T + 1)
        .await
        .unwrap();
    assert_eq!(r, [again::<F>(Recorded::Replaced)]);
    let state = ledger
        .commit(W, claim.version, &info("x"), T + 2)
        .await
        .unwrap();
    assert_eq!(state, WindowState::Dirty);
}

// ------------------------------------------------------------------------ fail

pub async fn fail_records_the_reason(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn due_waits_for_the_settle_time(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

pub async fn due_lists_open_and_dirty_windows_only(f: &impl Fresh) {
    for state in WindowState::ALL {
        let ledger = ledger_with_window(f).await;
        drive_to(&ledger, state).await;
        let due = ledger.due(T + 100, 600).await.unwrap();
        let expected = matches!(state, WindowState::Open | WindowState::Dirty);
        assert_eq!(due.len(), usize::from(expected), "in state {state}");
    }
}

pub async fn windows_are_listed_in_order(f: &impl Fresh) {
    let ledger = f.fresh().await;
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

pub async fn records_round_trip_through_json(f: &impl Fresh) {
    let ledger = ledger_with_window(f).await;
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

// ----------------------------------------------------------------- concurrency

pub async fn racing_claims_on_one_ledger_have_one_winner(f: &impl Fresh) {
    let ledger: Arc<dyn Ledger> = Arc::new(ledger_with_window(f).await);
    claims_race(Arc::clone(&ledger), ledger, 20, true).await;
}

/// Two handles on one ledger (the same handle twice, or two connections or
/// clients) claim the same window at once, `rounds` times: exactly one claim
/// wins each round, and it commits. With `expected`, each claim also names the
/// version it saw. Returns the winning claims.
pub async fn claims_race(
    first: Arc<dyn Ledger>,
    second: Arc<dyn Ledger>,
    rounds: u64,
    expected: bool,
) -> Vec<Claim> {
    let mut won = Vec::new();
    for round in 0..rounds {
        let now = T + i64::try_from(round).unwrap() * 10;
        let expected_version = expected.then_some(round);
        let tasks: Vec<_> = [Arc::clone(&first), Arc::clone(&second)]
            .into_iter()
            .map(|ledger| {
                tokio::spawn(async move {
                    let opts = ClaimOptions {
                        expected_version,
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
        won.push(winners.remove(0));
    }
    won
}

pub async fn racing_recorders_of_one_key_count_it_once(f: &impl Fresh) {
    let ledger: Arc<dyn Ledger> = Arc::new(f.fresh().await);
    for round in 0..5_u64 {
        let key = format!("k{round}");
        let results = race((0..2).map(|_| {
            let (ledger, key) = (Arc::clone(&ledger), key.clone());
            async move {
                ledger
                    .record_files(&[file(&key, W, W_START, 10, Some("e"))], T)
                    .await
                    .unwrap()
            }
        }))
        .await;
        let mut outcomes: Vec<_> = results.into_iter().flatten().collect();
        outcomes.sort_by_key(|r| *r != Recorded::New);
        assert_eq!(
            outcomes,
            [Recorded::New, Recorded::Duplicate],
            "round {round}"
        );
        let rec = record(ledger.as_ref(), W).await;
        assert_eq!((rec.files, rec.bytes), (round + 1, (round + 1) * 10));
    }
}

pub async fn racing_recorders_of_one_window_are_all_counted(f: &impl Fresh) {
    let ledger: Arc<dyn Ledger> = Arc::new(f.fresh().await);
    let results = race((0..8_u64).map(|i| {
        let ledger = Arc::clone(&ledger);
        async move {
            ledger
                .record_files(&[file(&format!("k{i}"), W, W_START, i + 1, None)], T)
                .await
                .unwrap()
        }
    }))
    .await;
    assert!(
        results.iter().flatten().all(|r| *r == Recorded::New),
        "{results:?}"
    );
    let rec = record(ledger.as_ref(), W).await;
    assert_eq!(
        (rec.state, rec.files, rec.bytes),
        (WindowState::Open, 8, 36)
    );
    assert_eq!(ledger.files(W).await.unwrap().len(), 8);
}

/// A file arriving while its window commits is never lost: either the
/// commit sees it (and leaves the window dirty) or the file sees the commit
/// (and dirties the window), never neither, never both.
pub async fn a_file_racing_a_commit_always_leaves_the_window_dirty(f: &impl Fresh) {
    let ledger: Arc<dyn Ledger> = Arc::new(ledger_with_window(f).await);
    let forced = ClaimOptions {
        force: true,
        ..opts(LEASE)
    };
    for round in 0..20_i64 {
        let now = T + round * 10;
        let claim = ledger.claim(W, &forced, now).await.unwrap();
        let committer = {
            let ledger = Arc::clone(&ledger);
            // Staggered so that rounds see the commit land before, between
            // and after the recorder's reads and writes.
            let delay = std::time::Duration::from_millis(u64::try_from(round % 5).unwrap());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                ledger
                    .commit(W, claim.version, &info("r"), now + 1)
                    .await
                    .unwrap()
            })
        };
        let recorder = {
            let ledger = Arc::clone(&ledger);
            let late = file(&format!("late{round}"), W, W_START, 1, None);
            tokio::spawn(async move { ledger.record_files(&[late], now + 1).await.unwrap() })
        };
        let committed = committer.await.unwrap();
        let recorded = recorder.await.unwrap();
        match (committed, recorded.as_slice()) {
            (WindowState::Dirty, [Recorded::New])
            | (WindowState::Committed, [Recorded::Dirtied]) => {}
            other => panic!("round {round}: commit and record disagree: {other:?}"),
        }
        let rec = record(ledger.as_ref(), W).await;
        assert_eq!(rec.state, WindowState::Dirty, "round {round}");
        assert_eq!(rec.files, 3 + u64::try_from(round).unwrap());
    }
}

pub async fn a_very_long_key_is_kept_whole(f: &impl Fresh) {
    let ledger = f.fresh().await;
    // Longer than a DynamoDB sort key may be, with multi-byte characters.
    let long = format!("AWSLogs/{}", "é/x".repeat(400));
    let longer = format!("{long}z");
    let r = ledger
        .record_files(
            &[
                file(&long, W, W_START, 1, None),
                file(&longer, W, W_START, 2, None),
                file(&long, W, W_START, 1, None),
            ],
            T,
        )
        .await
        .unwrap();
    assert_eq!(r, [Recorded::New, Recorded::New, Recorded::Duplicate]);
    assert_eq!(keys_of(&ledger, W).await, [long, longer]);
}

/// Expands to one `#[tokio::test]` per contract test, each calling
/// `$factory().await` (an `impl Fresh`).
macro_rules! ledger_contract {
    ($factory:path) => {
        $crate::common::contract::ledger_contract!(@each $factory;
            first_file_creates_an_open_window,
            files_are_listed_by_key,
            same_file_again_is_a_duplicate,
            changed_size_or_etag_is_a_replacement,
            a_split_object_has_an_entry_in_each_window,
            repeated_key_within_one_call,
            new_or_replaced_file_dirties_a_committed_window,
            one_listing_of_many_files_across_windows,
            other_states_are_kept_when_files_arrive,
            claim_from_open_returns_the_input_set,
            claim_is_allowed_from_dirty_and_failed,
            attempts_count_claims_since_the_last_commit,
            claim_of_a_running_window_waits_for_the_lease,
            lease_zero_takes_over_any_running_claim,
            claim_of_a_committed_window_needs_force,
            force_does_not_skip_a_live_lease,
            claim_checks_the_expected_version,
            unknown_windows_are_not_found,
            commit_stores_the_outcome,
            commit_requires_the_claimed_version,
            commit_after_a_newer_claim_is_refused,
            commit_is_refused_unless_running,
            commit_leaves_the_window_dirty_when_files_arrived_while_running,
            commit_leaves_the_window_dirty_when_a_file_was_replaced_while_running,
            fail_records_the_reason,
            due_waits_for_the_settle_time,
            due_lists_open_and_dirty_windows_only,
            windows_are_listed_in_order,
            records_round_trip_through_json,
            racing_claims_on_one_ledger_have_one_winner,
            racing_recorders_of_one_key_count_it_once,
            racing_recorders_of_one_window_are_all_counted,
            a_file_racing_a_commit_always_leaves_the_window_dirty,
            a_very_long_key_is_kept_whole,
        );
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::common::contract::$name(&$factory().await).await;
            }
        )*
    };
}
pub(crate) use ledger_contract;
