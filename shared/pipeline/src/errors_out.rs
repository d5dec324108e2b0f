//! Error output records: one JSON line per bad line or bad file, in the spirit
//! of Firehose's error output (`errorCode`, `errorMessage`, `rawData`), with no
//! timestamps so reruns reproduce the same bytes.

use flowlog::{BadFile, BadLine, Window};
use serde::{Deserialize, Serialize};

use crate::layout::ErrorType;

/// One quarantined line or file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorRecord {
    /// `parse-failed` or `unreadable-file`.
    pub error_code: String,
    /// Why.
    pub error_message: String,
    /// Window of the file.
    pub window: Window,
    /// Object key of the file.
    pub key: String,
    /// Line number (bad lines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The line as read, truncated (bad lines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
}

impl ErrorRecord {
    /// A bad line.
    pub fn line(window: Window, bad: BadLine) -> Self {
        ErrorRecord {
            error_code: ErrorType::ParseFailed.as_str().to_owned(),
            error_message: bad.reason,
            window,
            key: bad.key,
            line: Some(bad.line),
            raw_data: Some(bad.raw),
        }
    }

    /// A bad file.
    pub fn file(window: Window, bad: BadFile) -> Self {
        ErrorRecord {
            error_code: ErrorType::UnreadableFile.as_str().to_owned(),
            error_message: bad.reason,
            window,
            key: bad.key,
            line: None,
            raw_data: None,
        }
    }
}

/// Appends records as JSON lines.
pub fn to_json_lines(records: &[ErrorRecord], out: &mut Vec<u8>) {
    for record in records {
        // Serializing plain strings and integers cannot fail.
        if serde_json::to_writer(&mut *out, record).is_ok() {
            out.push(b'\n');
        }
    }
}
