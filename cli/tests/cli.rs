//! The `flowmerge` binary end to end: idempotency, crashes between steps, late
//! files, and `verify` catching what it must catch.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn flowmerge() -> Command {
    Command::cargo_bin("flowmerge").unwrap()
}

/// Generated raw data and an output directory, in a temp dir.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (raw, out) = (dir.path().join("raw"), dir.path().join("out"));
    flowmerge()
        .args([
            "generate",
            "--minutes",
            "4",
            "--accounts",
            "8",
            "--bad-lines",
            "4",
            "--bad-files",
        ])
        .arg(&raw)
        .assert()
        .success();
    (dir, raw, out)
}

/// Every file under `dir` except the work area (ledger, lock).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                p,
            )
        })
        .filter(|(rel, _)| !rel.starts_with("_flowmerge"))
        .map(|(rel, p)| (rel, std::fs::read(p).unwrap()))
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn compact(raw: &Path, out: &Path) -> assert_cmd::assert::Assert {
    compact_with(raw, out, &[])
}

fn compact_with(raw: &Path, out: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    flowmerge()
        .arg("compact")
        .arg(raw)
        .arg(out)
        .args(args)
        .assert()
}

const ROLLUP: &[&str] = &["--rollup", "hour"];

/// The hour tier's files in a snapshot.
fn hour_files(snapshot: &BTreeMap<String, Vec<u8>>) -> Vec<&String> {
    snapshot
        .keys()
        .filter(|k| k.starts_with("flowlogs-hourly/") && k.ends_with(".parquet"))
        .collect()
}

fn verify(raw: &Path, out: &Path) -> assert_cmd::assert::Assert {
    flowmerge().arg("verify").arg(raw).arg(out).assert()
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn same(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
}

fn first_delivery_file(raw: &Path) -> PathBuf {
    walk(raw)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".log.gz"))
        .unwrap()
}

/// Re-delivers one file under a new name, as a late file of its window
/// (whose stamp it returns): the window must be redone.
fn deliver_late_copy(raw: &Path) -> String {
    let original = first_delivery_file(raw);
    let name = original.file_name().unwrap().to_string_lossy().into_owned();
    let stem = name
        .trim_end_matches(".log.gz")
        .rsplit_once('_')
        .unwrap()
        .0
        .to_owned();
    std::fs::copy(
        &original,
        original.with_file_name(format!("{stem}_0late000.log.gz")),
    )
    .unwrap();
    name.split('_').nth(4).unwrap().to_owned()
}

#[test]
fn a_second_run_writes_nothing_and_a_fresh_run_is_byte_identical() {
    let (dir, raw, out) = setup();
    compact(&raw, &out).success();
    let first = snapshot(&out);
    assert!(first.keys().any(|k| k.ends_with(".parquet")));
    let again = compact(&raw, &out).success();
    assert!(
        stdout(&again).contains("Nothing to do"),
        "{}",
        stdout(&again)
    );
    assert!(
        same(&snapshot(&out), &first),
        "second run changed the output"
    );

    // A fresh output directory from the same input gets the same bytes and names.
    let other = dir.path().join("other");
    compact(&raw, &other).success();
    assert!(
        same(&snapshot(&other), &first),
        "output is not deterministic"
    );
    verify(&raw, &out).success();
}

/// Kills the process at a step boundary, then re-runs: the output must verify
/// (conservation, no orphans or duplicates) and equal an uninterrupted run's.
fn crash_and_recover(failpoint: &str) {
    crash_and_recover_with(failpoint, &[]);
}

fn crash_and_recover_with(failpoint: &str, args: &[&str]) {
    let (dir, raw, out) = setup();
    let crashed = flowmerge()
        .env("FLOWMERGE_FAILPOINTS", format!("{failpoint}=abort"))
        .arg("compact")
        .arg(&raw)
        .arg(&out)
        .args(args)
        .assert()
        .failure();
    assert!(
        crashed.get_output().status.code().is_none(),
        "killed by a signal at {failpoint}"
    );
    compact_with(&raw, &out, args).success();
    verify(&raw, &out).success();
    let clean = dir.path().join("clean");
    compact_with(&raw, &clean, args).success();
    assert!(
        same(&snapshot(&out), &snapshot(&clean)),
        "recovered output differs after {failpoint}"
    );
    let staging = out.join("_flowmerge/staging");
    assert!(
        !staging.exists() || walk(&staging).is_empty(),
        "staging left after {failpoint}"
    );
}

#[test]
fn a_crash_after_a_partial_merge_is_recovered() {
    crash_and_recover("partial-merge.end");
}

#[test]
fn a_crash_after_writing_output_but_before_commit_is_recovered() {
    crash_and_recover("combine.before-commit");
}

