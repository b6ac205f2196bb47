//! The company directory from a real OpenLDAP (issue 13 acceptance; `ldap_fixture`): after the
//! sync at start a SIPp caller whose number exists only in LDAP is recognised in the screen
//! pop with name and department; a number two people share lists both; a person removed
//! from LDAP is deactivated at the next sync ("sync now") and no longer recognised; an LDAP
//! user signs in to the desk with the role and level their groups give, a wrong LDAP password
//! or a person in no allowed group is refused. A refused bind or a directory that is down
//! fails the sync (status, `/metrics`), deactivates nobody, and a local admin still signs in.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::agent_phone::PCMU;
use crate::desk_page::{agent_hangs_up, sipp_caller};
use crate::helpers::{TestApp, account, http_json, spawn_queue_app, wait_for, within};
use crate::ldap_fixture::{GENERATED, GROUPS, NAMED, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd};
use crate::scenario::registered_phone;
use firstline::config::Config;

const SECS: Duration = Duration::from_secs(1);
const LIEKE: &str = "+31205557001";

/// `[directory]` for `slapd`, the bind password in `password_file`.
pub(crate) fn directory(c: &mut Config, slapd: &Slapd, password_file: &std::path::Path) {
    let d = &mut c.directory;
    d.url = slapd.url.clone();
    d.bind_dn = SERVICE_DN.into();
    d.password_file = Some(password_file.to_owned());
    d.base_dn = PEOPLE.into();
    d.interval_secs = 3600;
    d.timeout_secs = 5;
    d.sign_in.enabled = true;
    d.sign_in.group_base_dn = GROUPS.into();
    d.sign_in.agent_groups = vec![format!("cn=helpdesk,{GROUPS}")];
    d.sign_in.admin_groups = vec![format!("cn=helpdesk-admins,{GROUPS}")];
    d.sign_in.level2_groups = vec![format!("cn=second-level,{GROUPS}")];
}

async fn scalar(t: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&t.pool).await.unwrap()
}

async fn active_ldap(t: &TestApp) -> i64 {
    scalar(
        t,
        "SELECT COUNT(*) FROM customers WHERE source = 'ldap' AND active = 1",
    )
    .await
}

