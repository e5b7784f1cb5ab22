/* err.c - lookups into the error table of err.h. */
#include "lib/err.h"

struct err_row {
    int code;
    const char *name, *msg;
};

static const struct err_row err_rows[] = {
#define X(n, msg) {ORD_E##n, "ORD_E" #n, msg},
    ORD_ERR_MAP(X)
#undef X
};

static const struct err_row *err_find(int code)
{
    if (code <= ORD__BASE || code >= ORD__END) return 0;
    return &err_rows[code - ORD__BASE - 1];
}

const char *err_name(int code)
{
    const struct err_row *r = err_find(code);
    return code == 0 ? "ORD_OK" : r ? r->name : "ORD_EUNKNOWN";
}

const char *err_msg(int code)
{
    const struct err_row *r = err_find(code);
    return code == 0 ? "ok" : r ? r->msg : "unknown error";
}
