//! `[integrations]`: where intakes and call events are handed off (generic webhooks, Request
//! Tracker, Zammad), how deliveries are retried, and the secrets, which come from environment
//! variables or files only and are never logged ([`Secret`]). No I/O except reading secrets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `[integrations]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationsSection {
    /// The desk's address as agents reach it (`https://helpdesk.example.com`), for the link back
    /// to the intake in tickets and webhooks; default: the HTTP listen address.
    pub public_url: Option<String>,
    /// Retries of failed deliveries.
    pub retry: RetrySettings,
    /// Days a delivered row is kept (for the admin page and audits) before it is purged.
    pub keep_delivered_days: u64,
    /// `[[integrations.webhook]]`: JSON events signed with HMAC-SHA256.
    pub webhook: Vec<WebhookTarget>,
    /// `[[integrations.rt]]`: Request Tracker 5 over its REST 2.0 API.
    pub rt: Vec<RtTarget>,
    /// `[[integrations.zammad]]`: Zammad's Generic CTI and REST API.
    pub zammad: Vec<ZammadTarget>,
}

impl Default for IntegrationsSection {
    fn default() -> Self {
        IntegrationsSection {
            public_url: None,
            retry: RetrySettings::default(),
            keep_delivered_days: 7,
            webhook: Vec::new(),
            rt: Vec::new(),
            zammad: Vec::new(),
        }
    }
}

/// `[integrations.retry]`: exponential back-off with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    /// The first wait after a failed attempt, in milliseconds; it doubles per attempt.
    pub first_ms: u64,
    /// The longest wait between attempts, in milliseconds.
    pub max_ms: u64,
    /// Attempts before a row is given up (dead); the defaults ride out about a day's outage.
    pub max_attempts: u32,
    /// Seconds a receiver has to answer one request.
    pub timeout_secs: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            first_ms: 2000,
            max_ms: 900_000,
            max_attempts: 100,
            timeout_secs: 10,
        }
    }
}

/// `[[integrations.webhook]]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    /// A unique name (admin page, metrics).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The signing secret's environment variable.
    pub secret_env: Option<String>,
    /// A file holding the signing secret (its first line).
    pub secret_file: Option<PathBuf>,
    /// Event kinds to send (`intake.*`, `call.ended`, …); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// A PEM file of CA certificates to trust besides the system's (a private CA).
    pub ca_file: Option<PathBuf>,
}

/// When a ticket is created in the ticket system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateOn {
    /// As soon as the IVR has stored the intake (the agent's later edits update it).
    #[default]
    Intake,
    /// When the agent resolves or escalates it (one ticket with the finished text).
    Outcome,
}

/// Names per category: `hardware`, `software`, `service`, `unclassified`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerCategory {
    /// Hardware.
    pub hardware: Option<String>,
    /// Software.
    pub software: Option<String>,
    /// Service.
    pub service: Option<String>,
    /// Not classified in the IVR.
    pub unclassified: Option<String>,
}

impl PerCategory {
    /// The name for `category`, else `fallback`.
    pub fn get<'a>(&'a self, category: &str, fallback: &'a str) -> &'a str {
        match category {
            "hardware" => self.hardware.as_deref(),
            "software" => self.software.as_deref(),
            "service" => self.service.as_deref(),
            _ => self.unclassified.as_deref(),
        }
        .unwrap_or(fallback)
    }
}

