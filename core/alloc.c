/* alloc.c: allocation with a fault-injection hook for OOM tests. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "core/core.h"

/* The one mutable global outside a mutex: a test hook, atomic so sanitizers stay quiet. */
static atomic_long ztca_alloc_fail_at = -1;
static atomic_long ztca_alloc_count = 0;

long
ztca_alloc_fail_after(long n)
{
    long attempted = atomic_exchange(&ztca_alloc_count, 0);
    atomic_store(&ztca_alloc_fail_at, n);
    return attempted;
}

static bool
ztca_alloc_should_fail(void)
{
    long at = atomic_load(&ztca_alloc_fail_at);
    long idx = atomic_fetch_add(&ztca_alloc_count, 1);
    return at >= 0 && idx >= at;
}

void *
ztca_malloc(size_t size)
{
    if (ztca_alloc_should_fail()) {
        return NULL;
    }
    return malloc(size == 0 ? 1 : size);
}

void *
ztca_calloc(size_t num, size_t size)
{
    if (ztca_alloc_should_fail()) {
        return NULL;
    }
    if (num == 0 || size == 0) {
        return calloc(1, 1);
    }
    return calloc(num, size); /* calloc checks num * size for overflow */
}

void *
ztca_realloc(void *ptr, size_t size)
{
    if (ztca_alloc_should_fail()) {
        return NULL;
    }
    return realloc(ptr, size == 0 ? 1 : size);
}

char *
ztca_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ztca_malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

void
ztca_free(void *ptr)
{
    free(ptr);
}

void
ztca_free_secret(void *ptr, size_t len)
{
    if (ptr != NULL) {
        mbedtls_platform_zeroize(ptr, len);
        free(ptr);
    }
}
