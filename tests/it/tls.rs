//! SIP over TLS and HTTPS (issue 11 items 2, 9, 10): the desk over HTTPS with the demo's
//! self-signed certificate (HSTS, `Secure` cookie, security headers), plain HTTP redirected,
//! `/metrics` and `/health` behind an allow-list or token, a certificate renewed on disk served
//! without a restart, and agent phones held to TLS. baresip over TLS is in `baresip_tls`.

use std::time::Duration;

use firstline::sip::SipTransport;
use serde_json::json;

use crate::agent_phone::AgentPhone;
use crate::helpers::{spawn_app_with, spawn_queue_app, wait_for, within};
use crate::tls_client::{
    cert_files, der_of, http, https, options_status, served_cert, tls_connect, write_cert,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_over_https_with_the_demo_certificate() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let pem = t
            .app
            .tls_certificate_pem()
            .expect("--demo makes a certificate");
        let addr = t.app.https_addr().expect("HTTPS listens under --demo");

        let page = https(addr, &pem, "GET", "/", &[], None).await;
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.body.contains("login-form"), "the login page");
        assert_eq!(
            page.header("strict-transport-security"),
            Some("max-age=31536000")
        );
        let csp = page.header("content-security-policy").expect("CSP");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("x-frame-options"), Some("DENY"));

        let login = json!({ "login": "anna", "password": "anna-demo" });
        let r = https(addr, &pem, "POST", "/api/login", &[], Some(login)).await;
        assert_eq!(r.status, 200, "{r:?}");
        let cookie = r.header("set-cookie").expect("session cookie");
        assert!(cookie.starts_with("firstline_session="), "{cookie}");
        assert!(
            cookie.ends_with("; Secure"),
            "a cookie set over HTTPS is Secure: {cookie}"
        );
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));

        // Plain HTTP from loopback is still served (scripts, probes), without HSTS.
        let plain = http(t.app.http_addr(), "GET", "/", &[]).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("strict-transport-security"), None);
        assert!(plain.header("content-security-policy").is_some());
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_redirects_and_ops_endpoints_need_the_token() {
    within(60, async {
        let t = spawn_app_with(|c| {
            c.load_demo = true;
            c.http.plain_http = firstline::http::PlainHttp::Redirect;
            c.http.ops_allow = vec![];
            c.http.ops_token = Some("ops-s3cret".to_owned());
        })
        .await;
        let pem = t.app.tls_certificate_pem().unwrap();
        let (plain, secure) = (t.app.http_addr(), t.app.https_addr().unwrap());
        let r = http(plain, "GET", "/desk.html?x=1", &[]).await;
        assert_eq!(r.status, 308, "{r:?}");
        assert_eq!(
            r.header("location"),
            Some(format!("https://127.0.0.1:{}/desk.html?x=1", secure.port()).as_str())
        );
        assert_eq!(
            http(plain, "GET", "/ready", &[]).await.status,
            200,
            "probes stay open"
        );

        let m = https(secure, &pem, "GET", "/metrics", &[], None).await;
        assert_eq!(m.status, 401, "{m:?}");
        assert!(
            m.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer"))
        );
        let auth = [("Authorization", "Bearer ops-s3cret")];
        let m = https(secure, &pem, "GET", "/metrics", &auth, None).await;
        assert_eq!(m.status, 200);
        let wrong = [("Authorization", "Bearer nope")];
        assert_eq!(
            https(secure, &pem, "GET", "/metrics", &wrong, None)
                .await
                .status,
            401
        );

        let brief = https(secure, &pem, "GET", "/health", &[], None).await;
        let brief: serde_json::Value = serde_json::from_str(&brief.body).unwrap();
        assert_eq!(
            brief,
            json!({ "status": "ok" }),
            "no details without the token"
        );
        let full = https(secure, &pem, "GET", "/health", &auth, None).await;
        let full: serde_json::Value = serde_json::from_str(&full.body).unwrap();
        assert!(full.get("sip").is_some(), "details with the token: {full}");
        assert_eq!(
            https(secure, &pem, "GET", "/ready", &[], None).await.status,
            200
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    within(60, async {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, old) = cert_files(dir.path());
        let (c2, k2) = (cert.clone(), key.clone());
        let t = spawn_app_with(move |c| {
            c.tls.cert_file = Some(c2);
            c.tls.key_file = Some(k2);
            c.tls.reload_secs = 1;
        })
        .await;
        let sip = t
            .app
            .sip_tls_addr()
            .expect("SIP over TLS with a certificate");
        let web = t.app.https_addr().expect("HTTPS with a certificate");
        let mut s = tls_connect(sip, &old).await.unwrap();
        assert_eq!(served_cert(&s), der_of(&old));
        let local = s.get_ref().0.local_addr().unwrap();
        assert_eq!(options_status(&mut s, "TLS", local, sip).await, Some(200));

        // Make sure the new files get another modification time than the old ones.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let new = write_cert(&cert, &key);
        let both = format!("{old}{new}");
        let served = wait_for(Duration::from_secs(10), || async {
            let s = tls_connect(sip, &both).await.ok()?;
            (served_cert(&s) == der_of(&new)).then_some(())
        })
        .await;
        assert!(
            served.is_some(),
            "the new certificate was not served within 10 s"
        );
        let h = tls_connect(web, &new)
            .await
            .expect("HTTPS serves the new one too");
        assert_eq!(served_cert(&h), der_of(&new));
        // The connection made before the renewal goes on working.
        assert_eq!(options_status(&mut s, "TLS", local, sip).await, Some(200));
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_phones_can_be_held_to_tls() {
    within(30, async {
        let t = spawn_queue_app(|c| c.sip.agents_require_tls = true).await;
        let mut phone = AgentPhone::new(t.udp(), "2001", "2001-sip").await;
        assert_eq!(phone.register().await, 403, "REGISTER over UDP is refused");
        assert!(t.app.sip().binding("2001").is_none());
        t.finish().await;
    })
    .await;
}

/// An OPTIONS ping over TLS is answered on its connection, which is counted as an open TLS
/// connection until it closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_options_ping_over_tls_is_answered_and_tls_is_the_transport() {
    within(30, async {
        let t = spawn_queue_app(|_| {}).await;
        let pem = t.app.tls_certificate_pem().unwrap();
        let sip = t.app.sip_tls_addr().unwrap();
        let mut s = tls_connect(sip, &pem).await.unwrap();
        let local = s.get_ref().0.local_addr().unwrap();
        assert_eq!(options_status(&mut s, "TLS", local, sip).await, Some(200));
        assert_eq!(SipTransport::Tls.as_str(), "tls");
        assert_eq!(t.app.sip().connections().open_tls, 1);
        drop(s);
        let gone = wait_for(Duration::from_secs(5), || async {
            (t.app.sip().connections().open == 0).then_some(())
        })
        .await;
        assert!(gone.is_some(), "the closed connection is counted out");
        t.finish().await;
    })
    .await;
}
