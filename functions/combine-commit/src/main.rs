//! The `combine-commit` Lambda: combines the partial results of a run,
//! writes the window's Parquet output and commits it in the ledger.

use service::{Function, build_context, steps};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::serve(
        Function::CombineCommit,
        build_context,
        steps::combine_commit,
    )
    .await
}
