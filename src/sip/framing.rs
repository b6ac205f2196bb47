//! SIP over a byte stream: Content-Length framing, keep-alive CRLFs, size limit (no I/O).
//!
//! RFC 3261 §18.3 (Content-Length is mandatory on streams), §7.5 (CRLFs before a start line are
//! ignored), RFC 5626 §3.5.1 (`CRLFCRLF` ping is answered with a `CRLF` pong).

use super::message::{find_header_end, parse_start_line};

/// One unit cut out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete message (headers + Content-Length bytes of body).
    Message(Vec<u8>),
    /// A message whose header section has no Content-Length: answered 400, and since the body
    /// length is unknown the connection is closed afterwards.
    MissingLength(Vec<u8>),
    /// Over `max_message_bytes`: the header section for a 413. `close` when the stream cannot be
    /// resynchronised (the header section itself was too big); else the body is skipped.
    TooLarge { head: Vec<u8>, close: bool },
    /// RFC 5626 keep-alive ping: answer `\r\n`.
    Ping,
    /// Bytes that are not SIP were skipped (counted as a parse error).
    Garbage,
    /// No line end within the limit: close the connection.
    Close,
}

/// Cuts SIP messages out of a TCP byte stream.
#[derive(Debug)]
pub(crate) struct StreamFramer {
    buf: Vec<u8>,
    max: usize,
    skip: usize,
}

fn content_length(head: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l"))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

impl StreamFramer {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max,
            skip: 0,
        }
    }

    /// Appends bytes read from the socket.
    pub(crate) fn push(&mut self, data: &[u8]) {
        let skipped = self.skip.min(data.len());
        self.skip -= skipped;
        self.buf.extend_from_slice(&data[skipped..]);
    }

    /// The next frame, or `None` when more bytes are needed.
    pub(crate) fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.drain(..4);
                return Some(Frame::Ping);
            }
            if self.buf.starts_with(b"\r\n") {
                if self.buf.len() < 4 && self.buf.len() > 2 && self.buf[2] == b'\r' {
                    return None; // maybe the start of a ping
                }
                if self.buf.len() == 2 {
                    return None;
                }
                self.buf.drain(..2);
                continue;
            }
            let Some(line_end) = self.buf.windows(2).position(|w| w == b"\r\n") else {
                return (self.buf.len() > self.max).then(|| {
                    self.buf.clear();
                    Frame::Close
                });
            };
            let sip_line = std::str::from_utf8(&self.buf[..line_end])
                .ok()
                .and_then(parse_start_line)
                .is_some();
            if !sip_line {
                return self.not_a_start_line(line_end);
            }
            let Some(sep) = find_header_end(&self.buf) else {
                if self.buf.len() > self.max {
                    let head = std::mem::take(&mut self.buf);
                    return Some(Frame::TooLarge { head, close: true });
                }
                return None;
            };
            let head_len = sep + 4;
            let Some(body_len) = content_length(&self.buf[..head_len]) else {
                let head: Vec<u8> = self.buf.drain(..head_len).collect();
                return Some(Frame::MissingLength(head));
            };
            let total = head_len.saturating_add(body_len);
            if total > self.max {
                let head: Vec<u8> = self.buf.drain(..head_len).collect();
                let have = body_len.min(self.buf.len());
                self.buf.drain(..have);
                self.skip = body_len - have;
                return Some(Frame::TooLarge { head, close: false });
            }
            if self.buf.len() < total {
                return None;
            }
            return Some(Frame::Message(self.buf.drain(..total).collect()));
        }
    }
}

impl StreamFramer {
    /// The buffer does not begin with a start line. If a later line of the same header section
    /// is one, the bytes before it are garbage. Otherwise, with a Content-Length the framing is
    /// intact and the message goes to the core (which answers 400 when it can); without one the
    /// first line is dropped and we resynchronise line by line.
    fn not_a_start_line(&mut self, line_end: usize) -> Option<Frame> {
        let sep = find_header_end(&self.buf);
        let scan_end = sep.unwrap_or(self.buf.len());
        let mut pos = line_end + 2;
        while pos < scan_end {
            let rest = &self.buf[pos..scan_end];
            let len = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(rest.len());
            let is_start = std::str::from_utf8(&rest[..len])
                .ok()
                .and_then(parse_start_line)
                .is_some();
            if is_start {
                self.buf.drain(..pos);
                return Some(Frame::Garbage);
            }
            pos += len + 2;
        }
        if let Some(sep) = sep
            && let Some(body_len) = content_length(&self.buf[..sep + 4])
        {
            let total = (sep + 4).saturating_add(body_len);
            if total <= self.max {
                if self.buf.len() < total {
                    return None;
                }
                return Some(Frame::Message(self.buf.drain(..total).collect()));
            }
        }
        self.buf.drain(..line_end + 2);
        Some(Frame::Garbage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPT: &[u8] = b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabc";

    fn all(f: &mut StreamFramer) -> Vec<Frame> {
        std::iter::from_fn(|| f.next_frame()).collect()
    }

    #[test]
    fn frames_split_across_reads_and_pings() {
        let mut f = StreamFramer::new(65_535);
        f.push(b"\r\n\r\n");
        f.push(&OPT[..10]);
        assert_eq!(all(&mut f), vec![Frame::Ping]);
        f.push(&OPT[10..]);
        f.push(OPT);
        assert_eq!(
            all(&mut f),
            vec![Frame::Message(OPT.to_vec()), Frame::Message(OPT.to_vec())]
        );
    }

    #[test]
    fn garbage_then_valid_message_resyncs() {
        let mut f = StreamFramer::new(65_535);
        f.push(b"hello world\r\n\x00\x01junk\r\n");
        f.push(OPT);
        assert_eq!(
            all(&mut f),
            vec![Frame::Garbage, Frame::Message(OPT.to_vec())]
        );
    }

    #[test]
    fn broken_start_line_with_length_is_passed_on_whole() {
        let mut f = StreamFramer::new(65_535);
        let bad = b"OPT(ONS sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 2\r\n\r\nab";
        f.push(bad);
        f.push(OPT);
        assert_eq!(
            all(&mut f),
            vec![Frame::Message(bad.to_vec()), Frame::Message(OPT.to_vec())]
        );
    }

    #[test]
    fn oversize_body_is_skipped_and_stream_continues() {
        let mut f = StreamFramer::new(100);
        f.push(b"INVITE sip:a SIP/2.0\r\nContent-Length: 500\r\n\r\n");
        f.push(&[b'x'; 300]);
        let frames = all(&mut f);
        assert!(matches!(
            &frames[..],
            [Frame::TooLarge { close: false, .. }]
        ));
        f.push(&[b'x'; 200]);
        f.push(OPT);
        assert_eq!(all(&mut f), vec![Frame::Message(OPT.to_vec())]);
    }

    #[test]
    fn missing_length_and_runaway_lines() {
        let mut f = StreamFramer::new(100);
        f.push(b"OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\n\r\n");
        assert!(matches!(f.next_frame(), Some(Frame::MissingLength(_))));
        f.push(&[7u8; 200]);
        assert_eq!(f.next_frame(), Some(Frame::Close));
        let mut g = StreamFramer::new(100);
        g.push(b"OPTIONS sip:a SIP/2.0\r\n");
        g.push(&[b'a'; 50]);
        g.push(b"\r\n");
        g.push(&[b'b'; 60]);
        assert!(matches!(
            g.next_frame(),
            Some(Frame::TooLarge { close: true, .. })
        ));
    }
}
