//! Parquet writing: one function builds the writer properties, one writes a
//! sorted table into as many files as the target size needs.

use bytes::Bytes;
use flowlog::{FlowTable, Kind, RECORDS, Role};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

use crate::convert::{Source, arrow_schema, output_columns};
use crate::dims::RankedDict;
use crate::file::{OpenFile, RowGroup};

/// Rows converted and handed to the writer at a time, at most.
const BATCH_ROWS: usize = 64 * 1024;

/// Rows handed to the writer at a time, at least: the first batch of each
/// file, which tells the size of a row.
const MIN_BATCH_ROWS: usize = 1024;

/// The zstd level output is written at. Level 1 is both faster and, on flow
/// logs, smaller than zstd's own default of 3: `make bench`'s data came out
/// 1.6 % smaller and the profiling data set 1.1 % smaller, for 3.4 % fewer
/// instructions in all.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Columns that carry a bloom filter per row group: the ones a lookup of
/// one address or interface filters on, whose values sorting does not
/// bound (an address's rows lie under every account and interface).
pub const BLOOM_FILTER_FIELDS: [&str; 5] = [
    "interface-id",
    "srcaddr",
    "dstaddr",
    "pkt-srcaddr",
    "pkt-dstaddr",
];

/// False positive probability of those filters.
const BLOOM_FILTER_FPP: f64 = 0.01;

/// The zstd levels output may be written at.
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

/// How output files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Roll to a new file once a file reaches this many bytes.
    pub target_file_size: u64,
    /// Maximum rows per row group.
    pub row_group_rows: usize,
    /// zstd level ([`DEFAULT_ZSTD_LEVEL`] unless set).
    pub zstd_level: i32,
    /// Key-value metadata stored in every file's footer.
    pub metadata: Vec<(String, String)>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            target_file_size: 256 * 1024 * 1024,
            row_group_rows: 1024 * 1024,
            zstd_level: DEFAULT_ZSTD_LEVEL,
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
    /// The options cannot be honoured.
    #[error("invalid write options: {0}")]
    Options(String),
}

/// Writer properties for a table's output: zstd, dictionary encoding for
/// the times and record counts of a window (a few hundred distinct values),
/// plain for packet and byte counters (nearly one value per row), page
/// statistics on dimensions for pruning, the sort order declared, and
/// optional footer metadata. Dimensions are encoded page by page, dictionary
/// or plain by measurement ([`crate::dims`]). No timestamps or random ids, so
/// the same rows give the same bytes.
pub fn writer_properties(
    table: &FlowTable,
    options: &WriteOptions,
) -> Result<WriterProperties, WriteError> {
    if !ZSTD_LEVELS.contains(&options.zstd_level) {
        return Err(WriteError::Options(format!(
            "zstd level {} is not one of {}..={}",
            options.zstd_level,
            ZSTD_LEVELS.start(),
            ZSTD_LEVELS.end()
        )));
    }
    let zstd = ZstdLevel::try_new(options.zstd_level)?;
    let columns = output_columns(table);
    let mut builder = WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::ZSTD(zstd))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(options.row_group_rows))
        .set_sorting_columns(Some(sorting_columns(table, &columns)));
    for column in &columns {
        if let Source::Dim(_, def) = column
            && BLOOM_FILTER_FIELDS.contains(&def.name.as_ref())
        {
            let path = ColumnPath::from(def.column_name());
            builder = builder
                .set_column_bloom_filter_enabled(path.clone(), true)
                .set_column_bloom_filter_fpp(path, BLOOM_FILTER_FPP);
        }
        if let Source::Metric(_, def) = column
            && def.kind == Kind::Int64
        {
            let path = ColumnPath::from(def.column_name());
            builder = builder.set_column_statistics_enabled(path.clone(), EnabledStatistics::Chunk);
            if def.role == Role::Sum && def.name != RECORDS {
                builder = builder.set_column_dictionary_enabled(path, false);
            }
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
    Ok(builder.build())
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
///
/// Dimension columns are encoded from their codes ([`crate::dims`]); metric
/// columns go through the Arrow column writer.
pub fn write_parquet(table: &FlowTable, options: &WriteOptions) -> Result<Vec<Bytes>, WriteError> {
    let mut writer = ParquetWriter::new(options.clone());
    let mut files = writer.write(table)?;
    files.extend(writer.finish()?);
    Ok(files)
}

/// Writes sorted tables one after another (all with the same columns) into
/// Parquet files of about the target size each, handing each file over as it
/// is done, so that output of any size is written holding one file. A
/// table's rows share no row group with another table's.
pub struct ParquetWriter {
    options: WriteOptions,
    file: Option<OpenFile>,
    /// Rows in the open file.
    file_rows: usize,
}

impl std::fmt::Debug for ParquetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("options", &self.options)
            .field("file_rows", &self.file_rows)
            .finish_non_exhaustive()
    }
}

