-- 006 (PostgreSQL twin of sqlite/006): background tasks (EventBridge
-- StartReplay, SQS StartMessageMoveTask): a replay of the event log or a
-- redrive of a dead-letter queue runs a page per unit off the request that
-- started it; each page commits together with the task's progress, so a task
-- resumes exactly where it stopped after a restart.  Every node's runner
-- takes the pages of every unfinished task; the writer reads a task's row
-- FOR UPDATE, so two nodes never run the same page.
CREATE TABLE tasks (
    id           text PRIMARY KEY,              -- UUID
    kind         text NOT NULL,                 -- replay | redrive
    name         text NOT NULL,                 -- replay name, or the dead-letter queue
    state        text NOT NULL,                 -- RUNNING | CANCELLING | COMPLETED | CANCELLED | FAILED
    params       text NOT NULL,                 -- JSON: what was asked
    rate         bigint NOT NULL,               -- items per second at most
    cursor       bigint NOT NULL DEFAULT 0,     -- replay: last event seq re-published
    done         bigint NOT NULL DEFAULT 0,     -- events replayed / messages moved
    routed       bigint NOT NULL DEFAULT 0,     -- replay: deliveries to rule targets
    total        bigint NOT NULL,               -- what it set out to do (approximate, as SQS says)
    error        text,
    created_ms   bigint NOT NULL,
    updated_ms   bigint NOT NULL,
    finished_ms  bigint
);
-- unique here (not on SQLite, whose one writer checks and inserts alone):
-- two nodes starting a task of the same kind and name at once both find
-- none running; the second insert is refused (409) instead of a second task
CREATE UNIQUE INDEX tasks_active ON tasks(kind, name) WHERE finished_ms IS NULL;
CREATE INDEX tasks_created ON tasks(created_ms);

-- a replay reads and counts the original events of a window: an index of them alone
CREATE INDEX events_originals_time ON events(time_ms) WHERE replay_name IS NULL;
