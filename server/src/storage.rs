//! The sled database behind the server. One `Db` per server, one `Tree` per concern.
//!
//! # Flushing
//! Nothing here calls sled's `flush_async`. It runs the flush on sled's own small IO pool,
//! where it blocks until the log buffer it waits for is written, and that write is queued on
//! the very same pool: twenty writes flushing at once could occupy every pool thread with a
//! flush while the write they wait for sat in the queue behind them, and the server hung for
//! good (issue #12; sled#1308, #1412). [`GroupFlush`] runs sled's synchronous `flush` on
//! tokio's blocking pool instead, and lets every caller waiting at the same time share one.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long [`open_sled`] waits for a lock that the same process is about to let go.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens the sled database in `dir`, waiting briefly while its file lock is held.
///
/// Dropping a `sled::Db` does not release the lock at once: sled's background flusher holds a
/// handle until its next tick. A restart in the same process (a test, a restore after a backup)
/// would otherwise fail at random with "could not acquire lock". Another process holding the lock
/// for longer (a running server) still gets the error after the wait.
pub fn open_sled(dir: &Path) -> Result<sled::Db, sled::Error> {
    let started = Instant::now();
    loop {
        match sled::Config::new().path(dir).open() {
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Makes the writes to one sled `Db` durable, off the async workers, with one flush shared
/// by every caller that asks while another flush is being waited for (group commit).
/// Cloning is cheap; clones share the group.
#[derive(Clone)]
pub struct GroupFlush {
    inner: Arc<GroupInner>,
}

struct GroupInner {
    db: sled::Db,
    /// Tickets handed out, one per call: a caller's writes all happened before its ticket.
    tickets: AtomicU64,
    /// The highest ticket known durable. Held across the flush, so one flush runs at a time
    /// and the callers queued behind it usually find their ticket covered.
    durable: tokio::sync::Mutex<u64>,
}

impl GroupFlush {
    pub fn new(db: sled::Db) -> Self {
        Self {
            inner: Arc::new(GroupInner {
                db,
                tickets: AtomicU64::new(0),
                durable: tokio::sync::Mutex::new(0),
            }),
        }
    }

    /// Returns once every write made before the call is on disk.
    pub async fn flush(&self) -> Result<(), sled::Error> {
        let ticket = self.inner.tickets.fetch_add(1, Ordering::AcqRel) + 1;
        let mut durable = self.inner.durable.lock().await;
        if *durable >= ticket {
            // A flush that started after our ticket was taken has finished.
            return Ok(());
        }
        // Every ticket up to here was taken after its writes, so this flush covers them all.
        let covers = self.inner.tickets.load(Ordering::Acquire);
        let db = self.inner.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| sled::Error::Io(std::io::Error::other(format!("flush task: {e}"))))??;
        *durable = covers;
        Ok(())
    }
}

/// The server's data. Cloning is cheap (sled handles are reference-counted).
#[derive(Clone)]
pub struct Storage {
    db: sled::Db,
    meta: sled::Tree,
    flusher: GroupFlush,
}

impl Storage {
    /// Opens (or creates) the database in `dir`. Fails if another process holds it.
    pub fn open(dir: &Path) -> Result<Self, sled::Error> {
        let db = open_sled(dir)?;
        let meta = db.open_tree("meta")?;
        let flusher = GroupFlush::new(db.clone());
        Ok(Self { db, meta, flusher })
    }

    /// Writes a small record and waits until it is on disk: proves the store accepts writes
    /// right now (the disk is not full or read-only).
    pub async fn probe_writable(&self) -> Result<(), sled::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let meta = self.meta.clone();
        // sled calls may wait on sled's process-wide lock while a transaction commits: never
        // on an async worker.
        tokio::task::spawn_blocking(move || meta.insert("health-probe", &now.to_be_bytes()))
            .await
            .map_err(|e| sled::Error::Io(std::io::Error::other(format!("probe task: {e}"))))??;
        self.flush().await
    }

    /// The sled database itself, for the modules that keep their own trees in it (the CouchDB
    /// databases of [`crate::db`]).
    pub fn sled(&self) -> &sled::Db {
        &self.db
    }

    /// Waits until every write so far is durable. sled only syncs every 500 ms on its own, so
    /// anything acknowledged to a client must pass through here first.
    pub async fn flush(&self) -> Result<(), sled::Error> {
        self.flusher.flush().await
    }
}
