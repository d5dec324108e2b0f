//! Step 2 (one per group, in parallel): fetch the group's files, parse and
//! merge them, and stage the partial result with its counts and error records.
//!
//! Objects are small gzip files whose GET latency dominates, so several are
//! fetched concurrently while one blocking thread parses them as they arrive
//! (in manifest order, so results never depend on timing). Only compressed
//! bytes are held; decompressed text streams through the parser.

use bytes::Bytes;
use columnar::{WriteOptions, write_parquet};
use flowlog::{BadFile, FileReport, FlowTable, Window, parse_object};
use futures::StreamExt;
use merge::{merge, totals_by_account};
use store::StoreError;
use tokio::sync::mpsc;
use tracing::instrument;

use crate::config::MergeSettings;
use crate::errors_out::{ErrorRecord, to_json_lines};
use crate::layout::{ErrorType, Layout};
use crate::payload::{Manifest, PartialMergeRequest, PartialMergeResponse, Stats};
use crate::plan::InputFile;
use crate::steps::{get_json, put_json};
use crate::{Context, PipelineError};

/// Staging is rewritten by the combine step: favour speed over size.
const STAGING_ZSTD_LEVEL: i32 = 1;

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
    ctx.failpoints.hit("partial-merge.start")?;

    let (tx, rx) = mpsc::channel(ctx.config.fetch_concurrency.max(1));
    let settings = manifest.settings.clone();
    let window = manifest.window;
    let worker = tokio::task::spawn_blocking(move || merge_group(window, rx, &settings));
    let input = ctx.input.clone();
    let mut fetches = futures::stream::iter(group.files)
        .map(|file| {
            let input = input.clone();
            async move {
                let body = input.get(&file.key).await;
                (file, body)
            }
        })
        .buffered(ctx.config.fetch_concurrency.max(1));
    let mut fetch_error = None;
    while let Some((file, body)) = fetches.next().await {
        let body = match body {
            Ok(bytes) => Ok(bytes),
            // Listed but gone: quarantine with a reason rather than fail the window forever.
            Err(StoreError::NotFound { key }) => Err(format!("object not found: {key}")),
            Err(e) => {
                fetch_error = Some(e);
                break;
            }
        };
        if tx.send((file, body)).await.is_err() {
            break;
        }
    }
    drop(tx);
    let outcome = worker.await??;
    if let Some(e) = fetch_error {
        return Err(e.into());
    }

    let layout = Layout::new(&ctx.config, window);
    let version = manifest.version;
    if let Some(parquet) = outcome.parquet {
        ctx.output
            .put(&layout.partial(version, request.group, "parquet"), parquet)
            .await?;
    }
    for (kind, records) in [
        (ErrorType::ParseFailed, &outcome.bad_lines),
        (ErrorType::UnreadableFile, &outcome.bad_files),
    ] {
        if !records.is_empty() {
            let mut body = Vec::new();
            to_json_lines(records, &mut body);
            let key = layout.partial(version, request.group, &format!("{}.jsonl", kind.as_str()));
            ctx.output.put(&key, Bytes::from(body)).await?;
        }
    }
    // The stats object is written last: its presence means the group is complete.
    put_json(
        ctx.output.as_ref(),
        &layout.partial(version, request.group, "json"),
        &outcome.stats,
    )
    .await?;
    ctx.failpoints.hit("partial-merge.end")?;
    let stats = outcome.stats;
    tracing::info!(
        records_in = stats.records_in,
        rows_out = stats.rows_out,
        "group merged"
    );
    Ok(PartialMergeResponse {
        group: request.group,
        records_in: stats.records_in,
        rows_out: stats.rows_out,
        bad_lines: stats.bad_lines,
        bad_files: stats.bad_files,
    })
}

/// What one group produced.
struct GroupOutcome {
    parquet: Option<Bytes>,
    bad_lines: Vec<ErrorRecord>,
    bad_files: Vec<ErrorRecord>,
    stats: Stats,
}

type Fetched = (InputFile, Result<Bytes, String>);

/// Parses every fetched object into one table, merges it and encodes it.
fn merge_group(
    window: Window,
    mut rx: mpsc::Receiver<Fetched>,
    settings: &MergeSettings,
) -> Result<GroupOutcome, PipelineError> {
    let mut table = FlowTable::new();
    let mut stats = Stats::default();
    let (mut bad_lines, mut bad_files) = (Vec::new(), Vec::new());
    while let Some((file, body)) = rx.blocking_recv() {
        stats.files_in += 1;
        stats.bytes_in += file.size;
        let report = match body {
            Ok(bytes) => parse_object(&file.key, &bytes, &mut table),
            Err(reason) => FileReport {
                bad_file: Some(BadFile {
                    key: file.key,
                    reason,
                }),
                ..FileReport::default()
            },
        };
        stats.lines += report.lines;
        stats.records_in += report.records;
        stats.bad_lines += report.bad_lines.len() as u64;
        bad_lines.extend(
            report
                .bad_lines
                .into_iter()
                .map(|b| ErrorRecord::line(window, b)),
        );
        if let Some(bad) = report.bad_file {
            stats.bad_files += 1;
            bad_files.push(ErrorRecord::file(window, bad));
        }
    }
    stats.totals = totals_by_account(&table);
    let merged = merge(table, settings.max_gap);
    stats.rows_out = merged.rows() as u64;
    let options = WriteOptions {
        target_file_size: u64::MAX,
        zstd_level: STAGING_ZSTD_LEVEL,
        ..WriteOptions::default()
    };
    let parquet = write_parquet(&merged, &options)?.into_iter().next();
    Ok(GroupOutcome {
        parquet,
        bad_lines,
        bad_files,
        stats,
    })
}
