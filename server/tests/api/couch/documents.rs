use reqwest::Method;
use serde_json::json;

use super::{assert_error, Couch};

#[tokio::test]
async fn a_document_is_created_read_updated_and_deleted_with_etags() {
    let couch = Couch::start().await;
    let (status, created) = couch
        .put(
            "/db/protocol-test/inspection:1",
            json!({"sector": "logging"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["ok"], true);
    assert_eq!(created["id"], "inspection:1");
    let rev1 = created["rev"].as_str().unwrap().to_owned();
    assert!(rev1.starts_with("1-"));

    let response = couch
        .request(Method::GET, "/db/protocol-test/inspection:1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], format!("\"{rev1}\"").as_str());
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        doc,
        json!({"_id": "inspection:1", "_rev": rev1, "sector": "logging"})
    );

    let (status, updated) = couch
        .put(
            "/db/protocol-test/inspection:1",
            json!({"_rev": rev1, "sector": "mining"}),
        )
        .await;
    assert_eq!(status, 201);
    let rev2 = updated["rev"].as_str().unwrap().to_owned();
    assert!(rev2.starts_with("2-"));

    let (status, deleted) = couch
        .delete(&format!("/db/protocol-test/inspection:1?rev={rev2}"))
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert!(deleted["rev"].as_str().unwrap().starts_with("3-"));
    let gone = couch.get("/db/protocol-test/inspection:1").await;
    assert_error(&gone, 404, "not_found");
    assert_eq!(gone.1["reason"], "deleted");
    assert_eq!(
        couch.get("/db/protocol-test/never").await.1["reason"],
        "missing"
    );
}

#[tokio::test]
async fn a_stale_or_missing_rev_is_409_conflict() {
    let couch = Couch::start().await;
    let rev1 = couch.create("a", json!({"v": 1})).await;
    couch
        .put("/db/protocol-test/a", json!({"_rev": rev1, "v": 2}))
        .await;
    let stale = couch
        .put("/db/protocol-test/a", json!({"_rev": rev1, "v": 3}))
        .await;
    assert_error(&stale, 409, "conflict");
    assert_eq!(stale.1["reason"], "Document update conflict.");
    assert_error(
        &couch.put("/db/protocol-test/a", json!({"v": 4})).await,
        409,
        "conflict",
    );
    assert_error(&couch.delete("/db/protocol-test/a").await, 409, "conflict");
}

