//! The page's words: the Dutch page has no English left (no ⟦key⟧, no English catalogue value
//! in the visible text of the live view, the dialogs, the reports and the wallboard), and the
//! facts the feed sends (reason codes, registration, the call being wrapped up, audit names) are
//! said in words in both languages.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::checks::{all_dutch, value_regex};
use super::{
    ESCAPE, SECS, agent_rows, demo_agents_not_ready, extra_agents, keys_to, screenshot_path,
};
use crate::desk_page::text_of;
use crate::helpers::within;
use crate::scenario::registered_phone;
use crate::supervisor::{attr_is, queued_caller, shows, supervisor_app, supervisor_page};

/// Every English catalogue value that differs from Dutch (and is no Dutch value at all), as
/// `[key, regex source]` pairs; the number of catalogue files compared.
fn english_words() -> (Value, usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/i18n");
    let read = |lang: &str| -> Vec<(String, serde_json::Map<String, Value>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(lang))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, serde_json::from_str(&text).unwrap())
            })
            .collect()
    };
    let (en, nl) = (read("en"), read("nl"));
    let dutch: std::collections::HashSet<&str> = nl
        .iter()
        .flat_map(|(_, m)| m.values().filter_map(Value::as_str))
        .collect();
    let mut out = Vec::new();
    for (file, values) in &en {
        let theirs = nl.iter().find(|(f, _)| f == file).map(|(_, m)| m);
        for (key, v) in values {
            let Some(v) = v.as_str() else { continue };
            let same = theirs.and_then(|m| m.get(key)).and_then(Value::as_str) == Some(v);
            if same || dutch.contains(v) {
                continue;
            }
            if let Some(re) = value_regex(v) {
                out.push(json!([format!("{file}:{key}"), re]));
            }
        }
    }
    (Value::Array(out), en.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dutch_page_shows_every_string_in_dutch() {
    within(
        150,
        Box::pin(async {
            let (english, files) = english_words();
            assert!(files >= 2 && english.as_array().unwrap().len() > 100, "{files} files");
            let t = supervisor_app().await;
            demo_agents_not_ready(&t).await;
            extra_agents(&t, 1).await;
            let (_ua, _rtp, call) = queued_caller(&t, '1').await;
            let b = supervisor_page(&t).await;
            b.set_viewport(1400, 900).await;
            b.click_css("[data-testid=lang-select] option[value='nl']").await;
            b.until(10, "the page in Dutch", "return document.documentElement.lang === 'nl';", json!([]))
                .await;
            shows(&b, "conn-status", "live").await;
            shows(&b, "agent-agent-demo-anna-state", "niet beschikbaar").await;
            shows(&b, &format!("caller-{call}-priority"), "3 · normaal").await;
            // An action, so that the recent actions hold a sentence.
            b.click_css(&format!("[data-testid=\"prio-up-{call}\"]")).await;
            b.until(5, "the confirmation", "return document.querySelector('[data-testid=confirm]').open;", json!([]))
                .await;
            all_dutch(&b, &english, "the confirmation dialog").await;
            b.click(&b.testid("confirm-ok").await).await;
            shows(&b, "action-status", "gedaan ✓").await;
            b.until(
                10,
                "the action as a Dutch sentence",
                "return [...document.querySelectorAll('[data-testid=audit-row]')] \
                 .some((r) => /Sanne Visser wijzigde de prioriteit van (Anouk de Vries · )?\\+31201234567 van 3 naar 2$/ \
                   .test(r.textContent.trim()));",
                json!([]),
            )
            .await;
            all_dutch(&b, &english, "the live view").await;
            b.screenshot(&screenshot_path("supervisor-nl-1400x900.png")).await;
            keys_to(&b, "body", "?").await;
            b.until(5, "the help overlay", "return document.querySelector('[data-testid=help]').open;", json!([]))
                .await;
            all_dutch(&b, &english, "the help overlay").await;
            keys_to(&b, "[data-testid=help-close]", ESCAPE).await;
            keys_to(&b, "body", "r").await;
            b.until(10, "the reports", "return !!document.querySelector('[data-testid=report-loaded]');", json!([]))
                .await;
            b.click(&b.testid("export-btn").await).await;
            b.until(10, "the download", "return !!document.querySelector('[data-testid=export-result]').dataset.rows;", json!([]))
                .await;
            all_dutch(&b, &english, "the reports").await;
            b.exec("window.scrollTo(0, document.body.scrollHeight);", json!([])).await;
            b.screenshot(&screenshot_path("reports-nl-bottom-1400x900.png")).await;
            b.goto("/supervisor.html?wallboard=1").await;
            shows(&b, "conn-status", "live").await;
            attr_is(&b, &format!("caller-{call}-priority"), "priority", "2").await;
            all_dutch(&b, &english, "the wallboard").await;
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

/// Agents in the shapes the feed sends (docs/supervisor.md, issue 10): a call being wrapped up
/// with its caller, system and own reasons (`reason_code`), phone registration. Fed to the page's
/// own model (the module the page runs), so the page renders them as it would from the server.
fn contract_agents(now: i64) -> Value {
    let agent = |id: &str, name: &str, state: &str, extra: Value| {
        let mut a = json!({"id": format!("agent-test-{id}"), "name": name, "state": state,
            "reason": null, "reason_code": null, "since": now - 65_000, "call_id": null,
            "device": "phone", "held": null, "quality": {"server": null, "browser": null},
            "registered": true, "transport": "udp", "reachable": true});
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    };
    json!([
        agent(
            "wim",
            "Wim Wouters",
            "wrap_up",
            json!({"call_id": "call-c1",
            "caller": "+31201234567", "customer_name": "Anouk de Vries", "transport": "tcp"})
        ),
        agent(
            "nina",
            "Nina Peeters",
            "not_ready",
            json!({"reason": "no answer",
            "reason_code": "no_answer", "registered": false, "transport": null, "reachable": false})
        ),
        agent(
            "lars",
            "Lars Janssens",
            "not_ready",
            json!({"reason": "lunch", "device": "browser",
            "registered": null, "transport": null})
        ),
        agent("ada", "Ada Claes", "available", json!({"reason": "login"})),
        agent(
            "sam",
            "Sam Wouters",
            "not_ready",
            json!({"reason": "coaching",
            "reason_code": "supervisor"})
        ),
    ])
}

/// Audit rows with the names and details the feed engineer adds (`actor_name`, `target_name`).
fn contract_audit() -> Value {
    let row = |action: &str, target: &str, target_name: &str, details: Value| {
        json!({"id": "aud-x", "at": 1_764_590_000_000_i64, "actor": "agent-demo-sanne",
            "actor_name": "Sanne Jansen", "action": action, "target": target,
            "target_name": target_name, "details": details})
    };
    json!([
        row(
            "agent_not_ready",
            "agent-demo-anna",
            "Anna Koster",
            json!({"reason": "lunch"})
        ),
        row(
            "call_priority",
            "call-zz",
            "+31201234567",
            json!({"from": 3, "to": 1})
        ),
        row(
            "call_queue",
            "call-zz",
            "+31201234567",
            json!({"from": "hardware", "to": "service"})
        ),
        row("agent_logout", "agent-demo-anna", "Anna Koster", json!({})),
        // Without names: the supervisor is the signed-in one, the agent one the feed knows.
        json!({"id": "aud-y", "at": 1, "actor": "agent-demo-sanne", "action": "agent_not_ready",
            "target": "agent-test-lars", "details": {}}),
    ])
}

const INJECT: &str = "return import('/supervisor/model.js').then((m) => { \
     m.handleFrame({ v: 1, type: 'update', agents: arguments[0] }, () => {}); return true; });";
const SENTENCES: &str =
    "return import('/supervisor/words.js').then((w) => arguments[0].map(w.auditSentence));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_puts_the_feeds_facts_in_words() {
    within(
        120,
        Box::pin(async {
            // Offers ring 2 s: an offer nobody answers makes the agent not ready, "no answer".
            let t = crate::helpers::spawn_queue_app(|_| {}).await;
            let mut phone = registered_phone(&t, "2001").await;
            let b = supervisor_page(&t).await;
            t.login("anna").await;
            let (_ua, _rtp, _) = queued_caller(&t, '1').await;
            phone.invite(10 * SECS).await.expect("anna's phone rings");
            phone.ring().await;
            assert!(phone.expect_cancel(10 * SECS).await, "the offer ends unanswered");
            shows(&b, "agent-agent-demo-anna-state", "not ready").await;
            shows(&b, "agent-agent-demo-anna-reason", "did not answer a call").await;

            let now = b.exec("return Date.now();", json!([])).await.as_i64().unwrap();
            assert_eq!(b.exec(INJECT, json!([contract_agents(now)])).await, json!(true));
            agent_rows(&b, 6).await;
            let call = text_of(&b, "agent-agent-test-wim-call").await;
            assert!(
                call.contains("Anouk de Vries · +31201234567") && call.contains("(wrap-up)"),
                "the call being wrapped up, by its caller: {call:?}"
            );
            attr_is(&b, "agent-agent-test-wim-call", "callId", "call-c1").await;
            shows(&b, "agent-agent-test-nina-reason", "did not answer a call").await;
            shows(&b, "agent-agent-test-lars-reason", "lunch").await;
            shows(&b, "agent-agent-test-sam-reason", "set by a supervisor: coaching").await;
            let phones: Value = b
                .exec(
                    "const row = (id) => document.querySelector(`[data-agent-id=agent-test-${id}]`); \
                     const note = (id) => { const e = row(id).querySelector('[data-testid=agent-phone]'); \
                       return e ? [e.textContent, e.classList.contains('warn')] : null; }; \
                     return { wim: note('wim'), nina: note('nina'), lars: note('lars'), ada: note('ada'), \
                       adaReason: !!row('ada').querySelector('[data-testid$=-reason]') };",
                    json!([]),
                )
                .await;
            assert_eq!(
                phones,
                json!({"wim": ["phone registered (TCP)", false],
                    "nina": ["phone not registered · not offered calls", true],
                    "lars": null, "ada": ["phone registered (UDP)", false], "adaReason": false}),
                "registration in words; no reason beside `available`"
            );
            let english = b.exec(SENTENCES, json!([contract_audit()])).await;
            assert_eq!(
                english,
                json!([
                    "Sanne Jansen set Anna Koster to not ready: lunch",
                    "Sanne Jansen changed the priority of +31201234567 from 3 to 1",
                    "Sanne Jansen moved +31201234567 from Hardware to Service",
                    "Sanne Jansen logged Anna Koster out",
                    "Sanne Visser set Lars Janssens to not ready",
                ])
            );

            b.click_css("[data-testid=lang-select] option[value='nl']").await;
            b.until(10, "the page in Dutch", "return document.documentElement.lang === 'nl';", json!([]))
                .await;
            shows(&b, "agent-agent-test-nina-reason", "nam een gesprek niet op").await;
            shows(&b, "agent-agent-demo-anna-reason", "nam een gesprek niet op").await;
            let call = text_of(&b, "agent-agent-test-wim-call").await;
            assert!(call.contains("(nawerk)"), "{call:?}");
            let dutch = b.exec(SENTENCES, json!([contract_audit()])).await;
            assert_eq!(dutch[0], json!("Sanne Jansen zette Anna Koster op niet beschikbaar: lunch"));
            assert_eq!(
                dutch[1],
                json!("Sanne Jansen wijzigde de prioriteit van +31201234567 van 3 naar 1")
            );
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}
