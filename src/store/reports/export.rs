//! Rows of the CSV exports (calls, intakes, escalations) for a range of local days; the SQL
//! selects by epoch-ms ranges only, so it reads the same on SQLite and PostgreSQL. Each export is
//! data (its SQL and its columns); one query-and-convert path serves all three.

use sqlx::any::AnyRow;

use super::{ReportRange, Zone};
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

/// `calls.csv`: calls that arrived in the range, oldest first.
const CALLS: Export<24> = Export::new(
    "export_calls",
    "SELECT c.id, c.arrived_at, c.caller, c.caller_name, c.customer_id, cu.name AS \
     customer_name, c.category, c.priority, c.outcome, c.queued_at, c.wait_ms, \
     c.agent_id, c.connected_at, c.ended_at, c.hangup_by, c.end_reason, c.language, \
     c.dtmf_mode, c.agent_device, c.loss_pct, c.jitter_ms, c.rtt_ms FROM calls c LEFT JOIN customers cu ON cu.id = c.customer_id \
     WHERE c.arrived_at >= $1 AND c.arrived_at < $2 ORDER BY c.arrived_at, c.id",
    [
        text("id"),
        int("arrived_at"),
        local("arrived_local", "arrived_at"),
        text("caller"),
        text("caller_name"),
        text("customer_id"),
        text("customer_name"),
        text("category"),
        int("priority"),
        text("outcome"),
        int("queued_at"),
        int("wait_ms"),
        text("agent_id"),
        int("connected_at"),
        int("ended_at"),
        span("talk_ms", "connected_at", "ended_at"),
        text("hangup_by"),
        text("end_reason"),
        text("language"),
        text("dtmf_mode"),
        text("agent_device"),
        float("loss_pct"),
        float("jitter_ms"),
        float("rtt_ms"),
    ],
);

/// `intakes.csv`: intakes created in the range, oldest first.
const INTAKES: Export<18> = Export::new(
    "export_intakes",
    "SELECT id, created_at, call_id, customer_id, caller, category, priority, language, \
     status, level, channel, title, description, solution, resolved_at, updated_by, \
     ivr_path FROM intakes WHERE created_at >= $1 AND created_at < $2 \
     ORDER BY created_at, id",
    [
        text("id"),
        int("created_at"),
        local("created_local", "created_at"),
        text("call_id"),
        text("customer_id"),
        text("caller"),
        text("category"),
        int("priority"),
        text("language"),
        text("status"),
        int("level"),
        text("channel"),
        text("title"),
        text("description"),
        text("solution"),
        int("resolved_at"),
        text("updated_by"),
        text("ivr_path"),
    ],
);

/// `escalations.csv`: escalations and returns made in the range, oldest first.
const ESCALATIONS: Export<13> = Export::new(
    "export_escalations",
    "SELECT e.id, e.intake_id, e.seq, e.at, i.category, e.from_level, e.to_level, \
     e.returned, e.target, e.reason, e.case_ref, e.agent_id FROM escalations e \
     JOIN intakes i ON i.id = e.intake_id WHERE e.at >= $1 AND e.at < $2 \
     ORDER BY e.at, e.intake_id, e.seq",
    [
        text("id"),
        text("intake_id"),
        int("seq"),
        int("at"),
        local("at_local", "at"),
        text("category"),
        int("from_level"),
        int("to_level"),
        int("returned"),
        text("target"),
        text("reason"),
        text("case_ref"),
        text("agent_id"),
    ],
);

impl Store {
    /// Calls that arrived in the range, oldest first, for `calls.csv`.
    pub async fn export_calls(&self, range: &ReportRange) -> Result<ExportTable, StoreError> {
        self.export(&CALLS, range).await
    }

    /// Intakes created in the range, oldest first, for `intakes.csv`.
    pub async fn export_intakes(&self, range: &ReportRange) -> Result<ExportTable, StoreError> {
        self.export(&INTAKES, range).await
    }

    /// Escalations and returns made in the range, oldest first, for `escalations.csv`.
    pub async fn export_escalations(&self, range: &ReportRange) -> Result<ExportTable, StoreError> {
        self.export(&ESCALATIONS, range).await
    }

