/* test_ca_ocsp.c: the CUnit suite of ca/'s OCSP and CRL codecs: the request decoder on requests
 * made by openssl and python3-cryptography (tests/data/ocsp/regen.sh), a table of named negatives
 * built one defect at a time, every prefix; the response and CRL encoders parsed back field by
 * field with the strict DER reader and mbedTLS, signatures checked with ca_verify over the exact
 * signed bytes, CRL revocation judged by mbedTLS's chain verifier; and OOM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/sha1.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "ca/ca.h"
#include "ca/internal.h"
#include "core/der.h"
#include "tests/unit/unit.h"

#define T0     ((ztca_time)1795000000) /* 2026-11-18T11:06:40Z: a fixed "now" */
#define T0_GT  "20261118110640Z"
#define T0_UTC "261118110640Z"

/* ---- fixtures ------------------------------------------------------------------------------ */

static uint8_t *
test_data(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/data/ocsp/%s", name);
    uint8_t *p = unit_read_file(path, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

static bool
test_cur_is(der_cur c, const void *p, size_t len)
{
    return c.len == len && memcmp(c.p, p, len) == 0;
}

static bool
test_cur_is_str(der_cur c, const char *s)
{
    return test_cur_is(c, s, strlen(s));
}

/* Whether all `len` bytes at `p` are `v` (a struct left untouched, padding included). */
static bool
test_bytes_are(const void *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++) {
        if (((const uint8_t *)p)[i] != v) {
            return false;
        }
    }
    return true;
}

/* Whether `needle` occurs in `hay` (memmem is a GNU extension). */
static bool
test_find(const void *hay, size_t hay_len, const void *needle, size_t n)
{
    for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++) {
        if (memcmp((const uint8_t *)hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* A GeneralizedTime string made without the DER writer (snprintf of ztca_time_to_tm). */
static void
test_gt(char out[16], ztca_time t)
{
    ztca_tm tm;
    UNIT_ASSERT_OK(ztca_time_to_tm(&tm, t));
    snprintf(out, 16, "%04d%02d%02d%02d%02d%02dZ", tm.year, tm.mon, tm.day, tm.hour, tm.min,
             tm.sec);
}

/* The hash of an SPKI's subjectPublicKey BIT STRING value, by mbedTLS's SHA-1 directly. */
static void
test_key_sha1(uint8_t out[20], const uint8_t *spki, size_t spki_len)
{
    der_cur c = der_cur_make(spki, spki_len), seq, alg, bits;
    UNIT_ASSERT_OK(der_get(&c, &seq, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get(&seq, &alg, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get(&seq, &bits, DER_BITSTRING));
    CU_ASSERT_FATAL(bits.len > 1 && bits.p[0] == 0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_sha1_ret(bits.p + 1, bits.len - 1, out), 0);
}

/* A CA of `ztca init` in memory: the intermediate as issuer, the OCSP signer with its cert. */
typedef struct test_pki {
    ca_rng *rng;
    ca_config cfg;
    ca_pki pki;
    ca_signer *ca_signer;
    ca_issuer *issuer;
    uint8_t *inter_der, *root_der, *ocsp_der;
    size_t inter_len, root_len, ocsp_len;
    ca_signer *ocsp_signer;
} test_pki;

static uint8_t *
test_pem_der(const char *pem, size_t *len)
{
    uint8_t *der = NULL;
    UNIT_ASSERT_OK(
        ztca_pem_decode_one(&der, len, "CERTIFICATE", (const uint8_t *)pem, strlen(pem)));
    return der;
}

static void
test_pki_open(test_pki *t)
{
    ca_key *key = NULL;
    memset(t, 0, sizeof(*t));
    snprintf(t->cfg.trust_domain, sizeof(t->cfg.trust_domain), "corp.example");
    snprintf(t->cfg.public_url, sizeof(t->cfg.public_url), "http://ca.corp.example:8080");
    snprintf(t->cfg.api_url, sizeof(t->cfg.api_url), "https://ca.corp.example:8443");
    t->cfg.key_type = CA_KEY_P256;
    ca_pki_init(&t->pki);
    UNIT_ASSERT_OK(ca_rng_new(&t->rng));
    ca_pki_params params = { .cfg = &t->cfg, .admin_user = "admin", .now = T0 };
    UNIT_ASSERT_OK(ca_pki_create(&t->pki, t->rng, &params, NULL, 0));
    UNIT_ASSERT_OK(ca_key_parse(&key, (const uint8_t *)t->pki.intermediate_key_pem,
                                t->pki.intermediate_key_len, NULL, 0));
    UNIT_ASSERT_OK(ca_signer_new(&t->ca_signer, key, t->rng));
    UNIT_ASSERT_OK(
        ca_key_parse(&key, (const uint8_t *)t->pki.ocsp_key_pem, t->pki.ocsp_key_len, NULL, 0));
    UNIT_ASSERT_OK(ca_signer_new(&t->ocsp_signer, key, t->rng));
    t->inter_der = test_pem_der(t->pki.intermediate_cert_pem, &t->inter_len);
    t->root_der = test_pem_der(t->pki.root_cert_pem, &t->root_len);
    t->ocsp_der = test_pem_der(t->pki.ocsp_cert_pem, &t->ocsp_len);
    UNIT_ASSERT_OK(ca_issuer_new(&t->issuer, t->inter_der, t->inter_len, t->ca_signer));
}

static void
test_pki_close(test_pki *t)
{
    ca_issuer_free(t->issuer);
    ca_signer_free(t->ca_signer);
    ca_signer_free(t->ocsp_signer);
    free(t->inter_der);
    free(t->root_der);
    free(t->ocsp_der);
    ca_pki_free(&t->pki);
    ca_rng_free(t->rng);
}

/* ---- request vectors from openssl and python3-cryptography --------------------------------- */

typedef struct req_vector {
    const char *file;
    ztca_err want;
    size_t num_ids;
    ca_md md;
    bool supported;
    const char *serials[3]; /* hex of the INTEGER contents, as DER has them */
    int nonce_len;          /* -1: none */
    const char *nonce_hex;  /* NULL: random (openssl's) */
    bool is_signed;
} req_vector;

static const req_vector req_vectors[] = {
    { "req_sha1_nonce.der",
      ZTCA_OK,
      1,
      CA_MD_SHA1,
      true,
      { "0102030405060708090a0b0c0d0e0f10" },
      16,
      NULL,
      false },
    { "req_sha1_no_nonce.der",
      ZTCA_OK,
      1,
      CA_MD_SHA1,
      true,
      { "0102030405060708090a0b0c0d0e0f10" },
      -1,
      NULL,
      false },
    { "req_sha256_nonce.der",
      ZTCA_OK,
      1,
      CA_MD_SHA256,
      true,
      { "0102030405060708090a0b0c0d0e0f10" },
      16,
      NULL,
      false },
    { "req_sha256_no_nonce.der",
      ZTCA_OK,
      1,
      CA_MD_SHA256,
      true,
      { "008899aabbccddeeff0011223344556677" },
      -1,
      NULL,
      false },
    { "req_multi_nonce.der",
      ZTCA_OK,
      3,
      CA_MD_SHA1,
      true,
      { "0102030405060708090a0b0c0d0e0f10", "008899aabbccddeeff0011223344556677", "05" },
      16,
      NULL,
      false },
    { "req_multi_sha256_no_nonce.der",
      ZTCA_OK,
      3,
      CA_MD_SHA256,
      true,
      { "0102030405060708090a0b0c0d0e0f10", "008899aabbccddeeff0011223344556677", "05" },
      -1,
      NULL,
      false },
    { "req_signed.der",
      ZTCA_OK,
      1,
      CA_MD_SHA1,
      true,
      { "0102030405060708090a0b0c0d0e0f10" },
      16,
      NULL,
      true },
    { "req_py_nonce_chosen.der",
      ZTCA_OK,
      1,
      CA_MD_SHA1,
      true,
      { "0102030405060708090a0b0c0d0e0f10" },
      20,
      "7a7463612d6f6373702d746573742d6e6f6e6365",
      false },
    { "req_py_nonce_1.der",
      ZTCA_OK,
      1,
      CA_MD_SHA1,
      true,
      { "0102030405060708090a0b0c0d0e0f10" },
      1,
      "01",
      false },
    { "req_py_nonce_32.der",
      ZTCA_OK,
      1,
      CA_MD_SHA1,
      true,
      { "0102030405060708090a0b0c0d0e0f10" },
      32,
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
      false },
    { "req_py_sha512.der",
      ZTCA_OK,
      1,
      CA_MD_SHA1,
      false,
      { "0102030405060708090a0b0c0d0e0f10" },
      -1,
      NULL,
      false },
    { "req_py_nonce_33.der", ZTCA_ERR_BAD_INPUT, 0, CA_MD_SHA1, false, { NULL }, 0, NULL, false },
};

#define NUM_REQ_VECTORS (sizeof(req_vectors) / sizeof(req_vectors[0]))

static bool
test_cur_is_hex(der_cur c, const char *hex)
{
    uint8_t buf[128];
    size_t n = 0;
    if (!ZTCA_IS_OK(ztca_hex_decode(buf, sizeof(buf), &n, hex))) {
        return false;
    }
    return test_cur_is(c, buf, n);
}

static void
test_req_vectors(void)
{
    size_t iss_len = 0, iss2_len = 0;
    uint8_t *iss = test_data("issuer.der", &iss_len);
    uint8_t *iss2 = test_data("issuer2.der", &iss2_len);
    uint8_t name[2][CA_HASH_MAX], key[2][CA_HASH_MAX], name2[2][CA_HASH_MAX], key2[2][CA_HASH_MAX];
    for (int m = 0; m < 2; m++) {
        ca_md md = m == 0 ? CA_MD_SHA1 : CA_MD_SHA256;
        UNIT_ASSERT_OK(ca_ocsp_issuer_hashes(name[m], key[m], md, iss, iss_len));
        UNIT_ASSERT_OK(ca_ocsp_issuer_hashes(name2[m], key2[m], md, iss2, iss2_len));
        /* Same subject Name, different keys. */
        CU_ASSERT_EQUAL(memcmp(name[m], name2[m], ca_md_size(md)), 0);
        CU_ASSERT_NOT_EQUAL(memcmp(key[m], key2[m], ca_md_size(md)), 0);
    }
    for (size_t v = 0; v < NUM_REQ_VECTORS; v++) {
        const req_vector *w = &req_vectors[v];
        size_t len = 0;
        uint8_t *der = test_data(w->file, &len);
        ca_ocsp_req req;
        memset(&req, 0xa5, sizeof(req));
        ztca_rc rc = ca_ocsp_req_parse(&req, der, len);
        if (rc.err != w->want) {
            fprintf(stderr, "\n%s: got %s, want %s (%s)\n", w->file, ztca_err_name(rc.err),
                    ztca_err_name(w->want), ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, w->want);
        if (w->want != ZTCA_OK) {
            free(der);
            continue;
        }
        CU_ASSERT_EQUAL(req.num_ids, w->num_ids);
        CU_ASSERT_EQUAL(req.is_signed, w->is_signed);
        CU_ASSERT_EQUAL(req.has_nonce, w->nonce_len >= 0);
        if (w->nonce_len >= 0) {
            CU_ASSERT_EQUAL(req.nonce.len, (size_t)w->nonce_len);
            CU_ASSERT_TRUE(req.nonce.p > der && req.nonce.p + req.nonce.len <= der + len);
            if (w->nonce_hex != NULL) {
                CU_ASSERT_TRUE(test_cur_is_hex(req.nonce, w->nonce_hex));
            }
        }
        for (size_t i = 0; i < req.num_ids && i < 3; i++) {
            const ca_ocsp_certid *id = &req.ids[i];
            CU_ASSERT_EQUAL(id->hash_is_supported, w->supported);
            CU_ASSERT_TRUE(test_cur_is_hex(id->serial, w->serials[i]));
            /* The element views the input and is exactly one CertID. */
            CU_ASSERT_TRUE(id->element.p > der && id->element.p + id->element.len <= der + len);
            CU_ASSERT_EQUAL(id->element.p[0], DER_SEQUENCE);
            der_cur again = id->element;
            ca_ocsp_certid id2;
            UNIT_ASSERT_OK(ca_ocsp_certid_parse(&id2, &again));
            CU_ASSERT_EQUAL(again.len, 0);
            CU_ASSERT_TRUE(test_cur_is(id2.serial, id->serial.p, id->serial.len));
            if (!w->supported) {
                CU_ASSERT_EQUAL(id->issuer_name_hash.len, 64); /* SHA-512 */
                CU_ASSERT_EQUAL(id->issuer_key_hash.len, 64);
                CU_ASSERT_FALSE(ca_ocsp_certid_has_issuer(id, CA_MD_SHA1, name[0], key[0]));
                continue;
            }
            int m = w->md == CA_MD_SHA1 ? 0 : 1;
            CU_ASSERT_EQUAL(id->md, w->md);
            /* openssl's hashes of its issuer are ours: name hash and key hash, SHA-1 and -256. */
            CU_ASSERT_TRUE(test_cur_is(id->issuer_name_hash, name[m], ca_md_size(w->md)));
            CU_ASSERT_TRUE(test_cur_is(id->issuer_key_hash, key[m], ca_md_size(w->md)));
            CU_ASSERT_TRUE(ca_ocsp_certid_has_issuer(id, w->md, name[m], key[m]));
            CU_ASSERT_FALSE(ca_ocsp_certid_has_issuer(id, w->md, name2[m], key2[m]));
            CU_ASSERT_FALSE(ca_ocsp_certid_has_issuer(
                id, w->md == CA_MD_SHA1 ? CA_MD_SHA256 : CA_MD_SHA1, name[1 - m], key[1 - m]));
        }
        free(der);
    }
    /* The serials are those of the leaves openssl made. */
    for (int n = 1; n <= 3; n++) {
        char file[32];
        size_t len = 0;
        snprintf(file, sizeof(file), "leaf%d.der", n);
        uint8_t *der = test_data(file, &len);
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&crt, der, len), 0);
        CU_ASSERT_TRUE(test_cur_is_hex(der_cur_make(crt.serial.p, crt.serial.len),
                                       req_vectors[4].serials[n - 1]));
        mbedtls_x509_crt_free(&crt);
        free(der);
    }
    /* Any hash ca_hash knows; a truncated certificate is refused and nothing is written. */
    uint8_t h1[CA_HASH_MAX], h2[CA_HASH_MAX], zero[CA_HASH_MAX];
    memset(h1, 0, sizeof(h1));
    memset(zero, 0, sizeof(zero));
    UNIT_ASSERT_OK(ca_ocsp_issuer_hashes(h1, h2, CA_MD_SHA384, iss, iss_len));
    CU_ASSERT_NOT_EQUAL(memcmp(h1, zero, 48), 0);
    CU_ASSERT_EQUAL(memcmp(h1 + 48, zero, CA_HASH_MAX - 48), 0);
    memset(h1, 0, sizeof(h1));
    UNIT_ASSERT_ERR(ca_ocsp_issuer_hashes(h1, h2, CA_MD_SHA1, iss, iss_len - 1),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(memcmp(h1, zero, CA_HASH_MAX), 0);
    free(iss);
    free(iss2);
}

/* Every truncation of every vector is refused, read from an exact-size heap copy; one byte more
 * is refused too. */
static void
test_req_every_prefix(void)
{
    for (size_t v = 0; v < NUM_REQ_VECTORS; v++) {
        size_t len = 0;
        uint8_t *der = test_data(req_vectors[v].file, &len);
        for (size_t n = 0; n < len; n++) {
            uint8_t *p = unit_dup(der, n);
            ca_ocsp_req req;
            UNIT_ASSERT_ERR(ca_ocsp_req_parse(&req, p, n), ZTCA_ERR_BAD_INPUT);
            free(p);
        }
        uint8_t *longer = malloc(len + 1);
        if (longer == NULL) {
            CU_FAIL("out of memory");
            free(der);
            return;
        }
        memcpy(longer, der, len);
        longer[len] = 0;
        ca_ocsp_req req;
        UNIT_ASSERT_ERR(ca_ocsp_req_parse(&req, longer, len + 1), ZTCA_ERR_BAD_INPUT);
        free(longer);
        free(der);
    }
}

/* ---- request negatives: a builder that changes one thing at a time ------------------------- */

#define NONCE_NONE  (-1)
#define NONCE_EMPTY (-2)

/* Every knob is 0 for the baseline request: one SHA-1 CertID with NULL parameters, a 16-octet
 * serial and a 16-octet nonce, no version, no requestorName, no signature. */
typedef struct rq {
    const char *name;
    ztca_err want;
    const char *what;  /* the refusal's ztca_last_what(), so each case fails where it should */
    int version;       /* 0: absent; n: Version n-1 encoded */
    int requestor;     /* 1 directoryName, 2 a UTF8String (not a GeneralName), 3 two names */
    int extra_ids;     /* CertIDs beyond the first */
    bool empty_list;   /* requestList with no Request */
    int hash;          /* 1 SHA-256+NULL, 2 SHA-256 absent params, 3 SHA-512, 4 SHA-1 with an
                        * INTEGER parameter, 5 SHA-1 NULL NULL, 6 unknown OID + BIT STRING param,
                        * 7 algorithm not an OID */
    int name_hash_len; /* 0: the hash's; -1: empty; n: n octets */
    int key_hash_len;
    int serial;      /* 1 negative, 2 21 octets, 3 zero, 4 padded 00 01, 5 20 octets, 6 00 + 20
                      * octets with the top bit, 7 00 88 ... (valid) */
    int nonce;       /* 0: 16 octets; NONCE_NONE; NONCE_EMPTY; n: n octets */
    int nonce_form;  /* 1 unwrapped, 2 trailing after the inner OCTET STRING, 3 critical, 4 critical
                      * FALSE encoded, 5 twice */
    int req_ext;     /* 1 unknown non-critical, 2 unknown critical, 3 empty Extensions, 4 trailing
                      * inside [2], 5 17 distinct non-critical */
    int single_ext;  /* 1 unknown non-critical, 2 unknown critical, 3 duplicate, 4 nonce (unknown
                      * there: ignored), 5 critical nonce there */
    int signature;   /* 1 with certs, 2 without, 3 trailing inside Signature, 4 no BIT STRING */
    int trailing;    /* 1 after OCSPRequest, 2 inside OCSPRequest, 3 inside TBSRequest, 4 inside
                      * Request, 5 inside CertID, 6 inside version [0], 7 inside the nonce
                      * Extension, 8 an element in requestList that is not a Request, 9 inside
                      * AlgorithmIdentifier */
    int length_form; /* 1 outer non-minimal, 2 outer indefinite, 3 CertID non-minimal, 4 CertID
                      * indefinite */
    int wrong_tag;   /* 1 outer SET, 2 tbsRequest [0], 3 requestList SET, 4 Request SET, 5 hash
                      * BIT STRING, 6 serial ENUMERATED, 7 requestExtensions [3], 8 nonce BIT
                      * STRING, 9 version [0] IMPLICIT */
} rq;

static const uint8_t rq_unknown_oid[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x15, 0x07 };

static void
rq_ext(der_buf *b, const char *oid, size_t oid_len, int critical, const uint8_t *value,
       size_t value_len)
{
    UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_add_oid(b, oid, oid_len));
    if (critical != 0) {
        UNIT_ASSERT_OK(der_add_bool(b, critical > 0));
    }
    UNIT_ASSERT_OK(der_add_tlv(b, DER_OCTETSTRING, value, value_len));
    UNIT_ASSERT_OK(der_end(b));
}

static void
rq_nonce_ext(der_buf *b, const rq *k)
{
    uint8_t nonce[64], value[80];
    size_t n = k->nonce == 0 ? 16 : k->nonce == NONCE_EMPTY ? 0 : (size_t)k->nonce;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        nonce[i] = (uint8_t)(0xa0 + i);
    }
    if (k->nonce_form == 1) {
        memcpy(value, nonce, n);
        v = n;
    } else {
        value[v++] = k->wrong_tag == 8 ? DER_BITSTRING : DER_OCTETSTRING;
        value[v++] = (uint8_t)n;
        memcpy(value + v, nonce, n);
        v += n;
        if (k->nonce_form == 2) {
            value[v++] = 0x05;
            value[v++] = 0x00;
        }
    }
    int critical = k->nonce_form == 3 ? 1 : k->nonce_form == 4 ? -1 : 0;
    if (k->trailing == 7) {
        UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE));
        UNIT_ASSERT_OK(DER_ADD_OID(b, CA_OID_OCSP_NONCE));
        UNIT_ASSERT_OK(der_add_tlv(b, DER_OCTETSTRING, value, v));
        UNIT_ASSERT_OK(der_add_null(b));
        UNIT_ASSERT_OK(der_end(b));
        return;
    }
    rq_ext(b, CA_OID_OCSP_NONCE, sizeof(CA_OID_OCSP_NONCE) - 1, critical, value, v);
}

static void
rq_certid_body(der_buf *b, const rq *k, size_t index)
{
    static const uint8_t hash_bytes[64] = { 0x11 };
    uint8_t serial[24];
    size_t serial_len = 16;
    size_t hlen = k->hash == 1 || k->hash == 2 ? 32 : k->hash == 3 ? 64 : 20;
    UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE)); /* AlgorithmIdentifier */
    switch (k->hash) {
    case 1:
        UNIT_ASSERT_OK(DER_ADD_OID(b, MBEDTLS_OID_DIGEST_ALG_SHA256));
        UNIT_ASSERT_OK(der_add_null(b));
        break;
    case 2:
        UNIT_ASSERT_OK(DER_ADD_OID(b, MBEDTLS_OID_DIGEST_ALG_SHA256));
        break;
    case 3:
        UNIT_ASSERT_OK(DER_ADD_OID(b, MBEDTLS_OID_DIGEST_ALG_SHA512));
        UNIT_ASSERT_OK(der_add_null(b));
        break;
    case 4:
        UNIT_ASSERT_OK(DER_ADD_OID(b, MBEDTLS_OID_DIGEST_ALG_SHA1));
        UNIT_ASSERT_OK(der_add_uint64(b, 1));
        break;
    case 5:
        UNIT_ASSERT_OK(DER_ADD_OID(b, MBEDTLS_OID_DIGEST_ALG_SHA1));
        UNIT_ASSERT_OK(der_add_null(b));
        UNIT_ASSERT_OK(der_add_null(b));
        break;
    case 6:
        UNIT_ASSERT_OK(der_add_oid(b, (const char *)rq_unknown_oid, sizeof(rq_unknown_oid)));
        UNIT_ASSERT_OK(der_add_bitstring(b, hash_bytes, 3));
        break;
    case 7:
        UNIT_ASSERT_OK(der_add_tlv(b, DER_OCTETSTRING, (const uint8_t *)"\x2b\x0e\x03\x02\x1a", 5));
        break;
    default:
        UNIT_ASSERT_OK(DER_ADD_OID(b, MBEDTLS_OID_DIGEST_ALG_SHA1));
        UNIT_ASSERT_OK(der_add_null(b));
        break;
    }
    if (k->trailing == 9) {
        UNIT_ASSERT_OK(der_add_tlv(b, DER_OCTETSTRING, NULL, 0));
    }
    UNIT_ASSERT_OK(der_end(b));
    size_t nlen = k->name_hash_len == 0  ? hlen
                  : k->name_hash_len < 0 ? 0
                                         : (size_t)k->name_hash_len;
    size_t klen = k->key_hash_len == 0 ? hlen : k->key_hash_len < 0 ? 0 : (size_t)k->key_hash_len;
    uint8_t htag = k->wrong_tag == 5 ? DER_BITSTRING : DER_OCTETSTRING;
    uint8_t big[80];
    memset(big, 0x22, sizeof(big));
    UNIT_ASSERT_OK(der_add_tlv(b, htag, big, nlen));
    UNIT_ASSERT_OK(der_add_tlv(b, DER_OCTETSTRING, big, klen));
    for (size_t i = 0; i < sizeof(serial); i++) {
        serial[i] = (uint8_t)(i + 1);
    }
    serial[15] = (uint8_t)index; /* distinct serials */
    switch (k->serial) {
    case 1:
        serial[0] = 0x80;
        break;
    case 2:
        serial_len = 21;
        break;
    case 3:
        serial[0] = 0;
        serial_len = 1;
        break;
    case 4:
        serial[0] = 0;
        serial_len = 2;
        break;
    case 5:
        serial_len = 20;
        break;
    case 6:
        serial[0] = 0;
        serial[1] = 0x88;
        serial_len = 21;
        break;
    case 7:
        serial[0] = 0;
        serial[1] = 0x88;
        serial_len = 17;
        break;
    default:
        break;
    }
    UNIT_ASSERT_OK(
        der_add_tlv(b, k->wrong_tag == 6 ? DER_ENUMERATED : DER_INTEGER, serial, serial_len));
    if (k->trailing == 5) {
        UNIT_ASSERT_OK(der_add_null(b));
    }
}

