//! Login, sessions, rate limit, CSRF and roles.

use super::{TestApi, bearer, cookie};
use crate::acd::AgentState;
use crate::domain::AgentId;
use crate::http::auth::hash_token;
use crate::http::limit::LoginLimits;
use crate::store::now_ms;

#[tokio::test]
async fn login_sets_a_strict_cookie_stores_only_the_hash_and_makes_the_agent_available() {
    let api = TestApi::start().await;
    let before = now_ms();
    let resp = api.login("anna", "anna-demo").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let body = resp.json();
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(body["agent"]["id"], "agent-demo-anna");
    assert_eq!(body["agent"]["name"], "Anna Koster");
    assert_eq!(body["agent"]["role"], "agent");
    assert_eq!(body["agent"]["extension"], "2001");
    assert_eq!(
        body["agent"]["categories"],
        serde_json::json!(["hardware", "software"])
    );
    assert_eq!(body["agent"]["level"], 1);
    assert!(body["agent"].get("password_hash").is_none());
    // Default session: 12 hours.
    let expires_at = body["expires_at"].as_i64().unwrap();
    assert!((before + 43_200_000..=now_ms() + 43_200_000).contains(&expires_at));
    assert_eq!(
        resp.header("set-cookie").unwrap(),
        format!("firstline_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200")
    );
    assert_eq!(resp.header("cache-control"), Some("no-store"));

    // Only SHA-256(token) is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(api.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, vec![hash_token(token)]);
    assert_eq!(
        api.acd_state("agent-demo-anna").await,
        AgentState::Available
    );

    // A second session of the same agent is fine (the ACD login is not repeated).
    let second = api.login("anna", "anna-demo").await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_ne!(second.json()["token"], body["token"]);
    api.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_login_get_the_same_401() {
    let api = TestApi::start().await;
    let wrong = api.login("anna", "bas-demo").await;
    let unknown = api.login("nobody", "anna-demo").await;
    for resp in [&wrong, &unknown] {
        assert_eq!(resp.status, 401);
        assert_eq!(
            resp.json(),
            serde_json::json!({ "error": "invalid login or password" })
        );
        assert_eq!(resp.header("set-cookie"), None);
    }
    assert_eq!(api.acd_state("agent-demo-anna").await, AgentState::Offline);
    api.stop().await;
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_per_login_and_per_address() {
    let api = TestApi::with_limits(LoginLimits {
        per_login: 3,
        per_ip: 5,
        ..LoginLimits::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(api.login("anna", "guess").await.status, 401);
    }
    // Even the right password waits now.
    let limited = api.login("anna", "anna-demo").await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((290..=300).contains(&retry), "Retry-After {retry}");
    assert!(
        limited.error().starts_with("too many failed logins"),
        "{}",
        limited.body
    );

    // Another login from the same address still works until the address has 5 failures.
    assert_eq!(api.login("bas", "bas-demo").await.status, 200);
    assert_eq!(api.login("bas", "guess").await.status, 401);
    assert_eq!(api.login("chantal", "guess").await.status, 401);
    assert_eq!(api.login("eva", "eva-demo").await.status, 429);
    api.stop().await;
}

#[tokio::test]
async fn cookie_and_bearer_both_authenticate_and_missing_or_bad_tokens_get_401() {
    let api = TestApi::start().await;
    let token = api.token("anna", "anna-demo").await;
    for (name, value) in [
        ("cookie", cookie(&token)),
        ("authorization", bearer(&token)),
    ] {
        let me = api.send("GET", "/api/me", &[(name, &value)], None).await;
        assert_eq!(me.status, 200, "{name}: {}", me.body);
        let body = me.json();
        assert_eq!(body["agent"]["login"], "anna");
        assert_eq!(body["state"], "available");
        assert!(body["since"].as_i64().unwrap() <= now_ms());
    }
    let none = api.send("GET", "/api/me", &[], None).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.error(), "not signed in or the session has expired");
    let forged = "0".repeat(64);
    let bad = api
        .send(
            "GET",
            "/api/me",
            &[("authorization", &bearer(&forged))],
            None,
        )
        .await;
    assert_eq!(bad.status, 401);
    let junk = api
        .send(
            "GET",
            "/api/me",
            &[("cookie", "firstline_session=<x>")],
            None,
        )
        .await;
    assert_eq!(junk.status, 401);
    api.stop().await;
}

#[tokio::test]
async fn an_expired_session_gets_401() {
    let api = TestApi::start().await;
    let token = "ab".repeat(32);
    let now = now_ms();
    let anna = AgentId::from_string("agent-demo-anna");
    api.store
        .create_session(&hash_token(&token), &anna, "agent", now - 20_000, now - 1)
        .await
        .unwrap();
    let resp = api
        .send("GET", "/api/me", &[("cookie", &cookie(&token))], None)
        .await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.error(), "not signed in or the session has expired");
    api.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_clears_the_cookie_and_logs_out_of_the_acd() {
    let api = TestApi::start().await;
    let token = api.token("anna", "anna-demo").await;
    let c = cookie(&token);
    let resp = api
        .send(
            "POST",
            "/api/logout",
            &[("cookie", &c), ("x-firstline-csrf", "1")],
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["status"], "logged out");
    let cleared = resp.header("set-cookie").unwrap();
    assert!(cleared.starts_with("firstline_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(api.acd_state("agent-demo-anna").await, AgentState::Offline);
    let after = api.send("GET", "/api/me", &[("cookie", &c)], None).await;
    assert_eq!(after.status, 401);
    api.stop().await;
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_header_or_a_same_origin_but_bearer_does_not() {
    let api = TestApi::start().await;
    let token = api.token("anna", "anna-demo").await;
    let c = cookie(&token);
    let body = Some(r#"{"state":"not_ready","reason":"lunch"}"#);
    let plain = api
        .send("PUT", "/api/me/state", &[("cookie", &c)], body)
        .await;
    assert_eq!(plain.status, 403, "{}", plain.body);
    assert!(plain.error().contains("X-Firstline-Csrf"), "{}", plain.body);
    let evil = [("cookie", c.as_str()), ("origin", "http://evil.example")];
    assert_eq!(
        api.send("PUT", "/api/me/state", &evil, body).await.status,
        403
    );
    assert_eq!(
        api.acd_state("agent-demo-anna").await,
        AgentState::Available
    );

    let origin = format!("http://{}", api.addr);
    let same = [("cookie", c.as_str()), ("origin", origin.as_str())];
    assert_eq!(
        api.send("PUT", "/api/me/state", &same, body).await.status,
        200
    );
    let header = [("cookie", c.as_str()), ("x-firstline-csrf", "1")];
    assert_eq!(
        api.send("PUT", "/api/me/state", &header, body).await.status,
        200
    );
    let auth = bearer(&token);
    assert_eq!(
        api.send("PUT", "/api/me/state", &[("authorization", &auth)], body)
            .await
            .status,
        200
    );
    // Reads need neither.
    assert_eq!(
        api.send("GET", "/api/me", &[("cookie", &c)], None)
            .await
            .status,
        200
    );
    // A cross-site login form is refused too.
    let creds = r#"{"login":"bas","password":"bas-demo"}"#;
    let foreign = api
        .send(
            "POST",
            "/api/login",
            &[("origin", "http://evil.example")],
            Some(creds),
        )
        .await;
    assert_eq!(foreign.status, 403);
    api.stop().await;
}

#[tokio::test]
async fn only_supervisors_list_agents() {
    let api = TestApi::start().await;
    sqlx::query("UPDATE agents SET role = 'supervisor' WHERE login = 'eva'")
        .execute(api.store.pool())
        .await
        .unwrap();
    let anna = api.token("anna", "anna-demo").await;
    let denied = api
        .send(
            "GET",
            "/api/agents",
            &[("authorization", &bearer(&anna))],
            None,
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.error(),
        "your role may not do this (needs supervisor or admin)"
    );

    let eva = api.token("eva", "eva-demo").await;
    let list = api
        .send(
            "GET",
            "/api/agents",
            &[("authorization", &bearer(&eva))],
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 8, "the demo agents, gijs (level 2) included");
    let state_of = |login: &str| {
        rows.iter()
            .find(|r| r["agent"]["login"] == login)
            .map(|r| r["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state_of("anna").as_deref(), Some("available"));
    // A supervisor signs in to the desk without entering the queues: they take no calls.
    assert_eq!(state_of("eva").as_deref(), Some("offline"));
    assert_eq!(state_of("bas").as_deref(), Some("offline"));
    let eva_row = rows.iter().find(|r| r["agent"]["login"] == "eva").unwrap();
    assert_eq!(eva_row["agent"]["role"], "supervisor");
    api.stop().await;
}
