//! The `combine-commit` Lambda: combines the partial results of a run,
//! writes the window's Parquet output and commits it in the ledger.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::steps::serve(
        service::Function::CombineCommit,
        service::steps::combine_commit,
    )
    .await
}
