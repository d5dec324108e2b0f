//! Dimension column chunks encoded as Parquet pages straight from a table's
//! codes, without the Arrow writer's per-cell work (hashing each value into
//! its own dictionary, comparing each for statistics).
//!
//! A cell is already a code into its column's dictionary. A chunk gives each
//! code it meets the next index of its own dictionary (a lookup in a
//! code-indexed table), its data pages hold those indices hybrid-encoded, and
//! its dictionary page holds the values in index order. A page whose values
//! are mostly new to the chunk (client addresses, ephemeral ports) is also
//! encoded plain, and the smaller of the two kept: on internet-facing traffic
//! nearly every such value occurs once, and its index costs more than it saves. Statistics compare
//! codes by rank in value order: a merged table's codes are in value order
//! already, so ranks are only sorted for tables that were not merged.

use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Compression, CompressionCodec, Encoding};
use parquet::bloom_filter::Sbbf;
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use flowlog::{Dict, IntDict, Kind, NULL_CODE};

use crate::hybrid;

/// Compresses pages (with the level the file's properties name); one is
/// shared by a file's chunks, so its tables are set up once.
pub(crate) type Compressor = zstd::bulk::Compressor<'static>;

/// One dimension column of a table, as its chunks are written.
#[derive(Debug)]
pub(crate) struct RankedDict<'a> {
    dict: &'a Dict,
    kind: Kind,
    /// Each code's rank in value order (null first).
    rank: Vec<u32>,
    /// The code of each rank.
    code: Vec<u32>,
}

impl<'a> RankedDict<'a> {
    pub(crate) fn new(dict: &'a Dict, kind: Kind) -> Self {
        let mut code: Vec<u32> = (0..=dict.len() as u32).collect();
        match dict {
            Dict::Str(d) => sort_codes(&mut code[1..], |c| d.span(c)),
            Dict::Int(d) => sort_codes(&mut code[1..], |c| int(d, c)),
        }
        let mut rank = vec![0; code.len()];
        for (r, &c) in code.iter().enumerate() {
            rank[c as usize] = r as u32;
        }
        RankedDict {
            dict,
            kind,
            rank,
            code,
        }
    }

    /// The value of a non-null rank.
    fn value(&self, rank: u32) -> Plain<'a> {
        let code = self.code[rank as usize];
        match self.dict {
            Dict::Str(d) => Plain::Bytes(d.span(code)),
            Dict::Int(d) => Plain::Int(int(d, code)),
        }
    }

    /// The plain encoding of the value of rank `rank`: as in a dictionary
    /// page (strings with their length) or as in statistics (without).
    fn encode(&self, rank: u32, with_length: bool, out: &mut Vec<u8>) {
        match (self.value(rank), self.kind) {
            (Plain::Bytes(bytes), _) => {
                if with_length {
                    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                }
                out.extend_from_slice(bytes);
            }
            (Plain::Int(i), Kind::Int64) => out.extend_from_slice(&i.to_le_bytes()),
            // The parser bounds int32 fields.
            (Plain::Int(i), _) => out.extend_from_slice(&(i as i32).to_le_bytes()),
        }
    }

    fn bytes(&self, rank: u32) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(rank, false, &mut out);
        out
    }

    /// Chunk statistics from the smallest and largest rank.
    fn statistics(&self, bounds: Bounds, nulls: u64) -> Statistics {
        let (lo, hi) = bounds.0.unzip();
        let nulls = Some(nulls);
        let int = |rank: Option<u32>| {
            rank.map(|r| match self.value(r) {
                Plain::Int(i) => i,
                Plain::Bytes(_) => 0,
            })
        };
        match self.kind {
            Kind::Str => {
                let bytes = |rank: Option<u32>| rank.map(|r| ByteArray::from(self.bytes(r)));
                Statistics::byte_array(bytes(lo), bytes(hi), None, nulls, false)
            }
            Kind::Int64 => Statistics::int64(int(lo), int(hi), None, nulls, false),
            Kind::Int32 => {
                let int32 = |rank| int(rank).map(|i| i as i32);
                Statistics::int32(int32(lo), int32(hi), None, nulls, false)
            }
        }
    }
}

