/* Target: attest_signature_parse (attest/attest_sig.c), a TPMT_SIGNATURE.
 * Why: the signature of every quote and certification; tss2-mu unmarshals a union keyed by the
 * scheme, and ECDSA r and s are re-encoded as DER for ca_verify by our DER writer.
 *
 * An accepted signature has a supported scheme and hash and a non-empty value; an ECDSA one is
 * exactly one DER SEQUENCE of two INTEGERs; abort() otherwise. */
#include <stdint.h>
#include <stdlib.h>

#include "attest/attest.h"
#include "core/der.h"

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
    attest_sig s;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_signature_parse(&s, &why, data, size);
    if ((why == ATTEST_OK) != ZTCA_IS_OK(rc)) {
        abort();
    }
    if (!ZTCA_IS_OK(rc)) {
        return 0;
    }
    if ((s.alg != ATTEST_ALG_RSASSA && s.alg != ATTEST_ALG_RSAPSS && s.alg != ATTEST_ALG_ECDSA)
        || (s.hash != ATTEST_ALG_SHA256 && s.hash != ATTEST_ALG_SHA384
            && s.hash != ATTEST_ALG_SHA512)
        || s.sig_len == 0 || s.sig_len > sizeof(s.sig)) {
        abort();
    }
    if (s.alg == ATTEST_ALG_ECDSA) {
        der_cur c = der_cur_make(s.sig, s.sig_len), seq, r, t;
        if (!ZTCA_IS_OK(der_get(&c, &seq, DER_SEQUENCE)) || !ZTCA_IS_OK(der_expect_end(&c))
            || !ZTCA_IS_OK(der_get(&seq, &r, DER_INTEGER))
            || !ZTCA_IS_OK(der_get(&seq, &t, DER_INTEGER)) || !ZTCA_IS_OK(der_expect_end(&seq))) {
            abort();
        }
    }
    return 0;
}
