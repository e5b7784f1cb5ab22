-- 012: the customer index in bulk.  orders_customer took a random leaf per
-- order (a customer's orders sit together): a page image in the WAL and a
-- page for the checkpointer per order, 32 of the 110 pages a commit wrote
-- under the benchmark's intake.  customer_orders holds the same keys, but
-- an order joins it when the order whose seq is the next multiple of
-- LIMIT_ORDER_CUSTOMER_MERGE is inserted (ord_customer_merge), all of them
-- in one statement sorted by key; index_marks says up to which seq it
-- holds the orders, and the customer list reads the orders after the mark
-- by seq (store/sqlite_sql.c, ST_ORDER_LIST_CUSTOMER).  Orders are never
-- deleted; a customer's erasure renames the customer of orders already
-- merged through the trigger.  docs/operations.md, issue 12, ninth pass.
DROP INDEX orders_customer;
CREATE TABLE customer_orders (
    customer_id  TEXT NOT NULL,
    seq          INTEGER NOT NULL,          -- orders.seq
    PRIMARY KEY (customer_id, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE index_marks (
    name  TEXT PRIMARY KEY,                 -- the index held in bulk
    seq   INTEGER NOT NULL                  -- it holds every order up to this seq
) STRICT, WITHOUT ROWID;
INSERT INTO customer_orders(customer_id, seq) SELECT customer_id, seq FROM orders;
INSERT INTO index_marks(name, seq) VALUES ('customer_orders', COALESCE((SELECT max(seq) FROM orders), 0));
CREATE TRIGGER customer_orders_renamed AFTER UPDATE OF customer_id ON orders
BEGIN
    UPDATE customer_orders SET customer_id = new.customer_id WHERE customer_id = old.customer_id AND seq = old.seq;
END;
