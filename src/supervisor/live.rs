//! The supervisor's live model (no I/O): fed by the event stream, by snapshots of the queue
//! engine and by the day's figures from the store; renders the feed's top-level sections and
//! the `update` that carries only the sections that changed since the last one
//! (docs/supervisor.md).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::SupervisorConfig;
use super::live_agents::{AgentView, Agents, CallFacts, QualityPair, QualityView};
use crate::acd::{AcdSnapshot, AgentState, EntryKind, Registration, StateReason};
use crate::domain::{AgentId, CallId, Category, CustomerId, Device};
use crate::events::{Event, EventKind};
use crate::store::{DayCalls, EscalationCount};

/// "Today" starts at local midnight in the configured zone (`SupervisorConfig::zone`); a day
/// has 23, 24 or 25 hours.
fn day_start_of(cfg: &SupervisorConfig, at: i64) -> (i64, i64) {
    let date = cfg.zone.date_of(at);
    (
        cfg.zone.day_start_ms(date),
        cfg.zone.day_start_ms(date.succ()),
    )
}

/// The queues in the order the feed shows them.
const QUEUES: [Category; 4] = [
    Category::Hardware,
    Category::Software,
    Category::Service,
    Category::Unclassified,
];

/// What the model knows about a call it saw arrive.
#[derive(Debug, Default)]
struct CallInfo {
    caller: String,
    customer_id: Option<CustomerId>,
    customer: Option<String>,
    in_ivr: bool,
    queued_at: Option<i64>,
    /// When it arrived (`None` for a call seen first after it arrived, e.g. after a restart).
    arrived_at: Option<i64>,
    answered: bool,
}

