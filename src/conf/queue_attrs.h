/* queue_attrs.h - SQS queue attributes: parsing and validation.
 *
 * Used for queues[].attributes of the config file and at run time for
 * PUT /api/queues/{name}/attributes.  Accepts exactly the SQS names
 * VisibilityTimeout, DelaySeconds, MessageRetentionPeriod, MaximumMessageSize,
 * ReceiveMessageWaitTimeSeconds and RedrivePolicy; anything else is an error.
 * THREAD SAFETY: no global state; any thread.
 */
#ifndef ORDERLY_QUEUE_ATTRS_H
#define ORDERLY_QUEUE_ATTRS_H

#include <stddef.h>
#include <jansson.h>
#include "lib/limits.h"
#include "conf/table.h"

typedef struct queue_attrs {
    int visibility_s; /* VisibilityTimeout 0..43200, default 30 */
    int delay_s;      /* DelaySeconds 0..900, default 0 */
    int retention_s;  /* MessageRetentionPeriod 60..1209600, default 345600 (4 days) */
    int max_size;     /* MaximumMessageSize 1024..262144 bytes, default 262144 */
    int wait_s;       /* ReceiveMessageWaitTimeSeconds 0..20, default 0 */
    char dlq[LIMIT_QUEUE_NAME_MAX + 1]; /* RedrivePolicy target: a queue name, "" = none */
    int max_receive;  /* RedrivePolicy maxReceiveCount 1..1000; 0 = no redrive */
} queue_attrs;

/* Sets the SQS defaults and no redrive policy. */
void queue_attrs_init(queue_attrs *a);

/* Applies the members of the JSON object attrs to *inout; members that are
 * absent keep their value, so *inout holds the current attributes (or
 * queue_attrs_init's defaults) on entry.  Integers may be JSON integers or
 * decimal strings ("30"), as SQS clients send them.  RedrivePolicy is an
 * object or a string holding one (as in SQS), with both deadLetterTargetArn
 * (a queue name, or "arn:aws:sqs:REGION:ACCOUNT:NAME" of which NAME is kept)
 * and maxReceiveCount; the empty string "" removes the redrive policy.
 *
 * Only syntax and ranges are checked here: whether the dead-letter queue
 * exists, and that it is not the queue itself, is the caller's check (config.c
 * does it for the config file; NAME may carry the environment prefix).
 *
 * Returns 0, or ORD_ECONFIG with one line in err naming the attribute's path,
 * the expected type and range; *inout is then unchanged.
 * queue_attrs_parse_at prefixes paths in messages with path
 * ("queues[1].attributes"); queue_attrs_parse uses none. */
int queue_attrs_parse(const json_t *attrs, queue_attrs *inout, char *err, size_t errlen);
int queue_attrs_parse_at(const json_t *attrs, const char *path, queue_attrs *inout, char *err,
                         size_t errlen);

/* The attributes as a new JSON object with SQS names and integer values,
 * RedrivePolicy only when set ({"deadLetterTargetArn": dlq, "maxReceiveCount": n}).
 * The caller owns the reference; NULL when out of memory. */
json_t *queue_attrs_to_json(const queue_attrs *a);

/* The attribute table (for --help, docs and tests); paths are relative to the
 * attributes object, offsets are private to queue_attrs.c.  Static storage. */
const conf_key *queue_attrs_keys(size_t *n);

/* 1 when s is a queue name syntactically: 1..max of [A-Za-z0-9_-]. */
int queue_name_valid(const char *s, size_t max);

#endif
