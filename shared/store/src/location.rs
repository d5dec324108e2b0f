//! Where a store lives (`Location`), and turning one into a ready `BlobStore`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use aws_config::BehaviorVersion;

use crate::{BlobStore, LocalStore, S3Store, StoreError};

/// A store root given on a command line: a local directory or an S3 prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on the local file system (need not exist yet).
    Local(PathBuf),
    /// `s3://bucket/prefix`; `prefix` has no leading or trailing `/` and may be empty.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix under which the store's keys live.
        prefix: String,
    },
}

impl Location {
    /// Parses `s3://bucket[/prefix]` as S3 and anything else as a local path.
    /// Other URL schemes (`gs://`, `https://`, ...) and empty strings are rejected.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::InvalidLocation(format!(
                    "{s:?}: missing bucket name"
                )));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if s.is_empty() {
            return Err(StoreError::InvalidLocation("empty location".to_owned()));
        }
        if let Some((scheme, _)) = s.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        {
            return Err(StoreError::InvalidLocation(format!(
                "{s:?}: unsupported scheme {scheme:?} (use a local path or s3://bucket/prefix)"
            )));
        }
        Ok(Self::Local(PathBuf::from(s)))
    }
}

impl FromStr for Location {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Opens the store at `location`. For S3 this builds a client from the
/// environment (see [`s3_client_from_env`]); call it once per location and
/// share the returned `Arc`.
pub async fn open_store(location: &Location) -> Result<Arc<dyn BlobStore>, StoreError> {
    Ok(match location {
        Location::Local(path) => Arc::new(LocalStore::new(path)),
        Location::S3 { bucket, prefix } => Arc::new(S3Store::new(
            s3_client_from_env().await,
            bucket.clone(),
            prefix.clone(),
        )),
    })
}

/// An S3 client configured from the environment the usual AWS way (region,
/// credentials, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, profiles).
///
/// When an endpoint override is set (moto, MinIO, ...) path-style addressing
/// is forced, because those servers do not serve `bucket.host` names.
pub async fn s3_client_from_env() -> aws_sdk_s3::Client {
    s3_client(&aws_config::defaults(BehaviorVersion::latest()).load().await)
}

/// An S3 client from an SDK configuration, path-style when an endpoint
/// override is set (see [`s3_client_from_env`]).
pub fn s3_client(sdk_config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let overridden = sdk_config.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty());
    let mut builder = aws_sdk_s3::config::Builder::from(sdk_config);
    if overridden {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> Location {
        Location::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn parses_s3_locations() {
        assert_eq!(Location::parse("s3://b").unwrap(), s3("b", ""));
        assert_eq!(Location::parse("s3://b/").unwrap(), s3("b", ""));
        assert_eq!(Location::parse("s3://b/p/q").unwrap(), s3("b", "p/q"));
        assert_eq!(Location::parse("s3://b/p/q/").unwrap(), s3("b", "p/q"));
        assert_eq!(Location::parse("s3://b//p").unwrap(), s3("b", "p"));
    }

    #[test]
    fn parses_local_locations() {
        for path in ["/abs/dir", "rel/dir", ".", "s3-not-a-url", "C:\\data"] {
            assert_eq!(
                Location::parse(path).unwrap(),
                Location::Local(PathBuf::from(path))
            );
        }
    }

    #[test]
    fn rejects_bad_locations() {
        for bad in ["", "s3://", "s3:///p", "gs://b/p", "https://host/x"] {
            let err = Location::parse(bad).unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidLocation(_)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["s3://b", "s3://b/p/q", "/abs/dir"] {
            let loc: Location = s.parse().unwrap();
            assert_eq!(loc.to_string(), s);
        }
    }

    #[tokio::test]
    async fn opens_local_store() {
        let store = open_store(&Location::Local(PathBuf::from("/tmp/x")))
            .await
            .unwrap();
        assert_eq!(store.describe(), "/tmp/x");
    }
}
