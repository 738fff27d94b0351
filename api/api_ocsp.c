/* api_ocsp.c: the OCSP responder (RFC 6960, RFC 5019, RFC 8954) over the codecs of ca/.
 *
 * Most requests (RFC 5019: one CertID, no nonce) are answered from a cache of pre-signed
 * responses held as shared libmicrohttpd response objects, so a hit costs no store access, no
 * signature and no allocation. An entry is dropped when the change feed reports its serial (any
 * node's revocation, hold or unhold) or when the revoke handler of this node commits one, and is
 * re-signed once half of its validity has passed. Requests with a nonce, or several CertIDs, are
 * signed fresh, with each status from the same cache when it holds one (an entry may hold only a
 * status, read for such an answer): dropped and refreshed as above, it is as fresh as a cached
 * answer, and a fresh answer then costs a signature without a store read. A bad request gets an
 * OCSP error status with HTTP 200, never an HTTP error. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define API_OCSP_BUCKETS 4096 /* power of two */

/* What the store said about a serial it knows. The score is kept before the trust policy is
 * applied, so that the policy in force when an answer is built decides whether it is sent. */
typedef struct api_ocsp_status {
    ca_ocsp_cert_status status;
    ztca_time revocation_time;
    ca_crl_reason reason;
    int score; /* -1: none */
} api_ocsp_status;

typedef struct api_ocsp_entry {
    struct api_ocsp_entry *next;      /* bucket chain */
    struct api_ocsp_entry *fifo_next; /* insertion order, for eviction when full */
    struct api_ocsp_entry *fifo_prev;
    uint8_t *certid; /* owned copy of the CertID element: the key */
    size_t certid_len;
    uint8_t serial[DER_SERIAL_MAX + 1];
    size_t serial_len;
    struct MHD_Response *reply; /* one reference held by the cache; NULL: a status only */
    char etag[40];
    api_ocsp_status status;
    ztca_time this_update; /* when the status was read */
    ztca_time refresh_at;  /* half of the validity */
} api_ocsp_entry;

typedef struct api_ocsp_issuer {
    uint8_t name_sha1[20], key_sha1[20], name_sha256[32], key_sha256[32];
} api_ocsp_issuer;

struct api_ocsp {
    pthread_mutex_t lock;
    api_ocsp_entry *buckets[API_OCSP_BUCKETS];
    api_ocsp_entry *fifo_head, *fifo_tail; /* oldest at head */
    size_t num_entries;
    size_t max_entries;
    _Atomic(const api_ocsp_signer *) signer;
    api_ocsp_issuer issuers[API_OCSP_MAX_ISSUERS];
    size_t num_issuers;
    int64_t validity;
    int64_t max_age;
    store *st;
    atomic_ullong hits, misses, fresh;
    /* Bumped (under the lock) by every eviction: an answer built from a status read before an
     * eviction must not be cached after it, or a revocation could stay hidden until refresh. */
    atomic_ullong gen;
};

