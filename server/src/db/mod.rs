//! The CouchDB databases this server holds: [`Databases`], the registry that creates, lists,
//! opens and deletes them, and [`SledStore`], one database in sled.
//!
//! Regional databases are named after Peru's departments ([`crate::regions`]), but any valid
//! CouchDB name can be created (the national office may want others).

pub mod sled_store;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::storage::GroupFlush;
pub use sled_store::{RawChange, SledStore};

/// Longest database name CouchDB accepts.
pub const MAX_DB_NAME_LEN: usize = 238;

/// A valid CouchDB database name: `^[a-z][a-z0-9_$()+/-]*$`, at most 238 characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbName(String);

impl DbName {
    /// Checks CouchDB's rules; the error is CouchDB's `illegal_database_name` (400).
    pub fn parse(name: &str) -> Result<Self, ApiError> {
        let mut bytes = name.bytes();
        let valid_first = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        let valid_rest =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_$()+/-".contains(&b));
        if !valid_first || !valid_rest || name.len() > MAX_DB_NAME_LEN {
            return Err(ApiError::couch(
                StatusCode::BAD_REQUEST,
                "illegal_database_name",
                format!(
                    "Name: '{}'. Only lowercase characters (a-z), digits (0-9), and any of the \
                     characters _, $, (, ), +, -, and / are allowed. Must begin with a letter \
                     and be at most {MAX_DB_NAME_LEN} characters.",
                    name.chars().take(80).collect::<String>()
                ),
            ));
        }
        Ok(DbName(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// CouchDB's answer for a database that does not exist.
pub fn db_not_found() -> ApiError {
    ApiError::NotFound("Database does not exist.".into())
}

struct Registry {
    sled: sled::Db,
    /// Database name → creation time (ms since the epoch); the list of databases.
    catalog: sled::Tree,
    /// Every database's open handle: one per name, so that its writer lock is the only one.
    /// Held only in synchronous code; creating and deleting hold it on the blocking pool,
    /// since they call sled.
    open: Mutex<BTreeMap<String, SledStore>>,
    flusher: GroupFlush,
}

/// Every database of the server. Cloning is cheap; all clones share one registry.
#[derive(Clone)]
pub struct Databases {
    inner: Arc<Registry>,
}

impl Databases {
    /// Opens the registry and every database it lists.
    pub fn open(sled: &sled::Db) -> Result<Self, sled::Error> {
        let catalog = sled.open_tree("couch-databases")?;
        let mut open = BTreeMap::new();
        for item in catalog.iter() {
            let (key, _) = item?;
            let name = String::from_utf8_lossy(&key).into_owned();
            let store = SledStore::open(sled, &name)?;
            open.insert(name, store);
        }
        Ok(Databases {
            inner: Arc::new(Registry {
                sled: sled.clone(),
                catalog,
                open: Mutex::new(open),
                flusher: GroupFlush::new(sled.clone()),
            }),
        })
    }

    /// The registry, recovered if a panic poisoned its lock: the map is only changed by
    /// single `insert`/`remove` calls after the sled work they follow succeeded.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, SledStore>> {
        self.inner
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `work` (sled calls, the registry lock) on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Databases) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|e| ApiError::Internal(format!("database registry task failed: {e}")))?
    }

    /// The database called `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<SledStore> {
        self.lock().get(name).cloned()
    }

    /// Like [`get`](Self::get), with CouchDB's 404 when it does not exist.
    pub fn require(&self, name: &str) -> Result<SledStore, ApiError> {
        self.get(name).ok_or_else(db_not_found)
    }

