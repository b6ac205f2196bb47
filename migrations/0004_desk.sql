-- firstline schema, version 4: the agent desk (issue 4): intake outcomes, escalations, calls
-- attached to an existing intake. Portable: SQLite and PostgreSQL (see docs/schema.md).

-- The desk part of the intake record.
ALTER TABLE intakes ADD COLUMN title TEXT;
ALTER TABLE intakes ADD COLUMN solution TEXT;
ALTER TABLE intakes ADD COLUMN level INTEGER NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 3);
ALTER TABLE intakes ADD COLUMN channel TEXT NOT NULL DEFAULT 'phone' CHECK (channel IN ('phone', 'email', 'desk'));
ALTER TABLE intakes ADD COLUMN resolved_at BIGINT;
ALTER TABLE intakes ADD COLUMN updated_by TEXT REFERENCES agents (id) ON DELETE SET NULL;
-- A draft closed because its call continued an existing intake points at that intake.
ALTER TABLE intakes ADD COLUMN merged_into TEXT REFERENCES intakes (id) ON DELETE SET NULL;
CREATE INDEX intakes_status_idx ON intakes (status, created_at);

-- Every move of an intake between support levels; a return to the first level is a row with
-- to_level 1 and returned = 1. Rows are never updated or deleted by the application. `seq`
-- numbers an intake's moves from 1 (two moves can share a millisecond).
CREATE TABLE escalations (
    id         TEXT PRIMARY KEY,
    intake_id  TEXT NOT NULL REFERENCES intakes (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    from_level INTEGER NOT NULL CHECK (from_level BETWEEN 1 AND 3),
    to_level   INTEGER NOT NULL CHECK (to_level BETWEEN 1 AND 3),
    target     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    case_ref   TEXT,
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    at         BIGINT NOT NULL,
    returned   INTEGER NOT NULL DEFAULT 0 CHECK (returned IN (0, 1))
);
CREATE UNIQUE INDEX escalations_intake_seq_idx ON escalations (intake_id, seq);

-- Further calls about an existing intake (the agent chose "continue" in the screen pop).
CREATE TABLE intake_calls (
    intake_id   TEXT NOT NULL REFERENCES intakes (id) ON DELETE CASCADE,
    call_id     TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    attached_at BIGINT NOT NULL,
    agent_id    TEXT REFERENCES agents (id) ON DELETE SET NULL,
    PRIMARY KEY (intake_id, call_id)
);
CREATE INDEX intake_calls_call_idx ON intake_calls (call_id);
