/* bench_store.c: inserts/s and lookups/s by serial of one store backend at a given size
 * (docs/performance.md). Usage:
 *   bench_store --url URL [--count N] [--issues K] [--lookups M] [--batch B] [--header]
 *               [--sorted] [--load-only] [--sample N --sample-out FILE]
 * The store holds no certificates yet (a CA's own audit entries are fine). Steps, each timed:
 *   1. bulk load N certificates (700-byte bodies, one audit entry each) with
 *      store_cert_insert_batch in transactions of B; with --sorted the serials are generated in
 *      ascending order (still 16 random-looking octets, spread over the whole range) and five
 *      consecutive ones share a device, as an import of a sorted dump would insert them;
 *   2. K issuances as ztca issues them: store_cert_insert, one durable transaction each
 *      (row + body + audit entry);
 *   3. M status reads of random known serials (store_cert_status_get, the OCSP path), M/10 of
 *      unknown serials, and M/10 listings by device;
 *   4. a full audit chain verification.
 * Prints one table row (--header prints the header first), then `RESULT store_<backend>_<figure>
 * value` lines for bench/run, with the p99 of one status read (the OCSP path's store access).
 * --load-only runs steps 1 and 4 and prints "loaded N certs/s verify N entries/s"; --sample-out
 * writes N random loaded serials, one a line, for the OCSP load of bench/scale. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"

#define BENCH_DER_LEN 700 /* a ztca P-256 agent certificate is 650-750 bytes */

static uint64_t bench_rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: fast and good enough to spread keys; not for anything secret. */
static uint64_t
bench_rand(void)
{
    bench_rng_state ^= bench_rng_state >> 12;
    bench_rng_state ^= bench_rng_state << 25;
    bench_rng_state ^= bench_rng_state >> 27;
    return bench_rng_state * 0x2545f4914f6cdd1dULL;
}

static double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A ztca-like serial: 16 octets, positive (top bit clear), lowercase hex. The first octet is
 * 01-7f, so the DER INTEGER of every serial is 16 octets long (bench/scale patches them into one
 * request template). */
