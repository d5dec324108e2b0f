//! What every reader's report must say about the table it filled.

use std::sync::Once;

use flowlog::{FileReport, FlowTable};

/// Lets panics unwind, as they do in flowmerge. libfuzzer-sys aborts on any
/// panic before it unwinds, which would count the readers' own recovery
/// (the Parquet reader's panics on malformed files become errors) as a
/// crash; a panic that escapes the target still aborts, in libfuzzer-sys's
/// `catch_unwind` around it.
pub fn unwind_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// A rejected object leaves nothing in the table; otherwise every record
/// read is a row, and every data line a record or a bad line.
pub fn check(report: &FileReport, table: &FlowTable) {
    if report.bad_file.is_some() {
        assert_eq!(table.rows(), 0, "a rejected object left rows");
        return;
    }
    assert_eq!(table.rows() as u64, report.records, "records vs rows");
    assert_eq!(
        report.lines,
        report.records + report.bad_lines.len() as u64,
        "lines vs records and bad lines"
    );
}
