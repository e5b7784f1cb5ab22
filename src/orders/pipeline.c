/* pipeline.c - whether the order flow is consumed: a node that accepts
 * orders while no function takes them from their queue would leave every
 * order PENDING, silently.  The check routes a sample event of each stage
 * through the real rules and looks for an enabled function on a target. */
#include <string.h>
#include "lib/err.h"
#include "orders/internal.h"

const char *const orders_stages[ORDERS_STAGES] = {"OrderCreated", "PaymentRequested"};

static int consumed(fn_sys *fs, const char *qname, int running)
{
    for (int i = 0; i < fn_count(fs); i++) {
        fn_stats st;
        if (strcmp(fn_queue(fs, i), qname) || fn_stats_get(fs, fn_name(fs, i), &st)) continue;
        if (st.elsewhere) return 1; /* an api node: other nodes poll it */
        if (running ? st.pollers_running > 0 : st.enabled) return 1;
    }
    return 0;
}

int orders_pipeline_gaps(orders *o, fn_sys *fs, int running, int gaps[ORDERS_STAGES])
{
    int n = 0;
    json_t *detail = json_pack("{s:s,s:s,s:[{s:s,s:i}],s:{s:s},s:i}", "orderId", "pipeline-check", "customerId",
                               "pipeline-check", "items", "sku", "pipeline-check", "qty", 1, "payment", "token",
                               ORDER_TOKEN_DEFAULT, "amountCents", 0);
    for (int s = 0; s < ORDERS_STAGES; s++) {
        bus_event ev = {.source = ORDERS_SOURCE, .detail_type = orders_stages[s], .detail = detail};
        bus_prepared p;
        gaps[s] = 1;
        if (detail && bus_prepare(o->b, &ev, &p) == 0) {
            for (int r = 0; r < p.nrules && gaps[s]; r++) {
                bus_rule_info info;
                if (bus_rule_get(o->b, p.rules[r], &info)) continue;
                for (int t = 0; t < info.ntargets && gaps[s]; t++)
                    if (consumed(fs, info.targets[t], running)) gaps[s] = 0;
            }
            bus_prepared_release(&p);
        }
        n += gaps[s];
    }
    json_decref(detail);
    return n;
}
