//! Recording input files: per file, read what the table holds (key guard,
//! file item, window item), then write the change as one `TransactWriteItems`
//! whose conditions say "still as read".
//!
//! The file and its window change in the same transaction, so the window's
//! counts, its `input_rev` and its `committed → dirty` transition can never
//! be lost between two writes: a delivery retried after a crash either finds
//! nothing done (and does it all) or finds the file recorded and the window
//! already counted (a duplicate). When a racing writer (another ingest, a
//! claim, a commit) changed an item after it was read, a condition fails, the
//! whole transaction is cancelled, and the file is read and planned again.
//!
//! Files are recorded one after another, in order, which keeps repeated keys
//! within one call exact (`New`, then `Duplicate`) and the transactions of one
//! call from contending with each other on their window.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::error::{DynamoError, build_error};
use super::expr::{n, names, s, values};
use super::items::{
    DUE, Item, file_entry, file_item, file_key, guard_item, guard_key, guard_window, has_key,
    new_window_item, window_key, window_state,
};
use super::{DynamoLedger, read};
use crate::{FileEntry, LedgerError, Recorded, WindowState};

const OP: &str = "record files";
/// Plans per file before contention is reported as a (retryable) failure.
const MAX_ATTEMPTS: u32 = 10;

pub(crate) async fn record_files(
    ledger: &DynamoLedger,
    files: &[FileEntry],
    now: i64,
) -> Result<Vec<Recorded>, LedgerError> {
    let mut recorded = Vec::with_capacity(files.len());
    for file in files {
        recorded.push(record_one(ledger, file, now).await?);
    }
    Ok(recorded)
}

async fn record_one(
    ledger: &DynamoLedger,
    file: &FileEntry,
    now: i64,
) -> Result<Recorded, LedgerError> {
    for attempt in 0..MAX_ATTEMPTS {
        let seen = look(ledger, file).await?;
        let Some((items, outcome)) = plan(ledger, file, &seen, now)? else {
            return Ok(Recorded::Duplicate);
        };
        match transact(ledger, items).await? {
            Tx::Done => return Ok(outcome),
            Tx::Changed => {}
            Tx::Contended => backoff(attempt).await,
        }
    }
    Err(DynamoError::other(
        "TransactWriteItems",
        &ledger.table,
        format!(
            "file {}: its window kept changing under {MAX_ATTEMPTS} attempts to record it",
            file.key
        ),
        true,
    )
    .during(OP))
}

/// What the table holds for one file.
struct Seen {
    /// The window the entry is kept under: for a whole object the key
    /// guard's, or the file's own if new; a split object's entry its own.
    home: String,
    /// Start of `home`.
    home_start: i64,
    /// The window the key guard pins, if it exists.
    pinned: Option<String>,
    /// The file's entry under `home`, if recorded.
    stored: Option<FileEntry>,
    /// The state of `home`, if it exists.
    state: Option<WindowState>,
}

/// Reads the key guard, and the file and window items of the window the
/// entry is kept under: one batch read, or two if a whole object's key is
/// pinned to another window than the file names.
async fn look(ledger: &DynamoLedger, file: &FileEntry) -> Result<Seen, LedgerError> {
    let guard = guard_key(&file.key);
    let mut keys = vec![guard.clone()];
    keys.extend(home_keys(&file.window, &file.key));
    let found = read::items(ledger, OP, keys).await?;
    let pinned = found
        .iter()
        .find(|item| has_key(item, &guard))
        .map(guard_window)
        .transpose()?;
    let (found, home, home_start) = match &pinned {
        Some((home, start)) if home != &file.window && file.home.is_none() => {
            let found = read::items(ledger, OP, home_keys(home, &file.key).into()).await?;
            (found, home.clone(), *start)
        }
        _ => (found, file.window.clone(), file.window_start),
    };
    let [file_key, window_key] = home_keys(&home, &file.key);
    let pick = |key: &Item| found.iter().find(|item| has_key(item, key));
    let stored = pick(&file_key).map(file_entry).transpose()?;
    if let Some(other) = stored.as_ref().filter(|stored| stored.key != file.key) {
        return Err(LedgerError::Corrupt {
            what: format!(
                "file {}: its item in window {home} holds key {}",
                file.key, other.key
            ),
        });
    }
    Ok(Seen {
        state: pick(&window_key).map(window_state).transpose()?,
        home,
        home_start,
        pinned: pinned.map(|(window, _)| window),
        stored,
    })
}

