use reqwest::Method;
use serde_json::json;

use super::{assert_error, Couch};

#[tokio::test]
async fn the_root_welcomes_like_couchdb_with_and_without_a_trailing_slash() {
    let couch = Couch::start().await;
    for path in ["/db", "/db/"] {
        let (status, body) = couch.get(path).await;
        assert_eq!(status, 200);
        assert_eq!(body["couchdb"], "Welcome");
        assert_eq!(body["vendor"]["name"], "chaski");
    }
}

#[tokio::test]
async fn an_admin_creates_lists_reads_and_deletes_databases() {
    let couch = Couch::start().await;
    assert_eq!(couch.put("/db/madre-de-dios", json!({})).await.0, 201);
    let (_, all) = couch.get("/db/_all_dbs").await;
    assert_eq!(all, json!(["madre-de-dios", "protocol-test"]));
    let (status, info) = couch.get("/db/madre-de-dios").await;
    assert_eq!(status, 200);
    assert_eq!(info["db_name"], "madre-de-dios");
    assert_eq!(info["update_seq"], 0);
    assert_eq!(info["doc_count"], 0);
    let (status, body) = couch.delete("/db/madre-de-dios").await;
    assert_eq!((status.as_u16(), body), (200, json!({"ok": true})));
    assert_error(&couch.get("/db/madre-de-dios").await, 404, "not_found");
}

#[tokio::test]
async fn creating_an_existing_database_is_412_file_exists() {
    let couch = Couch::start().await;
    assert_error(
        &couch.send(Method::PUT, "/db/protocol-test", None).await,
        412,
        "file_exists",
    );
}

#[tokio::test]
async fn a_missing_database_is_404_database_does_not_exist() {
    let couch = Couch::start().await;
    let answer = couch.get("/db/ucayali").await;
    assert_error(&answer, 404, "not_found");
    assert_eq!(answer.1["reason"], "Database does not exist.");
    assert_error(&couch.delete("/db/ucayali").await, 404, "not_found");
    assert_error(&couch.get("/db/ucayali/some-doc").await, 404, "not_found");
}

#[tokio::test]
async fn illegal_database_names_are_400_with_the_rules() {
    let couch = Couch::start().await;
    for name in ["Loreto", "1lima", "_users", "a%3Ab"] {
        let answer = couch.send(Method::PUT, &format!("/db/{name}"), None).await;
        assert_error(&answer, 400, "illegal_database_name");
    }
}

#[tokio::test]
async fn a_deleted_database_comes_back_empty_when_recreated() {
    let couch = Couch::start().await;
    couch.create("a", json!({"v": 1})).await;
    couch.delete("/db/protocol-test").await;
    couch.send(Method::PUT, "/db/protocol-test", None).await;
    let (_, info) = couch.get("/db/protocol-test").await;
    assert_eq!(info["doc_count"], 0);
    assert_error(&couch.get("/db/protocol-test/a").await, 404, "not_found");
}

#[tokio::test]
async fn requests_without_credentials_are_401_with_a_basic_challenge() {
    let couch = Couch::start().await;
    let response = couch
        .app
        .client
        .get(couch.app.url("/db/protocol-test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn databases_persist_across_a_restart() {
    let couch = Couch::start().await;
    let rev = couch.create("kept", json!({"v": 1})).await;
    let Couch { app, .. } = couch;
    let (data_dir, _keep) = app.stop().await;
    let again = crate::helpers::spawn_app_on(data_dir).await;
    let token = again
        .token_for("admin2", chaski_server::auth::Role::Admin, &[])
        .await;
    let doc: serde_json::Value = again
        .client
        .get(again.url("/db/protocol-test/kept"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["_rev"], rev);
}

/// The `instance_start_time` of `db` in its info and in `_ensure_full_commit`, checked equal.
async fn instance_start_time(couch: &Couch, db: &str) -> String {
    let (status, info) = couch.get(&format!("/db/{db}")).await;
    assert_eq!(status, 200, "{info}");
    let (status, commit) = couch
        .post(&format!("/db/{db}/_ensure_full_commit"), json!({}))
        .await;
    assert_eq!(status, 201, "{commit}");
    assert_eq!(commit["ok"], true);
    assert_eq!(
        info["instance_start_time"], commit["instance_start_time"],
        "the info and _ensure_full_commit name the same creation"
    );
    let value = info["instance_start_time"]
        .as_str()
        .expect("a string, as CouchDB sends it")
        .to_owned();
    assert!(
        value.parse::<u64>().is_ok_and(|micros| micros > 0),
        "microseconds since the epoch: {value}"
    );
    value
}

#[tokio::test]
async fn a_database_deleted_and_created_again_answers_a_new_instance_start_time() {
    let couch = Couch::start().await;
    let first = instance_start_time(&couch, "protocol-test").await;
    assert_eq!(instance_start_time(&couch, "protocol-test").await, first);
    assert_eq!(couch.delete("/db/protocol-test").await.0, 200);
    couch.create_db("protocol-test").await;
    let second = instance_start_time(&couch, "protocol-test").await;
    assert_ne!(second, first);
    couch.create_db("other").await;
    let other = instance_start_time(&couch, "other").await;
    assert!(other != first && other != second);
}

#[tokio::test]
async fn the_instance_start_time_survives_a_restart() {
    let couch = Couch::start().await;
    let before = instance_start_time(&couch, "protocol-test").await;
    let Couch { app, .. } = couch;
    let (data_dir, _keep) = app.stop().await;
    let app = crate::helpers::spawn_app_on(data_dir).await;
    let token = app
        .token_for("admin2", chaski_server::auth::Role::Admin, &[])
        .await;
    let again = Couch { app, token };
    assert_eq!(instance_start_time(&again, "protocol-test").await, before);
}

#[tokio::test]
async fn databases_are_created_and_destroyed_with_a_trailing_slash_as_pouchdb_does() {
    let couch = Couch::start().await;
    let (status, body) = couch.send(Method::PUT, "/db/loreto/", None).await;
    assert_eq!((status.as_u16(), body), (201, json!({"ok": true})));
    assert_eq!(couch.get("/db/loreto/").await.1["db_name"], "loreto");
    assert_error(
        &couch.send(Method::PUT, "/db/loreto/", None).await,
        412,
        "file_exists",
    );
    let (status, body) = couch.delete("/db/loreto/").await;
    assert_eq!((status.as_u16(), body), (200, json!({"ok": true})));
    assert_error(&couch.get("/db/loreto").await, 404, "not_found");
}

#[tokio::test]
async fn every_method_not_allowed_answers_couchdb_json_with_allow() {
    let couch = Couch::start().await;
    let cases = [
        (Method::PATCH, "/db/protocol-test"),
        (Method::DELETE, "/db/_all_dbs"),
        (Method::PUT, "/db/protocol-test/_changes"),
        (Method::GET, "/db/protocol-test/_bulk_docs"),
        (Method::PATCH, "/db/protocol-test/some-doc"),
        (Method::PUT, "/db/_session"),
        (Method::GET, "/api/login"),
        (Method::POST, "/api/health"),
    ];
    for (method, path) in cases {
        let response = couch.request(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert!(response.headers().contains_key("allow"), "{method} {path}");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"], "method_not_allowed", "{method} {path}");
        assert!(body["reason"].as_str().is_some_and(|r| r.contains(path)));
    }
}
