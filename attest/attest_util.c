/* attest_util.c: what every attest/ file shares: the reason table, the Tss2_MU wrapper that turns
 * unmarshal failures into precise reasons, hash algorithm ids, key comparison and levels. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>

#include "attest/internal.h"

/* ---- reasons ------------------------------------------------------------------------------ */

typedef struct attest_reason_info {
    const char *name;
    ztca_err err;
    const char *text;
} attest_reason_info;

static const attest_reason_info attest_reasons[ATTEST_R_COUNT_] = {
    [ATTEST_OK] = { "ok", ZTCA_OK, "the evidence passed this check" },
    [ATTEST_R_TRUNCATED] = { "truncated", ZTCA_ERR_BAD_INPUT,
                             "a TPM structure ends before its fields do" },
    [ATTEST_R_OVERSIZED] = { "oversized", ZTCA_ERR_BAD_INPUT,
                             "a TPM2B size or list count exceeds what its type or algorithm "
                             "allows" },
    [ATTEST_R_TRAILING_DATA] = { "trailing_data", ZTCA_ERR_BAD_INPUT,
                                 "bytes follow the end of a TPM structure" },
    [ATTEST_R_MALFORMED] = { "malformed", ZTCA_ERR_BAD_INPUT,
                             "a TPM structure holds a value TPM 2.0 Part 2 does not allow" },
    [ATTEST_R_BAD_MAGIC] = { "bad_magic", ZTCA_ERR_BAD_INPUT,
                             "TPMS_ATTEST.magic is not TPM_GENERATED_VALUE: not made by a TPM" },
    [ATTEST_R_WRONG_TYPE] = { "wrong_type", ZTCA_ERR_BAD_INPUT,
                              "the attestation is of another type (quote vs certify)" },
    [ATTEST_R_UNSUPPORTED_ALG] = { "unsupported_alg", ZTCA_ERR_UNSUPPORTED,
                                   "key type, curve, key size, hash or scheme not accepted" },
    [ATTEST_R_EK_CERT_MALFORMED] = { "ek_cert_malformed", ZTCA_ERR_BAD_INPUT,
                                     "the EK certificate is not a certificate ztca can parse" },
    [ATTEST_R_EK_CERT_UNTRUSTED] = { "ek_cert_untrusted", ZTCA_ERR_DENIED,
                                     "the EK certificate does not chain to a configured TPM "
                                     "manufacturer root" },
    [ATTEST_R_EK_CERT_EXPIRED] = { "ek_cert_expired", ZTCA_ERR_DENIED,
                                   "a certificate of the EK chain is expired or not yet valid" },
    [ATTEST_R_EK_CERT_WEAK] = { "ek_cert_weak", ZTCA_ERR_DENIED,
                                "the EK chain uses SHA-1 or a weak key and the SHA-1 vendor "
                                "profile is not enabled" },
    [ATTEST_R_EK_CERT_EKU] = { "ek_cert_eku", ZTCA_ERR_DENIED,
                               "the EK certificate has an EKU without tcg-kp-EKCertificate "
                               "(2.23.133.8.1)" },
    [ATTEST_R_EK_KEY_UNSUPPORTED] = { "ek_key_unsupported", ZTCA_ERR_UNSUPPORTED,
                                      "the EK is not RSA 2048-4096, ECC P-256 or ECC P-384" },
    [ATTEST_R_EK_ATTRIBUTES] = { "ek_attributes", ZTCA_ERR_DENIED,
                                 "the EK public area is not an endorsement key template "
                                 "(restricted decryption key, AES-CFB)" },
    [ATTEST_R_EK_PUB_MISMATCH] = { "ek_pub_mismatch", ZTCA_ERR_DENIED,
                                   "the EK public key differs from the EK certificate's key" },
    [ATTEST_R_EK_NOT_REGISTERED] = { "ek_not_registered", ZTCA_ERR_DENIED,
                                     "the EK is not pre-registered, or not the registered key" },
    [ATTEST_R_AK_NOT_FIXED] = { "ak_not_fixed", ZTCA_ERR_DENIED,
                                "the AK is duplicable: fixedTPM or fixedParent is clear" },
    [ATTEST_R_AK_NOT_TPM_GENERATED] = { "ak_not_tpm_generated", ZTCA_ERR_DENIED,
                                        "the AK was imported: sensitiveDataOrigin is clear" },
    [ATTEST_R_AK_DECRYPT] = { "ak_decrypt", ZTCA_ERR_DENIED, "the AK can decrypt" },
    [ATTEST_R_AK_NOT_RESTRICTED] = { "ak_not_restricted", ZTCA_ERR_DENIED,
                                     "the AK is not restricted, so it could sign data that "
                                     "imitates a TPM attestation" },
    [ATTEST_R_AK_NOT_SIGN] = { "ak_not_sign", ZTCA_ERR_DENIED, "the AK is not a signing key" },
    [ATTEST_R_SECRET_MISMATCH] = { "secret_mismatch", ZTCA_ERR_DENIED,
                                   "the activated credential secret is wrong: the AK is not in "
                                   "the TPM of that EK" },
    [ATTEST_R_SIG_SCHEME] = { "sig_scheme", ZTCA_ERR_DENIED,
                              "the signature scheme or hash does not fit the AK" },
    [ATTEST_R_SIGNATURE_INVALID] = { "signature_invalid", ZTCA_ERR_DENIED,
                                     "the AK signature does not verify over the attestation "
                                     "bytes (tampered or another key)" },
    [ATTEST_R_NONCE_MISMATCH] = { "nonce_mismatch", ZTCA_ERR_DENIED,
                                  "the qualifying data is not this session's nonce: stale or "
                                  "replayed evidence" },
    [ATTEST_R_PCR_SELECTION] = { "pcr_selection", ZTCA_ERR_DENIED,
                                 "the quote does not cover exactly the requested PCR bank and "
                                 "PCRs, or the values do not fit it" },
    [ATTEST_R_PCR_DIGEST_MISMATCH] = { "pcr_digest_mismatch", ZTCA_ERR_DENIED,
                                       "the reported PCR values are not the ones quoted" },
    [ATTEST_R_CERTIFIED_NAME_MISMATCH] = { "certified_name_mismatch", ZTCA_ERR_DENIED,
                                           "the certified Name is not the Name of the key's "
                                           "public area" },
    [ATTEST_R_KEY_EXPORTABLE] = { "key_exportable", ZTCA_ERR_DENIED,
                                  "the certified key can leave the TPM or was imported "
                                  "(fixedTPM, fixedParent, sensitiveDataOrigin)" },
    [ATTEST_R_KEY_USAGE] = { "key_usage", ZTCA_ERR_DENIED,
                             "the certified key is not an unrestricted sign-only key" },
    [ATTEST_R_CSR_INVALID] = { "csr_invalid", ZTCA_ERR_BAD_INPUT,
                               "the CSR is malformed, of an unsupported key or not signed by "
                               "its own key" },
    [ATTEST_R_CSR_KEY_MISMATCH] = { "csr_key_mismatch", ZTCA_ERR_DENIED,
                                    "the CSR key is not the TPM-certified key" },
    [ATTEST_R_PCR_NO_POLICY] = { "pcr_no_policy", ZTCA_ERR_DENIED,
                                 "no PCR policy is configured for this device class" },
    [ATTEST_R_PCR_NOT_COVERED] = { "pcr_not_covered", ZTCA_ERR_DENIED,
                                   "the quote does not cover a PCR the policy judges" },
    [ATTEST_R_PCR_NOT_ALLOWED] = { "pcr_not_allowed", ZTCA_ERR_DENIED,
                                   "a PCR value is in no allowed set of the device class" },
    [ATTEST_R_PCR_CHANGED] = { "pcr_changed", ZTCA_ERR_DENIED,
                               "a PCR value differs from the device's recorded baseline" },
    [ATTEST_R_POLICY_INVALID] = { "policy_invalid", ZTCA_ERR_BAD_INPUT,
                                  "the \"attestation\" configuration is invalid" },
    [ATTEST_R_INTERNAL] = { "internal", ZTCA_ERR_INTERNAL,
                            "ztca failed (memory, randomness or a library)" },
};

