//! Tests of SDES-SRTP: RFC 4568 line parsing (lifetimes, MKI and other refusals, hostile
//! input), the policy, offer/answer through SDP, protect/unprotect with both suites, tampering,
//! replay and re-keying.

use super::*;
use crate::media::g711::G711;
use crate::media::sdp::{self, SdpError, SessionOffer};

const KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

/// A plain RTP packet: PCMU, `seq`, a payload of `fill` bytes.
fn rtp(seq: u16, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0x03, 0x20, 0x11, 0x22, 0x33, 0x44];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, 160));
    p
}

fn parse(v: &str) -> Result<CryptoLine, SdesError> {
    CryptoLine::parse(v)
}

#[test]
fn crypto_lines_parse_and_format() {
    let l = parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}")).unwrap();
    assert_eq!(
        (l.tag, l.suite, l.lifetime),
        (1, SrtpSuite::AesCm128HmacSha1_80, None)
    );
    assert_eq!(l.key.to_base64(), KEY);
    assert_eq!(
        l.to_value(),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}")
    );
    // Case-insensitive names, extra blanks, a lifetime either way, the two hints we accept.
    let l = parse(&format!(
        "  42  aes_cm_128_hmac_sha1_32  INLINE:{KEY}|2^31 WSH=64 KDR=0"
    ))
    .unwrap();
    assert_eq!(
        (l.tag, l.suite, l.lifetime),
        (42, SrtpSuite::AesCm128HmacSha1_32, Some(1 << 31))
    );
    let l = parse(&format!("7 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|1048576")).unwrap();
    assert_eq!(l.lifetime, Some(1_048_576));
    assert_eq!(
        parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^48"))
            .unwrap()
            .lifetime,
        Some(1 << 48)
    );
}

#[test]
fn lines_we_do_not_support_are_skipped_not_fatal() {
    let unsupported = [
        // RFC 4568 §9.1's own example: an MKI.
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:32"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|1:4"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|1:4;inline:{KEY}|2:4"),
        format!("1 AES_256_CM_HMAC_SHA1_80 inline:{KEY}{KEY}"),
        format!("1 AEAD_AES_128_GCM inline:{KEY}"),
        format!("1 F8_128_HMAC_SHA1_80 inline:{KEY}"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY} UNENCRYPTED_SRTP"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY} KDR=8"),
        "1 AES_CM_128_HMAC_SHA1_80 uri:https://example.com/key".to_owned(),
    ];
    for v in &unsupported {
        assert!(
            matches!(parse(v), Err(SdesError::Unsupported(_))),
            "{v}: {:?}",
            parse(v)
        );
    }
    // The answerer takes the first usable line after unusable ones.
    let mut lines: Vec<String> = unsupported.to_vec();
    lines.push(format!("9 AES_CM_128_HMAC_SHA1_32 inline:{KEY}"));
    let rule = SdesRule {
        policy: SrtpPolicy::Optional,
        keys_allowed: true,
    };
    let a = answer_offer(rule, "RTP/SAVP", &lines).unwrap().unwrap();
    assert_eq!((a.tag, a.suite), (9, SrtpSuite::AesCm128HmacSha1_32));
    assert_ne!(a.local, a.remote, "our own fresh key");
    // Only unusable lines: no SRTP to agree on.
    assert_eq!(
        answer_offer(rule, "RTP/SAVP", &unsupported),
        Err(SrtpRefusal::NoUsableCrypto)
    );
}

