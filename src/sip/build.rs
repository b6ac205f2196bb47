//! Building SIP responses and in-dialog requests as bytes, and parsing name-addrs (no I/O).

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::api::{NameAddr, SipTransport};
use super::message::SipMsg;

/// Methods we accept (RFC 3261 §20.5).
pub(crate) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER, REFER";
/// Option tags we support (none of the ones a caller could require; see `validate`).
pub(crate) const SUPPORTED: &str = "";
/// Bodies we accept (INFO DTMF and SDP).
pub(crate) const ACCEPT: &str = "application/sdp, application/dtmf-relay, application/dtmf";

/// Standard reason phrase for the codes this layer sends.
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        405 => "Method Not Allowed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        603 => "Decline",
        _ => "Unknown",
    }
}

/// A response to build: status, reason, optional To-tag, extra headers and body.
#[derive(Debug, Clone)]
pub(crate) struct ResponseSpec<'a> {
    pub(crate) code: u16,
    pub(crate) reason: &'a str,
    /// Our tag, added to To when the request's To has none (RFC 3261 §8.2.6.2; never on 100).
    pub(crate) to_tag: Option<&'a str>,
    pub(crate) extra: Vec<(&'static str, String)>,
    pub(crate) body: Option<(&'a str, &'a [u8])>,
}

impl<'a> ResponseSpec<'a> {
    pub(crate) fn new(code: u16) -> Self {
        Self {
            code,
            reason: reason(code),
            to_tag: None,
            extra: Vec::new(),
            body: None,
        }
    }
}

/// Adds `received`/`rport` to a top Via value (RFC 3261 §18.2.1, RFC 3581 §4).
pub(crate) fn stamp_via(via: &str, src: SocketAddr) -> String {
    let sent_host = via
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.split(';').next())
        .map(|hp| {
            hp.rsplit_once(':')
                .map_or(hp, |(h, _)| h)
                .trim_matches(['[', ']'])
        })
        .unwrap_or("");
    let ip = src.ip().to_string();
    let mut out = String::with_capacity(via.len() + 40);
    let mut has_rport = false;
    for (i, part) in via.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        let key = part.split('=').next().unwrap_or("").trim();
        if key.eq_ignore_ascii_case("rport") {
            has_rport = true;
            let _ = write!(out, "rport={}", src.port());
        } else if key.eq_ignore_ascii_case("received") {
            // Replaced below with the address actually seen.
            out.pop();
        } else {
            out.push_str(part);
        }
    }
    if has_rport || sent_host != ip {
        let _ = write!(out, ";received={ip}");
    }
    out
}

/// Builds a response to `req` received from `src` (RFC 3261 §8.2.6).
pub(crate) fn response(
    req: &SipMsg,
    src: SocketAddr,
    spec: &ResponseSpec<'_>,
    ua: &str,
) -> Vec<u8> {
    let mut s = String::with_capacity(512);
    let _ = write!(s, "SIP/2.0 {} {}\r\n", spec.code, spec.reason);
    for (i, via) in req.header_list("Via").iter().enumerate() {
        if i == 0 {
            let _ = write!(s, "Via: {}\r\n", stamp_via(via, src));
        } else {
            let _ = write!(s, "Via: {via}\r\n");
        }
    }
    if let Some(from) = req.header("From") {
        let _ = write!(s, "From: {from}\r\n");
    }
    if let Some(to) = req.header("To") {
        match (req.to_tag(), spec.to_tag) {
            (None, Some(tag)) if spec.code != 100 => {
                let _ = write!(s, "To: {to};tag={tag}\r\n");
            }
            _ => {
                let _ = write!(s, "To: {to}\r\n");
            }
        }
    }
    if let Some(cid) = req.header("Call-ID") {
        let _ = write!(s, "Call-ID: {cid}\r\n");
    }
    if let Some(cseq) = req.header("CSeq") {
        let _ = write!(s, "CSeq: {cseq}\r\n");
    }
    if spec.code >= 180 && spec.code < 300 {
        // RFC 3261 §12.1.1: the UAS copies Record-Route into responses that create a dialog.
        for rr in req.header_list("Record-Route") {
            let _ = write!(s, "Record-Route: {rr}\r\n");
        }
    }
    for (name, value) in &spec.extra {
        let _ = write!(s, "{name}: {value}\r\n");
    }
    let _ = write!(s, "Server: {ua}\r\nAllow: {ALLOW}\r\n");
    if !SUPPORTED.is_empty() {
        let _ = write!(s, "Supported: {SUPPORTED}\r\n");
    }
    finish(s, spec.body)
}

