//! Turning CouchDB requests into typed values at the edge: the JSON body extractor (415 for a
//! body that is not JSON, 413 over the size limit, 400 with a reason for malformed JSON — never
//! axum's plain-text rejections), the raw body of attachments, and the query parameters.
//!
//! Bodies are read with care, because they are what an attacker sends most cheaply:
//! - the database is authorized before a byte of the body is read (the request's
//!   [`Principal`] is known by then), so a body sent to another region costs nothing;
//! - a declared `Content-Length` over the limit is refused at once;
//! - the body, and then the memory its JSON will take once parsed (estimated in one pass, see
//!   [`json_parse_cost`]), are reserved from the shared [`BodyBudget`] before they are taken;
//! - a body that stops arriving for the configured time is cut with 408 (the connection loop
//!   times it, see [`BodyStalled`]).
//!
//! [`BodyStalled`]: crate::connections::BodyStalled
//!
//! [`BodyBudget`]: crate::budget::BodyBudget

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use chaski_shared::RevId;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Limits;
use crate::auth::{Access, Principal};
use crate::budget::{json_parse_cost, BudgetSlot, Reservation};
use crate::connections::BodyStalled;
use crate::error::ApiError;
use crate::startup::AppState;

fn too_large(what: &str, limit: usize) -> ApiError {
    ApiError::TooLarge(format!(
        "The {what} is larger than this server accepts ({limit} bytes). Send fewer documents \
         per request or a smaller attachment."
    ))
}

/// The `Content-Length` a request declares, if any (a malformed one is refused by hyper).
pub fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Keeps `reservation` until the request has been answered (or, for a request driven without
/// the connection loop, until the caller's scope ends).
fn hold(slot: Option<&BudgetSlot>, reservation: Reservation) -> Option<Reservation> {
    match slot {
        Some(slot) => {
            slot.hold(reservation);
            None
        }
        None => Some(reservation),
    }
}

/// Reads a whole body, refusing more than `limit` bytes with a 413 that says what the limit is
/// (at once when the declared length is over it), reserving it from the body budget as it
/// arrives; 408 when it stalls.
///
/// Memory is reserved for what has arrived (with the buffer's spare room), not for what the
/// client declares: a client that declares a large body and then trickles it holds only what
/// it really sent.
pub async fn read_body(
    request: Request,
    limits: &Limits,
    limit: usize,
    what: &str,
) -> Result<Bytes, ApiError> {
    let (parts, body) = request.into_parts();
    let declared = declared_length(&parts.headers);
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(what, limit));
    }
    let budget = &limits.body_budget;
    // A body that can never fit is refused now rather than after it has been sent.
    budget.could_fit(declared.unwrap_or(0), what)?;
    let slot = parts.extensions.get::<BudgetSlot>();
    // The most this body can grow to: the buffer never needs more room than that.
    let ceiling = declared.unwrap_or(limit);
    let mut reservation = Reservation::empty();
    let mut data: Vec<u8> = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(next) = stream.next().await {
        let chunk = next.map_err(|err| body_error(&err))?;
        let len = data.len().saturating_add(chunk.len());
        if len > limit {
            return Err(too_large(what, limit));
        }
        if len > data.capacity() {
            // Double the buffer (as Vec would), but never past the ceiling, and reserve the
            // room before taking it.
            let room = len
                .max(data.capacity().saturating_mul(2))
                .min(ceiling.max(len));
            if room > reservation.bytes() {
                reservation.absorb(budget.reserve(room - reservation.bytes(), what).await?);
            }
            data.reserve_exact(room - data.len());
        }
        data.extend_from_slice(&chunk);
    }
    drop(hold(slot, reservation));
    Ok(Bytes::from(data))
}

/// A body that could not be read: 408 when it stalled, 400 otherwise.
fn body_error(err: &(dyn std::error::Error + 'static)) -> ApiError {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(stalled) = e.downcast_ref::<BodyStalled>() {
            return ApiError::RequestTimeout(format!(
                "The request was cut: {stalled}. Send it again."
            ));
        }
        source = e.source();
    }
    ApiError::BadRequest(format!("The request body could not be read: {err}"))
}

/// Authorizes the request's database before its body is read, when the request names one and
/// its principal is known (the `Principal` extractor runs before body extractors and leaves
/// the principal in the extensions). The handler authorizes again; this only makes sure no
/// body is read for a database the user may not reach, or one that does not exist.
async fn authorize_before_body(parts: &mut Parts, state: &AppState) -> Result<(), ApiError> {
    let Some(principal) = parts.extensions.get::<Principal>().cloned() else {
        return Ok(());
    };
    let Ok(params) = RawPathParams::from_request_parts(parts, state).await else {
        return Ok(());
    };
    let Some((_, db)) = params.iter().find(|(name, _)| *name == "db") else {
        return Ok(());
    };
    let reads = ["/_revs_diff", "/_bulk_get", "/_all_docs", "/_changes"];
    let access =
        if parts.method == Method::GET || reads.iter().any(|end| parts.uri.path().ends_with(end)) {
            Access::Read
        } else {
            Access::Write
        };
    principal.authorize(db, access)?;
    state.databases.require(db).map(drop)
}

/// Reads and parses a JSON body within the limits and the body budget.
async fn read_json(request: Request, state: &AppState) -> Result<Option<Value>, ApiError> {
    let (mut parts, body) = request.into_parts();
    authorize_before_body(&mut parts, state).await?;
    let slot = parts.extensions.get::<BudgetSlot>().cloned();
    let json = is_json(&parts.headers);
    let request = Request::from_parts(parts, body);
    let bytes = read_body(
        request,
        &state.limits,
        state.limits.max_request_bytes,
        "request",
    )
    .await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json".into(),
        ));
    }
    let cost = state
        .limits
        .body_budget
        .reserve(json_parse_cost(&bytes), "parsed request")
        .await?;
    let _held = hold(slot.as_ref(), cost);
    parse_json(&bytes).map(Some)
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
        match read_json(req, state).await? {
            Some(value) => Ok(CouchJson(value)),
            None => Err(ApiError::BadRequest(
                "The request body is empty; this request needs a JSON body.".into(),
            )),
        }
    }
}

/// A JSON body that may be absent (a `POST` with no body, as some clients send to
/// `_changes`): `None` when the body is empty.
pub struct OptionalCouchJson(pub Option<Value>);

impl FromRequest<AppState> for OptionalCouchJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read_json(req, state).await.map(OptionalCouchJson)
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
