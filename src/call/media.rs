//! The caller's RTP leg (I/O driver): one UDP socket, SDES-SRTP when negotiated (unprotect
//! first, protect last: `media::srtp`), strict RTP (`media::strict` decides which source feeds
//! the call and when we may send), 20 ms pacing, and DTMF from RFC 4733 events and in-band
//! tones. Frames of prompts and hold music are built ahead and sent at their slots by the
//! pacer (`call::pacer`) on plain RTP legs. The protocol logic lives in `crate::media`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::DtmfMode;
use crate::media::dtmf::{InbandDetector, Rfc4733Receiver};
use crate::media::g711::G711;
use crate::media::relay::LegFormat;
use crate::media::rtp::{RtpPacket, RtpSender};
use crate::media::sdp::{Answer, Direction};
use crate::media::srtp::{self, SrtpSession};
use crate::media::strict::{DropReason, StrictConfig, StrictRtp, Verdict};

use super::CallContext;
use super::pacer::{PacedStream, Pacer};
use super::rtp_socket::RtpSocket;

/// How far ahead frames are built for the pacer, and the lead below which the call wakes to
/// build more: a task playing a prompt wakes every ~60 ms instead of every 20, and may be up
/// to 40 ms late before a frame would miss its slot.
const AHEAD: Duration = Duration::from_millis(100);
const AHEAD_LOW: Duration = Duration::from_millis(40);

/// The most audio a recording keeps (120 s at 8 kHz), however fast packets arrive.
pub(super) const MAX_RECORDING_SAMPLES: usize = 120 * 8000;

/// What an incoming datagram meant to the call.
pub(super) enum Inbound {
    /// Nothing for the call (audio consumed, or the packet was ignored).
    Nothing,
    /// A DTMF digit and where it came from.
    Digit(char, DtmfMode),
}

/// The RTP leg of one call.
pub(super) struct MediaLeg {
    socket: Arc<RtpSocket>,
    /// Frames handed to the pacer (plain RTP legs); boxed, the checkpoints are its only room.
    paced: Option<Box<PacedStream>>,
    /// The frames being built go to the pacer (set by [`Self::due`]).
    ahead: bool,
    codec: G711,
    audio_pt: u8,
    event_pt: Option<u8>,
    /// Which source feeds the call, where our RTP goes, and from when.
    strict: StrictRtp,
    /// SDES-SRTP keys, when the answer has them: every packet in and out goes through it.
    /// Boxed: a plain RTP call does not carry the contexts' room.
    srtp: Option<Box<SrtpSession>>,
    /// The SRTP packet being sent.
    sealed: Vec<u8>,
    /// Our frames are held back (neither sent nor taken from the playback) until the call is
    /// confirmed: a spoofed INVITE gets no stream, and the caller hears prompts from the start.
    held: bool,
    sender: RtpSender,
    events: Rfc4733Receiver,
    inband: InbandDetector,
    /// Out-of-band DTMF was seen: stop running the tone detector on the audio.
    inband_off: bool,
    /// We may send (the caller has not put us on hold).
    sending: bool,
    /// The caller should be sending to us (not inactive or sendonly-from-us).
    receiving: bool,
    pcm: Vec<i16>,
    out: Vec<u8>,
    /// When the last valid RTP packet arrived (dead-peer detection).
    pub(super) last_rx: Instant,
}

