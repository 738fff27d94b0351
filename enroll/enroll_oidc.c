/* enroll_oidc.c: an OIDC ID token (OpenID Connect Core 1.0 2, 3.1.3.7; RFC 7519 4.1) checked
 * against a provisioner: signature, issuer, audience, times, subject, required claims, the SAN
 * template, and the replay key the caller remembers. */
#include <stdio.h>
#include <string.h>

#include "enroll/internal.h"

void
enroll_verdict_init(enroll_verdict *v)
{
    memset(v, 0, sizeof(*v));
}

void
enroll_verdict_free(enroll_verdict *v)
{
    if (v == NULL) {
        return;
    }
    free(v->claims_json); /* json_dumps: jansson's allocator */
    enroll_verdict_init(v);
}

/* The claims that must be present, with the type they must have. */
static ztca_rc
enroll_claim_issuer(enroll_failure *f, const json_t *claims, const enroll_provisioner *p)
{
    const json_t *v = json_object_get(claims, "iss");
    if (v == NULL) {
        return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_MISSING, "iss", "OIDC Core 2: iss missing");
    }
    if (!json_is_string(v)) {
        return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, "iss", "RFC 7519 4.1.1: iss type");
    }
    /* OIDC Core 3.1.3.7 step 2: "MUST exactly match": no normalization, no trailing-slash
     * tolerance. */
    if (strcmp(json_string_value(v), p->issuer) != 0) {
        return ENROLL_REFUSE(f, ENROLL_REASON_ISSUER_MISMATCH, "iss",
                             "OIDC Core 3.1.3.7: iss is not the provisioner's issuer");
    }
    return ZTCA_RC_OK;
}

static ztca_rc
enroll_claim_audience(enroll_failure *f, const json_t *claims, const enroll_provisioner *p)
{
    const json_t *v = json_object_get(claims, "aud");
    bool found = false;
    if (v == NULL) {
        return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_MISSING, "aud", "OIDC Core 2: aud missing");
    }
    if (json_is_string(v)) {
        found = strcmp(json_string_value(v), p->audience) == 0;
    } else if (json_is_array(v) && json_array_size(v) >= 1
               && json_array_size(v) <= ENROLL_MAX_AUD) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *a = json_array_get(v, i);
            if (!json_is_string(a)) {
                return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, "aud",
                                     "RFC 7519 4.1.3: aud array must hold strings");
            }
            found |= strcmp(json_string_value(a), p->audience) == 0;
        }
    } else {
        return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, "aud",
                             "RFC 7519 4.1.3: aud must be a string or an array of 1-16 strings");
    }
    if (!found) {
        return ENROLL_REFUSE(f, ENROLL_REASON_AUDIENCE_MISMATCH, "aud",
                             "RFC 7519 4.1.3: the provisioner's audience is not in aud");
    }
    return ZTCA_RC_OK;
}

/* exp, nbf, iat (RFC 7519 4.1.4-4.1.6) with the provisioner's skew. */
typedef struct enroll_times {
    ztca_time exp;
    ztca_time nbf;
    ztca_time iat;
    bool has_nbf;
    bool has_iat;
} enroll_times;

static ztca_rc
enroll_claim_times(enroll_times *t, enroll_failure *f, const json_t *claims, int64_t skew,
                   ztca_time now)
{
    const json_t *v = json_object_get(claims, "exp");
    memset(t, 0, sizeof(*t));
    if (v == NULL) {
        return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_MISSING, "exp", "OIDC Core 2: exp missing");
    }
    if (!enroll_json_time(v, false, &t->exp)) {
        return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, "exp",
                             "RFC 7519 4.1.4: exp is not a NumericDate");
    }
    /* "the current date/time MUST be before the expiration date/time", with the leeway. */
    if (now >= t->exp + skew) {
        return ENROLL_REFUSE(f, ENROLL_REASON_EXPIRED, "exp", "RFC 7519 4.1.4: token expired");
    }
    /* The caller's replay cache keeps each key until exp: bounded, so it cannot be filled with
     * entries that never leave. */
    if (t->exp - now > ENROLL_TOKEN_MAX_LIFETIME + skew) {
        return ENROLL_REFUSE(f, ENROLL_REASON_TOKEN_LIFETIME, "exp",
                             "token valid for more than 24 hours");
    }
    v = json_object_get(claims, "nbf");
    if (v != NULL) {
        if (!enroll_json_time(v, true, &t->nbf)) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, "nbf",
                                 "RFC 7519 4.1.5: nbf is not a NumericDate");
        }
        if (t->nbf > now + skew) {
            return ENROLL_REFUSE(f, ENROLL_REASON_NOT_YET_VALID, "nbf",
                                 "RFC 7519 4.1.5: token not yet valid");
        }
        t->has_nbf = true;
    }
    v = json_object_get(claims, "iat");
    if (v != NULL) {
        if (!enroll_json_time(v, true, &t->iat)) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, "iat",
                                 "RFC 7519 4.1.6: iat is not a NumericDate");
        }
        if (t->iat > now + skew) {
            return ENROLL_REFUSE(f, ENROLL_REASON_IAT_FUTURE, "iat",
                                 "RFC 7519 4.1.6: token issued in the future");
        }
        if (now - t->iat > ENROLL_TOKEN_MAX_AGE + skew) {
            return ENROLL_REFUSE(f, ENROLL_REASON_IAT_TOO_OLD, "iat",
                                 "OIDC Core 3.1.3.7 step 10: token issued too long ago");
        }
        t->has_iat = true;
    }
    return ZTCA_RC_OK;
}

