//! `flowmerge generate`: realistic synthetic flow logs for demos, tests and
//! benchmarks.

use std::path::PathBuf;
use std::process::ExitCode;

use flowgen::GenerateOptions;

use crate::units::human_bytes;

/// Arguments of `flowmerge generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write into (AWSLogs/... and truth.json).
    dir: PathBuf,
    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// First delivery minute.
    #[arg(long, default_value = "2026-11-22T13:00Z")]
    start: flowlog::Window,
    /// Number of one-minute delivery windows.
    #[arg(long, default_value_t = 10)]
    minutes: u32,
    /// Number of AWS accounts.
    #[arg(long, default_value_t = 12)]
    accounts: usize,
    /// Network interfaces per account.
    #[arg(long, default_value_t = 8)]
    enis: usize,
    /// Long-lived connections per interface.
    #[arg(long, default_value_t = 12)]
    flows: usize,
    /// Malformed lines to mix into the files.
    #[arg(long, default_value_t = 0)]
    bad_lines: usize,
    /// Also write one truncated gzip file and one file that is not a flow log.
    #[arg(long)]
    bad_files: bool,
    /// How the records reach S3: text (VPC Flow Logs text objects), parquet
    /// (native Parquet objects), firehose (Firehose JSON records), cwl
    /// (CloudWatch Logs payloads through Firehose), or mixed (each flow log
    /// one of the four).
    #[arg(long, default_value = "text")]
    delivery: flowgen::Delivery,
    /// What the interfaces carry: vpc (mostly private traffic, long-lived
    /// connections) or internet (public services and NAT gateways: peers
    /// from the whole address space, ephemeral ports, short flows, scans).
    #[arg(long, default_value = "vpc")]
    traffic: flowgen::Traffic,
}

/// Runs `flowmerge generate`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = GenerateOptions {
        seed: args.seed,
        start: args.start.datetime(),
        minutes: args.minutes,
        accounts: args.accounts,
        enis_per_account: args.enis,
        flows_per_eni: args.flows,
        bad_lines: args.bad_lines,
        bad_files: args.bad_files,
        delivery: args.delivery,
        traffic: args.traffic,
    };
    let truth = flowgen::generate(&args.dir, &options)?;
    println!(
        "wrote {} files ({}) with {} records in {} windows to {}; truth in {}",
        truth.files,
        human_bytes(truth.bytes),
        truth.records,
        truth.windows.len(),
        args.dir.display(),
        args.dir.join("truth.json").display()
    );
    if !truth.formats.is_empty() {
        println!("headerless sources in other formats than version 2; compact and verify with:");
        for (source, format) in &truth.formats {
            println!("  --format-for '{source}={format}'");
        }
    }
    Ok(ExitCode::SUCCESS)
}
