/* attest_cred.c: TPM2_MakeCredential in software (TPM 2.0 Part 1 24 "Credential Protection",
 * Part 3 12.6, and for the seed Part 1 Annex B.10.4 (RSA) and C.6.4 (ECC)), on mbedTLS
 * primitives. The server needs no TPM: only the TPM that holds the EK's private key can recover
 * the seed, and it releases the secret only if an object with the given Name is loaded, which
 * ties the AK to that EK (TPM2_ActivateCredential, Part 3 12.5).
 *
 *   seed            RSA EK: random(hLen), sent as RSAES-OAEP(EK, label "IDENTITY\0")
 *                   ECC EK: KDFe(nameAlg, x(d_e * Q_EK), "IDENTITY", x(Q_e), x(Q_EK)), sent as Q_e
 *   symKey          KDFa(nameAlg, seed, "STORAGE", Name(AK), "", EK symmetric keyBits)
 *   encIdentity     AES-CFB(symKey, IV 0, TPM2B_DIGEST(secret))   (the size field is encrypted)
 *   HMACkey         KDFa(nameAlg, seed, "INTEGRITY", "", "", hLen * 8)
 *   outerHMAC       HMAC_nameAlg(HMACkey, encIdentity || Name(AK))
 *   TPM2B_ID_OBJECT { TPM2B_DIGEST(outerHMAC) || encIdentity },  TPM2B_ENCRYPTED_SECRET(seed)
 * nameAlg and the AES key size are the EK's (H-3 P-384 EKs: SHA-384 and AES-256), never fixed:
 * a mismatch makes the TPM fail with TPM_RC_INTEGRITY (../shared/notes/TPM.md 6). */
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>

#include "attest/internal.h"

static mbedtls_md_type_t
attest_md_type(uint16_t alg)
{
    switch (alg) {
    case TPM2_ALG_SHA1:
        return MBEDTLS_MD_SHA1;
    case TPM2_ALG_SHA256:
        return MBEDTLS_MD_SHA256;
    case TPM2_ALG_SHA384:
        return MBEDTLS_MD_SHA384;
    case TPM2_ALG_SHA512:
        return MBEDTLS_MD_SHA512;
    default:
        return MBEDTLS_MD_NONE;
    }
}

static void
attest_be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

/* KDFa(hashAlg, key, label, contextU, contextV, bits)                   (Part 1 11.4.10.2)
 *   K(i) = HMAC_hashAlg(key, [i]_32 || label || 0x00 || contextU || contextV || [bits]_32)
 * for i = 1, 2, ... concatenated and truncated to `bits`. */
ztca_rc
attest_kdfa(uint8_t *out, size_t out_bits, uint16_t hash_alg, const uint8_t *key, size_t key_len,
            const char *label, const uint8_t *context_u, size_t u_len, const uint8_t *context_v,
            size_t v_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(attest_md_type(hash_alg));
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    uint8_t block[ATTEST_DIGEST_MAX];
    uint8_t ctr[4], bits[4];
    static const uint8_t zero = 0;
    size_t out_len = out_bits / 8, done = 0;

    ZTCA_REQUIRE(info != NULL, ZTCA_ERR_INTERNAL, "KDFa: unknown hash");
    ZTCA_REQUIRE(out_bits > 0 && out_bits % 8 == 0 && out_bits <= UINT32_MAX, ZTCA_ERR_INTERNAL,
                 "KDFa: bits must be a positive multiple of 8");
    size_t hlen = mbedtls_md_get_size(info);
    attest_be32(bits, (uint32_t)out_bits);
    ZTCA_CHECK_MBEDTLS(mbedtls_md_setup(&md, info, 1), ZTCA_ERR_NOMEM);
    for (uint32_t i = 1; done < out_len; i++) {
        attest_be32(ctr, i);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_starts(&md, key, key_len), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_update(&md, ctr, sizeof(ctr)), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_update(&md, (const uint8_t *)label, strlen(label)),
                           ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_update(&md, &zero, 1), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_update(&md, context_u, u_len), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_update(&md, context_v, v_len), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_update(&md, bits, sizeof(bits)), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_hmac_finish(&md, block), ZTCA_ERR_CRYPTO);
        size_t n = out_len - done < hlen ? out_len - done : hlen;
        memcpy(out + done, block, n);
        done += n;
    }
out:
    mbedtls_platform_zeroize(block, sizeof(block));
    mbedtls_md_free(&md);
    return rc;
}

/* KDFe(hashAlg, Z, label, partyUInfo, partyVInfo, bits)                  (Part 1 11.4.10.3)
 *   K(i) = H_hashAlg([i]_32 || Z || label || 0x00 || partyUInfo || partyVInfo)
 * (NIST SP 800-56A 5.8.1 concatenation KDF; the label's terminating NUL is part of it). */
