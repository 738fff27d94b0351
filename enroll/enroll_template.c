/* enroll_template.c: the SAN template of a provisioner, e.g.
 * "spiffe://corp.example/workload/github/{repository}/{ref}" (docs/workload.md).
 *
 * Claims are refused, never escaped: a value may hold only [A-Za-z0-9._-], and '/' only when its
 * placeholder fills whole path segments ("/{ref}" at the end, or "/{repository}/"); no "..", no
 * empty segment, so a claim cannot climb out of its place in the path or add a query, a fragment,
 * a percent escape or another authority. The result must still be a workload SPIFFE ID that
 * ca_workload_path_is_valid and ca_spiffe_parse accept. */
#include <stdio.h>
#include <string.h>

#include "enroll/internal.h"

#define ENROLL_WORKLOAD_INFIX "/workload/"

static bool
enroll_is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool
enroll_is_literal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
           || c == '_' || c == '-' || c == '/';
}

/* Splits "spiffe://TD/workload/PATH": the trust domain into out_td, *out_path at PATH. */
static ztca_rc
enroll_template_split(const char *tmpl, char *out_td, size_t td_size, const char **out_path)
{
    size_t prefix = strlen(ENROLL_SPIFFE_PREFIX);
    ZTCA_ENSURE(strlen(tmpl) <= ENROLL_SAN_MAX, ZTCA_ERR_BAD_INPUT, "SAN template too long");
    ZTCA_ENSURE(strncmp(tmpl, ENROLL_SPIFFE_PREFIX, prefix) == 0, ZTCA_ERR_BAD_INPUT,
                "SAN template must start with spiffe://");
    const char *td = tmpl + prefix;
    const char *slash = strchr(td, '/');
    ZTCA_ENSURE(slash != NULL && (size_t)(slash - td) < td_size, ZTCA_ERR_BAD_INPUT,
                "SAN template: trust domain missing or too long");
    memcpy(out_td, td, (size_t)(slash - td));
    out_td[slash - td] = '\0';
    ZTCA_ENSURE(ca_trust_domain_is_valid(out_td), ZTCA_ERR_BAD_INPUT,
                "SAN template: invalid trust domain (SPIFFE: [a-z0-9._-])");
    ZTCA_ENSURE(strncmp(slash, ENROLL_WORKLOAD_INFIX, strlen(ENROLL_WORKLOAD_INFIX)) == 0,
                ZTCA_ERR_BAD_INPUT, "SAN template must be spiffe://TD/workload/...");
    *out_path = slash + strlen(ENROLL_WORKLOAD_INFIX);
    return ZTCA_RC_OK;
}

/* The placeholder at path[i] == '{': its name's length, or 0 when it is not well-formed. */
static size_t
enroll_placeholder_len(const char *path, size_t i)
{
    size_t n = 0;
    while (enroll_is_name_char(path[i + 1 + n])) {
        n++;
    }
    return (n >= 1 && n <= ENROLL_CLAIM_NAME_MAX && path[i + 1 + n] == '}') ? n : 0;
}

ztca_rc
enroll_template_check(const char *tmpl, char *out_td, size_t td_size, size_t *out_num_placeholders)
{
    const char *path;
    char probe[ENROLL_SAN_MAX + 1];
    size_t len = 0, num = 0;
    ZTCA_GUARD(enroll_template_split(tmpl, out_td, td_size, &path));
    for (size_t i = 0; path[i] != '\0';) {
        if (path[i] == '{') {
            size_t n = enroll_placeholder_len(path, i);
            ZTCA_ENSURE(n > 0, ZTCA_ERR_BAD_INPUT,
                        "SAN template: placeholders are {claim} with [A-Za-z0-9_]{1,64}");
            ZTCA_ENSURE(++num <= ENROLL_MAX_PLACEHOLDERS, ZTCA_ERR_BAD_INPUT,
                        "SAN template: more than 16 placeholders");
            probe[len++] = 'x'; /* a value that fits anywhere a claim may go */
            i += n + 2;
        } else {
            ZTCA_ENSURE(enroll_is_literal_char(path[i]), ZTCA_ERR_BAD_INPUT,
                        "SAN template: literal characters are [A-Za-z0-9._-/]");
            probe[len++] = path[i++];
        }
    }
    probe[len] = '\0';
    /* With every claim as "x", the path must already be a valid workload path: this rules out
     * empty segments, leading or trailing '/', "." and ".." segments and over-long literals. */
    ZTCA_ENSURE(ca_workload_path_is_valid(probe), ZTCA_ERR_BAD_INPUT,
                "SAN template: not a valid workload path (segments of [A-Za-z0-9._-] starting "
                "with a letter or digit)");
    *out_num_placeholders = num;
    return ZTCA_RC_OK;
}

