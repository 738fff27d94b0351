/* api_curl.c: libcurl through dlopen (api_curl.h says why). */
#define API_CURL_IMPL 1
#include "api/api_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

api_curl_fns api_curl;

static pthread_once_t api_curl_once = PTHREAD_ONCE_INIT;
static const char *api_curl_error; /* NULL: loaded */
static char api_curl_missing[96];

static void
api_curl_open(void)
{
    /* Kept for the life of the process: libcurl's global state (its TLS backend) must not be
     * unloaded under handles another thread may still use. */
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        api_curl_error = "ztca needs libcurl for this (Debian: apt-get install libcurl4)";
        return;
    }
#define API_CURL_FIND(name)                                                                   \
    /* POSIX: a function pointer converts from dlsym's void * (dlsym(3)). */                  \
    *(void **)(&api_curl.name) = dlsym(h, #name);                                             \
    if (api_curl.name == NULL) {                                                              \
        snprintf(api_curl_missing, sizeof(api_curl_missing), "libcurl.so.4 lacks %s", #name); \
        api_curl_error = api_curl_missing;                                                    \
        return;                                                                               \
    }
    API_CURL_FUNCS(API_CURL_FIND)
#undef API_CURL_FIND
}

ztca_rc
api_curl_load(void)
{
    pthread_once(&api_curl_once, api_curl_open);
    if (api_curl_error != NULL) {
        return ztca_note(ZTCA_ERR_UNSUPPORTED, __FILE__, __LINE__, api_curl_error, 0);
    }
    return ZTCA_RC_OK;
}
