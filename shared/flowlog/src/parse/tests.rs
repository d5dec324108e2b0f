use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;
use crate::dict::Value;
use crate::formats::{Formats, LineFormat};
use crate::table::{NULL, Slot};

const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
const REC: &str =
    "2 123456789012 eni-0a1b 10.0.0.1 10.0.0.2 443 49152 6 10 8400 1700000000 1700000059 ACCEPT OK";

fn gz(text: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

fn parse(text: &str) -> (FileReport, FlowTable) {
    let mut t = FlowTable::new();
    let r = parse_object("k", text.as_bytes(), &mut t);
    (r, t)
}

fn col(t: &FlowTable, name: &str, row: usize) -> String {
    match t.slot(name).unwrap() {
        Slot::Dim(d) => match t.dim_value(d, row) {
            Value::Null => "-".into(),
            Value::Int(i) => i.to_string(),
            Value::Str(s) => s.into(),
        },
        Slot::Metric(m) => match t.metrics()[m].values[row] {
            NULL => "-".into(),
            v => v.to_string(),
        },
    }
}

#[test]
fn header_and_record() {
    let (r, t) = parse(&format!("{V2}\n{REC}\n"));
    assert_eq!((r.lines, r.records, r.bad_lines.len()), (1, 1, 0));
    assert_eq!(col(&t, "account-id", 0), "123456789012");
    assert_eq!(col(&t, "srcport", 0), "443");
    assert_eq!(col(&t, "bytes", 0), "8400");
    assert_eq!(col(&t, "records", 0), "1");
    assert_eq!(col(&t, "log-status", 0), "OK");
}

#[test]
fn headerless_file_is_default_v2() {
    let (r, t) = parse(&format!("{REC}\n{REC}\n"));
    assert_eq!((r.lines, r.records), (2, 2));
    assert_eq!(col(&t, "end", 1), "1700000059");
}

#[test]
fn any_subset_and_order_of_fields() {
    let text = "start bytes srcaddr end account-id tcp-flags\n1700000000 99 ::1 1700000010 222222222222 19\n";
    let (r, t) = parse(text);
    assert_eq!(r.records, 1);
    assert_eq!(col(&t, "srcaddr", 0), "::1");
    assert_eq!(col(&t, "tcp-flags", 0), "19");
    assert!(t.slot("srcport").is_none());
}

#[test]
fn unknown_fields_are_kept_as_strings() {
    let (r, t) = parse("account-id brand-new-field\n1 42\n");
    assert_eq!(r.records, 1);
    assert_eq!(col(&t, "brand-new-field", 0), "42");
}

#[test]
fn dashes_are_null_and_nodata_skipdata_are_kept() {
    let text = format!(
        "{V2}\n2 123456789012 eni-0a1b - - - - - - - 1700000000 1700000059 - NODATA\n\
         2 123456789012 eni-0a1b - - - - - - - 1700000000 1700000059 - SKIPDATA\n"
    );
    let (r, t) = parse(&text);
    assert_eq!(r.records, 2);
    assert_eq!(col(&t, "srcaddr", 0), "-");
    assert_eq!(col(&t, "packets", 0), "-");
    assert_eq!(col(&t, "log-status", 1), "SKIPDATA");
}

#[test]
fn ipv6_crlf_blank_lines_and_tabs() {
    let text = format!(
        "{V2}\r\n\r\n2 123456789012 eni-0a1b 2001:db8::1 2001:db8:0:0:0:0:0:2 443 49152 6 10 8400 1700000000 1700000059 ACCEPT OK\r\n   \n2\t123456789012 eni-0a1b 10.0.0.1  10.0.0.2 1 2 17 1 1 1 2 REJECT OK"
    );
    let (r, t) = parse(&text);
    assert_eq!((r.lines, r.records, r.bad_lines.len()), (2, 2, 0));
    assert_eq!(col(&t, "srcaddr", 0), "2001:db8::1");
    assert_eq!(col(&t, "log-status", 0), "OK");
    assert_eq!(col(&t, "action", 1), "REJECT");
}

#[test]
fn bad_lines_are_reported_with_reason_and_line_number() {
    let text = format!(
        "{V2}\n{REC}\n2 1 eni 1 2 http 3 6 1 1 1 2 ACCEPT OK\n2 1 eni 1 2 99999999999 3 6 1 1 1 2 ACCEPT OK\n\
         2 1 eni 1 2 3 4 6 -5 1 1 2 ACCEPT OK\nonly three fields\n{REC} extra\n{REC}\n"
    );
    let (r, t) = parse(&text);
    assert_eq!((r.lines, r.records), (7, 2));
    assert_eq!(t.rows(), 2);
    let reasons: Vec<_> = r
        .bad_lines
        .iter()
        .map(|b| (b.line, b.reason.as_str()))
        .collect();
    assert_eq!(
        reasons[0],
        (3, "srcport: \"http\" is not a non-negative integer")
    );
    assert_eq!(
        reasons[1],
        (4, "srcport: 99999999999 does not fit in int32")
    );
    assert_eq!(
        reasons[2],
        (5, "packets: \"-5\" is not a non-negative integer")
    );
    assert_eq!(reasons[3], (6, "expected 14 fields, found 3"));
    assert_eq!(reasons[4], (7, "expected 14 fields, found 15"));
    assert_eq!(r.bad_lines[0].raw, "2 1 eni 1 2 http 3 6 1 1 1 2 ACCEPT OK");
}

#[test]
fn very_long_lines_are_truncated_in_the_error() {
    let long = format!("{REC} {}", "x".repeat(100_000));
    let (r, _) = parse(&format!("{V2}\n{long}\n{REC}\n"));
    assert_eq!(r.records, 1);
    assert_eq!(r.bad_lines[0].raw.len(), MAX_RAW);
}

#[test]
fn invalid_utf8_is_a_bad_line() {
    let mut data = format!("{V2}\n").into_bytes();
    data.extend_from_slice(b"2 1 eni-\xff 1 2 3 4 6 1 1 1 2 ACCEPT OK\n");
    let mut t = FlowTable::new();
    let r = parse_object("k", &data, &mut t);
    assert_eq!((r.records, r.bad_lines.len()), (0, 1));
    assert_eq!(r.bad_lines[0].reason, "interface-id: invalid UTF-8");
}

#[test]
fn gzip_single_and_multi_member() {
    let text = format!("{V2}\n{REC}\n");
    let mut data = gz(text.as_bytes());
    data.extend(gz(format!("{REC}\n{REC}\n").as_bytes()));
    let mut t = FlowTable::new();
    let r = parse_object("k.log.gz", &data, &mut t);
    assert_eq!((r.records, t.rows()), (3, 3));
}

#[test]
fn truncated_gzip_is_a_bad_file_and_adds_nothing() {
    let mut t = FlowTable::new();
    parse_object("good", format!("{V2}\n{REC}\n").as_bytes(), &mut t);
    let body: String = (0..2000).map(|i| format!("{REC} {i}\n")).collect();
    let data = gz(format!("{V2}\n{body}").as_bytes());
    let r = parse_object("cut.log.gz", &data[..data.len() / 2], &mut t);
    assert_eq!(
        r.bad_file.as_ref().unwrap().reason,
        "truncated compressed data"
    );
    assert_eq!((r.lines, r.records, r.bad_lines.len()), (0, 0, 0));
    assert_eq!(t.rows(), 1);
}

#[test]
fn corrupt_gzip_is_a_bad_file() {
    let mut data = gz(format!("{V2}\n{REC}\n").as_bytes());
    let mid = data.len() / 2;
    data[mid..mid + 8].copy_from_slice(b"garbage!");
    let mut t = FlowTable::new();
    let r = parse_object("x.gz", &data, &mut t);
    assert!(r.bad_file.is_some());
    assert_eq!(t.rows(), 0);
}

#[test]
fn binary_and_foreign_text_are_bad_files() {
    let mut t = FlowTable::new();
    let r = parse_object("b", b"\x00\x01\x02PNG\x00\n", &mut t);
    assert_eq!(r.bad_file.unwrap().reason, "binary content, not a flow log");
    let r = parse_object("h", b"<html><body>Access Denied</body></html>\n", &mut t);
    assert!(r.bad_file.unwrap().reason.starts_with("not a flow log"));
    assert_eq!(t.rows(), 0);
}

#[test]
fn empty_and_header_only_files_have_no_records() {
    for text in ["", "\n\n", V2] {
        let (r, t) = parse(text);
        assert_eq!((r.lines, r.records, t.rows()), (0, 0, 0));
        assert!(r.bad_file.is_none());
    }
}

#[test]
fn files_with_different_formats_share_a_table() {
    let mut t = FlowTable::new();
    parse_object("a", format!("{V2}\n{REC}\n").as_bytes(), &mut t);
    let v5 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id flow-direction traffic-path";
    parse_object(
        "b",
        format!("{v5}\n{REC} vpc-1 ingress 1\n").as_bytes(),
        &mut t,
    );
    parse_object("c", format!("{V2}\n{REC}\n").as_bytes(), &mut t);
    assert_eq!(t.rows(), 3);
    assert_eq!(col(&t, "vpc-id", 0), "-");
    assert_eq!(col(&t, "vpc-id", 1), "vpc-1");
    assert_eq!(col(&t, "traffic-path", 1), "1");
    assert_eq!(col(&t, "flow-direction", 2), "-");
    assert_eq!(col(&t, "srcport", 2), "443");
}

#[test]
fn transit_gateway_format() {
    let header = "version resource-type account-id tgw-id tgw-attachment-id srcaddr dstaddr srcport dstport protocol packets bytes start end log-status packets-lost-no-route packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired";
    let line = "6 TransitGateway 123456789012 tgw-1 tgw-attach-1 10.0.0.1 10.0.1.1 1 2 6 10 100 1700000000 1700000059 OK 1 2 3 4";
    let (r, t) = parse(&format!("{header}\n{line}\n"));
    assert_eq!(r.records, 1);
    assert_eq!(col(&t, "packets-lost-mtu-exceeded", 0), "3");
    assert_eq!(col(&t, "resource-type", 0), "TransitGateway");
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Bad lines anywhere among good ones (across batches too) leave the
        /// good ones as if they had been alone: same rows, values and order.
        #[test]
        fn bad_lines_leave_the_good_ones_as_they_were(lines in proptest::collection::vec(
            (any::<bool>(), 0u16..4, 0u8..4, 0u8..3), 0..300)) {
            let line = |(good, port, addr, bad): (bool, u16, u8, u8)| {
                let record = format!("2 1234 eni-0a1b2c3d4e5f67890 10.0.0.{addr} 10.0.1.1 {port} 443 6 2 80 1700000000 1700000059 ACCEPT OK");
                match (good, bad) {
                    (true, _) => record,
                    (false, 0) => record.replace(" 443 ", " http "),
                    (false, 1) => record.replace(" ACCEPT", ""),
                    (false, _) => record.replace(" 443 ", " 4294967296 "),
                }
            };
            let all: Vec<String> = lines.iter().map(|&l| line(l)).collect();
            let good: Vec<String> = lines.iter().filter(|l| l.0).map(|&l| line(l)).collect();
            let (mixed, alone) = (parse(&format!("{V2}\n{}\n", all.join("\n"))), parse(&format!("{V2}\n{}\n", good.join("\n"))));
            prop_assert_eq!(mixed.0.records, alone.0.records);
            prop_assert_eq!(mixed.1.rows(), alone.1.rows());
            for row in 0..alone.1.rows() {
                for name in ["srcaddr", "srcport", "dstport", "bytes", "records"] {
                    prop_assert_eq!(col(&mixed.1, name, row), col(&alone.1, name, row));
                }
            }
        }

        /// Whatever bytes arrive, every data line is either a record or a bad
        /// line, and the table holds exactly the records.
        #[test]
        fn lines_are_records_plus_bad_lines(lines in proptest::collection::vec(
            prop_oneof![
                Just(REC.to_owned()),
                "[ -~]{0,80}",
                Just(String::new()),
            ], 0..40)) {
            let text = format!("{V2}\n{}", lines.join("\n"));
            let mut t = FlowTable::new();
            let r = parse_object("p", text.as_bytes(), &mut t);
            prop_assert!(r.bad_file.is_none());
            prop_assert_eq!(r.lines, r.records + r.bad_lines.len() as u64);
            prop_assert_eq!(r.records as usize, t.rows());
        }
    }
}

