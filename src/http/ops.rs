//! Who may read `/metrics` and the detailed `/health` (no I/O): client addresses in an
//! allow-list of networks, or a request with the configured bearer token (RFC 6750 §2.1).
//! `/ready` is never limited. Refused: `/metrics` gets 401/403, `/health` only its status.

use std::net::IpAddr;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `192.0.2.0/24`, `::1`, `10.1.2.3` (a bare address is one host).
    pub fn parse(s: &str) -> Option<Net> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Net { addr, prefix })
    }

    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> (u128, u32) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, len), (host, host_len)) = (bits(self.addr), bits(ip));
        if len != host_len {
            return false;
        }
        let shift = len - u32::from(self.prefix);
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        (net & mask) == (host & mask)
    }
}

/// The access rule of the operations endpoints.
#[derive(Debug, Clone, Default)]
pub struct OpsAccess {
    /// Networks whose clients may read them; empty with no token: everyone may.
    pub allow: Vec<Net>,
    /// A bearer token that also grants access from anywhere.
    pub token: Option<String>,
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl OpsAccess {
    /// Whether a request from `peer` with this `Authorization` header may read them.
    pub fn allows(&self, peer: Option<IpAddr>, authorization: Option<&str>) -> bool {
        if self.allow.is_empty() && self.token.is_none() {
            return true;
        }
        if peer.is_some_and(|ip| self.allow.iter().any(|n| n.contains(ip))) {
            return true;
        }
        let given = authorization.and_then(|a| {
            let (scheme, token) = a.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        match (&self.token, given) {
            (Some(want), Some(got)) => same(want.as_bytes(), got.as_bytes()),
            _ => false,
        }
    }

    /// Whether a bearer token is configured (a refusal then asks for it).
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }
}

/// The answer to a refused client: `/health` says only that the server is up; `/metrics` is
/// 401 with a Bearer challenge when a token would help, else 403.
pub(crate) fn refused(health: bool, token: bool) -> Response {
    if health {
        return Json(serde_json::json!({ "status": "ok" })).into_response();
    }
    if token {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"firstline-ops\"")],
        )
            .into_response()
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let lo = Net::parse("127.0.0.0/8").unwrap();
        assert!(lo.contains(ip("127.1.2.3")));
        assert!(lo.contains(ip("::ffff:127.0.0.1")), "mapped v4");
        assert!(!lo.contains(ip("128.0.0.1")));
        assert!(!lo.contains(ip("::1")));
        let one = Net::parse("::1").unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        let all = Net::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(Net::parse("ten").is_none());
        assert!(Net::parse("10.0.0.0/x").is_none());
    }

    #[test]
    fn allow_list_or_token() {
        let a = OpsAccess {
            allow: vec![Net::parse("10.0.0.0/8").unwrap()],
            token: Some("s3cret".into()),
        };
        assert!(a.allows(Some(ip("10.9.9.9")), None));
        assert!(!a.allows(Some(ip("192.0.2.1")), None));
        assert!(a.allows(Some(ip("192.0.2.1")), Some("Bearer s3cret")));
        assert!(a.allows(None, Some("bearer  s3cret ")));
        assert!(!a.allows(Some(ip("192.0.2.1")), Some("Bearer s3cre")));
        assert!(!a.allows(Some(ip("192.0.2.1")), Some("Basic s3cret")));
        assert!(
            OpsAccess::default().allows(Some(ip("192.0.2.1")), None),
            "open"
        );
        let no_token = OpsAccess {
            allow: vec![Net::parse("127.0.0.1").unwrap()],
            token: None,
        };
        assert!(!no_token.allows(Some(ip("192.0.2.1")), Some("Bearer ")));
    }
}
