//! Registration to the SIP trunk (no I/O): some carriers take calls only from a registered
//! account. REGISTER (RFC 3261 §10.2) from our UDP socket to the trunk, a 401/407 digest
//! challenge answered once per attempt (`digest_client.rs`), refreshed at 80 % of the granted
//! expiry, retried a minute after a failure (a refused challenge, a final error, no answer).
//! The state is reported as [`TrunkRegState`] for `/health` and `/metrics`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::build;
use super::core::{Core, Peer, TimerRef};
use super::message::SipMsg;
use super::outgoing::TrunkRoute;
use super::transaction::TxEvent;
use super::transaction::non_invite_client::NonInviteClientTx;

/// The pause after a failed attempt.
const RETRY: Duration = Duration::from_secs(60);
/// The shortest refresh interval, whatever the trunk grants.
const MIN_REFRESH: Duration = Duration::from_secs(30);

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkRegState {
    /// No registration configured.
    Off,
    /// The first attempt is under way.
    Trying,
    /// The trunk accepted it.
    Registered,
    /// The last attempt failed with this status (408: no answer); retried a minute later.
    Failed(u16),
}

/// What to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkRegistration {
    /// The trunk (its address, domain and credentials).
    pub route: TrunkRoute,
    /// The account's user part (the AOR is `sip:<user>@<domain>`).
    pub user: String,
    /// The expiry asked for, in seconds.
    pub expires: u32,
}

/// One running registration.
pub(crate) struct TrunkReg {
    reg: TrunkRegistration,
    local: SocketAddr,
    call_id: String,
    tag: String,
    cseq: u32,
    /// The transaction of the REGISTER in flight: its branch.
    tx: Option<(String, NonInviteClientTx)>,
    /// This attempt answered a challenge already.
    answered: bool,
    /// When to send the next REGISTER (refresh or retry).
    next: Option<Instant>,
    pub(crate) state: TrunkRegState,
}

impl TrunkReg {
    fn request(&mut self, auth: Option<(&str, &str)>) -> (String, Vec<u8>) {
        self.cseq += 1;
        let branch = build::new_branch();
        let d = &self.reg.route.domain;
        let me = self.local;
        let mut s = format!(
            "REGISTER sip:{d} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch={branch};rport\r\nMax-Forwards: 70\r\n\
From: <sip:{u}@{d}>;tag={tag}\r\nTo: <sip:{u}@{d}>\r\nCall-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\n\
Contact: <sip:{u}@{me}>\r\nExpires: {exp}\r\n",
            u = self.reg.user,
            tag = self.tag,
            cid = self.call_id,
            cseq = self.cseq,
            exp = self.reg.expires,
        );
        if let Some((name, value)) = auth {
            let _ = write!(s, "{name}: {value}\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        (branch, s.into_bytes())
    }

    /// Whether `from` is the trunk our REGISTER went to.
    pub(crate) fn sent_to(&self, from: &Peer) -> bool {
        from.addr() == self.reg.route.addr
    }

    /// Whether `branch` is our REGISTER's.
    pub(crate) fn owns(&self, branch: &str) -> bool {
        self.tx.as_ref().is_some_and(|(b, _)| b == branch)
    }
}

/// The granted expiry: the Contact's `expires=` or the `Expires` header, else what we asked.
fn granted(msg: &SipMsg, asked: u32) -> u32 {
    let from_contact = msg.header("Contact").and_then(|c| {
        c.split(';')
            .find_map(|p| p.trim().strip_prefix("expires="))
            .and_then(|v| v.trim().parse().ok())
    });
    from_contact
        .or_else(|| msg.header("Expires").and_then(|v| v.trim().parse().ok()))
        .unwrap_or(asked)
}

impl TrunkRegState {
    /// The name `/health` and `/metrics` show: `off`, `trying`, `registered`, `failed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Trying => "trying",
            Self::Registered => "registered",
            Self::Failed(_) => "failed",
        }
    }
}

impl Core {
    /// Starts registering to the trunk from our UDP socket at `local` (replacing any earlier
    /// registration).
    pub(crate) fn register_trunk(
        &mut self,
        now: Instant,
        local: SocketAddr,
        reg: TrunkRegistration,
    ) {
        let local = if local.ip().is_unspecified() {
            SocketAddr::new([127, 0, 0, 1].into(), local.port())
        } else {
            local
        };
        self.trunk_reg = Some(TrunkReg {
            reg,
            local,
            call_id: format!("{}@{}", build::new_tag(), local.ip()),
            tag: build::new_tag(),
            cseq: 0,
            tx: None,
            answered: false,
            next: None,
            state: TrunkRegState::Trying,
        });
        self.send_register(now, None);
    }

