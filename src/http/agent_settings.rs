//! How an agent works, under `/api/agents` (issues 6 and 10): their device (`phone` or the
//! browser softphone; their own, or another agent's by a supervisor, audited) and the desk
//! language they chose. Shapes: docs/api.md.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::agents::{MAX_LOGIN, SUPERVISORS, acd_login, snapshot, state_name};
use super::auth::{Session, require_role};
use super::error::{ApiError, ApiJson};
use crate::call::CallContext;
use crate::desk::intakes::IntakeOps;
use crate::domain::{AgentId, Device, Language};
use crate::store::{AgentRow, now_ms};
use crate::supervisor::SupervisorFeed;

/// `PUT /api/agents/…/device` body; the name is checked by hand so that an unknown device is
/// a 400 (docs/api.md), not a field error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    device: String,
}

#[derive(Serialize)]
pub(super) struct DeviceView {
    device: Device,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit: Option<serde_json::Value>,
}

fn parse_device(name: &str) -> Result<Device, ApiError> {
    Device::parse(name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown device {:?} (expected \"phone\" or \"browser\")",
            name.chars().take(32).collect::<String>()
        ))
    })
}

/// `PUT /api/agents/me/device`: the signed-in agent's own device.
pub(super) async fn set_my_device(
    State(st): State<ApiState>,
    session: Session,
    feed: Option<Extension<SupervisorFeed>>,
    calls: Option<Extension<Arc<CallContext>>>,
    desk: Option<Extension<IntakeOps>>,
    ApiJson(req): ApiJson<DeviceRequest>,
) -> Result<Json<DeviceView>, ApiError> {
    let device = parse_device(&req.device)?;
    let row = st
        .store
        .get_agent(&session.agent_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let reacts = DeviceListeners {
        feed: feed.as_deref(),
        calls: calls.as_deref().map(Arc::as_ref),
        desk: desk.as_deref(),
    };
    change_device(&st, row, device, true, reacts).await?;
    Ok(Json(DeviceView {
        device,
        audit: None,
    }))
}

/// `PUT /api/agents/{id}/device` (supervisor, admin): another agent's device, audited.
pub(super) async fn set_agent_device(
    State(st): State<ApiState>,
    session: Session,
    feed: Option<Extension<SupervisorFeed>>,
    calls: Option<Extension<Arc<CallContext>>>,
    desk: Option<Extension<IntakeOps>>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DeviceRequest>,
) -> Result<Json<DeviceView>, ApiError> {
    require_role(&session, SUPERVISORS)?;
    let device = parse_device(&req.device)?;
    if id.is_empty() || id.len() > MAX_LOGIN {
        return Err(ApiError::NotFound);
    }
    let row = st
        .store
        .get_agent(&AgentId::from_string(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    // Only an agent signed in to the desk enters the queues (as at their own login).
    let signed_in = st.store.has_session(&row.id, now_ms()).await?;
    let (target, from) = (row.id.clone(), row.device);
    let reacts = DeviceListeners {
        feed: feed.as_deref(),
        calls: calls.as_deref().map(Arc::as_ref),
        desk: desk.as_deref(),
    };
    change_device(&st, row, device, signed_in, reacts).await?;
    let details = serde_json::json!({ "from": from, "to": device });
    let audit = crate::supervisor::actions::audit(
        &st.store,
        &session.agent_id,
        "agent_device",
        target.as_str(),
        details,
    )
    .await?;
    Ok(Json(DeviceView {
        device,
        audit: Some(audit),
    }))
}

/// Who learns of a device change at once: the supervisor view, and the calls' cache of how
/// agents are reached (otherwise the next offer could still ring the old device).
#[derive(Clone, Copy)]
struct DeviceListeners<'a> {
    feed: Option<&'a SupervisorFeed>,
    calls: Option<&'a CallContext>,
    /// The desk settings (who takes calls).
    desk: Option<&'a IntakeOps>,
}

/// Stores the new device and applies the queue rule. Switching back to the phone without an
/// extension is refused (409): the queue would keep offering calls the agent cannot take.
/// A `signed_in` agent who switches to the browser and now takes calls enters the queues (as
/// at login; one already in them keeps their state). The supervisor view learns it through `feed` when given.
async fn change_device(
    st: &ApiState,
    row: AgentRow,
    device: Device,
    signed_in: bool,
    reacts: DeviceListeners<'_>,
) -> Result<(), ApiError> {
    if device == Device::Phone && row.device == Device::Browser && row.extension.is_none() {
        let snap = snapshot(&st.acd).await?;
        return Err(ApiError::Conflict {
            message: "no phone extension configured".to_owned(),
            state: state_name(&snap, &row.id),
        });
    }
    let from = row.device;
    if from == device {
        return Ok(());
    }
    if !st.store.set_agent_device(&row.id, device).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(agent = %row.id, %from, to = %device, "agent device changed");
    if let Some(feed) = reacts.feed {
        feed.set_device(row.id.clone(), device);
    }
    if let Some(calls) = reacts.calls {
        calls.extensions.forget(&row.id);
    }
    if signed_in && device == Device::Browser {
        acd_login(&st.acd, &AgentRow { device, ..row }, reacts.desk).await?;
    }
    Ok(())
}

/// `PUT /api/agents/me/language` body: `"nl"`, `"en"` or `null` (the browser's language).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageRequest {
    language: serde_json::Value,
}

#[derive(Serialize)]
pub(super) struct LanguageView {
    language: Option<Language>,
}

/// `PUT /api/agents/me/language`: the desk language the signed-in agent chose.
pub(super) async fn set_my_language(
    State(st): State<ApiState>,
    session: Session,
    ApiJson(req): ApiJson<LanguageRequest>,
) -> Result<Json<LanguageView>, ApiError> {
    let language = match &req.language {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) if s == "nl" => Some(Language::Nl),
        serde_json::Value::String(s) if s == "en" => Some(Language::En),
        other => {
            let shown: String = other.to_string().chars().take(32).collect();
            return Err(ApiError::Unprocessable(format!(
                "language must be \"nl\", \"en\" or null, not {shown}"
            )));
        }
    };
    if !st
        .store
        .set_agent_language(&session.agent_id, language)
        .await?
    {
        return Err(ApiError::Unauthenticated);
    }
    Ok(Json(LanguageView { language }))
}
