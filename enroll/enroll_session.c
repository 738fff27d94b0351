/* enroll_session.c: the pure parts of TPM enrollment (DESIGN.md 3): request structs, the
 * "enrollment" configuration, the state a session keeps between begin and finish, the device's
 * identity from its EK, and the device facts recorded after each attestation. No store, no I/O:
 * enroll_tpm.c composes these with the store, attest/ and ca/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/internal.h"

/* ---- requests and results ------------------------------------------------------------------ */

static void
enroll_blob_free(enroll_blob *b)
{
    ztca_free(b->p);
    b->p = NULL;
    b->len = 0;
}

void
enroll_begin_req_init(enroll_begin_req *r)
{
    memset(r, 0, sizeof(*r));
}

void
enroll_begin_req_free(enroll_begin_req *r)
{
    if (r == NULL) {
        return;
    }
    enroll_blob_free(&r->ek_cert);
    for (size_t i = 0; i < ENROLL_EK_CHAIN_MAX; i++) {
        enroll_blob_free(&r->ek_chain[i]);
    }
    enroll_blob_free(&r->ek_public);
    enroll_blob_free(&r->ak_public);
    enroll_blob_free(&r->key_public);
    ztca_free(r->facts);
    enroll_begin_req_init(r);
}

void
enroll_finish_req_init(enroll_finish_req *r)
{
    memset(r, 0, sizeof(*r));
}

void
enroll_finish_req_free(enroll_finish_req *r)
{
    if (r == NULL) {
        return;
    }
    /* The secret proves possession of the TPM for this session only, but it is still a secret. */
    if (r->secret.p != NULL) {
        ztca_zeroize(r->secret.p, r->secret.len);
    }
    enroll_blob_free(&r->secret);
    enroll_blob_free(&r->certify_attest);
    enroll_blob_free(&r->certify_sig);
    enroll_blob_free(&r->quote_attest);
    enroll_blob_free(&r->quote_sig);
    enroll_blob_free(&r->pcr_values);
    ztca_free(r->csr);
    enroll_finish_req_init(r);
}

void
enroll_result_init(enroll_result *r)
{
    memset(r, 0, sizeof(*r));
    ca_issued_init(&r->cert);
    r->level = "";
    r->pcr = "";
}

void
enroll_result_free(enroll_result *r)
{
    if (r == NULL) {
        return;
    }
    ca_issued_free(&r->cert);
    enroll_result_init(r);
}

static const char *const enroll_refusal_names[ENROLL_REFUSED_COUNT_] = {
    [ENROLL_REFUSED_NONE] = "none",
    [ENROLL_REFUSED_TOKEN] = "token_invalid",
    [ENROLL_REFUSED_SESSION] = "session_invalid",
    [ENROLL_REFUSED_SESSION_TOKEN] = "session_token_mismatch",
    [ENROLL_REFUSED_DEVICE_REVOKED] = "device_revoked",
    [ENROLL_REFUSED_DEVICE_UNKNOWN] = "device_unknown",
    [ENROLL_REFUSED_EVIDENCE] = "attestation_failed",
    [ENROLL_REFUSED_EVIDENCE_SHAPE] = "evidence_required",
    [ENROLL_REFUSED_CSR] = "csr_rejected",
    [ENROLL_REFUSED_TTL] = "ttl_too_long",
    [ENROLL_REFUSED_KIND] = "certificate_kind",
    [ENROLL_REFUSED_TRUST] = "trust_denied",
};

const char *
enroll_refusal_name(enroll_refusal r)
{
    if ((unsigned)r >= ENROLL_REFUSED_COUNT_ || enroll_refusal_names[r] == NULL) {
        return "unknown";
    }
    return enroll_refusal_names[r];
}

ztca_rc
enroll_refuse(enroll_outcome *why, enroll_refusal refusal, attest_reason attest, ztca_err err,
              const char *file, int line, const char *what)
{
    why->refusal = refusal;
    why->attest = attest;
    return ztca_note(err, file, line, what, 0);
}

