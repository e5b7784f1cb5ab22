-- 009 (PostgreSQL twin of sqlite/009): the names an erasure replaced, as
-- SHA-256, kept LIMIT_AUDIT_ERASED_KEEP_MS so that an audit row written
-- after the erasure about a request made before it takes the pseudonym.
CREATE TABLE audit_erased (
    name_hash   bytea PRIMARY KEY,
    pseudonym   text NOT NULL,
    expires_ms  bigint NOT NULL
);
