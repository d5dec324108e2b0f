//! Decoding the `ingest` Lambda's input: SQS messages whose bodies are S3
//! event notifications, sent to the queue directly or through SNS (then the
//! body is an SNS notification whose `Message` is the S3 event). The result is
//! the ledger entries of the flow log files the event announces.

use ledger::FileEntry;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::Value;

/// The parts of an S3 event notification that ingest uses. Deliberately
/// lenient: `aws_lambda_events`' `S3Event` requires fields such as
/// `userIdentity` that not every producer sends (S3-compatible stores, replays,
/// hand-written events), and a missing field we never read must not send a
/// file to the DLQ.
#[derive(Debug, Deserialize)]
struct S3Event {
    #[serde(rename = "Records")]
    records: Vec<S3EventRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3EventRecord {
    event_name: Option<String>,
    s3: S3Entity,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Object {
    key: Option<String>,
    size: Option<i64>,
    #[serde(rename = "eTag")]
    e_tag: Option<String>,
}

/// What one SQS message body announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The flow log files created (possibly none: other keys are ignored).
    Files(Vec<FileEntry>),
    /// The `s3:TestEvent` S3 sends when a notification is configured.
    TestEvent,
}

/// A message body that is not an S3 event (it will end in the DLQ).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body (or the SNS `Message`) is not JSON.
    #[error("body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but neither an S3 event nor an SNS envelope of one.
    #[error("not an S3 event notification: {0}")]
    NotAnEvent(String),
}

/// Decodes one SQS message body. `raw_prefix` is the raw store's prefix (no
/// slashes at either end; may be empty): keys outside it are ignored and keys
/// inside it are recorded relative to it, as the input store addresses them.
pub fn decode_body(body: &str, raw_prefix: &str) -> Result<Decoded, DecodeError> {
    let mut value: Value = serde_json::from_str(body).map_err(DecodeError::NotJson)?;
    if let Some(message) = sns_message(&value) {
        value = serde_json::from_str(message).map_err(DecodeError::NotJson)?;
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Decoded::TestEvent);
    }
    if value.get("Records").is_none() {
        return Err(DecodeError::NotAnEvent("no Records".into()));
    }
    let event: S3Event =
        serde_json::from_value(value).map_err(|e| DecodeError::NotAnEvent(e.to_string()))?;
    Ok(Decoded::Files(
        event
            .records
            .iter()
            .filter_map(|record| file_entry(record, raw_prefix))
            .collect(),
    ))
}

/// The `Message` of an SNS notification envelope.
fn sns_message(value: &Value) -> Option<&str> {
    if value.get("Type").and_then(Value::as_str) != Some("Notification") {
        return None;
    }
    value.get("Message").and_then(Value::as_str)
}

/// The ledger entry of one record, if it announces a new flow log file.
fn file_entry(record: &S3EventRecord, raw_prefix: &str) -> Option<FileEntry> {
    let created = record
        .event_name
        .as_deref()
        .is_some_and(|name| name.starts_with("ObjectCreated:"));
    if !created {
        return None;
    }
    let object = &record.s3.object;
    let key = decode_key(object.key.as_deref()?);
    let key = relative_key(&key, raw_prefix)?;
    let info = flowlog::parse_key(key)?;
    Some(FileEntry {
        key: key.to_owned(),
        window: info.window.to_string(),
        window_start: info.window.start(),
        account: info
            .account()
            .unwrap_or(pipeline::UNKNOWN_ACCOUNT)
            .to_owned(),
        size: object.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        etag: object.e_tag.as_deref().map(quote_etag),
        home: None,
    })
}

/// S3 event keys are URL-encoded form values: `+` is a space, `%XX` a byte.
pub fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn relative_key<'k>(key: &'k str, raw_prefix: &str) -> Option<&'k str> {
    if raw_prefix.is_empty() {
        return Some(key);
    }
    key.strip_prefix(raw_prefix)?.strip_prefix('/')
}

/// S3 events carry the ETag bare; HeadObject and ListObjects quote it. The
/// ledger compares etags, so store the form the S3 APIs return.
fn quote_etag(etag: &str) -> String {
    if etag.starts_with('"') {
        etag.to_owned()
    } else {
        format!("\"{etag}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(
            decode_key("aws-account-id%3D123/a+b%2Bc.log.gz"),
            "aws-account-id=123/a b+c.log.gz"
        );
        assert_eq!(decode_key("plain/key"), "plain/key");
    }

    #[test]
    fn prefixes_are_stripped_and_enforced() {
        assert_eq!(relative_key("raw/a/b", "raw"), Some("a/b"));
        assert_eq!(relative_key("rawer/a/b", "raw"), None);
        assert_eq!(relative_key("other/a", "raw"), None);
        assert_eq!(relative_key("a/b", ""), Some("a/b"));
    }

    #[test]
    fn etags_are_quoted_once() {
        assert_eq!(quote_etag("abc"), "\"abc\"");
        assert_eq!(quote_etag("\"abc\""), "\"abc\"");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            decode_body("not json", ""),
            Err(DecodeError::NotJson(_))
        ));
        assert!(matches!(
            decode_body(r#"{"hello": 1}"#, ""),
            Err(DecodeError::NotAnEvent(_))
        ));
        let sns_garbage = r#"{"Type": "Notification", "Message": "nope"}"#;
        assert!(matches!(
            decode_body(sns_garbage, ""),
            Err(DecodeError::NotJson(_))
        ));
        assert!(matches!(
            decode_body(r#"{"Records": [{"eventName": "ObjectCreated:Put"}]}"#, ""),
            Err(DecodeError::NotAnEvent(_))
        ));
    }

    #[test]
    fn only_the_fields_ingest_reads_are_required() {
        // As moto (and other S3-compatible stores) send it: no userIdentity,
        // requestParameters or responseElements.
        let body = r#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {
            "key": "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/22/123456789012_vpcflowlogs_us-east-1_fl-1_20261122T1305Z_fe12.log.gz",
            "size": 812, "eTag": "ab12"}}}]}"#;
        let Ok(Decoded::Files(files)) = decode_body(body, "") else {
            panic!("not decoded")
        };
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].etag.as_deref(), Some("\"ab12\""));
    }
}
