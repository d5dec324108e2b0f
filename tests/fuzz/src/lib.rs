//! What every reader's report must say about the table it filled.

use flowlog::{FileReport, FlowTable};

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
