//! Tests of the work lists over a fresh database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): ticket numbers (per local year, under concurrency, the backfill),
//! every filter and order of the list and its count, the inbox counts, claims that race,
//! release, reopen, notes, the group and owner kept by escalations, and `search_text`.

use super::*;
use crate::domain::{CallId, Category, DtmfMode, IntakeId, Language, Priority};
use crate::store::reports::{Date, Zone};
use crate::store::testing::test_store;
use crate::store::{
    IntakeEdit, NewEscalation, NewIntake, NewManualIntake, NoteKind, Store, format_ticket_no,
};

const T0: i64 = 1_780_000_000_000;

fn agent(name: &str) -> AgentId {
    AgentId::from_string(format!("agent-demo-{name}"))
}

async fn intake(store: &Store, caller: &str, priority: Option<u8>, at: i64) -> IntakeId {
    store
        .insert_intake(&NewIntake {
            call_id: None,
            customer_id: None,
            caller: Some(caller.into()),
            category: Category::Software,
            priority: priority.and_then(Priority::new),
            language: Some(Language::Nl),
            ivr_path: String::new(),
            dtmf_mode: vec![DtmfMode::Info],
            description: None,
            created_at: at,
        })
        .await
        .unwrap()
}

async fn escalate(store: &Store, id: &IntakeId, from: u8, to: u8, target: &str, by: &str) {
    let done = store
        .record_escalation(&NewEscalation {
            intake_id: id.clone(),
            from_level: from,
            to_level: to,
            target: target.into(),
            reason: "needs a specialist".into(),
            case_ref: None,
            agent_id: agent(by),
            at: T0 + 500,
            returned: to == 1,
        })
        .await
        .unwrap();
    assert!(done.is_some());
}

async fn ids(store: &Store, filter: IntakeFilter) -> Vec<IntakeId> {
    let count = store.count_intakes(&filter).await.unwrap();
    let page = store.list_intake_records(&filter).await.unwrap();
    if filter.offset == 0 && i64::try_from(page.len()).unwrap() < filter.limit {
        assert_eq!(
            count,
            i64::try_from(page.len()).unwrap(),
            "count of {filter:?}"
        );
    }
    page.into_iter().map(|r| r.id).collect()
}

fn all(limit: i64) -> IntakeFilter {
    IntakeFilter {
        limit,
        ..IntakeFilter::default()
    }
}

#[tokio::test]
async fn ticket_numbers_count_per_local_year_and_are_unique() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let a = intake(&store, "+31201234567", Some(2), T0).await;
    let b = intake(&store, "+31201234567", Some(2), T0 + 1).await;
    let manual = store
        .insert_manual_intake(&NewManualIntake {
            channel: "desk",
            customer_id: None,
            caller: None,
            agent_id: agent("anna"),
            at: T0 + 2,
        })
        .await
        .unwrap();
    // New Year in Amsterdam is 23:00 UTC: 30 minutes later it is 2027 there, not in UTC.
    let new_year = Zone::CentralEurope.day_start_ms(Date::new(2027, 1, 1).unwrap());
    let late = intake(&store, "+31201234567", None, new_year - 1).await;
    let next = intake(&store, "+31201234567", None, new_year + 1_800_000).await;
    let ticket = |id: IntakeId| {
        let store = store.clone();
        async move { store.intake_record(&id).await.unwrap().unwrap().ticket_no }
    };
    assert_eq!(ticket(a).await.as_deref(), Some("FL-2026-00001"));
    assert_eq!(ticket(b).await.as_deref(), Some("FL-2026-00002"));
    assert_eq!(ticket(manual).await.as_deref(), Some("FL-2026-00003"));
    assert_eq!(ticket(late).await.as_deref(), Some("FL-2026-00004"));
    assert_eq!(ticket(next).await.as_deref(), Some("FL-2027-00001"));
    // The unique index refuses a copied number.
    let dup = sqlx::query(
        "UPDATE intakes SET ticket_no = 'FL-2026-00001' WHERE ticket_no = 'FL-2026-00002'",
    )
    .execute(store.pool())
    .await;
    assert!(dup.is_err(), "duplicate ticket number accepted");
    guard.cleanup().await;
}

