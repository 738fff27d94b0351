/* api_trust.c: the trust engine around trust/ (docs/trust.md): signals in over the API, scores
 * computed in one store transaction under the device's lock, holds and releases through the
 * store's change feed (so every node's OCSP answers follow within a poll), and the sweep that
 * re-evaluates what an expiry or staleness changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define API_TRUST_FANOUT_MAX 1000 /* agents re-evaluated after a device or user signal */

/* ---- inputs ------------------------------------------------------------------------------- */

/* The subject's signals, copied out of the store's callback (its strings live until the next
 * row only). */
typedef struct api_trust_inputs {
    trust_signal sigs[TRUST_SIGNALS_MAX];
    char names[TRUST_SIGNALS_MAX][2][TRUST_NAME_MAX + 1];
    size_t num;
    size_t skipped; /* unusable names or beyond TRUST_SIGNALS_MAX (logged) */
    trust_result result;
} api_trust_inputs;

/* ~120 KiB: not on a request thread's stack. Not calloc: zeroing it all was 0.4% of an issuance
 * (every evaluation), and only the first `num` signals are ever read. */
static api_trust_inputs *
api_trust_inputs_new(void)
{
    api_trust_inputs *in = malloc(sizeof(*in));
    if (in != NULL) {
        in->num = 0;
        in->skipped = 0;
        memset(&in->result, 0, sizeof(in->result));
    }
    return in;
}

static ztca_rc
api_trust_collect(void *ctx, const store_signal *s)
{
    api_trust_inputs *in = ctx;
    if (in->num == TRUST_SIGNALS_MAX || !trust_name_is_valid(s->source)
        || !trust_name_is_valid(s->kind) || s->impact < TRUST_IMPACT_MIN
        || s->impact > TRUST_IMPACT_MAX) {
        in->skipped++;
        return ZTCA_RC_OK;
    }
    size_t i = in->num++;
    /* Checked above: valid names fit TRUST_NAME_MAX. */
    memcpy(in->names[i][0], s->source, strlen(s->source) + 1);
    memcpy(in->names[i][1], s->kind, strlen(s->kind) + 1);
    trust_signal *t = &in->sigs[i];
    t->id = s->id;
    t->scope = s->device_id[0] == '\0' ? TRUST_SCOPE_USER
               : s->user[0] == '\0'    ? TRUST_SCOPE_DEVICE
                                       : TRUST_SCOPE_AGENT;
    t->source = in->names[i][0];
    t->kind = in->names[i][1];
    t->impact = s->impact;
    t->created_at = s->created_at;
    t->expires_at = s->expires_at;
    return ZTCA_RC_OK;
}

/* What the device's last attestation says (enroll/ writes "attestation" and
 * "last_attestation" into its facts); a device without them attested nothing. */
static void
api_trust_facts(const char *facts_json, trust_facts *out)
{
    json_error_t err;
    out->attestation = TRUST_ATTEST_NONE;
    out->last_attested_at = 0;
    json_t *f = facts_json != NULL ? json_loads(facts_json, 0, &err) : NULL;
    const char *level = json_string_value(json_object_get(f, "attestation"));
    const char *when = json_string_value(json_object_get(f, "last_attestation"));
    ca_attestation a;
    if (level != NULL && ZTCA_IS_OK(ca_attestation_parse(&a, level))) {
        out->attestation = (trust_attestation)a;
    }
    ztca_time t = 0;
    if (when != NULL && ZTCA_IS_OK(ztca_time_parse_rfc3339(&t, when))) {
        out->last_attested_at = t;
    }
    ztca_clear_error();
    json_decref(f);
}

/* ---- the explanation (docs/trust.md "Explanation") ---------------------------------------- */

