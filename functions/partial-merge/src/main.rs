//! The `partial-merge` Lambda: merges one account group of a manifest into
//! a staged partial result (the Map state of the window state machine).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use service::pipeline::PartialMergeRequest;

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::init_tracing();
    let config = service::ServiceConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let ctx = service::build_context(&sdk, &config)?;
    let ctx = &ctx;
    run(service_fn(
        move |event: LambdaEvent<PartialMergeRequest>| async move {
            service::steps::partial_merge(ctx, event.payload).await
        },
    ))
    .await
}
