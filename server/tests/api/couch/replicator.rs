//! The shared replicator against the running server: a tablet-like memory replica pushes and
//! pulls, and a regional server relays to the national one.

use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::store::{body, GetOptions};
use chaski_shared::{
    DocId, Document, LocalPeer, MemoryStore, ReplicationOptions, Replicator, Store,
};
use serde_json::json;

use super::Couch;

fn peer(couch: &Couch, db: &str) -> HttpPeer {
    HttpPeer::new(couch.app.url(&format!("/db/{db}")))
        .unwrap()
        .with_auth(Auth::Bearer(couch.token.clone()))
}

#[tokio::test]
async fn the_shared_replicator_pushes_to_and_pulls_from_the_server() {
    let couch = Couch::start().await;
    let tablet = LocalPeer::new("tablet", MemoryStore::new());
    let docs: Vec<Document> = (0..250)
        .map(|i| {
            Document::new(
                DocId::parse(format!("inspection:{i:04}")).unwrap(),
                body(json!({"sector": "gold_mining", "workers": i})),
            )
        })
        .collect();
    tablet.store().bulk_docs(docs, true).await.unwrap();
    let server = peer(&couch, "loreto");
    let push = Replicator::new(&tablet, &server, ReplicationOptions::default());
    assert_eq!(push.run_once().await.unwrap().docs_written, 250);
    assert_eq!(couch.get("/db/loreto").await.1["doc_count"], 250);

    // An office edit on the server comes back to the tablet, and both keep a concurrent edit.
    let id = DocId::parse("inspection:0007").unwrap();
    let (_, on_server) = couch.get("/db/loreto/inspection:0007").await;
    couch
        .put(
            &format!(
                "/db/loreto/inspection:0007?rev={}",
                on_server["_rev"].as_str().unwrap()
            ),
            json!({"sector": "gold_mining", "workers": 70}),
        )
        .await;
    let mut local = tablet
        .store()
        .get(&id, &GetOptions::default())
        .await
        .unwrap();
    local.body.insert("workers".into(), json!(71));
    tablet.store().bulk_docs(vec![local], true).await.unwrap();

    let pull = Replicator::new(&server, &tablet, ReplicationOptions::default());
    pull.run_once().await.unwrap();
    push.run_once().await.unwrap();
    let opts = GetOptions {
        conflicts: true,
        ..GetOptions::default()
    };
    let mine = tablet.store().get(&id, &opts).await.unwrap();
    let (_, theirs) = couch.get("/db/loreto/inspection:0007?conflicts=true").await;
    assert_eq!(
        mine.rev.unwrap().to_string(),
        theirs["_rev"].as_str().unwrap()
    );
    assert_eq!(mine.conflicts.len(), 1);
    assert_eq!(theirs["_conflicts"].as_array().unwrap().len(), 1);
    // Nothing left to move either way.
    assert_eq!(push.run_once().await.unwrap().docs_written, 0);
    assert_eq!(pull.run_once().await.unwrap().docs_written, 0);
}

#[tokio::test]
async fn a_regional_server_relays_to_the_national_server_with_the_shared_replicator() {
    let region = Couch::start().await;
    let national = Couch::start().await;
    let docs: Vec<_> = (0..120)
        .map(|i| json!({"_id": format!("inspection:{i}"), "region": "loreto", "n": i}))
        .collect();
    region
        .post("/db/loreto/_bulk_docs", json!({"docs": docs}))
        .await;
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"photo");
    region
        .put(
            "/db/loreto/with-photo",
            json!({"_attachments": {"p.jpg": {"content_type": "image/jpeg", "data": data}}}),
        )
        .await;

    let relay = Replicator::new(
        peer(&region, "loreto"),
        peer(&national, "loreto"),
        ReplicationOptions::default(),
    );
    let report = relay.run_once().await.unwrap();
    assert_eq!(report.docs_written, 121);
    let (_, info) = national.get("/db/loreto").await;
    assert_eq!(info["doc_count"], 121);
    let photo = national
        .request(reqwest::Method::GET, "/db/loreto/with-photo/p.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(photo.bytes().await.unwrap().as_ref(), b"photo");
    // The checkpoint lets the next run start where this one stopped.
    region
        .post("/db/loreto/_bulk_docs", json!({"docs": [{"_id": "later"}]}))
        .await;
    assert_eq!(relay.run_once().await.unwrap().docs_written, 1);
}
