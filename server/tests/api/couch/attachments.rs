use base64::Engine as _;
use reqwest::Method;
use serde_json::json;

use super::{assert_error, Couch};

#[tokio::test]
async fn an_attachment_is_put_read_and_deleted_by_revision() {
    let couch = Couch::start().await;
    let response = couch
        .request(Method::PUT, "/db/protocol-test/insp/photo.jpg")
        .header("content-type", "image/jpeg")
        .body(b"jpeg bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let rev1: serde_json::Value = response.json().await.unwrap();
    let rev1 = rev1["rev"].as_str().unwrap().to_owned();

    let response = couch
        .request(Method::GET, "/db/protocol-test/insp/photo.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"jpeg bytes");

    let (_, doc) = couch.get("/db/protocol-test/insp").await;
    assert_eq!(doc["_attachments"]["photo.jpg"]["stub"], true);
    assert_eq!(doc["_attachments"]["photo.jpg"]["length"], 10);

    let response = couch
        .request(
            Method::PUT,
            &format!("/db/protocol-test/insp/notes%2Fday1.txt?rev={rev1}"),
        )
        .header("content-type", "text/plain")
        .body("notas")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let rev2: serde_json::Value = response.json().await.unwrap();
    let rev2 = rev2["rev"].as_str().unwrap().to_owned();
    let text = couch
        .request(Method::GET, "/db/protocol-test/insp/notes/day1.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(text.text().await.unwrap(), "notas");

    let stale = couch
        .request(Method::PUT, &format!("/db/protocol-test/insp/x?rev={rev1}"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);

    let (status, _) = couch
        .delete(&format!("/db/protocol-test/insp/photo.jpg?rev={rev2}"))
        .await;
    assert_eq!(status, 200);
    assert_error(
        &couch.get("/db/protocol-test/insp/photo.jpg").await,
        404,
        "not_found",
    );
    assert_error(
        &couch
            .delete("/db/protocol-test/insp/notes%2Fday1.txt")
            .await,
        409,
        "conflict",
    );
}

#[tokio::test]
async fn inline_attachments_are_returned_as_stubs_or_with_their_data() {
    let couch = Couch::start().await;
    let data = base64::engine::general_purpose::STANDARD.encode(b"hello");
    couch
        .create(
            "a",
            json!({"_attachments": {"h.txt": {"content_type": "text/plain", "data": data}}}),
        )
        .await;
    let (_, stub) = couch.get("/db/protocol-test/a").await;
    assert_eq!(stub["_attachments"]["h.txt"]["stub"], true);
    let (_, full) = couch.get("/db/protocol-test/a?attachments=true").await;
    assert_eq!(full["_attachments"]["h.txt"]["data"], data);
    let bad = couch
        .put(
            "/db/protocol-test/b",
            json!({"_attachments": {"x": {"data": "!!!"}}}),
        )
        .await;
    assert_error(&bad, 400, "bad_request");
    let unknown_stub = couch
        .put(
            "/db/protocol-test/c",
            json!({"_attachments": {"x": {"stub": true, "digest": "md5-nope"}}}),
        )
        .await;
    assert_error(&unknown_stub, 412, "missing_stub");
}

#[tokio::test]
async fn attachments_are_served_inert_and_anything_but_a_picture_as_a_download() {
    // `protocol-test` is not a region's database: it keeps any type, so the headers are all
    // that stands between a stored page and the reader's session.
    let couch = Couch::start().await;
    let mut rev: Option<String> = None;
    for (name, content_type) in [
        ("photo.jpg", "image/jpeg"),
        ("report.html", "text/html"),
        ("logo.svg", "image/svg+xml"),
        ("tool.exe", "application/x-msdownload"),
    ] {
        let path = match &rev {
            Some(rev) => format!("/db/protocol-test/doc/{name}?rev={rev}"),
            None => format!("/db/protocol-test/doc/{name}"),
        };
        let response = couch
            .request(Method::PUT, &path)
            .header("content-type", content_type)
            .body("<script>alert(1)</script>")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let answer: serde_json::Value = response.json().await.unwrap();
        rev = Some(answer["rev"].as_str().unwrap().to_owned());
    }
    for (name, download) in [
        ("photo.jpg", false),
        ("report.html", true),
        ("logo.svg", true),
        ("tool.exe", true),
    ] {
        let response = couch
            .request(Method::GET, &format!("/db/protocol-test/doc/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{name}");
        assert_eq!(headers["content-security-policy"], "sandbox", "{name}");
        let disposition = headers
            .get("content-disposition")
            .map(|v| v.to_str().unwrap().to_owned());
        if download {
            let disposition = disposition.unwrap_or_default();
            assert!(
                disposition.starts_with("attachment"),
                "{name}: {disposition}"
            );
            assert!(disposition.contains(name), "{name}: {disposition}");
        } else {
            assert_eq!(disposition, None, "{name}");
        }
    }
}
