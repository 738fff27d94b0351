/* api_metrics.c: Prometheus counters kept with atomics (no lock on the request path): requests by
 * route and status, a latency histogram per route, certificates issued by profile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define API_MAX_ROUTES 64 /* rows: the routes, then "unmatched" */
static const unsigned api_statuses[] = { 200, 201, 204, 304, 400, 401, 403, 404,
                                         405, 409, 413, 415, 429, 500, 503, 0 /* other */ };
#define API_NUM_STATUSES (sizeof(api_statuses) / sizeof(api_statuses[0]))
static const double api_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5 };
#define API_NUM_BUCKETS (sizeof(api_buckets) / sizeof(api_buckets[0]))
static const char *const api_profiles[] = { "device", "agent", "workload",      "admin",
                                            "server", "ocsp",  "signal-feeder", "pep" };
#define API_NUM_PROFILES (sizeof(api_profiles) / sizeof(api_profiles[0]))

/* The only mutable globals of api/: monotonic counters, atomics only. */
static atomic_ullong api_requests[API_MAX_ROUTES + 1][API_NUM_STATUSES];
static atomic_ullong api_latency_buckets[API_MAX_ROUTES + 1][API_NUM_BUCKETS];
static atomic_ullong api_latency_count[API_MAX_ROUTES + 1];
static atomic_ullong api_latency_sum_us[API_MAX_ROUTES + 1];
static atomic_ullong api_issued[API_NUM_PROFILES];

static size_t
api_metrics_row(int route_index)
{
    return route_index >= 0 && (size_t)route_index < api_num_routes
                   && (size_t)route_index < API_MAX_ROUTES
               ? (size_t)route_index
               : API_MAX_ROUTES;
}

void
api_metrics_request(int route_index, unsigned status, int64_t latency_ns)
{
    size_t row = api_metrics_row(route_index);
    size_t col = API_NUM_STATUSES - 1;
    for (size_t i = 0; i + 1 < API_NUM_STATUSES; i++) {
        if (api_statuses[i] == status) {
            col = i;
            break;
        }
    }
    atomic_fetch_add(&api_requests[row][col], 1);
    double s = (double)latency_ns / 1e9;
    for (size_t b = 0; b < API_NUM_BUCKETS; b++) {
        if (s <= api_buckets[b]) {
            atomic_fetch_add(&api_latency_buckets[row][b], 1);
        }
    }
    atomic_fetch_add(&api_latency_count[row], 1);
    atomic_fetch_add(&api_latency_sum_us[row], (unsigned long long)(latency_ns / 1000));
}

void
api_metrics_issued(const char *profile)
{
    for (size_t i = 0; i < API_NUM_PROFILES; i++) {
        if (strcmp(api_profiles[i], profile) == 0) {
            atomic_fetch_add(&api_issued[i], 1);
        }
    }
}

typedef struct api_text {
    char *p;
    size_t len, cap;
    bool failed;
} api_text;

