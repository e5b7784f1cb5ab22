-- 006: background tasks (EventBridge StartReplay, SQS StartMessageMoveTask):
-- a replay of the event log or a redrive of a dead-letter queue runs a page
-- per unit off the request that started it; each page commits together with
-- the task's progress, so a task resumes exactly where it stopped after a
-- restart.
CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,              -- UUID
    kind         TEXT NOT NULL,                 -- replay | redrive
    name         TEXT NOT NULL,                 -- replay name, or the dead-letter queue
    state        TEXT NOT NULL,                 -- RUNNING | CANCELLING | COMPLETED | CANCELLED | FAILED
    params       TEXT NOT NULL,                 -- JSON: what was asked
    rate         INTEGER NOT NULL,              -- items per second at most
    cursor       INTEGER NOT NULL DEFAULT 0,    -- replay: last event seq re-published
    done         INTEGER NOT NULL DEFAULT 0,    -- events replayed / messages moved
    routed       INTEGER NOT NULL DEFAULT 0,    -- replay: deliveries to rule targets
    total        INTEGER NOT NULL,              -- what it set out to do (approximate, as SQS says)
    error        TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    finished_ms  INTEGER
) STRICT;
CREATE INDEX tasks_active ON tasks(kind, name) WHERE finished_ms IS NULL;
CREATE INDEX tasks_created ON tasks(created_ms);

-- a replay reads and counts the original events of a window: an index of them alone
CREATE INDEX events_originals_time ON events(time_ms) WHERE replay_name IS NULL;
