/* enroll_tpm.c: TPM enrollment and renewal (DESIGN.md 3): tokens and sessions in the store, the
 * evidence through attest/, issuance through ca/, the device, agent, certificate and audit
 * entries recorded in one transaction per step.
 *
 * Order of the checks in a finish: the session is consumed first, in its own transaction, so a
 * session is single use whatever happens next (a wrong secret cannot be retried); then the token
 * binding, the evidence (pure, no store), and last one transaction that consumes the token and
 * records everything, so a refusal there (revoked device, TTL) leaves the token usable and
 * nothing recorded, and nothing is handed out before the commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/internal.h"

#define ENROLL_COUNTERS_TTL ((int64_t)7 * 86400) /* a counter regression counts for a week */

static const enroll_config *
enroll_conf(const enroll_env *env)
{
    static const enroll_config defaults = { ENROLL_SESSION_TTL_DEFAULT, ENROLL_DEVICE_CLASS };
    return env->conf != NULL ? env->conf : &defaults;
}

static const char *
enroll_ek_origin_name(attest_ek_origin origin)
{
    return origin == ATTEST_EK_REGISTERED ? "registered" : "certified";
}

/* An attest failure that judges the evidence (not one of ours) becomes an EVIDENCE refusal. The
 * reason is passed by pointer: it is read after the call that set it (argument evaluation order
 * is unspecified). */
static ztca_rc
enroll_evidence(enroll_outcome *why, ztca_rc rc, const attest_reason *reason)
{
    attest_reason r = *reason;
    if (!ZTCA_IS_OK(rc) && r != ATTEST_OK && r != ATTEST_R_INTERNAL
        && (rc.err == ZTCA_ERR_BAD_INPUT || rc.err == ZTCA_ERR_UNSUPPORTED
            || rc.err == ZTCA_ERR_DENIED)) {
        why->refusal = ENROLL_REFUSED_EVIDENCE;
        why->attest = r;
    }
    return rc;
}

/* The store's own words (unknown, used, expired) stay the noted `what` for the server log. */
static ztca_rc
enroll_refuse_store(enroll_outcome *why, enroll_refusal refusal, ztca_rc rc)
{
    if (rc.err == ZTCA_ERR_NOT_FOUND || rc.err == ZTCA_ERR_DENIED || rc.err == ZTCA_ERR_BAD_INPUT) {
        why->refusal = refusal;
        return (ztca_rc){ ZTCA_ERR_DENIED };
    }
    return rc;
}

/* A token is checked at begin exactly as the finish will consume it, by the same store call,
 * inside a transaction that is rolled back: valid now, and still unused afterwards. */
static ztca_rc
enroll_token_check(const enroll_env *env, const uint8_t hash[STORE_HASH_LEN], store_token *out,
                   enroll_outcome *why)
{
    ZTCA_GUARD(store_txn_begin(env->st));
    ztca_rc rc = store_token_consume(env->st, hash, ztca_now(), out);
    store_txn_rollback(env->st);
    return enroll_refuse_store(why, ENROLL_REFUSED_TOKEN, rc);
}

/* The device's record, if any; a revoked device is refused (DESIGN.md 4). */
static ztca_rc
enroll_device_load(const enroll_env *env, const char *id, store_device *dev, bool *out_exists,
                   enroll_outcome *why)
{
    ztca_rc rc = store_device_get(env->st, id, dev);
    *out_exists = ZTCA_IS_OK(rc);
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(rc);
    if (dev->status == STORE_DISABLED) {
        return ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_DEVICE_REVOKED, ZTCA_ERR_DENIED,
                                 "this device is revoked and cannot enroll or renew");
    }
    return ZTCA_RC_OK;
}

/* Random bytes into a session id: "ses_" and 32 hex digits. */
static ztca_rc
enroll_session_id(const enroll_env *env, char *out, size_t out_size)
{
    uint8_t raw[16];
    ZTCA_ENSURE(out_size >= 4 + 2 * sizeof(raw) + 1, ZTCA_ERR_INTERNAL, "session id buffer");
    ZTCA_GUARD(ca_rng_bytes(env->rng, raw, sizeof(raw)));
    snprintf(out, out_size, "ses_");
    return ztca_hex_encode(out + 4, out_size - 4, raw, sizeof(raw));
}

/* Opens a session for `d`: nonce, secret, MakeCredential for the AK, the PCR selection, and the
 * row bound to `token_hash`. The secret itself is never stored, only its SHA-256. */
