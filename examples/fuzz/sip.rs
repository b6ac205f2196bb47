//! SIP targets: datagrams into the sans-IO core as the UDP reader hands them over, and byte
//! streams cut anywhere through the TCP/TLS framer and then into the core.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use firstline::sip::wire::{
    Core, Frame, Peer, SipMsg, SipStats, StartLine, StreamFramer, Timers, parse,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Target;
use crate::corpus;
use crate::mutate::Input;

/// `[sip] max_message_bytes`' default.
const MAX_MESSAGE: usize = 65_535;

const DICT: &[&[u8]] = &[
    b"SIP/2.0",
    b"SIP/2.0 200 OK\r\n",
    b"INVITE sip:100@127.0.0.1 SIP/2.0\r\n",
    b"ACK",
    b"BYE",
    b"CANCEL",
    b"REGISTER",
    b"INFO",
    b"sip:",
    b"sips:",
    b"tel:+31",
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK",
    b"Via: SIP/2.0/TCP [::1]:5060;rport;received=",
    b";branch=z9hG4bK",
    b";branch=",
    b";tag=",
    b";rport",
    b";lr",
    b"Content-Length: ",
    b"l: ",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Type: application/sdp\r\n",
    b"CSeq: ",
    b"CSeq: 4294967296 INVITE\r\n",
    b"Call-ID: ",
    b"From: ",
    b"To: ",
    b"Contact: *",
    b"Contact: <sip:a@[::1]:5070;transport=tls>;expires=",
    b"Expires: ",
    b"Max-Forwards: 0\r\n",
    b"Route: <sip:10.0.0.1;lr>\r\n",
    b"Record-Route: ",
    b"Path: ",
    b"Require: ",
    b"Authorization: Digest ",
    b"nc=00000001",
    b"qop=auth",
    b"algorithm=SHA-256",
    b"uri=\"",
    b"response=\"",
    b"nonce=\"",
];

/// A UDP datagram path: every part is a datagram from one phone (`udp::run_reader`, then
/// `Core::handle_message`), then the core's timers run to their end.
pub(crate) const UDP: Target = Target {
    name: "sip",
    about: "SIP datagrams (an exchange of up to 8) into the sans-IO core; what it sends parses; a parsed message re-serialised parses the same",
    seeds: corpus::sip_seeds,
    dict: DICT,
    run: run_udp,
};

/// A stream: the parts are concatenated and cut at random places.
pub(crate) const STREAM: Target = Target {
    name: "sip-stream",
    about: "a TCP/TLS byte stream cut anywhere through the framer (same frames as one read, linear work) and into the core",
    seeds: stream_seeds,
    dict: DICT,
    run: run_stream,
};

fn new_core() -> Core {
    Core::new(
        "firstline-fuzz".into(),
        Timers::default(),
        Arc::new(SipStats::default()),
    )
}

fn phone() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5070))
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5060))
}

/// What the core sent: every message parses again and goes back to the peer it came from.
fn drain(core: &mut Core, peer: &Peer) -> Result<(), String> {
    while let Some(t) = core.poll_transmit() {
        if let Err(e) = parse(&t.bytes) {
            return Err(format!(
                "we sent a message that does not parse ({e}): {:?}",
                String::from_utf8_lossy(&t.bytes)
            ));
        }
        if t.to != *peer {
            return Err(format!("sent to {:?}, not to the peer {peer:?}", t.to));
        }
    }
    Ok(())
}

/// Runs the core's timers (retransmissions, timeouts) until nothing is left, jumping time.
fn run_timers(core: &mut Core, mut now: Instant, peer: &Peer) -> Result<(), String> {
    for _ in 0..64 {
        let Some(at) = core.poll_timeout() else {
            return Ok(());
        };
        now = now.max(at);
        core.handle_timeout(now);
        drain(core, peer)?;
    }
    Ok(())
}