static size_t
api_ocsp_hash(const uint8_t *p, size_t len)
{
    /* FNV-1a over the serial: serials are random, so this spreads well; the table is not
     * exposed to chosen-key floods beyond what the 32-CertID request limit allows. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 1099511628211ULL;
    }
    return (size_t)(h & (API_OCSP_BUCKETS - 1));
}

ztca_rc
api_ocsp_new(api_ocsp **out, store *st, const uint8_t *const *issuer_certs,
             const size_t *issuer_lens, size_t num_issuers, int64_t validity, int64_t max_age,
             size_t max_entries)
{
    ZTCA_ENSURE(num_issuers > 0 && num_issuers <= API_OCSP_MAX_ISSUERS, ZTCA_ERR_INTERNAL,
                "OCSP: issuer count");
    ZTCA_ENSURE(validity >= 60 && max_age >= 0, ZTCA_ERR_BAD_INPUT,
                "OCSP: validity must be at least a minute");
    api_ocsp *o = calloc(1, sizeof(*o));
    ZTCA_ENSURE(o != NULL, ZTCA_ERR_NOMEM, "OCSP: out of memory");
    for (size_t i = 0; i < num_issuers; i++) {
        api_ocsp_issuer *is = &o->issuers[i];
        ztca_rc rc = ca_ocsp_issuer_hashes(is->name_sha1, is->key_sha1, CA_MD_SHA1, issuer_certs[i],
                                           issuer_lens[i]);
        if (ZTCA_IS_OK(rc)) {
            rc = ca_ocsp_issuer_hashes(is->name_sha256, is->key_sha256, CA_MD_SHA256,
                                       issuer_certs[i], issuer_lens[i]);
        }
        if (!ZTCA_IS_OK(rc)) {
            free(o);
            return rc;
        }
    }
    pthread_mutex_init(&o->lock, NULL);
    o->num_issuers = num_issuers;
    o->validity = validity;
    o->max_age = max_age < validity / 2 ? max_age : validity / 2;
    o->max_entries = max_entries;
    o->st = st;
    *out = o;
    return ZTCA_RC_OK;
}

static void
api_ocsp_unlink(api_ocsp *o, api_ocsp_entry *e)
{
    if (e->fifo_prev != NULL) {
        e->fifo_prev->fifo_next = e->fifo_next;
    } else {
        o->fifo_head = e->fifo_next;
    }
    if (e->fifo_next != NULL) {
        e->fifo_next->fifo_prev = e->fifo_prev;
    } else {
        o->fifo_tail = e->fifo_prev;
    }
    o->num_entries--;
}

static void
api_ocsp_entry_free(api_ocsp_entry *e)
{
    /* Requests still sending this answer keep their own references (libmicrohttpd counts). */
    if (e->reply != NULL) {
        MHD_destroy_response(e->reply);
    }
    free(e->certid);
    free(e);
}

void
api_ocsp_free(api_ocsp *o)
{
    if (o == NULL) {
        return;
    }
    for (size_t b = 0; b < API_OCSP_BUCKETS; b++) {
        for (api_ocsp_entry *e = o->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            api_ocsp_entry_free(e);
        }
    }
    pthread_mutex_destroy(&o->lock);
    free(o);
}

void
api_ocsp_set_signer(api_ocsp *o, const api_ocsp_signer *signer)
{
    atomic_store(&o->signer, signer);
    api_ocsp_clear(o); /* answers of the old signer are re-signed by the new one */
}

void
api_ocsp_clear(api_ocsp *o)
{
    pthread_mutex_lock(&o->lock);
    for (size_t b = 0; b < API_OCSP_BUCKETS; b++) {
        for (api_ocsp_entry *e = o->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            api_ocsp_entry_free(e);
        }
        o->buckets[b] = NULL;
    }
    o->fifo_head = o->fifo_tail = NULL;
    o->num_entries = 0;
    atomic_fetch_add(&o->gen, 1);
    pthread_mutex_unlock(&o->lock);
}

