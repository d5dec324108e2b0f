//! The `list-batch` Lambda: claims a window in the ledger and writes the
//! manifest of its account groups (first state of the window state machine).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use service::pipeline::ListBatchRequest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::init_tracing();
    let config = service::ServiceConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let ctx = service::build_context(&sdk, &config)?;
    let ctx = &ctx;
    run(service_fn(
        move |event: LambdaEvent<ListBatchRequest>| async move {
            service::steps::list_batch(ctx, event.payload).await
        },
    ))
    .await
}