impl MediaLeg {
    /// Binds a socket for the call's RTP on the address the INVITE came in on.
    pub(super) async fn bind(
        local_ip: IpAddr,
        answer: &Answer,
        strict: StrictConfig,
        pacer: &Pacer,
        now: Instant,
    ) -> io::Result<Self> {
        let srtp = match answer.srtp.as_ref().map(|k| k.session()).transpose() {
            Ok(s) => s.map(Box::new),
            Err(e) => return Err(io::Error::other(e)),
        };
        let socket = Arc::new(RtpSocket::bind(SocketAddr::new(local_ip, 0))?);
        // An SRTP packet is protected under its index once: a revoked one is never rebuilt.
        let paced = srtp
            .is_none()
            .then(|| pacer.stream(Arc::clone(&socket)).map(Box::new))
            .flatten();
        let ssrc = rand::random::<u32>();
        let first_seq = rand::random::<u16>();
        let first_ts = rand::random::<u32>();
        Ok(MediaLeg {
            socket,
            paced,
            ahead: false,
            codec: answer.codec,
            audio_pt: answer.payload_type,
            event_pt: answer.telephone_event,
            strict: StrictRtp::new(strict, answer.remote, now),
            srtp,
            sealed: Vec::with_capacity(200),
            held: true,
            sender: RtpSender::new(ssrc, answer.payload_type, first_seq, first_ts, now),
            events: Rfc4733Receiver::new(),
            inband: InbandDetector::new(),
            inband_off: false,
            sending: we_send(answer.direction),
            receiving: we_receive(answer.direction),
            pcm: Vec::with_capacity(320),
            out: Vec::with_capacity(200),
            last_rx: now,
        })
    }

    /// Starts the 20 ms clock now (the first frame is due at once): called when the call is
    /// answered, so time spent before (database, ringing) is not made up in a burst.
    pub(super) fn start_clock(&mut self, now: Instant) {
        self.sender = RtpSender::new(
            self.sender.ssrc(),
            self.audio_pt,
            self.sender.next_sequence(),
            self.sender.next_timestamp(),
            now,
        );
    }

    /// The caller ACKed our 2xx: the call is confirmed (RFC 3261 §13.3.1.4).
    pub(super) fn on_ack(&mut self, now: Instant) {
        self.strict.confirm(now);
        self.held_back(now);
    }

    /// Whether our frames must still wait (not confirmed, or symmetric RTP still waiting for the
    /// caller's first packet). When the wait ends the 20 ms clock starts at once.
    pub(super) fn held_back(&mut self, now: Instant) -> bool {
        if self.held && self.strict.may_send(now) {
            self.held = false;
            self.start_clock(now);
        }
        self.held
    }

    /// Lets the frame slots due at `now` pass unsent while held back.
    pub(super) fn skip_due(&mut self, now: Instant) {
        self.sender.skip_due(now);
    }

    /// Takes the caller's stream over from a relay at sequence `seq` and timestamp `ts` (hold
    /// music in a bridged call), the first frame due at `now`.
    pub(super) fn continue_from(&mut self, seq: u16, ts: Option<u32>, now: Instant) {
        self.revoke();
        let ts = ts.unwrap_or_else(|| self.sender.next_timestamp());
        self.sender = RtpSender::new(self.sender.ssrc(), self.audio_pt, seq, ts, now);
        self.sender.set_talkspurt_start();
    }

    /// The local RTP port (for our SDP answer).
    pub(super) fn local_port(&self) -> io::Result<u16> {
        Ok(self.socket.local_addr()?.port())
    }

    /// Waits for the next datagram (mutable: an SRTP packet is unprotected in place).
    pub(super) async fn recv<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> io::Result<(&'b mut [u8], SocketAddr)> {
        let (n, from) = self.socket.recv_from(buf).await?;
        Ok((&mut buf[..n], from))
    }

    /// Checks a re-INVITE's answer against the leg's SRTP (the security cannot change; new
    /// keys are taken): on `Ok` the answer carries our key and [`Self::renegotiate`] may follow.
    pub(super) fn rekey(&mut self, answer: &mut Answer) -> Result<(), srtp::SrtpRefusal> {
        srtp::renegotiate(self.srtp.as_deref_mut(), answer.srtp.as_mut())
    }

