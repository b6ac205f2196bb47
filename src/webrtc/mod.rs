//! The browser leg's WebRTC peer, sans-IO: webrtc-rs's `rtc` peer connection set up for one
//! G.711 audio track (ICE host candidate, DTLS-SRTP, RTCP reports), with the few operations the
//! call task needs. No sockets, no clock: every input takes `now`; the call task owns the UDP
//! socket and feeds datagrams in, sends what `poll_transmit` gives out (docs/webrtc.md).

pub mod client;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_PCMA, MIME_TYPE_PCMU, MIME_TYPE_TELEPHONE_EVENT, MediaEngine,
};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::statistics::StatsSelector;

use crate::media::g711::G711;
use crate::media::relay::LegFormat;
use crate::media::rtp::RtpPacket;

/// Our telephone-event payload type when we offer (answers follow the browser's numbering).
const EVENT_PT: u8 = 101;

/// Why the browser leg could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebrtcError {
    /// The session description was not usable.
    #[error("session description: {0}")]
    Sdp(String),
    /// The browser offered neither PCMU nor PCMA.
    #[error("the browser offered no G.711 codec")]
    NoG711,
    /// The WebRTC stack refused an operation.
    #[error("webrtc: {0}")]
    Rtc(String),
}

fn rtc_err(e: impl std::fmt::Display) -> WebrtcError {
    WebrtcError::Rtc(e.to_string())
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// ICE and DTLS not finished yet.
    Connecting,
    /// Media can flow.
    Connected,
    /// ICE or DTLS failed, or the peer closed the connection.
    Failed,
}

/// Call quality of the browser leg (percent, milliseconds): RTCP figures of both directions and
/// the ICE round trip.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quality {
    /// Packets we sent that the browser reported lost (cumulative).
    pub packets_lost: Option<i64>,
    /// Fraction lost in the last report interval, in percent.
    pub loss_pct: Option<f64>,
    /// Interarrival jitter the browser measured on our stream.
    pub jitter_ms: Option<f64>,
    /// Round-trip time of the ICE consent checks (STUN on the media 5-tuple).
    pub rtt_ms: Option<f64>,
    /// Packets we received from the browser.
    pub packets_received: Option<i64>,
}

/// One WebRTC peer connection carrying one G.711 audio track both ways.
pub struct BrowserPeer {
    /// Only ever used through `&mut self` (`SyncWrapper` makes the peer `Sync` for free). Boxed:
    /// the connection is ~8 KiB, and a call holds its peer inline in the call task's state.
    pc: Box<sync_wrapper::SyncWrapper<RTCPeerConnection>>,
    sender: RTCRtpSenderId,
    ssrc: u32,
    local: SocketAddr,
    format: Option<LegFormat>,
    state: PeerState,
    prefer: G711,
}

