//! Articles: checked (body, type, sender, internal, content type, attachments) inside a ticket
//! or on their own (POST /ticket_articles), and stored.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Map, Value};

use super::Article;
use super::checks::{
    ARTICLE_FIELDS, ARTICLE_TYPES, CONTENT_TYPES, SENDERS, check_fields, lookup, opt_string,
};
use super::handler::{Ctx, Handled, Reply, UNPROCESSABLE, zerr};
use super::receiver::State;
use super::render::article_json;
use super::tickets::find_ticket;

/// An article checked but not stored yet.
pub(crate) struct NewArticle {
    subject: Option<String>,
    body: String,
    kind: &'static str,
    sender: &'static str,
    internal: bool,
    content_type: String,
}

/// CreatesTicketArticles#article_create and the article docs.
pub(crate) fn parse_article(
    ctx: &mut Ctx,
    a: &Map<String, Value>,
    standalone: bool,
) -> Result<NewArticle, Reply> {
    if standalone {
        check_fields(
            ctx,
            a,
            &format!("ticket_id {ARTICLE_FIELDS}"),
            "article.unknown_field",
            "article",
        );
    } else {
        check_fields(ctx, a, ARTICLE_FIELDS, "article.unknown_field", "article");
    }
    let body = match a.get("body") {
        Some(Value::String(b)) => {
            if b.trim().is_empty() {
                ctx.flag("article.body", "the article body is empty");
            }
            b.clone()
        }
        other => {
            ctx.flag(
                "article.body",
                format!("an article needs a body (a string), got {other:?}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                "Need at least article: { body: \"some text\" }",
            ));
        }
    };
    let (_, kind) = lookup(ctx, a, "type", "article.type", ARTICLE_TYPES)?.unwrap_or((10, "note"));
    if !matches!(kind, "phone" | "note") {
        ctx.flag(
            "article.type",
            format!("type {kind:?}: firstline records calls as phone and remarks as note articles"),
        );
    }
    let (_, sender) = lookup(ctx, a, "sender", "article.sender", SENDERS)?.unwrap_or((1, "Agent"));
    let internal = match a.get("internal") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            ctx.flag(
                "article.internal",
                format!("internal must be true or false, got {other}"),
            );
            matches!(other.as_str(), Some("true"))
        }
    };
    let content_type = match opt_string(ctx, a, "content_type", "article.content_type") {
        None => "text/plain".to_owned(),
        Some(c) => {
            if !CONTENT_TYPES.contains(&c.as_str()) {
                ctx.flag(
                    "article.content_type",
                    format!("content_type {c:?} is not one of {CONTENT_TYPES:?}"),
                );
            }
            c
        }
    };
    let subject = opt_string(ctx, a, "subject", "article.subject");
    if let Some(list) = a.get("attachments") {
        check_attachments(ctx, list)?;
    }
    Ok(NewArticle {
        subject,
        body,
        kind,
        sender,
        internal,
        content_type,
    })
}

fn check_attachments(ctx: &mut Ctx, list: &Value) -> Result<(), Reply> {
    let Some(items) = list.as_array() else {
        ctx.flag("article.attachments", "attachments must be an array");
        return Err(zerr(UNPROCESSABLE, "attachments must be an array"));
    };
    for (index, item) in items.iter().enumerate() {
        for key in ["mime-type", "filename", "data"] {
            if item.get(key).is_none() {
                ctx.flag(
                    "article.attachments",
                    format!("attachment {index} has no {key}"),
                );
                return Err(zerr(
                    UNPROCESSABLE,
                    format!("Attachment needs '{key}' param for attachment with index '{index}'"),
                ));
            }
        }
        let data: String = item["data"]
            .as_str()
            .unwrap_or("")
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        if base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_err()
        {
            ctx.flag(
                "article.attachments",
                format!("attachment {index}: data is not base64"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                format!("Invalid base64 for attachment with index '{index}'"),
            ));
        }
    }
    Ok(())
}

pub(crate) fn add_article(st: &mut State, ticket: usize, a: NewArticle) -> Article {
    let article = Article {
        id: st.next_article_id,
        subject: a.subject,
        body: a.body,
        kind: a.kind.to_owned(),
        sender: a.sender.to_owned(),
        internal: a.internal,
        content_type: a.content_type,
    };
    st.next_article_id += 1;
    st.tickets[ticket].articles.push(article.clone());
    article
}

pub(crate) fn create_article(st: &mut State, ctx: &mut Ctx, obj: &Map<String, Value>) -> Handled {
    // ticket_articles_controller.rb: Ticket.find(params[:ticket_id]) comes first.
    let id = match obj.get("ticket_id") {
        None | Some(Value::Null) => {
            ctx.flag("article.ticket_id", "ticket_id is required");
            return Err(zerr(
                StatusCode::NOT_FOUND,
                "Couldn't find Ticket without an ID",
            ));
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => {
            ctx.flag(
                "article.ticket_id",
                format!("ticket_id should be a JSON integer, got the string {s:?}"),
            );
            s.clone()
        }
        Some(other) => {
            ctx.flag(
                "article.ticket_id",
                format!("ticket_id must be an integer, got {other}"),
            );
            other.to_string()
        }
    };
    let i = find_ticket(st, ctx, &id)?;
    let a = parse_article(ctx, obj, true)?;
    let ticket_id = st.tickets[i].id;
    let article = add_article(st, i, a);
    Ok((StatusCode::CREATED, article_json(&article, ticket_id)))
}
