//! VPC Flow Logs, read fast: the field catalogue (every documented VPC and
//! Transit Gateway field with its AWS Parquet type), delivery key parsing,
//! one-minute windows, and a byte-level parser that appends typed, interned
//! records to a [`FlowTable`].
//!
//! Knows nothing of AWS SDKs, async runtimes or Lambda.
//!
//! ```
//! use flowlog::{FlowTable, parse_object};
//!
//! let mut table = FlowTable::new();
//! let report = parse_object("f.log", b"2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 1700000000 1700000059 ACCEPT OK\nnot a record\n", &mut table);
//! assert_eq!(report.records, 1);
//! assert_eq!(report.bad_lines.len(), 1);
//! ```

mod container;
mod dict;
mod fields;
mod formats;
mod key;
mod parse;
mod table;
mod window;

pub use container::Container;
pub use dict::{Dict, IntDict, NULL_CODE, StrDict, Value};
pub use fields::{CATALOGUE, ColumnDef, DEFAULT_FORMAT, Field, Kind, RECORDS, Role, known};
pub use formats::{BadFormat, FormatRule, Formats, LineFormat};
pub use key::{KeyInfo, KeySource, parse_key};
pub use parse::{
    BadFile, BadLine, Checkpoint, FileReport, MAX_RAW, Parser, Restart, Unbounded, parse_object,
};
pub use table::{DimColumn, FlowTable, MetricColumn, NULL, Slot};
pub use window::{BadWindow, Span, Window};
