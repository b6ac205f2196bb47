//! Strict RTP for one call leg (sans-IO, no I/O): which source may feed the call, where our RTP
//! may go, and from when. The guard against "RTP bleed" (Asterisk CVE-2017-14099) and against a
//! spoofed INVITE aiming our 50 packets/s at a third party; docs/media-security.md.
//!
//! - **Sending** waits for confirmation ([`StrictRtp::confirm`]: the ACK of the caller's leg, the
//!   2xx of an agent's phone) or the first RTP from the address the SDP names.
//! - **Sources.** `sdp` mode accepts only the SDP's address. `symmetric` mode (callers behind
//!   NAT) also learns a source from a run of in-sequence packets (one SSRC, consecutive sequence
//!   numbers) while none is known, once the leg is confirmed and the SDP's own address has had
//!   [`LEARN_WAIT`] to speak; the SDP's address is always accepted and takes over.
//! - **Locking.** A learned source is replaced only by new SDP ([`StrictRtp::on_sdp`]) or,
//!   when configured, after it has been silent for `relearn_after`.
//!
//! The driver parses the datagram and checks the payload type; this core only sees the header
//! and the source address. Per packet: a few comparisons, no allocation.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::rtp::RtpHeader;

/// Learning runs tracked at once: a caller's run survives strays from up to three others.
const SLOTS: usize = 4;

/// In symmetric mode, how long after confirmation (or new SDP) the SDP's own address is given to
/// speak before another source may be learned. A rogue that streams at the port from before the
/// ACK thus loses to a caller whose SDP is honest.
pub const LEARN_WAIT: Duration = Duration::from_millis(400);

/// In symmetric mode, how long after confirmation (or new SDP) we wait for a source before
/// sending to the SDP's address anyway (a phone that sends nothing until it hears us). Prompts
/// wait too, so a caller behind NAT, learned after [`LEARN_WAIT`], hears the greeting from its
/// first word even when its packets are late.
pub const SEND_WAIT: Duration = Duration::from_millis(1000);

/// How a leg's RTP source is chosen (`[media] rtp_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtpSource {
    /// Only the address and port the SDP names (the default).
    #[default]
    Sdp,
    /// The SDP's address, or a source learned from a run of in-sequence packets (NAT).
    Symmetric,
}

/// The strict-RTP settings of every leg (from `[media]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrictConfig {
    /// Where RTP may come from.
    pub source: RtpSource,
    /// Symmetric mode: in-sequence packets from one source before it is learned (at least 1).
    pub learn_packets: u16,
    /// A learned source silent this long may be replaced by a new run; `None`: never.
    pub relearn_after: Option<Duration>,
}

impl StrictConfig {
    /// The default run length (80 ms of 20 ms packets).
    pub const DEFAULT_LEARN_PACKETS: u16 = 4;

    /// The settings of `[media]`.
    pub fn from_media(m: &crate::config::MediaSection) -> StrictConfig {
        StrictConfig {
            source: m.rtp_source,
            learn_packets: m.rtp_learn_packets.max(1),
            relearn_after: (m.rtp_relearn_after_ms > 0)
                .then(|| Duration::from_millis(m.rtp_relearn_after_ms)),
        }
    }
}

impl Default for StrictConfig {
    fn default() -> Self {
        StrictConfig {
            source: RtpSource::Sdp,
            learn_packets: Self::DEFAULT_LEARN_PACKETS,
            relearn_after: None,
        }
    }
}

/// How many drop reasons there are.
pub const REASONS: usize = 7;

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is the leg's media: use it.
    Accept,
    /// Drop it, counted under this reason.
    Drop(DropReason),
}

/// Why a datagram on an RTP socket was dropped (the `reason` label in `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not a valid RTP packet (RFC 3550 §5.1).
    Malformed,
    /// A payload type the leg did not negotiate.
    PayloadType,
    /// Before the leg was answered (an agent's phone still ringing).
    BeforeAnswer,
    /// Neither the SDP's address nor the learned source.
    ForeignSource,
    /// Part of a learning run that has not completed (symmetric mode).
    Learning,
    /// An SRTP leg's packet whose authentication failed (forged, damaged, wrong key).
    SrtpAuth,
    /// An SRTP leg's packet already received (replay, RFC 3711 §3.3.2).
    SrtpReplay,
}

