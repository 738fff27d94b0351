/* api_authz.c: variable trust at the enforcement point (docs/authz.md). nginx's auth_request and
 * Envoy's ext_authz ask "may this client certificate reach a resource that requires score N?"
 * on every request, so the answer comes from memory: a certificate's verification is cached by
 * the hash of its DER, and its status and score are re-read from the store only after the
 * change feed said that something changed (a generation counter), exactly when the OCSP cache
 * drops its answers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define API_AUTHZ_SLOTS 4096 /* direct-mapped by DER hash; a collision re-verifies, that is all */

typedef struct api_authz_entry {
    bool used;
    uint8_t hash[32];
    unsigned long gen; /* the generation `status` and `score` were read in */
    ztca_time not_before, not_after;
    char serial[STORE_SERIAL_MAX + 1];
    char uri[CA_URL_MAX];
    char kind[16];
    char device_id[CA_NAME_MAX + 1];
    char user[CA_NAME_MAX + 1];
    store_cert_status status;
    int score; /* -1: the identity has no score (workload, admin, ...) */
} api_authz_entry;

struct api_authz {
    ca_trust *trust;
    store *st;
    atomic_ulong gen;
    pthread_mutex_t lock;
    api_authz_entry slots[API_AUTHZ_SLOTS];
};

ztca_rc
api_authz_new(api_authz **out, const api_app *app)
{
    api_authz *a = calloc(1, sizeof(*a));
    ZTCA_ENSURE(a != NULL, ZTCA_ERR_NOMEM, "authz: out of memory");
    ztca_rc rc =
        ca_trust_new(&a->trust, app->issuer_certs, app->issuer_cert_lens, app->num_issuer_certs);
    if (!ZTCA_IS_OK(rc)) {
        free(a);
        return rc;
    }
    pthread_mutex_init(&a->lock, NULL);
    a->st = app->store;
    atomic_store(&a->gen, 1);
    *out = a;
    return ZTCA_RC_OK;
}

void
api_authz_free(api_authz *a)
{
    if (a != NULL) {
        ca_trust_free(a->trust);
        pthread_mutex_destroy(&a->lock);
        free(a);
    }
}

void
api_authz_changed(api_authz *a)
{
    if (a != NULL) {
        atomic_fetch_add(&a->gen, 1);
    }
}

static api_authz_entry *
api_authz_slot(api_authz *a, const uint8_t hash[32])
{
    size_t i = ((size_t)hash[0] << 8 | hash[1]) % API_AUTHZ_SLOTS;
    return &a->slots[i];
}

/* Verification and identity of a certificate not seen before (or pushed out of its slot). */
static ztca_rc
api_authz_learn(api_authz *a, api_req *r, const api_authz_req *q, api_authz_entry *e,
                const char **out_reason)
{
    ca_cert_info info;
    ca_spiffe id;
    ZTCA_GUARD(ca_trust_check_client(a->trust, q->der, q->der_len, ztca_now(), out_reason));
    if (!ZTCA_IS_OK(ca_cert_info_parse(&info, q->der, q->der_len))
        || !ZTCA_IS_OK(ca_spiffe_parse(&id, info.uri, r->cfg->trust_domain))) {
        *out_reason = "no identity of this trust domain (URI SAN)";
        ZTCA_BAIL(ZTCA_ERR_DENIED, "certificate without our identity");
    }
    snprintf(e->serial, sizeof(e->serial), "%s", info.serial_hex);
    snprintf(e->uri, sizeof(e->uri), "%s", info.uri);
    snprintf(e->kind, sizeof(e->kind), "%s", ca_profile_get(id.kind)->name);
    snprintf(e->device_id, sizeof(e->device_id), "%s", id.device_id);
    snprintf(e->user, sizeof(e->user), "%s", id.user);
    e->not_before = info.not_before;
    e->not_after = info.not_after;
    return ZTCA_RC_OK;
}

static void
api_authz_deny(api_req *r, unsigned status, const char *reason, const char *detail)
{
    char type[48];
    snprintf(type, sizeof(type), "authz-%s", reason);
    api_reply_problem(r, status, type, status == 403 ? "Forbidden" : "Bad request", detail);
    api_reply_header(r, "X-Ztca-Reason", reason);
}

