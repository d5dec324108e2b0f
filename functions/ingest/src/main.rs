//! The `ingest` Lambda: records the flow log files announced by an SQS batch
//! of S3 events in the ledger, reporting failures per message.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use service::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::init_tracing();
    let config = service::ServiceConfig::from_env(service::Function::Ingest)?;
    let sdk = aws_config::load_from_env().await;
    let ledger = service::build_ledger(&sdk, &config);
    let split = service::build_start_split(&sdk, &config)?;
    let (ledger, raw_prefix) = (ledger.as_ref(), config.raw_prefix.as_str());
    let split = split.as_ref();
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let now = service::pipeline::now();
        Ok::<SqsBatchResponse, Error>(
            service::ingest::handle(&event.payload, ledger, raw_prefix, split, now).await,
        )
    }))
    .await
}
