//! Fault injection for crash and retry tests. Binaries load the active
//! failpoints once from `FLOWMERGE_FAILPOINTS` (`name=action` pairs separated
//! by commas; an hour's run has the points of a minute's with an `hour.`
//! prefix); tests build them directly. Actions: `abort` (the process dies on
//! the spot, like a killed Lambda or CLI), `error` (the step fails with a
//! retryable error) and `error-once` (only the first hit in this process
//! fails: a transient fault). Empty in production.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::PipelineError;

/// Environment variable naming the active failpoints.
pub const ENV: &str = "FLOWMERGE_FAILPOINTS";

/// What happens at an active failpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Abort the process.
    Abort,
    /// Fail the step with [`PipelineError::Injected`].
    Error,
    /// Fail the first hit only.
    ErrorOnce,
}

/// The active failpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoints(Vec<Point>);

#[derive(Debug, Clone)]
struct Point {
    name: String,
    action: Action,
    /// Shared by clones, so "once" holds for the whole process.
    hit: Arc<AtomicBool>,
}

/// Two failpoints are the same if they name the same point and action.
impl PartialEq for Point {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.action) == (&other.name, other.action)
    }
}

impl Eq for Point {}

impl Failpoints {
    /// Parses `name=abort,other=error`; unknown actions are ignored.
    pub fn parse(spec: &str) -> Self {
        Failpoints(
            spec.split(',')
                .filter_map(|entry| {
                    let (name, action) = entry.trim().split_once('=')?;
                    let action = match action {
                        "abort" => Action::Abort,
                        "error" => Action::Error,
                        "error-once" => Action::ErrorOnce,
                        _ => return None,
                    };
                    Some(Point {
                        name: name.to_owned(),
                        action,
                        hit: Arc::default(),
                    })
                })
                .collect(),
        )
    }

    /// Reads [`ENV`].
    pub fn from_env() -> Self {
        std::env::var(ENV).map_or_else(|_| Failpoints::default(), |spec| Failpoints::parse(&spec))
    }

    /// [`Failpoints::hit`] at a step of a run of `window`: the point is
    /// `name` in a minute's run and `hour.{name}` in an hour's, so a test
    /// can stop either tier.
    pub fn hit_in(&self, window: flowlog::Window, name: &str) -> Result<(), PipelineError> {
        if window.is_hour() {
            self.hit(&format!("hour.{name}"))
        } else {
            self.hit(name)
        }
    }

    /// Triggers failpoint `name` if it is active.
    pub fn hit(&self, name: &str) -> Result<(), PipelineError> {
        let Some(point) = self.0.iter().find(|point| point.name == name) else {
            return Ok(());
        };
        let first = !point.hit.swap(true, Ordering::Relaxed);
        match point.action {
            Action::Error => Err(PipelineError::Injected(name.to_owned())),
            Action::ErrorOnce if first => Err(PipelineError::Injected(name.to_owned())),
            Action::ErrorOnce => Ok(()),
            Action::Abort => {
                tracing::error!(failpoint = name, "aborting at failpoint");
                std::process::abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_triggers() {
        let points = Failpoints::parse("a=error, b=abort,c=bogus,d=error-once");
        assert!(points.hit("a").is_err());
        assert!(points.hit("a").is_err());
        assert!(points.hit("c").is_ok());
        assert!(points.hit("zzz").is_ok());
        assert_eq!(points.0.len(), 3);
        // Clones share the "once": a Lambda clones its context per invocation.
        assert!(points.clone().hit("d").is_err());
        assert!(points.hit("d").is_ok());
    }
}
