//! The intakes API under `/api` (issue 4 points 5 and 6): list, fetch, open by hand, edit,
//! resolve, escalate, return, continue, link or create the customer, and the escalation lists.
//! Every rule lives in [`IntakeOps`]; this file maps HTTP to it. Shapes: docs/api.md.

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Session;
use super::error::{ApiError, ApiJson, BODY_LIMIT};
use crate::desk::intakes::{CustomerFields, DeskError, IntakeFields, IntakeOps, IntakeView};
use crate::domain::{Category, CustomerId, IntakeId, Priority};
use crate::store::{IntakeFilter, IntakeStatus};

/// Largest page of a list.
pub(super) const MAX_LIMIT: u32 = 200;
/// Page size when `limit` is not given.
const DEFAULT_LIMIT: u32 = 50;

/// The `/api/intakes…` and `/api/desk/lists` routes; `ops` reaches the handlers as an extension.
pub(super) fn router(state: ApiState, ops: IntakeOps) -> Router {
    Router::new()
        .route("/api/intakes", get(list).post(open_manual))
        .route("/api/intakes/{id}", get(fetch).patch(update))
        .route("/api/intakes/{id}/resolve", post(resolve))
        .route("/api/intakes/{id}/escalate", post(escalate))
        .route("/api/intakes/{id}/return", post(return_to_first))
        .route("/api/intakes/{id}/continue", post(continue_existing))
        .route("/api/intakes/{id}/customer", post(customer))
        .route("/api/desk/lists", get(lists))
        .layer(Extension(ops))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// A failed desk request: API errors as usual, and [`DeskError`]s mapped to 404, 422, 409,
/// 403 with the operation's own message (e.g. `intake not found`).
#[derive(Debug)]
pub(super) enum DeskApiError {
    Api(ApiError),
    Desk(DeskError),
}

impl From<ApiError> for DeskApiError {
    fn from(e: ApiError) -> Self {
        DeskApiError::Api(e)
    }
}

impl From<DeskError> for DeskApiError {
    fn from(e: DeskError) -> Self {
        DeskApiError::Desk(e)
    }
}

impl From<crate::store::StoreError> for DeskApiError {
    fn from(e: crate::store::StoreError) -> Self {
        DeskApiError::Api(ApiError::Store(e))
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for DeskApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            DeskApiError::Api(_) => None,
            DeskApiError::Desk(DeskError::NotFound(_)) => Some(StatusCode::NOT_FOUND),
            DeskApiError::Desk(DeskError::Invalid(_)) => Some(StatusCode::UNPROCESSABLE_ENTITY),
            DeskApiError::Desk(DeskError::Conflict(_)) => Some(StatusCode::CONFLICT),
            DeskApiError::Desk(DeskError::Forbidden(_)) => Some(StatusCode::FORBIDDEN),
            DeskApiError::Desk(DeskError::Store(_)) => None,
        };
        match (status, self) {
            (Some(status), DeskApiError::Desk(e)) => (
                status,
                Json(ErrorBody {
                    error: e.to_string(),
                }),
            )
                .into_response(),
            (_, DeskApiError::Desk(DeskError::Store(e))) => ApiError::Store(e).into_response(),
            (_, DeskApiError::Api(e)) => e.into_response(),
            // Every Desk variant has a status above, or is Store.
            (None, DeskApiError::Desk(e)) => ApiError::Unprocessable(e.to_string()).into_response(),
        }
    }
}

type Reply<T> = Result<T, DeskApiError>;

/// Query-string rejections as JSON 422s (wrong types, e.g. `limit=abc`).
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|r| ApiError::Unprocessable(r.body_text()))
}

/// `limit` (1..=200, default 50) and `offset` as SQL numbers, or a clear 422.
pub(super) fn page(limit: Option<u32>, offset: Option<u32>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::Unprocessable(format!(
            "limit must be 1 to {MAX_LIMIT}, not {limit}"
        )));
    }
    Ok((i64::from(limit), i64::from(offset.unwrap_or(0))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    customer_id: Option<CustomerId>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list(
    _session: Session,
    Extension(ops): Extension<IntakeOps>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply<Json<Vec<IntakeView>>> {
    let q = query(q)?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(IntakeStatus::parse(s).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "status must be draft, open, resolved, escalated or closed, not {s:?}"
            ))
        })?),
    };
    let (limit, offset) = page(q.limit, q.offset)?;
    let filter = IntakeFilter {
        status,
        customer_id: q.customer_id,
        limit,
        offset,
    };
    Ok(Json(ops.list(&filter).await?))
}

