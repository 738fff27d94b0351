/* enroll_provisioner.c: the OIDC provisioner's configuration, a JSON object that the store keeps
 * as text and every node reads (`ztca provisioner add NAME --type oidc ...`). Parsed strictly:
 * a misspelt member must not drop a restriction without a word. */
#include <stdio.h>
#include <string.h>

#include "enroll/internal.h"

void
enroll_provisioner_init(enroll_provisioner *p)
{
    memset(p, 0, sizeof(*p));
    p->algs = ENROLL_ALGS_DEFAULT;
    p->max_ttl = ENROLL_TTL_DEFAULT;
    p->clock_skew = ENROLL_SKEW_DEFAULT;
}

void
enroll_provisioner_free(enroll_provisioner *p)
{
    if (p == NULL) {
        return;
    }
    free(p->jwks_json); /* from json_dumps: jansson's allocator */
    enroll_jwks_free(p->jwks);
    enroll_provisioner_init(p);
}

/* ---- validation --------------------------------------------------------------------------- */

static bool
enroll_is_pchar(char c)
{
    /* RFC 3986 3.3 pchar without pct-encoded: one spelling per URL, since "iss" is compared
     * byte for byte. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

bool
enroll_url_is_valid(const char *url)
{
    char host[256];
    const char *p;
    bool https;
    size_t n = strlen(url);
    if (n == 0 || n > ENROLL_URL_MAX) {
        return false;
    }
    if (strncmp(url, "https://", 8) == 0) {
        https = true;
    } else if (strncmp(url, "http://", 7) == 0) {
        https = false;
    } else {
        return false;
    }
    if (!ZTCA_IS_OK(ca_url_host(host, sizeof(host), url)) || !ca_host_is_valid(host)) {
        ztca_clear_error();
        return false; /* user info ("a@b") is not a valid host either */
    }
    /* Plain HTTP lets anyone on the path swap the keys: loopback only, for tests. */
    if (!https && strcmp(host, "localhost") != 0 && strcmp(host, "127.0.0.1") != 0
        && strcmp(host, "::1") != 0) {
        return false;
    }
    p = url + (https ? 8 : 7);
    p += (*p == '[') ? strlen(host) + 2 : strlen(host);
    if (*p == ':') {
        long port = 0;
        size_t digits = 0;
        for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++) {
            port = port * 10 + (*p - '0');
        }
        if (digits == 0 || port < 1 || port > 65535) {
            return false;
        }
    }
    if (*p == '\0') {
        return true;
    }
    if (*p != '/') {
        return false;
    }
    for (; *p != '\0'; p++) {
        if (!enroll_is_pchar(*p)) {
            return false; /* no query, fragment, percent escape, space or control character */
        }
    }
    return true;
}

