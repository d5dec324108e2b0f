//! The hand-written edge cases of `tests/fixtures/edge` (written by its
//! `make.py`, expectations in its `expected.json`) through the real `flowmerge`
//! binary: `compact --json`, then `verify`, then the output Parquet and error
//! files read back and compared with what DESIGN.md says must come out.
//!
//! Every check is labelled with its case (one fixture file, one account per
//! case) and all failures are collected, so one run names every broken case.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test reports failure by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use bytes::Bytes;
use flowlog::{ColumnDef, FlowTable, Kind, NULL, Slot, Value, Window};
use merge::{Totals, totals_by_account};
use serde_json::{Value as Json, json};

const SUMS: [&str; 7] = [
    "records",
    "packets",
    "bytes",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/edge")
}

/// Failed checks, each labelled with its case.
#[derive(Debug, Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, case: &str, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(format!("[{case}] {}", what()));
        }
    }

    fn eq<T: PartialEq + Debug>(&mut self, case: &str, what: &str, found: T, expected: T) {
        self.check(found == expected, case, || {
            format!("{what}: found {found:?}, expected {expected:?}")
        });
    }
}

/// Files under `dir` (recursively) whose name ends with `suffix`, sorted.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The window stamp (`20261122T1000Z`) an output file name starts with.
fn stamp_of(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy();
    let stamp = name.get(..14).unwrap_or_default();
    assert!(
        Window::from_stamp(stamp).is_some(),
        "{} does not start with a window stamp",
        path.display()
    );
    stamp.to_owned()
}

fn str_of<'a>(v: &'a Json, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("expected.json: {key} is not a string in {v}"))
}

fn i64_of(v: &Json) -> Option<i64> {
    v.as_i64()
}

/// A cell as JSON: strings as strings, integers as numbers, null as null.
fn cell(table: &FlowTable, slot: Slot, row: usize) -> Json {
    match slot {
        Slot::Dim(d) => match table.dim_value(d, row) {
            Value::Null => Json::Null,
            Value::Int(i) => json!(i),
            Value::Str(s) => json!(s),
        },
        Slot::Metric(m) => match table.metrics()[m].values[row] {
            NULL => Json::Null,
            v => json!(v),
        },
    }
}

/// The slot of an output column (`log_status`, `future_field`) in a table read back.
fn column(table: &FlowTable, name: &str) -> Option<Slot> {
    table.slot(&ColumnDef::for_column(name).name)
}

/// Rows of `account` (`-`: null account) in a window's table.
fn rows_of(table: &FlowTable, account: &str) -> Vec<usize> {
    let Some(slot) = column(table, "account_id") else {
        return Vec::new();
    };
    let want = if account == "-" {
        Json::Null
    } else {
        json!(account)
    };
    (0..table.rows())
        .filter(|&r| cell(table, slot, r) == want)
        .collect()
}

/// Every output Parquet file read back and appended per window.
fn read_output(output: &Path) -> BTreeMap<String, FlowTable> {
    let mut windows: BTreeMap<String, FlowTable> = BTreeMap::new();
    for path in files_under(&output.join("flowlogs"), ".parquet") {
        let data = Bytes::from(std::fs::read(&path).unwrap());
        let (table, _) = columnar::read_parquet(data)
            .unwrap_or_else(|e| panic!("{}: not readable Parquet: {e}", path.display()));
        windows.entry(stamp_of(&path)).or_default().append(&table);
    }
    windows
}

#[test]
fn edge_fixtures_compact_verify_and_read_back_as_designed() {
    let input = fixtures();
    let expected: Json =
        serde_json::from_slice(&std::fs::read(input.join("expected.json")).unwrap()).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let output = temp.path().join("out");
    // The formats of the headerless delivery cases, as a user configures them.
    let formats: Vec<String> = expected["formats"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| ["--format-for".to_owned(), rule.as_str().unwrap().to_owned()])
        .collect();

    let compact = Command::cargo_bin("flowmerge")
        .unwrap()
        .arg("compact")
        .arg(&input)
        .arg(&output)
        .args(["--json", "--threads", "2"])
        .args(&formats)
        .output()
        .unwrap();
    assert!(
        compact.status.success(),
        "flowmerge compact failed ({}):\n{}\n{}",
        compact.status,
        String::from_utf8_lossy(&compact.stdout),
        String::from_utf8_lossy(&compact.stderr)
    );
    let summary: Json = serde_json::from_slice(&compact.stdout)
        .unwrap_or_else(|e| panic!("compact --json printed no JSON ({e})"));

    let mut f = Failures::default();
    check_summary(&mut f, &summary, &expected);

    let verify = Command::cargo_bin("flowmerge")
        .unwrap()
        .arg("verify")
        .arg(&input)
        .arg(&output)
        .args(&formats)
        .output()
        .unwrap();
    f.check(verify.status.success(), "verify", || {
        format!(
            "flowmerge verify exited {}:\n{}{}",
            verify.status,
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        )
    });

    let windows = read_output(&output);
    check_totals(&mut f, &windows, &expected);
    check_merged(&mut f, &windows, &expected);
    check_unknown_field(&mut f, &windows, &expected);
    check_packets_lost(&mut f, &windows, &expected);
    check_cells(&mut f, &windows, &expected);
    check_bad_lines(&mut f, &output, &expected);
    check_bad_files(&mut f, &output, &expected);

    assert!(
        f.0.is_empty(),
        "{} check(s) failed on the edge fixtures:\n  {}",
        f.0.len(),
        f.0.join("\n  ")
    );
}

