/* ca_signer_openssl.c: the OpenSSL libcrypto (3.0 EVP) backend of the signer and the verifier.
 * Only public-key operations live here: mbedTLS still parses and writes every X.509 structure,
 * and ca_signer.c does the checks both backends share.
 *
 * Speed (docs/performance.md "Signing backends"): OpenSSL 3.0's generic SPKI decoder (d2i_PUBKEY)
 * costs ~300 us, several verifications' worth, so the SubjectPublicKeyInfo is walked with our own
 * DER reader and the key built from a per-curve parameter template (~12 us). Signing borrows a
 * sign-initialised EVP_PKEY_CTX from a small lock-free pool in the key (a fresh one per call costs
 * 10%: ~2 of ~22 us); the EVP_PKEY itself is shared read-only, so there is no lock of ours.
 *
 * Randomness: OpenSSL's ECDSA draws its nonce k from its own DRBG (the private per-thread CTR_DRBG,
 * seeded from getrandom and reseeded after fork), hashed together with the private key and the
 * digest (BN_generate_dsa_nonce), so a failing DRBG still yields distinct nonces per message and
 * key. The signer's ca_rng is not used. RFC 6979 deterministic nonces arrive in OpenSSL 3.2
 * (OSSL_SIGNATURE_PARAM_NONCE_TYPE); 3.0 has none, unlike the mbedTLS backend, which signs
 * deterministically (MBEDTLS_ECDSA_DETERMINISTIC). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ca/internal.h"

/* Contexts kept per key: enough for the request threads of a 2-16 core machine; a call that
 * finds the pool empty makes its own and returns it, or frees it when the pool is full. */
#define CA_OPENSSL_POOL 16

struct ca_openssl_key {
    EVP_PKEY *pkey; /* owned; read-only after creation, shared by signing threads */
    /* owned, sign-initialised; a slot is NULL while lent: atomic_exchange takes one, a
     * compare-exchange from NULL puts it back, so each context has one user at a time */
    _Atomic(EVP_PKEY_CTX *) pool[CA_OPENSSL_POOL];
};

/* ---- the curves mbedTLS verifies (Debian's 2.28 build), so both backends accept the same keys */

typedef struct ca_openssl_curve {
    const char *oid; /* namedCurve contents octets */
    size_t oid_len;
    const char *name;   /* OpenSSL group name */
    size_t field_bytes; /* coordinate size: an uncompressed point is 1 + 2 * field_bytes */
} ca_openssl_curve;

#define CA_CURVE(oid, name, bytes)        \
    {                                     \
        oid, sizeof(oid) - 1, name, bytes \
    }
static const ca_openssl_curve ca_openssl_curves[] = {
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP256R1, "P-256", 32),
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP384R1, "P-384", 48),
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP521R1, "P-521", 66),
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP192R1, "P-192", 24),
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP224R1, "P-224", 28),
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP192K1, "secp192k1", 24),
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP224K1, "secp224k1", 28),
    CA_CURVE(MBEDTLS_OID_EC_GRP_SECP256K1, "secp256k1", 32),
    CA_CURVE(MBEDTLS_OID_EC_GRP_BP256R1, "brainpoolP256r1", 32),
    CA_CURVE(MBEDTLS_OID_EC_GRP_BP384R1, "brainpoolP384r1", 48),
    CA_CURVE(MBEDTLS_OID_EC_GRP_BP512R1, "brainpoolP512r1", 64),
};
#define CA_NUM_CURVES (sizeof(ca_openssl_curves) / sizeof(ca_openssl_curves[0]))

/* Parameter-only keys, one per curve, built once: EVP_PKEY_dup of one and the point set into the
 * copy is three times cheaper than EVP_PKEY_fromdata, which rebuilds the group by name. Immutable
 * once built (threads only duplicate them); NULL for a group this libcrypto lacks. Kept for the
 * life of the process, like OpenSSL's own method stores. */
