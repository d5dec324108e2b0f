//! Record formats of headerless sources. Firehose records and CloudWatch Logs
//! events carry no header line, so their field order is configured, in AWS's
//! own `${field}` syntax (`${version} ${account-id} ...`, as given to
//! `create-flow-logs --log-format`): one default (version 2 unless set) and
//! overrides by object-key prefix or CloudWatch Logs log-group prefix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::fields::{self, DEFAULT_FORMAT};

/// The fields of a headerless record, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LineFormat(Vec<String>);

/// A format string that is not a flow log format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid flow log format {format:?}: {reason}")]
pub struct BadFormat {
    /// The string given.
    pub format: String,
    /// What is wrong with it.
    pub reason: String,
}

impl LineFormat {
    /// The default (version 2) format.
    pub fn v2() -> Self {
        LineFormat(DEFAULT_FORMAT.iter().map(|&n| n.to_owned()).collect())
    }

    /// The field names, in order.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// The format with `name` added in front.
    pub(crate) fn with_first(&self, name: &str) -> LineFormat {
        let mut names = Vec::with_capacity(self.0.len() + 1);
        names.push(name.to_owned());
        names.extend(self.0.iter().cloned());
        LineFormat(names)
    }

    /// Whether the format has the field.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }
}

impl Default for LineFormat {
    fn default() -> Self {
        Self::v2()
    }
}

/// Parses `${field} ${field} ...`. Bare names (`version account-id ...`, as in
/// a header line) are accepted too. Every field must be in the catalogue: a
/// configured format is typed by hand, and a misspelt field would otherwise
/// become a column of its own while the real one stays empty.
impl FromStr for LineFormat {
    type Err = BadFormat;

    fn from_str(s: &str) -> Result<Self, BadFormat> {
        let bad = |reason: String| BadFormat {
            format: s.to_owned(),
            reason,
        };
        let mut names: Vec<String> = Vec::new();
        for token in s.split_ascii_whitespace() {
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .unwrap_or(token);
            if fields::known(name).is_none() {
                return Err(bad(format!("{token} is not a flow log field")));
            }
            if names.iter().any(|n| n == name) {
                return Err(bad(format!("{name} appears twice")));
            }
            names.push(name.to_owned());
        }
        if names.is_empty() {
            return Err(bad("no fields".to_owned()));
        }
        Ok(LineFormat(names))
    }
}

impl fmt::Display for LineFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "${{{name}}}")?;
        }
        Ok(())
    }
}

impl Serialize for LineFormat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LineFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A format for the sources under a prefix: object keys starting with
/// `prefix`, or CloudWatch Logs payloads whose log group starts with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatRule {
    /// Key or log-group prefix.
    pub prefix: String,
    /// The format of the records there.
    pub format: LineFormat,
}

impl FromStr for FormatRule {
    type Err = BadFormat;

    /// Parses `PREFIX=FORMAT`.
    fn from_str(s: &str) -> Result<Self, BadFormat> {
        let (prefix, format) = s.split_once('=').ok_or_else(|| BadFormat {
            format: s.to_owned(),
            reason: "expected PREFIX=FORMAT".to_owned(),
        })?;
        Ok(FormatRule {
            prefix: prefix.to_owned(),
            format: format.parse()?,
        })
    }
}

/// The formats of every headerless source: a default and rules by prefix.
/// The longest matching prefix wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Formats {
    /// The format where no rule matches.
    pub default: LineFormat,
    /// Formats by key or log-group prefix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FormatRule>,
}

impl Formats {
    /// The format of a headerless object at `key`.
    pub fn for_key(&self, key: &str) -> &LineFormat {
        self.longest(key).unwrap_or(&self.default)
    }

    /// The format of a CloudWatch Logs event of `log_group` in the object at
    /// `key`: a rule for its log group first, then one for the key.
    pub fn for_log_group(&self, log_group: &str, key: &str) -> &LineFormat {
        self.longest(log_group).unwrap_or_else(|| self.for_key(key))
    }

    fn longest(&self, source: &str) -> Option<&LineFormat> {
        self.rules
            .iter()
            .filter(|r| source.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
            .map(|r| &r.format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_syntax_round_trips() {
        let text = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";
        let format: LineFormat = text.parse().unwrap();
        assert_eq!(format, LineFormat::v2());
        assert_eq!(format.to_string(), text);
        let bare: LineFormat = "interface-id srcaddr  start".parse().unwrap();
        assert_eq!(bare.names(), ["interface-id", "srcaddr", "start"]);
    }

    #[test]
    fn misspelt_repeated_and_empty_formats_are_refused() {
        for (text, reason) in [
            ("${version} ${srcadr}", "${srcadr} is not a flow log field"),
            ("${start} ${start}", "start appears twice"),
            ("  ", "no fields"),
        ] {
            let err = text.parse::<LineFormat>().unwrap_err();
            assert_eq!(err.reason, reason, "{text}");
        }
        assert!("no-equals-sign".parse::<FormatRule>().is_err());
    }

    #[test]
    fn the_longest_prefix_wins_and_log_groups_come_first() {
        let rule = |s: &str| s.parse::<FormatRule>().unwrap();
        let formats = Formats {
            default: LineFormat::v2(),
            rules: vec![
                rule("firehose/=${start} ${end}"),
                rule("firehose/tgw/=${resource-type} ${start}"),
                rule("/vpc/custom=${interface-id} ${start}"),
            ],
        };
        let names = |f: &LineFormat| f.names().join(",");
        assert_eq!(names(formats.for_key("firehose/a/x")), "start,end");
        assert_eq!(
            names(formats.for_key("firehose/tgw/x")),
            "resource-type,start"
        );
        assert_eq!(formats.for_key("AWSLogs/x"), &LineFormat::v2());
        assert_eq!(
            names(formats.for_log_group("/vpc/custom-1", "firehose/a/x")),
            "interface-id,start"
        );
        assert_eq!(
            names(formats.for_log_group("/other", "firehose/a/x")),
            "start,end"
        );
    }

    #[test]
    fn serde_writes_the_aws_syntax() {
        let formats = Formats {
            default: "${start} ${end}".parse().unwrap(),
            rules: Vec::new(),
        };
        let json = serde_json::to_string(&formats).unwrap();
        assert_eq!(json, r#"{"default":"${start} ${end}"}"#);
        let back: Formats = serde_json::from_str(&json).unwrap();
        assert_eq!(back, formats);
        let defaulted: Formats = serde_json::from_str("{}").unwrap();
        assert_eq!(defaulted, Formats::default());
        assert!(serde_json::from_str::<Formats>(r#"{"default":"${nope}"}"#).is_err());
    }
}
