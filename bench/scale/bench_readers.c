/* bench_readers.c: status lookups from several threads on ONE store handle, as `ztca serve`
 * makes them, without a read pool (every lookup on the handle's one connection, under its
 * mutex: the peer) and with one (store_options.readers = threads), in the same run, on a store
 * bench/scale loaded. Usage:
 *   bench_readers --url URL --serials FILE [--threads T] [--secs S] [--cold FILE]
 * Each mode: T threads (default 8) look up random serials of FILE (one hex serial a line, as
 * bench_store --sample-out writes) for S seconds (default 10) with store_cert_status_get.
 * --cold FILE drops FILE (the SQLite store) from the kernel's page cache before each mode and
 * every 0.5 s during it, so lookups wait for the disk. Prints per mode lookups/s and the
 * p50/p99/p99.9 latency of one lookup, then the ratios (pool / no pool), and
 * `RESULT readers_<figure> value` lines. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define BENCH_MAX_THREADS 64
#define BENCH_MAX_SAMPLES ((size_t)4 * 1000 * 1000) /* latencies kept per thread */

typedef struct bench_run {
    store *s;
    char (*serials)[STORE_SERIAL_MAX + 1]; /* borrowed */
    size_t num_serials;
    atomic_bool stop;
    atomic_ulong errors;
} bench_run;

typedef struct bench_worker {
    bench_run *run;
    uint64_t rng;
    uint32_t *lat_ns; /* owned */
    size_t num;
} bench_worker;

