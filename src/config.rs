//! Configuration: `firstline.toml` parsed once at start into typed values, then overridden by
//! `FIRSTLINE_*` environment variables and command-line flags (see `main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::acd::AcdConfig;
use crate::ivr::IvrConfig;

/// Errors reading or checking the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid [ivr] menu")]
    Ivr(#[from] crate::ivr::IvrConfigError),
    #[error("invalid [sla]")]
    Sla(#[from] crate::sla::SlaConfigError),
    #[error("invalid setting {setting}: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
}

/// The whole configuration. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// SIP listeners and limits.
    pub sip: SipSection,
    /// HTTP listener (health now; agent desk and supervisor pages later).
    pub http: HttpSection,
    /// Where records are kept.
    pub database: DatabaseSection,
    /// Prompts and RTP.
    pub media: MediaSection,
    /// Per-call behaviour after the IVR.
    pub call: CallSection,
    /// Caller-number normalisation.
    pub numbers: NumbersSection,
    /// The IVR menu (greeting, language, category, priority).
    pub ivr: IvrConfig,
    /// Queues and routing (ACD).
    pub acd: AcdConfig,
    /// The supervisor view: service level and long-wait thresholds.
    pub supervisor: crate::supervisor::SupervisorConfig,
    /// The agent desk: escalation targets and the outcome rule.
    pub desk: DeskSection,
    /// The browser softphone (WebRTC leg to the agent desk).
    pub webrtc: WebrtcSection,
    /// The certificate of SIP over TLS and HTTPS.
    pub tls: TlsSection,
    /// The company directory: LDAP / Active Directory sync and sign-in (docs/directory.md).
    pub directory: crate::directory::DirectorySection,
    /// Hand-off to ticket systems and webhooks (docs/integrations.md).
    pub integrations: crate::integrations::IntegrationsSection,
    /// `[sla]`: response and resolution targets per priority over business hours (docs/sla.md).
    pub sla: crate::sla::SlaConfig,
    /// `[trunk]`: the SIP trunk for callbacks and click-to-call (docs/trunk.md).
    pub trunk: crate::trunk::TrunkSection,
    /// Load the demo customers and agents at start (idempotent).
    pub load_demo: bool,
    /// Log filter in `tracing-subscriber` EnvFilter syntax (`RUST_LOG` wins when set).
    pub log: String,
}

/// `[sip]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipSection {
    /// UDP listen address; port 0 picks a free port.
    pub udp_listen: SocketAddr,
    /// TCP listen address; port 0 picks a free port.
    pub tcp_listen: SocketAddr,
    /// Largest SIP message accepted; bigger ones get 413 or are dropped.
    pub max_message_bytes: usize,
    /// Calls in set-up at once (queued for a call task, or before answer); past it, 503.
    pub max_pending_calls: usize,
    /// `Server`/`User-Agent` header value; `firstline` by default, without a version (set e.g.
    /// `firstline/0.1.0` to show one).
    pub user_agent: String,
    /// Digest challenges sent to registering phones: `sha256_and_md5` (RFC 8760 order),
    /// `md5_first` (for phones that read only the first challenge) or `md5_only` (for phones
    /// that fail on any SHA-256 challenge, e.g. baresip 1.0).
    pub digest: DigestSetting,
    /// Digest realm of the agents' phones (their HA1s are computed for it).
    pub realm: String,
    /// Proxies in front of firstline (`"IP"` or `"IP:port"`): failed REGISTER authentications
    /// through them count against the phone's address, not the proxy's (see docs/sip.md).
    pub trusted_proxies: Vec<String>,
    /// RFC 3261 T1 in milliseconds (500); timers A–J and the 2xx give-up time are multiples.
    pub timer_t1_ms: u64,
    /// `[sip.rate_limit]`: per-source limits on new INVITEs and REGISTERs.
    pub rate_limit: crate::sip::RateLimits,
    /// SIP over TLS listen address (RFC 3261 §26); used once a certificate is configured (or
    /// `--demo` made one). Port 0 picks a free port.
    pub tls_listen: SocketAddr,
    /// Agent phones must register over TLS; a REGISTER over UDP or TCP gets 403.
    pub agents_require_tls: bool,
    /// Caps and deadlines of SIP TCP and TLS connections.
    pub connections: SipConnectionsSection,
}

