/* api_tokens.c: one-time enrollment tokens. A token is 32 random bytes shown once; the store
 * keeps only its SHA-256, so a stolen database yields no usable token, and lookups by hash leak
 * nothing about the secret through timing (the attacker does not choose the hashed value). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"

#define API_TOKEN_PREFIX "ztca_tok_"
#define API_TOKEN_LEN    (sizeof(API_TOKEN_PREFIX) - 1 + 64)

/* api_token_hash: SHA-256 of the token text; BAD_INPUT when it is not one of ours. */
ztca_rc
api_token_hash(const char *token, uint8_t out[STORE_HASH_LEN])
{
    ZTCA_ENSURE(strlen(token) == API_TOKEN_LEN
                    && strncmp(token, API_TOKEN_PREFIX, sizeof(API_TOKEN_PREFIX) - 1) == 0,
                ZTCA_ERR_BAD_INPUT, "not a ztca token");
    return ca_hash(CA_MD_SHA256, (const uint8_t *)token, strlen(token), out, STORE_HASH_LEN);
}

/* api_bearer: the credential of "Authorization: Bearer X" (RFC 6750 2.1), or NULL. */
const char *
api_bearer(api_req *r)
{
    const char *h =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        return NULL;
    }
    h += 7;
    while (*h == ' ') {
        h++;
    }
    return *h != '\0' ? h : NULL;
}

ztca_rc
api_h_tokens_create(api_req *r)
{
    ztca_rc rc = ZTCA_RC_OK;
    api_token_req req;
    const char *type = NULL;
    uint8_t raw[32];
    char token[API_TOKEN_LEN + 1];
    char actor[STORE_NAME_MAX + 1];
    char detail[256];
    store_token t;
    memset(&t, 0, sizeof(t));
    bool in_txn = false;

    ZTCA_GUARD(api_require_json(r));
    rc = api_decode_token(r->body, r->body_len, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        return rc;
    }
    ZTCA_CHECK(ca_rng_bytes(r->app->rng, raw, sizeof(raw)));
    memcpy(token, API_TOKEN_PREFIX, sizeof(API_TOKEN_PREFIX) - 1);
    ZTCA_CHECK(ztca_hex_encode(token + sizeof(API_TOKEN_PREFIX) - 1,
                               sizeof(token) - (sizeof(API_TOKEN_PREFIX) - 1), raw, sizeof(raw)));
    ZTCA_CHECK(api_token_hash(token, t.hash));
    snprintf(t.user, sizeof(t.user), "%s", req.user);
    snprintf(t.profile, sizeof(t.profile), "%s", req.profile);
    api_actor(r, actor, sizeof(actor));
    snprintf(t.created_by, sizeof(t.created_by), "%s", actor);
    t.expires_at = ztca_now() + req.ttl;
    snprintf(detail, sizeof(detail), "{\"profile\":\"%s\",\"expires_at\":%lld}", req.profile,
             (long long)t.expires_at);
    store_audit_event ev = {
        .actor = actor, .action = "token.create", .subject = t.user, .detail = detail
    };
    /* One transaction, so one durable commit per token: the user and the token were two. */
    ZTCA_CHECK(store_txn_begin(r->app->store));
    in_txn = true;
    if (req.user[0] != '\0') {
        ZTCA_CHECK(store_user_put(r->app->store, req.user, NULL));
    }
    ZTCA_CHECK(store_token_insert(r->app->store, &t, &ev));
    in_txn = false;
    ZTCA_CHECK(store_txn_commit(r->app->store));
    json_t *reply =
        json_pack("{s:s, s:o, s:s, s:s}", "token", token, "expires_at", api_time_json(t.expires_at),
                  "profile", req.profile, "user", req.user);
    api_reply_json(r, 201, reply);
out:
    if (in_txn) {
        store_txn_rollback(r->app->store);
    }
    ztca_zeroize(token, sizeof(token));
    ztca_zeroize(raw, sizeof(raw));
    return rc;
}

/* The device (registered when new), its user and agent, and the trust decision, inside the
 * issuance's transaction. The device is locked first (PostgreSQL: FOR UPDATE) and handed to the
 * trust evaluation, which would otherwise lock it again: one round trip where there were two. A
 * device new here is ours until the commit: nobody else sees the row. */
