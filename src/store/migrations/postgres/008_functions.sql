-- 008 (PostgreSQL twin of sqlite/008): the operator's control of each
-- function (Lambda's event source mapping Enabled): a paused function takes
-- no message off its queue until it is resumed.  In the database so that it
-- survives a restart and every node sees it.
CREATE TABLE function_state (
    name        text PRIMARY KEY,
    paused      bigint NOT NULL,
    updated_ms  bigint NOT NULL,
    updated_by  text
);
