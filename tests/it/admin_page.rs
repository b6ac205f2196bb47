//! The admin pages in headless Chromium (issue 13's acceptance): an admin creates an agent with
//! an extension, a SIP password and one skill; a SIPp phone registers with those credentials at
//! once and receives the next caller of that queue; the new agent works in a desk of their own;
//! deactivating them on the admin page ends that desk session and unregisters the phone. Every
//! change leaves an audit row.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::desk_page::submit_login;
use crate::helpers::{PASSWORD, TestApp, account, spawn_queue_app, wait_for, within};
use crate::host::{free_port, tool};
use crate::scenario::{caller, press};
use crate::webdriver::Browser;

const SIP_PASSWORD: &str = "tulip-phone-77";

/// A SIPp agent phone that registers as `ext` and answers the server's INVITEs.
fn sipp_phone(t: &TestApp, ext: &str, password: &str) -> tokio::process::Child {
    let sipp_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/");
    tokio::process::Command::new(tool("sipp"))
        .args(["-sf", &format!("{sipp_dir}agent_register_stay.xml")])
        .args(["-oocsf", &format!("{sipp_dir}agent_answer.xml")])
        .args(["-au", ext, "-ap", password, "-s", ext])
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string()])
        .args(["-m", "1", "-nostdin", "-timeout", "90"])
        .arg(t.udp().to_string())
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("sipp")
}

async fn fill(b: &Browser, testid: &str, text: &str) {
    b.send_keys(&b.testid(testid).await, text).await;
}