#[test]
fn malformed_lines_are_errors() {
    for v in [
        String::new(),
        "1".to_owned(),
        "1 AES_CM_128_HMAC_SHA1_80".to_owned(),
        format!("x AES_CM_128_HMAC_SHA1_80 inline:{KEY}"),
        format!("1234567890 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"),
        format!("-1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"),
        "1 AES_CM_128_HMAC_SHA1_80 inline".to_owned(),
        "1 AES_CM_128_HMAC_SHA1_80 inline:".to_owned(),
        "1 AES_CM_128_HMAC_SHA1_80 inline:not*base64!".to_owned(),
        "1 AES_CM_128_HMAC_SHA1_80 inline:QUJD".to_owned(),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}QUJD"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^49"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^99999999999"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|0"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|281474976710657"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|3^4"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|2^20"),
        format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{KEY} {}",
            "WSH=1 ".repeat(100)
        ),
    ] {
        assert!(
            matches!(parse(&v), Err(SdesError::Malformed(_))),
            "{v:?}: {:?}",
            parse(&v)
        );
    }
    // A malformed line refuses the offer, even after a good one would have been skipped to.
    let rule = SdesRule {
        policy: SrtpPolicy::Optional,
        keys_allowed: true,
    };
    let lines = vec!["1 AES_CM_128_HMAC_SHA1_80 inline:QUJD".to_owned()];
    assert!(matches!(
        answer_offer(rule, "RTP/AVP", &lines),
        Err(SrtpRefusal::Crypto(SdesError::Malformed(_)))
    ));
    let many = vec![format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"); MAX_CRYPTO_LINES + 1];
    assert_eq!(
        answer_offer(rule, "RTP/SAVP", &many),
        Err(SrtpRefusal::Crypto(SdesError::TooMany))
    );
    // Every truncation and byte noise: an error or a line, never a panic.
    let good = format!("12 AES_CM_128_HMAC_SHA1_32 inline:{KEY}|2^31 WSH=64");
    for cut in 0..good.len() {
        let _ = parse(&good[..cut]);
    }
    let mut x: u32 = 99;
    let alphabet = b"0123456789 AES_CM_128HMAC_SHA1_80inline:|^;=+/WSKDR";
    for _ in 0..5000 {
        let s: String = (0..48)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                char::from(alphabet[(x >> 16) as usize % alphabet.len()])
            })
            .collect();
        let _ = parse(&s);
    }
}

#[test]
fn policy_decides_by_profile_keys_and_transport() {
    let key = vec![format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}")];
    let none: Vec<String> = Vec::new();
    let rule = |policy, keys_allowed| SdesRule {
        policy,
        keys_allowed,
    };
    use SrtpPolicy::{Mandatory, Off, Optional};
    let srtp = |r: Result<Option<SdesAnswer>, SrtpRefusal>| r.map(|a| a.is_some());
    // (rule, profile, lines) → SRTP, plain, or refused.
    let cases = [
        (rule(Off, true), "RTP/SAVP", &key, Err(SrtpRefusal::Off)),
        (rule(Off, true), "RTP/AVP", &key, Ok(false)),
        (rule(Optional, true), "RTP/SAVP", &key, Ok(true)),
        (rule(Optional, true), "RTP/SAVPF", &key, Ok(true)),
        (rule(Optional, true), "RTP/AVP", &key, Ok(true)),
        (rule(Optional, true), "RTP/AVP", &none, Ok(false)),
        (
            rule(Optional, true),
            "RTP/SAVP",
            &none,
            Err(SrtpRefusal::NoUsableCrypto),
        ),
        // Not over TLS: keys are refused, a best-effort offer is answered plain.
        (
            rule(Optional, false),
            "RTP/SAVP",
            &key,
            Err(SrtpRefusal::InsecureTransport),
        ),
        (rule(Optional, false), "RTP/AVP", &key, Ok(false)),
        (rule(Optional, false), "RTP/AVP", &none, Ok(false)),
        (
            rule(Mandatory, false),
            "RTP/AVP",
            &none,
            Err(SrtpRefusal::InsecureTransport),
        ),
        (
            rule(Mandatory, false),
            "RTP/AVP",
            &key,
            Err(SrtpRefusal::InsecureTransport),
        ),
        (
            rule(Mandatory, true),
            "RTP/AVP",
            &none,
            Err(SrtpRefusal::Required),
        ),
        (rule(Mandatory, true), "RTP/AVP", &key, Ok(true)),
        (rule(Mandatory, true), "RTP/SAVP", &key, Ok(true)),
    ];
    for (rule, profile, lines, want) in cases {
        assert_eq!(
            srtp(answer_offer(rule, profile, lines)),
            want,
            "{rule:?} {profile} {lines:?}"
        );
    }
    let cfg = SrtpConfig {
        callers: Mandatory,
        agents: Optional,
        allow_insecure_keys: false,
    };
    assert_eq!(cfg.caller_rule(false), rule(Mandatory, false));
    assert_eq!(cfg.agent_rule(true), rule(Optional, true));
    let lax = SrtpConfig {
        allow_insecure_keys: true,
        ..cfg
    };
    assert_eq!(lax.caller_rule(false), rule(Mandatory, true));
}

