-- firstline schema, version 16: transfers (issue 15). A transferred call stays one `calls` row
-- (counted once in every report) and gets one `call_legs` row per agent who talked on it, so
-- each agent's talk time is their own: the first agent's leg ends when they handed the call
-- over (the caller hears hold music from then on), the next one's starts when they answered.
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

-- `end_reason`: `transferred` (handed to `transferred_to`), `ended` (the call ended with this
-- agent). Calls never transferred have no legs: their talk is `calls.connected_at`..`ended_at`.
CREATE TABLE call_legs (
    call_id        TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    agent_id       TEXT REFERENCES agents (id) ON DELETE SET NULL,
    connected_at   BIGINT NOT NULL,
    ended_at       BIGINT,
    end_reason     TEXT NOT NULL CHECK (end_reason IN ('transferred', 'ended')),
    transferred_to TEXT REFERENCES agents (id) ON DELETE SET NULL,
    PRIMARY KEY (call_id, seq)
);
CREATE INDEX call_legs_agent_idx ON call_legs (agent_id, connected_at);

-- How often the call was handed over, and when its current agent answered (the start of the
-- leg written when the call ends).
ALTER TABLE calls ADD COLUMN transfers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN leg_connected_at BIGINT;
