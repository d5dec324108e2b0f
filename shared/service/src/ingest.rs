//! The `ingest` Lambda: records each file an SQS batch of S3 events announces
//! in the ledger under its window, with one ledger call per window the batch
//! touches (on DynamoDB, one transaction: the cost grows with windows, not
//! files). Failures are reported per message (SQS batch item failures): a
//! message that cannot be decoded, or one with a file in a window whose
//! recording failed, fails alone, and a message that keeps failing reaches
//! the DLQ through the queue's redrive policy.
//!
//! With `WINDOW_FROM=start`, ingest reads each Firehose object it is told of
//! and records it under every window its records start in
//! ([`pipeline::split`]); an object it cannot read yet fails its message,
//! which SQS delivers again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use flowlog::Formats;
use ledger::{FileEntry, Ledger};
use pipeline::split::split_by_start;
use store::BlobStore;
use tracing::{info, warn};

use crate::events::{Decoded, decode_body};

/// Where Firehose objects are read to split them by their records' `start`.
#[derive(Debug, Clone)]
pub struct StartSplit {
    /// The raw store, addressed as ledger keys are (relative to `RAW_PREFIX`).
    pub raw: Arc<dyn BlobStore>,
    /// Formats of headerless records.
    pub formats: Formats,
}

/// What the ingest Lambda keeps from cold start.
#[derive(Debug)]
pub struct Ingest {
    /// The ledger files are recorded in.
    pub ledger: Arc<dyn Ledger>,
    /// `RAW_PREFIX`, stripped from keys.
    pub raw_prefix: String,
    /// Where Firehose objects are read with `WINDOW_FROM=start`.
    pub split: Option<StartSplit>,
}

impl Ingest {
    /// From the settings and the shared AWS configuration.
    pub fn build(
        sdk: &aws_config::SdkConfig,
        config: crate::IngestConfig,
    ) -> Result<Self, crate::ConfigError> {
        Ok(Ingest {
            ledger: crate::build_ledger(sdk, &config.table_name),
            split: crate::build_start_split(sdk, &config),
            raw_prefix: config.raw_prefix,
        })
    }

    /// One invocation: the batch's failures are in the response, never an
    /// error of the invocation.
    pub async fn invoke(
        &self,
        event: SqsEvent,
    ) -> Result<SqsBatchResponse, std::convert::Infallible> {
        let (ledger, split) = (self.ledger.as_ref(), self.split.as_ref());
        Ok(handle(&event, ledger, &self.raw_prefix, split, pipeline::now()).await)
    }
}

