/* api_crl.c: GET /crl: the full CRL of the issuing CA (RFC 5280 5), kept as one shared answer,
 * rebuilt on the first request after a status change (so bursts of revocations coalesce) and once
 * half of its validity has passed. While the store is away the last CRL is served until its
 * nextUpdate (fail static). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

struct api_crl {
    pthread_mutex_t lock;       /* also serialises rebuilds: concurrent requests wait for one */
    struct MHD_Response *reply; /* one reference held here */
    char etag[40];
    ztca_time this_update;
    ztca_time next_update;
    uint64_t number;
    atomic_bool dirty;
    store *st;
    ca_issuer *issuer;
    int64_t validity;
    int64_t max_age;
};

ztca_rc
api_crl_new(api_crl **out, store *st, ca_issuer *issuer, int64_t validity, int64_t max_age)
{
    ZTCA_ENSURE(validity >= 60, ZTCA_ERR_BAD_INPUT, "CRL: validity must be at least a minute");
    api_crl *c = calloc(1, sizeof(*c));
    ZTCA_ENSURE(c != NULL, ZTCA_ERR_NOMEM, "CRL: out of memory");
    pthread_mutex_init(&c->lock, NULL);
    c->st = st;
    c->issuer = issuer;
    c->validity = validity;
    c->max_age = max_age < validity / 2 ? max_age : validity / 2;
    atomic_store(&c->dirty, true);
    *out = c;
    return ZTCA_RC_OK;
}

void
api_crl_free(api_crl *c)
{
    if (c == NULL) {
        return;
    }
    if (c->reply != NULL) {
        MHD_destroy_response(c->reply);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void
api_crl_invalidate(api_crl *c)
{
    atomic_store(&c->dirty, true);
}

typedef struct api_crl_list {
    ca_crl_entry *entries;
    uint8_t (*serials)[DER_SERIAL_MAX + 1];
    size_t num, cap;
} api_crl_list;

static ztca_rc
api_crl_collect(void *ctx, const store_cert *c)
{
    api_crl_list *l = ctx;
    if (l->num == l->cap) {
        size_t cap = l->cap == 0 ? 256 : l->cap * 2;
        ca_crl_entry *e = realloc(l->entries, cap * sizeof(*e));
        if (e != NULL) {
            l->entries = e;
        }
        uint8_t(*s)[DER_SERIAL_MAX + 1] = realloc(l->serials, cap * sizeof(*s));
        if (s != NULL) {
            l->serials = s;
        }
        ZTCA_ENSURE(e != NULL && s != NULL, ZTCA_ERR_NOMEM, "CRL: out of memory");
        l->cap = cap;
    }
    size_t len = 0;
    ZTCA_GUARD(ztca_hex_decode(l->serials[l->num], sizeof(l->serials[0]), &len, c->serial));
    ca_crl_entry *e = &l->entries[l->num];
    memset(e, 0, sizeof(*e));
    e->serial_len = len;
    e->revocation_date = c->revoked_at;
    e->reason = c->status == STORE_CERT_HOLD ? CA_REASON_CERTIFICATE_HOLD
                : c->reason >= 0             ? (ca_crl_reason)c->reason
                                             : CA_REASON_UNSPECIFIED;
    l->num++;
    return ZTCA_RC_OK;
}

/* Serials in numeric order (RFC 5280 does not require it; ca_crl_build does, for a canonical
 * CRL): by length without leading zeros, then by bytes. */
static int
api_crl_cmp(const void *a, const void *b)
{
    const ca_crl_entry *x = a, *y = b;
    const uint8_t *xp = x->serial, *yp = y->serial;
    size_t xl = x->serial_len, yl = y->serial_len;
    while (xl > 0 && *xp == 0) {
        xp++;
        xl--;
    }
    while (yl > 0 && *yp == 0) {
        yp++;
        yl--;
    }
    if (xl != yl) {
        return xl < yl ? -1 : 1;
    }
    return memcmp(xp, yp, xl);
}

/* Builds and publishes a new CRL; called with the lock held. */
static ztca_rc
api_crl_rebuild(api_crl *c, ztca_time now)
{
    api_crl_list l = { NULL, NULL, 0, 0 };
    uint8_t *der = NULL;
    size_t der_len = 0;
    ztca_rc rc = store_cert_list_revoked(c->st, now, api_crl_collect, &l);
    if (ZTCA_IS_OK(rc)) {
        for (size_t i = 0; i < l.num; i++) {
            l.entries[i].serial = l.serials[i];
        }
        if (l.num > 1) { /* an empty list has no array: qsort's pointer must not be NULL */
            qsort(l.entries, l.num, sizeof(l.entries[0]), api_crl_cmp);
        }
        /* cRLNumber grows with every CRL this node makes and follows the clock across nodes
         * (RFC 5280 5.2.3 wants it monotonic for the CRL's scope). */
        uint64_t number = (uint64_t)now > c->number ? (uint64_t)now : c->number + 1;
        ca_crl_params p = { .number = number,
                            .this_update = now,
                            .next_update = now + c->validity,
                            .entries = l.entries,
                            .num_entries = l.num };
        rc = ca_crl_build(&der, &der_len, c->issuer, &p);
        if (ZTCA_IS_OK(rc)) {
            c->number = number;
        }
    }
    free(l.entries);
    free(l.serials);
    ZTCA_GUARD(rc);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(der_len, der, free);
    if (resp == NULL) {
        free(der);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "CRL: out of memory");
    }
    uint8_t h[32];
    char hex[33], v[96];
    if (ZTCA_IS_OK(ca_hash(CA_MD_SHA256, der, der_len, h, sizeof(h)))
        && ZTCA_IS_OK(ztca_hex_encode(hex, sizeof(hex), h, 16))) {
        snprintf(c->etag, sizeof(c->etag), "\"%s\"", hex);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/pkix-crl");
    snprintf(v, sizeof(v), "max-age=%lld, public, no-transform, must-revalidate",
             (long long)c->max_age);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, v);
    api_http_date(v, sizeof(v), now);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, v);
    api_http_date(v, sizeof(v), now + c->validity);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_EXPIRES, v);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, c->etag);
    if (c->reply != NULL) {
        MHD_destroy_response(c->reply);
    }
    c->reply = resp;
    c->this_update = now;
    c->next_update = now + c->validity;
    return ZTCA_RC_OK;
}

