//! The SRTP target: an offer's `a=crypto` values through `answer_offer` (as the caller leg
//! answers them), then the leg's datagrams through `SrtpSession::unprotect` (as the call task runs
//! it before strict RTP), and through `protect`.

use firstline::media::rtp::{RtpHeader, RtpPacket, write_rtp};
use firstline::media::srtp::{
    CryptoLine, MAX_CRYPTO_LINES, MasterKey, SdesRule, SrtpPolicy, SrtpSession, SrtpSuite,
    answer_offer,
};

use crate::Target;
use crate::mutate::Input;

/// `answer_offer` on the crypto lines, then unprotect/protect on the datagrams.
pub(crate) const SRTP: Target = Target {
    name: "srtp",
    about: "a=crypto values through answer_offer, then SRTP datagrams through SrtpSession::unprotect (replays refused, failures leave the packet unchanged) and protect",
    seeds: srtp_seeds,
    dict: &[
        b"AES_CM_128_HMAC_SHA1_80",
        b"AES_CM_128_HMAC_SHA1_32",
        b"AES_256_CM_HMAC_SHA1_80",
        b" inline:",
        b"|2^31",
        b"|1:4",
        b"|2^48",
        b" UNENCRYPTED_SRTP",
        b" KDR=1",
        b"\n",
        b"==",
        b"\x80\x00",
        b"\x90\x00",
        b"\xff\xff\xff\xff",
    ],
    run: run_srtp,
};

/// The key the seed packets are protected under (the offer's `inline:` key).
fn seed_key() -> MasterKey {
    let mut k = [0u8; 30];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    MasterKey::from_bytes(k)
}

fn plain(seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let h = RtpHeader {
        payload_type: 0,
        marker: seq == 0,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: 0x5eed_0001,
    };
    write_rtp(&mut out, &h, payload);
    out
}

fn srtp_seeds() -> Vec<Input> {
    let key = seed_key();
    let mut seeds = Vec::new();
    for suite in SrtpSuite::ALL {
        let line = CryptoLine {
            tag: 1,
            suite,
            key: key.clone(),
            lifetime: None,
        };
        let lines = format!(
            "{}\n2 AES_CM_128_HMAC_SHA1_32 inline:{}|2^31",
            line.to_value(),
            key.to_base64()
        );
        let Ok(mut sender) = SrtpSession::new(suite, &key, &MasterKey::random(), None) else {
            continue;
        };
        let mut input = vec![lines.into_bytes()];
        for seq in 0..5u16 {
            let mut out = Vec::new();
            if sender.protect(&plain(seq, &[0xff; 160]), &mut out).is_ok() {
                input.push(out);
            }
        }
        seeds.push(input);
    }
    seeds
}

fn run_srtp(input: &Input) -> Result<(), String> {
    let text = String::from_utf8_lossy(&input[0]);
    let lines: Vec<String> = text
        .split('\n')
        .take(MAX_CRYPTO_LINES)
        .map(str::to_owned)
        .collect();
    let rule = SdesRule {
        policy: SrtpPolicy::Optional,
        keys_allowed: true,
    };
    let mut session = match answer_offer(rule, "RTP/SAVP", &lines) {
        Ok(Some(answer)) => {
            let ours = answer.to_value();
            let back = CryptoLine::parse(&ours)
                .map_err(|e| format!("our answer {ours:?} does not parse: {e}"))?;
            if (back.tag, back.suite) != (answer.tag, answer.suite) {
                return Err(format!("our answer {ours:?} reads back as {back:?}"));
            }
            match answer.session() {
                Ok(s) => s,
                Err(_) => return Ok(()),
            }
        }
        _ => match SrtpSession::new(SrtpSuite::ALL[0], &MasterKey::random(), &seed_key(), None) {
            Ok(s) => s,
            Err(e) => return Err(format!("a session with a good key failed: {e}")),
        },
    };
    let tag = session.suite().tag_len();
    for datagram in &input[1..] {
        let mut buf = datagram.clone();
        match session.unprotect(&mut buf) {
            Err(_) if buf != *datagram => {
                return Err("a refused packet was changed in place".into());
            }
            Err(_) => {}
            Ok(n) => {
                if n + tag > datagram.len() {
                    return Err(format!(
                        "{n} plain bytes from a {}-byte packet",
                        datagram.len()
                    ));
                }
                RtpPacket::parse(&buf[..n])
                    .map_err(|e| format!("an authenticated packet is not RTP: {e}"))?;
                let mut again = datagram.clone();
                if session.unprotect(&mut again).is_ok() {
                    return Err("a replayed packet was accepted".into());
                }
            }
        }
        // What we would send: any bytes in, never a panic; out grows by the tag at most.
        let mut out = Vec::new();
        if session.protect(datagram, &mut out).is_ok() && out.len() > datagram.len() + tag {
            return Err(format!(
                "protect grew {} bytes to {}",
                datagram.len(),
                out.len()
            ));
        }
    }
    Ok(())
}
