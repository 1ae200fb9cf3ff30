//! The one error type of the sync engine, shaped after CouchDB's `{"error", "reason"}` pairs.
//!
//! Stores, peers and the replicator all return [`Error`], so that an HTTP layer maps any of them
//! to a CouchDB status code and body with [`Error::status`], [`Error::error_name`] and
//! [`Error::reason`], and so that an [`Error`] read back from a remote peer round-trips.

use serde_json::{json, Value};

/// What went wrong, in the categories CouchDB clients (PouchDB, CouchDB's replicator) act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The edit was not based on a current leaf revision (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The document, revision or database does not exist; CouchDB's reasons are `missing` and
    /// `deleted` (HTTP 404).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request or document is malformed (HTTP 400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A document id breaks the id rules (HTTP 400, `illegal_docid`).
    #[error("illegal document id: {0}")]
    IllegalDocId(String),
    /// An attachment stub names data this store does not have (HTTP 412, `missing_stub`).
    #[error("missing attachment stub: {0}")]
    MissingStub(String),
    /// Authenticated, but not allowed (HTTP 403); a validation rule rejecting a document too.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Not authenticated (HTTP 401).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The network or the remote end failed before giving an answer; worth retrying.
    #[error("transport error: {0}")]
    Transport(String),
    /// A fault inside a store or peer (HTTP 500); worth retrying.
    #[error("internal error: {0}")]
    Internal(String),
    /// A database was deleted and created again while a replication ran (its
    /// `instance_start_time` changed), so the run stopped before recording a checkpoint that
    /// would describe the new, different database (HTTP 409, `db_recreated`). Worth retrying:
    /// the next run finds no checkpoint there and starts over.
    #[error("{0}")]
    Recreated(String),
    /// Any other CouchDB error read from a remote peer, kept as it came.
    #[error("{error}: {reason}")]
    Other {
        /// The HTTP status the remote answered with.
        status: u16,
        /// CouchDB's `error` field.
        error: String,
        /// CouchDB's `reason` field.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// CouchDB's answer to an edit on a revision that is not a current leaf.
    pub fn conflict() -> Self {
        Error::Conflict("Document update conflict.".into())
    }

    /// CouchDB's answer for a document or revision that does not exist.
    pub fn missing() -> Self {
        Error::NotFound("missing".into())
    }

    /// CouchDB's answer for a document whose winning revision is a deletion.
    pub fn deleted() -> Self {
        Error::NotFound("deleted".into())
    }

    /// The HTTP status CouchDB uses for this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::Conflict(_) | Error::Recreated(_) => 409,
            Error::NotFound(_) => 404,
            Error::BadRequest(_) | Error::IllegalDocId(_) => 400,
            Error::MissingStub(_) => 412,
            Error::Forbidden(_) => 403,
            Error::Unauthorized(_) => 401,
            Error::Transport(_) => 502,
            Error::Internal(_) => 500,
            Error::Other { status, .. } => *status,
        }
    }

    /// CouchDB's `error` field for this error.
    pub fn error_name(&self) -> &str {
        match self {
            Error::Conflict(_) => "conflict",
            Error::NotFound(_) => "not_found",
            Error::BadRequest(_) => "bad_request",
            Error::IllegalDocId(_) => "illegal_docid",
            Error::MissingStub(_) => "missing_stub",
            Error::Forbidden(_) => "forbidden",
            Error::Unauthorized(_) => "unauthorized",
            Error::Transport(_) => "transport_error",
            Error::Internal(_) => "internal_server_error",
            Error::Recreated(_) => "db_recreated",
            Error::Other { error, .. } => error,
        }
    }

    /// CouchDB's `reason` field: a message a person can act on.
    pub fn reason(&self) -> &str {
        match self {
            Error::Conflict(r)
            | Error::NotFound(r)
            | Error::BadRequest(r)
            | Error::IllegalDocId(r)
            | Error::MissingStub(r)
            | Error::Forbidden(r)
            | Error::Unauthorized(r)
            | Error::Transport(r)
            | Error::Internal(r)
            | Error::Recreated(r) => r,
            Error::Other { reason, .. } => reason,
        }
    }

    /// Whether trying the same call again may succeed (the replicator's caller retries these).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Transport(_) | Error::Internal(_) | Error::Recreated(_)
        ) || matches!(self, Error::Other { status, .. } if *status >= 500)
    }

    /// The CouchDB JSON body: `{"error": ..., "reason": ...}`.
    pub fn to_json(&self) -> Value {
        json!({ "error": self.error_name(), "reason": self.reason() })
    }

    /// Rebuilds an error from CouchDB's `error` and `reason` fields (and the HTTP status when
    /// there was one), so that a remote peer's errors keep their meaning.
    pub fn from_couch(status: Option<u16>, error: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        match error {
            "conflict" => Error::Conflict(reason),
            "not_found" => Error::NotFound(reason),
            "bad_request" => Error::BadRequest(reason),
            "illegal_docid" => Error::IllegalDocId(reason),
            "missing_stub" => Error::MissingStub(reason),
            "forbidden" => Error::Forbidden(reason),
            "unauthorized" => Error::Unauthorized(reason),
            "transport_error" => Error::Transport(reason),
            "internal_server_error" => Error::Internal(reason),
            "db_recreated" => Error::Recreated(reason),
            other => Error::Other {
                status: status.unwrap_or(500),
                error: other.to_string(),
                reason,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_round_trips_through_couchdb_fields() {
        let all = [
            Error::conflict(),
            Error::missing(),
            Error::BadRequest("x".into()),
            Error::IllegalDocId("y".into()),
            Error::MissingStub("z".into()),
            Error::Forbidden("f".into()),
            Error::Unauthorized("u".into()),
            Error::Transport("t".into()),
            Error::Internal("i".into()),
            Error::Recreated("r".into()),
            Error::Other {
                status: 418,
                error: "teapot".into(),
                reason: "short and stout".into(),
            },
        ];
        for e in all {
            let back = Error::from_couch(Some(e.status()), e.error_name(), e.reason());
            assert_eq!(back, e);
        }
    }

    #[test]
    fn conflicts_map_to_409_and_illegal_ids_to_400() {
        assert_eq!(Error::conflict().status(), 409);
        assert_eq!(Error::IllegalDocId("x".into()).status(), 400);
        assert_eq!(
            Error::conflict().to_json(),
            json!({"error": "conflict", "reason": "Document update conflict."})
        );
    }
}