/// `[[integrations.rt]]`: Request Tracker 5.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtTarget {
    /// A unique name.
    pub name: String,
    /// RT's web address (`https://rt.example.com`); REST 2.0 is under `/REST/2.0/`.
    pub url: String,
    /// An RT auth token's environment variable (`Authorization: token …`).
    pub token_env: Option<String>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// A user for HTTP basic auth instead of a token.
    pub user: Option<String>,
    /// Its password's environment variable.
    pub password_env: Option<String>,
    /// A file holding its password.
    pub password_file: Option<PathBuf>,
    /// When tickets are created.
    #[serde(default)]
    pub create_on: CreateOn,
    /// The first-level queue per category; unset: `default_queue`.
    #[serde(default)]
    pub queues: PerCategory,
    /// The queue of categories not mapped.
    #[serde(default = "general")]
    pub default_queue: String,
    /// The queue per second-level group; a group not listed uses its own name.
    #[serde(default)]
    pub group_queues: BTreeMap<String, String>,
    /// The queue of third-level escalations (vendors); unset: the vendor's name.
    pub vendor_queue: Option<String>,
    /// RT priority for our priorities 1 to 5.
    #[serde(default = "rt_priorities")]
    pub priorities: [i64; 5],
    /// The requestor of callers without a known e-mail address; `{number}` is the caller's
    /// number (digits only).
    #[serde(default = "placeholder")]
    pub placeholder_email: String,
    /// A PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// `[[integrations.zammad]]`: Zammad.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZammadTarget {
    /// A unique name.
    pub name: String,
    /// Zammad's address (`https://zammad.example.com`); the REST API is under `/api/v1/`.
    pub url: String,
    /// An API token's environment variable (`Authorization: Token token=…`).
    pub token_env: Option<String>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// The Generic CTI endpoint with its token (Zammad shows it under Integrations → CTI
    /// (generic)): an environment variable, since the URL is the secret.
    pub cti_url_env: Option<String>,
    /// A file holding the CTI endpoint.
    pub cti_url_file: Option<PathBuf>,
    /// The hotline's number as Zammad's caller log shows it (the CTI events' `to`).
    #[serde(default = "hotline")]
    pub hotline_number: String,
    /// Create tickets (`false`: the CTI events only).
    #[serde(default = "yes")]
    pub tickets: bool,
    /// When tickets are created.
    #[serde(default)]
    pub create_on: CreateOn,
    /// The Zammad group per category at the first level.
    #[serde(default)]
    pub groups: PerCategory,
    /// The group of categories not mapped.
    #[serde(default = "users")]
    pub default_group: String,
    /// The group per second-level group; a group not listed uses its own name.
    #[serde(default)]
    pub level2_groups: BTreeMap<String, String>,
    /// The group of third-level escalations; unset: the vendor's name.
    pub vendor_group: Option<String>,
    /// Zammad priority names for our priorities 1 to 5.
    #[serde(default = "zammad_priorities")]
    pub priorities: [String; 5],
    /// The customer of callers without a known e-mail address (`{number}`: digits).
    #[serde(default = "placeholder")]
    pub placeholder_email: String,
    /// A PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
}

fn general() -> String {
    "General".to_owned()
}
fn users() -> String {
    "Users".to_owned()
}
fn hotline() -> String {
    "hotline".to_owned()
}
fn yes() -> bool {
    true
}
fn rt_priorities() -> [i64; 5] {
    [90, 70, 50, 30, 10]
}
fn zammad_priorities() -> [String; 5] {
    ["3 high", "3 high", "2 normal", "2 normal", "1 low"].map(str::to_owned)
}
fn placeholder() -> String {
    "phone-{number}@callers.invalid".to_owned()
}

/// A secret read from the environment or a file; shown as `***` everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A secret given directly (tests).
    pub fn from_value(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads a secret from `env` or else `file` (its first line, trimmed); `None` when neither is
/// set. `setting` names the option in errors (the value never appears in one).
pub fn read_secret(
    env: Option<&str>,
    file: Option<&std::path::Path>,
    setting: &str,
) -> Result<Option<Secret>, String> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(Secret(v.trim().to_owned()))),
            _ => Err(format!(
                "environment variable {var} ({setting}_env) is not set"
            )),
        };
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {setting}_file {}: {e}", path.display()))?;
        let first = text.lines().next().unwrap_or_default().trim();
        if first.is_empty() {
            return Err(format!("{setting}_file {} is empty", path.display()));
        }
        return Ok(Some(Secret(first.to_owned())));
    }
    Ok(None)
}

impl IntegrationsSection {
    /// Every target's name, in configuration order.
    pub fn names(&self) -> Vec<&str> {
        self.webhook
            .iter()
            .map(|t| t.name.as_str())
            .chain(self.rt.iter().map(|t| t.name.as_str()))
            .chain(self.zammad.iter().map(|t| t.name.as_str()))
            .collect()
    }

