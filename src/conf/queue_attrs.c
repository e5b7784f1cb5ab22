/* queue_attrs.c - see queue_attrs.h.  Parsing goes into a scratch copy that
 * is stored only when every attribute is valid, so a rejected request
 * changes nothing (design principle 5). */
#include <stdbool.h>
#include <string.h>
#include "conf/queue_attrs.h"
#include "lib/count.h"
#include "lib/check.h"
#include "lib/err.h"

#define ARN_MAX 200 /* arn:PARTITION:sqs:REGION:ACCOUNT:NAME */

/* The table describes this scratch struct: the current attributes plus the
 * raw RedrivePolicy fields, which are checked together after the walk. */
struct scratch {
    queue_attrs a;
    char target[ARN_MAX + 1];
    int max_receive;
};

static int target_valid(const char *s);

static const conf_key attr_keys[] = {
    CONF_INT_KEY(struct scratch, a.visibility_s, "VisibilityTimeout", 0,
                 LIMIT_VISIBILITY_SECONDS_MAX, LIMIT_VISIBILITY_DEFAULT,
                 .help = "seconds a received message stays invisible to other consumers"),
    CONF_INT_KEY(struct scratch, a.delay_s, "DelaySeconds", 0, LIMIT_DELAY_SECONDS_MAX,
                 LIMIT_DELAY_SECONDS_DEFAULT,
                 .help = "seconds a new message is delayed before it becomes visible"),
    CONF_INT_KEY(struct scratch, a.retention_s, "MessageRetentionPeriod",
                 LIMIT_RETENTION_SECONDS_MIN, LIMIT_RETENTION_SECONDS_MAX, LIMIT_RETENTION_DEFAULT,
                 .help = "seconds a message is kept before it is dropped"),
    CONF_INT_KEY(struct scratch, a.max_size, "MaximumMessageSize", LIMIT_MAX_MESSAGE_SIZE_MIN,
                 LIMIT_MESSAGE_BYTES_MAX, LIMIT_MAX_MESSAGE_SIZE_DEFAULT,
                 .help = "largest message body in bytes"),
    CONF_INT_KEY(struct scratch, a.wait_s, "ReceiveMessageWaitTimeSeconds", 0,
                 LIMIT_WAIT_SECONDS_MAX, LIMIT_WAIT_SECONDS_DEFAULT,
                 .help = "default long-poll wait of a receive, seconds (0 = short poll)"),
    CONF_STRING_KEY(struct scratch, target, "RedrivePolicy.deadLetterTargetArn", 1, ARN_MAX,
                    NULL, .valid = target_valid,
                    .syntax = "a queue name or arn:aws:sqs:REGION:ACCOUNT:NAME",
                    .help = "dead-letter queue; required in a RedrivePolicy"),
    CONF_INT_KEY(struct scratch, max_receive, "RedrivePolicy.maxReceiveCount",
                 LIMIT_MAX_RECEIVE_COUNT_MIN, LIMIT_MAX_RECEIVE_COUNT_MAX, 0,
                 .help = "receives after which a message moves to the dead-letter queue; "
                         "required in a RedrivePolicy"),
};
#define NKEYS COUNT(attr_keys)
#define NSCALARS 5 /* the keys before RedrivePolicy.* */

const conf_key *queue_attrs_keys(size_t *n)
{
    *n = NKEYS;
    return attr_keys;
}

int queue_name_valid(const char *s, size_t max)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    return n >= 1 && n <= max && s[n] == 0;
}

/* The NAME part of an SQS ARN, or NULL when s is not one. */
static const char *arn_name(const char *s)
{
    static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
    if (strncmp(s, "arn:", 4)) return NULL;
    s += 4;
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz-"); /* aws, aws-cn, aws-us-gov */
    if (n < 3 || n > 16 || strncmp(s + n, ":sqs:", 5)) return NULL;
    s += n + 5;
    n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-"); /* us-east-1 */
    if (n < 1 || n > 32 || s[n] != ':' || !strchr(lower, s[0])) return NULL;
    s += n + 1;
    n = strspn(s, "0123456789"); /* 12-digit account id */
    if (n != 12 || s[n] != ':') return NULL;
    return s + n + 1;
}

