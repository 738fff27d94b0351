/* trust_policy.c: the "trust" member of ztca.conf (docs/trust.md). Parsed strictly, like the
 * provisioner config: a misspelt member must not silently leave a threshold at its default. */
#include <string.h>

#include <jansson.h>

#include "core/der.h"
#include "trust/internal.h"

void
trust_policy_defaults(trust_policy *p)
{
    memset(p, 0, sizeof(*p));
    /* docs/trust.md "Defaults": a fresh agent sits at 75 (no TPM) to 100 (TPM, measured boot);
     * one severe signal (-80) from one source crosses the hold threshold from any of them; a
     * small one (-5) lowers the score and holds nothing. */
    p->hold_below = 40;
    p->deny_below = 50;
    p->positive_cap = 20;
    p->tiers[0] = (trust_tier){ 80, 0 };
    p->tiers[1] = (trust_tier){ 60, 4 * 3600LL };
    p->tiers[2] = (trust_tier){ 0, 3600 };
    p->num_tiers = 3;
    p->attestation_impact[TRUST_ATTEST_NONE] = -25;
    p->attestation_impact[TRUST_ATTEST_SOFTWARE] = -15;
    p->attestation_impact[TRUST_ATTEST_TPM] = -5;
    p->attestation_impact[TRUST_ATTEST_TPM_MEASURED_BOOT] = 0;
    p->quote_stale_after = 24 * 3600LL;
    p->quote_stale_impact = -20;
    p->pcr_changed_impact = -30;
    p->pcr_policy_impact = -70;
    p->counters_backwards_impact = -50;
    p->renewal_failed_impact = -10;
    p->renewal_failed_ttl = 24 * 3600LL;
    p->score_extension = false;
    p->sweep_interval = 5;
}

bool
trust_name_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > TRUST_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
            return false;
        }
    }
    return true;
}

int
trust_policy_weight(const trust_policy *p, const char *source, const char *kind)
{
    size_t sn = strlen(source);
    int by_source = -1;
    for (size_t i = 0; i < p->num_weights; i++) {
        const char *k = p->weights[i].key;
        if (strncmp(k, source, sn) != 0) {
            continue;
        }
        if (k[sn] == '/' && strcmp(k + sn + 1, kind) == 0) {
            return p->weights[i].percent; /* "source/kind" wins over "source" */
        }
        if (k[sn] == '\0') {
            by_source = p->weights[i].percent;
        }
    }
    return by_source >= 0 ? by_source : 100;
}

/* ---- parsing ------------------------------------------------------------------------------ */

static ztca_rc
trust_policy_int(json_t *obj, const char *key, int min, int max, int *out, const char *what)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max,
                ZTCA_ERR_BAD_INPUT, what);
    *out = (int)json_integer_value(v);
    return ZTCA_RC_OK;
}

/* A duration member: "1h30m" or whole seconds, within [min, max]. */
static ztca_rc
trust_policy_duration(json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out,
                      const char *what)
{
    json_t *v = json_object_get(obj, key);
    int64_t d = 0;
    if (v == NULL) {
        return ZTCA_RC_OK;
    }
    if (json_is_integer(v)) {
        d = json_integer_value(v);
    } else {
        ZTCA_ENSURE(json_is_string(v) && ZTCA_IS_OK(ztca_duration_parse(&d, json_string_value(v))),
                    ZTCA_ERR_BAD_INPUT, what);
    }
    ZTCA_ENSURE(d >= min && d <= max, ZTCA_ERR_BAD_INPUT, what);
    *out = d;
    return ZTCA_RC_OK;
}

/* Every member of `obj` must be one of `known` (NULL-terminated). */
static ztca_rc
trust_policy_known(json_t *obj, const char *const *known, const char *what)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool found = false;
        for (size_t i = 0; known[i] != NULL && !found; i++) {
            found = strcmp(key, known[i]) == 0;
        }
        ZTCA_ENSURE(found, ZTCA_ERR_BAD_INPUT, what);
    }
    return ZTCA_RC_OK;
}

