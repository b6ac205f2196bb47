//! The self-test of the faults a test injects (failures, a refused connection, a lost answer)
//! and of what counts as a duplicate.

use serde_json::json;

use super::api;
use crate::zammad_receiver::{Duplicate, ZammadReceiver};

/// Injected failures, a refused connection and a lost answer; what counts as a duplicate.
pub(crate) async fn faults_and_idempotency(z: &ZammadReceiver) {
    let body = json!({"title": "Retry me", "group": "Users", "customer": "ada@example.com"});
    let k2 = [("Idempotency-Key", "k-2")];
    z.fail_next(2, 503);
    let (s, err) = api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await;
    assert_eq!(
        (s, err["error"].is_string(), err["error_human"].is_string()),
        (503, true, true)
    );
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        503
    );
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        201
    );
    z.fail_next(1, 400);
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        400
    );
    z.set_down(true);
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        0
    );
    z.set_down(false);
    assert!(
        z.duplicates().is_empty(),
        "retries after refused attempts are no duplicates"
    );

    // Zammad made the ticket but the answer was lost: the retry makes a second one.
    let k3 = [("Idempotency-Key", "k-3")];
    let count = z.tickets().len();
    z.lose_next(1);
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k3, body.clone()).await.0,
        0
    );
    assert_eq!(api(z, "POST", "/api/v1/tickets", &k3, body).await.0, 201);
    assert_eq!(z.tickets().len(), count + 2);
    let dup = Duplicate {
        key: "k-3".into(),
        method: "POST".into(),
        path: "/api/v1/tickets".into(),
        times: 2,
    };
    assert_eq!(z.duplicates(), [dup]);
    let reqs = z.requests();
    assert_eq!(reqs.iter().filter(|r| r.injected).count(), 3);
    assert_eq!(reqs.iter().filter(|r| r.answer_lost).count(), 1);
}