async fn audit_actions(t: &TestApp) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT action FROM audit ORDER BY at, id")
        .fetch_all(&t.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_an_agent_whose_phone_takes_the_next_caller_then_deactivates_them() {
    within(150, Box::pin(async {
        // SIPp 3.6 reads only the first challenge and computes MD5 only.
        let t = spawn_queue_app(|c| c.sip.digest = firstline::config::DigestSetting::Md5First)
            .await;
        account(&t, "olga", "admin").await;
        let admin = Browser::start(t.app.http_addr()).await;
        submit_login(&admin, "olga", PASSWORD).await;
        admin
            .until(10, "the live view after login", "return location.pathname === '/supervisor.html'", json!([]))
            .await;
        admin.click(&admin.testid("admin-link").await).await;
        admin
            .until(10, "the agents table", "return !!document.querySelector('[data-testid=agent-row-anna]');", json!([]))
            .await;

        // The new agent: software only, extension 2042 with a SIP password.
        fill(&admin, "agent-login", "henk").await;
        fill(&admin, "agent-name", "Henk de Vries").await;
        fill(&admin, "agent-password", "tulips and windmills").await;
        fill(&admin, "agent-extension", "2042").await;
        fill(&admin, "agent-sip-password", SIP_PASSWORD).await;
        admin.click(&admin.testid("agent-cat-hardware").await).await;
        admin.click(&admin.testid("agent-cat-service").await).await;
        admin.click(&admin.testid("agent-save").await).await;
        let row = admin
            .until(10, "henk's row", "const e = document.querySelector('[data-testid=agent-row-henk]'); return e && e.textContent;", json!([]))
            .await;
        let row = row.as_str().unwrap_or_default().to_owned();
        assert!(row.contains("2042") && row.contains("Software") && !row.contains("Hardware"), "{row:?}");

        // The phone registers with those credentials at once (no restart).
        let mut phone = sipp_phone(&t, "2042", SIP_PASSWORD);
        let bound = wait_for(Duration::from_secs(10), || async { t.app.sip().binding("2042") }).await;
        assert!(bound.is_some(), "SIPp did not register 2042 with the new credentials");

        // Henk signs in to a desk of his own and is available.
        let desk = Browser::start(t.app.http_addr()).await;
        submit_login(&desk, "henk", "tulips and windmills").await;
        desk.until(15, "henk's desk, available", "const e = document.querySelector('[data-testid=agent-state]'); return e && e.dataset.state === 'available';", json!([]))
            .await;

        // A software caller (English, software, priority 3) is offered to henk's phone.
        let (mut ua, _rtp, _) = caller(&t).await;
        for d in ['2', '2', '3'] {
            press(&mut ua, d).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let henk_id = sqlx::query_scalar::<_, String>("SELECT id FROM agents WHERE login = 'henk'")
            .fetch_one(&t.pool)
            .await
            .unwrap();
        let row = t.queued(&ua.call_id).await;
        assert_eq!(row.category.as_deref(), Some("software"), "{row:?}");
        let answered = wait_for(Duration::from_secs(15), || async {
            let offers = t.offers_of(&row.id).await;
            offers
                .iter()
                .any(|(a, r)| a == &henk_id && r.as_deref() == Some("answered"))
                .then_some(offers)
        })
        .await;
        assert!(answered.is_some(), "henk's SIPp phone did not answer the caller: {:?}", t.offers_of(&row.id).await);
        assert_eq!(ua.bye().await, Some(200));

        // Deactivated on the admin page (confirmed in place) once the call has ended.
        let off = wait_for(Duration::from_secs(10), || async {
            let states = t.agent_states(&henk_id).await;
            let last = states.last().map(|(_, to, _)| to.clone());
            let talked = states.iter().any(|(_, to, _)| to == "on_call");
            (talked && last.as_deref() != Some("on_call")).then_some(())
        })
        .await;
        assert!(off.is_some(), "henk's call did not end");
        admin.click(&admin.testid("deactivate-henk").await).await;
        admin.click(&admin.testid("confirm-deactivate-henk").await).await;
        let status = admin
            .until(10, "henk inactive", "const e = document.querySelector('[data-testid=agent-active-henk]'); return e && e.textContent === 'inactive' && e.textContent;", json!([]))
            .await;
        assert_eq!(status, json!("inactive"));

        // His desk session ends (the desk goes back to the login page) and his phone's binding is gone.
        desk.until(15, "henk's desk signed out", "return location.pathname === '/';", json!([]))
            .await;
        let gone = wait_for(Duration::from_secs(5), || async {
            t.app.sip().binding("2042").is_none().then_some(())
        })
        .await;
        assert!(gone.is_some(), "the deactivated agent's phone is still registered");
        let me = crate::helpers::http_json(t.app.http_addr(), "POST", "/api/login", None,
            Some(json!({ "login": "henk", "password": "tulips and windmills" }))).await;
        assert_eq!(me.0, 401, "a deactivated agent cannot sign in: {}", me.1);
        let actions = audit_actions(&t).await;
        for a in ["agent_create", "agent_sip_password", "agent_deactivate"] {
            assert!(actions.iter().any(|x| x == a), "audit has {a}: {actions:?}");
        }
        let _ = phone.kill().await;
        desk.quit().await;
        admin.quit().await;
        t.finish().await;
    }))
    .await;
}

/// The binary on a database without an admin prints a one-time setup link; the link creates the
/// first admin once; a restart on that database prints none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_start_prints_a_one_time_setup_link_that_creates_the_admin() {
    within(
        120,
        Box::pin(async {
            let db = crate::helpers::TestDb::new().await;
            let dir = tempfile::tempdir().unwrap();
            let server = crate::server_process::Server::start(&db.url, dir.path(), None).await;
            let link = wait_for(Duration::from_secs(10), || async {
                let lines = server.lines.lock().unwrap();
                lines.iter().find_map(|(_, l)| {
                    l.split_whitespace()
                        .find_map(|w| w.split_once("/setup.html#").map(|(_, t)| t.to_owned()))
                })
            })
            .await;
            let token = link.expect("no setup link printed");
            let token = token
                .trim_end_matches(|c: char| !c.is_ascii_hexdigit())
                .to_owned();
            let body = |token: &str| {
                json!({ "token": token, "login": "olga", "name": "Olga Ops",
                    "password": "correct horse battery staple" })
            };
            let (status, _) =
                crate::helpers::http_json(server.http, "POST", "/api/setup", None, Some(body("0")))
                    .await;
            assert_eq!(status, 403);
            let (status, made) = crate::helpers::http_json(
                server.http,
                "POST",
                "/api/setup",
                None,
                Some(body(&token)),
            )
            .await;
            assert_eq!(status, 201, "{made}");
            let (status, _) = crate::helpers::http_json(
                server.http,
                "POST",
                "/api/setup",
                None,
                Some(body(&token)),
            )
            .await;
            assert_eq!(status, 403, "the link works once");
            let login = json!({ "login": "olga", "password": "correct horse battery staple" });
            let (status, me) =
                crate::helpers::http_json(server.http, "POST", "/api/login", None, Some(login))
                    .await;
            assert_eq!(
                (status, me["agent"]["role"].as_str()),
                (200, Some("admin")),
                "{me}"
            );
            drop(server);

            let again = crate::server_process::Server::start(&db.url, dir.path(), None).await;
            let (status, needed) =
                crate::helpers::http_json(again.http, "GET", "/api/setup", None, None).await;
            assert_eq!(
                (status, needed["needed"].as_bool()),
                (200, Some(false)),
                "{needed}"
            );
            let printed = again
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|(_, l)| l.contains("setup.html#"));
            assert!(!printed, "no link once an admin exists");
            drop(again);
            db.drop_db().await;
        }),
    )
    .await;
}

