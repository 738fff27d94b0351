/* Target: attest_ak_parse and attest_key_parse (attest/attest_ak.c), a TPM2B_PUBLIC.
 * Why: the AK and the certified TLS key public areas arrive from the device; they go through our
 * TPM2B split, tss2-mu, the Name hash and mbedTLS key import, and the AK's key then verifies
 * every quote.
 *
 * attest_ak_parse accepts a subset of what attest_key_parse accepts, with the same Name and key;
 * an accepted AK has the AK attributes; the SPKI reads back as the same key. abort() otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("TSS2_LOG", "all+NONE", 1); /* tss2-mu logs each refused structure */
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attest_key key, ak;
    attest_reason why_key = ATTEST_OK, why_ak = ATTEST_OK;
    ztca_rc rk = attest_key_parse(&key, &why_key, data, size);
    ztca_rc ra = attest_ak_parse(&ak, &why_ak, data, size);
    if ((why_key == ATTEST_OK) != ZTCA_IS_OK(rk) || (why_ak == ATTEST_OK) != ZTCA_IS_OK(ra)) {
        abort();
    }
    if (ZTCA_IS_OK(ra) && !ZTCA_IS_OK(rk)) {
        abort(); /* the AK policy only narrows */
    }
    if (ZTCA_IS_OK(rk)) {
        if (key.name.len < 2 + 20 || !attest_key_matches_spki(&key, key.spki, key.spki_len)) {
            abort();
        }
    }
    if (ZTCA_IS_OK(ra)) {
        uint32_t need = ATTEST_OBJ_FIXED_TPM | ATTEST_OBJ_FIXED_PARENT | ATTEST_OBJ_SENSITIVE_ORIGIN
                        | ATTEST_OBJ_RESTRICTED | ATTEST_OBJ_SIGN;
        if ((ak.attributes & need) != need || (ak.attributes & ATTEST_OBJ_DECRYPT) != 0
            || ak.name.len != key.name.len
            || memcmp(ak.name.bytes, key.name.bytes, ak.name.len) != 0
            || ak.spki_len != key.spki_len || memcmp(ak.spki, key.spki, ak.spki_len) != 0) {
            abort();
        }
    }
    return 0;
}
