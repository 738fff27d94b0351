/* store_oidc.c: OIDC provisioners (shared by every node through the store) and the replay cache
 * of accepted ID tokens. */
#include <string.h>

#include "store/internal.h"

static bool
store_hex64_is_valid(const char *key)
{
    if (strlen(key) != 64) {
        return false;
    }
    for (const char *p = key; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return false;
        }
    }
    return true;
}

static ztca_rc
store_provisioner_put_locked(store *s, const char *name, const char *config, bool replace,
                             const store_audit_event *ev)
{
    int64_t changes = 0;
    store_param p[3] = { store_p_text(name), store_p_text(config), store_p_int(store_now(0)) };
    ZTCA_GUARD(store_head_load(s));
    if (replace) {
        ZTCA_GUARD(store_exec(s, STORE_STMT_PROVISIONER_UPDATE, p, 3, &changes));
    }
    if (changes == 0) {
        ZTCA_GUARD(store_exec(s, STORE_STMT_PROVISIONER_INSERT, p, 3, NULL));
    }
    return store_audit_add(s, ev);
}

ztca_rc
store_provisioner_put(store *s, const char *name, const char *config, bool replace,
                      const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_is_valid(name, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: provisioner name is not valid text");
    ZTCA_ENSURE(config != NULL && strlen(config) <= STORE_PROVISIONER_MAX, ZTCA_ERR_BAD_INPUT,
                "store: provisioner config missing or too large");
    ZTCA_ENSURE(ev != NULL, ZTCA_ERR_BAD_INPUT, "store: a provisioner change needs an audit event");
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_provisioner_put_locked(s, name, config, replace, ev));
}

ztca_rc
store_provisioner_get(store *s, const char *name, char **out_config)
{
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t *text = NULL;
    size_t len = 0;
    ZTCA_ENSURE(store_text_is_valid(name, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: provisioner name is not valid text");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_param p[1] = { store_p_text(name) };
    ZTCA_CHECK(store_query(s, STORE_STMT_PROVISIONER_GET, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no provisioner with this name");
    ZTCA_CHECK(store_col_dup(s, r, 0, &text, &len));
    ZTCA_REQUIRE(text != NULL, ZTCA_ERR_STORE, "store: provisioner without a config");
    *out_config = (char *)text;
    text = NULL;
out:
    store_done(s, r);
    ztca_free(text);
    return store_leave(s, STORE_READ, rc);
}

ztca_rc
store_provisioner_list(store *s, store_provisioner_cb cb, void *ctx)
{
    store_rows *r = NULL;
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_GUARD(store_enter(s, STORE_READ));
    ZTCA_CHECK(store_query(s, STORE_STMT_PROVISIONER_LIST, NULL, 0, &r));
    for (;;) {
        bool row = false;
        char name[STORE_NAME_MAX + 1];
        uint8_t *config = NULL;
        size_t len = 0;
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        ZTCA_CHECK(store_col_text(s, r, 0, name, sizeof(name)));
        ZTCA_CHECK(store_col_dup(s, r, 1, &config, &len));
        store_cb_mark(s, true);
        rc = cb(ctx, name, config != NULL ? (const char *)config : "");
        store_cb_mark(s, false);
        ztca_free(config);
        ZTCA_CHECK(rc);
    }
out:
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

static ztca_rc
store_provisioner_remove_locked(store *s, const char *name, const store_audit_event *ev)
{
    int64_t changes = 0;
    store_param p[1] = { store_p_text(name) };
    ZTCA_GUARD(store_head_load(s));
    ZTCA_GUARD(store_exec(s, STORE_STMT_PROVISIONER_DELETE, p, 1, &changes));
    ZTCA_ENSURE(changes == 1, ZTCA_ERR_NOT_FOUND, "store: no provisioner with this name");
    return store_audit_add(s, ev);
}

ztca_rc
store_provisioner_remove(store *s, const char *name, const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_is_valid(name, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: provisioner name is not valid text");
    ZTCA_ENSURE(ev != NULL, ZTCA_ERR_BAD_INPUT, "store: a provisioner change needs an audit event");
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_provisioner_remove_locked(s, name, ev));
}

static ztca_rc
store_replay_claim_locked(store *s, const char *key, ztca_time until, ztca_time now)
{
    int64_t changes = 0;
    store_param p[3] = { store_p_text(key), store_p_int(until), store_p_int(now) };
    /* Inserted, or an expired entry taken over: one row changed. Seen and still remembered: the
     * conflict's WHERE is false, nothing changed. */
    ZTCA_GUARD(store_exec(s, STORE_STMT_REPLAY_CLAIM, p, 3, &changes));
    ZTCA_ENSURE(changes == 1, ZTCA_ERR_CONFLICT, "store: this token was used already");
    /* Forget what can no longer be replayed, a little at a time. */
    store_param q[1] = { store_p_int(now) };
    return store_exec(s, STORE_STMT_REPLAY_PURGE, q, 1, NULL);
}

ztca_rc
store_replay_claim(store *s, const char *key, ztca_time until, ztca_time now)
{
    ZTCA_ENSURE(store_hex64_is_valid(key), ZTCA_ERR_BAD_INPUT,
                "store: replay key must be 64 lowercase hex digits");
    ZTCA_ENSURE(until > 0 && now > 0, ZTCA_ERR_BAD_INPUT, "store: replay times");
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_replay_claim_locked(s, key, until, now));
}
