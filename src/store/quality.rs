//! `call_quality` and the quality columns of `calls` (migration 6): one row per quality sample
//! of a browser call, folded into the call record as the worst loss, jitter and round-trip time
//! seen; the device of the agent who answered and the browser leg's reconnects (docs/webrtc.md).

use sqlx::any::AnyRow;

use super::codec::get;
use super::{Store, StoreError};
use crate::domain::{CallId, Device};

/// Where a quality sample comes from (`call_quality.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QualitySource {
    /// The RTCP receiver reports the browser sends us, read by the call task.
    Server,
    /// The browser's own getStats() summary, posted by the desk.
    Browser,
}

impl QualitySource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            QualitySource::Server => "server",
            QualitySource::Browser => "browser",
        }
    }

    /// `server` or `browser`.
    pub fn parse(s: &str) -> Option<QualitySource> {
        [QualitySource::Server, QualitySource::Browser]
            .into_iter()
            .find(|q| q.as_str() == s)
    }
}

/// One quality sample of a call; `None` = not measured. Percent and milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct QualitySample {
    /// The call.
    pub call_id: CallId,
    /// Epoch ms of the sample.
    pub at: i64,
    /// Server (RTCP) or browser (getStats).
    pub source: QualitySource,
    /// Packets received by the sampling side.
    pub packets_received: Option<i64>,
    /// Packets lost, as the sampling side counts them.
    pub packets_lost: Option<i64>,
    /// Loss in percent (0..100).
    pub loss_pct: Option<f64>,
    /// Interarrival jitter in ms.
    pub jitter_ms: Option<f64>,
    /// Round-trip time in ms.
    pub rtt_ms: Option<f64>,
    /// Voiced audio relayed to the agent so far (ms; server samples).
    pub voiced_to_agent_ms: Option<i64>,
    /// Voiced audio relayed from the agent so far (ms; server samples).
    pub voiced_from_agent_ms: Option<i64>,
    /// The browser's audio level (0..1).
    pub audio_level: Option<f64>,
}

/// Bound in place of a missing measurement; the SQL turns it into NULL with `NULLIF($n, -1.0)`.
///
/// sqlx 0.9's `Any` driver encodes a NULL `f64` as a PostgreSQL `float4` (the `Real`/`Double`
/// arms of `AnyArguments::convert_into` are swapped). A statement first prepared with a NULL
/// then fails on a connection for every real `f64` ("incorrect binary data format in bind
/// parameter"), so optional floats are never bound as NULL here.
const MISSING: f64 = -1.0;

/// A measurement to bind: NaN, infinities and negative values are not measurements (all these
/// figures are at least 0) and are stored as NULL.
fn measured(v: Option<f64>) -> f64 {
    v.filter(|x| x.is_finite() && *x >= 0.0).unwrap_or(MISSING)
}

impl Store {
    /// Stores a sample and folds it into its call: `loss_pct`, `jitter_ms` and `rtt_ms` keep the
    /// worst seen (from any source); `voiced_*` take the sample's values when it has them.
    /// `NotFound` for an unknown call.
    pub async fn record_quality(&self, s: &QualitySample) -> Result<(), StoreError> {
        const OP: &str = "record_quality";
        let (loss, jitter, rtt) = (
            measured(s.loss_pct),
            measured(s.jitter_ms),
            measured(s.rtt_ms),
        );
        let mut tx = self.begin_write(OP).await?;
        // The worst so far: a missing value (-1) is below every stored one, so it keeps `x`;
        // when `x` is still NULL, NULLIF keeps a missing value NULL.
        let done = sqlx::query(
            "UPDATE calls SET \
             loss_pct = CASE WHEN loss_pct IS NULL OR $2 > loss_pct \
               THEN NULLIF($2, -1.0) ELSE loss_pct END, \
             jitter_ms = CASE WHEN jitter_ms IS NULL OR $3 > jitter_ms \
               THEN NULLIF($3, -1.0) ELSE jitter_ms END, \
             rtt_ms = CASE WHEN rtt_ms IS NULL OR $4 > rtt_ms \
               THEN NULLIF($4, -1.0) ELSE rtt_ms END, \
             voiced_to_agent_ms = COALESCE($5, voiced_to_agent_ms), \
             voiced_from_agent_ms = COALESCE($6, voiced_from_agent_ms) \
             WHERE id = $1",
        )
        .bind(s.call_id.as_str())
        .bind(loss)
        .bind(jitter)
        .bind(rtt)
        .bind(s.voiced_to_agent_ms)
        .bind(s.voiced_from_agent_ms)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() == 0 {
            return Err(not_found(&s.call_id));
        }
        sqlx::query(
            "INSERT INTO call_quality (call_id, at, source, packets_received, packets_lost, \
             loss_pct, jitter_ms, rtt_ms, voiced_to_agent_ms, voiced_from_agent_ms, audio_level) \
             VALUES ($1, $2, $3, $4, $5, NULLIF($6, -1.0), NULLIF($7, -1.0), NULLIF($8, -1.0), \
             $9, $10, NULLIF($11, -1.0))",
        )
        .bind(s.call_id.as_str())
        .bind(s.at)
        .bind(s.source.as_str())
        .bind(s.packets_received)
        .bind(s.packets_lost)
        .bind(loss)
        .bind(jitter)
        .bind(rtt)
        .bind(s.voiced_to_agent_ms)
        .bind(s.voiced_from_agent_ms)
        .bind(measured(s.audio_level))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(())
    }

