//! `S3Store`: a `BlobStore` over one S3 bucket and key prefix (aws-sdk-s3).
//!
//! Store key `k` is S3 key `prefix/k` (just `k` with an empty prefix).
//! Large puts use multipart upload; batch deletes use `DeleteObjects`.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier,
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::{BlobStore, KeyFailure, ObjectMeta, ObjectReader, StoreError};

/// Bodies above this size are uploaded in parts of this size.
const PART_SIZE: usize = 16 * 1024 * 1024;
/// Parts of one upload in flight at once (bounds memory and connections).
const PART_CONCURRENCY: usize = 4;
/// `DeleteObjects` accepts at most this many keys per call.
const DELETE_BATCH: usize = 1000;

/// A [`BlobStore`] over `s3://bucket/prefix`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// No leading or trailing `/`; may be empty.
    prefix: String,
    /// `MaxKeys` per `ListObjectsV2` page; `None` = the server's default (1000).
    page_size: Option<i32>,
}

impl S3Store {
    /// A store over `bucket` under `prefix` (leading/trailing `/` are ignored),
    /// using a client the caller built (e.g. once per Lambda cold start).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_owned(),
            page_size: None,
        }
    }

    /// Lists with at most `max_keys` keys per `ListObjectsV2` page. Only useful
    /// for exercising pagination in tests; the default is the server's (1000).
    pub fn with_list_page_size(mut self, max_keys: i32) -> Self {
        self.page_size = Some(max_keys);
        self
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix, without leading or trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The S3 key for a store key (or key prefix).
    fn s3_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// Starts a `GetObject` and returns its (not yet read) body.
    async fn open_body(&self, key: &str) -> Result<ByteStream, StoreError> {
        check_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("GetObject", key, e))?;
        Ok(out.body)
    }

    /// Uploads `body` in parts; aborts the upload if any step fails so no
    /// orphaned parts keep costing storage.
    async fn put_multipart(&self, key: &str, body: Bytes) -> Result<Option<String>, StoreError> {
        let s3_key = self.s3_key(key);
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&s3_key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("CreateMultipartUpload", key, e))?;
        let Some(upload_id) = created.upload_id() else {
            return Err(StoreError::S3 {
                op: "CreateMultipartUpload",
                key: key.to_owned(),
                message: "response has no UploadId".to_owned(),
                retryable: false,
            });
        };
        let result = self.upload_parts(key, &s3_key, upload_id, body).await;
        if result.is_err() {
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&s3_key)
                .upload_id(upload_id)
                .send()
                .await;
            if let Err(e) = aborted {
                tracing::warn!(key, upload_id, error = %DisplayErrorContext(&e), "AbortMultipartUpload failed");
            }
        }
        result
    }

    /// Uploads the parts (a few at a time) and completes the upload.
    async fn upload_parts(
        &self,
        key: &str,
        s3_key: &str,
        upload_id: &str,
        body: Bytes,
    ) -> Result<Option<String>, StoreError> {
        let chunks = (0..body.len())
            .step_by(PART_SIZE)
            .zip(1..)
            .map(|(start, number)| {
                let end = (start + PART_SIZE).min(body.len());
                (number, body.slice(start..end))
            });
        let mut parts: Vec<CompletedPart> = futures::stream::iter(chunks)
            .map(|(number, chunk)| async move {
                let out = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(s3_key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .body(ByteStream::from(chunk))
                    .send()
                    .await
                    .map_err(|e| StoreError::from_sdk("UploadPart", key, e))?;
                Ok::<_, StoreError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag)
                        .set_checksum_crc32(out.checksum_crc32)
                        .build(),
                )
            })
            .buffer_unordered(PART_CONCURRENCY)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number());
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(s3_key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("CompleteMultipartUpload", key, e))?;
        Ok(done.e_tag)
    }

    /// Deletes one batch of at most [`DELETE_BATCH`] keys; returns per-key failures.
    async fn delete_batch(&self, keys: &[String]) -> Result<Vec<KeyFailure>, StoreError> {
        let first = keys.first().map(String::as_str).unwrap_or_default();
        let build_error = |e: aws_sdk_s3::error::BuildError| StoreError::S3 {
            op: "DeleteObjects",
            key: first.to_owned(),
            message: e.to_string(),
            retryable: false,
        };
        let objects = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(self.s3_key(k)).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(build_error)?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(build_error)?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("DeleteObjects", first, e))?;
        let base = self.s3_key("");
        Ok(out
            .errors()
            .iter()
            // S3 does not report missing keys as errors, but S3-compatible servers might.
            .filter(|e| e.code() != Some("NoSuchKey"))
            .map(|e| KeyFailure {
                key: e
                    .key()
                    .map(|k| k.strip_prefix(&base).unwrap_or(k).to_owned())
                    .unwrap_or_default(),
                code: e.code().map(str::to_owned),
                message: e.message().map(str::to_owned),
            })
            .collect())
    }
}

