-- firstline schema, version 2: digest credentials of the agents' SIP phones (issue 3).
-- HA1 = H(extension:realm:password) as lower-case hex (RFC 7616 §3.4.2); the password itself
-- is never stored. NULL = the agent's phone cannot register. Portable: SQLite and PostgreSQL.

ALTER TABLE agents ADD COLUMN sip_ha1_md5 TEXT;
ALTER TABLE agents ADD COLUMN sip_ha1_sha256 TEXT;
