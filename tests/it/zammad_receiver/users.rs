//! Users over REST: search (GET /users/search, phone numbers also by their digits) and create
//! (POST /users, or a ticket's customer object) with Zammad's identifier and e-mail checks.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::User;
use super::checks::{SEARCH_PARAMS, USER_FIELDS, check_fields, opt_string};
use super::handler::{Ctx, Handled, Reply, UNPROCESSABLE, zerr};
use super::receiver::State;
use super::render::user_json;

/// The receiver's answer to a user without any identifier (its wording, see docs/zammad.md).
const NO_IDENTIFIER: &str =
    "At least one identifier (firstname, lastname, phone, mobile or email) for user is required.";

pub(crate) fn search_users(st: &State, ctx: &mut Ctx, query: &[(String, String)]) -> Handled {
    for (k, _) in query {
        if !SEARCH_PARAMS.split_whitespace().any(|p| p == k) {
            ctx.flag(
                "user.search",
                format!("{k} is not a documented search parameter"),
            );
        }
    }
    let limit = match query.iter().find(|(k, _)| k == "limit") {
        None => usize::MAX,
        Some((_, v)) => v.parse().unwrap_or_else(|_| {
            ctx.flag("user.search", format!("limit {v:?} is not a number"));
            usize::MAX
        }),
    };
    let Some(q) = query
        .iter()
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.trim())
        .filter(|q| !q.is_empty())
    else {
        ctx.flag("user.search", "search without a query");
        return Ok((StatusCode::OK, json!([])));
    };
    let found: Vec<Value> = st
        .users
        .iter()
        .filter(|u| u.id > 1 && user_matches(u, q))
        .take(limit)
        .map(user_json)
        .collect();
    Ok((StatusCode::OK, Value::Array(found)))
}

/// Substring match on the user's names, login, e-mail and phones; a `field:` prefix
/// (Elasticsearch syntax) narrows it; phone numbers also match on their digits alone.
fn user_matches(u: &User, q: &str) -> bool {
    let (field, term) = match q.split_once(':') {
        Some((f, t))
            if ["email", "login", "phone", "mobile", "firstname", "lastname"].contains(&f) =>
        {
            (Some(f), t)
        }
        _ => (None, q),
    };
    let term = term.trim().trim_matches('"').to_lowercase();
    // Leading zeros dropped: a national 030… query still matches a stored +49 30….
    let all_digits: String = term.chars().filter(char::is_ascii_digit).collect();
    let digits = all_digits.trim_start_matches('0');
    let phone_like = digits.len() >= 4
        && term
            .chars()
            .all(|c| c.is_ascii_digit() || " +-/()".contains(c));
    let text = |v: &str| !v.is_empty() && v.to_lowercase().contains(&term);
    let phone = |v: &str| {
        let d: String = v.chars().filter(char::is_ascii_digit).collect();
        text(v)
            || (phone_like
                && !d.is_empty()
                && (d.ends_with(digits) || digits.ends_with(d.as_str())))
    };
    match field {
        Some("email") => text(&u.email),
        Some("login") => text(&u.login),
        Some("phone") => phone(&u.phone),
        Some("mobile") => phone(&u.mobile),
        Some("firstname") => text(&u.firstname),
        Some("lastname") => text(&u.lastname),
        _ => {
            text(&u.firstname)
                || text(&u.lastname)
                || text(&u.login)
                || text(&u.email)
                || phone(&u.phone)
                || phone(&u.mobile)
        }
    }
}

pub(crate) fn create_user(st: &mut State, ctx: &mut Ctx, obj: &Map<String, Value>) -> Handled {
    check_fields(ctx, obj, USER_FIELDS, "user.unknown_field", "user");
    let id = new_user(st, ctx, obj)?;
    let u = st
        .users
        .iter()
        .find(|u| u.id == id)
        .map(user_json)
        .unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, u))
}

/// Creates a user from a body (POST /users, or a ticket's customer object).
pub(crate) fn new_user(
    st: &mut State,
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
) -> Result<u64, Reply> {
    let field = |ctx: &mut Ctx, k: &str| opt_string(ctx, obj, k, "user.type").unwrap_or_default();
    let (firstname, lastname) = (field(ctx, "firstname"), field(ctx, "lastname"));
    let (email, phone, mobile) = (
        field(ctx, "email"),
        field(ctx, "phone"),
        field(ctx, "mobile"),
    );
    let login = field(ctx, "login");
    if [&firstname, &lastname, &email, &phone, &mobile]
        .iter()
        .all(|v| v.trim().is_empty())
    {
        ctx.flag(
            "user.identifier",
            "a user needs a firstname, lastname, phone, mobile or email",
        );
        return Err(zerr(UNPROCESSABLE, NO_IDENTIFIER));
    }
    if !email.is_empty() {
        if !valid_email(&email) {
            ctx.flag("user.email", format!("{email:?} is not a valid e-mail"));
            return Err(zerr(UNPROCESSABLE, format!("Invalid email '{email}'")));
        }
        if st
            .users
            .iter()
            .any(|u| u.email.eq_ignore_ascii_case(&email))
        {
            ctx.flag(
                "user.email_taken",
                format!("a user with e-mail {email:?} exists; search first"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                format!("Email address '{email}' is already used for another user."),
            ));
        }
    }
    let login = if login.is_empty() {
        email.to_lowercase()
    } else {
        login.to_lowercase()
    };
    let id = add_user(st, &login, &email, &phone, &firstname, &lastname);
    if let Some(u) = st.users.iter_mut().find(|u| u.id == id) {
        u.mobile = mobile;
    }
    Ok(id)
}

pub(crate) fn add_user(
    st: &mut State,
    login: &str,
    email: &str,
    phone: &str,
    firstname: &str,
    lastname: &str,
) -> u64 {
    let id = st.users.len() as u64 + 1;
    st.users.push(User {
        id,
        login: if login.is_empty() {
            format!("auto-{id}")
        } else {
            login.to_lowercase()
        },
        email: email.to_owned(),
        phone: phone.to_owned(),
        mobile: String::new(),
        firstname: firstname.to_owned(),
        lastname: lastname.to_owned(),
        agent: false,
    });
    id
}

/// One `@` between a non-empty local part and a dotted domain, no spaces.
pub(crate) fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}
