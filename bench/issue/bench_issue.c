/* bench_issue: certificates per second through POST /v1/certs of a running `ztca serve`, against
 * the raw signing (and CSR-verifying) rate of the same CA key in this process, in the same run.
 *
 * usage: bench_issue DIR HTTPS_URL REQUESTS CONNECTIONS SECONDS_RAW
 *   DIR holds the CA (admin certificate, root, intermediate key); the server must run on it.
 * Prints a table and the ratios; tokens are made first through POST /v1/tokens (also timed). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ca/ca.h"

typedef struct bench_buf {
    char *p;
    size_t len;
} bench_buf;

static size_t
bench_write(char *data, size_t size, size_t n, void *ctx)
{
    bench_buf *b = ctx;
    char *g = realloc(b->p, b->len + size * n + 1);
    if (g == NULL) {
        return 0;
    }
    memcpy(g + b->len, data, size * n);
    b->p = g;
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

static double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bench_shared {
    const char *dir;
    const char *url;
    char **tokens;
    size_t num;
    const char *body; /* the POST /v1/certs JSON, without the token */
    size_t next;      /* next request to send */
    pthread_mutex_t lock;
    size_t ok, failed;
    double *latency; /* per request, seconds */
} bench_shared;

static CURL *
bench_curl(const char *dir, bool admin)
{
    char path[4096];
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/ca/root.pem", dir);
    curl_easy_setopt(c, CURLOPT_CAINFO, path);
    if (admin) {
        snprintf(path, sizeof(path), "%s/admin/cert.pem", dir);
        curl_easy_setopt(c, CURLOPT_SSLCERT, path);
        snprintf(path, sizeof(path), "%s/admin/key.pem", dir);
        curl_easy_setopt(c, CURLOPT_SSLKEY, path);
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_write);
    return c;
}

static long
bench_post(CURL *c, const char *url, const char *body, struct curl_slist *headers, bench_buf *out)
{
    long status = 0;
    out->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(c) != CURLE_OK) {
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void *
bench_worker(void *arg)
{
    bench_shared *s = arg;
    char url[1024], auth[256];
    bench_buf buf = { NULL, 0 };
    CURL *c = bench_curl(s->dir, false);
    snprintf(url, sizeof(url), "%s/v1/certs", s->url);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        size_t i = s->next < s->num ? s->next++ : s->num;
        pthread_mutex_unlock(&s->lock);
        if (i == s->num) {
            break;
        }
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->tokens[i]);
        h = curl_slist_append(h, auth);
        double t0 = bench_now();
        long status = bench_post(c, url, s->body, h, &buf);
        s->latency[i] = bench_now() - t0;
        curl_slist_free_all(h);
        pthread_mutex_lock(&s->lock);
        if (status == 201) {
            s->ok++;
        } else {
            s->failed++;
        }
        pthread_mutex_unlock(&s->lock);
    }
    curl_easy_cleanup(c);
    free(buf.p);
    return NULL;
}

static int
bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_raw {
    ca_signer *signer;
    const uint8_t *spki;
    size_t spki_len;
    double seconds;
    size_t signs, verifies;
} bench_raw;

