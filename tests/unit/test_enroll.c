/* test_enroll.c: the CUnit suite of enroll/: strict base64url, JWKS intake (python-cryptography
 * keys, RFC 7517 A.1), compact JWS (RFC 7515 A.2 and A.3 as printed in the RFC), OIDC tokens minted
 * by tests/data/oidc/regen.py with its own RSA and EC keys (each refused token with its exact
 * reason), time edges, ECDSA malleability and the replay key, the SAN template, provisioner
 * configs and their round trip, the JWKS cache rules, every prefix and OOM. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>

#include "enroll/enroll.h"
#include "enroll/internal.h"
#include "tests/unit/unit.h"

#define T_NOW ((ztca_time)1790000000) /* the NOW of regen.py */
#define T_TD  "corp.example"
#define T_DIR "tests/data/oidc/"

/* ---- fixtures ------------------------------------------------------------------------------ */

/* A file of tests/data/oidc as an exact-size heap copy (ASan sees any over-read). */
static uint8_t *
test_file(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), T_DIR "%s", name);
    uint8_t *raw = unit_read_file(path, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    uint8_t *p = unit_dup(raw, *len);
    free(raw);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p;
}

/* enroll_jwks_find that must find: a fixture, so a miss ends the run (the analyzer sees it). */
static const enroll_jwk *
test_key(const enroll_jwks *jwks, const char *kid)
{
    const enroll_jwk *k = enroll_jwks_find(jwks, kid);
    CU_ASSERT_PTR_NOT_NULL(k);
    if (k == NULL) {
        abort();
    }
    return k;
}

/* A string member of an expected.json entry. */
static const char *
test_want(const json_t *want, const char *key)
{
    const char *s = json_string_value(json_object_get(want, key));
    CU_ASSERT_PTR_NOT_NULL(s);
    if (s == NULL) {
        abort();
    }
    return s;
}

static enroll_jwks *
test_jwks(const char *name)
{
    size_t len = 0;
    uint8_t *p = test_file(name, &len);
    enroll_jwks *jwks = NULL;
    UNIT_ASSERT_OK(enroll_jwks_parse(&jwks, p, len));
    free(p);
    return jwks;
}

static void
test_provisioner(enroll_provisioner *out, const char *name)
{
    size_t len = 0;
    uint8_t *p = test_file(name, &len);
    enroll_provisioner_init(out);
    UNIT_ASSERT_OK(enroll_provisioner_parse(out, p, len));
    free(p);
}

/* Verifies tokens/NAME.jwt with the provisioner and keys given. */
static ztca_rc
test_verify(enroll_verdict *v, enroll_failure *f, const enroll_provisioner *p,
            const enroll_jwks *jwks, const char *name, ztca_time now)
{
    char file[256];
    size_t len = 0;
    snprintf(file, sizeof(file), "tokens/%s.jwt", name);
    uint8_t *tok = test_file(file, &len);
    ztca_rc rc = enroll_oidc_verify(v, f, p, jwks, T_TD, (const char *)tok, len, now);
    free(tok);
    return rc;
}

/* ---- base64url ----------------------------------------------------------------------------- */

