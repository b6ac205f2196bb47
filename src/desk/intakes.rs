//! Intake domain operations shared by the REST API and the desk WebSocket: viewing, editing,
//! outcomes (resolve, escalate, return), continuing an existing intake, customers from the pop,
//! intakes opened by hand; the work lists, claims, notes and reopening (issue 10) are in
//! `worklist.rs`, the batched views in `views.rs`. Every rule is checked here, once, for both
//! callers.
//!
//! Rules: an intake moves up 1→2, 1→3 or 2→3 (to a target from the configured `[desk]` list of
//! that level) and can be returned to level 1; a resolved or closed intake is not changed any
//! more (409); lengths are bounded (description and solution 10,000 characters, reasons 2,000,
//! names and other short fields 200).

mod second_level;
mod sla_figures;
mod types;
mod vendor;
mod views;
mod worklist;

use std::sync::Arc;

use crate::config::DeskSection;
use crate::desk::frames::Lists;
use crate::domain::{AgentId, CallId, CustomerId, IntakeId};
use crate::phone;
use crate::store::{
    Customer, CustomerData, IntakeFilter, IntakeRecord, IntakeStatus, NewEscalation,
    NewManualIntake, Store, now_ms,
};

pub use sla_figures::SlaFigures;
pub use types::{
    CustomerFields, DeskError, EditConflict, EscalationView, FieldBase, IntakeFields, IntakeView,
    NoteView,
};
use types::{FIRST_LEVEL, MAX_NAME, MAX_REASON, MAX_TEXT, bounded, is_email_shaped};
pub use vendor::VendorCaseFields;
pub use worklist::{Inbox, InboxQuery, Search};

/// The intake operations, over the store and the `[desk]` lists; cheap to clone.
#[derive(Debug, Clone)]
pub struct IntakeOps {
    store: Store,
    desk: Arc<DeskSection>,
    /// The escalation targets offered now: `[desk]` at first, then the admin pages' lists
    /// (`set_lists`); a std lock held only to clone or swap the `Arc`.
    lists: Arc<std::sync::RwLock<Arc<Lists>>>,
    /// For customer numbers typed in national form (`[numbers] default_country_code`).
    country_code: Arc<str>,
    /// The SLA targets every view's timers are computed with (`[sla]`; off by default).
    sla: Arc<crate::sla::SlaPolicy>,
    /// Notified when a vendor case's follow-up date may have changed.
    follow_ups_changed: Arc<tokio::sync::Notify>,
    /// The open intakes' SLA figures, reused briefly (`sla_figures.rs`).
    open_figures: Arc<sla_figures::OpenFigures>,
}

impl IntakeOps {
    /// Operations over `store` with the escalation lists of `desk`.
    pub fn new(store: Store, desk: DeskSection) -> Self {
        let lists = Lists {
            second_level: desk.second_level.clone(),
            third_level: desk.third_level.clone(),
        };
        IntakeOps {
            store,
            lists: Arc::new(std::sync::RwLock::new(Arc::new(lists))),
            desk: Arc::new(desk),
            country_code: Arc::from("31"),
            sla: Arc::new(crate::sla::SlaPolicy::disabled()),
            follow_ups_changed: Arc::new(tokio::sync::Notify::new()),
            open_figures: Arc::default(),
        }
    }

    /// Computes every view's SLA timers with `policy`.
    pub fn with_sla(mut self, policy: crate::sla::SlaPolicy) -> Self {
        self.sla = Arc::new(policy);
        self
    }

    /// The SLA targets in force.
    pub fn sla(&self) -> &crate::sla::SlaPolicy {
        &self.sla
    }

    /// Reads national customer numbers with this country code (default `31`).
    pub fn with_country_code(mut self, code: &str) -> Self {
        self.country_code = Arc::from(code);
        self
    }

