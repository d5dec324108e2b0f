//! Each Lambda's settings, typed, read once from environment variables at
//! cold start ([`StepConfig`], [`IngestConfig`], [`SchedulerConfig`],
//! [`RedriveConfig`]). A function reads only its own variables
//! ([`Function::lookup`]); a missing or malformed one fails the cold start
//! with its name, so a misconfigured function never processes an event.

use std::sync::Arc;

use ledger::Ledger;
use merge::MaxGap;
use pipeline::failpoint::Failpoints;
use pipeline::rollup::Rollup;
use pipeline::split::WindowFrom;

use crate::Function;
use crate::ingest::StartSplit;

/// Environment variable names (the contract with the CDK app).
pub mod env {
    /// Bucket holding the raw flow log files.
    pub const RAW_BUCKET: &str = "RAW_BUCKET";
    /// Key prefix of the raw files inside `RAW_BUCKET` (default empty).
    pub const RAW_PREFIX: &str = "RAW_PREFIX";
    /// Bucket receiving Parquet output, errors, manifests and staging objects.
    pub const OUTPUT_BUCKET: &str = "OUTPUT_BUCKET";
    /// Key prefix inside `OUTPUT_BUCKET` (default empty).
    pub const OUTPUT_PREFIX: &str = "OUTPUT_PREFIX";
    /// DynamoDB ledger table.
    pub const TABLE_NAME: &str = "TABLE_NAME";
    /// The window state machine (scheduler and redrive only).
    pub const STATE_MACHINE_ARN: &str = "STATE_MACHINE_ARN";
    /// Quiet time after a window's end before it runs (default 600).
    pub const SETTLE_SECONDS: &str = "SETTLE_SECONDS";
    /// Merge contiguity: seconds, `none` or `window` (default 60).
    pub const MAX_GAP: &str = "MAX_GAP";
    /// Output file size target in bytes (default 268435456).
    pub const TARGET_FILE_SIZE: &str = "TARGET_FILE_SIZE";
    /// Compressed input bytes per partial-merge group (default: the pipeline's).
    pub const GROUP_BYTES: &str = "GROUP_BYTES";
    /// Attempts per window before redrive gives up (default 3).
    pub const MAX_ATTEMPTS: &str = "MAX_ATTEMPTS";
    /// Formats of headerless sources (Firehose records, CloudWatch Logs
    /// events), as JSON: `{"default": "${version} ...", "rules": [{"prefix":
    /// "firehose/x/", "format": "${...}"}]}` (default: version 2 everywhere).
    pub const FORMATS: &str = "FORMATS";
    /// Window of Firehose-delivered records, `key` (the delivery minute in
    /// the object's name) or `start` (each record's start; ingest reads the
    /// objects) (default `key`; ingest only).
    pub const WINDOW_FROM: &str = "WINDOW_FROM";
    /// Tier above the minute: `hour` (a committed minute joins its hour,
    /// which the scheduler runs once its minutes are done) or `none`
    /// (default `none`; combine-commit only).
    pub const ROLLUP: &str = "ROLLUP";
}

/// A variable is missing or cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// A variable holds a value of the wrong shape.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        reason: String,
    },
}

/// Where a variable's value comes from.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// The variables of one function, as its config reads them.
pub struct Vars<'a> {
    lookup: Lookup<'a>,
}

impl std::fmt::Debug for Vars<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vars")
    }
}

impl<'a> Vars<'a> {
    /// The variables of `function` through `lookup` (the environment, or a
    /// map in tests); any variable `function` does not read is unset.
    pub fn of(function: Function, lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Vars {
            lookup: Box::new(function.lookup(lookup)),
        }
    }

    /// A variable's value, if set and not blank.
    fn get(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// A variable without a default.
    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A key prefix (no leading or trailing `/`; may be empty).
    fn prefix(&self, name: &'static str) -> String {
        let value = self.get(name).unwrap_or_default();
        value.trim_matches('/').to_owned()
    }

    /// A parsed value, `default` when unset.
    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                    value,
                }),
        }
    }

    /// A byte count of at least 1, `default` when unset.
    fn bytes(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.parse(name, default)? {
            0 => Err(ConfigError::Invalid {
                name,
                value: self.get(name).unwrap_or_default(),
                reason: "must be at least 1 byte".to_owned(),
            }),
            bytes => Ok(bytes),
        }
    }

    /// `FORMATS`, version 2 everywhere when unset.
    fn formats(&self) -> Result<flowlog::Formats, ConfigError> {
        let Some(value) = self.get(env::FORMATS) else {
            return Ok(flowlog::Formats::default());
        };
        serde_json::from_str(&value).map_err(|e| ConfigError::Invalid {
            name: env::FORMATS,
            reason: e.to_string(),
            value,
        })
    }
}