static void
test_b64url_vectors(void)
{
    /* RFC 4648 10, in the base64url alphabet without padding, and the two alphabet changes. */
    static const struct {
        const char *plain;
        size_t plain_len;
        const char *enc;
    } v[] = {
        { "", 0, "" },
        { "f", 1, "Zg" },
        { "fo", 2, "Zm8" },
        { "foo", 3, "Zm9v" },
        { "foob", 4, "Zm9vYg" },
        { "fooba", 5, "Zm9vYmE" },
        { "foobar", 6, "Zm9vYmFy" },
        { "\xfb\xff", 2, "-_8" },
        { "\xfb\xef\xbe", 3, "----" },
        { "\xff\xff\xff", 3, "____" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t *dec = NULL;
        char *enc = NULL;
        size_t dec_len = 0, enc_len = 0;
        uint8_t *in = unit_dup((const uint8_t *)v[i].enc, strlen(v[i].enc));
        UNIT_ASSERT_OK(enroll_b64url_decode(&dec, &dec_len, (const char *)in, strlen(v[i].enc)));
        CU_ASSERT_EQUAL(dec_len, v[i].plain_len);
        CU_ASSERT(memcmp(dec, v[i].plain, dec_len) == 0);
        UNIT_ASSERT_OK(
            enroll_b64url_encode(&enc, &enc_len, (const uint8_t *)v[i].plain, v[i].plain_len));
        CU_ASSERT_STRING_EQUAL(enc, v[i].enc);
        CU_ASSERT_EQUAL(enc_len, strlen(v[i].enc));
        free(in);
        free(dec);
        free(enc);
    }
    static const char *const bad[] = {
        "Zg==",        /* padding */
        "Zg=",         /* padding */
        "Zh",          /* non-zero trailing bits */
        "Zm9",         /* non-zero trailing bits (Zm8 is "fo") */
        "Z",           /* 1 mod 4 */
        "Zm9vY",       /* 1 mod 4 */
        "Zm+v",        /* standard alphabet */
        "Zm/v",        /* standard alphabet */
        "Zm9v\n",      /* whitespace */
        " Zm9v",       /* whitespace */
        "Zm9v.Zg",     /* a dot is not part of a value */
        "Zm\xc3\xa9v", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *dec = NULL;
        size_t dec_len = 0;
        UNIT_ASSERT_ERR(enroll_b64url_decode(&dec, &dec_len, bad[i], strlen(bad[i])),
                        ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_PTR_NULL(dec);
    }
    /* An embedded NUL is just another character outside the alphabet. */
    uint8_t *dec = NULL;
    size_t dec_len = 0;
    UNIT_ASSERT_ERR(enroll_b64url_decode(&dec, &dec_len, "Zm\0v", 4), ZTCA_ERR_BAD_INPUT);
}

static void
test_b64url_roundtrip_every_prefix(void)
{
    uint8_t bytes[256];
    for (size_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (uint8_t)(i * 37 + 11);
    }
    char *enc = NULL;
    size_t enc_len = 0;
    UNIT_ASSERT_OK(enroll_b64url_encode(&enc, &enc_len, bytes, sizeof(bytes)));
    for (size_t n = 0; n <= enc_len; n++) {
        uint8_t *in = unit_dup((const uint8_t *)enc, n);
        uint8_t *dec = NULL;
        size_t dec_len = 0;
        ztca_rc rc = enroll_b64url_decode(&dec, &dec_len, (const char *)in, n);
        if (n % 4 == 1) {
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        } else if (ZTCA_IS_OK(rc)) {
            /* Each accepted prefix decodes to a prefix of the bytes. */
            CU_ASSERT_EQUAL(dec_len, n * 3 / 4);
            CU_ASSERT(memcmp(dec, bytes, dec_len) == 0);
        } else {
            /* A cut inside a group leaves non-zero trailing bits: refused, never rounded. */
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        }
        free(dec);
        free(in);
    }
    free(enc);
}

/* ---- JWKS ---------------------------------------------------------------------------------- */

static void
test_jwks_vectors(void)
{
    enroll_jwks *jwks = test_jwks("jwks.json");
    /* rsa-1, ec-1, ec-384 usable; rsa-enc ("use": "enc"), ed-1 (OKP) and ec-521 skipped. */
    CU_ASSERT_EQUAL(enroll_jwks_num_keys(jwks), 3);
    CU_ASSERT_EQUAL(enroll_jwks_num_skipped(jwks), 3);
    const enroll_jwk *k = test_key(jwks, "rsa-1");
    CU_ASSERT_EQUAL(k->kind, CA_PK_RSA);
    CU_ASSERT_EQUAL(k->bits, 2048);
    CU_ASSERT_EQUAL(k->algs, ENROLL_ALG_RS256); /* its "alg" narrows RS256|RS384 */
    k = test_key(jwks, "ec-1");
    CU_ASSERT_EQUAL(k->kind, CA_PK_EC);
    CU_ASSERT_EQUAL(k->bits, 256);
    CU_ASSERT_EQUAL(k->algs, ENROLL_ALG_ES256);
    k = test_key(jwks, "ec-384");
    CU_ASSERT_EQUAL(k->bits, 384);
    CU_ASSERT_EQUAL(k->algs, ENROLL_ALG_ES384);
    CU_ASSERT_PTR_NULL(enroll_jwks_find(jwks, "rsa-enc"));
    CU_ASSERT_PTR_NULL(enroll_jwks_find(jwks, "ed-1"));
    CU_ASSERT_PTR_NULL(enroll_jwks_find(jwks, "RSA-1"));
    CU_ASSERT_PTR_NULL(enroll_jwks_get(jwks, 3));
    for (size_t i = 0; i < enroll_jwks_num_keys(jwks); i++) {
        ca_pubkey_info info;
        k = enroll_jwks_get(jwks, i);
        UNIT_ASSERT_OK(ca_pubkey_check(&info, k->spki, k->spki_len));
        CU_ASSERT_EQUAL(info.kind, k->kind);
    }
    /* The SPKI built from n and e is byte for byte the one python-cryptography writes. */
    size_t pem_len = 0;
    uint8_t *pem = test_file("rsa_public.pem", &pem_len);
    uint8_t *der = NULL;
    size_t der_len = 0;
    UNIT_ASSERT_OK(ztca_pem_decode_one(&der, &der_len, "PUBLIC KEY", pem, pem_len));
    k = test_key(jwks, "rsa-1");
    CU_ASSERT_EQUAL(k->spki_len, der_len);
    CU_ASSERT(k->spki_len == der_len && memcmp(k->spki, der, der_len) == 0);
    free(der);
    free(pem);
    enroll_jwks_free(jwks);

    /* RFC 7517 A.1: the EC key is for encryption, so only the RSA key remains. */
    jwks = test_jwks("rfc7517_a1_jwks.json");
    CU_ASSERT_EQUAL(enroll_jwks_num_keys(jwks), 1);
    CU_ASSERT_EQUAL(enroll_jwks_num_skipped(jwks), 1);
    k = enroll_jwks_get(jwks, 0);
    CU_ASSERT_STRING_EQUAL(k->kid, "2011-04-29");
    CU_ASSERT_TRUE(k->has_kid);
    CU_ASSERT_EQUAL(k->bits, 2048);
    CU_ASSERT_EQUAL(k->algs, ENROLL_ALG_RS256);
    enroll_jwks_free(jwks);

    jwks = test_jwks("jwks_single.json");
    CU_ASSERT_EQUAL(enroll_jwks_num_keys(jwks), 1);
    CU_ASSERT_EQUAL(enroll_jwks_get(jwks, 0)->algs, ENROLL_ALG_RS256 | ENROLL_ALG_RS384);
    enroll_jwks_free(jwks);

    /* RSA-1024 only: nothing usable. */
    size_t len = 0;
    uint8_t *p = test_file("jwks_weak.json", &len);
    UNIT_ASSERT_ERR(enroll_jwks_parse(&jwks, p, len), ZTCA_ERR_UNSUPPORTED);
    free(p);
}

static void
test_jwks_negatives(void)
{
    static const struct {
        const char *name;
        ztca_err err;
    } bad[] = {
        { "alg_mismatch", ZTCA_ERR_BAD_INPUT },        /* RS256 on an EC key */
        { "dup_kid", ZTCA_ERR_BAD_INPUT },             /* two usable keys "a" */
        { "dup_member", ZTCA_ERR_BAD_INPUT },          /* {"keys":[],"keys":[]} */
        { "key_ops_sign_only", ZTCA_ERR_UNSUPPORTED }, /* its only key may not verify */
        { "keys_not_array", ZTCA_ERR_BAD_INPUT },
        { "kid_number", ZTCA_ERR_BAD_INPUT },
        { "kty_missing", ZTCA_ERR_BAD_INPUT },
        { "n_padded", ZTCA_ERR_BAD_INPUT }, /* "AQAB==" */
        { "no_keys", ZTCA_ERR_UNSUPPORTED },
        { "not_object", ZTCA_ERR_BAD_INPUT },
        { "oct_secret", ZTCA_ERR_BAD_INPUT },       /* a published symmetric secret */
        { "off_curve", ZTCA_ERR_BAD_INPUT },        /* y + 1 */
        { "private_d", ZTCA_ERR_BAD_INPUT },        /* a published private key */
        { "rsa_leading_zero", ZTCA_ERR_BAD_INPUT }, /* RFC 7518 2 Base64urlUInt */
        { "short_x", ZTCA_ERR_BAD_INPUT },          /* RFC 7518 6.2.1.2 full length */
        { "too_many", ZTCA_ERR_BAD_INPUT },         /* 65 keys */
        { "trailing_garbage", ZTCA_ERR_BAD_INPUT },
        { "use_enc_only", ZTCA_ERR_UNSUPPORTED },
        { "use_number", ZTCA_ERR_BAD_INPUT },
    };
    size_t checked = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[128];
        size_t len = 0;
        snprintf(name, sizeof(name), "jwks_bad/%s.json", bad[i].name);
        uint8_t *p = test_file(name, &len);
        enroll_jwks *jwks = NULL;
        ztca_rc rc = enroll_jwks_parse(&jwks, p, len);
        if (rc.err != bad[i].err) {
            fprintf(stderr, "\n  jwks_bad/%s: got %s (%s)\n", bad[i].name, ztca_err_name(rc.err),
                    ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, bad[i].err);
        CU_ASSERT_PTR_NULL(jwks);
        free(p);
        checked++;
    }
    /* Every file of jwks_bad/ is in the table. */
    DIR *d = opendir(ZTCA_SOURCE_DIR "/" T_DIR "jwks_bad");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        files += e->d_name[0] != '.';
    }
    closedir(d);
    CU_ASSERT_EQUAL(files, checked);

    /* One byte over 256 KiB, even if it is only whitespace. */
    size_t big = ENROLL_JWKS_MAX + 1;
    uint8_t *p = malloc(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char head[] = "{\"keys\":[]}";
    memset(p, ' ', big);
    for (size_t i = 0; head[i] != '\0'; i++) {
        p[i] = (uint8_t)head[i];
    }
    enroll_jwks *jwks = NULL;
    UNIT_ASSERT_ERR(enroll_jwks_parse(&jwks, p, big), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_jwks_parse(&jwks, p, big - 1), ZTCA_ERR_UNSUPPORTED); /* no keys */
    free(p);
}

static void
test_jwks_every_prefix(void)
{
    size_t len = 0;
    uint8_t *full = test_file("jwks.json", &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = unit_dup(full, n);
        enroll_jwks *jwks = NULL;
        ztca_rc rc = enroll_jwks_parse(&jwks, p, n);
        /* Only the final newline may go: anything shorter is not a complete object. */
        if (n + 1 == len) {
            CU_ASSERT_EQUAL(rc.err, ZTCA_OK);
        } else {
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        }
        enroll_jwks_free(jwks);
        free(p);
    }
    free(full);
}

/* ---- JWS: the RFC 7515 examples ------------------------------------------------------------- */

static void
test_jws_rfc7515(void)
{
    static const char payload[] =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    static const struct {
        const char *token, *jwks;
        enroll_alg alg;
    } ok[] = {
        { "rfc7515_a2.jwt", "rfc7515_a2_jwks.json", ENROLL_ALG_RS256 },
        { "rfc7515_a3.jwt", "rfc7515_a3_jwks.json", ENROLL_ALG_ES256 },
    };
    for (size_t i = 0; i < 2; i++) {
        size_t len = 0;
        uint8_t *tok = test_file(ok[i].token, &len);
        while (len > 0 && (tok[len - 1] == '\n')) {
            len--;
        }
        enroll_jwks *jwks = test_jwks(ok[i].jwks);
        enroll_jws jws;
        enroll_failure f;
        enroll_jws_init(&jws);
        UNIT_ASSERT_OK(
            enroll_jws_verify(&jws, &f, jwks, ENROLL_ALGS_DEFAULT, (const char *)tok, len));
        CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_NONE);
        CU_ASSERT_EQUAL(jws.alg, ok[i].alg);
        CU_ASSERT_STRING_EQUAL(jws.kid, "");
        CU_ASSERT_EQUAL(jws.payload_len, strlen(payload));
        CU_ASSERT(jws.payload_len == strlen(payload)
                  && memcmp(jws.payload, payload, jws.payload_len) == 0);
        enroll_jws_free(&jws);

        /* The same token when its algorithm is not allowed, with the other example's key, and
         * with one signature bit flipped. */
        enroll_jws_init(&jws);
        unsigned other = ok[i].alg == ENROLL_ALG_RS256 ? ENROLL_ALG_ES256 : ENROLL_ALG_RS256;
        UNIT_ASSERT_ERR(enroll_jws_verify(&jws, &f, jwks, other, (const char *)tok, len),
                        ZTCA_ERR_DENIED);
        CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_ALG_NOT_ALLOWED);
        enroll_jwks *wrong = test_jwks(ok[1 - i].jwks);
        UNIT_ASSERT_ERR(
            enroll_jws_verify(&jws, &f, wrong, ENROLL_ALGS_DEFAULT, (const char *)tok, len),
            ZTCA_ERR_DENIED);
        CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_KEY_MISMATCH);
        enroll_jwks_free(wrong);
        tok[len - 10] = tok[len - 10] == 'A' ? 'B' : 'A';
        UNIT_ASSERT_ERR(
            enroll_jws_verify(&jws, &f, jwks, ENROLL_ALGS_DEFAULT, (const char *)tok, len),
            ZTCA_ERR_DENIED);
        CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_SIGNATURE_INVALID);
        CU_ASSERT_PTR_NULL(jws.payload);
        enroll_jwks_free(jwks);
        free(tok);
    }
    /* A.2 against the RFC 7517 set: one usable RSA key, not the one that signed. */
    size_t len = 0;
    uint8_t *tok = test_file("rfc7515_a2.jwt", &len);
    enroll_jwks *jwks = test_jwks("rfc7517_a1_jwks.json");
    enroll_jws jws;
    enroll_failure f;
    enroll_jws_init(&jws);
    UNIT_ASSERT_ERR(enroll_jws_verify(&jws, &f, jwks, ENROLL_ALGS_DEFAULT, (const char *)tok,
                                      len - (tok[len - 1] == '\n')),
                    ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_SIGNATURE_INVALID);
    enroll_jwks_free(jwks);
    free(tok);
}

