//! The three steps run in-process over local directories with a SQLite ledger,
//! on generated data whose truth file gives the expected totals.
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flowgen::{Delivery, GenerateOptions, Truth};
use flowlog::{FormatRule, Formats, Window};
use ledger::{Ledger, SqliteLedger, WindowState};
use pipeline::failpoint::Failpoints;
use pipeline::{
    CombineRequest, Config, Context, ListBatchRequest, Memory, MergeSettings, PartialMergeRequest,
    combine_commit, discover, list_batch, now, partial_merge, run_window,
};
use store::LocalStore;

/// Local runs with no settle time treat every window as due.
const FAR_FUTURE: i64 = i64::MAX / 2;

struct Fixture {
    dir: tempfile::TempDir,
    input: PathBuf,
    output: PathBuf,
    ledger: Arc<SqliteLedger>,
    truth: Truth,
}

fn options() -> GenerateOptions {
    GenerateOptions {
        minutes: 4,
        accounts: 10,
        enis_per_account: 3,
        flows_per_eni: 4,
        bad_lines: 5,
        bad_files: true,
        ..GenerateOptions::default()
    }
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(&options())
    }

    fn with(options: &GenerateOptions) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        let output = dir.path().join("out");
        let truth = flowgen::generate(&input, options).unwrap();
        let ledger =
            Arc::new(SqliteLedger::open(&output.join("_flowmerge/ledger.sqlite")).unwrap());
        Fixture {
            dir,
            input,
            output,
            ledger,
            truth,
        }
    }

    fn ctx(&self, failpoints: &str) -> Context {
        self.ctx_with(failpoints, &self.output, self.ledger.clone(), 2_000)
    }

    fn ctx_with(
        &self,
        failpoints: &str,
        output: &Path,
        ledger: Arc<SqliteLedger>,
        group_bytes: u64,
    ) -> Context {
        Context {
            input: Arc::new(LocalStore::new(&self.input)),
            output: Arc::new(LocalStore::new(output)),
            ledger,
            config: Config {
                // Small groups by default: several per window, and accounts
                // split across groups.
                group_bytes,
                lease_secs: 0,
                merge: MergeSettings {
                    formats: self.formats(),
                    ..MergeSettings::default()
                },
                ..Config::default()
            },
            memory: Memory::unbounded(),
            failpoints: Failpoints::parse(failpoints),
            clock: now,
        }
    }

    /// The formats the truth says the headerless sources need.
    fn formats(&self) -> Formats {
        let rules = self.truth.formats.iter();
        Formats {
            rules: rules
                .map(|(prefix, format)| FormatRule {
                    prefix: prefix.clone(),
                    format: format.parse().unwrap(),
                })
                .collect(),
            ..Formats::default()
        }
    }

    async fn ingest(&self) -> Vec<ledger::Recorded> {
        let ctx = self.ctx("");
        let found = discover(ctx.input.as_ref(), "").await.unwrap();
        self.ledger.record_files(&found.files, now()).await.unwrap()
    }

    async fn run_due(
        &self,
        failpoints: &str,
    ) -> Vec<Result<pipeline::CombineResponse, pipeline::PipelineError>> {
        let ctx = self.ctx(failpoints);
        let mut results = Vec::new();
        for w in self.ledger.due(FAR_FUTURE, 0).await.unwrap() {
            let request = ListBatchRequest {
                window: w.window.parse().unwrap(),
                expected_version: Some(w.version),
                force: false,
            };
            results.push(run_window(&ctx, &request, 2).await);
        }
        results
    }
}

fn assert_same_files(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    let keys = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(a), keys(b));
    for (key, body) in a {
        assert!(b[key] == *body, "{key} differs");
    }
}

/// Every file under `dir` (relative path → bytes), excluding the work area.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel.starts_with("_flowmerge") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

type WindowTotals = BTreeMap<String, BTreeMap<String, (i64, i64, i64, Option<i64>, Option<i64>)>>;

/// Totals per window (from the file name) and account, read back from Parquet.
fn output_totals(dir: &Path) -> WindowTotals {
    let mut out: WindowTotals = BTreeMap::new();
    for (key, body) in files(dir) {
        if !key.ends_with(".parquet") {
            continue;
        }
        let name = key.rsplit('/').next().unwrap();
        let window: Window = name[..14].parse().unwrap();
        let (table, _) = columnar::read_parquet(body.into()).unwrap();
        for (account, t) in merge::totals_by_account(&table) {
            let e = out
                .entry(window.to_string())
                .or_default()
                .entry(account)
                .or_default();
            e.0 += t.sum("records");
            e.1 += t.sum("packets");
            e.2 += t.sum("bytes");
            e.3 = [e.3, t.start_min].into_iter().flatten().min();
            e.4 = [e.4, t.end_max].into_iter().flatten().max();
        }
    }
    out
}

