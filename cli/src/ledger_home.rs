//! Where the local ledger lives: `OUTPUT/_flowmerge/ledger.sqlite`. For a
//! local OUTPUT it is used in place, under an exclusive lock file so two runs
//! never share it. For an S3 OUTPUT it is downloaded to a temporary file and
//! uploaded back after the run; losing it only costs recomputation, because
//! output keys derive from the input set and re-runs overwrite.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use ledger::SqliteLedger;
use store::{BlobStore, Location};

/// Key of the ledger in the output store.
const LEDGER_KEY: &str = "_flowmerge/ledger.sqlite";

/// An open ledger and what must happen to it when the run ends.
#[derive(Debug)]
pub struct LedgerHome {
    /// The ledger.
    pub ledger: Arc<SqliteLedger>,
    path: PathBuf,
    upload_to: Option<Arc<dyn BlobStore>>,
    _lock: Option<std::fs::File>,
    _temp: Option<tempfile::TempDir>,
}

impl LedgerHome {
    /// Opens (and for S3, downloads) the ledger of `output`.
    pub async fn open(output: &Location, store: &Arc<dyn BlobStore>) -> anyhow::Result<LedgerHome> {
        match output {
            Location::Local(root) => {
                let dir = root.join("_flowmerge");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let lock = std::fs::File::create(dir.join("lock"))?;
                lock.try_lock().map_err(|_| {
                    anyhow::anyhow!(
                        "another flowmerge run is using {} (lock held on {}/lock)",
                        root.display(),
                        dir.display()
                    )
                })?;
                // Holding the lock, this run owns the output: clear the debris
                // of writes a crashed run left half-done.
                let removed = store::LocalStore::new(root).remove_abandoned_temp_files()?;
                if removed > 0 {
                    tracing::warn!(
                        files = removed,
                        "removed temporary files of an interrupted run"
                    );
                }
                let path = root.join(LEDGER_KEY);
                Ok(LedgerHome {
                    ledger: Arc::new(SqliteLedger::open(&path)?),
                    path,
                    upload_to: None,
                    _lock: Some(lock),
                    _temp: None,
                })
            }
            Location::S3 { .. } => {
                let temp = tempfile::tempdir()?;
                let path = temp.path().join("ledger.sqlite");
                if store.head(LEDGER_KEY).await?.is_some() {
                    std::fs::write(&path, store.get(LEDGER_KEY).await?)?;
                }
                Ok(LedgerHome {
                    ledger: Arc::new(SqliteLedger::open(&path)?),
                    path,
                    upload_to: Some(store.clone()),
                    _lock: None,
                    _temp: Some(temp),
                })
            }
        }
    }

    /// Uploads the ledger back when it lives in S3.
    pub async fn close(self) -> anyhow::Result<()> {
        let LedgerHome {
            ledger,
            path,
            upload_to,
            ..
        } = self;
        // Dropping the last handle closes SQLite, folding its WAL into the file.
        drop(ledger);
        if let Some(store) = upload_to {
            let body = std::fs::read(&path)?;
            store.put(LEDGER_KEY, Bytes::from(body)).await?;
        }
        Ok(())
    }
}
