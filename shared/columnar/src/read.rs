//! Reading Parquet into a [`FlowTable`]: AWS's native Parquet flow logs
//! (`file-format=parquet`, input like any other delivery) and flowmerge's own
//! files (partials to combine, outputs to verify). Columns map onto the
//! catalogue by name (`log_status` or `log-status`); a column the catalogue
//! does not know is kept as a string; a field a file lacks is null. Record
//! batches stream a row group at a time, so only the compressed object is
//! held whole.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use arrow::util::display::array_value_to_string;
use bytes::Bytes;
use flowlog::{
    BadLine, Checkpoint, ColumnDef, Dict, FileReport, FlowTable, Kind, NULL, NULL_CODE, Restart,
    Slot, Unbounded, Value,
};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::file::metadata::PageIndexPolicy;

/// A file that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not Parquet, or corrupt.
    #[error("reading Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The Parquet or Arrow reader gave up on malformed data with a panic.
    #[error("reading Parquet: malformed data stopped the reader: {0}")]
    Malformed(String),
    /// A batch could not be decoded.
    #[error("decoding Arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A column whose type cannot hold its field.
    #[error("column {column}: type {data_type} cannot hold {kind:?} values")]
    Type {
        /// Column name.
        column: String,
        /// Its Arrow type.
        data_type: DataType,
        /// The field's type.
        kind: Kind,
    },
    /// Two columns name the same field.
    #[error("columns {first} and {second} both hold the field {field}")]
    Duplicate {
        /// The first column.
        first: String,
        /// The second column.
        second: String,
        /// The field.
        field: String,
    },
    /// A value that does not fit its field (only flowmerge's own files
    /// must have none).
    #[error("row {row}: {reason}")]
    Value {
        /// 1-based row number in the file.
        row: u64,
        /// Why.
        reason: String,
    },
}

/// Rows read per batch.
const BATCH_ROWS: usize = 8192;

/// Reads one native Parquet flow log object into `table`. Rows whose values
/// do not fit their fields (a negative count, an int32 overflow) are bad
/// lines, numbered by row; a file that is not Parquet, or has a column that
/// cannot hold its field, is rejected whole.
///
/// ```
/// # let table = {
/// #     let mut t = flowlog::FlowTable::new();
/// #     flowlog::parse_object("f", b"2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 100 159 ACCEPT OK\n", &mut t);
/// #     t
/// # };
/// let file = columnar::write_parquet(&table, &columnar::WriteOptions::default())?.remove(0);
/// let mut back = flowlog::FlowTable::new();
/// let report = columnar::read_native("x.log.parquet", file, &mut back);
/// assert_eq!((report.records, back.rows()), (1, 1));
/// # Ok::<(), columnar::WriteError>(())
/// ```
pub fn read_native(key: &str, data: Bytes, table: &mut FlowTable) -> FileReport {
    Unbounded::read(|unbounded| read_native_with(key, data, table, unbounded))
}

/// [`read_native`], calling `checkpoint` after each batch (see
/// [`flowlog::Checkpoint`]).
pub fn read_native_with(
    key: &str,
    data: Bytes,
    table: &mut FlowTable,
    checkpoint: &mut dyn Checkpoint,
) -> Result<FileReport, Restart> {
    let rows_before = table.rows();
    let mut report = FileReport::default();
    let read = read_into(data, None, table, checkpoint, |row, reason, text| {
        report.lines += 1;
        match reason {
            None => report.records += 1,
            Some(reason) => {
                report
                    .bad_lines
                    .push(BadLine::new(key, row, text().as_bytes(), reason))
            }
        }
    });
    match read {
        Ok(Ok(_)) => Ok(report),
        Ok(Err(Restart)) => {
            table.truncate(rows_before.min(table.rows()));
            Err(Restart)
        }
        Err(e) => {
            table.truncate(rows_before.min(table.rows()));
            Ok(FileReport::rejected(key, format!("native Parquet: {e}")))
        }
    }
}

