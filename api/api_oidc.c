/* api_oidc.c: workload certificates for CI jobs (docs/workload.md): POST /v1/certs with an OIDC
 * ID token as bearer, and the administration of the provisioners that say which tokens count.
 *
 * Provisioners live in the store, so every node sees the same ones; each node keeps them parsed
 * in memory for a few seconds, and keeps each remote JWKS with enroll/'s cache policy (refetched
 * hourly, and on an unknown kid at most once a minute). The replay key of an accepted token is
 * claimed in the same store transaction that records the certificate. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_curl.h"
#include "api/internal.h"
#include "enroll/enroll.h"

#define API_OIDC_MAX_PROVISIONERS 64
#define API_OIDC_RELOAD_S         5 /* how stale a node's view of the provisioners may be */
#define API_OIDC_JWKS_TIMEOUT_S   5

typedef struct api_oidc_entry {
    enroll_provisioner prov;
    enroll_jwks_cache cache; /* for jwks_uri */
} api_oidc_entry;

struct api_oidc {
    pthread_mutex_t lock; /* the table, and JWKS fetches (at most one a minute each) */
    api_oidc_entry *entries[API_OIDC_MAX_PROVISIONERS];
    size_t num;
    ztca_time loaded_at;
    store *st;
};

ztca_rc
api_oidc_new(api_oidc **out, store *st)
{
    api_oidc *o = calloc(1, sizeof(*o));
    ZTCA_ENSURE(o != NULL, ZTCA_ERR_NOMEM, "OIDC: out of memory");
    pthread_mutex_init(&o->lock, NULL);
    o->st = st;
    *out = o;
    return ZTCA_RC_OK;
}

static void
api_oidc_entry_free(api_oidc_entry *e)
{
    if (e != NULL) {
        enroll_provisioner_free(&e->prov);
        enroll_jwks_cache_free(&e->cache);
        free(e);
    }
}

static void
api_oidc_clear(api_oidc *o)
{
    for (size_t i = 0; i < o->num; i++) {
        api_oidc_entry_free(o->entries[i]);
        o->entries[i] = NULL;
    }
    o->num = 0;
}

