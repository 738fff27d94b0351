/* test_trust.c: the scoring function and the policy table of docs/trust.md: defaults, edge
 * values, expiry, replacement by source/kind, weights, the positive cap, derived signals, tiers,
 * and the strict parser of the "trust" member of ztca.conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "trust/trust.h"

#define NOW ((ztca_time)1800000000)

static trust_result result; /* 45 KiB: not on the stack */

static trust_signal
sig(int64_t id, const char *source, const char *kind, int impact, ztca_time created,
    ztca_time expires)
{
    trust_signal s = { id, TRUST_SCOPE_DEVICE, source, kind, impact, created, expires };
    return s;
}

static int
score_of(const trust_policy *p, const trust_signal *sigs, size_t n, trust_attestation att,
         ztca_time attested)
{
    trust_facts f = { att, attested };
    UNIT_ASSERT_OK(trust_score(&result, p, sigs, n, &f, NOW));
    return result.score;
}

static const trust_contribution *
find(const char *source, const char *kind)
{
    for (size_t i = 0; i < result.num_items; i++) {
        if (strcmp(result.items[i].source, source) == 0
            && strcmp(result.items[i].kind, kind) == 0) {
            return &result.items[i];
        }
    }
    return NULL;
}

/* docs/trust.md "Defaults": the three promises of the issue, for every attestation level. */
static void
test_defaults(void)
{
    trust_policy p;
    trust_decision d;
    trust_policy_defaults(&p);
    static const int fresh[] = { 75, 85, 95, 100 };
    for (int a = TRUST_ATTEST_NONE; a <= TRUST_ATTEST_TPM_MEASURED_BOOT; a++) {
        CU_ASSERT_EQUAL(score_of(&p, NULL, 0, (trust_attestation)a, NOW - 60), fresh[a]);
        trust_decide(&d, &p, &result);
        CU_ASSERT_FALSE(d.hold);
        CU_ASSERT_TRUE(d.issue_allowed);
        CU_ASSERT_TRUE(result.score >= p.hold_below + 30); /* "well above" */

        trust_signal severe = sig(1, "edr", "malware", -80, NOW - 1, 0);
        score_of(&p, &severe, 1, (trust_attestation)a, NOW - 60);
        trust_decide(&d, &p, &result);
        CU_ASSERT_TRUE(d.hold);
        CU_ASSERT_FALSE(d.issue_allowed);

        trust_signal small = sig(1, "patch", "behind", -5, NOW - 1, 0);
        CU_ASSERT_EQUAL(score_of(&p, &small, 1, (trust_attestation)a, NOW - 60), fresh[a] - 5);
        trust_decide(&d, &p, &result);
        CU_ASSERT_FALSE(d.hold);
    }
}

