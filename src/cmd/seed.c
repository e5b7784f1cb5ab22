/* seed.c - `orderly seed FILE`: loads a product catalog (the format of
 * config/catalog.json: {"products": [{sku, name, priceCents, stock}]} or a
 * bare array) into a running server through POST /api/products.  Products
 * that exist are left as they are (their stock is live data). */
#include "cli/client.h"
#include "cmd/cmd.h"
#include <stdio.h>
#include <string.h>

static const cli_spec seed_spec = {"seed FILE [--url URL]",
                                   "Creates the products of the catalog FILE that the server does "
                                   "not have yet and prints how many\n"
                                   "were added and how many existed.  Exit 1 when the file cannot "
                                   "be read or a product is refused.",
                                   1, 1, NULL};

int cmd_seed(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &seed_spec, "seed", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    const char *file = c.pos[0];
    json_error_t je;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    rc = CMD_FAIL;
    if (!doc) {
        if (je.line > 0)
            fprintf(stderr, "orderly: %s: line %d, column %d: %s\n", file, je.line, je.column,
                    je.text);
        else
            fprintf(stderr, "orderly: %s\n", je.text);
        goto out;
    }
    json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "products");
    if (!json_is_array(list)) {
        fprintf(stderr, "orderly: %s: expected {\"products\": [...]} or an array\n", file);
        goto out;
    }
    int added = 0, existing = 0, failed = 0;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        long status;
        json_t *r = NULL;
        if (cli_http(&c, "POST", "/api/products", p, 0, &status, &r)) goto out;
        if (status == 201) {
            added++;
        } else if (status == 409) {
            existing++;
        } else {
            const char *sku = json_string_value(json_object_get(p, "sku"));
            fprintf(stderr, "orderly: %s: products[%zu] (%s) refused:\n", file, i,
                    sku ? sku : "no sku");
            cli_print_problem(status, r);
            failed++;
        }
        json_decref(r);
    }
    printf("seed: %s: %zu products, %d added, %d existing%s", file, json_array_size(list), added,
           existing, failed ? "" : "\n");
    if (failed) printf(", %d refused\n", failed);
    rc = failed ? CMD_FAIL : CMD_OK;
out:
    json_decref(doc);
    cli_release(&c);
    return rc;
}