void
api_oidc_free(api_oidc *o)
{
    if (o == NULL) {
        return;
    }
    api_oidc_clear(o);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

typedef struct api_oidc_load {
    api_oidc *o;
    api_oidc_entry *old[API_OIDC_MAX_PROVISIONERS];
    size_t num_old;
} api_oidc_load;

static ztca_rc
api_oidc_load_cb(void *ctx, const char *name, const char *config)
{
    api_oidc_load *l = ctx;
    api_oidc *o = l->o;
    if (o->num == API_OIDC_MAX_PROVISIONERS) {
        return ZTCA_RC_OK;
    }
    api_oidc_entry *e = calloc(1, sizeof(*e));
    ZTCA_ENSURE(e != NULL, ZTCA_ERR_NOMEM, "OIDC: out of memory");
    enroll_provisioner_init(&e->prov);
    enroll_jwks_cache_init(&e->cache);
    if (!ZTCA_IS_OK(enroll_provisioner_parse(&e->prov, (const uint8_t *)config, strlen(config)))) {
        ztca_log(ZTCA_LOG_WARN, "event=provisioner_unusable name=\"%s\"", name);
        api_oidc_entry_free(e);
        return ZTCA_RC_OK;
    }
    /* Keep the fetched keys of a provisioner that did not change. */
    for (size_t i = 0; i < l->num_old; i++) {
        api_oidc_entry *old = l->old[i];
        if (old != NULL && strcmp(old->prov.name, e->prov.name) == 0
            && strcmp(old->prov.jwks_uri, e->prov.jwks_uri) == 0) {
            enroll_jwks_cache c = e->cache;
            e->cache = old->cache;
            old->cache = c;
        }
    }
    o->entries[o->num++] = e;
    return ZTCA_RC_OK;
}

/* Reloads the provisioners when the view is older than API_OIDC_RELOAD_S; lock held. */
static ztca_rc
api_oidc_refresh(api_oidc *o, ztca_time now, bool force)
{
    if (!force && o->loaded_at != 0 && now - o->loaded_at < API_OIDC_RELOAD_S) {
        return ZTCA_RC_OK;
    }
    api_oidc_load l;
    memset(&l, 0, sizeof(l));
    l.o = o;
    memcpy(l.old, o->entries, sizeof(l.old));
    l.num_old = o->num;
    memset(o->entries, 0, sizeof(o->entries));
    o->num = 0;
    ztca_rc rc = store_provisioner_list(o->st, api_oidc_load_cb, &l);
    if (!ZTCA_IS_OK(rc)) {
        /* Keep serving with what was loaded (fail static), try again next time. */
        api_oidc_clear(o);
        memcpy(o->entries, l.old, sizeof(l.old));
        o->num = l.num_old;
        return rc;
    }
    for (size_t i = 0; i < l.num_old; i++) {
        api_oidc_entry_free(l.old[i]);
    }
    o->loaded_at = now;
    return ZTCA_RC_OK;
}

void
api_oidc_invalidate(api_oidc *o)
{
    pthread_mutex_lock(&o->lock);
    o->loaded_at = 0;
    pthread_mutex_unlock(&o->lock);
}

typedef struct api_oidc_buf {
    uint8_t *p;
    size_t len;
} api_oidc_buf;

static size_t
api_oidc_write(char *data, size_t size, size_t n, void *ctx)
{
    api_oidc_buf *b = ctx;
    size_t len = size * n;
    if (b->len + len > ENROLL_JWKS_MAX) {
        return 0; /* refuse a document over the limit rather than buffer it */
    }
    uint8_t *g = realloc(b->p, b->len + len + 1);
    if (g == NULL) {
        return 0;
    }
    memcpy(g + b->len, data, len);
    b->p = g;
    b->len += len;
    return len;
}

/* Fetches a provisioner's JWKS (https; http only on loopback, as enroll/ checks the URL). */
static void
api_oidc_fetch(api_oidc_entry *e, ztca_time now)
{
    api_oidc_buf b = { NULL, 0 };
    long status = 0;
    CURL *c = ZTCA_IS_OK(api_curl_load()) ? curl_easy_init() : NULL;
    CURLcode cc = CURLE_FAILED_INIT;
    if (c != NULL) {
        curl_easy_setopt(c, CURLOPT_URL, e->prov.jwks_uri);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)API_OIDC_JWKS_TIMEOUT_S);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_oidc_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
    }
    if (cc != CURLE_OK || status != 200
        || !ZTCA_IS_OK(enroll_jwks_cache_update(&e->cache, now, b.p, b.len))) {
        ztca_log(ZTCA_LOG_WARN, "event=jwks_fetch_failed provisioner=\"%s\" http=%ld curl=%d",
                 e->prov.name, status, (int)cc);
        enroll_jwks_cache_fetch_failed(&e->cache, now);
    } else {
        ztca_log(ZTCA_LOG_INFO, "event=jwks_fetched provisioner=\"%s\" keys=%zu", e->prov.name,
                 enroll_jwks_num_keys(enroll_jwks_cache_get(&e->cache)));
    }
    free(b.p);
}

