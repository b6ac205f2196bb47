//! Digest done fully against the real server (issue 11, item 4; RFC 7616, RFC 8760): the 401
//! offers SHA-256 first, then MD5, with qop="auth"; a response without qop, one whose digest
//! uri is not the Request-URI, and a replayed nonce count each get 401 and bind nothing; none of
//! them counts toward the lockout; a phone counting on (nc=2) is accepted. The 200 carries the
//! Path it was sent (RFC 3327) and a Server header without a version (item 10).

use std::net::SocketAddr;
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::net::UdpSocket;

use crate::helpers::{spawn_app_with, within};
use crate::sip_msg::digest_param as param;
use crate::ua::SipMsg;

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What goes into one Authorization header; each field can be made wrong.
#[derive(Clone)]
struct Answer {
    nonce: String,
    uri: String,
    qop: bool,
    nc: &'static str,
    password: &'static str,
}

impl Answer {
    fn header(&self, user: &str) -> String {
        let ha1 = md5_hex(&format!("{user}:firstline:{}", self.password));
        let ha2 = md5_hex(&format!("REGISTER:{}", self.uri));
        let (response, rest) = if self.qop {
            (
                md5_hex(&format!(
                    "{ha1}:{}:{}:c0ffee:auth:{ha2}",
                    self.nonce, self.nc
                )),
                format!(", qop=auth, nc={}, cnonce=\"c0ffee\"", self.nc),
            )
        } else {
            (
                md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce)),
                String::new(),
            )
        };
        format!(
            "Digest username=\"{user}\", realm=\"firstline\", nonce=\"{}\", uri=\"{}\", \
             response=\"{response}\", algorithm=MD5{rest}",
            self.nonce, self.uri
        )
    }
}

/// A hand-written registering phone over UDP.
struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    ext: &'static str,
    cseq: u32,
}

impl Phone {
    async fn new(server: SocketAddr, ext: &'static str) -> Phone {
        Phone {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
            ext,
            cseq: 0,
        }
    }

    fn ruri(&self) -> String {
        format!("sip:{}", self.server)
    }

    /// One REGISTER (a new CSeq and branch each time) and its final response.
    async fn register(&mut self, expires: u32, extra: &str) -> SipMsg {
        self.cseq += 1;
        let me = self.sock.local_addr().unwrap();
        let text = format!(
            "REGISTER {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKdg{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{ext}@{srv}>;tag=dg\r\nTo: <sip:{ext}@{srv}>\r\n\
             Call-ID: digest-{me}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{ext}@{me}>\r\n\
             Expires: {expires}\r\n{extra}Content-Length: 0\r\n\r\n",
            ruri = self.ruri(),
            cseq = self.cseq,
            ext = self.ext,
            srv = self.server,
        );
        self.sock
            .send_to(text.as_bytes(), self.server)
            .await
            .unwrap();
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, _) =
                tokio::time::timeout(Duration::from_secs(5), self.sock.recv_from(&mut buf))
                    .await
                    .expect("no answer to REGISTER within 5 s")
                    .unwrap();
            let Some(m) = SipMsg::parse(&buf[..n]) else {
                continue;
            };
            let want = format!("{} REGISTER", self.cseq);
            let ours = m.header("cseq") == Some(want.as_str());
            if ours && m.status().is_some_and(|s| s >= 200) {
                return m;
            }
        }
    }

    /// A fresh 401 and the MD5 answer to it (right password, uri = Request-URI, nc=1).
    async fn challenge(&mut self) -> (SipMsg, Answer) {
        let ch = self.register(300, "").await;
        assert_eq!(ch.status(), Some(401));
        let md5 = challenges(&ch)
            .into_iter()
            .find(|c| param(c, "algorithm").as_deref() == Some("MD5"))
            .expect("an MD5 challenge");
        let answer = Answer {
            nonce: param(&md5, "nonce").unwrap(),
            uri: self.ruri(),
            qop: true,
            nc: "00000001",
            password: "2001-sip",
        };
        (ch, answer)
    }

    async fn answer(&mut self, a: &Answer, expires: u32, extra: &str) -> SipMsg {
        let header = format!("Authorization: {}\r\n{extra}", a.header(self.ext));
        self.register(expires, &header).await
    }
}

fn challenges(m: &SipMsg) -> Vec<String> {
    m.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.clone())
        .collect()
}

fn stale(m: &SipMsg) -> bool {
    m.status() == Some(401)
        && challenges(m)
            .iter()
            .all(|c| param(c, "stale").as_deref() == Some("true"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_qop_wrong_uri_and_replayed_nc_are_refused() {
    within(60, async {
        let t = spawn_app_with(|c| c.load_demo = true).await;
        let mut phone = Phone::new(t.udp(), "2001").await;

        // The default challenge order: SHA-256 first, then MD5 (RFC 8760 §2.4), qop="auth".
        let (ch, good) = phone.challenge().await;
        let offered = challenges(&ch);
        assert_eq!(offered.len(), 2, "{offered:?}");
        assert_eq!(param(&offered[0], "algorithm").as_deref(), Some("SHA-256"));
        assert_eq!(param(&offered[1], "algorithm").as_deref(), Some("MD5"));
        assert!(
            offered
                .iter()
                .all(|c| param(c, "qop").as_deref() == Some("auth"))
        );
        assert_eq!(
            ch.header("server"),
            Some("firstline"),
            "no version by default"
        );

        // The right password without qop (RFC 2069 form): refused, since qop was offered.
        let no_qop = Answer {
            qop: false,
            ..good.clone()
        };
        let r = phone.answer(&no_qop, 300, "").await;
        assert_eq!(r.status(), Some(401), "missing qop");
        assert!(!stale(&r));
        assert!(t.app.sip().binding("2001").is_none());

        // The right password for another URI: refused.
        let elsewhere = Answer {
            uri: "sip:elsewhere.example.org".into(),
            ..good.clone()
        };
        let r = phone.answer(&elsewhere, 300, "").await;
        assert_eq!(r.status(), Some(401), "wrong digest uri");
        assert!(t.app.sip().binding("2001").is_none());

        // Right: bound; the 200 echoes the Path and names no version.
        let path = "Path: <sip:127.0.0.1:9;lr>\r\n";
        let ok = phone.answer(&good, 300, path).await;
        assert_eq!(
            ok.status(),
            Some(200),
            "{}",
            String::from_utf8_lossy(&ok.raw)
        );
        assert_eq!(
            ok.header("path"),
            Some("<sip:127.0.0.1:9;lr>"),
            "RFC 3327 §5.3"
        );
        assert_eq!(ok.header("server"), Some("firstline"));
        assert!(t.app.sip().binding("2001").is_some());

        // Someone replays the phone's Authorization to unregister it: refused (stale, fresh
        // nonce), the binding stays.
        let replay = phone.answer(&good, 0, "").await;
        assert!(
            stale(&replay),
            "replayed nc: {}",
            String::from_utf8_lossy(&replay.raw)
        );
        assert!(
            t.app.sip().binding("2001").is_some(),
            "the replay changed nothing"
        );

        // The phone itself counts on with the same nonce: accepted.
        let next = Answer {
            nc: "00000002",
            ..good.clone()
        };
        let bye = phone.answer(&next, 0, "").await;
        assert_eq!(bye.status(), Some(200));
        assert!(t.app.sip().binding("2001").is_none());

        // Three refusals above, none counted as a wrong password: no lockout.
        let (_, fresh) = phone.challenge().await;
        assert_eq!(phone.answer(&fresh, 300, "").await.status(), Some(200));
        t.finish().await;
    })
    .await;
}
