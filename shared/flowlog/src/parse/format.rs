//! A file's format resolved against a table's columns, and the parsing of
//! its data lines a batch at a time: the batch's lines are split into fields
//! first, then each field is parsed down the batch, one column at a time. A
//! column's loop does one kind of work (numbers, or one dictionary's lookups
//! with its cache of the previous value), so it runs without a dispatch per
//! field, and a batch is small enough to stay in the fastest cache.

use crate::dict::{Dict, NULL_CODE, key};
use crate::fields::{self, ColumnDef, Kind};
use crate::table::{FlowTable, NULL, Slot};

use super::{Line, split};

/// Lines parsed together.
const BATCH: usize = 128;

/// How one field of a format lands in the table. A string field keeps the
/// previous line's value (its key; `(0, 0)` for a long string) and code, to
/// skip interning a repeated value (account, ENI, action, ...).
#[derive(Debug, Clone, Copy)]
enum Field {
    StrDim {
        dim: usize,
        last: (u128, u128),
        last_code: u32,
    },
    IntDim {
        dim: usize,
        kind: Kind,
    },
    Metric {
        metric: usize,
        kind: Kind,
    },
}

/// A data line of a chunk: its number in the file, and where it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct DataLine {
    pub(super) number: u64,
    pub(super) start: usize,
    pub(super) len: usize,
}

/// Why a line does not fit its format.
#[derive(Debug, Clone, Copy)]
enum Misfit {
    /// It has this many fields, not the format's.
    Count(usize),
    /// The field at this index is not valid UTF-8.
    Utf8(usize),
    /// The field at this index is not a number of its kind.
    Number(usize),
}

#[derive(Debug)]
pub(super) struct Format {
    names: Vec<String>,
    fields: Vec<Field>,
    /// Dimensions of the table the format was resolved against.
    width: usize,
    /// That table's [`FlowTable::epoch`]: the cached codes are its.
    epoch: u64,
    /// A new row's metrics: null but `records` (1). Its codes are null.
    metrics: Vec<i64>,
    /// The fields of a batch's lines, field by field: where field `f` of
    /// line `l` starts and ends in the chunk is `spans[f * BATCH + l]`.
    spans: Vec<(usize, usize)>,
    /// Each line's misfit, if it has one.
    misfits: Vec<Option<Misfit>>,
}

impl Format {
    pub(super) fn new<S: AsRef<str>>(names: &[S], table: &mut FlowTable) -> Format {
        let defs: Vec<ColumnDef> = names
            .iter()
            .map(|n| ColumnDef::for_field(n.as_ref()))
            .collect();
        table.ensure_columns(&defs);
        let fields = defs
            .iter()
            .map(|def| match (table.slot(&def.name), def.kind) {
                (Some(Slot::Dim(dim)), Kind::Str) => Field::StrDim {
                    dim,
                    last: (0, 0),
                    last_code: NULL_CODE,
                },
                (Some(Slot::Dim(dim)), kind) => Field::IntDim { dim, kind },
                (Some(Slot::Metric(metric)), kind) => Field::Metric { metric, kind },
                (None, _) => unreachable!("column ensured above"),
            })
            .collect();
        let mut metrics = vec![NULL; table.metrics().len()];
        if let Some(records) = table.metric_index(fields::RECORDS) {
            metrics[records] = 1;
        }
        Format {
            names: names.iter().map(|n| n.as_ref().to_owned()).collect(),
            fields,
            width: table.dims().len(),
            epoch: table.epoch(),
            metrics,
            spans: vec![(0, 0); names.len() * BATCH],
            misfits: Vec::with_capacity(BATCH),
        }
    }

    /// Parses data lines of `chunk` and appends their records in line order.
    /// Returns the lines that do not fit, by index into `lines`, with why;
    /// nothing of those is appended.
    pub(super) fn parse(
        &mut self,
        chunk: &[u8],
        lines: &[DataLine],
        table: &mut FlowTable,
    ) -> Vec<(usize, String)> {
        // A table shared by several files may have gained columns since this
        // format was resolved, or been replaced by one with fresh
        // dictionaries (a spill); re-resolve once in that case.
        if self.width != table.dims().len()
            || self.metrics.len() != table.metrics().len()
            || self.epoch != table.epoch()
        {
            *self = Format::new(&self.names, table);
        }
        let mut bad = Vec::new();
        for (at, batch) in (0..).step_by(BATCH).zip(lines.chunks(BATCH)) {
            self.parse_batch(chunk, batch, table);
            for (i, misfit) in self.misfits.iter().enumerate() {
                if let Some(misfit) = misfit {
                    let line = batch[i];
                    let line = Line::new(&chunk[line.start..], line.len);
                    bad.push((at + i, self.explain(*misfit, line)));
                }
            }
        }
        bad
    }

