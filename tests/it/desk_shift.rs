//! A whole shift in one desk page (issue 10's acceptance): 20 SIPp callers in a row reach anna,
//! whose desk stays open the whole time, never reloaded. For each call the test types a
//! different title, description and outcome (resolve; escalate to a group with a reason;
//! escalate to a vendor with a case reference, in a mix), ends wrap-up from the page, and then
//! checks in the database that every intake and escalation row holds exactly what was typed for
//! it and nothing from another call. Guards the bug where the escalation form kept the previous
//! call's level, vendor, case reference and reason, and an error banner outlived its cause.

use serde_json::json;
use sqlx::Row;

use crate::desk_page::{
    agent_hangs_up, anna_at_desk, answer, confirmed, desk_app, errors_shown, escalate,
    intake_status, resolve, saved, sipp_rings, type_into, value_of, wrap_up_done,
};
use crate::helpers::{TestApp, within};

/// Callers of the shift: four demo customers and a number nobody has, over and over.
const NUMBERS: [&str; 5] = [
    "+31201234567",
    "+31302345671",
    "+31104567890",
    "+31205550101",
    "+31209876543",
];
const GROUPS: [&str; 4] = ["Workplace", "Network", "Applications", "Servers"];
const VENDORS: [&str; 3] = ["Dell", "HP", "Microsoft"];
const CALLS: usize = 20;

