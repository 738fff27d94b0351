/* enroll_jwks_cache.c: when to fetch a provisioner's JWKS again (issue 9: cached, refreshed on an
 * unknown kid at most once a minute). No I/O: the caller fetches and reports back. */
#include "enroll/internal.h"

void
enroll_jwks_cache_init(enroll_jwks_cache *c)
{
    c->jwks = NULL;
    c->loaded_at = 0;
    c->attempted_at = 0;
    c->attempted = false;
    c->min_interval = ENROLL_JWKS_MIN_INTERVAL;
    c->max_age = ENROLL_JWKS_MAX_AGE;
}

void
enroll_jwks_cache_free(enroll_jwks_cache *c)
{
    if (c == NULL) {
        return;
    }
    enroll_jwks_free(c->jwks);
    enroll_jwks_cache_init(c);
}

/* now - then >= d, for any int64 values (the difference is taken unsigned). */
static bool
enroll_elapsed(ztca_time now, ztca_time then, int64_t d)
{
    /* A clock that went backwards counts as elapsed: otherwise a jump back by a day would stop
     * every refresh for a day. */
    return now < then || d <= 0 || (uint64_t)now - (uint64_t)then >= (uint64_t)d;
}

bool
enroll_jwks_cache_needs_fetch(const enroll_jwks_cache *c, ztca_time now, bool kid_unknown)
{
    /* The rate limit comes first: a flood of tokens with made-up kids must not turn into a flood
     * of requests to the issuer. */
    if (c->attempted && !enroll_elapsed(now, c->attempted_at, c->min_interval)) {
        return false;
    }
    return c->jwks == NULL || kid_unknown || enroll_elapsed(now, c->loaded_at, c->max_age);
}

ztca_rc
enroll_jwks_cache_update(enroll_jwks_cache *c, ztca_time now, const uint8_t *body, size_t body_len)
{
    enroll_jwks *fresh = NULL;
    c->attempted = true;
    c->attempted_at = now;
    ZTCA_GUARD(enroll_jwks_parse(&fresh, body, body_len));
    enroll_jwks_free(c->jwks);
    c->jwks = fresh;
    c->loaded_at = now;
    return ZTCA_RC_OK;
}

void
enroll_jwks_cache_fetch_failed(enroll_jwks_cache *c, ztca_time now)
{
    c->attempted = true;
    c->attempted_at = now;
}

const enroll_jwks *
enroll_jwks_cache_get(const enroll_jwks_cache *c)
{
    return c->jwks;
}
