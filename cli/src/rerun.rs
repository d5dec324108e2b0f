//! `flowmerge rerun`: start a fresh run of chosen windows of a deployed
//! pipeline, committed ones included (StartExecution with `force`).

use std::process::ExitCode;

use flowlog::Window;

use crate::deployment::{self, StateMachineArg};

/// Arguments of `flowmerge rerun`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The minute to re-run, e.g. 2026-11-22T13:05Z; repeat for more.
    #[arg(long, required_unless_present = "hour")]
    window: Vec<Window>,
    /// The hour of the hour tier to re-run from its committed minutes, e.g.
    /// 2026-11-22T13 (or 2026-11-22T13Z); repeat for more.
    #[arg(long, value_parser = parse_hour)]
    hour: Vec<Window>,
    #[command(flatten)]
    state_machine: StateMachineArg,
}

/// Runs `flowmerge rerun`: prints one execution name per window.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::runtime(1)?.block_on(async {
        let sdk = deployment::sdk().await;
        let executions = deployment::executions(&sdk, &args.state_machine);
        let windows: Vec<Window> = args.window.into_iter().chain(args.hour).collect();
        let names = control::operator::rerun(&executions, &windows, pipeline::now()).await?;
        for (window, name) in windows.iter().zip(&names) {
            println!("{window}\t{name}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// An hour: `2026-11-22T13`, `2026-11-22T13Z` or its stamp `20261122T13Z`.
fn parse_hour(text: &str) -> Result<Window, String> {
    let with_zone = if text.ends_with('Z') {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    match with_zone.parse::<Window>() {
        Ok(hour) if hour.is_hour() => Ok(hour),
        _ => Err(format!(
            "{text:?} is not an hour (expected e.g. 2026-11-22T13)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_with_or_without_the_zone() {
        for text in ["2026-11-22T13", "2026-11-22T13Z", "20261122T13Z"] {
            assert_eq!(parse_hour(text).unwrap().to_string(), "2026-11-22T13Z");
        }
        assert!(parse_hour("2026-11-22T13:05Z").is_err());
    }
}
