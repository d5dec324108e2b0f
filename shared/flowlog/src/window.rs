//! UTC windows, the unit of merging, output and exactly-once commits: one
//! minute (the delivery stamp of input files), or one hour (the rollup tier
//! that merges an hour's minute outputs).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// How long a window lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Span {
    /// One minute: `2026-11-22T13:05Z`, stamp `20261122T1305Z`.
    Minute,
    /// One hour: `2026-11-22T13Z`, stamp `20261122T13Z`.
    Hour,
}

impl Span {
    /// Length in seconds.
    pub const fn secs(self) -> i64 {
        match self {
            Span::Minute => 60,
            Span::Hour => 3600,
        }
    }
}

/// A UTC minute or hour, identified by its start. A minute displays and
/// parses as `2026-11-22T13:05Z` and also parses the `20261122T1305Z` stamp
/// of file names; an hour is `2026-11-22T13Z` (stamp `20261122T13Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    start: i64,
    span: Span,
}

/// A string that is not a window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a window: {0:?} (expected a minute such as 2026-11-22T13:05Z or 20261122T1305Z, or an hour such as 2026-11-22T13Z)"
)]
pub struct BadWindow(pub String);

impl Window {
    /// The minute containing a unix time (seconds).
    pub fn containing(unix_secs: i64) -> Window {
        Window {
            start: unix_secs.div_euclid(60) * 60,
            span: Span::Minute,
        }
    }

    /// The hour this window lies in (itself for an hour).
    pub fn hour(&self) -> Window {
        Window {
            start: self.start.div_euclid(3600) * 3600,
            span: Span::Hour,
        }
    }

    /// The minutes of this window, in order (itself for a minute).
    pub fn minutes(&self) -> impl Iterator<Item = Window> + use<> {
        let start = self.start;
        (0..self.span.secs() / 60).map(move |m| Window::containing(start + m * 60))
    }

    /// Minute or hour.
    pub fn span(&self) -> Span {
        self.span
    }

    /// Whether this is an hour.
    pub fn is_hour(&self) -> bool {
        self.span == Span::Hour
    }

    /// Window start, unix seconds.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// Window end (exclusive), unix seconds.
    pub fn end(&self) -> i64 {
        self.start + self.span.secs()
    }

    /// The start as a UTC date-time.
    pub fn datetime(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.start, 0).unwrap_or_default()
    }

    /// The compact stamp used in file names: `20261122T1305Z`, or
    /// `20261122T13Z` for an hour.
    pub fn stamp(&self) -> String {
        let format = match self.span {
            Span::Minute => "%Y%m%dT%H%MZ",
            Span::Hour => "%Y%m%dT%HZ",
        };
        self.datetime().format(format).to_string()
    }

    /// Parses the compact `YYYYMMDDTHHmmZ` stamp of delivery file names (a
    /// minute; see [`Window::from_str`] for hours).
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
        Some(Window::containing(time.and_utc().timestamp()))
    }

    /// Parses an hour's stamp, `YYYYMMDDTHHZ`.
    fn from_hour_stamp(stamp: &str) -> Option<Window> {
        let minute = format!("{}00Z", stamp.strip_suffix('Z')?);
        (stamp.len() == 12)
            .then(|| Window::from_stamp(&minute))
            .flatten()
            .map(|w| w.hour())
    }

    /// Calendar fields `(year, month, day, hour, minute)` for partition templates.
    pub fn parts(&self) -> (i32, u32, u32, u32, u32) {
        let t = self.datetime();
        (t.year(), t.month(), t.day(), t.hour(), t.minute())
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match self.span {
            Span::Minute => "%Y-%m-%dT%H:%MZ",
            Span::Hour => "%Y-%m-%dT%HZ",
        };
        write!(f, "{}", self.datetime().format(format))
    }
}

impl FromStr for Window {
    type Err = BadWindow;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(window) = Window::from_stamp(s).or_else(|| Window::from_hour_stamp(s)) {
            return Ok(window);
        }
        let minute = |text: &str| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%MZ")
                .ok()
                .map(|t| Window::containing(t.and_utc().timestamp()))
        };
        let hour = || {
            let text = format!("{}:00Z", s.strip_suffix('Z')?);
            (s.len() == 14).then(|| minute(&text)).flatten()
        };
        minute(s)
            .or_else(|| hour().map(|w| w.hour()))
            .ok_or_else(|| BadWindow(s.to_owned()))
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
    fn hours_display_parse_and_hold_their_minutes() {
        let minute: Window = "2026-11-22T13:05Z".parse().unwrap();
        let hour = minute.hour();
        assert_eq!(hour.to_string(), "2026-11-22T13Z");
        assert_eq!(hour.stamp(), "20261122T13Z");
        assert_eq!("2026-11-22T13Z".parse::<Window>().unwrap(), hour);
        assert_eq!("20261122T13Z".parse::<Window>().unwrap(), hour);
        assert!(hour.is_hour() && !minute.is_hour());
        assert_eq!(hour.end() - hour.start(), 3600);
        assert_eq!(hour.hour(), hour);
        let minutes: Vec<Window> = hour.minutes().collect();
        assert_eq!(minutes.len(), 60);
        assert_eq!(minutes[5], minute);
        assert!(minutes.iter().all(|m| m.hour() == hour));
        assert_eq!(minute.minutes().collect::<Vec<_>>(), vec![minute]);
        // Delivery keys carry minutes only.
        assert_eq!(Window::from_stamp("20261122T13Z"), None);
        for bad in [
            "2026-11-22T25Z",
            "2026-11-22T1Z",
            "20261122T1Z",
            "2026-11-22Z",
        ] {
            assert!(bad.parse::<Window>().is_err(), "{bad}");
        }
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
