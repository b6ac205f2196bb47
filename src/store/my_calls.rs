//! An agent's answered calls, newest first, with the customer's name and a summary of the
//! intake each call is about (the rule of `Store::intake_record_for_call`), in three queries
//! per page (calls with names; the calls' intakes; their summaries).

use std::collections::HashMap;

use super::codec::{category_from, get, priority_from};
use super::intakes::IntakeStatus;
use super::sql::Sql;
use super::{Store, StoreError};
use crate::domain::{AgentId, CallId, Category, CustomerId, IntakeId, Priority};

/// An answered call of the agent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnsweredCall {
    /// The call.
    pub call_id: CallId,
    /// Epoch ms of the INVITE.
    pub arrived_at: i64,
    /// Epoch ms the agent answered.
    pub connected_at: i64,
    /// Epoch ms of the hang-up; `None` while in progress.
    pub ended_at: Option<i64>,
    /// The caller's number.
    pub caller: String,
    /// The identified customer.
    pub customer_id: Option<CustomerId>,
    /// Their name.
    pub customer_name: Option<String>,
    /// The queue.
    pub category: Option<Category>,
    /// The priority.
    pub priority: Option<Priority>,
    /// `answered`, or `in_progress` while it lasts.
    pub outcome: String,
    /// The intake the call is about.
    pub intake: Option<CallIntake>,
}

/// The intake of a call, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallIntake {
    /// `intakes.id`.
    pub id: IntakeId,
    /// `FL-…`.
    pub ticket_no: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Status.
    pub status: IntakeStatus,
    /// Support level.
    pub level: u8,
}

impl Store {
    /// A page of the calls `agent` answered, newest answer first.
    pub async fn answered_calls(
        &self,
        agent: &AgentId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AnsweredCall>, StoreError> {
        const OP: &str = "answered_calls";
        let rows = sqlx::query(
            "SELECT c.id, c.arrived_at, c.connected_at, c.ended_at, c.caller, c.customer_id, \
             cu.name AS customer_name, c.category, c.priority, c.outcome FROM calls c \
             LEFT JOIN customers cu ON cu.id = c.customer_id \
             WHERE c.agent_id = $1 AND c.connected_at IS NOT NULL \
             ORDER BY c.connected_at DESC, c.id DESC LIMIT $2 OFFSET $3",
        )
        .bind(agent.as_str())
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let mut calls = Vec::with_capacity(rows.len());
        for r in &rows {
            calls.push(AnsweredCall {
                call_id: CallId::from_string(get::<String>(r, "id", OP)?),
                arrived_at: get(r, "arrived_at", OP)?,
                connected_at: get(r, "connected_at", OP)?,
                ended_at: get(r, "ended_at", OP)?,
                caller: get(r, "caller", OP)?,
                customer_id: get::<Option<String>>(r, "customer_id", OP)?
                    .map(CustomerId::from_string),
                customer_name: get(r, "customer_name", OP)?,
                category: get::<Option<String>>(r, "category", OP)?
                    .map(|c| category_from(c, "calls.category"))
                    .transpose()?,
                priority: priority_from(get(r, "priority", OP)?, "calls.priority")?,
                outcome: get(r, "outcome", OP)?,
                intake: None,
            });
        }
        let ids: Vec<CallId> = calls.iter().map(|c| c.call_id.clone()).collect();
        let of_call = self.intake_ids_for_calls(&ids).await?;
        let summaries = self.intake_summaries(of_call.values()).await?;
        for call in &mut calls {
            call.intake = of_call
                .get(&call.call_id)
                .and_then(|id| summaries.get(id))
                .cloned();
        }
        Ok(calls)
    }

    async fn intake_summaries<'a>(
        &self,
        ids: impl Iterator<Item = &'a IntakeId>,
    ) -> Result<HashMap<IntakeId, CallIntake>, StoreError> {
        const OP: &str = "intake_summaries";
        let ids: Vec<&str> = ids.map(IntakeId::as_str).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql =
            Sql::new("SELECT id, ticket_no, title, status, level FROM intakes WHERE id IN ");
        sql.list(ids);
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in &rows {
            let id = IntakeId::from_string(get::<String>(r, "id", OP)?);
            let status: String = get(r, "status", OP)?;
            let level: i64 = get(r, "level", OP)?;
            let summary = CallIntake {
                id: id.clone(),
                ticket_no: get(r, "ticket_no", OP)?,
                title: get(r, "title", OP)?,
                status: IntakeStatus::parse(&status).ok_or(StoreError::Corrupt {
                    column: "intakes.status",
                    value: status,
                })?,
                level: u8::try_from(level).unwrap_or(1),
            };
            out.insert(id, summary);
        }
        Ok(out)
    }
}
