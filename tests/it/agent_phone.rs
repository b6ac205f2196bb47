//! A scripted agent phone for tests: REGISTER with digest MD5 (RFC 7616), then answers the
//! server's INVITEs by hand-written SIP text over UDP (180, 200 + SDP, ACK, BYE both ways,
//! CANCEL → 487), and plays/records RTP in PCMU or PCMA.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use firstline::media::g711::{alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use md5::{Digest, Md5};
use tokio::net::UdpSocket;

use crate::rtp::{RtpPacket, parse_rtp};
use crate::sip_msg::digest_param as param;
use crate::ua::{SdpAnswer, SipMsg, parse_sdp, sdp_offer};

pub(crate) use crate::tones::{tone, tone_share};

/// PCMU (RFC 3551 §6, PT 0).
pub(crate) const PCMU: (u8, &str) = (0, "PCMU/8000");
/// PCMA (RFC 3551 §6, PT 8).
pub(crate) const PCMA: (u8, &str) = (8, "PCMA/8000");

fn token() -> String {
    format!("{:012x}", crate::helpers::random_u64() & 0xffff_ffff_ffff)
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The server's INVITE to this phone, with what the tests look at.
#[derive(Debug, Clone)]
pub(crate) struct Invite {
    /// The request as received.
    pub(crate) msg: SipMsg,
    /// The server's SDP offer.
    pub(crate) offer: SdpAnswer,
    /// The display name in From (`"<number> <category>"`).
    pub(crate) display: String,
    /// `X-Firstline-Call`, when present.
    pub(crate) call: Option<String>,
}

/// One dialog the phone answered.
struct Dialog {
    invite: SipMsg,
    our_tag: String,
    cseq: u32,
}

/// A registered agent phone on 127.0.0.1 (signalling and one RTP socket).
pub(crate) struct AgentPhone {
    sock: UdpSocket,
    server: SocketAddr,
    /// Our signalling address.
    pub(crate) local: SocketAddr,
    /// Extension (the digest user and AOR).
    pub(crate) ext: String,
    /// The Contact to register instead of our own address (e.g. an unreachable one, as a phone
    /// behind NAT would send, for the tests behind a proxy that records a Path).
    pub(crate) contact: Option<String>,
    password: String,
    reg_call_id: String,
    reg_tag: String,
    reg_cseq: u32,
    /// Requests read while waiting for something else.
    inbox: VecDeque<SipMsg>,
    /// Our answers by (Call-ID, CSeq), sent again when the request is retransmitted.
    answered: HashMap<(String, String), Vec<u8>>,
    dialog: Option<Dialog>,
    /// Our media.
    pub(crate) rtp: MediaPeer,
}

impl AgentPhone {
    /// A phone for `ext` that will register at `server` with `password`.
    pub(crate) async fn new(server: SocketAddr, ext: &str, password: &str) -> AgentPhone {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = sock.local_addr().unwrap();
        AgentPhone {
            sock,
            server,
            local,
            ext: ext.to_string(),
            contact: None,
            password: password.to_string(),
            reg_call_id: format!("{}@agent.it", token()),
            reg_tag: token(),
            reg_cseq: 0,
            inbox: VecDeque::new(),
            answered: HashMap::new(),
            dialog: None,
            rtp: MediaPeer::bind().await,
        }
    }

    async fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
    }

    /// Next message; answers retransmitted requests again on the way.
    async fn recv(&mut self, limit: Duration) -> Option<SipMsg> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, _) = tokio::time::timeout_at(deadline, self.sock.recv_from(&mut buf))
                .await
                .ok()?
                .ok()?;
            let Some(m) = SipMsg::parse(&buf[..n]) else {
                continue;
            };
            if m.method().is_some() && m.method() != Some("ACK") {
                let key = (
                    m.header("call-id").unwrap_or("").to_string(),
                    m.header("cseq").unwrap_or("").to_string(),
                );
                if let Some(again) = self.answered.get(&key) {
                    let again = again.clone();
                    self.sock.send_to(&again, self.server).await.unwrap();
                    continue;
                }
            }
            return Some(m);
        }
    }

    fn register_text(&mut self, expires: u32, auth: Option<String>) -> String {
        self.reg_cseq += 1;
        let contact =
            (self.contact.clone()).unwrap_or_else(|| format!("<sip:{}@{}>", self.ext, self.local));
        let mut s = format!(
            "REGISTER sip:{srv} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{br};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{ext}@{srv}>;tag={tag}\r\nTo: <sip:{ext}@{srv}>\r\n\
             Call-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\nExpires: {expires}\r\n\
             User-Agent: firstline-it-agent\r\n",
            srv = self.server,
            me = self.local,
            br = token(),
            ext = self.ext,
            tag = self.reg_tag,
            cid = self.reg_call_id,
            cseq = self.reg_cseq,
        );
        if let Some(a) = auth {
            s.push_str(&format!("Authorization: {a}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }

    /// The `Authorization` value answering the MD5 challenge of a 401 (RFC 7616 §3.4.1).
    fn authorization(&self, challenge: &SipMsg, password: &str) -> Option<String> {
        let www = challenge
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.as_str())
            .find(|v| param(v, "algorithm").is_none_or(|a| a.eq_ignore_ascii_case("MD5")))?;
        let realm = param(www, "realm")?;
        let nonce = param(www, "nonce")?;
        let uri = format!("sip:{}", self.server);
        let ha1 = md5_hex(&format!("{}:{realm}:{password}", self.ext));
        let ha2 = md5_hex(&format!("REGISTER:{uri}"));
        let cnonce = token();
        let nc = "00000001";
        let qop = param(www, "qop");
        let (response, qop_part) = if qop.as_deref().is_some_and(|q| q.contains("auth")) {
            (
                md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
                format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""),
            )
        } else {
            (md5_hex(&format!("{ha1}:{nonce}:{ha2}")), String::new())
        };
        let opaque = param(www, "opaque")
            .map(|o| format!(", opaque=\"{o}\""))
            .unwrap_or_default();
        Some(format!(
            "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm=MD5{qop_part}{opaque}",
            self.ext
        ))
    }

    async fn register_response(&mut self) -> Option<SipMsg> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.recv(left).await?;
            if m.cseq_method() == Some("REGISTER") && m.status().is_some_and(|s| s >= 200) {
                return Some(m);
            }
            if m.method().is_some() {
                self.inbox.push_back(m);
            }
        }
    }

    /// Registers with the right password; returns the final status (200 on success).
    pub(crate) async fn register(&mut self) -> u16 {
        let password = self.password.clone();
        let statuses = self.register_with(&password, 1, 3600).await;
        statuses.last().copied().unwrap_or(0)
    }

    /// Unregisters (Expires: 0); returns the final status.
    pub(crate) async fn unregister(&mut self) -> u16 {
        let password = self.password.clone();
        let statuses = self.register_with(&password, 1, 0).await;
        statuses.last().copied().unwrap_or(0)
    }

    /// REGISTER without credentials, then up to `attempts` authenticated REGISTERs with
    /// `password`, each answering the latest challenge; returns every final status in order.
    pub(crate) async fn register_with(
        &mut self,
        password: &str,
        attempts: usize,
        expires: u32,
    ) -> Vec<u16> {
        let mut statuses = Vec::new();
        let first = self.register_text(expires, None);
        self.send(&first).await;
        let Some(mut last) = self.register_response().await else {
            return statuses;
        };
        statuses.push(last.status().unwrap_or(0));
        for _ in 0..attempts {
            if last.status() != Some(401) {
                break;
            }
            let Some(auth) = self.authorization(&last, password) else {
                panic!(
                    "401 without an MD5 challenge: {}",
                    String::from_utf8_lossy(&last.raw)
                );
            };
            let text = self.register_text(expires, Some(auth));
            self.send(&text).await;
            let Some(m) = self.register_response().await else {
                break;
            };
            statuses.push(m.status().unwrap_or(0));
            last = m;
        }
        statuses
    }

    /// The next request with `method` (from the inbox or the wire).
    pub(crate) async fn request(&mut self, method: &str, limit: Duration) -> Option<SipMsg> {
        if let Some(i) = self.inbox.iter().position(|m| m.method() == Some(method)) {
            return self.inbox.remove(i);
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.recv(left).await?;
            if m.method() == Some(method) {
                return Some(m);
            }
            if m.method().is_some() {
                self.inbox.push_back(m);
            }
        }
    }

    /// Waits for the server's INVITE.
    pub(crate) async fn invite(&mut self, limit: Duration) -> Option<Invite> {
        let msg = self.request("INVITE", limit).await?;
        let offer = parse_sdp(&msg.body_str())
            .unwrap_or_else(|| panic!("INVITE without usable SDP: {}", msg.body_str()));
        let from = msg.header("from").unwrap_or("");
        let display = from
            .split('"')
            .nth(1)
            .map(str::to_string)
            .unwrap_or_else(|| from.split('<').next().unwrap_or("").trim().to_string());
        let call = msg.header("x-firstline-call").map(str::to_string);
        self.dialog = Some(Dialog {
            invite: msg.clone(),
            our_tag: token(),
            cseq: 1,
        });
        Some(Invite {
            msg,
            offer,
            display,
            call,
        })
    }

    /// A response to `req` copying Via, From, To (with `to_tag`), Call-ID and CSeq.
    fn response(
        &self,
        req: &SipMsg,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
        body: Option<&str>,
    ) -> String {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for (n, v) in &req.headers {
            let lower = n.to_ascii_lowercase();
            match lower.as_str() {
                "via" | "v" | "from" | "f" | "call-id" | "i" | "cseq" | "record-route" => {
                    s.push_str(&format!("{n}: {v}\r\n"))
                }
                "to" | "t" => match to_tag {
                    Some(tag) if !v.contains("tag=") => {
                        s.push_str(&format!("{n}: {v};tag={tag}\r\n"))
                    }
                    _ => s.push_str(&format!("{n}: {v}\r\n")),
                },
                _ => {}
            }
        }
        s.push_str(&format!("Contact: <sip:{}@{}>\r\n", self.ext, self.local));
        match body {
            Some(b) => s.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )),
            None => s.push_str("Content-Length: 0\r\n\r\n"),
        }
        s
    }

    /// Sends a response and remembers it for retransmitted requests.
    async fn answer_request(&mut self, req: &SipMsg, text: String) {
        self.send(&text).await;
        let key = (
            req.header("call-id").unwrap_or("").to_string(),
            req.header("cseq").unwrap_or("").to_string(),
        );
        self.answered.insert(key, text.into_bytes());
    }

    /// 180 Ringing to the current INVITE.
    pub(crate) async fn ring(&mut self) {
        let d = self.dialog.as_ref().expect("no INVITE to ring for");
        let text = self.response(&d.invite, 180, "Ringing", Some(&d.our_tag), None);
        let invite = d.invite.clone();
        self.answer_request(&invite, text).await;
    }

    /// 200 OK with an SDP answer taking `codec`, retransmitted until the ACK (RFC 3261
    /// §13.3.1.4); true when the ACK came.
    pub(crate) async fn answer(&mut self, codec: (u8, &str)) -> bool {
        self.answer_sdp(&sdp_offer(self.rtp.addr(), &[codec], &[]))
            .await
    }

    /// `answer` with this SDP.
    pub(crate) async fn answer_sdp(&mut self, sdp: &str) -> bool {
        let d = self.dialog.as_ref().expect("no INVITE to answer");
        let text = self.response(&d.invite, 200, "OK", Some(&d.our_tag), Some(sdp));
        let invite = d.invite.clone();
        self.answer_request(&invite, text.clone()).await;
        for _ in 0..8 {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match self.recv(left).await {
                    Some(m) if m.method() == Some("ACK") => return true,
                    Some(m) if m.method().is_some() => self.inbox.push_back(m),
                    Some(_) => {}
                    None => break,
                }
            }
            self.send(&text).await;
        }
        false
    }

    /// Waits for CANCEL of the ringing INVITE: 200 to it, 487 to the INVITE (RFC 3261 §9.2).
    pub(crate) async fn expect_cancel(&mut self, limit: Duration) -> bool {
        let Some(cancel) = self.request("CANCEL", limit).await else {
            return false;
        };
        let ok = self.response(&cancel, 200, "OK", None, None);
        self.answer_request(&cancel, ok).await;
        if let Some(d) = self.dialog.take() {
            let text = self.response(&d.invite, 487, "Request Terminated", Some(&d.our_tag), None);
            self.answer_request(&d.invite, text).await;
        }
        true
    }

    /// Waits for the server's BYE and answers 200.
    pub(crate) async fn expect_bye(&mut self, limit: Duration) -> bool {
        let Some(bye) = self.request("BYE", limit).await else {
            return false;
        };
        let ok = self.response(&bye, 200, "OK", None, None);
        self.answer_request(&bye, ok).await;
        self.dialog = None;
        true
    }

    /// Hangs up the answered call (BYE as the UAS of the dialog, RFC 3261 §15.1.1); returns
    /// the status of the response.
    pub(crate) async fn bye(&mut self) -> Option<u16> {
        let status = self.in_dialog("BYE", "").await;
        if status.is_some() {
            self.dialog = None;
        }
        status
    }

    /// Blind transfer (RFC 3515): REFER in the answered call's dialog to `target` (a SIP URI);
    /// the status of the response (202 when accepted).
    pub(crate) async fn refer(&mut self, target: &str) -> Option<u16> {
        let headers = format!(
            "Refer-To: <{target}>\r\nReferred-By: <sip:{}@{}>\r\n",
            self.ext, self.local
        );
        self.in_dialog("REFER", &headers).await
    }

    /// Refuses the ringing INVITE with `code` (e.g. 486 Busy Here).
    pub(crate) async fn reject(&mut self, code: u16, reason: &str) {
        let d = self.dialog.take().expect("no INVITE to refuse");
        let text = self.response(&d.invite, code, reason, Some(&d.our_tag), None);
        self.answer_request(&d.invite, text).await;
    }

    /// Waits for a NOTIFY (a transfer's progress), answers 200; its sipfrag body and its
    /// Subscription-State.
    pub(crate) async fn expect_notify(&mut self, limit: Duration) -> Option<(String, String)> {
        let n = self.request("NOTIFY", limit).await?;
        let ok = self.response(&n, 200, "OK", None, None);
        self.answer_request(&n, ok).await;
        Some((
            n.body_str().trim().to_string(),
            n.header("subscription-state").unwrap_or("").to_string(),
        ))
    }

    /// An in-dialog request of ours (we are the UAS of the server's INVITE) with `headers`
    /// (each ending in CRLF); the final status of its response.
    async fn in_dialog(&mut self, method: &str, headers: &str) -> Option<u16> {
        let d = self.dialog.as_mut().expect("no dialog");
        d.cseq += 1;
        let inv = &d.invite;
        let target = inv
            .header("contact")
            .and_then(|c| c.split('<').nth(1))
            .and_then(|c| c.split('>').next())
            .unwrap_or("sip:hotline@127.0.0.1")
            .to_string();
        let from = inv.header("to").unwrap_or("").to_string();
        let to = inv.header("from").unwrap_or("").to_string();
        let text = format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{br};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}\r\nCall-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:{ext}@{me}>\r\n{headers}Content-Length: 0\r\n\r\n",
            me = self.local,
            br = token(),
            tag = d.our_tag,
            cid = inv.header("call-id").unwrap_or(""),
            cseq = d.cseq,
            ext = self.ext,
        );
        self.send(&text).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.recv(left).await?;
            if m.cseq_method() == Some(method) && m.status().is_some_and(|s| s >= 200) {
                return m.status();
            }
            if m.method().is_some() {
                self.inbox.push_back(m);
            }
        }
    }
}