/* Required values: 1-256 printable ASCII characters, spaces included. */
static bool
enroll_value_is_ascii(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENROLL_CLAIM_VALUE_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

static bool
enroll_audience_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENROLL_AUD_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

ztca_rc
enroll_provisioner_check(const enroll_provisioner *p)
{
    char td[CA_TD_MAX + 1];
    size_t num_placeholders = 0;
    ZTCA_ENSURE(ca_name_is_valid(p->name), ZTCA_ERR_BAD_INPUT,
                "provisioner: name must be 1-64 of [A-Za-z0-9._-], starting alphanumeric");
    ZTCA_ENSURE(enroll_url_is_valid(p->issuer), ZTCA_ERR_BAD_INPUT,
                "provisioner: issuer must be an https URL (http only on loopback), no query");
    ZTCA_ENSURE(enroll_audience_is_valid(p->audience), ZTCA_ERR_BAD_INPUT,
                "provisioner: audience must be 1-256 printable ASCII characters, no spaces");
    ZTCA_ENSURE((p->jwks_uri[0] != '\0') != (p->jwks != NULL), ZTCA_ERR_BAD_INPUT,
                "provisioner: exactly one of jwks_uri and an inline jwks");
    ZTCA_ENSURE((p->jwks == NULL) == (p->jwks_json == NULL), ZTCA_ERR_INTERNAL,
                "provisioner: inline JWKS without its text");
    ZTCA_ENSURE(p->jwks_uri[0] == '\0' || enroll_url_is_valid(p->jwks_uri), ZTCA_ERR_BAD_INPUT,
                "provisioner: jwks_uri must be an https URL (http only on loopback), no query");
    ZTCA_GUARD(enroll_template_check(p->san, td, sizeof(td), &num_placeholders));
    ZTCA_ENSURE(p->algs != 0 && (p->algs & ~ENROLL_ALGS_ALL) == 0, ZTCA_ERR_BAD_INPUT,
                "provisioner: algorithms must be a non-empty subset of RS256 RS384 ES256 ES384");
    ZTCA_ENSURE(p->num_require <= ENROLL_MAX_REQUIRE, ZTCA_ERR_BAD_INPUT,
                "provisioner: more than 16 required claims");
    for (size_t i = 0; i < p->num_require; i++) {
        const enroll_require *r = &p->require[i];
        ZTCA_ENSURE(enroll_claim_name_is_valid(r->claim, strlen(r->claim)), ZTCA_ERR_BAD_INPUT,
                    "provisioner: required claim names are [A-Za-z0-9_]{1,64}");
        ZTCA_ENSURE(enroll_value_is_ascii(r->value), ZTCA_ERR_BAD_INPUT,
                    "provisioner: required values are 1-256 printable ASCII characters");
        for (size_t j = 0; j < i; j++) {
            ZTCA_ENSURE(strcmp(p->require[j].claim, r->claim) != 0, ZTCA_ERR_BAD_INPUT,
                        "provisioner: a claim is required twice");
        }
    }
    /* A template without placeholders gives every token the same identity: only with at least
     * one required claim, or any repository of a shared issuer (GitHub) would get it. */
    ZTCA_ENSURE(num_placeholders > 0 || p->num_require > 0, ZTCA_ERR_BAD_INPUT,
                "provisioner: a template without {claim} needs at least one required claim");
    ZTCA_ENSURE(p->max_ttl >= ENROLL_TTL_MIN && p->max_ttl <= ENROLL_TTL_MAX, ZTCA_ERR_BAD_INPUT,
                "provisioner: max_ttl must be 60-3600 seconds");
    ZTCA_ENSURE(p->clock_skew >= 0 && p->clock_skew <= ENROLL_SKEW_MAX, ZTCA_ERR_BAD_INPUT,
                "provisioner: clock_skew must be 0-300 seconds");
    return ZTCA_RC_OK;
}

/* ---- inline JWKS and required claims ------------------------------------------------------ */

/* Keeps `obj` as canonical text (compact, sorted) and parses that text, so what is stored and
 * written back is exactly what was verified. */
static ztca_rc
enroll_provisioner_jwks_object(enroll_provisioner *p, const json_t *obj)
{
    enroll_jwks *jwks = NULL;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    ZTCA_ENSURE(text != NULL, ZTCA_ERR_NOMEM, "provisioner: out of memory");
    ztca_rc rc = enroll_jwks_parse(&jwks, (const uint8_t *)text, strlen(text));
    if (!ZTCA_IS_OK(rc)) {
        free(text);
        return rc;
    }
    free(p->jwks_json);
    enroll_jwks_free(p->jwks);
    p->jwks_json = text;
    p->jwks = jwks;
    p->jwks_uri[0] = '\0';
    return ZTCA_RC_OK;
}

ztca_rc
enroll_provisioner_set_jwks(enroll_provisioner *p, const uint8_t *json, size_t json_len)
{
    json_t *obj = NULL;
    ZTCA_GUARD(enroll_json_load(&obj, json, json_len, ENROLL_JWKS_MAX));
    ztca_rc rc = enroll_provisioner_jwks_object(p, obj);
    json_decref(obj);
    return rc;
}

static ztca_rc
enroll_provisioner_require(enroll_provisioner *p, const char *claim, size_t claim_len,
                           const char *value)
{
    ZTCA_ENSURE(enroll_claim_name_is_valid(claim, claim_len), ZTCA_ERR_BAD_INPUT,
                "required claim names are [A-Za-z0-9_]{1,64}");
    ZTCA_ENSURE(enroll_value_is_ascii(value), ZTCA_ERR_BAD_INPUT,
                "required claim values are 1-256 printable ASCII characters");
    ZTCA_ENSURE(p->num_require < ENROLL_MAX_REQUIRE, ZTCA_ERR_BAD_INPUT,
                "more than 16 required claims");
    for (size_t i = 0; i < p->num_require; i++) {
        ZTCA_ENSURE(strlen(p->require[i].claim) != claim_len
                        || memcmp(p->require[i].claim, claim, claim_len) != 0,
                    ZTCA_ERR_BAD_INPUT, "a claim is required twice");
    }
    enroll_require *r = &p->require[p->num_require++];
    memcpy(r->claim, claim, claim_len);
    r->claim[claim_len] = '\0';
    memcpy(r->value, value, strlen(value) + 1);
    return ZTCA_RC_OK;
}

ztca_rc
enroll_provisioner_add_require(enroll_provisioner *p, const char *claim_eq_value)
{
    const char *eq = strchr(claim_eq_value, '=');
    ZTCA_ENSURE(eq != NULL, ZTCA_ERR_BAD_INPUT, "--require wants CLAIM=VALUE");
    return enroll_provisioner_require(p, claim_eq_value, (size_t)(eq - claim_eq_value), eq + 1);
}

ztca_rc
enroll_provisioner_ttl(const enroll_provisioner *p, int64_t requested, int64_t *out)
{
    int64_t cap = p->max_ttl < ENROLL_TTL_MAX ? p->max_ttl : ENROLL_TTL_MAX;
    ZTCA_ENSURE(requested >= 0, ZTCA_ERR_BAD_INPUT, "TTL must not be negative");
    int64_t ttl = requested == 0 ? ENROLL_TTL_DEFAULT : requested;
    *out = ttl < cap ? ttl : cap;
    return ZTCA_RC_OK;
}

/* ---- JSON --------------------------------------------------------------------------------- */

static ztca_rc
enroll_copy_string(char *dst, size_t size, const json_t *v, const char *what)
{
    ZTCA_ENSURE(json_is_string(v) && json_string_length(v) < size
                    && strlen(json_string_value(v)) == json_string_length(v),
                ZTCA_ERR_BAD_INPUT, what);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return ZTCA_RC_OK;
}

static ztca_rc
enroll_seconds(int64_t *out, const json_t *v, const char *what)
{
    ZTCA_ENSURE(json_is_integer(v), ZTCA_ERR_BAD_INPUT, what);
    *out = (int64_t)json_integer_value(v);
    return ZTCA_RC_OK;
}

static ztca_rc
enroll_provisioner_member(enroll_provisioner *p, const char *key, json_t *v)
{
    if (strcmp(key, "name") == 0) {
        return enroll_copy_string(p->name, sizeof(p->name), v, "provisioner: name");
    }
    if (strcmp(key, "type") == 0) {
        ZTCA_ENSURE(json_is_string(v) && strcmp(json_string_value(v), "oidc") == 0,
                    ZTCA_ERR_BAD_INPUT, "provisioner: type must be \"oidc\"");
        return ZTCA_RC_OK;
    }
    if (strcmp(key, "issuer") == 0) {
        return enroll_copy_string(p->issuer, sizeof(p->issuer), v, "provisioner: issuer");
    }
    if (strcmp(key, "audience") == 0) {
        return enroll_copy_string(p->audience, sizeof(p->audience), v, "provisioner: audience");
    }
    if (strcmp(key, "jwks_uri") == 0) {
        return enroll_copy_string(p->jwks_uri, sizeof(p->jwks_uri), v, "provisioner: jwks_uri");
    }
    if (strcmp(key, "jwks") == 0) {
        ZTCA_ENSURE(json_is_object(v), ZTCA_ERR_BAD_INPUT, "provisioner: jwks must be a JWKS");
        return enroll_provisioner_jwks_object(p, v);
    }
    if (strcmp(key, "san") == 0) {
        return enroll_copy_string(p->san, sizeof(p->san), v, "provisioner: san");
    }
    if (strcmp(key, "algorithms") == 0) {
        size_t i;
        json_t *a;
        ZTCA_ENSURE(json_is_array(v) && json_array_size(v) > 0, ZTCA_ERR_BAD_INPUT,
                    "provisioner: algorithms must be a non-empty array");
        p->algs = 0;
        json_array_foreach(v, i, a)
        {
            enroll_alg alg;
            ZTCA_ENSURE(json_is_string(a), ZTCA_ERR_BAD_INPUT,
                        "provisioner: algorithms holds strings");
            ZTCA_GUARD(enroll_alg_parse(&alg, json_string_value(a)));
            ZTCA_ENSURE((p->algs & (unsigned)alg) == 0, ZTCA_ERR_BAD_INPUT,
                        "provisioner: an algorithm is listed twice");
            p->algs |= (unsigned)alg;
        }
        return ZTCA_RC_OK;
    }
    if (strcmp(key, "require") == 0) {
        const char *claim;
        json_t *value;
        ZTCA_ENSURE(json_is_object(v), ZTCA_ERR_BAD_INPUT,
                    "provisioner: require must be an object of claim: value");
        json_object_foreach(v, claim, value)
        {
            ZTCA_ENSURE(json_is_string(value)
                            && strlen(json_string_value(value)) == json_string_length(value),
                        ZTCA_ERR_BAD_INPUT, "provisioner: required values are strings");
            ZTCA_GUARD(
                enroll_provisioner_require(p, claim, strlen(claim), json_string_value(value)));
        }
        return ZTCA_RC_OK;
    }
    if (strcmp(key, "max_ttl") == 0) {
        return enroll_seconds(&p->max_ttl, v, "provisioner: max_ttl must be an integer");
    }
    if (strcmp(key, "clock_skew") == 0) {
        return enroll_seconds(&p->clock_skew, v, "provisioner: clock_skew must be an integer");
    }
    ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "provisioner: unknown member");
}

