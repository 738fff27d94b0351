/* store_pq.c: libpq through dlopen (store_pq.h says why). */
#define STORE_PQ_IMPL 1
#include "store/store_pq.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

store_pq_fns store_pq;

static pthread_once_t store_pq_once = PTHREAD_ONCE_INIT;
static const char *store_pq_error; /* NULL: loaded */
static char store_pq_missing[96];

static void
store_pq_open(void)
{
    /* The library stays loaded for the life of the process: PGconn objects may outlive any
     * one store handle, and libpq has no "unload" contract. */
    void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        store_pq_error = "the PostgreSQL store needs libpq (Debian: apt-get install libpq5)";
        return;
    }
#define STORE_PQ_FIND(name)                                                  \
    /* POSIX: a function pointer converts from dlsym's void * (dlsym(3)). */ \
    *(void **)(&store_pq.name) = dlsym(h, #name);                            \
    if (store_pq.name == NULL) {                                             \
        snprintf(store_pq_missing, sizeof(store_pq_missing),                 \
                 "libpq.so.5 lacks %s: libpq 14 or later is needed", #name); \
        store_pq_error = store_pq_missing;                                   \
        return;                                                              \
    }
    STORE_PQ_FUNCS(STORE_PQ_FIND)
#undef STORE_PQ_FIND
}

ztca_rc
store_pq_load(void)
{
    pthread_once(&store_pq_once, store_pq_open);
    if (store_pq_error != NULL) {
        return ztca_note(ZTCA_ERR_UNSUPPORTED, __FILE__, __LINE__, store_pq_error, 0);
    }
    return ZTCA_RC_OK;
}
