//! [`FlowTable`] → Arrow. String dimensions become dictionary arrays over
//! their dictionary's values, so each distinct string is converted once.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Array, Int64Array, StringArray, UInt32Array, UInt32DictionaryArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use flowlog::{ColumnDef, Dict, FlowTable, Kind, NULL, NULL_CODE, StrDict};

/// A column of the table in output order.
pub(crate) enum Source<'a> {
    Dim(usize, &'a ColumnDef),
    Metric(usize, &'a ColumnDef),
}

impl Source<'_> {
    pub(crate) fn def(&self) -> &ColumnDef {
        match self {
            Source::Dim(_, def) | Source::Metric(_, def) => def,
        }
    }
}

/// Columns in output order: catalogue order, unknown fields, then `records`.
pub(crate) fn output_columns(table: &FlowTable) -> Vec<Source<'_>> {
    let mut columns: Vec<Source<'_>> = table
        .dims()
        .iter()
        .enumerate()
        .map(|(i, d)| Source::Dim(i, &d.def))
        .chain(
            table
                .metrics()
                .iter()
                .enumerate()
                .map(|(i, m)| Source::Metric(i, &m.def)),
        )
        .collect();
    columns.sort_by(|a, b| a.def().output_key().cmp(&b.def().output_key()));
    columns
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Int32 => DataType::Int32,
        Kind::Int64 => DataType::Int64,
        Kind::Str => DataType::Utf8,
    }
}