static json_t *
api_trust_explain(const trust_policy *p, const trust_result *r, const trust_decision *d,
                  const trust_facts *facts, ztca_time now, int previous, size_t num_certs)
{
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < r->num_items; i++) {
        const trust_contribution *c = &r->items[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b}", "source", c->source, "kind", c->kind,
                      "scope", trust_scope_name(c->scope), "impact", c->impact, "weight", c->weight,
                      "effective", c->effective, "derived", c->derived);
        if (o != NULL && !c->derived) {
            json_object_set_new(o, "signal_id", json_integer(c->id));
            json_object_set_new(o, "expires_at", api_time_json(c->expires_at));
        }
        if (o == NULL || json_array_append_new(items, o) != 0) {
            json_decref(items);
            return NULL;
        }
    }
    if (items == NULL) {
        return NULL;
    }
    json_t *e = json_pack(
        "{s:i, s:b, s:b, s:o, s:{s:i, s:i, s:I, s:i}, s:{s:s, s:o}, s:i, s:i, s:i, s:I, s:o, "
        "s:o}",
        "score", r->score, "held", d->hold, "issue_allowed", d->issue_allowed, "max_ttl",
        d->max_ttl != 0 ? json_integer(d->max_ttl) : json_null(), "policy", "hold_below",
        p->hold_below, "deny_below", p->deny_below, "tier", (json_int_t)d->tier, "positive_cap",
        p->positive_cap, "facts", "attestation", trust_attestation_name(facts->attestation),
        "last_attestation", api_time_json(facts->last_attested_at), "negative", r->negative,
        "positive", r->positive, "ignored", (int)r->num_ignored, "certificates_changed",
        (json_int_t)num_certs, "computed_at", api_time_json(now), "next_change",
        api_time_json(r->next_change));
    if (e == NULL) {
        json_decref(items);
        return NULL;
    }
    if (previous >= 0) {
        json_object_set_new(e, "previous", json_integer(previous));
    }
    json_object_set_new(e, "contributions", items);
    return e;
}

/* ---- evaluation --------------------------------------------------------------------------- */

static ztca_rc
api_trust_evaluate_locked(api_server *srv, store *st, const char *device_id, const char *user,
                          const store_device *locked, const store_signal *insert,
                          const store_audit_event *insert_ev, const char *actor,
                          api_trust_inputs *in, api_trust_outcome *out, int64_t *out_signal_id)
{
    ztca_rc rc = ZTCA_RC_OK;
    const trust_policy *p = api_server_trust_policy(srv);
    store_device dev;
    store_trust prev;
    trust_facts facts;
    trust_decision d;
    json_t *expl = NULL;
    char *text = NULL;
    char subject[2 * STORE_NAME_MAX + 2];
    store_device_init(&dev);
    store_trust_init(&prev);
    ztca_time now = ztca_now();

    if (locked == NULL) {
        ZTCA_CHECK(store_device_lock(st, device_id, &dev));
        locked = &dev;
    }
    if (insert != NULL) {
        ZTCA_CHECK(store_signal_insert(st, insert, insert_ev, out_signal_id));
    }
    api_trust_facts(locked->facts, &facts);
    ZTCA_CHECK(store_signal_list_for_subject(st, device_id, user, now, api_trust_collect, in));
    if (in->skipped > 0) {
        ztca_log(ZTCA_LOG_WARN, "event=trust_signals_skipped device=\"%s\" user=\"%s\" n=%zu",
                 device_id, user, in->skipped);
    }
    rc = store_trust_get(st, device_id, user, &prev);
    bool had = ZTCA_IS_OK(rc);
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        rc = ZTCA_RC_OK;
    }
    ZTCA_CHECK(rc);
    ZTCA_CHECK(trust_score(&in->result, p, in->sigs, in->num, &facts, now));
    trust_decide(&d, p, &in->result);

    /* Holds first, so that the audit entry can say how many certificates followed. */
    size_t num_certs = 0;
    ZTCA_CHECK(store_trust_hold(st, device_id, user, d.hold, now, &num_certs));
    int previous = had ? prev.score : -1;
    expl = api_trust_explain(p, &in->result, &d, &facts, now, previous, num_certs);
    ZTCA_REQUIRE(expl != NULL, ZTCA_ERR_NOMEM, "trust: out of memory");
    text = json_dumps(expl, JSON_COMPACT | JSON_PRESERVE_ORDER);
    ZTCA_REQUIRE(text != NULL, ZTCA_ERR_NOMEM, "trust: out of memory");

    bool changed = !had || prev.score != in->result.score || prev.held != d.hold;
    store_trust t;
    store_trust_init(&t);
    snprintf(t.device_id, sizeof(t.device_id), "%s", device_id);
    snprintf(t.user, sizeof(t.user), "%s", user);
    t.score = in->result.score;
    t.held = d.hold;
    t.explanation = text;
    t.computed_at = now;
    t.next_change = in->result.next_change;
    snprintf(subject, sizeof(subject), "%s%s%s", device_id, user[0] != '\0' ? "/" : "", user);
    store_audit_event ev = { actor, "trust.score", subject, text, now };
    ZTCA_CHECK(store_trust_put(st, &t, changed, changed || num_certs > 0 ? &ev : NULL));

    memset(out, 0, sizeof(*out));
    out->score = in->result.score;
    out->held = d.hold;
    out->changed = changed;
    out->previous = previous;
    out->num_certs = num_certs;
    out->decision = d;
    trust_reasons(out->reasons, sizeof(out->reasons), &in->result, 8);
    if (changed) {
        ztca_log(ZTCA_LOG_INFO,
                 "event=trust_score device=\"%s\" user=\"%s\" score=%d previous=%d held=%d "
                 "certs_changed=%zu",
                 device_id, user, out->score, previous, d.hold ? 1 : 0, num_certs);
    }
