//! Behaviour of `DynamoLedger` against a DynamoDB stand-in (moto server):
//! the shared `Ledger` contract (see `common/contract.rs`), plus the table
//! layout the CDK app and operators rely on (keys, the sparse `due` index,
//! TTL), damaged items, SDK error context and racing ledgers.
//!
//! Needs `FLOWMERGE_TEST_DYNAMODB_ENDPOINT` to name the endpoint (e.g.
//! `http://127.0.0.1:5000`; `tests/run.sh` starts one); without it every test
//! fails. Each ledger gets a table of its own. Requests to an `http://`
//! endpoint go through a proxy that applies them one at a time, as DynamoDB
//! does and moto does not (see `serial`).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers; allow-unwrap-in-tests only covers #[test] functions"
)]

mod common;
#[path = "dynamo_ledger/serial.rs"]
mod serial;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use common::contract::{
    Fresh, LEASE, T, W, W_START, claims_race, file, info, keys_of, ledger_contract,
    ledger_with_window, opts, record,
};
use ledger::{DEFAULT_RETENTION, DynamoError, DynamoLedger, Ledger, LedgerError, Recorded};

const ENDPOINT_VAR: &str = "FLOWMERGE_TEST_DYNAMODB_ENDPOINT";

/// Ledgers on fresh tables of one DynamoDB endpoint.
struct Tables {
    endpoint: String,
    client: Client,
}

impl Tables {
    /// A client of its own (as another Lambda would have) to the endpoint.
    fn client(endpoint: &str) -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(endpoint)
            .build();
        Client::from_conf(config)
    }

    /// A table name no other test (in this run or an earlier one) used.
    fn unique_name() -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("ledger-test-{}-{run}-{n}", std::process::id())
    }

    async fn table(&self) -> String {
        let name = Self::unique_name();
        DynamoLedger::create_table(&self.client, &name)
            .await
            .unwrap();
        name
    }
}

impl Fresh for Tables {
    type Ledger = DynamoLedger;
    const EXACT: bool = false;

    async fn fresh(&self) -> DynamoLedger {
        DynamoLedger::new(self.client.clone(), self.table().await)
    }
}

/// The test endpoint's tables. Without an endpoint the test fails: a suite
/// that passes without running would prove nothing.
async fn tables() -> Tables {
    let endpoint = std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
        panic!("{ENDPOINT_VAR} must name a DynamoDB stand-in (tests/run.sh starts a moto server)")
    });
    // One proxy per test: tests use tables of their own, so only the
    // requests of one test need to be applied one at a time.
    let endpoint = if endpoint.starts_with("http://") {
        serial::one_request_at_a_time(&endpoint).unwrap()
    } else {
        endpoint
    };
    Tables {
        client: Tables::client(&endpoint),
        endpoint,
    }
}

ledger_contract!(tables);