impl DropReason {
    /// Every reason, in the order of the counters.
    pub const ALL: [DropReason; REASONS] = [
        DropReason::Malformed,
        DropReason::PayloadType,
        DropReason::BeforeAnswer,
        DropReason::ForeignSource,
        DropReason::Learning,
        DropReason::SrtpAuth,
        DropReason::SrtpReplay,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::PayloadType => "payload_type",
            DropReason::BeforeAnswer => "before_answer",
            DropReason::ForeignSource => "foreign_source",
            DropReason::Learning => "learning",
            DropReason::SrtpAuth => "srtp_auth",
            DropReason::SrtpReplay => "srtp_replay",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Dropped packets per reason, shared by every call (relaxed atomics; touched only on drops).
#[derive(Debug, Default)]
pub struct DropCounters {
    counts: [AtomicU64; REASONS],
}

impl DropCounters {
    /// Counts one dropped packet.
    pub fn count(&self, reason: DropReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Every reason with its count.
    pub fn snapshot(&self) -> DropSnapshot {
        DropSnapshot(DropReason::ALL.map(|r| (r, self.counts[r.index()].load(Ordering::Relaxed))))
    }

    /// All dropped packets.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// The counters at one moment, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropSnapshot(pub [(DropReason, u64); REASONS]);

impl Default for DropSnapshot {
    fn default() -> Self {
        DropSnapshot(DropReason::ALL.map(|r| (r, 0)))
    }
}

/// One source trying to be learned.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    addr: SocketAddr,
    ssrc: u32,
    seq: u16,
    run: u16,
    last: Instant,
}

/// The strict-RTP state of one leg.
#[derive(Debug, Clone)]
pub struct StrictRtp {
    cfg: StrictConfig,
    /// Where the SDP says the peer's media is (also its only trusted source).
    sdp: Option<SocketAddr>,
    /// When the SDP's address was last set (the symmetric wait counts from here too).
    sdp_at: Instant,
    /// When the leg was confirmed (ACK, 2xx, or RTP from the SDP's address).
    confirmed_at: Option<Instant>,
    /// The accepted source: the SDP's address once it sent, or a learned one.
    source: Option<SocketAddr>,
    /// When the accepted source last sent.
    last_rx: Option<Instant>,
    candidates: [Option<Candidate>; SLOTS],
}

impl StrictRtp {
    /// A leg whose SDP names `sdp` (`None`: not known yet, or old-style hold), not confirmed.
    pub fn new(cfg: StrictConfig, sdp: Option<SocketAddr>, now: Instant) -> StrictRtp {
        StrictRtp {
            cfg,
            sdp: sdp.map(canonical),
            sdp_at: now,
            confirmed_at: None,
            source: None,
            last_rx: None,
            candidates: [None; SLOTS],
        }
    }

    /// The dialog is confirmed: the ACK for our 2xx (caller's leg) or the phone's 2xx (agent's
    /// leg). A blind attacker who spoofed the INVITE never sees our 2xx, so cannot ACK it.
    pub fn confirm(&mut self, now: Instant) {
        self.confirmed_at.get_or_insert(now);
    }

    /// Whether the leg is confirmed.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// New SDP from the peer (re-INVITE, or the agent phone's answer). A new address forgets
    /// the learned source; `None` (old-style hold, `c=0.0.0.0`) changes nothing.
    pub fn on_sdp(&mut self, now: Instant, sdp: Option<SocketAddr>) {
        let Some(addr) = sdp.map(canonical) else {
            return;
        };
        if self.sdp == Some(addr) {
            return;
        }
        self.sdp = Some(addr);
        self.sdp_at = now;
        self.source = None;
        self.last_rx = None;
        self.candidates = [None; SLOTS];
    }

    /// Decides about one packet of a negotiated payload type from `src`.
    pub fn on_packet(&mut self, now: Instant, src: SocketAddr, header: &RtpHeader) -> Verdict {
        let src = canonical(src);
        if Some(src) == self.sdp {
            // The address the peer signalled: always its media, and proof that the peer is
            // there (RTP from it confirms the leg). It takes over from a learned source.
            if self.source != Some(src) {
                self.source = Some(src);
                self.candidates = [None; SLOTS];
            }
            self.last_rx = Some(now);
            self.confirm(now);
            return Verdict::Accept;
        }
        if self.cfg.source == RtpSource::Sdp {
            return Verdict::Drop(DropReason::ForeignSource);
        }
        if let Some(known) = self.source {
            if known == src {
                self.last_rx = Some(now);
                return Verdict::Accept;
            }
            if !self.silent(now) {
                return Verdict::Drop(DropReason::ForeignSource);
            }
        }
        self.learn(now, src, header)
    }

    /// Whether `src` is the accepted source or the SDP's address (for packets we do not use,
    /// such as comfort noise or muxed RTCP: they still show the peer is alive). Refreshes the
    /// source's silence clock.
    pub fn heard(&mut self, now: Instant, src: SocketAddr) -> bool {
        let src = Some(canonical(src));
        if self.source == src {
            self.last_rx = Some(now);
            return true;
        }
        self.sdp == src
    }

    /// Where our RTP goes now; `None`: send nothing yet (not confirmed, or symmetric mode is
    /// still waiting for the peer's first packet).
    pub fn destination(&self, now: Instant) -> Option<SocketAddr> {
        self.confirmed_at?;
        if let Some(s) = self.source {
            return Some(s);
        }
        match self.cfg.source {
            RtpSource::Sdp => self.sdp,
            RtpSource::Symmetric if self.waited(now, SEND_WAIT) => self.sdp,
            RtpSource::Symmetric => None,
        }
    }

    /// The leg is confirmed and `wait` has passed since confirmation, or since new SDP.
    fn waited(&self, now: Instant, wait: Duration) -> bool {
        self.confirmed_at.is_some_and(|confirmed| {
            now.saturating_duration_since(confirmed.max(self.sdp_at)) >= wait
        })
    }

    /// Whether we may send RTP now.
    pub fn may_send(&self, now: Instant) -> bool {
        self.destination(now).is_some()
    }

    /// The accepted source, once known.
    pub fn source(&self) -> Option<SocketAddr> {
        self.source
    }

    /// The known source has been silent for `relearn_after` (never when that is not set).
    fn silent(&self, now: Instant) -> bool {
        match (self.cfg.relearn_after, self.last_rx) {
            (Some(after), Some(t)) => now.saturating_duration_since(t) >= after,
            _ => false,
        }
    }

    /// Symmetric mode: one more packet of `src`'s run; the source is learned when the run is long
    /// enough.
    fn learn(&mut self, now: Instant, src: SocketAddr, h: &RtpHeader) -> Verdict {
        let run = match self.candidates.iter_mut().flatten().find(|c| c.addr == src) {
            Some(c) => {
                let in_sequence = c.ssrc == h.ssrc && h.sequence == c.seq.wrapping_add(1);
                c.run = if in_sequence {
                    c.run.saturating_add(1)
                } else {
                    1
                };
                c.ssrc = h.ssrc;
                c.seq = h.sequence;
                c.last = now;
                c.run
            }
            None => {
                let slot = self.slot_for_new();
                self.candidates[slot] = Some(Candidate {
                    addr: src,
                    ssrc: h.ssrc,
                    seq: h.sequence,
                    run: 1,
                    last: now,
                });
                1
            }
        };
        // A run may be complete before the wait is over: the next packet after it decides.
        if run < self.cfg.learn_packets || !self.waited(now, LEARN_WAIT) {
            return Verdict::Drop(DropReason::Learning);
        }
        self.source = Some(src);
        self.last_rx = Some(now);
        self.candidates = [None; SLOTS];
        Verdict::Accept
    }

    /// A free slot, or the weakest run's (shortest, then least recently heard): a steady stream
    /// keeps its slot against strays.
    fn slot_for_new(&self) -> usize {
        if let Some(free) = self.candidates.iter().position(Option::is_none) {
            return free;
        }
        (self.candidates.iter().enumerate())
            .filter_map(|(i, c)| c.map(|c| (i, c.run, c.last)))
            .min_by_key(|&(_, run, last)| (run, last))
            .map_or(0, |(i, _, _)| i)
    }
}

/// An IPv4-mapped IPv6 address as plain IPv4, so a dual-stack socket's view matches the SDP's.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => a,
        },
        SocketAddr::V4(_) => a,
    }
}
