//! Runs an operator starts by hand against a deployed pipeline (the CLI's
//! `flowmerge rerun` and `flowmerge backfill`).
//!
//! A re-run forces a new claim of a committed window under a name of its own,
//! so it never collides with the scheduler's. A backfill records an existing
//! archive's files in the ledger one window at a time and starts each window
//! under the scheduler's name, at a bounded pace: the scheduler only ever
//! sees windows the backfill has already started, so it cannot start the
//! whole archive at once either.

use std::collections::BTreeMap;
use std::time::Duration;

use flowlog::Window;
use ledger::{FileEntry, Ledger, LedgerError, WindowState};
use serde::Serialize;
use tracing::{info, warn};

use crate::executions::{Executions, SfnError, Started};
use crate::scheduler::{execution_input, execution_name};

/// The execution name of a manual re-run of `window` started at `now`:
/// `20261122T1305Z-rerun-1795871234`.
pub fn rerun_name(window: &Window, now: i64) -> String {
    format!("{}-rerun-{now}", window.stamp())
}

/// The state machine input of a manual re-run: claim even a committed window.
pub fn rerun_input(window: &Window) -> String {
    serde_json::json!({ "window": window.to_string(), "force": true }).to_string()
}

/// Starts a manual re-run of each window; returns the execution names.
pub async fn rerun(
    executions: &dyn Executions,
    windows: &[Window],
    now: i64,
) -> Result<Vec<String>, SfnError> {
    let mut names = Vec::with_capacity(windows.len());
    for window in windows {
        let name = rerun_name(window, now);
        if executions.start(&name, &rerun_input(window)).await? == Started::Started {
            info!(execution = %name, "re-run started");
        }
        names.push(name);
    }
    Ok(names)
}

/// Windows from `from` up to, not including, `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowRange {
    /// First window.
    pub from: Window,
    /// First window after the range.
    pub to: Window,
}

impl WindowRange {
    /// Whether the window starting at `window_start` lies in the range.
    pub fn contains(&self, window_start: i64) -> bool {
        (self.from.start()..self.to.start()).contains(&window_start)
    }
}

/// What a backfill did, window by window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackfillSummary {
    /// Files found in the range.
    pub files: usize,
    /// Files the ledger did not know yet (or knew with another size or etag).
    pub recorded: usize,
    /// Windows in the range that have files.
    pub windows: usize,
    /// Executions started.
    pub started: Vec<String>,
    /// Executions that existed already (the scheduler was first).
    pub already_started: Vec<String>,
    /// Windows committed for exactly these files: nothing to do.
    pub committed: Vec<String>,
    /// Windows a run holds right now.
    pub running: Vec<String>,
    /// Executions whose start failed, with the reason; the scheduler picks
    /// their windows up once they are due.
    pub failed: Vec<(String, String)>,
}

