//! Columnar output: the Arrow schema of a window (AWS's Parquet column names and
//! types plus `records`), the one tested function that builds
//! [`WriterProperties`], a writer that rolls files at a target size (dimension
//! columns encoded as pages straight from the table's codes, metrics through
//! the Arrow column writer), the reader used to combine partial results, and
//! [`ObjectReader`], which reads a delivered object whichever way AWS sent it.
//!
//! ```
//! use flowlog::{FlowTable, parse_object};
//! use columnar::{WriteOptions, read_parquet, write_parquet};
//!
//! let mut table = FlowTable::new();
//! parse_object("f", b"2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 100 159 ACCEPT OK\n", &mut table);
//! let files = write_parquet(&table, &WriteOptions::default()).unwrap();
//! let (back, _metadata) = read_parquet(files[0].clone()).unwrap();
//! assert_eq!(back.rows(), 1);
//! ```

mod convert;
mod dims;
mod file;
mod hybrid;
mod object;
mod read;
mod write;

pub use convert::{arrow_schema, athena_columns};
pub use object::ObjectReader;
pub use read::{
    PartChunks, ReadError, read_native, read_native_with, read_parquet, read_parquet_where,
};
pub use write::{
    DEFAULT_ZSTD_LEVEL, ParquetWriter, WriteError, WriteOptions, ZSTD_LEVELS, write_parquet,
    writer_properties,
};