/// The message written back from its parsed form.
fn reserialise(m: &SipMsg) -> Vec<u8> {
    let mut out = match &m.start {
        StartLine::Request { method, uri } => {
            format!("{} {uri} {}\r\n", method.as_str(), m.version)
        }
        StartLine::Response { code } => format!("SIP/2.0 {code} Reason\r\n"),
    };
    for h in m.headers.iter() {
        out.push_str(&format!("{}: {}\r\n", h.name(), h.value()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&m.body);
    bytes
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A parsed message written back parses to the same start line, headers and body.
fn check_round_trip(bytes: &[u8]) -> Result<(), String> {
    let Ok(m) = parse(bytes) else {
        return Ok(());
    };
    let again = reserialise(&m);
    let m2 = parse(&again).map_err(|e| {
        format!(
            "re-serialised message does not parse ({e}): {:?}",
            String::from_utf8_lossy(&again)
        )
    })?;
    let a: Vec<(String, String)> = m
        .headers
        .iter()
        .map(|h| (h.name().to_ascii_lowercase(), squash(h.value())))
        .collect();
    let b: Vec<(String, String)> = m2
        .headers
        .iter()
        .map(|h| (h.name().to_ascii_lowercase(), squash(h.value())))
        .collect();
    if format!("{:?}", m.start) != format!("{:?}", m2.start) || a != b || m.body != m2.body {
        return Err(format!(
            "re-serialised message parses differently:\n{a:?}\n{b:?}\n{:?} / {:?}",
            m.start, m2.start
        ));
    }
    Ok(())
}

fn run_udp(input: &Input) -> Result<(), String> {
    let mut core = new_core();
    let peer = Peer::Udp(phone());
    let mut now = Instant::now();
    for datagram in input {
        // `udp::run_reader`: keep-alive CRLFs are skipped, oversized datagrams get a 413.
        if !datagram.is_empty() && datagram.iter().all(|b| *b == b'\r' || *b == b'\n') {
            continue;
        }
        check_round_trip(datagram)?;
        if datagram.len() > MAX_MESSAGE {
            core.reject_too_large(&peer, datagram);
        } else {
            core.handle_message(now, peer.clone(), local(), datagram);
        }
        drain(&mut core, &peer)?;
        now += std::time::Duration::from_millis(10);
    }
    run_timers(&mut core, now, &peer)
}

/// Every seed exchange as one stream, plus pings, keep-alives and a line of garbage.
fn stream_seeds() -> Vec<Input> {
    let mut seeds = corpus::sip_seeds();
    let first = seeds[0][0].clone();
    seeds.push(vec![
        b"\r\n\r\n".to_vec(),
        first.clone(),
        b"\r\n".to_vec(),
        first.clone(),
    ]);
    seeds.push(vec![
        b"hello world\r\n\x00\x01junk\r\n".to_vec(),
        first.clone(),
    ]);
    seeds.push(vec![
        b"OPT(ONS sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
        first,
    ]);
    seeds
}

fn all_frames(f: &mut StreamFramer) -> Vec<Frame> {
    std::iter::from_fn(|| f.next_frame()).collect()
}

/// Frames of `stream` pushed in pieces ending at `cuts`, and the framer's work.
fn framed(stream: &[u8], cuts: &[usize], max: usize) -> (Vec<Frame>, u64) {
    let mut f = StreamFramer::new(max);
    let mut frames = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&stream.len())) {
        f.push(&stream[from..to]);
        frames.extend(all_frames(&mut f));
        from = to;
    }
    (frames, f.work())
}

/// Consecutive `Garbage` frames are one (how much garbage is cut per frame depends on how the
/// bytes arrived, and only a counter sees it).
fn coalesced(frames: Vec<Frame>) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::with_capacity(frames.len());
    for f in frames {
        if f == Frame::Garbage && out.last() == Some(&Frame::Garbage) {
            continue;
        }
        out.push(f);
    }
    out
}

/// FNV-1a, to derive the cuts from the input itself (a saved input replays the same cuts).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Frames for a report: kind and the first bytes.
fn show(frames: &[Frame]) -> String {
    let text = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(&b[..b.len().min(80)]));
    frames
        .iter()
        .map(|f| match f {
            Frame::Message(b) => format!("  Message({}) {}", b.len(), text(b)),
            Frame::MissingLength(b) => format!("  MissingLength({}) {}", b.len(), text(b)),
            Frame::TooLarge { head, close } => format!("  TooLarge({}, close {close})", head.len()),
            other => format!("  {other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_linear(work: u64, n: usize, how: &str) -> Result<(), String> {
    let n = n as u64;
    if work > 8 * n + 1024 {
        return Err(format!("framing cost {work} for {n} bytes ({how})"));
    }
    Ok(())
}

fn run_stream(input: &Input) -> Result<(), String> {
    let stream = input.concat();
    let mut rng = StdRng::seed_from_u64(fnv(&stream));
    let mut cuts: Vec<usize> = (0..rng.random_range(1..24))
        .map(|_| rng.random_range(0..=stream.len()))
        .collect();
    cuts.sort_unstable();
    let (whole, work) = framed(&stream, &[], MAX_MESSAGE);
    check_linear(work, stream.len(), "one read")?;
    let (pieces, work) = framed(&stream, &cuts, MAX_MESSAGE);
    check_linear(work, stream.len(), "cut")?;
    let whole = coalesced(whole);
    if coalesced(pieces.clone()) != whole {
        return Err(format!(
            "cut at {cuts:?}:\n{}\none read:\n{}",
            show(&coalesced(pieces)),
            show(&whole)
        ));
    }
    if stream.len() <= 4096 {
        let every: Vec<usize> = (1..stream.len()).collect();
        let (bytes, work) = framed(&stream, &every, MAX_MESSAGE);
        check_linear(work, stream.len(), "a byte at a time")?;
        if coalesced(bytes) != whole {
            return Err("a byte at a time gives other frames than one read".into());
        }
    }
    // A small limit: oversized frames and runaway lines, still linear.
    let (_, work) = framed(&stream, &cuts, 300);
    check_linear(work, stream.len(), "limit 300")?;

    // What `transport::stream` and the endpoint do with the frames.
    let mut core = new_core();
    let peer = Peer::Tcp {
        conn: 1,
        addr: phone(),
        tls: rng.random_bool(0.5),
    };
    let now = Instant::now();
    for frame in pieces {
        match frame {
            Frame::Message(bytes) => core.handle_message(now, peer.clone(), local(), &bytes),
            Frame::TooLarge { head, close } => {
                core.reject_too_large(&peer, &head);
                if close {
                    break;
                }
            }
            Frame::MissingLength(head) => {
                core.reject_bad(&peer, &head, "missing Content-Length");
                break;
            }
            Frame::Close => break,
            Frame::Ping | Frame::Garbage => {}
        }
        drain(&mut core, &peer)?;
    }
    drain(&mut core, &peer)?;
    run_timers(&mut core, now, &peer)
}