/// An RTP endpoint sending PCMU or PCMA (RFC 3550 §5.1 headers written by hand).
pub(crate) struct MediaPeer {
    /// Bound on 127.0.0.1:0.
    pub(crate) sock: UdpSocket,
    seq: u16,
    ts: u32,
    ssrc: u32,
    first: bool,
}

impl MediaPeer {
    /// A fresh socket.
    pub(crate) async fn bind() -> MediaPeer {
        MediaPeer {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            seq: crate::helpers::random_u64() as u16,
            ts: crate::helpers::random_u64() as u32,
            ssrc: crate::helpers::random_u64() as u32,
            first: true,
        }
    }

    /// Local address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// Throws away what has arrived so far.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 2048];
        while self.sock.try_recv_from(&mut buf).is_ok() {}
    }

    /// Sends `pcm` to `to` in 20 ms frames of payload type `pt` (0 or 8), paced in real time;
    /// returns the packets that arrived meanwhile.
    pub(crate) async fn play(&mut self, to: SocketAddr, pt: u8, pcm: &[i16]) -> Vec<RtpPacket> {
        let mut got = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut buf = [0u8; 2048];
        for frame in pcm.chunks(160) {
            tick.tick().await;
            let mut p = Vec::with_capacity(172);
            p.push(0x80);
            p.push(if self.first { 0x80 | pt } else { pt });
            p.extend_from_slice(&self.seq.to_be_bytes());
            p.extend_from_slice(&self.ts.to_be_bytes());
            p.extend_from_slice(&self.ssrc.to_be_bytes());
            let mut f = frame.to_vec();
            f.resize(160, 0);
            p.extend(f.iter().map(|&s| {
                if pt == 8 {
                    alaw_encode(s)
                } else {
                    ulaw_encode(s)
                }
            }));
            self.sock.send_to(&p, to).await.unwrap();
            self.first = false;
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(160);
            while let Ok((n, _)) = self.sock.try_recv_from(&mut buf) {
                got.extend(parse_rtp(&buf[..n]));
            }
        }
        got
    }
}

