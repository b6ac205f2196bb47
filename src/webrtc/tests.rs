//! Two browser-leg peers wired together in memory with simulated time: ICE, DTLS-SRTP, G.711
//! both ways and the RTCP-based quality figures, without a socket or a sleep.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{BrowserPeer, PeerState};
use crate::media::g711::G711;
use crate::media::rtp::RtpPacket;

const SERVER: &str = "127.0.0.1:40000";
const BROWSER: &str = "127.0.0.1:40002";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Moves every pending datagram between the peers until neither has anything to send.
fn pump(now: Instant, server: &mut BrowserPeer, browser: &mut BrowserPeer) {
    for _ in 0..100 {
        let mut moved = false;
        while let Some((data, to)) = server.poll_transmit() {
            assert_eq!(
                to,
                addr(BROWSER),
                "the server only talks to the browser's candidate"
            );
            browser.handle_datagram(now, &data, addr(SERVER));
            moved = true;
        }
        while let Some((data, to)) = browser.poll_transmit() {
            assert_eq!(to, addr(SERVER));
            server.handle_datagram(now, &data, addr(BROWSER));
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

/// Advances simulated time in `step`s until `done` or `limit`, firing both peers' timers.
fn run_until(
    now: &mut Instant,
    limit: Duration,
    server: &mut BrowserPeer,
    browser: &mut BrowserPeer,
    mut done: impl FnMut(&mut BrowserPeer, &mut BrowserPeer) -> bool,
) -> bool {
    let end = *now + limit;
    while *now < end {
        pump(*now, server, browser);
        if done(server, browser) {
            return true;
        }
        *now += Duration::from_millis(10);
        server.handle_timeout(*now);
        browser.handle_timeout(*now);
    }
    false
}

fn connected_pair(server_law: G711, browser_law: G711) -> (Instant, BrowserPeer, BrowserPeer) {
    let mut now = Instant::now();
    let (mut browser, offer) =
        BrowserPeer::offer(now, addr(BROWSER), addr(BROWSER), browser_law).unwrap();
    assert!(
        offer.contains("PCMU/8000") && offer.contains("PCMA/8000"),
        "{offer}"
    );
    let (mut server, answer) =
        BrowserPeer::answer(now, &offer, addr(SERVER), addr(SERVER), server_law).unwrap();
    assert!(
        answer.contains("127.0.0.1 40000 typ host"),
        "our host candidate: {answer}"
    );
    assert!(answer.contains("UDP/TLS/RTP/SAVPF"), "DTLS-SRTP: {answer}");
    browser.accept_answer(now, &answer).unwrap();
    let up = run_until(
        &mut now,
        Duration::from_secs(10),
        &mut server,
        &mut browser,
        |s, b| s.state() == PeerState::Connected && b.state() == PeerState::Connected,
    );
    assert!(
        up,
        "ICE + DTLS did not connect: {:?} {:?}",
        server.state(),
        browser.state()
    );
    (now, server, browser)
}

fn packet(pt: u8, seq: u16, payload: &[u8]) -> RtpPacket<'_> {
    RtpPacket {
        payload_type: pt,
        marker: seq == 0,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: 1,
        payload,
    }
}

#[test]
fn g711_flows_both_ways_over_srtp() {
    let (mut now, mut server, mut browser) = connected_pair(G711::Pcmu, G711::Pcmu);
    let f = server.format().unwrap();
    assert_eq!(
        (f.codec, f.audio_pt),
        (G711::Pcmu, 0),
        "the caller's law, no transcoding"
    );
    assert!(f.event_pt.is_some(), "telephone-event negotiated");
    let to_browser: Vec<u8> = (0..160u8).collect();
    let from_browser = vec![0x55u8; 160];
    let (mut got_b, mut got_s) = (Vec::new(), Vec::new());
    for seq in 0..50u16 {
        assert!(server.send_rtp(now, &packet(f.audio_pt, seq, &to_browser)));
        let bf = browser.format().unwrap();
        assert!(browser.send_rtp(now, &packet(bf.audio_pt, seq, &from_browser)));
        pump(now, &mut server, &mut browser);
        while let Some(p) = browser.poll_rtp() {
            got_b.push(p);
        }
        while let Some(p) = server.poll_rtp() {
            got_s.push(p);
        }
        now += Duration::from_millis(20);
        server.handle_timeout(now);
        browser.handle_timeout(now);
    }
    assert_eq!(got_b.len(), 50, "every caller packet reached the browser");
    assert_eq!(got_s.len(), 50, "every browser packet reached the server");
    assert_eq!(
        &got_b[7].payload[..],
        &to_browser[..],
        "payload intact (SRTP round trip)"
    );
    assert_eq!(got_b[7].header.sequence_number, 7);
    assert_eq!(got_b[7].header.ssrc, server.ssrc());
    assert_eq!(&got_s[9].payload[..], &from_browser[..]);
}

#[test]
fn the_other_law_is_used_when_the_browser_prefers_it() {
    // The browser offers only what it prefers first; the answer keeps the caller's law when the
    // offer has it, whatever the order.
    let (_, server, _) = connected_pair(G711::Pcma, G711::Pcmu);
    let f = server.format().unwrap();
    assert_eq!((f.codec, f.audio_pt), (G711::Pcma, 8));
}

#[test]
fn quality_shows_loss_jitter_and_round_trip() {
    let (mut now, mut server, mut browser) = connected_pair(G711::Pcmu, G711::Pcmu);
    let payload = [0xFFu8; 160];
    let bpt = browser.format().unwrap().audio_pt;
    // 10 s of the browser's audio with every 10th packet lost on the way to the server.
    let mut dropped = 0;
    for seq in 0..500u16 {
        browser.send_rtp(now, &packet(bpt, seq, &payload));
        while let Some((data, _)) = browser.poll_transmit() {
            let rtp = data.len() > 12 && (data[1] & 0x7f) == bpt;
            if rtp && seq % 10 == 5 {
                dropped += 1;
                continue;
            }
            server.handle_datagram(now, &data, addr(BROWSER));
        }
        while let Some((data, _)) = server.poll_transmit() {
            browser.handle_datagram(now, &data, addr(SERVER));
        }
        while server.poll_rtp().is_some() {}
        now += Duration::from_millis(20);
        server.handle_timeout(now);
        browser.handle_timeout(now);
    }
    assert_eq!(dropped, 50);
    let q = server.quality(now);
    // Loss counts as of our last receiver report (one a second): the last few may be missing.
    assert!(
        q.packets_lost.is_some_and(|l| (40..=50).contains(&l)),
        "{q:?}"
    );
    assert_eq!(q.packets_received, Some(450), "{q:?}");
    let loss = q.loss_pct.unwrap();
    assert!((8.0..=11.0).contains(&loss), "10 % lost: {q:?}");
    assert!(
        q.jitter_ms.is_some_and(|j| j < 5.0),
        "simulated time has no jitter: {q:?}"
    );
    assert!(
        q.rtt_ms.is_some_and(|r| r < 50.0),
        "round trip of the consent checks: {q:?}"
    );
}

#[test]
fn an_offer_without_g711_is_refused() {
    let now = Instant::now();
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
               m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
               a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
               a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
               a=setup:actpass\r\na=rtcp-mux\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n";
    let r = BrowserPeer::answer(now, sdp, addr(SERVER), addr(SERVER), G711::Pcmu);
    assert!(r.is_err(), "no G.711 in the offer must be refused");
    let r = BrowserPeer::answer(now, "not sdp", addr(SERVER), addr(SERVER), G711::Pcmu);
    assert!(r.is_err());
}

/// Every truncation and every single-line removal or corruption of a real offer: the answer is
/// a clean `Ok` or `Err`, never a panic (the call task runs this on whatever the desk posts).
#[test]
fn mangled_offers_never_panic() {
    let now = Instant::now();
    let (_, offer) = BrowserPeer::offer(now, addr(BROWSER), addr(BROWSER), G711::Pcmu).unwrap();
    let lines: Vec<&str> = offer.split("\r\n").filter(|l| !l.is_empty()).collect();
    let mut variants: Vec<String> = Vec::new();
    for cut in (0..offer.len()).step_by(7) {
        if offer.is_char_boundary(cut) {
            variants.push(offer[..cut].to_owned());
        }
    }
    for skip in 0..lines.len() {
        let without: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| *l)
            .collect();
        variants.push(without.join("\r\n") + "\r\n");
        let mut garbled: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        garbled[skip] = format!("{}=\u{0}\u{ffff}:999999999999 x", &lines[skip][..1]);
        variants.push(garbled.join("\r\n") + "\r\n");
        let mut doubled: Vec<&str> = lines.clone();
        doubled.insert(skip, lines[skip]);
        variants.push(doubled.join("\r\n") + "\r\n");
    }
    let mut refused = 0;
    for v in &variants {
        let r = std::panic::catch_unwind(|| {
            BrowserPeer::answer(now, v, addr(SERVER), addr(SERVER), G711::Pcmu).map(|_| ())
        });
        match r {
            Ok(Ok(())) => {}
            Ok(Err(_)) => refused += 1,
            Err(_) => panic!("answering this offer panicked:\n{v}"),
        }
    }
    assert!(
        refused > variants.len() / 4,
        "most mangled offers are refused: {refused}/{}",
        variants.len()
    );
}
