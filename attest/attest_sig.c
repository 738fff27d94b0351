/* attest_sig.c: TPMS_ATTEST and TPMT_SIGNATURE, the two blobs every TPM attestation command
 * returns, and the part of quote and certify verification they share: the AK signature over the
 * exact bytes received and the nonce. */
#include <stdlib.h>
#include <string.h>

#include "attest/internal.h"
#include "core/der.h"

static TSS2_RC
attest_mu_tpms_attest(const uint8_t *buf, size_t len, size_t *off, void *dst)
{
    return Tss2_MU_TPMS_ATTEST_Unmarshal(buf, len, off, dst);
}

static TSS2_RC
attest_mu_tpmt_signature(const uint8_t *buf, size_t len, size_t *off, void *dst)
{
    return Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, len, off, dst);
}

static ztca_rc
attest_name_copy(attest_name *out, attest_reason *why, const TPM2B_NAME *in, const char *what)
{
    ATTEST_ENSURE(in->size <= sizeof(out->bytes), why, ATTEST_R_OVERSIZED, what);
    memcpy(out->bytes, in->name, in->size);
    out->len = in->size;
    return ZTCA_RC_OK;
}

/* TPMS_ATTEST ::= magic TPM_GENERATED, type TPMI_ST_ATTEST, qualifiedSigner TPM2B_NAME,
 *                 extraData TPM2B_DATA, clockInfo TPMS_CLOCK_INFO, firmwareVersion UINT64,
 *                 [type] attested TPMU_ATTEST                            (Part 2 10.12.12)
 * TPMS_CLOCK_INFO ::= clock UINT64, resetCount UINT32, restartCount UINT32, safe TPMI_YES_NO
 * TPMS_QUOTE_INFO ::= pcrSelect TPML_PCR_SELECTION, pcrDigest TPM2B_DIGEST      (10.12.4)
 * TPMS_CERTIFY_INFO ::= name TPM2B_NAME, qualifiedName TPM2B_NAME               (10.12.3) */
ztca_rc
attest_attest_parse(attest_info *out, attest_reason *why, const uint8_t *attest, size_t len)
{
    ATTEST_BEGIN(why);
    ztca_rc rc = ZTCA_RC_OK;
    /* TPMS_ATTEST is about 2.4 KiB: keep it off the stack of server threads. */
    TPMS_ATTEST *a = ztca_malloc(sizeof(*a));
    attest_info *info = ztca_calloc(1, sizeof(*info));
    ZTCA_REQUIRE(a != NULL && info != NULL, ZTCA_ERR_NOMEM, "attest: out of memory");

    ZTCA_CHECK(
        attest_mu_unmarshal(why, attest_mu_tpms_attest, a, sizeof(*a), attest, len, "TPMS_ATTEST"));
    /* Part 1 25.3.1: a restricted signing key never signs external data that begins with
     * TPM_GENERATED_VALUE, so this magic is what makes the structure the TPM's own statement. */
    ATTEST_REQUIRE(a->magic == TPM2_GENERATED_VALUE, why, ATTEST_R_BAD_MAGIC,
                   "TPMS_ATTEST.magic is not TPM_GENERATED_VALUE (Part 2 6.2)");
    info->type = a->type;
    ZTCA_CHECK(attest_name_copy(&info->qualified_signer, why, &a->qualifiedSigner,
                                "TPMS_ATTEST.qualifiedSigner"));
    ATTEST_REQUIRE(a->extraData.size <= sizeof(info->extra_data), why, ATTEST_R_OVERSIZED,
                   "TPMS_ATTEST.extraData");
    memcpy(info->extra_data, a->extraData.buffer, a->extraData.size);
    info->extra_data_len = a->extraData.size;
    info->clock.clock = a->clockInfo.clock;
    info->clock.reset_count = a->clockInfo.resetCount;
    info->clock.restart_count = a->clockInfo.restartCount;
    info->clock.safe = a->clockInfo.safe != 0;
    info->firmware_version = a->firmwareVersion;
    if (a->type == TPM2_ST_ATTEST_QUOTE) {
        const TPML_PCR_SELECTION *sel = &a->attested.quote.pcrSelect;
        for (uint32_t i = 0; i < sel->count; i++) {
            const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
            uint32_t mask = 0;
            for (uint8_t j = 0; j < s->sizeofSelect; j++) {
                mask |= (uint32_t)s->pcrSelect[j] << (8 * j);
            }
            info->pcr_select[i].hash_alg = s->hash;
            info->pcr_select[i].mask = mask;
        }
        info->num_pcr_select = sel->count;
        const TPM2B_DIGEST *d = &a->attested.quote.pcrDigest;
        memcpy(info->pcr_digest, d->buffer, d->size);
        info->pcr_digest_len = d->size;
    } else if (a->type == TPM2_ST_ATTEST_CERTIFY) {
        ZTCA_CHECK(attest_name_copy(&info->certified_name, why, &a->attested.certify.name,
                                    "TPMS_CERTIFY_INFO.name"));
        ZTCA_CHECK(attest_name_copy(&info->certified_qualified_name, why,
                                    &a->attested.certify.qualifiedName,
                                    "TPMS_CERTIFY_INFO.qualifiedName"));
    }
    *out = *info;
    *why = ATTEST_OK;
out:
    free(a);
    free(info);
    return rc;
}

