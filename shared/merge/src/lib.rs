//! The continuing-flow merge and its conservation accounting.
//!
//! Records merge when all dimensions are equal and their time ranges are
//! contiguous: ordered by `start`, `next.start <= current.end + max_gap`.
//! Metrics fold by role: sums (`packets`, `bytes`, `packets-lost-*`, `records`),
//! `start` min, `end` max, `tcp-flags` OR. The fold is associative and
//! commutative, so merging partial results again gives the same rows as merging
//! everything at once — which is what lets a window be merged in parallel parts.
//!
//! ```
//! use flowlog::{FlowTable, parse_object};
//! use merge::{MaxGap, merge, totals_by_account};
//!
//! let mut raw = FlowTable::new();
//! parse_object("f", b"2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 1 40 100 159 ACCEPT OK\n\
//!                     2 1 eni-1 10.0.0.1 10.0.0.2 443 1024 6 2 80 160 219 ACCEPT OK\n", &mut raw);
//! let merged = merge(raw.clone(), MaxGap::default());
//! assert_eq!(merged.rows(), 1);
//! assert_eq!(totals_by_account(&raw), totals_by_account(&merged));
//! ```

mod gap;
mod totals;

use std::cmp::Ordering;

use flowlog::{FlowTable, MetricColumn, NULL, Role};

pub use gap::{BadGap, MaxGap};
pub use totals::{Totals, totals_by_account};

/// Merges continuing flows. The result is sorted by dimensions (in sort order),
/// then `start`; dictionaries are canonical (code order is value order).
pub fn merge(mut table: FlowTable, gap: MaxGap) -> FlowTable {
    table.canonicalize();
    let order = sorted_order(&table);
    let start = table.metric_index("start");
    let end = table.metric_index("end");
    let roles: Vec<Role> = table.metrics().iter().map(|m| m.def.role).collect();
    let width = table.dims().len();

    let (dims, metrics, codes) = table.into_parts();
    let mut out_codes: Vec<u32> = Vec::new();
    let mut out: Vec<Vec<i64>> = vec![Vec::new(); metrics.len()];
    let mut previous: Option<usize> = None;
    for &row in &order {
        let row = row as usize;
        let key = &codes[row * width..(row + 1) * width];
        let joins = previous.is_some_and(|p| {
            key == &codes[p * width..(p + 1) * width]
                && contiguous(&out, start, end, &metrics, row, gap)
        });
        if joins {
            for ((acc, column), role) in out.iter_mut().zip(&metrics).zip(&roles) {
                if let Some(last) = acc.last_mut() {
                    *last = fold(*role, *last, column.values[row]);
                }
            }
        } else {
            out_codes.extend_from_slice(key);
            for (acc, column) in out.iter_mut().zip(&metrics) {
                acc.push(column.values[row]);
            }
        }
        previous = Some(row);
    }
    let metrics = metrics
        .into_iter()
        .zip(out)
        .map(|(column, values)| MetricColumn {
            def: column.def,
            values,
        })
        .collect();
    FlowTable::from_parts(dims, metrics, out_codes)
}

/// Whether `row` continues the run being folded into the last output row.
fn contiguous(
    out: &[Vec<i64>],
    start: Option<usize>,
    end: Option<usize>,
    metrics: &[MetricColumn],
    row: usize,
    gap: MaxGap,
) -> bool {
    match gap {
        MaxGap::Never => false,
        MaxGap::Window => true,
        MaxGap::Seconds(gap) => {
            let (Some(start), Some(end)) = (start, end) else {
                return false;
            };
            let next_start = metrics[start].values[row];
            let run_end = out[end].last().copied().unwrap_or(NULL);
            next_start != NULL && run_end != NULL && next_start <= run_end.saturating_add(gap)
        }
    }
}

/// Folds one metric value into an accumulated one; null is the identity.
fn fold(role: Role, acc: i64, value: i64) -> i64 {
    match (acc, value) {
        (NULL, v) | (v, NULL) => v,
        (a, v) => match role {
            Role::Sum => a.saturating_add(v),
            Role::Min => a.min(v),
            Role::Max => a.max(v),
            Role::Or => a | v,
            Role::Dimension => a,
        },
    }
}

/// Row order: dimension codes, then `start`, `end`, then every other metric, so
/// the order (and hence the output) does not depend on input order.
fn sorted_order(table: &FlowTable) -> Vec<u32> {
    let mut keys: Vec<&[i64]> = Vec::new();
    for name in ["start", "end"] {
        if let Some(values) = table.metric(name) {
            keys.push(values);
        }
    }
    for column in table.metrics() {
        if column.def.name != "start" && column.def.name != "end" {
            keys.push(&column.values);
        }
    }
    let mut order: Vec<u32> = (0..table.rows() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        table.row(a).cmp(table.row(b)).then_with(|| {
            keys.iter()
                .map(|k| k[a].cmp(&k[b]))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
    });
    order
}

#[cfg(test)]
mod tests;