/// `[sip.connections]`: what one peer may hold of the SIP stream listeners.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConnectionsSection {
    /// Open TCP and TLS connections at most; past it new ones are closed at once.
    pub max_total: usize,
    /// Open connections from one address (IPv6: one /64) at most.
    pub max_per_source: usize,
    /// A TLS handshake must finish within this many seconds.
    pub tls_handshake_secs: u64,
    /// The first complete SIP message must arrive within this many seconds (slowloris).
    pub first_message_secs: u64,
    /// A message that has started arriving must be complete within this many seconds.
    pub message_secs: u64,
    /// A connection that carried no successful REGISTER, answered INVITE or request of ours
    /// is closed after this many seconds without a message or keep-alive.
    pub idle_secs: u64,
    /// The same for a connection that did (a phone's flow, a call): longer than the longest
    /// registration.
    pub kept_idle_secs: u64,
}

impl Default for SipConnectionsSection {
    fn default() -> Self {
        let d = crate::sip::ConnLimits::default();
        SipConnectionsSection {
            max_total: d.max_total,
            max_per_source: d.max_per_source,
            tls_handshake_secs: d.handshake.as_secs(),
            first_message_secs: d.first_message.as_secs(),
            message_secs: d.message.as_secs(),
            idle_secs: d.idle.as_secs(),
            kept_idle_secs: d.kept_idle.as_secs(),
        }
    }
}

impl SipConnectionsSection {
    /// The limits the SIP transport applies.
    pub fn limits(&self) -> crate::sip::ConnLimits {
        let s = std::time::Duration::from_secs;
        crate::sip::ConnLimits {
            max_total: self.max_total,
            max_per_source: self.max_per_source,
            handshake: s(self.tls_handshake_secs),
            first_message: s(self.first_message_secs),
            message: s(self.message_secs),
            idle: s(self.idle_secs),
            kept_idle: s(self.kept_idle_secs),
        }
    }
}

/// `[tls]`: the certificate of SIP over TLS and HTTPS.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain, leaf first. With `key_file`, SIP over TLS and HTTPS listen.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate.
    pub key_file: Option<PathBuf>,
    /// The files are checked this often (and on SIGHUP); changed files are served at once.
    pub reload_secs: u64,
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            cert_file: None,
            key_file: None,
            reload_secs: 10,
        }
    }
}

/// `[sip] digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DigestSetting {
    /// SHA-256 then MD5.
    Sha256AndMd5,
    /// MD5 then SHA-256.
    Md5First,
    /// MD5 only.
    Md5Only,
}

/// `[http]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// HTTP listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Mark the session cookie `Secure` (set when a TLS proxy serves firstline over HTTPS).
    pub secure_cookies: bool,
    /// Lifetime of a login session in hours (at least 1).
    pub session_hours: u64,
    /// Folder with the agent desk and supervisor pages (plain HTML, CSS and JS).
    pub web_dir: PathBuf,
    /// HTTPS listen address, used once a certificate is configured (or `--demo` made one).
    pub https_listen: SocketAddr,
    /// What plain HTTP does while HTTPS is served: `loopback` (serve loopback clients,
    /// redirect others), `redirect` (redirect all but `/ready`) or `serve` (serve all).
    pub plain_http: crate::http::PlainHttp,
    /// `Strict-Transport-Security` max-age on HTTPS responses, in seconds; 0 sends none.
    pub hsts_max_age_secs: u64,
    /// A request's header section must arrive within this many seconds (also the longest an
    /// idle keep-alive connection waits for its next request).
    pub header_read_timeout_secs: u64,
    /// A connection with nothing read or written for this many seconds is closed.
    pub idle_timeout_secs: u64,
    /// Open HTTP and HTTPS connections at most.
    pub max_connections: usize,
    /// Networks (`10.0.0.0/8`, `::1`) whose clients may read `/metrics` and the detailed
    /// `/health`; others get 403 and the status only. Empty with no token: everyone.
    pub ops_allow: Vec<String>,
    /// A bearer token that grants the same from anywhere (`Authorization: Bearer …`).
    pub ops_token: Option<String>,
}