static ztca_rc
enroll_session_open(const enroll_env *env, const uint8_t token_hash[STORE_HASH_LEN],
                    enroll_session_data *d, const attest_ek *ek, const attest_key *ak,
                    enroll_challenge *out, enroll_outcome *why)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t secret[ENROLL_SECRET_LEN];
    attest_reason ar = ATTEST_OK;
    char *data = NULL;
    size_t data_len = 0;
    store_session ses;
    store_session_init(&ses);
    enroll_challenge c;
    memset(&c, 0, sizeof(c));
    ztca_time now = ztca_now();

    ZTCA_CHECK(ca_rng_bytes(env->rng, secret, sizeof(secret)));
    ZTCA_CHECK(ca_rng_bytes(env->rng, c.nonce, sizeof(c.nonce)));
    ZTCA_CHECK(enroll_session_id(env, c.session, sizeof(c.session)));
    ZTCA_CHECK(enroll_evidence(
        why, attest_cred_make(&c.cred, &ar, env->rng, ek, &ak->name, secret, sizeof(secret)), &ar));
    attest_pcr_policy_request(env->policy, enroll_conf(env)->device_class, &c.pcr_bank,
                              &c.pcr_mask);
    d->pcr_bank = c.pcr_bank;
    d->pcr_mask = c.pcr_mask;
    snprintf(c.device_id, sizeof(c.device_id), "%s", d->device_id);
    c.expires_at = now + enroll_conf(env)->session_ttl;
    ZTCA_CHECK(enroll_session_data_encode(&data, &data_len, d));

    snprintf(ses.id, sizeof(ses.id), "%s", c.session);
    memcpy(ses.token_hash, token_hash, STORE_HASH_LEN);
    memcpy(ses.nonce, c.nonce, sizeof(c.nonce));
    ses.nonce_len = sizeof(c.nonce);
    ZTCA_CHECK(ca_hash(CA_MD_SHA256, secret, sizeof(secret), ses.secret_hash, STORE_HASH_LEN));
    ses.data = (uint8_t *)data;
    ses.data_len = data_len;
    ses.created_at = now;
    ses.expires_at = c.expires_at;
    ZTCA_CHECK(store_session_insert(env->st, &ses));
    *out = c;
out:
    ztca_zeroize(secret, sizeof(secret));
    free(data);
    return rc;
}

/* The EK of a begin with a certificate: it chains to a configured manufacturer root and holds
 * the EK public. */
static ztca_rc
enroll_ek_certified(const enroll_env *env, const enroll_begin_req *req, attest_ek *out,
                    enroll_outcome *why)
{
    attest_reason ar = ATTEST_OK;
    if (env->roots == NULL || attest_roots_num_anchors(env->roots) == 0) {
        return enroll_refuse(why, ENROLL_REFUSED_EVIDENCE, ATTEST_R_EK_CERT_UNTRUSTED,
                             ZTCA_ERR_DENIED, __FILE__, __LINE__,
                             "no TPM manufacturer roots are configured (DIR/tpm-roots)");
    }
    const uint8_t *chain[ENROLL_EK_CHAIN_MAX];
    size_t chain_lens[ENROLL_EK_CHAIN_MAX];
    for (size_t i = 0; i < req->num_ek_chain; i++) {
        chain[i] = req->ek_chain[i].p;
        chain_lens[i] = req->ek_chain[i].len;
    }
    attest_ek_in in = { req->ek_cert.p,   req->ek_cert.len,  chain, chain_lens, req->num_ek_chain,
                        req->ek_public.p, req->ek_public.len };
    return enroll_evidence(why, attest_ek_verify(out, &ar, env->roots, &in), &ar);
}

/* The EK of a begin without a certificate (docs/attestation.md "Pre-registering EK public keys"):
 * a device with this EK must be on record, and not revoked. Its key comes from the record: the
 * one an operator registered (facts "ek_spki", `ztca device allow`), else the key of the EK
 * certificate verified at its first enrollment. The lookup is by the SHA-256 of the TPMT_PUBLIC,
 * so the template (attributes, policy) is the registered one too. */
static ztca_rc
enroll_ek_on_record(const enroll_env *env, const enroll_begin_req *req, attest_ek *out,
                    enroll_outcome *why)
{
    ztca_rc rc = ZTCA_RC_OK;
    attest_reason ar = ATTEST_OK;
    attest_key pub;
    uint8_t digest[STORE_HASH_LEN];
    char id[CA_NAME_MAX + 1];
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    store_device dev;
    store_device_init(&dev);

    ZTCA_CHECK(enroll_evidence(
        why, attest_ek_public_parse(&pub, &ar, req->ek_public.p, req->ek_public.len), &ar));
    ZTCA_CHECK(enroll_ek_identity(digest, id, sizeof(id), req->ek_public.p, req->ek_public.len));
    rc = store_device_find_by_ek(env->st, digest, &dev);
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        rc = enroll_refuse(why, ENROLL_REFUSED_EVIDENCE, ATTEST_R_EK_NOT_REGISTERED,
                           ZTCA_ERR_DENIED, __FILE__, __LINE__,
                           "no EK certificate, and this EK was not pre-registered "
                           "(ztca device allow --ek-pub)");
        goto out;
    }
    ZTCA_CHECK(rc);
    if (dev.status == STORE_DISABLED) {
        rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_DEVICE_REVOKED, ZTCA_ERR_DENIED,
                               "this device is revoked and cannot enroll or renew");
        goto out;
    }
    if (!ZTCA_IS_OK(enroll_facts_ek_spki(&spki, &spki_len, dev.facts))) {
        spki = NULL; /* an unreadable registration vouches for nothing */
    }
    if (spki == NULL && dev.ek_cert != NULL
        && ca_cert_has_key(dev.ek_cert, dev.ek_cert_len, pub.spki, pub.spki_len)) {
        spki = ztca_malloc(pub.spki_len);
        ZTCA_REQUIRE(spki != NULL, ZTCA_ERR_NOMEM, "out of memory");
        memcpy(spki, pub.spki, pub.spki_len);
        spki_len = pub.spki_len;
    }
    if (spki == NULL) {
        rc = enroll_refuse(why, ENROLL_REFUSED_EVIDENCE, ATTEST_R_EK_NOT_REGISTERED,
                           ZTCA_ERR_DENIED, __FILE__, __LINE__,
                           "the device of this EK has no registered EK key on record");
        goto out;
    }
    ZTCA_CHECK(enroll_evidence(
        why, attest_ek_registered(out, &ar, req->ek_public.p, req->ek_public.len, spki, spki_len),
        &ar));
    /* Enrolled before with a verified certificate: that certificate still vouches for it. */
    if (!enroll_facts_ek_registered(dev.facts) && dev.ek_cert != NULL) {
        out->origin = ATTEST_EK_CERTIFIED;
    }
