//! Tests of every rule of [`IntakeOps`] on a fresh database with the demo data.

use super::*;
use crate::domain::{Category, DtmfMode, Language, Priority};
use crate::store::Store;
use crate::store::testing::{TestDbGuard, test_store};
use crate::store::{CallTransport, NewCall, NewIntake};

const T0: i64 = 1_780_000_000_000;

fn anna() -> AgentId {
    AgentId::from_string("agent-demo-anna")
}

fn anouk() -> CustomerId {
    CustomerId::from_string("cust-demo-01")
}

async fn setup() -> (IntakeOps, Store, TestDbGuard) {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    (
        IntakeOps::new(store.clone(), DeskSection::default()),
        store,
        guard,
    )
}

/// A call from `caller` and the draft the IVR wrote for it.
async fn call_with_draft(
    store: &Store,
    call: &str,
    caller: &str,
    customer: Option<CustomerId>,
) -> IntakeId {
    store
        .insert_call(&NewCall {
            id: CallId::from_string(call),
            sip_call_id: format!("{call}@192.0.2.1"),
            caller: caller.into(),
            caller_name: None,
            customer_id: customer.clone(),
            transport: CallTransport::Udp,
            arrived_at: T0,
        })
        .await
        .unwrap();
    store
        .insert_intake(&NewIntake {
            call_id: Some(CallId::from_string(call)),
            customer_id: customer,
            caller: Some(caller.into()),
            category: Category::Hardware,
            priority: Priority::new(3),
            language: Some(Language::En),
            ivr_path: "lang=2,cat=1,prio=3".into(),
            dtmf_mode: vec![DtmfMode::Rfc4733],
            description: None,
            created_at: T0,
        })
        .await
        .unwrap()
}

