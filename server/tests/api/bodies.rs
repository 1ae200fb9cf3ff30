//! Memory blow-up from small JSON: a body is authorized before it is read, the memory its JSON
//! would take is reserved before it is parsed, and `_revs_diff` counts ids, not only revisions.

use chaski_server::auth::Role;
use serde_json::{json, Map, Value};

use crate::connections::{post_head, send_partial};
use crate::couch::{Couch, DB};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn a_body_sent_to_another_regions_database_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let token = app.token_for("ines", Role::Inspector, &["loreto"]).await;
    // 50 MB declared, nothing sent: the answer cannot wait for the body.
    let head = post_head("/db/cusco/_bulk_docs", &token, 50_000_000);
    let (_stream, answer) = send_partial(&app, &head, b"{\"docs\":[0,0,0").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer:?}");
    let head = post_head("/db/cusco/_revs_diff", &token, 50_000_000);
    let (_stream, answer) = send_partial(&app, &head, b"{").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer:?}");
}

#[tokio::test]
async fn json_that_would_take_more_memory_than_the_budget_is_refused_before_it_is_parsed() {
    let couch = Couch::with(spawn_app_with(|c| c.body_budget_bytes = 4 * 1024 * 1024).await).await;
    // 1 MB of `[0,0,…]`: 500,000 values, 16 MB once parsed.
    let zeros = format!("{{\"docs\":[{}0]}}", "0,".repeat(500_000));
    let answer = couch
        .request(reqwest::Method::POST, &format!("/db/{DB}/_bulk_docs"))
        .header("content-type", "application/json")
        .body(zeros)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("memory"),
        "{body}"
    );
    // The budget came back: an ordinary request goes through.
    let (status, body) = couch
        .post(
            &format!("/db/{DB}/_bulk_docs"),
            json!({"docs": [{"_id": "a"}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn revs_diff_counts_ids_even_without_revisions() {
    let couch = Couch::with(spawn_app_with(|c| c.max_docs_per_request = 5).await).await;
    let ids: Map<String, Value> = (0..6).map(|i| (format!("d{i}"), json!([]))).collect();
    let (status, body) = couch
        .post(&format!("/db/{DB}/_revs_diff"), Value::Object(ids))
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("ids"), "{body}");
    let ids: Map<String, Value> = (0..5).map(|i| (format!("d{i}"), json!([]))).collect();
    let (status, body) = couch
        .post(&format!("/db/{DB}/_revs_diff"), Value::Object(ids))
        .await;
    assert_eq!(status, 200, "{body}");
}
