//! SDES-SRTP (issue 11 item 3) with a real baresip over TLS: as an agent phone with
//! `mediaenc=srtp-mand` it answers a plain caller (audio checked both ways by content, and on
//! the wire: the phone's leg is SRTP under the key of our INVITE); as an SRTP caller it walks
//! the IVR with RFC 4733 digits; a plain offer when SRTP is mandatory gets 488. The test's own
//! SRTP caller is in `srtp_udp`.

use std::time::Duration;

use firstline::media::srtp::{CryptoLine, MasterKey, SrtpPolicy, SrtpSession, SrtpSuite};

use crate::agent_phone::{decode_g711, tone, tone_share};
use crate::baresip_peer::{
    VethNs, answered_call, baresip, baresip_config, baresip_dials, baresip_heard_the_caller,
    caller_hears_baresip, dtmf_mode_at_end, tls_app, walk_the_ivr, write_wav,
};
use crate::helpers::{tool, wait_for, within};
use crate::rtp::{RtpPacket, parse_rtp};
use crate::scenario::unclassified_caller;

/// The SDP block of the message whose `o=` line contains `origin`: its lines up to the next
/// `o=` line (baresip's trace prints each message as it went on the wire).
fn sdp_of<'a>(log: &'a str, origin: &str) -> Vec<&'a str> {
    let mut lines = log
        .lines()
        .skip_while(|l| !(l.contains("o=") && l.contains(origin)));
    let first = lines.next().into_iter();
    first
        .chain(lines.take_while(|l| !l.contains("o=")))
        .map(str::trim)
        .collect()
}

/// The value of the first line of `sdp` that starts with `prefix`, without it.
fn field<'a>(sdp: &[&'a str], prefix: &str) -> Option<&'a str> {
    sdp.iter().find_map(|l| {
        let at = l.find(prefix)?;
        Some(l[at + prefix.len()..].trim())
    })
}

/// Every UDP datagram the namespace delivers, seen through a raw socket (root): the test can
/// check what goes to baresip without being on the path. (source port, payload).
struct Sniffer {
    rx: std::sync::mpsc::Receiver<(u16, Vec<u8>)>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Sniffer {
    /// Starts capturing in the calling thread's network namespace.
    fn start() -> Sniffer {
        use socket2::{Domain, Protocol, Socket, Type};
        let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP))
            .unwrap_or_else(|e| panic!("raw UDP socket (needs root): {e}"));
        let sock: std::net::UdpSocket = raw.into();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else {
                    continue;
                };
                // IPv4 header (IHL words), then the UDP header (8 bytes).
                let b = &buf[..n];
                let ihl = usize::from(b[0] & 0x0f) * 4;
                let Some(udp) = b.get(ihl..).filter(|u| u.len() >= 8) else {
                    continue;
                };
                let src = u16::from_be_bytes([udp[0], udp[1]]);
                if tx.send((src, udp[8..].to_vec())).is_err() {
                    break;
                }
            }
        });
        Sniffer { rx, stop }
    }

    /// What was captured so far from source port `port`.
    fn sent_from(&self, port: u16) -> Vec<Vec<u8>> {
        self.rx
            .try_iter()
            .filter(|(p, _)| *p == port)
            .map(|(_, d)| d)
            .collect()
    }
}