/// A repeated value reuses the previous line's code; values that differ only
/// past their first 16 bytes (medium and long ones) must not.
#[test]
fn values_differing_only_in_their_tails_stay_apart() {
    let enis = [
        "eni-0a1b2c3d4e5f67890",
        "eni-0a1b2c3d4e5f67891",
        "eni-0a1b2c3d4e5f67891",
        "eni-0a1b2c3d4e5f678910123456789012345",
        "eni-0a1b2c3d4e5f678910123456789012346",
        "eni-0a1b2c3d4e5f678910123456789012346",
        "eni-0a1b2c3d4e5f67890",
    ];
    let lines: Vec<String> = enis
        .iter()
        .map(|eni| REC.replace("eni-0a1b", eni))
        .collect();
    let (report, t) = parse(&format!("{V2}\n{}\n", lines.join("\n")));
    assert_eq!(report.records, 7);
    for (row, eni) in enis.iter().enumerate() {
        assert_eq!(col(&t, "interface-id", row), *eni);
    }
    let Some(Slot::Dim(dim)) = t.slot("interface-id") else {
        panic!("interface-id is a dimension")
    };
    assert_eq!(t.dims()[dim].dict.len(), 4);
}

#[test]
fn lines_straddling_buffer_fills_are_read_whole() {
    let text = format!("{V2}\r\n{REC}\n\n{REC}\nbad line\n{REC}");
    let mut whole = FlowTable::new();
    let expected = parse_object("k", text.as_bytes(), &mut whole);
    for capacity in [1, 7, 64] {
        let mut t = FlowTable::new();
        let reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
        let report = Parser::default().parse_reader("k", reader, &mut t);
        assert_eq!(report, expected, "capacity {capacity}");
        assert_eq!(t.rows(), 3);
    }
}

