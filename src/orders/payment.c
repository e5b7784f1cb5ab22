/* payment.c - the simulated payment provider, by Stripe's test tokens, its
 * run-time modes (outage, latency) and the circuit breaker around it.
 *
 * The breaker (lib/breaker.h) is this node's view of the provider:
 * payment-processor asks it before each record (handlers.c: an open circuit
 * turns the record away untried, FN_DEFER, so it waits in the queue without
 * counting toward the DLQ) and tells it each call's outcome (a transient
 * failure counts, an answer - captured or declined - is a success).  Its
 * transitions are logged and published as CircuitOpened / CircuitClosed
 * (source orderly.payments) in units of their own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/err.h"
#include "obs/log.h"
#include "orders/internal.h"

payment_result payment_simulate(const char *token, int attempt, const char **decline_reason)
{
    *decline_reason = NULL;
    if (!strcmp(token, "tok_chargeDeclined")) {
        *decline_reason = "card_declined";
        return PAYMENT_DECLINED;
    }
    if (!strcmp(token, "tok_insufficientFunds")) {
        *decline_reason = "insufficient_funds";
        return PAYMENT_DECLINED;
    }
    if (!strcmp(token, "tok_processingError") && attempt < 3) return PAYMENT_TRANSIENT;
    return PAYMENT_CAPTURED;
}

payment_result orders_payment_call(orders *o, const char *token, int attempt, const char **decline_reason,
                                   const char **why)
{
    atomic_fetch_add(&o->provider_calls, 1);
    *why = NULL;
    if (atomic_load(&o->sim_outage)) {
        *decline_reason = NULL;
        *why = "provider_unavailable: the payment provider is down (simulated outage)";
        return PAYMENT_TRANSIENT;
    }
    payment_result pr = payment_simulate(token, attempt, decline_reason);
    if (pr == PAYMENT_TRANSIENT) *why = "processing_error: the provider timed out";
    return pr;
}

void orders_simulator_set(orders *o, int outage, int latency_ms)
{
    if (outage >= 0) atomic_store(&o->sim_outage, outage);
    if (latency_ms >= 0) atomic_store(&o->sim_latency_ms, latency_ms);
    log_info("payments", "payment simulator changed", "mode", atomic_load(&o->sim_outage) ? "outage" : "ok",
             "#latencyMs", (int64_t)atomic_load(&o->sim_latency_ms), NULL);
}

uint64_t orders_provider_calls(orders *o)
{
    return atomic_load(&o->provider_calls);
}

void orders_circuit_get(orders *o, breaker_info *out, int *enabled)
{
    breaker_get(&o->breaker, out);
    *enabled = o->cfg.breaker.enabled;
}

json_t *orders_payments_json(orders *o)
{
    breaker_info bi;
    int enabled;
    orders_circuit_get(o, &bi, &enabled);
    return json_pack("{s:s,s:i,s:I,s:{s:s,s:b,s:s,s:i,s:i,s:I,s:I,s:I,s:I,s:I}}", "mode",
                     atomic_load(&o->sim_outage) ? "outage" : "ok", "latencyMs", atomic_load(&o->sim_latency_ms),
                     "providerCalls", (json_int_t)atomic_load(&o->provider_calls), "circuit", "name", ORDERS_CIRCUIT,
                     "enabled", enabled, "state", breaker_state_name(bi.state), "failures", bi.failures,
                     "failureThreshold", o->cfg.breaker.threshold, "windowSeconds",
                     (json_int_t)(o->cfg.breaker.window_ms / 1000), "coolDownSeconds",
                     (json_int_t)(o->cfg.breaker.cooldown_ms / 1000), "retryDelaySeconds",
                     (json_int_t)(o->cfg.breaker_retry_ms / 1000), "opened", (json_int_t)bi.opened, "closed",
                     (json_int_t)bi.closed);
}

typedef struct circuit_event {
    bus *b;
    bus_prepared p;
} circuit_event;

static int circuit_unit(store_conn *tx, void *arg)
{
    circuit_event *e = arg;
    return bus_publish_prepared_tx(tx, e->b, &e->p, NULL);
}

static void circuit_done(void *arg, int rc)
{
    circuit_event *e = arg;
    if (rc) log_warn("payments", "cannot publish the circuit's event", "error", err_name(rc), NULL);
    bus_prepared_release(&e->p);
    free(e);
}

void ord_circuit_transition(orders *o, int to)
{
    breaker_info bi;
    breaker_get(&o->breaker, &bi);
    const char *state = breaker_state_name((breaker_state)to);
    if (to == BREAKER_HALF_OPEN) { /* a trial call: logged, no event */
        log_info("payments", "circuit half-open: one trial call", "circuit", ORDERS_CIRCUIT, "state", state, NULL);
        return;
    }
    const char *type = to == BREAKER_OPEN ? "CircuitOpened" : "CircuitClosed";
    if (to == BREAKER_OPEN)
        log_warn("payments", "circuit opened: the payment provider is not called", "circuit", ORDERS_CIRCUIT,
                 "state", state, "#failureThreshold", (int64_t)o->cfg.breaker.threshold, "#coolDownSeconds",
                 o->cfg.breaker.cooldown_ms / 1000, NULL);
    else
        log_info("payments", "circuit closed: the payment provider answers again", "circuit", ORDERS_CIRCUIT,
                 "state", state, NULL);
    json_t *detail = json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:I}", "circuit", ORDERS_CIRCUIT, "state", state,
                               "failureThreshold", o->cfg.breaker.threshold, "windowSeconds",
                               (json_int_t)(o->cfg.breaker.window_ms / 1000), "coolDownSeconds",
                               (json_int_t)(o->cfg.breaker.cooldown_ms / 1000), "opened", (json_int_t)bi.opened,
                               "closed", (json_int_t)bi.closed);
    circuit_event *e = calloc(1, sizeof *e);
    int rc = detail && e ? 0 : ORD_ENOMEM;
    if (!rc) {
        e->b = o->b;
        bus_event ev = {.source = ORDERS_PAYMENTS_SOURCE, .detail_type = type, .detail = detail};
        rc = bus_prepare(o->b, &ev, &e->p);
        if (!rc && (rc = store_submit(o->st, circuit_unit, circuit_done, e))) bus_prepared_release(&e->p);
        if (!rc) e = NULL; /* circuit_done frees it */
    }
    json_decref(detail);
    free(e);
    if (rc) log_warn("payments", "cannot publish the circuit's event", "event", type, "error", err_name(rc), NULL);
}
