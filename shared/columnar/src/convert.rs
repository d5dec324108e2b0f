//! [`FlowTable`] ⇄ Arrow. Dimension columns are materialised by `take` over
//! their dictionary values, so each distinct string is converted once.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use flowlog::{ColumnDef, Dict, FlowTable, Kind, NULL, NULL_CODE, Value};

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

/// Converts rows `range` of a table into a record batch with [`arrow_schema`].
pub fn to_record_batch(
    table: &FlowTable,
    range: std::ops::Range<usize>,
) -> Result<RecordBatch, ArrowError> {
    let schema = arrow_schema(table);
    let columns = output_columns(table)
        .iter()
        .map(|c| match c {
            Source::Dim(dim, def) => dim_array(table, *dim, def.kind, range.clone()),
            Source::Metric(m, def) => Ok(metric_array(
                &table.metrics()[*m].values[range.clone()],
                def.kind,
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema, columns)
}

fn dim_array(
    table: &FlowTable,
    dim: usize,
    kind: Kind,
    range: std::ops::Range<usize>,
) -> Result<ArrayRef, ArrowError> {
    let dict = &table.dims()[dim].dict;
    let codes: Vec<u32> = range.map(|row| table.row(row)[dim]).collect();
    let nulls = null_buffer(&codes, NULL_CODE);
    let int = |code: u32| match dict.value(code) {
        Value::Int(i) => i,
        _ => 0,
    };
    Ok(match (dict, kind) {
        (Dict::Str(_), _) => {
            let values =
                StringArray::from_iter_values((1..=dict.len() as u32).map(
                    |c| match dict.value(c) {
                        Value::Str(s) => s,
                        _ => "",
                    },
                ));
            // Code c is dictionary value c - 1 (null cells are masked).
            let indices = codes.iter().map(|&c| c.saturating_sub(1)).collect();
            take(&values, &UInt32Array::new(indices, nulls), None)?
        }
        (Dict::Int(_), Kind::Int32) => Arc::new(Int32Array::new(
            codes.iter().map(|&c| int(c) as i32).collect(),
            nulls,
        )),
        (Dict::Int(_), _) => Arc::new(Int64Array::new(
            codes.iter().map(|&c| int(c)).collect(),
            nulls,
        )),
    })
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
    cells
        .contains(&null)
        .then(|| cells.iter().map(|&c| c != null).collect())
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;
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
        let batch = to_record_batch(&t, 0..1).unwrap();
        assert_eq!(batch.num_rows(), 1);
        let status = batch
            .column(5)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(status.value(0), "OK");
    }

    #[test]
    fn nulls_survive() {
        let mut t = FlowTable::new();
        parse_object("f", b"account-id srcport packets\n- - -\n1 22 5\n", &mut t);
        let batch = to_record_batch(&t, 0..2).unwrap();
        for column in batch.columns().iter().take(3) {
            assert!(column.is_null(0));
            assert!(!column.is_null(1));
        }
    }
}
