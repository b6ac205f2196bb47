-- firstline schema, version 15: calls to the outside through the SIP trunk (issue 15):
-- callbacks dialled automatically and click-to-call from an intake, each a record linked to
-- its intake; a callback's dial attempts and when it may be tried again.
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

-- One row per dial attempt. `kind`: `callback` (the queue rang the agent for a callback, then
-- we dialled the customer) or `click_to_call` (an agent asked from an intake).
-- `outcome`: `in_progress` until it ends; `answered` (the customer answered and was bridged),
-- `no_answer`, `busy`, `rejected` (the trunk or the customer refused), `trunk_failed` (no
-- answer from the trunk, transport error), `agent_no_answer` (the agent's phone did not
-- answer), `agent_left` (the agent hung up before the customer answered), `interrupted` (the
-- server stopped during the call; closed at the next start).
CREATE TABLE outbound_calls (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('callback', 'click_to_call')),
    intake_id         TEXT REFERENCES intakes (id) ON DELETE SET NULL,
    callback_id       TEXT REFERENCES callbacks (id) ON DELETE SET NULL,
    agent_id          TEXT REFERENCES agents (id) ON DELETE SET NULL,
    number            TEXT NOT NULL,
    dialled           TEXT,
    caller_id         TEXT,
    started_at        BIGINT NOT NULL,
    agent_answered_at BIGINT,
    answered_at       BIGINT,
    ended_at          BIGINT,
    outcome           TEXT NOT NULL DEFAULT 'in_progress' CHECK (outcome IN (
                          'in_progress', 'answered', 'no_answer', 'busy', 'rejected',
                          'trunk_failed', 'agent_no_answer', 'agent_left', 'interrupted')),
    sip_status        INTEGER,
    hangup_by         TEXT CHECK (hangup_by IN ('agent', 'customer', 'server'))
);
CREATE INDEX outbound_calls_intake_idx ON outbound_calls (intake_id, started_at);
CREATE INDEX outbound_calls_callback_idx ON outbound_calls (callback_id);

-- A callback whose dial found nobody waits until `retry_at` before it is queued again;
-- `dial_attempts` counts the dials (`attempts` counts offers to agents).
ALTER TABLE callbacks ADD COLUMN dial_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN retry_at BIGINT;
