//! Record formats (field lists, header lines) and rendering records as text lines.
//!
//! Field names and versions follow the AWS VPC Flow Logs documentation (v2–v5).
//! A line is the fields separated by single spaces, `-` for null, ending in `\n`.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::model::{Eni, FlowLog};
use crate::traffic::{Body, Rec};

/// A flow-log field this generator can emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    VpcId,
    SubnetId,
    InstanceId,
    TcpFlags,
    Type,
    PktSrcAddr,
    PktDstAddr,
    Region,
    AzId,
    SublocationType,
    SublocationId,
    PktSrcAwsService,
    PktDstAwsService,
    FlowDirection,
    TrafficPath,
}

impl Field {
    /// The official field name as it appears in header lines.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Version => "version",
            Field::AccountId => "account-id",
            Field::InterfaceId => "interface-id",
            Field::SrcAddr => "srcaddr",
            Field::DstAddr => "dstaddr",
            Field::SrcPort => "srcport",
            Field::DstPort => "dstport",
            Field::Protocol => "protocol",
            Field::Packets => "packets",
            Field::Bytes => "bytes",
            Field::Start => "start",
            Field::End => "end",
            Field::Action => "action",
            Field::LogStatus => "log-status",
            Field::VpcId => "vpc-id",
            Field::SubnetId => "subnet-id",
            Field::InstanceId => "instance-id",
            Field::TcpFlags => "tcp-flags",
            Field::Type => "type",
            Field::PktSrcAddr => "pkt-srcaddr",
            Field::PktDstAddr => "pkt-dstaddr",
            Field::Region => "region",
            Field::AzId => "az-id",
            Field::SublocationType => "sublocation-type",
            Field::SublocationId => "sublocation-id",
            Field::PktSrcAwsService => "pkt-src-aws-service",
            Field::PktDstAwsService => "pkt-dst-aws-service",
            Field::FlowDirection => "flow-direction",
            Field::TrafficPath => "traffic-path",
        }
    }

    /// The flow-log version that introduced the field.
    pub(crate) fn version(self) -> u8 {
        use Field::*;
        match self {
            Version | AccountId | InterfaceId | SrcAddr | DstAddr | SrcPort | DstPort
            | Protocol | Packets | Bytes | Start | End | Action | LogStatus => 2,
            VpcId | SubnetId | InstanceId | TcpFlags | Type | PktSrcAddr | PktDstAddr => 3,
            Region | AzId | SublocationType | SublocationId => 4,
            PktSrcAwsService | PktDstAwsService | FlowDirection | TrafficPath => 5,
        }
    }
}

use Field::*;

const V2: &[Field] = &[
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
];
const V3: &[Field] = &[
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    VpcId,
    SubnetId,
    InstanceId,
    TcpFlags,
    Type,
    PktSrcAddr,
    PktDstAddr,
];
const V4: &[Field] = &[
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    VpcId,
    SubnetId,
    InstanceId,
    TcpFlags,
    Type,
    PktSrcAddr,
    PktDstAddr,
    Region,
    AzId,
    SublocationType,
    SublocationId,
];
const V5: &[Field] = &[
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    VpcId,
    SubnetId,
    InstanceId,
    TcpFlags,
    Type,
    PktSrcAddr,
    PktDstAddr,
    Region,
    AzId,
    SublocationType,
    SublocationId,
    PktSrcAwsService,
    PktDstAwsService,
    FlowDirection,
    TrafficPath,
];
/// A custom format in a non-standard order and without `version`.
const REORDERED: &[Field] = &[
    AccountId,
    InterfaceId,
    Start,
    End,
    FlowDirection,
    Action,
    LogStatus,
    SrcAddr,
    SrcPort,
    DstAddr,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    TcpFlags,
    AzId,
    TrafficPath,
    PktDstAwsService,
];

