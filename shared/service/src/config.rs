//! The Lambdas' settings, read once from environment variables at cold start.
//! A missing or malformed variable fails the cold start with its name, so a
//! misconfigured function never processes a single event.

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

/// Typed settings of every flowmerge Lambda.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// Raw input bucket (required by the step functions).
    pub raw_bucket: Option<String>,
    /// Raw input key prefix (no leading or trailing `/`; may be empty).
    pub raw_prefix: String,
    /// Output bucket (required by the step functions).
    pub output_bucket: Option<String>,
    /// Output key prefix (may be empty).
    pub output_prefix: String,
    /// Ledger table.
    pub table_name: String,
    /// State machine ARN, if this function needs one.
    pub state_machine_arn: Option<String>,
    /// Settle time in seconds.
    pub settle_secs: i64,
    /// Merge contiguity rule.
    pub max_gap: MaxGap,
    /// Output file size target in bytes.
    pub target_file_size: u64,
    /// Bytes per partial-merge group, if overridden.
    pub group_bytes: Option<u64>,
    /// Attempts per window before redrive gives up.
    pub max_attempts: u32,
    /// Formats of headerless sources.
    pub formats: flowlog::Formats,
    /// Window of Firehose-delivered records.
    pub window_from: WindowFrom,
    /// Tier above the minute.
    pub rollup: Rollup,
    /// Injected faults (tests only).
    pub failpoints: Failpoints,
}

impl ServiceConfig {
    /// Reads the variables of `function` from the process environment
    /// (any other is ignored, see [`Function::lookup`]).
    pub fn from_env(function: Function) -> Result<Self, ConfigError> {
        let mut config = Self::from_lookup(function.lookup(|name| std::env::var(name).ok()))
            .inspect_err(log_config_error)?;
        config.failpoints = Failpoints::from_env();
        Ok(config)
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    /// Failpoints are left empty; [`ServiceConfig::from_env`] fills them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let defaults = pipeline::Config::default();
        Ok(ServiceConfig {
            raw_bucket: get(env::RAW_BUCKET),
            raw_prefix: get(env::RAW_PREFIX)
                .unwrap_or_default()
                .trim_matches('/')
                .to_owned(),
            output_bucket: get(env::OUTPUT_BUCKET),
            output_prefix: get(env::OUTPUT_PREFIX).unwrap_or_default(),
            table_name: required(env::TABLE_NAME)?,
            state_machine_arn: get(env::STATE_MACHINE_ARN),
            settle_secs: parse(env::SETTLE_SECONDS, get(env::SETTLE_SECONDS), 600)?,
            max_gap: parse(env::MAX_GAP, get(env::MAX_GAP), MaxGap::default())?,
            target_file_size: parse_bytes(
                env::TARGET_FILE_SIZE,
                get(env::TARGET_FILE_SIZE),
                defaults.merge.target_file_size,
            )?,
            group_bytes: get(env::GROUP_BYTES)
                .map(|v| parse_bytes(env::GROUP_BYTES, Some(v), 0))
                .transpose()?,
            max_attempts: parse(env::MAX_ATTEMPTS, get(env::MAX_ATTEMPTS), 3)?,
            formats: get(env::FORMATS)
                .map(|value| {
                    serde_json::from_str(&value).map_err(|e| ConfigError::Invalid {
                        name: env::FORMATS,
                        reason: e.to_string(),
                        value,
                    })
                })
                .transpose()?
                .unwrap_or_default(),
            window_from: parse(env::WINDOW_FROM, get(env::WINDOW_FROM), WindowFrom::Key)?,
            rollup: parse(env::ROLLUP, get(env::ROLLUP), Rollup::None)?,
            failpoints: Failpoints::default(),
        })
    }

    /// The state machine ARN, required by the scheduler and redrive.
    pub fn require_state_machine(&self) -> Result<&str, ConfigError> {
        self.state_machine_arn
            .as_deref()
            .ok_or(ConfigError::Missing(env::STATE_MACHINE_ARN))
    }

