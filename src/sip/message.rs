//! Parsed view of one SIP message (no I/O): our start line, rsipstack's header parser, typed accessors.
//!
//! The start line is parsed here so that an unknown method still yields a message we can answer
//! (501); the header section (compact forms, folding) is parsed by `rsipstack::rsip`.

use rsipstack::rsip::{Header, Headers, SipMessage, parser::parse_message};

/// The methods this layer knows; anything else is kept as text (RFC 3261 §7.1, extension-method).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Cancel,
    Bye,
    Options,
    Info,
    Update,
    Register,
    Subscribe,
    Notify,
    Message,
    Refer,
    Prack,
    Publish,
    Other(String),
}

impl Method {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "CANCEL" => Self::Cancel,
            "BYE" => Self::Bye,
            "OPTIONS" => Self::Options,
            "INFO" => Self::Info,
            "UPDATE" => Self::Update,
            "REGISTER" => Self::Register,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "MESSAGE" => Self::Message,
            "REFER" => Self::Refer,
            "PRACK" => Self::Prack,
            "PUBLISH" => Self::Publish,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Cancel => "CANCEL",
            Self::Bye => "BYE",
            Self::Options => "OPTIONS",
            Self::Info => "INFO",
            Self::Update => "UPDATE",
            Self::Register => "REGISTER",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Message => "MESSAGE",
            Self::Refer => "REFER",
            Self::Prack => "PRACK",
            Self::Publish => "PUBLISH",
            Self::Other(s) => s,
        }
    }
}

/// Request line or status line.
#[derive(Debug, Clone)]
pub enum StartLine {
    Request { method: Method, uri: String },
    Response { code: u16 },
}

/// Why a message could not be parsed at all (nothing to answer from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty message")]
    Empty,
    #[error("missing CRLFCRLF after the headers")]
    NoHeaderEnd,
    #[error("start line is not UTF-8")]
    NotUtf8,
    #[error("bad start line")]
    BadStartLine,
    #[error("header section rejected: {0}")]
    Headers(String),
    /// A control character (NUL, ESC, DEL, a bare CR …) inside the header section, where the
    /// RFC 3261 §25.1 grammar allows none but HTAB.
    #[error("control character in header")]
    ControlChar,
}

/// One parsed SIP message: start line, headers (rsipstack model), body.
#[derive(Debug, Clone)]
pub struct SipMsg {
    pub start: StartLine,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// `Some(n)` when a Content-Length header was present and numeric.
    pub(crate) content_length: Option<usize>,
    /// Bytes after the blank line (before Content-Length truncation).
    pub(crate) available_body: usize,
    /// The SIP-Version of a request line (`SIP/2.0`; another one is answered 505 by `validate`).
    pub version: String,
}

