//! The body encodings the receiver reads: the media type of a Content-Type, form-urlencoded
//! pairs (also the query string) and the text fields of multipart/form-data. No I/O.

/// The media type of a Content-Type value, lower-case, without parameters.
pub(crate) fn mime(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `application/x-www-form-urlencoded` pairs (also the query string).
pub(crate) fn form_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(byte.ok_or_else(|| format!("bad percent escape in {s:?}"))?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8"))
}

/// The text fields of a `multipart/form-data` body (what `curl --form` sends).
pub(crate) fn multipart_pairs(
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .ok_or("no boundary in the Content-Type")?
        .trim_matches('"');
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let delimiter = format!("--{boundary}");
    let mut pairs = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            return Ok(pairs);
        }
        let part = part
            .strip_prefix("\r\n")
            .ok_or("a part does not start with CRLF")?;
        let (head, value) = part
            .split_once("\r\n\r\n")
            .ok_or("a part has no blank line")?;
        let name = head
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .and_then(|l| l.split(';').find_map(|p| p.trim().strip_prefix("name=")))
            .ok_or("a part has no name")?
            .trim_matches('"');
        pairs.push((
            name.to_owned(),
            value.strip_suffix("\r\n").unwrap_or(value).to_owned(),
        ));
    }
    Err("no closing boundary".into())
}
