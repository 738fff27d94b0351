/* test_attest.c: the "attest" suite. Positive vectors are real swtpm evidence committed in
 * tests/data/attest/ (regenerated together by tests/fuzz/corpus/make_attest_seeds.sh); negatives
 * are derived from them with tss2-mu (re-marshalled public areas) or byte edits, and synthetic EK
 * chains are written with mbedTLS. MakeCredential has known answers computed with Python's
 * hashlib/hmac and pyca/cryptography (an independent implementation) and a software
 * ActivateCredential; the real TPM round trip is in tests/integration/test_attest.sh.
 *
 * Every refusal is checked for its exact reason, and that reason's ztca_err. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>
#include <tss2/tss2_mu.h>

#include "attest/attest.h"
#include "attest/internal.h"
#include "tests/unit/unit.h"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct vec {
    uint8_t *p;
    size_t len;
} vec;

static vec
load(const char *name)
{
    char path[256];
    vec v = { NULL, 0 };
    snprintf(path, sizeof(path), "tests/data/attest/%s", name);
    v.p = unit_read_file(path, &v.len);
    if (v.p == NULL) {
        fprintf(stderr, "missing test vector %s\n", path);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(v.p);
    return v;
}

static void
unload(vec *v)
{
    free(v->p);
    v->p = NULL;
}

/* reason_of: checks that a result and its reason agree (OK <-> ATTEST_OK, otherwise the reason's
 * own error code) and returns the reason. */
static attest_reason
reason_of(ztca_rc rc, attest_reason why)
{
    if (ZTCA_IS_OK(rc)) {
        CU_ASSERT_EQUAL(why, ATTEST_OK);
        return ATTEST_OK;
    }
    CU_ASSERT_NOT_EQUAL(why, ATTEST_OK);
    if (why != ATTEST_R_INTERNAL && rc.err != attest_reason_err(why)) {
        fprintf(stderr, "reason %s came with err %s\n", attest_reason_name(why),
                ztca_err_name(rc.err));
        CU_FAIL("reason and error code disagree");
    }
    return why;
}

static bool
want(const char *what, attest_reason got, attest_reason expected)
{
    if (got != expected) {
        fprintf(stderr, "\n  %s: got %s, want %s (%s)\n", what, attest_reason_name(got),
                attest_reason_name(expected), ztca_last_what());
        return false;
    }
    return true;
}

/* Every parser, as "bytes -> reason", called on an exact-size heap copy (ASan sees over-reads). */
typedef attest_reason (*parse_fn)(const uint8_t *p, size_t len);

static attest_reason
p_key(const uint8_t *p, size_t len)
{
    attest_key k;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_key_parse(&k, &why, p, len);
    return reason_of(rc, why);
}

static attest_reason
p_ak(const uint8_t *p, size_t len)
{
    attest_key k;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_ak_parse(&k, &why, p, len);
    return reason_of(rc, why);
}

static attest_reason
p_ek(const uint8_t *p, size_t len)
{
    attest_key k;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_ek_public_parse(&k, &why, p, len);
    return reason_of(rc, why);
}

static attest_reason
p_attest(const uint8_t *p, size_t len)
{
    attest_info a;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_attest_parse(&a, &why, p, len);
    return reason_of(rc, why);
}

static attest_reason
p_attest2b(const uint8_t *p, size_t len)
{
    attest_info a;
    attest_reason why = ATTEST_OK;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    ztca_rc rc = attest_attest2b_parse(&a, &why, &body, &body_len, p, len);
    return reason_of(rc, why);
}

static attest_reason
p_sig(const uint8_t *p, size_t len)
{
    attest_sig s;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_signature_parse(&s, &why, p, len);
    return reason_of(rc, why);
}

