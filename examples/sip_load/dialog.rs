//! One load-client call or registration's SIP identity (Call-ID, tags, CSeq) on one link, the
//! requests it writes and the client transaction that waits for their final response: over UDP
//! retransmitted per Timer A/E (RFC 3261 §17.1.1.2, §17.1.2.2), over TCP/TLS sent once.

use std::fmt;
use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use crate::link::{Inbox, Link, Links, Transport};
use crate::sip_msg::SipMsg;

/// Why a call or registration failed; its `Display` is the key the summary counts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No final response to this method within the timeout.
    Timeout(&'static str),
    /// A final response other than 2xx (after the digest challenge, for REGISTER).
    Status(&'static str, u16),
    /// The connection is gone or a send failed.
    Link(String),
    /// The server hung up before we did.
    ServerBye,
    /// A 200 without what the next step needs (To tag, SDP).
    Malformed(&'static str),
    /// No RTP from the server during the call (with `--rtp on`).
    NoRtp,
    /// None of our frames came back (with `--queue on`: the call was never bridged to an
    /// agent phone that echoes).
    NoEcho,
    /// The in-flight cap was reached when this attempt was due: it was never started.
    InflightCap,
    /// The account's previous registration was still running (too few `--accounts`).
    AccountBusy,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(m) => write!(f, "timeout_{m}"),
            Failure::Status(m, c) => write!(f, "{m}_{c}"),
            Failure::Link(e) => write!(f, "link: {e}"),
            Failure::ServerBye => f.write_str("server_bye"),
            Failure::Malformed(w) => write!(f, "malformed_{w}"),
            Failure::NoRtp => f.write_str("no_rtp"),
            Failure::NoEcho => f.write_str("no_echo"),
            Failure::InflightCap => f.write_str("inflight_cap"),
            Failure::AccountBusy => f.write_str("account_busy"),
        }
    }
}

/// A random lower-case hex token of 16 digits.
pub(crate) fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// One call's or registration's identity and link.
pub(crate) struct Dialog<'a> {
    pub(crate) link: &'a Link,
    transport: Transport,
    pub(crate) user: String,
    pub(crate) call_id: String,
    from_tag: String,
    /// `<uri>` or `<uri>;tag=…` once the server's tag is known.
    pub(crate) to: String,
    pub(crate) inbox: Inbox,
}

impl<'a> Dialog<'a> {
    /// A dialog of `user` towards `to_uri` on `link`, routed by a fresh Call-ID (or `call_id`).
    pub(crate) fn new(
        links: &Links,
        link: &'a Link,
        user: String,
        to_uri: &str,
        call_id: Option<String>,
    ) -> Dialog<'a> {
        let call_id = call_id.unwrap_or_else(|| format!("{}@{}", token(), link.local));
        Dialog {
            link,
            transport: links.transport,
            inbox: links.inbox(&call_id),
            user,
            call_id,
            from_tag: token(),
            to: format!("<{to_uri}>"),
        }
    }

    /// Our Contact URI.
    pub(crate) fn contact(&self) -> String {
        format!(
            "<sip:{}@{}{}>",
            self.user,
            self.link.local,
            self.transport.uri_param()
        )
    }

    /// A request with the mandatory headers (RFC 3261 §8.1.1), a new branch unless given, and
    /// `extra` header lines (each ending in CRLF) and `sdp` as body.
    pub(crate) fn request(
        &self,
        method: &str,
        uri: &str,
        cseq: u32,
        branch: &str,
        extra: &str,
        sdp: &str,
    ) -> String {
        let ctype = if sdp.is_empty() {
            String::new()
        } else {
            format!("{extra}Content-Type: application/sdp\r\n")
        };
        let extra = if sdp.is_empty() { extra } else { &ctype };
        self.request_with(method, uri, cseq, branch, extra, sdp)
    }

    /// [`Dialog::request`] with `body` as is: `extra` names its Content-Type, if any.
    pub(crate) fn request_with(
        &self,
        method: &str,
        uri: &str,
        cseq: u32,
        branch: &str,
        extra: &str,
        body: &str,
    ) -> String {
        format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: SIP/2.0/{proto} {local};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{ip}>;tag={tag}\r\n\
             To: {to}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: {contact}\r\n\
             User-Agent: firstline-sip-load\r\n\
             {extra}Content-Length: {len}\r\n\r\n{body}",
            proto = self.transport.via(),
            local = self.link.local,
            user = self.user,
            ip = self.link.local.ip(),
            tag = self.from_tag,
            to = self.to,
            cid = self.call_id,
            contact = self.contact(),
            len = body.len(),
        )
    }

    /// Sends `msg` and waits until `deadline` for its final response (CSeq `cseq` `method`);
    /// answers the server's own requests meanwhile (a BYE is reported as [`Failure::ServerBye`]).
    pub(crate) async fn transact(
        &mut self,
        msg: &str,
        method: &'static str,
        cseq: u32,
        deadline: Instant,
    ) -> Result<SipMsg, Failure> {
        let want = format!("{cseq} {method}");
        let udp = self.transport == Transport::Udp;
        let mut interval = Duration::from_millis(500);
        let mut next = udp.then(|| Instant::now() + interval);
        self.link.send(msg).await.map_err(Failure::Link)?;
        loop {
            let wake = next.map_or(deadline, |n| n.min(deadline));
            match timeout_at(wake, self.inbox.rx.recv()).await {
                Err(_) if Instant::now() >= deadline => return Err(Failure::Timeout(method)),
                Err(_) => {
                    self.link.send(msg).await.map_err(Failure::Link)?;
                    interval = (interval * 2).min(Duration::from_secs(4));
                    next = Some(Instant::now() + interval);
                }
                Ok(None) => return Err(Failure::Link("inbox closed".into())),
                Ok(Some(m)) => match m.status() {
                    Some(code) if m.header("cseq") == Some(want.as_str()) => {
                        if code >= 200 {
                            return Ok(m);
                        }
                        // A provisional answer: an INVITE is no longer retransmitted (Timer A
                        // stops, §17.1.1.2); a non-INVITE goes on at T2 (§17.1.2.2).
                        if method == "INVITE" {
                            next = None;
                        }
                    }
                    Some(_) => {}
                    None => self.answer(&m).await?,
                },
            }
        }
    }

    /// Answers a request from the server with 200; a BYE means the server hung up.
    pub(crate) async fn answer(&self, req: &SipMsg) -> Result<(), Failure> {
        if req.method() == Some("ACK") {
            return Ok(());
        }
        self.link
            .send(&req.response(200, "OK"))
            .await
            .map_err(Failure::Link)?;
        if req.method() == Some("BYE") {
            return Err(Failure::ServerBye);
        }
        Ok(())
    }
}
