//! The supervisor model's agents (no I/O): each agent's view (state, reason and code, the call
//! with its caller, device, registration and reachability, hold, quality) and what the model
//! knows to build it (names, devices, phone registrations, the reachability rule).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::acd::{ReasonCode, Registration, offered_calls};
use crate::domain::{AgentId, CallId, CustomerId, Device};

/// One agent as the feed shows them (docs/supervisor.md, "Agents").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct AgentView {
    pub(super) id: AgentId,
    pub(super) name: String,
    pub(super) state: String,
    /// The words of a `not_ready` state only (as the desk shows them).
    pub(super) reason: Option<String>,
    /// A system reason's code (`not_ready`, `offline`), as the desk shows it.
    pub(super) reason_code: Option<ReasonCode>,
    pub(super) since: Option<i64>,
    /// The call the agent is ringing for, talking on or wrapping up.
    pub(super) call_id: Option<CallId>,
    /// That call's caller (E.164 or raw) and customer name, when the model saw it arrive.
    pub(super) caller: Option<String>,
    pub(super) customer_name: Option<String>,
    #[serde(skip)]
    pub(super) customer_id: Option<CustomerId>,
    /// How the agent answers calls (read with the names; `agent_device` events).
    pub(super) device: Device,
    /// Phone agents: whether their extension is registered and over which transport; `null`
    /// for browser agents.
    pub(super) registered: Option<bool>,
    pub(super) transport: Option<String>,
    /// The router would offer this agent a call given their device and registration.
    pub(super) reachable: bool,
    /// Why the agent's call is on hold (`agent`, `browser_gone`), while it is.
    pub(super) held: Option<String>,
    /// The latest quality sample of the agent's current call, per source.
    pub(super) quality: QualityPair,
}

/// Who a call is from, as the model knows it.
#[derive(Debug, Clone, Default)]
pub(super) struct CallFacts {
    pub(super) caller: Option<String>,
    pub(super) customer_id: Option<CustomerId>,
    pub(super) customer: Option<String>,
}

impl AgentView {
    /// Moves the agent to `call` (or none): hold and quality belong to the call they were for;
    /// `facts` name its caller (kept when `None` and the call is the same).
    pub(super) fn set_call(&mut self, call: Option<CallId>, facts: Option<CallFacts>) {
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
    pub(super) fn set_health(
        &mut self,
        device: Device,
        registration: &Registration,
        require: bool,
    ) {
        self.device = device;
        let phone = device == Device::Phone;
        self.registered = phone.then_some(registration.registered);
        self.transport = registration.transport.clone().filter(|_| phone);
        self.reachable = offered_calls(require, device, registration.registered);
    }
}

/// The latest sample from each source (docs/supervisor.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(super) struct QualityPair {
    pub(super) server: Option<QualityView>,
    pub(super) browser: Option<QualityView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct QualityView {
    pub(super) source: String,
    pub(super) loss_pct: Option<f64>,
    pub(super) jitter_ms: Option<f64>,
    pub(super) rtt_ms: Option<f64>,
    pub(super) at: i64,
}

/// Every agent the model shows, by id, and what it knows to build their views.
#[derive(Debug)]
pub(super) struct Agents {
    names: HashMap<AgentId, String>,
    devices: HashMap<AgentId, Device>,
    registrations: HashMap<AgentId, Registration>,
    /// `[acd] require_registration`, for `reachable`.
    require_registration: bool,
    views: BTreeMap<AgentId, AgentView>,
}

impl Default for Agents {
    fn default() -> Self {
        Agents {
            names: HashMap::new(),
            devices: HashMap::new(),
            registrations: HashMap::new(),
            require_registration: true,
            views: BTreeMap::new(),
        }
    }
}

impl Agents {
    /// A fresh book that keeps only the reachability rule and the phone registrations (which
    /// only the event stream carries; kept as last seen when the feed rebuilds after lag).
    pub(super) fn rebuilt(&self) -> Agents {
        Agents {
            registrations: self.registrations.clone(),
            require_registration: self.require_registration,
            ..Agents::default()
        }
    }

    /// An agent's display name.
    pub(super) fn set_name(&mut self, id: AgentId, name: String) {
        if let Some(a) = self.views.get_mut(&id) {
            a.name.clone_from(&name);
        }
        self.names.insert(id, name);
    }

    /// Whether the model lacks a name for this agent.
    pub(super) fn needs_name(&self, id: &AgentId) -> bool {
        !self.names.contains_key(id)
    }

    /// The queue engine's rule for `reachable`.
    pub(super) fn set_require_registration(&mut self, require: bool) {
        self.require_registration = require;
        let ids: Vec<AgentId> = self.views.keys().cloned().collect();
        for id in ids {
            self.refresh_health(&id);
        }
    }

    /// An agent's device.
    pub(super) fn set_device(&mut self, id: AgentId, device: Device) {
        self.devices.insert(id.clone(), device);
        self.refresh_health(&id);
    }

    /// An agent's phone registration (a `phone_registration` event).
    pub(super) fn set_registration(&mut self, id: &AgentId, registration: Registration) {
        self.registrations.insert(id.clone(), registration);
        self.refresh_health(id);
    }

    /// A customer's name on every agent's call of theirs.
    pub(super) fn customer_named(&mut self, id: &CustomerId, name: &str) {
        for a in self.views.values_mut() {
            if a.customer_id.as_ref() == Some(id) {
                a.customer_name = Some(name.to_owned());
            }
        }
    }

    /// The agent's view, created (offline) when first seen.
    pub(super) fn view(&mut self, id: &AgentId) -> &mut AgentView {
        let (names, devices) = (&self.names, &self.devices);
        let (registrations, require) = (&self.registrations, self.require_registration);
        self.views.entry(id.clone()).or_insert_with(|| {
            let mut view = AgentView {
                id: id.clone(),
                name: names.get(id).cloned().unwrap_or_default(),
                state: crate::acd::AgentState::Offline.name().to_owned(),
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

    /// The views, by id.
    pub(super) fn iter(&self) -> impl Iterator<Item = &AgentView> {
        self.views.values()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut AgentView> {
        self.views.values_mut()
    }

    fn refresh_health(&mut self, id: &AgentId) {
        let device = self.devices.get(id).copied().unwrap_or_default();
        let empty = Registration::default();
        let reg = self.registrations.get(id).unwrap_or(&empty);
        if let Some(a) = self.views.get_mut(id) {
            a.set_health(device, reg, self.require_registration);
        }
    }
}
