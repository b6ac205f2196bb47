//! Request validation before any transaction is created (RFC 3261 §8.2, §16.3), no I/O.

use super::message::{Method, SipMsg, StartLine};

/// What to do with a request that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Valid enough to process.
    Ok,
    /// Answer statelessly with this status, reason phrase and extra headers.
    Reject {
        code: u16,
        reason: String,
        extra: Vec<(&'static str, String)>,
    },
    /// Not answerable (ACK never gets a response, RFC 3261 §17.1.1.3): drop and count.
    Drop,
}

fn bad(what: &str) -> Verdict {
    Verdict::Reject {
        code: 400,
        reason: format!("Bad Request ({what})"),
        extra: Vec::new(),
    }
}

/// Checks a parsed request (RFC 3261 §8.1.1 mandatory headers, §8.2.2 URI scheme and Require).
pub(crate) fn check_request(msg: &SipMsg) -> Verdict {
    let StartLine::Request { method, uri } = &msg.start else {
        return Verdict::Drop;
    };
    let verdict = check_inner(msg, method, uri);
    if *method == Method::Ack && verdict != Verdict::Ok {
        return Verdict::Drop;
    }
    verdict
}

fn check_inner(msg: &SipMsg, method: &Method, uri: &str) -> Verdict {
    // RFC 3261 §8.2 / §21.5.6: a SIP-Version we do not speak → 505.
    if msg.version != "SIP/2.0" {
        return Verdict::Reject {
            code: 505,
            reason: "Version Not Supported".into(),
            extra: Vec::new(),
        };
    }
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        if msg.header(name).is_none_or(|v| v.trim().is_empty()) {
            return bad(&format!("missing {name}"));
        }
    }
    if msg.branch().is_none() || msg.sent_by().is_none() {
        return bad("malformed Via");
    }
    let Some((_, cseq_method)) = msg.cseq() else {
        return bad("malformed CSeq");
    };
    // RFC 3261 §8.1.1.5: the CSeq method MUST match the request method.
    if cseq_method != method.as_str() {
        return bad("CSeq method mismatch");
    }
    // Max-Forwards is tolerated when missing (RFC 3261 §8.1.1.6 makes it a SHOULD for old UAs).
    // Max-Forwards: 0 is accepted: we are the UAS of every request we take and never proxy one
    // (§16.3 step 3, the 483, applies to proxies; see docs/sip.md "Max-Forwards").
    if let Some(mf) = msg.header("Max-Forwards")
        && mf.trim().parse::<u32>().is_err()
    {
        return bad("malformed Max-Forwards");
    }
    // RFC 3261 §20.14 / §7.5: one Content-Length. Two that disagree leave the body (and over
    // TCP the framing) ambiguous, the classic request-smuggling hole → 400.
    let lengths: Vec<&str> = (msg.headers.iter())
        .filter(|h| h.name().eq_ignore_ascii_case("Content-Length"))
        .map(|h| h.value().trim())
        .collect();
    if lengths.windows(2).any(|w| w[0] != w[1]) {
        return bad("conflicting Content-Length");
    }
    if let Some(cl) = msg.header("Content-Length") {
        match cl.trim().parse::<usize>() {
            Err(_) => return bad("malformed Content-Length"),
            // RFC 3261 §18.3: a datagram shorter than its Content-Length is not usable.
            Ok(n) if n > msg.available_body => return bad("Content-Length larger than body"),
            Ok(_) => {}
        }
    }
    // RFC 3261 §8.2.2.1: unsupported URI scheme → 416.
    let scheme = uri.split(':').next().unwrap_or("").to_ascii_lowercase();
    if !matches!(scheme.as_str(), "sip" | "sips" | "tel") || !uri.contains(':') {
        return Verdict::Reject {
            code: 416,
            reason: "Unsupported URI Scheme".into(),
            extra: Vec::new(),
        };
    }
    // RFC 3261 §8.2.2.3: Require with an extension we do not support → 420 + Unsupported.
    // ACK and CANCEL are exempt.
    if !matches!(method, Method::Ack | Method::Cancel) {
        let required: Vec<String> = msg
            .header_list("Require")
            .into_iter()
            .filter(|t| !t.is_empty())
            // The registrar supports Path (RFC 3327 §5.2: a proxy may require it on REGISTER).
            .filter(|t| !(*method == Method::Register && t.eq_ignore_ascii_case("path")))
            .collect();
        if !required.is_empty() {
            return Verdict::Reject {
                code: 420,
                reason: "Bad Extension".into(),
                extra: vec![("Unsupported", required.join(", "))],
            };
        }
    }
    Verdict::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::parse;

    const FULL: [&str; 6] = [
        "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
        "From: <sip:a@b>;tag=1",
        "To: <sip:c@d>",
        "Call-ID: x",
        "CSeq: 1 OPTIONS",
        "Max-Forwards: 70",
    ];

    fn req(first: &str, skip: Option<usize>, extra: &str) -> SipMsg {
        let mut s = format!("{first}\r\n");
        for (i, h) in FULL.iter().enumerate() {
            if Some(i) != skip {
                s.push_str(h);
                s.push_str("\r\n");
            }
        }
        s.push_str(extra);
        s.push_str("\r\n");
        parse(s.as_bytes()).unwrap()
    }

    fn reason_of(v: Verdict) -> (u16, String) {
        match v {
            Verdict::Reject { code, reason, .. } => (code, reason),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn each_missing_mandatory_header_is_named() {
        let names = ["Via", "From", "To", "Call-ID", "CSeq"];
        for (i, name) in names.iter().enumerate() {
            let v = check_request(&req("OPTIONS sip:x@y SIP/2.0", Some(i), ""));
            assert_eq!(reason_of(v), (400, format!("Bad Request (missing {name})")));
        }
        assert_eq!(
            check_request(&req("OPTIONS sip:x@y SIP/2.0", Some(5), "")),
            Verdict::Ok
        );
    }

    #[test]
    fn scheme_require_and_cseq_rules() {
        let v = check_request(&req("OPTIONS mailto:x@y SIP/2.0", None, ""));
        assert_eq!(reason_of(v).0, 416);
        let v = check_request(&req("OPTIONS tel:+3120 SIP/2.0", None, ""));
        assert_eq!(v, Verdict::Ok);
        let v = check_request(&req("OPTIONS sip:x SIP/2.0", None, "Require: 100rel\r\n"));
        match v {
            Verdict::Reject { code, extra, .. } => {
                assert_eq!(code, 420);
                assert_eq!(extra, vec![("Unsupported", "100rel".to_string())]);
            }
            other => panic!("{other:?}"),
        }
        let v = check_request(&req("BYE sip:x SIP/2.0", None, ""));
        assert_eq!(
            reason_of(v),
            (400, "Bad Request (CSeq method mismatch)".into())
        );
        let v = check_request(&req("ACK sip:x SIP/2.0", None, ""));
        assert_eq!(v, Verdict::Drop);
    }

    #[test]
    fn other_versions_get_505_and_acks_are_dropped() {
        let v = check_request(&req("OPTIONS sip:x SIP/3.0", None, ""));
        assert_eq!(reason_of(v), (505, "Version Not Supported".into()));
        let ack = req("ACK sip:x SIP/1.0", None, "");
        assert_eq!(check_request(&ack), Verdict::Drop);
    }

    #[test]
    fn conflicting_content_lengths_get_400_and_equal_ones_pass() {
        let v = check_request(&req(
            "OPTIONS sip:x SIP/2.0",
            None,
            "Content-Length: 0\r\nContent-Length: 4\r\n",
        ));
        assert_eq!(
            reason_of(v),
            (400, "Bad Request (conflicting Content-Length)".into())
        );
        // The compact form counts as the same header (RFC 3261 §7.3.3).
        let v = check_request(&req(
            "OPTIONS sip:x SIP/2.0",
            None,
            "l: 4\r\nContent-Length: 0\r\n",
        ));
        assert_eq!(reason_of(v).0, 400);
        let v = check_request(&req(
            "OPTIONS sip:x SIP/2.0",
            None,
            "Content-Length: 0\r\nContent-Length:  0\r\n",
        ));
        assert_eq!(v, Verdict::Ok);
    }

    #[test]
    fn register_may_require_path_and_nothing_else() {
        let first = "REGISTER sip:x SIP/2.0";
        let reg = |extra: &str| {
            let raw = format!(
                "{first}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
                 To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 REGISTER\r\n{extra}\r\n"
            );
            check_request(&parse(raw.as_bytes()).unwrap())
        };
        assert_eq!(reg("Require: path\r\n"), Verdict::Ok);
        assert_eq!(reg("Require: Path\r\n"), Verdict::Ok);
        match reg("Require: path, gruu\r\n") {
            Verdict::Reject { code, extra, .. } => {
                assert_eq!(code, 420);
                assert_eq!(extra, vec![("Unsupported", "gruu".to_string())]);
            }
            other => panic!("{other:?}"),
        }
        let v = check_request(&req("OPTIONS sip:x SIP/2.0", None, "Require: path\r\n"));
        assert_eq!(reason_of(v).0, 420, "path only means something on REGISTER");
    }

    #[test]
    fn max_forwards_zero_is_accepted_by_the_uas() {
        // We never proxy: Max-Forwards 0 only limits forwarding (RFC 3261 §16.3 step 3).
        let msg = req("OPTIONS sip:x SIP/2.0", Some(5), "Max-Forwards: 0\r\n");
        assert_eq!(check_request(&msg), Verdict::Ok);
        let msg = req("OPTIONS sip:x SIP/2.0", Some(5), "Max-Forwards: x\r\n");
        assert_eq!(reason_of(check_request(&msg)).0, 400);
    }
}
