/* enroll_jwk.c: JWK Sets (RFC 7517) of RSA and EC public keys (RFC 7518 6.2, 6.3), each turned
 * into a DER SubjectPublicKeyInfo once at load, so verification goes through ca_verify and the
 * key policy through ca_pubkey_check like any key ztca meets. */
#include <string.h>

#include <mbedtls/oid.h>

#include "core/der.h"
#include "enroll/internal.h"

#define ENROLL_JWK_RSA_MAX_OCTETS 512  /* 4096 bits: larger moduli are skipped by policy */
#define ENROLL_JWK_B64_MAX        2048 /* characters of any one key member */

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }     (RFC 8017 A.1.1)
 * SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier { rsaEncryption, NULL },
 *                                     subjectPublicKey BIT STRING }          (RFC 3279 2.3.1) */
ztca_rc
enroll_jwk_spki_rsa(uint8_t **out, size_t *out_len, const uint8_t *n, size_t n_len,
                    const uint8_t *e, size_t e_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf key, spki;
    uint8_t *key_der = NULL;
    size_t key_len = 0;
    der_buf_init(&key, 4096);
    der_buf_init(&spki, 4096);
    ZTCA_CHECK(der_begin(&key, DER_SEQUENCE));
    ZTCA_CHECK(der_add_uint_bytes(&key, n, n_len));
    ZTCA_CHECK(der_add_uint_bytes(&key, e, e_len));
    ZTCA_CHECK(der_end(&key));
    ZTCA_CHECK(der_buf_take(&key, &key_der, &key_len));
    ZTCA_CHECK(der_begin(&spki, DER_SEQUENCE));
    ZTCA_CHECK(der_begin(&spki, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(&spki, MBEDTLS_OID_PKCS1_RSA));
    ZTCA_CHECK(der_add_null(&spki));
    ZTCA_CHECK(der_end(&spki));
    ZTCA_CHECK(der_add_bitstring(&spki, key_der, key_len));
    ZTCA_CHECK(der_end(&spki));
    ZTCA_CHECK(der_buf_take(&spki, out, out_len));
out:
    ztca_free(key_der);
    der_buf_free(&key);
    der_buf_free(&spki);
    return rc;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier { id-ecPublicKey,
 *     namedCurve OBJECT IDENTIFIER }, subjectPublicKey BIT STRING (ECPoint, uncompressed:
 *     04 || x || y) }                                        (RFC 5480 2.1.1, 2.2; SEC 1 2.3.3) */
ztca_rc
enroll_jwk_spki_ec(uint8_t **out, size_t *out_len, size_t bits, const uint8_t *x, const uint8_t *y,
                   size_t coord_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t point[1 + 2 * 48];
    der_buf spki;
    der_buf_init(&spki, 512);
    ZTCA_REQUIRE((bits == 256 && coord_len == 32) || (bits == 384 && coord_len == 48),
                 ZTCA_ERR_INTERNAL, "EC JWK: curve and coordinate length");
    point[0] = 0x04;
    memcpy(point + 1, x, coord_len);
    memcpy(point + 1 + coord_len, y, coord_len);
    ZTCA_CHECK(der_begin(&spki, DER_SEQUENCE));
    ZTCA_CHECK(der_begin(&spki, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(&spki, MBEDTLS_OID_EC_ALG_UNRESTRICTED));
    if (bits == 256) {
        ZTCA_CHECK(DER_ADD_OID(&spki, MBEDTLS_OID_EC_GRP_SECP256R1));
    } else {
        ZTCA_CHECK(DER_ADD_OID(&spki, MBEDTLS_OID_EC_GRP_SECP384R1));
    }
    ZTCA_CHECK(der_end(&spki));
    ZTCA_CHECK(der_add_bitstring(&spki, point, 1 + 2 * coord_len));
    ZTCA_CHECK(der_end(&spki));
    ZTCA_CHECK(der_buf_take(&spki, out, out_len));
out:
    der_buf_free(&spki);
    return rc;
}

/* A base64url member of a JWK (RFC 7518 6.2.1, 6.3.1), decoded; BAD_INPUT when absent, not a
 * string or not strict base64url. */
static ztca_rc
enroll_jwk_member(uint8_t **out, size_t *out_len, const json_t *jwk, const char *name)
{
    const json_t *v = json_object_get(jwk, name);
    ZTCA_ENSURE(v != NULL && json_is_string(v), ZTCA_ERR_BAD_INPUT,
                "RFC 7518 6: JWK key member missing or not a string");
    ZTCA_ENSURE(json_string_length(v) <= ENROLL_JWK_B64_MAX, ZTCA_ERR_BAD_INPUT,
                "JWK key member too long");
    return enroll_b64url_decode(out, out_len, json_string_value(v), json_string_length(v));
}

/* What one JWK turned into: a usable key, or nothing (skipped). */
typedef struct enroll_jwk_result {
    bool usable;
    enroll_jwk_slot slot;
} enroll_jwk_result;

/* The result of ca_pubkey_check: UNSUPPORTED (a weak or oversized RSA key) skips the key; a key
 * mbedTLS cannot parse (an EC point off the curve, a broken RSA key) refuses the set. */
static ztca_rc
enroll_jwk_policy(enroll_jwk_result *r, ca_pk_kind want)
{
    ca_pubkey_info info;
    ztca_rc rc = ca_pubkey_check(&info, r->slot.spki, r->slot.pub.spki_len);
    if (rc.err == ZTCA_ERR_UNSUPPORTED) {
        ztca_clear_error();
        r->usable = false;
        return ZTCA_RC_OK;
    }
    if (rc.err != ZTCA_OK) {
        ZTCA_ENSURE(rc.err != ZTCA_ERR_NOMEM, ZTCA_ERR_NOMEM, "JWK: out of memory");
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "JWK: not a valid public key (EC point not on the curve?)");
    }
    ZTCA_ENSURE(info.kind == want, ZTCA_ERR_INTERNAL, "JWK: key kind changed in conversion");
    r->slot.pub.bits = info.bits; /* r->usable stays as "use", "key_ops" and "alg" left it */
    return ZTCA_RC_OK;
}

static ztca_rc
enroll_jwk_rsa(enroll_jwk_result *r, const json_t *jwk)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t *n = NULL, *e = NULL;
    size_t n_len = 0, e_len = 0;
    ZTCA_CHECK(enroll_jwk_member(&n, &n_len, jwk, "n"));
    ZTCA_CHECK(enroll_jwk_member(&e, &e_len, jwk, "e"));
    /* RFC 7518 2, Base64urlUInt: "the minimum number of octets needed to represent the value". */
    ZTCA_REQUIRE(n_len > 0 && n[0] != 0 && e_len > 0 && e[0] != 0, ZTCA_ERR_BAD_INPUT,
                 "RFC 7518 6.3.1: RSA n/e empty or with leading zero octets");
    ZTCA_REQUIRE(e_len <= 8, ZTCA_ERR_BAD_INPUT, "RSA JWK: public exponent too large");
    if (n_len > ENROLL_JWK_RSA_MAX_OCTETS) {
        r->usable = false; /* beyond ca_pubkey_check's 4096 bits: policy, not a broken key */
        goto out;
    }
    ZTCA_CHECK(enroll_jwk_spki_rsa(&r->slot.spki, &r->slot.pub.spki_len, n, n_len, e, e_len));
    r->slot.pub.kind = CA_PK_RSA;
    ZTCA_CHECK(enroll_jwk_policy(r, CA_PK_RSA));
out:
    ztca_free(n);
    ztca_free(e);
    return rc;
}

