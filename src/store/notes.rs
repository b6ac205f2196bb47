//! `intake_notes` (migrations 7 and 13): internal notes and the history of an intake (claimed,
//! released, reopened, work state, reassigned); rows are only ever added, in the transaction of
//! the change they record.

use std::collections::HashMap;

use sqlx::Any;

use super::codec::get;
use super::{Store, StoreError};
use crate::domain::{AgentId, IntakeId};

/// What a note records (`intake_notes.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// An internal note typed by an agent.
    Note,
    /// The agent claimed the intake (the body names an owner taken over from).
    Claimed,
    /// The owner (or a supervisor) released it.
    Released,
    /// A resolved intake was opened again (the body is the reason).
    Reopened,
    /// The owner changed the work state (the body is the new state, then the reason if any).
    Status,
    /// Moved to another second-level group (the body: `from → to: reason`).
    Reassigned,
    /// A vendor case was opened, changed or closed, or the vendor answered (the body says).
    Vendor,
    /// The caller rang again about it and chose it in the IVR (the body: the IVR path).
    CalledAgain,
    /// The call was transferred to another agent (the body: `to <name>: <reason>`).
    HandedOver,
}

impl NoteKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Note => "note",
            NoteKind::Claimed => "claimed",
            NoteKind::Released => "released",
            NoteKind::Reopened => "reopened",
            NoteKind::Status => "status",
            NoteKind::Reassigned => "reassigned",
            NoteKind::Vendor => "vendor",
            NoteKind::CalledAgain => "called_again",
            NoteKind::HandedOver => "handed_over",
        }
    }

    fn parse(s: &str) -> Option<NoteKind> {
        use NoteKind::*;
        [
            Note,
            Claimed,
            Released,
            Reopened,
            Status,
            Reassigned,
            Vendor,
            CalledAgain,
            HandedOver,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A stored note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRow {
    /// `note-…`.
    pub id: String,
    /// The intake.
    pub intake_id: IntakeId,
    /// Who wrote it (`None` when that agent was deleted).
    pub agent_id: Option<AgentId>,
    /// Epoch ms.
    pub at: i64,
    /// What it records.
    pub kind: NoteKind,
    /// The text (empty for a plain claim or release).
    pub body: String,
}

/// `note-<at as 12 hex digits><8 hex digits>`: ids sort by time, and two notes of one process
/// in the same millisecond by the order they were written (a counter), so `ORDER BY at, id`
/// lists a claim before the note typed right after it.
fn note_id(at: i64) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seq = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("note-{:012x}{seq:08x}", at.max(0))
}

/// Adds a note inside the caller's transaction; returns its id.
pub(super) async fn insert_note(
    conn: &mut sqlx::AnyConnection,
    intake: &IntakeId,
    agent: &AgentId,
    kind: NoteKind,
    body: &str,
    at: i64,
    op: &'static str,
) -> Result<String, StoreError> {
    insert_note_by(conn, intake, Some(agent), kind, body, at, op).await
}

/// [`insert_note`] by `agent`, or by nobody (`None`: the server noted it, e.g. a caller who
/// rang again about the intake).
pub(super) async fn insert_note_by(
    conn: &mut sqlx::AnyConnection,
    intake: &IntakeId,
    agent: Option<&AgentId>,
    kind: NoteKind,
    body: &str,
    at: i64,
    op: &'static str,
) -> Result<String, StoreError> {
    let id = note_id(at);
    sqlx::query::<Any>(
        "INSERT INTO intake_notes (id, intake_id, agent_id, at, kind, body) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(intake.as_str())
    .bind(agent.map(AgentId::as_str))
    .bind(at)
    .bind(kind.as_str())
    .bind(body)
    .execute(conn)
    .await
    .map_err(StoreError::query(op))?;
    Ok(id)
}

impl Store {
    /// Adds an internal note to an intake that is not `closed`; `None` (nothing written) when
    /// the intake is missing or closed. A note on a resolved intake is history, and allowed.
    pub async fn add_note(
        &self,
        intake: &IntakeId,
        agent: &AgentId,
        body: &str,
        at: i64,
    ) -> Result<Option<NoteRow>, StoreError> {
        const OP: &str = "add_note";
        let mut tx = self.begin_write(OP).await?;
        let open: Option<String> =
            sqlx::query_scalar("SELECT id FROM intakes WHERE id = $1 AND status <> 'closed'")
                .bind(intake.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
        if open.is_none() {
            return Ok(None);
        }
        let id = insert_note(&mut tx, intake, agent, NoteKind::Note, body, at, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(Some(NoteRow {
            id,
            intake_id: intake.clone(),
            agent_id: Some(agent.clone()),
            at,
            kind: NoteKind::Note,
            body: body.to_owned(),
        }))
    }

    /// The notes of each of `intakes` (one query), oldest first.
    pub async fn notes_for_intakes(
        &self,
        intakes: &[IntakeId],
    ) -> Result<HashMap<IntakeId, Vec<NoteRow>>, StoreError> {
        const OP: &str = "notes_for_intakes";
        self.by_intake(
            "SELECT id, intake_id, agent_id, at, kind, body FROM intake_notes WHERE intake_id IN ",
            " ORDER BY at, id",
            intakes,
            OP,
            |row| {
                let kind: String = get(row, "kind", OP)?;
                let note = NoteRow {
                    id: get(row, "id", OP)?,
                    intake_id: IntakeId::from_string(get::<String>(row, "intake_id", OP)?),
                    agent_id: get::<Option<String>>(row, "agent_id", OP)?.map(AgentId::from_string),
                    at: get(row, "at", OP)?,
                    kind: NoteKind::parse(&kind).ok_or(StoreError::Corrupt {
                        column: "intake_notes.kind",
                        value: kind,
                    })?,
                    body: get(row, "body", OP)?,
                };
                Ok((note.intake_id.clone(), note))
            },
        )
        .await
    }
}
