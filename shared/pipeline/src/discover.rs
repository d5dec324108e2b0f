//! Finding input files in a store and assigning each to its window: from the
//! delivery file name when it has one, else from the object's modification
//! time (for files named explicitly or copied around).

use flowlog::{Window, parse_key};
use ledger::FileEntry;
use store::{BlobStore, Skipped};

use crate::PipelineError;

/// Account recorded for files whose key does not name one.
pub const UNKNOWN_ACCOUNT: &str = "unknown";

/// Input files found under a prefix.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    /// Files to compact, with their windows.
    pub files: Vec<FileEntry>,
    /// Entries passed over, with the reason: keys that are not flow log
    /// files (neither a delivery name nor a `.log`, `.gz` or `.log.parquet`
    /// one), and what the store could not list (links, unreadable directories).
    pub skipped: Vec<Skipped>,
}

/// Lists `prefix` and classifies every object. Keys with a path component
/// starting with `_` or `.` (flowmerge's own work area, hidden files) are ignored.
pub async fn discover(store: &dyn BlobStore, prefix: &str) -> Result<Discovered, PipelineError> {
    let listing = store.survey(prefix).await?;
    let hidden = |key: &str| {
        key.split('/')
            .any(|part| part.starts_with('_') || part.starts_with('.'))
    };
    let mut found = Discovered {
        skipped: listing.skipped,
        ..Discovered::default()
    };
    found.skipped.retain(|skipped| !hidden(&skipped.key));
    for object in listing.objects {
        if hidden(&object.key) {
            continue;
        }
        match entry(&object, false) {
            Some(file) => found.files.push(file),
            None => found.skipped.push(Skipped {
                key: object.key,
                reason: "not a flow log file name".to_owned(),
            }),
        }
    }
    Ok(found)
}

/// One object named explicitly: accepted whatever its name, its window taken
/// from the delivery stamp if the name has one, else from its modification time.
pub async fn discover_key(store: &dyn BlobStore, key: &str) -> Result<FileEntry, PipelineError> {
    let object = store
        .head(key)
        .await?
        .ok_or_else(|| store::StoreError::NotFound {
            key: key.to_owned(),
        })?;
    entry(&object, true).ok_or_else(|| {
        PipelineError::InvalidRequest(format!(
            "{key}: no modification time to place it in a window"
        ))
    })
}

/// The ledger entry of an object: window and account from a delivery file
/// name, else (for `.log`/`.gz` names, or any name when `explicit`) the window
/// of its modification time and an unknown account.
fn entry(object: &store::ObjectMeta, explicit: bool) -> Option<FileEntry> {
    let (window, account) = match parse_key(&object.key) {
        Some(info) => (
            info.window,
            info.account().unwrap_or(UNKNOWN_ACCOUNT).to_owned(),
        ),
        None if explicit || is_log_name(&object.key) => (
            Window::containing(object.modified?),
            UNKNOWN_ACCOUNT.to_owned(),
        ),
        None => return None,
    };
    Some(FileEntry {
        key: object.key.clone(),
        window: window.to_string(),
        window_start: window.start(),
        account,
        size: object.size,
        etag: object.etag.clone(),
        home: None,
    })
}

fn is_log_name(key: &str) -> bool {
    [".log.gz", ".log", ".gz", ".log.parquet"]
        .iter()
        .any(|ext| key.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use store::LocalStore;

    use super::*;

    #[tokio::test]
    async fn classifies_delivery_files_other_logs_and_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let delivery = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/22/123456789012_vpcflowlogs_us-east-1_fl-1_20261122T1305Z_ab.log.gz";
        for key in [
            delivery,
            "misc/exported.log",
            "truth.json",
            "_flowmerge/ledger.sqlite",
            "x/.hidden.log",
        ] {
            store.put(key, Bytes::from_static(b"x")).await.unwrap();
        }
        let found = discover(&store, "").await.unwrap();
        let windows: Vec<_> = found
            .files
            .iter()
            .map(|f| (f.key.as_str(), f.account.as_str()))
            .collect();
        assert_eq!(
            windows,
            [(delivery, "123456789012"), ("misc/exported.log", "unknown")]
        );
        assert_eq!(found.files[0].window, "2026-11-22T13:05Z");
        assert_eq!(
            found.skipped,
            [Skipped {
                key: "truth.json".into(),
                reason: "not a flow log file name".into()
            }]
        );

        let named = discover_key(&store, "truth.json").await.unwrap();
        assert_eq!(named.account, "unknown");
        assert!(discover_key(&store, "missing.log").await.is_err());
    }
}
