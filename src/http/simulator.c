/* simulator.c - the simulated payment provider and its circuit breaker:
 *
 *   GET /api/simulator/payment    {mode, latencyMs, providerCalls, circuit: {...}} (this node)
 *   PUT /api/simulator/payment    {"mode": "ok"|"outage", "latencyMs": 0..10000} (admin): switch
 *                                 the provider at run time, to see the breaker work
 */
#include <string.h>
#include "http/api.h"
#include "lib/err.h"
#include "lib/verr.h"

int api_simulator_get(http_req *r)
{
    api *a = http_req_app(r);
    json_t *o = orders_payments_json(a->o);
    if (!o) return ORD_ENOMEM;
    http_reply_json(r, 200, o);
    return 0;
}

int api_simulator_put(http_req *r)
{
    api *a = http_req_app(r);
    json_t *body = http_req_json(r);
    if (!body) return 0;
    static const char *const allowed[] = {"mode", "latencyMs", NULL};
    json_t *errors = json_array();
    if (!json_is_object(body)) {
        verr_add(errors, "", "the body must be an object {mode?, latencyMs?}");
        return api_fail(r, errors), 0;
    }
    verr_reject_unknown(errors, body, "", allowed);
    int outage = -1;
    json_t *m = json_object_get(body, "mode");
    if (m) {
        const char *s = json_string_value(m);
        if (s && !strcmp(s, "ok"))
            outage = 0;
        else if (s && !strcmp(s, "outage"))
            outage = 1;
        else
            verr_add(errors, "mode", "must be \"ok\" or \"outage\"");
    }
    long long lat = -1;
    api_int(errors, body, "latencyMs", "latencyMs", 0, LIMIT_PAYMENT_LATENCY_MS_MAX, -1, &lat);
    if (api_fail(r, errors)) return 0;
    orders_simulator_set(a->o, outage, (int)lat);
    return api_simulator_get(r);
}
