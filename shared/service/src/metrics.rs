//! The `flowmerge` CloudWatch metrics, published as embedded metric format
//! (EMF): one JSON line on stdout per event, which Lambda's log pipeline turns
//! into metrics. No API call, no extra permission, nothing to batch or flush.
//!
//! Metrics have no dimensions; the dashboard and the window lag alarm read
//! them by namespace and name.

use std::io::Write;

use pipeline::{CombineResponse, Stats};
use serde_json::{Map, Value, json};

/// The CloudWatch namespace (the CDK app's `METRIC_NAMESPACE`).
pub const NAMESPACE: &str = "flowmerge";

/// CloudWatch units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// One metric value.
pub type Metric = (&'static str, f64, Unit);

/// The EMF document for `metrics` at `timestamp_ms`.
pub fn emf(metrics: &[Metric], timestamp_ms: i64) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() }))
        .collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[]],
                "Metrics": definitions,
            }],
        }),
    );
    for (name, value, _) in metrics {
        document.insert((*name).into(), json!(value));
    }
    Value::Object(document)
}

/// Writes `metrics` as one EMF line to stdout, stamped now.
pub fn publish(metrics: &[Metric]) {
    if metrics.is_empty() {
        return;
    }
    let timestamp_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let line = emf(metrics, timestamp_ms).to_string();
    // One write of a whole line, so concurrent log output cannot split it.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// What a committed run reports: one window, and its counts. An hour of the
/// hour tier reports under its own names: its records are its minutes'
/// again, and would count twice in theirs.
pub fn committed(response: &CombineResponse) -> Vec<Metric> {
    let Stats {
        files_in,
        bytes_in,
        records_in,
        bad_lines,
        bad_files,
        rows_out,
        files_out,
        bytes_out,
        ..
    } = response.stats;
    let count = |n: u64| n as f64;
    if response.window.is_hour() {
        return vec![
            ("HoursCommitted", 1.0, Unit::Count),
            ("HourRowsOut", count(rows_out), Unit::Count),
            ("HourFilesOut", count(files_out), Unit::Count),
            ("HourBytesOut", count(bytes_out), Unit::Bytes),
        ];
    }
    vec![
        ("WindowsCommitted", 1.0, Unit::Count),
        ("FilesIn", count(files_in), Unit::Count),
        ("BytesIn", count(bytes_in), Unit::Bytes),
        ("RecordsIn", count(records_in), Unit::Count),
        ("BadLines", count(bad_lines), Unit::Count),
        ("BadFiles", count(bad_files), Unit::Count),
        ("RowsOut", count(rows_out), Unit::Count),
        ("FilesOut", count(files_out), Unit::Count),
        ("BytesOut", count(bytes_out), Unit::Bytes),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_names_every_value_it_carries() {
        let doc = emf(
            &[
                ("WindowLagSeconds", 75.0, Unit::Seconds),
                ("WindowsDue", 2.0, Unit::Count),
            ],
            1_795_870_000_000,
        );
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_795_870_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "flowmerge",
                        "Dimensions": [[]],
                        "Metrics": [
                            {"Name": "WindowLagSeconds", "Unit": "Seconds"},
                            {"Name": "WindowsDue", "Unit": "Count"},
                        ],
                    }],
                },
                "WindowLagSeconds": 75.0,
                "WindowsDue": 2.0,
            })
        );
    }

    #[test]
    fn a_commit_reports_its_counts() {
        let response = CombineResponse {
            window: "2026-11-22T13:05Z".parse().unwrap(),
            version: 1,
            state: ledger::WindowState::Committed,
            outputs: vec![],
            stats: Stats {
                records_in: 1000,
                rows_out: 300,
                bad_lines: 2,
                bad_files: 1,
                ..Stats::default()
            },
        };
        let metrics = committed(&response);
        let value = |name: &str| metrics.iter().find(|m| m.0 == name).map(|m| m.1);
        assert_eq!(value("WindowsCommitted"), Some(1.0));
        assert_eq!(value("RecordsIn"), Some(1000.0));
        assert_eq!(value("RowsOut"), Some(300.0));
        assert_eq!(value("BadLines"), Some(2.0));
        assert_eq!(value("BadFiles"), Some(1.0));

        let hour = CombineResponse {
            window: "2026-11-22T13Z".parse().unwrap(),
            ..response
        };
        let metrics = committed(&hour);
        let names: Vec<&str> = metrics.iter().map(|m| m.0).collect();
        assert_eq!(
            names,
            [
                "HoursCommitted",
                "HourRowsOut",
                "HourFilesOut",
                "HourBytesOut"
            ]
        );
        assert_eq!(metrics[1].1, 300.0);
    }
}
