//! The server's one error type. Every 4xx says what to fix; internal
//! details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if e.is_busy() { ApiError::Busy(e) } else { ApiError::Internal(e) }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> ApiError {
        use crate::auth::AuthError;
        match e {
            AuthError::Unauthenticated(m) => ApiError::Unauthenticated(m),
            AuthError::Forbidden(m) => ApiError::Forbidden(m),
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<crate::promotions::workflow::WorkflowError> for ApiError {
    fn from(e: crate::promotions::workflow::WorkflowError) -> ApiError {
        use crate::promotions::workflow::WorkflowError;
        match e {
            WorkflowError::Invalid { field, message } => ApiError::Invalid { field, message },
            WorkflowError::Forbidden(m) => ApiError::Forbidden(m),
            WorkflowError::Conflict(m) => ApiError::Conflict(m),
            WorkflowError::NotFound(m) => ApiError::NotFound(m),
            WorkflowError::Store(e) => e.into(),
        }
    }
}

impl From<crate::ingest::IngestError> for ApiError {
    fn from(e: crate::ingest::IngestError) -> ApiError {
        use crate::ingest::IngestError;
        match e {
            IngestError::Invalid { field, message } => ApiError::Invalid { field, message },
            IngestError::Forbidden(m) => ApiError::Forbidden(m),
            IngestError::Conflict(m) => ApiError::Conflict(m),
            IngestError::Store(e) => e.into(),
        }
    }
}

impl From<crate::views::ViewError> for ApiError {
    fn from(e: crate::views::ViewError) -> ApiError {
        use crate::views::ViewError;
        match e {
            ViewError::NotFound(m) => ApiError::NotFound(m),
            ViewError::BadRequest(m) => ApiError::BadRequest(m),
            ViewError::Store(e) => e.into(),
        }
    }
}

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or a malformed Authorization header.
    #[error("{0}")]
    Unauthenticated(String),
    /// The token may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Body over the limit.
    #[error("request body is larger than {limit} bytes; split the report or raise --max-body-bytes on the server")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not a valid run report.
    #[error("{message}")]
    Invalid {
        /// The offending field path, when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Same run id, different body.
    #[error("{0}")]
    Conflict(String),
    /// A query parameter is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing there.
    #[error("{0}")]
    NotFound(String),
    /// Unsupported Content-Encoding or Content-Type.
    #[error("{0}")]
    Unsupported(String),
    /// Over a request budget.
    #[error("{message}")]
    RateLimited {
        /// Which budget, and the flags that raise it.
        message: String,
        /// Seconds until a request would be taken.
        retry_after: u64,
    },
    /// No database connection came free within
    /// `--write-queue-timeout-seconds`: busy, not broken; retryable.
    #[error(
        "the database stayed busy past --write-queue-timeout-seconds (a large upload ahead of this request); \
         send it again (an upload's run id makes a repeat safe)"
    )]
    Busy(StoreError),
    /// Our fault.
    #[error("internal error")]
    Internal(StoreError),
    /// A page template failed: our fault too.
    #[error("internal error")]
    Render(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) | ApiError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::TooLarge { .. } => "too-large",
            ApiError::Invalid { .. } => "invalid-report",
            ApiError::Conflict(_) => "conflict",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::NotFound(_) => "not-found",
            ApiError::Unsupported(_) => "unsupported-media-type",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) | ApiError::Render(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = %e, "request failed"),
            ApiError::Busy(e) => tracing::warn!(error = %e, "request answered busy"),
            ApiError::Render(e) => tracing::error!(error = %e, "page template failed"),
            _ => {}
        }
        let mut body = json!({ "code": self.code(), "message": self.to_string() });
        if let ApiError::Invalid { field: Some(field), .. } = &self {
            body["field"] = json!(field);
        }
        let mut response = (self.status_code(), Json(json!({ "error": body }))).into_response();
        if matches!(self, ApiError::Unauthenticated(_)) {
            response.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited { retry_after, .. } = &self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*retry_after));
        }
        response
    }
}

/// `Query` whose refusal is the API's JSON error (axum's own is plain
/// text): a malformed query string is a 400 that says what to fix.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(e) => {
                Err(ApiError::BadRequest(format!("{}; see /api/v1/openapi.json for the parameters", e.body_text())))
            }
        }
    }
}
