use std::sync::Arc;

use arrow::array::{Int32Array, Int64Array, StringArray, UInt64Array};
use arrow::datatypes::{Field, Schema};
use flowlog::parse_object;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;

use super::*;
use crate::{WriteOptions, write_parquet};

#[test]
fn round_trip_keeps_every_cell_and_metadata() {
    let mut t = FlowTable::new();
    let text = "version account-id srcaddr srcport packets start end tcp-flags odd-field\n\
                2 1 ::1 22 5 100 159 3 x\n2 - - - - 1 2 - -\n";
    parse_object("f", text.as_bytes(), &mut t);
    let options = WriteOptions {
        metadata: vec![("flowmerge.window".into(), "2026-11-22T13:05Z".into())],
        ..WriteOptions::default()
    };
    let files = write_parquet(&t, &options).unwrap();
    let (back, metadata) = read_parquet(files[0].clone()).unwrap();
    assert!(metadata.contains(&("flowmerge.window".into(), "2026-11-22T13:05Z".into())));
    let again = write_parquet(&back, &options).unwrap();
    assert_eq!(files, again, "read-then-write reproduces the file");
    assert_eq!(back.metric("records").unwrap(), [1, 1]);
}

#[test]
fn garbage_is_an_error() {
    assert!(read_parquet(Bytes::from_static(b"not parquet")).is_err());
    let report = read_native(
        "k.log.parquet",
        Bytes::from_static(b"PAR1 not really"),
        &mut FlowTable::new(),
    );
    assert!(
        report
            .bad_file
            .unwrap()
            .reason
            .starts_with("native Parquet")
    );
}

#[test]
fn a_file_that_makes_the_parquet_reader_panic_is_an_error() {
    // Found by the parquet_partial fuzz target: arrow-buffer panics with
    // "offset + len out of bounds" while decoding it.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/fuzz/parquet-reader-panic.parquet"
    );
    let data = Bytes::from(std::fs::read(path).unwrap());
    let err = read_parquet(data.clone()).unwrap_err();
    assert!(matches!(err, ReadError::Malformed(_)), "{err}");
    let mut table = FlowTable::new();
    let report = read_native("k.log.parquet", data, &mut table);
    let reason = report.bad_file.unwrap().reason;
    assert!(
        reason.contains("malformed data stopped the reader"),
        "{reason}"
    );
    assert_eq!(table.rows(), 0);
}

/// A Parquet file as VPC Flow Logs write it: AWS's column names and types, GZIP.
fn aws_parquet(columns: Vec<(&str, ArrayRef)>) -> Bytes {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::GZIP(GzipLevel::default()))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    Bytes::from(out)
}