static void
test_ecdsa_raw_to_der(void)
{
    uint8_t raw[64];
    uint8_t *der = NULL;
    size_t der_len = 0;
    /* r = 0x80 00 .. 01 needs a sign octet; s = 00 00 01 .. loses its leading zeros. */
    memset(raw, 0, sizeof(raw));
    raw[0] = 0x80;
    raw[31] = 0x01;
    raw[34] = 0x01;
    raw[63] = 0x02;
    UNIT_ASSERT_OK(enroll_ecdsa_raw_to_der(&der, &der_len, raw, sizeof(raw)));
    static const uint8_t want_head[] = { 0x30, 0x43, 0x02, 0x21, 0x00, 0x80 };
    CU_ASSERT_EQUAL(der_len, 2 + 2 + 33 + 2 + 30);
    CU_ASSERT(memcmp(der, want_head, sizeof(want_head)) == 0);
    CU_ASSERT_EQUAL(der[2 + 2 + 33], 0x02);
    CU_ASSERT_EQUAL(der[2 + 2 + 33 + 1], 30);
    CU_ASSERT_EQUAL(der[2 + 2 + 33 + 2], 0x01);
    free(der);
    der = NULL;
    UNIT_ASSERT_ERR(enroll_ecdsa_raw_to_der(&der, &der_len, raw, 63), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_ecdsa_raw_to_der(&der, &der_len, raw, 72), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(der);
}

/* ---- OIDC tokens --------------------------------------------------------------------------- */

static void
test_oidc_valid(void)
{
    size_t len = 0;
    uint8_t *text = test_file("expected.json", &len);
    json_error_t err;
    json_t *all = json_loadb((const char *)text, len, 0, &err);
    free(text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    CU_ASSERT_EQUAL(json_object_size(all), 14);
    const char *name;
    json_t *want;
    json_object_foreach(all, name, want)
    {
        enroll_provisioner p;
        test_provisioner(&p, test_want(want, "provisioner"));
        enroll_jwks *jwks = test_jwks(test_want(want, "jwks"));
        enroll_verdict v;
        enroll_failure f;
        enroll_verdict_init(&v);
        ztca_rc rc = test_verify(&v, &f, &p, jwks, name, T_NOW);
        if (!ZTCA_IS_OK(rc)) {
            fprintf(stderr, "\n  %s: %s (%s: %s)\n", name, enroll_reason_name(f.reason),
                    ztca_last_where(), ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_OK);
        CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_NONE);
        CU_ASSERT_STRING_EQUAL(v.uri, test_want(want, "uri"));
        CU_ASSERT_STRING_EQUAL(v.workload,
                               test_want(want, "uri") + strlen("spiffe://" T_TD "/workload/"));
        CU_ASSERT_TRUE(ca_workload_path_is_valid(v.workload));
        CU_ASSERT_STRING_EQUAL(v.subject, test_want(want, "subject"));
        CU_ASSERT_STRING_EQUAL(v.replay_key, test_want(want, "replay_key"));
        CU_ASSERT_EQUAL(v.replay_from_jti, json_is_true(json_object_get(want, "replay_from_jti")));
        CU_ASSERT_EQUAL(v.expires, json_integer_value(json_object_get(want, "expires")));
        CU_ASSERT_EQUAL(v.replay_until, v.expires + 60);
        CU_ASSERT_PTR_NOT_NULL(v.claims_json);
        CU_ASSERT_STRING_EQUAL(v.claims_json != NULL ? v.claims_json : "",
                               test_want(want, "claims_json"));
        CU_ASSERT_STRING_EQUAL(v.issuer, "https://token.actions.githubusercontent.com");
        CU_ASSERT_STRING_EQUAL(v.provisioner, p.name);
        CU_ASSERT_EQUAL(v.max_ttl, 900);
        if (strncmp(name, "valid_es256", 11) == 0) {
            CU_ASSERT_EQUAL(v.alg, ENROLL_ALG_ES256);
            CU_ASSERT_STRING_EQUAL(v.kid, "ec-1");
        } else if (strcmp(name, "valid_es384") == 0) {
            CU_ASSERT_EQUAL(v.alg, ENROLL_ALG_ES384);
            CU_ASSERT_STRING_EQUAL(v.kid, "ec-384");
        } else {
            CU_ASSERT_EQUAL(v.alg, ENROLL_ALG_RS256);
            CU_ASSERT_STRING_EQUAL(v.kid, "rsa-1");
        }
        enroll_verdict_free(&v);
        enroll_jwks_free(jwks);
        enroll_provisioner_free(&p);
    }
    json_decref(all);
}

/* Each refused token of regen.py with the reason and claim it must give. */
static const struct {
    const char *name;
    enroll_reason reason;
    const char *claim;
} test_negatives[] = {
    { "expired", ENROLL_REASON_EXPIRED, "exp" },
    { "not_yet_valid", ENROLL_REASON_NOT_YET_VALID, "nbf" },
    { "iat_future", ENROLL_REASON_IAT_FUTURE, "iat" },
    { "iat_too_old", ENROLL_REASON_IAT_TOO_OLD, "iat" },
    { "token_lifetime", ENROLL_REASON_TOKEN_LIFETIME, "exp" },
    { "wrong_audience", ENROLL_REASON_AUDIENCE_MISMATCH, "aud" },
    { "wrong_audience_array", ENROLL_REASON_AUDIENCE_MISMATCH, "aud" },
    { "wrong_issuer", ENROLL_REASON_ISSUER_MISMATCH, "iss" },
    { "wrong_issuer_trailing_slash", ENROLL_REASON_ISSUER_MISMATCH, "iss" },
    { "issuer_missing", ENROLL_REASON_CLAIM_MISSING, "iss" },
    { "unknown_kid", ENROLL_REASON_KID_UNKNOWN, "" },
    { "kid_missing", ENROLL_REASON_KID_MISSING, "" },
    { "kid_number", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "alg_none", ENROLL_REASON_ALG_NONE, "" },
    { "alg_none_mixed_case", ENROLL_REASON_ALG_NONE, "" },
    { "alg_hs256_public_key", ENROLL_REASON_ALG_HMAC, "" },
    { "alg_hs512_public_key", ENROLL_REASON_ALG_HMAC, "" },
    { "alg_ps256", ENROLL_REASON_ALG_NOT_ALLOWED, "" },
    { "alg_es384_not_allowed", ENROLL_REASON_ALG_NOT_ALLOWED, "" },
    { "alg_missing", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "alg_number", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "tampered_payload", ENROLL_REASON_SIGNATURE_INVALID, "" },
    { "tampered_signature", ENROLL_REASON_SIGNATURE_INVALID, "" },
    { "rs256_signature_short", ENROLL_REASON_SIGNATURE_MALFORMED, "" },
    { "rs256_signature_empty", ENROLL_REASON_SIGNATURE_MALFORMED, "" },
    { "b64_plus", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "b64_slash", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "b64_padding", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "b64_noncanonical_bits", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "b64_newline", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "b64_length_1_mod_4", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "two_parts", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "four_parts", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "empty_header", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "empty_payload", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "empty", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "header_not_json", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "header_array", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "header_dup_alg", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "payload_dup_claim", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "payload_not_object", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "payload_not_json", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "payload_nul", ENROLL_REASON_TOKEN_MALFORMED, "" },
    { "es256_der_signature", ENROLL_REASON_SIGNATURE_MALFORMED, "" },
    { "es256_with_rsa_key", ENROLL_REASON_KEY_MISMATCH, "" },
    { "es256_with_p384_key", ENROLL_REASON_KEY_MISMATCH, "" },
    { "rs256_with_ec_key", ENROLL_REASON_KEY_MISMATCH, "" },
    { "crit_header", ENROLL_REASON_CRIT_UNSUPPORTED, "" },
    { "crit_b64", ENROLL_REASON_CRIT_UNSUPPORTED, "" },
    { "typ_invalid", ENROLL_REASON_TYP_INVALID, "" },
    { "typ_number", ENROLL_REASON_TYP_INVALID, "" },
    { "embedded_jwk_attack", ENROLL_REASON_SIGNATURE_INVALID, "" },
    { "too_large", ENROLL_REASON_TOKEN_TOO_LARGE, "" },
    { "charset_ref_space", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_dotdot", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_percent", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_newline", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_empty_segment", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_trailing_slash", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_leading_slash", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_unicode", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_query", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_fragment", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_colon", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_ref_empty", ENROLL_REASON_CLAIM_CHARSET, "ref" },
    { "charset_repository_at", ENROLL_REASON_CLAIM_CHARSET, "repository" },
    { "san_dot_repository", ENROLL_REASON_SAN_INVALID, "" },
    { "san_long_segment", ENROLL_REASON_SAN_INVALID, "" },
    { "san_too_long", ENROLL_REASON_SAN_INVALID, "" },
    { "claim_missing_ref", ENROLL_REASON_CLAIM_MISSING, "ref" },
    { "claim_invalid_ref", ENROLL_REASON_CLAIM_INVALID, "ref" },
    { "claim_mismatch_owner", ENROLL_REASON_CLAIM_MISMATCH, "repository_owner" },
    { "claim_mismatch_owner_case", ENROLL_REASON_CLAIM_MISMATCH, "repository_owner" },
    { "claim_mismatch_owner_array", ENROLL_REASON_CLAIM_MISMATCH, "repository_owner" },
    { "claim_missing_owner", ENROLL_REASON_CLAIM_MISSING, "repository_owner" },
    { "exp_missing", ENROLL_REASON_CLAIM_MISSING, "exp" },
    { "exp_string", ENROLL_REASON_CLAIM_INVALID, "exp" },
    { "exp_negative", ENROLL_REASON_CLAIM_INVALID, "exp" },
    { "nbf_bool", ENROLL_REASON_CLAIM_INVALID, "nbf" },
    { "sub_missing", ENROLL_REASON_CLAIM_MISSING, "sub" },
    { "sub_control", ENROLL_REASON_CLAIM_INVALID, "sub" },
    { "jti_number", ENROLL_REASON_CLAIM_INVALID, "jti" },
    { "aud_number", ENROLL_REASON_CLAIM_INVALID, "aud" },
    { "aud_empty_array", ENROLL_REASON_CLAIM_INVALID, "aud" },
    { "iss_number", ENROLL_REASON_CLAIM_INVALID, "iss" },
};

#define TEST_NUM_NEGATIVES (sizeof(test_negatives) / sizeof(test_negatives[0]))

static void
test_oidc_negatives(void)
{
    enroll_provisioner p;
    test_provisioner(&p, "provisioner.json");
    enroll_jwks *jwks = test_jwks("jwks.json");
    for (size_t i = 0; i < TEST_NUM_NEGATIVES; i++) {
        enroll_verdict v;
        enroll_failure f;
        enroll_verdict_init(&v);
        ztca_rc rc = test_verify(&v, &f, &p, jwks, test_negatives[i].name, T_NOW);
        if (rc.err != ZTCA_ERR_DENIED || f.reason != test_negatives[i].reason
            || strcmp(f.claim, test_negatives[i].claim) != 0) {
            fprintf(stderr, "\n  %s: %s/%s claim '%s' (%s)\n", test_negatives[i].name,
                    ztca_err_name(rc.err), enroll_reason_name(f.reason), f.claim, ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_DENIED);
        CU_ASSERT_EQUAL(f.reason, test_negatives[i].reason);
        CU_ASSERT_STRING_EQUAL(f.claim, test_negatives[i].claim);
        /* Nothing is written on a refusal. */
        CU_ASSERT_PTR_NULL(v.claims_json);
        CU_ASSERT_STRING_EQUAL(v.uri, "");
        CU_ASSERT_STRING_EQUAL(v.replay_key, "");
    }
    /* Every token file is either an expected verdict or a listed refusal. */
    DIR *d = opendir(ZTCA_SOURCE_DIR "/" T_DIR "tokens");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        files += e->d_name[0] != '.';
    }
    closedir(d);
    CU_ASSERT_EQUAL(files, TEST_NUM_NEGATIVES + 14);
    enroll_jwks_free(jwks);
    enroll_provisioner_free(&p);
}

/* The time checks at their edges, on one token: nbf = iat = NOW-60, exp = NOW+240, skew 60. */
static void
test_oidc_time_edges(void)
{
    static const struct {
        ztca_time now;
        enroll_reason reason;
    } cases[] = {
        { T_NOW + 240 + 59, ENROLL_REASON_NONE },
        { T_NOW + 240 + 60, ENROLL_REASON_EXPIRED }, /* now >= exp + skew */
        { T_NOW + 100000, ENROLL_REASON_EXPIRED },
        { T_NOW - 60 - 60, ENROLL_REASON_NONE },
        { T_NOW - 60 - 61, ENROLL_REASON_NOT_YET_VALID }, /* nbf > now + skew */
        { T_NOW - 86400, ENROLL_REASON_TOKEN_LIFETIME },  /* checked before nbf */
    };
    enroll_provisioner p;
    test_provisioner(&p, "provisioner.json");
    enroll_jwks *jwks = test_jwks("jwks.json");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enroll_verdict v;
        enroll_failure f;
        enroll_verdict_init(&v);
        ztca_rc rc = test_verify(&v, &f, &p, jwks, "valid_rs256", cases[i].now);
        CU_ASSERT_EQUAL(rc.err, cases[i].reason == ENROLL_REASON_NONE ? ZTCA_OK : ZTCA_ERR_DENIED);
        CU_ASSERT_EQUAL(f.reason, cases[i].reason);
        enroll_verdict_free(&v);
    }
    /* Without skew the edges move in by 60 s. */
    p.clock_skew = 0;
    enroll_verdict v;
    enroll_failure f;
    enroll_verdict_init(&v);
    UNIT_ASSERT_ERR(test_verify(&v, &f, &p, jwks, "valid_rs256", T_NOW + 240), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_EXPIRED);
    UNIT_ASSERT_OK(test_verify(&v, &f, &p, jwks, "valid_rs256", T_NOW + 239));
    CU_ASSERT_EQUAL(v.replay_until, T_NOW + 240);
    enroll_verdict_free(&v);
    UNIT_ASSERT_ERR(test_verify(&v, &f, &p, jwks, "valid_skew_edges", T_NOW), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_EXPIRED);
    /* A caller's clock outside ztca's range is our bug, not the client's. */
    UNIT_ASSERT_ERR(test_verify(&v, &f, &p, jwks, "valid_rs256", -1), ZTCA_ERR_INTERNAL);
    CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_NONE);
    enroll_jwks_free(jwks);
    enroll_provisioner_free(&p);
}

/* (r, s) -> (r, n - s) keeps an ECDSA signature valid: the replay key must not change. */
static void
test_oidc_ecdsa_malleability(void)
{
    size_t len = 0;
    uint8_t *tok = test_file("tokens/valid_es256_no_jti.jwt", &len);
    size_t input_len = len; /* up to the second dot (the buffer has no NUL) */
    while (input_len > 0 && tok[input_len - 1] != '.') {
        input_len--;
    }
    CU_ASSERT_FATAL(input_len > 0);
    input_len--;
    const char *dot = (const char *)tok + input_len;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    UNIT_ASSERT_OK(enroll_b64url_decode(&sig, &sig_len, dot + 1, len - input_len - 1));
    CU_ASSERT_EQUAL_FATAL(sig_len, 64);

    mbedtls_ecp_group grp;
    mbedtls_mpi s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&s);
    CU_ASSERT_EQUAL_FATAL(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1), 0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_mpi_read_binary(&s, sig + 32, 32), 0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_mpi_sub_mpi(&s, &grp.N, &s), 0);
    CU_ASSERT_EQUAL_FATAL(mbedtls_mpi_write_binary(&s, sig + 32, 32), 0);
    mbedtls_mpi_free(&s);
    mbedtls_ecp_group_free(&grp);
    char *sig64 = NULL;
    size_t sig64_len = 0;
    UNIT_ASSERT_OK(enroll_b64url_encode(&sig64, &sig64_len, sig, sig_len));
    size_t mall_len = input_len + 1 + sig64_len;
    char *mall = malloc(mall_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mall);
    memcpy(mall, tok, input_len + 1);
    memcpy(mall + input_len + 1, sig64, sig64_len);
    CU_ASSERT(mall_len != len || memcmp(mall, tok, len) != 0);

    enroll_provisioner p;
    test_provisioner(&p, "provisioner.json");
    enroll_jwks *jwks = test_jwks("jwks.json");
    enroll_verdict a, b;
    enroll_failure f;
    enroll_verdict_init(&a);
    enroll_verdict_init(&b);
    UNIT_ASSERT_OK(enroll_oidc_verify(&a, &f, &p, jwks, T_TD, (const char *)tok, len, T_NOW));
    UNIT_ASSERT_OK(enroll_oidc_verify(&b, &f, &p, jwks, T_TD, mall, mall_len, T_NOW));
    CU_ASSERT_FALSE(a.replay_from_jti);
    CU_ASSERT_STRING_EQUAL(a.replay_key, b.replay_key);
    enroll_verdict_free(&a);
    enroll_verdict_free(&b);
    enroll_jwks_free(jwks);
    enroll_provisioner_free(&p);
    free(mall);
    free(sig64);
    free(sig);
    free(tok);
}

