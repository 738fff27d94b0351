/* attest_ak.c: TPM2B_PUBLIC of any key the evidence names (EK, AK, the certified TLS key): strict
 * unmarshalling with tss2-mu, the Name for any supported nameAlg, the key as an SPKI for
 * ca_verify and for comparisons, and the attestation-key attribute policy. */
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include "attest/internal.h"

static TSS2_RC
attest_mu_tpmt_public(const uint8_t *buf, size_t len, size_t *off, void *dst)
{
    return Tss2_MU_TPMT_PUBLIC_Unmarshal(buf, len, off, dst);
}

/* attest_spki_write: DER SubjectPublicKeyInfo of `pk`. mbedtls_pk_write_pubkey_der writes at the
 * end of the buffer, so the result is moved to the front. */
static ztca_rc
attest_spki_write(attest_key *k, mbedtls_pk_context *pk)
{
    int n = mbedtls_pk_write_pubkey_der(pk, k->spki, sizeof(k->spki));
    ZTCA_ENSURE(n > 0, ZTCA_ERR_INTERNAL, "attest: writing the public key as SPKI");
    memmove(k->spki, k->spki + sizeof(k->spki) - (size_t)n, (size_t)n);
    k->spki_len = (size_t)n;
    return ZTCA_RC_OK;
}

/* TPMS_RSA_PARMS ::= symmetric TPMT_SYM_DEF_OBJECT+, scheme TPMT_RSA_SCHEME+,
 *                    keyBits TPMI_RSA_KEY_BITS, exponent UINT32      (Part 2 12.2.3.5)
 * TPM2B_PUBLIC_KEY_RSA ::= size, buffer (the modulus, big-endian)        (Part 2 11.2.4.5) */
static ztca_rc
attest_key_rsa(attest_key *k, attest_reason *why, const TPMT_PUBLIC *pub)
{
    ztca_rc rc = ZTCA_RC_OK;
    const TPMS_RSA_PARMS *p = &pub->parameters.rsaDetail;
    const TPM2B_PUBLIC_KEY_RSA *n = &pub->unique.rsa;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    /* An exponent of 0 means the default 2^16 + 1 (Part 2 12.2.3.5). */
    uint32_t e = p->exponent == 0 ? 65537 : p->exponent;
    uint8_t e_be[4] = { (uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e };

    ATTEST_REQUIRE(p->keyBits == 2048 || p->keyBits == 3072 || p->keyBits == 4096, why,
                   ATTEST_R_UNSUPPORTED_ALG, "TPMS_RSA_PARMS.keyBits: 2048, 3072 or 4096 only");
    ATTEST_REQUIRE(n->size <= p->keyBits / 8, why, ATTEST_R_OVERSIZED,
                   "TPMT_PUBLIC.unique.rsa larger than keyBits");
    ATTEST_REQUIRE(n->size == p->keyBits / 8 && (n->buffer[0] & 0x80) != 0, why, ATTEST_R_MALFORMED,
                   "TPMT_PUBLIC.unique.rsa is not a keyBits-bit modulus");
    ATTEST_REQUIRE((e & 1) == 1 && e >= 3, why, ATTEST_R_MALFORMED,
                   "TPMS_RSA_PARMS.exponent must be odd and at least 3");
    ZTCA_CHECK_MBEDTLS(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)),
                       ZTCA_ERR_INTERNAL);
    mbedtls_rsa_context *rsa = mbedtls_pk_rsa(pk);
    ATTEST_REQUIRE(mbedtls_rsa_import_raw(rsa, n->buffer, n->size, NULL, 0, NULL, 0, NULL, 0, e_be,
                                          sizeof(e_be))
                           == 0
                       && mbedtls_rsa_complete(rsa) == 0 && mbedtls_rsa_check_pubkey(rsa) == 0,
                   why, ATTEST_R_MALFORMED, "TPMT_PUBLIC: not a valid RSA public key");
    k->type = ATTEST_KEY_RSA;
    k->bits = p->keyBits;
    k->scheme = p->scheme.scheme;
    k->scheme_hash =
        p->scheme.scheme == TPM2_ALG_NULL ? TPM2_ALG_NULL : p->scheme.details.anySig.hashAlg;
    k->sym_alg = p->symmetric.algorithm;
    k->sym_bits = p->symmetric.algorithm == TPM2_ALG_NULL ? 0 : p->symmetric.keyBits.sym;
    k->sym_mode = p->symmetric.algorithm == TPM2_ALG_NULL ? TPM2_ALG_NULL : p->symmetric.mode.sym;
    ZTCA_CHECK(attest_spki_write(k, &pk));
out:
    mbedtls_pk_free(&pk);
    return rc;
}

/* TPMS_ECC_PARMS ::= symmetric TPMT_SYM_DEF_OBJECT+, scheme TPMT_ECC_SCHEME+,
 *                    curveID TPMI_ECC_CURVE, kdf TPMT_KDF_SCHEME+        (Part 2 12.2.3.6)
 * TPMS_ECC_POINT ::= x TPM2B_ECC_PARAMETER, y TPM2B_ECC_PARAMETER       (Part 2 11.2.5.2)
 * Coordinates may come without leading zeros; they are left-padded to the field size. */
