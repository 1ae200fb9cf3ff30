//! Accounts over HTTP: logging in, tokens, `/api/me`, CouchDB's `_session`, Basic auth, the
//! failed-login limit, and who may read and write which regional database.

use std::time::Duration;

use chaski_server::auth::Role;
use chaski_server::db::DbName;
use chaski_shared::domain::fixtures::inspection_json_in;
use chaski_shared::domain::Region;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{basic_auth, spawn_app, TestApp};

async fn post_login(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/login"))
        .json(&json!({"name": name, "password": password, "device": "tablet 07"}))
        .send()
        .await
        .unwrap()
}

async fn get_with(app: &TestApp, path: &str, authorization: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_login_gives_a_device_token_that_opens_api_me() {
    let app = spawn_app().await;
    let (name, password) = app
        .create_user("ana", Role::Inspector, &["madre-de-dios", "cusco"])
        .await;
    let response = post_login(&app, &name, &password).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["user"],
        json!({"name": "ana", "role": "inspector", "regions": ["cusco", "madre-de-dios"]})
    );
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let token = body["token"].as_str().unwrap();

    let me = get_with(&app, "/api/me", &format!("Bearer {token}")).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<Value>().await.unwrap(),
        json!({"name": "ana", "role": "inspector", "regions": ["cusco", "madre-de-dios"],
               "device": "tablet 07", "seal_keys": []})
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let app = spawn_app().await;
    let (name, _) = app.create_user("ana", Role::Inspector, &["loreto"]).await;
    let wrong = post_login(&app, &name, "not the password").await;
    let unknown = post_login(&app, "nadie", "not the password").await;
    for response in [&wrong, &unknown] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        // No Basic challenge: the app's own login form must not make a browser pop up its
        // password dialog.
        assert!(response.headers().get("www-authenticate").is_none());
    }
    let (wrong, unknown): (Value, Value) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"], "unauthorized");
}

#[tokio::test]
async fn a_login_without_json_gets_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
}

#[tokio::test]
async fn disabling_a_user_cuts_off_their_password_and_tokens_at_once() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Inspector, &["loreto"]).await;
    let token = app.login(&name, &password, "tablet").await;
    app.state.accounts.set_disabled(&name, true).await.unwrap();

    let me = get_with(&app, "/api/me", &format!("Bearer {token}")).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let body: Value = me.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("disabled"),
        "{body}"
    );
    assert_eq!(
        post_login(&app, &name, &password).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let basic = get_with(&app, "/api/me", &basic_auth(&name, &password)).await;
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

/// Status, `WWW-Authenticate` and body of an answer, to compare two answers whole.
async fn whole(response: reqwest::Response) -> (StatusCode, Option<String>, String) {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status(), challenge, response.text().await.unwrap())
}