out:
    free(text); /* json_dumps: jansson's allocator */
    json_decref(expl);
    store_trust_free(&prev);
    store_device_free(&dev);
    return rc;
}

ztca_rc
api_trust_evaluate(api_server *srv, const char *device_id, const char *user,
                   const store_signal *insert, const store_audit_event *insert_ev,
                   const char *actor, api_trust_outcome *out, int64_t *out_signal_id)
{
    store *st = api_server_app(srv)->store;
    api_trust_inputs *in = api_trust_inputs_new();
    ZTCA_ENSURE(in != NULL, ZTCA_ERR_NOMEM, "trust: out of memory");
    ztca_rc rc = store_txn_begin(st);
    if (ZTCA_IS_OK(rc)) {
        rc = api_trust_evaluate_locked(srv, st, device_id, user != NULL ? user : "", NULL, insert,
                                       insert_ev, actor, in, out, out_signal_id);
        if (ZTCA_IS_OK(rc)) {
            rc = store_txn_commit(st);
        } else {
            store_txn_rollback(st);
        }
    }
    free(in);
    /* This node answers from the new state at once; the others follow through the feed. */
    if (ZTCA_IS_OK(rc)
        && (out->num_certs > 0
            || (out->changed && api_server_trust_policy(srv)->score_extension))) {
        api_server_device_changed(srv, device_id);
    } else if (ZTCA_IS_OK(rc) && out->changed) {
        api_authz_changed(api_server_authz(srv)); /* authz judges the score itself */
    }
    return rc;
}

ztca_rc
api_trust_evaluate_txn(api_server *srv, const char *device_id, const char *user,
                       const store_device *locked, const char *actor, api_trust_outcome *out)
{
    api_trust_inputs *in = api_trust_inputs_new();
    ZTCA_ENSURE(in != NULL, ZTCA_ERR_NOMEM, "trust: out of memory");
    ztca_rc rc = api_trust_evaluate_locked(srv, api_server_app(srv)->store, device_id,
                                           user != NULL ? user : "", locked, NULL, NULL, actor, in,
                                           out, NULL);
    free(in);
    return rc;
}

/* ---- the sweep ---------------------------------------------------------------------------- */

typedef struct api_trust_due {
    char device_id[STORE_NAME_MAX + 1];
    char user[STORE_NAME_MAX + 1];
} api_trust_due;

typedef struct api_trust_due_list {
    api_trust_due items[STORE_LIST_MAX];
    size_t num;
} api_trust_due_list;

static ztca_rc
api_trust_due_cb(void *ctx, const char *device_id, const char *user)
{
    api_trust_due_list *l = ctx;
    if (l->num < STORE_LIST_MAX) {
        snprintf(l->items[l->num].device_id, sizeof(l->items[0].device_id), "%s", device_id);
        snprintf(l->items[l->num].user, sizeof(l->items[0].user), "%s", user);
        l->num++;
    }
    return ZTCA_RC_OK;
}