    fn parse_batch(&mut self, chunk: &[u8], lines: &[DataLine], table: &mut FlowTable) {
        self.split(chunk, lines);
        let first = table.rows();
        table.push_rows(lines.len(), &self.metrics);
        let width = self.width;
        for (f, field) in self.fields.iter_mut().enumerate() {
            let spans = &self.spans[f * BATCH..f * BATCH + lines.len()];
            let misfits = &self.misfits;
            // The lines that fit so far, with their field's text (not `-`).
            let values = spans.iter().enumerate().filter_map(|(l, &(start, end))| {
                let value = &chunk[start..end];
                (misfits[l].is_none() && value != b"-").then_some((l, value))
            });
            let (failed, misfit) = match *field {
                Field::StrDim {
                    dim,
                    ref mut last,
                    ref mut last_code,
                } => {
                    let (Dict::Str(dict), codes) = table.dim_cells(dim, first) else {
                        unreachable!("string fields have string columns")
                    };
                    let mut failed = Vec::new();
                    for (l, value) in values {
                        let code = match key(value) {
                            Some(key) if key == *last => Ok(*last_code),
                            Some(key) => dict.intern_key(key, value).inspect(|&code| {
                                (*last, *last_code) = (key, code);
                            }),
                            None if *last_code != NULL_CODE && dict.span(*last_code) == value => {
                                Ok(*last_code)
                            }
                            None => dict.intern_checked(value).inspect(|&code| {
                                (*last, *last_code) = ((0, 0), code);
                            }),
                        };
                        match code {
                            Ok(code) => codes[l * width + dim] = code,
                            Err(_) => failed.push(l),
                        }
                    }
                    (failed, Misfit::Utf8(f))
                }
                Field::IntDim { dim, kind } => {
                    let (Dict::Int(dict), codes) = table.dim_cells(dim, first) else {
                        unreachable!("integer fields have integer columns")
                    };
                    // All numbers first, each with the code the dense table
                    // holds: its loads (ports miss the cache) then do not
                    // wait on each other. A new value is interned after.
                    let mut numbers = Vec::with_capacity(lines.len());
                    let mut failed = Vec::new();
                    for (l, value) in values {
                        match number(value, kind) {
                            Some(value) => numbers.push((l, value, dict.dense_code(value))),
                            None => failed.push(l),
                        }
                    }
                    for (l, value, code) in numbers {
                        codes[l * width + dim] = match code {
                            NULL_CODE => dict.intern(value),
                            code => code,
                        };
                    }
                    (failed, Misfit::Number(f))
                }
                Field::Metric { metric, kind } => {
                    let cells = table.metric_cells(metric, first);
                    let mut failed = Vec::new();
                    for (l, value) in values {
                        match number(value, kind) {
                            Some(value) => cells[l] = value,
                            None => failed.push(l),
                        }
                    }
                    (failed, Misfit::Number(f))
                }
            };
            for l in failed {
                self.misfits[l] = Some(misfit);
            }
        }
        if self.misfits.iter().any(Option::is_some) {
            let misfits = &self.misfits;
            table.drop_rows(first, |l| misfits[l].is_some());
        }
    }

    /// Finds the fields of each line; a line with more or fewer than the
    /// format's is a misfit.
    fn split(&mut self, chunk: &[u8], lines: &[DataLine]) {
        self.misfits.clear();
        let count = self.fields.len();
        for (l, line) in lines.iter().enumerate() {
            let mut fields = split::Fields::padded(&chunk[line.start..], line.len);
            let mut found = 0;
            while let Some((start, end)) = fields.next_span() {
                if found < count {
                    self.spans[found * BATCH + l] = (line.start + start, line.start + end);
                }
                found += 1;
            }
            self.misfits
                .push((found != count).then_some(Misfit::Count(found)));
        }
    }

    /// Why a line was rejected.
    #[cold]
    fn explain(&self, misfit: Misfit, line: Line<'_>) -> String {
        let (at, utf8) = match misfit {
            Misfit::Count(found) => {
                return format!("expected {} fields, found {found}", self.fields.len());
            }
            Misfit::Utf8(at) => (at, true),
            Misfit::Number(at) => (at, false),
        };
        let name = &self.names[at];
        let token = line.fields().nth(at).unwrap_or_default();
        match (utf8, parse_unsigned(token)) {
            (true, _) => format!("{name}: invalid UTF-8"),
            (false, Some(value)) => format!("{name}: {value} does not fit in int32"),
            (false, None) => format!(
                "{name}: {:?} is not a non-negative integer",
                String::from_utf8_lossy(&token[..token.len().min(64)])
            ),
        }
    }
}

/// A field's value as an integer of its kind.
fn number(token: &[u8], kind: Kind) -> Option<i64> {
    parse_unsigned(token).filter(|&value| kind != Kind::Int32 || value <= i64::from(i32::MAX))
}

/// Parses ASCII digits (at most 18, so the value always fits an i64): the
/// leading `len % 8` one by one, then eight at a time (timestamps are ten).
pub(super) fn parse_unsigned(token: &[u8]) -> Option<i64> {
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
