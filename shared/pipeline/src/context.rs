//! What every step runs against: the input and output stores, the ledger, the
//! settings, the memory budget and the clock. Built once (at Lambda cold start or CLI start) and
//! shared.

use std::sync::Arc;

use ledger::Ledger;
use store::BlobStore;

use crate::failpoint::Failpoints;
use crate::{Config, Memory};

/// The current unix time in seconds, as a step reads it.
pub type Clock = fn() -> i64;

/// Stores, ledger, settings and clock of a pipeline.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where raw flow log files are read.
    pub input: Arc<dyn BlobStore>,
    /// Where output, errors, manifests and staging objects are written.
    pub output: Arc<dyn BlobStore>,
    /// Window and file state.
    pub ledger: Arc<dyn Ledger>,
    /// Settings.
    pub config: Config,
    /// What the steps may hold in memory.
    pub memory: Memory,
    /// Injected faults (tests only; see [`crate::failpoint`]).
    pub failpoints: Failpoints,
    /// The time steps stamp claims, commits and failures with ([`now`]
    /// outside tests).
    pub clock: Clock,
}

impl Context {
    /// The current unix time by this context's clock.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}

/// Current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