proptest::proptest! {
    #[test]
    fn numbers_parse_like_str_parse(token in "[0-9]{1,20}|[0-9/:]{1,12}|[0-9]{0,10}[ -~][0-9]{0,10}") {
        let expected = (token.len() <= 18 && token.bytes().all(|b| b.is_ascii_digit()))
            .then(|| token.parse::<i64>().ok())
            .flatten();
        proptest::prop_assert_eq!(parse_unsigned(token.as_bytes()), expected);
    }
}

#[test]
fn a_line_longer_than_the_buffer_is_read_whole() {
    let long = "x".repeat(CHUNK + 10);
    let text = format!("{V2}\n{REC}\n{long}\n{REC}\n");
    let (report, t) = parse(&text);
    assert_eq!(t.rows(), 2);
    assert_eq!(report.bad_lines.len(), 1);
    assert_eq!(report.bad_lines[0].line, 3);
    assert_eq!(report.bad_lines[0].raw.len(), MAX_RAW);
}

#[test]
fn a_parser_reused_across_files_reads_each_alone() {
    let first = gz(format!("{V2}\n{REC}\n{REC}\nunfinished").as_bytes());
    let second = gz(format!("{V2}\n{REC}\n").as_bytes());
    let mut parser = Parser::default();
    let mut t = FlowTable::new();
    let a = parser.parse_object("a", &first, &mut t);
    let b = parser.parse_object("b", &second, &mut t);
    assert_eq!((a.records, a.bad_lines.len()), (2, 1));
    assert_eq!(b, parse(&format!("{V2}\n{REC}\n")).0);
    assert_eq!(t.rows(), 3);
}

