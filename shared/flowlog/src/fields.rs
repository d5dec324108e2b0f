//! The field catalogue: every documented VPC and Transit Gateway flow log field,
//! its Parquet type as AWS publishes it, and its role in the merge.
//!
//! Unknown field names found in a header are not rejected: they become string
//! dimensions (see [`ColumnDef::for_field`]).

use std::borrow::Cow;

/// Physical type of a column, as AWS types it in its own Parquet flow logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `INT_32`.
    Int32,
    /// `INT_64`.
    Int64,
    /// `STRING` (UTF-8 byte array).
    Str,
}

/// What the merge does with a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Part of the flow's identity: records merge only when all dimensions match.
    Dimension,
    /// Summed (`packets`, `bytes`, `packets-lost-*`, `records`).
    Sum,
    /// Minimum (`start`).
    Min,
    /// Maximum (`end`).
    Max,
    /// Bitwise OR (`tcp-flags`).
    Or,
}

/// One known field of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Name as written in a flow log header (`log-status`).
    pub name: &'static str,
    /// Flow log version that introduced the field.
    pub version: u8,
    /// Parquet type.
    pub kind: Kind,
    /// Merge role.
    pub role: Role,
}

const fn f(name: &'static str, version: u8, kind: Kind, role: Role) -> Field {
    Field {
        name,
        version,
        kind,
        role,
    }
}

use Kind::{Int32, Int64, Str};
use Role::{Dimension as D, Max, Min, Or, Sum};

/// Every documented field, VPC table order first, then the Transit Gateway-only
/// fields. Output columns follow this order.
pub const CATALOGUE: &[Field] = &[
    f("version", 2, Int32, D),
    f("account-id", 2, Str, D),
    f("interface-id", 2, Str, D),
    f("srcaddr", 2, Str, D),
    f("dstaddr", 2, Str, D),
    f("srcport", 2, Int32, D),
    f("dstport", 2, Int32, D),
    f("protocol", 2, Int32, D),
    f("packets", 2, Int64, Sum),
    f("bytes", 2, Int64, Sum),
    f("start", 2, Int64, Min),
    f("end", 2, Int64, Max),
    f("action", 2, Str, D),
    f("log-status", 2, Str, D),
    f("vpc-id", 3, Str, D),
    f("subnet-id", 3, Str, D),
    f("instance-id", 3, Str, D),
    f("tcp-flags", 3, Int32, Or),
    f("type", 3, Str, D),
    f("pkt-srcaddr", 3, Str, D),
    f("pkt-dstaddr", 3, Str, D),
    f("region", 4, Str, D),
    f("az-id", 4, Str, D),
    f("sublocation-type", 4, Str, D),
    f("sublocation-id", 4, Str, D),
    f("pkt-src-aws-service", 5, Str, D),
    f("pkt-dst-aws-service", 5, Str, D),
    f("flow-direction", 5, Str, D),
    f("traffic-path", 5, Int32, D),
    f("ecs-cluster-arn", 7, Str, D),
    f("ecs-cluster-name", 7, Str, D),
    f("ecs-container-instance-arn", 7, Str, D),
    f("ecs-container-instance-id", 7, Str, D),
    f("ecs-container-id", 7, Str, D),
    f("ecs-second-container-id", 7, Str, D),
    f("ecs-service-name", 7, Str, D),
    f("ecs-task-definition-arn", 7, Str, D),
    f("ecs-task-arn", 7, Str, D),
    f("ecs-task-id", 7, Str, D),
    f("reject-reason", 8, Str, D),
    f("resource-id", 9, Str, D),
    f("encryption-status", 10, Int32, D),
    f("instance-tag", 11, Str, D),
    f("instance-tag-2", 11, Str, D),
    f("interface-tag", 11, Str, D),
    f("interface-tag-2", 11, Str, D),
    f("asg-tag", 11, Str, D),
    f("asg-tag-2", 11, Str, D),
    f("interface-type", 11, Str, D),
    f("next-hop-interface-id", 11, Str, D),
    f("next-hop-subnet-id", 11, Str, D),
    f("next-hop-az-id", 11, Str, D),
    f("next-hop-vpc-id", 11, Str, D),
    f("next-hop-interface-type", 11, Str, D),
    // Transit Gateway flow logs (version 6).
    f("resource-type", 6, Str, D),
    f("tgw-id", 6, Str, D),
    f("tgw-attachment-id", 6, Str, D),
    f("tgw-src-vpc-account-id", 6, Str, D),
    f("tgw-dst-vpc-account-id", 6, Str, D),
    f("tgw-src-vpc-id", 6, Str, D),
    f("tgw-dst-vpc-id", 6, Str, D),
    f("tgw-src-subnet-id", 6, Str, D),
    f("tgw-dst-subnet-id", 6, Str, D),
    f("tgw-src-eni", 6, Str, D),
    f("tgw-dst-eni", 6, Str, D),
    f("tgw-src-az-id", 6, Str, D),
    f("tgw-dst-az-id", 6, Str, D),
    f("tgw-pair-attachment-id", 6, Str, D),
    f("packets-lost-no-route", 6, Int64, Sum),
    f("packets-lost-blackhole", 6, Int64, Sum),
    f("packets-lost-mtu-exceeded", 6, Int64, Sum),
    f("packets-lost-ttl-expired", 6, Int64, Sum),
];

/// The default (version 2) format, used for files without a header line.
pub const DEFAULT_FORMAT: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// Name of the column flowmerge adds: how many raw records a row stands for.
pub const RECORDS: &str = "records";

