//! The device's local database: where every inspection lives until (and after) it syncs.
//!
//! [`LocalStore`] is the one store type the app uses; [`open_local_store`] opens the database of
//! one signed-in user in one region (each pair has its own database, so a shared tablet never mixes
//! two inspectors' records). In the browser it is [`IdbStore`] (IndexedDB); native builds (host
//! unit tests) get the shared in-memory store under the same names.

#[cfg(target_arch = "wasm32")]
mod idb;

#[cfg(target_arch = "wasm32")]
pub use idb::IdbStore;

/// The store the app keeps its documents in.
#[cfg(target_arch = "wasm32")]
pub type LocalStore = IdbStore;

/// The store the app keeps its documents in.
#[cfg(not(target_arch = "wasm32"))]
pub type LocalStore = chaski_shared::MemoryStore;

/// The database name of `user` in `region`: `chaski-<user>-<region>`.
pub fn database_name(user: &str, region: &str) -> String {
    format!("chaski-{user}-{region}")
}

/// Opens the local store of `user` (the signed-in name) in `region` (e.g. `madre-de-dios`).
pub async fn open_local_store(
    user: &str,
    region: &str,
) -> Result<LocalStore, chaski_shared::Error> {
    #[cfg(target_arch = "wasm32")]
    {
        IdbStore::open(&database_name(user, region)).await
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = database_name(user, region);
        Ok(chaski_shared::MemoryStore::new())
    }
}
