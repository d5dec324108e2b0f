//! `flowmerge status`: every window the ledger knows, with its state — from
//! the local ledger of an OUTPUT, or from the deployed DynamoDB table.

use std::process::ExitCode;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use ledger::{Ledger, SqliteLedger, WindowRecord, WindowState};
use store::{Location, open_store};

use crate::ledger_home::LedgerHome;

/// Arguments of `flowmerge status`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["output", "table"]))]
pub struct Args {
    /// A compact OUTPUT (directory or s3://bucket/prefix) whose local ledger to read.
    output: Option<String>,
    /// Read the deployed pipeline's DynamoDB ledger table instead.
    #[arg(long, env = "FLOWMERGE_TABLE")]
    table: Option<String>,
    /// Print the windows as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `flowmerge status`. Exit code 1 if any window failed.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::runtime(1)?.block_on(status(args))
}

async fn status(args: Args) -> anyhow::Result<ExitCode> {
    // An OUTPUT named on the command line wins over FLOWMERGE_TABLE.
    let windows = match (&args.output, &args.table) {
        (Some(output), _) => match Location::parse(output)? {
            // Read in place: SQLite lets a reader in while a run writes.
            Location::Local(root) => {
                let path = root.join("_flowmerge/ledger.sqlite");
                anyhow::ensure!(
                    path.exists(),
                    "no ledger at {}: nothing compacted there yet",
                    path.display()
                );
                SqliteLedger::open(&path)?.windows().await?
            }
            location => {
                let store = open_store(&location).await?;
                LedgerHome::open(&location, &store)
                    .await?
                    .ledger
                    .windows()
                    .await?
            }
        },
        (None, Some(table)) => {
            let sdk = crate::deployment::sdk().await;
            crate::deployment::ledger(&sdk, table).windows().await?
        }
        (None, None) => unreachable!("clap requires one source"),
    };
    print(&windows, args.json)?;
    let failed = windows.iter().any(|w| w.state == WindowState::Failed);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print(windows: &[WindowRecord], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(windows)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_header([
        "window",
        "state",
        "version",
        "files",
        "input bytes",
        "outputs",
        "error",
    ]);
    for w in windows {
        table.add_row([
            w.window.clone(),
            w.state.to_string(),
            w.version.to_string(),
            w.files.to_string(),
            w.bytes.to_string(),
            w.outputs.len().to_string(),
            w.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
    let count = |s: WindowState| windows.iter().filter(|w| w.state == s).count();
    println!(
        "{} windows: {} committed, {} open, {} running, {} dirty, {} failed",
        windows.len(),
        count(WindowState::Committed),
        count(WindowState::Open),
        count(WindowState::Running),
        count(WindowState::Dirty),
        count(WindowState::Failed)
    );
    Ok(())
}
