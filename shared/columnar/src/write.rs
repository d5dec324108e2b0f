//! Parquet writing: one function builds the writer properties, one writes a
//! sorted table into as many files as the target size needs.

use bytes::Bytes;
use flowlog::{FlowTable, Kind, Role};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

use crate::convert::{BatchEncoder, Source, output_columns};

/// Rows converted and handed to the writer at a time.
const BATCH_ROWS: usize = 64 * 1024;

/// How output files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Roll to a new file once a file reaches this many bytes.
    pub target_file_size: u64,
    /// Maximum rows per row group.
    pub row_group_rows: usize,
    /// zstd level.
    pub zstd_level: i32,
    /// Key-value metadata stored in every file's footer.
    pub metadata: Vec<(String, String)>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            target_file_size: 256 * 1024 * 1024,
            row_group_rows: 1024 * 1024,
            zstd_level: 3,
            metadata: Vec::new(),
        }
    }
}

/// A table that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Arrow conversion failed.
    #[error("converting rows to Arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The Parquet writer failed.
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

/// Writer properties for a table's output: zstd, dictionary encoding for
/// dimensions (values repeat: accounts, ENIs, addresses, ports), plain for
/// high-cardinality metrics, page statistics on dimensions for pruning, the
/// sort order declared, and optional footer metadata. No timestamps or random
/// ids, so the same rows give the same bytes.
pub fn writer_properties(table: &FlowTable, options: &WriteOptions) -> WriterProperties {
    let zstd = ZstdLevel::try_new(options.zstd_level).unwrap_or_default();
    let columns = output_columns(table);
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(zstd))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(options.row_group_rows))
        .set_sorting_columns(Some(sorting_columns(table, &columns)));
    for column in &columns {
        if let Source::Metric(_, def) = column
            && def.kind == Kind::Int64
        {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(def.column_name()), false)
                .set_column_statistics_enabled(
                    ColumnPath::from(def.column_name()),
                    EnabledStatistics::Chunk,
                );
        }
    }
    if !options.metadata.is_empty() {
        builder = builder.set_key_value_metadata(Some(
            options
                .metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect(),
        ));
    }
    builder.build()
}

/// Sort order of merged tables: every dimension in sort order, then `start`.
fn sorting_columns(table: &FlowTable, columns: &[Source<'_>]) -> Vec<SortingColumn> {
    let index_of = |name: &str| {
        columns
            .iter()
            .position(|c| c.def().name == name)
            .map(|i| SortingColumn {
                column_idx: i as i32,
                descending: false,
                nulls_first: true,
            })
    };
    table
        .dims()
        .iter()
        .map(|d| d.def.name.as_ref())
        .chain(
            table
                .metrics()
                .iter()
                .filter(|m| m.def.role == Role::Min)
                .map(|m| m.def.name.as_ref()),
        )
        .filter_map(index_of)
        .collect()
}

/// Writes a table (already sorted) into Parquet files of about
/// `target_file_size` bytes each, in row order. An empty table gives no file.
pub fn write_parquet(table: &FlowTable, options: &WriteOptions) -> Result<Vec<Bytes>, WriteError> {
    let encoder = BatchEncoder::new(table)?;
    let writer_options = ArrowWriterOptions::new()
        .with_properties(writer_properties(table, options))
        .with_skip_arrow_metadata(true);
    let mut files = Vec::new();
    let mut writer: Option<ArrowWriter<Vec<u8>>> = None;
    let mut start = 0;
    while start < table.rows() {
        let end = (start + BATCH_ROWS).min(table.rows());
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(ArrowWriter::try_new_with_options(
                Vec::new(),
                encoder.schema(),
                writer_options.clone(),
            )?),
        };
        w.write(&encoder.batch(start..end)?)?;
        if (w.bytes_written() + w.in_progress_size()) as u64 >= options.target_file_size
            && let Some(full) = writer.take()
        {
            files.push(Bytes::from(full.into_inner()?));
        }
        start = end;
    }
    if let Some(last) = writer {
        files.push(Bytes::from(last.into_inner()?));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use flowlog::parse_object;
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    fn sample(rows: usize) -> FlowTable {
        let mut text =
            String::from("version account-id srcaddr srcport packets bytes start end action\n");
        for i in 0..rows {
            text.push_str(&format!(
                "2 {} 10.0.{}.{} {} {} {} {} {} ACCEPT\n",
                100_000_000_000u64 + (i % 7) as u64,
                i % 250,
                i % 13,
                i % 1000,
                i,
                i * 40,
                1_700_000_000 + i,
                1_700_000_059 + i
            ));
        }
        let mut t = FlowTable::new();
        parse_object("s", text.as_bytes(), &mut t);
        t
    }

    #[test]
    fn properties_are_zstd_dictionary_and_sorted() {
        let t = sample(10);
        let props = writer_properties(&t, &WriteOptions::default());
        let col = |n: &str| ColumnPath::from(n);
        assert!(matches!(
            props.compression(&col("srcaddr")),
            Compression::ZSTD(_)
        ));
        assert!(props.dictionary_enabled(&col("srcaddr")));
        assert!(props.dictionary_enabled(&col("srcport")));
        assert!(!props.dictionary_enabled(&col("start")));
        assert_eq!(
            props.statistics_enabled(&col("account_id")),
            EnabledStatistics::Page
        );
        assert_eq!(props.max_row_group_row_count(), Some(1024 * 1024));
        let sorting = props.sorting_columns().unwrap();
        // account_id is the first dimension and the second output column.
        assert_eq!(sorting[0].column_idx, 1);
    }

    #[test]
    fn same_table_same_bytes() {
        let t = sample(5000);
        let a = write_parquet(&t, &WriteOptions::default()).unwrap();
        let b = write_parquet(&t, &WriteOptions::default()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rolls_files_at_the_target_size() {
        let t = sample(300_000);
        let options = WriteOptions {
            target_file_size: 512 * 1024,
            ..WriteOptions::default()
        };
        let files = write_parquet(&t, &options).unwrap();
        assert!(files.len() > 1, "{} files", files.len());
        let mut rows = 0;
        for file in &files {
            let reader = SerializedFileReader::new(file.clone()).unwrap();
            rows += reader.metadata().file_metadata().num_rows();
            let chunk = reader.metadata().row_group(0).column(2);
            assert!(
                chunk
                    .encodings()
                    .any(|e| e == Encoding::RLE_DICTIONARY || e == Encoding::PLAIN_DICTIONARY)
            );
        }
        assert_eq!(rows, 300_000);
    }

    #[test]
    fn empty_table_writes_nothing() {
        assert!(
            write_parquet(&FlowTable::new(), &WriteOptions::default())
                .unwrap()
                .is_empty()
        );
    }
}
