//! DTMF in SIP INFO bodies (RFC 6086 practice: `application/dtmf-relay`, `application/dtmf`); no I/O.

use super::{DtmfError, event_to_digit};

/// Reads the digit from a SIP INFO body.
///
/// `application/dtmf-relay` (Cisco/SIP-INFO practice): lines `Signal=5` and `Duration=160`,
/// keys case-insensitive, spaces tolerated, `\r\n` or `\n`. `application/dtmf`: the body is
/// the signal itself. Signals are `0-9 * # A-D`, or event codes `10`–`15` (RFC 4733 §3.2).
/// Content-type parameters and case are ignored.
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Result<char, DtmfError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = String::from_utf8_lossy(body);
    match media_type.as_str() {
        "application/dtmf-relay" => {
            let value = text
                .lines()
                .filter_map(|line| line.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("signal"))
                .map(|(_, value)| value)
                .ok_or(DtmfError::MissingSignal)?;
            signal_to_digit(value)
        }
        "application/dtmf" => signal_to_digit(&text),
        _ => Err(DtmfError::UnsupportedContentType(media_type)),
    }
}

fn signal_to_digit(value: &str) -> Result<char, DtmfError> {
    let v = value.trim();
    let invalid = || DtmfError::InvalidSignal(v.to_owned());
    let mut chars = v.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#')), None) => Ok(c),
        (Some(c @ ('A'..='D' | 'a'..='d')), None) => Ok(c.to_ascii_uppercase()),
        _ => v
            .parse::<u8>()
            .ok()
            .and_then(event_to_digit)
            .ok_or_else(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELAY: &str = "application/dtmf-relay";

    #[test]
    fn dtmf_relay_bodies() {
        let cases: [(&str, char); 8] = [
            ("Signal=5\r\nDuration=160\r\n", '5'),
            ("Signal=5\r\nDuration=160", '5'),
            ("signal = 7\nduration = 250\n", '7'),
            ("Duration=100\r\nSignal= *\r\n", '*'),
            ("SIGNAL=#\r\n", '#'),
            ("Signal=10\r\n", '*'),
            ("Signal=11\r\nDuration=160\r\n", '#'),
            ("Signal=d\r\n", 'D'),
        ];
        for (body, want) in cases {
            assert_eq!(
                parse_info_body(RELAY, body.as_bytes()),
                Ok(want),
                "{body:?}"
            );
        }
    }

    #[test]
    fn plain_dtmf_bodies_and_content_type_params() {
        assert_eq!(parse_info_body("application/dtmf", b"5"), Ok('5'));
        assert_eq!(parse_info_body("Application/DTMF", b"11\r\n"), Ok('#'));
        assert_eq!(parse_info_body("application/dtmf", b" 10 "), Ok('*'));
        assert_eq!(
            parse_info_body("Application/DTMF-Relay; charset=utf-8", b"Signal=3"),
            Ok('3')
        );
    }

    #[test]
    fn rejects_what_is_not_a_digit() {
        assert_eq!(
            parse_info_body(RELAY, b"Duration=160\r\n"),
            Err(DtmfError::MissingSignal)
        );
        assert_eq!(parse_info_body(RELAY, b""), Err(DtmfError::MissingSignal));
        assert_eq!(
            parse_info_body(RELAY, b"Signal=16"),
            Err(DtmfError::InvalidSignal("16".into()))
        );
        assert_eq!(
            parse_info_body(RELAY, b"Signal=55"),
            Err(DtmfError::InvalidSignal("55".into()))
        );
        assert_eq!(
            parse_info_body(RELAY, b"Signal="),
            Err(DtmfError::InvalidSignal(String::new()))
        );
        assert_eq!(
            parse_info_body("application/dtmf", b"x"),
            Err(DtmfError::InvalidSignal("x".into()))
        );
        assert_eq!(
            parse_info_body("application/sdp", b"v=0"),
            Err(DtmfError::UnsupportedContentType("application/sdp".into()))
        );
        assert!(parse_info_body(RELAY, &[0xFF, 0xFE, b'=', 0x80]).is_err());
    }
}
