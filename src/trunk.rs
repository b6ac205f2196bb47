//! `[trunk]`: the SIP trunk for calls to the outside (a carrier or the company PBX): where it is,
//! the credentials it challenges with, the caller-id we present, how a customer's E.164 number is
//! dialled through it, and the callback dialling rules. Checked once at start; no I/O but
//! reading the password file.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use serde::Deserialize;

use crate::sip::{TrunkAuth, TrunkRoute};

/// How a number goes to the trunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberFormat {
    /// `+31201234567` (most carriers).
    #[default]
    E164,
    /// `0031201234567`.
    International,
    /// `0201234567` inside our own country, `00…` abroad (a PBX's outside line).
    National,
}

/// What a callback does once the agent's phone answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackDial {
    /// Dial the customer through the trunk and bridge them with the agent.
    #[default]
    Auto,
    /// Play the agent the "callback" notice; the agent dials by hand.
    Manual,
}

/// `[trunk]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrunkSection {
    /// Empty: no trunk (callbacks are handed to the agent to dial; no click-to-call).
    pub address: String,
    /// Only `udp` so far.
    pub transport: String,
    /// Host of the Request-URI, To and From; empty: the address's host.
    pub domain: String,
    /// Digest user name, when the trunk challenges.
    pub username: String,
    /// A file holding the digest password (first line); wins over `password_env`.
    pub password_file: String,
    /// An environment variable holding the digest password.
    pub password_env: String,
    /// The number we present (From and P-Asserted-Identity), E.164.
    pub caller_id: String,
    /// The name we present.
    pub caller_name: String,
    /// How customers' numbers are dialled.
    pub number_format: NumberFormat,
    /// Digits put before every dialled number (an outside-line prefix on a PBX).
    pub prefix: String,
    /// How long the customer's phone may ring.
    pub ring_timeout_secs: u64,
    /// Callbacks dialled automatically, or handed to the agent.
    pub callbacks: CallbackDial,
    /// Dial attempts of one callback before it is given up (`failed`).
    pub callback_attempts: u32,
    /// The pause before the next attempt after no answer, busy or a trunk failure.
    pub callback_retry_secs: u64,
    /// Register to the trunk (digest with `username`), for carriers that want it.
    pub register: bool,
    /// The expiry asked for when registering.
    pub register_expires_secs: u64,
}

impl Default for TrunkSection {
    fn default() -> Self {
        TrunkSection {
            address: String::new(),
            transport: "udp".into(),
            domain: String::new(),
            username: String::new(),
            password_file: String::new(),
            password_env: String::new(),
            caller_id: String::new(),
            caller_name: "IT helpdesk".into(),
            number_format: NumberFormat::E164,
            prefix: String::new(),
            ring_timeout_secs: 30,
            callbacks: CallbackDial::Auto,
            callback_attempts: 3,
            callback_retry_secs: 300,
            register: false,
            register_expires_secs: 600,
        }
    }
}

/// A problem in `[trunk]`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("[trunk] {setting}: {reason}")]
pub struct TrunkConfigError {
    /// The setting.
    pub setting: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn bad(setting: &'static str, reason: impl Into<String>) -> TrunkConfigError {
    TrunkConfigError {
        setting,
        reason: reason.into(),
    }
}

/// The checked trunk the call tasks dial through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// Where INVITEs go, and with which credentials.
    pub route: TrunkRoute,
    /// Presented number (E.164).
    pub caller_id: String,
    /// Presented name.
    pub caller_name: String,
    format: NumberFormat,
    prefix: String,
    country_code: String,
    /// How long the customer may ring.
    pub ring_timeout: Duration,
    /// Callback dialling.
    pub callbacks: CallbackDial,
    /// Attempts per callback.
    pub callback_attempts: u32,
    /// Pause between attempts.
    pub callback_retry: Duration,
    /// What to register as, when `register` is on: the account and the expiry asked for.
    pub register: Option<crate::sip::TrunkRegistration>,
}