out:
    ztca_free(spki);
    store_device_free(&dev);
    return rc;
}

ztca_rc
enroll_tpm_begin(const enroll_env *env, const uint8_t token_hash[STORE_HASH_LEN],
                 const enroll_begin_req *req, enroll_challenge *out, enroll_outcome *why)
{
    ztca_rc rc = ZTCA_RC_OK;
    attest_reason ar = ATTEST_OK;
    attest_ek ek;
    attest_key ak;
    store_token tok;
    store_device dev;
    bool exists = false;
    enroll_session_data d;
    enroll_session_data_init(&d);
    store_device_init(&dev);
    memset(&ek, 0, sizeof(ek));
    memset(why, 0, sizeof(*why));

    ZTCA_CHECK(enroll_token_check(env, token_hash, &tok, why));
    if (req->ek_public.p == NULL) {
        rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_EVIDENCE_SHAPE, ZTCA_ERR_BAD_INPUT,
                               "enrollment needs the EK public area");
        goto out;
    }
    if (req->ek_cert.p != NULL) {
        ZTCA_CHECK(enroll_ek_certified(env, req, &ek, why));
    } else {
        ZTCA_CHECK(enroll_ek_on_record(env, req, &ek, why));
    }
    ZTCA_CHECK(
        enroll_evidence(why, attest_ak_parse(&ak, &ar, req->ak_public.p, req->ak_public.len), &ar));
    attest_key key;
    ZTCA_CHECK(enroll_evidence(
        why, attest_key_parse(&key, &ar, req->key_public.p, req->key_public.len), &ar));
    ZTCA_CHECK(enroll_ek_identity(d.ek_digest, d.device_id, sizeof(d.device_id), req->ek_public.p,
                                  req->ek_public.len));
    ZTCA_CHECK(enroll_device_load(env, d.device_id, &dev, &exists, why));
    if (exists && (!dev.has_ek || !ztca_ct_equal(dev.ek_pub_hash, d.ek_digest, STORE_HASH_LEN))) {
        rc =
            enroll_refuse(why, ENROLL_REFUSED_EVIDENCE, ATTEST_R_EK_NOT_REGISTERED, ZTCA_ERR_DENIED,
                          __FILE__, __LINE__, "the device id is recorded with another EK");
        goto out;
    }

    d.op = ENROLL_OP_ENROLL;
    d.ek_origin = ek.origin;
    /* The session state borrows the request's blobs for encoding (the caller frees them). */
    d.ek_cert = req->ek_cert;
    d.ek_public = req->ek_public;
    d.ak_public = req->ak_public;
    d.key_public = req->key_public;
    d.facts = req->facts;
    rc = enroll_session_open(env, token_hash, &d, &ek, &ak, out, why);
    memset(&d.ek_cert, 0, sizeof(d.ek_cert));
    memset(&d.ek_public, 0, sizeof(d.ek_public));
    memset(&d.ak_public, 0, sizeof(d.ak_public));
    memset(&d.key_public, 0, sizeof(d.key_public));
    d.facts = NULL;
out:
    enroll_session_data_free(&d);
    store_device_free(&dev);
    return rc;
}

/* ---- finish: evidence ---------------------------------------------------------------------- */

typedef struct enroll_verified {
    attest_key ek;
    attest_key ak;
    attest_quote quote;
    attest_pcr_verdict verdict;
    attest_level level;
    char *baseline; /* owned: a baseline to record (PCR decision RECORD) */
    ca_csr csr;
} enroll_verified;

static void
enroll_verified_init(enroll_verified *v)
{
    memset(v, 0, sizeof(*v));
    ca_csr_init(&v->csr);
}

static void
enroll_verified_free(enroll_verified *v)
{
    ztca_free(v->baseline);
    ca_csr_free(&v->csr);
    enroll_verified_init(v);
}

/* Everything a finish proves, pure: the credential secret, certify (the CSR key is the session's
 * non-exportable TPM key, certified by its AK over the nonce), the quote and the PCR policy. */
