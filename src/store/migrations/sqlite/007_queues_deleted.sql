-- 007: deleted queues (DELETE /api/queues/{name}) whose messages are still
-- being removed in chunks by the maintenance sweep; a queue id is never
-- reused while its tombstone is here.
CREATE TABLE queues_deleted (
    id          INTEGER PRIMARY KEY,   -- the deleted queue's id
    name        TEXT NOT NULL,
    deleted_ms  INTEGER NOT NULL
) STRICT;