fn truth_totals(truth: &Truth) -> WindowTotals {
    truth
        .windows
        .iter()
        .map(|(w, accounts)| {
            let accounts = accounts
                .iter()
                .map(|(a, t)| {
                    (
                        a.clone(),
                        (
                            t.records as i64,
                            t.packets as i64,
                            t.bytes as i64,
                            Some(t.start_min),
                            Some(t.end_max),
                        ),
                    )
                })
                .collect();
            (w.clone(), accounts)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_window_conserves_the_truth_and_quarantines_bad_input() {
    let f = Fixture::new();
    f.ingest().await;
    let results = f.run_due("").await;
    assert_eq!(results.len(), f.truth.windows.len());
    let mut bad_lines = 0;
    let mut bad_files = 0;
    for result in &results {
        let done = result.as_ref().unwrap();
        assert_eq!(done.state, WindowState::Committed);
        assert_eq!(
            done.stats.lines,
            done.stats.records_in + done.stats.bad_lines
        );
        assert!(done.stats.rows_out < done.stats.records_in, "flows merged");
        // Per-account totals stay out of the response and the ledger item,
        // whose sizes are capped.
        assert!(done.stats.totals.is_empty());
        let record = f
            .ledger
            .window(&done.window.to_string())
            .await
            .unwrap()
            .unwrap();
        let counts = record.counts.unwrap();
        assert_eq!(counts["records_in"], done.stats.records_in);
        assert!(counts.get("totals").is_none(), "{counts}");
        bad_lines += done.stats.bad_lines;
        bad_files += done.stats.bad_files;
    }
    assert_eq!(
        (bad_lines, bad_files),
        (f.truth.bad_lines, f.truth.bad_files)
    );
    assert_eq!(output_totals(&f.output), truth_totals(&f.truth));

    let out = files(&f.output);
    let errors: Vec<&String> = out.keys().filter(|k| k.starts_with("errors/")).collect();
    assert!(errors.iter().any(|k| k.starts_with("errors/parse-failed/")));
    assert!(
        errors
            .iter()
            .any(|k| k.starts_with("errors/unreadable-file/"))
    );
    let quarantined: usize = errors
        .iter()
        .map(|k| {
            out[*k]
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
        })
        .sum();
    assert_eq!(quarantined as u64, f.truth.bad_lines + f.truth.bad_files);
    assert!(
        !f.output.join("_flowmerge/staging").exists()
            || files(&f.output.join("_flowmerge/staging")).is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_finds_nothing_to_do_and_a_forced_rerun_is_byte_identical() {
    let f = Fixture::new();
    f.ingest().await;
    f.run_due("").await;
    let first = files(&f.output);
    assert!(
        f.ingest()
            .await
            .iter()
            .all(|r| *r == ledger::Recorded::Duplicate)
    );
    assert!(f.run_due("").await.is_empty());

    let ctx = f.ctx("");
    for w in f.ledger.windows().await.unwrap() {
        let request = ListBatchRequest {
            window: w.window.parse().unwrap(),
            expected_version: None,
            force: true,
        };
        run_window(&ctx, &request, 2).await.unwrap();
    }
    assert_same_files(&files(&f.output), &first);
}

/// Claims, commits and failures take their time from the context's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_stamp_the_ledger_with_the_contexts_clock() {
    const THEN: i64 = 1_800_000_000;
    let f = Fixture::new();
    f.ingest().await;
    let ctx = Context {
        clock: || THEN,
        ..f.ctx("")
    };
    let windows = f.ledger.due(FAR_FUTURE, 0).await.unwrap();
    let w = &windows[0];
    let request = ListBatchRequest {
        window: w.window.parse().unwrap(),
        expected_version: Some(w.version),
        force: false,
    };
    run_window(&ctx, &request, 2).await.unwrap();
    let committed = f.ledger.window(&w.window).await.unwrap().unwrap();
    assert_eq!(committed.state, ledger::WindowState::Committed);
    assert_eq!(committed.claimed_at, Some(THEN));
    assert_eq!(committed.updated_at, THEN);

    let failing = Context {
        clock: || THEN + 60,
        ..f.ctx("combine.before-commit=error")
    };
    let w = &windows[1];
    let request = ListBatchRequest {
        window: w.window.parse().unwrap(),
        expected_version: Some(w.version),
        force: false,
    };
    run_window(&failing, &request, 2).await.unwrap_err();
    let failed = f.ledger.window(&w.window).await.unwrap().unwrap();
    assert_eq!(failed.state, ledger::WindowState::Failed);
    assert_eq!(failed.updated_at, THEN + 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_file_dirties_its_window_and_the_rerun_replaces_its_output() {
    let f = Fixture::new();
    f.ingest().await;
    f.run_due("").await;
    let before = files(&f.output);

    // A second copy of a delivered file arrives under a new name, same window.
    let (window, account) = {
        let w = f.truth.windows.keys().next().unwrap().clone();
        let a = f.truth.windows[&w].keys().next().unwrap().clone();
        (w, a)
    };
    let found = discover(&LocalStore::new(&f.input), "").await.unwrap();
    let original = found
        .files
        .iter()
        .find(|e| e.window == window && e.account == account && e.key.ends_with(".log.gz"))
        .unwrap();
    let copy = original
        .key
        .replace(".log.gz", "")
        .rsplit_once('_')
        .unwrap()
        .0
        .to_owned()
        + "_ffffffff.log.gz";
    std::fs::copy(f.input.join(&original.key), f.input.join(&copy)).unwrap();
    let recorded = f.ingest().await;
    assert!(recorded.contains(&ledger::Recorded::Dirtied));
    assert_eq!(
        f.ledger.window(&window).await.unwrap().unwrap().state,
        WindowState::Dirty
    );

    let results = f.run_due("").await;
    assert_eq!(results.len(), 1);
    let after = output_totals(&f.output);
    let expected = truth_totals(&f.truth);
    assert!(after[&window][&account].0 > expected[&window][&account].0);
    // Other windows untouched; the dirty window's old files are gone.
    let now_files = files(&f.output);
    let stamp = window.replace(['-', ':'], "");
    for (key, body) in &before {
        let name = key.rsplit('/').next().unwrap();
        if name.starts_with(&stamp[..13]) {
            assert!(
                !now_files.contains_key(key),
                "stale output {key} left behind"
            );
        } else {
            assert!(now_files.get(key) == Some(body), "{key} changed");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_stopped_between_steps_is_taken_over_and_completes() {
    let f = Fixture::new();
    f.ingest().await;
    let ctx = f.ctx("");
    let due = f.ledger.due(FAR_FUTURE, 0).await.unwrap();
    let first = due.iter().max_by_key(|w| w.files).unwrap();
    let request = ListBatchRequest {
        window: first.window.parse().unwrap(),
        expected_version: None,
        force: false,
    };
    // The first run claims and merges one group, then "dies".
    let batch = list_batch(&ctx, &request).await.unwrap();
    assert!(batch.groups > 1, "fixture should give several groups");
    partial_merge(
        &ctx,
        &PartialMergeRequest {
            manifest: batch.manifest.clone(),
            group: 0,
        },
    )
    .await
    .unwrap();
    // Combining now finds a group missing.
    let err = combine_commit(
        &ctx,
        &CombineRequest {
            manifest: batch.manifest.clone(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Incomplete");
    assert_eq!(
        f.ledger.window(&first.window).await.unwrap().unwrap().state,
        WindowState::Running
    );

    // The stale claim is taken over (lease 0 here) and the window completes.
    let done = run_window(&ctx, &request, 2).await.unwrap();
    assert_eq!(done.version, batch.version + 1);
    f.run_due("").await;
    assert_eq!(output_totals(&f.output), truth_totals(&f.truth));
    let work = files(&f.output.join("_flowmerge"));
    assert!(
        work.keys().all(|k| !k.contains("staging/")),
        "staging left: {work:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_commit_leaves_no_lasting_duplicates() {
    let f = Fixture::new();
    f.ingest().await;
    for result in f.run_due("combine.before-commit=error").await {
        assert_eq!(result.unwrap_err().error_type(), "Retryable");
    }
    let windows = f.ledger.windows().await.unwrap();
    assert!(windows.iter().all(|w| w.state == WindowState::Failed));
    assert!(
        windows
            .iter()
            .all(|w| w.error.as_deref().unwrap_or("").contains("injected"))
    );

    // New input changes the digest, so the failed attempt's files are orphans
    // with other names; the successful run must remove them.
    let extra = f
        .truth
        .windows
        .keys()
        .next()
        .unwrap()
        .replace(['-', ':'], "");
    let src = discover(&LocalStore::new(&f.input), "")
        .await
        .unwrap()
        .files[0]
        .key
        .clone();
    let late = format!("late/123456789012_vpcflowlogs_us-east-1_fl-late_{extra}_00000000.log.gz");
    std::fs::create_dir_all(f.input.join("late")).unwrap();
    std::fs::copy(f.input.join(&src), f.input.join(&late)).unwrap();
    f.ingest().await;

    let ctx = f.ctx("");
    for w in f.ledger.windows().await.unwrap() {
        let request = ListBatchRequest {
            window: w.window.parse().unwrap(),
            expected_version: Some(w.version),
            force: false,
        };
        run_window(&ctx, &request, 2).await.unwrap();
    }
    let committed = f.ledger.windows().await.unwrap();
    let named: Vec<String> = committed.iter().flat_map(|w| w.outputs.clone()).collect();
    let on_disk: Vec<String> = files(&f.output).into_keys().collect();
    let mut named_sorted = named.clone();
    named_sorted.sort();
    assert_eq!(on_disk, named_sorted, "exactly the committed outputs exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_group_and_many_groups_give_the_same_bytes() {
    let f = Fixture::new();
    f.ingest().await;
    f.run_due("").await;
    // The same input planned as one group per window: the partial is the output.
    let single = f.dir.path().join("single");
    let ledger = Arc::new(SqliteLedger::in_memory().unwrap());
    let ctx = f.ctx_with("", &single, ledger.clone(), u64::MAX);
    let found = discover(ctx.input.as_ref(), "").await.unwrap();
    ledger.record_files(&found.files, now()).await.unwrap();
    for w in ledger.due(FAR_FUTURE, 0).await.unwrap() {
        let request = ListBatchRequest {
            window: w.window.parse().unwrap(),
            expected_version: None,
            force: false,
        };
        let batch = run_window(&ctx, &request, 2).await.unwrap();
        assert_eq!(batch.stats.files_out, 1);
    }
    assert_same_files(&files(&single), &files(&f.output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_of_every_delivery_kind_conserve_the_truth() {
    let f = Fixture::with(&GenerateOptions {
        delivery: Delivery::Mixed,
        accounts: 16,
        ..options()
    });
    assert!(!f.truth.formats.is_empty(), "custom headerless formats");
    f.ingest().await;
    let results = f.run_due("").await;
    let (mut bad_lines, mut control_messages) = (0, 0);
    for result in &results {
        let done = result.as_ref().unwrap();
        assert_eq!(done.state, WindowState::Committed);
        bad_lines += done.stats.bad_lines;
        control_messages += done.stats.control_messages;
    }
    assert_eq!(output_totals(&f.output), truth_totals(&f.truth));
    assert_eq!(bad_lines, f.truth.bad_lines);
    assert_eq!(control_messages, f.truth.control_messages);
    assert!(control_messages > 0);
}

/// Each window's output rows, in file order, as text.
fn output_rows(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, body) in files(dir) {
        let name = key.rsplit('/').next().unwrap();
        if !key.ends_with(".parquet") {
            continue;
        }
        let (table, _) = columnar::read_parquet(body.into()).unwrap();
        let rows = out.entry(name[..14].to_owned()).or_default();
        for r in 0..table.rows() {
            let dims = (0..table.dims().len()).map(|d| format!("{:?}", table.dim_value(d, r)));
            let metrics = table.metrics().iter().map(|m| m.values[r].to_string());
            rows.push(dims.chain(metrics).collect::<Vec<_>>().join(" "));
        }
    }
    out
}

/// Error records of the output, as sorted lines.
fn error_lines(dir: &Path) -> Vec<String> {
    let mut lines: Vec<String> = files(dir)
        .into_iter()
        .filter(|(key, _)| key.starts_with("errors/"))
        .flat_map(|(_, body)| {
            let text = String::from_utf8(body).unwrap();
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    lines
}

/// With a budget a few rows wide, every group is staged in many parts (also
/// in the middle of objects, among them the truncated one, whose parts must
/// go when it is rejected): the rows, totals and quarantined records are
/// still those of an unbounded run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_far_past_its_memory_budget_gives_the_rows_of_an_unbounded_run() {
    let f = Fixture::new();
    f.ingest().await;
    f.run_due("").await;
    let small = f.dir.path().join("small");
    let ledger = Arc::new(SqliteLedger::in_memory().unwrap());
    let ctx = Context {
        memory: Memory::new(1 << 10, 1),
        ..f.ctx_with("", &small, ledger.clone(), 20_000)
    };
    let found = discover(ctx.input.as_ref(), "").await.unwrap();
    ledger.record_files(&found.files, now()).await.unwrap();
    let mut parts = Vec::new();
    for w in ledger.due(FAR_FUTURE, 0).await.unwrap() {
        let request = ListBatchRequest {
            window: w.window.parse().unwrap(),
            expected_version: None,
            force: false,
        };
        let batch = list_batch(&ctx, &request).await.unwrap();
        for group in 0..batch.groups {
            let request = PartialMergeRequest {
                manifest: batch.manifest.clone(),
                group,
            };
            parts.push(partial_merge(&ctx, &request).await.unwrap().parts);
        }
        let request = CombineRequest {
            manifest: batch.manifest.clone(),
        };
        let done = combine_commit(&ctx, &request).await.unwrap();
        assert_eq!(done.state, WindowState::Committed);
    }
    assert!(parts.iter().all(|&p| p > 1), "{parts:?}");
    assert_eq!(output_totals(&small), truth_totals(&f.truth));
    assert_eq!(output_rows(&small), output_rows(&f.output));
    assert_eq!(error_lines(&small), error_lines(&f.output));
}

/// An object that passes the budget, is staged in parts as it is read, and
/// turns out truncated is rejected whole: none of its parts are kept, and the
/// objects around it are (also when a later one is gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_rejected_after_it_was_staged_in_parts_leaves_none_of_them() {
    use std::io::Write;

    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    let prefix = input.join("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/22");
    std::fs::create_dir_all(&prefix).unwrap();
    let object = |name: &str, records: usize, truncate: bool| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for r in 0..records {
            writeln!(
                gz,
                "2 123456789012 eni-{name} 10.0.{}.{} 10.0.0.2 443 {} 6 1 40 1700000000 1700000059 ACCEPT OK",
                r / 250 % 250,
                r % 250,
                1024 + r % 60000
            )
            .unwrap();
        }
        let mut body = gz.finish().unwrap();
        if truncate {
            body.truncate(body.len() - 64);
        }
        let key = format!("123456789012_vpcflowlogs_us-east-1_fl-{name}_20261122T1305Z_h.log.gz");
        std::fs::write(prefix.join(key), body).unwrap();
    };
    object("a", 100, false);
    object("b", 50_000, true);
    object("c", 100, false);
    object("d", 100, false);
    let ledger = Arc::new(SqliteLedger::in_memory().unwrap());
    let ctx = Context {
        input: Arc::new(LocalStore::new(&input)),
        output: Arc::new(LocalStore::new(&output)),
        ledger: ledger.clone(),
        config: Config {
            lease_secs: 0,
            ..Config::default()
        },
        memory: Memory::new(256 << 10, 1),
        failpoints: Failpoints::default(),
        clock: now,
    };
    let found = discover(ctx.input.as_ref(), "").await.unwrap();
    ledger.record_files(&found.files, now()).await.unwrap();
    let request = ListBatchRequest {
        window: "2026-11-22T13:05Z".parse().unwrap(),
        expected_version: None,
        force: false,
    };
    let batch = list_batch(&ctx, &request).await.unwrap();
    assert_eq!(batch.groups, 1);
    // Listed, then gone: quarantined too, and the parts before it stay.
    let gone = "123456789012_vpcflowlogs_us-east-1_fl-d_20261122T1305Z_h.log.gz";
    std::fs::remove_file(prefix.join(gone)).unwrap();
    let request = PartialMergeRequest {
        manifest: batch.manifest.clone(),
        group: 0,
    };
    let merged = partial_merge(&ctx, &request).await.unwrap();
    assert_eq!((merged.records_in, merged.bad_files), (200, 2));
    assert!(merged.parts > 1, "{merged:?}");
    let request = CombineRequest {
        manifest: batch.manifest.clone(),
    };
    let done = combine_commit(&ctx, &request).await.unwrap();
    assert_eq!(done.stats.records_in, 200);
    let records: i64 = output_totals(&output)
        .values()
        .flat_map(|accounts| accounts.values().map(|t| t.0))
        .sum();
    assert_eq!(records, 200);
}
