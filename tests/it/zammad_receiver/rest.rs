//! The REST API (https://docs.zammad.org/en/latest/api/: intro, ticket/index, ticket/articles,
//! user): the routes the receiver emulates, the token authentication and the `From` header.

use axum::http::{HeaderMap, StatusCode, request::Parts};
use serde_json::{Map, Value};

use super::ZammadConfig;
use super::articles::create_article;
use super::checks::json_object;
use super::encoding::form_pairs;
use super::handler::{Ctx, Handled, Reply, header, zerr};
use super::receiver::State;
use super::render::{article_json, ticket_json, user_json};
use super::tickets::{create_ticket, find_ticket, update_ticket};
use super::users::{create_user, search_users};

enum RestRoute {
    CreateTicket,
    ShowTicket(String),
    UpdateTicket(String),
    CreateArticle,
    ArticlesByTicket(String),
    SearchUsers,
    Me,
    CreateUser,
}

pub(crate) fn rest(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    parts: &Parts,
    segs: &[&str],
    body: &[u8],
) -> Handled {
    let method = parts.method.as_str();
    let route = match (method, segs) {
        ("POST", ["api", "v1", "tickets"]) => RestRoute::CreateTicket,
        ("GET", ["api", "v1", "tickets", id]) if *id != "search" => {
            RestRoute::ShowTicket((*id).into())
        }
        ("PUT", ["api", "v1", "tickets", id]) => RestRoute::UpdateTicket((*id).into()),
        ("POST", ["api", "v1", "ticket_articles"]) => RestRoute::CreateArticle,
        ("GET", ["api", "v1", "ticket_articles", "by_ticket", id]) => {
            RestRoute::ArticlesByTicket((*id).into())
        }
        ("GET", ["api", "v1", "users", "search"]) => RestRoute::SearchUsers,
        ("GET", ["api", "v1", "users", "me"]) => RestRoute::Me,
        ("POST", ["api", "v1", "users"]) => RestRoute::CreateUser,
        _ => {
            let path = parts.uri.path();
            ctx.flag(
                "rest.route",
                format!(
                    "{method} {path} is not an endpoint this receiver emulates (docs/zammad.md)"
                ),
            );
            return Err(zerr(
                StatusCode::NOT_FOUND,
                format!("No route matches [{method}] {path:?}"),
            ));
        }
    };
    authenticate(cfg, ctx, &parts.headers)?;
    on_behalf_of(st, ctx, &parts.headers)?;
    let query = parts
        .uri
        .query()
        .map(form_pairs)
        .transpose()
        .map_err(|e| {
            ctx.flag(
                "rest.query",
                format!("the query string cannot be read: {e}"),
            );
            zerr(StatusCode::BAD_REQUEST, "Bad Request")
        })?
        .unwrap_or_default();
    let expand = query.iter().any(|(k, v)| k == "expand" && v == "true");
    let obj = if matches!(method, "POST" | "PUT") {
        json_object(ctx, &parts.headers, body)?
    } else {
        Map::new()
    };
    match route {
        RestRoute::CreateTicket => create_ticket(cfg, st, ctx, &obj, expand),
        RestRoute::ShowTicket(id) => {
            let i = find_ticket(st, ctx, &id)?;
            Ok((StatusCode::OK, ticket_json(cfg, st, &st.tickets[i], expand)))
        }
        RestRoute::UpdateTicket(id) => update_ticket(cfg, st, ctx, &id, &obj, expand),
        RestRoute::CreateArticle => create_article(st, ctx, &obj),
        RestRoute::ArticlesByTicket(id) => {
            let i = find_ticket(st, ctx, &id)?;
            let t = &st.tickets[i];
            let list = t.articles.iter().map(|a| article_json(a, t.id)).collect();
            Ok((StatusCode::OK, Value::Array(list)))
        }
        RestRoute::SearchUsers => search_users(st, ctx, &query),
        RestRoute::Me => {
            let me = st
                .users
                .iter()
                .find(|u| u.agent)
                .map(user_json)
                .unwrap_or(Value::Null);
            Ok((StatusCode::OK, me))
        }
        RestRoute::CreateUser => create_user(st, ctx, &obj),
    }
}

/// ApplicationController::Authenticates: no credentials → 403 "Authentication required";
/// credentials that match no user → 401.
fn authenticate(cfg: &ZammadConfig, ctx: &mut Ctx, headers: &HeaderMap) -> Result<(), Reply> {
    let Some(value) = header(headers, "authorization") else {
        ctx.flag(
            "rest.auth",
            "no Authorization header (Zammad wants `Token token=<token>` or `Bearer <token>`)",
        );
        return Err(zerr(StatusCode::FORBIDDEN, "Authentication required"));
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        // Rails' token parser takes `Token token=abc`, `Token token="abc"` and `Token abc`.
        "token" => {
            let token = rest
                .strip_prefix("token=")
                .unwrap_or(rest)
                .trim_matches('"');
            if token == cfg.api_token {
                return Ok(());
            }
            ctx.flag("rest.auth", "the API token is not the configured one");
            Err(zerr(StatusCode::UNAUTHORIZED, "Can't find User for Token"))
        }
        "bearer" => {
            if rest == cfg.api_token {
                return Ok(());
            }
            ctx.flag("rest.auth", "the Bearer token is not the configured one");
            Err(zerr(
                StatusCode::UNAUTHORIZED,
                "The provided token is invalid.",
            ))
        }
        "basic" => {
            ctx.flag("rest.auth", "basic authentication: use the API token");
            Err(zerr(
                StatusCode::UNAUTHORIZED,
                "Invalid BasicAuth credentials",
            ))
        }
        other => {
            ctx.flag(
                "rest.auth",
                format!("Authorization scheme {other:?}: use Token or Bearer"),
            );
            Err(zerr(StatusCode::FORBIDDEN, "Authentication required"))
        }
    }
}

/// ApplicationController::HasUser: `From` (or the deprecated `X-On-Behalf-Of`) names a user by
/// id, login or e-mail; an unknown one → 403.
fn on_behalf_of(st: &State, ctx: &mut Ctx, headers: &HeaderMap) -> Result<(), Reply> {
    if header(headers, "x-on-behalf-of").is_some() {
        ctx.flag(
            "rest.on_behalf_of",
            "X-On-Behalf-Of is deprecated: Zammad asks for the From header",
        );
    }
    let Some(who) = header(headers, "from").or_else(|| header(headers, "x-on-behalf-of")) else {
        return Ok(());
    };
    let who_l = who.trim().to_lowercase();
    let found = st.users.iter().any(|u| {
        u.id.to_string() == who_l
            || u.login.to_lowercase() == who_l
            || (!u.email.is_empty() && u.email.to_lowercase() == who_l)
    });
    if found {
        return Ok(());
    }
    ctx.flag(
        "rest.on_behalf_of",
        format!("no user {who:?} (id, login or e-mail) to act for"),
    );
    Err(zerr(StatusCode::FORBIDDEN, format!("No such user '{who}'")))
}
