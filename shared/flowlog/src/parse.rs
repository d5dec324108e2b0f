//! The line parser: reads a delivered file (gzip, possibly several members, or
//! plain text), detects its format from the header line, and appends typed
//! records straight into a [`FlowTable`]. Byte-level: no per-field allocation;
//! dimension values are interned, and a per-field cache skips even the hash
//! lookup when a value repeats the previous line's (account, ENI, action, ...).

use std::io::Read;

use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};

mod split;

use crate::dict::{Dict, NULL_CODE, short_key};
use crate::fields::{self, ColumnDef, Kind};
use crate::table::{FlowTable, NULL, Slot};

/// Raw text kept for a bad line, in bytes.
pub const MAX_RAW: usize = 1024;

/// A line that does not fit its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    /// Object key of the file.
    pub key: String,
    /// 1-based line number in the decompressed file.
    pub line: u64,
    /// The line, truncated to [`MAX_RAW`] bytes, invalid UTF-8 replaced.
    pub raw: String,
    /// Why it was rejected.
    pub reason: String,
}

/// A file that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadFile {
    /// Object key of the file.
    pub key: String,
    /// Why it was rejected.
    pub reason: String,
}

/// What parsing one file produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// Data lines read (records + bad lines; headers and blank lines excluded).
    pub lines: u64,
    /// Records appended to the table.
    pub records: u64,
    /// Lines rejected.
    pub bad_lines: Vec<BadLine>,
    /// Set when the whole file was rejected; then nothing of it is in the table.
    pub bad_file: Option<BadFile>,
}

/// Parses one delivered object (compressed or not) into `table`.
///
/// ```
/// let mut table = flowlog::FlowTable::new();
/// let data = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
///              2 123456789012 eni-0a 10.0.0.1 10.0.0.2 443 49152 6 10 8400 1700000000 1700000059 ACCEPT OK\n";
/// let report = flowlog::parse_object("k.log", data, &mut table);
/// assert_eq!((report.records, table.rows()), (1, 1));
/// ```
pub fn parse_object(key: &str, data: &[u8], table: &mut FlowTable) -> FileReport {
    Parser::default().parse_object(key, data, table)
}

/// Parses decompressed text from a reader into `table`.
pub fn parse_reader(key: &str, reader: impl Read, table: &mut FlowTable) -> FileReport {
    Parser::default().parse_reader(key, reader, table)
}

/// Parses objects one after another, reusing its text buffer, so that
/// parsing many small files allocates nothing per file.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: Vec<u8>,
}

/// Decompressed text read at a time.
const CHUNK: usize = 256 * 1024;

impl Parser {
    /// Parses one delivered object (gzip, possibly several members, or plain
    /// text) into `table`.
    pub fn parse_object(&mut self, key: &str, data: &[u8], table: &mut FlowTable) -> FileReport {
        if data.starts_with(&[0x1f, 0x8b]) {
            self.parse_reader(key, MultiGzDecoder::new(data), table)
        } else {
            self.parse_reader(key, data, table)
        }
    }

    /// Parses decompressed text from a reader into `table`.
    pub fn parse_reader(
        &mut self,
        key: &str,
        mut reader: impl Read,
        table: &mut FlowTable,
    ) -> FileReport {
        let rows_before = table.rows();
        let mut file = FileParser {
            key,
            report: FileReport::default(),
            number: 0,
            format: None,
        };
        match for_each_line(&mut reader, &mut self.buffer, |line| file.line(line, table)) {
            Ok(()) => file.report,
            Err(reason) => {
                table.truncate(rows_before);
                FileReport {
                    bad_file: Some(BadFile {
                        key: key.to_owned(),
                        reason,
                    }),
                    ..FileReport::default()
                }
            }
        }
    }
}

/// Calls `f` with every line, read into `buffer` a chunk at a time; only the
/// unfinished line at the end of a chunk is moved, to the buffer's front.
/// Stops at the first error.
fn for_each_line(
    reader: &mut impl Read,
    buffer: &mut Vec<u8>,
    mut f: impl FnMut(Line<'_>) -> Result<(), String>,
) -> Result<(), String> {
    if buffer.len() < CHUNK {
        buffer.resize(CHUNK, 0);
    }
    // Bytes of an unfinished line at the front of the buffer.
    let mut kept = 0;
    loop {
        if kept == buffer.len() {
            // A line longer than the buffer.
            buffer.resize(buffer.len() * 2, 0);
        }
        let read = match reader.read(&mut buffer[kept..]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&e)),
        };
        let end = kept + read;
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', &buffer[kept..end]) {
            let len = kept + newline - start;
            f(Line::new(&buffer[start..], len))?;
            start += len + 1;
        }
        buffer.copy_within(start..end, 0);
        kept = end - start;
    }
    if kept == 0 {
        Ok(())
    } else {
        f(Line::new(buffer, kept))
    }
}

/// A line where it was read: the line is `padded[..len]`, and `padded` goes
/// on with whatever follows it in the buffer, so that its fields can be found
/// a block at a time without copying the line's end (see [`split`]).
#[derive(Clone, Copy)]
struct Line<'a> {
    padded: &'a [u8],
    len: usize,
}

