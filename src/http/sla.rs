//! SLA figures per level and group for supervisors (issue 15): `GET /api/sla` (the open
//! intakes' timers now: running, warning, breached, paused) and `GET /api/reports/sla` (the
//! intakes resolved in a period: met or met late). Computed by `IntakeOps` (docs/sla.md).

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::{Extension, Json};
use serde::Serialize;

use super::auth::{Session, require_role};
use super::intakes::{Reply, query};
use super::reports::{Head, REPORT_ROLES, RangeQuery};
use crate::desk::hub::DeskHub;
use crate::desk::intakes::SlaFigures;

/// `GET /api/sla`: the open intakes' SLA timers per level and group, now.
pub(super) async fn open(
    session: Session,
    Extension(hub): Extension<DeskHub>,
) -> Reply<Json<SlaFigures>> {
    require_role(&session, REPORT_ROLES)?;
    Ok(Json(SlaFigures::clone(&*hub.ops().sla_open().await?)))
}

#[derive(Serialize)]
pub(super) struct ReportBody {
    #[serde(flatten)]
    head: Head,
    #[serde(flatten)]
    figures: SlaFigures,
}

/// `GET /api/reports/sla?from=YYYY-MM-DD&to=YYYY-MM-DD&tz=…`: SLA met and met late per level
/// and group, over the intakes resolved on those days.
pub(super) async fn report(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    q: Result<Query<RangeQuery>, QueryRejection>,
) -> Reply<Json<ReportBody>> {
    require_role(&session, REPORT_ROLES)?;
    let range = query(q)?.range()?;
    let figures = hub
        .ops()
        .sla_resolved(range.start_ms(), range.end_ms())
        .await?;
    Ok(Json(ReportBody {
        head: (&range).into(),
        figures,
    }))
}
