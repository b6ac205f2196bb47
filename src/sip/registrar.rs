//! Registrar (RFC 3261 §10.3) with digest authentication (RFC 7616, RFC 8760); no I/O.
//!
//! `handle(now, peer, local, msg)` answers one REGISTER; bindings expire through
//! `poll_timeout()`/`handle_timeout(now)`. Digest: `qop=auth` required, the digest `uri` must
//! name the Request-URI, nonce counts must rise (a replay is refused), an expired nonce gets
//! `stale=true`. `Path` (RFC 3327) is stored with the binding and echoed in the 200. Memory is
//! capped: bindings per AOR, AORs (only authenticated users create them), the nonce-count table
//! (only correct responses enter it) and the failure table (per account and source).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{Binding, DigestChallenge, SipCredential, TrustedProxy};
use super::auth::{self, Algorithm, Credentials, NonceCheck, NonceMaker};
use super::build;
use super::core::Peer;
use super::limiter::FailureLimiter;
use super::message::{SipMsg, StartLine, header_param};
use super::nonce_counts::{NcCheck, NonceCounts, Use};

/// Longest AOR user accepted (extensions are short; longer is 404 before any work).
const MAX_AOR: usize = 64;

/// Settings of the registrar.
#[derive(Debug, Clone)]
pub(crate) struct RegistrarConfig {
    pub(crate) realm: String,
    /// Shortest accepted registration; shorter gets 423 (RFC 3261 §10.3 step 7).
    pub(crate) min_expires: u64,
    /// Longest granted registration (longer is clamped).
    pub(crate) max_expires: u64,
    /// Nonce lifetime; older nonces with a correct response get `stale=true`.
    pub(crate) nonce_lifetime: u64,
    /// Bindings kept per AOR (the oldest is replaced beyond this).
    pub(crate) max_bindings_per_aor: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self {
            realm: "firstline".into(),
            min_expires: 60,
            max_expires: 3600,
            nonce_lifetime: 300,
            max_bindings_per_aor: 5,
        }
    }
}

/// What the application tells the registrar: realm plus HA1s by extension, the challenges, and
/// the accepted registration lifetimes.
#[derive(Debug, Clone, Default)]
pub(crate) struct CredTable {
    pub(crate) realm: Option<String>,
    pub(crate) users: HashMap<String, SipCredential>,
    /// Which challenges a 401 carries.
    pub(crate) challenge: DigestChallenge,
    /// `(min_expires, max_expires)` in seconds; `None` keeps the registrar's own.
    pub(crate) expires: Option<(u64, u64)>,
    /// Proxies whose Via lines are believed for the failure limiter's source address.
    pub(crate) trusted_proxies: Vec<TrustedProxy>,
    /// Agent phones must register over TLS (a REGISTER over UDP or TCP gets 403).
    pub(crate) require_tls: bool,
}

impl CredTable {
    pub(crate) fn new(realm: Option<String>, creds: Vec<SipCredential>) -> Self {
        let users = creds
            .into_iter()
            .map(|c| (c.extension.clone(), c))
            .collect();
        Self {
            realm,
            users,
            challenge: DigestChallenge::default(),
            expires: None,
            trusted_proxies: Vec::new(),
            require_tls: false,
        }
    }
}

/// One contact of an AOR.
#[derive(Debug, Clone)]
pub(crate) struct BindingEntry {
    pub(crate) contact: String,
    pub(crate) peer: Peer,
    pub(crate) local: SocketAddr,
    pub(crate) expires_at: Instant,
    /// The REGISTER's `Path` values in order (RFC 3327 §5.3): the route set of requests to it.
    pub(crate) path: Vec<String>,
    registered_at: Instant,
    call_id: String,
    cseq: u32,
}

impl BindingEntry {
    /// A binding made directly (scenario tests of outgoing calls).
    #[cfg(test)]
    pub(crate) fn for_test(
        contact: &str,
        peer: Peer,
        local: SocketAddr,
        expires_at: Instant,
    ) -> Self {
        Self {
            contact: contact.into(),
            peer,
            local,
            expires_at,
            path: Vec::new(),
            registered_at: expires_at,
            call_id: String::new(),
            cseq: 0,
        }
    }