const char *
attest_reason_name(attest_reason r)
{
    if ((unsigned)r >= ATTEST_R_COUNT_ || attest_reasons[r].name == NULL) {
        return "unknown";
    }
    return attest_reasons[r].name;
}

const char *
attest_reason_text(attest_reason r)
{
    if ((unsigned)r >= ATTEST_R_COUNT_ || attest_reasons[r].text == NULL) {
        return "unknown reason";
    }
    return attest_reasons[r].text;
}

ztca_err
attest_reason_err(attest_reason r)
{
    if ((unsigned)r >= ATTEST_R_COUNT_) {
        return ZTCA_ERR_INTERNAL;
    }
    return attest_reasons[r].err;
}

ztca_rc
attest_fail(attest_reason *why, attest_reason reason, const char *file, int line, const char *what)
{
    if (why != NULL) {
        *why = reason;
    }
    return ztca_note(attest_reason_err(reason), file, line, what, 0);
}

/* ---- Tss2_MU ------------------------------------------------------------------------------ */

ztca_rc
attest_mu_unmarshal(attest_reason *why, attest_mu_fn fn, void *dst, size_t dst_size,
                    const uint8_t *buf, size_t len, const char *what)
{
    size_t off = 0;
    ATTEST_ENSURE(buf != NULL && len > 0, why, ATTEST_R_TRUNCATED, what);
    ATTEST_ENSURE(len <= ATTEST_BLOB_MAX, why, ATTEST_R_OVERSIZED, what);
    memset(dst, 0, dst_size);
    TSS2_RC r = fn(buf, len, &off, dst);
    if (r == TSS2_RC_SUCCESS) {
        ATTEST_ENSURE(off == len, why, ATTEST_R_TRAILING_DATA, what);
        return ZTCA_RC_OK;
    }
    if (r == TSS2_MU_RC_INSUFFICIENT_BUFFER) {
        /* Short input, or a TPM2B bigger than its buffer? Re-run with zeros appended: enough for
         * any field of this type to complete (a marshalled structure is never larger than its C
         * form). Zeros make later TPM2Bs empty and counts 0, so only an oversized size field can
         * still run out of room. */
        size_t pad_len = len + dst_size + 16;
        uint8_t *pad = ztca_calloc(1, pad_len);
        ZTCA_ENSURE(pad != NULL, ZTCA_ERR_NOMEM, "attest: out of memory");
        memcpy(pad, buf, len);
        off = 0;
        TSS2_RC r2 = fn(pad, pad_len, &off, dst);
        free(pad);
        memset(dst, 0, dst_size);
        ATTEST_ENSURE(r2 == TSS2_MU_RC_INSUFFICIENT_BUFFER, why, ATTEST_R_TRUNCATED, what);
        ATTEST_FAIL(why, ATTEST_R_OVERSIZED, what);
    }
    memset(dst, 0, dst_size);
    /* sizeofSelect above 4 and a TPML count above its array give MALFORMED_RESPONSE (tss2-mu
     * tpms-types.c, tpml-types.c); a TPM2B larger than a TPMS it wraps gives BAD_SIZE. */
    ATTEST_ENSURE(r != TSS2_SYS_RC_MALFORMED_RESPONSE && r != TSS2_MU_RC_BAD_SIZE
                      && r != TSS2_SYS_RC_BAD_SIZE,
                  why, ATTEST_R_OVERSIZED, what);
    ATTEST_FAIL(why, ATTEST_R_MALFORMED, what);
}