fn parse_with(formats: Formats, key: &str, data: &[u8]) -> (FileReport, FlowTable) {
    let mut t = FlowTable::new();
    let r = Parser::new(formats).parse_object(key, data, &mut t);
    (r, t)
}

fn firehose_record(line: &str) -> String {
    serde_json::json!({ "message": line }).to_string()
}

#[test]
fn firehose_records_concatenated_without_newlines() {
    let bad = "2 123456789012 eni-0a1b 10.0.0.1 10.0.0.2 http 49152 6 10 8400 1700000000 1700000059 ACCEPT OK";
    let text = [REC, REC, bad, REC].map(firehose_record).join("");
    for data in [text.as_bytes().to_vec(), gz(text.as_bytes())] {
        let (r, t) = parse_with(Formats::default(), "k", &data);
        assert_eq!((r.lines, r.records), (4, 3));
        assert_eq!(r.bad_lines[0].line, 3);
        assert_eq!(r.bad_lines[0].raw, bad);
        assert!(
            r.bad_lines[0].reason.starts_with("srcport"),
            "{:?}",
            r.bad_lines
        );
        assert_eq!(col(&t, "interface-id", 2), "eni-0a1b");
    }
}

#[test]
fn firehose_records_with_newlines_escapes_and_bad_values() {
    let text = format!(
        "{}\n{}\n{{\"other\":1}}\n[1,2]\n{{\"message\": 5}}\n{}\n{{\"message\":\"2 1",
        firehose_record(REC),
        firehose_record(&REC.replace("ACCEPT", "ACC\\\"EPT")),
        firehose_record(&format!("{REC}\n")),
    );
    let (r, t) = parse(&text);
    assert_eq!(r.records, 3, "{:?}", r.bad_lines);
    assert_eq!(col(&t, "action", 1), "ACC\\\"EPT");
    let reasons: Vec<&str> = r.bad_lines.iter().map(|b| b.reason.as_str()).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].starts_with("a JSON object with neither"));
    assert_eq!(reasons[1], "not a JSON object");
    assert!(reasons[2].starts_with("invalid JSON"));
    assert!(reasons[3].starts_with("invalid JSON: EOF"));
    assert_eq!(r.lines, r.records + 4);
}

