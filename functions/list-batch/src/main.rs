//! The `list-batch` Lambda: claims a window in the ledger and writes the
//! manifest of its account groups (first state of the window state machine).

use service::{Function, build_context, steps};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::serve(Function::ListBatch, build_context, steps::list_batch).await
}
