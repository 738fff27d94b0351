/* ca_signer.c: hashes, the verifier and the signer interface, mbedTLS backend. Nothing else in the
 * tree calls mbedTLS's pk sign or verify, so a faster backend plugs in here. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/version.h>

#include "ca/internal.h"

mbedtls_md_type_t
ca_md_to_mbedtls(ca_md md)
{
    switch (md) {
    case CA_MD_SHA1:
        return MBEDTLS_MD_SHA1;
    case CA_MD_SHA256:
        return MBEDTLS_MD_SHA256;
    case CA_MD_SHA384:
        return MBEDTLS_MD_SHA384;
    case CA_MD_SHA512:
        return MBEDTLS_MD_SHA512;
    }
    return MBEDTLS_MD_NONE;
}

size_t
ca_md_size(ca_md md)
{
    switch (md) {
    case CA_MD_SHA1:
        return 20;
    case CA_MD_SHA256:
        return 32;
    case CA_MD_SHA384:
        return 48;
    case CA_MD_SHA512:
        return 64;
    }
    return 0;
}

ztca_rc
ca_hash(ca_md md, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_size)
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(ca_md_to_mbedtls(md));
    ZTCA_ENSURE(info != NULL, ZTCA_ERR_INTERNAL, "hash: unknown digest");
    ZTCA_ENSURE(out_size >= ca_md_size(md), ZTCA_ERR_INTERNAL, "hash: output buffer too small");
    ZTCA_GUARD_MBEDTLS(mbedtls_md(info, in, in_len, out), ZTCA_ERR_CRYPTO);
    return ZTCA_RC_OK;
}

/* ---- public keys -------------------------------------------------------------------------- */

static ztca_rc
ca_pk_parse_spki(mbedtls_pk_context *pk, const uint8_t *spki, size_t spki_len)
{
    der_cur c = der_cur_make(spki, spki_len);
    der_cur elem;
    /* mbedTLS accepts trailing bytes after the SPKI and non-DER lengths inside it: check the
     * outer element strictly first so "the key" is exactly one DER element. */
    ZTCA_ENSURE(spki_len > 0 && spki_len <= CA_CERT_MAX, ZTCA_ERR_BAD_INPUT, "public key: size");
    ZTCA_GUARD(der_get_element(&c, &elem, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&c));
    int r = mbedtls_pk_parse_public_key(pk, spki, spki_len);
    if (r == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG || r == MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE) {
        return ZTCA_NOTE(ZTCA_ERR_UNSUPPORTED,
                         "public key algorithm not supported (ECDSA P-256/P-384 or RSA only)", r);
    }
    if (r == MBEDTLS_ERR_PK_KEY_INVALID_FORMAT + MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE
        || r == MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE) {
        return ZTCA_NOTE(ZTCA_ERR_UNSUPPORTED,
                         "elliptic curve not supported (P-256 and P-384 only)", r);
    }
    ZTCA_ENSURE(r == 0, ZTCA_ERR_BAD_INPUT, "public key: malformed SubjectPublicKeyInfo");
    return ZTCA_RC_OK;
}

