//! The pacer against real loopback sockets: order, never early, revoke and drop.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::*;

async fn pair() -> (Arc<RtpSocket>, UdpSocket) {
    let from = RtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let to = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (Arc::new(from), to)
}

/// A pacer, one stream through it, and the socket its packets go to (and that socket's address).
async fn stream() -> (Pacer, PacedStream, UdpSocket, std::net::SocketAddr) {
    let pacer = Pacer::start(1).unwrap();
    let (from, to) = pair().await;
    let dest = to.local_addr().unwrap();
    let stream = pacer.stream(from).unwrap();
    (pacer, stream, to, dest)
}

fn sender(seq: u16) -> RtpSender {
    RtpSender::new(1, 0, seq, 0, Instant::now())
}

/// The next datagram's first byte and when it arrived.
async fn recv(sock: &UdpSocket) -> (u8, Instant) {
    let mut buf = [0u8; 256];
    let (n, _) = timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("a paced packet arrives")
        .unwrap();
    assert!(n >= 1);
    (buf[0], Instant::now())
}

#[tokio::test]
async fn packets_leave_in_slot_order_and_never_before_their_slot() {
    let (_pacer, mut stream, to, dest) = stream().await;
    let start = Instant::now() + Duration::from_millis(30);
    // Handed over out of order: the wheel sends by slot.
    let slots = [(3u8, 60u64), (1, 0), (2, 20), (4, 80)];
    for (id, ms) in slots {
        let due = start + Duration::from_millis(ms);
        assert!(stream.push(due, dest, &[id; 172], &sender(u16::from(id))));
    }
    for want in 1..=4u8 {
        let (id, at) = recv(&to).await;
        assert_eq!(id, want);
        let due = start + Duration::from_millis(u64::from(want - 1) * 20);
        assert!(at >= due, "packet {id} left {:?} before its slot", due - at);
    }
}

#[tokio::test]
async fn a_revoke_takes_back_unsent_packets_and_returns_the_first_ones_sender() {
    let (_pacer, mut stream, to, dest) = stream().await;
    let now = Instant::now();
    assert!(stream.push(now + Duration::from_millis(5), dest, &[1; 20], &sender(100)));
    assert!(stream.push(
        now + Duration::from_millis(100),
        dest,
        &[2; 20],
        &sender(101)
    ));
    assert!(stream.push(
        now + Duration::from_millis(110),
        dest,
        &[3; 20],
        &sender(102)
    ));
    assert_eq!(recv(&to).await.0, 1);
    let back = stream.revoke().expect("two were unsent");
    assert_eq!(back.next_sequence(), 101);
    // Nothing left to take back.
    assert!(stream.revoke().is_none());
    // The next packet handed over is the next to arrive: 2 and 3 never go out.
    assert!(stream.push(
        Instant::now() + Duration::from_millis(120),
        dest,
        &[9; 20],
        &sender(101)
    ));
    assert_eq!(recv(&to).await.0, 9);
}

#[tokio::test]
async fn a_dropped_stream_sends_nothing_more() {
    let pacer = Pacer::start(1).unwrap();
    let (from, to) = pair().await;
    let (other, _) = pair().await;
    let dest = to.local_addr().unwrap();
    let mut gone = pacer.stream(other).unwrap();
    let mut kept = pacer.stream(from).unwrap();
    let now = Instant::now();
    assert!(gone.push(now + Duration::from_millis(100), dest, &[1; 20], &sender(1)));
    drop(gone);
    assert!(kept.push(now + Duration::from_millis(110), dest, &[2; 20], &sender(1)));
    assert_eq!(recv(&to).await.0, 2);
}

#[tokio::test]
async fn refuses_what_it_cannot_carry() {
    let (_pacer, mut stream, _to, dest) = stream().await;
    let now = Instant::now();
    // Too long, or its tick already passed: the call sends those itself.
    assert!(!stream.push(
        now + Duration::from_millis(50),
        dest,
        &[0; MAX_PACKET + 1],
        &sender(1)
    ));
    assert!(!stream.push(now - Duration::from_millis(50), dest, &[0; 20], &sender(1)));
    assert!(stream.revoke().is_none());
}

#[tokio::test]
async fn nothing_is_taken_beyond_the_horizon() {
    let (_pacer, mut stream, _to, dest) = stream().await;
    let horizon = stream.horizon();
    assert!(horizon > Instant::now() + Duration::from_millis(100));
    let beyond = horizon + Duration::from_millis(2);
    assert!(!stream.push(beyond, dest, &[7; 20], &sender(1)));
    assert!(stream.revoke().is_none());
}