ztca_rc
api_h_crl(api_req *r)
{
    api_crl *c = api_server_crl(r->srv);
    ztca_time now = ztca_now();
    ZTCA_ENSURE(c != NULL, ZTCA_ERR_INTERNAL, "CRL: not configured");
    pthread_mutex_lock(&c->lock);
    /* A thisUpdate after now means the wall clock stepped back since it was made: clients
     * would refuse that CRL as not yet valid, so it is made again on the clock we have now. */
    bool stale =
        c->reply == NULL || now < c->this_update || now >= c->this_update + c->validity / 2;
    if (stale || atomic_exchange(&c->dirty, false)) {
        ztca_rc rc = api_crl_rebuild(c, now);
        if (!ZTCA_IS_OK(rc)) {
            atomic_store(&c->dirty, true);
            if (c->reply == NULL || now < c->this_update || now >= c->next_update) {
                pthread_mutex_unlock(&c->lock);
                return rc; /* 503 from the store, 500 otherwise */
            }
            ztca_log(ZTCA_LOG_WARN, "request_id=%s event=crl_stale what=\"%s\"", r->id,
                     ztca_last_what());
        }
    }
    const char *inm =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm != NULL && strstr(inm, c->etag) != NULL) {
        char etag[40];
        snprintf(etag, sizeof(etag), "%s", c->etag);
        pthread_mutex_unlock(&c->lock);
        api_reply_bytes(r, 304, "application/pkix-crl", "", 0);
        api_reply_header(r, MHD_HTTP_HEADER_ETAG, etag);
        return ZTCA_RC_OK;
    }
    api_reply_queue_shared(r, 200, c->reply);
    pthread_mutex_unlock(&c->lock);
    return ZTCA_RC_OK;
}