static ztca_rc
enroll_verify(const enroll_env *env, const store_session *ses, const enroll_session_data *d,
              const enroll_finish_req *req, const char *old_facts, enroll_verified *v,
              enroll_outcome *why)
{
    attest_reason ar = ATTEST_OK;
    uint8_t h[STORE_HASH_LEN];
    /* DESIGN.md 3: the recovered secret, in constant time (its hash: the secret is not kept). */
    ZTCA_GUARD(ca_hash(CA_MD_SHA256, req->secret.p, req->secret.len, h, sizeof(h)));
    ZTCA_GUARD(enroll_evidence(
        why, attest_cred_check(&ar, ses->secret_hash, STORE_HASH_LEN, h, sizeof(h)), &ar));
    ZTCA_GUARD(enroll_evidence(
        why, attest_ek_public_parse(&v->ek, &ar, d->ek_public.p, d->ek_public.len), &ar));
    ZTCA_GUARD(
        enroll_evidence(why, attest_ak_parse(&v->ak, &ar, d->ak_public.p, d->ak_public.len), &ar));
    attest_certify cert;
    attest_certify_in cin = { req->certify_attest.p,
                              req->certify_attest.len,
                              req->certify_sig.p,
                              req->certify_sig.len,
                              d->key_public.p,
                              d->key_public.len,
                              (const uint8_t *)req->csr,
                              req->csr_len,
                              ses->nonce,
                              ses->nonce_len };
    ZTCA_GUARD(enroll_evidence(why, attest_certify_verify(&cert, &ar, &v->ak, &cin), &ar));
    attest_quote_in qin = { req->quote_attest.p, req->quote_attest.len, req->quote_sig.p,
                            req->quote_sig.len,  req->pcr_values.p,     req->pcr_values.len,
                            ses->nonce,          ses->nonce_len,        d->pcr_bank,
                            d->pcr_mask };
    ZTCA_GUARD(enroll_evidence(why, attest_quote_verify(&v->quote, &ar, &v->ak, &qin), &ar));

    attest_pcr_bank baseline;
    bool has_baseline = false;
    if (!ZTCA_IS_OK(enroll_facts_baseline(&baseline, &has_baseline, old_facts))) {
        has_baseline = false; /* an unreadable baseline is recorded afresh */
    }
    ZTCA_GUARD(attest_pcr_evaluate(&v->verdict, env->policy, enroll_conf(env)->device_class,
                                   &v->quote.pcrs, has_baseline ? &baseline : NULL));
    if (v->verdict.decision == ATTEST_PCR_RECORD) {
        size_t n = 0;
        ZTCA_GUARD(attest_pcr_baseline_encode(&v->baseline, &n, &v->quote.pcrs));
    }
    v->level = attest_level_of(d->ek_origin, v->verdict.decision);
    ztca_rc rc = ca_csr_parse(&v->csr, (const uint8_t *)req->csr, req->csr_len);
    if (!ZTCA_IS_OK(rc) && rc.err != ZTCA_ERR_NOMEM) {
        why->refusal = ENROLL_REFUSED_CSR;
    }
    return rc;
}

/* ---- finish: trust -------------------------------------------------------------------------- */

static ztca_rc
enroll_signal(const enroll_env *env, const char *device_id, const char *kind, int impact,
              ztca_time now, ztca_time expires_at)
{
    store_signal sig;
    store_signal_init(&sig);
    snprintf(sig.device_id, sizeof(sig.device_id), "%s", device_id);
    snprintf(sig.source, sizeof(sig.source), "%s", TRUST_SOURCE_ZTCA);
    snprintf(sig.kind, sizeof(sig.kind), "%s", kind);
    sig.impact = impact;
    sig.created_at = now;
    sig.expires_at = expires_at;
    return store_signal_insert(env->st, &sig, NULL, NULL);
}

/* The built-in signals of an attestation (docs/trust.md), inside the issuing transaction: a PCR
 * that changed from the baseline, a quote the PCR policy refuses, TPM counters that went back.
 * The latest signal of a kind replaces the earlier one, so a quote that passes again after a
 * failure records impact 0 for the PCR kinds. */
static ztca_rc
enroll_attest_signals(const enroll_env *env, const char *device_id, const char *old_facts,
                      const attest_pcr_verdict *v, bool regressed, ztca_time now)
{
    trust_policy defaults;
    const trust_policy *p = env->trust_policy;
    if (p == NULL) {
        trust_policy_defaults(&defaults);
        p = &defaults;
    }
    bool changed = false, refused = false;
    for (size_t i = 0; v->decision == ATTEST_PCR_FAIL && i < v->num_findings; i++) {
        changed = changed || v->findings[i].reason == ATTEST_R_PCR_CHANGED;
        refused = refused || v->findings[i].reason != ATTEST_R_PCR_CHANGED;
    }
    bool failed_before = enroll_facts_pcr_failed(old_facts);
    if (changed || failed_before) {
        ZTCA_GUARD(enroll_signal(env, device_id, TRUST_KIND_PCR_CHANGED,
                                 changed ? p->pcr_changed_impact : 0, now, 0));
    }
    if (refused || failed_before) {
        ZTCA_GUARD(enroll_signal(env, device_id, TRUST_KIND_PCR_POLICY,
                                 refused ? p->pcr_policy_impact : 0, now, 0));
    }
    if (regressed) {
        ZTCA_GUARD(enroll_signal(env, device_id, TRUST_KIND_COUNTERS_BACKWARDS,
                                 p->counters_backwards_impact, now, now + ENROLL_COUNTERS_TTL));
    }
    return ZTCA_RC_OK;
}

/* ---- finish: issuance ---------------------------------------------------------------------- */

typedef struct enroll_issue {
    const ca_profile *profile;
    const char *device_id;
    const char *user; /* NULL: a device certificate */
    ca_attestation attestation;
    const char *level;
    const char *pcr;
    const ca_csr *csr;
    int64_t ttl;
    const char *actor;
    const char *via;
} enroll_issue;

/* Issues and records one certificate inside the caller's transaction; a serial collision
 * (2^-126 per pair) gets a fresh serial. */
