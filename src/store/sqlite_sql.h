/* sqlite_sql.h - SQL text per statement id for the SQLite backend. */
#ifndef ORDERLY_SQLITE_SQL_H
#define ORDERLY_SQLITE_SQL_H
#include "store/stmts.h"

extern const char *const sqlite_sql[ST__COUNT];

#endif
