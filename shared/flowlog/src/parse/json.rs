//! Flow log records wrapped in JSON, as Kinesis Data Firehose delivers them:
//! records `{"message": "2 123456789012 eni-... ACCEPT OK"}`, and CloudWatch
//! Logs subscription payloads (`messageType`, `owner`, `logGroup`,
//! `logEvents[].message`). Objects hold JSON values one after another, often
//! with nothing between them, so values are cut out of the stream by their
//! braces (strings and escapes respected) and each is decoded alone: a bad
//! value is one bad line, and the stream goes on. Each message is a flow log
//! line of the source's configured format, parsed in batches like a text
//! file's lines; a line's number is the record's number in the object.

use std::borrow::Cow;
use std::io::BufRead;

use serde::Deserialize;

use super::format::{DataLine, Format};
use super::{BadLine, CHUNK, Checkpoint, FileReport, Stop, parse_lines, read_error};
use crate::formats::{Formats, LineFormat};
use crate::table::FlowTable;

/// One JSON value of a Firehose object: a Firehose record or a CloudWatch
/// Logs payload. Strings without escapes are borrowed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "messageType")]
    message_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    owner: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "logGroup")]
    log_group: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "logEvents")]
    log_events: Vec<LogEvent<'a>>,
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// Reads the JSON values of `reader` into `table`. Only a read error
/// (corrupt gzip) fails the object; everything else is a bad line.
pub(super) fn parse(
    key: &str,
    mut reader: Box<dyn BufRead + '_>,
    formats: &Formats,
    buffer: &mut Vec<u8>,
    table: &mut FlowTable,
    report: &mut FileReport,
    checkpoint: &mut dyn Checkpoint,
) -> Result<(), Stop> {
    let mut records = Records::new(key, formats);
    let mut values = Values::default();
    buffer.clear();
    loop {
        let read = reader.fill_buf().map_err(|e| read_error(&e))?;
        if read.is_empty() {
            break;
        }
        let len = read.len();
        buffer.extend_from_slice(read);
        reader.consume(len);
        let done = values.scan(buffer, |value| records.value(value, table, report));
        buffer.drain(..done);
        values.rebase(done);
        // Columns a record's format adds are in the table by now: their cost
        // is seen here, a chunk later than in text (formats are configured).
        checkpoint.check(table, 0)?;
    }
    if !buffer.iter().all(u8::is_ascii_whitespace) {
        // A value cut short (its decoding error says where) or stray text.
        records.value(buffer.trim_ascii(), table, report);
    }
    records.flush(table, report);
    Ok(())
}

/// Cuts top-level values out of a byte stream, a chunk at a time.
#[derive(Default)]
struct Values {
    /// Scanned up to here (relative to the buffer).
    at: usize,
    /// Start of the value or stray text being read, if any.
    start: Option<usize>,
    /// Braces and brackets open.
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Values {
    /// Scans the new bytes of `buffer`, calling `found` with each complete
    /// value (or stray non-JSON text, which starts with something other than
    /// `{`). Returns how much of the buffer is done with.
    fn scan(&mut self, buffer: &[u8], mut found: impl FnMut(&[u8])) -> usize {
        let mut done = self.start.unwrap_or(self.at);
        for i in self.at..buffer.len() {
            let b = buffer[i];
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match (self.start, b) {
                (None, b) if b.is_ascii_whitespace() => done = i + 1,
                (None, b'{') => {
                    self.start = Some(i);
                    self.depth = 1;
                }
                (None, _) => self.start = Some(i),
                // Stray text ends where an object starts.
                (Some(start), b'{') if self.depth == 0 => {
                    found(&buffer[start..i]);
                    self.start = Some(i);
                    self.depth = 1;
                }
                (Some(_), _) if self.depth == 0 => {}
                (Some(start), b'}' | b']') => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        found(&buffer[start..=i]);
                        self.start = None;
                        done = i + 1;
                    }
                }
                (Some(_), b'{' | b'[') => self.depth += 1,
                (Some(_), b'"') => self.in_string = true,
                _ => {}
            }
        }
        self.at = buffer.len();
        done
    }

    /// The buffer lost its first `done` bytes.
    fn rebase(&mut self, done: usize) {
        self.at -= done;
        self.start = self.start.map(|s| s - done);
    }
}

/// The lines of one object's records, batched per format.
struct Records<'a> {
    key: &'a str,
    formats: &'a Formats,
    /// Record number of the last record.
    number: u64,
    /// Lines waiting to be parsed, all of `pending_format`.
    text: Vec<u8>,
    lines: Vec<DataLine>,
    pending_format: Option<LineFormat>,
    /// Resolved formats of this object.
    resolved: Vec<(LineFormat, Format)>,
}

