//! The ways AWS delivers a flow log's records to S3, each as AWS writes it:
//!
//! * `text`: gzip text objects in the VPC delivery layout (a header line per
//!   file unless the format has none; sometimes two gzip members);
//! * `parquet`: native Parquet objects (`.log.parquet`, GZIP codec, AWS's
//!   column names and types) in the same layout;
//! * `firehose`: Kinesis Data Firehose objects (`firehose/{stream}/YYYY/MM/DD/HH/
//!   {stream}-1-{yyyy-MM-dd-HH-mm-ss}-{uuid}`), each record a JSON
//!   `{"message": line}`, mostly with nothing between records, sometimes one
//!   per line or as plain lines (a processor's output); gzip or not;
//! * `cwl`: CloudWatch Logs subscription payloads delivered by Firehose
//!   (`cwl/{stream}/...`): one gzip member per payload, a `DATA_MESSAGE` per
//!   log stream (ENI) with its `logEvents`, and a `CONTROL_MESSAGE` first in
//!   a stream's first object.
//!
//! Firehose and CloudWatch Logs records carry no header: their format is
//! recorded in the truth (by key prefix or log group) for the reader to be
//! given.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field as ArrowField, Schema};
use chrono::DateTime;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;

use crate::GenError;
use crate::format::Field;
use crate::model::FlowLog;
use crate::rng::Dice;
use crate::write::{gzip, object_path};

/// How the generated records reach S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// VPC Flow Logs text objects.
    Text,
    /// VPC Flow Logs native Parquet objects.
    Parquet,
    /// Kinesis Data Firehose records.
    Firehose,
    /// CloudWatch Logs subscription payloads, through Firehose.
    CloudWatchLogs,
    /// Each flow log one of the four, in turn.
    Mixed,
}

impl Delivery {
    /// The four kinds, in the order `Mixed` deals them out.
    pub const KINDS: [Delivery; 4] = [
        Delivery::Text,
        Delivery::Parquet,
        Delivery::Firehose,
        Delivery::CloudWatchLogs,
    ];

    /// The kind of the flow log with this index.
    pub(crate) fn of(self, index: usize) -> Delivery {
        match self {
            Delivery::Mixed => Self::KINDS[index % Self::KINDS.len()],
            kind => kind,
        }
    }
}

impl FromStr for Delivery {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "text" => Delivery::Text,
            "parquet" => Delivery::Parquet,
            "firehose" => Delivery::Firehose,
            "cwl" => Delivery::CloudWatchLogs,
            "mixed" => Delivery::Mixed,
            other => {
                return Err(format!(
                    "unknown delivery {other:?} (text, parquet, firehose, cwl or mixed)"
                ));
            }
        })
    }
}

/// One object to write.
pub(crate) struct Object {
    pub(crate) path: PathBuf,
    pub(crate) bytes: Vec<u8>,
    /// CloudWatch Logs control messages in it.
    pub(crate) control_messages: u64,
}

/// The format of a headerless source in AWS's syntax, and where the reader
/// must be told it: a key prefix (Firehose) or a log group (CloudWatch Logs).
/// None where the reader's default (version 2) fits.
pub(crate) fn source_format(fl: &FlowLog, kind: Delivery) -> Option<(String, String)> {
    if fl.format.is_v2() {
        return None;
    }
    let format = fl
        .format
        .fields()
        .iter()
        .map(|f| format!("${{{}}}", f.name()))
        .collect::<Vec<_>>()
        .join(" ");
    match kind {
        Delivery::Firehose => Some((format!("firehose/{}/", stream(fl)), format)),
        Delivery::CloudWatchLogs => Some((log_group(fl), format)),
        _ => None,
    }
}

fn stream(fl: &FlowLog) -> String {
    format!("flowlogs-{}", fl.id)
}

fn log_group(fl: &FlowLog) -> String {
    format!("/vpc/flowlogs/{}", fl.id)
}

/// Encodes one delivery's text (its header line, if the format has one, then
/// its records) as an object of `kind`. `first` marks a flow log's first
/// object.
pub(crate) fn encode(
    fl: &FlowLog,
    kind: Delivery,
    delivery: i64,
    text: &str,
    first: bool,
    dice: &mut Dice,
) -> Result<Object, GenError> {
    let hash = dice.hex(8);
    let records = || {
        let mut lines = text.lines();
        if fl.format.has_header() {
            lines.next();
        }
        lines
    };
    let io = |e| GenError::io(&PathBuf::from(&fl.id), e);
    let (path, bytes, control_messages) = match kind {
        Delivery::Text | Delivery::Mixed => {
            let two_members = dice.chance(0.07) || (fl.index == 0 && first);
            let bytes = gzip(text.as_bytes(), two_members).map_err(io)?;
            (object_path(fl, delivery, &hash, ".log.gz")?, bytes, 0)
        }
        Delivery::Parquet => {
            let bytes = parquet(fl.format.fields(), records())?;
            (object_path(fl, delivery, &hash, ".log.parquet")?, bytes, 0)
        }
        Delivery::Firehose => {
            let mut body = String::with_capacity(text.len() + text.len() / 4);
            let style = dice.index(4);
            for line in records() {
                match style {
                    // A processor's plain lines.
                    0 => body.push_str(line),
                    _ => body.push_str(&serde_json::json!({ "message": line }).to_string()),
                }
                // Firehose adds no delimiter unless a processor does.
                if style <= 1 {
                    body.push('\n');
                }
            }
            let compress = dice.chance(0.6);
            let path = firehose_path("firehose", fl, delivery, compress, dice)?;
            let bytes = match compress {
                true => gzip(body.as_bytes(), false).map_err(io)?,
                false => body.into_bytes(),
            };
            (path, bytes, 0)
        }
        Delivery::CloudWatchLogs => {
            let mut bytes = Vec::new();
            if first {
                let control = serde_json::json!({
                    "messageType": "CONTROL_MESSAGE",
                    "owner": "CloudwatchLogs",
                    "logGroup": "",
                    "logStream": "",
                    "subscriptionFilters": [],
                    "logEvents": [{"id": "", "timestamp": delivery * 1000,
                        "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}],
                });
                bytes.extend(gzip(control.to_string().as_bytes(), false).map_err(io)?);
            }
            let interface = fl
                .format
                .fields()
                .iter()
                .position(|&f| f == Field::InterfaceId);
            let mut streams: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for line in records() {
                let eni = interface
                    .and_then(|i| line.split(' ').nth(i))
                    .unwrap_or("unknown");
                streams.entry(eni).or_default().push(line);
            }
            for (eni, lines) in streams {
                let events: Vec<_> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, line)| {
                        serde_json::json!({"id": format!("{}{i:08}", dice.hex(24)),
                            "timestamp": delivery * 1000, "message": line})
                    })
                    .collect();
                let payload = serde_json::json!({
                    "messageType": "DATA_MESSAGE",
                    "owner": fl.account,
                    "logGroup": log_group(fl),
                    "logStream": format!("{eni}-all"),
                    "subscriptionFilters": ["flowmerge"],
                    "logEvents": events,
                });
                bytes.extend(gzip(payload.to_string().as_bytes(), false).map_err(io)?);
            }
            let path = firehose_path("cwl", fl, delivery, false, dice)?;
            (path, bytes, u64::from(first))
        }
    };
    Ok(Object {
        path,
        bytes,
        control_messages,
    })
}

