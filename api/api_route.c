/* api_route.c: the routing table of DESIGN.md section 5 and strict path decoding. */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

#define KIB ((size_t)1024)

/* Order matters only for readability: patterns do not overlap. Body limits: a CSR is at most
 * CA_CSR_MAX, so a JSON carrying one gets a little more. */
const api_route api_routes[] = {
    { "GET", "/healthz", api_h_healthz, API_AUTH_NONE, 0, true, false },
    { "GET", "/metrics", api_h_metrics, API_AUTH_NONE, 0, true, false },
    { "GET", "/ca/root.pem", api_h_root_pem, API_AUTH_NONE, 0, true, false },
    { "GET", "/ca/chain.pem", api_h_chain_pem, API_AUTH_NONE, 0, true, false },
    { "POST", "/v1/tokens", api_h_tokens_create, API_AUTH_ADMIN, 4 * KIB, false, false },
    { "POST", "/v1/certs", api_h_certs_create, API_AUTH_BEARER, 32 * KIB, false, false },
    { "GET", "/v1/certs", api_h_certs_list, API_AUTH_ADMIN, 0, false, false },
    { "GET", "/v1/certs/{}", api_h_certs_get, API_AUTH_ADMIN, 0, false, false },
    { "POST", "/v1/certs/{}/revoke", api_h_certs_revoke, API_AUTH_ADMIN, 4 * KIB, false, false },
    { "GET", "/v1/devices", api_h_devices_list, API_AUTH_ADMIN, 0, false, false },
    { "POST", "/v1/devices", api_h_devices_allow, API_AUTH_ADMIN, 32 * KIB, false, false },
    { "GET", "/v1/devices/{}", api_h_devices_get, API_AUTH_ADMIN, 0, false, false },
    { "POST", "/v1/devices/{}/revoke", api_h_devices_revoke, API_AUTH_ADMIN, 4 * KIB, false,
      false },
    { "GET", "/v1/audit", api_h_audit_list, API_AUTH_ADMIN, 0, false, false },
    /* docs/trust.md: signals from administrators and signal feeders. */
    { "POST", "/v1/devices/{}/signals", api_h_signals_device, API_AUTH_FEEDER, 4 * KIB, false,
      false },
    { "POST", "/v1/agents/{}/{}/signals", api_h_signals_agent, API_AUTH_FEEDER, 4 * KIB, false,
      false },
    { "POST", "/v1/users/{}/signals", api_h_signals_user, API_AUTH_FEEDER, 4 * KIB, false, false },
    /* DESIGN.md 3: TPM enrollment (token) and renewal (the current certificate). */
    { "POST", "/v1/enroll/begin", api_h_enroll_begin, API_AUTH_BEARER, 64 * KIB, false, false },
    { "POST", "/v1/enroll/finish", api_h_enroll_finish, API_AUTH_BEARER, 48 * KIB, false, false },
    { "POST", "/v1/renew/begin", api_h_renew_begin, API_AUTH_CLIENT, 16 * KIB, false, false },
    { "POST", "/v1/renew", api_h_renew, API_AUTH_CLIENT, 48 * KIB, false, false },
    { "POST", "/v1/provisioners", api_h_provisioners_add, API_AUTH_ADMIN, 320 * KIB, false, false },
    { "GET", "/v1/provisioners", api_h_provisioners_list, API_AUTH_ADMIN, 0, false, false },
    { "DELETE", "/v1/provisioners/{}", api_h_provisioners_remove, API_AUTH_ADMIN, 0, false, false },
    /* RFC 6960 A.1 / RFC 5019 5: POST of the DER request, GET of its base64 in the path. */
    { "POST", "/ocsp", api_h_ocsp_post, API_AUTH_NONE, 16 * KIB, true, false },
    { "GET", "/ocsp/", api_h_ocsp_get, API_AUTH_NONE, 0, true, true },
    { "GET", "/crl", api_h_crl, API_AUTH_NONE, 0, true, false },
    /* docs/authz.md: any method, since Envoy's ext_authz forwards the original one and appends
     * the original path to the prefix. */
    { "*", "/v1/authz", api_h_authz, API_AUTH_PEP, 0, false, false },
    { "*", "/v1/authz/", api_h_authz, API_AUTH_PEP, 0, false, true },
};
const size_t api_num_routes = sizeof(api_routes) / sizeof(api_routes[0]);

bool
api_route_is_rate_limited(const api_route *rt)
{
    /* What costs a signature, a store write or attestation checks per request (docs/hardening.md
     * "Rate limits"); OCSP, CRL and authz answer from caches instead. */
    api_handler h = rt->handler;
    return h == api_h_tokens_create || h == api_h_certs_create || h == api_h_enroll_begin
           || h == api_h_enroll_finish || h == api_h_renew_begin || h == api_h_renew;
}

static int
api_hex_val(char c)
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