/// Records `files` (those in `range`) in the ledger window by window, oldest
/// first, and starts each window that needs a run, one every `pace`.
pub async fn backfill(
    ledger: &dyn Ledger,
    executions: &dyn Executions,
    files: Vec<FileEntry>,
    range: WindowRange,
    pace: Duration,
    now: impl Fn() -> i64,
) -> Result<BackfillSummary, LedgerError> {
    let mut by_window: BTreeMap<i64, Vec<FileEntry>> = BTreeMap::new();
    for file in files.into_iter().filter(|f| range.contains(f.window_start)) {
        by_window.entry(file.window_start).or_default().push(file);
    }
    let mut summary = BackfillSummary {
        files: by_window.values().map(Vec::len).sum(),
        windows: by_window.len(),
        ..BackfillSummary::default()
    };
    let mut ticks = tokio::time::interval(pace.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for (start, files) in by_window {
        let window = Window::containing(start);
        let recorded = ledger.record_files(&files, now()).await?;
        summary.recorded += recorded
            .iter()
            .filter(|r| **r != ledger::Recorded::Duplicate)
            .count();
        let Some(record) = ledger.window(&window.to_string()).await? else {
            continue;
        };
        match record.state {
            WindowState::Committed => {
                summary.committed.push(record.window);
                continue;
            }
            WindowState::Running => {
                summary.running.push(record.window);
                continue;
            }
            WindowState::Open | WindowState::Dirty | WindowState::Failed => {}
        }
        ticks.tick().await;
        let name = execution_name(&window, record.version);
        match executions
            .start(&name, &execution_input(&window, record.version))
            .await
        {
            Ok(Started::Started) => {
                info!(execution = %name, files = files.len(), "started");
                summary.started.push(name);
            }
            Ok(Started::AlreadyExists) => summary.already_started.push(name),
            Err(e) => {
                warn!(execution = %name, error = %e, "start failed");
                summary.failed.push((name, e.to_string()));
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use ledger::{ClaimOptions, SqliteLedger};

    use super::*;
    use crate::executions::fake::FakeExecutions;
    use crate::scheduler::tests::file;

    fn window(name: &str) -> Window {
        name.parse().unwrap()
    }

    #[tokio::test]
    async fn reruns_force_a_claim_under_their_own_name() {
        let executions = FakeExecutions::default();
        let names = rerun(&executions, &[window("2026-11-22T13:05Z")], 1_795_871_234)
            .await
            .unwrap();
        assert_eq!(names, vec!["20261122T1305Z-rerun-1795871234".to_owned()]);
        let started = executions.started.lock().unwrap().clone();
        let input: pipeline::ListBatchRequest = serde_json::from_str(&started[0].1).unwrap();
        assert!(input.force);
        assert_eq!(input.expected_version, None);
        assert_eq!(input.window, window("2026-11-22T13:05Z"));
    }

    #[tokio::test(start_paused = true)]
    async fn backfill_records_and_starts_windows_in_range_at_a_pace() {
        let ledger = SqliteLedger::in_memory().unwrap();
        // 13:04 is committed for its one file; 13:05 is failed; 13:06 is new;
        // 13:07 lies outside the range.
        let committed = file("2026-11-22T13:04Z", 1);
        ledger
            .record_files(std::slice::from_ref(&committed), 0)
            .await
            .unwrap();
        let opts = ClaimOptions {
            expected_version: None,
            lease_secs: 900,
            force: false,
        };
        let claim = ledger.claim(&committed.window, &opts, 10).await.unwrap();
        let info = ledger::CommitInfo {
            digest: "d".into(),
            outputs: vec![],
            counts: serde_json::Value::Null,
        };
        ledger
            .commit(&committed.window, claim.version, &info, 20)
            .await
            .unwrap();
        let failed = file("2026-11-22T13:05Z", 1);
        ledger
            .record_files(std::slice::from_ref(&failed), 0)
            .await
            .unwrap();
        let claim = ledger.claim(&failed.window, &opts, 10).await.unwrap();
        ledger
            .fail(&failed.window, claim.version, "boom", 20)
            .await
            .unwrap();

        let files = vec![
            committed,
            failed,
            file("2026-11-22T13:05Z", 2),
            file("2026-11-22T13:06Z", 1),
            file("2026-11-22T13:07Z", 1),
        ];
        let executions = FakeExecutions::default();
        let range = WindowRange {
            from: window("2026-11-22T13:00Z"),
            to: window("2026-11-22T13:07Z"),
        };
        let begun = tokio::time::Instant::now();
        let summary = backfill(
            &ledger,
            &executions,
            files,
            range,
            Duration::from_secs(2),
            || 100,
        )
        .await
        .unwrap();

        assert_eq!(summary.files, 4);
        assert_eq!(summary.recorded, 2);
        assert_eq!(summary.windows, 3);
        assert_eq!(summary.committed, vec!["2026-11-22T13:04Z".to_owned()]);
        assert_eq!(
            summary.started,
            vec![
                "20261122T1305Z-v2".to_owned(),
                "20261122T1306Z-v1".to_owned()
            ]
        );
        // The first start goes at once, the second one pace later.
        assert_eq!(begun.elapsed(), Duration::from_secs(2));
        assert!(ledger.window("2026-11-22T13:07Z").await.unwrap().is_none());
        // The failed window restarts at the version it failed on.
        let started = executions.started.lock().unwrap().clone();
        assert!(
            started[0].1.contains("\"expected_version\":1"),
            "{started:?}"
        );
    }
}