/* Verifies `token` against the provisioners of its issuer; lock held. */
static ztca_rc
api_oidc_verify_locked(api_oidc *o, const char *token, ztca_time now, const char *td,
                       enroll_verdict *out, enroll_failure *fail)
{
    char iss[ENROLL_URL_MAX + 1];
    if (!ZTCA_IS_OK(enroll_jwt_peek_issuer(iss, sizeof(iss), token, strlen(token)))) {
        fail->reason = ENROLL_REASON_TOKEN_MALFORMED;
        ZTCA_BAIL(ZTCA_ERR_DENIED, "OIDC: not a JWT with an issuer");
    }
    ztca_rc last = ZTCA_NOTE(ZTCA_ERR_DENIED, "OIDC: no provisioner for this issuer", 0);
    fail->reason = ENROLL_REASON_ISSUER_MISMATCH;
    for (size_t i = 0; i < o->num; i++) {
        api_oidc_entry *e = o->entries[i];
        if (strcmp(e->prov.issuer, iss) != 0) {
            continue;
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            const enroll_jwks *jwks = NULL;
            if (e->prov.jwks_uri[0] != '\0') {
                if (enroll_jwks_cache_needs_fetch(&e->cache, now, attempt > 0)) {
                    api_oidc_fetch(e, now);
                }
                jwks = enroll_jwks_cache_get(&e->cache);
                if (jwks == NULL) {
                    fail->reason = ENROLL_REASON_KID_UNKNOWN;
                    last = ZTCA_NOTE(ZTCA_ERR_DENIED, "OIDC: the issuer's keys are unavailable", 0);
                    break;
                }
            }
            enroll_failure_init(fail);
            last = enroll_oidc_verify(out, fail, &e->prov, jwks, td, token, strlen(token), now);
            /* An unknown kid may be a key the issuer rotated in: refetch once and retry. */
            if (last.err != ZTCA_ERR_DENIED || fail->reason != ENROLL_REASON_KID_UNKNOWN
                || e->prov.jwks_uri[0] == '\0') {
                break;
            }
        }
        if (ZTCA_IS_OK(last) || last.err != ZTCA_ERR_DENIED) {
            return last;
        }
    }
    return last;
}

/* "kid_unknown" -> "oidc-kid-unknown": one problem type per reason. */
static void
api_oidc_problem_type(char *out, size_t out_size, enroll_reason reason)
{
    int n = snprintf(out, out_size, "oidc-%s", enroll_reason_name(reason));
    for (int i = 0; i < n && (size_t)i < out_size; i++) {
        if (out[i] == '_') {
            out[i] = '-';
        }
    }
}

