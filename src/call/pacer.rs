//! The RTP pacer (I/O driver): a thread (`[media] pacer_threads`, one by default) sends the
//! frames that call tasks built ahead, each at its 20 ms slot, from a 1 ms timer wheel.
//!
//! Without it every held call wakes its task, its timer and the socket 50 times a second; with
//! thousands of calls those wake-ups queue behind each other on the two runtime workers and a
//! frame leaves late (issue 12; figures in BENCHMARKS.md, "the RTP pacer"). Now a call task
//! playing a prompt or hold music wakes about every 60 ms, builds the next few packets
//! (numbered, the RTP header final) and hands them here; the pacer thread sleeps to the next
//! millisecond that has packets, sends them, and sleeps again. A packet goes out at the first
//! tick at or after its slot, never before, and never after a later packet of its stream.
//!
//! A call whose audio changes (a digit stops the prompt, an agent answers, a re-INVITE puts us
//! on hold) takes its unsent packets back with [`PacedStream::revoke`], which returns the RTP
//! sender as it was before the first of them, so the new audio continues the stream with no
//! gap in the sequence numbers. Only plain RTP legs are paced: an SRTP packet is protected
//! under its index once, and a revoked one would be protected again with other content.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::rtp_socket::RtpSocket;
use crate::media::rtp::RtpSender;

/// The longest packet the pacer carries (RTP header and one 20 ms G.711 frame); longer packets
/// are sent by the call itself.
pub(crate) const MAX_PACKET: usize = 12 + 160;

/// Milliseconds the wheel spans: the calls' lead (100 ms) and a little. Every bucket keeps the
/// room of its busiest tick (about 1.2 KiB per 20 calls), so the span is no longer than the
/// lead needs. A call builds no further ahead than the span ([`PacedStream::horizon`]): when
/// the thread runs late, calls build less, and nothing beyond 128 ms is ever held.
const WHEEL_MS: u64 = 128;

/// A packet this late is dropped, not sent: the thread is catching up after a stall, and a
/// burst of stale audio is worse than a gap (the gap shows as loss at the far end).
const STALE: Duration = Duration::from_millis(100);

/// The pacer: a cheap handle to its threads (`[media] pacer_threads`, one by default), each
/// with its own wheel; a stream stays on the thread it was given.
#[derive(Clone)]
pub struct Pacer {
    shards: Arc<Vec<Arc<Shared>>>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").finish_non_exhaustive()
    }
}

struct Shared {
    /// Instant of tick 0.
    origin: Instant,
    wheel: Mutex<Wheel>,
    /// Signalled when a packet arrives in an empty wheel (the thread sleeps until then).
    work: Condvar,
    /// Packets reached more than 2 ms after their slot (sent late, or dropped when stale): a
    /// symptom of an overloaded machine.
    late: AtomicU64,
    /// Packets dropped as stale (`STALE` after their slot).
    dropped: AtomicU64,
}

struct Wheel {
    /// Packets by the tick they are due at, modulo `WHEEL_MS`.
    buckets: Vec<Vec<Pending>>,
    /// The last tick taken by the thread: a packet due at or before it is not accepted.
    done: u64,
    /// Packets in the wheel.
    queued: usize,
    /// The tick the thread sleeps until: a packet due earlier wakes it.
    sleeping_until: u64,
}

/// One packet waiting for its slot.
struct Pending {
    /// The call's socket, which also holds the stream's state (one allocation: the thread
    /// touches one place per packet besides the packet).
    stream: Arc<RtpSocket>,
    /// The stream's epoch when the packet was built: a revoke moves the epoch on.
    epoch: u32,
    /// The stream's number for the packet (what a revoke reports as sent).
    number: u64,
    tick: u64,
    to: SocketAddr,
    len: u8,
    data: [u8; MAX_PACKET],
}

/// What the thread and the call share about one stream, kept in its socket
/// ([`RtpSocket::paced`]). Locked by the thread around each send and by the call to revoke: a
/// revoke either comes before a send (the packet is not sent) or after it (it is reported as
/// sent).
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    epoch: u32,
    /// The number of the last packet sent.
    sent: Option<u64>,
}