/// What the agent typed for one call.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Resolve {
        solution: String,
    },
    Group {
        target: String,
        reason: String,
    },
    Vendor {
        target: String,
        case_ref: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
struct Typed {
    call_id: String,
    title: String,
    description: String,
    outcome: Outcome,
}

fn plan(i: usize) -> (String, String, Outcome) {
    let title = format!(
        "Shift call {i}: {}",
        ["printer", "VPN", "Outlook", "laptop"][i % 4]
    );
    let description = format!(
        "Call {i} of the shift. Symptom #{} seen since {}:00.",
        i * 7 + 3,
        8 + i % 9
    );
    let outcome = match i % 3 {
        0 => Outcome::Resolve {
            solution: format!("Solved on the phone for call {i}"),
        },
        1 => Outcome::Group {
            target: GROUPS[i % GROUPS.len()].to_string(),
            reason: format!("Needs a specialist (call {i})"),
        },
        _ => Outcome::Vendor {
            target: VENDORS[i % VENDORS.len()].to_string(),
            case_ref: format!(
                "{}-SR-{}",
                VENDORS[i % VENDORS.len()].to_uppercase(),
                1000 + i
            ),
            reason: format!("Hardware fault under warranty (call {i})"),
        },
    };
    (title, description, outcome)
}

/// Every field of the pop's forms is empty when a new call pops: nothing of the last intake.
async fn forms_are_empty(b: &crate::webdriver::Browser, i: usize) {
    for field in ["intake-title", "intake-description", "resolve-solution"] {
        assert_eq!(
            value_of(b, field).await,
            "",
            "call {i}: {field} starts empty"
        );
    }
    b.click(&b.testid("outcome-tab-escalate").await).await;
    for field in ["escalate-target", "escalate-reason"] {
        assert_eq!(
            value_of(b, field).await,
            "",
            "call {i}: {field} starts empty"
        );
    }
    assert_eq!(
        value_of(b, "escalate-level").await,
        "2",
        "call {i}: level starts at 2"
    );
    b.click(&b.testid("outcome-tab-resolve").await).await;
    assert_eq!(
        errors_shown(b).await,
        Vec::<String>::new(),
        "call {i}: no old message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_calls_in_one_desk_page_each_store_exactly_what_was_typed() {
    within(600, Box::pin(async {
        let t = desk_app().await;
        let (mut phone, b) = anna_at_desk(&t).await;
        let mut typed = Vec::new();
        for i in 0..CALLS {
            let (cid, sipp, call_id) = sipp_rings(&t, &mut phone, &b, NUMBERS[i % NUMBERS.len()]).await;
            forms_are_empty(&b, i).await;
            answer(&mut phone, &b).await;
            let (title, description, outcome) = plan(i);
            type_into(&b, "intake-title", &title).await;
            type_into(&b, "intake-description", &description).await;
            saved(&b).await;
            let mut sipp = Some(sipp);
            if i == 4 {
                // The caller hangs up before the outcome is chosen; the agent tries to become
                // available: refused, with a message about this call's intake that goes as
                // soon as the intake has its outcome.
                agent_hangs_up(&t, &mut phone, &cid, sipp.take().unwrap()).await;
                b.click(&b.testid("btn-available").await).await;
                let shown = b
                    .until(10, "the refusal", "return document.querySelector('[data-testid=banner-state]')?.textContent;", json!([]))
                    .await;
                assert!(shown.as_str().unwrap_or("").contains("resolve or escalate"), "{shown}");
            }
            match &outcome {
                Outcome::Resolve { solution } => {
                    resolve(&b, solution).await;
                    confirmed(&b, "Resolved ✓").await;
                }
                Outcome::Group { target, reason } => {
                    escalate(&b, 2, target, None, reason).await;
                    confirmed(&b, &format!("Escalated to {target} ✓")).await;
                }
                Outcome::Vendor { target, case_ref, reason } => {
                    escalate(&b, 3, target, Some(case_ref), reason).await;
                    confirmed(&b, &format!("Handed to {target} ✓")).await;
                }
            }
            assert_eq!(errors_shown(&b).await, Vec::<String>::new(), "call {i}: messages gone with their cause");
            if let Some(sipp) = sipp {
                agent_hangs_up(&t, &mut phone, &cid, sipp).await;
            }
            intake_status(&b, if matches!(outcome, Outcome::Resolve { .. }) { "resolved" } else { "escalated" }).await;
            wrap_up_done(&b).await;
            typed.push(Typed { call_id, title, description, outcome });
        }
        check_store(&t, &typed).await;
        b.quit().await;
        t.finish().await;
    }))
    .await;
}

/// Every intake and escalation row holds exactly what was typed for its call.
async fn check_store(t: &TestApp, typed: &[Typed]) {
    for (i, want) in typed.iter().enumerate() {
        let row = sqlx::query("SELECT id, title, description, status, level, solution FROM intakes WHERE call_id = $1")
            .bind(want.call_id.clone())
            .fetch_all(&t.pool)
            .await
            .unwrap();
        assert_eq!(row.len(), 1, "call {i}: one intake");
        let row = &row[0];
        let id: String = row.try_get("id").unwrap();
        assert_eq!(
            row.try_get::<Option<String>, _>("title")
                .unwrap()
                .as_deref(),
            Some(want.title.as_str()),
            "call {i}"
        );
        assert_eq!(
            row.try_get::<Option<String>, _>("description")
                .unwrap()
                .as_deref(),
            Some(want.description.as_str()),
            "call {i}"
        );
        let esc = sqlx::query("SELECT to_level, target, reason, case_ref FROM escalations WHERE intake_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(&t.pool)
            .await
            .unwrap();
        let esc: Vec<(i64, String, String, Option<String>)> = esc
            .iter()
            .map(|e| {
                (
                    e.try_get("to_level").unwrap(),
                    e.try_get("target").unwrap(),
                    e.try_get("reason").unwrap(),
                    e.try_get("case_ref").unwrap(),
                )
            })
            .collect();
        let status: String = row.try_get("status").unwrap();
        let level: i64 = row.try_get("level").unwrap();
        let solution: Option<String> = row.try_get("solution").unwrap();
        match &want.outcome {
            Outcome::Resolve { solution: s } => {
                assert_eq!(
                    (status.as_str(), level, solution.as_deref()),
                    ("resolved", 1, Some(s.as_str())),
                    "call {i}"
                );
                assert!(esc.is_empty(), "call {i}: no escalation: {esc:?}");
            }
            Outcome::Group { target, reason } => {
                assert_eq!(
                    (status.as_str(), level, solution),
                    ("escalated", 2, None),
                    "call {i}"
                );
                assert_eq!(esc, [(2, target.clone(), reason.clone(), None)], "call {i}");
            }
            Outcome::Vendor {
                target,
                case_ref,
                reason,
            } => {
                assert_eq!(
                    (status.as_str(), level, solution),
                    ("escalated", 3, None),
                    "call {i}"
                );
                assert_eq!(
                    esc,
                    [(3, target.clone(), reason.clone(), Some(case_ref.clone()))],
                    "call {i}"
                );
            }
        }
    }
}