/// Two ends of one leg from our offer and a peer's answer: (offerer, answerer).
fn pair(suite_of_answer: SrtpSuite) -> (SrtpSession, SrtpSession) {
    let offer = SdesOffer::new();
    let offered: Vec<String> = offer
        .lines()
        .iter()
        .filter(|l| l.suite == suite_of_answer)
        .map(CryptoLine::to_value)
        .collect();
    let rule = SdesRule {
        policy: SrtpPolicy::Mandatory,
        keys_allowed: true,
    };
    let answer = answer_offer(rule, "RTP/SAVP", &offered).unwrap().unwrap();
    let ours = offer.accept(&[answer.to_value()]).unwrap().unwrap();
    (ours, answer.session().unwrap())
}

#[test]
fn both_suites_round_trip_both_ways() {
    for suite in SrtpSuite::ALL {
        let (mut a, mut b) = pair(suite);
        assert_eq!((a.suite(), b.suite()), (suite, suite));
        let mut sealed = Vec::new();
        for seq in [65_530u16, 65_535, 0, 3] {
            let plain = rtp(seq, 0x55);
            a.protect(&plain, &mut sealed).unwrap();
            assert_eq!(sealed.len(), plain.len() + suite.tag_len());
            assert_eq!(sealed[..12], plain[..12], "the header stays readable");
            assert_ne!(sealed[12..172], plain[12..], "the payload is encrypted");
            let n = b.unprotect(&mut sealed).unwrap();
            assert_eq!(sealed[..n], plain[..], "{suite:?} a→b seq {seq}");
            let back = rtp(seq, 0x7f);
            b.protect(&back, &mut sealed).unwrap();
            let n = a.unprotect(&mut sealed).unwrap();
            assert_eq!(sealed[..n], back[..], "{suite:?} b→a seq {seq}");
        }
    }
    assert_eq!(SrtpSuite::AesCm128HmacSha1_80.tag_len(), 10);
    assert_eq!(SrtpSuite::AesCm128HmacSha1_32.tag_len(), 4);
}

#[test]
fn tampered_packets_fail_authentication_and_replays_are_refused() {
    for suite in SrtpSuite::ALL {
        let (mut a, mut b) = pair(suite);
        let mut sealed = Vec::new();
        a.protect(&rtp(100, 1), &mut sealed).unwrap();
        let original = sealed.clone();
        for at in [1, 5, 12, 60, sealed.len() - 1] {
            let mut forged = original.clone();
            forged[at] ^= 0x01;
            assert_eq!(
                b.unprotect(&mut forged),
                Err(SrtpError::Auth),
                "{suite:?} byte {at}"
            );
        }
        let mut short = original[..12 + suite.tag_len() - 1].to_vec();
        assert!(b.unprotect(&mut short).is_err());
        // Failures taught the session nothing: the genuine packet still passes, once.
        let mut p = original.clone();
        assert_eq!(b.unprotect(&mut p), Ok(12 + 160));
        let mut again = original.clone();
        assert_eq!(b.unprotect(&mut again), Err(SrtpError::Replay));
        assert_eq!(again, original, "a refused packet is left as it was");
        // Another key's packets do not authenticate.
        let (mut stranger, _) = pair(suite);
        stranger.protect(&rtp(101, 1), &mut sealed).unwrap();
        assert_eq!(b.unprotect(&mut sealed), Err(SrtpError::Auth));
        assert_eq!(SrtpError::Auth.drop_reason().as_str(), "srtp_auth");
        assert_eq!(SrtpError::Replay.drop_reason().as_str(), "srtp_replay");
    }
}

