//! Authentication for the API: session tokens (only their SHA-256 is stored), the session
//! cookie, the [`Session`] extractor (cookie or Bearer), role checks, the CSRF rule for
//! cookie-authenticated writes, and argon2 password checks off the async threads.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;
use crate::domain::AgentId;
use crate::store::now_ms;

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "firstline_session";
/// Header a same-site script sends on cookie-authenticated writes (see docs/api.md).
pub(crate) const CSRF_HEADER: &str = "x-firstline-csrf";

/// Session settings (from `[http]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Add `Secure` to the session cookie (the server is reached over HTTPS).
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_ttl: Duration,
}

impl From<&crate::config::HttpSection> for AuthConfig {
    fn from(http: &crate::config::HttpSection) -> Self {
        AuthConfig {
            secure_cookies: http.secure_cookies,
            session_ttl: Duration::from_secs(http.session_hours.max(1).saturating_mul(3600)),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig::from(&crate::config::HttpSection::default())
    }
}

/// A fresh token: 32 random bytes as 64 lowercase hex digits.
pub(crate) fn new_token() -> String {
    hex(&rand::random::<[u8; 32]>())
}

/// What the `sessions` table keys on: SHA-256 of the token, hex.
pub(crate) fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `Set-Cookie` value for a new session (RFC 6265 §4.1; `SameSite` per RFC 6265bis).
pub(crate) fn session_cookie(cfg: &AuthConfig, token: &str) -> String {
    let secure = if cfg.secure_cookies { "; Secure" } else { "" };
    format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        cfg.session_ttl.as_secs()
    )
}

/// `Set-Cookie` value that removes the session cookie.
pub(crate) fn cleared_cookie(cfg: &AuthConfig) -> String {
    let secure = if cfg.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// How the request proved its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthVia {
    /// The browser's session cookie (CSRF rule applies to writes).
    Cookie,
    /// `Authorization: Bearer` (integrators; not sent by browsers on their own).
    Bearer,
}

/// A signed-in caller of the API; extracting it answers 401/403 by itself.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who.
    pub(crate) agent_id: AgentId,
    /// `agent`, `supervisor` or `admin`.
    pub(crate) role: String,
    /// SHA-256 of the token (for logout).
    pub(crate) token_hash: String,
    /// Epoch ms after which the session is void.
    pub(crate) expires_at: i64,
}

impl FromRequestParts<ApiState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let (token, via) = token_of(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        if !is_token_shaped(token) {
            return Err(ApiError::Unauthenticated);
        }
        if via == AuthVia::Cookie && is_write(&parts.method) && !csrf_ok(&parts.headers) {
            return Err(ApiError::Csrf);
        }
        let token_hash = hash_token(token);
        let row = state
            .store
            .session(&token_hash, now_ms())
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Session {
            agent_id: row.agent_id,
            role: row.role,
            token_hash,
            expires_at: row.expires_at,
        })
    }
}

/// 403 unless the session's role is one of `roles`.
pub(crate) fn require_role(session: &Session, roles: &[&str]) -> Result<(), ApiError> {
    if roles.contains(&session.role.as_str()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            needed: roles.join(" or "),
        })
    }
}

/// The token and how it came: `Authorization: Bearer` wins over the cookie (RFC 6750 §2.1).
fn token_of(headers: &HeaderMap) -> Option<(&str, AuthVia)> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| (token.trim(), AuthVia::Bearer));
    }
    // RFC 6265 §5.4: `Cookie: a=b; c=d`, possibly over several header lines.
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| (value.trim_matches('"'), AuthVia::Cookie))
}

