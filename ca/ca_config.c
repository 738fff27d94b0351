/* ca_config.c: DIR/ztca.conf, a JSON object (jansson). Members other modules own are left to
 * them; the ones read here are checked strictly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ca/internal.h"

#define CA_CONFIG_VERSION 1
#define CA_DAY            ((int64_t)86400)

ztca_rc
ca_url_host(char *out, size_t out_size, const char *url)
{
    const char *p;
    const char *end;
    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        p = url + 8;
    } else {
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "URL must start with http:// or https://");
    }
    if (*p == '[') {
        p++;
        end = strchr(p, ']');
        ZTCA_ENSURE(end != NULL, ZTCA_ERR_BAD_INPUT, "URL: unterminated IPv6 literal");
    } else {
        end = p + strcspn(p, ":/");
    }
    size_t n = (size_t)(end - p);
    ZTCA_ENSURE(n > 0 && n < out_size, ZTCA_ERR_BAD_INPUT, "URL: missing or overlong host");
    memcpy(out, p, n);
    out[n] = '\0';
    return ZTCA_RC_OK;
}

bool
ca_url_is_valid(const char *url)
{
    char host[256];
    const char *p;
    size_t n = strlen(url);
    if (n > 400 || !ZTCA_IS_OK(ca_url_host(host, sizeof(host), url)) || !ca_host_is_valid(host)) {
        return false;
    }
    p = strstr(url, "://") + 3;
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
    /* An optional path prefix (behind a proxy), no trailing slash, no query or fragment: the
     * OCSP and CRL URLs are this plus "/ocsp" and "/crl". */
    if (*p == '\0') {
        return true;
    }
    if (*p != '/' || url[n - 1] == '/') {
        return false;
    }
    for (; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '/' || c == '-' || c == '.' || c == '_' || c == '~';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* `what` names the member in the error ("config: trust_domain must be a string"). */
static ztca_rc
ca_config_string(char *out, size_t out_size, json_t *root, const char *key, bool required,
                 const char *what)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL && !required) {
        out[0] = '\0';
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(v != NULL && json_is_string(v), ZTCA_ERR_BAD_INPUT, what);
    size_t n = json_string_length(v);
    ZTCA_ENSURE(n < out_size && strlen(json_string_value(v)) == n, ZTCA_ERR_BAD_INPUT, what);
    memcpy(out, json_string_value(v), n + 1);
    return ZTCA_RC_OK;
}

void
ca_config_defaults(ca_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ocsp_validity = 3600;
    cfg->ocsp_max_age = 60;
    cfg->ocsp_cache_entries = 20000;
    cfg->ocsp_renew_before = 2 * CA_DAY;
    cfg->crl_validity = 3600;
    cfg->crypto_backend = ca_crypto_backend_default();
    /* Generous for one identity (a token is used once or twice, a renewal takes two requests)
     * and for one address (a site behind NAT); bench/ and the tests stay below them. */
    cfg->rate_identity.rate = 0.2;
    cfg->rate_identity.burst = 10;
    cfg->rate_address.rate = 10;
    cfg->rate_address.burst = 100;
    cfg->rate_exempt_loopback = true;
}

/* An optional duration member of `obj` ("1h" or seconds) within [min, max]. */
static ztca_rc
ca_config_duration(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                   const char *what)
{
    json_t *v = json_object_get(obj, key);
    int64_t d = 0;
    if (v == NULL) {
        return ZTCA_RC_OK;
    }
    if (json_is_integer(v)) {
        d = json_integer_value(v);
    } else {
        ZTCA_ENSURE(json_is_string(v) && ZTCA_IS_OK(ztca_duration_parse(&d, json_string_value(v))),
                    ZTCA_ERR_BAD_INPUT, what);
    }
    ZTCA_ENSURE(d >= min && d <= max, ZTCA_ERR_BAD_INPUT, what);
    *out = d;
    return ZTCA_RC_OK;
}

static ztca_rc
ca_config_status(ca_config *cfg, json_t *root)
{
    json_t *ocsp = json_object_get(root, "ocsp");
    json_t *crl = json_object_get(root, "crl");
    ZTCA_ENSURE(ocsp == NULL || json_is_object(ocsp), ZTCA_ERR_BAD_INPUT,
                "config: ocsp must be an object");
    ZTCA_ENSURE(crl == NULL || json_is_object(crl), ZTCA_ERR_BAD_INPUT,
                "config: crl must be an object");
    if (ocsp != NULL) {
        ZTCA_GUARD(ca_config_duration(ocsp, "validity", 60, 7 * CA_DAY, &cfg->ocsp_validity,
                                      "config: ocsp.validity must be 1m-7d"));
        ZTCA_GUARD(ca_config_duration(ocsp, "max_age", 0, 7 * CA_DAY, &cfg->ocsp_max_age,
                                      "config: ocsp.max_age must be 0-7d"));
        ZTCA_GUARD(ca_config_duration(ocsp, "signer_renew_before", 0, 30 * CA_DAY,
                                      &cfg->ocsp_renew_before,
                                      "config: ocsp.signer_renew_before must be 0-30d"));
        json_t *n = json_object_get(ocsp, "cache_entries");
        ZTCA_ENSURE(n == NULL
                        || (json_is_integer(n) && json_integer_value(n) >= 0
                            && json_integer_value(n) <= 10000000),
                    ZTCA_ERR_BAD_INPUT, "config: ocsp.cache_entries must be 0-10000000");
        if (n != NULL) {
            cfg->ocsp_cache_entries = (size_t)json_integer_value(n);
        }
    }
    if (crl != NULL) {
        ZTCA_GUARD(ca_config_duration(crl, "validity", 60, 7 * CA_DAY, &cfg->crl_validity,
                                      "config: crl.validity must be 1m-7d"));
    }
    return ZTCA_RC_OK;
}