impl TrunkSection {
    /// The trunk, `None` when none is configured; `country_code` is `[numbers]`'s.
    pub fn check(&self, country_code: &str) -> Result<Option<Trunk>, TrunkConfigError> {
        if self.address.trim().is_empty() {
            return Ok(None);
        }
        if !self.transport.eq_ignore_ascii_case("udp") {
            return Err(bad("transport", "only \"udp\" is supported"));
        }
        let addr = resolve(self.address.trim())?;
        let domain = match self.domain.trim() {
            "" => addr_host(self.address.trim()),
            d if d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)) =>
            {
                d.to_string()
            }
            d => return Err(bad("domain", format!("{d:?} is not a host name"))),
        };
        let caller_id = crate::phone::normalize(&self.caller_id, country_code)
            .map_err(|_| {
                bad(
                    "caller_id",
                    format!("{:?} is not a phone number", self.caller_id),
                )
            })?
            .into_string();
        if !self.prefix.bytes().all(|b| b.is_ascii_digit()) || self.prefix.len() > 4 {
            return Err(bad("prefix", "up to 4 digits"));
        }
        if !(5..=300).contains(&self.ring_timeout_secs) {
            return Err(bad("ring_timeout_secs", "5 to 300"));
        }
        if !(1..=10).contains(&self.callback_attempts) {
            return Err(bad("callback_attempts", "1 to 10"));
        }
        if !(10..=86_400).contains(&self.callback_retry_secs) {
            return Err(bad("callback_retry_secs", "10 to 86400"));
        }
        if !(60..=86_400).contains(&self.register_expires_secs) {
            return Err(bad("register_expires_secs", "60 to 86400"));
        }
        if self.register && self.username.is_empty() {
            return Err(bad("register", "needs username (and its password)"));
        }
        let route = TrunkRoute {
            addr,
            domain,
            auth: self.auth()?,
        };
        let register = self.register.then(|| crate::sip::TrunkRegistration {
            route: route.clone(),
            user: self.username.clone(),
            expires: u32::try_from(self.register_expires_secs).unwrap_or(600),
        });
        Ok(Some(Trunk {
            route,
            register,
            caller_id,
            caller_name: self
                .caller_name
                .chars()
                .filter(|c| !c.is_control())
                .collect(),
            format: self.number_format,
            prefix: self.prefix.clone(),
            country_code: country_code.to_string(),
            ring_timeout: Duration::from_secs(self.ring_timeout_secs),
            callbacks: self.callbacks,
            callback_attempts: self.callback_attempts,
            callback_retry: Duration::from_secs(self.callback_retry_secs),
        }))
    }

    fn auth(&self) -> Result<Option<TrunkAuth>, TrunkConfigError> {
        if self.username.is_empty() {
            return Ok(None);
        }
        let password = if !self.password_file.is_empty() {
            let text = std::fs::read_to_string(&self.password_file)
                .map_err(|e| bad("password_file", format!("{}: {e}", self.password_file)))?;
            text.lines().next().unwrap_or("").to_string()
        } else if !self.password_env.is_empty() {
            std::env::var(&self.password_env)
                .map_err(|_| bad("password_env", format!("{} is not set", self.password_env)))?
        } else {
            return Err(bad(
                "username",
                "set password_file or password_env for its password",
            ));
        };
        Ok(Some(TrunkAuth {
            username: self.username.clone(),
            password,
        }))
    }
}

fn resolve(address: &str) -> Result<SocketAddr, TrunkConfigError> {
    let has_port = address.parse::<SocketAddr>().is_ok()
        || address
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok());
    let with_port = if has_port {
        address.to_string()
    } else {
        format!("{address}:5060")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| bad("address", format!("{address:?} does not resolve")))
}

