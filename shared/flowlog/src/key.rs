//! Object keys of delivered flow logs. Only the file name is decisive, whatever
//! the prefix (standard, Hive-compatible, per-hour, or a Firehose custom one):
//!
//! * VPC Flow Logs' own S3 delivery,
//!   `{account}_vpcflowlogs_{region}_{fl-id}_{YYYYMMDDTHHmmZ}_{hash}.log[.gz|.parquet]`,
//!   names the account, region, flow log and the delivery minute;
//! * Kinesis Data Firehose's default object name,
//!   `{stream}-{version}-{yyyy-MM-dd-HH-mm-ss}-{uuid}[.ext]`, names the stream
//!   and the time Firehose delivered the buffer (its minute is the window).

use crate::Window;

/// What an object's name tells about its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Who delivered it, and what that delivery names.
    pub source: KeySource,
    /// The window the object belongs to.
    pub window: Window,
}

/// The delivery an object name belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// VPC Flow Logs delivering to S3 (text, or native Parquet).
    Vpc {
        /// Account that owns the flow log.
        account: String,
        /// Region of the flow log.
        region: String,
        /// Flow log id (`fl-...`).
        flow_log_id: String,
    },
    /// Kinesis Data Firehose delivering to S3 (flow log records wrapped as
    /// JSON, plain lines, or CloudWatch Logs subscription payloads).
    Firehose {
        /// The delivery stream's name.
        stream: String,
    },
}

impl KeyInfo {
    /// The account the name gives (Firehose names give none).
    pub fn account(&self) -> Option<&str> {
        match &self.source {
            KeySource::Vpc { account, .. } => Some(account),
            KeySource::Firehose { .. } => None,
        }
    }
}

/// Parses a VPC Flow Logs delivery name or a Firehose object name; `None` for
/// any other key.
///
/// ```
/// let info = flowlog::parse_key(
///     "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/22/\
///      123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20261122T1305Z_fe123456.log.gz",
/// ).unwrap();
/// assert_eq!(info.account(), Some("123456789012"));
/// assert_eq!(info.window.to_string(), "2026-11-22T13:05Z");
///
/// let firehose = flowlog::parse_key(
///     "2026/11/22/13/flow-logs-1-2026-11-22-13-05-41-0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8b.gz",
/// ).unwrap();
/// assert_eq!(firehose.window.to_string(), "2026-11-22T13:05Z");
/// ```
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let name = key.rsplit('/').next()?;
    vpc_name(name).or_else(|| firehose_name(name))
}

fn vpc_name(name: &str) -> Option<KeyInfo> {
    // What the object holds is told by its bytes (see `Container`), not here.
    let stem = [".log.gz", ".log", ".log.parquet"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))?;
    let mut parts = stem.split('_');
    let (account, service, region, flow_log_id, stamp, hash) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if parts.next().is_some()
        || service != "vpcflowlogs"
        || account.is_empty()
        || !account.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
        || flow_log_id.is_empty()
        || hash.is_empty()
    {
        return None;
    }
    Some(KeyInfo {
        source: KeySource::Vpc {
            account: account.to_owned(),
            region: region.to_owned(),
            flow_log_id: flow_log_id.to_owned(),
        },
        window: Window::from_stamp(stamp)?,
    })
}

/// `{stream}-{version}-{yyyy-MM-dd-HH-mm-ss}-{uuid}`, then nothing or an
/// extension (`.gz`, or one the stream was configured with).
fn firehose_name(name: &str) -> Option<KeyInfo> {
    const UUID: usize = 36;
    const STAMP: usize = 19;
    // The uuid ends the stem; a stream name may itself hold dots and dashes,
    // so the last uuid-shaped run followed by the end or a dot is taken.
    let at = name.rmatch_indices('-').map(|(i, _)| i).find(|&i| {
        let uuid = name.get(i + 1..i + 1 + UUID);
        let after = name.get(i + 1 + UUID..).unwrap_or("x");
        uuid.is_some_and(is_uuid) && (after.is_empty() || after.starts_with('.'))
    })?;
    let head = &name[..at];
    let stamp = head
        .get(head.len().checked_sub(STAMP)?..)
        .filter(|stamp| is_stamp(stamp))?;
    let head = head[..head.len() - STAMP].strip_suffix('-')?;
    let (stream, version) = head.rsplit_once('-')?;
    if stream.is_empty() || version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let time = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d-%H-%M-%S").ok()?;
    Some(KeyInfo {
        source: KeySource::Firehose {
            stream: stream.to_owned(),
        },
        window: Window::containing(time.and_utc().timestamp()),
    })
}

