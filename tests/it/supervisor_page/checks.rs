//! What the supervisor page tests measure in the page: layout (scroll, rows inside the viewport),
//! WCAG 2.x contrast from the computed styles, the Dutch page's words, and RFC 4180 records.

use serde_json::{Value, json};

use crate::webdriver::Browser;

/// The document's scroll sizes and every `[data-testid=<testid>]`'s box, also against the
/// scrolling panel it sits in (a row scrolled out of its panel is not "shown").
const LAYOUT: &str = r#"
const de = document.documentElement;
const boxes = [...document.querySelectorAll(`[data-testid="${arguments[0]}"]`)].map((e) => {
  const b = e.getBoundingClientRect();
  const box = e.parentElement.closest('.scroll');
  const c = box ? box.getBoundingClientRect() : { top: 0, bottom: innerHeight, left: 0, right: innerWidth };
  return { id: e.dataset.agentId || e.dataset.testid, top: b.top, bottom: b.bottom, left: b.left, right: b.right,
    inside: b.top >= 0 && b.left >= 0 && b.bottom <= innerHeight && b.right <= innerWidth
      && b.top >= c.top - 1 && b.bottom <= c.bottom + 1 };
});
return { scrollHeight: de.scrollHeight, clientHeight: de.clientHeight, scrollWidth: de.scrollWidth,
  clientWidth: de.clientWidth, innerHeight, innerWidth, boxes };
"#;

/// Every visible text on the page with its colour, its effective background (ancestors'
/// backgrounds composited down to the canvas) and the WCAG 2.x contrast ratio; the failures
/// (below 4.5:1, or 3:1 for large text: ≥ 24 px, or ≥ 18.66 px bold) and the state classes seen
/// on state badges and tiles.
const CONTRAST: &str = r#"
const parse = (c) => {
  const m = /rgba?\(([^)]+)\)/.exec(c || '');
  if (!m) return null;
  const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
const lum = (c) => {
  const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const background = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let bg = [255, 255, 255, 1];
  for (const l of layers.reverse()) bg = over(l, bg);
  return bg;
};
const seen = new Set();
const failures = [];
const states = new Set();
let checked = 0;
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const e = walker.currentNode.parentElement;
  if (!walker.currentNode.textContent.trim() || !e || seen.has(e)) continue;
  seen.add(e);
  if (e.closest('option, select, title, script, style, .sr-only') || e.getClientRects().length === 0) continue;
  const cs = getComputedStyle(e);
  if (cs.visibility === 'hidden') continue;
  const bg = background(e);
  const fg = over(parse(e instanceof SVGElement ? cs.fill : cs.color) || [0, 0, 0, 1], bg);
  const size = parseFloat(cs.fontSize);
  const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
  const need = large ? 3 : 4.5;
  const r = ratio(fg, bg);
  checked += 1;
  const badge = e.closest('.state, .agent-tile');
  if (badge) for (const c of badge.classList) if (c.startsWith('state-')) states.add(c.slice(6));
  if (r < need) {
    failures.push({ text: e.textContent.trim().slice(0, 40), fg: fg.slice(0, 3), bg: bg.slice(0, 3),
      ratio: Math.round(r * 100) / 100, need, size });
  }
}
return { checked, failures, states: [...states].sort() };
"#;

/// The layout of the page and of every `[data-testid=<testid>]`.
pub(crate) async fn layout(b: &Browser, testid: &str) -> Value {
    b.exec(LAYOUT, json!([testid])).await
}

/// Asserts that the document does not scroll either way and that every `testid` box (at least
/// `min` of them) lies inside the viewport and its scrolling panel.
pub(crate) async fn fits(b: &Browser, testid: &str, min: usize, what: &str) -> Value {
    let l = layout(b, testid).await;
    assert!(
        l["scrollHeight"].as_f64() <= l["clientHeight"].as_f64(),
        "{what}: the document scrolls vertically: {l}"
    );
    assert!(
        l["scrollWidth"].as_f64() <= l["clientWidth"].as_f64(),
        "{what}: the document scrolls horizontally: {l}"
    );
    let boxes = l["boxes"].as_array().cloned().unwrap_or_default();
    assert!(
        boxes.len() >= min,
        "{what}: {} {testid} boxes, want {min}: {l}",
        boxes.len()
    );
    let outside: Vec<&Value> = boxes
        .iter()
        .filter(|x| x["inside"] != json!(true))
        .collect();
    assert!(outside.is_empty(), "{what}: not in view: {outside:?}");
    l
}

