/* store_signal.c: trust signals (DESIGN.md 4): facts about a device or agent from a source, with
 * an impact on its score, optionally expiring. trust/ computes scores from them. */
#include <string.h>

#include "store/internal.h"

void
store_signal_init(store_signal *sig)
{
    memset(sig, 0, sizeof(*sig));
}

void
store_signal_free(store_signal *sig)
{
    if (sig == NULL) {
        return;
    }
    ztca_free(sig->detail);
    store_signal_init(sig);
}

static ztca_rc
store_signal_add(store *s, const store_signal *sig, const store_audit_event *ev, int64_t *out_id)
{
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    if (ev != NULL) {
        ZTCA_CHECK(store_head_load(s));
    }
    /* The latest signal of a target, source and kind replaces the earlier one. */
    if (sig->device_id[0] != '\0') {
        store_param d[4] = { store_p_text(sig->device_id), store_p_text(sig->user),
                             store_p_text(sig->source), store_p_text(sig->kind) };
        ZTCA_CHECK(store_exec(s, STORE_STMT_SIGNAL_REPLACE_DEVICE, d, 4, NULL));
    } else {
        store_param d[3] = { store_p_text(sig->user), store_p_text(sig->source),
                             store_p_text(sig->kind) };
        ZTCA_CHECK(store_exec(s, STORE_STMT_SIGNAL_REPLACE_USER, d, 3, NULL));
    }
    store_param p[8] = {
        store_p_text_opt(sig->device_id),
        store_p_text_opt(sig->user),
        store_p_text(sig->source),
        store_p_text(sig->kind),
        store_p_int(sig->impact),
        store_p_text(sig->detail != NULL ? sig->detail : "{}"),
        store_p_int(store_now(sig->created_at)),
        store_p_time_opt(sig->expires_at),
    };
    ZTCA_CHECK(store_query(s, STORE_STMT_SIGNAL_INSERT, p, 8, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_STORE, "store: no id for the new signal");
    ZTCA_CHECK(store_col_int(s, r, 0, out_id));
    /* Step to the end: SQLite runs foreign key checks when the statement completes. */
    while (row) {
        ZTCA_CHECK(store_step(s, r, &row));
    }
    store_done(s, r);
    r = NULL;
    if (ev != NULL) {
        ZTCA_CHECK(store_audit_add(s, ev));
    }
out:
    store_done(s, r);
    return rc;
}

ztca_rc
store_signal_insert(store *s, const store_signal *sig, const store_audit_event *ev, int64_t *out_id)
{
    int64_t id = 0;
    ZTCA_ENSURE(store_text_opt_is_valid(sig->device_id, STORE_NAME_MAX)
                    && store_text_opt_is_valid(sig->user, STORE_NAME_MAX)
                    && (sig->device_id[0] != '\0' || sig->user[0] != '\0')
                    && store_text_is_valid(sig->source, STORE_NAME_MAX)
                    && store_text_is_valid(sig->kind, STORE_NAME_MAX),
                ZTCA_ERR_BAD_INPUT,
                "store: signal device, user, source or kind is not valid text (a device or a user "
                "is required)");
    ZTCA_ENSURE(sig->impact >= -100 && sig->impact <= 100, ZTCA_ERR_BAD_INPUT,
                "store: signal impact must be -100..100");
    if (sig->detail != NULL) {
        ZTCA_GUARD(store_json_object_check(sig->detail, strnlen(sig->detail, STORE_JSON_MAX + 1)));
    }
    if (ev != NULL) {
        ZTCA_GUARD(store_event_check(ev));
    }
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    ztca_rc rc = store_leave(s, STORE_WRITE, store_signal_add(s, sig, ev, &id));
    if (ZTCA_IS_OK(rc) && out_id != NULL) {
        *out_id = id;
    }
    return rc;
}

static ztca_rc
store_signal_read(store *s, store_rows *r, store_signal *sig)
{
    int64_t impact = 0;
    size_t len = 0;
    ZTCA_GUARD(store_col_int(s, r, 0, &sig->id));
    ZTCA_GUARD(store_col_text(s, r, 1, sig->device_id, sizeof(sig->device_id)));
    ZTCA_GUARD(store_col_text(s, r, 2, sig->user, sizeof(sig->user)));
    ZTCA_GUARD(store_col_text(s, r, 3, sig->source, sizeof(sig->source)));
    ZTCA_GUARD(store_col_text(s, r, 4, sig->kind, sizeof(sig->kind)));
    ZTCA_GUARD(store_col_int(s, r, 5, &impact));
    ZTCA_GUARD(store_col_dup(s, r, 6, (uint8_t **)&sig->detail, &len));
    ZTCA_GUARD(store_col_int(s, r, 7, &sig->created_at));
    ZTCA_GUARD(store_col_int_opt(s, r, 8, 0, &sig->expires_at));
    sig->impact = (int)impact;
    return ZTCA_RC_OK;
}

/* The rows of a listing statement, each to `cb`. */
static ztca_rc
store_signal_walk(store *s, store_stmt stmt, const store_param *p, size_t num_params,
                  store_signal_cb cb, void *ctx)
{
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    store_signal sig;
    store_signal_init(&sig);
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_CHECK(store_query(s, stmt, p, num_params, &r));
    for (;;) {
        bool row = false;
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        store_signal_free(&sig);
        ZTCA_CHECK(store_signal_read(s, r, &sig));
        STORE_RUN_CB(s, cb(ctx, &sig));
    }
out:
    store_signal_free(&sig);
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

ztca_rc
store_signal_list_by_device(store *s, const char *device_id, ztca_time now, store_signal_cb cb,
                            void *ctx)
{
    ZTCA_ENSURE(store_text_is_valid(device_id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id is not valid text");
    store_param p[2] = { store_p_text(device_id), store_p_int(store_now(now)) };
    return store_signal_walk(s, STORE_STMT_SIGNAL_LIST_DEVICE, p, 2, cb, ctx);
}

typedef struct store_signal_filter {
    const char *user; /* "" for a device's score: only the device's own signals */
    store_signal_cb cb;
    void *ctx;
} store_signal_filter;

static ztca_rc
store_signal_filter_cb(void *ctx, const store_signal *sig)
{
    store_signal_filter *f = ctx;
    if (sig->user[0] != '\0' && strcmp(sig->user, f->user) != 0) {
        return ZTCA_RC_OK; /* another agent of the device */
    }
    return f->cb(f->ctx, sig);
}

ztca_rc
store_signal_list_for_subject(store *s, const char *device_id, const char *user, ztca_time now,
                              store_signal_cb cb, void *ctx)
{
    ZTCA_ENSURE(store_text_is_valid(device_id, STORE_NAME_MAX)
                    && store_text_opt_is_valid(user, STORE_NAME_MAX),
                ZTCA_ERR_BAD_INPUT, "store: device id or user is not valid text");
    store_signal_filter f = { user != NULL ? user : "", cb, ctx };
    /* One statement for both lists (a round trip less on PostgreSQL, inside issuance): the
     * device's signals first, then the user's own (device_id NULL; none when user is ""). */
    store_param p[3] = { store_p_text(device_id), store_p_text(f.user),
                         store_p_int(store_now(now)) };
    return store_signal_walk(s, STORE_STMT_SIGNAL_LIST_SUBJECT, p, 3, store_signal_filter_cb, &f);
}
