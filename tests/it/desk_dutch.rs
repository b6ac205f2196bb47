//! The desk in Dutch (issue 10's acceptance): anna switches the desk to Nederlands and works a
//! call; at every step (idle, ringing, connected with the details open, each outcome form, the
//! finished intake, wrap-up, search, recent calls, the help), and for eva's inbox, every visible
//! string is Dutch: the test fails on a key missing from the Dutch catalogue (shown as ⟦key⟧ and
//! recorded by web/i18n.js) and on any English catalogue text that differs from its Dutch one
//! appearing on the page (text, placeholders, tooltips, labels, options). The choice is kept
//! with the agent: it survives a reload.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::desk_page::{
    agent_hangs_up, anna_at_desk, answer, choose, desk_app, escalate, sign_in, sipp_rings,
    type_into, wrap_up_done,
};
use crate::helpers::{TestApp, within};
use crate::webdriver::Browser;

/// Every catalogue file of `lang`, merged: key → text.
fn catalogue(lang: &str) -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("web/i18n")
        .join(lang);
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (k, v) in v.as_object().expect("a catalogue is one object") {
            out.insert(
                k.clone(),
                v.as_str()
                    .expect("catalogue values are strings")
                    .to_string(),
            );
        }
    }
    out
}

/// The English words a Dutch page must not show: every text between placeholders of an English
/// message whose Dutch message differs, at least 4 characters with a letter.
fn english_only() -> Vec<String> {
    let (en, nl) = (catalogue("en"), catalogue("nl"));
    let mut out = Vec::new();
    for (k, e) in &en {
        if nl.get(k) == Some(e) {
            continue;
        }
        for part in e.split(['{', '}']).step_by(2) {
            let part = part.trim_matches(|c: char| !c.is_alphanumeric());
            if part.chars().count() >= 4
                && part.chars().any(char::is_alphabetic)
                && !nl.values().any(|n| n.contains(part))
            {
                out.push(part.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What the page shows now: its visible text plus the placeholders, tooltips, ARIA labels and
/// option texts of the visible elements.
const VISIBLE: &str = "
  const seen = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const out = [document.body.innerText];
  for (const e of document.querySelectorAll('[placeholder], [title], [aria-label]')) {
    if (!seen(e)) continue;
    for (const a of ['placeholder', 'title', 'aria-label']) if (e.getAttribute(a)) out.push(e.getAttribute(a));
  }
  for (const o of document.querySelectorAll('option')) if (o.parentElement && seen(o.parentElement)) out.push(o.textContent);
  return out.join('\\n');";

/// Fails when the page shows a missing key or English text; `step` names the moment.
async fn all_dutch(b: &Browser, english: &[String], step: &str) {
    let missing = b
        .exec(
            "return [...(window.firstlineMissingKeys || [])];",
            json!([]),
        )
        .await;
    assert_eq!(
        missing,
        json!([]),
        "{step}: keys missing from the Dutch catalogue"
    );
    let text = b
        .exec(VISIBLE, json!([]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !text.contains('⟦'),
        "{step}: a key shown instead of text: {text}"
    );
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    for word in english {
        for (at, _) in text.match_indices(word.as_str()) {
            let before = text[..at].chars().next_back();
            let after = text[at + word.len()..].chars().next();
            assert!(
                is_word(before) || is_word(after),
                "{step}: English {word:?} on the Dutch page:\n{text}"
            );
        }
    }
}

async fn to_dutch(b: &Browser) {
    choose(b, "lang-select", "nl").await;
    b.until(
        10,
        "the page in Dutch",
        "return document.documentElement.lang === 'nl';",
        json!([]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_visible_string_of_the_dutch_desk_is_dutch() {
    within(
        240,
        Box::pin(async {
            let english = english_only();
            assert!(
                english.iter().any(|w| w == "Wrap-up done"),
                "the check knows the English words: {english:?}"
            );
            let t = desk_app().await;
            // Boxed steps: one future holding them all would not fit the test thread's stack.
            Box::pin(anna_works_a_call_in_dutch(&t, &english)).await;
            Box::pin(eva_reads_her_inbox_in_dutch(&t, &english)).await;
            t.finish().await;
        }),
    )
    .await;
}

async fn anna_works_a_call_in_dutch(t: &TestApp, english: &[String]) {
    let (mut phone, b) = anna_at_desk(t).await;
    to_dutch(&b).await;
    all_dutch(&b, english, "idle").await;
    b.refresh().await;
    b.until(10, "still Dutch after a reload", "return document.documentElement.lang === 'nl' && !!document.querySelector('[data-testid=idle]');", json!([]))
        .await;

    let (cid, sipp, _) = sipp_rings(t, &mut phone, &b, "+31201234567").await;
    all_dutch(&b, english, "ringing").await;
    answer(&mut phone, &b).await;
    b.click_css("[data-testid=pop-details] summary").await;
    all_dutch(&b, english, "connected, details open").await;
    b.click(&b.testid("outcome-tab-escalate").await).await;
    choose(&b, "escalate-level", "3").await;
    all_dutch(&b, english, "the escalation form").await;
    b.click(&b.testid("escalate-btn").await).await;
    b.until(
        5,
        "the form's own message",
        "return !!document.querySelector('[data-testid=outcome-error]');",
        json!([]),
    )
    .await;
    all_dutch(&b, english, "a refused form").await;
    type_into(&b, "intake-title", "Beeldscherm flikkert").await;
    Box::pin(escalate(&b, 2, "Workplace", None, "Scherm vervangen")).await;
    all_dutch(&b, english, "escalated").await;
    agent_hangs_up(t, &mut phone, &cid, sipp).await;
    all_dutch(&b, english, "wrap-up").await;
    wrap_up_done(&b).await;

    b.click(&b.testid("tab-search").await).await;
    type_into(&b, "search-q", "020 123 4567").await;
    b.until(
        10,
        "search results",
        "return !!document.querySelector('[data-testid=search-results]');",
        json!([]),
    )
    .await;
    all_dutch(&b, english, "search").await;
    b.click(&b.testid("tab-recent").await).await;
    b.until(
        10,
        "the recent calls",
        "return !!document.querySelector('[data-testid=recent-calls] tbody tr');",
        json!([]),
    )
    .await;
    all_dutch(&b, english, "my calls").await;
    b.click(&b.testid("help-btn").await).await;
    all_dutch(&b, english, "help").await;
    b.quit().await;
}

async fn eva_reads_her_inbox_in_dutch(t: &TestApp, english: &[String]) {
    let eva = Browser::start(t.app.http_addr()).await;
    sign_in(&eva, "eva").await;
    to_dutch(&eva).await;
    eva.click(&eva.testid("tab-inbox").await).await;
    eva.until(
        10,
        "the inbox",
        "return !!document.querySelector('[data-testid=inbox-list] tbody tr');",
        json!([]),
    )
    .await;
    all_dutch(&eva, english, "inbox").await;
    eva.quit().await;
}