    /// Applies a re-negotiated answer (re-INVITE: hold, unhold, new address), after
    /// [`Self::rekey`].
    pub(super) fn renegotiate(&mut self, now: Instant, answer: &Answer) {
        self.revoke();
        self.strict.on_sdp(now, answer.remote);
        self.codec = answer.codec;
        self.event_pt = answer.telephone_event;
        if answer.payload_type != self.audio_pt {
            // Same SSRC, continuing sequence and timestamp; the first frame at the next slot.
            self.audio_pt = answer.payload_type;
            self.sender = RtpSender::new(
                self.sender.ssrc(),
                answer.payload_type,
                self.sender.next_sequence(),
                self.sender.next_timestamp(),
                self.sender.poll_timeout(),
            );
        }
        let send = we_send(answer.direction);
        if send && !self.sending {
            self.sender.set_talkspurt_start();
        }
        self.sending = send;
        self.receiving = we_receive(answer.direction);
        // The silence clock restarts with every new session description.
        self.last_rx = now;
    }

    /// Whether silence from the caller means something is wrong (not when they put us on hold).
    pub(super) fn expects_rtp(&self) -> bool {
        self.receiving
    }

    /// Handles one datagram from `from`; decoded audio is appended to `tap` when given.
    pub(super) fn on_datagram(
        &mut self,
        ctx: &CallContext,
        now: Instant,
        data: &mut [u8],
        from: SocketAddr,
        tap: Option<&mut Vec<i16>>,
    ) -> Inbound {
        let Some(packet) = self.accept(ctx, now, data, from) else {
            return Inbound::Nothing;
        };
        if Some(packet.payload_type) == self.event_pt {
            return match self.events.on_packet(now, packet.timestamp, packet.payload) {
                Some(d) => Inbound::Digit(d, DtmfMode::Rfc4733),
                None => Inbound::Nothing,
            };
        }
        if self.inband_off && tap.is_none() {
            return Inbound::Nothing;
        }
        self.pcm.clear();
        self.codec.decode_into(packet.payload, &mut self.pcm);
        if let Some(tap) = tap {
            // Bounded whatever the caller sends: a flood cannot grow a recording past its limit.
            let room = MAX_RECORDING_SAMPLES.saturating_sub(tap.len());
            tap.extend_from_slice(&self.pcm[..room.min(self.pcm.len())]);
        }
        if self.inband_off {
            return Inbound::Nothing;
        }
        // A 20 ms packet holds at most one press (a press lasts at least 40 ms).
        match self.inband.push(&self.pcm).first() {
            Some(&d) => Inbound::Digit(d, DtmfMode::Inband),
            None => Inbound::Nothing,
        }
    }