/* ---- configuration ------------------------------------------------------------------------- */

void
enroll_config_defaults(enroll_config *c)
{
    memset(c, 0, sizeof(*c));
    c->session_ttl = ENROLL_SESSION_TTL_DEFAULT;
    memcpy(c->device_class, ENROLL_DEVICE_CLASS, sizeof(ENROLL_DEVICE_CLASS));
}

ztca_rc
enroll_config_parse(enroll_config *out, const uint8_t *json, size_t json_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_t *root = NULL;
    enroll_config c;
    enroll_config_defaults(&c);
    ZTCA_CHECK(enroll_json_load(&root, json, json_len, CA_CONFIG_MAX));
    json_t *e = json_object_get(root, "enrollment");
    if (e != NULL) {
        const char *key;
        json_t *v;
        ZTCA_REQUIRE(json_is_object(e), ZTCA_ERR_BAD_INPUT, "\"enrollment\" must be an object");
        json_object_foreach(e, key, v)
        {
            if (strcmp(key, "session_ttl") == 0) {
                int64_t ttl = 0;
                if (json_is_integer(v)) {
                    ttl = json_integer_value(v);
                } else if (!json_is_string(v)
                           || !ZTCA_IS_OK(ztca_duration_parse(&ttl, json_string_value(v)))) {
                    ttl = 0;
                }
                ZTCA_REQUIRE(ttl >= 1 && ttl <= ENROLL_SESSION_TTL_MAX, ZTCA_ERR_BAD_INPUT,
                             "\"enrollment\".\"session_ttl\" must be a duration of 1s to 1h");
                c.session_ttl = ttl;
            } else if (strcmp(key, "device_class") == 0) {
                ZTCA_REQUIRE(json_is_string(v) && ca_name_is_valid(json_string_value(v)),
                             ZTCA_ERR_BAD_INPUT,
                             "\"enrollment\".\"device_class\" must be 1-64 of [A-Za-z0-9._-]");
                snprintf(c.device_class, sizeof(c.device_class), "%s", json_string_value(v));
            } else {
                /* A misspelt member must not silently leave the default in force. */
                ZTCA_REQUIRE(false, ZTCA_ERR_BAD_INPUT,
                             "\"enrollment\" has an unknown member (session_ttl, device_class)");
            }
        }
    }
    *out = c;
out:
    json_decref(root);
    return rc;
}

/* ---- the device's identity ----------------------------------------------------------------- */

ztca_rc
enroll_ek_identity(uint8_t out_digest[STORE_HASH_LEN], char *out_id, size_t id_size,
                   const uint8_t *ek_public, size_t ek_public_len)
{
    /* DESIGN.md 2: the SHA-256 of the EK public area, the TPMT_PUBLIC inside the TPM2B_PUBLIC
     * (the callers have checked the structure with attest_ek_public_parse). For an EK with a
     * SHA-256 nameAlg this is the digest in its Name. */
    ZTCA_ENSURE(ek_public_len > 2, ZTCA_ERR_BAD_INPUT, "EK public too short");
    ZTCA_GUARD(ca_hash(CA_MD_SHA256, ek_public + 2, ek_public_len - 2, out_digest, STORE_HASH_LEN));
    return ca_device_id_from_spki(out_id, id_size, ek_public + 2, ek_public_len - 2);
}

/* ---- session state ------------------------------------------------------------------------- */

void
enroll_session_data_init(enroll_session_data *d)
{
    memset(d, 0, sizeof(*d));
}

void
enroll_session_data_free(enroll_session_data *d)
{
    if (d == NULL) {
        return;
    }
    enroll_blob_free(&d->ek_cert);
    enroll_blob_free(&d->ek_public);
    enroll_blob_free(&d->ak_public);
    enroll_blob_free(&d->key_public);
    ztca_free(d->facts);
    enroll_session_data_init(d);
}