#[test]
fn a_crash_after_commit_before_cleanup_is_recovered() {
    crash_and_recover("combine.after-commit");
}

#[test]
fn a_crash_after_a_minute_commit_still_joins_it_to_its_hour() {
    crash_and_recover_with("combine.after-commit", ROLLUP);
}

#[test]
fn a_crash_after_an_hour_partial_merge_is_recovered() {
    crash_and_recover_with("hour.partial-merge.end", ROLLUP);
}

#[test]
fn a_crash_after_writing_an_hour_before_its_commit_is_recovered() {
    crash_and_recover_with("hour.combine.before-commit", ROLLUP);
}

#[test]
fn a_crash_after_an_hour_commit_before_cleanup_is_recovered() {
    crash_and_recover_with("hour.combine.after-commit", ROLLUP);
}

#[test]
fn minutes_roll_up_into_their_hour_once() {
    let (_dir, raw, out) = setup();
    let run = compact_with(&raw, &out, &[ROLLUP, &["--json"]].concat()).success();
    let summary: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(summary["windows_run"], 4);
    assert_eq!(summary["hours_run"], 1);
    // (Rows joined across minutes are asserted on longer data in tests/readback.)
    let hour_rows = summary["hour_rows_out"].as_u64().unwrap();
    assert!(hour_rows > 0 && hour_rows <= summary["rows_out"].as_u64().unwrap());
    let first = snapshot(&out);
    assert_eq!(hour_files(&first).len(), 1, "{:?}", first.keys());
    verify(&raw, &out).success();
    let again = compact_with(&raw, &out, ROLLUP).success();
    assert!(
        stdout(&again).contains("Nothing to do"),
        "{}",
        stdout(&again)
    );
    assert!(
        same(&snapshot(&out), &first),
        "second run changed the output"
    );
}

#[test]
fn a_late_minute_re_rolls_its_hour() {
    let (_dir, raw, out) = setup();
    compact_with(&raw, &out, ROLLUP).success();
    let before = snapshot(&out);
    deliver_late_copy(&raw);
    let run = compact_with(&raw, &out, &[ROLLUP, &["--json"]].concat()).success();
    let summary: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(
        (
            summary["windows_run"].as_u64(),
            summary["hours_run"].as_u64()
        ),
        (Some(1), Some(1))
    );
    verify(&raw, &out).success();
    let after = snapshot(&out);
    let (old, new) = (hour_files(&before), hour_files(&after));
    assert_eq!(new.len(), 1);
    assert_ne!(old, new, "the hour was written again, under its new digest");
}

#[test]
fn a_late_file_replaces_its_window_output() {
    let (_dir, raw, out) = setup();
    compact(&raw, &out).success();
    let before = snapshot(&out);
    let stamp = deliver_late_copy(&raw);
    compact(&raw, &out).success();
    verify(&raw, &out).success();
    let after = snapshot(&out);
    for (key, body) in &before {
        if key.contains(&stamp) {
            assert!(!after.contains_key(key), "old output {key} still there");
        } else {
            assert!(after.get(key) == Some(body), "{key} should be untouched");
        }
    }
}

#[test]
fn verify_fails_when_input_and_output_disagree() {
    let (_dir, raw, out) = setup();
    compact(&raw, &out).success();
    // One more record appended (as a gzip member) to a file already compacted.
    let file = first_delivery_file(&raw);
    let mut body = std::fs::read(&file).unwrap();
    body.extend(gzip(
        b"2 123456789012 eni-0000000000000000a 10.0.0.1 10.0.0.2 1 2 6 1 40 1 2 ACCEPT OK\n",
    ));
    std::fs::write(&file, body).unwrap();
    let result = verify(&raw, &out).code(1);
    assert!(stdout(&result).contains("FAILED"), "{}", stdout(&result));
}

#[test]
fn json_summary_and_exit_codes() {
    let (_dir, raw, out) = setup();
    let run = flowmerge()
        .arg("compact")
        .arg(&raw)
        .arg(&out)
        .arg("--json")
        .assert()
        .success();
    let summary: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(summary["bad_files"], 2);
    assert_eq!(summary["bad_lines"], 4);
    assert!(summary["rows_out"].as_u64().unwrap() < summary["records_in"].as_u64().unwrap());
    flowmerge()
        .args(["compact", "--max-gap", "soon", "a", "b"])
        .assert()
        .code(2);
    flowmerge().args(["verify"]).assert().code(2);
    for (option, value, message) in [
        ("--zstd-level", "0", "is not a whole number from 1 to 22"),
        ("--zstd-level", "23", "is not a whole number from 1 to 22"),
        ("--threads", "0", "at least 1 thread"),
        ("--target-file-size", "0", "at least 1 byte"),
        ("--group-size", "0KiB", "at least 1 byte"),
    ] {
        let refused = flowmerge()
            .args(["compact", option, value])
            .arg(&raw)
            .arg(&out)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
        assert!(stderr.contains(message), "{option} {value}: {stderr}");
    }
}

