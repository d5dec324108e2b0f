//! Reading flowmerge Parquet back into a [`FlowTable`] (partials to combine,
//! outputs to verify). Column names map back to fields through the catalogue.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use bytes::Bytes;
use flowlog::{ColumnDef, Dict, FlowTable, NULL, NULL_CODE, Slot, Value};
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
    let mut row_codes = vec![NULL_CODE; table.dims().len()];
    let mut row_metrics = vec![NULL; table.metrics().len()];
    for batch in builder.build()? {
        let batch = batch?;
        // Convert column by column, then assemble rows.
        let mut dims: Vec<(usize, Vec<u32>)> = Vec::new();
        let mut metrics: Vec<(usize, Vec<i64>)> = Vec::new();
        for ((field, column), slot) in schema.fields().iter().zip(batch.columns()).zip(&slots) {
            match *slot {
                Slot::Dim(d) => dims.push((
                    d,
                    column_codes(table.dict_mut(d), field.name(), column.as_ref())?,
                )),
                Slot::Metric(m) => metrics.push((m, column_values(field.name(), column.as_ref())?)),
            }
        }
        for row in 0..batch.num_rows() {
            for (d, codes) in &dims {
                row_codes[*d] = codes[row];
            }
            for (m, values) in &metrics {
                row_metrics[*m] = values[row];
            }
            table.push_row(&row_codes, &row_metrics);
        }
    }
    Ok((table, metadata))
}

/// Interns a column's values. Flowmerge files are sorted, so values come in
/// runs: repeating the previous code skips the hash lookup.
fn column_codes(dict: &mut Dict, name: &str, column: &dyn Array) -> Result<Vec<u32>, ReadError> {
    let mut codes = Vec::with_capacity(column.len());
    match column.data_type() {
        DataType::Utf8 => {
            let strings = column.as_string::<i32>();
            let mut last: Option<(&str, u32)> = None;
            for value in strings.iter() {
                let code = match (value, last) {
                    (None, _) => NULL_CODE,
                    (Some(v), Some((prev, code))) if v == prev => code,
                    (Some(v), _) => {
                        let code = dict.intern_value(Value::Str(v));
                        last = Some((v, code));
                        code
                    }
                };
                codes.push(code);
            }
        }
        DataType::Int32 | DataType::Int64 => {
            let mut last: Option<(i64, u32)> = None;
            for value in column_values(name, column)? {
                let code = match last {
                    _ if value == NULL => NULL_CODE,
                    Some((prev, code)) if prev == value => code,
                    _ => {
                        let code = dict.intern_value(Value::Int(value));
                        last = Some((value, code));
                        code
                    }
                };
                codes.push(code);
            }
        }
        other => return Err(unsupported(name, other)),
    }
    Ok(codes)
}

/// A numeric column as `i64` values with [`NULL`] for nulls.
fn column_values(name: &str, column: &dyn Array) -> Result<Vec<i64>, ReadError> {
    Ok(match column.data_type() {
        DataType::Int32 => column
            .as_primitive::<Int32Type>()
            .iter()
            .map(|v| v.map_or(NULL, i64::from))
            .collect(),
        DataType::Int64 => column
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.unwrap_or(NULL))
            .collect(),
        other => return Err(unsupported(name, other)),
    })
}

fn unsupported(name: &str, data_type: &DataType) -> ReadError {
    ReadError::Type {
        column: name.to_owned(),
        data_type: data_type.clone(),
    }
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