/// Dimensions that lead the sort order (the rest follow in catalogue order,
/// unknown fields last by name). Sorting by these groups a flow's rows together
/// and gives Parquet long runs to encode and tight row-group statistics.
const SORT_LEAD: &[&str] = &[
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "action",
    "log-status",
];

/// Looks a header name up in the catalogue.
pub fn known(name: &str) -> Option<(usize, &'static Field)> {
    CATALOGUE.iter().enumerate().find(|(_, f)| f.name == name)
}

/// A column of a table or output file: a known field, an unknown (string) field,
/// or the `records` count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnDef {
    /// Field name as in a header (`log-status`), or `records`.
    pub name: Cow<'static, str>,
    /// Parquet type.
    pub kind: Kind,
    /// Merge role.
    pub role: Role,
    /// Position among output columns (catalogue index; unknown fields after all
    /// known ones; `records` last).
    pub output_rank: usize,
    /// Position in the dimension sort order (only meaningful for dimensions).
    pub sort_rank: usize,
}

impl ColumnDef {
    /// The column for a header field name; unknown names become string dimensions.
    pub fn for_field(name: &str) -> ColumnDef {
        match known(name) {
            Some((index, field)) => ColumnDef {
                name: Cow::Borrowed(field.name),
                kind: field.kind,
                role: field.role,
                output_rank: index,
                sort_rank: SORT_LEAD
                    .iter()
                    .position(|lead| *lead == field.name)
                    .unwrap_or(SORT_LEAD.len() + index),
            },
            None => ColumnDef {
                name: Cow::Owned(name.to_owned()),
                kind: Kind::Str,
                role: Role::Dimension,
                output_rank: usize::MAX - 1,
                sort_rank: usize::MAX,
            },
        }
    }

    /// The column for a Parquet column name (`log_status`), as written by
    /// [`ColumnDef::column_name`].
    pub fn for_column(column: &str) -> ColumnDef {
        if column == RECORDS {
            return ColumnDef::records();
        }
        match CATALOGUE
            .iter()
            .find(|f| f.name.replace('-', "_") == column)
        {
            Some(field) => ColumnDef::for_field(field.name),
            None => ColumnDef::for_field(column),
        }
    }

    /// The `records` column.
    pub fn records() -> ColumnDef {
        ColumnDef {
            name: Cow::Borrowed(RECORDS),
            kind: Kind::Int64,
            role: Role::Sum,
            output_rank: usize::MAX,
            sort_rank: usize::MAX,
        }
    }

    /// Whether merging treats this column as part of a flow's identity.
    pub fn is_dimension(&self) -> bool {
        self.role == Role::Dimension
    }

    /// Parquet column name: dashes become underscores, as in AWS's Parquet logs.
    pub fn column_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// Order of dimensions in a sorted table: by sort rank, unknown fields by name.
    pub fn sort_key(&self) -> (usize, &str) {
        (self.sort_rank, &self.name)
    }

    /// Order of columns in an output file.
    pub fn output_key(&self) -> (usize, &str) {
        (self.output_rank, &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_are_unique_and_well_formed() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        }));
    }

    #[test]
    fn aws_parquet_types() {
        let kind = |n: &str| ColumnDef::for_field(n).kind;
        assert_eq!(kind("version"), Kind::Int32);
        assert_eq!(kind("srcport"), Kind::Int32);
        assert_eq!(kind("protocol"), Kind::Int32);
        assert_eq!(kind("packets"), Kind::Int64);
        assert_eq!(kind("end"), Kind::Int64);
        assert_eq!(kind("tcp-flags"), Kind::Int32);
        assert_eq!(kind("traffic-path"), Kind::Int32);
        assert_eq!(kind("packets-lost-blackhole"), Kind::Int64);
        assert_eq!(kind("log-status"), Kind::Str);
    }

    #[test]
    fn roles_follow_the_merge_semantics() {
        let role = |n: &str| ColumnDef::for_field(n).role;
        assert_eq!(role("packets"), Role::Sum);
        assert_eq!(role("packets-lost-ttl-expired"), Role::Sum);
        assert_eq!(role("start"), Role::Min);
        assert_eq!(role("end"), Role::Max);
        assert_eq!(role("tcp-flags"), Role::Or);
        assert_eq!(role("version"), Role::Dimension);
        assert_eq!(role("srcport"), Role::Dimension);
    }

    #[test]
    fn unknown_fields_are_string_dimensions() {
        let def = ColumnDef::for_field("my-new-field");
        assert_eq!((def.kind, def.role), (Kind::Str, Role::Dimension));
        assert_eq!(def.column_name(), "my_new_field");
        assert!(def.output_key() > ColumnDef::for_field("tgw-id").output_key());
    }

    #[test]
    fn column_names_round_trip() {
        for field in CATALOGUE {
            let def = ColumnDef::for_field(field.name);
            assert_eq!(ColumnDef::for_column(&def.column_name()), def);
        }
        assert_eq!(ColumnDef::for_column("records"), ColumnDef::records());
    }

    #[test]
    fn account_leads_the_sort_order() {
        let mut dims: Vec<_> = [
            "srcport",
            "version",
            "interface-id",
            "account-id",
            "zz-unknown",
        ]
        .iter()
        .map(|n| ColumnDef::for_field(n))
        .collect();
        dims.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let names: Vec<_> = dims.iter().map(|d| d.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "account-id",
                "interface-id",
                "srcport",
                "version",
                "zz-unknown"
            ]
        );
    }
}
