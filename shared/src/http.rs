//! [`HttpPeer`]: a [`Peer`] that speaks CouchDB's replication JSON over HTTP: with reqwest natively
//! (the caller brings a tokio runtime), and with the browser's `fetch` on wasm32.
//!
//! The browser gets its own small transport because reqwest on wasm32 brings `url` and `idna`
//! (Unicode tables) and more: about a third of the app's download, for what `fetch` already
//! does. Both transports take the same [`Request`] (method, URL with an encoded query, JSON
//! body) and give back the status and the body's text, so the endpoints and the error decoding
//! are one code for both targets.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::doc::{validate_local_id, Document, LocalDoc, LOCAL_PREFIX};
use crate::error::{Error, Result};
use crate::peer::Peer;
use crate::store::{ChangesStyle, DocResult, RevsDiff, RevsDiffRequest};
use crate::wire::{
    BulkDocsRequest, BulkGetRef, BulkGetRequest, BulkGetResponse, BulkGetResult, ChangesRequest,
    ChangesResponse, DbInfoResponse, DocIdsFilter, EnsureFullCommitResponse, ErrorBody,
    PutResponse,
};

/// How an [`HttpPeer`] authenticates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (a cookie the browser already holds still goes with each fetch).
    #[default]
    None,
    /// HTTP Basic.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl Auth {
    /// The `Authorization` header's value, if any.
    fn header(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                crate::b64::encode(format!("{user}:{password}"))
            )),
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
        }
    }
}

/// A database on a CouchDB-compatible server (Chaski's, or Apache CouchDB), e.g.
/// `http://127.0.0.1:8080/madre-de-dios`.
#[derive(Clone, Debug)]
pub struct HttpPeer {
    base: String,
    auth: Auth,
    #[cfg(not(target_arch = "wasm32"))]
    client: reqwest::Client,
}

/// The HTTP methods the replication endpoints use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    #[cfg(target_arch = "wasm32")]
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// One request, whichever transport sends it.
#[derive(Debug)]
struct Request {
    method: Method,
    /// The full URL, query included (already percent-encoded).
    url: String,
    /// `Authorization`, if the peer has credentials.
    authorization: Option<String>,
    /// The JSON body, or why it could not be made.
    body: Result<Option<String>>,
}

impl Request {
    /// Appends `query` to the URL (nothing when it is empty), every key and value encoded.
    fn query(mut self, query: &[(&str, String)]) -> Self {
        for (i, (key, value)) in query.iter().enumerate() {
            self.url.push(if i == 0 { '?' } else { '&' });
            self.url.push_str(&encode_segment(key));
            self.url.push('=');
            self.url.push_str(&encode_segment(value));
        }
        self
    }

    /// Sends `body` as JSON.
    fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.body = serde_json::to_string(body)
            .map(Some)
            .map_err(|e| Error::BadRequest(format!("cannot encode the request body: {e}")));
        self
    }
}

/// Idle pooled connections are dropped after this long: well under a Chaski server's default
/// header timeout (10 s), after which it closes an idle kept-alive connection. A pooled
/// connection the server has closed fails the next request with "connection closed before
/// message completed" (seen with 100 tablets at once in `examples/load-tablets.rs`).
#[cfg(not(target_arch = "wasm32"))]
pub const POOL_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(not(target_arch = "wasm32"))]
fn default_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build()
        // Only fails when the TLS backend cannot start, which `Client::new()` (the default)
        // would meet too, and panic on: say why rather than hide the timeout's loss.
        .expect("the HTTP client's TLS backend could not be initialised")
}

