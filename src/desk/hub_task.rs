//! The desk hub's owner task: per agent the outbox (numbered frames, a ring of the last 1,000
//! for resume), the connections, the agent state, the device and its registration, the call in
//! the pop and the intake being edited; fed by the event bus and the hub handle's commands. No
//! lock, never awaits a connection (a full connection queue closes that connection). After
//! missed events it repairs itself (`hub_repair`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::frames::{Frame, FrameBody, MissReason, StateView};
use super::hub::{CONN_QUEUE, Cmd, Connection, Hello, RING, Seed};
use super::intakes::{IntakeOps, IntakeView};
use super::pop::{self, CustomerView, Phase, Pop};
use crate::acd::{AcdHandle, DeviceHealth, Registration};
use crate::domain::{AgentId, CallId, Device};
use crate::events::{Event, EventKind};
use crate::store::Store;

#[path = "hub_repair.rs"]
mod repair;

struct Conn {
    id: u64,
    tx: mpsc::Sender<Arc<Frame>>,
    pops: bool,
}

/// The call in an agent's pop, or a pop being built.
struct Pending {
    call_id: CallId,
    phase: Phase,
    /// Epoch ms of the `call_offered` event (the routing decision), for the latency histogram
    /// and the pop's `offered_at`.
    offered_at: i64,
    /// Epoch ms of `call_connected` / `call_ended` seen while the pop was being built.
    connected_at: Option<i64>,
    ended_at: Option<i64>,
}

#[derive(Default)]
struct AgentDesk {
    name: String,
    seq: u64,
    ring: VecDeque<Arc<Frame>>,
    conns: Vec<Conn>,
    state: Option<StateView>,
    /// An offered call whose pop is being built.
    pending: Option<Pending>,
    call: Option<Box<Pop>>,
    intake: Option<Box<IntakeView>>,
    /// The intake the workspace shows (the `watch` frame), kept live with others' changes.
    watching: Option<crate::domain::IntakeId>,
    /// The agent's device: from the first connection's seed, then `agent_device` events.
    device: Option<Device>,
    /// The agent's phone registration, from `phone_registration` events.
    registration: Registration,
}

fn has_outcome(intake: &IntakeView) -> bool {
    matches!(intake.status.as_str(), "resolved" | "escalated" | "closed")
}

