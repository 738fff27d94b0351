/* bench_trust: the client side of bench/trust/run.sh. It times how long a status change takes to
 * show in OCSP answers and how many signals per second `ztca serve` absorbs; OCSP load comes
 * from wrk, started by the script.
 *
 * usage:
 *   bench_trust latency DIR API_URL OCSP_URL DEVICES N [PAUSE_MS]
 *     N signals through POST API_URL/v1/devices/{id}/signals (admin certificate of DIR), round
 *     robin over the devices, each flipping its device between held (edr/malware -80) and
 *     released (impact 0); after each 201, OCSP GETs to OCSP_URL for that device's agent
 *     certificate until the answer reflects the change. PAUSE_MS: a pause drawn uniformly from
 *     [0, PAUSE_MS) before each signal. A node that learns of changes by polling on a timer
 *     needs it: without it every signal follows the previous one's sighting, which happened just
 *     after a poll, so all land at the same phase of the timer and wait almost a whole period.
 *   bench_trust rate DIR API_URL OCSP_URL DEVICES SECONDS CLIENTS
 *     signals as fast as CLIENTS keep-alive connections post them, for SECONDS.
 *   bench_trust index INDEX GOOD REVOKED OCSP_URL REQUEST N
 *     the peer: N times, atomically replace the file INDEX of an `openssl ocsp -index` responder
 *     by a copy of REVOKED or GOOD (alternately), then GET OCSP_URL until the answer reflects it.
 * DEVICES: lines "DEVICE_ID REQUEST.der", the OCSP request (one CertID, no nonce) for an agent
 * certificate of that device. Prints "key value" lines; latencies in milliseconds. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "ca/ca.h"
#include "core/core.h"

#define BENCH_MAX_DEVICES 256
#define BENCH_MAX_CLIENTS 64
#define BENCH_TIMEOUT_S   10.0 /* ten times the target: a change not seen by then is a failure */

/* CertStatus tags (RFC 6960 4.2.1): good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo. */
#define BENCH_GOOD    0x80
#define BENCH_REVOKED 0xa1

typedef struct bench_buf {
    uint8_t *p;
    size_t len;
} bench_buf;

typedef struct bench_device {
    char id[128];
    uint8_t *req; /* owned: the DER OCSP request */
    size_t req_len;
    const uint8_t *certid; /* borrowed from req: the CertID element a response echoes */
    size_t certid_len;
    char *get_url; /* owned */
    bool held;     /* what the last answer or signal says */
} bench_device;

