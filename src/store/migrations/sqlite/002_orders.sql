-- 002: the order domain: products and inventory, orders, payments,
-- notifications, Idempotency-Key responses; events get a subject (order id)
-- so an order's timeline is one index range.
ALTER TABLE events ADD COLUMN subject TEXT;
CREATE INDEX events_subject ON events(subject, seq) WHERE subject IS NOT NULL;

CREATE TABLE products (
    sku            TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    price_cents    INTEGER NOT NULL CHECK (price_cents >= 0),
    stock          INTEGER NOT NULL CHECK (stock >= 0),
    reserved       INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= stock),
    initial_stock  INTEGER NOT NULL,
    restocked      INTEGER NOT NULL DEFAULT 0,   -- sum of stock changes by PUT (may be negative)
    sold           INTEGER NOT NULL DEFAULT 0,   -- units captured by payments
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    CHECK (initial_stock + restocked = stock + sold)
) STRICT, WITHOUT ROWID;

CREATE TABLE orders (
    seq            INTEGER PRIMARY KEY,          -- keyset pagination, newest first
    id             TEXT NOT NULL UNIQUE,
    customer_id    TEXT NOT NULL,
    status         TEXT NOT NULL,
    reason         TEXT,
    last_error     TEXT,
    failed_from    TEXT,                         -- status before FAILED (resume point)
    payment_token  TEXT NOT NULL,
    total_cents    INTEGER NOT NULL,
    units          INTEGER NOT NULL,
    request_hash   TEXT NOT NULL,                -- same orderId + same body -> 200
    event_id       TEXT NOT NULL,                -- the OrderCreated / OrderPlaced event
    attempts       INTEGER NOT NULL DEFAULT 0,   -- failed processing attempts
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    reserved_ms    INTEGER,
    completed_ms   INTEGER
) STRICT;
CREATE INDEX orders_status ON orders(status, seq);
CREATE INDEX orders_customer ON orders(customer_id, seq);
CREATE INDEX orders_created ON orders(created_ms);
CREATE INDEX orders_reserved ON orders(status, reserved_ms) WHERE status IN ('RESERVED', 'FAILED');

CREATE TABLE order_items (
    order_seq         INTEGER NOT NULL,
    line              INTEGER NOT NULL,
    sku               TEXT NOT NULL,
    qty               INTEGER NOT NULL CHECK (qty > 0),
    unit_price_cents  INTEGER,                   -- snapshot; NULL for an unknown sku
    PRIMARY KEY (order_seq, line)
) STRICT, WITHOUT ROWID;

CREATE TABLE payments (
    order_id       TEXT PRIMARY KEY,             -- one payment per order, ever
    payment_id     TEXT NOT NULL,
    outcome        TEXT NOT NULL,                -- captured | declined
    token          TEXT NOT NULL,
    amount_cents   INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE notifications (
    id             INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,         -- one per terminal order event
    order_id       TEXT NOT NULL,
    channel        TEXT NOT NULL,
    template       TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    payload        TEXT NOT NULL,
    created_ms     INTEGER NOT NULL
) STRICT;
CREATE INDEX notifications_order ON notifications(order_id);

CREATE TABLE idempotency_keys (
    key            TEXT PRIMARY KEY,
    request_hash   TEXT NOT NULL,
    status         INTEGER NOT NULL,
    response       TEXT NOT NULL,
    expires_ms     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_ms);