/* One bucket: {"rate": requests per second (0: no limit), "burst": 1-1000000}. */
static ztca_rc
ca_config_rate(json_t *obj, const char *key, ca_rate_limit *out, const char *what)
{
    json_t *o = json_object_get(obj, key);
    if (o == NULL) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(json_is_object(o), ZTCA_ERR_BAD_INPUT, what);
    json_t *rate = json_object_get(o, "rate");
    json_t *burst = json_object_get(o, "burst");
    if (rate != NULL) {
        ZTCA_ENSURE(json_is_number(rate), ZTCA_ERR_BAD_INPUT, what);
        double r = json_number_value(rate);
        ZTCA_ENSURE(r == 0 || (r >= CA_RATE_MIN && r <= CA_RATE_MAX), ZTCA_ERR_BAD_INPUT, what);
        /* Kept to 15 significant digits, which a double holds exactly and ca_config_write
         * prints: 0.2 stays "0.2" in ztca.conf, not 0.20000000000000001, and still round-trips. */
        char digits[32];
        snprintf(digits, sizeof(digits), "%.15g", r);
        out->rate = strtod(digits, NULL);
    }
    if (burst != NULL) {
        ZTCA_ENSURE(json_is_integer(burst) && json_integer_value(burst) >= 1
                        && json_integer_value(burst) <= (json_int_t)CA_BURST_MAX,
                    ZTCA_ERR_BAD_INPUT, what);
        out->burst = (uint32_t)json_integer_value(burst);
    }
    return ZTCA_RC_OK;
}

static ztca_rc
ca_config_rate_limits(ca_config *cfg, json_t *root)
{
    json_t *rl = json_object_get(root, "rate_limits");
    if (rl == NULL) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(json_is_object(rl), ZTCA_ERR_BAD_INPUT, "config: rate_limits must be an object");
    ZTCA_GUARD(ca_config_rate(rl, "per_identity", &cfg->rate_identity,
                              "config: rate_limits.per_identity must be {\"rate\": 0 or "
                              "0.001-1000000 per second, \"burst\": 1-1000000}"));
    ZTCA_GUARD(ca_config_rate(rl, "per_address", &cfg->rate_address,
                              "config: rate_limits.per_address must be {\"rate\": 0 or "
                              "0.001-1000000 per second, \"burst\": 1-1000000, "
                              "\"exempt_loopback\": true or false}"));
    json_t *addr = json_object_get(rl, "per_address");
    json_t *lo = addr != NULL ? json_object_get(addr, "exempt_loopback") : NULL;
    ZTCA_ENSURE(lo == NULL || json_is_boolean(lo), ZTCA_ERR_BAD_INPUT,
                "config: rate_limits.per_address.exempt_loopback must be true or false");
    if (lo != NULL) {
        cfg->rate_exempt_loopback = json_is_true(lo);
    }
    return ZTCA_RC_OK;
}