/// The raw item at `pk`/`sk`.
async fn raw(
    client: &Client,
    table: &str,
    pk: &str,
    sk: &str,
) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// The raw batch items of window `W`.
async fn batch_items(client: &Client, table: &str) -> Vec<HashMap<String, AttributeValue>> {
    client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :b)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("W#{W}")))
        .expression_attribute_values(":b", AttributeValue::S("B#".to_owned()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
}

/// Bytes of an item as DynamoDB counts them (names plus values), for the
/// attribute types the ledger writes.
fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

fn num(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item[name].as_s().unwrap()
}

#[tokio::test]
async fn items_follow_the_documented_layout() {
    let tables = tables().await;
    let ledger = ledger_with_window(&tables).await;
    let (client, table) = (&tables.client, ledger.table());
    let window_pk = format!("W#{W}");
    let expiry = W_START + i64::try_from(DEFAULT_RETENTION.as_secs()).unwrap();

    let win = raw(client, table, &window_pk, "WINDOW").await.unwrap();
    assert_eq!(text(&win, "state"), "open");
    assert_eq!((text(&win, "due_pk"), text(&win, "due_sk")), ("DUE", W));
    assert_eq!(num(&win, "ttl"), expiry);
    // One call, one batch: one change of the input set.
    assert_eq!((num(&win, "input_rev"), num(&win, "claimed_rev")), (1, 0));
    let batches = batch_items(client, table).await;
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert!(text(batch, "sk").starts_with("B#"));
    assert_eq!((num(batch, "files"), num(batch, "ttl")), (2, expiry));
    assert_eq!(num(batch, "recorded_at"), W_START + 70);
    assert!(batch["entries"].is_b());

    // Only open, dirty and failed windows are in the due index.
    let in_index = |item: &HashMap<String, AttributeValue>| {
        item.contains_key("due_pk") && item.contains_key("due_sk")
    };
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let win = raw(client, table, &window_pk, "WINDOW").await.unwrap();
    assert!(!in_index(&win), "running: {win:?}");
    assert_eq!(num(&win, "claimed_rev"), 1);
    ledger.fail(W, claim.version, "boom", T + 1).await.unwrap();
    assert!(in_index(
        &raw(client, table, &window_pk, "WINDOW").await.unwrap()
    ));
    let claim = ledger.claim(W, &opts(LEASE), T + 2).await.unwrap();
    ledger
        .commit(W, claim.version, &info("x"), T + 3)
        .await
        .unwrap();
    let win = raw(client, table, &window_pk, "WINDOW").await.unwrap();
    assert!(!in_index(&win), "committed: {win:?}");
    assert_eq!(win["outputs"].as_l().unwrap().len(), 2);
    ledger
        .record_files(&[file("c", W, W_START, 1, None)], T + 4)
        .await
        .unwrap();
    let win = raw(client, table, &window_pk, "WINDOW").await.unwrap();
    assert_eq!(text(&win, "state"), "dirty");
    assert!(in_index(&win));
}

#[tokio::test]
async fn retention_sets_the_ttl() {
    let tables = tables().await;
    let day = Duration::from_secs(86_400);
    let ledger = tables.fresh().await.with_retention(day);
    ledger
        .record_files(&[file("a", W, W_START, 1, None)], T)
        .await
        .unwrap();
    let (client, table) = (&tables.client, ledger.table());
    let window = raw(client, table, &format!("W#{W}"), "WINDOW")
        .await
        .unwrap();
    for item in [window].iter().chain(&batch_items(client, table).await) {
        assert_eq!(num(item, "ttl"), W_START + 86_400, "{item:?}");
    }
}

#[tokio::test]
async fn create_table_is_idempotent_and_sets_up_index_and_ttl() {
    let tables = tables().await;
    let name = tables.table().await;
    DynamoLedger::create_table(&tables.client, &name)
        .await
        .unwrap();
    let desc = tables
        .client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let index = &desc.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some("due"));
    let keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["due_pk", "due_sk"]);
    let ttl = tables
        .client
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some("ttl"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn undecodable_items_are_reported_as_corrupt() {
    let tables = tables().await;
    let ledger = ledger_with_window(&tables).await;
    let set = |pk: String, sk: &'static str, name: &'static str, value: AttributeValue| {
        let client = tables.client.clone();
        let table = ledger.table().to_owned();
        async move {
            client
                .update_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk.to_owned()))
                .update_expression("SET #a = :v")
                .expression_attribute_names("#a", name)
                .expression_attribute_values(":v", value)
                .send()
                .await
                .unwrap();
        }
    };
    set(
        format!("W#{W}"),
        "WINDOW",
        "state",
        AttributeValue::S("paused".into()),
    )
    .await;
    let err = ledger.window(W).await.unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt { what } if what.contains("paused") && what.contains(W)),
        "{err:?}"
    );
    set(
        format!("W#{W}"),
        "WINDOW",
        "state",
        AttributeValue::S("open".into()),
    )
    .await;
    set(
        format!("W#{W}"),
        "WINDOW",
        "outputs",
        AttributeValue::S("nope".into()),
    )
    .await;
    assert!(matches!(
        ledger.windows().await.unwrap_err(),
        LedgerError::Corrupt { .. }
    ));
    let batch = batch_items(&tables.client, ledger.table()).await.remove(0);
    let sk: &'static str = text(&batch, "sk").to_owned().leak();
    set(
        format!("W#{W}"),
        sk,
        "entries",
        AttributeValue::B(vec![1, 2, 3].into()),
    )
    .await;
    let err = ledger.files(W).await.unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt { what } if what.contains("do not decompress") && what.contains(sk)),
        "{err:?}"
    );
}

