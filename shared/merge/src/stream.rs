//! The merge of sorted inputs too large to hold together, in bounded memory.
//!
//! Each input is a sequence of tables (chunks) whose rows run in merge order
//! — dimensions in value order, then `start` — across its chunks: a merged
//! partial read a batch at a time. [`SortedMerge`] takes rows from the
//! inputs in that order (and rows of a flow in the merge's order of their
//! metrics) into output chunks of about `chunk_rows` rows and
//! merges each. Rows still to come sort after every row taken, so of a
//! chunk's runs only its last one (the last run of its last flow) can be
//! continued by them: that row is carried into the next chunk instead of
//! being yielded. The chunks yielded are therefore the rows [`crate::merge`]
//! of all inputs at once gives, in order, whatever the chunk size.
//!
//! Memory: one chunk of each input, the output chunk and its merge.

use std::cmp::Ordering;

use flowlog::{FlowTable, NULL, NULL_CODE, Value};

use crate::order::MetricOrder;
use crate::{MaxGap, merge};

/// Merges sorted inputs into merged, sorted chunks (an iterator of them).
#[derive(Debug)]
pub struct SortedMerge<I> {
    inputs: Vec<Input<I>>,
    /// The inputs that have rows left, by their next row.
    order: Vec<usize>,
    /// The union of the inputs' columns, as an empty table.
    columns: FlowTable,
    /// Its metrics in the order rows of a flow sort by.
    metric_order: Vec<usize>,
    gap: MaxGap,
    chunk_rows: usize,
    /// The last row of the chunk yielded last, still open.
    carry: Option<FlowTable>,
}