static void
bench_serial(char out[33])
{
    uint64_t a = bench_rand() % 0x7f00000000000000ULL + 0x0100000000000000ULL, b = bench_rand();
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* bench_serial_sorted: the i-th of n serials in ascending order: the high half steps evenly
 * through 01.. to 7f.. with a random offset inside each step, the low half is random. */
static void
bench_serial_sorted(char out[33], long i, long n)
{
    uint64_t step = 0x7f00000000000000ULL / (uint64_t)n;
    uint64_t a = 0x0100000000000000ULL + (uint64_t)i * step + bench_rand() % step;
    uint64_t b = bench_rand();
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static int
bench_fail(const char *what, ztca_rc rc, store *s)
{
    fprintf(stderr, "bench_store: %s: %s (%s) %s\n", what, ztca_last_what(), ztca_err_name(rc.err),
            s != NULL ? store_errmsg(s) : "");
    return 1;
}

static ztca_rc
bench_count_cb(void *ctx, const store_cert *c)
{
    (void)c;
    (*(size_t *)ctx)++;
    return ZTCA_RC_OK;
}

static int
bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "url", required_argument, NULL, 'u' },
        { "count", required_argument, NULL, 'n' },
        { "issues", required_argument, NULL, 'i' },
        { "lookups", required_argument, NULL, 'l' },
        { "batch", required_argument, NULL, 'b' },
        { "header", no_argument, NULL, 'H' },
        { "sorted", no_argument, NULL, 's' },
        { "load-only", no_argument, NULL, 'L' },
        { "sample", required_argument, NULL, 'S' },
        { "sample-out", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 },
    };
    const char *url = NULL, *sample_out = NULL;
    long count = 1000000, issues = 2000, lookups = 200000, batch = 10000, sample = 0;
    bool header = false, sorted = false, load_only = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 'n':
            count = atol(optarg);
            break;
        case 'i':
            issues = atol(optarg);
            break;
        case 'l':
            lookups = atol(optarg);
            break;
        case 'b':
            batch = atol(optarg);
            break;
        case 'H':
            header = true;
            break;
        case 's':
            sorted = true;
            break;
        case 'L':
            load_only = true;
            break;
        case 'S':
            sample = atol(optarg);
            break;
        case 'o':
            sample_out = optarg;
            break;
        default:
            fprintf(stderr, "usage: bench_store --url URL [--count N] [--issues K] "
                            "[--lookups M] [--batch B] [--header] [--sorted] [--load-only] "
                            "[--sample N --sample-out FILE]\n");
            return 2;
        }
    }
    if (url == NULL || count < 1 || issues < 1 || lookups < 10 || batch < 1 || batch > 100000
        || sample < 0 || (sample > 0) != (sample_out != NULL)) {
        fprintf(stderr, "bench_store: --url is required; counts must be positive\n");
        return 2;
    }
    bench_rng_state ^= (uint64_t)time(NULL);

    store *s = NULL;
    ztca_rc rc = store_open(&s, url);
    if (!ZTCA_IS_OK(rc)) {
        return bench_fail("open", rc, NULL);
    }
    int64_t head = 0;
    uint8_t hash[STORE_HASH_LEN];
    size_t existing = 0;
    rc = store_audit_head(s, &head, hash);
    if (ZTCA_IS_OK(rc)) {
        rc = store_cert_list(s, NULL, 1, bench_count_cb, &existing);
    }
    if (!ZTCA_IS_OK(rc) || existing != 0) {
        fprintf(stderr, "bench_store: the store must hold no certificates\n");
        store_close(s);
        return 1;
    }
    size_t total = (size_t)count + (size_t)issues;
    char(*serials)[33] = calloc(total, sizeof(*serials));
    store_cert *certs = calloc((size_t)batch, sizeof(*certs));
    store_audit_event *evs = calloc((size_t)batch, sizeof(*evs));
    uint8_t *der = malloc(BENCH_DER_LEN);
    double *took = calloc((size_t)lookups, sizeof(double)); /* each status read, seconds */
    if (serials == NULL || certs == NULL || evs == NULL || der == NULL || took == NULL) {
        fprintf(stderr, "bench_store: out of memory\n");
        free(serials);
        free(certs);
        free(evs);
        free(der);
        free(took);
        store_close(s);
        return 1;
    }
    for (size_t i = 0; i < BENCH_DER_LEN; i++) {
        der[i] = (uint8_t)bench_rand();
    }
    long devices = count / 5 > 0 ? count / 5 : 1; /* five certificates per device */
    ztca_time now = ztca_now();
    int status = 1;

    /* 1. bulk load */
    double t0 = bench_now();
    for (long done = 0; done < count;) {
        long n = count - done < batch ? count - done : batch;
        for (long k = 0; k < n; k++) {
            long i = done + k;
            store_cert *ct = &certs[k];
            store_cert_init(ct);
            if (sorted) {
                bench_serial_sorted(serials[i], i, count);
            } else {
                bench_serial(serials[i]);
            }
            memcpy(ct->serial, serials[i], 33);
            snprintf(ct->device_id, sizeof(ct->device_id), "dev-%08ld",
                     sorted ? i / 5 : i % devices);
            snprintf(ct->user, sizeof(ct->user), "user%ld", (i / 7) % 5000);
            snprintf(ct->profile, sizeof(ct->profile), "agent");
            ct->not_before = now - 60;
            ct->not_after = now + 8LL * 3600;
            ct->der = der;
            ct->der_len = BENCH_DER_LEN;
            evs[k] = (store_audit_event){ "bench", "cert.issue", serials[i], "{\"bench\":1}", 0 };
        }
        rc = store_cert_insert_batch(s, certs, evs, (size_t)n);
        if (!ZTCA_IS_OK(rc)) {
            status = bench_fail("bulk load", rc, s);
            goto out;
        }
        done += n;
    }
    double load_s = bench_now() - t0;
    if (sample_out != NULL) {
        FILE *f = fopen(sample_out, "w");
        if (f == NULL) {
            fprintf(stderr, "bench_store: cannot write %s\n", sample_out);
            goto out;
        }
        for (long k = 0; k < sample; k++) {
            fprintf(f, "%s\n", serials[bench_rand() % (uint64_t)count]);
        }
        if (fclose(f) != 0) {
            fprintf(stderr, "bench_store: cannot write %s\n", sample_out);
            goto out;
        }
    }
    if (load_only) {
        store_audit_report rep;
        t0 = bench_now();
        rc = store_audit_verify(s, &rep);
        double verify_s = bench_now() - t0;
        if (!ZTCA_IS_OK(rc) || !rep.intact || rep.count != head + count) {
            fprintf(stderr, "bench_store: audit verify failed\n");
            goto out;
        }
        printf("loaded %ld certs/s %.0f verify %lld entries/s %.0f\n", count,
               (double)count / load_s, (long long)rep.count, (double)rep.count / verify_s);
        status = 0;
        goto out;
    }

    /* 2. issuance, one durable transaction each */
    t0 = bench_now();
    for (long k = 0; k < issues; k++) {
        long i = count + k;
        store_cert ct;
        store_cert_init(&ct);
        bench_serial(serials[i]);
        memcpy(ct.serial, serials[i], 33);
        snprintf(ct.device_id, sizeof(ct.device_id), "dev-%08ld", i % devices);
        snprintf(ct.profile, sizeof(ct.profile), "agent");
        ct.not_before = now - 60;
        ct.not_after = now + 8LL * 3600;
        ct.der = der;
        ct.der_len = BENCH_DER_LEN;
        store_audit_event ev = { "bench", "cert.issue", serials[i], "{\"bench\":2}", 0 };
        rc = store_cert_insert(s, &ct, &ev);
        if (!ZTCA_IS_OK(rc)) {
            status = bench_fail("issue", rc, s);
            goto out;
        }
    }
    double issue_s = bench_now() - t0;

    /* 3. lookups */
    store_cert_state st;
    t0 = bench_now();
    for (long k = 0; k < lookups; k++) {
        double t1 = bench_now();
        rc = store_cert_status_get(s, serials[bench_rand() % total], &st);
        took[k] = bench_now() - t1;
        if (!ZTCA_IS_OK(rc)) {
            status = bench_fail("lookup", rc, s);
            goto out;
        }
    }
    double lookup_s = bench_now() - t0;
    long unknown = lookups / 10;
    t0 = bench_now();
    for (long k = 0; k < unknown; k++) {
        char serial[33];
        bench_serial(serial);
        rc = store_cert_status_get(s, serial, &st);
        if (rc.err != ZTCA_ERR_NOT_FOUND) {
            status = bench_fail("unknown lookup", rc, s);
            goto out;
        }
    }
    double unknown_s = bench_now() - t0;
    size_t listed = 0;
    t0 = bench_now();
    for (long k = 0; k < unknown; k++) {
        char dev[32];
        snprintf(dev, sizeof(dev), "dev-%08ld", (long)(bench_rand() % (uint64_t)devices));
        rc = store_cert_list_by_device(s, dev, bench_count_cb, &listed);
        if (!ZTCA_IS_OK(rc)) {
            status = bench_fail("device listing", rc, s);
            goto out;
        }
    }
    double device_s = bench_now() - t0;

    /* 4. the whole audit chain */
    store_audit_report rep;
    t0 = bench_now();
    rc = store_audit_verify(s, &rep);
    double verify_s = bench_now() - t0;
    if (!ZTCA_IS_OK(rc) || !rep.intact || rep.count != head + (int64_t)total) {
        fprintf(stderr, "bench_store: audit verify failed\n");
        goto out;
    }

    if (header) {
        printf("| backend | certificates | bulk load (certs/s) | issue (inserts/s, 1 txn each) | "
               "status by serial (lookups/s) | unknown serial (lookups/s) | by device "
               "(lookups/s) | audit verify (entries/s) |\n");
        printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    }
    printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
           store_get_backend(s) == STORE_BACKEND_SQLITE ? "SQLite" : "PostgreSQL", total,
           (double)count / load_s, (double)issues / issue_s, (double)lookups / lookup_s,
           (double)unknown / unknown_s, (double)unknown / device_s, (double)rep.count / verify_s);
    qsort(took, (size_t)lookups, sizeof(double), bench_cmp_double);
    const char *key = store_get_backend(s) == STORE_BACKEND_SQLITE ? "sqlite" : "pg";
    printf("RESULT store_%s_certs %zu\nRESULT store_%s_bulk_per_s %.0f\n", key, total, key,
           (double)count / load_s);
    printf("RESULT store_%s_issue_per_s %.0f\nRESULT store_%s_status_per_s %.0f\n", key,
           (double)issues / issue_s, key, (double)lookups / lookup_s);
    printf("RESULT store_%s_status_p50_ms %.4f\nRESULT store_%s_status_p99_ms %.4f\n", key,
           took[lookups / 2] * 1e3, key, took[lookups * 99 / 100] * 1e3);
    fflush(stdout);
    status = 0;
out:
    store_close(s);
    free(took);
    free(serials);
    free(certs);
    free(evs);
    free(der);
    return status;
}
