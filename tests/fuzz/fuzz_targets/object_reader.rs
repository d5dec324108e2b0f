//! Any bytes as a delivered object (gzip members, Firehose JSON, CloudWatch
//! Logs payloads, native Parquet, plain text): reading never panics, and
//! what is read is accounted for.
#![no_main]

use columnar::ObjectReader;
use flowlog::FlowTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flowmerge_fuzz::unwind_panics();
    let mut table = FlowTable::new();
    let report = ObjectReader::default().read(
        "firehose/s/2026/11/22/13/s-1-2026-11-22-13-05-41-uuid.gz",
        bytes::Bytes::copy_from_slice(data),
        &mut table,
    );
    flowmerge_fuzz::check(&report, &table);
});
