/* ca_signer.c: hashes, the verifier and the signer interface, and the choice of the backend that
 * does their public-key operations: mbedTLS here, OpenSSL libcrypto in ca_signer_openssl.c.
 * Nothing else in the tree calls a library's pk sign or verify. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/version.h>

#include "ca/internal.h"

/* Largest SEC1 ECPrivateKey mbedTLS writes for a P-384 key is 167 octets. */
#define CA_SEC1_MAX 256

/* ---- backend choice ----------------------------------------------------------------------- */

ztca_rc
ca_crypto_backend_parse(ca_crypto_backend *out, const char *s)
{
    ca_crypto_backend b;
    if (strcmp(s, "mbedtls") == 0) {
        b = CA_CRYPTO_MBEDTLS;
    } else if (strcmp(s, "openssl") == 0) {
        b = CA_CRYPTO_OPENSSL;
    } else {
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "crypto backend must be \"mbedtls\" or \"openssl\"");
    }
    ZTCA_ENSURE(ca_crypto_backend_is_available(b), ZTCA_ERR_UNSUPPORTED,
                "crypto backend \"openssl\": this ztca was built without OpenSSL (ZTCA_OPENSSL)");
    *out = b;
    return ZTCA_RC_OK;
}

const char *
ca_crypto_backend_name(ca_crypto_backend b)
{
    return b == CA_CRYPTO_OPENSSL ? "openssl" : "mbedtls";
}

bool
ca_crypto_backend_is_available(ca_crypto_backend b)
{
#ifdef ZTCA_HAVE_OPENSSL
    return b == CA_CRYPTO_MBEDTLS || b == CA_CRYPTO_OPENSSL;
#else
    return b == CA_CRYPTO_MBEDTLS;
#endif
}

ca_crypto_backend
ca_crypto_backend_default(void)
{
#ifdef ZTCA_HAVE_OPENSSL
    return CA_CRYPTO_OPENSSL;
#else
    return CA_CRYPTO_MBEDTLS;
#endif
}

/* The process-wide choice, -1 until made. The one mutable global of ca/: ca_verify is a free
 * function that attest/ and enroll/ call with bytes only, so the configured backend cannot reach
 * it as a parameter. Written at start (and by a configuration reload), read by request threads:
 * an atomic, never a lock on the hot path. */
static atomic_int ca_crypto_selected = -1;

/* ZTCA_CRYPTO_BACKEND: *out_set false when unset or empty; BAD_INPUT or UNSUPPORTED as
 * ca_crypto_backend_parse when set to something else. */