static ztca_rc
enroll_json_set_b64(json_t *obj, const char *key, const enroll_blob *b)
{
    char *s = NULL;
    size_t n = 0;
    if (b->p == NULL) {
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(ztca_base64_encode(&s, &n, b->p, b->len));
    int r = json_object_set_new(obj, key, json_string(s));
    ztca_free(s);
    ZTCA_ENSURE(r == 0, ZTCA_ERR_NOMEM, "session: out of memory");
    return ZTCA_RC_OK;
}

ztca_rc
enroll_session_data_encode(char **out, size_t *out_len, const enroll_session_data *d)
{
    ztca_rc rc = ZTCA_RC_OK;
    char digest[2 * STORE_HASH_LEN + 1];
    char *text = NULL;
    json_t *facts = NULL;
    json_t *o = json_pack("{s:i, s:s, s:s, s:i, s:I, s:s}", "v", 1, "op",
                          d->op == ENROLL_OP_RENEW ? "renew" : "enroll", "device_id", d->device_id,
                          "pcr_bank", (json_int_t)d->pcr_bank, "pcr_mask", (json_int_t)d->pcr_mask,
                          "serial", d->serial);
    ZTCA_REQUIRE(o != NULL, ZTCA_ERR_NOMEM, "session: out of memory");
    ZTCA_CHECK(ztca_hex_encode(digest, sizeof(digest), d->ek_digest, sizeof(d->ek_digest)));
    ZTCA_REQUIRE(json_object_set_new(o, "ek_sha256", json_string(digest)) == 0, ZTCA_ERR_NOMEM,
                 "session: out of memory");
    if (d->ek_origin == ATTEST_EK_REGISTERED) {
        ZTCA_REQUIRE(json_object_set_new(o, "ek_origin", json_string("registered")) == 0,
                     ZTCA_ERR_NOMEM, "session: out of memory");
    }
    ZTCA_CHECK(enroll_json_set_b64(o, "ek_cert", &d->ek_cert));
    ZTCA_CHECK(enroll_json_set_b64(o, "ek_public", &d->ek_public));
    ZTCA_CHECK(enroll_json_set_b64(o, "ak_public", &d->ak_public));
    ZTCA_CHECK(enroll_json_set_b64(o, "key_public", &d->key_public));
    if (d->facts != NULL) {
        json_error_t err;
        facts = json_loads(d->facts, JSON_REJECT_DUPLICATES, &err);
        ZTCA_REQUIRE(json_is_object(facts), ZTCA_ERR_INTERNAL, "session: facts not an object");
        ZTCA_REQUIRE(json_object_set(o, "facts", facts) == 0, ZTCA_ERR_NOMEM,
                     "session: out of memory");
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    ZTCA_REQUIRE(text != NULL, ZTCA_ERR_NOMEM, "session: out of memory");
    ZTCA_REQUIRE(strlen(text) <= STORE_BLOB_MAX, ZTCA_ERR_INTERNAL, "session state too large");
    *out_len = strlen(text);
    *out = text;
    text = NULL;
out:
    free(text);
    json_decref(facts);
    json_decref(o);
    return rc;
}

/* A base64 member into a blob of at most `max` bytes; absent is fine when !required. */
static ztca_rc
enroll_json_get_b64(enroll_blob *out, const json_t *obj, const char *key, size_t max, bool required)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL && !required) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(json_is_string(v), ZTCA_ERR_BAD_INPUT, "session: a blob is missing");
    ZTCA_GUARD(ztca_base64_decode(&out->p, &out->len, json_string_value(v), json_string_length(v)));
    if (out->len > max) {
        enroll_blob_free(out);
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "session: a blob is too large");
    }
    return ZTCA_RC_OK;
}