ztca_rc
attest_attest2b_parse(attest_info *out, attest_reason *why, const uint8_t **out_body,
                      size_t *out_body_len, const uint8_t *tpm2b, size_t len)
{
    ATTEST_BEGIN(why);
    const uint8_t *body = NULL;
    size_t body_len = 0;
    /* TPM2B_ATTEST ::= size UINT16, attestationData[size]                  (Part 2 10.12.13) */
    ZTCA_GUARD(attest_tpm2b_split(why, &body, &body_len, tpm2b, len, "TPM2B_ATTEST"));
    ZTCA_GUARD(attest_attest_parse(out, why, body, body_len));
    *out_body = body;
    *out_body_len = body_len;
    return ZTCA_RC_OK;
}

/* Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }   (RFC 5480 2.2.3), the form ca_verify
 * takes, from the TPM's unsigned big-endian r and s. */
static ztca_rc
attest_ecdsa_der(attest_sig *out, attest_reason *why, const TPMS_SIGNATURE_ECC *e)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf b;
    der_buf_init(&b, sizeof(out->sig));
    uint8_t *der = NULL;
    size_t der_len = 0;
    /* P-521 is the largest curve a TPM names; ztca's AKs are P-256 or P-384. */
    ATTEST_REQUIRE(e->signatureR.size <= 66 && e->signatureS.size <= 66, why, ATTEST_R_OVERSIZED,
                   "TPMS_SIGNATURE_ECC: r or s larger than any curve");
    ATTEST_REQUIRE(e->signatureR.size > 0 && e->signatureS.size > 0, why, ATTEST_R_MALFORMED,
                   "TPMS_SIGNATURE_ECC: empty r or s");
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(der_add_uint_bytes(&b, e->signatureR.buffer, e->signatureR.size));
    ZTCA_CHECK(der_add_uint_bytes(&b, e->signatureS.buffer, e->signatureS.size));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_buf_take(&b, &der, &der_len));
    memcpy(out->sig, der, der_len);
    out->sig_len = der_len;
out:
    der_buf_free(&b);
    ztca_free(der);
    return rc;
}

/* TPMT_SIGNATURE ::= sigAlg TPMI_ALG_SIG_SCHEME+, [sigAlg] signature TPMU_SIGNATURE  (11.3.4)
 * TPMS_SIGNATURE_RSA ::= hash TPMI_ALG_HASH, sig TPM2B_PUBLIC_KEY_RSA                (11.3.1)
 * TPMS_SIGNATURE_ECC ::= hash TPMI_ALG_HASH, signatureR, signatureS TPM2B_ECC_PARAMETER (11.3.2) */
ztca_rc
attest_signature_parse(attest_sig *out, attest_reason *why, const uint8_t *sig, size_t len)
{
    ATTEST_BEGIN(why);
    TPMT_SIGNATURE s;
    attest_sig r;
    memset(&r, 0, sizeof(r));
    ca_md md;
    ZTCA_GUARD(attest_mu_unmarshal(why, attest_mu_tpmt_signature, &s, sizeof(s), sig, len,
                                   "TPMT_SIGNATURE"));
    r.alg = s.sigAlg;
    switch (s.sigAlg) {
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS:
        r.hash = s.signature.rsassa.hash; /* rsapss has the same layout (TPMS_SIGNATURE_RSA) */
        ATTEST_ENSURE(s.signature.rsassa.sig.size > 0, why, ATTEST_R_MALFORMED,
                      "TPMS_SIGNATURE_RSA: empty signature");
        ATTEST_ENSURE(s.signature.rsassa.sig.size <= sizeof(r.sig), why, ATTEST_R_OVERSIZED,
                      "TPMS_SIGNATURE_RSA: larger than RSA-4096");
        memcpy(r.sig, s.signature.rsassa.sig.buffer, s.signature.rsassa.sig.size);
        r.sig_len = s.signature.rsassa.sig.size;
        break;
    case TPM2_ALG_ECDSA:
        r.hash = s.signature.ecdsa.hash;
        ZTCA_GUARD(attest_ecdsa_der(&r, why, &s.signature.ecdsa));
        break;
    default:
        ATTEST_FAIL(why, ATTEST_R_UNSUPPORTED_ALG,
                    "TPMT_SIGNATURE.sigAlg: RSASSA, RSAPSS or ECDSA only");
    }
    ATTEST_ENSURE(attest_hash_md(r.hash, &md) && md != CA_MD_SHA1, why, ATTEST_R_UNSUPPORTED_ALG,
                  "TPMT_SIGNATURE hash: SHA-256, SHA-384 or SHA-512 only");
    *out = r;
    *why = ATTEST_OK;
    return ZTCA_RC_OK;
}

