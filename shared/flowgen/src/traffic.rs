//! Traffic simulation: long-lived connections, short flows, REJECT scans,
//! NODATA and SKIPDATA records, one 60-second capture window at a time.
//!
//! A connection yields one record per direction per capture window, so a
//! long-lived connection produces two flows (client→server, server→client) whose
//! consecutive records are contiguous (`next.start <= prev.end + 60`).

mod internet;

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::model::{Eni, FlowLog, Role};
use crate::rng::Dice;

/// What the interfaces carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Traffic {
    /// Mostly private: databases and services inside the VPC and peered
    /// VPCs, S3 and DynamoDB, a few external peers, long-lived connections.
    #[default]
    Vpc,
    /// Internet-facing services and NAT gateways: clients and peers from the
    /// whole public address space, ephemeral ports, mostly short flows, and
    /// scans from anywhere.
    Internet,
}

impl Traffic {
    fn as_str(self) -> &'static str {
        match self {
            Traffic::Vpc => "vpc",
            Traffic::Internet => "internet",
        }
    }
}

impl fmt::Display for Traffic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Traffic {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Traffic::Vpc, Traffic::Internet]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown traffic {s:?} (vpc or internet)"))
    }
}

/// Length of a capture window in seconds.
pub(crate) const WINDOW: i64 = 60;

/// The dimensions of one directional flow as seen by an ENI.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowDims {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub srcport: u16,
    pub dstport: u16,
    pub protocol: u8,
    pub accept: bool,
    pub egress: bool,
    pub traffic_path: Option<u8>,
    pub pkt_src: IpAddr,
    pub pkt_dst: IpAddr,
    pub src_service: Option<&'static str>,
    pub dst_service: Option<&'static str>,
}

/// What a record carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body {
    /// An `OK` record with traffic.
    Flow {
        dims: FlowDims,
        packets: u64,
        bytes: u64,
        tcp_flags: u8,
    },
    /// `NODATA`: no traffic on the ENI in the capture window.
    NoData,
    /// `SKIPDATA`: records were skipped in the capture window.
    SkipData,
}

/// One record before rendering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rec {
    /// Index of the ENI within its flow log.
    pub eni: u32,
    pub start: i64,
    pub end: i64,
    pub body: Body,
}

impl Rec {
    /// `(packets, bytes)`, zero for NODATA/SKIPDATA.
    pub(crate) fn volume(&self) -> (u64, u64) {
        match self.body {
            Body::Flow { packets, bytes, .. } => (packets, bytes),
            Body::NoData | Body::SkipData => (0, 0),
        }
    }
}

const TCP: u8 = 6;
const UDP: u8 = 17;

/// A peer of a connection and how traffic to it is labelled.
#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: IpAddr,
    path: u8,
    service: Option<&'static str>,
}

/// A bidirectional connection on one ENI.
#[derive(Debug, Clone, Copy)]
struct Conn {
    /// client → server record dims.
    c2s: FlowDims,
    /// server → client record dims.
    s2c: FlowDims,
    /// Capture windows left including the current one.
    remaining: u32,
    /// The current window is the connection's first.
    fresh: bool,
    /// Mean packets per window, each direction.
    rate: [f64; 2],
    /// Mean packet size, each direction.
    size: [f64; 2],
}

/// Per-flow-log traffic generator state.
#[derive(Debug)]
pub(crate) struct Sim<'a> {
    fl: &'a FlowLog,
    dice: Dice,
    conns: Vec<Vec<Conn>>,
    flows_per_eni: usize,
    windows_done: u64,
}

const EXTERNAL_V4: [[u8; 3]; 3] = [[198, 51, 100], [203, 0, 113], [192, 0, 2]];
const S3_V4: [u8; 2] = [52, 216];
const DDB_V4: [u8; 2] = [3, 218];
const SCAN_PORTS: [u16; 24] = [
    21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 1433, 1521, 2375, 3306, 3389, 5432, 5900,
    6379, 8080, 8443, 9200, 27017,
];

fn ephemeral(d: &mut Dice) -> u16 {
    d.range(32768, 60999) as u16
}

impl<'a> Sim<'a> {
    /// A simulation for one flow log.
    pub(crate) fn new(fl: &'a FlowLog, flows_per_eni: usize) -> Self {
        Self::with_salt(fl, flows_per_eni, 1)
    }

    /// A simulation with an independent random stream selected by `salt`.
    pub(crate) fn with_salt(fl: &'a FlowLog, flows_per_eni: usize, salt: u64) -> Self {
        Self {
            fl,
            dice: Dice::derived(fl.seed, salt),
            conns: vec![Vec::new(); fl.enis.len()],
            flows_per_eni,
            windows_done: 0,
        }
    }

