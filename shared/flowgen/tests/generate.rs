//! End-to-end checks of `flowgen::generate`: determinism, truth vs. files,
//! layout, and the variety the data set promises.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::{GzDecoder, MultiGzDecoder};
use flowgen::{GenerateOptions, Totals, Truth, generate};

const V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// All files under `dir`, relative, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    fn rec(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rec(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    rec(dir, dir, &mut out);
    out.sort();
    out
}

fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Check the S3 delivery layout; returns (account, window key "YYYY-MM-DDTHH:MMZ", ext).
fn check_layout(rel: &Path) -> (String, String, String) {
    let parts: Vec<&str> = rel.iter().map(|c| c.to_str().unwrap()).collect();
    assert_eq!(parts.len(), 8, "{rel:?}");
    let [aws, account, svc, region, yyyy, mm, dd, name] = parts[..] else {
        unreachable!()
    };
    assert_eq!(aws, "AWSLogs");
    assert!(is_digits(account, 12), "{rel:?}");
    assert_eq!(svc, "vpcflowlogs");
    let r: Vec<&str> = region.split('-').collect();
    assert!(
        r.len() == 3 && r[0].len() == 2 && r[2].parse::<u8>().is_ok(),
        "{rel:?}"
    );
    assert!(is_digits(yyyy, 4) && is_digits(mm, 2) && is_digits(dd, 2));
    let (stem, ext) = if let Some(s) = name.strip_suffix(".log.gz") {
        (s, ".log.gz")
    } else if let Some(s) = name.strip_suffix(".log") {
        (s, ".log")
    } else {
        panic!("bad extension {rel:?}")
    };
    let f: Vec<&str> = stem.split('_').collect();
    assert_eq!(f.len(), 6, "{rel:?}");
    assert_eq!(f[0], account);
    assert_eq!(f[1], "vpcflowlogs");
    assert_eq!(f[2], region);
    assert!(f[3].starts_with("fl-") && is_hex(&f[3][3..], 17), "{rel:?}");
    let st = f[4];
    assert_eq!(st.len(), 14, "{rel:?}");
    assert_eq!(&st[..4], yyyy);
    assert_eq!(&st[4..6], mm);
    assert_eq!(&st[6..8], dd);
    assert!(is_digits(&st[..8], 8) && &st[8..9] == "T" && is_digits(&st[9..13], 4));
    assert_eq!(&st[13..], "Z");
    assert!(is_hex(f[5], 8), "{rel:?}");
    let window = format!("{yyyy}-{mm}-{dd}T{}:{}Z", &st[9..11], &st[11..13]);
    (account.to_string(), window, ext.to_string())
}

/// One parsed good record: field name → value.
type Record = BTreeMap<String, String>;
/// Dimension values of a flow → its `(start, end)` spans.
type Spans<'a> = BTreeMap<Vec<(&'a String, &'a String)>, Vec<(i64, i64)>>;

#[derive(Default)]
struct Scan {
    files: u64,
    bytes: u64,
    lines: u64,
    records: u64,
    bad_lines: u64,
    bad_files: u64,
    multi_member_files: u64,
    headerless_files: u64,
    headers: BTreeSet<String>,
    windows: BTreeMap<String, BTreeMap<String, Totals>>,
    /// Per file, its good records.
    per_file: Vec<(PathBuf, Vec<Record>)>,
}

fn int_ok(field: &str, v: &str) -> bool {
    if v == "-" {
        return true;
    }
    match field {
        "version" | "srcport" | "dstport" | "protocol" | "tcp-flags" | "traffic-path" => {
            v.parse::<i32>().is_ok_and(|n| n >= 0)
        }
        "packets" | "bytes" | "start" | "end" => v.parse::<u64>().is_ok(),
        _ => true,
    }
}

