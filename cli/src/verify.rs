//! `flowmerge verify`: re-reads the raw input and the Parquet output and checks
//! conservation per window and account (records, packets, bytes,
//! packets-lost-*, min start, max end), that every bad line and file was
//! quarantined, and that the output holds exactly the files the ledger
//! committed (no lasting duplicates, nothing missing). Hours of the hour
//! tier are checked like windows, against their minutes' input.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;

use flowlog::{FlowTable, Formats, Window};
use futures::{StreamExt, TryStreamExt};
use ledger::{Ledger, WindowState};
use merge::{Totals, totals_by_account};
use pipeline::split::keep_window;
use pipeline::{ErrorRecord, ObjectReader, template_root};
use serde::Serialize;
use store::{BlobStore, Location, open_store};

use crate::input::{LinkArgs, open_input};
use crate::ledger_home::LedgerHome;
use crate::units::parse_threads;
use crate::{FormatArgs, LayoutArgs};

/// Arguments of `flowmerge verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Raw flow logs that were compacted.
    input: String,
    #[command(flatten)]
    links: LinkArgs,
    /// The compacted output.
    output: String,
    /// Worker threads [default: all cores].
    #[arg(long, short = 'j', value_parser = parse_threads)]
    threads: Option<usize>,
    #[command(flatten)]
    layout: LayoutArgs,
    #[command(flatten)]
    formats: FormatArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// What one side holds for one window.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
struct Side {
    accounts: BTreeMap<String, Totals>,
    bad_lines: u64,
    bad_files: u64,
}

/// The verdict.
#[derive(Debug, Default, Serialize)]
struct Report {
    windows: usize,
    hours: usize,
    records_in: i64,
    records_out: i64,
    problems: Vec<String>,
}

/// Runs `flowmerge verify`. Exit code 1 when anything differs.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let threads = args.threads.unwrap_or_else(crate::default_threads).max(1);
    crate::runtime(threads)?.block_on(verify(args, threads))
}

