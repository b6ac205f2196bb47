//! SDES key exchange (RFC 4568), no I/O: the `a=crypto` line, our offer to an agent's phone,
//! our answer to a caller, and the policy (`[media] srtp_*`: off, optional, mandatory; keys
//! only over TLS). Wire data is hostile: every line is bounded and a malformed one is an error,
//! never a panic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore as _;
use rtc_srtp::protection_profile::ProtectionProfile;
use serde::Deserialize;

use super::{SrtpError, SrtpSession};

/// The most `a=crypto` lines one media section may carry (an offer lists one per suite; a
/// dozen is already generous).
pub const MAX_CRYPTO_LINES: usize = 16;

/// The longest `a=crypto` value read (ours are about 70 characters).
const MAX_LINE: usize = 512;

/// Master key (16 bytes) and master salt (14 bytes) of the AES_CM_128 suites.
const KEY_SALT_LEN: usize = 30;

/// The RFC 4568 §6.2 suites we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80`: AES-128 counter mode, 80-bit HMAC-SHA1 tag.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: the same with a 32-bit tag.
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// Every suite, in our order of preference.
    pub const ALL: [SrtpSuite; 2] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// The suite of a name (ABNF strings are case-insensitive); `None`: one we do not speak.
    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        Self::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// Bytes the authentication tag adds to each packet.
    pub fn tag_len(self) -> usize {
        self.profile().rtp_auth_tag_len()
    }

    pub(super) fn profile(self) -> ProtectionProfile {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }
}

/// A master key and salt, concatenated as in `inline:` (RFC 4568 §6.1). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; KEY_SALT_LEN]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A fresh key from the thread's CSPRNG (ChaCha, seeded by the OS).
    pub fn random() -> MasterKey {
        let mut k = [0u8; KEY_SALT_LEN];
        rand::rng().fill_bytes(&mut k);
        MasterKey(k)
    }

    /// A key from its 30 bytes (key then salt).
    pub fn from_bytes(bytes: [u8; KEY_SALT_LEN]) -> MasterKey {
        MasterKey(bytes)
    }

    /// The base64 text after `inline:`.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Reads the base64 text after `inline:`; exactly 30 bytes for our suites.
    pub fn from_base64(text: &str) -> Result<MasterKey, SdesError> {
        // 30 bytes are 40 base64 characters; anything longer cannot be a key of ours.
        if text.len() > 44 {
            return Err(SdesError::Malformed("key too long"));
        }
        let bytes = BASE64
            .decode(text)
            .map_err(|_| SdesError::Malformed("key is not base64"))?;
        let key: [u8; KEY_SALT_LEN] = bytes
            .try_into()
            .map_err(|_| SdesError::Malformed("key and salt are not 30 bytes"))?;
        Ok(MasterKey(key))
    }

    pub(super) fn split(&self) -> (&[u8], &[u8]) {
        self.0.split_at(16)
    }
}

/// Why an `a=crypto` line is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SdesError {
    /// Not RFC 4568 syntax, or a key of the wrong size: the offer is refused (488).
    #[error("malformed a=crypto line: {0}")]
    Malformed(&'static str),
    /// Valid, but something we do not do (another suite, an MKI, several keys, a session
    /// parameter): the line is skipped, another may do.
    #[error("unsupported a=crypto line: {0}")]
    Unsupported(&'static str),
    /// More than [`MAX_CRYPTO_LINES`] lines in one media section.
    #[error("more than {MAX_CRYPTO_LINES} a=crypto lines")]
    TooMany,
}

/// One `a=crypto:<tag> <suite> inline:<key>[|<lifetime>]` line (RFC 4568 §9.2), as we accept
/// it: one key, no MKI, no session parameters but `WSH=` (a hint) and `KDR=0` (the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoLine {
    /// The tag the answer echoes (1 to 9 digits).
    pub tag: u32,
    /// The suite.
    pub suite: SrtpSuite,
    /// Master key and salt.
    pub key: MasterKey,
    /// Packets the key may protect (`|2^31` or `|1048576`), if given; at most 2^48.
    pub lifetime: Option<u64>,
}