#[tokio::test]
async fn the_rev_can_come_from_the_query_or_if_match() {
    let couch = Couch::start().await;
    let rev1 = couch.create("a", json!({"v": 1})).await;
    let (status, body) = couch
        .put(&format!("/db/protocol-test/a?rev={rev1}"), json!({"v": 2}))
        .await;
    assert_eq!(status, 201, "{body}");
    let rev2 = body["rev"].as_str().unwrap();
    let response = couch
        .request(Method::DELETE, "/db/protocol-test/a")
        .header("If-Match", format!("\"{rev2}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mismatch = couch
        .put("/db/protocol-test/b?rev=1-abc", json!({"_rev": "1-def"}))
        .await;
    assert_error(&mismatch, 400, "bad_request");
}

#[tokio::test]
async fn design_documents_and_ids_with_slashes_and_colons_round_trip() {
    let couch = Couch::start().await;
    let (status, _) = couch
        .put("/db/protocol-test/_design/reports", json!({"views": {}}))
        .await;
    assert_eq!(status, 201);
    let (status, ddoc) = couch.get("/db/protocol-test/_design%2Freports").await;
    assert_eq!(status, 200);
    assert_eq!(ddoc["_id"], "_design/reports");
    let (status, _) = couch
        .put(
            "/db/protocol-test/event%3Ainsp%2F1%3A0001",
            json!({"kind": "referral"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, doc) = couch.get("/db/protocol-test/event:insp%2F1:0001").await;
    assert_eq!(doc["_id"], "event:insp/1:0001");
}

#[tokio::test]
async fn illegal_ids_bad_revs_and_bad_json_are_400_with_a_reason() {
    let couch = Couch::start().await;
    assert_error(
        &couch.put("/db/protocol-test/_secret", json!({})).await,
        400,
        "illegal_docid",
    );
    assert_error(
        &couch
            .put("/db/protocol-test/a", json!({"_rev": "banana"}))
            .await,
        400,
        "bad_request",
    );
    assert_error(
        &couch.get("/db/protocol-test/a?rev=nope").await,
        400,
        "bad_request",
    );
    assert_error(
        &couch.put("/db/protocol-test/a", json!([1, 2])).await,
        400,
        "bad_request",
    );
    assert_error(
        &couch
            .put("/db/protocol-test/a", json!({"_deleted": "yes"}))
            .await,
        400,
        "bad_request",
    );
    assert_error(
        &couch
            .put("/db/protocol-test/a", json!({"_unknown": 1}))
            .await,
        400,
        "bad_request",
    );
    assert_error(
        &couch.get("/db/protocol-test/a?revs=maybe").await,
        400,
        "bad_request",
    );
    let response = couch
        .request(Method::PUT, "/db/protocol-test/a")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
    assert!(body["reason"].as_str().unwrap().contains("not valid JSON"));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let couch = Couch::start().await;
    for path in ["/db/protocol-test/a", "/db/protocol-test/_bulk_docs"] {
        let response = couch
            .request(
                if path.ends_with("a") {
                    Method::PUT
                } else {
                    Method::POST
                },
                path,
            )
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "bad_content_type");
    }
}

#[tokio::test]
async fn get_answers_rev_revs_revs_info_conflicts_and_deleted_conflicts() {
    let couch = Couch::start().await;
    let rev1 = couch.create("a", json!({"v": 1})).await;
    // Two replicated branches on top of rev 1: a live one and a deleted one.
    let h1 = rev1.split_once('-').unwrap().1.to_owned();
    let (status, _) = couch
        .post(
            "/db/protocol-test/_bulk_docs",
            json!({"new_edits": false, "docs": [
                {"_id": "a", "_rev": "2-bbb", "_revisions": {"start": 2, "ids": ["bbb", h1]}, "v": 2},
                {"_id": "a", "_rev": "2-ccc", "_revisions": {"start": 2, "ids": ["ccc", h1]}, "v": 3},
                {"_id": "a", "_rev": "2-aaa", "_revisions": {"start": 2, "ids": ["aaa", h1]}, "_deleted": true}
            ]}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, doc) = couch
        .get("/db/protocol-test/a?conflicts=true&deleted_conflicts=true&revs=true")
        .await;
    assert_eq!(doc["_rev"], "2-ccc");
    assert_eq!(doc["_conflicts"], json!(["2-bbb"]));
    assert_eq!(doc["_deleted_conflicts"], json!(["2-aaa"]));
    assert_eq!(doc["_revisions"], json!({"start": 2, "ids": ["ccc", h1]}));
    let (_, info) = couch.get("/db/protocol-test/a?revs_info=true").await;
    assert_eq!(
        info["_revs_info"],
        // The first revision's body is kept until compaction, as in CouchDB.
        json!([{"rev": "2-ccc", "status": "available"}, {"rev": rev1, "status": "available"}])
    );
    let (_, older) = couch.get("/db/protocol-test/a?rev=2-bbb").await;
    assert_eq!(older["v"], 2);
    let (_, tombstone) = couch.get("/db/protocol-test/a?rev=2-aaa").await;
    assert_eq!(tombstone["_deleted"], true);
}

#[tokio::test]
async fn open_revs_answers_json_with_ok_and_missing_entries() {
    let couch = Couch::start().await;
    let rev1 = couch.create("a", json!({"v": 1})).await;
    let (_, all) = couch
        .get("/db/protocol-test/a?open_revs=all&revs=true")
        .await;
    assert_eq!(all[0]["ok"]["_rev"], rev1);
    assert!(all[0]["ok"]["_revisions"].is_object());
    let (status, some) = couch
        .get(&format!(
            "/db/protocol-test/a?open_revs=[\"{rev1}\",\"9-zzz\"]"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        some,
        json!([{"ok": {"_id": "a", "_rev": rev1, "v": 1}}, {"missing": "9-zzz"}])
    );
    let (_, body) = couch
        .put(&format!("/db/protocol-test/a?rev={rev1}"), json!({"v": 2}))
        .await;
    let (_, latest) = couch
        .get(&format!(
            "/db/protocol-test/a?open_revs=[\"{rev1}\"]&latest=true"
        ))
        .await;
    assert_eq!(latest[0]["ok"]["_rev"], body["rev"]);
    assert_error(
        &couch.get("/db/protocol-test/zzz?open_revs=all").await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn post_to_a_database_creates_a_document_with_a_fresh_id() {
    let couch = Couch::start().await;
    let (status, a) = couch.post("/db/protocol-test", json!({"v": 1})).await;
    let (_, b) = couch.post("/db/protocol-test", json!({"v": 1})).await;
    assert_eq!(status, 201);
    assert_ne!(a["id"], b["id"]);
    assert_eq!(
        couch
            .get(&format!("/db/protocol-test/{}", a["id"].as_str().unwrap()))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn local_documents_are_versioned_and_deleted_by_rev() {
    let couch = Couch::start().await;
    assert_error(
        &couch.get("/db/protocol-test/_local/ckpt").await,
        404,
        "not_found",
    );
    let (status, first) = couch
        .put("/db/protocol-test/_local/ckpt", json!({"seq": 1}))
        .await;
    assert_eq!(
        (status.as_u16(), &first),
        (201, &json!({"ok": true, "id": "_local/ckpt", "rev": "0-1"}))
    );
    assert_error(
        &couch
            .put("/db/protocol-test/_local/ckpt", json!({"seq": 2}))
            .await,
        409,
        "conflict",
    );
    let (status, second) = couch
        .put(
            "/db/protocol-test/_local/ckpt",
            json!({"_rev": "0-1", "seq": 2}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), second["rev"].clone()),
        (201, json!("0-2"))
    );
    let (_, doc) = couch.get("/db/protocol-test/_local/ckpt").await;
    assert_eq!(doc, json!({"_id": "_local/ckpt", "_rev": "0-2", "seq": 2}));
    assert_error(
        &couch.delete("/db/protocol-test/_local/ckpt?rev=0-1").await,
        409,
        "conflict",
    );
    assert_eq!(
        couch
            .delete("/db/protocol-test/_local/ckpt?rev=0-2")
            .await
            .0,
        200
    );
    assert_error(
        &couch.get("/db/protocol-test/_local/ckpt").await,
        404,
        "not_found",
    );
    let (_, info) = couch.get("/db/protocol-test").await;
    assert_eq!(
        info["update_seq"], 0,
        "local writes do not move the sequence"
    );
}

#[tokio::test]
async fn all_docs_lists_ranges_keys_and_docs_in_id_order() {
    let couch = Couch::start().await;
    for id in ["c", "a", "d", "b"] {
        couch.create(id, json!({"id": id})).await;
    }
    let rev_d = couch.get("/db/protocol-test/d").await.1["_rev"].clone();
    couch
        .delete(&format!(
            "/db/protocol-test/d?rev={}",
            rev_d.as_str().unwrap()
        ))
        .await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all) = couch.get("/db/protocol-test/_all_docs").await;
    assert_eq!(ids(&all), ["a", "b", "c"]);
    assert_eq!(all["total_rows"], 3);
    let (_, range) = couch
        .get("/db/protocol-test/_all_docs?startkey=%22b%22&endkey=%22c%22&include_docs=true")
        .await;
    assert_eq!(ids(&range), ["b", "c"]);
    assert_eq!(range["rows"][0]["doc"]["id"], "b");
    let (_, exclusive) = couch
        .get("/db/protocol-test/_all_docs?startkey=\"a\"&endkey=\"c\"&inclusive_end=false")
        .await;
    assert_eq!(ids(&exclusive), ["a", "b"]);
    let (_, desc) = couch
        .get("/db/protocol-test/_all_docs?descending=true&limit=2")
        .await;
    assert_eq!(ids(&desc), ["c", "b"]);
    let (_, skipped) = couch
        .get("/db/protocol-test/_all_docs?skip=1&limit=1")
        .await;
    assert_eq!(ids(&skipped), ["b"]);
    let (_, keys) = couch
        .post(
            "/db/protocol-test/_all_docs",
            json!({"keys": ["b", "zz", "d"]}),
        )
        .await;
    assert_eq!(
        keys["rows"][0]["value"]["rev"].as_str().unwrap().get(..2),
        Some("1-")
    );
    assert_eq!(keys["rows"][1], json!({"key": "zz", "error": "not_found"}));
    assert_eq!(keys["rows"][2]["value"]["deleted"], true);
    assert_error(
        &couch.get("/db/protocol-test/_all_docs?startkey=b").await,
        400,
        "bad_request",
    );
}
