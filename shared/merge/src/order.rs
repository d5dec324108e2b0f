//! The merge's row order: dimensions in value order, then `start`, `end`, then
//! every other metric, so the order (and hence the output) does not depend on
//! input order.
//!
//! Rows are first grouped into flows (equal dimensions) by hashing their
//! codes, so only one row per flow is translated to canonical codes and
//! ordered; a flow has a few records, so that is a fraction of the rows. Each
//! flow gets a packed `u128` key: its canonical codes, each in just the bits
//! its dictionary needs; flows whose keys tie (when not every dimension fits)
//! are ordered by all their codes. Rows are then bucketed by their flow's rank
//! and each flow's rows ordered by their metrics.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use flowlog::MetricColumn;
use hashbrown::{DefaultHashBuilder, HashTable};

/// Rows in merge order.
pub(crate) struct Sorted {
    /// Row indices, sorted.
    pub rows: Vec<u32>,
    /// The flow (its rank) of each sorted row: a flow's rows are adjacent.
    pub flow: Vec<u32>,
    /// Canonical dimension codes of each flow, by rank, `width` per flow.
    codes: Vec<u32>,
    width: usize,
}

impl Sorted {
    /// The canonical dimension codes of a flow.
    pub fn flow_codes(&self, flow: u32) -> &[u32] {
        &self.codes[flow as usize * self.width..][..self.width]
    }
}

/// Sorts rows given as row-major `codes` (`remaps.len()` per row) and their
/// metric columns; `remaps[dim][code]` is a code's canonical code (code order
/// is value order).
pub(crate) fn sort(codes: &[u32], remaps: &[Vec<u32>], metrics: &[MetricColumn]) -> Sorted {
    sort_with_key_bits(codes, remaps, metrics, u128::BITS)
}

/// [`sort`] with a flow key of at most `key_bits` bits (tests use narrow keys
/// to exercise the tie-breaking path).
pub(crate) fn sort_with_key_bits(
    codes: &[u32],
    remaps: &[Vec<u32>],
    metrics: &[MetricColumn],
    key_bits: u32,
) -> Sorted {
    let width = remaps.len();
    let rows = metrics.first().map_or(0, |m| m.values.len());
    let flows = Flows::group(codes, width, rows);
    let canonical = flows.canonical_codes(codes, remaps);
    let rank = rank_flows(&canonical, flows.first.len(), remaps, key_bits);
    let rank_of_row: Vec<u32> = flows.of_row.iter().map(|&f| rank[f as usize]).collect();
    let sorted = bucket_rows(&rank_of_row, rank.len(), &MetricOrder::new(metrics));
    let mut by_rank = vec![0u32; canonical.len()];
    for (flow, &r) in rank.iter().enumerate() {
        by_rank[r as usize * width..][..width].copy_from_slice(row_codes(&canonical, width, flow));
    }
    Sorted {
        flow: sorted
            .iter()
            .map(|&row| rank_of_row[row as usize])
            .collect(),
        rows: sorted,
        codes: by_rank,
        width,
    }
}

