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

/// Deletes every local database of `user` on this device (sign-out): the ones of `regions`, and
/// any other `chaski-<user>-…` the browser lists (a region the office has since taken away).
/// A tablet left behind after sign-out holds no victim's name.
pub async fn erase_user_stores(user: &str, regions: &[String]) -> Result<(), chaski_shared::Error> {
    let mut names: Vec<String> = regions.iter().map(|r| database_name(user, r)).collect();
    #[cfg(target_arch = "wasm32")]
    {
        let prefix = database_name(user, "");
        for name in idb::database_names().await {
            if name.starts_with(&prefix) && !names.contains(&name) {
                names.push(name);
            }
        }
        for name in &names {
            IdbStore::delete(name).await?;
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    names.clear();
    Ok(())
}
