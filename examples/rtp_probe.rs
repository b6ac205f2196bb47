//! RTP pacing probe for bench/concurrent: places K calls with a minimal SIP UAC over UDP,
//! timestamps every RTP packet the server sends, and prints a one-line JSON summary.
//!
//! Usage: `rtp_probe --server 127.0.0.1:5060 [--calls 20] [--seconds 20] [--spacing-ms 50]`.
//!
//! Per packet, the pacing error is `arrival − (first arrival + (ts − first ts) / 8000 s)`
//! (RFC 3550 §6.4.1 relative transit time), minus the call's smallest such value, so it is the
//! extra delay (jitter) of that packet against the server's own media clock. The probe's own
//! scheduling latency is included: it is an upper bound on the server's error.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use firstline::media::rtp::RtpPacket;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::timeout;

/// Why a probe call failed.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// A socket operation failed.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// No final answer to the INVITE (or BYE) in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The server answered the INVITE with a failure.
    #[error("INVITE rejected with {0}")]
    Rejected(u16),
    /// A 200 OK without the headers needed for the ACK.
    #[error("malformed 200 OK: {0}")]
    Malformed(&'static str),
    /// Bad command line.
    #[error("usage: {0}")]
    Usage(String),
}

/// Command line settings.
struct Args {
    server: SocketAddr,
    calls: usize,
    hold: Duration,
    spacing: Duration,
}

fn parse_args() -> Result<Args, ProbeError> {
    let mut args = Args {
        server: SocketAddr::from(([127, 0, 0, 1], 5060)),
        calls: 20,
        hold: Duration::from_secs(20),
        spacing: Duration::from_millis(50),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| ProbeError::Usage(format!("{flag} needs a value")))?;
        let bad = || ProbeError::Usage(format!("bad value {value:?} for {flag}"));
        match flag.as_str() {
            "--server" => args.server = value.parse().map_err(|_| bad())?,
            "--calls" => args.calls = value.parse().map_err(|_| bad())?,
            "--seconds" => args.hold = Duration::from_secs(value.parse().map_err(|_| bad())?),
            "--spacing-ms" => {
                args.spacing = Duration::from_millis(value.parse().map_err(|_| bad())?)
            }
            _ => return Err(ProbeError::Usage(format!("unknown flag {flag}"))),
        }
    }
    Ok(args)
}

/// One received RTP packet: arrival, sequence number, timestamp.
type Arrival = (Instant, u16, u32);

/// What one call measured.
struct CallResult {
    setup: Duration,
    packets: Vec<Arrival>,
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.calls {
        let (server, hold) = (args.server, args.hold);
        tasks.spawn(async move { (i, run_call(i, server, hold).await) });
        tokio::time::sleep(args.spacing).await;
    }
    let mut ok = Vec::new();
    let mut failures: HashMap<String, usize> = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(r))) => ok.push(r),
            Ok((i, Err(e))) => {
                eprintln!("probe call {i}: {e}");
                *failures.entry(e.to_string()).or_default() += 1;
            }
            Err(e) => *failures.entry(format!("task: {e}")).or_default() += 1,
        }
    }
    println!("{}", summarise(&ok, failures.values().sum()));
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

