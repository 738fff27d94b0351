/* bench_issue: certificates per second through POST /v1/certs of a running `ztca serve`, against
 * the raw signing (and CSR-verifying) rate of the same CA key in this process, in the same run,
 * and against cfssl's sign API driven by the same client with the same concurrency.
 *
 * usage: bench_issue DIR HTTPS_URL REQUESTS CONNECTIONS SECONDS_RAW [CFSSL_URL [CFSSL_TLS_URL
 *                    CFSSL_TLS_CA CFSSL_AUTH_BODY]]
 *        bench_issue --raw DIR SECONDS THREADS
 *   DIR holds the CA (admin certificate, root, intermediate key); the server must run on it.
 *   Tokens are made first through POST /v1/tokens (also timed), then REQUESTS issuances; with
 *   CFSSL_URL (http://host:port of `cfssl serve`) REQUESTS more through its
 *   /api/v1/cfssl/sign with the same CSR and CONNECTIONS; with CFSSL_TLS_URL (https://host:port of
 *   a second `cfssl serve` with TLS, an auth key and a certificate database, its certificate in
 *   CFSSL_TLS_CA) REQUESTS more through its /api/v1/cfssl/authsign, each posting CFSSL_AUTH_BODY
 *   (the same CSR with its HMAC, made by bench/issue/run.sh: cfssl's authsign has no replay
 *   check, so one body serves every request). SECONDS_RAW 0 leaves out the raw rate;
 *   --raw measures only it (bench/issue/run.sh runs it on the server's CPU, the client on the
 *   other). Prints `RESULT key value` lines; the first form also a table. */
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
    const char *body;   /* the POST JSON (ztca: without the token, which goes in a header) */
    const char *path;   /* "/v1/certs" or cfssl's "/api/v1/cfssl/sign" */
    long want;          /* the status of a success: 201 (ztca), 200 (cfssl) */
    bool is_cfssl;      /* no token, no client TLS; success also needs "success":true */
    const char *cainfo; /* the server's TLS certificate or root; NULL: DIR's root */
    size_t next;        /* next request to send */
    pthread_mutex_t lock;
    size_t ok, failed;
    double *latency; /* per request, seconds */
} bench_shared;

static CURL *
bench_curl(const char *dir, const char *cainfo, bool admin)
{
    char path[4096];
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/ca/root.pem", dir);
    curl_easy_setopt(c, CURLOPT_CAINFO, cainfo != NULL ? cainfo : path);
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
    CURL *c = bench_curl(s->dir, s->cainfo, false);
    snprintf(url, sizeof(url), "%s%s", s->url, s->path);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        size_t i = s->next < s->num ? s->next++ : s->num;
        pthread_mutex_unlock(&s->lock);
        if (i == s->num) {
            break;
        }
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        if (!s->is_cfssl) {
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->tokens[i]);
            h = curl_slist_append(h, auth);
        }
        double t0 = bench_now();
        long status = bench_post(c, url, s->body, h, &buf);
        s->latency[i] = bench_now() - t0;
        curl_slist_free_all(h);
        /* cfssl answers 200 with "success":false for a refused request. */
        bool good =
            status == s->want
            && (!s->is_cfssl || (buf.p != NULL && strstr(buf.p, "\"success\":true") != NULL));
        pthread_mutex_lock(&s->lock);
        if (good) {
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

/* Sends s->num requests over `conns` keep-alive connections; returns the wall time taken and
 * sorts s->latency. */
static double
bench_drive(bench_shared *s, size_t conns)
{
    pthread_t *threads = calloc(conns, sizeof(pthread_t));
    if (threads == NULL) {
        return 0;
    }
    s->next = 0;
    s->ok = 0;
    s->failed = 0;
    double t0 = bench_now();
    for (size_t i = 0; i < conns; i++) {
        pthread_create(&threads[i], NULL, bench_worker, s);
    }
    for (size_t i = 0; i < conns; i++) {
        pthread_join(threads[i], NULL);
    }
    double took = bench_now() - t0;
    free(threads);
    qsort(s->latency, s->num, sizeof(double), bench_cmp);
    return took;
}

/* Pairs of sign + verify per second of DIR's intermediate key, `threads` threads sharing one
 * signer (as the server's worker threads do); 0 when the key cannot be loaded. */
static double
bench_raw_rate(const char *dir, double seconds, size_t threads, ca_rng *rng,
               const char **out_backend)
{
    char key_path[4096];
    snprintf(key_path, sizeof(key_path), "%s/private/intermediate.key", dir);
    FILE *f = fopen(key_path, "rb");
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
        ca_key_free(ik);
        return 0;
    }
    /* the signer owns the key now */
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(signer, &spki_len);
    bench_raw raws[16];
    pthread_t rt[16];
    if (threads > 16) {
        threads = 16;
    }
    for (size_t i = 0; i < threads; i++) {
        raws[i] = (bench_raw){ signer, spki, spki_len, seconds, 0, 0 };
        pthread_create(&rt[i], NULL, bench_raw_worker, &raws[i]);
    }
    size_t verifies = 0;
    for (size_t i = 0; i < threads; i++) {
        pthread_join(rt[i], NULL);
        verifies += raws[i].verifies;
    }
    *out_backend = ca_crypto_backend_name(ca_signer_backend(signer));
    ca_signer_free(signer);
    return (double)verifies / seconds; /* complete sign + verify pairs per second */
}

