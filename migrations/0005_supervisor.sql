-- firstline schema, version 5: the supervisor view (issue 5): every supervisor action is
-- audited. Portable: SQLite and PostgreSQL (see docs/schema.md and docs/supervisor.md).

-- One row per supervisor action (who, what, when); never updated or deleted by the application.
-- `action` is `agent_not_ready`, `agent_logout`, `call_priority` or `call_queue`; `target` the
-- agent or call id; `details` a JSON object (the reason, the old and new priority or queue).
CREATE TABLE audit (
    id       TEXT PRIMARY KEY,
    at       BIGINT NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents (id),
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    details  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_at_idx ON audit (at);
