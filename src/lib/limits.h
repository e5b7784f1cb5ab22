/* limits.h - every limit of orderly, named, in one place (sqlite sqliteLimit.h).
 *
 * Each limit has a name, a comment and a value; limits that the config file
 * can change also have a _DEFAULT and the config table (conf/config.c) uses
 * the _MIN/_MAX here as its bounds.  docs/operations.md lists them all and
 * tests check each at the limit and one past it.
 */
#ifndef ORDERLY_LIMITS_H
#define ORDERLY_LIMITS_H

/* ---- Names ---------------------------------------------------------- */
#define LIMIT_ENV_NAME_MAX         32      /* ENVIRONMENT: [a-z0-9-], 1..32 */
#define LIMIT_QUEUE_NAME_MAX       80      /* SQS: 1..80 of [A-Za-z0-9_-], incl. env prefix */
#define LIMIT_RULE_NAME_MAX        64      /* EventBridge: 1..64 of [.\-_A-Za-z0-9] */
#define LIMIT_FUNCTION_NAME_MAX    64      /* Lambda: 1..64 of [A-Za-z0-9_-] */
#define LIMIT_HANDLER_NAME_MAX     64      /* a registered C handler: 1..64 of [A-Za-z0-9_.-] */

/* ---- Queues (SQS semantics) ----------------------------------------- */
#define LIMIT_MESSAGE_BYTES_MAX        262144  /* 256 KiB, a message body */
#define LIMIT_MESSAGE_BYTES_MIN        1       /* SQS: a body has at least 1 character */
#define LIMIT_MAX_MESSAGE_SIZE_MIN     1024    /* MaximumMessageSize attribute range */
#define LIMIT_BATCH_ENTRIES_MAX        10      /* SendMessageBatch / DeleteMessageBatch */
#define LIMIT_RECEIVE_MAX              10      /* MaxNumberOfMessages 1..10 */
#define LIMIT_WAIT_SECONDS_MAX         20      /* WaitTimeSeconds 0..20 */
#define LIMIT_WAIT_SECONDS_DEFAULT     0       /* ReceiveMessageWaitTimeSeconds: short polling */
#define LIMIT_DELAY_SECONDS_MAX        900     /* DelaySeconds 0..900 */
#define LIMIT_DELAY_SECONDS_DEFAULT    0
#define LIMIT_MAX_MESSAGE_SIZE_DEFAULT LIMIT_MESSAGE_BYTES_MAX /* MaximumMessageSize default */
#define LIMIT_VISIBILITY_SECONDS_MAX   43200   /* VisibilityTimeout 0..12 h */
#define LIMIT_VISIBILITY_DEFAULT       30
#define LIMIT_RETENTION_SECONDS_MIN    60      /* MessageRetentionPeriod 60 s..14 d */
#define LIMIT_RETENTION_SECONDS_MAX    1209600
#define LIMIT_RETENTION_DEFAULT        345600  /* 4 days */
#define LIMIT_MAX_RECEIVE_COUNT_MIN    1       /* RedrivePolicy.maxReceiveCount 1..1000 */
#define LIMIT_MAX_RECEIVE_COUNT_MAX    1000
#define LIMIT_QUEUES_MAX               256     /* queues per node */
/* store.queueDepthMax: messages one queue holds (visible, in flight and
 * delayed); a send past it gets 503 queue-full.  SQS has no such bound, but
 * one disk does.  Counted from the database at most once a second while a
 * queue is past half of it, plus this node's sends since. */
#define LIMIT_QUEUE_DEPTH_MIN          1
#define LIMIT_QUEUE_DEPTH_DEFAULT      1000000
#define LIMIT_QUEUE_DEPTH_MAX          100000000
#define LIMIT_REDRIVE_MAX              100000  /* messages moved by one redrive (maxMessages 1..) */
#define LIMIT_MESSAGE_ATTRS_BYTES_MAX  8192    /* message attributes JSON */

