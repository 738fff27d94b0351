/* trust_score.c: the scoring function and the decisions of docs/trust.md. Integer arithmetic
 * only, and a total order on the contributions, so every node explains a score the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust/internal.h"

const char *
trust_scope_name(trust_scope s)
{
    switch (s) {
    case TRUST_SCOPE_DEVICE:
        return "device";
    case TRUST_SCOPE_AGENT:
        return "agent";
    case TRUST_SCOPE_USER:
        return "user";
    }
    return "unknown";
}

const char *
trust_attestation_name(trust_attestation a)
{
    switch (a) {
    case TRUST_ATTEST_NONE:
        return "none";
    case TRUST_ATTEST_SOFTWARE:
        return "software";
    case TRUST_ATTEST_TPM:
        return "tpm";
    case TRUST_ATTEST_TPM_MEASURED_BOOT:
        return "tpmMeasuredBoot"; /* as ca_attestation_name */
    }
    return "unknown";
}

static bool
trust_signal_is_valid(const trust_signal *s)
{
    return s->source != NULL && s->kind != NULL && trust_name_is_valid(s->source)
           && trust_name_is_valid(s->kind) && s->impact >= TRUST_IMPACT_MIN
           && s->impact <= TRUST_IMPACT_MAX
           && (s->scope == TRUST_SCOPE_DEVICE || s->scope == TRUST_SCOPE_AGENT
               || s->scope == TRUST_SCOPE_USER);
}

static bool
trust_is_derived_kind(const char *source, const char *kind)
{
    return strcmp(source, TRUST_SOURCE_ZTCA) == 0
           && (strcmp(kind, TRUST_KIND_ATTESTATION) == 0
               || strcmp(kind, TRUST_KIND_QUOTE_STALE) == 0);
}

/* a replaces b: later creation time, then the later store id. */
static bool
trust_signal_is_later(const trust_signal *a, const trust_signal *b)
{
    return a->created_at > b->created_at || (a->created_at == b->created_at && a->id > b->id);
}

static int
trust_clamp(int64_t v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)v;
}

static void
trust_add(trust_result *r, const trust_policy *p, const char *source, const char *kind,
          trust_scope scope, bool derived, int64_t id, int impact, ztca_time expires_at)
{
    trust_contribution *c = &r->items[r->num_items++];
    memset(c, 0, sizeof(*c));
    /* Names were checked: they fit. */
    memcpy(c->source, source, strlen(source) + 1);
    memcpy(c->kind, kind, strlen(kind) + 1);
    c->scope = scope;
    c->derived = derived;
    c->id = id;
    c->impact = impact;
    c->weight = trust_policy_weight(p, source, kind);
    /* C division truncates toward zero: a weight never turns a small signal into a larger one
     * than its weight says, in either direction. */
    c->effective =
        trust_clamp((int64_t)impact * c->weight / 100, TRUST_IMPACT_MIN, TRUST_IMPACT_MAX);
    c->expires_at = expires_at;
}

