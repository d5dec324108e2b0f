//! Logging as the Lambda's logging configuration asks: the format from
//! `AWS_LAMBDA_LOG_FORMAT` (`JSON`, the stack's choice and the default, or
//! `Text`) and the level from `AWS_LAMBDA_LOG_LEVEL` (the application log
//! level). `RUST_LOG`, when set, takes precedence with a finer filter
//! (`info,ledger=debug`).

use tracing_subscriber::EnvFilter;

/// The variable Lambda sets from the function's log format.
pub const AWS_LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// The variable Lambda sets from the function's application log level.
pub const AWS_LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";

/// Installs the subscriber. Call first thing in a Lambda's `main`.
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let filter = EnvFilter::try_new(filter(
        var(crate::function::RUST_LOG).as_deref(),
        var(AWS_LAMBDA_LOG_LEVEL).as_deref(),
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter(filter);
    if json(var(AWS_LAMBDA_LOG_FORMAT).as_deref()) {
        logs.json().with_current_span(false).init();
    } else {
        logs.without_time().init();
    }
}

/// The filter: `RUST_LOG` if set, else Lambda's level (its `FATAL` is our
/// `error`), else `info`.
fn filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> String {
    if let Some(filter) = set(rust_log) {
        return filter.to_owned();
    }
    match set(lambda_level).map(str::to_ascii_lowercase).as_deref() {
        Some("fatal") => "error".to_owned(),
        Some(level) => level.to_owned(),
        None => "info".to_owned(),
    }
}

/// A variable's value, if it holds one.
fn set(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// JSON unless Lambda asks for text (Lambda's text format adds its own time
/// and request id, so text lines carry no time of their own).
fn json(format: Option<&str>) -> bool {
    !format.is_some_and(|f| f.trim().eq_ignore_ascii_case("text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_refines_lambdas_level() {
        assert_eq!(filter(None, None), "info");
        assert_eq!(filter(None, Some("DEBUG")), "debug");
        assert_eq!(filter(None, Some("FATAL")), "error");
        assert_eq!(filter(Some(""), Some("WARN")), "warn");
        assert_eq!(
            filter(Some("info,ledger=debug"), Some("WARN")),
            "info,ledger=debug"
        );
        for level in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] {
            assert!(
                EnvFilter::try_new(filter(None, Some(level))).is_ok(),
                "{level}"
            );
        }
    }

    #[test]
    fn logs_are_json_unless_lambda_asks_for_text() {
        assert!(json(None));
        assert!(json(Some("JSON")));
        assert!(!json(Some("Text")));
    }
}
