-- 001: queues, messages, the event log and idempotency records.
CREATE TABLE queues (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    visibility_s  INTEGER NOT NULL,
    delay_s       INTEGER NOT NULL,
    retention_s   INTEGER NOT NULL,
    max_size      INTEGER NOT NULL,
    wait_s        INTEGER NOT NULL,
    dlq_name      TEXT,              -- RedrivePolicy target, NULL when none
    max_receive   INTEGER,           -- RedrivePolicy.maxReceiveCount
    created_ms    INTEGER NOT NULL
) STRICT;

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,   -- send order
    queue_id         INTEGER NOT NULL,
    message_id       TEXT NOT NULL,         -- UUID, stable across DLQ moves
    body             BLOB NOT NULL,
    attrs            TEXT,                  -- message attributes (JSON) or NULL
    sent_ms          INTEGER NOT NULL,      -- first send; kept on DLQ move (retention)
    visible_ms       INTEGER NOT NULL,      -- receivable when <= now
    receive_count    INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt          INTEGER,               -- token of the latest receive
    moved_ms         INTEGER,               -- entered this (dead-letter) queue at
    source_queue     TEXT                   -- for dead letters: the queue it came from
) STRICT;
CREATE INDEX messages_ready ON messages(queue_id, visible_ms);

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    time_ms      INTEGER NOT NULL,
    source       TEXT NOT NULL,
    detail_type  TEXT NOT NULL,
    envelope     TEXT NOT NULL,            -- the whole EventBridge envelope
    replay_name  TEXT                      -- set on rows re-published by a replay
) STRICT;
CREATE INDEX events_time ON events(time_ms);

CREATE TABLE idempotency (
    function    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL,
    PRIMARY KEY (function, event_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_expiry ON idempotency(expires_ms);