static ztca_rc
attest_key_ecc(attest_key *k, attest_reason *why, const TPMT_PUBLIC *pub)
{
    ztca_rc rc = ZTCA_RC_OK;
    const TPMS_ECC_PARMS *p = &pub->parameters.eccDetail;
    const TPMS_ECC_POINT *q = &pub->unique.ecc;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    mbedtls_ecp_group_id gid;
    size_t flen;
    uint8_t point[1 + 2 * 48] = { 0x04 }; /* SEC 1 2.3.3 uncompressed */

    switch (p->curveID) {
    case TPM2_ECC_NIST_P256:
        gid = MBEDTLS_ECP_DP_SECP256R1;
        flen = 32;
        break;
    case TPM2_ECC_NIST_P384:
        gid = MBEDTLS_ECP_DP_SECP384R1;
        flen = 48;
        break;
    default:
        ATTEST_REQUIRE(false, why, ATTEST_R_UNSUPPORTED_ALG,
                       "TPMS_ECC_PARMS.curveID: NIST P-256 or P-384 only");
    }
    ATTEST_REQUIRE(q->x.size <= flen && q->y.size <= flen, why, ATTEST_R_OVERSIZED,
                   "TPMS_ECC_POINT coordinate larger than the curve's field");
    memcpy(point + 1 + flen - q->x.size, q->x.buffer, q->x.size);
    memcpy(point + 1 + 2 * flen - q->y.size, q->y.buffer, q->y.size);
    ZTCA_CHECK_MBEDTLS(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)),
                       ZTCA_ERR_INTERNAL);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
    ZTCA_CHECK_MBEDTLS(mbedtls_ecp_group_load(&ec->grp, gid), ZTCA_ERR_INTERNAL);
    ATTEST_REQUIRE(mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, point, 1 + 2 * flen) == 0
                       && mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q) == 0,
                   why, ATTEST_R_MALFORMED, "TPMS_ECC_POINT is not a point on the curve");
    k->type = ATTEST_KEY_ECC;
    k->bits = (uint16_t)(flen * 8);
    k->curve = p->curveID;
    k->scheme = p->scheme.scheme;
    k->scheme_hash =
        p->scheme.scheme == TPM2_ALG_NULL ? TPM2_ALG_NULL : p->scheme.details.anySig.hashAlg;
    k->sym_alg = p->symmetric.algorithm;
    k->sym_bits = p->symmetric.algorithm == TPM2_ALG_NULL ? 0 : p->symmetric.keyBits.sym;
    k->sym_mode = p->symmetric.algorithm == TPM2_ALG_NULL ? TPM2_ALG_NULL : p->symmetric.mode.sym;
    ZTCA_CHECK(attest_spki_write(k, &pk));
out:
    mbedtls_pk_free(&pk);
    return rc;
}

/* TPM2B_PUBLIC ::= size UINT16, publicArea TPMT_PUBLIC                   (Part 2 12.2.5)
 * TPMT_PUBLIC ::= type TPMI_ALG_PUBLIC, nameAlg TPMI_ALG_HASH+, objectAttributes TPMA_OBJECT,
 *                 authPolicy TPM2B_DIGEST, [type] parameters TPMU_PUBLIC_PARMS,
 *                 [type] unique TPMU_PUBLIC_ID                           (Part 2 12.2.4)
 * Name ::= nameAlg (BE16) || H_nameAlg(the marshalled TPMT_PUBLIC)        (Part 1 16) */
ztca_rc
attest_key_parse(attest_key *out, attest_reason *why, const uint8_t *tpm2b_public, size_t len)
{
    ATTEST_BEGIN(why);
    const uint8_t *area = NULL;
    size_t area_len = 0;
    TPMT_PUBLIC pub;
    attest_key k;
    memset(&k, 0, sizeof(k));
    ca_md md;

    ZTCA_GUARD(attest_tpm2b_split(why, &area, &area_len, tpm2b_public, len, "TPM2B_PUBLIC"));
    ZTCA_GUARD(attest_mu_unmarshal(why, attest_mu_tpmt_public, &pub, sizeof(pub), area, area_len,
                                   "TPM2B_PUBLIC.publicArea"));
    ATTEST_ENSURE(attest_hash_md(pub.nameAlg, &md), why, ATTEST_R_UNSUPPORTED_ALG,
                  "TPMT_PUBLIC.nameAlg: SHA-1, SHA-256, SHA-384 or SHA-512 only");
    /* The Name covers the bytes as received: they are what the TPM hashed (and the marshalling
     * is canonical, so re-marshalling could only hide a difference). */
    k.name.bytes[0] = (uint8_t)(pub.nameAlg >> 8);
    k.name.bytes[1] = (uint8_t)pub.nameAlg;
    ZTCA_GUARD(ca_hash(md, area, area_len, k.name.bytes + 2, sizeof(k.name.bytes) - 2));
    k.name.len = 2 + ca_md_size(md);
    k.name_alg = pub.nameAlg;
    k.attributes = pub.objectAttributes;
    switch (pub.type) {
    case TPM2_ALG_RSA:
        ZTCA_GUARD(attest_key_rsa(&k, why, &pub));
        break;
    case TPM2_ALG_ECC:
        ZTCA_GUARD(attest_key_ecc(&k, why, &pub));
        break;
    default:
        ATTEST_FAIL(why, ATTEST_R_UNSUPPORTED_ALG, "TPMT_PUBLIC.type: RSA or ECC keys only");
    }
    *out = k;
    *why = ATTEST_OK;
    return ZTCA_RC_OK;
}