    /// Checks a datagram: valid RTP (authenticated and decrypted in place on an SRTP leg) of a
    /// negotiated payload type from the caller's source (`media::strict`). Anything else is
    /// counted by reason and dropped.
    pub(super) fn accept<'d>(
        &mut self,
        ctx: &CallContext,
        now: Instant,
        data: &'d mut [u8],
        from: SocketAddr,
    ) -> Option<RtpPacket<'d>> {
        let types = (self.audio_pt, self.event_pt);
        let srtp = self.srtp.as_deref_mut();
        let packet = match check_rtp(ctx, srtp, &mut self.strict, types, now, data, from) {
            Ok(p) => p,
            Err(heard) => {
                // Comfort noise, muxed RTCP: not for us, but the caller's source is alive.
                if heard {
                    self.last_rx = now;
                }
                return None;
            }
        };
        self.last_rx = now;
        if self.held {
            // RTP from the SDP's address confirms the call: the prompts start now.
            self.held_back(now);
        }
        Some(packet)
    }

    /// The leg's negotiated format (for the bridge).
    pub(super) fn format(&self) -> LegFormat {
        LegFormat {
            codec: self.codec,
            audio_pt: self.audio_pt,
            event_pt: self.event_pt,
        }
    }

    /// Our stream's SSRC, next sequence number and next timestamp (the bridge continues them;
    /// frames built ahead are taken back first, so the bridge follows what was sent).
    pub(super) fn stream_position(&mut self) -> (u32, u16, u32) {
        self.revoke();
        (
            self.sender.ssrc(),
            self.sender.next_sequence(),
            self.sender.next_timestamp(),
        )
    }

    /// Sends a ready RTP packet to the caller (bridged media; protected on an SRTP leg). Never
    /// waits. Whether the packet went out (not when the caller holds us or the socket refused
    /// it).
    pub(super) fn send_raw(&mut self, now: Instant, packet: &[u8]) -> bool {
        self.revoke();
        if !self.sending {
            return false;
        }
        let Some(to) = self.strict.destination(now) else {
            return false;
        };
        let Some(packet) = protect(self.srtp.as_deref_mut(), packet, &mut self.sealed) else {
            return false;
        };
        match self.socket.try_send_to(packet, to) {
            Ok(_) => true,
            Err(e) => {
                if e.kind() != io::ErrorKind::WouldBlock {
                    tracing::debug!(error = %e, %to, "RTP send failed");
                }
                false
            }
        }
    }

    /// Stops in-band detection once out-of-band DTMF is known to work on this call.
    pub(super) fn disable_inband(&mut self) {
        self.inband_off = true;
    }

    /// When the call must wake to send or build the next frame: at its slot, or `AHEAD_LOW`
    /// before it when building `ahead` for the pacer.
    pub(super) fn poll_timeout(&self, ahead: bool) -> Instant {
        let slot = self.sender.poll_timeout();
        // Held back, the slots only pass: waking early would find nothing to do.
        if ahead && self.paced.is_some() && !self.held {
            slot.checked_sub(AHEAD_LOW).unwrap_or(slot)
        } else {
            slot
        }
    }

    /// Frames to build at `now` (0 when woken early): those due, and with `ahead` (the caller
    /// hears only what the call plays: prompts, music) those due within `AHEAD`.
    pub(super) fn due(&mut self, now: Instant, ahead: bool) -> usize {
        let Some(paced) = self.paced.as_ref().filter(|_| ahead) else {
            self.ahead = false;
            return self.sender.due(now);
        };
        // Once frames go to the pacer they all do (late ones too), so none overtakes another.
        self.ahead = true;
        // No further than the pacer's wheel reaches: a pacer far behind real time (a machine
        // short of CPU) gets fewer frames, and the slots it cannot reach pass unsent.
        let until = (now + AHEAD).min(paced.horizon());
        match until.checked_duration_since(now) {
            Some(lead) => self.sender.due_within(now, lead),
            None => {
                self.sender.skip_due(now);
                0
            }
        }
    }

    /// Takes back the frames built ahead and not sent yet (the audio changes): the stream goes
    /// on from the first of them, with no gap in the sequence numbers.
    pub(super) fn revoke(&mut self) {
        if let Some(sender) = self.paced.as_mut().and_then(|p| p.revoke()) {
            self.sender = sender;
        }
    }

    /// Marks the next packet as the start of a talkspurt (marker bit).
    pub(super) fn talkspurt(&mut self) {
        self.sender.set_talkspurt_start();
    }

    /// The codec frames must be in.
    pub(super) fn codec(&self) -> G711 {
        self.codec
    }

    /// Sends one 20 ms frame (already encoded in our codec), or hands it to the pacer when
    /// [`Self::due`] counted it for building ahead. Never waits: a full socket buffer drops
    /// the frame, as a late frame is worthless.
    pub(super) fn send_frame(&mut self, now: Instant, payload: &[u8]) {
        let to = self.strict.destination(now);
        let (true, Some(to)) = (self.sending, to) else {
            self.sender.skip_one();
            return;
        };
        let slot = self.sender.poll_timeout();
        self.out.clear();
        if let Some(paced) = self.paced.as_mut().filter(|_| self.ahead) {
            let before = self.sender.clone();
            self.sender.build(payload, false, &mut self.out);
            if paced.push(slot, to, &self.out, &before) {
                return;
            }
        } else {
            self.sender.build(payload, false, &mut self.out);
        }
        let Some(packet) = protect(self.srtp.as_deref_mut(), &self.out, &mut self.sealed) else {
            return;
        };
        if let Err(e) = self.socket.try_send_to(packet, to)
            && e.kind() != io::ErrorKind::WouldBlock
        {
            tracing::debug!(error = %e, %to, "RTP send failed");
        }
    }
}

