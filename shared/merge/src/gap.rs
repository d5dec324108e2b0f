//! `max_gap`: how far apart two records of a flow may be and still merge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Contiguity rule for merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MaxGap {
    /// Merge when `next.start <= current.end + seconds`.
    Seconds(i64),
    /// Never merge (output keeps every record, sorted).
    Never,
    /// Merge all records with equal dimensions in the window.
    Window,
}

impl Default for MaxGap {
    fn default() -> Self {
        MaxGap::Seconds(60)
    }
}

/// A string that is not a `max_gap`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid max gap {0:?}: expected seconds (60, 60s, 2m), \"none\" or \"window\"")]
pub struct BadGap(String);

impl FromStr for MaxGap {
    type Err = BadGap;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadGap(s.to_owned());
        match s.trim() {
            "none" => Ok(MaxGap::Never),
            "window" => Ok(MaxGap::Window),
            t => {
                let (digits, unit) = match t.strip_suffix('m') {
                    Some(d) => (d, 60),
                    None => (t.strip_suffix('s').unwrap_or(t), 1),
                };
                let n: i64 = digits.parse().map_err(|_| bad())?;
                (n >= 0)
                    .then_some(MaxGap::Seconds(n * unit))
                    .ok_or_else(bad)
            }
        }
    }
}

impl fmt::Display for MaxGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxGap::Seconds(s) => write!(f, "{s}s"),
            MaxGap::Never => f.write_str("none"),
            MaxGap::Window => f.write_str("window"),
        }
    }
}

impl TryFrom<String> for MaxGap {
    type Error = BadGap;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<MaxGap> for String {
    fn from(g: MaxGap) -> String {
        g.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!("60".parse(), Ok(MaxGap::Seconds(60)));
        assert_eq!("90s".parse(), Ok(MaxGap::Seconds(90)));
        assert_eq!("2m".parse(), Ok(MaxGap::Seconds(120)));
        assert_eq!("none".parse(), Ok(MaxGap::Never));
        assert_eq!("window".parse(), Ok(MaxGap::Window));
        assert!("-1".parse::<MaxGap>().is_err());
        assert!("soon".parse::<MaxGap>().is_err());
        for g in [MaxGap::Seconds(60), MaxGap::Never, MaxGap::Window] {
            assert_eq!(g.to_string().parse(), Ok(g));
        }
    }
}