static void
bench_result_rate(const char *who, const bench_shared *s, double took)
{
    printf("RESULT issue_%s_per_s %.1f\n", who, took > 0 ? (double)s->ok / took : 0);
    printf("RESULT issue_%s_p50_ms %.2f\n", who, s->latency[s->num / 2] * 1e3);
    printf("RESULT issue_%s_p99_ms %.2f\n", who, s->latency[s->num * 99 / 100] * 1e3);
    printf("RESULT issue_%s_ok %zu\nRESULT issue_%s_failed %zu\n", who, s->ok, who, s->failed);
}

typedef struct bench_peer {
    double rate, p50, p99;
    size_t ok, failed;
} bench_peer;

/* Drives a cfssl server with the same requests, client and connections as ztca. */
static void
bench_peer_drive(bench_shared *s, size_t conns, const char *url, const char *path,
                 const char *cainfo, const char *body, const char *who, bench_peer *out)
{
    s->url = url;
    s->path = path;
    s->want = 200;
    s->is_cfssl = true;
    s->cainfo = cainfo;
    s->body = body;
    double took = bench_drive(s, conns);
    out->rate = (double)s->ok / took;
    out->ok = s->ok;
    out->failed = s->failed;
    out->p50 = s->latency[s->num / 2];
    out->p99 = s->latency[s->num * 99 / 100];
    bench_result_rate(who, s, took);
}

