//! The `redrive` Lambda: when an alarm goes off (failed executions), retries
//! the windows whose latest execution failed, a bounded number of times.
//!
//! An execution that failed before it claimed its window (the ledger is still
//! at the version it expected) is redriven: Step Functions re-runs it from the
//! failed state with the same input. One that claimed the window and failed
//! later cannot be redriven usefully (its claim is gone), so the window is
//! started afresh at its current version, under the name the scheduler would
//! use. Committed and running windows, windows out of attempts, and older
//! failures of a window already handled are logged and skipped.

use std::collections::BTreeSet;

use flowlog::Window;
use ledger::{Ledger, WindowState};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::executions::{Executions, FailedExecution, Redriven, SfnError, Started};
use crate::scheduler::{execution_input, execution_name};

/// How far back failed executions are looked at.
pub const LOOKBACK_SECS: i64 = 6 * 3600;
/// At most this many failed executions are handled per invocation.
pub const MAX_EXECUTIONS: usize = 1000;

/// A CloudWatch alarm state change, as EventBridge delivers it
/// (`"source": "aws.cloudwatch"`, `"detail-type": "CloudWatch Alarm State
/// Change"`) or as an alarm's own Lambda action does (`alarmData`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AlarmEvent {
    /// `aws.cloudwatch`.
    #[serde(default)]
    pub source: Option<String>,
    /// `CloudWatch Alarm State Change` (EventBridge only).
    #[serde(default, rename = "detail-type")]
    pub detail_type: Option<String>,
    /// The alarm (EventBridge).
    #[serde(default)]
    pub detail: Option<AlarmDetail>,
    /// The alarm (alarm Lambda action).
    #[serde(default, rename = "alarmData")]
    pub alarm_data: Option<AlarmDetail>,
}

/// Name and new state of the alarm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmDetail {
    /// Alarm name.
    #[serde(default)]
    pub alarm_name: String,
    /// The state it changed to.
    #[serde(default)]
    pub state: AlarmStateValue,
}

/// An alarm state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AlarmStateValue {
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    #[serde(default)]
    pub value: String,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

impl AlarmEvent {
    /// The alarm, whichever way it was delivered.
    pub fn alarm(&self) -> Option<&AlarmDetail> {
        self.detail.as_ref().or(self.alarm_data.as_ref())
    }

    /// Whether this event asks for action: an alarm entering `ALARM`, or an
    /// event naming no alarm at all (a manual or scheduled invocation).
    pub fn is_alarm(&self) -> bool {
        self.alarm().is_none_or(|a| a.state.value == "ALARM")
    }
}

/// What one redrive run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RedriveSummary {
    /// Failed executions looked at.
    pub failed_executions: usize,
    /// Executions redriven (ARNs).
    pub redriven: Vec<String>,
    /// Executions started afresh (names).
    pub restarted: Vec<String>,
    /// Executions left alone, with the reason.
    pub skipped: Vec<Skipped>,
}

/// A failed execution left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Execution name.
    pub execution: String,
    /// Why.
    pub reason: String,
}

/// The `window` and `expected_version` a failed execution ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    window: Window,
    expected_version: Option<u64>,
}

/// Window and expected version from a scheduler-made name (`{stamp}-v{N}`
/// runs with expected version N - 1).
fn target_from_name(name: &str) -> Option<Target> {
    let (stamp, version) = name.split_once("-v")?;
    let version: u64 = version.parse().ok()?;
    Some(Target {
        window: stamp.parse().ok()?,
        expected_version: version.checked_sub(1),
    })
}

fn target_from_input(input: &str) -> Option<Target> {
    let request: pipeline::ListBatchRequest = serde_json::from_str(input).ok()?;
    Some(Target {
        window: request.window,
        expected_version: request.expected_version,
    })
}

