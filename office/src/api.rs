//! The office's calls to the server: the inbox, a case, writing an event, and a photo.
//! Everything goes through the inspector app's one `fetch` wrapper ([`chaski_client::api`]), so
//! a refusal carries the server's reason in the same way.

use chaski_client::api::{call, ApiError};
use serde::Deserialize;
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// The inbox's filters, as the server reads them from the query string.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InboxQuery {
    pub states: Vec<String>,
    pub sector: String,
    pub from: String,
    pub to: String,
    pub district: String,
    pub finding: String,
    pub indicators: Vec<String>,
    pub text: String,
    pub offset: usize,
}

/// Rows asked for at a time.
pub const PAGE: usize = 50;

impl InboxQuery {
    /// `state=…&sector=…&offset=0&limit=50`, each value URL-encoded.
    pub fn query_string(&self) -> String {
        let mut parts: Vec<(&str, &str)> = Vec::new();
        for s in &self.states {
            parts.push(("state", s));
        }
        for (key, value) in [
            ("sector", &self.sector),
            ("from", &self.from),
            ("to", &self.to),
            ("district", &self.district),
            ("finding", &self.finding),
        ] {
            if !value.is_empty() {
                parts.push((key, value));
            }
        }
        for i in &self.indicators {
            parts.push(("indicator", i));
        }
        let text = self.text.trim();
        if !text.is_empty() {
            parts.push(("q", text));
        }
        let mut out: Vec<String> = parts
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        out.push(format!("offset={}", self.offset));
        out.push(format!("limit={PAGE}"));
        out.join("&")
    }
}

/// One line of the inbox.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct InboxRow {
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub inspector: String,
    #[serde(default)]
    pub visit_date: String,
    #[serde(default)]
    pub sector: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub site_name: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub people_found: u64,
    #[serde(default)]
    pub waiting_days: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Facets {
    #[serde(default)]
    pub districts: Vec<String>,
}

/// A page of the inbox.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct InboxPage {
    pub total: usize,
    #[serde(default)]
    pub offset: usize,
    pub rows: Vec<InboxRow>,
    #[serde(default)]
    pub facets: Facets,
}

/// `GET /api/office/{db}/inbox?…`.
pub async fn inbox(token: &str, db: &str, query: &InboxQuery) -> Result<InboxPage, ApiError> {
    let url = format!("/api/office/{db}/inbox?{}", query.query_string());
    let text = call("GET", &url, Some(token), None).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::Server(e.to_string()))
}

/// A case as the server gives it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CaseAnswer {
    pub inspection: Value,
    #[serde(default)]
    pub events: Vec<Value>,
    #[serde(default)]
    pub changed_since_review: Vec<String>,
}

/// `GET /api/office/{db}/case/{id}`.
pub async fn case(token: &str, db: &str, id: &str) -> Result<CaseAnswer, ApiError> {
    let url = format!("/api/office/{db}/case/{}", encode(id));
    let text = call("GET", &url, Some(token), None).await?;
    serde_json::from_str(&text).map_err(|e| ApiError::Server(e.to_string()))
}

/// `PUT /db/{db}/{id}`: writes a new event document.
pub async fn put_doc(token: &str, db: &str, id: &str, body: &Value) -> Result<(), ApiError> {
    let url = format!("/db/{db}/{}", encode(id));
    call("PUT", &url, Some(token), Some(&body.to_string()))
        .await
        .map(|_| ())
}

/// A photo (`GET /db/{db}/{id}/{name}`) as a `data:` URL: an `<img>` cannot send the token.
pub async fn photo(token: &str, db: &str, id: &str, name: &str) -> Result<String, ApiError> {
    let url = format!("/db/{db}/{}/{}", encode(id), encode(name));
    let init = RequestInit::new();
    init.set_method("GET");
    let request = Request::new_with_str_and_init(&url, &init).map_err(|_| ApiError::Network)?;
    let _ = request
        .headers()
        .set("Authorization", &format!("Bearer {token}"));
    let response: Response = JsFuture::from(leptos::prelude::window().fetch_with_request(&request))
        .await
        .map_err(|_| ApiError::Network)?
        .unchecked_into();
    if !response.ok() {
        return Err(ApiError::Server(format!("HTTP {}", response.status())));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|_| ApiError::Network)?)
        .await
        .map_err(|_| ApiError::Network)?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    Ok(chaski_client::components::photos::data_url(&bytes))
}

/// URL-encodes one path segment or query value.
pub fn encode(value: &str) -> String {
    String::from(js_sys::encode_uri_component(value))
}