#[tokio::test]
async fn concurrent_inserts_get_distinct_numbers() {
    let (store, guard) = test_store().await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { intake(&store, "+31201234567", Some(3), T0 + i).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut numbers: Vec<String> = sqlx::query_scalar("SELECT ticket_no FROM intakes")
        .fetch_all(store.pool())
        .await
        .unwrap();
    numbers.sort();
    let expected: Vec<String> = (1..=20).map(|n| format_ticket_no(2026, n)).collect();
    assert_eq!(numbers, expected);
    guard.cleanup().await;
}

#[tokio::test]
async fn older_rows_are_numbered_once_oldest_first() {
    let (store, guard) = test_store().await;
    let kept = intake(&store, "+31201234567", None, T0).await;
    for (id, at, title) in [
        ("intake-old-2", T0 - 10, "Outlook Crash"),
        ("intake-old-1", T0 - 20, "VPN"),
    ] {
        sqlx::query(
            "INSERT INTO intakes (id, category, ivr_path, status, title, created_at, updated_at) \
             VALUES ($1, 'software', '', 'open', $2, $3, $3)",
        )
        .bind(id)
        .bind(title)
        .bind(at)
        .execute(store.pool())
        .await
        .unwrap();
    }
    assert_eq!(store.backfill_ticket_numbers().await.unwrap(), 2);
    assert_eq!(
        store.backfill_ticket_numbers().await.unwrap(),
        0,
        "idempotent"
    );
    let number = |id: &'static str| {
        let store = store.clone();
        async move {
            let r = store
                .intake_record(&IntakeId::from_string(id))
                .await
                .unwrap()
                .unwrap();
            r.ticket_no.unwrap()
        }
    };
    assert_eq!(number("intake-old-1").await, "FL-2026-00002");
    assert_eq!(number("intake-old-2").await, "FL-2026-00003");
    let first = store.intake_record(&kept).await.unwrap().unwrap();
    assert_eq!(first.ticket_no.as_deref(), Some("FL-2026-00001"));
    // The backfill filled the text the word search reads.
    let found = ids(
        &store,
        IntakeFilter {
            text: TextQuery::parse("outlook", "31"),
            ..all(10)
        },
    )
    .await;
    assert_eq!(found, vec![IntakeId::from_string("intake-old-2")]);
    guard.cleanup().await;
}

#[test]
fn a_query_is_a_ticket_a_caller_or_words() {
    let t = |q: &str| TextQuery::parse(q, "31");
    assert_eq!(
        t("fl-2026-42"),
        Some(TextQuery::Ticket("FL-2026-00042".into()))
    );
    assert_eq!(
        t("2026-00042"),
        Some(TextQuery::Ticket("FL-2026-00042".into()))
    );
    for number in [
        "020 123 4567",
        "0201234567",
        "+31 20 123 4567",
        "0031201234567",
        "31201234567",
    ] {
        assert_eq!(
            t(number),
            Some(TextQuery::Caller("+31201234567".into())),
            "{number}"
        );
    }
    assert_eq!(
        t("  Outlook crash OUTLOOK look  "),
        Some(TextQuery::Words(vec!["outlook".into(), "crash".into()]))
    );
    assert_eq!(
        t("4567"),
        Some(TextQuery::Words(vec!["4567".into()])),
        "too short for a number"
    );
    assert_eq!(t("   "), None);
}

