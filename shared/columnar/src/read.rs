//! Reading flowmerge Parquet back into a [`FlowTable`] (partials to combine,
//! outputs to verify). Column names map back to fields through the catalogue.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use bytes::Bytes;
use flowlog::{ColumnDef, Dict, FlowTable, NULL, NULL_CODE, Slot};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A file that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not Parquet, or corrupt.
    #[error("reading Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A batch could not be decoded.
    #[error("decoding Arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A column has a type flowmerge does not write.
    #[error("column {column}: unsupported type {data_type}")]
    Type {
        /// Column name.
        column: String,
        /// Its Arrow type.
        data_type: DataType,
    },
}

/// Reads a whole Parquet file into a table; also returns the footer's
/// key-value metadata.
pub fn read_parquet(data: Bytes) -> Result<(FlowTable, Vec<(String, String)>), ReadError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(data)?;
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
    let schema = builder.schema().clone();
    let mut table = FlowTable::new();
    let slots: Vec<Slot> = schema
        .fields()
        .iter()
        .map(|f| table.ensure_column(&ColumnDef::for_column(f.name())))
        .collect();
    // Ensuring may shift earlier slots; resolve again once all exist.
    let slots: Vec<Slot> = schema
        .fields()
        .iter()
        .zip(slots)
        .map(|(f, s)| {
            table
                .slot(&ColumnDef::for_column(f.name()).name)
                .unwrap_or(s)
        })
        .collect();
    let mut codes = vec![NULL_CODE; table.dims().len()];
    let mut metrics = vec![NULL; table.metrics().len()];
    for batch in builder.build()? {
        let batch = batch?;
        for row in 0..batch.num_rows() {
            for ((field, column), slot) in schema.fields().iter().zip(batch.columns()).zip(&slots) {
                let value = cell(field.name(), column.as_ref(), row)?;
                match (*slot, value) {
                    (Slot::Dim(d), Cell::Null) => codes[d] = NULL_CODE,
                    (Slot::Dim(d), Cell::Int(i)) => {
                        codes[d] = table.dict_mut(d).intern_value(flowlog::Value::Int(i));
                    }
                    (Slot::Dim(d), Cell::Str(s)) => codes[d] = intern_str(table.dict_mut(d), s),
                    (Slot::Metric(m), Cell::Int(i)) => metrics[m] = i,
                    (Slot::Metric(m), Cell::Null | Cell::Str(_)) => metrics[m] = NULL,
                }
            }
            table.push_row(&codes, &metrics);
        }
    }
    Ok((table, metadata))
}

fn intern_str(dict: &mut Dict, s: &str) -> u32 {
    dict.intern_value(flowlog::Value::Str(s))
}

enum Cell<'a> {
    Null,
    Int(i64),
    Str(&'a str),
}

fn cell<'a>(name: &str, column: &'a dyn Array, row: usize) -> Result<Cell<'a>, ReadError> {
    if column.is_null(row) {
        return Ok(Cell::Null);
    }
    Ok(match column.data_type() {
        DataType::Int32 => Cell::Int(i64::from(column.as_primitive::<Int32Type>().value(row))),
        DataType::Int64 => Cell::Int(column.as_primitive::<Int64Type>().value(row)),
        DataType::Utf8 => Cell::Str(column.as_string::<i32>().value(row)),
        other => {
            return Err(ReadError::Type {
                column: name.to_owned(),
                data_type: other.clone(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use flowlog::parse_object;

    use super::*;
    use crate::{WriteOptions, write_parquet};

    #[test]
    fn round_trip_keeps_every_cell_and_metadata() {
        let mut t = FlowTable::new();
        let text = "version account-id srcaddr srcport packets start end tcp-flags odd-field\n\
                    2 1 ::1 22 5 100 159 3 x\n2 - - - - 1 2 - -\n";
        parse_object("f", text.as_bytes(), &mut t);
        let options = WriteOptions {
            metadata: vec![("flowmerge.window".into(), "2026-11-22T13:05Z".into())],
            ..WriteOptions::default()
        };
        let files = write_parquet(&t, &options).unwrap();
        let (back, metadata) = read_parquet(files[0].clone()).unwrap();
        assert!(metadata.contains(&("flowmerge.window".into(), "2026-11-22T13:05Z".into())));
        let again = write_parquet(&back, &options).unwrap();
        assert_eq!(files, again, "read-then-write reproduces the file");
        assert_eq!(back.metric("records").unwrap(), [1, 1]);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(read_parquet(Bytes::from_static(b"not parquet")).is_err());
    }
}
