//! What every step runs against: the input and output stores, the ledger and
//! the settings. Built once (at Lambda cold start or CLI start) and shared.

use std::sync::Arc;

use ledger::Ledger;
use store::BlobStore;

use crate::Config;
use crate::failpoint::Failpoints;

/// Stores, ledger and settings of a pipeline.
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
    /// Injected faults (tests only; see [`crate::failpoint`]).
    pub failpoints: Failpoints,
}

/// Current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
