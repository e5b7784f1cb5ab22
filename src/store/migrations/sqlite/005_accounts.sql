-- 005: accounts and access: users (argon2id password hashes), refresh
-- tokens (stored hashed, rotated, revoked by family), API keys (stored
-- hashed), and the audit log of state-changing requests and of staff reads
-- of customers' data.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT UNIQUE,                  -- optional
    role           TEXT NOT NULL,                -- admin | operator | viewer | customer
    status         TEXT NOT NULL,                -- active | disabled
    customer_id    TEXT,                         -- a customer's orders carry this customerId
    password_hash  TEXT NOT NULL,                -- crypto_pwhash_str: $argon2id$v=19$m=...,t=...,p=1$...
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    last_login_ms  INTEGER
) STRICT;
CREATE INDEX users_customer ON users(customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE refresh_tokens (
    hash        BLOB PRIMARY KEY,                -- SHA-256 of the opaque token
    family      TEXT NOT NULL,                   -- one login; a reused token revokes the family
    user_id     INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    used_ms     INTEGER,                         -- rotated: exchanged for a new pair
    revoked_ms  INTEGER,
    created_ms  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_ms);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,                -- public: "key_" + 16 hex
    name        TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,            -- SHA-256 of the key
    role        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER,
    revoked_ms  INTEGER,
    created_by  TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    time_ms     INTEGER NOT NULL,
    principal   TEXT NOT NULL,                   -- a username, "key:<id>" or "anonymous"
    role        TEXT,
    key_id      TEXT,
    method      TEXT NOT NULL,
    route       TEXT NOT NULL,                   -- the route pattern: /api/orders/{id}
    target      TEXT,                            -- the id the request is about
    status      INTEGER NOT NULL,                -- the answer's status
    ip          TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    detail      TEXT                             -- JSON, small (an erasure's counts)
) STRICT;
CREATE INDEX audit_time ON audit(time_ms);
CREATE INDEX audit_principal ON audit(principal, seq);
CREATE INDEX audit_target ON audit(target, seq) WHERE target IS NOT NULL;