/* ---- Event bus (EventBridge semantics) ------------------------------ */
#define LIMIT_PUT_EVENTS_ENTRIES_MAX   10      /* PutEvents entries per request */
#define LIMIT_EVENT_BYTES_MAX          262144  /* one event's JSON, 256 KiB */
#define LIMIT_EVENT_FIELD_MAX          256     /* source / detail-type length */
#define LIMIT_EVENT_RESOURCES_MAX      32      /* resources[] entries */
#define LIMIT_RULES_MAX                300     /* rules per bus */
#define LIMIT_RULE_TARGETS_MAX         5
#define LIMIT_RULE_DESCRIPTION_MAX     512     /* EventBridge: a rule's description */
#define LIMIT_PATTERN_BYTES_MAX        4096    /* an event pattern's JSON */
#define LIMIT_PATTERN_DEPTH_MAX        32      /* nesting of a pattern */
#define LIMIT_PATTERN_ARENA_BYTES_MAX  1048576 /* memory of one compiled pattern (bounded by the 4 KiB of JSON; a guard) */
#define LIMIT_PATTERN_NUMBER_ABS_MAX   5.0e9   /* numeric operands and matched values: |x| <= 5e9 (event-ruler) */
#define LIMIT_PATTERN_NUMBER_SCALE     1e6     /* numbers compare at 6 decimals (event-ruler ComparableNumber) */
#define LIMIT_JSON_DEPTH_MAX           64      /* nesting of any JSON input */
#define LIMIT_REPLAY_EVENTS_MAX        1000000 /* events re-published by one replay */
#define LIMIT_REPLAY_NAME_MAX          64      /* a replay's name: 1..64 of [A-Za-z0-9._-] (EventBridge) */
#define LIMIT_REPLAY_SCAN_ROWS         4096    /* event-log positions one replay page looks at (its reads stay bounded) */

/* ---- Background tasks (replay, redrive) ----------------------------- */
#define LIMIT_TASKS_ACTIVE             32      /* unfinished tasks at once -> 400 limit-exceeded */
#define LIMIT_TASK_PAGE                100     /* events or messages per unit of the writer (rate/10 when less) */
#define LIMIT_TASK_RATE_DEFAULT        5000    /* ratePerSecond: items per second at most .. */
#define LIMIT_TASK_RATE_MAX            100000  /* .. 1..100000 */
#define LIMIT_TASK_PAGE_US             3000    /* a page aims at this much time in the writer (items at the measured cost) */
#define LIMIT_TASK_PAGE_FIRST          10      /* items of a task's first page, before its cost is measured, and at least after */
#define LIMIT_TASK_DUTY_PERCENT        25      /* a task's pages take at most this share of the writer's time */
#define LIMIT_TASK_RETRY_MS            1000    /* a page that failed (a full disk) runs again after this */
#define LIMIT_TASK_LIST_MAX            100     /* GET /api/tasks?limit= 1..100 */

/* ---- Functions (Lambda event source mappings) ----------------------- */
#define LIMIT_FN_BATCH_MAX             10      /* batch size 1..10 (SQS receive maximum) */
#define LIMIT_FN_BATCH_DEFAULT         10
#define LIMIT_FN_WINDOW_MS_MAX         300000  /* MaximumBatchingWindow 0..300 s */
#define LIMIT_FN_WINDOW_MS_DEFAULT     0       /* invoke as soon as messages arrive */
#define LIMIT_FN_CONCURRENCY_MAX       64      /* concurrent batches per mapping */
#define LIMIT_FN_CONCURRENCY_DEFAULT   2
#define LIMIT_FN_BACKOFF_SECONDS_MAX   43200   /* backoff ceiling, = visibility max */
#define LIMIT_FN_BACKOFF_MS_MAX        (LIMIT_FN_BACKOFF_SECONDS_MAX * 1000) /* backoff.baseMs/maxMs */
#define LIMIT_FN_BACKOFF_BASE_MS_DEFAULT 1000  /* first retry after ~1 s ... */
#define LIMIT_FN_BACKOFF_MAX_MS_DEFAULT  60000 /* ... doubling up to 1 min */
#define LIMIT_FN_IDEMPOTENCY_TTL_MIN   1
#define LIMIT_FN_IDEMPOTENCY_TTL_MAX   2592000 /* 30 days */
#define LIMIT_FN_IDEMPOTENCY_TTL_DEFAULT 604800 /* processed event ids kept 7 days */
/* ---- The payment provider: simulator and circuit breaker ------------ */
#define LIMIT_BREAKER_THRESHOLD_DEFAULT 5      /* payments.circuitBreaker.failureThreshold: failures in a row .. */
#define LIMIT_BREAKER_THRESHOLD_MAX    1000
#define LIMIT_BREAKER_WINDOW_S_DEFAULT 60      /* .. within windowSeconds (1..3600) open the circuit */
#define LIMIT_BREAKER_WINDOW_S_MAX     3600
#define LIMIT_BREAKER_COOLDOWN_S_DEFAULT 30    /* coolDownSeconds (1..3600): open this long, then one trial call */
#define LIMIT_BREAKER_COOLDOWN_S_MAX   3600
#define LIMIT_BREAKER_RETRY_S_DEFAULT  5       /* retryDelaySeconds (1..900): a record the open circuit refused
                                                  waits this long (jittered into [d/2, d]) in its queue */