/* TPM2B ::= UINT16 size || BYTE buffer[size]   (Part 2 10.4) */
ztca_rc
attest_tpm2b_split(attest_reason *why, const uint8_t **out, size_t *out_len, const uint8_t *buf,
                   size_t len, const char *what)
{
    uint16_t size = 0;
    size_t off = 0;
    ATTEST_ENSURE(buf != NULL && len > 0, why, ATTEST_R_TRUNCATED, what);
    ATTEST_ENSURE(len <= ATTEST_BLOB_MAX, why, ATTEST_R_OVERSIZED, what);
    ATTEST_ENSURE(Tss2_MU_UINT16_Unmarshal(buf, len, &off, &size) == TSS2_RC_SUCCESS, why,
                  ATTEST_R_TRUNCATED, what);
    ATTEST_ENSURE(size <= len - off, why, ATTEST_R_TRUNCATED, what);
    ATTEST_ENSURE(size == len - off, why, ATTEST_R_TRAILING_DATA, what);
    ATTEST_ENSURE(size > 0, why, ATTEST_R_TRUNCATED, what);
    *out = buf + off;
    *out_len = size;
    return ZTCA_RC_OK;
}

/* ---- algorithms --------------------------------------------------------------------------- */

bool
attest_hash_md(uint16_t alg, ca_md *out)
{
    switch (alg) {
    case TPM2_ALG_SHA1:
        *out = CA_MD_SHA1;
        return true;
    case TPM2_ALG_SHA256:
        *out = CA_MD_SHA256;
        return true;
    case TPM2_ALG_SHA384:
        *out = CA_MD_SHA384;
        return true;
    case TPM2_ALG_SHA512:
        *out = CA_MD_SHA512;
        return true;
    default:
        return false;
    }
}