/// The Lambda's entry point: acts on an alarm entering `ALARM` (or an event
/// naming no alarm), ignores other state changes.
pub async fn handle(
    event: &AlarmEvent,
    ledger: &dyn Ledger,
    executions: &dyn Executions,
    max_attempts: u32,
    now: i64,
) -> Result<RedriveSummary, SfnError> {
    if !event.is_alarm() {
        info!(alarm = ?event.alarm(), "not an ALARM state: nothing to do");
        return Ok(RedriveSummary::default());
    }
    redrive_failed(ledger, executions, max_attempts, now).await
}

/// Retries the windows of recently failed executions; see the module docs.
pub async fn redrive_failed(
    ledger: &dyn Ledger,
    executions: &dyn Executions,
    max_attempts: u32,
    now: i64,
) -> Result<RedriveSummary, SfnError> {
    let failed = executions
        .list_failed(now - LOOKBACK_SECS, MAX_EXECUTIONS)
        .await?;
    let mut summary = RedriveSummary {
        failed_executions: failed.len(),
        ..RedriveSummary::default()
    };
    let mut seen = BTreeSet::new();
    for execution in &failed {
        let outcome = retry_one(ledger, executions, execution, max_attempts, &mut seen).await;
        match outcome {
            Outcome::Redriven => summary.redriven.push(execution.arn.clone()),
            Outcome::Restarted(name) => summary.restarted.push(name),
            Outcome::Skipped(reason) => {
                info!(execution = %execution.name, %reason, "skipped");
                summary.skipped.push(Skipped {
                    execution: execution.name.clone(),
                    reason,
                });
            }
        }
    }
    Ok(summary)
}

enum Outcome {
    Redriven,
    Restarted(String),
    Skipped(String),
}

