//! The connection loop's bounds: a cap on connections (503 beyond it), a header-read timeout
//! that closes idle connections, a body that stalls cut with 408, an oversized declared body
//! refused before it is sent, and the shared body budget (503 when full, 413 when too big).

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::couch::{Couch, DB};
use crate::helpers::{spawn_app_with, TestApp};

/// A raw connection to the test server.
pub async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Sends `head` (request line and headers) and `body_start`, then reads whatever the server
/// answers within 10 s (a generous bound for a loaded machine; the answers tested come at once
/// or after a 1 s timeout).
pub async fn send_partial(app: &TestApp, head: &str, body_start: &[u8]) -> (TcpStream, String) {
    let mut stream = connect(app).await;
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body_start).await.expect("write body");
    let answer = read_answer(&mut stream).await;
    (stream, answer)
}

/// Reads until the server closes or a full head has arrived, at most 10 s.
pub async fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

pub fn post_head(path: &str, token: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: chaski\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}

#[tokio::test]
async fn connections_over_the_cap_get_a_prompt_503_and_idle_ones_are_closed_after_the_header_timeout(
) {
    let app = spawn_app_with(|c| {
        c.max_connections = 8;
        c.header_timeout_secs = 1;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(connect(&app).await);
    }
    // While the idle connections hold every slot, a real client is answered at once.
    let health = tokio::time::timeout(Duration::from_secs(5), reqwest::get(app.url("/api/health")))
        .await
        .expect("a prompt answer")
        .expect("an answer");
    assert!(
        [200, 503].contains(&health.status().as_u16()),
        "{}",
        health.status()
    );

    // Every idle connection is closed: those over the cap within a second, the others when
    // the header timeout passes.
    for stream in &mut idle {
        let mut answer = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        assert!(closed.is_ok(), "an idle connection was left open");
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    assert_eq!(app.get("/api/health").await.status(), 200);
}

#[tokio::test]
async fn a_connection_over_the_cap_is_answered_503_with_retry_after_at_once() {
    let app = spawn_app_with(|c| {
        c.max_connections = 4;
        c.header_timeout_secs = 60;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(&app).await);
    }
    let health = tokio::time::timeout(Duration::from_secs(5), reqwest::get(app.url("/api/health")))
        .await
        .expect("a prompt answer")
        .expect("an answer");
    assert_eq!(health.status(), 503);
    assert!(health.headers().contains_key("retry-after"));
    drop(idle);
    // The slots come back as soon as the idle clients leave.
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/api/health").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let couch = Couch::with(spawn_app_with(|c| c.max_request_bytes = 1024 * 1024).await).await;
    let head = post_head(&format!("/db/{DB}/_bulk_docs"), &couch.token, 1 << 30);
    let (_stream, answer) = send_partial(&couch.app, &head, b"").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_cut_with_408() {
    let couch = Couch::with(spawn_app_with(|c| c.body_timeout_secs = 1).await).await;
    let head = post_head(&format!("/db/{DB}/_bulk_docs"), &couch.token, 100);
    let (_stream, answer) = send_partial(&couch.app, &head, b"{\"docs\":[").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(answer.contains("request_timeout"), "{answer:?}");
    // Outside the CouchDB API too (a login), a stalled body does not hold its connection.
    let head = "POST /api/login HTTP/1.1\r\nhost: chaski\r\ncontent-type: application/json\r\n\
                content-length: 100\r\n\r\n";
    let (_stream, answer) = send_partial(&couch.app, head, b"{\"name\":").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
}

#[tokio::test]
async fn a_login_body_is_small_or_refused() {
    let app = spawn_app_with(|_| {}).await;
    let big = json!({"name": "ana", "password": "x".repeat(100 * 1024)});
    for path in ["/api/login", "/db/_session"] {
        let answer = app
            .client
            .post(app.url(path))
            .json(&big)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 413, "{path}");
    }
}

#[tokio::test]
async fn bodies_in_flight_share_one_budget_503_when_full_and_413_when_never_fitting() {
    let couch = Couch::with(spawn_app_with(|c| c.body_budget_bytes = 1024 * 1024).await).await;
    let budget = couch.app.state.limits.body_budget.clone();
    // A slow client sends 850 KB of a 900 KB body, then nothing more: what it sent is held.
    let head = post_head(&format!("/db/{DB}/_bulk_docs"), &couch.token, 900 * 1024);
    let mut slow = connect(&couch.app).await;
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut start = b"{\"docs\":[{\"_id\":\"slow\",\"pad\":\"".to_vec();
    start.resize(850 * 1024, b'x');
    slow.write_all(&start).await.unwrap();
    for _ in 0..500 {
        if budget.available() < 200 * 1024 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        budget.available() < 200 * 1024,
        "the slow body was not reserved"
    );

    let doc = |size: usize| json!({"docs": [{"_id": "pad", "pad": "x".repeat(size)}]});
    let (status, body) = couch
        .post(&format!("/db/{DB}/_bulk_docs"), doc(300 * 1024))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "overloaded");
    let (status, body) = couch
        .post(&format!("/db/{DB}/_bulk_docs"), doc(2 * 1024 * 1024))
        .await;
    assert_eq!(status, 413, "{body}");

    drop(slow);
    for _ in 0..500 {
        if budget.available() == budget.total() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = couch
        .post(&format!("/db/{DB}/_bulk_docs"), doc(300 * 1024))
        .await;
    assert_eq!(status, 201, "{body}");
}