/// Asserts WCAG AA contrast for every visible text, and that state badges or tiles of every
/// state in `states` were among them.
pub(crate) async fn contrast_ok(b: &Browser, states: &[&str], what: &str) {
    let c = b.exec(CONTRAST, json!([])).await;
    assert!(
        c["checked"].as_u64().unwrap_or(0) > 20,
        "{what}: too few texts checked: {c}"
    );
    assert_eq!(c["failures"], json!([]), "{what}: contrast below WCAG AA");
    let seen: Vec<&str> = c["states"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for s in states {
        assert!(seen.contains(s), "{what}: no `{s}` badge checked: {c}");
    }
}

/// The Dutch page: no ⟦key⟧ placeholder, no missing key, and none of `english` (regex sources,
/// `[key, source]`) in the visible text. The matches, for the failure message.
const DUTCH: &str = r#"
const text = document.body.innerText;
const missing = [...(window.firstlineMissingKeys || [])];
const found = arguments[0].filter(([, src]) => new RegExp(src, 'u').test(text)).map(([key]) => key);
return { missing, placeholder: text.includes('⟦'), found, length: text.length,
  sample: text.slice(0, 400) };
"#;

/// Asserts that the visible text of the page (`where`) is Dutch.
pub(crate) async fn all_dutch(b: &Browser, english: &Value, place: &str) {
    let r = b.exec(DUTCH, json!([english])).await;
    assert_eq!(
        r["missing"],
        json!([]),
        "{place}: keys missing from the catalogue: {r}"
    );
    assert_eq!(
        r["placeholder"],
        json!(false),
        "{place}: a ⟦key⟧ shows: {r}"
    );
    assert_eq!(
        r["found"],
        json!([]),
        "{place}: English words in the Dutch page: {r}"
    );
    assert!(r["length"].as_u64().unwrap_or(0) > 50, "{place}: {r}");
}

/// A JavaScript regex source that finds the catalogue value `value` as words in a text: the
/// literal parts escaped, each `{placeholder}` any short run, not inside a longer word (or a
/// file name: `_` counts as a letter). None when
/// the value has no letters outside its placeholders (a dash, `{n} %`).
pub(crate) fn value_regex(value: &str) -> Option<String> {
    let mut parts = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        parts.push(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    parts.push(rest);
    let parts: Vec<&str> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    if !parts.iter().any(|p| p.chars().any(char::is_alphabetic)) {
        return None;
    }
    let escape = |p: &str| {
        p.chars()
            .map(|c| {
                if "\\^$.|?*+()[]{}/".contains(c) {
                    format!("\\{c}")
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
    };
    let body: Vec<String> = parts.iter().map(|p| escape(p.trim())).collect();
    Some(format!(
        "(?<![\\p{{L}}\\p{{N}}_]){}(?![\\p{{L}}\\p{{N}}_])",
        body.join("[\\s\\S]{0,80}?")
    ))
}

/// The number of records in RFC 4180 text (quoted fields may hold line breaks), header included.
pub(crate) fn csv_records(text: &str) -> usize {
    let (mut records, mut quoted, mut pending) = (0, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, _) => {}
            (false, '"') => (quoted, pending) = (true, true),
            (false, '\n') => (records, pending) = (records + 1, false),
            (false, '\r') => {}
            (false, _) => pending = true,
        }
    }
    records + usize::from(pending)
}

#[test]
fn csv_records_count_quoted_line_breaks_as_one_record() {
    assert_eq!(csv_records(""), 0);
    assert_eq!(csv_records("a,b\r\n"), 1);
    assert_eq!(
        csv_records("a,b\r\n1,\"x\r\ny\"\r\n2,\"he said \"\"hi\"\"\"\r\n"),
        3
    );
    assert_eq!(csv_records("a\r\nb"), 2);
}

#[test]
fn catalogue_values_become_word_patterns() {
    assert_eq!(value_regex("–"), None);
    assert_eq!(value_regex("{n} %"), None);
    assert_eq!(
        value_regex("{actor} set {target} to not ready").as_deref(),
        Some("(?<![\\p{L}\\p{N}_])set[\\s\\S]{0,80}?to not ready(?![\\p{L}\\p{N}_])")
    );
    assert_eq!(
        value_regex("Move…").as_deref(),
        Some("(?<![\\p{L}\\p{N}_])Move…(?![\\p{L}\\p{N}_])")
    );
}

/// Every bar of the reports' charts against the panel behind it: at least 3:1 (WCAG 2.x 1.4.11,
/// non-text contrast); the number of bars checked and the failures.
const BARS: &str = r#"
const parse = (c) => { const m = /rgba?\(([^)]+)\)/.exec(c || ''); return m ? m[1].split(/[\s,/]+/).filter(Boolean).map(Number) : null; };
const lum = (c) => {
  const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const bars = [...document.querySelectorAll('svg rect.seg')];
const failures = bars.map((r) => {
  let e = r.closest('figure');
  let bg = null;
  for (; e && !bg; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && (c[3] ?? 1) >= 1) bg = c; }
  const fill = parse(getComputedStyle(r).fill);
  return { cls: r.getAttribute('class'), ratio: ratio(fill, bg || [255, 255, 255]) };
}).filter((x) => x.ratio < 3);
return { checked: bars.length, failures };
"#;

/// Asserts that the charts' bars (at least `min`) stand out from their panel (3:1).
pub(crate) async fn bars_contrast_ok(b: &Browser, min: u64) {
    let r = b.exec(BARS, json!([])).await;
    assert!(r["checked"].as_u64() >= Some(min), "chart bars: {r}");
    assert_eq!(r["failures"], json!([]), "chart bars below 3:1: {r}");
}
