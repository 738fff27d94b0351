/* api_decode_authz.c: the inputs of an authorization question (docs/authz.md), pure and fuzzed
 * (tests/fuzz/fuzz_authz_request.c): the client certificate as nginx hands it over
 * ($ssl_client_escaped_cert: the PEM, URL-encoded) or as Envoy does (x-forwarded-client-cert:
 * Cert="<URL-encoded PEM>" in its last element), and the score the resource requires. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

static int
api_authz_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* %XX only: '+' stays '+', since base64 uses it and neither proxy turns spaces into '+'. */
static ztca_rc
api_authz_unescape(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    ZTCA_ENSURE(in_len > 0 && in_len <= API_AUTHZ_CERT_MAX, ZTCA_ERR_BAD_INPUT,
                "the client certificate header is empty or too long");
    uint8_t *buf = malloc(in_len);
    ZTCA_ENSURE(buf != NULL, ZTCA_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < in_len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 2 < in_len ? api_authz_hex(in[i + 1]) : -1;
            int lo = i + 2 < in_len ? api_authz_hex(in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(buf);
                ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "malformed %-escape in the client certificate");
            }
            c = hi << 4 | lo;
            i += 2;
        }
        if (c == 0) {
            free(buf);
            ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "NUL in the client certificate");
        }
        buf[n++] = (uint8_t)c;
    }
    *out = buf;
    *out_len = n;
    return ZTCA_RC_OK;
}

/* The value of Cert in the last element of an XFCC header (Envoy: elements separated by ',',
 * pairs by ';', values optionally double-quoted with \" escapes). Borrowed from `xfcc`. */
static ztca_rc
api_authz_xfcc_cert(const char *xfcc, const char **out, size_t *out_len)
{
    const char *elem = xfcc;
    bool quoted = false;
    /* The last element is the one the nearest proxy appended: the connection it terminated. */
    for (const char *p = xfcc; *p != '\0'; p++) {
        if (*p == '\\' && quoted && p[1] != '\0') {
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else if (*p == ',' && !quoted) {
            elem = p + 1;
        }
    }
    ZTCA_ENSURE(!quoted, ZTCA_ERR_BAD_INPUT, "x-forwarded-client-cert: unterminated quote");
    const char *found = NULL;
    size_t found_len = 0;
    const char *p = elem;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        const char *key = p;
        while (*p != '\0' && *p != '=' && *p != ';') {
            p++;
        }
        ZTCA_ENSURE(*p == '=', ZTCA_ERR_BAD_INPUT, "x-forwarded-client-cert: key without value");
        size_t key_len = (size_t)(p - key);
        p++;
        const char *val;
        size_t val_len;
        if (*p == '"') {
            val = ++p;
            while (*p != '\0' && *p != '"') {
                /* A URL-encoded PEM holds no quote or backslash: refuse escapes in Cert rather
                 * than unescape them (Hash, Subject and URI may carry them; they are skipped). */
                p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
            }
            ZTCA_ENSURE(*p == '"', ZTCA_ERR_BAD_INPUT, "x-forwarded-client-cert: bad quoting");
            val_len = (size_t)(p - val);
            p++;
        } else {
            val = p;
            while (*p != '\0' && *p != ';' && *p != ',') {
                p++;
            }
            val_len = (size_t)(p - val);
        }
        if (key_len == 4 && strncasecmp(key, "Cert", 4) == 0) {
            ZTCA_ENSURE(found == NULL, ZTCA_ERR_BAD_INPUT,
                        "x-forwarded-client-cert: Cert given twice");
            ZTCA_ENSURE(memchr(val, '\\', val_len) == NULL, ZTCA_ERR_BAD_INPUT,
                        "x-forwarded-client-cert: escapes in Cert");
            found = val;
            found_len = val_len;
        }
        if (*p == ';') {
            p++;
        } else if (*p == ',') {
            break; /* cannot happen in the last element; kept for safety */
        } else {
            ZTCA_ENSURE(*p == '\0', ZTCA_ERR_BAD_INPUT,
                        "x-forwarded-client-cert: junk after value");
        }
    }
    ZTCA_ENSURE(found != NULL, ZTCA_ERR_BAD_INPUT,
                "x-forwarded-client-cert: no Cert (set forward_client_cert_details and "
                "set_current_client_cert_details.cert in Envoy)");
    *out = found;
    *out_len = found_len;
    return ZTCA_RC_OK;
}

void
api_authz_req_free(api_authz_req *r)
{
    if (r != NULL) {
        free(r->der);
        memset(r, 0, sizeof(*r));
    }
}

ztca_rc
api_decode_authz(const char *client_cert, const char *xfcc, const char *min_score,
                 api_authz_req *out, const char **out_type)
{
    api_authz_req req;
    memset(&req, 0, sizeof(req));
    memset(out, 0, sizeof(*out));
    *out_type = "authz-bad-score";
    if (min_score != NULL) {
        char *end = NULL;
        size_t n = strlen(min_score);
        ZTCA_ENSURE(n >= 1 && n <= 3 && min_score[0] >= '0' && min_score[0] <= '9',
                    ZTCA_ERR_BAD_INPUT, "X-Ztca-Min-Score must be an integer from 0 to 100");
        long v = strtol(min_score, &end, 10);
        ZTCA_ENSURE(*end == '\0' && v >= 0 && v <= 100 && (n == 1 || min_score[0] != '0'),
                    ZTCA_ERR_BAD_INPUT, "X-Ztca-Min-Score must be an integer from 0 to 100");
        req.min_score = (int)v;
    }
    *out_type = "authz-no-certificate";
    ZTCA_ENSURE(client_cert != NULL || xfcc != NULL, ZTCA_ERR_BAD_INPUT,
                "no client certificate: send X-Client-Cert ($ssl_client_escaped_cert) or "
                "X-Forwarded-Client-Cert");
    /* Both at once is ambiguous: which one did the proxy verify? */
    ZTCA_ENSURE(client_cert == NULL || xfcc == NULL, ZTCA_ERR_BAD_INPUT,
                "send X-Client-Cert or X-Forwarded-Client-Cert, not both");
    *out_type = "authz-bad-certificate";
    const char *text = client_cert;
    size_t text_len = client_cert != NULL ? strlen(client_cert) : 0;
    if (xfcc != NULL) {
        ZTCA_ENSURE(strlen(xfcc) <= API_AUTHZ_XFCC_MAX, ZTCA_ERR_BAD_INPUT,
                    "x-forwarded-client-cert too long");
        ZTCA_GUARD(api_authz_xfcc_cert(xfcc, &text, &text_len));
        req.from_xfcc = true;
    }
    ZTCA_ENSURE(text_len > 0 && text_len <= API_AUTHZ_CERT_MAX, ZTCA_ERR_BAD_INPUT,
                "the client certificate header is empty or too long");
    req.cert_text = text;
    req.cert_text_len = text_len;
    *out = req;
    *out_type = NULL;
    return ZTCA_RC_OK;
}

ztca_rc
api_authz_req_decode(api_authz_req *r, const char **out_type)
{
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    *out_type = "authz-bad-certificate";
    ZTCA_GUARD(api_authz_unescape(r->cert_text, r->cert_text_len, &pem, &pem_len));
    ztca_rc rc = ztca_pem_decode_one(&r->der, &r->der_len, "CERTIFICATE", pem, pem_len);
    free(pem);
    ZTCA_GUARD(rc);
    *out_type = NULL;
    return ZTCA_RC_OK;
}
