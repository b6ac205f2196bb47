//! One load-client registration: REGISTER → 401 with digest challenges → REGISTER with the
//! answer (RFC 7616 §3.4, qop=auth; SHA-256 or MD5 as the server offers and `--digest` asks)
//! → 200. Each account keeps its Call-ID and counts CSeq on (RFC 3261 §10.2.4), on its own link.

use std::cell::Cell;
use std::time::Duration;

use firstline::sip::DigestAlgorithm;
use tokio::time::Instant;

use crate::dialog::{Dialog, Failure, token};
use crate::link::Links;
use crate::sip_msg::{SipMsg, digest_param as param};

/// Which challenge the client answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestChoice {
    /// The first one the server offers that we know (RFC 8760 §2.4: the server's preference).
    Auto,
    /// Only this algorithm; a 401 without it is a failure.
    Only(DigestAlgorithm),
}

impl DigestChoice {
    /// `auto`, `sha256` or `md5`.
    pub(crate) fn parse(s: &str) -> Result<DigestChoice, String> {
        match s {
            "auto" => Ok(DigestChoice::Auto),
            "sha256" => Ok(DigestChoice::Only(DigestAlgorithm::Sha256)),
            "md5" => Ok(DigestChoice::Only(DigestAlgorithm::Md5)),
            _ => Err(format!("--digest: auto, sha256 or md5, not {s:?}")),
        }
    }
}

/// The accounts of a run: extensions `first..first + count`, one password, one Call-ID each.
pub(crate) struct Accounts {
    pub(crate) first: u64,
    pub(crate) count: u64,
    pub(crate) password: String,
    pub(crate) digest: DigestChoice,
    pub(crate) timeout: Duration,
    /// Registration expiry asked for (seconds).
    pub(crate) expires: u32,
    run: String,
    cseq: Vec<Cell<u32>>,
    busy: Vec<Cell<bool>>,
}

impl Accounts {
    /// `count` accounts from extension `first`.
    pub(crate) fn new(
        first: u64,
        count: u64,
        password: String,
        digest: DigestChoice,
        timeout: Duration,
    ) -> Accounts {
        Accounts {
            first,
            count: count.max(1),
            password,
            digest,
            timeout,
            expires: 3600,
            run: token(),
            cseq: (0..count.max(1)).map(|_| Cell::new(0)).collect(),
            busy: (0..count.max(1)).map(|_| Cell::new(false)).collect(),
        }
    }
}

/// Clears an account's busy flag however the registration ends.
struct Busy<'a>(&'a Cell<bool>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Registration `k`: account `k mod count` on its own link; on success, REGISTER → 200 time.
pub(crate) async fn register(links: &Links, k: u64, acc: &Accounts) -> Result<Duration, Failure> {
    let i = k % acc.count;
    // `i < count`, the length of both vectors.
    let (busy, cseq) = (&acc.busy[i as usize], &acc.cseq[i as usize]);
    if busy.replace(true) {
        return Err(Failure::AccountBusy);
    }
    let _busy = Busy(busy);
    let ext = acc.first + i;
    let server = links.server;
    let ruri = format!("sip:{server}{}", links.transport.uri_param());
    let aor = format!("sip:{ext}@{}", server.ip());
    let link = links.pick(i);
    let call_id = format!("reg-{ext}-{}@{}", acc.run, link.local.ip());
    let mut d = Dialog::new(links, link, ext.to_string(), &aor, Some(call_id));
    // From and To are both the AOR (RFC 3261 §10.2).
    d.to = format!("<{aor}>");
    let expires = format!("Expires: {}\r\n", acc.expires);
    let started = Instant::now();
    let deadline = started + acc.timeout;

    let n = cseq.get() + 1;
    cseq.set(n + 1);
    let first = d.request("REGISTER", &ruri, n, &token(), &expires, "");
    let challenge = d.transact(&first, "REGISTER", n, deadline).await?;
    match challenge.status() {
        Some(401) => {}
        Some(200) => return Ok(started.elapsed()),
        other => return Err(Failure::Status("REGISTER", other.unwrap_or(0))),
    }
    let auth = authorization(&challenge, &d.user, &acc.password, &ruri, acc.digest)
        .ok_or(Failure::Malformed("challenge"))?;
    let extra = format!("{expires}Authorization: {auth}\r\n");
    let second = d.request("REGISTER", &ruri, n + 1, &token(), &extra, "");
    let done = d.transact(&second, "REGISTER", n + 1, deadline).await?;
    match done.status() {
        Some(200) => Ok(started.elapsed()),
        other => Err(Failure::Status("REGISTER_auth", other.unwrap_or(0))),
    }
}

