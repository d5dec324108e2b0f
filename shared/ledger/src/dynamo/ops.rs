//! The run transitions (claim, commit, fail), each one conditional
//! `UpdateItem` on the window item.
//!
//! A refused condition comes back with the item as it was
//! (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), from which the refusal
//! is explained; no item means the window does not exist.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::error::DynamoError;
use super::expr::{n, names, s, values};
use super::items::{DUE, Item, PK, SK, WINDOW_SK, window_key, window_pk, window_record};
use super::{DynamoLedger, read};
use crate::refusal::{claim_refusal, run_refusal};
use crate::{Claim, ClaimOptions, CommitInfo, LedgerError, WindowRecord, WindowState};

/// One conditional update of a window item.
struct Update<'a> {
    op: &'static str,
    window: &'a str,
    update: String,
    condition: String,
    values: Vec<(&'static str, AttributeValue)>,
}

/// How a conditional update ended.
enum Outcome {
    /// The update was applied; the window's attributes after it.
    Applied(Item),
    /// The condition failed; the window as it was, if it exists.
    Refused(Option<Item>),
}

impl Update<'_> {
    async fn send(self, ledger: &DynamoLedger) -> Result<Outcome, LedgerError> {
        let exprs = [self.update.as_str(), self.condition.as_str()];
        let result = ledger
            .client
            .update_item()
            .table_name(&ledger.table)
            .set_key(Some(window_key(self.window)))
            .update_expression(&self.update)
            .condition_expression(&self.condition)
            .set_expression_attribute_names(names(&exprs))
            .set_expression_attribute_values(values(&exprs, self.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(out) => return Ok(Outcome::Applied(out.attributes.unwrap_or_default())),
            Err(err) => err,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(refused)) =
            err.as_service_error()
        else {
            return Err(DynamoError::sdk("UpdateItem", &ledger.table, err).during(self.op));
        };
        match &refused.item {
            Some(old) => Ok(Outcome::Refused(Some(old.clone()))),
            // No old image means no item, unless the image was not sent at
            // all; a strongly consistent read tells the two apart.
            None => Ok(Outcome::Refused(
                read::item(ledger, self.op, window_key(self.window)).await?,
            )),
        }
    }
}

/// The refusal error for a window found as `old` (or missing).
fn refusal(
    window: &str,
    old: Option<Item>,
    describe: impl FnOnce(&WindowRecord) -> String,
) -> LedgerError {
    match old.as_ref().map(window_record) {
        Some(Ok(rec)) => LedgerError::Conflict {
            window: window.to_owned(),
            reason: describe(&rec),
        },
        Some(Err(err)) => err,
        None => LedgerError::NotFound {
            window: window.to_owned(),
        },
    }
}

pub(crate) async fn claim(
    ledger: &DynamoLedger,
    window: &str,
    opts: &ClaimOptions,
    now: i64,
) -> Result<Claim, LedgerError> {
    const OP: &str = "claim a window";
    let mut condition = String::from("attribute_exists(#pk)");
    if opts.expected_version.is_some() {
        condition.push_str(" AND #version = :expected");
    }
    // claimed_at + lease <= now, rearranged so that nothing can overflow.
    condition.push_str(
        " AND (#state IN (:open, :dirty, :failed) OR (#state = :running AND \
         (attribute_not_exists(#claimed_at) OR #claimed_at <= :lease_start))",
    );
    if opts.force {
        condition.push_str(" OR #state = :committed");
    }
    condition.push(')');
    let update = Update {
        op: OP,
        window,
        update: "SET #state = :running, #version = #version + :one, #claimed_at = :now, \
                 #claimed_files = #files, #claimed_rev = #input_rev, \
                 #attempts = #attempts + :one, #updated_at = :now \
                 REMOVE #error, #due_pk, #due_sk"
            .to_owned(),
        condition,
        values: vec![
            (":running", s(WindowState::Running.as_str())),
            (":open", s(WindowState::Open.as_str())),
            (":dirty", s(WindowState::Dirty.as_str())),
            (":failed", s(WindowState::Failed.as_str())),
            (":committed", s(WindowState::Committed.as_str())),
            (":expected", n(opts.expected_version.unwrap_or_default())),
            (":lease_start", n(now.saturating_sub(opts.lease_secs))),
            (":one", n(1)),
            (":now", n(now)),
        ],
    };
    let claimed = match update.send(ledger).await? {
        Outcome::Applied(item) => window_record(&item)?,
        Outcome::Refused(old) => return Err(refusal(window, old, |r| claim_refusal(r, opts))),
    };
    // Read after the claim: a file recorded in between is listed too, and
    // also moves input_rev past claimed_rev, so the commit reports the
    // window dirty and it runs again. Nothing is ever missed.
    let files = read::files(ledger, window).await?;
    recount(ledger, &claimed, &files, now).await?;
    Ok(Claim {
        window: window.to_owned(),
        version: claimed.version,
        files,
    })
}

/// Sets the window's counts to those of the input set the claim listed,
/// where deliveries recorded twice made them differ, unless a file arrived
/// since the claim (the next claim recounts).
async fn recount(
    ledger: &DynamoLedger,
    claimed: &WindowRecord,
    files: &[crate::FileEntry],
    now: i64,
) -> Result<(), LedgerError> {
    let count = u64::try_from(files.len()).unwrap_or(u64::MAX);
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    if (claimed.files, claimed.bytes) == (count, bytes) {
        return Ok(());
    }
    let update = Update {
        op: "recount a window",
        window: &claimed.window,
        update: "SET #files = :files, #bytes = :bytes, #claimed_files = :files, #updated_at = :now"
            .to_owned(),
        condition: "#version = :version AND #input_rev = #claimed_rev".to_owned(),
        values: vec![
            (":files", n(count)),
            (":bytes", n(bytes)),
            (":version", n(claimed.version)),
            (":now", n(now)),
        ],
    };
    // Refused: a file arrived since the claim, and the window will be dirty.
    update.send(ledger).await.map(drop)
}