static ztca_rc
enroll_jwk_ec(enroll_jwk_result *r, const json_t *jwk)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t *x = NULL, *y = NULL;
    size_t x_len = 0, y_len = 0, bits;
    const json_t *crv = json_object_get(jwk, "crv");
    ZTCA_ENSURE(crv != NULL && json_is_string(crv), ZTCA_ERR_BAD_INPUT,
                "RFC 7518 6.2.1.1: EC JWK without a string crv");
    if (strcmp(json_string_value(crv), "P-256") == 0) {
        bits = 256;
    } else if (strcmp(json_string_value(crv), "P-384") == 0) {
        bits = 384;
    } else {
        r->usable = false; /* P-521, secp256k1, ...: not verified by ztca */
        return ZTCA_RC_OK;
    }
    ZTCA_CHECK(enroll_jwk_member(&x, &x_len, jwk, "x"));
    ZTCA_CHECK(enroll_jwk_member(&y, &y_len, jwk, "y"));
    ZTCA_REQUIRE(x_len == bits / 8 && y_len == bits / 8, ZTCA_ERR_BAD_INPUT,
                 "RFC 7518 6.2.1.2: EC coordinates must have the full length of the curve");
    ZTCA_CHECK(enroll_jwk_spki_ec(&r->slot.spki, &r->slot.pub.spki_len, bits, x, y, x_len));
    r->slot.pub.kind = CA_PK_EC;
    /* mbedTLS checks that the point is on the curve when it parses the SPKI. */
    ZTCA_CHECK(enroll_jwk_policy(r, CA_PK_EC));
