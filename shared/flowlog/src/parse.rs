//! The object parser: opens a delivered object (gzip, possibly several
//! members, possibly gzip inside gzip, or plain), tells from its first
//! decompressed bytes whether it holds flow log lines or JSON (Firehose
//! records, CloudWatch Logs payloads), and appends typed records straight into
//! a [`FlowTable`]. Lines are parsed byte by byte with no per-field
//! allocation; dimension values are interned, and a per-field cache skips even
//! the hash lookup when a value repeats the previous line's (account, ENI,
//! action, ...).

use std::io::{BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};

mod format;
mod json;
mod split;

use crate::container::Container;
use crate::fields;
use crate::formats::{Formats, LineFormat};
use crate::table::FlowTable;
#[cfg(test)]
use format::parse_unsigned;
use format::{DataLine, Format};

/// Raw text kept for a bad line, in bytes.
pub const MAX_RAW: usize = 1024;

/// A line that does not fit its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    /// Object key of the file.
    pub key: String,
    /// 1-based line number in the decompressed file (for JSON and Parquet
    /// objects, the record's number in the object).
    pub line: u64,
    /// The line, truncated to [`MAX_RAW`] bytes, invalid UTF-8 replaced.
    pub raw: String,
    /// Why it was rejected.
    pub reason: String,
}

impl BadLine {
    /// A bad line of `key`, its text truncated to [`MAX_RAW`] bytes.
    pub fn new(key: &str, line: u64, text: &[u8], reason: String) -> Self {
        BadLine {
            key: key.to_owned(),
            line,
            raw: String::from_utf8_lossy(&text[..text.len().min(MAX_RAW)]).into_owned(),
            reason,
        }
    }
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
    /// CloudWatch Logs `CONTROL_MESSAGE`s skipped (they carry no records).
    pub control_messages: u64,
}

impl FileReport {
    /// The report of a file rejected as a whole.
    pub fn rejected(key: &str, reason: String) -> Self {
        FileReport {
            bad_file: Some(BadFile {
                key: key.to_owned(),
                reason,
            }),
            ..FileReport::default()
        }
    }
}

/// Parses one delivered object (compressed or not) into `table`, headerless
/// lines read as version 2.
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

/// Looks at the table between chunks of an object, so that an object of any
/// size can be read within a memory budget: it may move the table's rows on
/// (spill them) and leave it empty, or ask for the object to be read again.
pub trait Checkpoint {
    /// Called after each chunk's records are appended, with `growth` 0, and
    /// before a format adds columns, with the bytes that adding them to the
    /// rows already in the table costs. [`Restart`] drops what the object
    /// added so far and ends its read: the caller makes room and reads it
    /// again.
    fn check(&mut self, table: &mut FlowTable, growth: usize) -> Result<(), Restart>;
}

/// Ends the read of an object to have it read again (see [`Checkpoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart;

/// The checkpoint of a read without a budget.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unbounded;

impl Checkpoint for Unbounded {
    fn check(&mut self, _: &mut FlowTable, _: usize) -> Result<(), Restart> {
        Ok(())
    }
}

impl Unbounded {
    /// Runs a read with this checkpoint, which never restarts it.
    pub fn read<T>(read: impl FnOnce(&mut Unbounded) -> Result<T, Restart>) -> T {
        match read(&mut Unbounded) {
            Ok(done) => done,
            Err(Restart) => unreachable!("an unbounded read never restarts"),
        }
    }
}

/// Why the read of an object stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The object is rejected whole, for this reason.
    Reject(String),
    /// Its checkpoint asked for it to be read again.
    Restart,
}

impl From<String> for Stop {
    fn from(reason: String) -> Self {
        Stop::Reject(reason)
    }
}

impl From<Restart> for Stop {
    fn from(_: Restart) -> Self {
        Stop::Restart
    }
}

/// Parses objects one after another, reusing its buffers, so that parsing
/// many small files allocates nothing per file.
#[derive(Debug, Default)]
pub struct Parser {
    /// Formats of headerless sources.
    formats: Formats,
    /// Decompressed text.
    buffer: Vec<u8>,
    /// The whole lines of the chunk in `buffer`.
    lines: Vec<(usize, usize)>,
    /// The data lines among them.
    data: Vec<DataLine>,
}

/// Decompressed text read at a time.
const CHUNK: usize = 256 * 1024;

impl Parser {
    /// A parser reading headerless sources with `formats`.
    pub fn new(formats: Formats) -> Self {
        Parser {
            formats,
            ..Parser::default()
        }
    }

