/* orderload.h - orders under load, for `orderly loadgen` and `orderly
 * bench`: the kinds of order (a mix), the products they need, and sending
 * them through the one load engine (load.h) with counts per kind.
 *
 * Kinds: valid (tok_visa, completes), fail (sku FAIL-ME, the shipped
 * failure injection: retried, then dead-lettered), declined
 * (tok_chargeDeclined: PAYMENT_FAILED), oos (a product with no stock:
 * REJECTED out_of_stock).  Orders of kind K carry customerId
 * "<customer>-<K>", so they can be listed per kind.  The mix is followed
 * exactly, not sampled: a smooth weighted round robin (nginx upstreams)
 * interleaves the kinds in proportion to their weights.
 */
#ifndef ORDERLY_CLI_ORDERLOAD_H
#define ORDERLY_CLI_ORDERLOAD_H
#include "cli/client.h"
#include "cli/load.h"
#include <stdint.h>

enum { OL_VALID, OL_FAIL, OL_DECLINED, OL_OOS, OL_KINDS };
extern const char *const ol_kind_name[OL_KINDS]; /* "valid", "fail", "declined", "oos" */

#define OL_FAIL_SKU "FAIL-ME"
#define OL_STOCK    1000000000LL /* the stock of the products orders use (the API's maximum) */

/* Parses "valid=90,fail=2,declined=5,oos=3" (kinds left out weigh 0;
 * weights 0..1000000, at least one positive).  0, or CMD_USAGE after
 * printing why through c. */
int ol_mix_parse(const cli *c, const char *s, int weights[OL_KINDS]);

/* Makes the products of prefix ready with PUT /api/products/{sku}:
 * "<prefix>-1" with OL_STOCK units (restocked) and "<prefix>-oos" with none.
 * 0 or CMD_FAIL (printed). */
int ol_products(cli *c, const char *prefix);

typedef struct ol_counts {
    int64_t sent, accepted /* 202 */, rejected /* 4xx */, other /* other answers */,
        errors /* none */;
} ol_counts;

typedef struct ol_run {
    /* set by the caller */
    const char *prefix;   /* of the products */
    const char *customer; /* customerId prefix */
    int weights[OL_KINDS];
    /* Called every second (may be NULL), with arg. */
    void (*progress)(void *arg, int second, const load_stats *so_far);
    void *arg;
    /* results */
    ol_counts by_kind[OL_KINDS];
    load_stats total;
    /* internal */
    char body[OL_KINDS][512];
    int cur[OL_KINDS];
} ol_run;

/* Sends orders to c's server for duration_s: at rate per second, or closed
 * loop when rate is 0, with concurrency requests in flight at most.  Fills
 * r->by_kind and r->total.  0, or CMD_FAIL (printed) when the engine could
 * not run. */
int ol_send(cli *c, ol_run *r, double rate, double duration_s, int concurrency);

#endif
