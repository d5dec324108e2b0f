//! Errors of ledger operations, shared by every [`Ledger`](crate::Ledger) backend.
//!
//! Callers mostly need one question answered: did another run get there first
//! ([`LedgerError::is_conflict`])? A conflict is an expected outcome of racing
//! runs, not a fault; everything else is.

use std::fmt;

/// Boxed source error of a failing backend call (SQLite, I/O, DynamoDB, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The window has never had a file recorded under it.
    #[error("window {window} is not in the ledger")]
    NotFound {
        /// The window asked for.
        window: String,
    },
    /// A conditional transition was refused: the window was not in the state
    /// or at the version the caller expected (usually: another run won).
    #[error("ledger conflict on window {window}: {reason}")]
    Conflict {
        /// The window whose transition was refused.
        window: String,
        /// What was expected and what was found, for humans.
        reason: String,
    },
    /// The storage backend failed (I/O, locking, SQL, network).
    ///
    /// The source is boxed so that every backend reports through the same
    /// variant: a `rusqlite::Error`, an I/O error, or a
    /// [`DynamoError`](crate::DynamoError) carrying the SDK's error context.
    #[error("ledger backend failed to {op}")]
    Backend {
        /// The operation that failed, e.g. `"claim window"`.
        op: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },
    /// Stored data could not be decoded (unknown state, bad JSON, negative count).
    #[error("ledger holds undecodable data: {what}")]
    Corrupt {
        /// What could not be decoded, and where.
        what: String,
    },
}

impl LedgerError {
    /// Wraps a backend error with the operation it interrupted.
    pub fn backend(op: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            op,
            source: source.into(),
        }
    }

    /// True when a conditional transition was refused (another run holds or
    /// has moved on from the window). Such errors are not worth retrying as is.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// True when the window does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// True when the backend failed transiently (DynamoDB throttling,
    /// server errors, timeouts, lost connections; SQLite busy or locked past
    /// its timeout): the same call may well succeed later. Conflicts, missing
    /// windows and corrupt data are not retryable.
    pub fn is_retryable(&self) -> bool {
        let Self::Backend { source, .. } = self else {
            return false;
        };
        if let Some(dynamo) = source.downcast_ref::<crate::DynamoError>() {
            return dynamo.is_retryable();
        }
        matches!(
            source.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// A string that names no [`WindowState`](crate::WindowState).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWindowStateError {
    /// The text that failed to parse.
    pub text: String,
}

impl fmt::Display for ParseWindowStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown window state {:?} (expected open, running, committed, dirty or failed)",
            self.text
        )
    }
}

impl std::error::Error for ParseWindowStateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_errors() {
        let conflict = LedgerError::Conflict {
            window: "2026-11-22T13:05Z".into(),
            reason: "expected version 1, found version 2".into(),
        };
        assert!(conflict.is_conflict());
        assert!(!conflict.is_not_found());
        assert_eq!(
            conflict.to_string(),
            "ledger conflict on window 2026-11-22T13:05Z: expected version 1, found version 2"
        );

        let missing = LedgerError::NotFound {
            window: "2026-11-22T13:05Z".into(),
        };
        assert!(missing.is_not_found());
        assert!(!missing.is_conflict());

        let io = std::io::Error::other("disk on fire");
        let backend = LedgerError::backend("open ledger", io);
        assert!(!backend.is_conflict());
        let source = std::error::Error::source(&backend).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
        assert!(!backend.is_retryable());
        assert!(!conflict.is_retryable());

        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(LedgerError::backend("claim a window", busy).is_retryable());
    }
}
