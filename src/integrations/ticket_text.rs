//! The words a ticket system receives, one definition for Request Tracker and Zammad: the
//! subject (`[FL-2026-00042] title`), the description with the call's facts and the link back,
//! the requester's address, and the comments for a resolution, an escalation, a return and a
//! reopening. Pure.

use serde_json::Value;

use crate::store::IntakeSnapshot;

/// `[FL-2026-00042] Outlook crashes`; without a title, the category and the caller.
pub(super) fn subject(i: &IntakeSnapshot) -> String {
    let title = match i.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_owned(),
        None => format!(
            "{} call from {}",
            category_name(&i.category),
            i.caller.as_deref().unwrap_or("an unknown number")
        ),
    };
    match &i.ticket_no {
        Some(no) => format!("[{no}] {title}"),
        None => title,
    }
}

/// The marker of `subject` that finds the ticket again: `[FL-2026-00042]`.
pub(super) fn marker(i: &IntakeSnapshot) -> Option<String> {
    i.ticket_no.as_ref().map(|no| format!("[{no}]"))
}

/// `Hardware`, …
pub(super) fn category_name(category: &str) -> &'static str {
    match category {
        "hardware" => "Hardware",
        "software" => "Software",
        "service" => "Service",
        _ => "Unclassified",
    }
}

/// `1 (business-critical)` … `5 (a question)`.
pub(super) fn priority_name(p: Option<i64>) -> String {
    match p {
        Some(1) => "1 (business-critical)".to_owned(),
        Some(2) => "2 (high)".to_owned(),
        Some(3) => "3 (normal)".to_owned(),
        Some(4) => "4 (low)".to_owned(),
        Some(5) => "5 (a question)".to_owned(),
        _ => "not chosen".to_owned(),
    }
}

/// Index 0..5 into a five-entry mapping for the intake's priority (unchosen: 3).
pub(super) fn priority_index(p: Option<i64>) -> usize {
    usize::try_from(p.unwrap_or(3).clamp(1, 5) - 1).unwrap_or(2)
}

/// The ticket's first text: the description, then the call's facts and the link.
pub(super) fn description(i: &IntakeSnapshot, link: &str) -> String {
    let mut out = String::new();
    if let Some(d) = i
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        out.push_str(d);
        out.push_str("\n\n");
    }
    let line = |out: &mut String, k: &str, v: &str| {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push('\n');
    };
    if let Some(no) = &i.ticket_no {
        line(&mut out, "Intake", no);
    }
    line(&mut out, "Category", category_name(&i.category));
    line(&mut out, "Priority", &priority_name(i.priority));
    if let Some(c) = &i.customer {
        let org = c
            .organisation
            .as_deref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        line(&mut out, "Customer", &format!("{}{org}", c.name));
    }
    if let Some(caller) = &i.caller {
        line(&mut out, "Caller number", caller);
    }
    if !i.ivr_path.is_empty() {
        line(&mut out, "IVR choices", &i.ivr_path);
    }
    if let Some(lang) = &i.language {
        line(&mut out, "Language", lang);
    }
    if let Some(call) = &i.call_id {
        line(&mut out, "Call id", call);
    }
    if let Some(by) = &i.updated_by {
        line(&mut out, "Taken by", &by.name);
    }
    line(&mut out, "In firstline", link);
    out
}

/// The requester: the customer's e-mail, else `placeholder` with `{number}` as the caller's
/// digits (`unknown` without a number).
pub(super) fn requester(i: &IntakeSnapshot, placeholder: &str) -> String {
    if let Some(email) = i
        .customer
        .as_ref()
        .and_then(|c| c.email.as_deref())
        .map(str::trim)
        .filter(|e| e.contains('@'))
    {
        return email.to_owned();
    }
    let digits: String = i
        .caller
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    placeholder.replace(
        "{number}",
        if digits.is_empty() {
            "unknown"
        } else {
            &digits
        },
    )
}

fn by(i: &IntakeSnapshot) -> &str {
    i.updated_by
        .as_ref()
        .map_or("firstline", |p| p.name.as_str())
}

/// The comment of a resolution.
pub(super) fn resolved(i: &IntakeSnapshot) -> String {
    format!(
        "Resolved at the first contact by {}.\n\nSolution:\n{}",
        by(i),
        i.solution.as_deref().unwrap_or("(none given)")
    )
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The comment of an escalation (`detail`: the event's `escalation` object).
pub(super) fn escalated(i: &IntakeSnapshot, detail: &Value) -> String {
    let to = detail
        .get("to_level")
        .and_then(Value::as_i64)
        .unwrap_or(i.level);
    let whom = if to == 3 { "vendor" } else { "group" };
    let mut out = format!(
        "Escalated to level {to} ({whom} {}) by {}.\n\nReason:\n{}\n",
        text(detail, "target"),
        by(i),
        text(detail, "reason")
    );
    if let Some(case) = detail.get("case_ref").and_then(Value::as_str) {
        out.push_str(&format!(
            "\nVendor: {}\nVendor case reference: {case}\n",
            text(detail, "target")
        ));
    }
    out
}

/// The comment of a return to the first level.
pub(super) fn returned(i: &IntakeSnapshot, detail: &Value) -> String {
    format!(
        "Returned to the first level by {}.\n\nReason:\n{}",
        by(i),
        text(detail, "reason")
    )
}

/// The comment of a reopening.
pub(super) fn reopened(i: &IntakeSnapshot, detail: &Value) -> String {
    format!(
        "Reopened by {}.\n\nReason:\n{}",
        by(i),
        text(detail, "reason")
    )
}
