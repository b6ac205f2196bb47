//! Media targets: SDP offer/answer, RTP datagrams through strict RTP, RFC 4733, G.711, the
//! in-band detector and the relay; RTCP as the browser leg's stack reads it; SIP INFO bodies.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use firstline::media::dtmf::{InbandDetector, Rfc4733Receiver, parse_info_body, synthesise};
use firstline::media::g711::G711;
use firstline::media::relay::{LegFormat, RtpRelay};
use firstline::media::rtp::{RtpHeader, RtpPacket, write_rtp};
use firstline::media::sdp::{SessionOffer, negotiate};
use firstline::media::strict::{RtpSource, StrictConfig, StrictRtp, Verdict};

use crate::Target;
use crate::corpus;
use crate::mutate::Input;

/// `SessionOffer::parse` and `negotiate`, as the call task runs them on an INVITE's body.
pub(crate) const SDP: Target = Target {
    name: "sdp",
    about: "SDP offers through SessionOffer::parse + negotiate; our answer parses and negotiates to the same choice",
    seeds: sdp_seeds,
    dict: &[
        b"v=0\r\n",
        b"o=- 1 1 IN IP4 10.0.0.1\r\n",
        b"c=IN IP4 ",
        b"c=IN IP6 ",
        b"c=IN IP4 224.2.1.1/127/3\r\n",
        b"m=audio ",
        b"m=audio 0 RTP/AVP 0\r\n",
        b"m=video 9 RTP/AVP 96\r\n",
        b"RTP/AVP",
        b"RTP/SAVP",
        b"UDP/TLS/RTP/SAVPF",
        b"a=rtpmap:",
        b"a=rtpmap:101 telephone-event/8000\r\n",
        b"a=rtpmap:0 PCMU/8000\r\n",
        b"PCMA/8000",
        b"a=fmtp:",
        b"a=ptime:",
        b"a=sendrecv\r\n",
        b"a=sendonly\r\n",
        b"a=recvonly\r\n",
        b"a=inactive\r\n",
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:",
        b"/8000",
        b"255",
        b"::ffff:1.2.3.4",
    ],
    run: run_sdp,
};

/// RTP datagrams of one leg, as the call task handles them (`call::media::on_datagram`).
pub(crate) const RTP: Target = Target {
    name: "rtp",
    about: "RTP/RTCP datagrams of one leg: RtpPacket::parse (round trip), strict RTP, RFC 4733, G.711 + in-band DTMF, the relay; RTCP through the browser leg's parser",
    seeds: rtp_seeds,
    dict: &[
        b"\x80\x00",
        b"\x80\x65",
        b"\x80\xe5",
        b"\x90\x00",
        b"\xa0\x00",
        b"\x8f\x00",
        b"\x80\xc8\x00\x06",
        b"\x81\xc9\x00\x07",
        b"\x81\xca\x00\x02",
        b"\xbe\xde\x00\x01",
        b"\xff\xff",
        b"\x00\x00\x00\x00",
    ],
    run: run_rtp,
};

/// `parse_info_body(content type, body)`, as the call task runs it on an INFO.
pub(crate) const INFO: Target = Target {
    name: "info",
    about: "SIP INFO DTMF bodies (content type, body) through parse_info_body",
    seeds: corpus::info_seeds,
    dict: &[
        b"Signal=",
        b"Duration=",
        b"application/dtmf-relay",
        b"application/dtmf",
        b"; charset=utf-8",
        b"\r\n",
        b"#",
        b"*",
        b"16",
    ],
    run: run_info,
};

fn sdp_seeds() -> Vec<Input> {
    [corpus::SDP_BARESIP, corpus::SDP_SIPP, corpus::SDP_LINPHONE]
        .iter()
        .chain(corpus::SDP_OTHERS)
        .map(|s| vec![s.as_bytes().to_vec()])
        .collect()
}

