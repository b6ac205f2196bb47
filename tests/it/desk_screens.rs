//! The desk fits the screens agents have (issue 10's acceptance): at 1280×720, in English and in
//! Dutch, the top bar is one line, the page itself never scrolls (only its columns do), and the
//! outcome actions — Resolve, Escalate and Wrap-up done — are inside the viewport while a call is
//! on; screenshots at 1280×720 and 1920×1080 go to `target/screenshots/`. The keyboard shortcuts
//! do what the help overlay says.

use std::path::Path;

use serde_json::{Value, json};

use crate::desk_page::{agent_hangs_up, anna_at_desk, answer, choose, desk_app, sipp_rings};
use crate::helpers::within;
use crate::webdriver::Browser;

/// The rectangles of the elements with these test ids, and the viewport.
const LAYOUT: &str = "
  const rect = (id) => { const e = document.querySelector(`[data-testid=\"${id}\"]`);
    if (!e) return null; const r = e.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right }; };
  const bar = document.querySelector('.topbar');
  const doc = document.documentElement;
  return { w: innerWidth, h: innerHeight, bar: bar.getBoundingClientRect().height,
    barOverflow: bar.scrollWidth > bar.clientWidth, docScroll: doc.scrollHeight > doc.clientHeight || doc.scrollWidth > doc.clientWidth,
    items: Object.fromEntries(arguments[0].map((id) => [id, rect(id)])) };";

fn screenshot_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/screenshots")
        .join(name)
}

/// Asserts the one-line top bar, no page scroll and `ids` wholly inside the viewport.
async fn fits(b: &Browser, ids: &[&str], what: &str) -> Value {
    let l = b.exec(LAYOUT, json!([ids])).await;
    let (w, h) = (l["w"].as_f64().unwrap(), l["h"].as_f64().unwrap());
    assert!(
        l["bar"].as_f64().unwrap() <= 48.0 && l["barOverflow"] == json!(false),
        "{what}: the top bar is one line: {l}"
    );
    assert_eq!(
        l["docScroll"],
        json!(false),
        "{what}: the page does not scroll: {l}"
    );
    for id in ids {
        let r = &l["items"][id];
        assert!(!r.is_null(), "{what}: {id} is on the page");
        let inside = r["top"].as_f64().unwrap() >= 0.0
            && r["left"].as_f64().unwrap() >= 0.0
            && r["bottom"].as_f64().unwrap() <= h
            && r["right"].as_f64().unwrap() <= w;
        assert!(inside, "{what}: {id} inside the {w}×{h} viewport: {r}");
    }
    l
}

/// Presses Alt+Shift+`key` in the element `[data-testid=<on>]` (W3C WebDriver key codes:
/// U+E00A Alt, U+E008 Shift, U+E000 releases them).
async fn shortcut(b: &Browser, on: &str, key: char) {
    b.send_keys(
        &b.testid(on).await,
        &format!("\u{E00A}\u{E008}{key}\u{E000}"),
    )
    .await;
}

async fn focused(b: &Browser) -> String {
    b.exec(
        "return document.activeElement ? document.activeElement.dataset.testid || '' : '';",
        json!([]),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_fits_1280_by_720_and_the_shortcuts_work() {
    within(180, Box::pin(async {
        let t = desk_app().await;
        let (mut phone, b) = anna_at_desk(&t).await;
        b.set_viewport(1280, 720).await;
        fits(&b, &["btn-available", "logout"], "idle").await;

        let (cid, sipp, _) = sipp_rings(&t, &mut phone, &b, "+31201234567").await;
        answer(&mut phone, &b).await;
        fits(&b, &["resolve-btn", "outcome-tab-escalate", "wrapup-btn", "intake-description"], "a call, resolve form").await;
        b.screenshot(&screenshot_path("desk-1280x720.png")).await;
        b.click(&b.testid("outcome-tab-escalate").await).await;
        choose(&b, "escalate-level", "3").await;
        fits(&b, &["escalate-btn", "escalate-case-ref", "wrapup-btn"], "a call, escalation form").await;

        // The same in Dutch, whose words are longer.
        choose(&b, "lang-select", "nl").await;
        b.until(10, "Dutch", "return document.documentElement.lang === 'nl';", json!([])).await;
        fits(&b, &["escalate-btn", "wrapup-btn", "btn-not-ready", "logout"], "Dutch, escalation form").await;
        b.screenshot(&screenshot_path("desk-1280x720-nl.png")).await;
        choose(&b, "lang-select", "en").await;

        // Shortcuts: description, resolve (open, then focus), escalate, help.
        shortcut(&b, "intake-title", 'd').await;
        assert_eq!(focused(&b).await, "intake-description", "Alt+Shift+D");
        shortcut(&b, "intake-description", 'r').await;
        b.until(5, "Alt+Shift+R opens Resolve", "return document.activeElement && document.activeElement.dataset.testid === 'resolve-solution';", json!([]))
            .await;
        shortcut(&b, "resolve-solution", 'e').await;
        b.until(5, "Alt+Shift+E opens Escalate", "return document.activeElement && document.activeElement.dataset.testid === 'escalate-target';", json!([]))
            .await;
        b.send_keys(&b.testid("tab-call").await, "?").await;
        let help = b
            .until(5, "the help overlay", "const e = document.querySelector('[data-testid=help-overlay]'); return e && e.textContent;", json!([]))
            .await;
        let help = help.as_str().unwrap_or_default();
        for line in ["Wrap-up done", "Go to the problem description", "Search"] {
            assert!(help.contains(line), "the help lists {line:?}: {help}");
        }
        b.click(&b.testid("help-close").await).await;

        b.set_viewport(1920, 1080).await;
        fits(&b, &["escalate-btn", "wrapup-btn"], "1920×1080").await;
        b.screenshot(&screenshot_path("desk-1920x1080.png")).await;
        agent_hangs_up(&t, &mut phone, &cid, sipp).await;
        b.quit().await;
        t.finish().await;
    }))
    .await;
}
