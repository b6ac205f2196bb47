-- firstline schema, version 9: the write-behind journal (issue 12, docs/durability.md). A call
-- still `in_progress` when the server stopped without ending it (kill -9, power loss) is closed
-- at the next start as `interrupted`, with what is known. A portable migration cannot change a
-- CHECK constraint in place (see 0006), so the column is replaced: new column, copy, drop, rename.
ALTER TABLE calls ADD COLUMN outcome_v9 TEXT NOT NULL DEFAULT 'in_progress' CHECK (outcome_v9 IN (
    'in_progress', 'cancelled', 'abandoned_ivr', 'abandoned_queue', 'max_wait', 'rejected',
    'failed', 'answered', 'callback', 'voice_message', 'interrupted'));
UPDATE calls SET outcome_v9 = outcome;
ALTER TABLE calls DROP COLUMN outcome;
ALTER TABLE calls RENAME COLUMN outcome_v9 TO outcome;
-- The start-up sweep finds the unfinished calls without scanning the table.
CREATE INDEX calls_open_idx ON calls (arrived_at) WHERE ended_at IS NULL;
