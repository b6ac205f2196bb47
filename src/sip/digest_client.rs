//! Our side of digest authentication (RFC 3261 §22.2, RFC 7616): the `Authorization` or
//! `Proxy-Authorization` value that answers a trunk's `WWW-Authenticate` / `Proxy-Authenticate`
//! challenge. No I/O; the server side (checking phones) is `auth.rs`.

use super::auth::{Algorithm, Credentials, expected_response, params};
use super::build::random_u64;

/// The credentials line answering `challenge` for `method uri`; `None` when the challenge is
/// not a digest one we can answer (no nonce, an unknown algorithm, only `qop=auth-int`).
pub(crate) fn authorization(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
) -> Option<String> {
    let cnonce = format!("{:016x}", random_u64());
    answer(challenge, method, uri, username, password, &cnonce)
}

fn answer(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
) -> Option<String> {
    let challenge = challenge.trim();
    let (scheme, rest) = challenge.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let p = params(rest);
    let get = |k: &str| {
        p.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm")?;
    let nonce = get("nonce").filter(|n| !n.is_empty())?;
    let algorithm = get("algorithm");
    let alg = Algorithm::parse(algorithm)?;
    let qop = match get("qop") {
        None => None,
        Some(list)
            if list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth")) =>
        {
            Some("auth")
        }
        // Only auth-int (or something unknown) offered: we do not protect bodies.
        Some(_) => return None,
    };
    let ha1 = alg.hash_hex(&format!("{username}:{realm}:{password}"));
    let creds = Credentials {
        username: username.to_string(),
        realm: realm.to_string(),
        nonce: nonce.to_string(),
        uri: uri.to_string(),
        response: String::new(),
        algorithm: algorithm.map(str::to_string),
        qop: qop.map(str::to_string),
        nc: qop.map(|_| "00000001".to_string()),
        cnonce: qop.map(|_| cnonce.to_string()),
    };
    let response = expected_response(alg, &ha1, method, &creds)?;
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        quoted(username),
        quoted(realm),
        quoted(nonce),
        quoted(uri),
        alg.token(),
    );
    if qop.is_some() {
        out.push_str(&format!(", qop=auth, nc=00000001, cnonce=\"{cnonce}\""));
    }
    if let Some(opaque) = get("opaque") {
        out.push_str(&format!(", opaque=\"{}\"", quoted(opaque)));
    }
    Some(out)
}

/// A quoted-string's content (RFC 3261 §25.1): `"` and `\` escaped, line breaks dropped.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::auth::parse_authorization;
    use super::*;

    #[test]
    fn answers_the_rfc_2617_example() {
        // RFC 2617 §3.5 (HTTP, but the same computation).
        let challenge = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
                         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let a = answer(
            challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
        )
        .expect("answerable");
        assert!(
            a.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{a}"
        );
        assert!(a.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
        assert!(a.contains("qop=auth, nc=00000001, cnonce=\"0a4f113b\""));
    }

    #[test]
    fn our_registrar_accepts_what_we_send_md5_and_sha256_with_and_without_qop() {
        for (alg, qop) in [
            ("MD5", ""),
            ("MD5", ", qop=\"auth\""),
            ("SHA-256", ", qop=\"auth\""),
        ] {
            let challenge =
                format!("Digest realm=\"trunk.example\", nonce=\"abc123\", algorithm={alg}{qop}");
            let uri = "sip:+31201234567@trunk.example";
            let v = authorization(&challenge, "INVITE", uri, "hotline", "s3cret").unwrap();
            let creds = parse_authorization(&v).expect("parses as credentials");
            let a = Algorithm::parse(creds.algorithm.as_deref()).unwrap();
            let ha1 = a.hash_hex("hotline:trunk.example:s3cret");
            assert_eq!(
                expected_response(a, &ha1, "INVITE", &creds).as_deref(),
                Some(creds.response.as_str()),
                "{v}"
            );
            assert_eq!(creds.uri, uri);
        }
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        let q = |c: &str| authorization(c, "INVITE", "sip:x@y", "u", "p");
        assert!(q("Basic realm=\"x\"").is_none());
        assert!(q("Digest realm=\"x\"").is_none(), "no nonce");
        assert!(q("Digest realm=\"x\", nonce=\"n\", algorithm=MD5-sess").is_none());
        assert!(q("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"").is_none());
        assert!(q("Digest realm=\"x\", nonce=\"n\"").is_some());
    }
}
