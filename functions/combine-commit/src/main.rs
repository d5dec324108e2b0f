//! The `combine-commit` Lambda: combines the partial results of a run,
//! writes the window's Parquet output and commits it in the ledger.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use service::pipeline::CombineRequest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::init_tracing();
    let config = service::ServiceConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let ctx = service::build_context(&sdk, &config)?;
    let ctx = &ctx;
    run(service_fn(
        move |event: LambdaEvent<CombineRequest>| async move {
            service::steps::combine_commit(ctx, event.payload).await
        },
    ))
    .await
}