    pub(crate) fn public(&self) -> Binding {
        Binding {
            contact: self.contact.clone(),
            source: self.peer.addr(),
            transport: self.peer.transport(),
            expires_at: self.expires_at,
        }
    }
}

/// The answer to one REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegReply {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) extra: Vec<(&'static str, String)>,
}

impl RegReply {
    fn new(code: u16) -> Self {
        Self {
            code,
            reason: build::reason(code).to_string(),
            extra: Vec::new(),
        }
    }
}

/// Bindings, nonces and the failure limiter.
#[derive(Debug)]
pub(crate) struct Registrar {
    cfg: RegistrarConfig,
    creds: Arc<CredTable>,
    nonces: NonceMaker,
    epoch: Option<Instant>,
    bindings: HashMap<String, Vec<BindingEntry>>,
    expiry: BTreeSet<(Instant, String, String)>,
    pub(crate) limiter: FailureLimiter,
    pub(crate) counts: NonceCounts,
    /// AORs whose bindings changed since the last poll.
    changed: VecDeque<String>,
}

impl Registrar {
    pub(crate) fn new(cfg: RegistrarConfig) -> Self {
        Self {
            cfg,
            creds: Arc::new(CredTable::default()),
            nonces: NonceMaker::new(),
            epoch: None,
            bindings: HashMap::new(),
            expiry: BTreeSet::new(),
            limiter: FailureLimiter::default(),
            counts: NonceCounts::default(),
            changed: VecDeque::new(),
        }
    }

    /// Replaces the credential table (and the realm and lifetimes, when the table names them).
    pub(crate) fn set_credentials(&mut self, table: Arc<CredTable>) {
        if let Some(realm) = &table.realm {
            self.cfg.realm = realm.clone();
        }
        if let Some((min, max)) = table.expires {
            self.cfg.min_expires = min.max(1);
            self.cfg.max_expires = max.max(self.cfg.min_expires);
        }
        // An extension that left the table (a deactivated agent, a changed extension) or now
        // belongs to another agent loses its bindings at once: no call is offered to a phone
        // whose account is gone. A changed password keeps the binding until the phone's next
        // REGISTER, which must then carry the new one.
        let gone: Vec<String> = (self.bindings.keys())
            .filter(|aor| {
                let old = self.creds.users.get(*aor).map(|u| &u.agent_id);
                let new = table.users.get(*aor).map(|u| &u.agent_id);
                new.is_none() || new != old
            })
            .cloned()
            .collect();
        self.creds = table;
        for aor in gone {
            self.remove_aor(&aor);
        }
    }

    /// Whether agent phones must register over TLS.
    pub(crate) fn requires_tls(&self) -> bool {
        self.creds.require_tls
    }

    /// The agent whose credentials `aor` has.
    pub(crate) fn agent_of(&self, aor: &str) -> Option<crate::domain::AgentId> {
        self.creds.users.get(aor).map(|u| u.agent_id.clone())
    }

    /// The newest binding of an extension.
    pub(crate) fn lookup(&self, aor: &str) -> Option<&BindingEntry> {
        self.bindings
            .get(aor)?
            .iter()
            .max_by_key(|b| b.registered_at)
    }

    /// Next AOR whose bindings changed (for registration events).
    pub(crate) fn poll_changed(&mut self) -> Option<String> {
        self.changed.pop_front()
    }

    /// Number of AORs with bindings (tests, stats).
    #[cfg(test)]
    pub(crate) fn aor_count(&self) -> usize {
        self.bindings.len()
    }

    fn secs(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(epoch).as_secs()
    }

