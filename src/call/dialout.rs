//! Dialling a customer through the trunk for an agent whose phone has answered (an automatic
//! callback, click-to-call): the agent hears a ringing tone while the INVITE with the hotline's
//! caller-id rings the customer (up to `[trunk] ring_timeout_secs`), then both are bridged, RTP
//! relayed both ways under strict RTP (the agent's leg SRTP as its answer chose). The task that
//! rang the agent owns both legs here; the record (`outbound_calls`) is written before the
//! INVITE and once at the end, so nothing waits on the database while media flows.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::Instrument;

use super::CallContext;
use super::phone_offer::PhoneOffer;
use super::rtp_socket::RtpSocket;
use crate::media::relay::{LegFormat, Relayed, RtpRelay};
use crate::media::rtp::{RtpPacket, RtpSender};
use crate::media::sdp::{self, Answer, Direction, SessionOffer};
use crate::media::srtp::{self, SdesRule, SrtpSession};
use crate::media::strict::StrictRtp;
use crate::media::tone::Ringback;
use crate::sip::{OutEvent, OutLeg, OutgoingInvite, ReInviteId};
use crate::store::{NewOutboundCall, OutboundEnd, OutboundOutcome, now_ms};
use crate::trunk::Trunk;

/// The agent's phone, answered: its SIP leg, media socket and what its answer negotiated.
pub(crate) struct AgentPhone {
    pub(crate) leg: OutLeg,
    pub(crate) events: mpsc::Receiver<OutEvent>,
    pub(crate) socket: RtpSocket,
    pub(crate) answer: Answer,
    pub(crate) srtp: Option<SrtpSession>,
    /// What the phone's re-INVITEs may do with SRTP (`[media] srtp_agents`).
    pub(crate) rule: SdesRule,
    /// Epoch ms of the phone's answer.
    pub(crate) answered_at: i64,
}

/// One media side of the bridge.
struct Side {
    socket: RtpSocket,
    strict: StrictRtp,
    srtp: Option<SrtpSession>,
    format: LegFormat,
    rule: SdesRule,
    sealed: Vec<u8>,
    sdp_version: u64,
}

impl Side {
    fn new(
        ctx: &CallContext,
        socket: RtpSocket,
        answer: &Answer,
        srtp: Option<SrtpSession>,
        rule: SdesRule,
    ) -> Side {
        let now = Instant::now();
        let mut strict = StrictRtp::new(ctx.rtp, answer.remote, now);
        // Its 2xx confirmed the leg (as on an agent phone's leg).
        strict.confirm(now);
        Side {
            socket,
            strict,
            srtp,
            format: LegFormat {
                codec: answer.codec,
                audio_pt: answer.payload_type,
                event_pt: answer.telephone_event,
            },
            rule,
            sealed: Vec::with_capacity(200),
            sdp_version: 1,
        }
    }

    /// Sends one plain RTP packet to this side (protected first on an SRTP leg).
    fn send(&mut self, now: Instant, packet: &[u8]) {
        let Some(to) = self.strict.destination(now) else {
            return;
        };
        if let Some(wire) = super::media::protect(self.srtp.as_mut(), packet, &mut self.sealed) {
            let _ = self.socket.try_send_to(wire, to);
        }
    }