impl HttpPeer {
    /// A peer for the database at `base_url` (http or https, no trailing slash needed).
    pub fn new(base_url: impl Into<String>) -> Result<Self> {
        let base = base_url.into().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::BadRequest(format!(
                "not an http(s) database URL: {base}"
            )));
        }
        Ok(HttpPeer {
            base,
            auth: Auth::None,
            #[cfg(not(target_arch = "wasm32"))]
            client: default_client(),
        })
    }

    /// The same peer with credentials.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// The same peer using `client` (to share a connection pool or set timeouts). Native only:
    /// in the browser, `fetch` is the client.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// The database URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> Request {
        let url = if path.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, path)
        };
        Request {
            method,
            url,
            authorization: self.auth.header(),
            body: Ok(None),
        }
    }

    async fn send<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let (status, text) = self.exchange(request).await?;
        if !(200..300).contains(&status) {
            return Err(decode_error(status, &text));
        }
        serde_json::from_str(&text)
            .map_err(|e| Error::Transport(format!("unexpected answer from {}: {e}", self.base)))
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T> {
        self.send(self.request(Method::Post, path).query(query).json(body))
            .await
    }

    /// Sends `request` with reqwest; the status and the body's text.
    #[cfg(not(target_arch = "wasm32"))]
    async fn exchange(&self, request: Request) -> Result<(u16, String)> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        };
        let mut builder = self
            .client
            .request(method, request.url)
            .header("Accept", "application/json");
        if let Some(value) = request.authorization {
            let mut value = reqwest::header::HeaderValue::try_from(value)
                .map_err(|e| Error::BadRequest(format!("unusable credentials: {e}")))?;
            value.set_sensitive(true);
            builder = builder.header(reqwest::header::AUTHORIZATION, value);
        }
        if let Some(body) = request.body? {
            builder = builder
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(transport)?;
        Ok((status, text))
    }

    /// Sends `request` with the browser's `fetch`; the status and the body's text.
    #[cfg(target_arch = "wasm32")]
    async fn exchange(&self, request: Request) -> Result<(u16, String)> {
        use wasm_bindgen::JsCast as _;
        use wasm_bindgen_futures::JsFuture;

        let init = web_sys::RequestInit::new();
        init.set_method(request.method.as_str());
        let headers = web_sys::Headers::new().map_err(js_transport)?;
        headers
            .set("Accept", "application/json")
            .map_err(js_transport)?;
        if let Some(value) = &request.authorization {
            headers.set("Authorization", value).map_err(js_transport)?;
        }
        if let Some(body) = request.body? {
            headers
                .set("Content-Type", "application/json")
                .map_err(js_transport)?;
            init.set_body(&wasm_bindgen::JsValue::from_str(&body));
        }
        init.set_headers(&headers);
        let fetch_request =
            web_sys::Request::new_with_str_and_init(&request.url, &init).map_err(js_transport)?;
        let response: web_sys::Response = JsFuture::from(fetch(&fetch_request))
            .await
            .map_err(js_transport)?
            .dyn_into()
            .map_err(js_transport)?;
        let text = JsFuture::from(response.text().map_err(js_transport)?)
            .await
            .map_err(js_transport)?
            .as_string()
            .unwrap_or_default();
        Ok((response.status(), text))
    }
}

// The global `fetch`, so the peer works in a window and in a worker alike.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch(request: &web_sys::Request) -> js_sys::Promise;
}

/// A reqwest error with its causes ("error sending request …: … invalid peer certificate:
/// UnknownIssuer"): reqwest's own message alone does not say why.
#[cfg(not(target_arch = "wasm32"))]
pub fn transport(e: reqwest::Error) -> Error {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    Error::Transport(text)
}

/// A JavaScript exception (a failed fetch is a `TypeError`) as a transport error.
#[cfg(target_arch = "wasm32")]
fn js_transport(e: wasm_bindgen::JsValue) -> Error {
    use wasm_bindgen::JsCast as _;
    let message = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "fetch failed".to_string());
    Error::Transport(message)
}

/// A CouchDB error answer as an [`Error`]; a body that is not CouchDB's keeps the status.
fn decode_error(status: u16, body: &str) -> Error {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) => Error::from_couch(Some(status), &e.error, e.reason),
        Err(_) => match status {
            401 => Error::Unauthorized(body.to_string()),
            403 => Error::Forbidden(body.to_string()),
            404 => Error::missing(),
            _ => Error::Other {
                status,
                error: "http_error".into(),
                reason: body.chars().take(200).collect(),
            },
        },
    }
}

/// Percent-encodes one path segment or query key or value (everything but RFC 3986's unreserved
/// characters).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `_local/<name>` with the name encoded, as a path under the database.
fn local_path(id: &str) -> Result<String> {
    validate_local_id(id)?;
    Ok(format!(
        "{LOCAL_PREFIX}{}",
        encode_segment(&id[LOCAL_PREFIX.len()..])
    ))
}

/// The query of a `_changes` request.
fn changes_query(request: &ChangesRequest) -> Vec<(&'static str, String)> {
    let mut query = vec![("since", request.since.to_string())];
    if let Some(limit) = request.limit {
        query.push(("limit", limit.to_string()));
    }
    if request.style == ChangesStyle::AllDocs {
        query.push(("style", "all_docs".into()));
    }
    if request.doc_ids.is_some() {
        query.push(("filter", "_doc_ids".into()));
    }
    query
}

/// Strips `user:password@` from a URL so that credentials never enter a replication id.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

impl Peer for HttpPeer {
    fn peer_id(&self) -> String {
        without_credentials(&self.base)
    }

    async fn info(&self) -> Result<DbInfoResponse> {
        self.send(self.request(Method::Get, "")).await
    }

    async fn changes(&self, request: &ChangesRequest) -> Result<ChangesResponse> {
        let query = changes_query(request);
        match &request.doc_ids {
            Some(ids) => {
                let body = DocIdsFilter {
                    doc_ids: ids.clone(),
                };
                self.post("_changes", &query, &body).await
            }
            None => {
                self.send(self.request(Method::Get, "_changes").query(&query))
                    .await
            }
        }
    }

