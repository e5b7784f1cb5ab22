-- 003 (PostgreSQL twin of sqlite/003): one row that the health probe
-- (GET /api/health, /ready after a failed write) rewrites: a committed
-- probe proves the database writable.  probes is incremented by every
-- probe, so the row always changes.
CREATE TABLE health_probe (
    id        bigint PRIMARY KEY CHECK (id = 1),
    probe_ms  bigint NOT NULL,
    probes    bigint NOT NULL
);
ALTER TABLE health_probe SET (fillfactor = 50);