/// Places one call, records its RTP for `hold`, hangs up.
async fn run_call(i: usize, server: SocketAddr, hold: Duration) -> Result<CallResult, ProbeError> {
    let local_ip: IpAddr = server.ip();
    let sip = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
    sip.connect(server).await?;
    let rtp = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await?;
    let sip_port = sip.local_addr()?.port();
    let rtp_port = rtp.local_addr()?.port();

    // The receiver runs from before the INVITE: the server may stream right after its 200 OK.
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let receiver = tokio::spawn(receive_rtp(rtp, stop_rx, hold));

    let d = Dialog::new(i, local_ip, sip_port, server);
    let started = Instant::now();
    let ok = invite(&sip, &d, rtp_port).await?;
    let setup = started.elapsed();
    let to = header(&ok, &["To", "t"]).ok_or(ProbeError::Malformed("no To"))?;
    let target = header(&ok, &["Contact", "m"])
        .and_then(contact_uri)
        .unwrap_or_else(|| format!("sip:hotline@{server}"));
    let ack = d.request("ACK", &target, to, 1, "");
    sip.send(ack.as_bytes()).await?;

    // Hold: answer whatever the server sends in the dialog (200 retransmissions, a BYE).
    let hangup_at = Instant::now() + hold;
    let mut buf = vec![0u8; 4096];
    let mut server_hung_up = false;
    while let Some(left) = hangup_at.checked_duration_since(Instant::now()) {
        let Ok(r) = timeout(left, sip.recv(&mut buf)).await else {
            break;
        };
        let msg = String::from_utf8_lossy(buf.get(..r?).unwrap_or_default()).into_owned();
        if msg.starts_with("SIP/2.0 200") && cseq_method(&msg) == Some("INVITE") {
            sip.send(ack.as_bytes()).await?; // Timer G retransmission: ACK again (RFC 3261 §13.3.1.4).
        } else if !msg.starts_with("SIP/2.0") {
            sip.send(reply_200(&msg).as_bytes()).await?;
            server_hung_up |= msg.starts_with("BYE ");
            if server_hung_up {
                break;
            }
        }
    }
    if !server_hung_up {
        let bye = d.request("BYE", &target, to, 2, "");
        transact(&sip, &bye, "BYE", &mut buf).await?;
    }
    // A dropped sender also stops the receiver: the result is complete either way.
    let _ = stop_tx.send(());
    let packets = receiver.await.unwrap_or_default();
    Ok(CallResult { setup, packets })
}

/// Reads RTP until told to stop (or `hold` + 10 s), timestamping each packet on arrival.
async fn receive_rtp(
    rtp: UdpSocket,
    mut stop: oneshot::Receiver<()>,
    hold: Duration,
) -> Vec<Arrival> {
    let mut out = Vec::with_capacity(hold.as_millis() as usize / 20 + 100);
    let mut buf = vec![0u8; 2048];
    let limit = tokio::time::sleep(hold + Duration::from_secs(10));
    tokio::pin!(limit);
    loop {
        tokio::select! {
            r = rtp.recv(&mut buf) => {
                let now = Instant::now();
                let Ok(n) = r else { continue };
                if let Some(p) = buf.get(..n).and_then(|b| RtpPacket::parse(b).ok()) {
                    out.push((now, p.sequence, p.timestamp));
                }
            }
            _ = &mut stop => break,
            _ = &mut limit => break,
        }
    }
    out
}

/// The fixed identifiers of one probe dialog.
struct Dialog {
    user: String,
    local: SocketAddr,
    server: SocketAddr,
    call_id: String,
    from_tag: String,
}

impl Dialog {
    fn new(i: usize, ip: IpAddr, port: u16, server: SocketAddr) -> Dialog {
        let r: u32 = rand::random();
        Dialog {
            user: format!("probe{i}"),
            local: SocketAddr::new(ip, port),
            server,
            call_id: format!("probe-{i}-{r:08x}@{ip}"),
            from_tag: format!("pt{r:08x}"),
        }
    }

    /// A request in this dialog (RFC 3261 §8.1.1: the mandatory headers); `to` is the full To
    /// value (with the remote tag once known).
    fn request(&self, method: &str, uri: &str, to: &str, cseq: u32, sdp: &str) -> String {
        let branch: u64 = rand::random();
        let ctype = if sdp.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch:016x};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{ip}>;tag={tag}\r\n\
             To: {to}\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:{user}@{local}>\r\n\
             User-Agent: firstline-rtp-probe\r\n\
             {ctype}Content-Length: {len}\r\n\r\n{sdp}",
            local = self.local,
            user = self.user,
            ip = self.local.ip(),
            tag = self.from_tag,
            cid = self.call_id,
            len = sdp.len(),
        )
    }
}