static ztca_rc
ca_crypto_backend_env(ca_crypto_backend *out, bool *out_set)
{
    const char *v = getenv(CA_CRYPTO_ENV);
    *out_set = false;
    if (v == NULL || v[0] == '\0') {
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(ca_crypto_backend_parse(out, v));
    *out_set = true;
    return ZTCA_RC_OK;
}

ztca_rc
ca_crypto_backend_select(ca_crypto_backend b)
{
    ca_crypto_backend env = CA_CRYPTO_MBEDTLS;
    bool env_set = false;
    ZTCA_GUARD(ca_crypto_backend_env(&env, &env_set));
    if (env_set) {
        b = env;
    }
    ZTCA_ENSURE(ca_crypto_backend_is_available(b), ZTCA_ERR_UNSUPPORTED,
                "crypto backend \"openssl\": this ztca was built without OpenSSL (ZTCA_OPENSSL)");
    atomic_store(&ca_crypto_selected, (int)b);
    return ZTCA_RC_OK;
}

ca_crypto_backend
ca_crypto_backend_get(void)
{
    int v = atomic_load_explicit(&ca_crypto_selected, memory_order_relaxed);
    if (v >= 0) {
        return (ca_crypto_backend)v;
    }
    /* Nothing selected (tests, tools without a ztca.conf): the environment, else the default. An
     * invalid ZTCA_CRYPTO_BACKEND falls back to the default here; ca_crypto_backend_select, run
     * by every command that loads ztca.conf, refuses it. */
    ca_crypto_backend b = ca_crypto_backend_default();
    const char *name = getenv(CA_CRYPTO_ENV);
    if (name != NULL && strcmp(name, "mbedtls") == 0) {
        b = CA_CRYPTO_MBEDTLS;
    } else if (name != NULL && strcmp(name, "openssl") == 0
               && ca_crypto_backend_is_available(CA_CRYPTO_OPENSSL)) {
        b = CA_CRYPTO_OPENSSL;
    }
    /* Settle on one answer; a selection racing with this first use wins. */
    int expected = -1;
    if (!atomic_compare_exchange_strong(&ca_crypto_selected, &expected, (int)b)) {
        b = (ca_crypto_backend)expected;
    }
    return b;
}

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

/* Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }                   (RFC 3279 2.2.3)
 * mbedTLS alone accepts BER lengths and padded or negative integers, OpenSSL does not: checking
 * here makes a signature's fate independent of the backend, and leaves no second encoding of a
 * valid signature that verifies too (malleability). */
static bool
ca_ecdsa_int_is_valid(const der_cur *v)
{
    if (v->len == 0 || (v->p[0] & 0x80) != 0) {
        return false; /* empty or negative */
    }
    if (v->len > 1 && v->p[0] == 0 && (v->p[1] & 0x80) == 0) {
        return false; /* not minimal */
    }
    return !(v->len == 1 && v->p[0] == 0); /* r and s are in [1, n-1] */
}

ztca_rc
ca_ecdsa_sig_check(const uint8_t *sig, size_t sig_len)
{
    der_cur c = der_cur_make(sig, sig_len);
    der_cur seq, r, s;
    bool ok = ZTCA_IS_OK(der_get(&c, &seq, DER_SEQUENCE)) && ZTCA_IS_OK(der_expect_end(&c))
              && ZTCA_IS_OK(der_get(&seq, &r, DER_INTEGER))
              && ZTCA_IS_OK(der_get(&seq, &s, DER_INTEGER)) && ZTCA_IS_OK(der_expect_end(&seq))
              && ca_ecdsa_int_is_valid(&r) && ca_ecdsa_int_is_valid(&s);
    ZTCA_ENSURE(ok, ZTCA_ERR_CRYPTO, "verify: ECDSA signature is not a DER Ecdsa-Sig-Value");
    return ZTCA_RC_OK;
}

static ztca_rc
ca_mbedtls_verify(const uint8_t *spki, size_t spki_len, ca_sig_scheme scheme, ca_md md,
                  const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    mbedtls_md_type_t mdt = ca_md_to_mbedtls(md);
    int r;

    ZTCA_CHECK(ca_pk_parse_spki(&pk, spki, spki_len));
    mbedtls_pk_type_t type = mbedtls_pk_get_type(&pk);
    switch (scheme) {
    case CA_SIG_ECDSA:
        ZTCA_REQUIRE(type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA, ZTCA_ERR_CRYPTO,
                     "verify: ECDSA signature with a non-EC key");
        ZTCA_CHECK(ca_ecdsa_sig_check(sig, sig_len));
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

ztca_rc
ca_verify_with(ca_crypto_backend backend, const uint8_t *spki, size_t spki_len,
               ca_sig_scheme scheme, ca_md md, const uint8_t *hash, size_t hash_len,
               const uint8_t *sig, size_t sig_len)
{
    ZTCA_ENSURE(hash_len == ca_md_size(md) && hash_len > 0, ZTCA_ERR_INTERNAL,
                "verify: hash length");
    ZTCA_ENSURE(sig_len > 0 && sig_len <= CA_SIG_MAX, ZTCA_ERR_CRYPTO, "verify: signature size");
    switch (backend) {
    case CA_CRYPTO_MBEDTLS:
        return ca_mbedtls_verify(spki, spki_len, scheme, md, hash, hash_len, sig, sig_len);
    case CA_CRYPTO_OPENSSL:
#ifdef ZTCA_HAVE_OPENSSL
        return ca_openssl_verify(spki, spki_len, scheme, md, hash, hash_len, sig, sig_len);
#else
        break;
#endif
    }
    ZTCA_BAIL(ZTCA_ERR_UNSUPPORTED, "verify: crypto backend not built in");
}

ztca_rc
ca_verify(const uint8_t *spki, size_t spki_len, ca_sig_scheme scheme, ca_md md, const uint8_t *hash,
          size_t hash_len, const uint8_t *sig, size_t sig_len)
{
    return ca_verify_with(ca_crypto_backend_get(), spki, spki_len, scheme, md, hash, hash_len, sig,
                          sig_len);
}

/* ---- signer ------------------------------------------------------------------------------- */

struct ca_signer {
    ca_crypto_backend backend;
    /* mbedTLS: ECDSA on a shared group lazily builds tables, so calls are serialised. The OpenSSL
     * backend takes no lock of ours: a fresh EVP_PKEY_CTX per call on a shared EVP_PKEY. */
    pthread_mutex_t lock;
    mbedtls_pk_context pk; /* owned, PK_ECDSA; mbedTLS backend only */
#ifdef ZTCA_HAVE_OPENSSL
    ca_openssl_key *ossl; /* owned; OpenSSL backend only */
#endif
    ca_rng *rng; /* borrowed */
    ca_md md;
    uint8_t *spki; /* owned */
    size_t spki_len;
    uint8_t sig_alg[16]; /* AlgorithmIdentifier DER */
    size_t sig_alg_len;
    ca_signer_remote_fn remote; /* non-NULL: a remote signer, no key in this process */
    void *remote_ctx;           /* borrowed */
};

/* Hands the private key to the backend; on success the signer holds the only copy that counts
 * (the caller then frees `key`, which wipes its own). */
static ztca_rc
ca_signer_take_key(ca_signer *s, ca_key *key)
{
    if (s->backend == CA_CRYPTO_MBEDTLS) {
        /* A key as parsed is PK_ECKEY, whose sign path copies the key and rebuilds the comb table
         * on every call (2.7x slower, ../shared/notes/PEERS.md): keep it as PK_ECDSA. */
        ZTCA_GUARD_MBEDTLS(mbedtls_pk_setup(&s->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA)),
                           ZTCA_ERR_CRYPTO);
        ZTCA_GUARD_MBEDTLS(mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(s->pk), mbedtls_pk_ec(key->pk)),
                           ZTCA_ERR_CRYPTO);
        return ZTCA_RC_OK;
    }
#ifdef ZTCA_HAVE_OPENSSL
    /* SEC1 DER (RFC 5915) through public mbedTLS and OpenSSL functions only, so the hand-over
     * works on mbedTLS 3.6 too; the copy is wiped at once. */
    uint8_t der[CA_SEC1_MAX];
    int n = mbedtls_pk_write_key_der(&key->pk, der, sizeof(der));
    ztca_rc rc = n > 0 ? ca_openssl_key_new(&s->ossl, der + sizeof(der) - (size_t)n, (size_t)n,
                                            s->spki, s->spki_len)
                       : ZTCA_NOTE(ZTCA_ERR_CRYPTO, "signer: encoding the private key failed", n);
    mbedtls_platform_zeroize(der, sizeof(der));
    return rc;
#else
    ZTCA_BAIL(ZTCA_ERR_UNSUPPORTED, "signer: crypto backend not built in");
#endif
}

/* RFC 5758 3.2: ecdsa-with-SHA256/384 AlgorithmIdentifiers have absent parameters. */
static ztca_rc
ca_signer_set_alg(ca_signer *s)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf alg;
    der_buf_init(&alg, 64);
    uint8_t *alg_der = NULL;
    size_t alg_len = 0;
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
out:
    ztca_free(alg_der);
    der_buf_free(&alg);
    return rc;
}

