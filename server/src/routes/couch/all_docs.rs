//! `GET|POST /db/{db}/_all_docs`: every live document by id, a range of them, or given `keys`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chaski_shared::doc::DocId;
use chaski_shared::store::{GetOptions, Store};
use serde_json::{json, Value};

use super::extract::{from_value, CouchJson, Params};
use super::open_db;
use crate::auth::{Access, Principal};
use crate::db::SledStore;
use crate::error::ApiError;
use crate::startup::AppState;

pub async fn all_docs_get(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    let keys = params.json::<Vec<String>>("keys")?;
    answer(&state, &store, &params, keys).await
}

pub async fn all_docs_post(
    State(state): State<AppState>,
    principal: Principal,
    Path(db): Path<String>,
    params: Params,
    CouchJson(body): CouchJson,
) -> Result<Response, ApiError> {
    let store = open_db(&state, &principal, &db, Access::Read)?;
    let keys = match body {
        Value::Object(mut map) => match map.remove("keys") {
            Some(keys) => Some(from_value::<Vec<String>>(
                keys,
                "keys must be an array of ids",
            )?),
            None => None,
        },
        _ => {
            return Err(ApiError::BadRequest(
                "The body must be a JSON object".into(),
            ))
        }
    };
    answer(&state, &store, &params, keys).await
}

fn key_param(params: &Params, names: [&str; 2]) -> Result<Option<String>, ApiError> {
    for name in names {
        if let Some(v) = params.json::<String>(name)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

async fn doc_json(store: &SledStore, id: &str, opts: &GetOptions) -> Result<Value, ApiError> {
    let id = DocId::parse(id)?;
    Ok(store.get(&id, opts).await?.to_json())
}

async fn answer(
    state: &AppState,
    store: &SledStore,
    params: &Params,
    keys: Option<Vec<String>>,
) -> Result<Response, ApiError> {
    let include_docs = params.flag("include_docs")?;
    // What each included document carries: `_conflicts`, inline attachment bytes.
    let doc_opts = GetOptions {
        conflicts: params.flag("conflicts")?,
        attachments: params.flag("attachments")?,
        ..GetOptions::default()
    };
    let update_seq = params.flag("update_seq")?;
    let descending = params.flag("descending")?;
    let skip = params.number("skip")?.unwrap_or(0) as usize;
    let limit = params.number("limit")?.map_or(usize::MAX, |l| l as usize);
    let total_rows = store.info().await?.doc_count;
    let mut rows = Vec::new();
    if keys.is_some()
        && ["key", "startkey", "start_key", "endkey", "end_key"]
            .iter()
            .any(|name| params.get(name).is_some())
    {
        return Err(ApiError::couch(
            axum::http::StatusCode::BAD_REQUEST,
            "query_parse_error",
            "`keys` is incompatible with `key`, `start_key` and `end_key`",
        ));
    }
    // Read before the rows, so that it never claims rows the answer lacks.
    let seq = store.update_seq();
    if let Some(keys) = keys {
        if keys.len() > state.limits.max_docs_per_request {
            return Err(ApiError::TooLarge(format!(
                "At most {} keys per _all_docs request",
                state.limits.max_docs_per_request
            )));
        }
        for key in keys.into_iter().skip(skip).take(limit) {
            let winner = match DocId::parse(key.as_str()) {
                Ok(_) => {
                    let key = key.clone();
                    store.blocking(move |s| s.winner(&key)).await?
                }
                Err(_) => None,
            };
            rows.push(match winner {
                None => json!({"key": key, "error": "not_found"}),
                Some((rev, true)) => json!({"id": key, "key": key,
                    "value": {"rev": rev, "deleted": true}, "doc": null}),
                Some((rev, false)) => {
                    let mut row = json!({"id": key, "key": key, "value": {"rev": rev}});
                    if include_docs {
                        row["doc"] = doc_json(store, &key, &doc_opts).await?;
                    }
                    row
                }
            });
        }
    } else {
        let start = key_param(params, ["startkey", "start_key"])?;
        let end = key_param(params, ["endkey", "end_key"])?;
        let key = params.json::<String>("key")?;
        let (start, end) = match key {
            Some(k) => (Some(k.clone()), Some(k)),
            None => (start, end),
        };
        let inclusive_end = params.get("inclusive_end") != Some("false");
        let found = store
            .blocking(move |store| {
                let mut found = Vec::new();
                let mut skipped = 0usize;
                store.scan_winners(start.as_deref(), descending, |id, rev| {
                    if let Some(end) = &end {
                        let past = if descending {
                            id < end.as_str() || (!inclusive_end && id == end.as_str())
                        } else {
                            id > end.as_str() || (!inclusive_end && id == end.as_str())
                        };
                        if past {
                            return Ok(false);
                        }
                    }
                    if found.len() >= limit {
                        return Ok(false);
                    }
                    if skipped < skip {
                        skipped += 1;
                        return Ok(true);
                    }
                    found.push((id.to_owned(), rev));
                    Ok(true)
                })?;
                Ok(found)
            })
            .await?;
        for (id, rev) in found {
            let mut row = json!({"id": id, "key": id, "value": {"rev": rev}});
            if include_docs {
                row["doc"] = doc_json(store, &id, &doc_opts).await?;
            }
            rows.push(row);
        }
    }
    let mut body = json!({"total_rows": total_rows, "offset": skip, "rows": rows});
    if update_seq {
        body["update_seq"] = json!(seq);
    }
    Ok(Json(body).into_response())
}
