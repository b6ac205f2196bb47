-- firstline schema, version 12: the hand-off to ticket systems and webhooks (issue 14,
-- docs/integrations.md). The outbox holds one row per event and integration target, written
-- in the same transaction as the change it reports (an intake edit, an escalation, the call
-- records of the write-behind journal), so a committed change always has its delivery and a
-- rolled-back one never has. A delivery worker per target sends the rows in `seq` order.
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

CREATE TABLE outbox (
    -- Allocated from `counters` ('outbox') in the writing transaction: commit order per target.
    seq          BIGINT PRIMARY KEY,
    -- The event's id, the same for every target it goes to: the receiver's idempotency key.
    event_id     TEXT NOT NULL,
    -- The target's name from `[[integrations.*]]`.
    target       TEXT NOT NULL,
    -- `intake.created`, `call.ended`, … (docs/integrations.md).
    kind         TEXT NOT NULL,
    -- The intake or call it is about.
    subject      TEXT,
    -- The event's data, JSON (schema version 1).
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    -- Not before this time (epoch ms): the back-off after a failed attempt.
    next_at      BIGINT NOT NULL,
    last_at      BIGINT,
    -- The receiver's last HTTP status (NULL: no response, e.g. a timeout).
    last_status  INTEGER,
    -- What went wrong last, with the start of the receiver's answer (bounded).
    last_error   TEXT,
    delivered_at BIGINT
);
CREATE UNIQUE INDEX outbox_event_target_idx ON outbox (event_id, target);
CREATE INDEX outbox_target_idx ON outbox (target, state, seq);

-- A target paused by an admin stays paused across restarts.
CREATE TABLE integration_state (
    target     TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    changed_by TEXT,
    changed_at BIGINT NOT NULL
);

-- The ticket an intake has in an external ticket system (Request Tracker, Zammad).
CREATE TABLE external_tickets (
    intake_id  TEXT NOT NULL REFERENCES intakes (id),
    target     TEXT NOT NULL,
    -- The ticket system's id (RT: `4711`; Zammad: the ticket id); NULL while the ticket could
    -- not be created (`error` says why).
    ticket_ref TEXT,
    -- The number people use (Zammad's `number`; RT: the id) and a link to it.
    ticket_no  TEXT,
    url        TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The last hand-off error for this intake (a renamed queue, a deleted ticket); NULL once
    -- a later delivery succeeds.
    error      TEXT,
    PRIMARY KEY (intake_id, target)
);