ztca_rc
ca_signer_new_with(ca_signer **out, ca_key *key, ca_rng *rng, ca_crypto_backend backend)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_signer *s = ztca_calloc(1, sizeof(*s));
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "signer: out of memory");
    mbedtls_pk_init(&s->pk);
    bool locked_init = false;

    ZTCA_REQUIRE(ca_crypto_backend_is_available(backend), ZTCA_ERR_UNSUPPORTED,
                 "signer: crypto backend not built in");
    s->backend = backend;
    ZTCA_REQUIRE(pthread_mutex_init(&s->lock, NULL) == 0, ZTCA_ERR_INTERNAL, "signer: mutex");
    locked_init = true;
    s->rng = rng;
    s->md = key->type == CA_KEY_P384 ? CA_MD_SHA384 : CA_MD_SHA256;
    ZTCA_CHECK(ca_key_spki(key, &s->spki, &s->spki_len));
    ZTCA_CHECK(ca_signer_take_key(s, key));
    ZTCA_CHECK(ca_signer_set_alg(s));
    ca_key_free(key); /* ownership taken: the backend's copy holds the secret now */
    *out = s;
    s = NULL;
out:
    if (s != NULL) {
        mbedtls_pk_free(&s->pk);
#ifdef ZTCA_HAVE_OPENSSL
        ca_openssl_key_free(s->ossl);
#endif
        ztca_free(s->spki);
        if (locked_init) {
            pthread_mutex_destroy(&s->lock);
        }
        free(s);
    }
    return rc;
}

