//! `S3Store` against a real S3-compatible server (e.g. `moto_server -p 5123`).
//!
//! Needs `FLOWMERGE_TEST_S3_ENDPOINT` (`tests/run.sh` starts a moto server),
//! e.g. `FLOWMERGE_TEST_S3_ENDPOINT=http://127.0.0.1:5123 cargo test -p store
//! --test s3`; without it every test fails.

// Helpers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use store::{BlobStore, Location, S3Store, StoreError, open_store};
use tokio::io::AsyncReadExt;

const ENDPOINT_VAR: &str = "FLOWMERGE_TEST_S3_ENDPOINT";
/// Set in the child process of `open_store_uses_the_environment`: the bucket to use.
const CHILD_VAR: &str = "FLOWMERGE_TEST_S3_CHILD_BUCKET";

/// The stand-in's endpoint. Without one the test fails: a suite that passes
/// without running would prove nothing.
fn endpoint() -> String {
    std::env::var(ENDPOINT_VAR)
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| {
            panic!("{ENDPOINT_VAR} must name an S3 stand-in (tests/run.sh starts a moto server)")
        })
}

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

/// A client and a fresh bucket, unique across tests and runs.
async fn setup() -> (Client, String) {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let client = client(&endpoint());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let bucket = format!(
        "flowmerge-test-{}-{nanos}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    (client, bucket)
}

fn keys(metas: &[store::ObjectMeta]) -> Vec<&str> {
    metas.iter().map(|m| m.key.as_str()).collect()
}

async fn read_all(store: &dyn BlobStore, key: &str) -> Vec<u8> {
    let mut reader = store.open(key).await.unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn put_get_head_list_delete() {
    let (client, bucket) = setup().await;
    let store = S3Store::new(client.clone(), &bucket, "/base/dir/");
    assert_eq!(store.describe(), format!("s3://{bucket}/base/dir"));

    let meta = store
        .put("a/1.gz", Bytes::from_static(b"one"))
        .await
        .unwrap();
    assert_eq!((meta.key.as_str(), meta.size), ("a/1.gz", 3));
    assert!(meta.etag.is_some());
    store
        .put("a/2.gz", Bytes::from_static(b"two!"))
        .await
        .unwrap();
    store.put("b", Bytes::new()).await.unwrap();
    // Neighbours of the prefix must not leak into the store's view.
    let root = S3Store::new(client.clone(), &bucket, "");
    root.put("base/dir2/x", Bytes::from_static(b"x"))
        .await
        .unwrap();
    root.put("base/dirx", Bytes::from_static(b"x"))
        .await
        .unwrap();

    assert_eq!(&store.get("a/1.gz").await.unwrap()[..], b"one");
    assert_eq!(read_all(&store, "a/2.gz").await, b"two!");
    let head = store.head("a/2.gz").await.unwrap().unwrap();
    assert_eq!((head.key.as_str(), head.size), ("a/2.gz", 4));
    assert!(head.etag.is_some() && head.modified.is_some());

    let all = store.list("").await.unwrap();
    assert_eq!(keys(&all), ["a/1.gz", "a/2.gz", "b"]);
    assert_eq!(all[1], head);
    assert_eq!(keys(&store.list("a/").await.unwrap()), ["a/1.gz", "a/2.gz"]);
    assert_eq!(
        keys(&root.list("base/").await.unwrap()),
        [
            "base/dir/a/1.gz",
            "base/dir/a/2.gz",
            "base/dir/b",
            "base/dir2/x",
            "base/dirx"
        ]
    );

    assert_eq!(store.head("missing").await.unwrap(), None);
    assert!(matches!(
        store.get("missing").await,
        Err(StoreError::NotFound { key }) if key == "missing"
    ));
    assert!(matches!(
        store.open("missing").await,
        Err(StoreError::NotFound { .. })
    ));

    store.delete("a/1.gz").await.unwrap();
    store.delete("a/1.gz").await.unwrap();
    assert_eq!(keys(&store.list("").await.unwrap()), ["a/2.gz", "b"]);
}

#[tokio::test]
async fn list_paginates() {
    let (client, bucket) = setup().await;
    let store = S3Store::new(client, &bucket, "p").with_list_page_size(7);
    let mut expected: Vec<String> = (0..40).map(|i| format!("k/{i:03}")).collect();
    futures::stream::iter(expected.iter().rev())
        .map(|k| store.put(k, Bytes::from(k.clone())))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    store.put("other", Bytes::new()).await.unwrap();

    let listed = store.list("k/").await.unwrap();
    assert_eq!(keys(&listed), expected);
    assert!(listed.iter().all(|m| m.size == 5));
    expected.push("other".into());
    assert_eq!(keys(&store.list("").await.unwrap()), expected);
}

#[tokio::test]
async fn multipart_put_round_trips() {
    let (client, bucket) = setup().await;
    let store = S3Store::new(client, &bucket, "");
    // 40 MiB, not periodic in the part size, so misordered parts would show.
    let body: Vec<u8> = (0..40u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let meta = store
        .put("big/file.parquet", Bytes::from(body.clone()))
        .await
        .unwrap_or_else(|e| {
            let hint = if e.to_string().contains("CompleteMultipartUploadResponse") {
                " (moto < 5.2.5 answers CompleteMultipartUpload with the wrong XML root, \
                 getmoto/moto#10055; upgrade moto)"
            } else {
                ""
            };
            panic!("multipart put failed{hint}: {e}")
        });
    assert_eq!(meta.size, body.len() as u64);
    // A multipart ETag ends with the part count: 16 + 16 + 8 MiB.
    let etag = meta.etag.unwrap();
    assert!(etag.trim_matches('"').ends_with("-3"), "{etag}");

    let head = store.head("big/file.parquet").await.unwrap().unwrap();
    assert_eq!(head.size, body.len() as u64);
    assert!(store.get("big/file.parquet").await.unwrap() == body);
    assert!(read_all(&store, "big/file.parquet").await == body);

    // Exactly one part's worth still goes in one PutObject.
    let meta = store
        .put("edge", Bytes::from(vec![1u8; 16 * 1024 * 1024]))
        .await
        .unwrap();
    assert!(!meta.etag.unwrap().contains('-'));
}

#[tokio::test]
async fn delete_many_batches() {
    let (client, bucket) = setup().await;
    let store = S3Store::new(client, &bucket, "pre");
    for key in ["x/1", "x/2", "y", "keep"] {
        store.put(key, Bytes::from_static(b"v")).await.unwrap();
    }
    // Over one DeleteObjects batch; most keys do not exist, which is fine.
    let mut doomed: Vec<String> = (0..1500).map(|i| format!("missing/{i}")).collect();
    doomed.insert(700, "x/1".into());
    doomed.extend(["x/2".into(), "y".into()]);
    store.delete_many(&doomed).await.unwrap();
    store.delete_many(&[]).await.unwrap();
    assert_eq!(keys(&store.list("").await.unwrap()), ["keep"]);
}

#[tokio::test]
async fn missing_bucket_is_an_s3_error() {
    let endpoint = endpoint();
    let store = S3Store::new(client(&endpoint), "flowmerge-no-such-bucket", "");
    let err = store.list("").await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::S3 {
                op: "ListObjectsV2",
                retryable: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
}

/// `open_store` must pick up endpoint, region and credentials from the
/// environment and force path-style addressing. The environment cannot be
/// changed safely inside a test process, so this re-runs itself as a child.
#[tokio::test]
async fn open_store_uses_the_environment() {
    if let Ok(bucket) = std::env::var(CHILD_VAR) {
        let location = Location::parse(&format!("s3://{bucket}/env")).unwrap();
        let store = open_store(&location).await.unwrap();
        store.put("k", Bytes::from_static(b"v")).await.unwrap();
        assert_eq!(&store.get("k").await.unwrap()[..], b"v");
        return;
    }
    let (client, bucket) = setup().await;
    // The SDK addresses IP endpoints path-style by itself; only a host name
    // shows whether path style was forced.
    let by_name = std::env::var(ENDPOINT_VAR)
        .unwrap()
        .replace("127.0.0.1", "localhost");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "open_store_uses_the_environment", "--nocapture"])
        .env(CHILD_VAR, &bucket)
        .env("AWS_ENDPOINT_URL", by_name)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .status()
        .unwrap();
    assert!(status.success());
    let out = client
        .get_object()
        .bucket(&bucket)
        .key("env/k")
        .send()
        .await
        .unwrap();
    assert_eq!(&out.body.collect().await.unwrap().into_bytes()[..], b"v");
}
