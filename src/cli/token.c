/* token.c - see token.h. */
#include "cli/token.h"
#include "lib/str.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_token_path(char *out, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int k;
    if (xdg && *xdg)
        k = snprintf(out, n, "%s/orderly/credentials", xdg);
    else if (home && *home)
        k = snprintf(out, n, "%s/.config/orderly/credentials", home);
    else
        return -1;
    return k > 0 && (size_t)k < n ? 0 : -1;
}

int cli_token_get(char access[CLI_TOKEN_MAX + 1], char refresh[CLI_TOKEN_MAX + 1])
{
    const char *env = getenv("ORDERLY_TOKEN");
    if (refresh) refresh[0] = 0;
    if (env && *env) {
        str_copy(access, CLI_TOKEN_MAX + 1, env);
        return 0;
    }
    char path[1024];
    if (cli_token_path(path, sizeof path)) return -1;
    json_t *j = json_load_file(path, 0, NULL);
    const char *a = json_string_value(json_object_get(j, "accessToken"));
    const char *r = json_string_value(json_object_get(j, "refreshToken"));
    int rc = a && strlen(a) <= CLI_TOKEN_MAX ? 0 : -1;
    if (!rc) str_copy(access, CLI_TOKEN_MAX + 1, a);
    if (!rc && refresh && r && strlen(r) <= CLI_TOKEN_MAX) str_copy(refresh, CLI_TOKEN_MAX + 1, r);
    json_decref(j);
    return rc;
}

/* mkdir -p of path's directory, mode 0700. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int bad = mkdir(path, 0700) && errno != EEXIST;
        *p = '/';
        if (bad) return -1;
    }
    return 0;
}

int cli_token_save(const char *url, const char *access, const char *refresh)
{
    char path[1024], tmp[1100];
    if (cli_token_path(path, sizeof path) || make_dirs(path)) return -1;
    json_t *j = json_pack("{s:s,s:s,s:s}", "url", url, "accessToken", access, "refreshToken", refresh ? refresh : "");
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text) return -1;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    size_t n = strlen(text);
    int rc = fd >= 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0) close(fd);
    free(text);
    if (!rc) rc = rename(tmp, path);
    if (rc) unlink(tmp);
    return rc;
}

int cli_token_forget(void)
{
    char path[1024];
    if (cli_token_path(path, sizeof path)) return -1;
    return unlink(path) && errno != ENOENT ? -1 : 0;
}
