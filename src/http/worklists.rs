//! The desk's work lists and second-level actions under `/api` (issue 10): search, the
//! agent's recent calls, the inbox of their groups, and claim, release, notes and reopen on
//! an intake. Rules live in `IntakeOps`; writes publish the new `intake` frame to the agent's
//! desk connections like the WebSocket does. Shapes: docs/api.md.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::auth::Session;
use super::customers::CustomerView;
use super::desk_feed::intake_changed;
use super::error::{ApiError, ApiJson, OptionalApiJson};
use super::intake_list::{owner, short};
use super::intakes::{DeskApiError, Reply, page, query, written};
use crate::desk::hub::DeskHub;
use crate::desk::intakes::{DeskError, InboxQuery, IntakeView, NoteView};
use crate::domain::{CallId, Category, CustomerId, IntakeId, Priority};
use crate::store::{AnsweredCall, GroupCount};

/// Roles that may release someone else's claim.
const SUPERVISORS: &[&str] = &["supervisor", "admin"];
/// Search results per kind when `limit` is not given, and at most.
const SEARCH_LIMIT: u32 = 20;
const MAX_SEARCH_LIMIT: u32 = 50;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    #[serde(default)]
    force: bool,
}

/// `POST /api/intakes/{id}/claim` `{}` or `{ "force": true }` (or no body).
pub(super) async fn claim(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    OptionalApiJson(req): OptionalApiJson<ClaimRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub.ops().claim(&session.agent_id, &id, req.force).await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Empty {}

/// `POST /api/intakes/{id}/release` (no body, or `{}`).
pub(super) async fn release(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    OptionalApiJson(Empty {}): OptionalApiJson<Empty>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let privileged = SUPERVISORS.contains(&session.role.as_str());
    let view = hub
        .ops()
        .release(&session.agent_id, &id, privileged)
        .await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    body: String,
}

/// `POST /api/intakes/{id}/notes` `{ "body": "…" }`: 201 with the note.
pub(super) async fn add_note(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NoteRequest>,
) -> Reply<(StatusCode, Json<NoteView>)> {
    let id = IntakeId::from_string(id);
    let (note, view) = hub
        .ops()
        .add_note(&session.agent_id, &id, &req.body)
        .await?;
    intake_changed(&hub, &session.agent_id, &view, false).await;
    Ok((StatusCode::CREATED, Json(note)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    reason: String,
}

/// `POST /api/intakes/{id}/reopen` `{ "reason": "…" }`.
pub(super) async fn reopen(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReopenRequest>,
) -> Reply<Json<IntakeView>> {
    let id = IntakeId::from_string(id);
    let view = hub
        .ops()
        .reopen(&session.agent_id, &id, &req.reason)
        .await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    q: Option<String>,
    limit: Option<u32>,
}

/// A customer in the search results, with their draft, open and escalated intakes counted.
#[derive(Serialize)]
struct FoundCustomer {
    #[serde(flatten)]
    customer: CustomerView,
    open_intakes: i64,
}

#[derive(Serialize)]
pub(super) struct SearchResults {
    customers: Vec<FoundCustomer>,
    intakes: Vec<IntakeView>,
}

/// `GET /api/search?q=&limit=`.
pub(super) async fn search(
    _session: Session,
    Extension(hub): Extension<DeskHub>,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Reply<Json<SearchResults>> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(SEARCH_LIMIT);
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(ApiError::Unprocessable(format!(
            "limit must be 1 to {MAX_SEARCH_LIMIT}, not {limit}"
        ))
        .into());
    }
    let text = q.q.unwrap_or_default();
    let found = hub.ops().search(&text, i64::from(limit)).await?;
    Ok(Json(SearchResults {
        customers: found
            .customers
            .into_iter()
            .map(|(c, n)| FoundCustomer {
                customer: c.into(),
                open_intakes: n,
            })
            .collect(),
        intakes: found.intakes,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InboxParams {
    group: Option<String>,
    owner: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    open: i64,
    unclaimed: i64,
}

#[derive(Serialize)]
pub(super) struct InboxView {
    groups: Vec<GroupView>,
    intakes: Vec<IntakeView>,
}

/// `GET /api/me/inbox?group=&owner=&limit=&offset=`.
pub(super) async fn inbox(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    q: Result<Query<InboxParams>, QueryRejection>,
) -> Reply<Json<InboxView>> {
    let q = query(q)?;
    let (limit, offset) = page(q.limit, q.offset)?;
    let agent = hub
        .store()
        .get_agent(&session.agent_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let wanted = InboxQuery {
        group: short("group", q.group)?,
        owner: owner(q.owner.as_deref(), &session.agent_id, false)?,
        limit,
        offset,
    };
    let found = hub.ops().inbox(&agent, wanted).await?;
    Ok(Json(InboxView {
        groups: found
            .groups
            .into_iter()
            .map(
                |GroupCount {
                     name,
                     open,
                     unclaimed,
                 }| GroupView {
                    name,
                    open,
                    unclaimed,
                },
            )
            .collect(),
        intakes: found.intakes,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageParams {
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Serialize)]
struct CallIntakeView {
    id: IntakeId,
    ticket_no: Option<String>,
    title: Option<String>,
    status: &'static str,
    level: u8,
}

#[derive(Serialize)]
pub(super) struct MyCallView {
    call_id: CallId,
    arrived_at: i64,
    connected_at: i64,
    ended_at: Option<i64>,
    caller: String,
    customer_id: Option<CustomerId>,
    customer_name: Option<String>,
    category: Option<Category>,
    priority: Option<Priority>,
    outcome: String,
    intake: Option<CallIntakeView>,
}

impl From<AnsweredCall> for MyCallView {
    fn from(c: AnsweredCall) -> Self {
        MyCallView {
            call_id: c.call_id,
            arrived_at: c.arrived_at,
            connected_at: c.connected_at,
            ended_at: c.ended_at,
            caller: c.caller,
            customer_id: c.customer_id,
            customer_name: c.customer_name,
            category: c.category,
            priority: c.priority,
            outcome: c.outcome,
            intake: c.intake.map(|i| CallIntakeView {
                id: i.id,
                ticket_no: i.ticket_no,
                title: i.title,
                status: i.status.as_str(),
                level: i.level,
            }),
        }
    }
}

/// `GET /api/me/calls?limit=&offset=`: the signed-in agent's answered calls, newest first.
pub(super) async fn my_calls(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Vec<MyCallView>>, DeskApiError> {
    let q = query(q)?;
    let (limit, offset) = page(q.limit, q.offset)?;
    let calls = hub
        .store()
        .answered_calls(&session.agent_id, limit, offset)
        .await
        .map_err(DeskError::from)?;
    Ok(Json(calls.into_iter().map(MyCallView::from).collect()))
}
