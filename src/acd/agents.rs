//! Agents known to the engine: state, idle time, counters, and the routing strategies' order
//! (no I/O).

use std::collections::HashMap;
use std::time::Instant;

use crate::domain::{AgentId, Category};

use super::{AgentInfo, AgentState, ReasonCode, Strategy};

/// The call an agent is on (or wrapping up), for handling-time statistics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    /// The served entry's category.
    pub(crate) category: Category,
    /// When the agent answered.
    pub(crate) answered: Instant,
    /// When the call ended (wrap-up started).
    pub(crate) ended: Option<Instant>,
}

/// One agent as the engine keeps them.
#[derive(Debug, Clone)]
pub(crate) struct AgentRec {
    pub(crate) info: AgentInfo,
    pub(crate) state: AgentState,
    /// When `state` was entered.
    pub(crate) since: Instant,
    /// When the agent last became available after login, not-ready or wrap-up; a caller
    /// hanging up during ringing does not reset it (the agent is not penalised).
    pub(crate) idle_since: Instant,
    /// Round-robin stamp of the last offer; 0 = never offered.
    pub(crate) last_offered: u64,
    /// Calls answered since the counters were last reset.
    pub(crate) calls_handled: u32,
    /// Login order: the final tie-break of every strategy.
    pub(crate) login_seq: u64,
    /// The current or last call, while on call or in wrap-up.
    pub(crate) work: Option<Work>,
    /// End of a timed wrap-up.
    pub(crate) wrapup_until: Option<Instant>,
    /// The code of a system reason for the current state (see `ReasonCode`).
    pub(crate) reason_code: Option<ReasonCode>,
}

impl AgentRec {
    /// Agents serve their categories, and every agent serves `unclassified` callers.
    pub(crate) fn serves(&self, category: Category) -> bool {
        category == Category::Unclassified || self.info.categories.contains(&category)
    }

    pub(crate) fn logged_in(&self) -> bool {
        self.state != AgentState::Offline
    }
}

/// Every agent that has logged in since start (offline ones are kept for their counters).
#[derive(Debug, Default)]
pub(crate) struct Agents {
    map: HashMap<AgentId, AgentRec>,
    next_login: u64,
}

impl Agents {
    pub(crate) fn get(&self, id: &AgentId) -> Option<&AgentRec> {
        self.map.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &AgentId) -> Option<&mut AgentRec> {
        self.map.get_mut(id)
    }

    /// Records a login (state stays `Offline`; the engine makes the transition).
    pub(crate) fn upsert_offline(&mut self, now: Instant, info: AgentInfo) {
        self.next_login += 1;
        let login_seq = self.next_login;
        match self.map.get_mut(&info.id) {
            Some(rec) => {
                rec.info = info;
                rec.login_seq = login_seq;
            }
            None => {
                let rec = AgentRec {
                    info: info.clone(),
                    state: AgentState::Offline,
                    since: now,
                    idle_since: now,
                    last_offered: 0,
                    calls_handled: 0,
                    login_seq,
                    work: None,
                    wrapup_until: None,
                    reason_code: None,
                };
                self.map.insert(info.id, rec);
            }
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &AgentRec> {
        self.map.values()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut AgentRec> {
        self.map.values_mut()
    }

    /// True when some logged-in agent who may be offered calls (`offerable`) serves `category`.
    pub(crate) fn anyone_serves(
        &self,
        category: Category,
        offerable: impl Fn(&AgentId) -> bool,
    ) -> bool {
        self.map
            .values()
            .any(|a| a.logged_in() && a.serves(category) && offerable(&a.info.id))
    }

    /// Available agents who may be offered calls (`offerable`), the one the strategy prefers
    /// first (issue 3, point 5).
    pub(crate) fn available_in_order(
        &self,
        strategy: Strategy,
        offerable: impl Fn(&AgentId) -> bool,
    ) -> Vec<AgentId> {
        let mut free: Vec<&AgentRec> = self
            .map
            .values()
            .filter(|a| a.state == AgentState::Available && offerable(&a.info.id))
            .collect();
        match strategy {
            Strategy::LongestIdle => free.sort_by_key(|a| (a.idle_since, a.login_seq)),
            Strategy::RoundRobin => free.sort_by_key(|a| (a.last_offered, a.login_seq)),
            Strategy::FewestCalls => {
                free.sort_by_key(|a| (a.calls_handled, a.idle_since, a.login_seq))
            }
        }
        free.into_iter().map(|a| a.info.id.clone()).collect()
    }
}
