/* store_trust.c: trust scores per device and agent, the holds the trust engine places on their
 * certificates, and the list of scores an expiry or staleness will change (docs/trust.md). The
 * engine itself (trust/) is pure; api/ runs it inside a store transaction on the device's lock. */
#include <string.h>

#include "store/internal.h"

void
store_trust_init(store_trust *t)
{
    memset(t, 0, sizeof(*t));
}

void
store_trust_free(store_trust *t)
{
    if (t == NULL) {
        return;
    }
    ztca_free(t->explanation);
    store_trust_init(t);
}

static bool
store_trust_subject_is_valid(const char *device_id, const char *user)
{
    return store_text_is_valid(device_id, STORE_NAME_MAX)
           && store_text_opt_is_valid(user, STORE_NAME_MAX);
}

ztca_rc
store_trust_get(store *s, const char *device_id, const char *user, store_trust *out)
{
    store_trust_init(out);
    ZTCA_ENSURE(store_trust_subject_is_valid(device_id, user), ZTCA_ERR_BAD_INPUT,
                "store: device id or user is not valid text");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    bool row = false;
    int64_t score = 0, held = 0;
    size_t len = 0;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[2] = { store_p_text(device_id), store_p_text(user != NULL ? user : "") };
    ZTCA_CHECK(store_query(s, STORE_STMT_TRUST_GET, p, 2, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no trust score for this subject");
    ZTCA_CHECK(store_col_int(s, r, 0, &score));
    ZTCA_CHECK(store_col_int(s, r, 1, &held));
    ZTCA_CHECK(store_col_dup(s, r, 2, (uint8_t **)&out->explanation, &len));
    ZTCA_CHECK(store_col_int(s, r, 3, &out->computed_at));
    ZTCA_CHECK(store_col_int_opt(s, r, 4, 0, &out->next_change));
    ZTCA_REQUIRE(score >= 0 && score <= 100, ZTCA_ERR_STORE, "store: trust score out of range");
    out->score = (int)score;
    out->held = held != 0;
    ZTCA_CHECK(store_copy_text(out->device_id, sizeof(out->device_id), device_id));
    ZTCA_CHECK(store_copy_text(out->user, sizeof(out->user), user != NULL ? user : ""));
out:
    store_done(s, r);
    if (!ZTCA_IS_OK(rc)) {
        store_trust_free(out);
    }
    return store_leave(s, STORE_READ, rc);
}

static ztca_rc
store_trust_put_locked(store *s, const store_trust *t, bool publish, const store_audit_event *ev,
                       ztca_time now)
{
    if (publish || ev != NULL) {
        ZTCA_GUARD(store_head_load(s));
    }
    store_param p[7] = {
        store_p_text(t->device_id),
        store_p_text(t->user),
        store_p_int(t->score),
        store_p_int(t->held ? 1 : 0),
        store_p_text(t->explanation),
        store_p_int(t->computed_at != 0 ? t->computed_at : now),
        store_p_time_opt(t->next_change),
    };
    ZTCA_GUARD(store_exec(s, STORE_STMT_TRUST_PUT, p, 7, NULL));
    if (publish) {
        ZTCA_GUARD(
            store_change_add(s, STORE_CHANGE_TRUST, t->device_id, t->score, t->held ? 1 : 0, now));
    }
    return ev != NULL ? store_audit_add(s, ev) : ZTCA_RC_OK;
}

ztca_rc
store_trust_put(store *s, const store_trust *t, bool publish, const store_audit_event *ev)
{
    ZTCA_ENSURE(store_trust_subject_is_valid(t->device_id, t->user), ZTCA_ERR_BAD_INPUT,
                "store: device id or user is not valid text");
    ZTCA_ENSURE(t->score >= 0 && t->score <= 100, ZTCA_ERR_BAD_INPUT,
                "store: a trust score is 0..100");
    ZTCA_ENSURE(t->explanation != NULL, ZTCA_ERR_BAD_INPUT, "store: the explanation is required");
    ZTCA_GUARD(
        store_json_object_check(t->explanation, strnlen(t->explanation, STORE_JSON_MAX + 1)));
    if (ev != NULL) {
        /* The audit detail is usually the explanation itself: parsing it once is enough (the
         * JSON check was 2.5% of an issuance's CPU, docs/performance.md). */
        store_audit_event e = *ev;
        if (e.detail == t->explanation) {
            e.detail = NULL;
        }
        ZTCA_GUARD(store_event_check(&e));
    }
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_trust_put_locked(s, t, publish, ev, store_now(0)));
}

typedef struct store_trust_cert {
    char serial[STORE_SERIAL_MAX + 1];
    int64_t status;
    int64_t held_by_trust;
} store_trust_cert;

static ztca_rc
store_trust_hold_locked(store *s, const char *device_id, const char *user, bool hold, ztca_time at,
                        size_t *out_num)
{
    ztca_rc rc = ZTCA_RC_OK;
    store_rows *r = NULL;
    store_trust_cert *certs = NULL;
    size_t num = 0, cap = 0, changed = 0;
    store_param p[3] = { store_p_text(device_id), store_p_text(user), store_p_int(at) };
    /* Read first, then change: one statement at a time per connection. A release (every
     * evaluation whose score allows, so every issuance) reads the engine's holds only, through
     * their own index: the subject's live certificates can be thousands. */
    ZTCA_CHECK(store_query(
        s, hold ? STORE_STMT_CERT_LIVE_OF_SUBJECT : STORE_STMT_CERT_TRUST_HELD_OF_SUBJECT, p, 3,
        &r));
    for (;;) {
        bool row = false;
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        if (num == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            void *g = ztca_realloc(certs, ncap * sizeof(*certs));
            ZTCA_REQUIRE(g != NULL, ZTCA_ERR_NOMEM, "out of memory");
            certs = g;
            cap = ncap;
        }
        ZTCA_CHECK(store_col_text(s, r, 0, certs[num].serial, sizeof(certs[num].serial)));
        ZTCA_CHECK(store_col_int(s, r, 1, &certs[num].status));
        ZTCA_CHECK(store_col_int(s, r, 2, &certs[num].held_by_trust));
        num++;
    }
    store_done(s, r);
    r = NULL;
    for (size_t i = 0; i < num; i++) {
        const store_trust_cert *c = &certs[i];
        bool to_hold = hold && c->status == STORE_CERT_GOOD;
        bool to_release = !hold && c->status == STORE_CERT_HOLD && c->held_by_trust != 0;
        if (!to_hold && !to_release) {
            continue;
        }
        if (changed == 0) {
            ZTCA_CHECK(store_head_load(s));
        }
        store_param u[5] = {
            store_p_text(c->serial),
            store_p_int(to_hold ? STORE_CERT_HOLD : STORE_CERT_GOOD),
            to_hold ? store_p_int(at) : store_p_null(),
            to_hold ? store_p_int(STORE_REASON_CERTIFICATE_HOLD) : store_p_null(),
            store_p_int(to_hold ? 1 : 0),
        };
        ZTCA_CHECK(store_exec(s, STORE_STMT_CERT_SET_TRUST_HOLD, u, 5, NULL));
        ZTCA_CHECK(store_change_add(
            s, STORE_CHANGE_CERT, c->serial, to_hold ? STORE_CERT_HOLD : STORE_CERT_GOOD,
            to_hold ? STORE_REASON_CERTIFICATE_HOLD : STORE_REASON_NONE, at));
        changed++;
    }
    *out_num = changed;
out:
    store_done(s, r);
    ztca_free(certs);
    return rc;
}

ztca_rc
store_trust_hold(store *s, const char *device_id, const char *user, bool hold, ztca_time at,
                 size_t *out_num)
{
    size_t num = 0;
    ZTCA_ENSURE(store_trust_subject_is_valid(device_id, user), ZTCA_ERR_BAD_INPUT,
                "store: device id or user is not valid text");
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    ztca_rc rc = store_leave(
        s, STORE_WRITE,
        store_trust_hold_locked(s, device_id, user != NULL ? user : "", hold, store_now(at), &num));
    if (ZTCA_IS_OK(rc) && out_num != NULL) {
        *out_num = num;
    }
    return rc;
}

ztca_rc
store_trust_list_due(store *s, ztca_time now, size_t limit, store_trust_due_cb cb, void *ctx)
{
    ZTCA_ENSURE(limit > 0 && limit <= STORE_LIST_MAX, ZTCA_ERR_BAD_INPUT,
                "store: list limit must be 1-1000");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[2] = { store_p_int(store_now(now)), store_p_int((int64_t)limit) };
    ZTCA_CHECK(store_query(s, STORE_STMT_TRUST_DUE, p, 2, &r));
    for (;;) {
        bool row = false;
        char device_id[STORE_NAME_MAX + 1];
        char user[STORE_NAME_MAX + 1];
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        ZTCA_CHECK(store_col_text(s, r, 0, device_id, sizeof(device_id)));
        ZTCA_CHECK(store_col_text(s, r, 1, user, sizeof(user)));
        STORE_RUN_CB(s, cb(ctx, device_id, user));
    }
out:
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}
