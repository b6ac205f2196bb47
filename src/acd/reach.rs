//! Whether an agent's device can take a call now (the browser always, a phone while its
//! extension is registered), whether the router offers them calls, and the device health the
//! desk and the supervisor view show; [`ReachBook`] follows devices and registrations for the
//! driver that tells the engine (`Acd::set_reachable`). No I/O.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::{AgentId, Device};
use crate::events::EventKind;

/// An agent's phone registration as the event stream reports it (`phone_registration`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// The extension has a live binding.
    pub registered: bool,
    /// `udp` or `tcp` (`tls` once SIP over TLS exists); `None` when not registered.
    pub transport: Option<String>,
    /// The Contact URI of the newest binding.
    pub contact: Option<String>,
    /// Epoch ms the newest binding expires unless refreshed (it may have been refreshed since,
    /// by less than a quarter of its lifetime; docs/sip.md).
    pub expires_at: Option<i64>,
}

impl Registration {
    /// The agent and registration a `phone_registration` event reports; `None` for other events.
    pub fn of_event(kind: &EventKind) -> Option<(&AgentId, Registration)> {
        match kind {
            EventKind::PhoneRegistration {
                agent_id,
                registered,
                transport,
                contact,
                expires_at,
                ..
            } => Some((
                agent_id,
                Registration {
                    registered: *registered,
                    transport: transport.clone(),
                    contact: contact.clone(),
                    expires_at: *expires_at,
                },
            )),
            _ => None,
        }
    }
}

/// An agent's device and its health (the desk's `device` frame, docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceHealth {
    /// How the agent answers calls.
    pub device: Device,
    /// The agent's phone extension is registered (whatever the device).
    pub registered: bool,
    /// Of the registration.
    pub transport: Option<String>,
    /// Of the registration.
    pub contact: Option<String>,
    /// Of the registration.
    pub expires_at: Option<i64>,
    /// The router would offer this agent a call given their device and registration.
    pub reachable: bool,
}

impl DeviceHealth {
    /// The health of `device` with `registration` under the `[acd] require_registration` rule.
    pub fn of(device: Device, registration: &Registration, require_registration: bool) -> Self {
        DeviceHealth {
            device,
            registered: registration.registered,
            transport: registration.transport.clone(),
            contact: registration.contact.clone(),
            expires_at: registration.expires_at,
            reachable: offered_calls(require_registration, device, registration.registered),
        }
    }
}

/// Whether the device can take a call now: the browser softphone always, a phone while its
/// extension is registered.
pub fn device_ready(device: Device, registered: bool) -> bool {
    device == Device::Browser || registered
}

/// Whether the router offers calls to an agent with this device and registration: what the
/// engine decides with `[acd] require_registration` (docs/acd.md).
pub fn offered_calls(require_registration: bool, device: Device, registered: bool) -> bool {
    !require_registration || device_ready(device, registered)
}

#[derive(Debug, Clone, Copy)]
struct Known {
    device: Device,
    registered: bool,
    /// What the engine was last told.
    told: Option<bool>,
}

/// Devices and registrations per agent; says when an agent's readiness (what the engine must
/// be told) changes.
#[derive(Debug, Default)]
pub struct ReachBook {
    agents: HashMap<AgentId, Known>,
}

impl ReachBook {
    /// The agent's device; `Some(ready)` when the engine must be told.
    pub fn set_device(&mut self, agent: &AgentId, device: Device) -> Option<bool> {
        let k = self.entry(agent);
        k.device = device;
        Self::tell(k)
    }

    /// The agent's phone registration; `Some(ready)` when the engine must be told.
    pub fn set_registered(&mut self, agent: &AgentId, registered: bool) -> Option<bool> {
        let k = self.entry(agent);
        k.registered = registered;
        Self::tell(k)
    }

    /// Both at once (an agent read from the store); `Some(ready)` when the engine must be told.
    pub fn set_agent(&mut self, agent: &AgentId, device: Device, registered: bool) -> Option<bool> {
        let k = self.entry(agent);
        k.device = device;
        k.registered = registered;
        Self::tell(k)
    }

    /// The agent's device, if known.
    pub fn device(&self, agent: &AgentId) -> Option<Device> {
        self.agents.get(agent).map(|k| k.device)
    }

    fn entry(&mut self, agent: &AgentId) -> &mut Known {
        self.agents.entry(agent.clone()).or_insert(Known {
            device: Device::Phone,
            registered: false,
            told: None,
        })
    }

    fn tell(k: &mut Known) -> Option<bool> {
        let ready = device_ready(k.device, k.registered);
        (k.told != Some(ready)).then(|| {
            k.told = Some(ready);
            ready
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_book_tells_only_changes_of_readiness() {
        let mut book = ReachBook::default();
        let anna = AgentId::from_string("anna");
        assert_eq!(
            book.set_device(&anna, Device::Phone),
            Some(false),
            "first word"
        );
        assert_eq!(book.set_device(&anna, Device::Phone), None);
        assert_eq!(book.set_registered(&anna, true), Some(true));
        assert_eq!(book.set_registered(&anna, true), None, "a refresh");
        assert_eq!(book.set_device(&anna, Device::Browser), None, "still ready");
        assert_eq!(
            book.set_registered(&anna, false),
            None,
            "the browser needs no phone"
        );
        assert_eq!(book.set_device(&anna, Device::Phone), Some(false));
        assert_eq!(book.device(&anna), Some(Device::Phone));
    }

    #[test]
    fn reachable_follows_device_registration_and_the_setting() {
        let reg = Registration {
            registered: true,
            transport: Some("udp".into()),
            contact: Some("sip:2001@192.0.2.10".into()),
            expires_at: Some(1_000),
        };
        let none = Registration::default();
        assert!(DeviceHealth::of(Device::Phone, &reg, true).reachable);
        assert!(!DeviceHealth::of(Device::Phone, &none, true).reachable);
        assert!(
            DeviceHealth::of(Device::Phone, &none, false).reachable,
            "setting off"
        );
        let browser = DeviceHealth::of(Device::Browser, &none, true);
        assert!(browser.reachable && !browser.registered);
        assert_eq!(
            serde_json::to_value(DeviceHealth::of(Device::Phone, &reg, true)).unwrap(),
            serde_json::json!({"device": "phone", "registered": true, "transport": "udp",
                "contact": "sip:2001@192.0.2.10", "expires_at": 1000, "reachable": true})
        );
    }
}
