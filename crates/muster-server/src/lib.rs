//! Muster's HTTP server: the REST API under `/api/v1`, the web UI, login and
//! tokens, Prometheus metrics, health endpoints and the OpenAPI document.
//!
//! It wires the domain crates together and holds no business rules of its
//! own: handlers extract, check the caller's role, call the store or a domain
//! function, pass results through the access gate (`visibility`) and map errors.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub mod api;
pub mod audit_log;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod detection;
pub mod error;
pub mod incident_query;
pub mod metrics;
pub mod openapi;
pub mod playbooks;
pub mod state;
pub mod syslog;
pub mod ui;
pub mod visibility;

pub use config::Config;
pub use state::AppState;

use error::AppError;

/// Parses a typed id from a path or form field, naming the field when it is bad.
///
/// # Errors
/// [`AppError::BadRequest`].
pub fn parse_id<T: std::str::FromStr>(field: &str, s: &str) -> Result<T, AppError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| AppError::BadRequest(format!("{field}: {e}")))
}

/// RFC 3339 in UTC, the API's time format.
#[must_use]
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let cfg = &state.config;
    let timeout = Duration::from_secs(cfg.request_timeout_secs.max(1));
    let security_headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    ];
    let mut app = Router::new()
        .nest("/api/v1", api::router())
        .merge(ui::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics::handler))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(cfg.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(CatchPanicLayer::custom(|_| AppError::Internal("a handler panicked".into()).into_response()));
    for (name, value) in security_headers {
        app = app.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    app.with_state(state)
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "store unavailable").into_response()
        }
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let e = AppError::NotFound(uri.path().to_owned());
    if uri.path().starts_with("/api/") { e.into_response() } else { ui::error_page(&e) }
}

/// Serves until `shutdown` resolves, with client addresses for login throttling.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Resumes the playbook runs a stop left running before taking requests.
    state.playbooks.start().await.map_err(std::io::Error::other)?;
    let app = router(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