static ztca_rc
enroll_issue_record(const enroll_env *env, const enroll_issue *is, ca_issued *out)
{
    char detail[CA_URL_MAX + 512];
    ca_issue_req req = {
        .profile = is->profile, .spki = is->csr->spki, .spki_len = is->csr->spki_len, .ttl = is->ttl
    };
    req.id.device_id = is->device_id;
    req.id.user = is->user;
    req.id.attestation = is->attestation;
    for (int attempt = 0;; attempt++) {
        ca_issued_free(out);
        ZTCA_GUARD(ca_issue(out, env->issuer, env->cfg, env->rng, &req));
        store_cert c;
        store_cert_init(&c);
        snprintf(c.serial, sizeof(c.serial), "%s", out->serial_hex);
        snprintf(c.device_id, sizeof(c.device_id), "%s", is->device_id);
        snprintf(c.user, sizeof(c.user), "%s", is->user != NULL ? is->user : "");
        snprintf(c.profile, sizeof(c.profile), "%s", is->profile->name);
        c.not_before = out->not_before;
        c.not_after = out->not_after;
        c.der = out->der;
        c.der_len = out->der_len;
        snprintf(detail, sizeof(detail),
                 "{\"profile\":\"%s\",\"uri\":\"%s\",\"not_after\":%lld,\"via\":\"%s\","
                 "\"attestation\":\"%s\",\"level\":\"%s\",\"pcr\":\"%s\"}",
                 is->profile->name, out->uri, (long long)out->not_after, is->via,
                 ca_attestation_name(is->attestation), is->level, is->pcr);
        store_audit_event ev = {
            .actor = is->actor, .action = "cert.issue", .subject = c.serial, .detail = detail
        };
        ztca_rc rc = store_cert_insert(env->st, &c, &ev);
        if (rc.err != ZTCA_ERR_CONFLICT || attempt == 2) {
            return rc;
        }
    }
}

static void
enroll_result_fill(enroll_result *out, const enroll_issue *is, ca_issued *cert)
{
    out->cert = *cert;
    ca_issued_init(cert);
    out->profile = is->profile;
    snprintf(out->device_id, sizeof(out->device_id), "%s", is->device_id);
    snprintf(out->user, sizeof(out->user), "%s", is->user != NULL ? is->user : "");
    out->attestation = is->attestation;
    out->level = is->level;
    out->pcr = is->pcr;
}

static ztca_rc
enroll_ttl(const enroll_issue *is, int64_t requested, enroll_outcome *why)
{
    int64_t effective = 0;
    ztca_rc rc = ca_profile_ttl(is->profile, requested, &effective);
    if (rc.err == ZTCA_ERR_DENIED) {
        why->refusal = ENROLL_REFUSED_TTL; /* the profile caps it, the request never raises it */
    }
    return rc;
}

/* The trust engine's word, inside the issuing transaction (after the signals are recorded). */
static ztca_rc
enroll_trust_check(const enroll_env *env, enroll_issue *is, enroll_outcome *why)
{
    bool allowed = true;
    int64_t ttl = is->ttl;
    if (env->trust == NULL) {
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(env->trust(env->trust_ctx, is->device_id, is->user != NULL ? is->user : "",
                          is->profile, is->ttl, &ttl, &allowed));
    if (!allowed) {
        return ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_TRUST, ZTCA_ERR_DENIED,
                                 "the trust score is below the issuance threshold");
    }
    is->ttl = ttl;
    return ZTCA_RC_OK;
}