void
api_ocsp_evict_serial(api_ocsp *o, const uint8_t *serial, size_t serial_len)
{
    size_t b = api_ocsp_hash(serial, serial_len);
    pthread_mutex_lock(&o->lock);
    atomic_fetch_add(&o->gen, 1);
    api_ocsp_entry **pp = &o->buckets[b];
    while (*pp != NULL) {
        api_ocsp_entry *e = *pp;
        if (e->serial_len == serial_len && memcmp(e->serial, serial, serial_len) == 0) {
            *pp = e->next;
            api_ocsp_unlink(o, e);
            api_ocsp_entry_free(e);
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&o->lock);
}

void
api_ocsp_evict_serial_hex(api_ocsp *o, const char *serial_hex)
{
    uint8_t serial[DER_SERIAL_MAX + 1];
    size_t len = 0;
    if (ZTCA_IS_OK(ztca_hex_decode(serial, sizeof(serial), &len, serial_hex))) {
        api_ocsp_evict_serial(o, serial, len);
    }
}

void
api_ocsp_stats(api_ocsp *o, unsigned long long *hits, unsigned long long *misses,
               unsigned long long *fresh, size_t *entries)
{
    *hits = atomic_load(&o->hits);
    *misses = atomic_load(&o->misses);
    *fresh = atomic_load(&o->fresh);
    pthread_mutex_lock(&o->lock);
    *entries = o->num_entries;
    pthread_mutex_unlock(&o->lock);
}

void
api_http_date(char *out, size_t out_size, ztca_time t)
{
    static const char *const days[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    ztca_tm tm;
    if (!ZTCA_IS_OK(ztca_time_to_tm(&tm, t)) || t < 0) {
        snprintf(out, out_size, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, out_size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[(t / 86400) % 7], tm.day,
             months[tm.mon - 1], tm.year, tm.hour, tm.min, tm.sec);
}

/* RFC 5019 6.2 headers of a cacheable answer. */
static void
api_ocsp_cache_headers(api_ocsp *o, struct MHD_Response *resp, ztca_time now, ztca_time next,
                       const char *etag)
{
    char v[96];
    int64_t age = next - now < o->max_age ? next - now : o->max_age;
    snprintf(v, sizeof(v), "max-age=%lld, public, no-transform, must-revalidate",
             (long long)(age > 0 ? age : 0));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, v);
    api_http_date(v, sizeof(v), now);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, v);
    api_http_date(v, sizeof(v), next);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_EXPIRES, v);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
}

static bool
api_ocsp_not_modified(api_req *r, const char *etag)
{
    const char *inm =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    return inm != NULL && strstr(inm, etag) != NULL;
}

static void
api_ocsp_reply_304(api_req *r, api_ocsp *o, const char *etag, ztca_time this_update)
{
    api_reply_bytes(r, 304, "application/ocsp-response", "", 0);
    if (r->reply != NULL) {
        api_ocsp_cache_headers(o, r->reply, this_update, this_update + o->validity, etag);
    }
}

/* Answers from the cache when it holds a fresh answer for this CertID: the shared response is
 * queued while the lock is held, so an eviction cannot free it in between (libmicrohttpd counts
 * the references; the cache's own goes when the entry does). */
static bool
api_ocsp_serve_cached(api_ocsp *o, api_req *r, const ca_ocsp_certid *id, ztca_time now,
                      bool stale_ok)
{
    bool served = false, not_modified = false;
    char etag[40];
    ztca_time this_update = 0;
    size_t b = api_ocsp_hash(id->serial.p, id->serial.len);
    pthread_mutex_lock(&o->lock);
    for (api_ocsp_entry *e = o->buckets[b]; e != NULL; e = e->next) {
        if (e->certid_len == id->element.len
            && memcmp(e->certid, id->element.p, id->element.len) == 0) {
            if (e->reply == NULL) {
                break; /* a status only: signed on the miss path, without a store read */
            }
            /* Normally refreshed at half its validity; with the store away (fail static) an
             * answer is good until its nextUpdate. One whose thisUpdate is after now was made
             * before the wall clock stepped back: clients refuse it as not yet valid (RFC 6960
             * 4.2.2.1), so it is never served. */
            if (now >= e->this_update
                && now < (stale_ok ? e->this_update + o->validity : e->refresh_at)) {
                served = true;
                if (api_ocsp_not_modified(r, e->etag)) {
                    not_modified = true;
                    snprintf(etag, sizeof(etag), "%s", e->etag);
                    this_update = e->this_update;
                } else {
                    api_reply_queue_shared(r, 200, e->reply);
                }
            }
            break;
        }
    }
    pthread_mutex_unlock(&o->lock);
    if (not_modified) {
        api_ocsp_reply_304(r, o, etag, this_update);
    }
    return served;
}

