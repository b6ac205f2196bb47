//! The integrations API (docs/api.md "Integrations"): every target with its outbox counts,
//! its deliveries by state (dead letters with the receiver's answer), retrying one or all dead
//! rows, pausing and resuming a target, a test delivery; and an intake's tickets in the ticket
//! systems with the caller's other open tickets there (the screen pop). Supervisors and
//! admins read and retry; pausing and testing are the admin's.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::{Session, require_role};
use super::error::ApiError;
use crate::domain::IntakeId;
use crate::integrations::retry::Outcome;
use crate::integrations::{Adapter, Integrations, TargetStatus, wire};
use crate::store::{DeliveryState, ExternalTicket, IntakeSnapshot, OutboxRow};

const ADMINS: &[&str] = &["admin"];
const WATCHERS: &[&str] = &["supervisor", "admin"];
const DESK: &[&str] = &["agent", "supervisor", "admin"];
/// Open tickets of the caller shown per ticket system.
const OPEN_TICKETS: usize = 10;

/// The `/api/admin/integrations…` and `/api/intakes/{id}/tickets` routes.
pub(super) fn router(state: ApiState, integrations: Integrations) -> Router {
    Router::new()
        .route("/api/admin/integrations", get(list))
        .route("/api/admin/integrations/{name}/deliveries", get(deliveries))
        .route(
            "/api/admin/integrations/{name}/deliveries/{seq}/retry",
            post(retry_one),
        )
        .route(
            "/api/admin/integrations/{name}/retry-dead",
            post(retry_dead),
        )
        .route("/api/admin/integrations/{name}/pause", post(pause))
        .route("/api/admin/integrations/{name}/resume", post(resume))
        .route("/api/admin/integrations/{name}/test", post(test))
        .route("/api/intakes/{id}/tickets", get(intake_tickets))
        .layer(Extension(integrations))
        .with_state(state)
}

fn target_of<'a>(
    i: &'a Integrations,
    name: &str,
) -> Result<&'a std::sync::Arc<crate::integrations::Target>, ApiError> {
    i.target(name).ok_or(ApiError::NotFound)
}

async fn list(
    session: Session,
    Extension(i): Extension<Integrations>,
) -> Result<Json<Vec<TargetStatus>>, ApiError> {
    require_role(&session, WATCHERS)?;
    Ok(Json(i.status().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    /// `pending`, `delivered` or `dead` (default).
    state: Option<String>,
    /// Rows before this `seq` (paging, newest first).
    before: Option<i64>,
    /// At most this many (default 50, at most 200).
    limit: Option<i64>,
}

/// A delivery row with its event as the receiver gets it.
#[derive(Serialize)]
struct DeliveryView {
    #[serde(flatten)]
    row: OutboxRow,
    event: serde_json::Value,
}

async fn deliveries(
    State(st): State<ApiState>,
    session: Session,
    Extension(i): Extension<Integrations>,
    Path(name): Path<String>,
    q: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    require_role(&session, WATCHERS)?;
    let target = target_of(&i, &name)?;
    let Query(q) = q.map_err(|r| ApiError::Unprocessable(r.body_text()))?;
    let state = match q.state.as_deref().unwrap_or("dead") {
        "pending" => DeliveryState::Pending,
        "delivered" => DeliveryState::Delivered,
        "dead" => DeliveryState::Dead,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "state must be pending, delivered or dead, not {other:?}"
            )));
        }
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let public_url = public_url_of(target);
    let rows = st
        .store
        .outbox_list(&target.name, state, q.before, limit)
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| DeliveryView {
                event: wire::envelope(&row, &public_url),
                row,
            })
            .collect(),
    ))
}

fn public_url_of(t: &crate::integrations::Target) -> String {
    match &t.adapter {
        Adapter::Webhook(w) => w.public_url.clone(),
        _ => String::new(),
    }
}

#[derive(Serialize)]
struct Requeued {
    requeued: u64,
}

async fn retry_one(
    State(st): State<ApiState>,
    session: Session,
    Extension(i): Extension<Integrations>,
    Path((name, seq)): Path<(String, i64)>,
) -> Result<Json<Requeued>, ApiError> {
    require_role(&session, WATCHERS)?;
    let target = target_of(&i, &name)?;
    if !st
        .store
        .outbox_requeue(&target.name, seq, crate::store::now_ms())
        .await?
    {
        return Err(ApiError::NotFound);
    }
    tracing::info!(target = %name, seq, by = %session.agent_id, "dead delivery requeued");
    Ok(Json(Requeued { requeued: 1 }))
}

