/* rules.c - GET /api/rules: the routing rules with their patterns, targets
 * and how many events each matched since start. */
#include "http/api.h"

int api_rules_list(http_req *r)
{
    api *a = http_req_app(r);
    json_t *arr = json_array();
    for (int i = 0; i < bus_rule_count(a->b); i++) {
        bus_rule_info ri;
        if (bus_rule_get(a->b, i, &ri)) continue;
        json_t *targets = json_array();
        for (int k = 0; k < ri.ntargets; k++) json_array_append_new(targets, json_pack("{s:s}", "queue", ri.targets[k]));
        json_t *o = json_pack("{s:s,s:O,s:o,s:s,s:I}", "name", ri.name, "eventPattern", ri.pattern, "targets", targets,
                              "state", ri.enabled ? "ENABLED" : "DISABLED", "matched", (json_int_t)ri.matched);
        if (ri.description) json_object_set_new(o, "description", json_string(ri.description));
        json_array_append_new(arr, o);
    }
    http_reply_json(r, 200, json_pack("{s:o}", "rules", arr));
    return 0;
}
