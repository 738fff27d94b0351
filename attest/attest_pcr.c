/* attest_pcr.c: judging measured boot. The "attestation" member of ztca.conf names, per device
 * class, either allowed sets of PCR values (allowlist mode) or baseline mode, where the first
 * verified quote of a device is recorded and any later change is reported. The result is a
 * verdict with per-PCR findings, for the trust engine to weigh; it never throws the quote away.
 *
 *   "attestation": {
 *     "ek_chain_profile": "default" | "sha1-vendor",
 *     "pcr_policies": {
 *       "<class>": { "mode": "allowlist", "bank": "sha256", "pcrs": [0, ..., 7],
 *                    "allowed": [ { "name": "<set>", "pcrs": { "0": "<hex>", ... } }, ... ] },
 *       "<class>": { "mode": "baseline", "bank": "sha256", "pcrs": [0, ..., 7] } } }
 *
 * An allowed set may pin a subset of the class's PCRs (say 0 and 7 only); PCRs it does not name
 * are not judged by it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/internal.h"

#define ATTEST_PCR_CLASSES_MAX 256
#define ATTEST_PCR_SETS_MAX    1024
#define ATTEST_PCR_CONFIG_MAX  ((size_t)1024 * 1024)

typedef enum attest_pcr_mode { ATTEST_PCR_ALLOWLIST, ATTEST_PCR_BASELINE } attest_pcr_mode;

typedef struct attest_pcr_set {
    char name[ATTEST_PCR_SET_NAME_MAX + 1];
    uint32_t mask; /* the PCRs this set pins */
    uint8_t values[ATTEST_PCR_MAX][ATTEST_DIGEST_MAX];
} attest_pcr_set;

typedef struct attest_pcr_class {
    char name[CA_NAME_MAX + 1];
    attest_pcr_mode mode;
    uint16_t hash_alg;
    uint32_t mask;
    attest_pcr_set *sets; /* owned */
    size_t num_sets;
} attest_pcr_class;

struct attest_pcr_policy {
    attest_pcr_class *classes; /* owned */
    size_t num_classes;
};

static const struct {
    const char *name;
    uint16_t alg;
} attest_banks[] = {
    { "sha1", TPM2_ALG_SHA1 },
    { "sha256", TPM2_ALG_SHA256 },
    { "sha384", TPM2_ALG_SHA384 },
    { "sha512", TPM2_ALG_SHA512 },
};

static bool
attest_bank_parse(uint16_t *out, const char *s)
{
    for (size_t i = 0; i < sizeof(attest_banks) / sizeof(attest_banks[0]); i++) {
        if (strcmp(s, attest_banks[i].name) == 0) {
            *out = attest_banks[i].alg;
            return true;
        }
    }
    return false;
}

static const char *
attest_bank_name(uint16_t alg)
{
    for (size_t i = 0; i < sizeof(attest_banks) / sizeof(attest_banks[0]); i++) {
        if (attest_banks[i].alg == alg) {
            return attest_banks[i].name;
        }
    }
    return NULL;
}

/* attest_pcr_index: "0".."23", decimal without leading zeros. */
static bool
attest_pcr_index(int *out, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 2 || (n == 2 && s[0] == '0') || s[0] < '0' || s[0] > '9'
        || (n == 2 && (s[1] < '0' || s[1] > '9'))) {
        return false;
    }
    int v = n == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
    if (v >= ATTEST_PCR_MAX) {
        return false;
    }
    *out = v;
    return true;
}

/* attest_pcr_values: {"<pcr>": "<hex digest>", ...} into values/mask; every PCR in `allowed`. */
static ztca_rc
attest_pcr_values(uint8_t (*values)[ATTEST_DIGEST_MAX], uint32_t *out_mask, attest_reason *why,
                  json_t *obj, uint16_t hash_alg, uint32_t allowed)
{
    const char *key;
    json_t *v;
    uint32_t mask = 0;
    size_t dlen = attest_hash_size(hash_alg);
    ATTEST_ENSURE(json_is_object(obj) && json_object_size(obj) > 0, why, ATTEST_R_POLICY_INVALID,
                  "PCR values must be a non-empty object {\"<pcr>\": \"<hex>\"}");
    json_object_foreach(obj, key, v)
    {
        int i;
        size_t n = 0;
        ATTEST_ENSURE(attest_pcr_index(&i, key) && (allowed & (1u << i)), why,
                      ATTEST_R_POLICY_INVALID, "PCR values: unknown PCR or not in \"pcrs\"");
        ATTEST_ENSURE(json_is_string(v)
                          && ZTCA_IS_OK(ztca_hex_decode(values[i], ATTEST_DIGEST_MAX, &n,
                                                        json_string_value(v)))
                          && n == dlen,
                      why, ATTEST_R_POLICY_INVALID,
                      "PCR values: hex of exactly the bank's digest size");
        mask |= 1u << i;
    }
    *out_mask = mask;
    return ZTCA_RC_OK;
}