/// Keys of the file item and the window item of `key` in `window`.
fn home_keys(window: &str, key: &str) -> [Item; 2] {
    [file_key(window, key), window_key(window)]
}

/// The transaction that records `file` given `seen`, and what it will have
/// done; `None` for a duplicate, which writes nothing.
fn plan(
    ledger: &DynamoLedger,
    file: &FileEntry,
    seen: &Seen,
    now: i64,
) -> Result<Option<(Vec<TransactWriteItem>, Recorded)>, LedgerError> {
    let ttl = ledger.expiry(seen.home_start);
    let (mut items, outcome, added_files, added_bytes) = match &seen.stored {
        Some(old) => {
            // An unknown etag on either side proves nothing: compare only known ones.
            let etag_differs = matches!((&old.etag, &file.etag), (Some(a), Some(b)) if a != b);
            if old.size == file.size && !etag_differs && old.home == file.home {
                return Ok(None);
            }
            let replace = replace_file(ledger, file, old, &seen.home, now, ttl)?;
            let delta = i128::from(file.size) - i128::from(old.size);
            (vec![replace], Recorded::Replaced, 0, delta)
        }
        None => {
            let items = new_file(ledger, file, seen, now, ttl)?;
            (items, Recorded::New, 1, i128::from(file.size))
        }
    };
    let dirties = seen.state == Some(WindowState::Committed);
    items.push(match seen.state {
        None => create_window(ledger, file, seen, now, ttl)?,
        Some(_) => count_in_window(ledger, seen, dirties, added_files, added_bytes, now, ttl)?,
    });
    Ok(Some((
        items,
        if dirties { Recorded::Dirtied } else { outcome },
    )))
}

/// Puts the file item of a new file, and the key guard unless the entry is
/// a slice of a split object away from its home (the guard pins the key to
/// the window of its whole object or of its split home). The guard must be
/// absent (or, if it outlived its file item, still pin the same window) and
/// the file item absent: a racing recorder of the same key cancels this.
fn new_file(
    ledger: &DynamoLedger,
    file: &FileEntry,
    seen: &Seen,
    now: i64,
    ttl: i64,
) -> Result<Vec<TransactWriteItem>, LedgerError> {
    let entry = put(
        ledger,
        file_item(file, &seen.home, seen.home_start, now, ttl),
        "attribute_not_exists(#pk)",
        [],
    )?;
    let pins_home = file.home.as_ref().is_none_or(|home| home == &file.window);
    let guard_condition = match &seen.pinned {
        _ if !pins_home => return Ok(vec![entry]),
        None => "attribute_not_exists(#pk)",
        Some(pinned) if pinned == &seen.home => "#window = :home",
        // A split home whose key was first recorded whole elsewhere keeps that pin.
        Some(_) => return Ok(vec![entry]),
    };
    let guard = put(
        ledger,
        guard_item(&file.key, &seen.home, seen.home_start, ttl),
        guard_condition,
        [(":home", s(&seen.home))],
    )?;
    Ok(vec![guard, entry])
}

/// Updates a known file's size, split (and etag, when the new one is known),
/// on the condition that it still has the size, etag and split the delta was
/// computed from.
fn replace_file(
    ledger: &DynamoLedger,
    file: &FileEntry,
    old: &FileEntry,
    home: &str,
    now: i64,
    ttl: i64,
) -> Result<TransactWriteItem, LedgerError> {
    let set_etag = if file.etag.is_some() {
        ", #etag = :etag"
    } else {
        ""
    };
    let (set_home, remove_home) = if file.home.is_some() {
        (", #home = :home", "")
    } else {
        ("", " REMOVE #home")
    };
    let old_etag = if old.etag.is_some() {
        "#etag = :old_etag"
    } else {
        "attribute_not_exists(#etag)"
    };
    let old_home = if old.home.is_some() {
        "#home = :old_home"
    } else {
        "attribute_not_exists(#home)"
    };
    let update = format!(
        "SET #size = :size, #recorded_at = :now, #ttl = :ttl{set_etag}{set_home}{remove_home}"
    );
    let condition = format!("#size = :old_size AND {old_etag} AND {old_home}");
    let mut vals = vec![
        (":size", n(file.size)),
        (":old_size", n(old.size)),
        (":now", n(now)),
        (":ttl", n(ttl)),
    ];
    vals.extend(file.etag.as_deref().map(|etag| (":etag", s(etag))));
    vals.extend(old.etag.as_deref().map(|etag| (":old_etag", s(etag))));
    vals.extend(file.home.as_deref().map(|home| (":home", s(home))));
    vals.extend(old.home.as_deref().map(|home| (":old_home", s(home))));
    update_item(ledger, file_key(home, &file.key), &update, &condition, vals)
}