/// Finds the end of the header section (index of the CRLFCRLF).
pub(crate) fn find_header_end(data: &[u8]) -> Option<usize> {
    data.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Parses a complete message (one datagram or one framed TCP message). Never panics.
pub fn parse(data: &[u8]) -> Result<SipMsg, ParseError> {
    if data.is_empty() {
        return Err(ParseError::Empty);
    }
    let sep = find_header_end(data).ok_or(ParseError::NoHeaderEnd)?;
    let line_end = data
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(ParseError::NoHeaderEnd)?;
    let line = std::str::from_utf8(&data[..line_end]).map_err(|_| ParseError::NotUtf8)?;
    let start = parse_start_line(line).ok_or(ParseError::BadStartLine)?;
    // (No header lines at all: the start line's CRLF is the blank line's first half.)
    if has_control_char(data.get(line_end + 2..sep).unwrap_or_default()) {
        return Err(ParseError::ControlChar);
    }
    // rsipstack parses the header section; its start-line parser only knows 14 methods, so it is
    // given a fixed one and ours is kept.
    let mut tmp = Vec::with_capacity(sep + 32);
    tmp.extend_from_slice(b"OPTIONS sip:x SIP/2.0");
    tmp.extend_from_slice(&data[line_end..sep + 4]);
    let headers = match parse_message(&tmp) {
        Ok(SipMessage::Request(r)) => r.headers,
        Ok(SipMessage::Response(r)) => r.headers,
        Err(e) => return Err(ParseError::Headers(e.to_string())),
    };
    let rest = &data[sep + 4..];
    let mut msg = SipMsg {
        start,
        headers,
        body: Vec::new(),
        content_length: None,
        available_body: rest.len(),
        version: version_of(line).to_string(),
    };
    msg.content_length = msg
        .header("Content-Length")
        .and_then(|v| v.trim().parse().ok());
    let take = msg.content_length.unwrap_or(rest.len()).min(rest.len());
    msg.body = rest[..take].to_vec();
    Ok(msg)
}

/// Best-effort parse of a message whose start line or framing is broken, to answer it with
/// 400/413: the header section (possibly truncated at the last complete line) is still read.
/// Returns `None` for responses and for input without a single header line.
pub fn parse_headers_only(data: &[u8]) -> Option<SipMsg> {
    if let Ok(m) = parse(data) {
        return Some(m);
    }
    if data.starts_with(b"SIP/") {
        return None;
    }
    let end = find_header_end(data).map_or(data.len(), |s| s + 2);
    let head = &data[..end];
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let last = head.windows(2).rposition(|w| w == b"\r\n")?;
    let start = std::str::from_utf8(&head[..line_end])
        .ok()
        .and_then(parse_start_line)
        .filter(|s| matches!(s, StartLine::Request { .. }))
        .unwrap_or(StartLine::Request {
            method: Method::Other("?".into()),
            uri: String::new(),
        });
    let mut tmp = Vec::with_capacity(last + 32);
    tmp.extend_from_slice(b"OPTIONS sip:x SIP/2.0");
    // Control characters become spaces, so that a message refused for one can still be answered.
    tmp.extend(head[line_end..last].iter().enumerate().map(|(i, &b)| {
        let line_break = b == b'\n' || (b == b'\r' && head.get(line_end + i + 1) == Some(&b'\n'));
        if is_control(b) && !line_break {
            b' '
        } else {
            b
        }
    }));
    tmp.extend_from_slice(b"\r\n\r\n");
    let headers = match parse_message(&tmp).ok()? {
        SipMessage::Request(r) => r.headers,
        SipMessage::Response(r) => r.headers,
    };
    Some(SipMsg {
        start,
        headers,
        body: Vec::new(),
        content_length: None,
        available_body: 0,
        version: "SIP/2.0".into(),
    })
}

/// A byte that RFC 3261 §25.1 allows nowhere in a header section but as HTAB or in CRLF.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// True when the header lines (between the start line's CRLF and the blank line) carry a
/// control character other than HTAB and line breaks (CRLF; a bare LF is tolerated as old
/// stacks send it, a bare CR is not).
fn has_control_char(headers: &[u8]) -> bool {
    headers.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => false,
        b'\r' => headers.get(i + 1) != Some(&b'\n'),
        b => is_control(b),
    })
}

/// The SIP-Version of a request line (its last word), or `SIP/2.0` for a status line.
fn version_of(line: &str) -> &str {
    if line.starts_with("SIP/") {
        return "SIP/2.0";
    }
    line.trim_end().rsplit(' ').next().unwrap_or("").trim()
}

