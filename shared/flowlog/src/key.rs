//! Object keys of delivered flow log files: the standard S3 delivery layout and
//! its Hive-compatible variant. Only the file name is decisive; it carries the
//! account, region, flow log id and the delivery minute.

use crate::Window;

/// What a delivery file name tells about its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Account that owns the flow log.
    pub account: String,
    /// Region of the flow log.
    pub region: String,
    /// Flow log id (`fl-...`).
    pub flow_log_id: String,
    /// Delivery minute, the window the file belongs to.
    pub window: Window,
}

/// Parses `.../{account}_vpcflowlogs_{region}_{fl-id}_{YYYYMMDDTHHmmZ}_{hash}.log[.gz]`.
/// Returns `None` for any other key.
///
/// ```
/// let info = flowlog::parse_key(
///     "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/22/\
///      123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20261122T1305Z_fe123456.log.gz",
/// ).unwrap();
/// assert_eq!(info.account, "123456789012");
/// assert_eq!(info.window.to_string(), "2026-11-22T13:05Z");
/// ```
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let name = key.rsplit('/').next()?;
    let stem = name
        .strip_suffix(".log.gz")
        .or_else(|| name.strip_suffix(".log"))?;
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
        account: account.to_owned(),
        region: region.to_owned(),
        flow_log_id: flow_log_id.to_owned(),
        window: Window::from_stamp(stamp)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_hive_layouts() {
        let name = "123456789012_vpcflowlogs_eu-west-1_fl-0a1b2c3d_20261122T0000Z_0badf00d.log.gz";
        for prefix in [
            "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/22/",
            "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/22/00/",
            "logs/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=11/day=22/hour=00/",
            "",
        ] {
            let info = parse_key(&format!("{prefix}{name}")).unwrap();
            assert_eq!(info.account, "123456789012");
            assert_eq!(info.region, "eu-west-1");
            assert_eq!(info.flow_log_id, "fl-0a1b2c3d");
            assert_eq!(info.window.to_string(), "2026-11-22T00:00Z");
        }
    }

    #[test]
    fn other_keys_are_not_delivery_files() {
        for key in [
            "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/11/22/notes.txt",
            "123456789012_cloudtrail_eu-west-1_x_20261122T0000Z_00.log.gz",
            "123456789012_vpcflowlogs_eu-west-1_fl-1_20261122T0000_00.log.gz",
            "acct_vpcflowlogs_eu-west-1_fl-1_20261122T0000Z_00.log.gz",
            "123456789012_vpcflowlogs_eu-west-1_fl-1_20261122T0000Z_00.log.parquet",
            "123456789012_vpcflowlogs_eu-west-1_fl-1_20261122T0000Z_00_extra.log.gz",
        ] {
            assert_eq!(parse_key(key), None, "{key}");
        }
    }
}
