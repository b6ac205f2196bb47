//! Generic webhooks: each event POSTed as JSON (the envelope of [`super::wire`]), signed with
//! HMAC-SHA256 over `"{timestamp}.{body}"` (`Firstline-Signature: v1=<hex>`), with the event id
//! as `Idempotency-Key` so a receiver can drop the duplicates at-least-once delivery brings.

use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::client::Http;
use super::config::Secret;
use super::retry::Outcome;
use super::wire;
use crate::store::OutboxRow;

/// The signature header: `v1=` and the lowercase hex HMAC-SHA256.
pub const SIGNATURE: &str = "Firstline-Signature";
/// The signing time, Unix seconds; receivers should refuse one far from their clock.
pub const TIMESTAMP: &str = "Firstline-Timestamp";
/// The event kind.
pub const EVENT: &str = "Firstline-Event";
/// Which attempt this is (1, 2, …).
pub const ATTEMPT: &str = "Firstline-Attempt";
/// The event id, the same on every attempt.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn signature(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(3 + tag.len() * 2);
    hex.push_str("v1=");
    for b in tag {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// One webhook target.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// The signing secret.
    pub secret: Secret,
    /// The client.
    pub http: Http,
    /// For the intake links.
    pub public_url: String,
}

impl Webhook {
    /// Sends one row.
    pub async fn deliver(&self, row: &OutboxRow) -> Outcome {
        let body = wire::envelope(row, &self.public_url).to_string();
        self.post(&row.kind, &row.event_id, row.attempts, body)
            .await
    }

    /// A `ping` event (the admin's "test delivery").
    pub async fn ping(&self, target: &str) -> Outcome {
        let id = format!("evt-test-{:016x}", rand::random::<u64>());
        let body = serde_json::json!({
            "schema_version": wire::SCHEMA_VERSION, "id": id, "event": "ping",
            "occurred_at": wire::rfc3339(crate::store::now_ms()),
            "data": { "target": target },
        })
        .to_string();
        self.post("ping", &id, 1, body).await
    }

    async fn post(&self, kind: &str, id: &str, attempt: i64, body: String) -> Outcome {
        let ts = crate::store::now_ms() / 1000;
        let sig = signature(&self.secret, ts, body.as_bytes());
        let req = self
            .http
            .client()
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT, kind)
            .header(IDEMPOTENCY_KEY, id)
            .header(TIMESTAMP, ts.to_string())
            .header(ATTEMPT, attempt.max(1).to_string())
            .header(SIGNATURE, sig)
            .body(body);
        match self.http.send(req).await {
            Ok(resp) => resp.outcome(),
            Err(o) => o,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        let secret = Secret::from_value("Jefe");
        let sig = signature(&secret, 0, b"what do ya want for nothing?");
        // HMAC-SHA256("Jefe", "0.what do ya want for nothing?"), computed with Python's hmac.
        assert_eq!(
            sig,
            "v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc"
        );
    }
}
