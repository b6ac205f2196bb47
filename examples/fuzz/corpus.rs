//! Seed corpus: real messages as the tests and the peers we run against send them (SIPp,
//! baresip, Linphone, the scripted UA of tests/it, the desk and supervisor pages).

use crate::mutate::Input;

const PHONE: &str = "127.0.0.1:5070";

/// A request from a phone, as `src/sip/core_tests.rs` builds them.
pub(crate) fn sip_request(
    method: &str,
    call: &str,
    cseq: u32,
    to_tag: &str,
    extra: &str,
    body: &str,
) -> String {
    let cseq_method = if method == "ACK" { "INVITE" } else { method };
    format!(
        "{method} sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{call}{cseq}{method};rport\r\n\
Max-Forwards: 70\r\nFrom: \"Ann\" <sip:+31201234567@127.0.0.1>;tag=ph{call}\r\nTo: <sip:100@127.0.0.1>{to_tag}\r\n\
Call-ID: {call}\r\nCSeq: {cseq} {cseq_method}\r\nContact: <sip:ann@{PHONE}>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// baresip 1.0's offer with its default codec list.
pub(crate) const SDP_BARESIP: &str = "v=0\r\no=- 1439470011 2183497741 IN IP4 192.168.1.20\r\ns=-\r\n\
c=IN IP4 192.168.1.20\r\nt=0 0\r\nm=audio 10076 RTP/AVP 96 9 0 8 101\r\nb=AS:128\r\n\
a=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\na=rtcp-rsize\r\na=ssrc:3419385829 cname:x\r\n";

/// SIPp 3.6's built-in `uac` scenario (LF line ends).
pub(crate) const SDP_SIPP: &str = "v=0\no=user1 53655765 2353687637 IN IP4 127.0.0.1\ns=-\n\
c=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

/// Linphone/Asterisk-like: PCMA first, telephone-event on 120, a video stream too.
pub(crate) const SDP_LINPHONE: &str = "v=0\r\no=alice 3050 1207 IN IP4 10.0.0.5\r\ns=Talk\r\n\
c=IN IP4 10.0.0.5\r\nt=0 0\r\na=rtcp-xr:rcvr-rtt=all:10000\r\n\
m=audio 7078 RTP/AVP 8 0 101 120\r\na=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:120 telephone-event/8000\r\na=ptime:30\r\n\
m=video 9078 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";

/// IPv6, media-level connection, hold, SDES keys (RTP/SAVP as an SRTP phone offers it).
pub(crate) const SDP_OTHERS: &[&str] = &[
    "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\nc=IN IP6 2001:db8::5\r\n\
a=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n",
    "v=0\r\no=- 2 3 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 9 RTP/AVP 8\r\na=inactive\r\n",
    "v=0\r\no=- 5 5 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 5004 RTP/SAVP 0 8 101\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=recvonly\r\n",
    "v=0\r\no=- 7 7 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n\
m=audio 6002 RTP/AVP 18 0\r\na=rtpmap:18 G729/8000\r\n",
];

/// One SIP message per seed, and exchanges of several (the UDP target feeds them in turn).
pub(crate) fn sip_seeds() -> Vec<Input> {
    let sdp = SDP_BARESIP;
    let ct = "Content-Type: application/sdp\r\n";
    let tag = ";tag=fl1";
    let auth = "Authorization: Digest username=\"1001\", realm=\"firstline\", nonce=\"AAAAAGZf3d0AAAAAAAAAAXx0n1Qd\", \
uri=\"sip:127.0.0.1\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n";
    let invite = sip_request("INVITE", "c1", 1, "", ct, sdp);
    let one = |s: String| vec![s.into_bytes()];
    let mut seeds = vec![
        one(invite.clone()),
        one(sip_request("OPTIONS", "o1", 1, "", "Accept: application/sdp\r\n", "")),
        one(sip_request("REGISTER", "r1", 1, "", "Expires: 3600\r\n", "")),
        one(sip_request("REGISTER", "r2", 2, "", &format!("Expires: 60\r\n{auth}"), "")),
        one(sip_request(
            "REGISTER",
            "r3",
            3,
            "",
            "Expires: 0\r\nPath: <sip:10.0.0.1;lr>\r\nSupported: path\r\n",
            "",
        )),
        one(sip_request("INVITE", "c2", 1, "", ct, SDP_SIPP)),
        one(sip_request("INVITE", "c3", 1, "", ct, SDP_LINPHONE)),
        one(sip_request("INVITE", "c4", 1, "", "Max-Forwards: 0\r\nP-Asserted-Identity: <tel:+31201234567>\r\n", "")),
        one(sip_request("MESSAGE", "m1", 1, "", "Content-Type: text/plain\r\n", "hello")),
        one(sip_request("FOO", "f1", 1, "", "", "")),
        one(
            "INVITE sip:1234@10.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK0\r\n\
f: \"Ann\" <sip:ann@example.com>;tag=abc\r\nt: <sip:1234@10.0.0.1>\r\ni: call-1\r\nCSeq: 7\r\n  INVITE\r\n\
m: <sip:ann@10.0.0.2:5062>\r\nc: application/sdp\r\nl: 4\r\n\r\nv=0\r\n"
                .to_owned(),
        ),
        one(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKout1\r\n\
From: <sip:100@127.0.0.1>;tag=fl\r\nTo: <sip:1001@127.0.0.1:5070>;tag=ph\r\nCall-ID: out1\r\n\
CSeq: 1 INVITE\r\nContact: <sip:1001@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n"
                .to_owned(),
        ),
        one("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\nCSeq: 1 BYE\r\n\r\n".to_owned()),
        one(
            "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\n\
Call-ID: c\x00d\r\nCSeq: 1 OPTIONS\r\n\r\n"
                .to_owned(),
        ),
        one("OPTIONS sip:x SIP/3.0\r\nCall-ID: 1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n".to_owned()),
    ];
    // Exchanges: a call answered by nobody then cancelled, ACKed, hung up, re-INVITEd.
    seeds.push(vec![
        invite.clone().into_bytes(),
        invite.clone().into_bytes(),
        sip_request("CANCEL", "c1", 1, "", "", "").into_bytes(),
        sip_request("ACK", "c1", 1, tag, "", "").into_bytes(),
    ]);
    seeds.push(vec![
        invite.clone().into_bytes(),
        sip_request("BYE", "c1", 2, tag, "", "").into_bytes(),
        sip_request("INVITE", "c1", 3, tag, ct, SDP_SIPP).into_bytes(),
        sip_request(
            "INFO",
            "c1",
            4,
            tag,
            "Content-Type: application/dtmf-relay\r\n",
            "Signal=5\r\nDuration=160\r\n",
        )
        .into_bytes(),
    ]);
    seeds.push(vec![
        sip_request("REGISTER", "r4", 1, "", "Expires: 3600\r\n", "").into_bytes(),
        sip_request(
            "REGISTER",
            "r4",
            2,
            "",
            &format!("Expires: 3600\r\n{auth}"),
            "",
        )
        .into_bytes(),
    ]);
    seeds
}

/// INFO bodies as phones send them: (content type, body).
pub(crate) fn info_seeds() -> Vec<Input> {
    [
        ("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
        ("application/dtmf-relay", "Signal=#\nDuration=250\n"),
        ("Application/DTMF-Relay; charset=utf-8", "Signal=3"),
        ("application/dtmf-relay", "signal = *\r\nduration=100"),
        ("application/dtmf", "5"),
        ("Application/DTMF", "11\r\n"),
        ("application/dtmf", " 10 "),
        ("application/sdp", "v=0"),
    ]
    .iter()
    .map(|(c, b)| vec![c.as_bytes().to_vec(), b.as_bytes().to_vec()])
    .collect()
}
