//! The customers API over a real listener: search, fetch with open intakes, edit, bad input.

use serde_json::json;

use super::{TestApi, bearer};

#[tokio::test]
async fn customers_are_searched_fetched_and_edited() {
    let api = TestApi::start().await;
    let a = bearer(&api.token("anna", "anna-demo").await);
    let h = [("authorization", a.as_str())];

    let found = api.send("GET", "/api/customers?q=anouk", &h, None).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let list = found.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], "cust-demo-01");
    assert_eq!(list[0]["organisation"], "Gemeente Zaanwijk");
    assert_eq!(list[0]["extra_phones"], json!(["+31612345678"]));
    // By number (digits of the main or an extra number), with separators.
    let by_phone = api
        .send("GET", "/api/customers?q=%2B31%206%201234%205678", &h, None)
        .await
        .json();
    assert_eq!(by_phone[0]["name"], "Anouk de Vries");
    let page = api
        .send("GET", "/api/customers?limit=2&offset=1", &h, None)
        .await
        .json();
    assert_eq!(page.as_array().unwrap().len(), 2);
    let none = api
        .send("GET", "/api/customers?q=zzzz-nobody", &h, None)
        .await
        .json();
    assert_eq!(none, json!([]));

    let one = api
        .send("GET", "/api/customers/cust-demo-01", &h, None)
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    let c = one.json();
    assert_eq!(
        (&c["name"], &c["phone"]),
        (&json!("Anouk de Vries"), &json!("+31201234567"))
    );
    assert_eq!(c["open_intakes"], json!([]));

    let patch = json!({ "name": "<script>alert(1)</script>", "location": "Room 2.14", "phone": "020 555 1234" });
    let r = api
        .send(
            "PATCH",
            "/api/customers/cust-demo-01",
            &h,
            Some(&patch.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.json();
    // JSON carries the name as plain text; the desk escapes it when it shows it.
    assert_eq!(c["name"], "<script>alert(1)</script>");
    assert_eq!(
        (&c["location"], &c["phone"]),
        (&json!("Room 2.14"), &json!("+31205551234"))
    );
    assert_eq!(c["organisation"], "Gemeente Zaanwijk", "absent field kept");
    let stored: String = sqlx::query_scalar("SELECT name FROM customers WHERE id = 'cust-demo-01'")
        .fetch_one(api.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, "<script>alert(1)</script>");
    api.stop().await;
}

#[tokio::test]
async fn customer_bad_input_gets_clear_4xx_json() {
    let api = TestApi::start().await;
    let a = bearer(&api.token("anna", "anna-demo").await);
    let h = [("authorization", a.as_str())];
    let r = api.send("GET", "/api/customers/cust-nope", &h, None).await;
    assert_eq!((r.status, r.error().as_str()), (404, "customer not found"));
    let r = api
        .send(
            "PATCH",
            "/api/customers/cust-nope",
            &h,
            Some(r#"{"notes":"n"}"#),
        )
        .await;
    assert_eq!((r.status, r.error().as_str()), (404, "customer not found"));

    let url = "/api/customers/cust-demo-01";
    for (body, needle) in [
        (r#"{"name":5}"#, "name"),
        (r#"{"name":""}"#, "name cannot be empty"),
        (r#"{"email":"not-an-address"}"#, "is not an e-mail address"),
        (r#"{"phone":"call me"}"#, "phone:"),
        (r#"{"shoe_size":44}"#, "unknown field `shoe_size`"),
    ] {
        let r = api.send("PATCH", url, &h, Some(body)).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert!(r.error().contains(needle), "{body}: {:?}", r.error());
    }
    let long = json!({ "organisation": "o".repeat(201) }).to_string();
    let r = api.send("PATCH", url, &h, Some(&long)).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (422, "organisation must be at most 200 characters (got 201)")
    );
    let huge = json!({ "notes": "n".repeat(17_000) }).to_string();
    assert_eq!(api.send("PATCH", url, &h, Some(&huge)).await.status, 413);
    for query in ["limit=abc", "limit=201", "offset=x"] {
        let r = api
            .send("GET", &format!("/api/customers?{query}"), &h, None)
            .await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
    }
    let q = "q".repeat(201);
    assert_eq!(
        api.send("GET", &format!("/api/customers?q={q}"), &h, None)
            .await
            .status,
        422
    );
    assert_eq!(
        api.send("GET", "/api/customers", &[], None).await.status,
        401
    );
    api.stop().await;
}