impl ParquetWriter {
    /// A writer with these options.
    pub fn new(options: WriteOptions) -> Self {
        ParquetWriter {
            options,
            file: None,
            file_rows: 0,
        }
    }

    /// Writes the rows of `table`; returns the files that filled up.
    pub fn write(&mut self, table: &FlowTable) -> Result<Vec<Bytes>, WriteError> {
        let options = &self.options;
        let columns = output_columns(table);
        let dicts: Vec<RankedDict<'_>> = table
            .dims()
            .iter()
            .map(|d| RankedDict::new(&d.dict, d.def.kind))
            .collect();
        let schema = arrow_schema(table);
        let mut files = Vec::new();
        let mut group: Option<RowGroup<'_, '_>> = None;
        let mut start = 0;
        while start < table.rows() {
            let open = match &mut self.file {
                Some(open) => open,
                None => {
                    self.file_rows = 0;
                    let writer_options = ArrowWriterOptions::new()
                        .with_properties(writer_properties(table, options)?)
                        .with_skip_arrow_metadata(true);
                    self.file
                        .insert(OpenFile::new(&schema, writer_options, options.zstd_level)?)
                }
            };
            let current = match &mut group {
                Some(current) => current,
                None => group.insert(open.row_group(&columns, &dicts, start)?),
            };
            let file_bytes = |open: &OpenFile, current: &RowGroup<'_, '_>| {
                (open.bytes_written() + current.estimated_size()) as u64
            };
            let batch = batch_rows(
                file_bytes(open, current),
                self.file_rows,
                options.target_file_size,
            );
            let end = (start + batch)
                .min(current.first + options.row_group_rows.max(1))
                .min(table.rows());
            current.write(table, start..end, open)?;
            self.file_rows += end - start;
            start = end;
            let full = file_bytes(open, current) >= options.target_file_size;
            if (full || end - current.first >= options.row_group_rows || end == table.rows())
                && let Some(done) = group.take()
            {
                open.append(done)?;
            }
            if full && let Some(done) = self.file.take() {
                files.push(done.finish()?);
            }
        }
        Ok(files)
    }

    /// The last file, if it has rows.
    pub fn finish(mut self) -> Result<Option<Bytes>, WriteError> {
        self.file.take().map(OpenFile::finish).transpose()
    }
}