/* The status of this CertID when the cache holds one that is still fresh (the rule of cached
 * answers: until half the validity has passed, unless dropped before), and when it was read. */
static bool
api_ocsp_cached_status(api_ocsp *o, const ca_ocsp_certid *id, ztca_time now, api_ocsp_status *out,
                       ztca_time *read_at)
{
    bool found = false;
    size_t b = api_ocsp_hash(id->serial.p, id->serial.len);
    pthread_mutex_lock(&o->lock);
    for (api_ocsp_entry *e = o->buckets[b]; e != NULL; e = e->next) {
        if (e->certid_len == id->element.len
            && memcmp(e->certid, id->element.p, id->element.len) == 0) {
            if (now >= e->this_update && now < e->refresh_at) {
                *out = e->status;
                *read_at = e->this_update;
                found = true;
            }
            break;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return found;
}

/* Caches a signed answer (`reply`, which replaces any entry of the CertID) or, with `reply`
 * NULL, a status alone (which replaces only an entry due for refresh). */
static void
api_ocsp_insert(api_ocsp *o, const ca_ocsp_certid *id, struct MHD_Response *reply, const char *etag,
                const api_ocsp_status *status, ztca_time this_update, unsigned long long gen)
{
    api_ocsp_entry *e = calloc(1, sizeof(*e));
    uint8_t *certid = malloc(id->element.len);
    if (e == NULL || certid == NULL || id->serial.len > sizeof(e->serial) || o->max_entries == 0) {
        free(e);
        free(certid);
        if (reply != NULL) {
            MHD_destroy_response(reply);
        }
        return;
    }
    memcpy(certid, id->element.p, id->element.len);
    e->certid = certid;
    e->certid_len = id->element.len;
    memcpy(e->serial, id->serial.p, id->serial.len);
    e->serial_len = id->serial.len;
    e->reply = reply;
    snprintf(e->etag, sizeof(e->etag), "%s", etag != NULL ? etag : "");
    e->status = *status;
    e->this_update = this_update;
    e->refresh_at = this_update + o->validity / 2;
    size_t b = api_ocsp_hash(e->serial, e->serial_len);
    pthread_mutex_lock(&o->lock);
    if (atomic_load(&o->gen) != gen) {
        /* Something was evicted since this answer's status was read: it may be stale. */
        pthread_mutex_unlock(&o->lock);
        api_ocsp_entry_free(e);
        return;
    }
    /* An answer replaces an older entry of the same CertID (two threads signed it at once, or
     * it held a status only); a status only leaves a fresh entry as it is. */
    for (api_ocsp_entry **pp = &o->buckets[b]; *pp != NULL; pp = &(*pp)->next) {
        api_ocsp_entry *old = *pp;
        if (old->certid_len == e->certid_len
            && memcmp(old->certid, e->certid, e->certid_len) == 0) {
            if (reply == NULL && old->refresh_at > this_update) {
                pthread_mutex_unlock(&o->lock);
                api_ocsp_entry_free(e);
                return;
            }
            *pp = old->next;
            api_ocsp_unlink(o, old);
            api_ocsp_entry_free(old);
            break;
        }
    }
    /* The entry replaced above was unlinked from the FIFO before it was freed, so the head is
     * a live entry; the analyzer cannot follow the two lists. */
    /* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
    while (o->num_entries >= o->max_entries && o->fifo_head != NULL) {
        api_ocsp_entry *oldest = o->fifo_head;
        size_t ob = api_ocsp_hash(oldest->serial, oldest->serial_len);
        for (api_ocsp_entry **pp = &o->buckets[ob]; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == oldest) {
                *pp = oldest->next;
                break;
            }
        }
        api_ocsp_unlink(o, oldest);
        api_ocsp_entry_free(oldest);
    }
    /* NOLINTEND(clang-analyzer-unix.Malloc) */
    e->next = o->buckets[b];
    o->buckets[b] = e;
    e->fifo_prev = o->fifo_tail;
    if (o->fifo_tail != NULL) {
        o->fifo_tail->fifo_next = e;
    } else {
        o->fifo_head = e;
    }
    o->fifo_tail = e;
    o->num_entries++;
    pthread_mutex_unlock(&o->lock);
}

static void
api_ocsp_reply_status(api_req *r, ca_ocsp_status status)
{
    const uint8_t *der = NULL;
    size_t len = 0;
    if (!ZTCA_IS_OK(ca_ocsp_resp_status_only(&der, &len, status))) {
        api_reply_problem(r, 500, "internal", "Internal error", NULL);
        return;
    }
    api_reply_bytes(r, 200, "application/ocsp-response", der, len);
    api_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/* The issuer of a CertID, or -1 when it is not one of ours. */
static int
api_ocsp_issuer_of(const api_ocsp *o, const ca_ocsp_certid *id)
{
    for (size_t i = 0; i < o->num_issuers; i++) {
        const api_ocsp_issuer *is = &o->issuers[i];
        if ((id->md == CA_MD_SHA1
             && ca_ocsp_certid_has_issuer(id, CA_MD_SHA1, is->name_sha1, is->key_sha1))
            || (id->md == CA_MD_SHA256
                && ca_ocsp_certid_has_issuer(id, CA_MD_SHA256, is->name_sha256, is->key_sha256))) {
            return (int)i;
        }
    }
    return -1;
}

/* The status of a serial of ours from the store: NOT_FOUND when it was never issued by this CA
 * (or purged long after expiry). */
static ztca_rc
api_ocsp_status_read(api_ocsp *o, const ca_ocsp_certid *id, api_ocsp_status *out)
{
    char hex[2 * (DER_SERIAL_MAX + 1) + 1];
    ZTCA_GUARD(ztca_hex_encode(hex, sizeof(hex), id->serial.p, id->serial.len));
    store_cert_state st;
    ZTCA_GUARD(store_cert_status_get(o->st, hex, &st));
    memset(out, 0, sizeof(*out));
    out->score = st.score;
    switch (st.status) {
    case STORE_CERT_GOOD:
        out->status = CA_OCSP_GOOD;
        break;
    case STORE_CERT_HOLD:
        out->status = CA_OCSP_REVOKED;
        out->revocation_time = st.revoked_at;
        out->reason = CA_REASON_CERTIFICATE_HOLD;
        break;
    case STORE_CERT_REVOKED:
        out->status = CA_OCSP_REVOKED;
        out->revocation_time = st.revoked_at;
        out->reason = st.reason >= 0 ? (ca_crl_reason)st.reason : CA_REASON_UNSPECIFIED;
        break;
    }
    return ZTCA_RC_OK;
}

/* The SingleResponse of one CertID: from a status the cache holds, else from the store (`*read`
 * says which, so that the caller can cache what it read). thisUpdate is when the status was read
 * (RFC 6960 4.2.2.1: the time the status is known to have been correct); for a status read now
 * it is now. */
static ztca_rc
api_ocsp_entry_for(api_ocsp *o, const ca_ocsp_certid *id, ztca_time now, const trust_policy *tp,
                   ca_ocsp_entry *out, api_ocsp_status *status, bool *read)
{
    memset(out, 0, sizeof(*out));
    *read = false;
    out->certid = id->element;
    out->this_update = now;
    out->trust_score = CA_TRUST_SCORE_NONE;
    out->status = CA_OCSP_UNKNOWN;
    if (!id->hash_is_supported || api_ocsp_issuer_of(o, id) < 0) {
        out->next_update = now + o->validity;
        return ZTCA_RC_OK;
    }
    if (!api_ocsp_cached_status(o, id, now, status, &out->this_update)) {
        ztca_rc rc = api_ocsp_status_read(o, id, status);
        if (rc.err == ZTCA_ERR_NOT_FOUND || rc.err == ZTCA_ERR_BAD_INPUT) {
            out->next_update = now + o->validity;
            return ZTCA_RC_OK; /* never issued by this CA (or purged long after expiry): unknown */
        }
        ZTCA_GUARD(rc);
        *read = true;
    }
    out->next_update = out->this_update + o->validity;
    out->status = status->status;
    out->revocation_time = status->revocation_time;
    out->reason = status->reason;
    /* DESIGN.md 4: the agent's or device's score rides along, when the policy says so (its OID
     * breaks some parsers, docs/trust.md). */
    if (tp->score_extension && status->score >= 0) {
        out->trust_score = status->score;
    }
    return ZTCA_RC_OK;
}

/* The strong ETag of a response: a prefix of its SHA-256. */
static void
api_ocsp_etag(char *out, size_t out_size, const uint8_t *der, size_t len)
{
    uint8_t h[32];
    char hex[33];
    if (!ZTCA_IS_OK(ca_hash(CA_MD_SHA256, der, len, h, sizeof(h)))
        || !ZTCA_IS_OK(ztca_hex_encode(hex, sizeof(hex), h, 16))) {
        snprintf(out, out_size, "\"0\"");
        return;
    }
    snprintf(out, out_size, "\"%s\"", hex);
}

/* api_ocsp_answer: everything after the request bytes are known (POST body or GET path). */
static ztca_rc
api_ocsp_answer(api_req *r, const uint8_t *der, size_t len)
{
    api_ocsp *o = api_server_ocsp(r->srv);
    ca_ocsp_req req;
    ca_ocsp_entry entries[CA_OCSP_MAX_REQS];
    const api_ocsp_signer *signer = o != NULL ? atomic_load(&o->signer) : NULL;
    if (o == NULL || signer == NULL) {
        api_ocsp_reply_status(r, CA_OCSP_TRY_LATER);
        return ZTCA_RC_OK;
    }
    if (!ZTCA_IS_OK(ca_ocsp_req_parse(&req, der, len))) {
        api_ocsp_reply_status(r, CA_OCSP_MALFORMED_REQUEST);
        return ZTCA_RC_OK;
    }
    /* RFC 6960 2.3: a responder answers only for the CAs it serves. A hash we do not know cannot
     * be matched and gets "unknown" for its CertID (docs/ocsp.md). */
    for (size_t i = 0; i < req.num_ids; i++) {
        if (req.ids[i].hash_is_supported && api_ocsp_issuer_of(o, &req.ids[i]) < 0) {
            api_ocsp_reply_status(r, CA_OCSP_UNAUTHORIZED);
            return ZTCA_RC_OK;
        }
    }
    ztca_time now = ztca_now();
    const trust_policy *tp = api_server_trust_policy(r->srv);
    bool cacheable = !req.has_nonce && req.num_ids == 1;
    char etag[40];
    if (cacheable) {
        if (api_ocsp_serve_cached(o, r, &req.ids[0], now, false)) {
            atomic_fetch_add(&o->hits, 1);
            return ZTCA_RC_OK;
        }
        atomic_fetch_add(&o->misses, 1);
    } else {
        atomic_fetch_add(&o->fresh, 1);
    }
    api_ocsp_status status[CA_OCSP_MAX_REQS];
    bool read[CA_OCSP_MAX_REQS];
    unsigned long long gen = atomic_load(&o->gen); /* before any status is read */
    for (size_t i = 0; i < req.num_ids; i++) {
        status[i] = (api_ocsp_status){ .status = CA_OCSP_UNKNOWN, .score = -1 };
        if (!ZTCA_IS_OK(
                api_ocsp_entry_for(o, &req.ids[i], now, tp, &entries[i], &status[i], &read[i]))) {
            /* The store is away: the signed answer we still hold, until its nextUpdate (fail
             * static, docs/scaling.md); else clients retry later (RFC 6960 2.3), never a 5xx. */
            if (cacheable && api_ocsp_serve_cached(o, r, &req.ids[0], now, true)) {
                atomic_fetch_add(&o->hits, 1);
                return ZTCA_RC_OK;
            }
            api_ocsp_reply_status(r, CA_OCSP_TRY_LATER);
            return ZTCA_RC_OK;
        }
    }
    ca_ocsp_resp_params p = {
        .signer_cert = signer->cert_der,
        .signer_cert_len = signer->cert_len,
        .produced_at = now,
        .entries = entries,
        .num_entries = req.num_ids,
        .nonce = req.has_nonce ? req.nonce.p : NULL,
        .nonce_len = req.has_nonce ? req.nonce.len : 0,
        .score_oid = tp->score_oid_len > 0 ? tp->score_oid : NULL,
        .score_oid_len = tp->score_oid_len,
    };
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    if (!ZTCA_IS_OK(ca_ocsp_resp_build(&resp, &resp_len, signer->signer, &p))) {
        ztca_log(ZTCA_LOG_ERROR, "request_id=%s event=ocsp_sign_failed what=\"%s\"", r->id,
                 ztca_last_what());
        api_ocsp_reply_status(r, CA_OCSP_INTERNAL_ERROR);
        return ZTCA_RC_OK;
    }
    if (!cacheable) { /* no-store: no ETag, whose SHA-256 cost 5% of a nonce answer */
        api_reply_bytes(r, 200, "application/ocsp-response", resp, resp_len);
        api_reply_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        free(resp);
        for (size_t i = 0; i < req.num_ids; i++) {
            if (read[i]) {
                api_ocsp_insert(o, &req.ids[i], NULL, NULL, &status[i], now, gen);
            }
        }
        return ZTCA_RC_OK;
    }
    api_ocsp_etag(etag, sizeof(etag), resp, resp_len);
    struct MHD_Response *shared =
        MHD_create_response_from_buffer_with_free_callback(resp_len, resp, free);
    if (shared == NULL) {
        free(resp);
        api_ocsp_reply_status(r, CA_OCSP_INTERNAL_ERROR);
        return ZTCA_RC_OK;
    }
    MHD_add_response_header(shared, MHD_HTTP_HEADER_CONTENT_TYPE, "application/ocsp-response");
    api_ocsp_cache_headers(o, shared, entries[0].this_update, entries[0].next_update, etag);
    api_reply_queue_shared(r, 200, shared);
    /* the cache keeps the creation ref */
    api_ocsp_insert(o, &req.ids[0], shared, etag, &status[0], entries[0].this_update, gen);
    return ZTCA_RC_OK;
}

ztca_rc
api_h_ocsp_post(api_req *r)
{
    return api_ocsp_answer(r, r->body, r->body_len);
}

ztca_rc
api_h_ocsp_get(api_req *r)
{
    /* RFC 5019 A.1: GET {url}/{url-encoding of base64 encoding of the DER OCSPRequest}. Clients
     * escape '+', '/' and '=' or not, and a '/' of the base64 may make "//": all arrive here as
     * the raw rest of the path (api_route.c). */
    char b64[API_PATH_MAX + 4];
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (r->rest == NULL
        || !ZTCA_IS_OK(api_percent_decode(b64, sizeof(b64) - 3, r->rest, strlen(r->rest)))) {
        api_ocsp_reply_status(r, CA_OCSP_MALFORMED_REQUEST);
        return ZTCA_RC_OK;
    }
    size_t n = strlen(b64);
    while (n % 4 != 0) {
        b64[n++] = '='; /* some clients leave out the padding */
    }
    b64[n] = '\0';
    if (!ZTCA_IS_OK(ztca_base64_decode(&der, &der_len, b64, n))) {
        api_ocsp_reply_status(r, CA_OCSP_MALFORMED_REQUEST);
        return ZTCA_RC_OK;
    }
    ztca_rc rc = api_ocsp_answer(r, der, der_len);
    ztca_free(der);
    return rc;
}
