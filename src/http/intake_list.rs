//! `GET /api/intakes` (issues 4 and 10): the intake list with its filters (status list, level,
//! group, owner, caller in any format, customer, text), order and paging, answered as a JSON
//! array with `X-Total-Count` and, when there is a next page, an RFC 8288 `Link: <…>;
//! rel="next"` that repeats the request's own parameters with the next offset.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::auth::Session;
use super::error::ApiError;
use super::intakes::{MAX_NAME_PARAM, Reply, page, query};
use crate::desk::hub::DeskHub;
use crate::domain::{AgentId, CustomerId};
use crate::store::{IntakeFilter, IntakeSort, IntakeStatus, OwnerFilter};

/// The total before paging.
const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    status: Option<String>,
    customer_id: Option<CustomerId>,
    level: Option<u8>,
    group: Option<String>,
    owner: Option<String>,
    caller: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// `status=open,escalated`: each a known status; blank means all.
pub(super) fn statuses(list: Option<&str>) -> Result<Vec<IntakeStatus>, ApiError> {
    let mut out = Vec::new();
    for s in list.unwrap_or("").split(',').map(str::trim) {
        if s.is_empty() {
            continue;
        }
        let status = IntakeStatus::parse(s).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "status must be draft, open, resolved, escalated or closed (a comma list), not {:?}",
                s.chars().take(40).collect::<String>()
            ))
        })?;
        if !out.contains(&status) {
            out.push(status);
        }
    }
    Ok(out)
}

/// `owner=me`, `none`, `any` (when `any` is allowed) or an agent id.
pub(super) fn owner(
    value: Option<&str>,
    me: &AgentId,
    allow_agent_id: bool,
) -> Result<OwnerFilter, ApiError> {
    match value.map(str::trim) {
        None | Some("" | "any") => Ok(OwnerFilter::Any),
        Some("me") => Ok(OwnerFilter::Agent(me.clone())),
        Some("none") => Ok(OwnerFilter::Nobody),
        Some(id)
            if allow_agent_id
                && id.len() <= MAX_NAME_PARAM
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(OwnerFilter::Agent(AgentId::from_string(id)))
        }
        Some(other) => Err(ApiError::Unprocessable(format!(
            "owner must be {}, not {:?}",
            if allow_agent_id {
                "me, none, any or an agent id"
            } else {
                "me, none or any"
            },
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// A short text parameter: trimmed, 1 to `MAX_NAME_PARAM` characters, else 422.
pub(super) fn short(name: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    let n = v.chars().count();
    if n == 0 || n > MAX_NAME_PARAM {
        return Err(ApiError::Unprocessable(format!(
            "{name} must be 1 to {MAX_NAME_PARAM} characters"
        )));
    }
    Ok(Some(v.to_owned()))
}

pub(super) async fn list(
    session: Session,
    Extension(hub): Extension<DeskHub>,
    RawQuery(raw): RawQuery,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply<Response> {
    let q = query(q)?;
    let ops = hub.ops();
    let (limit, offset) = page(q.limit, q.offset)?;
    if let Some(level) = q.level
        && !(1..=3).contains(&level)
    {
        return Err(ApiError::Unprocessable(format!("level must be 1 to 3, not {level}")).into());
    }
    let sort = match q.sort.as_deref().map(str::trim) {
        None | Some("" | "newest") => IntakeSort::Newest,
        Some("priority") => IntakeSort::Priority,
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "sort must be newest or priority, not {:?}",
                other.chars().take(40).collect::<String>()
            ))
            .into());
        }
    };
    let text = short("q", q.q)?;
    let filter = IntakeFilter {
        statuses: statuses(q.status.as_deref())?,
        customer_id: q.customer_id,
        level: q.level,
        groups: short("group", q.group)?.map(|g| vec![g]),
        owner: owner(q.owner.as_deref(), &session.agent_id, true)?,
        caller: short("caller", q.caller)?.map(|c| ops.caller_number(&c)),
        text: text.as_deref().and_then(|t| ops.text_query(t)),
        sort,
        limit,
        offset,
    };
    let (views, total) = ops.list_page(&filter).await?;
    let shown = i64::try_from(views.len()).unwrap_or(i64::MAX);
    let mut response = Json(views).into_response();
    let headers = response.headers_mut();
    headers.insert(TOTAL_COUNT, HeaderValue::from(total));
    if offset + shown < total
        && shown > 0
        && let Some(link) = next_link("/api/intakes", raw.as_deref(), offset + shown)
    {
        headers.insert(header::LINK, link);
    }
    Ok(response)
}

/// `</path?…&offset=N>; rel="next"`: the request's parameters as sent (any `offset` replaced),
/// with every byte outside the URI's safe set percent-encoded.
pub(super) fn next_link(path: &str, raw: Option<&str>, offset: i64) -> Option<HeaderValue> {
    let mut target = format!("{path}?");
    for pair in raw.unwrap_or("").split('&') {
        if pair.is_empty() || pair == "offset" || pair.starts_with("offset=") {
            continue;
        }
        for b in pair.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~%=+,:@!$'()*/".contains(&b) {
                target.push(char::from(b));
            } else {
                target.push_str(&format!("%{b:02X}"));
            }
        }
        target.push('&');
    }
    target.push_str(&format!("offset={offset}"));
    HeaderValue::from_str(&format!("<{target}>; rel=\"next\"")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_keeps_the_parameters_and_replaces_the_offset() {
        let link = next_link(
            "/api/intakes",
            Some("status=open,escalated&offset=0&limit=2"),
            2,
        );
        assert_eq!(
            link.unwrap().to_str().unwrap(),
            "</api/intakes?status=open,escalated&limit=2&offset=2>; rel=\"next\""
        );
        let link = next_link("/api/intakes", None, 50).unwrap();
        assert_eq!(
            link.to_str().unwrap(),
            "</api/intakes?offset=50>; rel=\"next\""
        );
        let odd = next_link("/api/intakes", Some("q=a>b\"c"), 1).unwrap();
        assert_eq!(
            odd.to_str().unwrap(),
            "</api/intakes?q=a%3Eb%22c&offset=1>; rel=\"next\""
        );
    }

    #[test]
    fn statuses_and_owners_are_checked() {
        assert_eq!(
            statuses(Some("open, escalated,open")).unwrap(),
            vec![IntakeStatus::Open, IntakeStatus::Escalated]
        );
        assert!(statuses(Some("")).unwrap().is_empty());
        assert!(statuses(Some("open,lost")).is_err());
        let me = AgentId::from_string("agent-demo-eva");
        assert_eq!(
            owner(Some("me"), &me, true).unwrap(),
            OwnerFilter::Agent(me.clone())
        );
        assert_eq!(
            owner(Some("none"), &me, false).unwrap(),
            OwnerFilter::Nobody
        );
        assert_eq!(owner(None, &me, false).unwrap(), OwnerFilter::Any);
        assert!(owner(Some("agent-demo-gijs"), &me, false).is_err());
        assert!(owner(Some("agent x"), &me, true).is_err());
    }
}
