//! The work lists and the second level's actions (issue 10): a counted page of intakes,
//! search over customers and intakes, the inbox of an agent's groups, claim and release,
//! internal notes, and reopening a resolved intake. The rules are checked here for REST and
//! the WebSocket alike.
//!
//! Claim rules: claiming an intake someone else owns is refused (409 `claimed by <name>`)
//! unless forced, and a forced take-over is recorded as a `claimed` note naming the previous
//! owner; only the owner releases (a supervisor or admin may release anyone's); a final
//! (resolved or closed) intake cannot be claimed or released. Notes go on any intake that is
//! not closed. Only a resolved intake can be reopened: `open` at level 1, else `escalated`.

use super::types::{MAX_NOTE, MAX_REASON, NoteView, bounded};
use super::views::note_view;
use super::{DeskError, IntakeOps, IntakeView};
use crate::domain::{AgentId, IntakeId};
use crate::phone;
use crate::store::{
    AgentRow, Customer, CustomerQuery, GroupCount, IntakeFilter, IntakeSort, IntakeStatus,
    OwnerFilter, TextQuery, now_ms,
};

/// Longest search text, in characters.
pub(crate) const MAX_QUERY: usize = 200;

/// What the inbox shows.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// One of the agent's groups (default: all of them).
    pub group: Option<String>,
    /// `Any` (default), `Nobody` or the agent.
    pub owner: OwnerFilter,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// A second-level agent's inbox.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Each of the agent's groups with its escalated and unclaimed counts (empty at level 1).
    pub groups: Vec<GroupCount>,
    /// The chosen group's (or all groups') escalated level-2 intakes, by priority then age.
    pub intakes: Vec<IntakeView>,
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Search {
    /// Customers by name, with how many draft, open or escalated intakes each has.
    pub customers: Vec<(Customer, i64)>,
    /// Intakes, newest first.
    pub intakes: Vec<IntakeView>,
}

impl IntakeOps {
    /// A page of intakes and how many match in all.
    pub async fn list_page(
        &self,
        filter: &IntakeFilter,
    ) -> Result<(Vec<IntakeView>, i64), DeskError> {
        let (views, total) = tokio::try_join!(self.list(filter), async {
            self.store
                .count_intakes(filter)
                .await
                .map_err(DeskError::from)
        })?;
        Ok((views, total))
    }

    /// `q` read as a ticket number, a caller number or words (`None` when blank).
    pub fn text_query(&self, q: &str) -> Option<TextQuery> {
        TextQuery::parse(q, &self.country_code)
    }

    /// A caller number typed in any format, as calls store it: E.164 when it normalises (like
    /// the IVR does), else as typed (anonymous callers, extensions).
    pub fn caller_number(&self, raw: &str) -> String {
        phone::normalize(raw, &self.country_code)
            .map(phone::E164::into_string)
            .unwrap_or_else(|_| raw.trim().to_owned())
    }

    /// Customers and intakes matching `q` (1 to 200 characters), at most `limit` of each.
    pub async fn search(&self, q: &str, limit: i64) -> Result<Search, DeskError> {
        let q = q.trim();
        bounded("q", q, 1, MAX_QUERY)?;
        let customer_query = CustomerQuery::parse(q, &self.country_code);
        let filter = IntakeFilter {
            text: self.text_query(q),
            sort: IntakeSort::Newest,
            limit,
            ..IntakeFilter::default()
        };
        let (customers, intakes) = tokio::try_join!(
            async {
                self.store
                    .search_customers(&customer_query, limit, 0)
                    .await
                    .map_err(DeskError::from)
            },
            self.list(&filter),
        )?;
        let ids: Vec<_> = customers.iter().map(|c| c.id.clone()).collect();
        let counts = self.store.open_intake_counts(&ids).await?;
        let customers = customers
            .into_iter()
            .map(|c| {
                let n = counts.get(&c.id).copied().unwrap_or(0);
                (c, n)
            })
            .collect();
        Ok(Search { customers, intakes })
    }

    /// The inbox of `agent`'s groups; a first-level agent has none (empty, not refused).
    pub async fn inbox(&self, agent: &AgentRow, q: InboxQuery) -> Result<Inbox, DeskError> {
        if agent.level < 2 {
            return Ok(Inbox {
                groups: Vec::new(),
                intakes: Vec::new(),
            });
        }
        let chosen = match q.group {
            None => agent.groups.clone(),
            Some(g) if agent.groups.contains(&g) => vec![g],
            Some(g) => {
                return Err(DeskError::Invalid(format!(
                    "group {g:?} is not one of your groups ({})",
                    agent.groups.join(", ")
                )));
            }
        };
        let filter = IntakeFilter {
            statuses: vec![IntakeStatus::Escalated],
            level: Some(2),
            groups: Some(chosen),
            owner: q.owner,
            sort: IntakeSort::Priority,
            limit: q.limit,
            offset: q.offset,
            ..IntakeFilter::default()
        };
        let (groups, intakes) = tokio::try_join!(
            async {
                self.store
                    .group_counts(&agent.groups)
                    .await
                    .map_err(DeskError::from)
            },
            self.list(&filter),
        )?;
        Ok(Inbox { groups, intakes })
    }

