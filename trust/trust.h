/* trust.h: signals -> score -> decisions (DESIGN.md 4, docs/trust.md). Pure: no I/O, no clock;
 * the caller passes the signals it read from the store and the time. Deterministic: the same
 * inputs give the same score, contributions and decision on every node. */
#ifndef ZTCA_TRUST_TRUST_H
#define ZTCA_TRUST_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define TRUST_SCORE_MIN   0
#define TRUST_SCORE_MAX   100
#define TRUST_IMPACT_MIN  (-100)
#define TRUST_IMPACT_MAX  100
#define TRUST_NAME_MAX    64  /* source and kind: 1-64 of [a-z0-9._-], starting with a-z0-9 */
#define TRUST_NOTE_MAX    256 /* free text kept with a signal (audit, explanation) */
#define TRUST_TIERS_MAX   8
#define TRUST_WEIGHTS_MAX 64
#define TRUST_SIGNALS_MAX 256 /* active signals considered per subject; more is refused */
#define TRUST_POLICY_MAX  ((size_t)256 * 1024) /* ztca.conf, as CA_CONFIG_MAX */
#define TRUST_SOURCE_ZTCA "ztca"               /* reserved: signals ztca derives itself */
#define TRUST_WEIGHT_MAX  1000                 /* percent */

/* What a signal is about. An agent's score counts its device's, its own and its user's signals;
 * a device's score counts the device's only. */
typedef enum trust_scope {
    TRUST_SCOPE_DEVICE = 0,
    TRUST_SCOPE_AGENT = 1,
    TRUST_SCOPE_USER = 2,
} trust_scope;

/* Attestation levels, numbered as ca_attestation (DESIGN.md 2). */
typedef enum trust_attestation {
    TRUST_ATTEST_NONE = 0,
    TRUST_ATTEST_SOFTWARE = 1,
    TRUST_ATTEST_TPM = 2,
    TRUST_ATTEST_TPM_MEASURED_BOOT = 3,
} trust_attestation;

/* Built-in signal kinds that ztca records itself (source TRUST_SOURCE_ZTCA) from attestation and
 * renewal; their impacts come from the policy. Attestation level and quote staleness are not
 * stored signals: trust_score derives them from trust_facts. */
#define TRUST_KIND_ATTESTATION        "attestation"
#define TRUST_KIND_QUOTE_STALE        "quote-stale"
#define TRUST_KIND_PCR_CHANGED        "pcr-changed"
#define TRUST_KIND_PCR_POLICY         "pcr-policy"
#define TRUST_KIND_COUNTERS_BACKWARDS "tpm-counters-backwards"
#define TRUST_KIND_RENEWAL_FAILED     "renewal-failed"

typedef struct trust_tier {
    int min_score;   /* this tier applies to scores >= min_score (the next tier down below) */
    int64_t max_ttl; /* seconds; 0: the profile's maximum */
} trust_tier;

typedef struct trust_weight {
    char key[2 * TRUST_NAME_MAX + 2]; /* "source" or "source/kind" */
    int percent;                      /* 0..TRUST_WEIGHT_MAX */
} trust_weight;

typedef struct trust_policy {
    int hold_below;   /* score < hold_below: every certificate of the subject is on hold */
    int deny_below;   /* score < deny_below: no issuance or renewal; >= hold_below */
    int positive_cap; /* positive contributions together add at most this much */
    trust_tier tiers[TRUST_TIERS_MAX]; /* by min_score, highest first; the last has min 0 */
    size_t num_tiers;
    trust_weight weights[TRUST_WEIGHTS_MAX]; /* "source/kind" before "source"; 100 otherwise */
    size_t num_weights;
    int attestation_impact[4]; /* by trust_attestation */
    int64_t quote_stale_after; /* seconds since the last attestation; 0: never stale */
    int quote_stale_impact;
    int pcr_changed_impact;        /* a quote whose PCRs differ from the device's baseline */
    int pcr_policy_impact;         /* a quote the PCR policy refuses */
    int counters_backwards_impact; /* TPM resetCount/restartCount went backwards */
    int renewal_failed_impact;     /* a failed renewal (expires after renewal_failed_ttl) */
    int64_t renewal_failed_ttl;
    bool score_extension;  /* put ztca-trust-score in OCSP single responses (docs/trust.md) */
    uint8_t score_oid[64]; /* its OID's contents octets; 0 long: ztca-trust-score (DESIGN.md 4) */
    size_t score_oid_len;
    int64_t sweep_interval; /* how often expiries and staleness are re-evaluated, seconds */
} trust_policy;

