/* ca_rng.c: the DRBG. mbedTLS's CTR_DRBG locks its own mutex when built with THREADING_C, as
 * Debian's is, so one instance serves every thread. */
#include <stdlib.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "ca/internal.h"

struct ca_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

ztca_rc
ca_rng_new(ca_rng **out)
{
    static const char pers[] = "ztca ca_rng";
    ca_rng *rng = ztca_calloc(1, sizeof(*rng));
    ZTCA_ENSURE(rng != NULL, ZTCA_ERR_NOMEM, "rng: out of memory");
    mbedtls_entropy_init(&rng->entropy);
    mbedtls_ctr_drbg_init(&rng->drbg);
    int r = mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
                                  (const unsigned char *)pers, sizeof(pers) - 1);
    if (r != 0) {
        ca_rng_free(rng);
        return ZTCA_NOTE(ZTCA_ERR_CRYPTO, "rng: seeding the DRBG failed", r);
    }
    /* Reseed on a schedule rather than trusting one seed for the life of a server. */
    mbedtls_ctr_drbg_set_reseed_interval(&rng->drbg, 10000);
    *out = rng;
    return ZTCA_RC_OK;
}

void
ca_rng_free(ca_rng *rng)
{
    if (rng == NULL) {
        return;
    }
    mbedtls_ctr_drbg_free(&rng->drbg);
    mbedtls_entropy_free(&rng->entropy);
    free(rng);
}

ztca_rc
ca_rng_bytes(ca_rng *rng, uint8_t *out, size_t len)
{
    /* CTR_DRBG hands out at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call. */
    while (len > 0) {
        size_t n = len > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : len;
        ZTCA_GUARD_MBEDTLS(mbedtls_ctr_drbg_random(&rng->drbg, out, n), ZTCA_ERR_CRYPTO);
        out += n;
        len -= n;
    }
    return ZTCA_RC_OK;
}

int
ca_rng_mbedtls(void *rng, unsigned char *out, size_t len)
{
    return mbedtls_ctr_drbg_random(&((ca_rng *)rng)->drbg, out, len);
}
