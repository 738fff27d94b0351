/* api_enroll.c: TPM enrollment (POST /v1/enroll/begin, /v1/enroll/finish, one-time token) and
 * renewal (POST /v1/renew/begin, /v1/renew, the caller's current client certificate): DESIGN.md 3,
 * docs/api.md "Enrollment". The work is enroll/'s; here: credentials, bodies, answers, and one log
 * line per refusal with its precise reason (the client gets a stable problem type). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

/* The trust engine for enroll/ (enroll_trust_fn): the score recorded with the certificate, and
 * its outcome kept for the answer (a refusal names the reasons, a success the score). */
typedef struct api_enroll_trust {
    api_req *r;
    const char *actor;
    bool evaluated;
    char device_id[STORE_NAME_MAX + 1];
    api_trust_outcome out;
} api_enroll_trust;

static ztca_rc
api_enroll_trust_cb(void *ctx, const char *device_id, const char *user, const ca_profile *profile,
                    int64_t requested, int64_t *out_ttl, bool *out_allowed)
{
    api_enroll_trust *t = ctx;
    ZTCA_GUARD(api_trust_evaluate_txn(t->r->srv, device_id, user, NULL, t->actor, &t->out));
    t->evaluated = true;
    snprintf(t->device_id, sizeof(t->device_id), "%s", device_id);
    *out_allowed = t->out.decision.issue_allowed;
    return *out_allowed ? api_trust_cap_ttl(profile, requested, &t->out, out_ttl) : ZTCA_RC_OK;
}

static void
api_enroll_env(api_req *r, enroll_env *env, api_enroll_trust *trust, const char *actor)
{
    memset(env, 0, sizeof(*env));
    memset(trust, 0, sizeof(*trust));
    env->cfg = r->cfg;
    env->rng = r->app->rng;
    env->issuer = r->app->issuer;
    env->st = r->app->store;
    const api_enroll_set *e = api_server_enroll(r->srv); /* one load: the three agree */
    env->roots = e->tpm_roots;
    env->policy = e->pcr_policy;
    env->conf = e->enroll;
    env->trust_policy = api_server_trust_policy(r->srv);
    env->trust = api_enroll_trust_cb;
    env->trust_ctx = trust;
    trust->r = r;
    trust->actor = actor;
}

/* After a committed issuance: a score or hold that changed reaches this node's OCSP answers at
 * once (the other nodes follow through the change feed). */
static void
api_enroll_trust_done(api_req *r, const api_enroll_trust *t)
{
    if (t->evaluated && (t->out.changed || t->out.num_certs > 0)) {
        api_server_device_changed(r->srv, t->device_id);
    }
}

/* An RFC 9457 problem with the extension member "reason" (attest_reason_name) when given. */
static void
api_enroll_problem(api_req *r, unsigned status, const char *type, const char *title,
                   const char *detail, const char *reason)
{
    char type_uri[128];
    snprintf(type_uri, sizeof(type_uri), API_PROBLEM "%s", type);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type_uri, "title", title, "status",
                          (json_int_t)status, "instance", r->id, "detail", detail);
    if (p != NULL && reason != NULL) {
        json_object_set_new(p, "reason", json_string(reason));
    }
    char *text = p != NULL ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(p);
    if (text == NULL) {
        api_reply_problem(r, 500, "internal", "Internal error", "out of memory");
        return;
    }
    api_reply_bytes(r, status, "application/problem+json", text, strlen(text));
    free(text);
}

/* The answer to a failed enroll_* call: a refusal gets its problem type, anything else the
 * generic mapping (5xx for our own failures). */
