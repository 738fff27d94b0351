/* bench_ocsp_sign: the in-process ceilings of a fresh-signed (nonce) OCSP answer on this machine,
 * for bench/ocsp/run.sh, on one signing backend (mbedtls or openssl), each phase for SECONDS:
 *   sign   THREADS threads sharing one signer, as `ztca serve` does: ca_signer_sign over a
 *          precomputed hash, the raw signing rate;
 *   build  the same for whole responses (ca_ocsp_resp_build: encode, hash, sign);
 *   own    THREADS threads with a signer each (the same key loaded THREADS times): the backend
 *          without ztca's per-signer lock (the mbedTLS signer serialises its calls).
 * The caller pins it (taskset) to the CPUs the server gets, so the rates compare.
 *
 * usage: bench_ocsp_sign KEY.pem SIGNER_CERT.der REQUEST.der SECONDS THREADS BACKEND PHASES
 *   KEY.pem is the OCSP signer's unencrypted key, REQUEST.der an OCSPRequest with a nonce,
 *   PHASES a comma-separated list of sign, build and own.
 * Prints "sign_per_s N C", "build_per_s N C", "sign_own_signer_per_s N C" for the phases asked:
 * N per second (all threads together), C the process's CPU microseconds per operation. Exits 3
 * if BACKEND is not built in. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"

#define BENCH_MAX_THREADS 16

static double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (all threads): with other work on the machine the wall-clock
 * rate falls, the CPU time per operation much less. */
static double
bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *
bench_read(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    uint8_t *buf = malloc(65536);
    size_t n = buf != NULL ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n == 65536) {
        free(buf);
        return NULL;
    }
    *out_len = n;
    return buf;
}

typedef struct bench_job {
    ca_signer *signer;                 /* shared, or this thread's own */
    const ca_ocsp_resp_params *params; /* NULL: raw signatures */
    double seconds;
    size_t done;
    bool failed;
} bench_job;

static void *
bench_worker(void *arg)
{
    bench_job *j = arg;
    ca_md md = ca_signer_md(j->signer);
    uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
    size_t sig_len = 0;
    memset(hash, 0x5a, sizeof(hash));
    double end = bench_now() + j->seconds;
    while (bench_now() < end) {
        if (j->params == NULL) {
            if (!ZTCA_IS_OK(ca_signer_sign(j->signer, md, hash, ca_md_size(md), sig, sizeof(sig),
                                           &sig_len))) {
                j->failed = true;
                break;
            }
        } else {
            uint8_t *resp = NULL;
            size_t resp_len = 0;
            if (!ZTCA_IS_OK(ca_ocsp_resp_build(&resp, &resp_len, j->signer, j->params))) {
                j->failed = true;
                break;
            }
            free(resp);
        }
        j->done++;
    }
    return NULL;
}

/* Runs `threads` workers for `seconds`, worker i on signers[i]; the rate of all together, or -1;
 * *cpu_us the CPU time per operation in microseconds. */
