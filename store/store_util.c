/* store_util.c: parameters, input checks (text, serials, JSON) and store URLs. Everything that
 * reaches a statement is checked here first, so both backends see the same input and refuse the
 * same things (SQLite would store what PostgreSQL rejects). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "store/internal.h"
#include "store/store_pq.h"

store_param
store_p_text(const char *s)
{
    store_param p = { s != NULL ? STORE_P_TEXT : STORE_P_NULL, 0, s, s != NULL ? strlen(s) : 0 };
    return p;
}

store_param
store_p_text_opt(const char *s)
{
    return s != NULL && s[0] != '\0' ? store_p_text(s) : store_p_null();
}

store_param
store_p_blob(const void *p, size_t len)
{
    store_param v = { p != NULL ? STORE_P_BLOB : STORE_P_NULL, 0, p, p != NULL ? len : 0 };
    return v;
}

store_param
store_p_time_opt(ztca_time t)
{
    return t != 0 ? store_p_int(t) : store_p_null();
}

ztca_time
store_now(ztca_time t)
{
    return t != 0 ? t : ztca_now();
}

/* RFC 3629: shortest form only, no surrogates, nothing above U+10FFFF. */
bool
store_utf8_is_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < n) {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

bool
store_text_is_valid(const char *s, size_t max)
{
    if (s == NULL) {
        return false;
    }
    size_t len = strnlen(s, max + 1);
    if (len == 0 || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return store_utf8_is_valid((const uint8_t *)s, len);
}

bool
store_text_opt_is_valid(const char *s, size_t max)
{
    return s == NULL || s[0] == '\0' || store_text_is_valid(s, max);
}

bool
store_serial_is_valid(const char *serial)
{
    if (serial == NULL) {
        return false;
    }
    size_t len = strnlen(serial, STORE_SERIAL_MAX + 1);
    if (len < 2 || len > STORE_SERIAL_MAX || len % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = serial[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

ztca_rc
store_copy_text(char *dst, size_t size, const char *src)
{
    size_t len = strnlen(src, size);
    ZTCA_ENSURE(len < size, ZTCA_ERR_BAD_INPUT, "store: text too long");
    memcpy(dst, src, len + 1);
    return ZTCA_RC_OK;
}

ztca_rc
store_json_object_check(const char *json, size_t len)
{
    ZTCA_ENSURE(json != NULL && len <= STORE_JSON_MAX, ZTCA_ERR_BAD_INPUT,
                "store: JSON larger than 64 KiB");
    ZTCA_ENSURE(memchr(json, '\0', len) == NULL, ZTCA_ERR_BAD_INPUT, "store: NUL byte in JSON");
    ZTCA_ENSURE(store_utf8_is_valid((const uint8_t *)json, len), ZTCA_ERR_BAD_INPUT,
                "store: JSON is not valid UTF-8");
    json_error_t err;
    json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    ZTCA_ENSURE(v != NULL, ZTCA_ERR_BAD_INPUT, "store: invalid JSON (RFC 8259)");
    bool is_object = json_is_object(v);
    json_decref(v);
    ZTCA_ENSURE(is_object, ZTCA_ERR_BAD_INPUT, "store: JSON must be an object");
    return ZTCA_RC_OK;
}

ztca_rc
store_event_check(const store_audit_event *ev)
{
    ZTCA_ENSURE(ev != NULL, ZTCA_ERR_BAD_INPUT, "store: an audit event is required");
    ZTCA_ENSURE(store_text_is_valid(ev->actor, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: audit actor must be 1-255 bytes of UTF-8 without control characters");
    ZTCA_ENSURE(store_text_is_valid(ev->action, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: audit action must be 1-255 bytes of UTF-8 without control characters");
    ZTCA_ENSURE(store_text_opt_is_valid(ev->subject, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: audit subject must be at most 255 bytes of UTF-8");
    if (ev->detail != NULL) {
        ZTCA_GUARD(store_json_object_check(ev->detail, strnlen(ev->detail, STORE_JSON_MAX + 1)));
    }
    return ZTCA_RC_OK;
}

/* ---- URLs ---------------------------------------------------------------------------------- */

static bool
store_has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

ztca_rc
store_url_parse(store_url_info *out, const char *url, size_t url_len)
{
    memset(out, 0, sizeof(*out));
    ZTCA_ENSURE(url != NULL && url_len > 0 && url_len < STORE_URL_MAX, ZTCA_ERR_BAD_INPUT,
                "store URL: empty or longer than 1023 bytes");
    for (size_t i = 0; i < url_len; i++) {
        unsigned char c = (unsigned char)url[i];
        ZTCA_ENSURE(c >= 0x20 && c != 0x7f, ZTCA_ERR_BAD_INPUT,
                    "store URL: NUL or control character");
    }
    if (store_has_prefix(url, url_len, "sqlite:")) {
        const char *path = url + 7;
        size_t len = url_len - 7;
        ZTCA_ENSURE(len > 0, ZTCA_ERR_BAD_INPUT, "store URL: sqlite:PATH needs a path");
        ZTCA_ENSURE(!store_has_prefix(path, len, "//"), ZTCA_ERR_BAD_INPUT,
                    "store URL: write sqlite:/absolute/path or sqlite:relative/path, "
                    "not sqlite://");
        /* No SQLite URI filenames or in-memory databases: a store is one file that every
         * connection of the process (and other processes) opens by name. */
        ZTCA_ENSURE(!store_has_prefix(path, len, "file:")
                        && !(len == 8 && memcmp(path, ":memory:", 8) == 0),
                    ZTCA_ERR_BAD_INPUT, "store URL: sqlite:PATH must name a file");
        out->backend = STORE_BACKEND_SQLITE;
        memcpy(out->path, path, len);
        out->path[len] = '\0';
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(store_has_prefix(url, url_len, "postgresql://")
                    || store_has_prefix(url, url_len, "postgres://"),
                ZTCA_ERR_BAD_INPUT,
                "store URL must be sqlite:PATH or postgresql://USER@HOST:PORT/DBNAME");
    ZTCA_GUARD(store_pq_load());
    char buf[STORE_URL_MAX];
    memcpy(buf, url, url_len);
    buf[url_len] = '\0';
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(buf, &errmsg);
    PQfreemem(errmsg);
    ZTCA_ENSURE(opts != NULL, ZTCA_ERR_BAD_INPUT,
                "store URL: libpq cannot parse the postgresql:// URL");
    PQconninfoFree(opts);
    out->backend = STORE_BACKEND_POSTGRESQL;
    return ZTCA_RC_OK;
}

ztca_rc
store_url_resolve(char *out, size_t out_size, const char *url, const char *dir)
{
    store_url_info u;
    ZTCA_GUARD(store_url_parse(&u, url, strlen(url)));
    int n;
    if (u.backend == STORE_BACKEND_SQLITE && u.path[0] != '/' && dir != NULL) {
        n = snprintf(out, out_size, "sqlite:%s/%s", dir, u.path);
    } else {
        n = snprintf(out, out_size, "%s", url);
    }
    /* The result must parse again: within STORE_URL_MAX, whatever the caller's buffer (a
     * relative SQLite path grows by the directory; found by fuzz_store_url). */
    ZTCA_ENSURE(n > 0 && (size_t)n < out_size && (size_t)n < STORE_URL_MAX, ZTCA_ERR_BAD_INPUT,
                "store URL: path too long");
    return ZTCA_RC_OK;
}

/* store_redact_put appends [p, p+len) to out[size], truncating; *pos tracks the end. */
static void
store_redact_put(char *out, size_t size, size_t *pos, const char *p, size_t len)
{
    while (len > 0 && *pos + 1 < size) {
        out[(*pos)++] = *p++;
        len--;
    }
    out[*pos] = '\0';
}

void
store_url_redact(char *out, size_t out_size, const char *url)
{
    size_t pos = 0;
    if (out_size == 0) {
        return;
    }
    out[0] = '\0';
    const char *scheme_end = strstr(url, "://");
    if (strncmp(url, "sqlite:", 7) == 0 || scheme_end == NULL) {
        store_redact_put(out, out_size, &pos, url, strlen(url));
        return;
    }
    const char *auth = scheme_end + 3;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++) {
        if (auth[i] == '@') {
            at = auth + i;
        }
    }
    store_redact_put(out, out_size, &pos, url, (size_t)(auth - url));
    const char *rest = auth;
    if (at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (colon != NULL) {
            store_redact_put(out, out_size, &pos, auth, (size_t)(colon - auth) + 1);
            store_redact_put(out, out_size, &pos, "***", 3);
            rest = at;
        }
    }
    /* Query parameters: password=... anywhere after '?'. */
    const char *q = strchr(rest, '?');
    if (q == NULL) {
        store_redact_put(out, out_size, &pos, rest, strlen(rest));
        return;
    }
    store_redact_put(out, out_size, &pos, rest, (size_t)(q - rest) + 1);
    const char *p = q + 1;
    while (*p != '\0') {
        size_t len = strcspn(p, "&");
        if (len >= 9 && strncmp(p, "password=", 9) == 0) {
            store_redact_put(out, out_size, &pos, "password=***", 12);
        } else {
            store_redact_put(out, out_size, &pos, p, len);
        }
        p += len;
        if (*p == '&') {
            store_redact_put(out, out_size, &pos, "&", 1);
            p++;
        }
    }
}