fn scan(dir: &Path) -> Scan {
    let mut s = Scan::default();
    for rel in walk(dir) {
        if rel == Path::new("truth.json") {
            continue;
        }
        let (account, window, ext) = check_layout(&rel);
        let raw = std::fs::read(dir.join(&rel)).unwrap();
        s.files += 1;
        s.bytes += raw.len() as u64;
        let text = if ext == ".log.gz" {
            let mut t = String::new();
            if MultiGzDecoder::new(&raw[..])
                .read_to_string(&mut t)
                .is_err()
            {
                s.bad_files += 1;
                continue;
            }
            let mut first = Vec::new();
            GzDecoder::new(&raw[..]).read_to_end(&mut first).unwrap();
            if first.len() < t.len() {
                s.multi_member_files += 1;
            }
            t
        } else {
            String::from_utf8(raw).unwrap()
        };
        if text.starts_with('<') {
            s.bad_files += 1;
            continue;
        }
        assert!(text.ends_with('\n'));
        let mut lines = text.lines().peekable();
        let first = *lines.peek().unwrap();
        let header: Vec<String> = if first.starts_with(|c: char| c.is_ascii_digit()) {
            s.headerless_files += 1;
            V2.split(' ').map(String::from).collect()
        } else {
            lines.next();
            s.headers.insert(first.to_string());
            first.split(' ').map(String::from).collect()
        };
        let mut recs = Vec::new();
        for line in lines {
            s.lines += 1;
            let vals: Vec<&str> = line.split(' ').collect();
            if vals.len() != header.len() || !header.iter().zip(&vals).all(|(f, v)| int_ok(f, v)) {
                s.bad_lines += 1;
                continue;
            }
            let r: Record = header
                .iter()
                .cloned()
                .zip(vals.iter().map(|v| v.to_string()))
                .collect();
            assert_eq!(r["account-id"], account);
            let num = |k: &str| r[k].parse::<u64>().unwrap_or(0);
            let t = Totals::one(
                num("packets"),
                num("bytes"),
                r["start"].parse().unwrap(),
                r["end"].parse().unwrap(),
            );
            let acc = s.windows.entry(window.clone()).or_default();
            match acc.get_mut(&account) {
                Some(x) => x.add(&t),
                None => {
                    acc.insert(account.clone(), t);
                }
            }
            s.records += 1;
            recs.push(r);
        }
        s.per_file.push((rel, recs));
    }
    s
}

fn small() -> GenerateOptions {
    GenerateOptions {
        accounts: 5,
        enis_per_account: 6,
        flows_per_eni: 5,
        minutes: 7,
        bad_lines: 9,
        bad_files: true,
        ..Default::default()
    }
}

#[test]
fn deterministic_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ta = generate(a.path(), &small()).unwrap();
    let tb = generate(b.path(), &small()).unwrap();
    assert_eq!(ta, tb);
    let files = walk(a.path());
    assert_eq!(files, walk(b.path()));
    for f in &files {
        let x = std::fs::read(a.path().join(f)).unwrap();
        let y = std::fs::read(b.path().join(f)).unwrap();
        assert!(x == y, "{f:?} differs");
    }
    let c = tempfile::tempdir().unwrap();
    let other = GenerateOptions { seed: 7, ..small() };
    generate(c.path(), &other).unwrap();
    assert_ne!(walk(c.path()), files);
}

#[test]
fn truth_matches_files_with_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        bad_lines: 13,
        bad_files: true,
        ..Default::default()
    };
    let truth = generate(dir.path(), &opts).unwrap();
    let on_disk = Truth::read(&dir.path().join("truth.json")).unwrap();
    assert_eq!(on_disk, truth);
    let s = scan(dir.path());
    assert_eq!(s.files, truth.files);
    assert_eq!(s.bytes, truth.bytes);
    assert_eq!(s.lines, truth.lines);
    assert_eq!(s.records, truth.records);
    assert_eq!(s.bad_lines, 13);
    assert_eq!(truth.bad_lines, 13);
    assert_eq!(s.bad_files, 2);
    assert_eq!(truth.bad_files, 2);
    assert_eq!(truth.lines, truth.records + truth.bad_lines);
    assert_eq!(s.windows, truth.windows);
    assert_eq!(
        truth.windows.len(),
        opts.minutes as usize,
        "every minute has files"
    );
    for accounts in truth.windows.values() {
        for t in accounts.values() {
            assert!(t.start_min <= t.end_max);
        }
    }
}