/* Templates and provisioners other than the files': placeholders inside a segment, fixed
 * identities, another trust domain, the inline JWKS. */
static void
test_oidc_templates(void)
{
    static const struct {
        const char *san;
        const char *require; /* CLAIM=VALUE or NULL */
        enroll_reason reason;
        const char *claim;
        const char *uri;
    } cases[] = {
        { "spiffe://corp.example/workload/github/{repository_owner}-{workflow}/{run_id}", NULL,
          ENROLL_REASON_NONE, "", "spiffe://corp.example/workload/github/corp-deploy/4242" },
        /* '/' only where the placeholder fills whole segments. */
        { "spiffe://corp.example/workload/x-{repository}", NULL, ENROLL_REASON_CLAIM_CHARSET,
          "repository", NULL },
        { "spiffe://corp.example/workload/{repository}x", NULL, ENROLL_REASON_CLAIM_CHARSET,
          "repository", NULL },
        { "spiffe://corp.example/workload/{repository}", NULL, ENROLL_REASON_NONE, "",
          "spiffe://corp.example/workload/corp/app" },
        /* "sub" holds ':' */
        { "spiffe://corp.example/workload/{sub}", NULL, ENROLL_REASON_CLAIM_CHARSET, "sub", NULL },
        { "spiffe://corp.example/workload/{nbf}", NULL, ENROLL_REASON_CLAIM_INVALID, "nbf", NULL },
        { "spiffe://corp.example/workload/{environment}", NULL, ENROLL_REASON_CLAIM_MISSING,
          "environment", NULL },
        { "spiffe://corp.example/workload/deploy-bot", "repository=corp/app", ENROLL_REASON_NONE,
          "", "spiffe://corp.example/workload/deploy-bot" },
        { "spiffe://corp.example/workload/deploy-bot", "repository=corp/other",
          ENROLL_REASON_CLAIM_MISMATCH, "repository", NULL },
        { "spiffe://other.example/workload/{repository}", NULL, ENROLL_REASON_TEMPLATE_INVALID, "",
          NULL },
    };
    enroll_jwks *jwks = test_jwks("jwks.json");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enroll_provisioner p;
        test_provisioner(&p, "provisioner.json");
        p.num_require = 0;
        snprintf(p.san, sizeof(p.san), "%s", cases[i].san);
        if (cases[i].require != NULL) {
            UNIT_ASSERT_OK(enroll_provisioner_add_require(&p, cases[i].require));
        }
        UNIT_ASSERT_OK(enroll_provisioner_check(&p));
        enroll_verdict v;
        enroll_failure f;
        enroll_verdict_init(&v);
        ztca_rc rc = test_verify(&v, &f, &p, jwks, "valid_rs256", T_NOW);
        if (f.reason != cases[i].reason) {
            fprintf(stderr, "\n  %s: %s\n", cases[i].san, enroll_reason_name(f.reason));
        }
        CU_ASSERT_EQUAL(f.reason, cases[i].reason);
        CU_ASSERT_STRING_EQUAL(f.claim, cases[i].claim);
        if (cases[i].uri != NULL) {
            UNIT_ASSERT_OK(rc);
            CU_ASSERT_STRING_EQUAL(v.uri, cases[i].uri);
        } else {
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_DENIED);
        }
        enroll_verdict_free(&v);
        enroll_provisioner_free(&p);
    }
    enroll_jwks_free(jwks);

    /* The template must fit the CA's trust domain, whatever the token. */
    enroll_provisioner p;
    test_provisioner(&p, "provisioner.json");
    jwks = test_jwks("jwks.json");
    size_t len = 0;
    uint8_t *tok = test_file("tokens/valid_rs256.jwt", &len);
    enroll_verdict v;
    enroll_failure f;
    enroll_verdict_init(&v);
    UNIT_ASSERT_ERR(
        enroll_oidc_verify(&v, &f, &p, jwks, "other.example", (const char *)tok, len, T_NOW),
        ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_TEMPLATE_INVALID);
    /* No keys: a setup error (5xx), not the client's. */
    UNIT_ASSERT_ERR(enroll_oidc_verify(&v, &f, &p, NULL, T_TD, (const char *)tok, len, T_NOW),
                    ZTCA_ERR_INTERNAL);
    CU_ASSERT_EQUAL(f.reason, ENROLL_REASON_NONE);
    /* An invalid provisioner verifies nothing. */
    p.max_ttl = 7200;
    UNIT_ASSERT_ERR(enroll_oidc_verify(&v, &f, &p, jwks, T_TD, (const char *)tok, len, T_NOW),
                    ZTCA_ERR_INTERNAL);
    enroll_jwks_free(jwks);
    enroll_provisioner_free(&p);

    /* The inline JWKS (jwks_single: rsa-1 alone) is used when no keys are passed. */
    test_provisioner(&p, "provisioner.json");
    size_t jl = 0;
    uint8_t *js = test_file("jwks_single.json", &jl);
    UNIT_ASSERT_OK(enroll_provisioner_set_jwks(&p, js, jl));
    CU_ASSERT_STRING_EQUAL(p.jwks_uri, "");
    UNIT_ASSERT_OK(enroll_oidc_verify(&v, &f, &p, NULL, T_TD, (const char *)tok, len, T_NOW));
    CU_ASSERT_STRING_EQUAL(v.uri, "spiffe://corp.example/workload/github/corp/app/refs/heads/main");
    enroll_verdict_free(&v);
    free(js);
    free(tok);
    enroll_provisioner_free(&p);
}

