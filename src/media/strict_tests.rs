//! Scenario tests of strict RTP with simulated time: confirmation, SDP-only sources, learning
//! runs behind NAT, locking, re-INVITE, relearning after silence, and a stray-packet sweep.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::rtp::RtpHeader;
use super::strict::{
    DropCounters, DropReason, LEARN_WAIT, RtpSource, SEND_WAIT, StrictConfig, StrictRtp, Verdict,
};

const ACCEPT: Verdict = Verdict::Accept;
const FOREIGN: Verdict = Verdict::Drop(DropReason::ForeignSource);
const LEARNING: Verdict = Verdict::Drop(DropReason::Learning);
const MS20: Duration = Duration::from_millis(20);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// What the caller's SDP names.
fn sdp() -> SocketAddr {
    addr("127.0.0.2:40000")
}
/// Where the NATed caller's packets really come from.
fn nat() -> SocketAddr {
    addr("127.0.0.1:51000")
}
fn rogue() -> SocketAddr {
    addr("127.0.0.1:52000")
}

fn symmetric() -> StrictConfig {
    StrictConfig {
        source: RtpSource::Symmetric,
        ..StrictConfig::default()
    }
}

/// A symmetric leg confirmed at `t0` whose SDP names `sdp`, and the moment its wait is over.
fn open_leg(cfg: StrictConfig, sdp: Option<SocketAddr>) -> (StrictRtp, Instant) {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(cfg, sdp, t0);
    st.confirm(t0);
    (st, t0 + LEARN_WAIT)
}

/// One stream: SSRC and the next sequence number.
struct Stream(u32, u16);

impl Stream {
    fn next(&mut self) -> RtpHeader {
        let h = RtpHeader {
            payload_type: 0,
            marker: false,
            sequence: self.1,
            timestamp: u32::from(self.1) * 160,
            ssrc: self.0,
        };
        self.1 = self.1.wrapping_add(1);
        h
    }
}

/// Feeds `n` packets of `s` from `src`, 20 ms apart from `*now`; returns the verdicts.
fn feed(
    st: &mut StrictRtp,
    now: &mut Instant,
    src: SocketAddr,
    s: &mut Stream,
    n: usize,
) -> Vec<Verdict> {
    (0..n)
        .map(|_| {
            *now += MS20;
            st.on_packet(*now, src, &s.next())
        })
        .collect()
}

#[test]
fn nothing_is_sent_before_the_ack() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(StrictConfig::default(), Some(sdp()), t0);
    assert!(!st.may_send(t0));
    assert_eq!(st.destination(t0 + Duration::from_secs(30)), None);
    // A stray cannot confirm the leg for us.
    let mut rogue_stream = Stream(7, 100);
    let mut now = t0;
    assert_eq!(
        feed(&mut st, &mut now, rogue(), &mut rogue_stream, 10),
        [FOREIGN; 10]
    );
    assert!(!st.is_confirmed() && !st.may_send(now));
    st.confirm(now);
    assert_eq!(st.destination(now), Some(sdp()));
}

#[test]
fn rtp_from_the_sdp_address_confirms_the_leg() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(StrictConfig::default(), Some(sdp()), t0);
    let mut caller = Stream(1, 9);
    let mut now = t0;
    assert_eq!(feed(&mut st, &mut now, sdp(), &mut caller, 1), [ACCEPT]);
    assert!(st.is_confirmed());
    assert_eq!(st.destination(now), Some(sdp()));
    assert_eq!(st.source(), Some(sdp()));
}

#[test]
fn sdp_mode_never_takes_another_source() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(StrictConfig::default(), Some(sdp()), t0);
    st.confirm(t0);
    let mut now = t0;
    // The NATed caller's perfect stream is still not the SDP's address.
    let mut natted = Stream(1, 0);
    assert_eq!(
        feed(&mut st, &mut now, nat(), &mut natted, 200),
        [FOREIGN; 200]
    );
    // Same IP, other port: foreign too.
    let mut other_port = Stream(1, 0);
    assert_eq!(
        feed(
            &mut st,
            &mut now,
            addr("127.0.0.2:40002"),
            &mut other_port,
            5
        ),
        [FOREIGN; 5]
    );
    assert_eq!(st.destination(now), Some(sdp()));
    assert_eq!(st.source(), None);
}