static int target_valid(const char *s)
{
    const char *name = arn_name(s);
    return queue_name_valid(name ? name : s, LIMIT_QUEUE_NAME_MAX);
}

void queue_attrs_init(queue_attrs *a)
{
    struct scratch sc;
    memset(&sc, 0, sizeof sc);
    conf_table_defaults(attr_keys, NSCALARS, &sc);
    *a = sc.a;
    a->dlq[0] = 0;
    a->max_receive = 0;
}

int queue_attrs_parse(const json_t *attrs, queue_attrs *inout, char *err, size_t errlen)
{
    return queue_attrs_parse_at(attrs, "", inout, err, errlen);
}

int queue_attrs_parse_at(const json_t *attrs, const char *path, queue_attrs *inout, char *err,
                         size_t errlen)
{
    CHECK(inout != NULL);
    json_t *obj = NULL, *parsed = NULL;
    struct scratch sc;
    char rp_path[CONF_PATH_MAX];
    int rc;

    path = path ? path : "";
    conf_path_join(rp_path, sizeof rp_path, path, "RedrivePolicy");
    if (!attrs || !json_is_object(attrs)) {
        rc = conf_errf(err, errlen, "\"%s\" must be an object of SQS queue attributes",
                       *path ? path : "attributes");
        goto out;
    }
    memset(&sc, 0, sizeof sc);
    sc.a = *inout;

    /* RedrivePolicy may be a JSON string (SQS wire format); "" removes it. */
    bool clear = false;
    json_t *rp = json_object_get(attrs, "RedrivePolicy");
    obj = json_copy((json_t *)attrs);
    if (!obj) {
        rc = ORD_ENOMEM;
        goto out;
    }
    if (rp && json_is_string(rp)) {
        if (json_string_length(rp) == 0) {
            clear = true;
            json_object_del(obj, "RedrivePolicy");
        } else {
            json_error_t jerr;
            parsed = json_loads(json_string_value(rp), JSON_REJECT_DUPLICATES, &jerr);
            if (!parsed || !json_is_object(parsed)) {
                rc = conf_errf(err, errlen, "\"%s\" must be a JSON object%s%s", rp_path,
                               parsed ? "" : ": ", parsed ? "" : jerr.text);
                goto out;
            }
            if (json_object_set(obj, "RedrivePolicy", parsed)) {
                rc = ORD_ENOMEM;
                goto out;
            }
        }
    }
    rc = conf_table_apply(attr_keys, NKEYS, obj, path, CONF_STRINGLY, NULL, &sc, err, errlen);
    if (rc) goto out;

    if (json_object_get(obj, "RedrivePolicy")) {
        char full[CONF_PATH_MAX];
        if (!sc.target[0] || !sc.max_receive) {
            conf_path_join(full, sizeof full, rp_path,
                           sc.target[0] ? "maxReceiveCount" : "deadLetterTargetArn");
            rc = conf_errf(err, errlen, "missing required key \"%s\"", full);
            goto out;
        }
        const char *name = arn_name(sc.target);
        name = name ? name : sc.target;
        size_t len = strlen(name);
        CHECK(len < sizeof sc.a.dlq); /* target_valid() bounds it */
        memcpy(sc.a.dlq, name, len + 1);
        sc.a.max_receive = sc.max_receive;
    } else if (clear) {
        sc.a.dlq[0] = 0;
        sc.a.max_receive = 0;
    }
    *inout = sc.a;
    rc = 0;
out:
    json_decref(parsed);
    json_decref(obj);
    return rc;
}

json_t *queue_attrs_to_json(const queue_attrs *a)
{
    struct scratch sc;
    memset(&sc, 0, sizeof sc);
    sc.a = *a;
    json_t *obj = json_object();
    if (!obj || conf_table_to_json(attr_keys, NSCALARS, &sc, obj)) goto fail;
    if (a->max_receive > 0) {
        json_t *rp = json_pack("{s:s, s:i}", "deadLetterTargetArn", a->dlq, "maxReceiveCount",
                               a->max_receive);
        if (!rp || json_object_set_new(obj, "RedrivePolicy", rp)) goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}