static EVP_PKEY *ca_openssl_templates[CA_NUM_CURVES];
static pthread_once_t ca_openssl_templates_once = PTHREAD_ONCE_INIT;

static void
ca_openssl_templates_build(void)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    for (size_t i = 0; ctx != NULL && i < CA_NUM_CURVES; i++) {
        char name[32]; /* OSSL_PARAM wants a mutable string */
        snprintf(name, sizeof(name), "%s", ca_openssl_curves[i].name);
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, name, 0);
        params[1] = OSSL_PARAM_construct_end();
        EVP_PKEY *p = NULL;
        if (EVP_PKEY_fromdata_init(ctx) == 1
            && EVP_PKEY_fromdata(ctx, &p, EVP_PKEY_KEY_PARAMETERS, params) == 1) {
            ca_openssl_templates[i] = p;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
}

/* OpenSSL keeps a per-thread error queue: empty it so a later, unrelated OpenSSL user in the
 * same thread sees none of ours, and keep the newest code for the log. */
static long
ca_openssl_err(void)
{
    unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    return (long)e;
}

static const EVP_MD *
ca_openssl_md(ca_md md)
{
    switch (md) {
    case CA_MD_SHA1:
        return EVP_sha1();
    case CA_MD_SHA256:
        return EVP_sha256();
    case CA_MD_SHA384:
        return EVP_sha384();
    case CA_MD_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

/* ---- public keys --------------------------------------------------------------------------- */

typedef struct ca_openssl_pub {
    ca_pk_kind kind;
    const ca_openssl_curve *curve; /* EC */
    size_t curve_index;
    der_cur point; /* EC: the uncompressed point */
    der_cur n, e;  /* RSA: INTEGER contents */
} ca_openssl_pub;

/* An RSA INTEGER as mbedTLS reads it (an unsigned magnitude), so both backends agree on keys. */
static der_cur
ca_openssl_magnitude(der_cur v)
{
    while (v.len > 0 && v.p[0] == 0) {
        v.p++;
        v.len--;
    }
    return v;
}

static size_t
ca_openssl_bits(der_cur v)
{
    if (v.len == 0) {
        return 0;
    }
    size_t bits = 8 * (v.len - 1);
    for (uint8_t top = v.p[0]; top != 0; top >>= 1) {
        bits++;
    }
    return bits;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }    (RFC 8017 A.1.1)
 * with mbedtls_rsa_check_pubkey's rules: n odd of 128 to 8192 bits, e odd, 3 <= e < n. */
static ztca_rc
ca_openssl_rsa_parse(ca_openssl_pub *out, der_cur key)
{
    der_cur seq;
    ZTCA_GUARD(der_get(&key, &seq, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&key));
    ZTCA_GUARD(der_get(&seq, &out->n, DER_INTEGER));
    ZTCA_GUARD(der_get(&seq, &out->e, DER_INTEGER));
    ZTCA_GUARD(der_expect_end(&seq));
    out->n = ca_openssl_magnitude(out->n);
    out->e = ca_openssl_magnitude(out->e);
    size_t n_bits = ca_openssl_bits(out->n);
    size_t e_bits = ca_openssl_bits(out->e);
    ZTCA_ENSURE(n_bits >= 128 && n_bits <= 8192 && (out->n.p[out->n.len - 1] & 1) != 0,
                ZTCA_ERR_BAD_INPUT, "public key: invalid RSA modulus");
    ZTCA_ENSURE(e_bits >= 2 && (out->e.p[out->e.len - 1] & 1) != 0 && e_bits <= n_bits,
                ZTCA_ERR_BAD_INPUT, "public key: invalid RSA public exponent");
    if (e_bits == n_bits) { /* same length: compare as big-endian numbers */
        ZTCA_ENSURE(out->e.len == out->n.len && memcmp(out->e.p, out->n.p, out->n.len) < 0,
                    ZTCA_ERR_BAD_INPUT, "public key: invalid RSA public exponent");
    }
    out->kind = CA_PK_RSA;
    return ZTCA_RC_OK;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
 *                                     subjectPublicKey BIT STRING }         (RFC 5280 4.1)
 * id-ecPublicKey with a namedCurve and an uncompressed point (RFC 5480 2.1.1, 2.2), or
 * rsaEncryption with NULL parameters (RFC 3279 2.3.1). mbedTLS 2.28 refuses compressed points, so
 * this does too. */
static ztca_rc
ca_openssl_spki_parse(ca_openssl_pub *out, const uint8_t *spki, size_t spki_len)
{
    der_cur c = der_cur_make(spki, spki_len);
    der_cur seq, alg, oid, params, key;
    uint8_t unused = 0;
    ZTCA_ENSURE(spki_len > 0 && spki_len <= CA_CERT_MAX, ZTCA_ERR_BAD_INPUT, "public key: size");
    ZTCA_GUARD(der_get(&c, &seq, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&c));
    ZTCA_GUARD(der_get(&seq, &alg, DER_SEQUENCE));
    ZTCA_GUARD(der_get_bitstring(&seq, &key, &unused));
    ZTCA_GUARD(der_expect_end(&seq));
    ZTCA_ENSURE(unused == 0, ZTCA_ERR_BAD_INPUT, "public key: subjectPublicKey has unused bits");
    ZTCA_GUARD(der_get_oid(&alg, &oid));
    memset(out, 0, sizeof(*out));
    if (DER_OID_IS(&oid, MBEDTLS_OID_PKCS1_RSA)) {
        if (alg.len > 0) {
            ZTCA_GUARD(der_get_null(&alg));
        }
        ZTCA_GUARD(der_expect_end(&alg));
        return ca_openssl_rsa_parse(out, key);
    }
    ZTCA_ENSURE(DER_OID_IS(&oid, MBEDTLS_OID_EC_ALG_UNRESTRICTED), ZTCA_ERR_UNSUPPORTED,
                "public key algorithm not supported (ECDSA P-256/P-384 or RSA only)");
    ZTCA_GUARD(der_get_oid(&alg, &params));
    ZTCA_GUARD(der_expect_end(&alg));
    for (size_t i = 0; i < CA_NUM_CURVES; i++) {
        const ca_openssl_curve *cv = &ca_openssl_curves[i];
        if (params.len == cv->oid_len && memcmp(params.p, cv->oid, cv->oid_len) == 0) {
            ZTCA_ENSURE(key.len > 0 && key.p[0] == 0x04, ZTCA_ERR_UNSUPPORTED,
                        "public key: only uncompressed EC points are supported");
            ZTCA_ENSURE(key.len == 1 + 2 * cv->field_bytes, ZTCA_ERR_BAD_INPUT,
                        "public key: EC point of the wrong length");
            out->kind = CA_PK_EC;
            out->curve = cv;
            out->curve_index = i;
            out->point = key;
            return ZTCA_RC_OK;
        }
    }
    ZTCA_BAIL(ZTCA_ERR_UNSUPPORTED, "elliptic curve not supported (P-256 and P-384 only)");
}

static ztca_rc
ca_openssl_ec_pkey(EVP_PKEY **out, const ca_openssl_pub *pub)
{
    pthread_once(&ca_openssl_templates_once, ca_openssl_templates_build);
    EVP_PKEY *tmpl = ca_openssl_templates[pub->curve_index];
    ZTCA_ENSURE(tmpl != NULL, ZTCA_ERR_UNSUPPORTED,
                "elliptic curve not supported by this OpenSSL build");
    EVP_PKEY *p = EVP_PKEY_dup(tmpl);
    ZTCA_ENSURE(p != NULL, ZTCA_ERR_NOMEM, "public key: out of memory");
    /* EC_POINT_oct2point underneath refuses a point that is not on the curve. */
    if (EVP_PKEY_set1_encoded_public_key(p, pub->point.p, pub->point.len) != 1) {
        EVP_PKEY_free(p);
        return ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "public key: EC point not on the curve",
                         ca_openssl_err());
    }
    *out = p;
    return ZTCA_RC_OK;
}

static ztca_rc
ca_openssl_rsa_pkey(EVP_PKEY **out, const ca_openssl_pub *pub)
{
    ztca_rc rc = ZTCA_RC_OK;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *n = BN_bin2bn(pub->n.p, (int)pub->n.len, NULL);
    BIGNUM *e = BN_bin2bn(pub->e.p, (int)pub->e.len, NULL);
    EVP_PKEY *p = NULL;
    ZTCA_REQUIRE(bld != NULL && ctx != NULL && n != NULL && e != NULL, ZTCA_ERR_NOMEM,
                 "public key: out of memory");
    ZTCA_REQUIRE(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1
                     && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1
                     && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL,
                 ZTCA_ERR_NOMEM, "public key: out of memory");
    ZTCA_REQUIRE(EVP_PKEY_fromdata_init(ctx) == 1
                     && EVP_PKEY_fromdata(ctx, &p, EVP_PKEY_PUBLIC_KEY, params) == 1,
                 ZTCA_ERR_BAD_INPUT, "public key: OpenSSL refuses the RSA key");
    *out = p;
out:
    if (!ZTCA_IS_OK(rc)) {
        ca_openssl_err();
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return rc;
}

ztca_rc
ca_openssl_verify(const uint8_t *spki, size_t spki_len, ca_sig_scheme scheme, ca_md md,
                  const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_openssl_pub pub;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    const EVP_MD *emd = ca_openssl_md(md);

    ZTCA_CHECK(ca_openssl_spki_parse(&pub, spki, spki_len));
    if (scheme == CA_SIG_ECDSA) {
        ZTCA_REQUIRE(pub.kind == CA_PK_EC, ZTCA_ERR_CRYPTO,
                     "verify: ECDSA signature with a non-EC key");
        ZTCA_CHECK(ca_openssl_ec_pkey(&pkey, &pub));
        ZTCA_CHECK(ca_ecdsa_sig_check(sig, sig_len));
    } else {
        ZTCA_REQUIRE(pub.kind == CA_PK_RSA, ZTCA_ERR_CRYPTO,
                     "verify: RSA signature with a non-RSA key");
        ZTCA_REQUIRE(scheme == CA_SIG_RSA_PKCS1 || scheme == CA_SIG_RSA_PSS, ZTCA_ERR_CRYPTO,
                     "signature does not verify");
        ZTCA_CHECK(ca_openssl_rsa_pkey(&pkey, &pub));
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    ZTCA_REQUIRE(ctx != NULL, ZTCA_ERR_NOMEM, "verify: out of memory");
    ZTCA_REQUIRE(EVP_PKEY_verify_init(ctx) == 1, ZTCA_ERR_CRYPTO, "verify: EVP_PKEY_verify_init");
    if (scheme != CA_SIG_ECDSA) {
        /* ECDSA signs the hash as given (truncated to the order, like mbedTLS); RSA needs the
         * hash named: PKCS#1 v1.5 for its DigestInfo, PSS for MGF1 with the same hash and any
         * salt length (as MBEDTLS_RSA_SALT_LEN_ANY). */
        bool pss = scheme == CA_SIG_RSA_PSS;
        ZTCA_REQUIRE(emd != NULL, ZTCA_ERR_INTERNAL, "verify: unknown digest");
        ZTCA_REQUIRE(
            EVP_PKEY_CTX_set_rsa_padding(ctx, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) == 1
                && EVP_PKEY_CTX_set_signature_md(ctx, emd) == 1
                && (!pss
                    || (EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, emd) == 1
                        && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO) == 1)),
            ZTCA_ERR_CRYPTO, "verify: RSA parameters");
    }
    if (EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) != 1) {
        rc = ZTCA_NOTE(ZTCA_ERR_CRYPTO, "signature does not verify", ca_openssl_err());
    }
out:
    if (!ZTCA_IS_OK(rc)) {
        ERR_clear_error();
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

/* ---- signing keys -------------------------------------------------------------------------- */

ztca_rc
ca_openssl_key_new(ca_openssl_key **out, const uint8_t *sec1, size_t sec1_len, const uint8_t *spki,
                   size_t spki_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_openssl_key *k = ztca_calloc(1, sizeof(*k));
    uint8_t *pub = NULL;
    const unsigned char *p = sec1;
    ZTCA_ENSURE(k != NULL, ZTCA_ERR_NOMEM, "signer: out of memory");
    ZTCA_REQUIRE(sec1_len <= CA_KEY_MAX, ZTCA_ERR_INTERNAL, "signer: key size");
    /* RFC 5915 ECPrivateKey, named curve and public key included (what mbedTLS writes). */
    k->pkey = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, (long)sec1_len);
    ZTCA_REQUIRE(k->pkey != NULL && p == sec1 + sec1_len, ZTCA_ERR_CRYPTO,
                 "signer: OpenSSL refuses the private key");
    /* Sign with exactly the key the certificates name: compare the SPKI OpenSSL derives with the
     * signer's (both uncompressed, named curve). */
    int n = i2d_PUBKEY(k->pkey, &pub);
    ZTCA_REQUIRE(n > 0 && (size_t)n == spki_len && memcmp(pub, spki, spki_len) == 0,
                 ZTCA_ERR_CRYPTO, "signer: OpenSSL's public key differs from the signer's");
    *out = k;
    k = NULL;
out:
    if (!ZTCA_IS_OK(rc)) {
        ca_openssl_err();
    }
    OPENSSL_free(pub);
    ca_openssl_key_free(k);
    return rc;
}

void
ca_openssl_key_free(ca_openssl_key *key)
{
    if (key == NULL) {
        return;
    }
    for (size_t i = 0; i < CA_OPENSSL_POOL; i++) {
        EVP_PKEY_CTX_free(atomic_exchange(&key->pool[i], NULL));
    }
    EVP_PKEY_free(key->pkey); /* BN_clear_free of the scalar */
    free(key);
}

/* A sign-initialised context for this call only (EVP_PKEY_CTX is not thread safe). */
static EVP_PKEY_CTX *
ca_openssl_ctx_take(ca_openssl_key *key)
{
    for (size_t i = 0; i < CA_OPENSSL_POOL; i++) {
        EVP_PKEY_CTX *ctx = atomic_exchange(&key->pool[i], NULL);
        if (ctx != NULL) {
            return ctx;
        }
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (ctx != NULL && EVP_PKEY_sign_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

static void
ca_openssl_ctx_give(ca_openssl_key *key, EVP_PKEY_CTX *ctx)
{
    for (size_t i = 0; i < CA_OPENSSL_POOL; i++) {
        EVP_PKEY_CTX *expected = NULL;
        if (atomic_compare_exchange_strong(&key->pool[i], &expected, ctx)) {
            return;
        }
    }
    EVP_PKEY_CTX_free(ctx);
}

ztca_rc
ca_openssl_sign(ca_openssl_key *key, const uint8_t *hash, size_t hash_len, uint8_t *sig,
                size_t sig_size, size_t *sig_len)
{
    size_t n = sig_size;
    EVP_PKEY_CTX *ctx = ca_openssl_ctx_take(key);
    if (ctx == NULL) {
        return ZTCA_NOTE(ZTCA_ERR_CRYPTO, "sign: no EVP_PKEY_CTX", ca_openssl_err());
    }
    if (EVP_PKEY_sign(ctx, sig, &n, hash, hash_len) != 1) {
        EVP_PKEY_CTX_free(ctx); /* not reused after a failure */
        return ZTCA_NOTE(ZTCA_ERR_CRYPTO, "sign: ECDSA signing failed", ca_openssl_err());
    }
    ca_openssl_ctx_give(key, ctx);
    *sig_len = n;
    return ZTCA_RC_OK;
}
