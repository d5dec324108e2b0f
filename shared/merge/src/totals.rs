//! Conservation accounting: per-account totals that must be equal between raw
//! input and merged output.

use std::collections::BTreeMap;
use std::ops::Range;

use flowlog::{FlowTable, NULL, Role, Value};
use serde::{Deserialize, Serialize};

use crate::skip_null;

/// Totals of one account (or of anything): sums of every summed metric
/// (`records`, `packets`, `bytes`, `packets-lost-*`), min `start`, max `end`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum per summed column, by field name.
    pub sums: BTreeMap<String, i64>,
    /// Minimum `start`.
    pub start_min: Option<i64>,
    /// Maximum `end`.
    pub end_max: Option<i64>,
}

impl Totals {
    /// Adds another total into this one.
    pub fn add(&mut self, other: &Totals) {
        for (name, value) in &other.sums {
            *self.sums.entry(name.clone()).or_default() += value;
        }
        self.start_min = min_opt(self.start_min, other.start_min);
        self.end_max = max_opt(self.end_max, other.end_max);
    }

    /// The sum of one column (0 if absent).
    pub fn sum(&self, name: &str) -> i64 {
        self.sums.get(name).copied().unwrap_or(0)
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// An account whose totals differ between input and output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account {account}: input {expected:?}, output {found:?}")]
pub struct Unconserved {
    /// The first account (in order) that differs.
    pub account: String,
    /// Its input totals, if it had input.
    pub expected: Option<Totals>,
    /// Its output totals, if it has output.
    pub found: Option<Totals>,
}

/// Fails unless both sides hold the same accounts with the same totals,
/// naming the first account that differs.
pub fn check_conservation(
    expected: &BTreeMap<String, Totals>,
    found: &BTreeMap<String, Totals>,
) -> Result<(), Box<Unconserved>> {
    match expected
        .keys()
        .chain(found.keys())
        .find(|a| expected.get(*a) != found.get(*a))
    {
        None => Ok(()),
        Some(account) => Err(Box::new(Unconserved {
            account: account.clone(),
            expected: expected.get(account).cloned(),
            found: found.get(account).cloned(),
        })),
    }
}

/// Adds per-account totals into others (of more rows of the same window).
pub fn add_totals(into: &mut BTreeMap<String, Totals>, from: &BTreeMap<String, Totals>) {
    for (account, totals) in from {
        into.entry(account.clone()).or_default().add(totals);
    }
}

/// Totals per value of `account-id` (`-` for null or an absent column).
/// Column by column into per-account arrays: no map lookup per row.
pub fn totals_by_account(table: &FlowTable) -> BTreeMap<String, Totals> {
    let account = table.dims().iter().position(|d| d.def.name == "account-id");
    let accounts = account.map_or(0, |dim| table.dims()[dim].dict.len()) + 1;
    let runs = account_runs(table, account);
    let mut present = vec![false; accounts];
    for run in &runs {
        present[run.code] = true;
    }
    let mut per_code = vec![Totals::default(); accounts];
    for column in table.metrics() {
        let folded = match column.def.role {
            Role::Sum => fold_per_code(&runs, &column.values, accounts, i64::saturating_add),
            Role::Min => fold_per_code(&runs, &column.values, accounts, i64::min),
            Role::Max => fold_per_code(&runs, &column.values, accounts, i64::max),
            Role::Or | Role::Dimension => continue,
        };
        for (totals, &value) in per_code
            .iter_mut()
            .zip(&folded)
            .filter(|(_, v)| **v != NULL)
        {
            match column.def.role {
                Role::Min => totals.start_min = Some(value),
                Role::Max => totals.end_max = Some(value),
                _ => {
                    totals.sums.insert(column.def.name.to_string(), value);
                }
            }
        }
    }
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for (code, totals) in per_code
        .into_iter()
        .enumerate()
        .filter(|(c, _)| present[*c])
    {
        let name = match account.map(|dim| table.dims()[dim].dict.value(code as u32)) {
            Some(Value::Str(s)) => s.to_owned(),
            Some(Value::Int(i)) => i.to_string(),
            Some(Value::Null) | None => "-".to_owned(),
        };
        out.entry(name).or_default().add(&totals);
    }
    out
}

/// Consecutive rows of one account code.
struct Run {
    code: usize,
    rows: Range<usize>,
}

/// The table's rows as runs of one account code (code 0 for all without
/// the column). Rows come in long runs: a file is one account's.
fn account_runs(table: &FlowTable, account: Option<usize>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for row in 0..table.rows() {
        let code = account.map_or(0, |dim| table.row(row)[dim] as usize);
        match runs.last_mut() {
            Some(run) if run.code == code => run.rows.end = row + 1,
            _ => runs.push(Run {
                code,
                rows: row..row + 1,
            }),
        }
    }
    runs
}

/// Folds a column's non-null values per code: each code's folded value, or
/// null if it had none. Each run is folded in a register before it is added
/// to its code's total.
fn fold_per_code(
    runs: &[Run],
    values: &[i64],
    accounts: usize,
    fold: impl Fn(i64, i64) -> i64,
) -> Vec<i64> {
    let fold = skip_null(fold);
    let mut acc = vec![NULL; accounts];
    for run in runs {
        acc[run.code] = values[run.rows.clone()]
            .iter()
            .fold(acc[run.code], |a, &v| fold(a, v));
    }
    acc
}