impl HttpSection {
    /// The parsed `ops_allow` networks (an unparsable entry is refused by `validate`).
    pub fn ops_access(&self) -> crate::http::OpsAccess {
        crate::http::OpsAccess {
            allow: self
                .ops_allow
                .iter()
                .filter_map(|n| crate::http::Net::parse(n))
                .collect(),
            token: self.ops_token.clone().filter(|t| !t.is_empty()),
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://file.db` (created and migrated on start) or `postgres://user@host/db`.
    pub url: String,
}

/// `[media]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSection {
    /// Folder with `nl/`, `en/` prompt WAVs and `hold.wav` (8 kHz mono 16-bit PCM).
    pub prompts_dir: PathBuf,
    /// Folder where voice messages are written (created when needed).
    pub recordings_dir: PathBuf,
    /// Strict RTP (docs/media-security.md): where a leg's RTP may come from: `sdp` (only the
    /// address the SDP names) or `symmetric` (also a source learned from a run, for NAT).
    pub rtp_source: crate::media::strict::RtpSource,
    /// Symmetric mode: in-sequence packets (one SSRC, consecutive sequence numbers) from one
    /// source before it is learned.
    pub rtp_learn_packets: u16,
    /// Symmetric mode: a learned source silent this long may be replaced by a new run; 0: never
    /// (only a re-INVITE with a new address).
    pub rtp_relearn_after_ms: u64,
    /// SDES-SRTP with callers (docs/media-security.md): `off`, `optional` (SRTP when offered
    /// over TLS) or `mandatory` (a plain offer gets 488).
    pub srtp_callers: crate::media::srtp::SrtpPolicy,
    /// SDES-SRTP with agents' phones: `off`, `optional` (best effort: `RTP/AVP` with
    /// `a=crypto`) or `mandatory` (`RTP/SAVP`; a phone not registered over TLS is skipped).
    pub srtp_agents: crate::media::srtp::SrtpPolicy,
    /// Accept and send SDES keys over UDP and TCP too, where they travel in clear text.
    pub srtp_allow_insecure_keys: bool,
    /// Threads sending the prompt and hold-music frames calls build ahead (`call::pacer`);
    /// 0: every call sends its own frames at their slots.
    pub pacer_threads: usize,
}

/// `[call]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallSection {
    /// Most calls in progress at once; further INVITEs get 503 with Retry-After.
    pub max_calls: usize,
    /// Ring this long (180 Ringing) before answering; 0 answers at once.
    pub answer_delay_ms: u64,
    /// After the IVR, the caller waits on hold this long at most, then hears a polite goodbye.
    pub max_wait_secs: u64,
    /// A call whose media has been silent (no RTP at all) this long is ended (dead peer).
    pub rtp_timeout_secs: u64,
    /// The longest voice message recorded, in seconds.
    pub max_voice_message_secs: u64,
    /// Voice messages kept per caller number in 24 hours; past it the option is refused.
    pub max_voice_messages_per_day: u32,
}

/// `[webrtc]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebrtcSection {
    /// The address the per-call WebRTC UDP sockets bind to.
    pub bind_ip: std::net::IpAddr,
    /// The address put in our ICE candidates (what browsers send to). Defaults to `bind_ip`;
    /// set it when the server is reached through another address (NAT, container).
    pub candidate_ip: Option<std::net::IpAddr>,
    /// A browser leg that sends no RTP for this long is taken as gone (reload, crash, network):
    /// the caller hears hold music while the desk reconnects.
    pub media_timeout_ms: u64,
    /// How long a call whose browser leg is gone waits for the desk to reconnect before ending.
    pub reconnect_grace_secs: u64,
    /// How often the server samples call quality (RTCP from the browser) and stores it.
    pub stats_interval_ms: u64,
}

impl Default for WebrtcSection {
    fn default() -> Self {
        WebrtcSection {
            bind_ip: std::net::IpAddr::from([127, 0, 0, 1]),
            candidate_ip: None,
            media_timeout_ms: 3000,
            reconnect_grace_secs: 30,
            stats_interval_ms: 5000,
        }
    }
}