#[test]
fn clean_by_default_and_varied() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions::default();
    let truth = generate(dir.path(), &opts).unwrap();
    let s = scan(dir.path());
    assert_eq!((truth.bad_lines, truth.bad_files), (0, 0));
    assert_eq!((s.bad_lines, s.bad_files), (0, 0));
    assert_eq!(s.windows, truth.windows);
    assert_eq!(s.records, truth.records);
    assert_eq!(s.files, truth.files);
    assert!(
        !walk(dir.path())
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "log"))
    );

    // Formats: default v2 with header, headerless v2, v3, v4, v5, reordered.
    assert!(s.headers.contains(V2));
    assert!(s.headerless_files > 0);
    let has = |suffix: &str| s.headers.iter().any(|h| h.ends_with(suffix));
    assert!(has("tcp-flags type pkt-srcaddr pkt-dstaddr"));
    assert!(has("region az-id sublocation-type sublocation-id"));
    assert!(has(
        "pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path"
    ));
    assert!(s.headers.iter().any(|h| h.starts_with("account-id")));
    assert!(s.multi_member_files > 0);

    let all: Vec<&Record> = s.per_file.iter().flat_map(|(_, r)| r).collect();
    let status = |st: &str| all.iter().filter(|r| r["log-status"] == st).count();
    assert!(status("NODATA") > 0);
    assert!(status("SKIPDATA") > 0);
    assert!(
        all.iter().any(|r| r["srcaddr"].contains(':')),
        "IPv6 present"
    );
    assert!(all.iter().any(|r| r["action"] == "REJECT"));
    for r in &all {
        match r["log-status"].as_str() {
            "OK" => {
                let p: u64 = r["packets"].parse().unwrap();
                let b: u64 = r["bytes"].parse().unwrap();
                assert!(p >= 1 && b >= 40 * p && b <= 1500 * p, "{r:?}");
                assert!(["ACCEPT", "REJECT"].contains(&r["action"].as_str()));
                if let Some(f) = r.get("tcp-flags") {
                    assert!(
                        ["0", "1", "2", "3", "18", "19"].contains(&f.as_str()),
                        "{r:?}"
                    );
                }
                if r["action"] == "REJECT" {
                    assert!(p <= 2 && b <= 120, "{r:?}");
                }
            }
            "NODATA" | "SKIPDATA" => {
                for (k, v) in r.iter() {
                    let keep = [
                        "version",
                        "account-id",
                        "interface-id",
                        "start",
                        "end",
                        "log-status",
                    ];
                    if !keep.contains(&k.as_str()) {
                        assert_eq!(v, "-", "{r:?}");
                    }
                }
            }
            other => panic!("log-status {other}"),
        }
        assert!(r["interface-id"].starts_with("eni-") && r["interface-id"].len() == 21);
    }
}

#[test]
fn flows_continue_across_records() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &small()).unwrap();
    let s = scan(dir.path());
    let metrics = ["packets", "bytes", "start", "end", "tcp-flags"];
    let mut best = 0;
    for (_, recs) in &s.per_file {
        let mut flows: Spans<'_> = BTreeMap::new();
        for r in recs.iter().filter(|r| r["log-status"] == "OK") {
            let dims = r
                .iter()
                .filter(|(k, _)| !metrics.contains(&k.as_str()))
                .collect();
            let span = (r["start"].parse().unwrap(), r["end"].parse().unwrap());
            flows.entry(dims).or_default().push(span);
        }
        for spans in flows.values_mut() {
            spans.sort();
            let mut run = 1;
            for w in spans.windows(2) {
                run = if w[1].0 <= w[0].1 + 60 { run + 1 } else { 1 };
                best = best.max(run);
            }
        }
    }
    assert!(best >= 3, "longest contiguous run {best}");
}

#[test]
fn scaled_down_options_work() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        accounts: 1,
        enis_per_account: 1,
        flows_per_eni: 0,
        minutes: 1,
        bad_lines: 3,
        ..Default::default()
    };
    let truth = generate(dir.path(), &opts).unwrap();
    let s = scan(dir.path());
    assert_eq!(s.records, truth.records);
    assert_eq!(s.bad_lines, truth.bad_lines);
    assert_eq!(s.windows, truth.windows);
}

/// Timing at scale: `cargo test -p flowgen --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_at_scale() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        accounts: 100,
        enis_per_account: 20,
        flows_per_eni: 16,
        minutes: 30,
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    let truth = generate(dir.path(), &opts).unwrap();
    let took = t0.elapsed();
    eprintln!(
        "{} records, {} files, {} MB gzip in {:.2?} ({:.0} records/s)",
        truth.records,
        truth.files,
        truth.bytes / 1_000_000,
        took,
        truth.records as f64 / took.as_secs_f64()
    );
}

#[test]
fn default_counts() {
    let dir = tempfile::tempdir().unwrap();
    let truth = generate(dir.path(), &GenerateOptions::default()).unwrap();
    eprintln!(
        "default: {} files, {} records, {} bytes, {} windows",
        truth.files,
        truth.records,
        truth.bytes,
        truth.windows.len()
    );
    assert!(truth.records > 10_000);
}

/// Write the default data set (with bad input) to `$FLOWGEN_OUT` for inspection:
/// `FLOWGEN_OUT=/tmp/x cargo test -p flowgen -- --ignored dump_to_dir`.
#[test]
#[ignore]
fn dump_to_dir() {
    let Some(out) = std::env::var_os("FLOWGEN_OUT") else {
        return;
    };
    let opts = GenerateOptions {
        bad_lines: 8,
        bad_files: true,
        ..Default::default()
    };
    let truth = generate(Path::new(&out), &opts).unwrap();
    eprintln!("{} files, {} records", truth.files, truth.records);
}