/// The record format of one flow log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Default v2 format, files start with a header line.
    V2Default,
    /// Default v2 format, files have no header line.
    V2NoHeader,
    /// Custom: v2 + v3 fields.
    V3Custom,
    /// Custom: v2 + v3 + v4 fields.
    V4Custom,
    /// Custom: v2 + v3 + v4 + v5 fields.
    V5Custom,
    /// Custom: a mix of fields in a different order, no `version` field.
    Reordered,
}

impl Format {
    /// The format assigned to the flow log with this global index: one of each
    /// special format for indexes 1–5, the default v2 format for all others.
    pub(crate) fn for_index(index: usize) -> Self {
        match index {
            1 => Format::V2NoHeader,
            2 => Format::V3Custom,
            3 => Format::V4Custom,
            4 => Format::V5Custom,
            5 => Format::Reordered,
            _ => Format::V2Default,
        }
    }

    /// Fields in file order.
    pub(crate) fn fields(self) -> &'static [Field] {
        match self {
            Format::V2Default | Format::V2NoHeader => V2,
            Format::V3Custom => V3,
            Format::V4Custom => V4,
            Format::V5Custom => V5,
            Format::Reordered => REORDERED,
        }
    }

    /// Whether the fields are those of the default (version 2) format.
    pub(crate) fn is_v2(self) -> bool {
        self.fields() == V2
    }

    /// Whether files of this format start with a header line.
    pub(crate) fn has_header(self) -> bool {
        !matches!(self, Format::V2NoHeader)
    }

    /// The `version` value: the highest version among the fields.
    pub(crate) fn version(self) -> u8 {
        self.fields().iter().map(|f| f.version()).max().unwrap_or(2)
    }

    /// Append the header line (with `\n`) if this format has one.
    pub(crate) fn push_header(self, buf: &mut String) {
        if !self.has_header() {
            return;
        }
        for (i, f) in self.fields().iter().enumerate() {
            if i > 0 {
                buf.push(' ');
            }
            buf.push_str(f.name());
        }
        buf.push('\n');
    }
}

/// A deliberate defect that turns a record into a bad line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defect {
    /// The last field is missing.
    FieldCount,
    /// `dstport` is `http`.
    NonNumericPort,
    /// `srcport` is `99999999999` (overflows int32).
    Int32Overflow,
    /// `packets` is `-5`.
    NegativePackets,
}

impl Defect {
    /// Defect kinds in the order they are handed out.
    pub(crate) const ALL: [Defect; 4] = [
        Defect::FieldCount,
        Defect::NonNumericPort,
        Defect::Int32Overflow,
        Defect::NegativePackets,
    ];

    fn replaces(self, field: Field) -> Option<&'static str> {
        match (self, field) {
            (Defect::NonNumericPort, Field::DstPort) => Some("http"),
            (Defect::Int32Overflow, Field::SrcPort) => Some("99999999999"),
            (Defect::NegativePackets, Field::Packets) => Some("-5"),
            _ => None,
        }
    }
}

/// Append a decimal integer.
fn push_int(buf: &mut String, n: i64) {
    if n < 0 {
        buf.push('-');
    }
    let mut v = n.unsigned_abs();
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend(tmp[i..].iter().map(|&b| char::from(b)));
}

fn push_u64(buf: &mut String, n: u64) {
    push_int(buf, i64::try_from(n).unwrap_or(i64::MAX));
}

fn push_ip(buf: &mut String, ip: IpAddr) {
    // Writing to a String cannot fail.
    let _ = write!(buf, "{ip}");
}

fn push_opt(buf: &mut String, s: Option<&str>) {
    buf.push_str(s.unwrap_or("-"));
}

/// Append one record as a line (with `\n`), optionally with a defect.
pub(crate) fn push_record(buf: &mut String, fl: &FlowLog, rec: &Rec, defect: Option<Defect>) {
    let fields = fl.format.fields();
    let count = if defect == Some(Defect::FieldCount) {
        fields.len() - 1
    } else {
        fields.len()
    };
    let eni = &fl.enis[rec.eni as usize];
    for (i, &field) in fields[..count].iter().enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        if let Some(text) = defect.and_then(|d| d.replaces(field)) {
            buf.push_str(text);
            continue;
        }
        push_field(buf, fl, eni, rec, field);
    }
    buf.push('\n');
}

