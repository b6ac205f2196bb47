//! Tests of SDP parsing, offer/answer and the answer we write (`media::sdp`).

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
    let a =
        answer("v=0\nc=IN IP4 1.2.3.4\nm=audio 9 RTP/AVP 97 8\na=rtpmap:97 pcmu/8000\n").unwrap();
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
