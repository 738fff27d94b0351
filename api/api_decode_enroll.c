/* api_decode_enroll.c: the bodies of the enrollment and renewal routes (docs/api.md,
 * "Enrollment"), decoded to enroll/'s request structs. Pure (bytes in, struct out), fuzzed by
 * tests/fuzz/fuzz_enroll_request.c. Binary members are standard base64 with padding; every one has
 * a size bound checked after decoding, and the body itself is bounded by the route. On failure
 * *out_type is the problem type and ztca_last_what() the detail; *out is written only on
 * success. Unknown members are ignored, as by the other decoders (api_decode.c). */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

static ztca_rc
api_enroll_object(const uint8_t *body, size_t len, json_t **out, const char **out_type)
{
    json_error_t err;
    json_t *obj = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &err);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        *out_type = "invalid-json";
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT,
                  "the body must be one JSON object (RFC 8259) without duplicate keys");
    }
    *out = obj;
    return ZTCA_RC_OK;
}

/* A base64 string of 1..max decoded bytes into `out`; `v` NULL or null: absent. */
static ztca_rc
api_enroll_b64(enroll_blob *out, const json_t *v, size_t max, const char *what)
{
    uint8_t *p = NULL;
    size_t n = 0;
    ZTCA_ENSURE(json_is_string(v) && json_string_length(v) > 0
                    && json_string_length(v) <= (max + 2) / 3 * 4,
                ZTCA_ERR_BAD_INPUT, what);
    ZTCA_ENSURE(ZTCA_IS_OK(ztca_base64_decode(&p, &n, json_string_value(v), json_string_length(v))),
                ZTCA_ERR_BAD_INPUT, what);
    if (n == 0 || n > max) {
        ztca_free(p);
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, what);
    }
    out->p = p;
    out->len = n;
    return ZTCA_RC_OK;
}

static bool
api_enroll_present(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

/* "facts": an object of at most ENROLL_FACTS_MAX bytes once compact; kept as that text. */
static ztca_rc
api_enroll_facts(char **out, const json_t *v)
{
    *out = NULL;
    if (!api_enroll_present(v)) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(json_is_object(v), ZTCA_ERR_BAD_INPUT, "\"facts\" must be a JSON object");
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "out of memory");
    if (strlen(s) > ENROLL_FACTS_MAX) {
        free(s);
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "\"facts\" must be at most 4 KiB");
    }
    *out = ztca_strdup(s);
    free(s);
    ZTCA_ENSURE(*out != NULL, ZTCA_ERR_NOMEM, "out of memory");
    return ZTCA_RC_OK;
}

static ztca_rc
api_enroll_begin_fields(const json_t *obj, bool renew, enroll_begin_req *req)
{
    const json_t *cert = json_object_get(obj, "ek_certificate");
    const json_t *chain = json_object_get(obj, "ek_chain");
    if (renew) {
        ZTCA_ENSURE(!api_enroll_present(cert) && !api_enroll_present(chain), ZTCA_ERR_BAD_INPUT,
                    "a renewal sends no EK certificate: the device's EK is on record");
    } else {
        /* Optional: without it the EK must have been pre-registered (enroll_tpm_begin). */
        if (api_enroll_present(cert)) {
            ZTCA_GUARD(api_enroll_b64(&req->ek_cert, cert, ENROLL_EK_CERT_MAX,
                                      "\"ek_certificate\" must be base64 DER of at most 8 KiB"));
        }
        ZTCA_ENSURE(req->ek_cert.p != NULL || !api_enroll_present(chain), ZTCA_ERR_BAD_INPUT,
                    "\"ek_chain\" without \"ek_certificate\"");
        if (api_enroll_present(chain)) {
            ZTCA_ENSURE(json_is_array(chain) && json_array_size(chain) <= ENROLL_EK_CHAIN_MAX,
                        ZTCA_ERR_BAD_INPUT,
                        "\"ek_chain\" must be an array of at most 4 base64 DER certificates");
            for (size_t i = 0; i < json_array_size(chain); i++) {
                ZTCA_GUARD(api_enroll_b64(&req->ek_chain[i], json_array_get(chain, i),
                                          ENROLL_EK_CERT_MAX,
                                          "\"ek_chain\" entries must be base64 DER certificates"));
                req->num_ek_chain++;
            }
        }
    }
    ZTCA_GUARD(api_enroll_b64(&req->ek_public, json_object_get(obj, "ek_public"), ATTEST_BLOB_MAX,
                              "\"ek_public\" (base64 TPM2B_PUBLIC of the EK) is required"));
    ZTCA_GUARD(api_enroll_b64(&req->ak_public, json_object_get(obj, "ak_public"), ATTEST_BLOB_MAX,
                              "\"ak_public\" (base64 TPM2B_PUBLIC of the AK) is required"));
    ZTCA_GUARD(api_enroll_b64(&req->key_public, json_object_get(obj, "key_public"), ATTEST_BLOB_MAX,
                              "\"key_public\" (base64 TPM2B_PUBLIC of the TLS key) is required"));
    return api_enroll_facts(&req->facts, json_object_get(obj, "facts"));
}

