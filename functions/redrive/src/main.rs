//! The `redrive` Lambda: on a CloudWatch alarm (failed window executions),
//! redrives or restarts the failed windows, a bounded number of times.

use service::operations::Redrive;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::serve(service::Function::Redrive, Redrive::build, Redrive::invoke).await
}
