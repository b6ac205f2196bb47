//! `calls`: one row per hotline call leg (the call detail record), written as the call moves.

use std::fmt;

use sqlx::AnyConnection;

use super::codec::{dtmf_from_text, dtmf_to_text, get, language_from};
use super::{Store, StoreError};
use crate::domain::{CallId, CustomerId, DtmfMode, Language};

/// The SIP transport the INVITE came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTransport {
    /// `udp`.
    Udp,
    /// `tcp`.
    Tcp,
    /// `tls`.
    Tls,
}

impl CallTransport {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallTransport::Udp => "udp",
            CallTransport::Tcp => "tcp",
            CallTransport::Tls => "tls",
        }
    }

    /// The transport with this stored name (`udp`, `tcp`, `tls`).
    pub fn parse(s: &str) -> Option<CallTransport> {
        [CallTransport::Udp, CallTransport::Tcp, CallTransport::Tls]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// How a call ended (`calls.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still running (the value on insert).
    InProgress,
    /// The caller cancelled before we answered.
    Cancelled,
    /// The caller hung up in the IVR menu.
    AbandonedIvr,
    /// The caller hung up while waiting or on hold.
    AbandonedQueue,
    /// We ended the call politely after the configured maximum wait.
    MaxWait,
    /// We refused the call (488, 503, …).
    Rejected,
    /// A failure: ACK timeout, transport error, internal error.
    Failed,
    /// An agent took the call.
    Answered,
    /// The caller left the queue with a callback request (keeping their place).
    Callback,
    /// The caller left a voice message describing the problem.
    VoiceMessage,
    /// The server stopped without ending the call (kill -9, power loss); closed at the next
    /// start with what the journal had stored (docs/durability.md).
    Interrupted,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::InProgress => "in_progress",
            Outcome::Cancelled => "cancelled",
            Outcome::AbandonedIvr => "abandoned_ivr",
            Outcome::AbandonedQueue => "abandoned_queue",
            Outcome::MaxWait => "max_wait",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Answered => "answered",
            Outcome::Callback => "callback",
            Outcome::VoiceMessage => "voice_message",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// The outcome with this stored name, e.g. `abandoned_ivr`.
    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::InProgress,
            Outcome::Cancelled,
            Outcome::AbandonedIvr,
            Outcome::AbandonedQueue,
            Outcome::MaxWait,
            Outcome::Rejected,
            Outcome::Failed,
            Outcome::Answered,
            Outcome::Callback,
            Outcome::VoiceMessage,
            Outcome::Interrupted,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side hung up (`calls.hangup_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupBy {
    /// The caller (BYE or CANCEL from them).
    Caller,
    /// firstline (BYE, error response, timeout).
    Server,
    /// The agent: their phone sent BYE, or they pressed Hang up in the desk's softphone.
    Agent,
}

impl HangupBy {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            HangupBy::Server => "server",
            HangupBy::Agent => "agent",
        }
    }

    /// `caller`, `server` or `agent`.
    pub fn parse(s: &str) -> Option<HangupBy> {
        [HangupBy::Caller, HangupBy::Server, HangupBy::Agent]
            .into_iter()
            .find(|h| h.as_str() == s)
    }
}

/// A call as it arrives (INVITE received).
#[derive(Debug, Clone)]
pub struct NewCall {
    /// Our id for the call.
    pub id: CallId,
    /// The SIP Call-ID header.
    pub sip_call_id: String,
    /// E.164, or the raw user part when it cannot be normalised.
    pub caller: String,
    /// Display name from P-Asserted-Identity/From.
    pub caller_name: Option<String>,
    /// The matched customer.
    pub customer_id: Option<CustomerId>,
    /// Transport of the INVITE.
    pub transport: CallTransport,
    /// Epoch ms of the INVITE.
    pub arrived_at: i64,
}

/// How a call ended; written once by [`Store::finish_call`].
#[derive(Debug, Clone)]
pub struct CallEnd {
    /// Epoch ms of the hang-up.
    pub ended_at: i64,
    /// Why it ended.
    pub outcome: Outcome,
    /// Which side ended it, when known.
    pub hangup_by: Option<HangupBy>,
    /// Free text, e.g. `BYE`, `CANCEL`, `488 no common codec`, `ACK timeout`.
    pub end_reason: Option<String>,
    /// Every DTMF mode seen during the call, in first-seen order.
    pub dtmf_mode: Vec<DtmfMode>,
    /// The language the caller was served in, if the call got that far; kept when the IVR
    /// already recorded one.
    pub language: Option<Language>,
}

/// A stored call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    /// `calls.id`.
    pub id: CallId,
    /// SIP Call-ID.
    pub sip_call_id: String,
    /// E.164 or raw number.
    pub caller: String,
    /// Display name.
    pub caller_name: Option<String>,
    /// Matched customer.
    pub customer_id: Option<CustomerId>,
    /// Transport of the INVITE.
    pub transport: CallTransport,
    /// Epoch ms.
    pub arrived_at: i64,
    /// Epoch ms of our 200 OK being acknowledged.
    pub answered_at: Option<i64>,
    /// Epoch ms the IVR finished.
    pub ivr_ended_at: Option<i64>,
    /// Epoch ms of the hang-up.
    pub ended_at: Option<i64>,
    /// DTMF modes seen.
    pub dtmf_mode: Vec<DtmfMode>,
    /// Language the caller was served in.
    pub language: Option<Language>,
    /// Outcome; `InProgress` until finished.
    pub outcome: Outcome,
    /// Which side ended the call.
    pub hangup_by: Option<HangupBy>,
    /// Free-text reason.
    pub end_reason: Option<String>,
}

impl Store {
    /// Records a new call with outcome `in_progress`.
    pub async fn insert_call(&self, call: &NewCall) -> Result<(), StoreError> {
        let mut conn = self.writer("insert_call").await?;
        insert_call_on(&mut conn, call).await
    }

    /// Sets `answered_at` (our 200 OK acknowledged).
    pub async fn set_call_answered(&self, id: &CallId, at_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.writer("set_call_answered").await?;
        found(set_call_answered_on(&mut conn, id, at_ms).await?, id)
    }

    /// Sets `ivr_ended_at` and the language the caller was served in.
    pub async fn set_call_ivr_ended(
        &self,
        id: &CallId,
        at_ms: i64,
        language: Language,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer("set_call_ivr_ended").await?;
        found(
            set_call_ivr_ended_on(&mut conn, id, at_ms, language).await?,
            id,
        )
    }

    /// Writes the end of a call once: `Ok(true)` when written, `Ok(false)` when the call had
    /// already ended (the first end wins), `NotFound` for an unknown id.
    pub async fn finish_call(&self, id: &CallId, end: &CallEnd) -> Result<bool, StoreError> {
        let mut conn = self.writer("finish_call").await?;
        if finish_call_on(&mut conn, id, end).await? > 0 {
            return Ok(true);
        }
        drop(conn);
        match self.get_call(id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound {
                what: "call",
                id: id.to_string(),
            }),
        }
    }

    /// Closes every call the last run left unfinished (`ended_at IS NULL`: the server was
    /// killed) as `interrupted`, ended at the last moment known of it; returns how many.
    /// Run at start, before any call is taken.
    pub async fn close_interrupted_calls(&self, now: i64) -> Result<u64, StoreError> {
        const OP: &str = "close_interrupted_calls";
        let mut tx = self.begin_write(OP).await?;
        // The last thing known of each: its latest offer, connection, IVR end, answer, arrival.
        let done = sqlx::query(
            "UPDATE calls SET outcome = 'interrupted', hangup_by = 'server', \
             end_reason = 'server stopped during the call', \
             ended_at = COALESCE((SELECT MAX(offered_at) FROM call_offers o WHERE o.call_id = calls.id), \
                                 connected_at, ivr_ended_at, answered_at, arrived_at, $1) \
             WHERE ended_at IS NULL",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        sqlx::query(
            "UPDATE call_offers SET ended_at = (SELECT ended_at FROM calls c WHERE c.id = call_offers.call_id), \
             result = 'cancelled' WHERE ended_at IS NULL",
        )
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        // A transferred call's last leg ends with it (migration 16).
        super::call_legs::last_leg_on(&mut tx, None).await?;
        // Dials through the trunk (migration 15): ended when last known of them.
        sqlx::query(
            "UPDATE outbound_calls SET outcome = 'interrupted', hangup_by = 'server', \
             ended_at = COALESCE(answered_at, agent_answered_at, started_at) \
             WHERE outcome = 'in_progress'",
        )
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(done.rows_affected())
    }

    /// One call by id.
    pub async fn get_call(&self, id: &CallId) -> Result<Option<CallRow>, StoreError> {
        const OP: &str = "get_call";
        let Some(row) = sqlx::query(
            "SELECT id, sip_call_id, caller, caller_name, customer_id, transport, arrived_at, answered_at, \
             ivr_ended_at, ended_at, dtmf_mode, language, outcome, hangup_by, end_reason FROM calls WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?
        else {
            return Ok(None);
        };
        let outcome: String = get(&row, "outcome", OP)?;
        let transport: String = get(&row, "transport", OP)?;
        let hangup_by: Option<String> = get(&row, "hangup_by", OP)?;
        Ok(Some(CallRow {
            id: CallId::from_string(get::<String>(&row, "id", OP)?),
            sip_call_id: get(&row, "sip_call_id", OP)?,
            caller: get(&row, "caller", OP)?,
            caller_name: get(&row, "caller_name", OP)?,
            customer_id: get::<Option<String>>(&row, "customer_id", OP)?
                .map(CustomerId::from_string),
            transport: CallTransport::parse(&transport).ok_or(StoreError::Corrupt {
                column: "calls.transport",
                value: transport.clone(),
            })?,
            arrived_at: get(&row, "arrived_at", OP)?,
            answered_at: get(&row, "answered_at", OP)?,
            ivr_ended_at: get(&row, "ivr_ended_at", OP)?,
            ended_at: get(&row, "ended_at", OP)?,
            dtmf_mode: dtmf_from_text(get(&row, "dtmf_mode", OP)?, "calls.dtmf_mode")?,
            language: language_from(get(&row, "language", OP)?, "calls.language")?,
            outcome: Outcome::parse(&outcome).ok_or(StoreError::Corrupt {
                column: "calls.outcome",
                value: outcome,
            })?,
            hangup_by: hangup_by
                .map(|h| {
                    HangupBy::parse(&h).ok_or(StoreError::Corrupt {
                        column: "calls.hangup_by",
                        value: h,
                    })
                })
                .transpose()?,
            end_reason: get(&row, "end_reason", OP)?,
        }))
    }
}

/// Inserts a call row (outcome `in_progress`) on `conn`.
pub(super) async fn insert_call_on(
    conn: &mut AnyConnection,
    call: &NewCall,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO calls (id, sip_call_id, caller, caller_name, customer_id, transport, arrived_at, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'in_progress')",
    )
    .bind(call.id.as_str())
    .bind(&call.sip_call_id)
    .bind(&call.caller)
    .bind(call.caller_name.as_deref())
    .bind(call.customer_id.as_ref().map(CustomerId::as_str))
    .bind(call.transport.as_str())
    .bind(call.arrived_at)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query("insert_call"))?;
    Ok(())
}

/// Sets `answered_at`; the rows changed.
pub(super) async fn set_call_answered_on(
    conn: &mut AnyConnection,
    id: &CallId,
    at_ms: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE calls SET answered_at = $2 WHERE id = $1")
        .bind(id.as_str())
        .bind(at_ms)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("set_call_answered"))?;
    Ok(done.rows_affected())
}

/// Sets `ivr_ended_at` and the language; the rows changed.
pub(super) async fn set_call_ivr_ended_on(
    conn: &mut AnyConnection,
    id: &CallId,
    at_ms: i64,
    language: Language,
) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE calls SET ivr_ended_at = $2, language = $3 WHERE id = $1")
        .bind(id.as_str())
        .bind(at_ms)
        .bind(language.as_str())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("set_call_ivr_ended"))?;
    Ok(done.rows_affected())
}

/// Writes the end of a call unless it already ended; the rows changed (0: ended or unknown).
pub(super) async fn finish_call_on(
    conn: &mut AnyConnection,
    id: &CallId,
    end: &CallEnd,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE calls SET ended_at = $2, outcome = $3, hangup_by = $4, end_reason = $5, \
         dtmf_mode = $6, language = COALESCE(language, $7) WHERE id = $1 AND ended_at IS NULL",
    )
    .bind(id.as_str())
    .bind(end.ended_at)
    .bind(end.outcome.as_str())
    .bind(end.hangup_by.map(HangupBy::as_str))
    .bind(end.end_reason.as_deref())
    .bind(dtmf_to_text(&end.dtmf_mode))
    .bind(end.language.map(Language::as_str))
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query("finish_call"))?;
    Ok(done.rows_affected())
}

pub(super) fn found(rows: u64, id: &CallId) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound {
            what: "call",
            id: id.to_string(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
