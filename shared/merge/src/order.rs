//! The merge's row order: dimension codes, then `start`, `end`, then every
//! other metric, so the order (and hence the output) does not depend on input
//! order.
//!
//! Comparing rows field by field is most of the cost of a merge, so each row
//! first gets a packed `u128` key: the codes of the leading dimensions (and
//! `start`, if they all fit), each in just the bits its dictionary needs. Keys
//! compare like the fields they pack, and rows whose keys tie are ordered by
//! the full comparison. With the usual dictionary sizes every dimension fits,
//! and a tie means an exact duplicate of dimensions and `start`.

use std::cmp::Ordering;
use std::ops::Range;

use flowlog::{FlowTable, NULL};

/// Rows in merge order.
pub(crate) struct Sorted {
    /// Row indices, sorted.
    pub rows: Vec<u32>,
    /// `same_flow[i]`: `rows[i]` has the dimensions of `rows[i - 1]`.
    pub same_flow: Vec<bool>,
}

/// Sorts a canonical table's rows (code order must be value order).
pub(crate) fn sort(table: &FlowTable) -> Sorted {
    sort_with_key_bits(table, u128::BITS)
}

/// [`sort`] with a key of at most `key_bits` bits (tests use narrow keys to
/// exercise the tie-breaking path).
pub(crate) fn sort_with_key_bits(table: &FlowTable, key_bits: u32) -> Sorted {
    let packer = Packer::new(table, key_bits);
    let mut keyed: Vec<(u128, u32)> = (0..table.rows())
        .map(|row| (packer.key(table, row), row as u32))
        .collect();
    keyed.sort_unstable();
    let full = FullOrder::new(table);
    for run in tied_runs(&keyed) {
        keyed[run].sort_unstable_by(|a, b| full.compare(a.1 as usize, b.1 as usize));
    }
    let same_flow = (0..keyed.len())
        .map(|i| {
            i > 0
                && match packer.dims_shift {
                    Some(shift) => {
                        let dims = |key: u128| key.checked_shr(shift).unwrap_or(0);
                        dims(keyed[i].0) == dims(keyed[i - 1].0)
                    }
                    None => table.row(keyed[i].1 as usize) == table.row(keyed[i - 1].1 as usize),
                }
        })
        .collect();
    Sorted {
        rows: keyed.into_iter().map(|(_, row)| row).collect(),
        same_flow,
    }
}

/// Ranges of two or more rows with equal keys.
fn tied_runs(keyed: &[(u128, u32)]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for chunk in keyed.chunk_by(|a, b| a.0 == b.0) {
        if chunk.len() > 1 {
            runs.push(start..start + chunk.len());
        }
        start += chunk.len();
    }
    runs
}

/// The full order of rows: dimension codes, then `start`, `end`, then every
/// other metric (columns looked up once, not per comparison).
pub(crate) struct FullOrder<'a> {
    table: &'a FlowTable,
    metrics: Vec<&'a [i64]>,
}

impl<'a> FullOrder<'a> {
    pub(crate) fn new(table: &'a FlowTable) -> Self {
        let named = ["start", "end"]
            .into_iter()
            .filter_map(|name| table.metric(name));
        let others = table
            .metrics()
            .iter()
            .filter(|m| m.def.name != "start" && m.def.name != "end")
            .map(|m| &m.values[..]);
        FullOrder {
            table,
            metrics: named.chain(others).collect(),
        }
    }

    pub(crate) fn compare(&self, a: usize, b: usize) -> Ordering {
        self.table.row(a).cmp(self.table.row(b)).then_with(|| {
            self.metrics
                .iter()
                .map(|values| values[a].cmp(&values[b]))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
    }
}

/// How a row's leading fields pack into a key, most significant first.
struct Packer {
    /// Bits of each packed dimension (a prefix of the dimensions).
    dim_bits: Vec<u32>,
    /// `start` as an offset from its minimum (null = 0), when every
    /// dimension is packed and it fits too: (column, minimum, bits).
    start: Option<(usize, i64, u32)>,
    /// Right shift of a key that leaves only the dimensions, when all are packed.
    dims_shift: Option<u32>,
}

impl Packer {
    fn new(table: &FlowTable, key_bits: u32) -> Packer {
        let mut used = 0;
        let mut dim_bits = Vec::new();
        for dim in table.dims() {
            let bits = bits_for(dim.dict.len() as u64);
            if used + bits > key_bits {
                break;
            }
            used += bits;
            dim_bits.push(bits);
        }
        let all_dims = dim_bits.len() == table.dims().len();
        let start = table
            .metric_index("start")
            .filter(|_| all_dims)
            .and_then(|column| {
                let values = &table.metrics()[column].values;
                let mut present = values.iter().copied().filter(|&v| v != NULL);
                let first = present.next().unwrap_or(0);
                let (min, max) = present.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)));
                let bits = bits_for(max.abs_diff(min) + 1);
                (used + bits <= key_bits).then_some((column, min, bits))
            });
        Packer {
            dim_bits,
            start,
            dims_shift: all_dims.then_some(u128::BITS - used),
        }
    }

    fn key(&self, table: &FlowTable, row: usize) -> u128 {
        let mut key = 0u128;
        let mut used = 0;
        for (&code, &bits) in table.row(row).iter().zip(&self.dim_bits) {
            key = key << bits | u128::from(code);
            used += bits;
        }
        if let Some((column, min, bits)) = self.start {
            let value = table.metrics()[column].values[row];
            let offset = if value == NULL {
                0
            } else {
                value.abs_diff(min) + 1
            };
            key = key << bits | u128::from(offset);
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