impl<I, E> SortedMerge<I>
where
    I: Iterator<Item = Result<FlowTable, E>>,
{
    /// A merge of `sources` (each sorted as [`crate::merge`] sorts) into
    /// chunks of about `chunk_rows` rows. Reads each source's first chunk.
    pub fn new(sources: Vec<I>, gap: MaxGap, chunk_rows: usize) -> Result<Self, E> {
        let mut inputs = Vec::with_capacity(sources.len());
        let mut columns = FlowTable::new();
        for source in sources {
            let mut input = Input {
                source,
                table: FlowTable::new(),
                next: 0,
                dims: Vec::new(),
                metrics: Vec::new(),
                codes: Vec::new(),
            };
            if input.refill()? {
                columns.ensure_columns(input.table.columns());
                inputs.push(input);
            }
        }
        for input in &mut inputs {
            input.map_columns(&columns);
        }
        let metric_order = MetricOrder::new(columns.metrics()).indices();
        let mut merge = SortedMerge {
            order: Vec::with_capacity(inputs.len()),
            inputs,
            columns,
            metric_order,
            gap,
            // A chunk holds the carried row and at least one more.
            chunk_rows: chunk_rows.max(2),
            carry: None,
        };
        for i in 0..merge.inputs.len() {
            merge.place(i);
        }
        Ok(merge)
    }

    /// The columns of the output: the union of the inputs'.
    pub fn columns(&self) -> &FlowTable {
        &self.columns
    }

    /// The next merged chunk, if any rows are left.
    fn next_chunk(&mut self) -> Result<Option<FlowTable>, E> {
        let mut out = match self.carry.take() {
            Some(carry) => carry,
            None => self.columns.empty_like(self.chunk_rows),
        };
        // Each chunk has dictionaries of its own.
        for input in &mut self.inputs {
            input.codes.clear();
        }
        while out.rows() < self.chunk_rows {
            let Some(&first) = self.order.first() else {
                break;
            };
            self.order.remove(0);
            let input = &self.inputs[first];
            let room = input.next + (self.chunk_rows - out.rows());
            let end = match self.order.first() {
                Some(&second) => input.rows_up_to(&self.inputs[second], &self.metric_order),
                None => input.table.rows(),
            };
            let input = &mut self.inputs[first];
            input.take(end.min(room), &mut out);
            if input.next < input.table.rows() || input.refill()? {
                input.map_columns(&self.columns);
                self.place(first);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        let mut merged = merge(out, self.gap);
        if !self.order.is_empty() {
            self.carry = Some(merged.split_off(merged.rows() - 1));
        }
        Ok(Some(merged))
    }

    /// Puts input `i` into the order by its next row (after equal ones).
    fn place(&mut self, i: usize) {
        let (inputs, metrics) = (&self.inputs, &self.metric_order[..]);
        let at = self.order.partition_point(|&o| {
            let (o, i) = (&inputs[o], &inputs[i]);
            o.cmp_rows(o.next, i, i.next, metrics).is_le()
        });
        self.order.insert(at, i);
    }
}

impl<I, E> Iterator for SortedMerge<I>
where
    I: Iterator<Item = Result<FlowTable, E>>,
{
    type Item = Result<FlowTable, E>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// One input: its chunk at hand and how its columns map onto the output's.
#[derive(Debug)]
struct Input<I> {
    source: I,
    table: FlowTable,
    /// The next row of `table` to take.
    next: usize,
    /// For each output dimension, the chunk's dimension holding it.
    dims: Vec<Option<usize>>,
    /// For each output metric, the chunk's metric holding it.
    metrics: Vec<Option<usize>>,
    /// Output codes of the chunk's codes, by the chunk's dimension, found
    /// as they are met ([`NO_CODE`] where not yet).
    codes: Vec<Vec<u32>>,
}

/// A code not translated yet.
const NO_CODE: u32 = u32::MAX;

impl<I, E> Input<I>
where
    I: Iterator<Item = Result<FlowTable, E>>,
{
    /// Reads the next chunk with rows; false when the source has none left.
    fn refill(&mut self) -> Result<bool, E> {
        for table in self.source.by_ref() {
            let table = table?;
            if !table.is_empty() {
                self.table = table;
                self.next = 0;
                self.codes.clear();
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl<I> Input<I> {
    fn map_columns(&mut self, columns: &FlowTable) {
        let slot = |name: &str| self.table.slot(name);
        self.dims = columns
            .dims()
            .iter()
            .map(|d| match slot(&d.def.name) {
                Some(flowlog::Slot::Dim(i)) => Some(i),
                _ => None,
            })
            .collect();
        self.metrics = columns
            .metrics()
            .iter()
            .map(|m| self.table.metric_index(&m.def.name))
            .collect();
    }

    /// The value of output dimension `dim` in row `row`.
    fn value(&self, dim: usize, row: usize) -> Value<'_> {
        match self.dims[dim] {
            Some(d) => self.table.dim_value(d, row),
            None => Value::Null,
        }
    }

    /// The value of output metric `metric` in row `row`.
    fn metric(&self, metric: usize, row: usize) -> i64 {
        self.metrics[metric].map_or(NULL, |m| self.table.metrics()[m].values[row])
    }

    /// Orders row `row` against row `other_row` of `other` as the merge
    /// orders rows: dimensions in value order, then the output metrics in
    /// `metrics` order.
    fn cmp_rows(
        &self,
        row: usize,
        other: &Input<I>,
        other_row: usize,
        metrics: &[usize],
    ) -> Ordering {
        let dims =
            (0..self.dims.len()).map(|dim| self.value(dim, row).cmp(&other.value(dim, other_row)));
        let metrics = metrics
            .iter()
            .map(|&m| self.metric(m, row).cmp(&other.metric(m, other_row)));
        dims.chain(metrics)
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// The end of this chunk's rows, from `next` on, that sort at or before
    /// `other`'s next row (at least one: this input is first in the order).
    /// Rows come in runs from one input, so the end is found by galloping.
    fn rows_up_to(&self, other: &Input<I>, metrics: &[usize]) -> usize {
        let rows = self.table.rows();
        let before = |row: usize| self.cmp_rows(row, other, other.next, metrics).is_le();
        let (mut low, mut step) = (self.next + 1, 1);
        let mut high = low;
        while high < rows && before(high) {
            low = high + 1;
            high += step;
            step *= 2;
        }
        let mut high = high.min(rows);
        while low < high {
            let mid = low + (high - low) / 2;
            if before(mid) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// Appends rows `next..end` to `out` (which has the output's columns).
    fn take(&mut self, end: usize, out: &mut FlowTable) {
        if self.codes.is_empty() {
            self.codes = self
                .table
                .dims()
                .iter()
                .map(|d| vec![NO_CODE; d.dict.len() + 1])
                .collect();
        }
        let mut codes = vec![NULL_CODE; self.dims.len()];
        let mut metrics = vec![NULL; self.metrics.len()];
        for row in self.next..end {
            let from = self.table.row(row);
            for (to, dim) in self.dims.iter().enumerate() {
                codes[to] = match *dim {
                    None => NULL_CODE,
                    Some(d) => {
                        let code = from[d];
                        let known = &mut self.codes[d][code as usize];
                        if *known == NO_CODE {
                            let value = self.table.dims()[d].dict.value(code);
                            *known = out.dict_mut(to).intern_value(value);
                        }
                        *known
                    }
                };
            }
            for (m, value) in metrics.iter_mut().enumerate() {
                *value = self.metric(m, row);
            }
            out.push_row(&codes, &metrics);
        }
        self.next = end;
    }
}
