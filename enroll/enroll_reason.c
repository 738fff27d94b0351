/* enroll_reason.c: the stable names of refusal reasons and algorithms. */
#include <stdio.h>
#include <string.h>

#include "enroll/internal.h"

/* Indexed by enroll_reason: the names become problem types in api/, so never change one. */
static const char *const enroll_reason_names[ENROLL_REASON_COUNT] = {
    [ENROLL_REASON_NONE] = "none",
    [ENROLL_REASON_TOKEN_TOO_LARGE] = "token_too_large",
    [ENROLL_REASON_TOKEN_MALFORMED] = "token_malformed",
    [ENROLL_REASON_ALG_NONE] = "alg_none",
    [ENROLL_REASON_ALG_HMAC] = "alg_hmac",
    [ENROLL_REASON_ALG_NOT_ALLOWED] = "alg_not_allowed",
    [ENROLL_REASON_TYP_INVALID] = "typ_invalid",
    [ENROLL_REASON_CRIT_UNSUPPORTED] = "crit_unsupported",
    [ENROLL_REASON_KID_MISSING] = "kid_missing",
    [ENROLL_REASON_KID_UNKNOWN] = "kid_unknown",
    [ENROLL_REASON_KEY_MISMATCH] = "key_mismatch",
    [ENROLL_REASON_SIGNATURE_MALFORMED] = "signature_malformed",
    [ENROLL_REASON_SIGNATURE_INVALID] = "signature_invalid",
    [ENROLL_REASON_CLAIM_INVALID] = "claim_invalid",
    [ENROLL_REASON_ISSUER_MISMATCH] = "issuer_mismatch",
    [ENROLL_REASON_AUDIENCE_MISMATCH] = "audience_mismatch",
    [ENROLL_REASON_EXPIRED] = "expired",
    [ENROLL_REASON_NOT_YET_VALID] = "not_yet_valid",
    [ENROLL_REASON_IAT_FUTURE] = "iat_future",
    [ENROLL_REASON_IAT_TOO_OLD] = "iat_too_old",
    [ENROLL_REASON_TOKEN_LIFETIME] = "token_lifetime",
    [ENROLL_REASON_CLAIM_MISSING] = "claim_missing",
    [ENROLL_REASON_CLAIM_MISMATCH] = "claim_mismatch",
    [ENROLL_REASON_CLAIM_CHARSET] = "claim_charset",
    [ENROLL_REASON_TEMPLATE_INVALID] = "template_invalid",
    [ENROLL_REASON_SAN_INVALID] = "san_invalid",
    [ENROLL_REASON_REPLAYED] = "replayed",
};

const char *
enroll_reason_name(enroll_reason r)
{
    if ((unsigned)r >= ENROLL_REASON_COUNT || enroll_reason_names[r] == NULL) {
        return "unknown";
    }
    return enroll_reason_names[r];
}

void
enroll_failure_init(enroll_failure *f)
{
    f->reason = ENROLL_REASON_NONE;
    f->claim[0] = '\0';
}

void
enroll_fail_set(enroll_failure *f, enroll_reason r, const char *claim)
{
    f->reason = r;
    f->claim[0] = '\0';
    if (claim != NULL) {
        snprintf(f->claim, sizeof(f->claim), "%s", claim);
    }
}

static const struct {
    enroll_alg alg;
    const char *name;
} enroll_algs[] = {
    { ENROLL_ALG_RS256, "RS256" },
    { ENROLL_ALG_RS384, "RS384" },
    { ENROLL_ALG_ES256, "ES256" },
    { ENROLL_ALG_ES384, "ES384" },
};

const char *
enroll_alg_name(enroll_alg alg)
{
    for (size_t i = 0; i < sizeof(enroll_algs) / sizeof(enroll_algs[0]); i++) {
        if (enroll_algs[i].alg == alg) {
            return enroll_algs[i].name;
        }
    }
    return "";
}

ztca_rc
enroll_alg_parse(enroll_alg *out, const char *s)
{
    for (size_t i = 0; i < sizeof(enroll_algs) / sizeof(enroll_algs[0]); i++) {
        if (strcmp(s, enroll_algs[i].name) == 0) {
            *out = enroll_algs[i].alg;
            return ZTCA_RC_OK;
        }
    }
    ZTCA_BAIL(ZTCA_ERR_UNSUPPORTED, "JWS alg not supported (RS256, RS384, ES256, ES384)");
}
