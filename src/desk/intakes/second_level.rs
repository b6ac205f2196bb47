//! The second level's operations on an escalated intake: its work state (in progress, waiting
//! for the customer or the vendor) with the reason in its history, and moving it to another
//! second-level group. The store's guarded writes decide races; these say why one lost.

use super::types::{MAX_REASON, bounded};
use super::{DeskError, IntakeOps, IntakeView};
use crate::domain::{AgentId, IntakeId};
use crate::store::now_ms;
use crate::store::{IntakeStatus, NewEscalation, WorkRefusal, WorkState};

impl IntakeOps {
    /// Moves an escalated intake at the second level to another second-level group (it
    /// arrives there unclaimed, with no work state), with the reason in its history.
    pub async fn reassign(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        group: &str,
        reason: &str,
    ) -> Result<IntakeView, DeskError> {
        let group = group.trim();
        let lists = self.lists();
        if !lists.second_level.iter().any(|g| g == group) {
            return Err(DeskError::Invalid(format!(
                "group {group:?} is not a second-level group (one of: {})",
                lists.second_level.join(", ")
            )));
        }
        let reason = bounded("reason", reason.trim(), 1, MAX_REASON)?;
        let record = self.editable(id).await?;
        if record.level != 2 || record.status != IntakeStatus::Escalated {
            return Err(DeskError::Conflict(format!(
                "intake {id} is not with a second-level group: escalate it instead"
            )));
        }
        if record.group_name.as_deref() == Some(group) {
            return Err(DeskError::Conflict(format!(
                "intake {id} is with {group} already"
            )));
        }
        self.move_level(NewEscalation {
            intake_id: id.clone(),
            from_level: 2,
            to_level: 2,
            target: group.to_owned(),
            reason,
            case_ref: None,
            agent_id: agent.clone(),
            at: now_ms(),
            returned: false,
        })
        .await
    }

    /// Sets what `agent` is doing with an escalated intake they own (or nobody owns: then they
    /// claim it); `reason` (optional) goes into the history with the state.
    pub async fn set_work_state(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        state: WorkState,
        reason: &str,
    ) -> Result<IntakeView, DeskError> {
        let reason = bounded("reason", reason.trim(), 0, MAX_REASON)?;
        match self
            .store
            .set_work_state(id, agent, state, &reason, now_ms())
            .await?
        {
            Ok(()) => self.view(id).await,
            Err(WorkRefusal::Missing) => Err(DeskError::NotFound("intake")),
            Err(WorkRefusal::NotEscalated) => Err(DeskError::Conflict(format!(
                "intake {id} is not with the second or third level: it has no work state"
            ))),
            Err(WorkRefusal::OwnedByOther) => {
                let owner = self.record(id).await?.owner_id;
                let name = match owner {
                    Some(o) => self.agent_name(&o).await?,
                    None => "someone else".to_owned(),
                };
                Err(DeskError::Conflict(format!(
                    "claimed by {name}: only the owner sets its state"
                )))
            }
        }
    }
}