    /// Runs `spec.sql` with the range's epoch-ms bounds as `$1`/`$2` and turns each row into the
    /// cells of `spec.columns`.
    async fn export<const N: usize>(
        &self,
        spec: &'static Export<N>,
        range: &ReportRange,
    ) -> Result<ExportTable, StoreError> {
        let rows = self.rows_in_range(spec.sql, range, spec.op).await?;
        let rows = rows
            .iter()
            .map(|r| {
                spec.columns
                    .iter()
                    .map(|c| c.source.cell(r, range.zone, spec.op))
                    .collect()
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(ExportTable {
            columns: &spec.headers,
            rows,
        })
    }
}

/// One CSV export: the operation name for errors, its SQL and its columns in order.
struct Export<const N: usize> {
    op: &'static str,
    sql: &'static str,
    columns: [Column; N],
    /// The `header` of each of `columns`, for [`ExportTable::columns`].
    headers: [&'static str; N],
}

impl<const N: usize> Export<N> {
    const fn new(op: &'static str, sql: &'static str, columns: [Column; N]) -> Self {
        let mut headers = [""; N];
        let mut i = 0;
        while i < N {
            headers[i] = columns[i].header;
            i += 1;
        }
        Export {
            op,
            sql,
            columns,
            headers,
        }
    }
}

/// One column of an export: its header and where its cells come from.
#[derive(Clone, Copy)]
struct Column {
    header: &'static str,
    source: Source,
}

/// Where a column's cells come from in a result row.
#[derive(Clone, Copy)]
enum Source {
    /// A nullable text column, as stored.
    Text(&'static str),
    /// A nullable integer column.
    Int(&'static str),
    /// A nullable DOUBLE PRECISION column, as [`float_text`].
    Float(&'static str),
    /// A NOT NULL epoch-ms column as local time in the range's zone.
    Local(&'static str),
    /// `to - from` of two nullable epoch-ms columns, at least 0; empty unless both are set.
    Span {
        from: &'static str,
        to: &'static str,
    },
}

impl Source {
    fn cell(self, r: &AnyRow, zone: Zone, op: &'static str) -> Result<Cell, StoreError> {
        Ok(match self {
            Source::Text(col) => get::<Option<String>>(r, col, op)?.into(),
            Source::Int(col) => get::<Option<i64>>(r, col, op)?.into(),
            // `Cell` has no float variant (it is `Eq`, and the CSV writer prints text as it is).
            Source::Float(col) => match get::<Option<f64>>(r, col, op)? {
                Some(v) => Cell::Text(float_text(v)),
                None => Cell::Null,
            },
            Source::Local(col) => Cell::Text(zone.local_text(get(r, col, op)?)),
            Source::Span { from, to } => {
                let from: Option<i64> = get(r, from, op)?;
                let to: Option<i64> = get(r, to, op)?;
                from.zip(to).map(|(f, t)| (t - f).max(0)).into()
            }
        })
    }
}

/// A text column of the same name.
const fn text(col: &'static str) -> Column {
    Column {
        header: col,
        source: Source::Text(col),
    }
}

/// An integer column of the same name.
const fn int(col: &'static str) -> Column {
    Column {
        header: col,
        source: Source::Int(col),
    }
}

/// A DOUBLE PRECISION column of the same name.
const fn float(col: &'static str) -> Column {
    Column {
        header: col,
        source: Source::Float(col),
    }
}

/// `header`: the epoch-ms column `col` as local time.
const fn local(header: &'static str, col: &'static str) -> Column {
    Column {
        header,
        source: Source::Local(col),
    }
}

/// `header`: the time from `from` to `to` in ms.
const fn span(header: &'static str, from: &'static str, to: &'static str) -> Column {
    Column {
        header,
        source: Source::Span { from, to },
    }
}

/// A float as text with at most three decimals (`2.5`, `31`, `0.333`).
fn float_text(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    // `-0` would read as a formula sign to the CSV writer; nothing here is negative anyway.
    format!("{}", if rounded == 0.0 { 0.0 } else { rounded })
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
