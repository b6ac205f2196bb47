//! A scripted SIP caller for tests: SIP text written by hand over UDP or TCP, minimal parsing.
//!
//! It does just enough of RFC 3261 to place a call, send in-dialog requests and answer the
//! server's BYE; everything else is the test's business, so it can also send broken messages.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub(crate) use crate::sip_msg::SipMsg;

fn random_token() -> String {
    format!("{:012x}", crate::helpers::random_u64() & 0xffff_ffff_ffff)
}

/// The signalling socket.
enum Sig {
    Udp(UdpSocket),
    Tcp(TcpStream, Vec<u8>),
}

/// A SIP caller bound to 127.0.0.1 on port 0.
pub(crate) struct Ua {
    sig: Sig,
    /// Where the server listens.
    pub(crate) server: SocketAddr,
    /// Our signalling address.
    pub(crate) local: SocketAddr,
    /// Call-ID of the current dialog.
    pub(crate) call_id: String,
    /// Caller number in From.
    pub(crate) user: String,
    from_tag: String,
    /// To tag learnt from the answer.
    pub(crate) to_tag: Option<String>,
    remote_target: Option<String>,
    cseq: u32,
    invite_cseq: u32,
    /// Requests the server sent us while we waited for something else.
    pub(crate) inbox: VecDeque<SipMsg>,
}

impl Ua {
    /// A caller over UDP.
    pub(crate) async fn udp(server: SocketAddr) -> Ua {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = s.local_addr().unwrap();
        Ua::with(Sig::Udp(s), server, local)
    }

    /// A caller over one TCP connection.
    pub(crate) async fn tcp(server: SocketAddr) -> Ua {
        let s = TcpStream::connect(server).await.unwrap();
        let local = s.local_addr().unwrap();
        Ua::with(Sig::Tcp(s, Vec::new()), server, local)
    }

    fn with(sig: Sig, server: SocketAddr, local: SocketAddr) -> Ua {
        Ua {
            sig,
            server,
            local,
            call_id: format!("{}@it.test", random_token()),
            user: "+31201234567".into(),
            from_tag: random_token(),
            to_tag: None,
            remote_target: None,
            cseq: 1,
            invite_cseq: 1,
            inbox: VecDeque::new(),
        }
    }

    fn proto(&self) -> &'static str {
        match self.sig {
            Sig::Udp(_) => "UDP",
            Sig::Tcp(..) => "TCP",
        }
    }

    /// Sends bytes as they are (one datagram on UDP).
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        match &mut self.sig {
            Sig::Udp(s) => {
                s.send_to(bytes, self.server).await.unwrap();
            }
            Sig::Tcp(s, _) => s.write_all(bytes).await.unwrap(),
        }
    }

    /// Receives the next message, or `None` after `limit` (or when TCP closes).
    pub(crate) async fn recv(&mut self, limit: Duration) -> Option<SipMsg> {
        let deadline = tokio::time::Instant::now() + limit;
        match &mut self.sig {
            Sig::Udp(s) => {
                let mut buf = vec![0u8; 65536];
                loop {
                    let (n, _) = tokio::time::timeout_at(deadline, s.recv_from(&mut buf))
                        .await
                        .ok()?
                        .ok()?;
                    if let Some(m) = SipMsg::parse(&buf[..n]) {
                        return Some(m);
                    }
                }
            }
            Sig::Tcp(s, acc) => loop {
                while acc.starts_with(b"\r\n") {
                    acc.drain(..2);
                }
                if let Some(m) = SipMsg::parse(acc) {
                    acc.drain(..m.raw.len());
                    return Some(m);
                }
                let mut buf = [0u8; 8192];
                let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
                    .await
                    .ok()?
                    .ok()?;
                if n == 0 {
                    return None;
                }
                acc.extend_from_slice(&buf[..n]);
            },
        }
    }

    /// Next response whose CSeq method is `method`; requests met on the way go to `inbox`.
    pub(crate) async fn response(&mut self, method: &str, limit: Duration) -> Option<SipMsg> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.recv(left).await?;
            // A response of another Call-ID is a late retransmission to an earlier socket
            // that had this port: a UA drops it (no matching transaction).
            if m.status().is_some() && m.header("call-id") != Some(self.call_id.as_str()) {
                continue;
            }
            if m.status().is_some() && m.cseq_method() == Some(method) {
                return Some(m);
            }
            if m.method().is_some() {
                self.inbox.push_back(m);
            }
        }
    }

    /// Next final response (≥ 200) to `method`, collecting the provisional ones.
    pub(crate) async fn final_response(
        &mut self,
        method: &str,
        limit: Duration,
    ) -> (Vec<u16>, Option<SipMsg>) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut provisional = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.response(method, left).await {
                Some(m) if m.status().unwrap_or(0) < 200 => {
                    provisional.push(m.status().unwrap_or(0))
                }
                other => return (provisional, other),
            }
        }
    }

    /// The next request from the server with this method (from the inbox or the wire).
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
        }
    }

    fn uri(&self) -> String {
        format!("sip:hotline@{}", self.server)
    }

    fn via(&self) -> String {
        format!(
            "SIP/2.0/{} {};branch=z9hG4bK{};rport",
            self.proto(),
            self.local,
            random_token()
        )
    }

    fn contact(&self) -> String {
        match self.sig {
            Sig::Udp(_) => format!("<sip:{}@{}>", self.user.trim_start_matches('+'), self.local),
            Sig::Tcp(..) => format!(
                "<sip:{}@{};transport=tcp>",
                self.user.trim_start_matches('+'),
                self.local
            ),
        }
    }

    /// Builds a request in the current dialog (or out of dialog before the answer).
    pub(crate) fn build(&mut self, method: &str, ctype: Option<&str>, body: &str) -> String {
        let cseq = if method == "ACK" || method == "CANCEL" {
            self.invite_cseq
        } else {
            self.cseq += 1;
            self.cseq
        };
        if method == "INVITE" {
            self.invite_cseq = cseq;
        }
        let ruri = match method {
            "CANCEL" => self.uri(),
            _ => self.remote_target.clone().unwrap_or_else(|| self.uri()),
        };
        let to = match &self.to_tag {
            Some(t) if method != "CANCEL" => format!("<{}>;tag={t}", self.uri()),
            _ => format!("<{}>", self.uri()),
        };
        let mut s = format!(
            "{method} {ruri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: \"Test Caller\" <sip:{}@127.0.0.1>;tag={}\r\n\
             To: {to}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: {}\r\nUser-Agent: firstline-it\r\n",
            self.via(),
            self.user,
            self.from_tag,
            self.call_id,
            self.contact(),
        );
        if let Some(ct) = ctype {
            s.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s
    }

    /// Sends an INVITE carrying `sdp`; returns the text sent (CANCEL needs its Via).
    pub(crate) async fn send_invite(&mut self, sdp: &str) -> String {
        let m = self.build("INVITE", Some("application/sdp"), sdp);
        self.send_raw(m.as_bytes()).await;
        m
    }

    /// Sends the INVITE, waits for the final response and ACKs a 2xx (learning the dialog).
    pub(crate) async fn call(&mut self, sdp: &str) -> (Vec<u16>, SipMsg) {
        self.send_invite(sdp).await;
        let (prov, fin) = self.final_response("INVITE", Duration::from_secs(10)).await;
        let fin = fin.expect("no final response to INVITE");
        if fin.status() == Some(200) {
            self.learn_dialog(&fin);
            self.ack().await;
        }
        (prov, fin)
    }

    /// Takes the To tag and the remote target from a 2xx.
    pub(crate) fn learn_dialog(&mut self, ok: &SipMsg) {
        self.to_tag = ok.to_tag();
        self.remote_target = ok
            .header("contact")
            .and_then(|c| c.split('<').nth(1))
            .and_then(|c| c.split('>').next())
            .map(str::to_string);
    }

    /// ACK for the 2xx of the last INVITE (RFC 3261 §13.2.2.4).
    pub(crate) async fn ack(&mut self) {
        let m = self.build("ACK", None, "");
        self.send_raw(m.as_bytes()).await;
    }

    /// Sends an in-dialog request and returns its final response.
    pub(crate) async fn in_dialog(
        &mut self,
        method: &str,
        ctype: Option<&str>,
        body: &str,
    ) -> Option<SipMsg> {
        let m = self.build(method, ctype, body);
        self.send_raw(m.as_bytes()).await;
        self.final_response(method, Duration::from_secs(5)).await.1
    }

    /// Hangs up with BYE; returns the response status.
    pub(crate) async fn bye(&mut self) -> Option<u16> {
        self.in_dialog("BYE", None, "")
            .await
            .and_then(|m| m.status())
    }

    /// Answers a request from the server with a bare response copying the dialog headers.
    pub(crate) async fn reply(&mut self, req: &SipMsg, code: u16, reason: &str) {
        self.send_raw(req.response(code, reason).as_bytes()).await;
    }
}