/// The Arrow schema of a table's output: AWS column names (dashes become
/// underscores) and types, `records` last and non-null.
pub fn arrow_schema(table: &FlowTable) -> SchemaRef {
    let fields: Vec<Field> = output_columns(table)
        .iter()
        .map(|c| {
            let def = c.def();
            Field::new(
                def.column_name(),
                data_type(def.kind),
                def.name != flowlog::RECORDS,
            )
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The schema batches are written with: [`arrow_schema`], except that string
/// dimensions are dictionary arrays of their codes, so no string is copied
/// per row. The Parquet writer encodes them exactly as plain strings, and
/// files are written without the Arrow schema, so readers see `Utf8`.
pub(crate) fn write_schema(table: &FlowTable) -> SchemaRef {
    let fields: Vec<Field> = arrow_schema(table)
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 => f.as_ref().clone().with_data_type(DataType::Dictionary(
                Box::new(DataType::UInt32),
                Box::new(DataType::Utf8),
            )),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Converts tables into record batches with [`write_schema`]; each
/// dictionary is converted once, however many batches are taken.
pub(crate) struct BatchEncoder<'a> {
    table: &'a FlowTable,
    schema: SchemaRef,
    columns: Vec<ColumnSource<'a>>,
}

/// How one output column is read from the table.
enum ColumnSource<'a> {
    /// String dimension: its codes index these values.
    Strings(usize, ArrayRef),
    /// Integer dimension: `values[code]` (null code 0 reads 0, masked).
    Ints(usize, Kind, Vec<i64>),
    /// Metric column: its values.
    Metric(&'a [i64], Kind),
}

impl<'a> BatchEncoder<'a> {
    pub(crate) fn new(table: &'a FlowTable) -> Result<Self, ArrowError> {
        let columns = output_columns(table)
            .iter()
            .map(|c| match c {
                Source::Dim(dim, def) => match &table.dims()[*dim].dict {
                    Dict::Str(strings) => Ok(ColumnSource::Strings(*dim, string_values(strings)?)),
                    Dict::Int(dict) => {
                        let values = std::iter::once(0).chain(dict.values().iter().copied());
                        Ok(ColumnSource::Ints(*dim, def.kind, values.collect()))
                    }
                },
                Source::Metric(m, def) => {
                    Ok(ColumnSource::Metric(&table.metrics()[*m].values, def.kind))
                }
            })
            .collect::<Result<_, ArrowError>>()?;
        Ok(BatchEncoder {
            table,
            schema: write_schema(table),
            columns,
        })
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows `range` of the table as a record batch.
    pub(crate) fn batch(&self, range: Range<usize>) -> Result<RecordBatch, ArrowError> {
        let columns = self
            .columns
            .iter()
            .map(|column| column.array(self.table, range.clone()))
            .collect::<Result<Vec<_>, ArrowError>>()?;
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}

impl ColumnSource<'_> {
    /// Rows `range` of this column.
    fn array(&self, table: &FlowTable, range: Range<usize>) -> Result<ArrayRef, ArrowError> {
        let codes =
            |dim: usize| -> Vec<u32> { range.clone().map(|row| table.row(row)[dim]).collect() };
        Ok(match self {
            ColumnSource::Strings(dim, values) => {
                let codes = codes(*dim);
                let nulls = null_buffer(&codes, NULL_CODE);
                // Code c is dictionary value c - 1 (null cells are masked).
                let keys = codes.iter().map(|&c| c.saturating_sub(1)).collect();
                let keys = UInt32Array::new(keys, nulls);
                Arc::new(UInt32DictionaryArray::try_new(keys, values.clone())?)
            }
            ColumnSource::Ints(dim, kind, values) => {
                let codes = codes(*dim);
                let nulls = null_buffer(&codes, NULL_CODE);
                let values = codes.iter().map(|&c| values[c as usize]);
                match kind {
                    Kind::Int32 => {
                        Arc::new(Int32Array::new(values.map(|v| v as i32).collect(), nulls))
                    }
                    _ => Arc::new(Int64Array::new(values.collect(), nulls)),
                }
            }
            ColumnSource::Metric(values, kind) => metric_array(&values[range], *kind),
        })
    }
}

/// A string dictionary's values as one Arrow array over a copy of its arena
/// (validated as UTF-8 once, not value by value).
fn string_values(dict: &StrDict) -> Result<ArrayRef, ArrowError> {
    let (bytes, ends) = dict.arena();
    let offsets = std::iter::once(Ok(0))
        .chain(ends.iter().map(|&end| i32::try_from(end)))
        .collect::<Result<Vec<i32>, _>>()
        .map_err(|_| ArrowError::ComputeError("dictionary over 2 GiB".to_owned()))?;
    let array = StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from(bytes),
        None,
    )?;
    Ok(Arc::new(array))
}

fn metric_array(values: &[i64], kind: Kind) -> ArrayRef {
    let nulls = null_buffer(values, NULL);
    match kind {
        // The parser bounds int32 fields, and OR keeps values in range.
        Kind::Int32 => Arc::new(Int32Array::new(
            values.iter().map(|&v| v as i32).collect(),
            nulls,
        )),
        Kind::Int64 | Kind::Str => Arc::new(Int64Array::new(values.to_vec().into(), nulls)),
    }
}

/// The validity of `cells` (`null` marks a null), or none if nothing is null.
fn null_buffer<T: Copy + PartialEq>(cells: &[T], null: T) -> Option<NullBuffer> {
    cells.contains(&null).then(|| {
        NullBuffer::new(BooleanBuffer::collect_bool(cells.len(), |i| {
            cells[i] != null
        }))
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::UInt32Type;
    use flowlog::parse_object;

    use super::*;

    #[test]
    fn schema_uses_aws_names_and_types() {
        let mut t = FlowTable::new();
        let text =
            "version account-id log-status tcp-flags bytes start end x-custom\n2 1 OK 3 10 1 2 a\n";
        parse_object("f", text.as_bytes(), &mut t);
        let schema = arrow_schema(&t);
        let got: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type().clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("version", DataType::Int32),
                ("account_id", DataType::Utf8),
                ("bytes", DataType::Int64),
                ("start", DataType::Int64),
                ("end", DataType::Int64),
                ("log_status", DataType::Utf8),
                ("tcp_flags", DataType::Int32),
                ("x_custom", DataType::Utf8),
                ("records", DataType::Int64),
            ]
        );
        let batch = BatchEncoder::new(&t).unwrap().batch(0..1).unwrap();
        assert_eq!(batch.num_rows(), 1);
        let status = batch.column(5).as_dictionary::<UInt32Type>();
        let values = status.values().as_string::<i32>();
        assert_eq!(values.value(status.keys().value(0) as usize), "OK");
    }

    #[test]
    fn nulls_survive() {
        let mut t = FlowTable::new();
        parse_object("f", b"account-id srcport packets\n- - -\n1 22 5\n", &mut t);
        let batch = BatchEncoder::new(&t).unwrap().batch(0..2).unwrap();
        for column in batch.columns().iter().take(3) {
            assert!(column.is_null(0));
            assert!(!column.is_null(1));
        }
    }
}