impl WebrtcSection {
    /// The address our ICE candidates carry.
    pub fn candidate_ip(&self) -> std::net::IpAddr {
        self.candidate_ip.unwrap_or(self.bind_ip)
    }
}

/// `[desk]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskSection {
    /// Second-level groups an intake can be escalated to (internal specialists).
    pub second_level: Vec<String>,
    /// Third-level targets (vendors, manufacturers, external specialists).
    pub third_level: Vec<String>,
    /// An agent cannot become available after a call until its intake is resolved or escalated.
    pub require_outcome: bool,
    /// The desk's time zone: ticket numbers count per calendar year here, and the desk shows
    /// dates and times in it (`Europe/Amsterdam`, `Europe/Brussels`, `UTC`, `+01:00`).
    pub time_zone: String,
    /// Second-level agents (level 2 or 3) take first-level calls too: they enter the queues at
    /// sign-in and may become available. Off: they work their inbox only.
    pub second_level_takes_calls: bool,
}

impl DeskSection {
    /// The time zone (the default when it does not parse: `validate` refuses that at start).
    pub fn zone(&self) -> crate::store::Zone {
        crate::store::Zone::parse(&self.time_zone).unwrap_or(crate::store::Zone::CentralEurope)
    }

    /// Checks the zone and the group names (kept as a comma list in `agents.groups`).
    fn validate(&self) -> Result<(), ConfigError> {
        if crate::store::Zone::parse(&self.time_zone).is_none() {
            return Err(ConfigError::Invalid {
                setting: "desk.time_zone",
                reason: format!(
                    "{:?} is not a supported zone (Europe/Amsterdam, Europe/Brussels, UTC, \
                     or an offset such as +01:00)",
                    self.time_zone
                ),
            });
        }
        let bad = (self.second_level.iter())
            .chain(&self.third_level)
            .find(|n| n.trim().is_empty() || n.contains(',') || n.chars().count() > 200);
        if let Some(name) = bad {
            return Err(ConfigError::Invalid {
                setting: "desk.second_level / desk.third_level",
                reason: format!("{name:?}: names are 1 to 200 characters without commas"),
            });
        }
        Ok(())
    }
}

/// `[numbers]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NumbersSection {
    /// Country calling code for national numbers (`020…` becomes `+3120…`).
    pub default_country_code: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sip: SipSection::default(),
            http: HttpSection::default(),
            database: DatabaseSection::default(),
            media: MediaSection::default(),
            call: CallSection::default(),
            numbers: NumbersSection::default(),
            ivr: IvrConfig::default(),
            acd: AcdConfig::default(),
            supervisor: crate::supervisor::SupervisorConfig::default(),
            desk: DeskSection::default(),
            webrtc: WebrtcSection::default(),
            tls: TlsSection::default(),
            directory: crate::directory::DirectorySection::default(),
            integrations: crate::integrations::IntegrationsSection::default(),
            sla: crate::sla::SlaConfig::default(),
            trunk: crate::trunk::TrunkSection::default(),
            load_demo: false,
            log: "info".to_owned(),
        }
    }
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            udp_listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            tcp_listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            max_message_bytes: 65_535,
            max_pending_calls: 256,
            user_agent: "firstline".to_owned(),
            digest: DigestSetting::Sha256AndMd5,
            realm: "firstline".to_owned(),
            trusted_proxies: Vec::new(),
            timer_t1_ms: 500,
            rate_limit: crate::sip::RateLimits::default(),
            tls_listen: SocketAddr::from(([127, 0, 0, 1], 5061)),
            agents_require_tls: false,
            connections: SipConnectionsSection::default(),
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            secure_cookies: false,
            session_hours: 12,
            web_dir: PathBuf::from("web"),
            https_listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            plain_http: crate::http::PlainHttp::Loopback,
            hsts_max_age_secs: 31_536_000,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 120,
            max_connections: 4096,
            ops_allow: vec!["127.0.0.0/8".to_owned(), "::1".to_owned()],
            ops_token: None,
        }
    }
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: "sqlite://firstline.db".to_owned(),
        }
    }
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            prompts_dir: PathBuf::from("ivr-prompts"),
            recordings_dir: PathBuf::from("recordings"),
            rtp_source: crate::media::strict::RtpSource::Sdp,
            rtp_learn_packets: crate::media::strict::StrictConfig::DEFAULT_LEARN_PACKETS,
            rtp_relearn_after_ms: 0,
            srtp_callers: crate::media::srtp::SrtpPolicy::Optional,
            srtp_agents: crate::media::srtp::SrtpPolicy::Optional,
            srtp_allow_insecure_keys: false,
            pacer_threads: 1,
        }
    }
}

