//! The admin API (`/api/admin/...`) against the real server, and the `chaski` binary on a
//! running server: each operation and its immediate effect, the last-admin guard, CSRF, bad
//! input, who may call it, and `chaski admin --server`.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

#[allow(dead_code)]
#[path = "support/binary.rs"]
mod binary;

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

use chaski_server::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use helpers::{basic_auth, spawn_app, TestApp};

/// An admin's bearer token on a fresh server, with the admin `ana`.
async fn app_with_admin() -> (TestApp, String) {
    let app = spawn_app().await;
    let token = app.token_for("ana", Role::Admin, &[]).await;
    (app, token)
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get_with_token(app: &TestApp, path: &str, token: &str) -> StatusCode {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn login(app: &TestApp, name: &str, password: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/api/login"))
        .json(&json!({"name": name, "password": password, "device": "tablet 9"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn reason(body: &Value) -> &str {
    body["reason"].as_str().unwrap_or("")
}

const INES_PASSWORD: &str = "selva verde 2026 ucayali";

/// The admin adds `ines`, inspector of `regions`; returns her token from a real login.
async fn add_ines(app: &TestApp, admin: &str, regions: &[&str]) -> String {
    let (status, user) = call(
        app,
        Method::POST,
        "/api/admin/users",
        admin,
        Some(
            json!({"name": "ines", "password": INES_PASSWORD, "role": "inspector",
                    "regions": regions}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let (status, body) = login(app, "ines", INES_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn create_db(app: &TestApp, admin: &str, name: &str) {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/admin/databases",
        admin,
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_user_added_through_the_api_signs_in_at_once_and_the_change_is_logged() {
    let (app, admin) = app_with_admin().await;
    let (status, user) = call(
        &app,
        Method::POST,
        "/api/admin/users",
        &admin,
        Some(
            json!({"name": "ines", "password": INES_PASSWORD, "role": "inspector",
                    "regions": ["loreto", "cusco"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["name"], "ines");
    assert_eq!(user["role"], "inspector");
    assert_eq!(user["regions"], json!(["cusco", "loreto"]));
    assert_eq!(user["disabled"], false);

    let (status, body) = login(&app, "ines", INES_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, users) = call(&app, Method::GET, "/api/admin/users", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ana", "ines"]);
    assert!(users[1].get("password_hash").is_none(), "{users}");

    let (status, log) = call(&app, Method::GET, "/api/admin/log", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log[0]["by"], "ana");
    assert_eq!(log[0]["action"], "user.add");
    assert_eq!(log[0]["target"], "ines");
    assert!(log[0]["at"].as_str().unwrap().ends_with('Z'));
    assert!(!log.to_string().contains(INES_PASSWORD), "{log}");
}

#[tokio::test]
async fn a_revoked_device_gets_401_on_its_next_request() {
    let (app, admin) = app_with_admin().await;
    create_db(&app, &admin, "loreto").await;
    let tablet = add_ines(&app, &admin, &["loreto"]).await;
    assert_eq!(
        get_with_token(&app, "/db/loreto", &tablet).await,
        StatusCode::OK
    );

    let (status, tokens) = call(
        &app,
        Method::GET,
        "/api/admin/tokens?user=ines",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed = tokens.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{tokens}");
    assert_eq!(listed[0]["device"], "tablet 9");
    assert_eq!(listed[0]["revoked"], false);
    for field in ["id", "user", "created_at", "expires_at"] {
        assert!(listed[0][field].is_string(), "{field} in {tokens}");
    }
    let id = listed[0]["id"].as_str().unwrap();

    let path = format!("/api/admin/tokens/{id}/revoke");
    let (status, body) = call(&app, Method::POST, &path, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        get_with_token(&app, "/db/loreto", &tablet).await,
        StatusCode::UNAUTHORIZED
    );
    let (_, tokens) = call(
        &app,
        Method::GET,
        "/api/admin/tokens?user=ines",
        &admin,
        None,
    )
    .await;
    assert_eq!(tokens[0]["revoked"], true, "{tokens}");
    let (status, _) = call(&app, Method::POST, &path, &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, log) = call(&app, Method::GET, "/api/admin/log?limit=1", &admin, None).await;
    assert_eq!(log[0]["action"], "token.revoke");
    assert_eq!(log[0]["target"], id);
}

#[tokio::test]
async fn a_region_taken_from_a_user_is_refused_on_the_next_request() {
    let (app, admin) = app_with_admin().await;
    create_db(&app, &admin, "loreto").await;
    create_db(&app, &admin, "cusco").await;
    let tablet = add_ines(&app, &admin, &["loreto", "cusco"]).await;
    let basic = basic_auth("ines", INES_PASSWORD);
    let basic_status = |path: &'static str| {
        let request = app
            .client
            .get(app.url(path))
            .header("authorization", &basic);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(
        get_with_token(&app, "/db/cusco", &tablet).await,
        StatusCode::OK
    );
    // Basic auth once, so that the password check's cache holds ines.
    assert_eq!(basic_status("/db/cusco").await, StatusCode::OK);

    let (status, user) = call(
        &app,
        Method::PATCH,
        "/api/admin/users/ines",
        &admin,
        Some(json!({"regions": ["loreto"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["regions"], json!(["loreto"]));
    assert_eq!(
        get_with_token(&app, "/db/cusco", &tablet).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(basic_status("/db/cusco").await, StatusCode::FORBIDDEN);
    assert_eq!(
        get_with_token(&app, "/db/loreto", &tablet).await,
        StatusCode::OK
    );

    let (_, log) = call(&app, Method::GET, "/api/admin/log?limit=1", &admin, None).await;
    assert_eq!(log[0]["action"], "user.regions");
    assert_eq!(log[0]["detail"], "cusco, loreto → loreto");
}

#[tokio::test]
async fn a_disabled_user_is_refused_at_once_and_a_role_change_shows_at_once() {
    let (app, admin) = app_with_admin().await;
    let tablet = add_ines(&app, &admin, &["loreto"]).await;
    let patch = |body: Value| {
        call(
            &app,
            Method::PATCH,
            "/api/admin/users/ines",
            &admin,
            Some(body),
        )
    };

    let (status, user) = patch(json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["disabled"], true);
    assert_eq!(
        get_with_token(&app, "/api/me", &tablet).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "ines", INES_PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, _) = patch(json!({"disabled": false, "role": "supervisor"})).await;
    assert_eq!(status, StatusCode::OK);
    let me: Value = app
        .client
        .get(app.url("/api/me"))
        .bearer_auth(&tablet)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "supervisor");

    let (_, log) = call(&app, Method::GET, "/api/admin/log?limit=3", &admin, None).await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user.enable", "user.role", "user.disable"]);
}

#[tokio::test]
async fn a_password_reset_follows_the_password_rules_and_replaces_the_old_one_at_once() {
    let (app, admin) = app_with_admin().await;
    add_ines(&app, &admin, &["loreto"]).await;
    let path = "/api/admin/users/ines/password";
    for weak in ["1234567890", "ines12345678", "corta"] {
        let (status, body) = call(
            &app,
            Method::POST,
            path,
            &admin,
            Some(json!({ "password": weak })),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak}: {body}");
        assert!(!reason(&body).is_empty());
    }
    let new = "rio amazonas de noche";
    let (status, body) = call(
        &app,
        Method::POST,
        path,
        &admin,
        Some(json!({ "password": new })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        login(&app, "ines", INES_PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login(&app, "ines", new).await.0, StatusCode::OK);
    let (_, log) = call(&app, Method::GET, "/api/admin/log?limit=1", &admin, None).await;
    assert_eq!(log[0]["action"], "user.password");
    assert_eq!(log[0]["detail"], "password set");
    let (_, all) = call(&app, Method::GET, "/api/admin/log", &admin, None).await;
    assert!(!all.to_string().contains(new));
}

#[tokio::test]
async fn databases_are_listed_and_created_through_the_api() {
    let (app, admin) = app_with_admin().await;
    let (status, list) = call(&app, Method::GET, "/api/admin/databases", &admin, None).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));
    create_db(&app, &admin, "madre-de-dios").await;
    let (_, list) = call(&app, Method::GET, "/api/admin/databases", &admin, None).await;
    assert_eq!(list, json!(["madre-de-dios"]));
    // Usable at once.
    assert_eq!(
        get_with_token(&app, "/db/madre-de-dios", &admin).await,
        StatusCode::OK
    );
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/admin/databases",
        &admin,
        Some(json!({"name": "madre-de-dios"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, log) = call(&app, Method::GET, "/api/admin/log", &admin, None).await;
    assert_eq!(log[0]["action"], "db.create");
    assert_eq!(log[0]["target"], "madre-de-dios");
}

#[tokio::test]
async fn admin_changes_made_through_the_other_endpoints_are_logged_too() {
    let (app, admin) = app_with_admin().await;
    let tablet = add_ines(&app, &admin, &["loreto"]).await;
    let put = app
        .client
        .put(app.url("/db/cusco"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let delete = app
        .client
        .delete(app.url("/db/cusco"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::OK);
    let id = tablet.split('.').next().unwrap();
    let revoke = app
        .client
        .delete(app.url(&format!("/api/tokens/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);

    let (_, log) = call(&app, Method::GET, "/api/admin/log?limit=3", &admin, None).await;
    let entries: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert_eq!(
        entries,
        [
            ("token.revoke", id),
            ("db.delete", "cusco"),
            ("db.create", "cusco")
        ]
    );
    let (_, tokens) = call(
        &app,
        Method::GET,
        "/api/admin/tokens?user=ines",
        &admin,
        None,
    )
    .await;
    assert_eq!(tokens[0]["revoked"], true, "{tokens}");
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_disabled_nor_demoted_through_the_api() {
    let (app, admin) = app_with_admin().await;
    let patch = |name: &'static str, body: Value| {
        call(
            &app,
            Method::PATCH,
            match name {
                "ana" => "/api/admin/users/ana",
                _ => "/api/admin/users/beto",
            },
            &admin,
            Some(body),
        )
    };
    for body in [json!({"disabled": true}), json!({"role": "supervisor"})] {
        let (status, answer) = patch("ana", body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert!(
            reason(&answer).contains("last active administrator"),
            "{answer}"
        );
    }
    assert_eq!(
        get_with_token(&app, "/api/me", &admin).await,
        StatusCode::OK
    );

    // A disabled second admin does not count.
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/admin/users",
        &admin,
        Some(json!({"name": "beto", "password": "otra clave larga 77", "role": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        patch("beto", json!({"disabled": true})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        patch("ana", json!({"disabled": true})).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        patch("beto", json!({"disabled": false})).await.0,
        StatusCode::OK
    );
    // Now there are two: ana may step down (and is then no admin any more).
    let (status, body) = patch("ana", json!({"role": "supervisor"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        call(&app, Method::GET, "/api/admin/users", &admin, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

async fn session_cookie(app: &TestApp, name: &str, password: &str) -> String {
    let response = app
        .client
        .post(app.url("/db/_session"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_cookie_from_another_site_is_refused_and_a_bearer_token_or_a_same_origin_cookie_accepted()
{
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Admin, &[]).await;
    let cookie = session_cookie(&app, &name, &password).await;
    let own_origin = app.address.clone();
    let with_cookie = |method: Method, path: &str, headers: &[(&str, &str)]| {
        let mut request = app
            .client
            .request(method, app.url(path))
            .header("cookie", &cookie);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let new_db = |name: &str| json!({ "name": name }).to_string();

    // From another site: refused, with the reason, before anything is done.
    let (status, body) = with_cookie(
        Method::GET,
        "/api/admin/users",
        &[("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(reason(&body).contains("another origin"), "{body}");
    let forged = app
        .client
        .post(app.url("/api/admin/databases"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/json")
        .body(new_db("loreto"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (status, body) = with_cookie(Method::GET, "/api/admin/users", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(reason(&body).contains("Bearer"), "{body}");
    // HTTP Basic, which a browser may also attach on its own, is treated like the cookie.
    let basic = app
        .client
        .get(app.url("/api/admin/users"))
        .header("authorization", basic_auth(&name, &password))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::FORBIDDEN);
    assert!(app.state.databases.list().is_empty());

    // From the server's own pages: accepted.
    let (status, _) = with_cookie(
        Method::GET,
        "/api/admin/users",
        &[("origin", own_origin.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let same_site = app
        .client
        .post(app.url("/api/admin/databases"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json")
        .body(new_db("loreto"))
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), StatusCode::CREATED);

    // A bearer token is accepted whatever the page says: no browser attaches one by itself.
    let token = app.login(&name, &password, "office").await;
    let bearer = app
        .client
        .get(app.url("/api/admin/databases"))
        .bearer_auth(&token)
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_a_reason_and_changes_nothing() {
    let (app, admin) = app_with_admin().await;
    add_ines(&app, &admin, &["loreto"]).await;
    let post_user = |body: Value| call(&app, Method::POST, "/api/admin/users", &admin, Some(body));
    let cases: Vec<(StatusCode, (StatusCode, Value), &str)> = vec![
        (
            StatusCode::CONFLICT,
            post_user(json!({"name": "ines", "password": INES_PASSWORD, "role": "inspector"}))
                .await,
            "already",
        ),
        (
            StatusCode::BAD_REQUEST,
            post_user(json!({"name": "beto", "password": INES_PASSWORD, "role": "boss"})).await,
            "not a role",
        ),
        (
            StatusCode::BAD_REQUEST,
            post_user(
                json!({"name": "beto", "password": INES_PASSWORD, "role": "inspector",
                             "regions": ["Atlantis"]}),
            )
            .await,
            "not a region",
        ),
        (
            StatusCode::BAD_REQUEST,
            post_user(json!({"name": "Beto Q", "password": INES_PASSWORD, "role": "inspector"}))
                .await,
            "not allowed",
        ),
        (
            StatusCode::BAD_REQUEST,
            post_user(json!({"name": "beto", "password": "1234567890", "role": "inspector"})).await,
            "guess",
        ),
        (
            StatusCode::BAD_REQUEST,
            post_user(json!({"name": "beto", "role": "inspector"})).await,
            "password",
        ),
        (
            StatusCode::NOT_FOUND,
            call(
                &app,
                Method::PATCH,
                "/api/admin/users/nadie",
                &admin,
                Some(json!({"disabled": true})),
            )
            .await,
            "nadie",
        ),
        (
            StatusCode::BAD_REQUEST,
            call(
                &app,
                Method::PATCH,
                "/api/admin/users/ines",
                &admin,
                Some(json!({"role": "jefe", "regions": ["cusco"]})),
            )
            .await,
            "not a role",
        ),
        (
            StatusCode::BAD_REQUEST,
            call(
                &app,
                Method::PATCH,
                "/api/admin/users/ines",
                &admin,
                Some(json!({"regions": ["cusco", "narnia"]})),
            )
            .await,
            "narnia",
        ),
        (
            StatusCode::BAD_REQUEST,
            call(
                &app,
                Method::PATCH,
                "/api/admin/users/ines",
                &admin,
                Some(json!({})),
            )
            .await,
            "Nothing to change",
        ),
        (
            StatusCode::BAD_REQUEST,
            call(
                &app,
                Method::PATCH,
                "/api/admin/users/ines",
                &admin,
                Some(json!({"password": "otra cosa larga"})),
            )
            .await,
            "unknown field",
        ),
        (
            StatusCode::NOT_FOUND,
            call(
                &app,
                Method::POST,
                "/api/admin/users/nadie/password",
                &admin,
                Some(json!({"password": "rio amazonas de noche"})),
            )
            .await,
            "nadie",
        ),
        (
            StatusCode::NOT_FOUND,
            call(
                &app,
                Method::POST,
                "/api/admin/tokens/0123abcd/revoke",
                &admin,
                None,
            )
            .await,
            "0123abcd",
        ),
        (
            StatusCode::NOT_FOUND,
            call(
                &app,
                Method::GET,
                "/api/admin/tokens?user=nadie",
                &admin,
                None,
            )
            .await,
            "nadie",
        ),
        (
            StatusCode::BAD_REQUEST,
            call(
                &app,
                Method::POST,
                "/api/admin/databases",
                &admin,
                Some(json!({"name": "_users"})),
            )
            .await,
            "not a region",
        ),
        (
            StatusCode::BAD_REQUEST,
            call(&app, Method::GET, "/api/admin/log?limit=0", &admin, None).await,
            "limit",
        ),
        (
            StatusCode::BAD_REQUEST,
            call(&app, Method::GET, "/api/admin/log?limit=x", &admin, None).await,
            "query",
        ),
    ];
    for (expected, (status, body), words) in cases {
        assert_eq!(status, expected, "{body}");
        assert_eq!(
            body["error"].as_str().map(str::is_empty),
            Some(false),
            "{body}"
        );
        assert!(reason(&body).contains(words), "{words:?} not in {body}");
    }

    // Not JSON, and too large.
    let raw = |body: String, content_type: &str| {
        app.client
            .post(app.url("/api/admin/users"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let not_json = raw("name=beto".to_owned(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let broken = raw("{\"name\":".to_owned(), "application/json")
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let huge = format!(
        "{{\"name\":\"beto\",\"password\":\"{}\",\"role\":\"inspector\"}}",
        "x".repeat(20_000)
    );
    let huge = raw(huge, "application/json").await.unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Nothing of that changed ines or added anyone.
    let (_, users) = call(&app, Method::GET, "/api/admin/users", &admin, None).await;
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
    assert_eq!(users[1]["role"], "inspector");
    assert_eq!(users[1]["regions"], json!(["loreto"]));
}

#[tokio::test]
async fn only_administrators_reach_the_admin_api_and_a_refused_body_is_never_read() {
    let app = spawn_app().await;
    let supervisor = app.token_for("sara", Role::Supervisor, &["loreto"]).await;
    let inspector = app.token_for("ines", Role::Inspector, &["loreto"]).await;
    let routes: [(Method, &str); 9] = [
        (Method::GET, "/api/admin/users"),
        (Method::POST, "/api/admin/users"),
        (Method::PATCH, "/api/admin/users/ines"),
        (Method::POST, "/api/admin/users/ines/password"),
        (Method::GET, "/api/admin/tokens"),
        (Method::POST, "/api/admin/tokens/abc/revoke"),
        (Method::GET, "/api/admin/databases"),
        (Method::POST, "/api/admin/databases"),
        (Method::GET, "/api/admin/log"),
    ];
    // A body far over the limit: a non-admin is refused for who they are, not for its size.
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(100_000));
    for (method, path) in routes {
        for token in [&supervisor, &inspector] {
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(big.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
            let body: Value = response.json().await.unwrap();
            assert!(reason(&body).contains("administrator"), "{body}");
        }
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    let users = app.state.accounts.list_users().unwrap();
    assert_eq!(users.len(), 2);
}

#[tokio::test]
async fn the_login_limiter_applies_to_the_admin_api() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Admin, &[]).await;
    let basic = |password: &str| {
        app.client
            .get(app.url("/api/admin/users"))
            .header("authorization", basic_auth(&name, password))
            .header("sec-fetch-site", "same-origin")
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            basic("una clave equivocada").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        basic("una clave equivocada").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // And the login that gives the API its bearer tokens is limited too.
    assert_eq!(
        login(&app, &name, &password).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

// ---- the `chaski` binary on a running server ----

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// `chaski` with `args` and `env`, standard input from `stdin`.
fn chaski_with(
    data: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut cmd = binary::chaski(data, args);
    cmd.env_remove("CHASKI_ADMIN_PASSWORD")
        .env_remove("CHASKI_ADMIN_NAME")
        .env_remove("CHASKI_TOKEN")
        .env_remove("CHASKI_SERVER")
        .env_remove("CHASKI_BIND");
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chaski");
    let mut input = child.stdin.take().unwrap();
    if let Some(stdin) = stdin {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

const ANA_PASSWORD: &str = "una clave larga de ana";

#[tokio::test]
async fn the_cli_on_a_running_server_says_how_to_do_the_same_and_does_it_with_server() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let added = binary::run(
        &data,
        &["user", "add", "ana", "--role", "admin"],
        Some(ANA_PASSWORD),
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    let (server, address, _) = binary::start_server(&data, &temp.path().join("dist"));
    let bind = address.trim_start_matches("http://").to_owned();

    // Offline commands name the page, `chaski admin --server` and curl; never the password.
    let refused = chaski_with(
        &data,
        &[
            "user",
            "add",
            "ines",
            "--role",
            "inspector",
            "--region",
            "loreto",
        ],
        &[("CHASKI_BIND", &bind), ("CHASKI_PASSWORD", INES_PASSWORD)],
        None,
    );
    let message = text(&refused.stderr);
    assert!(!refused.status.success());
    for words in [
        "Stop the server",
        &format!("{address}/office/admin"),
        &format!(
            "chaski admin --server {address} --as <admin> user add ines --role inspector \
             --region loreto"
        ),
        &format!("curl -X POST {address}/api/admin/users"),
        "\"role\":\"inspector\"",
        &format!("{address}/api/login"),
    ] {
        assert!(message.contains(words), "{words:?} not in {message}");
    }
    assert!(!message.contains(INES_PASSWORD), "{message}");
    let revoke = text(
        &chaski_with(
            &data,
            &["tokens", "revoke", "abc"],
            &[("CHASKI_BIND", &bind)],
            None,
        )
        .stderr,
    );
    assert!(
        revoke.contains(&format!(
            "curl -X POST {address}/api/admin/tokens/abc/revoke"
        )),
        "{revoke}"
    );

    // The same through the API: the admin's password and the new user's from the environment…
    let remote = |args: &[&str], env: &[(&str, &str)], stdin: Option<&str>| {
        let mut all = vec!["admin", "--server", address.as_str(), "--as", "ana"];
        all.extend_from_slice(args);
        chaski_with(&data, &all, env, stdin)
    };
    let both = [
        ("CHASKI_ADMIN_PASSWORD", ANA_PASSWORD),
        ("CHASKI_PASSWORD", INES_PASSWORD),
    ];
    let out = remote(
        &[
            "user",
            "add",
            "ines",
            "--role",
            "inspector",
            "--region",
            "loreto",
        ],
        &both,
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("added ines\tinspector\tloreto\tenabled"),
        "{}",
        text(&out.stdout)
    );
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{address}/api/login"))
        .json(&json!({"name": "ines", "password": INES_PASSWORD, "device": "t1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);

    // … or both from standard input, the admin's first.
    let out = remote(
        &[
            "--admin-password-stdin",
            "user",
            "add",
            "sara",
            "--role",
            "supervisor",
            "--region",
            "cusco",
            "--password-stdin",
        ],
        &[],
        Some(&format!("{ANA_PASSWORD}\nrio amazonas de noche\n")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = remote(&["user", "list"], &both, None);
    let list = text(&out.stdout);
    assert!(list.contains("sara\tsupervisor\tcusco\tenabled"), "{list}");
    assert!(list.contains("ana\tadmin\t-\tenabled"), "{list}");

    // The last-admin guard, through the API; and bad input is refused with the reason.
    let out = remote(&["user", "disable", "ana"], &both, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("last active administrator")
            && text(&out.stderr).contains("409"),
        "{}",
        text(&out.stderr)
    );
    let out = remote(&["user", "regions", "ines", "atlantis"], &both, None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a region"),
        "{}",
        text(&out.stderr)
    );
    let out = chaski_with(
        &data,
        &["admin", "--server", &address, "--as", "ana", "user", "list"],
        &[("CHASKI_ADMIN_PASSWORD", "not the right one at all")],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));

    // Tokens: ines's device is listed and revoked; the command's own logins are gone.
    let out = remote(&["tokens", "list"], &both, None);
    let tokens = text(&out.stdout);
    // Only this very command's login is live: the earlier ones logged out.
    assert_eq!(tokens.matches("chaski admin").count(), 1, "{tokens}");
    let id = tokens
        .lines()
        .find(|l| l.contains("\tines\tt1\t"))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no token of ines in {tokens}"))
        .to_owned();
    let out = remote(&["tokens", "revoke", &id], &both, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = remote(&["db", "create", "loreto"], &both, None);
    assert!(
        text(&out.stdout).contains("loreto\tcreated"),
        "{}",
        text(&out.stderr)
    );
    let out = remote(&["db", "create", "loreto"], &both, None);
    assert!(
        text(&out.stdout).contains("loreto\texists"),
        "{}",
        text(&out.stderr)
    );

    let out = remote(&["log", "--limit", "3"], &both, None);
    let log = text(&out.stdout);
    assert!(log.contains("\tana\tdb.create\tloreto\t"), "{log}");
    assert!(log.contains("\tana\ttoken.revoke\t"), "{log}");
    stop(server);

    // Offline, the command line keeps the last-admin guard and logs as the system user.
    let out = chaski_with(&data, &["user", "disable", "ana"], &[], None);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("last active administrator"));
    let out = chaski_with(&data, &["user", "role", "ana", "inspector"], &[], None);
    assert!(!out.status.success());
    let out = chaski_with(
        &data,
        &["user", "disable", "sara"],
        &[("USER", "operador")],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = text(&chaski_with(&data, &["log", "--limit", "1"], &[], None).stdout);
    assert!(
        log.contains("\tcli (operador)\tuser.disable\tsara\t"),
        "{log}"
    );
}

/// A few hundred mutated admin requests (fixed seed): whatever the method, path, credentials
/// or body, the answer is never a 5xx nor a dropped connection, a refusal is the API's JSON
/// error, and the admin keeps access.
#[tokio::test]
async fn odd_admin_requests_never_get_a_5xx() {
    let (app, admin) = app_with_admin().await;
    let inspector = app.token_for("ines", Role::Inspector, &["loreto"]).await;
    let mut state: u64 = 0x00AD_31A9_2026;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % n as u64) as usize
    };
    let words = [
        "ana", "ines", "nadie", "", "%2e%2e", "a%2Fb", "%ff", "Ana", "x", "loreto", "_users",
        "0123abcd", "%00",
    ];
    let bodies: Vec<Vec<u8>> = vec![
        b"{}".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"x\"".to_vec(),
        b"{\"name\":".to_vec(),
        b"\xff\xfe{}".to_vec(),
        b"{\"role\":null,\"regions\":null,\"disabled\":null}".to_vec(),
        b"{\"disabled\":\"yes\"}".to_vec(),
        b"{\"role\":\"admin\"}".to_vec(),
        b"{\"role\":\"ADMIN\",\"regions\":[1,2]}".to_vec(),
        b"{\"regions\":[\"loreto\",\"loreto\"]}".to_vec(),
        b"{\"name\":\"loreto\"}".to_vec(),
        b"{\"name\":[\"loreto\"]}".to_vec(),
        b"{\"password\":\"\"}".to_vec(),
        b"{\"password\":\"selva verde 2026 otra vez\"}".to_vec(),
        b"{\"name\":\"beto\",\"password\":\"selva verde 2026 beto\",\"role\":\"inspector\",\"regions\":[]}".to_vec(),
        b"{\"name\":\"beto\",\"password\":\"1\",\"role\":\"relay\",\"regions\":[\"x\"],\"extra\":1}".to_vec(),
        format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        format!("{{\"name\":\"{}\"}}", "n".repeat(15_000)).into_bytes(),
    ];
    let methods = [
        Method::GET,
        Method::POST,
        Method::PATCH,
        Method::PUT,
        Method::DELETE,
    ];
    for round in 0..300 {
        let word = words[next(words.len())];
        let (own, path) = match next(9) {
            0 => (Method::POST, "/api/admin/users".to_owned()),
            1 => (Method::PATCH, format!("/api/admin/users/{word}")),
            2 => (Method::POST, format!("/api/admin/users/{word}/password")),
            3 => (Method::GET, format!("/api/admin/tokens?user={word}")),
            4 => (Method::POST, format!("/api/admin/tokens/{word}/revoke")),
            5 => (Method::POST, "/api/admin/databases".to_owned()),
            6 => (Method::GET, format!("/api/admin/log?limit={word}")),
            7 => (Method::GET, format!("/api/admin/{word}")),
            _ => (Method::GET, "/api/admin/users?x=1".to_owned()),
        };
        // Mostly the route's own method, so that most requests reach a handler.
        let method = if next(4) == 0 {
            methods[next(methods.len())].clone()
        } else {
            own
        };
        let mut request = app.client.request(method.clone(), app.url(&path));
        request = match next(5) {
            0 | 1 => request.bearer_auth(&admin),
            2 => request.bearer_auth(&inspector),
            3 => request
                .header("cookie", "AuthSession=abc.def")
                .header("origin", app.address.as_str()),
            _ => request,
        };
        if next(3) > 0 {
            let content_type = [
                "application/json",
                "text/plain",
                "application/json; charset=utf-8",
            ];
            request = request
                .header("content-type", content_type[next(content_type.len())])
                .body(bodies[next(bodies.len())].clone());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {method} {path}: connection dropped: {e}"));
        let status = response.status();
        assert!(
            status.as_u16() < 500,
            "round {round}: {method} {path} answered {status}"
        );
        if status.is_client_error() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(
                body["error"].is_string() && body["reason"].is_string(),
                "round {round}: {method} {path} answered {status} without the JSON error: {body}"
            );
        }
    }
    assert_eq!(
        get_with_token(&app, "/api/admin/users", &admin).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_configured_cors_origin_may_send_the_admin_apis_patch() {
    let office = "https://office.example.org";
    let app = helpers::spawn_app_with(|config| config.cors_origins = vec![office.to_owned()]).await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/admin/users/ines"))
        .header("origin", office)
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("PATCH"), "{methods}");
}