/// The `--json` summary: no failed window, the counts of the design.
fn check_summary(f: &mut Failures, summary: &Json, expected: &Json) {
    let failures = summary["failures"].as_array().map_or(0, Vec::len);
    f.check(failures == 0, "summary", || {
        format!("windows failed: {}", summary["failures"])
    });
    let windows = expected["windows"].as_object().unwrap().len() as u64;
    f.eq(
        "summary",
        "windows_run",
        summary["windows_run"].as_u64(),
        Some(windows),
    );
    f.eq(
        "summary",
        "files_in (every .log/.log.gz, bad ones included)",
        summary["files_in"].as_u64(),
        expected["files"].as_u64(),
    );
    f.eq(
        "summary",
        "records_in (good records, NODATA/SKIPDATA included)",
        summary["records_in"].as_u64(),
        expected["records"].as_u64(),
    );
    f.eq(
        "summary",
        "rows_out (one continuing flow merged)",
        summary["rows_out"].as_u64(),
        expected["rows"].as_u64(),
    );
    f.eq(
        "bad-lines",
        "summary bad_lines",
        summary["bad_lines"].as_u64(),
        expected["bad_lines"].as_u64(),
    );
    f.eq(
        "bad-files",
        "summary bad_files",
        summary["bad_files"].as_u64(),
        expected["bad_files"].as_u64(),
    );
    f.eq(
        "cwl-payloads",
        "summary control_messages",
        summary["control_messages"].as_u64(),
        expected["control_messages"].as_u64(),
    );
}

/// The cases an account stands for, for messages.
fn cases(expected: &Json, account: &str) -> String {
    expected["accounts"][account]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| format!("unexpected account {account}"))
}

/// Per window and account: records, packets, bytes, packets-lost-* sums,
/// min start, max end, exactly as the good records of the input add up.
fn check_totals(f: &mut Failures, windows: &BTreeMap<String, FlowTable>, expected: &Json) {
    let want = expected["windows"].as_object().unwrap();
    let found_windows: BTreeSet<&String> = windows.keys().collect();
    let want_windows: BTreeSet<&String> = want.keys().collect();
    f.eq(
        "windows",
        "windows with output",
        found_windows,
        want_windows,
    );
    for (stamp, accounts) in want {
        let found: BTreeMap<String, Totals> = windows
            .get(stamp)
            .map(totals_by_account)
            .unwrap_or_default();
        let want_accounts = accounts.as_object().unwrap();
        let names: BTreeSet<&str> = found
            .keys()
            .map(String::as_str)
            .chain(want_accounts.keys().map(String::as_str))
            .collect();
        for account in names {
            let case = cases(expected, account);
            let (Some(totals), Some(want)) = (found.get(account), want_accounts.get(account))
            else {
                f.check(false, &case, || {
                    format!(
                        "window {stamp} account {account}: in output {}, expected {}",
                        found.contains_key(account),
                        want_accounts.contains_key(account)
                    )
                });
                continue;
            };
            for name in SUMS {
                f.eq(
                    &case,
                    &format!("window {stamp} account {account} sum of {name}"),
                    totals.sum(name),
                    want.get(name).and_then(i64_of).unwrap_or(0),
                );
            }
            f.eq(
                &case,
                &format!("window {stamp} account {account} min start"),
                totals.start_min,
                i64_of(&want["start_min"]),
            );
            f.eq(
                &case,
                &format!("window {stamp} account {account} max end"),
                totals.end_max,
                i64_of(&want["end_max"]),
            );
        }
    }
}