fn run_sdp(input: &Input) -> Result<(), String> {
    let body = &input[0];
    let Ok(offer) = SessionOffer::parse(body) else {
        return Ok(());
    };
    for supported in [&[G711::Pcmu, G711::Pcma][..], &[G711::Pcma]] {
        let Ok(answer) = negotiate(&offer, supported) else {
            continue;
        };
        if !supported.contains(&answer.codec) || answer.payload_type > 127 {
            return Err(format!("answer outside what we support: {answer:?}"));
        }
        // Our answer, read back as the peer would: the same codec and payload types.
        let ip: IpAddr = [127, 0, 0, 1].into();
        let sdp = answer.to_sdp(ip, 40_000, 1, 2);
        let back = SessionOffer::parse(sdp.as_bytes())
            .map_err(|e| format!("our answer does not parse ({e}): {sdp:?}"))?;
        let again = negotiate(&back, &[answer.codec])
            .map_err(|e| format!("our answer does not negotiate ({e}): {sdp:?}"))?;
        if (again.codec, again.payload_type, again.telephone_event)
            != (answer.codec, answer.payload_type, answer.telephone_event)
        {
            return Err(format!(
                "our answer reads back as {again:?}, not {answer:?}: {sdp:?}"
            ));
        }
    }
    Ok(())
}

fn packet(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let h = RtpHeader {
        payload_type: pt,
        marker,
        sequence: seq,
        timestamp: ts,
        ssrc: 0x1234_5678,
    };
    write_rtp(&mut out, &h, payload);
    out
}

fn rtp_seeds() -> Vec<Input> {
    let audio: Input = (0..6u16)
        .map(|i| packet(0, i == 0, 1000 + i, 160 * u32::from(i), &[0xff; 160]))
        .collect();
    // RFC 4733 §2.5: start, updates, three end packets, one timestamp.
    let event = |dur: u16, end: bool| {
        let mut p = vec![5, if end { 0x8a } else { 0x0a }];
        p.extend_from_slice(&dur.to_be_bytes());
        p
    };
    let dtmf: Input = [
        (160, false),
        (320, false),
        (480, true),
        (480, true),
        (480, true),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(d, e))| packet(101, i == 0, 2000 + i as u16, 8000, &event(d, e)))
    .collect();
    // A key press in the audio itself.
    let mut ulaw = Vec::new();
    G711::Pcmu.encode_into(&synthesise("7"), &mut ulaw);
    let inband: Input = ulaw
        .chunks(160)
        .take(8)
        .enumerate()
        .map(|(i, c)| packet(0, false, 3000 + i as u16, 160 * i as u32, c))
        .collect();
    // CSRCs, a header extension, padding.
    let mut ext = vec![0x92, 0x00, 0x00, 0x01, 0, 0, 0, 160, 1, 2, 3, 4];
    ext.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 10, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    ext.extend_from_slice(&[0xff; 20]);
    let mut pad = packet(8, false, 7, 1120, &[0xd5; 20]);
    pad[0] |= 0x20;
    pad.extend_from_slice(&[0, 0, 0, 4]);
    // RTCP: an SR with one report block, then SDES; an RR; a BYE.
    let sr = vec![
        0x81, 0xc8, 0x00, 0x0c, 0x12, 0x34, 0x56, 0x78, 0xe0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x1f,
        0x40, 0, 0, 0, 50, 0, 0, 0x1f, 0x40, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0, 0, 2, 0, 0, 0x10,
        0x00, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xca, 0x00, 0x03, 0x12, 0x34, 0x56, 0x78,
        0x01, 0x03, b'a', b'b', b'c', 0, 0, 0,
    ];
    let rr = vec![
        0x81, 0xc9, 0x00, 0x07, 0x12, 0x34, 0x56, 0x78, 0xaa, 0xbb, 0xcc, 0xdd, 0x02, 0, 0, 9, 0,
        0, 0x20, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let bye = vec![0x81, 0xcb, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78];
    vec![
        audio,
        dtmf,
        inband,
        vec![ext, pad.clone()],
        vec![sr.clone(), rr, bye],
        vec![sr, pad],
    ]
}

