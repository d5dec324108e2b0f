//! Step 3: combine the staged partials, write the window's output and error
//! files, commit in the ledger on the claimed version, then remove what the
//! commit superseded (older outputs of the window, staging, old manifests).
//!
//! Crash safety: output keys derive from the input digest, so a re-run of the
//! same input set overwrites rather than adds; the commit is conditional; and
//! cleanup runs after every commit (also when a retry finds the commit done),
//! so duplicates never outlive a successful run.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use columnar::{ParquetWriter, PartChunks, WriteOptions};
use flowlog::FlowTable;
use futures::{StreamExt, TryStreamExt};
use ledger::{CommitInfo, WindowState};
use merge::{SortedMerge, Totals, add_totals, totals_by_account};
use tracing::instrument;

use crate::config::MergeSettings;
use crate::layout::{ErrorType, Layout};
use crate::payload::{CombineRequest, CombineResponse, Manifest, Stats};
use crate::rollup;
use crate::steps::get_json;
use crate::{Context, Memory, PipelineError};

/// Objects read or written concurrently.
const IO_CONCURRENCY: usize = 8;

/// Combines a run's partials, writes and commits the window's output.
#[instrument(skip_all, fields(manifest = %request.manifest))]
pub async fn combine_commit(
    ctx: &Context,
    request: &CombineRequest,
) -> Result<CombineResponse, PipelineError> {
    let manifest: Manifest = get_json(ctx.output.as_ref(), &request.manifest, "manifest").await?;
    let layout = Layout::new(&ctx.config, manifest.window);
    let window_id = manifest.window.to_string();

    let current = ctx.ledger.window(&window_id).await?;
    if let Some(done) = current.filter(|w| {
        w.version == manifest.version
            && w.digest.as_deref() == Some(manifest.digest.as_str())
            && w.state != WindowState::Running
    }) {
        // A retry after a commit whose response was lost: only cleanup remains.
        cleanup(ctx, &layout, &window_id, &done.outputs, manifest.version).await?;
        let stats = done.counts.and_then(|c| serde_json::from_value(c).ok());
        return Ok(CombineResponse {
            window: manifest.window,
            version: manifest.version,
            state: done.state,
            outputs: done.outputs,
            stats: stats.unwrap_or_default(),
        });
    }

    let _slot = ctx.memory.slot().await;
    let (partials, errors) = read_partials(ctx, &layout, &manifest).await?;
    let mut stats = Stats::default();
    for (group_stats, _) in &partials {
        stats.add(group_stats);
    }
    let whole_groups = partials.iter().all(|(_, parts)| parts.len() <= 1);
    let parts: Vec<(String, Bytes)> = partials.into_iter().flat_map(|(_, parts)| parts).collect();
    // Per-account totals serve the conservation check only: they would make
    // the ledger item and the state machine payload grow with the accounts
    // of the window (DynamoDB items and Step Functions payloads are capped).
    let expected = std::mem::take(&mut stats.totals);
    let settings = manifest.settings.clone();
    let written = match parts.as_slice() {
        // An hour's shards hold disjoint accounts, each merged whole and
        // checked: their partials are the hour's files, one per shard, so an
        // account's hour lies in one file (shards are sized to the target
        // file size when they are planned).
        _ if manifest.window.is_hour() && whole_groups => {
            let files = parts.into_iter().map(|(_, body)| body).collect();
            Written::upload(ctx, &layout, &manifest.digest, files, stats.rows_out).await?
        }
        // A window planned as one group and staged as one part: it is merged,
        // checked and encoded with the run's settings, so it is the output as it is.
        [(_, only)]
            if manifest.groups.len() == 1 && only.len() as u64 <= settings.target_file_size =>
        {
            let files = vec![only.clone()];
            Written::upload(ctx, &layout, &manifest.digest, files, stats.rows_out).await?
        }
        _ => combine(ctx, &layout, &manifest, parts, expected).await?,
    };

    stats.rows_out = written.rows;
    stats.files_out = written.outputs.len() as u64;
    stats.bytes_out = written.bytes;
    let mut outputs = written.outputs;
    let uploads: Vec<(String, Bytes)> = errors
        .into_iter()
        .map(|(kind, body)| (layout.error(kind, &manifest.digest), Bytes::from(body)))
        .collect();
    outputs.extend(uploads.iter().map(|(key, _)| key.clone()));
    put_all(ctx, uploads).await?;
    ctx.failpoints
        .hit_in(manifest.window, "combine.before-commit")?;
    let info = CommitInfo {
        digest: manifest.digest.clone(),
        outputs: outputs.clone(),
        counts: serde_json::to_value(&stats).unwrap_or_default(),
    };
    let state = ctx
        .ledger
        .commit(&window_id, manifest.version, &info, ctx.now())
        .await?;
    ctx.failpoints
        .hit_in(manifest.window, "combine.after-commit")?;
    cleanup(ctx, &layout, &window_id, &outputs, manifest.version).await?;
    tracing::info!(%state, rows_out = stats.rows_out, files_out = stats.files_out, "window committed");
    Ok(CombineResponse {
        window: manifest.window,
        version: manifest.version,
        state,
        outputs,
        stats,
    })
}

