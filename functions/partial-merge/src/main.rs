//! The `partial-merge` Lambda: merges one account group of a manifest into
//! a staged partial result (the Map state of the window state machine).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::steps::serve(
        service::Function::PartialMerge,
        service::steps::partial_merge,
    )
    .await
}