    async fn revs_diff(&self, request: &RevsDiffRequest) -> Result<RevsDiff> {
        self.post("_revs_diff", &[], request).await
    }

    async fn bulk_get(&self, docs: &[BulkGetRef]) -> Result<Vec<BulkGetResult>> {
        let query = [
            ("revs", "true".to_string()),
            ("attachments", "true".to_string()),
            ("latest", "true".to_string()),
        ];
        let body = BulkGetRequest {
            docs: docs.to_vec(),
        };
        let answer: BulkGetResponse = self.post("_bulk_get", &query, &body).await?;
        Ok(answer.results)
    }

    async fn bulk_docs(&self, docs: Vec<Document>) -> Result<Vec<DocResult>> {
        let body = BulkDocsRequest {
            docs,
            new_edits: false,
        };
        self.post("_bulk_docs", &[], &body).await
    }

    async fn get_local(&self, id: &str) -> Result<Option<LocalDoc>> {
        let path = local_path(id)?;
        match self
            .send::<serde_json::Value>(self.request(Method::Get, &path))
            .await
        {
            Ok(value) => LocalDoc::from_json(value).map(Some),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_local(&self, doc: LocalDoc) -> Result<String> {
        let path = local_path(&doc.id)?;
        let answer: PutResponse = self
            .send(self.request(Method::Put, &path).json(&doc.to_json()))
            .await?;
        Ok(answer.rev)
    }

    async fn ensure_full_commit(&self) -> Result<String> {
        let answer: EnsureFullCommitResponse = self
            .post("_ensure_full_commit", &[], &serde_json::json!({}))
            .await?;
        Ok(answer.instance_start_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Seq;

    #[test]
    fn couchdb_error_bodies_keep_their_meaning() {
        assert_eq!(
            decode_error(
                409,
                r#"{"error":"conflict","reason":"Document update conflict."}"#
            ),
            Error::conflict()
        );
        assert_eq!(
            decode_error(401, "nope"),
            Error::Unauthorized("nope".into())
        );
        let e = decode_error(503, "<html>bad gateway</html>");
        assert_eq!(e.status(), 503);
        assert!(e.is_transient());
    }

    #[test]
    fn local_ids_are_percent_encoded_in_paths() {
        assert_eq!(
            local_path("_local/abc123").ok(),
            Some("_local/abc123".to_string())
        );
        assert_eq!(
            local_path("_local/a b/c").ok(),
            Some("_local/a%20b%2Fc".to_string())
        );
        assert!(local_path("checkpoint").is_err());
    }

    #[test]
    fn query_keys_and_values_are_percent_encoded() {
        let peer = HttpPeer::new("http://127.0.0.1:8080/md").expect("url");
        let request = peer.request(Method::Get, "_changes").query(&[
            ("since", "12-g1A+/=".to_string()),
            ("a b", "ñ&?#%".to_string()),
        ]);
        assert_eq!(
            request.url,
            "http://127.0.0.1:8080/md/_changes?since=12-g1A%2B%2F%3D&a%20b=%C3%B1%26%3F%23%25"
        );
        let bare = peer.request(Method::Get, "").query(&[]);
        assert_eq!(bare.url, "http://127.0.0.1:8080/md");
    }

    #[test]
    fn credentials_become_an_authorization_header() {
        let basic = Auth::Basic {
            user: "Aladdin".into(),
            password: "open sesame".into(),
        };
        assert_eq!(
            basic.header().as_deref(),
            Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        );
        assert_eq!(
            Auth::Bearer("t0k".into()).header().as_deref(),
            Some("Bearer t0k")
        );
        assert_eq!(Auth::None.header(), None);
    }

    #[test]
    fn changes_queries_carry_since_limit_style_and_the_doc_ids_filter() {
        let request = ChangesRequest {
            since: Seq::Text("12-g1AAA".into()),
            limit: Some(100),
            style: ChangesStyle::AllDocs,
            doc_ids: Some(vec!["a".into()]),
        };
        assert_eq!(
            changes_query(&request),
            vec![
                ("since", "12-g1AAA".to_string()),
                ("limit", "100".to_string()),
                ("style", "all_docs".to_string()),
                ("filter", "_doc_ids".to_string()),
            ]
        );
    }

    #[test]
    fn replication_ids_never_include_credentials() {
        assert_eq!(
            without_credentials("https://ana:secret@chaski.example/md"),
            "https://chaski.example/md"
        );
        let peer = HttpPeer::new("http://127.0.0.1:8080/madre-de-dios/").expect("url");
        assert_eq!(peer.peer_id(), "http://127.0.0.1:8080/madre-de-dios");
        assert!(HttpPeer::new("ftp://x/db").is_err());
    }
}