pub(crate) async fn commit(
    ledger: &DynamoLedger,
    window: &str,
    version: u64,
    info: &CommitInfo,
    now: i64,
) -> Result<WindowState, LedgerError> {
    let committed = commit_update(window, version, info, now, WindowState::Committed)?;
    match committed.send(ledger).await? {
        Outcome::Applied(_) => Ok(WindowState::Committed),
        // Still running at our version, so the refusal was input_rev having
        // moved since the claim: the same commit, but to dirty.
        Outcome::Refused(Some(old)) if still_ours(&old, version)? => {
            let dirty = commit_update(window, version, info, now, WindowState::Dirty)?;
            match dirty.send(ledger).await? {
                Outcome::Applied(_) => Ok(WindowState::Dirty),
                Outcome::Refused(old) => Err(refusal(window, old, |r| run_refusal(r, version))),
            }
        }
        Outcome::Refused(old) => Err(refusal(window, old, |r| run_refusal(r, version))),
    }
}

/// The commit of `window` at `version` into `to`: `committed` if the input
/// set is the one claimed (and out of the due index), `dirty` if it changed
/// since (and due).
fn commit_update<'a>(
    window: &'a str,
    version: u64,
    info: &CommitInfo,
    now: i64,
    to: WindowState,
) -> Result<Update<'a>, LedgerError> {
    const OP: &str = "commit a window";
    let counts = serde_json::to_string(&info.counts).map_err(|e| LedgerError::backend(OP, e))?;
    let (update, rev_test) = if to == WindowState::Dirty {
        (
            "SET #state = :state, #digest = :digest, #outputs = :outputs, #counts = :counts, \
             #attempts = :zero, #updated_at = :now, #due_pk = :due, #due_sk = :window \
             REMOVE #error",
            "<>",
        )
    } else {
        (
            "SET #state = :state, #digest = :digest, #outputs = :outputs, #counts = :counts, \
             #attempts = :zero, #updated_at = :now \
             REMOVE #error, #due_pk, #due_sk",
            "=",
        )
    };
    Ok(Update {
        op: OP,
        window,
        update: update.to_owned(),
        condition: format!(
            "#state = :running AND #version = :version AND #input_rev {rev_test} #claimed_rev"
        ),
        values: vec![
            (":state", s(to.as_str())),
            (":running", s(WindowState::Running.as_str())),
            (":version", n(version)),
            (":digest", s(&info.digest)),
            (
                ":outputs",
                AttributeValue::L(info.outputs.iter().map(s).collect()),
            ),
            (":counts", s(counts)),
            (":zero", n(0)),
            (":now", n(now)),
            (":due", s(DUE)),
            (":window", s(window)),
        ],
    })
}

/// True if `old` is running at `version` (the refusal was about input_rev).
fn still_ours(old: &Item, version: u64) -> Result<bool, LedgerError> {
    let rec = window_record(old)?;
    Ok(rec.state == WindowState::Running && rec.version == version)
}

/// Longest failure reason stored, in bytes: a window item may not exceed
/// 400 KB, and a `fail` that cannot be written would leave the window
/// running until its lease ran out.
const MAX_REASON_BYTES: usize = 16 * 1024;

/// `reason`, cut at a character boundary to [`MAX_REASON_BYTES`] with a
/// marker when longer.
fn clip(reason: &str) -> String {
    const MARK: &str = " [cut]";
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES - MARK.len();
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &reason[..end])
}

/// How `fail` updates a window item.
pub(crate) const FAIL_UPDATE: &str =
    "SET #state = :failed, #error = :reason, #updated_at = :now, #due_pk = :due, #due_sk = :window";
/// On what condition: the run failing still holds the window.
pub(crate) const FAIL_CONDITION: &str = "#state = :running AND #version = :version";

/// `fail` as JSON, for a writer outside this crate that must mark a window
/// failed the same way (the state machine's `RecordFailure` state): the
/// window item's key (`{window}` stands for the window's name), the update
/// and condition expressions, and the values of their constants.
pub fn fail_write() -> serde_json::Value {
    serde_json::json!({
        "key": { PK: window_pk("{window}"), SK: WINDOW_SK },
        "update": FAIL_UPDATE,
        "condition": FAIL_CONDITION,
        "values": {
            ":failed": WindowState::Failed.as_str(),
            ":running": WindowState::Running.as_str(),
            ":due": DUE,
        },
    })
}

pub(crate) async fn fail(
    ledger: &DynamoLedger,
    window: &str,
    version: u64,
    reason: &str,
    now: i64,
) -> Result<(), LedgerError> {
    const OP: &str = "fail a window";
    let update = Update {
        op: OP,
        window,
        update: FAIL_UPDATE.to_owned(),
        condition: FAIL_CONDITION.to_owned(),
        values: vec![
            (":failed", s(WindowState::Failed.as_str())),
            (":running", s(WindowState::Running.as_str())),
            (":reason", s(clip(reason))),
            (":version", n(version)),
            (":now", n(now)),
            (":due", s(DUE)),
            (":window", s(window)),
        ],
    };
    match update.send(ledger).await? {
        Outcome::Applied(_) => Ok(()),
        Outcome::Refused(old) => Err(refusal(window, old, |r| run_refusal(r, version))),
    }
}