/// Waits until `n` LDAP syncs ended (ok or failed).
async fn syncs_ended(t: &TestApp, n: i64) {
    wait_for(20 * SECS, || async {
        let done = scalar(
            t,
            "SELECT COUNT(*) FROM directory_syncs WHERE status <> 'running'",
        )
        .await;
        (done >= n).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("fewer than {n} directory syncs ended within 20 s"));
}

async fn sign_in(t: &TestApp, login: &str, password: &str) -> (u16, Value) {
    let body = json!({"login": login, "password": password});
    http_json(t.app.http_addr(), "POST", "/api/login", None, Some(body)).await
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The desk feed of `token`, after `hello`.
async fn desk(t: &TestApp, token: &str) -> Socket {
    let mut req = format!("ws://{}/api/ws", t.app.http_addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let hello = json!({"v": 1, "type": "hello", "last_seq": null, "epoch": null});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    ws
}

/// The first frame satisfying `done` within `limit`.
async fn until(
    ws: &mut Socket,
    limit: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let end = tokio::time::Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {limit:?}"))
            .expect("the desk socket stays open")
            .unwrap();
        if let Ok(text) = msg.into_text()
            && let Ok(f) = serde_json::from_str::<Value>(&text)
            && done(&f)
        {
            return f;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_people_pop_up_leave_and_sign_in() {
    within(
        120,
        Box::pin(async {
            let slapd = Slapd::start();
            let dir = tempfile::tempdir().unwrap();
            let pw = dir.path().join("bind.pw");
            std::fs::write(&pw, format!("{SERVICE_PASSWORD}\n")).unwrap();
            let t = spawn_queue_app(|c| {
                directory(c, &slapd, &pw);
                c.acd.ring_timeout_secs = 10;
            })
            .await;
            let addr = t.app.http_addr();
            let admin = account(&t, "olga", "admin").await;

            // The sync at start: every person, numbers in E.164.
            syncs_ended(&t, 1).await;
            let people = i64::try_from(GENERATED + NAMED).unwrap();
            assert_eq!(active_ldap(&t).await, people);
            let shared: Vec<String> = (t.app.store().customers_by_phone("+31205557000").await)
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect();
            assert_eq!(shared, ["Rita Reception", "Ruud Reception"], "candidates");
            let p2 = t
                .app
                .store()
                .find_customer_by_phone("+31680000002")
                .await
                .unwrap();
            assert_eq!(p2.map(|c| c.name).as_deref(), Some("Person 2"), "by mobile");

            // A caller known only to LDAP is recognised in the pop.
            let mut phone = registered_phone(&t, "2001").await;
            let anna = t.login("anna").await;
            let mut ws = desk(&t, &anna).await;
            let (cid, sipp) = sipp_caller(&t, LIEKE);
            phone.invite(30 * SECS).await.expect("anna's phone rings");
            phone.ring().await;
            let pop = until(&mut ws, 15 * SECS, "the pop", |f| f["type"] == "pop").await;
            assert_eq!(pop["caller"], LIEKE, "{pop}");
            assert_eq!(pop["customer"]["name"], "Lieke Ldap", "{pop}");
            assert_eq!(pop["customer"]["department"], "Facilities", "{pop}");
            assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");
            agent_hangs_up(&t, &mut phone, &cid, sipp).await;

            // Lieke leaves: deactivated at the next sync, not deleted, no longer recognised.
            slapd.delete(&format!("uid=lieke,{PEOPLE}"));
            let (status, run) = http_json(
                addr,
                "POST",
                "/api/admin/directory/sync",
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(status, 200, "{run}");
            assert_eq!(
                (run["deactivated"].as_u64(), run["seen"].as_u64()),
                (Some(1), Some(305))
            );
            assert_eq!(active_ldap(&t).await, people - 1);
            assert_eq!(
                scalar(&t, "SELECT COUNT(*) FROM customers WHERE source = 'ldap'").await,
                people,
                "deactivated, not deleted"
            );
            assert_eq!(
                t.app.store().find_customer_by_phone(LIEKE).await.unwrap(),
                None
            );
            assert_eq!(
                scalar(
                    &t,
                    "SELECT COUNT(*) FROM audit WHERE action = 'directory_sync'"
                )
                .await,
                1
            );

            // Directory accounts sign in with the role and level of their groups.
            let (status, helga) = sign_in(&t, "helga", "helga-ldap-pass").await;
            assert_eq!(status, 200, "{helga}");
            assert_eq!(
                (&helga["agent"]["role"], &helga["agent"]["name"]),
                (&json!("admin"), &json!("Helga Helpdesk"))
            );
            let (status, _) = sign_in(&t, "piet", "wrong password").await;
            assert_eq!(status, 401, "a wrong LDAP password is refused");
            let (status, piet) = sign_in(&t, "piet", "piet-ldap-pass").await;
            assert_eq!(status, 200, "{piet}");
            assert_eq!(
                (&piet["agent"]["role"], &piet["agent"]["level"]),
                (&json!("agent"), &json!(2))
            );
            let (status, _) = sign_in(&t, "olaf", "olaf-ldap-pass").await;
            assert_eq!(status, 401, "in no allowed group");
            let (status, _) = sign_in(&t, "piet*", "piet-ldap-pass").await;
            assert_eq!(status, 401, "a filter wildcard matches nobody");
            assert_eq!(
                scalar(&t, "SELECT COUNT(*) FROM agents WHERE source = 'ldap'").await,
                2
            );

            let (status, st) =
                http_json(addr, "GET", "/api/admin/directory", Some(&admin), None).await;
            assert_eq!(status, 200, "{st}");
            assert_eq!(
                (st["configured"].as_bool(), st["syncs_ok"].as_u64()),
                (Some(true), Some(2))
            );
            assert_eq!(st["runs"][0]["deactivated"], 1, "{st}");
            assert!(!st.to_string().contains(SERVICE_PASSWORD));
            let metrics = t.metrics().await;
            assert!(
                metrics.contains("\nfirstline_directory_syncs_total 2\n"),
                "{metrics}"
            );
            assert!(!metrics.contains(SERVICE_PASSWORD));
            let (_, health) = http_json(addr, "GET", "/health", None, None).await;
            assert!(!health.to_string().contains(SERVICE_PASSWORD));
            t.finish().await;
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bind_or_a_directory_down_changes_nothing_and_local_admins_still_sign_in() {
    within(
        90,
        Box::pin(async {
            let mut slapd = Slapd::start();
            let dir = tempfile::tempdir().unwrap();
            let pw = dir.path().join("bind.pw");
            std::fs::write(&pw, "not the password\n").unwrap();
            let t = spawn_queue_app(|c| directory(c, &slapd, &pw)).await;
            let addr = t.app.http_addr();
            let admin = account(&t, "olga", "admin").await;

            syncs_ended(&t, 1).await;
            assert_eq!(t.metric("firstline_directory_sync_failures_total").await, 1);
            let (_, st) = http_json(addr, "GET", "/api/admin/directory", Some(&admin), None).await;
            assert!(
                st["last_error"]
                    .as_str()
                    .unwrap()
                    .contains("refused the bind"),
                "{st}"
            );
            assert_eq!(st["runs"][0]["status"], "failed", "{st}");
            assert_eq!(active_ldap(&t).await, 0);

            // The password file is read at every run: fixed, the next sync works.
            std::fs::write(&pw, format!("{SERVICE_PASSWORD}\n")).unwrap();
            let (status, run) = http_json(
                addr,
                "POST",
                "/api/admin/directory/sync",
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(status, 200, "{run}");
            let people = i64::try_from(GENERATED + NAMED).unwrap();
            assert_eq!(active_ldap(&t).await, people);

            // `firstline admin sync-directory` runs one against the same database.
            let conf = dir.path().join("firstline.toml");
            std::fs::write(
                &conf,
                format!(
                    "[directory]\nurl = \"{}\"\nbind_dn = \"{SERVICE_DN}\"\n\
                     password_file = \"{}\"\nbase_dn = \"{PEOPLE}\"\n",
                    slapd.url,
                    pw.display()
                ),
            )
            .unwrap();
            let cli = || {
                std::process::Command::new(env!("CARGO_BIN_EXE_firstline"))
                    .arg("--config")
                    .arg(&conf)
                    .arg("--database-url")
                    .arg(t.db_url())
                    .args(["admin", "sync-directory"])
                    .output()
                    .unwrap()
            };
            let out = cli();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!(
                    "synced {people} people: 0 new, {people} updated, 0 deactivated, 0 skipped\n"
                )
            );

            // The directory goes down: the sync fails and deactivates nobody.
            slapd.stop();
            let out = cli();
            assert!(!out.status.success());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("directory sync failed: cannot reach the directory"),
                "{err}"
            );
            let (status, run) = http_json(
                addr,
                "POST",
                "/api/admin/directory/sync",
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(status, 502, "{run}");
            assert!(
                run["error"].as_str().unwrap().contains("cannot reach"),
                "{run}"
            );
            assert_eq!(active_ldap(&t).await, people, "nothing deactivated");
            assert_eq!(
                t.metric("firstline_directory_sync_failures_total").await,
                2,
                "the server's own runs (the CLI's are in directory_syncs only)"
            );
            assert!(t.metric("firstline_directory_syncs_total").await == 1);
            assert!(
                t.app
                    .store()
                    .find_customer_by_phone(LIEKE)
                    .await
                    .unwrap()
                    .is_some()
            );

            // A local admin signs in; a directory account gets a clear 503.
            account(&t, "olav", "admin").await;
            let (status, _) = sign_in(&t, "olav", "a wrong password").await;
            assert_eq!(status, 401, "a local account never asks the directory");
            let (status, body) = sign_in(&t, "helga", "helga-ldap-pass").await;
            assert_eq!(status, 503, "{body}");
            assert!(
                body["error"].as_str().unwrap().contains("directory"),
                "{body}"
            );
            t.finish().await;
        }),
    )
    .await;
}

/// StartTLS on `ldap://` and `ldaps://` against slapd with a certificate the config trusts
/// (`ca_file`): the sync and a sign-in work; without that trust the TLS handshake fails, the
/// sync reports it and changes nothing.
#[tokio::test]
async fn starttls_and_ldaps_work_with_the_configured_ca_and_fail_without_it() {
    within(60, async {
        let slapd = Slapd::start_tls();
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("bind.pw");
        std::fs::write(&pw, format!("{SERVICE_PASSWORD}\n")).unwrap();
        let mut cfg = Config::default();
        directory(&mut cfg, &slapd, &pw);
        let mut d = cfg.directory;
        d.starttls = true;
        d.ca_file = slapd.ca_file.clone();
        d.validate().unwrap();
        let (store, guard) = firstline::store::testing::test_store().await;
        let run = firstline::directory::sync::run_recorded(&d, &store, "31").await;
        let people = u64::try_from(GENERATED + NAMED).unwrap();
        assert_eq!(run.expect("a sync over StartTLS").seen, people);
        let signed = firstline::directory::authenticate(&d, "helga", "helga-ldap-pass").await;
        assert!(
            matches!(signed, Ok(firstline::directory::SignInResult::Accepted(ref a)) if a.role == "admin"),
            "{signed:?}"
        );

        let mut ldaps = d.clone();
        ldaps.starttls = false;
        ldaps.url = slapd.ldaps_url.clone().unwrap();
        let run = firstline::directory::sync::run_recorded(&ldaps, &store, "31").await;
        assert_eq!(run.expect("a sync over ldaps").counts.updated, people);

        let mut untrusted = d.clone();
        untrusted.ca_file = None;
        let err = firstline::directory::sync::run_recorded(&untrusted, &store, "31")
            .await
            .unwrap_err();
        assert!(err.contains("cannot reach the directory"), "{err}");
        assert_eq!(store.count_directory_customers(firstline::store::CustomerSource::Ldap).await.unwrap(), i64::try_from(people).unwrap());
        guard.cleanup().await;
    })
    .await;
}