#[tokio::test]
async fn baresip_phone_with_mandatory_srtp_answers_and_its_leg_is_srtp() {
    let ns = VethNs::new();
    ns.enter();
    let sniffer = Sniffer::start();
    within(120, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path(), |c| c.media.srtp_agents = SrtpPolicy::Mandatory).await;
        let tls = t.app.sip_tls_addr().expect("SIP over TLS");
        let conf = dir.path().join("baresip");
        std::fs::create_dir_all(&conf).unwrap();
        let source = dir.path().join("440.wav");
        write_wav(&source, &tone(440.0, 60.0));
        let account = format!(
            "<sip:2001@{tls};transport=tls>;auth_pass=2001-sip;answermode=auto;regint=600;\
             mediaenc=srtp-mand"
        );
        baresip_config(&conf, &ca, &source, &account, true);
        let phone = baresip(&conf);
        wait_for(Duration::from_secs(15), || async {
            t.app.sip().binding("2001")
        })
        .await
        .expect("baresip did not register over TLS within 15 s");

        t.login("anna").await;
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        wait_for(Duration::from_secs(15), || async {
            t.queue_row(&ua.call_id).await?.connected_at
        })
        .await
        .expect("baresip did not answer within 15 s");

        // Our INVITE offered RTP/SAVP with both suites, and baresip took one of our keys.
        let log = phone.log();
        let offer = sdp_of(&log, "firstline");
        let m = field(&offer, "m=audio ").unwrap_or_else(|| panic!("no offer in:\n{log}"));
        let our_port: u16 = m.split_whitespace().next().unwrap().parse().unwrap();
        assert!(m.contains(" RTP/SAVP "), "{m}");
        let keys: Vec<CryptoLine> = offer
            .iter()
            .filter_map(|l| CryptoLine::parse(l.split_once("a=crypto:")?.1.trim()).ok())
            .collect();
        assert_eq!(
            keys.iter().map(|k| (k.tag, k.suite)).collect::<Vec<_>>(),
            [
                (1, SrtpSuite::AesCm128HmacSha1_80),
                (2, SrtpSuite::AesCm128HmacSha1_32)
            ],
            "{offer:?}"
        );
        let phone_sdp = sdp_of(&log, "o=- ");
        let took = field(&phone_sdp, "a=crypto:")
            .and_then(|v| CryptoLine::parse(v).ok())
            .unwrap_or_else(|| panic!("no key in baresip's answer:\n{log}"));
        let ours = keys
            .iter()
            .find(|k| k.tag == took.tag)
            .expect("a tag of ours");

        // Both directions carry the right audio.
        caller_hears_baresip(&mut rtp, answer.rtp).await;

        // On the wire to baresip: SRTP under our key (the tag's length more, the tone only
        // after decryption), never the caller's plain G.711.
        let wire = sniffer.sent_from(our_port);
        assert!(
            wire.len() >= 100,
            "{} packets from our port {our_port}",
            wire.len()
        );
        let mut rx = SrtpSession::new(ours.suite, &MasterKey::random(), &ours.key, None).unwrap();
        let (mut plain, mut sealed) = (Vec::new(), Vec::new());
        for mut p in wire
            .into_iter()
            .filter(|p| p.len() == 12 + 160 + ours.suite.tag_len())
        {
            sealed.extend(parse_rtp(&p));
            let n = rx
                .unprotect(&mut p)
                .expect("our packets authenticate under our key");
            plain.extend(parse_rtp(&p[..n]));
        }
        let tail = |v: &[RtpPacket]| decode_g711(&v[v.len().saturating_sub(50)..]);
        let on_wire = tone_share(&tail(&sealed), 1000.0);
        let decrypted = tone_share(&tail(&plain), 1000.0);
        assert!(
            decrypted > 0.5 && on_wire < 0.1,
            "1 kHz decrypted {decrypted:.3}, as sent {on_wire:.3}"
        );
        assert_eq!(ua.bye().await, Some(200));

        baresip_heard_the_caller(&conf).await;
        assert!(phone.log().contains("SRTP is Enabled"), "{}", phone.log());
        assert_eq!(
            t.metric("firstline_srtp_legs_total{leg=\"agent\"}").await,
            1
        );
        assert_eq!(
            t.metric("firstline_srtp_legs_total{leg=\"caller\"}").await,
            0
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test]
async fn baresip_srtp_caller_walks_the_ivr_with_rfc4733_digits() {
    let ns = VethNs::new();
    ns.enter();
    within(120, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path(), |c| c.media.srtp_callers = SrtpPolicy::Mandatory).await;
        let account =
            "\"baresip\" <sip:+31201234502@10.254.0.1;transport=tls>;regint=0;mediaenc=srtp-mand";
        let mut caller = baresip_dials(&t, &ca, dir.path(), account, true).await;
        let (id, _) = answered_call(&t, &caller).await;
        // Our 200 OK answered RTP/SAVP with a key.
        let log = caller.log();
        let ours = sdp_of(&log, "firstline");
        assert!(
            field(&ours, "m=audio ").is_some_and(|m| m.contains(" RTP/SAVP ")),
            "{log}"
        );
        let key = field(&ours, "a=crypto:").and_then(|v| CryptoLine::parse(v).ok());
        assert!(key.is_some(), "{ours:?}");
        // RFC 4733 telephone-events, inside SRTP.
        walk_the_ivr(&t.pool, |c| caller.command(c), &id).await;
        assert!(caller.log().contains("SRTP is Enabled"), "{}", caller.log());
        assert_eq!(
            t.metric("firstline_srtp_legs_total{leg=\"caller\"}").await,
            1
        );
        caller.command("/hangup");
        let mode = dtmf_mode_at_end(&t.pool, &id).await;
        assert_eq!(
            mode.as_deref(),
            Some("rfc4733"),
            "the digits came as SRTP telephone-events"
        );
        caller.command("/quit");
        t.finish().await;
    })
    .await;
}

#[tokio::test]
async fn mandatory_srtp_refuses_a_plain_offer_over_tls() {
    let ns = VethNs::new();
    ns.enter();
    within(60, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path(), |c| c.media.srtp_callers = SrtpPolicy::Mandatory).await;
        let account = "\"baresip\" <sip:+31201234502@10.254.0.1;transport=tls>;regint=0";
        let caller = baresip_dials(&t, &ca, dir.path(), account, true).await;
        wait_for(Duration::from_secs(15), || async {
            caller.log().contains("SIP/2.0 488").then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("no 488 for the plain offer:\n{}", caller.log()));
        assert_eq!(t.metric("firstline_calls_refused_sdp_total").await, 1);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls")
            .fetch_one(&t.pool)
            .await
            .unwrap();
        assert_eq!(rows, 0, "a refused offer is not stored");
        t.finish().await;
    })
    .await;
}