    /// A datagram from this side's socket: the plain packet when it is RTP of the negotiated
    /// types from the leg's source, else `None` (counted).
    fn accept<'d>(
        &mut self,
        ctx: &CallContext,
        now: Instant,
        data: &'d mut [u8],
        from: SocketAddr,
    ) -> Option<RtpPacket<'d>> {
        let f = self.format;
        let types = (f.audio_pt, f.event_pt);
        super::media::check_rtp(
            ctx,
            self.srtp.as_mut(),
            &mut self.strict,
            types,
            now,
            data,
            from,
        )
        .ok()
    }

    /// Answers a re-INVITE (hold, a new address, new SDES keys) keeping the codec the bridge
    /// relays; anything else is refused with 488 and the session goes on as it was.
    async fn reinvite(
        &mut self,
        leg: &OutLeg,
        id: ReInviteId,
        offer: Option<&[u8]>,
        ip: IpAddr,
        session: u64,
    ) {
        let codec = [self.format.codec];
        let srtp = &mut self.srtp;
        let answer = offer.map(|o| {
            SessionOffer::parse(o)
                .and_then(|o| sdp::negotiate_sdes(&o, &codec, self.rule))
                .and_then(|mut a| {
                    srtp::renegotiate(srtp.as_mut(), a.srtp.as_mut())?;
                    Ok(a)
                })
        });
        match answer {
            Some(Ok(a)) if a.payload_type == self.format.audio_pt => {
                self.strict.on_sdp(Instant::now(), a.remote);
                self.sdp_version += 1;
                let port = self.socket.local_addr().map_or(0, |s| s.port());
                let body = a.to_sdp(ip, port, session, self.sdp_version);
                leg.answer_reinvite(id, body.into_bytes()).await;
            }
            _ => leg.reject_reinvite(id, 488, "Not Acceptable Here").await,
        }
    }
}

/// How the dial ended, as the record keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialled {
    pub(crate) outcome: OutboundOutcome,
    pub(crate) sip_status: Option<u16>,
}

fn failure_outcome(status: u16) -> OutboundOutcome {
    match status {
        486 | 600 => OutboundOutcome::Busy,
        408 | 480 | 487 => OutboundOutcome::NoAnswer,
        401 | 403 | 404 | 407 | 484 | 488 | 603 => OutboundOutcome::Rejected,
        _ => OutboundOutcome::TrunkFailed,
    }
}

/// The address our media sockets bind on: the SIP socket's, loopback when that is unspecified.
pub(crate) fn media_ip(ctx: &CallContext) -> IpAddr {
    let ip = ctx.sip.udp_addr().ip();
    if ip.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        ip
    }
}

/// Records a dial about to start (`dialled` and `caller_id` from the trunk); returns its id.
pub(crate) async fn record_start(
    ctx: &CallContext,
    trunk: &Trunk,
    mut record: NewOutboundCall,
) -> Result<String, crate::store::StoreError> {
    record.dialled = trunk.dial_string(&record.number);
    record.caller_id = Some(trunk.caller_id.clone());
    ctx.store.insert_outbound_call(&record).await
}

/// Completes the record of a dial (a failure to write is logged: the call itself is over).
pub(crate) async fn record_end(ctx: &CallContext, id: &str, end: OutboundEnd) {
    if let Err(e) = ctx.store.finish_outbound_call(id, &end).await {
        tracing::warn!(error = %e, outbound = %id, "cannot complete the outbound call's record");
    }
}

/// Dials `number` for the agent on `phone` and bridges them until either hangs up (or the
/// server stops); both legs are ended when this returns, and the record `id` is completed.
pub(crate) async fn dial_and_bridge(
    ctx: &CallContext,
    trunk: &Trunk,
    phone: AgentPhone,
    id: Option<&str>,
    number: &str,
) -> Dialled {
    let agent_answered_at = Some(phone.answered_at);
    let dialled = trunk.dial_string(number);
    let span = tracing::info_span!("dial_out", outbound = id.unwrap_or("-"));
    let (result, answered_at, hangup_by) = run(ctx, trunk, phone, dialled.as_deref())
        .instrument(span.clone())
        .await;
    tracing::info!(parent: &span, outcome = result.outcome.as_str(), status = ?result.sip_status, "outbound call over");
    if let Some(id) = id {
        let end = OutboundEnd {
            agent_answered_at,
            answered_at,
            ended_at: now_ms(),
            outcome: result.outcome,
            sip_status: result.sip_status,
            hangup_by,
        };
        record_end(ctx, id, end).await;
    }
    result
}

