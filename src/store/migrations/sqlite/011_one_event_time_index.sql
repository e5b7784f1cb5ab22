-- 011: one index on the event log's time.  events_originals_time indexed
-- the original events (replay_name IS NULL) a second time beside
-- events_time: a b-tree insert for every event the server logs (four an
-- order), for the one query that counts a replay window's originals, which
-- reads events_time and skips the replayed copies as well.  Measured under
-- the benchmark's intake: the event inserts 15.5 -> 12.9 us an order
-- (docs/operations.md, issue 12, seventh pass).
DROP INDEX IF EXISTS events_originals_time;