/// A Lambda's settings, read from its own variables.
pub trait FromVars: Sized {
    /// Reads them.
    fn read(vars: &Vars<'_>) -> Result<Self, ConfigError>;

    /// Reads `function`'s variables from the process environment.
    fn from_env(function: Function) -> Result<Self, ConfigError> {
        Self::read(&Vars::of(function, |name| std::env::var(name).ok()))
    }
}

/// The settings of a step (list-batch, partial-merge, combine-commit).
#[derive(Debug, Clone, PartialEq)]
pub struct StepConfig {
    /// Ledger table.
    pub table_name: String,
    /// Raw input bucket and the key prefix of flow logs in it.
    pub raw_bucket: String,
    /// Key prefix of the raw files (no leading or trailing `/`; may be empty).
    pub raw_prefix: String,
    /// Output bucket.
    pub output_bucket: String,
    /// Key prefix of everything written to the output bucket (may be empty).
    pub output_prefix: String,
    /// The pipeline settings: those list-batch writes into the manifest, the
    /// rollup combine-commit acts on; defaults elsewhere.
    pub pipeline: pipeline::Config,
}

impl FromVars for StepConfig {
    fn read(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let mut pipeline = pipeline::Config::default();
        pipeline.merge.max_gap = vars.parse(env::MAX_GAP, MaxGap::default())?;
        pipeline.merge.target_file_size =
            vars.bytes(env::TARGET_FILE_SIZE, pipeline.merge.target_file_size)?;
        pipeline.merge.formats = vars.formats()?;
        pipeline.group_bytes = vars.bytes(env::GROUP_BYTES, pipeline.group_bytes)?;
        pipeline.rollup = vars.parse(env::ROLLUP, Rollup::None)?;
        Ok(StepConfig {
            table_name: vars.required(env::TABLE_NAME)?,
            raw_bucket: vars.required(env::RAW_BUCKET)?,
            raw_prefix: vars.prefix(env::RAW_PREFIX),
            output_bucket: vars.required(env::OUTPUT_BUCKET)?,
            output_prefix: vars.get(env::OUTPUT_PREFIX).unwrap_or_default(),
            pipeline,
        })
    }
}

/// The settings of ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    /// Ledger table.
    pub table_name: String,
    /// Key prefix of the raw files, stripped from keys.
    pub raw_prefix: String,
    /// With `WINDOW_FROM=start`: the raw bucket Firehose objects are read
    /// from, and the formats of their records.
    pub start_split: Option<(String, flowlog::Formats)>,
}

impl FromVars for IngestConfig {
    fn read(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let start_split = match vars.parse(env::WINDOW_FROM, WindowFrom::Key)? {
            WindowFrom::Key => None,
            WindowFrom::Start => Some((vars.required(env::RAW_BUCKET)?, vars.formats()?)),
        };
        Ok(IngestConfig {
            table_name: vars.required(env::TABLE_NAME)?,
            raw_prefix: vars.prefix(env::RAW_PREFIX),
            start_split,
        })
    }
}

/// The settings of the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Ledger table.
    pub table_name: String,
    /// The window state machine.
    pub state_machine_arn: String,
    /// Quiet time after a window's end before it runs, in seconds.
    pub settle_secs: i64,
}

impl FromVars for SchedulerConfig {
    fn read(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(SchedulerConfig {
            table_name: vars.required(env::TABLE_NAME)?,
            state_machine_arn: vars.required(env::STATE_MACHINE_ARN)?,
            settle_secs: vars.parse(env::SETTLE_SECONDS, 600)?,
        })
    }
}

/// The settings of redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveConfig {
    /// Ledger table.
    pub table_name: String,
    /// The window state machine.
    pub state_machine_arn: String,
    /// Attempts per window before redrive gives up.
    pub max_attempts: u32,
}