    /// Checks names, addresses and mappings (secrets are read at start).
    pub fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for name in self.names() {
            let ok = !name.is_empty()
                && name.len() <= 40
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(format!(
                    "integration name {name:?}: 1 to 40 letters, digits, '-' or '_'"
                ));
            }
            if !seen.insert(name) {
                return Err(format!("integration name {name:?} is used twice"));
            }
        }
        let urls = self
            .webhook
            .iter()
            .map(|t| (&t.name, &t.url))
            .chain(self.rt.iter().map(|t| (&t.name, &t.url)))
            .chain(self.zammad.iter().map(|t| (&t.name, &t.url)));
        for (name, url) in urls {
            check_url(url).map_err(|e| format!("integration {name}: url {url:?}: {e}"))?;
        }
        for w in &self.webhook {
            for pattern in &w.events {
                let filter = crate::store::KindFilter::new(std::slice::from_ref(pattern));
                if !super::wire::KINDS.iter().any(|k| filter.matches(k)) {
                    return Err(format!(
                        "integration {}: events: {pattern:?} matches no event (one of: {})",
                        w.name,
                        super::wire::KINDS.join(", ")
                    ));
                }
            }
        }
        if let Some(url) = &self.public_url {
            check_url(url).map_err(|e| format!("integrations.public_url {url:?}: {e}"))?;
        }
        let r = &self.retry;
        if r.first_ms < 10 || r.max_ms < r.first_ms || r.max_attempts == 0 {
            return Err(
                "integrations.retry: first_ms ≥ 10, max_ms ≥ first_ms, max_attempts ≥ 1".to_owned(),
            );
        }
        if r.timeout_secs == 0 || r.timeout_secs > 300 {
            return Err("integrations.retry.timeout_secs: 1 to 300".to_owned());
        }
        Ok(())
    }
}

/// An `http://` or `https://` address with a host.
fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host".to_owned());
    }
    if url.chars().any(char::is_whitespace) {
        return Err("contains spaces".to_owned());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IntegrationsSection {
        let cfg = crate::config::Config::from_toml(text).unwrap();
        cfg.integrations
    }

    #[test]
    fn targets_are_read_with_defaults_and_checked() {
        let s = parse(
            "[[integrations.webhook]]\nname = \"hook\"\nurl = \"https://h.example/x\"\n\
             secret_env = \"S\"\nevents = [\"intake.*\"]\n\
             [[integrations.rt]]\nname = \"rt\"\nurl = \"http://rt.example\"\ntoken_env = \"T\"\n\
             queues = { hardware = \"HW\" }\n\
             [[integrations.zammad]]\nname = \"z\"\nurl = \"https://z.example\"\ntoken_env = \"Z\"\n",
        );
        assert_eq!(s.names(), ["hook", "rt", "z"]);
        assert!(s.check().is_ok());
        let rt = &s.rt[0];
        assert_eq!(rt.queues.get("hardware", &rt.default_queue), "HW");
        assert_eq!(rt.queues.get("service", &rt.default_queue), "General");
        assert_eq!(rt.priorities, [90, 70, 50, 30, 10]);
        assert_eq!(rt.create_on, CreateOn::Intake);
        assert_eq!(s.zammad[0].priorities[0], "3 high");
        assert_eq!(s.retry, RetrySettings::default());
    }

    #[test]
    fn bad_names_urls_and_retries_are_refused() {
        let twice = parse(
            "[[integrations.webhook]]\nname = \"a\"\nurl = \"https://h\"\n\
             [[integrations.rt]]\nname = \"a\"\nurl = \"https://r\"\n",
        );
        assert!(twice.check().unwrap_err().contains("used twice"));
        let bad_url = parse("[[integrations.webhook]]\nname = \"a\"\nurl = \"ftp://h\"\n");
        assert!(bad_url.check().unwrap_err().contains("http://"));
        let bad_name = parse("[[integrations.webhook]]\nname = \"a b\"\nurl = \"https://h\"\n");
        let typo = parse(
            "[[integrations.webhook]]\nname = \"a\"\nurl = \"https://h\"\nevents = [\"intake.resolve\"]\n",
        );
        assert!(typo.check().unwrap_err().contains("matches no event"));
        assert!(bad_name.check().is_err());
        let mut retry = IntegrationsSection::default();
        retry.retry.max_ms = 1;
        assert!(retry.check().is_err());
        assert!(
            crate::config::Config::from_toml(
                "[[integrations.webhook]]\nname = \"a\"\nurl = \"https://h\"\nsecret = \"inline\"\n"
            )
            .is_err(),
            "no inline secrets"
        );
    }

    #[test]
    fn secrets_come_from_files_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "top-secret\nignored\n").unwrap();
        let s = read_secret(None, Some(&path), "x").unwrap().unwrap();
        assert_eq!(s.expose(), "top-secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        std::fs::write(&path, "\n").unwrap();
        assert!(
            read_secret(None, Some(&path), "x")
                .unwrap_err()
                .contains("empty")
        );
        let missing = read_secret(Some("FIRSTLINE_TEST_UNSET_VAR_4711"), None, "x").unwrap_err();
        assert!(missing.contains("FIRSTLINE_TEST_UNSET_VAR_4711") && missing.contains("x_env"));
        assert!(read_secret(None, None, "x").unwrap().is_none());
    }
}