/* Writes a SEQUENCE around `contents` with the length form `form` (0 normal, 1 non-minimal,
 * 2 indefinite). */
static void
rq_wrap(der_buf *b, uint8_t tag, const uint8_t *contents, size_t len, int form)
{
    if (form == 0) {
        UNIT_ASSERT_OK(der_add_tlv(b, tag, contents, len));
        return;
    }
    CU_ASSERT_FATAL(len < 128); /* so that 0x81 LL is non-minimal */
    uint8_t hdr[3] = { tag, 0x81, (uint8_t)len };
    if (form == 1) {
        UNIT_ASSERT_OK(der_add_raw(b, hdr, 3));
        UNIT_ASSERT_OK(der_add_raw(b, contents, len));
    } else {
        hdr[1] = 0x80;
        UNIT_ASSERT_OK(der_add_raw(b, hdr, 2));
        UNIT_ASSERT_OK(der_add_raw(b, contents, len));
        UNIT_ASSERT_OK(der_add_raw(b, (const uint8_t *)"\x00\x00", 2));
    }
}

static void
rq_certid(der_buf *b, const rq *k, size_t index)
{
    der_buf body;
    uint8_t *p = NULL;
    size_t len = 0;
    der_buf_init(&body, 4096);
    rq_certid_body(&body, k, index);
    UNIT_ASSERT_OK(der_buf_take(&body, &p, &len));
    int form = k->length_form == 3 ? 1 : k->length_form == 4 ? 2 : 0;
    rq_wrap(b, DER_SEQUENCE, p, len, form);
    free(p);
    der_buf_free(&body);
}

