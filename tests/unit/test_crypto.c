/* test_crypto.c: the CUnit suite of the crypto backends behind ca_signer and ca_verify (mbedTLS,
 * and OpenSSL libcrypto when built in): the choice by config and environment, signatures crossed
 * between backends in both directions, openssl- and mbedTLS-made RSA and ECDSA vectors, the same
 * negative cases with the same result codes on each backend, certificates, CRLs and OCSP responses
 * signed through OpenSSL and checked by mbedTLS, and a signer shared by threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "ca/ca.h"
#include "ca/internal.h"
#include "core/der.h"
#include "tests/unit/unit.h"

static const ca_crypto_backend test_backends[] = { CA_CRYPTO_MBEDTLS, CA_CRYPTO_OPENSSL };
#define TEST_NUM_BACKENDS (sizeof(test_backends) / sizeof(test_backends[0]))

/* ---- fixtures ------------------------------------------------------------------------------ */

static uint8_t *
test_data(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/data/%s", name);
    uint8_t *p = unit_read_file(path, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

/* A signer of a fresh key on `be`, with its hash and one signature over it. */
typedef struct test_signed {
    ca_signer *signer;
    ca_md md;
    uint8_t hash[CA_HASH_MAX];
    size_t hash_len;
    uint8_t sig[CA_SIG_MAX];
    size_t sig_len;
    const uint8_t *spki; /* borrowed from signer */
    size_t spki_len;
} test_signed;

static void
test_sign_new(test_signed *t, ca_rng *rng, ca_key_type type, ca_crypto_backend be, const char *msg)
{
    ca_key *key = NULL;
    memset(t, 0, sizeof(*t));
    UNIT_ASSERT_OK(ca_key_generate(&key, rng, type));
    UNIT_ASSERT_OK(ca_signer_new_with(&t->signer, key, rng, be));
    t->md = ca_signer_md(t->signer);
    t->hash_len = ca_md_size(t->md);
    UNIT_ASSERT_OK(ca_hash(t->md, (const uint8_t *)msg, strlen(msg), t->hash, sizeof(t->hash)));
    UNIT_ASSERT_OK(ca_signer_sign(t->signer, t->md, t->hash, t->hash_len, t->sig, sizeof(t->sig),
                                  &t->sig_len));
    t->spki = ca_signer_spki(t->signer, &t->spki_len);
}

/* ca_verify_with on every backend built in; each must give `want`. */
static void
test_verify_all(const uint8_t *spki, size_t spki_len, ca_sig_scheme scheme, ca_md md,
                const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len,
                ztca_err want)
{
    for (size_t b = 0; b < TEST_NUM_BACKENDS; b++) {
        if (!ca_crypto_backend_is_available(test_backends[b])) {
            continue;
        }
        ztca_rc rc = ca_verify_with(test_backends[b], spki, spki_len, scheme, md, hash, hash_len,
                                    sig, sig_len);
        if (rc.err != want) {
            fprintf(stderr, "\n  %s: got %s, want %s (%s)\n",
                    ca_crypto_backend_name(test_backends[b]), ztca_err_name(rc.err),
                    ztca_err_name(want), ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, want);
    }
}

/* ---- choosing the backend ------------------------------------------------------------------ */

static void
test_backend_choice(void)
{
    ca_crypto_backend b = CA_CRYPTO_OPENSSL;
    UNIT_ASSERT_OK(ca_crypto_backend_parse(&b, "mbedtls"));
    CU_ASSERT_EQUAL(b, CA_CRYPTO_MBEDTLS);
    CU_ASSERT_STRING_EQUAL(ca_crypto_backend_name(CA_CRYPTO_MBEDTLS), "mbedtls");
    CU_ASSERT_STRING_EQUAL(ca_crypto_backend_name(CA_CRYPTO_OPENSSL), "openssl");
    CU_ASSERT_TRUE(ca_crypto_backend_is_available(CA_CRYPTO_MBEDTLS));
    bool have_openssl = ca_crypto_backend_is_available(CA_CRYPTO_OPENSSL);
    CU_ASSERT_EQUAL(ca_crypto_backend_default(),
                    have_openssl ? CA_CRYPTO_OPENSSL : CA_CRYPTO_MBEDTLS);
    UNIT_ASSERT_ERR(ca_crypto_backend_parse(&b, "openssl"),
                    have_openssl ? ZTCA_OK : ZTCA_ERR_UNSUPPORTED);
    UNIT_ASSERT_ERR(ca_crypto_backend_parse(&b, "OpenSSL"), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(ca_crypto_backend_parse(&b, ""), ZTCA_ERR_BAD_INPUT);

    /* The configured choice, then the environment over it. */
    UNIT_ASSERT_OK(ca_crypto_backend_select(CA_CRYPTO_MBEDTLS));
    CU_ASSERT_EQUAL(ca_crypto_backend_get(), CA_CRYPTO_MBEDTLS);
    if (have_openssl) {
        UNIT_ASSERT_OK(ca_crypto_backend_select(CA_CRYPTO_OPENSSL));
        CU_ASSERT_EQUAL(ca_crypto_backend_get(), CA_CRYPTO_OPENSSL);
    } else {
        UNIT_ASSERT_ERR(ca_crypto_backend_select(CA_CRYPTO_OPENSSL), ZTCA_ERR_UNSUPPORTED);
    }
    CU_ASSERT_EQUAL(setenv(CA_CRYPTO_ENV, "mbedtls", 1), 0);
    UNIT_ASSERT_OK(ca_crypto_backend_select(ca_crypto_backend_default()));
    CU_ASSERT_EQUAL(ca_crypto_backend_get(), CA_CRYPTO_MBEDTLS);
    CU_ASSERT_EQUAL(setenv(CA_CRYPTO_ENV, "boringssl", 1), 0);
    UNIT_ASSERT_ERR(ca_crypto_backend_select(CA_CRYPTO_MBEDTLS), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(unsetenv(CA_CRYPTO_ENV), 0);
    UNIT_ASSERT_OK(ca_crypto_backend_select(ca_crypto_backend_default()));
    CU_ASSERT_EQUAL(ca_crypto_backend_get(), ca_crypto_backend_default());

    /* ca_signer_new and ca_verify follow the selection. */
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    for (size_t i = 0; i < TEST_NUM_BACKENDS; i++) {
        if (!ca_crypto_backend_is_available(test_backends[i])) {
            continue;
        }
        UNIT_ASSERT_OK(ca_crypto_backend_select(test_backends[i]));
        ca_key *key = NULL;
        ca_signer *s = NULL;
        UNIT_ASSERT_OK(ca_key_generate(&key, rng, CA_KEY_P256));
        UNIT_ASSERT_OK(ca_signer_new(&s, key, rng));
        CU_ASSERT_EQUAL(ca_signer_backend(s), test_backends[i]);
        ca_signer_free(s);
    }
    if (!have_openssl) {
        ca_key *key = NULL;
        ca_signer *s = NULL;
        UNIT_ASSERT_OK(ca_key_generate(&key, rng, CA_KEY_P256));
        UNIT_ASSERT_ERR(ca_signer_new_with(&s, key, rng, CA_CRYPTO_OPENSSL), ZTCA_ERR_UNSUPPORTED);
        ca_key_free(key); /* still the caller's on failure */
        uint8_t h[32] = { 0 }, sig[8] = { 0x30 };
        UNIT_ASSERT_ERR(
            ca_verify_with(CA_CRYPTO_OPENSSL, sig, 8, CA_SIG_ECDSA, CA_MD_SHA256, h, 32, sig, 8),
            ZTCA_ERR_UNSUPPORTED);
    }
    UNIT_ASSERT_OK(ca_crypto_backend_select(ca_crypto_backend_default()));
    ca_rng_free(rng);
}

static void
test_config_backend(void)
{
    static const char base[] = "{\"version\":1,\"trust_domain\":\"a\",\"public_url\":\"http://a\","
                               "\"api_url\":\"https://a\",\"key_type\":\"p256\"";
    char json[512];
    ca_config cfg;
    bool have_openssl = ca_crypto_backend_is_available(CA_CRYPTO_OPENSSL);

    snprintf(json, sizeof(json), "%s}", base);
    UNIT_ASSERT_OK(ca_config_parse(&cfg, (const uint8_t *)json, strlen(json)));
    CU_ASSERT_EQUAL(cfg.crypto_backend, ca_crypto_backend_default());
    snprintf(json, sizeof(json), "%s,\"crypto_backend\":\"mbedtls\"}", base);
    UNIT_ASSERT_OK(ca_config_parse(&cfg, (const uint8_t *)json, strlen(json)));
    CU_ASSERT_EQUAL(cfg.crypto_backend, CA_CRYPTO_MBEDTLS);
    snprintf(json, sizeof(json), "%s,\"crypto_backend\":\"openssl\"}", base);
    UNIT_ASSERT_ERR(ca_config_parse(&cfg, (const uint8_t *)json, strlen(json)),
                    have_openssl ? ZTCA_OK : ZTCA_ERR_UNSUPPORTED);
    static const char *const bad[] = {
        "\"gnutls\"", "\"\"", "7", "true", "null", "[\"openssl\"]", "\"mbedtls\\u0000\""
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(json, sizeof(json), "%s,\"crypto_backend\":%s}", base, bad[i]);
        UNIT_ASSERT_ERR(ca_config_parse(&cfg, (const uint8_t *)json, strlen(json)),
                        ZTCA_ERR_BAD_INPUT);
    }

    /* Written back only when it is not the build's default. */
    for (size_t b = 0; b < TEST_NUM_BACKENDS; b++) {
        if (!ca_crypto_backend_is_available(test_backends[b])) {
            continue;
        }
        ca_config back;
        char *out = NULL;
        size_t out_len = 0;
        snprintf(json, sizeof(json), "%s}", base);
        UNIT_ASSERT_OK(ca_config_parse(&cfg, (const uint8_t *)json, strlen(json)));
        cfg.crypto_backend = test_backends[b];
        UNIT_ASSERT_OK(ca_config_write(&out, &out_len, &cfg));
        CU_ASSERT_EQUAL(strstr(out, "crypto_backend") != NULL,
                        test_backends[b] != ca_crypto_backend_default());
        UNIT_ASSERT_OK(ca_config_parse(&back, (const uint8_t *)out, out_len));
        CU_ASSERT_EQUAL(back.crypto_backend, test_backends[b]);
        free(out);
    }
}

/* ---- signatures across backends ------------------------------------------------------------ */

static void
test_cross(void)
{
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    for (int t = 0; t < 2; t++) {
        ca_key_type type = t == 0 ? CA_KEY_P256 : CA_KEY_P384;
        for (size_t b = 0; b < TEST_NUM_BACKENDS; b++) {
            if (!ca_crypto_backend_is_available(test_backends[b])) {
                continue;
            }
            /* Signed by one backend, verified by each (itself included). */
            test_signed s;
            test_sign_new(&s, rng, type, test_backends[b], "cross");
            CU_ASSERT_EQUAL(s.md, t == 0 ? CA_MD_SHA256 : CA_MD_SHA384);
            UNIT_ASSERT_OK(ca_ecdsa_sig_check(s.sig, s.sig_len));
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, s.sig,
                            s.sig_len, ZTCA_OK);
            ca_signer_free(s.signer);
        }
    }
    ca_rng_free(rng);
}

/* RFC 6979 on mbedTLS (MBEDTLS_ECDSA_DETERMINISTIC), hedged random nonces on OpenSSL 3.0: both
 * documented in docs/performance.md; a change in either is noticed here. */
static void
test_nonces(void)
{
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    for (size_t b = 0; b < TEST_NUM_BACKENDS; b++) {
        if (!ca_crypto_backend_is_available(test_backends[b])) {
            continue;
        }
        test_signed s;
        test_sign_new(&s, rng, CA_KEY_P256, test_backends[b], "nonce");
        uint8_t again[CA_SIG_MAX];
        size_t again_len = 0;
        UNIT_ASSERT_OK(
            ca_signer_sign(s.signer, s.md, s.hash, s.hash_len, again, sizeof(again), &again_len));
        bool same = again_len == s.sig_len && memcmp(again, s.sig, s.sig_len) == 0;
        CU_ASSERT_EQUAL(same, test_backends[b] == CA_CRYPTO_MBEDTLS);
        ca_signer_free(s.signer);
    }
    ca_rng_free(rng);
}

/* Splits a CSR into the CertificationRequestInfo element, its SPKI and the signature. */
static void
test_csr_split(const uint8_t *der, size_t len, der_cur *out_info, der_cur *out_spki,
               der_cur *out_sig)
{
    der_cur c = der_cur_make(der, len);
    der_cur req, info, alg, subject;
    uint64_t version = 1;
    uint8_t unused = 1;
    UNIT_ASSERT_OK(der_get(&c, &req, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_element(&req, out_info, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get(&req, &alg, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_bitstring(&req, out_sig, &unused));
    CU_ASSERT_EQUAL(unused, 0);
    der_cur in = *out_info;
    UNIT_ASSERT_OK(der_get(&in, &info, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_uint64(&info, &version));
    UNIT_ASSERT_OK(der_get(&info, &subject, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_element(&info, out_spki, DER_SEQUENCE));
}

/* Signatures made by the openssl CLI (tests/data/regen.sh): ECDSA on five curves, RSA PKCS#1 v1.5
 * and PSS; each backend must reach the same verdict. */
static void
test_openssl_vectors(void)
{
    static const struct {
        const char *file;
        ca_sig_scheme scheme;
        ca_md md;
        ztca_err want;
    } cases[] = {
        { "csr_p256.der", CA_SIG_ECDSA, CA_MD_SHA256, ZTCA_OK },
        { "csr_p384.der", CA_SIG_ECDSA, CA_MD_SHA384, ZTCA_OK },
        { "csr_p521.der", CA_SIG_ECDSA, CA_MD_SHA256, ZTCA_OK },
        { "csr_secp256k1.der", CA_SIG_ECDSA, CA_MD_SHA256, ZTCA_OK },
        { "csr_p256_sha1.der", CA_SIG_ECDSA, CA_MD_SHA1, ZTCA_OK },
        { "csr_rsa1024.der", CA_SIG_RSA_PKCS1, CA_MD_SHA256, ZTCA_OK },
        { "csr_rsa2048.der", CA_SIG_RSA_PKCS1, CA_MD_SHA256, ZTCA_OK },
        { "csr_rsa4096.der", CA_SIG_RSA_PKCS1, CA_MD_SHA512, ZTCA_OK },
        { "csr_rsa2048_pss.der", CA_SIG_RSA_PSS, CA_MD_SHA256, ZTCA_OK },
        /* the wrong scheme, hash or key for the signature */
        { "csr_rsa2048_pss.der", CA_SIG_RSA_PKCS1, CA_MD_SHA256, ZTCA_ERR_CRYPTO },
        { "csr_rsa2048.der", CA_SIG_RSA_PSS, CA_MD_SHA256, ZTCA_ERR_CRYPTO },
        { "csr_rsa2048.der", CA_SIG_RSA_PKCS1, CA_MD_SHA384, ZTCA_ERR_CRYPTO },
        { "csr_rsa2048.der", CA_SIG_ECDSA, CA_MD_SHA256, ZTCA_ERR_CRYPTO },
        { "csr_p256.der", CA_SIG_RSA_PKCS1, CA_MD_SHA256, ZTCA_ERR_CRYPTO },
        { "csr_p256_badsig.der", CA_SIG_ECDSA, CA_MD_SHA256, ZTCA_ERR_CRYPTO },
        { "csr_rsa8192.der", CA_SIG_RSA_PKCS1, CA_MD_SHA256, ZTCA_ERR_CRYPTO }, /* > CA_SIG_MAX */
        { "csr_ed25519.der", CA_SIG_ECDSA, CA_MD_SHA256, ZTCA_ERR_UNSUPPORTED },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        uint8_t *der = test_data(cases[i].file, &len);
        der_cur info, spki, sig;
        test_csr_split(der, len, &info, &spki, &sig);
        uint8_t hash[CA_HASH_MAX];
        size_t hash_len = ca_md_size(cases[i].md);
        UNIT_ASSERT_OK(ca_hash(cases[i].md, info.p, info.len, hash, sizeof(hash)));
        uint8_t *exact = unit_dup(sig.p, sig.len);
        test_verify_all(spki.p, spki.len, cases[i].scheme, cases[i].md, hash, hash_len, exact,
                        sig.len, cases[i].want);
        free(exact);
        free(der);
    }
}

/* An mbedtls_pk_context from a PEM key file of tests/data. */
static void
test_mbedtls_key(mbedtls_pk_context *pk, const char *file)
{
    size_t len = 0, der_len = 0;
    uint8_t *pem = test_data(file, &len);
    uint8_t *der = NULL;
    UNIT_ASSERT_OK(ztca_pem_decode_one(&der, &der_len, "PRIVATE KEY", pem, len));
#if MBEDTLS_VERSION_MAJOR >= 3
    CU_ASSERT_EQUAL_FATAL(mbedtls_pk_parse_key(pk, der, der_len, NULL, 0, NULL, NULL), 0);
#else
    CU_ASSERT_EQUAL_FATAL(mbedtls_pk_parse_key(pk, der, der_len, NULL, 0), 0);
#endif
    free(der);
    free(pem);
}

static int
test_mbedtls_sign(mbedtls_pk_context *pk, ca_rng *rng, ca_md md, const uint8_t *hash,
                  size_t hash_len, uint8_t *sig, size_t *sig_len)
{
#if MBEDTLS_VERSION_MAJOR >= 3
    return mbedtls_pk_sign(pk, ca_md_to_mbedtls(md), hash, hash_len, sig, CA_SIG_MAX, sig_len,
                           ca_rng_mbedtls, rng);
#else
    return mbedtls_pk_sign(pk, ca_md_to_mbedtls(md), hash, hash_len, sig, sig_len, ca_rng_mbedtls,
                           rng);
#endif
}

/* SubjectPublicKeyInfo of an mbedTLS key, malloc'd. */
static uint8_t *
test_mbedtls_spki(mbedtls_pk_context *pk, size_t *out_len)
{
    uint8_t buf[2048];
    int n = mbedtls_pk_write_pubkey_der(pk, buf, sizeof(buf));
    CU_ASSERT_FATAL(n > 0);
    *out_len = (size_t)n;
    return unit_dup(buf + sizeof(buf) - (size_t)n, (size_t)n);
}

/* Signatures made by mbedTLS directly (RSA PKCS#1 v1.5 and PSS, ECDSA P-521 with SHA-512), so
 * OpenSSL verifies mbedTLS's RSA as mbedTLS verifies openssl's above. */
static void
test_mbedtls_vectors(void)
{
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    static const char msg[] = "mbedTLS-made signatures";
    for (int v = 0; v < 4; v++) {
        mbedtls_pk_context pk;
        mbedtls_pk_init(&pk);
        ca_md md = v == 3 ? CA_MD_SHA512 : v == 2 ? CA_MD_SHA384 : CA_MD_SHA256;
        ca_sig_scheme scheme = v == 3 ? CA_SIG_ECDSA : v == 0 ? CA_SIG_RSA_PKCS1 : CA_SIG_RSA_PSS;
        test_mbedtls_key(&pk, v == 3 ? "key_p521_pkcs8.pem" : "key_rsa2048_pkcs8.pem");
        if (scheme == CA_SIG_RSA_PSS) {
            (void)mbedtls_rsa_set_padding(mbedtls_pk_rsa(pk), MBEDTLS_RSA_PKCS_V21,
                                          ca_md_to_mbedtls(md));
        }
        uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
        size_t hash_len = ca_md_size(md), sig_len = 0, spki_len = 0;
        UNIT_ASSERT_OK(ca_hash(md, (const uint8_t *)msg, sizeof(msg) - 1, hash, sizeof(hash)));
        CU_ASSERT_EQUAL_FATAL(test_mbedtls_sign(&pk, rng, md, hash, hash_len, sig, &sig_len), 0);
        uint8_t *spki = test_mbedtls_spki(&pk, &spki_len);
        test_verify_all(spki, spki_len, scheme, md, hash, hash_len, sig, sig_len, ZTCA_OK);
        sig[sig_len / 2] ^= 0x10;
        test_verify_all(spki, spki_len, scheme, md, hash, hash_len, sig, sig_len, ZTCA_ERR_CRYPTO);
        sig[sig_len / 2] ^= 0x10;
        hash[hash_len - 1] ^= 1;
        test_verify_all(spki, spki_len, scheme, md, hash, hash_len, sig, sig_len, ZTCA_ERR_CRYPTO);
        hash[hash_len - 1] ^= 1;
        if (scheme != CA_SIG_ECDSA) { /* a short or long RSA block */
            test_verify_all(spki, spki_len, scheme, md, hash, hash_len, sig, sig_len - 1,
                            ZTCA_ERR_CRYPTO);
            sig[sig_len] = 0;
            test_verify_all(spki, spki_len, scheme, md, hash, hash_len, sig, sig_len + 1,
                            ZTCA_ERR_CRYPTO);
        }
        free(spki);
        mbedtls_pk_free(&pk);
    }
    ca_rng_free(rng);
}

/* ---- negative cases, the same on each backend ---------------------------------------------- */

/* An Ecdsa-Sig-Value with r and s contents exactly as given (no normalisation). */
static size_t
test_ecdsa_der(uint8_t *out, const der_cur *r, const der_cur *s)
{
    der_buf b;
    der_buf_init(&b, CA_SIG_MAX);
    uint8_t *der = NULL;
    size_t len = 0;
    UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_add_tlv(&b, DER_INTEGER, r->p, r->len));
    UNIT_ASSERT_OK(der_add_tlv(&b, DER_INTEGER, s->p, s->len));
    UNIT_ASSERT_OK(der_end(&b));
    UNIT_ASSERT_OK(der_buf_take(&b, &der, &len));
    memcpy(out, der, len);
    free(der);
    der_buf_free(&b);
    return len;
}

static void
test_bad_signatures(void)
{
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    for (int t = 0; t < 2; t++) {
        ca_key_type type = t == 0 ? CA_KEY_P256 : CA_KEY_P384;
        for (size_t b = 0; b < TEST_NUM_BACKENDS; b++) {
            if (!ca_crypto_backend_is_available(test_backends[b])) {
                continue;
            }
            test_signed s, other;
            test_sign_new(&s, rng, type, test_backends[b], "negative");
            test_sign_new(&other, rng, type, test_backends[b], "negative");
            uint8_t sig[CA_SIG_MAX + 8];
            size_t n = s.sig_len;

            /* bad_signature: one bit of s */
            memcpy(sig, s.sig, n);
            sig[n - 3] ^= 0x04;
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, n,
                            ZTCA_ERR_CRYPTO);
            /* wrong_key: a valid signature, someone else's key */
            test_verify_all(other.spki, other.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len,
                            s.sig, n, ZTCA_ERR_CRYPTO);
            /* truncated: every prefix, from an exact-size copy */
            for (size_t k = 0; k < n; k++) {
                uint8_t *exact = unit_dup(s.sig, k);
                test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, exact,
                                k, ZTCA_ERR_CRYPTO);
                free(exact);
            }
            /* trailing_data */
            memcpy(sig, s.sig, n);
            sig[n] = 0;
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, n + 1,
                            ZTCA_ERR_CRYPTO);

            /* Re-encodings of the valid (r, s): each must fail, or a second encoding of a valid
             * signature would verify on mbedTLS only. */
            der_cur c = der_cur_make(s.sig, n), seq, r, sv;
            UNIT_ASSERT_OK(der_get(&c, &seq, DER_SEQUENCE));
            UNIT_ASSERT_OK(der_get(&seq, &r, DER_INTEGER));
            UNIT_ASSERT_OK(der_get(&seq, &sv, DER_INTEGER));
            uint8_t padded[80];
            padded[0] = 0;
            memcpy(padded + 1, r.p, r.len);
            der_cur r_padded = { padded, r.len + 1 };
            size_t m = test_ecdsa_der(sig, &r, &sv);
            CU_ASSERT_TRUE(m == n && memcmp(sig, s.sig, n) == 0); /* the builder itself */
            /* padded_integer: r with a redundant leading 00 */
            m = test_ecdsa_der(sig, &r_padded, &sv);
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, m,
                            ZTCA_ERR_CRYPTO);
            /* swapped: (s, r) */
            m = test_ecdsa_der(sig, &sv, &r);
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, m,
                            ZTCA_ERR_CRYPTO);
            /* non_minimal_length: the SEQUENCE length in long form */
            sig[0] = 0x30;
            sig[1] = 0x81;
            sig[2] = (uint8_t)seq.len;
            memcpy(sig + 3, s.sig + 2, n - 2);
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, n + 1,
                            ZTCA_ERR_CRYPTO);
            /* wrong_tag: SET instead of SEQUENCE */
            memcpy(sig, s.sig, n);
            sig[0] = 0x31;
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, n,
                            ZTCA_ERR_CRYPTO);
            /* negative_integer and zero_r */
            static const uint8_t neg[] = { 0x80, 0x01 }, zero[] = { 0x00 };
            der_cur r_neg = { neg, sizeof(neg) }, r_zero = { zero, sizeof(zero) };
            m = test_ecdsa_der(sig, &r_neg, &sv);
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, m,
                            ZTCA_ERR_CRYPTO);
            m = test_ecdsa_der(sig, &r_zero, &sv);
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, sig, m,
                            ZTCA_ERR_CRYPTO);
            /* the hash of another size than its digest claims is the caller's bug */
            test_verify_all(s.spki, s.spki_len, CA_SIG_ECDSA, s.md, s.hash, s.hash_len - 1, s.sig,
                            n, ZTCA_ERR_INTERNAL);
            ca_signer_free(s.signer);
            ca_signer_free(other.signer);
        }
    }
    ca_rng_free(rng);
}

