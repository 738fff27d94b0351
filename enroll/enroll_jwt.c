/* enroll_jwt.c: JWS Compact Serialization (RFC 7515 3.1, 5.2, 7.1) with RS256/RS384 (RFC 7518
 * 3.3) and ES256/ES384 (RFC 7518 3.4). The token chooses nothing but the algorithm, from the
 * caller's list, and the key, by kid, from the caller's JWKS: "jku", "x5u", "jwk" and "x5c" are
 * never followed, "none" and HMAC are refused with their own reasons, "crit" is refused. */
#include <string.h>

#include "core/der.h"
#include "enroll/internal.h"

#define ENROLL_ALG_NAME_MAX 64

bool
enroll_jws_split(enroll_jws_parts *out, const char *token, size_t token_len)
{
    size_t dots[2];
    size_t num_dots = 0;
    for (size_t i = 0; i < token_len; i++) {
        char c = token[i];
        if (c == '.') {
            if (num_dots == 2) {
                return false;
            }
            dots[num_dots++] = i;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_')) {
            return false; /* '=', '+', '/', whitespace, NUL: RFC 7515 2 and 7.1 */
        }
    }
    if (num_dots != 2) {
        return false;
    }
    out->header = token;
    out->header_len = dots[0];
    out->payload = token + dots[0] + 1;
    out->payload_len = dots[1] - dots[0] - 1;
    out->sig = token + dots[1] + 1;
    out->sig_len = token_len - dots[1] - 1;
    return true;
}

/* Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }   (RFC 3279 2.2.3)
 * from the JWS form R || S, each the curve's size in octets, big-endian (RFC 7518 3.4). */
ztca_rc
enroll_ecdsa_raw_to_der(uint8_t **out, size_t *out_len, const uint8_t *raw, size_t raw_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf b;
    der_buf_init(&b, 256);
    ZTCA_REQUIRE(raw_len == 64 || raw_len == 96, ZTCA_ERR_BAD_INPUT,
                 "RFC 7518 3.4: ECDSA signature must be R || S");
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(der_add_uint_bytes(&b, raw, raw_len / 2));
    ZTCA_CHECK(der_add_uint_bytes(&b, raw + raw_len / 2, raw_len / 2));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_buf_take(&b, out, out_len));
out:
    der_buf_free(&b);
    return rc;
}