ztca_rc
api_h_authz(api_req *r)
{
    api_authz *a = api_server_authz(r->srv);
    api_authz_req q;
    const char *type = NULL;
    const char *reason = "";
    api_authz_entry e;
    uint8_t hash[32];
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_ENSURE(a != NULL, ZTCA_ERR_INTERNAL, "authz: not configured");
    rc = api_decode_authz(
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Client-Cert"),
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-Client-Cert"),
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Ztca-Min-Score"), &q, &type);
    if (!ZTCA_IS_OK(rc)) {
        if (rc.err == ZTCA_ERR_BAD_INPUT && type != NULL) {
            api_authz_deny(r, 400, type + sizeof("authz-") - 1, ztca_last_what());
        }
        return rc;
    }
    /* The cache key is the header text as the proxy sent it, so a known certificate costs no
     * unescaping, base64 or DER work (a certificate is public: no constant time needed). */
    ZTCA_CHECK(
        ca_hash(CA_MD_SHA256, (const uint8_t *)q.cert_text, q.cert_text_len, hash, sizeof(hash)));
    unsigned long gen = atomic_load(&a->gen);
    pthread_mutex_lock(&a->lock);
    api_authz_entry *slot = api_authz_slot(a, hash);
    bool known = slot->used && memcmp(slot->hash, hash, sizeof(hash)) == 0;
    if (known) {
        e = *slot;
    }
    pthread_mutex_unlock(&a->lock);
    if (!known) {
        memset(&e, 0, sizeof(e));
        rc = api_authz_req_decode(&q, &type);
        if (!ZTCA_IS_OK(rc)) {
            api_authz_deny(r, 400, "bad-certificate", ztca_last_what());
            goto out;
        }
        rc = api_authz_learn(a, r, &q, &e, &reason);
        /* Refusals are never cached: a refused certificate costs a verification each time, but
         * nobody can fill the cache with junk that pushes good entries out. */
        if (rc.err == ZTCA_ERR_BAD_INPUT) {
            api_authz_deny(r, 400, "bad-certificate", reason);
            goto out;
        }
        if (rc.err == ZTCA_ERR_DENIED) {
            api_authz_deny(r, 403, "untrusted", reason);
            goto out;
        }
        ZTCA_CHECK(rc);
        memcpy(e.hash, hash, sizeof(hash));
        e.used = true;
        e.gen = 0; /* status not read yet */
    }
    if (e.gen != gen) {
        store_cert_state st;
        rc = store_cert_status_get(a->st, e.serial, &st);
        if (rc.err == ZTCA_ERR_NOT_FOUND) {
            api_authz_deny(r, 403, "unknown-certificate",
                           "this CA has no record of the certificate (purged or forged)");
            goto out;
        }
        if (rc.err == ZTCA_ERR_STORE && e.gen != 0) {
            /* Fail static: the store is away, answer from the last status we read. */
            rc = ZTCA_RC_OK;
        } else {
            ZTCA_CHECK(rc);
            e.status = st.status;
            e.score = st.score;
            e.gen = gen;
            pthread_mutex_lock(&a->lock);
            *api_authz_slot(a, hash) = e;
            pthread_mutex_unlock(&a->lock);
        }
    }

    ztca_time now = ztca_now();
    char detail[160];
    if (now < e.not_before || now > e.not_after) {
        api_authz_deny(r, 403, "expired", "the client certificate is outside its validity");
    } else if (e.status == STORE_CERT_REVOKED) {
        api_authz_deny(r, 403, "revoked", "the client certificate is revoked");
    } else if (e.status == STORE_CERT_HOLD) {
        api_authz_deny(r, 403, "held",
                       "the client certificate is on hold (trust score below the hold "
                       "threshold, or an administrator's hold)");
    } else if (q.min_score > 0 && e.score < 0) {
        snprintf(detail, sizeof(detail),
                 "the resource requires trust score %d and a %s identity has no score", q.min_score,
                 e.kind);
        api_authz_deny(r, 403, "no-score", detail);
    } else if (e.score < q.min_score) {
        snprintf(detail, sizeof(detail), "trust score %d is below the %d this resource requires",
                 e.score, q.min_score);
        api_authz_deny(r, 403, "score-too-low", detail);
    } else {
        char score[8];
        snprintf(score, sizeof(score), "%d", e.score);
        json_t *body =
            json_pack("{s:b, s:s, s:s, s:s?, s:s?, s:o, s:s}", "allowed", 1, "identity", e.uri,
                      "kind", e.kind, "device_id", e.device_id[0] != '\0' ? e.device_id : NULL,
                      "user", e.user[0] != '\0' ? e.user : NULL, "score",
                      e.score >= 0 ? json_integer(e.score) : json_null(), "serial", e.serial);
        api_reply_json(r, 200, body);
        /* For auth_request_set / Envoy's allowed_upstream_headers. */
        api_reply_header(r, "X-Ztca-Identity", e.uri);
        api_reply_header(r, "X-Ztca-Kind", e.kind);
        api_reply_header(r, "X-Ztca-Device", e.device_id);
        api_reply_header(r, "X-Ztca-User", e.user);
        api_reply_header(r, "X-Ztca-Score", e.score >= 0 ? score : "");
        api_reply_header(r, "X-Ztca-Serial", e.serial);
    }
out:
    api_authz_req_free(&q);
    return rc;
}
