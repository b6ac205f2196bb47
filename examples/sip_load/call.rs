//! One load-client call to the hotline, shaped like bench/sipp/rate.xml: INVITE with a PCMU
//! offer → 100/180 → 200 (timed) → ACK → hold (RTP both ways with `--rtp on`; otherwise the
//! server's greeting goes to a socket nobody reads) → BYE → 200. With `--queue on` the caller
//! presses 0 by SIP INFO right after the ACK (bench/sipp/queue_caller.xml), skipping the IVR to
//! the queue, and the call fails unless its own frames come back (an agent phone echoed them
//! through the bridge). With `--srtp on` it offers `RTP/SAVP` with SDES keys (RFC 4568).

use std::net::SocketAddr;
use std::time::Duration;

use firstline::media::sdp::SessionOffer;
use firstline::media::srtp::SdesOffer;
use tokio::time::{Instant, sleep_until};

use crate::dialog::{Dialog, Failure, token};
use crate::link::Links;
use crate::media::{MediaStats, RtpLeg, RtpSocket};

/// What every call of a run does.
pub(crate) struct CallPlan {
    /// How long the call stays up after the ACK.
    pub(crate) hold: Duration,
    /// Send and receive RTP (one socket per call) instead of pointing the server at `sink`.
    pub(crate) rtp: bool,
    /// Where the server's RTP goes without `rtp`.
    pub(crate) sink: SocketAddr,
    /// How long each transaction may take.
    pub(crate) timeout: Duration,
    /// Offer `RTP/SAVP` with `a=crypto` (needs `rtp`).
    pub(crate) srtp: bool,
    /// Press 0 by SIP INFO after the ACK (to the queue) and require our frames echoed back.
    pub(crate) queue: bool,
    /// The run's media counters.
    pub(crate) media: MediaStats,
}

/// Places call `k` on link `k mod links`; on success, the INVITE → 200 time.
pub(crate) async fn call(links: &Links, k: u64, plan: &CallPlan) -> Result<Duration, Failure> {
    let link = links.pick(k);
    let server = links.server;
    let ruri = format!("sip:hotline@{server}{}", links.transport.uri_param());
    let mut d = Dialog::new(links, link, format!("+3120557{k:06}"), &ruri, None);
    let media = if plan.rtp {
        Some(RtpSocket::bind(server.ip()).await.map_err(Failure::Link)?)
    } else {
        None
    };
    let rtp_at = media.as_ref().map_or(plan.sink, RtpSocket::local);
    let keys = plan.srtp.then(SdesOffer::new);
    let branch = token();
    let invite = d.request(
        "INVITE",
        &ruri,
        1,
        &branch,
        "",
        &offer(rtp_at, keys.as_ref()),
    );
    let started = Instant::now();
    let ok = d
        .transact(&invite, "INVITE", 1, started + plan.timeout)
        .await?;
    let setup = started.elapsed();
    let code = ok.status().unwrap_or(0);
    if let Some(tag) = ok.to_tag() {
        d.to = format!("{};tag={tag}", d.to);
    }
    if code >= 300 {
        // The ACK of a failure is part of the INVITE transaction: same branch and URI (§17.1.1.3).
        let ack = d.request("ACK", &ruri, 1, &branch, "", "");
        let _ = link.send(&ack).await;
        return Err(Failure::Status("INVITE", code));
    }
    if ok.to_tag().is_none() {
        return Err(Failure::Malformed("to_tag"));
    }
    let target = ok
        .header("contact")
        .and_then(|c| c.split('<').nth(1)?.split('>').next().map(str::to_owned))
        .unwrap_or_else(|| ruri.clone());
    let ack = d.request("ACK", &target, 1, &token(), "", "");
    link.send(&ack).await.map_err(Failure::Link)?;
    let mut media = match media {
        Some(leg) => {
            let answer = SessionOffer::parse(&ok.body).map_err(|_| Failure::Malformed("sdp"))?;
            let audio = answer.audio().ok_or(Failure::Malformed("sdp_audio"))?;
            let ip = (audio.connection.or(answer.connection)).ok_or(Failure::Malformed("sdp_c"))?;
            let srtp = match &keys {
                Some(k) => {
                    let s = k
                        .accept(&audio.crypto)
                        .map_err(|_| Failure::Malformed("crypto"))?;
                    Some(s.ok_or(Failure::Malformed("no_crypto"))?)
                }
                None => None,
            };
            plan.media
                .srtp_calls
                .set(plan.media.srtp_calls.get() + u64::from(srtp.is_some()));
            Some(leg.start(SocketAddr::new(ip, audio.port), srtp))
        }
        None => None,
    };
    let mut cseq = 2;
    if plan.queue {
        // The IVR's "0" (unclassified) goes straight to the queue, as queue_caller.xml does.
        let body = "Signal=0\r\nDuration=160\r\n";
        let ctype = "Content-Type: application/dtmf-relay\r\n";
        let info = d.request_with("INFO", &target, cseq, &token(), ctype, body);
        let done = d
            .transact(&info, "INFO", cseq, Instant::now() + plan.timeout)
            .await?;
        if done.status() != Some(200) {
            return Err(Failure::Status("INFO", done.status().unwrap_or(0)));
        }
        cseq += 1;
    }

    // Hold: the server may retransmit its 200 until our ACK arrives (UDP, §13.3.1.4).
    let hang_up = Instant::now() + plan.hold;
    loop {
        tokio::select! {
            _ = sleep_until(hang_up) => break,
            m = d.inbox.rx.recv() => {
                let Some(m) = m else { return Err(Failure::Link("inbox closed".into())) };
                if m.status() == Some(200) && m.cseq_method() == Some("INVITE") {
                    link.send(&ack).await.map_err(Failure::Link)?;
                } else if m.method().is_some() {
                    d.answer(&m).await?;
                }
            }
            r = media_step(&mut media, &plan.media) => r.map_err(Failure::Link)?,
        }
    }
    let bye = d.request("BYE", &target, cseq, &token(), "", "");
    let done = d
        .transact(&bye, "BYE", cseq, Instant::now() + plan.timeout)
        .await?;
    match done.status() {
        Some(200..=299) => {}
        other => return Err(Failure::Status("BYE", other.unwrap_or(0))),
    }
    if media.as_ref().is_some_and(|m| m.received() == 0) {
        return Err(Failure::NoRtp);
    }
    if plan.queue && media.as_ref().is_some_and(|m| m.echoed() == 0) {
        return Err(Failure::NoEcho);
    }
    Ok(setup)
}

/// The next media step of the call, or never without media.
async fn media_step(media: &mut Option<RtpLeg>, stats: &MediaStats) -> Result<(), String> {
    match media {
        Some(leg) => leg.step(stats).await,
        None => std::future::pending().await,
    }
}

/// The offer: PCMU and telephone-event at `rtp`, 20 ms frames; `RTP/SAVP` with `keys`.
fn offer(rtp: SocketAddr, keys: Option<&SdesOffer>) -> String {
    let ip = rtp.ip();
    let (proto, crypto) = match keys {
        Some(k) => ("RTP/SAVP", k.sdp_attributes()),
        None => ("RTP/AVP", String::new()),
    };
    format!(
        "v=0\r\no=load 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} {proto} 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n\
         {crypto}a=sendrecv\r\n",
        port = rtp.port()
    )
}