#define LIMIT_BREAKER_RETRY_S_MAX      900
#define LIMIT_PAYMENT_LATENCY_MS_MAX   10000   /* payments.simulator.latencyMs 0..10000: each provider call takes
                                                  this long (on a poller; in-process records go to the pollers) */
#define LIMIT_FN_DRAIN_RECORDS_MAX     10000   /* POST /api/functions/{name}/drain: records one drain takes at most
                                                  ("maxRecords" 1..this; the default) */
#define LIMIT_FN_DRAIN_SECONDS         20      /* ... and for at most this long (under an HTTP client's patience);
                                                  then it answers what it did and the rest waits */
#define LIMIT_FN_STATE_POLL_MS         5000    /* each node re-reads the paused functions this often (a missed
                                                  signal between nodes is corrected within this) */
#define LIMIT_FN_TIMEOUT_S_MAX         900     /* timeoutSeconds 1..900 (Lambda): receive to commit of a batch */
#define LIMIT_FN_TIMEOUT_S_DEFAULT     1       /* the built-in handlers take milliseconds; the queue's
                                                  VisibilityTimeout must be at least this */
#define LIMIT_FUNCTIONS_MAX            64

/* ---- Store (group commit) ------------------------------------------- */
#define LIMIT_STORE_PENDING_DEFAULT    65536   /* units waiting for the writer; full -> 503 */
#define LIMIT_STORE_PENDING_MAX        1048576
#define LIMIT_STORE_BATCH_DEFAULT      1024    /* units per transaction */
#define LIMIT_STORE_BATCH_MAX          16384
#define LIMIT_STORE_WINDOW_US_DEFAULT  0       /* extra wait for more units before COMMIT */
#define LIMIT_STORE_WINDOW_US_MAX      10000
#define LIMIT_STORE_READERS_MAX        64      /* reader connections */
#define LIMIT_STORE_FOLLOW_MAX         4096    /* follow-ups (store_follow_tx) run in one batch; more go to the next */
#define LIMIT_STORE_ADMISSION_MS_DEFAULT 1000  /* intake answers 503 while the writer's queue holds more work than this */
#define LIMIT_STORE_ADMISSION_MS_MAX   60000   /* (store.admissionBacklogMs; 0 = never refuse) */
#define LIMIT_STORE_WAL_BUFFER_BYTES   0x1ffff /* the writer's WAL frames gathered into one write (walbuf.c): the most SQLite's unix VFS writes in one call (128 KiB - 1, 31 frames of 4 KiB) */
#define LIMIT_SWEEP_ROWS               1000    /* rows one unit of a sweep deletes (retention, idempotency records, keys, a purge) */
#define LIMIT_SWEEP_CHUNKS             100     /* units one sweep call runs at most; the rest waits for the next */
#define LIMIT_SWEEP_ORDERS             100     /* orders one unit of the reservation-expiry sweep expires (each writes an event) */
#define LIMIT_STORE_SIGNAL_HANDLERS    4       /* handlers of one signal topic (store_signal_on) */
#define LIMIT_STORE_RECONNECT_MS_MIN   100     /* database lost: first reconnect after this, */
#define LIMIT_STORE_RECONNECT_MS_MAX   5000    /* doubling up to this (503 meanwhile) */

