//! Tests of the second-level rules of [`IntakeOps`] on a fresh database with the demo data:
//! claims (refused, forced, idempotent, final), release (owner or supervisor), notes, reopen,
//! the inbox of an agent's groups, search in every number and ticket form, and the view's
//! names, group, owner and notes.

use super::*;
use crate::config::DeskSection;
use crate::desk::intakes::IntakeFields;
use crate::domain::{Category, DtmfMode, Language, Priority};
use crate::store::testing::{TestDbGuard, test_store};
use crate::store::{NewIntake, OwnerFilter, Store};

const T0: i64 = 1_780_000_000_000;

fn agent(name: &str) -> AgentId {
    AgentId::from_string(format!("agent-demo-{name}"))
}

async fn setup() -> (IntakeOps, Store, TestDbGuard) {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let ops = IntakeOps::new(store.clone(), DeskSection::default());
    (ops, store, guard)
}

/// A draft from `caller` (Anouk's number links her), titled `title`.
async fn draft(ops: &IntakeOps, store: &Store, title: &str, priority: Option<u8>) -> IntakeId {
    let id = store
        .insert_intake(&NewIntake {
            call_id: None,
            customer_id: Some(crate::domain::CustomerId::from_string("cust-demo-01")),
            caller: Some("+31201234567".into()),
            category: Category::Software,
            priority: priority.and_then(Priority::new),
            language: Some(Language::Nl),
            ivr_path: String::new(),
            dtmf_mode: vec![DtmfMode::Info],
            description: None,
            created_at: T0,
        })
        .await
        .unwrap();
    let fields = IntakeFields {
        title: Some(title.into()),
        ..IntakeFields::default()
    };
    ops.update(&agent("anna"), &id, fields).await.unwrap();
    id
}

async fn to_group(ops: &IntakeOps, id: &IntakeId, group: &str) -> IntakeView {
    ops.escalate(&agent("anna"), id, 2, group, "needs a specialist", None)
        .await
        .unwrap()
}