/* A string claim that must be present (sub) or may be (jti); NULL when absent and optional. */
static ztca_rc
enroll_claim_text(const char **out, enroll_failure *f, const json_t *claims, const char *name,
                  size_t max_len, bool required)
{
    bool present = false;
    const char *s = enroll_json_string(claims, name, max_len, &present);
    *out = NULL;
    if (!present) {
        if (required) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_MISSING, name,
                                 "OIDC Core 2: a required claim is missing");
        }
        return ZTCA_RC_OK;
    }
    if (s == NULL) {
        return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_INVALID, name,
                             "claim must be a string of printable characters, bounded");
    }
    *out = s;
    return ZTCA_RC_OK;
}

/* The provisioner's --require CLAIM=VALUE: exact string equality. */
static ztca_rc
enroll_claim_required(enroll_failure *f, const json_t *claims, const enroll_provisioner *p,
                      json_t *used)
{
    for (size_t i = 0; i < p->num_require; i++) {
        const enroll_require *r = &p->require[i];
        const json_t *v = json_object_get(claims, r->claim);
        if (v == NULL) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_MISSING, r->claim,
                                 "a claim the provisioner requires is missing");
        }
        if (!json_is_string(v) || strcmp(json_string_value(v), r->value) != 0) {
            return ENROLL_REFUSE(f, ENROLL_REASON_CLAIM_MISMATCH, r->claim,
                                 "a claim the provisioner requires has another value");
        }
        json_t *js = json_string(r->value);
        ZTCA_ENSURE(js != NULL && json_object_set_new(used, r->claim, js) == 0, ZTCA_ERR_NOMEM,
                    "claims: out of memory");
    }
    return ZTCA_RC_OK;
}

/* The replay key: with a jti, hex SHA-256("ztca-oidc-jti" NUL iss NUL jti) (a jti is unique per
 * issuer only); without, hex SHA-256 of the JWS Signing Input. Never of the whole token: ECDSA
 * signatures are malleable ((r, s) and (r, n - s) both verify), so the same signed claims can
 * come with other signature bytes. The two preimages cannot collide: a signing input holds no
 * NUL. */
static ztca_rc
enroll_replay_key(enroll_verdict *v, const enroll_jws *jws, const char *iss, const char *jti)
{
    static const char prefix[] = "ztca-oidc-jti";
    uint8_t buf[sizeof(prefix) + ENROLL_URL_MAX + 1 + ENROLL_JTI_MAX + 1];
    uint8_t h[32];
    size_t il = strlen(iss), jl = jti != NULL ? strlen(jti) : 0;
    if (jti == NULL) {
        memcpy(h, jws->input_hash, sizeof(h));
    } else {
        ZTCA_ENSURE(il <= ENROLL_URL_MAX && jl <= ENROLL_JTI_MAX, ZTCA_ERR_INTERNAL,
                    "replay key: iss or jti too long");
        memcpy(buf, prefix, sizeof(prefix)); /* with its NUL */
        memcpy(buf + sizeof(prefix), iss, il + 1);
        memcpy(buf + sizeof(prefix) + il + 1, jti, jl + 1); /* the NUL is not hashed */
        ZTCA_GUARD(ca_hash(CA_MD_SHA256, buf, sizeof(prefix) + il + 1 + jl, h, sizeof(h)));
    }
    ZTCA_GUARD(ztca_hex_encode(v->replay_key, sizeof(v->replay_key), h, sizeof(h)));
    v->replay_from_jti = jti != NULL;
    return ZTCA_RC_OK;
}

static void
enroll_used_set(json_t *used, const char *key, json_t *v, bool *failed)
{
    if (v == NULL || json_object_set_new(used, key, v) != 0) {
        *failed = true;
    }
}

