//! SIP over a byte stream: Content-Length framing, keep-alive CRLFs, size limit (no I/O).
//!
//! RFC 3261 §18.3 (Content-Length is mandatory on streams), §7.5 (CRLFs before a start line are
//! ignored), RFC 5626 §3.5.1 (`CRLFCRLF` ping is answered with a `CRLF` pong).
//!
//! The cost is linear in the bytes received: the framer remembers how far it has looked for the
//! first line's end, the header section's end and the frame's length, so a peer that sends one
//! byte at a time costs no more than one that sends the message at once. Consumed frames only
//! move a read offset; the buffer is compacted once per `push`, moving the unconsumed tail only.

use super::message::parse_start_line;

/// One unit cut out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
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

/// How far the scans of the frame at the front of the buffer have got (offsets from its start).
#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    /// No CRLF starts before this offset (while the first line's end is unknown).
    line_from: usize,
    /// The first line's CRLF, once found.
    line_end: Option<usize>,
    /// Whether the first line is a start line, once checked.
    start_line: Option<bool>,
    /// No CRLFCRLF starts before this offset (while the header end is unknown).
    head_from: usize,
    /// Where the CRLFCRLF ending the header section starts, once found.
    sep: Option<usize>,
    /// The whole frame's length, once the header section and its Content-Length are known.
    total: Option<usize>,
    /// A frame that is not a start line: the first of its lines not yet checked for one, and
    /// where the search for that line's CRLF resumes.
    lines_from: usize,
    crlf_from: usize,
}

/// Cuts SIP messages out of a TCP byte stream.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already handed out (dropped at the next `push`).
    start: usize,
    max: usize,
    /// Body bytes of an oversized message still to be skipped as they arrive.
    skip: usize,
    scan: Scan,
    /// Bytes examined or moved so far (a measure of the work done; tests bound it).
    work: u64,
}

/// The first `needle` in `hay[from..]`; on a miss, the offset to resume from next time (the
/// needle may straddle the end). `work` counts the positions compared.
fn find(hay: &[u8], from: usize, needle: &[u8], work: &mut u64) -> Result<usize, usize> {
    let from = from.min(hay.len());
    let found = hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p);
    match found {
        Some(at) => {
            *work += (at - from + 1) as u64;
            Ok(at)
        }
        None => {
            let resume = hay.len().saturating_sub(needle.len() - 1).max(from);
            *work += (resume - from) as u64;
            Err(resume)
        }
    }
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

fn is_start_line(line: &[u8]) -> bool {
    std::str::from_utf8(line)
        .ok()
        .and_then(parse_start_line)
        .is_some()
}

