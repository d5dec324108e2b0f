//! Recording input files: per window, one batch item holding the call's
//! entries for it and one update of the window item, in one
//! `TransactWriteItems` and without reading anything first.
//!
//! A call's writes grow with the windows it touches, not with its files.
//! The batch item's sort key is the digest of its entries, and it is put only
//! if absent: the same entries recorded again (a retried delivery) find it
//! and change nothing. Because the batch and its window's counts and
//! `input_rev` change together or not at all, every batch item a claim lists
//! was counted, and one written after the claim moved `input_rev`, so the
//! commit leaves the window dirty.
//!
//! Into a window that is not committed, entries are recorded as they come:
//! one delivered twice in two calls is listed once (the latest entry of a
//! key is its current one, see [`super::items::current`]) but counted in the
//! window's `files` and `bytes` twice until a claim recounts them. Into a
//! committed window, the update's condition fails; the window's input set is
//! then read, and only an entry that is new or changed writes (and dirties
//! the window), so a duplicate delivery never re-runs a window.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::error::{DynamoError, build_error};
use super::expr::{n, names, s, values};
use super::items::{DUE, batch_item, encode_entries, window_key};
use super::{DynamoLedger, read};
use crate::{FileEntry, LedgerError, Recorded, WindowState};

const OP: &str = "record files";
/// Attempts per batch before contention is reported as a (retryable) failure.
const MAX_ATTEMPTS: u32 = 10;
/// Largest encoded batch in one item: DynamoDB's limit is 400 KB per item,
/// keys and other attributes included.
pub(crate) const MAX_BATCH_BYTES: usize = 300 * 1024;

pub(crate) async fn record_files(
    ledger: &DynamoLedger,
    files: &[FileEntry],
    now: i64,
) -> Result<Vec<Recorded>, LedgerError> {
    let mut outcomes = vec![Recorded::Duplicate; files.len()];
    for batch in batches(files) {
        for (chunk, encoded) in chunks(&batch.entries)? {
            record_batch(ledger, &batch, &chunk, &encoded, now, &mut outcomes).await?;
        }
    }
    Ok(outcomes)
}

/// One window's entries of a call, each key once, at its last entry.
struct Batch<'a> {
    window: &'a str,
    window_start: i64,
    entries: Vec<Entry<'a>>,
}

/// An entry to record, at position `at` of the call; `replaces` the
/// position of an earlier entry of its key in the call, which it changed.
#[derive(Clone, Copy)]
struct Entry<'a> {
    at: usize,
    file: &'a FileEntry,
    replaces: Option<usize>,
}

impl Entry<'_> {
    /// Sets the outcomes of an entry that joined a window not committed.
    fn joined(&self, outcomes: &mut [Recorded]) {
        outcomes[self.at] = match self.replaces {
            Some(earlier) => {
                outcomes[earlier] = Recorded::New;
                Recorded::Replaced
            }
            None => Recorded::New,
        };
    }
}

/// The call's entries grouped by window, in order of first appearance. A
/// key repeated within the call is a duplicate when unchanged, else it
/// replaces its earlier entry (reported as replaced).
fn batches(files: &[FileEntry]) -> Vec<Batch<'_>> {
    let mut batches: Vec<Batch<'_>> = Vec::new();
    let mut seen: HashMap<(&str, &str), (usize, usize)> = HashMap::new();
    for (at, file) in files.iter().enumerate() {
        let b = match batches.iter().position(|b| b.window == file.window) {
            Some(b) => b,
            None => {
                batches.push(Batch {
                    window: &file.window,
                    window_start: file.window_start,
                    entries: Vec::new(),
                });
                batches.len() - 1
            }
        };
        let entry = Entry {
            at,
            file,
            replaces: None,
        };
        match seen.get(&(file.window.as_str(), file.key.as_str())) {
            Some(&(b, slot)) if batches[b].entries[slot].file.same_file(file) => {}
            Some(&(b, slot)) => {
                let earlier = batches[b].entries[slot].at;
                batches[b].entries[slot] = Entry {
                    replaces: Some(earlier),
                    ..entry
                };
            }
            None => {
                seen.insert((&file.window, &file.key), (b, batches[b].entries.len()));
                batches[b].entries.push(entry);
            }
        }
    }
    batches
}

/// A chunk of a window's entries and their encoding.
type Chunk<'a> = (Vec<Entry<'a>>, Vec<u8>);

