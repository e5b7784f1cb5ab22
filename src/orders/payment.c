/* payment.c - the simulated payment provider, by Stripe's test tokens. */
#include <string.h>
#include "orders/orders.h"

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