    /// The raw and output buckets, required by the step functions.
    pub fn require_buckets(&self) -> Result<(&str, &str), ConfigError> {
        let raw = self.raw_bucket.as_deref();
        let output = self.output_bucket.as_deref();
        let raw = raw.ok_or(ConfigError::Missing(env::RAW_BUCKET));
        let output = output.ok_or(ConfigError::Missing(env::OUTPUT_BUCKET));
        raw.and_then(|raw| Ok((raw, output?)))
    }

    /// The pipeline settings these variables select.
    pub fn pipeline_config(&self) -> pipeline::Config {
        let mut config = pipeline::Config::default();
        config.merge.max_gap = self.max_gap;
        config.merge.target_file_size = self.target_file_size;
        config.merge.formats = self.formats.clone();
        config.rollup = self.rollup;
        if let Some(bytes) = self.group_bytes {
            config.group_bytes = bytes;
        }
        config
    }
}

/// Cold-start failures are logged in words; the runtime only prints `Debug`.
pub(crate) fn log_config_error(error: &ConfigError) {
    tracing::error!(error = %error, "invalid configuration");
}

/// [`parse`] of a byte count, which must be at least 1.
fn parse_bytes(
    name: &'static str,
    value: Option<String>,
    default: u64,
) -> Result<u64, ConfigError> {
    match parse(name, value.clone(), default)? {
        0 => Err(ConfigError::Invalid {
            name,
            value: value.unwrap_or_default(),
            reason: "must be at least 1 byte".to_owned(),
        }),
        bytes => Ok(bytes),
    }
}

