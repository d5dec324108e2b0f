//! Step 2 (one per group, in parallel): fetch the group's files, parse and
//! merge them, and stage the partial result with its counts and error records.
//! An hour's group reads its minutes' output files from the output store and
//! keeps its shard's accounts ([`crate::rollup`]).
//!
//! Objects are small gzip files whose GET latency dominates, so a fetcher task
//! keeps several GETs in flight while files are parsed as they arrive (in
//! manifest order, so results never depend on timing). Only compressed bytes
//! are held; decompressed text streams through the parser, and the table it
//! fills is staged as sorted parts whenever it passes the step's memory
//! budget ([`super::spill`]), so one part per group unless it is large.

use std::sync::Arc;

use bytes::Bytes;
use columnar::{ObjectReader, read_parquet_where};
use flowlog::{FileReport, FlowTable, Restart, Window};
use futures::StreamExt;
use store::{BlobStore, StoreError};
use tokio::sync::mpsc;
use tracing::instrument;

use crate::config::MergeSettings;
use crate::errors_out::{ErrorRecord, to_json_lines};
use crate::layout::{ErrorType, Layout};
use crate::payload::{Manifest, PartialMergeRequest, PartialMergeResponse, Stats};
use crate::plan::InputFile;
use crate::rollup::{ACCOUNT_COLUMN, Shard};
use crate::split::keep_window;
use crate::steps::spill::Parts;
use crate::steps::{get_json, put_json};
use crate::{Context, PipelineError};

/// Merges one group of a manifest into a staged partial result.
#[instrument(skip_all, fields(manifest = %request.manifest, group = request.group))]
pub async fn partial_merge(
    ctx: &Context,
    request: &PartialMergeRequest,
) -> Result<PartialMergeResponse, PipelineError> {
    let manifest: Manifest = get_json(ctx.output.as_ref(), &request.manifest, "manifest").await?;
    let group = manifest.groups.get(request.group).cloned().ok_or_else(|| {
        PipelineError::InvalidRequest(format!(
            "manifest {} has {} groups, no group {}",
            request.manifest,
            manifest.groups.len(),
            request.group
        ))
    })?;
    ctx.failpoints
        .hit_in(manifest.window, "partial-merge.start")?;

    let window = manifest.window;
    let _slot = ctx.memory.slot().await;
    let parts = Parts::new(
        &ctx.config,
        window,
        manifest.version,
        request.group,
        &manifest.settings,
        ctx.memory.table_bytes(),
    );
    let bytes_in = group.files.iter().map(|f| f.size).sum();
    let mut merged = GroupMerge::new(window, &manifest.settings, bytes_in, group.shard, parts);
    let source = if window.is_hour() {
        &ctx.output
    } else {
        &ctx.input
    };
    let mut rx = spawn_fetcher(source, ctx.config.fetch_concurrency, group.files);
    // A short blocking call parses the files fetched so far, taking each next
    // one only if it is already there and no part waits to be uploaded: a
    // blocking thread never waits for I/O, so a bounded blocking pool cannot
    // deadlock, and files reach it in batches.
    while let Some(first) = rx.recv().await {
        (merged, rx) = tokio::task::spawn_blocking(move || {
            let mut next = Some(first);
            while let Some((file, body)) = next {
                merged.add(file, body)?;
                next = match merged.parts.has_ready() {
                    true => None,
                    false => rx.try_recv().ok(),
                };
            }
            Ok::<_, PipelineError>((merged, rx))
        })
        .await??;
        put_parts(ctx, merged.parts.take_ready()).await?;
    }
    let mut outcome = tokio::task::spawn_blocking(move || merged.finish()).await??;
    put_parts(ctx, std::mem::take(&mut outcome.ready)).await?;

    let layout = Layout::new(&ctx.config, window);
    let version = manifest.version;
    for (kind, records) in [
        (ErrorType::ParseFailed, &outcome.bad_lines),
        (ErrorType::UnreadableFile, &outcome.bad_files),
    ] {
        if !records.is_empty() {
            let mut body = Vec::new();
            to_json_lines(records, &mut body);
            let key = layout.partial(version, request.group, &format!("{}.jsonl", kind.as_str()));
            ctx.output.put_scratch(&key, Bytes::from(body)).await?;
        }
    }
    // The stats object is written last: its presence means the group is complete.
    put_json(
        ctx.output.as_ref(),
        &layout.partial(version, request.group, "json"),
        &outcome.stats,
    )
    .await?;
    ctx.failpoints
        .hit_in(manifest.window, "partial-merge.end")?;
    let stats = outcome.stats;
    tracing::info!(
        records_in = stats.records_in,
        rows_out = stats.rows_out,
        parts = stats.files_out,
        "group merged"
    );
    Ok(PartialMergeResponse {
        group: request.group,
        records_in: stats.records_in,
        rows_out: stats.rows_out,
        bad_lines: stats.bad_lines,
        bad_files: stats.bad_files,
        parts: stats.files_out,
    })
}

