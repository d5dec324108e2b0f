//! The three steps of a window run. Each is a plain async function over a
//! [`Context`](crate::Context) and a typed request; Lambdas call one each, the
//! local runner calls all three.

mod combine_commit;
mod list_batch;
mod partial_merge;
mod spill;

pub use combine_commit::{combine_commit, finish_cleanups};
pub use list_batch::list_batch;
pub use partial_merge::partial_merge;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use store::BlobStore;

use crate::PipelineError;

/// Reads a JSON object written by an earlier step.
async fn get_json<T: DeserializeOwned>(
    store: &dyn BlobStore,
    key: &str,
    what: &'static str,
) -> Result<T, PipelineError> {
    let body = store.get(key).await?;
    serde_json::from_slice(&body).map_err(|e| PipelineError::Decode {
        what,
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Writes a JSON object for a later step (scratch: see [`BlobStore::put_scratch`]).
async fn put_json<T: Serialize>(
    store: &dyn BlobStore,
    key: &str,
    value: &T,
) -> Result<(), PipelineError> {
    let body = serde_json::to_vec_pretty(value).map_err(|e| PipelineError::Decode {
        what: "json",
        key: key.to_owned(),
        message: e.to_string(),
    })?;
    store.put_scratch(key, Bytes::from(body)).await?;
    Ok(())
}
