//! [`HttpPeer`]: a [`Peer`] that speaks CouchDB's replication JSON over HTTP with reqwest, natively
//! (the caller brings a tokio runtime) and on wasm32 (through the browser's fetch).

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

/// A database on a CouchDB-compatible server (Chaski's, or Apache CouchDB), e.g.
/// `http://127.0.0.1:8080/madre-de-dios`.
#[derive(Clone, Debug)]
pub struct HttpPeer {
    base: String,
    auth: Auth,
    client: reqwest::Client,
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
            client: reqwest::Client::new(),
        })
    }

    /// The same peer with credentials.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// The same peer using `client` (to share a connection pool or set timeouts).
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// The database URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, path)
        };
        let builder = self
            .client
            .request(method, url)
            .header("Accept", "application/json");
        match &self.auth {
            Auth::None => builder,
            Auth::Basic { user, password } => builder.basic_auth(user, Some(password)),
            Auth::Bearer(token) => builder.bearer_auth(token),
        }
    }

    async fn send<T: DeserializeOwned>(&self, builder: reqwest::RequestBuilder) -> Result<T> {
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(transport)?;
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
        self.send(
            self.request(reqwest::Method::POST, path)
                .query(query)
                .json(body),
        )
        .await
    }
}

fn transport(e: reqwest::Error) -> Error {
    Error::Transport(e.to_string())
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

/// Percent-encodes one path segment (everything but RFC 3986's unreserved characters).
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
        self.send(self.request(reqwest::Method::GET, "")).await
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
                self.send(self.request(reqwest::Method::GET, "_changes").query(&query))
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
            .send::<serde_json::Value>(self.request(reqwest::Method::GET, &path))
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
            .send(
                self.request(reqwest::Method::PUT, &path)
                    .json(&doc.to_json()),
            )
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
