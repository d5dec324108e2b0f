//! The flowmerge pipeline: window planning, manifests, and the three steps —
//! [`list_batch`], [`partial_merge`], [`combine_commit`] — as plain async
//! functions over a [`Context`] (stores, ledger, settings). AWS Lambdas call
//! one step each; the local runner ([`run_window`]) calls all three in-process.
//!
//! ```no_run
//! # async fn demo(ctx: pipeline::Context) -> Result<(), pipeline::PipelineError> {
//! use pipeline::{ListBatchRequest, run_window};
//!
//! let request = ListBatchRequest { window: "2026-11-22T13:05Z".parse().unwrap(), expected_version: None, force: false };
//! let done = run_window(&ctx, &request, 2).await?;
//! println!("{} rows in {} files", done.stats.rows_out, done.outputs.len());
//! # Ok(()) }
//! ```

mod config;
mod context;
mod digest;
mod discover;
mod error;
mod errors_out;
pub mod failpoint;
mod layout;
mod memory;
mod payload;
mod plan;
pub mod rollup;
mod run;
pub mod split;
mod steps;

pub use columnar::ObjectReader;
pub use config::{Config, MergeSettings};
pub use context::{Clock, Context, now};
pub use digest::input_digest;
pub use discover::{Discovered, UNKNOWN_ACCOUNT, discover, discover_key};
pub use error::{PipelineError, error_type};
pub use errors_out::ErrorRecord;
pub use layout::{ErrorType, Layout, render, template_root};
pub use memory::{Memory, Slot};
pub use payload::{
    CombineRequest, CombineResponse, ListBatchRequest, ListBatchResponse, Manifest,
    PartialMergeRequest, PartialMergeResponse, Stats,
};
pub use plan::{Group, InputFile, plan_groups};
pub use run::run_window;
pub use steps::{combine_commit, finish_cleanups, list_batch, partial_merge};