static ztca_rc
trust_policy_tiers(trust_policy *p, json_t *arr)
{
    static const char *const known[] = { "min_score", "max_ttl", NULL };
    ZTCA_ENSURE(json_is_array(arr) && json_array_size(arr) >= 1
                    && json_array_size(arr) <= TRUST_TIERS_MAX,
                ZTCA_ERR_BAD_INPUT, "config: trust.tiers must be an array of 1-8 tiers");
    size_t n = json_array_size(arr);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        ZTCA_ENSURE(json_is_object(t), ZTCA_ERR_BAD_INPUT,
                    "config: trust.tiers[] must be objects {\"min_score\", \"max_ttl\"}");
        ZTCA_GUARD(trust_policy_known(t, known, "config: trust.tiers[]: unknown member"));
        ZTCA_ENSURE(json_object_get(t, "min_score") != NULL, ZTCA_ERR_BAD_INPUT,
                    "config: trust.tiers[].min_score is required");
        trust_tier tier = { 0, 0 };
        ZTCA_GUARD(trust_policy_int(t, "min_score", TRUST_SCORE_MIN, TRUST_SCORE_MAX,
                                    &tier.min_score,
                                    "config: trust.tiers[].min_score must be 0-100"));
        json_t *ttl = json_object_get(t, "max_ttl");
        if (!(json_is_integer(ttl) && json_integer_value(ttl) == 0)) {
            ZTCA_GUARD(trust_policy_duration(t, "max_ttl", 60, 3650 * 86400LL, &tier.max_ttl,
                                             "config: trust.tiers[].max_ttl must be 0 (the "
                                             "profile's maximum) or 1m-10y"));
        }
        ZTCA_ENSURE(i == 0 || tier.min_score < p->tiers[i - 1].min_score, ZTCA_ERR_BAD_INPUT,
                    "config: trust.tiers must be ordered by min_score, highest first");
        ZTCA_ENSURE(i == 0 || tier.max_ttl != 0, ZTCA_ERR_BAD_INPUT,
                    "config: trust.tiers: only the first tier may leave max_ttl to the profile");
        ZTCA_ENSURE(
            i == 0 || p->tiers[i - 1].max_ttl == 0 || tier.max_ttl <= p->tiers[i - 1].max_ttl,
            ZTCA_ERR_BAD_INPUT, "config: trust.tiers: a lower tier may not allow a longer max_ttl");
        p->tiers[i] = tier;
    }
    ZTCA_ENSURE(p->tiers[n - 1].min_score == 0, ZTCA_ERR_BAD_INPUT,
                "config: trust.tiers: the last tier must have min_score 0");
    p->num_tiers = n;
    return ZTCA_RC_OK;
}

static ztca_rc
trust_policy_weights(trust_policy *p, json_t *obj)
{
    const char *key;
    json_t *v;
    ZTCA_ENSURE(json_is_object(obj) && json_object_size(obj) <= TRUST_WEIGHTS_MAX,
                ZTCA_ERR_BAD_INPUT,
                "config: trust.weights must be an object of at most 64 \"source[/kind]\": percent");
    p->num_weights = 0;
    json_object_foreach(obj, key, v)
    {
        char buf[sizeof(p->weights[0].key)];
        size_t n = strlen(key);
        ZTCA_ENSURE(n < sizeof(buf), ZTCA_ERR_BAD_INPUT,
                    "config: trust.weights: key must be \"source\" or \"source/kind\"");
        memcpy(buf, key, n + 1);
        char *slash = strchr(buf, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
        ZTCA_ENSURE(trust_name_is_valid(buf) && (slash == NULL || trust_name_is_valid(slash + 1)),
                    ZTCA_ERR_BAD_INPUT,
                    "config: trust.weights: key must be \"source\" or \"source/kind\"");
        ZTCA_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0
                        && json_integer_value(v) <= TRUST_WEIGHT_MAX,
                    ZTCA_ERR_BAD_INPUT, "config: trust.weights: a weight is a percent, 0-1000");
        trust_weight *w = &p->weights[p->num_weights++];
        memcpy(w->key, key, n + 1);
        w->percent = (int)json_integer_value(v);
    }
    return ZTCA_RC_OK;
}

static ztca_rc
trust_policy_attestation(trust_policy *p, json_t *obj)
{
    static const char *const known[] = { "none", "software", "tpm", "tpm_measured_boot", NULL };
    ZTCA_ENSURE(json_is_object(obj), ZTCA_ERR_BAD_INPUT,
                "config: trust.attestation must be an object of impacts by level");
    ZTCA_GUARD(trust_policy_known(obj, known, "config: trust.attestation: unknown level"));
    for (size_t i = 0; known[i] != NULL; i++) {
        ZTCA_GUARD(trust_policy_int(obj, known[i], TRUST_IMPACT_MIN, 0, &p->attestation_impact[i],
                                    "config: trust.attestation: an impact is -100..0"));
    }
    return ZTCA_RC_OK;
}

