//! Turning CouchDB requests into typed values at the edge: the JSON body extractor (415 for a
//! body that is not JSON, 413 over the size limit, 400 with a reason for malformed JSON — never
//! axum's plain-text rejections), the raw body of attachments, and the query parameters.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::{CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use chaski_shared::RevId;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::startup::AppState;

/// Reads a whole body, refusing more than `limit` bytes with a 413 that says what the limit is.
pub async fn read_body(body: Body, limit: usize, what: &str) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        // http-body-util's `LengthLimitError` is not re-exported by axum; it is recognised by
        // its message anywhere in the source chain.
        let mut too_large = false;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(e) = source {
            too_large |= e.to_string().contains("length limit exceeded");
            source = e.source();
        }
        if too_large {
            ApiError::TooLarge(format!(
                "The {what} is larger than this server accepts ({limit} bytes). Send fewer \
                 documents per request or a smaller attachment."
            ))
        } else {
            ApiError::BadRequest(format!("The request body could not be read: {err}"))
        }
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

/// A JSON request body as a [`Value`]; handlers then parse it into domain types.
pub struct CouchJson(pub Value);

impl FromRequest<AppState> for CouchJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "Content-Type must be application/json".into(),
            ));
        }
        let bytes = read_body(req.into_body(), state.limits.max_request_bytes, "request").await?;
        parse_json(&bytes).map(CouchJson)
    }
}

/// A JSON body that may be absent (a `POST` with no body, as some clients send to
/// `_changes`): `None` when the body is empty.
pub struct OptionalCouchJson(pub Option<Value>);

impl FromRequest<AppState> for OptionalCouchJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = read_body(req.into_body(), state.limits.max_request_bytes, "request").await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalCouchJson(None));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "Content-Type must be application/json".into(),
            ));
        }
        parse_json(&bytes).map(|v| OptionalCouchJson(Some(v)))
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("The request body is not valid JSON: {e}")))
}

/// Parses a JSON value into `T`, with `what` naming the part of the request in the reason.
pub fn from_value<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest(format!("{what}: {e}")))
}

/// The query string, decoded once.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::BadRequest(format!("The query string is malformed: {e}")))?;
        Ok(Params(pairs.into_iter().collect()))
    }
}

impl Params {
    /// A parameter as sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A `true`/`false` parameter; absent is `false`.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ApiError::BadRequest(format!(
                "Query parameter {name} must be true or false, not {other:?}"
            ))),
        }
    }

    /// A non-negative integer parameter.
    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "Query parameter {name} must be a non-negative integer, not {v:?}"
                    ))
                })
            })
            .transpose()
    }

    /// A JSON-encoded parameter (`startkey="abc"`, `keys=["a","b"]`, `open_revs=["1-x"]`).
    pub fn json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| {
                serde_json::from_str(v).map_err(|e| {
                    ApiError::BadRequest(format!(
                        "Query parameter {name} must be JSON-encoded ({e}), e.g. {name}=\"value\""
                    ))
                })
            })
            .transpose()
    }

    /// The `rev` parameter as a revision id.
    pub fn rev(&self) -> Result<Option<RevId>, ApiError> {
        self.get("rev")
            .map(|r| RevId::parse(r).map_err(ApiError::from))
            .transpose()
    }
}

/// The revision a write names in `?rev=` or `If-Match` (CouchDB accepts either; they must agree).
pub fn rev_from_request(params: &Params, headers: &HeaderMap) -> Result<Option<RevId>, ApiError> {
    let query = params.rev()?;
    let header = headers
        .get(IF_MATCH)
        .map(|v| {
            let text = v
                .to_str()
                .map_err(|_| ApiError::BadRequest("If-Match must be a revision".into()))?;
            RevId::parse(text.trim().trim_matches('"')).map_err(ApiError::from)
        })
        .transpose()?;
    match (query, header) {
        (Some(q), Some(h)) if q != h => Err(ApiError::BadRequest(
            "The revision in ?rev= and in If-Match differ".into(),
        )),
        (Some(q), _) => Ok(Some(q)),
        (None, h) => Ok(h),
    }
}