static ztca_rc
ca_pk_policy(ca_pubkey_info *out, const mbedtls_pk_context *pk)
{
    mbedtls_pk_type_t type = mbedtls_pk_get_type(pk);
    size_t bits = mbedtls_pk_get_bitlen(pk);
    if (type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA) {
        mbedtls_ecp_group_id gid = mbedtls_pk_ec(*pk)->grp.id;
        ZTCA_ENSURE(gid == MBEDTLS_ECP_DP_SECP256R1 || gid == MBEDTLS_ECP_DP_SECP384R1,
                    ZTCA_ERR_UNSUPPORTED, "elliptic curve not supported (P-256 and P-384 only)");
        out->kind = CA_PK_EC;
        out->bits = bits;
        out->name = gid == MBEDTLS_ECP_DP_SECP256R1 ? "P-256" : "P-384";
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(type == MBEDTLS_PK_RSA, ZTCA_ERR_UNSUPPORTED,
                "public key algorithm not supported (ECDSA P-256/P-384 or RSA only)");
    ZTCA_ENSURE(bits >= 2048, ZTCA_ERR_UNSUPPORTED,
                "RSA key too weak: at least 2048 bits are required");
    ZTCA_ENSURE(bits <= 4096, ZTCA_ERR_UNSUPPORTED, "RSA key too large: at most 4096 bits");
    {
        /* An even or tiny public exponent is a broken or malicious key. */
        mbedtls_mpi e;
        mbedtls_mpi_init(&e);
        int r = mbedtls_rsa_export(mbedtls_pk_rsa(*pk), NULL, NULL, NULL, NULL, &e);
        bool ok = r == 0 && mbedtls_mpi_get_bit(&e, 0) == 1 && mbedtls_mpi_cmp_int(&e, 3) >= 0;
        mbedtls_mpi_free(&e);
        ZTCA_ENSURE(ok, ZTCA_ERR_UNSUPPORTED, "RSA key with an invalid public exponent");
    }
    out->kind = CA_PK_RSA;
    out->bits = bits;
    out->name = "RSA";
    return ZTCA_RC_OK;
}

ztca_rc
ca_pubkey_check(ca_pubkey_info *out, const uint8_t *spki, size_t spki_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_pubkey_info info;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    ZTCA_CHECK(ca_pk_parse_spki(&pk, spki, spki_len));
    ZTCA_CHECK(ca_pk_policy(&info, &pk));
    *out = info;
out:
    mbedtls_pk_free(&pk);
    return rc;
}

ztca_rc
ca_verify(const uint8_t *spki, size_t spki_len, ca_sig_scheme scheme, ca_md md, const uint8_t *hash,
          size_t hash_len, const uint8_t *sig, size_t sig_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    mbedtls_md_type_t mdt = ca_md_to_mbedtls(md);
    int r;

    ZTCA_REQUIRE(hash_len == ca_md_size(md), ZTCA_ERR_INTERNAL, "verify: hash length");
    ZTCA_REQUIRE(sig_len > 0 && sig_len <= CA_SIG_MAX, ZTCA_ERR_CRYPTO, "verify: signature size");
    ZTCA_CHECK(ca_pk_parse_spki(&pk, spki, spki_len));
    mbedtls_pk_type_t type = mbedtls_pk_get_type(&pk);
    switch (scheme) {
    case CA_SIG_ECDSA:
        ZTCA_REQUIRE(type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA, ZTCA_ERR_CRYPTO,
                     "verify: ECDSA signature with a non-EC key");
        r = mbedtls_pk_verify(&pk, mdt, hash, hash_len, sig, sig_len);
        break;
    case CA_SIG_RSA_PKCS1:
        ZTCA_REQUIRE(type == MBEDTLS_PK_RSA, ZTCA_ERR_CRYPTO,
                     "verify: RSA signature with a non-RSA key");
        r = mbedtls_pk_verify(&pk, mdt, hash, hash_len, sig, sig_len);
        break;
    case CA_SIG_RSA_PSS: {
        ZTCA_REQUIRE(type == MBEDTLS_PK_RSA, ZTCA_ERR_CRYPTO,
                     "verify: RSA-PSS signature with a non-RSA key");
        mbedtls_pk_rsassa_pss_options opts = { mdt, MBEDTLS_RSA_SALT_LEN_ANY };
        r = mbedtls_pk_verify_ext(MBEDTLS_PK_RSASSA_PSS, &opts, &pk, mdt, hash, hash_len, sig,
                                  sig_len);
        break;
    }
    default:
        r = -1;
        break;
    }
    if (r != 0) {
        rc = ZTCA_NOTE(ZTCA_ERR_CRYPTO, "signature does not verify", r);
    }
out:
    mbedtls_pk_free(&pk);
    return rc;
}

/* ---- signer ------------------------------------------------------------------------------- */

struct ca_signer {
    pthread_mutex_t lock; /* ECDSA on a shared group lazily builds tables: not thread safe */
    mbedtls_pk_context pk;
    ca_rng *rng; /* borrowed */
    ca_md md;
    uint8_t *spki; /* owned */
    size_t spki_len;
    uint8_t sig_alg[16]; /* AlgorithmIdentifier DER */
    size_t sig_alg_len;
};

ztca_rc
ca_signer_new(ca_signer **out, ca_key *key, ca_rng *rng)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_signer *s = ztca_calloc(1, sizeof(*s));
    der_buf alg;
    der_buf_init(&alg, 64);
    uint8_t *alg_der = NULL;
    size_t alg_len = 0;
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "signer: out of memory");
    mbedtls_pk_init(&s->pk);
    bool locked_init = false;

    ZTCA_REQUIRE(pthread_mutex_init(&s->lock, NULL) == 0, ZTCA_ERR_INTERNAL, "signer: mutex");
    locked_init = true;
    /* A key as parsed is PK_ECKEY, whose sign path copies the key and rebuilds the comb table on
     * every call (2.7x slower, ../shared/notes/PEERS.md): keep it as PK_ECDSA. */
    ZTCA_CHECK_MBEDTLS(mbedtls_pk_setup(&s->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA)),
                       ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(s->pk), mbedtls_pk_ec(key->pk)),
                       ZTCA_ERR_CRYPTO);
    s->rng = rng;
    s->md = key->type == CA_KEY_P384 ? CA_MD_SHA384 : CA_MD_SHA256;
    ZTCA_CHECK(ca_key_spki(key, &s->spki, &s->spki_len));
    /* RFC 5758 3.2: ecdsa-with-SHA256/384 AlgorithmIdentifiers have absent parameters. */
    ZTCA_CHECK(der_begin(&alg, DER_SEQUENCE));
    if (s->md == CA_MD_SHA384) {
        ZTCA_CHECK(DER_ADD_OID(&alg, MBEDTLS_OID_ECDSA_SHA384));
    } else {
        ZTCA_CHECK(DER_ADD_OID(&alg, MBEDTLS_OID_ECDSA_SHA256));
    }
    ZTCA_CHECK(der_end(&alg));
    ZTCA_CHECK(der_buf_take(&alg, &alg_der, &alg_len));
    ZTCA_REQUIRE(alg_len <= sizeof(s->sig_alg), ZTCA_ERR_INTERNAL, "signer: algorithm id");
    memcpy(s->sig_alg, alg_der, alg_len);
    s->sig_alg_len = alg_len;
    ca_key_free(key); /* ownership taken: the ECDSA copy holds the secret now */
    *out = s;
    s = NULL;
