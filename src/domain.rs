//! Domain types shared by every layer: typed IDs, category, priority, language, DTMF mode.
//!
//! Wire strings become these types once, at the edge; nothing deeper passes raw strings around.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Error for a string that is not a valid value of one of the domain enums.
#[derive(Debug, thiserror::Error)]
#[error("{what} {value:?} is not valid (expected {expected})")]
pub struct ParseDomainError {
    what: &'static str,
    value: String,
    expected: &'static str,
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id with the type's prefix (e.g. `call-…`).
            pub fn new_random() -> Self {
                Self(format!(concat!($prefix, "-{:016x}"), rand::random::<u64>()))
            }
            /// Wraps an id read from the database or the wire.
            pub fn from_string(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            /// The id as stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// One hotline call (one caller leg), `calls.id`.
    CallId,
    "call"
);
text_id!(
    /// One intake record (the ticket the first level works on), `intakes.id`.
    IntakeId,
    "intake"
);
text_id!(
    /// A known customer, `customers.id`.
    CustomerId,
    "cust"
);
text_id!(
    /// An agent, `agents.id`.
    AgentId,
    "agent"
);

/// The kind of problem the caller chose in the IVR; also the queue name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Hardware,
    Software,
    Service,
    /// The caller skipped the question or failed it three times.
    Unclassified,
}

impl Category {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Hardware => "hardware",
            Category::Software => "software",
            Category::Service => "service",
            Category::Unclassified => "unclassified",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = ParseDomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hardware" => Ok(Category::Hardware),
            "software" => Ok(Category::Software),
            "service" => Ok(Category::Service),
            "unclassified" => Ok(Category::Unclassified),
            _ => Err(ParseDomainError {
                what: "category",
                value: s.to_owned(),
                expected: "hardware, software, service or unclassified",
            }),
        }
    }
}

/// Priority 1 (business-critical: work has stopped) to 5 (a question, nothing is disrupted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Priority(u8);

impl Priority {
    /// Business-critical: work has stopped.
    pub const CRITICAL: Priority = Priority(1);
    /// A question; nothing is disrupted.
    pub const QUESTION: Priority = Priority(5);

    /// `Some` for 1..=5.
    pub fn new(level: u8) -> Option<Self> {
        (1..=5).contains(&level).then_some(Priority(level))
    }
    /// The level, 1..=5.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Priority {
    type Error = ParseDomainError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Priority::new(v).ok_or(ParseDomainError {
            what: "priority",
            value: v.to_string(),
            expected: "1 to 5",
        })
    }
}

impl From<Priority> for u8 {
    fn from(p: Priority) -> u8 {
        p.0
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The language the caller is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Nl,
    En,
}

impl Language {
    /// The stored name and the prompt folder name (`ivr-prompts/nl/…`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::En => "en",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = ParseDomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nl" => Ok(Language::Nl),
            "en" => Ok(Language::En),
            _ => Err(ParseDomainError {
                what: "language",
                value: s.to_owned(),
                expected: "nl or en",
            }),
        }
    }
}

/// Where a DTMF digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RFC 4733 telephone-event in RTP.
    Rfc4733,
    /// SIP INFO (`application/dtmf-relay` or `application/dtmf`).
    Info,
    /// In-band tones in the audio (Goertzel).
    Inband,
}

impl DtmfMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DtmfMode::Rfc4733 => "rfc4733",
            DtmfMode::Info => "info",
            DtmfMode::Inband => "inband",
        }
    }
}

impl fmt::Display for DtmfMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an agent answers hotline calls: a registered SIP phone, or the softphone in the desk
/// (WebRTC). A per-agent setting (`agents.device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The agent's registered SIP phone (their extension).
    #[default]
    Phone,
    /// The browser softphone in the agent desk.
    Browser,
}

impl Device {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Phone => "phone",
            Device::Browser => "browser",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<Device> {
        match s {
            "phone" => Some(Device::Phone),
            "browser" => Some(Device::Browser),
            _ => None,
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_bounds() {
        assert!(Priority::new(0).is_none());
        assert_eq!(Priority::new(1), Some(Priority::CRITICAL));
        assert_eq!(Priority::new(5), Some(Priority::QUESTION));
        assert!(Priority::new(6).is_none());
    }

    #[test]
    fn category_round_trip() {
        for c in [
            Category::Hardware,
            Category::Software,
            Category::Service,
            Category::Unclassified,
        ] {
            assert_eq!(c.as_str().parse::<Category>().ok(), Some(c));
        }
        assert!("printer".parse::<Category>().is_err());
    }

    #[test]
    fn ids_have_prefix() {
        let id = CallId::new_random();
        assert!(id.as_str().starts_with("call-"));
        assert_ne!(id, CallId::new_random());
    }
}
