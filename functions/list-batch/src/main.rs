//! The `list-batch` Lambda: claims a window in the ledger and writes the
//! manifest of its account groups (first state of the window state machine).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::steps::serve(service::Function::ListBatch, service::steps::list_batch).await
}