fn finish(mut s: String, body: Option<(&str, &[u8])>) -> Vec<u8> {
    match body {
        Some((ctype, body)) => {
            let _ = write!(
                s,
                "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let mut out = s.into_bytes();
            out.extend_from_slice(body);
            out
        }
        None => {
            s.push_str("Content-Length: 0\r\n\r\n");
            s.into_bytes()
        }
    }
}

/// An in-dialog request to build (RFC 3261 §12.2.1.1).
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    pub(crate) via_host: String,
    /// The transport the request leaves on (its Via's token).
    pub(crate) transport: SipTransport,
    pub(crate) branch: &'a str,
    pub(crate) route_set: &'a [String],
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) call_id: &'a str,
    pub(crate) cseq: u32,
}

/// Builds a request from a dialog's state.
pub(crate) fn request(spec: &RequestSpec<'_>, ua: &str) -> Vec<u8> {
    request_with(spec, ua, &[], None)
}

/// [`request`] with extra headers and a body (`(content type, bytes)`), e.g. a NOTIFY.
pub(crate) fn request_with(
    spec: &RequestSpec<'_>,
    ua: &str,
    extra: &[(&str, String)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let mut s = String::with_capacity(512);
    let proto = spec.transport.via_token();
    let _ = write!(
        s,
        "{m} {t} SIP/2.0\r\nVia: SIP/2.0/{proto} {h};branch={b};rport\r\nMax-Forwards: 70\r\n",
        m = spec.method,
        t = spec.target,
        h = spec.via_host,
        b = spec.branch
    );
    for r in spec.route_set {
        let _ = write!(s, "Route: {r}\r\n");
    }
    let _ = write!(
        s,
        "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {}\r\nUser-Agent: {ua}\r\n",
        spec.from, spec.to, spec.call_id, spec.cseq, spec.method
    );
    for (name, value) in extra {
        let _ = write!(s, "{name}: {value}\r\n");
    }
    finish(s, body)
}

/// A random u64 from a per-thread generator seeded by the OS (no `thread_rng` feature needed).
pub(crate) fn random_u64() -> u64 {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    thread_local! {
        static RNG: std::cell::RefCell<StdRng> = std::cell::RefCell::new(StdRng::from_os_rng());
    }
    RNG.with(|r| r.borrow_mut().random())
}

/// A fresh branch with the RFC 3261 magic cookie (§8.1.1.7).
pub(crate) fn new_branch() -> String {
    format!("z9hG4bK{:016x}", random_u64())
}

/// A fresh tag (RFC 3261 §19.3: at least 32 bits of randomness).
pub(crate) fn new_tag() -> String {
    format!("{:016x}", random_u64())
}

/// The URI inside a name-addr or addr-spec header value (`"A" <sip:a@b>;tag=1` → `sip:a@b`).
pub(crate) fn addr_uri(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or("").trim(),
    }
}

/// A `tel:` URI (its first 4 bytes need not be a char boundary: the URI is wire data).
fn is_tel(uri: &str) -> bool {
    uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("tel:"))
}

/// User part of a SIP or tel URI.
pub(crate) fn uri_user(uri: &str) -> Option<String> {
    let rest = uri.split_once(':')?.1;
    if is_tel(uri) {
        return Some(rest.split(';').next()?.to_string()).filter(|u| !u.is_empty());
    }
    let (user, _) = rest.split_once('@')?;
    let user = user.split([';', ':']).next()?;
    (!user.is_empty()).then(|| user.to_string())
}