/// A dictionary value as it is encoded.
enum Plain<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

/// Orders codes by their values, unless they are in value order already
/// (as in a merged table).
fn sort_codes<K: Ord>(codes: &mut [u32], value: impl Fn(u32) -> K) {
    if !codes.is_sorted_by_key(|&c| value(c)) {
        codes.sort_by_key(|&c| value(c));
    }
}

/// The value of a non-null code.
fn int(dict: &IntDict, code: u32) -> i64 {
    dict.values()[code as usize - 1]
}

/// The smallest and largest rank of a page's or chunk's values; `None` if
/// they are all null.
#[derive(Debug, Clone, Copy, Default)]
struct Bounds(Option<(u32, u32)>);

impl Bounds {
    fn merge(self, other: Bounds) -> Bounds {
        match (self.0, other.0) {
            (Some((a, b)), Some((c, d))) => Bounds(Some((a.min(c), b.max(d)))),
            (one, other) => Bounds(one.or(other)),
        }
    }
}

/// A page is encoded both ways, and the smaller kept, once at least one in
/// this many of its values is new to the chunk's dictionary.
const TRIAL_SHARE: usize = 8;

/// A trial's verdict holds for this many such pages of a chunk (the trial's
/// included): pages of one column chunk are alike, and a trial compresses
/// the page three times.
const RETRIAL_EVERY: u32 = 8;

/// A dictionary-encoded page body: `levels`, the indices' bit width, the
/// indices.
fn dictionary_body(mut body: Vec<u8>, indices: &[u32]) -> Vec<u8> {
    let width = hybrid::bit_width(indices.iter().copied().max().unwrap_or(0));
    body.push(width);
    hybrid::encode(indices, width, &mut body);
    body
}

/// A page body, compressed.
struct Encoded {
    buf: Vec<u8>,
    /// Size before compression.
    raw_len: usize,
    encoding: Encoding,
}

impl Encoded {
    fn new(body: Vec<u8>, encoding: Encoding, zstd: &mut Compressor) -> Result<Self> {
        Ok(Encoded {
            buf: zstd.compress(&body)?,
            raw_len: body.len(),
            encoding,
        })
    }
}

/// A data page encoded and compressed, waiting for the dictionary page that
/// must precede it in the chunk.
struct DataPage {
    page: CompressedPage,
    rows: usize,
    nulls: u64,
    bounds: Bounds,
}

/// One column chunk being written: cells are added in row order, and a page
/// is cut every `page_rows` rows.
pub(crate) struct DimChunk<'c, 'a> {
    column: &'c RankedDict<'a>,
    descr: ColumnDescPtr,
    compression: Compression,
    page_rows: usize,
    /// `index[code]` is the code's index in the chunk's dictionary, plus one
    /// (zero: not in it yet).
    index: Vec<u32>,
    /// The chunk's dictionary: ranks in index order.
    values: Vec<u32>,
    /// The current page's cells.
    codes: Vec<u32>,
    pages: Vec<DataPage>,
    /// Some page is dictionary-encoded (so the chunk needs its dictionary page).
    dictionary_pages: bool,
    /// The last trial's encoding, and for how many more pages it holds.
    verdict: Option<(Encoding, u32)>,
    /// Compressed bytes of the pages so far.
    bytes: usize,
    /// With a bloom filter: its false positive probability, and which codes
    /// the chunk holds (the filter is sized for exactly those).
    bloom: Option<(f64, Vec<bool>)>,
}

impl std::fmt::Debug for DimChunk<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DimChunk")
            .field("column", &self.descr.path())
            .field("pages", &self.pages.len())
            .finish_non_exhaustive()
    }
}