fn parse<T>(name: &'static str, value: Option<String>, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match value {
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

/// Builds the pipeline context (S3 input and output stores, DynamoDB ledger)
/// from one shared AWS SDK configuration. Call once, at cold start; fails if
/// a bucket is not configured.
pub fn build_context(
    sdk: &aws_config::SdkConfig,
    config: &ServiceConfig,
) -> Result<pipeline::Context, ConfigError> {
    let (raw_bucket, output_bucket) = config.require_buckets()?;
    let s3 = store::s3_client(sdk);
    Ok(pipeline::Context {
        input: Arc::new(store::S3Store::new(
            s3.clone(),
            raw_bucket,
            &config.raw_prefix,
        )),
        output: Arc::new(store::S3Store::new(
            s3,
            output_bucket,
            &config.output_prefix,
        )),
        ledger: build_ledger(sdk, config),
        config: config.pipeline_config(),
        failpoints: config.failpoints.clone(),
        clock: pipeline::now,
    })
}

/// Where ingest reads Firehose objects with `WINDOW_FROM=start` (`None` for
/// `key`); fails if the raw bucket is not configured.
pub fn build_start_split(
    sdk: &aws_config::SdkConfig,
    config: &ServiceConfig,
) -> Result<Option<StartSplit>, ConfigError> {
    if config.window_from == WindowFrom::Key {
        return Ok(None);
    }
    let raw_bucket = config
        .raw_bucket
        .as_deref()
        .ok_or(ConfigError::Missing(env::RAW_BUCKET))?;
    Ok(Some(StartSplit {
        raw: Arc::new(store::S3Store::new(
            store::s3_client(sdk),
            raw_bucket,
            &config.raw_prefix,
        )),
        formats: config.formats.clone(),
    }))
}

/// The DynamoDB ledger named by `TABLE_NAME`.
pub fn build_ledger(sdk: &aws_config::SdkConfig, config: &ServiceConfig) -> Arc<dyn Ledger> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    Arc::new(ledger::DynamoLedger::new(dynamo, &config.table_name))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const MINIMAL: &[(&str, &str)] = &[("TABLE_NAME", "ledger")];

    #[test]
    fn defaults_apply_when_only_required_variables_are_set() {
        let config = ServiceConfig::from_lookup(lookup(MINIMAL)).unwrap();
        assert_eq!(config.raw_prefix, "");
        assert_eq!(
            config.require_buckets(),
            Err(ConfigError::Missing("RAW_BUCKET"))
        );
        assert_eq!(config.settle_secs, 600);
        assert_eq!(config.max_gap, MaxGap::Seconds(60));
        assert_eq!(config.target_file_size, 268_435_456);
        assert_eq!(config.group_bytes, None);
        assert_eq!(config.max_attempts, 3);
        assert_eq!(config.window_from, WindowFrom::Key);
        assert_eq!(config.rollup, Rollup::None);
        assert_eq!(config.pipeline_config(), pipeline::Config::default());
        assert_eq!(
            config.require_state_machine(),
            Err(ConfigError::Missing("STATE_MACHINE_ARN"))
        );
    }

    #[test]
    fn overrides_reach_the_pipeline_config() {
        let mut pairs = MINIMAL.to_vec();
        pairs.extend([
            ("RAW_BUCKET", "raw"),
            ("OUTPUT_BUCKET", "out"),
            ("RAW_PREFIX", "/logs/"),
            ("MAX_GAP", "window"),
            ("TARGET_FILE_SIZE", "1000"),
            ("GROUP_BYTES", "2000"),
            ("SETTLE_SECONDS", "30"),
            ("WINDOW_FROM", "start"),
            ("ROLLUP", "hour"),
            (
                "FORMATS",
                r#"{"rules": [{"prefix": "firehose/", "format": "${start} ${end}"}]}"#,
            ),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:eu-west-1:1:stateMachine:w",
            ),
        ]);
        let config = ServiceConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(config.raw_prefix, "logs");
        assert_eq!(config.settle_secs, 30);
        assert_eq!(config.window_from, WindowFrom::Start);
        let pipeline = config.pipeline_config();
        assert_eq!(pipeline.merge.max_gap, MaxGap::Window);
        assert_eq!(pipeline.merge.target_file_size, 1000);
        assert_eq!(pipeline.group_bytes, 2000);
        assert_eq!(pipeline.rollup, Rollup::Hour);
        assert_eq!(
            pipeline.merge.formats.for_key("firehose/x").names(),
            ["start", "end"]
        );
        assert!(config.require_state_machine().is_ok());
        assert_eq!(config.require_buckets(), Ok(("raw", "out")));
    }

    #[test]
    fn errors_name_the_variable() {
        let err = ServiceConfig::from_lookup(lookup(&[("RAW_BUCKET", "raw")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
        assert!(err.to_string().contains("TABLE_NAME"));

        let mut pairs = MINIMAL.to_vec();
        pairs.push(("SETTLE_SECONDS", "ten"));
        let err = ServiceConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name: "SETTLE_SECONDS", value, .. } if value == "ten"),
            "{err}"
        );

        for name in ["TARGET_FILE_SIZE", "GROUP_BYTES"] {
            let mut pairs = MINIMAL.to_vec();
            pairs.push((name, "0"));
            let err = ServiceConfig::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(err.to_string().contains("at least 1 byte"), "{err}");
            assert!(matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name));
        }

        let mut pairs = MINIMAL.to_vec();
        pairs.push(("ROLLUP", "day"));
        let err = ServiceConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(
            err.to_string().contains("expected `none` or `hour`"),
            "{err}"
        );

        let mut pairs = MINIMAL.to_vec();
        pairs.push(("WINDOW_FROM", "record"));
        let err = ServiceConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(
            err.to_string().contains("expected `key` or `start`"),
            "{err}"
        );

        let mut pairs = MINIMAL.to_vec();
        pairs.push(("FORMATS", r#"{"default": "${version} ${srcadr}"}"#));
        let err = ServiceConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::Invalid {
                    name: "FORMATS",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("${srcadr} is not a flow log field"),
            "{err}"
        );
    }
}
