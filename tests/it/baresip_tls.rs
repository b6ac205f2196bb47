//! baresip over SIP TLS (issue 11 item 2): as an agent phone it registers over TLS (agents held
//! to TLS), is rung down the connection it registered on and answers, and audio crosses both
//! ways (tones checked by content); as a caller it dials over TLS, walks the IVR with RFC 4733
//! digits, and its intake and a `tls` call record are stored.
//!
//! baresip, the server and the test's peers share a network namespace (`baresip_peer`).

use std::time::Duration;

use crate::agent_phone::tone;
use crate::baresip_peer::{
    VethNs, answered_call, baresip, baresip_config, baresip_dials, baresip_heard_the_caller,
    caller_hears_baresip, tls_app, walk_the_ivr, write_wav,
};
use crate::helpers::{tool, wait_for, within};
use crate::scenario::unclassified_caller;

#[tokio::test]
async fn baresip_agent_phone_over_tls_answers_and_audio_crosses_both_ways() {
    let ns = VethNs::new();
    ns.enter();
    within(120, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path(), |_| {}).await;
        let tls = t.app.sip_tls_addr().expect("SIP over TLS");
        let conf = dir.path().join("baresip");
        std::fs::create_dir_all(&conf).unwrap();
        let source = dir.path().join("440.wav");
        write_wav(&source, &tone(440.0, 60.0));
        let account =
            format!("<sip:2001@{tls};transport=tls>;auth_pass=2001-sip;answermode=auto;regint=600");
        baresip_config(&conf, &ca, &source, &account, false);
        let _phone = baresip(&conf);

        let binding = wait_for(Duration::from_secs(15), || async {
            t.app.sip().binding("2001")
        })
        .await
        .expect("baresip did not register over TLS within 15 s");
        assert_eq!(binding.transport, firstline::sip::SipTransport::Tls);
        assert_eq!(t.app.sip().connections().open_tls, 1, "one flow");

        t.login("anna").await;
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        let connected = wait_for(Duration::from_secs(15), || async {
            let row = t.queue_row(&ua.call_id).await?;
            row.connected_at.map(|_| row)
        })
        .await
        .expect("baresip did not answer over its TLS flow within 15 s");
        assert_eq!(connected.agent_id.as_deref(), Some("agent-demo-anna"));
        assert_eq!(
            t.app.sip().connections().open_tls,
            1,
            "rung down the same connection"
        );

        caller_hears_baresip(&mut rtp, answer.rtp).await;
        assert_eq!(ua.bye().await, Some(200));
        baresip_heard_the_caller(&conf).await;
        t.finish().await;
    })
    .await;
}

#[tokio::test]
async fn baresip_caller_over_tls_walks_the_ivr_and_its_intake_is_stored() {
    let ns = VethNs::new();
    ns.enter();
    within(120, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path(), |_| {}).await;
        let account = "\"baresip\" <sip:+31201234502@10.254.0.1;transport=tls>;regint=0";
        let mut caller = baresip_dials(&t, &ca, dir.path(), account, false).await;
        let (id, transport) = answered_call(&t, &caller).await;
        assert_eq!(transport, "tls", "the call record names the transport");
        walk_the_ivr(&t.pool, |c| caller.command(c), &id).await;
        caller.command("/hangup");
        caller.command("/quit");
        t.finish().await;
    })
    .await;
}
