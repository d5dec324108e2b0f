//! `flowmerge compact`: discover input files, record them in the ledger, and
//! run every due window through list-batch → partial merges → combine-commit.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use flowlog::{Span, Window};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use ledger::{Ledger, Recorded, WindowState};
use merge::MaxGap;
use pipeline::failpoint::Failpoints;
use pipeline::rollup::{self, Rollup};
use pipeline::{
    Config, Context, ListBatchRequest, Memory, MergeSettings, finish_cleanups, now, run_window,
};
use store::{BlobStore, Location, open_store};

use crate::input::{LinkArgs, open_input};
use crate::ledger_home::LedgerHome;
use crate::report::Summary;
use crate::units::{parse_duration, parse_memory, parse_size, parse_threads, parse_zstd_level};
use crate::{FormatArgs, LayoutArgs};

/// Arguments of `flowmerge compact`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Raw flow logs: a directory or s3://bucket/prefix.
    input: String,
    #[command(flatten)]
    links: LinkArgs,
    /// Where Parquet, error output and the ledger go: a directory or s3://bucket/prefix.
    output: String,
    /// Worker threads for parsing, merging and encoding [default: all cores].
    #[arg(long, short = 'j', value_parser = parse_threads)]
    threads: Option<usize>,
    /// Memory the run may hold, shared by its threads; a group or window
    /// larger than a thread's share is merged in sorted parts [default:
    /// half the machine's memory].
    #[arg(long, value_parser = parse_memory)]
    memory: Option<u64>,
    /// Merge records whose gap is at most this many seconds; "none" never merges,
    /// "window" merges all records of a flow in the window.
    #[arg(long, default_value = "60")]
    max_gap: MaxGap,
    /// Roll output files at this size.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    target_file_size: u64,
    /// Compressed input per parallel merge group.
    #[arg(long, default_value = "32MiB", value_parser = parse_size)]
    group_size: u64,
    /// Wait this long after a window ends before compacting it (0: don't wait).
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    settle: i64,
    /// Also merge each hour's committed minutes into hour files, under
    /// --hour-prefix: "none" or "hour".
    #[arg(long, value_name = "none|hour", default_value_t = Rollup::None)]
    rollup: Rollup,
    /// zstd level of output files.
    #[arg(long, default_value_t = columnar::DEFAULT_ZSTD_LEVEL, value_parser = parse_zstd_level)]
    zstd_level: i32,
    #[command(flatten)]
    layout: LayoutArgs,
    #[command(flatten)]
    formats: FormatArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `flowmerge compact`. Exit code 1 if any window failed.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let threads = args.threads.unwrap_or_else(crate::default_threads).max(1);
    crate::runtime(threads)?.block_on(compact(args, threads))
}

async fn compact(args: Args, threads: usize) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let output_location = Location::parse(&args.output)?;
    let (input, found) = open_input(&args.input, &args.links).await?;
    let output = open_store(&output_location).await?;
    let home = LedgerHome::open(&output_location, &output).await?;
    let ctx = context(&args, input, output, &home, threads);

    let recovered = finish_cleanups(&ctx).await?;
    if recovered > 0 {
        tracing::warn!(
            windows = recovered,
            "finished cleanups an earlier run left undone"
        );
    }
    let entries = args.formats.place(ctx.input.as_ref(), found.files).await?;
    let recorded = ctx.ledger.record_files(&entries, now()).await?;
    let windows = ctx.ledger.windows().await?;
    // A split object has an entry per window: count objects.
    let keys = |outcome: fn(&Recorded) -> bool| {
        let keys = entries.iter().zip(&recorded).filter(|(_, r)| outcome(r));
        keys.map(|(e, _)| e.key.as_str())
            .collect::<BTreeSet<_>>()
            .len() as u64
    };
    let mut summary = Summary {
        files_found: keys(|_| true),
        files_new: keys(|r| *r != Recorded::Duplicate),
        files_skipped: found.skipped.len() as u64,
        skipped: found.skipped.into_iter().map(Into::into).collect(),
        windows_committed_before: windows
            .iter()
            .filter(|w| w.state == WindowState::Committed)
            .count() as u64,
        ..Summary::default()
    };

    // Minutes first: their commits are what make hours due.
    for span in [Span::Minute, Span::Hour] {
        let due = due_windows(ctx.ledger.as_ref(), args.settle, span).await?;
        run_windows(&ctx, due, threads, &mut summary).await;
    }
    summary.elapsed = started.elapsed();
    drop(ctx);
    home.close().await?;
    summary.print(args.json);
    Ok(if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn context(
    args: &Args,
    input: Arc<dyn BlobStore>,
    output: Arc<dyn BlobStore>,
    home: &LedgerHome,
    threads: usize,
) -> Context {
    let memory = args.memory.unwrap_or_else(crate::default_memory);
    Context {
        input,
        output,
        ledger: home.ledger.clone(),
        config: Config {
            output_prefix: args.layout.output_prefix.clone(),
            hour_prefix: args.layout.hour_prefix.clone(),
            rollup: args.rollup,
            error_prefix: args.layout.error_prefix.clone(),
            group_bytes: args.group_size,
            // The lock file makes this run the only user of the ledger, so a
            // window left running was abandoned by a crashed run.
            lease_secs: 0,
            merge: MergeSettings {
                max_gap: args.max_gap,
                target_file_size: args.target_file_size,
                zstd_level: args.zstd_level,
                formats: args.formats.formats(),
            },
            ..Config::default()
        },
        memory: Memory::new(memory, threads),
        failpoints: Failpoints::from_env(),
        clock: now,
    }
}

/// Runs windows, `threads` at a time, into the summary.
async fn run_windows(
    ctx: &Context,
    due: Vec<ListBatchRequest>,
    threads: usize,
    summary: &mut Summary,
) {
    let progress = progress_bar(due.len() as u64);
    let results: Vec<_> = futures::stream::iter(due)
        .map(|request| {
            let progress = &progress;
            async move {
                let result = run_window(ctx, &request, threads).await;
                progress.inc(1);
                (request.window, result)
            }
        })
        .buffer_unordered(threads)
        .collect()
        .await;
    progress.finish_and_clear();
    for (window, result) in results {
        match result {
            Ok(done) => summary.add_window(&done),
            Err(error) => summary.add_failure(window.to_string(), &error),
        }
    }
}

/// Windows of one span to run, each at the version it was seen at: due
/// windows ([`rollup::due`]), plus windows a crashed run left running or
/// failed once past the settle time.
async fn due_windows(
    ledger: &dyn Ledger,
    settle: i64,
    span: Span,
) -> anyhow::Result<Vec<ListBatchRequest>> {
    // With no settle time nothing waits, whatever the wall clock says.
    let horizon = if settle == 0 { i64::MAX / 2 } else { now() };
    let mut due: Vec<(Window, u64)> = Vec::new();
    for record in rollup::due(ledger, horizon, settle).await? {
        due.push((record.window.parse()?, record.version));
    }
    for record in ledger.windows().await? {
        if matches!(record.state, WindowState::Running | WindowState::Failed) {
            let window: Window = record.window.parse()?;
            if window.end() + settle <= horizon {
                due.push((window, record.version));
            }
        }
    }
    due.retain(|(window, _)| window.span() == span);
    due.sort();
    Ok(due
        .into_iter()
        .map(|(window, version)| ListBatchRequest {
            window,
            expected_version: Some(version),
            force: false,
        })
        .collect())
}

fn progress_bar(windows: u64) -> ProgressBar {
    let bar = ProgressBar::new(windows);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} compacting [{bar:40}] {pos}/{len} windows {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}