    fn send_register(&mut self, now: Instant, auth: Option<(&str, &str)>) {
        let timers = self.timers;
        let Some(r) = self.trunk_reg.as_mut() else {
            return;
        };
        if auth.is_none() {
            r.answered = false;
        }
        let (branch, bytes) = r.request(auth);
        r.tx = Some((branch, NonInviteClientTx::new(now, false, timers, bytes)));
        r.next = None;
        self.flush_register(now, None);
    }

    /// A response to our REGISTER.
    pub(crate) fn on_register_response(&mut self, now: Instant, code: u16, msg: &SipMsg) {
        if let Some((_, tx)) = self.trunk_reg.as_mut().and_then(|r| r.tx.as_mut()) {
            tx.handle_response(now, code);
        }
        self.flush_register(now, Some((code, msg)));
    }

    /// Our REGISTER's timers: retransmissions and the transaction's timeout, the refresh.
    pub(crate) fn register_timeout(&mut self, now: Instant) {
        let due = self
            .trunk_reg
            .as_ref()
            .is_some_and(|r| r.tx.is_none() && r.next.is_some_and(|n| n <= now));
        if due {
            return self.send_register(now, None);
        }
        if let Some((_, tx)) = self.trunk_reg.as_mut().and_then(|r| r.tx.as_mut()) {
            tx.handle_timeout(now);
        }
        self.flush_register(now, None);
    }

    fn flush_register(&mut self, now: Instant, response: Option<(u16, &SipMsg)>) {
        let Some(r) = self.trunk_reg.as_mut() else {
            return;
        };
        let peer = Peer::Udp(r.reg.route.addr);
        let mut out = Vec::new();
        let mut final_or_timeout = None;
        if let Some((_, tx)) = r.tx.as_mut() {
            while let Some(b) = tx.poll_transmit() {
                out.push(b);
            }
            while let Some(ev) = tx.poll_event() {
                match ev {
                    TxEvent::Final(code) => final_or_timeout = Some(code),
                    TxEvent::Timeout => final_or_timeout = Some(408),
                    TxEvent::Terminated => {}
                }
            }
        }
        for b in out {
            self.send(&peer, b);
        }
        if let Some(code) = final_or_timeout {
            self.register_outcome(now, code, response.map(|(_, m)| m));
            // An answer to a challenge is a new transaction: send it now.
            let mut again = Vec::new();
            if let Some((_, tx)) = self.trunk_reg.as_mut().and_then(|r| r.tx.as_mut()) {
                while let Some(b) = tx.poll_transmit() {
                    again.push(b);
                }
            }
            for b in again {
                self.send(&peer, b);
            }
        }
        let next = self.trunk_reg.as_ref().and_then(|r| match &r.tx {
            Some((_, tx)) => tx.poll_timeout(),
            None => r.next,
        });
        self.schedule(TimerRef::TrunkReg, next);
    }

    fn register_outcome(&mut self, now: Instant, code: u16, msg: Option<&SipMsg>) {
        let Some(r) = self.trunk_reg.as_mut() else {
            return;
        };
        r.tx = None;
        match code {
            200..=299 => {
                let secs = msg.map_or(r.reg.expires, |m| granted(m, r.reg.expires));
                let refresh = Duration::from_secs(u64::from(secs) * 4 / 5).max(MIN_REFRESH);
                r.state = TrunkRegState::Registered;
                r.next = Some(now + refresh);
                tracing::info!(granted_secs = secs, "registered to the trunk");
            }
            401 | 407 if !r.answered => {
                let (asks, answers) = if code == 407 {
                    ("Proxy-Authenticate", "Proxy-Authorization")
                } else {
                    ("WWW-Authenticate", "Authorization")
                };
                let uri = format!("sip:{}", r.reg.route.domain);
                let value = (r.reg.route.auth.as_ref()).and_then(|a| {
                    msg?.header_lines(asks).find_map(|c| {
                        super::digest_client::authorization(
                            c,
                            "REGISTER",
                            &uri,
                            &a.username,
                            &a.password,
                        )
                    })
                });
                match value {
                    Some(v) => {
                        r.answered = true;
                        let (branch, bytes) = r.request(Some((answers, &v)));
                        r.tx = Some((
                            branch,
                            NonInviteClientTx::new(now, false, self.timers, bytes),
                        ));
                        // Sent by the caller's flush.
                    }
                    None => self.register_failed(now, code),
                }
            }
            code => self.register_failed(now, code),
        }
    }

    fn register_failed(&mut self, now: Instant, code: u16) {
        if let Some(r) = self.trunk_reg.as_mut() {
            tracing::warn!(
                status = code,
                "registration to the trunk failed; retried in 60 s"
            );
            r.state = TrunkRegState::Failed(code);
            r.tx = None;
            r.next = Some(now + RETRY);
        }
    }

    /// Where the trunk registration stands.
    pub(crate) fn trunk_reg_state(&self) -> TrunkRegState {
        self.trunk_reg
            .as_ref()
            .map_or(TrunkRegState::Off, |r| r.state)
    }
}