static attest_reason
run_dup(parse_fn fn, const uint8_t *p, size_t len)
{
    uint8_t *d = unit_dup(p, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    attest_reason r = fn(d, len);
    free(d);
    return r;
}

/* The public area of a vector, to derive negatives by re-marshalling with tss2-mu. */
static TPMT_PUBLIC
load_area(const char *name)
{
    vec v = load(name);
    TPMT_PUBLIC pub;
    memset(&pub, 0, sizeof(pub));
    size_t off = 0;
    CU_ASSERT_FATAL(Tss2_MU_TPMT_PUBLIC_Unmarshal(v.p + 2, v.len - 2, &off, &pub) == 0);
    unload(&v);
    return pub;
}

static size_t
marshal_area(uint8_t *out, size_t size, const TPMT_PUBLIC *area)
{
    TPM2B_PUBLIC p;
    memset(&p, 0, sizeof(p));
    p.publicArea = *area;
    size_t off = 0;
    CU_ASSERT_FATAL(Tss2_MU_TPM2B_PUBLIC_Marshal(&p, out, size, &off) == 0);
    return off;
}

static attest_reason
area_reason(parse_fn fn, const TPMT_PUBLIC *area)
{
    uint8_t buf[1024];
    size_t n = marshal_area(buf, sizeof(buf), area);
    return run_dup(fn, buf, n);
}

static bool
name_eq(const attest_name *a, const attest_name *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static int
test_rng(void *rng, unsigned char *out, size_t len)
{
    return ZTCA_IS_OK(ca_rng_bytes(rng, out, len)) ? 0 : -1;
}

/* ---- reasons ------------------------------------------------------------------------------ */

static void
test_reason_names(void)
{
    /* The names are API (problem+json, logs, docs/attestation.md): pin a few and require every
     * one to be distinct and documented. */
    CU_ASSERT_STRING_EQUAL(attest_reason_name(ATTEST_OK), "ok");
    CU_ASSERT_STRING_EQUAL(attest_reason_name(ATTEST_R_NONCE_MISMATCH), "nonce_mismatch");
    CU_ASSERT_STRING_EQUAL(attest_reason_name(ATTEST_R_EK_CERT_UNTRUSTED), "ek_cert_untrusted");
    CU_ASSERT_STRING_EQUAL(attest_reason_name(ATTEST_R_PCR_DIGEST_MISMATCH), "pcr_digest_mismatch");
    CU_ASSERT_STRING_EQUAL(attest_reason_name(ATTEST_R_KEY_EXPORTABLE), "key_exportable");
    CU_ASSERT_STRING_EQUAL(attest_reason_name(ATTEST_R_COUNT_), "unknown");
    CU_ASSERT_STRING_EQUAL(attest_reason_name((attest_reason)-1), "unknown");
    for (int i = 0; i < ATTEST_R_COUNT_; i++) {
        const char *a = attest_reason_name((attest_reason)i);
        CU_ASSERT_PTR_NOT_NULL(a);
        if (a == NULL) {
            continue;
        }
        CU_ASSERT(strlen(a) > 1 && strcmp(a, "unknown") != 0);
        CU_ASSERT(strlen(attest_reason_text((attest_reason)i)) > 10);
        for (int j = 0; j < i; j++) {
            CU_ASSERT(strcmp(a, attest_reason_name((attest_reason)j)) != 0);
        }
    }
    CU_ASSERT_EQUAL(attest_reason_err(ATTEST_R_TRUNCATED), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(attest_reason_err(ATTEST_R_UNSUPPORTED_ALG), ZTCA_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(attest_reason_err(ATTEST_R_SIGNATURE_INVALID), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(attest_reason_err(ATTEST_R_INTERNAL), ZTCA_ERR_INTERNAL);
}

/* ---- TPM2B_PUBLIC, Names, AK policy ---------------------------------------------------------- */

static void
test_key_vectors(void)
{
    static const struct {
        const char *name;
        attest_key_type type;
        uint16_t bits, name_alg, scheme, scheme_hash;
    } cases[] = {
        { "rsa", ATTEST_KEY_RSA, 2048, ATTEST_ALG_SHA256, ATTEST_ALG_RSASSA, ATTEST_ALG_SHA256 },
        { "pss", ATTEST_KEY_RSA, 2048, ATTEST_ALG_SHA384, ATTEST_ALG_RSAPSS, ATTEST_ALG_SHA256 },
        { "e256", ATTEST_KEY_ECC, 256, ATTEST_ALG_SHA256, ATTEST_ALG_ECDSA, ATTEST_ALG_SHA256 },
        { "e384", ATTEST_KEY_ECC, 384, ATTEST_ALG_SHA384, ATTEST_ALG_ECDSA, ATTEST_ALG_SHA384 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char f[64];
        snprintf(f, sizeof(f), "ak_%s.pub", cases[i].name);
        vec pub = load(f);
        snprintf(f, sizeof(f), "ak_%s.name", cases[i].name);
        vec name = load(f);
        attest_key k;
        attest_reason why;
        UNIT_ASSERT_OK(attest_ak_parse(&k, &why, pub.p, pub.len));
        CU_ASSERT_EQUAL(why, ATTEST_OK);
        /* The Name tpm2_createak wrote (-n) is the Name we compute. */
        CU_ASSERT_EQUAL(k.name.len, name.len);
        CU_ASSERT(k.name.len == name.len && memcmp(k.name.bytes, name.p, name.len) == 0);
        CU_ASSERT_EQUAL(k.type, cases[i].type);
        CU_ASSERT_EQUAL(k.bits, cases[i].bits);
        CU_ASSERT_EQUAL(k.name_alg, cases[i].name_alg);
        CU_ASSERT_EQUAL(k.scheme, cases[i].scheme);
        CU_ASSERT_EQUAL(k.scheme_hash, cases[i].scheme_hash);
        CU_ASSERT_EQUAL(k.attributes, 0x00050072u); /* notes 3.2 */
        CU_ASSERT(attest_key_matches_spki(&k, k.spki, k.spki_len));
        unload(&pub);
        unload(&name);
    }
    /* EK publics: the three templates. */
    static const struct {
        const char *file;
        uint16_t name_alg, sym_bits;
        uint32_t attrs;
    } eks[] = {
        { "ek_rsa.pub", ATTEST_ALG_SHA256, 128, 0x000300b2u },
        { "ek_p256.pub", ATTEST_ALG_SHA256, 128, 0x000300b2u },
        { "ek_p384.pub", ATTEST_ALG_SHA384, 256, 0x000300f2u },
    };
    for (size_t i = 0; i < sizeof(eks) / sizeof(eks[0]); i++) {
        vec pub = load(eks[i].file);
        attest_key k;
        attest_reason why;
        UNIT_ASSERT_OK(attest_ek_public_parse(&k, &why, pub.p, pub.len));
        CU_ASSERT_EQUAL(k.name_alg, eks[i].name_alg);
        CU_ASSERT_EQUAL(k.sym_bits, eks[i].sym_bits);
        CU_ASSERT_EQUAL(k.sym_alg, ATTEST_ALG_AES);
        CU_ASSERT_EQUAL(k.sym_mode, ATTEST_ALG_CFB);
        CU_ASSERT_EQUAL(k.attributes, eks[i].attrs);
        /* An EK is not an AK. */
        CU_ASSERT(want(eks[i].file, run_dup(p_ak, pub.p, pub.len), ATTEST_R_AK_DECRYPT));
        unload(&pub);
    }
}

static void
test_ak_policy(void)
{
    static const struct {
        const char *what;
        uint32_t clear, set;
        attest_reason want;
    } cases[] = {
        { "fixedTPM clear", TPMA_OBJECT_FIXEDTPM, 0, ATTEST_R_AK_NOT_FIXED },
        { "fixedParent clear", TPMA_OBJECT_FIXEDPARENT, 0, ATTEST_R_AK_NOT_FIXED },
        { "sensitiveDataOrigin clear", TPMA_OBJECT_SENSITIVEDATAORIGIN, 0,
          ATTEST_R_AK_NOT_TPM_GENERATED },
        { "decrypt set", 0, TPMA_OBJECT_DECRYPT, ATTEST_R_AK_DECRYPT },
        { "restricted clear", TPMA_OBJECT_RESTRICTED, 0, ATTEST_R_AK_NOT_RESTRICTED },
        { "sign clear", TPMA_OBJECT_SIGN_ENCRYPT, 0, ATTEST_R_AK_NOT_SIGN },
        { "userWithAuth clear (allowed)", TPMA_OBJECT_USERWITHAUTH, 0, ATTEST_OK },
        { "noDA set (allowed)", 0, TPMA_OBJECT_NODA, ATTEST_OK },
    };
    TPMT_PUBLIC base = load_area("ak_e256.pub");
    CU_ASSERT(want("unmodified", area_reason(p_ak, &base), ATTEST_OK));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TPMT_PUBLIC a = base;
        a.objectAttributes = (a.objectAttributes & ~cases[i].clear) | cases[i].set;
        CU_ASSERT(want(cases[i].what, area_reason(p_ak, &a), cases[i].want));
        /* attest_key_parse has no attribute policy. */
        CU_ASSERT(want(cases[i].what, area_reason(p_key, &a), ATTEST_OK));
    }
    /* Real keys from the same TPM. */
    static const struct {
        const char *file;
        attest_reason want;
    } real[] = {
        { "tls.pub", ATTEST_R_AK_NOT_RESTRICTED },
        { "srk.pub", ATTEST_R_AK_DECRYPT },
        { "exp.pub", ATTEST_R_AK_NOT_FIXED },
    };
    for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
        vec v = load(real[i].file);
        CU_ASSERT(want(real[i].file, run_dup(p_ak, v.p, v.len), real[i].want));
        unload(&v);
    }
}

static void
test_ek_public_policy(void)
{
    TPMT_PUBLIC base = load_area("ek_rsa.pub");
    CU_ASSERT(want("ek", area_reason(p_ek, &base), ATTEST_OK));
    TPMT_PUBLIC a = base;
    a.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT;
    CU_ASSERT(want("ek sign", area_reason(p_ek, &a), ATTEST_R_EK_ATTRIBUTES));
    a = base;
    a.objectAttributes &= ~TPMA_OBJECT_RESTRICTED;
    CU_ASSERT(want("ek unrestricted", area_reason(p_ek, &a), ATTEST_R_EK_ATTRIBUTES));
    a = base;
    a.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
    CU_ASSERT(want("ek not fixedTPM", area_reason(p_ek, &a), ATTEST_R_EK_ATTRIBUTES));
    a = base;
    a.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CBC;
    CU_ASSERT(want("ek AES-CBC", area_reason(p_ek, &a), ATTEST_R_EK_ATTRIBUTES));
    a = base;
    a.parameters.rsaDetail.symmetric.keyBits.aes = 192;
    CU_ASSERT(want("ek AES-192", area_reason(p_ek, &a), ATTEST_R_EK_ATTRIBUTES));
    a = base;
    a.nameAlg = TPM2_ALG_SHA1;
    CU_ASSERT(want("ek SHA-1", area_reason(p_ek, &a), ATTEST_R_UNSUPPORTED_ALG));
}

static void
test_key_negatives(void)
{
    TPMT_PUBLIC ecc = load_area("ak_e256.pub");
    TPMT_PUBLIC rsa = load_area("ak_rsa.pub");
    TPMT_PUBLIC a;

    a = ecc;
    a.nameAlg = TPM2_ALG_SM3_256;
    CU_ASSERT(want("nameAlg SM3", area_reason(p_key, &a), ATTEST_R_UNSUPPORTED_ALG));
    a = ecc;
    a.nameAlg = TPM2_ALG_SHA512;
    CU_ASSERT(want("nameAlg SHA-512", area_reason(p_key, &a), ATTEST_OK));
    a = ecc;
    a.nameAlg = TPM2_ALG_SHA1;
    CU_ASSERT(want("nameAlg SHA-1", area_reason(p_key, &a), ATTEST_OK));
    a = ecc;
    a.parameters.eccDetail.curveID = TPM2_ECC_NIST_P521;
    CU_ASSERT(want("curve P-521", area_reason(p_key, &a), ATTEST_R_UNSUPPORTED_ALG));
    a = ecc;
    a.unique.ecc.y.buffer[31] ^= 1;
    CU_ASSERT(want("point off the curve", area_reason(p_key, &a), ATTEST_R_MALFORMED));
    a = ecc;
    memmove(a.unique.ecc.x.buffer + 1, a.unique.ecc.x.buffer, 32);
    a.unique.ecc.x.buffer[0] = 0;
    a.unique.ecc.x.size = 33;
    CU_ASSERT(want("x of 33 bytes for P-256", area_reason(p_key, &a), ATTEST_R_OVERSIZED));
    a = ecc;
    if (a.unique.ecc.x.buffer[0] == 0) {
        /* Leading zeros may be dropped: the same point with x one byte shorter. */
        memmove(a.unique.ecc.x.buffer, a.unique.ecc.x.buffer + 1, 31);
        a.unique.ecc.x.size = 31;
        CU_ASSERT(want("short x", area_reason(p_key, &a), ATTEST_OK));
    }
    a = rsa;
    a.parameters.rsaDetail.keyBits = 1024;
    CU_ASSERT(want("RSA-1024", area_reason(p_key, &a), ATTEST_R_UNSUPPORTED_ALG));
    a = rsa;
    a.unique.rsa.size = 255;
    CU_ASSERT(want("modulus shorter than keyBits", area_reason(p_key, &a), ATTEST_R_MALFORMED));
    a = rsa;
    a.unique.rsa.size = 257;
    CU_ASSERT(want("modulus longer than keyBits", area_reason(p_key, &a), ATTEST_R_OVERSIZED));
    a = rsa;
    a.parameters.rsaDetail.exponent = 4;
    CU_ASSERT(want("even exponent", area_reason(p_key, &a), ATTEST_R_MALFORMED));
    a = rsa;
    a.parameters.rsaDetail.exponent = 3;
    CU_ASSERT(want("exponent 3", area_reason(p_key, &a), ATTEST_OK));
    a = ecc;
    a.type = TPM2_ALG_KEYEDHASH;
    a.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    a.unique.keyedHash.size = 0;
    CU_ASSERT(want("keyedHash object", area_reason(p_key, &a), ATTEST_R_UNSUPPORTED_ALG));

    /* Byte-level edits of a real TPM2B_PUBLIC (P-256 AK, 90 bytes). */
    vec v = load("ak_e256.pub");
    uint8_t b[512];
    CU_ASSERT_FATAL(v.len == 90);
    memcpy(b, v.p, v.len);
    b[v.len] = 0;
    CU_ASSERT(want("trailing byte", run_dup(p_key, b, v.len + 1), ATTEST_R_TRAILING_DATA));
    memcpy(b, v.p, v.len);
    b[1] = (uint8_t)(b[1] + 1); /* size claims one byte more than there is */
    CU_ASSERT(want("outer size + 1", run_dup(p_key, b, v.len), ATTEST_R_TRUNCATED));
    memcpy(b, v.p, v.len);
    b[1] = (uint8_t)(b[1] - 1); /* the public area ends one byte early */
    CU_ASSERT(want("outer size - 1", run_dup(p_key, b, v.len), ATTEST_R_TRAILING_DATA));
    CU_ASSERT(want("outer size - 1, cut", run_dup(p_key, b, v.len - 1), ATTEST_R_TRUNCATED));
    memcpy(b, v.p, v.len);
    b[22] = 0x00; /* unique.ecc.x.size: 0x20 -> 0x0081, above TPM2B_ECC_PARAMETER's 128 */
    b[23] = 0x81;
    CU_ASSERT(want("x.size 0x81", run_dup(p_key, b, v.len), ATTEST_R_OVERSIZED));
    memcpy(b, v.p, v.len);
    b[4] = 0x00; /* nameAlg 0x000b -> 0x0000 (TPM_ALG_ERROR) */
    b[5] = 0x00;
    CU_ASSERT(want("nameAlg 0", run_dup(p_key, b, v.len), ATTEST_R_UNSUPPORTED_ALG));
    memcpy(b, v.p, v.len);
    b[3] = 0x99; /* type 0x0023 -> 0x0099: no TPMU_PUBLIC_PARMS member */
    CU_ASSERT(want("type 0x0099", run_dup(p_key, b, v.len), ATTEST_R_MALFORMED));
    static const uint8_t empty_tpm2b[2] = { 0, 0 };
    CU_ASSERT(want("size 0", run_dup(p_key, empty_tpm2b, 2), ATTEST_R_TRUNCATED));
    CU_ASSERT(want("empty", run_dup(p_key, empty_tpm2b, 0), ATTEST_R_TRUNCATED));
    CU_ASSERT(want("one byte", run_dup(p_key, empty_tpm2b, 1), ATTEST_R_TRUNCATED));
    unload(&v);
}

/* Every prefix of every real blob fails, and fails as "truncated" (the pad-and-retry diagnosis
 * must never call a cut blob "oversized"). */
static void
test_every_prefix(void)
{
    static const struct {
        const char *file;
        parse_fn fn;
    } cases[] = {
        { "ak_rsa.pub", p_ak },
        { "ak_pss.pub", p_ak },
        { "ak_e256.pub", p_ak },
        { "ak_e384.pub", p_ak },
        { "ek_rsa.pub", p_ek },
        { "ek_p256.pub", p_ek },
        { "ek_p384.pub", p_ek },
        { "tls.pub", p_key },
        { "quote_rsa.msg", p_attest },
        { "quote_pss.msg", p_attest },
        { "quote_e256.msg", p_attest },
        { "quote_e384.msg", p_attest },
        { "certify_tls.attest", p_attest },
        { "quote_rsa.sig", p_sig },
        { "quote_pss.sig", p_sig },
        { "quote_e256.sig", p_sig },
        { "quote_e384.sig", p_sig },
        { "certify_tls.sig", p_sig },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vec v = load(cases[i].file);
        CU_ASSERT(want(cases[i].file, run_dup(cases[i].fn, v.p, v.len), ATTEST_OK));
        for (size_t n = 0; n < v.len; n++) {
            attest_reason r = run_dup(cases[i].fn, v.p, n);
            if (r != ATTEST_R_TRUNCATED) {
                fprintf(stderr, "\n  %s prefix %zu: %s\n", cases[i].file, n, attest_reason_name(r));
                CU_FAIL("prefix not reported as truncated");
            }
        }
        unload(&v);
    }
    /* TPM2B_ATTEST around a real quote, and its prefixes. */
    vec q = load("quote_e256.msg");
    uint8_t b[512];
    b[0] = (uint8_t)(q.len >> 8);
    b[1] = (uint8_t)q.len;
    memcpy(b + 2, q.p, q.len);
    CU_ASSERT(want("TPM2B_ATTEST", run_dup(p_attest2b, b, q.len + 2), ATTEST_OK));
    for (size_t n = 0; n < q.len + 2; n++) {
        CU_ASSERT(run_dup(p_attest2b, b, n) == ATTEST_R_TRUNCATED);
    }
    b[q.len + 2] = 0xff;
    CU_ASSERT(want("TPM2B_ATTEST + 1", run_dup(p_attest2b, b, q.len + 3), ATTEST_R_TRAILING_DATA));
    {
        attest_info info;
        attest_reason why;
        const uint8_t *body = NULL;
        size_t body_len = 0;
        UNIT_ASSERT_OK(attest_attest2b_parse(&info, &why, &body, &body_len, b, q.len + 2));
        CU_ASSERT(body == b + 2 && body_len == q.len);
        CU_ASSERT_EQUAL(info.type, ATTEST_ST_QUOTE);
    }
    unload(&q);
}

/* ---- TPMS_ATTEST and TPMT_SIGNATURE --------------------------------------------------------- */

static void
test_attest_parse(void)
{
    vec q = load("quote_e256.msg");
    vec c = load("certify_tls.attest");
    vec nonce = load("nonce.bin");
    vec ak = load("ak_e256.pub");
    vec tls = load("tls.pub");
    attest_info info;
    attest_reason why;
    attest_key k;

    UNIT_ASSERT_OK(attest_attest_parse(&info, &why, q.p, q.len));
    CU_ASSERT_EQUAL(info.type, ATTEST_ST_QUOTE);
    CU_ASSERT(info.extra_data_len == nonce.len && memcmp(info.extra_data, nonce.p, nonce.len) == 0);
    CU_ASSERT_EQUAL(info.num_pcr_select, 1);
    CU_ASSERT_EQUAL(info.pcr_select[0].hash_alg, ATTEST_ALG_SHA256);
    CU_ASSERT_EQUAL(info.pcr_select[0].mask, 0xffu);
    CU_ASSERT_EQUAL(info.pcr_digest_len, 32);
    CU_ASSERT_EQUAL(info.qualified_signer.len, 34);
    CU_ASSERT_EQUAL(info.firmware_version, 0x2019102300163636ULL); /* swtpm 0.7 (notes 4) */
    CU_ASSERT(info.clock.reset_count > 0);

    UNIT_ASSERT_OK(attest_attest_parse(&info, &why, c.p, c.len));
    CU_ASSERT_EQUAL(info.type, ATTEST_ST_CERTIFY);
    UNIT_ASSERT_OK(attest_key_parse(&k, &why, tls.p, tls.len));
    CU_ASSERT(info.certified_name.len == k.name.len
              && memcmp(info.certified_name.bytes, k.name.bytes, k.name.len) == 0);

    /* Byte edits of the quote (offsets: magic 0, type 4, qualifiedSigner 6, extraData 42). */
    uint8_t b[512];
    memcpy(b, q.p, q.len);
    b[0] ^= 0xff;
    CU_ASSERT(want("magic", run_dup(p_attest, b, q.len), ATTEST_R_BAD_MAGIC));
    memcpy(b, q.p, q.len);
    b[4] = 0x99;
    b[5] = 0x99;
    CU_ASSERT(want("type 0x9999", run_dup(p_attest, b, q.len), ATTEST_R_MALFORMED));
    memcpy(b, q.p, q.len);
    b[42] = 0x00;
    b[43] = 0x41; /* extraData 65 > TPM2B_DATA (64) */
    CU_ASSERT(want("extraData 65", run_dup(p_attest, b, q.len), ATTEST_R_OVERSIZED));
    memcpy(b, q.p, q.len);
    b[6] = 0x01; /* qualifiedSigner size 0x0122 > TPM2B_NAME */
    CU_ASSERT(want("qualifiedSigner 290", run_dup(p_attest, b, q.len), ATTEST_R_OVERSIZED));
    memcpy(b, q.p, q.len);
    b[104] = 0x20; /* TPML_PCR_SELECTION.count 1 -> 32, above 16 banks (offset 101..104) */
    CU_ASSERT(want("PCR bank count 32", run_dup(p_attest, b, q.len), ATTEST_R_OVERSIZED));
    memcpy(b, q.p, q.len);
    b[107] = 0x09; /* sizeofSelect 3 -> 9, above 4 */
    CU_ASSERT(want("sizeofSelect 9", run_dup(p_attest, b, q.len), ATTEST_R_OVERSIZED));
    memcpy(b, q.p, q.len);
    b[q.len] = 0;
    CU_ASSERT(want("trailing", run_dup(p_attest, b, q.len + 1), ATTEST_R_TRAILING_DATA));
    unload(&q);
    unload(&c);
    unload(&nonce);
    unload(&ak);
    unload(&tls);
}

static void
test_signature_parse(void)
{
    static const struct {
        const char *file;
        uint16_t alg, hash;
    } cases[] = {
        { "quote_rsa.sig", ATTEST_ALG_RSASSA, ATTEST_ALG_SHA256 },
        { "quote_pss.sig", ATTEST_ALG_RSAPSS, ATTEST_ALG_SHA256 },
        { "quote_e256.sig", ATTEST_ALG_ECDSA, ATTEST_ALG_SHA256 },
        { "quote_e384.sig", ATTEST_ALG_ECDSA, ATTEST_ALG_SHA384 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vec v = load(cases[i].file);
        attest_sig s;
        attest_reason why;
        UNIT_ASSERT_OK(attest_signature_parse(&s, &why, v.p, v.len));
        CU_ASSERT_EQUAL(s.alg, cases[i].alg);
        CU_ASSERT_EQUAL(s.hash, cases[i].hash);
        if (s.alg == ATTEST_ALG_ECDSA) {
            CU_ASSERT_EQUAL(s.sig[0], 0x30); /* DER Ecdsa-Sig-Value for ca_verify */
            CU_ASSERT_EQUAL(s.sig[1], s.sig_len - 2);
        } else {
            CU_ASSERT_EQUAL(s.sig_len, 256);
        }
        unload(&v);
    }
    vec v = load("quote_e256.sig");
    uint8_t b[512];
    memcpy(b, v.p, v.len);
    b[1] = 0x1a; /* ECDAA: a real scheme, not one ztca takes */
    CU_ASSERT(want("ECDAA", run_dup(p_sig, b, v.len), ATTEST_R_UNSUPPORTED_ALG));
    memcpy(b, v.p, v.len);
    b[1] = 0x77;
    CU_ASSERT(want("sigAlg 0x77", run_dup(p_sig, b, v.len), ATTEST_R_MALFORMED));
    memcpy(b, v.p, v.len);
    b[3] = 0x04; /* hash SHA-1 */
    CU_ASSERT(want("ECDSA-SHA1", run_dup(p_sig, b, v.len), ATTEST_R_UNSUPPORTED_ALG));
    memcpy(b, v.p, v.len);
    b[1] = 0x10; /* TPM_ALG_NULL: unmarshals as nothing, then trailing bytes */
    CU_ASSERT(want("NULL + bytes", run_dup(p_sig, b, v.len), ATTEST_R_TRAILING_DATA));
    CU_ASSERT(want("NULL", run_dup(p_sig, b, 2), ATTEST_R_UNSUPPORTED_ALG));
    memcpy(b, v.p, v.len);
    b[4] = 0x00;
    b[5] = 0x81; /* r.size 0x81 > 128 */
    CU_ASSERT(want("r 0x81", run_dup(p_sig, b, v.len), ATTEST_R_OVERSIZED));
    static const uint8_t zero_r[] = { 0x00, 0x18, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x01 };
    CU_ASSERT(want("empty r", run_dup(p_sig, zero_r, sizeof(zero_r)), ATTEST_R_MALFORMED));
    unload(&v);
    vec r = load("quote_rsa.sig");
    memcpy(b, r.p, r.len);
    b[4] = 0x02;
    b[5] = 0x01; /* sig.size 513 > TPM2B_PUBLIC_KEY_RSA */
    CU_ASSERT(want("RSA 513", run_dup(p_sig, b, r.len), ATTEST_R_OVERSIZED));
    unload(&r);
}

/* ---- quote -------------------------------------------------------------------------------- */

typedef struct quote_fx {
    vec ak, msg, sig, pcrs, nonce;
    attest_key key;
} quote_fx;

static void
quote_load(quote_fx *f, const char *k)
{
    char n[64];
    attest_reason why;
    snprintf(n, sizeof(n), "ak_%s.pub", k);
    f->ak = load(n);
    snprintf(n, sizeof(n), "quote_%s.msg", k);
    f->msg = load(n);
    snprintf(n, sizeof(n), "quote_%s.sig", k);
    f->sig = load(n);
    snprintf(n, sizeof(n), "quote_%s.pcrs", k);
    f->pcrs = load(n);
    f->nonce = load("nonce.bin");
    UNIT_ASSERT_OK(attest_ak_parse(&f->key, &why, f->ak.p, f->ak.len));
}

static void
quote_free(quote_fx *f)
{
    unload(&f->ak);
    unload(&f->msg);
    unload(&f->sig);
    unload(&f->pcrs);
    unload(&f->nonce);
}

static attest_quote_in
quote_in(const quote_fx *f)
{
    attest_quote_in in = { f->msg.p,    f->msg.len, f->sig.p,     f->sig.len,        f->pcrs.p,
                           f->pcrs.len, f->nonce.p, f->nonce.len, ATTEST_ALG_SHA256, 0xff };
    return in;
}

static attest_reason
quote_reason(const attest_key *ak, const attest_quote_in *in)
{
    /* Exact-size copies of every input. */
    uint8_t *m = unit_dup(in->attest, in->attest_len), *s = unit_dup(in->sig, in->sig_len),
            *p = unit_dup(in->pcr_values, in->pcr_values_len),
            *n = unit_dup(in->nonce, in->nonce_len);
    attest_quote_in c = *in;
    c.attest = m;
    c.sig = s;
    c.pcr_values = p;
    c.nonce = n;
    attest_quote q;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_quote_verify(&q, &why, ak, &c);
    free(m);
    free(s);
    free(p);
    free(n);
    return reason_of(rc, why);
}

static void
test_quote_vectors(void)
{
    static const char *const aks[] = { "rsa", "pss", "e256", "e384" };
    for (size_t i = 0; i < sizeof(aks) / sizeof(aks[0]); i++) {
        quote_fx f;
        quote_load(&f, aks[i]);
        attest_quote_in in = quote_in(&f);
        attest_quote q;
        attest_info info;
        attest_reason why;
        UNIT_ASSERT_OK(attest_quote_verify(&q, &why, &f.key, &in));
        CU_ASSERT_EQUAL(why, ATTEST_OK);
        UNIT_ASSERT_OK(attest_attest_parse(&info, &why, f.msg.p, f.msg.len));
        CU_ASSERT_EQUAL(q.clock.reset_count, info.clock.reset_count);
        CU_ASSERT_EQUAL(q.clock.restart_count, info.clock.restart_count);
        CU_ASSERT_EQUAL(q.firmware_version, info.firmware_version);
        CU_ASSERT_EQUAL(q.pcrs.hash_alg, ATTEST_ALG_SHA256);
        CU_ASSERT_EQUAL(q.pcrs.mask, 0xffu);
        for (size_t p = 0; p < 8; p++) {
            CU_ASSERT(memcmp(q.pcrs.values[p], f.pcrs.p + 32 * p, 32) == 0);
        }
        /* The e384 quote's pcrDigest is SHA-384: the signing hash, not the bank's. */
        CU_ASSERT_EQUAL(info.pcr_digest_len, strcmp(aks[i], "e384") == 0 ? 48 : 32);
        quote_free(&f);
    }
}

static void
test_quote_negatives(void)
{
    quote_fx f, e384, pss;
    quote_load(&f, "e256");
    quote_load(&e384, "e384");
    quote_load(&pss, "pss");
    attest_quote_in in;
    uint8_t b[512];

    in = quote_in(&f);
    CU_ASSERT(want("ok", quote_reason(&f.key, &in), ATTEST_OK));
    /* stale or replayed: the right quote, another session's nonce */
    memcpy(b, f.nonce.p, f.nonce.len);
    b[31] ^= 1;
    in = quote_in(&f);
    in.nonce = b;
    CU_ASSERT(want("other nonce", quote_reason(&f.key, &in), ATTEST_R_NONCE_MISMATCH));
    in.nonce_len = 31;
    in.nonce = f.nonce.p;
    CU_ASSERT(want("nonce prefix", quote_reason(&f.key, &in), ATTEST_R_NONCE_MISMATCH));
    /* one changed PCR value */
    for (size_t p = 0; p < 8; p++) {
        memcpy(b, f.pcrs.p, f.pcrs.len);
        b[32 * p + 5] ^= 0x80;
        in = quote_in(&f);
        in.pcr_values = b;
        CU_ASSERT(want("PCR changed", quote_reason(&f.key, &in), ATTEST_R_PCR_DIGEST_MISMATCH));
    }
    /* values that do not fit the selection */
    in = quote_in(&f);
    in.pcr_values_len = (size_t)7 * 32;
    CU_ASSERT(want("7 values", quote_reason(&f.key, &in), ATTEST_R_PCR_SELECTION));
    in = quote_in(&f);
    in.pcr_mask = 0x7f;
    CU_ASSERT(want("asked 0-6", quote_reason(&f.key, &in), ATTEST_R_PCR_SELECTION));
    in = quote_in(&f);
    in.pcr_mask = 0x1ff;
    CU_ASSERT(want("asked 0-8", quote_reason(&f.key, &in), ATTEST_R_PCR_SELECTION));
    in = quote_in(&f);
    in.pcr_hash_alg = ATTEST_ALG_SHA384;
    CU_ASSERT(want("asked sha384", quote_reason(&f.key, &in), ATTEST_R_PCR_SELECTION));
    /* tampered TPMS_ATTEST: every byte after the header breaks the signature */
    for (size_t off = 76; off < f.msg.len; off += 7) {
        memcpy(b, f.msg.p, f.msg.len);
        b[off] ^= 0x01;
        in = quote_in(&f);
        in.attest = b;
        attest_reason r = quote_reason(&f.key, &in);
        /* A flipped PCR-selection byte may also become an unparsable selection. */
        CU_ASSERT(r == ATTEST_R_SIGNATURE_INVALID || r == ATTEST_R_OVERSIZED
                  || r == ATTEST_R_TRUNCATED || r == ATTEST_R_TRAILING_DATA
                  || r == ATTEST_R_MALFORMED);
    }
    memcpy(b, f.msg.p, f.msg.len);
    b[80] ^= 0x01; /* clockInfo.clock */
    in = quote_in(&f);
    in.attest = b;
    CU_ASSERT(want("clock tampered", quote_reason(&f.key, &in), ATTEST_R_SIGNATURE_INVALID));
    memcpy(b, f.sig.p, f.sig.len);
    b[f.sig.len - 1] ^= 0x01;
    in = quote_in(&f);
    in.sig = b;
    CU_ASSERT(want("sig tampered", quote_reason(&f.key, &in), ATTEST_R_SIGNATURE_INVALID));
    /* the wrong AK */
    in = quote_in(&f);
    CU_ASSERT(want("P-384 AK, P-256 quote", quote_reason(&e384.key, &in), ATTEST_R_SIG_SCHEME));
    CU_ASSERT(want("RSA AK, ECDSA quote", quote_reason(&pss.key, &in), ATTEST_R_SIG_SCHEME));
    {
        /* Same scheme, another key: the TLS key's point in an AK's public area. */
        TPMT_PUBLIC a = load_area("ak_e256.pub");
        TPMT_PUBLIC t = load_area("tls.pub");
        a.unique = t.unique;
        uint8_t pub[256];
        size_t n = marshal_area(pub, sizeof(pub), &a);
        attest_key other;
        attest_reason why;
        UNIT_ASSERT_OK(attest_ak_parse(&other, &why, pub, n));
        CU_ASSERT(want("another P-256 key", quote_reason(&other, &in), ATTEST_R_SIGNATURE_INVALID));
        /* No scheme fixed in the AK: any hash fits; still the wrong key. */
        a.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        n = marshal_area(pub, sizeof(pub), &a);
        UNIT_ASSERT_OK(attest_key_parse(&other, &why, pub, n));
        CU_ASSERT_EQUAL(other.scheme, ATTEST_ALG_NULL);
        CU_ASSERT(want("NULL-scheme key", quote_reason(&other, &in), ATTEST_R_SIGNATURE_INVALID));
    }
    /* a certify is not a quote */
    {
        vec c = load("certify_tls.attest"), cs = load("certify_tls.sig");
        in = quote_in(&f);
        in.attest = c.p;
        in.attest_len = c.len;
        in.sig = cs.p;
        in.sig_len = cs.len;
        CU_ASSERT(want("certify as quote", quote_reason(&f.key, &in), ATTEST_R_WRONG_TYPE));
        unload(&c);
        unload(&cs);
    }
    /* structure */
    in = quote_in(&f);
    in.attest_len = 100;
    CU_ASSERT(want("attest truncated", quote_reason(&f.key, &in), ATTEST_R_TRUNCATED));
    in = quote_in(&f);
    in.sig_len = 40;
    CU_ASSERT(want("sig truncated", quote_reason(&f.key, &in), ATTEST_R_TRUNCATED));
    memcpy(b, f.msg.p, f.msg.len);
    b[43] = 0x41;
    in = quote_in(&f);
    in.attest = b;
    CU_ASSERT(want("extraData oversized", quote_reason(&f.key, &in), ATTEST_R_OVERSIZED));
    quote_free(&f);
    quote_free(&e384);
    quote_free(&pss);
}

/* ---- certify ------------------------------------------------------------------------------ */

static attest_reason
certify_reason(const attest_key *ak, const char *attest, const char *sig, const char *key,
               const char *csr, const uint8_t *nonce, size_t nonce_len)
{
    vec a = load(attest), s = load(sig), k = load(key), c = { NULL, 0 };
    if (csr != NULL) {
        c = load(csr);
    }
    attest_certify_in in = { a.p, a.len, s.p, s.len, k.p, k.len, c.p, c.len, nonce, nonce_len };
    attest_certify out;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_certify_verify(&out, &why, ak, &in);
    if (ZTCA_IS_OK(rc)) {
        attest_key direct;
        attest_reason w2;
        UNIT_ASSERT_OK(attest_key_parse(&direct, &w2, k.p, k.len));
        CU_ASSERT(name_eq(&direct.name, &out.key.name));
    }
    unload(&a);
    unload(&s);
    unload(&k);
    unload(&c);
    return reason_of(rc, why);
}

static void
test_certify(void)
{
    vec akv = load("ak_e256.pub"), n = load("nonce.bin");
    attest_key ak;
    attest_reason why;
    UNIT_ASSERT_OK(attest_ak_parse(&ak, &why, akv.p, akv.len));
    const char *ca = "certify_tls.attest", *cs = "certify_tls.sig";

    CU_ASSERT(want("tls + csr", certify_reason(&ak, ca, cs, "tls.pub", "tls.csr", n.p, n.len),
                   ATTEST_OK));
    CU_ASSERT(
        want("tls, no csr", certify_reason(&ak, ca, cs, "tls.pub", NULL, n.p, n.len), ATTEST_OK));
    CU_ASSERT(want(
        "exportable key",
        certify_reason(&ak, "certify_exp.attest", "certify_exp.sig", "exp.pub", NULL, n.p, n.len),
        ATTEST_R_KEY_EXPORTABLE));
    CU_ASSERT(want(
        "storage key",
        certify_reason(&ak, "certify_srk.attest", "certify_srk.sig", "srk.pub", NULL, n.p, n.len),
        ATTEST_R_KEY_USAGE));
    CU_ASSERT(want("csr of another key",
                   certify_reason(&ak, ca, cs, "tls.pub", "other.csr", n.p, n.len),
                   ATTEST_R_CSR_KEY_MISMATCH));
    CU_ASSERT(want("csr not a csr",
                   certify_reason(&ak, ca, cs, "tls.pub", "ak_e256.pub", n.p, n.len),
                   ATTEST_R_CSR_INVALID));
    CU_ASSERT(want("public of another key",
                   certify_reason(&ak, ca, cs, "exp.pub", "tls.csr", n.p, n.len),
                   ATTEST_R_CERTIFIED_NAME_MISMATCH));
    CU_ASSERT(want("replayed", certify_reason(&ak, ca, cs, "tls.pub", "tls.csr", n.p, 16),
                   ATTEST_R_NONCE_MISMATCH));
    CU_ASSERT(
        want("quote as certify",
             certify_reason(&ak, "quote_e256.msg", "quote_e256.sig", "tls.pub", NULL, n.p, n.len),
             ATTEST_R_WRONG_TYPE));
    CU_ASSERT(want("key truncated", certify_reason(&ak, ca, cs, "nonce.bin", NULL, n.p, n.len),
                   ATTEST_R_TRUNCATED));
    unload(&akv);
    unload(&n);
}

/* ---- EK: real chains ---------------------------------------------------------------------- */

static attest_roots *
roots_from(const char *file, attest_chain_profile profile)
{
    attest_roots *r = NULL;
    UNIT_ASSERT_OK(attest_roots_new(&r, profile));
    if (file != NULL) {
        vec v = load(file);
        UNIT_ASSERT_OK(attest_roots_add(r, v.p, v.len));
        unload(&v);
    }
    return r;
}

static attest_reason
ek_reason(attest_ek *out, const attest_roots *roots, const uint8_t *cert, size_t cert_len,
          const char *pub_file)
{
    vec pub = { NULL, 0 };
    if (pub_file != NULL) {
        pub = load(pub_file);
    }
    uint8_t *c = unit_dup(cert, cert_len);
    attest_ek_in in = { c, cert_len, NULL, NULL, 0, pub.p, pub.len };
    attest_ek ek;
    attest_reason why = ATTEST_OK;
    ztca_rc rc = attest_ek_verify(out != NULL ? out : &ek, &why, roots, &in);
    free(c);
    unload(&pub);
    return reason_of(rc, why);
}

static attest_reason
ek_file_reason(attest_ek *out, const attest_roots *roots, const char *cert, const char *pub)
{
    vec c = load(cert);
    attest_reason r = ek_reason(out, roots, c.p, c.len, pub);
    unload(&c);
    return r;
}

static void
test_ek_real(void)
{
    attest_roots *roots = roots_from("localca.pem", ATTEST_CHAIN_DEFAULT);
    attest_roots *other = roots_from("untrusted.pem", ATTEST_CHAIN_DEFAULT);
    attest_roots *none = roots_from(NULL, ATTEST_CHAIN_DEFAULT);
    attest_ek ek;
    CU_ASSERT_EQUAL(attest_roots_num_anchors(roots), 1); /* root anchor + issuer intermediate */

    static const struct {
        const char *cert, *pub;
        attest_key_type type;
        uint16_t name_alg, sym_bits;
    } ok[] = {
        { "ek_rsa.der", "ek_rsa.pub", ATTEST_KEY_RSA, ATTEST_ALG_SHA256, 128 },
        { "ek_p256.der", "ek_p256.pub", ATTEST_KEY_ECC, ATTEST_ALG_SHA256, 128 },
        { "ek_p384.der", "ek_p384.pub", ATTEST_KEY_ECC, ATTEST_ALG_SHA384, 256 },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        CU_ASSERT(want(ok[i].cert, ek_file_reason(&ek, roots, ok[i].cert, ok[i].pub), ATTEST_OK));
        CU_ASSERT(ek.from_public && ek.origin == ATTEST_EK_CERTIFIED);
        attest_key from_pub = ek.key;
        /* From the certificate alone, the TCG default template gives the same parameters. */
        CU_ASSERT(want(ok[i].cert, ek_file_reason(&ek, roots, ok[i].cert, NULL), ATTEST_OK));
        CU_ASSERT(!ek.from_public);
        CU_ASSERT_EQUAL(ek.key.type, ok[i].type);
        CU_ASSERT_EQUAL(ek.key.name_alg, ok[i].name_alg);
        CU_ASSERT_EQUAL(ek.key.sym_bits, ok[i].sym_bits);
        CU_ASSERT_EQUAL(ek.key.name_alg, from_pub.name_alg);
        CU_ASSERT_EQUAL(ek.key.sym_bits, from_pub.sym_bits);
        CU_ASSERT(attest_key_matches_spki(&from_pub, ek.key.spki, ek.key.spki_len));
        CU_ASSERT_EQUAL(ek.key.name.len, 0);
        CU_ASSERT(want("no roots", ek_file_reason(NULL, none, ok[i].cert, ok[i].pub),
                       ATTEST_R_EK_CERT_UNTRUSTED));
        CU_ASSERT(want("other roots", ek_file_reason(NULL, other, ok[i].cert, ok[i].pub),
                       ATTEST_R_EK_CERT_UNTRUSTED));
    }
    CU_ASSERT(want("untrusted CA",
                   ek_file_reason(NULL, roots, "ek_p384_untrusted.der", "ek_p384.pub"),
                   ATTEST_R_EK_CERT_UNTRUSTED));
    CU_ASSERT(want("untrusted CA, trusted by others",
                   ek_file_reason(NULL, other, "ek_p384_untrusted.der", "ek_p384.pub"), ATTEST_OK));
    CU_ASSERT(want("pub of another EK", ek_file_reason(NULL, roots, "ek_p256.der", "ek_p384.pub"),
                   ATTEST_R_EK_PUB_MISMATCH));
    CU_ASSERT(want("pub of another type", ek_file_reason(NULL, roots, "ek_rsa.der", "ek_p256.pub"),
                   ATTEST_R_EK_PUB_MISMATCH));
    CU_ASSERT(want("AK as EK pub", ek_file_reason(NULL, roots, "ek_rsa.der", "ak_rsa.pub"),
                   ATTEST_R_EK_ATTRIBUTES));
    CU_ASSERT(want("EK pub truncated", ek_file_reason(NULL, roots, "ek_rsa.der", "nonce.bin"),
                   ATTEST_R_TRUNCATED));
    CU_ASSERT(want("not a certificate", ek_file_reason(NULL, roots, "ek_rsa.pub", NULL),
                   ATTEST_R_EK_CERT_MALFORMED));
    {
        /* Same type, another modulus: the RSA EK public with one modulus byte changed. */
        TPMT_PUBLIC a = load_area("ek_rsa.pub");
        a.unique.rsa.buffer[100] ^= 0x10;
        uint8_t pub[512];
        size_t n = marshal_area(pub, sizeof(pub), &a);
        vec c = load("ek_rsa.der");
        uint8_t *cc = unit_dup(c.p, c.len);
        attest_ek_in in = { cc, c.len, NULL, NULL, 0, pub, n };
        attest_reason why;
        ztca_rc rc = attest_ek_verify(&ek, &why, roots, &in);
        CU_ASSERT(want("modulus changed", reason_of(rc, why), ATTEST_R_EK_PUB_MISMATCH));
        free(cc);
        /* every prefix of the certificate, and a trailing byte */
        for (size_t i = 0; i < c.len; i += 13) {
            CU_ASSERT(ek_reason(NULL, roots, c.p, i, NULL) == ATTEST_R_EK_CERT_MALFORMED);
        }
        uint8_t *longer = malloc(c.len + 1);
        memcpy(longer, c.p, c.len);
        longer[c.len] = 0;
        CU_ASSERT(want("cert + 1", ek_reason(NULL, roots, longer, c.len + 1, NULL),
                       ATTEST_R_EK_CERT_MALFORMED));
        free(longer);
        unload(&c);
    }
    attest_roots_free(roots);
    attest_roots_free(other);
    attest_roots_free(none);
}

static void
test_ek_registered(void)
{
    vec pub = load("ek_p384.pub"), other = load("ek_p256.pub"), ak = load("ak_e256.pub");
    attest_key k, ko;
    attest_ek ek;
    attest_reason why;
    UNIT_ASSERT_OK(attest_ek_public_parse(&k, &why, pub.p, pub.len));
    UNIT_ASSERT_OK(attest_ek_public_parse(&ko, &why, other.p, other.len));
    UNIT_ASSERT_OK(attest_ek_registered(&ek, &why, pub.p, pub.len, k.spki, k.spki_len));
    CU_ASSERT_EQUAL(ek.origin, ATTEST_EK_REGISTERED);
    CU_ASSERT(name_eq(&ek.key.name, &k.name));
    ztca_rc rc = attest_ek_registered(&ek, &why, pub.p, pub.len, ko.spki, ko.spki_len);
    CU_ASSERT(want("another EK", reason_of(rc, why), ATTEST_R_EK_NOT_REGISTERED));
    rc = attest_ek_registered(&ek, &why, ak.p, ak.len, k.spki, k.spki_len);
    CU_ASSERT(want("AK as EK", reason_of(rc, why), ATTEST_R_EK_ATTRIBUTES));
    unload(&pub);
    unload(&other);
    unload(&ak);
}

static void
test_roots(void)
{
    attest_roots *r = roots_from(NULL, ATTEST_CHAIN_DEFAULT);
    vec pem = load("localca.pem"), ek = load("ek_rsa.der");
    CU_ASSERT_EQUAL(attest_roots_num_anchors(r), 0);
    UNIT_ASSERT_ERR(attest_roots_add(r, ek.p, ek.len), ZTCA_ERR_BAD_INPUT); /* not a CA */
    UNIT_ASSERT_ERR(attest_roots_add(r, pem.p, 10), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(attest_roots_add(r, pem.p, 0), ZTCA_ERR_BAD_INPUT);
    static const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    UNIT_ASSERT_ERR(attest_roots_add(r, (const uint8_t *)junk, sizeof(junk) - 1),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(attest_roots_num_anchors(r), 0);
    UNIT_ASSERT_OK(attest_roots_add(r, pem.p, pem.len));
    CU_ASSERT_EQUAL(attest_roots_num_anchors(r), 1);
    attest_roots_free(r);
    attest_roots_free(NULL);

    attest_chain_profile p;
    static const char c1[] = "{\"attestation\":{\"ek_chain_profile\":\"sha1-vendor\"}}";
    static const char c2[] = "{\"version\":1}";
    static const char c3[] = "{\"attestation\":{\"ek_chain_profile\":\"sha1\"}}";
    UNIT_ASSERT_OK(attest_chain_profile_parse(&p, (const uint8_t *)c1, sizeof(c1) - 1));
    CU_ASSERT_EQUAL(p, ATTEST_CHAIN_SHA1);
    UNIT_ASSERT_OK(attest_chain_profile_parse(&p, (const uint8_t *)c2, sizeof(c2) - 1));
    CU_ASSERT_EQUAL(p, ATTEST_CHAIN_DEFAULT);
    UNIT_ASSERT_ERR(attest_chain_profile_parse(&p, (const uint8_t *)c3, sizeof(c3) - 1),
                    ZTCA_ERR_BAD_INPUT);
    unload(&pem);
    unload(&ek);
}

/* ---- EK: synthetic chains written with mbedTLS --------------------------------------------- */

enum {
    CERT_CA = 1 << 0,
    CERT_EKU_TCG = 1 << 1,
    CERT_EKU_PLATFORM = 1 << 2,
    CERT_CRIT_SDA = 1 << 3,
    CERT_CRIT_UNKNOWN = 1 << 4,
    CERT_CRIT_POLICIES = 1 << 5,
    CERT_EXPIRED = 1 << 6,
};

typedef struct test_ca {
    mbedtls_pk_context key;
    char name[64];
    uint8_t der[2048];
    size_t der_len;
} test_ca;

static ca_rng *g_rng;

/* write_cert: a certificate for `subject_key` (public) signed by `issuer_key` with `md`. */
static size_t
write_cert(uint8_t *out, size_t size, mbedtls_pk_context *subject_key, const char *subject,
           mbedtls_pk_context *issuer_key, const char *issuer, mbedtls_md_type_t md, unsigned flags)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    CU_ASSERT_FATAL(mbedtls_mpi_lset(&serial, 4242) == 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, md);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    CU_ASSERT_FATAL(mbedtls_x509write_crt_set_subject_name(&w, subject) == 0);
    CU_ASSERT_FATAL(mbedtls_x509write_crt_set_issuer_name(&w, issuer) == 0);
    CU_ASSERT_FATAL(mbedtls_x509write_crt_set_serial(&w, &serial) == 0);
    CU_ASSERT_FATAL(mbedtls_x509write_crt_set_validity(
                        &w, (flags & CERT_EXPIRED) ? "20100101000000" : "20200101000000",
                        (flags & CERT_EXPIRED) ? "20150101000000" : "20991231235959")
                    == 0);
    CU_ASSERT_FATAL(mbedtls_x509write_crt_set_basic_constraints(&w, (flags & CERT_CA) != 0, -1)
                    == 0);
    CU_ASSERT_FATAL(mbedtls_x509write_crt_set_key_usage(&w, (flags & CERT_CA)
                                                                ? MBEDTLS_X509_KU_KEY_CERT_SIGN
                                                                : MBEDTLS_X509_KU_KEY_ENCIPHERMENT)
                    == 0);
    static const uint8_t eku_tcg[] = { 0x30, 0x07, 0x06, 0x05, 0x67, 0x81, 0x05, 0x08, 0x01 };
    static const uint8_t eku_pl[] = { 0x30, 0x07, 0x06, 0x05, 0x67, 0x81, 0x05, 0x08, 0x02 };
    /* TPM specification 2.0/0/164 as swtpm writes it (notes 2.2) */
    static const uint8_t sda[] = { 0x30, 0x19, 0x30, 0x17, 0x06, 0x05, 0x67, 0x81, 0x05,
                                   0x02, 0x10, 0x31, 0x0e, 0x30, 0x0c, 0x0c, 0x03, 0x32,
                                   0x2e, 0x30, 0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0xa4 };
    static const uint8_t pol[] = {
        0x30, 0x09, 0x30, 0x07, 0x06, 0x05, 0x67, 0x81, 0x05, 0x0b, 0x01
    };
    static const uint8_t null_val[] = { 0x05, 0x00 };
    if (flags & CERT_EKU_TCG) {
        CU_ASSERT_FATAL(
            mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                                eku_tcg, sizeof(eku_tcg))
            == 0);
    }
    if (flags & CERT_EKU_PLATFORM) {
        CU_ASSERT_FATAL(
            mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                                eku_pl, sizeof(eku_pl))
            == 0);
    }
    if (flags & CERT_CRIT_SDA) {
        CU_ASSERT_FATAL(mbedtls_x509write_crt_set_extension(
                            &w, MBEDTLS_OID_SUBJECT_DIRECTORY_ATTRS,
                            MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_DIRECTORY_ATTRS), 1, sda,
                            sizeof(sda))
                        == 0);
    }
    if (flags & CERT_CRIT_POLICIES) {
        CU_ASSERT_FATAL(mbedtls_x509write_crt_set_extension(
                            &w, MBEDTLS_OID_CERTIFICATE_POLICIES,
                            MBEDTLS_OID_SIZE(MBEDTLS_OID_CERTIFICATE_POLICIES), 1, pol, sizeof(pol))
                        == 0);
    }
    if (flags & CERT_CRIT_UNKNOWN) {
        static const char oid[] = "\x2b\x06\x01\x04\x01\x86\x8d\x1f\x01"; /* 1.3.6.1.4.1.99999.1 */
        CU_ASSERT_FATAL(mbedtls_x509write_crt_set_extension(&w, oid, sizeof(oid) - 1, 1, null_val,
                                                            sizeof(null_val))
                        == 0);
    }
    int n = mbedtls_x509write_crt_der(&w, out, size, test_rng, g_rng);
    CU_ASSERT_FATAL(n > 0);
    memmove(out, out + size - (size_t)n, (size_t)n);
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
    return (size_t)n;
}

static void
ca_make(test_ca *ca, const char *cn, test_ca *parent, mbedtls_md_type_t md)
{
    mbedtls_pk_init(&ca->key);
    CU_ASSERT_FATAL(mbedtls_pk_setup(&ca->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
    CU_ASSERT_FATAL(
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(ca->key), test_rng, g_rng)
        == 0);
    snprintf(ca->name, sizeof(ca->name), "CN=%s,O=Test TPM Vendor", cn);
    ca->der_len =
        write_cert(ca->der, sizeof(ca->der), &ca->key, ca->name, parent ? &parent->key : &ca->key,
                   parent ? parent->name : ca->name, md, CERT_CA);
}

static attest_roots *
roots_of(const test_ca *ca, attest_chain_profile profile)
{
    attest_roots *r = NULL;
    UNIT_ASSERT_OK(attest_roots_new(&r, profile));
    UNIT_ASSERT_OK(attest_roots_add(r, ca->der, ca->der_len));
    return r;
}

static void
test_ek_synthetic(void)
{
    vec pub = load("ek_rsa.pub");
    attest_key ekk;
    attest_reason why;
    UNIT_ASSERT_OK(attest_ek_public_parse(&ekk, &why, pub.p, pub.len));
    mbedtls_pk_context ek_pk;
    mbedtls_pk_init(&ek_pk);
    CU_ASSERT_FATAL(mbedtls_pk_parse_public_key(&ek_pk, ekk.spki, ekk.spki_len) == 0);

    test_ca root, inter;
    ca_make(&root, "Root", NULL, MBEDTLS_MD_SHA256);
    ca_make(&inter, "Intermediate", &root, MBEDTLS_MD_SHA256);
    attest_roots *roots = roots_of(&root, ATTEST_CHAIN_DEFAULT);
    attest_roots *roots_sha1 = roots_of(&root, ATTEST_CHAIN_SHA1);
    uint8_t cert[2048];
    size_t n;

    static const struct {
        const char *what;
        mbedtls_md_type_t md;
        unsigned flags;
        attest_reason want, want_sha1;
    } cases[] = {
        { "TCG EKU", MBEDTLS_MD_SHA256, CERT_EKU_TCG, ATTEST_OK, ATTEST_OK },
        { "no EKU", MBEDTLS_MD_SHA256, 0, ATTEST_OK, ATTEST_OK },
        { "SHA-384", MBEDTLS_MD_SHA384, CERT_EKU_TCG, ATTEST_OK, ATTEST_OK },
        { "platform EKU", MBEDTLS_MD_SHA256, CERT_EKU_PLATFORM, ATTEST_R_EK_CERT_EKU,
          ATTEST_R_EK_CERT_EKU },
        { "critical SDA", MBEDTLS_MD_SHA256, CERT_EKU_TCG | CERT_CRIT_SDA, ATTEST_OK, ATTEST_OK },
        { "critical TCG policy", MBEDTLS_MD_SHA256, CERT_CRIT_POLICIES, ATTEST_OK, ATTEST_OK },
        { "critical unknown", MBEDTLS_MD_SHA256, CERT_CRIT_UNKNOWN, ATTEST_R_EK_CERT_MALFORMED,
          ATTEST_R_EK_CERT_MALFORMED },
        { "SHA-1 signed", MBEDTLS_MD_SHA1, CERT_EKU_TCG, ATTEST_R_EK_CERT_WEAK, ATTEST_OK },
        { "expired", MBEDTLS_MD_SHA256, CERT_EKU_TCG | CERT_EXPIRED, ATTEST_R_EK_CERT_EXPIRED,
          ATTEST_R_EK_CERT_EXPIRED },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = write_cert(cert, sizeof(cert), &ek_pk, "CN=", &root.key, root.name, cases[i].md,
                       cases[i].flags);
        CU_ASSERT(
            want(cases[i].what, ek_reason(NULL, roots, cert, n, "ek_rsa.pub"), cases[i].want));
        CU_ASSERT(want(cases[i].what, ek_reason(NULL, roots_sha1, cert, n, "ek_rsa.pub"),
                       cases[i].want_sha1));
    }

    /* Through an intermediate: sent by the device, or configured in tpm-roots (untrusted on its
     * own: only a self-signed root anchors). */
    n = write_cert(cert, sizeof(cert), &ek_pk, "CN=", &inter.key, inter.name, MBEDTLS_MD_SHA256,
                   CERT_EKU_TCG);
    CU_ASSERT(
        want("no intermediate", ek_reason(NULL, roots, cert, n, NULL), ATTEST_R_EK_CERT_UNTRUSTED));
    {
        const uint8_t *chain[1] = { inter.der };
        size_t lens[1] = { inter.der_len };
        attest_ek_in in = { cert, n, chain, lens, 1, pub.p, pub.len };
        attest_ek ek;
        ztca_rc rc = attest_ek_verify(&ek, &why, roots, &in);
        CU_ASSERT(want("device-sent intermediate", reason_of(rc, why), ATTEST_OK));
        static const uint8_t junk[3] = { 0x30, 0x01, 0x00 };
        const uint8_t *bad[1] = { junk };
        size_t bad_len[1] = { sizeof(junk) };
        attest_ek_in in2 = { cert, n, bad, bad_len, 1, pub.p, pub.len };
        rc = attest_ek_verify(&ek, &why, roots, &in2);
        CU_ASSERT(want("junk intermediate", reason_of(rc, why), ATTEST_R_EK_CERT_MALFORMED));
    }
    UNIT_ASSERT_OK(attest_roots_add(roots, inter.der, inter.der_len));
    CU_ASSERT_EQUAL(attest_roots_num_anchors(roots), 1);
    CU_ASSERT(want("configured intermediate", ek_reason(NULL, roots, cert, n, NULL), ATTEST_OK));
    attest_roots *only_inter = NULL;
    UNIT_ASSERT_OK(attest_roots_new(&only_inter, ATTEST_CHAIN_DEFAULT));
    UNIT_ASSERT_OK(attest_roots_add(only_inter, inter.der, inter.der_len));
    CU_ASSERT_EQUAL(attest_roots_num_anchors(only_inter), 0);
    CU_ASSERT(want("intermediate only", ek_reason(NULL, only_inter, cert, n, NULL),
                   ATTEST_R_EK_CERT_UNTRUSTED));

    /* An RSA-1024 "EK" certificate. */
    {
        mbedtls_pk_context weak;
        mbedtls_pk_init(&weak);
        CU_ASSERT_FATAL(mbedtls_pk_setup(&weak, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0);
        CU_ASSERT_FATAL(mbedtls_rsa_gen_key(mbedtls_pk_rsa(weak), test_rng, g_rng, 1024, 65537)
                        == 0);
        n = write_cert(cert, sizeof(cert), &weak, "CN=", &root.key, root.name, MBEDTLS_MD_SHA256,
                       CERT_EKU_TCG);
        CU_ASSERT(want("RSA-1024 EK", ek_reason(NULL, roots, cert, n, NULL),
                       ATTEST_R_EK_KEY_UNSUPPORTED));
        CU_ASSERT(want("RSA-1024 EK + pub", ek_reason(NULL, roots, cert, n, "ek_rsa.pub"),
                       ATTEST_R_EK_KEY_UNSUPPORTED));
        mbedtls_pk_free(&weak);
    }
    attest_roots_free(only_inter);
    attest_roots_free(roots);
    attest_roots_free(roots_sha1);
    mbedtls_pk_free(&root.key);
    mbedtls_pk_free(&inter.key);
    mbedtls_pk_free(&ek_pk);
    unload(&pub);
}

/* ---- MakeCredential ----------------------------------------------------------------------- */

static void
hex(uint8_t *out, size_t *out_len, const char *s)
{
    CU_ASSERT_FATAL(ZTCA_IS_OK(ztca_hex_decode(out, 512, out_len, s)));
}

static void
test_kdf_kat(void)
{
    /* Known answers from an independent implementation (Python hashlib/hmac, struct.pack):
     * KDFa K(i) = HMAC(key, BE32(i) || label || 00 || u || v || BE32(bits)),
     * KDFe K(i) = H(BE32(i) || Z || label || 00 || u || v). */
    uint8_t key[48], name[34], out[64], exp[512];
    size_t n;
    for (int i = 0; i < 48; i++) {
        key[i] = (uint8_t)i;
    }
    name[0] = 0x00;
    name[1] = 0x0b;
    for (int i = 0; i < 32; i++) {
        name[2 + i] = (uint8_t)(0xa0 + i % 16);
    }
    UNIT_ASSERT_OK(attest_kdfa(out, 128, ATTEST_ALG_SHA256, key, 32, "STORAGE", name, 34, NULL, 0));
    hex(exp, &n, "a97bec9076a4c31233769c8a965e288c");
    CU_ASSERT(memcmp(out, exp, 16) == 0);
    UNIT_ASSERT_OK(
        attest_kdfa(out, 512, ATTEST_ALG_SHA256, key, 32, "INTEGRITY", NULL, 0, NULL, 0));
    hex(exp, &n,
        "d46791dd29362215dde127cc788fa5429ca2b999d5b065c0d7c2035dd1537d43278aad03e3b43947cb849dde"
        "7b8648d07baafa38888e2000759a5ebe1a2a65a2");
    CU_ASSERT(memcmp(out, exp, 64) == 0);
    static const uint8_t v12[2] = { 1, 2 };
    UNIT_ASSERT_OK(attest_kdfa(out, 256, ATTEST_ALG_SHA384, key, 48, "STORAGE", name, 34, v12, 2));
    hex(exp, &n, "63613fa9b3d8a3ecdf06ebe960e89e570b29581858d1a07762f2909f0d7bb397");
    CU_ASSERT(memcmp(out, exp, 32) == 0);

    uint8_t z[48], u[48], v[48];
    memset(z, 0x11, sizeof(z));
    memset(u, 0x22, sizeof(u));
    memset(v, 0x33, sizeof(v));
    UNIT_ASSERT_OK(attest_kdfe(out, 256, ATTEST_ALG_SHA256, z, 32, "IDENTITY", u, 32, v, 32));
    hex(exp, &n, "349308f14b258cab5f67a14bfd8329ea42365fcdca2f9e7e658bc7504d5d0cb3");
    CU_ASSERT(memcmp(out, exp, 32) == 0);
    UNIT_ASSERT_OK(attest_kdfe(out, 384, ATTEST_ALG_SHA384, z, 48, "IDENTITY", u, 48, v, 48));
    hex(exp, &n,
        "7d7147b0a398348c9b609c86403d4e69a591f729202069dbc3b399dbc22c9dd444d17b52415e1d02c1e55cc4"
        "01266433");
    CU_ASSERT(memcmp(out, exp, 48) == 0);
    UNIT_ASSERT_OK(attest_kdfe(out, 512, ATTEST_ALG_SHA256, z, 32, "IDENTITY", u, 32, v, 32));
    hex(exp, &n,
        "349308f14b258cab5f67a14bfd8329ea42365fcdca2f9e7e658bc7504d5d0cb3157a112cc50062b74b12276b"
        "eacc36b76eb90d8ab908b3390cf3caa308aeeca9");
    CU_ASSERT(memcmp(out, exp, 64) == 0);

    UNIT_ASSERT_ERR(attest_kdfa(out, 12, ATTEST_ALG_SHA256, key, 32, "X", NULL, 0, NULL, 0),
                    ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(attest_kdfe(out, 256, 0x0012, z, 32, "X", NULL, 0, NULL, 0), ZTCA_ERR_INTERNAL);
}

static void
test_cred_wrap_kat(void)
{
    /* TPM2B_ID_OBJECT for a fixed seed, from the same independent implementation (pyca AES-CFB). */
    static const struct {
        uint16_t name_alg, sym_bits;
        uint8_t seed_byte, name_byte;
        size_t hlen;
        const char *secret_hex, *expect;
    } cases[] = {
        { ATTEST_ALG_SHA256, 128, 0x44, 0x55, 32, "30313233343536373839616263646566",
          "00340020a5713c257e5b4f6a9b610683628dd20527c6d6925a884c09c9e7bba526b21abc483319c99f7234"
          "fcb1f0fee09031cc37cad9" },
        { ATTEST_ALG_SHA384, 256, 0x66, 0x77, 48,
          "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
          "0054003099e4b7dae9c37503272305dc4e1163acdd1c931b7d994d99f16274956148b8502f100b0497e3cf"
          "e1013f225c297bc65f3272468e42345447c1a217c6ac816b8af35036469565d4f3cda0c57a40ab82f7734"
          "b" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        attest_key ek;
        memset(&ek, 0, sizeof(ek));
        ek.name_alg = cases[i].name_alg;
        ek.sym_alg = ATTEST_ALG_AES;
        ek.sym_mode = ATTEST_ALG_CFB;
        ek.sym_bits = cases[i].sym_bits;
        uint8_t seed[64], secret[64], exp[512], out[256];
        size_t secret_len, exp_len, out_len = 0;
        memset(seed, cases[i].seed_byte, sizeof(seed));
        attest_name name;
        name.bytes[0] = 0;
        name.bytes[1] = (uint8_t)cases[i].name_alg;
        memset(name.bytes + 2, cases[i].name_byte, cases[i].hlen);
        name.len = 2 + cases[i].hlen;
        hex(secret, &secret_len, cases[i].secret_hex);
        hex(exp, &exp_len, cases[i].expect);
        UNIT_ASSERT_OK(attest_cred_wrap(out, sizeof(out), &out_len, &ek, seed, cases[i].hlen, &name,
                                        secret, secret_len));
        CU_ASSERT_EQUAL(out_len, exp_len);
        CU_ASSERT(out_len == exp_len && memcmp(out, exp, exp_len) == 0);
    }
}

/* A software TPM2_ActivateCredential (Part 3 12.5) for EK keys the test holds: recover the seed
 * (RSA-OAEP decrypt, or ECDH with Q_e and KDFe), check outerHMAC, decrypt encIdentity. */
static bool
soft_activate(uint8_t *secret, size_t *secret_len, mbedtls_pk_context *ek_priv,
              const attest_key *ek, const attest_name *name, const attest_credential *cred)
{
    size_t hlen = attest_hash_size(ek->name_alg), off = 0;
    mbedtls_md_type_t mdt = hlen == 48 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA256;
    uint8_t seed[64];
    TPM2B_ENCRYPTED_SECRET es;
    TPM2B_ID_OBJECT id;
    memset(&es, 0, sizeof(es));
    memset(&id, 0, sizeof(id));
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(cred->encrypted_secret, cred->encrypted_secret_len,
                                                 &off, &es)
            != 0
        || off != cred->encrypted_secret_len) {
        return false;
    }
    off = 0;
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(cred->id_object, cred->id_object_len, &off, &id) != 0
        || off != cred->id_object_len) {
        return false;
    }
    if (ek->type == ATTEST_KEY_RSA) {
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*ek_priv);
        size_t olen = 0;
        mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, mdt);
        if (mbedtls_rsa_rsaes_oaep_decrypt(rsa, test_rng, g_rng, MBEDTLS_RSA_PRIVATE,
                                           (const uint8_t *)"IDENTITY", 9, &olen, es.secret, seed,
                                           sizeof(seed))
                != 0
            || olen != hlen) {
            return false;
        }
    } else {
        TPMS_ECC_POINT pt;
        memset(&pt, 0, sizeof(pt));
        off = 0;
        if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(es.secret, es.size, &off, &pt) != 0
            || off != es.size) {
            return false;
        }
        mbedtls_ecp_keypair *kp = mbedtls_pk_ec(*ek_priv);
        size_t flen = (kp->grp.pbits + 7) / 8;
        mbedtls_ecp_point qe;
        mbedtls_mpi z;
        mbedtls_ecp_point_init(&qe);
        mbedtls_mpi_init(&z);
        uint8_t zb[48], xek[48];
        int r = mbedtls_mpi_read_binary(&qe.X, pt.x.buffer, pt.x.size);
        r = r ? r : mbedtls_mpi_read_binary(&qe.Y, pt.y.buffer, pt.y.size);
        r = r ? r : mbedtls_mpi_lset(&qe.Z, 1);
        r = r ? r : mbedtls_ecdh_compute_shared(&kp->grp, &z, &qe, &kp->d, test_rng, g_rng);
        r = r ? r : mbedtls_mpi_write_binary(&z, zb, flen);
        r = r ? r : mbedtls_mpi_write_binary(&kp->Q.X, xek, flen);
        mbedtls_ecp_point_free(&qe);
        mbedtls_mpi_free(&z);
        if (r != 0
            || !ZTCA_IS_OK(attest_kdfe(seed, hlen * 8, ek->name_alg, zb, flen, "IDENTITY",
                                       pt.x.buffer, pt.x.size, xek, flen))) {
            return false;
        }
    }
    /* TPMS_ID_OBJECT: integrityHMAC (TPM2B_DIGEST) then encIdentity. */
    TPM2B_DIGEST mac;
    memset(&mac, 0, sizeof(mac));
    off = 0;
    if (Tss2_MU_TPM2B_DIGEST_Unmarshal(id.credential, id.size, &off, &mac) != 0
        || mac.size != hlen) {
        return false;
    }
    const uint8_t *enc = id.credential + off;
    size_t enc_len = id.size - off;
    uint8_t hkey[64], sym[32], calc[64], plain[128], iv[16] = { 0 };
    size_t iv_off = 0;
    if (!ZTCA_IS_OK(
            attest_kdfa(hkey, hlen * 8, ek->name_alg, seed, hlen, "INTEGRITY", NULL, 0, NULL, 0))
        || !ZTCA_IS_OK(attest_kdfa(sym, ek->sym_bits, ek->name_alg, seed, hlen, "STORAGE",
                                   name->bytes, name->len, NULL, 0))) {
        return false;
    }
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(mdt);
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int r = mbedtls_md_setup(&md, info, 1);
    r = r ? r : mbedtls_md_hmac_starts(&md, hkey, hlen);
    r = r ? r : mbedtls_md_hmac_update(&md, enc, enc_len);
    r = r ? r : mbedtls_md_hmac_update(&md, name->bytes, name->len);
    r = r ? r : mbedtls_md_hmac_finish(&md, calc);
    mbedtls_md_free(&md);
    if (r != 0 || memcmp(calc, mac.buffer, hlen) != 0) {
        return false; /* TPM_RC_INTEGRITY: wrong Name or wrong EK */
    }
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    r = mbedtls_aes_setkey_enc(&aes, sym, ek->sym_bits);
    r = r ? r
          : mbedtls_aes_crypt_cfb128(&aes, MBEDTLS_AES_DECRYPT, enc_len, &iv_off, iv, enc, plain);
    mbedtls_aes_free(&aes);
    if (r != 0 || enc_len < 2 || (size_t)((plain[0] << 8) | plain[1]) != enc_len - 2) {
        return false;
    }
    memcpy(secret, plain + 2, enc_len - 2);
    *secret_len = enc_len - 2;
    return true;
}

/* make_ek: a key pair and its EK TPM2B_PUBLIC (TCG L-1, L-2 or H-3 parameters). */
static size_t
make_ek(uint8_t *pub, size_t size, mbedtls_pk_context *pk, int kind)
{
    TPMT_PUBLIC a;
    memset(&a, 0, sizeof(a));
    a.nameAlg = kind == 384 ? TPM2_ALG_SHA384 : TPM2_ALG_SHA256;
    a.objectAttributes = 0x000300b2;
    a.authPolicy.size = 0;
    mbedtls_pk_init(pk);
    if (kind == 2048) {
        a.type = TPM2_ALG_RSA;
        a.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
        a.parameters.rsaDetail.symmetric.keyBits.aes = 128;
        a.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        a.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        a.parameters.rsaDetail.keyBits = 2048;
        CU_ASSERT_FATAL(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0);
        CU_ASSERT_FATAL(mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), test_rng, g_rng, 2048, 65537)
                        == 0);
        a.unique.rsa.size = 256;
        CU_ASSERT_FATAL(mbedtls_mpi_write_binary(&mbedtls_pk_rsa(*pk)->N, a.unique.rsa.buffer, 256)
                        == 0);
    } else {
        size_t flen = kind == 384 ? 48 : 32;
        a.type = TPM2_ALG_ECC;
        a.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
        a.parameters.eccDetail.symmetric.keyBits.aes = kind == 384 ? 256 : 128;
        a.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        a.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        a.parameters.eccDetail.curveID = kind == 384 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
        a.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        CU_ASSERT_FATAL(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
        CU_ASSERT_FATAL(
            mbedtls_ecp_gen_key(kind == 384 ? MBEDTLS_ECP_DP_SECP384R1 : MBEDTLS_ECP_DP_SECP256R1,
                                mbedtls_pk_ec(*pk), test_rng, g_rng)
            == 0);
        a.unique.ecc.x.size = (uint16_t)flen;
        a.unique.ecc.y.size = (uint16_t)flen;
        CU_ASSERT_FATAL(
            mbedtls_mpi_write_binary(&mbedtls_pk_ec(*pk)->Q.X, a.unique.ecc.x.buffer, flen) == 0);
        CU_ASSERT_FATAL(
            mbedtls_mpi_write_binary(&mbedtls_pk_ec(*pk)->Q.Y, a.unique.ecc.y.buffer, flen) == 0);
    }
    return marshal_area(pub, size, &a);
}

static void
test_cred_roundtrip(void)
{
    static const int kinds[] = { 2048, 256, 384 };
    vec akv = load("ak_e256.pub"), other = load("ak_rsa.pub");
    attest_key ak, ak2;
    attest_reason why;
    UNIT_ASSERT_OK(attest_ak_parse(&ak, &why, akv.p, akv.len));
    UNIT_ASSERT_OK(attest_ak_parse(&ak2, &why, other.p, other.len));
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        uint8_t pub[512], secret[64], got[64];
        size_t got_len = 0;
        mbedtls_pk_context pk;
        size_t n = make_ek(pub, sizeof(pub), &pk, kinds[i]);
        attest_key k;
        attest_ek ek;
        UNIT_ASSERT_OK(attest_ek_public_parse(&k, &why, pub, n));
        UNIT_ASSERT_OK(attest_ek_registered(&ek, &why, pub, n, k.spki, k.spki_len));
        size_t hlen = attest_hash_size(k.name_alg);
        UNIT_ASSERT_OK(ca_rng_bytes(g_rng, secret, hlen));
        attest_credential cred;
        UNIT_ASSERT_OK(attest_cred_make(&cred, &why, g_rng, &ek, &ak.name, secret, hlen));
        CU_ASSERT_EQUAL(why, ATTEST_OK);
        /* Sizes of notes 3.3: ID object 2+2+h+34, secret 2+256 (RSA) or 2+4+2*field (ECC). */
        CU_ASSERT_EQUAL(cred.id_object_len, 2 + 2 + hlen + 2 + hlen);
        CU_ASSERT_EQUAL(cred.encrypted_secret_len,
                        kinds[i] == 2048 ? 258u : 2 + 4 + 2 * (size_t)kinds[i] / 8);
        CU_ASSERT(soft_activate(got, &got_len, &pk, &k, &ak.name, &cred));
        CU_ASSERT(got_len == hlen && memcmp(got, secret, hlen) == 0);
        UNIT_ASSERT_OK(attest_cred_check(&why, secret, hlen, got, got_len));
        /* Another AK's Name: the integrity check fails, as on a TPM (0x1df). */
        CU_ASSERT(!soft_activate(got, &got_len, &pk, &k, &ak2.name, &cred));
        /* Two credentials for the same inputs differ (fresh seed). */
        attest_credential cred2;
        UNIT_ASSERT_OK(attest_cred_make(&cred2, &why, g_rng, &ek, &ak.name, secret, hlen));
        CU_ASSERT(memcmp(cred.id_object, cred2.id_object, cred.id_object_len) != 0);
        /* A secret longer than the nameAlg digest is the caller's bug. */
        UNIT_ASSERT_ERR(attest_cred_make(&cred2, &why, g_rng, &ek, &ak.name, secret, hlen + 1),
                        ZTCA_ERR_INTERNAL);
        CU_ASSERT_EQUAL(why, ATTEST_R_INTERNAL);
        mbedtls_pk_free(&pk);
    }
    unload(&akv);
    unload(&other);
}

