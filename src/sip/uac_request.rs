//! The INVITEs we send (no I/O): to an agent's registered phone (its binding's flow and Path) or
//! through a SIP trunk (our UDP socket to the trunk's address), kept as parts so that a digest
//! challenge (401/407, RFC 3261 §22.2) is answered once with the same dialog-forming headers, a
//! new branch and the next CSeq.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::api::LegId;
use super::build::{self, ALLOW};
use super::core::{Core, CoreEvent, Peer};
use super::message::{self, SipMsg};
use super::outgoing::{OutEvent, OutgoingInvite, TrunkAuth, TrunkRoute};
use super::registrar::BindingEntry;
use super::transaction::invite_client::InviteClientTx;
use super::uac::{CancelState, OutCall};
use super::uas::pick_local_ip;

/// Everything of our INVITE but its branch and CSeq number.
#[derive(Debug, Clone)]
pub(crate) struct InviteParts {
    pub(crate) request_uri: String,
    via: String,
    from: String,
    to: String,
    call_id: String,
    contact: String,
    routes: Vec<String>,
    extra: Vec<(String, String)>,
    ua: String,
    sdp: Vec<u8>,
    pub(crate) cseq: u32,
}

impl InviteParts {
    /// The request with `branch`, and `auth` as (header name, value) when answering a challenge.
    pub(crate) fn text(&self, branch: &str, auth: Option<(&str, &str)>) -> Vec<u8> {
        let mut s = String::with_capacity(1024);
        let _ = write!(
            s,
            "INVITE {uri} SIP/2.0\r\nVia: {via};branch={branch};rport\r\nMax-Forwards: 70\r\n\
From: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: {cseq} INVITE\r\nContact: {contact}\r\n\
Allow: {ALLOW}\r\nUser-Agent: {ua}\r\n",
            uri = self.request_uri,
            via = self.via,
            from = self.from,
            to = self.to,
            cid = self.call_id,
            cseq = self.cseq,
            contact = self.contact,
            ua = self.ua,
        );
        for route in &self.routes {
            let _ = write!(s, "Route: {route}\r\n");
        }
        if let Some((name, value)) = auth {
            let _ = write!(s, "{name}: {value}\r\n");
        }
        for (name, value) in &self.extra {
            let _ = write!(s, "{name}: {value}\r\n");
        }
        let _ = write!(
            s,
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
            self.sdp.len()
        );
        let mut bytes = s.into_bytes();
        bytes.extend_from_slice(&self.sdp);
        bytes
    }
}

fn token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// A dialled number as a URI user part: digits with an optional leading `+` (RFC 3966 global
/// number digits without visual separators), else `None`.
fn dial_user(s: &str) -> Option<&str> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (!digits.is_empty() && digits.len() <= 32 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(s)
}

fn quote(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// Where one INVITE goes and how its URIs read.
struct Dest<'a> {
    peer: Peer,
    local: SocketAddr,
    local_ip: IpAddr,
    request_uri: String,
    to_uri: String,
    from_host: String,
    routes: &'a [String],
}

impl Core {
    /// Sends a new INVITE to `binding` (the flow the phone registered from), through its Path.
    pub(crate) fn start_invite(
        &mut self,
        now: Instant,
        id: LegId,
        binding: &BindingEntry,
        req: &OutgoingInvite,
    ) {
        let local_ip = pick_local_ip(binding.local, &binding.contact);
        let me = SocketAddr::new(local_ip, binding.local.port());
        let dest = Dest {
            peer: binding.peer.clone(),
            local: binding.local,
            local_ip,
            request_uri: binding.contact.clone(),
            to_uri: format!("sip:{}@{me}", req.extension),
            from_host: me.to_string(),
            routes: &binding.path,
        };
        self.launch(now, id, &dest, req, None);
    }