impl<'c, 'a> DimChunk<'c, 'a> {
    pub(crate) fn new(
        column: &'c RankedDict<'a>,
        descr: ColumnDescPtr,
        compression: Compression,
        page_rows: usize,
        bloom_fpp: Option<f64>,
    ) -> Result<Self> {
        if descr.max_def_level() != 1 || descr.max_rep_level() != 0 {
            return Err(ParquetError::General(format!(
                "dimension column {} must be optional and flat",
                descr.path()
            )));
        }
        Ok(DimChunk {
            column,
            descr,
            compression,
            page_rows: page_rows.max(1),
            index: vec![0; column.rank.len()],
            values: Vec::new(),
            codes: Vec::with_capacity(page_rows),
            pages: Vec::new(),
            dictionary_pages: false,
            verdict: None,
            bytes: 0,
            bloom: bloom_fpp.map(|fpp| (fpp, vec![false; column.rank.len()])),
        })
    }

    /// Adds cells in row order.
    pub(crate) fn extend(
        &mut self,
        codes: impl IntoIterator<Item = u32>,
        zstd: &mut Compressor,
    ) -> Result<()> {
        let mut codes = codes.into_iter().peekable();
        while codes.peek().is_some() {
            let room = self.page_rows - self.codes.len();
            self.codes.extend(codes.by_ref().take(room));
            if self.codes.len() == self.page_rows {
                self.flush_page(zstd)?;
            }
        }
        Ok(())
    }

    /// About how many bytes the chunk will take.
    pub(crate) fn estimated_size(&self) -> usize {
        self.bytes + self.codes.len() + self.values.len() * 8
    }

