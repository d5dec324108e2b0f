//! The AWS Lambdas of flowmerge: adapters from Lambda events to the pipeline
//! and the control plane, testable without AWS. Each binary under
//! `functions/` is one call of [`serve`] with what its function builds at
//! cold start and handles per event:
//!
//! | function | state, handler | input |
//! |---|---|---|
//! | `ingest` | [`ingest::Ingest`] | SQS batch of S3 events (maybe via SNS) |
//! | `list-batch`, `partial-merge`, `combine-commit` | [`pipeline::Context`], [`steps`] | step payloads |
//! | `scheduler` | [`operations::Scheduler`] | EventBridge schedule |
//! | `redrive` | [`operations::Redrive`] | CloudWatch alarm state change |
//!
//! Settings come from the environment variables each [`Function`] reads
//! ([`config`]), once at cold start.
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
pub mod function;
pub mod ingest;
pub mod logging;
pub mod operations;
pub mod serve;
pub mod steps;

#[cfg(test)]
mod fixtures;

pub use config::{
    ConfigError, FromVars, IngestConfig, RedriveConfig, SchedulerConfig, StepConfig, build_context,
    build_ledger, build_start_split,
};
pub use function::Function;
pub use serve::serve;
pub use steps::StepError;
