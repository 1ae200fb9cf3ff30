use serde_json::json;

use super::{assert_error, Couch};

#[tokio::test]
async fn revs_diff_reports_missing_revisions_and_possible_ancestors() {
    let couch = Couch::start().await;
    let rev = couch.create("a", json!({})).await;
    let (status, diff) = couch
        .post(
            "/db/protocol-test/_revs_diff",
            json!({"a": [rev, "2-xyz"], "b": ["1-abc"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        diff,
        json!({"a": {"missing": ["2-xyz"], "possible_ancestors": [rev]}, "b": {"missing": ["1-abc"]}})
    );
    assert_error(
        &couch
            .post("/db/protocol-test/_revs_diff", json!({"a": ["nope"]}))
            .await,
        400,
        "bad_request",
    );
    assert_error(
        &couch
            .post("/db/protocol-test/_revs_diff", json!(["a"]))
            .await,
        400,
        "bad_request",
    );
}

#[tokio::test]
async fn bulk_docs_writes_each_document_and_reports_each_failure() {
    let couch = Couch::start().await;
    let rev = couch.create("exists", json!({})).await;
    let (status, results) = couch
        .post(
            "/db/protocol-test/_bulk_docs",
            json!({"docs": [
                {"_id": "new", "v": 1},
                {"_id": "exists", "v": 2},
                {"_id": "exists", "_rev": rev, "v": 3},
                {"v": "no id: one is made up"}
            ]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(results[0]["ok"], true);
    assert_eq!(results[1]["error"], "conflict");
    assert_eq!(results[2]["ok"], true);
    assert!(results[3]["id"].as_str().unwrap().len() >= 16);
    let (_, info) = couch.get("/db/protocol-test").await;
    assert_eq!(info["doc_count"], 3);
}

#[tokio::test]
async fn bulk_docs_with_new_edits_false_keeps_revisions_and_is_idempotent() {
    let couch = Couch::start().await;
    let body = json!({"new_edits": false, "docs": [
        {"_id": "r", "_rev": "3-ccc", "_revisions": {"start": 3, "ids": ["ccc", "bbb", "aaa"]}, "v": 3}
    ]});
    assert_eq!(
        couch
            .post("/db/protocol-test/_bulk_docs", body.clone())
            .await
            .0,
        201
    );
    assert_eq!(
        couch.post("/db/protocol-test/_bulk_docs", body).await.0,
        201
    );
    let (_, doc) = couch.get("/db/protocol-test/r?revs=true").await;
    assert_eq!(doc["_rev"], "3-ccc");
    assert_eq!(doc["_revisions"]["ids"], json!(["ccc", "bbb", "aaa"]));
    let (_, info) = couch.get("/db/protocol-test").await;
    assert_eq!(info["update_seq"], 1, "the second write changed nothing");
}

#[tokio::test]
async fn a_malformed_bulk_docs_request_writes_nothing() {
    let couch = Couch::start().await;
    let answer = couch
        .post(
            "/db/protocol-test/_bulk_docs",
            json!({"docs": [{"_id": "fine"}, {"_id": "_bad"}]}),
        )
        .await;
    assert_error(&answer, 400, "illegal_docid");
    assert!(answer.1["reason"].as_str().unwrap().contains("docs[1]"));
    assert_error(
        &couch
            .post("/db/protocol-test/_bulk_docs", json!({"docs": {}}))
            .await,
        400,
        "bad_request",
    );
    assert_error(
        &couch
            .post(
                "/db/protocol-test/_bulk_docs",
                json!({"docs": [], "new_edits": "no"}),
            )
            .await,
        400,
        "bad_request",
    );
    assert_error(
        &couch
            .post(
                "/db/protocol-test/_bulk_docs",
                json!({"docs": [{"_id": "x", "_rev": 7}]}),
            )
            .await,
        400,
        "bad_request",
    );
    assert_error(&couch.get("/db/protocol-test/fine").await, 404, "not_found");
}

#[tokio::test]
async fn bulk_get_returns_revisions_with_ancestry_and_errors_per_entry() {
    let couch = Couch::start().await;
    let rev = couch.create("a", json!({"v": 1})).await;
    let (status, answer) = couch
        .post("/db/protocol-test/_bulk_get?revs=true", json!({"docs": [
            {"id": "a", "rev": rev}, {"id": "a", "rev": "5-nope"}, {"id": "missing"}, {"id": "_bad"}
        ]}))
        .await;
    assert_eq!(status, 200);
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results[0]["docs"][0]["ok"]["_rev"], rev);
    assert!(results[0]["docs"][0]["ok"]["_revisions"].is_object());
    assert_eq!(results[1]["docs"][0]["error"]["reason"], "missing");
    assert_eq!(results[2]["docs"][0]["error"]["error"], "not_found");
    assert_eq!(results[3]["docs"][0]["error"]["error"], "illegal_docid");
    let (_, latest) = couch
        .post(
            "/db/protocol-test/_bulk_get?latest=true",
            json!({"docs": [{"id": "a"}]}),
        )
        .await;
    assert!(latest["results"][0]["docs"][0]["ok"]["_revisions"].is_null());
    assert_error(
        &couch
            .post(
                "/db/protocol-test/_bulk_get",
                json!({"docs": [{"rev": "1-a"}]}),
            )
            .await,
        400,
        "bad_request",
    );
}

#[tokio::test]
async fn ensure_full_commit_answers_201_ok() {
    let couch = Couch::start().await;
    let response = couch
        .request(
            reqwest::Method::POST,
            "/db/protocol-test/_ensure_full_commit",
        )
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let (_, info) = couch.get("/db/protocol-test").await;
    assert_eq!(
        body,
        json!({"ok": true, "instance_start_time": info["instance_start_time"]})
    );
}
