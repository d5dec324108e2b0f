//! `flowmerge rerun`: start a fresh run of chosen windows of a deployed
//! pipeline, committed ones included (StartExecution with `force`).

use std::process::ExitCode;

use flowlog::Window;

use crate::deployment::{self, StateMachineArg};

/// Arguments of `flowmerge rerun`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The window to re-run, e.g. 2026-11-22T13:05Z; repeat for more.
    #[arg(long, required = true)]
    window: Vec<Window>,
    #[command(flatten)]
    state_machine: StateMachineArg,
}

/// Runs `flowmerge rerun`: prints one execution name per window.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::runtime(1)?.block_on(async {
        let sdk = deployment::sdk().await;
        let executions = deployment::executions(&sdk, &args.state_machine);
        let names = service::operator::rerun(&executions, &args.window, pipeline::now()).await?;
        for (window, name) in args.window.iter().zip(&names) {
            println!("{window}\t{name}");
        }
        Ok(ExitCode::SUCCESS)
    })
}