static uint64_t
bench_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *
bench_worker_main(void *arg)
{
    bench_worker *w = arg;
    bench_run *r = w->run;
    while (!atomic_load(&r->stop) && w->num < BENCH_MAX_SAMPLES) {
        w->rng ^= w->rng >> 12;
        w->rng ^= w->rng << 25;
        w->rng ^= w->rng >> 27;
        size_t i = (size_t)((w->rng * 0x2545f4914f6cdd1dULL) >> 11) % r->num_serials;
        store_cert_state st;
        uint64_t t0 = bench_ns();
        ztca_rc rc = store_cert_status_get(r->s, r->serials[i], &st);
        uint64_t dt = bench_ns() - t0;
        if (!ZTCA_IS_OK(rc)) {
            atomic_fetch_add(&r->errors, 1);
        }
        w->lat_ns[w->num++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
    }
    return NULL;
}

static int
bench_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void
bench_evict(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

typedef struct bench_result {
    double per_s, p50_ms, p99_ms, p999_ms;
    unsigned long errors;
} bench_result;

static int
bench_mode(const char *url, int readers, int threads, int secs, const char *cold,
           char (*serials)[STORE_SERIAL_MAX + 1], size_t num_serials, bench_result *out)
{
    store_options o = { .readers = readers };
    bench_run r = { .serials = serials, .num_serials = num_serials };
    atomic_init(&r.stop, false);
    atomic_init(&r.errors, 0);
    if (!ZTCA_IS_OK(store_open_ex(&r.s, url, &o))) {
        fprintf(stderr, "bench_readers: cannot open %s\n", url);
        return 1;
    }
    bench_worker w[BENCH_MAX_THREADS];
    pthread_t th[BENCH_MAX_THREADS];
    memset(w, 0, sizeof(w));
    if (cold != NULL) {
        bench_evict(cold);
    }
    uint64_t t0 = bench_ns();
    for (int i = 0; i < threads; i++) {
        w[i].run = &r;
        w[i].rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        w[i].lat_ns = malloc(BENCH_MAX_SAMPLES * sizeof(uint32_t));
        if (w[i].lat_ns == NULL || pthread_create(&th[i], NULL, bench_worker_main, &w[i]) != 0) {
            fprintf(stderr, "bench_readers: cannot start a thread\n");
            exit(1);
        }
    }
    for (int half = 0; half < 2 * secs; half++) {
        usleep(500 * 1000);
        if (cold != NULL) {
            bench_evict(cold);
        }
    }
    atomic_store(&r.stop, true);
    size_t total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += w[i].num;
    }
    double elapsed = (double)(bench_ns() - t0) / 1e9;
    uint32_t *all = malloc((total > 0 ? total : 1) * sizeof(uint32_t));
    if (all == NULL) {
        exit(1);
    }
    size_t n = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + n, w[i].lat_ns, w[i].num * sizeof(uint32_t));
        n += w[i].num;
        free(w[i].lat_ns);
    }
    qsort(all, n, sizeof(uint32_t), bench_cmp_u32);
    out->per_s = (double)n / elapsed;
    out->p50_ms = n > 0 ? all[n / 2] / 1e6 : 0;
    out->p99_ms = n > 0 ? all[n * 99 / 100] / 1e6 : 0;
    out->p999_ms = n > 0 ? all[n * 999 / 1000] / 1e6 : 0;
    out->errors = atomic_load(&r.errors);
    free(all);
    store_close(r.s);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *url = NULL, *file = NULL, *cold = NULL;
    int threads = 8, secs = 10;
    static const struct option opts[] = {
        { "url", required_argument, NULL, 'u' },     { "serials", required_argument, NULL, 'f' },
        { "threads", required_argument, NULL, 't' }, { "secs", required_argument, NULL, 's' },
        { "cold", required_argument, NULL, 'c' },    { NULL, 0, NULL, 0 }
    };
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 's':
            secs = atoi(optarg);
            break;
        case 'c':
            cold = optarg;
            break;
        default:
            return 2;
        }
    }
    if (url == NULL || file == NULL || threads < 1 || threads > BENCH_MAX_THREADS || secs < 1) {
        fprintf(stderr, "usage: bench_readers --url URL --serials FILE [--threads 1-64] "
                        "[--secs S] [--cold FILE]\n");
        return 2;
    }
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return 1;
    }
    size_t cap = 1024, num = 0;
    char(*serials)[STORE_SERIAL_MAX + 1] = malloc(cap * sizeof(*serials));
    char line[128];
    while (serials != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!store_serial_is_valid(line)) {
            continue;
        }
        if (num == cap) {
            cap *= 2;
            void *g = realloc(serials, cap * sizeof(*serials));
            if (g == NULL) {
                return 1;
            }
            serials = g;
        }
        memcpy(serials[num++], line, strlen(line) + 1); /* valid: at most 40 digits */
    }
    fclose(f);
    if (serials == NULL || num == 0) {
        fprintf(stderr, "bench_readers: no serials in %s\n", file);
        return 1;
    }
    bench_result res[2];
    for (int m = 0; m < 2; m++) {
        if (bench_mode(url, m == 0 ? 0 : threads, threads, secs, cold, serials, num, &res[m])
            != 0) {
            return 1;
        }
        printf("%-13s threads %d: %9.0f lookups/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  "
               "errors %lu\n",
               m == 0 ? "one conn" : "read pool", threads, res[m].per_s, res[m].p50_ms,
               res[m].p99_ms, res[m].p999_ms, res[m].errors);
    }
    printf("ratio pool/one conn: lookups/s %.2f  p99 %.2f  p99.9 %.2f\n",
           res[1].per_s / res[0].per_s, res[1].p99_ms / res[0].p99_ms,
           res[1].p999_ms / res[0].p999_ms);
    static const char *const names[2] = { "one", "pool" };
    for (int m = 0; m < 2; m++) {
        printf("RESULT readers_%s_per_s %.0f\nRESULT readers_%s_p99_ms %.3f\n"
               "RESULT readers_%s_p999_ms %.3f\n",
               names[m], res[m].per_s, names[m], res[m].p99_ms, names[m], res[m].p999_ms);
    }
    free(serials);
    return res[0].errors + res[1].errors == 0 ? 0 : 1;
}
