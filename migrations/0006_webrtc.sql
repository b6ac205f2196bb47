-- firstline schema, version 6: the browser softphone (issue 6, docs/webrtc.md): each agent's
-- device, the device and call quality on the call record, and every quality sample.
-- Portable: SQLite and PostgreSQL (see docs/schema.md).

-- How the agent answers hotline calls: 'phone' (registered SIP phone) or 'browser' (the
-- softphone in the desk). Parsed in code with `domain::Device::parse`.
ALTER TABLE agents ADD COLUMN device TEXT NOT NULL DEFAULT 'phone'
    CHECK (device IN ('phone', 'browser'));

-- The device of the agent who answered; the worst loss (percent), jitter and round-trip time
-- (ms) seen on the call from any source; the latest server count of voiced milliseconds each
-- way (one-way audio shows as one of them staying 0); browser leg reconnects (reloads).
ALTER TABLE calls ADD COLUMN agent_device TEXT CHECK (agent_device IN ('phone', 'browser'));
ALTER TABLE calls ADD COLUMN loss_pct DOUBLE PRECISION;
ALTER TABLE calls ADD COLUMN jitter_ms DOUBLE PRECISION;
ALTER TABLE calls ADD COLUMN rtt_ms DOUBLE PRECISION;
ALTER TABLE calls ADD COLUMN voiced_to_agent_ms BIGINT;
ALTER TABLE calls ADD COLUMN voiced_from_agent_ms BIGINT;
ALTER TABLE calls ADD COLUMN browser_reconnects BIGINT NOT NULL DEFAULT 0;

-- `hangup_by` gains 'agent' (the agent hung up in the desk's softphone). A portable migration
-- cannot change a CHECK constraint in place (SQLite would need the whole table rebuilt), so the
-- column is replaced: new column, copy, drop the old one with its CHECK, rename.
ALTER TABLE calls ADD COLUMN hangup_side TEXT CHECK (hangup_side IN ('caller', 'server', 'agent'));
UPDATE calls SET hangup_side = hangup_by;
ALTER TABLE calls DROP COLUMN hangup_by;
ALTER TABLE calls RENAME COLUMN hangup_side TO hangup_by;

-- One row per quality sample of a browser call: `server` (RTCP receiver reports the browser
-- sends us) or `browser` (its getStats() summary). Never updated; NULL = not measured.
CREATE TABLE call_quality (
    call_id              TEXT NOT NULL REFERENCES calls (id),
    at                   BIGINT NOT NULL,
    source               TEXT NOT NULL CHECK (source IN ('server', 'browser')),
    packets_received     BIGINT,
    packets_lost         BIGINT,
    loss_pct             DOUBLE PRECISION,
    jitter_ms            DOUBLE PRECISION,
    rtt_ms               DOUBLE PRECISION,
    voiced_to_agent_ms   BIGINT,
    voiced_from_agent_ms BIGINT,
    audio_level          DOUBLE PRECISION
);
CREATE INDEX call_quality_call_idx ON call_quality (call_id, at);