fn uri_host(uri: &str) -> String {
    let rest = uri.split_once(':').map_or(uri, |(_, r)| r);
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split([';', '?']).next().unwrap_or("");
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("").to_string();
    }
    if is_tel(uri) {
        return String::new();
    }
    hostport.split(':').next().unwrap_or("").to_string()
}

/// Parses a From/To/P-Asserted-Identity value into a [`NameAddr`].
pub(crate) fn name_addr(value: &str) -> NameAddr {
    let value = value.trim();
    let display = match value.find('<') {
        Some(i) if i > 0 => {
            let d = value[..i].trim().trim_matches('"').trim();
            (!d.is_empty()).then(|| d.to_string())
        }
        _ => None,
    };
    let uri = addr_uri(value).to_string();
    NameAddr {
        display,
        user: uri_user(&uri),
        host: uri_host(&uri),
        uri,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::parse;

    #[test]
    fn via_gets_received_and_rport() {
        let src: SocketAddr = "192.0.2.9:40000".parse().unwrap();
        assert_eq!(
            stamp_via("SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK1;rport", src),
            "SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK1;rport=40000;received=192.0.2.9"
        );
        let same: SocketAddr = "10.0.0.2:5062".parse().unwrap();
        assert_eq!(
            stamp_via("SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK1", same),
            "SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK1"
        );
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_tag() {
        let req = parse(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bKa\r\nVia: SIP/2.0/UDP h2;branch=z9hG4bKb\r\n\
From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 2 OPTIONS\r\n\r\n",
        )
        .unwrap();
        let src: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut spec = ResponseSpec::new(200);
        spec.to_tag = Some("xyz");
        let text = String::from_utf8(response(&req, src, &spec, "fl")).unwrap();
        assert_eq!(
            text,
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bKa;received=127.0.0.1\r\n\
Via: SIP/2.0/UDP h2;branch=z9hG4bKb\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=xyz\r\n\
Call-ID: c\r\nCSeq: 2 OPTIONS\r\nServer: fl\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER, REFER\r\n\
Content-Length: 0\r\n\r\n"
        );
    }

    /// Regression (fuzz, sip): a From without `<` whose fourth byte is inside a multi-byte
    /// character (`"An\u{feff}n" sip:…`) panicked slicing `uri[..4]` to look for `tel:`,
    /// taking the SIP task down with one datagram.
    #[test]
    fn a_uri_with_a_multibyte_character_near_its_start_does_not_panic() {
        assert_eq!(
            uri_user("\"An\u{feff}n\" <sip:ann@example.com:").as_deref(),
            Some("ann")
        );
        assert_eq!(uri_user("s\u{e9}:1@h").as_deref(), Some("1"));
        assert_eq!(uri_host("s\u{e9}:1@h"), "h");
        assert_eq!(uri_user("t\u{e9}l:+31"), None);
        assert_eq!(
            uri_user("TEL:+31201234567").as_deref(),
            Some("+31201234567")
        );
        assert_eq!(uri_host("tel:+31201234567"), "");
    }

    #[test]
    fn name_addrs_parse() {
        let n =
            name_addr("\"Ann de Vries\" <sip:+31201234567@pbx.example.nl:5060;user=phone>;tag=9");
        assert_eq!(n.display.as_deref(), Some("Ann de Vries"));
        assert_eq!(n.user.as_deref(), Some("+31201234567"));
        assert_eq!(n.host, "pbx.example.nl");
        assert_eq!(n.uri, "sip:+31201234567@pbx.example.nl:5060;user=phone");
        let t = name_addr("<tel:+3120555;phone-context=x>");
        assert_eq!((t.user.as_deref(), t.host.as_str()), (Some("+3120555"), ""));
        let bare = name_addr("sip:bob@[::1]:5060;tag=3");
        assert_eq!(
            (bare.user.as_deref(), bare.host.as_str()),
            (Some("bob"), "::1")
        );
    }
}
