/* bench_remote: ECDSA signatures per second through the remote signer of `ztca serve` (the real
 * signer process of cli/cli_signer.c: fork, a pool of SOCK_SEQPACKET socketpairs, the codec of
 * ca/ca_remote.c) beside the same key signing in-process, with 1, 2 and 4 signing threads, and
 * the ratios (docs/performance.md "Remote signer").
 *
 * usage: bench_remote [SECONDS [RUNS]]   (defaults 2, 3)
 *   Each figure is measured RUNS times for SECONDS, in-process and remote interleaved, and the
 *   median is printed, per second of wall time and per second of CPU time of both processes
 *   (this one, and the signer process read from /proc/PID/stat): on a shared machine the wall
 *   figures favour whichever side runs more threads (the scheduler shares the CPU per thread),
 *   the CPU figures do not. Backend: ZTCA_CRYPTO_BACKEND, else the default. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "cli/cli.h"

#define BENCH_MAX_RUNS 15

/* CPU seconds (user + system) of this process and, when pid > 0, of process `pid`. */
static double
bench_cpu(pid_t pid)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (pid > 0) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f != NULL) {
            fclose(f);
        }
        buf[n] = '\0';
        /* Fields after the ")" that ends the name: state is 3rd, utime 14th, stime 15th. */
        const char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (p != NULL
            && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st)
                   == 2) {
            t += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
    }
    return t;
}

static double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bench_job {
    ca_signer *signer;
    double seconds;
    long count;
    bool failed;
} bench_job;

static void *
bench_loop(void *arg)
{
    bench_job *j = arg;
    ca_md md = ca_signer_md(j->signer);
    uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
    size_t sig_len = 0;
    if (!ZTCA_IS_OK(ca_hash(md, (const uint8_t *)"bench", 5, hash, sizeof(hash)))) {
        j->failed = true;
        return NULL;
    }
    double end = bench_now() + j->seconds;
    long n = 0;
    do {
        for (int i = 0; i < 8; i++, n++) {
            if (!ZTCA_IS_OK(ca_signer_sign(j->signer, md, hash, ca_md_size(md), sig, sizeof(sig),
                                           &sig_len))) {
                j->failed = true;
                return NULL;
            }
        }
    } while (bench_now() < end);
    j->count = n;
    return NULL;
}

/* Signatures per wall second with `threads` threads sharing `s`, and per CPU second of this
 * process and of `pid` in *out_cpu_rate; < 0 on failure. */
static double
bench_rate(ca_signer *s, int threads, double seconds, pid_t pid, double *out_cpu_rate)
{
    double c0 = bench_cpu(pid);
    bench_job jobs[4];
    pthread_t tids[4];
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (bench_job){ s, seconds, 0, false };
        if (pthread_create(&tids[i], NULL, bench_loop, &jobs[i]) != 0) {
            return -1;
        }
    }
    long total = 0;
    bool failed = false;
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        total += jobs[i].count;
        failed = failed || jobs[i].failed;
    }
    double wall = bench_now() - t0;
    double cpu = bench_cpu(pid) - c0;
    *out_cpu_rate = cpu > 0 ? (double)total / cpu : 0;
    return failed ? -1 : (double)total / wall;
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
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* DIR/private/NAME.key: a fresh P-256 key, 0600, as `ztca init` writes it; *out its in-process
 * signer. */
static bool
bench_key(const char *dir, const char *name, ca_rng *rng, ca_signer **out)
{
    char path[512];
    ca_key *key = NULL;
    char *pem = NULL;
    size_t pem_len = 0;
    snprintf(path, sizeof(path), "%s/private/%s.key", dir, name);
    bool ok = ZTCA_IS_OK(ca_key_generate(&key, rng, CA_KEY_P256))
              && ZTCA_IS_OK(ca_key_write_pem(&pem, &pem_len, key, rng, NULL, 0))
              && ZTCA_IS_OK(cli_write_new_file(path, 0600, pem, pem_len));
    if (ok && out != NULL) {
        ok = ZTCA_IS_OK(ca_signer_new(out, key, rng));
        key = ok ? NULL : key;
    }
    ca_key_free(key);
    ztca_free_secret(pem, pem_len);
    return ok;
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    if (seconds <= 0 || runs < 1 || runs > BENCH_MAX_RUNS) {
        fprintf(stderr, "usage: bench_remote [SECONDS [RUNS]]\n");
        return 2;
    }
    char dir[] = "/tmp/bench-remote-XXXXXX", priv[64], path[128];
    ca_rng *rng = NULL;
    ca_signer *local = NULL, *remote = NULL;
    cli_signer_proc *proc = NULL;
    int status = 1;
    if (mkdtemp(dir) == NULL || !cli_path(priv, sizeof(priv), dir, "private")
        || mkdir(priv, 0700) != 0 || !ZTCA_IS_OK(ca_rng_new(&rng))) {
        fprintf(stderr, "bench_remote: setup failed\n");
        return 1;
    }
    /* The signer process's slot 0 is the same key as `local`. */
    if (!bench_key(dir, "intermediate", rng, &local) || !bench_key(dir, "ocsp", rng, NULL)
        || !ZTCA_IS_OK(cli_signer_start(&proc, dir, NULL, 0))
        || !ZTCA_IS_OK(cli_signer_open(proc, 0, &remote))) {
        fprintf(stderr, "bench_remote: cannot start the signer process: %s\n", ztca_last_what());
        goto out;
    }
    size_t a_len = 0, b_len = 0;
    const uint8_t *a = ca_signer_spki(local, &a_len);
    const uint8_t *b = ca_signer_spki(remote, &b_len);
    if (a_len != b_len || memcmp(a, b, a_len) != 0) {
        fprintf(stderr, "bench_remote: the remote key is not the local one\n");
        goto out;
    }
    printf("backend %s, P-256, %d runs of %.1f s, medians, signatures per second\n\n",
           ca_crypto_backend_name(ca_crypto_backend_get()), runs, seconds);
    printf("| threads | in-process /s | remote /s | remote / in-process | in-process /CPU s | "
           "remote /CPU s (both processes) | remote / in-process (CPU) |\n");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    static const int threads[] = { 1, 2, 4 };
    for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
        double l[BENCH_MAX_RUNS], r[BENCH_MAX_RUNS], lc[BENCH_MAX_RUNS], rc[BENCH_MAX_RUNS];
        for (int i = 0; i < runs; i++) {
            l[i] = bench_rate(local, threads[t], seconds, 0, &lc[i]);
            r[i] = bench_rate(remote, threads[t], seconds, cli_signer_pid(proc), &rc[i]);
            if (l[i] < 0 || r[i] < 0) {
                fprintf(stderr, "bench_remote: signing failed: %s\n", ztca_last_what());
                goto out;
            }
        }
        double lm = bench_median(l, runs), rm = bench_median(r, runs);
        double lcm = bench_median(lc, runs), rcm = bench_median(rc, runs);
        printf("| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", threads[t], lm, rm, rm / lm,
               lcm, rcm, rcm / lcm);
    }
    status = 0;
out:
    ca_signer_free(remote);
    ca_signer_free(local);
    cli_signer_stop(proc);
    ca_rng_free(rng);
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", priv, i == 0 ? "intermediate.key" : "ocsp.key");
        unlink(path);
    }
    rmdir(priv);
    rmdir(dir);
    return status;
}
