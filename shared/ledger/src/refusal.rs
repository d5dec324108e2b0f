//! Human-readable reasons for refused transitions, shared by every backend so
//! that a [`LedgerError::Conflict`](crate::LedgerError::Conflict) reads the
//! same whether SQLite or DynamoDB refused it.

use crate::{ClaimOptions, WindowRecord, WindowState};

/// Why a claim with `opts` was refused, given the record found instead.
pub(crate) fn claim_refusal(rec: &WindowRecord, opts: &ClaimOptions) -> String {
    if let Some(expected) = opts.expected_version.filter(|v| *v != rec.version) {
        return format!(
            "expected version {expected}, found {} at version {}",
            rec.state, rec.version
        );
    }
    match rec.state {
        WindowState::Running => {
            let since = rec.claimed_at.unwrap_or(0);
            format!(
                "already running at version {} since {since}; a lease of {}s lets it be taken over from {}",
                rec.version,
                opts.lease_secs,
                since.saturating_add(opts.lease_secs)
            )
        }
        WindowState::Committed => format!(
            "already committed at version {}; claim with force to re-run it",
            rec.version
        ),
        state => format!("claim refused in state {state} at version {}", rec.version),
    }
}

/// Why a commit or fail on `version` was refused, given the record found instead.
pub(crate) fn run_refusal(rec: &WindowRecord, version: u64) -> String {
    let hint = if rec.version > version {
        "; a newer claim took the window over"
    } else {
        ""
    };
    format!(
        "expected running at version {version}, found {} at version {}{hint}",
        rec.state, rec.version
    )
}