/* ---- PostgreSQL (several nodes on one database) ---------------------- */
#define LIMIT_PG_CONNECT_WAIT_S        30      /* start-up: wait this long for the database to accept connections */
#define LIMIT_PG_CONNECT_TIMEOUT_S     5       /* one connection attempt (libpq connect_timeout; the URL may set it) */
#define LIMIT_PG_IDLE_TX_MS            5000    /* writer's idle_in_transaction_session_timeout: a node stopped
                                                  mid-batch loses its transaction (and row locks) after this */
#define LIMIT_PG_LEADER_LEASE_MS       5000    /* service connection's idle_session_timeout: a stopped leader's
                                                  advisory lock is released after this */
#define LIMIT_PG_PING_MS               1000    /* the service connection talks at least this often (< lease) */
#define LIMIT_PG_NOTIFY_INTERVAL_MS    10      /* at most one NOTIFY per node per this (debounce) */
#define LIMIT_PG_POLL_FALLBACK_MS      1000    /* a waiting long poll re-checks its queue at least this often */
#define LIMIT_PG_SIGNALS_MAX           256     /* distinct signals for the next NOTIFY; more -> one "everything" */
#define LIMIT_PG_NOTIFY_BYTES_MAX      7900    /* one NOTIFY payload (PostgreSQL refuses 8000 and more) */
#define LIMIT_PG_PARAMS_MAX            16      /* parameters of one catalog statement (asserted) */
#define LIMIT_PG_COLUMNS_MAX           32      /* columns of a catalog statement's rows (asserted) */

/* ---- HTTP ----------------------------------------------------------- */
#define LIMIT_HTTP_BODY_BYTES_MAX      1048576 /* any request body, 1 MiB -> 413 */
#define LIMIT_HTTP_BODY_BYTES_MIN      65536   /* http.bodyBytesMax floor: an order body (64 KiB) must fit */
#define LIMIT_HTTP_HEADER_BYTES_MAX    16384   /* request line + headers -> 431/413 */
#define LIMIT_HTTP_CONNECTIONS_DEFAULT 1024    /* open connections, all clients */
#define LIMIT_HTTP_CONNECTIONS_MAX     65536
#define LIMIT_HTTP_PER_IP_DEFAULT      256     /* open connections from one address, */
                                               /* at most LIMIT_HTTP_CONNECTIONS_MAX */
#define LIMIT_HTTP_TIMEOUT_S_DEFAULT   30      /* idle / slow client timeout */
#define LIMIT_HTTP_TIMEOUT_S_MAX       600
#define LIMIT_HTTP_SEND_S_DEFAULT      60      /* http.sendTimeoutSeconds: the time to send one response;
                                                  a slower reader's connection is shut down */
#define LIMIT_HTTP_SEND_S_MAX          600
#define LIMIT_HTTP_WAIT_RESERVE_PERCENT 25     /* share of http.connectionsMax and of http.connectionsPerIp
                                                  that waiting requests (long polls, streams) never take:
                                                  kept for short requests; past it a long poll answers at once */
#define LIMIT_HTTP_TRIM_GRACE_MS       1000    /* an address over its bound of idle + unfinished + waiting
                                                  connections (connectionsPerIp less the reserve) loses its
                                                  idle and unfinished ones older than this (the watchdog) */
#define LIMIT_HTTP_WAIT_PEEK_MS        500     /* a waiting long poll looks at its socket this often: a client
                                                  that left is noticed within it (streams: each console tick) */