impl Default for CallSection {
    fn default() -> Self {
        CallSection {
            max_calls: 4000,
            answer_delay_ms: 0,
            max_wait_secs: 600,
            rtp_timeout_secs: 60,
            max_voice_message_secs: 120,
            max_voice_messages_per_day: 3,
        }
    }
}

impl Default for DeskSection {
    fn default() -> Self {
        let list = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect();
        DeskSection {
            second_level: list(&["Workplace", "Network", "Applications", "Servers"]),
            third_level: list(&["Dell", "HP", "Microsoft", "Cisco", "Telecom provider"]),
            require_outcome: true,
            time_zone: "Europe/Amsterdam".to_owned(),
            second_level_takes_calls: false,
        }
    }
}

impl Default for NumbersSection {
    fn default() -> Self {
        NumbersSection {
            default_country_code: "31".to_owned(),
        }
    }
}

impl Config {
    /// Reads a TOML file. A missing file is an error; use `Config::default()` for no file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks values that serde cannot (called by `App::start`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.ivr.validate()?;
        self.desk.validate()?;
        self.sla.check(self.desk.zone())?;
        self.trunk
            .check(&self.numbers.default_country_code)
            .map_err(|e| ConfigError::Invalid {
                setting: "trunk",
                reason: e.to_string(),
            })?;
        self.directory
            .validate()
            .map_err(|(setting, reason)| ConfigError::Invalid { setting, reason })?;
        self.integrations
            .check()
            .map_err(|reason| ConfigError::Invalid {
                setting: "integrations",
                reason,
            })?;
        let cc = &self.numbers.default_country_code;
        if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                setting: "numbers.default_country_code",
                reason: format!("{cc:?} is not 1 to 3 digits"),
            });
        }
        if self.sip.max_message_bytes < 1024 {
            return Err(ConfigError::Invalid {
                setting: "sip.max_message_bytes",
                reason: "must be at least 1024".to_owned(),
            });
        }
        if let Some(bad) = (self.sip.trusted_proxies.iter())
            .find(|p| p.parse::<crate::sip::TrustedProxy>().is_err())
        {
            return Err(ConfigError::Invalid {
                setting: "sip.trusted_proxies",
                reason: format!("{bad:?} is not an IP address or IP:port"),
            });
        }
        if self.webrtc.candidate_ip().is_unspecified() {
            return Err(ConfigError::Invalid {
                setting: "webrtc.candidate_ip",
                reason: "browsers cannot send to an unspecified address: with bind_ip 0.0.0.0 \
                         or :: set candidate_ip to the address browsers reach"
                    .to_owned(),
            });
        }
        if self.webrtc.media_timeout_ms < 500 || self.webrtc.stats_interval_ms < 100 {
            return Err(ConfigError::Invalid {
                setting: "webrtc.media_timeout_ms / webrtc.stats_interval_ms",
                reason: "at least 500 ms / 100 ms".to_owned(),
            });
        }
        if !(1..=50).contains(&self.media.rtp_learn_packets) {
            return Err(ConfigError::Invalid {
                setting: "media.rtp_learn_packets",
                reason: "1 to 50 packets".to_owned(),
            });
        }
        if !(1..=4000).contains(&self.sip.timer_t1_ms) {
            return Err(ConfigError::Invalid {
                setting: "sip.timer_t1_ms",
                reason: "must be 1 to 4000 (T2)".to_owned(),
            });
        }
        if self.call.max_voice_message_secs == 0 {
            return Err(ConfigError::Invalid {
                setting: "call.max_voice_message_secs",
                reason: "must be at least 1".to_owned(),
            });
        }
        self.validate_tls()?;
        if self.call.max_calls == 0 || self.sip.max_pending_calls == 0 {
            return Err(ConfigError::Invalid {
                setting: "call.max_calls / sip.max_pending_calls",
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(())
    }

    /// The certificate pair, the connection limits and the `/metrics` allow-list.
    fn validate_tls(&self) -> Result<(), ConfigError> {
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(ConfigError::Invalid {
                setting: "tls.cert_file / tls.key_file",
                reason: "set both or neither".to_owned(),
            });
        }
        if self.tls.reload_secs == 0 {
            return Err(ConfigError::Invalid {
                setting: "tls.reload_secs",
                reason: "must be at least 1".to_owned(),
            });
        }
        let c = &self.sip.connections;
        let secs = [
            c.tls_handshake_secs,
            c.first_message_secs,
            c.message_secs,
            c.idle_secs,
            c.kept_idle_secs,
        ];
        if c.max_total == 0 || c.max_per_source == 0 || secs.contains(&0) {
            return Err(ConfigError::Invalid {
                setting: "sip.connections",
                reason: "every cap and timeout must be at least 1".to_owned(),
            });
        }
        let h = &self.http;
        if h.header_read_timeout_secs == 0 || h.idle_timeout_secs == 0 || h.max_connections == 0 {
            return Err(ConfigError::Invalid {
                setting: "http.header_read_timeout_secs / idle_timeout_secs / max_connections",
                reason: "must be at least 1".to_owned(),
            });
        }
        if let Some(bad) = h
            .ops_allow
            .iter()
            .find(|n| crate::http::Net::parse(n).is_none())
        {
            return Err(ConfigError::Invalid {
                setting: "http.ops_allow",
                reason: format!("{bad:?} is not an address or network (10.0.0.0/8, ::1)"),
            });
        }
        Ok(())
    }

    /// A configuration for tests: every listener on 127.0.0.1 port 0, the given database and prompts.
    pub fn for_tests(database_url: String, prompts_dir: PathBuf) -> Config {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut cfg = Config::default();
        cfg.sip.udp_listen = any;
        cfg.sip.tcp_listen = any;
        cfg.sip.tls_listen = any;
        cfg.http.listen = any;
        cfg.http.https_listen = any;
        cfg.database.url = database_url;
        cfg.http.web_dir = prompts_dir
            .parent()
            .map_or_else(|| PathBuf::from("web"), |root| root.join("web"));
        cfg.media.prompts_dir = prompts_dir;
        cfg.media.recordings_dir = std::env::temp_dir().join("firstline-test-recordings");
        cfg.log = "warn".to_owned();
        cfg.webrtc.stats_interval_ms = 1000;
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_section_is_read_and_checked() {
        let cfg = Config::from_toml(
            "[directory]\nurl = \"ldap://dir.example\"\nstarttls = true\n\
             base_dn = \"ou=people,dc=example,dc=com\"\n\
             bind_dn = \"cn=firstline,dc=example,dc=com\"\npassword_env = \"LDAP_PW\"\n\
             [directory.sign_in]\nenabled = true\nadmin_groups = [\"cn=admins,dc=example,dc=com\"]\n",
        )
        .unwrap();
        cfg.validate().unwrap();
        assert!(cfg.directory.enabled() && cfg.directory.sign_in.enabled);
        let bad = Config::from_toml("[directory]\nurl = \"ldap://dir.example\"\n").unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("directory.base_dn"), "{err}");
        assert!(Config::from_toml("[directory]\nbind_password = \"x\"\n").is_err());
    }

    #[test]
    fn webrtc_needs_a_reachable_candidate_address() {
        let mut cfg = Config::from_toml("[webrtc]\nbind_ip = \"0.0.0.0\"\n").unwrap();
        assert!(cfg.validate().is_err(), "0.0.0.0 cannot be a candidate");
        cfg.webrtc.candidate_ip = Some(std::net::IpAddr::from([192, 0, 2, 10]));
        cfg.validate().unwrap();
        assert_eq!(cfg.webrtc.candidate_ip().to_string(), "192.0.2.10");
    }

    #[test]
    fn empty_file_gives_defaults() {
        let cfg = Config::from_toml("").unwrap();
        assert_eq!(
            cfg.sip.udp_listen,
            "127.0.0.1:5060".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            cfg.http.listen,
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(cfg.database.url, "sqlite://firstline.db");
        assert_eq!(cfg.numbers.default_country_code, "31");
        cfg.validate().unwrap();
    }

    #[test]
    fn shipped_file_parses_and_validates() {
        let text = include_str!("../firstline.toml");
        let cfg = Config::from_toml(text).unwrap();
        cfg.validate().unwrap();
    }

    #[test]
    fn shipped_sip_settings_are_the_defaults() {
        let shipped = Config::from_toml(include_str!("../firstline.toml"))
            .unwrap()
            .sip;
        let default = SipSection::default();
        assert_eq!(shipped.user_agent, "firstline", "no version by default");
        assert_eq!(shipped.user_agent, default.user_agent);
        assert_eq!(
            shipped.digest,
            DigestSetting::Sha256AndMd5,
            "RFC 8760 order"
        );
        assert_eq!(shipped.digest, default.digest);
        assert_eq!(shipped.realm, default.realm);
        assert_eq!(shipped.trusted_proxies, default.trusted_proxies);
        let bad = Config::from_toml("[sip]\ntrusted_proxies = [\"proxy.example\"]\n").unwrap();
        assert!(bad.validate().is_err(), "names are not resolved");
        let good = Config::from_toml(
            "[sip]\ntrusted_proxies = [\"192.0.2.5\", \"192.0.2.6:5060\", \"[2001:db8::1]:5060\"]\n",
        )
        .unwrap();
        good.validate().unwrap();
    }

    #[test]
    fn desk_lists_default_and_parse() {
        let shipped = Config::from_toml(include_str!("../firstline.toml")).unwrap();
        assert_eq!(shipped.desk, DeskSection::default());
        assert_eq!(shipped.desk.second_level[0], "Workplace");
        assert_eq!(shipped.desk.third_level.len(), 5);
        assert!(shipped.desk.require_outcome);
        let cfg =
            Config::from_toml("[desk]\nthird_level = [\"Lenovo\"]\nrequire_outcome = false\n")
                .unwrap();
        assert_eq!(cfg.desk.third_level, vec!["Lenovo".to_owned()]);
        assert_eq!(cfg.desk.second_level.len(), 4, "left out: default");
        assert!(!cfg.desk.require_outcome);
        assert!(Config::from_toml("[desk]\nsecond = []\n").is_err());
        assert_eq!(shipped.desk.time_zone, "Europe/Amsterdam");
        assert!(!shipped.desk.second_level_takes_calls);
    }

    #[test]
    fn desk_time_zone_and_group_names_are_checked() {
        let cfg =
            Config::from_toml("[desk]\ntime_zone = \"UTC\"\nsecond_level_takes_calls = true\n")
                .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.desk.zone(), crate::store::Zone::Utc);
        assert!(cfg.desk.second_level_takes_calls);
        let cfg = Config::from_toml("[desk]\ntime_zone = \"Mars/Olympus\"\n").unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("desk.time_zone"), "{err}");
        let cfg = Config::from_toml("[desk]\nsecond_level = [\"Net,work\"]\n").unwrap();
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn shipped_signalling_limits_are_the_defaults() {
        let shipped = Config::from_toml(include_str!("../firstline.toml")).unwrap();
        assert_eq!(shipped.sip.rate_limit, crate::sip::RateLimits::default());
        assert_eq!(shipped.sip.timer_t1_ms, 500);
        assert_eq!(shipped.call.max_voice_message_secs, 120);
        assert_eq!(shipped.call.max_voice_messages_per_day, 3);
        let cfg = Config::from_toml("[sip]\nrate_limit.exempt = [\"10.0.0.0/33\"]\n");
        assert!(cfg.is_err(), "a bad address block is refused");
        let mut cfg = Config::default();
        cfg.sip.timer_t1_ms = 0;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::from_toml("[sip]\nudp_lisen = \"127.0.0.1:5060\"\n").unwrap_err();
        assert!(err.to_string().contains("udp_lisen"), "{err}");
    }

    #[test]
    fn bad_country_code_is_rejected() {
        let cfg = Config::from_toml("[numbers]\ndefault_country_code = \"+31\"\n").unwrap();
        assert!(cfg.validate().is_err());
    }
}
