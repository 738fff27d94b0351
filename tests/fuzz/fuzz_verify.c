/* Target: ca_verify_with (ca/ca_signer.c, ca/ca_signer_openssl.c) on both backends at once.
 * Why: every CSR, TPM quote and JWT signature reaches the verifier with outside bytes: the key
 * (SubjectPublicKeyInfo, walked by our own reader for OpenSSL, by mbedTLS otherwise) and the
 * signature. A signature must not verify on one backend and fail on the other.
 *
 * Input: byte 0 the scheme (ECDSA, PKCS#1 v1.5, PSS; modulo 3), byte 1 the hash (SHA-1/256/384/512;
 * modulo 4), bytes 2-3 the SPKI length (big-endian), the SPKI, the hash (its size), the signature
 * (the rest). Both backends must agree on whether it verifies, or abort(); with OpenSSL not built
 * in, only mbedTLS runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ca_sig_scheme schemes[] = { CA_SIG_ECDSA, CA_SIG_RSA_PKCS1, CA_SIG_RSA_PSS };
    static const ca_md mds[] = { CA_MD_SHA1, CA_MD_SHA256, CA_MD_SHA384, CA_MD_SHA512 };
    if (size < 4) {
        return 0;
    }
    ca_sig_scheme scheme = schemes[data[0] % 3];
    ca_md md = mds[data[1] % 4];
    size_t spki_len = (size_t)data[2] << 8 | data[3];
    size_t hash_len = ca_md_size(md);
    if (size - 4 < spki_len || size - 4 - spki_len < hash_len) {
        return 0;
    }
    const uint8_t *spki = data + 4;
    const uint8_t *hash = spki + spki_len;
    const uint8_t *sig = hash + hash_len;
    size_t sig_len = size - 4 - spki_len - hash_len;

    ztca_rc m =
        ca_verify_with(CA_CRYPTO_MBEDTLS, spki, spki_len, scheme, md, hash, hash_len, sig, sig_len);
    if (ca_crypto_backend_is_available(CA_CRYPTO_OPENSSL)) {
        ztca_rc o = ca_verify_with(CA_CRYPTO_OPENSSL, spki, spki_len, scheme, md, hash, hash_len,
                                   sig, sig_len);
        if (ZTCA_IS_OK(m) != ZTCA_IS_OK(o)) {
            abort(); /* the backends disagree on a signature */
        }
    }
    return 0;
}