ztca_rc
enroll_tpm_finish(const enroll_env *env, const uint8_t token_hash[STORE_HASH_LEN],
                  const enroll_finish_req *req, enroll_result *out, enroll_outcome *why)
{
    ztca_rc rc = ZTCA_RC_OK;
    store_session ses;
    enroll_session_data d;
    enroll_verified v;
    store_device dev;
    store_token tok;
    ca_issued cert;
    char *facts = NULL;
    bool in_txn = false, exists = false, regressed = false;
    char actor[STORE_NAME_MAX + 8];
    store_session_init(&ses);
    enroll_session_data_init(&d);
    enroll_verified_init(&v);
    store_device_init(&dev);
    ca_issued_init(&cert);
    memset(why, 0, sizeof(*why));

    if (!req->has_evidence) {
        rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_EVIDENCE_SHAPE, ZTCA_ERR_BAD_INPUT,
                               "enrollment needs secret, certify, quote and csr");
        goto out;
    }
    ZTCA_CHECK(enroll_refuse_store(why, ENROLL_REFUSED_SESSION,
                                   store_session_consume(env->st, req->session, ztca_now(), &ses)));
    /* Bound to the token that opened it: another token holder who learnt the id only burns it. */
    if (!ztca_ct_equal(ses.token_hash, token_hash, STORE_HASH_LEN)) {
        rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_SESSION_TOKEN, ZTCA_ERR_DENIED,
                               "the session was opened with another token");
        goto out;
    }
    rc = enroll_session_data_decode(&d, ses.data, ses.data_len);
    if (!ZTCA_IS_OK(rc) || d.op != ENROLL_OP_ENROLL) {
        rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_SESSION, ZTCA_ERR_DENIED,
                               "not an enrollment session");
        goto out;
    }
    ZTCA_CHECK(enroll_device_load(env, d.device_id, &dev, &exists, why));
    ZTCA_CHECK(enroll_verify(env, &ses, &d, req, exists ? dev.facts : NULL, &v, why));

    ZTCA_CHECK(store_txn_begin(env->st));
    in_txn = true;
    ZTCA_CHECK(enroll_refuse_store(why, ENROLL_REFUSED_TOKEN,
                                   store_token_consume(env->st, token_hash, ztca_now(), &tok)));
    enroll_issue is = { .profile = ca_profile_find(tok.profile),
                        .device_id = d.device_id,
                        .attestation = attest_level_to_ca(v.level),
                        .level = attest_level_name(v.level),
                        .pcr = enroll_pcr_decision_name(v.verdict.decision),
                        .csr = &v.csr,
                        .ttl = req->ttl,
                        .actor = actor,
                        .via = "enroll" };
    ZTCA_REQUIRE(is.profile != NULL, ZTCA_ERR_INTERNAL, "token with an unknown profile");
    is.user = is.profile->id == CA_PROFILE_AGENT && tok.user[0] != '\0' ? tok.user : NULL;
    ZTCA_CHECK(enroll_ttl(&is, req->ttl, why));
    snprintf(actor, sizeof(actor), "token:%s", tok.user[0] != '\0' ? tok.user : d.device_id);
    /* Again inside the transaction: a revocation committed since the check above wins. */
    store_device_free(&dev);
    ZTCA_CHECK(enroll_device_load(env, d.device_id, &dev, &exists, why));

    enroll_facts_in fin = { .old_facts = exists ? dev.facts : NULL,
                            .client_facts = d.facts,
                            .level = is.level,
                            .ca_level = is.attestation,
                            .via = "enroll",
                            .now = ztca_now(),
                            .ek = &v.ek,
                            .ak = &v.ak,
                            .quote = &v.quote,
                            .verdict = &v.verdict,
                            .pcr_bank = d.pcr_bank,
                            .pcr_mask = d.pcr_mask,
                            .baseline = v.baseline,
                            .ek_origin = enroll_ek_origin_name(d.ek_origin) };
    /* A registered EK's record was made by `ztca device allow`; it cannot have gone since. */
    ZTCA_REQUIRE(exists || d.ek_origin != ATTEST_EK_REGISTERED, ZTCA_ERR_NOT_FOUND,
                 "the pre-registered device vanished");
    ZTCA_CHECK(enroll_facts_build(&facts, &regressed, &fin));
    char detail[160];
    snprintf(detail, sizeof(detail), "{\"attestation\":\"%s\",\"level\":\"%s\",\"pcr\":\"%s\"}",
             ca_attestation_name(is.attestation), is.level, is.pcr);
    if (exists) {
        store_audit_event ev = {
            .actor = actor, .action = "device.attest", .subject = d.device_id, .detail = detail
        };
        ZTCA_CHECK(store_device_update_evidence(env->st, d.device_id, d.ak_public.p,
                                                d.ak_public.len, facts, fin.now, &ev));
    } else {
        store_device nd;
        store_device_init(&nd);
        snprintf(nd.id, sizeof(nd.id), "%s", d.device_id);
        nd.has_ek = true;
        memcpy(nd.ek_pub_hash, d.ek_digest, STORE_HASH_LEN);
        nd.ek_cert = d.ek_cert.p;
        nd.ek_cert_len = d.ek_cert.len;
        nd.ak_pub = d.ak_public.p;
        nd.ak_pub_len = d.ak_public.len;
        nd.facts = facts;
        store_audit_event ev = {
            .actor = actor, .action = "device.register", .subject = d.device_id, .detail = detail
        };
        ZTCA_CHECK(store_device_insert(env->st, &nd, &ev));
    }
    if (tok.user[0] != '\0') {
        ZTCA_CHECK(store_user_put(env->st, tok.user, NULL));
        if (is.profile->id == CA_PROFILE_AGENT) {
            ZTCA_CHECK(store_agent_put(env->st, d.device_id, tok.user, fin.now, NULL));
        }
    }
    ZTCA_CHECK(enroll_attest_signals(env, d.device_id, exists ? dev.facts : NULL, &v.verdict,
                                     regressed, fin.now));
    ZTCA_CHECK(enroll_trust_check(env, &is, why));
    ZTCA_CHECK(enroll_issue_record(env, &is, &cert));
    ZTCA_CHECK(store_txn_commit(env->st));
    in_txn = false;
    enroll_result_fill(out, &is, &cert);
out:
    if (in_txn) {
        store_txn_rollback(env->st);
    }
    free(facts);
    ca_issued_free(&cert);
    store_device_free(&dev);
    enroll_verified_free(&v);
    enroll_session_data_free(&d);
    store_session_free(&ses);
    return rc;
}

/* ---- renewal ------------------------------------------------------------------------------- */

static ztca_rc
enroll_peer_check(const enroll_peer *peer, enroll_outcome *why)
{
    if (peer->kind != CA_PROFILE_AGENT && peer->kind != CA_PROFILE_DEVICE) {
        return ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_KIND, ZTCA_ERR_DENIED,
                                 "only agent and device certificates are renewed here");
    }
    return ZTCA_RC_OK;
}

