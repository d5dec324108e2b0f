//! `flowmerge backfill`: compact an existing archive with a deployed
//! pipeline: list its raw objects, record them in the ledger and start their
//! windows at a bounded rate.

use std::process::ExitCode;
use std::time::Duration;

use control::operator::{BackfillSummary, WindowRange, backfill};
use flowlog::Window;

use crate::deployment::{self, StateMachineArg, TableArg};
use crate::input::{LinkArgs, open_input};

/// Arguments of `flowmerge backfill`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment's raw location, s3://bucket/prefix (its RAW_PREFIX):
    /// ledger keys are relative to it.
    input: String,
    #[command(flatten)]
    links: LinkArgs,
    /// First window to backfill, e.g. 2026-11-01T00:00Z.
    #[arg(long)]
    from: Window,
    /// First window after the backfill (exclusive).
    #[arg(long)]
    to: Window,
    /// Windows started per second, at most.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    #[command(flatten)]
    formats: crate::FormatArgs,
    #[command(flatten)]
    table: TableArg,
    #[command(flatten)]
    state_machine: StateMachineArg,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `flowmerge backfill`. Exit code 1 if a start failed.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.from.start() < args.to.start(),
        "--from {} must come before --to {}",
        args.from,
        args.to
    );
    anyhow::ensure!(
        args.rate.is_finite() && args.rate > 0.0,
        "--rate must be a positive number of windows per second"
    );
    crate::runtime(1)?.block_on(async {
        let sdk = deployment::sdk().await;
        let (input, found) = open_input(&args.input, &args.links).await?;
        let files = args.formats.place(input.as_ref(), found.files).await?;
        let summary = backfill(
            &deployment::ledger(&sdk, &args.table.name),
            &deployment::executions(&sdk, &args.state_machine),
            files,
            WindowRange {
                from: args.from,
                to: args.to,
            },
            Duration::from_secs_f64(1.0 / args.rate),
            pipeline::now,
        )
        .await?;
        print(&summary, args.json)?;
        Ok(if summary.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

fn print(summary: &BackfillSummary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(summary)?);
        return Ok(());
    }
    for name in &summary.started {
        println!("started\t{name}");
    }
    for (name, reason) in &summary.failed {
        println!("failed\t{name}\t{reason}");
    }
    println!(
        "{} files in {} windows ({} new to the ledger): {} started, {} started before, {} committed already, {} running, {} failed to start",
        summary.files,
        summary.windows,
        summary.recorded,
        summary.started.len(),
        summary.already_started.len(),
        summary.committed.len(),
        summary.running.len(),
        summary.failed.len()
    );
    Ok(())
}