impl<'a> Records<'a> {
    fn new(key: &'a str, formats: &'a Formats) -> Self {
        Records {
            key,
            formats,
            number: 0,
            text: Vec::new(),
            lines: Vec::new(),
            pending_format: None,
            resolved: Vec::new(),
        }
    }

    fn value(&mut self, value: &[u8], table: &mut FlowTable, report: &mut FileReport) {
        if value.first() != Some(&b'{') {
            return self.bad(value, "not a JSON object".to_owned(), report);
        }
        let envelope: Envelope<'_> = match serde_json::from_slice(value) {
            Ok(envelope) => envelope,
            Err(e) => return self.bad(value, format!("invalid JSON: {e}"), report),
        };
        match (envelope.message_type.as_deref(), &envelope.message) {
            (Some("CONTROL_MESSAGE"), _) => report.control_messages += 1,
            (Some("DATA_MESSAGE"), _) => {
                let group = envelope.log_group.as_deref().unwrap_or_default();
                let format = self.formats.for_log_group(group, self.key);
                // `owner` fills `account-id` where the format lacks it.
                let (format, owner) = match envelope.owner.as_deref() {
                    Some(owner) if !format.has("account-id") => {
                        (Cow::Owned(format.with_first("account-id")), Some(owner))
                    }
                    _ => (Cow::Borrowed(format), None),
                };
                for event in &envelope.log_events {
                    self.line(&format, owner, &event.message, table, report);
                }
            }
            (Some(other), _) => {
                self.bad(value, format!("unknown CloudWatch Logs messageType {other:?}"), report)
            }
            (None, Some(message)) => {
                let format = self.formats.for_key(self.key);
                self.line(format, None, message, table, report);
            }
            (None, None) => self.bad(
                value,
                "a JSON object with neither \"message\" (Firehose) nor \"messageType\" (CloudWatch Logs)"
                    .to_owned(),
                report,
            ),
        }
    }

    /// Queues one record's line (`owner` first, if given).
    fn line(
        &mut self,
        format: &LineFormat,
        owner: Option<&str>,
        message: &str,
        table: &mut FlowTable,
        report: &mut FileReport,
    ) {
        let message = message.trim_end();
        if message.trim_start().is_empty() {
            return;
        }
        if self.pending_format.as_ref() != Some(format) || self.text.len() >= CHUNK {
            self.flush(table, report);
            self.pending_format = Some(format.clone());
        }
        self.number += 1;
        let start = self.text.len();
        if let Some(owner) = owner {
            self.text.extend_from_slice(owner.as_bytes());
            self.text.push(b' ');
        }
        self.text.extend_from_slice(message.as_bytes());
        self.lines.push(DataLine {
            number: self.number,
            start,
            len: self.text.len() - start,
        });
        self.text.push(b'\n');
    }

    /// A value that holds no readable record.
    fn bad(&mut self, value: &[u8], reason: String, report: &mut FileReport) {
        self.number += 1;
        report.lines += 1;
        report.bad_lines.push(BadLine::new(
            self.key,
            self.number,
            value.trim_ascii(),
            reason,
        ));
    }

    /// Parses the queued lines.
    fn flush(&mut self, table: &mut FlowTable, report: &mut FileReport) {
        let Some(names) = self.pending_format.take() else {
            return;
        };
        let at = match self.resolved.iter().position(|(f, _)| *f == names) {
            Some(at) => at,
            None => {
                let format = Format::new(names.names(), table);
                self.resolved.push((names, format));
                self.resolved.len() - 1
            }
        };
        let format = &mut self.resolved[at].1;
        parse_lines(format, self.key, &self.text, &self.lines, table, report);
        self.text.clear();
        self.lines.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(stream: &[u8], chunk: usize) -> Vec<String> {
        let mut values = Values::default();
        let mut buffer = Vec::new();
        let mut found = Vec::new();
        for piece in stream.chunks(chunk) {
            buffer.extend_from_slice(piece);
            let done = values.scan(&buffer, |v| {
                found.push(String::from_utf8_lossy(v.trim_ascii()).into_owned())
            });
            buffer.drain(..done);
            values.rebase(done);
        }
        if !buffer.iter().all(u8::is_ascii_whitespace) {
            found.push(format!("rest:{}", String::from_utf8_lossy(&buffer)));
        }
        found
    }

    #[test]
    fn values_are_cut_at_their_closing_brace_in_any_chunking() {
        let stream = br#"{"message":"a } b"}{"message":"c \" { d"} {"a":[1,{"b":2}]}
junk{"message":"e"}{"message":"#;
        let expected = [
            r#"{"message":"a } b"}"#,
            r#"{"message":"c \" { d"}"#,
            r#"{"a":[1,{"b":2}]}"#,
            "junk",
            r#"{"message":"e"}"#,
            r#"rest:{"message":"#,
        ];
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(cut(stream, chunk), expected, "chunk {chunk}");
        }
    }
}