/// Sends the INVITE (PCMU + telephone-event offer), retransmitting per Timer A until a response
/// arrives (RFC 3261 §17.1.1.2), and returns the 200 OK.
async fn invite(sip: &UdpSocket, d: &Dialog, rtp_port: u16) -> Result<String, ProbeError> {
    let ip = d.local.ip();
    let sdp = format!(
        "v=0\r\no=probe 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
    );
    let uri = format!("sip:hotline@{}", d.server);
    let to = format!("<{uri}>");
    let msg = d.request("INVITE", &uri, &to, 1, &sdp);
    let mut buf = vec![0u8; 4096];
    let msg = transact(sip, &msg, "INVITE", &mut buf).await?;
    let code = status(&msg).unwrap_or(0);
    if code != 200 {
        // The ACK of a non-2xx final response is hop-by-hop; at worst the server retransmits.
        return Err(ProbeError::Rejected(code));
    }
    Ok(msg)
}

/// Sends a request until its final response (200–699) arrives: Timer A/E doubling from 500 ms,
/// stopping retransmission on a provisional response; gives up after 32 s (Timer B/F).
async fn transact(
    sip: &UdpSocket,
    msg: &str,
    method: &'static str,
    buf: &mut [u8],
) -> Result<String, ProbeError> {
    let deadline = Instant::now() + Duration::from_secs(32);
    let mut interval = Duration::from_millis(500);
    let mut retransmit = true;
    sip.send(msg.as_bytes()).await?;
    loop {
        let now = Instant::now();
        let Some(left) = deadline.checked_duration_since(now) else {
            return Err(ProbeError::Timeout(method));
        };
        let wait = if retransmit { interval.min(left) } else { left };
        match timeout(wait, sip.recv(buf)).await {
            Err(_) if retransmit => {
                sip.send(msg.as_bytes()).await?;
                interval = (interval * 2).min(Duration::from_secs(4));
            }
            Err(_) => {}
            Ok(r) => {
                let text = String::from_utf8_lossy(buf.get(..r?).unwrap_or_default()).into_owned();
                match status(&text) {
                    Some(c) if c >= 200 && cseq_method(&text) == Some(method) => return Ok(text),
                    Some(_) => retransmit = method != "INVITE",
                    None => sip.send(reply_200(&text).as_bytes()).await.map(drop)?,
                }
            }
        }
    }
}

/// The status code of a response, `None` for a request.
fn status(msg: &str) -> Option<u16> {
    msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// The first value of a header by any of its names (full and compact, RFC 3261 §7.3.3).
fn header<'a>(msg: &'a str, names: &[&str]) -> Option<&'a str> {
    let head = msg.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name.trim()))
            .then(|| value.trim())
    })
}

/// The method in the CSeq header.
fn cseq_method(msg: &str) -> Option<&str> {
    header(msg, &["CSeq"])?.split_whitespace().nth(1)
}

/// The URI inside a Contact value (`<sip:…>;params` or a bare URI).
fn contact_uri(value: &str) -> Option<String> {
    match value.split_once('<') {
        Some((_, rest)) => rest.split_once('>').map(|(uri, _)| uri.to_owned()),
        None => value.split(';').next().map(|s| s.trim().to_owned()),
    }
}

/// A 200 OK to a request from the server (RFC 3261 §8.2.6.2: copy Via, From, To, Call-ID, CSeq).
fn reply_200(req: &str) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    let head = req.split("\r\n\r\n").next().unwrap_or_default();
    for line in head.split("\r\n").skip(1) {
        let name = line.split(':').next().unwrap_or_default().trim();
        let copy = ["Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq"];
        if copy.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// Percentiles of a sample (nearest rank); zeros when empty.
fn percentiles(v: &mut [f64]) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| -> f64 {
        let rank = ((q * v.len() as f64).ceil() as usize).saturating_sub(1);
        v.get(rank).copied().unwrap_or(0.0)
    };
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    serde_json::json!({ "p50": r3(at(0.50)), "p99": r3(at(0.99)), "max": r3(at(1.0)) })
}