/// `SIP/<digits>.<digits>` (RFC 3261 §7.1 SIP-Version).
fn is_sip_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix("SIP/") else {
        return false;
    };
    let Some((major, minor)) = rest.split_once('.') else {
        return false;
    };
    [major, minor]
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses `METHOD SP URI SP SIP/2.0` or `SIP/2.0 SP CODE SP reason` (RFC 3261 §7.1, §7.2).
pub(crate) fn parse_start_line(line: &str) -> Option<StartLine> {
    if line.bytes().any(is_control) {
        return None;
    }
    let mut parts = line.splitn(3, ' ');
    let a = parts.next()?;
    let b = parts.next()?;
    let c = parts.next()?;
    if a == "SIP/2.0" {
        let code: u16 = b.parse().ok()?;
        if !(100..700).contains(&code) {
            return None;
        }
        return Some(StartLine::Response { code });
    }
    // Another SIP version still makes a request line: it is answered 505 (RFC 3261 §21.5.6).
    if !is_sip_version(c.trim()) || a.is_empty() || b.is_empty() {
        return None;
    }
    if !a
        .bytes()
        .all(|ch| ch.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&ch))
    {
        return None;
    }
    Some(StartLine::Request {
        method: Method::parse(a),
        uri: b.to_string(),
    })
}

/// Value of a `;name=value` parameter in a header value (after the `>` of a name-addr).
pub(crate) fn header_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

impl SipMsg {
    /// First header with this (full, case-insensitive) name; compact forms were mapped by rsipstack.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .map(Header::value)
    }

    /// Every line of a header as it came, not split at commas (digest challenges, whose
    /// parameters are comma-separated).
    pub(crate) fn header_lines<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name().eq_ignore_ascii_case(name))
            .map(Header::value)
    }

    /// All values of a header, comma-separated entries split (for Via, Record-Route).
    pub(crate) fn header_list(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(name))
            .flat_map(|h| split_commas(h.value()))
            .collect()
    }

    pub(crate) fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub(crate) fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// CSeq number and method (RFC 3261 §8.1.1.5).
    pub(crate) fn cseq(&self) -> Option<(u32, &str)> {
        let v = self.header("CSeq")?;
        let mut it = v.split_whitespace();
        let n = it.next()?.parse().ok()?;
        Some((n, it.next()?))
    }

    /// The From-tag (RFC 3261 §8.1.1.3); named as the RFC names it.
    #[allow(clippy::wrong_self_convention)]
    pub(crate) fn from_tag(&self) -> Option<&str> {
        self.header("From").and_then(|v| header_param(v, "tag"))
    }

    pub(crate) fn to_tag(&self) -> Option<&str> {
        self.header("To")
            .and_then(|v| header_param(v, "tag"))
            .filter(|t| !t.is_empty())
    }

    pub(crate) fn top_via(&self) -> Option<String> {
        self.header_list("Via").into_iter().next()
    }

    /// Branch of the top Via (RFC 3261 §8.1.1.7).
    pub(crate) fn branch(&self) -> Option<String> {
        let via = self.top_via()?;
        header_param(&via, "branch").map(str::to_string)
    }

    /// `sent-by` of the top Via (host[:port]).
    pub(crate) fn sent_by(&self) -> Option<String> {
        let via = self.top_via()?;
        let after_proto = via.split_whitespace().nth(1)?;
        Some(after_proto.split(';').next()?.to_string())
    }
}