    /// Parses one delivered object into `table`: flow log text (with a
    /// header, or headerless in its configured format), Firehose JSON
    /// records, or CloudWatch Logs payloads; gzip (any number of members,
    /// also gzip inside gzip) or plain. A Parquet object is rejected here:
    /// it is read by the Parquet layer.
    pub fn parse_object(&mut self, key: &str, data: &[u8], table: &mut FlowTable) -> FileReport {
        Unbounded::read(|unbounded| self.parse_object_with(key, data, table, unbounded))
    }

    /// [`Parser::parse_object`], calling `checkpoint` between chunks.
    pub fn parse_object_with(
        &mut self,
        key: &str,
        data: &[u8],
        table: &mut FlowTable,
        checkpoint: &mut dyn Checkpoint,
    ) -> Result<FileReport, Restart> {
        whole_or_rejected(key, table, |table, report| {
            let mut reader = open(data)?;
            let first = reader.fill_buf().map_err(|e| read_error(&e))?;
            if first.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                let buffer = &mut self.buffer;
                json::parse(
                    key,
                    reader,
                    &self.formats,
                    buffer,
                    table,
                    report,
                    checkpoint,
                )
            } else {
                self.parse_text(key, reader, table, report, checkpoint)
            }
        })
    }

    /// Parses decompressed flow log text from a reader into `table`.
    pub fn parse_reader(
        &mut self,
        key: &str,
        reader: impl Read,
        table: &mut FlowTable,
    ) -> FileReport {
        Unbounded::read(|unbounded| {
            whole_or_rejected(key, table, |table, report| {
                self.parse_text(key, reader, table, report, unbounded)
            })
        })
    }

    fn parse_text(
        &mut self,
        key: &str,
        mut reader: impl Read,
        table: &mut FlowTable,
        report: &mut FileReport,
        checkpoint: &mut dyn Checkpoint,
    ) -> Result<(), Stop> {
        let mut file = FileParser {
            key,
            report,
            number: 0,
            headerless: self.formats.for_key(key),
            format: None,
            data: &mut self.data,
            checkpoint,
        };
        for_each_chunk(
            &mut reader,
            &mut self.buffer,
            &mut self.lines,
            |chunk, lines| file.chunk(chunk, lines, table),
        )
    }
}

/// Runs `parse` over one object: its report, or, if it fails, the object
/// rejected whole with nothing of it left in `table` (a checkpoint only
/// spills a table that holds nothing but this object's rows, so what is
/// left of them is from `rows_before` on). A restart leaves nothing of it
/// either.
fn whole_or_rejected(
    key: &str,
    table: &mut FlowTable,
    parse: impl FnOnce(&mut FlowTable, &mut FileReport) -> Result<(), Stop>,
) -> Result<FileReport, Restart> {
    let rows_before = table.rows();
    let mut report = FileReport::default();
    let stop = match parse(table, &mut report) {
        Ok(()) => return Ok(report),
        Err(stop) => stop,
    };
    table.truncate(rows_before.min(table.rows()));
    match stop {
        Stop::Reject(reason) => Ok(FileReport::rejected(key, reason)),
        Stop::Restart => Err(Restart),
    }
}

/// The decompressed content of an object. Firehose compressing CloudWatch
/// Logs payloads (gzip already) gives gzip inside gzip: one level is opened.
fn open(data: &[u8]) -> Result<Box<dyn BufRead + '_>, String> {
    Ok(match Container::of(data) {
        Container::Gzip => {
            let mut outer = BufReader::with_capacity(CHUNK, MultiGzDecoder::new(data));
            let inner = outer.fill_buf().map_err(|e| read_error(&e))?;
            match Container::of(inner) {
                Container::Gzip => {
                    Box::new(BufReader::with_capacity(CHUNK, MultiGzDecoder::new(outer)))
                }
                _ => Box::new(outer),
            }
        }
        Container::Plain => Box::new(data),
        Container::Parquet => {
            return Err("an Apache Parquet object where text was expected".to_owned());
        }
        Container::Unsupported(name) => {
            return Err(format!(
                "{name}-compressed; flow logs are read as gzip or plain text"
            ));
        }
    })
}

/// Parses data lines of `chunk` with `format`, appending their records to
/// `table` and counting them (and the misfits, as bad lines) in `report`.
fn parse_lines(
    format: &mut Format,
    key: &str,
    chunk: &[u8],
    lines: &[DataLine],
    table: &mut FlowTable,
    report: &mut FileReport,
) {
    let bad = format.parse(chunk, lines, table);
    report.lines += lines.len() as u64;
    report.records += (lines.len() - bad.len()) as u64;
    for (at, reason) in bad {
        let line = lines[at];
        let text = &chunk[line.start..line.start + line.len];
        report
            .bad_lines
            .push(BadLine::new(key, line.number, text, reason));
    }
}

