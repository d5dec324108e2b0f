//! `flowmerge`: compact AWS VPC Flow Logs into large, sorted, zstd Parquet
//! files per minute, locally or against S3.

mod backfill;
mod compact;
mod deployment;
mod generate;
mod input;
mod ledger_home;
mod report;
mod rerun;
mod status;
mod units;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Compact AWS VPC Flow Logs into a few large, sorted, zstd Parquet files per
/// one-minute window, merging records of flows that continue across files.
#[derive(Debug, Parser)]
#[command(name = "flowmerge", version, propagate_version = true)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compact every due window of INPUT into OUTPUT (directories or s3://bucket/prefix).
    Compact(compact::Args),
    /// Write realistic synthetic flow logs in the S3 delivery layout, plus truth.json.
    Generate(generate::Args),
    /// Re-read INPUT and OUTPUT and check conservation per window and account.
    Verify(verify::Args),
    /// List windows and their states from a local OUTPUT's ledger or the DynamoDB table.
    Status(status::Args),
    /// Re-run windows of a deployed pipeline (Step Functions StartExecution).
    Rerun(rerun::Args),
    /// Record an existing raw archive in a deployed pipeline's ledger and run its windows.
    Backfill(backfill::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Compact(args) => compact::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Status(args) => status::run(args),
        Command::Rerun(args) => rerun::run(args),
        Command::Backfill(args) => backfill::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// A multi-thread runtime whose blocking pool (parsing, merging, encoding)
/// is bounded by `threads`, so CPU work never oversubscribes the machine.
fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.clamp(1, 4))
        .max_blocking_threads(threads.max(1))
        .enable_all()
        .build()?)
}

/// Where output and error files go (shared by `compact` and `verify`).
#[derive(Debug, clap::Args)]
struct LayoutArgs {
    /// Output key template (Firehose-style !{timestamp:...} expressions).
    #[arg(long, default_value_t = pipeline::Config::default().output_prefix)]
    output_prefix: String,
    /// Hour output key template (the hour tier of --rollup hour).
    #[arg(long, default_value_t = pipeline::Config::default().hour_prefix)]
    hour_prefix: String,
    /// Error output key template (!{error-type}, !{timestamp:...}).
    #[arg(long, default_value_t = pipeline::Config::default().error_prefix)]
    error_prefix: String,
}

/// How headerless sources are read and placed in windows (shared by
/// `compact`, `verify` and `backfill`).
#[derive(Debug, clap::Args)]
struct FormatArgs {
    /// Format of headerless records (Firehose, CloudWatch Logs, text files
    /// without a header line), in AWS's syntax: "${version} ${account-id} ...".
    #[arg(long, value_name = "FORMAT", default_value_t = flowlog::LineFormat::v2())]
    format: flowlog::LineFormat,
    /// The format of headerless records under an object key prefix or a
    /// CloudWatch Logs log group: PREFIX=FORMAT (repeatable; the longest prefix wins).
    #[arg(long = "format-for", value_name = "PREFIX=FORMAT")]
    format_for: Vec<flowlog::FormatRule>,
    /// Window of Firehose-delivered records: "key" (the delivery minute in the
    /// object's name) or "start" (each record's own start minute; objects are
    /// read once more when found, to learn the windows they span).
    #[arg(long, value_name = "key|start", default_value_t = pipeline::split::WindowFrom::Key)]
    window_from: pipeline::split::WindowFrom,
}

impl FormatArgs {
    fn formats(&self) -> flowlog::Formats {
        flowlog::Formats {
            default: self.format.clone(),
            rules: self.format_for.clone(),
        }
    }

    /// The ledger entries of `files`, found in `store`: with `--window-from
    /// start`, Firehose objects split between the windows their records start in.
    async fn place(
        &self,
        store: &dyn store::BlobStore,
        files: Vec<ledger::FileEntry>,
    ) -> anyhow::Result<Vec<ledger::FileEntry>> {
        Ok(match self.window_from {
            pipeline::split::WindowFrom::Key => files,
            pipeline::split::WindowFrom::Start => {
                pipeline::split::split_by_start(store, files, &self.formats()).await?
            }
        })
    }
}

/// Default thread count: the machine's cores.
/// Half the machine's memory (`MemTotal` of `/proc/meminfo`; 8 GiB where
/// there is none).
fn default_memory() -> u64 {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    total_kib.map_or(8 << 30, |kib| kib * 1024 / 2)
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