static void
rq_single_exts(der_buf *b, const rq *k)
{
    static const uint8_t null_value[] = { 0x05, 0x00 };
    static const uint8_t nonce_value[] = { 0x04, 0x01, 0x07 };
    if (k->single_ext == 0) {
        return;
    }
    UNIT_ASSERT_OK(der_begin(b, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE));
    switch (k->single_ext) {
    case 1:
    case 2:
        rq_ext(b, (const char *)rq_unknown_oid, sizeof(rq_unknown_oid), k->single_ext == 2,
               null_value, sizeof(null_value));
        break;
    case 3:
        rq_ext(b, (const char *)rq_unknown_oid, sizeof(rq_unknown_oid), 0, null_value,
               sizeof(null_value));
        rq_ext(b, (const char *)rq_unknown_oid, sizeof(rq_unknown_oid), 0, null_value,
               sizeof(null_value));
        break;
    default:
        rq_ext(b, CA_OID_OCSP_NONCE, sizeof(CA_OID_OCSP_NONCE) - 1, k->single_ext == 5, nonce_value,
               sizeof(nonce_value));
        break;
    }
    UNIT_ASSERT_OK(der_end(b));
    UNIT_ASSERT_OK(der_end(b));
}

static void
rq_request(der_buf *b, const rq *k, size_t index)
{
    UNIT_ASSERT_OK(der_begin(b, k->wrong_tag == 4 ? DER_SET : DER_SEQUENCE));
    rq_certid(b, k, index);
    rq_single_exts(b, k);
    if (k->trailing == 4) {
        UNIT_ASSERT_OK(der_add_null(b));
    }
    UNIT_ASSERT_OK(der_end(b));
}

static void
rq_req_exts(der_buf *b, const rq *k)
{
    static const uint8_t null_value[] = { 0x05, 0x00 };
    if (k->nonce == NONCE_NONE && k->req_ext == 0) {
        return;
    }
    UNIT_ASSERT_OK(der_begin(b, k->wrong_tag == 7 ? DER_CONTEXT_C(3) : DER_CONTEXT_C(2)));
    UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE));
    if (k->req_ext != 3) {
        if (k->nonce != NONCE_NONE) {
            rq_nonce_ext(b, k);
            if (k->nonce_form == 5) {
                rq_nonce_ext(b, k);
            }
        }
        if (k->req_ext == 1 || k->req_ext == 2) {
            rq_ext(b, (const char *)rq_unknown_oid, sizeof(rq_unknown_oid), k->req_ext == 2,
                   null_value, sizeof(null_value));
        }
        for (int i = 0; k->req_ext == 5 && i < 17; i++) {
            uint8_t oid[sizeof(rq_unknown_oid)];
            memcpy(oid, rq_unknown_oid, sizeof(oid));
            oid[sizeof(oid) - 1] = (uint8_t)(0x10 + i);
            rq_ext(b, (const char *)oid, sizeof(oid), 0, null_value, sizeof(null_value));
        }
    }
    UNIT_ASSERT_OK(der_end(b));
    if (k->req_ext == 4) {
        UNIT_ASSERT_OK(der_add_null(b));
    }
    UNIT_ASSERT_OK(der_end(b));
}