fn invalid(r: Result<IntakeView, DeskError>) -> String {
    match r {
        Err(DeskError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn conflict<T: std::fmt::Debug>(r: Result<T, DeskError>) -> String {
    match r {
        Err(DeskError::Conflict(m)) => m,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn view_shows_the_ivr_draft_and_lists_come_from_config() {
    let (ops, store, guard) = setup().await;
    let id = call_with_draft(&store, "call-1", "+31201234567", Some(anouk())).await;
    let v = ops.view(&id).await.unwrap();
    assert_eq!(v.caller.as_deref(), Some("+31201234567"));
    assert_eq!(
        (v.category, v.priority),
        (Category::Hardware, Priority::new(3))
    );
    assert_eq!(
        (v.language, v.ivr_path.as_str()),
        (Some(Language::En), "lang=2,cat=1,prio=3")
    );
    assert_eq!(v.dtmf_mode.as_deref(), Some("rfc4733"));
    assert_eq!(
        (v.status.as_str(), v.level, v.channel.as_str()),
        ("draft", 1, "phone")
    );
    assert_eq!(v.calls, vec!["call-1"]);
    assert!(v.escalations.is_empty());
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["priority"], 3);
    assert_eq!(json["category"], "hardware");

    let by_call = ops.for_call(&CallId::from_string("call-1")).await.unwrap();
    assert_eq!(by_call.map(|v| v.id), Some(id.clone()));
    assert!(
        ops.for_call(&CallId::from_string("call-x"))
            .await
            .unwrap()
            .is_none()
    );
    let open = ops.open_for_customer(&anouk()).await.unwrap();
    assert_eq!(open.iter().map(|v| &v.id).collect::<Vec<_>>(), vec![&id]);
    assert!(matches!(
        ops.view(&IntakeId::from_string("intake-none")).await,
        Err(DeskError::NotFound("intake"))
    ));
    let lists = ops.lists();
    let (l2, l3) = (&lists.second_level, &lists.third_level);
    assert_eq!(l2, &["Workplace", "Network", "Applications", "Servers"]);
    assert_eq!(
        l3,
        &["Dell", "HP", "Microsoft", "Cisco", "Telecom provider"]
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn update_saves_bounded_fields_and_opens_the_draft() {
    let (ops, store, guard) = setup().await;
    let id = call_with_draft(&store, "call-1", "+31201234567", Some(anouk())).await;
    let fields = IntakeFields {
        title: Some("  Laptop dock  ".into()),
        description: Some("The dock does not charge".into()),
        category: None,
        priority: Priority::new(2),
        base: None,
    };
    let v = ops.update(&anna(), &id, fields).await.unwrap();
    assert_eq!(v.title.as_deref(), Some("Laptop dock"), "trimmed");
    assert_eq!(v.description.as_deref(), Some("The dock does not charge"));
    assert_eq!(
        (v.priority, v.category),
        (Priority::new(2), Category::Hardware)
    );
    assert_eq!(v.status, "open");

    let long = |n: usize| "é".repeat(n);
    let ok = IntakeFields {
        description: Some(long(MAX_TEXT)),
        ..IntakeFields::default()
    };
    assert_eq!(
        ops.update(&anna(), &id, ok)
            .await
            .unwrap()
            .description
            .map(|d| d.chars().count()),
        Some(10_000)
    );
    let too_long = IntakeFields {
        description: Some(long(MAX_TEXT + 1)),
        ..IntakeFields::default()
    };
    assert_eq!(
        invalid(ops.update(&anna(), &id, too_long).await),
        "description must be at most 10000 characters (got 10001)"
    );
    let title = IntakeFields {
        title: Some(long(201)),
        ..IntakeFields::default()
    };
    assert!(invalid(ops.update(&anna(), &id, title).await).starts_with("title must be"));
    assert!(matches!(
        ops.update(
            &anna(),
            &IntakeId::from_string("intake-none"),
            IntakeFields::default()
        )
        .await,
        Err(DeskError::NotFound("intake"))
    ));
    // Wrong types never reach the operations: serde refuses them.
    assert!(serde_json::from_str::<IntakeFields>(r#"{"priority": 6}"#).is_err());
    assert!(serde_json::from_str::<IntakeFields>(r#"{"category": "printer"}"#).is_err());
    assert!(serde_json::from_str::<IntakeFields>(r#"{"colour": "red"}"#).is_err());
    guard.cleanup().await;
}

#[tokio::test]
async fn resolve_needs_a_solution_and_is_final() {
    let (ops, store, guard) = setup().await;
    let id = call_with_draft(&store, "call-1", "+31201234567", None).await;
    assert_eq!(
        invalid(ops.resolve(&anna(), &id, "   ").await),
        "solution must be 1 to 10000 characters (got 0)"
    );
    assert!(
        !ops.has_outcome(&CallId::from_string("call-1"))
            .await
            .unwrap()
    );
    let v = ops
        .resolve(&anna(), &id, "Reseated the cable")
        .await
        .unwrap();
    assert_eq!(
        (v.status.as_str(), v.solution.as_deref()),
        ("resolved", Some("Reseated the cable"))
    );
    assert!(
        ops.has_outcome(&CallId::from_string("call-1"))
            .await
            .unwrap()
    );
    assert_eq!(
        conflict(ops.resolve(&anna(), &id, "again").await),
        format!("intake {id} is resolved: it can no longer be changed")
    );
    conflict(ops.update(&anna(), &id, IntakeFields::default()).await);
    conflict(ops.escalate(&anna(), &id, 2, "Network", "r", None).await);
    conflict(ops.link_customer(&anna(), &id, &anouk()).await);
    guard.cleanup().await;
}

#[tokio::test]
async fn escalation_follows_the_level_rules_and_configured_targets() {
    let (ops, store, guard) = setup().await;
    let id = call_with_draft(&store, "call-1", "+31201234567", None).await;
    assert_eq!(
        invalid(ops.escalate(&anna(), &id, 1, "Network", "r", None).await),
        "to_level must be 2 or 3 (use return for level 1), not 1"
    );
    invalid(ops.escalate(&anna(), &id, 4, "Network", "r", None).await);
    assert_eq!(
        invalid(ops.escalate(&anna(), &id, 2, "Dell", "r", None).await),
        "target \"Dell\" is not a level 2 target (one of: Workplace, Network, Applications, Servers)"
    );
    invalid(ops.escalate(&anna(), &id, 3, "Network", "r", None).await);
    invalid(ops.escalate(&anna(), &id, 2, "Network", " ", None).await);
    invalid(
        ops.escalate(
            &anna(),
            &id,
            2,
            "Network",
            &"x".repeat(MAX_REASON + 1),
            None,
        )
        .await,
    );
    invalid(
        ops.escalate(&anna(), &id, 3, "Dell", "r", Some(&"x".repeat(201)))
            .await,
    );
    assert!(matches!(
        ops.escalate(
            &anna(),
            &IntakeId::from_string("intake-none"),
            2,
            "Network",
            "r",
            None
        )
        .await,
        Err(DeskError::NotFound("intake"))
    ));
    assert_eq!(ops.view(&id).await.unwrap().level, 1, "nothing written");

    let v = ops
        .escalate(&anna(), &id, 2, "Network", "Switch port dead", None)
        .await
        .unwrap();
    assert_eq!((v.status.as_str(), v.level), ("escalated", 2));
    assert!(
        ops.has_outcome(&CallId::from_string("call-1"))
            .await
            .unwrap()
    );
    assert_eq!(
        conflict(ops.escalate(&anna(), &id, 2, "Servers", "r", None).await),
        format!(
            "intake {id} is at level 2: it can only move up (1 to 2, 1 to 3, 2 to 3) or be returned"
        )
    );
    let v = ops
        .escalate(
            &anna(),
            &id,
            3,
            "Cisco",
            "Hardware fault",
            Some(" TAC-991 "),
        )
        .await
        .unwrap();
    assert_eq!(v.level, 3);
    conflict(ops.escalate(&anna(), &id, 3, "HP", "r", None).await);

    assert_eq!(
        invalid(ops.return_to_first_level(&anna(), &id, "").await),
        "reason must be 1 to 2000 characters (got 0)"
    );
    let v = ops
        .return_to_first_level(&anna(), &id, "Vendor says it is a config issue")
        .await
        .unwrap();
    assert_eq!((v.status.as_str(), v.level), ("open", 1));
    conflict(ops.return_to_first_level(&anna(), &id, "again").await);
    let history: Vec<(u8, u8, &str, Option<&str>, bool)> = v
        .escalations
        .iter()
        .map(|e| {
            (
                e.from_level,
                e.to_level,
                e.target.as_str(),
                e.case_ref.as_deref(),
                e.returned,
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            (1, 2, "Network", None, false),
            (2, 3, "Cisco", Some("TAC-991"), false),
            (3, 1, "first level", None, true),
        ]
    );
    assert!(v.escalations.iter().all(|e| e.agent_id == anna()));
    // Straight from level 1 to a vendor is allowed too.
    let v = ops
        .escalate(&anna(), &id, 3, "Telecom provider", "Line down", None)
        .await
        .unwrap();
    assert_eq!((v.level, v.escalations.len()), (3, 4));
    guard.cleanup().await;
}

#[tokio::test]
async fn continue_merges_the_new_call_into_an_open_intake() {
    let (ops, store, guard) = setup().await;
    let old = call_with_draft(&store, "call-1", "+31201234567", Some(anouk())).await;
    ops.escalate(&anna(), &old, 2, "Workplace", "Needs a new laptop", None)
        .await
        .unwrap();
    let new = call_with_draft(&store, "call-2", "+31201234567", Some(anouk())).await;
    assert_eq!(
        invalid(ops.continue_existing(&anna(), &new, &new).await),
        "an intake cannot continue itself"
    );
    assert!(matches!(
        ops.continue_existing(&anna(), &new, &IntakeId::from_string("intake-none"))
            .await,
        Err(DeskError::NotFound("intake"))
    ));
    let v = ops.continue_existing(&anna(), &new, &old).await.unwrap();
    assert_eq!(v.id, old);
    assert_eq!(v.calls, vec!["call-1", "call-2"]);
    assert_eq!(ops.view(&new).await.unwrap().status, "closed");
    let for_call = ops
        .for_call(&CallId::from_string("call-2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(for_call.id, old);
    // The existing intake is escalated: the second call has an outcome already.
    assert!(
        ops.has_outcome(&CallId::from_string("call-2"))
            .await
            .unwrap()
    );
    conflict(ops.continue_existing(&anna(), &new, &old).await);
    // An escalated intake cannot be merged away, nor into a resolved one.
    let third = call_with_draft(&store, "call-3", "+31201234567", Some(anouk())).await;
    conflict(ops.continue_existing(&anna(), &old, &third).await);
    ops.resolve(&anna(), &old, "Laptop replaced").await.unwrap();
    conflict(ops.continue_existing(&anna(), &third, &old).await);
    assert!(
        !ops.has_outcome(&CallId::from_string("call-3"))
            .await
            .unwrap()
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn an_unknown_caller_is_linked_or_created_from_the_pop() {
    let (ops, store, guard) = setup().await;
    let id = call_with_draft(&store, "call-1", "+31655550001", None).await;
    assert!(matches!(
        ops.link_customer(&anna(), &id, &CustomerId::from_string("cust-ghost"))
            .await,
        Err(DeskError::NotFound("customer"))
    ));
    let v = ops.link_customer(&anna(), &id, &anouk()).await.unwrap();
    assert_eq!(v.customer_id, Some(anouk()));
    let c = store.get_customer(&anouk()).await.unwrap().unwrap();
    assert!(
        c.extra_phones.contains(&"+31655550001".to_owned()),
        "{:?}",
        c.extra_phones
    );
    // The next call from that number identifies Anouk.
    let found = store.find_customer_by_phone("+31655550001").await.unwrap();
    assert_eq!(found.map(|c| c.id), Some(anouk()));

    let other = call_with_draft(&store, "call-2", "+31655550002", None).await;
    let nameless = CustomerFields {
        organisation: Some("Acme".into()),
        ..CustomerFields::default()
    };
    assert_eq!(
        invalid(ops.create_customer(&anna(), &other, nameless).await),
        "name is required (1 to 200 characters)"
    );
    let bad_mail = CustomerFields {
        name: Some("Eef".into()),
        email: Some("eef at acme".into()),
        ..CustomerFields::default()
    };
    invalid(ops.create_customer(&anna(), &other, bad_mail).await);
    let fields = CustomerFields {
        name: Some("<script>alert(1)</script>".into()),
        organisation: Some("Acme BV".into()),
        email: Some("eef@acme.example".into()),
        ..CustomerFields::default()
    };
    let v = ops.create_customer(&anna(), &other, fields).await.unwrap();
    let created = store
        .get_customer(v.customer_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.name, "<script>alert(1)</script>", "stored as typed");
    assert_eq!(
        created.phone.as_deref(),
        Some("+31655550002"),
        "the caller's number"
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn customers_are_edited_with_normalised_numbers() {
    let (ops, _store, guard) = setup().await;
    let fields = CustomerFields {
        department: Some("ICT".into()),
        phone: Some("020 765 4321".into()),
        location: Some(String::new()),
        ..CustomerFields::default()
    };
    let c = ops
        .update_customer(&anna(), &anouk(), fields)
        .await
        .unwrap();
    assert_eq!(c.name, "Anouk de Vries", "absent field kept");
    assert_eq!(
        (c.department.as_deref(), c.phone.as_deref(), c.location),
        (Some("ICT"), Some("+31207654321"), None)
    );
    let bad_phone = CustomerFields {
        phone: Some("call me".into()),
        ..CustomerFields::default()
    };
    assert!(
        matches!(ops.update_customer(&anna(), &anouk(), bad_phone).await, Err(DeskError::Invalid(m)) if m.starts_with("phone: "))
    );
    let empty_name = CustomerFields {
        name: Some("  ".into()),
        ..CustomerFields::default()
    };
    assert!(matches!(
        ops.update_customer(&anna(), &anouk(), empty_name).await,
        Err(DeskError::Invalid(_))
    ));
    let long_note = CustomerFields {
        notes: Some("n".repeat(MAX_REASON + 1)),
        ..CustomerFields::default()
    };
    assert!(matches!(
        ops.update_customer(&anna(), &anouk(), long_note).await,
        Err(DeskError::Invalid(_))
    ));
    assert!(matches!(
        ops.update_customer(
            &anna(),
            &CustomerId::from_string("cust-ghost"),
            CustomerFields::default()
        )
        .await,
        Err(DeskError::NotFound("customer"))
    ));
    guard.cleanup().await;
}

#[tokio::test]
async fn intakes_are_opened_by_hand_for_email_and_desk() {
    let (ops, _store, guard) = setup().await;
    assert_eq!(
        invalid(ops.open_manual(&anna(), "phone", None).await),
        "channel must be email or desk (phone intakes come from calls), not \"phone\""
    );
    assert!(matches!(
        ops.open_manual(
            &anna(),
            "email",
            Some(&CustomerId::from_string("cust-ghost"))
        )
        .await,
        Err(DeskError::NotFound("customer"))
    ));
    let v = ops
        .open_manual(&anna(), "email", Some(&anouk()))
        .await
        .unwrap();
    assert_eq!(
        (v.channel.as_str(), v.status.as_str(), v.level),
        ("email", "open", 1)
    );
    assert_eq!(
        (v.category, v.call_id.clone()),
        (Category::Unclassified, None)
    );
    assert_eq!(v.caller.as_deref(), Some("+31201234567"));
    assert!(v.calls.is_empty());
    let desk = ops.open_manual(&anna(), "desk", None).await.unwrap();
    assert_eq!((desk.channel.as_str(), desk.customer_id), ("desk", None));
    // Outcome of a call that has no intake at all: nothing to decide.
    assert!(
        ops.has_outcome(&CallId::from_string("call-none"))
            .await
            .unwrap()
    );
    guard.cleanup().await;
}