static ztca_rc
trust_policy_object(trust_policy *p, json_t *t)
{
    static const char *const known[] = {
        "hold_below",
        "deny_below",
        "positive_cap",
        "tiers",
        "weights",
        "attestation",
        "quote_stale_after",
        "quote_stale_impact",
        "pcr_changed_impact",
        "pcr_policy_impact",
        "counters_backwards_impact",
        "renewal_failed_impact",
        "renewal_failed_ttl",
        "score_extension",
        "score_extension_oid",
        "sweep_interval",
        NULL,
    };
    ZTCA_ENSURE(json_is_object(t), ZTCA_ERR_BAD_INPUT, "config: trust must be an object");
    ZTCA_GUARD(trust_policy_known(t, known, "config: trust: unknown member (docs/trust.md)"));
    ZTCA_GUARD(trust_policy_int(t, "hold_below", 0, 101, &p->hold_below,
                                "config: trust.hold_below must be 0-101"));
    ZTCA_GUARD(trust_policy_int(t, "deny_below", 0, 101, &p->deny_below,
                                "config: trust.deny_below must be 0-101"));
    ZTCA_ENSURE(p->deny_below >= p->hold_below, ZTCA_ERR_BAD_INPUT,
                "config: trust.deny_below must be at least trust.hold_below (a held subject "
                "may not get new certificates)");
    ZTCA_GUARD(trust_policy_int(t, "positive_cap", 0, 100, &p->positive_cap,
                                "config: trust.positive_cap must be 0-100"));
    json_t *v = json_object_get(t, "tiers");
    if (v != NULL) {
        ZTCA_GUARD(trust_policy_tiers(p, v));
    }
    v = json_object_get(t, "weights");
    if (v != NULL) {
        ZTCA_GUARD(trust_policy_weights(p, v));
    }
    v = json_object_get(t, "attestation");
    if (v != NULL) {
        ZTCA_GUARD(trust_policy_attestation(p, v));
    }
    json_t *stale = json_object_get(t, "quote_stale_after");
    if (json_is_integer(stale) && json_integer_value(stale) == 0) {
        p->quote_stale_after = 0;
    } else {
        ZTCA_GUARD(trust_policy_duration(t, "quote_stale_after", 60, 3650 * 86400LL,
                                         &p->quote_stale_after,
                                         "config: trust.quote_stale_after must be 0 or 1m-10y"));
    }
    ZTCA_GUARD(trust_policy_int(t, "quote_stale_impact", TRUST_IMPACT_MIN, 0,
                                &p->quote_stale_impact,
                                "config: trust.quote_stale_impact must be -100..0"));
    ZTCA_GUARD(trust_policy_int(t, "pcr_changed_impact", TRUST_IMPACT_MIN, 0,
                                &p->pcr_changed_impact,
                                "config: trust.pcr_changed_impact must be -100..0"));
    ZTCA_GUARD(trust_policy_int(t, "pcr_policy_impact", TRUST_IMPACT_MIN, 0, &p->pcr_policy_impact,
                                "config: trust.pcr_policy_impact must be -100..0"));
    ZTCA_GUARD(trust_policy_int(t, "counters_backwards_impact", TRUST_IMPACT_MIN, 0,
                                &p->counters_backwards_impact,
                                "config: trust.counters_backwards_impact must be -100..0"));
    ZTCA_GUARD(trust_policy_int(t, "renewal_failed_impact", TRUST_IMPACT_MIN, 0,
                                &p->renewal_failed_impact,
                                "config: trust.renewal_failed_impact must be -100..0"));
    ZTCA_GUARD(trust_policy_duration(t, "renewal_failed_ttl", 60, 3650 * 86400LL,
                                     &p->renewal_failed_ttl,
                                     "config: trust.renewal_failed_ttl must be 1m-10y"));
    v = json_object_get(t, "score_extension");
    ZTCA_ENSURE(v == NULL || json_is_boolean(v), ZTCA_ERR_BAD_INPUT,
                "config: trust.score_extension must be true or false");
    if (v != NULL) {
        p->score_extension = json_is_true(v);
    }
    v = json_object_get(t, "score_extension_oid");
    if (v != NULL) {
        ZTCA_ENSURE(json_is_string(v)
                        && ZTCA_IS_OK(der_oid_from_dotted(p->score_oid, sizeof(p->score_oid),
                                                          &p->score_oid_len, json_string_value(v))),
                    ZTCA_ERR_BAD_INPUT,
                    "config: trust.score_extension_oid must be a dotted OID such as "
                    "\"1.3.6.1.4.1.32473.2\"");
    }
    ZTCA_GUARD(trust_policy_duration(t, "sweep_interval", 1, 3600, &p->sweep_interval,
                                     "config: trust.sweep_interval must be 1s-1h"));
    return ZTCA_RC_OK;
}

ztca_rc
trust_policy_parse(trust_policy *out, const uint8_t *json, size_t json_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_error_t err;
    json_t *root = NULL;
    trust_policy p;
    trust_policy_defaults(&p);
    /* ztca.conf as a whole is bounded by ca_config_parse; the policy is part of it. */
    ZTCA_REQUIRE(json_len <= TRUST_POLICY_MAX, ZTCA_ERR_BAD_INPUT, "config: file too large");
    root = json_loadb((const char *)json, json_len, JSON_REJECT_DUPLICATES, &err);
    ZTCA_REQUIRE(json_is_object(root), ZTCA_ERR_BAD_INPUT, "config: must be a JSON object");
    json_t *t = json_object_get(root, "trust");
    if (t != NULL) {
        ZTCA_CHECK(trust_policy_object(&p, t));
    }
    *out = p;
out:
    json_decref(root);
    return rc;
}
