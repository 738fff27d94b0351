/* Target: enroll_jwks_parse (enroll/enroll_jwk.c), and enroll_jwks_cache_update over it.
 * Why: JWKS documents come from the network (jwks_uri, fetched by api/) or from an admin's file;
 * each key is decoded from base64url, turned into DER and checked by mbedTLS.
 *
 * Invariants (abort() otherwise): a parsed set has 1..64 usable keys, each passing
 * ca_pubkey_check with the kind it claims and fitting its algorithms, with unique kids that
 * enroll_jwks_find returns; a failed cache update keeps the previous keys. */
#include <stdlib.h>
#include <string.h>

#include "enroll/enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enroll_jwks *jwks = NULL;
    ztca_rc rc = enroll_jwks_parse(&jwks, data, size);
    if (!ZTCA_IS_OK(rc)) {
        if (jwks != NULL
            || (rc.err != ZTCA_ERR_BAD_INPUT && rc.err != ZTCA_ERR_UNSUPPORTED
                && rc.err != ZTCA_ERR_NOMEM)) {
            abort();
        }
        return 0;
    }
    size_t n = enroll_jwks_num_keys(jwks);
    if (n == 0 || n + enroll_jwks_num_skipped(jwks) > ENROLL_JWKS_MAX_KEYS
        || enroll_jwks_get(jwks, n) != NULL) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        const enroll_jwk *k = enroll_jwks_get(jwks, i);
        ca_pubkey_info info;
        if (!ZTCA_IS_OK(ca_pubkey_check(&info, k->spki, k->spki_len)) || info.kind != k->kind
            || info.bits != k->bits || k->algs == 0) {
            abort();
        }
        unsigned fits = k->kind == CA_PK_RSA ? (ENROLL_ALG_RS256 | ENROLL_ALG_RS384)
                        : k->bits == 256     ? ENROLL_ALG_ES256
                                             : ENROLL_ALG_ES384;
        if ((k->algs & ~fits) != 0) {
            abort(); /* a key that could verify an algorithm of another key type */
        }
        if (k->has_kid && enroll_jwks_find(jwks, k->kid) != k) {
            abort(); /* duplicate kids would make the key choice ambiguous */
        }
    }
    enroll_jwks_free(jwks);

    /* The cache keeps what it had when a body is bad. */
    static const char good[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\","
                               "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                               "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";
    enroll_jwks_cache c;
    enroll_jwks_cache_init(&c);
    if (!ZTCA_IS_OK(enroll_jwks_cache_update(&c, 1000, (const uint8_t *)good, strlen(good)))) {
        abort();
    }
    const enroll_jwks *before = enroll_jwks_cache_get(&c);
    if (!ZTCA_IS_OK(enroll_jwks_cache_update(&c, 2000, data, size))
        && enroll_jwks_cache_get(&c) != before) {
        abort();
    }
    enroll_jwks_cache_free(&c);
    return 0;
}