ztca_rc
enroll_session_data_decode(enroll_session_data *out, const uint8_t *data, size_t len)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_t *o = NULL;
    enroll_session_data d;
    enroll_session_data_init(&d);
    ZTCA_CHECK(enroll_json_load(&o, data, len, STORE_BLOB_MAX));
    json_t *v = json_object_get(o, "v");
    const char *op = json_string_value(json_object_get(o, "op"));
    const char *dev = json_string_value(json_object_get(o, "device_id"));
    const char *serial = json_string_value(json_object_get(o, "serial"));
    const char *digest = json_string_value(json_object_get(o, "ek_sha256"));
    json_t *bank = json_object_get(o, "pcr_bank");
    json_t *mask = json_object_get(o, "pcr_mask");
    ZTCA_REQUIRE(json_is_integer(v) && json_integer_value(v) == 1 && op != NULL && dev != NULL
                     && serial != NULL && digest != NULL && json_is_integer(bank)
                     && json_is_integer(mask),
                 ZTCA_ERR_BAD_INPUT, "session: state of another version");
    ZTCA_REQUIRE(strcmp(op, "enroll") == 0 || strcmp(op, "renew") == 0, ZTCA_ERR_BAD_INPUT,
                 "session: unknown operation");
    d.op = strcmp(op, "renew") == 0 ? ENROLL_OP_RENEW : ENROLL_OP_ENROLL;
    ZTCA_REQUIRE(ca_name_is_valid(dev) && strlen(serial) < sizeof(d.serial), ZTCA_ERR_BAD_INPUT,
                 "session: bad device id or serial");
    snprintf(d.device_id, sizeof(d.device_id), "%s", dev);
    snprintf(d.serial, sizeof(d.serial), "%s", serial);
    size_t n = 0;
    ZTCA_CHECK(ztca_hex_decode(d.ek_digest, sizeof(d.ek_digest), &n, digest));
    ZTCA_REQUIRE(n == sizeof(d.ek_digest), ZTCA_ERR_BAD_INPUT, "session: bad EK digest");
    ZTCA_REQUIRE(json_integer_value(bank) > 0 && json_integer_value(bank) <= 0xffff
                     && json_integer_value(mask) > 0
                     && json_integer_value(mask) < ((json_int_t)1 << ATTEST_PCR_MAX),
                 ZTCA_ERR_BAD_INPUT, "session: bad PCR selection");
    d.pcr_bank = (uint16_t)json_integer_value(bank);
    d.pcr_mask = (uint32_t)json_integer_value(mask);
    /* Absent: a certified EK (sessions written before pre-registration existed). */
    const json_t *origin = json_object_get(o, "ek_origin");
    ZTCA_REQUIRE(
        origin == NULL
            || (json_is_string(origin) && strcmp(json_string_value(origin), "registered") == 0),
        ZTCA_ERR_BAD_INPUT, "session: unknown EK origin");
    d.ek_origin = origin != NULL ? ATTEST_EK_REGISTERED : ATTEST_EK_CERTIFIED;
    ZTCA_CHECK(enroll_json_get_b64(&d.ek_cert, o, "ek_cert", ENROLL_EK_CERT_MAX, false));
    ZTCA_CHECK(enroll_json_get_b64(&d.ek_public, o, "ek_public", ATTEST_BLOB_MAX, true));
    ZTCA_CHECK(enroll_json_get_b64(&d.ak_public, o, "ak_public", ATTEST_BLOB_MAX, true));
    ZTCA_CHECK(enroll_json_get_b64(&d.key_public, o, "key_public", ATTEST_BLOB_MAX, true));
    json_t *facts = json_object_get(o, "facts");
    if (facts != NULL) {
        ZTCA_REQUIRE(json_is_object(facts), ZTCA_ERR_BAD_INPUT, "session: facts not an object");
        d.facts = json_dumps(facts, JSON_COMPACT | JSON_SORT_KEYS);
        ZTCA_REQUIRE(d.facts != NULL, ZTCA_ERR_NOMEM, "session: out of memory");
    }
    *out = d;
    enroll_session_data_init(&d);
