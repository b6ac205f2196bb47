//! Phone-number normalisation to E.164 (ITU-T E.164, RFC 3966 `tel:` forms); pure, no I/O.
//!
//! Caller numbers are normalised once, at the edge, with a configured default country code
//! (`"31"` for the Netherlands). What cannot be normalised (anonymous, extensions, letters) is
//! an error here; keeping such a number as it came is the caller's decision (the call layer
//! stores the raw user part in `calls.caller` then).

use std::fmt;

use serde::Serialize;

/// E.164 allows at most 15 digits, country code included (ITU-T E.164 §6.1).
const MAX_DIGITS: usize = 15;
/// The shortest numbers in service (4-digit subscriber numbers behind a 3-digit country code).
const MIN_DIGITS: usize = 7;

/// A phone number in E.164 form: `+` and 7 to 15 digits, e.g. `+31201234567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    /// The number with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The owned string, e.g. to store it.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a string is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing left after stripping the scheme, parameters and separators.
    #[error("empty phone number")]
    Empty,
    /// The caller withheld the number (`anonymous`, `restricted`, …; RFC 3323 §4.1.1.3).
    #[error("anonymous caller {0:?}")]
    Anonymous(String),
    /// A character that is neither a digit, a leading `+` nor a visual separator.
    #[error("invalid character {ch:?} in phone number {input:?}")]
    InvalidCharacter {
        /// The offending character.
        ch: char,
        /// The input as given.
        input: String,
    },
    /// Digits without `+`, `00` or a national trunk `0`, e.g. an internal extension.
    #[error("phone number {0:?} has no international or national prefix")]
    Unqualified(String),
    /// Fewer digits than any number in service.
    #[error("phone number {input:?} is too short ({digits} digits)")]
    TooShort {
        /// The input as given.
        input: String,
        /// Digits counted, country code included.
        digits: usize,
    },
    /// More than the 15 digits E.164 allows.
    #[error("phone number {input:?} is too long ({digits} digits, E.164 allows 15)")]
    TooLong {
        /// The input as given.
        input: String,
        /// Digits counted, country code included.
        digits: usize,
    },
    /// Country codes never start with 0 (ITU-T E.164 §6.2.1).
    #[error("phone number {0:?} has a country code starting with 0")]
    ZeroCountryCode(String),
    /// The configured default country code is not 1 to 3 digits.
    #[error("default country code {0:?} must be 1 to 3 digits")]
    BadDefaultCountry(String),
}

/// Words phones and carriers put in place of a withheld number.
const ANONYMOUS: &[&str] = &[
    "anonymous",
    "restricted",
    "private",
    "unknown",
    "unavailable",
];

/// Normalises `raw` to E.164, reading national numbers (trunk prefix `0`) as in
/// `default_country_code` (digits only, e.g. `"31"`).
///
/// Accepts `+31 20 123 4567`, `+31 (0)20 123 4567`, `0031201234567`, `020-1234567`,
/// `(020) 123 45 67`, `tel:+31-20-123-4567`, and `sip:`/`tel:` user parts with parameters
/// such as `+31201234567;phone-context=…` or `1234567;phone-context=+3120` (RFC 3966 §5.1.5).
/// Bare digits are accepted only when they start with the default country code and are long
/// enough to be an international number (some carriers drop the `+`).
pub fn normalize(raw: &str, default_country_code: &str) -> Result<E164, PhoneError> {
    if default_country_code.is_empty()
        || default_country_code.len() > 3
        || !default_country_code.bytes().all(|b| b.is_ascii_digit())
        || default_country_code.starts_with('0')
    {
        return Err(PhoneError::BadDefaultCountry(
            default_country_code.to_owned(),
        ));
    }
    let (number, context) = strip_uri(raw.trim());
    if ANONYMOUS.iter().any(|w| number.eq_ignore_ascii_case(w)) {
        return Err(PhoneError::Anonymous(raw.to_owned()));
    }
    let (plus, digits) = clean(number, raw)?;
    if digits.is_empty() {
        return Err(if plus {
            PhoneError::TooShort {
                input: raw.to_owned(),
                digits: 0,
            }
        } else {
            PhoneError::Empty
        });
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("{default_country_code}{rest}")
    } else if let Some(ctx) = context.and_then(global_context_digits) {
        // RFC 3966 §5.1.5: a local number is qualified by a global-number phone-context.
        format!("{ctx}{digits}")
    } else if digits.starts_with(default_country_code) && digits.len() >= MIN_DIGITS + 3 {
        digits
    } else {
        return Err(PhoneError::Unqualified(raw.to_owned()));
    };
    if international.starts_with('0') {
        return Err(PhoneError::ZeroCountryCode(raw.to_owned()));
    }
    match international.len() {
        n if n < MIN_DIGITS => Err(PhoneError::TooShort {
            input: raw.to_owned(),
            digits: n,
        }),
        n if n > MAX_DIGITS => Err(PhoneError::TooLong {
            input: raw.to_owned(),
            digits: n,
        }),
        _ => Ok(E164(format!("+{international}"))),
    }
}