static void
test_expiry_and_replacement(void)
{
    trust_policy p;
    trust_policy_defaults(&p);
    trust_signal s[4];
    /* Expired at exactly now: no longer counts (expires_at is the first instant it is gone). */
    s[0] = sig(1, "edr", "malware", -80, NOW - 100, NOW);
    CU_ASSERT_EQUAL(score_of(&p, s, 1, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 100);
    CU_ASSERT_EQUAL(result.num_ignored, 1);
    s[0].expires_at = NOW + 1;
    CU_ASSERT_EQUAL(score_of(&p, s, 1, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 20);
    CU_ASSERT_EQUAL(result.next_change, NOW + 1);

    /* The latest per (source, kind) replaces the earlier: impact 0 clears the hold. */
    s[0] = sig(1, "edr", "malware", -80, NOW - 100, 0);
    s[1] = sig(2, "edr", "malware", 0, NOW - 10, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 2, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 100);
    CU_ASSERT_EQUAL(result.num_ignored, 1);
    /* Order of the array does not matter; creation time decides, then the store id. */
    s[0] = sig(2, "edr", "malware", 0, NOW - 10, 0);
    s[1] = sig(1, "edr", "malware", -80, NOW - 100, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 2, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 100);
    s[0] = sig(7, "edr", "malware", -60, NOW - 10, 0);
    s[1] = sig(6, "edr", "malware", -10, NOW - 10, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 2, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 40);
    /* An expired later signal lets the earlier one count again. */
    s[0] = sig(1, "edr", "malware", -30, NOW - 100, 0);
    s[1] = sig(2, "edr", "malware", 0, NOW - 10, NOW - 1);
    CU_ASSERT_EQUAL(score_of(&p, s, 2, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 70);
    /* Another kind of the same source is another signal. */
    s[0] = sig(1, "edr", "malware", -30, NOW - 100, 0);
    s[1] = sig(2, "edr", "firewall-off", -10, NOW - 10, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 2, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 60);
    CU_ASSERT_EQUAL(result.num_ignored, 0);
    /* next_change: the earliest future expiry. */
    s[0] = sig(1, "a", "x", -1, NOW - 100, NOW + 50);
    s[1] = sig(2, "b", "x", -1, NOW - 100, NOW + 20);
    s[2] = sig(3, "c", "x", -1, NOW - 100, 0);
    score_of(&p, s, 3, TRUST_ATTEST_TPM_MEASURED_BOOT, 0);
    CU_ASSERT_EQUAL(result.next_change, NOW + 20);
}

static void
test_weights_and_cap(void)
{
    trust_policy p;
    trust_policy_defaults(&p);
    trust_signal s[3];
    /* Positive signals lift a score by positive_cap at most, never above 100. */
    s[0] = sig(1, "mdm", "compliant", 100, NOW - 1, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 1, TRUST_ATTEST_NONE, 0), 95);
    CU_ASSERT_EQUAL(result.positive, 20);
    CU_ASSERT_EQUAL(result.positive_uncapped, 100);
    CU_ASSERT_EQUAL(score_of(&p, s, 1, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 100);
    /* So no feeder can buy back a severe signal from another source. */
    s[1] = sig(2, "edr", "malware", -80, NOW - 1, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 2, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 40);
    /* Floor at 0. */
    s[0] = sig(1, "edr", "malware", -100, NOW - 1, 0);
    s[1] = sig(2, "ids", "scan", -100, NOW - 1, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 2, TRUST_ATTEST_NONE, 0), 0);
    CU_ASSERT_EQUAL(result.negative, -225);

    /* Weights: "source/kind" over "source" over 100; rounding toward zero. */
    p.num_weights = 2;
    snprintf(p.weights[0].key, sizeof(p.weights[0].key), "edr");
    p.weights[0].percent = 50;
    snprintf(p.weights[1].key, sizeof(p.weights[1].key), "edr/malware");
    p.weights[1].percent = 150;
    CU_ASSERT_EQUAL(trust_policy_weight(&p, "edr", "malware"), 150);
    CU_ASSERT_EQUAL(trust_policy_weight(&p, "edr", "other"), 50);
    CU_ASSERT_EQUAL(trust_policy_weight(&p, "ed", "malware"), 100);
    CU_ASSERT_EQUAL(trust_policy_weight(&p, "edrx", "malware"), 100);
    s[0] = sig(1, "edr", "malware", -60, NOW - 1, 0);
    s[1] = sig(2, "edr", "usb", -5, NOW - 1, 0);
    s[2] = sig(3, "edr", "ok", 3, NOW - 1, 0);
    CU_ASSERT_EQUAL(score_of(&p, s, 3, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 100 - 90 - 2 + 1);
    CU_ASSERT_EQUAL(find("edr", "malware")->effective, -90);
    CU_ASSERT_EQUAL(find("edr", "usb")->effective, -2);
    CU_ASSERT_EQUAL(find("edr", "ok")->effective, 1);
    /* An effective impact stays within -100..100 whatever the weight. */
    p.weights[1].percent = 1000;
    score_of(&p, s, 1, TRUST_ATTEST_TPM_MEASURED_BOOT, 0);
    CU_ASSERT_EQUAL(find("edr", "malware")->effective, -100);
    /* Weight 0 mutes a source (it still shows in the explanation). */
    p.weights[0].percent = 0;
    p.num_weights = 1;
    CU_ASSERT_EQUAL(score_of(&p, s, 3, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 100);
    CU_ASSERT_EQUAL(find("edr", "malware")->effective, 0);
    CU_ASSERT_EQUAL(find("edr", "malware")->weight, 0);
}

static void
test_derived(void)
{
    trust_policy p;
    trust_policy_defaults(&p);
    /* Staleness from the last attestation: at exactly quote_stale_after it counts. */
    CU_ASSERT_EQUAL(score_of(&p, NULL, 0, TRUST_ATTEST_TPM, NOW - p.quote_stale_after + 1), 95);
    CU_ASSERT_EQUAL(result.next_change, NOW + 1);
    CU_ASSERT_PTR_NULL(find("ztca", "quote-stale"));
    CU_ASSERT_EQUAL(score_of(&p, NULL, 0, TRUST_ATTEST_TPM, NOW - p.quote_stale_after), 75);
    CU_ASSERT_EQUAL(find("ztca", "quote-stale")->impact, -20);
    CU_ASSERT_TRUE(find("ztca", "quote-stale")->derived);
    /* Never attested: no staleness, the attestation level says enough. */
    CU_ASSERT_EQUAL(score_of(&p, NULL, 0, TRUST_ATTEST_NONE, 0), 75);
    CU_ASSERT_PTR_NULL(find("ztca", "quote-stale"));
    /* quote_stale_after 0 turns staleness off. */
    p.quote_stale_after = 0;
    CU_ASSERT_EQUAL(score_of(&p, NULL, 0, TRUST_ATTEST_TPM, 1), 95);
    /* A stored signal may not impersonate a derived one. */
    trust_signal s = sig(1, "ztca", "attestation", 100, NOW - 1, 0);
    CU_ASSERT_EQUAL(score_of(&p, &s, 1, TRUST_ATTEST_NONE, 0), 75);
    CU_ASSERT_EQUAL(result.num_ignored, 1);
    /* Stored built-in kinds (pcr-changed etc.) count like any signal. */
    s = sig(1, "ztca", "pcr-changed", p.pcr_changed_impact, NOW - 1, 0);
    CU_ASSERT_EQUAL(score_of(&p, &s, 1, TRUST_ATTEST_TPM_MEASURED_BOOT, 0), 70);
    /* Explanation order: most negative first, then source/kind. */
    trust_signal m[3] = { sig(1, "b", "k", -10, NOW, 0), sig(2, "a", "k", -10, NOW, 0),
                          sig(3, "c", "k", -40, NOW, 0) };
    score_of(&p, m, 3, TRUST_ATTEST_TPM, 0);
    CU_ASSERT_EQUAL(result.num_items, 4);
    CU_ASSERT_STRING_EQUAL(result.items[0].source, "c");
    CU_ASSERT_STRING_EQUAL(result.items[1].source, "a");
    CU_ASSERT_STRING_EQUAL(result.items[2].source, "b");
    CU_ASSERT_STRING_EQUAL(result.items[3].source, "ztca");
    char why[64];
    trust_reasons(why, sizeof(why), &result, 8);
    CU_ASSERT_STRING_EQUAL(why, "c/k -40, a/k -10, b/k -10, ztca/attestation -5");
    trust_reasons(why, sizeof(why), &result, 2);
    CU_ASSERT_STRING_EQUAL(why, "c/k -40, a/k -10");
    trust_reasons(why, 12, &result, 8); /* never a cut entry */
    CU_ASSERT_STRING_EQUAL(why, "c/k -40");
}

static void
test_decisions(void)
{
    trust_policy p;
    trust_decision d;
    trust_policy_defaults(&p);
    static const struct {
        int score;
        bool hold, issue;
        int64_t ttl;
    } rows[] = {
        { 100, false, true, 0 },       { 80, false, true, 0 },     { 79, false, true, 4 * 3600 },
        { 60, false, true, 4 * 3600 }, { 59, false, true, 3600 },  { 50, false, true, 3600 },
        { 49, false, false, 3600 },    { 40, false, false, 3600 }, { 39, true, false, 3600 },
        { 0, true, false, 3600 },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(&result, 0, sizeof(result));
        result.score = rows[i].score;
        trust_decide(&d, &p, &result);
        CU_ASSERT_EQUAL(d.hold, rows[i].hold);
        CU_ASSERT_EQUAL(d.issue_allowed, rows[i].issue);
        CU_ASSERT_EQUAL(d.max_ttl, rows[i].ttl);
    }
}

static void
test_invalid_signals(void)
{
    trust_policy p;
    trust_facts f = { TRUST_ATTEST_TPM, 0 };
    trust_policy_defaults(&p);
    const char *bad_names[] = {
        "",
        "Edr",
        "-edr",
        "e dr",
        "edr/x",
        "ed\xc3\xa9",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        trust_signal s = sig(1, bad_names[i], "k", -1, NOW, 0);
        UNIT_ASSERT_ERR(trust_score(&result, &p, &s, 1, &f, NOW), ZTCA_ERR_BAD_INPUT);
        s = sig(1, "edr", bad_names[i], -1, NOW, 0);
        UNIT_ASSERT_ERR(trust_score(&result, &p, &s, 1, &f, NOW), ZTCA_ERR_BAD_INPUT);
    }
    CU_ASSERT_TRUE(trust_name_is_valid("a"));
    CU_ASSERT_TRUE(trust_name_is_valid("crowdstrike.falcon_v2-x"));
    trust_signal s = sig(1, "edr", "k", -101, NOW, 0);
    UNIT_ASSERT_ERR(trust_score(&result, &p, &s, 1, &f, NOW), ZTCA_ERR_BAD_INPUT);
    s.impact = 101;
    UNIT_ASSERT_ERR(trust_score(&result, &p, &s, 1, &f, NOW), ZTCA_ERR_BAD_INPUT);
    s.impact = -100;
    s.scope = (trust_scope)3;
    UNIT_ASSERT_ERR(trust_score(&result, &p, &s, 1, &f, NOW), ZTCA_ERR_BAD_INPUT);
    f.attestation = (trust_attestation)4;
    s.scope = TRUST_SCOPE_USER;
    UNIT_ASSERT_ERR(trust_score(&result, &p, &s, 1, &f, NOW), ZTCA_ERR_BAD_INPUT);
    f.attestation = TRUST_ATTEST_TPM;
    UNIT_ASSERT_OK(trust_score(&result, &p, &s, 1, &f, NOW));
    /* At most TRUST_SIGNALS_MAX signals per subject. */
    trust_signal *many = calloc(TRUST_SIGNALS_MAX + 1, sizeof(*many));
    CU_ASSERT_PTR_NOT_NULL_FATAL(many);
    for (size_t i = 0; i <= TRUST_SIGNALS_MAX; i++) {
        many[i] = sig((int64_t)i + 1, "edr", "k", -1, NOW, 0);
    }
    UNIT_ASSERT_OK(trust_score(&result, &p, many, TRUST_SIGNALS_MAX, &f, NOW));
    CU_ASSERT_EQUAL(result.num_items, 2); /* one edr/k (the latest), the attestation */
    CU_ASSERT_EQUAL(result.num_ignored, TRUST_SIGNALS_MAX - 1);
    UNIT_ASSERT_ERR(trust_score(&result, &p, many, TRUST_SIGNALS_MAX + 1, &f, NOW),
                    ZTCA_ERR_BAD_INPUT);
    free(many);
}

static ztca_rc
parse(trust_policy *p, const char *json)
{
    uint8_t *copy = unit_dup((const uint8_t *)json, strlen(json));
    ztca_rc rc = trust_policy_parse(p, copy, strlen(json));
    free(copy);
    return rc;
}

static void
test_policy_parse(void)
{
    trust_policy p;
    trust_policy d;
    trust_policy_defaults(&d);
    UNIT_ASSERT_OK(parse(&p, "{\"version\":1}"));
    CU_ASSERT_EQUAL(memcmp(&p, &d, sizeof(p)), 0);
    UNIT_ASSERT_OK(parse(&p, "{\"trust\":{\"hold_below\":30,\"deny_below\":45,\"positive_cap\":0,"
                             "\"tiers\":[{\"min_score\":90,\"max_ttl\":0},{\"min_score\":70,"
                             "\"max_ttl\":\"2h\"},{\"min_score\":0,\"max_ttl\":600}],"
                             "\"weights\":{\"edr\":150,\"edr/usb\":0},"
                             "\"attestation\":{\"none\":-40,\"tpm\":0},"
                             "\"quote_stale_after\":\"12h\",\"quote_stale_impact\":-30,"
                             "\"score_extension\":true,\"sweep_interval\":\"2s\","
                             "\"score_extension_oid\":\"1.3.6.1.4.1.32473.2\"}}"));
    CU_ASSERT_EQUAL(p.hold_below, 30);
    CU_ASSERT_EQUAL(p.deny_below, 45);
    CU_ASSERT_EQUAL(p.positive_cap, 0);
    CU_ASSERT_EQUAL(p.num_tiers, 3);
    CU_ASSERT_EQUAL(p.tiers[0].max_ttl, 0);
    CU_ASSERT_EQUAL(p.tiers[1].min_score, 70);
    CU_ASSERT_EQUAL(p.tiers[1].max_ttl, 7200);
    CU_ASSERT_EQUAL(p.tiers[2].max_ttl, 600);
    CU_ASSERT_EQUAL(trust_policy_weight(&p, "edr", "usb"), 0);
    CU_ASSERT_EQUAL(trust_policy_weight(&p, "edr", "x"), 150);
    CU_ASSERT_EQUAL(p.attestation_impact[TRUST_ATTEST_NONE], -40);
    CU_ASSERT_EQUAL(p.attestation_impact[TRUST_ATTEST_SOFTWARE], -15); /* default kept */
    CU_ASSERT_EQUAL(p.attestation_impact[TRUST_ATTEST_TPM], 0);
    CU_ASSERT_EQUAL(p.quote_stale_after, 12 * 3600);
    CU_ASSERT_EQUAL(p.quote_stale_impact, -30);
    CU_ASSERT_TRUE(p.score_extension);
    CU_ASSERT_EQUAL(p.sweep_interval, 2);
    /* RFC 5612's documentation enterprise number: 06 0a 2b 06 01 04 01 81 fd 59 02 */
    static const uint8_t oid[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x81, 0xfd, 0x59, 0x02 };
    CU_ASSERT_EQUAL_FATAL(p.score_oid_len, sizeof(oid));
    CU_ASSERT_EQUAL(memcmp(p.score_oid, oid, sizeof(oid)), 0);
    UNIT_ASSERT_OK(parse(&p, "{\"trust\":{\"quote_stale_after\":0,\"hold_below\":101,"
                             "\"deny_below\":101}}"));
    CU_ASSERT_EQUAL(p.quote_stale_after, 0);

    static const char *const bad[] = {
        "[]",
        "{\"trust\":[]}",
        "{\"trust\":{\"hold_belo\":40}}",
        "{\"trust\":{\"hold_below\":\"40\"}}",
        "{\"trust\":{\"hold_below\":-1}}",
        "{\"trust\":{\"hold_below\":102,\"deny_below\":102}}",
        "{\"trust\":{\"hold_below\":60}}", /* above the default deny_below */
        "{\"trust\":{\"deny_below\":30}}", /* below the default hold_below */
        "{\"trust\":{\"positive_cap\":101}}",
        "{\"trust\":{\"tiers\":[]}}",
        "{\"trust\":{\"tiers\":[{\"min_score\":10,\"max_ttl\":0}]}}",
        "{\"trust\":{\"tiers\":[{\"min_score\":0,\"max_ttl\":0,\"x\":1}]}}",
        "{\"trust\":{\"tiers\":[{\"max_ttl\":0}]}}",
        "{\"trust\":{\"tiers\":[{\"min_score\":0},{\"min_score\":10,\"max_ttl\":60}]}}",
        "{\"trust\":{\"tiers\":[{\"min_score\":50,\"max_ttl\":60},{\"min_score\":0,\"max_ttl\":0}]}"
        "}",
        "{\"trust\":{\"tiers\":[{\"min_score\":50,\"max_ttl\":60},{\"min_score\":0,\"max_ttl\":120}"
        "]}}",
        "{\"trust\":{\"tiers\":[{\"min_score\":0,\"max_ttl\":59}]}}",
        "{\"trust\":{\"tiers\":[{\"min_score\":0,\"max_ttl\":\"1x\"}]}}",
        "{\"trust\":{\"weights\":{\"EDR\":10}}}",
        "{\"trust\":{\"weights\":{\"edr/\":10}}}",
        "{\"trust\":{\"weights\":{\"edr/a/b\":10}}}",
        "{\"trust\":{\"weights\":{\"edr\":1001}}}",
        "{\"trust\":{\"weights\":{\"edr\":-1}}}",
        "{\"trust\":{\"weights\":[]}}",
        "{\"trust\":{\"attestation\":{\"tpm2\":-1}}}",
        "{\"trust\":{\"attestation\":{\"tpm\":1}}}",
        "{\"trust\":{\"quote_stale_after\":30}}",
        "{\"trust\":{\"quote_stale_impact\":5}}",
        "{\"trust\":{\"score_extension\":1}}",
        "{\"trust\":{\"sweep_interval\":0}}",
        "{\"trust\":{\"score_extension_oid\":\"1.3.6.1.4.1.32473.\"}}",
        "{\"trust\":{\"score_extension_oid\":\"3.1\"}}",
        "{\"trust\":{\"score_extension_oid\":2}}",
        "{\"trust\":{\"hold_below\":40,\"hold_below\":41}}",
        "{\"trust\":{}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p.hold_below = 77;
        ztca_rc rc = parse(&p, bad[i]);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_EQUAL(p.hold_below, 77); /* nothing written on failure */
    }
    /* 64 weights fit, 65 do not. */
    char buf[4096];
    size_t used = (size_t)snprintf(buf, sizeof(buf), "{\"trust\":{\"weights\":{");
    for (int i = 0; i < 65; i++) {
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s\"s%d\":1", i ? "," : "", i);
    }
    snprintf(buf + used, sizeof(buf) - used, "}}}");
    UNIT_ASSERT_ERR(parse(&p, buf), ZTCA_ERR_BAD_INPUT);
    char *last = strrchr(buf, ',');
    snprintf(last, sizeof(buf) - (size_t)(last - buf), "}}}");
    UNIT_ASSERT_OK(parse(&p, buf));
    CU_ASSERT_EQUAL(p.num_weights, 64);
}

int
main(void)
{
    static const unit_test tests[] = {
        { "defaults", test_defaults },
        { "expiry_and_replacement", test_expiry_and_replacement },
        { "weights_and_cap", test_weights_and_cap },
        { "derived", test_derived },
        { "decisions", test_decisions },
        { "invalid_signals", test_invalid_signals },
        { "policy_parse", test_policy_parse },
        { NULL, NULL },
    };
    return unit_run("trust", tests);
}
