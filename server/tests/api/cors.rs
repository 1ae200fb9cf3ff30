//! CORS on `/db` and `/api`: off unless origins are configured, then only for those origins,
//! answered exactly and with credentials (pages elsewhere call the API with a token or cookie).

use reqwest::{Method, StatusCode};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

const OFFICE: &str = "https://oficina.example.org";

async fn with_office_origin() -> TestApp {
    spawn_app_with(|c| c.cors_origins = vec![OFFICE.to_owned(), "http://localhost:8081".into()])
        .await
}

/// A browser's preflight before a credentialed `POST` of JSON.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("request failed")
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("origin", origin)
        .send()
        .await
        .expect("request failed")
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = spawn_app().await;
    for path in ["/api/health", "/db"] {
        let response = get_from(&app, path, OFFICE).await;
        assert_eq!(response.status(), 200);
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{path}"
        );
    }
    let response = preflight(&app, "/db/madre-de-dios/_bulk_docs", OFFICE).await;
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn a_configured_origin_gets_preflights_answered_with_credentials() {
    let app = with_office_origin().await;
    for path in ["/db/madre-de-dios/_bulk_docs", "/api/login", "/db/_session"] {
        let response = preflight(&app, path, OFFICE).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], OFFICE, "{path}");
        assert_eq!(headers["access-control-allow-credentials"], "true");
        let methods = headers["access-control-allow-methods"].to_str().unwrap();
        for method in ["GET", "PUT", "POST", "DELETE", "HEAD"] {
            assert!(methods.contains(method), "{methods}");
        }
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains("authorization"), "{allowed}");
        assert!(allowed.contains("content-type"), "{allowed}");
    }
}

#[tokio::test]
async fn a_configured_origin_can_read_answers_errors_included() {
    let app = with_office_origin().await;
    let welcome = get_from(&app, "/db", OFFICE).await;
    assert_eq!(welcome.headers()["access-control-allow-origin"], OFFICE);
    // A 401 must reach the page too, or it cannot tell the user to sign in again.
    let refused = get_from(&app, "/db/madre-de-dios", OFFICE).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["access-control-allow-origin"], OFFICE);
    let me = get_from(&app, "/api/me", "http://localhost:8081").await;
    assert_eq!(
        me.headers()["access-control-allow-origin"],
        "http://localhost:8081"
    );
    // The PWA's own files are for its own origin only.
    let index = get_from(&app, "/", OFFICE).await;
    assert!(!index.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers() {
    let app = with_office_origin().await;
    let response = preflight(&app, "/db/madre-de-dios/_bulk_docs", "https://evil.example").await;
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    let response = get_from(&app, "/db", "https://evil.example").await;
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
    // Nor a look-alike of the configured origin.
    let response = get_from(&app, "/db", "https://oficina.example.org.evil.example").await;
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
}
