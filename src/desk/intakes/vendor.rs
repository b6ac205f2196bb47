//! The third level's operations: keeping a vendor case up to date (reference, contact,
//! promised response, follow-up date, the vendor's answers as notes) and closing it, which
//! returns the intake to its owner. Times are epoch ms on the wire and local in the notes.

use serde::Deserialize;

use super::types::{MAX_NAME, MAX_NOTE, bounded};
use super::{DeskError, IntakeOps, IntakeView};
use crate::domain::AgentId;
use crate::store::{VendorCaseEdit, now_ms};

/// What an agent changes on a vendor case; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorCaseFields {
    /// The vendor's reference.
    pub case_ref: Option<String>,
    /// Who to talk to at the vendor.
    pub contact: Option<String>,
    /// When the vendor promised to answer (epoch ms).
    pub promised_at: Option<i64>,
    /// When to chase the vendor (epoch ms); reminded once.
    pub follow_up_at: Option<i64>,
    /// What the vendor said, kept as a note.
    pub answer: Option<String>,
}

/// Epoch ms between 2000 and 2200: anything else is a typing or clock mistake.
fn plausible(field: &str, at: Option<i64>) -> Result<Option<i64>, DeskError> {
    const Y2000: i64 = 946_684_800_000;
    const Y2200: i64 = 7_258_118_400_000;
    match at {
        Some(ms) if !(Y2000..Y2200).contains(&ms) => Err(DeskError::Invalid(format!(
            "{field} must be a time in epoch ms (got {ms})"
        ))),
        other => Ok(other),
    }
}

impl IntakeOps {
    /// Updates an open vendor case; the changes (and the vendor's answer) go into the intake's
    /// history as one `vendor` note.
    pub async fn edit_vendor_case(
        &self,
        agent: &AgentId,
        case_id: &str,
        f: VendorCaseFields,
    ) -> Result<IntakeView, DeskError> {
        let short = |name: &str, v: Option<String>| {
            v.map(|s| bounded(name, s.trim(), 1, MAX_NAME)).transpose()
        };
        let edit = VendorCaseEdit {
            case_ref: short("case_ref", f.case_ref)?,
            contact: short("contact", f.contact)?,
            promised_at: plausible("promised_at", f.promised_at)?,
            follow_up_at: plausible("follow_up_at", f.follow_up_at)?,
        };
        let answer = f
            .answer
            .map(|a| bounded("answer", a.trim(), 1, MAX_NOTE))
            .transpose()?;
        let case = self
            .store
            .vendor_case(case_id)
            .await?
            .ok_or(DeskError::NotFound("vendor case"))?;
        let zone = self.desk.zone();
        let mut parts = Vec::new();
        if let Some(r) = &edit.case_ref {
            parts.push(format!("reference {r}"));
        }
        if let Some(c) = &edit.contact {
            parts.push(format!("contact {c}"));
        }
        if let Some(p) = edit.promised_at {
            parts.push(format!("promised {}", zone.local_text(p)));
        }
        if let Some(p) = edit.follow_up_at {
            parts.push(format!("follow-up {}", zone.local_text(p)));
        }
        if let Some(a) = &answer {
            parts.push(format!("{} answered: {a}", case.vendor));
        }
        if parts.is_empty() {
            return Err(DeskError::Invalid("nothing to change".into()));
        }
        let changed = self
            .store
            .edit_vendor_case(case_id, &edit, &parts.join("; "), agent, now_ms())
            .await?;
        if !changed {
            return Err(DeskError::Conflict(format!(
                "the case with {} is closed",
                case.vendor
            )));
        }
        self.follow_ups_changed.notify_one();
        self.view(&case.intake_id).await
    }

    /// Closes an open vendor case with what it came to; the intake goes back to its owner.
    pub async fn close_vendor_case(
        &self,
        agent: &AgentId,
        case_id: &str,
        outcome: &str,
    ) -> Result<IntakeView, DeskError> {
        let outcome = bounded("outcome", outcome.trim(), 1, MAX_NOTE)?;
        let case = self
            .store
            .vendor_case(case_id)
            .await?
            .ok_or(DeskError::NotFound("vendor case"))?;
        if !self
            .store
            .close_vendor_case(case_id, &outcome, agent, now_ms())
            .await?
        {
            return Err(DeskError::Conflict(format!(
                "the case with {} is closed already",
                case.vendor
            )));
        }
        self.follow_ups_changed.notify_one();
        self.view(&case.intake_id).await
    }

    /// Woken when a follow-up date may have changed (the reminder task waits on it).
    pub fn follow_ups_changed(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.follow_ups_changed.clone()
    }
}
