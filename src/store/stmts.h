#ifndef ORDERLY_STMTS_H
#define ORDERLY_STMTS_H
typedef int store_stmt_id;
#endif
