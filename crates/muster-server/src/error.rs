//! One error type for every handler. Each domain error maps to one HTTP status
//! and the JSON body `{ "error": { "code", "message" } }`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use muster_store::StoreError;
use serde_json::json;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("file: larger than the attachment limit of {0} bytes (max_attachment_bytes)")]
    AttachmentTooLarge(usize),
    #[error("too many attempts; retry in {0} s")]
    TooManyRequests(u64),
    #[error("busy: intake is at capacity; retry in {0} s")]
    Unavailable(u64),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// The status code and the stable machine-readable code.
    #[must_use]
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            AppError::PayloadTooLarge(_) | AppError::AttachmentTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            AppError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(what),
            StoreError::Conflict(msg) => AppError::Conflict(msg),
            StoreError::Invalid(msg) => AppError::Unprocessable(msg),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        match r {
            J::JsonDataError(e) => AppError::Unprocessable(format!("invalid JSON body: {}", e.body_text())),
            J::JsonSyntaxError(e) => AppError::BadRequest(format!("malformed JSON body: {}", e.body_text())),
            J::MissingJsonContentType(_) => AppError::BadRequest("expected Content-Type: application/json".into()),
            J::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(0),
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<axum::extract::rejection::BytesRejection> for AppError {
    fn from(r: axum::extract::rejection::BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge(0)
        } else {
            AppError::BadRequest(format!("cannot read the request body: {}", r.body_text()))
        }
    }
}

impl From<axum::extract::rejection::PathRejection> for AppError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        AppError::BadRequest(format!("bad path parameter: {}", r.body_text()))
    }
}

impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        AppError::BadRequest(format!("bad query string: {}", r.body_text()))
    }
}

impl From<axum::extract::rejection::FormRejection> for AppError {
    fn from(r: axum::extract::rejection::FormRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::PayloadTooLarge(0);
        }
        AppError::BadRequest(format!("bad form: {}", r.body_text()))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; see the server log".to_owned()
            }
            AppError::PayloadTooLarge(0) => {
                "request body is larger than the configured limit (max_body_bytes)".to_owned()
            }
            other => other.to_string(),
        };
        let mut resp = (status, axum::Json(json!({ "error": { "code": code, "message": message } }))).into_response();
        if let AppError::TooManyRequests(secs) | AppError::Unavailable(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

/// JSON body extractor whose rejections are [`AppError`]s.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Raw body extractor whose rejections are [`AppError`]s.
#[derive(Debug)]
pub struct Body(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        axum::body::Bytes::from_request(req, state).await.map(Body).map_err(AppError::from)
    }
}

/// Path extractor whose rejections are [`AppError`]s.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

/// Query extractor whose rejections are [`AppError`]s.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

pub type ApiResult<T> = Result<T, AppError>;

/// Form extractor that refuses bodies which are not valid UTF-8 once
/// percent-decoded (instead of silently replacing bytes), with [`AppError`] rejections.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let ctype = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !ctype.starts_with("application/x-www-form-urlencoded") {
            return Err(AppError::BadRequest("expected Content-Type: application/x-www-form-urlencoded".into()));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(0)
            } else {
                AppError::BadRequest(e.body_text())
            }
        })?;
        for (i, part) in bytes.split(|b| *b == b'&' || *b == b'=').enumerate() {
            if percent_encoding::percent_decode(part).decode_utf8().is_err() {
                return Err(AppError::BadRequest(format!("form field {}: not valid UTF-8", i / 2 + 1)));
            }
        }
        serde_urlencoded::from_bytes(&bytes).map(Form).map_err(|e| AppError::BadRequest(format!("bad form: {e}")))
    }
}
