//! The values of the intake operations: views (serialised to the REST API and WebSocket),
//! editable fields (deserialised, unknown fields refused), errors, and the length rules; no I/O.

use serde::{Deserialize, Serialize};

use crate::domain::{AgentId, CallId, Category, CustomerId, IntakeId, Language, Priority};
use crate::store::{IntakeEdit, StoreError};

/// An intake as the desk and the API show it, with its escalations, notes and calls, and the
/// names of the people it names (one definition for REST, the WebSocket and the pop).
#[derive(Debug, Clone, Serialize)]
pub struct IntakeView {
    /// `intakes.id`.
    pub id: IntakeId,
    /// The short human number, `FL-2026-00042`.
    pub ticket_no: Option<String>,
    /// The call it came from.
    pub call_id: Option<CallId>,
    /// The linked customer.
    pub customer_id: Option<CustomerId>,
    /// Their name (`None` without a customer).
    pub customer_name: Option<String>,
    /// The caller's number.
    pub caller: Option<String>,
    /// Category.
    pub category: Category,
    /// Priority 1..=5.
    pub priority: Option<Priority>,
    /// Language served in the IVR.
    pub language: Option<Language>,
    /// The IVR path.
    pub ivr_path: String,
    /// DTMF modes used, comma list.
    pub dtmf_mode: Option<String>,
    /// `draft`, `open`, `resolved`, `escalated` or `closed`.
    pub status: String,
    /// Current support level 1..=3.
    pub level: u8,
    /// The second-level group or third-level vendor it is with; `None` at the first level.
    pub group: Option<String>,
    /// The agent who claimed it.
    pub owner_id: Option<AgentId>,
    /// Their name.
    pub owner_name: Option<String>,
    /// Epoch ms of the claim.
    pub claimed_at: Option<i64>,
    /// What its owner is doing with an escalated intake (`None`: nobody works it).
    pub work_state: Option<crate::store::WorkState>,
    /// Epoch ms of the first response by an agent.
    pub responded_at: Option<i64>,
    /// Its SLA timers at the time of the view (`None`: no target for its priority, or no
    /// `[sla]`).
    pub sla: Option<crate::sla::SlaView>,
    /// Short title.
    pub title: Option<String>,
    /// Problem description.
    pub description: Option<String>,
    /// Solution (when resolved).
    pub solution: Option<String>,
    /// `phone`, `email` or `desk`.
    pub channel: String,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
    /// The agent who changed it last.
    pub updated_by: Option<AgentId>,
    /// Their name.
    pub updated_by_name: Option<String>,
    /// Epoch ms of the resolution (`None` unless resolved).
    pub resolved_at: Option<i64>,
    /// Escalation history, oldest first.
    pub escalations: Vec<EscalationView>,
    /// Internal notes and the claim history, oldest first.
    pub notes: Vec<NoteView>,
    /// Call ids attached to the intake (its own call first).
    pub calls: Vec<String>,
    /// Its cases with vendors (the third level), oldest first.
    pub vendor_cases: Vec<crate::store::VendorCase>,
    /// Its tickets in the ticket systems (`[[integrations.rt]]`, `[[integrations.zammad]]`):
    /// number, link, or the last hand-off error.
    pub tickets: Vec<crate::store::ExternalTicket>,
}

/// One note of an intake: an internal note (`note`), or a `claimed`, `released`, `reopened`.
#[derive(Debug, Clone, Serialize)]
pub struct NoteView {
    /// `intake_notes.id`.
    pub id: String,
    /// `note`, `claimed`, `released` or `reopened`.
    pub kind: &'static str,
    /// The note, the owner taken over from, or the reason; empty for a plain claim.
    pub body: String,
    /// Who.
    pub agent_id: Option<AgentId>,
    /// Their name.
    pub agent_name: Option<String>,
    /// Epoch ms.
    pub at: i64,
}

/// One escalation (or return to the first level) of an intake.
#[derive(Debug, Clone, Serialize)]
pub struct EscalationView {
    /// `escalations.id`.
    pub id: String,
    /// Level before.
    pub from_level: u8,
    /// Level after (1 for a return).
    pub to_level: u8,
    /// Group or vendor.
    pub target: String,
    /// Why.
    pub reason: String,
    /// The vendor's case reference.
    pub case_ref: Option<String>,
    /// Who escalated.
    pub agent_id: AgentId,
    /// Their name.
    pub agent_name: Option<String>,
    /// Epoch ms.
    pub at: i64,
    /// True for a return to the first level.
    pub returned: bool,
}

