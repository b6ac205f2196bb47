//! Rows of the CSV exports (calls, intakes, escalations) for a range of local days; the SQL
//! selects by epoch-ms ranges only, so it reads the same on SQLite and PostgreSQL.

use sqlx::any::AnyRow;

use super::ReportRange;
use crate::store::codec::get;
use crate::store::{Store, StoreError};

/// A table for CSV export: column names and rows of cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTable {
    /// Header row.
    pub columns: &'static [&'static str],
    /// Data rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
}

/// One cell of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// SQL NULL (an empty cell).
    Null,
    /// A number.
    Int(i64),
    /// Text, as stored.
    Text(String),
}

impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Self {
        v.map_or(Cell::Null, Cell::Text)
    }
}

impl From<Option<i64>> for Cell {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Cell::Null, Cell::Int)
    }
}

impl Store {
    /// Calls that arrived in the range, oldest first, for `calls.csv`.
    pub async fn export_calls(&self, range: &ReportRange) -> Result<ExportTable, StoreError> {
        const OP: &str = "export_calls";
        const COLUMNS: &[&str] = &[
            "id",
            "arrived_at",
            "arrived_local",
            "caller",
            "caller_name",
            "customer_id",
            "customer_name",
            "category",
            "priority",
            "outcome",
            "queued_at",
            "wait_ms",
            "agent_id",
            "connected_at",
            "ended_at",
            "talk_ms",
            "hangup_by",
            "end_reason",
            "language",
            "dtmf_mode",
            "agent_device",
            "loss_pct",
            "jitter_ms",
            "rtt_ms",
        ];
        let rows = sqlx::query(
            "SELECT c.id, c.arrived_at, c.caller, c.caller_name, c.customer_id, cu.name AS \
             customer_name, c.category, c.priority, c.outcome, c.queued_at, c.wait_ms, \
             c.agent_id, c.connected_at, c.ended_at, c.hangup_by, c.end_reason, c.language, \
             c.dtmf_mode, c.agent_device, c.loss_pct, c.jitter_ms, c.rtt_ms FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id \
             WHERE c.arrived_at >= $1 AND c.arrived_at < $2 ORDER BY c.arrived_at, c.id",
        )
        .bind(range.start_ms())
        .bind(range.end_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let zone = range.zone;
        let rows = rows
            .iter()
            .map(|r| {
                let arrived: i64 = get(r, "arrived_at", OP)?;
                let connected: Option<i64> = get(r, "connected_at", OP)?;
                let ended: Option<i64> = get(r, "ended_at", OP)?;
                let talk = connected.zip(ended).map(|(c, e)| (e - c).max(0));
                Ok(vec![
                    text(r, "id", OP)?,
                    Cell::Int(arrived),
                    Cell::Text(zone.local_text(arrived)),
                    text(r, "caller", OP)?,
                    text(r, "caller_name", OP)?,
                    text(r, "customer_id", OP)?,
                    text(r, "customer_name", OP)?,
                    text(r, "category", OP)?,
                    int(r, "priority", OP)?,
                    text(r, "outcome", OP)?,
                    int(r, "queued_at", OP)?,
                    int(r, "wait_ms", OP)?,
                    text(r, "agent_id", OP)?,
                    connected.into(),
                    ended.into(),
                    talk.into(),
                    text(r, "hangup_by", OP)?,
                    text(r, "end_reason", OP)?,
                    text(r, "language", OP)?,
                    text(r, "dtmf_mode", OP)?,
                    text(r, "agent_device", OP)?,
                    float(r, "loss_pct", OP)?,
                    float(r, "jitter_ms", OP)?,
                    float(r, "rtt_ms", OP)?,
                ])
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(ExportTable {
            columns: COLUMNS,
            rows,
        })
    }

    /// Intakes created in the range, oldest first, for `intakes.csv`.
    pub async fn export_intakes(&self, range: &ReportRange) -> Result<ExportTable, StoreError> {
        const OP: &str = "export_intakes";
        const COLUMNS: &[&str] = &[
            "id",
            "created_at",
            "created_local",
            "call_id",
            "customer_id",
            "caller",
            "category",
            "priority",
            "language",
            "status",
            "level",
            "channel",
            "title",
            "description",
            "solution",
            "resolved_at",
            "updated_by",
            "ivr_path",
        ];
        let rows = sqlx::query(
            "SELECT id, created_at, call_id, customer_id, caller, category, priority, language, \
             status, level, channel, title, description, solution, resolved_at, updated_by, \
             ivr_path FROM intakes WHERE created_at >= $1 AND created_at < $2 \
             ORDER BY created_at, id",
        )
        .bind(range.start_ms())
        .bind(range.end_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let rows = rows
            .iter()
            .map(|r| {
                let created: i64 = get(r, "created_at", OP)?;
                Ok(vec![
                    text(r, "id", OP)?,
                    Cell::Int(created),
                    Cell::Text(range.zone.local_text(created)),
                    text(r, "call_id", OP)?,
                    text(r, "customer_id", OP)?,
                    text(r, "caller", OP)?,
                    text(r, "category", OP)?,
                    int(r, "priority", OP)?,
                    text(r, "language", OP)?,
                    text(r, "status", OP)?,
                    int(r, "level", OP)?,
                    text(r, "channel", OP)?,
                    text(r, "title", OP)?,
                    text(r, "description", OP)?,
                    text(r, "solution", OP)?,
                    int(r, "resolved_at", OP)?,
                    text(r, "updated_by", OP)?,
                    text(r, "ivr_path", OP)?,
                ])
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(ExportTable {
            columns: COLUMNS,
            rows,
        })
    }

    /// Escalations and returns made in the range, oldest first, for `escalations.csv`.
    pub async fn export_escalations(&self, range: &ReportRange) -> Result<ExportTable, StoreError> {
        const OP: &str = "export_escalations";
        const COLUMNS: &[&str] = &[
            "id",
            "intake_id",
            "seq",
            "at",
            "at_local",
            "category",
            "from_level",
            "to_level",
            "returned",
            "target",
            "reason",
            "case_ref",
            "agent_id",
        ];
        let rows = sqlx::query(
            "SELECT e.id, e.intake_id, e.seq, e.at, i.category, e.from_level, e.to_level, \
             e.returned, e.target, e.reason, e.case_ref, e.agent_id FROM escalations e \
             JOIN intakes i ON i.id = e.intake_id WHERE e.at >= $1 AND e.at < $2 \
             ORDER BY e.at, e.intake_id, e.seq",
        )
        .bind(range.start_ms())
        .bind(range.end_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let rows = rows
            .iter()
            .map(|r| {
                let at: i64 = get(r, "at", OP)?;
                Ok(vec![
                    text(r, "id", OP)?,
                    text(r, "intake_id", OP)?,
                    int(r, "seq", OP)?,
                    Cell::Int(at),
                    Cell::Text(range.zone.local_text(at)),
                    text(r, "category", OP)?,
                    int(r, "from_level", OP)?,
                    int(r, "to_level", OP)?,
                    int(r, "returned", OP)?,
                    text(r, "target", OP)?,
                    text(r, "reason", OP)?,
                    text(r, "case_ref", OP)?,
                    text(r, "agent_id", OP)?,
                ])
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(ExportTable {
            columns: COLUMNS,
            rows,
        })
    }
}

fn text(r: &AnyRow, col: &'static str, op: &'static str) -> Result<Cell, StoreError> {
    Ok(get::<Option<String>>(r, col, op)?.into())
}

/// A DOUBLE PRECISION column as text with at most three decimals (`2.5`, `31`, `0.333`); `Cell`
/// has no float variant (it is `Eq`, and the CSV writer prints text as it is).
fn float(r: &AnyRow, col: &'static str, op: &'static str) -> Result<Cell, StoreError> {
    Ok(match get::<Option<f64>>(r, col, op)? {
        Some(v) => Cell::Text(float_text(v)),
        None => Cell::Null,
    })
}

fn float_text(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    // `-0` would read as a formula sign to the CSV writer; nothing here is negative anyway.
    format!("{}", if rounded == 0.0 { 0.0 } else { rounded })
}

fn int(r: &AnyRow, col: &'static str, op: &'static str) -> Result<Cell, StoreError> {
    Ok(get::<Option<i64>>(r, col, op)?.into())
}

#[cfg(test)]
mod tests {
    use super::float_text;

    #[test]
    fn floats_are_plain_numbers_with_at_most_three_decimals() {
        assert_eq!(float_text(2.5), "2.5");
        assert_eq!(float_text(31.0), "31");
        assert_eq!(float_text(1.0 / 3.0), "0.333");
        assert_eq!(float_text(0.0004), "0");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(350.0), "350");
    }
}
