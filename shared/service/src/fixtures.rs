//! Tests over the shared JSON fixtures in `tests/fixtures/` (repository
//! root): the event samples the Lambdas decode and the step payloads the
//! state machine passes around (the ASL tests reuse the same files).

use std::path::PathBuf;

use aws_lambda_events::event::sqs::SqsEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::events::{Decoded, decode_body};

/// Path of a fixture under `tests/fixtures/`.
pub(crate) fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn sqs(name: &str) -> SqsEvent {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn decode_all(name: &str, prefix: &str) -> Vec<Result<Decoded, String>> {
    sqs(name)
        .records
        .iter()
        .map(|m| {
            decode_body(m.body.as_deref().unwrap_or_default(), prefix).map_err(|e| e.to_string())
        })
        .collect()
}

fn files(name: &str, prefix: &str) -> Vec<ledger::FileEntry> {
    match decode_all(name, prefix).as_slice() {
        [Ok(Decoded::Files(files))] => files.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn s3_put_keeps_created_flow_logs_only() {
    let files = files("events/sqs-s3-put.json", "");
    // Four records: a Put and a multipart upload of flow logs, a Put of a
    // README (not a flow log) and a delete.
    assert_eq!(files.len(), 2, "{files:#?}");
    assert_eq!(files[0].account, "123456789012");
    assert_eq!(files[0].window, "2026-11-22T13:05Z");
    assert_eq!(files[0].window_start, 1_795_352_700);
    assert_eq!(files[0].size, 81_234);
    assert_eq!(
        files[0].etag.as_deref(),
        Some("\"0123456789abcdef0123456789abcdef\"")
    );
    assert_eq!(files[1].account, "210987654321");
    assert_eq!(files[1].window, "2026-11-22T13:06Z");
    assert!(files[1].key.starts_with("AWSLogs/210987654321/"));
}

#[test]
fn sns_envelopes_are_unwrapped() {
    let files = files("events/sqs-sns-s3.json", "");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0], self::files("events/sqs-s3-put.json", "")[0]);
}

#[test]
fn test_events_are_ignored() {
    assert!(matches!(
        decode_all("events/sqs-s3-testevent.json", "").as_slice(),
        [Ok(Decoded::TestEvent)]
    ));
}

#[test]
fn url_encoded_hive_keys_are_decoded() {
    let files = files("events/sqs-s3-urlencoded.json", "");
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].key,
        "aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=22/hour=13/my flow logs/123456789012_vpcflowlogs_eu-west-1_fl-0a1b2c3d4e5f60718_20261122T1305Z_fe123456.log.gz"
    );
    assert_eq!(files[0].window, "2026-11-22T13:05Z");
}

#[test]
fn raw_prefix_is_stripped_and_enforced() {
    let inside = files(
        "events/sqs-s3-urlencoded.json",
        "aws-account-id=123456789012",
    );
    assert_eq!(inside.len(), 1);
    assert!(inside[0].key.starts_with("aws-service=vpcflowlogs/"));
    assert!(files("events/sqs-s3-put.json", "other-prefix").is_empty());
}

#[test]
fn mixed_batch_decodes_each_message_on_its_own() {
    let outcomes = decode_all("events/sqs-mixed-bad.json", "");
    assert_eq!(outcomes.len(), 3);
    assert!(matches!(&outcomes[0], Ok(Decoded::Files(f)) if f.len() == 1));
    assert!(
        matches!(&outcomes[1], Err(e) if e.contains("not JSON")),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[2], Err(e) if e.contains("not an S3 event")),
        "{outcomes:?}"
    );
}

/// Decodes a payload fixture, and checks that encoding it again gives the
/// same JSON (no field dropped, renamed or defaulted differently).
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let text = read(name);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let typed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), value, "{name}");
    typed
}

#[test]
fn step_payloads_round_trip() {
    let request: pipeline::ListBatchRequest = round_trip("payloads/list-batch-request.json");
    assert_eq!(request.expected_version, Some(2));
    let response: pipeline::ListBatchResponse = round_trip("payloads/list-batch-response.json");
    assert_eq!(response.version, 3);
    let item: pipeline::PartialMergeRequest = round_trip("payloads/partial-merge-request.json");
    assert_eq!(item.manifest, response.manifest);
    let _: pipeline::PartialMergeResponse = round_trip("payloads/partial-merge-response.json");
    let combine: pipeline::CombineRequest = round_trip("payloads/combine-request.json");
    assert_eq!(combine.manifest, response.manifest);
    let done: pipeline::CombineResponse = round_trip("payloads/combine-response.json");
    assert_eq!(done.state, ledger::WindowState::Committed);
}

#[test]
fn firehose_cloudwatch_logs_and_native_parquet_objects_are_flow_logs_too() {
    let files = files("events/sqs-s3-deliveries.json", "");
    let got: Vec<(&str, &str, &str)> = files
        .iter()
        .map(|f| {
            let name = f.key.rsplit('/').next().unwrap_or_default();
            (
                &name[..name.len().min(24)],
                f.window.as_str(),
                f.account.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("flowlogs-prod-1-2026-11-", "2026-11-22T13:05Z", "unknown"),
            ("flowlogs-cwl-1-2026-11-2", "2026-11-22T13:06Z", "unknown"),
            (
                "123456789012_vpcflowlogs",
                "2026-11-22T13:05Z",
                "123456789012"
            ),
        ],
        "the notes.txt beside them is not a flow log"
    );
}
