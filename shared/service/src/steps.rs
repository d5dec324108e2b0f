//! The three step Lambdas as thin adapters over the pipeline functions. A
//! failure becomes a [`StepError`] whose `errorType` is the pipeline's stable
//! name (`Retryable`, `InvalidInput`, `Conflict`, `Incomplete`, `Internal`),
//! which the state machine's `Retry` and `Catch` match on.

use lambda_runtime::Diagnostic;
use pipeline::{
    CombineRequest, CombineResponse, Context, ListBatchRequest, ListBatchResponse,
    PartialMergeRequest, PartialMergeResponse, PipelineError,
};

/// A failed step as Lambda reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct StepError {
    /// Stable name, one of [`pipeline::error_type`].
    pub error_type: &'static str,
    /// What went wrong, for humans.
    pub message: String,
}

impl From<PipelineError> for StepError {
    /// The message carries the whole cause chain ("ledger: ... : connection
    /// refused"): it is all the execution history shows of the failure.
    fn from(error: PipelineError) -> Self {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message = format!("{message}: {text}");
            }
            source = cause.source();
        }
        StepError {
            error_type: error.error_type(),
            message,
        }
    }
}

/// lambda_runtime names errors by their Rust type unless told otherwise;
/// this sets `errorType` to the stable name instead.
impl From<StepError> for Diagnostic {
    fn from(error: StepError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type.to_owned(),
            error_message: error.message,
        }
    }
}

fn logged(error: PipelineError) -> StepError {
    let error = StepError::from(error);
    tracing::error!(error_type = error.error_type, message = %error.message, "step failed");
    error
}

/// The `list-batch` Lambda.
pub async fn list_batch(
    ctx: &Context,
    request: ListBatchRequest,
) -> Result<ListBatchResponse, StepError> {
    pipeline::list_batch(ctx, &request).await.map_err(logged)
}

/// The `partial-merge` Lambda.
pub async fn partial_merge(
    ctx: &Context,
    request: PartialMergeRequest,
) -> Result<PartialMergeResponse, StepError> {
    pipeline::partial_merge(ctx, &request).await.map_err(logged)
}

/// The `combine-commit` Lambda.
pub async fn combine_commit(
    ctx: &Context,
    request: CombineRequest,
) -> Result<CombineResponse, StepError> {
    let response = pipeline::combine_commit(ctx, &request)
        .await
        .map_err(logged)?;
    control::metrics::publish(&control::metrics::committed(&response));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use flowlog::Window;
    use pipeline::error_type;

    use super::*;

    #[test]
    fn every_error_kind_reaches_lambda_with_its_stable_name() {
        let window: Window = "2026-11-22T13:05Z".parse().unwrap();
        let cases = [
            (
                PipelineError::Store(store::StoreError::NotFound { key: "k".into() }),
                error_type::INCOMPLETE,
            ),
            (
                PipelineError::Ledger(ledger::LedgerError::Conflict {
                    window: "w".into(),
                    reason: "r".into(),
                }),
                error_type::CONFLICT,
            ),
            (
                PipelineError::Ledger(ledger::LedgerError::NotFound { window: "w".into() }),
                error_type::INVALID_INPUT,
            ),
            (
                PipelineError::Decode {
                    what: "manifest",
                    key: "k".into(),
                    message: "m".into(),
                },
                error_type::INVALID_INPUT,
            ),
            (
                PipelineError::InvalidRequest("x".into()),
                error_type::INVALID_INPUT,
            ),
            (
                PipelineError::Incomplete {
                    window,
                    what: "partial",
                    key: "k".into(),
                },
                error_type::INCOMPLETE,
            ),
            (
                PipelineError::Conservation {
                    window,
                    detail: "d".into(),
                },
                error_type::INTERNAL,
            ),
            (PipelineError::Injected("p".into()), error_type::RETRYABLE),
        ];
        for (error, expected) in cases {
            let text = error.to_string();
            let diagnostic = Diagnostic::from(StepError::from(error));
            assert_eq!(diagnostic.error_type, expected, "{text}");
            assert!(diagnostic.error_message.starts_with(&text), "{text}");
            // What the Runtime API receives, and what `ErrorEquals` compares.
            let json = serde_json::to_value(&diagnostic).unwrap();
            assert_eq!(json["errorType"], expected);
        }
    }

    #[test]
    fn the_message_carries_the_cause_chain() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let error = PipelineError::Ledger(ledger::LedgerError::backend("claim window", refused));
        let message = StepError::from(error).message;
        assert!(message.ends_with(": connection refused"), "{message}");
        assert_eq!(
            message.matches("connection refused").count(),
            1,
            "{message}"
        );
    }

    #[test]
    fn stable_names_are_the_ones_the_state_machine_matches() {
        assert_eq!(
            [
                error_type::RETRYABLE,
                error_type::INVALID_INPUT,
                error_type::CONFLICT,
                error_type::INCOMPLETE,
                error_type::INTERNAL,
            ],
            [
                "Retryable",
                "InvalidInput",
                "Conflict",
                "Incomplete",
                "Internal"
            ]
        );
    }
}
