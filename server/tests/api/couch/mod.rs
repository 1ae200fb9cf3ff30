//! CouchDB API tests: databases, documents, the replication endpoints, attachments, limits,
//! the shared replicator against the running server, and the domain rules on region databases.

mod attachments;
mod changes;
mod compat;
mod databases;
mod documents;
mod leaves;
mod limits;
mod replication;
mod replicator;
mod validation;

use chaski_server::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// A test server with an admin and a token, speaking to `/db`.
pub struct Couch {
    pub app: TestApp,
    pub token: String,
}

/// The database the protocol tests use: created by the admin and not a region's, so that its
/// documents need not be inspections (region databases validate every document; see
/// `validation.rs`).
pub const DB: &str = "protocol-test";

impl Couch {
    /// A server with an admin and the database [`DB`].
    pub async fn start() -> Couch {
        Self::with(spawn_app().await).await
    }

    pub async fn with(app: TestApp) -> Couch {
        let token = app.token_for("admin", Role::Admin, &[]).await;
        let couch = Couch { app, token };
        couch.create_db(DB).await;
        couch
    }

    /// Creates database `db` as the admin.
    pub async fn create_db(&self, db: &str) {
        let (status, body) = self.send(Method::PUT, &format!("/db/{db}"), None).await;
        assert_eq!(status, 201, "{body}");
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token)
    }

    /// Sends JSON (when given) and reads JSON back.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = serde_json::from_str(text.trim()).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates a document in [`DB`] and returns its revision.
    pub async fn create(&self, id: &str, body: Value) -> String {
        let (status, answer) = self.put(&format!("/db/{DB}/{id}"), body).await;
        assert_eq!(status, 201, "{answer}");
        answer["rev"].as_str().unwrap().to_owned()
    }
}

/// Asserts a CouchDB error answer.
#[track_caller]
pub fn assert_error(answer: &(StatusCode, Value), status: u16, error: &str) {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.1);
    assert_eq!(answer.1["error"], error, "{}", answer.1);
    assert!(
        answer.1["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "a reason: {}",
        answer.1
    );
}