static void
api_enroll_refused(api_req *r, ztca_rc rc, const enroll_outcome *why, const api_enroll_trust *t)
{
    const char *what = ztca_last_what();
    char detail[320];
    if (why->refusal == ENROLL_REFUSED_NONE) {
        api_reply_error(r, rc);
        return;
    }
    ztca_log(ZTCA_LOG_INFO, "request_id=%s event=enroll_refused refusal=%s attest=%s what=\"%s\"",
             r->id, enroll_refusal_name(why->refusal),
             why->refusal == ENROLL_REFUSED_EVIDENCE ? attest_reason_name(why->attest) : "-", what);
    switch (why->refusal) {
    case ENROLL_REFUSED_TOKEN:
        /* Unknown, used and expired tokens get one answer: nothing to learn by probing. */
        api_enroll_problem(r, 401, "token-invalid", "Invalid token",
                           "the token is unknown, already used or expired", NULL);
        return;
    case ENROLL_REFUSED_SESSION:
        api_enroll_problem(r, 403, "session-invalid", "Invalid session",
                           "the enrollment session is unknown, already used, expired or not "
                           "yours; sessions are single use: start again with begin",
                           NULL);
        return;
    case ENROLL_REFUSED_SESSION_TOKEN:
        api_enroll_problem(r, 403, "session-token-mismatch", "Session of another token",
                           "the session was opened with another token; it is now used up", NULL);
        return;
    case ENROLL_REFUSED_DEVICE_REVOKED:
        api_enroll_problem(r, 403, "device-revoked", "Device revoked", what, NULL);
        return;
    case ENROLL_REFUSED_DEVICE_UNKNOWN:
        api_enroll_problem(r, 403, "device-unknown", "Device unknown", what, NULL);
        return;
    case ENROLL_REFUSED_EVIDENCE: {
        /* Malformed evidence is the client's mistake (400), evidence that fails a check is a
         * refusal (403); the reason names which check (docs/attestation.md). */
        unsigned status = rc.err == ZTCA_ERR_DENIED ? 403 : 400;
        snprintf(detail, sizeof(detail), "%s: %s", attest_reason_name(why->attest),
                 attest_reason_text(why->attest));
        api_enroll_problem(r, status, "attestation-failed", "Attestation failed", detail,
                           attest_reason_name(why->attest));
        return;
    }
    case ENROLL_REFUSED_EVIDENCE_SHAPE:
        api_enroll_problem(r, 400, "evidence-required", "Evidence required", what, NULL);
        return;
    case ENROLL_REFUSED_CSR:
        api_enroll_problem(r, 400, "csr-rejected", "CSR rejected", what, NULL);
        return;
    case ENROLL_REFUSED_TTL:
        api_enroll_problem(r, 400, "ttl-too-long", "TTL too long", what, NULL);
        return;
    case ENROLL_REFUSED_KIND:
        api_enroll_problem(r, 403, "forbidden", "Forbidden", what, NULL);
        return;
    case ENROLL_REFUSED_TRUST:
        api_trust_denied(r, &t->out);
        return;
    case ENROLL_REFUSED_NONE:
    case ENROLL_REFUSED_COUNT_:
        break;
    }
    api_reply_error(r, rc);
}

/* The token of Authorization: Bearer, hashed; answers 401 itself when there is none. */
static ztca_rc
api_enroll_token(api_req *r, uint8_t hash[STORE_HASH_LEN])
{
    const char *bearer = api_bearer(r);
    if (bearer == NULL) {
        api_reply_problem(r, 401, "token-required", "Token required",
                          "send Authorization: Bearer with an enrollment token");
        api_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "no bearer", 0);
    }
    if (!ZTCA_IS_OK(api_token_hash(bearer, hash))) {
        api_reply_problem(r, 401, "token-invalid", "Invalid token",
                          "the token is unknown, already used or expired");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "not a token", 0);
    }
    return ZTCA_RC_OK;
}

static const char *
api_enroll_bank_name(uint16_t alg)
{
    switch (alg) {
    case ATTEST_ALG_SHA1:
        return "sha1";
    case ATTEST_ALG_SHA256:
        return "sha256";
    case ATTEST_ALG_SHA384:
        return "sha384";
    case ATTEST_ALG_SHA512:
        return "sha512";
    default:
        return "unknown";
    }
}

static json_t *
api_enroll_b64(const uint8_t *p, size_t len)
{
    char *s = NULL;
    size_t n = 0;
    if (!ZTCA_IS_OK(ztca_base64_encode(&s, &n, p, len))) {
        return NULL;
    }
    json_t *v = json_string(s);
    ztca_free(s);
    return v;
}

/* 201 {"session","nonce","credential":{"id_object","encrypted_secret"},"pcr_selection":{"bank",
 * "pcrs"},"device_id","expires_at"} */
