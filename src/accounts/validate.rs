//! The one set of rules for account fields (admin pages, REST API and `firstline admin`): what
//! a login, name, extension, role, level, group or vendor name and SIP password may be. No I/O.

use crate::store::ROLES;

/// A value the rules refuse, with a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

/// The shortest SIP password (a phone stores it; digest guessing is rate-limited, but a short
/// one falls to an offline attack on a captured exchange).
pub const SIP_MIN_LEN: usize = 10;
/// The longest SIP password.
pub const SIP_MAX_LEN: usize = 128;

/// A desk login: 1 to 64 characters, no spaces or control characters; stored trimmed.
pub fn login(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty()
        || s.chars().count() > 64
        || s.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "login: 1 to 64 characters without spaces or control characters",
        ));
    }
    Ok(s.to_owned())
}

/// A full name: 1 to 200 characters.
pub fn name(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 200 || s.chars().any(char::is_control) {
        return Err(invalid("name: 1 to 200 characters"));
    }
    Ok(s.to_owned())
}

/// A SIP extension (the phone's user name): 1 to 32 of `0-9 a-z A-Z . - _`; empty means none.
pub fn extension(s: &str) -> Result<Option<String>, Invalid> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let ok = s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        return Err(invalid(
            "extension: 1 to 32 letters, digits, '.', '-' or '_' (the phone's SIP user)",
        ));
    }
    Ok(Some(s.to_owned()))
}

/// A desk role: one of [`ROLES`].
pub fn role(s: &str) -> Result<String, Invalid> {
    if ROLES.contains(&s) {
        return Ok(s.to_owned());
    }
    Err(invalid(format!(
        "role {s:?} is not one of {}",
        ROLES.join(", ")
    )))
}

/// A support level an agent works at: 1 or 2 (the third level is vendors, not accounts).
pub fn level(n: i64) -> Result<i64, Invalid> {
    if (1..=2).contains(&n) {
        return Ok(n);
    }
    Err(invalid("level: 1 or 2"))
}

/// A group or vendor name: 1 to 200 characters without commas (`agents.groups` is a comma list).
pub fn target_name(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.contains(',') || s.chars().count() > 200 || s.chars().any(char::is_control)
    {
        return Err(invalid("name: 1 to 200 characters without commas"));
    }
    Ok(s.to_owned())
}

/// Optional free text of at most `max` characters; blank is none.
pub fn text(field: &str, s: Option<&str>, max: usize) -> Result<Option<String>, Invalid> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > max {
        return Err(invalid(format!("{field}: at most {max} characters")));
    }
    Ok(Some(s.to_owned()))
}

/// A SIP password: [`SIP_MIN_LEN`] to [`SIP_MAX_LEN`] printable ASCII characters (what desk
/// phones accept) that do not contain the extension.
pub fn sip_password(extension: &str, s: &str) -> Result<(), Invalid> {
    let printable = s.chars().all(|c| c.is_ascii_graphic());
    if s.len() < SIP_MIN_LEN || s.len() > SIP_MAX_LEN || !printable {
        return Err(invalid(format!(
            "SIP password: {SIP_MIN_LEN} to {SIP_MAX_LEN} printable ASCII characters without spaces"
        )));
    }
    if s.contains(extension) {
        return Err(invalid("SIP password: must not contain the extension"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_trimmed_bounded_and_refused_with_the_field_named() {
        assert_eq!(login("  olga ").unwrap(), "olga");
        assert!(login("ol ga").unwrap_err().0.starts_with("login"));
        assert!(login(&"x".repeat(65)).is_err());
        assert_eq!(extension(" ").unwrap(), None);
        assert_eq!(extension("2042").unwrap().as_deref(), Some("2042"));
        assert!(extension("20 42").is_err());
        assert!(extension("2042@evil").is_err());
        assert!(
            role("root")
                .unwrap_err()
                .0
                .contains("agent, supervisor, admin")
        );
        assert!(level(3).is_err() && level(0).is_err() && level(2).is_ok());
        assert!(target_name("Net,work").is_err());
        assert_eq!(target_name(" Network ").unwrap(), "Network");
        assert_eq!(text("notes", Some("  "), 10).unwrap(), None);
        assert!(text("notes", Some("12345678901"), 10).is_err());
    }

    #[test]
    fn sip_passwords_are_long_printable_and_not_the_extension() {
        assert!(sip_password("2042", "tulip-lamp-77").is_ok());
        assert!(sip_password("2042", "short").is_err());
        assert!(sip_password("2042", "with space inside").is_err());
        assert!(sip_password("2042", "my-2042-phone").is_err());
    }
}
