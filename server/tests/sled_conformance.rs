//! The shared `Store` conformance suite against the sled store, each case on a fresh temporary
//! sled database.

use chaski_server::db::SledStore;
use chaski_shared::conformance;

#[tokio::test]
async fn the_sled_store_passes_the_shared_conformance_suite() {
    conformance::run_all(|| async {
        let sled = sled::Config::new()
            .temporary(true)
            .open()
            .expect("temporary sled");
        SledStore::open(&sled, "conformance").expect("open store")
    })
    .await;
}

#[tokio::test]
async fn sled_store_futures_are_send_so_axum_handlers_can_await_them() {
    fn assert_send<T: Send>(_: T) {}
    use chaski_shared::store::{ChangesOptions, Store};
    let sled = sled::Config::new().temporary(true).open().unwrap();
    let store = SledStore::open(&sled, "send").unwrap();
    assert_send(store.bulk_docs(Vec::new(), true));
    assert_send(store.changes(&ChangesOptions::default()));
    assert_send(
        store.put_local(chaski_shared::LocalDoc::new("_local/x", Default::default()).unwrap()),
    );
}
