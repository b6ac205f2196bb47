//! The self-test of REST departures: credentials, content type and JSON, refused and loose
//! tickets, unknown ids, users, routes and the `From` header, each flagged and answered as
//! Zammad would answer it.

use serde_json::{Value, json};

use super::{FORM, JSON, api, expect_flags, send};
use crate::zammad_receiver::ZammadReceiver;

/// Each REST departure is flagged, and answered as Zammad would answer it.
pub(crate) async fn rest_departures(z: &ZammadReceiver) {
    let a = z.addr();
    let ticket = |extra: Value| {
        let mut t = json!({"title": "T", "group": "Users", "customer": "ada@example.com"});
        if let (Some(o), Value::Object(e)) = (t.as_object_mut(), extra) {
            for (k, x) in e {
                if x.is_null() {
                    o.remove(&k);
                } else {
                    o.insert(k, x);
                }
            }
        }
        t
    };
    let plain = ticket(json!({})).to_string();
    let r = send(a, "POST", "/api/v1/tickets", &[JSON], &plain).await;
    let required =
        json!({"error": "Authentication required", "error_human": "Authentication required"});
    assert_eq!(
        r,
        (403, required),
        "Zammad answers a request without credentials with 403"
    );
    expect_flags(z, &["rest.auth"]);
    for bad in ["Token token=nope", "Bearer nope", "Basic Zm9vOmJhcg=="] {
        let r = send(
            a,
            "POST",
            "/api/v1/tickets",
            &[("Authorization", bad), JSON],
            &plain,
        )
        .await;
        assert_eq!(r.0, 401, "{bad}");
        expect_flags(z, &["rest.auth"]);
    }
    let auth = format!("Token token={}", z.api_token());
    let r = send(
        a,
        "POST",
        "/api/v1/tickets",
        &[("Authorization", &auth), FORM],
        "title=T",
    )
    .await;
    assert_eq!(r.0, 422);
    expect_flags(z, &["rest.content_type"]);
    let r = send(
        a,
        "POST",
        "/api/v1/tickets",
        &[("Authorization", &auth), JSON],
        "{title",
    )
    .await;
    assert_eq!(r.0, 400);
    expect_flags(z, &["rest.json"]);

    let refused: [(Value, u16, &str); 11] = [
        (json!({"group": "Sales"}), 422, "ticket.group"),
        (json!({"group": null}), 422, "ticket.group"),
        (json!({"title": null}), 422, "ticket.title"),
        (json!({"priority": "urgent"}), 422, "ticket.priority"),
        (json!({"state": "solved"}), 422, "ticket.state"),
        (
            json!({"customer": "someone@example.com"}),
            422,
            "ticket.customer",
        ),
        (
            json!({"customer": null, "customer_id": 99}),
            422,
            "ticket.customer",
        ),
        (
            json!({"customer": "guess:someone@example.com"}),
            422,
            "ticket.customer",
        ),
        (json!({"customer": null}), 422, "ticket.customer"),
        (
            json!({"article": {"subject": "s", "type": "phone"}}),
            422,
            "article.body",
        ),
        (
            json!({"article": {"body": "b", "type": "call"}}),
            422,
            "article.type",
        ),
    ];
    for (extra, status, rule) in refused {
        let r = api(z, "POST", "/api/v1/tickets", &[], ticket(extra.clone())).await;
        assert_eq!(r.0, status, "{extra}: {}", r.1);
        expect_flags(z, &[rule]);
    }
    let r = api(
        z,
        "POST",
        "/api/v1/tickets",
        &[],
        ticket(json!({"group": "Sales"})),
    )
    .await;
    let lookup = "No lookup value found for 'group': \"Sales\"";
    assert_eq!(r.1, json!({"error": lookup, "error_human": lookup}));
    let r = api(
        z,
        "POST",
        "/api/v1/tickets",
        &[],
        ticket(json!({"article": {"type": "note"}})),
    )
    .await;
    let need = "Need at least article: { body: \"some text\" }";
    assert_eq!(r.1, json!({"error": need, "error_human": need}));
    z.take_violations();

    let before = z.tickets().len();
    let loose = ticket(json!({
        "type": "phone",
        "priority_name": "high",
        "article": {
            "body": "b", "type": "email", "internal": "yes", "content_type": "text/markdown",
            "sender": "Customer"
        }
    }));
    let r = api(z, "POST", "/api/v1/tickets", &[], loose).await;
    assert_eq!(
        r.0, 201,
        "Zammad takes these, but they are not the documented shape"
    );
    let loose_rules = [
        "ticket.unknown_field",
        "ticket.unknown_field",
        "article.type",
        "article.internal",
        "article.content_type",
    ];
    expect_flags(z, &loose_rules);
    assert_eq!(z.tickets().len(), before + 1);

    let r = api(
        z,
        "PUT",
        "/api/v1/tickets/22001",
        &[],
        json!({"state": "open"}),
    )
    .await;
    let missing = "Couldn't find Ticket with 'id'=22001";
    assert_eq!(r, (404, json!({"error": missing, "error_human": missing})));
    let flagged = z.take_violations();
    assert_eq!(flagged.len(), 1);
    assert!(
        flagged[0].detail.contains("ticket number"),
        "{}",
        flagged[0]
    );
    let r = api(
        z,
        "POST",
        "/api/v1/ticket_articles",
        &[],
        json!({"ticket_id": 99, "body": "b"}),
    )
    .await;
    assert_eq!(r.0, 404);
    expect_flags(z, &["ticket.not_found"]);
    let r = api(
        z,
        "POST",
        "/api/v1/ticket_articles",
        &[],
        json!({"body": "b", "type": "note"}),
    )
    .await;
    assert_eq!(r.0, 404);
    expect_flags(z, &["article.ticket_id"]);
    let r = api(
        z,
        "POST",
        "/api/v1/users",
        &[],
        json!({"firstname": "Ada", "email": "ADA@example.com"}),
    )
    .await;
    assert_eq!(r.0, 422);
    expect_flags(z, &["user.email_taken"]);
    let r = api(z, "POST", "/api/v1/users", &[], json!({"login": "x"})).await;
    assert_eq!(r.0, 422);
    expect_flags(z, &["user.identifier"]);
    assert_eq!(
        api(z, "PATCH", "/api/v1/tickets/1", &[], json!({})).await.0,
        404
    );
    expect_flags(z, &["rest.route"]);
    let search = "/api/v1/users/search?query=ada";
    let r = api(
        z,
        "GET",
        search,
        &[("X-On-Behalf-Of", "ada@example.com")],
        Value::Null,
    )
    .await;
    assert_eq!(r.0, 200, "deprecated, still honoured");
    expect_flags(z, &["rest.on_behalf_of"]);
    let r = api(
        z,
        "GET",
        search,
        &[("From", "ghost@example.com")],
        Value::Null,
    )
    .await;
    assert_eq!(r.0, 403);
    expect_flags(z, &["rest.on_behalf_of"]);
}