ztca_rc
enroll_provisioner_parse(enroll_provisioner *out, const uint8_t *json, size_t json_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    enroll_provisioner p;
    json_t *root = NULL;
    const char *key;
    json_t *v;
    enroll_provisioner_init(&p);
    ZTCA_CHECK(enroll_json_load(&root, json, json_len, ENROLL_PROVISIONER_MAX));
    ZTCA_REQUIRE(json_object_get(root, "type") != NULL, ZTCA_ERR_BAD_INPUT,
                 "provisioner: type missing");
    ZTCA_REQUIRE(json_object_get(root, "jwks") == NULL || json_object_get(root, "jwks_uri") == NULL,
                 ZTCA_ERR_BAD_INPUT, "provisioner: jwks and jwks_uri are exclusive");
    json_object_foreach(root, key, v)
    {
        ZTCA_CHECK(enroll_provisioner_member(&p, key, v));
    }
    ZTCA_CHECK(enroll_provisioner_check(&p));
    *out = p;
    enroll_provisioner_init(&p); /* moved */
out:
    enroll_provisioner_free(&p);
    json_decref(root);
    return rc;
}

/* json_object_set_new that counts failures instead of returning them one by one. */
static void
enroll_set(json_t *obj, const char *key, json_t *v, bool *failed)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0) {
        *failed = true;
    }
}

