//! Deliveries of one flow log: every 5 minutes a file (or two, split by ENI)
//! with the records of the five capture windows before the delivery minute,
//! shuffled a little, sometimes as two gzip members, with planned bad lines.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::GenError;
use crate::encode::{Delivery, encode, source_format};
use crate::format::{Defect, push_record};
use crate::model::FlowLog;
use crate::rng::Dice;
use crate::traffic::{Body, FlowDims, Rec, Sim, WINDOW};
use crate::truth::{Totals, Truth};
use crate::write::{window_key, write_file};

/// Minutes between deliveries of one flow log.
pub(crate) const DELIVERY_EVERY: u32 = 5;
/// A delivery with more records than this is split into two files by ENI.
pub(crate) const SPLIT_RECORDS: usize = 1000;

/// Delivery minutes (epoch seconds) of `fl` within `[start, start + minutes)`.
pub(crate) fn deliveries(fl: &FlowLog, start: i64, minutes: u32) -> Vec<i64> {
    (0..minutes)
        .filter(|m| m % DELIVERY_EVERY == fl.offset)
        .map(|m| start + i64::from(m) * WINDOW)
        .collect()
}

/// Start of the first capture window of a delivery: a file holds the five
/// 60-second capture windows before its delivery minute.
///
/// (AWS's own documentation example labels a file with the start of the
/// 5-minute span of its records' *end* times instead; for a compactor only the
/// window given by the stamp matters, so this is the one place to change if
/// that convention is wanted.)
pub(crate) fn first_capture(delivery: i64) -> i64 {
    delivery - i64::from(DELIVERY_EVERY) * WINDOW
}

/// Shuffle records "a bit": local swaps within a small neighbourhood plus a few
/// long-range swaps, like AWS files that are neither sorted nor random.
fn shuffle_a_bit(recs: &mut [Rec], dice: &mut Dice) {
    let n = recs.len();
    for i in 0..n {
        let j = i + dice.index((n - i).min(32));
        recs.swap(i, j);
    }
    for _ in 0..n / 20 {
        let (i, j) = (dice.index(n), dice.index(n));
        recs.swap(i, j);
    }
}

/// A plausible record used as the base of a bad line.
fn bad_base(eni: u32, ws: i64, fl: &FlowLog) -> Rec {
    let own = IpAddr::V4(
        fl.enis
            .get(eni as usize)
            .map_or(Ipv4Addr::LOCALHOST, |e| e.ipv4),
    );
    let peer = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));
    Rec {
        eni,
        start: ws + 3,
        end: ws + 57,
        body: Body::Flow {
            dims: FlowDims {
                src: own,
                dst: peer,
                srcport: 44321,
                dstport: 443,
                protocol: 6,
                accept: true,
                egress: true,
                traffic_path: Some(8),
                pkt_src: own,
                pkt_dst: peer,
                src_service: None,
                dst_service: None,
            },
            packets: 10,
            bytes: 4200,
            tcp_flags: 0,
        },
    }
}

/// Render one file: header, records (with bad lines inserted), returning the
/// text and the totals of its valid records.
fn render(
    fl: &FlowLog,
    recs: &[Rec],
    defects: &[Defect],
    bad_dice: &mut Dice,
    last_ws: i64,
) -> (String, Option<Totals>) {
    let mut text = String::with_capacity(recs.len() * 130 + 512);
    fl.format.push_header(&mut text);
    // Bad line k goes before record positions[k]; never first in a file that has
    // records (a headerless file must still start with a good record).
    let mut positions: Vec<(usize, Defect)> = defects
        .iter()
        .map(|&d| (bad_dice.range(1, recs.len() as u64) as usize, d))
        .collect();
    positions.sort_by_key(|p| p.0);
    let base_eni = recs.first().map_or(0, |r| r.eni);
    let bad = bad_base(base_eni, last_ws, fl);
    let mut next_bad = positions.iter().peekable();
    let mut totals: Option<Totals> = None;
    for (i, rec) in recs.iter().enumerate() {
        while let Some((_, d)) = next_bad.next_if(|p| p.0 == i) {
            push_record(&mut text, fl, &bad, Some(*d));
        }
        push_record(&mut text, fl, rec, None);
        let (packets, bytes) = rec.volume();
        let one = Totals::one(packets, bytes, rec.start, rec.end);
        match &mut totals {
            Some(t) => t.add(&one),
            None => totals = Some(one),
        }
    }
    for (_, d) in next_bad {
        push_record(&mut text, fl, &bad, Some(*d));
    }
    (text, totals)
}