/// Uploads staged parts.
async fn put_parts(ctx: &Context, parts: Vec<(String, Bytes)>) -> Result<(), PipelineError> {
    for (key, body) in parts {
        ctx.output.put_scratch(&key, body).await?;
    }
    Ok(())
}

/// What one group produced.
struct GroupOutcome {
    /// Parts still to upload.
    ready: Vec<(String, Bytes)>,
    bad_lines: Vec<ErrorRecord>,
    bad_files: Vec<ErrorRecord>,
    stats: Stats,
}

/// Fetches a group's objects on its own task, `fetch_concurrency` at a time,
/// in manifest order, so GETs overlap with parsing.
fn spawn_fetcher(
    input: &Arc<dyn BlobStore>,
    concurrency: usize,
    files: Vec<InputFile>,
) -> mpsc::Receiver<(InputFile, Result<Bytes, StoreError>)> {
    let concurrency = concurrency.max(1);
    let (tx, rx) = mpsc::channel(concurrency);
    let input = input.clone();
    tokio::spawn(async move {
        let mut fetches = futures::stream::iter(files)
            .map(|file| {
                let input = input.clone();
                async move {
                    let body = input.get(&file.key).await;
                    (file, body)
                }
            })
            .buffered(concurrency);
        while let Some(item) = fetches.next().await {
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// About how many records `bytes` of gzip flow logs hold (a record takes
/// 15–20 bytes compressed), so the group's table is allocated once — but
/// never more than a `budget` of table bytes holds (a record's row takes
/// about 100).
fn expected_records(bytes: u64, budget: usize) -> usize {
    usize::try_from(bytes / 16).unwrap_or(0).min(budget / 100)
}

/// One group's table and counts, built file by file.
struct GroupMerge {
    window: Window,
    shard: Option<Shard>,
    reader: ObjectReader,
    table: FlowTable,
    parts: Parts,
    stats: Stats,
    bad_lines: Vec<ErrorRecord>,
    bad_files: Vec<ErrorRecord>,
}

impl GroupMerge {
    /// A group of `bytes_in` compressed bytes, read with the run's formats.
    fn new(
        window: Window,
        settings: &MergeSettings,
        bytes_in: u64,
        shard: Option<Shard>,
        parts: Parts,
    ) -> Self {
        GroupMerge {
            window,
            shard,
            reader: ObjectReader::new(settings.formats.clone()),
            // A shard keeps an unknown share of its files' rows.
            table: FlowTable::with_expected_rows(match shard {
                None => expected_records(bytes_in, parts.budget()),
                Some(_) => 0,
            }),
            parts,
            stats: Stats::default(),
            bad_lines: Vec::new(),
            bad_files: Vec::new(),
        }
    }

    /// Parses one fetched object. A listed object that is gone is quarantined
    /// with a reason rather than failing the window forever; any other store
    /// error fails the group.
    fn add(
        &mut self,
        file: InputFile,
        body: Result<Bytes, StoreError>,
    ) -> Result<(), PipelineError> {
        if let Some(shard) = self.shard {
            self.add_minute(file, body, shard)?;
            return self.parts.between_objects(&mut self.table);
        }
        let at_home = file
            .home
            .as_ref()
            .map(|home| *home == self.window.to_string());
        self.parts.begin_object(&self.table, at_home);
        let mut report = match body {
            Ok(bytes) => self.read(&file.key, bytes, at_home)?,
            Err(StoreError::NotFound { key }) => {
                FileReport::rejected(&file.key, format!("object not found: {key}"))
            }
            Err(e) => return Err(e.into()),
        };
        let (spilled_elsewhere, first) = self.parts.end_object(report.bad_file.is_some())?;
        if let Some(at_home) = at_home {
            let elsewhere =
                spilled_elsewhere + keep_window(&mut self.table, first, self.window, at_home);
            report.records -= elsewhere;
            report.lines -= elsewhere;
            if !at_home {
                // The object itself, and what in it is not a record, is its home's.
                self.stats.lines += report.records;
                self.stats.records_in += report.records;
                return self.parts.between_objects(&mut self.table);
            }
        }
        self.stats.files_in += 1;
        self.stats.bytes_in += file.size;
        self.stats.lines += report.lines;
        self.stats.records_in += report.records;
        self.stats.bad_lines += report.bad_lines.len() as u64;
        self.stats.control_messages += report.control_messages;
        let window = self.window;
        self.bad_lines.extend(
            report
                .bad_lines
                .into_iter()
                .map(|b| ErrorRecord::line(window, b)),
        );
        if let Some(bad) = report.bad_file {
            self.stats.bad_files += 1;
            self.bad_files.push(ErrorRecord::file(window, bad));
        }
        self.parts.between_objects(&mut self.table)
    }

    /// Reads one object into the table, within the budget: the read
    /// restarts (once) after the table is spilled if the object would pass
    /// the budget in a table holding earlier objects.
    fn read(
        &mut self,
        key: &str,
        bytes: Bytes,
        at_home: Option<bool>,
    ) -> Result<FileReport, PipelineError> {
        loop {
            let read = self
                .reader
                .read_with(key, bytes.clone(), &mut self.table, &mut self.parts);
            match read {
                Ok(report) => return Ok(report),
                Err(Restart) => {
                    self.parts.restart(&mut self.table)?;
                    self.parts.begin_object(&self.table, at_home);
                }
            }
        }
    }

    /// Reads one minute output file of an hour, keeping `shard`'s accounts.
    /// These are flowmerge's own files: one that is gone or unreadable fails
    /// the run (and it is retried), since quarantining it would lose rows
    /// the minute tier has.
    fn add_minute(
        &mut self,
        file: InputFile,
        body: Result<Bytes, StoreError>,
        shard: Shard,
    ) -> Result<(), PipelineError> {
        let body = body.map_err(|e| match e {
            StoreError::NotFound { key } => PipelineError::Incomplete {
                window: self.window,
                what: "minute output",
                key,
            },
            e => e.into(),
        })?;
        let table = read_parquet_where(body, ACCOUNT_COLUMN, |account| {
            shard.holds(account.unwrap_or("-"))
        })
        .map_err(|e| PipelineError::Decode {
            what: "minute output",
            key: file.key.clone(),
            message: e.to_string(),
        })?;
        let records: i64 = table
            .metric(flowlog::RECORDS)
            .unwrap_or_default()
            .iter()
            .sum();
        let records = u64::try_from(records).unwrap_or(0);
        self.table.append(&table);
        // Every shard reads every file: the first one counts them.
        if shard.index == 0 {
            self.stats.files_in += 1;
            self.stats.bytes_in += file.size;
        }
        self.stats.lines += records;
        self.stats.records_in += records;
        Ok(())
    }

    /// Merges the group, checks conservation and encodes it as one file with
    /// the run's output settings (so a single-group window's partial is its output).
    fn finish(mut self) -> Result<GroupOutcome, PipelineError> {
        let staged = self.parts.finish(&mut self.table)?;
        let mut stats = self.stats;
        stats.totals = staged.totals;
        stats.rows_out = staged.rows;
        stats.files_out = staged.parts;
        Ok(GroupOutcome {
            ready: staged.ready,
            bad_lines: self.bad_lines,
            bad_files: self.bad_files,
            stats,
        })
    }
}