static char
enroll_ascii_lower(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

/* ASCII case-insensitive equality, independent of the locale. */
static bool
enroll_ascii_case_equal(const char *a, const char *b)
{
    for (;; a++, b++) {
        char ca = enroll_ascii_lower(*a);
        char cb = enroll_ascii_lower(*b);
        if (ca != cb) {
            return false;
        }
        if (ca == '\0') {
            return true;
        }
    }
}

/* A decoding step of the token: its BAD_INPUT is the client's malformed token (the inner note,
 * which says what was wrong, is kept); NOMEM and the like pass through. */
static ztca_rc
enroll_jws_decoded(enroll_failure *f, ztca_rc rc)
{
    if (rc.err == ZTCA_ERR_BAD_INPUT) {
        enroll_fail_set(f, ENROLL_REASON_TOKEN_MALFORMED, NULL);
        rc.err = ZTCA_ERR_DENIED;
    }
    return rc;
}

/* "alg" (RFC 7515 4.1.1) against the allowed set. "none" and HS* get their own reasons in any
 * case: both are the classic ways to make a verifier accept a token nobody signed. */
static ztca_rc
enroll_jws_alg(enroll_alg *out, enroll_failure *f, const char *alg, unsigned algs)
{
    enroll_alg a;
    if (enroll_ascii_case_equal(alg, "none")) {
        return ENROLL_REFUSE(f, ENROLL_REASON_ALG_NONE, NULL,
                             "RFC 7518 3.6: unsecured JWS (alg none) refused");
    }
    if ((alg[0] == 'H' || alg[0] == 'h') && (alg[1] == 'S' || alg[1] == 's')) {
        return ENROLL_REFUSE(f, ENROLL_REASON_ALG_HMAC, NULL,
                             "RFC 8725 3.1: HMAC alg refused (keys are public)");
    }
    if (!ZTCA_IS_OK(enroll_alg_parse(&a, alg)) || (algs & (unsigned)a) == 0) {
        return ENROLL_REFUSE(f, ENROLL_REASON_ALG_NOT_ALLOWED, NULL,
                             "RFC 8725 3.1: alg not allowed by the provisioner");
    }
    *out = a;
    return ZTCA_RC_OK;
}

/* The protected header's other members. */
static ztca_rc
enroll_jws_header(const enroll_jwk **out_key, enroll_failure *f, const json_t *hdr,
                  const enroll_jwks *jwks, enroll_alg alg)
{
    const json_t *v;
    const enroll_jwk *key;
    /* RFC 7515 4.1.11: a recipient MUST reject a JWS whose "crit" it does not understand; ztca
     * understands no extension, so any "crit" is refused (RFC 7797's b64 needs one, too). */
    if (json_object_get(hdr, "crit") != NULL) {
        return ENROLL_REFUSE(f, ENROLL_REASON_CRIT_UNSUPPORTED, NULL,
                             "RFC 7515 4.1.11: crit header parameter refused");
    }
    /* RFC 7515 4.1.9: media types compare case-insensitively, "application/" may be left out. */
    v = json_object_get(hdr, "typ");
    if (v != NULL
        && (!json_is_string(v)
            || !(enroll_ascii_case_equal(json_string_value(v), "JWT")
                 || enroll_ascii_case_equal(json_string_value(v), "application/jwt")))) {
        return ENROLL_REFUSE(f, ENROLL_REASON_TYP_INVALID, NULL,
                             "RFC 7519 5.1: typ must be JWT when present");
    }
    v = json_object_get(hdr, "kid");
    if (v != NULL) {
        if (!json_is_string(v) || json_string_length(v) == 0
            || json_string_length(v) > ENROLL_KID_MAX) {
            return ENROLL_REFUSE(f, ENROLL_REASON_TOKEN_MALFORMED, NULL,
                                 "RFC 7515 4.1.4: kid must be a string of 1-256 characters");
        }
        key = enroll_jwks_find(jwks, json_string_value(v));
        if (key == NULL) {
            return ENROLL_REFUSE(f, ENROLL_REASON_KID_UNKNOWN, NULL,
                                 "RFC 7515 4.1.4: no key with this kid in the JWKS");
        }
    } else {
        if (enroll_jwks_num_keys(jwks) != 1) {
            return ENROLL_REFUSE(f, ENROLL_REASON_KID_MISSING, NULL,
                                 "RFC 7515 4.1.4: no kid, and the JWKS has several keys");
        }
        key = enroll_jwks_get(jwks, 0);
    }
    /* The key's type and curve, and its own "alg" when the JWK has one (RFC 7517 4.4). */
    if ((key->algs & (unsigned)alg) == 0) {
        return ENROLL_REFUSE(f, ENROLL_REASON_KEY_MISMATCH, NULL,
                             "RFC 8725 3.1: the key does not fit the token's alg");
    }
    *out_key = key;
    return ZTCA_RC_OK;
}

void
enroll_jws_init(enroll_jws *jws)
{
    memset(jws, 0, sizeof(*jws));
}

void
enroll_jws_free(enroll_jws *jws)
{
    if (jws == NULL) {
        return;
    }
    ztca_free(jws->payload);
    enroll_jws_init(jws);
}

ztca_rc
enroll_jws_verify(enroll_jws *out, enroll_failure *f, const enroll_jwks *jwks, unsigned algs,
                  const char *token, size_t token_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    enroll_jws_parts parts;
    uint8_t *hdr_raw = NULL, *payload = NULL, *sig = NULL, *der_sig = NULL;
    size_t hdr_len = 0, payload_len = 0, sig_len = 0, der_len = 0;
    json_t *hdr = NULL;
    const enroll_jwk *key = NULL;
    enroll_alg alg = ENROLL_ALG_RS256;
    uint8_t hash[CA_HASH_MAX];
    uint8_t input_hash[32];
    bool present = false;

    enroll_failure_init(f);
    ZTCA_REQUIRE(jwks != NULL, ZTCA_ERR_INTERNAL, "JWS: no keys to verify with");
    if (token_len > ENROLL_TOKEN_MAX) {
        rc = ENROLL_REFUSE(f, ENROLL_REASON_TOKEN_TOO_LARGE, NULL, "JWS: token larger than 16 KiB");
        goto out;
    }
    if (!enroll_jws_split(&parts, token, token_len) || parts.header_len == 0
        || parts.payload_len == 0) {
        rc = ENROLL_REFUSE(f, ENROLL_REASON_TOKEN_MALFORMED, NULL,
                           "RFC 7515 7.1: not three base64url parts");
        goto out;
    }
    /* RFC 7515 5.2 steps 2-4: every part decodes strictly, the header is a JSON object. */
    ZTCA_CHECK(enroll_jws_decoded(
        f, enroll_b64url_decode(&hdr_raw, &hdr_len, parts.header, parts.header_len)));
    ZTCA_CHECK(enroll_jws_decoded(
        f, enroll_b64url_decode(&payload, &payload_len, parts.payload, parts.payload_len)));
    ZTCA_CHECK(
        enroll_jws_decoded(f, enroll_b64url_decode(&sig, &sig_len, parts.sig, parts.sig_len)));
    ZTCA_CHECK(enroll_jws_decoded(f, enroll_json_load(&hdr, hdr_raw, hdr_len, ENROLL_TOKEN_MAX)));
    const char *alg_name = enroll_json_string(hdr, "alg", ENROLL_ALG_NAME_MAX, &present);
    if (alg_name == NULL) {
        rc = ENROLL_REFUSE(f, ENROLL_REASON_TOKEN_MALFORMED, NULL,
                           "RFC 7515 4.1.1: alg missing or not a string");
        goto out;
    }
    ZTCA_CHECK(enroll_jws_alg(&alg, f, alg_name, algs));
    ZTCA_CHECK(enroll_jws_header(&key, f, hdr, jwks, alg));

    /* RFC 7515 5.2 step 8: the signature over the JWS Signing Input, the ASCII bytes up to the
     * second dot, exactly as received. */
    const uint8_t *input = (const uint8_t *)token;
    size_t input_len = parts.header_len + 1 + parts.payload_len;
    ca_md md = (alg == ENROLL_ALG_RS384 || alg == ENROLL_ALG_ES384) ? CA_MD_SHA384 : CA_MD_SHA256;
    ZTCA_CHECK(ca_hash(md, input, input_len, hash, sizeof(hash)));
    ZTCA_CHECK(ca_hash(CA_MD_SHA256, input, input_len, input_hash, sizeof(input_hash)));
    ca_sig_scheme scheme;
    if (key->kind == CA_PK_RSA) {
        /* RFC 8017 8.2.2 step 1: the signature is exactly as long as the modulus. */
        if (sig_len != (key->bits + 7) / 8) {
            rc = ENROLL_REFUSE(f, ENROLL_REASON_SIGNATURE_MALFORMED, NULL,
                               "RFC 8017 8.2.2: RSA signature length is not the modulus length");
            goto out;
        }
        scheme = CA_SIG_RSA_PKCS1;
    } else {
        /* RFC 7518 3.4: R || S, 32 octets each for ES256, 48 for ES384; DER is refused. */
        if (sig_len != 2 * (key->bits / 8)) {
            rc = ENROLL_REFUSE(f, ENROLL_REASON_SIGNATURE_MALFORMED, NULL,
                               "RFC 7518 3.4: ECDSA signature must be raw R || S");
            goto out;
        }
        ZTCA_CHECK(enroll_ecdsa_raw_to_der(&der_sig, &der_len, sig, sig_len));
        scheme = CA_SIG_ECDSA;
    }
    rc = ca_verify(key->spki, key->spki_len, scheme, md, hash, ca_md_size(md),
                   der_sig != NULL ? der_sig : sig, der_sig != NULL ? der_len : sig_len);
    if (rc.err == ZTCA_ERR_CRYPTO) {
        rc = ENROLL_REFUSE(f, ENROLL_REASON_SIGNATURE_INVALID, NULL,
                           "RFC 7515 5.2 step 8: signature does not verify");
        goto out;
    }
    if (rc.err == ZTCA_ERR_BAD_INPUT) {
        rc.err = ZTCA_ERR_INTERNAL; /* keys are checked at load: this one should parse */
    }
    ZTCA_CHECK(rc);

    enroll_jws_init(out);
    out->alg = alg;
    if (key->has_kid) {
        memcpy(out->kid, key->kid, strlen(key->kid) + 1);
    }
    out->payload = payload;
    out->payload_len = payload_len;
    payload = NULL;
    memcpy(out->input_hash, input_hash, sizeof(input_hash));
out:
    json_decref(hdr);
    ztca_free(hdr_raw);
    ztca_free(payload);
    ztca_free(sig);
    ztca_free(der_sig);
    return rc;
}

ztca_rc
enroll_jwt_peek_issuer(char *out, size_t out_size, const char *token, size_t token_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    enroll_jws_parts parts;
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    json_t *claims = NULL;
    bool present = false;
    ZTCA_ENSURE(token_len <= ENROLL_TOKEN_MAX && enroll_jws_split(&parts, token, token_len),
                ZTCA_ERR_BAD_INPUT, "RFC 7515 7.1: not a compact JWS");
    ZTCA_CHECK(enroll_b64url_decode(&payload, &payload_len, parts.payload, parts.payload_len));
    ZTCA_CHECK(enroll_json_load(&claims, payload, payload_len, ENROLL_TOKEN_MAX));
    const char *iss = enroll_json_string(claims, "iss", ENROLL_URL_MAX, &present);
    ZTCA_REQUIRE(iss != NULL && strlen(iss) < out_size, ZTCA_ERR_BAD_INPUT,
                 "RFC 7519 4.1.1: iss missing, not a string or too long");
    memcpy(out, iss, strlen(iss) + 1);
out:
    json_decref(claims);
    ztca_free(payload);
    return rc;
}
