-- 004 (PostgreSQL twin of sqlite/004): the reservation sweep reads the
-- RESERVED (and FAILED) range of orders_status instead of its own index:
-- one index fewer to update on every status change.
DROP INDEX orders_reserved;
