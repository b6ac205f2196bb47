//! `--mode agents`: agent phones for bench/srtp. `--accounts` phones register with digest auth
//! (register.rs) over the run's links, keep them open (the server reaches a phone over the
//! connection it registered on), answer every INVITE the server sends (plain `RTP/AVP`, or
//! `RTP/SAVP` with SDES keys, decided by `firstline::media::srtp::answer_offer`) and echo the
//! media back to the server (unprotect → protect). Runs `--secs`, then prints its summary.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use firstline::media::sdp::SessionOffer;
use firstline::media::srtp::{SdesAnswer, SdesRule, SrtpPolicy, answer_offer};
use tokio::time::{Instant, sleep_until};

use crate::dialog::token;
use crate::link::{Inbox, Link, OnInvite};
use crate::media::{EchoLeg, MediaStats, RtpSocket};
use crate::sip_msg::{SipMsg, long_name};

/// What the phones of a run count.
#[derive(Debug, Default)]
pub(crate) struct Phones {
    /// INVITEs of new dialogs.
    pub(crate) invites: Cell<u64>,
    /// Calls answered with 200.
    pub(crate) answered: Cell<u64>,
    /// Calls the server ended with BYE after our 200 and its ACK.
    pub(crate) completed: Cell<u64>,
    /// Failures by reason (refused SDP, no ACK, …).
    pub(crate) failures: RefCell<BTreeMap<String, u64>>,
    pub(crate) media: MediaStats,
    /// When the phones stop answering and hang up what they hold.
    pub(crate) until: Cell<Option<Instant>>,
}

impl Phones {
    fn fail(&self, why: &str) {
        *self
            .failures
            .borrow_mut()
            .entry(why.to_owned())
            .or_default() += 1;
    }

    /// The summary fields.
    pub(crate) fn json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "invites": self.invites.get(),
            "answered": self.answered.get(),
            "completed": self.completed.get(),
            "call_failures": *self.failures.borrow(),
        });
        if let (Some(to), serde_json::Value::Object(m)) = (v.as_object_mut(), self.media.json()) {
            to.extend(m);
        }
        v
    }
}

/// The hook that answers every new INVITE (link.rs) on its own task.
pub(crate) fn on_invite(phones: Rc<Phones>) -> OnInvite {
    Rc::new(move |invite, inbox, link| {
        let phones = phones.clone();
        tokio::task::spawn_local(async move {
            phones.invites.set(phones.invites.get() + 1);
            if let Err(why) = answer(invite, inbox, &link, &phones).await {
                phones.fail(why);
            }
        });
    })
}

/// The phones' SRTP rule: SRTP when offered (our keys travel over TLS), plain otherwise.
const RULE: SdesRule = SdesRule {
    policy: SrtpPolicy::Optional,
    keys_allowed: true,
};

/// One call on one phone: 180, 200 with our SDP, echo until the server's BYE.
async fn answer(
    invite: SipMsg,
    mut inbox: Inbox,
    link: &Link,
    phones: &Phones,
) -> Result<(), &'static str> {
    let send = |m: String| async move { link.send(&m).await.map_err(|_| "link") };
    let offer = SessionOffer::parse(&invite.body).map_err(|_| "sdp")?;
    let audio = offer.audio().ok_or("sdp_audio")?;
    let ip = (audio.connection.or(offer.connection)).ok_or("sdp_c")?;
    let keys = match answer_offer(RULE, &audio.protocol, &audio.crypto) {
        Ok(k) => k,
        Err(_) => {
            send(invite.response(488, "Not Acceptable Here")).await?;
            return Err("crypto_refused");
        }
    };
    let srtp = keys.as_ref().map(SdesAnswer::session).transpose();
    let srtp = srtp.map_err(|_| "srtp_session")?;
    let sock = RtpSocket::bind(link.local.ip())
        .await
        .map_err(|_| "rtp_bind")?;
    let sdp = answer_sdp(sock.local(), &audio.protocol, keys.as_ref());
    let tag = token();
    let contact = format!("Contact: <sip:agent@{};transport=tls>\r\n", link.local);
    send(reply(&invite, 180, "Ringing", &tag, &contact, "")).await?;
    let ok = |req: &SipMsg| {
        let extra = format!("{contact}Content-Type: application/sdp\r\n");
        reply(req, 200, "OK", &tag, &extra, &sdp)
    };
    send(ok(&invite)).await?;
    phones.answered.set(phones.answered.get() + 1);
    let media = &phones.media;
    media
        .srtp_calls
        .set(media.srtp_calls.get() + u64::from(srtp.is_some()));
    let mut echo: EchoLeg = sock.echo(SocketAddr::new(ip, audio.port), srtp);
    let mut acked = false;
    let until = phones.until.get().unwrap_or_else(Instant::now);
    loop {
        tokio::select! {
            _ = sleep_until(until) => return Err("run_ended"),
            m = inbox.rx.recv() => {
                let m = m.ok_or("inbox_closed")?;
                match m.method() {
                    Some("ACK") => acked = true,
                    Some("BYE") => {
                        send(reply(&m, 200, "OK", &tag, "", "")).await?;
                        if !acked {
                            return Err("bye_before_ack");
                        }
                        phones.completed.set(phones.completed.get() + 1);
                        return Ok(());
                    }
                    // A retransmitted INVITE or a re-INVITE: the same answer.
                    Some("INVITE") => send(ok(&m)).await?,
                    Some(_) => send(reply(&m, 200, "OK", &tag, "", "")).await?,
                    None => {}
                }
            }
            r = echo.step(media) => r.map_err(|_| "rtp")?,
        }
    }
}