    /// The second-level groups and third-level vendors escalation offers now.
    pub fn lists(&self) -> Arc<Lists> {
        match self.lists.read() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the escalation targets (an admin changed a group or vendor); every clone of
    /// these operations, the desk hub's included, offers the new lists from now on.
    pub fn set_lists(&self, lists: Lists) {
        let new = Arc::new(lists);
        match self.lists.write() {
            Ok(mut l) => *l = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Whether an agent needs an outcome for their last call before becoming available.
    pub fn require_outcome(&self) -> bool {
        self.desk.require_outcome
    }

    /// The desk's time zone as configured (`[desk] time_zone`).
    pub fn time_zone(&self) -> &str {
        &self.desk.time_zone
    }

    /// The configured country code for numbers typed in national form.
    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    /// `[desk] second_level_takes_calls`: agents at level 2 or 3 take first-level calls too.
    pub fn second_level_takes_calls(&self) -> bool {
        self.desk.second_level_takes_calls
    }

    /// The intake of the agent's last answered call when `require_outcome` is set and it has
    /// no outcome yet (still `draft` or `open`): the agent may not become available.
    pub async fn outcome_pending(&self, agent: &AgentId) -> Result<Option<IntakeId>, DeskError> {
        if !self.desk.require_outcome {
            return Ok(None);
        }
        let Some(call) = self.store.last_answered_call(agent).await? else {
            return Ok(None);
        };
        Ok(self
            .store
            .intake_record_for_call(&call)
            .await?
            .filter(|r| matches!(r.status, IntakeStatus::Draft | IntakeStatus::Open))
            .map(|r| r.id))
    }

    /// A page of intakes (any agent's: the helpdesk is shared), in the filter's order.
    pub async fn list(&self, filter: &IntakeFilter) -> Result<Vec<IntakeView>, DeskError> {
        let records = self.store.list_intake_records(filter).await?;
        self.views_of(records).await
    }

    /// One intake with escalations and calls.
    pub async fn view(&self, id: &IntakeId) -> Result<IntakeView, DeskError> {
        let record = self.record(id).await?;
        self.view_of(record).await
    }

    /// The intake a call is about (drafted by the IVR, or the one it continued), if any.
    pub async fn for_call(&self, call: &CallId) -> Result<Option<IntakeView>, DeskError> {
        match self.store.intake_record_for_call(call).await? {
            Some(record) => Ok(Some(self.view_of(record).await?)),
            None => Ok(None),
        }
    }

    /// A customer's draft, open and escalated intakes, newest first, with escalations.
    pub async fn open_for_customer(&self, c: &CustomerId) -> Result<Vec<IntakeView>, DeskError> {
        let records = self.store.open_intake_records_for_customer(c).await?;
        self.views_of(records).await
    }

    /// Saves edited fields (a draft becomes `open`).
    pub async fn update(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        fields: IntakeFields,
    ) -> Result<IntakeView, DeskError> {
        let edit = fields.to_edit()?;
        if self.store.edit_intake(id, &edit, agent, now_ms()).await? {
            return self.view(id).await;
        }
        let record = self.editable(id).await?;
        let moved = |seen: &Option<String>, now: &Option<String>| {
            seen.as_ref()
                .is_some_and(|s| s.as_str() != now.as_deref().unwrap_or(""))
        };
        let field = if moved(&edit.seen_title, &record.title) {
            "title"
        } else if moved(&edit.seen_description, &record.description) {
            "description"
        } else {
            // The text moved on and back, or the intake changed state: the caller retries.
            return self.after_guarded(id, false).await;
        };
        let current = self.view_of(record).await?;
        let by = current
            .updated_by_name
            .clone()
            .or_else(|| current.updated_by.as_ref().map(|a| a.as_str().to_owned()))
            .unwrap_or_else(|| "someone".to_owned());
        Err(DeskError::EditConflict(Box::new(EditConflict {
            field,
            by,
            current,
        })))
    }

    /// Resolves the intake at its current level; the solution is required.
    pub async fn resolve(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        solution: &str,
    ) -> Result<IntakeView, DeskError> {
        let solution = bounded("solution", solution.trim(), 1, MAX_TEXT)?;
        let changed = self
            .store
            .resolve_intake(id, &solution, agent, now_ms())
            .await?;
        self.after_guarded(id, changed).await
    }

    /// Escalates to level 2 (a configured group) or 3 (a configured vendor); from level 1 to 2
    /// or 3, or from 2 to 3.
    pub async fn escalate(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        to_level: u8,
        target: &str,
        reason: &str,
        case_ref: Option<&str>,
    ) -> Result<IntakeView, DeskError> {
        let lists = self.lists();
        let list = match to_level {
            2 => &lists.second_level,
            3 => &lists.third_level,
            _ => {
                return Err(DeskError::Invalid(format!(
                    "to_level must be 2 or 3 (use return for level 1), not {to_level}"
                )));
            }
        };
        let target = target.trim();
        if !list.iter().any(|t| t == target) {
            return Err(DeskError::Invalid(format!(
                "target {target:?} is not a level {to_level} target (one of: {})",
                list.join(", ")
            )));
        }
        let reason = bounded("reason", reason.trim(), 1, MAX_REASON)?;
        let case_ref = case_ref
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| bounded("case_ref", c, 1, MAX_NAME))
            .transpose()?;
        let record = self.editable(id).await?;
        if to_level <= record.level {
            return Err(DeskError::Conflict(format!(
                "intake {id} is at level {}: it can only move up (1 to 2, 1 to 3, 2 to 3) or be returned",
                record.level
            )));
        }
        self.move_level(NewEscalation {
            intake_id: id.clone(),
            from_level: record.level,
            to_level,
            target: target.to_owned(),
            reason,
            case_ref,
            agent_id: agent.clone(),
            at: now_ms(),
            returned: false,
        })
        .await
    }

    /// Returns an intake at level 2 or 3 to the first level (status `open`), with a reason.
    pub async fn return_to_first_level(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        reason: &str,
    ) -> Result<IntakeView, DeskError> {
        let reason = bounded("reason", reason.trim(), 1, MAX_REASON)?;
        let record = self.editable(id).await?;
        if record.level == 1 {
            return Err(DeskError::Conflict(format!(
                "intake {id} is already at the first level"
            )));
        }
        self.move_level(NewEscalation {
            intake_id: id.clone(),
            from_level: record.level,
            to_level: 1,
            target: FIRST_LEVEL.to_owned(),
            reason,
            case_ref: None,
            agent_id: agent.clone(),
            at: now_ms(),
            returned: true,
        })
        .await
    }

    /// Attaches the draft's call to `existing` and closes the draft as merged into it; returns
    /// `existing`. The draft must be `draft` or `open`; `existing` not resolved or closed.
    pub async fn continue_existing(
        &self,
        agent: &AgentId,
        draft: &IntakeId,
        existing: &IntakeId,
    ) -> Result<IntakeView, DeskError> {
        if draft == existing {
            return Err(DeskError::Invalid(
                "an intake cannot continue itself".to_owned(),
            ));
        }
        let from = self.editable(draft).await?;
        if from.status == IntakeStatus::Escalated {
            return Err(DeskError::Conflict(format!(
                "intake {draft} is escalated: only a new draft can continue another intake"
            )));
        }
        self.editable(existing).await?;
        let merged = self
            .store
            .merge_intake(draft, existing, from.call_id.as_ref(), agent, now_ms())
            .await?;
        if !merged {
            // One of the two changed in between: report the current reason.
            self.editable(draft).await?;
            self.editable(existing).await?;
            return Err(DeskError::Conflict(format!(
                "intake {draft} changed meanwhile; reload it"
            )));
        }
        self.view(existing).await
    }

    /// Links the intake (and its call) to a customer and adds the caller's number to them.
    pub async fn link_customer(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        customer: &CustomerId,
    ) -> Result<IntakeView, DeskError> {
        let record = self.editable(id).await?;
        if self.store.get_customer(customer).await?.is_none() {
            return Err(DeskError::NotFound("customer"));
        }
        let at = now_ms();
        let changed = self
            .store
            .set_intake_customer(id, customer, agent, at)
            .await?;
        if changed && let Some(number) = self.caller_e164(&record) {
            self.store
                .add_customer_number(customer, &number, "linked", at)
                .await?;
        }
        self.after_guarded(id, changed).await
    }

    /// Creates a customer (name required; the caller's number when no phone is given) and links
    /// the intake to them.
    pub async fn create_customer(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        fields: CustomerFields,
    ) -> Result<IntakeView, DeskError> {
        let record = self.editable(id).await?;
        let mut data = self.customer_data(fields)?;
        if data.name.as_deref().is_none_or(str::is_empty) {
            return Err(DeskError::Invalid(
                "name is required (1 to 200 characters)".into(),
            ));
        }
        if data.phone.as_deref().is_none_or(str::is_empty) {
            data.phone = self.caller_e164(&record);
        }
        let at = now_ms();
        let customer = self.store.insert_customer(&data, at).await?;
        let changed = self
            .store
            .set_intake_customer(id, &customer, agent, at)
            .await?;
        self.after_guarded(id, changed).await
    }

    /// Edits a customer's fields (absent fields stay; an empty string clears one, except name).
    pub async fn update_customer(
        &self,
        _agent: &AgentId,
        c: &CustomerId,
        fields: CustomerFields,
    ) -> Result<Customer, DeskError> {
        let data = self.customer_data(fields)?;
        if data.name.as_deref() == Some("") {
            return Err(DeskError::Invalid("name cannot be empty".into()));
        }
        if !self.store.update_customer(c, &data, now_ms()).await? {
            return Err(DeskError::NotFound("customer"));
        }
        self.store
            .get_customer(c)
            .await?
            .ok_or(DeskError::NotFound("customer"))
    }

    /// Opens an intake by hand for a problem that came by e-mail (`email`) or at the desk
    /// (`desk`): `open`, level 1, unclassified, the customer's main number as caller.
    pub async fn open_manual(
        &self,
        agent: &AgentId,
        channel: &str,
        customer: Option<&CustomerId>,
    ) -> Result<IntakeView, DeskError> {
        let channel = match channel {
            "email" => "email",
            "desk" => "desk",
            other => {
                return Err(DeskError::Invalid(format!(
                    "channel must be email or desk (phone intakes come from calls), not {other:?}"
                )));
            }
        };
        let caller = match customer {
            Some(c) => {
                let found = self.store.get_customer(c).await?;
                found.ok_or(DeskError::NotFound("customer"))?.phone
            }
            None => None,
        };
        let id = self
            .store
            .insert_manual_intake(&NewManualIntake {
                channel,
                customer_id: customer.cloned(),
                caller,
                agent_id: agent.clone(),
                at: now_ms(),
            })
            .await?;
        self.view(&id).await
    }

    /// True when the call's intake is resolved, escalated or closed, or the call has none.
    pub async fn has_outcome(&self, call: &CallId) -> Result<bool, DeskError> {
        Ok(match self.store.intake_record_for_call(call).await? {
            Some(r) => !matches!(r.status, IntakeStatus::Draft | IntakeStatus::Open),
            None => true,
        })
    }

    async fn record(&self, id: &IntakeId) -> Result<IntakeRecord, DeskError> {
        self.store
            .intake_record(id)
            .await?
            .ok_or(DeskError::NotFound("intake"))
    }

    /// The record, or 404 / 409 when it is missing or resolved/closed.
    async fn editable(&self, id: &IntakeId) -> Result<IntakeRecord, DeskError> {
        let record = self.record(id).await?;
        match record.status {
            IntakeStatus::Resolved | IntakeStatus::Closed => Err(DeskError::Conflict(format!(
                "intake {id} is {}: it can no longer be changed",
                record.status.as_str()
            ))),
            _ => Ok(record),
        }
    }

    /// The view after a guarded update; when it changed nothing, why (404 or 409).
    async fn after_guarded(&self, id: &IntakeId, changed: bool) -> Result<IntakeView, DeskError> {
        if !changed {
            self.editable(id).await?;
            return Err(DeskError::Conflict(format!(
                "intake {id} changed meanwhile; reload it"
            )));
        }
        self.view(id).await
    }

    async fn move_level(&self, esc: NewEscalation) -> Result<IntakeView, DeskError> {
        let id = esc.intake_id.clone();
        let recorded = self.store.record_escalation(&esc).await?;
        self.after_guarded(&id, recorded.is_some()).await
    }

    /// The caller's number when it is E.164 (not `anonymous` or an extension).
    fn caller_e164(&self, r: &IntakeRecord) -> Option<String> {
        let caller = r.caller.as_deref()?;
        phone::normalize(caller, &self.country_code)
            .ok()
            .map(phone::E164::into_string)
    }

    /// Trims and bounds the fields; a phone number becomes E.164.
    fn customer_data(&self, f: CustomerFields) -> Result<CustomerData, DeskError> {
        let short = |name: &'static str, v: Option<String>| {
            v.map(|s| bounded(name, s.trim(), 0, MAX_NAME)).transpose()
        };
        let email = short("email", f.email)?;
        if let Some(e) = email.as_deref()
            && !e.is_empty()
            && !is_email_shaped(e)
        {
            return Err(DeskError::Invalid(format!(
                "email {e:?} is not an e-mail address"
            )));
        }
        let phone = match short("phone", f.phone)? {
            Some(p) if !p.is_empty() => Some(
                phone::normalize(&p, &self.country_code)
                    .map_err(|e| DeskError::Invalid(format!("phone: {e}")))?
                    .into_string(),
            ),
            other => other,
        };
        Ok(CustomerData {
            name: short("name", f.name)?,
            organisation: short("organisation", f.organisation)?,
            department: short("department", f.department)?,
            email,
            phone,
            location: short("location", f.location)?,
            notes: f
                .notes
                .map(|n| bounded("notes", n.trim(), 0, MAX_REASON))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests;