/// Handles one SQS batch; `now` is the current unix time.
pub async fn handle(
    event: &SqsEvent,
    ledger: &dyn Ledger,
    raw_prefix: &str,
    split: Option<&StartSplit>,
    now: i64,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    // Each window's files, and for each file the message it came in.
    let mut windows: BTreeMap<String, (Vec<FileEntry>, Vec<&str>)> = BTreeMap::new();
    for message in &event.records {
        let id = message.message_id.as_deref().unwrap_or_default();
        match files_of(message, raw_prefix, split).await {
            Ok(files) => {
                for file in files {
                    let (entries, ids) = windows.entry(file.window.clone()).or_default();
                    entries.push(file);
                    ids.push(id);
                }
            }
            Err(reason) => {
                warn!(message_id = id, %reason, "message failed");
                response.add_failure(id);
            }
        }
    }
    let mut failed = BTreeSet::new();
    for (window, (files, ids)) in &windows {
        match ledger.record_files(files, now).await {
            Ok(recorded) => {
                for ((file, outcome), id) in files.iter().zip(recorded).zip(ids) {
                    info!(message_id = id, key = %file.key, window, ?outcome, "recorded");
                }
            }
            Err(error) => {
                warn!(window, files = files.len(), %error, "recording failed");
                failed.extend(ids.iter().copied());
            }
        }
    }
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// The ledger entries of one message's files (none for a test event).
async fn files_of(
    message: &SqsMessage,
    raw_prefix: &str,
    split: Option<&StartSplit>,
) -> Result<Vec<FileEntry>, String> {
    let id = message.message_id.as_deref().unwrap_or_default();
    let body = message.body.as_deref().ok_or("message has no body")?;
    let files = match decode_body(body, raw_prefix).map_err(|e| e.to_string())? {
        Decoded::TestEvent => {
            info!(message_id = id, "ignoring s3:TestEvent");
            return Ok(Vec::new());
        }
        Decoded::Files(files) => files,
    };
    if files.is_empty() {
        info!(message_id = id, "no flow log files in message");
        return Ok(files);
    }
    match split {
        Some(split) => split_by_start(split.raw.as_ref(), files, &split.formats)
            .await
            .map_err(|e| format!("reading Firehose objects for their windows: {e}")),
        None => Ok(files),
    }
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
            None,
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
            let response = handle(&event(name), &ledger, "", None, 1_795_352_800).await;
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

    /// A ledger that is down for one window (or for all), and records the
    /// files of others.
    #[derive(Debug)]
    struct Down {
        window: Option<&'static str>,
        rest: SqliteLedger,
    }

    fn down(window: Option<&'static str>) -> Down {
        Down {
            window,
            rest: SqliteLedger::in_memory().unwrap(),
        }
    }

    #[async_trait]
    impl Ledger for Down {
        async fn record_files(
            &self,
            files: &[FileEntry],
            now: i64,
        ) -> Result<Vec<Recorded>, LedgerError> {
            if files
                .iter()
                .any(|f| self.window.is_none_or(|w| f.window == w))
            {
                return Err(LedgerError::backend("record files", "throttled"));
            }
            self.rest.record_files(files, now).await
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

    /// A Firehose object delivered at 13:06 holding records that started at
    /// 13:04:10 and 13:06:00.
    const FIREHOSE_KEY: &str =
        "firehose/s/2026/11/22/13/s-1-2026-11-22-13-06-41-0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8b.gz";

    fn firehose_event(key: &str) -> SqsEvent {
        let body = serde_json::json!({"Records": [{"eventName": "ObjectCreated:Put",
            "s3": {"object": {"key": key, "size": 200, "eTag": "e1"}}}]});
        serde_json::from_value(serde_json::json!({"Records": [{
            "messageId": "m1", "body": body.to_string()}]}))
        .unwrap()
    }

    #[tokio::test]
    async fn firehose_objects_are_recorded_under_the_windows_their_records_start_in() {
        let dir = tempfile::tempdir().unwrap();
        let raw = Arc::new(store::LocalStore::new(dir.path()));
        let records = concat!(
            r#"{"message":"2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 1795352650 1795352659 ACCEPT OK"}"#,
            r#"{"message":"2 1 eni-1 10.0.0.1 10.0.0.2 443 1025 6 1 40 1795352760 1795352769 ACCEPT OK"}"#,
        );
        raw.put(FIREHOSE_KEY, bytes::Bytes::from_static(records.as_bytes()))
            .await
            .unwrap();
        let split = StartSplit {
            raw,
            formats: Formats::default(),
        };
        let windows = |ledger: SqliteLedger| async move {
            let windows = ledger.windows().await.unwrap();
            let mut placed = Vec::new();
            for w in windows {
                for file in ledger.files(&w.window).await.unwrap() {
                    placed.push((w.window.clone(), file.home));
                }
            }
            placed
        };
        let home = "2026-11-22T13:06Z".to_owned();

        let ledger = SqliteLedger::in_memory().unwrap();
        let event = firehose_event(FIREHOSE_KEY);
        let response = handle(&event, &ledger, "", Some(&split), 1_795_352_800).await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(
            windows(ledger).await,
            [
                ("2026-11-22T13:04Z".to_owned(), Some(home.clone())),
                (home.clone(), Some(home.clone()))
            ]
        );

        // Without the split, the delivery minute alone.
        let ledger = SqliteLedger::in_memory().unwrap();
        handle(&event, &ledger, "", None, 1_795_352_800).await;
        assert_eq!(windows(ledger).await, [(home.clone(), None)]);

        // An object already gone stays whole at its home, whose merge reports it.
        let ledger = SqliteLedger::in_memory().unwrap();
        let gone = FIREHOSE_KEY.replace("0f5e1c3a", "00000000");
        handle(
            &firehose_event(&gone),
            &ledger,
            "",
            Some(&split),
            1_795_352_800,
        )
        .await;
        assert_eq!(windows(ledger).await, [(home.clone(), None)]);
    }

    #[tokio::test]
    async fn ledger_failures_fail_only_messages_with_files() {
        let test_event = handle(
            &event("events/sqs-s3-testevent.json"),
            &down(None),
            "",
            None,
            0,
        )
        .await;
        assert!(test_event.batch_item_failures.is_empty());
        let put = handle(&event("events/sqs-s3-put.json"), &down(None), "", None, 0).await;
        assert_eq!(failures(&put), ["5f1c7b2e-1d2a-4c1b-9a57-6a2f0e9d3c01"]);
    }

    fn key(minute: &str, n: u32) -> String {
        format!(
            "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/22/\
             111122223333_vpcflowlogs_eu-west-1_fl-1_20261122T13{minute}Z_{n:04x}.log.gz"
        )
    }

    /// An SQS batch whose messages announce these keys, one message each.
    fn batch(messages: &[&[String]]) -> SqsEvent {
        let records: Vec<_> = messages
            .iter()
            .enumerate()
            .map(|(i, keys)| {
                let records: Vec<_> = keys
                    .iter()
                    .map(|key| {
                        serde_json::json!({"eventName": "ObjectCreated:Put",
                        "s3": {"object": {"key": key, "size": 100, "eTag": "e"}}})
                    })
                    .collect();
                let body = serde_json::json!({ "Records": records }).to_string();
                serde_json::json!({"messageId": format!("m{i}"), "body": body})
            })
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn a_window_that_fails_fails_only_the_messages_with_its_files() {
        let ledger = down(Some("2026-11-22T13:06Z"));
        let event = batch(&[
            &[key("05", 1)],
            &[key("06", 2)],
            &[key("05", 3), key("06", 4)],
            &[key("05", 5)],
        ]);
        let response = handle(&event, &ledger, "", None, 1_795_352_800).await;
        assert_eq!(failures(&response), ["m1", "m2"]);
        // The other window's files are recorded.
        let keys: Vec<_> = ledger.rest.files("2026-11-22T13:05Z").await.unwrap();
        assert_eq!(keys.len(), 3);
        assert!(
            ledger
                .rest
                .window("2026-11-22T13:06Z")
                .await
                .unwrap()
                .is_none()
        );
    }
}