/// `{root}/{stream}/YYYY/MM/DD/HH/{stream}-1-{yyyy-MM-dd-HH-mm-ss}-{uuid}[.gz]`,
/// the stamp within the delivery minute.
fn firehose_path(
    root: &str,
    fl: &FlowLog,
    delivery: i64,
    gz: bool,
    dice: &mut Dice,
) -> Result<PathBuf, GenError> {
    let secs = delivery + dice.range(0, 59) as i64;
    let t = DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| GenError::InvalidOptions(format!("time {secs} is out of range")))?;
    let uuid = format!(
        "{}-{}-4{}-a{}-{}",
        dice.hex(8),
        dice.hex(4),
        dice.hex(3),
        dice.hex(3),
        dice.hex(12)
    );
    let stream = stream(fl);
    Ok(PathBuf::from(format!(
        "{root}/{stream}/{}/{stream}-1-{}-{uuid}{}",
        t.format("%Y/%m/%d/%H"),
        t.format("%Y-%m-%d-%H-%M-%S"),
        if gz { ".gz" } else { "" }
    )))
}

/// Records as VPC Flow Logs write them with `file-format=parquet`: a column
/// per field, named with underscores, typed as AWS types it, GZIP codec.
fn parquet<'a>(
    fields: &[Field],
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<u8>, GenError> {
    enum Column {
        Int32(Int32Builder),
        Int64(Int64Builder),
        Str(StringBuilder),
    }
    let mut columns: Vec<Column> = fields
        .iter()
        .map(|f| match aws_type(*f) {
            DataType::Int32 => Column::Int32(Int32Builder::new()),
            DataType::Int64 => Column::Int64(Int64Builder::new()),
            _ => Column::Str(StringBuilder::new()),
        })
        .collect();
    for line in lines {
        for (column, token) in columns.iter_mut().zip(line.split(' ')) {
            let value = (token != "-").then_some(token);
            match column {
                Column::Int32(b) => b.append_option(value.and_then(|v| v.parse().ok())),
                Column::Int64(b) => b.append_option(value.and_then(|v| v.parse().ok())),
                Column::Str(b) => b.append_option(value),
            }
        }
    }
    let schema = Arc::new(Schema::new(
        fields
            .iter()
            .map(|f| ArrowField::new(f.name().replace('-', "_"), aws_type(*f), true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|c| -> ArrayRef {
            match c {
                Column::Int32(mut b) => Arc::new(b.finish()),
                Column::Int64(mut b) => Arc::new(b.finish()),
                Column::Str(mut b) => Arc::new(b.finish()),
            }
        })
        .collect();
    let parquet_error = GenError::Parquet;
    let batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| parquet_error(e.to_string()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties))
        .map_err(|e| parquet_error(e.to_string()))?;
    writer
        .write(&batch)
        .map_err(|e| parquet_error(e.to_string()))?;
    writer.close().map_err(|e| parquet_error(e.to_string()))?;
    Ok(out)
}

/// The Parquet type AWS gives a field (its flow log record table).
fn aws_type(field: Field) -> DataType {
    use Field::*;
    match field {
        Version | SrcPort | DstPort | Protocol | TcpFlags | TrafficPath => DataType::Int32,
        Packets | Bytes | Start | End => DataType::Int64,
        _ => DataType::Utf8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_and_mixed_deals_them_out() {
        assert_eq!("cwl".parse(), Ok(Delivery::CloudWatchLogs));
        assert!("s3".parse::<Delivery>().is_err());
        let kinds: Vec<_> = (0..5).map(|i| Delivery::Mixed.of(i)).collect();
        assert_eq!(
            kinds,
            [
                Delivery::Text,
                Delivery::Parquet,
                Delivery::Firehose,
                Delivery::CloudWatchLogs,
                Delivery::Text
            ]
        );
        assert_eq!(Delivery::Parquet.of(3), Delivery::Parquet);
    }
}
