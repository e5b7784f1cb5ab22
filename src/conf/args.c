/* args.c - config_from_args: the flags of `orderly serve` (getopt_long),
 * generated from the rows of the key table that have a flag, plus --config,
 * --print-config and --help.  Flag values go to config_load as settings so
 * they take precedence over the file and the environment. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "conf/config.h"
#include "lib/check.h"
#include "lib/err.h"

enum { OPT_HELP = 'h', OPT_CONFIG = 256, OPT_PRINT, OPT_KEY = 512 };
#define OPTS_MAX 32

static int usage(char *err, size_t errlen, const char *cmd, const char *what, const char *arg)
{
    snprintf(err, errlen, "%s: %s \"%s\" (see 'orderly %s --help')", cmd, what, arg, cmd);
    return ORD_EUSAGE;
}

int config_from_args(int argc, char **argv, config **out, char *err, size_t errlen)
{
    CHECK(argc >= 1);
    CHECK(out != NULL);
    *out = NULL;
    size_t nkeys;
    const conf_key *keys = config_keys(&nkeys);
    struct option opts[OPTS_MAX];
    size_t nopts = 0;
    for (size_t i = 0; i < nkeys; i++) {
        if (!keys[i].flag) continue;
        CHECK(nopts < OPTS_MAX - 4);
        opts[nopts++] = (struct option){keys[i].flag, required_argument, NULL, OPT_KEY + (int)i};
    }
    opts[nopts++] = (struct option){"config", required_argument, NULL, OPT_CONFIG};
    opts[nopts++] = (struct option){"print-config", no_argument, NULL, OPT_PRINT};
    opts[nopts++] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[nopts] = (struct option){NULL, 0, NULL, 0};

    /* At most one setting per option occurrence; argc bounds them. */
    config_setting *settings = calloc((size_t)argc, sizeof *settings);
    if (!settings) {
        snprintf(err, errlen, "out of memory");
        return ORD_ENOMEM;
    }
    size_t nsettings = 0;
    const char *file = NULL, *cmd = argv[0];
    bool print = false;
    int rc = 0, c;

    optind = 0; /* glibc: full reinitialisation, so the parse can run again */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            rc = CONFIG_HELP;
            goto out;
        } else if (c == OPT_CONFIG) {
            file = optarg;
        } else if (c == OPT_PRINT) {
            print = true;
        } else if (c >= OPT_KEY && c < OPT_KEY + (int)nkeys) {
            settings[nsettings++] = (config_setting){keys[c - OPT_KEY].path, optarg};
        } else if (c == ':') {
            rc = usage(err, errlen, cmd, "missing value for option", argv[optind - 1]);
            goto out;
        } else {
            rc = usage(err, errlen, cmd, "unknown option", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        rc = usage(err, errlen, cmd, "unexpected argument", argv[optind]);
        goto out;
    }
    if (!file) {
        const char *e = getenv("ORDERLY_CONFIG");
        if (e && *e) file = e;
    }
    rc = config_load(file, settings, nsettings, out, err, errlen);
    if (rc == 0 && print) rc = CONFIG_PRINT;
out:
    free(settings);
    return rc;
}
