//! The scheduler and redrive Lambdas: what they keep from cold start, over
//! the control plane's [`control::scheduler`] and [`control::redrive`].

use std::sync::Arc;

use control::SfnExecutions;
use control::redrive::{AlarmEvent, RedriveSummary};
use control::scheduler::ScheduleSummary;
use ledger::Ledger;
use serde_json::Value;

use crate::{ConfigError, RedriveConfig, SchedulerConfig, build_ledger};

/// The scheduler's ledger, state machine and settle time.
#[derive(Debug)]
pub struct Scheduler {
    ledger: Arc<dyn Ledger>,
    executions: SfnExecutions,
    settle_secs: i64,
}

impl Scheduler {
    /// From the settings and the shared AWS configuration.
    pub fn build(
        sdk: &aws_config::SdkConfig,
        config: SchedulerConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Scheduler {
            ledger: build_ledger(sdk, &config.table_name),
            executions: SfnExecutions::from_sdk(sdk, config.state_machine_arn),
            settle_secs: config.settle_secs,
        })
    }

    /// One invocation (the EventBridge schedule's event is not read).
    pub async fn invoke(&self, _: Value) -> Result<ScheduleSummary, lambda_runtime::Error> {
        let now = pipeline::now();
        let summary = control::scheduler::schedule(
            self.ledger.as_ref(),
            &self.executions,
            self.settle_secs,
            now,
        );
        Ok(summary.await?)
    }
}

/// Redrive's ledger, state machine and attempt limit.
#[derive(Debug)]
pub struct Redrive {
    ledger: Arc<dyn Ledger>,
    executions: SfnExecutions,
    max_attempts: u32,
}

impl Redrive {
    /// From the settings and the shared AWS configuration.
    pub fn build(sdk: &aws_config::SdkConfig, config: RedriveConfig) -> Result<Self, ConfigError> {
        Ok(Redrive {
            ledger: build_ledger(sdk, &config.table_name),
            executions: SfnExecutions::from_sdk(sdk, config.state_machine_arn),
            max_attempts: config.max_attempts,
        })
    }

    /// One invocation: a CloudWatch alarm's state change.
    pub async fn invoke(&self, event: AlarmEvent) -> Result<RedriveSummary, lambda_runtime::Error> {
        let now = pipeline::now();
        let summary = control::redrive::handle(
            &event,
            self.ledger.as_ref(),
            &self.executions,
            self.max_attempts,
            now,
        );
        Ok(summary.await?)
    }
}