static double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
bench_write(char *data, size_t size, size_t n, void *ctx)
{
    bench_buf *b = ctx;
    uint8_t *g = realloc(b->p, b->len + size * n + 1);
    if (g == NULL) {
        return 0;
    }
    memcpy(g + b->len, data, size * n);
    b->p = g;
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
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

/* RFC 5019 A.1: the GET form, base64 of the request, then URL-encoded. */
static char *
bench_get_url(const char *base, const uint8_t *req, size_t req_len)
{
    char *b64 = NULL;
    size_t b64_len = 0;
    if (!ZTCA_IS_OK(ztca_base64_encode(&b64, &b64_len, req, req_len))) {
        return NULL;
    }
    size_t size = strlen(base) + 1 + 3 * b64_len + 1;
    char *url = malloc(size);
    if (url != NULL) {
        size_t o = (size_t)snprintf(url, size, "%s/", base);
        for (size_t i = 0; i < b64_len; i++) {
            if (b64[i] == '+' || b64[i] == '/' || b64[i] == '=') {
                o += (size_t)snprintf(url + o, size - o, "%%%02X", (unsigned char)b64[i]);
            } else {
                url[o++] = b64[i];
            }
        }
        url[o] = '\0';
    }
    ztca_free(b64);
    return url;
}

static bool
bench_request_load(bench_device *d, const char *path, const char *ocsp_url)
{
    ca_ocsp_req req;
    d->req = bench_read(path, &d->req_len);
    if (d->req == NULL || !ZTCA_IS_OK(ca_ocsp_req_parse(&req, d->req, d->req_len))
        || req.num_ids != 1 || req.has_nonce) {
        fprintf(stderr, "bench_trust: %s is not an OCSP request with one CertID, no nonce\n", path);
        return false;
    }
    d->certid = req.ids[0].element.p;
    d->certid_len = req.ids[0].element.len;
    d->get_url = bench_get_url(ocsp_url, d->req, d->req_len);
    return d->get_url != NULL;
}

static size_t
bench_devices_load(bench_device *devs, const char *path, const char *ocsp_url)
{
    FILE *f = fopen(path, "r");
    char id[128], req[4096];
    size_t n = 0;
    if (f == NULL) {
        return 0;
    }
    while (n < BENCH_MAX_DEVICES && fscanf(f, "%127s %4095s", id, req) == 2) {
        snprintf(devs[n].id, sizeof(devs[n].id), "%s", id);
        if (!bench_request_load(&devs[n], req, ocsp_url)) {
            n = 0;
            break;
        }
        n++;
    }
    fclose(f);
    return n;
}

/* The CertStatus tag of the SingleResponse for `d`, read from the octet after the echoed CertID,
 * or 0 when the answer is not a successful response naming it. Good enough for a benchmark that
 * only ever sees well-formed answers from two known responders. */
static int
bench_status_of(const bench_device *d, const bench_buf *resp)
{
    if (resp->len < d->certid_len + 1) {
        return 0;
    }
    for (size_t i = 0; i + d->certid_len < resp->len; i++) {
        if (memcmp(resp->p + i, d->certid, d->certid_len) == 0) {
            return resp->p[i + d->certid_len];
        }
    }
    return 0;
}

static CURL *
bench_curl(const char *dir)
{
    char path[4096];
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return NULL;
    }
    if (dir != NULL) {
        snprintf(path, sizeof(path), "%s/ca/root.pem", dir);
        curl_easy_setopt(c, CURLOPT_CAINFO, path);
        snprintf(path, sizeof(path), "%s/admin/cert.pem", dir);
        curl_easy_setopt(c, CURLOPT_SSLCERT, path);
        snprintf(path, sizeof(path), "%s/admin/key.pem", dir);
        curl_easy_setopt(c, CURLOPT_SSLKEY, path);
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_write);
    return c;
}

/* An OCSP client on one keep-alive connection, with what it saw besides statuses: answers that
 * name no status (an OCSP error such as tryLater, an HTTP error) and the slowest exchange, so that
 * a stall of the responder shows as such instead of as a slow change. */
typedef struct bench_poller {
    CURL *c; /* owned */
    bench_buf buf;
    size_t polls, odd;
    double slowest_ms;
    char odd_what[80]; /* the first odd answer: HTTP status and leading octets */
} bench_poller;

/* One OCSP GET: the status tag, or 0 on any failure. */
static int
bench_poll(bench_poller *p, const bench_device *d)
{
    long code = 0;
    int st = 0;
    p->buf.len = 0;
    curl_easy_setopt(p->c, CURLOPT_URL, d->get_url);
    curl_easy_setopt(p->c, CURLOPT_WRITEDATA, &p->buf);
    double t0 = bench_now();
    if (curl_easy_perform(p->c) == CURLE_OK) {
        curl_easy_getinfo(p->c, CURLINFO_RESPONSE_CODE, &code);
        st = code == 200 ? bench_status_of(d, &p->buf) : 0;
    }
    double ms = (bench_now() - t0) * 1e3;
    p->slowest_ms = ms > p->slowest_ms ? ms : p->slowest_ms;
    p->polls++;
    if (st != BENCH_GOOD && st != BENCH_REVOKED && p->odd++ == 0) {
        int o = snprintf(p->odd_what, sizeof(p->odd_what), "http=%ld,octets=", code);
        for (size_t i = 0; i < p->buf.len && i < 12 && o > 0 && o < 70; i++) {
            o += snprintf(p->odd_what + o, sizeof(p->odd_what) - (size_t)o, "%02x", p->buf.p[i]);
        }
    }
    return st;
}

static void
bench_poller_print(const bench_poller *p)
{
    printf("ocsp_gets %zu\nocsp_odd_answers %zu\nocsp_first_odd %s\nocsp_slowest_ms %.3f\n",
           p->polls, p->odd, p->odd > 0 ? p->odd_what : "-", p->slowest_ms);
}

static long
bench_signal(CURL *c, const char *api_url, const bench_device *d, int impact, bench_buf *buf)
{
    char url[1024], body[128];
    long code = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(url, sizeof(url), "%s/v1/devices/%s/signals", api_url, d->id);
    snprintf(body, sizeof(body), "{\"source\":\"edr\",\"kind\":\"malware\",\"impact\":%d}", impact);
    buf->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    }
    curl_slist_free_all(h);
    return code;
}