/// Reads a whole flowmerge Parquet file into a table; also returns the
/// footer's key-value metadata. Any value that does not fit is an error.
pub fn read_parquet(data: Bytes) -> Result<(FlowTable, Vec<(String, String)>), ReadError> {
    read_selected(data, None)
}

/// Reads the rows of a flowmerge Parquet file whose string column `column`
/// holds a value `keep` accepts (`None` for null, or for a file without
/// the column). The column is read first; the others only for the rows
/// kept, so pages of rows dropped whole are skipped through the page index
/// (a file sorted by `column` keeps its runs together).
pub fn read_parquet_where(
    data: Bytes,
    column: &str,
    keep: impl Fn(Option<&str>) -> bool,
) -> Result<FlowTable, ReadError> {
    let selection = guarded(|| select_rows(&data, column, &keep))?;
    Ok(read_selected(data, Some(selection))?.0)
}

/// The runs of rows whose `column` value `keep` accepts.
fn select_rows(
    data: &Bytes,
    column: &str,
    keep: impl Fn(Option<&str>) -> bool,
) -> Result<RowSelection, ReadError> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(data.clone())?.with_batch_size(BATCH_ROWS);
    let rows = builder.metadata().file_metadata().num_rows();
    let Some(index) = builder
        .schema()
        .fields()
        .iter()
        .position(|f| f.name() == column)
    else {
        let all = usize::try_from(rows).unwrap_or(0);
        return Ok(RowSelection::from(vec![if keep(None) {
            RowSelector::select(all)
        } else {
            RowSelector::skip(all)
        }]));
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let mut runs: Vec<RowSelector> = Vec::new();
    for batch in builder.with_projection(mask).build()? {
        let batch = batch?;
        let values = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let values = values.as_string::<i32>();
        for value in values.iter() {
            let kept = keep(value);
            match runs.last_mut() {
                Some(run) if run.skip != kept => run.row_count += 1,
                _ => runs.push(if kept {
                    RowSelector::select(1)
                } else {
                    RowSelector::skip(1)
                }),
            }
        }
    }
    Ok(RowSelection::from(runs))
}

fn read_selected(
    data: Bytes,
    selection: Option<RowSelection>,
) -> Result<(FlowTable, Vec<(String, String)>), ReadError> {
    let mut table = FlowTable::new();
    let mut bad = None;
    let read = read_into(
        data,
        selection,
        &mut table,
        &mut Unbounded,
        |row, reason, _| {
            if let (None, Some(reason)) = (&bad, reason) {
                bad = Some(ReadError::Value { row, reason });
            }
        },
    )?;
    let metadata = Unbounded::read(|_| read);
    match bad {
        Some(e) => Err(e),
        None => Ok((table, metadata)),
    }
}

/// Appends the rows that fit to `table`, telling `row` about each (its
/// number, why it does not fit if it does not, and its text, for a bad
/// line), and `checkpoint` after each batch. Returns the footer's
/// key-value metadata, or the checkpoint's [`Restart`].
///
/// The parquet and arrow crates panic on some malformed files instead of
/// returning an error (found by the `parquet_partial` fuzz target); such a
/// file is an error here, never a crashed step. `table` may then hold some of
/// its rows: callers drop them.
fn read_into(
    data: Bytes,
    selection: Option<RowSelection>,
    table: &mut FlowTable,
    checkpoint: &mut dyn Checkpoint,
    row: impl FnMut(u64, Option<String>, &dyn Fn() -> String),
) -> Result<Result<Metadata, Restart>, ReadError> {
    guarded(|| read_rows(data, selection, table, checkpoint, row))
}

/// A file footer's key-value metadata.
type Metadata = Vec<(String, String)>;

/// Runs a read, turning a panic of the parquet or arrow reader into
/// [`ReadError::Malformed`].
fn guarded<T>(read: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(ReadError::Malformed(message))
    })
}