/// Strips a `tel:`/`sip:`/`sips:` scheme, the host part and `;` parameters; returns the number
/// and the `phone-context` value if there is one.
fn strip_uri(s: &str) -> (&str, Option<&str>) {
    let mut rest = s;
    for scheme in ["tel:", "sip:", "sips:"] {
        // `get` (not indexing): the input may have a multi-byte character at the boundary.
        if let Some(head) = rest
            .get(..scheme.len())
            .filter(|h| h.eq_ignore_ascii_case(scheme))
        {
            rest = rest.get(head.len()..).unwrap_or_default();
            break;
        }
    }
    // RFC 3261 §19.1.1: user part ends at '@'; RFC 3966 §3: parameters follow ';'.
    let rest = rest.split('@').next().unwrap_or(rest);
    let mut parts = rest.split(';');
    let number = parts.next().unwrap_or(rest).trim();
    let context = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("phone-context")
            .then_some(value.trim())
    });
    (number, context)
}

/// `+3120` or `+31-20` → `3120`; a domain-name context (`example.com`) gives `None`.
fn global_context_digits(ctx: &str) -> Option<String> {
    let body = ctx.strip_prefix('+')?;
    let digits: String = body.chars().filter(|c| !is_separator(*c)).collect();
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// RFC 3966 §3 visual separators, plus spaces people type.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}' | '/')
}