/// An incoming datagram as plain RTP: as it is on a plain leg; on an SRTP leg authenticated,
/// checked against replay and decrypted in place (RFC 3711 §3.3), so strict RTP and the rest
/// only ever see authenticated packets. Muxed RTCP (RFC 5761 §4: payload types 64–95 as RTP
/// reads them) is dropped without trying: we send no RTCP on the SIP legs and take none.
/// The check every leg makes of a datagram (the caller's, an agent phone's, the trunk's):
/// valid RTP (authenticated and decrypted in place on an SRTP leg) of one of the leg's payload
/// `types` (audio, telephone-event) from the leg's source (`media::strict`). Anything else is
/// counted by reason; `Err(true)` when it was another payload type from the leg's source (the
/// peer is alive).
pub(super) fn check_rtp<'d>(
    ctx: &CallContext,
    srtp: Option<&mut SrtpSession>,
    strict: &mut StrictRtp,
    (audio_pt, event_pt): (u8, Option<u8>),
    now: Instant,
    data: &'d mut [u8],
    from: SocketAddr,
) -> Result<RtpPacket<'d>, bool> {
    let data = match unprotect(srtp, data) {
        Ok(plain) => plain,
        Err(reason) => {
            ctx.stats.count_rtp_drop(reason);
            return Err(false);
        }
    };
    let Ok(packet) = RtpPacket::parse(data) else {
        ctx.stats.count_rtp_drop(DropReason::Malformed);
        return Err(false);
    };
    if packet.payload_type != audio_pt && Some(packet.payload_type) != event_pt {
        ctx.stats.count_rtp_drop(DropReason::PayloadType);
        return Err(strict.heard(now, from));
    }
    if let Verdict::Drop(reason) = strict.on_packet(now, from, &packet.header()) {
        ctx.stats.count_rtp_drop(reason);
        return Err(false);
    }
    Ok(packet)
}

pub(super) fn unprotect<'d>(
    srtp: Option<&mut SrtpSession>,
    data: &'d mut [u8],
) -> Result<&'d [u8], DropReason> {
    let Some(srtp) = srtp else {
        return Ok(data);
    };
    if data.get(1).is_some_and(|b| (64..96).contains(&(b & 0x7f))) {
        return Err(DropReason::PayloadType);
    }
    match srtp.unprotect(data) {
        Ok(n) => Ok(&data[..n]),
        Err(e) => Err(e.drop_reason()),
    }
}

/// An outgoing RTP packet as it goes on the wire: itself on a plain leg, protected into
/// `sealed` on an SRTP leg (`None` when SRTP refuses: logged, the packet is not sent).
pub(super) fn protect<'p>(
    srtp: Option<&mut SrtpSession>,
    packet: &'p [u8],
    sealed: &'p mut Vec<u8>,
) -> Option<&'p [u8]> {
    let Some(srtp) = srtp else {
        return Some(packet);
    };
    match srtp.protect(packet, sealed) {
        Ok(()) => Some(sealed),
        Err(e) => {
            tracing::debug!(error = %e, "SRTP protect failed");
            None
        }
    }
}

/// Whether our answer lets us send (RFC 3264 §6.1: not when we answered recvonly or inactive).
fn we_send(direction: Direction) -> bool {
    matches!(direction, Direction::SendRecv | Direction::SendOnly)
}

/// Whether our answer expects RTP from the caller.
fn we_receive(direction: Direction) -> bool {
    matches!(direction, Direction::SendRecv | Direction::RecvOnly)
}
