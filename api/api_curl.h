/* api_curl.h: libcurl, loaded when ztca first makes an HTTP request of its own (docs/performance.md
 * "Memory").
 *
 * `ztca serve` fetches only OIDC keys (api_oidc.c) and the CLI's admin commands talk to a server
 * (cli_admin.c); linking libcurl would load it and what it needs (nghttp2, libssh2, librtmp, LDAP,
 * Kerberos, brotli, zstd, libpsl, libidn2) into every ztca process, about 1.9 MB of RSS each. So
 * libcurl.so.4 is opened with dlopen at the first use and called through this table; the callers
 * keep libcurl's own names, which the macros below send to the table. Include this instead of
 * <curl/curl.h>, and call api_curl_load() before the first curl call. */
#ifndef ZTCA_API_CURL_H
#define ZTCA_API_CURL_H

#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK 1 /* its checking macros would wrap the names below */
#endif
#include <curl/curl.h>

#include "core/core.h"

/* Every libcurl function ztca calls: X(name). */
#define API_CURL_FUNCS(X) \
    X(curl_easy_cleanup)  \
    X(curl_easy_getinfo)  \
    X(curl_easy_init)     \
    X(curl_easy_perform)  \
    X(curl_easy_setopt)   \
    X(curl_easy_strerror) \
    X(curl_slist_append)  \
    X(curl_slist_free_all)

typedef struct api_curl_fns {
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a declarator, not an expression */
#define API_CURL_MEMBER(name) __typeof__(name) *name;
    API_CURL_FUNCS(API_CURL_MEMBER)
#undef API_CURL_MEMBER
} api_curl_fns;

/* Filled once by api_curl_load (pthread_once), read-only after. */
extern api_curl_fns api_curl;

/* api_curl_load: opens libcurl.so.4 and finds every function, once per process. UNSUPPORTED with
 * the reason when libcurl is not installed. */
ZTCA_RC api_curl_load(void);

#ifndef API_CURL_IMPL
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_cleanup   api_curl.curl_easy_cleanup
#define curl_easy_getinfo   api_curl.curl_easy_getinfo
#define curl_easy_init      api_curl.curl_easy_init
#define curl_easy_perform   api_curl.curl_easy_perform
#define curl_easy_setopt    api_curl.curl_easy_setopt
#define curl_easy_strerror  api_curl.curl_easy_strerror
#define curl_slist_append   api_curl.curl_slist_append
#define curl_slist_free_all api_curl.curl_slist_free_all
#endif

#endif