impl FromVars for RedriveConfig {
    fn read(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(RedriveConfig {
            table_name: vars.required(env::TABLE_NAME)?,
            state_machine_arn: vars.required(env::STATE_MACHINE_ARN)?,
            max_attempts: vars.parse(env::MAX_ATTEMPTS, 3)?,
        })
    }
}

/// Cold-start failures are logged in words; the runtime only prints `Debug`.
pub(crate) fn log_config_error(error: &ConfigError) {
    tracing::error!(error = %error, "invalid configuration");
}

/// Builds the pipeline context (S3 input and output stores, DynamoDB ledger)
/// from one shared AWS SDK configuration, with the failpoints of
/// `FLOWMERGE_FAILPOINTS` (tests only). Call once, at cold start.
pub fn build_context(
    sdk: &aws_config::SdkConfig,
    config: StepConfig,
) -> Result<pipeline::Context, ConfigError> {
    let s3 = store::s3_client(sdk);
    Ok(pipeline::Context {
        input: Arc::new(store::S3Store::new(
            s3.clone(),
            &config.raw_bucket,
            &config.raw_prefix,
        )),
        output: Arc::new(store::S3Store::new(
            s3,
            &config.output_bucket,
            &config.output_prefix,
        )),
        ledger: build_ledger(sdk, &config.table_name),
        config: config.pipeline,
        memory: function_memory(std::env::var(LAMBDA_MEMORY).ok().as_deref()),
        failpoints: Failpoints::from_env(),
        clock: pipeline::now,
    })
}

/// The function's memory in MB, as the Lambda runtime sets it (not part of
/// the contract with the CDK app: the runtime sets it from `MemorySize`).
pub const LAMBDA_MEMORY: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";

/// A step's memory budget on Lambda: three quarters of the function's memory
/// (`mb`, from [`LAMBDA_MEMORY`]); the rest is the runtime's, the SDK's and
/// the allocator's. Unbounded where the runtime does not say.
pub fn function_memory(mb: Option<&str>) -> pipeline::Memory {
    match mb.and_then(|mb| mb.trim().parse::<u64>().ok()) {
        Some(mb) if mb > 0 => pipeline::Memory::new(mb * 1024 * 1024 / 4 * 3, 1),
        _ => pipeline::Memory::unbounded(),
    }
}

/// Where ingest reads Firehose objects with `WINDOW_FROM=start` (`None` for
/// `key`).
pub fn build_start_split(sdk: &aws_config::SdkConfig, config: &IngestConfig) -> Option<StartSplit> {
    let (raw_bucket, formats) = config.start_split.as_ref()?;
    Some(StartSplit {
        raw: Arc::new(store::S3Store::new(
            store::s3_client(sdk),
            raw_bucket,
            &config.raw_prefix,
        )),
        formats: formats.clone(),
    })
}