    /// `WWW-Authenticate` for SHA-256 then MD5 (RFC 8760 §2.4), `qop="auth"` (RFC 7616 §3.3).
    fn challenge(&mut self, now: Instant, ip: IpAddr, stale: bool) -> RegReply {
        let ts = self.secs(now);
        let nonce = self.nonces.make(ts, ip);
        let mut r = RegReply::new(401);
        for &alg in self.offered() {
            let stale = if stale { ", stale=true" } else { "" };
            r.extra.push((
                "WWW-Authenticate",
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
                    self.cfg.realm,
                    alg.token()
                ),
            ));
        }
        r
    }

    /// The algorithms a 401 offers, in order.
    fn offered(&self) -> &'static [Algorithm] {
        match self.creds.challenge {
            DigestChallenge::Sha256AndMd5 => &[Algorithm::Sha256, Algorithm::Md5],
            DigestChallenge::Md5First => &[Algorithm::Md5, Algorithm::Sha256],
            DigestChallenge::Md5Only => &[Algorithm::Md5],
        }
    }

    /// A failed attempt: 401 with a fresh challenge, or 403 once the account is blocked from
    /// this source (or the source altogether).
    fn failed(&mut self, now: Instant, aor: &str, client: IpAddr, ip: IpAddr) -> RegReply {
        match self.limiter.fail(now, aor, client) {
            Some(retry) => forbidden(retry),
            None => self.challenge(now, ip, false),
        }
    }

    /// A response that can never succeed (no qop, wrong uri, replayed nc): a fresh challenge,
    /// not counted as a failure (it proves nothing about the password, and a spoofed or
    /// replayed packet must not lock the real phone out).
    fn refused(&mut self, now: Instant, ip: IpAddr, stale: bool, why: &'static str) -> RegReply {
        tracing::debug!(source = %ip, why, "REGISTER digest refused");
        self.challenge(now, ip, stale)
    }

    /// The address the failure limiter counts: the sender's, or behind a trusted proxy the
    /// phone's, from the Via the proxy received the REGISTER over (its `received`, else its
    /// sent-by host; RFC 3261 §18.2.1).
    fn client_source(&self, peer: &Peer, msg: &SipMsg) -> IpAddr {
        let from = peer.addr();
        if !self.creds.trusted_proxies.iter().any(|p| p.matches(from)) {
            return from.ip();
        }
        let vias = msg.header_list("Via");
        let Some(via) = vias.get(1) else {
            return from.ip();
        };
        header_param(via, "received")
            .and_then(|r| r.trim().parse().ok())
            .or_else(|| via_host(via))
            .unwrap_or(from.ip())
    }

    /// Answers one REGISTER from `peer` (arrived on `local`).
    pub(crate) fn handle(
        &mut self,
        now: Instant,
        peer: &Peer,
        local: SocketAddr,
        msg: &SipMsg,
    ) -> RegReply {
        let ip = peer.addr().ip();
        let Some(aor) = msg.header("To").map(build::name_addr).and_then(|n| n.user) else {
            return RegReply::new(404);
        };
        if aor.len() > MAX_AOR {
            return RegReply::new(404);
        }
        let client = self.client_source(peer, msg);
        if let Some(retry) = self.limiter.blocked(now, &aor, client) {
            return forbidden(retry);
        }
        let Some(c) = msg
            .header("Authorization")
            .and_then(auth::parse_authorization)
        else {
            return self.challenge(now, ip, false);
        };
        let alg = match Algorithm::parse(c.algorithm.as_deref()) {
            Some(a) if c.realm == self.cfg.realm && self.offered().contains(&a) => a,
            _ => return self.challenge(now, ip, false),
        };
        let lifetime = self.cfg.nonce_lifetime;
        let ts = self.secs(now);
        let check = self.nonces.check(&c.nonce, ts, ip, lifetime);
        if check == NonceCheck::Invalid {
            // Not ours (or from before a restart): challenge again without counting a failure.
            return self.challenge(now, ip, false);
        }
        // RFC 7616 §3.4: we offer qop="auth" only, so a response must use it, with nc and cnonce.
        let Some(nc) = qop_auth_nc(&c) else {
            return self.refused(now, ip, false, "no qop=auth");
        };
        // RFC 7616 §3.4.6: the digest-uri must name the Request-URI.
        let request_uri = match &msg.start {
            StartLine::Request { uri, .. } => uri.as_str(),
            StartLine::Response { .. } => "",
        };
        if !auth::same_uri(&c.uri, request_uri) {
            return self.refused(now, ip, false, "digest uri is not the Request-URI");
        }
        let ha1 = self.creds.users.get(&c.username).and_then(|u| match alg {
            Algorithm::Md5 => u.ha1_md5.clone(),
            Algorithm::Sha256 => u.ha1_sha256.clone(),
        });
        // Unknown users are hashed against a dummy HA1 so that they answer exactly like a wrong
        // password (no user enumeration).
        let known = ha1.is_some();
        let ha1 = ha1.unwrap_or_else(|| alg.hash_hex("\u{0}"));
        let expected = auth::expected_response(alg, &ha1, "REGISTER", &c).unwrap_or_default();
        if !known || c.username != aor || !auth::same(&expected, &c.response.to_ascii_lowercase()) {
            return self.failed(now, &aor, client, ip);
        }
        if check == NonceCheck::Stale {
            return self.challenge(now, ip, true);
        }
        // RFC 7616 §3.4 / §5.12: each nc once per nonce; a replay gets a fresh nonce.
        let branch = msg.branch().unwrap_or_default();
        let (nonce_ts, serial) = NonceMaker::stamp(&c.nonce).unwrap_or((ts, 0));
        let use_ = Use {
            nonce: &c.nonce,
            nonce_ts,
            serial,
            user: &c.username,
            nc,
            request: (
                msg.call_id().unwrap_or(""),
                msg.cseq().map_or(0, |q| q.0),
                &branch,
            ),
        };
        match self.counts.check(ts, lifetime, use_) {
            NcCheck::Fresh | NcCheck::Retransmission => {}
            NcCheck::Replay => return self.refused(now, ip, true, "nonce count replayed"),
            NcCheck::Forgotten => return self.refused(now, ip, true, "nonce forgotten"),
        }
        self.limiter.succeeded(&aor, client);
        let path = msg.header_list("Path");
        let mut reply = self.update_bindings(now, peer, local, &aor, msg, &path);
        if reply.code == 200 && !path.is_empty() {
            // RFC 3327 §5.3: the 200 carries the Path values stored, in order.
            reply.extra.extend(path.into_iter().map(|p| ("Path", p)));
            reply.extra.push(("Supported", "path".to_string()));
        }
        reply
    }

    /// RFC 3261 §10.3 steps 6–8 for an authorised request.
    fn update_bindings(
        &mut self,
        now: Instant,
        peer: &Peer,
        local: SocketAddr,
        aor: &str,
        msg: &SipMsg,
        path: &[String],
    ) -> RegReply {
        let contacts = msg.header_list("Contact");
        let default_expires = msg
            .header("Expires")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(self.cfg.max_expires);
        let call_id = msg.call_id().unwrap_or("").to_string();
        let cseq = msg.cseq().map_or(0, |c| c.0);
        if contacts.iter().any(|c| c.trim() == "*") {
            // §10.3 step 6: `*` only alone and with Expires: 0.
            if contacts.len() != 1 || default_expires != 0 {
                return RegReply::new(400);
            }
            self.remove_aor(aor);
            return self.ok(now, aor);
        }
        let mut updates = Vec::new();
        for c in &contacts {
            let uri = build::addr_uri(c).to_string();
            let expires = header_param(c, "expires")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(default_expires);
            if expires != 0 && expires < self.cfg.min_expires {
                let mut r = RegReply::new(423);
                r.reason = "Interval Too Brief".into();
                r.extra
                    .push(("Min-Expires", self.cfg.min_expires.to_string()));
                return r;
            }
            updates.push((uri, expires.min(self.cfg.max_expires)));
        }
        for (uri, expires) in updates {
            let older = self
                .bindings
                .get(aor)
                .into_iter()
                .flatten()
                .any(|b| b.contact == uri && b.call_id == call_id && cseq < b.cseq);
            if older {
                // §10.3 step 7: an out-of-order REGISTER must not undo a newer one.
                continue;
            }
            self.remove_contact(aor, &uri);
            if expires == 0 {
                continue;
            }
            let entry = BindingEntry {
                contact: uri.clone(),
                peer: peer.clone(),
                local,
                expires_at: now + Duration::from_secs(expires),
                path: path.to_vec(),
                registered_at: now,
                call_id: call_id.clone(),
                cseq,
            };
            self.expiry.insert((entry.expires_at, aor.to_string(), uri));
            let list = self.bindings.entry(aor.to_string()).or_default();
            list.push(entry);
            if list.len() > self.cfg.max_bindings_per_aor
                && let Some(oldest) = list
                    .iter()
                    .min_by_key(|b| b.registered_at)
                    .map(|b| b.contact.clone())
            {
                self.remove_contact(aor, &oldest);
            }
        }
        if !contacts.is_empty() {
            self.changed.push_back(aor.to_string());
        }
        self.ok(now, aor)
    }

    /// 200 OK listing every current contact with its remaining time (§10.3 step 8).
    fn ok(&self, now: Instant, aor: &str) -> RegReply {
        let mut r = RegReply::new(200);
        for b in self.bindings.get(aor).into_iter().flatten() {
            let left = b.expires_at.saturating_duration_since(now).as_secs().max(1);
            r.extra
                .push(("Contact", format!("<{}>;expires={left}", b.contact)));
        }
        r
    }

    fn remove_contact(&mut self, aor: &str, uri: &str) {
        let Some(list) = self.bindings.get_mut(aor) else {
            return;
        };
        if let Some(i) = list.iter().position(|b| b.contact == uri) {
            let b = list.swap_remove(i);
            self.expiry
                .remove(&(b.expires_at, aor.to_string(), b.contact));
        }
        if list.is_empty() {
            self.bindings.remove(aor);
            self.changed.push_back(aor.to_string());
        }
    }

    fn remove_aor(&mut self, aor: &str) {
        for b in self.bindings.remove(aor).into_iter().flatten() {
            self.expiry
                .remove(&(b.expires_at, aor.to_string(), b.contact));
        }
        self.changed.push_back(aor.to_string());
    }

    /// A TCP connection closed: bindings over it cannot be reached any more (RFC 5626 flow).
    pub(crate) fn connection_closed(&mut self, conn: u64) {
        let gone: Vec<(String, String)> = self
            .bindings
            .iter()
            .flat_map(|(aor, list)| {
                list.iter()
                    .filter(|b| matches!(b.peer, Peer::Tcp { conn: c, .. } if c == conn))
                    .map(|b| (aor.clone(), b.contact.clone()))
            })
            .collect();
        for (aor, uri) in gone {
            self.remove_contact(&aor, &uri);
            self.changed.push_back(aor);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.expiry.first().map(|(at, _, _)| *at)
    }

    /// Removes expired bindings.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, aor, uri)) = self.expiry.first().cloned() {
            if at > now {
                break;
            }
            self.remove_contact(&aor, &uri);
            self.changed.push_back(aor);
        }
    }
}

/// The nonce count of a `qop=auth` response with its `cnonce`; `None` without them.
fn qop_auth_nc(c: &Credentials) -> Option<u32> {
    let qop = c.qop.as_deref()?;
    if !qop.trim().eq_ignore_ascii_case("auth") || c.cnonce.as_deref().is_none_or(str::is_empty) {
        return None;
    }
    auth::parse_nc(c.nc.as_deref()?)
}

/// The host of a Via's sent-by, when it is an IP address.
fn via_host(via: &str) -> Option<IpAddr> {
    let sent_by = via.split_whitespace().nth(1)?.split(';').next()?;
    let host = match sent_by.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => sent_by.rsplit_once(':').map_or(sent_by, |(h, _)| h),
    };
    host.parse().ok()
}

fn forbidden(retry: Duration) -> RegReply {
    let mut r = RegReply::new(403);
    r.reason = "Forbidden (too many failed attempts)".into();
    r.extra
        .push(("Retry-After", retry.as_secs().max(1).to_string()));
    r
}