async fn verify(args: Args, threads: usize) -> anyhow::Result<ExitCode> {
    let output_location = Location::parse(&args.output)?;
    let (input, found) = open_input(&args.input, &args.links).await?;
    let output = open_store(&output_location).await?;
    let files = args.formats.place(input.as_ref(), found.files).await?;
    let mut expected = read_input(input, files, args.formats.formats(), threads).await?;
    let (found, parquet_keys) = read_output(output.clone(), &args.layout, threads).await?;
    let home = LedgerHome::open(&output_location, &output).await?;
    let recorded = home.ledger.windows().await?;
    let mut hours: BTreeSet<Window> = found.keys().copied().filter(Window::is_hour).collect();
    for record in &recorded {
        hours.extend(record.window.parse::<Window>().ok().filter(Window::is_hour));
    }
    add_hours(&mut expected, &hours);

    let mut report = Report::default();
    let windows: BTreeSet<&Window> = expected.keys().chain(found.keys()).collect();
    report.hours = hours.len();
    report.windows = windows.len() - hours.len();
    let empty = Side::default();
    for window in windows {
        let e = expected.get(window).unwrap_or(&empty);
        let f = found.get(window).unwrap_or(&empty);
        // An hour holds its minutes' records again.
        if !window.is_hour() {
            report.records_in += e.accounts.values().map(|t| t.sum("records")).sum::<i64>();
            report.records_out += f.accounts.values().map(|t| t.sum("records")).sum::<i64>();
        }
        compare(window, e, f, &mut report.problems);
    }
    check_ledger(recorded, &parquet_keys, &mut report.problems);

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.problems.is_empty() {
        let hours = match report.hours {
            0 => String::new(),
            n => format!(" and {n} hours"),
        };
        println!(
            "OK: {} windows{hours}, {} records in = {} records out (as merged rows' `records`), every account's totals conserved",
            report.windows, report.records_in, report.records_out
        );
    } else {
        println!(
            "FAILED: {} problems in {} windows",
            report.problems.len(),
            report.windows
        );
        for problem in &report.problems {
            println!("  {problem}");
        }
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Parses every input file and totals it per window and account; a split
/// object's records in the windows they start in.
async fn read_input(
    input: Arc<dyn BlobStore>,
    files: Vec<ledger::FileEntry>,
    formats: Formats,
    threads: usize,
) -> anyhow::Result<BTreeMap<Window, Side>> {
    let mut objects = Vec::new();
    for file in files {
        objects.push(Object {
            window: file.window.parse()?,
            at_home: file.home.map(|home| home == file.window),
            key: file.key,
        });
    }
    per_window(input, objects, threads, move |object, body| {
        let mut table = FlowTable::new();
        let report = ObjectReader::new(formats.clone()).read(&object.key, body, &mut table);
        if let Some(at_home) = object.at_home {
            keep_window(&mut table, 0, object.window, at_home);
        }
        // What is not a record counts at the object's home.
        let reported = u64::from(object.at_home.unwrap_or(true));
        Ok(Side {
            accounts: totals_by_account(&table),
            bad_lines: reported * report.bad_lines.len() as u64,
            bad_files: reported * u64::from(report.bad_file.is_some()),
        })
    })
    .await
}

/// What each hour must hold: its minutes' records (bad lines and files stay
/// with the minutes).
fn add_hours(expected: &mut BTreeMap<Window, Side>, hours: &BTreeSet<Window>) {
    for &hour in hours {
        let mut side = Side::default();
        for minute in hour.minutes() {
            for (account, totals) in expected
                .get(&minute)
                .map(|s| &s.accounts)
                .into_iter()
                .flatten()
            {
                side.accounts
                    .entry(account.clone())
                    .or_default()
                    .add(totals);
            }
        }
        expected.insert(hour, side);
    }
}

/// One object to read, and the window it counts in.
struct Object {
    key: String,
    window: Window,
    /// For a split object's entry, whether `window` is its home.
    at_home: Option<bool>,
}

/// Reads every output Parquet file and error file, per window. Also returns
/// the Parquet keys.
async fn read_output(
    output: Arc<dyn BlobStore>,
    layout: &LayoutArgs,
    threads: usize,
) -> anyhow::Result<(BTreeMap<Window, Side>, BTreeSet<String>)> {
    let mut listed = BTreeSet::new();
    for template in [&layout.output_prefix, &layout.hour_prefix] {
        for object in output.list(template_root(template)).await? {
            if object.key.ends_with(".parquet") {
                listed.insert(object.key);
            }
        }
    }
    let mut objects = Vec::new();
    for key in listed {
        let name = key.rsplit('/').next().unwrap_or_default();
        let stamp = name.split('-').next().unwrap_or_default();
        let window: Window = stamp
            .parse()
            .map_err(|_| anyhow::anyhow!("{key}: file name does not start with a window stamp"))?;
        objects.push(Object {
            key,
            window,
            at_home: None,
        });
    }
    let keys = objects.iter().map(|object| object.key.clone()).collect();
    let mut sides = per_window(output.clone(), objects, threads, |_, body| {
        let (table, _) = columnar::read_parquet(body)?;
        Ok(Side {
            accounts: totals_by_account(&table),
            ..Side::default()
        })
    })
    .await?;
    for object in output.list(template_root(&layout.error_prefix)).await? {
        if !object.key.ends_with(".jsonl") {
            continue;
        }
        let body = output.get(&object.key).await?;
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let record: ErrorRecord = serde_json::from_slice(line)?;
            let side = sides.entry(record.window).or_default();
            match record.error_code.as_str() {
                "parse-failed" => side.bad_lines += 1,
                _ => side.bad_files += 1,
            }
        }
    }
    Ok((sides, keys))
}

/// Fetches objects `threads` at a time, reads each on a blocking thread, and
/// adds up the results per window.
async fn per_window(
    store: Arc<dyn BlobStore>,
    objects: Vec<Object>,
    threads: usize,
    read: impl Fn(&Object, Bytes) -> anyhow::Result<Side> + Send + Sync + 'static,
) -> anyhow::Result<BTreeMap<Window, Side>> {
    let read = Arc::new(read);
    let per_object: Vec<(Window, Side)> = futures::stream::iter(objects)
        .map(|object| {
            let (store, read) = (store.clone(), read.clone());
            async move {
                let body = store.get(&object.key).await?;
                let window = object.window;
                let side = tokio::task::spawn_blocking(move || read(&object, body)).await??;
                Ok::<_, anyhow::Error>((window, side))
            }
        })
        .buffer_unordered(threads)
        .try_collect()
        .await?;
    let mut sides: BTreeMap<Window, Side> = BTreeMap::new();
    for (window, side) in per_object {
        let into = sides.entry(window).or_default();
        for (account, totals) in &side.accounts {
            into.accounts
                .entry(account.clone())
                .or_default()
                .add(totals);
        }
        into.bad_lines += side.bad_lines;
        into.bad_files += side.bad_files;
    }
    Ok(sides)
}

fn compare(window: &Window, expected: &Side, found: &Side, problems: &mut Vec<String>) {
    let accounts: BTreeSet<&String> = expected
        .accounts
        .keys()
        .chain(found.accounts.keys())
        .collect();
    for account in accounts {
        let e = expected.accounts.get(account);
        let f = found.accounts.get(account);
        if e != f {
            problems.push(format!(
                "window {window} account {account}: input {e:?} but output {f:?}"
            ));
        }
    }
    if (expected.bad_lines, expected.bad_files) != (found.bad_lines, found.bad_files) {
        problems.push(format!(
            "window {window}: input has {} bad lines and {} bad files, error output holds {} and {}",
            expected.bad_lines, expected.bad_files, found.bad_lines, found.bad_files
        ));
    }
}

/// Output files on disk must be exactly the committed windows' outputs.
fn check_ledger(
    windows: Vec<ledger::WindowRecord>,
    on_disk: &BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let mut committed: BTreeSet<String> = BTreeSet::new();
    for window in windows {
        if window.state != WindowState::Committed {
            problems.push(format!(
                "window {} is {}, not committed",
                window.window, window.state
            ));
        }
        committed.extend(
            window
                .outputs
                .into_iter()
                .filter(|k| k.ends_with(".parquet")),
        );
    }
    for key in on_disk.difference(&committed) {
        problems.push(format!(
            "{key}: output file that no committed window names (duplicate or orphan)"
        ));
    }
    for key in committed.difference(on_disk) {
        problems.push(format!("{key}: committed output file is missing"));
    }
}
