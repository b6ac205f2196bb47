//! SDP offer/answer for the SIP leg, audio only (RFC 8866, RFC 3264); a lenient parser and
//! a builder, no I/O.
//!
//! We read what the answer needs: connection address, the audio `m=` line, `a=rtpmap`,
//! `a=fmtp`, `a=ptime`, `a=crypto` (SDES keys, decided in `media::srtp`), direction attributes
//! and the origin. Everything else is ignored.

use std::net::{IpAddr, SocketAddr};

use crate::media::g711::G711;
use crate::media::srtp::{self, MAX_CRYPTO_LINES, SdesAnswer, SdesRule, SrtpRefusal};

/// Why an SDP body cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not UTF-8 text.
    #[error("SDP body is not UTF-8")]
    NotUtf8,
    /// The body does not start with `v=0` (RFC 8866 §5.1).
    #[error("SDP does not start with v=0")]
    MissingVersion,
    /// Line N (1-based) is not `<type>=<value>` (RFC 8866 §5).
    #[error("malformed SDP line {0}")]
    MalformedLine(usize),
    /// An `o=`, `c=` or `m=` line with missing or invalid fields.
    #[error("invalid SDP {kind} line: {value:?}")]
    InvalidField {
        /// The line type (`o`, `c`, `m`).
        kind: char,
        /// The line's value.
        value: String,
    },
    /// No audio stream with a non-zero port.
    #[error("SDP offers no active audio stream")]
    NoAudio,
    /// The audio stream uses a transport other than RTP/AVP(F) (or RTP/SAVP(F) where SRTP
    /// may be used).
    #[error("unsupported audio transport {0:?}")]
    UnsupportedProtocol(String),
    /// The stream's SRTP (`RTP/SAVP`, `a=crypto`) is refused (`media::srtp`).
    #[error("SRTP: {0}")]
    Srtp(#[from] SrtpRefusal),
    /// None of the offered payload types is PCMU or PCMA (the caller answers 488).
    #[error("no common codec")]
    NoCommonCodec,
}

/// Media direction attribute (RFC 3264 §5.1, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    fn parse(attr: &str) -> Option<Direction> {
        match attr {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answerer willing to send and receive uses (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }
}

/// One `a=rtpmap:<pt> <name>/<rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
}

