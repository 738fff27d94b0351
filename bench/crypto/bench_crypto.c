/* bench_crypto: signatures and verifications per second of each signing backend (ca_signer_sign,
 * ca_verify_with) for ECDSA P-256 and P-384, beside `openssl speed ecdsap256 ecdsap384` run in
 * the same process lifetime, with the ratios (docs/performance.md "Signing backends").
 *
 * usage: bench_crypto [SECONDS [RUNS [SPEED_SECONDS]]]   (defaults 2, 3, 3)
 *   Each figure is measured RUNS times for SECONDS, interleaved across backends so a noisy
 *   neighbour hits all of them alike, and the median is printed. One-thread figures are per
 *   second of the thread's CPU time, as `openssl speed` counts (its user time unless -elapsed), so
 *   other load on the machine does not skew the ratios; "sign x2" is two threads sharing one
 *   signer, per second of wall time (what a server on 2 cores gets). "verify" is the whole
 *   ca_verify_with call (the SubjectPublicKeyInfo parsed every time, as for a CSR); openssl speed
 *   verifies with a key loaded once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"

#define BENCH_MAX_RUNS 15

enum { BENCH_SIGN, BENCH_VERIFY, BENCH_SIGN2, BENCH_NUM_OPS };
static const char *const bench_op_names[BENCH_NUM_OPS] = { "sign", "verify", "sign x2" };

static double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bench_job {
    ca_signer *signer;
    ca_crypto_backend backend;
    int op;
    double seconds;
    long count;
    double cpu; /* seconds of this thread's CPU time */
    bool failed;
} bench_job;

static double
bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
bench_loop(void *arg)
{
    bench_job *j = arg;
    ca_md md = ca_signer_md(j->signer);
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(j->signer, &spki_len);
    uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
    size_t sig_len = 0;
    if (!ZTCA_IS_OK(ca_hash(md, (const uint8_t *)"bench", 5, hash, sizeof(hash)))
        || !ZTCA_IS_OK(
            ca_signer_sign(j->signer, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len))) {
        j->failed = true;
        return NULL;
    }
    double end = bench_now() + j->seconds;
    double cpu0 = bench_cpu_now();
    long n = 0;
    do {
        for (int i = 0; i < 8; i++, n++) {
            ztca_rc rc = j->op == BENCH_VERIFY
                             ? ca_verify_with(j->backend, spki, spki_len, CA_SIG_ECDSA, md, hash,
                                              ca_md_size(md), sig, sig_len)
                             : ca_signer_sign(j->signer, md, hash, ca_md_size(md), sig, sizeof(sig),
                                              &sig_len);
            if (!ZTCA_IS_OK(rc)) {
                j->failed = true;
                return NULL;
            }
        }
    } while (bench_now() < end);
    j->count = n;
    j->cpu = bench_cpu_now() - cpu0;
    return NULL;
}

/* Operations per second of `op` on `signer`: per CPU second with one thread, per wall second
 * for both threads together (BENCH_SIGN2). */
static double
bench_rate(ca_signer *signer, ca_crypto_backend backend, int op, double seconds)
{
    int threads = op == BENCH_SIGN2 ? 2 : 1;
    bench_job jobs[2];
    pthread_t th[2];
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (bench_job){ signer, backend, op, seconds, 0, 0, false };
        if (pthread_create(&th[i], NULL, bench_loop, &jobs[i]) != 0) {
            fprintf(stderr, "bench_crypto: pthread_create failed\n");
            exit(1);
        }
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].failed) {
            fprintf(stderr, "bench_crypto: %s failed on %s: %s\n", bench_op_names[op],
                    ca_crypto_backend_name(backend), ztca_last_what());
            exit(1);
        }
        total += jobs[i].count;
    }
    if (threads == 1) {
        return (double)total / jobs[0].cpu;
    }
    return (double)total / (bench_now() - t0);
}

static int
bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), bench_cmp);
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* `openssl speed -seconds S ecdsap256 ecdsap384`: sign/s and verify/s per curve, 0 if absent.
 * Its summary lines read " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  32594.2  12601.7". */
