-- 008: the operator's control of each function (Lambda's event source
-- mapping Enabled): a paused function takes no message off its queue until
-- it is resumed.  The state is in the database so that it survives a
-- restart and every node sharing the database sees it.
CREATE TABLE function_state (
    name        TEXT PRIMARY KEY,          -- the function (config functions[].name)
    paused      INTEGER NOT NULL,          -- 1 paused, 0 running
    updated_ms  INTEGER NOT NULL,
    updated_by  TEXT                       -- who paused or resumed it (audit has the rest)
) STRICT;
