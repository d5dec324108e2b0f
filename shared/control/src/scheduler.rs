//! The `scheduler` Lambda (every minute): starts one execution for each
//! window that is due — open or dirty, and quiet for the settle time; an
//! hour of the hour tier once its minutes are done as well
//! ([`pipeline::rollup::due`]). The
//! execution name is derived from window and version, so a second start of the
//! same run is refused by Step Functions itself (and counted as done).

use flowlog::Window;
use ledger::{Ledger, WindowRecord};
use serde::Serialize;
use tracing::{info, warn};

use crate::executions::{Executions, Started};
use crate::metrics::{self, Name};

/// What one scheduler run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScheduleSummary {
    /// Windows that were due.
    pub due: usize,
    /// How long the oldest due window has been over, in seconds (0 if none).
    pub lag_secs: i64,
    /// Execution names started.
    pub started: Vec<String>,
    /// Execution names that existed already.
    pub already_running: Vec<String>,
    /// Execution names whose start failed (they are retried next minute).
    pub failed: Vec<String>,
}

/// The execution name of the run that claims `window` at `version + 1`:
/// `20261122T1305Z-v3` for version 2.
pub fn execution_name(window: &Window, version: u64) -> String {
    format!("{}-v{}", window.stamp(), version + 1)
}

/// The state machine input of that run.
pub fn execution_input(window: &Window, version: u64) -> String {
    serde_json::json!({ "window": window.to_string(), "expected_version": version }).to_string()
}

/// Starts an execution for each due window. Errors only if the ledger cannot
/// be read; failed starts are logged and listed in the summary.
pub async fn schedule(
    ledger: &dyn Ledger,
    executions: &dyn Executions,
    settle_secs: i64,
    now: i64,
) -> Result<ScheduleSummary, ledger::LedgerError> {
    let due = pipeline::rollup::due(ledger, now, settle_secs).await?;
    let mut summary = ScheduleSummary {
        due: due.len(),
        lag_secs: due
            .iter()
            .filter_map(parse_window)
            .map(|w| now - w.end())
            .max()
            .unwrap_or(0)
            .max(0),
        ..ScheduleSummary::default()
    };
    metrics::publish(&[
        (Name::WindowLagSeconds, summary.lag_secs as f64),
        (Name::WindowsDue, summary.due as f64),
    ]);
    for record in &due {
        let Some(window) = parse_window(record) else {
            continue;
        };
        let name = execution_name(&window, record.version);
        let input = execution_input(&window, record.version);
        match executions.start(&name, &input).await {
            Ok(Started::Started) => {
                info!(execution = %name, state = %record.state, "started");
                summary.started.push(name);
            }
            Ok(Started::AlreadyExists) => {
                info!(execution = %name, "execution exists already");
                summary.already_running.push(name);
            }
            Err(e) => {
                warn!(execution = %name, error = %e, "start failed");
                summary.failed.push(name);
            }
        }
    }
    Ok(summary)
}