fn read_rows(
    data: Bytes,
    selection: Option<RowSelection>,
    table: &mut FlowTable,
    checkpoint: &mut dyn Checkpoint,
    mut row: impl FnMut(u64, Option<String>, &dyn Fn() -> String),
) -> Result<Result<Metadata, Restart>, ReadError> {
    let mut batches = Batches::open(data, selection, BATCH_ROWS)?;
    if let Err(restart) = checkpoint.check(table, table.growth_of(&batches.defs)) {
        return Ok(Err(restart));
    }
    table.ensure_columns(&batches.defs);
    while let Some(batch) = batches.reader.next() {
        batches.append(&batch?, table, &mut row)?;
        if let Err(restart) = checkpoint.check(table, 0) {
            return Ok(Err(restart));
        }
    }
    Ok(Ok(batches.metadata))
}

/// A Parquet file's record batches and what its columns are.
struct Batches {
    reader: ParquetRecordBatchReader,
    names: Vec<String>,
    defs: Vec<ColumnDef>,
    metadata: Metadata,
    /// Rows read so far.
    number: u64,
}

impl Batches {
    fn open(data: Bytes, selection: Option<RowSelection>, rows: usize) -> Result<Self, ReadError> {
        // The offset index lets a selection skip pages without decoding them.
        let index = match selection {
            Some(_) => PageIndexPolicy::Optional,
            None => PageIndexPolicy::Skip,
        };
        let mut builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
            data,
            ArrowReaderOptions::new().with_offset_index_policy(index),
        )?
        .with_batch_size(rows);
        if let Some(selection) = selection {
            builder = builder.with_row_selection(selection);
        }
        let metadata = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .map(|kv| {
                kv.iter()
                    .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let names: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let defs = column_defs(&names)?;
        Ok(Batches {
            reader: builder.build()?,
            names,
            defs,
            metadata,
            number: 0,
        })
    }

    /// Appends the rows of `batch` that fit to `table` (which holds the
    /// file's columns), telling `row` about each (see [`read_into`]).
    fn append(
        &mut self,
        batch: &RecordBatch,
        table: &mut FlowTable,
        row: &mut impl FnMut(u64, Option<String>, &dyn Fn() -> String),
    ) -> Result<(), ReadError> {
        let slots: Vec<Slot> = self
            .defs
            .iter()
            .map(|d| {
                table
                    .slot(&d.name)
                    .unwrap_or_else(|| unreachable!("the file's columns are in the table"))
            })
            .collect();
        let records = table.metric_index(flowlog::RECORDS);
        let cells = Cells::of(batch, &self.names, &self.defs, &slots, table)?;
        let mut codes = vec![NULL_CODE; table.dims().len()];
        let mut metrics = vec![NULL; table.metrics().len()];
        for r in 0..batch.num_rows() {
            self.number += 1;
            if let Some(reason) = &cells.misfits[r] {
                row(self.number, Some(reason.clone()), &|| row_text(batch, r));
                continue;
            }
            metrics.fill(NULL);
            if let (Some(records), false) = (records, cells.has_records) {
                metrics[records] = 1;
            }
            for (d, column) in &cells.dims {
                codes[*d] = column[r];
            }
            for (m, column) in &cells.metrics {
                metrics[*m] = column[r];
            }
            table.push_row(&codes, &metrics);
            row(self.number, None, &|| String::new());
        }
        Ok(())
    }
}

/// A flowmerge Parquet file read a batch at a time, each batch a table of
/// its own (with the file's columns), so that sorted partials are merged
/// while holding a batch of each (the streaming merge reads these).
/// Any value that does not fit is an error, as in [`read_parquet`].
pub struct PartChunks {
    data: Bytes,
    batches: Batches,
    columns: FlowTable,
    rows: usize,
}

impl PartChunks {
    /// The file `data`, read `rows` rows at a time.
    pub fn new(data: Bytes, rows: usize) -> Result<Self, ReadError> {
        let rows = rows.max(1);
        let batches = guarded(|| Batches::open(data.clone(), None, rows))?;
        let mut columns = FlowTable::new();
        columns.ensure_columns(&batches.defs);
        Ok(PartChunks {
            data,
            batches,
            columns,
            rows,
        })
    }

    /// The same file from its start, read `rows` rows at a time (once its
    /// columns tell how many rows a batch may have).
    pub fn with_rows(self, rows: usize) -> Result<Self, ReadError> {
        PartChunks::new(self.data, rows)
    }