static void
test_cred_check(void)
{
    uint8_t a[32], b[32];
    attest_reason why;
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    UNIT_ASSERT_OK(attest_cred_check(&why, a, 32, b, 32));
    CU_ASSERT_EQUAL(why, ATTEST_OK);
    for (size_t i = 0; i < 32; i += 5) {
        b[i] ^= 0x01;
        ztca_rc rc = attest_cred_check(&why, a, 32, b, 32);
        CU_ASSERT(want("one bit", reason_of(rc, why), ATTEST_R_SECRET_MISMATCH));
        b[i] ^= 0x01;
    }
    ztca_rc rc = attest_cred_check(&why, a, 32, b, 31);
    CU_ASSERT(want("shorter", reason_of(rc, why), ATTEST_R_SECRET_MISMATCH));
    rc = attest_cred_check(&why, a, 32, NULL, 0);
    CU_ASSERT(want("none", reason_of(rc, why), ATTEST_R_SECRET_MISMATCH));
    UNIT_ASSERT_ERR(attest_cred_check(NULL, a, 0, b, 0), ZTCA_ERR_INTERNAL);
}

/* ---- PCR policy --------------------------------------------------------------------------- */

static const char *const ZERO64 =
    "0000000000000000000000000000000000000000000000000000000000000000";
