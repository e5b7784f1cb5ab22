/* queue_attrs.h - SQS queue attributes as orderly keeps them.  Parsed from
 * the config file and from PUT /api/queues/{name}/attributes. */
#ifndef ORDERLY_QUEUE_ATTRS_H
#define ORDERLY_QUEUE_ATTRS_H
#include "conf/limits.h"

typedef struct queue_attrs {
    int visibility_s;    /* VisibilityTimeout 0..43200, default 30 */
    int delay_s;         /* DelaySeconds 0..900, default 0 */
    int retention_s;     /* MessageRetentionPeriod 60..1209600, default 345600 */
    int max_size;        /* MaximumMessageSize 1024..262144, default 262144 */
    int wait_s;          /* ReceiveMessageWaitTimeSeconds 0..20, default 0 */
    char dlq[LIMIT_QUEUE_NAME_MAX + 1]; /* RedrivePolicy target ("" = none) */
    int max_receive;     /* RedrivePolicy.maxReceiveCount 1..1000, 0 = none */
} queue_attrs;

/* SQS defaults. */
void queue_attrs_default(queue_attrs *a);

#endif
