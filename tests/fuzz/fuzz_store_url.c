/* Target: store_url_parse (store/store_util.c), with store_url_resolve and store_url_redact.
 * Why: the store URL comes from DIR/ztca.conf and --store, is handed to libpq's URI parser
 * (PQconninfoParse) and, for SQLite, becomes a file name; redaction decides what of a password
 * reaches logs.
 *
 * Invariants: a parsed SQLite path is the input after "sqlite:", without control characters;
 * resolving an accepted URL succeeds and parses again to the same backend; redaction always
 * terminates its output and never shows the password of user:password@. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_url_info u, again;
    char url[STORE_URL_MAX], out[2 * STORE_URL_MAX], red[STORE_URL_MAX + 64];
    if (!ZTCA_IS_OK(store_url_parse(&u, (const char *)data, size))) {
        return 0;
    }
    if (size >= STORE_URL_MAX || memchr(data, '\0', size) != NULL) {
        abort(); /* accepted what cannot be a C string of bounded length */
    }
    memcpy(url, data, size);
    url[size] = '\0';
    if (u.backend == STORE_BACKEND_SQLITE) {
        if (strncmp(url, "sqlite:", 7) != 0 || strcmp(u.path, url + 7) != 0 || u.path[0] == '\0') {
            abort(); /* the path is not the rest of the URL */
        }
    } else if (u.backend != STORE_BACKEND_POSTGRESQL || u.path[0] != '\0') {
        abort();
    }
    if (!ZTCA_IS_OK(store_url_resolve(out, sizeof(out), url, "/srv/ztca"))) {
        /* Refused only when a relative SQLite path under the directory would be too long. */
        if (u.backend != STORE_BACKEND_SQLITE || u.path[0] == '/'
            || strlen("sqlite:/srv/ztca/") + strlen(u.path) < STORE_URL_MAX) {
            abort();
        }
        return 0;
    }
    if (!ZTCA_IS_OK(store_url_parse(&again, out, strlen(out))) || again.backend != u.backend) {
        abort(); /* an accepted URL does not resolve to one of the same kind */
    }
    store_url_redact(red, sizeof(red), url);
    if (strlen(red) >= sizeof(red)) {
        abort();
    }
    /* postgresql://user:SECRET@host...: SECRET must not survive redaction. */
    const char *auth = strstr(url, "://");
    if (u.backend == STORE_BACKEND_POSTGRESQL && auth != NULL) {
        auth += 3;
        size_t auth_len = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < auth_len; i++) {
            if (auth[i] == '@') {
                at = auth + i;
            }
        }
        const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL && at - colon > 4) {
            char secret[STORE_URL_MAX];
            size_t n = (size_t)(at - colon - 1);
            memcpy(secret, colon + 1, n);
            secret[n] = '\0';
            if (strstr(red, secret) != NULL && strstr(red, "***") == NULL) {
                abort(); /* the password is shown */
            }
        }
    }
    return 0;
}