/// The waiting callers a queue lists, in service order (`waiting` counts them all): a page
/// shows a few dozen, and with thousands waiting the feed must not rebuild and compare them
/// all every second.
pub(crate) const CALLERS_SHOWN: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize)]
struct CallerView {
    call_id: String,
    caller: Option<String>,
    customer: Option<String>,
    priority: u8,
    waited_ms: i64,
    over_threshold: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct QueueView {
    name: Category,
    waiting: usize,
    longest_wait_ms: i64,
    estimated_wait_ms: Option<i64>,
    by_priority: BTreeMap<String, usize>,
    callers: Vec<CallerView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct TodayView {
    offered: u64,
    answered: u64,
    abandoned: u64,
    answered_within_threshold: u64,
    service_level: Option<f64>,
    threshold_s: u64,
    breach: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct EscalationView {
    level: u8,
    target: String,
    count: u64,
}

/// Queues, agents and the day's figures as a supervisor sees them.
#[derive(Debug)]
pub(crate) struct LiveModel {
    cfg: SupervisorConfig,
    day_start: i64,
    /// Epoch ms of the next local midnight.
    day_end: i64,
    calls: HashMap<CallId, CallInfo>,
    agents: Agents,
    queues: Vec<QueueView>,
    callbacks_pending: usize,
    day: DayCalls,
    voice_today: u64,
    escalations: Vec<EscalationCount>,
    /// The sections as last sent (snapshot or update), for the next diff.
    sent: Map<String, Value>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl LiveModel {
    /// An empty model for the day containing `now_ms`.
    pub(crate) fn new(cfg: SupervisorConfig, now_ms: i64) -> LiveModel {
        let (day_start, day_end) = day_start_of(&cfg, now_ms);
        let mut model = LiveModel {
            cfg,
            day_start,
            day_end,
            calls: HashMap::new(),
            agents: Agents::default(),
            queues: Vec::new(),
            callbacks_pending: 0,
            day: DayCalls::default(),
            voice_today: 0,
            escalations: Vec::new(),
            sent: Map::new(),
        };
        model.queues = QUEUES.iter().map(|&c| model.empty_queue(c)).collect();
        model
    }

    /// An empty model for the day containing `now_ms`, as a fresh feed starts with, keeping the
    /// reachability rule and the phone registrations (the feed's repair after lag).
    pub(crate) fn rebuilt(&self, now_ms: i64) -> LiveModel {
        let mut model = LiveModel::new(self.cfg.clone(), now_ms);
        model.agents = self.agents.rebuilt();
        model
    }

    /// Epoch ms of the start of the model's day (to read the day's figures from).
    pub(crate) fn day_start(&self) -> i64 {
        self.day_start
    }

    fn empty_queue(&self, name: Category) -> QueueView {
        QueueView {
            name,
            waiting: 0,
            longest_wait_ms: 0,
            estimated_wait_ms: None,
            by_priority: (1..=5).map(|p| (p.to_string(), 0)).collect(),
            callers: Vec::new(),
        }
    }

    /// Starts a new day when `at` is past the current one: the day's counters go to zero.
    fn roll_day(&mut self, at: i64) {
        if at >= self.day_end {
            (self.day_start, self.day_end) = day_start_of(&self.cfg, at);
            self.day = DayCalls::default();
            self.voice_today = 0;
            self.escalations.clear();
        }
    }

    /// The day's figures read from the store (at start, and for escalations periodically).
    pub(crate) fn set_day(&mut self, day: DayCalls, voice: u64, escalations: Vec<EscalationCount>) {
        self.day = day;
        self.voice_today = voice;
        self.escalations = escalations;
    }

    /// Escalations of the day (the event stream has no escalation event; the feed re-reads).
    pub(crate) fn set_escalations(&mut self, escalations: Vec<EscalationCount>) {
        self.escalations = escalations;
    }

    /// An agent's display name.
    pub(crate) fn set_name(&mut self, id: AgentId, name: String) {
        self.agents.set_name(id, name);
    }

    /// `[acd] require_registration` (the queue engine's rule for `reachable`).
    pub(crate) fn set_require_registration(&mut self, require: bool) {
        self.agents.set_require_registration(require);
    }

    /// An agent's device (read with the names at start and on each sign-in; `agent_device`
    /// events).
    pub(crate) fn set_device(&mut self, id: AgentId, device: Device) {
        self.agents.set_device(id, device);
    }

    /// Who `call` is from, as far as the model saw it arrive.
    fn call_facts(&self, call: &CallId) -> Option<CallFacts> {
        self.calls.get(call).map(|c| CallFacts {
            caller: Some(c.caller.clone()).filter(|c| !c.is_empty()),
            customer_id: c.customer_id.clone(),
            customer: c.customer.clone(),
        })
    }

    /// Moves `agent` to `call` (or none), naming its caller.
    fn put_call(&mut self, agent: &AgentId, call: Option<CallId>) {
        let facts = call.as_ref().and_then(|c| self.call_facts(c));
        self.agent(agent).set_call(call, facts);
    }

    /// Whether the model lacks a name for this agent.
    pub(crate) fn needs_name(&self, id: &AgentId) -> bool {
        self.agents.needs_name(id)
    }

    /// A customer's name for every call of theirs.
    pub(crate) fn set_customer(&mut self, id: &CustomerId, name: &str) {
        for c in self.calls.values_mut() {
            if c.customer_id.as_ref() == Some(id) {
                c.customer = Some(name.to_owned());
            }
        }
        self.agents.customer_named(id, name);
    }

    /// Applies one event; returns true when queues or agents changed in the engine too (the
    /// driver then takes a fresh engine snapshot before the next update).
    pub(crate) fn apply(&mut self, event: &Event) -> bool {
        self.roll_day(event.at);
        let th = self.threshold_ms();
        match &event.kind {
            EventKind::CallArrived {
                call_id,
                caller,
                customer_id,
            } => {
                let info = self.calls.entry(call_id.clone()).or_default();
                info.caller.clone_from(caller);
                info.customer_id.clone_from(customer_id);
                info.in_ivr = true;
                info.arrived_at = Some(event.at);
                false
            }
            EventKind::IntakeDrafted { call_id, .. } => {
                if let Some(c) = self.calls.get_mut(call_id) {
                    c.in_ivr = false;
                }
                false
            }
            EventKind::CallQueued { call_id, .. } => {
                let c = self.calls.entry(call_id.clone()).or_default();
                c.in_ivr = false;
                if c.queued_at.is_none() {
                    c.queued_at = Some(event.at);
                    self.day.offered += 1;
                }
                true
            }
            EventKind::CallOffered { call_id, agent_id } => {
                self.put_call(agent_id, Some(call_id.clone()));
                true
            }
            EventKind::OfferEnded {
                call_id, agent_id, ..
            } => {
                let a = self.agent(agent_id);
                if a.call_id.as_ref() == Some(call_id) && a.state != "on_call" {
                    a.set_call(None, None);
                }
                true
            }
            EventKind::CallConnected {
                call_id,
                agent_id,
                waited_ms,
            } => {
                self.put_call(agent_id, Some(call_id.clone()));
                let today = self.day_start;
                let c = self.calls.entry(call_id.clone()).or_default();
                // Counted on the day the caller arrived, as the daily report does.
                if !c.answered && c.arrived_at.is_none_or(|a| a >= today) {
                    c.answered = true;
                    self.day.answered += 1;
                    if *waited_ms <= th {
                        self.day.answered_within += 1;
                    }
                }
                true
            }
            EventKind::CallEnded { call_id, outcome } => {
                let info = self.calls.remove(call_id);
                // Only callers who left a queue count as abandoned (docs/supervisor.md); those
                // who left the IVR never reached one.
                let today = info
                    .as_ref()
                    .and_then(|i| i.arrived_at)
                    .is_none_or(|a| a >= self.day_start);
                if outcome == "abandoned_queue" && today {
                    self.day.abandoned += 1;
                    let queued = info.and_then(|i| i.queued_at);
                    if queued.is_some_and(|q| event.at - q > th) {
                        self.day.abandoned_after += 1;
                    }
                }
                // An agent on the call or wrapping it up keeps it (the call they work on), its
                // hold and quality gone; one whose phone still rang loses it.
                for a in self.agents.iter_mut() {
                    if a.call_id.as_ref() != Some(call_id) {
                        continue;
                    }
                    if matches!(a.state.as_str(), "on_call" | "wrap_up") {
                        a.held = None;
                        a.quality = QualityPair::default();
                    } else {
                        a.set_call(None, None);
                    }
                }
                true
            }
            EventKind::VoiceMessage { .. } => {
                self.voice_today += 1;
                true
            }
            EventKind::CallbackRequested { .. } => true,
            EventKind::AgentState {
                agent_id,
                to,
                reason,
                ..
            } => {
                let (shown, code) = StateReason::shown(reason.as_ref(), to);
                let a = self.agent(agent_id);
                if a.state != *to || a.reason != shown || a.reason_code != code {
                    a.since = (to != "offline").then_some(event.at);
                }
                a.state.clone_from(to);
                a.reason = shown;
                a.reason_code = code;
                if !matches!(to.as_str(), "ringing" | "on_call" | "wrap_up") {
                    a.set_call(None, None);
                }
                true
            }
            kind @ EventKind::PhoneRegistration { .. } => {
                if let Some((agent_id, reg)) = Registration::of_event(kind) {
                    self.agents.set_registration(agent_id, reg);
                }
                false
            }
            EventKind::AgentDevice { agent_id, device } => {
                self.set_device(agent_id.clone(), *device);
                false
            }
            EventKind::Digit { .. } => false,
            EventKind::CallTransferred {
                call_id,
                from_agent,
                completed: true,
                ..
            } => {
                // The handing agent is off the call; the target's call_connected follows.
                if self.agent(from_agent).call_id.as_ref() == Some(call_id) {
                    self.put_call(from_agent, None);
                }
                true
            }
            EventKind::CallTransferred { .. } => false,
            EventKind::CallHeld {
                call_id,
                agent_id,
                held,
                reason,
            } => {
                if self.agent(agent_id).call_id.is_none() {
                    // The feed may have started during the call.
                    self.put_call(agent_id, Some(call_id.clone()));
                }
                let a = self.agent(agent_id);
                if a.call_id.as_ref() == Some(call_id) {
                    a.held = held.then(|| reason.clone());
                }
                false
            }
            EventKind::CallQuality {
                call_id,
                agent_id,
                source,
                loss_pct,
                jitter_ms,
                rtt_ms,
            } => {
                if self.agent(agent_id).call_id.is_none() {
                    self.put_call(agent_id, Some(call_id.clone()));
                }
                let a = self.agent(agent_id);
                if a.call_id.as_ref() != Some(call_id) {
                    return false;
                }
                let view = QualityView {
                    source: source.clone(),
                    loss_pct: *loss_pct,
                    jitter_ms: *jitter_ms,
                    rtt_ms: *rtt_ms,
                    at: event.at,
                };
                match source.as_str() {
                    "server" => a.quality.server = Some(view),
                    "browser" => a.quality.browser = Some(view),
                    _ => {}
                }
                false
            }
        }
    }

    fn agent(&mut self, id: &AgentId) -> &mut AgentView {
        self.agents.view(id)
    }

    fn threshold_ms(&self) -> i64 {
        i64::try_from(self.cfg.service_level_threshold_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX)
    }

    /// Takes the engine's queues and agents. `now_ms` is the wall clock at `snap.at`;
    /// `estimates` the estimated wait per queue (of its last waiting caller).
    pub(crate) fn apply_acd(
        &mut self,
        snap: &AcdSnapshot,
        now_ms: i64,
        estimates: &HashMap<Category, Option<Duration>>,
    ) {
        self.roll_day(now_ms);
        let long = i64::try_from(self.cfg.long_wait_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.callbacks_pending = snap
            .entries()
            .filter(|e| e.kind == EntryKind::Callback)
            .count();
        let mut queues = Vec::with_capacity(QUEUES.len());
        for cat in QUEUES {
            let mut q = self.empty_queue(cat);
            let entries = snap
                .queues
                .iter()
                .filter(|s| s.category == cat)
                .flat_map(|s| s.entries.iter())
                .filter(|e| e.kind == EntryKind::Call);
            // Indexed by the priority's number (a u8: no index can be out of range).
            let mut by_priority = [0usize; 256];
            for e in entries {
                let waited = ms(e.waited);
                by_priority[usize::from(e.priority.get())] += 1;
                q.waiting += 1;
                q.longest_wait_ms = q.longest_wait_ms.max(waited);
                if q.callers.len() >= CALLERS_SHOWN {
                    continue;
                }
                let call = self.calls.get(&CallId::from_string(e.id.as_str()));
                q.callers.push(CallerView {
                    call_id: e.id.as_str().to_owned(),
                    caller: call.map(|c| c.caller.clone()).filter(|c| !c.is_empty()),
                    customer: call.and_then(|c| c.customer.clone()),
                    priority: e.priority.get(),
                    waited_ms: waited,
                    over_threshold: waited > long,
                });
            }
            for (p, n) in by_priority.iter().enumerate().filter(|(_, n)| **n > 0) {
                q.by_priority.insert(p.to_string(), *n);
            }
            q.estimated_wait_ms = estimates.get(&cat).copied().flatten().map(ms);
            queues.push(q);
        }
        self.queues = queues;
        for a in &snap.agents {
            let state = a.state.name();
            let words = match &a.state {
                AgentState::NotReady { reason } => reason.clone(),
                _ => String::new(),
            };
            let why = StateReason {
                text: words,
                code: a.reason_code,
            };
            let (reason, code) = StateReason::shown(Some(&why), state);
            let since_ms = now_ms.saturating_sub(ms(snap.at.saturating_duration_since(a.since)));
            // The engine knows which entry a ringing agent was offered: that settles any race
            // between the agent-state and call-offered events (they come from different tasks).
            let offered = match &a.state {
                AgentState::Ringing { offer } => (snap.queues.iter())
                    .flat_map(|q| q.entries.iter())
                    .find(|e| e.offer.as_ref() == Some(offer) && e.kind == EntryKind::Call)
                    .map(|e| CallId::from_string(e.id.as_str())),
                _ => None,
            };
            let facts = offered.as_ref().and_then(|c| self.call_facts(c));
            let view = self.agent(&a.id);
            // The event's time is kept while the state is the same (no jitter between snapshots).
            if view.state != state
                || view.reason != reason
                || view.reason_code != code
                || view.since.is_none()
            {
                view.since = (state != "offline").then_some(since_ms);
            }
            view.state = state.to_owned();
            view.reason = reason;
            view.reason_code = code;
            if !matches!(state, "ringing" | "on_call" | "wrap_up") {
                view.set_call(None, None);
            }
            if let Some(call) = offered {
                view.set_call(Some(call), facts);
            }
        }
    }

    fn today(&self) -> TodayView {
        let d = &self.day;
        let denominator = d.answered + d.abandoned_after;
        // Service level = answered within threshold / (answered + abandoned after threshold).
        let service_level =
            (denominator > 0).then(|| d.answered_within as f64 / denominator as f64);
        TodayView {
            offered: d.offered,
            answered: d.answered,
            abandoned: d.abandoned,
            answered_within_threshold: d.answered_within,
            service_level,
            threshold_s: self.cfg.service_level_threshold_secs,
            breach: service_level.is_some_and(|s| s < self.cfg.service_level_target),
        }
    }

    /// Every section, as a snapshot frame carries them.
    pub(crate) fn sections(&self) -> Map<String, Value> {
        let escalations: Vec<EscalationView> = self
            .escalations
            .iter()
            .map(|e| EscalationView {
                level: e.level,
                target: e.target.clone(),
                count: e.count,
            })
            .collect();
        let in_ivr = self.calls.values().filter(|c| c.in_ivr).count();
        let mut m = Map::new();
        m.insert("queues".into(), to_value(&self.queues));
        m.insert("in_ivr".into(), Value::from(in_ivr));
        m.insert(
            "agents".into(),
            to_value(&self.agents.iter().collect::<Vec<_>>()),
        );
        m.insert("today".into(), to_value(&self.today()));
        m.insert(
            "callbacks_pending".into(),
            Value::from(self.callbacks_pending),
        );
        m.insert("voice_messages_today".into(), Value::from(self.voice_today));
        m.insert("escalations_today".into(), to_value(&escalations));
        m
    }

    /// What changed since the last call; `None` if nothing. `agents` and `queues` carry only the
    /// agents (by `id`) and queues (by `name`) that changed, for the client to merge: with 200
    /// agents, a full list in every update would be ~28 KB to each of hundreds of wallboards.
    pub(crate) fn take_update(&mut self) -> Option<Map<String, Value>> {
        let now = self.sections();
        let mut changed = Map::new();
        for (k, v) in &now {
            let before = self.sent.get(k.as_str());
            if before == Some(v) {
                continue;
            }
            let delta = match (k.as_str(), v, before) {
                ("agents", Value::Array(new), Some(Value::Array(old))) => {
                    changed_by(new, old, "id")
                }
                ("queues", Value::Array(new), Some(Value::Array(old))) => {
                    changed_by(new, old, "name")
                }
                _ => v.clone(),
            };
            changed.insert(k.clone(), delta);
        }
        self.sent = now;
        (!changed.is_empty()).then_some(changed)
    }
}

/// The elements of `new` that differ from the element with the same `key` in `old` (one pass
/// over each: with 1,000 agents a nested search cost a million comparisons per update).
fn changed_by(new: &[Value], old: &[Value], key: &str) -> Value {
    let before: HashMap<&str, &Value> = old
        .iter()
        .filter_map(|o| Some((o.get(key)?.as_str()?, o)))
        .collect();
    Value::Array(
        new.iter()
            .filter(|n| {
                n.get(key)
                    .and_then(Value::as_str)
                    .and_then(|id| before.get(id))
                    .is_none_or(|o| *o != *n)
            })
            .cloned()
            .collect(),
    )
}

fn to_value<T: Serialize>(v: &T) -> Value {
    // Plain structs of strings and numbers (no maps with non-string keys): cannot fail.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "live_agent_tests.rs"]
mod agent_tests;