static const char *const ONES64 =
    "1111111111111111111111111111111111111111111111111111111111111111";

static attest_pcr_bank
bank_of(uint8_t fill, uint32_t mask)
{
    attest_pcr_bank b;
    memset(&b, 0, sizeof(b));
    b.hash_alg = ATTEST_ALG_SHA256;
    b.mask = mask;
    for (int i = 0; i < ATTEST_PCR_MAX; i++) {
        if (mask & (1u << i)) {
            memset(b.values[i], fill, 32);
        }
    }
    return b;
}

static attest_pcr_policy *
policy_of(const char *json)
{
    attest_pcr_policy *p = NULL;
    attest_reason why;
    ztca_rc rc = attest_pcr_policy_parse(&p, &why, (const uint8_t *)json, strlen(json));
    if (!ZTCA_IS_OK(rc)) {
        fprintf(stderr, "\n  policy: %s (%s)\n", attest_reason_name(why), ztca_last_what());
    }
    CU_ASSERT_FATAL(ZTCA_IS_OK(rc));
    return p;
}

/* subst: `tmpl` with its one "%s" (if any) replaced by `val` (no format strings from tables). */
static void
subst(char *out, size_t size, const char *tmpl, const char *val)
{
    const char *at = strstr(tmpl, "%s");
    if (at == NULL) {
        snprintf(out, size, "%s", tmpl);
        return;
    }
    snprintf(out, size, "%.*s%s%s", (int)(at - tmpl), tmpl, val, at + 2);
}

