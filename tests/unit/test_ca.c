/* test_ca.c: the CUnit suite of ca/: profiles and their caps, identity names, keys and their
 * files (against openssl-made vectors), CSR intake (positive and negative vectors from openssl),
 * issuance checked by mbedTLS's X.509 parser and chain verifier, and OOM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "ca/ca.h"
#include "ca/internal.h"
#include "core/der.h"
#include "tests/unit/unit.h"

#define T0 ((ztca_time)1795000000) /* 2026-11-18T11:06:40Z: a fixed "now" */

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

static ca_config
test_config(void)
{
    ca_config cfg;
    ca_config_defaults(&cfg);
    snprintf(cfg.trust_domain, sizeof(cfg.trust_domain), "corp.example");
    snprintf(cfg.public_url, sizeof(cfg.public_url), "http://ca.corp.example:8080");
    snprintf(cfg.api_url, sizeof(cfg.api_url), "https://ca.corp.example:8443");
    cfg.key_type = CA_KEY_P256;
    cfg.identity_extension = true;
    return cfg;
}

/* An in-memory CA: the PKI of `ztca init`, an issuer for its intermediate, and the DER of both
 * CA certificates for mbedTLS's verifier. */
typedef struct test_ca {
    ca_config cfg;
    ca_rng *rng;
    ca_pki pki;
    ca_signer *signer;
    ca_issuer *issuer;
    mbedtls_x509_crt chain; /* intermediate, then root */
    mbedtls_x509_crt root;
} test_ca;

static void
test_ca_open(test_ca *t, ca_key_type type)
{
    memset(t, 0, sizeof(*t));
    t->cfg = test_config();
    t->cfg.key_type = type;
    ca_pki_init(&t->pki);
    mbedtls_x509_crt_init(&t->chain);
    mbedtls_x509_crt_init(&t->root);
    UNIT_ASSERT_OK(ca_rng_new(&t->rng));
    ca_pki_params params = { .cfg = &t->cfg, .admin_user = "root-admin", .now = T0 };
    UNIT_ASSERT_OK(ca_pki_create(&t->pki, t->rng, &params, NULL, 0));

    ca_key *key = NULL;
    UNIT_ASSERT_OK(ca_key_parse(&key, (const uint8_t *)t->pki.intermediate_key_pem,
                                t->pki.intermediate_key_len, NULL, 0));
    UNIT_ASSERT_OK(ca_signer_new(&t->signer, key, t->rng));
    uint8_t *der = NULL;
    size_t der_len = 0;
    UNIT_ASSERT_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE",
                                       (const uint8_t *)t->pki.intermediate_cert_pem,
                                       strlen(t->pki.intermediate_cert_pem)));
    UNIT_ASSERT_OK(ca_issuer_new(&t->issuer, der, der_len, t->signer));
    free(der);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse(&t->root, (const uint8_t *)t->pki.root_cert_pem,
                                                 strlen(t->pki.root_cert_pem) + 1),
                          0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse(&t->chain,
                                                 (const uint8_t *)t->pki.intermediate_cert_pem,
                                                 strlen(t->pki.intermediate_cert_pem) + 1),
                          0);
}

static void
test_ca_close(test_ca *t)
{
    ca_issuer_free(t->issuer);
    ca_signer_free(t->signer);
    ca_pki_free(&t->pki);
    ca_rng_free(t->rng);
    mbedtls_x509_crt_free(&t->chain);
    mbedtls_x509_crt_free(&t->root);
}

/* Issues for a fresh P-256 key and returns the certificate (caller frees). */
static ztca_rc
test_issue(test_ca *t, ca_issued *out, const ca_issue_req *tmpl)
{
    ca_key *key = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    UNIT_ASSERT_OK(ca_key_generate(&key, t->rng, CA_KEY_P256));
    UNIT_ASSERT_OK(ca_key_spki(key, &spki, &spki_len));
    ca_issue_req req = *tmpl;
    req.spki = spki;
    req.spki_len = spki_len;
    if (req.now == 0) {
        req.now = T0;
    }
    ztca_rc rc = ca_issue(out, t->issuer, &t->cfg, t->rng, &req);
    free(spki);
    ca_key_free(key);
    return rc;
}

/* Verifies `der` up to our root with mbedTLS at time T0 (its clock is the real one, so only
 * the signatures and structure are judged: expiry flags are masked). */
static uint32_t
test_verify(test_ca *t, const uint8_t *der, size_t der_len)
{
    mbedtls_x509_crt leaf;
    mbedtls_x509_crt_init(&leaf);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&leaf, der, der_len), 0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&leaf, t->chain.raw.p, t->chain.raw.len), 0);
    uint32_t flags = 0;
    int r = mbedtls_x509_crt_verify(&leaf, &t->root, NULL, NULL, &flags, NULL, NULL);
    mbedtls_x509_crt_free(&leaf);
    flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    if (r != 0 && r != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        return UINT32_MAX; /* not a verdict on the chain: a failure of the verifier itself */
    }
    return flags;
}

/* ---- profiles and names -------------------------------------------------------------------- */