/// The customer import in the browser: the check names the bad row and column, offers no
/// "import all" for a file with a bad row, and "import the valid rows" stores exactly those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_page_reports_the_bad_row_and_imports_the_valid_ones_on_request() {
    within(120, Box::pin(async {
        let t = spawn_queue_app(|_| {}).await;
        account(&t, "olga", "admin").await;
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("staff.csv");
        std::fs::write(
            &csv,
            "Personnel no.,Name,Department,Phone\r\n\
             E-1,Lieke Jansen,Finance,020 555 7101\r\n\
             E-2,Ruben Bakker,Facilities,020 555 7102\r\n\
             E-3,,Finance,020 555 7103\r\n\
             E-4,Sara Koç,HR,+31 20 555 7104\r\n",
        )
        .unwrap();
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM customers WHERE external_id LIKE 'E-%'")
                .fetch_one(&t.pool)
                .await
                .unwrap()
        };
        let b = Browser::start(t.app.http_addr()).await;
        submit_login(&b, "olga", PASSWORD).await;
        b.until(10, "the live view", "return location.pathname === '/supervisor.html'", json!([])).await;
        b.goto("/admin.html#import").await;
        b.send_keys(&b.testid("import-file").await, csv.to_str().unwrap()).await;
        b.send_keys(&b.testid("import-map").await, "Personnel no.=external_id").await;
        b.click(&b.testid("import-check").await).await;
        let error = b
            .until(15, "the bad row in the report", "const e = document.querySelector('[data-testid=import-error-4]'); return e && e.textContent;", json!([]))
            .await;
        let error = error.as_str().unwrap_or_default().to_owned();
        assert!(error.contains("Name"), "the report names the column: {error:?}");
        let counts = b.text(&b.testid("import-counts").await).await;
        assert!(counts.contains("4 rows") && counts.contains("3 valid") && counts.contains("1 with problems"), "{counts:?}");
        assert!(b.try_find("[data-testid=import-commit]").await.is_none(), "no import-all with a bad row");
        assert_eq!(count().await, 0, "a check stores nothing");

        b.click(&b.testid("import-valid").await).await;
        let notice = b
            .until(15, "the import done", "const e = document.querySelector('[data-testid=notice]'); return e && e.textContent.includes('Imported') && e.textContent;", json!([]))
            .await;
        assert!(notice.as_str().unwrap_or_default().contains("3 new"), "{notice}");
        assert_eq!(count().await, 3);
        let dept: String = sqlx::query_scalar("SELECT department FROM customers WHERE external_id = 'E-4'")
            .fetch_one(&t.pool)
            .await
            .unwrap();
        assert_eq!(dept, "HR");
        // The desk's customer view says which fields the import owns.
        let id: String = sqlx::query_scalar("SELECT id FROM customers WHERE external_id = 'E-4'")
            .fetch_one(&t.pool)
            .await
            .unwrap();
        let token = {
            let body = json!({ "login": "olga", "password": PASSWORD });
            let (_, j) =
                crate::helpers::http_json(t.app.http_addr(), "POST", "/api/login", None, Some(body))
                    .await;
            j["token"].as_str().unwrap().to_owned()
        };
        let (status, view) = crate::helpers::http_json(
            t.app.http_addr(), "GET", &format!("/api/customers/{id}"), Some(&token), None).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["source"], "csv", "{view}");
        let owned = view["synced_fields"].as_array().cloned().unwrap_or_default();
        assert!(owned.contains(&json!("name")) && owned.contains(&json!("department")), "{view}");
        b.quit().await;
        t.finish().await;
    }))
    .await;
}