/// Why an intake operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No such intake, customer or call.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A field is out of bounds or not allowed.
    #[error("{0}")]
    Invalid(String),
    /// Not possible in the intake's state (e.g. already resolved).
    #[error("{0}")]
    Conflict(String),
    /// The agent may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Another agent changed the field since the editor's copy; nothing was saved.
    #[error("{} changed the {} meanwhile; their version is shown", .0.by, .0.field)]
    EditConflict(Box<EditConflict>),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Editable intake fields; absent fields are left as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeFields {
    /// Short title.
    pub title: Option<String>,
    /// Problem description.
    pub description: Option<String>,
    /// Category.
    pub category: Option<Category>,
    /// Priority 1..=5.
    pub priority: Option<Priority>,
    /// The text the editor started from: the save is refused ([`DeskError::EditConflict`])
    /// when someone else has changed that field since, never silently overwritten.
    #[serde(default)]
    pub base: Option<FieldBase>,
}

/// The stored values an edit was typed over (`null`/absent: not checked).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldBase {
    /// The title as the editor last had it from the server.
    pub title: Option<String>,
    /// The description as the editor last had it from the server.
    pub description: Option<String>,
}

/// A save refused because another agent changed a field since the editor's copy.
#[derive(Debug, Clone)]
pub struct EditConflict {
    /// `title` or `description`.
    pub field: &'static str,
    /// Who changed the intake last (their name, else their id).
    pub by: String,
    /// The intake as it is now (the other's change in it).
    pub current: IntakeView,
}

impl IntakeFields {
    /// Checks the length rules without saving anything.
    pub fn validate(&self) -> Result<(), DeskError> {
        self.to_edit().map(|_| ())
    }

    /// The store's edit: the title trimmed, lengths checked.
    pub(crate) fn to_edit(&self) -> Result<IntakeEdit, DeskError> {
        Ok(IntakeEdit {
            title: self
                .title
                .as_deref()
                .map(|t| bounded("title", t.trim(), 0, MAX_NAME))
                .transpose()?,
            description: self
                .description
                .as_deref()
                .map(|d| bounded("description", d, 0, MAX_TEXT))
                .transpose()?,
            category: self.category,
            priority: self.priority,
            seen_title: self.base.as_ref().and_then(|b| b.title.clone()),
            seen_description: self.base.as_ref().and_then(|b| b.description.clone()),
        })
    }
}

/// Customer fields for creating or editing a customer; absent fields are left as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    /// Full name (required on create).
    pub name: Option<String>,
    /// Company or institution.
    pub organisation: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Main number.
    pub phone: Option<String>,
    /// Site, building or room.
    pub location: Option<String>,
    /// Notes for agents.
    pub notes: Option<String>,
}

/// Longest description and solution, in characters.
pub(crate) const MAX_TEXT: usize = 10_000;
/// Longest escalation or return reason, in characters.
pub(crate) const MAX_REASON: usize = 2_000;
/// Longest title, name, vendor case reference and other short field, in characters.
pub(crate) const MAX_NAME: usize = 200;
/// Longest internal note, in characters.
pub(crate) const MAX_NOTE: usize = 10_000;
/// Target recorded for a return to the first level.
pub(crate) const FIRST_LEVEL: &str = "first level";

/// `text` when it has `min..=max` characters, else a clear `Invalid`.
pub(crate) fn bounded(
    field: &str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<String, DeskError> {
    let n = text.chars().count();
    if n < min || n > max {
        let need = if min == 0 {
            format!("at most {max} characters")
        } else {
            format!("{min} to {max} characters")
        };
        return Err(DeskError::Invalid(format!(
            "{field} must be {need} (got {n})"
        )));
    }
    Ok(text.to_owned())
}

/// `local@domain.tld` with no spaces: enough to catch typing mistakes, not a full RFC 5322 check.
pub(crate) fn is_email_shaped(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}
