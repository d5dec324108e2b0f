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
mod order;
mod stream;
mod totals;

use flowlog::{FlowTable, MetricColumn, NULL, Role};

pub use gap::{BadGap, MaxGap};
pub use stream::SortedMerge;
pub use totals::{Totals, Unconserved, add_totals, check_conservation, totals_by_account};

/// Merges continuing flows. The result is sorted by dimensions (in sort order),
/// then `start`; dictionaries are canonical (code order is value order).
pub fn merge(table: FlowTable, gap: MaxGap) -> FlowTable {
    let (mut dims, metrics, codes) = table.into_parts();
    let remaps: Vec<Vec<u32>> = dims.iter_mut().map(|d| d.dict.sort()).collect();
    let sorted = order::sort(&codes, &remaps, &metrics);
    let runs = runs(&metrics, &sorted, gap);
    let mut codes: Vec<u32> = Vec::with_capacity(runs.len() * remaps.len());
    for run in &runs {
        codes.extend_from_slice(sorted.flow_codes(sorted.flow[run.first]));
    }
    let run_of_row = run_of_row(&sorted.rows, &runs);
    let metrics = metrics
        .into_iter()
        .map(|column| MetricColumn {
            values: fold_runs(column.def.role, &column.values, &run_of_row, runs.len()),
            def: column.def,
        })
        .collect();
    FlowTable::from_parts(dims, metrics, codes)
}

/// The values of a metric column by field name.
fn metric<'a>(metrics: &'a [MetricColumn], name: &str) -> Option<&'a [i64]> {
    metrics
        .iter()
        .find(|m| m.def.name == name)
        .map(|m| &m.values[..])
}

/// Sorted rows `first..end` that fold into one output row.
struct Run {
    first: usize,
    end: usize,
}

/// Cuts the sorted rows into runs: a row continues the run before it when its
/// dimensions are equal and `gap` says it is contiguous with the run so far.
fn runs(metrics: &[MetricColumn], sorted: &order::Sorted, gap: MaxGap) -> Vec<Run> {
    let column = |name| metric(metrics, name).unwrap_or(&[]);
    let (start, end) = (column("start"), column("end"));
    let mut runs: Vec<Run> = Vec::new();
    let mut run_end = NULL;
    for (i, &row) in sorted.rows.iter().enumerate() {
        let row = row as usize;
        let continues = i > 0
            && sorted.flow[i] == sorted.flow[i - 1]
            && match gap {
                MaxGap::Never => false,
                MaxGap::Window => true,
                MaxGap::Seconds(gap) => {
                    let next_start = start.get(row).copied().unwrap_or(NULL);
                    next_start != NULL
                        && run_end != NULL
                        && next_start <= run_end.saturating_add(gap)
                }
            };
        match runs.last_mut() {
            Some(run) if continues => run.end = i + 1,
            _ => {
                runs.push(Run {
                    first: i,
                    end: i + 1,
                });
                run_end = NULL;
            }
        }
        run_end = skip_null(i64::max)(run_end, end.get(row).copied().unwrap_or(NULL));
    }
    runs
}

/// The run each (unsorted) row folds into.
fn run_of_row(rows: &[u32], runs: &[Run]) -> Vec<u32> {
    let mut run_of_row = vec![0; rows.len()];
    for (r, run) in runs.iter().enumerate() {
        for &row in &rows[run.first..run.end] {
            run_of_row[row as usize] = r as u32;
        }
    }
    run_of_row
}

/// One metric column of the output: each run's values folded by the role.
/// The folds are commutative, so rows are taken in table order: the column is
/// read straight through and only the (smaller) output is written at random.
fn fold_runs(role: Role, values: &[i64], run_of_row: &[u32], runs: usize) -> Vec<i64> {
    match role {
        Role::Sum => fold_with(values, run_of_row, runs, i64::saturating_add),
        Role::Min => fold_with(values, run_of_row, runs, i64::min),
        Role::Max => fold_with(values, run_of_row, runs, i64::max),
        Role::Or => fold_with(values, run_of_row, runs, |a, b| a | b),
        Role::Dimension => unreachable!("dimensions are not metric columns"),
    }
}

/// Folds each row's value into its run's, skipping nulls (a run of nulls stays null).
fn fold_with(
    values: &[i64],
    run_of_row: &[u32],
    runs: usize,
    fold: impl Fn(i64, i64) -> i64,
) -> Vec<i64> {
    let fold = skip_null(fold);
    let mut folded = vec![NULL; runs];
    for (&value, &run) in values.iter().zip(run_of_row) {
        let acc = &mut folded[run as usize];
        *acc = fold(*acc, value);
    }
    folded
}

/// A fold in which null is the identity.
fn skip_null(fold: impl Fn(i64, i64) -> i64) -> impl Fn(i64, i64) -> i64 {
    move |acc, value| match (acc, value) {
        (NULL, v) | (v, NULL) => v,
        (a, v) => fold(a, v),
    }
}

#[cfg(test)]
mod tests;
