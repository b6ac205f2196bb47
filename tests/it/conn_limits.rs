//! Connection limits (issue 11 item 5 and the HTTP part of item 10): idle TCP and TLS
//! connections past the per-source cap are closed at once, a byte-at-a-time sender is cut at
//! its deadline, a silent TLS client at its handshake deadline, an idle connection after its
//! idle time, and all the while another client is served. HTTP likewise: a slow header is cut,
//! connections past the cap are closed.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{TestApp, spawn_queue_app, wait_for, within};
use crate::tls_client::{closed_within, http_over, options, options_status, tls_connect};

/// A TCP connection to `to` from the loopback address `from` (127.0.0.0/8 is all ours).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((from, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Another client, from another address, gets its OPTIONS answered over TCP.
async fn other_client_is_served(t: &TestApp) {
    let mut s = connect_from([127, 0, 0, 9], t.tcp()).await;
    let local = s.local_addr().unwrap();
    assert_eq!(
        options_status(&mut s, "TCP", local, t.tcp()).await,
        Some(200),
        "another source must still be served"
    );
}

async fn app(tweak: impl FnOnce(&mut firstline::config::Config)) -> TestApp {
    spawn_queue_app(|c| {
        let k = &mut c.sip.connections;
        k.max_per_source = 4;
        k.max_total = 64;
        k.tls_handshake_secs = 2;
        k.first_message_secs = 2;
        k.message_secs = 2;
        k.idle_secs = 3;
        c.http.header_read_timeout_secs = 2;
        tweak(c);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_past_the_per_source_cap_are_closed_and_others_are_served() {
    within(60, async {
        let t = app(|c| c.sip.connections.first_message_secs = 30).await;
        let pem = t.app.tls_certificate_pem().unwrap();
        let tls = t.app.sip_tls_addr().unwrap();
        // Two idle TCP and two idle TLS connections from 127.0.0.1 fill its four places.
        let mut held_tcp = Vec::new();
        for _ in 0..2 {
            held_tcp.push(connect_from([127, 0, 0, 1], t.tcp()).await);
        }
        let mut held_tls = Vec::new();
        for _ in 0..2 {
            held_tls.push(tls_connect(tls, &pem).await.expect("TLS within the cap"));
        }
        assert_eq!(t.app.sip().connections().open, 4);
        for _ in 0..3 {
            let mut extra = connect_from([127, 0, 0, 1], t.tcp()).await;
            assert!(
                closed_within(&mut extra, Duration::from_secs(2))
                    .await
                    .is_some(),
                "a fifth connection from the same source must be closed at once"
            );
        }
        assert!(
            tls_connect(tls, &pem).await.is_err(),
            "nor may it start TLS"
        );
        let counts = t.app.sip().connections();
        assert!(counts.refused_per_source >= 4, "{counts:?}");
        assert_eq!(counts.open, 4, "{counts:?}");
        other_client_is_served(&t).await;
        // The held connections are fine: one of them is served when it speaks.
        let s = &mut held_tcp[0];
        let local = s.local_addr().unwrap();
        assert_eq!(options_status(s, "TCP", local, t.tcp()).await, Some(200));
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_at_a_time_sender_is_cut_at_its_deadline() {
    within(60, async {
        let t = app(|_| {}).await;
        let mut slow = connect_from([127, 0, 0, 1], t.tcp()).await;
        let msg = options("TCP", slow.local_addr().unwrap(), t.tcp());
        let start = tokio::time::Instant::now();
        let mut cut = None;
        for b in msg.iter().take(60) {
            if slow.write_all(&[*b]).await.is_err() {
                cut = Some(start.elapsed());
                break;
            }
            if closed_within(&mut slow, Duration::from_millis(100))
                .await
                .is_some()
            {
                cut = Some(start.elapsed());
                break;
            }
        }
        let cut = cut.expect("the slow sender was not cut within 6 s");
        assert!(
            cut >= Duration::from_millis(1800) && cut < Duration::from_secs(5),
            "cut after {cut:?}, the deadline is 2 s"
        );
        // The counter moves as the server closes the socket: the client may see the close first.
        let counted = wait_for(Duration::from_secs(2), || async {
            (t.app.sip().connections().first_message_timeouts == 1).then_some(())
        })
        .await;
        assert!(
            counted.is_some(),
            "first_message_timeouts: {}",
            t.app.sip().connections().first_message_timeouts
        );
        other_client_is_served(&t).await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_and_idle_connections_are_closed_on_time() {
    within(60, async {
        let t = app(|_| {}).await;
        // A TLS client that never starts its handshake.
        let mut mute = connect_from([127, 0, 0, 1], t.app.sip_tls_addr().unwrap()).await;
        let took = closed_within(&mut mute, Duration::from_secs(5)).await;
        assert!(
            took.is_some_and(|d| d >= Duration::from_millis(1800)),
            "a silent TLS client is cut at its 2 s handshake deadline: {took:?}"
        );
        // The counter moves as the server closes the socket: the client may see the close first.
        let counted = wait_for(Duration::from_secs(2), || async {
            (t.app.sip().connections().handshake_failed == 1).then_some(())
        })
        .await;
        assert!(
            counted.is_some(),
            "handshake_failed: {}",
            t.app.sip().connections().handshake_failed
        );
        // A client that asks once and then idles (nothing worth keeping) is closed after 3 s.
        let mut once = connect_from([127, 0, 0, 1], t.tcp()).await;
        let local = once.local_addr().unwrap();
        assert_eq!(
            options_status(&mut once, "TCP", local, t.tcp()).await,
            Some(200)
        );
        let took = closed_within(&mut once, Duration::from_secs(6)).await;
        assert!(
            took.is_some_and(|d| d >= Duration::from_millis(2800)),
            "idle for 3 s: {took:?}"
        );
        assert_eq!(t.app.sip().connections().idle_closed, 1);
        other_client_is_served(&t).await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_cuts_a_slow_header_and_refuses_connections_past_its_cap() {
    within(60, async {
        let t = app(|c| c.http.max_connections = 3).await;
        let web = t.app.http_addr();
        let mut slow = TcpStream::connect(web).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let start = tokio::time::Instant::now();
        let mut closed = None;
        for _ in 0..50 {
            if slow.write_all(b"X").await.is_err() {
                closed = Some(start.elapsed());
                break;
            }
            if closed_within(&mut slow, Duration::from_millis(100))
                .await
                .is_some()
            {
                closed = Some(start.elapsed());
                break;
            }
        }
        let closed = closed.expect("a slow header was not cut within 5 s");
        assert!(closed < Duration::from_secs(4), "{closed:?}");

        // Three idle connections fill the cap; a fourth is closed at once.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(web).await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut over = TcpStream::connect(web).await.unwrap();
        assert!(
            closed_within(&mut over, Duration::from_secs(1))
                .await
                .is_some(),
            "past the cap"
        );
        // Once one leaves, a client is served again, and /health counts the refusal.
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut s = TcpStream::connect(web).await.unwrap();
        let r = http_over(&mut s, web, "GET", "/ready", &[], None).await;
        assert_eq!(r.status, 200);
        drop(held);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut s = TcpStream::connect(web).await.unwrap();
        let r = http_over(&mut s, web, "GET", "/health", &[], None).await;
        let h: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(h["http_connections"]["refused"], 1, "{h}");
        assert_eq!(h["http_connections"]["open"], 1, "only this one: {h}");
        t.finish().await;
    })
    .await;
}
