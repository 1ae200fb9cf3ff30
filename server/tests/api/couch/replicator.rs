//! The shared replicator against the running server: a tablet-like memory replica pushes and
//! pulls, and a regional server relays to the national one, with valid inspections (the
//! fixtures) since region databases validate every document.

use chaski_shared::domain::{fixtures, Region};
use chaski_shared::peer::{Auth, HttpPeer};
use chaski_shared::store::GetOptions;
use chaski_shared::{
    Document, Error, LocalPeer, MemoryStore, ReplicationOptions, Replicator, Seq, Store,
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
    couch.create_db("loreto").await;
    let tablet = LocalPeer::new("tablet", MemoryStore::new());
    let docs: Vec<Document> = (0..250)
        .map(|i| fixtures::doc(fixtures::inspection_json_in(i, Region::Loreto)))
        .collect();
    tablet.store().bulk_docs(docs, true).await.unwrap();
    let server = peer(&couch, "loreto");
    let push = Replicator::new(&tablet, &server, ReplicationOptions::default());
    assert_eq!(push.run_once().await.unwrap().docs_written, 250);
    assert_eq!(couch.get("/db/loreto").await.1["doc_count"], 250);

    // An office edit on the server comes back to the tablet, and both keep a concurrent edit.
    let id = fixtures::inspection_id(7);
    let path = format!("/db/loreto/{id}");
    let (_, mut on_server) = couch.get(&path).await;
    on_server["notes"] = json!("Edited at the regional office.");
    let (status, body) = couch.put(&path, on_server).await;
    assert_eq!(status, 201, "{body}");
    let mut local = tablet
        .store()
        .get(&id, &GetOptions::default())
        .await
        .unwrap();
    local
        .body
        .insert("notes".into(), json!("Edited on the tablet."));
    tablet.store().bulk_docs(vec![local], true).await.unwrap();

    let pull = Replicator::new(&server, &tablet, ReplicationOptions::default());
    pull.run_once().await.unwrap();
    push.run_once().await.unwrap();
    let opts = GetOptions {
        conflicts: true,
        ..GetOptions::default()
    };
    let mine = tablet.store().get(&id, &opts).await.unwrap();
    let (_, theirs) = couch.get(&format!("{path}?conflicts=true")).await;
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
    const DB: &str = "madre-de-dios";
    let region = Couch::start().await;
    let national = Couch::start().await;
    region.create_db(DB).await;
    national.create_db(DB).await;
    let docs: Vec<_> = (0..120).map(fixtures::inspection_json).collect();
    let (status, body) = region
        .post(&format!("/db/{DB}/_bulk_docs"), json!({"docs": docs}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body.as_array().unwrap().iter().all(|r| r["ok"] == true),
        "{body}"
    );
    let with_photo = fixtures::inspection_with_photo_json(500, 2048);
    let photo_id = with_photo["_id"].as_str().unwrap().to_owned();
    let (status, body) = region
        .put(&format!("/db/{DB}/{photo_id}"), with_photo)
        .await;
    assert_eq!(status, 201, "{body}");

    let relay = Replicator::new(
        peer(&region, DB),
        peer(&national, DB),
        ReplicationOptions::default(),
    );
    let report = relay.run_once().await.unwrap();
    assert_eq!(report.docs_written, 121);
    let (_, info) = national.get(&format!("/db/{DB}")).await;
    assert_eq!(info["doc_count"], 121);
    let photo = national
        .request(
            reqwest::Method::GET,
            &format!("/db/{DB}/{photo_id}/photo-1.jpg"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        photo.bytes().await.unwrap().as_ref(),
        fixtures::jpeg_bytes(2048)
    );
    // The checkpoint lets the next run start where this one stopped.
    region
        .post(
            &format!("/db/{DB}/_bulk_docs"),
            json!({"docs": [fixtures::inspection_json(1000)]}),
        )
        .await;
    assert_eq!(relay.run_once().await.unwrap().docs_written, 1);
}

// Multi-threaded so that the progress callback can block on the server's answers while it
// re-creates the database between two rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_into_a_database_recreated_mid_run_fails_and_the_next_run_delivers_everything() {
    const DB: &str = "madre-de-dios";
    let couch = Couch::start().await;
    couch.create_db(DB).await;
    let tablet = LocalPeer::new("tablet", MemoryStore::new());
    let docs: Vec<Document> = (0..60)
        .map(|i| fixtures::doc(fixtures::inspection_json_in(i, Region::MadreDeDios)))
        .collect();
    tablet.store().bulk_docs(docs, true).await.unwrap();
    let options = ReplicationOptions {
        batch_size: 10,
        batches_in_flight: 1,
        ..ReplicationOptions::default()
    };
    let push = Replicator::new(&tablet, peer(&couch, DB), options);
    let (_, before) = couch.get(&format!("/db/{DB}")).await;

    let mut recreated = false;
    let outcome = push
        .run_once_with_progress(|report| {
            if report.checkpoints == 2 && !recreated {
                recreated = true;
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async {
                        assert_eq!(couch.delete(&format!("/db/{DB}")).await.0, 200);
                        couch.create_db(DB).await;
                    })
                });
            }
        })
        .await;
    assert!(recreated, "the run had a second round");
    let error = outcome.expect_err("the run must stop at the re-created database");
    assert!(matches!(error, Error::Recreated(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the target database was re-created during replication; the next run starts over"
    );
    let (_, after) = couch.get(&format!("/db/{DB}")).await;
    assert_ne!(after["instance_start_time"], before["instance_start_time"]);
    assert!(after["doc_count"].as_u64().unwrap() < 60);
    let (status, _) = couch
        .get(&format!("/db/{DB}/{}", push.checkpoint_id()))
        .await;
    assert_eq!(status, 404, "no checkpoint in the new database");

    let again = push.run_once().await.unwrap();
    assert_eq!(again.start_seq, Seq::zero(), "the next run starts over");
    assert_eq!(couch.get(&format!("/db/{DB}")).await.1["doc_count"], 60);
    assert_eq!(push.run_once().await.unwrap().docs_written, 0);
}