    fn external(&mut self, v6: bool) -> IpAddr {
        let d = &mut self.dice;
        if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0x0db8,
                0xff00 | d.range(0, 0xff) as u16,
                0,
                0,
                0,
                0,
                d.range(1, 0xffff) as u16,
            ))
        } else {
            let p = d.pick(&EXTERNAL_V4, EXTERNAL_V4[0]);
            IpAddr::V4(Ipv4Addr::new(p[0], p[1], p[2], d.range(1, 254) as u8))
        }
    }

    fn internal(&mut self, v6: bool, peered: bool) -> IpAddr {
        let fl = self.fl;
        let d = &mut self.dice;
        if v6 {
            return IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0x0db8,
                fl.vpc_v6,
                d.range(0, 3) as u16,
                0,
                0,
                d.range(0, 0xffff) as u16,
                d.range(1, 0xffff) as u16,
            ));
        }
        let octet = if peered {
            fl.vpc_octet.wrapping_add(d.range(1, 200) as u8)
        } else {
            fl.vpc_octet
        };
        IpAddr::V4(Ipv4Addr::new(
            10,
            octet,
            d.range(0, 127) as u8,
            d.range(4, 254) as u8,
        ))
    }

    /// Build a connection; `eni_is_client` decides which side the ENI is on.
    fn conn(
        &mut self,
        eni: &Eni,
        peer: Peer,
        eni_is_client: bool,
        (protocol, server_port): (u8, u16),
        lifetime: u32,
        fresh: bool,
    ) -> Conn {
        let own = match (peer.addr, eni.ipv6) {
            (IpAddr::V6(_), Some(v6)) => IpAddr::V6(v6),
            _ => IpAddr::V4(eni.ipv4),
        };
        let (client, server) = if eni_is_client {
            (own, peer.addr)
        } else {
            (peer.addr, own)
        };
        let (client_port, server_port) = if protocol == 1 || protocol == 58 {
            (0, 0)
        } else {
            (ephemeral(&mut self.dice), server_port)
        };
        // A NAT gateway forwards for an instance: pkt-srcaddr is the instance.
        let pkt_client = if eni.nat && eni_is_client && client.is_ipv4() {
            self.internal(false, false)
        } else {
            client
        };
        let (client_service, server_service) = if eni_is_client {
            (None, peer.service)
        } else {
            (peer.service, None)
        };
        let c2s = FlowDims {
            src: client,
            dst: server,
            srcport: client_port,
            dstport: server_port,
            protocol,
            accept: true,
            egress: eni_is_client,
            traffic_path: eni_is_client.then_some(peer.path),
            pkt_src: pkt_client,
            pkt_dst: server,
            src_service: client_service,
            dst_service: server_service,
        };
        let s2c = FlowDims {
            src: server,
            dst: client,
            srcport: server_port,
            dstport: client_port,
            protocol,
            accept: true,
            egress: !eni_is_client,
            traffic_path: (!eni_is_client).then_some(peer.path),
            pkt_src: server,
            pkt_dst: pkt_client,
            src_service: server_service,
            dst_service: client_service,
        };
        let d = &mut self.dice;
        let rate = 10f64.powf(d.float(0.0, 3.5));
        Conn {
            c2s,
            s2c,
            remaining: lifetime,
            fresh,
            rate: [rate, rate * d.float(0.5, 1.5)],
            size: [d.float(60.0, 600.0), d.float(200.0, 1500.0)],
        }
    }

    /// A new long-lived connection (`fresh` = it opens in the coming window).
    fn long_conn(&mut self, eni: &Eni, fresh: bool) -> Conn {
        if self.fl.traffic == Traffic::Internet {
            let lifetime = self.dice.range(2, 10) as u32;
            let lifetime = if fresh {
                lifetime
            } else {
                self.dice.range(1, u64::from(lifetime)) as u32
            };
            return self.internet_conn(eni, lifetime, fresh);
        }
        let v6 = eni.ipv6.is_some() && self.dice.chance(0.4);
        let lifetime = if self.dice.chance(0.3) {
            self.dice.range(60, 600) as u32
        } else {
            self.dice.range(2, 30) as u32
        };
        // Pre-existing connections are somewhere in their life.
        let lifetime = if fresh {
            lifetime
        } else {
            self.dice.range(1, u64::from(lifetime)) as u32
        };
        let kind = self.dice.range(0, 99);
        let (peer, client, proto) = if kind < 30 {
            let peered = self.dice.chance(0.1);
            let port = self.dice.pick(&[5432, 3306, 6379, 27017, 9092], 5432);
            let path = if peered { 4 } else { 1 };
            let addr = self.internal(v6, peered);
            (peer(addr, path, None), true, (TCP, port))
        } else if kind < 50 {
            (peer(self.external(v6), 8, None), true, (TCP, 443))
        } else if kind < 60 {
            let d = &mut self.dice;
            let (prefix, service) = if d.chance(0.7) {
                (S3_V4, "S3")
            } else {
                (DDB_V4, "DYNAMODB")
            };
            let addr = Ipv4Addr::new(
                prefix[0],
                prefix[1],
                d.range(0, 255) as u8,
                d.range(1, 254) as u8,
            );
            (peer(IpAddr::V4(addr), 7, Some(service)), true, (TCP, 443))
        } else if kind < 90 {
            let port = self.dice.pick(&[443, 8080, 8443], 443);
            (peer(self.internal(v6, false), 1, None), false, (TCP, port))
        } else {
            let port = self.dice.pick(&[51820, 1194, 4500], 51820);
            (peer(self.external(v6), 8, None), true, (UDP, port))
        };
        self.conn(eni, peer, client, proto, lifetime, fresh)
    }

    /// A connection that opens and closes within one capture window.
    fn short_conn(&mut self, eni: &Eni) -> Conn {
        if self.fl.traffic == Traffic::Internet {
            return self.internet_conn(eni, 1, true);
        }
        let v6 = eni.ipv6.is_some() && self.dice.chance(0.4);
        let kind = self.dice.range(0, 99);
        let (peer, client, proto) = if kind < 40 {
            let port = self.dice.pick(&[80, 8080], 8080);
            (peer(self.internal(v6, false), 1, None), false, (TCP, port))
        } else if kind < 70 {
            (peer(self.external(v6), 8, None), true, (TCP, 443))
        } else if kind < 85 {
            (peer(self.external(v6), 8, None), true, (UDP, 53))
        } else {
            let icmp = if v6 { 58 } else { 1 };
            (peer(self.internal(v6, false), 1, None), false, (icmp, 0))
        };
        self.conn(eni, peer, client, proto, 1, true)
    }

    /// Emit both directions of `conn` for the window starting at `ws`.
    fn emit(&mut self, eni: u32, conn: &Conn, ws: i64, out: &mut Vec<Rec>) {
        let d = &mut self.dice;
        let last = conn.remaining <= 1;
        let tcp = conn.c2s.protocol == TCP;
        let (mut start, mut end) = (
            ws + d.range(0, 5) as i64,
            ws + WINDOW - d.range(0, 5) as i64,
        );
        if conn.fresh {
            start = ws + d.range(0, 40) as i64;
        }
        if last {
            end = (start + d.range(1, 30) as i64).min(ws + WINDOW);
        }
        let (f_c2s, f_s2c) = match (tcp, conn.fresh, last) {
            (false, _, _) => (0, 0),
            (true, true, true) => (3, 19),
            (true, true, false) => (2, 18),
            (true, false, true) => (1, 1),
            (true, false, false) => (0, 0),
        };
        for (i, (dims, flags)) in [(conn.c2s, f_c2s), (conn.s2c, f_s2c)]
            .into_iter()
            .enumerate()
        {
            let mean = if last || conn.fresh {
                (conn.rate[i] * 0.3).max(1.0)
            } else {
                conn.rate[i]
            };
            let packets = ((mean * d.float(0.6, 1.4)).round() as u64).max(1);
            let size = (conn.size[i] * d.float(0.9, 1.1))
                .round()
                .clamp(40.0, 1500.0) as u64;
            let jitter = d.range(0, 1) as i64;
            out.push(Rec {
                eni,
                start: (start + jitter).min(end),
                end,
                body: Body::Flow {
                    dims,
                    packets,
                    bytes: packets * size,
                    tcp_flags: flags,
                },
            });
        }
    }

    /// Emit a port scan of `eni` from one external source.
    fn scan(&mut self, eni_index: u32, eni: &Eni, ws: i64, out: &mut Vec<Rec>) {
        let src = match self.fl.traffic {
            Traffic::Vpc => self.external(false),
            Traffic::Internet => self.public(false),
        };
        let d = &mut self.dice;
        let n = d.range(3, 25) as usize;
        let mut ports = BTreeSet::new();
        while ports.len() < n {
            let port = if d.chance(0.7) {
                d.pick(&SCAN_PORTS, 22)
            } else {
                d.range(1, 65535) as u16
            };
            ports.insert(port);
        }
        let mut ports: Vec<u16> = ports.into_iter().collect();
        d.shuffle(&mut ports);
        let fixed_src_port = d.chance(0.5).then(|| ephemeral(d));
        let dst = IpAddr::V4(eni.ipv4);
        for port in ports {
            let packets = d.range(1, 2);
            let bytes = (0..packets).map(|_| d.range(40, 60)).sum();
            let start = ws + d.range(0, 58) as i64;
            let dims = FlowDims {
                src,
                dst,
                srcport: fixed_src_port.unwrap_or_else(|| ephemeral(d)),
                dstport: port,
                protocol: TCP,
                accept: false,
                egress: false,
                traffic_path: None,
                pkt_src: src,
                pkt_dst: dst,
                src_service: None,
                dst_service: None,
            };
            out.push(Rec {
                eni: eni_index,
                start,
                end: start + d.range(0, 1) as i64,
                body: Body::Flow {
                    dims,
                    packets,
                    bytes,
                    tcp_flags: 2,
                },
            });
        }
    }

    /// Generate all records of the capture window starting at `ws` (epoch seconds).
    pub(crate) fn window(&mut self, ws: i64, out: &mut Vec<Rec>) {
        let fl = self.fl;
        let first = self.windows_done == 0;
        let scan_targets = self.scan_targets();
        for (e, eni) in fl.enis.iter().enumerate() {
            let e32 = e as u32;
            let before = out.len();
            if eni.role == Role::Busy {
                if first {
                    self.conns[e] = (0..self.long_conns())
                        .map(|_| self.long_conn(eni, false))
                        .collect();
                }
                let mut conns = std::mem::take(&mut self.conns[e]);
                for conn in &mut conns {
                    self.emit(e32, conn, ws, out);
                    if conn.remaining <= 1 {
                        *conn = self.long_conn(eni, true);
                    } else {
                        conn.remaining -= 1;
                        conn.fresh = false;
                    }
                }
                self.conns[e] = conns;
            }
            let flows = self.flows_per_eni as u64;
            let shorts = match (self.fl.traffic, eni.role) {
                (Traffic::Vpc, Role::Busy) => self.dice.range(0, 4),
                (Traffic::Vpc, Role::Idle) => u64::from(self.dice.chance(0.3)),
                (Traffic::Internet, Role::Busy) => self.dice.range(flows, 3 * flows),
                (Traffic::Internet, Role::Idle) => self.dice.range(0, 2),
            };
            for _ in 0..shorts {
                let conn = self.short_conn(eni);
                self.emit(e32, &conn, ws, out);
            }
            for _ in scan_targets.iter().filter(|&&target| target == e32) {
                self.scan(e32, eni, ws, out);
            }
            if out.len() == before {
                out.push(self.status_record(e32, ws, Body::NoData));
            }
            // Guarantee one SKIPDATA in flow log 0; otherwise rare.
            let forced = fl.index == 0 && e == 0 && self.windows_done == 2;
            if forced || self.dice.chance(0.002) {
                out.push(self.status_record(e32, ws, Body::SkipData));
            }
        }
        self.windows_done += 1;
    }

    /// Long-lived connections per busy ENI: on the internet most are short.
    fn long_conns(&self) -> usize {
        match self.fl.traffic {
            Traffic::Vpc => self.flows_per_eni,
            Traffic::Internet => self.flows_per_eni.div_ceil(4),
        }
    }

    /// The ENIs scanned in the coming window (decided before the ENI loop:
    /// NODATA needs to know). Inside a VPC a public ENI now and then; on the
    /// internet every ENI, by one to three scanners a window.
    fn scan_targets(&mut self) -> Vec<u32> {
        let enis = self.fl.enis.len() as u32;
        match self.fl.traffic {
            Traffic::Vpc if self.dice.chance(0.4) => {
                let public: Vec<u32> = (0..enis)
                    .filter(|&e| self.fl.enis[e as usize].public)
                    .collect();
                vec![self.dice.pick(&public, 0)]
            }
            Traffic::Vpc => Vec::new(),
            Traffic::Internet => (0..self.dice.range(1, 3))
                .map(|_| self.dice.index(enis as usize) as u32)
                .collect(),
        }
    }

    fn status_record(&mut self, eni: u32, ws: i64, body: Body) -> Rec {
        Rec {
            eni,
            start: ws + self.dice.range(0, 5) as i64,
            end: ws + WINDOW - self.dice.range(0, 5) as i64,
            body,
        }
    }
}

fn peer(addr: IpAddr, path: u8, service: Option<&'static str>) -> Peer {
    Peer {
        addr,
        path,
        service,
    }
}
