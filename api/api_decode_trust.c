/* api_decode_trust.c: the body of a trust signal, pure (fuzzed with the other request bodies by
 * tests/fuzz/fuzz_api_request.c). Strict: unknown members are refused, so a misspelt
 * "expires_in" cannot turn a temporary signal into a permanent one. */
#include <string.h>

#include "api/internal.h"

static ztca_rc
api_signal_name(json_t *obj, const char *key, bool required, char *out, size_t out_size,
                const char *what)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (v == NULL && !required) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(json_is_string(v) && json_string_length(v) < out_size
                    && strlen(json_string_value(v)) == json_string_length(v)
                    && trust_name_is_valid(json_string_value(v)),
                ZTCA_ERR_BAD_INPUT, what);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return ZTCA_RC_OK;
}

static ztca_rc
api_signal_fields(json_t *obj, api_signal_req *req)
{
    static const char *const known[] = { "source", "kind", "impact", "expires_in", "note" };
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool found = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !found; i++) {
            found = strcmp(key, known[i]) == 0;
        }
        ZTCA_ENSURE(found, ZTCA_ERR_BAD_INPUT,
                    "unknown member: a signal has source, kind, impact, expires_in and note");
    }
    ZTCA_GUARD(api_signal_name(obj, "source", false, req->source, sizeof(req->source),
                               "\"source\" must be 1-64 of [a-z0-9._-], starting with a-z or 0-9"));
    ZTCA_GUARD(api_signal_name(obj, "kind", true, req->kind, sizeof(req->kind),
                               "\"kind\" is required: 1-64 of [a-z0-9._-], starting with a-z or "
                               "0-9"));
    v = json_object_get(obj, "impact");
    ZTCA_ENSURE(json_is_integer(v) && json_integer_value(v) >= TRUST_IMPACT_MIN
                    && json_integer_value(v) <= TRUST_IMPACT_MAX,
                ZTCA_ERR_BAD_INPUT, "\"impact\" is required: an integer from -100 to 100");
    req->impact = (int)json_integer_value(v);
    v = json_object_get(obj, "expires_in");
    if (v != NULL && !json_is_null(v)) {
        int64_t d = 0;
        if (json_is_integer(v)) {
            d = json_integer_value(v);
        } else if (!json_is_string(v)
                   || !ZTCA_IS_OK(ztca_duration_parse(&d, json_string_value(v)))) {
            d = -1;
        }
        ZTCA_ENSURE(d >= 1 && d <= API_SIGNAL_TTL_MAX, ZTCA_ERR_BAD_INPUT,
                    "\"expires_in\" must be a duration such as \"1h\" or a number of seconds, "
                    "at most 366 days");
        req->expires_in = d;
    }
    v = json_object_get(obj, "note");
    if (v != NULL && !json_is_null(v)) {
        ZTCA_ENSURE(json_is_string(v) && json_string_length(v) <= TRUST_NOTE_MAX
                        && strlen(json_string_value(v)) == json_string_length(v),
                    ZTCA_ERR_BAD_INPUT, "\"note\" must be a string of at most 256 bytes");
        const char *s = json_string_value(v);
        for (size_t i = 0; s[i] != '\0'; i++) {
            ZTCA_ENSURE((unsigned char)s[i] >= 0x20 && s[i] != 0x7f, ZTCA_ERR_BAD_INPUT,
                        "\"note\" may not hold control characters");
        }
        memcpy(req->note, s, json_string_length(v) + 1);
    }
    return ZTCA_RC_OK;
}

ztca_rc
api_decode_signal(const uint8_t *body, size_t len, api_signal_req *out, const char **out_type)
{
    json_error_t err;
    api_signal_req req;
    memset(&req, 0, sizeof(req));
    json_t *obj = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &err);
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        *out_type = "invalid-json";
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT,
                  "the body must be one JSON object (RFC 8259) without duplicate keys");
    }
    *out_type = "bad-signal";
    ztca_rc rc = api_signal_fields(obj, &req);
    json_decref(obj);
    ZTCA_GUARD(rc);
    *out = req;
    return ZTCA_RC_OK;
}