/// FNV-1a over the parts, to choose per input how the leg is set up (replays choose the same).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn run_rtp(input: &Input) -> Result<(), String> {
    let caller: SocketAddr = ([10, 0, 0, 5], 7078).into();
    let rogue: SocketAddr = ([10, 0, 0, 66], 7078).into();
    let pcmu = LegFormat {
        codec: G711::Pcmu,
        audio_pt: 0,
        event_pt: Some(101),
    };
    let pcma = LegFormat {
        codec: G711::Pcma,
        audio_pt: 8,
        event_pt: None,
    };
    let choice = fnv(&input.concat());
    let cfg = StrictConfig {
        source: if choice & 1 == 0 {
            RtpSource::Sdp
        } else {
            RtpSource::Symmetric
        },
        learn_packets: 1 + (choice >> 1 & 3) as u16,
        relearn_after: (choice & 8 != 0).then_some(Duration::from_millis(500)),
    };
    let mut now = Instant::now();
    let mut strict = StrictRtp::new(cfg, Some(caller), now);
    strict.confirm(now);
    let mut events = Rfc4733Receiver::new();
    let mut inband = InbandDetector::new();
    let mut relay = RtpRelay::new(pcmu, pcma, 0xabcd, 65_530).continuing(77);
    let (mut pcm, mut out) = (Vec::new(), Vec::new());
    for (i, data) in input.iter().enumerate() {
        now += Duration::from_millis(20);
        // The browser leg's stack reads RTCP (webrtc-rs); its parser must not panic either.
        let _ = rtc::rtcp::packet::unmarshal(&mut &data[..]);
        let Ok(p) = RtpPacket::parse(data) else {
            continue;
        };
        // Round trip: the header and payload we read, written and read again.
        let mut again = Vec::new();
        write_rtp(&mut again, &p.header(), p.payload);
        let q = RtpPacket::parse(&again).map_err(|e| format!("re-written packet: {e}"))?;
        if q.header() != p.header() || q.payload != p.payload {
            return Err(format!(
                "round trip changed {:?} to {:?}",
                p.header(),
                q.header()
            ));
        }
        let from = if fnv(data).is_multiple_of(5) {
            rogue
        } else {
            caller
        };
        if i == 3 && choice & 16 != 0 {
            strict.on_sdp(now, Some(rogue));
        }
        if p.payload_type != 0 && p.payload_type != 101 {
            strict.heard(now, from);
            continue;
        }
        if let Verdict::Drop(_) = strict.on_packet(now, from, &p.header()) {
            continue;
        }
        if strict.source().is_some_and(|s| s != caller && s != rogue) {
            return Err(format!("strict RTP learned {:?}", strict.source()));
        }
        if p.payload_type == 101 {
            if let Some(d) = events.on_packet(now, p.timestamp, p.payload)
                && !"0123456789*#ABCD".contains(d)
            {
                return Err(format!("RFC 4733 gave digit {d:?}"));
            }
        } else {
            pcm.clear();
            G711::Pcmu.decode_into(p.payload, &mut pcm);
            if pcm.len() != p.payload.len() {
                return Err("G.711 decoded a sample count other than the payload's".into());
            }
            let _ = inband.push(&pcm);
        }
        out.clear();
        relay.relay(&p, &mut out);
        if !out.is_empty() {
            RtpPacket::parse(&out).map_err(|e| format!("relayed packet does not parse: {e}"))?;
        }
        let _ = strict.destination(now);
    }
    Ok(())
}

fn run_info(input: &Input) -> Result<(), String> {
    let content_type = String::from_utf8_lossy(&input[0]);
    let body = input.get(1).map_or(&[][..], Vec::as_slice);
    match parse_info_body(&content_type, body) {
        Ok(d) if !"0123456789*#ABCD".contains(d) => Err(format!("digit {d:?}")),
        _ => Ok(()),
    }
}