/* Does the signature's scheme fit the AK? An RSA key signs with RSASSA or RSAPSS, an ECC key
 * with ECDSA; a key whose public area fixes a scheme signs only with that scheme and hash
 * (Part 1 25.3.2), so anything else did not come from this AK. */
static ztca_rc
attest_sig_fits(attest_reason *why, const attest_key *ak, const attest_sig *sig,
                ca_sig_scheme *out_scheme)
{
    if (ak->type == ATTEST_KEY_RSA) {
        ATTEST_ENSURE(sig->alg == TPM2_ALG_RSASSA || sig->alg == TPM2_ALG_RSAPSS, why,
                      ATTEST_R_SIG_SCHEME, "signature: an RSA AK signs with RSASSA or RSAPSS");
        *out_scheme = sig->alg == TPM2_ALG_RSASSA ? CA_SIG_RSA_PKCS1 : CA_SIG_RSA_PSS;
    } else {
        ATTEST_ENSURE(sig->alg == TPM2_ALG_ECDSA, why, ATTEST_R_SIG_SCHEME,
                      "signature: an ECC AK signs with ECDSA");
        *out_scheme = CA_SIG_ECDSA;
    }
    if (ak->scheme != TPM2_ALG_NULL) {
        ATTEST_ENSURE(sig->alg == ak->scheme && sig->hash == ak->scheme_hash, why,
                      ATTEST_R_SIG_SCHEME, "signature: not the scheme fixed in the AK");
    }
    return ZTCA_RC_OK;
}

ztca_rc
attest_signed_verify(attest_info *out, attest_sig *out_sig, attest_reason *why,
                     const attest_key *ak, uint16_t type, const uint8_t *attest, size_t attest_len,
                     const uint8_t *sig, size_t sig_len, const uint8_t *nonce, size_t nonce_len)
{
    ca_sig_scheme scheme = CA_SIG_ECDSA;
    ca_md md;
    uint8_t digest[ATTEST_DIGEST_MAX];

    ZTCA_ENSURE(nonce != NULL && nonce_len > 0 && nonce_len <= ATTEST_DIGEST_MAX, ZTCA_ERR_INTERNAL,
                "attest: the session nonce must be 1-64 bytes");
    ZTCA_GUARD(attest_attest_parse(out, why, attest, attest_len));
    ATTEST_ENSURE(out->type == type, why, ATTEST_R_WRONG_TYPE, "TPMS_ATTEST.type");
    ZTCA_GUARD(attest_signature_parse(out_sig, why, sig, sig_len));
    ZTCA_GUARD(attest_sig_fits(why, ak, out_sig, &scheme));
    if (!attest_hash_md(out_sig->hash, &md)) {
        ATTEST_FAIL(why, ATTEST_R_UNSUPPORTED_ALG, "signature hash");
    }
    /* The TPM signed H(TPMS_ATTEST) over the bytes it produced (Part 3 18.4.1): hash exactly the
     * bytes received, never a re-marshalled copy. */
    ZTCA_GUARD(ca_hash(md, attest, attest_len, digest, sizeof(digest)));
    ztca_rc v = ca_verify(ak->spki, ak->spki_len, scheme, md, digest, ca_md_size(md), out_sig->sig,
                          out_sig->sig_len);
    ATTEST_ENSURE(ZTCA_IS_OK(v), why, ATTEST_R_SIGNATURE_INVALID,
                  "TPMS_ATTEST: the AK signature does not verify");
    /* extraData carries the caller's qualifyingData (Part 3 18.2.1, 18.4.1). The nonce is
     * public by the time the evidence arrives, but compare in constant time anyway (STYLE 4). */
    ATTEST_ENSURE(
        out->extra_data_len == nonce_len && ztca_ct_equal(out->extra_data, nonce, nonce_len), why,
        ATTEST_R_NONCE_MISMATCH, "TPMS_ATTEST.extraData is not this session's nonce");
    return ZTCA_RC_OK;
}
