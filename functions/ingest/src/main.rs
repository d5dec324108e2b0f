//! The `ingest` Lambda: records the flow log files announced by an SQS batch
//! of S3 events in the ledger, reporting failures per message.

use service::ingest::Ingest;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::serve(service::Function::Ingest, Ingest::build, Ingest::invoke).await
}
