//! A group's sorted parts: whenever the group's table passes its memory
//! budget, the table is merged, checked and staged as a part of its own, and
//! parsing goes on into an empty table. Combine merges the parts (of every
//! group) as sorted streams, so no step holds more than its budget, whatever
//! an object inflates to.
//!
//! A part is encoded on the blocking thread that parses and handed to the
//! step's async side to upload ([`Parts::take_ready`]): a blocking thread
//! never waits for I/O, so a bounded blocking pool cannot deadlock. Parts
//! made inside one object wait for its end (they are its compressed output,
//! a fraction of the compressed object the step holds already).
//!
//! An object whose read fails is rejected whole, with nothing of it kept, so
//! a table is spilled in the middle of an object only when it holds nothing
//! else: the parts made during the object are its own and are dropped if it
//! is rejected. When a table holding earlier objects would pass the budget
//! inside an object, the object's read restarts after the table is spilled.

use std::collections::BTreeMap;

use bytes::Bytes;
use columnar::{WriteOptions, write_parquet};
use flowlog::{Checkpoint, FlowTable, Restart, Window};
use merge::{Totals, add_totals, merge, totals_by_account};

use crate::config::MergeSettings;
use crate::layout::Layout;
use crate::split::keep_window;
use crate::steps::combine_commit::check_conservation;
use crate::{Config, PipelineError};

/// Where a group's parts go and what it has staged.
pub(super) struct Parts {
    config: Config,
    window: Window,
    version: u64,
    group: usize,
    settings: MergeSettings,
    /// Table bytes past which the table is spilled.
    budget: usize,
    staged: Vec<Part>,
    /// Encoded parts not yet uploaded (key, bytes).
    ready: Vec<(String, Bytes)>,
    /// The object being read: where its rows start in the table, the parts
    /// staged before it, whether it is at home (a split object, see
    /// [`keep_window`]) and the records spilled parts dropped as another
    /// window's.
    object: Object,
    /// A merge or encoding failure met inside a checkpoint (which can only
    /// stop the read): the group fails with it.
    failed: Option<PipelineError>,
}

/// One staged part: its rows and its input's conservation totals.
struct Part {
    rows: u64,
    totals: BTreeMap<String, Totals>,
}

#[derive(Default)]
struct Object {
    first_row: usize,
    first_part: usize,
    at_home: Option<bool>,
    elsewhere: u64,
}

/// What a group staged, in all.
pub(super) struct Staged {
    /// Parts still to upload.
    pub ready: Vec<(String, Bytes)>,
    pub parts: u64,
    pub rows: u64,
    pub totals: BTreeMap<String, Totals>,
}

impl Parts {
    /// The parts of `group` of a window's run `version`, spilled past `budget` table bytes.
    pub(super) fn new(
        config: &Config,
        window: Window,
        version: u64,
        group: usize,
        settings: &MergeSettings,
        budget: usize,
    ) -> Self {
        Parts {
            config: config.clone(),
            window,
            version,
            group,
            settings: settings.clone(),
            budget,
            staged: Vec::new(),
            ready: Vec::new(),
            object: Object::default(),
            failed: None,
        }
    }

    /// Starts reading an object into `table`; `at_home` for a split object.
    pub(super) fn begin_object(&mut self, table: &FlowTable, at_home: Option<bool>) {
        self.object = Object {
            first_row: table.rows(),
            first_part: self.staged.len(),
            at_home,
            elsewhere: 0,
        };
    }

    /// Ends the object: if it was rejected, the parts staged during it go
    /// (the next parts overwrite their keys). Returns the records its
    /// spilled parts dropped as another window's, and where its rows still
    /// in the table start.
    pub(super) fn end_object(&mut self, rejected: bool) -> Result<(u64, usize), PipelineError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        if rejected {
            // Its parts are the last ones, none uploaded yet.
            let dropped = self.staged.len() - self.object.first_part;
            self.staged.truncate(self.object.first_part);
            self.ready.truncate(self.ready.len() - dropped);
        }
        let elsewhere = std::mem::take(&mut self.object.elsewhere);
        Ok((elsewhere, self.object.first_row))
    }

    /// Between objects: spills the table if it is past the budget.
    pub(super) fn between_objects(&mut self, table: &mut FlowTable) -> Result<(), PipelineError> {
        self.object = Object {
            first_part: self.staged.len(),
            ..Object::default()
        };
        if table.heap_bytes() > self.budget {
            self.spill(table)?;
        }
        Ok(())
    }

    /// Before an object is read again ([`Restart`]): the table holds only
    /// earlier objects, and is spilled.
    pub(super) fn restart(&mut self, table: &mut FlowTable) -> Result<(), PipelineError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        self.spill(table)
    }

    /// Table bytes past which the table is spilled.
    pub(super) fn budget(&self) -> usize {
        self.budget
    }

    /// The parts encoded since the last call, to upload.
    pub(super) fn take_ready(&mut self) -> Vec<(String, Bytes)> {
        std::mem::take(&mut self.ready)
    }

    /// Whether parts wait to be uploaded.
    pub(super) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Stages the rest of the table and tells what the group staged.
    pub(super) fn finish(mut self, table: &mut FlowTable) -> Result<Staged, PipelineError> {
        self.spill(table)?;
        let mut totals = BTreeMap::new();
        for part in &self.staged {
            add_totals(&mut totals, &part.totals);
        }
        Ok(Staged {
            ready: self.ready,
            parts: self.staged.len() as u64,
            rows: self.staged.iter().map(|p| p.rows).sum(),
            totals,
        })
    }

    /// Merges the table, checks it and encodes it as the next part, leaving
    /// an empty table with the same columns.
    fn spill(&mut self, table: &mut FlowTable) -> Result<(), PipelineError> {
        let mut full = std::mem::replace(table, table.empty_like(0));
        if let Some(at_home) = self.object.at_home {
            let first = self.object.first_row.min(full.rows());
            self.object.elsewhere += keep_window(&mut full, first, self.window, at_home);
        }
        self.object.first_row = 0;
        if full.is_empty() {
            return Ok(());
        }
        let totals = totals_by_account(&full);
        let merged = merge(full, self.settings.max_gap);
        check_conservation(self.window, &totals, &totals_by_account(&merged))?;
        let options = WriteOptions {
            target_file_size: u64::MAX,
            zstd_level: self.settings.zstd_level,
            ..WriteOptions::default()
        };
        let Some(body) = write_parquet(&merged, &options)?.into_iter().next() else {
            return Ok(());
        };
        let key = Layout::new(&self.config, self.window).part(
            self.version,
            self.group,
            self.staged.len() as u64,
        );
        self.ready.push((key, body));
        self.staged.push(Part {
            rows: merged.rows() as u64,
            totals,
        });
        Ok(())
    }
}

impl Checkpoint for Parts {
    fn check(&mut self, table: &mut FlowTable, growth: usize) -> Result<(), Restart> {
        if table.heap_bytes().saturating_add(growth) <= self.budget {
            return Ok(());
        }
        if self.object.first_row > 0 {
            // The table holds earlier objects: spill them, then read this one again.
            return Err(Restart);
        }
        if let Err(error) = self.spill(table) {
            self.failed = Some(error);
            return Err(Restart);
        }
        Ok(())
    }
}