fn addr_host(address: &str) -> String {
    match address.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(a)) => a.ip().to_string(),
        Ok(SocketAddr::V6(a)) => format!("[{}]", a.ip()),
        Err(_) => address
            .rsplit_once(':')
            .map_or(address, |(h, _)| h)
            .to_string(),
    }
}

impl Trunk {
    /// The customer's number (E.164, or national as stored) as the trunk dials it; `None` for
    /// something that is not a phone number (an extension name, `anonymous`).
    pub fn dial_string(&self, number: &str) -> Option<String> {
        let e164 = crate::phone::normalize(number, &self.country_code).ok()?;
        let digits = e164.as_str().trim_start_matches('+');
        let body = match self.format {
            NumberFormat::E164 => format!("+{digits}"),
            NumberFormat::International => format!("00{digits}"),
            NumberFormat::National => match digits.strip_prefix(self.country_code.as_str()) {
                Some(national) => format!("0{national}"),
                None => format!("00{digits}"),
            },
        };
        Some(format!("{}{body}", self.prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(f: impl FnOnce(&mut TrunkSection)) -> TrunkSection {
        let mut s = TrunkSection {
            address: "127.0.0.1:5080".into(),
            caller_id: "020 123 4500".into(),
            ..TrunkSection::default()
        };
        f(&mut s);
        s
    }

    #[test]
    fn numbers_are_dialled_in_the_trunks_format() {
        let t = section(|_| {}).check("31").unwrap().unwrap();
        assert_eq!(t.caller_id, "+31201234500");
        assert_eq!(t.route.domain, "127.0.0.1");
        assert_eq!(
            t.dial_string("+31201234567").as_deref(),
            Some("+31201234567")
        );
        assert_eq!(t.dial_string("0201234567").as_deref(), Some("+31201234567"));
        let nat = section(|s| {
            s.number_format = NumberFormat::National;
            s.prefix = "9".into();
        })
        .check("31")
        .unwrap()
        .unwrap();
        assert_eq!(
            nat.dial_string("+31201234567").as_deref(),
            Some("90201234567")
        );
        assert_eq!(
            nat.dial_string("+3227001234").as_deref(),
            Some("9003227001234")
        );
        let int = section(|s| s.number_format = NumberFormat::International)
            .check("31")
            .unwrap()
            .unwrap();
        assert_eq!(
            int.dial_string("+31201234567").as_deref(),
            Some("0031201234567")
        );
        assert_eq!(t.dial_string("anonymous"), None);
        assert_eq!(t.dial_string("2001; drop"), None);
    }

    #[test]
    fn no_address_is_no_trunk_and_bad_settings_are_named() {
        assert_eq!(TrunkSection::default().check("31"), Ok(None));
        let e = |f: fn(&mut TrunkSection)| section(f).check("31").unwrap_err().setting;
        assert_eq!(e(|s| s.transport = "tls".into()), "transport");
        assert_eq!(e(|s| s.caller_id = "hotline".into()), "caller_id");
        assert_eq!(e(|s| s.prefix = "9a".into()), "prefix");
        assert_eq!(e(|s| s.username = "hotline".into()), "username");
        assert_eq!(e(|s| s.callback_attempts = 0), "callback_attempts");
        assert_eq!(e(|s| s.domain = "a b".into()), "domain");
        assert_eq!(
            e(|s| {
                s.username = "hotline".into();
                s.password_env = "FIRSTLINE_TEST_UNSET_TRUNK_PASSWORD".into();
            }),
            "password_env"
        );
    }

    #[test]
    fn the_password_comes_from_its_file_and_never_shows_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trunk.pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let t = section(|s| {
            s.username = "hotline".into();
            s.password_file = path.display().to_string();
            s.domain = "sip.carrier.example".into();
        })
        .check("31")
        .unwrap()
        .unwrap();
        let auth = t.route.auth.clone().unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("hotline", "s3cret")
        );
        assert_eq!(t.route.domain, "sip.carrier.example");
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
