//! The static topology: accounts, flow logs (fl-ids, regions, formats, delivery
//! offsets), VPCs, subnets and ENIs. Built once from the master seed.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::GenerateOptions;
use crate::format::Format;
use crate::rng::Dice;
use crate::traffic::Traffic;

/// An AWS region with its AZ-id prefix and number of AZs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    /// Region name, e.g. `us-east-1`.
    pub name: &'static str,
    /// AZ-id prefix, e.g. `use1` (AZ ids are `use1-az1` ...).
    pub az_prefix: &'static str,
    /// Number of AZs.
    pub azs: u64,
}

/// Regions used by the generator.
pub(crate) const REGIONS: [Region; 6] = [
    Region {
        name: "us-east-1",
        az_prefix: "use1",
        azs: 6,
    },
    Region {
        name: "us-west-2",
        az_prefix: "usw2",
        azs: 4,
    },
    Region {
        name: "eu-west-1",
        az_prefix: "euw1",
        azs: 3,
    },
    Region {
        name: "eu-central-1",
        az_prefix: "euc1",
        azs: 3,
    },
    Region {
        name: "ap-southeast-2",
        az_prefix: "apse2",
        azs: 3,
    },
    Region {
        name: "ap-northeast-1",
        az_prefix: "apne1",
        azs: 3,
    },
];

/// What an ENI does, which shapes its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Carries `flows_per_eni` long-lived connections plus short flows.
    Busy,
    /// Mostly silent: an occasional short flow, otherwise NODATA.
    Idle,
}

