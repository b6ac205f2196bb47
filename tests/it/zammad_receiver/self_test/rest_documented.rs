//! The self-test of the documented REST calls: search and create users, create, update and
//! annotate tickets, and what the receiver then holds.

use serde_json::{Value, json};

use super::{api, send};
use crate::zammad_receiver::ZammadReceiver;

/// The documented REST calls: search and create users, create, update and annotate tickets.
pub(crate) async fn rest_documented(z: &ZammadReceiver) {
    let (s, found) = api(
        z,
        "GET",
        "/api/v1/users/search?query=%2B493055571600&limit=10",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, &found[0]["email"], &found[0]["id"]),
        (200, &json!("ada@example.com"), &json!(3))
    );
    let (s, found) = api(
        z,
        "GET",
        "/api/v1/users/search?query=030%205557%201600",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, &found[0]["id"]),
        (200, &json!(3)),
        "a national number finds +49 30 …"
    );
    let r = api(
        z,
        "GET",
        "/api/v1/users/search?query=email:nobody@example.com",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(r, (200, json!([])));
    let bearer = format!("Bearer {}", z.api_token());
    let (s, me) = send(
        z.addr(),
        "GET",
        "/api/v1/users/me",
        &[("Authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!((s, &me["id"]), (200, &json!(2)));
    let grace = json!({
        "firstname": "Grace", "lastname": "Hopper", "email": "grace@example.com",
        "phone": "+1 555 0100"
    });
    let (s, user) = api(z, "POST", "/api/v1/users", &[], grace).await;
    assert_eq!(
        (s, &user["id"], &user["login"]),
        (201, &json!(4), &json!("grace@example.com"))
    );

    let call = json!({
        "title": "Printer on fire",
        "group": "Service Desk",
        "customer_id": "guess:new@example.com",
        "state": "open",
        "priority": "3 high",
        "article": {
            "subject": "Call from +4930555", "body": "It burns.", "type": "phone",
            "sender": "Customer", "internal": false, "content_type": "text/plain"
        }
    });
    let (s, t) = api(
        z,
        "POST",
        "/api/v1/tickets",
        &[("Idempotency-Key", "k-1")],
        call,
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let ids = [
        &t["id"],
        &t["number"],
        &t["group_id"],
        &t["state_id"],
        &t["priority_id"],
        &t["customer_id"],
    ];
    assert_eq!(
        ids,
        [
            &json!(1),
            &json!("22001"),
            &json!(2),
            &json!(2),
            &json!(3),
            &json!(5)
        ]
    );
    let by_ids = json!({
        "title": "VPN", "group_id": 1, "customer": "ada@example.com", "state_id": 1,
        "priority_id": 2
    });
    let (s, t2) = api(z, "POST", "/api/v1/tickets?expand=true", &[], by_ids).await;
    let names = [
        &t2["number"],
        &t2["group"],
        &t2["customer"],
        &t2["priority"],
        &t2["state"],
    ];
    assert_eq!(s, 201);
    assert_eq!(
        names,
        [
            &json!("22002"),
            &json!("Users"),
            &json!("ada@example.com"),
            &json!("2 normal"),
            &json!("new")
        ]
    );
    let close = json!({
        "state": "closed", "article": {"body": "Fire out.", "type": "note", "internal": true}
    });
    let (s, up) = api(z, "PUT", "/api/v1/tickets/1", &[], close).await;
    assert_eq!(
        (s, &up["state_id"], &up["article_count"]),
        (200, &json!(4), &json!(2))
    );
    let note = json!({
        "ticket_id": 2, "body": "<p>Called back</p>", "content_type": "text/html", "type": "phone",
        "internal": false
    });
    let (s, art) = api(
        z,
        "POST",
        "/api/v1/ticket_articles",
        &[("From", "ada@example.com")],
        note,
    )
    .await;
    assert_eq!(
        (s, &art["ticket_id"], &art["type"]),
        (201, &json!(2), &json!("phone"))
    );
    let (s, list) = api(
        z,
        "GET",
        "/api/v1/ticket_articles/by_ticket/1",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!((s, list.as_array().map(Vec::len)), (200, Some(2)));

    let tickets = z.tickets();
    assert_eq!(tickets.len(), 2);
    let t1 = &tickets[0];
    assert_eq!(
        (t1.id, t1.number.as_str(), t1.title.as_str()),
        (1, "22001", "Printer on fire")
    );
    assert_eq!(
        (t1.group.as_str(), t1.customer.as_str()),
        ("Service Desk", "new@example.com")
    );
    assert_eq!(
        (t1.state.as_str(), t1.priority.as_str()),
        ("closed", "3 high")
    );
    assert_eq!(t1.idempotency_key.as_deref(), Some("k-1"));
    let articles: Vec<_> = t1
        .articles
        .iter()
        .map(|a| (a.kind.as_str(), a.sender.as_str(), a.internal))
        .collect();
    assert_eq!(
        articles,
        [("phone", "Customer", false), ("note", "Agent", true)]
    );
    assert_eq!(tickets[1].articles[0].content_type, "text/html");
}
