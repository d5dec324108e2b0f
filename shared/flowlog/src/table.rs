//! [`FlowTable`]: typed flow records in memory. Dimensions are interned codes
//! stored row-major (a row's identity is one contiguous `&[u32]`); metrics are
//! `i64` columns. Parsing fills it, merging sorts and folds it, and the Parquet
//! layer converts it to and from Arrow.

use crate::dict::{Dict, IntDict, NULL_CODE, StrDict, Value};
use crate::fields::{ColumnDef, Kind};

/// Null marker inside metric columns (no metric can be negative).
pub const NULL: i64 = i64::MIN;

/// A dimension column: definition plus dictionary.
#[derive(Debug, Clone)]
pub struct DimColumn {
    /// Column definition.
    pub def: ColumnDef,
    /// Values of the codes stored in the table.
    pub dict: Dict,
}

/// A metric column: definition plus one value per row ([`NULL`] for null).
#[derive(Debug, Clone)]
pub struct MetricColumn {
    /// Column definition.
    pub def: ColumnDef,
    /// One value per row.
    pub values: Vec<i64>,
}

/// Where a column lives in a [`FlowTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Index into [`FlowTable::dims`].
    Dim(usize),
    /// Index into [`FlowTable::metrics`].
    Metric(usize),
}

/// Flow records of one or more files, with a union schema.
#[derive(Debug, Clone)]
pub struct FlowTable {
    dims: Vec<DimColumn>,
    metrics: Vec<MetricColumn>,
    codes: Vec<u32>,
    rows: usize,
    /// Rows that columns are allocated for up front.
    expected_rows: usize,
    /// Changes whenever the dictionaries are replaced ([`FlowTable::empty_like`]),
    /// so that a parser's cached codes are known to be stale.
    epoch: u64,
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FlowTable {
    /// An empty table with only the `records` column.
    pub fn new() -> Self {
        Self::with_expected_rows(0)
    }

    /// An empty table whose columns, also those added later, are allocated
    /// for about `rows` rows, so that filling it does not regrow them.
    pub fn with_expected_rows(rows: usize) -> Self {
        FlowTable {
            dims: Vec::new(),
            metrics: vec![MetricColumn {
                def: ColumnDef::records(),
                values: Vec::with_capacity(rows),
            }],
            codes: Vec::new(),
            rows: 0,
            expected_rows: rows,
            epoch: 0,
        }
    }

    /// An empty table with the same columns and fresh dictionaries, allocated
    /// for `rows` rows. Its epoch differs from this table's.
    pub fn empty_like(&self, rows: usize) -> FlowTable {
        let mut empty = FlowTable::with_expected_rows(rows);
        empty.ensure_columns(self.columns());
        empty.epoch = self.epoch + 1;
        empty
    }

    /// The definitions of all columns, dimensions first.
    pub fn columns(&self) -> impl Iterator<Item = &ColumnDef> {
        self.dims
            .iter()
            .map(|d| &d.def)
            .chain(self.metrics.iter().map(|m| &m.def))
    }

    /// Identifies the table's dictionaries: codes taken from the table stay
    /// valid while it is unchanged.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// About how many bytes the table holds on the heap: its codes, metric
    /// values and dictionaries, as allocated.
    pub fn heap_bytes(&self) -> usize {
        let codes = self.codes.capacity() * size_of::<u32>();
        let metrics: usize = self
            .metrics
            .iter()
            .map(|m| m.values.capacity() * size_of::<i64>())
            .sum();
        let dicts: usize = self.dims.iter().map(|d| d.dict.heap_bytes()).sum();
        codes + metrics + dicts
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Dimension columns, in sort order.
    pub fn dims(&self) -> &[DimColumn] {
        &self.dims
    }

    /// Metric columns, in output order (`records` last).
    pub fn metrics(&self) -> &[MetricColumn] {
        &self.metrics
    }

    /// The dimension codes of a row.
    pub fn row(&self, row: usize) -> &[u32] {
        let width = self.dims.len();
        &self.codes[row * width..(row + 1) * width]
    }

    /// The index of a metric column by field name.
    pub fn metric_index(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m.def.name == name)
    }

    /// The values of a metric column by field name.
    pub fn metric(&self, name: &str) -> Option<&[i64]> {
        self.metric_index(name).map(|i| &self.metrics[i].values[..])
    }

    /// The value of a dimension cell.
    pub fn dim_value(&self, dim: usize, row: usize) -> Value<'_> {
        self.dims[dim]
            .dict
            .value(self.codes[row * self.dims.len() + dim])
    }