int
main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--raw") == 0) {
        ca_rng *rng = NULL;
        const char *backend = "?";
        if (!ZTCA_IS_OK(ca_rng_new(&rng))) {
            return 1;
        }
        double raw = bench_raw_rate(argv[2], strtod(argv[3], NULL),
                                    (size_t)strtoul(argv[4], NULL, 10), rng, &backend);
        printf("RESULT issue_raw_sign_verify_per_s %.1f\nRESULT issue_raw_backend %s\n", raw,
               backend);
        ca_rng_free(rng);
        return raw > 0 ? 0 : 1;
    }
    if (argc != 6 && argc != 7 && argc != 10) {
        fprintf(
            stderr,
            "usage: %s DIR HTTPS_URL REQUESTS CONNECTIONS SECONDS_RAW [CFSSL_URL [CFSSL_TLS_URL "
            "CFSSL_TLS_CA CFSSL_AUTH_BODY]]\n"
            "       %s --raw DIR SECONDS THREADS\n",
            argv[0], argv[0]);
        return 2;
    }
    const char *dir = argv[1], *url = argv[2], *cfssl_url = argc >= 7 ? argv[6] : NULL;
    const char *tls_url = argc == 10 ? argv[7] : NULL, *tls_ca = argc == 10 ? argv[8] : NULL;
    char auth_body[32768];
    if (tls_url != NULL) {
        FILE *bf = fopen(argv[9], "rb");
        size_t n = bf != NULL ? fread(auth_body, 1, sizeof(auth_body) - 1, bf) : 0;
        if (bf != NULL) {
            fclose(bf);
        }
        if (n == 0) {
            fprintf(stderr, "cannot read %s\n", argv[9]);
            return 2;
        }
        auth_body[n] = '\0';
    }
    size_t num = (size_t)strtoul(argv[3], NULL, 10);
    size_t conns = (size_t)strtoul(argv[4], NULL, 10);
    double raw_seconds = strtod(argv[5], NULL);
    if (num == 0 || conns == 0) {
        fprintf(stderr, "REQUESTS and CONNECTIONS must be positive\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* 1. tokens, through the admin API on one keep-alive connection */
    bench_shared s;
    memset(&s, 0, sizeof(s));
    s.dir = dir;
    s.url = url;
    s.num = num;
    s.path = "/v1/certs";
    s.want = 201;
    s.tokens = calloc(num, sizeof(char *));
    s.latency = calloc(num, sizeof(double));
    pthread_mutex_init(&s.lock, NULL);
    CURL *admin = bench_curl(dir, NULL, true);
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

    /* 2. one CSR (P-256, made by bench/issue/run.sh): a CSR verify per issuance, as in production
     */
    ca_rng *rng = NULL;
    if (!ZTCA_IS_OK(ca_rng_new(&rng))) {
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
    body = json_pack("{s:s}", "certificate_request", csr);
    char *cfssl_text = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    /* 3. issuance, `conns` keep-alive connections; then cfssl with the same client */
    s.body = body_text;
    double issue_s = bench_drive(&s, conns);
    double rate = (double)s.ok / issue_s;
    size_t ok = s.ok, failed = s.failed;
    double p50 = s.latency[num / 2], p99 = s.latency[num * 99 / 100];
    bench_result_rate("ztca", &s, issue_s);
    printf("RESULT issue_tokens_per_s %.1f\n", (double)num / token_s);
    bench_peer cfssl = { 0 }, tls = { 0 };
    if (cfssl_url != NULL) {
        bench_peer_drive(&s, conns, cfssl_url, "/api/v1/cfssl/sign", NULL, cfssl_text, "cfssl",
                         &cfssl);
    }
    /* cfssl set up as ztca runs: TLS, an authenticated request, every certificate stored. */
    if (tls_url != NULL) {
        bench_peer_drive(&s, conns, tls_url, "/api/v1/cfssl/authsign", tls_ca, auth_body,
                         "cfssl_tls", &tls);
    }

    /* 4. raw sign + verify rate of the same intermediate key, one thread per core */
    const char *backend = "?";
    double raw_rate = 0;
    if (raw_seconds > 0) {
        raw_rate = bench_raw_rate(dir, raw_seconds, conns < 2 ? conns : 2, rng, &backend);
        if (raw_rate <= 0) {
            return 1;
        }
        printf("RESULT issue_raw_sign_verify_per_s %.1f\nRESULT issue_raw_backend %s\n", raw_rate,
               backend);
    }

    printf("| figure | value |\n| --- | --- |\n");
    printf("| tokens via POST /v1/tokens (1 connection) | %.0f/s |\n", (double)num / token_s);
    printf("| issuances via POST /v1/certs (%zu HTTPS connections) | %.0f/s (%zu ok, %zu failed) "
           "|\n",
           conns, rate, ok, failed);
    printf("| issuance latency p50 / p99 | %.1f / %.1f ms |\n", p50 * 1e3, p99 * 1e3);
    if (cfssl_url != NULL) {
        printf("| peer: cfssl sign API (%zu plain HTTP connections) | %.0f/s (%zu ok, %zu failed) "
               "|\n",
               conns, cfssl.rate, cfssl.ok, cfssl.failed);
        printf("| cfssl latency p50 / p99 | %.1f / %.1f ms |\n", cfssl.p50 * 1e3, cfssl.p99 * 1e3);
        printf("| ratio issuance ztca / cfssl | %.2f |\n", rate / cfssl.rate);
    }
    if (tls_url != NULL) {
        printf("| peer: cfssl authsign API, HTTPS, SQLite certificate database (%zu connections) | "
               "%.0f/s (%zu ok, %zu failed) |\n",
               conns, tls.rate, tls.ok, tls.failed);
        printf("| cfssl authsign latency p50 / p99 | %.1f / %.1f ms |\n", tls.p50 * 1e3,
               tls.p99 * 1e3);
        printf("| ratio issuance ztca / cfssl authsign with database | %.2f |\n", rate / tls.rate);
    }
    if (raw_seconds > 0) {
        printf("| raw sign+verify of the same key, %zu threads in process (%s) | %.0f/s |\n",
               conns < 2 ? conns : 2, backend, raw_rate);
        printf("| ratio issuance / raw sign+verify | %.2f |\n", rate / raw_rate);
    }
    ca_rng_free(rng);
    for (size_t i = 0; i < num; i++) {
        free(s.tokens[i]);
    }
    free(s.tokens);
    free(s.latency);
    free(body_text);
    free(cfssl_text);
    free(buf.p);
    curl_global_cleanup();
    return failed == 0 && cfssl.failed == 0 && tls.failed == 0 ? 0 : 1;
}