static void
test_pcr_policy_parse(void)
{
    char json[2048];
    static const struct {
        const char *what, *cls;
    } bad[] = {
        { "mode missing", "{\"bank\":\"sha256\"}" },
        { "mode unknown", "{\"mode\":\"strict\"}" },
        { "bank unknown", "{\"mode\":\"baseline\",\"bank\":\"md5\"}" },
        { "pcr 24", "{\"mode\":\"baseline\",\"pcrs\":[24]}" },
        { "pcr -1", "{\"mode\":\"baseline\",\"pcrs\":[-1]}" },
        { "pcr twice", "{\"mode\":\"baseline\",\"pcrs\":[1,1]}" },
        { "pcrs empty", "{\"mode\":\"baseline\",\"pcrs\":[]}" },
        { "pcr string", "{\"mode\":\"baseline\",\"pcrs\":[\"0\"]}" },
        { "unknown member", "{\"mode\":\"baseline\",\"pcr\":[0]}" },
        { "baseline with sets", "{\"mode\":\"baseline\",\"allowed\":[]}" },
        { "allowlist without sets", "{\"mode\":\"allowlist\"}" },
        { "allowlist empty", "{\"mode\":\"allowlist\",\"allowed\":[]}" },
        { "set without name", "{\"mode\":\"allowlist\",\"allowed\":[{\"pcrs\":{\"0\":\"00\"}}]}" },
        { "set short hex",
          "{\"mode\":\"allowlist\",\"allowed\":[{\"name\":\"a\",\"pcrs\":{\"0\":\"00\"}}]}" },
        { "set pcr outside",
          "{\"mode\":\"allowlist\",\"pcrs\":[0],\"allowed\":[{\"name\":\"a\",\"pcrs\":{\"7\":\"%s"
          "\"}}]}" },
        { "set pcr 07",
          "{\"mode\":\"allowlist\",\"allowed\":[{\"name\":\"a\",\"pcrs\":{\"07\":\"%s\"}}]}" },
        { "set no pcrs", "{\"mode\":\"allowlist\",\"allowed\":[{\"name\":\"a\",\"pcrs\":{}}]}" },
        { "set extra member", "{\"mode\":\"allowlist\",\"allowed\":[{\"name\":\"a\",\"x\":1,"
                              "\"pcrs\":{\"0\":\"%s\"}}]}" },
        { "class not object", "[]" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char cls[1024];
        subst(cls, sizeof(cls), bad[i].cls, ZERO64);
        snprintf(json, sizeof(json), "{\"attestation\":{\"pcr_policies\":{\"laptop\":%s}}}", cls);
        attest_pcr_policy *p = NULL;
        attest_reason why;
        ztca_rc rc = attest_pcr_policy_parse(&p, &why, (const uint8_t *)json, strlen(json));
        CU_ASSERT(want(bad[i].what, reason_of(rc, why), ATTEST_R_POLICY_INVALID));
        CU_ASSERT_PTR_NULL(p);
    }
    static const char *const bad_docs[] = {
        "not json",
        "[]",
        "{\"attestation\":[]}",
        "{\"attestation\":{\"pcr_policies\":[]}}",
        "{\"attestation\":{\"pcr_policies\":{\"bad name!\":{\"mode\":\"baseline\"}}}}",
        ("{\"attestation\":{\"pcr_policies\":{\"a\":{\"mode\":\"baseline\"},"
         "\"a\":{\"mode\":\"baseline\"}}}}"),
    };
    for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
        attest_pcr_policy *p = NULL;
        attest_reason why;
        ztca_rc rc =
            attest_pcr_policy_parse(&p, &why, (const uint8_t *)bad_docs[i], strlen(bad_docs[i]));
        CU_ASSERT(want(bad_docs[i], reason_of(rc, why), ATTEST_R_POLICY_INVALID));
    }
    /* No "attestation": an empty policy. */
    attest_pcr_policy *p = policy_of("{\"version\":1}");
    attest_pcr_verdict v;
    attest_pcr_bank q = bank_of(0, 0xff);
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "laptop", &q, NULL));
    CU_ASSERT_EQUAL(v.decision, ATTEST_PCR_NO_POLICY);
    CU_ASSERT(v.num_findings == 1 && v.findings[0].reason == ATTEST_R_PCR_NO_POLICY
              && v.findings[0].pcr == -1);
    uint16_t alg;
    uint32_t mask;
    attest_pcr_policy_request(p, "laptop", &alg, &mask);
    CU_ASSERT(alg == ATTEST_ALG_SHA256 && mask == 0xff);
    attest_pcr_policy_free(p);
}

