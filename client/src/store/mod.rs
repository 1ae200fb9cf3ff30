//! The device's local database: where every inspection lives until (and after) it syncs.
//!
//! [`LocalStore`] is the one store type the app uses; [`open_local_store`] opens the database of
//! one signed-in user in one region (each pair has its own database, so a shared tablet never mixes
//! two inspectors' records). In the browser it is [`IdbStore`] (IndexedDB); native builds (host
//! unit tests) get the shared in-memory store under the same names.

#[cfg(target_arch = "wasm32")]
mod idb;
pub mod list;

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

/// The list entries ([`list`]) of `store` changed after sequence `since`, in sequence order, each
/// with its sequence. In the browser, the persisted index (one `getAll`); elsewhere derived from
/// the changes feed, which is also how the browser tests check the persisted one.
pub async fn list_since(
    store: &LocalStore,
    since: u64,
) -> Result<Vec<(u64, chaski_shared::Document)>, chaski_shared::Error> {
    #[cfg(target_arch = "wasm32")]
    {
        store.list_since(since).await
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        list_from_changes(store, since).await
    }
}

/// The list entries after `since` derived from `store`'s changes feed (every changed document
/// read whole): what the persisted index must always equal.
pub async fn list_from_changes<S: chaski_shared::Store>(
    store: &S,
    since: u64,
) -> Result<Vec<(u64, chaski_shared::Document)>, chaski_shared::Error> {
    let opts = chaski_shared::store::ChangesOptions {
        since,
        include_docs: true,
        conflicts: true,
        ..chaski_shared::store::ChangesOptions::default()
    };
    let changes = store.changes(&opts).await?;
    let mut out = Vec::with_capacity(changes.results.len());
    for row in changes.results {
        let entry = match &row.doc {
            Some(doc) => list::entry_of(doc),
            // A deletion's row may come without its document: a tombstone at its winning rev.
            None if row.deleted => row
                .revs
                .first()
                .and_then(|rev| list::tombstone(&row.id, rev.clone())),
            None => None,
        };
        if let Some(entry) = entry {
            out.push((row.seq, entry));
        }
    }
    Ok(out)
}

/// The regions of `user`'s local databases on this device, as the browser lists them
/// (`indexedDB.databases()`): also those of a region the office has since taken away.
pub async fn stored_regions(user: &str) -> Vec<String> {
    #[cfg(target_arch = "wasm32")]
    {
        let prefix = database_name(user, "");
        idb::database_names()
            .await
            .into_iter()
            .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = user;
        Vec::new()
    }
}

/// `regions` and the regions of `user`'s databases on this device, once each.
pub async fn all_regions(user: &str, regions: &[String]) -> Vec<String> {
    let mut all = regions.to_vec();
    for region in stored_regions(user).await {
        if !all.contains(&region) {
            all.push(region);
        }
    }
    all
}

/// Deletes every local database of `user` on this device (sign-out): the ones of `regions`, and
/// any other `chaski-<user>-…` the browser lists. A tablet left behind after sign-out holds no
/// victim's name.
pub async fn erase_user_stores(user: &str, regions: &[String]) -> Result<(), chaski_shared::Error> {
    #[cfg(target_arch = "wasm32")]
    for region in all_regions(user, regions).await {
        IdbStore::delete(&database_name(user, &region)).await?;
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (user, regions);
    Ok(())
}
