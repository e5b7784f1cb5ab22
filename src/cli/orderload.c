/* orderload.c - orders under load: mix, products, sending (see orderload.h). */
#include "cli/orderload.h"
#include "lib/exitcode.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OL_WEIGHT_MAX 1000000

const char *const ol_kind_name[OL_KINDS] = {"valid", "fail", "declined", "oos"};

int ol_mix_parse(const cli *c, const char *s, int weights[OL_KINDS])
{
    memset(weights, 0, OL_KINDS * sizeof *weights);
    char buf[256];
    if (strlen(s) >= sizeof buf) return cli_usage_error(c, "--mix is too long");
    strcpy(buf, s);
    long total = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int k = -1;
        if (eq) {
            *eq = 0;
            for (int i = 0; i < OL_KINDS; i++)
                if (!strcmp(tok, ol_kind_name[i])) k = i;
        }
        char *end = NULL;
        long w = eq ? strtol(eq + 1, &end, 10) : -1;
        if (k < 0 || end == eq + 1 || *end || w < 0 || w > OL_WEIGHT_MAX)
            return cli_usage_error(
                c,
                "--mix is KIND=WEIGHT,... with KIND valid, fail, declined or oos and "
                "WEIGHT 0-%d: \"%s\"",
                OL_WEIGHT_MAX, s);
        weights[k] = (int)w;
        total += w;
    }
    if (total <= 0)
        return cli_usage_error(c, "--mix needs at least one positive weight: \"%s\"", s);
    return 0;
}

static int put_product(cli *c, const char *sku, const char *name, long long stock)
{
    char esc[128], path[256];
    if (!cli_escape(sku, esc, sizeof esc)) return CMD_FAIL;
    snprintf(path, sizeof path, "/api/products/%s", esc);
    json_t *body =
        json_pack("{s:s,s:i,s:I}", "name", name, "priceCents", 100, "stock", (json_int_t)stock);
    int rc = cli_call(c, "PUT", path, body, NULL);
    json_decref(body);
    return rc;
}

int ol_products(cli *c, const char *prefix)
{
    char sku[96], name[128];
    snprintf(sku, sizeof sku, "%s-1", prefix);
    snprintf(name, sizeof name, "%s product (ample stock)", prefix);
    int rc = put_product(c, sku, name, OL_STOCK);
    if (rc) return rc;
    snprintf(sku, sizeof sku, "%s-oos", prefix);
    snprintf(name, sizeof name, "%s product (out of stock)", prefix);
    return put_product(c, sku, name, 0);
}

/* smooth weighted round robin: the kind of the next order */
static int pick(ol_run *r)
{
    int best = -1, total = 0;
    for (int k = 0; k < OL_KINDS; k++) {
        r->cur[k] += r->weights[k];
        total += r->weights[k];
        if (r->weights[k] && (best < 0 || r->cur[k] > r->cur[best])) best = k;
    }
    r->cur[best] -= total;
    return best;
}

static int next(void *ctx, int slot, load_req *req)
{
    ol_run *r = ctx;
    int k = pick(r);
    req->method = "POST";
    req->path = "/api/orders";
    req->body = r->body[k];
    req->body_len = strlen(r->body[k]);
    req->tag = k;
    r->by_kind[k].sent++;
    return 0;
}

static void done(void *ctx, int slot, const load_req *req, long status, const char *body,
                 size_t len)
{
    ol_counts *k = &((ol_run *)ctx)->by_kind[req->tag];
    if (status == 202)
        k->accepted++;
    else if (status >= 400 && status < 500)
        k->rejected++;
    else if (status)
        k->other++;
    else
        k->errors++;
}

static void tick(void *ctx, int second, const load_stats *so_far)
{
    ol_run *r = ctx;
    if (r->progress) r->progress(r->arg, second, so_far);
}

int ol_send(cli *c, ol_run *r, double rate, double duration_s, int concurrency)
{
    char sku[96], oos[96];
    snprintf(sku, sizeof sku, "%s-1", r->prefix);
    snprintf(oos, sizeof oos, "%s-oos", r->prefix);
    static const char *const fmt =
        "{\"customerId\":\"%s-%s\",\"items\":[{\"sku\":\"%s\",\"qty\":1}],"
        "\"payment\":{\"token\":\"%s\"}}";
    for (int k = 0; k < OL_KINDS; k++)
        snprintf(r->body[k], sizeof r->body[k], fmt, r->customer, ol_kind_name[k],
                 k == OL_FAIL  ? OL_FAIL_SKU
                 : k == OL_OOS ? oos
                               : sku,
                 k == OL_DECLINED ? "tok_chargeDeclined" : "tok_visa");
    memset(r->by_kind, 0, sizeof r->by_kind);
    memset(r->cur, 0, sizeof r->cur);
    load_plan p = {.url = c->url,
                   .rate = rate,
                   .duration_s = duration_s,
                   .concurrency = concurrency,
                   .timeout_ms = c->timeout_ms,
                   .next = next,
                   .done = done,
                   .tick = tick,
                   .ctx = r};
    if (load_run(&p, &r->total)) {
        fprintf(stderr, "orderly: cannot set up libcurl for the load\n");
        return CMD_FAIL;
    }
    return 0;
}
