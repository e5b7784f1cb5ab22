-- 009: the names an erasure replaced (GDPR), for a short while: an audit
-- row written after the answer of a request made before the erasure (a
-- staff read, a refused change) lands after it, and takes the pseudonym
-- instead of the name.  The name is kept only as its SHA-256, and only
-- for LIMIT_AUDIT_ERASED_KEEP_MS.
CREATE TABLE audit_erased (
    name_hash   BLOB PRIMARY KEY,
    pseudonym   TEXT NOT NULL,
    expires_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
