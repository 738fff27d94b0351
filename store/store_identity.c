/* store_identity.c: users, devices (EK hash, EK certificate, AK, facts) and agents (user x
 * device), DESIGN.md sections 2 and 3. */
#include <string.h>

#include "store/internal.h"

/* ---- users ----------------------------------------------------------------------------------- */

static ztca_rc
store_user_put_locked(store *s, const char *name, const store_audit_event *ev)
{
    if (ev != NULL) {
        ZTCA_GUARD(store_head_load(s));
    }
    int64_t n = 0;
    store_param p[2] = { store_p_text(name), store_p_int(ztca_now()) };
    ZTCA_GUARD(store_exec(s, STORE_STMT_USER_PUT, p, 2, &n));
    /* Only a new user is an event worth auditing. */
    return ev != NULL && n == 1 ? store_audit_add(s, ev) : ZTCA_RC_OK;
}

ztca_rc
store_user_put(store *s, const char *name, const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_is_valid(name, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: user name must be 1-255 bytes of UTF-8 without control characters");
    if (ev != NULL) {
        ZTCA_GUARD(store_event_check(ev));
    }
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_user_put_locked(s, name, ev));
}

ztca_rc
store_user_get(store *s, const char *name, store_user *out)
{
    memset(out, 0, sizeof(*out));
    ZTCA_ENSURE(store_text_is_valid(name, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: user name is not valid text");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    bool row = false;
    int64_t status = 0;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[1] = { store_p_text(name) };
    ZTCA_CHECK(store_query(s, STORE_STMT_USER_GET, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no such user");
    ZTCA_CHECK(store_col_text(s, r, 0, out->name, sizeof(out->name)));
    ZTCA_CHECK(store_col_int(s, r, 1, &status));
    ZTCA_CHECK(store_col_int(s, r, 2, &out->created_at));
    out->status = (store_entity_status)status;
out:
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

/* store_status_lock: the current status of one row (locked on PostgreSQL). */
static ztca_rc
store_status_lock(store *s, store_stmt id, const char *key, int64_t *out)
{
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[1] = { store_p_text(key) };
    ZTCA_CHECK(store_query(s, id, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no such user or device");
    ZTCA_CHECK(store_col_int(s, r, 0, out));
out:
    store_done(s, r);
    return rc;
}

static ztca_rc
store_user_set_status_locked(store *s, const char *name, store_entity_status status,
                             const store_audit_event *ev)
{
    int64_t cur = 0;
    ZTCA_GUARD(store_head_load(s));
    ZTCA_GUARD(store_status_lock(s, STORE_STMT_USER_LOCK, name, &cur));
    ZTCA_ENSURE(cur != (int64_t)status, ZTCA_ERR_CONFLICT, "store: the user already has it");
    store_param p[2] = { store_p_text(name), store_p_int(status) };
    ZTCA_GUARD(store_exec(s, STORE_STMT_USER_SET_STATUS, p, 2, NULL));
    return store_audit_add(s, ev);
}

ztca_rc
store_user_set_status(store *s, const char *name, store_entity_status status,
                      const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_is_valid(name, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: user name is not valid text");
    ZTCA_ENSURE(status == STORE_ACTIVE || status == STORE_DISABLED, ZTCA_ERR_BAD_INPUT,
                "store: unknown status");
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_user_set_status_locked(s, name, status, ev));
}

/* ---- devices --------------------------------------------------------------------------------- */

void
store_device_init(store_device *d)
{
    memset(d, 0, sizeof(*d));
}

void
store_device_free(store_device *d)
{
    if (d == NULL) {
        return;
    }
    ztca_free(d->ek_cert);
    ztca_free(d->ak_pub);
    ztca_free(d->facts);
    store_device_init(d);
}

static ztca_rc
store_facts_check(const char *facts)
{
    if (facts == NULL) {
        return ZTCA_RC_OK;
    }
    return store_json_object_check(facts, strnlen(facts, STORE_JSON_MAX + 1));
}

static ztca_rc
store_device_add(store *s, const store_device *d, const store_audit_event *ev)
{
    ZTCA_GUARD(store_head_load(s));
    store_param p[6] = {
        store_p_text(d->id),
        d->has_ek ? store_p_blob(d->ek_pub_hash, STORE_HASH_LEN) : store_p_null(),
        store_p_blob(d->ek_cert, d->ek_cert_len),
        store_p_blob(d->ak_pub, d->ak_pub_len),
        store_p_text(d->facts != NULL ? d->facts : "{}"),
        store_p_int(store_now(d->created_at)),
    };
    ZTCA_GUARD(store_exec(s, STORE_STMT_DEVICE_INSERT, p, 6, NULL));
    return store_audit_add(s, ev);
}

ztca_rc
store_device_insert(store *s, const store_device *d, const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_is_valid(d->id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id must be 1-255 bytes of UTF-8 without control characters");
    ZTCA_ENSURE(d->ek_cert_len <= STORE_BLOB_MAX && d->ak_pub_len <= STORE_BLOB_MAX,
                ZTCA_ERR_BAD_INPUT, "store: EK certificate or AK larger than 64 KiB");
    ZTCA_GUARD(store_facts_check(d->facts));
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_device_add(s, d, ev));
}

static ztca_rc
store_device_read(store *s, store_rows *r, store_device *d)
{
    int64_t status = 0;
    size_t len = 0;
    ZTCA_GUARD(store_col_text(s, r, 0, d->id, sizeof(d->id)));
    ZTCA_GUARD(store_col_fixed(s, r, 1, d->ek_pub_hash, STORE_HASH_LEN, &d->has_ek));
    ZTCA_GUARD(store_col_dup(s, r, 2, &d->ek_cert, &d->ek_cert_len));
    ZTCA_GUARD(store_col_dup(s, r, 3, &d->ak_pub, &d->ak_pub_len));
    ZTCA_GUARD(store_col_dup(s, r, 4, (uint8_t **)&d->facts, &len));
    ZTCA_GUARD(store_col_int(s, r, 5, &status));
    ZTCA_GUARD(store_col_int(s, r, 6, &d->created_at));
    ZTCA_GUARD(store_col_int(s, r, 7, &d->updated_at));
    d->status = (store_entity_status)status;
    return ZTCA_RC_OK;
}

static ztca_rc
store_device_get_by(store *s, store_stmt id, store_param key, store_device *out)
{
    store_device_init(out);
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_CHECK(store_query(s, id, &key, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no such device");
    ZTCA_CHECK(store_device_read(s, r, out));
out:
    store_done(s, r);
    rc = store_leave(s, STORE_READ, rc);
    if (!ZTCA_IS_OK(rc)) {
        store_device_free(out);
    }
    return rc;
}

ztca_rc
store_device_get(store *s, const char *id, store_device *out)
{
    store_device_init(out);
    ZTCA_ENSURE(store_text_is_valid(id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id is not valid text");
    return store_device_get_by(s, STORE_STMT_DEVICE_GET, store_p_text(id), out);
}

ztca_rc
store_device_lock(store *s, const char *device_id, store_device *out)
{
    store_device d;
    store_device_init(&d);
    ZTCA_ENSURE(store_text_is_valid(device_id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id is not valid text");
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[1] = { store_p_text(device_id) };
    ZTCA_CHECK(store_query(s, STORE_STMT_DEVICE_LOCK_ROW, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no such device");
    if (out != NULL) {
        ZTCA_CHECK(store_device_read(s, r, &d));
    }
out:
    store_done(s, r);
    rc = store_leave(s, STORE_WRITE, rc);
    if (ZTCA_IS_OK(rc) && out != NULL) {
        *out = d;
    } else {
        store_device_free(&d);
    }
    return rc;
}

ztca_rc
store_device_find_by_ek(store *s, const uint8_t ek_pub_hash[STORE_HASH_LEN], store_device *out)
{
    return store_device_get_by(s, STORE_STMT_DEVICE_FIND_EK,
                               store_p_blob(ek_pub_hash, STORE_HASH_LEN), out);
}

static ztca_rc
store_device_evidence_locked(store *s, const char *id, const uint8_t *ak_pub, size_t ak_pub_len,
                             const char *facts, ztca_time at, const store_audit_event *ev)
{
    int64_t n = 0;
    ZTCA_GUARD(store_head_load(s));
    store_param p[4] = { store_p_text(id), store_p_blob(ak_pub, ak_pub_len),
                         store_p_text(facts != NULL ? facts : "{}"), store_p_int(at) };
    ZTCA_GUARD(store_exec(s, STORE_STMT_DEVICE_UPDATE_EVIDENCE, p, 4, &n));
    ZTCA_ENSURE(n == 1, ZTCA_ERR_NOT_FOUND, "store: no such device");
    return store_audit_add(s, ev);
}

ztca_rc
store_device_update_evidence(store *s, const char *id, const uint8_t *ak_pub, size_t ak_pub_len,
                             const char *facts, ztca_time at, const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_is_valid(id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id is not valid text");
    ZTCA_ENSURE(ak_pub_len <= STORE_BLOB_MAX, ZTCA_ERR_BAD_INPUT, "store: AK larger than 64 KiB");
    ZTCA_GUARD(store_facts_check(facts));
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(
        s, STORE_WRITE,
        store_device_evidence_locked(s, id, ak_pub, ak_pub_len, facts, store_now(at), ev));
}

static ztca_rc
store_device_status_locked(store *s, const char *id, store_entity_status status, int reason,
                           ztca_time at, const store_audit_event *ev, size_t *out_num)
{
    int64_t cur = 0;
    ZTCA_GUARD(store_head_load(s));
    ZTCA_GUARD(store_status_lock(s, STORE_STMT_DEVICE_LOCK, id, &cur));
    ZTCA_ENSURE(cur != (int64_t)status, ZTCA_ERR_CONFLICT, "store: the device already has it");
    store_param p[3] = { store_p_text(id), store_p_int(status), store_p_int(at) };
    ZTCA_GUARD(store_exec(s, STORE_STMT_DEVICE_SET_STATUS, p, 3, NULL));
    if (status == STORE_DISABLED) {
        ZTCA_GUARD(store_cert_revoke_device(s, id, reason, at, out_num));
    }
    ZTCA_GUARD(store_change_add(s, STORE_CHANGE_DEVICE, id, status,
                                status == STORE_DISABLED ? reason : STORE_REASON_NONE, at));
    return store_audit_add(s, ev);
}

ztca_rc
store_device_set_status(store *s, const char *id, store_entity_status status, int reason,
                        ztca_time at, const store_audit_event *ev, size_t *out_num_revoked)
{
    size_t num = 0;
    ZTCA_ENSURE(store_text_is_valid(id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id is not valid text");
    ZTCA_ENSURE(status == STORE_ACTIVE || status == STORE_DISABLED, ZTCA_ERR_BAD_INPUT,
                "store: unknown status");
    if (status == STORE_DISABLED) {
        ZTCA_ENSURE((reason >= STORE_REASON_UNSPECIFIED && reason <= STORE_REASON_CESSATION)
                        || reason == STORE_REASON_PRIVILEGE_WITHDRAWN
                        || reason == STORE_REASON_AA_COMPROMISE,
                    ZTCA_ERR_BAD_INPUT, "RFC 5280 5.3.1: revocation reason must be 0-5, 9 or 10");
    } else {
        ZTCA_ENSURE(reason == STORE_REASON_NONE, ZTCA_ERR_BAD_INPUT,
                    "store: only a revocation takes a reason");
    }
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    ztca_rc rc = store_leave(
        s, STORE_WRITE, store_device_status_locked(s, id, status, reason, store_now(at), ev, &num));
    if (ZTCA_IS_OK(rc) && out_num_revoked != NULL) {
        *out_num_revoked = num;
    }
    return rc;
}

ztca_rc
store_device_list(store *s, const char *after_id, size_t limit, store_device_cb cb, void *ctx)
{
    ZTCA_ENSURE(limit > 0 && limit <= STORE_LIST_MAX, ZTCA_ERR_BAD_INPUT,
                "store: list limit must be 1-1000");
    ZTCA_ENSURE(store_text_opt_is_valid(after_id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: cursor must be a device id");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    store_device d;
    store_device_init(&d);
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[2] = { store_p_text(after_id != NULL ? after_id : ""),
                         store_p_int((int64_t)limit) };
    ZTCA_CHECK(store_query(s, STORE_STMT_DEVICE_LIST, p, 2, &r));
    for (;;) {
        bool row = false;
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        store_device_free(&d);
        ZTCA_CHECK(store_device_read(s, r, &d));
        STORE_RUN_CB(s, cb(ctx, &d));
    }
out:
    store_device_free(&d);
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

/* ---- agents ---------------------------------------------------------------------------------- */

static ztca_rc
store_agent_put_locked(store *s, const char *device_id, const char *user, ztca_time at,
                       const store_audit_event *ev)
{
    if (ev != NULL) {
        ZTCA_GUARD(store_head_load(s));
    }
    store_param p[3] = { store_p_text(device_id), store_p_text(user), store_p_int(at) };
    ZTCA_GUARD(store_exec(s, STORE_STMT_AGENT_PUT, p, 3, NULL));
    return ev != NULL ? store_audit_add(s, ev) : ZTCA_RC_OK;
}

ztca_rc
store_agent_put(store *s, const char *device_id, const char *user, ztca_time at,
                const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_is_valid(device_id, STORE_NAME_MAX)
                    && store_text_is_valid(user, STORE_NAME_MAX),
                ZTCA_ERR_BAD_INPUT, "store: device id or user is not valid text");
    if (ev != NULL) {
        ZTCA_GUARD(store_event_check(ev));
    }
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE,
                       store_agent_put_locked(s, device_id, user, store_now(at), ev));
}

static ztca_rc
store_agent_read(store *s, store_rows *r, store_agent *a)
{
    int64_t status = 0;
    ZTCA_GUARD(store_col_text(s, r, 0, a->device_id, sizeof(a->device_id)));
    ZTCA_GUARD(store_col_text(s, r, 1, a->user, sizeof(a->user)));
    ZTCA_GUARD(store_col_int(s, r, 2, &status));
    ZTCA_GUARD(store_col_int(s, r, 3, &a->created_at));
    ZTCA_GUARD(store_col_int(s, r, 4, &a->last_seen));
    a->status = (store_entity_status)status;
    return ZTCA_RC_OK;
}

ztca_rc
store_agent_get(store *s, const char *device_id, const char *user, store_agent *out)
{
    memset(out, 0, sizeof(*out));
    ZTCA_ENSURE(store_text_is_valid(device_id, STORE_NAME_MAX)
                    && store_text_is_valid(user, STORE_NAME_MAX),
                ZTCA_ERR_BAD_INPUT, "store: device id or user is not valid text");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[2] = { store_p_text(device_id), store_p_text(user) };
    ZTCA_CHECK(store_query(s, STORE_STMT_AGENT_GET, p, 2, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no such agent");
    ZTCA_CHECK(store_agent_read(s, r, out));
out:
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

static ztca_rc
store_agent_walk(store *s, store_stmt stmt, const char *key, store_agent_cb cb, void *ctx)
{
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[1] = { store_p_text(key) };
    ZTCA_CHECK(store_query(s, stmt, p, 1, &r));
    for (;;) {
        bool row = false;
        store_agent a;
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        memset(&a, 0, sizeof(a));
        ZTCA_CHECK(store_agent_read(s, r, &a));
        STORE_RUN_CB(s, cb(ctx, &a));
    }
out:
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

ztca_rc
store_agent_list_by_device(store *s, const char *device_id, store_agent_cb cb, void *ctx)
{
    ZTCA_ENSURE(store_text_is_valid(device_id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id is not valid text");
    return store_agent_walk(s, STORE_STMT_AGENT_LIST_DEVICE, device_id, cb, ctx);
}

ztca_rc
store_agent_list_by_user(store *s, const char *user, store_agent_cb cb, void *ctx)
{
    ZTCA_ENSURE(store_text_is_valid(user, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: user is not valid text");
    return store_agent_walk(s, STORE_STMT_AGENT_LIST_USER, user, cb, ctx);
}