    /// Encodes the current page: definition levels (1 for a value, 0 for a
    /// null) after their length, then the values, dictionary-encoded or
    /// plain, whichever is smaller ([`Self::choose`]).
    fn flush_page(&mut self, zstd: &mut Compressor) -> Result<()> {
        if self.codes.is_empty() {
            return Ok(());
        }
        let known = self.values.len();
        let rank = &self.column.rank;
        let (mut lo, mut hi) = (u32::MAX, 0);
        let mut indices = Vec::with_capacity(self.codes.len());
        for &code in &self.codes {
            if code == NULL_CODE {
                continue;
            }
            let r = rank[code as usize];
            (lo, hi) = (lo.min(r), hi.max(r));
            if let Some((_, held)) = &mut self.bloom {
                held[code as usize] = true;
            }
            let slot = &mut self.index[code as usize];
            if *slot == 0 {
                self.values.push(r);
                *slot = self.values.len() as u32;
            }
            indices.push(*slot - 1);
        }
        let levels = self.levels(indices.len());
        let encoded = self.choose(levels, &indices, known, zstd)?;
        let encoding = encoded.encoding;
        let page = Page::DataPage {
            buf: Bytes::from(encoded.buf),
            num_values: self.codes.len() as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        self.dictionary_pages |= encoding == Encoding::RLE_DICTIONARY;
        self.bytes += page.buffer().len();
        self.pages.push(DataPage {
            page: CompressedPage::new(page, encoded.raw_len),
            rows: self.codes.len(),
            nulls: (self.codes.len() - indices.len()) as u64,
            bounds: Bounds((!indices.is_empty()).then_some((lo, hi))),
        });
        self.codes.clear();
        Ok(())
    }

    /// The current page's definition levels after their length.
    fn levels(&self, values: usize) -> Vec<u8> {
        let mut body = vec![0; 4];
        if values == self.codes.len() {
            hybrid::run_length(1, values, 1, &mut body);
        } else {
            let levels: Vec<u32> = self
                .codes
                .iter()
                .map(|&c| u32::from(c != NULL_CODE))
                .collect();
            hybrid::encode(&levels, 1, &mut body);
        }
        let levels_len = (body.len() - 4) as u32;
        body[..4].copy_from_slice(&levels_len.to_le_bytes());
        body
    }

    /// The page body after `levels`, encoded and compressed.
    ///
    /// Dictionary indices are small where values repeat. Where a page's
    /// values are mostly new to the chunk (client addresses, ephemeral
    /// ports), the dictionary holds nearly every value once *and* an index
    /// per row, so both ways are compressed and the smaller kept; a plain
    /// page's values leave the dictionary (`known` values were there before
    /// this page). The choice depends on the pages' bytes alone: the same
    /// rows give the same file.
    fn choose(
        &mut self,
        levels: Vec<u8>,
        indices: &[u32],
        known: usize,
        zstd: &mut Compressor,
    ) -> Result<Encoded> {
        let fresh = self.values.len() - known;
        let repeating = !indices.is_empty() && fresh * TRIAL_SHARE < indices.len();
        let verdict = match self.verdict {
            _ if repeating => Encoding::RLE_DICTIONARY,
            _ if indices.is_empty() => Encoding::PLAIN,
            Some((verdict, left)) if left > 0 => {
                self.verdict = Some((verdict, left - 1));
                verdict
            }
            _ => return self.trial(levels, indices, known, zstd),
        };
        if verdict == Encoding::RLE_DICTIONARY {
            return Encoded::new(
                dictionary_body(levels, indices),
                Encoding::RLE_DICTIONARY,
                zstd,
            );
        }
        let plain = Encoded::new(self.plain_body(levels), Encoding::PLAIN, zstd)?;
        self.forget(known);
        Ok(plain)
    }

    /// Both encodings of a page, compressed; the smaller is kept, and its
    /// encoding holds for [`RETRIAL_EVERY`] such pages, this one included.
    fn trial(
        &mut self,
        levels: Vec<u8>,
        indices: &[u32],
        known: usize,
        zstd: &mut Compressor,
    ) -> Result<Encoded> {
        let plain = Encoded::new(self.plain_body(levels.clone()), Encoding::PLAIN, zstd)?;
        let dictionary = Encoded::new(
            dictionary_body(levels, indices),
            Encoding::RLE_DICTIONARY,
            zstd,
        )?;
        let mut added = Vec::new();
        for &rank in &self.values[known..] {
            self.column.encode(rank, true, &mut added);
        }
        let dictionary_size = dictionary.buf.len() + zstd.compress(&added)?.len();
        let kept = if dictionary_size <= plain.buf.len() {
            dictionary
        } else {
            self.forget(known);
            plain
        };
        self.verdict = Some((kept.encoding, RETRIAL_EVERY - 1));
        Ok(kept)
    }

    /// `levels` followed by the page's values, plain.
    fn plain_body(&self, mut body: Vec<u8>) -> Vec<u8> {
        for &code in self.codes.iter().filter(|&&c| c != NULL_CODE) {
            let rank = self.column.rank[code as usize];
            self.column.encode(rank, true, &mut body);
        }
        body
    }

    /// Takes the values added since the first `known` out of the dictionary
    /// (their page is plain).
    fn forget(&mut self, known: usize) {
        for &rank in &self.values[known..] {
            self.index[self.column.code[rank as usize] as usize] = 0;
        }
        self.values.truncate(known);
    }

    /// The chunk's bytes (dictionary page if a data page uses it, then data
    /// pages) and what a row
    /// group writer needs to append them: metadata, statistics, page indexes.
    pub(crate) fn close(mut self, zstd: &mut Compressor) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page(zstd)?;
        let column = self.column;
        let mut sink = TrackedWrite::new(Vec::new());
        let mut writer = SerializedPageWriter::new(&mut sink);
        let (mut compressed, mut uncompressed) = (0, 0);
        let mut dictionary_offset = None;
        if self.dictionary_pages {
            let mut plain = Vec::new();
            for &rank in &self.values {
                column.encode(rank, true, &mut plain);
            }
            let dictionary = Page::DictionaryPage {
                buf: Bytes::from(zstd.compress(&plain)?),
                num_values: self.values.len() as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let spec = writer.write_page(CompressedPage::new(dictionary, plain.len()))?;
            (compressed, uncompressed) = (spec.compressed_size, spec.uncompressed_size);
            dictionary_offset = Some(spec.offset as i64);
        }
        let mut column_index = ColumnIndexBuilder::new(self.descr.physical_type());
        let mut offset_index = OffsetIndexBuilder::new();
        let mut order = PageOrder::default();
        let (mut bounds, mut rows, mut nulls) = (Bounds::default(), 0, 0);
        let mut data_offset = None;
        for page in std::mem::take(&mut self.pages) {
            let spec = writer.write_page(page.page)?;
            data_offset.get_or_insert(spec.offset);
            compressed += spec.compressed_size;
            uncompressed += spec.uncompressed_size;
            offset_index.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            offset_index.append_row_count(page.rows as i64);
            match page.bounds.0 {
                None => column_index.append(true, vec![], vec![], page.nulls as i64, None),
                Some((lo, hi)) => {
                    column_index.append(
                        false,
                        column.bytes(lo),
                        column.bytes(hi),
                        page.nulls as i64,
                        None,
                    );
                    order.add(lo, hi);
                }
            }
            bounds = bounds.merge(page.bounds);
            rows += page.rows;
            nulls += page.nulls;
        }
        writer.close()?;
        column_index.set_boundary_order(order.boundary_order());
        let bytes = Bytes::from(sink.into_inner()?);

        // Plain: the dictionary page's values, or plain data pages.
        let mut encodings = vec![Encoding::PLAIN, Encoding::RLE];
        if self.dictionary_pages {
            encodings.push(Encoding::RLE_DICTIONARY);
        }
        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression_codec(CompressionCodec::from(self.compression))
            .set_encodings(encodings)
            .set_num_values(rows as i64)
            .set_total_compressed_size(compressed as i64)
            .set_total_uncompressed_size(uncompressed as i64)
            .set_dictionary_page_offset(dictionary_offset)
            .set_data_page_offset(data_offset.unwrap_or_default() as i64)
            .set_statistics(column.statistics(bounds, nulls))
            .build()?;
        let close = ColumnCloseResult {
            bytes_written: compressed as u64,
            rows_written: rows as u64,
            metadata,
            bloom_filter: self
                .bloom
                .map(|(fpp, held)| bloom_filter(column, fpp, &held))
                .transpose()?,
            column_index: Some(column_index.build()?),
            offset_index: Some(offset_index.build()),
        };
        Ok((bytes, close))
    }
}

/// A bloom filter of the codes `held`, sized for their number: each value
/// hashed in its plain encoding (strings without their length), as the
/// Parquet format specifies and readers check.
fn bloom_filter(column: &RankedDict<'_>, fpp: f64, held: &[bool]) -> Result<Sbbf> {
    let codes: Vec<usize> = held
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, h)| **h)
        .map(|(c, _)| c)
        .collect();
    let mut filter = Sbbf::new_with_ndv_fpp(codes.len() as u64, fpp)?;
    let mut value = Vec::new();
    for code in codes {
        value.clear();
        column.encode(column.rank[code], false, &mut value);
        filter.insert(value.as_slice());
    }
    Ok(filter)
}

/// Whether pages' bounds only rise or only fall, page after page (readers
/// may then binary-search the page index).
#[derive(Debug)]
struct PageOrder {
    last: Option<(u32, u32)>,
    ascending: bool,
    descending: bool,
}

impl Default for PageOrder {
    fn default() -> Self {
        PageOrder {
            last: None,
            ascending: true,
            descending: true,
        }
    }
}

impl PageOrder {
    fn add(&mut self, lo: u32, hi: u32) {
        if let Some((last_lo, last_hi)) = self.last {
            self.ascending &= last_lo <= lo && last_hi <= hi;
            self.descending &= last_lo >= lo && last_hi >= hi;
        }
        self.last = Some((lo, hi));
    }

    fn boundary_order(&self) -> BoundaryOrder {
        match (self.ascending, self.descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (_, true) => BoundaryOrder::DESCENDING,
            _ => BoundaryOrder::UNORDERED,
        }
    }
}
