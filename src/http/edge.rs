//! What every HTTP response passes through: security headers (CSP without `unsafe-inline`,
//! `nosniff`, referrer policy, no framing), HSTS and `Secure` cookies on HTTPS, the redirect
//! from plain HTTP to HTTPS, and the allow-list or bearer token of `/metrics` and the detailed
//! `/health` (`ops`). Policy here is pure; `serve` marks each request with how it came.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ops::OpsAccess;

/// How a request reached us (set by `serve` on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secure(pub bool);

/// What plain HTTP does once HTTPS is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlainHttp {
    /// Serve every client (a TLS proxy in front terminates HTTPS).
    Serve,
    /// Redirect every request to HTTPS (except `/ready`).
    Redirect,
    /// Serve clients on loopback (scripts, probes on the host), redirect everyone else.
    #[default]
    Loopback,
}

/// The edge policy of the HTTP listeners.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// The HTTPS port, when HTTPS is served (redirect target).
    pub https_port: Option<u16>,
    /// What plain HTTP does while HTTPS is served.
    pub plain: PlainHttp,
    /// `Strict-Transport-Security` max-age on HTTPS responses; 0 sends none.
    pub hsts_max_age_secs: u64,
    /// Who may read `/metrics` and the detailed `/health`.
    pub ops: OpsAccess,
}

/// The page policy (CSP Level 3): scripts, styles and everything else from our own origin only;
/// no inline script, style attribute parsing from markup, plugin, `<base>` or framing. `blob:`
/// media is the voice-message player; `data:` images are CSS icons.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn is_secure(req: &Request) -> bool {
    req.extensions().get::<Secure>().is_some_and(|s| s.0)
}

/// `https://<host>:<port><path>` for a plain request, from its Host header (port replaced).
pub(crate) fn https_location(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    port: u16,
) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    // `[v6]:port`, `name:port`, `v4`: keep the host part only.
    let name = if let Some(rest) = host.strip_prefix('[') {
        format!("[{}]", rest.split(']').next()?)
    } else {
        host.split(':').next()?.to_owned()
    };
    if name.is_empty() || name.contains(['/', '@', '\\', ' ']) {
        return None;
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Some(if port == 443 {
        format!("https://{name}{path}")
    } else {
        format!("https://{name}:{port}{path}")
    })
}

/// Whether a plain-HTTP request is sent to HTTPS instead of being served.
pub(crate) fn must_redirect(edge: &Edge, secure: bool, peer: Option<IpAddr>, path: &str) -> bool {
    if secure || edge.https_port.is_none() || path == "/ready" {
        return false;
    }
    match edge.plain {
        PlainHttp::Serve => false,
        PlainHttp::Redirect => true,
        PlainHttp::Loopback => !peer.is_some_and(|ip| ip.is_loopback()),
    }
}

/// Adds `; Secure` to a `Set-Cookie` value that lacks it.
pub(crate) fn secure_cookie(value: &str) -> Option<String> {
    let has = value
        .split(';')
        .skip(1)
        .any(|a| a.trim().eq_ignore_ascii_case("secure"));
    (!has).then(|| format!("{value}; Secure"))
}

/// The middleware: redirect, `/metrics` and `/health` access, then the headers.
pub(crate) async fn layer(State(edge): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    let secure = is_secure(&req);
    let peer = peer_ip(&req);
    if must_redirect(&edge, secure, peer, req.uri().path()) {
        let port = edge.https_port.unwrap_or(443);
        return match https_location(req.headers(), req.uri(), port) {
            Some(to) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response(),
            None => (StatusCode::BAD_REQUEST, "use HTTPS").into_response(),
        };
    }
    let path = req.uri().path();
    if path == "/metrics" || path == "/health" {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !edge.ops.allows(peer, auth) {
            let brief = path == "/health";
            return with_headers(
                super::ops::refused(brief, edge.ops.has_token()),
                &edge,
                secure,
            );
        }
    }
    let resp = next.run(req).await;
    with_headers(resp, &edge, secure)
}