void
api_trust_sweep(api_server *srv)
{
    api_trust_due_list *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return;
    }
    /* Every node sweeps; the device lock and the comparison with the stored score make a
     * second evaluation of the same subject a no-op in the audit log and the feed. */
    if (ZTCA_IS_OK(store_trust_list_due(api_server_app(srv)->store, ztca_now(), STORE_LIST_MAX,
                                        api_trust_due_cb, l))) {
        for (size_t i = 0; i < l->num; i++) {
            api_trust_outcome o;
            ztca_rc rc = api_trust_evaluate(srv, l->items[i].device_id, l->items[i].user, NULL,
                                            NULL, "system:trust-sweep", &o, NULL);
            if (!ZTCA_IS_OK(rc)) {
                ztca_log(ZTCA_LOG_WARN, "event=trust_sweep_failed device=\"%s\" what=\"%s\"",
                         l->items[i].device_id, ztca_last_what());
            }
        }
    }
    free(l);
}

/* ---- POST .../signals --------------------------------------------------------------------- */

typedef struct api_trust_fanout {
    api_trust_due items[API_TRUST_FANOUT_MAX];
    size_t num;
    bool truncated;
} api_trust_fanout;

static ztca_rc
api_trust_agent_cb(void *ctx, const store_agent *a)
{
    api_trust_fanout *f = ctx;
    if (f->num == API_TRUST_FANOUT_MAX) {
        f->truncated = true;
        return ZTCA_RC_OK;
    }
    snprintf(f->items[f->num].device_id, sizeof(f->items[0].device_id), "%s", a->device_id);
    snprintf(f->items[f->num].user, sizeof(f->items[0].user), "%s", a->user);
    f->num++;
    return ZTCA_RC_OK;
}

static json_t *
api_trust_subject_json(const char *device_id, const char *user, const api_trust_outcome *o)
{
    return json_pack("{s:s, s:s?, s:i, s:b, s:b, s:b}", "device_id", device_id, "user",
                     user[0] != '\0' ? user : NULL, "score", o->score, "held", o->held,
                     "issue_allowed", o->decision.issue_allowed, "changed", o->changed);
}

/* Who may post which source (least privilege): a signal feeder speaks only for itself, so one
 * integration cannot replace another's signal; an administrator may name any source but ztca's
 * own. */
static bool
api_trust_source(api_req *r, const api_signal_req *req, char *out, size_t out_size)
{
    if (strcmp(req->source, TRUST_SOURCE_ZTCA) == 0) {
        api_reply_problem(r, 400, "reserved-source", "Reserved source",
                          "source \"ztca\" is reserved for the signals ztca derives itself");
        return false;
    }
    if (strcmp(r->peer.kind, "signal-feeder") == 0) {
        if (!trust_name_is_valid(r->peer.user)) {
            api_reply_problem(r, 403, "feeder-source", "Source not allowed",
                              "this signal feeder's name is not a valid source name "
                              "(lowercase letters, digits, '.', '_' and '-')");
            return false;
        }
        if (req->source[0] != '\0' && strcmp(req->source, r->peer.user) != 0) {
            api_reply_problem(r, 403, "feeder-source", "Source not allowed",
                              "a signal feeder may only post signals of its own source (its "
                              "certificate's name)");
            return false;
        }
        if (strlen(r->peer.user) >= out_size) {
            return false; /* a valid name fits; kept for the analyzer */
        }
        memcpy(out, r->peer.user, strlen(r->peer.user) + 1);
        return true;
    }
    snprintf(out, out_size, "%s", req->source[0] != '\0' ? req->source : "admin");
    return true;
}

typedef enum api_trust_target {
    API_TARGET_DEVICE,
    API_TARGET_AGENT,
    API_TARGET_USER
} api_trust_target;

