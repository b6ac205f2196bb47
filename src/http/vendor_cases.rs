//! The third level's records under `/api` (issue 15): keeping a vendor case up to date,
//! closing it, and the signed-in agent's due follow-ups. Rules live in `IntakeOps`
//! (`desk/intakes/vendor.rs`); writes publish the intake to the desks like every intake write.
//! Shapes: docs/api.md.

use axum::extract::Path;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::auth::Session;
use super::error::ApiJson;
use super::intakes::{Reply, written};
use crate::desk::hub::DeskHub;
use crate::desk::intakes::{IntakeView, VendorCaseFields};
use crate::store::{VendorCase, now_ms};

/// Case ids are `vc-` and hex digits; anything longer is refused before the store sees it.
const MAX_CASE_ID: usize = 64;

fn case_id(id: &str) -> Result<&str, super::error::ApiError> {
    if id.len() > MAX_CASE_ID {
        return Err(super::error::ApiError::NotFound);
    }
    Ok(id)
}

/// `PATCH /api/vendor-cases/{id}`: any of `case_ref`, `contact`, `promised_at`,
/// `follow_up_at` (epoch ms), `answer` (the vendor's answer, kept as a note).
pub(super) async fn update(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<VendorCaseFields>,
) -> Reply<Json<IntakeView>> {
    let id = case_id(&id)?;
    let view = hub
        .ops()
        .edit_vendor_case(&session.agent_id, id, fields)
        .await?;
    Ok(written(&hub, &session, view).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CloseRequest {
    outcome: String,
}

/// `POST /api/vendor-cases/{id}/close` `{ "outcome": "…" }`: the intake goes back to its owner.
pub(super) async fn close(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CloseRequest>,
) -> Reply<Json<IntakeView>> {
    let id = case_id(&id)?;
    let view = hub
        .ops()
        .close_vendor_case(&session.agent_id, id, &req.outcome)
        .await?;
    Ok(written(&hub, &session, view).await)
}

/// One due follow-up of the agent.
#[derive(Serialize)]
pub(super) struct FollowUpView {
    ticket_no: Option<String>,
    #[serde(flatten)]
    case: VendorCase,
}

/// `GET /api/me/follow-ups`: the agent's open vendor cases whose follow-up date has come.
pub(super) async fn mine(
    session: Session,
    Extension(hub): Extension<DeskHub>,
) -> Reply<Json<Vec<FollowUpView>>> {
    let due = hub
        .store()
        .follow_ups_for(&session.agent_id, now_ms())
        .await?;
    Ok(Json(
        due.into_iter()
            .map(|d| FollowUpView {
                ticket_no: d.ticket_no,
                case: d.case,
            })
            .collect(),
    ))
}
