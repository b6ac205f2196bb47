//! Tests of the work lists over a fresh database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): the text of a search, every filter and order of the list and its
//! count, the inbox counts, the search words kept by every write, and the index plans. The
//! helpers here serve the ticket and claim tests too (`tickets_tests.rs`, `claims_tests.rs`).

use super::*;
use crate::domain::{Category, DtmfMode, IntakeId, Language, Priority};
use crate::store::testing::test_store;
use crate::store::{IntakeEdit, NewEscalation, NewIntake, Store};

pub(crate) const T0: i64 = 1_780_000_000_000;

pub(crate) fn agent(name: &str) -> AgentId {
    AgentId::from_string(format!("agent-demo-{name}"))
}

pub(crate) async fn intake(store: &Store, caller: &str, priority: Option<u8>, at: i64) -> IntakeId {
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

pub(crate) async fn escalate(
    store: &Store,
    id: &IntakeId,
    from: u8,
    to: u8,
    target: &str,
    by: &str,
) {
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

pub(crate) async fn ids(store: &Store, filter: IntakeFilter) -> Vec<IntakeId> {
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

pub(crate) fn all(limit: i64) -> IntakeFilter {
    IntakeFilter {
        limit,
        ..IntakeFilter::default()
    }
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
            "SELECT id FROM intakes JOIN intake_search ON intake_id = id WHERE words LIKE '%x%' \
             ORDER BY sort_at DESC, intake_id LIMIT 20",
            "intake_search_sort_idx",
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