/// Asserts that `who` hears `want` Hz and not `other` in the last `last` of `got`, and got at
/// least `min` packets.
pub(crate) fn assert_hears(
    who: &str,
    got: &[RtpPacket],
    (min, last): (usize, usize),
    want: f64,
    other: f64,
) {
    assert!(
        got.len() >= min,
        "{who} received only {} RTP packets",
        got.len()
    );
    let pcm = decode_g711(&got[got.len().saturating_sub(last)..]);
    let (hit, miss) = (tone_share(&pcm, want), tone_share(&pcm, other));
    assert!(
        hit > 0.5 && miss < 0.1,
        "{who} should hear {want} Hz: {hit:.3} ({other} Hz: {miss:.3})"
    );
}

/// Decodes PCMU (PT 0) and PCMA (PT 8) payloads in order; other payload types are skipped.
pub(crate) fn decode_g711(packets: &[RtpPacket]) -> Vec<i16> {
    packets
        .iter()
        .flat_map(|p| {
            let pt = p.pt;
            p.payload.iter().filter_map(move |&b| match pt {
                0 => Some(ulaw_decode(b)),
                8 => Some(alaw_decode(b)),
                _ => None,
            })
        })
        .collect()
}

#[test]
fn digest_response_matches_rfc_2617_example() {
    // RFC 2617 §3.5: Mufasa / Circle Of Life, qop=auth.
    let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
    let ha2 = md5_hex("GET:/dir/index.html");
    let r = md5_hex(&format!(
        "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
    ));
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
}
