//! Reads: single items, a window's files, the `due` index
//! and the operator's full listing. Every read that can be strongly
//! consistent is; every listing follows `LastEvaluatedKey` to the end.

use super::DynamoLedger;
use super::error::DynamoError;
use super::expr::{n, names, s, values};
use super::items::{
    DUE, DUE_INDEX, Item, WINDOW_SK, current, stored_entries, window_key, window_pk, window_record,
};
use crate::{FileEntry, LedgerError, WindowRecord, WindowState};

/// One item by key, strongly consistent.
pub(crate) async fn item(
    ledger: &DynamoLedger,
    op: &'static str,
    key: Item,
) -> Result<Option<Item>, LedgerError> {
    ledger
        .client
        .get_item()
        .table_name(&ledger.table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map(|out| out.item)
        .map_err(|e| DynamoError::sdk("GetItem", &ledger.table, e).during(op))
}

pub(crate) async fn window(
    ledger: &DynamoLedger,
    window: &str,
) -> Result<Option<WindowRecord>, LedgerError> {
    item(ledger, "read a window", window_key(window))
        .await?
        .as_ref()
        .map(window_record)
        .transpose()
}

/// Every window, by a `Scan`: an operator's listing, not for hot paths.
pub(crate) async fn windows(ledger: &DynamoLedger) -> Result<Vec<WindowRecord>, LedgerError> {
    const OP: &str = "list windows";
    let filter = "#sk = :window";
    let items = ledger
        .client
        .scan()
        .table_name(&ledger.table)
        .filter_expression(filter)
        .set_expression_attribute_names(names(&[filter]))
        .set_expression_attribute_values(values(&[filter], [(":window", s(WINDOW_SK))]))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| DynamoError::sdk("Scan", &ledger.table, e).during(OP))?;
    let mut records = items
        .iter()
        .map(window_record)
        .collect::<Result<Vec<_>, _>>()?;
    records.sort_by(|a, b| a.window.cmp(&b.window));
    Ok(records)
}

/// Open and dirty windows past their settle time, from the sparse `due`
/// index (which also holds failed windows, filtered out here).
pub(crate) async fn due(
    ledger: &DynamoLedger,
    now: i64,
    settle_secs: i64,
) -> Result<Vec<WindowRecord>, LedgerError> {
    const OP: &str = "list due windows";
    // window_start + 60 + settle <= now, without overflowing.
    let cutoff = now.saturating_sub(60).saturating_sub(settle_secs);
    let key = "#due_pk = :due";
    let filter = "#state IN (:open, :dirty) AND #window_start <= :cutoff";
    let items = ledger
        .client
        .query()
        .table_name(&ledger.table)
        .index_name(DUE_INDEX)
        .key_condition_expression(key)
        .filter_expression(filter)
        .set_expression_attribute_names(names(&[key, filter]))
        .set_expression_attribute_values(values(
            &[key, filter],
            [
                (":due", s(DUE)),
                (":open", s(WindowState::Open.as_str())),
                (":dirty", s(WindowState::Dirty.as_str())),
                (":cutoff", n(cutoff)),
            ],
        ))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| DynamoError::sdk("Query", &ledger.table, e).during(OP))?;
    let mut records = items
        .iter()
        .map(window_record)
        .collect::<Result<Vec<_>, _>>()?;
    // The index sorts by due_sk, the window name; sorting again costs nothing
    // and does not rely on it.
    records.sort_by(|a, b| a.window.cmp(&b.window));
    Ok(records)
}

/// A window's input set, sorted by key: the current entry of each key
/// among its batch items (and file items of earlier versions).
pub(crate) async fn files(
    ledger: &DynamoLedger,
    window: &str,
) -> Result<Vec<FileEntry>, LedgerError> {
    const OP: &str = "list files";
    // Everything under the window's key but the window item itself.
    let key = "#pk = :pk AND #sk < :window";
    let items = ledger
        .client
        .query()
        .table_name(&ledger.table)
        .key_condition_expression(key)
        .set_expression_attribute_names(names(&[key]))
        .set_expression_attribute_values(values(
            &[key],
            [(":pk", s(window_pk(window))), (":window", s(WINDOW_SK))],
        ))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| DynamoError::sdk("Query", &ledger.table, e).during(OP))?;
    let mut stored = Vec::new();
    for item in &items {
        stored.extend(stored_entries(item)?);
    }
    Ok(current(stored))
}