/* trust_policy_defaults: the out-of-the-box policy of docs/trust.md. */
void trust_policy_defaults(trust_policy *p);
/* trust_policy_parse: the "trust" member of ztca.conf (`json`: the whole file; no member: the
 * defaults). Members not given keep their defaults; unknown members, wrong types, values out of
 * range, tiers out of order and deny_below < hold_below are BAD_INPUT naming the member. */
ZTCA_RC trust_policy_parse(trust_policy *out, const uint8_t *json, size_t json_len);
/* trust_policy_weight: the weight, in percent, of a signal from source/kind. */
int trust_policy_weight(const trust_policy *p, const char *source, const char *kind);

/* trust_name_is_valid: a source or kind name (TRUST_NAME_MAX, see above). */
bool trust_name_is_valid(const char *s);

/* trust_signal: one stored signal; strings are borrowed. */
typedef struct trust_signal {
    int64_t id; /* store order: later signals have larger ids */
    trust_scope scope;
    const char *source;
    const char *kind;
    int impact; /* TRUST_IMPACT_MIN..MAX */
    ztca_time created_at;
    ztca_time expires_at; /* 0: never */
} trust_signal;

/* trust_facts: what ztca knows of the subject's device, for the derived signals. */
typedef struct trust_facts {
    trust_attestation attestation; /* level reached at the last attestation (NONE: never) */
    ztca_time last_attested_at;    /* 0: never attested (no staleness is derived) */
} trust_facts;

/* One line of the explanation: a signal that counts, after selection and weighting. */
typedef struct trust_contribution {
    char source[TRUST_NAME_MAX + 1];
    char kind[TRUST_NAME_MAX + 1];
    trust_scope scope;
    bool derived;  /* computed from trust_facts, not a stored signal */
    int64_t id;    /* the stored signal's id; 0 when derived */
    int impact;    /* as given */
    int weight;    /* percent */
    int effective; /* impact * weight / 100, toward zero, within -100..100 */
    ztca_time expires_at;
} trust_contribution;

typedef struct trust_result {
    int score;    /* TRUST_SCORE_MIN..MAX */
    int negative; /* sum of the negative effective impacts */
    int positive; /* sum of the positive ones, after positive_cap */
    int positive_uncapped;
    size_t num_ignored; /* expired or replaced by a later signal of the same source and kind */
    trust_contribution items[TRUST_SIGNALS_MAX + 2]; /* most negative first, then by source/kind */
    size_t num_items;
    ztca_time next_change; /* earliest time the score may change without a new signal (an
                              expiry or staleness); 0: none */
} trust_result;

/* trust_score: score = clamp(100 + negative + min(positive, positive_cap), 0, 100) over the
 * signals active at `now` (expires_at == 0 or > now), of which only the latest per
 * (source, kind) counts (created_at, then id), plus the derived attestation and staleness
 * contributions. Signals from TRUST_SOURCE_ZTCA with a derived kind are ignored (the facts
 * decide). BAD_INPUT for an invalid signal or more than TRUST_SIGNALS_MAX. */
ZTCA_RC trust_score(trust_result *out, const trust_policy *p, const trust_signal *sigs,
                    size_t num_sigs, const trust_facts *facts, ztca_time now);

typedef struct trust_decision {
    bool hold;          /* score < hold_below */
    bool issue_allowed; /* score >= deny_below */
    int64_t max_ttl;    /* the tier's cap in seconds; 0: the profile's maximum */
    size_t tier;        /* index into policy tiers */
} trust_decision;

void trust_decide(trust_decision *out, const trust_policy *p, const trust_result *r);

/* trust_reasons: "edr/malware -80, ztca/attestation -25" (the negative contributions, most
 * negative first, at most `max` of them) for problem details and logs; always NUL-terminated. */
void trust_reasons(char *out, size_t out_size, const trust_result *r, size_t max);

/* trust_scope_name: "device", "agent", "user". */
const char *trust_scope_name(trust_scope s);
const char *trust_attestation_name(trust_attestation a);

#endif /* ZTCA_TRUST_TRUST_H */