static ztca_rc
attest_pcr_class_parse(attest_pcr_class *c, attest_reason *why, const char *name, json_t *obj)
{
    const char *key;
    json_t *v;
    ATTEST_ENSURE(ca_name_is_valid(name) && strlen(name) <= CA_NAME_MAX, why,
                  ATTEST_R_POLICY_INVALID, "pcr_policies: invalid device class name");
    memcpy(c->name, name, strlen(name) + 1);
    ATTEST_ENSURE(json_is_object(obj), why, ATTEST_R_POLICY_INVALID,
                  "pcr_policies: each class is an object");
    json_object_foreach(obj, key, v)
    {
        ATTEST_ENSURE(strcmp(key, "mode") == 0 || strcmp(key, "bank") == 0
                          || strcmp(key, "pcrs") == 0 || strcmp(key, "allowed") == 0,
                      why, ATTEST_R_POLICY_INVALID,
                      "pcr_policies: unknown member (mode, bank, pcrs, allowed)");
    }
    json_t *mode = json_object_get(obj, "mode");
    ATTEST_ENSURE(json_is_string(mode), why, ATTEST_R_POLICY_INVALID,
                  "pcr_policies: \"mode\" is required");
    if (strcmp(json_string_value(mode), "allowlist") == 0) {
        c->mode = ATTEST_PCR_ALLOWLIST;
    } else if (strcmp(json_string_value(mode), "baseline") == 0) {
        c->mode = ATTEST_PCR_BASELINE;
    } else {
        ATTEST_FAIL(why, ATTEST_R_POLICY_INVALID,
                    "pcr_policies: \"mode\" is \"allowlist\" or \"baseline\"");
    }
    json_t *bank = json_object_get(obj, "bank");
    c->hash_alg = TPM2_ALG_SHA256;
    ATTEST_ENSURE(
        bank == NULL
            || (json_is_string(bank) && attest_bank_parse(&c->hash_alg, json_string_value(bank))),
        why, ATTEST_R_POLICY_INVALID, "pcr_policies: \"bank\" is sha1, sha256, sha384 or sha512");
    json_t *pcrs = json_object_get(obj, "pcrs");
    if (pcrs == NULL) {
        c->mask = 0xff; /* PCRs 0-7: the firmware and boot loader (PC Client PFP 3.3.4) */
    } else {
        size_t i;
        json_t *p;
        ATTEST_ENSURE(json_is_array(pcrs) && json_array_size(pcrs) > 0, why,
                      ATTEST_R_POLICY_INVALID, "pcr_policies: \"pcrs\" is a non-empty array");
        json_array_foreach(pcrs, i, p)
        {
            json_int_t n = json_is_integer(p) ? json_integer_value(p) : -1;
            ATTEST_ENSURE(n >= 0 && n < ATTEST_PCR_MAX && !(c->mask & (1u << n)), why,
                          ATTEST_R_POLICY_INVALID,
                          "pcr_policies: \"pcrs\" holds distinct PCR numbers 0-23");
            c->mask |= 1u << n;
        }
    }
    json_t *allowed = json_object_get(obj, "allowed");
    if (c->mode == ATTEST_PCR_BASELINE) {
        ATTEST_ENSURE(allowed == NULL, why, ATTEST_R_POLICY_INVALID,
                      "pcr_policies: \"allowed\" is for allowlist mode only");
        return ZTCA_RC_OK;
    }
    ATTEST_ENSURE(json_is_array(allowed) && json_array_size(allowed) > 0
                      && json_array_size(allowed) <= ATTEST_PCR_SETS_MAX,
                  why, ATTEST_R_POLICY_INVALID,
                  "pcr_policies: allowlist mode needs a non-empty \"allowed\" array");
    c->sets = ztca_calloc(json_array_size(allowed), sizeof(*c->sets));
    ZTCA_ENSURE(c->sets != NULL, ZTCA_ERR_NOMEM, "pcr_policies: out of memory");
    size_t i;
    json_t *set;
    json_array_foreach(allowed, i, set)
    {
        attest_pcr_set *s = &c->sets[i];
        c->num_sets++;
        json_t *sname = json_object_get(set, "name");
        ATTEST_ENSURE(json_is_object(set) && json_object_size(set) == 2 && json_is_string(sname)
                          && json_string_length(sname) > 0
                          && json_string_length(sname) <= ATTEST_PCR_SET_NAME_MAX
                          && strlen(json_string_value(sname)) == json_string_length(sname),
                      why, ATTEST_R_POLICY_INVALID,
                      "pcr_policies: an allowed set is {\"name\": \"...\", \"pcrs\": {...}}");
        memcpy(s->name, json_string_value(sname), json_string_length(sname) + 1);
        ZTCA_GUARD(attest_pcr_values(s->values, &s->mask, why, json_object_get(set, "pcrs"),
                                     c->hash_alg, c->mask));
    }
    return ZTCA_RC_OK;
}