/// A window recorded by an earlier version, one file item per file, keeps
/// its files; a damaged one is reported.
#[tokio::test]
async fn file_items_of_earlier_versions_are_still_listed() {
    let tables = tables().await;
    let ledger = ledger_with_window(&tables).await;
    let old = |size: &str| {
        [
            ("pk", AttributeValue::S(format!("W#{W}"))),
            ("sk", AttributeValue::S("F#old".into())),
            ("key", AttributeValue::S("old".into())),
            ("window", AttributeValue::S(W.into())),
            ("window_start", AttributeValue::N(W_START.to_string())),
            ("account", AttributeValue::S("111122223333".into())),
            ("size", AttributeValue::N(size.into())),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into()
    };
    let put = |item: HashMap<String, AttributeValue>| {
        tables
            .client
            .put_item()
            .table_name(ledger.table())
            .set_item(Some(item))
            .send()
    };
    put(old("5")).await.unwrap();
    assert_eq!(keys_of(&ledger, W).await, ["a", "b", "old"]);
    put(old("-1")).await.unwrap();
    let err = ledger.files(W).await.unwrap_err();
    assert!(
        matches!(&err, LedgerError::Corrupt { what } if what.contains("size = -1") && what.contains("file old")),
        "{err:?}"
    );
}

/// `count` distinct keys of `len` bytes that do not compress.
fn random_keys(count: usize, len: usize) -> Vec<String> {
    use sha2::{Digest, Sha256};
    (0..count)
        .map(|i| {
            let mut key = String::new();
            let mut seed = Sha256::digest(format!("key {i}"));
            while key.len() < len {
                key.extend(seed.iter().map(|b| format!("{b:02x}")));
                seed = Sha256::digest(seed);
            }
            key.truncate(len);
            key
        })
        .collect()
}

#[tokio::test]
async fn items_stay_within_dynamodb_limits() {
    const ITEM_LIMIT: usize = 400 * 1024;
    let tables = tables().await;
    let ledger = tables.fresh().await;
    let (client, table) = (&tables.client, ledger.table());
    let entries = |keys: &[String]| -> Vec<_> {
        keys.iter()
            .map(|k| {
                file(
                    k,
                    W,
                    W_START,
                    1_000_000,
                    Some("\"0123456789abcdef0123456789abcdef\""),
                )
            })
            .collect()
    };

    // A batch of 100 keys of 1 KiB that do not compress: one item.
    let batch = entries(&random_keys(100, 1024));
    ledger.record_files(&batch, T).await.unwrap();
    let items = batch_items(client, table).await;
    assert_eq!(items.len(), 1);
    assert!(
        item_bytes(&items[0]) < ITEM_LIMIT / 2,
        "{}",
        item_bytes(&items[0])
    );

    // Retries of the same batch find it: nothing grows, nothing is counted again.
    let window_pk = format!("W#{W}");
    let window = || raw(client, table, &window_pk, "WINDOW");
    let before = window().await.unwrap();
    for retry in 1..=3 {
        let r = ledger.record_files(&batch, T + retry).await.unwrap();
        assert!(r.iter().all(|r| *r == Recorded::Duplicate));
    }
    assert_eq!(batch_items(client, table).await.len(), 1);
    assert_eq!(window().await.unwrap(), before);

    // Ten times as many: split over items each within the limit.
    let many = entries(&random_keys(1000, 1024));
    ledger.record_files(&many, T + 10).await.unwrap();
    let items = batch_items(client, table).await;
    assert!(items.len() > 2, "{}", items.len());
    assert!(items.iter().all(|i| item_bytes(i) < ITEM_LIMIT));
    assert_eq!(ledger.files(W).await.unwrap().len(), 1000);
}

#[tokio::test]
async fn a_window_of_ten_thousand_files_in_batches_of_a_hundred() {
    let tables = tables().await;
    let ledger = tables.fresh().await;
    let keys: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "AWSLogs/{a:012}/vpcflowlogs/eu-west-1/2026/11/22/{a:012}_vpcflowlogs_eu-west-1_fl-{i:017x}_20261122T1305Z_{h:08x}.log.gz",
                a = 100_000_000_000_u64 + i / 7,
                h = i * 2_654_435_761 % 4_294_967_291,
            )
        })
        .collect();
    for (n, chunk) in keys.chunks(100).enumerate() {
        let files: Vec<_> = chunk
            .iter()
            .map(|k| file(k, W, W_START, 50_000, Some("e")))
            .collect();
        let now = T + i64::try_from(n).unwrap();
        ledger.record_files(&files, now).await.unwrap();
    }
    let (client, table) = (&tables.client, ledger.table());
    let items = batch_items(client, table).await;
    assert_eq!(items.len(), 100);
    let largest = items.iter().map(item_bytes).max().unwrap();
    assert!(
        largest < 10 * 1024,
        "a batch of 100 keys takes {largest} bytes"
    );
    let window = raw(client, table, &format!("W#{W}"), "WINDOW")
        .await
        .unwrap();
    assert!(item_bytes(&window) < 1024, "{window:?}");
    let rec = record(&ledger, W).await;
    assert_eq!((rec.files, rec.bytes), (10_000, 500_000_000));
    let claim = ledger.claim(W, &opts(LEASE), T + 200).await.unwrap();
    assert_eq!(claim.files.len(), 10_000);
    assert!(claim.files.windows(2).all(|w| w[0].key < w[1].key));
}

