//! Conservation accounting: per-account totals that must be equal between raw
//! input and merged output.

use std::collections::BTreeMap;

use flowlog::{FlowTable, NULL, Role, Value};
use serde::{Deserialize, Serialize};

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

/// Totals per value of `account-id` (`-` for null or an absent column).
pub fn totals_by_account(table: &FlowTable) -> BTreeMap<String, Totals> {
    let account = table.dims().iter().position(|d| d.def.name == "account-id");
    let mut per_code: BTreeMap<u32, Totals> = BTreeMap::new();
    for row in 0..table.rows() {
        let code = account.map_or(0, |dim| table.row(row)[dim]);
        let totals = per_code.entry(code).or_default();
        for column in table.metrics() {
            let value = column.values[row];
            if value == NULL {
                continue;
            }
            match column.def.role {
                Role::Sum => *totals.sums.entry(column.def.name.to_string()).or_default() += value,
                Role::Min => totals.start_min = min_opt(totals.start_min, Some(value)),
                Role::Max => totals.end_max = max_opt(totals.end_max, Some(value)),
                Role::Or | Role::Dimension => {}
            }
        }
    }
    let mut out: BTreeMap<String, Totals> = BTreeMap::new();
    for (code, totals) in per_code {
        let name = match account.map(|dim| table.dims()[dim].dict.value(code)) {
            Some(Value::Str(s)) => s.to_owned(),
            Some(Value::Int(i)) => i.to_string(),
            Some(Value::Null) | None => "-".to_owned(),
        };
        out.entry(name).or_default().add(&totals);
    }
    out
}
