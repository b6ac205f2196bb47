//! Sessions follow the account (issue 13 item 2): an agent changes their own desk password (the
//! current one must be right and the new one meet the policy; afterwards their other sessions are
//! signed out, this one stays, and only the new password signs in); a role changed in the
//! database applies to a session at its next request, not at its next sign-in.

use serde_json::json;

use crate::helpers::{http_json, spawn_queue_app, within};

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_only_the_new_one_signs_in() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let web = t.app.http_addr();
        let here = t.login("anna").await;
        let elsewhere = t.login("anna").await;
        let change = |current: &str, new: &str| json!({"current": current, "new": new});

        let (status, body) = http_json(
            web,
            "PUT",
            "/api/me/password",
            Some(&here),
            Some(change("wrong-password", "a much better secret")),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = http_json(
            web,
            "PUT",
            "/api/me/password",
            Some(&here),
            Some(change("anna-demo", "short")),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(body.to_string().contains("at least 12"), "{body}");
        // Nothing changed so far: the other session still works.
        let (status, _) = http_json(web, "GET", "/api/me", Some(&elsewhere), None).await;
        assert_eq!(status, 200);

        let (status, body) = http_json(
            web,
            "PUT",
            "/api/me/password",
            Some(&here),
            Some(change("anna-demo", "a much better secret")),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["other_sessions_ended"], 1, "{body}");
        let (status, _) = http_json(web, "GET", "/api/me", Some(&elsewhere), None).await;
        assert_eq!(status, 401, "the other session is signed out");
        let (status, _) = http_json(web, "GET", "/api/me", Some(&here), None).await;
        assert_eq!(status, 200, "this session stays");

        let login = |password: &str| json!({"login": "anna", "password": password});
        let (status, _) =
            http_json(web, "POST", "/api/login", None, Some(login("anna-demo"))).await;
        assert_eq!(status, 401, "the old password no longer signs in");
        let (status, body) = http_json(
            web,
            "POST",
            "/api/login",
            None,
            Some(login("a much better secret")),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        t.finish().await;
    })
    .await;
}

#[tokio::test]
async fn a_role_change_applies_to_an_open_session_at_once() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let web = t.app.http_addr();
        let token = t.login("anna").await;
        let (status, _) = http_json(web, "GET", "/api/agents", Some(&token), None).await;
        assert_eq!(status, 403, "an agent does not list agents");
        sqlx::query("UPDATE agents SET role = 'supervisor' WHERE login = 'anna'")
            .execute(&t.pool)
            .await
            .unwrap();
        let (status, body) = http_json(web, "GET", "/api/agents", Some(&token), None).await;
        assert_eq!(status, 200, "the same session, now a supervisor: {body}");
        sqlx::query("UPDATE agents SET role = 'agent' WHERE login = 'anna'")
            .execute(&t.pool)
            .await
            .unwrap();
        let (status, _) = http_json(web, "GET", "/api/agents", Some(&token), None).await;
        assert_eq!(status, 403, "and back");
        t.finish().await;
    })
    .await;
}
