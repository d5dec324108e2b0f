//! Errors of the pipeline steps and their stable `error_type` names, which the
//! state machine's `Retry` and `Catch` match on.

use flowlog::Window;

/// Stable error type names (also the Lambda `errorType`).
pub mod error_type {
    /// Transient: retry the step.
    pub const RETRYABLE: &str = "Retryable";
    /// The request or its manifest is wrong: retrying cannot help.
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// Another run owns the window (ledger condition failed).
    pub const CONFLICT: &str = "Conflict";
    /// A step found an earlier step's output missing.
    pub const INCOMPLETE: &str = "Incomplete";
    /// An invariant broke (e.g. conservation): a bug, never retried.
    pub const INTERNAL: &str = "Internal";
}

/// A failed step.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Reading or writing an object failed.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// The ledger refused or failed.
    #[error("ledger: {0}")]
    Ledger(#[from] ledger::LedgerError),
    /// A manifest or staging object is not what this version writes.
    #[error("{what} {key}: {message}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Its key.
        key: String,
        /// Why it failed.
        message: String,
    },
    /// The request names something that does not exist.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An earlier step's output is missing.
    #[error("window {window}: {what} missing ({key})")]
    Incomplete {
        /// The window.
        window: Window,
        /// What is missing.
        what: &'static str,
        /// Its key.
        key: String,
    },
    /// Input and output totals differ: nothing is committed.
    #[error("window {window}: conservation check failed: {detail}")]
    Conservation {
        /// The window.
        window: Window,
        /// First difference found.
        detail: String,
    },
    /// Writing Parquet failed.
    #[error("writing Parquet: {0}")]
    Write(#[from] columnar::WriteError),
    /// A blocking task died.
    #[error("worker task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// A failure injected through `FLOWMERGE_FAILPOINTS`.
    #[error("injected failure at {0}")]
    Injected(String),
}

impl PipelineError {
    /// The stable name the state machine matches on.
    pub fn error_type(&self) -> &'static str {
        use error_type::*;
        match self {
            PipelineError::Store(e) if e.is_retryable() => RETRYABLE,
            PipelineError::Store(store::StoreError::NotFound { .. }) => INCOMPLETE,
            PipelineError::Store(_) => RETRYABLE,
            PipelineError::Ledger(e) if e.is_conflict() => CONFLICT,
            PipelineError::Ledger(ledger::LedgerError::NotFound { .. }) => INVALID_INPUT,
            PipelineError::Ledger(e) if e.is_retryable() => RETRYABLE,
            // Undecodable ledger data or an unexpected backend error: retrying cannot help.
            PipelineError::Ledger(_) => INTERNAL,
            PipelineError::Decode { .. } | PipelineError::InvalidRequest(_) => INVALID_INPUT,
            PipelineError::Incomplete { .. } => INCOMPLETE,
            PipelineError::Conservation { .. } | PipelineError::Write(_) => INTERNAL,
            PipelineError::Join(_) | PipelineError::Injected(_) => RETRYABLE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_stable() {
        let w: Window = "2026-11-22T13:05Z".parse().unwrap();
        let cases = [
            (PipelineError::InvalidRequest("x".into()), "InvalidInput"),
            (
                PipelineError::Incomplete {
                    window: w,
                    what: "partial",
                    key: "k".into(),
                },
                "Incomplete",
            ),
            (
                PipelineError::Conservation {
                    window: w,
                    detail: "d".into(),
                },
                "Internal",
            ),
            (PipelineError::Injected("p".into()), "Retryable"),
            (
                PipelineError::Ledger(ledger::LedgerError::Conflict {
                    window: "w".into(),
                    reason: "r".into(),
                }),
                "Conflict",
            ),
            (
                PipelineError::Store(store::StoreError::NotFound { key: "k".into() }),
                "Incomplete",
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.error_type(), expected, "{error}");
        }
    }
}