/// Drops separators and an international-form trunk `(0)`; returns (leading plus, digits).
fn clean(number: &str, raw: &str) -> Result<(bool, String), PhoneError> {
    let (plus, body) = match number.strip_prefix('+') {
        Some(b) => (true, b),
        None => (false, number),
    };
    // "+31 (0)20 …" is a common Dutch and Belgian business-card form: the (0) is not dialled.
    let body = if plus || body.starts_with("00") {
        body.replacen("(0)", "", 1)
    } else {
        body.to_owned()
    };
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !is_separator(c) {
            return Err(PhoneError::InvalidCharacter {
                ch: c,
                input: raw.to_owned(),
            });
        }
    }
    Ok((plus, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl(raw: &str) -> Result<String, PhoneError> {
        normalize(raw, "31").map(E164::into_string)
    }

    #[test]
    fn international_forms() {
        assert_eq!(nl("+31201234567").unwrap(), "+31201234567");
        assert_eq!(nl("+31 20 123 4567").unwrap(), "+31201234567");
        assert_eq!(nl("  +31 (0)20 123 4567 ").unwrap(), "+31201234567");
        assert_eq!(nl("0031201234567").unwrap(), "+31201234567");
        assert_eq!(nl("0032 2 123 45 67").unwrap(), "+3221234567");
        assert_eq!(nl("+32 (0)2 123 45 67").unwrap(), "+3221234567");
    }

    #[test]
    fn national_forms_use_default_country() {
        assert_eq!(nl("020-1234567").unwrap(), "+31201234567");
        assert_eq!(nl("(020) 123 45 67").unwrap(), "+31201234567");
        assert_eq!(nl("06-12345678").unwrap(), "+31612345678");
        assert_eq!(nl("020.123.45.67").unwrap(), "+31201234567");
        assert_eq!(
            normalize("02 123 45 67", "32").unwrap().as_str(),
            "+3221234567"
        );
    }

    #[test]
    fn uri_user_parts() {
        assert_eq!(nl("tel:+31-20-123-4567").unwrap(), "+31201234567");
        assert_eq!(
            nl("sip:+31201234567@example.nl;user=phone").unwrap(),
            "+31201234567"
        );
        assert_eq!(
            nl("+31201234567;phone-context=example.nl").unwrap(),
            "+31201234567"
        );
        assert_eq!(nl("SIP:0201234567@10.0.0.1").unwrap(), "+31201234567");
        assert_eq!(
            nl("tel:1234567;phone-context=+31-20").unwrap(),
            "+31201234567"
        );
    }

    #[test]
    fn bare_digits_with_country_code() {
        assert_eq!(nl("31201234567").unwrap(), "+31201234567");
        assert_eq!(
            nl("201234567"),
            Err(PhoneError::Unqualified("201234567".into()))
        );
    }

    #[test]
    fn display_and_as_str_agree() {
        let n = normalize("020 123 4567", "31").unwrap();
        assert_eq!(n.to_string(), "+31201234567");
        assert_eq!(n.as_str(), "+31201234567");
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert_eq!(nl(""), Err(PhoneError::Empty));
        assert_eq!(nl(" - "), Err(PhoneError::Empty));
        assert_eq!(nl("sip:@example.nl"), Err(PhoneError::Empty));
        assert_eq!(
            nl("anonymous"),
            Err(PhoneError::Anonymous("anonymous".into()))
        );
        assert_eq!(
            nl("sip:Anonymous@anonymous.invalid"),
            Err(PhoneError::Anonymous(
                "sip:Anonymous@anonymous.invalid".into()
            ))
        );
        assert_eq!(
            nl("020-CALLME1"),
            Err(PhoneError::InvalidCharacter {
                ch: 'C',
                input: "020-CALLME1".into()
            })
        );
        assert!(matches!(
            nl("+31 20 1234567 x12"),
            Err(PhoneError::InvalidCharacter { ch: 'x', .. })
        ));
        assert_eq!(nl("1001"), Err(PhoneError::Unqualified("1001".into())));
        assert_eq!(
            nl("+"),
            Err(PhoneError::TooShort {
                input: "+".into(),
                digits: 0
            })
        );
        assert_eq!(
            nl("+3120"),
            Err(PhoneError::TooShort {
                input: "+3120".into(),
                digits: 4
            })
        );
        assert_eq!(
            nl("0112"),
            Err(PhoneError::TooShort {
                input: "0112".into(),
                digits: 5
            })
        );
        assert_eq!(
            nl("+31 20 1234 5678 9012"),
            Err(PhoneError::TooLong {
                input: "+31 20 1234 5678 9012".into(),
                digits: 16
            })
        );
        assert_eq!(
            nl("+0201234567"),
            Err(PhoneError::ZeroCountryCode("+0201234567".into()))
        );
        assert_eq!(
            nl("000201234567"),
            Err(PhoneError::ZeroCountryCode("000201234567".into()))
        );
    }

    #[test]
    fn fifteen_digits_is_the_limit() {
        assert_eq!(nl("+123456789012345").unwrap(), "+123456789012345");
        assert!(matches!(
            nl("+1234567890123456"),
            Err(PhoneError::TooLong { digits: 16, .. })
        ));
    }

    #[test]
    fn default_country_must_be_digits() {
        for bad in ["", "+31", "3a", "0", "1234"] {
            assert_eq!(
                normalize("0201234567", bad),
                Err(PhoneError::BadDefaultCountry(bad.into()))
            );
        }
    }

    #[test]
    fn non_ascii_input_is_an_error_not_a_panic() {
        assert!(matches!(
            nl("020 ١٢٣٤٥٦٧"),
            Err(PhoneError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            nl("téléphone"),
            Err(PhoneError::InvalidCharacter { .. })
        ));
        assert!(nl("sİp:+31201234567").is_err());
    }
}