    /// Makes `agent` the owner. Someone else's intake only with `force` (a take-over, recorded
    /// with the previous owner's name); claiming one's own intake again changes nothing.
    pub async fn claim(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        force: bool,
    ) -> Result<IntakeView, DeskError> {
        let record = self.editable(id).await?;
        let seen = record.owner_id;
        if seen.as_ref() == Some(agent) {
            return self.view(id).await;
        }
        let body = match &seen {
            None => String::new(),
            Some(owner) if force => format!("taken over from {}", self.agent_name(owner).await?),
            Some(owner) => {
                return Err(DeskError::Conflict(format!(
                    "claimed by {}",
                    self.agent_name(owner).await?
                )));
            }
        };
        let claimed = self
            .store
            .claim_intake(id, agent, seen.as_ref(), &body, now_ms())
            .await?;
        if claimed {
            return self.view(id).await;
        }
        // Someone was faster: say who (or why the intake cannot be claimed any more).
        let now = self.editable(id).await?;
        match now.owner_id {
            Some(owner) if &owner == agent => self.view(id).await,
            Some(owner) => Err(DeskError::Conflict(format!(
                "claimed by {}",
                self.agent_name(&owner).await?
            ))),
            None => Err(DeskError::Conflict(format!(
                "intake {id} changed meanwhile; reload it"
            ))),
        }
    }

    /// Clears the owner. Only the owner may, or a supervisor or admin (`privileged`).
    pub async fn release(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        privileged: bool,
    ) -> Result<IntakeView, DeskError> {
        let record = self.editable(id).await?;
        let Some(owner) = record.owner_id else {
            return Err(DeskError::Conflict(format!("intake {id} is not claimed")));
        };
        let body = if &owner == agent {
            String::new()
        } else if privileged {
            format!("released for {}", self.agent_name(&owner).await?)
        } else {
            return Err(DeskError::Conflict(format!(
                "claimed by {}: only they (or a supervisor) can release it",
                self.agent_name(&owner).await?
            )));
        };
        let released = self
            .store
            .release_intake(id, &owner, agent, &body, now_ms())
            .await?;
        self.after_guarded(id, released).await
    }

    /// Adds an internal note (1 to 10,000 characters) to an intake that is not closed; the
    /// note and the intake's new view.
    pub async fn add_note(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        body: &str,
    ) -> Result<(NoteView, IntakeView), DeskError> {
        let body = bounded("body", body.trim(), 1, MAX_NOTE)?;
        let Some(note) = self.store.add_note(id, agent, &body, now_ms()).await? else {
            let record = self.record(id).await?;
            return Err(DeskError::Conflict(format!(
                "intake {id} is {}: notes can no longer be added",
                record.status.as_str()
            )));
        };
        let view = self.view(id).await?;
        let names = self.store.agent_names(&[agent]).await?;
        Ok((note_view(note, &names), view))
    }

    /// Makes a resolved intake editable again (`open` at level 1, `escalated` at 2 or 3),
    /// with the reason as a `reopened` note.
    pub async fn reopen(
        &self,
        agent: &AgentId,
        id: &IntakeId,
        reason: &str,
    ) -> Result<IntakeView, DeskError> {
        let reason = bounded("reason", reason.trim(), 1, MAX_REASON)?;
        let record = self.record(id).await?;
        if record.status != IntakeStatus::Resolved {
            return Err(DeskError::Conflict(format!(
                "intake {id} is {}: only a resolved intake can be reopened",
                record.status.as_str()
            )));
        }
        let reopened = self
            .store
            .reopen_intake(id, agent, &reason, now_ms())
            .await?;
        if !reopened {
            return Err(DeskError::Conflict(format!(
                "intake {id} changed meanwhile; reload it"
            )));
        }
        self.view(id).await
    }

    /// The agent's name for messages (the id when the agent is gone).
    pub(super) async fn agent_name(&self, agent: &AgentId) -> Result<String, DeskError> {
        let names = self.store.agent_names(&[agent]).await?;
        Ok(names
            .get(agent)
            .cloned()
            .unwrap_or_else(|| agent.as_str().to_owned()))
    }
}

#[cfg(test)]
#[path = "worklist_tests.rs"]
mod tests;