impl RtpMap {
    /// True for `<name>/8000`, the name compared case-insensitively (RFC 8866 §6.6).
    fn is(&self, name: &str) -> bool {
        self.clock_rate == 8000 && self.encoding.eq_ignore_ascii_case(name)
    }
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, …
    pub kind: String,
    /// Transport port; 0 means the stream is disabled.
    pub port: u16,
    /// Transport protocol, e.g. `RTP/AVP`.
    pub protocol: String,
    /// Formats in the offerer's order of preference (payload types for RTP).
    pub formats: Vec<String>,
    /// Media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// `a=rtpmap` lines.
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>` lines.
    pub fmtps: Vec<(u8, String)>,
    /// `a=ptime` in milliseconds.
    pub ptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
    /// `a=crypto` values (RFC 4568), at most [`MAX_CRYPTO_LINES`] + 1 kept (one more than
    /// allowed, so `media::srtp` sees that there were too many).
    pub crypto: Vec<String>,
}

/// A parsed remote offer (or answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOffer {
    /// `o=` sess-id.
    pub session_id: String,
    /// `o=` sess-version; a re-INVITE with the same version changes nothing (RFC 3264 §8).
    pub session_version: u64,
    /// Session-level `c=` address.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Every `m=` section in order (the answer must mirror them, RFC 3264 §6).
    pub media: Vec<Media>,
}

impl SessionOffer {
    /// Parses an SDP body leniently: unknown lines and attributes are skipped.
    pub fn parse(body: &[u8]) -> Result<SessionOffer, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let mut lines = text
            .split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        if lines.next().map(|(_, l)| l.trim()) != Some("v=0") {
            return Err(SdpError::MissingVersion);
        }
        let mut offer = SessionOffer {
            session_id: String::new(),
            session_version: 0,
            connection: None,
            direction: None,
            media: Vec::new(),
        };
        for (i, line) in lines {
            let Some((kind, value)) = line.split_once('=') else {
                return Err(SdpError::MalformedLine(i + 1));
            };
            let mut kind_chars = kind.chars();
            let (Some(kind), None) = (kind_chars.next(), kind_chars.next()) else {
                return Err(SdpError::MalformedLine(i + 1));
            };
            let value = value.trim();
            let invalid = || SdpError::InvalidField {
                kind,
                value: value.to_owned(),
            };
            match kind {
                // RFC 8866 §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <addr>
                'o' => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    let [_, id, version, ..] = f[..] else {
                        return Err(invalid());
                    };
                    offer.session_id = id.to_owned();
                    offer.session_version = version.parse().map_err(|_| invalid())?;
                }
                'c' => {
                    let addr = parse_connection(value).ok_or_else(invalid)?;
                    match offer.media.last_mut() {
                        Some(m) => m.connection = Some(addr),
                        None => offer.connection = Some(addr),
                    }
                }
                'm' => offer.media.push(parse_media(value).ok_or_else(invalid)?),
                'a' => apply_attribute(&mut offer, value),
                _ => {}
            }
        }
        Ok(offer)
    }

    /// The first audio stream with a non-zero port.
    pub fn audio(&self) -> Option<&Media> {
        self.media.iter().find(|m| m.kind == "audio" && m.port != 0)
    }
}

/// RFC 8866 §5.7: `c=IN IP4 <addr>[/ttl]` or `c=IN IP6 <addr>`.
fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut f = value.split_whitespace();
    let (Some("IN"), Some(kind), Some(addr)) = (f.next(), f.next(), f.next()) else {
        return None;
    };
    let addr = addr.split('/').next()?;
    match kind {
        "IP4" => addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => addr.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        _ => None,
    }
}

/// RFC 8866 §5.14: `m=<media> <port>[/<count>] <proto> <fmt> ...`.
fn parse_media(value: &str) -> Option<Media> {
    let mut f = value.split_whitespace();
    let kind = f.next()?.to_owned();
    let port = f.next()?.split('/').next()?.parse().ok()?;
    let protocol = f.next()?.to_owned();
    let formats: Vec<String> = f.map(str::to_owned).collect();
    if formats.is_empty() {
        return None;
    }
    // RFC 3550 §5.1: an RTP payload type has 7 bits, so an RTP profile's format above 127 is
    // refused (the whole offer: the caller gets 488).
    if protocol.contains("RTP/")
        && formats
            .iter()
            .any(|f| f.parse::<u32>().is_ok_and(|pt| pt > 127))
    {
        return None;
    }
    Some(Media {
        kind,
        port,
        protocol,
        formats,
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: None,
        crypto: Vec::new(),
    })
}

fn apply_attribute(offer: &mut SessionOffer, value: &str) {
    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
    if let Some(dir) = Direction::parse(name) {
        match offer.media.last_mut() {
            Some(m) => m.direction = Some(dir),
            None => offer.direction = Some(dir),
        }
        return;
    }
    let Some(m) = offer.media.last_mut() else {
        return;
    };
    let (pt, rest) = arg.trim().split_once(' ').unwrap_or((arg.trim(), ""));
    match name {
        // RFC 8866 §6.6: a=rtpmap:<pt> <encoding name>/<clock rate>[/<params>]
        "rtpmap" => {
            let mut enc = rest.trim().split('/');
            let (Ok(payload_type), Some(encoding), Some(Ok(clock_rate))) =
                (pt.parse(), enc.next(), enc.next().map(str::parse))
            else {
                return;
            };
            m.rtpmaps.push(RtpMap {
                payload_type,
                encoding: encoding.to_owned(),
                clock_rate,
            });
        }
        "fmtp" => {
            if let Ok(pt) = pt.parse() {
                m.fmtps.push((pt, rest.trim().to_owned()));
            }
        }
        "ptime" => m.ptime = arg.trim().parse().ok(),
        "crypto" if m.crypto.len() <= MAX_CRYPTO_LINES => m.crypto.push(arg.trim().to_owned()),
        _ => {}
    }
}

/// Our side of the negotiated audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The codec both sides use.
    pub codec: G711,
    /// Its payload type as the caller numbered it (static 0/8 or a dynamic number).
    pub payload_type: u8,
    /// The caller's telephone-event/8000 payload type, if offered.
    pub telephone_event: Option<u8>,
    /// Our answer's direction (offer sendonly → recvonly: the caller put us on hold).
    pub direction: Direction,
    /// Where the caller wants RTP; `None` on old-style hold (`c=0.0.0.0`).
    pub remote: Option<SocketAddr>,
    /// The caller's `a=ptime`, if given.
    pub remote_ptime: Option<u32>,
    /// SDES-SRTP keys when the stream is SRTP (our `a=crypto` goes into the answer).
    pub srtp: Option<SdesAnswer>,
    /// Every offered m-line as (kind, protocol, first format); all but `audio_index` are rejected.
    mirrored: Vec<(String, String, String)>,
    audio_index: usize,
}

/// Picks codec, telephone-event, direction and remote address for the answer (RFC 3264 §6),
/// plain RTP only: `RTP/SAVP` is refused and `a=crypto` ignored.
pub fn negotiate(offer: &SessionOffer, supported: &[G711]) -> Result<Answer, SdpError> {
    negotiate_sdes(offer, supported, SdesRule::PLAIN)
}

/// [`negotiate`] with SDES-SRTP as `rule` allows (`media::srtp::answer_offer`): `RTP/SAVP`
/// is answered `RTP/SAVP`, a best-effort `RTP/AVP` offer with `a=crypto` gets SRTP too; the
/// answer carries our fresh key.
pub fn negotiate_sdes(
    offer: &SessionOffer,
    supported: &[G711],
    rule: SdesRule,
) -> Result<Answer, SdpError> {
    let mut answer = choose(offer, supported, rule != SdesRule::PLAIN)?;
    let audio = &offer.media[answer.audio_index];
    answer.srtp = srtp::answer_offer(rule, &audio.protocol, &audio.crypto)?;
    Ok(answer)
}

/// Reads the far end's answer to our offer (an agent's phone): codec, telephone-event,
/// address, whatever its RTP profile; its keys are checked against our offer by the caller
/// (`media::srtp::SdesOffer::accept`, on [`SessionOffer::audio`]'s `crypto`).
pub fn read_answer(answer: &SessionOffer, supported: &[G711]) -> Result<Answer, SdpError> {
    choose(answer, supported, true)
}

fn choose(offer: &SessionOffer, supported: &[G711], secure: bool) -> Result<Answer, SdpError> {
    let (audio_index, audio) = (offer.media.iter().enumerate())
        .find(|(_, m)| m.kind == "audio" && m.port != 0)
        .ok_or(SdpError::NoAudio)?;
    let plain = audio.protocol == "RTP/AVP" || audio.protocol == "RTP/AVPF";
    let srtp_profile = secure && srtp::is_secure_profile(&audio.protocol);
    if !(plain || srtp_profile) {
        return Err(SdpError::UnsupportedProtocol(audio.protocol.clone()));
    }
    let rtpmap = |pt: u8| audio.rtpmaps.iter().find(|r| r.payload_type == pt);
    let payload_types = audio.formats.iter().filter_map(|f| f.parse::<u8>().ok());
    // RFC 3264 §6.1: keep the offerer's order of preference among what we support.
    let (payload_type, codec) = payload_types
        .clone()
        .find_map(|pt| {
            let codec = match rtpmap(pt) {
                Some(r) if r.is("PCMU") => G711::Pcmu,
                Some(r) if r.is("PCMA") => G711::Pcma,
                Some(_) => return None,
                // RFC 3551 §6: static payload types need no rtpmap.
                None if pt == 0 => G711::Pcmu,
                None if pt == 8 => G711::Pcma,
                None => return None,
            };
            supported.contains(&codec).then_some((pt, codec))
        })
        .ok_or(SdpError::NoCommonCodec)?;
    // RFC 4733 §7.1.1: telephone-event/8000 on whatever dynamic type the caller chose.
    let telephone_event = payload_types
        .clone()
        .find(|&pt| rtpmap(pt).is_some_and(|r| r.is("telephone-event")));
    let addr = audio.connection.or(offer.connection);
    let old_style_hold = addr.is_some_and(|a| a.is_unspecified());
    let mut offered = audio
        .direction
        .or(offer.direction)
        .unwrap_or(Direction::SendRecv);
    if old_style_hold {
        // RFC 3264 §8.4: c=0.0.0.0 (RFC 2543 hold) means "do not send to me".
        offered = match offered {
            Direction::SendRecv | Direction::SendOnly => Direction::SendOnly,
            Direction::RecvOnly | Direction::Inactive => Direction::Inactive,
        };
    }
    let remote = addr
        .filter(|a| !a.is_unspecified())
        .map(|a| SocketAddr::new(a, audio.port));
    let mirrored = offer
        .media
        .iter()
        .map(|m| {
            let first = m.formats.first().cloned().unwrap_or_default();
            (m.kind.clone(), m.protocol.clone(), first)
        })
        .collect();
    Ok(Answer {
        codec,
        payload_type,
        telephone_event,
        direction: offered.answer(),
        remote,
        remote_ptime: audio.ptime,
        srtp: None,
        mirrored,
        audio_index,
    })
}

impl Answer {
    /// Builds the answer body (RFC 8866 §5 order, CRLF line ends); other m-lines get port 0.
    pub fn to_sdp(
        &self,
        local_ip: IpAddr,
        local_port: u16,
        session_id: u64,
        version: u64,
    ) -> String {
        let ip = match local_ip {
            IpAddr::V4(a) => format!("IP4 {a}"),
            IpAddr::V6(a) => format!("IP6 {a}"),
        };
        let mut lines = vec![
            "v=0".to_owned(),
            format!("o=firstline {session_id} {version} IN {ip}"),
            "s=firstline".to_owned(),
            format!("c=IN {ip}"),
            "t=0 0".to_owned(),
        ];
        for (i, (kind, protocol, first)) in self.mirrored.iter().enumerate() {
            if i != self.audio_index {
                // RFC 3264 §6: a rejected stream keeps its place with port 0.
                lines.push(format!("m={kind} 0 {protocol} {first}"));
                continue;
            }
            let pt = self.payload_type;
            let te = self
                .telephone_event
                .map(|te| format!(" {te}"))
                .unwrap_or_default();
            lines.push(format!("m=audio {local_port} {protocol} {pt}{te}"));
            lines.push(format!("a=rtpmap:{pt} {}/8000", self.codec.encoding_name()));
            if let Some(te) = self.telephone_event {
                lines.push(format!("a=rtpmap:{te} telephone-event/8000"));
                lines.push(format!("a=fmtp:{te} 0-15"));
            }
            lines.push("a=ptime:20".to_owned());
            lines.push(format!("a={}", self.direction.as_str()));
            if let Some(keys) = &self.srtp {
                lines.push(format!("a=crypto:{}", keys.to_value()));
            }
        }
        lines.push(String::new());
        lines.join("\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &[G711] = &[G711::Pcmu, G711::Pcma];

    /// Codec, its payload type and the telephone-event payload type.
    fn choice(a: &Answer) -> (G711, u8, Option<u8>) {
        (a.codec, a.payload_type, a.telephone_event)
    }

    fn answer(sdp: &str) -> Result<Answer, SdpError> {
        negotiate(&SessionOffer::parse(sdp.as_bytes())?, BOTH)
    }

    /// SIPp 3.6 built-in `uac` scenario, as sent (LF line ends).
    const SIPP_UAC: &str = "v=0\no=user1 53655765 2353687637 IN IP4 127.0.0.1\ns=-\n\
        c=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

    /// baresip 1.0 with its default codec list.
    const BARESIP: &str = "v=0\r\no=- 1439470011 2183497741 IN IP4 192.168.1.20\r\ns=-\r\n\
        c=IN IP4 192.168.1.20\r\nt=0 0\r\nm=audio 10076 RTP/AVP 96 9 0 8 101\r\nb=AS:128\r\n\
        a=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:9 G722/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\na=rtcp-rsize\r\na=ssrc:3419385829 cname:x\r\n";

    /// Linphone/Asterisk-like: PCMA first, telephone-event on 120, a video stream too.
    const LINPHONE: &str = "v=0\r\no=alice 3050 1207 IN IP4 10.0.0.5\r\ns=Talk\r\n\
        c=IN IP4 10.0.0.5\r\nt=0 0\r\na=rtcp-xr:rcvr-rtt=all:10000\r\n\
        m=audio 7078 RTP/AVP 8 0 101 120\r\na=rtpmap:101 telephone-event/48000\r\n\
        a=rtpmap:120 telephone-event/8000\r\na=ptime:30\r\n\
        m=video 9078 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";

    #[test]
    fn sipp_uac_offer() {
        let a = answer(SIPP_UAC).unwrap();
        assert_eq!(choice(&a), (G711::Pcmu, 0, None));
        assert_eq!(a.remote, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(a.direction, Direction::SendRecv);
        let o = SessionOffer::parse(SIPP_UAC.as_bytes()).unwrap();
        assert_eq!(
            (o.session_id.as_str(), o.session_version),
            ("53655765", 2_353_687_637)
        );
    }

    #[test]
    fn baresip_offer_picks_first_g711_and_event_101() {
        let o = SessionOffer::parse(BARESIP.as_bytes()).unwrap();
        let audio = o.audio().unwrap();
        assert_eq!(audio.formats, ["96", "9", "0", "8", "101"]);
        let fmtp_101 = audio.fmtps.iter().find(|(pt, _)| *pt == 101);
        assert_eq!(fmtp_101.map(|(_, p)| p.as_str()), Some("0-15"));
        let a = negotiate(&o, BOTH).unwrap();
        assert_eq!(choice(&a), (G711::Pcmu, 0, Some(101)));
        // Only PCMA supported: the caller's next choice.
        let a = negotiate(&o, &[G711::Pcma]).unwrap();
        assert_eq!((a.codec, a.payload_type), (G711::Pcma, 8));
        let sdp = a.to_sdp("192.0.2.1".parse().unwrap(), 40000, 42, 1);
        assert_eq!(
            sdp,
            "v=0\r\no=firstline 42 1 IN IP4 192.0.2.1\r\ns=firstline\r\nc=IN IP4 192.0.2.1\r\n\
             t=0 0\r\nm=audio 40000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn linphone_offer_event_120_and_rejected_video() {
        let a = answer(LINPHONE).unwrap();
        assert_eq!(choice(&a), (G711::Pcma, 8, Some(120)));
        assert_eq!(a.remote_ptime, Some(30));
        let sdp = a.to_sdp("10.0.0.1".parse().unwrap(), 30000, 7, 2);
        assert!(sdp.contains("m=audio 30000 RTP/AVP 8 120\r\n"), "{sdp}");
        assert!(
            sdp.ends_with("a=sendrecv\r\nm=video 0 RTP/AVP 96\r\n"),
            "{sdp}"
        );
        // The answer parses back as the same choice.
        let back = answer(&sdp).unwrap();
        assert_eq!(choice(&back), (G711::Pcma, 8, Some(120)));
    }

    #[test]
    fn ipv6_and_media_level_connection() {
        let offer = "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::1\nt=0 0\n\
            m=audio 5004 RTP/AVP 0\nc=IN IP6 2001:db8::2\n";
        let a = answer(offer).unwrap();
        assert_eq!(a.remote, Some("[2001:db8::2]:5004".parse().unwrap()));
        let sdp = a.to_sdp("2001:db8::9".parse().unwrap(), 7000, 1, 1);
        assert!(sdp.contains("c=IN IP6 2001:db8::9\r\n"), "{sdp}");
    }

    #[test]
    fn dynamic_payload_type_for_pcmu() {
        let a = answer("v=0\nc=IN IP4 1.2.3.4\nm=audio 9 RTP/AVP 97 8\na=rtpmap:97 pcmu/8000\n")
            .unwrap();
        assert_eq!((a.codec, a.payload_type), (G711::Pcmu, 97));
    }

    #[test]
    fn hold_offers() {
        let send_only = SIPP_UAC.replace("a=rtpmap:0 PCMU/8000\n", "a=sendonly\n");
        let a = answer(&send_only).unwrap();
        assert_eq!(a.direction, Direction::RecvOnly);
        assert!(
            a.to_sdp("127.0.0.1".parse().unwrap(), 1, 1, 1)
                .contains("a=recvonly\r\n")
        );
        let session_inactive = SIPP_UAC.replace("t=0 0\n", "t=0 0\na=inactive\n");
        assert_eq!(
            answer(&session_inactive).unwrap().direction,
            Direction::Inactive
        );
        let old_style = SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        let a = answer(&old_style).unwrap();
        assert_eq!((a.direction, a.remote), (Direction::RecvOnly, None));
        let resumed = SIPP_UAC.replace("t=0 0\n", "t=0 0\na=sendrecv\n");
        assert_eq!(answer(&resumed).unwrap().direction, Direction::SendRecv);
    }

    #[test]
    fn no_common_codec_and_rejected_streams() {
        let wideband = "v=0\nc=IN IP4 1.2.3.4\nm=audio 9 RTP/AVP 9 111\na=rtpmap:9 G722/8000\n\
            a=rtpmap:111 opus/48000/2\n";
        assert_eq!(answer(wideband), Err(SdpError::NoCommonCodec));
        // PT 0 remapped to something else by rtpmap is not PCMU.
        assert_eq!(
            answer("v=0\nc=IN IP4 1.2.3.4\nm=audio 9 RTP/AVP 0\na=rtpmap:0 G729/8000\n"),
            Err(SdpError::NoCommonCodec)
        );
        let disabled = SIPP_UAC.replace("m=audio 6000", "m=audio 0");
        assert_eq!(answer(&disabled), Err(SdpError::NoAudio));
        let second = format!("{disabled}m=audio 6002 RTP/AVP 8\n");
        let a = answer(&second).unwrap();
        assert_eq!(
            (a.codec, a.remote.map(|r| r.port())),
            (G711::Pcma, Some(6002))
        );
        assert!(
            a.to_sdp("127.0.0.1".parse().unwrap(), 4, 1, 1)
                .contains("m=audio 0 RTP/AVP 0\r\nm=audio 4 ")
        );
        let srtp = SIPP_UAC.replace("RTP/AVP", "RTP/SAVP");
        assert_eq!(
            answer(&srtp),
            Err(SdpError::UnsupportedProtocol("RTP/SAVP".into()))
        );
    }

    #[test]
    fn payload_types_above_127_are_refused() {
        for pts in ["0 128", "200", "0 255 8", "0 1000"] {
            let sdp = SIPP_UAC.replace("RTP/AVP 0", &format!("RTP/AVP {pts}"));
            let got = SessionOffer::parse(sdp.as_bytes());
            assert!(
                matches!(got, Err(SdpError::InvalidField { kind: 'm', .. })),
                "{pts}: {got:?}"
            );
        }
        let sdp = SIPP_UAC.replace("RTP/AVP 0", "RTP/AVP 0 127");
        assert_eq!(
            answer(&sdp).unwrap().payload_type,
            0,
            "127 is the last valid one"
        );
        // Not an RTP profile: formats are not payload types.
        let other = format!("{SIPP_UAC}m=application 9 TCP/BFCP 300\n");
        assert!(SessionOffer::parse(other.as_bytes()).is_ok());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(answer(""), Err(SdpError::MissingVersion));
        assert_eq!(answer("hello world"), Err(SdpError::MissingVersion));
        assert_eq!(SessionOffer::parse(&[0xFF, 0xFE]), Err(SdpError::NotUtf8));
        assert_eq!(
            answer("v=0\nno equals here\n"),
            Err(SdpError::MalformedLine(2))
        );
        assert!(matches!(
            answer("v=0\nc=IN IP4 999.1.1.1\n"),
            Err(SdpError::InvalidField { kind: 'c', .. })
        ));
        assert!(matches!(
            answer("v=0\nm=audio x RTP/AVP 0\n"),
            Err(SdpError::InvalidField { kind: 'm', .. })
        ));
        assert!(matches!(
            answer("v=0\no=- x y\n"),
            Err(SdpError::InvalidField { kind: 'o', .. })
        ));
        // Every truncation of a real offer and byte noise: no panic.
        for cut in 0..BARESIP.len() {
            let _ = SessionOffer::parse(&BARESIP.as_bytes()[..cut]).map(|o| negotiate(&o, BOTH));
        }
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let body: Vec<u8> = (0..64)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"v=0 \r\nmcao:/IN P4 RTP/AV 0123456789"[(x >> 16) as usize % 34]
                })
                .collect();
            let _ = SessionOffer::parse(&body).map(|o| negotiate(&o, BOTH));
        }
    }
}
