//! Building [`IntakeView`]s: a page of records becomes views in five batched queries
//! (escalations, attached calls, notes, customer names, agent names), whatever its size, so
//! a list never costs a query per row. One view definition for every caller.

use std::collections::{HashMap, HashSet};

use super::types::{EscalationView, IntakeView, NoteView};
use super::{DeskError, IntakeOps};
use crate::domain::{AgentId, CustomerId, IntakeId};
use crate::sla::{SlaPolicy, SlaView};
use crate::store::{EscalationRow, IntakeRecord, IntakeStatus, NoteRow, SlaPause, now_ms};

impl IntakeOps {
    /// The views of `records`, in their order.
    pub(super) async fn views_of(
        &self,
        records: Vec<IntakeRecord>,
    ) -> Result<Vec<IntakeView>, DeskError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<IntakeId> = records.iter().map(|r| r.id.clone()).collect();
        let customers: Vec<CustomerId> = records
            .iter()
            .filter_map(|r| r.customer_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let sla_ids: &[IntakeId] = if self.sla.enabled() { &ids } else { &[] };
        let (mut escalations, mut calls, mut notes, customer_names, tickets, pauses, mut cases) = tokio::try_join!(
            self.store.escalations_for_intakes(&ids),
            self.store.call_ids_for_intakes(&records),
            self.store.notes_for_intakes(&ids),
            self.store.customer_names(&customers),
            self.store.external_tickets_for_intakes(&ids),
            self.store.sla_pauses_for_intakes(sla_ids),
            self.store.vendor_cases_for_intakes(&ids),
        )?;
        let now = now_ms();
        let mut people: HashSet<&AgentId> = HashSet::new();
        for r in &records {
            people.extend(r.owner_id.iter().chain(r.updated_by.iter()));
        }
        people.extend(escalations.values().flatten().map(|e| &e.agent_id));
        people.extend(notes.values().flatten().filter_map(|n| n.agent_id.as_ref()));
        let people: Vec<&AgentId> = people.into_iter().collect();
        let names = self.store.agent_names(&people).await?;
        let name = |a: &Option<AgentId>| a.as_ref().and_then(|a| names.get(a)).cloned();
        Ok(records
            .into_iter()
            .map(|r| {
                let escalations = escalations.remove(&r.id).unwrap_or_default();
                let notes = notes.remove(&r.id).unwrap_or_default();
                let calls = calls.remove(&r.id).unwrap_or_default();
                let r_id = r.id.as_str().to_owned();
                let sla = sla_of(
                    &self.sla,
                    &r,
                    pauses.get(&r.id).map_or(&[], Vec::as_slice),
                    now,
                );
                IntakeView {
                    sla,
                    vendor_cases: cases.remove(&r.id).unwrap_or_default(),
                    ticket_no: r.ticket_no,
                    customer_name: r
                        .customer_id
                        .as_ref()
                        .and_then(|c| customer_names.get(c))
                        .cloned(),
                    owner_name: name(&r.owner_id),
                    updated_by_name: name(&r.updated_by),
                    id: r.id,
                    call_id: r.call_id,
                    customer_id: r.customer_id,
                    caller: r.caller,
                    category: r.category,
                    priority: r.priority,
                    language: r.language,
                    ivr_path: r.ivr_path,
                    dtmf_mode: r.dtmf_mode,
                    status: r.status.as_str().to_owned(),
                    level: r.level,
                    group: r.group_name,
                    owner_id: r.owner_id,
                    claimed_at: r.claimed_at,
                    work_state: r.work_state,
                    responded_at: r.responded_at,
                    title: r.title,
                    description: r.description,
                    solution: r.solution,
                    channel: r.channel,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    updated_by: r.updated_by,
                    resolved_at: r.resolved_at,
                    escalations: escalations
                        .into_iter()
                        .map(|e| escalation_view(e, &names))
                        .collect(),
                    notes: notes.into_iter().map(|n| note_view(n, &names)).collect(),
                    calls: calls.into_iter().map(|c| c.as_str().to_owned()).collect(),
                    tickets: tickets
                        .iter()
                        .filter(|t| t.intake_id == r_id)
                        .cloned()
                        .collect(),
                }
            })
            .collect())
    }

    /// The view of one record.
    pub(super) async fn view_of(&self, r: IntakeRecord) -> Result<IntakeView, DeskError> {
        self.views_of(vec![r])
            .await?
            .pop()
            .ok_or(DeskError::NotFound("intake"))
    }
}

/// The SLA timers of `r` at `now` (none for a closed, merged draft).
pub(crate) fn sla_of(
    policy: &SlaPolicy,
    r: &IntakeRecord,
    pauses: &[SlaPause],
    now: i64,
) -> Option<SlaView> {
    if r.status == IntakeStatus::Closed {
        return None;
    }
    policy.evaluate_with_pauses(
        r.priority.map(|p| p.get()),
        (r.created_at, r.responded_at, r.resolved_at),
        pauses.iter().map(|p| (p.started_at, p.ended_at)),
        now,
    )
}

fn escalation_view(e: EscalationRow, names: &HashMap<AgentId, String>) -> EscalationView {
    EscalationView {
        agent_name: names.get(&e.agent_id).cloned(),
        id: e.id,
        from_level: e.from_level,
        to_level: e.to_level,
        target: e.target,
        reason: e.reason,
        case_ref: e.case_ref,
        agent_id: e.agent_id,
        at: e.at,
        returned: e.returned,
    }
}

/// A stored note as the desk shows it.
pub(super) fn note_view(n: NoteRow, names: &HashMap<AgentId, String>) -> NoteView {
    NoteView {
        agent_name: n.agent_id.as_ref().and_then(|a| names.get(a)).cloned(),
        id: n.id,
        kind: n.kind.as_str(),
        body: n.body,
        agent_id: n.agent_id,
        at: n.at,
    }
}