/// Generate and write all deliveries of one flow log.
///
/// `bad` holds, per delivery (same order as [`deliveries`]), the defects of the
/// bad lines to mix into that delivery's first file.
pub(crate) fn run_flow_log(
    root: &Path,
    fl: &FlowLog,
    flows_per_eni: usize,
    start: i64,
    minutes: u32,
    kind: Delivery,
    bad: &[Vec<Defect>],
) -> Result<Truth, GenError> {
    let mut truth = Truth::default();
    if let Some((source, format)) = source_format(fl, kind) {
        truth.formats.insert(source, format);
    }
    let mut sim = Sim::new(fl, flows_per_eni);
    let mut aux = Dice::derived(fl.seed, 2);
    let mut bad_dice = Dice::derived(fl.seed, 3);
    let mut recs = Vec::new();
    let half = fl.enis.len().div_ceil(2) as u32;
    for (di, delivery) in deliveries(fl, start, minutes).into_iter().enumerate() {
        recs.clear();
        let first_ws = first_capture(delivery);
        for w in 0..i64::from(DELIVERY_EVERY) {
            sim.window(first_ws + w * WINDOW, &mut recs);
        }
        let parts: Vec<Vec<Rec>> = if recs.len() > SPLIT_RECORDS && fl.enis.len() >= 2 {
            let (a, b) = recs.iter().partition(|r| r.eni < half);
            vec![a, b]
        } else {
            vec![std::mem::take(&mut recs)]
        };
        let window = window_key(delivery)?;
        let defects_here = bad.get(di).map_or(&[][..], |v| &v[..]);
        for (pi, mut part) in parts.into_iter().enumerate() {
            shuffle_a_bit(&mut part, &mut aux);
            // Parquet columns are typed: AWS writes no malformed values.
            let defects = if pi == 0 && kind != Delivery::Parquet {
                defects_here
            } else {
                &[]
            };
            let last_ws = delivery - WINDOW;
            let (text, totals) = render(fl, &part, defects, &mut bad_dice, last_ws);
            let object = encode(fl, kind, delivery, &text, di == 0 && pi == 0, &mut aux)?;
            truth.bytes += write_file(root, &object.path, &object.bytes)?;
            truth.control_messages += object.control_messages;
            truth.files += 1;
            truth.records += part.len() as u64;
            truth.bad_lines += defects.len() as u64;
            truth.lines += (part.len() + defects.len()) as u64;
            if let Some(t) = totals {
                truth.add_record(&window, &fl.account, &t);
            }
        }
    }
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GenerateOptions;
    use crate::model::build;

    #[test]
    fn delivery_schedule_and_contiguity() {
        let opts = GenerateOptions::default();
        let fls = build(&opts, &mut Dice::new(1));
        let start = opts.start.timestamp();
        for fl in &fls {
            let d = deliveries(fl, start, 10);
            assert_eq!(d.len(), 2);
            assert_eq!(d[1] - d[0], 300);
        }
        // Records of a long-lived flow over consecutive windows are contiguous.
        let fl = &fls[0];
        let mut sim = Sim::new(fl, 4);
        let mut recs = Vec::new();
        for w in 0..5 {
            sim.window(start + w * WINDOW, &mut recs);
        }
        for r in &recs {
            assert!(r.start <= r.end);
            if let Body::Flow { packets, bytes, .. } = r.body {
                assert!(packets >= 1);
                assert!(bytes >= packets * 40 && bytes <= packets * 1500);
            }
        }
    }

    #[test]
    fn bad_lines_are_never_first() {
        let opts = GenerateOptions::default();
        let fls = build(&opts, &mut Dice::new(1));
        let fl = &fls[1]; // headerless v2
        let recs = vec![bad_base(0, 0, fl), bad_base(0, 60, fl)];
        let (text, totals) = render(fl, &recs, &Defect::ALL, &mut Dice::new(3), 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0].split(' ').count(), 14);
        assert!(lines[0].ends_with(" OK"));
        assert_eq!(totals.map(|t| t.records), Some(2));
    }
}
