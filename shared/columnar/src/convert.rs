//! [`FlowTable`] → Arrow: the output schema, the output column order, and
//! metric columns as Arrow arrays (dimension columns are encoded from their
//! codes, see [`crate::dims`]).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use flowlog::{CATALOGUE, ColumnDef, FlowTable, Kind, NULL};

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

/// Every column an output file can hold, in output order, with its Athena
/// (Hive DDL) type: each catalogue field and `records`. Fields the catalogue
/// does not know are kept as strings but named only by the files that hold them.
pub fn athena_columns() -> Vec<(String, &'static str)> {
    let mut defs: Vec<ColumnDef> = CATALOGUE
        .iter()
        .map(|field| ColumnDef::for_field(field.name))
        .chain([ColumnDef::records()])
        .collect();
    defs.sort_by(|a, b| a.output_key().cmp(&b.output_key()));
    defs.iter()
        .map(|def| {
            let athena = match def.kind {
                Kind::Int32 => "int",
                Kind::Int64 => "bigint",
                Kind::Str => "string",
            };
            (def.column_name(), athena)
        })
        .collect()
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

/// A metric column's values as an Arrow array of its type.
pub(crate) fn metric_array(values: &[i64], kind: Kind) -> ArrayRef {
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
    }

    #[test]
    fn metric_nulls_survive() {
        let array = metric_array(&[NULL, 5], Kind::Int32);
        assert!(array.is_null(0));
        assert_eq!(
            array.as_primitive::<arrow::datatypes::Int32Type>().value(1),
            5
        );
    }
}
