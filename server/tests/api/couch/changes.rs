use std::time::{Duration, Instant};

use serde_json::json;

use super::{assert_error, Couch};
use crate::helpers::spawn_app_with;

#[tokio::test]
async fn changes_list_each_document_once_with_since_limit_and_all_docs_style() {
    let couch = Couch::start().await;
    let rev_a = couch.create("a", json!({"v": 1})).await;
    couch.create("b", json!({"v": 1})).await;
    couch
        .put(&format!("/db/protocol-test/a?rev={rev_a}"), json!({"v": 2}))
        .await;
    let (status, feed) = couch.get("/db/protocol-test/_changes").await;
    assert_eq!(status, 200);
    let ids: Vec<_> = feed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("b"), json!("a")]);
    assert_eq!(feed["last_seq"], 3);
    let (_, page) = couch.get("/db/protocol-test/_changes?limit=1").await;
    assert_eq!(page["results"].as_array().unwrap().len(), 1);
    assert_eq!(page["last_seq"], 2);
    assert_eq!(page["pending"], 1);
    let (_, rest) = couch
        .get("/db/protocol-test/_changes?since=2&style=all_docs")
        .await;
    assert_eq!(rest["results"][0]["id"], "a");
    assert!(rest["results"][0]["changes"][0]["rev"]
        .as_str()
        .unwrap()
        .starts_with("2-"));
    let (_, now) = couch.get("/db/protocol-test/_changes?since=now").await;
    assert_eq!(now, json!({"results": [], "last_seq": 3, "pending": 0}));
}

#[tokio::test]
async fn pending_counts_the_rows_left_after_a_page_while_documents_are_rewritten_between_pages() {
    let couch = Couch::start().await;
    let mut revs = Vec::new();
    for i in 0..6 {
        revs.push(couch.create(&format!("d{i}"), json!({"v": 1})).await);
    }
    // A first page asks for the count, so the server's count of live rows is in use from here.
    let (_, page) = couch.get("/db/protocol-test/_changes?limit=2").await;
    assert_eq!(page["last_seq"], 2);
    assert_eq!(page["pending"], 4);
    // d0 (already read) and d3 (not yet) change again: their rows move to sequences 7 and 8.
    couch
        .put(
            &format!("/db/protocol-test/d0?rev={}", revs[0]),
            json!({"v": 2}),
        )
        .await;
    couch
        .put(
            &format!("/db/protocol-test/d3?rev={}", revs[3]),
            json!({"v": 2}),
        )
        .await;
    // Left after since=2: d2, d4, d5 (3, 5, 6) and d0, d3 (7, 8).
    let (_, page) = couch
        .get("/db/protocol-test/_changes?since=2&limit=2")
        .await;
    let ids: Vec<_> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("d2"), json!("d4")]);
    assert_eq!(page["last_seq"], 5);
    assert_eq!(page["pending"], 3);
    let (_, page) = couch
        .get("/db/protocol-test/_changes?since=5&limit=3")
        .await;
    assert_eq!(page["last_seq"], 8);
    assert_eq!(page["pending"], 0);
}

#[tokio::test]
async fn changes_include_docs_conflicts_and_flag_deletions() {
    let couch = Couch::start().await;
    let rev = couch.create("a", json!({"v": 1})).await;
    couch
        .delete(&format!("/db/protocol-test/a?rev={rev}"))
        .await;
    couch.create("b", json!({"v": 1})).await;
    let (_, feed) = couch
        .get("/db/protocol-test/_changes?include_docs=true&conflicts=true")
        .await;
    assert_eq!(feed["results"][0]["deleted"], true);
    assert_eq!(feed["results"][0]["doc"]["_deleted"], true);
    assert_eq!(feed["results"][1]["doc"]["v"], 1);
}

#[tokio::test]
async fn changes_filter_by_doc_ids_in_a_post_body_or_the_query() {
    let couch = Couch::start().await;
    for id in ["a", "b", "c"] {
        couch.create(id, json!({})).await;
    }
    let (status, feed) = couch
        .post(
            "/db/protocol-test/_changes?filter=_doc_ids",
            json!({"doc_ids": ["c", "a"]}),
        )
        .await;
    assert_eq!(status, 200);
    let ids: Vec<_> = feed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("c")]);
    let (_, feed) = couch
        .get("/db/protocol-test/_changes?filter=_doc_ids&doc_ids=[\"b\"]")
        .await;
    assert_eq!(feed["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_changes_parameters_are_400() {
    let couch = Couch::start().await;
    for query in [
        "since=yesterday",
        "limit=-1",
        "style=some",
        "feed=continuous",
        "filter=by_region",
        "include_docs=1",
    ] {
        assert_error(
            &couch
                .get(&format!("/db/protocol-test/_changes?{query}"))
                .await,
            400,
            "bad_request",
        );
    }
}

#[tokio::test]
async fn a_longpoll_returns_as_soon_as_a_document_is_written() {
    let couch = Couch::start().await;
    let waiting = couch
        .request(
            reqwest::Method::GET,
            "/db/protocol-test/_changes?feed=longpoll&since=now&timeout=10000",
        )
        .send();
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        couch.create("new", json!({})).await;
    };
    let started = Instant::now();
    let (response, ()) = tokio::join!(waiting, writer);
    let body: serde_json::Value = response.unwrap().json().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(body["results"][0]["id"], "new");
}

#[tokio::test]
async fn a_longpoll_with_nothing_new_ends_at_its_timeout_with_heartbeats() {
    let couch = Couch::start().await;
    let started = Instant::now();
    let response = couch
        .request(
            reqwest::Method::GET,
            "/db/protocol-test/_changes?feed=longpoll&since=0&timeout=700&heartbeat=200",
        )
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(650));
    assert!(text.starts_with('\n'), "heartbeats first: {text:?}");
    let body: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(body["results"], json!([]));
}

#[tokio::test]
async fn a_longpoll_timeout_is_capped_by_the_configuration() {
    let app = spawn_app_with(|c| c.max_longpoll_secs = 1).await;
    let couch = Couch::with(app).await;
    let started = Instant::now();
    let (status, _) = couch
        .get("/db/protocol-test/_changes?feed=longpoll&since=now&timeout=600000")
        .await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
}
