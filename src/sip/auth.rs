//! HTTP Digest for SIP (RFC 7616, RFC 8760): HA1, responses, challenges, stateless nonces; no I/O.
//!
//! Only `qop=auth` is offered, and required. HA1 values are stored, never passwords (RFC 7616
//! §3.4.2). Nonce counts are tracked in `nonce_counts.rs`.

use std::fmt::Write as _;
use std::net::IpAddr;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::build::random_u64;

/// Digest algorithms we offer, strongest first (RFC 8760 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256 (RFC 7616, RFC 8760).
    Sha256,
    /// MD5 (RFC 2617 compatibility).
    Md5,
}

impl Algorithm {
    /// The `algorithm=` token (RFC 7616 §3.3).
    pub fn token(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Md5 => "MD5",
        }
    }

    /// Parses an `algorithm=` value; absent means MD5 (RFC 7616 §3.3). `-sess` is not supported.
    pub fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None => Some(Self::Md5),
            Some(t) if t.eq_ignore_ascii_case("MD5") => Some(Self::Md5),
            Some(t) if t.eq_ignore_ascii_case("SHA-256") => Some(Self::Sha256),
            Some(_) => None,
        }
    }

    /// H(data) as lower-case hex (RFC 7616 §3.4.1).
    pub fn hash_hex(self, data: &str) -> String {
        match self {
            Self::Md5 => hex(&Md5::digest(data.as_bytes())),
            Self::Sha256 => hex(&Sha256::digest(data.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// MD5 HA1 = MD5(username:realm:password) as hex (RFC 7616 §3.4.2).
pub fn ha1_md5(username: &str, realm: &str, password: &str) -> String {
    Algorithm::Md5.hash_hex(&format!("{username}:{realm}:{password}"))
}

/// SHA-256 HA1 = SHA-256(username:realm:password) as hex (RFC 7616 §3.4.2, RFC 8760).
pub fn ha1_sha256(username: &str, realm: &str, password: &str) -> String {
    Algorithm::Sha256.hash_hex(&format!("{username}:{realm}:{password}"))
}

/// The parameters of an `Authorization: Digest …` header (RFC 7616 §3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) realm: String,
    pub(crate) nonce: String,
    pub(crate) uri: String,
    pub(crate) response: String,
    pub(crate) algorithm: Option<String>,
    pub(crate) qop: Option<String>,
    pub(crate) nc: Option<String>,
    pub(crate) cnonce: Option<String>,
}

/// Parses `Digest k=v, k="v", …`; `None` for another scheme or without the mandatory fields.
pub(crate) fn parse_authorization(value: &str) -> Option<Credentials> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    let mut c = Credentials::default();
    let mut have = 0u8;
    for (k, v) in params(rest) {
        let slot = match k.to_ascii_lowercase().as_str() {
            "username" => &mut c.username,
            "realm" => &mut c.realm,
            "nonce" => &mut c.nonce,
            "uri" => &mut c.uri,
            "response" => &mut c.response,
            "algorithm" => {
                c.algorithm = Some(v);
                continue;
            }
            "qop" => {
                c.qop = Some(v);
                continue;
            }
            "nc" => {
                c.nc = Some(v);
                continue;
            }
            "cnonce" => {
                c.cnonce = Some(v);
                continue;
            }
            _ => continue,
        };
        *slot = v;
        have += 1;
    }
    (have >= 5 && !c.username.is_empty() && !c.response.is_empty()).then_some(c)
}

/// Splits `a=b, c="d,e"` into pairs, honouring quotes and `\` escapes.
pub(crate) fn params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return out;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => val.extend(chars.next()),
                        '"' => break,
                        c => val.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_string(), val.trim().to_string()));
    }
}

/// The expected `response` for qop=auth (RFC 7616 §3.4.1):
/// KD(HA1, nonce:nc:cnonce:qop:H(method:uri)).
pub(crate) fn expected_response(
    alg: Algorithm,
    ha1: &str,
    method: &str,
    c: &Credentials,
) -> Option<String> {
    let ha2 = alg.hash_hex(&format!("{method}:{}", c.uri));
    let data = match c.qop.as_deref() {
        Some(q) if q.eq_ignore_ascii_case("auth") => format!(
            "{}:{}:{}:auth:{ha2}",
            c.nonce,
            c.nc.as_deref()?,
            c.cnonce.as_deref()?
        ),
        // RFC 2617 §3.2.2.1 compatibility (no qop): KD(HA1, nonce:HA2).
        None => format!("{}:{ha2}", c.nonce),
        Some(_) => return None,
    };
    Some(alg.hash_hex(&format!("{ha1}:{data}")))
}