ztca_rc
enroll_oidc_check_claims(enroll_verdict *out, enroll_failure *f, const enroll_provisioner *p,
                         const char *trust_domain, const enroll_jws *jws, ztca_time now)
{
    ztca_rc rc = ZTCA_RC_OK;
    enroll_verdict v;
    enroll_times t;
    json_t *claims = NULL, *used = NULL;
    const char *sub = NULL, *jti = NULL;
    bool failed = false;

    enroll_verdict_init(&v);
    /* RFC 7519 7.2 step 10: the claims are a JSON object; duplicates are refused (4). */
    rc = enroll_json_load(&claims, jws->payload, jws->payload_len, ENROLL_TOKEN_MAX);
    if (rc.err == ZTCA_ERR_BAD_INPUT) {
        enroll_fail_set(f, ENROLL_REASON_TOKEN_MALFORMED, NULL);
        rc.err = ZTCA_ERR_DENIED;
    }
    ZTCA_CHECK(rc);
    used = json_object();
    ZTCA_REQUIRE(used != NULL, ZTCA_ERR_NOMEM, "claims: out of memory");

    ZTCA_CHECK(enroll_claim_issuer(f, claims, p));
    ZTCA_CHECK(enroll_claim_audience(f, claims, p));
    ZTCA_CHECK(enroll_claim_times(&t, f, claims, p->clock_skew, now));
    ZTCA_CHECK(enroll_claim_text(&sub, f, claims, "sub", ENROLL_SUB_MAX, true));
    ZTCA_CHECK(enroll_claim_text(&jti, f, claims, "jti", ENROLL_JTI_MAX, false));
    ZTCA_CHECK(enroll_claim_required(f, claims, p, used));
    ZTCA_CHECK(enroll_template_render(v.uri, sizeof(v.uri), v.workload, sizeof(v.workload), f,
                                      p->san, trust_domain, claims, used));

    ZTCA_CHECK(enroll_replay_key(&v, jws, p->issuer, jti));
    enroll_used_set(used, "iss", json_string(p->issuer), &failed);
    enroll_used_set(used, "sub", json_string(sub), &failed);
    enroll_used_set(used, "aud", json_string(p->audience), &failed);
    enroll_used_set(used, "exp", json_integer(t.exp), &failed);
    if (t.has_nbf) {
        enroll_used_set(used, "nbf", json_integer(t.nbf), &failed);
    }
    if (t.has_iat) {
        enroll_used_set(used, "iat", json_integer(t.iat), &failed);
    }
    if (jti != NULL) {
        enroll_used_set(used, "jti", json_string(jti), &failed);
    }
    ZTCA_REQUIRE(!failed, ZTCA_ERR_NOMEM, "claims: out of memory");
    v.claims_json = json_dumps(used, JSON_COMPACT | JSON_SORT_KEYS);
    ZTCA_REQUIRE(v.claims_json != NULL, ZTCA_ERR_NOMEM, "claims: out of memory");

    snprintf(v.provisioner, sizeof(v.provisioner), "%s", p->name);
    snprintf(v.issuer, sizeof(v.issuer), "%s", p->issuer);
    snprintf(v.subject, sizeof(v.subject), "%s", sub);
    snprintf(v.kid, sizeof(v.kid), "%s", jws->kid);
    v.alg = jws->alg;
    v.expires = t.exp;
    v.replay_until = t.exp + p->clock_skew;
    v.max_ttl = p->max_ttl;
    *out = v;
    enroll_verdict_init(&v); /* moved */
out:
    enroll_verdict_free(&v);
    json_decref(used);
    json_decref(claims);
    return rc;
}

ztca_rc
enroll_oidc_verify(enroll_verdict *out, enroll_failure *f, const enroll_provisioner *p,
                   const enroll_jwks *jwks, const char *trust_domain, const char *token,
                   size_t token_len, ztca_time now)
{
    ztca_rc rc = ZTCA_RC_OK;
    enroll_jws jws;

    enroll_failure_init(f);
    enroll_jws_init(&jws);
    ZTCA_REQUIRE(p != NULL && trust_domain != NULL, ZTCA_ERR_INTERNAL, "OIDC: missing argument");
    ZTCA_REQUIRE(now >= 0 && now <= ZTCA_TIME_MAX, ZTCA_ERR_INTERNAL, "OIDC: time out of range");
    if (jwks == NULL) {
        jwks = p->jwks;
    }
    ZTCA_REQUIRE(jwks != NULL, ZTCA_ERR_INTERNAL, "OIDC: provisioner has no keys loaded");
    if (!ZTCA_IS_OK(enroll_provisioner_check(p))) {
        rc = ZTCA_NOTE(ZTCA_ERR_INTERNAL, "OIDC: invalid provisioner", 0);
        goto out;
    }
    ZTCA_CHECK(enroll_jws_verify(&jws, f, jwks, p->algs, token, token_len));
    ZTCA_CHECK(enroll_oidc_check_claims(out, f, p, trust_domain, &jws, now));
out:
    enroll_jws_free(&jws);
    return rc;
}