static void api_text_add(api_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
api_text_add(api_text *t, const char *fmt, ...)
{
    va_list ap;
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_start(ap, fmt);
        int n = vsnprintf(t->p != NULL ? t->p + t->len : NULL, t->cap - t->len, fmt, /* NOLINT */
                          ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *g = ztca_realloc(t->p, cap);
        if (g == NULL) {
            t->failed = true;
            return;
        }
        t->p = g;
        t->cap = cap;
    }
}

ztca_rc
api_metrics_render(const store *st, api_ocsp *ocsp, char **out, size_t *out_len)
{
    api_text t = { NULL, 0, 0, false };
    api_text_add(&t, "# HELP ztca_http_requests_total HTTP requests by route and status.\n"
                     "# TYPE ztca_http_requests_total counter\n");
    for (size_t row = 0; row <= API_MAX_ROUTES; row++) {
        if (row < API_MAX_ROUTES && row >= api_num_routes) {
            continue;
        }
        const char *route = row < api_num_routes ? api_routes[row].pattern : "unmatched";
        const char *method = row < api_num_routes ? api_routes[row].method : "";
        for (size_t col = 0; col < API_NUM_STATUSES; col++) {
            unsigned long long n = atomic_load(&api_requests[row][col]);
            if (n == 0) {
                continue;
            }
            char status[16];
            if (api_statuses[col] != 0) {
                snprintf(status, sizeof(status), "%u", api_statuses[col]);
            } else {
                snprintf(status, sizeof(status), "other");
            }
            api_text_add(
                &t, "ztca_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
                method, route, status, n);
        }
    }
    api_text_add(&t, "# HELP ztca_http_request_duration_seconds Request latency by route.\n"
                     "# TYPE ztca_http_request_duration_seconds histogram\n");
    for (size_t row = 0; row <= API_MAX_ROUTES; row++) {
        if ((row < API_MAX_ROUTES && row >= api_num_routes)
            || atomic_load(&api_latency_count[row]) == 0) {
            continue;
        }
        const char *route = row < api_num_routes ? api_routes[row].pattern : "unmatched";
        for (size_t b = 0; b < API_NUM_BUCKETS; b++) {
            api_text_add(&t,
                         "ztca_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                         route, api_buckets[b], atomic_load(&api_latency_buckets[row][b]));
        }
        unsigned long long count = atomic_load(&api_latency_count[row]);
        api_text_add(&t,
                     "ztca_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                     "ztca_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                     "ztca_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                     route, count, route, (double)atomic_load(&api_latency_sum_us[row]) / 1e6,
                     route, count);
    }
    api_text_add(&t, "# HELP ztca_certificates_issued_total Certificates issued by profile.\n"
                     "# TYPE ztca_certificates_issued_total counter\n");
    for (size_t i = 0; i < API_NUM_PROFILES; i++) {
        api_text_add(&t, "ztca_certificates_issued_total{profile=\"%s\"} %llu\n", api_profiles[i],
                     atomic_load(&api_issued[i]));
    }
    if (st != NULL) {
        /* members / commits is the batch size of group commit (docs/store.md): near 1 says the
         * writes of this node do not overlap, and more worker threads would not help them. */
        store_stats ss;
        store_stats_get(st, &ss);
        api_text_add(&t,
                     "# HELP ztca_store_commits_total Durable commits of the store handle.\n"
                     "# TYPE ztca_store_commits_total counter\n"
                     "ztca_store_commits_total %llu\n"
                     "# HELP ztca_store_commit_members_total Write calls and transactions those "
                     "commits covered.\n"
                     "# TYPE ztca_store_commit_members_total counter\n"
                     "ztca_store_commit_members_total %llu\n"
                     "# HELP ztca_store_queued Threads waiting for the store handle.\n"
                     "# TYPE ztca_store_queued gauge\n"
                     "ztca_store_queued %llu\n"
                     "# HELP ztca_store_syncs_total Syncs of committed data run outside the "
                     "store's lock (SQLite).\n"
                     "# TYPE ztca_store_syncs_total counter\n"
                     "ztca_store_syncs_total %llu\n"
                     "# HELP ztca_store_read_sync_waits_total Reads that waited for the sync of "
                     "a commit they could see.\n"
                     "# TYPE ztca_store_read_sync_waits_total counter\n"
                     "ztca_store_read_sync_waits_total %llu\n",
                     (unsigned long long)ss.commits, (unsigned long long)ss.members,
                     (unsigned long long)ss.queued, (unsigned long long)ss.syncs,
                     (unsigned long long)ss.read_waits);
        if (ss.has_wal) {
            /* A WAL that keeps growing means checkpoints cannot catch up (docs/store.md). */
            api_text_add(&t,
                         "# HELP ztca_store_wal_bytes Size of the SQLite WAL file (SQLite).\n"
                         "# TYPE ztca_store_wal_bytes gauge\n"
                         "ztca_store_wal_bytes %llu\n",
                         (unsigned long long)ss.wal_bytes);
        }
    }
    if (ocsp != NULL) {
        unsigned long long hits = 0, misses = 0, fresh = 0;
        size_t entries = 0;
        api_ocsp_stats(ocsp, &hits, &misses, &fresh, &entries);
        api_text_add(&t,
                     "# HELP ztca_ocsp_cache_hits_total OCSP answers served pre-signed.\n"
                     "# TYPE ztca_ocsp_cache_hits_total counter\n"
                     "ztca_ocsp_cache_hits_total %llu\n"
                     "# HELP ztca_ocsp_cache_misses_total OCSP answers that needed the store and "
                     "a signature.\n"
                     "# TYPE ztca_ocsp_cache_misses_total counter\n"
                     "ztca_ocsp_cache_misses_total %llu\n"
                     "# HELP ztca_ocsp_uncached_total OCSP answers signed for their request "
                     "alone (a nonce, several CertIDs).\n"
                     "# TYPE ztca_ocsp_uncached_total counter\n"
                     "ztca_ocsp_uncached_total %llu\n"
                     "# HELP ztca_ocsp_cache_entries Pre-signed OCSP answers held.\n"
                     "# TYPE ztca_ocsp_cache_entries gauge\n"
                     "ztca_ocsp_cache_entries %zu\n",
                     hits, misses, fresh, entries);
    }
    if (t.failed) {
        ztca_free(t.p);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "metrics: out of memory");
    }
    *out = t.p;
    *out_len = t.len;
    return ZTCA_RC_OK;
}
