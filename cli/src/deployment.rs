//! Which deployed pipeline the AWS commands (`rerun`, `backfill`, `status
//! --table`) talk to. Credentials, region and endpoint come from the usual
//! AWS environment (profiles, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...).

use control::SfnExecutions;

/// The state machine of a deployed stack (its `StateMachineArn` output).
#[derive(Debug, clap::Args)]
pub struct StateMachineArg {
    /// ARN of the deployed window state machine.
    #[arg(long = "state-machine", env = "FLOWMERGE_STATE_MACHINE_ARN")]
    pub arn: String,
}

/// The ledger table of a deployed stack (its `TableName` output).
#[derive(Debug, clap::Args)]
pub struct TableArg {
    /// Name of the deployed DynamoDB ledger table.
    #[arg(long = "table", env = "FLOWMERGE_TABLE")]
    pub name: String,
}

/// The AWS SDK configuration from the environment.
pub async fn sdk() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The executions of the state machine.
pub fn executions(sdk: &aws_config::SdkConfig, state_machine: &StateMachineArg) -> SfnExecutions {
    SfnExecutions::from_sdk(sdk, state_machine.arn.clone())
}

/// The DynamoDB ledger in `table`.
pub fn ledger(sdk: &aws_config::SdkConfig, table: &str) -> ledger::DynamoLedger {
    ledger::DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), table)
}