    /// The file's columns, as an empty table.
    pub fn columns(&self) -> &FlowTable {
        &self.columns
    }

    fn next_chunk(&mut self) -> Result<Option<FlowTable>, ReadError> {
        let Some(batch) = self.batches.reader.next() else {
            return Ok(None);
        };
        let batch = batch?;
        let mut table = self.columns.empty_like(self.rows);
        let mut bad = None;
        self.batches
            .append(&batch, &mut table, &mut |row, reason, _| {
                if let (None, Some(reason)) = (&bad, reason) {
                    bad = Some(ReadError::Value { row, reason });
                }
            })?;
        bad.map_or(Ok(Some(table)), Err)
    }
}

impl std::fmt::Debug for PartChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartChunks")
            .field("columns", &self.columns.columns().count())
            .field("rows", &self.rows)
            .field("read", &self.batches.number)
            .finish()
    }
}

impl Iterator for PartChunks {
    type Item = Result<FlowTable, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        guarded(|| self.next_chunk()).transpose()
    }
}

/// The fields of a file's columns; two columns may not name one field.
fn column_defs(names: &[String]) -> Result<Vec<ColumnDef>, ReadError> {
    let defs: Vec<ColumnDef> = names.iter().map(|n| ColumnDef::for_column(n)).collect();
    for (i, def) in defs.iter().enumerate() {
        if let Some(j) = defs[..i].iter().position(|d| d.name == def.name) {
            return Err(ReadError::Duplicate {
                first: names[j].clone(),
                second: names[i].clone(),
                field: def.name.to_string(),
            });
        }
    }
    Ok(defs)
}

/// One batch converted column by column: codes of dimensions, values of
/// metrics, and the first misfit of each row.
struct Cells {
    dims: Vec<(usize, Vec<u32>)>,
    metrics: Vec<(usize, Vec<i64>)>,
    misfits: Vec<Option<String>>,
    has_records: bool,
}

impl Cells {
    fn of(
        batch: &RecordBatch,
        names: &[String],
        defs: &[ColumnDef],
        slots: &[Slot],
        table: &mut FlowTable,
    ) -> Result<Cells, ReadError> {
        let mut cells = Cells {
            dims: Vec::new(),
            metrics: Vec::new(),
            misfits: vec![None; batch.num_rows()],
            has_records: false,
        };
        for (((column, name), def), slot) in batch.columns().iter().zip(names).zip(defs).zip(slots)
        {
            let misfit = |row: usize, cells: &mut Cells, reason: String| {
                cells.misfits[row].get_or_insert_with(|| format!("{name}: {reason}"));
            };
            match (*slot, def.kind) {
                (Slot::Dim(d), Kind::Str) => {
                    let codes = string_codes(table.dict_mut(d), column)?;
                    cells.dims.push((d, codes));
                }
                (slot, kind) => {
                    let mut values = integers(name, kind, column)?;
                    for (row, value) in values.iter_mut().enumerate() {
                        if let Err(reason) = check(*value, kind) {
                            misfit(row, &mut cells, reason);
                            *value = NULL;
                        }
                    }
                    match slot {
                        Slot::Dim(d) => {
                            cells
                                .dims
                                .push((d, integer_codes(table.dict_mut(d), &values)));
                        }
                        Slot::Metric(m) => {
                            cells.has_records |= def.name == flowlog::RECORDS;
                            cells.metrics.push((m, values));
                        }
                    }
                }
            }
        }
        Ok(cells)
    }
}

/// A value read as an integer, if it fits its field: non-negative, and
/// within int32 for an int32 field. `Err` holds why not.
fn check(value: i64, kind: Kind) -> Result<(), String> {
    match value {
        NULL => Ok(()),
        NOT_A_NUMBER => Err("not a non-negative integer".to_owned()),
        TOO_LARGE => Err("does not fit in int64".to_owned()),
        v if v < 0 => Err(format!("{v} is not a non-negative integer")),
        v if kind == Kind::Int32 && v > i64::from(i32::MAX) => {
            Err(format!("{v} does not fit in int32"))
        }
        _ => Ok(()),
    }
}

