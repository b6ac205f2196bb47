//! The supervisor's live model (no I/O): fed by the event stream, by snapshots of the queue
//! engine and by the day's figures from the store; renders the feed's top-level sections and
//! the `update` that carries only the sections that changed since the last one
//! (docs/supervisor.md).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::SupervisorConfig;
use crate::acd::{
    AcdSnapshot, AgentState, EntryKind, ReasonCode, Registration, StateReason, offered_calls,
};
use crate::domain::{AgentId, CallId, Category, CustomerId, Device};
use crate::events::{Event, EventKind};
use crate::store::{DayCalls, EscalationCount};

/// Milliseconds in a (UTC) day: "today" starts at UTC midnight.
const DAY_MS: i64 = 86_400_000;

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
    answered: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct AgentView {
    id: AgentId,
    name: String,
    state: String,
    /// The words of a `not_ready` state only (as the desk shows them).
    reason: Option<String>,
    /// A system reason's code (`not_ready`, `offline`), as the desk shows it.
    reason_code: Option<ReasonCode>,
    since: Option<i64>,
    /// The call the agent is ringing for, talking on or wrapping up.
    call_id: Option<CallId>,
    /// That call's caller (E.164 or raw) and customer name, when the model saw it arrive.
    caller: Option<String>,
    customer_name: Option<String>,
    #[serde(skip)]
    customer_id: Option<CustomerId>,
    /// How the agent answers calls (read with the names; `agent_device` events).
    device: Device,
    /// Phone agents: whether their extension is registered and over which transport; `null`
    /// for browser agents.
    registered: Option<bool>,
    transport: Option<String>,
    /// The router would offer this agent a call given their device and registration.
    reachable: bool,
    /// Why the agent's call is on hold (`agent`, `browser_gone`), while it is.
    held: Option<String>,
    /// The latest quality sample of the agent's current call, per source.
    quality: QualityPair,
}

/// Who a call is from, as the model knows it.
#[derive(Debug, Clone, Default)]
struct CallFacts {
    caller: Option<String>,
    customer_id: Option<CustomerId>,
    customer: Option<String>,
}

impl AgentView {
    /// Moves the agent to `call` (or none): hold and quality belong to the call they were for;
    /// `facts` name its caller (kept when `None` and the call is the same).
    fn set_call(&mut self, call: Option<CallId>, facts: Option<CallFacts>) {
        if self.call_id != call {
            self.held = None;
            self.quality = QualityPair::default();
            let facts = facts.clone().unwrap_or_default();
            self.caller = facts.caller;
            self.customer_id = facts.customer_id;
            self.customer_name = facts.customer;
        } else if let Some(f) = facts {
            self.caller = f.caller;
            self.customer_id = f.customer_id;
            self.customer_name = f.customer;
        }
        self.call_id = call;
    }

    /// Device health from the device and the phone's registration.
    fn set_health(&mut self, device: Device, registration: &Registration, require: bool) {
        self.device = device;
        let phone = device == Device::Phone;
        self.registered = phone.then_some(registration.registered);
        self.transport = registration.transport.clone().filter(|_| phone);
        self.reachable = offered_calls(require, device, registration.registered);
    }
}

