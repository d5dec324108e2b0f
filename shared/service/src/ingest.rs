//! The `ingest` Lambda: records each file an SQS batch of S3 events announces
//! in the ledger under its window. Failures are reported per message (SQS
//! batch item failures), so one bad message neither blocks nor loses the
//! others; a message that keeps failing reaches the DLQ through the queue's
//! redrive policy.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use ledger::Ledger;
use tracing::{info, warn};

use crate::events::{Decoded, decode_body};

/// Handles one SQS batch; `now` is the current unix time.
pub async fn handle(
    event: &SqsEvent,
    ledger: &dyn Ledger,
    raw_prefix: &str,
    now: i64,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let id = message.message_id.as_deref().unwrap_or_default();
        if let Err(reason) = handle_message(message, ledger, raw_prefix, now).await {
            warn!(message_id = id, %reason, "message failed");
            response.add_failure(id);
        }
    }
    response
}

async fn handle_message(
    message: &SqsMessage,
    ledger: &dyn Ledger,
    raw_prefix: &str,
    now: i64,
) -> Result<(), String> {
    let id = message.message_id.as_deref().unwrap_or_default();
    let body = message.body.as_deref().ok_or("message has no body")?;
    let files = match decode_body(body, raw_prefix).map_err(|e| e.to_string())? {
        Decoded::TestEvent => {
            info!(message_id = id, "ignoring s3:TestEvent");
            return Ok(());
        }
        Decoded::Files(files) => files,
    };
    if files.is_empty() {
        info!(message_id = id, "no flow log files in message");
        return Ok(());
    }
    let recorded = ledger
        .record_files(&files, now)
        .await
        .map_err(|e| format!("recording {} files: {e}", files.len()))?;
    for (file, outcome) in files.iter().zip(recorded) {
        info!(message_id = id, key = %file.key, window = %file.window, ?outcome, "recorded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use ledger::{
        Claim, ClaimOptions, CommitInfo, FileEntry, LedgerError, Recorded, SqliteLedger,
        WindowRecord, WindowState,
    };

    use super::*;

    fn event(name: &str) -> SqsEvent {
        let text = std::fs::read_to_string(crate::fixtures::path(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn failures(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn bad_messages_fail_alone() {
        let ledger = SqliteLedger::in_memory().unwrap();
        let response = handle(
            &event("events/sqs-mixed-bad.json"),
            &ledger,
            "",
            1_795_352_800,
        )
        .await;
        assert_eq!(
            failures(&response),
            [
                "22222222-2222-4222-8222-222222222222",
                "33333333-3333-4333-8333-333333333333"
            ]
        );
        let windows = ledger.windows().await.unwrap();
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].window, "2026-11-22T13:06Z");
        assert_eq!(windows[0].files, 1);
    }

    #[tokio::test]
    async fn records_files_and_ignores_test_events() {
        let ledger = SqliteLedger::in_memory().unwrap();
        for name in [
            "events/sqs-s3-put.json",
            "events/sqs-sns-s3.json",
            "events/sqs-s3-testevent.json",
            "events/sqs-s3-urlencoded.json",
        ] {
            let response = handle(&event(name), &ledger, "", 1_795_352_800).await;
            assert!(response.batch_item_failures.is_empty(), "{name}");
        }
        let windows = ledger.windows().await.unwrap();
        let names: Vec<_> = windows
            .iter()
            .map(|w| (w.window.as_str(), w.files))
            .collect();
        // 13:05: the Put (again via SNS: a duplicate) and the Hive key; 13:06: the upload.
        assert_eq!(names, [("2026-11-22T13:05Z", 2), ("2026-11-22T13:06Z", 1)]);
        assert!(windows.iter().all(|w| w.state == WindowState::Open));
    }

    /// A ledger that is down.
    #[derive(Debug)]
    struct Down;

    #[async_trait]
    impl Ledger for Down {
        async fn record_files(
            &self,
            _: &[FileEntry],
            _: i64,
        ) -> Result<Vec<Recorded>, LedgerError> {
            Err(LedgerError::backend("record files", "throttled"))
        }
        async fn window(&self, _: &str) -> Result<Option<WindowRecord>, LedgerError> {
            unimplemented!()
        }
        async fn windows(&self) -> Result<Vec<WindowRecord>, LedgerError> {
            unimplemented!()
        }
        async fn due(&self, _: i64, _: i64) -> Result<Vec<WindowRecord>, LedgerError> {
            unimplemented!()
        }
        async fn files(&self, _: &str) -> Result<Vec<FileEntry>, LedgerError> {
            unimplemented!()
        }
        async fn claim(&self, _: &str, _: &ClaimOptions, _: i64) -> Result<Claim, LedgerError> {
            unimplemented!()
        }
        async fn commit(
            &self,
            _: &str,
            _: u64,
            _: &CommitInfo,
            _: i64,
        ) -> Result<WindowState, LedgerError> {
            unimplemented!()
        }
        async fn fail(&self, _: &str, _: u64, _: &str, _: i64) -> Result<(), LedgerError> {
            unimplemented!()
        }
    }

    #[tokio::test]
    async fn ledger_failures_fail_only_messages_with_files() {
        let test_event = handle(&event("events/sqs-s3-testevent.json"), &Down, "", 0).await;
        assert!(test_event.batch_item_failures.is_empty());
        let put = handle(&event("events/sqs-s3-put.json"), &Down, "", 0).await;
        assert_eq!(failures(&put), ["5f1c7b2e-1d2a-4c1b-9a57-6a2f0e9d3c01"]);
    }
}