impl CryptoLine {
    /// Parses the value of an `a=crypto` attribute (what follows `a=crypto:`).
    pub fn parse(value: &str) -> Result<CryptoLine, SdesError> {
        if value.len() > MAX_LINE {
            return Err(SdesError::Malformed("line too long"));
        }
        let mut fields = value.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(keys)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(SdesError::Malformed("needs a tag, a suite and a key"));
        };
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SdesError::Malformed("tag is not 1 to 9 digits"));
        }
        // Nine digits fit a u32.
        let tag = tag
            .parse()
            .map_err(|_| SdesError::Malformed("tag is not 1 to 9 digits"))?;
        let suite = SrtpSuite::from_name(suite).ok_or(SdesError::Unsupported("crypto-suite"))?;
        for param in fields {
            let known_hint = param.starts_with("WSH=") || param == "KDR=0";
            if !known_hint {
                return Err(SdesError::Unsupported("session parameter"));
            }
        }
        if keys.contains(';') {
            // Several keys need an MKI in every packet to tell them apart.
            return Err(SdesError::Unsupported("more than one key"));
        }
        let Some((method, info)) = keys.split_once(':') else {
            return Err(SdesError::Malformed("key is not <method>:<info>"));
        };
        if !method.eq_ignore_ascii_case("inline") {
            return Err(SdesError::Unsupported("key method"));
        }
        let mut parts = info.split('|');
        let key = MasterKey::from_base64(parts.next().unwrap_or_default())?;
        let mut lifetime = None;
        for (i, part) in parts.enumerate() {
            if part.contains(':') {
                // RFC 4568 §6.1 MKI: packets would carry it; rtc-srtp does not.
                return Err(SdesError::Unsupported("MKI"));
            }
            if i > 0 || part.is_empty() {
                return Err(SdesError::Malformed("key parameters"));
            }
            lifetime = Some(parse_lifetime(part)?);
        }
        Ok(CryptoLine {
            tag,
            suite,
            key,
            lifetime,
        })
    }

    /// The attribute value (what follows `a=crypto:`).
    pub fn to_value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite.name(),
            self.key.to_base64()
        )
    }
}

/// `2^<n>` or a decimal count, at most 2^48 (RFC 3711 §9.2: SRTP's own limit).
fn parse_lifetime(text: &str) -> Result<u64, SdesError> {
    const MAX: u64 = 1 << 48;
    let bad = SdesError::Malformed("lifetime");
    let digits = |s: &str| !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit());
    let n = match text.strip_prefix("2^") {
        Some(exp) if digits(exp) => {
            let exp: u32 = exp.parse().map_err(|_| bad)?;
            1u64.checked_shl(exp).filter(|_| exp <= 48).ok_or(bad)?
        }
        None if digits(text) => text.parse().map_err(|_| bad)?,
        _ => return Err(bad),
    };
    if n == 0 || n > MAX {
        return Err(bad);
    }
    Ok(n)
}

