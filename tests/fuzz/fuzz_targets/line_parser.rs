//! The line parser on plain text whose first line is an arbitrary header
//! (or none), and whose headerless lines take an arbitrary configured format:
//! it never panics, and every data line is a record or a bad line.
#![no_main]

use flowlog::{FlowTable, Formats, LineFormat, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line, when it parses as a format, is also the configured
    // format of headerless lines.
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let formats = std::str::from_utf8(first)
        .ok()
        .and_then(|text| text.parse::<LineFormat>().ok())
        .map(|default| Formats {
            default,
            rules: Vec::new(),
        })
        .unwrap_or_default();
    let mut table = FlowTable::new();
    let report = Parser::new(formats).parse_object("fuzz.log", data, &mut table);
    flowmerge_fuzz::check(&report, &table);
});
