/* loadgen.c - HTTP POST load at a fixed rate (or as fast as possible) over
 * keep-alive connections, for the order benchmarks (wrk cannot pace).
 *
 *   loadgen --url http://127.0.0.1:8080/api/orders --body FILE|--body-json TEXT
 *           [--rate N/s (0 = max)] [--duration S] [--connections C]
 *
 * One thread, epoll, one request in flight per connection.  Requests are
 * scheduled at start + i/rate; latency is measured from the scheduled time
 * (so queueing behind a slow server counts: no coordinated omission).
 * Prints sent, 2xx, non-2xx, errors, achieved rate, p50/p90/p99/max (ms).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 1024

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct conn {
    int fd;
    int busy;
    int64_t sched_us;
    char in[8192];
    size_t inlen;
} conn;

static char req[70000];
static size_t reqlen;
static struct sockaddr_in addr;
static int64_t *lat;
static size_t nlat, caplat;
static long ok, bad, errs;

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Returns 1 when a whole response is in c->in (Content-Length framing). */
static int response_done(conn *c, int *status)
{
    c->in[c->inlen < sizeof c->in ? c->inlen : sizeof c->in - 1] = 0;
    char *hdr_end = strstr(c->in, "\r\n\r\n");
    if (!hdr_end) return 0;
    char *cl = strcasestr(c->in, "content-length:");
    size_t body = cl && cl < hdr_end ? (size_t)atol(cl + 15) : 0;
    if (c->inlen < (size_t)(hdr_end + 4 - c->in) + body) return 0;
    *status = atoi(c->in + 9);
    return 1;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *body = NULL;
    double rate = 0, duration = 10;
    int nconn = 32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc) url = argv[++i];
        else if (!strcmp(argv[i], "--body-json") && i + 1 < argc) body = argv[++i];
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc) duration = atof(argv[++i]);
        else if (!strcmp(argv[i], "--connections") && i + 1 < argc) nconn = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: loadgen --url http://HOST:PORT/PATH --body-json JSON [--rate N] [--duration S] [--connections C]\n");
            return 2;
        }
    }
    if (!url || !body || nconn < 1 || nconn > MAXC) return 2;
    char host[64] = "127.0.0.1", path[512] = "/";
    int port = 80;
    if (sscanf(url, "http://%63[^:/]:%d%511s", host, &port, path) < 2) return 2;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    reqlen = (size_t)snprintf(req, sizeof req,
                              "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\n\r\n%s",
                              path, host, port, strlen(body), body);
    caplat = (size_t)(rate > 0 ? rate * duration * 1.2 + 1000 : 4000000);
    lat = malloc(caplat * sizeof *lat);
    int ep = epoll_create1(0);
    static conn cs[MAXC];
    for (int i = 0; i < nconn; i++) {
        cs[i].fd = dial();
        if (cs[i].fd < 0) {
            perror("connect");
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    int64_t start = now_us(), end = start + (int64_t)(duration * 1e6);
    long sent = 0;
    int idle_from = 0;
    for (;;) {
        int64_t t = now_us();
        if (t >= end) break;
        /* send what is due on idle connections */
        for (int k = 0; k < nconn; k++) {
            int i = (idle_from + k) % nconn;
            if (cs[i].busy) continue;
            int64_t due = rate > 0 ? start + (int64_t)((double)sent * 1e6 / rate) : t;
            if (due > t) break;
            if (write(cs[i].fd, req, reqlen) != (ssize_t)reqlen) {
                errs++;
                continue;
            }
            cs[i].busy = 1;
            cs[i].sched_us = due;
            cs[i].inlen = 0;
            sent++;
            idle_from = i + 1;
        }
        int timeout_ms = 1;
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, timeout_ms);
        for (int e = 0; e < n; e++) {
            conn *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->in + c->inlen, sizeof c->in - 1 - c->inlen);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                errs++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = dial();
                c->busy = 0;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                if (c->fd >= 0) epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                continue;
            }
            c->inlen += (size_t)r;
            int status;
            if (response_done(c, &status)) {
                if (status >= 200 && status < 300)
                    ok++;
                else
                    bad++;
                if (nlat < caplat) lat[nlat++] = now_us() - c->sched_us;
                c->busy = 0;
            }
        }
    }
    double secs = (double)(now_us() - start) / 1e6;
    qsort(lat, nlat, sizeof *lat, cmp64);
#define P(q) (nlat ? (double)lat[(size_t)((double)(nlat - 1) * (q))] / 1000.0 : 0.0)
    printf("sent=%ld ok=%ld non2xx=%ld errors=%ld seconds=%.1f rate=%.0f/s p50=%.2fms p90=%.2fms p99=%.2fms "
           "max=%.2fms\n",
           sent, ok, bad, errs, secs, (double)(ok + bad) / secs, P(0.5), P(0.9), P(0.99), P(1.0));
    return 0;
}