static void
test_profile_caps(void)
{
    static const struct {
        const char *name;
        int64_t def, max;
    } want[] = {
        { "device", 86400, 7 * 86400 },
        { "agent", 8 * 3600, 86400 },
        { "workload", 900, 3600 },
        { "admin", 30 * 86400, 30 * 86400 },
        { "server", 90 * 86400, 90 * 86400 },
        { "ocsp", 7 * 86400, 7 * 86400 },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const ca_profile *p = ca_profile_find(want[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_STRING_EQUAL(p->name, want[i].name);
        int64_t ttl = -1;
        UNIT_ASSERT_OK(ca_profile_ttl(p, 0, &ttl));
        CU_ASSERT_EQUAL(ttl, want[i].def);
        UNIT_ASSERT_OK(ca_profile_ttl(p, want[i].max, &ttl));
        CU_ASSERT_EQUAL(ttl, want[i].max);
        UNIT_ASSERT_ERR(ca_profile_ttl(p, want[i].max + 1, &ttl), ZTCA_ERR_DENIED);
        CU_ASSERT_EQUAL(ttl, want[i].max); /* untouched on failure */
        UNIT_ASSERT_ERR(ca_profile_ttl(p, 59, &ttl), ZTCA_ERR_BAD_INPUT);
        UNIT_ASSERT_ERR(ca_profile_ttl(p, -1, &ttl), ZTCA_ERR_BAD_INPUT);
    }
    CU_ASSERT_PTR_NULL(ca_profile_find("root"));
    CU_ASSERT_PTR_NULL(ca_profile_find(""));
    CU_ASSERT_EQUAL(ca_profile_get(CA_PROFILE_OCSP)->eku, CA_EKU_OCSP);
    CU_ASSERT_FALSE(ca_profile_get(CA_PROFILE_OCSP)->revocable);
    CU_ASSERT_EQUAL(ca_profile_get(CA_PROFILE_DEVICE)->eku, CA_EKU_CLIENT | CA_EKU_SERVER);
}

static void
test_names(void)
{
    CU_ASSERT_TRUE(ca_name_is_valid("alice"));
    CU_ASSERT_TRUE(ca_name_is_valid("Alice.Smith_2-x"));
    CU_ASSERT_TRUE(ca_name_is_valid("dev-qj25a6dvy3namn6sduko2u27fp"));
    CU_ASSERT_FALSE(ca_name_is_valid(""));
    CU_ASSERT_FALSE(ca_name_is_valid("."));
    CU_ASSERT_FALSE(ca_name_is_valid(".."));
    CU_ASSERT_FALSE(ca_name_is_valid("-x"));
    CU_ASSERT_FALSE(ca_name_is_valid("a/b"));
    CU_ASSERT_FALSE(ca_name_is_valid("a b"));
    CU_ASSERT_FALSE(ca_name_is_valid("al%2fice"));
    CU_ASSERT_FALSE(ca_name_is_valid("alice@corp"));
    CU_ASSERT_FALSE(ca_name_is_valid("\xc3\xa9"));
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    CU_ASSERT_TRUE(ca_name_is_valid(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    CU_ASSERT_FALSE(ca_name_is_valid(long_name));

    CU_ASSERT_TRUE(ca_trust_domain_is_valid("corp.example"));
    CU_ASSERT_TRUE(ca_trust_domain_is_valid("a_b-c.d"));
    CU_ASSERT_FALSE(ca_trust_domain_is_valid("Corp.example"));
    CU_ASSERT_FALSE(ca_trust_domain_is_valid(".corp"));
    CU_ASSERT_FALSE(ca_trust_domain_is_valid("corp."));
    CU_ASSERT_FALSE(ca_trust_domain_is_valid("a..b"));
    CU_ASSERT_FALSE(ca_trust_domain_is_valid("a/b"));
    CU_ASSERT_FALSE(ca_trust_domain_is_valid("a:80"));
    CU_ASSERT_FALSE(ca_trust_domain_is_valid(""));

    CU_ASSERT_TRUE(ca_workload_path_is_valid("github/org/repo/refs/heads/main"));
    CU_ASSERT_FALSE(ca_workload_path_is_valid("github//repo"));
    CU_ASSERT_FALSE(ca_workload_path_is_valid("/github"));
    CU_ASSERT_FALSE(ca_workload_path_is_valid("github/"));
    CU_ASSERT_FALSE(ca_workload_path_is_valid("a/../b"));
    CU_ASSERT_FALSE(ca_workload_path_is_valid("a/b?c"));

    CU_ASSERT_TRUE(ca_host_is_valid("localhost"));
    CU_ASSERT_TRUE(ca_host_is_valid("ca.corp.example"));
    CU_ASSERT_TRUE(ca_host_is_valid("127.0.0.1"));
    CU_ASSERT_TRUE(ca_host_is_valid("::1"));
    CU_ASSERT_FALSE(ca_host_is_valid("-bad.example"));
    CU_ASSERT_FALSE(ca_host_is_valid("bad-.example"));
    CU_ASSERT_FALSE(ca_host_is_valid("a..b"));
    CU_ASSERT_FALSE(ca_host_is_valid("under_score.example"));
    CU_ASSERT_FALSE(ca_host_is_valid(""));

    CU_ASSERT_TRUE(ca_url_is_valid("http://127.0.0.1:8080"));
    CU_ASSERT_TRUE(ca_url_is_valid("https://[::1]:8443"));
    CU_ASSERT_TRUE(ca_url_is_valid("http://ca.example/ztca"));
    CU_ASSERT_FALSE(ca_url_is_valid("http://ca.example/"));
    CU_ASSERT_FALSE(ca_url_is_valid("http://ca.example:0"));
    CU_ASSERT_FALSE(ca_url_is_valid("http://ca.example:65536"));
    CU_ASSERT_FALSE(ca_url_is_valid("http://ca.example/a?b=c"));
    CU_ASSERT_FALSE(ca_url_is_valid("ftp://ca.example"));
    CU_ASSERT_FALSE(ca_url_is_valid("http://"));
    char host[64];
    UNIT_ASSERT_OK(ca_url_host(host, sizeof(host), "https://[::1]:8443"));
    CU_ASSERT_STRING_EQUAL(host, "::1");
    UNIT_ASSERT_OK(ca_url_host(host, sizeof(host), "http://ca.example/x"));
    CU_ASSERT_STRING_EQUAL(host, "ca.example");
}

static void
test_device_id(void)
{
    size_t spki_len = 0, want_len = 0;
    uint8_t *spki = test_data("key_p256_spki.der", &spki_len);
    uint8_t *want = test_data("device_id_p256.txt", &want_len);
    char id[40];
    UNIT_ASSERT_OK(ca_device_id_from_spki(id, sizeof(id), spki, spki_len));
    CU_ASSERT_EQUAL(strlen(id), 30);
    /* The vector was computed by python's base64.b32encode (tests/data/regen.sh). */
    CU_ASSERT_EQUAL(want_len, 31);
    CU_ASSERT_NSTRING_EQUAL(id, want, 30);
    UNIT_ASSERT_ERR(ca_device_id_from_spki(id, 30, spki, spki_len), ZTCA_ERR_INTERNAL);
    free(spki);
    free(want);
}

static void
test_attestation_names(void)
{
    ca_attestation a;
    for (int i = 0; i <= 3; i++) {
        UNIT_ASSERT_OK(ca_attestation_parse(&a, ca_attestation_name((ca_attestation)i)));
        CU_ASSERT_EQUAL((int)a, i);
    }
    UNIT_ASSERT_ERR(ca_attestation_parse(&a, "TPM"), ZTCA_ERR_BAD_INPUT);
}

/* ---- keys ---------------------------------------------------------------------------------- */

static void
test_key_roundtrip(void)
{
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    static const uint8_t pass[] = "correct horse battery staple";
    for (int t = 0; t < 2; t++) {
        ca_key_type type = t == 0 ? CA_KEY_P256 : CA_KEY_P384;
        ca_key *key = NULL, *back = NULL;
        uint8_t *spki = NULL, *spki2 = NULL;
        size_t spki_len = 0, spki2_len = 0;
        char *pem = NULL;
        size_t pem_len = 0;
        UNIT_ASSERT_OK(ca_key_generate(&key, rng, type));
        CU_ASSERT_EQUAL(ca_key_get_type(key), type);
        UNIT_ASSERT_OK(ca_key_spki(key, &spki, &spki_len));

        /* plain PKCS#8 */
        UNIT_ASSERT_OK(ca_key_write_pem(&pem, &pem_len, key, rng, NULL, 0));
        CU_ASSERT_EQUAL(strlen(pem), pem_len);
        CU_ASSERT_PTR_NOT_NULL(strstr(pem, "-----BEGIN PRIVATE KEY-----\n"));
        UNIT_ASSERT_OK(ca_key_parse(&back, (uint8_t *)pem, pem_len, NULL, 0));
        UNIT_ASSERT_OK(ca_key_spki(back, &spki2, &spki2_len));
        CU_ASSERT_TRUE(spki_len == spki2_len && memcmp(spki, spki2, spki_len) == 0);
        ca_key_free(back);
        free(spki2);
        ztca_free_secret(pem, pem_len);

        /* encrypted PKCS#8 */
        UNIT_ASSERT_OK(ca_key_write_pem(&pem, &pem_len, key, rng, pass, sizeof(pass) - 1));
        CU_ASSERT_PTR_NOT_NULL(strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        back = NULL;
        UNIT_ASSERT_ERR(ca_key_parse(&back, (uint8_t *)pem, pem_len, NULL, 0), ZTCA_ERR_DENIED);
        UNIT_ASSERT_ERR(ca_key_parse(&back, (uint8_t *)pem, pem_len, (const uint8_t *)"wrong", 5),
                        ZTCA_ERR_DENIED);
        CU_ASSERT_PTR_NULL(back);
        UNIT_ASSERT_OK(ca_key_parse(&back, (uint8_t *)pem, pem_len, pass, sizeof(pass) - 1));
        UNIT_ASSERT_OK(ca_key_spki(back, &spki2, &spki2_len));
        CU_ASSERT_TRUE(spki_len == spki2_len && memcmp(spki, spki2, spki_len) == 0);
        ca_key_free(back);
        free(spki2);
        ztca_free_secret(pem, pem_len);
        free(spki);
        ca_key_free(key);
    }
    ca_rng_free(rng);
}

static void
test_key_openssl_vectors(void)
{
    static const struct {
        const char *file;
        const char *pass;
        const char *spki; /* expected public key, or NULL */
        ztca_err err;
    } cases[] = {
        { "key_p384_pkcs8_aes256.pem", "correct-horse", "key_p384_spki.der", ZTCA_OK },
        { "key_p256_pkcs8_aes128_sha1.pem", "correct-horse", "key_p256_spki.der", ZTCA_OK },
        { "key_p256_pkcs8.pem", NULL, "key_p256_spki.der", ZTCA_OK },
        { "key_p384_sec1.pem", NULL, "key_p384_spki.der", ZTCA_OK },
        { "key_p384_pkcs8_aes256.pem", "Correct-horse", NULL, ZTCA_ERR_DENIED },
        { "key_p384_pkcs8_aes256.pem", NULL, NULL, ZTCA_ERR_DENIED },
        { "key_rsa2048_pkcs8.pem", NULL, NULL, ZTCA_ERR_UNSUPPORTED },
        { "key_p521_pkcs8.pem", NULL, NULL, ZTCA_ERR_UNSUPPORTED },
        { "csr_p256.pem", NULL, NULL, ZTCA_ERR_BAD_INPUT },
        /* found by fuzz_key: a public point that is not the private scalar's */
        { "key_p256_mismatched_pub.pem", NULL, NULL, ZTCA_ERR_BAD_INPUT },
        { "key_p256_scalar_changed.pem", NULL, NULL, ZTCA_ERR_BAD_INPUT },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        uint8_t *pem = test_data(cases[i].file, &len);
        ca_key *key = NULL;
        const char *pass = cases[i].pass;
        ztca_rc rc =
            ca_key_parse(&key, pem, len, (const uint8_t *)pass, pass != NULL ? strlen(pass) : 0);
        CU_ASSERT_EQUAL(rc.err, cases[i].err);
        if (rc.err != cases[i].err) {
            fprintf(stderr, "case %s: got %s (%s)\n", cases[i].file, ztca_err_name(rc.err),
                    ztca_last_what());
        }
        if (cases[i].spki != NULL && ZTCA_IS_OK(rc)) {
            size_t want_len = 0, got_len = 0;
            uint8_t *want = test_data(cases[i].spki, &want_len);
            uint8_t *got = NULL;
            UNIT_ASSERT_OK(ca_key_spki(key, &got, &got_len));
            CU_ASSERT_TRUE(want_len == got_len && memcmp(want, got, got_len) == 0);
            free(want);
            free(got);
        }
        ca_key_free(key);
        free(pem);
    }
}

static void
test_sign_verify(void)
{
    /* The same checks on every backend built in (test_crypto.c crosses them). */
    static const ca_crypto_backend backends[] = { CA_CRYPTO_MBEDTLS, CA_CRYPTO_OPENSSL };
    ca_rng *rng = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
        ca_crypto_backend be = backends[b];
        if (!ca_crypto_backend_is_available(be)) {
            continue;
        }
        for (int t = 0; t < 2; t++) {
            ca_key *key = NULL;
            ca_signer *s = NULL;
            UNIT_ASSERT_OK(ca_key_generate(&key, rng, t == 0 ? CA_KEY_P256 : CA_KEY_P384));
            UNIT_ASSERT_OK(ca_signer_new_with(&s, key, rng, be));
            CU_ASSERT_EQUAL(ca_signer_backend(s), be);
            ca_md md = ca_signer_md(s);
            CU_ASSERT_EQUAL(md, t == 0 ? CA_MD_SHA256 : CA_MD_SHA384);
            uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
            size_t sig_len = 0, spki_len = 0;
            size_t hlen = ca_md_size(md);
            UNIT_ASSERT_OK(ca_hash(md, (const uint8_t *)"abc", 3, hash, sizeof(hash)));
            UNIT_ASSERT_OK(ca_signer_sign(s, md, hash, hlen, sig, sizeof(sig), &sig_len));
            const uint8_t *spki = ca_signer_spki(s, &spki_len);
            UNIT_ASSERT_OK(
                ca_verify_with(be, spki, spki_len, CA_SIG_ECDSA, md, hash, hlen, sig, sig_len));
            hash[0] ^= 1;
            UNIT_ASSERT_ERR(
                ca_verify_with(be, spki, spki_len, CA_SIG_ECDSA, md, hash, hlen, sig, sig_len),
                ZTCA_ERR_CRYPTO);
            hash[0] ^= 1;
            UNIT_ASSERT_ERR(
                ca_verify_with(be, spki, spki_len, CA_SIG_RSA_PKCS1, md, hash, hlen, sig, sig_len),
                ZTCA_ERR_CRYPTO);
            UNIT_ASSERT_ERR(
                ca_verify_with(be, spki, spki_len - 1, CA_SIG_ECDSA, md, hash, hlen, sig, sig_len),
                ZTCA_ERR_BAD_INPUT);
            /* the signature's AlgorithmIdentifier: ecdsa-with-SHA256/384, parameters absent */
            size_t alg_len = 0;
            const uint8_t *alg = ca_signer_sig_alg(s, &alg_len);
            CU_ASSERT_EQUAL(alg_len, 12);
            CU_ASSERT_EQUAL(alg[0], 0x30);
            CU_ASSERT_EQUAL(alg[11], t == 0 ? 0x02 : 0x03);
            ca_signer_free(s);
        }
    }
    /* SHA-256("abc"), FIPS 180-2 B.1 */
    static const uint8_t abc256[32] = { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                        0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
    uint8_t h[64];
    UNIT_ASSERT_OK(ca_hash(CA_MD_SHA256, (const uint8_t *)"abc", 3, h, sizeof(h)));
    CU_ASSERT_EQUAL(memcmp(h, abc256, 32), 0);
    UNIT_ASSERT_ERR(ca_hash(CA_MD_SHA384, (const uint8_t *)"abc", 3, h, 47), ZTCA_ERR_INTERNAL);
    ca_rng_free(rng);
}

/* ---- CSR intake ---------------------------------------------------------------------------- */

static void
test_csr_vectors(void)
{
    static const struct {
        const char *file;
        ztca_err err;
        const char *key_name;
        size_t bits;
    } cases[] = {
        { "csr_p256.der", ZTCA_OK, "P-256", 256 },
        { "csr_p256.pem", ZTCA_OK, "P-256", 256 },
        { "csr_p384.der", ZTCA_OK, "P-384", 384 },
        { "csr_rsa2048.der", ZTCA_OK, "RSA", 2048 },
        { "csr_rsa4096.der", ZTCA_OK, "RSA", 4096 },
        { "csr_rsa2048_pss.der", ZTCA_OK, "RSA", 2048 },
        { "csr_rsa1024.der", ZTCA_ERR_UNSUPPORTED, NULL, 0 },
        { "csr_rsa8192.der", ZTCA_ERR_UNSUPPORTED, NULL, 0 },
        { "csr_p521.der", ZTCA_ERR_UNSUPPORTED, NULL, 0 },
        { "csr_secp256k1.der", ZTCA_ERR_UNSUPPORTED, NULL, 0 },
        { "csr_ed25519.der", ZTCA_ERR_UNSUPPORTED, NULL, 0 },
        { "csr_p256_sha1.der", ZTCA_ERR_UNSUPPORTED, NULL, 0 },
        { "csr_p256_badsig.der", ZTCA_ERR_CRYPTO, NULL, 0 },
        { "csr_p256_trailing.der", ZTCA_ERR_BAD_INPUT, NULL, 0 },
        { "csr_two_blocks.pem", ZTCA_ERR_BAD_INPUT, NULL, 0 },
        { "key_p256_pkcs8.pem", ZTCA_ERR_BAD_INPUT, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        uint8_t *buf = test_data(cases[i].file, &len);
        uint8_t *exact = unit_dup(buf, len);
        ca_csr csr;
        ca_csr_init(&csr);
        ztca_rc rc = ca_csr_parse(&csr, exact, len);
        if (rc.err != cases[i].err) {
            fprintf(stderr, "case %s: got %s (%s)\n", cases[i].file, ztca_err_name(rc.err),
                    ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, cases[i].err);
        if (ZTCA_IS_OK(rc)) {
            CU_ASSERT_STRING_EQUAL(csr.key.name, cases[i].key_name);
            CU_ASSERT_EQUAL(csr.key.bits, cases[i].bits);
            CU_ASSERT_TRUE(csr.spki_len > 0 && csr.spki[0] == 0x30);
        } else {
            CU_ASSERT_PTR_NULL(csr.spki);
        }
        ca_csr_free(&csr);
        free(exact);
        free(buf);
    }
}

static void
test_csr_every_prefix(void)
{
    size_t len = 0;
    uint8_t *der = test_data("csr_p256.der", &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *exact = unit_dup(der, n);
        ca_csr csr;
        ca_csr_init(&csr);
        ztca_rc rc = ca_csr_parse(&csr, exact, n);
        CU_ASSERT_NOT_EQUAL(rc.err, ZTCA_OK);
        ca_csr_free(&csr);
        free(exact);
    }
    free(der);
}

/* ---- issuance ------------------------------------------------------------------------------ */

static void
test_pki_create(void)
{
    test_ca t;
    test_ca_open(&t, CA_KEY_P256);
    /* Every certificate of the PKI chains to the root in mbedTLS's verifier. */
    const char *leaves[] = { t.pki.ocsp_cert_pem, t.pki.server_cert_pem, t.pki.admin_cert_pem };
    for (size_t i = 0; i < 3; i++) {
        uint8_t *der = NULL;
        size_t der_len = 0;
        UNIT_ASSERT_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE",
                                           (const uint8_t *)leaves[i], strlen(leaves[i])));
        mbedtls_x509_crt leaf;
        mbedtls_x509_crt_init(&leaf);
        CU_ASSERT_EQUAL(mbedtls_x509_crt_parse_der(&leaf, der, der_len), 0);
        CU_ASSERT_EQUAL(mbedtls_x509_crt_parse_der(&leaf, t.chain.raw.p, t.chain.raw.len), 0);
        uint32_t flags = 0;
        mbedtls_x509_crt_verify(&leaf, &t.root, NULL, NULL, &flags, NULL, NULL);
        flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
        CU_ASSERT_EQUAL(flags, 0);
        mbedtls_x509_crt_free(&leaf);
        free(der);
    }
    /* Root: 10 years; intermediate: 2 years, both backdated one minute. */
    ca_cert_fields f;
    UNIT_ASSERT_OK(ca_cert_split(&f, t.root.raw.p, t.root.raw.len));
    CU_ASSERT_EQUAL(f.not_before, T0 - CA_BACKDATE);
    CU_ASSERT_EQUAL(f.not_after, T0 + CA_ROOT_TTL);
    CU_ASSERT_EQUAL(ca_issuer_not_after(t.issuer), T0 + CA_INTERMEDIATE_TTL);
    CU_ASSERT_TRUE(t.root.ca_istrue);
    CU_ASSERT_EQUAL(t.chain.max_pathlen, 1); /* mbedTLS stores pathLenConstraint + 1 */
    CU_ASSERT_EQUAL(strlen(t.pki.root_serial), 32);
    test_ca_close(&t);
}

/* ztca-identity ::= SEQUENCE { deviceId UTF8String, user UTF8String OPTIONAL, ENUMERATED } */
static void
test_check_identity(const uint8_t *der, size_t der_len, const char *device, const char *user,
                    uint32_t level)
{
    ca_cert_fields f;
    der_cur v, seq, s;
    bool critical = true;
    uint32_t got = 99;
    UNIT_ASSERT_OK(ca_cert_split(&f, der, der_len));
    UNIT_ASSERT_OK(ca_cert_find_ext(&f, CA_OID_ZTCA_IDENTITY, sizeof(CA_OID_ZTCA_IDENTITY) - 1, &v,
                                    &critical));
    CU_ASSERT_FALSE(critical);
    UNIT_ASSERT_OK(der_get(&v, &seq, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&v));
    UNIT_ASSERT_OK(der_get(&seq, &s, DER_UTF8STRING));
    CU_ASSERT_TRUE(s.len == strlen(device) && memcmp(s.p, device, s.len) == 0);
    if (user != NULL) {
        UNIT_ASSERT_OK(der_get(&seq, &s, DER_UTF8STRING));
        CU_ASSERT_TRUE(s.len == strlen(user) && memcmp(s.p, user, s.len) == 0);
    }
    UNIT_ASSERT_OK(der_get_enumerated(&seq, &got));
    CU_ASSERT_EQUAL(got, level);
    UNIT_ASSERT_OK(der_expect_end(&seq));
}

static void
test_issue_profiles(void)
{
    test_ca t;
    test_ca_open(&t, CA_KEY_P256);
    ca_issued c;

    ca_issue_req dev = { .profile = ca_profile_get(CA_PROFILE_DEVICE) };
    dev.id.device_id = "dev-abc";
    dev.id.attestation = CA_ATTEST_TPM;
    ca_issued_init(&c);
    UNIT_ASSERT_OK(test_issue(&t, &c, &dev));
    CU_ASSERT_STRING_EQUAL(c.uri, "spiffe://corp.example/device/dev-abc");
    CU_ASSERT_EQUAL(c.not_before, T0 - 60);
    CU_ASSERT_EQUAL(c.not_after, T0 + 86400);
    CU_ASSERT_EQUAL(test_verify(&t, c.der, c.der_len), 0);
    CU_ASSERT_TRUE(c.serial[0] != 0 && (c.serial[0] & 0x80) == 0);
    CU_ASSERT_EQUAL(strlen(c.serial_hex), 32);
    test_check_identity(c.der, c.der_len, "dev-abc", NULL, CA_ATTEST_TPM);
    {
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        CU_ASSERT_EQUAL(mbedtls_x509_crt_parse_der(&crt, c.der, c.der_len), 0);
        CU_ASSERT_EQUAL(crt.serial.len, 16);
        CU_ASSERT_EQUAL(memcmp(crt.serial.p, c.serial, 16), 0);
        CU_ASSERT_EQUAL(mbedtls_x509_crt_check_extended_key_usage(
                            &crt, MBEDTLS_OID_CLIENT_AUTH, sizeof(MBEDTLS_OID_CLIENT_AUTH) - 1),
                        0);
        CU_ASSERT_EQUAL(mbedtls_x509_crt_check_extended_key_usage(
                            &crt, MBEDTLS_OID_SERVER_AUTH, sizeof(MBEDTLS_OID_SERVER_AUTH) - 1),
                        0);
        CU_ASSERT_EQUAL(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE),
                        0);
        CU_ASSERT_NOT_EQUAL(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN),
                            0);
        CU_ASSERT_FALSE(crt.ca_istrue);
        mbedtls_x509_crt_free(&crt);
    }
    ca_issued_free(&c);

    ca_issue_req agent = { .profile = ca_profile_get(CA_PROFILE_AGENT), .ttl = 3600 };
    agent.id.device_id = "dev-abc";
    agent.id.user = "alice";
    agent.id.attestation = CA_ATTEST_SOFTWARE;
    UNIT_ASSERT_OK(test_issue(&t, &c, &agent));
    CU_ASSERT_STRING_EQUAL(c.uri, "spiffe://corp.example/agent/dev-abc/alice");
    CU_ASSERT_EQUAL(c.not_after, T0 + 3600);
    test_check_identity(c.der, c.der_len, "dev-abc", "alice", CA_ATTEST_SOFTWARE);
    CU_ASSERT_EQUAL(test_verify(&t, c.der, c.der_len), 0);
    ca_issued_free(&c);

    ca_issue_req wl = { .profile = ca_profile_get(CA_PROFILE_WORKLOAD) };
    wl.id.workload = "github/org/repo/refs/heads/main";
    UNIT_ASSERT_OK(test_issue(&t, &c, &wl));
    CU_ASSERT_STRING_EQUAL(c.uri, "spiffe://corp.example/workload/github/org/repo/refs/heads/main");
    CU_ASSERT_EQUAL(c.not_after, T0 + 900);
    {
        ca_cert_fields f;
        der_cur v;
        UNIT_ASSERT_OK(ca_cert_split(&f, c.der, c.der_len));
        UNIT_ASSERT_ERR(
            ca_cert_find_ext(&f, CA_OID_ZTCA_IDENTITY, sizeof(CA_OID_ZTCA_IDENTITY) - 1, &v, NULL),
            ZTCA_ERR_NOT_FOUND);
    }
    ca_issued_free(&c);

    ca_issue_req admin = { .profile = ca_profile_get(CA_PROFILE_ADMIN) };
    admin.id.user = "bob";
    UNIT_ASSERT_OK(test_issue(&t, &c, &admin));
    CU_ASSERT_STRING_EQUAL(c.uri, "spiffe://corp.example/admin/bob");
    CU_ASSERT_EQUAL(c.not_after, T0 + 30 * 86400);
    ca_issued_free(&c);

    /* A CA configured without ztca-identity (for Go and older python relying parties). */
    t.cfg.identity_extension = false;
    UNIT_ASSERT_OK(test_issue(&t, &c, &agent));
    {
        ca_cert_fields f;
        der_cur v;
        UNIT_ASSERT_OK(ca_cert_split(&f, c.der, c.der_len));
        UNIT_ASSERT_ERR(
            ca_cert_find_ext(&f, CA_OID_ZTCA_IDENTITY, sizeof(CA_OID_ZTCA_IDENTITY) - 1, &v, NULL),
            ZTCA_ERR_NOT_FOUND);
    }
    CU_ASSERT_STRING_EQUAL(c.uri, "spiffe://corp.example/agent/dev-abc/alice");
    ca_issued_free(&c);
    t.cfg.identity_extension = true;

    /* refusals: nothing is returned */
    ca_issue_req bad = agent;
    bad.id.user = NULL;
    UNIT_ASSERT_ERR(test_issue(&t, &c, &bad), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(c.der);
    bad.id.user = "../root";
    UNIT_ASSERT_ERR(test_issue(&t, &c, &bad), ZTCA_ERR_BAD_INPUT);
    bad = agent;
    bad.ttl = 86400 + 1;
    UNIT_ASSERT_ERR(test_issue(&t, &c, &bad), ZTCA_ERR_DENIED);
    bad = dev;
    bad.id.device_id = "dev/abc";
    UNIT_ASSERT_ERR(test_issue(&t, &c, &bad), ZTCA_ERR_BAD_INPUT);
    bad = wl;
    bad.id.workload = "a//b";
    UNIT_ASSERT_ERR(test_issue(&t, &c, &bad), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(c.der);

    /* A leaf never outlives its issuer: near the intermediate's end the TTL is cut short. */
    ca_issue_req late = dev;
    late.now = ca_issuer_not_after(t.issuer) - 3600;
    UNIT_ASSERT_OK(test_issue(&t, &c, &late));
    CU_ASSERT_EQUAL(c.not_after, ca_issuer_not_after(t.issuer));
    ca_issued_free(&c);
    late.now = ca_issuer_not_after(t.issuer) + 1;
    UNIT_ASSERT_ERR(test_issue(&t, &c, &late), ZTCA_ERR_DENIED);

    /* A key ztca refuses to certify. */
    size_t len = 0;
    uint8_t *csr_der = test_data("csr_rsa1024.der", &len);
    der_cur cur = der_cur_make(csr_der, len), req, info, spki, skip;
    UNIT_ASSERT_OK(der_get(&cur, &req, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get(&req, &info, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_any(&info, NULL, NULL, &skip));
    UNIT_ASSERT_OK(der_get_any(&info, NULL, NULL, &skip));
    UNIT_ASSERT_OK(der_get_element(&info, &spki, DER_SEQUENCE));
    ca_issue_req weak = dev;
    weak.spki = spki.p;
    weak.spki_len = spki.len;
    weak.now = T0;
    UNIT_ASSERT_ERR(ca_issue(&c, t.issuer, &t.cfg, t.rng, &weak), ZTCA_ERR_UNSUPPORTED);
    free(csr_der);
    test_ca_close(&t);
}

static void
test_issue_p384_ca(void)
{
    test_ca t;
    test_ca_open(&t, CA_KEY_P384);
    ca_issued c;
    ca_issue_req dev = { .profile = ca_profile_get(CA_PROFILE_DEVICE) };
    dev.id.device_id = "dev-p384";
    UNIT_ASSERT_OK(test_issue(&t, &c, &dev));
    CU_ASSERT_EQUAL(test_verify(&t, c.der, c.der_len), 0);
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    CU_ASSERT_EQUAL(mbedtls_x509_crt_parse_der(&crt, c.der, c.der_len), 0);
    CU_ASSERT_EQUAL(crt.sig_md, MBEDTLS_MD_SHA384);
    mbedtls_x509_crt_free(&crt);
    ca_issued_free(&c);
    test_ca_close(&t);
}

/* ca_trust_check_client: ours, valid, clientAuth -> OK; everything else refused with a reason.
 * Also the signal-feeder and pep identities. */
static void
test_trust_check_client(void)
{
    test_ca t, other;
    test_ca_open(&t, CA_KEY_P256);
    test_ca_open(&other, CA_KEY_P256);
    ca_trust *tr = NULL;
    const uint8_t *cas[1] = { t.chain.raw.p };
    size_t lens[1] = { t.chain.raw.len };
    UNIT_ASSERT_OK(ca_trust_new(&tr, cas, lens, 1));
    const char *why = NULL;

    ca_issued c, o, f, p, srv;
    ca_issue_req agent = { .profile = ca_profile_get(CA_PROFILE_AGENT) };
    agent.id.device_id = "dev-abc";
    agent.id.user = "alice";
    UNIT_ASSERT_OK(test_issue(&t, &c, &agent));
    UNIT_ASSERT_OK(ca_trust_check_client(tr, c.der, c.der_len, T0, &why));
    CU_ASSERT_STRING_EQUAL(why, "");
    UNIT_ASSERT_ERR(ca_trust_check_client(tr, c.der, c.der_len, c.not_after + 1, &why),
                    ZTCA_ERR_DENIED);
    CU_ASSERT_STRING_EQUAL(why, "expired");
    UNIT_ASSERT_ERR(ca_trust_check_client(tr, c.der, c.der_len, c.not_before - 1, &why),
                    ZTCA_ERR_DENIED);
    CU_ASSERT_STRING_EQUAL(why, "not yet valid");
    /* Every prefix and trailing data: not a certificate. */
    for (size_t n = 0; n < c.der_len; n += 7) {
        uint8_t *cut = unit_dup(c.der, n);
        UNIT_ASSERT_ERR(ca_trust_check_client(tr, cut, n, T0, &why), ZTCA_ERR_BAD_INPUT);
        free(cut);
    }
    uint8_t *longer = malloc(c.der_len + 1);
    memcpy(longer, c.der, c.der_len);
    longer[c.der_len] = 0;
    UNIT_ASSERT_ERR(ca_trust_check_client(tr, longer, c.der_len + 1, T0, &why), ZTCA_ERR_BAD_INPUT);
    /* One flipped bit in the signature. */
    longer[c.der_len - 3] ^= 0x01;
    UNIT_ASSERT_ERR(ca_trust_check_client(tr, longer, c.der_len, T0, &why), ZTCA_ERR_DENIED);
    free(longer);

    /* The same names from another CA. */
    UNIT_ASSERT_OK(test_issue(&other, &o, &agent));
    UNIT_ASSERT_ERR(ca_trust_check_client(tr, o.der, o.der_len, T0, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not issued by this CA"));

    /* A server certificate of ours has no clientAuth. */
    const char *hosts[] = { "ca.corp.example" };
    ca_issue_req server = { .profile = ca_profile_get(CA_PROFILE_SERVER) };
    server.id.hosts = hosts;
    server.id.num_hosts = 1;
    UNIT_ASSERT_OK(test_issue(&t, &srv, &server));
    UNIT_ASSERT_ERR(ca_trust_check_client(tr, srv.der, srv.der_len, T0, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "clientAuth"));

    /* The two least-privilege identities. */
    ca_issue_req feeder = { .profile = ca_profile_get(CA_PROFILE_FEEDER) };
    feeder.id.user = "crowdstrike";
    UNIT_ASSERT_OK(test_issue(&t, &f, &feeder));
    CU_ASSERT_STRING_EQUAL(f.uri, "spiffe://corp.example/signal-feeder/crowdstrike");
    CU_ASSERT_EQUAL(f.not_after, T0 + 30 * 86400);
    ca_issue_req pep = { .profile = ca_profile_get(CA_PROFILE_PEP) };
    pep.id.user = "nginx-1";
    UNIT_ASSERT_OK(test_issue(&t, &p, &pep));
    CU_ASSERT_STRING_EQUAL(p.uri, "spiffe://corp.example/pep/nginx-1");
    ca_spiffe id;
    UNIT_ASSERT_OK(ca_spiffe_parse(&id, f.uri, "corp.example"));
    CU_ASSERT_EQUAL(id.kind, CA_PROFILE_FEEDER);
    CU_ASSERT_STRING_EQUAL(id.user, "crowdstrike");
    UNIT_ASSERT_OK(ca_spiffe_parse(&id, p.uri, "corp.example"));
    CU_ASSERT_EQUAL(id.kind, CA_PROFILE_PEP);
    UNIT_ASSERT_ERR(ca_spiffe_parse(&id, "spiffe://corp.example/pep/", "corp.example"),
                    ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(ca_spiffe_parse(&id, "spiffe://corp.example/signal-feeder/a/b", "corp.example"),
                    ZTCA_ERR_BAD_INPUT);
    feeder.id.user = NULL;
    ca_issued bad;
    ca_issued_init(&bad);
    UNIT_ASSERT_ERR(test_issue(&t, &bad, &feeder), ZTCA_ERR_BAD_INPUT);
    ca_issued_free(&bad);
    UNIT_ASSERT_ERR(ca_trust_new(&tr, cas, lens, 0), ZTCA_ERR_BAD_INPUT);

    ca_issued_free(&c);
    ca_issued_free(&o);
    ca_issued_free(&f);
    ca_issued_free(&p);
    ca_issued_free(&srv);
    ca_trust_free(tr);
    test_ca_close(&t);
    test_ca_close(&other);
}

static void
test_issuer_mismatch(void)
{
    /* An intermediate certificate with someone else's key must not become an issuer. */
    test_ca t;
    test_ca_open(&t, CA_KEY_P256);
    ca_key *other = NULL;
    ca_signer *s = NULL;
    ca_issuer *iss = NULL;
    UNIT_ASSERT_OK(ca_key_generate(&other, t.rng, CA_KEY_P256));
    UNIT_ASSERT_OK(ca_signer_new(&s, other, t.rng));
    UNIT_ASSERT_ERR(ca_issuer_new(&iss, t.chain.raw.p, t.chain.raw.len, s), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(iss);
    /* and a leaf certificate is not a CA */
    uint8_t *der = NULL;
    size_t der_len = 0;
    UNIT_ASSERT_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE",
                                       (const uint8_t *)t.pki.admin_cert_pem,
                                       strlen(t.pki.admin_cert_pem)));
    UNIT_ASSERT_ERR(ca_issuer_new(&iss, der, der_len, s), ZTCA_ERR_BAD_INPUT);
    free(der);
    ca_signer_free(s);
    test_ca_close(&t);
}

static void
test_cert_split_every_prefix(void)
{
    test_ca t;
    test_ca_open(&t, CA_KEY_P256);
    const uint8_t *der = t.chain.raw.p;
    size_t len = t.chain.raw.len;
    ca_cert_fields f;
    UNIT_ASSERT_OK(ca_cert_split(&f, der, len));
    for (size_t n = 0; n < len; n++) {
        uint8_t *exact = unit_dup(der, n);
        CU_ASSERT_EQUAL(ca_cert_split(&f, exact, n).err, ZTCA_ERR_BAD_INPUT);
        free(exact);
    }
    uint8_t *trailing = malloc(len + 1);
    memcpy(trailing, der, len);
    trailing[len] = 0;
    UNIT_ASSERT_ERR(ca_cert_split(&f, trailing, len + 1), ZTCA_ERR_BAD_INPUT);
    free(trailing);
    test_ca_close(&t);
}

/* ---- configuration ------------------------------------------------------------------------- */

static void
test_config_roundtrip(void)
{
    ca_config cfg = test_config(), back;
    cfg.encrypted_keys = true;
    cfg.key_type = CA_KEY_P384;
    snprintf(cfg.store, sizeof(cfg.store), "sqlite:store/ztca.db");
    char *json = NULL;
    size_t len = 0;
    UNIT_ASSERT_OK(ca_config_write(&json, &len, &cfg));
    UNIT_ASSERT_OK(ca_config_parse(&back, (uint8_t *)json, len));
    CU_ASSERT_STRING_EQUAL(back.trust_domain, "corp.example");
    CU_ASSERT_STRING_EQUAL(back.public_url, cfg.public_url);
    CU_ASSERT_STRING_EQUAL(back.api_url, cfg.api_url);
    CU_ASSERT_STRING_EQUAL(back.store, "sqlite:store/ztca.db");
    CU_ASSERT_EQUAL(back.key_type, CA_KEY_P384);
    CU_ASSERT_TRUE(back.encrypted_keys);
    CU_ASSERT_TRUE(back.identity_extension);
    free(json);
    cfg.identity_extension = false;
    UNIT_ASSERT_OK(ca_config_write(&json, &len, &cfg));
    UNIT_ASSERT_OK(ca_config_parse(&back, (uint8_t *)json, len));
    CU_ASSERT_FALSE(back.identity_extension);
    free(json);

    static const char *const bad[] = {
        "",
        "[]",
        "{\"version\":1}",
        "{\"version\":2,\"trust_domain\":\"a\",\"public_url\":\"http://a\","
        "\"api_url\":\"https://a\",\"key_type\":\"p256\"}",
        "{\"version\":1,\"trust_domain\":\"A\",\"public_url\":\"http://a\","
        "\"api_url\":\"https://a\",\"key_type\":\"p256\"}",
        "{\"version\":1,\"trust_domain\":\"a\",\"public_url\":\"http://a/\","
        "\"api_url\":\"https://a\",\"key_type\":\"p256\"}",
        "{\"version\":1,\"trust_domain\":\"a\",\"public_url\":\"http://a\","
        "\"api_url\":\"http://a\",\"key_type\":\"p256\"}",
        "{\"version\":1,\"trust_domain\":\"a\",\"public_url\":\"http://a\","
        "\"api_url\":\"https://a\",\"key_type\":\"p521\"}",
        "{\"version\":1,\"trust_domain\":\"a\",\"trust_domain\":\"b\",\"public_url\":\"http://a\","
        "\"api_url\":\"https://a\",\"key_type\":\"p256\"}",
        "{\"version\":1,\"trust_domain\":7,\"public_url\":\"http://a\","
        "\"api_url\":\"https://a\",\"key_type\":\"p256\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ztca_rc rc = ca_config_parse(&back, (const uint8_t *)bad[i], strlen(bad[i]));
        CU_ASSERT_NOT_EQUAL(rc.err, ZTCA_OK);
    }
    const char *newer = bad[3];
    UNIT_ASSERT_ERR(ca_config_parse(&back, (const uint8_t *)newer, strlen(newer)),
                    ZTCA_ERR_UNSUPPORTED);
    const char *ok = "{\"version\":1,\"trust_domain\":\"a\",\"public_url\":\"http://a\","
                     "\"api_url\":\"https://a\",\"key_type\":\"p256\",\"other\":{\"x\":1}}";
    UNIT_ASSERT_OK(ca_config_parse(&back, (const uint8_t *)ok, strlen(ok)));
    CU_ASSERT_FALSE(back.encrypted_keys);
    CU_ASSERT_FALSE(back.identity_extension); /* absent means off (docs/certificates.md) */
    CU_ASSERT_STRING_EQUAL(back.store, "");
}

/* "rate_limits" (docs/hardening.md): defaults, values, round trip, refusals. */
static void
test_config_rate_limits(void)
{
#define CFG_HEAD                                                                                   \
    "{\"version\":1,\"trust_domain\":\"a\",\"public_url\":\"http://a\",\"api_url\":\"https://a\"," \
    "\"key_type\":\"p256\""
    ca_config cfg, back;
    const char *none = CFG_HEAD "}";
    UNIT_ASSERT_OK(ca_config_parse(&cfg, (const uint8_t *)none, strlen(none)));
    CU_ASSERT_EQUAL(cfg.rate_identity.rate, 0.2);
    CU_ASSERT_EQUAL(cfg.rate_identity.burst, 10);
    CU_ASSERT_EQUAL(cfg.rate_address.rate, 10.0);
    CU_ASSERT_EQUAL(cfg.rate_address.burst, 100);
    CU_ASSERT_TRUE(cfg.rate_exempt_loopback);

    const char *set = CFG_HEAD ",\"rate_limits\":{\"per_identity\":{\"rate\":0.5,\"burst\":3},"
                               "\"per_address\":{\"rate\":2,\"exempt_loopback\":false}}}";
    UNIT_ASSERT_OK(ca_config_parse(&cfg, (const uint8_t *)set, strlen(set)));
    CU_ASSERT_EQUAL(cfg.rate_identity.rate, 0.5);
    CU_ASSERT_EQUAL(cfg.rate_identity.burst, 3);
    CU_ASSERT_EQUAL(cfg.rate_address.rate, 2.0);
    CU_ASSERT_EQUAL(cfg.rate_address.burst, 100); /* absent: the default */
    CU_ASSERT_FALSE(cfg.rate_exempt_loopback);
    char *json = NULL;
    size_t len = 0;
    UNIT_ASSERT_OK(ca_config_write(&json, &len, &cfg));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"rate_limits\""));
    UNIT_ASSERT_OK(ca_config_parse(&back, (uint8_t *)json, len));
    CU_ASSERT_EQUAL(back.rate_identity.rate, 0.5);
    CU_ASSERT_EQUAL(back.rate_identity.burst, 3);
    CU_ASSERT_EQUAL(back.rate_address.rate, 2.0);
    CU_ASSERT_EQUAL(back.rate_address.burst, 100);
    CU_ASSERT_FALSE(back.rate_exempt_loopback);
    free(json);

    /* Rates are written as a person would: 15 significant digits, and kept to them. */
    ca_config_defaults(&cfg);
    snprintf(cfg.trust_domain, sizeof(cfg.trust_domain), "a");
    snprintf(cfg.public_url, sizeof(cfg.public_url), "http://a");
    snprintf(cfg.api_url, sizeof(cfg.api_url), "https://a");
    UNIT_ASSERT_OK(ca_config_write(&json, &len, &cfg));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"rate\": 0.2,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"rate\": 10.0,"));
    free(json);
    const char *sum =
        CFG_HEAD ",\"rate_limits\":{\"per_identity\":{\"rate\":0.30000000000000004}}}";
    UNIT_ASSERT_OK(ca_config_parse(&cfg, (const uint8_t *)sum, strlen(sum)));
    CU_ASSERT_EQUAL(cfg.rate_identity.rate, 0.3);

    const char *off = CFG_HEAD ",\"rate_limits\":{\"per_identity\":{\"rate\":0}}}";
    UNIT_ASSERT_OK(ca_config_parse(&cfg, (const uint8_t *)off, strlen(off)));
    CU_ASSERT_EQUAL(cfg.rate_identity.rate, 0.0);

    static const char *const bad[] = {
        CFG_HEAD ",\"rate_limits\":1}",
        CFG_HEAD ",\"rate_limits\":{\"per_identity\":[]}}",
        CFG_HEAD ",\"rate_limits\":{\"per_identity\":{\"rate\":-1}}}",
        CFG_HEAD ",\"rate_limits\":{\"per_identity\":{\"rate\":0.0001}}}",
        CFG_HEAD ",\"rate_limits\":{\"per_identity\":{\"rate\":1000001}}}",
        CFG_HEAD ",\"rate_limits\":{\"per_identity\":{\"rate\":\"1\"}}}",
        CFG_HEAD ",\"rate_limits\":{\"per_address\":{\"burst\":0}}}",
        CFG_HEAD ",\"rate_limits\":{\"per_address\":{\"burst\":1000001}}}",
        CFG_HEAD ",\"rate_limits\":{\"per_address\":{\"burst\":2.5}}}",
        CFG_HEAD ",\"rate_limits\":{\"per_address\":{\"exempt_loopback\":1}}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        UNIT_ASSERT_ERR(ca_config_parse(&back, (const uint8_t *)bad[i], strlen(bad[i])),
                        ZTCA_ERR_BAD_INPUT);
    }
#undef CFG_HEAD
}

/* ---- OOM ----------------------------------------------------------------------------------- */

static void
test_oom_issue(void)
{
    test_ca t;
    test_ca_open(&t, CA_KEY_P256);
    ca_key *key = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    UNIT_ASSERT_OK(ca_key_generate(&key, t.rng, CA_KEY_P256));
    UNIT_ASSERT_OK(ca_key_spki(key, &spki, &spki_len));
    ca_issue_req req = {
        .profile = ca_profile_get(CA_PROFILE_AGENT), .spki = spki, .spki_len = spki_len, .now = T0
    };
    req.id.device_id = "dev-oom";
    req.id.user = "alice";
    bool done = false;
    for (long n = 0; n < 200 && !done; n++) {
        ca_issued c;
        ca_issued_init(&c);
        ztca_alloc_fail_after(n);
        ztca_rc rc = ca_issue(&c, t.issuer, &t.cfg, t.rng, &req);
        ztca_alloc_fail_after(-1);
        if (ZTCA_IS_OK(rc)) {
            done = true;
            CU_ASSERT_EQUAL(test_verify(&t, c.der, c.der_len), 0);
        } else {
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_NOMEM);
            CU_ASSERT_PTR_NULL(c.der);
        }
        ca_issued_free(&c);
    }
    CU_ASSERT_TRUE(done);

    size_t len = 0;
    uint8_t *pem = test_data("csr_p256.pem", &len);
    done = false;
    for (long n = 0; n < 200 && !done; n++) {
        ca_csr csr;
        ca_csr_init(&csr);
        ztca_alloc_fail_after(n);
        ztca_rc rc = ca_csr_parse(&csr, pem, len);
        ztca_alloc_fail_after(-1);
        done = ZTCA_IS_OK(rc);
        if (!done) {
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_NOMEM);
        }
        ca_csr_free(&csr);
    }
    CU_ASSERT_TRUE(done);
    free(pem);
    free(spki);
    ca_key_free(key);
    test_ca_close(&t);
}

int
main(void)
{
    static const unit_test tests[] = {
        { "profile_caps", test_profile_caps },
        { "names", test_names },
        { "device_id", test_device_id },
        { "attestation_names", test_attestation_names },
        { "key_roundtrip", test_key_roundtrip },
        { "key_openssl_vectors", test_key_openssl_vectors },
        { "sign_verify", test_sign_verify },
        { "csr_vectors", test_csr_vectors },
        { "csr_every_prefix", test_csr_every_prefix },
        { "pki_create", test_pki_create },
        { "issue_profiles", test_issue_profiles },
        { "issue_p384_ca", test_issue_p384_ca },
        { "issuer_mismatch", test_issuer_mismatch },
        { "trust_check_client", test_trust_check_client },
        { "cert_split_every_prefix", test_cert_split_every_prefix },
        { "config_roundtrip", test_config_roundtrip },
        { "config_rate_limits", test_config_rate_limits },
        { "oom_issue", test_oom_issue },
        { NULL, NULL },
    };
    return unit_run("ca", tests);
}
