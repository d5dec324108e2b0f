//! The `scheduler` Lambda (EventBridge, every minute): starts a window state
//! machine execution for each window that is due.

use service::operations::Scheduler;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    service::serve(
        service::Function::Scheduler,
        Scheduler::build,
        Scheduler::invoke,
    )
    .await
}