/// The first line we can use, in the offerer's order (RFC 4568 §7.1.1); lines we do not
/// support are skipped, a malformed one refuses the offer.
fn pick(lines: &[String]) -> Result<Option<CryptoLine>, SdesError> {
    if lines.len() > MAX_CRYPTO_LINES {
        return Err(SdesError::TooMany);
    }
    for line in lines {
        match CryptoLine::parse(line) {
            Ok(l) => return Ok(Some(l)),
            Err(SdesError::Unsupported(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// SRTP on one side (`[media] srtp_callers`, `srtp_agents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// Plain RTP only: `RTP/SAVP` offers are refused (488), `a=crypto` ignored.
    Off,
    /// SRTP when the peer offers it (over TLS), plain RTP otherwise.
    #[default]
    Optional,
    /// SRTP or no call.
    Mandatory,
}

/// The SRTP settings of every leg (from `[media]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SrtpConfig {
    /// Callers (we answer their offer).
    pub callers: SrtpPolicy,
    /// Agents' phones (we offer).
    pub agents: SrtpPolicy,
    /// Accept and send SDES keys over UDP and TCP too (they travel in clear text there).
    pub allow_insecure_keys: bool,
}

impl SrtpConfig {
    /// The settings of `[media]`.
    pub fn from_media(m: &crate::config::MediaSection) -> SrtpConfig {
        SrtpConfig {
            callers: m.srtp_callers,
            agents: m.srtp_agents,
            allow_insecure_keys: m.srtp_allow_insecure_keys,
        }
    }

    /// The rule for a caller's offer that came over TLS (`tls`) or not.
    pub fn caller_rule(self, tls: bool) -> SdesRule {
        SdesRule {
            policy: self.callers,
            keys_allowed: tls || self.allow_insecure_keys,
        }
    }

    /// The rule for an agent's phone whose registration came over TLS (`tls`) or not.
    pub fn agent_rule(self, tls: bool) -> SdesRule {
        SdesRule {
            policy: self.agents,
            keys_allowed: tls || self.allow_insecure_keys,
        }
    }
}

/// What one leg may do: its policy, and whether keys may travel over its signalling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesRule {
    /// The side's policy.
    pub policy: SrtpPolicy,
    /// The SIP transport is TLS, or `srtp_allow_insecure_keys` is set.
    pub keys_allowed: bool,
}

impl SdesRule {
    /// Plain RTP only (what `sdp::negotiate` does).
    pub const PLAIN: SdesRule = SdesRule {
        policy: SrtpPolicy::Off,
        keys_allowed: false,
    };
}

/// Why an offer (or answer) cannot be taken for its SRTP (the caller gets 488).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpRefusal {
    /// `RTP/SAVP` offered and SRTP is off.
    #[error("SRTP is off")]
    Off,
    /// SDES keys would travel in clear text (not over TLS).
    #[error("SDES keys only over TLS")]
    InsecureTransport,
    /// SRTP is mandatory and the offer is plain RTP.
    #[error("SRTP required")]
    Required,
    /// No `a=crypto` line we can use (or, in an answer, none matching our offer).
    #[error("no usable a=crypto line")]
    NoUsableCrypto,
    /// A malformed `a=crypto` line.
    #[error(transparent)]
    Crypto(#[from] SdesError),
    /// A re-INVITE would turn SRTP off or on for a running leg.
    #[error("a re-INVITE cannot change the leg's security")]
    SecurityChange,
}

/// `RTP/SAVP` and `RTP/SAVPF` (RFC 3711 §12, RFC 5124).
pub fn is_secure_profile(protocol: &str) -> bool {
    matches!(protocol, "RTP/SAVP" | "RTP/SAVPF")
}

/// Our answer's keys for a caller's stream: the tag and suite the caller offered, our fresh key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesAnswer {
    /// The offer's tag.
    pub tag: u32,
    /// The offer's suite.
    pub suite: SrtpSuite,
    /// The key we send under (written in our answer).
    pub local: MasterKey,
    /// The key the caller sends under.
    pub remote: MasterKey,
    /// The caller's key lifetime, if given.
    pub remote_lifetime: Option<u64>,
}

impl SdesAnswer {
    fn new(offered: CryptoLine) -> SdesAnswer {
        SdesAnswer {
            tag: offered.tag,
            suite: offered.suite,
            local: MasterKey::random(),
            remote: offered.key,
            remote_lifetime: offered.lifetime,
        }
    }

    /// Our `a=crypto` value.
    pub fn to_value(&self) -> String {
        CryptoLine {
            tag: self.tag,
            suite: self.suite,
            key: self.local.clone(),
            lifetime: None,
        }
        .to_value()
    }

    /// The leg's session.
    pub fn session(&self) -> Result<SrtpSession, SrtpError> {
        SrtpSession::new(self.suite, &self.local, &self.remote, self.remote_lifetime)
    }
}

/// The answerer's decision for an offered stream with `protocol` and these `a=crypto` values
/// (RFC 4568 §7.1.2, §7.5): `Some` keys for an SRTP answer, `None` for plain RTP.
///
/// - policy off: `RTP/SAVP` is refused, `a=crypto` in `RTP/AVP` ignored;
/// - keys not allowed (not TLS): `RTP/SAVP` or a mandatory policy is refused, a best-effort
///   offer (`RTP/AVP` with `a=crypto`) is answered plain;
/// - else the first line we support wins; none: `RTP/SAVP` or mandatory is refused, best
///   effort is answered plain. A malformed line refuses the offer.
pub fn answer_offer(
    rule: SdesRule,
    protocol: &str,
    crypto: &[String],
) -> Result<Option<SdesAnswer>, SrtpRefusal> {
    let secure = is_secure_profile(protocol);
    let mandatory = rule.policy == SrtpPolicy::Mandatory;
    if rule.policy == SrtpPolicy::Off {
        return if secure {
            Err(SrtpRefusal::Off)
        } else {
            Ok(None)
        };
    }
    if !rule.keys_allowed {
        return if secure || mandatory {
            Err(SrtpRefusal::InsecureTransport)
        } else {
            Ok(None)
        };
    }
    match pick(crypto)? {
        Some(line) => Ok(Some(SdesAnswer::new(line))),
        None if crypto.is_empty() && mandatory && !secure => Err(SrtpRefusal::Required),
        None if secure || mandatory => Err(SrtpRefusal::NoUsableCrypto),
        None => Ok(None),
    }
}

/// A re-INVITE's keys against the leg's running SRTP (RFC 4568 §7.1.4). The leg's security is
/// fixed at set-up: SRTP cannot be turned on or off (`SecurityChange`, 488). When the suite
/// stays, our answer keeps our key; the session then takes the peer's new key, if any.
pub fn renegotiate(
    current: Option<&mut SrtpSession>,
    offered: Option<&mut SdesAnswer>,
) -> Result<(), SrtpRefusal> {
    match (current, offered) {
        (None, None) => Ok(()),
        (Some(session), Some(answer)) => {
            if answer.suite == session.suite() {
                answer.local = session.local_key().clone();
            }
            session
                .update(answer)
                .map_err(|_| SrtpRefusal::NoUsableCrypto)
        }
        _ => Err(SrtpRefusal::SecurityChange),
    }
}

/// Our keys in an offer to an agent's phone: both suites (`_80` first), a fresh key each.
#[derive(Debug, Clone)]
pub struct SdesOffer {
    lines: [CryptoLine; 2],
}

impl Default for SdesOffer {
    fn default() -> Self {
        Self::new()
    }
}

impl SdesOffer {
    /// Fresh keys, tags 1 and 2.
    pub fn new() -> SdesOffer {
        let line = |tag: u32, suite| CryptoLine {
            tag,
            suite,
            key: MasterKey::random(),
            lifetime: None,
        };
        SdesOffer {
            lines: [
                line(1, SrtpSuite::AesCm128HmacSha1_80),
                line(2, SrtpSuite::AesCm128HmacSha1_32),
            ],
        }
    }

    /// The offer's lines, in order.
    pub fn lines(&self) -> &[CryptoLine] {
        &self.lines
    }

    /// The `a=crypto:` attribute lines of the offer, each ending in CRLF.
    pub fn sdp_attributes(&self) -> String {
        self.lines
            .iter()
            .map(|l| format!("a=crypto:{}\r\n", l.to_value()))
            .collect()
    }

    /// The phone's answer (its `a=crypto` values): `None` when it has none (plain RTP);
    /// else exactly one of our tags with its suite and the phone's key (RFC 4568 §7.1.3).
    pub fn accept(&self, crypto: &[String]) -> Result<Option<SrtpSession>, SrtpRefusal> {
        if crypto.len() > MAX_CRYPTO_LINES {
            return Err(SdesError::TooMany.into());
        }
        let Some(first) = crypto.first() else {
            return Ok(None);
        };
        let answer = match CryptoLine::parse(first) {
            Ok(a) => a,
            Err(SdesError::Unsupported(_)) => return Err(SrtpRefusal::NoUsableCrypto),
            Err(e) => return Err(e.into()),
        };
        let ours = self
            .lines
            .iter()
            .find(|l| l.tag == answer.tag && l.suite == answer.suite)
            .ok_or(SrtpRefusal::NoUsableCrypto)?;
        SrtpSession::new(answer.suite, &ours.key, &answer.key, answer.lifetime)
            .map(Some)
            .map_err(|_| SrtpRefusal::NoUsableCrypto)
    }
}
