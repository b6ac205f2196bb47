//! SIP over TLS in the sans-IO core: a call over a TLS connection reaches the application as
//! `SipTransport::Tls`, our Contact tells the peer to come back over TLS, and a TLS connection
//! that closes ends its legs like a TCP one. Our own in-dialog requests (BYE) over TLS carry
//! `SIP/2.0/TLS` in their Via (they said `TCP` before: RFC 3261 §26.2 / §18.2.1).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::api::{Command, CommandKind, LegEvent, SipTransport};
use super::core::{Core, CoreEvent, Peer};
use super::message::{self, StartLine};
use super::stats::SipStats;
use super::transaction::Timers;

const PHONE: &str = "127.0.0.1:5071";

fn tls_peer(conn: u64) -> Peer {
    Peer::Tcp {
        conn,
        addr: PHONE.parse().unwrap(),
        tls: true,
    }
}

fn invite(call: &str) -> Vec<u8> {
    format!(
        "INVITE sip:hotline@127.0.0.1:5061;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/TLS {PHONE};branch=z9hG4bK{call};rport\r\nMax-Forwards: 70\r\n\
From: <sip:+31201234567@127.0.0.1>;tag=ph{call}\r\nTo: <sip:hotline@127.0.0.1>\r\n\
Call-ID: {call}\r\nCSeq: 1 INVITE\r\nContact: <sip:ann@{PHONE};transport=tls>\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn a_call_over_tls_is_tls_to_the_application_and_in_our_contact() {
    let t0 = Instant::now();
    let mut c = Core::new("t".into(), Timers::default(), Arc::new(SipStats::default()));
    let local: SocketAddr = "127.0.0.1:5061".parse().unwrap();
    assert_eq!(tls_peer(1).transport(), SipTransport::Tls);
    assert!(tls_peer(1).reliable() && tls_peer(1).is_tls());
    c.handle_message(t0, tls_peer(1), local, &invite("t1"));
    let leg = match std::iter::from_fn(|| c.poll_event())
        .collect::<Vec<_>>()
        .as_slice()
    {
        [CoreEvent::NewCall(nc)] => {
            assert_eq!(
                nc.transport,
                SipTransport::Tls,
                "SRTP keys may come over this"
            );
            nc.leg
        }
        other => panic!("expected a new call, got {other:?}"),
    };
    c.handle_command(
        t0,
        Command {
            leg,
            kind: CommandKind::Answer(b"v=0\r\n".to_vec()),
        },
    );
    let sent: Vec<_> = std::iter::from_fn(|| c.poll_transmit()).collect();
    assert!(
        sent.iter().all(|t| t.to == tls_peer(1)),
        "answers go down the connection"
    );
    let ok = sent
        .iter()
        .map(|t| message::parse(&t.bytes).unwrap())
        .find(|m| matches!(m.start, StartLine::Response { code: 200 }))
        .expect("200");
    let contact = ok.header("Contact").unwrap_or_default().to_owned();
    assert!(
        contact.contains(";transport=tls") && contact.contains(":5061"),
        "{contact}"
    );
    assert!(
        ok.top_via().unwrap_or_default().contains("SIP/2.0/TLS"),
        "the Via is echoed"
    );

    c.connection_closed(1);
    let ended = std::iter::from_fn(|| c.poll_event())
        .any(|e| matches!(e, CoreEvent::Leg(l, LegEvent::Ended { .. }) if l == leg));
    assert!(ended, "a closed TLS connection ends its legs");
}

#[test]
fn our_bye_over_tls_says_tls_in_its_via_and_contact_stays_tls() {
    let t0 = Instant::now();
    let mut c = Core::new("t".into(), Timers::default(), Arc::new(SipStats::default()));
    let local: SocketAddr = "127.0.0.1:5061".parse().unwrap();
    c.handle_message(t0, tls_peer(2), local, &invite("t2"));
    let leg = std::iter::from_fn(|| c.poll_event())
        .find_map(|e| match e {
            CoreEvent::NewCall(nc) => Some(nc.leg),
            _ => None,
        })
        .expect("a new call");
    c.handle_command(
        t0,
        Command {
            leg,
            kind: CommandKind::Answer(b"v=0\r\n".to_vec()),
        },
    );
    let ok = std::iter::from_fn(|| c.poll_transmit())
        .map(|t| message::parse(&t.bytes).unwrap())
        .find(|m| matches!(m.start, StartLine::Response { code: 200 }))
        .expect("200");
    let to = ok.header("To").unwrap_or_default().to_owned();
    let ack = format!(
        "ACK sip:firstline@127.0.0.1:5061;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/TLS {PHONE};branch=z9hG4bKack2;rport\r\nMax-Forwards: 70\r\n\
From: <sip:+31201234567@127.0.0.1>;tag=pht2\r\nTo: {to}\r\nCall-ID: t2\r\nCSeq: 1 ACK\r\n\
Content-Length: 0\r\n\r\n"
    );
    c.handle_message(t0, tls_peer(2), local, ack.as_bytes());
    c.handle_command(
        t0,
        Command {
            leg,
            kind: CommandKind::Hangup,
        },
    );
    let sent: Vec<_> = std::iter::from_fn(|| c.poll_transmit()).collect();
    let bye = sent
        .iter()
        .find(|t| t.bytes.starts_with(b"BYE "))
        .expect("our BYE");
    assert_eq!(bye.to, tls_peer(2), "down the same connection");
    let bye = message::parse(&bye.bytes).unwrap();
    let via = bye.top_via().unwrap_or_default();
    assert!(via.starts_with("SIP/2.0/TLS 127.0.0.1:5061;"), "{via}");
}