impl Pacer {
    /// Starts `threads` pacer threads (at most 8; none: calls pace themselves). Each ends by
    /// itself once the last handle and stream are gone.
    pub fn start(threads: usize) -> std::io::Result<Pacer> {
        let n = threads.min(8);
        let shards = (0..n)
            .map(|_| start_thread())
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Pacer {
            shards: Arc::new(shards),
            next: Arc::default(),
        })
    }

    /// A stream sending from `socket` (`None` without pacer threads).
    pub(crate) fn stream(&self, socket: Arc<RtpSocket>) -> Option<PacedStream> {
        if self.shards.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        Some(PacedStream {
            shared: Arc::clone(&self.shards[i]),
            ctl: socket,
            epoch: 0,
            next_number: 0,
            unsent: Vec::new(),
        })
    }

    /// Packets reached more than 2 ms after their slot since start (sent late or dropped).
    pub fn late(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.late.load(Ordering::Relaxed))
            .sum()
    }

    /// Packets dropped as stale (100 ms after their slot) since start.
    pub fn dropped(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.dropped.load(Ordering::Relaxed))
            .sum()
    }
}

/// One pacer thread and its wheel.
fn start_thread() -> std::io::Result<Arc<Shared>> {
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        wheel: Mutex::new(Wheel {
            buckets: (0..WHEEL_MS).map(|_| Vec::new()).collect(),
            done: 0,
            queued: 0,
            sleeping_until: u64::MAX,
        }),
        work: Condvar::new(),
        late: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
    });
    let thread = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("rtp-pacer".into())
        .spawn(move || run(&thread))?;
    Ok(shared)
}

/// One call's stream through the pacer (owned by the call task).
pub(crate) struct PacedStream {
    shared: Arc<Shared>,
    ctl: Arc<RtpSocket>,
    epoch: u32,
    next_number: u64,
    /// The packets handed over and maybe not yet sent: their numbers and the sender as it was
    /// before each was built (oldest first; pruned as they are sent).
    unsent: Vec<(u64, RtpSender)>,
}

impl PacedStream {
    /// Hands `packet` over to be sent to `to` at `due`; `before` is the sender as it was before
    /// the packet was built (what a revoke goes back to). `false` when the pacer cannot take
    /// it (too long; its tick has passed, so every packet before it has been sent and the
    /// caller sends it itself, in order; or beyond [`Self::horizon`]).
    pub(crate) fn push(
        &mut self,
        due: Instant,
        to: SocketAddr,
        packet: &[u8],
        before: &RtpSender,
    ) -> bool {
        let Some(len) = u8::try_from(packet.len())
            .ok()
            .filter(|&l| usize::from(l) <= MAX_PACKET)
        else {
            return false;
        };
        let tick = self.shared.tick_of(due);
        let number = self.next_number;
        let mut pending = Pending {
            stream: Arc::clone(&self.ctl),
            epoch: self.epoch,
            number,
            tick,
            to,
            len,
            data: [0; MAX_PACKET],
        };
        pending.data[..packet.len()].copy_from_slice(packet);
        {
            let mut wheel = lock(&self.shared.wheel);
            self.shared.catch_up(&mut wheel);
            if tick <= wheel.done || tick >= wheel.done + WHEEL_MS {
                return false;
            }
            wheel.buckets[(tick % WHEEL_MS) as usize].push(pending);
            wheel.queued += 1;
            if tick < wheel.sleeping_until {
                wheel.sleeping_until = tick;
                self.shared.work.notify_one();
            }
        }
        self.next_number += 1;
        self.prune();
        self.unsent.push((number, before.clone()));
        true
    }

    /// The last instant a packet may be due at to be taken now: the end of the wheel's span
    /// from where its thread is (it runs behind real time when the machine is short of CPU).
    pub(crate) fn horizon(&self) -> Instant {
        let mut wheel = lock(&self.shared.wheel);
        self.shared.catch_up(&mut wheel);
        self.shared.instant_of(wheel.done + WHEEL_MS - 1)
    }

    /// Takes back every packet not sent yet; returns the sender as it was before the first of
    /// them (`None` when all were sent): the stream goes on from there.
    pub(crate) fn revoke(&mut self) -> Option<RtpSender> {
        if self.unsent.is_empty() {
            return None;
        }
        let sent = {
            let mut state = lock(&self.ctl.paced);
            state.epoch = state.epoch.wrapping_add(1);
            state.sent
        };
        self.epoch = self.epoch.wrapping_add(1);
        let first = self
            .unsent
            .drain(..)
            .find(|(n, _)| sent.is_none_or(|s| *n > s));
        first.map(|(_, sender)| sender)
    }

    /// Forgets the checkpoints of packets already sent.
    fn prune(&mut self) {
        if self.unsent.len() < 8 {
            return;
        }
        let sent = lock(&self.ctl.paced).sent;
        if let Some(s) = sent {
            self.unsent.retain(|(n, _)| *n > s);
        }
        // A pacer far behind: keep the newest few (a revoke then leaves a gap, never a repeat).
        if self.unsent.len() > 32 {
            let excess = self.unsent.len() - 32;
            self.unsent.drain(..excess);
        }
    }
}

