//! The sled database behind the server. One `Db` per server, one `Tree` per concern.

use std::path::Path;
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

/// The server's data. Cloning is cheap (sled handles are reference-counted).
#[derive(Clone)]
pub struct Storage {
    db: sled::Db,
    meta: sled::Tree,
}

impl Storage {
    /// Opens (or creates) the database in `dir`. Fails if another process holds it.
    pub fn open(dir: &Path) -> Result<Self, sled::Error> {
        let db = open_sled(dir)?;
        let meta = db.open_tree("meta")?;
        Ok(Self { db, meta })
    }

    /// Writes a small record and waits until it is on disk: proves the store accepts writes
    /// right now (the disk is not full or read-only).
    pub async fn probe_writable(&self) -> Result<(), sled::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        self.meta.insert("health-probe", &now.to_be_bytes())?;
        self.db.flush_async().await?;
        Ok(())
    }

    /// The sled database itself, for the modules that keep their own trees in it (the CouchDB
    /// databases of [`crate::db`]).
    pub fn sled(&self) -> &sled::Db {
        &self.db
    }

    /// Waits until every write so far is durable. sled only syncs every 500 ms on its own, so
    /// anything acknowledged to a client must pass through here first.
    pub async fn flush(&self) -> Result<usize, sled::Error> {
        self.db.flush_async().await
    }
}