void
attest_pcr_policy_free(attest_pcr_policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->num_classes; i++) {
        free(p->classes[i].sets);
    }
    free(p->classes);
    free(p);
}

ztca_rc
attest_pcr_policy_parse(attest_pcr_policy **out, attest_reason *why, const uint8_t *json,
                        size_t json_len)
{
    ATTEST_BEGIN(why);
    ztca_rc rc = ZTCA_RC_OK;
    json_error_t err;
    json_t *root = NULL;
    attest_pcr_policy *p = ztca_calloc(1, sizeof(*p));
    ZTCA_REQUIRE(p != NULL, ZTCA_ERR_NOMEM, "pcr_policies: out of memory");
    ATTEST_REQUIRE(json != NULL && json_len <= ATTEST_PCR_CONFIG_MAX, why, ATTEST_R_POLICY_INVALID,
                   "config: missing or too large");
    root = json_loadb((const char *)json, json_len, JSON_REJECT_DUPLICATES, &err);
    ATTEST_REQUIRE(json_is_object(root), why, ATTEST_R_POLICY_INVALID, "config: not a JSON object");
    json_t *att = json_object_get(root, "attestation");
    json_t *pols = att == NULL ? NULL : json_object_get(att, "pcr_policies");
    ATTEST_REQUIRE(att == NULL || json_is_object(att), why, ATTEST_R_POLICY_INVALID,
                   "config: \"attestation\" must be an object");
    ATTEST_REQUIRE(pols == NULL || json_is_object(pols), why, ATTEST_R_POLICY_INVALID,
                   "config: \"pcr_policies\" must be an object");
    if (pols != NULL) {
        const char *name;
        json_t *v;
        ATTEST_REQUIRE(json_object_size(pols) <= ATTEST_PCR_CLASSES_MAX, why,
                       ATTEST_R_POLICY_INVALID, "pcr_policies: too many device classes");
        p->classes = ztca_calloc(json_object_size(pols) + 1, sizeof(*p->classes));
        ZTCA_REQUIRE(p->classes != NULL, ZTCA_ERR_NOMEM, "pcr_policies: out of memory");
        json_object_foreach(pols, name, v)
        {
            attest_pcr_class *c = &p->classes[p->num_classes++];
            ZTCA_CHECK(attest_pcr_class_parse(c, why, name, v));
        }
    }
    *out = p;
    p = NULL;
    *why = ATTEST_OK;
out:
    attest_pcr_policy_free(p);
    json_decref(root);
    return rc;
}

ztca_rc
attest_chain_profile_parse(attest_chain_profile *out, const uint8_t *json, size_t json_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_error_t err;
    json_t *root = json_loadb((const char *)json, json_len, JSON_REJECT_DUPLICATES, &err);
    ZTCA_REQUIRE(json_is_object(root), ZTCA_ERR_BAD_INPUT, "config: not a JSON object");
    json_t *att = json_object_get(root, "attestation");
    json_t *prof = json_is_object(att) ? json_object_get(att, "ek_chain_profile") : NULL;
    *out = ATTEST_CHAIN_DEFAULT;
    if (prof != NULL) {
        ZTCA_REQUIRE(json_is_string(prof), ZTCA_ERR_BAD_INPUT,
                     "config: \"ek_chain_profile\" is \"default\" or \"sha1-vendor\"");
        if (strcmp(json_string_value(prof), "sha1-vendor") == 0) {
            *out = ATTEST_CHAIN_SHA1;
        } else {
            ZTCA_REQUIRE(strcmp(json_string_value(prof), "default") == 0, ZTCA_ERR_BAD_INPUT,
                         "config: \"ek_chain_profile\" is \"default\" or \"sha1-vendor\"");
        }
    }
out:
    json_decref(root);
    return rc;
}