#define LIMIT_HTTP_THREADS_DEFAULT     2       /* epoll threads in the pool */
#define LIMIT_HTTP_THREADS_MAX         64
#define LIMIT_HTTP_PATH_BYTES_MAX      2048    /* raw request path (without query) -> 414 */
#define LIMIT_HTTP_DRAIN_S_DEFAULT     10      /* SIGTERM: wait this long for in-flight work */
#define LIMIT_HTTP_CONN_MEMORY_BYTES   32768   /* a connection's input buffer: a request head
                                                  that does not fit gets 414 (request line
                                                  unfinished) or 431.  Exceeds
                                                  LIMIT_HTTP_HEADER_BYTES_MAX + LIMIT_HTTP_PATH_BYTES_MAX
                                                  so that those answer first */
#define LIMIT_HTTP_HEADER_FIELDS_MAX   100     /* header fields in one request -> 431 */
#define LIMIT_HTTP_PATH_SEGMENTS_MAX   16      /* '/'-separated segments of a routed path -> 404 */
#define LIMIT_HTTP_ROUTE_PARAMS_MAX    8       /* {param} segments in one route pattern (asserted) */
#define LIMIT_HTTP_REQUEST_ID_MAX      64      /* X-Request-Id kept if <= this, [A-Za-z0-9._-] */
#define LIMIT_HTTP_ARENA_BYTES_MAX     16777216 /* one request's arena (body copy, replies); beyond
                                                  it http_req_alloc returns NULL -> 503 */
#define LIMIT_HTTP_DRAIN_S_MAX         600

/* ---- Orders ---------------------------------------------------------- */
#define LIMIT_RESERVATION_S_DEFAULT    900        /* RESERVED longer than this -> EXPIRED (15 min) */
#define LIMIT_RESERVATION_S_MAX        86400
#define LIMIT_ORDER_UNITS_DEFAULT      1000       /* business limit: units (sum of qty) per order */
#define LIMIT_ORDER_UNITS_MAX          500000     /* = 50 items x 10000 */
#define LIMIT_ORDER_VALUE_DEFAULT      100000000  /* business limit: order total, cents ($1,000,000) */
#define LIMIT_ORDER_VALUE_MAX          2000000000
#define LIMIT_ORDER_ID_MAX             64         /* orderId: 1..64 of [A-Za-z0-9_.:-] */
#define LIMIT_ORDER_CUSTOMER_MAX       64         /* customerId: 1..64 characters */
#define LIMIT_ORDER_SKU_MAX            64         /* sku: 1..64 of [A-Za-z0-9_.-] */
#define LIMIT_ORDER_ITEMS_MAX          50         /* items per order: 1..50 */
#define LIMIT_ORDER_QTY_MAX            10000      /* qty per item: 1..10000 */
#define LIMIT_ORDER_TOKEN_MAX          64         /* payment token */
#define LIMIT_ORDER_BODY_BYTES_MAX     65536      /* an order body (64 KiB) -> 413 */
#define LIMIT_ORDER_LIST_LIMIT_MAX     100        /* GET /api/orders?limit= 1..100 */
#define LIMIT_PRODUCT_NAME_MAX         200        /* a product name: 1..200 characters */
#define LIMIT_ORDER_CUSTOMER_BYTES_MAX (LIMIT_ORDER_CUSTOMER_MAX * 4) /* its buffer: UTF-8 takes up to 4 bytes a character */
#define LIMIT_PRODUCT_NAME_BYTES_MAX   (LIMIT_PRODUCT_NAME_MAX * 4)   /* its buffer: UTF-8 takes up to 4 bytes a character */
#define LIMIT_PRODUCT_PRICE_CENTS_MAX  100000000000LL /* priceCents 0..1e11 */
#define LIMIT_PRODUCT_STOCK_MAX        1000000000LL   /* stock 0..1e9 */
#define LIMIT_PRODUCTS_MAX             100000     /* products in the catalog -> 400 limit-exceeded past it */
#define LIMIT_PRODUCT_PAGE_DEFAULT     100        /* GET /api/products?limit= default .. */
#define LIMIT_PRODUCT_PAGE_MAX         1000       /* .. and most; nextCursor pages on */
#define LIMIT_TIMELINE_PAGE_DEFAULT    100        /* GET /api/orders/{id}/events?limit= default .. */
#define LIMIT_TIMELINE_PAGE_MAX        1000       /* .. and most: events (and notifications) per page */
#define LIMIT_EVENT_RETENTION_DAYS_DEFAULT 30     /* events.retentionDays: the event log (archive) keeps events this long */
#define LIMIT_EVENT_RETENTION_DAYS_MIN 15         /* longer than a message can live (MessageRetentionPeriod <= 14 d), so a
                                                     queued message always finds its event */