/// Mark a string that is not a number and a value past `i64::MAX`; [`check`]
/// turns them into misfits.
const NOT_A_NUMBER: i64 = NULL + 1;
const TOO_LARGE: i64 = NULL + 2;

/// An integer column of any width (or numbers written as strings) as `i64`
/// values, [`NULL`] for null and `-`.
fn integers(name: &str, kind: Kind, column: &ArrayRef) -> Result<Vec<i64>, ReadError> {
    fn all<T: arrow::datatypes::ArrowPrimitiveType>(
        column: &ArrayRef,
        to_i64: impl Fn(T::Native) -> i64,
    ) -> Vec<i64> {
        column
            .as_primitive::<T>()
            .iter()
            .map(|v| v.map_or(NULL, &to_i64))
            .collect()
    }
    let unsigned = |v: u64| i64::try_from(v).unwrap_or(TOO_LARGE);
    Ok(match column.data_type() {
        DataType::Int8 => all::<Int8Type>(column, i64::from),
        DataType::Int16 => all::<Int16Type>(column, i64::from),
        DataType::Int32 => all::<Int32Type>(column, i64::from),
        DataType::Int64 => all::<Int64Type>(column, |v| v),
        DataType::UInt8 => all::<UInt8Type>(column, i64::from),
        DataType::UInt16 => all::<UInt16Type>(column, i64::from),
        DataType::UInt32 => all::<UInt32Type>(column, i64::from),
        DataType::UInt64 => all::<UInt64Type>(column, unsigned),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            let strings = as_strings(column)?;
            strings
                .as_string::<i32>()
                .iter()
                .map(|v| match v {
                    None | Some("-") => NULL,
                    Some(text) => text.parse::<u64>().map_or(NOT_A_NUMBER, unsigned),
                })
                .collect()
        }
        other => {
            return Err(ReadError::Type {
                column: name.to_owned(),
                data_type: other.clone(),
                kind,
            });
        }
    })
}

/// A column as plain UTF-8 strings (numbers and booleans of an unknown
/// column are kept as their text).
fn as_strings(column: &ArrayRef) -> Result<ArrayRef, ReadError> {
    match column.data_type() {
        DataType::Utf8 => Ok(column.clone()),
        _ => Ok(arrow::compute::cast(column, &DataType::Utf8)?),
    }
}

/// Interns a string column's values; `-` is null, as in text flow logs.
/// Sorted or repetitive files come in runs: repeating the previous code
/// skips the hash lookup.
fn string_codes(dict: &mut Dict, column: &ArrayRef) -> Result<Vec<u32>, ReadError> {
    let strings = as_strings(column)?;
    let mut last: Option<(&str, u32)> = None;
    Ok(strings
        .as_string::<i32>()
        .iter()
        .map(|value| match (value, last) {
            (None | Some("-"), _) => NULL_CODE,
            (Some(v), Some((prev, code))) if v == prev => code,
            (Some(v), _) => {
                let code = dict.intern_value(Value::Str(v));
                last = Some((v, code));
                code
            }
        })
        .collect())
}

/// Interns an integer column's values, repeating the previous code for a
/// run of one value (as [`string_codes`] does).
fn integer_codes(dict: &mut Dict, values: &[i64]) -> Vec<u32> {
    let mut last: Option<(i64, u32)> = None;
    values
        .iter()
        .map(|&value| match (value, last) {
            (NULL, _) => NULL_CODE,
            (v, Some((prev, code))) if v == prev => code,
            (v, _) => {
                let code = dict.intern_value(Value::Int(v));
                last = Some((v, code));
                code
            }
        })
        .collect()
}

/// A row as text, for a bad line: its cells, space-separated.
#[cold]
fn row_text(batch: &RecordBatch, row: usize) -> String {
    batch
        .columns()
        .iter()
        .map(|c| match c.is_null(row) {
            true => "-".to_owned(),
            false => array_value_to_string(c, row).unwrap_or_default(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