    /// Finds a column, adding it (null in existing rows) if the table lacks it.
    /// Adding a column moves others, so resolve all columns of a format first.
    pub fn ensure_column(&mut self, def: &ColumnDef) -> Slot {
        self.ensure_columns([def]);
        self.slot(&def.name)
            .unwrap_or_else(|| unreachable!("column ensured above"))
    }

    /// [`FlowTable::ensure_column`] for several columns; existing rows are
    /// rewritten once, however many dimensions are added.
    pub fn ensure_columns<'a>(&mut self, defs: impl IntoIterator<Item = &'a ColumnDef>) {
        let old_width = self.dims.len();
        // For each dimension, its index in the old rows (None: added now).
        let mut source: Vec<Option<usize>> = (0..old_width).map(Some).collect();
        for def in defs {
            if self.slot(&def.name).is_some() {
                continue;
            }
            if def.is_dimension() {
                let at = self
                    .dims
                    .partition_point(|d| d.def.sort_key() < def.sort_key());
                let dict = match def.kind {
                    Kind::Str => Dict::Str(StrDict::default()),
                    Kind::Int32 | Kind::Int64 => Dict::Int(IntDict::default()),
                };
                self.dims.insert(
                    at,
                    DimColumn {
                        def: def.clone(),
                        dict,
                    },
                );
                source.insert(at, None);
            } else {
                let at = self
                    .metrics
                    .partition_point(|m| m.def.output_key() < def.output_key());
                let mut values = Vec::with_capacity(self.rows.max(self.expected_rows));
                values.resize(self.rows, NULL);
                self.metrics.insert(
                    at,
                    MetricColumn {
                        def: def.clone(),
                        values,
                    },
                );
            }
        }
        if self.dims.len() > old_width {
            let mut codes = Vec::with_capacity(self.rows.max(self.expected_rows) * self.dims.len());
            if old_width == 0 {
                codes.resize(self.rows * self.dims.len(), NULL_CODE);
            }
            for row in self.codes.chunks_exact(old_width.max(1)) {
                codes.extend(source.iter().map(|s| s.map_or(NULL_CODE, |i| row[i])));
            }
            self.codes = codes;
        }
    }

    /// The bytes that [`FlowTable::ensure_columns`] with `defs` would
    /// allocate for the rows already in the table: a new column of each
    /// missing metric and, if a dimension is missing, all codes rewritten
    /// (the old ones are freed only after).
    pub fn growth_of(&self, defs: &[ColumnDef]) -> usize {
        let missing = defs.iter().filter(|d| self.slot(&d.name).is_none());
        let (dims, metrics) = missing.fold((0, 0), |(dims, metrics), d| {
            if d.is_dimension() {
                (dims + 1, metrics)
            } else {
                (dims, metrics + 1)
            }
        });
        let codes = if dims == 0 {
            0
        } else {
            (self.dims.len() + dims) * size_of::<u32>()
        };
        self.rows * (codes + metrics * size_of::<i64>())
    }

    /// Where a column of that name is.
    pub fn slot(&self, name: &str) -> Option<Slot> {
        if let Some(i) = self.dims.iter().position(|d| d.def.name == name) {
            return Some(Slot::Dim(i));
        }
        self.metric_index(name).map(Slot::Metric)
    }

    /// Mutable access to a dimension's dictionary, for interning.
    pub fn dict_mut(&mut self, dim: usize) -> &mut Dict {
        &mut self.dims[dim].dict
    }

    /// Appends a row: one code per dimension and one value per metric column
    /// (in [`FlowTable::metrics`] order).
    pub fn push_row(&mut self, codes: &[u32], metrics: &[i64]) {
        debug_assert_eq!(codes.len(), self.dims.len());
        debug_assert_eq!(metrics.len(), self.metrics.len());
        self.codes.extend_from_slice(codes);
        for (column, &value) in self.metrics.iter_mut().zip(metrics) {
            column.values.push(value);
        }
        self.rows += 1;
    }

    /// Appends `count` rows of null codes and the given metric values (in
    /// [`FlowTable::metrics`] order), to be filled a column at a time.
    pub(crate) fn push_rows(&mut self, count: usize, metrics: &[i64]) {
        debug_assert_eq!(metrics.len(), self.metrics.len());
        let width = self.dims.len();
        self.codes
            .resize(self.codes.len() + count * width, NULL_CODE);
        for (column, &value) in self.metrics.iter_mut().zip(metrics) {
            column.values.resize(column.values.len() + count, value);
        }
        self.rows += count;
    }

    /// A dimension's dictionary, and the codes of the rows from `first` on:
    /// row `first + i` holds its code at `[i * width + dim]`, `width` being
    /// the number of dimensions.
    pub(crate) fn dim_cells(&mut self, dim: usize, first: usize) -> (&mut Dict, &mut [u32]) {
        let width = self.dims.len();
        (&mut self.dims[dim].dict, &mut self.codes[first * width..])
    }

    /// A metric's values of the rows from `first` on.
    pub(crate) fn metric_cells(&mut self, metric: usize, first: usize) -> &mut [i64] {
        &mut self.metrics[metric].values[first..]
    }

    /// Drops the rows from `first` on for which `drop` (given the row's
    /// offset from `first`) is true, keeping the order of the others.
    pub fn drop_rows(&mut self, first: usize, drop: impl Fn(usize) -> bool) {
        let width = self.dims.len();
        let mut kept = first;
        for row in first..self.rows {
            if drop(row - first) {
                continue;
            }
            self.codes
                .copy_within(row * width..(row + 1) * width, kept * width);
            for column in &mut self.metrics {
                column.values[kept] = column.values[row];
            }
            kept += 1;
        }
        self.truncate(kept);
    }

    /// Drops rows from `rows` on (used to discard a file that turned out unreadable).
    pub fn truncate(&mut self, rows: usize) {
        if rows >= self.rows {
            return;
        }
        self.codes.truncate(rows * self.dims.len());
        for column in &mut self.metrics {
            column.values.truncate(rows);
        }
        self.rows = rows;
    }

    /// Moves the rows from `at` on into a table of their own, with the same
    /// columns and dictionaries of just their values.
    pub fn split_off(&mut self, at: usize) -> FlowTable {
        let mut tail = self.empty_like(self.rows.saturating_sub(at));
        let mut codes = vec![NULL_CODE; self.dims.len()];
        let mut metrics = vec![NULL; self.metrics.len()];
        for row in at..self.rows {
            for (dim, code) in codes.iter_mut().enumerate() {
                *code = tail.dims[dim].dict.intern_value(self.dim_value(dim, row));
            }
            for (value, column) in metrics.iter_mut().zip(&self.metrics) {
                *value = column.values[row];
            }
            tail.push_row(&codes, &metrics);
        }
        self.truncate(at);
        tail
    }

    /// Appends all rows of another table, widening the schema to the union.
    pub fn append(&mut self, other: &FlowTable) {
        self.ensure_columns(other.columns());
        let dim_map: Vec<usize> = other
            .dims
            .iter()
            .map(|d| match self.slot(&d.def.name) {
                Some(Slot::Dim(i)) => i,
                _ => unreachable!("ensured above"),
            })
            .collect();
        // Translate each distinct code of `other` once.
        let remaps: Vec<Vec<u32>> = other
            .dims
            .iter()
            .zip(&dim_map)
            .map(|(column, &to)| {
                (0..=column.dict.len() as u32)
                    .map(|code| self.dims[to].dict.intern_value(column.dict.value(code)))
                    .collect()
            })
            .collect();
        let width = self.dims.len();
        let mut row = vec![NULL_CODE; width];
        for r in 0..other.rows {
            row.fill(NULL_CODE);
            for (dim, &code) in other.row(r).iter().enumerate() {
                row[dim_map[dim]] = remaps[dim][code as usize];
            }
            self.codes.extend_from_slice(&row);
        }
        for column in &mut self.metrics {
            match other.metric(&column.def.name) {
                Some(values) => column.values.extend_from_slice(values),
                None => column.values.resize(column.values.len() + other.rows, NULL),
            }
        }
        self.rows += other.rows;
    }

    /// Builds a table from parts; used by the merge and the Parquet reader.
    /// `codes` is row-major with one code per dimension.
    pub fn from_parts(dims: Vec<DimColumn>, metrics: Vec<MetricColumn>, codes: Vec<u32>) -> Self {
        let rows = metrics.first().map_or(0, |m| m.values.len());
        debug_assert_eq!(codes.len(), rows * dims.len());
        FlowTable {
            dims,
            metrics,
            codes,
            rows,
            expected_rows: 0,
            epoch: 0,
        }
    }

    /// Takes the table apart (see [`FlowTable::from_parts`]).
    pub fn into_parts(self) -> (Vec<DimColumn>, Vec<MetricColumn>, Vec<u32>) {
        (self.dims, self.metrics, self.codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(names: &[&str]) -> FlowTable {
        let mut t = FlowTable::new();
        for n in names {
            t.ensure_column(&ColumnDef::for_field(n));
        }
        t
    }

    #[test]
    fn columns_keep_sort_and_output_order() {
        let t = table_with(&[
            "version",
            "srcport",
            "packets",
            "account-id",
            "end",
            "start",
        ]);
        let dims: Vec<_> = t.dims().iter().map(|d| d.def.name.as_ref()).collect();
        assert_eq!(dims, ["account-id", "srcport", "version"]);
        let metrics: Vec<_> = t.metrics().iter().map(|m| m.def.name.as_ref()).collect();
        assert_eq!(metrics, ["packets", "start", "end", "records"]);
    }

    #[test]
    fn adding_a_dimension_later_keeps_rows_intact() {
        let mut t = table_with(&["srcport"]);
        let Slot::Dim(0) = t.ensure_column(&ColumnDef::for_field("srcport")) else {
            panic!()
        };
        let code = t.dict_mut(0).intern_value(Value::Int(443));
        t.push_row(&[code], &[1]);
        t.ensure_column(&ColumnDef::for_field("account-id"));
        assert_eq!(t.dims().len(), 2);
        assert_eq!(t.dim_value(0, 0), Value::Null);
        assert_eq!(t.dim_value(1, 0), Value::Int(443));
    }

    #[test]
    fn adding_several_dimensions_at_once_keeps_rows_intact() {
        let mut t = table_with(&["srcport", "dstport"]);
        let codes: Vec<u32> = [22, 443]
            .iter()
            .map(|&p| t.dict_mut(0).intern_value(Value::Int(p)))
            .collect();
        t.push_row(&[codes[0], NULL_CODE], &[1]);
        t.push_row(&[codes[1], NULL_CODE], &[1]);
        let defs = ["protocol", "account-id", "srcport", "interface-id", "bytes"]
            .map(ColumnDef::for_field);
        t.ensure_columns(&defs);
        let dims: Vec<_> = t.dims().iter().map(|d| d.def.name.as_ref()).collect();
        assert_eq!(
            dims,
            [
                "account-id",
                "interface-id",
                "srcport",
                "dstport",
                "protocol"
            ]
        );
        assert_eq!(
            t.row(1),
            [NULL_CODE, NULL_CODE, codes[1], NULL_CODE, NULL_CODE]
        );
        assert_eq!(t.dim_value(2, 0), Value::Int(22));
        assert_eq!(t.metric("bytes").unwrap(), [NULL, NULL]);
    }

    #[test]
    fn columns_added_later_are_allocated_for_the_expected_rows() {
        let mut t = FlowTable::with_expected_rows(1000);
        t.ensure_columns(&["srcport", "packets"].map(ColumnDef::for_field));
        t.push_row(&[NULL_CODE], &[5, 1]);
        t.ensure_columns(&["account-id", "bytes"].map(ColumnDef::for_field));
        assert!(t.codes.capacity() >= 1000 * 2);
        assert!(t.metrics.iter().all(|m| m.values.capacity() >= 1000));
        assert_eq!(t.row(0), [NULL_CODE, NULL_CODE]);
        assert_eq!(t.metric("packets").unwrap(), [5]);
        assert_eq!(t.metric("bytes").unwrap(), [NULL]);
    }

    #[test]
    fn dimensions_added_to_rows_without_any() {
        let mut t = FlowTable::new();
        t.push_row(&[], &[1]);
        t.ensure_column(&ColumnDef::for_field("srcport"));
        assert_eq!(t.row(0), [NULL_CODE]);
    }

    #[test]
    fn append_widens_and_translates_codes() {
        let mut a = table_with(&["srcport"]);
        let c = a.dict_mut(0).intern_value(Value::Int(22));
        a.push_row(&[c], &[1]);
        let mut b = table_with(&["account-id", "packets"]);
        let c = b.dict_mut(0).intern_value(Value::Str("111"));
        b.push_row(&[c], &[7, 1]);
        a.append(&b);
        assert_eq!(a.rows(), 2);
        assert_eq!(a.dim_value(0, 1), Value::Str("111"));
        assert_eq!(a.dim_value(1, 1), Value::Null);
        assert_eq!(a.dim_value(1, 0), Value::Int(22));
        assert_eq!(a.metric("packets").unwrap(), [NULL, 7]);
        assert_eq!(a.metric("records").unwrap(), [1, 1]);
    }

    #[test]
    fn truncate() {
        let mut t = table_with(&["srcport"]);
        for port in [3, 1, 2] {
            let c = t.dict_mut(0).intern_value(Value::Int(port));
            t.push_row(&[c], &[1]);
        }
        t.truncate(1);
        assert_eq!(t.rows(), 1);
        assert_eq!(t.metric("records").unwrap().len(), 1);
    }
}