#define LIMIT_EVENT_RETENTION_DAYS_MAX 3650
#define LIMIT_PRICE_CACHE_SLOTS        4096       /* writer's sku -> price cache (power of 2); holds half as many skus, emptied when that many are in */
#define LIMIT_ORDER_CUSTOMER_MERGE     4096       /* SQLite: orders that wait for the customer index (customer_orders), merged in one statement when an order's seq is a multiple */
#define LIMIT_ORDER_COPY_SLOTS         256        /* writer's copies of the orders its batch read (the functions' records read each order three times) */
#define LIMIT_IDEM_KEY_TTL_S_DEFAULT   86400      /* Idempotency-Key responses kept 24 h */
#define LIMIT_IDEM_KEY_TTL_S_MAX       604800
#define LIMIT_IDEM_KEY_MAX             128        /* Idempotency-Key header: 1..128 printable ASCII */
#define LIMIT_DEMO_INTERVAL_S_MAX      86400      /* demo producer: a batch at most every 1 s .. 24 h (0 = off) */
#define LIMIT_DEMO_ORDERS_MAX          100        /* demo producer: orders per batch, 1..100 (seed 004: 1..5) */
#define LIMIT_DEMO_ORDERS_MIN_DEFAULT  1
#define LIMIT_DEMO_ORDERS_MAX_DEFAULT  5
#define LIMIT_DURATION_DIGITS_MAX      9          /* a config duration ("90s", "5m"): at most 9 digits */

/* ---- Metrics (GET /metrics) -------------------------------------------- */
#define LIMIT_METRICS_FAMILIES_MAX        128     /* registered metric families */
#define LIMIT_METRICS_SERIES_PER_FAMILY   1000    /* label combinations per family; past it
                                                     metric_series_get returns NULL and
                                                     orderly_metrics_series_dropped_total counts */
#define LIMIT_METRICS_LABELS_MAX          8       /* label names per family */
#define LIMIT_METRICS_BUCKETS_MAX         32      /* finite bounds of one histogram */
#define LIMIT_METRICS_NAME_MAX            128     /* a metric or label name */
#define LIMIT_METRICS_LABEL_VALUE_MAX     256     /* a label value, bytes; longer -> series refused */
#define LIMIT_METRICS_HELP_MAX            512     /* a family's HELP text, bytes */
#define LIMIT_METRICS_COLLECTORS_MAX      32      /* metrics_on_collect callbacks */
#define LIMIT_METRICS_RENDER_BYTES_MAX    33554432 /* one /metrics body, 32 MiB */
#define LIMIT_METRICS_SKUS_MAX            100     /* skus in orderly_inventory_*{sku}, lowest
                                                     available first */

/* ---- Alarms (CloudWatch semantics, obs/alarms) ----------------------- */
#define LIMIT_ALARMS_MAX               100     /* alarms per node */
#define LIMIT_ALARM_NAME_MAX           255     /* CloudWatch AlarmName: 1..255 */
#define LIMIT_ALARM_DESCRIPTION_MAX    1024    /* CloudWatch AlarmDescription: 0..1024 */
#define LIMIT_ALARM_PERIOD_S_MIN       1       /* periodSeconds 1..86400 */
#define LIMIT_ALARM_PERIOD_S_MAX       86400
#define LIMIT_ALARM_EVAL_PERIODS_MAX   100     /* evaluationPeriods (and datapointsToAlarm) 1..100 */
#define LIMIT_ALARM_WINDOW_S_MAX       86400   /* periodSeconds x evaluationPeriods: 1 day, as CloudWatch */
#define LIMIT_ALARM_LABELS_MAX         LIMIT_METRICS_LABELS_MAX /* label matchers of one metric */
#define LIMIT_ALARM_LABEL_VALUE_MAX    (LIMIT_METRICS_LABEL_VALUE_MAX + 1) /* a label matcher's pattern: "!" + a value */
#define LIMIT_ALARM_THRESHOLD_ABS_MAX  1e15    /* |threshold| */
#define LIMIT_ALARM_SAMPLE_S_DEFAULT   10      /* alarmSampleSeconds: gauges sampled this often, */
#define LIMIT_ALARM_SAMPLE_S_MAX       60      /* and at every period end */