async fn run(
    ctx: &CallContext,
    trunk: &Trunk,
    mut phone: AgentPhone,
    dialled: Option<&str>,
) -> (Dialled, Option<i64>, Option<&'static str>) {
    let fail = |outcome, status| {
        (
            Dialled {
                outcome,
                sip_status: status,
            },
            None,
            None,
        )
    };
    let Some(dialled) = dialled else {
        phone.leg.hangup().await;
        return fail(OutboundOutcome::Rejected, Some(484));
    };
    let ip = media_ip(ctx);
    let Ok(trunk_socket) = RtpSocket::bind(SocketAddr::new(ip, 0)) else {
        phone.leg.hangup().await;
        return fail(OutboundOutcome::TrunkFailed, None);
    };
    let port = trunk_socket.local_addr().map_or(0, |a| a.port());
    let session = rand::random::<u32>().into();
    let plain = PhoneOffer {
        sdes: None,
        rule: SdesRule::PLAIN,
    };
    let offer = plain.sdp((ip, port), session, phone.answer.codec, Direction::SendRecv);
    let invite = OutgoingInvite {
        extension: dialled.to_string(),
        trunk: Some(trunk.route.clone()),
        from_user: trunk.caller_id.clone(),
        from_display: trunk.caller_name.clone(),
        sdp: offer.into_bytes(),
        call_info: vec![(
            "P-Asserted-Identity".into(),
            format!("<sip:{}@{}>", trunk.caller_id, trunk.route.domain),
        )],
    };
    let Ok(mut customer) = ctx.sip.invite(invite).await else {
        phone.leg.hangup().await;
        return fail(OutboundOutcome::TrunkFailed, Some(503));
    };
    let mut agent = Side::new(
        ctx,
        phone.socket,
        &phone.answer,
        phone.srtp.take(),
        phone.rule,
    );
    // The ringing tone goes on the agent's stream; the bridge continues it without a jump.
    let now = Instant::now();
    let mut sender = RtpSender::new(
        rand::random(),
        agent.format.audio_pt,
        rand::random(),
        rand::random(),
        now,
    );
    let mut ringback = Ringback::new();
    let (mut frame, mut out) = (Vec::with_capacity(160), Vec::with_capacity(200));
    let mut buf = vec![0u8; 2048];
    let ring_until = tokio::time::Instant::now() + trunk.ring_timeout;
    let answer = loop {
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(sender.poll_timeout())) => {
                let now = Instant::now();
                for _ in 0..sender.due(now) {
                    frame.clear();
                    out.clear();
                    ringback.next_frame(agent.format.codec, &mut frame);
                    sender.build(&frame, false, &mut out);
                    agent.send(now, &out);
                }
            }
            ev = customer.events.recv() => match ev {
                Some(OutEvent::Answered { sdp }) => break sdp,
                Some(OutEvent::Ringing | OutEvent::Info { .. } | OutEvent::ReInvite { .. }) => {}
                Some(OutEvent::Failed { status, .. }) => {
                    phone.leg.hangup().await;
                    return fail(failure_outcome(status), Some(status));
                }
                _ => {
                    phone.leg.hangup().await;
                    return fail(OutboundOutcome::TrunkFailed, None);
                }
            },
            ev = phone.events.recv() => match ev {
                Some(OutEvent::ReInvite { id, offer }) => {
                    agent.reinvite(&phone.leg, id, offer.as_deref(), ip, session).await;
                }
                Some(OutEvent::Info { .. } | OutEvent::Ringing | OutEvent::Answered { .. }) => {}
                _ => {
                    customer.leg.cancel().await;
                    return fail(OutboundOutcome::AgentLeft, None);
                }
            },
            r = agent.socket.recv_from(&mut buf) => {
                // Nothing of the agent's goes anywhere yet; strict RTP still learns the source.
                if let Ok((n, from)) = r {
                    let _ = agent.accept(ctx, Instant::now(), &mut buf[..n], from);
                }
            }
            _ = tokio::time::sleep_until(ring_until) => {
                customer.leg.cancel().await;
                phone.leg.hangup().await;
                return fail(OutboundOutcome::NoAnswer, None);
            }
            _ = ctx.shutdown.cancelled() => {
                customer.leg.cancel().await;
                phone.leg.hangup().await;
                return fail(OutboundOutcome::Interrupted, None);
            }
        }
    };
    let answered_at = Some(now_ms());
    let (cust_answer, _) = match plain.read_answer(answer.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "the trunk answered with unusable SDP");
            customer.leg.hangup().await;
            phone.leg.hangup().await;
            return (
                Dialled {
                    outcome: OutboundOutcome::Rejected,
                    sip_status: Some(488),
                },
                answered_at,
                Some("server"),
            );
        }
    };
    let mut cust = Side::new(ctx, trunk_socket, &cust_answer, None, SdesRule::PLAIN);
    let mut to_customer = RtpRelay::new(agent.format, cust.format, rand::random(), rand::random());
    let mut to_agent = RtpRelay::new(
        cust.format,
        agent.format,
        sender.ssrc(),
        sender.next_sequence(),
    )
    .continuing(sender.next_timestamp());
    tracing::info!("customer answered: bridged");
    let mut buf2 = vec![0u8; 2048];
    let hangup_by = loop {
        tokio::select! {
            r = agent.socket.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                let now = Instant::now();
                if let Some(p) = agent.accept(ctx, now, &mut buf[..n], from) {
                    out.clear();
                    if to_customer.relay(&p, &mut out) != Relayed::Dropped {
                        cust.send(now, &out);
                    }
                }
            }
            r = cust.socket.recv_from(&mut buf2) => {
                let Ok((n, from)) = r else { continue };
                let now = Instant::now();
                if let Some(p) = cust.accept(ctx, now, &mut buf2[..n], from) {
                    out.clear();
                    if to_agent.relay(&p, &mut out) != Relayed::Dropped {
                        agent.send(now, &out);
                    }
                }
            }
            ev = phone.events.recv() => match ev {
                Some(OutEvent::ReInvite { id, offer }) => {
                    agent.reinvite(&phone.leg, id, offer.as_deref(), ip, session).await;
                }
                Some(OutEvent::Info { .. } | OutEvent::Ringing | OutEvent::Answered { .. }) => {}
                _ => {
                    customer.leg.hangup().await;
                    break "agent";
                }
            },
            ev = customer.events.recv() => match ev {
                Some(OutEvent::ReInvite { id, offer }) => {
                    cust.reinvite(&customer.leg, id, offer.as_deref(), ip, session).await;
                }
                Some(OutEvent::Info { .. } | OutEvent::Ringing | OutEvent::Answered { .. }) => {}
                _ => {
                    phone.leg.hangup().await;
                    break "customer";
                }
            },
            _ = ctx.shutdown.cancelled() => {
                customer.leg.hangup().await;
                phone.leg.hangup().await;
                break "server";
            }
        }
    };
    (
        Dialled {
            outcome: OutboundOutcome::Answered,
            sip_status: None,
        },
        answered_at,
        Some(hangup_by),
    )
}