    /// Every sample of a call, oldest first (server before browser at the same instant).
    pub async fn call_quality(&self, call: &CallId) -> Result<Vec<QualitySample>, StoreError> {
        const OP: &str = "call_quality";
        let rows = sqlx::query(
            "SELECT call_id, at, source, packets_received, packets_lost, loss_pct, jitter_ms, \
             rtt_ms, voiced_to_agent_ms, voiced_from_agent_ms, audio_level FROM call_quality \
             WHERE call_id = $1 ORDER BY at, source DESC",
        )
        .bind(call.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| sample_from_row(r, OP)).collect()
    }

    /// Records the device of the agent who answered the call (`calls.agent_device`).
    pub async fn set_call_agent_device(
        &self,
        call: &CallId,
        device: Device,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer("set_call_agent_device").await?;
        if set_call_agent_device_on(&mut conn, call, device).await? == 0 {
            return Err(not_found(call));
        }
        Ok(())
    }

    /// Counts one reconnect of the call's browser leg (`calls.browser_reconnects`).
    pub async fn add_browser_reconnect(&self, call: &CallId) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE calls SET browser_reconnects = browser_reconnects + 1 WHERE id = $1",
        )
        .bind(call.as_str())
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("add_browser_reconnect"))?;
        if done.rows_affected() == 0 {
            return Err(not_found(call));
        }
        Ok(())
    }
}

fn not_found(call: &CallId) -> StoreError {
    StoreError::NotFound {
        what: "call",
        id: call.to_string(),
    }
}

fn sample_from_row(r: &AnyRow, op: &'static str) -> Result<QualitySample, StoreError> {
    let source: String = get(r, "source", op)?;
    Ok(QualitySample {
        call_id: CallId::from_string(get::<String>(r, "call_id", op)?),
        at: get(r, "at", op)?,
        source: QualitySource::parse(&source).ok_or(StoreError::Corrupt {
            column: "call_quality.source",
            value: source.clone(),
        })?,
        packets_received: get(r, "packets_received", op)?,
        packets_lost: get(r, "packets_lost", op)?,
        loss_pct: get(r, "loss_pct", op)?,
        jitter_ms: get(r, "jitter_ms", op)?,
        rtt_ms: get(r, "rtt_ms", op)?,
        voiced_to_agent_ms: get(r, "voiced_to_agent_ms", op)?,
        voiced_from_agent_ms: get(r, "voiced_from_agent_ms", op)?,
        audio_level: get(r, "audio_level", op)?,
    })
}

/// Sets `calls.agent_device`; the rows changed.
pub(super) async fn set_call_agent_device_on(
    conn: &mut sqlx::AnyConnection,
    call: &CallId,
    device: Device,
) -> Result<u64, StoreError> {
    let done = sqlx::query("UPDATE calls SET agent_device = $2 WHERE id = $1")
        .bind(call.as_str())
        .bind(device.as_str())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("set_call_agent_device"))?;
    Ok(done.rows_affected())
}

#[cfg(test)]
#[path = "quality_tests.rs"]
mod tests;
