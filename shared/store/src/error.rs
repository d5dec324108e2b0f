//! `StoreError`: what went wrong, on which key, in which operation or API call,
//! and whether trying again could help.

use std::fmt;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Errors from any [`BlobStore`](crate::BlobStore) implementation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("object not found: {key}")]
    NotFound {
        /// Key relative to the store root.
        key: String,
    },

    /// A local file-system operation failed.
    #[error("{op} {key}: {source}")]
    Io {
        /// What we were doing (`"read"`, `"rename"`, ...).
        op: &'static str,
        /// Key (or path) the operation was about.
        key: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An S3 API call failed.
    #[error("S3 {op} {key}: {message}")]
    S3 {
        /// The API call (`"GetObject"`, `"UploadPart"`, ...).
        op: &'static str,
        /// Key relative to the store root.
        key: String,
        /// The SDK error rendered with its full context.
        message: String,
        /// Throttling, 5xx, timeouts and dispatch failures: worth retrying.
        retryable: bool,
    },

    /// `DeleteObjects` reported failures for some keys (the others were deleted).
    #[error("S3 DeleteObjects failed for {} key(s): {}", failures.len(), FirstFailures(failures))]
    DeleteFailed {
        /// One entry per key S3 could not delete.
        failures: Vec<KeyFailure>,
    },

    /// A key that cannot name an object (empty, absolute, `..` components, ...).
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A location string that is neither a usable path nor `s3://bucket[/prefix]`.
    #[error("invalid location: {0}")]
    InvalidLocation(String),
}

/// One key that a batch delete could not remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFailure {
    /// Key relative to the store root.
    pub key: String,
    /// S3 error code, e.g. `AccessDenied` or `SlowDown`.
    pub code: Option<String>,
    /// S3 error message.
    pub message: Option<String>,
}

impl StoreError {
    /// True when the same call might succeed if tried again: S3 throttling, 5xx,
    /// timeouts and dispatch failures, or a local I/O timeout/interruption.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::S3 { retryable, .. } => *retryable,
            Self::DeleteFailed { failures } => failures
                .iter()
                .any(|f| f.code.as_deref().is_some_and(is_retryable_code)),
            Self::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
            ),
            Self::NotFound { .. } | Self::InvalidKey { .. } | Self::InvalidLocation(_) => false,
        }
    }

    /// Builds a [`StoreError::Io`].
    pub(crate) fn io(op: &'static str, key: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            key: key.into(),
            source,
        }
    }

    /// Maps an SDK error: "no such key" becomes [`StoreError::NotFound`],
    /// anything else [`StoreError::S3`] with its retryability worked out.
    pub(crate) fn from_sdk<E>(op: &'static str, key: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.as_service_error().and_then(|e| e.code());
        let retryable = match &err {
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            SdkError::DispatchFailure(d) => !d.is_user(),
            SdkError::ServiceError(_) => {
                status.is_some_and(|s| s >= 500 || s == 429) || code.is_some_and(is_retryable_code)
            }
            _ => false,
        };
        // HEAD responses carry no body, so a 404 there has no code at all.
        let not_found = match code {
            Some(c) => matches!(c, "NoSuchKey" | "NotFound"),
            None => status == Some(404),
        };
        if not_found {
            return Self::NotFound {
                key: key.to_owned(),
            };
        }
        Self::S3 {
            op,
            key: key.to_owned(),
            message: DisplayErrorContext(&err).to_string(),
            retryable,
        }
    }
}

/// S3 error codes that mean "slow down or try again".
fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalError"
            | "ServiceUnavailable"
            | "PriorRequestNotComplete"
    )
}

/// Renders the first few failures of a batch delete for the error message.
struct FirstFailures<'a>(&'a [KeyFailure]);

impl fmt::Display for FirstFailures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        for (i, failure) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{} ({}: {})",
                failure.key,
                failure.code.as_deref().unwrap_or("?"),
                failure.message.as_deref().unwrap_or("")
            )?;
        }
        if self.0.len() > SHOWN {
            write!(f, "; and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_failed_is_retryable_only_for_transient_codes() {
        let failure = |code: &str| KeyFailure {
            key: "k".into(),
            code: Some(code.into()),
            message: None,
        };
        let denied = StoreError::DeleteFailed {
            failures: vec![failure("AccessDenied")],
        };
        assert!(!denied.is_retryable());
        let mixed = StoreError::DeleteFailed {
            failures: vec![failure("AccessDenied"), failure("SlowDown")],
        };
        assert!(mixed.is_retryable());
    }

    #[test]
    fn delete_failed_message_is_capped() {
        let failures = (0..8)
            .map(|i| KeyFailure {
                key: format!("k{i}"),
                code: Some("AccessDenied".into()),
                message: Some("no".into()),
            })
            .collect();
        let msg = StoreError::DeleteFailed { failures }.to_string();
        assert!(msg.contains("8 key(s)"), "{msg}");
        assert!(msg.contains("k4 (AccessDenied: no)"), "{msg}");
        assert!(!msg.contains("k5"), "{msg}");
        assert!(msg.ends_with("and 3 more"), "{msg}");
    }

    fn service_error(status: u16, code: Option<&str>) -> StoreError {
        use aws_sdk_s3::error::ErrorMetadata;
        use aws_sdk_s3::operation::get_object::GetObjectError;
        use aws_sdk_s3::primitives::SdkBody;
        let mut meta = ErrorMetadata::builder();
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        let err = SdkError::service_error(GetObjectError::generic(meta.build()), raw);
        StoreError::from_sdk("GetObject", "k", err)
    }

    #[test]
    fn sdk_not_found_maps_to_not_found() {
        assert!(
            matches!(service_error(404, Some("NoSuchKey")), StoreError::NotFound { key } if key == "k")
        );
        assert!(matches!(
            service_error(404, None),
            StoreError::NotFound { .. }
        ));
        let bucket = service_error(404, Some("NoSuchBucket"));
        assert!(
            matches!(
                bucket,
                StoreError::S3 {
                    op: "GetObject",
                    retryable: false,
                    ..
                }
            ),
            "{bucket}"
        );
    }

    #[test]
    fn sdk_retryability() {
        assert!(service_error(503, Some("SlowDown")).is_retryable());
        assert!(service_error(500, None).is_retryable());
        assert!(service_error(400, Some("RequestTimeout")).is_retryable());
        assert!(!service_error(403, Some("AccessDenied")).is_retryable());
        let err = StoreError::from_sdk::<aws_sdk_s3::operation::get_object::GetObjectError>(
            "GetObject",
            "k",
            SdkError::timeout_error("slow"),
        );
        assert!(err.is_retryable());
        assert!(err.to_string().starts_with("S3 GetObject k: "), "{err}");
    }

    #[test]
    fn local_errors_are_not_retryable_unless_transient() {
        let err = |kind| StoreError::io("read", "k", std::io::Error::from(kind));
        assert!(!err(std::io::ErrorKind::PermissionDenied).is_retryable());
        assert!(err(std::io::ErrorKind::TimedOut).is_retryable());
        assert!(!StoreError::NotFound { key: "k".into() }.is_retryable());
    }
}
