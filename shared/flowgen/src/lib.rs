//! Realistic, deterministic synthetic AWS VPC Flow Logs with a ground-truth file.
//!
//! [`generate`] writes gzip flow-log files in the exact S3 delivery layout
//! (`AWSLogs/{account}/vpcflowlogs/{region}/{yyyy}/{mm}/{dd}/{account}_vpcflowlogs_{region}_{fl-id}_{YYYYMMDDTHHmmZ}_{hash}.log.gz`)
//! plus `truth.json`, the per delivery-window and per-account totals
//! ([`Truth`]) that a conserving compactor must reproduce.
//!
//! What the data contains:
//! * accounts with one or two flow logs each, in several regions, each flow log
//!   with its own record format: default v2 with a header (most), v2 without a
//!   header, custom v3, v4 and v5 formats, and a custom format in a different
//!   field order without `version`;
//! * ENIs (some dual-stack with IPv6) carrying long-lived connections (one record
//!   per direction per 60-second capture window, contiguous across windows),
//!   short flows, REJECT port scans from external addresses, NODATA records for
//!   silent ENIs and a few SKIPDATA records;
//! * deliveries every 5 minutes per flow log (offset per flow log, so every
//!   minute has files), each with the five capture windows before the delivery
//!   minute, records shuffled a little, large deliveries split into two files by
//!   ENI, some files written as two concatenated gzip members;
//! * optionally bad lines (wrong field count, `http` as a port, an int32
//!   overflow, negative packets) and two bad files (a truncated gzip, an HTML
//!   error page named `.log`).
//!
//! The same options always give byte-identical files: everything derives from
//! the seed (ChaCha8), gzip headers carry no time, no wall clock is read.
//!
//! # Example
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let opts = flowgen::GenerateOptions {
//!     accounts: 2,
//!     minutes: 5,
//!     ..Default::default()
//! };
//! let truth = flowgen::generate(dir.path(), &opts)?;
//! assert!(truth.records > 0);
//! assert_eq!(truth.lines, truth.records + truth.bad_lines);
//! assert!(dir.path().join("truth.json").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod deliver;
mod encode;
mod format;
mod model;
mod rng;
mod traffic;
mod truth;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Timelike, Utc};

pub use encode::Delivery;
pub use traffic::Traffic;
pub use truth::{Totals, Truth};

use crate::format::Defect;
use crate::model::FlowLog;
use crate::rng::Dice;

/// What to generate. `Default` gives a small but varied data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Seed of everything (default 42).
    pub seed: u64,
    /// First delivery minute (default 2026-11-22T13:00:00Z); seconds are truncated.
    pub start: DateTime<Utc>,
    /// Number of delivery minutes (windows) to produce files for (default 10).
    pub minutes: u32,
    /// Number of AWS accounts (default 12).
    pub accounts: usize,
    /// ENIs per account, spread over its flow logs (default 8).
    pub enis_per_account: usize,
    /// Long-lived connections per busy ENI (default 12); each yields one record
    /// per direction per capture window.
    pub flows_per_eni: usize,
    /// Malformed lines to mix into files (default 0).
    pub bad_lines: usize,
    /// Also write one truncated `.log.gz` and one non-flow-log `.log` (default false).
    pub bad_files: bool,
    /// How the records reach S3 (default: VPC Flow Logs text objects).
    pub delivery: Delivery,
    /// What the interfaces carry (default: mostly private VPC traffic).
    pub traffic: Traffic,
}

/// 2026-11-22T13:00:00Z.
const DEFAULT_START: i64 = 1_795_352_400;

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            start: DateTime::from_timestamp(DEFAULT_START, 0).unwrap_or_default(),
            minutes: 10,
            accounts: 12,
            enis_per_account: 8,
            flows_per_eni: 12,
            bad_lines: 0,
            bad_files: false,
            delivery: Delivery::Text,
            traffic: Traffic::Vpc,
        }
    }
}

/// Errors of [`generate`].
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The options cannot be generated (e.g. zero accounts).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// Writing a file or directory failed.
    #[error("I/O error at {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet object could not be encoded.
    #[error("writing Parquet: {0}")]
    Parquet(String),
    /// `truth.json` could not be (de)serialised.
    #[error("truth JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A worker thread panicked (a bug).
    #[error("a generator thread panicked")]
    Panicked,
}

