use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_reports_the_version_and_a_writable_store() {
    let app = spawn_app().await;
    let response = app.get("/api/health").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], chaski_shared::VERSION);
    assert_eq!(body["store"]["writable"], true);
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404_with_a_reason() {
    let app = spawn_app().await;
    for path in [
        "/api/nothing-here",
        "/api/health/extra",
        "/api/inspections.js",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
        assert!(
            body["reason"].as_str().unwrap().contains(path),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_stopped_server_has_flushed_and_released_its_store() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/health").await.status(), 200);
    let (data_dir, _keep) = app.stop().await;
    // sled holds an exclusive lock while open: reopening proves the server let go of it,
    // and the probe record written by the health check is there.
    let db =
        chaski_server::storage::open_sled(&data_dir).expect("store still locked after shutdown");
    let meta = db.open_tree("meta").unwrap();
    assert!(meta.get("health-probe").unwrap().is_some());
}