/* Starts from what the responder says now, so every signal flips a hold whatever ran before. */
static bool
bench_initial_state(bench_device *devs, size_t num, bench_poller *ocsp)
{
    for (size_t i = 0; i < num; i++) {
        int st = bench_poll(ocsp, &devs[i]);
        if (st != BENCH_GOOD && st != BENCH_REVOKED) {
            fprintf(stderr, "bench_trust: no OCSP status for %s at %s\n", devs[i].id,
                    devs[i].get_url);
            return false;
        }
        devs[i].held = st == BENCH_REVOKED;
    }
    return true;
}

/* Polls until the answer for `d` has status `want`; the milliseconds since `t0`, the number of
 * answers in *out_polls, or a negative value after BENCH_TIMEOUT_S. */
static double
bench_until(bench_poller *ocsp, const bench_device *d, int want, double t0, size_t *out_polls)
{
    *out_polls = 0;
    for (;;) {
        int st = bench_poll(ocsp, d);
        double t = bench_now();
        (*out_polls)++;
        if (st == want) {
            return (t - t0) * 1e3;
        }
        if (t - t0 > BENCH_TIMEOUT_S) {
            return -1;
        }
    }
}

static int
bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double
bench_pct(const double *v, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999);
    return n == 0 ? 0 : v[rank == 0 ? 0 : rank - 1];
}

static void
bench_print_dist(const char *key, double *v, size_t n)
{
    double sum = 0;
    qsort(v, n, sizeof(double), bench_cmp);
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
    }
    printf("%s_p50_ms %.3f\n%s_p99_ms %.3f\n%s_max_ms %.3f\n%s_mean_ms %.3f\n", key,
           bench_pct(v, n, 0.5), key, bench_pct(v, n, 0.99), key, n > 0 ? v[n - 1] : 0, key,
           n > 0 ? sum / (double)n : 0);
}

/* xorshift64: reproducible pauses, the same in every run. */
static double
bench_uniform(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0;
}

static void
bench_sleep_ms(double ms)
{
    long ns = (long)(ms * 1e6);
    struct timespec ts = { .tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L };
    nanosleep(&ts, NULL);
}

static int
bench_latency(const char *dir, const char *api_url, bench_device *devs, size_t num_devs, size_t num,
              double pause_ms)
{
    uint64_t rng = 0x9e3779b97f4a7c15u;
    CURL *api = bench_curl(dir);
    bench_poller ocsp = { .c = bench_curl(NULL) };
    bench_buf buf = { NULL, 0 };
    double *post = calloc(num, sizeof(double)), *seen = calloc(num, sizeof(double));
    size_t failed = 0, timeouts = 0, polls = 0, fresh_first = 0, early = 0;
    if (api == NULL || ocsp.c == NULL || post == NULL || seen == NULL
        || !bench_initial_state(devs, num_devs, &ocsp)) {
        return 1;
    }
    for (size_t i = 0; i < num; i++) {
        bench_device *d = &devs[i % num_devs];
        if (pause_ms > 0) {
            bench_sleep_ms(pause_ms * bench_uniform(&rng));
        }
        /* The responder's cache holds the old answer before each signal, as it does for any
         * certificate relying parties ask about; a node's feed may have dropped it since. */
        early += bench_poll(&ocsp, d) != (d->held ? BENCH_REVOKED : BENCH_GOOD);
        double t0 = bench_now();
        long code = bench_signal(api, api_url, d, d->held ? 0 : -80, &buf);
        double t201 = bench_now();
        post[i] = (t201 - t0) * 1e3;
        if (code != 201) {
            fprintf(stderr, "bench_trust: signal %zu: HTTP %ld %.200s\n", i, code,
                    buf.p != NULL ? (char *)buf.p : "");
            failed++;
            seen[i] = BENCH_TIMEOUT_S * 1e3;
            continue;
        }
        d->held = !d->held;
        size_t n = 0;
        seen[i] = bench_until(&ocsp, d, d->held ? BENCH_REVOKED : BENCH_GOOD, t201, &n);
        if (seen[i] < 0) {
            timeouts++;
            seen[i] = BENCH_TIMEOUT_S * 1e3; /* censored: counts at the timeout */
        }
        polls += n;
        fresh_first += n == 1;
    }
    printf("signals %zu\nfailed %zu\ntimeouts %zu\nprime_unexpected %zu\n", num, failed, timeouts,
           early);
    printf("polls_mean %.2f\nfirst_answer_fresh %zu\n", (double)polls / (double)num, fresh_first);
    bench_poller_print(&ocsp);
    bench_print_dist("post", post, num);
    bench_print_dist("seen", seen, num);
    curl_easy_cleanup(api);
    curl_easy_cleanup(ocsp.c);
    free(ocsp.buf.p);
    free(post);
    free(seen);
    free(buf.p);
    return failed == 0 && timeouts == 0 ? 0 : 1;
}