out:
    ztca_free(x);
    ztca_free(y);
    return rc;
}

/* The algorithms a key of this kind and size verifies (RFC 7518 3.3, 3.4). */
static unsigned
enroll_jwk_algs_for(const enroll_jwk *k)
{
    if (k->kind == CA_PK_RSA) {
        return ENROLL_ALG_RS256 | ENROLL_ALG_RS384;
    }
    return k->bits == 256 ? ENROLL_ALG_ES256 : ENROLL_ALG_ES384;
}

/* One JWK (RFC 7517 4). Members that name what a key is for are checked before the key itself:
 * a key that may not verify signatures is skipped whatever its contents. */
static ztca_rc
enroll_jwk_parse(enroll_jwk_result *r, const json_t *jwk)
{
    static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
    bool present = false;
    const json_t *v;
    unsigned jwk_alg = 0;
    memset(r, 0, sizeof(*r));
    r->usable = true;

    ZTCA_ENSURE(json_is_object(jwk), ZTCA_ERR_BAD_INPUT, "RFC 7517 5: keys holds a non-object");
    const char *kty = enroll_json_string(jwk, "kty", 16, &present);
    ZTCA_ENSURE(kty != NULL, ZTCA_ERR_BAD_INPUT, "RFC 7517 4.1: kty missing or not a string");
    /* A published private or secret key is a leak, and its owner's mistake must be loud. */
    for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
        ZTCA_ENSURE(json_object_get(jwk, private_members[i]) == NULL, ZTCA_ERR_BAD_INPUT,
                    "RFC 7518 6.3.2, 6.4: JWKS holds private or secret key material");
    }
    v = json_object_get(jwk, "kid");
    if (v != NULL) {
        ZTCA_ENSURE(json_is_string(v) && json_string_length(v) >= 1
                        && json_string_length(v) <= ENROLL_KID_MAX,
                    ZTCA_ERR_BAD_INPUT, "RFC 7517 4.5: kid must be a string of 1-256 characters");
        memcpy(r->slot.pub.kid, json_string_value(v), json_string_length(v) + 1);
        r->slot.pub.has_kid = true;
    }
    v = json_object_get(jwk, "use");
    if (v != NULL) {
        ZTCA_ENSURE(json_is_string(v), ZTCA_ERR_BAD_INPUT, "RFC 7517 4.2: use must be a string");
        if (strcmp(json_string_value(v), "sig") != 0) {
            r->usable = false; /* "enc" keys encrypt, they do not verify */
        }
    }
    v = json_object_get(jwk, "key_ops");
    if (v != NULL) {
        bool verify = false;
        size_t i;
        json_t *op;
        ZTCA_ENSURE(json_is_array(v), ZTCA_ERR_BAD_INPUT, "RFC 7517 4.3: key_ops must be an array");
        json_array_foreach(v, i, op)
        {
            ZTCA_ENSURE(json_is_string(op), ZTCA_ERR_BAD_INPUT,
                        "RFC 7517 4.3: key_ops must hold strings");
            verify |= strcmp(json_string_value(op), "verify") == 0;
        }
        r->usable &= verify;
    }
    v = json_object_get(jwk, "alg");
    if (v != NULL) {
        enroll_alg a;
        ZTCA_ENSURE(json_is_string(v), ZTCA_ERR_BAD_INPUT, "RFC 7517 4.4: alg must be a string");
        if (ZTCA_IS_OK(enroll_alg_parse(&a, json_string_value(v)))) {
            jwk_alg = (unsigned)a;
        } else {
            ztca_clear_error();
            r->usable = false; /* RS512, PS256, RSA-OAEP, ...: not an algorithm ztca verifies */
        }
    }
    ztca_rc rc = ZTCA_RC_OK;
    if (strcmp(kty, "RSA") == 0) {
        rc = enroll_jwk_rsa(r, jwk);
    } else if (strcmp(kty, "EC") == 0) {
        rc = enroll_jwk_ec(r, jwk);
    } else {
        r->usable = false; /* oct is refused above; OKP and others are not verified by ztca */
    }
    if (ZTCA_IS_OK(rc) && r->slot.spki != NULL) {
        unsigned fits = enroll_jwk_algs_for(&r->slot.pub);
        /* Checked even for keys skipped for their "use": a contradiction is a broken set. */
        if (jwk_alg != 0 && (jwk_alg & fits) == 0) {
            rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "RFC 7517 4.4: the JWK's alg does not fit its key",
                           0);
        }
        r->slot.pub.algs = jwk_alg != 0 ? jwk_alg : fits;
    }
    if (!ZTCA_IS_OK(rc) || !r->usable) {
        ztca_free(r->slot.spki);
        r->slot.spki = NULL;
        r->usable = false;
    }
    return rc;
}

