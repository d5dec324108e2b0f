//! The six Lambdas and the environment variables each one reads: the one
//! list the functions are held to (each reads its variables through
//! [`Function::lookup`], so a variable missing here cannot take effect) and
//! that the CDK app's stack is checked against through `infra/contract.json`
//! (a jest test fails on a variable the stack sets but the function does not
//! read, or one the function needs that the stack does not set).

use crate::config::env::*;

/// A flowmerge Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Records S3 events' files in the ledger.
    Ingest,
    /// Claims a window and writes its manifest.
    ListBatch,
    /// Merges one group of a window.
    PartialMerge,
    /// Combines, writes and commits a window.
    CombineCommit,
    /// Starts the executions of due windows.
    Scheduler,
    /// Redrives failed windows on alarms.
    Redrive,
}

/// One variable a function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// Its name.
    pub name: &'static str,
    /// Whether a deployment must set it. The others have a default the
    /// deployment may keep (or take effect only with a setting, such as
    /// `FORMATS` and `WINDOW_FROM=start`).
    pub required: bool,
}

const fn set(name: &'static str) -> Var {
    Var {
        name,
        required: true,
    }
}

const fn optional(name: &'static str) -> Var {
    Var {
        name,
        required: false,
    }
}

/// The log filter, read by every function: finer than the Lambda logging
/// configuration's level, which applies when it is unset ([`crate::logging`]).
pub const RUST_LOG: &str = "RUST_LOG";

/// What the three step functions read to build their context.
const STEP: [Var; 6] = [
    optional(RUST_LOG),
    set(TABLE_NAME),
    set(RAW_BUCKET),
    set(RAW_PREFIX),
    set(OUTPUT_BUCKET),
    set(OUTPUT_PREFIX),
];

impl Function {
    /// Every function.
    pub const ALL: [Function; 6] = [
        Function::Ingest,
        Function::ListBatch,
        Function::PartialMerge,
        Function::CombineCommit,
        Function::Scheduler,
        Function::Redrive,
    ];

    /// Its name: the folder under `functions/` and the CDK app's function name.
    pub const fn name(self) -> &'static str {
        match self {
            Function::Ingest => "ingest",
            Function::ListBatch => "list-batch",
            Function::PartialMerge => "partial-merge",
            Function::CombineCommit => "combine-commit",
            Function::Scheduler => "scheduler",
            Function::Redrive => "redrive",
        }
    }

    /// The variables it reads.
    pub fn env(self) -> Vec<Var> {
        let own: &[Var] = match self {
            Function::Ingest => &[
                optional(RUST_LOG),
                set(TABLE_NAME),
                set(RAW_PREFIX),
                optional(WINDOW_FROM),
                // With WINDOW_FROM=start: where and how ingest reads objects.
                optional(RAW_BUCKET),
                optional(FORMATS),
            ],
            // The settings of a run: list-batch writes them into the manifest.
            Function::ListBatch => &[
                set(MAX_GAP),
                set(TARGET_FILE_SIZE),
                optional(FORMATS),
                optional(GROUP_BYTES),
            ],
            Function::PartialMerge => &[],
            // A committed minute joins its hour here.
            Function::CombineCommit => &[set(ROLLUP)],
            Function::Scheduler => &[
                optional(RUST_LOG),
                set(TABLE_NAME),
                set(STATE_MACHINE_ARN),
                set(SETTLE_SECONDS),
            ],
            Function::Redrive => &[
                optional(RUST_LOG),
                set(TABLE_NAME),
                set(STATE_MACHINE_ARN),
                set(MAX_ATTEMPTS),
            ],
        };
        let step = matches!(
            self,
            Function::ListBatch | Function::PartialMerge | Function::CombineCommit
        );
        let common: &[Var] = if step { &STEP } else { &[] };
        common.iter().chain(own).copied().collect()
    }

    /// Whether it reads `name`.
    pub fn reads(self, name: &str) -> bool {
        self.env().iter().any(|v| v.name == name)
    }

    /// `lookup` narrowed to this function's variables: any other reads as unset.
    pub fn lookup(
        self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> impl Fn(&str) -> Option<String> {
        move |name| if self.reads(name) { lookup(name) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Vars;
    use crate::{FromVars, SchedulerConfig, StepConfig};

    #[test]
    fn a_function_ignores_variables_it_does_not_read() {
        let all = |name: &str| match name {
            "TABLE_NAME" | "RAW_BUCKET" | "OUTPUT_BUCKET" | "STATE_MACHINE_ARN" => {
                Some("x".to_owned())
            }
            "MAX_GAP" => Some("window".to_owned()),
            "SETTLE_SECONDS" => Some("30".to_owned()),
            _ => None,
        };
        let scheduler = SchedulerConfig::read(&Vars::of(Function::Scheduler, all)).unwrap();
        assert_eq!(scheduler.settle_secs, 30);
        let read = |function| StepConfig::read(&Vars::of(function, all)).unwrap();
        assert_eq!(
            read(Function::ListBatch).pipeline.merge.max_gap,
            merge::MaxGap::Window
        );
        assert_eq!(
            read(Function::PartialMerge).pipeline.merge.max_gap,
            merge::MaxGap::default()
        );
    }

    #[test]
    fn every_function_reads_its_table_and_log_filter_once() {
        for function in Function::ALL {
            let env = function.env();
            for name in [TABLE_NAME, RUST_LOG] {
                assert_eq!(
                    env.iter().filter(|v| v.name == name).count(),
                    1,
                    "{function:?} {name}"
                );
            }
            let mut names: Vec<&str> = env.iter().map(|v| v.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(
                names.len(),
                env.len(),
                "{function:?} lists a variable twice"
            );
        }
    }
}