#[test]
fn plain_firehose_lines_take_the_configured_format() {
    let formats = Formats {
        default: LineFormat::v2(),
        rules: vec![
            "firehose/custom/=${interface-id} ${start} ${end} ${bytes}"
                .parse()
                .unwrap(),
        ],
    };
    let text = "eni-1 100 159 40\neni-2 100 159 x\n";
    let (r, t) = parse_with(formats.clone(), "firehose/custom/s-1-2026", text.as_bytes());
    assert_eq!((r.records, r.bad_lines.len()), (1, 1));
    assert_eq!(col(&t, "interface-id", 0), "eni-1");
    // The same lines under another prefix are not version 2 records.
    let (r, _) = parse_with(formats, "firehose/other/s-1", text.as_bytes());
    let reason = r.bad_file.unwrap().reason;
    assert!(reason.contains("a version 2 record"), "{reason}");
    let custom = Formats {
        default: "${start} ${end}".parse().unwrap(),
        rules: Vec::new(),
    };
    let (r, _) = parse_with(custom, "k", b"x y\n");
    let reason = r.bad_file.unwrap().reason;
    assert!(
        reason.contains("configured format ${start} ${end}"),
        "{reason}"
    );
}

fn cwl(message_type: &str, group: &str, messages: &[&str]) -> Vec<u8> {
    let events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"id": i.to_string(), "timestamp": 1_700_000_000_000_u64, "message": m}))
        .collect();
    gz(serde_json::json!({
        "messageType": message_type,
        "owner": "210987654321",
        "logGroup": group,
        "logStream": "eni-0a1b-all",
        "subscriptionFilters": ["to-firehose"],
        "logEvents": events,
    })
    .to_string()
    .as_bytes())
}

#[test]
fn cloudwatch_logs_payloads_several_gzip_members() {
    let short = "eni-9 10.0.0.9 10.0.0.8 22 40000 6 1 60 1700000000 1700000059 REJECT OK";
    let formats = Formats {
        default: LineFormat::v2(),
        rules: vec![
            "/vpc/short=${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
                .parse()
                .unwrap(),
        ],
    };
    let mut data = cwl(
        "CONTROL_MESSAGE",
        "",
        &["CWL CONTROL MESSAGE: Checking health of destination Firehose."],
    );
    data.extend(cwl("DATA_MESSAGE", "/vpc/default", &[REC, REC, "garbage"]));
    data.extend(cwl("DATA_MESSAGE", "/vpc/short", &[short]));
    let (r, t) = parse_with(formats, "cwl/s-1-2026", &data);
    assert_eq!(r.control_messages, 1);
    assert_eq!(
        (r.lines, r.records, r.bad_lines.len()),
        (4, 3, 1),
        "{:?}",
        r.bad_lines
    );
    assert_eq!(r.bad_lines[0].line, 3);
    // The line's own account, and the owner's where the format has none.
    assert_eq!(col(&t, "account-id", 0), "123456789012");
    assert_eq!(col(&t, "account-id", 2), "210987654321");
    assert_eq!(col(&t, "interface-id", 2), "eni-9");
    assert_eq!(col(&t, "version", 2), "-");
}

#[test]
fn gzip_inside_gzip_is_opened() {
    let inner = cwl("DATA_MESSAGE", "/g", &[REC]);
    let (r, _) = parse_with(Formats::default(), "k", &gz(&inner));
    assert_eq!(r.records, 1, "{:?}", r.bad_file);
}

#[test]
fn unknown_containers_and_payload_kinds_reject_the_file() {
    let (r, _) = parse_with(Formats::default(), "k", &[0x28, 0xb5, 0x2f, 0xfd, 1, 2]);
    assert!(r.bad_file.unwrap().reason.starts_with("zstd-compressed"));
    let (r, _) = parse_with(Formats::default(), "k", b"PAR1....PAR1");
    assert!(r.bad_file.unwrap().reason.contains("Parquet"));
    let (r, t) =
        parse("{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"message\":\"x\"}]}garbage");
    assert_eq!((r.lines, r.records, t.rows()), (2, 0, 0));
    let (r, _) = parse("{\"messageType\":\"SOMETHING\"}");
    assert!(
        r.bad_lines[0]
            .reason
            .contains("unknown CloudWatch Logs messageType")
    );
}
