//! [`DynamoError`]: a failed DynamoDB call, as the source of
//! [`LedgerError::Backend`], and the conversions from the SDK's errors.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::LedgerError;

/// Error codes DynamoDB uses for conditions that pass with time.
const TRANSIENT_CODES: [&str; 8] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// A DynamoDB call that failed, with the SDK's full error context.
///
/// Found as the source of [`LedgerError::Backend`]; callers usually only ask
/// [`LedgerError::is_retryable`].
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {call} on table {table} failed: {detail}")]
pub struct DynamoError {
    call: &'static str,
    table: String,
    code: Option<String>,
    detail: String,
    retryable: bool,
}

impl DynamoError {
    /// Wraps an SDK error of `call` (e.g. `"UpdateItem"`) on `table`.
    pub(crate) fn sdk<E, R>(call: &'static str, table: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().map(str::to_owned);
        let retryable = match &err {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => code
                .as_deref()
                .is_some_and(|c| TRANSIENT_CODES.contains(&c)),
            _ => false,
        };
        Self {
            call,
            table: table.to_owned(),
            code,
            detail: DisplayErrorContext(&err).to_string(),
            retryable,
        }
    }

    /// An error of this crate's own making around a call (e.g. a retry budget
    /// spent on contention).
    pub(crate) fn other(
        call: &'static str,
        table: &str,
        detail: impl Into<String>,
        retryable: bool,
    ) -> Self {
        Self {
            call,
            table: table.to_owned(),
            code: None,
            detail: detail.into(),
            retryable,
        }
    }

    /// Turns this into the ledger error of operation `op`.
    pub(crate) fn during(self, op: &'static str) -> LedgerError {
        LedgerError::backend(op, self)
    }

    /// The DynamoDB API call, e.g. `"TransactWriteItems"`.
    pub fn call(&self) -> &'static str {
        self.call
    }

    /// DynamoDB's error code, e.g. `"ThrottlingException"`, when it sent one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// True for throttling, server-side errors, timeouts and lost
    /// connections: the same call may well succeed later.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// A request that could not be built (a required field left unset): a bug
/// here, reported as a backend failure of `op` rather than a panic.
pub(crate) fn build_error(
    op: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> LedgerError {
    move |err| LedgerError::backend(op, err)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    use super::*;

    fn service_error(code: &str) -> SdkError<GetItemError, ()> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("something")
            .build();
        SdkError::service_error(GetItemError::generic(meta), ())
    }

    #[test]
    fn throttling_is_retryable_validation_is_not() {
        let throttled = DynamoError::sdk("GetItem", "t", service_error("ThrottlingException"));
        assert!(throttled.is_retryable());
        assert_eq!(throttled.code(), Some("ThrottlingException"));
        let invalid = DynamoError::sdk("GetItem", "t", service_error("ValidationException"));
        assert!(!invalid.is_retryable());
        let text = invalid.to_string();
        assert!(
            text.starts_with("DynamoDB GetItem on table t failed: "),
            "{text}"
        );
        assert!(text.contains("ValidationException"), "{text}");

        let err = invalid.during("read a window");
        assert!(!err.is_retryable());
        assert!(throttled.during("read a window").is_retryable());
    }
}