/// The continuing flow: the record in the second file starts exactly
/// `max_gap` after the first ends, so both fold into one row (`records` 2,
/// packets/bytes summed, tcp-flags ORed); the next starts `max_gap + 1` after
/// and stays its own row.
fn check_merged(f: &mut Failures, windows: &BTreeMap<String, FlowTable>, expected: &Json) {
    for m in expected["merged"].as_array().unwrap() {
        let case = str_of(m, "case");
        let stamp = str_of(m, "window");
        let Some(table) = windows.get(stamp) else {
            f.check(false, case, || format!("no output for window {stamp}"));
            continue;
        };
        let srcaddr = column(table, "srcaddr").unwrap();
        let srcport = column(table, "srcport").unwrap();
        let mut rows: Vec<Json> = rows_of(table, str_of(m, "account"))
            .into_iter()
            .filter(|&r| {
                cell(table, srcaddr, r) == m["srcaddr"] && cell(table, srcport, r) == m["srcport"]
            })
            .map(|r| {
                let get = |name: &str| {
                    column(table, name).map_or(Json::Null, |slot| cell(table, slot, r))
                };
                json!({
                    "records": get("records"),
                    "tcp_flags": get("tcp_flags"),
                    "packets": get("packets"),
                    "bytes": get("bytes"),
                    "start": get("start"),
                    "end": get("end"),
                })
            })
            .collect();
        rows.sort_by_key(|r| r["start"].as_i64());
        f.eq(
            case,
            &format!(
                "rows of flow {} port {} in window {stamp}",
                m["srcaddr"], m["srcport"]
            ),
            Json::Array(rows),
            m["rows"].clone(),
        );
    }
}

