/* Target: attest_ek_public_parse (attest/attest_ak.c), an EK TPM2B_PUBLIC.
 * Why: a device sends its EK public area before anything is authenticated; it goes through our
 * TPM2B split, tss2-mu's TPMT_PUBLIC unmarshal, the Name hash, mbedTLS key import and the EK
 * template policy. The result also drives MakeCredential.
 *
 * An accepted EK must be a restricted decryption key with AES-CFB, a Name of its nameAlg's size,
 * and an SPKI that mbedTLS reads back as the same key; abort() otherwise. */
#include <stdint.h>
#include <stdlib.h>

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
    attest_key k;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_ek_public_parse(&k, &why, data, size);
    if ((why == ATTEST_OK) != ZTCA_IS_OK(rc)) {
        abort(); /* a reason must come with every failure, and only with failures */
    }
    if (ZTCA_IS_OK(rc)) {
        uint32_t need = ATTEST_OBJ_RESTRICTED | ATTEST_OBJ_DECRYPT | ATTEST_OBJ_FIXED_TPM
                        | ATTEST_OBJ_FIXED_PARENT;
        size_t hlen = k.name_alg == ATTEST_ALG_SHA256   ? 32
                      : k.name_alg == ATTEST_ALG_SHA384 ? 48
                      : k.name_alg == ATTEST_ALG_SHA512 ? 64
                                                        : 0;
        if ((k.attributes & need) != need || (k.attributes & ATTEST_OBJ_SIGN) != 0
            || k.sym_alg != ATTEST_ALG_AES || k.sym_mode != ATTEST_ALG_CFB
            || (k.sym_bits != 128 && k.sym_bits != 256) || hlen == 0 || k.name.len != 2 + hlen
            || !attest_key_matches_spki(&k, k.spki, k.spki_len)) {
            abort();
        }
    }
    return 0;
}