void
enroll_jwks_free(enroll_jwks *jwks)
{
    if (jwks == NULL) {
        return;
    }
    for (size_t i = 0; i < jwks->num_keys; i++) {
        ztca_free(jwks->keys[i].spki);
    }
    ztca_free(jwks->keys);
    ztca_free(jwks);
}

/* JWK Set: { "keys": [ JWK, ... ], other members ignored }              (RFC 7517 5, 5.1) */
ztca_rc
enroll_jwks_parse(enroll_jwks **out, const uint8_t *json, size_t json_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_t *root = NULL;
    enroll_jwks *set = NULL;
    const json_t *keys;
    size_t n;

    ZTCA_CHECK(enroll_json_load(&root, json, json_len, ENROLL_JWKS_MAX));
    keys = json_object_get(root, "keys");
    ZTCA_REQUIRE(keys != NULL && json_is_array(keys), ZTCA_ERR_BAD_INPUT,
                 "RFC 7517 5.1: JWKS without a keys array");
    n = json_array_size(keys);
    ZTCA_REQUIRE(n <= ENROLL_JWKS_MAX_KEYS, ZTCA_ERR_BAD_INPUT, "JWKS: more than 64 keys");
    set = ztca_calloc(1, sizeof(*set));
    ZTCA_REQUIRE(set != NULL, ZTCA_ERR_NOMEM, "JWKS: out of memory");
    if (n > 0) {
        set->keys = ztca_calloc(n, sizeof(*set->keys));
        ZTCA_REQUIRE(set->keys != NULL, ZTCA_ERR_NOMEM, "JWKS: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        enroll_jwk_result r;
        ZTCA_CHECK(enroll_jwk_parse(&r, json_array_get(keys, i)));
        if (!r.usable) {
            set->num_skipped++;
            continue;
        }
        for (size_t j = 0; j < set->num_keys; j++) {
            const enroll_jwk *k = &set->keys[j].pub;
            if (k->has_kid && r.slot.pub.has_kid && strcmp(k->kid, r.slot.pub.kid) == 0) {
                ztca_free(r.slot.spki);
                ZTCA_REQUIRE(false, ZTCA_ERR_BAD_INPUT,
                             "RFC 7517 4.5: two usable keys share a kid");
            }
        }
        r.slot.pub.spki = r.slot.spki;
        set->keys[set->num_keys++] = r.slot;
    }
    ZTCA_REQUIRE(set->num_keys > 0, ZTCA_ERR_UNSUPPORTED,
                 "JWKS: no usable signature key (RSA 2048-4096, EC P-256/P-384, use sig)");
    *out = set;
    set = NULL;
out:
    enroll_jwks_free(set);
    json_decref(root);
    return rc;
}

size_t
enroll_jwks_num_keys(const enroll_jwks *jwks)
{
    return jwks->num_keys;
}

size_t
enroll_jwks_num_skipped(const enroll_jwks *jwks)
{
    return jwks->num_skipped;
}

const enroll_jwk *
enroll_jwks_get(const enroll_jwks *jwks, size_t i)
{
    return i < jwks->num_keys ? &jwks->keys[i].pub : NULL;
}

const enroll_jwk *
enroll_jwks_find(const enroll_jwks *jwks, const char *kid)
{
    for (size_t i = 0; i < jwks->num_keys; i++) {
        if (jwks->keys[i].pub.has_kid && strcmp(jwks->keys[i].pub.kid, kid) == 0) {
            return &jwks->keys[i].pub;
        }
    }
    return NULL;
}
