//! The intake as integrations see it (the `intake` object of docs/integrations.md, schema
//! version 1), read inside the transaction that changed it so the outbox row carries the state
//! of that moment; and `external_tickets`, the ticket each intake has in a ticket system.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use super::codec::get;
use super::sql::Sql;
use super::{Store, StoreError};
use crate::domain::IntakeId;

/// Someone named on an intake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    /// Our id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// The intake's customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRef {
    /// Our id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Organisation.
    pub organisation: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Main number.
    pub phone: Option<String>,
}

/// The intake's state at the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeSnapshot {
    /// `intake-…`.
    pub id: String,
    /// `FL-2026-00042`.
    pub ticket_no: Option<String>,
    /// The call it came from.
    pub call_id: Option<String>,
    /// `draft`, `open`, `escalated`, `resolved`, `closed`.
    pub status: String,
    /// Support level 1 to 3.
    pub level: i64,
    /// The second-level group or third-level vendor it is with.
    pub group: Option<String>,
    /// `hardware`, `software`, `service`, `unclassified`.
    pub category: String,
    /// 1 (business-critical) to 5 (a question).
    pub priority: Option<i64>,
    /// `nl` or `en`.
    pub language: Option<String>,
    /// The caller's number.
    pub caller: Option<String>,
    /// The IVR choices, e.g. `lang:nl>cat:1>prio:2`.
    pub ivr_path: String,
    /// `phone`, `email`, `desk`.
    pub channel: String,
    /// Short title.
    pub title: Option<String>,
    /// The problem.
    pub description: Option<String>,
    /// The solution, once resolved.
    pub solution: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
    /// Who changed it last.
    pub updated_by: Option<PersonRef>,
    /// Who owns it.
    pub owner: Option<PersonRef>,
    /// The customer.
    pub customer: Option<CustomerRef>,
}

const OP: &str = "intake_snapshot";

/// The intake `id` as it stands in this transaction; `None` when missing.
pub(super) async fn intake_snapshot_on(
    conn: &mut sqlx::AnyConnection,
    id: &IntakeId,
) -> Result<Option<IntakeSnapshot>, StoreError> {
    let row = sqlx::query(
        "SELECT i.id, i.ticket_no, i.call_id, i.status, i.level, i.group_name, i.category, \
         i.priority, i.language, i.caller, i.ivr_path, i.channel, i.title, i.description, \
         i.solution, i.created_at, i.updated_at, i.updated_by, u.name AS updated_by_name, \
         i.owner_id, o.name AS owner_name, i.customer_id, c.name AS customer_name, \
         c.organisation, c.email, c.phone \
         FROM intakes i LEFT JOIN agents u ON u.id = i.updated_by \
         LEFT JOIN agents o ON o.id = i.owner_id LEFT JOIN customers c ON c.id = i.customer_id \
         WHERE i.id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(StoreError::query(OP))?;
    row.map(|r| snapshot_from(&r)).transpose()
}

fn person(id: Option<String>, name: Option<String>) -> Option<PersonRef> {
    id.map(|id| PersonRef {
        name: name.unwrap_or_else(|| id.clone()),
        id,
    })
}

fn snapshot_from(r: &AnyRow) -> Result<IntakeSnapshot, StoreError> {
    let customer = match get::<Option<String>>(r, "customer_id", OP)? {
        Some(id) => Some(CustomerRef {
            name: get::<Option<String>>(r, "customer_name", OP)?.unwrap_or_else(|| id.clone()),
            id,
            organisation: get(r, "organisation", OP)?,
            email: get(r, "email", OP)?,
            phone: get(r, "phone", OP)?,
        }),
        None => None,
    };
    Ok(IntakeSnapshot {
        id: get(r, "id", OP)?,
        ticket_no: get(r, "ticket_no", OP)?,
        call_id: get(r, "call_id", OP)?,
        status: get(r, "status", OP)?,
        level: get(r, "level", OP)?,
        group: get(r, "group_name", OP)?,
        category: get(r, "category", OP)?,
        priority: get(r, "priority", OP)?,
        language: get(r, "language", OP)?,
        caller: get(r, "caller", OP)?,
        ivr_path: get(r, "ivr_path", OP)?,
        channel: get(r, "channel", OP)?,
        title: get(r, "title", OP)?,
        description: get(r, "description", OP)?,
        solution: get(r, "solution", OP)?,
        created_at: get(r, "created_at", OP)?,
        updated_at: get(r, "updated_at", OP)?,
        updated_by: person(get(r, "updated_by", OP)?, get(r, "updated_by_name", OP)?),
        owner: person(get(r, "owner_id", OP)?, get(r, "owner_name", OP)?),
        customer,
    })
}

/// The ticket an intake has in one ticket system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalTicket {
    /// Our intake.
    pub intake_id: String,
    /// The integration target's name.
    pub target: String,
    /// The ticket system's id; `None` while it could not be created.
    pub ticket_ref: Option<String>,
    /// The number people use.
    pub ticket_no: Option<String>,
    /// A link to the ticket.
    pub url: Option<String>,
    /// The last hand-off error, if the last delivery for this intake failed.
    pub error: Option<String>,
    /// Epoch ms.
    pub updated_at: i64,
}