static const attest_pcr_class *
attest_pcr_class_find(const attest_pcr_policy *p, const char *name)
{
    for (size_t i = 0; p != NULL && name != NULL && i < p->num_classes; i++) {
        if (strcmp(p->classes[i].name, name) == 0) {
            return &p->classes[i];
        }
    }
    return NULL;
}

void
attest_pcr_policy_request(const attest_pcr_policy *policy, const char *device_class,
                          uint16_t *out_hash_alg, uint32_t *out_mask)
{
    const attest_pcr_class *c = attest_pcr_class_find(policy, device_class);
    *out_hash_alg = c != NULL ? c->hash_alg : TPM2_ALG_SHA256;
    *out_mask = c != NULL ? c->mask : 0xff;
}

static size_t
attest_bits(uint32_t v)
{
    size_t n = 0;
    for (; v != 0; v &= v - 1) {
        n++;
    }
    return n;
}

/* attest_pcr_diff: the PCRs of `mask` whose values differ. PCR values are public: plain memcmp. */
static uint32_t
attest_pcr_diff(const uint8_t (*a)[ATTEST_DIGEST_MAX], const uint8_t (*b)[ATTEST_DIGEST_MAX],
                uint32_t mask, size_t dlen)
{
    uint32_t diff = 0;
    for (int i = 0; i < ATTEST_PCR_MAX; i++) {
        if ((mask & (1u << i)) && memcmp(a[i], b[i], dlen) != 0) {
            diff |= 1u << i;
        }
    }
    return diff;
}

static void
attest_verdict_add(attest_pcr_verdict *v, attest_reason reason, int pcr)
{
    if (v->num_findings < sizeof(v->findings) / sizeof(v->findings[0])) {
        v->findings[v->num_findings].reason = reason;
        v->findings[v->num_findings].pcr = pcr;
        v->num_findings++;
    }
}

static void
attest_verdict_fail(attest_pcr_verdict *v, attest_reason reason, uint32_t pcrs)
{
    v->decision = ATTEST_PCR_FAIL;
    v->differing |= pcrs;
    for (int i = 0; i < ATTEST_PCR_MAX; i++) {
        if (pcrs & (1u << i)) {
            attest_verdict_add(v, reason, i);
        }
    }
}

ztca_rc
attest_pcr_evaluate(attest_pcr_verdict *out, const attest_pcr_policy *policy,
                    const char *device_class, const attest_pcr_bank *quoted,
                    const attest_pcr_bank *baseline)
{
    attest_pcr_verdict v;
    memset(&v, 0, sizeof(v));
    ZTCA_ENSURE(quoted != NULL, ZTCA_ERR_INTERNAL, "pcr policy: no PCR values");
    const attest_pcr_class *c = attest_pcr_class_find(policy, device_class);
    if (c == NULL) {
        v.decision = ATTEST_PCR_NO_POLICY;
        attest_verdict_add(&v, ATTEST_R_PCR_NO_POLICY, -1);
        *out = v;
        return ZTCA_RC_OK;
    }
    size_t dlen = attest_hash_size(c->hash_alg);
    /* The quote must cover every PCR the class judges, in the class's bank. */
    if (quoted->hash_alg != c->hash_alg) {
        v.decision = ATTEST_PCR_FAIL;
        attest_verdict_add(&v, ATTEST_R_PCR_NOT_COVERED, -1);
        *out = v;
        return ZTCA_RC_OK;
    }
    if ((quoted->mask & c->mask) != c->mask) {
        attest_verdict_fail(&v, ATTEST_R_PCR_NOT_COVERED, c->mask & ~quoted->mask);
        *out = v;
        return ZTCA_RC_OK;
    }
    if (c->mode == ATTEST_PCR_BASELINE) {
        if (baseline == NULL) {
            v.decision = ATTEST_PCR_RECORD;
            *out = v;
            return ZTCA_RC_OK;
        }
        /* A baseline of another bank, or without a PCR the class now judges (the policy grew),
         * cannot vouch for those PCRs: they count as changed. */
        uint32_t missing = baseline->hash_alg == c->hash_alg ? c->mask & ~baseline->mask : c->mask;
        uint32_t diff = attest_pcr_diff(quoted->values, baseline->values, c->mask & ~missing, dlen);
        if ((diff | missing) == 0) {
            v.decision = ATTEST_PCR_PASS;
        } else {
            attest_verdict_fail(&v, ATTEST_R_PCR_CHANGED, diff | missing);
        }
        *out = v;
        return ZTCA_RC_OK;
    }
    /* Allowlist: a set matches when every PCR it pins is equal. On failure report the PCRs that
     * differ from the closest set, which is what an operator needs to see ("only PCR 7 changed:
     * Secure Boot state"): the most PCRs in agreement (a set that pins PCR 0 only is a worse
     * explanation than one that agrees on 0-6), then the fewest differences, then the first. */
    size_t best = SIZE_MAX, best_agree = 0;
    uint32_t best_diff = 0;
    for (size_t i = 0; i < c->num_sets; i++) {
        const attest_pcr_set *s = &c->sets[i];
        uint32_t diff = attest_pcr_diff(quoted->values, s->values, s->mask, dlen);
        if (diff == 0) {
            v.decision = ATTEST_PCR_PASS;
            memcpy(v.matched, s->name, sizeof(v.matched));
            *out = v;
            return ZTCA_RC_OK;
        }
        size_t n = attest_bits(diff), agree = attest_bits(s->mask & ~diff);
        if (best == SIZE_MAX || agree > best_agree || (agree == best_agree && n < best)) {
            best = n;
            best_agree = agree;
            best_diff = diff;
        }
    }
    attest_verdict_fail(&v, ATTEST_R_PCR_NOT_ALLOWED, best_diff);
    *out = v;
    return ZTCA_RC_OK;
}

