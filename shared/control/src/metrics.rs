//! The `flowmerge` CloudWatch metrics, published as embedded metric format
//! (EMF): one JSON line on stdout per event, which Lambda's log pipeline turns
//! into metrics. No API call, no extra permission, nothing to batch or flush.
//!
//! Metrics have no dimensions; the dashboard and the window lag alarm read
//! them by namespace and [`Name`].

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
    /// Its CloudWatch name.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// Every metric flowmerge publishes: the one list the CDK app's dashboard
/// and alarms name metrics from (through `infra/contract.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// Age of the oldest due window past its end (scheduler).
    WindowLagSeconds,
    /// Windows due in a scheduler run.
    WindowsDue,
    /// A minute window committed.
    WindowsCommitted,
    /// A committed minute's input files.
    FilesIn,
    /// Their bytes.
    BytesIn,
    /// Their records.
    RecordsIn,
    /// Lines quarantined.
    BadLines,
    /// Files quarantined.
    BadFiles,
    /// Rows written.
    RowsOut,
    /// Files written.
    FilesOut,
    /// Bytes written.
    BytesOut,
    /// An hour committed.
    HoursCommitted,
    /// An hour's rows written.
    HourRowsOut,
    /// An hour's files written.
    HourFilesOut,
    /// An hour's bytes written.
    HourBytesOut,
}

impl Name {
    /// Every metric.
    pub const ALL: [Name; 15] = [
        Name::WindowLagSeconds,
        Name::WindowsDue,
        Name::WindowsCommitted,
        Name::FilesIn,
        Name::BytesIn,
        Name::RecordsIn,
        Name::BadLines,
        Name::BadFiles,
        Name::RowsOut,
        Name::FilesOut,
        Name::BytesOut,
        Name::HoursCommitted,
        Name::HourRowsOut,
        Name::HourFilesOut,
        Name::HourBytesOut,
    ];

    /// The CloudWatch metric name and unit.
    pub const fn spec(self) -> (&'static str, Unit) {
        match self {
            Name::WindowLagSeconds => ("WindowLagSeconds", Unit::Seconds),
            Name::WindowsDue => ("WindowsDue", Unit::Count),
            Name::WindowsCommitted => ("WindowsCommitted", Unit::Count),
            Name::FilesIn => ("FilesIn", Unit::Count),
            Name::BytesIn => ("BytesIn", Unit::Bytes),
            Name::RecordsIn => ("RecordsIn", Unit::Count),
            Name::BadLines => ("BadLines", Unit::Count),
            Name::BadFiles => ("BadFiles", Unit::Count),
            Name::RowsOut => ("RowsOut", Unit::Count),
            Name::FilesOut => ("FilesOut", Unit::Count),
            Name::BytesOut => ("BytesOut", Unit::Bytes),
            Name::HoursCommitted => ("HoursCommitted", Unit::Count),
            Name::HourRowsOut => ("HourRowsOut", Unit::Count),
            Name::HourFilesOut => ("HourFilesOut", Unit::Count),
            Name::HourBytesOut => ("HourBytesOut", Unit::Bytes),
        }
    }
}

/// One metric value.
pub type Metric = (Name, f64);

/// The EMF document for `metrics` at `timestamp_ms`.
pub fn emf(metrics: &[Metric], timestamp_ms: i64) -> Value {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _)| {
            let (name, unit) = name.spec();
            json!({ "Name": name, "Unit": unit.as_str() })
        })
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
    for (name, value) in metrics {
        document.insert(name.spec().0.into(), json!(value));
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
            (Name::HoursCommitted, 1.0),
            (Name::HourRowsOut, count(rows_out)),
            (Name::HourFilesOut, count(files_out)),
            (Name::HourBytesOut, count(bytes_out)),
        ];
    }
    vec![
        (Name::WindowsCommitted, 1.0),
        (Name::FilesIn, count(files_in)),
        (Name::BytesIn, count(bytes_in)),
        (Name::RecordsIn, count(records_in)),
        (Name::BadLines, count(bad_lines)),
        (Name::BadFiles, count(bad_files)),
        (Name::RowsOut, count(rows_out)),
        (Name::FilesOut, count(files_out)),
        (Name::BytesOut, count(bytes_out)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_names_every_value_it_carries() {
        let doc = emf(
            &[(Name::WindowLagSeconds, 75.0), (Name::WindowsDue, 2.0)],
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
    fn every_metric_has_its_own_name() {
        let mut names: Vec<&str> = Name::ALL.iter().map(|n| n.spec().0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Name::ALL.len());
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
        let value = |name: Name| metrics.iter().find(|m| m.0 == name).map(|m| m.1);
        assert_eq!(value(Name::WindowsCommitted), Some(1.0));
        assert_eq!(value(Name::RecordsIn), Some(1000.0));
        assert_eq!(value(Name::RowsOut), Some(300.0));
        assert_eq!(value(Name::BadLines), Some(2.0));
        assert_eq!(value(Name::BadFiles), Some(1.0));

        let hour = CombineResponse {
            window: "2026-11-22T13Z".parse().unwrap(),
            ..response
        };
        let metrics = committed(&hour);
        let names: Vec<Name> = metrics.iter().map(|m| m.0).collect();
        assert_eq!(
            names,
            [
                Name::HoursCommitted,
                Name::HourRowsOut,
                Name::HourFilesOut,
                Name::HourBytesOut
            ]
        );
        assert_eq!(metrics[1].1, 300.0);
    }
}