async fn retry_dead(
    State(st): State<ApiState>,
    session: Session,
    Extension(i): Extension<Integrations>,
    Path(name): Path<String>,
) -> Result<Json<Requeued>, ApiError> {
    require_role(&session, WATCHERS)?;
    let target = target_of(&i, &name)?;
    let n = st
        .store
        .outbox_requeue_all(&target.name, crate::store::now_ms())
        .await?;
    tracing::info!(target = %name, rows = n, by = %session.agent_id, "dead deliveries requeued");
    Ok(Json(Requeued { requeued: n }))
}

#[derive(Serialize)]
struct Paused {
    name: String,
    paused: bool,
}

async fn set_paused(
    session: &Session,
    i: &Integrations,
    name: String,
    paused: bool,
) -> Result<Json<Paused>, ApiError> {
    require_role(session, ADMINS)?;
    if !i
        .set_paused(&name, paused, session.agent_id.as_str())
        .await?
    {
        return Err(ApiError::NotFound);
    }
    Ok(Json(Paused { name, paused }))
}

async fn pause(
    session: Session,
    Extension(i): Extension<Integrations>,
    Path(name): Path<String>,
) -> Result<Json<Paused>, ApiError> {
    set_paused(&session, &i, name, true).await
}

async fn resume(
    session: Session,
    Extension(i): Extension<Integrations>,
    Path(name): Path<String>,
) -> Result<Json<Paused>, ApiError> {
    set_paused(&session, &i, name, false).await
}

/// The answer of a test delivery.
#[derive(Serialize)]
struct TestResult {
    ok: bool,
    status: Option<u16>,
    message: String,
}

async fn test(
    session: Session,
    Extension(i): Extension<Integrations>,
    Path(name): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    require_role(&session, ADMINS)?;
    let outcome = i.test(&name).await.ok_or(ApiError::NotFound)?;
    Ok(Json(match outcome {
        Outcome::Delivered { status } => TestResult {
            ok: true,
            status,
            message: "delivered".to_owned(),
        },
        Outcome::Retry { status, error, .. } | Outcome::Refused { status, error } => TestResult {
            ok: false,
            status,
            message: error,
        },
    }))
}

/// An intake's tickets elsewhere, and the caller's other open tickets there.
#[derive(Serialize)]
struct IntakeTickets {
    tickets: Vec<ExternalTicket>,
    /// Per ticket system: the caller's open tickets, or why they could not be read.
    open_elsewhere: Vec<OpenElsewhere>,
}

#[derive(Serialize)]
struct OpenElsewhere {
    target: String,
    tickets: Vec<crate::integrations::rt::OpenTicket>,
    error: Option<String>,
}

async fn intake_tickets(
    State(st): State<ApiState>,
    session: Session,
    Extension(i): Extension<Integrations>,
    Path(id): Path<String>,
) -> Result<Json<IntakeTickets>, ApiError> {
    require_role(&session, DESK)?;
    if id.len() > 200 {
        return Err(ApiError::NotFound);
    }
    let id = IntakeId::from_string(id);
    let intake: IntakeSnapshot = st
        .store
        .intake_snapshot(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let tickets = st
        .store
        .external_tickets_for_intakes(std::slice::from_ref(&id))
        .await?;
    let email = intake.customer.as_ref().and_then(|c| c.email.clone());
    let mut open_elsewhere = Vec::new();
    for t in i.targets() {
        let Some(email) = &email else { break };
        let found = match &t.adapter {
            Adapter::Rt(rt) => rt.open_tickets(email, OPEN_TICKETS).await,
            // Zammad's ticket search is not read (docs/zammad.md); webhooks have no tickets.
            Adapter::Zammad(_) | Adapter::Webhook(_) => continue,
        };
        let own: Vec<&str> = tickets
            .iter()
            .filter(|x| x.target == t.name)
            .filter_map(|x| x.ticket_ref.as_deref())
            .collect();
        open_elsewhere.push(match found {
            Ok(list) => OpenElsewhere {
                target: t.name.clone(),
                tickets: list
                    .into_iter()
                    .filter(|o| !own.contains(&o.id.as_str()))
                    .collect(),
                error: None,
            },
            Err(e) => OpenElsewhere {
                target: t.name.clone(),
                tickets: Vec::new(),
                error: Some(e),
            },
        });
    }
    Ok(Json(IntakeTickets {
        tickets,
        open_elsewhere,
    }))
}