#[test]
fn symmetric_learns_a_natted_caller_after_a_run() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(symmetric(), Some(sdp()), t0);
    let mut now = t0;
    let mut caller = Stream(42, 65533);
    // Before the ACK the run grows (across the sequence wrap) but nothing is learned or sent.
    assert_eq!(
        feed(&mut st, &mut now, nat(), &mut caller, 5),
        [LEARNING; 5]
    );
    assert_eq!((st.source(), st.destination(now)), (None, None));
    st.confirm(now);
    assert!(st.is_confirmed());
    // The SDP's address gets its moment to speak; then the caller's next packet is learned.
    let acked = now;
    let verdicts = feed(&mut st, &mut now, nat(), &mut caller, 25);
    let first = verdicts.iter().position(|v| *v == ACCEPT).unwrap();
    assert!(
        verdicts[first..].iter().all(|v| *v == ACCEPT),
        "{verdicts:?}"
    );
    assert_eq!(acked + MS20 * (first as u32 + 1), acked + LEARN_WAIT);
    assert_eq!(st.source(), Some(nat()));
    assert_eq!(st.destination(now), Some(nat()));
}

#[test]
fn a_learned_foreign_source_does_not_confirm() {
    let mut st = StrictRtp::new(
        StrictConfig {
            learn_packets: 1,
            ..symmetric()
        },
        Some(sdp()),
        Instant::now(),
    );
    let mut now = Instant::now() + Duration::from_secs(5);
    assert_eq!(
        feed(&mut st, &mut now, nat(), &mut Stream(1, 0), 3),
        [LEARNING; 3]
    );
    assert!(!st.is_confirmed() && !st.may_send(now));
}

#[test]
fn a_rogue_streaming_from_before_the_ack_loses_to_an_honest_caller() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(symmetric(), Some(sdp()), t0);
    let mut now = t0;
    let mut r = Stream(2, 0);
    assert_eq!(feed(&mut st, &mut now, rogue(), &mut r, 20), [LEARNING; 20]);
    st.confirm(now);
    // The caller's phone starts 200 ms after its ACK; the rogue never stopped.
    assert_eq!(feed(&mut st, &mut now, rogue(), &mut r, 10), [LEARNING; 10]);
    assert_eq!(st.destination(now), None);
    assert_eq!(
        feed(&mut st, &mut now, sdp(), &mut Stream(1, 0), 1),
        [ACCEPT]
    );
    assert_eq!(
        feed(&mut st, &mut now, rogue(), &mut r, 100),
        [FOREIGN; 100]
    );
    assert_eq!(st.destination(now), Some(sdp()));
}

#[test]
fn a_broken_run_starts_again() {
    let (mut st, mut now) = open_leg(symmetric(), Some(sdp()));
    let mut s = Stream(5, 10);
    assert_eq!(feed(&mut st, &mut now, nat(), &mut s, 3), [LEARNING; 3]);
    s.1 += 1; // one packet lost
    assert_eq!(feed(&mut st, &mut now, nat(), &mut s, 3), [LEARNING; 3]);
    let mut other_ssrc = Stream(6, s.1);
    assert_eq!(
        feed(&mut st, &mut now, nat(), &mut other_ssrc, 4),
        [LEARNING, LEARNING, LEARNING, ACCEPT]
    );
    // Once learned, the source's packets are accepted whatever their sequence (a duplicate).
    now += MS20;
    let dup = RtpHeader {
        sequence: other_ssrc.1.wrapping_sub(1),
        ..other_ssrc.next()
    };
    assert_eq!(st.on_packet(now, nat(), &dup), ACCEPT);
}