/* A claim value for a placeholder; '/' only when `path` (the placeholder fills whole segments). */
static bool
enroll_value_is_valid(const char *v, bool path)
{
    size_t n = strlen(v);
    /* No length limit here: a value too long for the path is SAN_INVALID when appended. */
    if (n == 0 || strstr(v, "..") != NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '.' || c == '_' || c == '-' || (c == '/' && path);
        if (!ok) {
            return false; /* '%', '?', '#', ':', '@', spaces, controls, non-ASCII, ... */
        }
    }
    return !path || (v[0] != '/' && v[n - 1] != '/' && strstr(v, "//") == NULL);
}

static bool
enroll_append(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
    if (n >= size - *len) {
        return false;
    }
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
    return true;
}

ztca_rc
enroll_template_render(char *out_uri, size_t uri_size, char *out_path, size_t path_size,
                       enroll_failure *f, const char *tmpl, const char *trust_domain,
                       const json_t *claims, json_t *used)
{
    char td[CA_TD_MAX + 1];
    char path[ENROLL_WORKLOAD_MAX + 1];
    char uri[CA_URL_MAX];
    const char *tpath;
    size_t len = 0, num = 0;
    path[0] = '\0';
    if (!ZTCA_IS_OK(enroll_template_check(tmpl, td, sizeof(td), &num))
        || strcmp(td, trust_domain) != 0) {
        return ENROLL_REFUSE(f, ENROLL_REASON_TEMPLATE_INVALID, NULL,
                             "SAN template invalid or not of this trust domain");
    }
    ZTCA_GUARD(enroll_template_split(tmpl, td, sizeof(td), &tpath));
    for (size_t i = 0; tpath[i] != '\0';) {
        if (tpath[i] != '{') {
            if (!enroll_append(path, sizeof(path), &len, tpath + i, 1)) {
                return ENROLL_REFUSE(f, ENROLL_REASON_SAN_INVALID, NULL,
                                     "workload path longer than 200 characters");
            }
            i++;
            continue;
        }
        char name[ENROLL_CLAIM_NAME_MAX + 1];
        size_t n = enroll_placeholder_len(tpath, i);
        memcpy(name, tpath + i + 1, n);
        name[n] = '\0';
        bool whole = (i == 0 || tpath[i - 1] == '/')
                     && (tpath[i + n + 2] == '/' || tpath[i + n + 2] == '\0');
        i += n + 2;
        const json_t *v = json_object_get(claims, name);
        if (v == NULL) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_MISSING, name,
                                 "SAN template: the token lacks a claim it names");
        }
        if (!json_is_string(v)) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, name,
                                 "SAN template: only string claims are used");
        }
        const char *s = json_string_value(v);
        if (!enroll_value_is_valid(s, whole)) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_CHARSET, name,
                                 "SAN template: claim value outside [A-Za-z0-9._-/] rules");
        }
        if (!enroll_append(path, sizeof(path), &len, s, strlen(s))) {
            return ENROLL_REFUSE(f, ENROLL_REASON_SAN_INVALID, NULL,
                                 "workload path longer than 200 characters");
        }
        json_t *js = json_string(s);
        ZTCA_ENSURE(js != NULL && json_object_set_new(used, name, js) == 0, ZTCA_ERR_NOMEM,
                    "claims: out of memory");
    }
    int w = snprintf(uri, sizeof(uri), "%s%s%s%s", ENROLL_SPIFFE_PREFIX, td, ENROLL_WORKLOAD_INFIX,
                     path);
    ca_spiffe id;
    if (!ca_workload_path_is_valid(path) || w < 0 || (size_t)w >= sizeof(uri)
        || !ZTCA_IS_OK(ca_spiffe_parse(&id, uri, trust_domain)) || id.kind != CA_PROFILE_WORKLOAD
        || strcmp(id.workload, path) != 0) {
        return ENROLL_REFUSE(f, ENROLL_REASON_SAN_INVALID, NULL,
                             "rendered URI is not a valid workload SPIFFE ID");
    }
    ZTCA_ENSURE((size_t)w < uri_size && strlen(path) < path_size, ZTCA_ERR_INTERNAL,
                "SAN: output buffers too small");
    memcpy(out_uri, uri, (size_t)w + 1);
    memcpy(out_path, path, strlen(path) + 1);
    return ZTCA_RC_OK;
}