fn strings(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn text(t: &FlowTable, name: &str, row: usize) -> String {
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
fn native_parquet_with_missing_and_extra_columns() {
    // No dstaddr, dstport, action or log_status; an extra string and an extra
    // integer column; protocol as int64 (Athena's DDL says bigint).
    let data = aws_parquet(vec![
        (
            "version",
            Arc::new(Int32Array::from(vec![Some(5), Some(5), Some(5)])),
        ),
        (
            "account_id",
            strings(&[Some("123456789012"), Some("123456789012"), None]),
        ),
        (
            "interface_id",
            strings(&[Some("eni-1"), Some("eni-1"), Some("-")]),
        ),
        (
            "srcaddr",
            strings(&[Some("10.0.0.1"), Some("10.0.0.1"), Some("10.0.0.3")]),
        ),
        (
            "srcport",
            Arc::new(Int32Array::from(vec![Some(443), Some(443), None])),
        ),
        (
            "protocol",
            Arc::new(Int64Array::from(vec![Some(6), Some(6), Some(17)])),
        ),
        (
            "packets",
            Arc::new(Int64Array::from(vec![Some(10), Some(-1), Some(3)])),
        ),
        (
            "bytes",
            Arc::new(Int64Array::from(vec![Some(4000), Some(1), Some(300)])),
        ),
        ("start", Arc::new(Int64Array::from(vec![100, 100, 160]))),
        ("end", Arc::new(Int64Array::from(vec![159, 159, 219]))),
        ("team_tag", strings(&[Some("blue"), Some("blue"), None])),
        (
            "hops",
            Arc::new(UInt64Array::from(vec![Some(3), Some(3), Some(4)])),
        ),
    ]);
    let mut t = FlowTable::new();
    let report = read_native("a.log.parquet", data, &mut t);
    assert_eq!(report.bad_file, None);
    assert_eq!((report.lines, report.records), (3, 2));
    let bad = &report.bad_lines[0];
    assert_eq!(
        (bad.line, bad.reason.as_str()),
        (2, "packets: -1 is not a non-negative integer")
    );
    assert!(
        bad.raw
            .starts_with("5 123456789012 eni-1 10.0.0.1 443 6 -1"),
        "{}",
        bad.raw
    );
    assert_eq!(text(&t, "protocol", 1), "17");
    assert_eq!(text(&t, "interface-id", 1), "-");
    assert_eq!(text(&t, "account-id", 1), "-");
    assert_eq!(text(&t, "team_tag", 0), "blue");
    assert_eq!(text(&t, "hops", 1), "4");
    assert_eq!(text(&t, "records", 0), "1");
    assert!(
        t.slot("dstaddr").is_none(),
        "absent fields stay absent (null)"
    );
    let kind = |name: &str| {
        let Some(Slot::Dim(d)) = t.slot(name) else {
            panic!("{name}")
        };
        t.dims()[d].def.kind
    };
    assert_eq!((kind("protocol"), kind("hops")), (Kind::Int32, Kind::Str));
}

#[test]
fn values_that_do_not_fit_are_bad_rows_and_wrong_types_reject_the_file() {
    let data = aws_parquet(vec![
        (
            "srcport",
            Arc::new(Int64Array::from(vec![Some(1 << 40), Some(22)])),
        ),
        ("dstport", strings(&[Some("80"), Some("http")])),
    ]);
    let mut t = FlowTable::new();
    let report = read_native("b.log.parquet", data, &mut t);
    let reasons: Vec<_> = report.bad_lines.iter().map(|b| b.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "srcport: 1099511627776 does not fit in int32",
            "dstport: not a non-negative integer"
        ]
    );
    assert_eq!(t.rows(), 0);

    let floats = aws_parquet(vec![(
        "bytes",
        Arc::new(arrow::array::Float64Array::from(vec![1.5])),
    )]);
    let report = read_native("c.log.parquet", floats, &mut t);
    let reason = report.bad_file.unwrap().reason;
    assert_eq!(
        reason,
        "native Parquet: column bytes: type Float64 cannot hold Int64 values"
    );

    let twice = aws_parquet(vec![
        ("log_status", strings(&[Some("OK")])),
        ("log-status", strings(&[Some("OK")])),
    ]);
    let reason = read_native("d.log.parquet", twice, &mut t)
        .bad_file
        .unwrap()
        .reason;
    assert!(
        reason.contains("both hold the field log-status"),
        "{reason}"
    );
}

#[test]
fn a_selected_read_keeps_exactly_the_rows_its_column_accepts() {
    let mut lines = String::from("version account-id srcaddr packets start end\n");
    for i in 0..30_000 {
        let account = if i % 500 == 0 {
            "-".to_owned()
        } else {
            format!("{:012}", i / 3000)
        };
        lines.push_str(&format!(
            "2 {account} 10.0.{}.{} {i} {} {}\n",
            i % 250,
            i % 7,
            i,
            i + 5
        ));
    }
    let mut t = FlowTable::new();
    parse_object("f", lines.as_bytes(), &mut t);
    let options = WriteOptions {
        row_group_rows: 8_000,
        ..WriteOptions::default()
    };
    let file = write_parquet(&t, &options).unwrap().remove(0);
    let (all, _) = read_parquet(file.clone()).unwrap();
    let keep = |account: Option<&str>| account.is_none_or(|a| a.ends_with(['1', '4', '7']));
    let kept = read_parquet_where(file.clone(), "account_id", keep).unwrap();

    let account = |t: &FlowTable, r: usize| Some(text(t, "account-id", r)).filter(|a| a != "-");
    let expected: Vec<usize> = (0..all.rows())
        .filter(|&r| keep(account(&all, r).as_deref()))
        .collect();
    assert!(expected.len() > 5_000 && expected.len() < all.rows() - 5_000);
    assert_eq!(kept.rows(), expected.len());
    for (k, &r) in expected.iter().enumerate() {
        assert_eq!(account(&kept, k), account(&all, r));
        assert_eq!(text(&kept, "packets", k), text(&all, "packets", r));
        assert_eq!(text(&kept, "srcaddr", k), text(&all, "srcaddr", r));
    }
    // A file without the column: all rows or none, as `keep` says of null.
    assert_eq!(
        read_parquet_where(file.clone(), "no_such", |_| true)
            .unwrap()
            .rows(),
        all.rows()
    );
    assert_eq!(
        read_parquet_where(file, "no_such", |_| false)
            .unwrap()
            .rows(),
        0
    );
}