static ztca_rc
api_certs_trust_txn(api_req *r, const ca_profile *profile, const store_token *tok,
                    const char *device_id, const char *actor, api_trust_outcome *trust)
{
    store *st = r->app->store;
    store_device dev, fresh;
    store_device_init(&dev);
    store_device_init(&fresh);
    ztca_rc rc = store_device_lock(st, device_id, &dev);
    const store_device *locked = &dev;
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        snprintf(fresh.id, sizeof(fresh.id), "%s", device_id);
        fresh.facts =
            (char *)(uintptr_t) "{\"attestation\":\"software\",\"enrolled_with\":\"token\"}";
        store_audit_event ev = { .actor = actor,
                                 .action = "device.register",
                                 .subject = device_id };
        rc = store_device_insert(st, &fresh, &ev);
        locked = &fresh;
    }
    ZTCA_CHECK(rc);
    /* DESIGN.md 4: a revoked device is refused for good. */
    ZTCA_REQUIRE(locked->status != STORE_DISABLED, ZTCA_ERR_DENIED,
                 "this device is revoked and cannot get certificates");
    if (tok->user[0] != '\0') {
        ZTCA_CHECK(store_user_put(st, tok->user, NULL));
        if (profile->id == CA_PROFILE_AGENT) {
            ZTCA_CHECK(store_agent_put(st, device_id, tok->user, ztca_now(), NULL));
        }
    }
    /* docs/trust.md: the score decides whether, and for how long. */
    rc = api_trust_evaluate_txn(r->srv, device_id, profile->id == CA_PROFILE_AGENT ? tok->user : "",
                                locked, actor, trust);
out:
    store_device_free(&dev); /* not `fresh`: its facts are a literal */
    return rc;
}

/* Issues for a token-holder: everything between consuming the token and recording the
 * certificate is one store transaction, so a failure leaves the token unused and nothing
 * recorded, and nothing is handed out before the commit. */
static ztca_rc
api_certs_issue_txn(api_req *r, const store_token *tok, const ca_csr *csr, int64_t ttl,
                    ca_issued *out, char *device_id, size_t device_id_size,
                    api_trust_outcome *trust)
{
    store *st = r->app->store;
    const ca_profile *profile = ca_profile_find(tok->profile);
    char actor[STORE_NAME_MAX + 8];
    char detail[CA_URL_MAX + 256];
    ZTCA_ENSURE(profile != NULL, ZTCA_ERR_INTERNAL, "token with an unknown profile");
    ZTCA_GUARD(ca_device_id_from_spki(device_id, device_id_size, csr->spki, csr->spki_len));
    snprintf(actor, sizeof(actor), "token:%s", tok->user[0] != '\0' ? tok->user : device_id);

    ZTCA_GUARD(api_certs_trust_txn(r, profile, tok, device_id, actor, trust));
    if (!trust->decision.issue_allowed) {
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "trust score below the issuance threshold", 0);
    }
    ZTCA_GUARD(api_trust_cap_ttl(profile, ttl, trust, &ttl));
    ca_issue_req req = {
        .profile = profile, .spki = csr->spki, .spki_len = csr->spki_len, .ttl = ttl
    };
    req.id.device_id = device_id;
    req.id.user = profile->id == CA_PROFILE_AGENT ? tok->user : NULL;
    req.id.attestation = CA_ATTEST_SOFTWARE; /* a key in a CSR, no TPM evidence */
    ztca_rc rc = ZTCA_RC_OK;
    for (int attempt = 0;; attempt++) {
        ca_issued_free(out);
        ZTCA_GUARD(ca_issue(out, r->app->issuer, r->cfg, r->app->rng, &req));
        store_cert c;
        store_cert_init(&c);
        snprintf(c.serial, sizeof(c.serial), "%s", out->serial_hex);
        snprintf(c.device_id, sizeof(c.device_id), "%s", device_id);
        snprintf(c.user, sizeof(c.user), "%s", req.id.user != NULL ? req.id.user : "");
        snprintf(c.profile, sizeof(c.profile), "%s", profile->name);
        c.not_before = out->not_before;
        c.not_after = out->not_after;
        c.der = out->der;
        c.der_len = out->der_len;
        snprintf(detail, sizeof(detail),
                 "{\"profile\":\"%s\",\"uri\":\"%s\",\"not_after\":%lld,\"via\":\"token\"}",
                 profile->name, out->uri, (long long)out->not_after);
        store_audit_event ev = {
            .actor = actor, .action = "cert.issue", .subject = c.serial, .detail = detail
        };
        rc = store_cert_insert(st, &c, &ev);
        /* A serial collision (2^-126 per pair) gets a fresh serial. */
        if (rc.err != ZTCA_ERR_CONFLICT || attempt == 2) {
            return rc;
        }
    }
}