#[test]
fn interleaved_strays_do_not_stop_the_caller_from_being_learned() {
    let (mut st, mut now) = open_leg(symmetric(), None);
    let mut caller = Stream(1, 0);
    let mut verdicts = Vec::new();
    for i in 0..4u16 {
        verdicts.push(st.on_packet(now, nat(), &caller.next()));
        // Between two caller packets, one packet from each of three new sources (a scan).
        for k in 0..3u16 {
            let stray = SocketAddr::new(nat().ip(), 60000 + i * 3 + k);
            let h = RtpHeader {
                payload_type: 0,
                marker: false,
                sequence: k,
                timestamp: 0,
                ssrc: 99,
            };
            let at = now + Duration::from_millis(5 * u64::from(k + 1));
            // Learning while the caller's run grows; foreign once the caller is learned.
            let want = if i < 3 { LEARNING } else { FOREIGN };
            assert_eq!(st.on_packet(at, stray, &h), want);
        }
        now += MS20;
    }
    assert_eq!(verdicts, [LEARNING, LEARNING, LEARNING, ACCEPT]);
}

#[test]
fn a_learned_source_is_never_replaced_by_a_stray() {
    let (mut st, mut now) = open_leg(symmetric(), Some(sdp()));
    let mut caller = Stream(1, 0);
    feed(&mut st, &mut now, nat(), &mut caller, 4);
    assert_eq!(st.source(), Some(nat()));
    // A rogue's long, perfect run mid-call changes nothing, even while the caller is quiet for
    // a minute (relearning after silence is off by default).
    let mut r = Stream(2, 0);
    now += Duration::from_secs(60);
    assert_eq!(
        feed(&mut st, &mut now, rogue(), &mut r, 500),
        [FOREIGN; 500]
    );
    assert_eq!(st.destination(now), Some(nat()));
    assert_eq!(feed(&mut st, &mut now, nat(), &mut caller, 1), [ACCEPT]);
}

#[test]
fn the_sdp_address_takes_over_from_a_learned_source() {
    let (mut st, mut now) = open_leg(symmetric(), Some(sdp()));
    // A rogue got its run in before the caller's first packet (the caller was slow)...
    let mut r = Stream(2, 0);
    assert_eq!(feed(&mut st, &mut now, rogue(), &mut r, 4)[3], ACCEPT);
    // ...then the caller's own (signalled) address speaks: it wins, and the rogue is out.
    let mut caller = Stream(1, 0);
    assert_eq!(feed(&mut st, &mut now, sdp(), &mut caller, 1), [ACCEPT]);
    assert_eq!(st.destination(now), Some(sdp()));
    assert_eq!(feed(&mut st, &mut now, rogue(), &mut r, 10), [FOREIGN; 10]);
}

#[test]
fn relearning_after_a_verified_silence_when_configured() {
    let cfg = StrictConfig {
        relearn_after: Some(Duration::from_secs(2)),
        ..symmetric()
    };
    let (mut st, mut now) = open_leg(cfg, Some(sdp()));
    let mut caller = Stream(1, 0);
    feed(&mut st, &mut now, nat(), &mut caller, 4);
    // Silence shorter than the setting: still locked.
    now += Duration::from_millis(1900);
    let mut moved = Stream(1, 4);
    let new_nat = addr("127.0.0.1:51002");
    assert_eq!(
        feed(&mut st, &mut now, new_nat, &mut moved, 3),
        [FOREIGN; 3]
    );
    // Past it (the failed attempts above were not the source speaking): a new run may win,
    // and the old source keeps our audio until it does.
    now += Duration::from_millis(200);
    assert_eq!(
        feed(&mut st, &mut now, new_nat, &mut moved, 4),
        [LEARNING, LEARNING, LEARNING, ACCEPT]
    );
    assert_eq!(st.destination(now), Some(new_nat));
    assert_eq!(feed(&mut st, &mut now, nat(), &mut caller, 2), [FOREIGN; 2]);
}