/// Pacing error, inter-arrival, loss and skipped frames over all calls, as one JSON line.
fn summarise(calls: &[CallResult], failed: usize) -> serde_json::Value {
    let (mut errors, mut gaps, mut setups) = (Vec::new(), Vec::new(), Vec::new());
    let (mut received, mut expected, mut ts_jumps) = (0u64, 0u64, 0u64);
    for c in calls {
        setups.push(c.setup.as_secs_f64() * 1000.0);
        let (first, rest) = match c.packets.split_first() {
            Some(x) => x,
            None => continue,
        };
        let (t0, s0, ts0) = *first;
        let mut rel = Vec::with_capacity(c.packets.len());
        rel.push(0.0);
        let (mut prev_t, mut prev_seq, mut prev_ts) = (t0, s0, ts0);
        let mut ext_seq: u64 = 0;
        for &(t, seq, ts) in rest {
            let media = f64::from(ts.wrapping_sub(ts0)) / 8000.0;
            rel.push((t - t0).as_secs_f64() - media);
            gaps.push((t - prev_t).as_secs_f64() * 1000.0);
            ext_seq += u64::from(seq.wrapping_sub(prev_seq));
            // A timestamp step larger than one frame with no sequence gap: frames the sender
            // skipped after a stall (rtp.rs MAX_BURST).
            let frames = ts.wrapping_sub(prev_ts) / 160;
            if frames > 1 && seq.wrapping_sub(prev_seq) == 1 {
                ts_jumps += u64::from(frames - 1);
            }
            (prev_t, prev_seq, prev_ts) = (t, seq, ts);
        }
        let min = rel.iter().copied().fold(f64::INFINITY, f64::min);
        errors.extend(rel.iter().map(|r| (r - min) * 1000.0));
        received += c.packets.len() as u64;
        expected += ext_seq + 1;
    }
    let lost = expected.saturating_sub(received);
    serde_json::json!({
        "calls_ok": calls.len(),
        "calls_failed": failed,
        "packets": received,
        "lost": lost,
        "loss_pct": if expected > 0 { lost as f64 * 100.0 / expected as f64 } else { 0.0 },
        "skipped_frames": ts_jumps,
        "pacing_error_ms": percentiles(&mut errors),
        "interarrival_ms": percentiles(&mut gaps),
        "setup_ms": percentiles(&mut setups),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_finds_full_and_compact_names() {
        let m = "SIP/2.0 200 OK\r\nt: <sip:a@b>;tag=x\r\nCSeq: 1 INVITE\r\n\r\nv=0";
        assert_eq!(header(m, &["To", "t"]), Some("<sip:a@b>;tag=x"));
        assert_eq!(cseq_method(m), Some("INVITE"));
        assert_eq!(status(m), Some(200));
    }

    #[test]
    fn pacing_error_is_delay_against_media_clock() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Packets at 0, 20, 45 (5 ms late), 60 ms; timestamps 160 apart.
        let packets = vec![
            (t0, 1, 1000),
            (t0 + ms(20), 2, 1160),
            (t0 + ms(45), 3, 1320),
            (t0 + ms(80), 5, 1640),
        ];
        let s = summarise(
            &[CallResult {
                setup: ms(3),
                packets,
            }],
            0,
        );
        assert_eq!(s["pacing_error_ms"]["max"], 5.0);
        assert_eq!(s["pacing_error_ms"]["p50"], 0.0);
        assert_eq!(s["lost"], 1);
        assert_eq!(s["interarrival_ms"]["max"], 35.0);
        assert_eq!(s["skipped_frames"], 0);
    }
}
