//! Per-source rate limits (issue 11, `[sip.rate_limit]`) against the real server: an INVITE
//! and a REGISTER flood from one address get their burst, then 503 with Retry-After, then
//! silence; counted in `/metrics`; other requests from the same source still served.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app_with, within};
use crate::ua::{Ua, sdp_offer};

/// `GET path` as text.
async fn get_text(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

fn metric(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_source_gets_its_burst_then_503_then_silence() {
    within(60, async {
        let t = spawn_app_with(|c| {
            let r = &mut c.sip.rate_limit;
            // Loopback is exempt by default; this test is the untrusted source.
            r.exempt.clear();
            r.invite_per_sec = 1;
            r.invite_burst = 3;
            r.register_per_sec = 1;
            r.register_burst = 2;
        })
        .await;
        let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sdp = sdp_offer(rtp.local_addr().unwrap(), &[(0, "PCMU/8000")], &[]);
        // All at once (a dropped INVITE is not waited for before the next is sent).
        let mut uas = Vec::new();
        for _ in 0..12 {
            let mut ua = Ua::udp(t.udp()).await;
            ua.send_invite(&sdp).await;
            uas.push(ua);
        }
        let mut statuses = Vec::new();
        let mut retry_after = Vec::new();
        for ua in &mut uas {
            match ua.response("INVITE", Duration::from_millis(800)).await {
                Some(m) => {
                    statuses.push(m.status().unwrap_or(0));
                    if let Some(r) = m.header("retry-after") {
                        retry_after.push(r.to_string());
                    }
                }
                None => statuses.push(0),
            }
        }
        let first: Vec<u16> = statuses.iter().take(3).copied().collect();
        assert!(first.iter().all(|s| (100..300).contains(s)), "{statuses:?}");
        assert_eq!(&statuses[3..6], &[503, 503, 503], "{statuses:?}");
        assert!(
            statuses[6..].iter().all(|s| *s == 0),
            "then dropped: {statuses:?}"
        );
        assert!(
            retry_after
                .iter()
                .all(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)),
            "{retry_after:?}"
        );

        // REGISTERs have their own bucket.
        let mut ua = Ua::udp(t.udp()).await;
        let mut reg = Vec::new();
        for _ in 0..4 {
            let m = ua.build("REGISTER", None, "");
            ua.send_raw(m.as_bytes()).await;
            reg.push(
                ua.response("REGISTER", Duration::from_millis(1500))
                    .await
                    .and_then(|m| m.status()),
            );
        }
        assert_eq!(&reg[2..], &[Some(503), Some(503)], "{reg:?}");
        assert!(
            reg[..2].iter().all(|s| s.is_some_and(|c| c != 503)),
            "{reg:?}"
        );

        // OPTIONS (monitoring) is not limited.
        let opt = ua.build("OPTIONS", None, "");
        ua.send_raw(opt.as_bytes()).await;
        let pong = ua.response("OPTIONS", Duration::from_secs(2)).await;
        assert_eq!(pong.and_then(|m| m.status()), Some(200));

        let text = get_text(t.app.http_addr(), "/metrics").await;
        let series = |m: &str, a: &str| {
            metric(
                &text,
                &format!("firstline_sip_rate_limited_total{{method=\"{m}\",action=\"{a}\"}}"),
            )
        };
        assert_eq!(series("INVITE", "503"), Some(3), "{text}");
        assert_eq!(series("INVITE", "drop"), Some(6));
        assert_eq!(series("REGISTER", "503"), Some(2));
        t.finish().await;
    })
    .await;
}
