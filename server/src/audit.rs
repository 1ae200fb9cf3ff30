//! The administration log: who changed which user, device token or database, when, and how.
//!
//! Every change made through [`crate::admin_ops`] (the admin API and the `chaski` command line
//! alike, and databases created or deleted through CouchDB's `PUT`/`DELETE /db/{db}`, and a
//! device an administrator revokes with `DELETE /api/tokens/{id}`) appends one entry to the sled tree `admin_log` and writes the same as a `tracing`
//! line (`admin change`). Entries are keyed by sled's monotonic id (big-endian), so the tree's
//! order is the order of the changes and the newest are read from its end. The entry is
//! flushed before the change is acknowledged. No entry ever holds a password: a password change
//! is logged as "password set".

use serde::{Deserialize, Serialize};

use crate::auth::accounts::{now_secs, rfc3339};
use crate::storage::Storage;

const TREE: &str = "admin_log";

/// The most entries one read returns.
pub const MAX_LIMIT: usize = 1_000;

/// One change, as stored and as `GET /api/admin/log` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: an administrator's name, or `cli` (with the system user) for the command line.
    pub by: String,
    /// What, as `thing.verb`: `user.add`, `user.role`, `user.regions`, `user.disable`,
    /// `user.enable`, `user.password`, `token.revoke`, `db.create`, `db.delete`.
    pub action: String,
    /// Which user, token id or database.
    pub target: String,
    /// The change in words (`inspector → supervisor`); never a password.
    pub detail: String,
}

/// Who made a change: an administrator's name (or `cli (…)`) and, through the HTTP API, the
/// device token it came through, which the custody log's entry records.
#[derive(Clone, Copy, Debug)]
pub struct By<'a> {
    pub name: &'a str,
    pub token_id: Option<&'a str>,
}

impl<'a> From<&'a str> for By<'a> {
    /// The command line, or a test: no device token.
    fn from(name: &'a str) -> Self {
        Self {
            name,
            token_id: None,
        }
    }
}

impl<'a> From<&'a String> for By<'a> {
    fn from(name: &'a String) -> Self {
        Self::from(name.as_str())
    }
}

impl<'a> From<&'a crate::auth::Principal> for By<'a> {
    fn from(principal: &'a crate::auth::Principal) -> Self {
        Self {
            name: &principal.name,
            token_id: principal.token_id.as_deref(),
        }
    }
}

/// The log. Cloning is cheap.
#[derive(Clone)]
pub struct AuditLog {
    storage: Storage,
    tree: sled::Tree,
    /// Every change is also appended to the custody log.
    custody: crate::custody::Trees,
}

impl AuditLog {
    /// Opens the log's tree (a sled call: at start-up, or on the blocking pool).
    pub fn open(storage: &Storage) -> Result<Self, sled::Error> {
        Ok(Self {
            tree: storage.sled().open_tree(TREE)?,
            custody: crate::custody::Trees::open(storage.sled())?,
            storage: storage.clone(),
        })
    }

    /// Appends an entry and returns once it is on disk.
    pub async fn record(
        &self,
        by: impl Into<By<'_>>,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<AuditEntry, sled::Error> {
        let By { name: by, token_id } = by.into();
        let entry = AuditEntry {
            at: rfc3339(now_secs()),
            by: by.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        };
        tracing::info!(by, action, on = target, detail, "admin change");
        let bytes = serde_json::to_vec(&entry)
            .map_err(|e| sled::Error::Io(std::io::Error::other(format!("audit entry: {e}"))))?;
        let mut custody = crate::custody::Entry::now(crate::custody::Kind::Admin);
        custody.token_id = token_id.map(str::to_owned);
        custody.at = entry.at.clone();
        custody.user = Some(entry.by.clone());
        custody.action = Some(entry.action.clone());
        custody.id = Some(entry.target.clone());
        custody.detail = Some(entry.detail.clone());
        let (db, tree, log) = (
            self.storage.sled().clone(),
            self.tree.clone(),
            self.custody.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let id = db.generate_id()?;
            tree.insert(id.to_be_bytes(), bytes)?;
            log.append(&[custody]).map(|_| ())
        })
        .await
        .map_err(|e| sled::Error::Io(std::io::Error::other(format!("audit task: {e}"))))??;
        self.storage.flush().await?;
        Ok(entry)
    }

    /// The newest `limit` entries (at most [`MAX_LIMIT`]), newest first. A sled read: call it
    /// on the blocking pool.
    pub fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>, sled::Error> {
        let mut out = Vec::new();
        for item in self.tree.iter().rev().take(limit.min(MAX_LIMIT)) {
            let (_, bytes) = item?;
            match serde_json::from_slice(&bytes) {
                Ok(entry) => out.push(entry),
                Err(err) => tracing::error!(%err, "an unreadable entry in the admin log"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_come_back_newest_first_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        {
            let storage = Storage::open(&path).unwrap();
            let log = AuditLog::open(&storage).unwrap();
            log.record("ana", "user.add", "ines", "inspector; loreto")
                .await
                .unwrap();
            log.record("cli (root)", "user.disable", "ines", "")
                .await
                .unwrap();
        }
        let storage = Storage::open(&path).unwrap();
        let log = AuditLog::open(&storage).unwrap();
        let entries = log.recent(10).unwrap();
        let actions: Vec<_> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["user.disable", "user.add"]);
        assert_eq!(entries[1].by, "ana");
        assert!(entries[1].at.ends_with('Z'));
        assert_eq!(log.recent(1).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_custody_entry_names_the_device_token_the_change_came_through() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(&dir.path().join("data")).unwrap();
        let log = AuditLog::open(&storage).unwrap();
        let through_api = By {
            name: "ana",
            token_id: Some("t-1"),
        };
        log.record(through_api, "db.create", "loreto", "")
            .await
            .unwrap();
        log.record("cli (root)", "db.delete", "loreto", "")
            .await
            .unwrap();
        let entry = |index| {
            let (_, bytes) = log.custody.entry(index).unwrap().unwrap();
            serde_json::from_slice::<crate::custody::Entry>(&bytes).unwrap()
        };
        assert_eq!(entry(0).user.as_deref(), Some("ana"));
        assert_eq!(entry(0).token_id.as_deref(), Some("t-1"));
        assert_eq!(
            entry(1).token_id,
            None,
            "the command line has no device token"
        );
    }
}
