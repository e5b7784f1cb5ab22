-- 003: one row that the health probe (GET /api/health, /ready after a
-- failed write) rewrites: a committed probe proves the database writable.
CREATE TABLE health_probe (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    probe_ms  INTEGER NOT NULL
) STRICT;