ztca_rc
enroll_provisioner_write(char **out, size_t *out_len, const enroll_provisioner *p)
{
    ztca_rc rc = ZTCA_RC_OK;
    bool failed = false;
    json_t *root = NULL, *algs = NULL, *req = NULL, *jwks = NULL;
    json_error_t err;
    char *text = NULL;
    ZTCA_CHECK(enroll_provisioner_check(p));
    root = json_object();
    algs = json_array();
    req = json_object();
    ZTCA_REQUIRE(root != NULL && algs != NULL && req != NULL, ZTCA_ERR_NOMEM,
                 "provisioner: out of memory");
    enroll_set(root, "name", json_string(p->name), &failed);
    enroll_set(root, "type", json_string("oidc"), &failed);
    enroll_set(root, "issuer", json_string(p->issuer), &failed);
    enroll_set(root, "audience", json_string(p->audience), &failed);
    if (p->jwks_json != NULL) {
        jwks = json_loads(p->jwks_json, JSON_REJECT_DUPLICATES, &err);
        ZTCA_REQUIRE(jwks != NULL, ZTCA_ERR_NOMEM, "provisioner: out of memory");
        enroll_set(root, "jwks", jwks, &failed);
    } else {
        enroll_set(root, "jwks_uri", json_string(p->jwks_uri), &failed);
    }
    enroll_set(root, "san", json_string(p->san), &failed);
    for (unsigned bit = 1; bit <= ENROLL_ALGS_ALL; bit <<= 1) {
        if ((p->algs & bit) != 0
            && json_array_append_new(algs, json_string(enroll_alg_name((enroll_alg)bit))) != 0) {
            failed = true;
        }
    }
    for (size_t i = 0; i < p->num_require; i++) {
        enroll_set(req, p->require[i].claim, json_string(p->require[i].value), &failed);
    }
    enroll_set(root, "algorithms", algs, &failed);
    algs = NULL;
    enroll_set(root, "require", req, &failed);
    req = NULL;
    enroll_set(root, "max_ttl", json_integer(p->max_ttl), &failed);
    enroll_set(root, "clock_skew", json_integer(p->clock_skew), &failed);
    ZTCA_REQUIRE(!failed, ZTCA_ERR_NOMEM, "provisioner: out of memory");
    text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    ZTCA_REQUIRE(text != NULL, ZTCA_ERR_NOMEM, "provisioner: out of memory");
    *out = text;
    *out_len = strlen(text);
out:
    json_decref(algs);
    json_decref(req);
    json_decref(root);
    return rc;
}
