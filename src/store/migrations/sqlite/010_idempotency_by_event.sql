-- 010: the idempotency records keyed by (event_id, function) instead of
-- (function, event_id).  Event ids are time-ordered UUIDs, so every new
-- record goes to the right end of the one b-tree; keyed by function first,
-- each function had an insertion point inside it, and each split there
-- rebalanced three pages (14 of a commit's 147 WAL pages under the
-- benchmark's intake, docs/operations.md).  Same columns, same lookups.
CREATE TABLE idempotency_010 (
    function    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL,
    PRIMARY KEY (event_id, function)
) STRICT, WITHOUT ROWID;
INSERT INTO idempotency_010(function, event_id, expires_ms) SELECT function, event_id, expires_ms FROM idempotency;
DROP TABLE idempotency;
ALTER TABLE idempotency_010 RENAME TO idempotency;
CREATE INDEX idempotency_expiry ON idempotency(expires_ms);