/// An unknown header field becomes a string column named like AWS names
/// columns (`future_field`), with its values as written ("0042" stays "0042").
fn check_unknown_field(f: &mut Failures, windows: &BTreeMap<String, FlowTable>, expected: &Json) {
    let u = &expected["unknown_field"];
    let case = str_of(u, "case");
    let stamp = str_of(u, "window");
    let name = str_of(u, "column");
    let Some(table) = windows.get(stamp) else {
        f.check(false, case, || format!("no output for window {stamp}"));
        return;
    };
    let Some(slot) = column(table, name) else {
        f.check(false, case, || {
            format!("window {stamp}: no column {name} in the output")
        });
        return;
    };
    let Slot::Dim(d) = slot else {
        f.check(false, case, || format!("column {name} is not a dimension"));
        return;
    };
    f.eq(
        case,
        &format!("type of column {name}"),
        table.dims()[d].def.kind,
        Kind::Str,
    );
    let values: BTreeSet<String> = rows_of(table, str_of(u, "account"))
        .into_iter()
        .map(|r| cell(table, slot, r).to_string())
        .collect();
    let want: BTreeSet<String> = u["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(Json::to_string)
        .collect();
    f.eq(case, &format!("values of {name}"), values, want);
}

/// Transit Gateway `packets-lost-*`: summed, in columns named `packets_lost_*`.
fn check_packets_lost(f: &mut Failures, windows: &BTreeMap<String, FlowTable>, expected: &Json) {
    let p = &expected["packets_lost"];
    let case = str_of(p, "case");
    let stamp = str_of(p, "window");
    let Some(table) = windows.get(stamp) else {
        f.check(false, case, || format!("no output for window {stamp}"));
        return;
    };
    let rows = rows_of(table, str_of(p, "account"));
    for (name, want) in p["sums"].as_object().unwrap() {
        let Some(slot) = column(table, name) else {
            f.check(false, case, || format!("window {stamp}: no column {name}"));
            continue;
        };
        let sum: i64 = rows
            .iter()
            .filter_map(|&r| cell(table, slot, r).as_i64())
            .sum();
        f.eq(case, &format!("sum of {name}"), Some(sum), want.as_i64());
    }
}

/// Distinct values of dimension columns per case, typed as AWS types them
/// (ports, protocol, version, traffic_path, encryption_status are integers).
fn check_cells(f: &mut Failures, windows: &BTreeMap<String, FlowTable>, expected: &Json) {
    for c in expected["cells"].as_array().unwrap() {
        let case = str_of(c, "case");
        let stamp = str_of(c, "window");
        let name = str_of(c, "column");
        let Some(table) = windows.get(stamp) else {
            f.check(false, case, || format!("no output for window {stamp}"));
            continue;
        };
        let Some(slot) = column(table, name) else {
            f.check(false, case, || format!("window {stamp}: no column {name}"));
            continue;
        };
        let found: BTreeSet<String> = rows_of(table, str_of(c, "account"))
            .into_iter()
            .map(|r| cell(table, slot, r).to_string())
            .collect();
        let want: BTreeSet<String> = c["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(Json::to_string)
            .collect();
        f.eq(case, &format!("values of column {name}"), found, want);
    }
}

/// Error output lines of one kind: (window stamp of the error file, record).
fn error_records(f: &mut Failures, output: &Path, kind: &str) -> Vec<(String, Json)> {
    let mut out = Vec::new();
    for path in files_under(&output.join("errors").join(kind), ".jsonl") {
        let stamp = stamp_of(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Json>(line) {
                Ok(record) => out.push((stamp.clone(), record)),
                Err(e) => f.check(false, kind, || {
                    format!("{}: not a JSON line ({e}): {line}", path.display())
                }),
            }
        }
    }
    out
}

/// Checks what every error record must hold; returns (window, file name, line).
fn error_common(
    f: &mut Failures,
    kind: &str,
    stamp: &str,
    record: &Json,
) -> (String, String, Option<u64>) {
    let message = record["errorMessage"].as_str().unwrap_or_default();
    f.check(!message.trim().is_empty(), kind, || {
        format!("error record without errorMessage: {record}")
    });
    f.eq(kind, "errorCode", record["errorCode"].as_str(), Some(kind));
    let window = record["window"]
        .as_str()
        .and_then(|w| w.parse::<Window>().ok())
        .map(|w| w.stamp());
    f.eq(
        kind,
        &format!("window of {record} vs its error file"),
        window.as_deref(),
        Some(stamp),
    );
    let file = record["key"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    (stamp.to_owned(), file, record["line"].as_u64())
}

/// Bad lines: in `errors/parse-failed/`, one JSON line each, with the file,
/// line number, raw text (truncated to a sane size) and reason.
fn check_bad_lines(f: &mut Failures, output: &Path, expected: &Json) {
    const KIND: &str = "parse-failed";
    let records = error_records(f, output, KIND);
    f.eq(
        "bad-lines",
        "JSON lines under errors/parse-failed/",
        records.len() as u64,
        expected["bad_lines"].as_u64().unwrap(),
    );
    let want: BTreeMap<(String, String, Option<u64>), &Json> = expected["bad_line_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                (
                    str_of(b, "window").to_owned(),
                    str_of(b, "file").to_owned(),
                    b["line"].as_u64(),
                ),
                b,
            )
        })
        .collect();
    let mut found = BTreeSet::new();
    for (stamp, record) in &records {
        let id = error_common(f, KIND, stamp, record);
        let Some(b) = want.get(&id) else {
            f.check(false, "bad-lines", || {
                format!("unexpected bad line {id:?}: {record}")
            });
            continue;
        };
        let case = str_of(b, "case");
        let raw = record["rawData"].as_str().unwrap_or_default();
        let (want_raw, raw_len) = (str_of(b, "raw"), b["raw_len"].as_u64().unwrap() as usize);
        if raw_len <= want_raw.len() {
            f.eq(case, &format!("rawData of line {:?}", id.2), raw, want_raw);
        } else {
            f.check(
                raw.starts_with(want_raw) && raw.len() < raw_len && raw.len() <= 8192,
                case,
                || {
                    format!(
                        "rawData of a {raw_len}-byte line should be its start, truncated to a sane size; got {} bytes",
                        raw.len()
                    )
                },
            );
        }
        found.insert(id);
    }
    for (id, b) in &want {
        f.check(found.contains(id), str_of(b, "case"), || {
            format!("bad line {id:?} missing from errors/parse-failed/")
        });
    }
}

/// Bad files: in `errors/unreadable-file/`, one JSON line each, with a reason.
/// The empty gzip is not among them.
fn check_bad_files(f: &mut Failures, output: &Path, expected: &Json) {
    const KIND: &str = "unreadable-file";
    let records = error_records(f, output, KIND);
    f.eq(
        "bad-files",
        "JSON lines under errors/unreadable-file/",
        records.len() as u64,
        expected["bad_files"].as_u64().unwrap(),
    );
    let want: BTreeMap<(String, String), &str> = expected["bad_file_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                (str_of(b, "window").to_owned(), str_of(b, "file").to_owned()),
                str_of(b, "case"),
            )
        })
        .collect();
    let mut found = BTreeSet::new();
    for (stamp, record) in &records {
        let (window, file, _) = error_common(f, KIND, stamp, record);
        let id = (window, file);
        f.check(want.contains_key(&id), "bad-files", || {
            format!("unexpected bad file {id:?}: {record}")
        });
        found.insert(id);
    }
    for (id, case) in &want {
        f.check(found.contains(id), case, || {
            format!("bad file {} missing from errors/unreadable-file/", id.1)
        });
    }
}
