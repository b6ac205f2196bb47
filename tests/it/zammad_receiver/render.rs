//! Tickets, articles and users as Zammad renders them in its answers, timestamps in ISO 8601.

use serde_json::{Value, json};

use super::checks::{ARTICLE_TYPES, PRIORITIES, SENDERS, STATES, group_table};
use super::receiver::State;
use super::{Article, Ticket, User, ZammadConfig};

fn id_of(table: &[(u64, &str)], name: &str) -> u64 {
    table
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(0, |(i, _)| *i)
}

/// The ticket as Zammad renders it (attributes_with_association_ids; names too with expand).
pub(crate) fn ticket_json(cfg: &ZammadConfig, st: &State, t: &Ticket, expand: bool) -> Value {
    let groups = group_table(cfg);
    let now = now_iso();
    let first = t.articles.first();
    let article_ids: Vec<u64> = t.articles.iter().rev().map(|a| a.id).collect();
    let mut v = json!({
        "id": t.id,
        "group_id": id_of(&groups, &t.group),
        "priority_id": id_of(PRIORITIES, &t.priority),
        "state_id": id_of(STATES, &t.state),
        "organization_id": null,
        "number": t.number,
        "title": t.title,
        "owner_id": 1,
        "customer_id": t.customer_id,
        "note": null,
        "pending_time": null,
        "type": null,
        "article_count": t.articles.len(),
        "create_article_type_id": first.map(|a| id_of(ARTICLE_TYPES, &a.kind)),
        "create_article_sender_id": first.map(|a| id_of(SENDERS, &a.sender)),
        "preferences": {},
        "created_by_id": 2,
        "updated_by_id": 2,
        "created_at": now,
        "updated_at": now,
        "article_ids": article_ids,
        "ticket_time_accounting_ids": [],
    });
    if expand {
        let agent = st.users.iter().find(|u| u.agent).map(|u| u.login.clone());
        let extra = json!({
            "group": t.group,
            "state": t.state,
            "priority": t.priority,
            "customer": t.customer,
            "owner": "-",
            "organization": null,
            "created_by": agent,
            "updated_by": agent,
            "create_article_type": first.map(|a| a.kind.clone()),
            "create_article_sender": first.map(|a| a.sender.clone()),
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
    }
    v
}

/// An article as Zammad renders it (attributes_with_association_names).
pub(crate) fn article_json(a: &Article, ticket_id: u64) -> Value {
    let now = now_iso();
    json!({
        "id": a.id,
        "ticket_id": ticket_id,
        "from": "firstline API",
        "to": "",
        "cc": "",
        "subject": a.subject,
        "body": a.body,
        "content_type": a.content_type,
        "type_id": id_of(ARTICLE_TYPES, &a.kind),
        "type": a.kind,
        "sender_id": id_of(SENDERS, &a.sender),
        "sender": a.sender,
        "internal": a.internal,
        "attachments": [],
        "created_by_id": 2,
        "updated_by_id": 2,
        "created_at": now,
        "updated_at": now,
    })
}

pub(crate) fn user_json(u: &User) -> Value {
    let now = now_iso();
    let role = if u.agent { 2 } else { 3 };
    json!({
        "id": u.id,
        "login": u.login,
        "firstname": u.firstname,
        "lastname": u.lastname,
        "email": u.email,
        "phone": u.phone,
        "mobile": u.mobile,
        "organization_id": null,
        "active": true,
        "verified": false,
        "vip": false,
        "note": "",
        "role_ids": [role],
        "created_at": now,
        "updated_at": now,
    })
}

fn now_iso() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs();
    let (y, m, day) = civil_from_days((s / 86_400) as i64);
    let t = s % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day): H. Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
