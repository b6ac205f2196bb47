//! Calls to the outside from the desk (issue 15): `POST /api/intakes/{id}/call` (click-to-call:
//! the agent's phone rings, then the customer is dialled through the trunk), the intake's
//! outbound calls, and one outbound call's record. Only numbers of the intake (its caller, its
//! customer's numbers) may be dialled: the desk is not an open line to anywhere (toll fraud).

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::Session;
use super::error::{ApiError, ApiJson};
use crate::call::CallContext;
use crate::call::click_to_call::{self, ClickToCallError};
use crate::desk::hub::DeskHub;
use crate::domain::IntakeId;
use crate::store::OutboundCallRow;

/// The routes; the call context and the desk hub reach the handlers as extensions.
pub(super) fn router(state: ApiState, calls: Arc<CallContext>, hub: DeskHub) -> Router {
    Router::new()
        .route("/api/intakes/{id}/call", post(call_customer))
        .route("/api/intakes/{id}/calls", get(intake_calls))
        .route("/api/outbound-calls/{id}", get(one))
        .route("/api/desk/outbound", get(available))
        .layer(Extension(calls))
        .layer(Extension(hub))
        .with_state(state)
}

/// `{ "number": "+31…" }` (`{}` for the default): one of the intake's numbers; default its
/// caller's, else its customer's main number.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CallBody {
    number: Option<String>,
}

#[derive(Serialize)]
struct Started {
    id: String,
    number: String,
    status: &'static str,
}

impl From<ClickToCallError> for ApiError {
    fn from(e: ClickToCallError) -> Self {
        match e {
            ClickToCallError::NotDialable(_) => ApiError::Unprocessable(e.to_string()),
            ClickToCallError::Store(s) => ApiError::Store(s),
            ClickToCallError::NoTrunk
            | ClickToCallError::NotPhone
            | ClickToCallError::NotRegistered
            | ClickToCallError::Busy(_) => ApiError::Conflict {
                message: e.to_string(),
                state: "outbound",
            },
        }
    }
}

async fn call_customer(
    session: Session,
    Extension(calls): Extension<Arc<CallContext>>,
    Extension(hub): Extension<DeskHub>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CallBody>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let intake = IntakeId::from_string(id);
    let view = hub.ops().view(&intake).await.map_err(|e| match e {
        crate::desk::intakes::DeskError::NotFound(_) => ApiError::NotFound,
        other => ApiError::Unprocessable(other.to_string()),
    })?;
    let cc = &calls.default_country_code;
    let norm = |n: &str| crate::phone::normalize(n, cc).ok().map(|e| e.into_string());
    let mut allowed: Vec<String> = view.caller.iter().filter_map(|n| norm(n)).collect();
    if let Some(customer) = &view.customer_id
        && let Some(c) = calls.store.get_customer(customer).await?
    {
        allowed.extend(
            c.phone
                .iter()
                .chain(&c.extra_phones)
                .filter_map(|n| norm(n)),
        );
    }
    let number = match body.number.as_deref() {
        None => allowed.first().cloned().ok_or_else(|| {
            ApiError::Unprocessable("this intake has no phone number to call".into())
        })?,
        Some(n) => match norm(n) {
            Some(n) if allowed.contains(&n) => n,
            _ => {
                return Err(ApiError::Unprocessable(
                    "number: only the intake's caller or its customer's numbers can be called"
                        .into(),
                ));
            }
        },
    };
    let id = click_to_call::start(&calls, &session.agent_id, Some(intake), &number).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Started {
            id,
            number,
            status: "ringing_agent",
        }),
    ))
}

#[derive(Serialize)]
struct Available {
    /// A trunk is configured: the desk offers "call the customer".
    trunk: bool,
}

/// `GET /api/desk/outbound`: whether calls to the outside are possible.
async fn available(
    _session: Session,
    Extension(calls): Extension<Arc<CallContext>>,
) -> Json<Available> {
    Json(Available {
        trunk: calls.trunk.is_some(),
    })
}

async fn intake_calls(
    _session: Session,
    Extension(calls): Extension<Arc<CallContext>>,
    Path(id): Path<String>,
) -> Result<Json<Vec<OutboundCallRow>>, ApiError> {
    let rows = calls
        .store
        .outbound_calls_for_intake(&IntakeId::from_string(id))
        .await?;
    Ok(Json(rows))
}

async fn one(
    _session: Session,
    Extension(calls): Extension<Arc<CallContext>>,
    Path(id): Path<String>,
) -> Result<Json<OutboundCallRow>, ApiError> {
    match calls.store.get_outbound_call(&id).await? {
        Some(row) => Ok(Json(row)),
        None => Err(ApiError::NotFound),
    }
}