/// The directory page against a real OpenLDAP: the status after the sync at start, then a person
/// removed from the directory is deactivated by "Sync now", which the page reports in words; a
/// directory that went down is reported as a failed sync that changed nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_page_syncs_now_and_reports_a_directory_that_is_down() {
    use crate::ldap_fixture::{PEOPLE, SERVICE_PASSWORD, Slapd};
    within(120, Box::pin(async {
        let mut slapd = Slapd::start();
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("bind.pw");
        std::fs::write(&pw, format!("{SERVICE_PASSWORD}\n")).unwrap();
        let t = spawn_queue_app(|c| crate::ldap::directory(c, &slapd, &pw)).await;
        account(&t, "olga", "admin").await;
        let active = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM customers WHERE source = 'ldap' AND active = 1",
            )
            .fetch_one(&t.pool)
            .await
            .unwrap()
        };
        let first = wait_for(Duration::from_secs(20), || async {
            let n = active().await;
            (n > 0).then_some(n)
        })
        .await
        .expect("the sync at start stored nobody");

        let b = Browser::start(t.app.http_addr()).await;
        submit_login(&b, "olga", PASSWORD).await;
        b.until(10, "the live view", "return location.pathname === '/supervisor.html'", json!([])).await;
        b.goto("/admin.html#directory").await;
        let url = b
            .until(10, "the directory status", "const e = document.querySelector('[data-testid=directory-url]'); return e && e.textContent;", json!([]))
            .await;
        assert_eq!(url, json!(slapd.url), "the page shows the server, never the password");
        assert!(!b.body_text().await.contains(SERVICE_PASSWORD));

        slapd.delete(&format!("uid=lieke,{PEOPLE}"));
        b.click(&b.testid("directory-sync").await).await;
        let notice = b
            .until(30, "the sync's result", "const e = document.querySelector('[data-testid=notice]'); return e && e.textContent.includes('Synced') && e.textContent;", json!([]))
            .await;
        assert!(notice.as_str().unwrap_or_default().contains("1 deactivated"), "{notice}");
        assert_eq!(active().await, first - 1);

        slapd.stop();
        b.click(&b.testid("directory-sync").await).await;
        let failed = b
            .until(30, "the failed sync", "const e = document.querySelector('[data-testid=notice]'); return e && e.textContent.includes('failed') && e.textContent;", json!([]))
            .await;
        assert!(failed.as_str().unwrap_or_default().contains("changed nothing"), "{failed}");
        let failures = b
            .until(10, "the failure count", "const e = document.querySelector('[data-testid=directory-failures]'); return e && e.textContent !== '0' && e.textContent;", json!([]))
            .await;
        assert_eq!(failures, json!("1"));
        assert_eq!(active().await, first - 1, "a failed sync deactivates nobody");
        b.quit().await;
        t.finish().await;
    }))
    .await;
}
