use chaski_server::auth::Role;
use chaski_server::routes::client_errors::TREE;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_signed_in_tablet_reports_a_panic_and_the_server_keeps_it() {
    let app = spawn_app().await;
    let token = app
        .token_for("ines", Role::Inspector, &["madre-de-dios"])
        .await;
    let response = app
        .client
        .post(app.url("/api/client-errors"))
        .bearer_auth(&token)
        .json(&json!({"errors": [{
            "message": "called `Option::unwrap()` on a `None` value",
            "location": "client/src/pages/inspection.rs:120:9",
            "at": "2026-11-30T10:00:00-05:00",
            "version": "0.1.0",
        }]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["stored"], 1);
    let tree = app.state.storage.sled().open_tree(TREE).unwrap();
    let stored: Vec<Value> = tree
        .iter()
        .values()
        .map(|v| serde_json::from_slice(&v.unwrap()).unwrap())
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["user"], "ines");
    assert_eq!(stored[0]["device"], "test-device");
    assert_eq!(
        stored[0]["error"]["location"],
        "client/src/pages/inspection.rs:120:9"
    );
}

#[tokio::test]
async fn client_errors_need_credentials_and_a_bounded_body() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/api/client-errors"))
        .json(&json!({"errors": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let token = app
        .token_for("ines", Role::Inspector, &["madre-de-dios"])
        .await;
    let post = |body: Value| {
        app.client
            .post(app.url("/api/client-errors"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let too_many = post(json!({"errors": vec![json!({"message": "x"}); 21]}))
        .await
        .unwrap();
    assert_eq!(too_many.status(), 413);
    let huge = post(json!({"errors": [{"message": "x".repeat(64 * 1024)}]}))
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let body: Value = huge.json().await.unwrap();
    assert_eq!(body["error"], "too_large");
    let wrong = post(json!({"message": "not a list"})).await.unwrap();
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("errors"),
        "{body}"
    );
    let tree = app.state.storage.sled().open_tree(TREE).unwrap();
    assert!(tree.is_empty());
}
