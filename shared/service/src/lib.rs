//! The AWS Lambdas of flowmerge, as plain functions testable without AWS.
//! Each binary under `functions/` wires one of them to `lambda_runtime`:
//!
//! | function | entry point | input |
//! |---|---|---|
//! | `ingest` | [`ingest::handle`] | SQS batch of S3 events (maybe via SNS) |
//! | `list-batch`, `partial-merge`, `combine-commit` | [`steps`] | step payloads |
//! | `scheduler` | [`scheduler::schedule`] | EventBridge schedule |
//! | `redrive` | [`redrive::redrive_failed`] | CloudWatch alarm state change |
//!
//! Settings come from environment variables ([`config`]), read once at cold
//! start.
//!
//! ```
//! use service::events::{Decoded, decode_body};
//!
//! let body = r#"{"Records": [{"eventName": "ObjectCreated:Put",
//!   "eventTime": "2026-11-22T13:06:10.000Z",
//!   "userIdentity": {}, "requestParameters": {}, "responseElements": {},
//!   "s3": {"bucket": {"name": "raw"}, "object": {"size": 812, "eTag": "ab12",
//!   "key": "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/22/123456789012_vpcflowlogs_us-east-1_fl-1_20261122T1305Z_fe12.log.gz"}}}]}"#;
//! let Ok(Decoded::Files(files)) = decode_body(body, "") else { panic!() };
//! assert_eq!(files[0].window, "2026-11-22T13:05Z");
//! ```

pub mod config;
pub mod contract;
pub mod events;
pub mod executions;
pub mod function;
pub mod ingest;
pub mod metrics;
pub mod operator;
pub mod redrive;
pub mod scheduler;
pub mod steps;

#[cfg(test)]
mod fixtures;

pub use config::{ConfigError, ServiceConfig, build_context, build_ledger, build_start_split};
pub use executions::{Executions, SfnExecutions};
pub use function::Function;
pub use steps::StepError;

pub use aws_lambda_events;
pub use pipeline;

/// Installs JSON logging (no ANSI colours) for CloudWatch; the level comes
/// from `RUST_LOG` (default `info`). Call first thing in a Lambda's `main`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .with_env_filter(filter)
        .with_current_span(false)
        .init();
}