static void
rq_signature(der_buf *b, const rq *k, const uint8_t *cert, size_t cert_len)
{
    static const uint8_t sig[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };
    if (k->signature == 0) {
        return;
    }
    UNIT_ASSERT_OK(der_begin(b, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE));
    UNIT_ASSERT_OK(DER_ADD_OID(b, MBEDTLS_OID_ECDSA_SHA256));
    UNIT_ASSERT_OK(der_end(b));
    if (k->signature == 4) {
        UNIT_ASSERT_OK(der_add_tlv(b, DER_OCTETSTRING, sig, sizeof(sig)));
    } else {
        UNIT_ASSERT_OK(der_add_bitstring(b, sig, sizeof(sig)));
    }
    if (k->signature == 1) {
        UNIT_ASSERT_OK(der_begin(b, DER_CONTEXT_C(0)));
        UNIT_ASSERT_OK(der_begin(b, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_add_raw(b, cert, cert_len));
        UNIT_ASSERT_OK(der_end(b));
        UNIT_ASSERT_OK(der_end(b));
    }
    if (k->signature == 3) {
        UNIT_ASSERT_OK(der_add_null(b));
    }
    UNIT_ASSERT_OK(der_end(b));
    UNIT_ASSERT_OK(der_end(b));
}

/* The request of knobs `k`, malloc'd. `cert` goes into a signature's certs. */
static uint8_t *
rq_build(const rq *k, size_t *out_len, const uint8_t *cert, size_t cert_len)
{
    der_buf b, outer;
    uint8_t *p = NULL, *q = NULL;
    size_t len = 0, qlen = 0;
    der_buf_init(&b, (size_t)1024 * 1024);
    der_buf_init(&outer, (size_t)1024 * 1024);
    /* TBSRequest */
    UNIT_ASSERT_OK(der_begin(&b, k->wrong_tag == 2 ? DER_CONTEXT_C(0) : DER_SEQUENCE));
    if (k->wrong_tag == 9) {
        UNIT_ASSERT_OK(der_add_tlv(&b, DER_CONTEXT(0), (const uint8_t *)"\x00", 1));
    } else if (k->version > 0) {
        UNIT_ASSERT_OK(der_begin(&b, DER_CONTEXT_C(0)));
        UNIT_ASSERT_OK(der_add_uint64(&b, (uint64_t)(k->version - 1)));
        if (k->trailing == 6) {
            UNIT_ASSERT_OK(der_add_null(&b));
        }
        UNIT_ASSERT_OK(der_end(&b));
    }
    if (k->requestor > 0) {
        UNIT_ASSERT_OK(der_begin(&b, DER_CONTEXT_C(1)));
        if (k->requestor == 2) {
            UNIT_ASSERT_OK(der_add_tlv(&b, DER_UTF8STRING, (const uint8_t *)"me", 2));
        } else {
            for (int i = 0; i < (k->requestor == 3 ? 2 : 1); i++) {
                UNIT_ASSERT_OK(der_begin(&b, DER_CONTEXT_C(4)));
                UNIT_ASSERT_OK(ca_name_add(&b, "example", NULL, "requestor"));
                UNIT_ASSERT_OK(der_end(&b));
            }
        }
        UNIT_ASSERT_OK(der_end(&b));
    }
    UNIT_ASSERT_OK(der_begin(&b, k->wrong_tag == 3 ? DER_SET : DER_SEQUENCE));
    for (int i = 0; !k->empty_list && i <= k->extra_ids; i++) {
        rq_request(&b, k, (size_t)i);
    }
    if (k->trailing == 8) {
        UNIT_ASSERT_OK(der_add_null(&b));
    }
    UNIT_ASSERT_OK(der_end(&b));
    rq_req_exts(&b, k);
    if (k->trailing == 3) {
        UNIT_ASSERT_OK(der_add_null(&b));
    }
    UNIT_ASSERT_OK(der_end(&b));
    rq_signature(&b, k, cert, cert_len);
    if (k->trailing == 2) {
        UNIT_ASSERT_OK(der_add_null(&b));
    }
    UNIT_ASSERT_OK(der_buf_take(&b, &p, &len));
    /* OCSPRequest */
    uint8_t tag = k->wrong_tag == 1 ? DER_SET : DER_SEQUENCE;
    if (k->length_form == 1 || k->length_form == 2) {
        rq_wrap(&outer, tag, p, len, k->length_form);
    } else {
        UNIT_ASSERT_OK(der_add_tlv(&outer, tag, p, len));
    }
    if (k->trailing == 1) {
        UNIT_ASSERT_OK(der_add_null(&outer));
    }
    UNIT_ASSERT_OK(der_buf_take(&outer, &q, &qlen));
    free(p);
    der_buf_free(&b);
    der_buf_free(&outer);
    /* An exact-size copy for ASan. */
    uint8_t *exact = unit_dup(q, qlen);
    free(q);
    *out_len = qlen;
    return exact;
}

static const rq rq_table[] = {
    /* positives the builder makes, so its negatives differ from an accepted request */
    { .name = "baseline", .want = ZTCA_OK },
    { .name = "no_nonce", .want = ZTCA_OK, .nonce = NONCE_NONE },
    { .name = "nonce_1", .want = ZTCA_OK, .nonce = 1 },
    { .name = "nonce_32", .want = ZTCA_OK, .nonce = 32 },
    { .name = "nonce_critical", .want = ZTCA_OK, .nonce_form = 3 },
    { .name = "requestor_name", .want = ZTCA_OK, .requestor = 1 },
    { .name = "sha256_null", .want = ZTCA_OK, .hash = 1 },
    { .name = "sha256_absent_params", .want = ZTCA_OK, .hash = 2 },
    { .name = "sha512_unsupported", .want = ZTCA_OK, .hash = 3 },
    { .name = "unknown_hash_with_params", .want = ZTCA_OK, .hash = 6 },
    { .name = "serial_20_octets", .want = ZTCA_OK, .serial = 5 },
    { .name = "serial_sign_octet", .want = ZTCA_OK, .serial = 7 },
    { .name = "max_reqs_32", .want = ZTCA_OK, .extra_ids = CA_OCSP_MAX_REQS - 1 },
    { .name = "unknown_noncritical_ext", .want = ZTCA_OK, .req_ext = 1 },
    { .name = "unknown_noncritical_single_ext", .want = ZTCA_OK, .single_ext = 1 },
    { .name = "nonce_in_single_ext_ignored", .want = ZTCA_OK, .single_ext = 4 },
    { .name = "signed_with_certs", .want = ZTCA_OK, .signature = 1 },
    { .name = "signed_without_certs", .want = ZTCA_OK, .signature = 2 },
    /* trailing data at every level */
    { .name = "trailing_data_after_request",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .trailing = 1 },
    { .name = "trailing_data_in_ocsprequest",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .trailing = 2 },
    { .name = "trailing_data_in_tbsrequest",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .trailing = 3 },
    { .name = "trailing_data_in_request",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .trailing = 4 },
    { .name = "trailing_data_in_certid",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .trailing = 5 },
    { .name = "trailing_data_in_version",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .version = 2,
      .trailing = 6 },
    { .name = "trailing_data_in_extension",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .trailing = 7 },
    { .name = "trailing_data_in_request_list",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .trailing = 8 },
    { .name = "trailing_data_in_hash_algorithm",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .trailing = 9 },
    { .name = "trailing_data_in_extensions_wrapper",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .req_ext = 4 },
    { .name = "trailing_data_in_nonce_value",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .nonce_form = 2 },
    { .name = "trailing_data_in_signature",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .signature = 3 },
    { .name = "trailing_data_in_hash_params",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .hash = 5 },
    /* versions */
    { .name = "explicit_v1_version",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: version DEFAULT v1 explicitly encoded (X.690 11.5)",
      .version = 1 },
    { .name = "version_v2",
      .want = ZTCA_ERR_UNSUPPORTED,
      .what = "RFC 6960 4.1.1: only v1 requests exist",
      .version = 2 },
    /* wrong tags */
    { .name = "wrong_tag_outer_set",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 1 },
    { .name = "wrong_tag_tbsrequest",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 2 },
    { .name = "wrong_tag_request_list_set",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 3 },
    { .name = "wrong_tag_request_set",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 4 },
    { .name = "wrong_tag_issuer_hash",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 5 },
    { .name = "wrong_tag_serial_enumerated",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 6 },
    { .name = "wrong_tag_request_extensions",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .wrong_tag = 7 },
    { .name = "wrong_tag_nonce_bitstring",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 8 },
    { .name = "wrong_tag_version_implicit",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .wrong_tag = 9 },
    { .name = "wrong_tag_hash_algorithm",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .hash = 7 },
    { .name = "requestor_not_general_name",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.2.1.6: requestorName is not a GeneralName",
      .requestor = 2 },
    { .name = "requestor_two_names",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: trailing data",
      .requestor = 3 },
    { .name = "signature_not_bitstring",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .signature = 4 },
    /* lists */
    { .name = "empty_request_list",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 6960 4.1.1: empty requestList",
      .empty_list = true },
    { .name = "too_many_reqs_33",
      .want = ZTCA_ERR_UNSUPPORTED,
      .what = "OCSP request: more CertIDs than CA_OCSP_MAX_REQS",
      .extra_ids = CA_OCSP_MAX_REQS },
    { .name = "too_many_reqs_500",
      .want = ZTCA_ERR_UNSUPPORTED,
      .what = "OCSP request: more CertIDs than CA_OCSP_MAX_REQS",
      .extra_ids = 499 },
    /* 1000 CertIDs are 77 KB: refused by the size bound before they are counted */
    { .name = "too_many_reqs_1000",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "OCSP request too large",
      .extra_ids = 999 },
    { .name = "empty_extensions",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.1: Extensions SIZE (1..MAX)",
      .req_ext = 3 },
    { .name = "too_many_extensions",
      .want = ZTCA_ERR_UNSUPPORTED,
      .what = "OCSP request: too many extensions",
      .req_ext = 5 },
    /* nonce (RFC 8954) */
    { .name = "nonce_0_octets",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 8954 2.1: nonce must be 1 to 32 octets",
      .nonce = NONCE_EMPTY },
    { .name = "nonce_33_octets",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 8954 2.1: nonce must be 1 to 32 octets",
      .nonce = 33 },
    { .name = "nonce_unwrapped",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .nonce_form = 1 },
    { .name = "nonce_duplicate",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.2: an extension appears twice",
      .nonce_form = 5 },
    { .name = "critical_false_encoded",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: critical DEFAULT FALSE explicitly encoded (X.690 11.5)",
      .nonce_form = 4 },
    /* extensions */
    { .name = "critical_unknown_extension",
      .want = ZTCA_ERR_UNSUPPORTED,
      .what = "RFC 6960 4.4: unrecognized critical extension",
      .req_ext = 2 },
    { .name = "critical_unknown_single_extension",
      .want = ZTCA_ERR_UNSUPPORTED,
      .what = "RFC 6960 4.4: unrecognized critical extension",
      .single_ext = 2 },
    { .name = "critical_nonce_in_single_extension",
      .want = ZTCA_ERR_UNSUPPORTED,
      .what = "RFC 6960 4.4: unrecognized critical extension",
      .single_ext = 5 },
    { .name = "duplicate_single_extension",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.2: an extension appears twice",
      .single_ext = 3 },
    /* CertID */
    { .name = "hash_params_not_null",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: unexpected tag",
      .hash = 4 },
    { .name = "name_hash_19_octets",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 6960 4.1.1: issuer hash length differs from the hash",
      .name_hash_len = 19 },
    { .name = "key_hash_21_octets",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 6960 4.1.1: issuer hash length differs from the hash",
      .key_hash_len = 21 },
    { .name = "sha256_with_sha1_lengths",
      .want = ZTCA_ERR_BAD_INPUT,
      .hash = 1,
      .name_hash_len = 20,
      .key_hash_len = 20 },
    { .name = "unsupported_hash_empty",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 6960 4.1.1: issuer hash length",
      .hash = 3,
      .key_hash_len = -1 },
    { .name = "unsupported_hash_65_octets",
      .want = ZTCA_ERR_BAD_INPUT,
      .hash = 3,
      .name_hash_len = 65 },
    { .name = "negative_serial",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.1.2.2: serial number must be positive",
      .serial = 1 },
    { .name = "oversized_serial_21",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.1.2.2: serial number longer than 20 octets",
      .serial = 2 },
    { .name = "oversized_serial_sign_octet",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.1.2.2: serial number longer than 20 octets",
      .serial = 6 },
    { .name = "zero_serial",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "RFC 5280 4.1.2.2: serial number must be positive",
      .serial = 3 },
    { .name = "padded_serial",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: INTEGER with a padding zero octet",
      .serial = 4 },
    /* lengths */
    { .name = "non_minimal_length",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: non-minimal length (X.690 10.1)",
      .length_form = 1 },
    { .name = "indefinite_length",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: bad or truncated length (X.690 8.1.3)",
      .length_form = 2 },
    { .name = "non_minimal_length_certid",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: non-minimal length (X.690 10.1)",
      .length_form = 3 },
    { .name = "indefinite_length_certid",
      .want = ZTCA_ERR_BAD_INPUT,
      .what = "DER: bad or truncated length (X.690 8.1.3)",
      .length_form = 4 },
};

static void
test_req_table(void)
{
    size_t cert_len = 0;
    uint8_t *cert = test_data("leaf1.der", &cert_len);
    for (size_t i = 0; i < sizeof(rq_table) / sizeof(rq_table[0]); i++) {
        const rq *k = &rq_table[i];
        size_t len = 0;
        uint8_t *der = rq_build(k, &len, cert, cert_len);
        ca_ocsp_req req;
        memset(&req, 0x5a, sizeof(req));
        ztca_rc rc = ca_ocsp_req_parse(&req, der, len);
        if (rc.err != k->want) {
            fprintf(stderr, "\n%s: got %s, want %s (%s at %s)\n", k->name, ztca_err_name(rc.err),
                    ztca_err_name(k->want), ztca_last_what(), ztca_last_where());
        }
        CU_ASSERT_EQUAL(rc.err, k->want);
        if (getenv("TEST_VERBOSE") != NULL) {
            fprintf(stderr, "%-40s %-12s %s\n", k->name, ztca_err_name(rc.err),
                    rc.err == ZTCA_OK ? "" : ztca_last_what());
        }
        if (k->what != NULL) {
            CU_ASSERT_STRING_EQUAL(ztca_last_what(), k->what);
        }
        if (k->want != ZTCA_OK) {
            /* Nothing is written on failure. */
            CU_ASSERT_TRUE(test_bytes_are(&req, sizeof(req), 0x5a));
        } else if (rc.err == ZTCA_OK) {
            CU_ASSERT_EQUAL(req.num_ids, (size_t)k->extra_ids + 1);
            CU_ASSERT_EQUAL(req.has_nonce, k->nonce != NONCE_NONE);
            if (req.has_nonce) {
                size_t n = k->nonce == 0 ? 16 : (size_t)k->nonce;
                CU_ASSERT_EQUAL(req.nonce.len, n);
                CU_ASSERT_EQUAL(req.nonce.p[0], 0xa0);
                CU_ASSERT_EQUAL(req.nonce.p[n - 1], (uint8_t)(0xa0 + n - 1));
            }
            CU_ASSERT_EQUAL(req.is_signed, k->signature != 0);
            bool supported = k->hash != 3 && k->hash != 6;
            CU_ASSERT_EQUAL(req.ids[0].hash_is_supported, supported);
            if (supported) {
                CU_ASSERT_EQUAL(req.ids[0].md, k->hash == 0 ? CA_MD_SHA1 : CA_MD_SHA256);
            }
            CU_ASSERT_EQUAL(req.ids[req.num_ids - 1].serial.p[15], (uint8_t)(req.num_ids - 1));
        }
        free(der);
    }
    /* Larger than CA_OCSP_REQ_MAX: refused before it is read. */
    uint8_t *big = calloc(1, CA_OCSP_REQ_MAX + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    ca_ocsp_req req;
    UNIT_ASSERT_ERR(ca_ocsp_req_parse(&req, big, CA_OCSP_REQ_MAX + 1), ZTCA_ERR_BAD_INPUT);
    free(big);
    free(cert);
}

/* The decoder allocates nothing: it succeeds with every allocation failing. */
static void
test_req_no_alloc(void)
{
    size_t len = 0;
    uint8_t *der = test_data("req_multi_nonce.der", &len);
    ca_ocsp_req req;
    ztca_alloc_fail_after(0);
    ztca_rc rc = ca_ocsp_req_parse(&req, der, len);
    long attempts = ztca_alloc_fail_after(-1);
    UNIT_ASSERT_OK(rc);
    CU_ASSERT_EQUAL(attempts, 0);
    free(der);
}

/* ---- responses ----------------------------------------------------------------------------- */

static void
test_status_only(void)
{
    static const ca_ocsp_status ok[] = { CA_OCSP_MALFORMED_REQUEST, CA_OCSP_INTERNAL_ERROR,
                                         CA_OCSP_TRY_LATER, CA_OCSP_SIG_REQUIRED,
                                         CA_OCSP_UNAUTHORIZED };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const uint8_t *p = NULL;
        size_t len = 0;
        UNIT_ASSERT_OK(ca_ocsp_resp_status_only(&p, &len, ok[i]));
        uint8_t want[5] = { 0x30, 0x03, 0x0a, 0x01, (uint8_t)ok[i] };
        CU_ASSERT_EQUAL(len, 5);
        CU_ASSERT_EQUAL(memcmp(p, want, 5), 0);
    }
    const uint8_t *p = NULL;
    size_t len = 0;
    UNIT_ASSERT_ERR(ca_ocsp_resp_status_only(&p, &len, CA_OCSP_SUCCESSFUL), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(ca_ocsp_resp_status_only(&p, &len, (ca_ocsp_status)4), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(ca_ocsp_resp_status_only(&p, &len, (ca_ocsp_status)7), ZTCA_ERR_INTERNAL);
    CU_ASSERT_PTR_NULL(p);
}

static void
test_expect_gt(der_cur *c, ztca_time t)
{
    char s[16];
    der_cur v;
    test_gt(s, t);
    UNIT_ASSERT_OK(der_get(c, &v, DER_GENERALIZEDTIME));
    CU_ASSERT_TRUE(test_cur_is_str(v, s));
}

/* One non-critical extension `oid` in the [tag] EXPLICIT Extensions at *c; returns extnValue. */
static der_cur
test_expect_one_ext(der_cur *c, uint8_t tag, const char *oid, size_t oid_len)
{
    der_cur wrap, exts, ext, id, value;
    UNIT_ASSERT_OK(der_get(c, &wrap, tag));
    UNIT_ASSERT_OK(der_get(&wrap, &exts, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&wrap));
    UNIT_ASSERT_OK(der_get(&exts, &ext, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&exts));
    UNIT_ASSERT_OK(der_get_oid(&ext, &id));
    CU_ASSERT_TRUE(der_oid_equal(&id, oid, oid_len));
    CU_ASSERT_FALSE(der_peek_tag(&ext, DER_BOOLEAN)); /* non-critical: DEFAULT, not encoded */
    UNIT_ASSERT_OK(der_get(&ext, &value, DER_OCTETSTRING));
    UNIT_ASSERT_OK(der_expect_end(&ext));
    return value;
}

/* Parses a successful response strictly, field by field, against what was asked for; checks the
 * signature with `spki` over the exact ResponseData bytes. Returns the ResponseData element. */
static der_cur
test_check_response(const uint8_t *der, size_t len, const ca_ocsp_resp_params *p,
                    const uint8_t *spki, size_t spki_len)
{
    der_cur c = der_cur_make(der, len), resp, bytes_wrap, bytes, oid, basic_os, basic, basic_c,
            tbs_elem, tbs, rid_wrap, rid, list, alg, sig, certs_wrap, certs, cert;
    uint32_t status = 99;
    uint8_t unused = 0, key_hash[20];
    UNIT_ASSERT_OK(der_get(&c, &resp, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&c));
    UNIT_ASSERT_OK(der_get_enumerated(&resp, &status));
    CU_ASSERT_EQUAL(status, 0);
    UNIT_ASSERT_OK(der_get(&resp, &bytes_wrap, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_expect_end(&resp));
    UNIT_ASSERT_OK(der_get(&bytes_wrap, &bytes, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&bytes_wrap));
    UNIT_ASSERT_OK(der_get_oid(&bytes, &oid));
    /* id-pkix-ocsp-basic 1.3.6.1.5.5.7.48.1.1, spelled out */
    CU_ASSERT_TRUE(test_cur_is(oid, "\x2b\x06\x01\x05\x05\x07\x30\x01\x01", 9));
    UNIT_ASSERT_OK(der_get(&bytes, &basic_os, DER_OCTETSTRING));
    UNIT_ASSERT_OK(der_expect_end(&bytes));
    UNIT_ASSERT_OK(der_get(&basic_os, &basic, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&basic_os));
    basic_c = basic;
    UNIT_ASSERT_OK(der_get_element(&basic_c, &tbs_elem, DER_SEQUENCE));

    /* ResponseData: no version, responderID byKey, producedAt, responses, extensions */
    der_cur t = tbs_elem;
    UNIT_ASSERT_OK(der_get(&t, &tbs, DER_SEQUENCE));
    CU_ASSERT_FALSE(der_peek_tag(&tbs, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_get(&tbs, &rid_wrap, DER_CONTEXT_C(2)));
    UNIT_ASSERT_OK(der_get(&rid_wrap, &rid, DER_OCTETSTRING));
    UNIT_ASSERT_OK(der_expect_end(&rid_wrap));
    test_key_sha1(key_hash, spki, spki_len);
    CU_ASSERT_TRUE(test_cur_is(rid, key_hash, 20));
    test_expect_gt(&tbs, p->produced_at);
    UNIT_ASSERT_OK(der_get(&tbs, &list, DER_SEQUENCE));
    for (size_t i = 0; i < p->num_entries; i++) {
        const ca_ocsp_entry *e = &p->entries[i];
        der_cur single, certid, st, nu_wrap;
        UNIT_ASSERT_OK(der_get(&list, &single, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_get_element(&single, &certid, DER_SEQUENCE));
        CU_ASSERT_TRUE(test_cur_is(certid, e->certid.p, e->certid.len)); /* byte for byte */
        switch (e->status) {
        case CA_OCSP_GOOD:
            UNIT_ASSERT_OK(der_get(&single, &st, DER_CONTEXT(0)));
            CU_ASSERT_EQUAL(st.len, 0);
            break;
        case CA_OCSP_UNKNOWN:
            UNIT_ASSERT_OK(der_get(&single, &st, DER_CONTEXT(2)));
            CU_ASSERT_EQUAL(st.len, 0);
            break;
        case CA_OCSP_REVOKED: {
            UNIT_ASSERT_OK(der_get(&single, &st, DER_CONTEXT_C(1)));
            test_expect_gt(&st, e->revocation_time);
            if (e->reason == CA_REASON_UNSPECIFIED) {
                CU_ASSERT_EQUAL(st.len, 0);
            } else {
                der_cur rw;
                uint32_t reason = 99;
                UNIT_ASSERT_OK(der_get(&st, &rw, DER_CONTEXT_C(0)));
                UNIT_ASSERT_OK(der_get_enumerated(&rw, &reason));
                UNIT_ASSERT_OK(der_expect_end(&rw));
                CU_ASSERT_EQUAL(reason, (uint32_t)e->reason);
            }
            UNIT_ASSERT_OK(der_expect_end(&st));
            break;
        }
        }
        test_expect_gt(&single, e->this_update);
        UNIT_ASSERT_OK(der_get(&single, &nu_wrap, DER_CONTEXT_C(0)));
        test_expect_gt(&nu_wrap, e->next_update);
        UNIT_ASSERT_OK(der_expect_end(&nu_wrap));
        if (e->trust_score != CA_TRUST_SCORE_NONE) {
            der_cur v = test_expect_one_ext(&single, DER_CONTEXT_C(1), CA_OID_ZTCA_TRUST_SCORE,
                                            sizeof(CA_OID_ZTCA_TRUST_SCORE) - 1);
            uint64_t score = 999;
            UNIT_ASSERT_OK(der_get_uint64(&v, &score));
            UNIT_ASSERT_OK(der_expect_end(&v));
            CU_ASSERT_EQUAL(score, (uint64_t)e->trust_score);
        }
        UNIT_ASSERT_OK(der_expect_end(&single));
    }
    UNIT_ASSERT_OK(der_expect_end(&list));
    if (p->nonce_len > 0) {
        der_cur v = test_expect_one_ext(&tbs, DER_CONTEXT_C(1), CA_OID_OCSP_NONCE,
                                        sizeof(CA_OID_OCSP_NONCE) - 1);
        der_cur nonce;
        UNIT_ASSERT_OK(der_get(&v, &nonce, DER_OCTETSTRING));
        UNIT_ASSERT_OK(der_expect_end(&v));
        CU_ASSERT_TRUE(test_cur_is(nonce, p->nonce, p->nonce_len));
    }
    UNIT_ASSERT_OK(der_expect_end(&tbs));

    /* signatureAlgorithm ecdsa-with-SHA256 (P-256 signer), no parameters; the signature. */
    UNIT_ASSERT_OK(der_get(&basic_c, &alg, DER_SEQUENCE));
    CU_ASSERT_TRUE(test_cur_is(alg, "\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02", 10));
    UNIT_ASSERT_OK(der_get_bitstring(&basic_c, &sig, &unused));
    CU_ASSERT_EQUAL(unused, 0);
    uint8_t hash[32];
    UNIT_ASSERT_OK(ca_hash(CA_MD_SHA256, tbs_elem.p, tbs_elem.len, hash, sizeof(hash)));
    UNIT_ASSERT_OK(ca_verify(spki, spki_len, CA_SIG_ECDSA, CA_MD_SHA256, hash, 32, sig.p, sig.len));
    hash[0] ^= 1; /* the check can fail */
    UNIT_ASSERT_ERR(ca_verify(spki, spki_len, CA_SIG_ECDSA, CA_MD_SHA256, hash, 32, sig.p, sig.len),
                    ZTCA_ERR_CRYPTO);
    if (p->signer_cert != NULL) {
        UNIT_ASSERT_OK(der_get(&basic_c, &certs_wrap, DER_CONTEXT_C(0)));
        UNIT_ASSERT_OK(der_get(&certs_wrap, &certs, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_expect_end(&certs_wrap));
        UNIT_ASSERT_OK(der_get_element(&certs, &cert, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_expect_end(&certs));
        CU_ASSERT_TRUE(test_cur_is(cert, p->signer_cert, p->signer_cert_len));
    }
    UNIT_ASSERT_OK(der_expect_end(&basic_c));
    return tbs_elem;
}

static void
test_resp_roundtrip(void)
{
    test_pki t;
    test_pki_open(&t);
    size_t len = 0, spki_len = 0;
    uint8_t *der = test_data("req_multi_nonce.der", &len);
    const uint8_t *spki = ca_signer_spki(t.ocsp_signer, &spki_len);
    ca_ocsp_req req;
    UNIT_ASSERT_OK(ca_ocsp_req_parse(&req, der, len));
    CU_ASSERT_EQUAL_FATAL(req.num_ids, 3);
    ca_ocsp_entry entries[3] = {
        { .certid = req.ids[0].element,
          .status = CA_OCSP_GOOD,
          .this_update = T0,
          .next_update = T0 + 3600,
          .trust_score = 87 },
        { .certid = req.ids[1].element,
          .status = CA_OCSP_REVOKED,
          .revocation_time = T0 - 86400,
          .reason = CA_REASON_KEY_COMPROMISE,
          .this_update = T0,
          .next_update = T0 + 3600,
          .trust_score = 0 },
        { .certid = req.ids[2].element,
          .status = CA_OCSP_UNKNOWN,
          .this_update = T0,
          .next_update = T0 + 3600,
          .trust_score = CA_TRUST_SCORE_NONE },
    };
    ca_ocsp_resp_params p = {
        .signer_cert = t.ocsp_der,
        .signer_cert_len = t.ocsp_len,
        .produced_at = T0,
        .entries = entries,
        .num_entries = 3,
        .nonce = req.nonce.p,
        .nonce_len = req.nonce.len,
    };
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    UNIT_ASSERT_OK(ca_ocsp_resp_build(&resp, &resp_len, t.ocsp_signer, &p));
    der_cur tbs = test_check_response(resp, resp_len, &p, spki, spki_len);
    /* Literal bytes, independent of the time formatting helpers: producedAt of T0. */
    CU_ASSERT_TRUE(test_find(tbs.p, tbs.len, "\x18\x0f" T0_GT, 17));
    /* The trust score 87 as a whole extension: OID, no critical flag, OCTET STRING { 02 01 57 }. */
    uint8_t score_ext[64];
    size_t oid_len = sizeof(CA_OID_ZTCA_TRUST_SCORE) - 1, n = 0;
    score_ext[n++] = 0x30;
    score_ext[n++] = (uint8_t)(2 + oid_len + 5);
    score_ext[n++] = 0x06;
    score_ext[n++] = (uint8_t)oid_len;
    for (size_t k = 0; k < oid_len; k++) {
        score_ext[n++] = (uint8_t)CA_OID_ZTCA_TRUST_SCORE[k];
    }
    static const uint8_t score_value[] = { 0x04, 0x03, 0x02, 0x01, 0x57 };
    memcpy(score_ext + n, score_value, sizeof(score_value));
    n += sizeof(score_value);
    CU_ASSERT_TRUE(test_find(tbs.p, tbs.len, score_ext, n));
    /* The signer's certificate is a certificate mbedTLS parses. */
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    CU_ASSERT_EQUAL(mbedtls_x509_crt_parse_der(&crt, t.ocsp_der, t.ocsp_len), 0);
    CU_ASSERT_EQUAL(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_OCSP_SIGNING,
                                                              sizeof(MBEDTLS_OID_OCSP_SIGNING) - 1),
                    0);
    mbedtls_x509_crt_free(&crt);
    free(resp);

    /* Without nonce, certs and scores; every reason; GeneralizedTime across 2050 and before 1950.
     */
    static const ca_crl_reason reasons[] = {
        CA_REASON_UNSPECIFIED,      CA_REASON_KEY_COMPROMISE,
        CA_REASON_CA_COMPROMISE,    CA_REASON_AFFILIATION_CHANGED,
        CA_REASON_SUPERSEDED,       CA_REASON_CESSATION_OF_OPERATION,
        CA_REASON_CERTIFICATE_HOLD, CA_REASON_PRIVILEGE_WITHDRAWN,
        CA_REASON_AA_COMPROMISE,
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        ca_ocsp_entry e = { .certid = req.ids[i % 3].element,
                            .status = CA_OCSP_REVOKED,
                            .revocation_time = (ztca_time)-1000000000LL, /* 1938 */
                            .reason = reasons[i],
                            .this_update = 2524608000LL, /* 2050-01-01 */
                            .next_update = 2524608000LL + 60,
                            .trust_score = CA_TRUST_SCORE_NONE };
        ca_ocsp_resp_params q = { .produced_at = 2524608000LL, .entries = &e, .num_entries = 1 };
        UNIT_ASSERT_OK(ca_ocsp_resp_build(&resp, &resp_len, t.ocsp_signer, &q));
        tbs = test_check_response(resp, resp_len, &q, spki, spki_len);
        CU_ASSERT_TRUE(test_find(tbs.p, tbs.len,
                                 "\x18\x0f"
                                 "20500101000000Z",
                                 17));
        CU_ASSERT_TRUE(test_find(tbs.p, tbs.len,
                                 "\x18\x0f"
                                 "19380424221320Z",
                                 17));
        free(resp);
    }

    /* The intermediate signs for itself (no delegation): no certs. */
    size_t ca_spki_len = 0;
    const uint8_t *ca_spki = ca_signer_spki(t.ca_signer, &ca_spki_len);
    p.signer_cert = NULL;
    p.signer_cert_len = 0;
    UNIT_ASSERT_OK(ca_ocsp_resp_build(&resp, &resp_len, t.ca_signer, &p));
    test_check_response(resp, resp_len, &p, ca_spki, ca_spki_len);
    free(resp);
    free(der);
    test_pki_close(&t);
}

static void
test_resp_refusals(void)
{
    test_pki t;
    test_pki_open(&t);
    size_t len = 0;
    uint8_t *der = test_data("req_sha1_nonce.der", &len);
    ca_ocsp_req req;
    UNIT_ASSERT_OK(ca_ocsp_req_parse(&req, der, len));
    ca_ocsp_entry good = { .certid = req.ids[0].element,
                           .status = CA_OCSP_GOOD,
                           .this_update = T0,
                           .next_update = T0 + 60,
                           .trust_score = 50 };
    ca_ocsp_entry many[CA_OCSP_MAX_REQS + 1];
    for (size_t i = 0; i < CA_OCSP_MAX_REQS + 1; i++) {
        many[i] = good;
    }
    static const uint8_t nonce33[33] = { 1 };
    static const uint8_t trailing_certid[] = { 0x30, 0x02, 0x05, 0x00 };
    uint8_t certid_plus[256];
    CU_ASSERT_FATAL(req.ids[0].element.len < sizeof(certid_plus) - 2);
    memcpy(certid_plus, req.ids[0].element.p, req.ids[0].element.len);
    certid_plus[req.ids[0].element.len] = 0x05;
    certid_plus[req.ids[0].element.len + 1] = 0x00;

    struct {
        const char *name;
        ca_ocsp_entry e;
        size_t num;
        const uint8_t *nonce;
        size_t nonce_len;
        bool other_cert;
        const char *what;
    } bad[] = {
        { "no_entries", good, 0, NULL, 0, false, "OCSP response: 1 to CA_OCSP_MAX_REQS responses" },
        { "too_many_entries", good, CA_OCSP_MAX_REQS + 1, NULL, 0, false,
          "OCSP response: 1 to CA_OCSP_MAX_REQS responses" },
        { "nonce_33", good, 1, nonce33, 33, false, "RFC 8954 2.1: nonce must be 1 to 32 octets" },
        { "nonce_null", good, 1, NULL, 4, false, "RFC 8954 2.1: nonce must be 1 to 32 octets" },
        { "signer_cert_of_another_key", good, 1, NULL, 0, true,
          "OCSP response: signer certificate is not the signer's" },
        { "status_3", good, 1, NULL, 0, false,
          "RFC 6960 4.2.1: CertStatus is good, revoked or unknown" },
        { "reason_7", good, 1, NULL, 0, false, "RFC 5280 5.3.1: CRLReason not allowed here" },
        { "reason_remove_from_crl", good, 1, NULL, 0, false,
          "RFC 5280 5.3.1: CRLReason not allowed here" },
        { "reason_11", good, 1, NULL, 0, false, "RFC 5280 5.3.1: CRLReason not allowed here" },
        { "score_101", good, 1, NULL, 0, false, "ztca-trust-score is 0..100" },
        { "score_minus_2", good, 1, NULL, 0, false, "ztca-trust-score is 0..100" },
        { "next_update_not_after", good, 1, NULL, 0, false,
          "RFC 6960 4.2.2.1: nextUpdate must be after thisUpdate" },
        { "certid_not_a_certid", good, 1, NULL, 0, false, "DER: unexpected tag" },
        { "certid_trailing", good, 1, NULL, 0, false, "DER: trailing data" },
        { "certid_null", good, 1, NULL, 0, false, "OCSP response: CertID missing" },
    };
    bad[5].e.status = (ca_ocsp_cert_status)3;
    bad[6].e.status = CA_OCSP_REVOKED;
    bad[6].e.reason = (ca_crl_reason)7;
    bad[7].e.status = CA_OCSP_REVOKED;
    bad[7].e.reason = CA_REASON_REMOVE_FROM_CRL;
    bad[8].e.status = CA_OCSP_REVOKED;
    bad[8].e.reason = (ca_crl_reason)11;
    bad[9].e.trust_score = 101;
    bad[10].e.trust_score = -2;
    bad[11].e.next_update = bad[11].e.this_update;
    bad[12].e.certid = der_cur_make(trailing_certid, sizeof(trailing_certid));
    bad[13].e.certid = der_cur_make(certid_plus, req.ids[0].element.len + 2);
    bad[14].e.certid = der_cur_make(NULL, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (size_t j = 0; j < CA_OCSP_MAX_REQS + 1; j++) {
            many[j] = bad[i].e;
        }
        ca_ocsp_resp_params p = {
            .signer_cert = bad[i].other_cert ? t.inter_der : t.ocsp_der,
            .signer_cert_len = bad[i].other_cert ? t.inter_len : t.ocsp_len,
            .produced_at = T0,
            .entries = many,
            .num_entries = bad[i].num,
            .nonce = bad[i].nonce,
            .nonce_len = bad[i].nonce_len,
        };
        uint8_t *out = NULL;
        size_t out_len = 12345;
        ztca_rc rc = ca_ocsp_resp_build(&out, &out_len, t.ocsp_signer, &p);
        if (rc.err != ZTCA_ERR_BAD_INPUT || getenv("TEST_VERBOSE") != NULL) {
            fprintf(stderr, "\n%s: got %s (%s)\n", bad[i].name, ztca_err_name(rc.err),
                    ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_STRING_EQUAL(ztca_last_what(), bad[i].what);
        CU_ASSERT_PTR_NULL(out);
        CU_ASSERT_EQUAL(out_len, 12345);
    }
    /* The last good entry count and nonce length work. */
    for (size_t j = 0; j < CA_OCSP_MAX_REQS; j++) {
        many[j] = good;
    }
    static const uint8_t nonce32[32] = { 9 };
    ca_ocsp_resp_params p = { .signer_cert = t.ocsp_der,
                              .signer_cert_len = t.ocsp_len,
                              .produced_at = T0,
                              .entries = many,
                              .num_entries = CA_OCSP_MAX_REQS,
                              .nonce = nonce32,
                              .nonce_len = 32 };
    uint8_t *out = NULL;
    size_t out_len = 0;
    UNIT_ASSERT_OK(ca_ocsp_resp_build(&out, &out_len, t.ocsp_signer, &p));
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(t.ocsp_signer, &spki_len);
    test_check_response(out, out_len, &p, spki, spki_len);
    free(out);
    free(der);
    test_pki_close(&t);
}

/* ---- CRL ----------------------------------------------------------------------------------- */

static const uint8_t crl_serial_a[] = { 0x01 };
static const uint8_t crl_serial_b[] = { 0x00, 0x00, 0x7f, 0xee }; /* leading zeros allowed */
static const uint8_t crl_serial_c[] = { 0x80, 0x01, 0x02 };       /* DER adds a 00 octet */
static const uint8_t crl_serial_d[20] = { 0x7f, 0xff, 0x01 };     /* 20 octets: the maximum */

/* Reads the crlEntryExtensions mbedTLS hands over (the Extensions element): reason and
 * invalidityDate, or -1 / "" when absent. */
static void
test_crl_entry_exts(const mbedtls_x509_crl_entry *entry, int *out_reason, char out_inv[16])
{
    const mbedtls_x509_buf *ext = &entry->entry_ext;
    *out_reason = -1;
    out_inv[0] = '\0';
    if (ext->len == 0) {
        return;
    }
    /* mbedTLS 2.28 points entry_ext.p at the Extensions header and gives the contents' length:
     * read the element up to the end of the entry, which it must end. */
    const uint8_t *end = entry->raw.p + entry->raw.len;
    CU_ASSERT_FATAL(ext->p > entry->raw.p && ext->p < end);
    der_cur c = der_cur_make(ext->p, (size_t)(end - ext->p)), exts;
    UNIT_ASSERT_OK(der_get(&c, &exts, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&c));
    CU_ASSERT_EQUAL(exts.len, ext->len);
    CU_ASSERT_FATAL(exts.len > 0);
    while (exts.len > 0) {
        der_cur e, id, v;
        UNIT_ASSERT_OK(der_get(&exts, &e, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_get_oid(&e, &id));
        CU_ASSERT_FALSE(der_peek_tag(&e, DER_BOOLEAN));
        UNIT_ASSERT_OK(der_get(&e, &v, DER_OCTETSTRING));
        UNIT_ASSERT_OK(der_expect_end(&e));
        if (test_cur_is(id, "\x55\x1d\x15", 3)) {
            uint32_t r = 0;
            UNIT_ASSERT_OK(der_get_enumerated(&v, &r));
            *out_reason = (int)r;
        } else if (test_cur_is(id, "\x55\x1d\x18", 3)) {
            der_cur g;
            UNIT_ASSERT_OK(der_get(&v, &g, DER_GENERALIZEDTIME));
            CU_ASSERT_FATAL(g.len == 15);
            memcpy(out_inv, g.p, 15);
            out_inv[15] = '\0';
        } else {
            CU_FAIL("unexpected CRL entry extension");
        }
        UNIT_ASSERT_OK(der_expect_end(&v));
    }
}

static ztca_time
test_mbed_time(const mbedtls_x509_time *t)
{
    ztca_tm tm = { t->year, t->mon, t->day, t->hour, t->min, t->sec };
    ztca_time out = 0;
    UNIT_ASSERT_OK(ztca_time_from_tm(&out, &tm));
    return out;
}

/* The TBSCertList's fields after the issuer, read with our reader: the time tags and whether
 * revokedCertificates is present. */
static void
test_crl_layout(const mbedtls_x509_crl *crl, uint8_t want_time_tag, bool want_list)
{
    der_cur c = der_cur_make(crl->tbs.p, crl->tbs.len), tbs, v;
    uint64_t version = 0;
    UNIT_ASSERT_OK(der_get(&c, &tbs, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_uint64(&tbs, &version));
    CU_ASSERT_EQUAL(version, 1);
    UNIT_ASSERT_OK(der_get(&tbs, &v, DER_SEQUENCE)); /* signature */
    UNIT_ASSERT_OK(der_get(&tbs, &v, DER_SEQUENCE)); /* issuer */
    CU_ASSERT_TRUE(der_peek_tag(&tbs, want_time_tag));
    UNIT_ASSERT_OK(der_get(&tbs, &v, want_time_tag));
    CU_ASSERT_TRUE(der_peek_tag(&tbs, want_time_tag));
    UNIT_ASSERT_OK(der_get(&tbs, &v, want_time_tag));
    CU_ASSERT_EQUAL(der_peek_tag(&tbs, DER_SEQUENCE), want_list);
    if (want_list) {
        UNIT_ASSERT_OK(der_get(&tbs, &v, DER_SEQUENCE));
    }
    UNIT_ASSERT_OK(der_get(&tbs, &v, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_expect_end(&tbs));
}

/* Parses `der` with mbedTLS and checks issuer, times, number, AKI and the signature. */
static void
test_crl_common(test_pki *t, mbedtls_x509_crl *crl, const uint8_t *der, size_t der_len,
                const ca_crl_params *p)
{
    ca_cert_fields f;
    UNIT_ASSERT_OK(ca_cert_split(&f, t->inter_der, t->inter_len));
    mbedtls_x509_crl_init(crl);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crl_parse_der(crl, der, der_len), 0);
    CU_ASSERT_EQUAL(crl->version, 2);
    CU_ASSERT_TRUE(crl->issuer_raw.len == f.subject.len
                   && memcmp(crl->issuer_raw.p, f.subject.p, f.subject.len) == 0);
    CU_ASSERT_EQUAL(test_mbed_time(&crl->this_update), p->this_update);
    CU_ASSERT_EQUAL(test_mbed_time(&crl->next_update), p->next_update);
    CU_ASSERT_EQUAL(crl->sig_md, MBEDTLS_MD_SHA256);

    /* crlExtensions: AKI = the intermediate's SKI, then cRLNumber. */
    der_cur ski, ski_id;
    UNIT_ASSERT_OK(ca_cert_find_ext(&f, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER,
                                    sizeof(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER) - 1, &ski, NULL));
    UNIT_ASSERT_OK(der_get(&ski, &ski_id, DER_OCTETSTRING));
    der_cur c = der_cur_make(crl->crl_ext.p, crl->crl_ext.len), exts, e, id, v, seq, kid;
    if (c.len > 0 && c.p[0] == DER_CONTEXT_C(0)) {
        der_cur w;
        UNIT_ASSERT_OK(der_get(&c, &w, DER_CONTEXT_C(0)));
        c = w;
    }
    UNIT_ASSERT_OK(der_get(&c, &exts, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&c));
    UNIT_ASSERT_OK(der_get(&exts, &e, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_oid(&e, &id));
    CU_ASSERT_TRUE(test_cur_is(id, "\x55\x1d\x23", 3));
    CU_ASSERT_FALSE(der_peek_tag(&e, DER_BOOLEAN));
    UNIT_ASSERT_OK(der_get(&e, &v, DER_OCTETSTRING));
    UNIT_ASSERT_OK(der_get(&v, &seq, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get(&seq, &kid, DER_CONTEXT(0)));
    UNIT_ASSERT_OK(der_expect_end(&seq));
    CU_ASSERT_TRUE(test_cur_is(kid, ski_id.p, ski_id.len));
    UNIT_ASSERT_OK(der_get(&exts, &e, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_oid(&e, &id));
    CU_ASSERT_TRUE(test_cur_is(id, "\x55\x1d\x14", 3));
    CU_ASSERT_FALSE(der_peek_tag(&e, DER_BOOLEAN));
    UNIT_ASSERT_OK(der_get(&e, &v, DER_OCTETSTRING));
    uint64_t number = 0;
    UNIT_ASSERT_OK(der_get_uint64(&v, &number));
    UNIT_ASSERT_OK(der_expect_end(&v));
    CU_ASSERT_EQUAL(number, p->number);
    UNIT_ASSERT_OK(der_expect_end(&exts));

    /* The signature covers exactly the TBSCertList, under the intermediate's key. */
    uint8_t hash[32];
    UNIT_ASSERT_OK(ca_hash(CA_MD_SHA256, crl->tbs.p, crl->tbs.len, hash, sizeof(hash)));
    UNIT_ASSERT_OK(ca_verify(f.spki.p, f.spki.len, CA_SIG_ECDSA, CA_MD_SHA256, hash, 32, crl->sig.p,
                             crl->sig.len));
}

static void
test_crl_roundtrip(void)
{
    test_pki t;
    test_pki_open(&t);
    const ca_crl_entry entries[] = {
        { crl_serial_a, sizeof(crl_serial_a), T0 - 3600, CA_REASON_UNSPECIFIED, 0 },
        { crl_serial_b, sizeof(crl_serial_b), T0 - 600, CA_REASON_KEY_COMPROMISE, T0 - 86400 },
        { crl_serial_c, sizeof(crl_serial_c), 2524608000LL, CA_REASON_CERTIFICATE_HOLD, 0 },
        { crl_serial_d, sizeof(crl_serial_d), T0, CA_REASON_UNSPECIFIED, 2524608000LL },
    };
    static const char *const serial_hex[] = { "01", "7fee", "00800102",
                                              "7fff010000000000000000000000000000000000" };
    const int reasons[] = { -1, 1, 6, -1 };
    const char *const inv[] = { "", "20261117110640Z", "", "20500101000000Z" };
    ca_crl_params p = { .number = 0x1122334455667788ULL,
                        .this_update = T0,
                        .next_update = T0 + 86400,
                        .entries = entries,
                        .num_entries = 4 };
    uint8_t *der = NULL;
    size_t der_len = 0;
    UNIT_ASSERT_OK(ca_crl_build(&der, &der_len, t.issuer, &p));
    mbedtls_x509_crl crl;
    test_crl_common(&t, &crl, der, der_len, &p);
    test_crl_layout(&crl, DER_UTCTIME, true);
    const mbedtls_x509_crl_entry *e = &crl.entry;
    for (size_t i = 0; i < 4; i++) {
        if (e == NULL) {
            CU_FAIL("CRL entry missing");
            break;
        }
        char hex[64];
        UNIT_ASSERT_OK(ztca_hex_encode(hex, sizeof(hex), e->serial.p, e->serial.len));
        CU_ASSERT_STRING_EQUAL(hex, serial_hex[i]);
        CU_ASSERT_EQUAL(test_mbed_time(&e->revocation_date), entries[i].revocation_date);
        int reason = 0;
        char inv_s[16];
        test_crl_entry_exts(e, &reason, inv_s);
        CU_ASSERT_EQUAL(reason, reasons[i]);
        CU_ASSERT_STRING_EQUAL(inv_s, inv[i]);
        e = e->next;
    }
    CU_ASSERT_PTR_NULL(e);
    /* revocationDate 2050 is a GeneralizedTime, the others UTCTime (RFC 5280 5.1.2.6). */
    CU_ASSERT_TRUE(test_find(der, der_len,
                             "\x18\x0f"
                             "20500101000000Z",
                             17));
    CU_ASSERT_TRUE(test_find(der, der_len, "\x17\x0d" T0_UTC, 15));
    mbedtls_x509_crl_free(&crl);
    free(der);

    /* No entries: revokedCertificates is left out; GeneralizedTime for 2050 on. */
    ca_crl_params empty = { .number = 0,
                            .this_update = 2524608000LL,
                            .next_update = 2524608000LL + 7LL * 86400 };
    UNIT_ASSERT_OK(ca_crl_build(&der, &der_len, t.issuer, &empty));
    test_crl_common(&t, &crl, der, der_len, &empty);
    test_crl_layout(&crl, DER_GENERALIZEDTIME, false);
    CU_ASSERT_EQUAL(crl.entry.serial.len, 0);
    CU_ASSERT_PTR_NULL(crl.entry.next);
    mbedtls_x509_crl_free(&crl);
    free(der);

    /* A large CRL: multi-octet lengths everywhere, order kept. */
    enum { N = 20000 };
    ca_crl_entry *big = calloc(N, sizeof(*big));
    uint8_t *serials = calloc(N, 16);
    if (big == NULL || serials == NULL) {
        CU_FAIL("out of memory");
        free(big);
        free(serials);
        test_pki_close(&t);
        return;
    }
    for (size_t i = 0; i < N; i++) {
        uint8_t *s = serials + 16 * i;
        s[0] = 0x40;
        s[14] = (uint8_t)(i >> 8);
        s[15] = (uint8_t)i;
        big[i] = (ca_crl_entry){ s, 16, T0 - (ztca_time)i, (ca_crl_reason)(i % 7), T0 - 86400 };
    }
    ca_crl_params bp = {
        .number = 7, .this_update = T0, .next_update = T0 + 60, .entries = big, .num_entries = N
    };
    UNIT_ASSERT_OK(ca_crl_build(&der, &der_len, t.issuer, &bp));
    test_crl_common(&t, &crl, der, der_len, &bp);
    size_t count = 0;
    for (e = &crl.entry; e != NULL; e = e->next, count++) {
        CU_ASSERT_TRUE_FATAL(e->serial.len == 16
                             && memcmp(e->serial.p, big[count].serial, 16) == 0);
    }
    CU_ASSERT_EQUAL(count, N);
    mbedtls_x509_crl_free(&crl);
    free(der);
    free(big);
    free(serials);
    test_pki_close(&t);
}

/* mbedTLS's verifier with our CRL: a revoked leaf is rejected, a good one is not, the chain and
 * the CRL signature are trusted. mbedTLS compares revocation dates with the real clock, so this
 * CRL is made for now. */
static void
test_crl_mbedtls_verify(void)
{
    test_pki t;
    test_pki_open(&t);
    ztca_time now = ztca_now();
    ca_issued leaf[2];
    for (int i = 0; i < 2; i++) {
        ca_key *key = NULL;
        uint8_t *spki = NULL;
        size_t spki_len = 0;
        UNIT_ASSERT_OK(ca_key_generate(&key, t.rng, CA_KEY_P256));
        UNIT_ASSERT_OK(ca_key_spki(key, &spki, &spki_len));
        ca_issue_req req = { .profile = ca_profile_get(CA_PROFILE_DEVICE),
                             .spki = spki,
                             .spki_len = spki_len,
                             .now = T0 };
        req.id.device_id = i == 0 ? "dev-revoked" : "dev-good";
        ca_issued_init(&leaf[i]);
        UNIT_ASSERT_OK(ca_issue(&leaf[i], t.issuer, &t.cfg, t.rng, &req));
        free(spki);
        ca_key_free(key);
    }
    ca_crl_entry e = { leaf[0].serial, CA_SERIAL_LEN, now - 60, CA_REASON_KEY_COMPROMISE, 0 };
    ca_crl_params p = { .number = 1,
                        .this_update = now - 60,
                        .next_update = now + 3600,
                        .entries = &e,
                        .num_entries = 1 };
    uint8_t *der = NULL;
    size_t der_len = 0;
    UNIT_ASSERT_OK(ca_crl_build(&der, &der_len, t.issuer, &p));
    mbedtls_x509_crl crl;
    mbedtls_x509_crt root, chain;
    mbedtls_x509_crl_init(&crl);
    mbedtls_x509_crt_init(&root);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crl_parse_der(&crl, der, der_len), 0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&root, t.root_der, t.root_len), 0);
    for (int i = 0; i < 2; i++) {
        uint32_t flags = 0;
        mbedtls_x509_crt_init(&chain);
        CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&chain, leaf[i].der, leaf[i].der_len), 0);
        CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&chain, t.inter_der, t.inter_len), 0);
        (void)mbedtls_x509_crt_verify(&chain, &root, &crl, NULL, &flags, NULL, NULL);
        flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
        CU_ASSERT_EQUAL(flags, i == 0 ? MBEDTLS_X509_BADCERT_REVOKED : 0);
        mbedtls_x509_crt_free(&chain);
    }
    /* A CRL signed by another key (the OCSP signer as an "issuer" is refused by ca_issuer_new;
     * tamper instead): one flipped signature byte makes mbedTLS distrust it. */
    mbedtls_x509_crl_free(&crl);
    der[der_len - 3] ^= 0x01;
    mbedtls_x509_crl_init(&crl);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crl_parse_der(&crl, der, der_len), 0);
    {
        uint32_t flags = 0;
        mbedtls_x509_crt_init(&chain);
        CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&chain, leaf[1].der, leaf[1].der_len), 0);
        CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crt_parse_der(&chain, t.inter_der, t.inter_len), 0);
        (void)mbedtls_x509_crt_verify(&chain, &root, &crl, NULL, &flags, NULL, NULL);
        CU_ASSERT_TRUE((flags & MBEDTLS_X509_BADCRL_NOT_TRUSTED) != 0);
        mbedtls_x509_crt_free(&chain);
    }
    mbedtls_x509_crl_free(&crl);
    mbedtls_x509_crt_free(&root);
    free(der);
    ca_issued_free(&leaf[0]);
    ca_issued_free(&leaf[1]);
    test_pki_close(&t);
}

static void
test_crl_refusals(void)
{
    test_pki t;
    test_pki_open(&t);
    static const uint8_t zero[] = { 0x00, 0x00 };
    static const uint8_t s21[21] = { 0x01 };
    static const uint8_t s20_top[20] = { 0x80 };
    static const uint8_t one[] = { 0x01 };
    static const uint8_t one_padded[] = { 0x00, 0x01 };
    static const uint8_t two[] = { 0x02 };
    static const uint8_t big[] = { 0x01, 0x00 };
    struct {
        const char *name;
        ca_crl_entry e[2];
        size_t num;
        ztca_time this_update, next_update;
        const char *what;
    } bad[] = {
        { "zero_serial",
          { { zero, 2, T0, 0, 0 } },
          1,
          T0,
          T0 + 1,
          "RFC 5280 4.1.2.2: serial number must be positive" },
        { "empty_serial",
          { { zero, 0, T0, 0, 0 } },
          1,
          T0,
          T0 + 1,
          "RFC 5280 4.1.2.2: serial number must be positive" },
        { "serial_21_octets",
          { { s21, 21, T0, 0, 0 } },
          1,
          T0,
          T0 + 1,
          "RFC 5280 4.1.2.2: serial number longer than 20 octets" },
        { "serial_20_octets_top_bit",
          { { s20_top, 20, T0, 0, 0 } },
          1,
          T0,
          T0 + 1,
          "RFC 5280 4.1.2.2: serial number longer than 20 octets" },
        { "unsorted",
          { { two, 1, T0, 0, 0 }, { one, 1, T0, 0, 0 } },
          2,
          T0,
          T0 + 1,
          "CRL: serials must be strictly increasing" },
        { "unsorted_by_length",
          { { big, 2, T0, 0, 0 }, { two, 1, T0, 0, 0 } },
          2,
          T0,
          T0 + 1,
          "CRL: serials must be strictly increasing" },
        { "duplicate",
          { { one, 1, T0, 0, 0 }, { one_padded, 2, T0, 0, 0 } },
          2,
          T0,
          T0 + 1,
          "CRL: serials must be strictly increasing" },
        { "reason_7",
          { { one, 1, T0, (ca_crl_reason)7, 0 } },
          1,
          T0,
          T0 + 1,
          "RFC 5280 5.3.1: CRLReason not allowed in a full CRL" },
        { "reason_remove_from_crl",
          { { one, 1, T0, CA_REASON_REMOVE_FROM_CRL, 0 } },
          1,
          T0,
          T0 + 1,
          "RFC 5280 5.3.1: CRLReason not allowed in a full CRL" },
        { "reason_11",
          { { one, 1, T0, (ca_crl_reason)11, 0 } },
          1,
          T0,
          T0 + 1,
          "RFC 5280 5.3.1: CRLReason not allowed in a full CRL" },
        { "next_update_equal",
          { { one, 1, T0, 0, 0 } },
          1,
          T0,
          T0,
          "RFC 5280 5.1.2.5: nextUpdate must be after thisUpdate" },
        { "revocation_year_10000",
          { { one, 1, ZTCA_TIME_MAX + 1, 0, 0 } },
          1,
          T0,
          T0 + 1,
          "DER writer: time outside years 1-9999" },
        { "null_serial", { { NULL, 1, T0, 0, 0 } }, 1, T0, T0 + 1, "CRL: entry without serial" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ca_crl_params p = { .number = 1,
                            .this_update = bad[i].this_update,
                            .next_update = bad[i].next_update,
                            .entries = bad[i].e,
                            .num_entries = bad[i].num };
        uint8_t *der = NULL;
        size_t der_len = 777;
        ztca_rc rc = ca_crl_build(&der, &der_len, t.issuer, &p);
        if (rc.err != ZTCA_ERR_BAD_INPUT || getenv("TEST_VERBOSE") != NULL) {
            fprintf(stderr, "\n%s: got %s (%s)\n", bad[i].name, ztca_err_name(rc.err),
                    ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_STRING_EQUAL(ztca_last_what(), bad[i].what);
        CU_ASSERT_PTR_NULL(der);
        CU_ASSERT_EQUAL(der_len, 777);
    }
    /* Leading zero octets do not change the entry: same bytes as without them. */
    ca_crl_entry a = { one, 1, T0, CA_REASON_SUPERSEDED, 0 };
    ca_crl_entry b = { one_padded, 2, T0, CA_REASON_SUPERSEDED, 0 };
    ca_crl_params pa = {
        .number = 3, .this_update = T0, .next_update = T0 + 1, .entries = &a, .num_entries = 1
    };
    ca_crl_params pb = pa;
    pb.entries = &b;
    uint8_t *da = NULL, *db = NULL;
    size_t la = 0, lb = 0;
    UNIT_ASSERT_OK(ca_crl_build(&da, &la, t.issuer, &pa));
    UNIT_ASSERT_OK(ca_crl_build(&db, &lb, t.issuer, &pb));
    mbedtls_x509_crl ca_, cb;
    mbedtls_x509_crl_init(&ca_);
    mbedtls_x509_crl_init(&cb);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crl_parse_der(&ca_, da, la), 0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_x509_crl_parse_der(&cb, db, lb), 0);
    CU_ASSERT_TRUE(ca_.entry.raw.len == cb.entry.raw.len
                   && memcmp(ca_.entry.raw.p, cb.entry.raw.p, ca_.entry.raw.len) == 0);
    /* The whole entry, by hand: serial 1, UTCTime, reasonCode superseded(4), non-critical. */
    CU_ASSERT_TRUE(test_find(da, la,
                             "\x30\x20\x02\x01\x01\x17\x0d" T0_UTC "\x30\x0c\x30\x0a"
                             "\x06\x03\x55\x1d\x15\x04\x03\x0a\x01\x04",
                             34));
    mbedtls_x509_crl_free(&ca_);
    mbedtls_x509_crl_free(&cb);
    free(da);
    free(db);
    test_pki_close(&t);
}

/* ---- OOM ----------------------------------------------------------------------------------- */

static void
test_oom(void)
{
    test_pki t;
    test_pki_open(&t);
    size_t len = 0;
    uint8_t *der = test_data("req_multi_nonce.der", &len);
    ca_ocsp_req req;
    UNIT_ASSERT_OK(ca_ocsp_req_parse(&req, der, len));
    ca_ocsp_entry e[3];
    for (size_t i = 0; i < 3; i++) {
        e[i] = (ca_ocsp_entry){ .certid = req.ids[i].element,
                                .status = (ca_ocsp_cert_status)i,
                                .revocation_time = T0,
                                .reason = CA_REASON_SUPERSEDED,
                                .this_update = T0,
                                .next_update = T0 + 60,
                                .trust_score = (int)i * 10 };
    }
    ca_ocsp_resp_params p = { .signer_cert = t.ocsp_der,
                              .signer_cert_len = t.ocsp_len,
                              .produced_at = T0,
                              .entries = e,
                              .num_entries = 3,
                              .nonce = req.nonce.p,
                              .nonce_len = req.nonce.len };
    bool done = false;
    long failures = 0;
    for (long n = 0; n < 200 && !done; n++) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        ztca_alloc_fail_after(n);
        ztca_rc rc = ca_ocsp_resp_build(&out, &out_len, t.ocsp_signer, &p);
        ztca_alloc_fail_after(-1);
        if (ZTCA_IS_OK(rc)) {
            done = true;
            size_t spki_len = 0;
            const uint8_t *spki = ca_signer_spki(t.ocsp_signer, &spki_len);
            test_check_response(out, out_len, &p, spki, spki_len);
        } else {
            failures++;
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_NOMEM);
            CU_ASSERT_PTR_NULL(out);
        }
        free(out);
    }
    CU_ASSERT_TRUE(done);
    CU_ASSERT_TRUE(failures >= 2); /* the TBS and the response buffers */

    const ca_crl_entry ce[] = {
        { crl_serial_a, sizeof(crl_serial_a), T0, CA_REASON_KEY_COMPROMISE, T0 },
        { crl_serial_c, sizeof(crl_serial_c), T0, CA_REASON_UNSPECIFIED, 0 },
    };
    ca_crl_params cp = {
        .number = 9, .this_update = T0, .next_update = T0 + 60, .entries = ce, .num_entries = 2
    };
    done = false;
    failures = 0;
    for (long n = 0; n < 200 && !done; n++) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        ztca_alloc_fail_after(n);
        ztca_rc rc = ca_crl_build(&out, &out_len, t.issuer, &cp);
        ztca_alloc_fail_after(-1);
        if (ZTCA_IS_OK(rc)) {
            done = true;
            mbedtls_x509_crl crl;
            test_crl_common(&t, &crl, out, out_len, &cp);
            mbedtls_x509_crl_free(&crl);
        } else {
            failures++;
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_NOMEM);
            CU_ASSERT_PTR_NULL(out);
        }
        free(out);
    }
    CU_ASSERT_TRUE(done);
    CU_ASSERT_TRUE(failures >= 2);
    free(der);
    test_pki_close(&t);
}

int
main(void)
{
    static const unit_test tests[] = {
        { "req_vectors", test_req_vectors },
        { "req_every_prefix", test_req_every_prefix },
        { "req_table", test_req_table },
        { "req_no_alloc", test_req_no_alloc },
        { "status_only", test_status_only },
        { "resp_roundtrip", test_resp_roundtrip },
        { "resp_refusals", test_resp_refusals },
        { "crl_roundtrip", test_crl_roundtrip },
        { "crl_mbedtls_verify", test_crl_mbedtls_verify },
        { "crl_refusals", test_crl_refusals },
        { "oom", test_oom },
        { NULL, NULL },
    };
    return unit_run("ca_ocsp", tests);
}