#[tokio::test]
async fn the_list_filters_orders_and_counts() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let p3 = intake(&store, "+31201234567", Some(3), T0).await;
    let none = intake(&store, "+31201234567", None, T0 + 1).await;
    let p1 = intake(&store, "+31612345678", Some(1), T0 + 2).await;
    let p1_new = intake(&store, "anonymous", Some(1), T0 + 3).await;
    escalate(&store, &p3, 1, 2, "Network", "anna").await;
    escalate(&store, &p1, 1, 2, "Applications", "anna").await;
    escalate(&store, &p1_new, 1, 3, "Dell", "anna").await;

    assert_eq!(
        ids(&store, all(10)).await,
        vec![p1_new.clone(), p1.clone(), none.clone(), p3.clone()]
    );
    let sorted = IntakeFilter {
        sort: IntakeSort::Priority,
        ..all(10)
    };
    assert_eq!(
        ids(&store, sorted).await,
        vec![p1.clone(), p1_new.clone(), p3.clone(), none.clone()]
    );
    let escalated = IntakeFilter {
        statuses: vec![IntakeStatus::Escalated, IntakeStatus::Resolved],
        ..all(10)
    };
    assert_eq!(ids(&store, escalated).await.len(), 3);
    let level2 = IntakeFilter {
        level: Some(2),
        ..all(10)
    };
    assert_eq!(ids(&store, level2).await, vec![p1.clone(), p3.clone()]);
    let network = IntakeFilter {
        groups: Some(vec!["Network".into()]),
        ..all(10)
    };
    assert_eq!(ids(&store, network).await, vec![p3.clone()]);
    let no_group = IntakeFilter {
        groups: Some(vec![]),
        ..all(10)
    };
    assert!(ids(&store, no_group).await.is_empty());
    let mobile = IntakeFilter {
        caller: Some("+31612345678".into()),
        ..all(10)
    };
    assert_eq!(ids(&store, mobile).await, vec![p1.clone()]);
    let anonymous = IntakeFilter {
        text: TextQuery::parse("anonymous", "31"),
        ..all(10)
    };
    assert!(
        ids(&store, anonymous).await.is_empty(),
        "callers are not words"
    );
    let by_number = IntakeFilter {
        text: TextQuery::parse("06 1234 5678", "31"),
        ..all(10)
    };
    assert_eq!(ids(&store, by_number).await, vec![p1.clone()]);

    assert!(
        store
            .claim_intake(&p3, &agent("gijs"), None, "", T0 + 600)
            .await
            .unwrap()
    );
    let mine = IntakeFilter {
        owner: OwnerFilter::Agent(agent("gijs")),
        ..all(10)
    };
    assert_eq!(ids(&store, mine).await, vec![p3.clone()]);
    let unowned = IntakeFilter {
        owner: OwnerFilter::Nobody,
        ..all(10)
    };
    assert_eq!(ids(&store, unowned).await.len(), 3);

    // Paging: the count stays the whole match.
    let page = IntakeFilter {
        limit: 2,
        offset: 2,
        ..all(2)
    };
    assert_eq!(store.count_intakes(&page).await.unwrap(), 4);
    assert_eq!(ids(&store, page).await, vec![none.clone(), p3.clone()]);

    let counts = store
        .group_counts(&["Network".into(), "Applications".into(), "Servers".into()])
        .await
        .unwrap();
    let figures: Vec<(&str, i64, i64)> = counts
        .iter()
        .map(|g| (g.name.as_str(), g.open, g.unclaimed))
        .collect();
    assert_eq!(
        figures,
        vec![("Network", 1, 0), ("Applications", 1, 1), ("Servers", 0, 0)]
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn words_must_all_match_in_any_case_and_follow_every_write() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let anna = agent("anna");
    let a = intake(&store, "+31201234567", None, T0).await;
    let b = intake(&store, "+31201234567", None, T0 + 1).await;
    let edit = |title: &str, description: &str| IntakeEdit {
        title: Some(title.into()),
        description: Some(description.into()),
        ..IntakeEdit::default()
    };
    assert!(
        store
            .edit_intake(
                &a,
                &edit("Outlook", "CRASHES at start; Ünïcode"),
                &anna,
                T0 + 5
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .edit_intake(&b, &edit("Outlook", "slow"), &anna, T0 + 6)
            .await
            .unwrap()
    );
    let find = |q: &'static str| {
        let store = store.clone();
        async move {
            ids(
                &store,
                IntakeFilter {
                    text: TextQuery::parse(q, "31"),
                    ..all(10)
                },
            )
            .await
        }
    };
    assert_eq!(find("outlook").await, vec![b.clone(), a.clone()]);
    assert_eq!(find("OUTLOOK crash").await, vec![a.clone()]);
    assert_eq!(find("outlook crash slow").await, Vec::<IntakeId>::new());
    assert_eq!(find("ÜNÏCODE").await, vec![a.clone()]);
    assert!(find("100%").await.is_empty(), "wildcards are literal");
    // A category change keeps the text; a solution joins it.
    let category = IntakeEdit {
        category: Some(Category::Hardware),
        ..IntakeEdit::default()
    };
    assert!(
        store
            .edit_intake(&a, &category, &anna, T0 + 7)
            .await
            .unwrap()
    );
    assert_eq!(find("crash").await, vec![a.clone()]);
    assert!(
        store
            .resolve_intake(&b, "Rebuilt the OST file", &anna, T0 + 8)
            .await
            .unwrap()
    );
    assert_eq!(find("ost file").await, vec![b.clone()]);
    let ticket = store
        .intake_record(&b)
        .await
        .unwrap()
        .unwrap()
        .ticket_no
        .unwrap();
    assert_eq!(find("fl-2026-2").await, vec![b.clone()], "{ticket}");
    guard.cleanup().await;
}

