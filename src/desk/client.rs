//! Client frames of the desk WebSocket protocol (docs/protocol.md): parsing and checking one
//! text frame, and the per-connection rate limit; pure, no I/O.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::intakes::{CustomerFields, IntakeFields};
use crate::domain::{CustomerId, IntakeId};

/// Largest client frame accepted (bigger ones get `bad_frame`; the connection stays).
pub const MAX_FRAME: usize = 64 * 1024;
/// Longest `ref` echoed back.
const MAX_REF: usize = 100;

/// Every client frame `type`, to tell an unknown type from a known one with bad fields.
const TYPES: &[&str] = &[
    "hello",
    "set_state",
    "wrapup_done",
    "intake_update",
    "customer_update",
    "link_customer",
    "create_customer",
    "continue_intake",
    "resolve",
    "escalate",
    "return_intake",
    "open_intake",
    "claim",
    "release",
    "add_note",
    "reopen",
    "set_work_state",
    "watch",
    "ping",
];

/// The state a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WantedState {
    /// Take calls.
    Available,
    /// Pause.
    NotReady,
}

/// A checked client frame (without `v` and `ref`).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame: resume after `last_seq` of `epoch`, or start fresh.
    Hello {
        #[serde(default)]
        last_seq: Option<u64>,
        #[serde(default)]
        epoch: Option<String>,
    },
    /// Change the agent's state.
    SetState {
        state: WantedState,
        #[serde(default)]
        reason: Option<String>,
    },
    /// After-call work finished.
    WrapupDone {},
    /// Save draft changes.
    IntakeUpdate {
        intake_id: IntakeId,
        fields: IntakeFields,
    },
    /// Correct a customer's record.
    CustomerUpdate {
        #[serde(default)]
        intake_id: Option<IntakeId>,
        customer_id: CustomerId,
        fields: CustomerFields,
    },
    /// The caller's number belongs to this existing customer.
    LinkCustomer {
        intake_id: IntakeId,
        customer_id: CustomerId,
    },
    /// A new customer for the caller's number.
    CreateCustomer {
        intake_id: IntakeId,
        fields: CustomerFields,
    },
    /// Attach the call to an existing open intake instead of the new draft.
    ContinueIntake {
        intake_id: IntakeId,
        existing_id: IntakeId,
    },
    /// First-level resolution.
    Resolve {
        intake_id: IntakeId,
        solution: String,
    },
    /// Escalate to level 2 or 3.
    Escalate {
        intake_id: IntakeId,
        to_level: u8,
        target: String,
        reason: String,
        #[serde(default)]
        case_ref: Option<String>,
    },
    /// Return an escalated intake to the first level.
    ReturnIntake { intake_id: IntakeId, reason: String },
    /// Open an intake by hand (`email` or `desk`).
    OpenIntake {
        channel: String,
        #[serde(default)]
        customer_id: Option<CustomerId>,
    },
    /// Become the intake's owner (`force`: take it over from another owner).
    Claim {
        intake_id: IntakeId,
        #[serde(default)]
        force: bool,
    },
    /// Give up the claim (the owner, or a supervisor for anyone's).
    Release { intake_id: IntakeId },
    /// An internal note on the intake.
    AddNote { intake_id: IntakeId, body: String },
    /// Make a resolved intake editable again.
    Reopen { intake_id: IntakeId, reason: String },
    /// What the owner of an escalated intake is doing with it (claims it when unowned).
    SetWorkState {
        intake_id: IntakeId,
        state: crate::store::WorkState,
        #[serde(default)]
        reason: String,
    },
    /// The intake the workspace shows now (`null`: none): others' changes to it come live.
    Watch { intake_id: Option<IntakeId> },
    /// Keep-alive.
    Ping {},
}

/// A refused client frame: the `error` frame to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The frame's `ref`, when it could be read.
    pub reference: Option<String>,
    /// `bad_frame`, `unknown_type` or `invalid`.
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
}

fn refuse(reference: Option<String>, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        reference,
        code,
        message: message.into(),
    }
}