ztca_rc
attest_kdfe(uint8_t *out, size_t out_bits, uint16_t hash_alg, const uint8_t *z, size_t z_len,
            const char *label, const uint8_t *party_u, size_t u_len, const uint8_t *party_v,
            size_t v_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(attest_md_type(hash_alg));
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    uint8_t block[ATTEST_DIGEST_MAX];
    uint8_t ctr[4];
    size_t out_len = out_bits / 8, done = 0;

    ZTCA_REQUIRE(info != NULL, ZTCA_ERR_INTERNAL, "KDFe: unknown hash");
    ZTCA_REQUIRE(out_bits > 0 && out_bits % 8 == 0, ZTCA_ERR_INTERNAL,
                 "KDFe: bits must be a positive multiple of 8");
    size_t hlen = mbedtls_md_get_size(info);
    ZTCA_CHECK_MBEDTLS(mbedtls_md_setup(&md, info, 0), ZTCA_ERR_NOMEM);
    for (uint32_t i = 1; done < out_len; i++) {
        attest_be32(ctr, i);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_starts(&md), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_update(&md, ctr, sizeof(ctr)), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_update(&md, z, z_len), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_update(&md, (const uint8_t *)label, strlen(label) + 1),
                           ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_update(&md, party_u, u_len), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_update(&md, party_v, v_len), ZTCA_ERR_CRYPTO);
        ZTCA_CHECK_MBEDTLS(mbedtls_md_finish(&md, block), ZTCA_ERR_CRYPTO);
        size_t n = out_len - done < hlen ? out_len - done : hlen;
        memcpy(out + done, block, n);
        done += n;
    }
out:
    mbedtls_platform_zeroize(block, sizeof(block));
    mbedtls_md_free(&md);
    return rc;
}