/// One elastic network interface.
#[derive(Debug, Clone)]
pub(crate) struct Eni {
    /// `eni-` + 17 hex digits.
    pub id: String,
    /// `subnet-` + 17 hex digits.
    pub subnet_id: String,
    /// `i-` + 17 hex digits, or none (NAT gateway, load balancer, Lambda ENIs).
    pub instance_id: Option<String>,
    /// e.g. `use1-az4`.
    pub az_id: String,
    /// `(sublocation-type, sublocation-id)` for ENIs on an Outpost.
    pub sublocation: Option<(&'static str, String)>,
    /// Private IPv4 address.
    pub ipv4: Ipv4Addr,
    /// IPv6 address for dual-stack ENIs.
    pub ipv6: Option<Ipv6Addr>,
    /// Traffic role.
    pub role: Role,
    /// Reachable from the internet (target of scans).
    pub public: bool,
    /// A NAT gateway ENI (pkt-srcaddr differs from srcaddr on its egress).
    pub nat: bool,
}

/// One flow log: a delivery stream of files with one record format.
#[derive(Debug, Clone)]
pub(crate) struct FlowLog {
    /// Global index (order of generation).
    pub index: usize,
    /// 12-digit account id.
    pub account: String,
    /// Region of the flow log (and of its VPC).
    pub region: Region,
    /// `fl-` + 17 hex digits.
    pub id: String,
    /// Record format.
    pub format: Format,
    /// Delivery minute offset in `0..5` relative to the start minute.
    pub offset: u32,
    /// Seed of this flow log's traffic.
    pub seed: u64,
    /// VPC second octet (`10.{vpc_octet}.0.0/16`).
    pub vpc_octet: u8,
    /// `vpc-` + 17 hex digits.
    pub vpc_id: String,
    /// IPv6 /48-ish prefix words of the VPC (`2001:db8:{w}::/48`).
    pub vpc_v6: u16,
    /// What its ENIs carry.
    pub traffic: Traffic,
    /// ENIs covered by this flow log.
    pub enis: Vec<Eni>,
}

fn account_id(dice: &mut Dice, seen: &mut BTreeSet<String>) -> String {
    loop {
        let id = format!("{:012}", dice.range(100_000_000_000, 999_999_999_999));
        if seen.insert(id.clone()) {
            return id;
        }
    }
}

/// Build the topology for `opts` from the master random source.
pub(crate) fn build(opts: &GenerateOptions, dice: &mut Dice) -> Vec<FlowLog> {
    let mut seen = BTreeSet::new();
    let mut flow_logs = Vec::new();
    let offset_shift = dice.range(0, 4);
    for _ in 0..opts.accounts {
        let account = account_id(dice, &mut seen);
        let home = dice.index(REGIONS.len());
        let n_fl = if opts.enis_per_account >= 2 && dice.chance(0.5) {
            2
        } else {
            1
        };
        let first_share = opts.enis_per_account.div_ceil(n_fl);
        for k in 0..n_fl {
            let index = flow_logs.len();
            let region = if k == 0 || dice.chance(0.5) {
                REGIONS[home]
            } else {
                REGIONS[(home + 1 + dice.index(REGIONS.len() - 1)) % REGIONS.len()]
            };
            let n_enis = if k == 0 {
                first_share
            } else {
                opts.enis_per_account - first_share
            };
            let mut fl = FlowLog {
                index,
                account: account.clone(),
                region,
                id: format!("fl-{}", dice.hex(17)),
                format: Format::for_index(index),
                offset: ((index as u64 + offset_shift) % 5) as u32,
                seed: dice.u64(),
                vpc_octet: dice.range(0, 255) as u8,
                vpc_id: format!("vpc-{}", dice.hex(17)),
                vpc_v6: dice.range(0, 0xffff) as u16,
                traffic: opts.traffic,
                enis: Vec::new(),
            };
            fl.enis = build_enis(&fl, n_enis, dice);
            flow_logs.push(fl);
        }
    }
    flow_logs
}

struct Subnet {
    id: String,
    octet: u8,
    az_id: String,
    outpost: Option<String>,
}

fn build_enis(fl: &FlowLog, n: usize, dice: &mut Dice) -> Vec<Eni> {
    let n_subnets = dice.range(2, 4);
    let az_base = dice.range(0, fl.region.azs - 1);
    let subnets: Vec<Subnet> = (0..n_subnets)
        .map(|s| Subnet {
            id: format!("subnet-{}", dice.hex(17)),
            octet: (s * 32) as u8,
            az_id: format!(
                "{}-az{}",
                fl.region.az_prefix,
                (az_base + s) % fl.region.azs + 1
            ),
            outpost: dice.chance(0.1).then(|| format!("op-{}", dice.hex(17))),
        })
        .collect();
    (0..n)
        .map(|e| {
            let s = dice.index(subnets.len());
            let subnet = &subnets[s];
            let host_octet = subnet.octet + dice.range(0, 31) as u8;
            let host = dice.range(4, 254) as u8;
            let ipv4 = Ipv4Addr::new(10, fl.vpc_octet, host_octet, host);
            // Guarantee each kind appears: ENI 0 of flow log 0 is dual-stack and
            // public, its last ENI (if it has two or more) is idle.
            let forced_v6 = fl.index == 0 && e == 0;
            let dual_stack = forced_v6 || dice.chance(0.3);
            let ipv6 = dual_stack.then(|| {
                Ipv6Addr::new(
                    0x2001,
                    0x0db8,
                    fl.vpc_v6,
                    s as u16,
                    0,
                    0,
                    dice.range(0, 0xffff) as u16,
                    dice.range(1, 0xffff) as u16,
                )
            });
            let forced_idle = fl.index == 0 && n >= 2 && e == n - 1;
            let role = if forced_idle || (e > 0 && dice.chance(0.15)) {
                Role::Idle
            } else {
                Role::Busy
            };
            let has_instance = dice.chance(0.8);
            let nat = !has_instance && dice.chance(0.5);
            // Internet-facing: every ENI is reachable, and those without an
            // instance are NAT gateways.
            let internet = fl.traffic == Traffic::Internet;
            Eni {
                id: format!("eni-{}", dice.hex(17)),
                subnet_id: subnet.id.clone(),
                instance_id: has_instance.then(|| format!("i-{}", dice.hex(17))),
                az_id: subnet.az_id.clone(),
                sublocation: subnet.outpost.clone().map(|op| ("outpost", op)),
                ipv4,
                ipv6,
                role,
                public: e == 0 || dice.chance(0.3) || internet,
                nat: nat || (internet && !has_instance),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_is_deterministic_and_well_formed() {
        let opts = GenerateOptions::default();
        let a = build(&opts, &mut Dice::new(7));
        let b = build(&opts, &mut Dice::new(7));
        assert_eq!(a.len(), b.len());
        let accounts: BTreeSet<_> = a.iter().map(|f| f.account.clone()).collect();
        assert_eq!(accounts.len(), opts.accounts);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.id.len(), 20);
            assert_eq!(x.account.len(), 12);
            assert!(x.offset < 5);
            let ids: Vec<_> = x.enis.iter().map(|e| &e.id).collect();
            let ids_b: Vec<_> = y.enis.iter().map(|e| &e.id).collect();
            assert_eq!(ids, ids_b);
            assert!(x.enis.iter().all(|e| e.id.len() == 21));
        }
        let total: usize = a.iter().map(|f| f.enis.len()).sum();
        assert_eq!(total, opts.accounts * opts.enis_per_account);
        let offsets: BTreeSet<_> = a.iter().map(|f| f.offset).collect();
        assert_eq!(offsets.len(), 5, "every minute gets deliveries");
    }
}