#[tokio::test]
async fn very_long_failure_reasons_are_cut() {
    let tables = tables().await;
    let ledger = ledger_with_window(&tables).await;
    let claim = ledger.claim(W, &opts(LEASE), T).await.unwrap();
    let reason = "é".repeat(300_000);
    ledger.fail(W, claim.version, &reason, T + 1).await.unwrap();
    let error = record(&ledger, W).await.error.unwrap();
    assert!(error.len() <= 16 * 1024, "{}", error.len());
    assert!(error.ends_with(" [cut]"));
    assert!(reason.starts_with(error.trim_end_matches(" [cut]")));
}

#[tokio::test]
async fn backend_errors_carry_the_call_and_the_sdk_context() {
    let tables = tables().await;
    let ledger = DynamoLedger::new(tables.client.clone(), "no-such-table");
    let err = ledger.window(W).await.unwrap_err();
    let LedgerError::Backend { op, source } = &err else {
        panic!("expected a backend error, got {err:?}");
    };
    assert_eq!(*op, "read a window");
    let dynamo = source.downcast_ref::<DynamoError>().unwrap();
    assert_eq!(dynamo.call(), "GetItem");
    assert_eq!(dynamo.code(), Some("ResourceNotFoundException"));
    assert!(!err.is_retryable());
    let text = dynamo.to_string();
    assert!(
        text.contains("no-such-table") && text.contains("ResourceNotFoundException"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_across_ledgers_have_one_winner() {
    let tables = tables().await;
    let first = Arc::new(ledger_with_window(&tables).await);
    // A second ledger with its own client, as in another Lambda.
    let second: Arc<dyn Ledger> = Arc::new(DynamoLedger::new(
        Tables::client(&tables.endpoint),
        first.table(),
    ));
    let won = claims_race(first.clone(), second, 10, false).await;
    assert!(won.iter().all(|claim| claim.files.len() == 2));
    assert_eq!(record(first.as_ref(), W).await.version, 10);
}