/* ---- baseline storage --------------------------------------------------------------------- */

ztca_rc
attest_pcr_baseline_encode(char **out, size_t *out_len, const attest_pcr_bank *bank)
{
    ztca_rc rc = ZTCA_RC_OK;
    const char *bname = attest_bank_name(bank->hash_alg);
    size_t dlen = attest_hash_size(bank->hash_alg);
    json_t *root = json_object(), *pcrs = json_object();
    char *s = NULL;
    ZTCA_REQUIRE(root != NULL && pcrs != NULL, ZTCA_ERR_NOMEM, "baseline: out of memory");
    ZTCA_REQUIRE(bname != NULL && bank->mask != 0, ZTCA_ERR_INTERNAL, "baseline: empty bank");
    for (int i = 0; i < ATTEST_PCR_MAX; i++) {
        if (bank->mask & (1u << i)) {
            char key[4], hex[2 * ATTEST_DIGEST_MAX + 1];
            snprintf(key, sizeof(key), "%d", i);
            ZTCA_CHECK(ztca_hex_encode(hex, sizeof(hex), bank->values[i], dlen));
            ZTCA_REQUIRE(json_object_set_new(pcrs, key, json_string(hex)) == 0, ZTCA_ERR_NOMEM,
                         "baseline: out of memory");
        }
    }
    ZTCA_REQUIRE(json_object_set_new(root, "bank", json_string(bname)) == 0
                     && json_object_set(root, "pcrs", pcrs) == 0,
                 ZTCA_ERR_NOMEM, "baseline: out of memory");
    s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ZTCA_REQUIRE(s != NULL, ZTCA_ERR_NOMEM, "baseline: out of memory");
    *out_len = strlen(s);
    *out = ztca_strdup(s);
    ZTCA_REQUIRE(*out != NULL, ZTCA_ERR_NOMEM, "baseline: out of memory");
out:
    free(s);
    json_decref(pcrs);
    json_decref(root);
    return rc;
}

ztca_rc
attest_pcr_baseline_parse(attest_pcr_bank *out, const uint8_t *json, size_t json_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    json_error_t err;
    attest_reason why = ATTEST_OK;
    attest_pcr_bank b;
    memset(&b, 0, sizeof(b));
    json_t *root = json_loadb((const char *)json, json_len, JSON_REJECT_DUPLICATES, &err);
    ZTCA_REQUIRE(json_is_object(root) && json_object_size(root) == 2, ZTCA_ERR_BAD_INPUT,
                 "baseline: {\"bank\": ..., \"pcrs\": {...}}");
    json_t *bank = json_object_get(root, "bank");
    ZTCA_REQUIRE(json_is_string(bank) && attest_bank_parse(&b.hash_alg, json_string_value(bank)),
                 ZTCA_ERR_BAD_INPUT, "baseline: unknown bank");
    ZTCA_CHECK(attest_pcr_values(b.values, &b.mask, &why, json_object_get(root, "pcrs"), b.hash_alg,
                                 (1u << ATTEST_PCR_MAX) - 1));
    *out = b;
out:
    json_decref(root);
    return rc;
}