static ztca_rc
api_trust_post(api_req *r, api_trust_target target)
{
    api_signal_req req;
    const char *type = NULL;
    char source[TRUST_NAME_MAX + 1];
    char actor[STORE_NAME_MAX + 16];
    const char *device_id = target == API_TARGET_USER ? "" : r->params[0];
    const char *user = target == API_TARGET_AGENT  ? r->params[1]
                       : target == API_TARGET_USER ? r->params[0]
                                                   : "";
    if ((device_id[0] != '\0' && !ca_name_is_valid(device_id))
        || (user[0] != '\0' && !ca_name_is_valid(user))) {
        api_reply_problem(r, 400, "bad-subject", "Malformed device id or user",
                          "device ids and users are 1-64 of [A-Za-z0-9._-]");
        return ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "bad subject", 0);
    }
    ZTCA_GUARD(api_require_json(r));
    ztca_rc drc = api_decode_signal(r->body, r->body_len, &req, &type);
    if (!ZTCA_IS_OK(drc)) {
        api_reply_decode_error(r, type);
        return drc;
    }
    if (!api_trust_source(r, &req, source, sizeof(source))) {
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "signal source refused", 0);
    }
    api_actor(r, actor, sizeof(actor));
    ztca_time now = ztca_now();

    store_signal sig;
    store_signal_init(&sig);
    snprintf(sig.device_id, sizeof(sig.device_id), "%s", device_id);
    snprintf(sig.user, sizeof(sig.user), "%s", user);
    snprintf(sig.source, sizeof(sig.source), "%s", source);
    snprintf(sig.kind, sizeof(sig.kind), "%s", req.kind);
    sig.impact = req.impact;
    sig.created_at = now;
    sig.expires_at = req.expires_in != 0 ? now + req.expires_in : 0;
    json_t *dj = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:s}", "device_id", device_id, "user",
                           user, "source", source, "kind", req.kind, "impact", req.impact,
                           "expires_at", api_time_json(sig.expires_at), "note", req.note);
    char *detail = dj != NULL ? json_dumps(dj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(dj);
    ZTCA_ENSURE(detail != NULL, ZTCA_ERR_NOMEM, "out of memory");
    sig.detail = detail;
    char subject[2 * STORE_NAME_MAX + 8];
    snprintf(subject, sizeof(subject), "%s%s%s", target == API_TARGET_USER ? "user:" : device_id,
             target == API_TARGET_AGENT ? "/" : "", user);
    store_audit_event ev = { actor, "signal.add", subject, detail, now };

    api_trust_fanout *fan = calloc(1, sizeof(*fan));
    ztca_rc rc = ZTCA_RC_OK;
    json_t *subjects = json_array();
    json_t *reply = NULL;
    api_trust_outcome first;
    bool have_first = false;
    int64_t signal_id = 0;
    int lowest = -1;
    bool any_held = false;
    ZTCA_REQUIRE(fan != NULL && subjects != NULL, ZTCA_ERR_NOMEM, "out of memory");

    if (target == API_TARGET_USER) {
        store_user u;
        rc = store_user_get(r->app->store, user, &u);
        if (rc.err == ZTCA_ERR_NOT_FOUND) {
            api_reply_problem(r, 404, "not-found", "Not found", "no such user");
            goto out;
        }
        ZTCA_CHECK(rc);
        ZTCA_CHECK(store_signal_insert(r->app->store, &sig, &ev, &signal_id));
        ZTCA_CHECK(store_agent_list_by_user(r->app->store, user, api_trust_agent_cb, fan));
    } else {
        if (target == API_TARGET_AGENT) {
            store_agent a;
            rc = store_agent_get(r->app->store, device_id, user, &a);
            if (rc.err == ZTCA_ERR_NOT_FOUND) {
                api_reply_problem(r, 404, "not-found", "Not found",
                                  "no such agent (this user has not enrolled this device)");
                goto out;
            }
            ZTCA_CHECK(rc);
        }
        rc = api_trust_evaluate(r->srv, device_id, user, &sig, &ev, actor, &first, &signal_id);
        if (rc.err == ZTCA_ERR_NOT_FOUND) {
            api_reply_problem(r, 404, "not-found", "Not found", "no such device");
            goto out;
        }
        ZTCA_CHECK(rc);
        have_first = true;
        lowest = first.score;
        json_array_append_new(subjects, api_trust_subject_json(device_id, user, &first));
        if (target == API_TARGET_DEVICE) {
            ZTCA_CHECK(
                store_agent_list_by_device(r->app->store, device_id, api_trust_agent_cb, fan));
        }
    }
    /* The agents the signal also counts for, each in its own transaction: a later one sees
     * the signal committed above. */
    for (size_t i = 0; i < fan->num; i++) {
        api_trust_outcome o;
        ZTCA_CHECK(api_trust_evaluate(r->srv, fan->items[i].device_id, fan->items[i].user, NULL,
                                      NULL, actor, &o, NULL));
        json_array_append_new(
            subjects, api_trust_subject_json(fan->items[i].device_id, fan->items[i].user, &o));
        if (lowest < 0 || o.score < lowest) {
            lowest = o.score;
        }
        any_held = any_held || o.held;
    }
    if (fan->truncated) {
        ztca_log(ZTCA_LOG_WARN, "event=trust_fanout_truncated subject=\"%s\" max=%d", subject,
                 API_TRUST_FANOUT_MAX);
    }
    reply =
        json_pack("{s:I, s:{s:s?, s:s?}, s:s, s:s, s:i, s:o}", "signal_id", (json_int_t)signal_id,
                  "target", "device_id", device_id[0] != '\0' ? device_id : NULL, "user",
                  user[0] != '\0' ? user : NULL, "source", source, "kind", req.kind, "impact",
                  req.impact, "expires_at", api_time_json(sig.expires_at));
    ZTCA_REQUIRE(reply != NULL, ZTCA_ERR_NOMEM, "out of memory");
    /* "score": the target's own score; for a user, the lowest of its agents' (none: null). */
    json_object_set_new(reply, "score", lowest >= 0 ? json_integer(lowest) : json_null());
    json_object_set_new(reply, "held", json_boolean(have_first ? first.held : any_held));
    json_object_set_new(reply, "subjects", subjects);
    subjects = NULL;
    api_reply_json(r, 201, reply);
    reply = NULL;
out:
    json_decref(subjects);
    json_decref(reply);
    free(fan);
    free(detail); /* json_dumps: jansson's allocator */
    return rc;
}