static void
test_pcr_evaluate(void)
{
    char json[2048];
    snprintf(json, sizeof(json),
             "{\"attestation\":{\"pcr_policies\":{"
             "\"laptop\":{\"mode\":\"allowlist\",\"bank\":\"sha256\",\"pcrs\":[0,1,2,3,4,5,6,7],"
             "\"allowed\":[{\"name\":\"pcr0-only\",\"pcrs\":{\"0\":\"%s\"}},"
             "{\"name\":\"zeros-0-7\",\"pcrs\":{\"0\":\"%s\",\"1\":\"%s\",\"2\":\"%s\",\"3\":"
             "\"%s\",\"4\":\"%s\",\"5\":\"%s\",\"6\":\"%s\",\"7\":\"%s\"}}]},"
             "\"server\":{\"mode\":\"baseline\",\"pcrs\":[0,7]},"
             "\"kiosk\":{\"mode\":\"baseline\",\"bank\":\"sha384\",\"pcrs\":[0]}}}}",
             ONES64, ZERO64, ZERO64, ZERO64, ZERO64, ZERO64, ZERO64, ZERO64, ZERO64);
    attest_pcr_policy *p = policy_of(json);
    attest_pcr_verdict v;
    uint16_t alg;
    uint32_t mask;
    attest_pcr_policy_request(p, "server", &alg, &mask);
    CU_ASSERT(alg == ATTEST_ALG_SHA256 && mask == 0x81);
    attest_pcr_policy_request(p, "kiosk", &alg, &mask);
    CU_ASSERT(alg == ATTEST_ALG_SHA384 && mask == 0x01);

    /* allowlist */
    attest_pcr_bank q = bank_of(0, 0xff);
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "laptop", &q, NULL));
    CU_ASSERT_EQUAL(v.decision, ATTEST_PCR_PASS);
    CU_ASSERT_STRING_EQUAL(v.matched, "zeros-0-7");
    CU_ASSERT_EQUAL(v.num_findings, 0);
    memset(q.values[0], 0x11, 32); /* matches the set that pins only PCR 0 */
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "laptop", &q, NULL));
    CU_ASSERT_EQUAL(v.decision, ATTEST_PCR_PASS);
    CU_ASSERT_STRING_EQUAL(v.matched, "pcr0-only");
    q = bank_of(0, 0xff);
    q.values[7][0] = 1; /* Secure Boot state changed */
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "laptop", &q, NULL));
    CU_ASSERT_EQUAL(v.decision, ATTEST_PCR_FAIL);
    CU_ASSERT_EQUAL(v.differing, 0x80u);
    CU_ASSERT(v.num_findings == 1 && v.findings[0].reason == ATTEST_R_PCR_NOT_ALLOWED
              && v.findings[0].pcr == 7);
    q.values[4][0] = 1;
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "laptop", &q, NULL));
    CU_ASSERT_EQUAL(v.differing, 0x90u);
    CU_ASSERT_EQUAL(v.num_findings, 2);
    q = bank_of(0, 0x7f); /* PCR 7 not quoted */
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "laptop", &q, NULL));
    CU_ASSERT(v.decision == ATTEST_PCR_FAIL && v.num_findings == 1
              && v.findings[0].reason == ATTEST_R_PCR_NOT_COVERED && v.findings[0].pcr == 7);
    q = bank_of(0, 0xff);
    q.hash_alg = ATTEST_ALG_SHA384;
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "laptop", &q, NULL));
    CU_ASSERT(v.decision == ATTEST_PCR_FAIL && v.findings[0].reason == ATTEST_R_PCR_NOT_COVERED
              && v.findings[0].pcr == -1);

    /* baseline: record, pass, changed; PCRs outside the class are not judged */
    q = bank_of(0x42, 0xff);
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "server", &q, NULL));
    CU_ASSERT_EQUAL(v.decision, ATTEST_PCR_RECORD);
    char *enc = NULL;
    size_t enc_len = 0;
    UNIT_ASSERT_OK(attest_pcr_baseline_encode(&enc, &enc_len, &q));
    CU_ASSERT_EQUAL(strlen(enc), enc_len);
    attest_pcr_bank base;
    UNIT_ASSERT_OK(attest_pcr_baseline_parse(&base, (const uint8_t *)enc, enc_len));
    CU_ASSERT(base.hash_alg == q.hash_alg && base.mask == q.mask
              && memcmp(base.values, q.values, sizeof(q.values)) == 0);
    free(enc);
    q.values[3][0] ^= 1; /* not judged by "server" */
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "server", &q, &base));
    CU_ASSERT_EQUAL(v.decision, ATTEST_PCR_PASS);
    q.values[7][31] ^= 1;
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "server", &q, &base));
    CU_ASSERT(v.decision == ATTEST_PCR_FAIL && v.num_findings == 1
              && v.findings[0].reason == ATTEST_R_PCR_CHANGED && v.findings[0].pcr == 7);
    base.mask = 0x01; /* a baseline that predates PCR 7 being judged */
    q = bank_of(0x42, 0xff);
    UNIT_ASSERT_OK(attest_pcr_evaluate(&v, p, "server", &q, &base));
    CU_ASSERT(v.decision == ATTEST_PCR_FAIL && v.differing == 0x80u);

    static const char *const bad_base[] = {
        "{}",
        "{\"bank\":\"sha256\"}",
        "{\"bank\":\"sha3\",\"pcrs\":{\"0\":\"00\"}}",
        "{\"bank\":\"sha256\",\"pcrs\":{\"0\":\"00\"}}",
        ("{\"bank\":\"sha256\",\"pcrs\":{\"30\":\"00000000000000000000000000000000000000000000000"
         "00000000000000000\"}}"),
    };
    for (size_t i = 0; i < sizeof(bad_base) / sizeof(bad_base[0]); i++) {
        UNIT_ASSERT_ERR(
            attest_pcr_baseline_parse(&base, (const uint8_t *)bad_base[i], strlen(bad_base[i])),
            ZTCA_ERR_BAD_INPUT);
    }
    attest_pcr_policy_free(p);
}