/// Creates the window with this file as its only one, if it still does not
/// exist.
fn create_window(
    ledger: &DynamoLedger,
    file: &FileEntry,
    seen: &Seen,
    now: i64,
    ttl: i64,
) -> Result<TransactWriteItem, LedgerError> {
    put(
        ledger,
        new_window_item(&seen.home, seen.home_start, file.size, now, ttl),
        "attribute_not_exists(#pk)",
        [],
    )
}

/// Counts the file into an existing window: `dirties` for a committed one
/// (which becomes dirty and due), otherwise on the condition that it still
/// is not committed, so that a commit racing this write can never swallow
/// the change.
fn count_in_window(
    ledger: &DynamoLedger,
    seen: &Seen,
    dirties: bool,
    added_files: u64,
    added_bytes: i128,
    now: i64,
    ttl: i64,
) -> Result<TransactWriteItem, LedgerError> {
    let (dirty, condition) = if dirties {
        (
            ", #state = :dirty, #due_pk = :due, #due_sk = :window",
            "#state = :committed",
        )
    } else {
        ("", "attribute_exists(#pk) AND #state <> :committed")
    };
    let update = format!(
        "SET #last_file_at = :now, #updated_at = :now, #ttl = :ttl{dirty} \
         ADD #files :files, #bytes :bytes, #input_rev :one"
    );
    update_item(
        ledger,
        window_key(&seen.home),
        &update,
        condition,
        vec![
            (":now", n(now)),
            (":ttl", n(ttl)),
            (":files", n(added_files)),
            (":bytes", n(added_bytes)),
            (":one", n(1)),
            (":dirty", s(WindowState::Dirty.as_str())),
            (":committed", s(WindowState::Committed.as_str())),
            (":due", s(DUE)),
            (":window", s(&seen.home)),
        ],
    )
}

fn put<'a>(
    ledger: &DynamoLedger,
    item: Item,
    condition: &str,
    vals: impl IntoIterator<Item = (&'a str, AttributeValue)>,
) -> Result<TransactWriteItem, LedgerError> {
    let put = Put::builder()
        .table_name(&ledger.table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_names(names(&[condition]))
        .set_expression_attribute_values(values(&[condition], vals))
        .build()
        .map_err(build_error(OP))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn update_item(
    ledger: &DynamoLedger,
    key: Item,
    update: &str,
    condition: &str,
    vals: Vec<(&str, AttributeValue)>,
) -> Result<TransactWriteItem, LedgerError> {
    let exprs = [update, condition];
    let update = Update::builder()
        .table_name(&ledger.table)
        .set_key(Some(key))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(names(&exprs))
        .set_expression_attribute_values(values(&exprs, vals))
        .build()
        .map_err(build_error(OP))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// How a transaction ended.
enum Tx {
    /// Written.
    Done,
    /// Cancelled because an item was no longer as read: read and plan again.
    Changed,
    /// Cancelled by a concurrent transaction or throttling: back off first.
    Contended,
}

/// Cancellation reasons that a fresh read and plan (after a pause for the
/// last two) can overcome.
const RETRY_REASONS: [&str; 4] = [
    "ConditionalCheckFailed",
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
            .filter_map(|reason| reason.code())
            .filter(|code| *code != "None")
            .collect();
        if codes.iter().all(|code| RETRY_REASONS.contains(code)) {
            let only_changed =
                !codes.is_empty() && codes.iter().all(|code| *code == "ConditionalCheckFailed");
            return Ok(if only_changed {
                Tx::Changed
            } else {
                Tx::Contended
            });
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