size_t
attest_hash_size(uint16_t alg)
{
    ca_md md;
    return attest_hash_md(alg, &md) ? ca_md_size(md) : 0;
}

ztca_rc
attest_pk_from_spki(mbedtls_pk_context *pk, const uint8_t *spki, size_t spki_len)
{
    ZTCA_GUARD_MBEDTLS(mbedtls_pk_parse_public_key(pk, spki, spki_len), ZTCA_ERR_BAD_INPUT);
    return ZTCA_RC_OK;
}

bool
attest_pk_equal(const mbedtls_pk_context *a, const mbedtls_pk_context *b)
{
    mbedtls_pk_type_t ta = mbedtls_pk_get_type(a), tb = mbedtls_pk_get_type(b);
    if (ta == MBEDTLS_PK_RSA && tb == MBEDTLS_PK_RSA) {
        const mbedtls_rsa_context *ra = mbedtls_pk_rsa(*a), *rb = mbedtls_pk_rsa(*b);
        return mbedtls_mpi_cmp_mpi(&ra->N, &rb->N) == 0 && mbedtls_mpi_cmp_mpi(&ra->E, &rb->E) == 0;
    }
    bool ea = ta == MBEDTLS_PK_ECKEY || ta == MBEDTLS_PK_ECKEY_DH || ta == MBEDTLS_PK_ECDSA;
    bool eb = tb == MBEDTLS_PK_ECKEY || tb == MBEDTLS_PK_ECKEY_DH || tb == MBEDTLS_PK_ECDSA;
    if (ea && eb) {
        const mbedtls_ecp_keypair *ka = mbedtls_pk_ec(*a), *kb = mbedtls_pk_ec(*b);
        return ka->grp.id == kb->grp.id && mbedtls_ecp_point_cmp(&ka->Q, &kb->Q) == 0;
    }
    return false;
}

bool
attest_key_matches_spki(const attest_key *key, const uint8_t *spki, size_t spki_len)
{
    mbedtls_pk_context a, b;
    mbedtls_pk_init(&a);
    mbedtls_pk_init(&b);
    bool eq = ZTCA_IS_OK(attest_pk_from_spki(&a, key->spki, key->spki_len))
              && ZTCA_IS_OK(attest_pk_from_spki(&b, spki, spki_len)) && attest_pk_equal(&a, &b);
    mbedtls_pk_free(&a);
    mbedtls_pk_free(&b);
    return eq;
}

/* ---- levels ------------------------------------------------------------------------------- */

attest_level
attest_level_of(attest_ek_origin origin, attest_pcr_decision pcr)
{
    /* A pre-registered EK rests on an operator's word, not a manufacturer's: it stays at the
     * lowest TPM level whatever the quote says. A baseline being recorded (RECORD) proves
     * nothing about the boot yet, so only PASS lifts a certified EK to measured boot. */
    if (origin == ATTEST_EK_REGISTERED) {
        return ATTEST_LEVEL_TPM_REGISTERED;
    }
    return pcr == ATTEST_PCR_PASS ? ATTEST_LEVEL_MEASURED_BOOT : ATTEST_LEVEL_TPM_CERTIFIED;
}

const char *
attest_level_name(attest_level level)
{
    switch (level) {
    case ATTEST_LEVEL_TPM_REGISTERED:
        return "tpm-registered";
    case ATTEST_LEVEL_TPM_CERTIFIED:
        return "tpm-certified";
    case ATTEST_LEVEL_MEASURED_BOOT:
        return "tpm-measured-boot";
    }
    return "unknown";
}

ca_attestation
attest_level_to_ca(attest_level level)
{
    return level == ATTEST_LEVEL_MEASURED_BOOT ? CA_ATTEST_TPM_MEASURED_BOOT : CA_ATTEST_TPM;
}