/// The `nc` value (RFC 7616 §3.4: 8 hex digits; 1 to 8 accepted); 0 is not a count.
pub(crate) fn parse_nc(nc: &str) -> Option<u32> {
    let nc = nc.trim();
    if nc.is_empty() || nc.len() > 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(nc, 16).ok().filter(|n| *n > 0)
}

/// Whether the digest `uri` names the Request-URI (RFC 7616 §3.4.6): equal as text, or as SIP
/// URIs compared leniently (RFC 3261 §19.1.4: scheme and host without regard to case, the user
/// exactly, a missing port equal to the scheme's default; URI parameters and headers are not
/// compared, since proxies and phones add and drop them).
pub(crate) fn same_uri(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri.trim() == request_uri.trim() {
        return true;
    }
    match (uri_key(digest_uri), uri_key(request_uri)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn uri_key(uri: &str) -> Option<(String, String, String, u16)> {
    let (scheme, rest) = uri.trim().split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "sip" => 5060,
        "sips" => 5061,
        _ => return None,
    };
    let rest = rest.split('?').next()?;
    let (user, hostpart) = rest.rsplit_once('@').unwrap_or(("", rest));
    let hostport = hostpart.split(';').next()?;
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        }
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    (!host.is_empty()).then(|| (scheme, user.to_string(), host.to_ascii_lowercase(), port))
}

/// Constant-time comparison of two hex strings.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How a nonce checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    Valid,
    /// Ours and untampered but older than the lifetime: answer `stale=true` (RFC 7616 §3.3).
    Stale,
    Invalid,
}

/// Stateless nonces: `hex(ts) . hex(serial) . hex(HMAC-SHA256(secret, ts ‖ serial ‖ source
/// ip))[..32]`. The serial grows with every nonce made, so nonces are ordered (the nonce-count
/// table forgets the oldest first and knows what it forgot).
#[derive(Clone)]
pub(crate) struct NonceMaker {
    secret: [u8; 32],
    serial: u64,
}

impl std::fmt::Debug for NonceMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceMaker(..)")
    }
}

impl NonceMaker {
    /// A maker with a fresh random secret (nonces do not survive a restart: phones re-challenge).
    pub(crate) fn new() -> Self {
        let mut secret = [0u8; 32];
        for chunk in secret.chunks_mut(8) {
            chunk.copy_from_slice(&random_u64().to_le_bytes());
        }
        Self { secret, serial: 0 }
    }

    fn mac(&self, ts: u64, serial: u64, source: IpAddr) -> String {
        let msg = format!("{ts:016x}{serial:016x}|{source}");
        hex(&hmac_sha256(&self.secret, msg.as_bytes())[..16])
    }

    /// A nonce for time `ts` (seconds on the registrar's clock) and this source.
    pub(crate) fn make(&mut self, ts: u64, source: IpAddr) -> String {
        self.serial += 1;
        let serial = self.serial;
        format!("{ts:016x}{serial:016x}{}", self.mac(ts, serial, source))
    }

    /// The timestamp and serial a nonce of ours carries (`check` it first: this does not
    /// verify the MAC).
    pub(crate) fn stamp(nonce: &str) -> Option<(u64, u64)> {
        let ts = u64::from_str_radix(nonce.get(..16)?, 16).ok()?;
        let serial = u64::from_str_radix(nonce.get(16..32)?, 16).ok()?;
        Some((ts, serial))
    }