static ztca_rc
api_enroll_reply_challenge(api_req *r, const enroll_challenge *c)
{
    json_t *pcrs = json_array();
    for (int i = 0; pcrs != NULL && i < ATTEST_PCR_MAX; i++) {
        if ((c->pcr_mask & (1u << i)) != 0 && json_array_append_new(pcrs, json_integer(i)) != 0) {
            json_decref(pcrs);
            pcrs = NULL;
        }
    }
    json_t *reply =
        pcrs == NULL
            ? NULL
            : json_pack("{s:s, s:o, s:{s:o, s:o}, s:{s:s, s:o}, s:s, s:o}", "session", c->session,
                        "nonce", api_enroll_b64(c->nonce, sizeof(c->nonce)), "credential",
                        "id_object", api_enroll_b64(c->cred.id_object, c->cred.id_object_len),
                        "encrypted_secret",
                        api_enroll_b64(c->cred.encrypted_secret, c->cred.encrypted_secret_len),
                        "pcr_selection", "bank", api_enroll_bank_name(c->pcr_bank), "pcrs", pcrs,
                        "device_id", c->device_id, "expires_at", api_time_json(c->expires_at));
    ZTCA_ENSURE(reply != NULL, ZTCA_ERR_NOMEM, "enroll: out of memory");
    api_reply_json(r, 201, reply);
    return ZTCA_RC_OK;
}

/* 201, as POST /v1/certs answers, plus the profile and what the attestation reached. */
static ztca_rc
api_enroll_reply_cert(api_req *r, const enroll_result *res, const api_enroll_trust *t)
{
    char *pem = NULL;
    size_t pem_len = 0;
    api_metrics_issued(res->profile->name);
    ZTCA_GUARD(ztca_pem_encode(&pem, &pem_len, "CERTIFICATE", res->cert.der, res->cert.der_len));
    json_t *reply = json_pack(
        "{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "serial",
        res->cert.serial_hex, "certificate", pem, "chain", r->app->chain_pem, "not_after",
        api_time_json(res->cert.not_after), "device_id", res->device_id, "uri", res->cert.uri,
        "profile", res->profile->name, "user", res->user, "attestation", "level",
        ca_attestation_name(res->attestation), "detail", res->level, "pcr", res->pcr);
    ztca_free(pem);
    ZTCA_ENSURE(reply != NULL, ZTCA_ERR_NOMEM, "enroll: out of memory");
    if (t->evaluated) {
        json_object_set_new(reply, "trust",
                            json_pack("{s:i, s:o}", "score", t->out.score, "max_ttl",
                                      t->out.decision.max_ttl != 0
                                          ? json_integer(t->out.decision.max_ttl)
                                          : json_null()));
    }
    api_reply_json(r, 201, reply);
    return ZTCA_RC_OK;
}

ztca_rc
api_h_enroll_begin(api_req *r)
{
    uint8_t hash[STORE_HASH_LEN];
    enroll_begin_req req;
    enroll_challenge c;
    enroll_outcome why;
    enroll_env env;
    api_enroll_trust trust;
    const char *type = NULL;
    ZTCA_GUARD(api_enroll_token(r, hash));
    ZTCA_GUARD(api_require_json(r));
    ztca_rc rc = api_decode_enroll_begin(r->body, r->body_len, false, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        return rc;
    }
    api_enroll_env(r, &env, &trust, "system:enroll");
    rc = enroll_tpm_begin(&env, hash, &req, &c, &why);
    enroll_begin_req_free(&req);
    if (!ZTCA_IS_OK(rc)) {
        api_enroll_refused(r, rc, &why, &trust);
        return rc;
    }
    return api_enroll_reply_challenge(r, &c);
}

ztca_rc
api_h_enroll_finish(api_req *r)
{
    uint8_t hash[STORE_HASH_LEN];
    enroll_finish_req req;
    enroll_result res;
    enroll_outcome why;
    enroll_env env;
    api_enroll_trust trust;
    const char *type = NULL;
    ZTCA_GUARD(api_enroll_token(r, hash));
    ZTCA_GUARD(api_require_json(r));
    ztca_rc rc = api_decode_enroll_finish(r->body, r->body_len, false, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        return rc;
    }
    api_enroll_env(r, &env, &trust, "system:enroll");
    enroll_result_init(&res);
    rc = enroll_tpm_finish(&env, hash, &req, &res, &why);
    enroll_finish_req_free(&req);
    if (!ZTCA_IS_OK(rc)) {
        api_enroll_refused(r, rc, &why, &trust);
    } else {
        api_enroll_trust_done(r, &trust);
        rc = api_enroll_reply_cert(r, &res, &trust);
    }
    enroll_result_free(&res);
    return rc;
}

/* The caller of a renewal route, authenticated by the dispatcher (API_AUTH_CLIENT: a verified
 * client certificate of this CA that the store has as good). */