typedef struct bench_rate {
    const char *dir;
    const char *api_url;
    bench_device *devs; /* borrowed; this client uses those with index % num_clients == client */
    size_t num_devs;
    size_t client, num_clients;
    double end;
    size_t ok, failed;
    double *lat; /* owned, ms per signal, up to lat_size */
    size_t lat_size;
} bench_rate;

static void *
bench_rate_main(void *arg)
{
    bench_rate *r = arg;
    CURL *api = bench_curl(r->dir);
    bench_buf buf = { NULL, 0 };
    size_t k = r->client % r->num_devs;
    while (api != NULL && bench_now() < r->end) {
        bench_device *d = &r->devs[k];
        double t0 = bench_now();
        long code = bench_signal(api, r->api_url, d, d->held ? 0 : -80, &buf);
        double ms = (bench_now() - t0) * 1e3;
        if (code == 201) {
            d->held = !d->held;
            if (r->ok < r->lat_size) {
                r->lat[r->ok] = ms;
            }
            r->ok++;
        } else {
            r->failed++;
        }
        k += r->num_clients;
        if (k >= r->num_devs) {
            k = r->client % r->num_devs;
        }
    }
    curl_easy_cleanup(api);
    free(buf.p);
    return NULL;
}

static int
bench_rate_run(const char *dir, const char *api_url, bench_device *devs, size_t num_devs,
               double seconds, size_t clients)
{
    bench_rate r[BENCH_MAX_CLIENTS];
    pthread_t t[BENCH_MAX_CLIENTS];
    bench_poller ocsp = { .c = bench_curl(NULL) };
    if (ocsp.c == NULL || !bench_initial_state(devs, num_devs, &ocsp)) {
        return 1;
    }
    curl_easy_cleanup(ocsp.c);
    free(ocsp.buf.p);
    double t0 = bench_now();
    for (size_t i = 0; i < clients; i++) {
        r[i] = (bench_rate){ .dir = dir,
                             .api_url = api_url,
                             .devs = devs,
                             .num_devs = num_devs,
                             .client = i,
                             .num_clients = clients,
                             .end = t0 + seconds,
                             .lat_size = 1000000 };
        r[i].lat = calloc(r[i].lat_size, sizeof(double));
        if (r[i].lat == NULL || pthread_create(&t[i], NULL, bench_rate_main, &r[i]) != 0) {
            return 1;
        }
    }
    size_t ok = 0, failed = 0, n = 0;
    for (size_t i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].ok;
        failed += r[i].failed;
    }
    double elapsed = bench_now() - t0;
    double *all = calloc(ok + 1, sizeof(double));
    for (size_t i = 0; all != NULL && i < clients; i++) {
        size_t m = r[i].ok < r[i].lat_size ? r[i].ok : r[i].lat_size;
        memcpy(all + n, r[i].lat, m * sizeof(double));
        n += m;
        free(r[i].lat);
    }
    printf("signals %zu\nfailed %zu\nper_s %.1f\n", ok, failed, (double)ok / elapsed);
    bench_print_dist("post", all, n);
    free(all);
    return failed == 0 ? 0 : 1;
}

/* rename(2) is atomic, so the responder reads either the old or the new index, never half. */
static bool
bench_index_put(const char *index, const uint8_t *content, size_t len)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", index);
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        return false;
    }
    bool ok = fwrite(content, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, index) == 0;
}

