-- firstline schema, version 8: one open callback per number, held by the database itself (issue 11),
-- so two requests at the same moment cannot both store one, on SQLite and PostgreSQL alike.
-- Open duplicates from before the rule are closed as cancelled; each number keeps its earliest.
UPDATE callbacks SET status = 'cancelled', completed_at = requested_at
 WHERE status IN ('pending', 'offered', 'connected')
   AND EXISTS (SELECT 1 FROM callbacks AS older
                WHERE older.number = callbacks.number
                  AND older.status IN ('pending', 'offered', 'connected')
                  AND (older.requested_at < callbacks.requested_at
                       OR (older.requested_at = callbacks.requested_at AND older.id < callbacks.id)));
CREATE UNIQUE INDEX callbacks_one_open_idx ON callbacks (number)
 WHERE status IN ('pending', 'offered', 'connected');