#[test]
fn packets_we_do_not_use_keep_the_source_alive() {
    let cfg = StrictConfig {
        relearn_after: Some(Duration::from_secs(1)),
        ..symmetric()
    };
    let (mut st, mut now) = open_leg(cfg, None);
    let mut caller = Stream(1, 0);
    feed(&mut st, &mut now, nat(), &mut caller, 4);
    assert_eq!(st.source(), Some(nat()));
    for _ in 0..100 {
        now += MS20;
        assert!(st.heard(now, nat()), "comfort noise from the source");
        assert!(!st.heard(now, rogue()));
    }
    let mut r = Stream(2, 0);
    assert_eq!(feed(&mut st, &mut now, rogue(), &mut r, 10), [FOREIGN; 10]);
}

#[test]
fn a_reinvite_with_a_new_address_starts_over() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(StrictConfig::default(), Some(sdp()), t0);
    st.confirm(t0);
    let mut now = t0;
    let mut caller = Stream(1, 0);
    feed(&mut st, &mut now, sdp(), &mut caller, 3);
    // Old-style hold and the same address again change nothing.
    st.on_sdp(now, None);
    st.on_sdp(now, Some(sdp()));
    assert_eq!(st.source(), Some(sdp()));
    let moved = addr("127.0.0.3:40010");
    st.on_sdp(now, Some(moved));
    assert_eq!(st.source(), None);
    assert_eq!(
        st.destination(now),
        Some(moved),
        "the dialog stays confirmed"
    );
    assert_eq!(feed(&mut st, &mut now, sdp(), &mut caller, 2), [FOREIGN; 2]);
    assert_eq!(feed(&mut st, &mut now, moved, &mut caller, 1), [ACCEPT]);
}

#[test]
fn symmetric_waits_for_the_caller_before_using_the_sdp_address() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(symmetric(), Some(sdp()), t0);
    let acked = t0 + Duration::from_millis(50);
    st.confirm(acked);
    // A phone that stays silent until it hears us gets our audio after SEND_WAIT.
    assert_eq!(st.destination(acked), None);
    assert_eq!(st.destination(acked + SEND_WAIT - MS20), None);
    assert_eq!(st.destination(acked + SEND_WAIT), Some(sdp()));
    // A caller behind NAT that starts late is learned and gets the audio from then on.
    let mut now = acked + SEND_WAIT;
    let mut caller = Stream(3, 0);
    assert_eq!(feed(&mut st, &mut now, nat(), &mut caller, 4)[3], ACCEPT);
    assert_eq!(st.destination(now), Some(nat()));
    // New SDP: the wait starts again for the new address.
    let moved = addr("127.0.0.2:40100");
    st.on_sdp(now, Some(moved));
    assert_eq!(st.destination(now + LEARN_WAIT), None);
    assert_eq!(st.destination(now + SEND_WAIT), Some(moved));
}

#[test]
fn a_natted_caller_is_learned_before_anything_goes_to_its_private_address() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(symmetric(), Some(sdp()), t0);
    st.confirm(t0);
    // Its packets are late (a loaded phone or network): 700 ms after the ACK.
    let mut now = t0 + Duration::from_millis(680);
    let verdicts = feed(&mut st, &mut now, nat(), &mut Stream(3, 0), 4);
    assert_eq!(verdicts, [LEARNING, LEARNING, LEARNING, ACCEPT]);
    assert!(now < t0 + SEND_WAIT);
    assert_eq!(st.destination(now), Some(nat()));
}

#[test]
fn agent_leg_answer_sets_the_address_and_confirms() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(StrictConfig::default(), None, t0);
    let mut now = t0;
    let mut phone = Stream(8, 0);
    let phone_addr = addr("127.0.0.1:47000");
    assert_eq!(
        feed(&mut st, &mut now, phone_addr, &mut phone, 1),
        [FOREIGN]
    );
    st.on_sdp(now, Some(phone_addr));
    st.confirm(now);
    assert_eq!(st.destination(now), Some(phone_addr));
    assert_eq!(feed(&mut st, &mut now, phone_addr, &mut phone, 1), [ACCEPT]);
}