fn conflict<T: std::fmt::Debug>(r: Result<T, DeskError>) -> String {
    match r {
        Err(DeskError::Conflict(m)) => m,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn invalid<T: std::fmt::Debug>(r: Result<T, DeskError>) -> String {
    match r {
        Err(DeskError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn the_view_names_people_and_carries_ticket_group_owner_and_notes() {
    let (ops, store, guard) = setup().await;
    let id = draft(&ops, &store, "Outlook", Some(2)).await;
    let v = to_group(&ops, &id, "Applications").await;
    assert_eq!(v.ticket_no.as_deref(), Some("FL-2026-00001"));
    assert_eq!(v.customer_name.as_deref(), Some("Anouk de Vries"));
    assert_eq!(v.group.as_deref(), Some("Applications"));
    assert_eq!(
        (v.updated_by.clone(), v.updated_by_name.as_deref()),
        (Some(agent("anna")), Some("Anna Koster"))
    );
    assert_eq!(v.escalations[0].agent_name.as_deref(), Some("Anna Koster"));
    let v = ops.claim(&agent("eva"), &id, false).await.unwrap();
    assert_eq!(
        (v.owner_id.clone(), v.owner_name.as_deref()),
        (Some(agent("eva")), Some("Eva Brouwer"))
    );
    assert!(v.claimed_at.is_some());
    let (note, v) = ops
        .add_note(&agent("eva"), &id, "  profile reset planned  ")
        .await
        .unwrap();
    assert_eq!(
        (note.kind, note.body.as_str()),
        ("note", "profile reset planned")
    );
    assert_eq!(note.agent_name.as_deref(), Some("Eva Brouwer"));
    let kinds: Vec<&str> = v.notes.iter().map(|n| n.kind).collect();
    assert_eq!(kinds, vec!["claimed", "note"]);
    let json = serde_json::to_value(&v).unwrap();
    for field in [
        "ticket_no",
        "owner_id",
        "owner_name",
        "group",
        "customer_name",
        "updated_by",
        "updated_by_name",
        "resolved_at",
        "notes",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(json["notes"][1]["agent_name"], "Eva Brouwer");
    assert_eq!(json["escalations"][0]["agent_name"], "Anna Koster");
    // At the first level there is no group, and no customer means no name.
    let manual = ops.open_manual(&agent("anna"), "desk", None).await.unwrap();
    assert_eq!((manual.group, manual.customer_name), (None, None));
    guard.cleanup().await;
}

#[tokio::test]
async fn claims_are_refused_forced_or_repeated_and_final_intakes_cannot_be_claimed() {
    let (ops, store, guard) = setup().await;
    let id = draft(&ops, &store, "Disk", Some(2)).await;
    to_group(&ops, &id, "Applications").await;
    ops.claim(&agent("eva"), &id, false).await.unwrap();
    let again = ops.claim(&agent("eva"), &id, false).await.unwrap();
    assert_eq!(
        again.notes.len(),
        1,
        "claiming one's own intake again adds nothing"
    );
    assert_eq!(
        conflict(ops.claim(&agent("gijs"), &id, false).await),
        "claimed by Eva Brouwer"
    );
    let v = ops.claim(&agent("gijs"), &id, true).await.unwrap();
    assert_eq!(v.owner_id, Some(agent("gijs")));
    let last = v.notes.last().unwrap();
    assert_eq!(
        (last.kind, last.body.as_str()),
        ("claimed", "taken over from Eva Brouwer")
    );
    // Release: the owner, or a supervisor; never someone else.
    let m = conflict(ops.release(&agent("eva"), &id, false).await);
    assert!(m.starts_with("claimed by Gijs Smit"), "{m}");
    let v = ops.release(&agent("sanne"), &id, true).await.unwrap();
    assert_eq!(v.owner_id, None);
    assert_eq!(v.notes.last().unwrap().body, "released for Gijs Smit");
    assert!(conflict(ops.release(&agent("gijs"), &id, false).await).contains("not claimed"));
    ops.resolve(&agent("eva"), &id, "Replaced the disk")
        .await
        .unwrap();
    assert!(conflict(ops.claim(&agent("eva"), &id, false).await).contains("resolved"));
    assert!(conflict(ops.release(&agent("eva"), &id, true).await).contains("resolved"));
    let missing = IntakeId::from_string("intake-none");
    assert!(matches!(
        ops.claim(&agent("eva"), &missing, false).await,
        Err(DeskError::NotFound("intake"))
    ));
    guard.cleanup().await;
}

#[tokio::test]
async fn notes_and_reopen_follow_the_status() {
    let (ops, store, guard) = setup().await;
    let id = draft(&ops, &store, "VPN", Some(3)).await;
    assert!(invalid(ops.add_note(&agent("anna"), &id, "   ").await).contains("body"));
    let long = "x".repeat(10_001);
    assert!(invalid(ops.add_note(&agent("anna"), &id, &long).await).contains("10000"));
    assert!(conflict(ops.reopen(&agent("anna"), &id, "why").await).contains("only a resolved"));
    ops.resolve(&agent("anna"), &id, "New profile")
        .await
        .unwrap();
    // A note on a resolved intake is history.
    ops.add_note(&agent("anna"), &id, "customer confirmed")
        .await
        .unwrap();
    assert!(invalid(ops.reopen(&agent("anna"), &id, " ").await).contains("reason"));
    let v = ops
        .reopen(&agent("anna"), &id, "It drops again")
        .await
        .unwrap();
    assert_eq!(
        (v.status.as_str(), v.level, v.resolved_at),
        ("open", 1, None)
    );
    let last = v.notes.last().unwrap();
    assert_eq!(
        (last.kind, last.body.as_str()),
        ("reopened", "It drops again")
    );
    // At level 2 a reopened intake goes back into its group's inbox.
    let l2 = draft(&ops, &store, "Server down", Some(1)).await;
    to_group(&ops, &l2, "Servers").await;
    ops.resolve(&agent("gijs"), &l2, "Rebooted").await.unwrap();
    let v = ops.reopen(&agent("anna"), &l2, "Down again").await.unwrap();
    assert_eq!(
        (v.status.as_str(), v.level, v.group.as_deref()),
        ("escalated", 2, Some("Servers"))
    );
    // A closed intake takes no notes.
    let merged = draft(&ops, &store, "Same VPN", None).await;
    ops.continue_existing(&agent("anna"), &merged, &id)
        .await
        .unwrap();
    assert!(conflict(ops.add_note(&agent("anna"), &merged, "late").await).contains("closed"));
    guard.cleanup().await;
}

#[tokio::test]
async fn the_inbox_shows_the_agents_groups_by_priority_and_age() {
    let (ops, store, guard) = setup().await;
    let eva = store.get_agent(&agent("eva")).await.unwrap().unwrap();
    let anna = store.get_agent(&agent("anna")).await.unwrap().unwrap();
    let low = draft(&ops, &store, "Low", Some(4)).await;
    let none = draft(&ops, &store, "None", None).await;
    let urgent = draft(&ops, &store, "Urgent", Some(1)).await;
    let network = draft(&ops, &store, "Switch", Some(1)).await;
    for id in [&low, &none] {
        to_group(&ops, id, "Applications").await;
    }
    to_group(&ops, &urgent, "Workplace").await;
    to_group(&ops, &network, "Network").await;
    ops.claim(&agent("eva"), &low, false).await.unwrap();
    let q = |group: Option<&str>, owner: OwnerFilter| InboxQuery {
        group: group.map(str::to_owned),
        owner,
        limit: 50,
        offset: 0,
    };
    let inbox = ops.inbox(&eva, q(None, OwnerFilter::Any)).await.unwrap();
    let groups: Vec<(&str, i64, i64)> = inbox
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.open, g.unclaimed))
        .collect();
    assert_eq!(groups, vec![("Applications", 2, 1), ("Workplace", 1, 1)]);
    let order: Vec<&IntakeId> = inbox.intakes.iter().map(|v| &v.id).collect();
    assert_eq!(
        order,
        vec![&urgent, &low, &none],
        "priority 1 first, none last"
    );
    let apps = ops
        .inbox(&eva, q(Some("Applications"), OwnerFilter::Nobody))
        .await
        .unwrap();
    assert_eq!(
        apps.intakes.iter().map(|v| &v.id).collect::<Vec<_>>(),
        vec![&none]
    );
    let mine = ops
        .inbox(&eva, q(None, OwnerFilter::Agent(agent("eva"))))
        .await
        .unwrap();
    assert_eq!(
        mine.intakes.iter().map(|v| &v.id).collect::<Vec<_>>(),
        vec![&low]
    );
    let m = invalid(ops.inbox(&eva, q(Some("Network"), OwnerFilter::Any)).await);
    assert!(m.contains("not one of your groups"), "{m}");
    // A resolved or returned intake leaves the inbox.
    ops.return_to_first_level(&agent("eva"), &none, "first level can do this")
        .await
        .unwrap();
    let after = ops.inbox(&eva, q(None, OwnerFilter::Any)).await.unwrap();
    assert_eq!(after.intakes.len(), 2);
    // The first level has no inbox (the desk hides the tab), which is not an error.
    let first = ops.inbox(&anna, q(None, OwnerFilter::Any)).await.unwrap();
    assert!(first.groups.is_empty() && first.intakes.is_empty());
    guard.cleanup().await;
}

#[tokio::test]
async fn search_finds_customers_and_intakes_by_every_form() {
    let (ops, store, guard) = setup().await;
    let id = draft(&ops, &store, "Outlook crashes at start", Some(2)).await;
    for q in [
        "020 123 4567",
        "0201234567",
        "+31 20 123 4567",
        "0031201234567",
        "31201234567",
    ] {
        let found = ops.search(q, 20).await.unwrap();
        let names: Vec<&str> = found
            .customers
            .iter()
            .map(|(c, _)| c.name.as_str())
            .collect();
        assert_eq!(names, vec!["Anouk de Vries"], "{q}");
        assert_eq!(found.customers[0].1, 1, "one open intake");
        assert_eq!(
            found.intakes.iter().map(|v| &v.id).collect::<Vec<_>>(),
            vec![&id],
            "{q}"
        );
    }
    for q in ["FL-2026-00001", "fl-2026-1", "2026-00001"] {
        let found = ops.search(q, 20).await.unwrap();
        assert_eq!(found.intakes.len(), 1, "{q}");
    }
    let words = ops.search("OUTLOOK start", 20).await.unwrap();
    assert_eq!(words.intakes.len(), 1);
    assert!(
        ops.search("outlook printer", 20)
            .await
            .unwrap()
            .intakes
            .is_empty()
    );
    let by_name = ops.search("de vries", 20).await.unwrap();
    assert!(
        by_name
            .customers
            .iter()
            .any(|(c, _)| c.name == "Anouk de Vries")
    );
    assert!(invalid(ops.search("  ", 20).await).contains("q must be"));
    assert!(invalid(ops.search(&"a".repeat(201), 20).await).contains("q must be"));
    // A long query of many words stays a query: every word must match.
    let many = ["outlook"; 20].join(" ") + " crashes";
    assert_eq!(ops.search(&many, 20).await.unwrap().intakes.len(), 1);
    guard.cleanup().await;
}