ztca_rc
attest_cred_wrap(uint8_t *out, size_t out_size, size_t *out_len, const attest_key *ek,
                 const uint8_t *seed, size_t seed_len, const attest_name *name,
                 const uint8_t *secret, size_t secret_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(attest_md_type(ek->name_alg));
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    uint8_t sym_key[32], hmac_key[ATTEST_DIGEST_MAX], iv[16] = { 0 };
    uint8_t plain[2 + ATTEST_DIGEST_MAX], enc[2 + ATTEST_DIGEST_MAX];
    TPM2B_DIGEST cv, outer;
    TPM2B_ID_OBJECT id;
    memset(&cv, 0, sizeof(cv));
    memset(&outer, 0, sizeof(outer));
    memset(&id, 0, sizeof(id));
    size_t plain_len = 0, iv_off = 0, off = 0;

    ZTCA_REQUIRE(info != NULL, ZTCA_ERR_INTERNAL, "MakeCredential: EK nameAlg");
    size_t hlen = mbedtls_md_get_size(info);
    ZTCA_REQUIRE(ek->sym_alg == TPM2_ALG_AES && ek->sym_mode == TPM2_ALG_CFB
                     && (ek->sym_bits == 128 || ek->sym_bits == 256),
                 ZTCA_ERR_INTERNAL, "MakeCredential: EK symmetric must be AES-CFB");
    ZTCA_REQUIRE(secret_len > 0 && secret_len <= hlen && seed_len == hlen && name->len > 2,
                 ZTCA_ERR_INTERNAL, "MakeCredential: secret, seed or Name size");

    /* encIdentity: the marshalled TPM2B_DIGEST (Part 1 24.4), encrypted whole. */
    cv.size = (uint16_t)secret_len;
    memcpy(cv.buffer, secret, secret_len);
    ZTCA_REQUIRE(Tss2_MU_TPM2B_DIGEST_Marshal(&cv, plain, sizeof(plain), &plain_len)
                     == TSS2_RC_SUCCESS,
                 ZTCA_ERR_INTERNAL, "MakeCredential: marshal the credential");
    ZTCA_CHECK(attest_kdfa(sym_key, ek->sym_bits, ek->name_alg, seed, seed_len, "STORAGE",
                           name->bytes, name->len, NULL, 0));
    ZTCA_CHECK_MBEDTLS(mbedtls_aes_setkey_enc(&aes, sym_key, ek->sym_bits), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(
        mbedtls_aes_crypt_cfb128(&aes, MBEDTLS_AES_ENCRYPT, plain_len, &iv_off, iv, plain, enc),
        ZTCA_ERR_CRYPTO);

    /* outerHMAC over encIdentity || Name (Part 1 24.5). */
    ZTCA_CHECK(attest_kdfa(hmac_key, hlen * 8, ek->name_alg, seed, seed_len, "INTEGRITY", NULL, 0,
                           NULL, 0));
    {
        mbedtls_md_context_t md;
        mbedtls_md_init(&md);
        int r = mbedtls_md_setup(&md, info, 1);
        r = r ? r : mbedtls_md_hmac_starts(&md, hmac_key, hlen);
        r = r ? r : mbedtls_md_hmac_update(&md, enc, plain_len);
        r = r ? r : mbedtls_md_hmac_update(&md, name->bytes, name->len);
        r = r ? r : mbedtls_md_hmac_finish(&md, outer.buffer);
        mbedtls_md_free(&md);
        ZTCA_CHECK_MBEDTLS(r, ZTCA_ERR_CRYPTO);
    }
    outer.size = (uint16_t)hlen;

    /* TPMS_ID_OBJECT ::= integrityHMAC TPM2B_DIGEST, encIdentity (not size-prefixed: its size
     * field is inside the ciphertext)                                  (Part 2 12.4.2) */
    ZTCA_REQUIRE(Tss2_MU_TPM2B_DIGEST_Marshal(&outer, id.credential, sizeof(id.credential), &off)
                         == TSS2_RC_SUCCESS
                     && off + plain_len <= sizeof(id.credential),
                 ZTCA_ERR_INTERNAL, "MakeCredential: marshal integrityHMAC");
    memcpy(id.credential + off, enc, plain_len);
    id.size = (uint16_t)(off + plain_len);
    off = 0;
    ZTCA_REQUIRE(Tss2_MU_TPM2B_ID_OBJECT_Marshal(&id, out, out_size, &off) == TSS2_RC_SUCCESS,
                 ZTCA_ERR_INTERNAL, "MakeCredential: marshal TPM2B_ID_OBJECT");
    *out_len = off;
out:
    mbedtls_platform_zeroize(sym_key, sizeof(sym_key));
    mbedtls_platform_zeroize(hmac_key, sizeof(hmac_key));
    mbedtls_platform_zeroize(plain, sizeof(plain));
    mbedtls_platform_zeroize(&cv, sizeof(cv));
    mbedtls_aes_free(&aes);
    return rc;
}

static int
attest_rng(void *rng, unsigned char *out, size_t len)
{
    return ZTCA_IS_OK(ca_rng_bytes(rng, out, len)) ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

/* RSA EK (Part 1 B.10.4): seed = random; encryptedSecret = RSAES-OAEP with the EK's nameAlg for
 * both the hash and MGF1 and the label "IDENTITY" including its NUL (Part 1 B.10.3). */
static ztca_rc
attest_seed_rsa(uint8_t *seed, TPM2B_ENCRYPTED_SECRET *es, mbedtls_pk_context *pk,
                const attest_key *ek, size_t hlen, ca_rng *rng)
{
    static const char label[] = "IDENTITY";
    mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
    ZTCA_ENSURE(mbedtls_rsa_get_len(rsa) <= sizeof(es->secret), ZTCA_ERR_INTERNAL,
                "MakeCredential: RSA EK too large");
    ZTCA_GUARD(ca_rng_bytes(rng, seed, hlen));
    mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, attest_md_type(ek->name_alg));
    ZTCA_GUARD_MBEDTLS(mbedtls_rsa_rsaes_oaep_encrypt(rsa, attest_rng, rng, MBEDTLS_RSA_PUBLIC,
                                                      (const uint8_t *)label, sizeof(label), hlen,
                                                      seed, es->secret),
                       ZTCA_ERR_CRYPTO);
    es->size = (uint16_t)mbedtls_rsa_get_len(rsa);
    return ZTCA_RC_OK;
}

/* ECC EK (Part 1 C.6.4, "ECDH" secret sharing): an ephemeral key pair (d_e, Q_e) on the EK's
 * curve, Z = x(d_e * Q_EK) padded to the field size, seed = KDFe(nameAlg, Z, "IDENTITY", x(Q_e),
 * x(Q_EK), hLen * 8); the TPM recomputes Z from Q_e, sent as a TPMS_ECC_POINT. */
static ztca_rc
attest_seed_ecc(uint8_t *seed, TPM2B_ENCRYPTED_SECRET *es, mbedtls_pk_context *pk,
                const attest_key *ek, size_t hlen, ca_rng *rng)
{
    ztca_rc rc = ZTCA_RC_OK;
    const mbedtls_ecp_keypair *ekp = mbedtls_pk_ec(*pk);
    mbedtls_ecp_group grp;
    mbedtls_ecp_point qe;
    mbedtls_mpi d, z;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&qe);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    uint8_t zb[48], xek[48];
    TPMS_ECC_POINT pt;
    memset(&pt, 0, sizeof(pt));
    size_t flen = ek->bits / 8, off = 0;

    ZTCA_REQUIRE(flen > 0 && flen <= sizeof(zb), ZTCA_ERR_INTERNAL, "MakeCredential: curve size");
    ZTCA_CHECK_MBEDTLS(mbedtls_ecp_group_load(&grp, ekp->grp.id), ZTCA_ERR_INTERNAL);
    ZTCA_CHECK_MBEDTLS(mbedtls_ecp_gen_keypair(&grp, &d, &qe, attest_rng, rng), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_ecdh_compute_shared(&grp, &z, &ekp->Q, &d, attest_rng, rng),
                       ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_mpi_write_binary(&z, zb, flen), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_mpi_write_binary(&qe.X, pt.x.buffer, flen), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_mpi_write_binary(&qe.Y, pt.y.buffer, flen), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_mpi_write_binary(&ekp->Q.X, xek, flen), ZTCA_ERR_CRYPTO);
    pt.x.size = (uint16_t)flen;
    pt.y.size = (uint16_t)flen;
    ZTCA_CHECK(attest_kdfe(seed, hlen * 8, ek->name_alg, zb, flen, "IDENTITY", pt.x.buffer, flen,
                           xek, flen));
    /* TPMU_ENCRYPTED_SECRET.ecc is a TPMS_ECC_POINT (Part 2 11.4.3). */
    ZTCA_REQUIRE(Tss2_MU_TPMS_ECC_POINT_Marshal(&pt, es->secret, sizeof(es->secret), &off)
                     == TSS2_RC_SUCCESS,
                 ZTCA_ERR_INTERNAL, "MakeCredential: marshal the ephemeral point");
    es->size = (uint16_t)off;
out:
    mbedtls_platform_zeroize(zb, sizeof(zb));
    mbedtls_mpi_free(&d);
    mbedtls_mpi_free(&z);
    mbedtls_ecp_point_free(&qe);
    mbedtls_ecp_group_free(&grp);
    return rc;
}