static int
trust_contribution_cmp(const void *pa, const void *pb)
{
    const trust_contribution *a = pa;
    const trust_contribution *b = pb;
    if (a->effective != b->effective) {
        return a->effective < b->effective ? -1 : 1;
    }
    int c = strcmp(a->source, b->source);
    if (c != 0) {
        return c;
    }
    c = strcmp(a->kind, b->kind);
    if (c != 0) {
        return c;
    }
    return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

static void
trust_next_change(trust_result *r, ztca_time t, ztca_time now)
{
    if (t > now && (r->next_change == 0 || t < r->next_change)) {
        r->next_change = t;
    }
}

ztca_rc
trust_score(trust_result *out, const trust_policy *p, const trust_signal *sigs, size_t num_sigs,
            const trust_facts *facts, ztca_time now)
{
    memset(out, 0, sizeof(*out));
    out->score = TRUST_SCORE_MIN;
    ZTCA_ENSURE(num_sigs <= TRUST_SIGNALS_MAX, ZTCA_ERR_BAD_INPUT,
                "trust: too many active signals for one subject");
    ZTCA_ENSURE(facts->attestation >= TRUST_ATTEST_NONE
                    && facts->attestation <= TRUST_ATTEST_TPM_MEASURED_BOOT,
                ZTCA_ERR_BAD_INPUT, "trust: unknown attestation level");
    for (size_t i = 0; i < num_sigs; i++) {
        ZTCA_ENSURE(trust_signal_is_valid(&sigs[i]), ZTCA_ERR_BAD_INPUT, "trust: invalid signal");
    }

    trust_result *r = out; /* about 45 KiB: filled in place */
    for (size_t i = 0; i < num_sigs; i++) {
        const trust_signal *s = &sigs[i];
        bool counts = (s->expires_at == 0 || s->expires_at > now)
                      && !trust_is_derived_kind(s->source, s->kind);
        /* An expired signal stops counting, but it may resurface an earlier one of the same
         * source and kind from another scope: only active signals compete. */
        for (size_t j = 0; j < num_sigs && counts; j++) {
            const trust_signal *o = &sigs[j];
            if (j != i && (o->expires_at == 0 || o->expires_at > now)
                && strcmp(o->source, s->source) == 0 && strcmp(o->kind, s->kind) == 0
                && trust_signal_is_later(o, s)) {
                counts = false;
            }
        }
        if (s->expires_at > now) {
            trust_next_change(r, s->expires_at, now);
        }
        if (!counts) {
            r->num_ignored++;
            continue;
        }
        trust_add(r, p, s->source, s->kind, s->scope, false, s->id, s->impact, s->expires_at);
    }

    trust_add(r, p, TRUST_SOURCE_ZTCA, TRUST_KIND_ATTESTATION, TRUST_SCOPE_DEVICE, true, 0,
              p->attestation_impact[facts->attestation], 0);
    if (facts->last_attested_at != 0 && p->quote_stale_after != 0) {
        ztca_time stale_at = facts->last_attested_at + p->quote_stale_after;
        if (now >= stale_at) {
            trust_add(r, p, TRUST_SOURCE_ZTCA, TRUST_KIND_QUOTE_STALE, TRUST_SCOPE_DEVICE, true, 0,
                      p->quote_stale_impact, 0);
        } else {
            trust_next_change(r, stale_at, now);
        }
    }

    int64_t neg = 0;
    int64_t pos = 0;
    for (size_t i = 0; i < r->num_items; i++) {
        if (r->items[i].effective < 0) {
            neg += r->items[i].effective;
        } else {
            pos += r->items[i].effective;
        }
    }
    r->negative = (int)(neg < -100000 ? -100000 : neg);
    r->positive_uncapped = (int)pos;
    r->positive = (int)(pos > p->positive_cap ? p->positive_cap : pos);
    r->score = trust_clamp(TRUST_SCORE_MAX + (int64_t)r->negative + r->positive, TRUST_SCORE_MIN,
                           TRUST_SCORE_MAX);
    qsort(r->items, r->num_items, sizeof(r->items[0]), trust_contribution_cmp);
    return ZTCA_RC_OK;
}

void
trust_decide(trust_decision *out, const trust_policy *p, const trust_result *r)
{
    memset(out, 0, sizeof(*out));
    out->hold = r->score < p->hold_below;
    out->issue_allowed = r->score >= p->deny_below;
    out->tier = p->num_tiers > 0 ? p->num_tiers - 1 : 0;
    for (size_t i = 0; i < p->num_tiers; i++) {
        if (r->score >= p->tiers[i].min_score) {
            out->tier = i;
            break;
        }
    }
    out->max_ttl = p->num_tiers > 0 ? p->tiers[out->tier].max_ttl : 0;
}

void
trust_reasons(char *out, size_t out_size, const trust_result *r, size_t max)
{
    size_t used = 0;
    size_t shown = 0;
    if (out_size == 0) {
        return;
    }
    out[0] = '\0';
    for (size_t i = 0; i < r->num_items && shown < max; i++) {
        const trust_contribution *c = &r->items[i];
        if (c->effective >= 0) {
            break; /* sorted: the negative ones come first */
        }
        int n = snprintf(out + used, out_size - used, "%s%s/%s %d", shown > 0 ? ", " : "",
                         c->source, c->kind, c->effective);
        if (n < 0 || (size_t)n >= out_size - used) {
            out[used] = '\0'; /* never a truncated entry */
            return;
        }
        used += (size_t)n;
        shown++;
    }
}
