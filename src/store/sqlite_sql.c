/* sqlite_sql.c - the SQLite text of every statement in stmts.h. */
#include <stddef.h>
#include "store/sqlite_sql.h"

const char *const sqlite_sql[ST__COUNT] = {
    [ST_QUEUE_LIST] = "SELECT id,name,visibility_s,delay_s,retention_s,max_size,wait_s,dlq_name,"
                      "max_receive,created_ms FROM queues ORDER BY id",
    [ST_QUEUE_INSERT] = "INSERT INTO queues(name,visibility_s,delay_s,retention_s,max_size,wait_s,"
                        "dlq_name,max_receive,created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) RETURNING id",
    [ST_QUEUE_UPDATE] = "UPDATE queues SET visibility_s=?2,delay_s=?3,retention_s=?4,max_size=?5,"
                        "wait_s=?6,dlq_name=?7,max_receive=?8 WHERE id=?1",
    [ST_MSG_INSERT] = "INSERT INTO messages(queue_id,message_id,body,attrs,sent_ms,visible_ms) "
                      "VALUES(?1,?2,?3,?4,?5,?6)",
    [ST_MSG_CANDIDATES] = "SELECT id,receive_count,sent_ms FROM messages "
                          "WHERE queue_id=?1 AND visible_ms<=?2 ORDER BY visible_ms,id LIMIT ?3",
    [ST_MSG_DELIVER] = "UPDATE messages SET receive_count=receive_count+1,receipt=?2,visible_ms=?3,"
                       "first_receive_ms=COALESCE(first_receive_ms,?4) WHERE id=?1 "
                       "RETURNING message_id,body,attrs,sent_ms,receive_count,first_receive_ms,source_queue",
    [ST_MSG_MOVE] = "UPDATE messages SET queue_id=?2,visible_ms=?3,moved_ms=?3,source_queue=?4,"
                    "receive_count=0,receipt=NULL,first_receive_ms=NULL WHERE id=?1",
    [ST_MSG_RETURN] = "UPDATE messages SET queue_id=?2,visible_ms=?3,sent_ms=?3,moved_ms=NULL,"
                      "source_queue=NULL,receive_count=0,receipt=NULL,first_receive_ms=NULL WHERE id=?1",
    [ST_MSG_DELETE] = "DELETE FROM messages WHERE id=?1 AND receipt=?2 AND queue_id=?3",
    [ST_MSG_DELETE_LIVE] = "DELETE FROM messages WHERE id=?1 AND receipt=?2 AND queue_id=?3 AND visible_ms>?4",
    [ST_MSG_DELETE_ID] = "DELETE FROM messages WHERE id=?1",
    [ST_MSG_SET_VISIBLE] = "UPDATE messages SET visible_ms=?5 WHERE id=?1 AND receipt=?2 AND "
                           "queue_id=?3 AND visible_ms>?4",
    [ST_MSG_PURGE] = "DELETE FROM messages WHERE queue_id=?1",
    [ST_MSG_VISIBLE_IDS] = "SELECT id,source_queue FROM messages WHERE queue_id=?1 AND visible_ms<=?2 "
                           "AND id>?3 ORDER BY id LIMIT ?4",
    [ST_MSG_EXPIRED] = "SELECT id FROM messages WHERE queue_id=?1 AND sent_ms<?2 LIMIT ?3",
    [ST_MSG_STATS] = "SELECT COALESCE(SUM(visible_ms<=?2),0),"
                     "COALESCE(SUM(visible_ms>?2 AND receipt IS NOT NULL),0),"
                     "COALESCE(SUM(visible_ms>?2 AND receipt IS NULL),0),"
                     "MIN(COALESCE(moved_ms,sent_ms)) FROM messages WHERE queue_id=?1",
    [ST_MSG_NEXT_VISIBLE] = "SELECT MIN(visible_ms) FROM messages WHERE queue_id=?1 AND visible_ms>?2",
    [ST_MSG_GET] = "SELECT message_id,body,attrs,sent_ms,receive_count,first_receive_ms FROM messages WHERE id=?1",
    [ST_EVENT_INSERT] = "INSERT INTO events(id,time_ms,source,detail_type,envelope,replay_name) "
                        "VALUES(?1,?2,?3,?4,?5,?6) RETURNING seq",
    [ST_EVENT_RANGE] = "SELECT seq,id,time_ms,envelope FROM events WHERE time_ms>=?1 AND time_ms<?2 "
                       "AND seq>?3 AND replay_name IS NULL ORDER BY seq LIMIT ?4",
    [ST_EVENT_GET] = "SELECT seq,time_ms,source,detail_type,envelope,replay_name FROM events WHERE id=?1",
    [ST_EVENT_COUNT] = "SELECT count(*) FROM events",
    [ST_IDEM_GET] = "SELECT expires_ms FROM idempotency WHERE function=?1 AND event_id=?2",
    [ST_IDEM_PUT] = "INSERT OR REPLACE INTO idempotency(function,event_id,expires_ms) VALUES(?1,?2,?3)",
    [ST_IDEM_SWEEP] = "DELETE FROM idempotency WHERE (function,event_id) IN (SELECT function,event_id "
                      "FROM idempotency WHERE expires_ms<?1 LIMIT ?2)",
    [ST_IDEM_COUNT] = "SELECT count(*) FROM idempotency",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT u",
    [ST_RELEASE] = "RELEASE u",
    [ST_ROLLBACK_TO] = "ROLLBACK TO u",
};
