/* sqlite_sql.c - the SQLite text of every statement in stmts.h. */
#include <stddef.h>
#include "store/sqlite_sql.h"

const char *const sqlite_sql[ST__COUNT] = {
    [ST_QUEUE_LIST] = "SELECT id,name,visibility_s,delay_s,retention_s,max_size,wait_s,dlq_name,"
                      "max_receive,created_ms FROM queues ORDER BY id",
    /* ids are never reused, not even the highest after a delete: a deleted
     * queue's messages may still be on their way out (queues_deleted) */
    [ST_QUEUE_INSERT] = "INSERT INTO queues(id,name,visibility_s,delay_s,retention_s,max_size,wait_s,"
                        "dlq_name,max_receive,created_ms) VALUES(1+max(COALESCE((SELECT max(id) FROM queues),0),"
                        "COALESCE((SELECT max(id) FROM queues_deleted),0)),?1,?2,?3,?4,?5,?6,?7,?8,?9) RETURNING id",
    [ST_QUEUE_DELETE] = "DELETE FROM queues WHERE id=?1",
    [ST_QUEUE_TOMBSTONE] = "INSERT INTO queues_deleted(id,name,deleted_ms) VALUES(?1,?2,?3)",
    [ST_QUEUE_TOMBSTONES] = "SELECT id,name FROM queues_deleted ORDER BY id LIMIT ?1",
    [ST_QUEUE_TOMBSTONE_DROP] = "DELETE FROM queues_deleted WHERE id=?1",
    [ST_MSG_DELETE_OF_QUEUE] = "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue_id=?1 LIMIT ?2)",
    [ST_QUEUE_UPDATE] = "UPDATE queues SET visibility_s=?2,delay_s=?3,retention_s=?4,max_size=?5,"
                        "wait_s=?6,dlq_name=?7,max_receive=?8 WHERE id=?1",
    [ST_MSG_INSERT] = "INSERT INTO messages(queue_id,message_id,body,attrs,sent_ms,visible_ms) "
                      "VALUES(?1,?2,?3,?4,?5,?6)",
    [ST_MSG_INSERT_LEASED] = "INSERT INTO messages(queue_id,message_id,body,attrs,sent_ms,visible_ms,receive_count,"
                             "first_receive_ms,receipt) VALUES(?1,?2,?3,?4,?5,?6,?8,?9,?7) RETURNING id",
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
    [ST_MSG_DEFER] = "UPDATE messages SET visible_ms=?5,receipt=NULL,receive_count=max(receive_count-1,0) "
                     "WHERE id=?1 AND receipt=?2 AND queue_id=?3 AND visible_ms>?4",
    [ST_MSG_PURGE] = "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue_id=?1 AND id<=?2 LIMIT ?3)",
    [ST_MSG_LAST_ID] = "SELECT coalesce(max(id),0) FROM messages",
    [ST_MSG_VISIBLE_IDS] = "SELECT id,source_queue,visible_ms FROM messages WHERE queue_id=?1 AND visible_ms<=?2 "
                           "AND (visible_ms,id)>(?3,?4) ORDER BY visible_ms,id LIMIT ?5",
    [ST_MSG_EXPIRED] = "SELECT id FROM messages WHERE queue_id=?1 AND sent_ms<?2 LIMIT ?3",
    [ST_MSG_STATS] = "SELECT COALESCE(SUM(visible_ms<=?2),0),"
                     "COALESCE(SUM(visible_ms>?2 AND receipt IS NOT NULL),0),"
                     "COALESCE(SUM(visible_ms>?2 AND receipt IS NULL),0),"
                     "MIN(COALESCE(moved_ms,sent_ms)) FROM messages WHERE queue_id=?1",
    [ST_MSG_NEXT_VISIBLE] = "SELECT MIN(visible_ms) FROM messages WHERE queue_id=?1 AND visible_ms>?2",
    [ST_MSG_GET] = "SELECT message_id,body,attrs,sent_ms,receive_count,first_receive_ms FROM messages WHERE id=?1",
    [ST_MSG_BROWSE] = "SELECT id,message_id,substr(body,1,?4),length(body),attrs,sent_ms,visible_ms,receive_count,"
                      "first_receive_ms,moved_ms,source_queue,receipt IS NOT NULL FROM messages "
                      "WHERE queue_id=?1 AND id>?2 ORDER BY id LIMIT ?3",
    [ST_MSG_VISIBLE_MIDS] = "SELECT id,source_queue,message_id FROM messages WHERE queue_id=?1 AND visible_ms<=?2 "
                            "AND id>?3 ORDER BY id LIMIT ?4",
    [ST_EVENT_SEARCH] = "SELECT seq,id,time_ms,source,detail_type,subject,replay_name,envelope FROM events "
                        "WHERE time_ms>=?1 AND time_ms<?2 AND (?3 IS NULL OR source=?3) AND "
                        "(?4 IS NULL OR detail_type=?4) AND (?5 IS NULL OR subject=?5) AND seq<?6 "
                        "ORDER BY seq DESC LIMIT ?7",
    [ST_EVENT_INSERT] = "INSERT INTO events(id,time_ms,source,detail_type,envelope,replay_name,subject) "
                        "VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_EVENT_BY_SUBJECT] = "SELECT seq,id,time_ms,detail_type,envelope,source FROM events "
                            "WHERE subject=?1 AND seq>?2 "
                            "ORDER BY seq LIMIT ?3",
    [ST_EVENT_SWEEP] = "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time_ms<?1 LIMIT ?2)",
    /* walks the log by seq (?3, ?5]: the index on time would sort the whole window for every page */
    [ST_EVENT_RANGE] = "SELECT seq,id,time_ms,envelope,source,detail_type FROM events "
                       "WHERE seq>?3 AND seq<=?5 AND +time_ms>=?1 "
                       "AND +time_ms<?2 AND replay_name IS NULL ORDER BY seq LIMIT ?4",
    [ST_EVENT_SEQ_BOUNDS] = "SELECT (SELECT coalesce(min(seq),1)-1 FROM events),(SELECT coalesce(max(seq),0) FROM events)",
    [ST_EVENT_RANGE_COUNT] = "SELECT count(*) FROM (SELECT 1 FROM events WHERE time_ms>=?1 AND time_ms<?2 "
                             "AND replay_name IS NULL LIMIT ?3)",
    [ST_EVENT_GET] = "SELECT seq,time_ms,source,detail_type,envelope,replay_name,subject FROM events WHERE id=?1",
    [ST_EVENT_SET_SUBJECT] = "UPDATE events SET subject=?2 WHERE id=?1 AND subject IS NULL",
    [ST_EVENT_COUNT] = "SELECT count(*) FROM events",
    [ST_IDEM_CLAIM] = "INSERT INTO idempotency(function,event_id,expires_ms) VALUES(?1,?2,?3) "
                      "ON CONFLICT(event_id,function) DO UPDATE SET expires_ms=excluded.expires_ms "
                      "WHERE idempotency.expires_ms<=?4",
    [ST_IDEM_SWEEP] = "DELETE FROM idempotency WHERE (event_id,function) IN (SELECT event_id,function "
                      "FROM idempotency WHERE expires_ms<?1 LIMIT ?2)",
    [ST_IDEM_COUNT] = "SELECT count(*) FROM idempotency",
    [ST_PRODUCT_GET] = "SELECT sku,name,price_cents,stock,reserved,sold,initial_stock,restocked FROM products "
                       "WHERE sku=?1",
    [ST_PRODUCT_LIST] = "SELECT sku,name,price_cents,stock,reserved,sold,initial_stock,restocked FROM products "
                        "WHERE sku>?1 ORDER BY sku LIMIT ?2",
    [ST_PRODUCT_COUNT] = "SELECT count(*) FROM products",
    [ST_PRODUCT_BY_NAME] = "SELECT sku,name,price_cents,stock,reserved,sold,initial_stock,restocked FROM products "
                           "WHERE lower(name)=lower(?1) ORDER BY sku LIMIT ?2",
    [ST_PRODUCT_LOWEST] = "SELECT sku,stock,reserved FROM products ORDER BY stock-reserved,sku LIMIT ?1",
    [ST_PRODUCT_INSERT] = "INSERT INTO products(sku,name,price_cents,stock,initial_stock,created_ms,updated_ms) "
                          "VALUES(?1,?2,?3,?4,?4,?5,?5)",
    [ST_PRODUCT_UPDATE] = "UPDATE products SET name=?2,price_cents=?3,restocked=restocked+(?4-stock),stock=?4,"
                          "updated_ms=?5 WHERE sku=?1 AND ?4>=reserved",
    [ST_PRODUCT_DELETE] = "DELETE FROM products WHERE sku=?1 AND reserved=0",
    [ST_PRODUCT_RESERVE] = "UPDATE products SET reserved=reserved+?2,updated_ms=?3 WHERE sku=?1 AND "
                           "stock-reserved>=?2",
    [ST_PRODUCT_RELEASE] = "UPDATE products SET reserved=reserved-?2,updated_ms=?3 WHERE sku=?1 AND reserved>=?2",
    [ST_PRODUCT_CAPTURE] = "UPDATE products SET stock=stock-?2,reserved=reserved-?2,sold=sold+?2,updated_ms=?3 "
                           "WHERE sku=?1 AND reserved>=?2",
    [ST_ORDER_INSERT] = "INSERT INTO orders(id,customer_id,status,payment_token,total_cents,units,request_hash,"
                        "event_id,created_ms,updated_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?9)",
    [ST_ORDER_GET] = "SELECT o.seq,o.id,o.customer_id,o.status,o.reason,o.last_error,o.failed_from,o.payment_token,"
                     "o.total_cents,o.units,o.request_hash,o.event_id,o.attempts,o.created_ms,o.updated_ms,"
                     "o.reserved_ms,o.completed_ms,i.sku,i.qty,i.unit_price_cents "
                     "FROM orders o LEFT JOIN order_items i ON i.order_seq=o.seq WHERE o.id=?1 ORDER BY i.line",
    [ST_ITEM_INSERT] = "INSERT INTO order_items(order_seq,line,sku,qty,unit_price_cents) VALUES(?1,?2,?3,?4,?5)",
    [ST_ORDER_UPDATE] = "UPDATE orders SET status=?2,reason=?3,failed_from=?4,updated_ms=?5,"
                        "reserved_ms=COALESCE(?6,reserved_ms),completed_ms=COALESCE(?7,completed_ms) WHERE id=?1",
    [ST_ORDER_ATTEMPT] = "UPDATE orders SET attempts=attempts+1,last_error=?2,updated_ms=?3 WHERE id=?1",
    [ST_ORDER_LIST] = "SELECT id FROM orders WHERE (?1 IS NULL OR status=?1) AND seq<?2 ORDER BY seq DESC LIMIT ?3",
    /* a customer's orders: those after the customer index's mark (fewer
     * than LIMIT_ORDER_CUSTOMER_MERGE rows: a seq that is a multiple merges
     * in the transaction that inserts it, and a rolled-back one is inserted
     * again), then those in it; both halves come in seq order, so SQLite
     * merges them (no sort) */
    [ST_ORDER_LIST_CUSTOMER] = "SELECT id,seq FROM orders WHERE seq>(SELECT seq FROM index_marks WHERE "
                               "name='customer_orders') AND seq<?3 AND customer_id=?2 AND (?1 IS NULL OR status=?1) "
                               "UNION ALL SELECT o.id,c.seq FROM customer_orders c JOIN orders o ON o.seq=c.seq "
                               "WHERE c.customer_id=?2 AND c.seq<?3 AND (?1 IS NULL OR o.status=?1) "
                               "ORDER BY 2 DESC LIMIT ?4",
    [ST_ORDER_SEQ] = "SELECT seq FROM orders WHERE id=?1",
    [ST_ORDER_EXPIRED] = "SELECT id FROM orders WHERE status='RESERVED' AND reserved_ms<?1 UNION ALL "
                         "SELECT id FROM orders WHERE status='FAILED' AND failed_from='RESERVED' AND reserved_ms<?1 "
                         "LIMIT ?2",
    [ST_ORDER_COUNT] = "SELECT count(*) FROM orders",
    [ST_ORDER_COUNT_SINCE] = "SELECT count(*) FROM orders WHERE created_ms>=?1",
    [ST_ORDER_BY_HOUR] = "SELECT created_ms/3600000,count(*) FROM orders WHERE created_ms>=?1 GROUP BY 1 ORDER BY 1",
    [ST_ORDER_BY_STATUS] = "SELECT status,count(*) FROM orders GROUP BY status",
    [ST_PAYMENT_INSERT] = "INSERT INTO payments(order_id,payment_id,outcome,token,amount_cents,created_ms) "
                          "VALUES(?1,?2,?3,?4,?5,?6)",
    [ST_NOTIFICATION_INSERT] = "INSERT INTO notifications(event_id,order_id,channel,template,recipient,payload,"
                               "created_ms) VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_NOTIFICATIONS_BY_ORDER] = "SELECT channel,template,recipient,payload,created_ms,event_id FROM notifications "
                                  "WHERE order_id=?1 ORDER BY id",
    [ST_IDEMKEY_GET] = "SELECT request_hash,status,response FROM idempotency_keys WHERE key=?1 AND expires_ms>?2",
    [ST_IDEMKEY_PUT] = "INSERT OR REPLACE INTO idempotency_keys(key,request_hash,status,response,expires_ms) "
                       "VALUES(?1,?2,?3,?4,?5)",
    [ST_IDEMKEY_SWEEP] = "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys "
                         "WHERE expires_ms<?1 LIMIT ?2)",
    [ST_USER_INSERT] = "INSERT INTO users(username,email,role,status,customer_id,password_hash,created_ms,updated_ms) "
                       "VALUES(?1,?2,?3,?4,?5,?6,?7,?7) RETURNING id",
    [ST_USER_GET] = "SELECT id,username,email,role,status,customer_id,password_hash,created_ms,updated_ms,last_login_ms FROM users WHERE id=?1",
    [ST_USER_BY_LOGIN] = "SELECT id,username,email,role,status,customer_id,password_hash,created_ms,updated_ms,last_login_ms FROM users WHERE username=?1 "
                         "UNION ALL SELECT id,username,email,role,status,customer_id,password_hash,created_ms,updated_ms,last_login_ms FROM users WHERE email=?1 AND username<>?1 LIMIT 1",
    [ST_USER_LIST] = "SELECT id,username,email,role,status,customer_id,password_hash,created_ms,updated_ms,last_login_ms FROM users WHERE id>?1 ORDER BY id LIMIT ?2",
    [ST_USER_UPDATE] = "UPDATE users SET email=?2,role=?3,status=?4,customer_id=?5,updated_ms=?6 WHERE id=?1",
    [ST_USER_SET_PASSWORD] = "UPDATE users SET password_hash=?2,updated_ms=?3 WHERE id=?1",
    [ST_USER_LOGGED_IN] = "UPDATE users SET last_login_ms=?2 WHERE id=?1",
    [ST_USER_DELETE] = "DELETE FROM users WHERE id=?1",
    [ST_USER_COUNT] = "SELECT count(*) FROM users",
    [ST_USER_BY_CUSTOMER] = "SELECT id,username,email,role,status,customer_id,password_hash,created_ms,updated_ms,last_login_ms FROM users WHERE customer_id=?1 ORDER BY id",
    [ST_USER_ADMINS] = "SELECT count(*) FROM users WHERE role='admin' AND status='active'",
    [ST_USER_RENAME] = "UPDATE users SET username=?2 WHERE id=?1",
    [ST_REFRESH_INSERT] = "INSERT INTO refresh_tokens(hash,family,user_id,expires_ms,created_ms) VALUES(?1,?2,?3,?4,?5)",
    [ST_REFRESH_GET] = "SELECT family,user_id,expires_ms,used_ms,revoked_ms FROM refresh_tokens WHERE hash=?1",
    [ST_REFRESH_USE] = "UPDATE refresh_tokens SET used_ms=?2 WHERE hash=?1 AND used_ms IS NULL AND revoked_ms IS NULL",
    [ST_REFRESH_REVOKE_FAMILY] = "UPDATE refresh_tokens SET revoked_ms=?2 WHERE family=?1 AND revoked_ms IS NULL",
    [ST_REFRESH_REVOKE_USER] = "UPDATE refresh_tokens SET revoked_ms=?2 WHERE user_id=?1 AND revoked_ms IS NULL",
    [ST_REFRESH_SWEEP] = "DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM refresh_tokens "
                         "WHERE expires_ms<?1 LIMIT ?2)",
    [ST_APIKEY_INSERT] = "INSERT INTO api_keys(id,name,hash,role,created_ms,expires_ms,created_by) "
                         "VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_APIKEY_BY_HASH] = "SELECT id,name,role,expires_ms,revoked_ms FROM api_keys WHERE hash=?1",
    [ST_APIKEY_LIST] = "SELECT id,name,role,created_ms,expires_ms,revoked_ms,created_by FROM api_keys "
                       "ORDER BY created_ms DESC,id",
    [ST_APIKEY_REVOKE] = "UPDATE api_keys SET revoked_ms=?2 WHERE id=?1 AND revoked_ms IS NULL",
    [ST_AUDIT_INSERT] = "INSERT INTO audit(time_ms,principal,role,key_id,method,route,target,status,ip,request_id,"
                        "detail) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [ST_AUDIT_LIST] = "SELECT seq,time_ms,principal,role,key_id,method,route,target,status,ip,request_id,detail "
                      "FROM audit WHERE (?1 IS NULL OR principal=?1) AND (?2 IS NULL OR target=?2) "
                      "AND time_ms>=?3 AND time_ms<?4 AND seq<?5 ORDER BY seq DESC LIMIT ?6",
    [ST_AUDIT_SWEEP] = "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE time_ms<?1 LIMIT ?2)",
    [ST_AUDIT_RENAME] = "UPDATE audit SET principal=CASE WHEN principal=?1 THEN ?2 ELSE principal END,"
                        "target=CASE WHEN target=?1 THEN ?2 ELSE target END WHERE principal=?1 OR target=?1",
    [ST_AUDIT_ERASED_PUT] = "INSERT INTO audit_erased(name_hash,pseudonym,expires_ms) VALUES(?1,?2,?3) "
                            "ON CONFLICT(name_hash) DO UPDATE SET pseudonym=excluded.pseudonym,expires_ms=excluded.expires_ms",
    [ST_AUDIT_ERASED_GET] = "SELECT pseudonym FROM audit_erased WHERE name_hash=?1 AND expires_ms>?2",
    [ST_AUDIT_ERASED_SWEEP] = "DELETE FROM audit_erased WHERE name_hash IN (SELECT name_hash FROM audit_erased "
                              "WHERE expires_ms<=?1 LIMIT ?2)",
    [ST_ORDER_SET_CUSTOMER] = "UPDATE orders SET customer_id=?2 WHERE id=?1",
    /* sorted by key: each leaf of the index is written once a merge */
    [ST_ORDER_CUSTOMER_MERGE] = "INSERT INTO customer_orders(customer_id,seq) SELECT customer_id,seq FROM orders "
                                "WHERE seq>(SELECT seq FROM index_marks WHERE name='customer_orders') AND seq<=?1 "
                                "ORDER BY customer_id,seq",
    [ST_ORDER_CUSTOMER_MARK] = "UPDATE index_marks SET seq=?1 WHERE name='customer_orders'",
    [ST_EVENT_SET_ENVELOPE] = "UPDATE events SET envelope=?2 WHERE seq=?1",
    [ST_NOTIFICATION_SET] = "UPDATE notifications SET recipient=?2,payload=?3 WHERE event_id=?1",
#define TASK_COLUMNS "id,kind,name,state,params,rate,cursor,done,routed,total,error,created_ms,updated_ms,finished_ms"
    [ST_TASK_INSERT] = "INSERT INTO tasks(id,kind,name,state,params,rate,total,created_ms,updated_ms) "
                       "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?8)",
    [ST_TASK_PROGRESS] = "UPDATE tasks SET cursor=?2,done=?3,routed=?4,updated_ms=?5 WHERE id=?1",
    [ST_TASK_STATE] = "UPDATE tasks SET state=?2,updated_ms=?3 WHERE id=?1 AND finished_ms IS NULL",
    [ST_TASK_FINISH] = "UPDATE tasks SET state=?2,error=?3,updated_ms=?4,finished_ms=?4 WHERE id=?1",
    [ST_TASK_GET] = "SELECT " TASK_COLUMNS " FROM tasks WHERE id=?1",
    [ST_TASK_LIST] = "SELECT " TASK_COLUMNS " FROM tasks WHERE created_ms<?1 OR (created_ms=?1 AND id<?2) "
                     "ORDER BY created_ms DESC, id DESC LIMIT ?3",
    [ST_TASK_ACTIVE] = "SELECT id FROM tasks WHERE kind=?1 AND name=?2 AND finished_ms IS NULL",
    [ST_TASK_UNFINISHED] = "SELECT id FROM tasks WHERE finished_ms IS NULL ORDER BY created_ms",
    [ST_TASK_SWEEP] = "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE finished_ms<?1 LIMIT ?2)",
    [ST_FN_STATE_SET] = "INSERT INTO function_state(name,paused,updated_ms,updated_by) VALUES(?1,?2,?3,?4) "
                        "ON CONFLICT(name) DO UPDATE SET paused=excluded.paused,updated_ms=excluded.updated_ms,"
                        "updated_by=excluded.updated_by",
    [ST_FN_STATE_LIST] = "SELECT name,paused,updated_ms,updated_by FROM function_state ORDER BY name",
    [ST_HEALTH_PROBE] = "INSERT INTO health_probe(id,probe_ms,probes) VALUES(1,?1,1) "
                        "ON CONFLICT(id) DO UPDATE SET probe_ms=excluded.probe_ms,probes=probes+1",
    [ST_HEALTH_GET] = "SELECT probe_ms FROM health_probe WHERE id=1",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT u",
    [ST_RELEASE] = "RELEASE u",
    [ST_ROLLBACK_TO] = "ROLLBACK TO u",
};