/// The latest sample from each source (docs/supervisor.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
struct QualityPair {
    server: Option<QualityView>,
    browser: Option<QualityView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct QualityView {
    source: String,
    loss_pct: Option<f64>,
    jitter_ms: Option<f64>,
    rtt_ms: Option<f64>,
    at: i64,
}

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
    calls: HashMap<CallId, CallInfo>,
    names: HashMap<AgentId, String>,
    devices: HashMap<AgentId, Device>,
    registrations: HashMap<AgentId, Registration>,
    /// `[acd] require_registration`, for `reachable`.
    require_registration: bool,
    agents: BTreeMap<AgentId, AgentView>,
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
        let mut model = LiveModel {
            cfg,
            day_start: now_ms.div_euclid(DAY_MS) * DAY_MS,
            calls: HashMap::new(),
            names: HashMap::new(),
            devices: HashMap::new(),
            registrations: HashMap::new(),
            require_registration: true,
            agents: BTreeMap::new(),
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
        if at >= self.day_start + DAY_MS {
            self.day_start = at.div_euclid(DAY_MS) * DAY_MS;
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
        if let Some(a) = self.agents.get_mut(&id) {
            a.name.clone_from(&name);
        }
        self.names.insert(id, name);
    }

    /// `[acd] require_registration` (the queue engine's rule for `reachable`).
    pub(crate) fn set_require_registration(&mut self, require: bool) {
        self.require_registration = require;
        let ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for id in ids {
            self.refresh_health(&id);
        }
    }

    /// An agent's device (read with the names at start and on each sign-in; `agent_device`
    /// events).
    pub(crate) fn set_device(&mut self, id: AgentId, device: Device) {
        self.devices.insert(id.clone(), device);
        self.refresh_health(&id);
    }

    fn refresh_health(&mut self, id: &AgentId) {
        let device = self.devices.get(id).copied().unwrap_or_default();
        let require = self.require_registration;
        let empty = Registration::default();
        let reg = self.registrations.get(id).unwrap_or(&empty);
        if let Some(a) = self.agents.get_mut(id) {
            a.set_health(device, reg, require);
        }
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
        !self.names.contains_key(id)
    }

    /// A customer's name for every call of theirs.
    pub(crate) fn set_customer(&mut self, id: &CustomerId, name: &str) {
        for c in self.calls.values_mut() {
            if c.customer_id.as_ref() == Some(id) {
                c.customer = Some(name.to_owned());
            }
        }
        for a in self.agents.values_mut() {
            if a.customer_id.as_ref() == Some(id) {
                a.customer_name = Some(name.to_owned());
            }
        }
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
                let c = self.calls.entry(call_id.clone()).or_default();
                if !c.answered {
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
                if outcome == "abandoned_queue" {
                    self.day.abandoned += 1;
                    let queued = info.and_then(|i| i.queued_at);
                    if queued.is_some_and(|q| event.at - q > th) {
                        self.day.abandoned_after += 1;
                    }
                }
                // An agent on the call or wrapping it up keeps it (the call they work on), its
                // hold and quality gone; one whose phone still rang loses it.
                for a in self.agents.values_mut() {
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
            EventKind::PhoneRegistration {
                agent_id,
                registered,
                transport,
                contact,
                expires_at,
                ..
            } => {
                let reg = Registration {
                    registered: *registered,
                    transport: transport.clone(),
                    contact: contact.clone(),
                    expires_at: *expires_at,
                };
                self.registrations.insert(agent_id.clone(), reg);
                self.refresh_health(agent_id);
                false
            }
            EventKind::AgentDevice { agent_id, device } => {
                self.set_device(agent_id.clone(), *device);
                false
            }
            EventKind::Digit { .. } => false,
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
        let (names, devices) = (&self.names, &self.devices);
        let (registrations, require) = (&self.registrations, self.require_registration);
        self.agents.entry(id.clone()).or_insert_with(|| {
            let mut view = AgentView {
                id: id.clone(),
                name: names.get(id).cloned().unwrap_or_default(),
                state: AgentState::Offline.name().to_owned(),
                reason: None,
                reason_code: None,
                since: None,
                call_id: None,
                caller: None,
                customer_name: None,
                customer_id: None,
                device: Device::default(),
                registered: None,
                transport: None,
                reachable: true,
                held: None,
                quality: QualityPair::default(),
            };
            let device = devices.get(id).copied().unwrap_or_default();
            let empty = Registration::default();
            view.set_health(device, registrations.get(id).unwrap_or(&empty), require);
            view
        })
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
            for e in entries {
                let waited = ms(e.waited);
                let call = self.calls.get(&CallId::from_string(e.id.as_str()));
                *q.by_priority
                    .entry(e.priority.get().to_string())
                    .or_default() += 1;
                q.longest_wait_ms = q.longest_wait_ms.max(waited);
                q.callers.push(CallerView {
                    call_id: e.id.as_str().to_owned(),
                    caller: call.map(|c| c.caller.clone()).filter(|c| !c.is_empty()),
                    customer: call.and_then(|c| c.customer.clone()),
                    priority: e.priority.get(),
                    waited_ms: waited,
                    over_threshold: waited > long,
                });
            }
            q.waiting = q.callers.len();
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
            to_value(&self.agents.values().collect::<Vec<_>>()),
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

/// The elements of `new` that differ from the element with the same `key` in `old`.
fn changed_by(new: &[Value], old: &[Value], key: &str) -> Value {
    Value::Array(
        new.iter()
            .filter(|n| {
                let id = n.get(key);
                !old.iter().any(|o| o.get(key) == id && o == *n)
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