/* ---- Command line (client of a running server) ----------------------- */
#define LIMIT_CLI_URL_MAX              512     /* --url / ORDERLY_URL, and a request URL built on it */
#define LIMIT_CLI_TIMEOUT_S_DEFAULT    30      /* --timeout: one request, connect to last byte */
#define LIMIT_CLI_TIMEOUT_S_MAX        3600
#define LIMIT_CLI_TASK_POLL_MS         200     /* events replay, dlq replay: the task's progress this often */
#define LIMIT_CLI_REPLY_BYTES_MAX      16777216 /* a reply body kept by the client; larger -> error */
#define LIMIT_CLI_POSITIONAL_MAX       4       /* positional arguments of a command */
#define LIMIT_CLI_FLAGS_MAX            16      /* flags of one command, incl. --url/--timeout/--help */
#define LIMIT_CLI_CONCURRENCY_MAX      256     /* loadgen/bench requests in flight (= connections); */
                                               /* the server's default per-address limit */
#define LIMIT_CLI_RATE_MAX             1000000 /* loadgen --rate, requests per second */
#define LIMIT_CLI_DURATION_S_MAX       86400   /* loadgen/bench --duration */
#define LIMIT_CLI_LIST_MAX             100000  /* orders list --limit; bench P3 orders read back */
#define LIMIT_CLI_DRAIN_S_MAX          120     /* bench: wait at most this for a backlog to drain */

/* ---- Web console ----------------------------------------------------- */
#define LIMIT_CONSOLE_FIRST_LOAD_BYTES_MAX 153600 /* 150 KiB: JS + CSS of the console's first load, gzipped (checked by the build and t800) */
#define LIMIT_STREAMS_MAX              64      /* open GET /api/stream connections; one more -> 503 */
#define LIMIT_STREAM_RING              1024    /* recent stream events kept for Last-Event-ID reconnection; further behind -> a reset event */
#define LIMIT_STREAM_RETAIN_S          60      /* events are recorded from the first stream on, until this long after the last one closed */
#define LIMIT_STREAM_INBOX             4096    /* committed events waiting to be formatted for the streams; past it they are dropped and streams get a reset event */
#define LIMIT_STREAM_EVENT_BYTES       2048    /* one stream event (id, type, data line) */
#define LIMIT_STREAM_HEARTBEAT_S       15      /* a comment line this often keeps idle streams (and proxies) open */
#define LIMIT_HISTORY_SAMPLE_S         5       /* the metrics history samples this often */
#define LIMIT_HISTORY_MINUTES_MAX      60      /* GET /api/metrics/history?minutes=1..60 (the ring holds this much) */
#define LIMIT_HISTORY_MINUTES_DEFAULT  15      /* minutes when not given */
#define LIMIT_HISTORY_QUEUES_MAX       16      /* queues whose depth the history keeps (first in creation order) */
#define LIMIT_BROWSE_MAX               100     /* GET /api/queues/{name}/messages?limit=1..100 */
#define LIMIT_BROWSE_DEFAULT           20      /* messages per browse page when not given */
#define LIMIT_BROWSE_BODY_BYTES        65536   /* a browsed message's body is cut here (bodyTruncated) */
#define LIMIT_REDRIVE_IDS_MAX          1000    /* redrive {"messageIds": [...]}: 1..1000 ids */
#define LIMIT_EVENTS_SEARCH_MAX        200     /* GET /api/events?limit=1..200 */
#define LIMIT_EVENTS_SEARCH_DEFAULT    50      /* events per search page when not given */