#[test]
fn windows_that_fail_are_reported_and_retried_on_the_next_run() {
    let (_dir, raw, out) = setup();
    let failed = flowmerge()
        .env("FLOWMERGE_FAILPOINTS", "partial-merge.start=error")
        .arg("compact")
        .arg(&raw)
        .arg(&out)
        .assert()
        .code(1);
    let text = stdout(&failed);
    assert!(
        text.contains("FAILED") && text.contains("Retryable"),
        "{text}"
    );
    compact(&raw, &out).success();
    verify(&raw, &out).success();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn one_thread_and_many_small_groups_do_not_deadlock() {
    let (_dir, raw, out) = setup();
    flowmerge()
        .args(["compact", "--threads", "1", "--group-size", "2KiB"])
        .arg(&raw)
        .arg(&out)
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success();
    verify(&raw, &out).success();
}

#[test]
fn a_file_named_explicitly_is_compacted_whatever_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.txt");
    std::fs::write(
        &file,
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 1700000000 1700000059 ACCEPT OK\n\
         2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 1024 6 2 80 1700000060 1700000119 ACCEPT OK\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = flowmerge()
        .arg("compact")
        .arg(&file)
        .arg(&out)
        .arg("--json")
        .assert()
        .success();
    let summary: serde_json::Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    assert_eq!(
        (summary["records_in"].as_u64(), summary["rows_out"].as_u64()),
        (Some(2), Some(1))
    );
    verify(&file, &out).success();
}

#[test]
fn status_lists_every_window_and_flags_failures() {
    let (_dir, raw, out) = setup();
    flowmerge().arg("status").arg(&out).assert().code(2);
    flowmerge()
        .env("FLOWMERGE_FAILPOINTS", "combine.before-commit=error")
        .arg("compact")
        .arg(&raw)
        .arg(&out)
        .assert()
        .code(1);
    let failed = flowmerge().arg("status").arg(&out).assert().code(1);
    assert!(stdout(&failed).contains("4 failed"), "{}", stdout(&failed));
    compact(&raw, &out).success();
    let ok = flowmerge()
        .args(["status", "--json"])
        .arg(&out)
        .assert()
        .success();
    let windows: Vec<serde_json::Value> = serde_json::from_slice(&ok.get_output().stdout).unwrap();
    assert_eq!(windows.len(), 4);
    assert!(
        windows
            .iter()
            .all(|w| w["state"] == "committed" && w["version"] == 2)
    );
}

#[cfg(unix)]
#[test]
fn links_under_input_are_skipped_with_their_reason_and_the_run_goes_on() {
    let (dir, raw, out) = setup();
    let outside = dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::copy(first_delivery_file(&raw), outside.join("x.log.gz")).unwrap();
    let link = |target: &Path, at: &str| std::os::unix::fs::symlink(target, raw.join(at)).unwrap();
    link(Path::new(".."), "AWSLogs/loop");
    link(&raw.join("gone.log.gz"), "dangling.log.gz");
    link(&outside, "elsewhere");

    let compact_json = |out: &Path, extra: &[&str]| -> serde_json::Value {
        let assert = flowmerge()
            .args(["compact", "--json"])
            .args(extra)
            .arg(&raw)
            .arg(out)
            .assert()
            .success();
        serde_json::from_str(&stdout(&assert)).unwrap()
    };
    let summary = compact_json(&out, &[]);
    let skipped: Vec<(&str, &str)> = summary["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    let links: Vec<&str> = skipped
        .iter()
        .filter(|(_, reason)| reason.contains("symbolic link"))
        .map(|(key, _)| *key)
        .collect();
    assert_eq!(links, ["AWSLogs/loop", "dangling.log.gz", "elsewhere"]);
    assert_eq!(
        summary["files_skipped"].as_u64(),
        Some(skipped.len() as u64)
    );
    verify(&raw, &out).success();

    // Followed, the outside file is read, and the loop and the dangling link
    // are still skipped, each with its reason.
    let followed = compact_json(&dir.path().join("followed"), &["--follow-links"]);
    let reasons: Vec<&str> = followed["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .filter(|reason| reason.contains("symbolic link"))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("symbolic link loop: leads back to the root"));
    assert!(reasons[1].starts_with("dangling symbolic link to"));
    let files_found = |s: &serde_json::Value| s["files_found"].as_u64().unwrap();
    assert_eq!(files_found(&followed), files_found(&summary) + 1);
}