/// The DynamoDB ledger in `table`.
pub fn build_ledger(sdk: &aws_config::SdkConfig, table: &str) -> Arc<dyn Ledger> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    Arc::new(ledger::DynamoLedger::new(dynamo, table))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(function: Function, pairs: &[(&str, &str)]) -> Vars<'static> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Vars::of(function, move |name| map.get(name).cloned())
    }

    const STEP: &[(&str, &str)] = &[
        ("TABLE_NAME", "ledger"),
        ("RAW_BUCKET", "raw"),
        ("OUTPUT_BUCKET", "out"),
    ];

    #[test]
    fn defaults_apply_when_only_required_variables_are_set() {
        let step = StepConfig::read(&vars(Function::ListBatch, STEP)).unwrap();
        assert_eq!(step.raw_prefix, "");
        assert_eq!(step.pipeline, pipeline::Config::default());
        let only_table = [("TABLE_NAME", "ledger"), ("STATE_MACHINE_ARN", "arn")];
        let scheduler = SchedulerConfig::read(&vars(Function::Scheduler, &only_table)).unwrap();
        assert_eq!(scheduler.settle_secs, 600);
        let redrive = RedriveConfig::read(&vars(Function::Redrive, &only_table)).unwrap();
        assert_eq!(redrive.max_attempts, 3);
        let ingest = IngestConfig::read(&vars(Function::Ingest, &only_table)).unwrap();
        assert_eq!(ingest.start_split, None);
    }

    #[test]
    fn overrides_reach_the_pipeline_config() {
        let mut pairs = STEP.to_vec();
        pairs.extend([
            ("RAW_PREFIX", "/logs/"),
            ("MAX_GAP", "window"),
            ("TARGET_FILE_SIZE", "1000"),
            ("GROUP_BYTES", "2000"),
            ("ROLLUP", "hour"),
            (
                "FORMATS",
                r#"{"rules": [{"prefix": "firehose/", "format": "${start} ${end}"}]}"#,
            ),
        ]);
        let step = StepConfig::read(&vars(Function::ListBatch, &pairs)).unwrap();
        assert_eq!(step.raw_prefix, "logs");
        let pipeline = step.pipeline;
        assert_eq!(pipeline.merge.max_gap, MaxGap::Window);
        assert_eq!(pipeline.merge.target_file_size, 1000);
        assert_eq!(pipeline.group_bytes, 2000);
        // list-batch does not read ROLLUP; combine-commit does.
        assert_eq!(pipeline.rollup, Rollup::None);
        assert_eq!(
            pipeline.merge.formats.for_key("firehose/x").names(),
            ["start", "end"]
        );
        let combine = StepConfig::read(&vars(Function::CombineCommit, &pairs)).unwrap();
        assert_eq!(combine.pipeline.rollup, Rollup::Hour);
        assert_eq!(combine.pipeline.merge.max_gap, MaxGap::default());

        pairs.extend([("WINDOW_FROM", "start"), ("TABLE_NAME", "ledger")]);
        let ingest = IngestConfig::read(&vars(Function::Ingest, &pairs)).unwrap();
        let (bucket, formats) = ingest.start_split.unwrap();
        assert_eq!(bucket, "raw");
        assert_eq!(formats.for_key("firehose/x").names(), ["start", "end"]);
    }

    #[test]
    fn errors_name_the_variable() {
        let err =
            StepConfig::read(&vars(Function::PartialMerge, &[("RAW_BUCKET", "raw")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
        assert!(err.to_string().contains("TABLE_NAME"));
        let err = StepConfig::read(&vars(Function::PartialMerge, &STEP[..2])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("OUTPUT_BUCKET"));
        let err = SchedulerConfig::read(&vars(Function::Scheduler, &STEP[..1])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("STATE_MACHINE_ARN"));
        let start = [("TABLE_NAME", "ledger"), ("WINDOW_FROM", "start")];
        let err = IngestConfig::read(&vars(Function::Ingest, &start)).unwrap_err();
        assert_eq!(err, ConfigError::Missing("RAW_BUCKET"));

        let scheduler = [
            ("TABLE_NAME", "ledger"),
            ("STATE_MACHINE_ARN", "arn"),
            ("SETTLE_SECONDS", "ten"),
        ];
        let err = SchedulerConfig::read(&vars(Function::Scheduler, &scheduler)).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name: "SETTLE_SECONDS", value, .. } if value == "ten"),
            "{err}"
        );

        let invalid = |function, name: &'static str, value: &'static str| {
            let mut pairs = STEP.to_vec();
            pairs.push((name, value));
            let err = StepConfig::read(&vars(function, &pairs)).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name),
                "{err}"
            );
            err.to_string()
        };
        for name in ["TARGET_FILE_SIZE", "GROUP_BYTES"] {
            let err = invalid(Function::ListBatch, name, "0");
            assert!(err.contains("at least 1 byte"), "{err}");
        }
        let err = invalid(Function::CombineCommit, "ROLLUP", "day");
        assert!(err.contains("expected `none` or `hour`"), "{err}");
        let err = invalid(
            Function::ListBatch,
            "FORMATS",
            r#"{"default": "${version} ${srcadr}"}"#,
        );
        assert!(err.contains("${srcadr} is not a flow log field"), "{err}");

        let record = [("TABLE_NAME", "ledger"), ("WINDOW_FROM", "record")];
        let err = IngestConfig::read(&vars(Function::Ingest, &record)).unwrap_err();
        assert!(
            err.to_string().contains("expected `key` or `start`"),
            "{err}"
        );
    }
}
