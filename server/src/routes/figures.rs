//! The figures API (issue 9), for supervisors (their regions) and administrators (all):
//! - `GET /api/figures`: the annual report's figures from the figures index
//!   ([`crate::figures`]), as JSON or CSV;
//! - `GET /api/export/inspections.csv`, `/api/export/people.csv`,
//!   `/api/export/inspections.geojson`: streamed exports.
//!
//! Inspectors and any other role get 403; a region the user may not see is 403 naming it;
//! a bad parameter is 400 naming it. Every read of sled runs on the blocking pool.
//!
//! # A cut export never looks complete
//! An export is sent with chunked encoding, page by page. If reading a page fails after the
//! 200 went out, the stream ends with an error, so the connection is closed without the
//! final empty chunk: a client sees a broken transfer, never a short file that looks whole.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chaski_shared::domain::Region;

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::figures::export::{self, ExportKind};
use crate::figures::report::{FiguresQuery, Report};
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/figures", get(figures))
        .route(
            "/export/inspections.csv",
            get(|s, p, u| export(s, p, u, ExportKind::InspectionsCsv)),
        )
        .route(
            "/export/people.csv",
            get(|s, p, u| export(s, p, u, ExportKind::PeopleCsv)),
        )
        .route(
            "/export/inspections.geojson",
            get(|s, p, u| export(s, p, u, ExportKind::GeoJson)),
        )
}

/// The query's pairs, or a 400.
fn pairs(uri: &Uri) -> Result<Vec<(String, String)>, ApiError> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::BadRequest(format!("The query string is malformed: {e}")))
}

/// The regions the request covers: the ones asked for, each one the user may see (403
/// naming the first that is not), or by default every region the user may see.
fn regions_for(
    state: &AppState,
    principal: &Principal,
    asked: Option<&[Region]>,
) -> Result<Vec<Region>, ApiError> {
    if !matches!(principal.role, Role::Supervisor | Role::Admin) {
        return Err(ApiError::Forbidden(format!(
            "Figures and exports are for supervisors and administrators; {} is a{} {}.",
            principal.name,
            if principal
                .role
                .as_str()
                .starts_with(['a', 'e', 'i', 'o', 'u'])
            {
                "n"
            } else {
                ""
            },
            principal.role
        )));
    }
    match asked {
        Some(asked) if !asked.is_empty() => {
            for region in asked {
                if !principal.can_access(region.db_name()) {
                    return Err(ApiError::Forbidden(format!(
                        "{} may not see the figures of {}: it is not one of their regions ({}).",
                        principal.name,
                        region.db_name(),
                        principal
                            .regions
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            Ok(asked.to_vec())
        }
        _ => Ok(Region::ALL
            .iter()
            .copied()
            .filter(|r| principal.can_access(r.db_name()))
            .filter(|r| principal.role != Role::Admin || state.databases.get(r.db_name()).is_some())
            .collect()),
    }
}

/// `GET /api/figures?from=&to=&region=&by=&public=&stalled_days=&format=`.
async fn figures(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let mut query = FiguresQuery::parse(&pairs(&uri)?, true).map_err(ApiError::BadRequest)?;
    let regions = regions_for(&state, &principal, query.regions.as_deref())?;
    if !query.csv {
        query.csv = headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv"));
    }
    let stores: Vec<(Region, Option<crate::db::SledStore>)> = regions
        .iter()
        .map(|r| (*r, state.databases.get(r.db_name())))
        .collect();
    let now = super::office::now_ms();
    let q = query.clone();
    let covered = regions.clone();
    let mut report = tokio::task::spawn_blocking(move || -> Result<Report, ApiError> {
        let mut report = Report::new(&q, &covered);
        for (region, store) in stores {
            if let Some(store) = store {
                store.with_figures(|figures| report.add_region(&q, region, figures, now))?;
            }
        }
        Ok(report)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("figures task failed: {e}")))??;
    if query.csv {
        let csv = report.to_csv(&query, &regions);
        Ok((
            [
                (
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (
                    CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"figures.csv\""),
                ),
            ],
            csv,
        )
            .into_response())
    } else {
        Ok(Json(report.to_json(&query, &regions)).into_response())
    }
}

/// The export endpoints: the header at once, then each region's pages as they are read.
async fn export(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
    kind: ExportKind,
) -> Result<Response, ApiError> {
    let query = FiguresQuery::parse(&pairs(&uri)?, false).map_err(ApiError::BadRequest)?;
    let regions = regions_for(&state, &principal, query.regions.as_deref())?;
    let stores: Vec<(Region, crate::db::SledStore)> = regions
        .iter()
        .filter_map(|r| Some((*r, state.databases.get(r.db_name())?)))
        .collect();
    let period = query.period.clone();
    // Two pages in flight at most: the reader waits for the network, memory stays flat.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(kind.header()))).await.is_err() {
            return;
        }
        let mut wrote_feature = false;
        for (region, store) in stores {
            let mut after: Option<String> = None;
            loop {
                let period = period.clone();
                let from = after.clone();
                let page = store
                    .blocking(move |s| {
                        export::page(s, region, kind, &period, from.as_deref(), wrote_feature)
                    })
                    .await;
                match page {
                    Ok(page) => {
                        wrote_feature = page.wrote_feature;
                        if !page.bytes.is_empty()
                            && tx.send(Ok(Bytes::from(page.bytes))).await.is_err()
                        {
                            return; // the client went away
                        }
                        match page.next {
                            Some(next) => after = Some(next),
                            None => break,
                        }
                    }
                    Err(err) => {
                        tracing::error!(%err, db = region.db_name(), "export failed mid-stream");
                        let _ = tx
                            .send(Err(std::io::Error::other("export failed mid-stream")))
                            .await;
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Ok(Bytes::from(kind.footer()))).await;
    });
    // Fused: the compression layer polls the body once more after its end, and a bare
    // `unfold` panics when polled after it has finished.
    let stream = futures::StreamExt::fuse(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let disposition = format!("attachment; filename=\"{}\"", kind.file_name());
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static(kind.content_type())),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
