//! Step 1: claim the window, plan its groups, write the manifest.

use tracing::instrument;

use crate::digest::input_digest;
use crate::layout::Layout;
use crate::payload::{ListBatchRequest, ListBatchResponse, Manifest, PartialMergeRequest};
use crate::plan::{InputFile, plan_groups};
use crate::rollup;
use crate::steps::put_json;
use crate::{Context, PipelineError};

/// Claims `request.window` in the ledger (conditional on its state and, if
/// given, version), bin-packs its input set into groups (an hour: its
/// minutes' outputs into account shards, see [`rollup`]) and writes the
/// manifest plus the item list a Distributed Map reads.
#[instrument(skip_all, fields(window = %request.window))]
pub async fn list_batch(
    ctx: &Context,
    request: &ListBatchRequest,
) -> Result<ListBatchResponse, PipelineError> {
    let window = request.window;
    let options = ledger::ClaimOptions {
        expected_version: request.expected_version,
        lease_secs: ctx.config.lease_secs,
        force: request.force,
    };
    let claim = ctx
        .ledger
        .claim(&window.to_string(), &options, ctx.now())
        .await?;
    let (files, groups) = if window.is_hour() {
        // Past the claim, a failure is recorded like any failed run's, so the
        // hour is retried rather than left running until its lease ends.
        let files = match rollup::minute_outputs(ctx, window, &claim.files).await {
            Ok(files) => files,
            Err(error) => {
                let reason = format!("{}: {error}", error.error_type());
                ctx.ledger
                    .fail(&window.to_string(), claim.version, &reason, ctx.now())
                    .await?;
                return Err(error);
            }
        };
        let groups = rollup::shard_groups(&files, ctx.config.merge.target_file_size);
        (files, groups)
    } else {
        let files: Vec<InputFile> = claim
            .files
            .into_iter()
            .map(|f| InputFile {
                key: f.key,
                account: f.account,
                size: f.size,
                etag: f.etag,
                home: f.home,
            })
            .collect();
        let groups = plan_groups(&files, ctx.config.group_bytes);
        (files, groups)
    };
    let digest = input_digest(&files);
    let layout = Layout::new(&ctx.config, window);
    let manifest_key = layout.manifest(claim.version);
    let items: Vec<PartialMergeRequest> = (0..groups.len())
        .map(|group| PartialMergeRequest {
            manifest: manifest_key.clone(),
            group,
        })
        .collect();
    let response = ListBatchResponse {
        window,
        version: claim.version,
        digest: digest.clone(),
        manifest: manifest_key.clone(),
        items: layout.items(claim.version),
        groups: groups.len(),
        files: files.len(),
        bytes: files.iter().map(|f| f.size).sum(),
    };
    let manifest = Manifest {
        window,
        version: claim.version,
        digest,
        settings: ctx.config.merge.clone(),
        groups,
    };
    put_json(ctx.output.as_ref(), &manifest_key, &manifest).await?;
    put_json(ctx.output.as_ref(), &response.items, &items).await?;
    tracing::info!(
        version = claim.version,
        groups = response.groups,
        files = response.files,
        "window claimed"
    );
    Ok(response)
}