static void
bench_openssl_speed(int seconds, double out[2][2])
{
    char cmd[128];
    char line[512];
    memset(out, 0, sizeof(double) * 4);
    snprintf(cmd, sizeof(cmd), "openssl speed -seconds %d ecdsap256 ecdsap384 2>/dev/null",
             seconds);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), p) != NULL) {
        int c = strstr(line, "ecdsa (nistp256)") != NULL   ? 0
                : strstr(line, "ecdsa (nistp384)") != NULL ? 1
                                                           : -1;
        const char *rest = c >= 0 ? strchr(line, ')') : NULL;
        double ts = 0, tv = 0, s = 0, v = 0;
        if (rest != NULL && sscanf(rest + 1, " %lfs %lfs %lf %lf", &ts, &tv, &s, &v) == 4) {
            out[c][0] = s;
            out[c][1] = v;
        }
    }
    pclose(p);
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    int speed_seconds = argc > 3 ? atoi(argv[3]) : 3;
    if (seconds <= 0 || runs < 1 || runs > BENCH_MAX_RUNS || speed_seconds < 1) {
        fprintf(stderr, "usage: bench_crypto [SECONDS [RUNS (1-%d) [SPEED_SECONDS]]]\n",
                BENCH_MAX_RUNS);
        return 2;
    }
    static const ca_crypto_backend backends[] = { CA_CRYPTO_MBEDTLS, CA_CRYPTO_OPENSSL };
    static const ca_key_type types[] = { CA_KEY_P256, CA_KEY_P384 };
    ca_rng *rng = NULL;
    ca_signer *signers[2][2] = { { NULL } }; /* [curve][backend] */
    double samples[2][2][BENCH_NUM_OPS][BENCH_MAX_RUNS];
    if (!ZTCA_IS_OK(ca_rng_new(&rng))) {
        fprintf(stderr, "bench_crypto: no DRBG\n");
        return 1;
    }
    int num_backends = ca_crypto_backend_is_available(CA_CRYPTO_OPENSSL) ? 2 : 1;
    for (int c = 0; c < 2; c++) {
        for (int b = 0; b < num_backends; b++) {
            ca_key *key = NULL;
            if (!ZTCA_IS_OK(ca_key_generate(&key, rng, types[c]))
                || !ZTCA_IS_OK(ca_signer_new_with(&signers[c][b], key, rng, backends[b]))) {
                fprintf(stderr, "bench_crypto: signer: %s\n", ztca_last_what());
                return 1;
            }
        }
    }
    for (int r = 0; r < runs; r++) {
        for (int c = 0; c < 2; c++) {
            for (int op = 0; op < BENCH_NUM_OPS; op++) {
                for (int b = 0; b < num_backends; b++) {
                    samples[c][b][op][r] = bench_rate(signers[c][b], backends[b], op, seconds);
                }
            }
        }
    }
    double speed[2][2];
    bench_openssl_speed(speed_seconds, speed);

    printf("%d runs of %.1f s per figure (medians); one thread: per CPU second; sign x2: two "
           "threads, one signer, per wall second; openssl speed -seconds %d\n",
           runs, seconds, speed_seconds);
    printf("| curve | operation | mbedtls /s | openssl backend /s | openssl speed /s "
           "| openssl / mbedtls | openssl backend / openssl speed |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int c = 0; c < 2; c++) {
        for (int op = 0; op < BENCH_NUM_OPS; op++) {
            double m = bench_median(samples[c][0][op], runs);
            double o = num_backends > 1 ? bench_median(samples[c][1][op], runs) : 0;
            double peer = op == BENCH_SIGN2 ? 0 : speed[c][op == BENCH_VERIFY ? 1 : 0];
            printf("| %s | %s | %.0f | ", c == 0 ? "P-256" : "P-384", bench_op_names[op], m);
            if (o > 0) {
                printf("%.0f | ", o);
            } else {
                printf("- | ");
            }
            if (peer > 0) {
                printf("%.0f | ", peer);
            } else {
                printf("- | ");
            }
            if (o > 0) {
                printf("%.1fx | ", o / m);
            } else {
                printf("- | ");
            }
            if (o > 0 && peer > 0) {
                printf("%.2f |\n", o / peer);
            } else {
                printf("- |\n");
            }
        }
    }
    /* The same figures for bench/run: RESULT crypto_<curve>_<op>_<mbedtls|openssl|speed>. */
    static const char *const backend_keys[] = { "mbedtls", "openssl" };
    for (int c = 0; c < 2; c++) {
        for (int op = 0; op < BENCH_NUM_OPS; op++) {
            const char *curve = c == 0 ? "p256" : "p384";
            const char *name = op == BENCH_SIGN2 ? "sign2" : bench_op_names[op];
            for (int b = 0; b < num_backends; b++) {
                printf("RESULT crypto_%s_%s_%s %.0f\n", curve, name, backend_keys[b],
                       bench_median(samples[c][b][op], runs));
            }
            if (op != BENCH_SIGN2) {
                printf("RESULT crypto_%s_%s_speed %.0f\n", curve, name,
                       speed[c][op == BENCH_VERIFY ? 1 : 0]);
            }
        }
    }
    for (int c = 0; c < 2; c++) {
        for (int b = 0; b < num_backends; b++) {
            ca_signer_free(signers[c][b]);
        }
    }
    ca_rng_free(rng);
    return 0;
}
