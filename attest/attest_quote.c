/* attest_quote.c: TPM2_Quote (Part 3 18.4). The AK signs a TPMS_ATTEST whose TPMS_QUOTE_INFO holds
 * the PCR selection and pcrDigest = H_sigHash(selected PCR values, in selection order); the
 * device sends the values separately and we recompute the digest. */
#include <string.h>

#include "attest/internal.h"

static size_t
attest_popcount(uint32_t v)
{
    size_t n = 0;
    for (; v != 0; v &= v - 1) {
        n++;
    }
    return n;
}

ztca_rc
attest_quote_verify(attest_quote *out, attest_reason *why, const attest_key *ak,
                    const attest_quote_in *in)
{
    ATTEST_BEGIN(why);
    attest_info info;
    attest_sig sig;
    ca_md md;
    uint8_t digest[ATTEST_DIGEST_MAX];
    size_t dlen = attest_hash_size(in->pcr_hash_alg);

    ZTCA_ENSURE(dlen > 0 && in->pcr_mask != 0 && in->pcr_mask < (1u << ATTEST_PCR_MAX),
                ZTCA_ERR_INTERNAL, "quote: bad requested PCR selection");
    ZTCA_GUARD(attest_signed_verify(&info, &sig, why, ak, TPM2_ST_ATTEST_QUOTE, in->attest,
                                    in->attest_len, in->sig, in->sig_len, in->nonce,
                                    in->nonce_len));

    /* TPML_PCR_SELECTION: exactly the bank and PCRs we asked for. A different selection would
     * judge other PCRs than the policy means (a missing PCR 7 hides Secure Boot state). */
    ATTEST_ENSURE(info.num_pcr_select == 1 && info.pcr_select[0].hash_alg == in->pcr_hash_alg
                      && info.pcr_select[0].mask == in->pcr_mask,
                  why, ATTEST_R_PCR_SELECTION,
                  "TPMS_QUOTE_INFO.pcrSelect is not the requested selection");
    ATTEST_ENSURE(in->pcr_values != NULL
                      && in->pcr_values_len == attest_popcount(in->pcr_mask) * dlen,
                  why, ATTEST_R_PCR_SELECTION,
                  "quote: PCR values do not match the selection (count or digest size)");

    /* pcrDigest is computed with the hash of the signing scheme, not the PCR bank's (Part 3
     * 18.4.1: "digest of the selected PCR using the hash of the signing key"). */
    if (!attest_hash_md(sig.hash, &md)) {
        ATTEST_FAIL(why, ATTEST_R_UNSUPPORTED_ALG, "quote: signature hash");
    }
    ZTCA_GUARD(ca_hash(md, in->pcr_values, in->pcr_values_len, digest, sizeof(digest)));
    ATTEST_ENSURE(info.pcr_digest_len == ca_md_size(md)
                      && ztca_ct_equal(info.pcr_digest, digest, ca_md_size(md)),
                  why, ATTEST_R_PCR_DIGEST_MISMATCH,
                  "TPMS_QUOTE_INFO.pcrDigest does not match the reported PCR values");

    memset(out, 0, sizeof(*out));
    out->clock = info.clock;
    out->firmware_version = info.firmware_version;
    out->pcrs.hash_alg = in->pcr_hash_alg;
    out->pcrs.mask = in->pcr_mask;
    const uint8_t *v = in->pcr_values;
    for (int i = 0; i < ATTEST_PCR_MAX; i++) {
        if (in->pcr_mask & (1u << i)) {
            memcpy(out->pcrs.values[i], v, dlen);
            v += dlen;
        }
    }
    *why = ATTEST_OK;
    return ZTCA_RC_OK;
}
