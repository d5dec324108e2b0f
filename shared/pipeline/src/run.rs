//! The local runner: one window through list-batch → partial merges (in
//! parallel) → combine-commit, in-process — what the state machine does on AWS.

use futures::{StreamExt, TryStreamExt};

use crate::payload::{CombineRequest, CombineResponse, ListBatchRequest, PartialMergeRequest};
use crate::{Context, PipelineError, combine_commit, list_batch, partial_merge};

/// Runs one window end to end with up to `parallelism` partial merges at once.
/// A failure after the claim is recorded in the ledger (like the state
/// machine's Catch) and returned.
pub async fn run_window(
    ctx: &Context,
    request: &ListBatchRequest,
    parallelism: usize,
) -> Result<CombineResponse, PipelineError> {
    let batch = list_batch(ctx, request).await?;
    let result = async {
        futures::stream::iter(0..batch.groups)
            .map(|group| {
                let request = PartialMergeRequest {
                    manifest: batch.manifest.clone(),
                    group,
                };
                async move { partial_merge(ctx, &request).await }
            })
            .buffer_unordered(parallelism.max(1))
            .try_collect::<Vec<_>>()
            .await?;
        combine_commit(
            ctx,
            &CombineRequest {
                manifest: batch.manifest.clone(),
            },
        )
        .await
    }
    .await;
    if let Err(error) = &result {
        let window = batch.window.to_string();
        let reason = format!("{}: {error}", error.error_type());
        if let Err(e) = ctx
            .ledger
            .fail(&window, batch.version, &reason, ctx.now())
            .await
        {
            tracing::warn!(%window, error = %e, "could not record the failure");
        }
    }
    result
}