fn push_field(buf: &mut String, fl: &FlowLog, eni: &Eni, rec: &Rec, field: Field) {
    // Fields present in every record, data or not.
    match field {
        Version => return push_u64(buf, u64::from(fl.format.version())),
        AccountId => return buf.push_str(&fl.account),
        InterfaceId => return buf.push_str(&eni.id),
        Start => return push_int(buf, rec.start),
        End => return push_int(buf, rec.end),
        LogStatus => {
            return buf.push_str(match rec.body {
                Body::Flow { .. } => "OK",
                Body::NoData => "NODATA",
                Body::SkipData => "SKIPDATA",
            });
        }
        _ => {}
    }
    let Body::Flow {
        dims,
        packets,
        bytes,
        tcp_flags,
    } = &rec.body
    else {
        buf.push('-');
        return;
    };
    match field {
        SrcAddr => push_ip(buf, dims.src),
        DstAddr => push_ip(buf, dims.dst),
        SrcPort => push_u64(buf, u64::from(dims.srcport)),
        DstPort => push_u64(buf, u64::from(dims.dstport)),
        Protocol => push_u64(buf, u64::from(dims.protocol)),
        Packets => push_u64(buf, *packets),
        Bytes => push_u64(buf, *bytes),
        Action => buf.push_str(if dims.accept { "ACCEPT" } else { "REJECT" }),
        VpcId => buf.push_str(&fl.vpc_id),
        SubnetId => buf.push_str(&eni.subnet_id),
        InstanceId => push_opt(buf, eni.instance_id.as_deref()),
        TcpFlags => push_u64(buf, u64::from(*tcp_flags)),
        Type => buf.push_str(if dims.src.is_ipv6() { "IPv6" } else { "IPv4" }),
        PktSrcAddr => push_ip(buf, dims.pkt_src),
        PktDstAddr => push_ip(buf, dims.pkt_dst),
        Region => buf.push_str(fl.region.name),
        AzId => buf.push_str(&eni.az_id),
        SublocationType => push_opt(buf, eni.sublocation.as_ref().map(|s| s.0)),
        SublocationId => push_opt(buf, eni.sublocation.as_ref().map(|s| s.1.as_str())),
        PktSrcAwsService => push_opt(buf, dims.src_service),
        PktDstAwsService => push_opt(buf, dims.dst_service),
        FlowDirection => buf.push_str(if dims.egress { "egress" } else { "ingress" }),
        TrafficPath => match dims.traffic_path {
            Some(p) => push_u64(buf, u64::from(p)),
            None => buf.push('-'),
        },
        Version | AccountId | InterfaceId | Start | End | LogStatus => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_headers() {
        assert_eq!(Format::V2Default.version(), 2);
        assert_eq!(Format::V3Custom.version(), 3);
        assert_eq!(Format::V4Custom.version(), 4);
        assert_eq!(Format::V5Custom.version(), 5);
        assert_eq!(Format::Reordered.version(), 5);
        let mut h = String::new();
        Format::V2Default.push_header(&mut h);
        assert_eq!(
            h,
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
             packets bytes start end action log-status\n"
        );
        let mut none = String::new();
        Format::V2NoHeader.push_header(&mut none);
        assert!(none.is_empty());
        for f in [
            Format::V3Custom,
            Format::V4Custom,
            Format::V5Custom,
            Format::Reordered,
        ] {
            for need in [
                AccountId,
                InterfaceId,
                Start,
                End,
                LogStatus,
                SrcPort,
                DstPort,
                Packets,
            ] {
                assert!(f.fields().contains(&need), "{f:?} lacks {need:?}");
            }
        }
    }

    #[test]
    fn integers() {
        let mut s = String::new();
        push_int(&mut s, 0);
        s.push(' ');
        push_int(&mut s, -42);
        s.push(' ');
        push_int(&mut s, 1_795_352_400);
        assert_eq!(s, "0 -42 1795352400");
    }
}