impl Drop for PacedStream {
    fn drop(&mut self) {
        // The call is over: nothing more goes out for it.
        let mut state = lock(&self.ctl.paced);
        state.epoch = state.epoch.wrapping_add(1);
    }
}

impl Shared {
    /// An empty wheel owes nothing for the ticks that passed: it is where real time is (the
    /// thread sleeps while idle and moves `done` only as it works).
    fn catch_up(&self, wheel: &mut Wheel) {
        if wheel.queued == 0 {
            let now = self.tick_of(Instant::now()).saturating_sub(1);
            wheel.done = wheel.done.max(now);
        }
    }

    /// The first tick at or after `at`: a packet is never sent before its slot.
    fn tick_of(&self, at: Instant) -> u64 {
        let d = at.saturating_duration_since(self.origin);
        let ms = d.as_millis() as u64;
        if d > Duration::from_millis(ms) {
            ms + 1
        } else {
            ms
        }
    }

    fn instant_of(&self, tick: u64) -> Instant {
        self.origin + Duration::from_millis(tick)
    }
}

/// A poisoned lock only means a thread panicked while holding it; the data is plain.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The thread: sleep to the next tick with packets, send what is due, repeat; end when no
/// handle or stream is left.
fn run(shared: &Arc<Shared>) {
    let mut batch: Vec<Pending> = Vec::new();
    let mut tick = shared.tick_of(Instant::now());
    loop {
        // Wait for the next bucket with packets to come due.
        let mut wheel = lock(&shared.wheel);
        let last = loop {
            if wheel.queued == 0 {
                if Arc::strong_count(shared) == 1 {
                    return;
                }
                // Idle: nothing is owed for the ticks that pass (`tick` follows below).
                shared.catch_up(&mut wheel);
                wheel.sleeping_until = u64::MAX;
                wheel = wait(shared, wheel, Duration::from_millis(500));
                continue;
            }
            // Ticks up to `done` were caught up while the wheel was empty: nothing is there.
            tick = tick.max(wheel.done + 1);
            let next = (tick..tick + WHEEL_MS)
                .find(|t| !wheel.buckets[(t % WHEEL_MS) as usize].is_empty())
                .unwrap_or(tick + WHEEL_MS);
            let now = Instant::now();
            let at = shared.instant_of(next);
            if at <= now {
                break shared.tick_of(now).saturating_sub(1).max(next);
            }
            wheel.sleeping_until = next;
            wheel = wait(shared, wheel, at - now);
        };
        wheel.sleeping_until = u64::MAX;
        drop(wheel);
        while tick <= last {
            {
                let mut wheel = lock(&shared.wheel);
                wheel.done = wheel.done.max(tick);
                let bucket = &mut wheel.buckets[(tick % WHEEL_MS) as usize];
                std::mem::swap(bucket, &mut batch);
                wheel.queued -= batch.len();
            }
            send(shared, tick, &mut batch);
            tick += 1;
        }
    }
}

/// Waits on the wheel's condition variable for at most `d` (a push due sooner wakes it).
fn wait<'a>(shared: &Shared, wheel: MutexGuard<'a, Wheel>, d: Duration) -> MutexGuard<'a, Wheel> {
    shared
        .work
        .wait_timeout(wheel, d)
        .map(|(g, _)| g)
        .unwrap_or_else(|p| p.into_inner().0)
}

/// Sends a tick's packets (those of a revoked epoch are dropped, stale ones too).
fn send(shared: &Shared, tick: u64, batch: &mut Vec<Pending>) {
    let now = Instant::now();
    let slot = shared.instant_of(tick);
    let stale = now > slot + STALE;
    let mut live = 0u64;
    for p in batch.iter() {
        debug_assert_eq!(p.tick, tick);
        let mut state = lock(&p.stream.paced);
        if state.epoch != p.epoch {
            continue;
        }
        live += 1;
        if stale {
            state.sent = Some(p.number);
            continue;
        }
        if let Err(e) = p.stream.try_send_to(&p.data[..usize::from(p.len)], p.to)
            && e.kind() != std::io::ErrorKind::WouldBlock
        {
            tracing::debug!(error = %e, to = %p.to, "RTP send failed");
        }
        // Sent or refused by a full buffer: either way its slot has passed.
        state.sent = Some(p.number);
    }
    batch.clear();
    if now > slot + Duration::from_millis(2) {
        shared.late.fetch_add(live, Ordering::Relaxed);
    }
    if stale {
        shared.dropped.fetch_add(live, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
