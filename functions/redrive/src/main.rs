//! The `redrive` Lambda: on a CloudWatch alarm (failed window executions),
//! redrives or restarts the failed windows, a bounded number of times.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use service::redrive::AlarmEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    service::init_tracing();
    let config = service::ServiceConfig::from_env(service::Function::Redrive)?;
    let sdk = aws_config::load_from_env().await;
    let ledger = service::build_ledger(&sdk, &config);
    let executions = service::SfnExecutions::from_sdk(&sdk, config.require_state_machine()?);
    let (ledger, executions, max_attempts) = (ledger.as_ref(), &executions, config.max_attempts);
    run(service_fn(
        move |event: LambdaEvent<AlarmEvent>| async move {
            let now = service::pipeline::now();
            service::redrive::handle(&event.payload, ledger, executions, max_attempts, now)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