static void
test_bad_keys(void)
{
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    test_signed s;
    test_sign_new(&s, rng, CA_KEY_P256, CA_CRYPTO_MBEDTLS, "keys");
    uint8_t spki[256] = { 0 };
    size_t n = s.spki_len;
    CU_ASSERT_FATAL(n == 91); /* SEQUENCE { AlgorithmIdentifier, BIT STRING { 00 04 X Y } } */

    /* every prefix of the key */
    for (size_t k = 0; k < n; k++) {
        uint8_t *exact = unit_dup(s.spki, k);
        for (size_t b = 0; b < TEST_NUM_BACKENDS; b++) {
            if (ca_crypto_backend_is_available(test_backends[b])) {
                ztca_rc rc = ca_verify_with(test_backends[b], exact, k, CA_SIG_ECDSA, s.md, s.hash,
                                            s.hash_len, s.sig, s.sig_len);
                CU_ASSERT_NOT_EQUAL(rc.err, ZTCA_OK);
            }
        }
        free(exact);
    }
    /* point_off_curve */
    memcpy(spki, s.spki, n);
    spki[n - 1] ^= 1;
    test_verify_all(spki, n, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, s.sig, s.sig_len,
                    ZTCA_ERR_BAD_INPUT);
    /* trailing_data after the key */
    memcpy(spki, s.spki, n);
    spki[n] = 0;
    test_verify_all(spki, n + 1, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, s.sig, s.sig_len,
                    ZTCA_ERR_BAD_INPUT);
    /* compressed_point: 02/03 || X (mbedTLS 2.28 cannot read it, so neither backend does) */
    memcpy(spki, s.spki, n);
    spki[1] = (uint8_t)(n - 2 - 32);
    spki[n - 65 - 2] = 0x22;                              /* BIT STRING length, was 0x42 */
    spki[n - 65] = (uint8_t)(0x02 | (s.spki[n - 1] & 1)); /* point format */
    test_verify_all(spki, n - 32, CA_SIG_ECDSA, s.md, s.hash, s.hash_len, s.sig, s.sig_len,
                    ZTCA_ERR_UNSUPPORTED);
    ca_signer_free(s.signer);
    ca_rng_free(rng);
}