fn ticket_from(r: &AnyRow) -> Result<ExternalTicket, StoreError> {
    const OP: &str = "external_tickets";
    Ok(ExternalTicket {
        intake_id: get(r, "intake_id", OP)?,
        target: get(r, "target", OP)?,
        ticket_ref: get(r, "ticket_ref", OP)?,
        ticket_no: get(r, "ticket_no", OP)?,
        url: get(r, "url", OP)?,
        error: get(r, "error", OP)?,
        updated_at: get(r, "updated_at", OP)?,
    })
}

impl Store {
    /// The intake as integrations see it now (the "test delivery" and tests).
    pub async fn intake_snapshot(
        &self,
        id: &IntakeId,
    ) -> Result<Option<IntakeSnapshot>, StoreError> {
        let mut conn = self.read.acquire().await.map_err(StoreError::query(OP))?;
        intake_snapshot_on(&mut conn, id).await
    }

    /// The ticket `intake` has in `target`.
    pub async fn external_ticket(
        &self,
        intake: &str,
        target: &str,
    ) -> Result<Option<ExternalTicket>, StoreError> {
        let row = sqlx::query(
            "SELECT intake_id, target, ticket_ref, ticket_no, url, error, updated_at \
             FROM external_tickets WHERE intake_id = $1 AND target = $2",
        )
        .bind(intake)
        .bind(target)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("external_ticket"))?;
        row.map(|r| ticket_from(&r)).transpose()
    }

    /// The tickets of each of `intakes` (one query), for the desk's views.
    pub async fn external_tickets_for_intakes(
        &self,
        intakes: &[IntakeId],
    ) -> Result<Vec<ExternalTicket>, StoreError> {
        if intakes.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(
            "SELECT intake_id, target, ticket_ref, ticket_no, url, error, updated_at \
             FROM external_tickets WHERE intake_id IN ",
        );
        sql.list(intakes.iter().map(IntakeId::as_str))
            .push(" ORDER BY intake_id, target");
        let rows = sql
            .query()
            .fetch_all(&self.read)
            .await
            .map_err(StoreError::query("external_tickets_for_intakes"))?;
        rows.iter().map(ticket_from).collect()
    }

    /// Records the ticket created for `intake` in `target` and clears any error.
    pub async fn save_external_ticket(
        &self,
        intake: &str,
        target: &str,
        ticket_ref: &str,
        ticket_no: &str,
        url: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO external_tickets (intake_id, target, ticket_ref, ticket_no, url, \
             created_at, updated_at, error) VALUES ($1, $2, $3, $4, $5, $6, $6, NULL) \
             ON CONFLICT (intake_id, target) DO UPDATE SET ticket_ref = excluded.ticket_ref, \
             ticket_no = excluded.ticket_no, url = excluded.url, updated_at = excluded.updated_at, \
             error = NULL",
        )
        .bind(intake)
        .bind(target)
        .bind(ticket_ref)
        .bind(ticket_no)
        .bind(url)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("save_external_ticket"))?;
        Ok(())
    }

    /// Sets (or with `None` clears) the hand-off error shown on `intake`.
    pub async fn set_external_ticket_error(
        &self,
        intake: &str,
        target: &str,
        error: Option<&str>,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO external_tickets (intake_id, target, created_at, updated_at, error) \
             VALUES ($1, $2, $3, $3, $4) ON CONFLICT (intake_id, target) DO UPDATE SET \
             updated_at = excluded.updated_at, error = excluded.error",
        )
        .bind(intake)
        .bind(target)
        .bind(at)
        .bind(error.map(super::outbox::bounded_error))
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("set_external_ticket_error"))?;
        Ok(())
    }
}