impl<'a> Line<'a> {
    fn new(padded: &'a [u8], len: usize) -> Self {
        Line { padded, len }
    }

    fn text(self) -> &'a [u8] {
        &self.padded[..self.len]
    }

    fn fields(self) -> split::Fields<'a> {
        split::Fields::padded(self.padded, self.len)
    }

    /// The line without trailing `\n` and `\r`.
    fn trimmed(self) -> Self {
        let mut len = self.len;
        while len > 0 && matches!(self.padded[len - 1], b'\n' | b'\r') {
            len -= 1;
        }
        Line { len, ..self }
    }
}

/// The state of one file being parsed.
struct FileParser<'k> {
    key: &'k str,
    report: FileReport,
    number: u64,
    format: Option<Format>,
}

impl FileParser<'_> {
    /// Handles one line; an error rejects the whole file.
    fn line(&mut self, line: Line<'_>, table: &mut FlowTable) -> Result<(), String> {
        self.number += 1;
        let line = line.trimmed();
        let text = line.text();
        if text.first().is_none_or(u8::is_ascii_whitespace)
            && text.iter().all(u8::is_ascii_whitespace)
        {
            return Ok(());
        }
        let format = match &mut self.format {
            Some(format) => format,
            None => return self.first_line(line, table),
        };
        self.report.lines += 1;
        match format.parse_line(line, table) {
            Ok(()) => self.report.records += 1,
            Err(reason) => self.report.bad_lines.push(BadLine {
                key: self.key.to_owned(),
                line: self.number,
                raw: String::from_utf8_lossy(&text[..text.len().min(MAX_RAW)]).into_owned(),
                reason,
            }),
        }
        Ok(())
    }

    /// The first non-blank line: a header, or a default-format record. A
    /// headerless file must start like a default-format record; otherwise it
    /// is some other text and the whole file is rejected.
    fn first_line(&mut self, line: Line<'_>, table: &mut FlowTable) -> Result<(), String> {
        let text = line.text();
        if text.contains(&0) {
            return Err("binary content, not a flow log".to_owned());
        }
        if let Some(names) = header_names(text) {
            self.format = Some(Format::new(&names, table));
            return Ok(());
        }
        let default = self
            .format
            .insert(Format::new(fields::DEFAULT_FORMAT, table));
        default.parse_line(line, table).map_err(|reason| {
            format!(
                "not a flow log: first line is neither a header nor a version 2 record ({reason})"
            )
        })?;
        self.report.lines += 1;
        self.report.records += 1;
        Ok(())
    }
}

fn read_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "truncated compressed data".to_owned(),
        _ => format!("unreadable: {e}"),
    }
}