#[tokio::test]
async fn a_disabled_account_answers_the_right_password_exactly_as_a_wrong_one() {
    let app = spawn_app().await;
    // One account per way in, so that the failed-login limit (5) never comes into play.
    for (way, user) in [("api", "ana"), ("basic", "beto"), ("session", "carla")] {
        let (name, password) = app.create_user(user, Role::Inspector, &["loreto"]).await;
        app.state.accounts.set_disabled(&name, true).await.unwrap();
        let attempt = |password: String| {
            let (app, name) = (&app, name.clone());
            async move {
                let response = match way {
                    "api" => post_login(app, &name, &password).await,
                    "basic" => get_with(app, "/db/_all_dbs", &basic_auth(&name, &password)).await,
                    _ => app
                        .client
                        .post(app.url("/db/_session"))
                        .json(&json!({"name": name, "password": password}))
                        .send()
                        .await
                        .unwrap(),
                };
                whole(response).await
            }
        };
        let right = attempt(password.clone()).await;
        let wrong = attempt(format!("{password}-wrong")).await;
        assert_eq!(right.0, StatusCode::UNAUTHORIZED, "{way}: {}", right.2);
        assert_eq!(right, wrong, "{way}");
        assert!(!right.2.contains("disabled"), "{way}: {}", right.2);
    }
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    app.create_user("ana", Role::Inspector, &["loreto"]).await;
    let expired = app
        .state
        .accounts
        .issue_token_with_ttl("ana", "tablet", Duration::ZERO)
        .await
        .unwrap();
    let me = get_with(&app, "/api/me", &format!("Bearer {}", expired.token)).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert!(me.headers().get("www-authenticate").is_none());
    let garbage = get_with(&app, "/api/me", "Bearer not-a-token").await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_device_is_cut_off_at_once_and_only_its_owner_or_an_admin_may_revoke() {
    let app = spawn_app().await;
    let (ana, ana_pw) = app.create_user("ana", Role::Inspector, &["loreto"]).await;
    let (beto, beto_pw) = app.create_user("beto", Role::Inspector, &["loreto"]).await;
    let (admin, admin_pw) = app.create_user("jefa", Role::Admin, &[]).await;
    let lost = app.login(&ana, &ana_pw, "lost tablet").await;
    let kept = app.login(&ana, &ana_pw, "phone").await;
    let beto_token = app.login(&beto, &beto_pw, "tablet").await;
    let admin_token = app.login(&admin, &admin_pw, "office").await;

    let list = get_with(&app, "/api/tokens", &format!("Bearer {kept}")).await;
    let tokens: Value = list.json().await.unwrap();
    let devices: Vec<&str> = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices.len(), 2, "{tokens}");
    assert!(devices.contains(&"lost tablet") && devices.contains(&"phone"));
    let all = get_with(&app, "/api/tokens", &format!("Bearer {admin_token}")).await;
    assert_eq!(
        all.json::<Value>().await.unwrap()["tokens"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let other = get_with(
        &app,
        "/api/tokens?user=ana",
        &format!("Bearer {beto_token}"),
    )
    .await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);

    let lost_id = lost.split('.').next().unwrap();
    let by_beto = app
        .client
        .delete(app.url(&format!("/api/tokens/{lost_id}")))
        .bearer_auth(&beto_token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_beto.status(), StatusCode::NOT_FOUND);
    let by_owner = app
        .client
        .delete(app.url(&format!("/api/tokens/{lost_id}")))
        .bearer_auth(&kept)
        .send()
        .await
        .unwrap();
    assert_eq!(by_owner.status(), StatusCode::OK);
    let me = get_with(&app, "/api/me", &format!("Bearer {lost}")).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let still = get_with(&app, "/api/me", &format!("Bearer {kept}")).await;
    assert_eq!(still.status(), StatusCode::OK);

    let beto_id = beto_token.split('.').next().unwrap();
    let by_admin = app
        .client
        .delete(app.url(&format!("/api/tokens/{beto_id}")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_admin.status(), StatusCode::OK);
    let me = get_with(&app, "/api/me", &format!("Bearer {beto_token}")).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_revokes_the_token_used() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Supervisor, &["loreto"]).await;
    let token = app.login(&name, &password, "tablet").await;
    let out = app
        .client
        .post(app.url("/api/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let me = get_with(&app, "/api/me", &format!("Bearer {token}")).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn basic_auth_works_and_anonymous_requests_are_challenged() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Admin, &[]).await;
    let me = get_with(&app, "/api/me", &basic_auth(&name, &password)).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["device"], Value::Null);

    let anonymous = app.get("/api/me").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic realm=\"chaski\""
    );
    let bad = get_with(&app, "/api/me", &basic_auth(&name, "wrong password")).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.headers().get("www-authenticate").is_some());
    let malformed = get_with(&app, "/api/me", "Basic !!!").await;
    assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn couchdb_session_logs_in_with_a_cookie_and_out_again() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Admin, &[]).await;

    let anonymous: Value = app.get("/db/_session").await.json().await.unwrap();
    assert_eq!(anonymous["ok"], true);
    assert_eq!(anonymous["userCtx"], json!({"name": null, "roles": []}));

    let bad = app
        .client
        .post(app.url("/db/_session"))
        .json(&json!({"name": name, "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);

    let login = app
        .client
        .post(app.url("/db/_session"))
        .form(&[("name", name.as_str()), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("AuthSession=") && cookie.contains("HttpOnly"));
    assert_eq!(
        login.json::<Value>().await.unwrap(),
        json!({"ok": true, "name": "ana", "roles": ["admin", "_admin"]})
    );
    let session = cookie.split(';').next().unwrap().to_owned();

    let who = app
        .client
        .get(app.url("/db/_session"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let who: Value = who.json().await.unwrap();
    assert_eq!(who["userCtx"]["name"], "ana");

    let json_login = app
        .client
        .post(app.url("/db/_session"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_login.status(), StatusCode::OK);

    let out = app
        .client
        .delete(app.url("/db/_session"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = app
        .client
        .get(app.url("/api/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

async fn session_cookie(
    app: &TestApp,
    name: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut request = app
        .client
        .post(app.url("/db/_session"))
        .json(&json!({"name": name, "password": password}));
    for (header, value) in extra {
        request = request.header(*header, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_bearer_token_is_no_cookie_and_a_session_cookie_is_no_bearer_token() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Inspector, &["loreto"]).await;
    let token = app.login(&name, &password, "tablet").await;
    let cookie = session_cookie(&app, &name, &password, &[]).await;
    let session = cookie.split(';').next().unwrap().to_owned();
    let session_value = session.strip_prefix("AuthSession=").unwrap().to_owned();

    // Each works the way it was issued...
    assert_eq!(
        get_with(&app, "/api/me", &format!("Bearer {token}"))
            .await
            .status(),
        200
    );
    let with_cookie = |value: String| {
        app.client
            .get(app.url("/db/_all_dbs"))
            .header("cookie", value)
            .send()
    };
    assert_eq!(with_cookie(session.clone()).await.unwrap().status(), 200);
    // ...and never the other way.
    assert_eq!(
        with_cookie(format!("AuthSession={token}"))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with(&app, "/db/_all_dbs", &format!("Bearer {session_value}"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_session_cookie_is_secure_over_https_and_only_then() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Inspector, &["loreto"]).await;
    let plain = session_cookie(&app, &name, &password, &[]).await;
    assert!(
        plain.contains("HttpOnly") && plain.contains("SameSite=Lax"),
        "{plain}"
    );
    assert!(!plain.contains("Secure"), "{plain}");
    // Anyone can write X-Forwarded-Proto: it is believed only from a configured proxy.
    let forged = session_cookie(&app, &name, &password, &[("x-forwarded-proto", "https")]).await;
    assert!(!forged.contains("Secure"), "{forged}");
    let from_https_page = session_cookie(
        &app,
        &name,
        &password,
        &[("origin", "https://chaski.example")],
    )
    .await;
    assert!(from_https_page.contains("; Secure"), "{from_https_page}");

    let proxied = crate::helpers::spawn_app_with(|c| c.behind_https_proxy = true).await;
    let (name, password) = proxied
        .create_user("ana", Role::Inspector, &["loreto"])
        .await;
    let cookie = session_cookie(&proxied, &name, &password, &[]).await;
    assert!(
        cookie.contains("; Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

#[tokio::test]
async fn five_failed_logins_block_the_account_even_for_the_right_password() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Inspector, &["loreto"]).await;
    for _ in 0..4 {
        assert_eq!(
            post_login(&app, &name, "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Basic-auth failures count too.
    let basic = get_with(&app, "/api/me", &basic_auth(&name, "wrong password")).await;
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    let blocked = post_login(&app, &name, &password).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    assert!(body["reason"].as_str().unwrap().contains("Try again"));
    let basic = get_with(&app, "/api/me", &basic_auth(&name, &password)).await;
    assert_eq!(basic.status(), StatusCode::TOO_MANY_REQUESTS);

    // Another account is not blocked.
    let (beto, beto_pw) = app.create_user("beto", Role::Inspector, &["loreto"]).await;
    assert_eq!(
        post_login(&app, &beto, &beto_pw).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn twenty_failures_from_one_address_block_it_for_every_account() {
    let app = spawn_app().await;
    let (name, password) = app.create_user("ana", Role::Inspector, &["loreto"]).await;
    for i in 0..20 {
        let response = post_login(&app, &format!("guess{i}"), "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = post_login(&app, &name, &password).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = blocked.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("address"),
        "{body}"
    );
}

/// Role × own region / other region × read / write, and anonymous, against the CouchDB API.
#[tokio::test]
async fn the_authorization_matrix_holds_on_the_couchdb_api() {
    let app = spawn_app().await;
    for db in ["madre-de-dios", "loreto"] {
        app.state
            .databases
            .create(&DbName::parse(db).unwrap())
            .await
            .unwrap();
    }
    let mut users = Vec::new();
    for (name, role) in [
        ("insp", Role::Inspector),
        ("sup", Role::Supervisor),
        ("admin", Role::Admin),
    ] {
        let regions: &[&str] = if role == Role::Admin {
            &[]
        } else {
            &["madre-de-dios"]
        };
        let (name, password) = app.create_user(name, role, regions).await;
        users.push((role, Some(basic_auth(&name, &password))));
    }
    users.push((Role::Inspector, None)); // anonymous

    let mut n: u64 = 0;
    for (role, auth) in &users {
        for db in ["madre-de-dios", "loreto"] {
            let own = db == "madre-de-dios";
            let expected = match (auth, role) {
                (None, _) => StatusCode::UNAUTHORIZED,
                (Some(_), Role::Admin) => StatusCode::OK,
                (Some(_), _) if own => StatusCode::OK,
                _ => StatusCode::FORBIDDEN,
            };
            let mut read = app.client.get(app.url(&format!("/db/{db}/_all_docs")));
            n += 1;
            let mut write = app
                .client
                .post(app.url(&format!("/db/{db}/_bulk_docs")))
                .json(&json!({"docs": [inspection_json_in(n, Region::from_db_name(db).unwrap())]}));
            if let Some(auth) = auth {
                read = read.header("authorization", auth);
                write = write.header("authorization", auth);
            }
            let read = read.send().await.unwrap();
            assert_eq!(
                read.status(),
                expected,
                "read {db} as {role:?} {}",
                auth.is_some()
            );
            let write = write.send().await.unwrap();
            let write_expected = if expected == StatusCode::OK {
                StatusCode::CREATED
            } else {
                expected
            };
            let status = write.status();
            let body: Value = write.json().await.unwrap();
            assert_eq!(status, write_expected, "write {db} as {role:?}: {body}");
            if status == StatusCode::CREATED {
                // A valid inspection of the database's region: written, not rejected.
                assert_eq!(body[0]["ok"], true, "write {db} as {role:?}: {body}");
            }
            if expected == StatusCode::FORBIDDEN {
                assert_eq!(body["error"], "forbidden");
                assert!(body["reason"].as_str().unwrap().contains(db), "{body}");
            }
            if expected == StatusCode::UNAUTHORIZED {
                assert_eq!(body["error"], "unauthorized");
            }
        }
    }
}
