-- firstline schema, version 3: queues, agents' sessions, offers, callbacks, voice messages (issue 3).
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

-- The queue part of the call record.
ALTER TABLE calls ADD COLUMN category TEXT;
ALTER TABLE calls ADD COLUMN priority INTEGER;
ALTER TABLE calls ADD COLUMN queued_at BIGINT;
ALTER TABLE calls ADD COLUMN offered_at BIGINT;
ALTER TABLE calls ADD COLUMN offers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN agent_id TEXT REFERENCES agents (id) ON DELETE SET NULL;
ALTER TABLE calls ADD COLUMN connected_at BIGINT;
ALTER TABLE calls ADD COLUMN wait_ms BIGINT;
CREATE INDEX calls_agent_idx ON calls (agent_id);

-- Desk roles: agent, supervisor, admin.
ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'agent';

-- Signed-in desk and API sessions; only the SHA-256 of the token is kept.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_agent_idx ON sessions (agent_id);

-- Every time a waiting caller (or callback) rang an agent's phone, and how it ended.
CREATE TABLE call_offers (
    call_id    TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    offered_at BIGINT NOT NULL,
    ended_at   BIGINT,
    result     TEXT CHECK (result IN ('answered', 'no_answer', 'rejected', 'unreachable', 'cancelled'))
);
CREATE INDEX call_offers_call_idx ON call_offers (call_id);

-- A caller who asked to be called back keeps their place: queued_at is their original arrival.
CREATE TABLE callbacks (
    id           TEXT PRIMARY KEY,
    call_id      TEXT REFERENCES calls (id) ON DELETE SET NULL,
    intake_id    TEXT REFERENCES intakes (id) ON DELETE SET NULL,
    number       TEXT NOT NULL,
    contact      TEXT,
    category     TEXT NOT NULL CHECK (category IN ('hardware', 'software', 'service', 'unclassified')),
    priority     INTEGER CHECK (priority BETWEEN 1 AND 5),
    queued_at    BIGINT NOT NULL,
    requested_at BIGINT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN (
                     'pending', 'offered', 'connected', 'done', 'failed', 'cancelled')),
    agent_id     TEXT REFERENCES agents (id) ON DELETE SET NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    completed_at BIGINT
);
CREATE INDEX callbacks_status_idx ON callbacks (status, queued_at);

-- A voice message describing the problem, recorded while waiting (WAV file on disk).
CREATE TABLE voice_messages (
    id          TEXT PRIMARY KEY,
    call_id     TEXT REFERENCES calls (id) ON DELETE SET NULL,
    intake_id   TEXT REFERENCES intakes (id) ON DELETE SET NULL,
    path        TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX voice_messages_intake_idx ON voice_messages (intake_id);
