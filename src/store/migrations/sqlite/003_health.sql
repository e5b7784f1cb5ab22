-- 003: one row that the health probe (GET /api/health, /ready after a
-- failed write) rewrites: a committed probe proves the database writable.
-- probes is incremented by every probe, so the row always changes (SQLite
-- skips writing a cell rewritten with identical bytes).
CREATE TABLE health_probe (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    probe_ms  INTEGER NOT NULL,
    probes    INTEGER NOT NULL
) STRICT;