out:
    ztca_free(alg_der);
    der_buf_free(&alg);
    if (s != NULL) {
        mbedtls_pk_free(&s->pk);
        ztca_free(s->spki);
        if (locked_init) {
            pthread_mutex_destroy(&s->lock);
        }
        free(s);
    }
    return rc;
}

void
ca_signer_free(ca_signer *s)
{
    if (s == NULL) {
        return;
    }
    mbedtls_pk_free(&s->pk);
    ztca_free(s->spki);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

ztca_rc
ca_signer_sign(ca_signer *s, ca_md md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
               size_t sig_size, size_t *sig_len)
{
    size_t n = 0;
    int r;
    ZTCA_ENSURE(hash_len == ca_md_size(md), ZTCA_ERR_INTERNAL, "sign: hash length");
    ZTCA_ENSURE(sig_size >= MBEDTLS_ECDSA_MAX_LEN, ZTCA_ERR_INTERNAL, "sign: buffer too small");
    pthread_mutex_lock(&s->lock);
#if MBEDTLS_VERSION_MAJOR >= 3
    r = mbedtls_pk_sign(&s->pk, ca_md_to_mbedtls(md), hash, hash_len, sig, sig_size, &n,
                        ca_rng_mbedtls, s->rng);
#else
    r = mbedtls_pk_sign(&s->pk, ca_md_to_mbedtls(md), hash, hash_len, sig, &n, ca_rng_mbedtls,
                        s->rng);
#endif
    pthread_mutex_unlock(&s->lock);
    if (r != 0) {
        return ZTCA_NOTE(ZTCA_ERR_CRYPTO, "sign: ECDSA signing failed", r);
    }
    *sig_len = n;
    return ZTCA_RC_OK;
}

ca_md
ca_signer_md(const ca_signer *s)
{
    return s->md;
}

const uint8_t *
ca_signer_spki(const ca_signer *s, size_t *out_len)
{
    *out_len = s->spki_len;
    return s->spki;
}

const uint8_t *
ca_signer_sig_alg(const ca_signer *s, size_t *out_len)
{
    *out_len = s->sig_alg_len;
    return s->sig_alg;
}
