//! What the REST endpoints check alike: Zammad's lookup tables (states, priorities, article
//! types, senders) and attribute lists, the JSON body, unknown fields, a name-or-id lookup and
//! optional strings.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::ZammadConfig;
use super::encoding::mime;
use super::handler::{Ctx, Reply, UNPROCESSABLE, header, zerr};

pub(crate) const STATES: &[(u64, &str)] = &[
    (1, "new"),
    (2, "open"),
    (3, "pending reminder"),
    (4, "closed"),
    (5, "merged"),
    (6, "removed"),
    (7, "pending close"),
];
pub(crate) const PRIORITIES: &[(u64, &str)] = &[(1, "1 low"), (2, "2 normal"), (3, "3 high")];
pub(crate) const ARTICLE_TYPES: &[(u64, &str)] = &[
    (1, "email"),
    (2, "sms"),
    (3, "chat"),
    (4, "fax"),
    (5, "phone"),
    (6, "twitter status"),
    (7, "twitter direct-message"),
    (8, "facebook feed post"),
    (9, "facebook feed comment"),
    (10, "note"),
    (11, "web"),
    (12, "telegram personal-message"),
];
pub(crate) const SENDERS: &[(u64, &str)] = &[(1, "Agent"), (2, "Customer"), (3, "System")];
pub(crate) const CONTENT_TYPES: &[&str] = &["text/plain", "text/html"];

/// Ticket attributes (api/ticket/index.rst and the ticket payloads in api/intro.rst).
pub(crate) const TICKET_FIELDS: &str = "title group group_id customer customer_id state state_id \
    priority priority_id owner owner_id organization organization_id note pending_time tags \
    mentions article links preferences";
/// Article attributes (api/ticket/articles.rst, creates_ticket_articles.rb).
pub(crate) const ARTICLE_FIELDS: &str = "subject body content_type type type_id internal sender \
    sender_id from to cc reply_to time_unit attachments origin_by origin_by_id preferences subtype";
/// User attributes (api/user.rst and the user payload in api/intro.rst).
pub(crate) const USER_FIELDS: &str = "login firstname lastname email phone mobile fax web \
    department street zip city country address organization organization_id note vip active \
    verified password role_ids roles group_ids groups";
/// Search parameters (api/user.rst; api/intro.rst, "Pagination" and "Sorting").
pub(crate) const SEARCH_PARAMS: &str = "query limit page per_page sort_by order_by expand full";

pub(crate) fn json_object(
    ctx: &mut Ctx,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, Reply> {
    let ct = header(headers, "content-type").unwrap_or("");
    if mime(ct) != "application/json" {
        ctx.flag(
            "rest.content_type",
            format!("Content-Type {ct:?}: Zammad's API takes application/json"),
        );
        return Err(zerr(
            UNPROCESSABLE,
            "this receiver reads only application/json bodies",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => {
            ctx.flag(
                "rest.json",
                format!("the body must be a JSON object, got {other}"),
            );
            Err(zerr(UNPROCESSABLE, "the body must be a JSON object"))
        }
        Err(e) => {
            ctx.flag("rest.json", format!("the body is not JSON: {e}"));
            Err(zerr(StatusCode::BAD_REQUEST, "Bad Request"))
        }
    }
}

/// Flags keys outside `allowed`, a space-separated list (Zammad's `param_cleanup` keeps only
/// the model's attributes and drops the rest silently; the receiver tells).
pub(crate) fn check_fields(
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    allowed: &str,
    rule: &'static str,
    what: &str,
) {
    for k in obj.keys() {
        if !allowed.split_whitespace().any(|a| a == k) {
            let hint = match k.as_str() {
                "number" => " (the ticket number cannot be set or changed)",
                "type" if what == "ticket" => " (the article type goes in article.type)",
                _ => "",
            };
            ctx.flag(rule, format!("{k} is not a {what} attribute{hint}"));
        }
    }
}

/// A name (`what`) or id (`what_id`) from `table`; `Ok(None)` when neither is given.
pub(crate) fn lookup<'t>(
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    what: &str,
    rule: &'static str,
    table: &[(u64, &'t str)],
) -> Result<Option<(u64, &'t str)>, Reply> {
    let id_key = format!("{what}_id");
    let (by_name, by_id) = (obj.get(what), obj.get(&id_key));
    if by_name.is_some() && by_id.is_some() {
        ctx.flag(rule, format!("both {what} and {id_key} given; send one"));
    }
    let names: Vec<&str> = table.iter().map(|(_, n)| *n).collect();
    if let Some(v) = by_name {
        let Some(name) = v.as_str() else {
            ctx.flag(
                rule,
                format!("{what} must be a name (one of {names:?}), got {v}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                format!("No lookup value found for '{what}': {v}"),
            ));
        };
        return match table.iter().find(|(_, n)| *n == name) {
            Some(&(id, n)) => Ok(Some((id, n))),
            None => {
                ctx.flag(rule, format!("{what} {name:?} is not one of {names:?}"));
                Err(zerr(
                    UNPROCESSABLE,
                    format!("No lookup value found for '{what}': {name:?}"),
                ))
            }
        };
    }
    if let Some(v) = by_id {
        let id = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => {
                ctx.flag(
                    rule,
                    format!("{id_key} should be a JSON integer, got the string {s:?}"),
                );
                s.parse().ok()
            }
            _ => None,
        };
        return match id.and_then(|id| table.iter().find(|(i, _)| *i == id)) {
            Some(&(id, n)) => Ok(Some((id, n))),
            None => {
                let ids: Vec<u64> = table.iter().map(|(i, _)| *i).collect();
                ctx.flag(rule, format!("{id_key} {v} is not one of {ids:?}"));
                Err(zerr(
                    UNPROCESSABLE,
                    format!("Invalid value for param '{id_key}': {v}"),
                ))
            }
        };
    }
    Ok(None)
}

pub(crate) fn group_table(cfg: &ZammadConfig) -> Vec<(u64, &str)> {
    cfg.groups
        .iter()
        .enumerate()
        .map(|(i, g)| (i as u64 + 1, g.as_str()))
        .collect()
}

pub(crate) fn opt_string(
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    key: &str,
    rule: &'static str,
) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => {
            ctx.flag(rule, format!("{key} must be a string, got {other}"));
            Some(other.to_string())
        }
    }
}