async fn retry_one(
    ledger: &dyn Ledger,
    executions: &dyn Executions,
    execution: &FailedExecution,
    max_attempts: u32,
    seen: &mut BTreeSet<Window>,
) -> Outcome {
    let target = match target_from_name(&execution.name) {
        Some(target) => Some(target),
        None => match executions.input(&execution.arn).await {
            Ok(input) => input.as_deref().and_then(target_from_input),
            Err(e) => return Outcome::Skipped(e.to_string()),
        },
    };
    let Some(target) = target else {
        return Outcome::Skipped("no window in name or input".into());
    };
    // Newest first: an older failure of a window handled above is stale.
    if !seen.insert(target.window) {
        return Outcome::Skipped("a newer execution of this window failed".into());
    }
    let record = match ledger.window(&target.window.to_string()).await {
        Ok(Some(record)) => record,
        Ok(None) => return Outcome::Skipped("window not in the ledger".into()),
        Err(e) => return Outcome::Skipped(format!("reading the ledger: {e}")),
    };
    match record.state {
        WindowState::Committed => return Outcome::Skipped("window is committed".into()),
        WindowState::Running => return Outcome::Skipped("window is running".into()),
        _ => {}
    }
    if record.attempts >= max_attempts || execution.redrive_count >= max_attempts {
        warn!(
            window = %target.window,
            attempts = record.attempts,
            redrives = execution.redrive_count,
            "window out of attempts: needs a manual re-run"
        );
        return Outcome::Skipped(format!(
            "out of attempts ({} runs, {} redrives, max {max_attempts})",
            record.attempts, execution.redrive_count
        ));
    }
    if target.expected_version == Some(record.version) {
        return match executions.redrive(&execution.arn).await {
            Ok(Redriven::Redriven) => {
                info!(execution = %execution.name, "redriven");
                Outcome::Redriven
            }
            Ok(Redriven::NotRedrivable(why)) => Outcome::Skipped(format!("not redrivable: {why}")),
            Err(e) => Outcome::Skipped(e.to_string()),
        };
    }
    let name = execution_name(&target.window, record.version);
    match executions
        .start(&name, &execution_input(&target.window, record.version))
        .await
    {
        Ok(Started::Started) => {
            info!(execution = %name, failed = %execution.name, "restarted");
            Outcome::Restarted(name)
        }
        Ok(Started::AlreadyExists) => Outcome::Skipped(format!("{name} exists already")),
        Err(e) => Outcome::Skipped(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use ledger::{ClaimOptions, SqliteLedger};

    use super::*;
    use crate::executions::fake::FakeExecutions;
    use crate::scheduler::tests::file;

    const NOW: i64 = 1_795_360_000;

    /// The alarm event sample the ASL tests share, in `tests/fixtures/`.
    fn alarm_fixture() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/events/cloudwatch-alarm.json"
        );
        std::fs::read_to_string(path).unwrap()
    }

    fn failed(name: &str) -> FailedExecution {
        FailedExecution {
            arn: format!("arn:aws:states:eu-west-1:1:execution:window:{name}"),
            name: name.to_owned(),
            stopped_at: Some(NOW - 60),
            redrive_count: 0,
        }
    }

    fn opts() -> ClaimOptions {
        ClaimOptions {
            expected_version: None,
            lease_secs: 900,
            force: false,
        }
    }

    #[test]
    fn alarm_events_decode_in_both_shapes() {
        let text = alarm_fixture();
        let event: AlarmEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(event.source.as_deref(), Some("aws.cloudwatch"));
        assert_eq!(
            event.detail_type.as_deref(),
            Some("CloudWatch Alarm State Change")
        );
        assert!(event.is_alarm());
        assert!(!event.alarm().unwrap().alarm_name.is_empty());

        let ok: AlarmEvent = serde_json::from_value(serde_json::json!({
            "source": "aws.cloudwatch",
            "alarmData": { "alarmName": "x", "state": { "value": "OK" } }
        }))
        .unwrap();
        assert!(!ok.is_alarm());
        assert!(AlarmEvent::default().is_alarm());
    }

    #[test]
    fn targets_come_from_names_or_inputs() {
        let t = target_from_name("20261122T1305Z-v3").unwrap();
        assert_eq!(t.window.to_string(), "2026-11-22T13:05Z");
        assert_eq!(t.expected_version, Some(2));
        assert_eq!(target_from_name("manual-rerun"), None);
        let hour = target_from_name("20261122T13Z-v2").unwrap();
        assert_eq!(hour.window.to_string(), "2026-11-22T13Z");
        assert_eq!(hour.expected_version, Some(1));
        let t = target_from_input(r#"{"window": "2026-11-22T13:05Z"}"#).unwrap();
        assert_eq!(t.expected_version, None);
    }

    #[tokio::test]
    async fn redrives_unclaimed_restarts_claimed_and_skips_the_rest() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let windows = [
            "2026-11-22T13:01Z", // failed before claiming: redrive
            "2026-11-22T13:02Z", // claimed and failed: restart at v2
            "2026-11-22T13:03Z", // committed since: skip
            "2026-11-22T13:04Z", // out of attempts: skip
        ];
        let files: Vec<_> = windows.iter().map(|w| file(w, 1)).collect();
        ledger.record_files(&files, NOW - 3000).await.unwrap();
        let claimed = ledger.claim(windows[1], &opts(), NOW - 2000).await.unwrap();
        ledger
            .fail(windows[1], claimed.version, "boom", NOW - 1900)
            .await
            .unwrap();
        let claimed = ledger.claim(windows[2], &opts(), NOW - 2000).await.unwrap();
        let info = ledger::CommitInfo {
            digest: "d".into(),
            outputs: vec![],
            counts: serde_json::json!({}),
        };
        ledger
            .commit(windows[2], claimed.version, &info, NOW - 1900)
            .await
            .unwrap();
        for _ in 0..3 {
            let claimed = ledger.claim(windows[3], &opts(), NOW - 2000).await.unwrap();
            ledger
                .fail(windows[3], claimed.version, "boom", NOW - 1900)
                .await
                .unwrap();
        }

        let executions = FakeExecutions {
            failed: vec![
                failed("20261122T1301Z-v1"),
                failed("20261122T1302Z-v1"),
                failed("20261122T1303Z-v1"),
                failed("20261122T1304Z-v3"),
                // Older failure of a window already handled above.
                failed("20261122T1301Z-v0"),
            ],
            ..FakeExecutions::default()
        };
        let summary = redrive_failed(&ledger, &executions, 3, NOW).await.unwrap();
        assert_eq!(summary.failed_executions, 5);
        assert_eq!(summary.redriven, vec![executions.failed[0].arn.clone()]);
        assert_eq!(summary.restarted, vec!["20261122T1302Z-v2".to_owned()]);
        let started = executions.started.lock().unwrap().clone();
        let input: serde_json::Value = serde_json::from_str(&started[0].1).unwrap();
        assert_eq!(
            input,
            serde_json::json!({"window": "2026-11-22T13:02Z", "expected_version": 1})
        );
        let skipped: Vec<&str> = summary
            .skipped
            .iter()
            .map(|s| s.execution.as_str())
            .collect();
        assert_eq!(
            skipped,
            [
                "20261122T1303Z-v1",
                "20261122T1304Z-v3",
                "20261122T1301Z-v0"
            ]
        );
        assert!(summary.skipped[1].reason.contains("out of attempts"));
    }

    #[tokio::test]
    async fn unredrivable_and_exhausted_redrives_are_skipped() {
        let ledger = SqliteLedger::in_memory().unwrap();
        ledger
            .record_files(
                &[file("2026-11-22T13:01Z", 1), file("2026-11-22T13:02Z", 1)],
                NOW - 3000,
            )
            .await
            .unwrap();
        let mut exhausted = failed("20261122T1302Z-v1");
        exhausted.redrive_count = 3;
        let mut executions = FakeExecutions {
            failed: vec![failed("20261122T1301Z-v1"), exhausted],
            ..FakeExecutions::default()
        };
        executions
            .not_redrivable
            .insert(executions.failed[0].arn.clone());
        let summary = redrive_failed(&ledger, &executions, 3, NOW).await.unwrap();
        assert!(summary.redriven.is_empty());
        assert!(summary.restarted.is_empty());
        assert_eq!(summary.skipped.len(), 2);
        assert!(summary.skipped[0].reason.starts_with("not redrivable"));
        assert!(
            summary.skipped[1].reason.contains("3 redrives"),
            "{}",
            summary.skipped[1].reason
        );
    }

    #[tokio::test]
    async fn only_alarm_states_act() {
        let ledger = SqliteLedger::in_memory().unwrap();
        ledger
            .record_files(&[file("2026-11-22T13:01Z", 1)], NOW - 3000)
            .await
            .unwrap();
        let executions = FakeExecutions {
            failed: vec![failed("20261122T1301Z-v1")],
            ..FakeExecutions::default()
        };
        let ok: AlarmEvent = serde_json::from_value(serde_json::json!({
            "detail-type": "CloudWatch Alarm State Change",
            "detail": { "alarmName": "x", "state": { "value": "OK" } }
        }))
        .unwrap();
        let summary = handle(&ok, &ledger, &executions, 3, NOW).await.unwrap();
        assert_eq!(summary, RedriveSummary::default());
        assert!(executions.redriven.lock().unwrap().is_empty());

        let text = alarm_fixture();
        let alarm: AlarmEvent = serde_json::from_str(&text).unwrap();
        let summary = handle(&alarm, &ledger, &executions, 3, NOW).await.unwrap();
        assert_eq!(summary.redriven.len(), 1);
    }

    #[tokio::test]
    async fn manual_executions_are_placed_by_their_input() {
        let ledger = SqliteLedger::in_memory().unwrap();
        ledger
            .record_files(&[file("2026-11-22T13:01Z", 1)], NOW - 3000)
            .await
            .unwrap();
        let manual = failed("manual-rerun");
        let executions = FakeExecutions {
            inputs: vec![(
                manual.arn.clone(),
                r#"{"window": "2026-11-22T13:01Z"}"#.to_owned(),
            )],
            failed: vec![manual],
            ..FakeExecutions::default()
        };
        let summary = redrive_failed(&ledger, &executions, 3, NOW).await.unwrap();
        // No expected version: restart at the window's current one.
        assert_eq!(summary.restarted, vec!["20261122T1301Z-v1".to_owned()]);
    }
}
