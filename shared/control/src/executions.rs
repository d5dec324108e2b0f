//! The Step Functions calls the scheduler and redrive make, behind a small
//! trait so their logic is tested against a fake. [`SfnExecutions`] is the
//! real implementation over `aws_sdk_sfn`.

use async_trait::async_trait;
use aws_sdk_sfn::error::DisplayErrorContext;
use aws_sdk_sfn::types::ExecutionStatus;

/// What a start did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// A new execution runs.
    Started,
    /// An execution of that name exists already: someone started it before.
    AlreadyExists,
}

/// What a redrive did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redriven {
    /// The execution restarts from its failed state.
    Redriven,
    /// Step Functions refuses (too old, redrive limit, unredrivable failure).
    NotRedrivable(String),
}

/// One failed execution of the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedExecution {
    /// Execution ARN.
    pub arn: String,
    /// Execution name (`20261122T1305Z-v3` when the scheduler started it).
    pub name: String,
    /// When it stopped, unix seconds.
    pub stopped_at: Option<i64>,
    /// How often it was redriven already.
    pub redrive_count: u32,
}

/// A Step Functions call failed.
#[derive(Debug, thiserror::Error)]
#[error("Step Functions {op} failed: {message}")]
pub struct SfnError {
    /// The API call.
    pub op: &'static str,
    /// The SDK's error with its context.
    pub message: String,
}

/// The executions of one state machine.
#[async_trait]
pub trait Executions: Send + Sync + std::fmt::Debug {
    /// StartExecution with `name` and JSON `input`.
    async fn start(&self, name: &str, input: &str) -> Result<Started, SfnError>;
    /// Failed executions that stopped at or after `since` (unix seconds),
    /// newest first, at most `limit`.
    async fn list_failed(&self, since: i64, limit: usize)
    -> Result<Vec<FailedExecution>, SfnError>;
    /// RedriveExecution.
    async fn redrive(&self, arn: &str) -> Result<Redriven, SfnError>;
    /// The JSON input of an execution (DescribeExecution).
    async fn input(&self, arn: &str) -> Result<Option<String>, SfnError>;
}

/// [`Executions`] over the AWS SDK.
#[derive(Debug, Clone)]
pub struct SfnExecutions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnExecutions {
    /// Executions of `state_machine_arn`.
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// Executions of `state_machine_arn`, with a client built from `sdk`.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        Self::new(aws_sdk_sfn::Client::new(sdk), state_machine_arn)
    }
}

fn sfn_error(op: &'static str, error: impl std::error::Error) -> SfnError {
    SfnError {
        op,
        message: DisplayErrorContext(error).to_string(),
    }
}

#[async_trait]
impl Executions for SfnExecutions {
    async fn start(&self, name: &str, input: &str) -> Result<Started, SfnError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Started::Started),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                Ok(Started::AlreadyExists)
            }
            Err(e) => Err(sfn_error("StartExecution", e)),
        }
    }

    async fn list_failed(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<FailedExecution>, SfnError> {
        let mut items = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .status_filter(ExecutionStatus::Failed)
            .into_paginator()
            .items()
            .send();
        let mut failed = Vec::new();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| sfn_error("ListExecutions", e))?;
            let stopped_at = item.stop_date().map(|d| d.secs());
            if stopped_at.is_some_and(|s| s < since) {
                // Listed newest first by start, and a run takes minutes: one
                // that started an hour before `since` ends the search.
                if item.start_date().secs() < since - 3600 {
                    break;
                }
                continue;
            }
            failed.push(FailedExecution {
                arn: item.execution_arn().to_owned(),
                name: item.name().to_owned(),
                stopped_at,
                redrive_count: item
                    .redrive_count()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
            });
            if failed.len() >= limit {
                break;
            }
        }
        Ok(failed)
    }

    async fn redrive(&self, arn: &str) -> Result<Redriven, SfnError> {
        match self
            .client
            .redrive_execution()
            .execution_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(Redriven::Redriven),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_execution_not_redrivable()) =>
            {
                Ok(Redriven::NotRedrivable(DisplayErrorContext(e).to_string()))
            }
            Err(e) => Err(sfn_error("RedriveExecution", e)),
        }
    }

    async fn input(&self, arn: &str) -> Result<Option<String>, SfnError> {
        let out = self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| sfn_error("DescribeExecution", e))?;
        Ok(out.input().map(str::to_owned))
    }
}

/// A fake [`Executions`] for tests: records calls, answers from its fields.
#[cfg(test)]
pub(crate) mod fake {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    pub struct FakeExecutions {
        /// Names that exist already (start answers AlreadyExists).
        pub existing: Mutex<BTreeSet<String>>,
        /// Started (name, input).
        pub started: Mutex<Vec<(String, String)>>,
        /// Failed executions to list.
        pub failed: Vec<FailedExecution>,
        /// ARNs whose redrive is refused.
        pub not_redrivable: BTreeSet<String>,
        /// Redriven ARNs.
        pub redriven: Mutex<Vec<String>>,
        /// Inputs by ARN.
        pub inputs: Vec<(String, String)>,
        /// Names whose start fails.
        pub failing: BTreeSet<String>,
    }

    #[async_trait]
    impl Executions for FakeExecutions {
        async fn start(&self, name: &str, input: &str) -> Result<Started, SfnError> {
            if self.failing.contains(name) {
                return Err(SfnError {
                    op: "StartExecution",
                    message: "throttled".into(),
                });
            }
            if !self.existing.lock().unwrap().insert(name.to_owned()) {
                return Ok(Started::AlreadyExists);
            }
            self.started
                .lock()
                .unwrap()
                .push((name.to_owned(), input.to_owned()));
            Ok(Started::Started)
        }

        async fn list_failed(
            &self,
            since: i64,
            limit: usize,
        ) -> Result<Vec<FailedExecution>, SfnError> {
            Ok(self
                .failed
                .iter()
                .filter(|f| f.stopped_at.is_none_or(|s| s >= since))
                .take(limit)
                .cloned()
                .collect())
        }

        async fn redrive(&self, arn: &str) -> Result<Redriven, SfnError> {
            if self.not_redrivable.contains(arn) {
                return Ok(Redriven::NotRedrivable("too old".into()));
            }
            self.redriven.lock().unwrap().push(arn.to_owned());
            Ok(Redriven::Redriven)
        }

        async fn input(&self, arn: &str) -> Result<Option<String>, SfnError> {
            Ok(self
                .inputs
                .iter()
                .find(|(a, _)| a == arn)
                .map(|(_, i)| i.clone()))
        }
    }
}