/// Writes objects, [`IO_CONCURRENCY`] at a time.
async fn put_all(ctx: &Context, uploads: Vec<(String, Bytes)>) -> Result<(), PipelineError> {
    futures::stream::iter(uploads)
        .map(|(key, body)| async move { ctx.output.put(&key, body).await })
        .buffer_unordered(IO_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

/// The window's output files as written: their keys, rows and bytes.
struct Written {
    outputs: Vec<String>,
    rows: u64,
    bytes: u64,
}

impl Written {
    /// Writes files that are the output as they are.
    async fn upload(
        ctx: &Context,
        layout: &Layout<'_>,
        digest: &str,
        files: Vec<Bytes>,
        rows: u64,
    ) -> Result<Written, PipelineError> {
        let bytes = files.iter().map(|f| f.len() as u64).sum();
        let uploads: Vec<(String, Bytes)> = files
            .into_iter()
            .enumerate()
            .map(|(part, body)| (layout.output(digest, part), body))
            .collect();
        let outputs = uploads.iter().map(|(key, _)| key.clone()).collect();
        put_all(ctx, uploads).await?;
        Ok(Written {
            outputs,
            rows,
            bytes,
        })
    }
}

/// A part read a batch at a time, its errors naming it.
type PartBatches = Box<dyn Iterator<Item = Result<FlowTable, PipelineError>> + Send>;

/// Merges sorted parts into the window's output: a streaming merge of
/// batches of every part ([`SortedMerge`]) into files written one at a time,
/// checked for conservation against the groups' input totals at the end.
/// It runs on a blocking thread a file at a time ([`Combine::next_file`]),
/// and the async side uploads each file, so a blocking thread never waits
/// for I/O.
struct Combine {
    window: flowlog::Window,
    merged: SortedMerge<PartBatches>,
    writer: Option<ParquetWriter>,
    /// Files written and not yet handed over.
    done: VecDeque<Bytes>,
    expected: BTreeMap<String, Totals>,
    found: BTreeMap<String, Totals>,
    rows: u64,
}

impl Combine {
    /// Opens every part, sizing batches and chunks to the memory budget.
    fn new(
        window: flowlog::Window,
        settings: &MergeSettings,
        memory: &Memory,
        parts: Vec<(String, Bytes)>,
        expected: BTreeMap<String, Totals>,
    ) -> Result<Combine, PipelineError> {
        let mut columns = FlowTable::new();
        let mut opened = Vec::with_capacity(parts.len());
        for (key, body) in parts {
            let chunks = PartChunks::new(body, 1).map_err(|e| decode(&key, &e))?;
            columns.ensure_columns(chunks.columns().columns());
            opened.push((key, chunks));
        }
        let (chunk_rows, batch_rows) = chunk_rows(&columns, memory, opened.len());
        let mut sources: Vec<PartBatches> = Vec::with_capacity(opened.len());
        for (key, chunks) in opened {
            let chunks = chunks.with_rows(batch_rows).map_err(|e| decode(&key, &e))?;
            sources.push(Box::new(
                chunks.map(move |c| c.map_err(|e| decode(&key, &e))),
            ));
        }
        Ok(Combine {
            window,
            merged: SortedMerge::new(sources, settings.max_gap, chunk_rows)?,
            writer: Some(ParquetWriter::new(WriteOptions {
                target_file_size: settings.target_file_size.min(memory.file_bytes()),
                zstd_level: settings.zstd_level,
                ..WriteOptions::default()
            })),
            done: VecDeque::new(),
            expected,
            found: BTreeMap::new(),
            rows: 0,
        })
    }

    /// Merges and writes until an output file is done: the file, or `None`
    /// once every row is written (and conservation checked).
    fn next_file(&mut self) -> Result<Option<Bytes>, PipelineError> {
        while self.done.is_empty() {
            let Some(writer) = &mut self.writer else {
                check_conservation(self.window, &self.expected, &self.found)?;
                return Ok(None);
            };
            match self.merged.next().transpose()? {
                Some(chunk) => {
                    add_totals(&mut self.found, &totals_by_account(&chunk));
                    self.rows += chunk.rows() as u64;
                    self.done.extend(writer.write(&chunk)?);
                }
                None => {
                    let last = self.writer.take().map(ParquetWriter::finish);
                    self.done.extend(last.transpose()?.flatten());
                }
            }
        }
        Ok(self.done.pop_front())
    }
}

/// Writes the window's output with a [`Combine`], uploading each file as it
/// is done.
async fn combine(
    ctx: &Context,
    layout: &Layout<'_>,
    manifest: &Manifest,
    parts: Vec<(String, Bytes)>,
    expected: BTreeMap<String, Totals>,
) -> Result<Written, PipelineError> {
    let (window, settings, memory) = (
        manifest.window,
        manifest.settings.clone(),
        ctx.memory.clone(),
    );
    let mut combine = tokio::task::spawn_blocking(move || {
        Combine::new(window, &settings, &memory, parts, expected)
    })
    .await??;
    let mut written = Written {
        outputs: Vec::new(),
        rows: 0,
        bytes: 0,
    };
    loop {
        let (back, file) = tokio::task::spawn_blocking(move || {
            let file = combine.next_file();
            (combine, file)
        })
        .await?;
        combine = back;
        let Some(body) = file? else {
            break;
        };
        let key = layout.output(&manifest.digest, written.outputs.len());
        written.bytes += body.len() as u64;
        ctx.output.put(&key, body).await?;
        written.outputs.push(key);
    }
    written.rows = combine.rows;
    Ok(written)
}

/// Rows per merged chunk and per batch of each of `parts` parts, so that the
/// batches of all parts and the chunk each take about the memory budget's
/// chunk bytes, however wide the union of the parts' `columns`.
fn chunk_rows(columns: &FlowTable, memory: &Memory, parts: usize) -> (usize, usize) {
    // Codes and values, and about as much again for dictionaries.
    let row = 2 * (columns.dims().len() * 4 + columns.metrics().len() * 8);
    let rows = memory.chunk_bytes() / row.max(1);
    let chunk = rows.clamp(MIN_CHUNK_ROWS, MAX_CHUNK_ROWS);
    let batch = (rows / parts.max(1)).clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS);
    (chunk, batch)
}

/// Merged rows per chunk at most: a chunk is also a row group.
const MAX_CHUNK_ROWS: usize = 1024 * 1024;
/// Merged rows per chunk at least, whatever the budget.
const MIN_CHUNK_ROWS: usize = 1024;
/// Rows per batch of a part, at most and at least.
const MAX_BATCH_ROWS: usize = 8192;
const MIN_BATCH_ROWS: usize = 64;

fn decode(key: &str, e: &columnar::ReadError) -> PipelineError {
    PipelineError::Decode {
        what: "partial parquet",
        key: key.to_owned(),
        message: e.to_string(),
    }
}

/// A group's counts and its staged sorted parts (key, bytes).
type Partial = (Stats, Vec<(String, Bytes)>);

/// Reads every group's stats, staged parts and error records. A missing
/// stats object means the group did not finish.
async fn read_partials(
    ctx: &Context,
    layout: &Layout<'_>,
    manifest: &Manifest,
) -> Result<(Vec<Partial>, BTreeMap<ErrorType, Vec<u8>>), PipelineError> {
    let version = manifest.version;
    let partials: Vec<(Partial, Vec<(ErrorType, Bytes)>)> = futures::stream::iter(&manifest.groups)
        .map(|group| async move {
            let stats_key = layout.partial(version, group.index, "json");
            let stats: Stats =
                match get_json(ctx.output.as_ref(), &stats_key, "partial stats").await {
                    Err(PipelineError::Store(store::StoreError::NotFound { .. })) => {
                        return Err(PipelineError::Incomplete {
                            window: manifest.window,
                            what: "partial result",
                            key: stats_key,
                        });
                    }
                    other => other?,
                };
            let mut parts = Vec::new();
            for part in 0..stats.files_out {
                let key = layout.part(version, group.index, part);
                let body = ctx.output.get(&key).await?;
                parts.push((key, body));
            }
            let mut errors = Vec::new();
            for (kind, count) in [
                (ErrorType::ParseFailed, stats.bad_lines),
                (ErrorType::UnreadableFile, stats.bad_files),
            ] {
                if count > 0 {
                    let key =
                        layout.partial(version, group.index, &format!("{}.jsonl", kind.as_str()));
                    errors.push((kind, ctx.output.get(&key).await?));
                }
            }
            Ok(((stats, parts), errors))
        })
        .buffered(IO_CONCURRENCY)
        .try_collect()
        .await?;
    let mut error_files: BTreeMap<ErrorType, Vec<u8>> = BTreeMap::new();
    let mut out = Vec::with_capacity(partials.len());
    for (partial, errors) in partials {
        for (kind, body) in errors {
            error_files
                .entry(kind)
                .or_default()
                .extend_from_slice(&body);
        }
        out.push(partial);
    }
    Ok((out, error_files))
}

/// Removes the window's outputs that the committed set does not name (older
/// versions, crashed attempts), then staging objects and manifests of this and
/// older versions. Staging goes last, so leftover staging of a committed
/// window marks an unfinished cleanup (see [`finish_cleanups`]): that is also
/// when a committed minute joins its hour, so a crash cannot skip it. If
/// another run has claimed the window since, its outputs may be in flight:
/// output cleanup is then left to that run's own commit.
async fn cleanup(
    ctx: &Context,
    layout: &Layout<'_>,
    window: &str,
    outputs: &[String],
    version: u64,
) -> Result<(), PipelineError> {
    let record = ctx.ledger.window(window).await?;
    if let Some(record) = &record {
        rollup::join_hour(ctx, record).await?;
    }
    let superseded = record.is_some_and(|w| w.version != version);
    if !superseded {
        let mut stale: Vec<String> = Vec::new();
        let mut prefixes = vec![layout.output_stem()];
        prefixes.extend(ErrorType::ALL.iter().map(|&kind| layout.error_stem(kind)));
        for prefix in prefixes {
            stale.extend(
                ctx.output
                    .list(&prefix)
                    .await?
                    .into_iter()
                    .map(|o| o.key)
                    .filter(|key| !outputs.contains(key)),
            );
        }
        delete(ctx, &stale, "superseded outputs").await?;
    }
    let mut work: Vec<String> = Vec::new();
    for object in ctx.output.list(&layout.manifests()).await? {
        if key_version(&object.key, &layout.manifests()).is_some_and(|v| v < version) {
            work.push(object.key);
        }
    }
    for object in ctx.output.list(&layout.staging()).await? {
        if key_version(&object.key, &layout.staging()).is_some_and(|v| v <= version) {
            work.push(object.key);
        }
    }
    delete(ctx, &work, "staging and old manifests").await
}

async fn delete(ctx: &Context, keys: &[String], what: &str) -> Result<(), PipelineError> {
    if !keys.is_empty() {
        tracing::info!(objects = keys.len(), what, "removing");
        ctx.output.delete_many(keys).await?;
    }
    Ok(())
}

/// Completes cleanups that a crash interrupted: every committed window that
/// still has staging objects gets its cleanup run again. Returns how many.
/// (On AWS the state machine's retry of combine-commit does the same.)
pub async fn finish_cleanups(ctx: &Context) -> Result<usize, PipelineError> {
    let staging_root = format!("{}staging/", ctx.config.work_prefix);
    let mut stamps: Vec<String> = ctx
        .output
        .list(&staging_root)
        .await?
        .into_iter()
        .filter_map(|o| {
            Some(
                o.key
                    .strip_prefix(&staging_root)?
                    .split('/')
                    .next()?
                    .to_owned(),
            )
        })
        .collect();
    stamps.dedup();
    let mut finished = 0;
    for stamp in stamps {
        let Ok(window) = stamp.parse::<flowlog::Window>() else {
            continue;
        };
        let Some(record) = ctx.ledger.window(&window.to_string()).await? else {
            continue;
        };
        if matches!(record.state, WindowState::Committed | WindowState::Dirty) {
            let layout = Layout::new(&ctx.config, window);
            cleanup(
                ctx,
                &layout,
                &record.window,
                &record.outputs,
                record.version,
            )
            .await?;
            finished += 1;
        }
    }
    Ok(finished)
}

/// The version in a key `{prefix}v000003...`.
fn key_version(key: &str, prefix: &str) -> Option<u64> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('v')?;
    rest.get(..6)?.parse().ok()
}

/// [`merge::check_conservation`] of a window.
pub(crate) fn check_conservation(
    window: flowlog::Window,
    expected: &BTreeMap<String, Totals>,
    found: &BTreeMap<String, Totals>,
) -> Result<(), PipelineError> {
    merge::check_conservation(expected, found).map_err(|e| PipelineError::Conservation {
        window,
        detail: e.to_string(),
    })
}
