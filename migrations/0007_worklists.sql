-- firstline schema, version 7: the work lists behind the desk (issue 10): ticket numbers,
-- owner and group of an intake, internal notes, agents' groups and desk language, and the
-- indexes that keep the inbox, the lists and the search index-driven at 100,000 intakes.
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

-- Named counters, one row each, moved by one atomic upsert in the transaction that uses the
-- value: `INSERT … ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`.
-- Ticket numbers count per local calendar year under the name `ticket:<year>`.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

-- `ticket_no`: `FL-<year>-<5 digits>`, given when the row is inserted; rows from before this
-- migration get theirs at the next start (a backfill in Rust, oldest first).
-- `owner_id`/`claimed_at`: who claimed the intake (second level) and when.
-- `group_name`: the second-level group or third-level vendor it is with (the target of the
-- latest escalation), NULL at the first level.
ALTER TABLE intakes ADD COLUMN ticket_no TEXT;
ALTER TABLE intakes ADD COLUMN owner_id TEXT REFERENCES agents (id) ON DELETE SET NULL;
ALTER TABLE intakes ADD COLUMN claimed_at BIGINT;
ALTER TABLE intakes ADD COLUMN group_name TEXT;

-- What the word search reads, one narrow row per intake: title, description and solution
-- lower-cased in Rust (`words`), kept by every write that changes them, and the intake's
-- `created_at` (`sort_at`) so that the newest matches come first from this table's own index.
-- A table of its own because a `%word%` match reads every row when a word is rare: scanning
-- these rows costs about half of scanning the wide intakes rows (docs/schema.md). Rows from
-- before this migration get theirs with their ticket numbers at the next start.
CREATE TABLE intake_search (
    intake_id TEXT PRIMARY KEY REFERENCES intakes (id) ON DELETE CASCADE,
    sort_at   BIGINT NOT NULL,
    words     TEXT NOT NULL
);
CREATE INDEX intake_search_sort_idx ON intake_search (sort_at);

-- The group of intakes already escalated: the target of their latest move.
UPDATE intakes SET group_name = (
    SELECT e.target FROM escalations e WHERE e.intake_id = intakes.id ORDER BY e.seq DESC LIMIT 1
) WHERE level > 1;

-- Unique ticket numbers (NULLs, until the backfill, do not collide on either engine).
CREATE UNIQUE INDEX intakes_ticket_no_idx ON intakes (ticket_no);
-- The inbox: one group's escalated intakes by priority (NULL last: 6) then age; also its counts.
CREATE INDEX intakes_inbox_idx ON intakes (group_name, status, level, (COALESCE(priority, 6)), created_at);
-- "Owner me / none" lists.
CREATE INDEX intakes_owner_idx ON intakes (owner_id, status, created_at);
-- A caller's history (callers without a customer record).
CREATE INDEX intakes_caller_idx ON intakes (caller, created_at);
-- The level filter of the list, newest first.
CREATE INDEX intakes_level_idx ON intakes (level, created_at);
-- The agent's recent calls, newest first.
CREATE INDEX calls_agent_connected_idx ON calls (agent_id, connected_at);

-- Internal notes and the claim history of an intake. `kind`: `note` (an internal note),
-- `claimed`, `released`, `reopened` (`body`: the note, the previous owner taken over from, or
-- the reason). Rows are never updated or deleted by the application.
CREATE TABLE intake_notes (
    id        TEXT PRIMARY KEY,
    intake_id TEXT NOT NULL REFERENCES intakes (id) ON DELETE CASCADE,
    agent_id  TEXT REFERENCES agents (id) ON DELETE SET NULL,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('note', 'claimed', 'released', 'reopened')),
    body      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX intake_notes_intake_idx ON intake_notes (intake_id, at);

-- The second-level groups an agent belongs to (comma list, like `categories`), and the desk
-- language the agent chose (NULL: the browser's).
ALTER TABLE agents ADD COLUMN groups TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN language TEXT CHECK (language IN ('nl', 'en'));