/// `yyyy-MM-dd-HH-mm-ss` in digits: chrono alone also takes a signed or
/// shorter year, which would name a window no stamp can name back.
fn is_stamp(s: &str) -> bool {
    s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 | 10 | 13 | 16 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_hive_hourly_and_parquet_layouts() {
        let stem = "123456789012_vpcflowlogs_eu-west-1_fl-0a1b2c3d_20261122T0000Z_0badf00d";
        for prefix in [
            "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/22/",
            "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/22/00/",
            "logs/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=22/hour=00/",
            "",
        ] {
            for ext in [".log.gz", ".log", ".log.parquet"] {
                let info = parse_key(&format!("{prefix}{stem}{ext}")).unwrap();
                let KeySource::Vpc {
                    account,
                    region,
                    flow_log_id,
                } = &info.source
                else {
                    panic!("not a VPC delivery name")
                };
                assert_eq!(account, "123456789012");
                assert_eq!(region, "eu-west-1");
                assert_eq!(flow_log_id, "fl-0a1b2c3d");
                assert_eq!(info.window.to_string(), "2026-11-22T00:00Z");
            }
        }
    }

    #[test]
    fn a_firehose_stamp_is_digits_only() {
        // Found by the delivery_key fuzz target: "-066" read as the year -66.
        assert_eq!(
            parse_key("2f-1--066-11-22-10-01-41-6622208a-2901-4799-ab99-0690212e32a5"),
            None
        );
        assert!(
            parse_key("2f-1-2066-11-22-10-01-41-6622208a-2901-4799-ab99-0690212e32a5").is_some()
        );
    }

    #[test]
    fn firehose_names_under_any_prefix() {
        let uuid = "0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8b";
        for (key, stream) in [
            (
                format!("2026/11/22/13/flow-logs-1-2026-11-22-13-05-59-{uuid}"),
                "flow-logs",
            ),
            (
                format!("firehose/vpc/2026/11/22/13/my.stream_2-12-2026-11-22-13-05-00-{uuid}.gz"),
                "my.stream_2",
            ),
            (format!("cwl/x-1-2026-11-22-13-05-07-{uuid}.json.gz"), "x"),
        ] {
            let info = parse_key(&key).unwrap();
            assert_eq!(info.window.to_string(), "2026-11-22T13:05Z", "{key}");
            assert_eq!(
                info.source,
                KeySource::Firehose {
                    stream: stream.to_owned()
                }
            );
            assert_eq!(info.account(), None);
        }
    }

    #[test]
    fn other_keys_are_not_delivery_files() {
        for key in [
            "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/22/notes.txt",
            "123456789012_cloudtrail_eu-west-1_x_20261122T0000Z_00.log.gz",
            "123456789012_vpcflowlogs_eu-west-1_fl-1_20261122T0000_00.log.gz",
            "acct_vpcflowlogs_eu-west-1_fl-1_20261122T0000Z_00.log.gz",
            "123456789012_vpcflowlogs_eu-west-1_fl-1_20261122T0000Z_00.parquet",
            "123456789012_vpcflowlogs_eu-west-1_fl-1_20261122T0000Z_00_extra.log.gz",
            // Firehose-like but broken: no stream, bad stamp, short uuid, junk after it.
            "1-2026-11-22-13-05-59-0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8b",
            "s-1-2026-11-22-25-05-59-0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8b",
            "s-1-2026-11-22-13-05-59-0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8",
            "s-1-2026-11-22-13-05-59-0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8bx",
            "s-v1-2026-11-22-13-05-59-0f5e1c3a-7b8d-4e2f-9a1b-3c4d5e6f7a8b",
        ] {
            assert_eq!(parse_key(key), None, "{key}");
        }
    }
}