static ztca_rc
enroll_peer_device(const enroll_env *env, const enroll_peer *peer, store_device *dev,
                   enroll_outcome *why)
{
    bool exists = false;
    ZTCA_GUARD(enroll_peer_check(peer, why));
    ZTCA_GUARD(enroll_device_load(env, peer->device_id, dev, &exists, why));
    if (!exists) {
        return ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_DEVICE_UNKNOWN, ZTCA_ERR_DENIED,
                                 "the certificate's device is not on record");
    }
    return ZTCA_RC_OK;
}

ztca_rc
enroll_renew_begin(const enroll_env *env, const enroll_peer *peer, const enroll_begin_req *req,
                   enroll_challenge *out, enroll_outcome *why)
{
    ztca_rc rc = ZTCA_RC_OK;
    attest_reason ar = ATTEST_OK;
    store_device dev;
    bool in_txn = false;
    uint8_t raw[32];
    enroll_session_data d;
    enroll_session_data_init(&d);
    store_device_init(&dev);
    memset(why, 0, sizeof(*why));

    ZTCA_CHECK(enroll_peer_device(env, peer, &dev, why));
    if (!dev.has_ek) {
        rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_EVIDENCE_SHAPE, ZTCA_ERR_BAD_INPUT,
                               "a software device renews with POST /v1/renew and its CSR alone");
        goto out;
    }
    /* The device's EK, identified by the hash recorded at enrollment (its certificate was
     * verified then); MakeCredential needs its public area. */
    attest_ek ek = { .origin = enroll_facts_ek_registered(dev.facts) ? ATTEST_EK_REGISTERED
                                                                     : ATTEST_EK_CERTIFIED,
                     .from_public = true };
    attest_key ak;
    ZTCA_CHECK(enroll_evidence(
        why, attest_ek_public_parse(&ek.key, &ar, req->ek_public.p, req->ek_public.len), &ar));
    ZTCA_CHECK(enroll_ek_identity(d.ek_digest, d.device_id, sizeof(d.device_id), req->ek_public.p,
                                  req->ek_public.len));
    if (!ztca_ct_equal(d.ek_digest, dev.ek_pub_hash, STORE_HASH_LEN)
        || strcmp(d.device_id, peer->device_id) != 0) {
        rc =
            enroll_refuse(why, ENROLL_REFUSED_EVIDENCE, ATTEST_R_EK_NOT_REGISTERED, ZTCA_ERR_DENIED,
                          __FILE__, __LINE__, "the EK is not the one recorded for this device");
        goto out;
    }
    ZTCA_CHECK(
        enroll_evidence(why, attest_ak_parse(&ak, &ar, req->ak_public.p, req->ak_public.len), &ar));
    attest_key key;
    ZTCA_CHECK(enroll_evidence(
        why, attest_key_parse(&key, &ar, req->key_public.p, req->key_public.len), &ar));

    /* A session references a token (store schema): a renewal gets an internal one, never shown
     * to anyone (a random hash), single use and as short-lived as the session. */
    store_token tok;
    memset(&tok, 0, sizeof(tok));
    ZTCA_CHECK(ca_rng_bytes(env->rng, raw, sizeof(raw)));
    ZTCA_CHECK(ca_hash(CA_MD_SHA256, raw, sizeof(raw), tok.hash, STORE_HASH_LEN));
    snprintf(tok.user, sizeof(tok.user), "%s", peer->user);
    snprintf(tok.profile, sizeof(tok.profile), "%s", ca_profile_get(peer->kind)->name);
    snprintf(tok.created_by, sizeof(tok.created_by), "renew:%s", peer->serial);
    tok.expires_at = ztca_now() + enroll_conf(env)->session_ttl;

    d.op = ENROLL_OP_RENEW;
    d.ek_origin = ek.origin;
    snprintf(d.serial, sizeof(d.serial), "%s", peer->serial);
    d.ek_public = req->ek_public;
    d.ak_public = req->ak_public;
    d.key_public = req->key_public;
    d.facts = req->facts;
    ZTCA_CHECK(store_txn_begin(env->st));
    in_txn = true;
    ZTCA_CHECK(store_token_insert(env->st, &tok, NULL));
    ZTCA_CHECK(enroll_session_open(env, tok.hash, &d, &ek, &ak, out, why));
    ZTCA_CHECK(store_txn_commit(env->st));
    in_txn = false;
out:
    if (in_txn) {
        store_txn_rollback(env->st);
    }
    memset(&d.ek_public, 0, sizeof(d.ek_public));
    memset(&d.ak_public, 0, sizeof(d.ak_public));
    memset(&d.key_public, 0, sizeof(d.key_public));
    d.facts = NULL;
    enroll_session_data_free(&d);
    store_device_free(&dev);
    ztca_zeroize(raw, sizeof(raw));
    return rc;
}

