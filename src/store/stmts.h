/* stmts.h - the statement catalog: every statement orderly runs, by id.
 *
 * Callers name statements; each backend supplies the SQL for every id
 * (store/sqlite_sql.c now, a PostgreSQL table later).  Parameters are bound
 * by position in the order the comment gives; columns come back in the
 * order the comment gives.  Adding a statement: add the id here with its
 * parameter and column lists, then its SQL in every backend (a unit test
 * checks that none is missing).
 */
#ifndef ORDERLY_STMTS_H
#define ORDERLY_STMTS_H

typedef enum store_stmt_id {
    /* -- queues ------------------------------------------------------- */
    ST_QUEUE_LIST,        /* -> id,name,visibility_s,delay_s,retention_s,max_size,wait_s,dlq_name,max_receive,created_ms */
    ST_QUEUE_INSERT,      /* name,visibility_s,delay_s,retention_s,max_size,wait_s,dlq_name,max_receive,created_ms -> id */
    ST_QUEUE_UPDATE,      /* id,visibility_s,delay_s,retention_s,max_size,wait_s,dlq_name,max_receive */
    ST_QUEUE_DELETE,      /* id */
    ST_QUEUE_TOMBSTONE,   /* id,name,deleted_ms: a deleted queue whose messages are still being removed */
    ST_QUEUE_TOMBSTONES,  /* limit -> id,name */
    ST_QUEUE_TOMBSTONE_DROP, /* id: its messages are gone */
    /* -- messages ------------------------------------------------------ */
    ST_MSG_INSERT,        /* queue_id,message_id,body,attrs,sent_ms,visible_ms -> (none) */
    ST_MSG_INSERT_LEASED, /* queue_id,message_id,body,attrs,sent_ms,visible_ms,receipt,receive_count,
                           * first_receive_ms -> id: a message written as already received (lease on send) */
    ST_MSG_CANDIDATES,    /* queue_id,now,limit -> id,receive_count,sent_ms */
    ST_MSG_DELIVER,       /* id,receipt,visible_ms,now -> message_id,body,attrs,sent_ms,receive_count,first_receive_ms,source_queue */
    ST_MSG_MOVE,          /* id,dest_queue_id,now,source_queue_name -> (none): into a DLQ */
    ST_MSG_RETURN,        /* id,dest_queue_id,now -> (none): back from a DLQ, as a fresh message */
    ST_MSG_DELETE,        /* id,receipt,queue_id */
    ST_MSG_DELETE_LIVE,   /* id,receipt,queue_id,now: only while the receipt's visibility has not expired */
    ST_MSG_DELETE_ID,     /* id: unconditional (expired by retention) */
    ST_MSG_SET_VISIBLE,   /* id,receipt,queue_id,now,visible_ms: only while in flight */
    ST_MSG_DEFER,         /* id,receipt,queue_id,now,visible_ms: only while in flight; back to the queue at
                             visible_ms, its receive not counted (receive_count - 1, the receipt cleared) */
    ST_MSG_PURGE,         /* queue_id,upto,limit: a chunk of a purge (the messages sent before it began) */
    ST_MSG_LAST_ID,       /* -> the newest message id of every queue (0 none) */
    ST_MSG_DELETE_OF_QUEUE, /* queue_id,limit: a chunk of a deleted queue's messages */
    ST_MSG_VISIBLE_IDS,   /* queue_id,now,after_visible_ms,after_id,limit -> id,source_queue,visible_ms (by (visible_ms, id)) */
    ST_MSG_EXPIRED,       /* queue_id,cutoff_sent_ms,limit -> id */
    ST_MSG_STATS,         /* queue_id,now -> visible,in_flight,delayed,oldest_ms */
    ST_MSG_NEXT_VISIBLE,  /* queue_id,now -> min(visible_ms) of messages not yet visible, or NULL */
    ST_MSG_GET,           /* id -> message_id,body,attrs,sent_ms,receive_count,first_receive_ms */
    ST_MSG_BROWSE,        /* queue_id,after_id,limit,body_max -> id,message_id,body (first body_max bytes),
                             length(body),attrs,sent_ms,visible_ms,receive_count,first_receive_ms,moved_ms,
                             source_queue,in_flight (receipt set): oldest first, nothing changed */
    ST_MSG_VISIBLE_MIDS,  /* queue_id,now,after_id,limit -> id,source_queue,message_id (oldest first) */
    /* -- event log ------------------------------------------------------ */
    ST_EVENT_INSERT,      /* id,time_ms,source,detail_type,envelope,replay_name,subject (an id there: ORD_ECONFLICT) */
    ST_EVENT_BY_SUBJECT,  /* subject,after_seq,limit -> seq,id,time_ms,detail_type,envelope (oldest first) */
    ST_EVENT_SWEEP,       /* cutoff_ms,limit: events older than the archive's retention */
    ST_EVENT_RANGE,       /* from_ms,to_ms,after_seq,limit,upto_seq -> seq,id,time_ms,envelope (originals only) */
    ST_EVENT_SEQ_BOUNDS,  /* -> (first seq - 1, last seq) of the log (0, 0 when empty) */
    ST_EVENT_RANGE_COUNT, /* from_ms,to_ms,limit -> min(count of originals in the window, limit) */
    ST_EVENT_GET,         /* id -> seq,time_ms,source,detail_type,envelope,replay_name,subject */
    ST_EVENT_SET_SUBJECT, /* id,subject: an archived event without a subject becomes about an order */
    ST_EVENT_COUNT,       /* -> count(*) */
    ST_EVENT_SEARCH,      /* from_ms,to_ms,source|NULL,detail_type|NULL,subject|NULL,before_seq,limit
                             -> seq,id,time_ms,source,detail_type,subject,replay_name,envelope (newest first) */
    /* -- idempotency ---------------------------------------------------- */
    ST_IDEM_CLAIM,        /* function,event_id,expires_ms,now: inserts, or renews an expired record;
                             changes() = 0 when a live record exists (a duplicate) */
    ST_IDEM_SWEEP,        /* now,limit -> (none) */
    ST_IDEM_COUNT,        /* -> count(*) */
    /* -- products ------------------------------------------------------ */
    ST_PRODUCT_GET,       /* sku -> sku,name,price_cents,stock,reserved,sold,initial_stock,restocked */
    ST_PRODUCT_LIST,      /* after_sku,limit -> as ST_PRODUCT_GET, by sku */
    ST_PRODUCT_COUNT,     /* -> count */
    ST_PRODUCT_BY_NAME,   /* name,limit -> as ST_PRODUCT_GET: the products named name, ignoring case, by sku */
    ST_PRODUCT_LOWEST,    /* limit -> sku,stock,reserved: least available (stock-reserved) first, then by sku */
    ST_PRODUCT_INSERT,    /* sku,name,price_cents,stock,now */
    ST_PRODUCT_UPDATE,    /* sku,name,price_cents,stock,now: only while stock >= reserved */
    ST_PRODUCT_DELETE,    /* sku: only while nothing is reserved */
    ST_PRODUCT_RESERVE,   /* sku,qty,now: only while stock - reserved >= qty (store_changes: 1, or 0) */
    ST_PRODUCT_RELEASE,   /* sku,qty,now -> as RESERVE */
    ST_PRODUCT_CAPTURE,   /* sku,qty,now: stock -= qty, reserved -= qty, sold += qty; as RESERVE */
    /* -- orders -------------------------------------------------------- */
    ST_ORDER_INSERT,      /* id,customer_id,status,payment_token,total_cents,units,request_hash,event_id,now -> seq (store_insert) */
    ST_ORDER_GET,         /* id -> seq,id,customer_id,status,reason,last_error,failed_from,payment_token,total_cents,
                                   units,request_hash,event_id,attempts,created_ms,updated_ms,reserved_ms,completed_ms,
                                   sku,qty,unit_price_cents: one row per item (by line), item columns NULL when none */
    ST_ITEM_INSERT,       /* order_seq,line,sku,qty,unit_price_cents */
    ST_ORDER_UPDATE,      /* id,status,reason,failed_from,now,reserved_ms,completed_ms (NULL keeps) */
    ST_ORDER_ATTEMPT,     /* id,last_error,now: a failed processing attempt */
    ST_ORDER_LIST,        /* status|NULL,before_seq,limit -> id (newest first) */
    ST_ORDER_LIST_CUSTOMER, /* status|NULL,customer_id,before_seq,limit -> id,seq */
    ST_ORDER_SEQ,         /* id -> seq */
    ST_ORDER_EXPIRED,     /* cutoff_ms,limit -> id: RESERVED (or FAILED from RESERVED) since before cutoff */
    ST_ORDER_COUNT,       /* -> count */
    ST_ORDER_COUNT_SINCE, /* since_ms -> count */
    ST_ORDER_BY_HOUR,     /* since_ms -> hour (ms / 3600000), count */
    ST_ORDER_BY_STATUS,   /* -> status, count */
    /* -- payments, notifications, Idempotency-Key --------------------- */
    ST_PAYMENT_INSERT,    /* order_id,payment_id,outcome,token,amount_cents,now */
    ST_NOTIFICATION_INSERT, /* event_id,order_id,channel,template,recipient,payload,now */
    ST_NOTIFICATIONS_BY_ORDER, /* order_id -> channel,template,recipient,payload,created_ms,event_id */
    ST_IDEMKEY_GET,       /* key,now -> request_hash,status,response */
    ST_IDEMKEY_PUT,       /* key,request_hash,status,response,expires_ms */
    ST_IDEMKEY_SWEEP,     /* now,limit */
    /* -- accounts: users, refresh tokens, API keys, audit ---------- */
    ST_USER_INSERT,       /* username,email,role,status,customer_id,password_hash,now -> id */
    ST_USER_GET,          /* id -> id,username,email,role,status,customer_id,password_hash,created_ms,updated_ms,
                                   last_login_ms */
    ST_USER_BY_LOGIN,     /* name -> as ST_USER_GET: the user whose username or email is name */
    ST_USER_LIST,         /* after_id,limit -> as ST_USER_GET, by id */
    ST_USER_UPDATE,       /* id,email,role,status,customer_id,now */
    ST_USER_SET_PASSWORD, /* id,password_hash,now */
    ST_USER_LOGGED_IN,    /* id,now */
    ST_USER_DELETE,       /* id */
    ST_USER_COUNT,        /* -> count */
    ST_USER_BY_CUSTOMER,  /* customer_id -> as ST_USER_GET */
    ST_USER_ADMINS,       /* -> count of active admins */
    ST_USER_RENAME,       /* id,username */
    ST_REFRESH_INSERT,    /* hash,family,user_id,expires_ms,now */
    ST_REFRESH_GET,       /* hash -> family,user_id,expires_ms,used_ms,revoked_ms */
    ST_REFRESH_USE,       /* hash,now: marks it used; changes() = 0 when it was used or revoked already */
    ST_REFRESH_REVOKE_FAMILY, /* family,now */
    ST_REFRESH_REVOKE_USER,   /* user_id,now */
    ST_REFRESH_SWEEP,     /* now,limit: expired tokens */
    ST_APIKEY_INSERT,     /* id,name,hash,role,now,expires_ms,created_by */
    ST_APIKEY_BY_HASH,    /* hash -> id,name,role,expires_ms,revoked_ms */
    ST_APIKEY_LIST,       /* -> id,name,role,created_ms,expires_ms,revoked_ms,created_by (newest first) */
    ST_APIKEY_REVOKE,     /* id,now: changes() = 0 when there is no such live key */
    ST_AUDIT_INSERT,      /* time_ms,principal,role,key_id,method,route,target,status,ip,request_id,detail */
    ST_AUDIT_LIST,        /* principal|NULL,target|NULL,from_ms,to_ms,before_seq,limit ->
                             seq,time_ms,principal,role,key_id,method,route,target,status,ip,request_id,detail */
    ST_AUDIT_SWEEP,       /* cutoff_ms,limit */
    ST_AUDIT_RENAME,      /* old,new: a principal or target named old is named new (erasure) */
    ST_AUDIT_ERASED_PUT,  /* name_hash,pseudonym,expires_ms: an erasure's name, for late audit rows */
    ST_AUDIT_ERASED_GET,  /* name_hash,now_ms -> pseudonym */
    ST_AUDIT_ERASED_SWEEP, /* now_ms,limit */
    /* -- a customer's data (export, erasure) ------------------------------ */
    ST_ORDER_SET_CUSTOMER, /* id,customer_id */
    ST_ORDER_CUSTOMER_MERGE, /* upto: the orders after the customer index's mark, up to seq upto, into it */
    ST_ORDER_CUSTOMER_MARK,  /* upto: the mark moved to upto (after ST_ORDER_CUSTOMER_MERGE) */
    ST_EVENT_SET_ENVELOPE, /* seq,envelope */
    ST_NOTIFICATION_SET,   /* event_id,recipient,payload */
    /* -- background tasks (replay, redrive) ------------------------------ */
    ST_TASK_INSERT,       /* id,kind,name,state,params,rate,total,now */
    ST_TASK_PROGRESS,     /* id,cursor,done,routed,now */
    ST_TASK_STATE,        /* id,state,now: only while unfinished (changes() = 0 otherwise) */
    ST_TASK_FINISH,       /* id,state,error|NULL,now */
    ST_TASK_GET,          /* id -> TASK_COLUMNS */
    ST_TASK_LIST,         /* before_created_ms,before_id,limit -> TASK_COLUMNS, newest first */
    ST_TASK_ACTIVE,       /* kind,name -> id of the unfinished task */
    ST_TASK_UNFINISHED,   /* -> id, oldest first */
    ST_TASK_SWEEP,        /* cutoff_ms,limit: finished tasks */
    /* -- function control (pause / resume) --------------------------------- */
    ST_FN_STATE_SET,      /* name,paused,now,updated_by|NULL: inserts or replaces the function's row */
    ST_FN_STATE_LIST,     /* -> name,paused,updated_ms,updated_by */
    /* -- health ----------------------------------------------------------- */
    ST_HEALTH_PROBE,      /* now: rewrites the one health_probe row (probes + 1: always a change) */
    ST_HEALTH_GET,        /* -> probe_ms of the latest committed probe */
    /* -- bookkeeping ---------------------------------------------------- */
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST__COUNT
} store_stmt_id;

#endif