impl AgentDesk {
    /// Numbers `body`, keeps it for resume, and sends it to every connection; a connection
    /// whose queue is full is dropped (its receiver sees the end and closes the socket).
    fn push(&mut self, body: &FrameBody) {
        self.seq += 1;
        let frame = Arc::new(Frame::new(Some(self.seq), body));
        if self.ring.len() >= RING {
            self.ring.pop_front();
        }
        self.ring.push_back(frame.clone());
        self.conns.retain(|c| {
            if frame.call_frame && !c.pops {
                return true;
            }
            match c.tx.try_send(frame.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::info!(conn = c.id, "desk connection too slow; closing it");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    fn current_call_id(&self) -> Option<&CallId> {
        self.call.as_ref().map(|p| &p.call_id)
    }

    /// The device health to show (`None` before the device is known).
    fn health(&self, require_registration: bool) -> Option<DeviceHealth> {
        let device = self.device?;
        Some(DeviceHealth::of(
            device,
            &self.registration,
            require_registration,
        ))
    }

    /// When the offer of `call` was made, and the caller and customer name when the pop shows
    /// them.
    fn offer_facts(&self, call: &CallId) -> (Option<i64>, Option<(String, Option<String>)>) {
        let pending = self.pending.as_ref().filter(|p| &p.call_id == call);
        let shown = self.call.as_ref().filter(|p| &p.call_id == call);
        let offered_at = pending
            .map(|p| p.offered_at)
            .or(shown.map(|p| p.offered_at));
        let who = shown.map(|p| {
            let name = p.customer.as_ref().map(|c| c.name.clone());
            (p.caller.clone(), name)
        });
        (offered_at, who)
    }

    /// Shows the customer in the pop when the pop's intake (or the pop itself) names them.
    fn customer_changed(&mut self, c: &CustomerView) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let linked = call.customer.as_ref().is_some_and(|old| old.id == c.id)
            || call
                .intake
                .as_ref()
                .is_some_and(|i| i.customer_id.as_ref() == Some(&c.id));
        if linked {
            call.customer = Some(c.clone());
            call.candidates.clear();
        }
    }

    /// Keeps the pop's draft in step with an intake frame; clears an ended call whose intake
    /// now has an outcome.
    fn intake_changed(&mut self, view: &IntakeView) {
        self.intake = Some(Box::new(view.clone()));
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let same = call.intake.as_ref().is_some_and(|i| i.id == view.id)
            || view.calls.iter().any(|c| c == call.call_id.as_str());
        if !same {
            return;
        }
        call.intake = Some(view.clone());
        if call.phase == Phase::Ended && has_outcome(view) {
            self.call = None;
        }
    }
}

pub(super) struct HubTask {
    agents: HashMap<AgentId, AgentDesk>,
    /// Which agent's pop shows a call (for `call_ended`, which names no agent).
    calls: HashMap<CallId, AgentId>,
    epoch: Arc<str>,
    next_conn: u64,
    tx: mpsc::WeakSender<Cmd>,
    store: Store,
    ops: IntakeOps,
    tasks: TaskTracker,
    latency: Arc<super::latency::PopLatency>,
    /// `[acd] require_registration`, for the `reachable` of device frames.
    require_registration: bool,
    /// The queue engine, whose snapshot repairs the desks after missed events.
    acd: AcdHandle,
    /// How often the hub fell behind the event stream and repaired itself.
    repairs: Arc<AtomicU64>,
}

impl HubTask {
    /// A hub with no agents yet; `tx` lets pop builders report back.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        epoch: Arc<str>,
        tx: mpsc::WeakSender<Cmd>,
        store: Store,
        ops: IntakeOps,
        tasks: TaskTracker,
        latency: Arc<super::latency::PopLatency>,
        acd: AcdHandle,
        repairs: Arc<AtomicU64>,
    ) -> HubTask {
        HubTask {
            latency,
            require_registration: acd.require_registration(),
            acd,
            repairs,
            agents: HashMap::new(),
            calls: HashMap::new(),
            epoch,
            next_conn: 1,
            tx,
            store,
            ops,
            tasks,
        }
    }

    pub(super) async fn run(
        mut self,
        mut rx: mpsc::Receiver<Cmd>,
        mut events: tokio::sync::broadcast::Receiver<Arc<Event>>,
        stop: CancellationToken,
    ) {
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                event = events.recv() => match event {
                    Ok(e) => self.event(&e),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "desk hub fell behind the event stream; repairing");
                        // From now on; what was missed is read from its owners.
                        events = events.resubscribe();
                        self.repair().await;
                    }
                    Err(RecvError::Closed) => break,
                },
                _ = stop.cancelled() => break,
            }
        }
    }

    fn desk(&mut self, agent: &AgentId) -> &mut AgentDesk {
        self.agents.entry(agent.clone()).or_default()
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect {
                agent,
                hello,
                seed,
                pops,
                reply,
            } => {
                let conn = self.connect(&agent, hello, seed, pops);
                // The handler may have gone away meanwhile; the connection then just closes.
                if let Err(conn) = reply.send(conn) {
                    self.desk(&agent).conns.retain(|c| c.id != conn.id);
                }
            }
            Cmd::Disconnect { agent, conn } => {
                if let Some(desk) = self.agents.get_mut(&agent) {
                    desk.conns.retain(|c| c.id != conn);
                }
            }
            Cmd::Publish { agent, body } => {
                let desk = self.desk(&agent);
                match &body {
                    FrameBody::Intake(view) => desk.intake_changed(view),
                    FrameBody::Customer(c) => desk.customer_changed(c),
                    _ => {}
                }
                desk.push(&body);
            }
            Cmd::PopBuilt { agent, pop } => self.pop_built(agent, pop),
            Cmd::Watch { agent, intake } => self.desk(&agent).watching = intake,
            Cmd::Refreshed { view, except } => {
                for (agent, desk) in self.agents.iter_mut() {
                    if except.as_ref() == Some(agent) {
                        continue;
                    }
                    let shown = desk.intake.as_ref().is_some_and(|i| i.id == view.id)
                        || desk.watching.as_ref() == Some(&view.id)
                        || (desk.call.as_ref())
                            .and_then(|p| p.intake.as_ref())
                            .is_some_and(|i| i.id == view.id);
                    if shown {
                        desk.intake_changed(&view);
                        desk.push(&FrameBody::Intake(view.clone()));
                    }
                }
            }
        }
    }

    fn connect(&mut self, agent: &AgentId, hello: Hello, seed: Seed, pops: bool) -> Connection {
        let id = self.next_conn;
        self.next_conn += 1;
        let epoch = self.epoch.to_string();
        let lists = (*self.ops.lists()).clone();
        let require = self.require_registration;
        let desk = self.desk(agent);
        desk.name = seed.name;
        let state = desk.state.get_or_insert(seed.state).clone();
        let device = *desk.device.get_or_insert(seed.device);
        let resume_from = match (hello.epoch.as_deref(), hello.last_seq) {
            (Some(e), Some(n)) if *e == *epoch => {
                // Every frame after `n` must still be in the ring.
                let oldest = desk
                    .ring
                    .front()
                    .and_then(|f| f.seq)
                    .unwrap_or(desk.seq + 1);
                (n == desk.seq || (n < desk.seq && oldest <= n + 1)).then_some(n)
            }
            _ => None,
        };
        let replay_or_snapshot = match resume_from {
            Some(n) => desk
                .ring
                .iter()
                .filter(|f| f.seq.is_some_and(|s| s > n) && (pops || !f.call_frame))
                .cloned()
                .collect(),
            None => {
                let health = DeviceHealth::of(device, &desk.registration, require);
                let body = desk.snapshot(agent, state, health, lists, pops);
                vec![Arc::new(Frame::new(None, &body))]
            }
        };
        let welcome = Arc::new(Frame::new(
            None,
            &FrameBody::Welcome {
                epoch,
                seq: desk.seq,
                resumed: resume_from.is_some(),
                server_time: crate::store::now_ms(),
            },
        ));
        let (tx, rx) = mpsc::channel(CONN_QUEUE);
        desk.conns.push(Conn { id, tx, pops });
        Connection {
            id,
            welcome,
            replay_or_snapshot,
            rx,
        }
    }

    fn event(&mut self, event: &Event) {
        match &event.kind {
            EventKind::CallOffered { call_id, agent_id } => {
                self.desk(agent_id).pending = Some(Pending {
                    call_id: call_id.clone(),
                    phase: Phase::Ringing,
                    offered_at: event.at,
                    connected_at: None,
                    ended_at: None,
                });
                self.calls.insert(call_id.clone(), agent_id.clone());
                self.spawn_build(agent_id.clone(), call_id.clone());
            }
            EventKind::OfferEnded {
                call_id,
                agent_id,
                result,
            } if result != "answered" => {
                let missed = MissReason::of_result(result);
                let (offered_at, who) = self.desk(agent_id).offer_facts(call_id);
                self.withdraw(agent_id, call_id);
                if let Some(reason) = missed {
                    let rang_ms = offered_at.map_or(0, |o| event.at.saturating_sub(o).max(0));
                    let miss = Miss {
                        call_id: call_id.clone(),
                        reason,
                        rang_ms,
                        at: event.at,
                    };
                    self.offer_missed(agent_id.clone(), miss, who);
                }
            }
            EventKind::CallConnected {
                call_id, agent_id, ..
            } => {
                let desk = self.desk(agent_id);
                if let Some(p) = desk.pending.as_mut().filter(|p| &p.call_id == call_id) {
                    p.phase = Phase::Connected;
                    p.connected_at = Some(event.at);
                }
                if let Some(pop) = desk.call.as_mut().filter(|p| &p.call_id == call_id) {
                    pop.phase = Phase::Connected;
                    pop.connected_at = Some(event.at);
                    let body = FrameBody::Pop(pop.clone());
                    desk.push(&body);
                }
            }
            EventKind::CallEnded { call_id, .. } => {
                let Some(agent) = self.calls.get(call_id).cloned() else {
                    return;
                };
                let desk = self.desk(&agent);
                let ringing = desk
                    .pending
                    .as_ref()
                    .is_some_and(|p| &p.call_id == call_id && p.phase == Phase::Ringing)
                    || desk
                        .call
                        .as_ref()
                        .is_some_and(|p| &p.call_id == call_id && p.phase == Phase::Ringing);
                if ringing {
                    // The caller left while the phone rang.
                    self.withdraw(&agent, call_id);
                    return;
                }
                self.calls.remove(call_id);
                let desk = self.desk(&agent);
                if let Some(p) = desk.pending.as_mut().filter(|p| &p.call_id == call_id) {
                    p.phase = Phase::Ended;
                    p.ended_at = Some(event.at);
                }
                if let Some(pop) = desk.call.as_mut().filter(|p| &p.call_id == call_id) {
                    pop.phase = Phase::Ended;
                    pop.ended_at = Some(event.at);
                    let done = pop.intake.as_ref().is_some_and(has_outcome);
                    desk.push(&FrameBody::CallEnded {
                        call_id: call_id.clone(),
                    });
                    if done {
                        desk.call = None;
                    }
                }
            }
            EventKind::CallTransferred {
                call_id,
                from_agent,
                to_agent,
                completed,
            } => {
                if !completed {
                    // Back with the handing agent: the call's end reaches their desk.
                    self.calls.insert(call_id.clone(), from_agent.clone());
                    return;
                }
                match to_agent {
                    Some(to) => {
                        self.calls.insert(call_id.clone(), to.clone());
                        // The target's pop was built at the ring: show them the note too.
                        let intake = (self.desk(to).call.as_ref())
                            .and_then(|p| p.intake.as_ref())
                            .map(|i| i.id.clone());
                        if let Some(intake) = intake {
                            self.spawn_refresh(intake);
                        }
                    }
                    // To a queue: the next agent's offer maps the call to them.
                    None => {
                        self.calls.remove(call_id);
                    }
                }
                // The handing agent's part is over: their pop ends (the intake stays to finish).
                let desk = self.desk(from_agent);
                if let Some(pop) = desk.call.as_mut().filter(|p| &p.call_id == call_id) {
                    pop.phase = Phase::Ended;
                    pop.ended_at = Some(event.at);
                    pop.handed_over = true;
                    let body = FrameBody::Pop(pop.clone());
                    desk.push(&body);
                    desk.push(&FrameBody::CallEnded {
                        call_id: call_id.clone(),
                    });
                }
            }
            EventKind::CallHeld {
                call_id,
                agent_id,
                held,
                reason,
            } => {
                self.desk(agent_id).push(&FrameBody::CallHeld {
                    call_id: call_id.clone(),
                    held: *held,
                    reason: reason.clone(),
                });
            }
            EventKind::AgentState {
                agent_id,
                to,
                reason,
                ..
            } => {
                let view = StateView::of_change(to, reason.as_ref(), event.at);
                let desk = self.desk(agent_id);
                desk.state = Some(view.clone());
                desk.push(&FrameBody::AgentState(view));
            }
            kind @ EventKind::PhoneRegistration { .. } => {
                if let Some((agent_id, registration)) = Registration::of_event(kind) {
                    let require = self.require_registration;
                    let desk = self.desk(agent_id);
                    desk.registration = registration;
                    if let Some(health) = desk.health(require) {
                        desk.push(&FrameBody::Device(health));
                    }
                }
            }
            EventKind::AgentDevice { agent_id, device } => {
                let require = self.require_registration;
                let desk = self.desk(agent_id);
                if desk.device != Some(*device) {
                    desk.device = Some(*device);
                    if let Some(health) = desk.health(require) {
                        desk.push(&FrameBody::Device(health));
                    }
                }
            }
            _ => {}
        }
    }

    /// Tells the agent their phone missed an offer: at once when the pop named the caller,
    /// else after reading the call (the offer may have failed before any pop was built).
    fn offer_missed(&mut self, agent: AgentId, miss: Miss, who: Option<(String, Option<String>)>) {
        if let Some((caller, customer_name)) = who {
            self.desk(&agent).push(&miss.frame(caller, customer_name));
            return;
        }
        let store = self.store.clone();
        let Some(tx) = self.tx.upgrade() else { return };
        self.tasks.spawn(async move {
            let (caller, name) = match pop::caller_of(&store, &miss.call_id).await {
                Ok(Some(found)) => found,
                Ok(None) => (String::new(), None),
                Err(e) => {
                    tracing::warn!(error = %e, call = %miss.call_id, "cannot read a missed call's caller");
                    (String::new(), None)
                }
            };
            let body = miss.frame(caller, name);
            let _ = tx.send(Cmd::Publish { agent, body }).await;
        });
    }

    /// The offer ended without an answer: the pop goes away at once.
    fn withdraw(&mut self, agent: &AgentId, call_id: &CallId) {
        let desk = self.desk(agent);
        let pending = desk.pending.as_ref().is_some_and(|p| &p.call_id == call_id);
        let shown = desk.current_call_id() == Some(call_id);
        if pending {
            desk.pending = None;
        }
        if shown {
            desk.call = None;
        }
        if pending || shown {
            desk.push(&FrameBody::OfferWithdrawn {
                call_id: call_id.clone(),
            });
        }
        if self.calls.get(call_id) == Some(agent) {
            self.calls.remove(call_id);
        }
    }

    /// Reads an intake again off the hub task once the journal has its writes (a transfer's
    /// note) and shows it on every desk that has it open.
    fn spawn_refresh(&self, intake: crate::domain::IntakeId) {
        let (store, ops) = (self.store.clone(), self.ops.clone());
        let Some(tx) = self.tx.upgrade() else { return };
        self.tasks.spawn(async move {
            store.synced().await;
            match ops.view(&intake).await {
                Ok(view) => {
                    let _ = tx
                        .send(Cmd::Refreshed {
                            view: Box::new(view),
                            except: None,
                        })
                        .await;
                }
                Err(e) => tracing::warn!(error = %e, %intake, "cannot read the handed-over intake"),
            }
        });
    }

    /// Builds the pop off the hub task; the result comes back as `PopBuilt`.
    fn spawn_build(&self, agent: AgentId, call: CallId) {
        let (store, ops) = (self.store.clone(), self.ops.clone());
        let Some(tx) = self.tx.upgrade() else { return };
        self.tasks.spawn(async move {
            let started = Instant::now();
            match pop::build(&store, &ops, &call, crate::store::now_ms()).await {
                Ok(pop) => {
                    let took = started.elapsed();
                    log_build_time(&call, took);
                    let _ = tx
                        .send(Cmd::PopBuilt {
                            agent,
                            pop: Box::new(pop),
                        })
                        .await;
                }
                Err(e) => tracing::error!(error = %e, %call, "cannot build the screen pop"),
            }
        });
    }

    fn pop_built(&mut self, agent: AgentId, mut pop: Box<Pop>) {
        let desk = self.desk(&agent);
        // Only the pop of the call still offered (or taken) is shown; a withdrawn one is dropped.
        let Some(pending) = desk.pending.take_if(|p| p.call_id == pop.call_id) else {
            return;
        };
        pop.phase = pending.phase;
        pop.offered_at = pending.offered_at;
        pop.connected_at = pending.connected_at.or(pop.connected_at);
        pop.ended_at = pending.ended_at.or(pop.ended_at);
        if pending.phase == Phase::Ringing {
            let offered_us = u64::try_from(pending.offered_at)
                .unwrap_or(0)
                .saturating_mul(1000);
            let now_us = super::latency::now_epoch_us();
            self.latency.observe(now_us.saturating_sub(offered_us));
        }
        let desk = self.desk(&agent);
        desk.intake = pop.intake.clone().map(Box::new);
        if pending.phase == Phase::Ended && pop.intake.as_ref().is_some_and(has_outcome) {
            desk.call = None;
        } else {
            desk.call = Some(pop.clone());
        }
        desk.push(&FrameBody::Pop(pop));
    }
}

/// An offer the agent's phone missed, until the frame can name the caller.
struct Miss {
    call_id: CallId,
    reason: MissReason,
    rang_ms: i64,
    at: i64,
}

impl Miss {
    fn frame(self, caller: String, customer_name: Option<String>) -> FrameBody {
        FrameBody::OfferMissed {
            call_id: self.call_id,
            caller,
            customer_name,
            rang_ms: self.rang_ms,
            reason: self.reason,
            at: self.at,
        }
    }
}

fn log_build_time(call: &CallId, took: Duration) {
    tracing::debug!(%call, build_us = took.as_micros() as u64, "screen pop built");
    if took > Duration::from_millis(20) {
        tracing::warn!(%call, build_ms = took.as_millis() as u64, "screen pop was slow to build");
    }
}
