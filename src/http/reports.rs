//! Reports and CSV exports under `/api` (issue 5 point 4), for supervisors and admins:
//! `GET /api/reports/daily`, `GET /api/reports/agents`, `GET /api/export/{calls,intakes,
//! escalations}.csv`. Figures come from `store::reports`; shapes and formulas: docs/api.md.

mod csv;
#[cfg(test)]
mod tests;

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::{Session, require_role};
use super::error::ApiError;
use super::intakes::query;
use crate::store::{
    AgentFigures, Date, DayReport, ExportTable, MAX_REPORT_DAYS, ReportRange, Zone, now_ms,
};

/// Roles that may read reports and exports.
pub(super) const REPORT_ROLES: &[&str] = &["supervisor", "admin"];
/// The zone used when a request names none.
const DEFAULT_ZONE: &str = "Europe/Amsterdam";
/// The tests' service-level threshold (the server passes `[supervisor] service_level_threshold_secs`).
#[cfg(test)]
pub(super) const DEFAULT_THRESHOLD: Duration = Duration::from_secs(20);

/// The service-level threshold the daily report uses.
#[derive(Debug, Clone, Copy)]
struct Threshold(Duration);

/// The `/api/reports/…` and `/api/export/…` routes; `threshold` bounds "answered within".
pub(super) fn router(state: ApiState, threshold: Duration) -> Router {
    Router::new()
        .route("/api/reports/daily", get(daily))
        .route("/api/reports/agents", get(agents))
        .route("/api/export/calls.csv", get(export_calls))
        .route("/api/export/intakes.csv", get(export_intakes))
        .route("/api/export/escalations.csv", get(export_escalations))
        .layer(Extension(Threshold(threshold)))
        .with_state(state)
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=…` (both days inclusive).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RangeQuery {
    from: String,
    to: String,
    tz: Option<String>,
}

impl RangeQuery {
    pub(super) fn range(&self) -> Result<ReportRange, ApiError> {
        let day = |name: &str, value: &str| {
            Date::parse(value).ok_or_else(|| {
                ApiError::Unprocessable(format!("{name} must be a date YYYY-MM-DD, not {value:?}"))
            })
        };
        let first = day("from", &self.from)?;
        let last = day("to", &self.to)?;
        let tz = self.tz.as_deref().unwrap_or(DEFAULT_ZONE);
        let zone = Zone::parse(tz).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "tz must be UTC, Europe/Amsterdam, Europe/Brussels or an offset like +02:00, \
                 not {tz:?}"
            ))
        })?;
        ReportRange::new(first, last, zone).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "to must not be before from, and the range at most {MAX_REPORT_DAYS} days"
            ))
        })
    }
}

/// The echo of the request that heads every report.
#[derive(Serialize)]
pub(super) struct Head {
    from: String,
    to: String,
    tz: String,
}

impl From<&ReportRange> for Head {
    fn from(r: &ReportRange) -> Self {
        Head {
            from: r.first.to_string(),
            to: r.last.to_string(),
            tz: r.zone.to_string(),
        }
    }
}

#[derive(Serialize)]
struct DailyBody {
    #[serde(flatten)]
    head: Head,
    threshold_s: u64,
    days: Vec<DayReport>,
}

#[derive(Serialize)]
struct AgentsBody {
    #[serde(flatten)]
    head: Head,
    agents: Vec<AgentFigures>,
}

/// Checks the role and the range of a report request.
fn admit(
    session: &Session,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<ReportRange, ApiError> {
    require_role(session, REPORT_ROLES)?;
    query(q)?.range()
}

async fn daily(
    State(st): State<ApiState>,
    session: Session,
    Extension(Threshold(threshold)): Extension<Threshold>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<DailyBody>, ApiError> {
    let range = admit(&session, q)?;
    let threshold_ms = i64::try_from(threshold.as_millis()).unwrap_or(i64::MAX);
    let days = st.store.daily_report(&range, threshold_ms).await?;
    Ok(Json(DailyBody {
        head: (&range).into(),
        threshold_s: threshold.as_secs(),
        days,
    }))
}

async fn agents(
    State(st): State<ApiState>,
    session: Session,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Json<AgentsBody>, ApiError> {
    let range = admit(&session, q)?;
    let agents = st.store.agent_report(&range, now_ms()).await?;
    Ok(Json(AgentsBody {
        head: (&range).into(),
        agents,
    }))
}

/// A CSV download named `<what>_<from>_<to>.csv` (RFC 4180 §3 media type `text/csv`).
fn csv_response(what: &str, range: &ReportRange, table: &ExportTable) -> Response {
    let body = csv::encode(table);
    let name = format!("{what}_{}_{}.csv", range.first, range.last);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn export_calls(
    State(st): State<ApiState>,
    session: Session,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let range = admit(&session, q)?;
    let table = st.store.export_calls(&range).await?;
    Ok(csv_response("calls", &range, &table))
}

async fn export_intakes(
    State(st): State<ApiState>,
    session: Session,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let range = admit(&session, q)?;
    let table = st.store.export_intakes(&range).await?;
    Ok(csv_response("intakes", &range, &table))
}

async fn export_escalations(
    State(st): State<ApiState>,
    session: Session,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let range = admit(&session, q)?;
    let table = st.store.export_escalations(&range).await?;
    Ok(csv_response("escalations", &range, &table))
}