fn with_headers(mut resp: Response, edge: &Edge, secure: bool) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        header::HeaderName::from_static("permissions-policy"),
        "microphone=(self), camera=(), geolocation=()",
    );
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if secure {
        if edge.hsts_max_age_secs > 0
            && let Ok(v) = HeaderValue::from_str(&format!("max-age={}", edge.hsts_max_age_secs))
        {
            h.insert(header::STRICT_TRANSPORT_SECURITY, v);
        }
        // Cookies set over HTTPS are sent back over HTTPS only (RFC 6265 §4.1.2.5).
        let cookies: Vec<HeaderValue> = h.get_all(header::SET_COOKIE).iter().cloned().collect();
        if !cookies.is_empty() {
            h.remove(header::SET_COOKIE);
            for c in cookies {
                let fixed = c
                    .to_str()
                    .ok()
                    .and_then(secure_cookie)
                    .and_then(|s| HeaderValue::from_str(&s).ok());
                h.append(header::SET_COOKIE, fixed.unwrap_or(c));
            }
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(plain: PlainHttp) -> Edge {
        Edge {
            https_port: Some(8443),
            plain,
            ..Edge::default()
        }
    }

    #[test]
    fn plain_http_is_redirected_per_mode() {
        let lo = Some(IpAddr::from([127, 0, 0, 1]));
        let lan = Some(IpAddr::from([192, 0, 2, 7]));
        let e = edge(PlainHttp::Loopback);
        assert!(!must_redirect(&e, false, lo, "/"));
        assert!(must_redirect(&e, false, lan, "/"));
        assert!(!must_redirect(&e, true, lan, "/"), "already HTTPS");
        assert!(!must_redirect(&e, false, lan, "/ready"), "probes stay open");
        assert!(must_redirect(
            &edge(PlainHttp::Redirect),
            false,
            lo,
            "/desk.html"
        ));
        assert!(!must_redirect(&edge(PlainHttp::Serve), false, lan, "/"));
        assert!(
            !must_redirect(&Edge::default(), false, lan, "/"),
            "no HTTPS"
        );
    }

    #[test]
    fn the_redirect_keeps_host_and_path_and_swaps_the_port() {
        let mut h = HeaderMap::new();
        let uri: axum::http::Uri = "/desk.html?x=1".parse().unwrap();
        h.insert(header::HOST, HeaderValue::from_static("desk.example:8080"));
        assert_eq!(
            https_location(&h, &uri, 8443).as_deref(),
            Some("https://desk.example:8443/desk.html?x=1")
        );
        h.insert(header::HOST, HeaderValue::from_static("[2001:db8::1]:8080"));
        assert_eq!(
            https_location(&h, &uri, 443).as_deref(),
            Some("https://[2001:db8::1]/desk.html?x=1")
        );
        h.insert(header::HOST, HeaderValue::from_static("evil.example/x@y"));
        assert_eq!(https_location(&h, &uri, 443), None);
        assert_eq!(https_location(&HeaderMap::new(), &uri, 443), None);
    }

    #[test]
    fn cookies_get_secure_once() {
        assert_eq!(
            secure_cookie("s=1; HttpOnly; Path=/").as_deref(),
            Some("s=1; HttpOnly; Path=/; Secure")
        );
        assert_eq!(secure_cookie("s=1; secure"), None);
    }

    /// The pages must work under [`CSP`]: no inline script (import maps included), no inline
    /// style element or attribute, no `on…=` handler, no `javascript:` URL.
    #[test]
    fn the_pages_have_no_inline_script_or_style() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut seen = 0;
        for entry in std::fs::read_dir(&web).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("html") {
                continue;
            }
            seen += 1;
            let text = std::fs::read_to_string(&path).unwrap().to_ascii_lowercase();
            let name = path.display();
            for (i, _) in text.match_indices("<script") {
                let tag = &text[i..i + text[i..].find('>').unwrap()];
                assert!(tag.contains(" src="), "{name}: inline <script>: {tag}");
            }
            assert!(!text.contains("<style"), "{name}: <style> element");
            assert!(!text.contains(" style="), "{name}: style attribute");
            assert!(!text.contains("javascript:"), "{name}: javascript: URL");
            let handler = text.split_whitespace().any(|w| {
                w.starts_with("on")
                    && w.contains('=')
                    && w[2..w.find('=').unwrap()]
                        .bytes()
                        .all(|b| b.is_ascii_lowercase())
            });
            assert!(!handler, "{name}: inline event handler");
        }
        assert!(seen >= 3, "the pages were not found in {}", web.display());
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_no_framing() {
        assert!(!CSP.contains("unsafe"));
        assert!(CSP.contains("frame-ancestors 'none'"));
        assert!(CSP.contains("script-src 'self'"));
    }
}
