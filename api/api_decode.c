/* api_decode.c: request bodies to structs, pure (bytes in, struct out) so that one fuzz target
 * covers the decoding of every route (tests/fuzz/fuzz_api_request.c). On failure *out_type is
 * the problem type to answer with and ztca_last_what() the detail. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

static ztca_rc
api_decode_object(const uint8_t *body, size_t len, json_t **out, const char **out_type)
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

/* An optional string member copied into out[out_size]; absent or null gives "". */
static ztca_rc
api_decode_string(json_t *obj, const char *key, char *out, size_t out_size, const char *what)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (v == NULL || json_is_null(v)) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(json_is_string(v), ZTCA_ERR_BAD_INPUT, what);
    size_t n = json_string_length(v);
    ZTCA_ENSURE(n < out_size && strlen(json_string_value(v)) == n, ZTCA_ERR_BAD_INPUT, what);
    memcpy(out, json_string_value(v), n + 1);
    return ZTCA_RC_OK;
}

/* "ttl": a duration string ("8h") or a positive number of seconds; 0 when absent. */
static ztca_rc
api_decode_ttl(json_t *obj, int64_t *out)
{
    json_t *v = json_object_get(obj, "ttl");
    *out = 0;
    if (v == NULL || json_is_null(v)) {
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
    ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "\"ttl\" must be a duration such as \"15m\" or \"8h\", or "
                                  "a number of seconds");
}

ztca_rc
api_decode_token(const uint8_t *body, size_t len, api_token_req *out, const char **out_type)
{
    json_t *obj = NULL;
    api_token_req req;
    memset(&req, 0, sizeof(req));
    ZTCA_GUARD(api_decode_object(body, len, &obj, out_type));
    *out_type = "invalid-field";
    ztca_rc rc = api_decode_string(obj, "user", req.user, sizeof(req.user),
                                   "\"user\" must be 1-64 of [A-Za-z0-9._-]");
    if (ZTCA_IS_OK(rc)) {
        rc = api_decode_string(obj, "profile", req.profile, sizeof(req.profile),
                               "\"profile\" must be \"agent\" or \"device\"");
    }
    if (ZTCA_IS_OK(rc)) {
        rc = api_decode_ttl(obj, &req.ttl);
    }
    json_decref(obj);
    ZTCA_GUARD(rc);
    if (req.profile[0] == '\0') {
        memcpy(req.profile, "agent", sizeof("agent"));
    }
    /* A token enrolls a user's agent (user x device) or a device on its own. */
    ZTCA_ENSURE(strcmp(req.profile, "agent") == 0 || strcmp(req.profile, "device") == 0,
                ZTCA_ERR_BAD_INPUT, "\"profile\" must be \"agent\" or \"device\"");
    ZTCA_ENSURE(req.user[0] != '\0' || strcmp(req.profile, "device") == 0, ZTCA_ERR_BAD_INPUT,
                "\"user\" is required for an agent token");
    ZTCA_ENSURE(req.user[0] == '\0' || ca_name_is_valid(req.user), ZTCA_ERR_BAD_INPUT,
                "\"user\" must be 1-64 of [A-Za-z0-9._-]");
    req.ttl = req.ttl == 0 ? API_TOKEN_TTL_DEFAULT : req.ttl;
    ZTCA_ENSURE(req.ttl >= 1 && req.ttl <= API_TOKEN_TTL_MAX, ZTCA_ERR_BAD_INPUT,
                "\"ttl\" of a token must be between 1s and 7d");
    *out = req;
    return ZTCA_RC_OK;
}

void
api_cert_req_free(api_cert_req *req)
{
    if (req != NULL) {
        free(req->csr);
        req->csr = NULL;
    }
}

ztca_rc
api_decode_cert(const uint8_t *body, size_t len, api_cert_req *out, const char **out_type)
{
    json_t *obj = NULL;
    api_cert_req req;
    memset(&req, 0, sizeof(req));
    ZTCA_GUARD(api_decode_object(body, len, &obj, out_type));
    *out_type = "invalid-field";
    ztca_rc rc = api_decode_string(obj, "profile", req.profile, sizeof(req.profile),
                                   "\"profile\" must be a profile name");
    if (ZTCA_IS_OK(rc)) {
        rc = api_decode_ttl(obj, &req.ttl);
    }
    json_t *csr = json_object_get(obj, "csr");
    if (ZTCA_IS_OK(rc)
        && (!json_is_string(csr) || json_string_length(csr) == 0
            || strlen(json_string_value(csr)) != json_string_length(csr))) {
        rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "\"csr\" (a PEM certificate request) is required", 0);
    }
    if (ZTCA_IS_OK(rc)) {
        req.csr_len = json_string_length(csr);
        req.csr = malloc(req.csr_len + 1);
        if (req.csr == NULL) {
            rc = ZTCA_NOTE(ZTCA_ERR_NOMEM, "out of memory", 0);
        } else {
            memcpy(req.csr, json_string_value(csr), req.csr_len + 1);
        }
    }
    json_decref(obj);
    ZTCA_GUARD(rc);
    *out = req;
    return ZTCA_RC_OK;
}

ztca_rc
api_decode_revoke(const uint8_t *body, size_t len, bool device, int *out, const char **out_type)
{
    json_t *obj = NULL;
    char name[32];
    int reason = device ? STORE_REASON_KEY_COMPROMISE : STORE_REASON_UNSPECIFIED;
    if (len == 0) {
        *out = reason; /* the body is optional */
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(api_decode_object(body, len, &obj, out_type));
    *out_type = "bad-reason";
    ztca_rc rc = api_decode_string(obj, "reason", name, sizeof(name),
                                   "\"reason\" must be an RFC 5280 CRLReason name");
    json_decref(obj);
    ZTCA_GUARD(rc);
    if (name[0] != '\0') {
        ZTCA_GUARD(api_reason_parse(name, &reason));
    }
    /* A device revocation is final; hold is for certificates (and the trust engine). */
    ZTCA_ENSURE(!device || reason != STORE_REASON_CERTIFICATE_HOLD, ZTCA_ERR_BAD_INPUT,
                "a device revocation is final: use a reason other than certificateHold");
    *out = reason;
    return ZTCA_RC_OK;
}