ztca_rc
attest_cred_make(attest_credential *out, attest_reason *why, ca_rng *rng, const attest_ek *ek,
                 const attest_name *ak_name, const uint8_t *secret, size_t secret_len)
{
    ATTEST_BEGIN(why);
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    uint8_t seed[ATTEST_DIGEST_MAX];
    TPM2B_ENCRYPTED_SECRET es;
    memset(&es, 0, sizeof(es));
    attest_credential res;
    memset(&res, 0, sizeof(res));
    size_t hlen = attest_hash_size(ek->key.name_alg), off = 0;

    ZTCA_REQUIRE(hlen > 0 && secret != NULL && secret_len > 0 && secret_len <= hlen,
                 ZTCA_ERR_INTERNAL, "MakeCredential: the secret must be 1..hLen(EK nameAlg) bytes");
    ZTCA_REQUIRE(ak_name != NULL && ak_name->len > 2 && ak_name->len <= sizeof(ak_name->bytes),
                 ZTCA_ERR_INTERNAL, "MakeCredential: no object Name");
    ZTCA_CHECK(attest_pk_from_spki(&pk, ek->key.spki, ek->key.spki_len));
    if (ek->key.type == ATTEST_KEY_RSA) {
        ZTCA_CHECK(attest_seed_rsa(seed, &es, &pk, &ek->key, hlen, rng));
    } else {
        ZTCA_CHECK(attest_seed_ecc(seed, &es, &pk, &ek->key, hlen, rng));
    }
    ZTCA_CHECK(attest_cred_wrap(res.id_object, sizeof(res.id_object), &res.id_object_len, &ek->key,
                                seed, hlen, ak_name, secret, secret_len));
    ZTCA_REQUIRE(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&es, res.encrypted_secret,
                                                        sizeof(res.encrypted_secret), &off)
                     == TSS2_RC_SUCCESS,
                 ZTCA_ERR_INTERNAL, "MakeCredential: marshal TPM2B_ENCRYPTED_SECRET");
    res.encrypted_secret_len = off;
    *out = res;
    *why = ATTEST_OK;
out:
    mbedtls_platform_zeroize(seed, sizeof(seed));
    mbedtls_pk_free(&pk);
    return rc;
}

ztca_rc
attest_cred_check(attest_reason *why, const uint8_t *expected, size_t expected_len,
                  const uint8_t *returned, size_t returned_len)
{
    ATTEST_BEGIN(why);
    ZTCA_ENSURE(expected != NULL && expected_len > 0, ZTCA_ERR_INTERNAL,
                "credential: no expected secret");
    /* Lengths are public (the secret size is fixed by the server); the contents are compared in
     * constant time so a timing side channel cannot recover the secret byte by byte. */
    ATTEST_ENSURE(returned != NULL && returned_len == expected_len
                      && ztca_ct_equal(expected, returned, expected_len),
                  why, ATTEST_R_SECRET_MISMATCH,
                  "credential: the activated secret is not the one sent");
    *why = ATTEST_OK;
    return ZTCA_RC_OK;
}