/* POST /v1/certs with a bearer that is not one of our enrollment tokens. */
ztca_rc
api_oidc_issue(api_req *r, const char *bearer)
{
    ztca_rc rc = ZTCA_RC_OK;
    api_oidc *o = api_server_oidc(r->srv);
    api_cert_req req;
    memset(&req, 0, sizeof(req));
    const char *type = NULL;
    ca_csr csr;
    ca_csr_init(&csr);
    ca_issued cert;
    ca_issued_init(&cert);
    enroll_verdict v;
    enroll_verdict_init(&v);
    enroll_failure fail;
    enroll_failure_init(&fail);
    char *pem = NULL, *detail = NULL;
    size_t pem_len = 0;
    bool in_txn = false;
    ztca_time now = ztca_now();

    ZTCA_CHECK(api_require_json(r));
    rc = api_decode_cert(r->body, r->body_len, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        goto out;
    }
    if (req.profile[0] != '\0' && strcmp(req.profile, "workload") != 0) {
        api_reply_problem(r, 403, "profile-not-allowed", "Profile not allowed",
                          "an OIDC token gets workload certificates only");
        rc = ZTCA_NOTE(ZTCA_ERR_DENIED, "profile", 0);
        goto out;
    }
    rc = ca_csr_parse(&csr, (const uint8_t *)req.csr, req.csr_len);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_problem(r, 400, "csr-rejected", "CSR rejected", ztca_last_what());
        goto out;
    }
    pthread_mutex_lock(&o->lock);
    rc = api_oidc_refresh(o, now, false);
    if (ZTCA_IS_OK(rc) || o->num > 0) {
        rc = api_oidc_verify_locked(o, bearer, now, r->cfg->trust_domain, &v, &fail);
    }
    pthread_mutex_unlock(&o->lock);
    if (rc.err == ZTCA_ERR_DENIED) {
        char ptype[64];
        api_oidc_problem_type(ptype, sizeof(ptype), fail.reason);
        api_reply_problem(r, 401, ptype, "Token refused", ztca_last_what());
        api_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
        goto out;
    }
    ZTCA_CHECK(rc);

    /* The provisioner's cap wins over the request (enroll_provisioner_ttl's rule). */
    int64_t ttl = req.ttl == 0 ? ENROLL_TTL_DEFAULT : req.ttl;
    ttl = ttl > v.max_ttl ? v.max_ttl : ttl;
    ca_issue_req ireq = { .profile = ca_profile_get(CA_PROFILE_WORKLOAD),
                          .spki = csr.spki,
                          .spki_len = csr.spki_len,
                          .ttl = ttl };
    ireq.id.workload = v.workload;

    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "via", "oidc", "provisioner", v.provisioner,
                          "issuer", v.issuer, "subject", v.subject);
    json_error_t jerr;
    json_t *claims = json_loads(v.claims_json, 0, &jerr);
    if (d != NULL && claims != NULL) {
        json_object_set_new(d, "claims", claims);
        claims = NULL;
    }
    json_decref(claims);
    detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(d);
    ZTCA_REQUIRE(detail != NULL, ZTCA_ERR_NOMEM, "OIDC: out of memory");

    /* Claim the token and record the certificate together: a failure leaves the token usable. */
    ZTCA_CHECK(store_txn_begin(r->app->store));
    in_txn = true;
    rc = store_replay_claim(r->app->store, v.replay_key, v.replay_until, now);
    if (rc.err == ZTCA_ERR_CONFLICT) {
        api_reply_problem(r, 401, "oidc-replayed", "Token refused", "this token was used already");
        rc = ZTCA_NOTE(ZTCA_ERR_DENIED, "replayed", 0);
        goto out;
    }
    ZTCA_CHECK(rc);
    for (int attempt = 0;; attempt++) {
        ca_issued_free(&cert);
        ZTCA_CHECK(ca_issue(&cert, r->app->issuer, r->cfg, r->app->rng, &ireq));
        store_cert c;
        store_cert_init(&c);
        snprintf(c.serial, sizeof(c.serial), "%s", cert.serial_hex);
        snprintf(c.profile, sizeof(c.profile), "workload");
        c.not_before = cert.not_before;
        c.not_after = cert.not_after;
        c.der = cert.der;
        c.der_len = cert.der_len;
        char actor[STORE_NAME_MAX + 1];
        snprintf(actor, sizeof(actor), "oidc:%s", v.provisioner);
        store_audit_event ev = {
            .actor = actor, .action = "cert.issue", .subject = c.serial, .detail = detail
        };
        rc = store_cert_insert(r->app->store, &c, &ev);
        if (rc.err != ZTCA_ERR_CONFLICT || attempt == 2) {
            break;
        }
    }
    ZTCA_CHECK(rc);
    ZTCA_CHECK(store_txn_commit(r->app->store));
    in_txn = false;
    api_metrics_issued("workload");

    ZTCA_CHECK(ztca_pem_encode(&pem, &pem_len, "CERTIFICATE", cert.der, cert.der_len));
    api_reply_json(r, 201,
                   json_pack("{s:s, s:s, s:s, s:o, s:s}", "serial", cert.serial_hex, "certificate",
                             pem, "chain", r->app->chain_pem, "not_after",
                             api_time_json(cert.not_after), "uri", cert.uri));
out:
    if (in_txn) {
        store_txn_rollback(r->app->store);
    }
    free(detail);
    ztca_free(pem);
    ca_issued_free(&cert);
    ca_csr_free(&csr);
    api_cert_req_free(&req);
    enroll_verdict_free(&v);
    return rc;
}

/* ---- administration ------------------------------------------------------------------------ */

/* POST /v1/provisioners: the provisioner's stored JSON form (docs/workload.md). ?replace=true
 * updates an existing one. */