/// An SDP offer for audio at `rtp` with `(payload type, rtpmap)` pairs and extra attribute lines.
pub(crate) fn sdp_offer(rtp: SocketAddr, codecs: &[(u8, &str)], extra: &[&str]) -> String {
    let pts: Vec<String> = codecs.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut s = format!(
        "v=0\r\no=- {id} {id} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pts}\r\n",
        id = (crate::helpers::random_u64() as u32),
        ip = rtp.ip(),
        port = rtp.port(),
        pts = pts.join(" "),
    );
    for (pt, map) in codecs {
        s.push_str(&format!("a=rtpmap:{pt} {map}\r\n"));
        if map.starts_with("telephone-event") {
            s.push_str(&format!("a=fmtp:{pt} 0-16\r\n"));
        }
    }
    for e in extra {
        s.push_str(&format!("{e}\r\n"));
    }
    s.push_str("a=ptime:20\r\n");
    s
}

/// What the tests read from the server's SDP answer.
#[derive(Debug, Clone)]
pub(crate) struct SdpAnswer {
    /// Where the server wants RTP.
    pub(crate) rtp: SocketAddr,
    /// Payload types on the m= line, in order.
    pub(crate) pts: Vec<u8>,
    /// Direction attribute (`sendrecv` when absent, RFC 3264 §6.1).
    pub(crate) direction: String,
    /// All `a=rtpmap` values.
    pub(crate) rtpmaps: Vec<String>,
}

/// Parses the parts of an SDP body that the tests check.
pub(crate) fn parse_sdp(body: &str) -> Option<SdpAnswer> {
    let mut ip = None;
    let mut port = None;
    let mut pts = Vec::new();
    let mut direction = "sendrecv".to_string();
    let mut rtpmaps = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = c
                .split('/')
                .next()
                .and_then(|a| a.trim().parse::<std::net::Ipv4Addr>().ok());
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            let mut it = m.split_whitespace();
            port = it.next().and_then(|p| p.parse::<u16>().ok());
            it.next();
            pts = it.filter_map(|p| p.parse().ok()).collect();
        } else if let Some(a) = line.strip_prefix("a=") {
            if matches!(a, "sendrecv" | "sendonly" | "recvonly" | "inactive") {
                direction = a.to_string();
            } else if let Some(m) = a.strip_prefix("rtpmap:") {
                rtpmaps.push(m.to_string());
            }
        }
    }
    Some(SdpAnswer {
        rtp: SocketAddr::from((ip?, port?)),
        pts,
        direction,
        rtpmaps,
    })
}
