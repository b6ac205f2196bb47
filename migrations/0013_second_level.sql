-- firstline schema, version 13: the second level's work (issue 15): what a specialist is
-- doing with an escalated intake, the SLA clock's first response and pauses, and more kinds of
-- history note. Portable: SQLite and PostgreSQL (see docs/schema.md).

-- `work_state`: for an escalated intake, what its owner is doing with it; NULL while nobody
-- works it (unclaimed, at the first level, or finished). `waiting_customer` pauses the SLA's
-- resolution clock.
ALTER TABLE intakes ADD COLUMN work_state TEXT CHECK (work_state IN (
    'in_progress', 'waiting_customer', 'waiting_vendor'));
-- The first response (the first edit, claim, outcome or note by an agent): stops the SLA's
-- response clock.
ALTER TABLE intakes ADD COLUMN responded_at BIGINT;
-- The SLA's pauses (waiting for the customer): one row per pause, `ended_at` NULL while it
-- lasts. Raw instants, so the business time they take is computed with the calendar in force
-- when the SLA is shown (src/sla/).
CREATE TABLE sla_pauses (
    intake_id  TEXT NOT NULL REFERENCES intakes (id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    PRIMARY KEY (intake_id, started_at)
);

-- More kinds of history note: `status` (the work state changed; body: the new state),
-- `reassigned` (to another group; body: from → to and why), `vendor` (a vendor case's record
-- or answer), `handed_over` (a transfer), `called_again` (the caller rang again about it and
-- chose it in the IVR; no agent). SQLite cannot change a CHECK constraint, so the
-- table is rebuilt: same columns, rows copied, index re-created.
CREATE TABLE intake_notes_v13 (
    id        TEXT PRIMARY KEY,
    intake_id TEXT NOT NULL REFERENCES intakes (id) ON DELETE CASCADE,
    agent_id  TEXT REFERENCES agents (id) ON DELETE SET NULL,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('note', 'claimed', 'released', 'reopened',
                  'status', 'reassigned', 'vendor', 'handed_over', 'called_again')),
    body      TEXT NOT NULL DEFAULT ''
);
INSERT INTO intake_notes_v13 (id, intake_id, agent_id, at, kind, body)
    SELECT id, intake_id, agent_id, at, kind, body FROM intake_notes;
DROP TABLE intake_notes;
ALTER TABLE intake_notes_v13 RENAME TO intake_notes;
CREATE INDEX intake_notes_intake_idx ON intake_notes (intake_id, at);