pub(crate) fn parse_window(record: &WindowRecord) -> Option<Window> {
    match record.window.parse::<Window>() {
        Ok(window) => Some(window),
        Err(e) => {
            warn!(window = %record.window, error = %e, "ledger holds a window name that does not parse");
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ledger::{FileEntry, SqliteLedger};

    use super::*;
    use crate::executions::fake::FakeExecutions;

    pub(crate) fn file(window: &str, n: u32) -> FileEntry {
        let w: Window = window.parse().unwrap();
        FileEntry {
            key: format!(
                "AWSLogs/111122223333/vpcflowlogs/eu-west-1/111122223333_vpcflowlogs_eu-west-1_fl-1_{}_{n:04}.log.gz",
                w.stamp()
            ),
            window: w.to_string(),
            window_start: w.start(),
            account: "111122223333".into(),
            size: 100,
            etag: None,
            home: None,
        }
    }

    #[test]
    fn names_and_inputs_follow_window_and_version() {
        let w: Window = "2026-11-22T13:05Z".parse().unwrap();
        assert_eq!(execution_name(&w, 2), "20261122T1305Z-v3");
        let input: serde_json::Value = serde_json::from_str(&execution_input(&w, 2)).unwrap();
        assert_eq!(
            input,
            serde_json::json!({"window": "2026-11-22T13:05Z", "expected_version": 2})
        );
        // The state machine's first step must accept it.
        let request: pipeline::ListBatchRequest = serde_json::from_value(input).unwrap();
        assert_eq!(request.expected_version, Some(2));
        assert!(!request.force);
    }

    #[tokio::test]
    async fn starts_due_windows_once() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let early: Window = "2026-11-22T13:05Z".parse().unwrap();
        let late: Window = "2026-11-22T13:20Z".parse().unwrap();
        ledger
            .record_files(
                &[file("2026-11-22T13:05Z", 1), file("2026-11-22T13:20Z", 2)],
                early.start(),
            )
            .await
            .unwrap();
        let executions = FakeExecutions::default();
        // 13:05 is settled at 13:16; 13:20 is not.
        let now = early.end() + 600;
        assert!(now < late.end() + 600);

        let first = schedule(&ledger, &executions, 600, now).await.unwrap();
        assert_eq!(first.due, 1);
        assert_eq!(first.lag_secs, 600);
        assert_eq!(first.started, vec!["20261122T1305Z-v1".to_owned()]);
        let started = executions.started.lock().unwrap().clone();
        assert_eq!(started.len(), 1);
        assert!(
            started[0].1.contains("\"expected_version\":0"),
            "{}",
            started[0].1
        );

        // The window is still open (the execution has not claimed it yet):
        // the next minute's start is refused by name and counted as done.
        let second = schedule(&ledger, &executions, 600, now + 60).await.unwrap();
        assert_eq!(second.started, Vec::<String>::new());
        assert_eq!(second.already_running, vec!["20261122T1305Z-v1".to_owned()]);
    }

    #[tokio::test]
    async fn an_hour_starts_once_it_has_ended_and_its_minutes_are_done() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let minute: Window = "2026-11-22T13:05Z".parse().unwrap();
        let hour = minute.hour();
        let later: Window = "2026-11-22T13:59Z".parse().unwrap();
        ledger
            .record_files(
                &[
                    pipeline::rollup::minute_entry(minute, "d1", 100),
                    file("2026-11-22T13:59Z", 1),
                ],
                minute.start(),
            )
            .await
            .unwrap();
        let executions = FakeExecutions::default();
        // Before the hour's end (plus settle) it is not due, whatever its
        // first minute says.
        let early = schedule(&ledger, &executions, 600, minute.end() + 600)
            .await
            .unwrap();
        assert_eq!(early.started, Vec::<String>::new());
        // Later its minute 13:59 is due but not done: only the minute starts.
        let now = hour.end() + 600;
        let first = schedule(&ledger, &executions, 600, now).await.unwrap();
        assert_eq!(first.started, vec!["20261122T1359Z-v1".to_owned()]);
        // Once that minute has run, the hour starts.
        let claim = ledger
            .claim(
                &later.to_string(),
                &ledger::ClaimOptions {
                    expected_version: None,
                    lease_secs: 0,
                    force: false,
                },
                now,
            )
            .await
            .unwrap();
        let info = ledger::CommitInfo {
            digest: "d2".into(),
            outputs: vec![],
            counts: serde_json::json!({}),
        };
        ledger
            .commit(&claim.window, claim.version, &info, now)
            .await
            .unwrap();
        let second = schedule(&ledger, &executions, 600, now + 60).await.unwrap();
        assert_eq!(second.started, vec!["20261122T13Z-v1".to_owned()]);
        assert_eq!(second.lag_secs, 660);
        let input = &executions.started.lock().unwrap()[1].1;
        assert!(input.contains(r#""window":"2026-11-22T13Z""#), "{input}");
    }

    #[tokio::test]
    async fn failed_starts_are_reported_not_fatal() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let w: Window = "2026-11-22T13:05Z".parse().unwrap();
        ledger
            .record_files(
                &[file("2026-11-22T13:05Z", 1), file("2026-11-22T13:06Z", 1)],
                w.start(),
            )
            .await
            .unwrap();
        let mut executions = FakeExecutions::default();
        executions.failing.insert("20261122T1305Z-v1".into());
        let summary = schedule(&ledger, &executions, 600, w.end() + 3600)
            .await
            .unwrap();
        assert_eq!(summary.due, 2);
        assert_eq!(summary.failed, vec!["20261122T1305Z-v1".to_owned()]);
        assert_eq!(summary.started, vec!["20261122T1306Z-v1".to_owned()]);
    }
}
