//! The HTTP routes, one module per resource, assembled by [`router`].

pub mod account;
pub mod admin_api;
pub mod assets;
pub mod client_errors;
pub mod couch;
pub mod custody;
pub mod figures;
pub mod health;
pub mod keys;
pub mod office;
pub mod relay;
pub mod session;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::startup::AppState;
use crate::telemetry::log_request;

/// Largest body of `/api` and `/db/_session` requests (a name, a password, a device): these
/// bodies are not counted in the body budget, so they are kept small.
const LOGIN_BODY_LIMIT: usize = 64 * 1024;

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
        .merge(office::router())
        .merge(figures::router())
        .merge(relay::router())
        .merge(custody::router())
        .merge(keys::router())
        .merge(admin_api::router())
        .fallback(api_not_found)
        .layer(compression)
        .layer(DefaultBodyLimit::max(LOGIN_BODY_LIMIT));
    let mut data = Router::new()
        .nest("/api", api)
        .merge(couch::router())
        // A literal segment: wins over the CouchDB routes' `/db/{db}`.
        .route(
            "/db/_session",
            get(session::get_session)
                .post(session::post_session)
                .delete(session::delete_session)
                .layer(DefaultBodyLimit::max(LOGIN_BODY_LIMIT)),
        )
        // After every route is added (it applies to the routes present), before CORS (so that
        // a 405 carries CORS headers too).
        .method_not_allowed_fallback(method_not_allowed);
    // Layered before the fallback, so the PWA's own files never carry CORS headers.
    if let Some(cors) = cors_layer(cors_origins) {
        data = data.layer(cors);
    }
    data.fallback(assets::serve)
        // Inside the request log, so that the 500 of a panicking handler is logged too.
        .layer(catch_panics())
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Turns a panic in a handler (a bug) into that request's 500, in the API's JSON shape and
/// without the panic's message, instead of a dropped connection. Store calls run on the
/// blocking pool and turn their own panics into errors; this catches the rest.
fn catch_panics() -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(panic_response)
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    // Logged in full by ApiError; the client sees only the generic reason.
    ApiError::Internal(format!("handler panicked: {message}")).into_response()
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
                // The admin API's `PATCH /api/admin/users/{name}`.
                Method::PATCH,
            ])
            // Tablets on slow links should not repeat a preflight before every request.
            .max_age(Duration::from_secs(600)),
    )
}

/// A known path with a method it does not take: CouchDB's JSON error (axum's own 405 has an
/// empty body, which PouchDB reports as "invalid json response body"). axum adds `Allow`.
async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::couch(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not allowed on {}; the Allow header lists the methods that are.",
            uri.path()
        ),
    )
}

async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::NotFound(format!(
        "There is no API endpoint at {}. The README lists the endpoints.",
        uri.path()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_a_json_500_without_its_message_and_the_next_request_is_served(
    ) {
        let app: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("secret detail: /var/lib/chaski");
                    }
                    "unreachable"
                }),
            )
            .route("/fine", get(|| async { "fine" }))
            .layer(catch_panics());
        let answer = app
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "internal_server_error");
        assert!(!json.to_string().contains("secret"), "{json}");
        let fine = app
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
