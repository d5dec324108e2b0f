//! Fault injection for crash and retry tests. Binaries load the active
//! failpoints once from `FLOWMERGE_FAILPOINTS` (`name=action` pairs separated
//! by commas); tests build them directly. Actions: `abort` (the process dies on
//! the spot, like a killed Lambda or CLI) and `error` (the step fails with a
//! retryable error). Empty in production.

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
}

/// The active failpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoints(Vec<(String, Action)>);

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
                        _ => return None,
                    };
                    Some((name.to_owned(), action))
                })
                .collect(),
        )
    }

    /// Reads [`ENV`].
    pub fn from_env() -> Self {
        std::env::var(ENV).map_or_else(|_| Failpoints::default(), |spec| Failpoints::parse(&spec))
    }

    /// Triggers failpoint `name` if it is active.
    pub fn hit(&self, name: &str) -> Result<(), PipelineError> {
        match self.0.iter().find(|(point, _)| point == name) {
            None => Ok(()),
            Some((_, Action::Error)) => Err(PipelineError::Injected(name.to_owned())),
            Some((_, Action::Abort)) => {
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
        let points = Failpoints::parse("a=error, b=abort,c=bogus");
        assert!(points.hit("a").is_err());
        assert!(points.hit("c").is_ok());
        assert!(points.hit("zzz").is_ok());
        assert_eq!(points.0.len(), 2);
    }
}