    /// Every database name, sorted.
    pub fn list(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Creates an empty database; 412 `file_exists` when it already exists. Durable on return.
    pub async fn create(&self, name: &DbName) -> Result<SledStore, ApiError> {
        let name = name.clone();
        let store = self.blocking(move |this| this.create_now(&name)).await?;
        self.inner.flusher.flush().await?;
        Ok(store)
    }

    fn create_now(&self, name: &DbName) -> Result<SledStore, ApiError> {
        {
            let mut open = self.lock();
            if open.contains_key(name.as_str()) {
                return Err(ApiError::couch(
                    StatusCode::PRECONDITION_FAILED,
                    "file_exists",
                    "The database could not be created, the file already exists.",
                ));
            }
            // Leftover trees of a half-deleted database must not come back as its content.
            for tree in sled_store::tree_names(name.as_str()) {
                self.inner.sled.drop_tree(tree)?;
            }
            let store = SledStore::open(&self.inner.sled, name.as_str())?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default();
            self.inner
                .catalog
                .insert(name.as_str().as_bytes(), &now.to_be_bytes())?;
            open.insert(name.as_str().to_owned(), store.clone());
            Ok(store)
        }
    }

    /// Creates `name` unless it exists; returns whether it was created.
    pub async fn ensure(&self, name: &DbName) -> Result<bool, ApiError> {
        if self.get(name.as_str()).is_some() {
            return Ok(false);
        }
        match self.create(name).await {
            Ok(_) => Ok(true),
            Err(ApiError::Couch { error, .. }) if error == "file_exists" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes a database and all its trees; 404 when it does not exist. Durable on return.
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let name = name.to_owned();
        self.blocking(move |this| this.delete_now(&name)).await?;
        self.inner.flusher.flush().await?;
        Ok(())
    }

    fn delete_now(&self, name: &str) -> Result<(), ApiError> {
        let store = self.get(name).ok_or_else(db_not_found)?;
        // Handles still held by requests in flight now fail instead of writing into trees
        // that are about to go. This waits for a write in flight, so it is done before taking
        // the registry lock, which every request takes (briefly) to find its database.
        store.mark_dropped()?;
        {
            let mut open = self.lock();
            // Another deletion may have finished meanwhile (a creation could not start: the
            // name was still taken).
            match open.get(name) {
                Some(current) if current.same_database(&store) => {
                    open.remove(name);
                }
                _ => return Err(db_not_found()),
            }
            self.inner.catalog.remove(name.as_bytes())?;
            for tree in sled_store::tree_names(name) {
                self.inner.sled.drop_tree(tree)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_follow_couchdbs_rules() {
        for ok in [
            "madre-de-dios",
            "a",
            "lima_2026",
            "a$()+-/b",
            &"x".repeat(238),
        ] {
            assert!(DbName::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
        for bad in [
            "",
            "Lima",
            "1lima",
            "_users",
            "madre de dios",
            "a:b",
            &"x".repeat(239),
        ] {
            assert!(DbName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[tokio::test]
    async fn databases_are_created_listed_reopened_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let sled = sled::Config::new().path(dir.path()).open().unwrap();
        let dbs = Databases::open(&sled).unwrap();
        let loreto = DbName::parse("loreto").unwrap();
        dbs.create(&loreto).await.unwrap();
        dbs.create(&DbName::parse("cusco").unwrap()).await.unwrap();
        assert!(dbs.create(&loreto).await.is_err());
        assert_eq!(dbs.list(), vec!["cusco", "loreto"]);
        let again = Databases::open(&sled).unwrap();
        assert_eq!(again.list(), vec!["cusco", "loreto"]);
        dbs.delete("loreto").await.unwrap();
        assert!(dbs.get("loreto").is_none());
        assert!(dbs.delete("loreto").await.is_err());
        assert!(!sled
            .tree_names()
            .iter()
            .any(|t| t.starts_with(b"couch:loreto:")));
    }

    #[tokio::test]
    async fn instance_start_times_persist_and_a_database_stored_without_one_gets_one_once() {
        let dir = tempfile::tempdir().unwrap();
        let sled = sled::Config::new().path(dir.path()).open().unwrap();
        let dbs = Databases::open(&sled).unwrap();
        let loreto = DbName::parse("loreto").unwrap();
        let created = dbs.create(&loreto).await.unwrap();
        let first = created.instance_start_time().to_owned();
        let reopened = Databases::open(&sled).unwrap();
        assert_eq!(
            reopened.require("loreto").unwrap().instance_start_time(),
            first
        );

        // A data folder from before the key was stored.
        sled.open_tree("couch:loreto:meta")
            .unwrap()
            .remove("instance_start_time")
            .unwrap();
        let upgraded = Databases::open(&sled).unwrap();
        let given = upgraded
            .require("loreto")
            .unwrap()
            .instance_start_time()
            .to_owned();
        assert!(given.parse::<u64>().is_ok_and(|v| v > 0), "{given}");
        assert_ne!(given, first);
        let again = Databases::open(&sled).unwrap();
        assert_eq!(
            again.require("loreto").unwrap().instance_start_time(),
            given
        );

        dbs.delete("loreto").await.unwrap();
        let recreated = dbs.create(&loreto).await.unwrap();
        assert!(![first.as_str(), given.as_str()].contains(&recreated.instance_start_time()));
    }
}
