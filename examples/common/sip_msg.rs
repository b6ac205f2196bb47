//! A minimal SIP message reader (request or response, compact header names) for the
//! integration tests (tests/it, included with `#[path]`) and the SIP load client; no I/O.
//! `parse` also frames a stream: it returns `None` until a whole message is buffered.

/// A parsed SIP message (request or response), as far as the tests and load clients need it.
#[derive(Debug, Clone)]
pub(crate) struct SipMsg {
    /// Request line or status line.
    pub(crate) start: String,
    /// Headers in order, names as received.
    pub(crate) headers: Vec<(String, String)>,
    /// The body (Content-Length bytes).
    pub(crate) body: Vec<u8>,
    /// The whole message as received, for identity checks.
    pub(crate) raw: Vec<u8>,
}

/// Compact header forms (RFC 3261 §7.3.3) mapped to their long names.
pub(crate) fn long_name(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.as_str() {
        "v" => "via",
        "f" => "from",
        "t" => "to",
        "i" => "call-id",
        "m" => "contact",
        "l" => "content-length",
        "c" => "content-type",
        "k" => "supported",
        "s" => "subject",
        other => return other.to_string(),
    }
    .to_string()
}

impl SipMsg {
    /// Parses one complete message; `None` when it is not SIP or incomplete.
    pub(crate) fn parse(buf: &[u8]) -> Option<SipMsg> {
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&buf[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let start = lines.next()?.to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        let mut msg = SipMsg {
            start,
            headers,
            body: Vec::new(),
            raw: Vec::new(),
        };
        let len: usize = msg
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body_start = end + 4;
        let body = buf.get(body_start..body_start + len)?;
        msg.body = body.to_vec();
        msg.raw = buf[..body_start + len].to_vec();
        Some(msg)
    }

    /// First value of a header, by long or compact name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let want = long_name(name);
        self.headers
            .iter()
            .find(|(n, _)| long_name(n) == want)
            .map(|(_, v)| v.as_str())
    }

    /// The status code of a response.
    pub(crate) fn status(&self) -> Option<u16> {
        let rest = self.start.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }

    /// The method of a request.
    pub(crate) fn method(&self) -> Option<&str> {
        if self.start.starts_with("SIP/2.0") {
            None
        } else {
            self.start.split(' ').next()
        }
    }

    /// The method named in CSeq.
    pub(crate) fn cseq_method(&self) -> Option<&str> {
        self.header("cseq")?.split_whitespace().nth(1)
    }

    /// The body as text.
    pub(crate) fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `tag` parameter of the To header.
    pub(crate) fn to_tag(&self) -> Option<String> {
        tag_of(self.header("to")?)
    }
}

fn tag_of(v: &str) -> Option<String> {
    v.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("tag="))
        .map(str::to_string)
}

impl SipMsg {
    /// A bare response to this request: Via, From, To, Call-ID and CSeq copied (RFC 3261
    /// §8.2.6.2), no body.
    pub(crate) fn response(&self, code: u16, reason: &str) -> String {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for (n, v) in &self.headers {
            if matches!(
                long_name(n).as_str(),
                "via" | "from" | "to" | "call-id" | "cseq"
            ) {
                s.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }
}

/// `name="value"` or `name=value` in a `Digest …` challenge (RFC 7616 §3.3; the values the
/// server sends hold no commas).
pub(crate) fn digest_param(challenge: &str, name: &str) -> Option<String> {
    let body = challenge.trim().strip_prefix("Digest")?;
    body.split(',').find_map(|part| {
        let (n, v) = part.trim().split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}