static double
bench_rate(ca_signer *const *signers, const ca_ocsp_resp_params *params, double seconds,
           size_t threads, double *cpu_us)
{
    bench_job jobs[BENCH_MAX_THREADS];
    pthread_t tids[BENCH_MAX_THREADS];
    size_t total = 0;
    bool failed = false;
    double t0 = bench_now(), c0 = bench_cpu();
    for (size_t i = 0; i < threads; i++) {
        jobs[i] = (bench_job){ signers[i], params, seconds, 0, false };
        if (pthread_create(&tids[i], NULL, bench_worker, &jobs[i]) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        total += jobs[i].done;
        failed = failed || jobs[i].failed;
    }
    double elapsed = bench_now() - t0;
    *cpu_us = total > 0 ? (bench_cpu() - c0) * 1e6 / (double)total : 0;
    return failed || total == 0 ? -1 : (double)total / elapsed;
}

int
main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr,
                "usage: %s KEY.pem SIGNER_CERT.der REQUEST.der SECONDS THREADS BACKEND PHASES\n",
                argv[0]);
        return 2;
    }
    ca_crypto_backend backend;
    ztca_rc brc = ca_crypto_backend_parse(&backend, argv[6]);
    if (!ZTCA_IS_OK(brc)) {
        fprintf(stderr, "backend %s: %s\n", argv[6],
                brc.err == ZTCA_ERR_UNSUPPORTED ? "not built in" : "unknown");
        return brc.err == ZTCA_ERR_UNSUPPORTED ? 3 : 2;
    }
    /* Commas around the list so that ",sign," matches a whole name only. */
    char phases[64];
    if (snprintf(phases, sizeof(phases), ",%s,", argv[7]) >= (int)sizeof(phases)) {
        fprintf(stderr, "PHASES too long\n");
        return 2;
    }
    bool do_sign = strstr(phases, ",sign,") != NULL, do_build = strstr(phases, ",build,") != NULL,
         do_own = strstr(phases, ",own,") != NULL;
    double seconds = strtod(argv[4], NULL);
    size_t threads = (size_t)strtoul(argv[5], NULL, 10);
    if (seconds <= 0 || threads == 0 || threads > BENCH_MAX_THREADS) {
        fprintf(stderr, "bad SECONDS or THREADS (1..%d)\n", BENCH_MAX_THREADS);
        return 2;
    }
    size_t key_len = 0, cert_len = 0, req_len = 0;
    uint8_t *key_pem = bench_read(argv[1], &key_len);
    uint8_t *cert = bench_read(argv[2], &cert_len);
    uint8_t *req_der = bench_read(argv[3], &req_len);
    ca_rng *rng = NULL;
    ca_signer *own[BENCH_MAX_THREADS] = { NULL }, *shared[BENCH_MAX_THREADS];
    ca_ocsp_req req;
    if (key_pem == NULL || cert == NULL || req_der == NULL) {
        fprintf(stderr, "cannot read the key, the signer certificate or the request\n");
        return 1;
    }
    if (!ZTCA_IS_OK(ca_rng_new(&rng))) {
        return 1;
    }
    for (size_t i = 0; i < threads; i++) {
        ca_key *key = NULL;
        if (!ZTCA_IS_OK(ca_key_parse(&key, key_pem, key_len, NULL, 0))
            || !ZTCA_IS_OK(ca_signer_new_with(&own[i], key, rng, backend))) {
            fprintf(stderr, "cannot load the signer key (unencrypted keys only)\n");
            return 1;
        }
        shared[i] = own[0];
    }
    if (!ZTCA_IS_OK(ca_ocsp_req_parse(&req, req_der, req_len)) || !req.has_nonce) {
        fprintf(stderr, "the request must be one valid OCSPRequest with a nonce\n");
        return 1;
    }
    /* What the responder builds for a nonce request: one entry per CertID, "good", fresh. */
    ca_ocsp_entry entries[CA_OCSP_MAX_REQS];
    ztca_time now = ztca_now();
    for (size_t i = 0; i < req.num_ids; i++) {
        entries[i] = (ca_ocsp_entry){
            .certid = req.ids[i].element,
            .status = CA_OCSP_GOOD,
            .this_update = now,
            .next_update = now + 3600,
            .trust_score = CA_TRUST_SCORE_NONE,
        };
    }
    ca_ocsp_resp_params p = {
        .signer_cert = cert,
        .signer_cert_len = cert_len,
        .produced_at = now,
        .entries = entries,
        .num_entries = req.num_ids,
        .nonce = req.nonce.p,
        .nonce_len = req.nonce.len,
    };
    /* A phase not asked for stays at 1: "ran and did not fail". */
    double sign_cpu = 0, build_cpu = 0, own_cpu = 0;
    double sign = do_sign ? bench_rate(shared, NULL, seconds, threads, &sign_cpu) : 1;
    double build = do_build ? bench_rate(shared, &p, seconds, threads, &build_cpu) : 1;
    double sign_own = do_own ? bench_rate(own, NULL, seconds, threads, &own_cpu) : 1;
    int rc = sign > 0 && build > 0 && sign_own > 0 ? 0 : 1;
    if (rc == 0) {
        printf("backend %s\n", ca_crypto_backend_name(ca_signer_backend(own[0])));
        if (do_sign) {
            printf("sign_per_s %.1f %.2f\n", sign, sign_cpu);
        }
        if (do_build) {
            printf("build_per_s %.1f %.2f\n", build, build_cpu);
        }
        if (do_own) {
            printf("sign_own_signer_per_s %.1f %.2f\n", sign_own, own_cpu);
        }
    } else {
        fprintf(stderr, "signing failed\n");
    }
    for (size_t i = 0; i < threads; i++) {
        ca_signer_free(own[i]);
    }
    ca_rng_free(rng);
    free(key_pem);
    free(cert);
    free(req_der);
    return rc;
}