ztca_rc
api_h_signals_device(api_req *r)
{
    return api_trust_post(r, API_TARGET_DEVICE);
}

ztca_rc
api_h_signals_agent(api_req *r)
{
    return api_trust_post(r, API_TARGET_AGENT);
}

ztca_rc
api_h_signals_user(api_req *r)
{
    return api_trust_post(r, API_TARGET_USER);
}

void
api_trust_denied(api_req *r, const api_trust_outcome *o)
{
    char detail[700];
    snprintf(detail, sizeof(detail),
             "trust score %d is below the issuance threshold %d (docs/trust.md): %s", o->score,
             api_server_trust_policy(r->srv)->deny_below,
             o->reasons[0] != '\0' ? o->reasons : "no negative signal");
    api_reply_problem(r, 403, "trust-denied", "Denied by the trust policy", detail);
}

ztca_rc
api_trust_cap_ttl(const ca_profile *p, int64_t requested, const api_trust_outcome *o, int64_t *out)
{
    int64_t ttl = 0;
    ZTCA_GUARD(ca_profile_ttl(p, requested, &ttl));
    /* The tier lowers a TTL and never raises one; a request above the tier gets the tier's. */
    if (o->decision.max_ttl != 0 && ttl > o->decision.max_ttl) {
        ttl = o->decision.max_ttl;
    }
    *out = ttl;
    return ZTCA_RC_OK;
}

json_t *
api_trust_json(store *st, const char *device_id, const char *user, ztca_rc *out_rc)
{
    store_trust t;
    json_error_t err;
    *out_rc = store_trust_get(st, device_id, user, &t);
    if (out_rc->err == ZTCA_ERR_NOT_FOUND) {
        *out_rc = ZTCA_RC_OK;
        return json_null();
    }
    if (!ZTCA_IS_OK(*out_rc)) {
        return NULL;
    }
    json_t *e = json_loads(t.explanation, JSON_REJECT_DUPLICATES, &err);
    store_trust_free(&t);
    return e != NULL ? e : json_null();
}