fn is_token_shaped(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF rule: `X-Firstline-Csrf: 1` (a cross-site form cannot set it, and a cross-site
/// script needs a CORS preflight we never grant), or an `Origin` naming the same host as
/// `Host` (RFC 6454 §7: browsers send Origin on cross-origin POST/PUT/DELETE).
pub(crate) fn csrf_ok(headers: &HeaderMap) -> bool {
    if headers
        .get(CSRF_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1")
    {
        return true;
    }
    origin_matches_host(headers) == Some(true)
}

/// `Some(same)` when an `Origin` header is present, `None` without one.
pub(crate) fn origin_matches_host(headers: &HeaderMap) -> Option<bool> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let (Some(origin), Some(host)) = (origin, host) else {
        return Some(false);
    };
    let authority = origin
        .strip_prefix("http://")
        .map(|a| (a, "80"))
        .or_else(|| origin.strip_prefix("https://").map(|a| (a, "443")));
    let Some((authority, default_port)) = authority else {
        // `Origin: null` and other schemes never match.
        return Some(false);
    };
    Some(same_authority(authority, host, default_port))
}

/// `example.com` equals `example.com:80` for http, case-insensitively.
fn same_authority(origin: &str, host: &str, default_port: &str) -> bool {
    let with_port = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        // An IPv6 literal `[::1]` has colons inside the brackets; the port follows `]:`.
        let has_port = match a.rfind(']') {
            Some(close) => a.get(close + 1..).is_some_and(|rest| rest.starts_with(':')),
            None => a.contains(':'),
        };
        if has_port {
            a
        } else {
            format!("{a}:{default_port}")
        }
    };
    with_port(origin) == with_port(host)
}

/// A valid argon2 hash of nothing anyone knows, checked when the login is unknown so that an
/// unknown login costs as much time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        SaltString::encode_b64(&rand::random::<[u8; 16]>())
            .ok()
            .and_then(|salt| {
                argon2::Argon2::default()
                    .hash_password(&rand::random::<[u8; 32]>(), &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            // Unreachable with a 16-byte salt and default parameters; an empty string makes
            // the check fail fast, which only costs timing-equality, never correctness.
            .unwrap_or_default()
    })
}

/// Checks `password` against a PHC hash (or the dummy when `hash` is `None`) on a blocking
/// thread: argon2 is slow by design and must not stall the async workers.
pub(crate) async fn verify_password(
    hash: Option<String>,
    password: String,
) -> Result<bool, ApiError> {
    // argon2 costs ~19 MiB and tens of ms per check: at most two run at once, so a burst of
    // logins queues (briefly) instead of exhausting memory and the blocking pool.
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let checks = CHECKS.get_or_init(|| tokio::sync::Semaphore::new(2));
    let Ok(Ok(_permit)) = tokio::time::timeout(Duration::from_secs(5), checks.acquire()).await
    else {
        return Err(ApiError::TooManyAttempts {
            retry_after: Duration::from_secs(1),
        });
    };
    let ok = tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let phc = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            tracing::warn!("an agent's password hash is not a valid PHC string");
            return false;
        };
        let matches = argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await?;
    Ok(ok)
}

/// `Cache-Control: no-store` for responses that carry a token.
pub(crate) fn no_store() -> (header::HeaderName, HeaderValue) {
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = new_token();
        assert!(is_token_shaped(&t), "{t}");
        assert_ne!(t, new_token());
    }

    #[test]
    fn cookie_attributes() {
        let mut cfg = AuthConfig {
            secure_cookies: false,
            session_ttl: Duration::from_secs(43_200),
        };
        assert_eq!(
            session_cookie(&cfg, "ab"),
            "firstline_session=ab; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"
        );
        cfg.secure_cookies = true;
        assert!(session_cookie(&cfg, "ab").ends_with("; Max-Age=43200; Secure"));
        assert!(cleared_cookie(&cfg).starts_with("firstline_session=; "));
        assert!(cleared_cookie(&cfg).contains("Max-Age=0"));
    }

    #[test]
    fn token_comes_from_bearer_or_cookie() {
        let h = headers(&[("cookie", "a=1; firstline_session=abc; b=2")]);
        assert_eq!(token_of(&h), Some(("abc", AuthVia::Cookie)));
        let h = headers(&[("cookie", "a=1"), ("cookie", "firstline_session=xyz")]);
        assert_eq!(token_of(&h), Some(("xyz", AuthVia::Cookie)));
        let h = headers(&[
            ("authorization", "Bearer tok"),
            ("cookie", "firstline_session=abc"),
        ]);
        assert_eq!(token_of(&h), Some(("tok", AuthVia::Bearer)));
        assert_eq!(token_of(&headers(&[("authorization", "Basic eDp5")])), None);
        assert_eq!(token_of(&headers(&[("cookie", "other=1")])), None);
    }

    #[test]
    fn origin_must_name_the_host() {
        let same = headers(&[
            ("origin", "http://Desk.example:8080"),
            ("host", "desk.example:8080"),
        ]);
        assert!(csrf_ok(&same));
        let default_port = headers(&[
            ("origin", "https://desk.example"),
            ("host", "desk.example:443"),
        ]);
        assert!(csrf_ok(&default_port));
        let v6 = headers(&[("origin", "http://[::1]:8080"), ("host", "[::1]:8080")]);
        assert!(csrf_ok(&v6));
        let other = headers(&[("origin", "http://evil.example"), ("host", "desk.example")]);
        assert!(!csrf_ok(&other));
        let port = headers(&[
            ("origin", "http://desk.example:9090"),
            ("host", "desk.example:8080"),
        ]);
        assert!(!csrf_ok(&port));
        assert!(!csrf_ok(&headers(&[
            ("origin", "null"),
            ("host", "desk.example")
        ])));
        assert!(!csrf_ok(&headers(&[("host", "desk.example")])));
        assert!(csrf_ok(&headers(&[("x-firstline-csrf", "1")])));
        assert!(!csrf_ok(&headers(&[("x-firstline-csrf", "yes")])));
    }
}