static void
test_levels(void)
{
    CU_ASSERT_EQUAL(attest_level_of(ATTEST_EK_CERTIFIED, ATTEST_PCR_PASS),
                    ATTEST_LEVEL_MEASURED_BOOT);
    CU_ASSERT_EQUAL(attest_level_of(ATTEST_EK_CERTIFIED, ATTEST_PCR_RECORD),
                    ATTEST_LEVEL_TPM_CERTIFIED);
    CU_ASSERT_EQUAL(attest_level_of(ATTEST_EK_CERTIFIED, ATTEST_PCR_FAIL),
                    ATTEST_LEVEL_TPM_CERTIFIED);
    CU_ASSERT_EQUAL(attest_level_of(ATTEST_EK_CERTIFIED, ATTEST_PCR_NO_POLICY),
                    ATTEST_LEVEL_TPM_CERTIFIED);
    CU_ASSERT_EQUAL(attest_level_of(ATTEST_EK_REGISTERED, ATTEST_PCR_PASS),
                    ATTEST_LEVEL_TPM_REGISTERED);
    CU_ASSERT_EQUAL(attest_level_to_ca(ATTEST_LEVEL_MEASURED_BOOT), CA_ATTEST_TPM_MEASURED_BOOT);
    CU_ASSERT_EQUAL(attest_level_to_ca(ATTEST_LEVEL_TPM_CERTIFIED), CA_ATTEST_TPM);
    CU_ASSERT_EQUAL(attest_level_to_ca(ATTEST_LEVEL_TPM_REGISTERED), CA_ATTEST_TPM);
    CU_ASSERT_STRING_EQUAL(attest_level_name(ATTEST_LEVEL_TPM_REGISTERED), "tpm-registered");
}