ztca_rc
enroll_renew_finish(const enroll_env *env, const enroll_peer *peer, const enroll_finish_req *req,
                    enroll_result *out, enroll_outcome *why)
{
    ztca_rc rc = ZTCA_RC_OK;
    store_session ses;
    enroll_session_data d;
    enroll_verified v;
    store_device dev;
    store_token tok;
    ca_issued cert;
    char *facts = NULL;
    bool in_txn = false, exists = false, regressed = false;
    char actor[STORE_NAME_MAX + 16];
    store_session_init(&ses);
    enroll_session_data_init(&d);
    enroll_verified_init(&v);
    store_device_init(&dev);
    ca_issued_init(&cert);
    memset(why, 0, sizeof(*why));

    ZTCA_CHECK(enroll_peer_device(env, peer, &dev, why));
    if (dev.has_ek != req->has_evidence) {
        rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_EVIDENCE_SHAPE, ZTCA_ERR_BAD_INPUT,
                               dev.has_ek ? "a TPM device renews with fresh evidence: "
                                            "POST /v1/renew/begin first"
                                          : "a software device renews with its CSR alone");
        goto out;
    }
    enroll_issue is = { .profile = ca_profile_get(peer->kind),
                        .device_id = peer->device_id,
                        .user = peer->kind == CA_PROFILE_AGENT ? peer->user : NULL,
                        .attestation = CA_ATTEST_SOFTWARE,
                        .level = "software",
                        .pcr = "",
                        .csr = &v.csr,
                        .ttl = req->ttl,
                        .actor = actor,
                        .via = "renew" };
    snprintf(actor, sizeof(actor), "%s:%s", is.profile->name,
             peer->user[0] != '\0' ? peer->user : peer->device_id);
    if (dev.has_ek) {
        ZTCA_CHECK(
            enroll_refuse_store(why, ENROLL_REFUSED_SESSION,
                                store_session_consume(env->st, req->session, ztca_now(), &ses)));
        rc = enroll_session_data_decode(&d, ses.data, ses.data_len);
        /* Bound to the certificate that opened it: the same serial, so the same caller. */
        if (!ZTCA_IS_OK(rc) || d.op != ENROLL_OP_RENEW || strcmp(d.serial, peer->serial) != 0
            || strcmp(d.device_id, peer->device_id) != 0) {
            rc = ENROLL_REFUSE_TPM(why, ENROLL_REFUSED_SESSION, ZTCA_ERR_DENIED,
                                   "not a renewal session of this certificate");
            goto out;
        }
        ZTCA_CHECK(enroll_verify(env, &ses, &d, req, dev.facts, &v, why));
        is.attestation = attest_level_to_ca(v.level);
        is.level = attest_level_name(v.level);
        is.pcr = enroll_pcr_decision_name(v.verdict.decision);
    } else {
        rc = ca_csr_parse(&v.csr, (const uint8_t *)req->csr, req->csr_len);
        if (!ZTCA_IS_OK(rc)) {
            why->refusal = rc.err != ZTCA_ERR_NOMEM ? ENROLL_REFUSED_CSR : ENROLL_REFUSED_NONE;
            goto out;
        }
    }
    ZTCA_CHECK(enroll_ttl(&is, req->ttl, why));

    ZTCA_CHECK(store_txn_begin(env->st));
    in_txn = true;
    if (dev.has_ek) {
        /* The session's internal token goes with it. */
        ZTCA_CHECK(
            enroll_refuse_store(why, ENROLL_REFUSED_SESSION,
                                store_token_consume(env->st, ses.token_hash, ztca_now(), &tok)));
    }
    store_device_free(&dev);
    ZTCA_CHECK(enroll_device_load(env, peer->device_id, &dev, &exists, why));
    ZTCA_REQUIRE(exists, ZTCA_ERR_NOT_FOUND, "device vanished");
    enroll_facts_in fin = { .old_facts = dev.facts,
                            .client_facts = d.facts,
                            .level = is.level,
                            .ca_level = is.attestation,
                            .via = "renew",
                            .now = ztca_now() };
    if (dev.has_ek) {
        fin.ek = &v.ek;
        fin.ak = &v.ak;
        fin.quote = &v.quote;
        fin.verdict = &v.verdict;
        fin.pcr_bank = d.pcr_bank;
        fin.pcr_mask = d.pcr_mask;
        fin.baseline = v.baseline;
        fin.ek_origin = enroll_ek_origin_name(d.ek_origin);
    }
    ZTCA_CHECK(enroll_facts_build(&facts, &regressed, &fin));
    char detail[160];
    snprintf(detail, sizeof(detail), "{\"attestation\":\"%s\",\"level\":\"%s\",\"pcr\":\"%s\"}",
             ca_attestation_name(is.attestation), is.level, is.pcr);
    store_audit_event ev = {
        .actor = actor, .action = "device.attest", .subject = peer->device_id, .detail = detail
    };
    ZTCA_CHECK(store_device_update_evidence(env->st, peer->device_id,
                                            dev.has_ek ? d.ak_public.p : NULL,
                                            dev.has_ek ? d.ak_public.len : 0, facts, fin.now, &ev));
    if (dev.has_ek) {
        ZTCA_CHECK(
            enroll_attest_signals(env, peer->device_id, dev.facts, &v.verdict, regressed, fin.now));
    }
    if (is.user != NULL) {
        ZTCA_CHECK(store_agent_put(env->st, peer->device_id, is.user, fin.now, NULL));
    }
    ZTCA_CHECK(enroll_trust_check(env, &is, why));
    ZTCA_CHECK(enroll_issue_record(env, &is, &cert));
    ZTCA_CHECK(store_txn_commit(env->st));
    in_txn = false;
    enroll_result_fill(out, &is, &cert);
out:
    if (in_txn) {
        store_txn_rollback(env->st);
    }
    free(facts);
    ca_issued_free(&cert);
    store_device_free(&dev);
    enroll_verified_free(&v);
    enroll_session_data_free(&d);
    store_session_free(&ses);
    return rc;
}