#[test]
fn a_run_of_one_learns_at_once() {
    let cfg = StrictConfig {
        learn_packets: 1,
        ..symmetric()
    };
    let (mut st, mut now) = open_leg(cfg, Some(sdp()));
    assert_eq!(
        feed(&mut st, &mut now, nat(), &mut Stream(1, 0), 1),
        [ACCEPT]
    );
}

#[test]
fn ipv4_mapped_sources_match_the_sdp_address() {
    let t0 = Instant::now();
    let mut st = StrictRtp::new(StrictConfig::default(), Some(sdp()), t0);
    let mapped = addr("[::ffff:127.0.0.2]:40000");
    let mut now = t0;
    assert_eq!(
        feed(&mut st, &mut now, mapped, &mut Stream(1, 0), 1),
        [ACCEPT]
    );
}

#[test]
fn stray_sweep_never_captures_an_sdp_leg() {
    // Random sources, SSRCs and sequence numbers: in SDP mode none is ever accepted; in
    // symmetric mode one is learned at most once the leg has no source, and then stays.
    let t0 = Instant::now();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut strict = StrictRtp::new(StrictConfig::default(), Some(sdp()), t0);
    strict.confirm(t0);
    let mut sym = StrictRtp::new(symmetric(), Some(sdp()), t0);
    sym.confirm(t0);
    let mut now = t0;
    let mut learned = None;
    for _ in 0..50_000 {
        now += Duration::from_micros(rnd() % 5000);
        let r = rnd();
        let src = SocketAddr::new(nat().ip(), 50000 + (r % 8) as u16);
        let h = RtpHeader {
            payload_type: 0,
            marker: false,
            sequence: (r >> 8) as u16 % 4,
            timestamp: 0,
            ssrc: (r >> 24) as u32 % 2,
        };
        assert_eq!(strict.on_packet(now, src, &h), FOREIGN);
        if sym.on_packet(now, src, &h) == ACCEPT {
            assert!(learned.is_none_or(|l| l == src), "source replaced");
            learned = Some(src);
        }
    }
    assert_eq!(strict.source(), None);
}

#[test]
fn counters_per_reason() {
    let c = DropCounters::default();
    c.count(DropReason::ForeignSource);
    c.count(DropReason::ForeignSource);
    c.count(DropReason::Malformed);
    assert_eq!(c.total(), 3);
    let snap = c.snapshot();
    let get = |r: DropReason| snap.0.iter().find(|(x, _)| *x == r).map(|(_, n)| *n);
    assert_eq!(get(DropReason::ForeignSource), Some(2));
    assert_eq!(get(DropReason::Learning), Some(0));
    let names: Vec<&str> = snap.0.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "malformed",
            "payload_type",
            "before_answer",
            "foreign_source",
            "learning",
            "srtp_auth",
            "srtp_replay"
        ]
    );
}

#[test]
fn settings_come_from_the_media_section() {
    let cfg = crate::config::Config::from_toml(
        "[media]\nrtp_source = \"symmetric\"\nrtp_learn_packets = 6\nrtp_relearn_after_ms = 3000\n",
    )
    .unwrap();
    cfg.validate().unwrap();
    assert_eq!(
        StrictConfig::from_media(&cfg.media),
        StrictConfig {
            source: RtpSource::Symmetric,
            learn_packets: 6,
            relearn_after: Some(Duration::from_secs(3)),
        }
    );
    let defaults = crate::config::Config::from_toml("").unwrap();
    assert_eq!(
        StrictConfig::from_media(&defaults.media),
        StrictConfig::default()
    );
    let bad = crate::config::Config::from_toml("[media]\nrtp_learn_packets = 0\n").unwrap();
    assert!(bad.validate().is_err());
    assert!(crate::config::Config::from_toml("[media]\nrtp_source = \"any\"\n").is_err());
}