out:
    enroll_session_data_free(&d);
    json_decref(o);
    return rc;
}

/* ---- facts --------------------------------------------------------------------------------- */

const char *
enroll_pcr_decision_name(attest_pcr_decision d)
{
    switch (d) {
    case ATTEST_PCR_NO_POLICY:
        return "no_policy";
    case ATTEST_PCR_PASS:
        return "pass";
    case ATTEST_PCR_RECORD:
        return "record";
    case ATTEST_PCR_FAIL:
        return "fail";
    }
    return "unknown";
}

/* "rsa-2048", "ecc-p256", "ecc-p384": the key kinds of the facts. */
static void
enroll_key_kind(char *out, size_t out_size, const attest_key *k)
{
    if (k->type == ATTEST_KEY_RSA) {
        snprintf(out, out_size, "rsa-%u", (unsigned)k->bits);
    } else {
        snprintf(out, out_size, "ecc-p%u", (unsigned)k->bits);
    }
}

static const char *
enroll_bank_name(uint16_t alg)
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
enroll_verdict_json(const attest_pcr_verdict *v, uint16_t bank, uint32_t mask)
{
    json_t *pcrs = json_array();
    for (int i = 0; pcrs != NULL && i < ATTEST_PCR_MAX; i++) {
        if ((mask & (1u << i)) != 0 && json_array_append_new(pcrs, json_integer(i)) != 0) {
            json_decref(pcrs);
            pcrs = NULL;
        }
    }
    json_t *findings = pcrs != NULL ? json_array() : NULL;
    for (size_t i = 0; findings != NULL && i < v->num_findings; i++) {
        char f[96];
        if (v->findings[i].pcr >= 0) {
            snprintf(f, sizeof(f), "%s:%d", attest_reason_name(v->findings[i].reason),
                     v->findings[i].pcr);
        } else {
            snprintf(f, sizeof(f), "%s", attest_reason_name(v->findings[i].reason));
        }
        if (json_array_append_new(findings, json_string(f)) != 0) {
            json_decref(findings);
            findings = NULL;
        }
    }
    if (findings == NULL) {
        json_decref(pcrs);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:o}", "decision", enroll_pcr_decision_name(v->decision),
                     "bank", enroll_bank_name(bank), "pcrs", pcrs, "matched", v->matched,
                     "findings", findings);
}

/* Sets obj[key] = val, taking the reference (also on failure). */
static bool
enroll_set(json_t *obj, const char *key, json_t *val)
{
    return val != NULL && json_object_set_new(obj, key, val) == 0;
}

