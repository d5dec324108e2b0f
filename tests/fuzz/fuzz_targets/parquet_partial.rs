//! Any bytes as a Parquet partial (combine's reader) and as a native Parquet
//! flow log object: errors, never panics; a partial that reads back writes
//! and reads again to the same rows.
#![no_main]

use flowlog::FlowTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flowmerge_fuzz::unwind_panics();
    let body = bytes::Bytes::copy_from_slice(data);
    if let Ok((table, _)) = columnar::read_parquet(body.clone()) {
        let options = columnar::WriteOptions {
            target_file_size: u64::MAX,
            ..columnar::WriteOptions::default()
        };
        if let Ok(files) = columnar::write_parquet(&table, &options) {
            let rows: usize = files
                .into_iter()
                .map(|file| {
                    columnar::read_parquet(file)
                        .expect("own output reads back")
                        .0
                        .rows()
                })
                .sum();
            assert_eq!(rows, table.rows());
        }
    }
    let mut table = FlowTable::new();
    let report = columnar::read_native("fuzz.log.parquet", body, &mut table);
    flowmerge_fuzz::check(&report, &table);
});
