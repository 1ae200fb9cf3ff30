//! The one module that talks to the server outside sync: sign in, who am I, sign out, and the
//! app's own error reports.
//!
//! Records never go through here: the sync loop moves them with the CouchDB protocol. This uses
//! the browser's `fetch` directly (no HTTP crate) because three JSON calls do not justify the
//! bytes of a client library on a 3G link.

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// Who is signed in, as the server describes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub role: String,
    /// Database names of the regions this user works in (`madre-de-dios`).
    #[serde(default)]
    pub regions: Vec<String>,
    /// The current sealing key of each region the user works in (`GET /api/me`), kept with the
    /// session so that the tablet seals identities offline (public keys are not secret).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seal_keys: Vec<SealKey>,
}

/// A region's current public key for sealed identities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealKey {
    pub region: String,
    pub key_id: String,
    pub public_key_b64: String,
}

/// The server's answer to a successful sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LoginAnswer {
    pub token: String,
    #[serde(default)]
    pub expires_at: Option<String>,
    pub user: Profile,
}

/// Why a call failed, in the terms the sign-in page explains to the inspector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// No answer at all: no network, or the server is down.
    Network,
    /// Wrong name or password, or a revoked/expired token (401).
    Unauthorized,
    /// Too many attempts (429).
    TooManyAttempts,
    /// Any other refusal, with the server's reason (English, from the server).
    Server(String),
}

#[derive(Serialize)]
struct LoginRequest<'a> {
    name: &'a str,
    password: &'a str,
    device: &'a str,
}

/// `POST /api/login`.
pub async fn login(name: &str, password: &str, device: &str) -> Result<LoginAnswer, ApiError> {
    let body = serde_json::to_string(&LoginRequest {
        name,
        password,
        device,
    })
    .map_err(|e| ApiError::Server(e.to_string()))?;
    let text = call("POST", "/api/login", None, Some(&body)).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::Server(e.to_string()))
}

/// `GET /api/me`: checks that a stored token is still valid.
pub async fn me(token: &str) -> Result<Profile, ApiError> {
    let text = call("GET", "/api/me", Some(token), None).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::Server(e.to_string()))
}

/// `POST /api/logout`: revokes this device's token on the server.
pub async fn logout(token: &str) -> Result<(), ApiError> {
    call("POST", "/api/logout", Some(token), Some("{}"))
        .await
        .map(|_| ())
}

/// `POST` of a JSON body with a token, to any URL (the client-error reports).
pub async fn post_json(url: &str, token: &str, body: &str) -> Result<String, ApiError> {
    call("POST", url, Some(token), Some(body)).await
}

/// Any call to the server with an optional bearer token and JSON body: the body of a 2xx
/// answer, else the error in the terms the pages explain (the office app's calls too).
pub async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<String, ApiError> {
    // No answer at all is "no network" to the pages, whatever the browser's reason.
    let (status, text) = fetch_text(method, url, token, body)
        .await
        .map_err(|_| ApiError::Network)?;
    match status {
        200..=299 => Ok(text),
        _ => Err(refusal(status, &text)),
    }
}

/// A refused answer (any status but 2xx) in the pages' terms: what [`call`] answers, for the
/// calls that read the status or the body themselves (the office's too).
pub fn refusal(status: u16, text: &str) -> ApiError {
    match status {
        401 => ApiError::Unauthorized,
        429 => ApiError::TooManyAttempts,
        // The service worker answers 503 (or the fetch fails) when there is no network.
        0 | 502..=504 => ApiError::Network,
        _ => ApiError::Server(reason_of(text)),
    }
}

/// One request: the answer's status and body text, whatever the status; `Err` with the
/// browser's reason (e.g. `Failed to fetch`) when no answer came at all.
pub async fn fetch_text(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(|e| js_reason(&e))?;
    let headers = request.headers();
    let _ = headers.set("Accept", "application/json");
    if body.is_some() {
        let _ = headers.set("Content-Type", "application/json");
    }
    if let Some(token) = token {
        let _ = headers.set("Authorization", &format!("Bearer {token}"));
    }
    let response: Response = JsFuture::from(leptos::prelude::window().fetch_with_request(&request))
        .await
        .map_err(|e| js_reason(&e))?
        .unchecked_into();
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok((response.status(), text))
}

/// What a JavaScript exception says: an `Error`'s message, a thrown string, or else the
/// browser's own description of the value.
pub fn js_reason(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

/// The `reason` of a CouchDB-style error body, or the body itself.
pub fn reason_of(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_answer_parses_the_servers_json() {
        let answer: LoginAnswer = serde_json::from_str(
            r#"{"token":"t","token_id":"x","expires_at":"2027-01-01T00:00:00Z",
                "user":{"name":"ana","role":"inspector","regions":["madre-de-dios"]}}"#,
        )
        .unwrap();
        assert_eq!(answer.user.regions, vec!["madre-de-dios".to_string()]);
        assert!(answer.user.seal_keys.is_empty());
    }

    #[test]
    fn me_brings_each_regions_sealing_key() {
        let me: Profile = serde_json::from_str(
            r#"{"name":"ana","role":"inspector","regions":["loreto"],
                "seal_keys":[{"region":"loreto","key_id":"loreto-0123456789abcdef",
                              "public_key_b64":"AAAA"}]}"#,
        )
        .unwrap();
        assert_eq!(me.seal_keys[0].key_id, "loreto-0123456789abcdef");
    }

    #[test]
    fn reason_is_taken_from_a_couch_error() {
        assert_eq!(
            reason_of(r#"{"error":"bad_request","reason":"Send JSON"}"#),
            "Send JSON"
        );
        assert_eq!(reason_of("plain"), "plain");
    }
}
