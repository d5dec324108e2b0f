//! The control plane of flowmerge: which windows are due and starting their
//! executions ([`scheduler`]), redriving failed ones ([`redrive`]), re-runs
//! and backfills for operators ([`operator`]), all through the window state
//! machine's [`Executions`]; and the CloudWatch metrics they and the steps
//! report ([`metrics`]). Plain functions over a ledger and an executions
//! client: the Lambdas (`service`) and the CLI call them alike, and neither
//! the Lambda runtime nor the AWS clock is needed to test them.

pub mod executions;
pub mod metrics;
pub mod operator;
pub mod redrive;
pub mod scheduler;

pub use executions::{Executions, SfnExecutions};