/// Parses one text frame into its `ref` and the checked frame.
pub fn parse(text: &str) -> Result<(Option<String>, ClientFrame), Refusal> {
    if text.len() > MAX_FRAME {
        return Err(refuse(
            None,
            "bad_frame",
            format!("frame over {MAX_FRAME} bytes"),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| refuse(None, "bad_frame", format!("not JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(refuse(None, "bad_frame", "a frame is a JSON object"));
    };
    let reference = match obj.remove("ref") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_REF => Some(s),
        Some(_) => {
            return Err(refuse(
                None,
                "invalid",
                format!("ref must be a string of at most {MAX_REF} bytes"),
            ));
        }
    };
    match obj.remove("v") {
        None => {}
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            return Err(refuse(
                reference,
                "invalid",
                format!("unsupported protocol version {v}; this server speaks v1"),
            ));
        }
    }
    let kind = match obj.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(refuse(reference, "bad_frame", "type must be a string")),
        None => return Err(refuse(reference, "bad_frame", "missing type")),
    };
    if !TYPES.contains(&kind.as_str()) {
        let shown: String = kind.chars().take(40).collect();
        return Err(refuse(
            reference,
            "unknown_type",
            format!("unknown type {shown:?}"),
        ));
    }
    match serde_json::from_value::<ClientFrame>(Value::Object(obj)) {
        Ok(frame) => Ok((reference, frame)),
        Err(e) => Err(refuse(reference, "invalid", format!("{kind}: {e}"))),
    }
}

/// Token bucket: `rate` frames per second on average, bursts up to `rate`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// A full bucket at `now`.
    pub fn new(rate: u32, now: Instant) -> Self {
        RateLimit {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: now,
        }
    }

    /// Takes one token; false when the client is over the limit (the frame is refused).
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Time until the next frame would be allowed.
    pub fn retry_in(&self) -> Duration {
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_with_and_without_resume() {
        let (r, f) =
            parse(r#"{"v":1,"type":"hello","last_seq":41,"epoch":"ab","ref":"h1"}"#).unwrap();
        assert_eq!(r.as_deref(), Some("h1"));
        match f {
            ClientFrame::Hello { last_seq, epoch } => {
                assert_eq!(last_seq, Some(41));
                assert_eq!(epoch.as_deref(), Some("ab"));
            }
            other => panic!("{other:?}"),
        }
        let (_, f) = parse(r#"{"type":"hello","last_seq":null,"epoch":null}"#).unwrap();
        assert!(matches!(
            f,
            ClientFrame::Hello {
                last_seq: None,
                epoch: None
            }
        ));
        assert!(matches!(
            parse(r#"{"type":"ping"}"#).unwrap().1,
            ClientFrame::Ping {}
        ));
        assert!(matches!(
            parse(r#"{"type":"wrapup_done","v":1}"#).unwrap().1,
            ClientFrame::WrapupDone {}
        ));
    }

    #[test]
    fn actions_parse_into_typed_fields() {
        let (_, f) = parse(
            r#"{"type":"intake_update","intake_id":"i-1","fields":{"description":"printer","priority":2}}"#,
        )
        .unwrap();
        let ClientFrame::IntakeUpdate { intake_id, fields } = f else {
            panic!("wrong variant")
        };
        assert_eq!(intake_id.as_str(), "i-1");
        assert_eq!(fields.description.as_deref(), Some("printer"));
        assert_eq!(fields.priority.map(|p| p.get()), Some(2));
        let (_, f) = parse(
            r#"{"type":"escalate","intake_id":"i-1","to_level":3,"target":"Dell","reason":"disk","case_ref":"C-9"}"#,
        )
        .unwrap();
        assert!(matches!(
            f,
            ClientFrame::Escalate { to_level: 3, ref case_ref, .. } if case_ref.as_deref() == Some("C-9")
        ));
        let (_, f) = parse(r#"{"type":"set_state","state":"not_ready","reason":"lunch"}"#).unwrap();
        assert!(matches!(
            f,
            ClientFrame::SetState {
                state: WantedState::NotReady,
                ..
            }
        ));
    }

    #[test]
    fn second_level_frames_parse() {
        let (_, f) = parse(r#"{"type":"claim","intake_id":"i-1"}"#).unwrap();
        assert!(matches!(f, ClientFrame::Claim { force: false, .. }));
        let (_, f) = parse(r#"{"type":"claim","intake_id":"i-1","force":true}"#).unwrap();
        assert!(matches!(f, ClientFrame::Claim { force: true, .. }));
        let (_, f) = parse(r#"{"type":"release","intake_id":"i-1"}"#).unwrap();
        assert!(matches!(f, ClientFrame::Release { .. }));
        let (_, f) = parse(r#"{"type":"add_note","intake_id":"i-1","body":"rebooted"}"#).unwrap();
        assert!(matches!(f, ClientFrame::AddNote { ref body, .. } if body == "rebooted"));
        let (_, f) = parse(r#"{"type":"reopen","intake_id":"i-1","reason":"back"}"#).unwrap();
        assert!(matches!(f, ClientFrame::Reopen { ref reason, .. } if reason == "back"));
        for bad in [
            r#"{"type":"claim"}"#,
            r#"{"type":"claim","intake_id":"i","force":"yes"}"#,
            r#"{"type":"add_note","intake_id":"i"}"#,
            r#"{"type":"reopen","intake_id":"i","reason":5}"#,
            r#"{"type":"release","intake_id":"i","force":true}"#,
        ] {
            assert_eq!(parse(bad).unwrap_err().code, "invalid", "{bad}");
        }
    }

    #[test]
    fn malformed_frames_get_the_documented_codes() {
        let cases: &[(&str, &str)] = &[
            ("{not json", "bad_frame"),
            ("[1,2]", "bad_frame"),
            ("\"hello\"", "bad_frame"),
            (r#"{"ref":"x"}"#, "bad_frame"),
            (r#"{"type":7}"#, "bad_frame"),
            (r#"{"type":"explode"}"#, "unknown_type"),
            (r#"{"type":"set_state","state":"busy"}"#, "invalid"),
            (r#"{"type":"set_state","state":7}"#, "invalid"),
            (r#"{"type":"hello","last_seq":"five"}"#, "invalid"),
            (r#"{"type":"hello","last_seq":-1}"#, "invalid"),
            (r#"{"type":"resolve","intake_id":"i"}"#, "invalid"),
            (
                r#"{"type":"escalate","intake_id":"i","to_level":300,"target":"a","reason":"b"}"#,
                "invalid",
            ),
            (r#"{"type":"ping","extra":1}"#, "invalid"),
            (
                r#"{"type":"intake_update","intake_id":"i","fields":{"colour":"red"}}"#,
                "invalid",
            ),
            (r#"{"type":"ping","v":2}"#, "invalid"),
            (r#"{"type":"ping","ref":5}"#, "invalid"),
        ];
        for (text, code) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.code, *code, "{text}: {}", err.message);
            assert!(!err.message.is_empty());
        }
        let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(MAX_FRAME));
        assert_eq!(parse(&big).unwrap_err().code, "bad_frame");
        // The ref is echoed whenever it could be read.
        let err = parse(r#"{"type":"explode","ref":"r7"}"#).unwrap_err();
        assert_eq!(err.reference.as_deref(), Some("r7"));
        assert_eq!(err.message, "unknown type \"explode\"");
    }

    #[test]
    fn rate_limit_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut rl = RateLimit::new(50, t0);
        assert!((0..50).all(|_| rl.allow(t0)));
        assert!(!rl.allow(t0));
        assert!(rl.retry_in() <= Duration::from_millis(20));
        // 100 ms later: 5 more frames.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!((0..10).filter(|_| rl.allow(t1)).count(), 5);
        // After a quiet second the bucket is full again, never more.
        let t2 = t1 + Duration::from_secs(10);
        assert_eq!((0..100).filter(|_| rl.allow(t2)).count(), 50);
    }
}
