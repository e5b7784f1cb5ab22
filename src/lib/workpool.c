/* workpool.c - see workpool.h. */
#include "lib/workpool.h"
#include <pthread.h>
#include <stdlib.h>
#include "lib/err.h"

struct job {
    struct job *next;
    workpool_fn fn;
    void *arg;
};

struct workpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    int queued, queue_max, stop, nthreads;
    pthread_t *threads;
};

static void *worker(void *arg)
{
    workpool *wp = arg;
    pthread_mutex_lock(&wp->mu);
    for (;;) {
        while (!wp->head && !wp->stop) pthread_cond_wait(&wp->cv, &wp->mu);
        struct job *j = wp->head;
        if (!j) break; /* stopping, nothing left */
        wp->head = j->next;
        if (!wp->head) wp->tail = NULL;
        wp->queued--;
        pthread_mutex_unlock(&wp->mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&wp->mu);
    }
    pthread_mutex_unlock(&wp->mu);
    return NULL;
}

int workpool_new(int threads, int queue_max, workpool **out)
{
    workpool *wp = calloc(1, sizeof *wp);
    if (!wp) return ORD_ENOMEM;
    wp->queue_max = queue_max;
    pthread_mutex_init(&wp->mu, NULL);
    pthread_cond_init(&wp->cv, NULL);
    if (!(wp->threads = calloc((size_t)threads, sizeof *wp->threads))) {
        workpool_free(wp);
        return ORD_ENOMEM;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&wp->threads[i], NULL, worker, wp)) {
            workpool_free(wp);
            return ORD_EINTERNAL;
        }
        wp->nthreads++;
    }
    *out = wp;
    return 0;
}

void workpool_free(workpool *wp)
{
    if (!wp) return;
    pthread_mutex_lock(&wp->mu);
    wp->stop = 1;
    pthread_cond_broadcast(&wp->cv);
    pthread_mutex_unlock(&wp->mu);
    for (int i = 0; i < wp->nthreads; i++) pthread_join(wp->threads[i], NULL);
    free(wp->threads);
    pthread_mutex_destroy(&wp->mu);
    pthread_cond_destroy(&wp->cv);
    free(wp);
}

int workpool_submit(workpool *wp, workpool_fn fn, void *arg)
{
    struct job *j = malloc(sizeof *j);
    if (!j) return ORD_ENOMEM;
    *j = (struct job){NULL, fn, arg};
    pthread_mutex_lock(&wp->mu);
    int rc = wp->stop ? ORD_ESHUTDOWN : wp->queued >= wp->queue_max ? ORD_EBUSY : 0;
    if (!rc) {
        if (wp->tail)
            wp->tail->next = j;
        else
            wp->head = j;
        wp->tail = j;
        wp->queued++;
        pthread_cond_signal(&wp->cv);
    }
    pthread_mutex_unlock(&wp->mu);
    if (rc) free(j);
    return rc;
}
