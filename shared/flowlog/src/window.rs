//! One-minute UTC windows: the unit of merging, output and exactly-once commits.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// A one-minute UTC window, identified by its start. Displays and parses as
/// `2026-11-22T13:05Z`; also parses the `20261122T1305Z` stamp of file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    start: i64,
}

/// A string that is not a window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a window: {0:?} (expected e.g. 2026-11-22T13:05Z or 20261122T1305Z)")]
pub struct BadWindow(pub String);

impl Window {
    /// The window containing a unix time (seconds).
    pub fn containing(unix_secs: i64) -> Window {
        Window {
            start: unix_secs.div_euclid(60) * 60,
        }
    }

    /// Window start, unix seconds.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// Window end (exclusive), unix seconds.
    pub fn end(&self) -> i64 {
        self.start + 60
    }

    /// The start as a UTC date-time.
    pub fn datetime(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.start, 0).unwrap_or_default()
    }

    /// The compact stamp used in file names: `20261122T1305Z`.
    pub fn stamp(&self) -> String {
        self.datetime().format("%Y%m%dT%H%MZ").to_string()
    }

    /// Parses the compact `YYYYMMDDTHHmmZ` stamp of delivery file names.
    pub fn from_stamp(stamp: &str) -> Option<Window> {
        let b = stamp.as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            b.get(r)?.iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
            return None;
        }
        Self::from_parts(
            i32::try_from(digits(0..4)?).ok()?,
            digits(4..6)?,
            digits(6..8)?,
            digits(9..11)?,
            digits(11..13)?,
        )
    }

    fn from_parts(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> Option<Window> {
        let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
        let time = date.and_hms_opt(hour, minute, 0)?;
        Some(Window {
            start: time.and_utc().timestamp(),
        })
    }

    /// Calendar fields `(year, month, day, hour, minute)` for partition templates.
    pub fn parts(&self) -> (i32, u32, u32, u32, u32) {
        let t = self.datetime();
        (t.year(), t.month(), t.day(), t.hour(), t.minute())
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.datetime().format("%Y-%m-%dT%H:%MZ"))
    }
}

impl FromStr for Window {
    type Err = BadWindow;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(window) = Window::from_stamp(s) {
            return Ok(window);
        }
        let bad = || BadWindow(s.to_owned());
        let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%MZ").map_err(|_| bad())?;
        Ok(Window::containing(t.and_utc().timestamp()))
    }
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip() {
        let w: Window = "2026-11-22T13:05Z".parse().unwrap();
        assert_eq!(w.to_string(), "2026-11-22T13:05Z");
        assert_eq!(w.stamp(), "20261122T1305Z");
        assert_eq!("20261122T1305Z".parse::<Window>().unwrap(), w);
        assert_eq!(w.start() % 60, 0);
        assert_eq!(w.parts(), (2026, 11, 22, 13, 5));
        assert_eq!(Window::containing(w.start() + 59), w);
        assert_eq!(Window::containing(w.end()).start(), w.end());
    }

    #[test]
    fn rejects_malformed_stamps() {
        for bad in [
            "20261322T1305Z",
            "20261122T2505Z",
            "2026112T1305Z",
            "20261122X1305Z",
            "",
            "x",
        ] {
            assert!(Window::from_stamp(bad).is_none(), "{bad}");
            assert!(bad.parse::<Window>().is_err(), "{bad}");
        }
    }
}