ztca_rc
api_h_provisioners_add(api_req *r)
{
    enroll_provisioner p;
    enroll_provisioner_init(&p);
    char *text = NULL;
    size_t len = 0;
    char replace[8], actor[STORE_NAME_MAX + 1], prefix[CA_URL_MAX];
    bool present = false;
    ztca_rc rc = api_require_json(r);
    if (!ZTCA_IS_OK(rc)) {
        return rc;
    }
    rc = api_query(r, "replace", replace, sizeof(replace), &present);
    if (ZTCA_IS_OK(rc)) {
        rc = enroll_provisioner_parse(&p, r->body, r->body_len);
        if (!ZTCA_IS_OK(rc)) {
            api_reply_problem(r, 400, "bad-provisioner", "Invalid provisioner", ztca_last_what());
        }
    }
    /* The template must name this CA's trust domain: a token can never be mapped elsewhere. */
    snprintf(prefix, sizeof(prefix), "spiffe://%s/workload/", r->cfg->trust_domain);
    if (ZTCA_IS_OK(rc) && strncmp(p.san, prefix, strlen(prefix)) != 0) {
        api_reply_problem(r, 400, "bad-provisioner", "Invalid provisioner",
                          "the SAN template must start with spiffe://TRUST_DOMAIN/workload/");
        rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "template", 0);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = enroll_provisioner_write(&text, &len, &p);
    }
    if (ZTCA_IS_OK(rc)) {
        api_actor(r, actor, sizeof(actor));
        store_audit_event ev = {
            .actor = actor, .action = "provisioner.add", .subject = p.name, .detail = text
        };
        rc = store_provisioner_put(r->app->store, p.name, text,
                                   present && strcmp(replace, "true") == 0, &ev);
        if (rc.err == ZTCA_ERR_CONFLICT) {
            api_reply_problem(r, 409, "conflict", "Conflict",
                              "a provisioner with this name exists (use ?replace=true)");
        }
    }
    if (ZTCA_IS_OK(rc)) {
        api_oidc_invalidate(api_server_oidc(r->srv));
        json_error_t err;
        api_reply_json(r, 201, json_loadb(text, len, 0, &err));
    }
    free(text);
    enroll_provisioner_free(&p);
    return rc;
}

static ztca_rc
api_provisioners_list_cb(void *ctx, const char *name, const char *config)
{
    json_error_t err;
    json_t *o = json_loads(config, 0, &err);
    (void)name;
    ZTCA_ENSURE(o != NULL && json_array_append_new(ctx, o) == 0, ZTCA_ERR_STORE,
                "provisioner config unreadable");
    return ZTCA_RC_OK;
}

ztca_rc
api_h_provisioners_list(api_req *r)
{
    json_t *items = json_array();
    ZTCA_ENSURE(items != NULL, ZTCA_ERR_NOMEM, "out of memory");
    ztca_rc rc = store_provisioner_list(r->app->store, api_provisioners_list_cb, items);
    if (!ZTCA_IS_OK(rc)) {
        json_decref(items);
        return rc;
    }
    api_reply_json(r, 200, json_pack("{s:o}", "provisioners", items));
    return ZTCA_RC_OK;
}

ztca_rc
api_h_provisioners_remove(api_req *r)
{
    char actor[STORE_NAME_MAX + 1];
    api_actor(r, actor, sizeof(actor));
    store_audit_event ev = { .actor = actor,
                             .action = "provisioner.remove",
                             .subject = r->params[0] };
    ztca_rc rc = store_provisioner_remove(r->app->store, r->params[0], &ev);
    if (rc.err == ZTCA_ERR_NOT_FOUND || rc.err == ZTCA_ERR_BAD_INPUT) {
        api_reply_problem(r, 404, "not-found", "Not found", "no provisioner with this name");
        return rc;
    }
    ZTCA_GUARD(rc);
    api_oidc_invalidate(api_server_oidc(r->srv));
    api_reply_json(r, 200, json_pack("{s:s, s:s}", "name", r->params[0], "status", "removed"));
    return ZTCA_RC_OK;
}
