-- 012: the SQLite node's customer index in bulk (sqlite/012_customer_orders.sql)
-- has no counterpart here: PostgreSQL logs an index insert as a WAL record,
-- not a page image, and keeps orders_customer.  The migration exists so both
-- backends are at the same schema version (store_copy copies between them
-- and skips the SQLite node's customer_orders and index_marks).
SELECT 1;