/* ---- Accounts and access (auth/) -------------------------------------- */
#define LIMIT_USERNAME_MAX             64      /* username: 1..64 of [A-Za-z0-9_.@-] */
#define LIMIT_EMAIL_MAX                254     /* email (RFC 5321 path limit) */
#define LIMIT_PASSWORD_MIN             12      /* password length in characters (OWASP ASVS 2.1.1) */
#define LIMIT_PASSWORD_MAX             256     /* ... and at most (argon2 takes any length; a bound on work) */
#define LIMIT_PASSWORD_HASH_MAX        128     /* crypto_pwhash_STRBYTES */
#define LIMIT_JWT_BYTES_MAX            1024    /* an access token (ours are ~300 bytes); longer -> 401 */
#define LIMIT_JWT_LEEWAY_S             60      /* clock skew allowed on exp / nbf / iat */
#define LIMIT_JWT_KEY_BYTES_MIN        32      /* HS256 key: at least 256 random bits, or the server refuses to start */
#define LIMIT_JWT_KEY_BYTES_MAX        64
#define LIMIT_ACCESS_TTL_S_DEFAULT     900     /* access tokens live 15 minutes */
#define LIMIT_ACCESS_TTL_S_MAX         86400
#define LIMIT_REFRESH_TTL_S_DEFAULT    604800  /* refresh tokens 7 days (rotated on use) */
#define LIMIT_REFRESH_TTL_S_MAX        7776000 /* 90 days */
#define LIMIT_ARGON2_MEMORY_KIB_MIN    19456   /* OWASP's argon2id minimum: m = 19 MiB ... */
#define LIMIT_ARGON2_MEMORY_KIB_MAX    1048576
#define LIMIT_ARGON2_ITERATIONS_MIN    2       /* ... t = 2, p = 1 (libsodium's argon2id is single-lane) */
#define LIMIT_ARGON2_ITERATIONS_MAX    16
#define LIMIT_HASH_THREADS_DEFAULT     2       /* password hashing pool: threads (never an HTTP worker) */
#define LIMIT_HASH_THREADS_MAX         16
#define LIMIT_HASH_QUEUE_DEFAULT       32      /* hashing jobs waiting; beyond -> 503 */
#define LIMIT_HASH_QUEUE_MAX           1024
#define LIMIT_API_KEY_NAME_MAX         64      /* an API key's name */
#define LIMIT_AUTH_CACHE_ENTRIES       4096    /* users and API keys remembered per node (power of 2) */
#define LIMIT_AUTH_CACHE_MS            1000    /* how long a remembered user/key is trusted: a disabled user
                                                  or revoked key stops working within this on every node */
#define LIMIT_LOGIN_ATTEMPTS_DEFAULT   5       /* login attempts per minute per account and per address */
#define LIMIT_LOGIN_ATTEMPTS_MAX       1000
#define LIMIT_RATE_BUCKETS             16384   /* rate-limit buckets per limiter (power of 2); the least recently
                                                  used is reused when full */
#define LIMIT_RATE_PER_S_DEFAULT       1000    /* requests per second per client address and per principal */
#define LIMIT_RATE_BURST_DEFAULT       2000    /* ... with this burst */
#define LIMIT_RATE_PER_S_MAX           1000000
#define LIMIT_AUDIT_RETENTION_DAYS_DEFAULT 90  /* audit rows kept this long */
#define LIMIT_AUDIT_RETENTION_DAYS_MAX 3650
#define LIMIT_AUDIT_ERASED_KEEP_MS     3600000 /* an erased name (its SHA-256) is remembered this long, so audit rows written late name the pseudonym */
#define LIMIT_LIST_PAGE_MAX            100     /* GET /api/users, /api/audit: rows per page */
#define LIMIT_HOSTS_MAX                16      /* auth.allowedHosts, auth.trustedProxies entries */

/* ---- Config --------------------------------------------------------- */
#define LIMIT_CONFIG_BYTES_MAX         1048576 /* the JSON config file */
#define LIMIT_LISTEN_ADDR_MAX          255     /* listen: HOST:PORT */
#define LIMIT_DB_URL_MAX               1024    /* db: a file path or postgres:// URL */
#define LIMIT_CONFIG_ERR_MAX           512     /* a config error message, one line */

#endif