#[test]
fn a_key_lifetime_is_enforced() {
    let local = MasterKey::random();
    let remote = MasterKey::random();
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let mut peer = SrtpSession::new(suite, &remote, &local, None).unwrap();
    let mut us = SrtpSession::new(suite, &local, &remote, Some(2)).unwrap();
    let mut sealed = Vec::new();
    for seq in 1..=3u16 {
        peer.protect(&rtp(seq, 9), &mut sealed).unwrap();
        let got = us.unprotect(&mut sealed);
        assert_eq!(got.is_ok(), seq <= 2, "packet {seq}: {got:?}");
    }
}

#[test]
fn answers_to_our_offer() {
    let offer = SdesOffer::new();
    let lines = offer.lines();
    assert_eq!(
        (lines[0].tag, lines[0].suite, lines[1].tag, lines[1].suite),
        (
            1,
            SrtpSuite::AesCm128HmacSha1_80,
            2,
            SrtpSuite::AesCm128HmacSha1_32
        )
    );
    assert_ne!(lines[0].key, lines[1].key);
    assert_ne!(
        SdesOffer::new().lines()[0].key,
        lines[0].key,
        "fresh per offer"
    );
    let attrs = offer.sdp_attributes();
    assert!(
        attrs.starts_with("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{attrs}"
    );
    assert_eq!(attrs.matches("\r\n").count(), 2);
    assert!(offer.accept(&[]).unwrap().is_none(), "a plain answer");
    for bad in [
        format!("3 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"),
        format!("1 AES_CM_128_HMAC_SHA1_32 inline:{KEY}"),
        format!("1 AEAD_AES_128_GCM inline:{KEY}"),
    ] {
        assert_eq!(
            offer
                .accept(std::slice::from_ref(&bad))
                .map(|s| s.is_some()),
            Err(SrtpRefusal::NoUsableCrypto),
            "{bad}"
        );
    }
    assert!(matches!(
        offer.accept(&["2 AES_CM_128_HMAC_SHA1_32 inline:xx".to_owned()]),
        Err(SrtpRefusal::Crypto(_))
    ));
}

/// baresip 1.0 with `mediaenc=srtp-mand`: RTP/SAVP, four suites (two we speak).
const BARESIP_SAVP: &str = "v=0\r\no=- 1 2 IN IP4 10.254.0.1\r\ns=-\r\nc=IN IP4 10.254.0.1\r\n\
    t=0 0\r\nm=audio 10000 RTP/SAVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n\
    a=crypto:1 AEAD_AES_256_GCM inline:aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=\r\n\
    a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n\
    a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";

#[test]
fn sdp_offer_and_answer_carry_the_keys() {
    let rule = SdesRule {
        policy: SrtpPolicy::Optional,
        keys_allowed: true,
    };
    let offer = SessionOffer::parse(BARESIP_SAVP.as_bytes()).unwrap();
    assert_eq!(offer.audio().unwrap().crypto.len(), 3);
    let a = sdp::negotiate_sdes(&offer, &[G711::Pcmu, G711::Pcma], rule).unwrap();
    let keys = a.srtp.clone().unwrap();
    assert_eq!((keys.tag, keys.suite), (2, SrtpSuite::AesCm128HmacSha1_80));
    let body = a.to_sdp("10.254.0.1".parse().unwrap(), 4000, 1, 1);
    assert!(body.contains("m=audio 4000 RTP/SAVP 0 101\r\n"), "{body}");
    let ours = format!(
        "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
        keys.local.to_base64()
    );
    assert!(body.contains(&ours), "{body}");
    // Plain `negotiate` (and a policy that is off) keeps refusing RTP/SAVP.
    assert_eq!(
        sdp::negotiate(&offer, &[G711::Pcmu]),
        Err(SdpError::UnsupportedProtocol("RTP/SAVP".into()))
    );
    let off = SdesRule {
        policy: SrtpPolicy::Off,
        ..rule
    };
    assert_eq!(
        sdp::negotiate_sdes(&offer, &[G711::Pcmu], off),
        Err(SdpError::Srtp(SrtpRefusal::Off))
    );
    // Best effort (baresip's `mediaenc=srtp`): RTP/AVP with keys is answered RTP/AVP + a=crypto,
    // and the same offer without TLS is answered plain.
    let avp = SessionOffer::parse(BARESIP_SAVP.replace("RTP/SAVP", "RTP/AVP").as_bytes()).unwrap();
    let a = sdp::negotiate_sdes(&avp, &[G711::Pcmu], rule).unwrap();
    let body = a.to_sdp("10.254.0.1".parse().unwrap(), 4000, 1, 1);
    assert!(
        body.contains("RTP/AVP 0 101\r\n") && body.contains("a=crypto:2 "),
        "{body}"
    );
    let udp = SdesRule {
        keys_allowed: false,
        ..rule
    };
    let a = sdp::negotiate_sdes(&avp, &[G711::Pcmu], udp).unwrap();
    assert!(a.srtp.is_none());
    assert!(
        !a.to_sdp("10.254.0.1".parse().unwrap(), 4000, 1, 1)
            .contains("a=crypto")
    );
    // The phone's answer read back against our offer.
    let phone = SessionOffer::parse(BARESIP_SAVP.as_bytes()).unwrap();
    assert_eq!(
        sdp::read_answer(&phone, &[G711::Pcma]).unwrap().codec,
        G711::Pcma
    );
}

#[test]
fn re_invites_keep_or_change_keys_but_never_the_security() {
    let rule = SdesRule {
        policy: SrtpPolicy::Optional,
        keys_allowed: true,
    };
    let offered = |key: &MasterKey, suite: SrtpSuite| {
        vec![
            CryptoLine {
                tag: 1,
                suite,
                key: key.clone(),
                lifetime: None,
            }
            .to_value(),
        ]
    };
    let caller_key = MasterKey::random();
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let first = answer_offer(rule, "RTP/SAVP", &offered(&caller_key, suite))
        .unwrap()
        .unwrap();
    let mut us = first.session().unwrap();
    let mut caller = SrtpSession::new(suite, &caller_key, &first.local, None).unwrap();
    let mut sealed = Vec::new();
    caller.protect(&rtp(1, 1), &mut sealed).unwrap();
    us.unprotect(&mut sealed).unwrap();

    // The same keys again (hold, unhold): our key stays, nothing breaks.
    let mut again = answer_offer(rule, "RTP/SAVP", &offered(&caller_key, suite))
        .unwrap()
        .unwrap();
    renegotiate(Some(&mut us), Some(&mut again)).unwrap();
    assert_eq!(again.local, first.local);
    caller.protect(&rtp(2, 2), &mut sealed).unwrap();
    assert!(us.unprotect(&mut sealed).is_ok());

    // A new key from the caller: taken; our key stays, so the caller keeps decrypting us.
    let new_key = MasterKey::random();
    let mut rekeyed = answer_offer(rule, "RTP/SAVP", &offered(&new_key, suite))
        .unwrap()
        .unwrap();
    renegotiate(Some(&mut us), Some(&mut rekeyed)).unwrap();
    assert_eq!(rekeyed.local, first.local);
    let mut caller2 = SrtpSession::new(suite, &new_key, &first.local, None).unwrap();
    caller2.protect(&rtp(3, 3), &mut sealed).unwrap();
    assert!(us.unprotect(&mut sealed).is_ok());
    us.protect(&rtp(9, 9), &mut sealed).unwrap();
    assert!(caller.unprotect(&mut sealed).is_ok());

    // Another suite: both sides change, our key is fresh.
    let other = SrtpSuite::AesCm128HmacSha1_32;
    let mut switched = answer_offer(rule, "RTP/SAVP", &offered(&new_key, other))
        .unwrap()
        .unwrap();
    renegotiate(Some(&mut us), Some(&mut switched)).unwrap();
    assert_eq!(us.suite(), other);
    assert_ne!(switched.local, first.local);

    // Turning SRTP off or on mid-call is refused (488).
    assert_eq!(
        renegotiate(Some(&mut us), None),
        Err(SrtpRefusal::SecurityChange)
    );
    let mut late = answer_offer(rule, "RTP/SAVP", &offered(&new_key, suite))
        .unwrap()
        .unwrap();
    assert_eq!(
        renegotiate(None, Some(&mut late)),
        Err(SrtpRefusal::SecurityChange)
    );
    assert_eq!(renegotiate(None, None), Ok(()));
}