impl GenError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        GenError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Salts of independent random streams derived from the seed.
const SALT_MODEL: u64 = 0x6d6f_6465_6c00;
const SALT_BAD_LINES: u64 = 0x6261_645f_6c6e;
const SALT_BAD_FILES: u64 = 0x6261_645f_666c;

/// Assign each bad line (defect kinds in rotation) to a delivery:
/// returns, per flow log and delivery, the defects to insert.
fn plan_bad_lines(
    flow_logs: &[FlowLog],
    opts: &GenerateOptions,
    start: i64,
) -> Vec<Vec<Vec<Defect>>> {
    let mut plan: Vec<Vec<Vec<Defect>>> = flow_logs
        .iter()
        .map(|fl| vec![Vec::new(); deliver::deliveries(fl, start, opts.minutes).len()])
        .collect();
    let slots: Vec<(usize, usize)> = plan
        .iter()
        .enumerate()
        .flat_map(|(f, ds)| (0..ds.len()).map(move |d| (f, d)))
        .collect();
    if slots.is_empty() {
        return plan;
    }
    let mut dice = Dice::derived(opts.seed, SALT_BAD_LINES);
    for i in 0..opts.bad_lines {
        let (f, d) = slots[dice.index(slots.len())];
        plan[f][d].push(Defect::ALL[i % Defect::ALL.len()]);
    }
    plan
}

/// Generate the data set into `dir` (created if missing) and write
/// `dir/truth.json`. Existing files with other names are left alone, so use an
/// empty directory. Flow logs are generated in parallel; the output does not
/// depend on the number of threads.
pub fn generate(dir: &Path, opts: &GenerateOptions) -> Result<Truth, GenError> {
    if opts.accounts == 0 || opts.enis_per_account == 0 {
        return Err(GenError::InvalidOptions(
            "accounts and enis_per_account must be at least 1".into(),
        ));
    }
    let start = opts
        .start
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(opts.start)
        .timestamp();
    std::fs::create_dir_all(dir).map_err(|e| GenError::io(dir, e))?;

    let flow_logs = model::build(opts, &mut Dice::derived(opts.seed, SALT_MODEL));
    let plan = plan_bad_lines(&flow_logs, opts, start);

    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(flow_logs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<Truth, GenError>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(fl) = flow_logs.get(i) else { break };
                    let r = deliver::run_flow_log(
                        dir,
                        fl,
                        opts.flows_per_eni,
                        start,
                        opts.minutes,
                        opts.delivery.of(i),
                        &plan[i],
                    );
                    let failed = r.is_err();
                    if let Ok(mut all) = results.lock() {
                        all.push(r);
                    }
                    if failed {
                        // Let the other workers stop early.
                        next.store(flow_logs.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().map_err(|_| GenError::Panicked)?;
    if results.len() < flow_logs.len() && results.iter().all(Result::is_ok) {
        return Err(GenError::Panicked);
    }

    let mut truth = Truth {
        seed: opts.seed,
        ..Truth::default()
    };
    for r in results {
        truth.merge(&r?);
    }
    if opts.bad_files {
        let fl = &flow_logs[0];
        let when = start + i64::from(opts.minutes / 2) * traffic::WINDOW;
        let mut dice = Dice::derived(opts.seed, SALT_BAD_FILES);
        let bad = write::write_bad_files(dir, fl, when, opts.flows_per_eni, &mut dice)?;
        truth.merge(&bad);
    }
    let json = truth.to_json()?;
    let path = dir.join("truth.json");
    std::fs::write(&path, json).map_err(|e| GenError::io(&path, e))?;
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let o = GenerateOptions::default();
        assert_eq!(o.start.to_rfc3339(), "2026-11-22T13:00:00+00:00");
        assert_eq!((o.seed, o.minutes, o.accounts), (42, 10, 12));
        assert_eq!((o.enis_per_account, o.flows_per_eni), (8, 12));
        assert_eq!((o.bad_lines, o.bad_files), (0, false));
    }

    #[test]
    fn rejects_empty_topology() {
        let dir = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            accounts: 0,
            ..Default::default()
        };
        assert!(matches!(
            generate(dir.path(), &opts),
            Err(GenError::InvalidOptions(_))
        ));
    }
}