/* ---- structures signed through OpenSSL, checked by mbedTLS ---------------------------------- */

static void
test_parse_crt(mbedtls_x509_crt *chain, const char *pem)
{
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse(chain, (const uint8_t *)pem, strlen(pem) + 1), 0);
}

/* Verifies the certificate in `pem` (its chain after it) up to `root` with mbedTLS; *crl may be
 * NULL. Returns mbedTLS's flags. */
static uint32_t
test_mbedtls_verify(const char *pem, const char *intermediate_pem, mbedtls_x509_crt *root,
                    mbedtls_x509_crl *crl)
{
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    test_parse_crt(&chain, pem);
    if (intermediate_pem != NULL) {
        test_parse_crt(&chain, intermediate_pem);
    }
    uint32_t flags = 0xffffffff;
    (void)mbedtls_x509_crt_verify(&chain, root, crl, NULL, &flags, NULL, NULL);
    mbedtls_x509_crt_free(&chain);
    return flags;
}

/* The signature of a DER structure SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING } under
 * `spki`, checked by each backend. */
static void
test_check_signed(const uint8_t *der, size_t len, const uint8_t *spki, size_t spki_len)
{
    der_cur c = der_cur_make(der, len), outer, tbs, alg, sig;
    uint8_t unused = 1;
    UNIT_ASSERT_OK(der_get(&c, &outer, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&c));
    UNIT_ASSERT_OK(der_get_element(&outer, &tbs, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get(&outer, &alg, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_bitstring(&outer, &sig, &unused));
    uint8_t hash[32];
    UNIT_ASSERT_OK(ca_hash(CA_MD_SHA256, tbs.p, tbs.len, hash, sizeof(hash)));
    test_verify_all(spki, spki_len, CA_SIG_ECDSA, CA_MD_SHA256, hash, 32, sig.p, sig.len, ZTCA_OK);
}

static void
test_openssl_structures(void)
{
    if (!ca_crypto_backend_is_available(CA_CRYPTO_OPENSSL)) {
        return;
    }
    UNIT_ASSERT_OK(ca_crypto_backend_select(CA_CRYPTO_OPENSSL)); /* ca_pki_create's signers */
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    ca_config cfg;
    ca_config_defaults(&cfg);
    snprintf(cfg.trust_domain, sizeof(cfg.trust_domain), "corp.example");
    snprintf(cfg.public_url, sizeof(cfg.public_url), "http://ca.corp.example:8080");
    snprintf(cfg.api_url, sizeof(cfg.api_url), "https://ca.corp.example:8443");
    cfg.key_type = CA_KEY_P256;
    ca_pki pki;
    ca_pki_init(&pki);
    ca_pki_params params = { .cfg = &cfg, .admin_user = "root-admin" };
    UNIT_ASSERT_OK(ca_pki_create(&pki, rng, &params, NULL, 0));

    /* The whole PKI of `ztca init`, as mbedTLS's chain verifier sees it. */
    mbedtls_x509_crt root;
    mbedtls_x509_crt_init(&root);
    test_parse_crt(&root, pki.root_cert_pem);
    CU_ASSERT_EQUAL(test_mbedtls_verify(pki.intermediate_cert_pem, NULL, &root, NULL), 0);
    CU_ASSERT_EQUAL(test_mbedtls_verify(pki.admin_cert_pem, pki.intermediate_cert_pem, &root, NULL),
                    0);
    CU_ASSERT_EQUAL(
        test_mbedtls_verify(pki.server_cert_pem, pki.intermediate_cert_pem, &root, NULL), 0);
    CU_ASSERT_EQUAL(test_mbedtls_verify(pki.ocsp_cert_pem, pki.intermediate_cert_pem, &root, NULL),
                    0);

    /* A leaf issued through an OpenSSL signer. */
    ca_key *key = NULL, *leaf_key = NULL;
    ca_signer *signer = NULL;
    ca_issuer *issuer = NULL;
    uint8_t *der = NULL, *leaf_spki = NULL;
    size_t der_len = 0, leaf_spki_len = 0;
    UNIT_ASSERT_OK(ca_key_parse(&key, (const uint8_t *)pki.intermediate_key_pem,
                                pki.intermediate_key_len, NULL, 0));
    UNIT_ASSERT_OK(ca_signer_new_with(&signer, key, rng, CA_CRYPTO_OPENSSL));
    UNIT_ASSERT_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE",
                                       (const uint8_t *)pki.intermediate_cert_pem,
                                       strlen(pki.intermediate_cert_pem)));
    UNIT_ASSERT_OK(ca_issuer_new(&issuer, der, der_len, signer));
    UNIT_ASSERT_OK(ca_key_generate(&leaf_key, rng, CA_KEY_P256));
    UNIT_ASSERT_OK(ca_key_spki(leaf_key, &leaf_spki, &leaf_spki_len));
    ca_issue_req req = { .profile = ca_profile_get(CA_PROFILE_DEVICE),
                         .spki = leaf_spki,
                         .spki_len = leaf_spki_len,
                         .id = { .device_id = "dev-openssl", .attestation = CA_ATTEST_SOFTWARE } };
    ca_issued leaf;
    ca_issued_init(&leaf);
    UNIT_ASSERT_OK(ca_issue(&leaf, issuer, &cfg, rng, &req));
    char *leaf_pem = NULL;
    size_t leaf_pem_len = 0;
    UNIT_ASSERT_OK(
        ztca_pem_encode(&leaf_pem, &leaf_pem_len, "CERTIFICATE", leaf.der, leaf.der_len));
    CU_ASSERT_EQUAL(test_mbedtls_verify(leaf_pem, pki.intermediate_cert_pem, &root, NULL), 0);
    size_t ispki_len = 0;
    const uint8_t *ispki = ca_signer_spki(signer, &ispki_len);
    test_check_signed(leaf.der, leaf.der_len, ispki, ispki_len);

    /* CRLs: mbedTLS checks their signature when it verifies a chain with them (a bad one is
     * BADCRL_NOT_TRUSTED), and finds the revoked leaf. */
    ztca_time now = ztca_now();
    for (int revoked = 0; revoked < 2; revoked++) {
        ca_crl_entry entry = { leaf.serial, sizeof(leaf.serial), now - 10, CA_REASON_KEY_COMPROMISE,
                               0 };
        ca_crl_params cp = { 7, now - 60, now + 3600, &entry, revoked ? 1 : 0 };
        uint8_t *crl_der = NULL;
        size_t crl_len = 0;
        UNIT_ASSERT_OK(ca_crl_build(&crl_der, &crl_len, issuer, &cp));
        test_check_signed(crl_der, crl_len, ispki, ispki_len);
        mbedtls_x509_crl crl;
        mbedtls_x509_crl_init(&crl);
        CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crl_parse_der(&crl, crl_der, crl_len), 0);
        CU_ASSERT_EQUAL(test_mbedtls_verify(leaf_pem, pki.intermediate_cert_pem, &root, &crl),
                        revoked ? MBEDTLS_X509_BADCERT_REVOKED : 0);
        mbedtls_x509_crl_free(&crl);
        free(crl_der);
    }

    /* An OCSP response: the BasicOCSPResponse's signature over its ResponseData. */
    der_buf id;
    der_buf_init(&id, 256);
    static const uint8_t h20[20] = { 1 };
    UNIT_ASSERT_OK(der_begin(&id, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_begin(&id, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_add_oid(&id, "\x2b\x0e\x03\x02\x1a", 5)); /* id-sha1 */
    UNIT_ASSERT_OK(der_add_null(&id));
    UNIT_ASSERT_OK(der_end(&id));
    UNIT_ASSERT_OK(der_add_tlv(&id, DER_OCTETSTRING, h20, 20));
    UNIT_ASSERT_OK(der_add_tlv(&id, DER_OCTETSTRING, h20, 20));
    UNIT_ASSERT_OK(der_add_uint_bytes(&id, leaf.serial, sizeof(leaf.serial)));
    UNIT_ASSERT_OK(der_end(&id));
    uint8_t *certid = NULL;
    size_t certid_len = 0;
    UNIT_ASSERT_OK(der_buf_take(&id, &certid, &certid_len));
    ca_ocsp_entry e = { der_cur_make(certid, certid_len),
                        CA_OCSP_GOOD,
                        0,
                        CA_REASON_UNSPECIFIED,
                        now,
                        now + 3600,
                        CA_TRUST_SCORE_NONE };
    ca_ocsp_resp_params op = { .produced_at = now, .entries = &e, .num_entries = 1 };
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    UNIT_ASSERT_OK(ca_ocsp_resp_build(&resp, &resp_len, signer, &op));
    /* OCSPResponse ::= SEQUENCE { responseStatus, [0] EXPLICIT ResponseBytes SEQUENCE {
     *                   responseType OID, response OCTET STRING (BasicOCSPResponse) } } */
    der_cur c = der_cur_make(resp, resp_len), r, wrap, rb, oid, basic;
    uint32_t status = 9;
    UNIT_ASSERT_OK(der_get(&c, &r, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_enumerated(&r, &status));
    CU_ASSERT_EQUAL(status, 0);
    UNIT_ASSERT_OK(der_get(&r, &wrap, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_get(&wrap, &rb, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_oid(&rb, &oid));
    UNIT_ASSERT_OK(der_get(&rb, &basic, DER_OCTETSTRING));
    der_cur bc = basic, b_seq, tbs, alg, sig;
    uint8_t unused = 1;
    UNIT_ASSERT_OK(der_get(&bc, &b_seq, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_element(&b_seq, &tbs, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get(&b_seq, &alg, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_bitstring(&b_seq, &sig, &unused));
    uint8_t hash[32];
    UNIT_ASSERT_OK(ca_hash(CA_MD_SHA256, tbs.p, tbs.len, hash, sizeof(hash)));
    test_verify_all(ispki, ispki_len, CA_SIG_ECDSA, CA_MD_SHA256, hash, 32, sig.p, sig.len,
                    ZTCA_OK);

    free(resp);
    free(certid);
    der_buf_free(&id);
    free(leaf_pem);
    ca_issued_free(&leaf);
    free(leaf_spki);
    ca_key_free(leaf_key);
    ca_issuer_free(issuer);
    ca_signer_free(signer);
    free(der);
    mbedtls_x509_crt_free(&root);
    ca_pki_free(&pki);
    ca_rng_free(rng);
    UNIT_ASSERT_OK(ca_crypto_backend_select(ca_crypto_backend_default()));
}

/* ---- a signer shared by threads ------------------------------------------------------------ */

#define TEST_THREADS    4
#define TEST_PER_THREAD 50

typedef struct test_thread {
    ca_signer *signer;
    ca_crypto_backend verifier;
    unsigned id;
    unsigned failures;
} test_thread;

static void *
test_thread_main(void *arg)
{
    test_thread *t = arg;
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(t->signer, &spki_len);
    ca_md md = ca_signer_md(t->signer);
    for (unsigned i = 0; i < TEST_PER_THREAD; i++) {
        uint8_t msg[8] = { (uint8_t)t->id, (uint8_t)i };
        uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
        size_t sig_len = 0;
        if (!ZTCA_IS_OK(ca_hash(md, msg, sizeof(msg), hash, sizeof(hash)))
            || !ZTCA_IS_OK(
                ca_signer_sign(t->signer, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len))
            || !ZTCA_IS_OK(ca_verify_with(t->verifier, spki, spki_len, CA_SIG_ECDSA, md, hash,
                                          ca_md_size(md), sig, sig_len))) {
            t->failures++;
        }
    }
    return NULL;
}

static void
test_threads(void)
{
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    for (size_t b = 0; b < TEST_NUM_BACKENDS; b++) {
        if (!ca_crypto_backend_is_available(test_backends[b])) {
            continue;
        }
        ca_key *key = NULL;
        ca_signer *s = NULL;
        UNIT_ASSERT_OK(ca_key_generate(&key, rng, CA_KEY_P256));
        UNIT_ASSERT_OK(ca_signer_new_with(&s, key, rng, test_backends[b]));
        pthread_t th[TEST_THREADS];
        test_thread args[TEST_THREADS];
        for (unsigned i = 0; i < TEST_THREADS; i++) {
            /* verified on the other backend when there is one */
            args[i] = (test_thread){ s, test_backends[(b + i) % TEST_NUM_BACKENDS], i, 0 };
            if (!ca_crypto_backend_is_available(args[i].verifier)) {
                args[i].verifier = CA_CRYPTO_MBEDTLS;
            }
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_thread_main, &args[i]), 0);
        }
        for (unsigned i = 0; i < TEST_THREADS; i++) {
            CU_ASSERT_EQUAL(pthread_join(th[i], NULL), 0);
            CU_ASSERT_EQUAL(args[i].failures, 0);
        }
        ca_signer_free(s);
    }
    ca_rng_free(rng);
}

int
main(void)
{
    /* This suite picks backends itself; ZTCA_CRYPTO_BACKEND steers the other suites. */
    const char *env = getenv(CA_CRYPTO_ENV);
    ca_crypto_backend b;
    if (env != NULL && env[0] != '\0' && !ZTCA_IS_OK(ca_crypto_backend_parse(&b, env))) {
        fprintf(stderr, "%s=%s: not a backend of this build\n", CA_CRYPTO_ENV, env);
        return 1;
    }
    unsetenv(CA_CRYPTO_ENV);
    static const unit_test tests[] = {
        { "backend_choice", test_backend_choice },
        { "config_backend", test_config_backend },
        { "cross", test_cross },
        { "nonces", test_nonces },
        { "openssl_vectors", test_openssl_vectors },
        { "mbedtls_vectors", test_mbedtls_vectors },
        { "bad_signatures", test_bad_signatures },
        { "bad_keys", test_bad_keys },
        { "openssl_structures", test_openssl_structures },
        { "threads", test_threads },
        { NULL, NULL },
    };
    return unit_run("crypto", tests);
}
