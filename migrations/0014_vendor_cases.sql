-- firstline schema, version 14: the third level as real records (issue 15): a vendor case per
-- hand-off to a vendor, with its reference, contact, promised response and follow-up date.
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

-- `status`: `open` until the case is closed (which returns the intake to its owner).
-- `follow_up_at`: when to chase the vendor; `reminded_at` is set when that reminder was sent
-- (a new follow-up date clears it). The reminder goes to the intake's owner, else `created_by`.
CREATE TABLE vendor_cases (
    id           TEXT PRIMARY KEY,
    intake_id    TEXT NOT NULL REFERENCES intakes (id) ON DELETE CASCADE,
    vendor       TEXT NOT NULL,
    case_ref     TEXT,
    contact      TEXT,
    promised_at  BIGINT,
    follow_up_at BIGINT,
    reminded_at  BIGINT,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_by   TEXT REFERENCES agents (id) ON DELETE SET NULL,
    created_at   BIGINT NOT NULL,
    closed_by    TEXT REFERENCES agents (id) ON DELETE SET NULL,
    closed_at    BIGINT,
    outcome      TEXT
);
CREATE INDEX vendor_cases_intake_idx ON vendor_cases (intake_id, created_at);
-- The reminder task's question: open cases whose follow-up is due and not yet reminded.
CREATE INDEX vendor_cases_follow_up_idx ON vendor_cases (status, follow_up_at);