ztca_rc
ca_config_parse(ca_config *out, const uint8_t *json, size_t json_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_error_t err;
    json_t *root = NULL;
    ca_config cfg;
    char key_type[16];
    ca_config_defaults(&cfg);

    ZTCA_REQUIRE(json_len <= CA_CONFIG_MAX, ZTCA_ERR_BAD_INPUT, "config: file too large");
    root = json_loadb((const char *)json, json_len, JSON_REJECT_DUPLICATES, &err);
    ZTCA_REQUIRE(root != NULL, ZTCA_ERR_BAD_INPUT, "config: not valid JSON");
    ZTCA_REQUIRE(json_is_object(root), ZTCA_ERR_BAD_INPUT, "config: must be a JSON object");
    json_t *version = json_object_get(root, "version");
    ZTCA_REQUIRE(json_is_integer(version), ZTCA_ERR_BAD_INPUT, "config: \"version\" missing");
    ZTCA_REQUIRE(json_integer_value(version) <= CA_CONFIG_VERSION, ZTCA_ERR_UNSUPPORTED,
                 "config: written by a newer ztca (version too high)");
    ZTCA_REQUIRE(json_integer_value(version) >= 1, ZTCA_ERR_BAD_INPUT, "config: bad version");

    ZTCA_CHECK(ca_config_string(cfg.trust_domain, sizeof(cfg.trust_domain), root, "trust_domain",
                                true, "config: trust_domain must be a string"));
    ZTCA_REQUIRE(ca_trust_domain_is_valid(cfg.trust_domain), ZTCA_ERR_BAD_INPUT,
                 "config: invalid trust_domain");
    ZTCA_CHECK(ca_config_string(cfg.public_url, sizeof(cfg.public_url), root, "public_url", true,
                                "config: public_url must be a string"));
    ZTCA_REQUIRE(ca_url_is_valid(cfg.public_url), ZTCA_ERR_BAD_INPUT, "config: invalid public_url");
    ZTCA_CHECK(ca_config_string(cfg.api_url, sizeof(cfg.api_url), root, "api_url", true,
                                "config: api_url must be a string"));
    ZTCA_REQUIRE(ca_url_is_valid(cfg.api_url) && strncmp(cfg.api_url, "https://", 8) == 0,
                 ZTCA_ERR_BAD_INPUT, "config: invalid api_url (https:// required)");
    ZTCA_CHECK(ca_config_string(key_type, sizeof(key_type), root, "key_type", true,
                                "config: key_type must be \"p256\" or \"p384\""));
    ZTCA_CHECK(ca_config_string(cfg.store, sizeof(cfg.store), root, "store", false,
                                "config: store must be a string (a store URL)"));
    ZTCA_CHECK(ca_key_type_parse(&cfg.key_type, key_type));
    json_t *enc = json_object_get(root, "encrypted_keys");
    ZTCA_REQUIRE(enc == NULL || json_is_boolean(enc), ZTCA_ERR_BAD_INPUT,
                 "config: encrypted_keys must be true or false");
    cfg.encrypted_keys = enc != NULL && json_is_true(enc);
    json_t *ident = json_object_get(root, "identity_extension");
    ZTCA_REQUIRE(ident == NULL || json_is_boolean(ident), ZTCA_ERR_BAD_INPUT,
                 "config: identity_extension must be true or false");
    cfg.identity_extension = ident != NULL && json_is_true(ident);
    ZTCA_CHECK(ca_config_status(&cfg, root));
    json_t *backend = json_object_get(root, "crypto_backend");
    if (backend != NULL) {
        ZTCA_REQUIRE(json_is_string(backend)
                         && strlen(json_string_value(backend)) == json_string_length(backend),
                     ZTCA_ERR_BAD_INPUT,
                     "config: crypto_backend must be \"mbedtls\" or \"openssl\"");
        ZTCA_CHECK(ca_crypto_backend_parse(&cfg.crypto_backend, json_string_value(backend)));
    }
    ZTCA_CHECK(ca_config_rate_limits(&cfg, root));
    *out = cfg;
out:
    json_decref(root);
    return rc;
}

ztca_rc
ca_config_write(char **out, size_t *out_len, const ca_config *cfg)
{
    json_t *root = json_pack(
        "{s:i, s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:{s:I, s:I, s:I, s:I}, s:{s:I}, "
        "s:{s:{s:f, s:I}, s:{s:f, s:I, s:b}}}",
        "version", CA_CONFIG_VERSION, "trust_domain", cfg->trust_domain, "public_url",
        cfg->public_url, "api_url", cfg->api_url, "key_type", ca_key_type_name(cfg->key_type),
        "encrypted_keys", cfg->encrypted_keys ? 1 : 0, "store", cfg->store, "identity_extension",
        cfg->identity_extension ? 1 : 0, "ocsp", "validity", (json_int_t)cfg->ocsp_validity,
        "max_age", (json_int_t)cfg->ocsp_max_age, "cache_entries",
        (json_int_t)cfg->ocsp_cache_entries, "signer_renew_before",
        (json_int_t)cfg->ocsp_renew_before, "crl", "validity", (json_int_t)cfg->crl_validity,
        "rate_limits", "per_identity", "rate", cfg->rate_identity.rate, "burst",
        (json_int_t)cfg->rate_identity.burst, "per_address", "rate", cfg->rate_address.rate,
        "burst", (json_int_t)cfg->rate_address.burst, "exempt_loopback",
        cfg->rate_exempt_loopback ? 1 : 0);
    ZTCA_ENSURE(root != NULL, ZTCA_ERR_NOMEM, "config: out of memory");
    /* Only a choice that differs from this build's default, so the file stays valid in a build
     * without OpenSSL (docs/cli.md). */
    if (cfg->crypto_backend != ca_crypto_backend_default()
        && json_object_set_new(root, "crypto_backend",
                               json_string(ca_crypto_backend_name(cfg->crypto_backend)))
               != 0) {
        json_decref(root);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "config: out of memory");
    }
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(root);
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "config: out of memory");
    size_t n = strlen(s);
    char *copy = ztca_malloc(n + 2); /* jansson's allocator is not ours: hand out a malloc copy */
    if (copy == NULL) {
        free(s);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "config: out of memory");
    }
    memcpy(copy, s, n);
    copy[n] = '\n';
    copy[n + 1] = '\0';
    free(s);
    *out = copy;
    *out_len = n + 1;
    return ZTCA_RC_OK;
}