/// Splits a header value on commas that are outside quotes and angle brackets.
pub(crate) fn split_commas(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(value[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim().to_string());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:1234@10.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK0\r\n\
f: \"Ann\" <sip:ann@example.com>;tag=abc\r\n\
t: <sip:1234@10.0.0.1>\r\n\
i: call-1\r\n\
CSeq: 7\r\n  INVITE\r\n\
l: 4\r\n\
\r\n\
v=0\r\n";

    #[test]
    fn compact_and_folded_headers_are_understood() {
        let m = parse(INVITE.as_bytes()).unwrap();
        assert_eq!(m.method(), Some(&Method::Invite));
        assert_eq!(m.call_id(), Some("call-1"));
        assert_eq!(m.cseq(), Some((7, "INVITE")));
        assert_eq!(m.from_tag(), Some("abc"));
        assert_eq!(m.to_tag(), None);
        assert_eq!(m.branch().as_deref(), Some("z9hG4bK1"));
        assert_eq!(m.sent_by().as_deref(), Some("10.0.0.2:5062"));
        assert_eq!(m.header_list("Via").len(), 2);
        assert_eq!(m.body, b"v=0\r");
    }

    #[test]
    fn unknown_method_is_kept() {
        let m = parse(b"FOO sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n").unwrap();
        assert_eq!(m.method(), Some(&Method::Other("FOO".into())));
    }

    #[test]
    fn bad_start_lines_are_errors() {
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(
            parse(b"INVITE sip:x SIP/2.0\r\n").unwrap_err(),
            ParseError::NoHeaderEnd
        );
        assert_eq!(
            parse(b"hello\r\n\r\n").unwrap_err(),
            ParseError::BadStartLine
        );
        assert_eq!(
            parse(b"SIP/2.0 99 x\r\n\r\n").unwrap_err(),
            ParseError::BadStartLine
        );
        assert!(parse(b"\xff\xfe \x00\r\n\r\n").is_err());
    }

    #[test]
    fn control_characters_in_headers_are_refused_but_answerable() {
        let raw = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c\x00d\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert_eq!(parse(raw).unwrap_err(), ParseError::ControlChar);
        let m = parse_headers_only(raw).unwrap();
        assert_eq!(m.call_id(), Some("c d"), "answerable with the NUL blanked");
        assert_eq!(m.header("CSeq"), Some("1 OPTIONS"));
        // HTAB, UTF-8 and a folded line are fine; ESC, DEL and a bare CR are not.
        assert!(parse(b"OPTIONS sip:x SIP/2.0\r\nSubject:\tcaf\xc3\xa9\r\n more\r\n\r\n").is_ok());
        for bad in [&b"a\rb"[..], b"a\x1bb", b"a\x7fb"] {
            let mut m = b"OPTIONS sip:x SIP/2.0\r\nSubject: ".to_vec();
            m.extend_from_slice(bad);
            m.extend_from_slice(b"\r\n\r\n");
            assert_eq!(parse(&m).unwrap_err(), ParseError::ControlChar, "{bad:?}");
        }
        // No header lines at all, and the body may carry anything.
        assert!(parse(b"OPTIONS sip:x SIP/2.0\r\n\r\n").is_ok());
        assert!(parse(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 2\r\n\r\n\x00\x01").is_ok());
    }

    #[test]
    fn another_sip_version_still_parses_as_a_request() {
        let m = parse(b"OPTIONS sip:x SIP/3.0\r\nCall-ID: 1\r\n\r\n").unwrap();
        assert_eq!(m.version, "SIP/3.0");
        let m = parse(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\n").unwrap();
        assert_eq!(m.version, "SIP/2.0");
        for line in [
            "OPTIONS sip:x HTTP/1.1",
            "OPTIONS sip:x SIP/x.y",
            "OPTIONS sip:x SIP/2",
            "OPTIONS sip:x\0 SIP/2.0",
        ] {
            let raw = format!("{line}\r\nCall-ID: 1\r\n\r\n");
            assert_eq!(
                parse(raw.as_bytes()).unwrap_err(),
                ParseError::BadStartLine,
                "{line}"
            );
        }
    }

    /// Regression (fuzz, sip): a request line with trailing white space is accepted by
    /// `parse_start_line` (it trims the version), but `version_of` took the empty last word,
    /// so `OPTIONS sip:x SIP/2.0 ` was answered 505 Version Not Supported.
    #[test]
    fn trailing_white_space_after_the_version_is_not_another_version() {
        let m = parse(b"OPTIONS sip:x SIP/2.0 \r\nCall-ID: 1\r\n\r\n").unwrap();
        assert_eq!(m.version, "SIP/2.0");
        let m = parse(b"OPTIONS sip:x SIP/3.0 \t\r\nCall-ID: 1\r\n\r\n").unwrap();
        assert_eq!(m.version, "SIP/3.0");
    }

    #[test]
    fn commas_inside_quotes_do_not_split() {
        assert_eq!(
            split_commas("\"a, b\" <sip:x>, <sip:y,z>"),
            vec!["\"a, b\" <sip:x>", "<sip:y,z>"]
        );
    }
}
