//! API errors in one place: every failure of the `/api` routes becomes an [`ApiError`], which
//! picks the status and writes `{ "error": message }`; internal causes are logged, never sent.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::StoreError;

/// A refused or failed API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not valid JSON (syntax).
    #[error("{0}")]
    BadRequest(String),
    /// Wrong login or password (same answer for an unknown login).
    #[error("invalid login or password")]
    InvalidCredentials,
    /// No session, an unknown token or an expired session.
    #[error("not signed in or the session has expired")]
    Unauthenticated,
    /// Signed in, but the role may not do this.
    #[error("your role may not do this (needs {needed})")]
    Forbidden { needed: String },
    /// A cookie-authenticated write without a same-origin `Origin` or `X-Firstline-Csrf: 1`.
    #[error(
        "cross-site request refused: send the header X-Firstline-Csrf: 1 or a same-origin Origin"
    )]
    Csrf,
    /// No such route or resource.
    #[error("not found")]
    NotFound,
    /// The request is valid but not in the agent's current state.
    #[error("{message}")]
    Conflict {
        message: String,
        /// The agent's state name at the time of the refusal.
        state: &'static str,
    },
    /// The body is larger than the limit.
    #[error("request body too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    /// The body is not declared as JSON.
    #[error("expected a JSON body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// Well-formed JSON with wrong fields, types or values.
    #[error("{0}")]
    Unprocessable(String),
    /// Too many failed logins; try again later.
    #[error("too many failed logins; try again in {} s", retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: Duration },
    /// The queue engine has stopped (server shutting down).
    #[error("the server is shutting down; try again shortly")]
    Unavailable,
    /// The database failed.
    #[error("internal error")]
    Store(#[from] StoreError),
    /// A blocking task (password check) failed.
    #[error("internal error")]
    Task(#[from] tokio::task::JoinError),
}

/// Largest request body the API reads (issue 4, point 6: sizes bounded).
pub(crate) const BODY_LIMIT: usize = 16 * 1024;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
}

impl ApiError {
    /// The HTTP status for this error.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidCredentials | ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } | ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            // The cause chain goes to the log only; the client sees a generic message.
            tracing::error!(error = %crate::error_chain(&self), "API request failed");
        }
        let state = match &self {
            ApiError::Conflict { state, .. } => Some(*state),
            _ => None,
        };
        let body = ErrorBody {
            error: self.to_string(),
            state,
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyAttempts { retry_after } = &self {
            // RFC 9110 §10.2.3: Retry-After in whole seconds.
            let secs = retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: BODY_LIMIT },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(rejection.body_text()),
            _ => ApiError::BadRequest(rejection.body_text()),
        }
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s (so bad bodies get our JSON error format).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// A JSON body that may be left out altogether (no `Content-Type`, e.g. a bare `POST`):
/// `T::default()` then; a body that is sent must be JSON, with [`ApiJson`]'s errors.
pub(crate) struct OptionalApiJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for OptionalApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::OptionalFromRequest;
        let body = <Json<T> as OptionalFromRequest<S>>::from_request(req, state).await?;
        Ok(OptionalApiJson(body.map_or_else(T::default, |Json(v)| v)))
    }
}

/// Fallback for unknown `/api` paths.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}
