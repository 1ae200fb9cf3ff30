//! The HTTP routes, one module per resource, assembled by [`router`].

pub mod account;
pub mod assets;
pub mod couch;
pub mod health;
pub mod session;

use axum::extract::OriginalUri;
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::error::ApiError;
use crate::startup::AppState;
use crate::telemetry::log_request;

/// The whole application. Everything under `/api` is JSON; every other path is the PWA
/// (see [`assets`]).
pub fn router(state: AppState) -> Router {
    // API answers are small and dynamic: a quick compression level keeps latency low. The
    // PWA's files are compressed once at the highest level and kept (see `assets`).
    let compression = CompressionLayer::new().quality(CompressionLevel::Precise(4));
    let api = Router::new()
        .route("/health", get(health::health))
        .merge(account::router())
        .fallback(api_not_found)
        .layer(compression);
    Router::new()
        .nest("/api", api)
        .merge(couch::router())
        // A literal segment: wins over the CouchDB routes' `/db/{db}`.
        .route(
            "/db/_session",
            get(session::get_session)
                .post(session::post_session)
                .delete(session::delete_session),
        )
        .fallback(assets::serve)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(format!(
        "There is no API endpoint at {}. The README lists the endpoints.",
        uri.path()
    ))
}
