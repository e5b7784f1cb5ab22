-- 007: deleted queues (DELETE /api/queues/{name}) whose messages are still
-- being removed in chunks by the maintenance sweep (ids come from the
-- queues' identity sequence, never reused).
CREATE TABLE queues_deleted (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    deleted_ms  bigint NOT NULL
);