static void
test_oidc_every_prefix(void)
{
    enroll_provisioner p;
    test_provisioner(&p, "provisioner.json");
    enroll_jwks *jwks = test_jwks("jwks.json");
    size_t len = 0;
    uint8_t *full = test_file("tokens/valid_es256.jwt", &len);
    for (size_t n = 0; n <= len; n++) {
        uint8_t *tok = unit_dup(full, n);
        enroll_verdict v;
        enroll_failure f;
        enroll_verdict_init(&v);
        ztca_rc rc = enroll_oidc_verify(&v, &f, &p, jwks, T_TD, (const char *)tok, n, T_NOW);
        if (n == len) {
            CU_ASSERT_EQUAL(rc.err, ZTCA_OK);
        } else {
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_DENIED);
            CU_ASSERT(f.reason == ENROLL_REASON_TOKEN_MALFORMED
                      || f.reason == ENROLL_REASON_SIGNATURE_MALFORMED);
        }
        enroll_verdict_free(&v);
        free(tok);
    }
    /* The peek at "iss" sees every prefix too. */
    for (size_t n = 0; n <= len; n++) {
        uint8_t *tok = unit_dup(full, n);
        char iss[ENROLL_URL_MAX + 1];
        ztca_rc rc = enroll_jwt_peek_issuer(iss, sizeof(iss), (const char *)tok, n);
        if (ZTCA_IS_OK(rc)) {
            CU_ASSERT_STRING_EQUAL(iss, "https://token.actions.githubusercontent.com");
        } else {
            CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        }
        free(tok);
    }
    char iss[ENROLL_URL_MAX + 1];
    UNIT_ASSERT_OK(enroll_jwt_peek_issuer(iss, sizeof(iss), (const char *)full, len));
    CU_ASSERT_STRING_EQUAL(iss, "https://token.actions.githubusercontent.com");
    UNIT_ASSERT_ERR(enroll_jwt_peek_issuer(iss, 10, (const char *)full, len), ZTCA_ERR_BAD_INPUT);
    free(full);
    enroll_jwks_free(jwks);
    enroll_provisioner_free(&p);
}

