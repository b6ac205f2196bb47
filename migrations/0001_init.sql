-- firstline schema, version 1: customers, agents, calls (CDR), intakes, events.
-- One file for SQLite and PostgreSQL alike (see docs/schema.md): TEXT ids,
-- BIGINT epoch milliseconds (UTC), INTEGER for small numbers and 0/1 flags,
-- no BOOLEAN/DATE/TIMESTAMP columns, no engine-specific autoincrement.

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    organisation TEXT,
    department   TEXT,
    email        TEXT,
    phone        TEXT,
    location     TEXT,
    notes        TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX customers_phone_idx ON customers (phone);
CREATE INDEX customers_name_idx ON customers (name);

CREATE TABLE customer_phones (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    number      TEXT NOT NULL UNIQUE,
    label       TEXT
);
CREATE INDEX customer_phones_customer_idx ON customer_phones (customer_id);

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    login         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    extension     TEXT,
    categories    TEXT NOT NULL DEFAULT '',
    level         INTEGER NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 3),
    created_at    BIGINT NOT NULL
);

CREATE TABLE calls (
    id           TEXT PRIMARY KEY,
    sip_call_id  TEXT NOT NULL,
    caller       TEXT NOT NULL,
    caller_name  TEXT,
    customer_id  TEXT REFERENCES customers (id) ON DELETE SET NULL,
    transport    TEXT NOT NULL,
    arrived_at   BIGINT NOT NULL,
    answered_at  BIGINT,
    ivr_ended_at BIGINT,
    ended_at     BIGINT,
    dtmf_mode    TEXT,
    language     TEXT CHECK (language IN ('nl', 'en')),
    outcome      TEXT NOT NULL DEFAULT 'in_progress' CHECK (outcome IN (
                     'in_progress', 'cancelled', 'abandoned_ivr', 'abandoned_queue',
                     'max_wait', 'rejected', 'failed', 'answered', 'callback', 'voice_message')),
    hangup_by    TEXT CHECK (hangup_by IN ('caller', 'server')),
    end_reason   TEXT
);
CREATE INDEX calls_arrived_idx ON calls (arrived_at);
CREATE INDEX calls_caller_idx ON calls (caller);
CREATE INDEX calls_customer_idx ON calls (customer_id);
CREATE INDEX calls_sip_call_id_idx ON calls (sip_call_id);

CREATE TABLE intakes (
    id          TEXT PRIMARY KEY,
    call_id     TEXT REFERENCES calls (id) ON DELETE SET NULL,
    customer_id TEXT REFERENCES customers (id) ON DELETE SET NULL,
    caller      TEXT,
    category    TEXT NOT NULL CHECK (category IN ('hardware', 'software', 'service', 'unclassified')),
    priority    INTEGER CHECK (priority BETWEEN 1 AND 5),
    language    TEXT CHECK (language IN ('nl', 'en')),
    ivr_path    TEXT NOT NULL DEFAULT '',
    dtmf_mode   TEXT,
    status      TEXT NOT NULL DEFAULT 'draft' CHECK (status IN (
                    'draft', 'open', 'resolved', 'escalated', 'closed')),
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX intakes_call_idx ON intakes (call_id);
CREATE INDEX intakes_customer_status_idx ON intakes (customer_id, status);
CREATE INDEX intakes_created_idx ON intakes (created_at);

-- The durable log of the one event stream. `seq` is assigned by the application
-- (the event bus numbers each event when it publishes it, continuing from
-- MAX(seq) + 1 at start), because no autoincrement is portable. No foreign keys:
-- the log must accept any event, in any order, without failing.
CREATE TABLE events (
    seq      BIGINT PRIMARY KEY,
    at       BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    call_id  TEXT,
    agent_id TEXT,
    payload  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_call_idx ON events (call_id);
CREATE INDEX events_agent_idx ON events (agent_id);
CREATE INDEX events_at_idx ON events (at);
