//! Object storage for flowmerge: the [`BlobStore`] trait over a flat key space,
//! with a local-directory ([`LocalStore`]) and an S3 ([`S3Store`]) implementation.
//!
//! Keys are `/`-separated paths relative to the store's root, never starting
//! with `/`. Both implementations behave alike: `list` is recursive and sorted,
//! `put` is an atomic replace, deleting a missing key is fine.
//!
//! ```
//! use store::{BlobStore, Location, open_store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), store::StoreError> {
//! # let dir = std::env::temp_dir().join(format!("store-doc-{}", std::process::id()));
//! // `Location::parse("s3://bucket/prefix")` would give an S3Store instead.
//! let store = open_store(&Location::Local(dir.clone())).await?;
//! store.put("a/b.txt", bytes::Bytes::from_static(b"hello")).await?;
//! let listed = store.list("a/").await?;
//! assert_eq!(listed[0].key, "a/b.txt");
//! assert_eq!(&store.get("a/b.txt").await?[..], b"hello");
//! store.delete("a/b.txt").await?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```

mod error;
mod local;
mod location;
mod s3;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncRead;

pub use error::{KeyFailure, StoreError};
pub use local::LocalStore;
pub use location::{Location, open_store, s3_client, s3_client_from_env};
pub use s3::S3Store;

/// A streaming object body, as returned by [`BlobStore::open`].
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

/// What a listing or `head` knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Key relative to the store root.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// S3 ETag (quotes included, as S3 sends it); always `None` for local files.
    pub etag: Option<String>,
    /// Last modification, unix seconds (`None` when the backend did not say).
    pub modified: Option<i64>,
}

/// An entry a listing passed over, and why (a link not followed, a link
/// loop, an unreadable directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Key of the entry, relative to the store root.
    pub key: String,
    /// Why it is not listed.
    pub reason: String,
}

/// What a listing found: the objects, sorted by key, and the entries it
/// passed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The objects.
    pub objects: Vec<ObjectMeta>,
    /// Entries that are not listed, with the reason.
    pub skipped: Vec<Skipped>,
}

/// A flat key space of immutable-once-written objects.
///
/// Dyn-compatible: callers hold an `Arc<dyn BlobStore>`.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Human-readable root, e.g. `/abs/dir` or `s3://bucket/prefix`.
    fn describe(&self) -> String;

    /// All objects whose key starts with `prefix` (recursive), sorted by key.
    /// `""` lists everything. The prefix is a plain string prefix, not a directory.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// [`BlobStore::list`], also telling what it passed over and why (a
    /// local directory's links and unreadable directories; S3 passes over
    /// nothing).
    async fn survey(&self, prefix: &str) -> Result<Listing, StoreError> {
        Ok(Listing {
            objects: self.list(prefix).await?,
            skipped: Vec::new(),
        })
    }

    /// The whole object body; meant for small objects.
    async fn get(&self, key: &str) -> Result<Bytes, StoreError>;

    /// A streaming reader over the object body, for large objects.
    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError>;

    /// The object's metadata, or `None` if it does not exist.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;

    /// Atomically creates or replaces the object: readers see the old body or
    /// the new one, never a partial one. Returns the new object's metadata.
    async fn put(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError>;

    /// [`BlobStore::put`] of a run's scratch object (a manifest, a staged
    /// partial): as atomic, but a store may skip making it durable. A crashed
    /// run's scratch is never read again: the next run claims the window
    /// under a new version, which has scratch keys of its own.
    async fn put_scratch(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError> {
        self.put(key, body).await
    }

    /// Deletes the object; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Deletes many objects (S3: `DeleteObjects` in batches of 1000).
    /// Missing keys are not an error.
    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError>;
}
