//! The memory budget: how many bytes the steps a process runs may hold, so a
//! window is merged within the machine or function it runs on whatever its
//! size, compression ratio or number of columns. The budget is shared by the
//! steps running at once: each holds a slot while it runs and may use its
//! share.
//!
//! A step spends its share on these, which is where the fractions below come from:
//! * partial merge: the group's table, then the merge of it (about as much
//!   again) — so the table is spilled as a sorted part at half the share;
//! * combine: a batch of each part, the chunk being merged and its merge,
//!   and the output file being written (one at a time; the target file size
//!   is capped at a quarter of the share).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A process's memory budget and the steps that share it.
#[derive(Debug, Clone)]
pub struct Memory {
    /// Bytes one step may hold.
    step: u64,
    slots: Arc<Semaphore>,
}

impl Default for Memory {
    fn default() -> Self {
        Memory::unbounded()
    }
}

impl Memory {
    /// `total` bytes, shared by up to `steps` steps at once.
    pub fn new(total: u64, steps: usize) -> Self {
        let steps = steps.max(1);
        Memory {
            step: total / steps as u64,
            slots: Arc::new(Semaphore::new(steps)),
        }
    }

    /// No budget: steps never spill and never wait for a slot.
    pub fn unbounded() -> Self {
        Memory {
            step: u64::MAX,
            slots: Arc::new(Semaphore::new(Semaphore::MAX_PERMITS)),
        }
    }

    /// Bytes one step may hold.
    pub fn step_bytes(&self) -> u64 {
        self.step
    }

    /// Waits for a slot; the step holds it while it runs.
    pub async fn slot(&self) -> Slot {
        Slot {
            _permit: self.slots.clone().acquire_owned().await.ok(),
        }
    }

    /// The bytes a group's table may reach before it is spilled.
    pub(crate) fn table_bytes(&self) -> usize {
        usize::try_from(self.step / 2).unwrap_or(usize::MAX)
    }

    /// The bytes combine's chunks may take: the parts' batches and the chunk
    /// each get this, and its merge as much again.
    pub(crate) fn chunk_bytes(&self) -> usize {
        usize::try_from(self.step / 6).unwrap_or(usize::MAX)
    }

    /// The largest output file a step holds while writing it.
    pub(crate) fn file_bytes(&self) -> u64 {
        self.step / 4
    }
}

/// A step's hold on its share of the budget (released when dropped).
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}
