-- firstline schema, version 10: administration without SQL (issue 13, docs/admin.md). Agents are
-- deactivated, never deleted (their calls, intakes and audit rows keep pointing at them); an
-- account may come from the company directory (LDAP sign-in) rather than be local. The
-- second-level groups and third-level vendors that escalation offers live here, edited on the
-- admin pages (seeded from `[desk]` at the first start that finds them empty).
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

ALTER TABLE agents ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
ALTER TABLE agents ADD COLUMN deactivated_at BIGINT;
ALTER TABLE agents ADD COLUMN source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap'));
ALTER TABLE agents ADD COLUMN updated_at BIGINT;

-- Second-level groups (internal specialists). `agents.groups` names them.
CREATE TABLE support_groups (
    name        TEXT PRIMARY KEY,
    description TEXT,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Third-level vendors, manufacturers and external specialists.
CREATE TABLE vendors (
    name        TEXT PRIMARY KEY,
    contact     TEXT,
    notes       TEXT,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- One phone per extension: a second agent with a taken extension is refused (409 on the admin API).
CREATE UNIQUE INDEX agents_extension_idx ON agents (extension);