/// The `Authorization` value answering the chosen challenge of a 401 with qop=auth, nc=1.
fn authorization(
    challenge: &SipMsg,
    user: &str,
    password: &str,
    uri: &str,
    choice: DigestChoice,
) -> Option<String> {
    let (www, alg) = challenge
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
        .find_map(|(_, v)| {
            let alg = DigestAlgorithm::parse(param(v, "algorithm").as_deref())?;
            (choice == DigestChoice::Auto || choice == DigestChoice::Only(alg)).then_some((v, alg))
        })?;
    let (realm, nonce) = (param(www, "realm")?, param(www, "nonce")?);
    let ha1 = alg.hash_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = alg.hash_hex(&format!("REGISTER:{uri}"));
    let (nc, cnonce) = ("00000001", token());
    let response = alg.hash_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let opaque = param(www, "opaque")
        .map(|o| format!(", opaque=\"{o}\""))
        .unwrap_or_default();
    Some(format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"{cnonce}\"{opaque}",
        alg = alg.token()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(algs: &[&str]) -> SipMsg {
        let mut raw = String::from("SIP/2.0 401 Unauthorized\r\nCSeq: 1 REGISTER\r\n");
        for a in algs {
            raw.push_str(&format!(
                "WWW-Authenticate: Digest realm=\"firstline\", nonce=\"n-{a}\", \
                 algorithm={a}, qop=\"auth\"\r\n"
            ));
        }
        raw.push_str("Content-Length: 0\r\n\r\n");
        SipMsg::parse(raw.as_bytes()).expect("a whole message")
    }

    fn answer(algs: &[&str], choice: DigestChoice) -> Option<String> {
        authorization(
            &challenge(algs),
            "40001",
            "pw",
            "sip:127.0.0.1:5061",
            choice,
        )
    }

    #[test]
    fn answers_the_challenge_asked_for() {
        let both = ["SHA-256", "MD5"];
        let auto = answer(&both, DigestChoice::Auto).expect("an answer");
        assert!(auto.contains("algorithm=SHA-256") && auto.contains("nonce=\"n-SHA-256\""));
        let md5 = answer(&both, DigestChoice::parse("md5").expect("md5")).expect("an answer");
        assert!(md5.contains("algorithm=MD5") && md5.contains("nonce=\"n-MD5\""));
        assert!(md5.contains("qop=auth, nc=00000001"));
        assert_eq!(
            answer(&["MD5"], DigestChoice::parse("sha256").expect("sha256")),
            None
        );
    }

    #[test]
    fn response_is_kd_of_ha1_and_ha2() {
        let a = answer(&["MD5"], DigestChoice::Auto).expect("an answer");
        let field = |name: &str| {
            let (_, rest) = a.split_once(&format!("{name}=\"")).expect("field");
            rest.split('"').next().expect("closing quote").to_owned()
        };
        let md5 = DigestAlgorithm::Md5;
        let ha1 = md5.hash_hex("40001:firstline:pw");
        let ha2 = md5.hash_hex("REGISTER:sip:127.0.0.1:5061");
        let kd = md5.hash_hex(&format!(
            "{ha1}:n-MD5:00000001:{}:auth:{ha2}",
            field("cnonce")
        ));
        assert_eq!(field("response"), kd);
    }
}
