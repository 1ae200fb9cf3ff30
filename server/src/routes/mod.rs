//! The HTTP routes, one module per resource, assembled by [`router`].

pub mod account;
pub mod assets;
pub mod client_errors;
pub mod couch;
pub mod health;
pub mod session;

use std::time::Duration;

use axum::extract::OriginalUri;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::startup::AppState;
use crate::telemetry::log_request;

/// The whole application. Everything under `/api` is JSON; every other path is the PWA
/// (see [`assets`]). With `cors_origins`, pages from those origins may call `/db` and `/api`.
pub fn router(state: AppState, cors_origins: &[String]) -> Router {
    // API answers are small and dynamic: a quick compression level keeps latency low. The
    // PWA's files are compressed once at the highest level and kept (see `assets`).
    let compression = CompressionLayer::new().quality(CompressionLevel::Precise(4));
    let api = Router::new()
        .route("/health", get(health::health))
        .merge(account::router())
        .merge(client_errors::router())
        .fallback(api_not_found)
        .layer(compression);
    let mut data = Router::new()
        .nest("/api", api)
        .merge(couch::router())
        // A literal segment: wins over the CouchDB routes' `/db/{db}`.
        .route(
            "/db/_session",
            get(session::get_session)
                .post(session::post_session)
                .delete(session::delete_session),
        );
    // Layered before the fallback, so the PWA's own files never carry CORS headers.
    if let Some(cors) = cors_layer(cors_origins) {
        data = data.layer(cors);
    }
    data.fallback(assets::serve)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// CORS for the configured origins, or `None` when there are none (the default: the PWA is
/// served from the same origin). Each origin is answered exactly (never `*`), because the
/// requests carry credentials (a session cookie or `Authorization`).
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| match HeaderValue::from_str(origin) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(%origin, "ignoring a CORS origin that is not a valid header value");
                None
            }
        })
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_headers([AUTHORIZATION, CONTENT_TYPE])
            .allow_methods([
                Method::GET,
                Method::PUT,
                Method::POST,
                Method::DELETE,
                Method::HEAD,
            ])
            // Tablets on slow links should not repeat a preflight before every request.
            .max_age(Duration::from_secs(600)),
    )
}

async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(format!(
        "There is no API endpoint at {}. The README lists the endpoints.",
        uri.path()
    ))
}