/// Splits `entries` into chunks whose encoding fits one item.
fn chunks<'a>(entries: &[Entry<'a>]) -> Result<Vec<Chunk<'a>>, LedgerError> {
    let encoded = encode(entries)?;
    if encoded.len() <= MAX_BATCH_BYTES || entries.len() == 1 {
        return Ok(vec![(entries.to_vec(), encoded)]);
    }
    let (head, tail) = entries.split_at(entries.len() / 2);
    let mut parts = chunks(head)?;
    parts.extend(chunks(tail)?);
    Ok(parts)
}

fn encode(entries: &[Entry<'_>]) -> Result<Vec<u8>, LedgerError> {
    let files: Vec<&FileEntry> = entries.iter().map(|e| e.file).collect();
    encode_entries(&files)
}

/// Records one chunk of a window's entries and sets their outcomes.
async fn record_batch(
    ledger: &DynamoLedger,
    batch: &Batch<'_>,
    entries: &[Entry<'_>],
    encoded: &[u8],
    now: i64,
    outcomes: &mut [Recorded],
) -> Result<(), LedgerError> {
    let ttl = ledger.expiry(batch.window_start);
    let files = u64::try_from(entries.len()).unwrap_or(u64::MAX);
    let bytes: u64 = entries.iter().map(|e| e.file.size).sum();
    let put = put_batch(ledger, batch.window, encoded, entries.len(), now, ttl)?;
    let count = count_in_window(ledger, batch, false, files, i128::from(bytes), now, ttl)?;
    for attempt in 0..MAX_ATTEMPTS {
        match transact(ledger, vec![put.clone(), count.clone()]).await? {
            Tx::Done => {
                entries.iter().for_each(|entry| entry.joined(outcomes));
                return Ok(());
            }
            // The same entries were recorded before: nothing to do.
            Tx::Known => return Ok(()),
            Tx::Committed => {
                if record_in_committed(ledger, batch, entries, &put, now, ttl, outcomes).await? {
                    return Ok(());
                }
            }
            Tx::Contended => backoff(attempt).await,
        }
    }
    Err(DynamoError::other(
        "TransactWriteItems",
        &ledger.table,
        format!(
            "window {}: it kept changing under {MAX_ATTEMPTS} attempts to record {} files",
            batch.window,
            entries.len()
        ),
        true,
    )
    .during(OP))
}

/// Records entries into a committed window: those new or changed against
/// its input set dirty it (with `put`, the whole batch, so that a retry
/// finds it); if none is, nothing is written. False when the window stopped
/// being committed meanwhile (the caller records it as usual).
async fn record_in_committed(
    ledger: &DynamoLedger,
    batch: &Batch<'_>,
    entries: &[Entry<'_>],
    put: &TransactWriteItem,
    now: i64,
    ttl: i64,
    outcomes: &mut [Recorded],
) -> Result<bool, LedgerError> {
    let known: HashMap<String, FileEntry> = read::files(ledger, batch.window)
        .await?
        .into_iter()
        .map(|f| (f.key.clone(), f))
        .collect();
    let mut changed = Vec::new();
    let (mut files, mut bytes) = (0_u64, 0_i128);
    for &Entry { at, file, .. } in entries {
        match known.get(&file.key) {
            Some(old) if old.same_file(file) => outcomes[at] = Recorded::Duplicate,
            Some(old) => {
                bytes += i128::from(file.size) - i128::from(old.size);
                changed.push((at, Recorded::Replaced));
            }
            None => {
                files += 1;
                bytes += i128::from(file.size);
                changed.push((at, Recorded::New));
            }
        }
    }
    if changed.is_empty() {
        return Ok(true);
    }
    let dirty = count_in_window(ledger, batch, true, files, bytes, now, ttl)?;
    match transact(ledger, vec![put.clone(), dirty]).await? {
        Tx::Done => {
            for (i, (at, outcome)) in changed.into_iter().enumerate() {
                outcomes[at] = if i == 0 { Recorded::Dirtied } else { outcome };
            }
            Ok(true)
        }
        Tx::Known => Ok(true),
        Tx::Committed | Tx::Contended => Ok(false),
    }
}

/// Puts the batch item, unless it exists.
fn put_batch(
    ledger: &DynamoLedger,
    window: &str,
    encoded: &[u8],
    files: usize,
    now: i64,
    ttl: i64,
) -> Result<TransactWriteItem, LedgerError> {
    let condition = "attribute_not_exists(#pk)";
    let put = Put::builder()
        .table_name(&ledger.table)
        .set_item(Some(batch_item(window, encoded, files, now, ttl)))
        .condition_expression(condition)
        .set_expression_attribute_names(names(&[condition]))
        .build()
        .map_err(build_error(OP))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Counts a batch into its window. Into a window that is not `committed`
/// (on that condition: a committed window must not be dirtied by a
/// duplicate), creating it (open, due) if it does not exist; or, with
/// `committed`, into a window that still is, which becomes dirty (and due).
///
/// The due keys are set whatever the state: a running window in the index
/// is not listed as due ([`crate::Ledger::due`] filters by state), and its
/// claim or commit sets them as its new state needs.
fn count_in_window(
    ledger: &DynamoLedger,
    batch: &Batch<'_>,
    committed: bool,
    files: u64,
    bytes: i128,
    now: i64,
    ttl: i64,
) -> Result<TransactWriteItem, LedgerError> {
    const CREATE: &str = "#window = :window, #window_start = :window_start, \
         #state = if_not_exists(#state, :open), #version = if_not_exists(#version, :zero), \
         #claimed_files = if_not_exists(#claimed_files, :zero), \
         #attempts = if_not_exists(#attempts, :zero), #outputs = if_not_exists(#outputs, :none), \
         #claimed_rev = if_not_exists(#claimed_rev, :zero)";
    let (set, condition) = if committed {
        ("#state = :dirty", "#state = :committed")
    } else {
        (CREATE, "attribute_not_exists(#pk) OR #state <> :committed")
    };
    let update = format!(
        "SET {set}, #updated_at = :now, #last_file_at = :now, #ttl = :ttl, \
         #due_pk = :due, #due_sk = :window ADD #files :files, #bytes :bytes, #input_rev :one"
    );
    update_window(
        ledger,
        batch.window,
        &update,
        condition,
        vec![
            (":window", s(batch.window)),
            (":window_start", n(batch.window_start)),
            (":open", s(WindowState::Open.as_str())),
            (":dirty", s(WindowState::Dirty.as_str())),
            (":committed", s(WindowState::Committed.as_str())),
            (":zero", n(0)),
            (":none", AttributeValue::L(Vec::new())),
            (":now", n(now)),
            (":ttl", n(ttl)),
            (":due", s(DUE)),
            (":files", n(files)),
            (":bytes", n(bytes)),
            (":one", n(1)),
        ],
    )
}

fn update_window(
    ledger: &DynamoLedger,
    window: &str,
    update: &str,
    condition: &str,
    vals: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, LedgerError> {
    let exprs = [update, condition];
    let update = Update::builder()
        .table_name(&ledger.table)
        .set_key(Some(window_key(window)))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(names(&exprs))
        .set_expression_attribute_values(values(&exprs, vals))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
        .build()
        .map_err(build_error(OP))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// How a transaction of a batch put and a window update ended.
enum Tx {
    /// Written.
    Done,
    /// The batch item exists: the same entries were recorded before.
    Known,
    /// The window refused its update's condition (committed, or no longer).
    Committed,
    /// Cancelled by a concurrent transaction or throttling: back off first.
    Contended,
}

/// Cancellation reasons that a fresh attempt (after a pause) can overcome.
const RETRY_REASONS: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

async fn transact(ledger: &DynamoLedger, items: Vec<TransactWriteItem>) -> Result<Tx, LedgerError> {
    // The SDK sets a ClientRequestToken, kept across its own retries, so a
    // retry after a lost response is answered as the first attempt was.
    let result = ledger
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    let err = match result {
        Ok(_) => return Ok(Tx::Done),
        Err(err) => err,
    };
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let codes: Vec<&str> = cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().unwrap_or("None"))
            .collect();
        let failed = |i: usize| codes.get(i) == Some(&"ConditionalCheckFailed");
        if codes.iter().any(|code| RETRY_REASONS.contains(code)) {
            return Ok(Tx::Contended);
        }
        if failed(0) {
            return Ok(Tx::Known);
        }
        if failed(1) {
            return Ok(Tx::Committed);
        }
    }
    Err(DynamoError::sdk("TransactWriteItems", &ledger.table, err).during(OP))
}

/// Sleeps before retrying a contended transaction: exponential, capped at
/// about a second, with full jitter so that racing writers spread out.
async fn backoff(attempt: u32) {
    let cap_ms = 20_u64 << attempt.min(6);
    // RandomState is seeded randomly per process and varies per instance:
    // plenty for jitter, without a dependency for random numbers.
    let jitter = RandomState::new().hash_one(attempt) % (cap_ms + 1);
    tokio::time::sleep(Duration::from_millis(jitter)).await;
}
