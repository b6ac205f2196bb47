//! Tickets over REST: create (POST /tickets), update (PUT /tickets/:id), find by id, and the
//! customer by id, `guess:` e-mail, login or object; ticket numbers as Zammad counts them.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::articles::{add_article, parse_article};
use super::checks::{
    PRIORITIES, STATES, TICKET_FIELDS, USER_FIELDS, check_fields, group_table, lookup,
};
use super::handler::{Ctx, Handled, Reply, UNPROCESSABLE, zerr};
use super::receiver::State;
use super::render::ticket_json;
use super::users::{add_user, new_user, valid_email};
use super::{Ticket, ZammadConfig};

pub(crate) fn create_ticket(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    expand: bool,
) -> Handled {
    check_fields(ctx, obj, TICKET_FIELDS, "ticket.unknown_field", "ticket");
    let title = match obj.get("title") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        other => {
            ctx.flag(
                "ticket.title",
                format!("title is required (a non-empty string), got {other:?}"),
            );
            return Err(zerr(UNPROCESSABLE, "Title can't be blank"));
        }
    };
    let groups = group_table(cfg);
    let Some((_, group)) = lookup(ctx, obj, "group", "ticket.group", &groups)? else {
        ctx.flag("ticket.group", "group (or group_id) is required");
        return Err(zerr(UNPROCESSABLE, "Group can't be blank"));
    };
    let (_, state) = lookup(ctx, obj, "state", "ticket.state", STATES)?.unwrap_or((1, "new"));
    check_state_use(ctx, state);
    let (_, priority) =
        lookup(ctx, obj, "priority", "ticket.priority", PRIORITIES)?.unwrap_or((2, "2 normal"));
    let article = match obj.get("article") {
        None => None,
        Some(Value::Object(a)) => Some(parse_article(ctx, a, false)?),
        Some(v) => {
            ctx.flag(
                "ticket.article",
                format!("article must be an object, got {v}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                "Need at least article: { body: \"some text\" }",
            ));
        }
    };
    let Some(customer_id) = resolve_customer(st, ctx, obj)? else {
        ctx.flag(
            "ticket.customer",
            "a ticket needs a customer (customer or customer_id)",
        );
        return Err(zerr(UNPROCESSABLE, "Customer can't be blank"));
    };
    st.ticket_counter += 1;
    let ticket = Ticket {
        id: st.tickets.len() as u64 + 1,
        number: ticket_number(&cfg.system_id, st.ticket_counter),
        title,
        group: group.to_owned(),
        customer: login_of(st, customer_id),
        customer_id,
        state: state.to_owned(),
        priority: priority.to_owned(),
        articles: Vec::new(),
        idempotency_key: None,
    };
    st.tickets.push(ticket);
    let i = st.tickets.len() - 1;
    if let Some(a) = article {
        add_article(st, i, a);
    }
    Ok((
        StatusCode::CREATED,
        ticket_json(cfg, st, &st.tickets[i], expand),
    ))
}