static int
bench_index(const char *index, const char *good_path, const char *revoked_path,
            const char *ocsp_url, const char *req_path, size_t num)
{
    bench_device d;
    size_t good_len = 0, revoked_len = 0, polls = 0, fresh_first = 0, timeouts = 0, n = 0;
    size_t early = 0;
    memset(&d, 0, sizeof(d));
    uint8_t *good = bench_read(good_path, &good_len);
    uint8_t *revoked = bench_read(revoked_path, &revoked_len);
    double *seen = calloc(num, sizeof(double));
    bench_poller ocsp = { .c = bench_curl(NULL) };
    if (good == NULL || revoked == NULL || seen == NULL || ocsp.c == NULL
        || !bench_request_load(&d, req_path, ocsp_url) || !bench_index_put(index, good, good_len)
        || bench_until(&ocsp, &d, BENCH_GOOD, bench_now(), &n) < 0) {
        fprintf(stderr, "bench_trust: the responder at %s does not answer 'good'\n", ocsp_url);
        return 1;
    }
    for (size_t i = 0; i < num; i++) {
        bool held = i % 2 == 0;
        early += bench_poll(&ocsp, &d) != (held ? BENCH_GOOD : BENCH_REVOKED); /* as for ztca */
        if (!bench_index_put(index, held ? revoked : good, held ? revoked_len : good_len)) {
            return 1;
        }
        seen[i] = bench_until(&ocsp, &d, held ? BENCH_REVOKED : BENCH_GOOD, bench_now(), &n);
        if (seen[i] < 0) {
            timeouts++;
            seen[i] = BENCH_TIMEOUT_S * 1e3;
        }
        polls += n;
        fresh_first += n == 1;
    }
    printf("signals %zu\nfailed 0\ntimeouts %zu\nprime_unexpected %zu\n", num, timeouts, early);
    printf("polls_mean %.2f\nfirst_answer_fresh %zu\n", (double)polls / (double)num, fresh_first);
    bench_poller_print(&ocsp);
    bench_print_dist("seen", seen, num);
    curl_easy_cleanup(ocsp.c);
    free(ocsp.buf.p);
    free(good);
    free(revoked);
    free(seen);
    free(d.req);
    free(d.get_url);
    return timeouts == 0 ? 0 : 1;
}

static int
bench_usage(void)
{
    fprintf(stderr, "usage: bench_trust latency DIR API_URL OCSP_URL DEVICES N [PAUSE_MS]\n"
                    "       bench_trust rate DIR API_URL OCSP_URL DEVICES SECONDS CLIENTS\n"
                    "       bench_trust index INDEX GOOD REVOKED OCSP_URL REQUEST N\n");
    return 2;
}

int
main(int argc, char **argv)
{
    static bench_device devs[BENCH_MAX_DEVICES];
    size_t num_devs = 0;
    int rc = 2;
    if (argc < 2) {
        return bench_usage();
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(argv[1], "latency") == 0 && (argc == 7 || argc == 8)) {
        num_devs = bench_devices_load(devs, argv[5], argv[4]);
        size_t num = (size_t)strtoul(argv[6], NULL, 10);
        double pause_ms = argc == 8 ? strtod(argv[7], NULL) : 0;
        rc = num_devs > 0 && num > 0 && pause_ms >= 0
                 ? bench_latency(argv[2], argv[3], devs, num_devs, num, pause_ms)
                 : 2;
    } else if (strcmp(argv[1], "rate") == 0 && argc == 8) {
        num_devs = bench_devices_load(devs, argv[5], argv[4]);
        double secs = strtod(argv[6], NULL);
        size_t clients = (size_t)strtoul(argv[7], NULL, 10);
        /* Each client owns its devices (index mod CLIENTS): no two threads share a `held`. */
        rc = num_devs > 0 && secs > 0 && clients > 0 && clients <= BENCH_MAX_CLIENTS
                     && clients <= num_devs
                 ? bench_rate_run(argv[2], argv[3], devs, num_devs, secs, clients)
                 : 2;
    } else if (strcmp(argv[1], "index") == 0 && argc == 8) {
        size_t num = (size_t)strtoul(argv[7], NULL, 10);
        rc = num > 0 ? bench_index(argv[2], argv[3], argv[4], argv[5], argv[6], num) : 2;
    }
    for (size_t i = 0; i < num_devs; i++) {
        free(devs[i].req);
        free(devs[i].get_url);
    }
    curl_global_cleanup();
    return rc == 2 ? bench_usage() : rc;
}