/* ---- provisioners -------------------------------------------------------------------------- */

static void
test_provisioner_roundtrip(void)
{
    static const char canonical[] =
        "{\"algorithms\":[\"RS256\",\"ES256\"],\"audience\":\"https://ca.corp.example\","
        "\"clock_skew\":60,\"issuer\":\"https://token.actions.githubusercontent.com\","
        "\"jwks_uri\":\"https://token.actions.githubusercontent.com/.well-known/jwks\","
        "\"max_ttl\":900,\"name\":\"github\",\"require\":{\"repository_owner\":\"corp\"},"
        "\"san\":\"spiffe://corp.example/workload/github/{repository}/{ref}\",\"type\":\"oidc\"}";
    static const char *const files[] = { "provisioner.json", "provisioner_all_algs.json",
                                         "provisioner_inline.json", "provisioner_minimal.json" };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        enroll_provisioner p, q;
        char *a = NULL, *b = NULL;
        size_t a_len = 0, b_len = 0;
        test_provisioner(&p, files[i]);
        UNIT_ASSERT_OK(enroll_provisioner_write(&a, &a_len, &p));
        CU_ASSERT_EQUAL(a_len, strlen(a));
        enroll_provisioner_init(&q);
        UNIT_ASSERT_OK(enroll_provisioner_parse(&q, (const uint8_t *)a, a_len));
        UNIT_ASSERT_OK(enroll_provisioner_write(&b, &b_len, &q));
        CU_ASSERT_STRING_EQUAL(a, b);
        CU_ASSERT_STRING_EQUAL(p.name, q.name);
        CU_ASSERT_STRING_EQUAL(p.san, q.san);
        CU_ASSERT_EQUAL(p.algs, q.algs);
        CU_ASSERT_EQUAL(p.num_require, q.num_require);
        CU_ASSERT_EQUAL(p.max_ttl, q.max_ttl);
        CU_ASSERT_EQUAL(p.clock_skew, q.clock_skew);
        if (i == 0) {
            CU_ASSERT_STRING_EQUAL(a, canonical);
        }
        free(a);
        free(b);
        enroll_provisioner_free(&p);
        enroll_provisioner_free(&q);
    }
    enroll_provisioner p;
    test_provisioner(&p, "provisioner_inline.json");
    CU_ASSERT_STRING_EQUAL(p.jwks_uri, "");
    CU_ASSERT_PTR_NOT_NULL(p.jwks);
    CU_ASSERT_EQUAL(p.max_ttl, 3600);
    CU_ASSERT_EQUAL(p.clock_skew, 60);            /* default */
    CU_ASSERT_EQUAL(p.algs, ENROLL_ALGS_DEFAULT); /* default */
    CU_ASSERT_EQUAL(p.num_require, 1);
    CU_ASSERT_STRING_EQUAL(p.require[0].claim, "namespace_path");
    CU_ASSERT_STRING_EQUAL(p.require[0].value, "platform");
    enroll_provisioner_free(&p);
    test_provisioner(&p, "provisioner_all_algs.json");
    CU_ASSERT_EQUAL(p.algs, ENROLL_ALGS_ALL);
    enroll_provisioner_free(&p);
}

static void
test_provisioner_negatives(void)
{
    static const struct {
        const char *name;
        ztca_err err;
    } bad[] = {
        { "alg_hs256", ZTCA_ERR_UNSUPPORTED },
        { "alg_none", ZTCA_ERR_UNSUPPORTED },
        { "alg_twice", ZTCA_ERR_BAD_INPUT },
        { "bad_name", ZTCA_ERR_BAD_INPUT },
        { "both_jwks", ZTCA_ERR_BAD_INPUT },
        { "dup_member", ZTCA_ERR_BAD_INPUT },
        { "http_issuer", ZTCA_ERR_BAD_INPUT },
        { "inline_jwks_private", ZTCA_ERR_BAD_INPUT },
        { "issuer_query", ZTCA_ERR_BAD_INPUT },
        { "max_ttl_string", ZTCA_ERR_BAD_INPUT },
        { "no_jwks", ZTCA_ERR_BAD_INPUT },
        { "require_array", ZTCA_ERR_BAD_INPUT },
        { "require_control", ZTCA_ERR_BAD_INPUT },
        { "san_bad_placeholder", ZTCA_ERR_BAD_INPUT },
        { "san_empty_segment", ZTCA_ERR_BAD_INPUT },
        { "san_no_placeholder_no_require", ZTCA_ERR_BAD_INPUT },
        { "san_not_workload", ZTCA_ERR_BAD_INPUT },
        { "skew_too_big", ZTCA_ERR_BAD_INPUT },
        { "ttl_too_big", ZTCA_ERR_BAD_INPUT },
        { "type_missing", ZTCA_ERR_BAD_INPUT },
        { "type_saml", ZTCA_ERR_BAD_INPUT },
        { "unknown_member", ZTCA_ERR_BAD_INPUT },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[128];
        size_t len = 0;
        snprintf(name, sizeof(name), "provisioner_bad/%s.json", bad[i].name);
        uint8_t *text = test_file(name, &len);
        enroll_provisioner p;
        enroll_provisioner_init(&p);
        ztca_rc rc = enroll_provisioner_parse(&p, text, len);
        if (rc.err != bad[i].err) {
            fprintf(stderr, "\n  provisioner_bad/%s: %s (%s)\n", bad[i].name, ztca_err_name(rc.err),
                    ztca_last_what());
        }
        CU_ASSERT_EQUAL(rc.err, bad[i].err);
        CU_ASSERT_STRING_EQUAL(p.name, ""); /* untouched */
        CU_ASSERT_PTR_NULL(p.jwks);
        enroll_provisioner_free(&p);
        free(text);
    }
    DIR *d = opendir(ZTCA_SOURCE_DIR "/" T_DIR "provisioner_bad");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        files += e->d_name[0] != '.';
    }
    closedir(d);
    CU_ASSERT_EQUAL(files, sizeof(bad) / sizeof(bad[0]));
}

