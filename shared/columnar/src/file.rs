//! An output file being written: its row groups take rows batch by batch,
//! dimension columns into [`DimChunk`]s, metric columns into the Arrow
//! column writer, and are appended to the file column by column.

use std::ops::Range;

use arrow::datatypes::{FieldRef, SchemaRef};
use bytes::Bytes;
use flowlog::FlowTable;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriterOptions, compute_leaves,
};
use parquet::errors::ParquetError;
use parquet::file::writer::SerializedFileWriter;

use crate::convert::{Source, metric_array};
use crate::dims::{Compressor, DimChunk, RankedDict};
use crate::write::WriteError;

/// An output file being written.
pub(crate) struct OpenFile {
    writer: SerializedFileWriter<Vec<u8>>,
    /// Arrow column writers for each row group (used for metric columns).
    arrow: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    zstd: Compressor,
    row_groups: usize,
}

impl OpenFile {
    pub(crate) fn new(
        schema: &SchemaRef,
        options: ArrowWriterOptions,
        zstd_level: i32,
    ) -> Result<Self, WriteError> {
        let (writer, arrow) =
            ArrowWriter::try_new_with_options(Vec::new(), schema.clone(), options)?
                .into_serialized_writer()?;
        Ok(OpenFile {
            writer,
            arrow,
            schema: schema.clone(),
            zstd: Compressor::new(zstd_level).map_err(ParquetError::from)?,
            row_groups: 0,
        })
    }

    /// A row group starting at row `first`, with a writer per column.
    pub(crate) fn row_group<'c, 'a>(
        &mut self,
        columns: &[Source<'_>],
        dicts: &'c [RankedDict<'a>],
        first: usize,
    ) -> Result<RowGroup<'c, 'a>, WriteError> {
        let arrow = self.arrow.create_column_writers(self.row_groups)?;
        let page_rows = self.writer.properties().data_page_row_count_limit();
        let fields = self.schema.fields();
        let writers = columns
            .iter()
            .zip(arrow)
            .enumerate()
            .map(|(i, (column, arrow))| match column {
                Source::Dim(dim, _) => {
                    let descr = self.writer.schema_descr().column(i);
                    let properties = self.writer.properties();
                    let compression = properties.compression(descr.path());
                    let bloom = properties
                        .bloom_filter_properties(descr.path())
                        .map(|b| b.fpp());
                    let chunk = DimChunk::new(&dicts[*dim], descr, compression, page_rows, bloom)?;
                    Ok(ColumnWriter::Dim(*dim, chunk))
                }
                Source::Metric(metric, _) => Ok(ColumnWriter::Metric(
                    *metric,
                    fields[i].clone(),
                    Box::new(arrow),
                )),
            })
            .collect::<Result<_, WriteError>>()?;
        self.row_groups += 1;
        Ok(RowGroup { first, writers })
    }

    pub(crate) fn append(&mut self, rows: RowGroup<'_, '_>) -> Result<(), WriteError> {
        let mut group = self.writer.next_row_group()?;
        for writer in rows.writers {
            match writer {
                ColumnWriter::Dim(_, chunk) => {
                    let (bytes, close) = chunk.close(&mut self.zstd)?;
                    group.append_column(&bytes, close)?;
                }
                ColumnWriter::Metric(_, _, arrow) => {
                    arrow.close()?.append_to_row_group(&mut group)?;
                }
            }
        }
        group.close()?;
        Ok(())
    }

    pub(crate) fn bytes_written(&self) -> usize {
        self.writer.bytes_written()
    }

    pub(crate) fn finish(self) -> Result<Bytes, WriteError> {
        Ok(Bytes::from(self.writer.into_inner()?))
    }
}

/// The rows of a row group written so far, column by column.
pub(crate) struct RowGroup<'c, 'a> {
    pub(crate) first: usize,
    writers: Vec<ColumnWriter<'c, 'a>>,
}

enum ColumnWriter<'c, 'a> {
    Dim(usize, DimChunk<'c, 'a>),
    Metric(usize, FieldRef, Box<ArrowColumnWriter>),
}

impl RowGroup<'_, '_> {
    /// Adds rows `rows` of `table`, compressing full pages with `file`'s compressor.
    pub(crate) fn write(
        &mut self,
        table: &FlowTable,
        rows: Range<usize>,
        file: &mut OpenFile,
    ) -> Result<(), WriteError> {
        for writer in &mut self.writers {
            match writer {
                ColumnWriter::Dim(dim, chunk) => {
                    let codes = rows.clone().map(|row| table.row(row)[*dim]);
                    chunk.extend(codes, &mut file.zstd)?;
                }
                ColumnWriter::Metric(metric, field, arrow) => {
                    let column = &table.metrics()[*metric];
                    let array = metric_array(&column.values[rows.clone()], column.def.kind);
                    for leaf in compute_leaves(field, &array)? {
                        arrow.write(&leaf)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn estimated_size(&self) -> usize {
        self.writers
            .iter()
            .map(|writer| match writer {
                ColumnWriter::Dim(_, chunk) => chunk.estimated_size(),
                ColumnWriter::Metric(_, _, arrow) => arrow.get_estimated_total_bytes(),
            })
            .sum()
    }
}
