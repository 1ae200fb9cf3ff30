//! The device's local database: where every inspection lives until (and after) it syncs.
//!
//! [`LocalStore`] is the one store type the app uses; [`open_local_store`] opens the database of
//! one signed-in user in one region (each pair has its own database, so a shared tablet never mixes
//! two inspectors' records). For now it is the shared in-memory store, a placeholder that loses
//! data on reload; it becomes the IndexedDB store once that passes the shared conformance suite,
//! with the same names.

/// The store the app keeps its documents in.
pub type LocalStore = chaski_shared::MemoryStore;

/// Opens the local store of `user` (the signed-in name) in `region` (e.g. `madre-de-dios`).
pub async fn open_local_store(
    user: &str,
    region: &str,
) -> Result<LocalStore, chaski_shared::Error> {
    let _ = (user, region);
    Ok(chaski_shared::MemoryStore::new())
}