/// The field names of a header line, or `None` if the line is data.
/// A header is a line of field-name-like words with at least one known field
/// and no repeats; unknown names are kept.
fn header_names(text: &[u8]) -> Option<Vec<&str>> {
    let names: Vec<&str> = split::Fields::new(text)
        .map(|t| {
            let ok = t.first().is_some_and(u8::is_ascii_lowercase)
                && t.iter().all(|&b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            ok.then(|| std::str::from_utf8(t).ok()).flatten()
        })
        .collect::<Option<_>>()?;
    let mut seen = names.clone();
    seen.sort_unstable();
    seen.dedup();
    (seen.len() == names.len() && names.iter().any(|n| fields::known(n).is_some())).then_some(names)
}

/// How one field of a format lands in the table.
#[derive(Debug, Clone, Copy)]
enum Target {
    StrDim(usize),
    IntDim { dim: usize, kind: Kind },
    Metric { metric: usize, kind: Kind },
}

/// One field of a format: where its value goes, and the previous line's
/// value (an integer, or a string's short key; 0 for a long string) with its
/// code, to skip interning a repeated value.
#[derive(Debug, Clone, Copy)]
struct FieldSlot {
    target: Target,
    last: u128,
    last_code: u32,
}

/// A file's format resolved against the table's columns.
#[derive(Debug)]
struct Format {
    names: Vec<String>,
    fields: Vec<FieldSlot>,
    codes: Vec<u32>,
    metrics: Vec<i64>,
    records: usize,
}

impl Format {
    fn new<S: AsRef<str>>(names: &[S], table: &mut FlowTable) -> Format {
        let defs: Vec<ColumnDef> = names
            .iter()
            .map(|n| ColumnDef::for_field(n.as_ref()))
            .collect();
        table.ensure_columns(&defs);
        let fields = defs
            .iter()
            .map(|def| {
                let target = match (table.slot(&def.name), def.kind) {
                    (Some(Slot::Dim(dim)), Kind::Str) => Target::StrDim(dim),
                    (Some(Slot::Dim(dim)), kind) => Target::IntDim { dim, kind },
                    (Some(Slot::Metric(metric)), kind) => Target::Metric { metric, kind },
                    (None, _) => unreachable!("column ensured above"),
                };
                FieldSlot {
                    target,
                    last: 0,
                    last_code: NULL_CODE,
                }
            })
            .collect();
        Format {
            names: names.iter().map(|n| n.as_ref().to_owned()).collect(),
            fields,
            codes: vec![NULL_CODE; table.dims().len()],
            metrics: vec![NULL; table.metrics().len()],
            records: table.metric_index(fields::RECORDS).unwrap_or(0),
        }
    }

    /// Parses one line and appends it; on error nothing is appended.
    fn parse_line(&mut self, line: Line<'_>, table: &mut FlowTable) -> Result<(), String> {
        self.fill_row(line, table).map_err(|reason| {
            // A wrong field count explains a misplaced value better than the value does.
            let found = line.fields().count();
            if found == self.fields.len() {
                reason
            } else {
                format!("expected {} fields, found {found}", self.fields.len())
            }
        })?;
        table.push_row(&self.codes, &self.metrics);
        Ok(())
    }

    fn fill_row(&mut self, line: Line<'_>, table: &mut FlowTable) -> Result<(), String> {
        // A table shared by several files may have gained columns since this
        // format was resolved; re-resolve once in that case.
        if self.codes.len() != table.dims().len() || self.metrics.len() != table.metrics().len() {
            *self = Format::new(&self.names, table);
        }
        self.codes.fill(NULL_CODE);
        self.metrics.fill(NULL);
        self.metrics[self.records] = 1;
        // A wrong field count is told by `parse_line`, which counts them again.
        let mut tokens = line.fields();
        for (field, name) in self.fields.iter_mut().zip(&self.names) {
            let token = tokens.next().ok_or_else(String::new)?;
            if token == b"-" {
                continue;
            }
            match field.target {
                Target::StrDim(dim) => {
                    let Dict::Str(dict) = table.dict_mut(dim) else {
                        unreachable!()
                    };
                    let invalid = |_| format!("{name}: invalid UTF-8");
                    self.codes[dim] = match short_key(token) {
                        Some(key) if key == field.last => field.last_code,
                        Some(key) => {
                            let code = dict.intern_short(key, token).map_err(invalid)?;
                            (field.last, field.last_code) = (key, code);
                            code
                        }
                        None if field.last_code != NULL_CODE
                            && dict.span(field.last_code) == token =>
                        {
                            field.last_code
                        }
                        None => {
                            let code = dict.intern_checked(token).map_err(invalid)?;
                            (field.last, field.last_code) = (0, code);
                            code
                        }
                    };
                }
                Target::IntDim { dim, kind } => {
                    let value = number(name, token, kind)?;
                    self.codes[dim] = if field.last_code != NULL_CODE && field.last == value as u128
                    {
                        field.last_code
                    } else {
                        let Dict::Int(dict) = table.dict_mut(dim) else {
                            unreachable!()
                        };
                        let code = dict.intern(value);
                        (field.last, field.last_code) = (value as u128, code);
                        code
                    };
                }
                Target::Metric { metric, kind } => {
                    self.metrics[metric] = number(name, token, kind)?
                }
            }
        }
        match tokens.next() {
            Some(_) => Err(String::new()),
            None => Ok(()),
        }
    }
}

/// A field's value as an integer of its kind.
fn number(name: &str, token: &[u8], kind: Kind) -> Result<i64, String> {
    match parse_unsigned(token) {
        Some(value) if kind != Kind::Int32 || value <= i64::from(i32::MAX) => Ok(value),
        value => Err(bad_number(name, token, value)),
    }
}

#[cold]
fn bad_number(name: &str, token: &[u8], value: Option<i64>) -> String {
    match value {
        Some(value) => format!("{name}: {value} does not fit in int32"),
        None => format!(
            "{name}: {:?} is not a non-negative integer",
            String::from_utf8_lossy(&token[..token.len().min(64)])
        ),
    }
}

/// Parses ASCII digits (at most 18, so the value always fits an i64): the
/// leading `len % 8` one by one, then eight at a time (timestamps are ten).
fn parse_unsigned(token: &[u8]) -> Option<i64> {
    if token.is_empty() || token.len() > 18 {
        return None;
    }
    let (head, eights) = token.split_at(token.len() % 8);
    let mut value = 0;
    for &b in head {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + i64::from(digit);
    }
    for chunk in eights.chunks_exact(8) {
        let word = u64::from_le_bytes(*chunk.first_chunk()?);
        value = value * 100_000_000 + eight_digits(word)?;
    }
    Some(value)
}

/// The value of eight ASCII digits read as a little-endian word, if they are
/// all digits (SWAR: pairs, then quads, then the eight, by multiplication).
fn eight_digits(word: u64) -> Option<i64> {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    let digits = word & HIGH | (word.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4;
    if digits != 0x3333_3333_3333_3333 {
        return None;
    }
    let pairs = (word & 0x0f0f_0f0f_0f0f_0f0f).wrapping_mul(10 << 8 | 1) >> 8;
    let quads = (pairs & 0x00ff_00ff_00ff_00ff).wrapping_mul(100 << 16 | 1) >> 16;
    let eight = (quads & 0x0000_ffff_0000_ffff).wrapping_mul(10_000 << 32 | 1) >> 32;
    Some(eight as i64)
}

#[cfg(test)]
mod tests;
