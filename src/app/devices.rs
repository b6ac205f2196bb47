//! The devices' watcher (thin I/O): follows the registrar's registration changes and the
//! agents' device switches, publishes `phone_registration` events for agents' extensions, and
//! tells the queue engine which agents' devices can take a call (`AcdHandle::set_reachable`,
//! docs/acd.md "Reachability"). Seeded from the store before the HTTP listener serves, so no
//! agent logs in unseen.

use std::collections::HashMap;
use std::time::Instant;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::acd::{AcdHandle, ReachBook, Registration};
use crate::domain::{AgentId, Device};
use crate::events::{Event, EventBus, EventKind};
use crate::sip::{Binding, RegistrationEvent, SipEndpoint};
use crate::store::{Store, now_ms};

/// The watcher's state; [`DeviceWatch::start`] seeds it and spawns its loop.
pub(super) struct DeviceWatch {
    sip: SipEndpoint,
    acd: AcdHandle,
    events: EventBus,
    store: Store,
    book: ReachBook,
    /// Each agent's extension (from the store).
    extensions: HashMap<AgentId, String>,
    /// The registration last published per agent.
    published: HashMap<AgentId, Registration>,
}

/// The receivers the loop reads, subscribed before the seed so no change slips between.
pub(super) struct Feeds {
    registrations: broadcast::Receiver<RegistrationEvent>,
    events: broadcast::Receiver<std::sync::Arc<Event>>,
}

impl DeviceWatch {
    /// Subscribes, then tells the engine about every stored agent; the loop is `run`.
    pub(super) async fn start(
        sip: SipEndpoint,
        acd: AcdHandle,
        events: EventBus,
        store: Store,
    ) -> (DeviceWatch, Feeds) {
        let feeds = Feeds {
            registrations: sip.registrations(),
            events: events.subscribe(),
        };
        let mut watch = DeviceWatch {
            sip,
            acd,
            events,
            store,
            book: ReachBook::default(),
            extensions: HashMap::new(),
            published: HashMap::new(),
        };
        watch.resync().await;
        (watch, feeds)
    }

    /// Follows registrations and device switches until `stop`.
    pub(super) async fn run(mut self, mut feeds: Feeds, stop: CancellationToken) {
        loop {
            tokio::select! {
                r = feeds.registrations.recv() => match r {
                    Ok(ev) => self.on_registration(ev).await,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "registration changes missed; re-reading");
                        self.resync().await;
                    }
                    Err(RecvError::Closed) => break,
                },
                e = feeds.events.recv() => match e {
                    Ok(ev) => self.on_event(&ev).await,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "device watcher fell behind the events; re-reading");
                        self.resync().await;
                    }
                    Err(RecvError::Closed) => break,
                },
                () = stop.cancelled() => break,
            }
        }
    }

    /// Re-reads every agent from the store and every extension's binding from the registrar.
    async fn resync(&mut self) {
        let agents = match self.store.list_agents().await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the agents' devices");
                return;
            }
        };
        for a in agents {
            self.learn(a.id, a.device, a.extension).await;
        }
    }

    /// An agent as stored: device and extension, and their phone's registration now.
    async fn learn(&mut self, agent: AgentId, device: Device, extension: Option<String>) {
        let binding = extension.as_deref().and_then(|e| self.sip.binding(e));
        match extension {
            Some(ext) => self.extensions.insert(agent.clone(), ext),
            None => self.extensions.remove(&agent),
        };
        let registration = registration_of(binding.as_ref());
        let registered = registration.registered;
        self.publish(&agent, registration);
        let ready = self.book.set_agent(&agent, device, registered);
        self.tell(agent, ready).await;
    }

    async fn on_registration(&mut self, ev: RegistrationEvent) {
        let agent = ev.agent_id.clone().or_else(|| {
            self.extensions
                .iter()
                .find(|(_, e)| **e == ev.extension)
                .map(|(a, _)| a.clone())
        });
        let Some(agent) = agent else {
            return;
        };
        self.extensions.insert(agent.clone(), ev.extension.clone());
        let registration = registration_of(ev.binding.as_ref());
        let registered = registration.registered;
        self.publish_always(&agent, &ev.extension, registration);
        let ready = self.book.set_registered(&agent, registered);
        self.tell(agent, ready).await;
    }

    async fn on_event(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::AgentDevice { agent_id, device } => {
                let ready = self.book.set_device(agent_id, *device);
                self.tell(agent_id.clone(), ready).await;
            }
            // A sign-in: read the agent again (an agent added, or changed behind our back).
            EventKind::AgentState { agent_id, from, .. } if from == "offline" => {
                match self.store.get_agent(agent_id).await {
                    Ok(Some(row)) => self.learn(row.id, row.device, row.extension).await,
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, agent = %agent_id, "cannot re-read an agent's device")
                    }
                }
            }
            _ => {}
        }
    }

    /// Publishes a registration read during a resync, unless it is what was published last.
    fn publish(&mut self, agent: &AgentId, registration: Registration) {
        let same = self.published.get(agent).is_some_and(|p| {
            (p.registered, &p.transport, &p.contact)
                == (
                    registration.registered,
                    &registration.transport,
                    &registration.contact,
                )
        });
        let never = !self.published.contains_key(agent) && !registration.registered;
        if same || never {
            return;
        }
        if let Some(ext) = self.extensions.get(agent).cloned() {
            self.publish_always(agent, &ext, registration);
        }
    }

    fn publish_always(&mut self, agent: &AgentId, extension: &str, registration: Registration) {
        self.events.publish(EventKind::PhoneRegistration {
            agent_id: agent.clone(),
            extension: extension.to_owned(),
            registered: registration.registered,
            transport: registration.transport.clone(),
            contact: registration.contact.clone(),
            expires_at: registration.expires_at,
        });
        self.published.insert(agent.clone(), registration);
    }

    async fn tell(&self, agent: AgentId, ready: Option<bool>) {
        let Some(ready) = ready else { return };
        if let Err(e) = self.acd.set_reachable(agent.clone(), ready).await {
            tracing::debug!(error = %e, %agent, "queue engine gone; reachability not told");
        }
    }
}

/// The registration a binding (or none) stands for, its expiry on the wall clock.
fn registration_of(binding: Option<&Binding>) -> Registration {
    let Some(b) = binding else {
        return Registration::default();
    };
    let left = b.expires_at.saturating_duration_since(Instant::now());
    let left_ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
    Registration {
        registered: true,
        transport: Some(b.transport.as_str().to_owned()),
        contact: Some(b.contact.clone()),
        expires_at: Some(now_ms().saturating_add(left_ms)),
    }
}