/* An attestation key (TPM 2.0 Part 1 25.3, "Attestation Key"; DESIGN.md 3) must be:
 * - fixedTPM and fixedParent: it cannot be duplicated to another TPM or parent (Part 1 25.2);
 * - sensitiveDataOrigin: the TPM generated its private part, nobody imported a known key;
 * - restricted and sign, not decrypt: a restricted signing key only signs digests the TPM
 *   computed itself, or external data that does not start with TPM_GENERATED_VALUE (Part 1
 *   25.3.1), so a TPMS_ATTEST it signed really comes from the TPM.
 * decrypt is checked before restricted and sign: a storage key (restricted|decrypt) then reports
 * "ak_decrypt", the clearer diagnosis. */
ztca_rc
attest_ak_parse(attest_key *out, attest_reason *why, const uint8_t *tpm2b_public, size_t len)
{
    ATTEST_BEGIN(why);
    attest_key k;
    memset(&k, 0, sizeof(k));
    ZTCA_GUARD(attest_key_parse(&k, why, tpm2b_public, len));
    uint32_t a = k.attributes;
    ATTEST_ENSURE((a & TPMA_OBJECT_FIXEDTPM) && (a & TPMA_OBJECT_FIXEDPARENT), why,
                  ATTEST_R_AK_NOT_FIXED, "AK: fixedTPM and fixedParent must be set");
    ATTEST_ENSURE(a & TPMA_OBJECT_SENSITIVEDATAORIGIN, why, ATTEST_R_AK_NOT_TPM_GENERATED,
                  "AK: sensitiveDataOrigin must be set");
    ATTEST_ENSURE(!(a & TPMA_OBJECT_DECRYPT), why, ATTEST_R_AK_DECRYPT,
                  "AK: decrypt must be clear");
    ATTEST_ENSURE(a & TPMA_OBJECT_RESTRICTED, why, ATTEST_R_AK_NOT_RESTRICTED,
                  "AK: restricted must be set");
    ATTEST_ENSURE(a & TPMA_OBJECT_SIGN_ENCRYPT, why, ATTEST_R_AK_NOT_SIGN, "AK: sign must be set");
    *out = k;
    *why = ATTEST_OK;
    return ZTCA_RC_OK;
}

/* An endorsement key per the TCG EK Credential Profile 2.5, 2.2.1 (templates L-1, L-2, H-1..H-7)
 * is a restricted decryption (storage) key, fixedTPM and fixedParent, with AES-128-CFB (L-*, H-1,
 * H-2) or AES-256-CFB (H-3 and up) as its symmetric algorithm. MakeCredential depends on these
 * parameters (Part 1 24.4): a key that is not a restricted decryption key cannot run
 * TPM2_ActivateCredential at all. */
ztca_rc
attest_ek_public_parse(attest_key *out, attest_reason *why, const uint8_t *tpm2b_public, size_t len)
{
    ATTEST_BEGIN(why);
    attest_key k;
    memset(&k, 0, sizeof(k));
    ZTCA_GUARD(attest_key_parse(&k, why, tpm2b_public, len));
    uint32_t a = k.attributes;
    ATTEST_ENSURE((a & TPMA_OBJECT_FIXEDTPM) && (a & TPMA_OBJECT_FIXEDPARENT), why,
                  ATTEST_R_EK_ATTRIBUTES, "EK: fixedTPM and fixedParent must be set");
    ATTEST_ENSURE((a & TPMA_OBJECT_RESTRICTED) && (a & TPMA_OBJECT_DECRYPT)
                      && !(a & TPMA_OBJECT_SIGN_ENCRYPT),
                  why, ATTEST_R_EK_ATTRIBUTES, "EK: must be a restricted decryption key");
    ATTEST_ENSURE(k.sym_alg == TPM2_ALG_AES && k.sym_mode == TPM2_ALG_CFB
                      && (k.sym_bits == 128 || k.sym_bits == 256),
                  why, ATTEST_R_EK_ATTRIBUTES, "EK: symmetric must be AES-128-CFB or AES-256-CFB");
    ATTEST_ENSURE(k.name_alg != TPM2_ALG_SHA1, why, ATTEST_R_UNSUPPORTED_ALG,
                  "EK: SHA-1 nameAlg not accepted");
    *out = k;
    *why = ATTEST_OK;
    return ZTCA_RC_OK;
}