    /// Checks a nonce from `source` at time `now_ts`, valid for `lifetime` seconds.
    pub(crate) fn check(
        &self,
        nonce: &str,
        now_ts: u64,
        source: IpAddr,
        lifetime: u64,
    ) -> NonceCheck {
        let (Some((ts, serial)), Some(mac)) = (Self::stamp(nonce), nonce.get(32..)) else {
            return NonceCheck::Invalid;
        };
        if !same(mac, &self.mac(ts, serial, source)) || ts > now_ts {
            return NonceCheck::Invalid;
        }
        if now_ts - ts > lifetime {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize();
    outer.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1: the "Mufasa" example, MD5 and SHA-256.
    fn rfc_credentials() -> Credentials {
        Credentials {
            username: "Mufasa".into(),
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            uri: "/dir/index.html".into(),
            response: String::new(),
            algorithm: None,
            qop: Some("auth".into()),
            nc: Some("00000001".into()),
            cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into()),
        }
    }

    #[test]
    fn rfc7616_md5_and_sha256_examples() {
        let c = rfc_credentials();
        let md5 = ha1_md5("Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(
            expected_response(Algorithm::Md5, &md5, "GET", &c).unwrap(),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        let sha = ha1_sha256("Mufasa", "http-auth@example.org", "Circle of Life");
        assert_eq!(
            expected_response(Algorithm::Sha256, &sha, "GET", &c).unwrap(),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_2_shape() {
        // RFC 4231 test case 2 uses a 4-byte key; ours is 32 bytes zero-padded the same way.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        assert_eq!(
            hex(&hmac_sha256(&key, b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn authorization_header_parses_quotes_and_tokens() {
        let c = parse_authorization(
            "Digest username=\"1001\", realm=\"firstline\", nonce=\"abc\", uri=\"sip:127.0.0.1\", \
             response=\"0f\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"x,y\"",
        )
        .unwrap();
        assert_eq!(c.username, "1001");
        assert_eq!(c.algorithm.as_deref(), Some("SHA-256"));
        assert_eq!(c.cnonce.as_deref(), Some("x,y"));
        assert_eq!(c.nc.as_deref(), Some("00000001"));
        assert!(parse_authorization("Basic dXNlcjpwYXNz").is_none());
        assert!(parse_authorization("Digest username=\"a\"").is_none());
        assert!(parse_authorization("Digest \"\"\"=,,,=").is_none());
    }

    #[test]
    fn nonce_counts_are_hex_and_positive() {
        assert_eq!(parse_nc("00000001"), Some(1));
        assert_eq!(parse_nc("0000000a"), Some(10));
        assert_eq!(parse_nc("ffffffff"), Some(u32::MAX));
        for bad in ["", "00000000", "000000001", "0x01", "zz", "-1"] {
            assert_eq!(parse_nc(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn digest_uri_must_name_the_request_uri() {
        assert!(same_uri("sip:127.0.0.1:5060", "sip:127.0.0.1:5060"));
        assert!(
            same_uri("sip:127.0.0.1", "sip:127.0.0.1:5060"),
            "default port"
        );
        assert!(same_uri(
            "SIP:PBX.example.NL",
            "sip:pbx.example.nl;transport=udp"
        ));
        assert!(same_uri("sip:2001@[::1]:5070", "sip:2001@[::1]:5070;lr"));
        assert!(same_uri("sips:h", "sips:h:5061"));
        assert!(!same_uri("sip:127.0.0.1:5070", "sip:127.0.0.1:5060"));
        assert!(!same_uri("sip:other.example", "sip:127.0.0.1"));
        assert!(!same_uri("sip:2002@h", "sip:2001@h"));
        assert!(!same_uri("sip:h", "sips:h"));
        assert!(!same_uri("/index.html", "sip:h"));
        assert!(!same_uri("sip:;x", "sip:;y"), "no host");
    }

    #[test]
    fn nonces_expire_to_stale_and_bind_the_source() {
        let mut m = NonceMaker::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let n = m.make(100, ip);
        let n2 = m.make(100, ip);
        assert_ne!(n, n2);
        assert_eq!(NonceMaker::stamp(&n), Some((100, 1)));
        assert_eq!(NonceMaker::stamp(&n2), Some((100, 2)));
        let mut serial = n2.clone();
        serial.replace_range(16..32, &format!("{:016x}", 1));
        assert_eq!(
            m.check(&serial, 100, ip, 300),
            NonceCheck::Invalid,
            "serial is MACed"
        );
        assert_eq!(m.check(&n, 100, ip, 300), NonceCheck::Valid);
        assert_eq!(m.check(&n, 400, ip, 300), NonceCheck::Valid);
        assert_eq!(m.check(&n, 401, ip, 300), NonceCheck::Stale);
        assert_eq!(
            m.check(&n, 100, "192.0.2.2".parse().unwrap(), 300),
            NonceCheck::Invalid
        );
        let mut forged = n.clone();
        forged.replace_range(..16, &format!("{:016x}", 399));
        assert_eq!(m.check(&forged, 400, ip, 300), NonceCheck::Invalid);
        assert_eq!(m.check("short", 1, ip, 300), NonceCheck::Invalid);
        assert_eq!(m.check("zz€", 1, ip, 300), NonceCheck::Invalid);
        assert_eq!(
            NonceMaker::new().check(&n, 100, ip, 300),
            NonceCheck::Invalid
        );
    }
}
