//! The events as integrations receive them (schema version 1, docs/integrations.md): the
//! envelope (`schema_version`, `id`, `event`, `occurred_at`, `data`) around an outbox row's
//! data, with the intake's link back to the desk.

use serde_json::{Value, json};

use crate::store::{IntakeSnapshot, OutboxRow};

/// The envelope's `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// Every event kind an integration may receive, for filters and docs.
pub const KINDS: &[&str] = &[
    "intake.created",
    "intake.updated",
    "intake.resolved",
    "intake.escalated",
    "intake.returned",
    "intake.reopened",
    "call.arrived",
    "call.answered",
    "call.ended",
    "callback.requested",
    "voice_message.recorded",
];

/// Epoch ms as RFC 3339 UTC with milliseconds (`2026-12-04T18:00:00.123Z`).
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).unwrap_or_default()
}

/// The link to an intake in the desk.
pub fn intake_link(public_url: &str, intake_id: &str) -> String {
    format!(
        "{}/desk.html#intake={intake_id}",
        public_url.trim_end_matches('/')
    )
}

/// A row's data: the stored JSON with the intake's `url` added (intake events) or the stream's
/// `type` tag removed (call events). Unreadable data (a corrupt row) becomes `{}`.
pub fn data(row: &OutboxRow, public_url: &str) -> Value {
    let mut data: Value = serde_json::from_str(&row.payload).unwrap_or_else(|_| json!({}));
    if let Some(obj) = data.as_object_mut() {
        obj.remove("type");
        if let Some(intake) = obj.get_mut("intake").and_then(Value::as_object_mut)
            && let Some(id) = intake.get("id").and_then(Value::as_str)
        {
            let url = intake_link(public_url, id);
            intake.insert("url".to_owned(), Value::String(url));
        }
    }
    data
}

/// The whole event as a webhook receives it.
pub fn envelope(row: &OutboxRow, public_url: &str) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "id": row.event_id,
        "event": row.kind,
        "occurred_at": rfc3339(row.created_at),
        "data": data(row, public_url),
    })
}

/// The intake of an intake event's data.
pub fn intake_of(row: &OutboxRow) -> Option<IntakeSnapshot> {
    let v: Value = serde_json::from_str(&row.payload).ok()?;
    serde_json::from_value(v.get("intake")?.clone()).ok()
}

/// A field of the event's extra object (`escalation`, `returned`, `reopened`).
pub fn detail(row: &OutboxRow, key: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(&row.payload).ok()?;
    v.get(key).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_409_296_123), "2026-12-04T18:34:56.123Z");
    }
}
