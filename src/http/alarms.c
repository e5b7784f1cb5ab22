/* alarms.c - the alarms and their states (obs/alarms).
 *
 *   GET /api/alarms          {"alarms": [...]}: definition, state, stateReason,
 *                            stateReasonData, stateUpdatedTimestamp, lastTransition,
 *                            recentDatapoints
 *   GET /api/alarms/{name}   one of them; 404 when there is none
 */
#include "http/api.h"
#include "lib/err.h"
#include <stdio.h>

int api_alarms_list(http_req *r)
{
    api *a = http_req_app(r);
    json_t *l = a->alarms ? alarms_json(a->alarms, NULL, NULL) : json_array();
    if (!l) return ORD_ENOMEM;
    http_reply_json(r, 200, json_pack("{s:o}", "alarms", l));
    return 0;
}

int api_alarms_get(http_req *r)
{
    api *a = http_req_app(r);
    const char *name = http_req_param(r, "name");
    int found = 0;
    json_t *o = a->alarms ? alarms_json(a->alarms, name, &found) : NULL;
    if (!found) {
        char d[LIMIT_ALARM_NAME_MAX + 40];
        snprintf(d, sizeof d, "no alarm named '%.255s'", name);
        http_reply_problem(r, ORD_ENOTFOUND, d, NULL);
        return 0;
    }
    if (!o) return ORD_ENOMEM;
    http_reply_json(r, 200, o);
    return 0;
}