static void
test_provisioner_fields(void)
{
    static const struct {
        const char *url;
        bool ok;
    } urls[] = {
        { "https://token.actions.githubusercontent.com", true },
        { "https://gitlab.example.com/", true }, /* Auth0-style trailing slash */
        { "https://login.example.com:8443/tenant/v2.0", true },
        { "https://[2001:db8::1]/oidc", true },
        { "http://127.0.0.1:8080/oidc", true },
        { "http://localhost:8080", true },
        { "http://[::1]:9000/x", true },
        { "http://token.example", false }, /* plain HTTP off loopback */
        { "http://127.0.0.2", false },
        { "https://user@token.example", false },
        { "https://token.example/?x=1", false },
        { "https://token.example/#x", false },
        { "https://token.example/a%2Fb", false },
        { "https://token.example/a b", false },
        { "https://token.example:0", false },
        { "https://token.example:65536", false },
        { "https://token.example:", false },
        { "https://", false },
        { "ftp://token.example", false },
        { "https://-bad-.example", false },
        { "", false },
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        if (enroll_url_is_valid(urls[i].url) != urls[i].ok) {
            fprintf(stderr, "\n  url %s\n", urls[i].url);
        }
        CU_ASSERT_EQUAL(enroll_url_is_valid(urls[i].url), urls[i].ok);
    }

    enroll_provisioner p;
    test_provisioner(&p, "provisioner.json");
    UNIT_ASSERT_OK(enroll_provisioner_add_require(&p, "ref=refs/heads/main"));
    UNIT_ASSERT_OK(enroll_provisioner_add_require(&p, "workflow=release build"));
    CU_ASSERT_EQUAL(p.num_require, 3);
    CU_ASSERT_STRING_EQUAL(p.require[1].claim, "ref");
    CU_ASSERT_STRING_EQUAL(p.require[1].value, "refs/heads/main");
    UNIT_ASSERT_ERR(enroll_provisioner_add_require(&p, "ref=refs/heads/dev"), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_provisioner_add_require(&p, "no-equals"), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_provisioner_add_require(&p, "=x"), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_provisioner_add_require(&p, "a.b=x"), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_provisioner_add_require(&p, "x="), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_provisioner_add_require(&p, "x=caf\xc3\xa9"), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(p.num_require, 3);
    UNIT_ASSERT_OK(enroll_provisioner_check(&p));

    int64_t ttl = 0;
    UNIT_ASSERT_OK(enroll_provisioner_ttl(&p, 0, &ttl));
    CU_ASSERT_EQUAL(ttl, 900);
    UNIT_ASSERT_OK(enroll_provisioner_ttl(&p, 300, &ttl));
    CU_ASSERT_EQUAL(ttl, 300);
    UNIT_ASSERT_OK(enroll_provisioner_ttl(&p, 7200, &ttl));
    CU_ASSERT_EQUAL(ttl, 900); /* capped, not refused */
    p.max_ttl = 600;
    UNIT_ASSERT_OK(enroll_provisioner_ttl(&p, 0, &ttl));
    CU_ASSERT_EQUAL(ttl, 600);
    p.max_ttl = 3600;
    UNIT_ASSERT_OK(enroll_provisioner_ttl(&p, 86400, &ttl));
    CU_ASSERT_EQUAL(ttl, 3600);
    UNIT_ASSERT_ERR(enroll_provisioner_ttl(&p, -1, &ttl), ZTCA_ERR_BAD_INPUT);

    /* Field by field: each invalid value is refused by check and by write. */
    enroll_provisioner q = p;
    char *out = NULL;
    size_t out_len = 0;
    q.algs = 0;
    UNIT_ASSERT_ERR(enroll_provisioner_check(&q), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(enroll_provisioner_write(&out, &out_len, &q), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(out);
    q = p;
    q.algs = 1u << 7;
    UNIT_ASSERT_ERR(enroll_provisioner_check(&q), ZTCA_ERR_BAD_INPUT);
    q = p;
    snprintf(q.audience, sizeof(q.audience), "two words");
    UNIT_ASSERT_ERR(enroll_provisioner_check(&q), ZTCA_ERR_BAD_INPUT);
    q = p;
    q.clock_skew = -1;
    UNIT_ASSERT_ERR(enroll_provisioner_check(&q), ZTCA_ERR_BAD_INPUT);
    q = p;
    q.max_ttl = 59;
    UNIT_ASSERT_ERR(enroll_provisioner_check(&q), ZTCA_ERR_BAD_INPUT);
    q = p;
    q.jwks_uri[0] = '\0';
    UNIT_ASSERT_ERR(enroll_provisioner_check(&q), ZTCA_ERR_BAD_INPUT);
    static const char *const sans[] = {
        "spiffe://corp.example/workload/",
        "spiffe://corp.example/workload/{}",
        "spiffe://corp.example/workload/{a",
        "spiffe://corp.example/workload/a}",
        "spiffe://corp.example/workload/../{ref}",
        "spiffe://corp.example/workload/./{ref}",
        "spiffe://corp.example/workload/{ref}/",
        "spiffe://corp.example/workload/a%2f{ref}",
        "spiffe://corp.example/workload/a?{ref}",
        "spiffe://Corp.example/workload/{ref}",
        "spiffe://corp.example/device/{ref}",
        "https://corp.example/workload/{ref}",
        "spiffe://corp.example/workload/{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}{k}{l}{m}{n}{o}{p}{q}",
    };
    for (size_t i = 0; i < sizeof(sans) / sizeof(sans[0]); i++) {
        q = p;
        snprintf(q.san, sizeof(q.san), "%s", sans[i]);
        if (enroll_provisioner_check(&q).err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  san %s\n", sans[i]);
        }
        UNIT_ASSERT_ERR(enroll_provisioner_check(&q), ZTCA_ERR_BAD_INPUT);
    }
    q = p;
    snprintf(q.san, sizeof(q.san),
             "spiffe://corp.example/workload/{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}"
             "{k}{l}{m}{n}{o}{p}");
    UNIT_ASSERT_OK(enroll_provisioner_check(&q)); /* 16 placeholders */

    /* set_jwks: a bad set leaves the provisioner as it was. */
    size_t len = 0;
    uint8_t *bad = test_file("jwks_bad/private_d.json", &len);
    UNIT_ASSERT_ERR(enroll_provisioner_set_jwks(&p, bad, len), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(p.jwks);
    CU_ASSERT_STRING_EQUAL(p.jwks_uri,
                           "https://token.actions.githubusercontent.com/.well-known/jwks");
    free(bad);
    enroll_provisioner_free(&p);
}

static void
test_provisioner_every_prefix(void)
{
    size_t len = 0;
    uint8_t *full = test_file("provisioner_inline.json", &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *text = unit_dup(full, n);
        enroll_provisioner p;
        enroll_provisioner_init(&p);
        ztca_rc rc = enroll_provisioner_parse(&p, text, n);
        CU_ASSERT_EQUAL(rc.err, n + 1 == len ? ZTCA_OK : ZTCA_ERR_BAD_INPUT);
        enroll_provisioner_free(&p);
        free(text);
    }
    free(full);
}

/* ---- the JWKS cache ------------------------------------------------------------------------ */

static void
test_jwks_cache(void)
{
    enroll_jwks_cache c;
    enroll_jwks_cache_init(&c);
    CU_ASSERT_PTR_NULL(enroll_jwks_cache_get(&c));
    CU_ASSERT_TRUE(enroll_jwks_cache_needs_fetch(&c, 1000, false)); /* nothing loaded */
    enroll_jwks_cache_fetch_failed(&c, 1000);
    CU_ASSERT_FALSE(enroll_jwks_cache_needs_fetch(&c, 1059, false)); /* once a minute */
    CU_ASSERT_FALSE(enroll_jwks_cache_needs_fetch(&c, 1059, true));
    CU_ASSERT_TRUE(enroll_jwks_cache_needs_fetch(&c, 1060, false));
    size_t len = 0;
    uint8_t *body = test_file("jwks.json", &len);
    UNIT_ASSERT_OK(enroll_jwks_cache_update(&c, 1060, body, len));
    free(body);
    CU_ASSERT_PTR_NOT_NULL_FATAL(enroll_jwks_cache_get(&c));
    CU_ASSERT_EQUAL(enroll_jwks_num_keys(enroll_jwks_cache_get(&c)), 3);
    CU_ASSERT_FALSE(enroll_jwks_cache_needs_fetch(&c, 1100, false));
    CU_ASSERT_FALSE(enroll_jwks_cache_needs_fetch(&c, 1100, true)); /* unknown kid, too soon */
    CU_ASSERT_TRUE(enroll_jwks_cache_needs_fetch(&c, 1120, true));  /* unknown kid */
    CU_ASSERT_FALSE(enroll_jwks_cache_needs_fetch(&c, 1060 + 3599, false));
    CU_ASSERT_TRUE(enroll_jwks_cache_needs_fetch(&c, 1060 + 3600, false)); /* hourly */
    /* A bad body keeps the old keys and counts as an attempt. */
    body = test_file("jwks_weak.json", &len);
    UNIT_ASSERT_ERR(enroll_jwks_cache_update(&c, 5000, body, len), ZTCA_ERR_UNSUPPORTED);
    free(body);
    CU_ASSERT_EQUAL(enroll_jwks_num_keys(enroll_jwks_cache_get(&c)), 3);
    CU_ASSERT_FALSE(enroll_jwks_cache_needs_fetch(&c, 5030, true));
    /* A clock that jumps back does not block refreshes. */
    CU_ASSERT_TRUE(enroll_jwks_cache_needs_fetch(&c, 10, true));
    CU_ASSERT_TRUE(enroll_jwks_cache_needs_fetch(&c, INT64_MAX, false));
    enroll_jwks_cache_free(&c);
    CU_ASSERT_PTR_NULL(enroll_jwks_cache_get(&c));
    enroll_jwks_cache_free(NULL);
}

/* ---- names --------------------------------------------------------------------------------- */

static void
test_reason_names(void)
{
    /* The names are API: problem types are made from them. */
    CU_ASSERT_STRING_EQUAL(enroll_reason_name(ENROLL_REASON_NONE), "none");
    CU_ASSERT_STRING_EQUAL(enroll_reason_name(ENROLL_REASON_ALG_NONE), "alg_none");
    CU_ASSERT_STRING_EQUAL(enroll_reason_name(ENROLL_REASON_ALG_HMAC), "alg_hmac");
    CU_ASSERT_STRING_EQUAL(enroll_reason_name(ENROLL_REASON_SIGNATURE_INVALID),
                           "signature_invalid");
    CU_ASSERT_STRING_EQUAL(enroll_reason_name(ENROLL_REASON_REPLAYED), "replayed");
    CU_ASSERT_STRING_EQUAL(enroll_reason_name((enroll_reason)ENROLL_REASON_COUNT), "unknown");
    CU_ASSERT_STRING_EQUAL(enroll_reason_name((enroll_reason)-1), "unknown");
    CU_ASSERT_EQUAL(ENROLL_REASON_REPLAYED, 26);
    for (int i = 0; i < ENROLL_REASON_COUNT; i++) {
        const char *a = enroll_reason_name((enroll_reason)i);
        CU_ASSERT_STRING_NOT_EQUAL(a, "unknown");
        for (size_t k = 0; a[k] != '\0'; k++) {
            CU_ASSERT((a[k] >= 'a' && a[k] <= 'z') || a[k] == '_');
        }
        for (int j = 0; j < i; j++) {
            CU_ASSERT_STRING_NOT_EQUAL(a, enroll_reason_name((enroll_reason)j));
        }
    }
    enroll_alg a;
    UNIT_ASSERT_OK(enroll_alg_parse(&a, "ES384"));
    CU_ASSERT_EQUAL(a, ENROLL_ALG_ES384);
    CU_ASSERT_STRING_EQUAL(enroll_alg_name(ENROLL_ALG_RS384), "RS384");
    CU_ASSERT_STRING_EQUAL(enroll_alg_name((enroll_alg)0), "");
    UNIT_ASSERT_ERR(enroll_alg_parse(&a, "rs256"), ZTCA_ERR_UNSUPPORTED);
    UNIT_ASSERT_ERR(enroll_alg_parse(&a, "none"), ZTCA_ERR_UNSUPPORTED);
    UNIT_ASSERT_ERR(enroll_alg_parse(&a, "HS256"), ZTCA_ERR_UNSUPPORTED);
}

/* ---- OOM ----------------------------------------------------------------------------------- */

/* Runs `call` with the Nth allocation failing, N upward, until it succeeds: every failure before
 * must be NOMEM (and ASan checks nothing leaks). jansson allocates through ztca_malloc here; it
 * reports some allocation failures as syntax errors, which enroll_json_load cannot tell apart
 * (XXX there): those are allowed, but only from that one site. */
#define TEST_OOM_LOOP(call, cleanup)                                                        \
    do {                                                                                    \
        bool done_ = false;                                                                 \
        for (long n_ = 0; n_ < 5000 && !done_; n_++) {                                      \
            ztca_alloc_fail_after(n_);                                                      \
            ztca_rc rc_ = (call);                                                           \
            ztca_alloc_fail_after(-1);                                                      \
            done_ = ZTCA_IS_OK(rc_);                                                        \
            bool json_ = strstr(ztca_last_where(), "enroll_json.c") != NULL;                \
            if (!done_ && rc_.err != ZTCA_ERR_NOMEM && !json_) {                            \
                fprintf(stderr, "\n  OOM at %ld: %s %s (%s)\n", n_, ztca_err_name(rc_.err), \
                        ztca_last_where(), ztca_last_what());                               \
            }                                                                               \
            CU_ASSERT(done_ || rc_.err == ZTCA_ERR_NOMEM || json_);                         \
            cleanup;                                                                        \
        }                                                                                   \
        CU_ASSERT_TRUE(done_);                                                              \
    } while (0)

static void
test_oom(void)
{
    size_t len = 0;
    uint8_t *text = test_file("jwks.json", &len);
    enroll_jwks *jwks = NULL;
    TEST_OOM_LOOP(enroll_jwks_parse(&jwks, text, len), (enroll_jwks_free(jwks), jwks = NULL));
    free(text);

    enroll_provisioner p;
    text = test_file("provisioner_inline.json", &len);
    enroll_provisioner_init(&p);
    TEST_OOM_LOOP(enroll_provisioner_parse(&p, text, len), enroll_provisioner_free(&p));
    free(text);

    char *out = NULL;
    size_t out_len = 0;
    test_provisioner(&p, "provisioner_inline.json");
    TEST_OOM_LOOP(enroll_provisioner_write(&out, &out_len, &p), (free(out), out = NULL));
    enroll_provisioner_free(&p);

    test_provisioner(&p, "provisioner.json");
    jwks = test_jwks("jwks.json");
    static const char *const names[] = { "tokens/valid_rs256.jwt", "tokens/valid_es256.jwt",
                                         "tokens/valid_no_jti.jwt" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        uint8_t *tok = test_file(names[i], &len);
        enroll_verdict v;
        enroll_failure f;
        enroll_verdict_init(&v);
        TEST_OOM_LOOP(enroll_oidc_verify(&v, &f, &p, jwks, T_TD, (const char *)tok, len, T_NOW),
                      enroll_verdict_free(&v));
        free(tok);
    }
    enroll_jwks_free(jwks);
    enroll_provisioner_free(&p);

    enroll_jwks_cache c;
    enroll_jwks_cache_init(&c);
    text = test_file("jwks.json", &len);
    TEST_OOM_LOOP(enroll_jwks_cache_update(&c, 1000, text, len), (void)0);
    CU_ASSERT_PTR_NOT_NULL(enroll_jwks_cache_get(&c));
    free(text);
    enroll_jwks_cache_free(&c);
}

int
main(void)
{
    /* jansson allocates through ztca_malloc so the OOM loops reach its allocations too. */
    json_set_alloc_funcs(ztca_malloc, ztca_free);
    static const unit_test tests[] = {
        { "b64url_vectors", test_b64url_vectors },
        { "b64url_roundtrip_every_prefix", test_b64url_roundtrip_every_prefix },
        { "jwks_vectors", test_jwks_vectors },
        { "jwks_negatives", test_jwks_negatives },
        { "jwks_every_prefix", test_jwks_every_prefix },
        { "jws_rfc7515", test_jws_rfc7515 },
        { "ecdsa_raw_to_der", test_ecdsa_raw_to_der },
        { "oidc_valid", test_oidc_valid },
        { "oidc_negatives", test_oidc_negatives },
        { "oidc_time_edges", test_oidc_time_edges },
        { "oidc_ecdsa_malleability", test_oidc_ecdsa_malleability },
        { "oidc_templates", test_oidc_templates },
        { "oidc_every_prefix", test_oidc_every_prefix },
        { "provisioner_roundtrip", test_provisioner_roundtrip },
        { "provisioner_negatives", test_provisioner_negatives },
        { "provisioner_fields", test_provisioner_fields },
        { "provisioner_every_prefix", test_provisioner_every_prefix },
        { "jwks_cache", test_jwks_cache },
        { "reason_names", test_reason_names },
        { "oom", test_oom },
        { NULL, NULL },
    };
    return unit_run("enroll", tests);
}
