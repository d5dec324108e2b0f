//! [`SqliteLedger`]: the embedded [`Ledger`] of local runs, one SQLite file
//! (`OUTPUT/_flowmerge/ledger.sqlite`) or an in-memory database for tests.
//!
//! Each ledger holds one connection behind a mutex. Every call runs on Tokio's
//! blocking pool (`spawn_blocking`) rather than on the async worker: the SQL
//! itself takes well under a millisecond, but when another process holds the
//! database lock SQLite waits up to the 5 s busy timeout, and that wait must not
//! stall a current-thread runtime (the CLI's) or a worker thread. The mutex is
//! only ever taken on the blocking pool, so it never blocks async code either.
//! Consequence: methods must be called from within a Tokio runtime.

mod ops;
mod rows;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use std::{fmt, fs};

use async_trait::async_trait;
use rusqlite::Connection;

use crate::{
    Claim, ClaimOptions, CommitInfo, FileEntry, Ledger, LedgerError, Recorded, WindowRecord,
    WindowState,
};

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Ledger`] stored in SQLite.
///
/// Cheap to share behind an `Arc`; all methods take `&self`. Several
/// `SqliteLedger`s (in one process or several) may open the same file:
/// transitions run in `BEGIN IMMEDIATE` transactions, so they serialize.
pub struct SqliteLedger {
    conn: Arc<Mutex<Connection>>,
    location: String,
}

impl fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger at `path`, creating its parent
    /// directory and schema. Uses WAL journaling and a 5 s busy timeout.
    ///
    /// Fails with [`LedgerError::Corrupt`] if the file was written by a newer
    /// schema version.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .map_err(|e| LedgerError::backend("create the ledger directory", e))?;
        }
        let conn =
            Connection::open(path).map_err(|e| LedgerError::backend("open the ledger", e))?;
        // journal_mode answers with the mode in force; WAL may be refused on
        // file systems without shared memory, which only costs concurrency.
        conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get::<_, String>(0))
            .map_err(|e| LedgerError::backend("enable WAL journaling", e))?;
        Self::init(conn, path.display().to_string())
    }

    /// A private, empty in-memory ledger (tests, dry runs).
    pub fn in_memory() -> Result<Self, LedgerError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| LedgerError::backend("open an in-memory ledger", e))?;
        Self::init(conn, ":memory:".to_owned())
    }

    fn init(mut conn: Connection, location: String) -> Result<Self, LedgerError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| LedgerError::backend("set the busy timeout", e))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| LedgerError::backend("enable foreign keys", e))?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            location,
        })
    }

    /// Runs `work` on the blocking pool with the connection locked.
    async fn run<T, F>(&self, op: &'static str, work: F) -> Result<T, LedgerError>
    where
        F: FnOnce(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
        T: Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let joined = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves no half-done work behind:
            // an open transaction rolls back when it is dropped during unwinding.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => Err(LedgerError::backend(op, err)),
        }
    }
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn record_files(
        &self,
        files: &[FileEntry],
        now: i64,
    ) -> Result<Vec<Recorded>, LedgerError> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let files = files.to_vec();
        self.run("record files", move |conn| {
            ops::record_files(conn, &files, now)
        })
        .await
    }

    async fn window(&self, window: &str) -> Result<Option<WindowRecord>, LedgerError> {
        let window = window.to_owned();
        self.run("read a window", move |conn| ops::window(conn, &window))
            .await
    }

    async fn windows(&self) -> Result<Vec<WindowRecord>, LedgerError> {
        self.run("list windows", ops::windows).await
    }

    async fn due(&self, now: i64, settle_secs: i64) -> Result<Vec<WindowRecord>, LedgerError> {
        self.run("list due windows", move |conn| {
            ops::due(conn, now, settle_secs)
        })
        .await
    }

    async fn files(&self, window: &str) -> Result<Vec<FileEntry>, LedgerError> {
        let window = window.to_owned();
        self.run("list files", move |conn| ops::files(conn, &window))
            .await
    }

    async fn claim(
        &self,
        window: &str,
        opts: &ClaimOptions,
        now: i64,
    ) -> Result<Claim, LedgerError> {
        let (window, opts) = (window.to_owned(), opts.clone());
        self.run("claim a window", move |conn| {
            ops::claim(conn, &window, &opts, now)
        })
        .await
    }

    async fn commit(
        &self,
        window: &str,
        version: u64,
        info: &CommitInfo,
        now: i64,
    ) -> Result<WindowState, LedgerError> {
        let (window, info) = (window.to_owned(), info.clone());
        self.run("commit a window", move |conn| {
            ops::commit(conn, &window, version, &info, now)
        })
        .await
    }

    async fn fail(
        &self,
        window: &str,
        version: u64,
        reason: &str,
        now: i64,
    ) -> Result<(), LedgerError> {
        let (window, reason) = (window.to_owned(), reason.to_owned());
        self.run("fail a window", move |conn| {
            ops::fail(conn, &window, version, &reason, now)
        })
        .await
    }
}
