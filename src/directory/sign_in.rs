//! Desk sign-in with a directory account (issue 13 point 4): the service account finds the
//! person by login attribute (`uid` / `sAMAccountName`), their groups give role and level
//! (`[directory.sign_in]`), and a bind as that person checks the password (RFC 4513 §5.1.2:
//! an empty password would be an unauthenticated bind, so it is refused before any I/O).
//! The login rate limit and the local-account rule live in the login handler.

use super::config::DirectorySection;
use super::ldap::{self, INVALID_CREDENTIALS, LdapFailure};

/// A person the directory vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryAccount {
    /// The login as typed.
    pub login: String,
    /// The person's DN.
    pub dn: String,
    /// Full name (the login when the entry has none).
    pub name: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: &'static str,
    /// 1 or 2.
    pub level: i64,
}

/// How a sign-in ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInResult {
    /// The password is right and the person may use the desk.
    Accepted(DirectoryAccount),
    /// Unknown person, wrong password, or not in an allowed group.
    Refused,
}

/// Longest login looked up.
const MAX_LOGIN: usize = 128;

/// Checks `login` and `password` against the directory.
pub async fn authenticate(
    cfg: &DirectorySection,
    login: &str,
    password: &str,
) -> Result<SignInResult, LdapFailure> {
    if !cfg.enabled() || !cfg.sign_in.enabled {
        return Ok(SignInResult::Refused);
    }
    if password.is_empty() || login.is_empty() || login.len() > MAX_LOGIN {
        return Ok(SignInResult::Refused);
    }
    if login.chars().any(char::is_control) {
        return Ok(SignInResult::Refused);
    }
    let service_password = cfg.bind_password().map_err(LdapFailure::Config)?;
    let mut conn = ldap::connect(cfg).await?;
    conn.bind(
        cfg.bind_dn.trim(),
        service_password.as_deref().unwrap_or_default(),
    )
    .await?;
    let map = cfg.attribute_map();
    // RFC 4515 §3: the login is escaped, so `*` or `)` cannot widen the filter.
    let filter = format!(
        "(&{}({}={}))",
        cfg.people_filter(),
        cfg.login_attribute(),
        ldap3::ldap_escape(login)
    );
    let attrs = vec![map.name.clone(), "memberOf".to_owned()];
    let mut found = Vec::new();
    let mut entries = conn.search(&cfg.base_dn, &filter, &attrs, 10, 2).await?;
    while let Some(e) = entries.next().await.or_else(too_many)? {
        found.push(e);
    }
    drop(entries);
    let [person] = found.as_slice() else {
        conn.close().await;
        return Ok(SignInResult::Refused);
    };
    let mut groups = ldap::values(person, "memberOf");
    let group_base = if cfg.sign_in.group_base_dn.trim().is_empty() {
        cfg.base_dn.clone()
    } else {
        cfg.sign_in.group_base_dn.clone()
    };
    let dn = ldap3::ldap_escape(&person.dn);
    let group_filter = format!(
        "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember={dn})))"
    );
    let mut entries = conn
        .search(&group_base, &group_filter, &["1.1".to_owned()], 200, 10_000)
        .await?;
    while let Some(g) = entries.next().await? {
        groups.push(g.dn);
    }
    drop(entries);
    conn.close().await;

    let member = |list: &[String]| {
        list.iter().any(|want| {
            groups
                .iter()
                .any(|g| g.trim().eq_ignore_ascii_case(want.trim()))
        })
    };
    let s = &cfg.sign_in;
    let role = if member(&s.admin_groups) {
        "admin"
    } else if member(&s.supervisor_groups) {
        "supervisor"
    } else if s.agent_groups.is_empty() || member(&s.agent_groups) {
        "agent"
    } else {
        tracing::info!(login = %login.escape_debug(), "directory sign-in refused: in no allowed group");
        return Ok(SignInResult::Refused);
    };
    let level = if member(&s.level2_groups) { 2 } else { 1 };

    // The password check: a bind as the person, on a connection of its own.
    let mut as_user = ldap::connect(cfg).await?;
    let bound = as_user.bind(&person.dn, password).await;
    as_user.close().await;
    match bound {
        Ok(()) => {}
        Err(LdapFailure::Bind {
            rc: INVALID_CREDENTIALS,
            ..
        }) => return Ok(SignInResult::Refused),
        Err(e) => return Err(e),
    }
    let name = ldap::values(person, &map.name)
        .into_iter()
        .next()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| login.to_owned());
    Ok(SignInResult::Accepted(DirectoryAccount {
        login: login.to_owned(),
        dn: person.dn.clone(),
        name,
        role,
        level,
    }))
}

/// Two people with one login is an ambiguous login: refused, not an error.
fn too_many(e: LdapFailure) -> Result<Option<ldap3::SearchEntry>, LdapFailure> {
    match e {
        LdapFailure::Operation { reason, .. } if reason.contains("max_entries") => Ok(None),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn empty_passwords_and_odd_logins_are_refused_before_any_io() {
        // The URL points nowhere: a refusal proves no connection was tried.
        let cfg: DirectorySection = toml::from_str(
            "url = \"ldap://192.0.2.1:1\"\nbase_dn = \"dc=x\"\n[sign_in]\nenabled = true",
        )
        .unwrap();
        for (login, password) in [("ada", ""), ("", "pw"), ("a\u{0}b", "pw")] {
            assert_eq!(
                authenticate(&cfg, login, password).await.unwrap(),
                SignInResult::Refused,
                "{login:?}"
            );
        }
        let off: DirectorySection =
            toml::from_str("url = \"ldap://192.0.2.1:1\"\nbase_dn = \"dc=x\"").unwrap();
        assert_eq!(
            authenticate(&off, "ada", "pw").await.unwrap(),
            SignInResult::Refused
        );
    }
}
