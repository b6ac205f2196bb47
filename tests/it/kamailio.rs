//! Behind a real Kamailio (issue 11, item 6): Kamailio 5.6 in front of firstline with
//! `record_route()` and `add_path_received()`, listening only on 127.0.0.1 on a free port, in
//! the foreground, with a config written to a temp dir. A phone that registers through it with
//! an unreachable Contact is still rung, through the Path (RFC 3327); three wrong-password
//! REGISTERs from one phone behind the proxy lock out that account only, not another phone.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::agent_phone::{AgentPhone, PCMU};
use crate::helpers::{spawn_queue_app, within};
use crate::host::{free_port, tool};
use crate::scenario::unclassified_caller;
use crate::ua::SipMsg;

/// Kamailio's script: REGISTERs get a Path with the phone's received address and go to
/// firstline; requests from firstline follow their Route (the Path; `use_received` sends them
/// to the phone's real address) and are record-routed; in-dialog requests follow the route set.
fn config(port: u16, firstline: SocketAddr) -> String {
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=2
dns=no
rev_dns=no
auto_aliases=no
listen=udp:127.0.0.1:{port}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "path.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"

modparam("path", "use_received", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        loose_route();
        t_relay();
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("REGISTER")) {{
        add_path_received();
        $du = "sip:{firstline}";
        t_relay();
        exit;
    }}
    if ($si == "{fl_ip}" && $sp == {fl_port}) {{
        # The Route is the Path: loose_route() drops our own entry and path's use_received
        # sets the destination to the phone's received address. Without a Path: 404.
        loose_route();
        if ($du == $null) {{
            sl_send_reply("404", "No Path");
            exit;
        }}
        record_route();
        t_relay();
        exit;
    }}
    record_route();
    $du = "sip:{firstline}";
    t_relay();
}}
"#,
        fl_ip = firstline.ip(),
        fl_port = firstline.port(),
    )
}

/// A Kamailio process group, killed when dropped (also after a failed assertion).
struct Kamailio {
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Kamailio {
    /// Starts Kamailio on 127.0.0.1:`port` in front of `firstline` and waits until it forwards.
    async fn start(port: u16, firstline: SocketAddr) -> Kamailio {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("kamailio.cfg");
        std::fs::write(&cfg, config(port, firstline)).unwrap();
        let log = std::fs::File::create(dir.path().join("kamailio.log")).unwrap();
        // A watchdog ends the group if the test process dies without running Drop.
        let script = format!(
            "{kamailio} -f {cfg} -DD -E -w {dir} -m 32 -M 8 & \
             while kill -0 {me} 2>/dev/null && kill -0 $! 2>/dev/null; do sleep 1; done; \
             kill -KILL 0",
            kamailio = tool("kamailio").display(),
            cfg = cfg.display(),
            dir = dir.path().display(),
            me = std::process::id(),
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let k = Kamailio {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            dir,
        };
        k.wait_until_forwarding().await;
        k
    }

    /// Sends OPTIONS through Kamailio (firstline answers it) until an answer comes back.
    async fn wait_until_forwarding(&self) {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = sock.local_addr().unwrap();
        let mut buf = vec![0u8; 65536];
        for i in 0..50 {
            let options = format!(
                "OPTIONS sip:hotline@{k} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKkam{i};rport\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:probe@{me}>;tag=p{i}\r\nTo: <sip:hotline@{k}>\r\n\
                 Call-ID: probe-{i}@{me}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                k = self.addr,
            );
            sock.send_to(options.as_bytes(), self.addr).await.unwrap();
            let got = tokio::time::timeout(Duration::from_millis(200), sock.recv_from(&mut buf));
            if let Ok(Ok((n, _))) = got.await
                && SipMsg::parse(&buf[..n]).and_then(|m| m.status()) == Some(200)
            {
                return;
            }
        }
        panic!("Kamailio did not forward within 10 s:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound a moment ago, then released): the phone's "private"
/// Contact, which firstline must not depend on.
fn dead_port() -> u16 {
    free_port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_behind_kamailio_is_rung_through_its_path() {
    within(90, async {
        let kport = free_port();
        let t = spawn_queue_app(|c| {
            c.sip.trusted_proxies = vec![format!("127.0.0.1:{kport}")];
        })
        .await;
        let k = Kamailio::start(kport, t.udp()).await;

        let mut phone = AgentPhone::new(k.addr, "2001", "2001-sip").await;
        let unreachable = format!("sip:2001@127.0.0.1:{}", dead_port());
        phone.contact = Some(format!("<{unreachable}>"));
        assert_eq!(phone.register().await, 200, "REGISTER through Kamailio");
        let b = t.app.sip().binding("2001").expect("binding");
        assert_eq!(b.contact, unreachable);
        assert_eq!(b.source, k.addr, "the flow is Kamailio's");

        t.login("anna").await;
        let (mut ua, _rtp, _answer) = unclassified_caller(&t).await;
        let inv = phone
            .invite(Duration::from_secs(15))
            .await
            .unwrap_or_else(|| {
                panic!(
                    "the phone was not rung through its Path; Kamailio:\n{}",
                    k.log()
                )
            });
        assert!(
            inv.msg.start.starts_with(&format!("INVITE {unreachable} ")),
            "Request-URI is the registered Contact: {}",
            inv.msg.start
        );
        let record_route = inv.msg.header("record-route").unwrap_or("");
        assert!(
            record_route.contains(&format!("127.0.0.1:{kport}")),
            "Kamailio record-routed the INVITE: {record_route:?}"
        );
        phone.ring().await;
        assert!(
            phone.answer(PCMU).await,
            "no ACK for the phone's 200 (through Kamailio's route set)"
        );
        // The caller hangs up; firstline's BYE reaches the phone through Kamailio.
        assert_eq!(ua.bye().await, Some(200));
        assert!(
            phone.expect_bye(Duration::from_secs(10)).await,
            "no BYE through Kamailio; log:\n{}",
            k.log()
        );
        drop(k);
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_behind_kamailio_do_not_lock_out_the_other_phones() {
    within(60, async {
        let kport = free_port();
        let t = spawn_queue_app(|_| {}).await;
        let k = Kamailio::start(kport, t.udp()).await;

        let mut wrong = AgentPhone::new(k.addr, "2001", "2001-sip").await;
        assert_eq!(
            wrong.register_with("not-the-password", 3, 3600).await,
            [401, 401, 401, 403],
            "the third wrong password locks 2001 out"
        );
        let mut other = AgentPhone::new(k.addr, "2002", "2002-sip").await;
        assert_eq!(
            other.register().await,
            200,
            "another phone behind the same proxy still registers"
        );
        assert!(t.app.sip().binding("2002").is_some());
        assert_eq!(
            wrong.register().await,
            403,
            "2001 stays locked out for the back-off, even with its password"
        );
        assert!(t.app.sip().binding("2001").is_none());
        drop(k);
        t.finish().await;
    })
    .await;
}
