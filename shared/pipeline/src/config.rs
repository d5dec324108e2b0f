//! Pipeline settings: where output goes and how windows are merged and written.
//! The merge settings are copied into each window's manifest, so every step of
//! one run (and any replay of it) uses the same ones.

use flowlog::Formats;
use merge::MaxGap;
use serde::{Deserialize, Serialize};

use crate::rollup::Rollup;

/// Settings shared by the three steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Output key template (Firehose-style `!{timestamp:...}` expressions).
    pub output_prefix: String,
    /// Hour output key template, for the hour tier ([`Rollup::Hour`]).
    pub hour_prefix: String,
    /// Whether committed minutes feed an hour tier.
    pub rollup: Rollup,
    /// Error output key template (`!{error-type}` and `!{timestamp:...}`).
    pub error_prefix: String,
    /// Prefix for manifests and staging objects in the output store.
    pub work_prefix: String,
    /// Compressed input bytes per partial-merge group.
    pub group_bytes: u64,
    /// How long a running claim stays valid before another run may take over.
    pub lease_secs: i64,
    /// Objects fetched concurrently by one partial merge.
    pub fetch_concurrency: usize,
    /// Merge and output settings.
    pub merge: MergeSettings,
}

/// Settings that decide the bytes of a window's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeSettings {
    /// Contiguity rule.
    pub max_gap: MaxGap,
    /// Roll output files at this size.
    pub target_file_size: u64,
    /// zstd level of output files.
    pub zstd_level: i32,
    /// Formats of headerless sources (Firehose records, CloudWatch Logs events).
    pub formats: Formats,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            output_prefix: "flowlogs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/".into(),
            hour_prefix: "flowlogs-hourly/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/".into(),
            rollup: Rollup::None,
            error_prefix: "errors/!{error-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/".into(),
            work_prefix: "_flowmerge/".into(),
            group_bytes: 32 * 1024 * 1024,
            lease_secs: 15 * 60,
            fetch_concurrency: 16,
            merge: MergeSettings::default(),
        }
    }
}

impl Default for MergeSettings {
    fn default() -> Self {
        MergeSettings {
            max_gap: MaxGap::default(),
            target_file_size: 256 * 1024 * 1024,
            zstd_level: columnar::DEFAULT_ZSTD_LEVEL,
            formats: Formats::default(),
        }
    }
}