#[tokio::test]
async fn two_claims_at_once_have_one_winner_and_release_and_reopen_are_guarded() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(2), T0).await;
    escalate(&store, &id, 1, 2, "Applications", "anna").await;
    let race: Vec<_> = ["eva", "gijs"]
        .into_iter()
        .map(|who| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                store
                    .claim_intake(&id, &agent(who), None, "", T0 + 600)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for r in race {
        won += usize::from(r.await.unwrap().unwrap());
    }
    assert_eq!(won, 1, "exactly one claim wins");
    let owner = store
        .intake_record(&id)
        .await
        .unwrap()
        .unwrap()
        .owner_id
        .unwrap();
    let other = if owner == agent("eva") {
        agent("gijs")
    } else {
        agent("eva")
    };
    // Release only by the owner the caller saw.
    assert!(
        !store
            .release_intake(&id, &other, &other, "", T0 + 700)
            .await
            .unwrap()
    );
    assert!(
        store
            .release_intake(&id, &owner, &owner, "", T0 + 700)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!((r.owner_id, r.claimed_at), (None, None));

    // Reopen: only a resolved intake, back to escalated at level 2 with its group.
    assert!(
        !store
            .reopen_intake(&id, &other, "again", T0 + 800)
            .await
            .unwrap()
    );
    assert!(
        store
            .resolve_intake(&id, "fixed", &other, T0 + 900)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_intake(&id, &other, None, "", T0 + 950)
            .await
            .unwrap(),
        "final"
    );
    assert!(
        store
            .reopen_intake(&id, &other, "it came back", T0 + 1000)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.level, r.group_name.as_deref(), r.resolved_at),
        (IntakeStatus::Escalated, 2, Some("Applications"), None)
    );
    let notes = store
        .notes_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap();
    let kinds: Vec<(NoteKind, &str)> = notes[&id]
        .iter()
        .map(|n| (n.kind, n.body.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (NoteKind::Claimed, ""),
            (NoteKind::Released, ""),
            (NoteKind::Reopened, "it came back")
        ]
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn escalations_keep_group_and_owner_coherent() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(2), T0).await;
    let record = |id: IntakeId| {
        let store = store.clone();
        async move {
            let r = store.intake_record(&id).await.unwrap().unwrap();
            (r.level, r.group_name, r.owner_id)
        }
    };
    assert_eq!(record(id.clone()).await, (1, None, None));
    escalate(&store, &id, 1, 2, "Network", "anna").await;
    assert!(
        store
            .claim_intake(&id, &agent("gijs"), None, "", T0 + 600)
            .await
            .unwrap()
    );
    // The owner moves it to the vendor and keeps it.
    escalate(&store, &id, 2, 3, "Cisco", "gijs").await;
    assert_eq!(
        record(id.clone()).await,
        (3, Some("Cisco".into()), Some(agent("gijs")))
    );
    // Back to the first level: no group, nobody's.
    escalate(&store, &id, 3, 1, "first level", "anna").await;
    assert_eq!(record(id.clone()).await, (1, None, None));
    // Someone else's escalation leaves it unclaimed in its new place.
    escalate(&store, &id, 1, 2, "Servers", "anna").await;
    assert!(
        store
            .claim_intake(&id, &agent("gijs"), None, "", T0 + 700)
            .await
            .unwrap()
    );
    escalate(&store, &id, 2, 3, "Dell", "eva").await;
    assert_eq!(record(id.clone()).await, (3, Some("Dell".into()), None));
    // A note goes on a resolved intake (history), never on a closed one.
    assert!(
        store
            .resolve_intake(&id, "Dell replaced the disk", &agent("eva"), T0 + 800)
            .await
            .unwrap()
    );
    assert!(
        store
            .add_note(&id, &agent("eva"), "checked", T0 + 900)
            .await
            .unwrap()
            .is_some()
    );
    sqlx::query("UPDATE intakes SET status = 'closed' WHERE id = $1")
        .bind(id.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    assert!(
        store
            .add_note(&id, &agent("eva"), "late", T0 + 950)
            .await
            .unwrap()
            .is_none()
    );
    let missing = IntakeId::from_string("intake-missing");
    assert!(
        store
            .add_note(&missing, &agent("eva"), "x", T0)
            .await
            .unwrap()
            .is_none()
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn answered_calls_carry_their_intake() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let anna = agent("anna");
    for (call, at) in [("call-a", T0), ("call-b", T0 + 100), ("call-c", T0 + 200)] {
        store
            .insert_call(&crate::store::NewCall {
                id: CallId::from_string(call),
                sip_call_id: format!("{call}@192.0.2.1"),
                caller: "+31201234567".into(),
                caller_name: None,
                customer_id: Some(crate::domain::CustomerId::from_string("cust-demo-01")),
                transport: crate::store::CallTransport::Udp,
                arrived_at: at,
            })
            .await
            .unwrap();
    }
    let draft_a = store
        .insert_intake(&NewIntake {
            call_id: Some(CallId::from_string("call-a")),
            customer_id: None,
            caller: Some("+31201234567".into()),
            category: Category::Hardware,
            priority: Priority::new(2),
            language: None,
            ivr_path: String::new(),
            dtmf_mode: vec![],
            description: None,
            created_at: T0,
        })
        .await
        .unwrap();
    let draft_b = intake(&store, "+31201234567", None, T0 + 100).await;
    sqlx::query("UPDATE intakes SET call_id = 'call-b' WHERE id = $1")
        .bind(draft_b.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    // call-b continued intake a: the attached intake wins over its own draft.
    assert!(
        store
            .merge_intake(
                &draft_b,
                &draft_a,
                Some(&CallId::from_string("call-b")),
                &anna,
                T0 + 150
            )
            .await
            .unwrap()
    );
    store
        .set_call_connected(&CallId::from_string("call-a"), &anna, T0 + 10, 5)
        .await
        .unwrap();
    store
        .set_call_connected(&CallId::from_string("call-b"), &anna, T0 + 110, 5)
        .await
        .unwrap();
    store
        .set_call_connected(&CallId::from_string("call-c"), &agent("bas"), T0 + 210, 5)
        .await
        .unwrap();
    let calls = store.answered_calls(&anna, 10, 0).await.unwrap();
    let shown: Vec<(&str, Option<&str>, Option<&str>)> = calls
        .iter()
        .map(|c| {
            (
                c.call_id.as_str(),
                c.intake.as_ref().map(|i| i.id.as_str()),
                c.customer_name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("call-b", Some(draft_a.as_str()), Some("Anouk de Vries")),
            ("call-a", Some(draft_a.as_str()), Some("Anouk de Vries"))
        ]
    );
    assert_eq!(
        calls[0].intake.as_ref().unwrap().ticket_no.as_deref(),
        Some("FL-2026-00001")
    );
    assert_eq!(store.answered_calls(&anna, 1, 1).await.unwrap().len(), 1);
    guard.cleanup().await;
}

/// The inbox, the list by level and a caller's history are read through indexes (SQLite's
/// plan; PostgreSQL chooses by table size, so a small test table says nothing there).
#[tokio::test]
async fn the_inbox_and_lists_are_index_driven() {
    let (store, guard) = test_store().await;
    if store.backend != super::super::Backend::Sqlite {
        guard.cleanup().await;
        return;
    }
    let plan = |sql: &'static str| {
        let store = store.clone();
        async move {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
        }
    };
    for (sql, index) in [
        (
            "SELECT id FROM intakes WHERE status IN ('escalated') AND level = 2 AND group_name IN ('Network') \
             ORDER BY COALESCE(priority, 6), created_at, id LIMIT 50",
            "intakes_inbox_idx",
        ),
        (
            "SELECT id FROM intakes WHERE level = 2 ORDER BY created_at DESC, id LIMIT 50",
            "intakes_level_idx",
        ),
        (
            "SELECT id FROM intakes WHERE caller = '+31201234567' ORDER BY created_at DESC, id LIMIT 50",
            "intakes_caller_idx",
        ),
        (
            "SELECT id FROM intakes WHERE owner_id = 'a' AND status IN ('escalated') ORDER BY created_at DESC LIMIT 50",
            "intakes_owner_idx",
        ),
        (
            "SELECT id FROM intakes WHERE ticket_no = 'FL-2026-00001'",
            "intakes_ticket_no_idx",
        ),
        (
            "SELECT id FROM calls WHERE agent_id = 'a' AND connected_at IS NOT NULL ORDER BY connected_at DESC LIMIT 50",
            "calls_agent_connected_idx",
        ),
    ] {
        let p = plan(sql).await;
        assert!(p.contains(index), "{sql}: {p}");
    }
    guard.cleanup().await;
}