impl StreamFramer {
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max,
            skip: 0,
            scan: Scan::default(),
            work: 0,
        }
    }

    /// Bytes examined or moved since the framer was made (linear in the bytes pushed).
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Appends bytes read from the socket.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.work += (self.buf.len() - self.start) as u64;
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let skipped = self.skip.min(data.len());
        self.skip -= skipped;
        self.buf.extend_from_slice(&data[skipped..]);
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Hands out the first `n` bytes of the frame and starts scanning the next one.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.buf.len() - self.start);
        let out = self.buf[self.start..self.start + n].to_vec();
        self.drop_front(n);
        out
    }

    fn drop_front(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        self.scan = Scan::default();
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// The first line's CRLF, resuming the scan where the last call stopped.
    fn line_end(&mut self) -> Option<usize> {
        if self.scan.line_end.is_none() {
            let (from, mut work) = (self.scan.line_from, 0);
            match find(&self.buf[self.start..], from, b"\r\n", &mut work) {
                Ok(at) => self.scan.line_end = Some(at),
                Err(resume) => self.scan.line_from = resume,
            }
            self.work += work;
        }
        self.scan.line_end
    }

    /// The header section's CRLFCRLF, resuming the scan where the last call stopped.
    fn header_end(&mut self) -> Option<usize> {
        if self.scan.sep.is_none() {
            let (from, mut work) = (self.scan.head_from, 0);
            match find(&self.buf[self.start..], from, b"\r\n\r\n", &mut work) {
                Ok(at) => self.scan.sep = Some(at),
                Err(resume) => self.scan.head_from = resume,
            }
            self.work += work;
        }
        self.scan.sep
    }

    /// The next frame, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(total) = self.scan.total {
                // Header section known: only the body is awaited.
                return (self.data().len() >= total).then(|| Frame::Message(self.take(total)));
            }
            if self.scan.line_end.is_none() {
                let data = self.data();
                if data.starts_with(b"\r\n\r\n") {
                    self.drop_front(4);
                    return Some(Frame::Ping);
                }
                if data.starts_with(b"\r\n") {
                    if data.len() == 2 || (data.len() == 3 && data[2] == b'\r') {
                        return None; // maybe the start of a ping
                    }
                    self.drop_front(2);
                    continue;
                }
            }
            let Some(line_end) = self.line_end() else {
                if self.data().len() > self.max {
                    self.drop_front(self.data().len());
                    return Some(Frame::Close);
                }
                return None;
            };
            let start_line = match self.scan.start_line {
                Some(s) => s,
                None => {
                    self.work += line_end as u64;
                    let s = is_start_line(&self.data()[..line_end]);
                    self.scan.start_line = Some(s);
                    s
                }
            };
            if !start_line {
                return self.not_a_start_line(line_end);
            }
            let Some(sep) = self.header_end() else {
                if self.data().len() > self.max {
                    let n = self.data().len();
                    return Some(Frame::TooLarge {
                        head: self.take(n),
                        close: true,
                    });
                }
                return None;
            };
            let head_len = sep + 4;
            self.work += head_len as u64;
            let Some(body_len) = content_length(&self.data()[..head_len]) else {
                return Some(Frame::MissingLength(self.take(head_len)));
            };
            let total = head_len.saturating_add(body_len);
            if total > self.max {
                let head = self.take(head_len);
                let have = body_len.min(self.data().len());
                self.drop_front(have);
                self.skip = body_len - have;
                return Some(Frame::TooLarge { head, close: false });
            }
            self.scan.total = Some(total);
        }
    }

    /// The frame does not begin with a start line. If a later line of the same header section
    /// is one, the bytes before it are garbage. Otherwise, with a Content-Length the framing is
    /// intact and the message goes to the core (which answers 400 when it can); without one the
    /// header section is dropped and we resynchronise on what follows. Until the header section
    /// is complete nothing is decided, so the frames do not depend on how the bytes were cut
    /// into reads; the lines already checked are remembered, so nothing is scanned twice.
    fn not_a_start_line(&mut self, line_end: usize) -> Option<Frame> {
        let sep = self.header_end();
        let data = &self.buf[self.start..];
        // Header lines end at or before the CRLF that begins the CRLFCRLF.
        let limit = sep.map_or(data.len(), |s| s + 2);
        let mut pos = self.scan.lines_from.max(line_end + 2);
        let mut crlf_from = self.scan.crlf_from.max(pos);
        let mut work = 0;
        let mut found = None;
        while pos < limit {
            let end = match find(&data[..limit], crlf_from, b"\r\n", &mut work) {
                Ok(end) => end,
                Err(resume) => {
                    crlf_from = resume;
                    break;
                }
            };
            if is_start_line(&data[pos..end]) {
                found = Some(pos);
                break;
            }
            pos = end + 2;
            crlf_from = pos;
        }
        self.work += work;
        if let Some(at) = found {
            self.drop_front(at);
            return Some(Frame::Garbage);
        }
        let Some(sep) = sep else {
            if self.data().len() > self.max {
                // No header end within the limit: drop the complete lines.
                self.drop_front(pos.min(self.data().len()));
                return Some(Frame::Garbage);
            }
            self.scan.lines_from = pos;
            self.scan.crlf_from = crlf_from;
            return None;
        };
        let head_len = sep + 4;
        self.work += head_len as u64;
        if let Some(body_len) = content_length(&self.data()[..head_len]) {
            let total = head_len.saturating_add(body_len);
            if total <= self.max {
                self.scan.total = Some(total);
                return self.next_frame();
            }
        }
        self.drop_front(head_len);
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
        // The same garbage on its own waits for what follows: a start line or the header end.
        let mut g = StreamFramer::new(65_535);
        g.push(b"hello world\r\n\x00\x01junk\r\n");
        assert_eq!(all(&mut g), vec![]);
        g.push(OPT);
        assert_eq!(
            all(&mut g),
            vec![Frame::Garbage, Frame::Message(OPT.to_vec())]
        );
    }

    /// Regression (fuzz, sip-stream): a frame whose first line is not a start line was cut
    /// differently depending on where the reads ended: before its header end had arrived its
    /// complete lines were dropped at once, so its Content-Length could be lost and its body
    /// framed as new messages. Now nothing is decided before the header end arrives.
    #[test]
    fn a_broken_start_line_frames_the_same_however_the_bytes_are_cut() {
        let bad = b"OPT(ONS sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 31\r\n\r\n\
OPTIONS sip:b SIP/2.0\r\nl: 0\r\n\r\n";
        let mut stream = bad.to_vec();
        stream.extend_from_slice(OPT);
        let mut one = StreamFramer::new(65_535);
        one.push(&stream);
        let whole = all(&mut one);
        assert_eq!(
            whole,
            vec![Frame::Message(bad.to_vec()), Frame::Message(OPT.to_vec())]
        );
        for cut in 1..stream.len() {
            let mut f = StreamFramer::new(65_535);
            f.push(&stream[..cut]);
            let mut frames = all(&mut f);
            f.push(&stream[cut..]);
            frames.extend(all(&mut f));
            assert_eq!(frames, whole, "cut at {cut}");
        }
        // Fed a byte at a time it is still linear.
        let mut g = StreamFramer::new(65_535);
        let mut frames = Vec::new();
        for b in &stream {
            g.push(std::slice::from_ref(b));
            frames.extend(all(&mut g));
        }
        assert_eq!(frames, whole);
        assert!(g.work() <= 4 * stream.len() as u64, "work {}", g.work());
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
        // Its body may arrive later.
        let mut g = StreamFramer::new(65_535);
        g.push(&bad[..bad.len() - 2]);
        assert_eq!(all(&mut g), vec![]);
        g.push(&bad[bad.len() - 2..]);
        assert_eq!(all(&mut g), vec![Frame::Message(bad.to_vec())]);
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

    /// An INVITE of about `size` bytes: many header lines, then a body.
    fn big_invite(size: usize) -> Vec<u8> {
        let body = "v=0\r\n".repeat(20);
        let mut head = String::from(
            "INVITE sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKbig\r\n",
        );
        let mut n = 0;
        while head.len() + body.len() + 64 < size {
            head.push_str(&format!("X-Pad-{n}: {}\r\n", "p".repeat(40)));
            n += 1;
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        head.into_bytes()
    }

    /// Regression (issue 11): a header section fed one byte at a time was rescanned from its
    /// start on every read, so a 60 KB message cost ~1.8·10⁹ byte comparisons. The work is
    /// now linear: a small constant times the bytes received.
    #[test]
    fn a_message_fed_a_byte_at_a_time_costs_linear_work() {
        let msg = big_invite(60_000);
        assert!(msg.len() > 59_000 && msg.len() < 65_535);
        let mut f = StreamFramer::new(65_535);
        let mut frames = Vec::new();
        for b in &msg {
            f.push(std::slice::from_ref(b));
            frames.extend(all(&mut f));
        }
        assert_eq!(frames, vec![Frame::Message(msg.clone())]);
        let n = msg.len() as u64;
        assert!(f.work() <= 4 * n, "work {} for {n} bytes", f.work());
        // The same bytes in one read cost the same order of work.
        let mut g = StreamFramer::new(65_535);
        g.push(&msg);
        assert_eq!(all(&mut g), vec![Frame::Message(msg)]);
        assert!(g.work() <= 4 * n, "work {} for {n} bytes", g.work());
    }

    /// Many messages and many garbage lines in one read: each byte is looked at a bounded
    /// number of times (no rescans after each frame, no memmove of the rest per frame).
    #[test]
    fn many_frames_and_garbage_lines_in_one_read_cost_linear_work() {
        let mut stream = Vec::new();
        for _ in 0..2000 {
            stream.extend_from_slice(OPT);
        }
        let mut f = StreamFramer::new(1 << 20);
        f.push(&stream);
        let frames = all(&mut f);
        assert_eq!(frames.len(), 2000);
        assert!(frames.iter().all(|fr| *fr == Frame::Message(OPT.to_vec())));
        let n = stream.len() as u64;
        assert!(f.work() <= 6 * n, "work {} for {n} bytes", f.work());

        let mut junk = b"x\r\n".repeat(20_000);
        junk.extend_from_slice(OPT);
        let mut g = StreamFramer::new(65_535);
        g.push(&junk);
        let frames = all(&mut g);
        assert_eq!(frames.last(), Some(&Frame::Message(OPT.to_vec())));
        assert!(
            frames[..frames.len() - 1]
                .iter()
                .all(|fr| *fr == Frame::Garbage)
        );
        let n = junk.len() as u64;
        assert!(g.work() <= 6 * n, "work {} for {n} bytes", g.work());
    }

    /// A garbage line fed a byte at a time is also scanned once.
    #[test]
    fn a_long_garbage_line_fed_a_byte_at_a_time_costs_linear_work() {
        let mut line = vec![b'z'; 30_000];
        line.extend_from_slice(b"\r\n");
        let mut f = StreamFramer::new(65_535);
        let mut frames = Vec::new();
        for b in line.iter().chain(OPT) {
            f.push(std::slice::from_ref(b));
            frames.extend(all(&mut f));
        }
        assert_eq!(frames, vec![Frame::Garbage, Frame::Message(OPT.to_vec())]);
        let n = (line.len() + OPT.len()) as u64;
        assert!(f.work() <= 4 * n, "work {} for {n} bytes", f.work());
    }
}
