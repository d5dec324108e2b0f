//! What every step runs against: the input and output stores, the ledger and
//! the settings. Built once (at Lambda cold start or CLI start) and shared.

use std::sync::Arc;

use ledger::Ledger;
use store::BlobStore;
use tokio::sync::Semaphore;
use tokio::task::JoinError;

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
    /// How much parsing, merging and encoding may run at once.
    pub cpu: CpuSlots,
}

/// Bounds CPU-heavy work to the cores granted. The work runs on tokio's
/// blocking pool, which also serves file reads and SQLite: a parser waiting
/// for its next file holds a slot, never the thread that would read the file.
#[derive(Debug, Clone)]
pub struct CpuSlots(Arc<Semaphore>);

impl CpuSlots {
    /// `slots` pieces of CPU work at once (at least one).
    pub fn new(slots: usize) -> Self {
        CpuSlots(Arc::new(Semaphore::new(slots.max(1))))
    }

    /// One slot per core of this machine (or Lambda sandbox).
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Runs `work` on the blocking pool once a slot is free.
    pub async fn run<T, F>(&self, work: F) -> Result<T, JoinError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // The semaphore is never closed (closing would only lift the bound).
        let _slot = self.0.acquire().await.ok();
        tokio::task::spawn_blocking(work).await
    }
}

/// Current unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