/* ---- allocation failures ------------------------------------------------------------------ */

static void
test_oom(void)
{
    quote_fx f;
    quote_load(&f, "e384");
    attest_quote_in in = quote_in(&f);
    vec pem = load("localca.pem");
    long n;
    for (n = 0; n < 100; n++) {
        attest_quote q;
        attest_reason why = ATTEST_OK;
        ztca_alloc_fail_after(n);
        ztca_rc rc = attest_quote_verify(&q, &why, &f.key, &in);
        ztca_alloc_fail_after(-1);
        if (ZTCA_IS_OK(rc)) {
            break;
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_NOMEM);
        CU_ASSERT_EQUAL(why, ATTEST_R_INTERNAL);
    }
    CU_ASSERT(n > 0 && n < 100);
    for (n = 0; n < 100; n++) {
        attest_roots *r = NULL;
        ztca_alloc_fail_after(n);
        ztca_rc rc = attest_roots_new(&r, ATTEST_CHAIN_DEFAULT);
        if (ZTCA_IS_OK(rc)) {
            rc = attest_roots_add(r, pem.p, pem.len);
        }
        ztca_alloc_fail_after(-1);
        attest_roots_free(r);
        if (ZTCA_IS_OK(rc)) {
            break;
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_NOMEM);
    }
    CU_ASSERT(n > 0 && n < 100);
    unload(&pem);
    quote_free(&f);
}

int
main(void)
{
    /* tss2-mu logs every refused structure to stderr; the suite refuses thousands on purpose. */
    setenv("TSS2_LOG", "all+NONE", 1);
    if (!ZTCA_IS_OK(ca_rng_new(&g_rng))) {
        return 1;
    }
    static const unit_test tests[] = {
        { "reason_names", test_reason_names },
        { "key_vectors", test_key_vectors },
        { "ak_policy", test_ak_policy },
        { "ek_public_policy", test_ek_public_policy },
        { "key_negatives", test_key_negatives },
        { "every_prefix", test_every_prefix },
        { "attest_parse", test_attest_parse },
        { "signature_parse", test_signature_parse },
        { "quote_vectors", test_quote_vectors },
        { "quote_negatives", test_quote_negatives },
        { "certify", test_certify },
        { "ek_real", test_ek_real },
        { "ek_registered", test_ek_registered },
        { "roots", test_roots },
        { "ek_synthetic", test_ek_synthetic },
        { "kdf_kat", test_kdf_kat },
        { "cred_wrap_kat", test_cred_wrap_kat },
        { "cred_roundtrip", test_cred_roundtrip },
        { "cred_check", test_cred_check },
        { "pcr_policy_parse", test_pcr_policy_parse },
        { "pcr_evaluate", test_pcr_evaluate },
        { "levels", test_levels },
        { "oom", test_oom },
        { NULL, NULL },
    };
    int rc = unit_run("attest", tests);
    ca_rng_free(g_rng);
    return rc;
}