async fn fetch(
    _session: Session,
    Extension(ops): Extension<IntakeOps>,
    Path(id): Path<String>,
) -> Reply<Json<IntakeView>> {
    Ok(Json(ops.view(&IntakeId::from_string(id)).await?))
}

/// `POST /api/intakes`: an intake opened by hand, with optional first fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewIntakeRequest {
    channel: String,
    customer_id: Option<CustomerId>,
    title: Option<String>,
    description: Option<String>,
    category: Option<Category>,
    priority: Option<Priority>,
}

async fn open_manual(
    session: Session,
    Extension(ops): Extension<IntakeOps>,
    ApiJson(req): ApiJson<NewIntakeRequest>,
) -> Reply<(StatusCode, Json<IntakeView>)> {
    let agent = &session.agent_id;
    let fields = IntakeFields {
        title: req.title,
        description: req.description,
        category: req.category,
        priority: req.priority,
    };
    // Check the fields before anything is written, so a bad field leaves no empty intake.
    fields.validate()?;
    let view = ops
        .open_manual(agent, &req.channel, req.customer_id.as_ref())
        .await?;
    let has_fields = fields.title.is_some()
        || fields.description.is_some()
        || fields.category.is_some()
        || fields.priority.is_some();
    let view = if has_fields {
        ops.update(agent, &view.id, fields).await?
    } else {
        view
    };
    Ok((StatusCode::CREATED, Json(view)))
}

async fn update(
    session: Session,
    Extension(ops): Extension<IntakeOps>,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<IntakeFields>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    Ok(Json(ops.update(&session.agent_id, &id, fields).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveRequest {
    solution: String,
}

async fn resolve(
    session: Session,
    Extension(ops): Extension<IntakeOps>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    Ok(Json(
        ops.resolve(&session.agent_id, &id, &req.solution).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateRequest {
    to_level: u8,
    target: String,
    reason: String,
    #[serde(default)]
    case_ref: Option<String>,
}

async fn escalate(
    session: Session,
    Extension(ops): Extension<IntakeOps>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EscalateRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = ops
        .escalate(
            &session.agent_id,
            &id,
            req.to_level,
            &req.target,
            &req.reason,
            req.case_ref.as_deref(),
        )
        .await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturnRequest {
    reason: String,
}

async fn return_to_first(
    session: Session,
    Extension(ops): Extension<IntakeOps>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReturnRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = ops
        .return_to_first_level(&session.agent_id, &id, &req.reason)
        .await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContinueRequest {
    existing_id: IntakeId,
}

async fn continue_existing(
    session: Session,
    Extension(ops): Extension<IntakeOps>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ContinueRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = ops
        .continue_existing(&session.agent_id, &id, &req.existing_id)
        .await?;
    Ok(Json(view))
}

/// `{ "customer_id": … }` links an existing customer; `{ "fields": { … } }` creates one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerRequest {
    customer_id: Option<CustomerId>,
    fields: Option<CustomerFields>,
}

async fn customer(
    session: Session,
    Extension(ops): Extension<IntakeOps>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CustomerRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let agent = &session.agent_id;
    let view = match (req.customer_id, req.fields) {
        (Some(c), None) => ops.link_customer(agent, &id, &c).await?,
        (None, Some(fields)) => ops.create_customer(agent, &id, fields).await?,
        _ => {
            return Err(ApiError::Unprocessable(
                "send either customer_id (link) or fields (create), not both or neither".into(),
            )
            .into());
        }
    };
    Ok(Json(view))
}

#[derive(Serialize)]
struct Lists<'a> {
    second_level: &'a [String],
    third_level: &'a [String],
}

async fn lists(_session: Session, Extension(ops): Extension<IntakeOps>) -> Response {
    let (second_level, third_level) = ops.lists();
    Json(Lists {
        second_level,
        third_level,
    })
    .into_response()
}
