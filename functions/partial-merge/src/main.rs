//! The `partial-merge` Lambda: merges one account group of a manifest into
//! a staged partial result (the Map state of the window state machine).

use service::{Function, build_context, steps};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::serve(Function::PartialMerge, build_context, steps::partial_merge).await
}