/* One thread's worth of sign + verify, the two public-key operations of an issuance. */
static void *
bench_raw_worker(void *arg)
{
    bench_raw *r = arg;
    ca_md md = ca_signer_md(r->signer);
    uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
    size_t sig_len = 0;
    double end = bench_now() + r->seconds;
    memset(hash, 0x5a, sizeof(hash));
    while (bench_now() < end) {
        if (!ZTCA_IS_OK(
                ca_signer_sign(r->signer, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len))) {
            break;
        }
        r->signs++;
        if (!ZTCA_IS_OK(ca_verify(r->spki, r->spki_len, CA_SIG_ECDSA, md, hash, ca_md_size(md), sig,
                                  sig_len))) {
            break;
        }
        r->verifies++;
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s DIR HTTPS_URL REQUESTS CONNECTIONS SECONDS_RAW\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *url = argv[2];
    size_t num = (size_t)strtoul(argv[3], NULL, 10);
    size_t conns = (size_t)strtoul(argv[4], NULL, 10);
    double raw_seconds = strtod(argv[5], NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* 1. tokens, through the admin API on one keep-alive connection */
    bench_shared s;
    memset(&s, 0, sizeof(s));
    s.dir = dir;
    s.url = url;
    s.num = num;
    s.tokens = calloc(num, sizeof(char *));
    s.latency = calloc(num, sizeof(double));
    pthread_mutex_init(&s.lock, NULL);
    CURL *admin = bench_curl(dir, true);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    bench_buf buf = { NULL, 0 };
    char tok_url[1024];
    snprintf(tok_url, sizeof(tok_url), "%s/v1/tokens", url);
    double t0 = bench_now();
    for (size_t i = 0; i < num; i++) {
        if (bench_post(admin, tok_url, "{\"user\":\"bench\",\"ttl\":\"1h\"}", h, &buf) != 201) {
            fprintf(stderr, "token %zu failed: %s\n", i, buf.p != NULL ? buf.p : "");
            return 1;
        }
        json_error_t err;
        json_t *o = json_loadb(buf.p, buf.len, 0, &err);
        s.tokens[i] = strdup(json_string_value(json_object_get(o, "token")));
        json_decref(o);
    }
    double token_s = bench_now() - t0;
    curl_slist_free_all(h);
    curl_easy_cleanup(admin);

    /* 2. one CSR, made here with a P-256 key (a CSR verify per issuance, as in production) */
    ca_rng *rng = NULL;
    ca_key *k = NULL;
    if (!ZTCA_IS_OK(ca_rng_new(&rng)) || !ZTCA_IS_OK(ca_key_generate(&k, rng, CA_KEY_P256))) {
        return 1;
    }
    char csr_path[4096];
    snprintf(csr_path, sizeof(csr_path), "%s/bench.csr", dir);
    FILE *f = fopen(csr_path, "rb");
    if (f == NULL) {
        fprintf(stderr, "put a CSR at %s\n", csr_path);
        return 1;
    }
    char csr[16384];
    size_t csr_len = fread(csr, 1, sizeof(csr) - 1, f);
    fclose(f);
    csr[csr_len] = '\0';
    json_t *body = json_pack("{s:s, s:s}", "csr", csr, "ttl", "1h");
    char *body_text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    s.body = body_text;

    /* 3. issuance, `conns` keep-alive connections */
    pthread_t *threads = calloc(conns, sizeof(pthread_t));
    t0 = bench_now();
    for (size_t i = 0; i < conns; i++) {
        pthread_create(&threads[i], NULL, bench_worker, &s);
    }
    for (size_t i = 0; i < conns; i++) {
        pthread_join(threads[i], NULL);
    }
    double issue_s = bench_now() - t0;
    qsort(s.latency, num, sizeof(double), bench_cmp);

    /* 4. raw sign + verify rate of the same intermediate key, one thread per core */
    char key_path[4096];
    snprintf(key_path, sizeof(key_path), "%s/private/intermediate.key", dir);
    f = fopen(key_path, "rb");
    char keypem[16384];
    size_t keylen = f != NULL ? fread(keypem, 1, sizeof(keypem), f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    ca_key *ik = NULL;
    ca_signer *signer = NULL;
    if (!ZTCA_IS_OK(ca_key_parse(&ik, (uint8_t *)keypem, keylen, NULL, 0))
        || !ZTCA_IS_OK(ca_signer_new(&signer, ik, rng))) {
        fprintf(stderr, "cannot load %s (unencrypted keys only)\n", key_path);
        return 1;
    }
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(signer, &spki_len);
    size_t cores = conns < 2 ? conns : 2;
    bench_raw raws[2];
    pthread_t rt[2];
    for (size_t i = 0; i < cores; i++) {
        raws[i] = (bench_raw){ signer, spki, spki_len, raw_seconds, 0, 0 };
        pthread_create(&rt[i], NULL, bench_raw_worker, &raws[i]);
    }
    size_t signs = 0, verifies = 0;
    for (size_t i = 0; i < cores; i++) {
        pthread_join(rt[i], NULL);
        signs += raws[i].signs;
        verifies += raws[i].verifies;
    }
    double raw_rate = (double)signs / raw_seconds; /* sign + verify pairs per second */

    double rate = (double)s.ok / issue_s;
    printf("| figure | value |\n| --- | --- |\n");
    printf("| tokens via POST /v1/tokens (1 connection) | %.0f/s |\n", (double)num / token_s);
    printf("| issuances via POST /v1/certs (%zu connections) | %.0f/s (%zu ok, %zu failed) |\n",
           conns, rate, s.ok, s.failed);
    printf("| issuance latency p50 / p99 | %.1f / %.1f ms |\n", s.latency[num / 2] * 1e3,
           s.latency[num * 99 / 100] * 1e3);
    printf("| raw sign+verify of the same key, %zu threads in process (%s) | %.0f/s |\n", cores,
           ca_crypto_backend_name(ca_signer_backend(signer)), raw_rate);
    printf("| ratio issuance / raw sign+verify | %.2f |\n", rate / raw_rate);
    (void)verifies;
    ca_signer_free(signer);
    ca_key_free(k);
    ca_rng_free(rng);
    for (size_t i = 0; i < num; i++) {
        free(s.tokens[i]);
    }
    free(s.tokens);
    free(s.latency);
    free(threads);
    free(body_text);
    free(buf.p);
    curl_global_cleanup();
    return s.failed == 0 ? 0 : 1;
}
