//! The intakes API under `/api` (issues 4 and 10): fetch, open by hand, edit, resolve,
//! escalate, return, continue, link or create the customer, and the escalation lists; the
//! filtered list is `intake_list.rs`, claims, notes, reopening, search and the inbox are
//! `worklists.rs`. Every rule lives in [`IntakeOps`]; this file maps HTTP to it, and every
//! write publishes the new `intake` frame to the agent's desk connections (`desk_feed.rs`).
//! Shapes: docs/api.md.

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Session;
use super::desk_feed::intake_changed;
use super::error::{ApiError, ApiJson, BODY_LIMIT};
use super::{intake_list, sla, vendor_cases, worklists};
use crate::desk::hub::DeskHub;
use crate::desk::intakes::{CustomerFields, DeskError, IntakeFields, IntakeView};
use crate::domain::{Category, CustomerId, IntakeId, Priority};

/// Largest page of a list.
pub(super) const MAX_LIMIT: u32 = 200;
/// Page size when `limit` is not given.
pub(super) const DEFAULT_LIMIT: u32 = 50;
/// Longest short query parameter (group, caller, agent id, search text), in characters.
pub(super) const MAX_NAME_PARAM: usize = 200;

/// The `/api/intakes…`, `/api/search`, `/api/me/inbox`, `/api/me/calls` and
/// `/api/desk/lists` routes; the hub (with its `IntakeOps`) reaches the handlers as an
/// extension.
pub(super) fn router(state: ApiState, hub: DeskHub) -> Router {
    Router::new()
        .route("/api/intakes", get(intake_list::list).post(open_manual))
        .route("/api/intakes/{id}", get(fetch).patch(update))
        .route("/api/intakes/{id}/resolve", post(resolve))
        .route("/api/intakes/{id}/escalate", post(escalate))
        .route("/api/intakes/{id}/return", post(return_to_first))
        .route("/api/intakes/{id}/reassign", post(reassign))
        .route("/api/intakes/{id}/continue", post(continue_existing))
        .route("/api/intakes/{id}/customer", post(customer))
        .route("/api/intakes/{id}/claim", post(worklists::claim))
        .route("/api/intakes/{id}/release", post(worklists::release))
        .route("/api/intakes/{id}/notes", post(worklists::add_note))
        .route("/api/intakes/{id}/reopen", post(worklists::reopen))
        .route("/api/search", get(worklists::search))
        .route("/api/me/inbox", get(worklists::inbox))
        .route("/api/me/calls", get(worklists::my_calls))
        .route("/api/desk/lists", get(lists))
        .route("/api/vendor-cases/{id}", patch(vendor_cases::update))
        .route("/api/vendor-cases/{id}/close", post(vendor_cases::close))
        .route("/api/me/follow-ups", get(vendor_cases::mine))
        .route("/api/sla", get(sla::open))
        .route("/api/reports/sla", get(sla::report))
        .layer(Extension(hub))
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
            DeskApiError::Desk(DeskError::Conflict(_) | DeskError::EditConflict(_)) => {
                Some(StatusCode::CONFLICT)
            }
            DeskApiError::Desk(DeskError::Forbidden(_)) => Some(StatusCode::FORBIDDEN),
            DeskApiError::Desk(DeskError::Store(_)) => None,
        };
        match (status, self) {
            (_, DeskApiError::Desk(DeskError::EditConflict(c))) => (
                StatusCode::CONFLICT,
                Json(serde_json::json!({
                    "error": DeskError::EditConflict(c.clone()).to_string(),
                    "field": c.field, "by": c.by, "current": c.current,
                })),
            )
                .into_response(),
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

pub(super) type Reply<T> = Result<T, DeskApiError>;

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

async fn fetch(
    _session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
) -> Reply<Json<IntakeView>> {
    Ok(Json(hub.ops().view(&IntakeId::from_string(id)).await?))
}

/// Publishes the written intake to the agent's desk and answers with it.
pub(super) async fn written(
    hub: &DeskHub,
    session: &Session,
    view: IntakeView,
) -> Json<IntakeView> {
    intake_changed(hub, &session.agent_id, &view, false).await;
    Json(view)
}

/// `POST /api/intakes`: an intake opened by hand, with optional first fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIntakeRequest {
    channel: String,
    customer_id: Option<CustomerId>,
    title: Option<String>,
    description: Option<String>,
    category: Option<Category>,
    priority: Option<Priority>,
}

async fn open_manual(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    ApiJson(req): ApiJson<NewIntakeRequest>,
) -> Reply<(StatusCode, Json<IntakeView>)> {
    let ops = hub.ops();
    let agent = &session.agent_id;
    let fields = IntakeFields {
        title: req.title,
        description: req.description,
        category: req.category,
        priority: req.priority,
        base: None,
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
    Ok((StatusCode::CREATED, written(&hub, &session, view).await))
}

async fn update(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<IntakeFields>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub.ops().update(&session.agent_id, &id, fields).await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    solution: String,
}

async fn resolve(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ResolveRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub
        .ops()
        .resolve(&session.agent_id, &id, &req.solution)
        .await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    to_level: u8,
    target: String,
    reason: String,
    #[serde(default)]
    case_ref: Option<String>,
}

async fn escalate(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EscalateRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub
        .ops()
        .escalate(
            &session.agent_id,
            &id,
            req.to_level,
            &req.target,
            &req.reason,
            req.case_ref.as_deref(),
        )
        .await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    reason: String,
}

async fn return_to_first(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReturnRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub
        .ops()
        .return_to_first_level(&session.agent_id, &id, &req.reason)
        .await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReassignRequest {
    group: String,
    reason: String,
}

/// `POST /api/intakes/{id}/reassign` `{ "group", "reason" }`: to another second-level group.
async fn reassign(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReassignRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub
        .ops()
        .reassign(&session.agent_id, &id, &req.group, &req.reason)
        .await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinueRequest {
    existing_id: IntakeId,
}

async fn continue_existing(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ContinueRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub
        .ops()
        .continue_existing(&session.agent_id, &id, &req.existing_id)
        .await?;
    Ok(written(&hub, &session, view).await)
}

/// `{ "customer_id": … }` links an existing customer; `{ "fields": { … } }` creates one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    customer_id: Option<CustomerId>,
    fields: Option<CustomerFields>,
}

async fn customer(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CustomerRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let agent = &session.agent_id;
    let ops = hub.ops();
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
    // A link or a new customer changes who the pop shows: the customer frame follows.
    intake_changed(&hub, agent, &view, true).await;
    Ok(Json(view))
}

#[derive(Serialize)]
struct Lists<'a> {
    second_level: &'a [String],
    third_level: &'a [String],
    /// `[desk] time_zone`: the desk shows dates and times in it.
    time_zone: &'a str,
    /// `[desk] second_level_takes_calls`: the desk offers "Available" to the second level.
    second_level_takes_calls: bool,
}

async fn lists(_session: Session, Extension(hub): Extension<DeskHub>) -> Response {
    let ops = hub.ops();
    let targets = ops.lists();
    Json(Lists {
        second_level: &targets.second_level,
        third_level: &targets.third_level,
        time_zone: ops.time_zone(),
        second_level_takes_calls: ops.second_level_takes_calls(),
    })
    .into_response()
}