    /// Sends a new INVITE for `req.extension` (the number to dial) to the trunk, from our UDP
    /// socket at `local`.
    pub(crate) fn start_trunk_invite(
        &mut self,
        now: Instant,
        id: LegId,
        local: SocketAddr,
        trunk: &TrunkRoute,
        req: &OutgoingInvite,
    ) {
        let Some(number) = dial_user(&req.extension) else {
            return self.out_refused(id, 484, "Address Incomplete (not a dialable number)");
        };
        let local_ip = if local.ip().is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            local.ip()
        };
        let dest = Dest {
            peer: Peer::Udp(trunk.addr),
            local,
            local_ip,
            request_uri: format!("sip:{number}@{}", trunk.domain),
            to_uri: format!("sip:{number}@{}", trunk.domain),
            from_host: trunk.domain.clone(),
            routes: &[],
        };
        self.launch(now, id, &dest, req, trunk.auth.clone());
    }

    /// A call that never left: reported as failed at once.
    fn out_refused(&mut self, id: LegId, status: u16, reason: &str) {
        self.events.push_back(CoreEvent::Out(
            id,
            OutEvent::Failed {
                status,
                reason: reason.into(),
            },
        ));
    }

    fn launch(
        &mut self,
        now: Instant,
        id: LegId,
        dest: &Dest<'_>,
        req: &OutgoingInvite,
        auth: Option<TrunkAuth>,
    ) {
        let me = SocketAddr::new(dest.local_ip, dest.local.port());
        let (proto, transport) = (
            dest.peer.transport().via_token(),
            dest.peer.transport().uri_param(),
        );
        let user = if token(&req.from_user) {
            req.from_user.as_str()
        } else {
            "firstline"
        };
        let parts = InviteParts {
            request_uri: dest.request_uri.clone(),
            via: format!("SIP/2.0/{proto} {me}"),
            from: format!(
                "\"{}\" <sip:{user}@{}>;tag={}",
                quote(&req.from_display),
                dest.from_host,
                build::new_tag()
            ),
            to: format!("<{}>", dest.to_uri),
            call_id: format!("{}@{}", build::new_tag(), dest.local_ip),
            contact: format!("<sip:firstline@{me}{transport}>"),
            routes: dest.routes.to_vec(),
            extra: (req.call_info.iter())
                .filter(|(name, value)| token(name) && !value.contains(['\r', '\n']))
                .cloned()
                .collect(),
            ua: self.ua.clone(),
            sdp: req.sdp.clone(),
            cseq: 1,
        };
        let branch = build::new_branch();
        let bytes = parts.text(&branch, None);
        let Ok(invite) = message::parse(&bytes) else {
            // Only checked text goes in; a parse failure would be a bug in the lines above.
            return self.out_refused(id, 500, "Server Internal Error (bad INVITE)");
        };
        let ict = InviteClientTx::new(now, dest.peer.reliable(), self.timers, bytes);
        self.out_branches.insert(branch.clone(), id);
        self.out.insert(
            id,
            OutCall {
                peer: dest.peer.clone(),
                local: dest.local,
                local_ip: dest.local_ip,
                invite,
                parts: Box::new(parts),
                auth,
                branch,
                ict,
                cancel: CancelState::No,
                ringing: false,
                ack: None,
                finished: false,
            },
        );
        self.flush_out(now, id, None);
    }

    /// A 401/407 to our INVITE: once, when we have credentials and still want the call, ACK it
    /// and send the INVITE again with the answer to the challenge. False: the challenge ends the
    /// call as any failure does.
    pub(crate) fn retry_with_auth(
        &mut self,
        now: Instant,
        id: LegId,
        code: u16,
        msg: &SipMsg,
        ack: Vec<u8>,
    ) -> bool {
        let Some(call) = self.out.get_mut(&id) else {
            return false;
        };
        if call.finished || call.cancel != CancelState::No {
            return false;
        }
        let (asks, answers) = if code == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let Some(auth) = call.auth.take() else {
            return false;
        };
        let value = msg.header_lines(asks).find_map(|c| {
            super::digest_client::authorization(
                c,
                "INVITE",
                &call.parts.request_uri,
                &auth.username,
                &auth.password,
            )
        });
        let Some(value) = value else {
            return false;
        };
        // The challenge completes the first transaction: ACK it (§17.1.1.3).
        let peer = call.peer.clone();
        call.ict.handle_response(now, code, Some(ack));
        let mut acks = Vec::new();
        while let Some(b) = call.ict.poll_transmit() {
            acks.push(b);
        }
        call.parts.cseq += 1;
        let branch = build::new_branch();
        let bytes = call.parts.text(&branch, Some((answers, &value)));
        let Ok(invite) = message::parse(&bytes) else {
            return false;
        };
        let old = std::mem::replace(&mut call.branch, branch.clone());
        call.invite = invite;
        call.ict = InviteClientTx::new(now, peer.reliable(), self.timers, bytes);
        self.out_branches.remove(&old);
        self.out_branches.insert(branch, id);
        for b in acks {
            self.send(&peer, b);
        }
        self.flush_out(now, id, None);
        true
    }
}