ztca_rc
api_percent_decode(char *out, size_t out_size, const char *in, size_t in_len)
{
    size_t n = 0;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            ZTCA_ENSURE(i + 2 < in_len, ZTCA_ERR_BAD_INPUT, "path: truncated %-escape");
            int hi = api_hex_val(in[i + 1]);
            int lo = api_hex_val(in[i + 2]);
            ZTCA_ENSURE(hi >= 0 && lo >= 0, ZTCA_ERR_BAD_INPUT, "path: malformed %-escape");
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        ZTCA_ENSURE(c >= 0x20 && c != 0x7f, ZTCA_ERR_BAD_INPUT, "path: NUL or control character");
        ZTCA_ENSURE(n + 1 < out_size, ZTCA_ERR_BAD_INPUT, "path: segment too long");
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return ZTCA_RC_OK;
}

/* Matches one pattern against the raw path; fills params only on a match. */
static bool
api_route_try(api_req *r, const char *pattern, const char *path, bool *out_bad)
{
    char params[API_MAX_PARAMS][API_PARAM_MAX];
    size_t num = 0;
    const char *p = pattern;
    const char *q = path;
    while (*p != '\0' || *q != '\0') {
        if (*p != '/' || *q != '/') {
            return false;
        }
        p++;
        q++;
        size_t plen = strcspn(p, "/");
        size_t qlen = strcspn(q, "/");
        if (plen == 2 && memcmp(p, "{}", 2) == 0) {
            if (num == API_MAX_PARAMS) {
                return false;
            }
            if (qlen == 0 || !ZTCA_IS_OK(api_percent_decode(params[num], API_PARAM_MAX, q, qlen))
                || strcmp(params[num], ".") == 0 || strcmp(params[num], "..") == 0
                || strchr(params[num], '/') != NULL) {
                *out_bad = true; /* the route fits but the segment is unusable */
                return false;
            }
            num++;
        } else if (plen != qlen || memcmp(p, q, plen) != 0) {
            return false;
        }
        p += plen;
        q += qlen;
    }
    memcpy(r->params, params, sizeof(params));
    r->num_params = num;
    return true;
}

void
api_route_match(api_req *r, const char *method, const char *path)
{
    size_t len = strlen(path);
    bool bad = false;
    bool other_method = false;
    r->route = NULL;
    r->miss_status = 404;
    if (len == 0 || len >= API_PATH_MAX || path[0] != '/') {
        r->path_bad = true;
        return;
    }
    /* Prefix routes take the rest of the path raw, before the segment rules below: base64 in an
     * OCSP GET holds '/' and may hold "//" (RFC 5019 5). */
    for (size_t i = 0; i < api_num_routes; i++) {
        size_t plen = strlen(api_routes[i].pattern);
        if (api_routes[i].prefix && len > plen && strncmp(path, api_routes[i].pattern, plen) == 0) {
            snprintf(r->path, sizeof(r->path), "%s", path);
            if (strcmp(api_routes[i].method, "*") != 0
                && strcmp(api_routes[i].method, method) != 0) {
                r->miss_status = 405;
                return;
            }
            r->route = &api_routes[i];
            r->route_index = (int)i;
            r->rest = r->path + plen;
            return;
        }
    }
    /* Reject "//", "/./" and "/../" anywhere, before matching, so that no two spellings of a
     * path reach the same handler. */
    for (const char *s = path; *s != '\0'; s++) {
        if (s[0] == '/' && s > path && s[-1] == '/') {
            r->path_bad = true;
            return;
        }
        if (s[0] == '/' && s[1] == '.'
            && (s[2] == '/' || s[2] == '\0' || (s[2] == '.' && (s[3] == '/' || s[3] == '\0')))) {
            r->path_bad = true;
            return;
        }
    }
    snprintf(r->path, sizeof(r->path), "%s", path);
    for (size_t i = 0; i < api_num_routes; i++) {
        if (api_routes[i].prefix) {
            continue;
        }
        bool seg_bad = false;
        if (!api_route_try(r, api_routes[i].pattern, path, &seg_bad)) {
            bad = bad || seg_bad;
            continue;
        }
        if (strcmp(api_routes[i].method, "*") != 0 && strcmp(api_routes[i].method, method) != 0) {
            other_method = true;
            continue;
        }
        r->route = &api_routes[i];
        r->route_index = (int)i;
        return;
    }
    if (bad) {
        r->path_bad = true;
    } else if (other_method) {
        r->miss_status = 405;
    }
}

typedef struct api_query_count {
    const char *name;
    unsigned n;
} api_query_count;

static enum MHD_Result
api_query_counter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    api_query_count *c = cls;
    (void)kind;
    (void)value;
    if (key != NULL && strcmp(key, c->name) == 0) {
        c->n++;
    }
    return MHD_YES;
}

ztca_rc
api_query(api_req *r, const char *name, char *out, size_t out_size, bool *out_present)
{
    /* A parameter given twice could be read one way here and another way by a proxy in front
     * (parameter pollution): refuse it. */
    api_query_count count = { name, 0 };
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, api_query_counter, &count);
    ZTCA_ENSURE(count.n <= 1, ZTCA_ERR_BAD_INPUT, "query parameter given more than once");
    /* The unescaper is the identity (api_server.c), so values arrive raw. */
    const char *raw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    *out_present = raw != NULL;
    if (raw == NULL) {
        return ZTCA_RC_OK;
    }
    return api_percent_decode(out, out_size, raw, strlen(raw));
}
