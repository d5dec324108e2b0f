//! The `scheduler` Lambda (EventBridge, every minute): starts a window state
//! machine execution for each window that is due.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::init_tracing();
    let config = service::ServiceConfig::from_env(service::Function::Scheduler)?;
    let sdk = aws_config::load_from_env().await;
    let ledger = service::build_ledger(&sdk, &config);
    let executions = service::SfnExecutions::from_sdk(&sdk, config.require_state_machine()?);
    let (ledger, executions, settle) = (ledger.as_ref(), &executions, config.settle_secs);
    run(service_fn(move |_: LambdaEvent<Value>| async move {
        let now = service::pipeline::now();
        service::scheduler::schedule(ledger, executions, settle, now)
            .await
            .map_err(Error::from)
    }))
    .await
}
