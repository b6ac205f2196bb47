//! Caller identification: the number from P-Asserted-Identity, else From, normalised to E.164.

use crate::phone;
use crate::sip::IncomingCall;

/// Who is calling, as far as signalling tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// E.164 (`+31…`) when the number could be normalised, else the number as it came.
    pub number: String,
    /// True when `number` is E.164 and worth looking up in `customers`.
    pub normalised: bool,
    /// The display name the phone sent, if any.
    pub display_name: Option<String>,
}

/// Picks and normalises the caller's number (RFC 3325 P-Asserted-Identity wins over From).
pub fn identify_caller(call: &IncomingCall, default_country_code: &str) -> CallerIdentity {
    let source = call
        .asserted_identity
        .as_ref()
        .filter(|pai| pai.user.as_deref().is_some_and(|u| !u.is_empty()))
        .unwrap_or(&call.from);
    let display_name = source
        .display
        .clone()
        .or_else(|| call.from.display.clone())
        .filter(|d| !d.trim().is_empty());
    let raw = source.user.clone().unwrap_or_default();
    from_raw(&raw, display_name, default_country_code)
}

fn from_raw(raw: &str, display_name: Option<String>, cc: &str) -> CallerIdentity {
    match phone::normalize(raw, cc) {
        Ok(e164) => CallerIdentity {
            number: e164.to_string(),
            normalised: true,
            display_name,
        },
        Err(_) => CallerIdentity {
            // Unknown formats are kept as they are (anonymous, extensions, names).
            number: if raw.is_empty() {
                "anonymous".to_owned()
            } else {
                raw.to_owned()
            },
            normalised: false,
            display_name,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_number_is_normalised() {
        let id = from_raw("0201234567", None, "31");
        assert_eq!(id.number, "+31201234567");
        assert!(id.normalised);
    }

    #[test]
    fn unknown_forms_are_kept() {
        let id = from_raw("alice", Some("Alice".into()), "31");
        assert_eq!(id.number, "alice");
        assert!(!id.normalised);
        assert_eq!(from_raw("", None, "31").number, "anonymous");
    }
}