ztca_rc
api_decode_enroll_begin(const uint8_t *body, size_t len, bool renew, enroll_begin_req *out,
                        const char **out_type)
{
    json_t *obj = NULL;
    enroll_begin_req req;
    enroll_begin_req_init(&req);
    ZTCA_GUARD(api_enroll_object(body, len, &obj, out_type));
    *out_type = "invalid-field";
    ztca_rc rc = api_enroll_begin_fields(obj, renew, &req);
    json_decref(obj);
    if (!ZTCA_IS_OK(rc)) {
        enroll_begin_req_free(&req);
        return rc;
    }
    *out = req;
    return ZTCA_RC_OK;
}

/* "session": "ses_" and 32 lowercase hex digits, as enroll/ makes them. */
static bool
api_enroll_session_is_valid(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (s == NULL || n != 4 + 32 || strlen(s) != n || strncmp(s, "ses_", 4) != 0) {
        return false;
    }
    for (size_t i = 4; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* "ttl": as api_decode.c: a duration string or a positive number of seconds. */
static ztca_rc
api_enroll_ttl(const json_t *v, int64_t *out)
{
    *out = 0;
    if (!api_enroll_present(v)) {
        return ZTCA_RC_OK;
    }
    if (json_is_integer(v) && json_integer_value(v) > 0
        && json_integer_value(v) <= 100LL * 366 * 86400) {
        *out = json_integer_value(v);
        return ZTCA_RC_OK;
    }
    if (json_is_string(v) && ZTCA_IS_OK(ztca_duration_parse(out, json_string_value(v)))) {
        return ZTCA_RC_OK;
    }
    ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "\"ttl\" must be a duration such as \"8h\", or seconds");
}

static ztca_rc
api_enroll_finish_fields(const json_t *obj, bool renew, enroll_finish_req *req)
{
    const json_t *session = json_object_get(obj, "session");
    const json_t *secret = json_object_get(obj, "secret");
    const json_t *certify = json_object_get(obj, "certify");
    const json_t *quote = json_object_get(obj, "quote");
    const json_t *csr = json_object_get(obj, "csr");
    bool any = api_enroll_present(session) || api_enroll_present(secret)
               || api_enroll_present(certify) || api_enroll_present(quote);
    /* A software device renews with its CSR alone; everyone else proves the TPM afresh. */
    req->has_evidence = !renew || any;
    ZTCA_ENSURE(json_is_string(csr) && json_string_length(csr) > 0
                    && json_string_length(csr) <= CA_CSR_MAX
                    && strlen(json_string_value(csr)) == json_string_length(csr),
                ZTCA_ERR_BAD_INPUT, "\"csr\" (a PEM certificate request) is required");
    ZTCA_GUARD(api_enroll_ttl(json_object_get(obj, "ttl"), &req->ttl));
    if (req->has_evidence) {
        ZTCA_ENSURE(api_enroll_session_is_valid(session), ZTCA_ERR_BAD_INPUT,
                    "\"session\" must be the id that begin returned");
        memcpy(req->session, json_string_value(session), json_string_length(session) + 1);
        ZTCA_GUARD(api_enroll_b64(&req->secret, secret, ATTEST_SECRET_MAX,
                                  "\"secret\" (base64, from TPM2_ActivateCredential) is required"));
        ZTCA_ENSURE(json_is_object(certify) && json_is_object(quote), ZTCA_ERR_BAD_INPUT,
                    "\"certify\" and \"quote\" objects are required");
        ZTCA_GUARD(api_enroll_b64(&req->certify_attest, json_object_get(certify, "attest"),
                                  ATTEST_BLOB_MAX,
                                  "\"certify\".\"attest\" (base64 TPMS_ATTEST) is required"));
        ZTCA_GUARD(api_enroll_b64(&req->certify_sig, json_object_get(certify, "signature"),
                                  ATTEST_BLOB_MAX,
                                  "\"certify\".\"signature\" (base64 TPMT_SIGNATURE) is required"));
        ZTCA_GUARD(api_enroll_b64(&req->quote_attest, json_object_get(quote, "attest"),
                                  ATTEST_BLOB_MAX,
                                  "\"quote\".\"attest\" (base64 TPMS_ATTEST) is required"));
        ZTCA_GUARD(api_enroll_b64(&req->quote_sig, json_object_get(quote, "signature"),
                                  ATTEST_BLOB_MAX,
                                  "\"quote\".\"signature\" (base64 TPMT_SIGNATURE) is required"));
        ZTCA_GUARD(api_enroll_b64(&req->pcr_values, json_object_get(quote, "pcr_values"),
                                  (size_t)ATTEST_PCR_MAX * ATTEST_DIGEST_MAX,
                                  "\"quote\".\"pcr_values\" (base64 PCR digests) is required"));
    }
    req->csr_len = json_string_length(csr);
    req->csr = ztca_malloc(req->csr_len + 1);
    ZTCA_ENSURE(req->csr != NULL, ZTCA_ERR_NOMEM, "out of memory");
    memcpy(req->csr, json_string_value(csr), req->csr_len + 1);
    return ZTCA_RC_OK;
}

ztca_rc
api_decode_enroll_finish(const uint8_t *body, size_t len, bool renew, enroll_finish_req *out,
                         const char **out_type)
{
    json_t *obj = NULL;
    enroll_finish_req req;
    enroll_finish_req_init(&req);
    ZTCA_GUARD(api_enroll_object(body, len, &obj, out_type));
    *out_type = "invalid-field";
    ztca_rc rc = api_enroll_finish_fields(obj, renew, &req);
    json_decref(obj);
    if (!ZTCA_IS_OK(rc)) {
        enroll_finish_req_free(&req);
        return rc;
    }
    *out = req;
    return ZTCA_RC_OK;
}

/* ---- POST /v1/devices ---------------------------------------------------------------------- */

void
api_device_allow_req_free(api_device_allow_req *req)
{
    if (req == NULL) {
        return;
    }
    ztca_free(req->ek_public.p);
    ztca_free(req->facts);
    memset(req, 0, sizeof(*req));
}

static bool
api_note_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > ENROLL_NOTE_MAX || strlen(s) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

static ztca_rc
api_device_allow_fields(const json_t *obj, api_device_allow_req *req)
{
    const json_t *pub = json_object_get(obj, "ek_public");
    const json_t *note = json_object_get(obj, "note");
    if (json_is_string(pub) && strncmp(json_string_value(pub), "-----BEGIN", 10) == 0) {
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT,
                  "\"ek_public\" must be the EK's TPM2B_PUBLIC (tpm2_readpublic -f tss), not a "
                  "PEM key: the device id is derived from the whole public area");
    }
    ZTCA_GUARD(api_enroll_b64(&req->ek_public, pub, ATTEST_BLOB_MAX,
                              "\"ek_public\" (base64 TPM2B_PUBLIC of the EK) is required"));
    if (api_enroll_present(note)) {
        ZTCA_ENSURE(json_is_string(note)
                        && api_note_is_valid(json_string_value(note), json_string_length(note)),
                    ZTCA_ERR_BAD_INPUT,
                    "\"note\" must be 1-256 bytes of text without control characters");
        memcpy(req->note, json_string_value(note), json_string_length(note) + 1);
    }
    return api_enroll_facts(&req->facts, json_object_get(obj, "facts"));
}

ztca_rc
api_decode_device_allow(const uint8_t *body, size_t len, api_device_allow_req *out,
                        const char **out_type)
{
    json_t *obj = NULL;
    api_device_allow_req req;
    memset(&req, 0, sizeof(req));
    ZTCA_GUARD(api_enroll_object(body, len, &obj, out_type));
    *out_type = "invalid-field";
    ztca_rc rc = api_device_allow_fields(obj, &req);
    json_decref(obj);
    if (!ZTCA_IS_OK(rc)) {
        api_device_allow_req_free(&req);
        return rc;
    }
    *out = req;
    return ZTCA_RC_OK;
}
