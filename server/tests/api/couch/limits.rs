use base64::Engine as _;
use reqwest::Method;
use serde_json::json;

use super::{assert_error, Couch};
use crate::helpers::spawn_app_with;

async fn small() -> Couch {
    Couch::with(
        spawn_app_with(|c| {
            c.max_request_bytes = 64 * 1024;
            c.max_document_bytes = 1024;
            c.max_attachment_bytes = 2048;
            c.max_docs_per_request = 5;
            c.max_changes_limit = 3;
        })
        .await,
    )
    .await
}

#[tokio::test]
async fn a_request_body_over_the_limit_is_413_too_large() {
    let couch = small().await;
    let big = "x".repeat(70 * 1024);
    let answer = couch.put("/db/protocol-test/a", json!({"big": big})).await;
    assert_error(&answer, 413, "too_large");
}

#[tokio::test]
async fn a_document_over_the_size_limit_is_413_and_not_written() {
    let couch = small().await;
    let answer = couch
        .put("/db/protocol-test/a", json!({"notes": "x".repeat(2000)}))
        .await;
    assert_error(&answer, 413, "too_large");
    let answer = couch
        .post(
            "/db/protocol-test/_bulk_docs",
            json!({"docs": [{"_id": "ok"}, {"_id": "big", "n": "x".repeat(2000)}]}),
        )
        .await;
    assert_error(&answer, 413, "too_large");
    assert_error(&couch.get("/db/protocol-test/ok").await, 404, "not_found");
}

#[tokio::test]
async fn an_attachment_over_the_size_limit_is_413_inline_or_standalone() {
    let couch = small().await;
    let data = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 4096]);
    let answer = couch
        .put(
            "/db/protocol-test/a",
            json!({"_attachments": {"p.jpg": {"content_type": "image/jpeg", "data": data}}}),
        )
        .await;
    assert_error(&answer, 413, "too_large");
    let response = couch
        .request(Method::PUT, "/db/protocol-test/b/p.jpg")
        .body(vec![7u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn too_many_documents_in_one_request_is_413() {
    let couch = small().await;
    let docs: Vec<_> = (0..6).map(|i| json!({"_id": format!("d{i}")})).collect();
    assert_error(
        &couch
            .post("/db/protocol-test/_bulk_docs", json!({"docs": docs}))
            .await,
        413,
        "too_large",
    );
    let refs: Vec<_> = (0..6).map(|i| json!({"id": format!("d{i}")})).collect();
    assert_error(
        &couch
            .post("/db/protocol-test/_bulk_get", json!({"docs": refs}))
            .await,
        413,
        "too_large",
    );
    assert_eq!(couch.get("/db/protocol-test").await.1["doc_count"], 0);
}

#[tokio::test]
async fn the_changes_feed_is_paged_at_the_configured_cap() {
    let couch = small().await;
    let docs: Vec<_> = (0..5).map(|i| json!({"_id": format!("d{i}")})).collect();
    couch
        .post("/db/protocol-test/_bulk_docs", json!({"docs": docs}))
        .await;
    let (_, page) = couch.get("/db/protocol-test/_changes?limit=100").await;
    assert_eq!(page["results"].as_array().unwrap().len(), 3);
    assert_eq!(page["pending"], 2);
    assert_eq!(page["last_seq"], 3);
}