impl BrowserPeer {
    /// A peer whose host candidate is `candidate` (what the other side sends to) and whose
    /// socket is bound at `local`; `prefer` is the law offered first (the caller's).
    fn build(
        now: Instant,
        local: SocketAddr,
        candidate: SocketAddr,
        prefer: G711,
    ) -> Result<BrowserPeer, WebrtcError> {
        let mut engine = MediaEngine::default();
        let other = match prefer {
            G711::Pcmu => G711::Pcma,
            G711::Pcma => G711::Pcmu,
        };
        for (law, fmtp) in [(prefer, ""), (other, "")] {
            engine
                .register_codec(
                    codec_parameters(law_mime(law), law.payload_type(), fmtp),
                    RtpCodecKind::Audio,
                )
                .map_err(rtc_err)?;
        }
        engine
            .register_codec(
                codec_parameters(MIME_TYPE_TELEPHONE_EVENT, EVENT_PT, "0-15"),
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err)?;
        // RTCP sender and receiver reports only: they carry the quality figures. NACK,
        // transport-wide congestion control and simulcast headers do nothing for a G.711 voice
        // leg and cost CPU on every packet (BENCHMARKS.md, issue 6).
        let registry = configure_rtcp_reports(Registry::new());
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(rtc_err)?;
        let ssrc = rand::random::<u32>();
        let track = MediaStreamTrack::new(
            "firstline".to_owned(),
            "firstline-audio".to_owned(),
            "caller".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: codec_parameters(law_mime(prefer), prefer.payload_type(), "").rtp_codec,
                ..Default::default()
            }],
        );
        let sender = pc.add_track(track).map_err(rtc_err)?;
        // Offer both laws and telephone-event, not only the track's codec.
        let preferences = vec![
            codec_parameters(law_mime(prefer), prefer.payload_type(), ""),
            codec_parameters(law_mime(other), other.payload_type(), ""),
            codec_parameters(MIME_TYPE_TELEPHONE_EVENT, EVENT_PT, "0-15"),
        ];
        if let Some(mut t) = pc.rtp_transceiver(sender.into()) {
            t.set_codec_preferences(preferences).map_err(rtc_err)?;
        }
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: candidate.ip().to_string(),
                port: candidate.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(rtc_err)?;
        let init = RTCIceCandidate::from(&host).to_json().map_err(rtc_err)?;
        pc.add_local_candidate(init).map_err(rtc_err)?;
        Ok(BrowserPeer {
            pc: Box::new(sync_wrapper::SyncWrapper::new(pc)),
            sender,
            ssrc,
            local,
            format: None,
            state: PeerState::Connecting,
            prefer,
        })
    }

    /// Answers a browser's offer: the server side of the browser leg.
    pub fn answer(
        now: Instant,
        offer_sdp: &str,
        local: SocketAddr,
        candidate: SocketAddr,
        prefer: G711,
    ) -> Result<(BrowserPeer, String), WebrtcError> {
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())
            .map_err(|e| WebrtcError::Sdp(e.to_string()))?;
        let mut peer = BrowserPeer::build(now, local, candidate, prefer)?;
        peer.pc
            .get_mut()
            .set_remote_description(now, offer)
            .map_err(|e| WebrtcError::Sdp(e.to_string()))?;
        let answer = peer.pc.get_mut().create_answer(None).map_err(rtc_err)?;
        peer.pc
            .get_mut()
            .set_local_description(now, answer)
            .map_err(rtc_err)?;
        peer.resolve_format()?;
        let sdp = peer.local_sdp()?;
        Ok((peer, sdp))
    }

    /// Makes an offer, as a browser would: the in-process peer of tests and benchmarks.
    pub fn offer(
        now: Instant,
        local: SocketAddr,
        candidate: SocketAddr,
        prefer: G711,
    ) -> Result<(BrowserPeer, String), WebrtcError> {
        let mut peer = BrowserPeer::build(now, local, candidate, prefer)?;
        let offer = peer.pc.get_mut().create_offer(None).map_err(rtc_err)?;
        peer.pc
            .get_mut()
            .set_local_description(now, offer)
            .map_err(rtc_err)?;
        let sdp = peer.local_sdp()?;
        Ok((peer, sdp))
    }

    /// Applies the answer to our offer.
    pub fn accept_answer(&mut self, now: Instant, answer_sdp: &str) -> Result<(), WebrtcError> {
        let answer = RTCSessionDescription::answer(answer_sdp.to_owned())
            .map_err(|e| WebrtcError::Sdp(e.to_string()))?;
        self.pc
            .get_mut()
            .set_remote_description(now, answer)
            .map_err(|e| WebrtcError::Sdp(e.to_string()))?;
        self.resolve_format()
    }

    fn local_sdp(&mut self) -> Result<String, WebrtcError> {
        self.pc
            .get_mut()
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| WebrtcError::Rtc("no local description".to_owned()))
    }

    /// Finds the negotiated audio codec and telephone-event payload types.
    fn resolve_format(&mut self) -> Result<(), WebrtcError> {
        let mut sender = self
            .pc
            .get_mut()
            .rtp_sender(self.sender)
            .ok_or_else(|| WebrtcError::Rtc("no RTP sender".to_owned()))?;
        let codecs = &sender.get_parameters().rtp_parameters.codecs;
        let find = |mime: &str| {
            codecs
                .iter()
                .find(|c| {
                    c.rtp_codec.mime_type.eq_ignore_ascii_case(mime)
                        && c.rtp_codec.clock_rate == 8000
                })
                .map(|c| c.payload_type)
        };
        let other = match self.prefer {
            G711::Pcmu => G711::Pcma,
            G711::Pcma => G711::Pcmu,
        };
        let (codec, audio_pt) = match (find(law_mime(self.prefer)), find(law_mime(other))) {
            (Some(pt), _) => (self.prefer, pt),
            (None, Some(pt)) => (other, pt),
            (None, None) => return Err(WebrtcError::NoG711),
        };
        self.format = Some(LegFormat {
            codec,
            audio_pt,
            event_pt: find(MIME_TYPE_TELEPHONE_EVENT),
        });
        Ok(())
    }

    /// The negotiated media of this leg.
    pub fn format(&self) -> Option<LegFormat> {
        self.format
    }

    /// Our SSRC on this leg.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Where the connection is.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// Feeds one datagram received on our socket from `from`.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8], from: SocketAddr) {
        let read = self.pc.get_mut().handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local,
                peer_addr: from,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(data),
        });
        if let Err(e) = read {
            tracing::debug!(error = %e, %from, "browser leg datagram refused");
        }
        self.drain_events();
    }

    /// The next datagram to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(BytesMut, SocketAddr)> {
        self.pc
            .get_mut()
            .poll_write()
            .map(|m| (m.message, m.transport.peer_addr))
    }

    /// The next RTP packet the browser sent (decrypted); RTCP is consumed by the stack.
    pub fn poll_rtp(&mut self) -> Option<rtc::rtp::Packet> {
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.get_mut().poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = message {
                return Some(packet);
            }
        }
        None
    }

    /// When the stack next needs `handle_timeout` (ICE checks, DTLS retransmits, RTCP reports).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.get_mut().poll_timeout()
    }

    /// Tells the stack that `now` has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.pc.get_mut().handle_timeout(now) {
            tracing::debug!(error = %e, "browser leg timeout handling");
        }
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.pc.get_mut().poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = ev {
                tracing::debug!(state = %s, "browser leg connection state");
                self.state = match s {
                    RTCPeerConnectionState::Connected => PeerState::Connected,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        PeerState::Failed
                    }
                    _ => self.state,
                };
            }
        }
    }

    /// Sends one RTP packet already stamped for this leg (payload type, sequence, timestamp);
    /// the SSRC becomes ours. Dropped (false) before the connection is up.
    pub fn send_rtp(&mut self, now: Instant, packet: &RtpPacket<'_>) -> bool {
        if self.state != PeerState::Connected {
            return false;
        }
        let ssrc = self.ssrc;
        let Some(mut sender) = self.pc.get_mut().rtp_sender(self.sender) else {
            return false;
        };
        let out = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker: packet.marker,
                payload_type: packet.payload_type,
                sequence_number: packet.sequence,
                timestamp: packet.timestamp,
                ssrc,
                ..Default::default()
            },
            payload: Bytes::copy_from_slice(packet.payload),
        };
        match sender.write_rtp(now, out) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "RTP to the browser refused");
                false
            }
        }
    }

    /// Quality of both directions: what the browser reports about our stream in its receiver
    /// reports (RTCP), what we measure on its stream (the figures of our own receiver reports),
    /// and the round trip of the ICE consent checks. Loss and jitter are the worse direction.
    pub fn quality(&mut self, now: Instant) -> Quality {
        use rtc::statistics::report::RTCStatsReportEntry;
        let report = self.pc.get_mut().get_stats(now, StatsSelector::None);
        let mut q = Quality::default();
        let worse = |a: Option<f64>, b: f64| Some(a.map_or(b, |a| a.max(b)));
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::RemoteInboundRtp(r) => {
                    let rx = &r.received_rtp_stream_stats;
                    q.loss_pct = worse(q.loss_pct, r.fraction_lost * 100.0);
                    // RTCP jitter is in timestamp units: 8 per millisecond at 8 kHz.
                    q.jitter_ms = worse(q.jitter_ms, rx.jitter / 8.0);
                }
                RTCStatsReportEntry::InboundRtp(r) => {
                    let rx = &r.received_rtp_stream_stats;
                    let received = i64::try_from(rx.packets_received).unwrap_or(i64::MAX);
                    let lost = rx.packets_lost.max(0);
                    q.packets_received = Some(received);
                    q.packets_lost = Some(lost);
                    if received + lost > 0 {
                        q.loss_pct =
                            worse(q.loss_pct, lost as f64 * 100.0 / (received + lost) as f64);
                    }
                    q.jitter_ms = worse(q.jitter_ms, rx.jitter / 8.0);
                }
                RTCStatsReportEntry::IceCandidatePair(p)
                    if p.nominated && p.responses_received > 0 =>
                {
                    q.rtt_ms = Some(p.current_round_trip_time * 1000.0);
                }
                _ => {}
            }
        }
        q
    }

    /// Closes the connection (a DTLS close alert goes out with the next `poll_transmit`).
    pub fn close(&mut self) {
        if let Err(e) = self.pc.get_mut().close() {
            tracing::debug!(error = %e, "closing browser leg");
        }
        self.state = PeerState::Failed;
    }
}

fn law_mime(law: G711) -> &'static str {
    match law {
        G711::Pcmu => MIME_TYPE_PCMU,
        G711::Pcma => MIME_TYPE_PCMA,
    }
}

fn codec_parameters(mime: &str, payload_type: u8, fmtp: &str) -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate: 8000,
            channels: 1,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type,
    }
}