/// S3 accepts almost any key; refuse only those that cannot be ours.
fn check_key(key: &str) -> Result<(), StoreError> {
    let reason = if key.is_empty() {
        "empty key"
    } else if key.starts_with('/') {
        "key must be relative"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidKey {
        key: key.to_owned(),
        reason,
    })
}

fn unix_secs(t: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<i64> {
    t.map(aws_sdk_s3::primitives::DateTime::secs)
}

fn size(len: Option<i64>) -> u64 {
    len.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

#[async_trait]
impl BlobStore for S3Store {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let base = self.s3_key("");
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.s3_key(prefix))
            .set_max_keys(self.page_size)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StoreError::from_sdk("ListObjectsV2", prefix, e))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(&base)) else {
                    continue;
                };
                // Zero-byte "folder" markers (`a/b/`) are not objects a
                // directory could hold; skip them so both stores list alike.
                if key.is_empty() || key.ends_with('/') {
                    continue;
                }
                out.push(ObjectMeta {
                    key: key.to_owned(),
                    size: size(object.size()),
                    etag: object.e_tag().map(str::to_owned),
                    modified: unix_secs(object.last_modified()),
                });
            }
        }
        out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let body = self.open_body(key).await?;
        let collected = body.collect().await.map_err(|e| StoreError::S3 {
            op: "GetObject",
            key: key.to_owned(),
            message: DisplayErrorContext(&e).to_string(),
            // The response started and then broke off: a transient failure.
            retryable: true,
        })?;
        Ok(collected.into_bytes())
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        let body = self.open_body(key).await?;
        Ok(Box::pin(body.into_async_read()))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        check_key(key)?;
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .send()
            .await;
        match out {
            Ok(out) => Ok(Some(ObjectMeta {
                key: key.to_owned(),
                size: size(out.content_length()),
                etag: out.e_tag().map(str::to_owned),
                modified: unix_secs(out.last_modified()),
            })),
            Err(e) => match StoreError::from_sdk("HeadObject", key, e) {
                StoreError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// `modified` is `None` in the result: PutObject does not return it.
    async fn put(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError> {
        check_key(key)?;
        let size = body.len() as u64;
        let etag = if body.len() > PART_SIZE {
            self.put_multipart(key, body).await?
        } else {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(self.s3_key(key))
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("PutObject", key, e))?
                .e_tag
        };
        tracing::debug!(store = %self.describe(), key, size, "put");
        Ok(ObjectMeta {
            key: key.to_owned(),
            size,
            etag,
            modified: None,
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        let deleted = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.s3_key(key))
            .send()
            .await;
        match deleted.map_err(|e| StoreError::from_sdk("DeleteObject", key, e)) {
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), StoreError> {
        keys.iter().try_for_each(|k| check_key(k))?;
        let mut failures = Vec::new();
        for batch in keys.chunks(DELETE_BATCH) {
            failures.extend(self.delete_batch(batch).await?);
        }
        tracing::debug!(store = %self.describe(), keys = keys.len(), failed = failures.len(), "delete_many");
        if failures.is_empty() {
            Ok(())
        } else {
            Err(StoreError::DeleteFailed { failures })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(prefix: &str) -> S3Store {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build();
        S3Store::new(Client::from_conf(config), "bucket", prefix)
    }

    #[test]
    fn keys_join_the_prefix() {
        assert_eq!(store("").s3_key("a/b"), "a/b");
        assert_eq!(store("").s3_key(""), "");
        assert_eq!(store("p/q").s3_key("a/b"), "p/q/a/b");
        assert_eq!(store("/p/q/").s3_key("a"), "p/q/a");
        assert_eq!(store("p").s3_key(""), "p/");
    }

    #[test]
    fn describe_names_bucket_and_prefix() {
        assert_eq!(store("").describe(), "s3://bucket");
        assert_eq!(store("p/q/").describe(), "s3://bucket/p/q");
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert!(check_key("").is_err());
        assert!(check_key("/a").is_err());
        assert!(check_key("a/b").is_ok());
    }
}
