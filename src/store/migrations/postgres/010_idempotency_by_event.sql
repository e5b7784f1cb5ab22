-- 010: the idempotency records keyed by (event_id, function) instead of
-- (function, event_id): event ids are time-ordered UUIDs, so new records
-- go to the right end of the primary key's b-tree instead of one point
-- inside it per function.  Same columns, same lookups.
ALTER TABLE idempotency DROP CONSTRAINT idempotency_pkey, ADD PRIMARY KEY (event_id, function);
