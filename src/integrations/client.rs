//! The HTTP client every integration sends with: reqwest on rustls with the system's roots
//! (plus a target's own CA file), a per-request timeout, no redirects, responses read up to a
//! bound, and errors that never carry the URL (a Zammad CTI URL holds its token).

use std::path::Path;
use std::time::Duration;

use super::retry::{Outcome, classify};

/// The most of a response body read (a larger answer is cut, not buffered).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// A response, read.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The body (lossy UTF-8, at most [`MAX_RESPONSE_BYTES`]).
    pub body: String,
    /// `Retry-After` in seconds, when sent.
    pub retry_after: Option<Duration>,
}

impl Response {
    /// The attempt's outcome by status ([`classify`]).
    pub fn outcome(&self) -> Outcome {
        classify(self.status, &self.body, self.retry_after)
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response when 2xx, else its outcome, a refusal prefixed with `"{system} refused to
    /// {what}: "` so the dead letter and the intake say what failed.
    pub fn or_outcome(self, system: &str, what: &str) -> Result<Response, Outcome> {
        if self.ok() {
            return Ok(self);
        }
        Err(match self.outcome() {
            Outcome::Refused { status, error } => Outcome::Refused {
                status,
                error: format!("{system} refused to {what}: {error}"),
            },
            other => other,
        })
    }

    /// A "test delivery" outcome: delivered with the status, or what went wrong.
    pub fn checked(answer: Result<Response, Outcome>) -> Outcome {
        match answer {
            Ok(r) => Outcome::Delivered {
                status: Some(r.status),
            },
            Err(o) => o,
        }
    }

    /// The body as JSON (`Refused` when it is not: the receiver answered nonsense).
    pub fn json(&self) -> Result<serde_json::Value, Outcome> {
        serde_json::from_str(&self.body).map_err(|e| Outcome::Refused {
            status: Some(self.status),
            error: format!("answer is not JSON ({e}): {}", self.body.trim()),
        })
    }
}

/// One client per target (its own CA and timeout).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A client with `timeout` per request and, besides the system's, the CAs of `ca_file`.
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<Http, String> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("firstline/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        let client = b.build().map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Http { client })
    }

    /// The underlying client, to build requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `req` and reads the answer; a failure to get one is a `Retry` outcome.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<Response, Outcome> {
        let mut resp = req.send().await.map_err(no_answer)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(no_answer)? {
            let room = MAX_RESPONSE_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_RESPONSE_BYTES {
                break;
            }
        }
        Ok(Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
            retry_after,
        })
    }
}

/// No answer (connect, TLS, timeout, cut off): retried; the error without the URL.
fn no_answer(e: reqwest::Error) -> Outcome {
    let what = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "no answer"
    };
    Outcome::Retry {
        status: None,
        error: format!("{what}: {}", crate::error_chain(&e.without_url())),
        retry_after: None,
    }
}