static ztca_rc
api_enroll_peer(api_req *r, enroll_peer *out)
{
    const ca_profile *p = ca_profile_find(r->peer.kind);
    memset(out, 0, sizeof(*out));
    ZTCA_ENSURE(r->peer.verified, ZTCA_ERR_INTERNAL, "renewal without a peer");
    if (p == NULL || (p->id != CA_PROFILE_AGENT && p->id != CA_PROFILE_DEVICE)) {
        api_reply_problem(r, 403, "forbidden", "Forbidden",
                          "only agent and device certificates are renewed here");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "renewal by another kind of certificate", 0);
    }
    out->kind = p->id;
    snprintf(out->device_id, sizeof(out->device_id), "%s", r->peer.device_id);
    snprintf(out->user, sizeof(out->user), "%s", r->peer.user);
    snprintf(out->serial, sizeof(out->serial), "%s", r->peer.serial);
    return ZTCA_RC_OK;
}

/* DESIGN.md 3: a renewal whose evidence fails feeds the trust engine (docs/trust.md,
 * renewal-failed, for the policy's renewal_failed_ttl), scored at once. Best effort: the refusal
 * is answered whatever happens here. */
static void
api_enroll_renewal_failed(api_req *r, const enroll_peer *peer, const enroll_outcome *why)
{
    if (why->refusal != ENROLL_REFUSED_EVIDENCE) {
        return;
    }
    const trust_policy *p = api_server_trust_policy(r->srv);
    char actor[STORE_NAME_MAX + 1], detail[128];
    api_actor(r, actor, sizeof(actor));
    snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", attest_reason_name(why->attest));
    store_signal sig;
    store_signal_init(&sig);
    snprintf(sig.device_id, sizeof(sig.device_id), "%s", peer->device_id);
    snprintf(sig.source, sizeof(sig.source), "%s", TRUST_SOURCE_ZTCA);
    snprintf(sig.kind, sizeof(sig.kind), "%s", TRUST_KIND_RENEWAL_FAILED);
    sig.impact = p->renewal_failed_impact;
    sig.detail = detail;
    sig.expires_at = ztca_now() + p->renewal_failed_ttl;
    store_audit_event ev = {
        .actor = actor, .action = "signal.record", .subject = peer->device_id, .detail = detail
    };
    api_trust_outcome out;
    if (!ZTCA_IS_OK(
            api_trust_evaluate(r->srv, peer->device_id, "", &sig, &ev, actor, &out, NULL))) {
        ztca_log(ZTCA_LOG_WARN, "request_id=%s event=renewal_signal_failed what=\"%s\"", r->id,
                 ztca_last_what());
    }
}

ztca_rc
api_h_renew_begin(api_req *r)
{
    enroll_begin_req req;
    enroll_challenge c;
    enroll_outcome why;
    enroll_env env;
    enroll_peer peer;
    api_enroll_trust trust;
    char actor[STORE_NAME_MAX + 1];
    const char *type = NULL;
    ZTCA_GUARD(api_enroll_peer(r, &peer));
    ZTCA_GUARD(api_require_json(r));
    ztca_rc rc = api_decode_enroll_begin(r->body, r->body_len, true, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        return rc;
    }
    api_actor(r, actor, sizeof(actor));
    api_enroll_env(r, &env, &trust, actor);
    rc = enroll_renew_begin(&env, &peer, &req, &c, &why);
    enroll_begin_req_free(&req);
    if (!ZTCA_IS_OK(rc)) {
        api_enroll_refused(r, rc, &why, &trust);
        api_enroll_renewal_failed(r, &peer, &why);
        return rc;
    }
    return api_enroll_reply_challenge(r, &c);
}

ztca_rc
api_h_renew(api_req *r)
{
    enroll_finish_req req;
    enroll_result res;
    enroll_outcome why;
    enroll_env env;
    enroll_peer peer;
    api_enroll_trust trust;
    char actor[STORE_NAME_MAX + 1];
    const char *type = NULL;
    ZTCA_GUARD(api_enroll_peer(r, &peer));
    ZTCA_GUARD(api_require_json(r));
    ztca_rc rc = api_decode_enroll_finish(r->body, r->body_len, true, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        return rc;
    }
    api_actor(r, actor, sizeof(actor));
    api_enroll_env(r, &env, &trust, actor);
    enroll_result_init(&res);
    rc = enroll_renew_finish(&env, &peer, &req, &res, &why);
    enroll_finish_req_free(&req);
    if (!ZTCA_IS_OK(rc)) {
        api_enroll_refused(r, rc, &why, &trust);
        api_enroll_renewal_failed(r, &peer, &why);
    } else {
        api_enroll_trust_done(r, &trust);
        rc = api_enroll_reply_cert(r, &res, &trust);
    }
    enroll_result_free(&res);
    return rc;
}