/// Rows ordered by their flow's rank (a counting sort), each flow's rows
/// then by `order`.
fn bucket_rows(rank_of_row: &[u32], flows: usize, order: &MetricOrder<'_>) -> Vec<u32> {
    let mut offsets = vec![0u32; flows + 1];
    for &rank in rank_of_row {
        offsets[rank as usize + 1] += 1;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    let mut sorted = vec![0u32; rank_of_row.len()];
    let mut next = offsets.clone();
    for (row, &rank) in rank_of_row.iter().enumerate() {
        let slot = &mut next[rank as usize];
        sorted[*slot as usize] = row as u32;
        *slot += 1;
    }
    for bucket in offsets.windows(2) {
        let rows = &mut sorted[bucket[0] as usize..bucket[1] as usize];
        if rows.len() > 1 {
            rows.sort_unstable_by(|&a, &b| order.compare(a as usize, b as usize));
        }
    }
    sorted
}

fn row_codes(codes: &[u32], width: usize, row: usize) -> &[u32] {
    &codes[row * width..][..width]
}

/// Rows grouped by their dimension codes.
struct Flows {
    /// The flow of each row, numbered in order of first appearance.
    of_row: Vec<u32>,
    /// The first row of each flow.
    first: Vec<u32>,
}

impl Flows {
    fn group(codes: &[u32], width: usize, rows: usize) -> Flows {
        let hasher = DefaultHashBuilder::default();
        let mut table: HashTable<u32> = HashTable::with_capacity(rows);
        let mut first: Vec<u32> = Vec::new();
        let mut of_row = Vec::with_capacity(rows);
        for row in 0..rows {
            let key = row_codes(codes, width, row);
            let hash = hasher.hash_one(key);
            let flow = match table.find(hash, |&f| {
                row_codes(codes, width, first[f as usize] as usize) == key
            }) {
                Some(&flow) => flow,
                None => {
                    let flow = first.len() as u32;
                    first.push(row as u32);
                    table.insert_unique(hash, flow, |&f| {
                        hasher.hash_one(row_codes(codes, width, first[f as usize] as usize))
                    });
                    flow
                }
            };
            of_row.push(flow);
        }
        Flows { of_row, first }
    }

    /// The canonical codes of each flow's dimensions, `remaps.len()` per flow.
    fn canonical_codes(&self, codes: &[u32], remaps: &[Vec<u32>]) -> Vec<u32> {
        let width = remaps.len();
        let mut canonical = Vec::with_capacity(self.first.len() * width);
        for &row in &self.first {
            let row = row_codes(codes, width, row as usize);
            canonical.extend(
                row.iter()
                    .zip(remaps)
                    .map(|(&code, remap)| remap[code as usize]),
            );
        }
        canonical
    }
}

/// The rank of each flow (given by its canonical codes) in value order.
fn rank_flows(canonical: &[u32], flows: usize, remaps: &[Vec<u32>], key_bits: u32) -> Vec<u32> {
    let width = remaps.len();
    let packer = Packer::new(remaps, key_bits);
    let mut keyed: Vec<(u128, u32)> = (0..flows)
        .map(|flow| (packer.key(row_codes(canonical, width, flow)), flow as u32))
        .collect();
    keyed.sort_unstable();
    if !packer.complete {
        for tied in keyed.chunk_by_mut(|a, b| a.0 == b.0) {
            tied.sort_unstable_by(|a, b| {
                row_codes(canonical, width, a.1 as usize).cmp(row_codes(
                    canonical,
                    width,
                    b.1 as usize,
                ))
            });
        }
    }
    let mut rank = vec![0u32; keyed.len()];
    for (r, &(_, flow)) in keyed.iter().enumerate() {
        rank[flow as usize] = r as u32;
    }
    rank
}

/// The order of a flow's rows: `start`, `end`, then every other metric
/// (columns looked up once, not per comparison).
pub(crate) struct MetricOrder<'a> {
    metrics: Vec<&'a [i64]>,
    indices: Vec<usize>,
}

impl<'a> MetricOrder<'a> {
    pub(crate) fn new(metrics: &'a [MetricColumn]) -> Self {
        let position = |name| metrics.iter().position(|m| m.def.name == name);
        let named = ["start", "end"].into_iter().filter_map(position);
        let others = (0..metrics.len())
            .filter(|&i| metrics[i].def.name != "start" && metrics[i].def.name != "end");
        let indices: Vec<usize> = named.chain(others).collect();
        MetricOrder {
            metrics: indices.iter().map(|&i| &metrics[i].values[..]).collect(),
            indices,
        }
    }

    /// The metric columns by index, in the order rows compare by.
    pub(crate) fn indices(self) -> Vec<usize> {
        self.indices
    }

    pub(crate) fn compare(&self, a: usize, b: usize) -> Ordering {
        self.metrics
            .iter()
            .map(|values| values[a].cmp(&values[b]))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// How a flow's leading codes pack into a key, most significant first.
struct Packer {
    /// Bits of each packed dimension (a prefix of the dimensions).
    dim_bits: Vec<u32>,
    /// Whether every dimension is packed (then keys never tie).
    complete: bool,
}

impl Packer {
    fn new(remaps: &[Vec<u32>], key_bits: u32) -> Packer {
        let mut used = 0;
        let mut dim_bits = Vec::new();
        for remap in remaps {
            // Codes run from 0 (null) to the dictionary's size.
            let bits = bits_for(remap.len().saturating_sub(1) as u64);
            if used + bits > key_bits {
                break;
            }
            used += bits;
            dim_bits.push(bits);
        }
        Packer {
            complete: dim_bits.len() == remaps.len(),
            dim_bits,
        }
    }

    fn key(&self, codes: &[u32]) -> u128 {
        let mut key = 0u128;
        let mut used = 0;
        for (&code, &bits) in codes.iter().zip(&self.dim_bits) {
            key = key << bits | u128::from(code);
            used += bits;
        }
        // Left-align, so keys of any width compare as their fields do.
        if used == 0 {
            0
        } else {
            key << (u128::BITS - used)
        }
    }
}

/// Bits that hold every value from 0 to `max`.
fn bits_for(max: u64) -> u32 {
    u64::BITS - max.leading_zeros()
}
