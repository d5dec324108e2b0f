//! Step 3: combine the staged partials, write the window's output and error
//! files, commit in the ledger on the claimed version, then remove what the
//! commit superseded (older outputs of the window, staging, old manifests).
//!
//! Crash safety: output keys derive from the input digest, so a re-run of the
//! same input set overwrites rather than adds; the commit is conditional; and
//! cleanup runs after every commit (also when a retry finds the commit done),
//! so duplicates never outlive a successful run.

use std::collections::BTreeMap;

use bytes::Bytes;
use columnar::{WriteOptions, read_parquet, write_parquet};
use flowlog::FlowTable;
use futures::{StreamExt, TryStreamExt};
use ledger::{CommitInfo, WindowState};
use merge::{Totals, merge, totals_by_account};
use tracing::instrument;

use crate::config::MergeSettings;
use crate::layout::{ErrorType, Layout};
use crate::payload::{CombineRequest, CombineResponse, Manifest, Stats};
use crate::rollup;
use crate::steps::get_json;
use crate::{Context, PipelineError};

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

    let (partials, errors) = read_partials(ctx, &layout, &manifest).await?;
    let mut stats = Stats::default();
    for (group_stats, _) in &partials {
        stats.add(group_stats);
    }
    let bodies: Vec<(String, Bytes)> = partials.into_iter().filter_map(|(_, body)| body).collect();
    // Per-account totals serve the conservation check only: they would make
    // the ledger item and the state machine payload grow with the accounts
    // of the window (DynamoDB items and Step Functions payloads are capped).
    let expected = std::mem::take(&mut stats.totals);
    let settings = manifest.settings.clone();
    let (files, rows) = match bodies.as_slice() {
        // An hour's shards hold disjoint accounts, each merged whole and
        // checked: their partials are the hour's files, one per shard, so an
        // account's hour lies in one file (shards are sized to the target
        // file size when they are planned).
        _ if manifest.window.is_hour() => {
            let files = bodies.into_iter().map(|(_, body)| body).collect();
            (files, stats.rows_out)
        }
        // A window planned as one group: its partial is already merged, checked
        // and encoded with the run's settings, so it is the output as it is.
        [(_, only)]
            if manifest.groups.len() == 1 && only.len() as u64 <= settings.target_file_size =>
        {
            (vec![only.clone()], stats.rows_out)
        }
        _ => {
            let window = manifest.window;
            tokio::task::spawn_blocking(move || combine(window, bodies, &settings, &expected))
                .await??
        }
    };

    stats.rows_out = rows;
    stats.files_out = files.len() as u64;
    stats.bytes_out = files.iter().map(|f| f.len() as u64).sum();
    let mut uploads: Vec<(String, Bytes)> = files
        .into_iter()
        .enumerate()
        .map(|(part, body)| (layout.output(&manifest.digest, part), body))
        .collect();
    for (kind, body) in errors {
        uploads.push((layout.error(kind, &manifest.digest), Bytes::from(body)));
    }
    let outputs: Vec<String> = uploads.iter().map(|(key, _)| key.clone()).collect();

    let current = ctx.ledger.window(&window_id).await?;
    let already = current.as_ref().is_some_and(|w| {
        w.version == manifest.version
            && w.digest.as_deref() == Some(manifest.digest.as_str())
            && w.state != WindowState::Running
    });
    let state = if already {
        // A retry after a commit whose response was lost: only cleanup remains.
        current.map_or(WindowState::Committed, |w| w.state)
    } else {
        futures::stream::iter(uploads)
            .map(|(key, body)| async move { ctx.output.put(&key, body).await })
            .buffer_unordered(IO_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        ctx.failpoints
            .hit_in(manifest.window, "combine.before-commit")?;
        let info = CommitInfo {
            digest: manifest.digest.clone(),
            outputs: outputs.clone(),
            counts: serde_json::to_value(&stats).unwrap_or_default(),
        };
        ctx.ledger
            .commit(&window_id, manifest.version, &info, ctx.now())
            .await?
    };
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

/// Merges several groups' partial results into the window's output files,
/// checking conservation against the groups' input totals.
fn combine(
    window: flowlog::Window,
    bodies: Vec<(String, Bytes)>,
    settings: &MergeSettings,
    expected: &BTreeMap<String, Totals>,
) -> Result<(Vec<Bytes>, u64), PipelineError> {
    let mut combined = FlowTable::new();
    for (key, body) in bodies {
        let (table, _) = read_parquet(body).map_err(|e| PipelineError::Decode {
            what: "partial parquet",
            key,
            message: e.to_string(),
        })?;
        combined.append(&table);
    }
    let merged = merge(combined, settings.max_gap);
    check_conservation(window, expected, &totals_by_account(&merged))?;
    let options = WriteOptions {
        target_file_size: settings.target_file_size,
        zstd_level: settings.zstd_level,
        ..WriteOptions::default()
    };
    Ok((write_parquet(&merged, &options)?, merged.rows() as u64))
}

/// A group's counts and, if it has rows, its staged Parquet (key, bytes).
type Partial = (Stats, Option<(String, Bytes)>);

/// Reads every group's stats, staged Parquet and error records. A missing
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
            let body = if stats.rows_out > 0 {
                let key = layout.partial(version, group.index, "parquet");
                let body = ctx.output.get(&key).await?;
                Some((key, body))
            } else {
                None
            };
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
            Ok(((stats, body), errors))
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