/// Rows of the next batch of a file holding `rows` rows in `bytes`: as many
/// as its rows' size so far says reach `target`, within
/// [`MIN_BATCH_ROWS`]..=[`BATCH_ROWS`], so a file passes its target by
/// little whatever the target.
fn batch_rows(bytes: u64, rows: usize, target: u64) -> usize {
    if rows == 0 {
        return MIN_BATCH_ROWS;
    }
    let per_row = bytes.div_ceil(rows as u64).max(1);
    let left = target.saturating_sub(bytes).div_ceil(per_row);
    usize::try_from(left)
        .unwrap_or(usize::MAX)
        .clamp(MIN_BATCH_ROWS, BATCH_ROWS)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, AsArray, Int32Array, RecordBatch, StringArray};
    use arrow::compute::concat_batches;
    use flowlog::{Value, parse_object};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::basic::Encoding;
    use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
    use parquet::file::page_index::column_index::{ColumnIndexMetaData, PrimitiveColumnIndex};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn a_zstd_level_out_of_range_is_refused_not_replaced() {
        let mut table = FlowTable::new();
        flowlog::parse_object(
            "t",
            b"2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 100 159 ACCEPT OK\n",
            &mut table,
        );
        for level in [0, 23, -1] {
            let options = WriteOptions {
                zstd_level: level,
                ..WriteOptions::default()
            };
            let err = write_parquet(&table, &options).unwrap_err().to_string();
            assert!(
                err.contains(&format!("zstd level {level} is not one of 1..=22")),
                "{err}"
            );
        }
    }
    use crate::convert::metric_array;

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
        let props = writer_properties(&t, &WriteOptions::default()).unwrap();
        let col = |n: &str| ColumnPath::from(n);
        assert!(matches!(
            props.compression(&col("srcaddr")),
            Compression::ZSTD(_)
        ));
        assert!(props.dictionary_enabled(&col("srcaddr")));
        assert!(props.dictionary_enabled(&col("srcport")));
        assert!(props.dictionary_enabled(&col("start")));
        assert!(!props.dictionary_enabled(&col("bytes")));
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
            // account_id: seven values.
            let chunk = reader.metadata().row_group(0).column(1);
            assert!(
                chunk
                    .encodings()
                    .any(|e| e == Encoding::RLE_DICTIONARY || e == Encoding::PLAIN_DICTIONARY)
            );
        }
        assert_eq!(rows, 300_000);
    }

    #[test]
    fn a_small_target_rolls_files_near_it() {
        let t = sample(20_000);
        let target = 64 * 1024;
        let options = WriteOptions {
            target_file_size: target,
            ..WriteOptions::default()
        };
        let files = write_parquet(&t, &options).unwrap();
        let sizes: Vec<usize> = files.iter().map(Bytes::len).collect();
        // One batch of the most rows would be a single file of them all.
        assert!(files.len() > 2, "{sizes:?}");
        assert!(
            sizes.iter().all(|&size| size as u64 <= target * 3 / 2),
            "{sizes:?}"
        );
        let rows: i64 = files
            .iter()
            .map(|f| {
                let reader = SerializedFileReader::new(f.clone()).unwrap();
                reader.metadata().file_metadata().num_rows()
            })
            .sum();
        assert_eq!(rows, 20_000);
    }

    /// The table's rows as one record batch with [`arrow_schema`], built cell
    /// by cell: what the Arrow writer gets when it writes every column.
    fn reference_batch(t: &FlowTable) -> RecordBatch {
        let columns = output_columns(t)
            .iter()
            .map(|column| -> ArrayRef {
                match column {
                    Source::Dim(dim, def) => {
                        let dict = &t.dims()[*dim].dict;
                        let cells = (0..t.rows()).map(|r| dict.value(t.row(r)[*dim]));
                        match def.kind {
                            Kind::Str => Arc::new(StringArray::from_iter(cells.map(|v| match v {
                                Value::Str(s) => Some(s.to_owned()),
                                _ => None,
                            }))),
                            _ => Arc::new(Int32Array::from_iter(cells.map(|v| match v {
                                Value::Int(i) => Some(i as i32),
                                _ => None,
                            }))),
                        }
                    }
                    Source::Metric(m, def) => metric_array(&t.metrics()[*m].values, def.kind),
                }
            })
            .collect();
        RecordBatch::try_new(arrow_schema(t), columns).unwrap()
    }

    /// Per page of a column index: null page, min, max (as plain bytes), nulls.
    type IndexPage = (bool, Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>);

    fn index_pages(index: &ColumnIndexMetaData) -> Vec<IndexPage> {
        match index {
            ColumnIndexMetaData::BYTE_ARRAY(i) => (0..i.num_pages() as usize)
                .map(|p| {
                    let (min, max) = (i.min_value(p), i.max_value(p));
                    let v = |x: Option<&[u8]>| x.map(<[u8]>::to_vec);
                    (i.is_null_page(p), v(min), v(max), i.null_count(p))
                })
                .collect(),
            ColumnIndexMetaData::INT32(i) => primitive_pages(i, |v| v.to_le_bytes().to_vec()),
            ColumnIndexMetaData::INT64(i) => primitive_pages(i, |v| v.to_le_bytes().to_vec()),
            other => panic!("unexpected index {other:?}"),
        }
    }

    fn primitive_pages<T>(
        index: &PrimitiveColumnIndex<T>,
        bytes: impl Fn(&T) -> Vec<u8>,
    ) -> Vec<IndexPage> {
        (0..index.num_pages() as usize)
            .map(|p| {
                let (min, max) = (index.min_value(p), index.max_value(p));
                (
                    index.is_null_page(p),
                    min.map(&bytes),
                    max.map(&bytes),
                    index.null_count(p),
                )
            })
            .collect()
    }

    fn read(file: &Bytes) -> (RecordBatch, Arc<ParquetMetaData>) {
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new_with_options(file.clone(), options).unwrap();
        let metadata = builder.metadata().clone();
        let schema = builder.schema().clone();
        let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
        (concat_batches(&schema, &batches).unwrap(), metadata)
    }

    /// Dimension columns encoded from codes read back as the Arrow writer's
    /// would: same values, same chunk statistics, same page index bounds
    /// (one page), and for a table whose codes are not in value order.
    #[test]
    fn dimension_chunks_match_the_arrow_writer() {
        let mut t = sample(5000);
        parse_object("n", b"version account-id srcaddr srcport packets bytes start end action\n- - - - - - - - -\n", &mut t);
        let options = WriteOptions::default();
        let ours = write_parquet(&t, &options).unwrap().remove(0);
        let mut theirs = ArrowWriter::try_new_with_options(
            Vec::new(),
            arrow_schema(&t),
            ArrowWriterOptions::new()
                .with_properties(writer_properties(&t, &options).unwrap())
                .with_skip_arrow_metadata(true),
        )
        .unwrap();
        theirs.write(&reference_batch(&t)).unwrap();
        let theirs = Bytes::from(theirs.into_inner().unwrap());

        let ((ours_rows, ours_meta), (their_rows, their_meta)) = (read(&ours), read(&theirs));
        assert_eq!(ours_rows, their_rows);
        assert_eq!(ours_rows, reference_batch(&t));
        let (ours_group, their_group) = (ours_meta.row_group(0), their_meta.row_group(0));
        let mut indexed = 0;
        for (c, (a, b)) in ours_group
            .columns()
            .iter()
            .zip(their_group.columns())
            .enumerate()
        {
            let (a_stats, b_stats) = (a.statistics().unwrap(), b.statistics().unwrap());
            assert_eq!(
                a_stats.min_bytes_opt(),
                b_stats.min_bytes_opt(),
                "column {c}"
            );
            assert_eq!(
                a_stats.max_bytes_opt(),
                b_stats.max_bytes_opt(),
                "column {c}"
            );
            assert_eq!(
                a_stats.null_count_opt(),
                b_stats.null_count_opt(),
                "column {c}"
            );
            let index =
                |m: &ParquetMetaData| m.page_index_for_row_group(0).column_index(c).cloned();
            match (index(&ours_meta), index(&their_meta)) {
                (Some(a), Some(b)) => {
                    assert_eq!(index_pages(&a), index_pages(&b), "column {c}");
                    assert_eq!(a.get_boundary_order(), b.get_boundary_order(), "column {c}");
                    indexed += 1;
                }
                (None, None) => {}
                (a, b) => panic!("column {c}: page index {a:?} against {b:?}"),
            }
        }
        // Every dimension (version, account_id, srcaddr, srcport, action) and
        // the int32 metrics have one.
        assert!(indexed >= 5, "{indexed} columns indexed");
    }

    /// Pages are cut every `data_page_row_count_limit` rows, and the page
    /// indexes describe each: rows, nulls and bounds.
    #[test]
    fn dimension_pages_are_indexed() {
        let t = sample(45_000);
        let file = write_parquet(&t, &WriteOptions::default())
            .unwrap()
            .remove(0);
        let (rows, metadata) = read(&file);
        assert_eq!(rows, reference_batch(&t));
        let srcaddr = output_columns(&t)
            .iter()
            .position(|c| c.def().name == "srcaddr")
            .unwrap();
        let page_index = metadata.page_index_for_row_group(0);
        let offsets = &page_index.offset_index(srcaddr).unwrap().page_locations;
        let firsts: Vec<i64> = offsets.iter().map(|p| p.first_row_index).collect();
        assert_eq!(firsts, [0, 20_000, 40_000]);
        let pages = index_pages(page_index.column_index(srcaddr).unwrap());
        assert_eq!(pages.len(), 3);
        let column = rows.column(srcaddr).as_string::<i32>();
        for (page, start) in pages.iter().zip([0usize, 20_000, 40_000]) {
            let end = (start + 20_000).min(t.rows());
            let values: Vec<&str> = (start..end).map(|r| column.value(r)).collect();
            let min = values.iter().min().map(|v| v.as_bytes().to_vec());
            let max = values.iter().max().map(|v| v.as_bytes().to_vec());
            assert_eq!(page, &(false, min, max, Some(0)));
        }
    }

    /// Address columns carry a bloom filter per row group that holds every
    /// value of the chunk, hashed as readers hash it; other columns none.
    #[test]
    fn address_columns_have_bloom_filters_readers_agree_with() {
        let t = sample(45_000);
        let options = WriteOptions {
            row_group_rows: 20_000,
            ..WriteOptions::default()
        };
        let file = write_parquet(&t, &options).unwrap().remove(0);
        let reader_options = parquet::file::serialized_reader::ReadOptionsBuilder::new()
            .with_reader_properties(
                parquet::file::properties::ReaderProperties::builder()
                    .set_read_bloom_filter(true)
                    .build(),
            )
            .build();
        let reader = SerializedFileReader::new_with_options(file.clone(), reader_options).unwrap();
        let (rows, _) = read(&file);
        let names: Vec<String> = output_columns(&t)
            .iter()
            .map(|c| c.def().column_name())
            .collect();
        let srcaddr = names.iter().position(|n| n == "srcaddr").unwrap();
        let account = names.iter().position(|n| n == "account_id").unwrap();
        let column = rows.column(srcaddr).as_string::<i32>();
        assert_eq!(reader.num_row_groups(), 3);
        let mut absent_hits = 0;
        for group in 0..3 {
            let row_group = reader.get_row_group(group).unwrap();
            assert!(row_group.get_column_bloom_filter(account).is_none());
            let filter = row_group
                .get_column_bloom_filter(srcaddr)
                .expect("srcaddr has a bloom filter");
            let (start, end) = (group * 20_000, ((group + 1) * 20_000).min(t.rows()));
            for r in start..end {
                assert!(filter.check(column.value(r)), "row {r}");
            }
            absent_hits += (0..1000)
                .filter(|i| filter.check(&format!("192.0.2.{i}")[..]))
                .count();
        }
        assert!(absent_hits < 60, "{absent_hits} of 3000 absent values pass");
    }

    /// A page whose values are mostly new to its chunk is plain where that
    /// is smaller, a page of repeating values uses the dictionary, and either
    /// reads back as written.
    #[test]
    fn each_page_is_encoded_the_way_its_values_favour() {
        let mut text =
            String::from("version account-id srcaddr srcport packets bytes start end action\n");
        for i in 0..60_000u64 {
            let hash = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
            let (addr, port) = if i < 40_000 {
                // A client address and an ephemeral port nearly every row.
                let [a, b, c, ..] = (hash as u32).to_le_bytes();
                (format!("{a}.{b}.{c}.{}", i % 251), 1024 + hash % 64_000)
            } else {
                (format!("10.0.0.{}", i % 5), 443)
            };
            text.push_str(&format!(
                "2 {} {addr} {port} 1 40 1700000000 1700000059 ACCEPT\n",
                100_000_000_000 + i % 7
            ));
        }
        let mut t = FlowTable::new();
        parse_object("s", text.as_bytes(), &mut t);
        let file = write_parquet(&t, &WriteOptions::default())
            .unwrap()
            .remove(0);
        let (rows, _) = read(&file);
        assert_eq!(rows, reference_batch(&t));

        let reader = SerializedFileReader::new(file).unwrap();
        let group = reader.get_row_group(0).unwrap();
        let encodings = |name: &str| -> Vec<Encoding> {
            let column = output_columns(&t)
                .iter()
                .position(|c| c.def().name == name)
                .unwrap();
            let pages = group.get_column_page_reader(column).unwrap();
            pages
                .map(|page| page.unwrap())
                .filter(|page| page.page_type() == parquet::basic::PageType::DATA_PAGE)
                .map(|page| page.encoding())
                .collect()
        };
        let (plain, dictionary) = (Encoding::PLAIN, Encoding::RLE_DICTIONARY);
        assert_eq!(encodings("srcaddr"), [plain, plain, dictionary]);
        assert_eq!(encodings("srcport"), [plain, plain, dictionary]);
        assert_eq!(encodings("account-id"), [dictionary; 3]);
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