/// The agent's codec first in our offer to the trunk (no transcoding when the customer takes
/// it); kept for the tests of the offer.
#[cfg(test)]
fn offer_for(codec: crate::media::g711::G711) -> String {
    PhoneOffer {
        sdes: None,
        rule: SdesRule::PLAIN,
    }
    .sdp(
        (IpAddr::from([127, 0, 0, 1]), 4000),
        1,
        codec,
        Direction::SendRecv,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::g711::G711;

    #[test]
    fn failures_map_to_what_the_desk_and_the_retry_rule_need() {
        assert_eq!(failure_outcome(486), OutboundOutcome::Busy);
        assert_eq!(failure_outcome(480), OutboundOutcome::NoAnswer);
        assert_eq!(failure_outcome(408), OutboundOutcome::NoAnswer);
        assert_eq!(failure_outcome(404), OutboundOutcome::Rejected);
        assert_eq!(failure_outcome(403), OutboundOutcome::Rejected);
        assert_eq!(failure_outcome(503), OutboundOutcome::TrunkFailed);
        assert_eq!(failure_outcome(500), OutboundOutcome::TrunkFailed);
    }

    #[test]
    fn the_trunk_gets_plain_rtp_with_the_agents_law_first() {
        let sdp = offer_for(G711::Pcma);
        assert!(sdp.contains("m=audio 4000 RTP/AVP 8 0 101\r\n"), "{sdp}");
        assert!(!sdp.contains("a=crypto"));
    }
}