/// A response to `req` with our To tag (unless it has one), `extra` header lines and `body`.
fn reply(req: &SipMsg, code: u16, reason: &str, tag: &str, extra: &str, body: &str) -> String {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for (n, v) in &req.headers {
        match long_name(n).as_str() {
            "to" if !v.contains(";tag=") => s.push_str(&format!("{n}: {v};tag={tag}\r\n")),
            "via" | "from" | "to" | "call-id" | "cseq" => s.push_str(&format!("{n}: {v}\r\n")),
            _ => {}
        }
    }
    s.push_str(&format!(
        "{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s
}

/// Our answer: PCMU at `rtp`, the offer's profile, our key when SRTP.
fn answer_sdp(rtp: SocketAddr, protocol: &str, keys: Option<&SdesAnswer>) -> String {
    let ip: IpAddr = rtp.ip();
    let crypto = keys
        .map(|k| format!("a=crypto:{}\r\n", k.to_value()))
        .unwrap_or_default();
    format!(
        "v=0\r\no=agent 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} {protocol} 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n\
         {crypto}a=sendrecv\r\n",
        port = rtp.port()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use firstline::media::srtp::SdesOffer;

    #[test]
    fn answers_an_srtp_offer_with_a_key_the_offerer_accepts() {
        let ours = SdesOffer::new();
        let crypto: Vec<String> = ours.lines().iter().map(|l| l.to_value()).collect();
        let keys = answer_offer(RULE, "RTP/SAVP", &crypto).expect("an SRTP answer");
        let keys = keys.expect("keys");
        let sdp = answer_sdp(
            "127.0.0.1:4000".parse().expect("addr"),
            "RTP/SAVP",
            Some(&keys),
        );
        let parsed = SessionOffer::parse(sdp.as_bytes()).expect("our SDP parses");
        let audio = parsed.audio().expect("audio");
        assert_eq!(audio.protocol, "RTP/SAVP");
        assert!(ours.accept(&audio.crypto).expect("accepted").is_some());
        let plain = answer_offer(RULE, "RTP/AVP", &[]).expect("plain is fine");
        assert!(plain.is_none());
    }

    #[test]
    fn reply_adds_our_tag_once() {
        let raw = "INVITE sip:a@h SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\n\
                   From: <sip:s@h>;tag=x\r\nTo: <sip:a@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
                   Content-Length: 0\r\n\r\n";
        let req = SipMsg::parse(raw.as_bytes()).expect("parses");
        let r = reply(&req, 200, "OK", "t1", "", "v=0\r\n");
        let resp = SipMsg::parse(r.as_bytes()).expect("parses");
        assert_eq!(resp.to_tag().as_deref(), Some("t1"));
        assert_eq!(resp.body, b"v=0\r\n");
        assert_eq!(resp.header("cseq"), Some("1 INVITE"));
    }
}