pub(crate) fn update_ticket(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    id: &str,
    obj: &Map<String, Value>,
    expand: bool,
) -> Handled {
    let i = find_ticket(st, ctx, id)?;
    check_fields(ctx, obj, TICKET_FIELDS, "ticket.unknown_field", "ticket");
    let title = match obj.get("title") {
        None => None,
        Some(Value::String(t)) if !t.trim().is_empty() => Some(t.clone()),
        Some(other) => {
            ctx.flag(
                "ticket.title",
                format!("title must be a non-empty string, got {other}"),
            );
            return Err(zerr(UNPROCESSABLE, "Title can't be blank"));
        }
    };
    let groups = group_table(cfg);
    let group = lookup(ctx, obj, "group", "ticket.group", &groups)?;
    let state = lookup(ctx, obj, "state", "ticket.state", STATES)?;
    if let Some((_, s)) = state {
        check_state_use(ctx, s);
    }
    let priority = lookup(ctx, obj, "priority", "ticket.priority", PRIORITIES)?;
    let article = match obj.get("article") {
        None => None,
        Some(Value::Object(a)) => Some(parse_article(ctx, a, false)?),
        Some(v) => {
            ctx.flag(
                "ticket.article",
                format!("article must be an object, got {v}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                "Need at least article: { body: \"some text\" }",
            ));
        }
    };
    let customer_id = resolve_customer(st, ctx, obj)?;
    let customer = customer_id.map(|c| login_of(st, c));
    let t = &mut st.tickets[i];
    if let Some(title) = title {
        t.title = title;
    }
    if let Some((_, g)) = group {
        t.group = g.to_owned();
    }
    if let Some((_, s)) = state {
        t.state = s.to_owned();
    }
    if let Some((_, p)) = priority {
        t.priority = p.to_owned();
    }
    if let (Some(id), Some(login)) = (customer_id, customer) {
        t.customer_id = id;
        t.customer = login;
    }
    if let Some(a) = article {
        add_article(st, i, a);
    }
    Ok((StatusCode::OK, ticket_json(cfg, st, &st.tickets[i], expand)))
}

/// The index of the ticket with database id `id` (a path segment); 404 as Zammad's
/// ActiveRecord::RecordNotFound otherwise.
pub(crate) fn find_ticket(st: &State, ctx: &mut Ctx, id: &str) -> Result<usize, Reply> {
    if let Some(i) = id
        .parse::<u64>()
        .ok()
        .and_then(|n| st.tickets.iter().position(|t| t.id == n))
    {
        return Ok(i);
    }
    let hint = if st.tickets.iter().any(|t| t.number == id) {
        " (that is a ticket number; the API takes the ticket id)"
    } else {
        ""
    };
    ctx.flag(
        "ticket.not_found",
        format!("no ticket with id {id:?}{hint}"),
    );
    Err(zerr(
        StatusCode::NOT_FOUND,
        format!("Couldn't find Ticket with 'id'={id}"),
    ))
}

fn resolve_customer(
    st: &mut State,
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
) -> Result<Option<u64>, Reply> {
    let (by_ref, by_id) = (obj.get("customer"), obj.get("customer_id"));
    if by_ref.is_some() && by_id.is_some() {
        ctx.flag(
            "ticket.customer",
            "both customer and customer_id given; send one",
        );
    }
    if let Some(v) = by_id {
        return match v {
            Value::Number(n) => match n
                .as_u64()
                .and_then(|id| st.users.iter().find(|u| u.id == id))
            {
                Some(u) => {
                    if u.agent || u.id == 1 {
                        ctx.flag(
                            "ticket.customer",
                            format!("customer_id {n} is the API agent or the system user"),
                        );
                    }
                    Ok(Some(u.id))
                }
                None => {
                    ctx.flag("ticket.customer", format!("customer_id {n} is no user"));
                    Err(zerr(
                        UNPROCESSABLE,
                        format!("Invalid value for param 'customer_id': {n}"),
                    ))
                }
            },
            // tickets_controller.rb: "guess:<email>" finds the customer or creates them.
            Value::String(s) if s.starts_with("guess:") => {
                let email = &s["guess:".len()..];
                if !valid_email(email) {
                    ctx.flag(
                        "ticket.customer",
                        format!("customer_id {s:?}: not a valid e-mail"),
                    );
                    return Err(zerr(
                        UNPROCESSABLE,
                        format!("Invalid email '{email}' of customer"),
                    ));
                }
                let found = st
                    .users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(email))
                    .map(|u| u.id);
                Ok(Some(
                    found.unwrap_or_else(|| add_user(st, email, email, "", "", "")),
                ))
            }
            other => {
                ctx.flag(
                    "ticket.customer",
                    format!("customer_id {other}: an integer id or \"guess:<e-mail>\""),
                );
                Err(zerr(
                    UNPROCESSABLE,
                    format!("Invalid value for param 'customer_id': {other}"),
                ))
            }
        };
    }
    match by_ref {
        None => Ok(None),
        // association_name_to_id_convert: a User is looked up by login, then by e-mail.
        Some(Value::String(s)) => {
            let s_l = s.to_lowercase();
            let found = st
                .users
                .iter()
                .find(|u| u.login.to_lowercase() == s_l)
                .or_else(|| {
                    st.users
                        .iter()
                        .find(|u| !u.email.is_empty() && u.email.to_lowercase() == s_l)
                });
            match found {
                Some(u) => Ok(Some(u.id)),
                None => {
                    let hint = if s.starts_with("guess:") {
                        " (the guess: prefix works in customer_id, not in customer)"
                    } else {
                        " (use customer_id \"guess:<e-mail>\" to create them)"
                    };
                    ctx.flag(
                        "ticket.customer",
                        format!("no user with login or e-mail {s:?}{hint}"),
                    );
                    Err(zerr(
                        UNPROCESSABLE,
                        format!("No lookup value found for 'customer': {s:?}"),
                    ))
                }
            }
        }
        // tickets_controller.rb: a customer object is found by id, e-mail or login, or created.
        Some(Value::Object(c)) => {
            check_fields(
                ctx,
                c,
                &format!("id {USER_FIELDS}"),
                "user.unknown_field",
                "user",
            );
            let email = c.get("email").and_then(Value::as_str).unwrap_or("");
            let login = c.get("login").and_then(Value::as_str).unwrap_or("");
            let by_id = c.get("id").and_then(Value::as_u64);
            let found = st.users.iter().find(|u| {
                by_id == Some(u.id)
                    || (!email.is_empty() && u.email.eq_ignore_ascii_case(email))
                    || (!login.is_empty() && u.login.eq_ignore_ascii_case(login))
            });
            match found {
                Some(u) => Ok(Some(u.id)),
                None => new_user(st, ctx, c).map(Some),
            }
        }
        Some(other) => {
            ctx.flag(
                "ticket.customer",
                format!("customer must be a login/e-mail or an object, got {other}"),
            );
            Err(zerr(
                UNPROCESSABLE,
                format!("No lookup value found for 'customer': {other}"),
            ))
        }
    }
}

fn login_of(st: &State, user_id: u64) -> String {
    st.users
        .iter()
        .find(|u| u.id == user_id)
        .map(|u| u.login.clone())
        .unwrap_or_default()
}

fn check_state_use(ctx: &mut Ctx, state: &str) {
    match state {
        "removed" => ctx.flag("ticket.state", "state removed is inactive in Zammad"),
        "merged" => ctx.flag(
            "ticket.state",
            "state merged is set by merging tickets, not by the API",
        ),
        _ => {}
    }
}

/// Ticket::Number::Increment with Zammad's default settings (min_size 5, no checksum):
/// the system id, zeros, the counter.
fn ticket_number(system_id: &str, counter: u64) -> String {
    let c = counter.to_string();
    let mut number = system_id.to_owned();
    while number.len() + c.len() < 5 {
        number.push('0');
    }
    number + &c
}