ztca_rc
api_h_certs_create(api_req *r)
{
    ztca_rc rc = ZTCA_RC_OK;
    api_cert_req req;
    memset(&req, 0, sizeof(req));
    const char *type = NULL;
    ca_csr csr;
    ca_csr_init(&csr);
    ca_issued cert;
    ca_issued_init(&cert);
    store_token tok;
    uint8_t hash[STORE_HASH_LEN];
    char device_id[40];
    char *pem = NULL;
    size_t pem_len = 0;
    bool in_txn = false;

    const char *bearer = api_bearer(r);
    if (bearer == NULL) {
        api_reply_problem(r, 401, "token-required", "Token required",
                          "send Authorization: Bearer with an enrollment token");
        api_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "no bearer", 0);
    }
    if (strncmp(bearer, API_TOKEN_PREFIX, sizeof(API_TOKEN_PREFIX) - 1) != 0) {
        return api_oidc_issue(r, bearer); /* an OIDC ID token (docs/workload.md) */
    }
    ZTCA_CHECK(api_require_json(r));
    rc = api_decode_cert(r->body, r->body_len, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        goto out;
    }
    rc = ca_csr_parse(&csr, (const uint8_t *)req.csr, req.csr_len);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_problem(r, 400, "csr-rejected", "CSR rejected", ztca_last_what());
        goto out;
    }

    bool token_ok = ZTCA_IS_OK(api_token_hash(bearer, hash));
    if (token_ok) {
        ZTCA_CHECK(store_txn_begin(r->app->store));
        in_txn = true;
        rc = store_token_consume(r->app->store, hash, ztca_now(), &tok);
        ZTCA_REQUIRE(rc.err != ZTCA_ERR_STORE, ZTCA_ERR_STORE, "store unavailable");
        token_ok = ZTCA_IS_OK(rc);
    }
    if (!token_ok) {
        /* Unknown, used and expired tokens get one answer: nothing to learn by probing. */
        api_reply_problem(r, 401, "token-invalid", "Invalid token",
                          "the token is unknown, already used or expired");
        rc = ZTCA_NOTE(ZTCA_ERR_DENIED, "token", 0);
        goto out;
    }
    if (req.profile[0] != '\0' && strcmp(req.profile, tok.profile) != 0) {
        api_reply_problem(r, 403, "profile-not-allowed", "Profile not allowed",
                          "the token allows only its own profile");
        rc = ZTCA_NOTE(ZTCA_ERR_DENIED, "profile", 0);
        goto out;
    }
    const ca_profile *p = ca_profile_find(tok.profile);
    int64_t effective = 0;
    ZTCA_REQUIRE(p != NULL, ZTCA_ERR_INTERNAL, "token with an unknown profile");
    if (!ZTCA_IS_OK(ca_profile_ttl(p, req.ttl, &effective))) {
        /* The profile caps the TTL; the request never raises it (DESIGN.md 2). */
        api_reply_problem(r, 400, "ttl-too-long", "TTL too long", ztca_last_what());
        rc = ZTCA_NOTE(ZTCA_ERR_DENIED, "ttl", 0);
        goto out;
    }
    api_trust_outcome trust;
    memset(&trust, 0, sizeof(trust));
    trust.decision.issue_allowed = true;
    rc = api_certs_issue_txn(r, &tok, &csr, req.ttl, &cert, device_id, sizeof(device_id), &trust);
    if (rc.err == ZTCA_ERR_DENIED && !trust.decision.issue_allowed) {
        api_trust_denied(r, &trust);
        goto out;
    }
    if (rc.err == ZTCA_ERR_DENIED) {
        api_reply_problem(r, 403, "device-revoked", "Device revoked", ztca_last_what());
        goto out;
    }
    ZTCA_CHECK(rc);
    ZTCA_CHECK(store_txn_commit(r->app->store));
    in_txn = false;
    api_metrics_issued(tok.profile);

    ZTCA_CHECK(ztca_pem_encode(&pem, &pem_len, "CERTIFICATE", cert.der, cert.der_len));
    json_t *reply = json_pack(
        "{s:s, s:s, s:s, s:o, s:s, s:s, s:{s:i, s:o}}", "serial", cert.serial_hex, "certificate",
        pem, "chain", r->app->chain_pem, "not_after", api_time_json(cert.not_after), "device_id",
        device_id, "uri", cert.uri, "trust", "score", trust.score, "max_ttl",
        trust.decision.max_ttl != 0 ? json_integer(trust.decision.max_ttl) : json_null());
    api_reply_json(r, 201, reply);
out:
    if (in_txn) {
        store_txn_rollback(r->app->store);
    }
    ztca_free(pem);
    ca_issued_free(&cert);
    ca_csr_free(&csr);
    api_cert_req_free(&req);
    return rc;
}
