//! Callbacks ring an agent's phone with the same offer as calls (`[media] srtp_agents`): under
//! mandatory SRTP the phone gets `RTP/SAVP` with `a=crypto` (send-only) and, once it answers
//! with keys, the notice arrives as SRTP that decrypts to the prompt (the test's phone uses
//! `firstline::media::srtp`; keys over UDP allowed for this test only); a phone not registered
//! over TLS is not rung for a callback, as for calls.

use std::time::Duration;

use firstline::media::srtp::{CryptoLine, MasterKey, SrtpPolicy, SrtpSession, SrtpSuite};
use serde_json::json;
use sqlx::Row;

use crate::agent_phone::decode_g711;
use crate::helpers::{TestApp, prompts_dir, spawn_queue_app, within};
use crate::rtp::{best_alignment, parse_rtp, read_wav};
use crate::scenario::{caller_asks_for_callback, registered_phone};
use crate::ua::sdp_offer;

const SECS: Duration = Duration::from_secs(1);

/// The one callback row's id and status.
async fn callback(t: &TestApp) -> (String, String) {
    let row = sqlx::query("SELECT id, status FROM callbacks")
        .fetch_one(&t.pool)
        .await
        .unwrap();
    (row.get("id"), row.get("status"))
}

/// Every datagram on `sock` until it has been quiet for `gap`.
async fn datagrams_until_quiet(sock: &tokio::net::UdpSocket, gap: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, _))) = tokio::time::timeout(gap, sock.recv_from(&mut buf)).await {
        got.push(buf[..n].to_vec());
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_notice_to_an_srtp_mandatory_phone_is_srtp() {
    within(90, async {
        let t = spawn_queue_app(|c| {
            c.media.srtp_agents = SrtpPolicy::Mandatory;
            c.media.srtp_allow_insecure_keys = true;
        })
        .await;
        let mut phone = registered_phone(&t, "2001").await;
        let token = t.not_ready("anna", "lunch").await;
        let call = caller_asks_for_callback(&t).await;
        assert_eq!(call.outcome.as_deref(), Some("callback"), "{call:?}");
        let (cb_id, _) = callback(&t).await;
        let (status, _) = t.set_state(&token, json!({"state": "available"})).await;
        assert_eq!(status, 200);
        let inv = phone
            .invite(10 * SECS)
            .await
            .expect("callback offered to anna");
        assert_eq!(inv.msg.header("x-firstline-callback"), Some(cb_id.as_str()));

        // The offer a call makes the phone, send-only: RTP/SAVP with both suites.
        let offer = inv.msg.body_str();
        assert!(offer.contains(" RTP/SAVP "), "{offer}");
        assert!(offer.contains("a=sendonly"), "{offer}");
        let keys: Vec<CryptoLine> = (offer.lines())
            .filter_map(|l| CryptoLine::parse(l.trim().strip_prefix("a=crypto:")?).ok())
            .collect();
        assert_eq!(
            keys.iter().map(|k| (k.tag, k.suite)).collect::<Vec<_>>(),
            [
                (1, SrtpSuite::AesCm128HmacSha1_80),
                (2, SrtpSuite::AesCm128HmacSha1_32)
            ],
            "{offer}"
        );

        // The phone takes tag 1 under its own key.
        let ours = MasterKey::random();
        let line = CryptoLine {
            tag: 1,
            suite: SrtpSuite::AesCm128HmacSha1_80,
            key: ours.clone(),
            lifetime: None,
        };
        let crypto = format!("a=crypto:{}", line.to_value());
        let answer = sdp_offer(
            phone.rtp.addr(),
            &[(0, "PCMU/8000")],
            &[&crypto, "a=recvonly"],
        )
        .replace("RTP/AVP", "RTP/SAVP");
        phone.ring().await;
        assert!(
            phone.answer_sdp(&answer).await,
            "no ACK for the phone's 200"
        );
        let wire = datagrams_until_quiet(&phone.rtp.sock, SECS).await;
        assert!(
            phone.expect_bye(10 * SECS).await,
            "the notice ends with BYE"
        );

        // On the wire: SRTP (a 10-byte tag more), the plain prompt only after decryption.
        assert!(wire.len() >= 50, "{} packets of the notice", wire.len());
        let mut rx = SrtpSession::new(line.suite, &ours, &keys[0].key, None).unwrap();
        let (mut sealed, mut plain) = (Vec::new(), Vec::new());
        for mut p in wire {
            assert_eq!(p.len(), 12 + 160 + 10, "an SRTP packet of 20 ms PCMU");
            sealed.extend(parse_rtp(&p));
            let n = rx.unprotect(&mut p).expect("the notice authenticates");
            plain.extend(parse_rtp(&p[..n]));
        }
        let prompt = read_wav(&prompts_dir().join("en/callback_agent.wav"));
        let len = prompt.len().min(8000);
        let heard = decode_g711(&plain);
        let (corr, _) = best_alignment(&heard, &prompt, len, heard.len().saturating_sub(len));
        assert!(corr > 0.9, "the notice decrypts to the prompt ({corr:.3})");
        let raw = decode_g711(&sealed);
        let (raw_corr, _) = best_alignment(&raw, &prompt, len, raw.len().saturating_sub(len));
        assert!(
            raw_corr < 0.3,
            "the notice went out in clear ({raw_corr:.3})"
        );

        assert_eq!(
            t.metric("firstline_srtp_legs_total{leg=\"agent\"}").await,
            1
        );
        let done = t.callback_reaches(&cb_id, "done", 5 * SECS).await;
        assert_eq!(done.as_deref(), Some("done"));
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandatory_srtp_does_not_ring_a_plain_phone_for_a_callback() {
    within(60, async {
        // Keys only over TLS (the default): a phone registered over UDP cannot get them.
        let t = spawn_queue_app(|c| c.media.srtp_agents = SrtpPolicy::Mandatory).await;
        let mut phone = registered_phone(&t, "2001").await;
        let token = t.not_ready("anna", "lunch").await;
        caller_asks_for_callback(&t).await;
        let (status, _) = t.set_state(&token, json!({"state": "available"})).await;
        assert_eq!(status, 200);
        let skipped = crate::helpers::wait_for(10 * SECS, || async {
            let n = t.metric("firstline_srtp_agent_skipped_total").await;
            (n > 0).then_some(n)
        })
        .await;
        assert!(skipped.is_some(), "the skipped phone is not counted");
        assert!(
            phone.invite(3 * SECS).await.is_none(),
            "a plain phone was rung under mandatory SRTP"
        );
        let (_, status) = callback(&t).await;
        assert_eq!(status, "pending", "the callback waits for another agent");
        t.finish().await;
    })
    .await;
}