ztca_rc
enroll_facts_build(char **out, bool *out_counter_regressed, const enroll_facts_in *in)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_error_t err;
    json_t *facts = NULL;
    char *text = NULL;
    char when[32], ek[24], ak[24], fw[24];
    *out_counter_regressed = false;
    if (in->old_facts != NULL) {
        facts = json_loads(in->old_facts, JSON_REJECT_DUPLICATES, &err);
    }
    if (!json_is_object(facts)) {
        json_decref(facts);
        facts = json_object();
    }
    ZTCA_REQUIRE(facts != NULL, ZTCA_ERR_NOMEM, "facts: out of memory");
    /* TPM2_Startup(CLEAR) increments resetCount (Part 1 36.6): a smaller value than last time
     * means the TPM was cleared or the quote is not the device's newest state. */
    json_t *old_tpm = json_object_get(facts, "tpm");
    json_t *old_reset = json_object_get(old_tpm, "reset_count");
    if (in->quote != NULL && json_is_integer(old_reset)
        && (json_int_t)in->quote->clock.reset_count < json_integer_value(old_reset)) {
        *out_counter_regressed = true;
    }
    ZTCA_CHECK(ztca_time_format_rfc3339(when, sizeof(when), in->now));
    bool ok = enroll_set(facts, "attestation", json_string(ca_attestation_name(in->ca_level)))
              && enroll_set(facts, "attestation_level", json_string(in->level))
              && enroll_set(facts, "last_attestation", json_string(when))
              && enroll_set(facts, "last_attestation_via", json_string(in->via));
    if (ok && json_object_get(facts, "enrolled_with") == NULL) {
        ok = enroll_set(facts, "enrolled_with", json_string(in->ek != NULL ? "tpm" : "token"));
    }
    if (ok && in->ek_origin != NULL) {
        ok = enroll_set(facts, "ek", json_string(in->ek_origin));
    }
    if (ok && in->ek != NULL) {
        enroll_key_kind(ek, sizeof(ek), in->ek);
        ok = enroll_set(facts, "ek_type", json_string(ek));
    }
    if (ok && in->ak != NULL) {
        enroll_key_kind(ak, sizeof(ak), in->ak);
        ok = enroll_set(facts, "ak_type", json_string(ak));
    }
    if (ok && in->quote != NULL) {
        snprintf(fw, sizeof(fw), "0x%016llx", (unsigned long long)in->quote->firmware_version);
        ok = enroll_set(facts, "tpm",
                        json_pack("{s:I, s:I, s:I, s:b, s:s}", "reset_count",
                                  (json_int_t)in->quote->clock.reset_count, "restart_count",
                                  (json_int_t)in->quote->clock.restart_count, "clock_ms",
                                  (json_int_t)in->quote->clock.clock, "safe", in->quote->clock.safe,
                                  "firmware_version", fw));
    }
    if (ok && in->verdict != NULL) {
        ok = enroll_set(facts, "pcr", enroll_verdict_json(in->verdict, in->pcr_bank, in->pcr_mask));
    }
    if (ok && in->baseline != NULL) {
        ok = enroll_set(facts, "pcr_baseline", json_loads(in->baseline, 0, &err));
    }
    if (ok && in->client_facts != NULL) {
        /* What the device says about itself, kept apart from what was verified. */
        ok = enroll_set(facts, "client", json_loads(in->client_facts, 0, &err));
    }
    ZTCA_REQUIRE(ok, ZTCA_ERR_NOMEM, "facts: out of memory");
    text = json_dumps(facts, JSON_COMPACT | JSON_SORT_KEYS);
    ZTCA_REQUIRE(text != NULL, ZTCA_ERR_NOMEM, "facts: out of memory");
    ZTCA_REQUIRE(strlen(text) <= STORE_JSON_MAX, ZTCA_ERR_BAD_INPUT, "facts: larger than 64 KiB");
    *out = text;
    text = NULL;
out:
    free(text);
    json_decref(facts);
    return rc;
}

bool
enroll_facts_pcr_failed(const char *facts)
{
    json_error_t err;
    if (facts == NULL) {
        return false;
    }
    json_t *o = json_loads(facts, JSON_REJECT_DUPLICATES, &err);
    const char *d = json_string_value(json_object_get(json_object_get(o, "pcr"), "decision"));
    bool failed = d != NULL && strcmp(d, "fail") == 0;
    json_decref(o);
    return failed;
}

ztca_rc
enroll_facts_baseline(attest_pcr_bank *out, bool *out_found, const char *facts)
{
    json_error_t err;
    *out_found = false;
    if (facts == NULL) {
        return ZTCA_RC_OK;
    }
    json_t *o = json_loads(facts, JSON_REJECT_DUPLICATES, &err);
    json_t *b = json_object_get(o, "pcr_baseline");
    ztca_rc rc = ZTCA_RC_OK;
    if (b != NULL) {
        char *s = json_dumps(b, JSON_COMPACT);
        rc = s != NULL ? attest_pcr_baseline_parse(out, (const uint8_t *)s, strlen(s))
                       : ZTCA_NOTE(ZTCA_ERR_NOMEM, "facts: out of memory", 0);
        free(s);
        *out_found = ZTCA_IS_OK(rc);
    }
    json_decref(o);
    return rc;
}
