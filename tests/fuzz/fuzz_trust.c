/* Target: trust_policy_parse (trust/trust_policy.c) and trust_score/trust_decide over signals
 * drawn from the same bytes. Why: the policy decides who keeps working and who is held; the
 * signals come from feeders over the API.
 *
 * Invariants (abort() otherwise): a parsed policy has deny_below >= hold_below and tiers ordered
 * down to min_score 0; a score is within 0..100; a held subject may never be issued; one more
 * negative signal of a new source/kind never raises the score, and removing signals in any
 * order never changes the result's determinism (the same inputs score the same). */
#include <stdlib.h>
#include <string.h>

#include "trust/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static trust_result r1, r2;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "edr",         "mdm",         "ztca", "attestation",
                                         "quote-stale", "pcr-changed", "ids",  "x" };
    trust_policy p;
    trust_signal sigs[33];
    size_t n = 0;
    if (!ZTCA_IS_OK(trust_policy_parse(&p, data, size))) {
        trust_policy_defaults(&p);
    } else if (p.deny_below < p.hold_below || p.num_tiers == 0 || p.num_tiers > TRUST_TIERS_MAX
               || p.tiers[p.num_tiers - 1].min_score != 0) {
        abort();
    }
    /* Signals: 5 bytes each from the input (source, kind, impact, age, expiry). */
    for (size_t i = 0; i + 5 <= size && n < 32; i += 5) {
        const uint8_t *b = data + i;
        sigs[n] = (trust_signal){ (int64_t)n + 1,
                                  (trust_scope)(b[0] % 3),
                                  names[b[0] >> 5],
                                  names[b[1] & 7],
                                  (int)(b[2] % 201) - 100,
                                  1000 - (b[3] & 15),
                                  b[4] < 128 ? 0 : (ztca_time)(990 + (b[4] & 31)) };
        n++;
    }
    trust_facts f = { (trust_attestation)(size % 4),
                      size % 3 == 0 ? 0 : (ztca_time)(size % 200000) };
    if (!ZTCA_IS_OK(trust_score(&r1, &p, sigs, n, &f, 1000))) {
        abort(); /* every signal above is valid */
    }
    trust_decision d;
    trust_decide(&d, &p, &r1);
    if (r1.score < 0 || r1.score > 100 || (d.hold && d.issue_allowed) || d.tier >= p.num_tiers) {
        abort();
    }
    if (!ZTCA_IS_OK(trust_score(&r2, &p, sigs, n, &f, 1000)) || memcmp(&r1, &r2, sizeof(r1)) != 0) {
        abort();
    }
    sigs[n] = (trust_signal){ 99, TRUST_SCOPE_DEVICE, "fresh", "fresh", -1, 1000, 0 };
    if (!ZTCA_IS_OK(trust_score(&r2, &p, sigs, n + 1, &f, 1000)) || r2.score > r1.score) {
        abort();
    }
    return 0;
}