ztca_rc
ca_signer_new_remote(ca_signer **out, const uint8_t *spki, size_t spki_len, ca_signer_remote_fn fn,
                     void *ctx)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_pubkey_info info;
    ZTCA_GUARD(ca_pubkey_check(&info, spki, spki_len));
    ZTCA_ENSURE(info.kind == CA_PK_EC, ZTCA_ERR_UNSUPPORTED,
                "remote signer: only ECDSA P-256 and P-384 keys");
    ca_signer *s = ztca_calloc(1, sizeof(*s));
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "signer: out of memory");
    mbedtls_pk_init(&s->pk);
    /* The lock is unused (the transport serialises what it must) but ca_signer_free expects it. */
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        ZTCA_BAIL(ZTCA_ERR_INTERNAL, "signer: mutex");
    }
    s->backend = ca_crypto_backend_get();
    s->remote = fn;
    s->remote_ctx = ctx;
    s->md = info.bits > 256 ? CA_MD_SHA384 : CA_MD_SHA256;
    s->spki = ztca_malloc(spki_len);
    ZTCA_REQUIRE(s->spki != NULL, ZTCA_ERR_NOMEM, "signer: out of memory");
    memcpy(s->spki, spki, spki_len);
    s->spki_len = spki_len;
    ZTCA_CHECK(ca_signer_set_alg(s));
    *out = s;
    s = NULL;
out:
    ca_signer_free(s);
    return rc;
}

bool
ca_signer_is_remote(const ca_signer *s)
{
    return s->remote != NULL;
}

ztca_rc
ca_signer_new(ca_signer **out, ca_key *key, ca_rng *rng)
{
    return ca_signer_new_with(out, key, rng, ca_crypto_backend_get());
}

ca_crypto_backend
ca_signer_backend(const ca_signer *s)
{
    return s->backend;
}

void
ca_signer_free(ca_signer *s)
{
    if (s == NULL) {
        return;
    }
    mbedtls_pk_free(&s->pk);
#ifdef ZTCA_HAVE_OPENSSL
    ca_openssl_key_free(s->ossl);
#endif
    ztca_free(s->spki);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static ztca_rc
ca_mbedtls_sign(ca_signer *s, ca_md md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
                size_t sig_size, size_t *sig_len)
{
    size_t n = 0;
    int r;
    pthread_mutex_lock(&s->lock);
#if MBEDTLS_VERSION_MAJOR >= 3
    r = mbedtls_pk_sign(&s->pk, ca_md_to_mbedtls(md), hash, hash_len, sig, sig_size, &n,
                        ca_rng_mbedtls, s->rng);
#else
    (void)sig_size; /* checked by the caller: 2.28 assumes MBEDTLS_ECDSA_MAX_LEN */
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

ztca_rc
ca_signer_sign(ca_signer *s, ca_md md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
               size_t sig_size, size_t *sig_len)
{
    ZTCA_ENSURE(hash_len == ca_md_size(md) && hash_len > 0, ZTCA_ERR_INTERNAL, "sign: hash length");
    ZTCA_ENSURE(sig_size >= MBEDTLS_ECDSA_MAX_LEN, ZTCA_ERR_INTERNAL, "sign: buffer too small");
    if (s->remote != NULL) {
        size_t n = 0;
        ZTCA_GUARD(s->remote(s->remote_ctx, md, hash, hash_len, sig, sig_size, &n));
        ZTCA_ENSURE(n <= sig_size, ZTCA_ERR_INTERNAL, "sign: remote signature overflows");
        ZTCA_ENSURE(ZTCA_IS_OK(ca_ecdsa_sig_check(sig, n)), ZTCA_ERR_CRYPTO,
                    "sign: the remote signer's answer is not an ECDSA signature");
        *sig_len = n;
        return ZTCA_RC_OK;
    }
#ifdef ZTCA_HAVE_OPENSSL
    if (s->backend == CA_CRYPTO_OPENSSL) {
        return ca_openssl_sign(s->ossl, hash, hash_len, sig, sig_size, sig_len);
    }
#endif
    return ca_mbedtls_sign(s, md, hash, hash_len, sig, sig_size, sig_len);
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
