/* attest_certify.c: TPM2_Certify (Part 3 18.2) of the device's TLS key by the AK, and the binding
 * of that key to the CSR. Together with credential activation (AK and EK in one TPM) this proves
 * the CSR key is a non-exportable key of that TPM:
 *   AK signature over TPMS_ATTEST  ->  certified Name == Name(key TPM2B_PUBLIC)
 *   -> attributes of that public area (non-exportable)  ->  its key == the CSR key. */
#include <string.h>

#include "attest/internal.h"

ztca_rc
attest_certify_verify(attest_certify *out, attest_reason *why, const attest_key *ak,
                      const attest_certify_in *in)
{
    ATTEST_BEGIN(why);
    ztca_rc rc = ZTCA_RC_OK;
    attest_info info;
    attest_sig sig;
    attest_key key;
    ca_csr csr;
    ca_csr_init(&csr);

    ZTCA_CHECK(attest_signed_verify(&info, &sig, why, ak, TPM2_ST_ATTEST_CERTIFY, in->attest,
                                    in->attest_len, in->sig, in->sig_len, in->nonce,
                                    in->nonce_len));
    ZTCA_CHECK(attest_key_parse(&key, why, in->key_pub, in->key_pub_len));
    /* TPMS_CERTIFY_INFO.name is the Name the TPM computed for the loaded object (Part 3 18.2.1);
     * equal Names mean equal public areas, attributes included (Part 1 16). */
    ATTEST_REQUIRE(info.certified_name.len == key.name.len
                       && ztca_ct_equal(info.certified_name.bytes, key.name.bytes, key.name.len),
                   why, ATTEST_R_CERTIFIED_NAME_MISMATCH,
                   "TPMS_CERTIFY_INFO.name is not the Name of the key's TPM2B_PUBLIC");
    /* Non-exportable (Part 1 25.2 and 27.2): fixedTPM and fixedParent forbid duplication,
     * sensitiveDataOrigin says the TPM generated the private key (not imported, so no copy
     * exists outside). */
    uint32_t a = key.attributes;
    ATTEST_REQUIRE((a & TPMA_OBJECT_FIXEDTPM) && (a & TPMA_OBJECT_FIXEDPARENT)
                       && (a & TPMA_OBJECT_SENSITIVEDATAORIGIN),
                   why, ATTEST_R_KEY_EXPORTABLE,
                   "certified key: fixedTPM, fixedParent and sensitiveDataOrigin must be set");
    /* A TLS key signs arbitrary handshake data: it must be unrestricted and sign-only, so that
     * it can neither forge TPM attestations nor decrypt for anyone. */
    ATTEST_REQUIRE((a & TPMA_OBJECT_SIGN_ENCRYPT) && !(a & TPMA_OBJECT_DECRYPT)
                       && !(a & TPMA_OBJECT_RESTRICTED),
                   why, ATTEST_R_KEY_USAGE,
                   "certified key: sign set, decrypt and restricted clear");
    if (in->csr != NULL) {
        ztca_rc c = ca_csr_parse(&csr, in->csr, in->csr_len);
        if (!ZTCA_IS_OK(c)) {
            /* Keep ca/'s precise note (where and what) for the log; only the reason is ours. */
            *why = ATTEST_R_CSR_INVALID;
            rc = (ztca_rc){ attest_reason_err(ATTEST_R_CSR_INVALID) };
            goto out;
        }
        ATTEST_REQUIRE(attest_key_matches_spki(&key, csr.spki, csr.spki_len), why,
                       ATTEST_R_CSR_KEY_MISMATCH, "CSR key is not the certified TPM key");
    }
    memset(out, 0, sizeof(*out));
    out->key = key;
    out->clock = info.clock;
    *why = ATTEST_OK;
out:
    ca_csr_free(&csr);
    return rc;
}
