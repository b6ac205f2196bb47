-- firstline schema, version 11: customers from the company directory (issue 13, docs/directory.md).
-- A customer may come from an LDAP/Active Directory sync or a CSV import, keyed by the source's
-- own id (`external_id`); people who left the directory are deactivated, never deleted (calls and
-- intakes keep pointing at them), and an inactive customer is not recognised by number. The
-- fields a source set are listed in `synced_fields`, and a hand edit leaves those alone.
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

ALTER TABLE customers ADD COLUMN external_id TEXT;
ALTER TABLE customers ADD COLUMN source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'csv', 'ldap'));
ALTER TABLE customers ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
ALTER TABLE customers ADD COLUMN synced_at BIGINT;
ALTER TABLE customers ADD COLUMN synced_fields TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN deactivated_at BIGINT;
-- NULLs are distinct in a unique index on both engines: hand-made customers have none.
CREATE UNIQUE INDEX customers_external_id_idx ON customers (external_id);
CREATE INDEX customers_source_idx ON customers (source, synced_at);

-- `customer_phones.number` was UNIQUE, which forbids a number shared by two people (a reception
-- desk) through the extra numbers. A portable migration cannot drop a constraint in place: the
-- table is replaced (new, copy, drop, rename, indexes again). A number stays unique per customer.
CREATE TABLE customer_phones_v11 (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    number      TEXT NOT NULL,
    label       TEXT,
    UNIQUE (customer_id, number)
);
INSERT INTO customer_phones_v11 (customer_id, number, label)
    SELECT customer_id, number, label FROM customer_phones;
DROP TABLE customer_phones;
ALTER TABLE customer_phones_v11 RENAME TO customer_phones;
CREATE INDEX customer_phones_customer_idx ON customer_phones (customer_id);
CREATE INDEX customer_phones_number_idx ON customer_phones (number);

-- One row per directory sync or CSV import: when, how it ended, what it changed.
CREATE TABLE directory_syncs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('ldap', 'csv')),
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    seen        BIGINT NOT NULL DEFAULT 0,
    inserted    BIGINT NOT NULL DEFAULT 0,
    updated     BIGINT NOT NULL DEFAULT 0,
    deactivated BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX directory_syncs_started_idx ON directory_syncs (started_at);