/// Reads into `buffer` a chunk at a time and calls `f` with the buffer and
/// where each whole line read so far is in it (start, length without the
/// `\n`, gathered in `lines`); only the unfinished line at the end of a
/// chunk is moved, to the buffer's front. Stops at the first error.
fn for_each_chunk(
    reader: &mut impl Read,
    buffer: &mut Vec<u8>,
    lines: &mut Vec<(usize, usize)>,
    mut f: impl FnMut(&[u8], &[(usize, usize)]) -> Result<(), Stop>,
) -> Result<(), Stop> {
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
            Err(e) => return Err(read_error(&e).into()),
        };
        let end = kept + read;
        let mut start = 0;
        lines.clear();
        for newline in memchr::memchr_iter(b'\n', &buffer[kept..end]) {
            let len = kept + newline - start;
            lines.push((start, len));
            start += len + 1;
        }
        if !lines.is_empty() {
            f(buffer, lines)?;
        }
        buffer.copy_within(start..end, 0);
        kept = end - start;
    }
    if kept == 0 {
        Ok(())
    } else {
        f(buffer, &[(0, kept)])
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

/// The state of one text file being parsed.
struct FileParser<'a> {
    key: &'a str,
    report: &'a mut FileReport,
    number: u64,
    /// The format of a file without a header line.
    headerless: &'a LineFormat,
    format: Option<Format>,
    /// The data lines of the chunk at hand.
    data: &'a mut Vec<DataLine>,
    checkpoint: &'a mut dyn Checkpoint,
}

impl FileParser<'_> {
    /// Handles the whole lines of a chunk; an error rejects the whole file.
    fn chunk(
        &mut self,
        chunk: &[u8],
        lines: &[(usize, usize)],
        table: &mut FlowTable,
    ) -> Result<(), Stop> {
        self.data.clear();
        for &(start, len) in lines {
            self.number += 1;
            let line = Line::new(&chunk[start..], len).trimmed();
            let text = line.text();
            if text.first().is_none_or(u8::is_ascii_whitespace)
                && text.iter().all(u8::is_ascii_whitespace)
            {
                continue;
            }
            if self.format.is_none() {
                self.first_line(line, table)?;
                continue;
            }
            self.data.push(DataLine {
                number: self.number,
                start,
                len: line.len,
            });
        }
        if let Some(format) = &mut self.format {
            parse_lines(format, self.key, chunk, self.data, table, self.report);
        }
        Ok(self.checkpoint.check(table, 0)?)
    }

    /// The first non-blank line: a header, or a record of the headerless
    /// format. A file starting with neither is some other text and is
    /// rejected whole.
    fn first_line(&mut self, line: Line<'_>, table: &mut FlowTable) -> Result<(), Stop> {
        let text = line.text();
        if text.contains(&0) {
            return Err(Stop::Reject("binary content, not a flow log".to_owned()));
        }
        if let Some(names) = header_names(text) {
            self.format = Some(resolve(&names, table, self.checkpoint)?);
            return Ok(());
        }
        let headerless = resolve(self.headerless.names(), table, self.checkpoint)?;
        let headerless = self.format.insert(headerless);
        let record = DataLine {
            number: self.number,
            start: 0,
            len: line.len,
        };
        if let Some((_, reason)) = headerless.parse(line.padded, &[record], table).pop() {
            let format = if *self.headerless == LineFormat::v2() {
                "a version 2 record".to_owned()
            } else {
                format!("a record of the configured format {}", self.headerless)
            };
            return Err(Stop::Reject(format!(
                "not a flow log: first line is neither a header nor {format} ({reason})"
            )));
        }
        self.report.lines += 1;
        self.report.records += 1;
        Ok(())
    }
}

/// A format of `names` resolved against `table`, once `checkpoint` has
/// seen what the columns it adds cost.
fn resolve<S: AsRef<str>>(
    names: &[S],
    table: &mut FlowTable,
    checkpoint: &mut dyn Checkpoint,
) -> Result<Format, Restart> {
    let defs: Vec<fields::ColumnDef> = names
        .iter()
        .map(|n| fields::ColumnDef::for_field(n.as_ref()))
        .collect();
    checkpoint.check(table, table.growth_of(&defs))?;
    Ok(Format::new(names, table))
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

#[cfg(test)]
mod tests;
