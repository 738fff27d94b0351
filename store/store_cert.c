/* store_cert.c: certificates and their status (RFC 5280 5.3.1 reasons, RFC 6960 answers). */
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

void
store_cert_init(store_cert *c)
{
    memset(c, 0, sizeof(*c));
    c->reason = STORE_REASON_NONE;
}

void
store_cert_free(store_cert *c)
{
    if (c == NULL) {
        return;
    }
    ztca_free(c->der);
    store_cert_init(c);
}

static bool
store_reason_is_revocation(int reason)
{
    /* certificateHold (6) is STORE_CERT_HOLD's; removeFromCRL (8) exists only in delta CRLs;
     * 7 is unassigned. */
    return (reason >= STORE_REASON_UNSPECIFIED && reason <= STORE_REASON_CESSATION)
           || reason == STORE_REASON_PRIVILEGE_WITHDRAWN || reason == STORE_REASON_AA_COMPROMISE;
}

static ztca_rc
store_cert_check(const store_cert *c)
{
    ZTCA_ENSURE(store_serial_is_valid(c->serial), ZTCA_ERR_BAD_INPUT,
                "store: serial must be 2-40 lowercase hex digits, an even number");
    ZTCA_ENSURE(store_text_opt_is_valid(c->device_id, STORE_NAME_MAX)
                    && store_text_opt_is_valid(c->user, STORE_NAME_MAX),
                ZTCA_ERR_BAD_INPUT, "store: device id or user is not valid text");
    ZTCA_ENSURE(store_text_is_valid(c->profile, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: profile is required");
    ZTCA_ENSURE(c->not_before <= c->not_after, ZTCA_ERR_BAD_INPUT,
                "store: notBefore is after notAfter");
    ZTCA_ENSURE(c->der != NULL && c->der_len > 0 && c->der_len <= STORE_BLOB_MAX,
                ZTCA_ERR_BAD_INPUT, "store: certificate DER missing or larger than 64 KiB");
    return ZTCA_RC_OK;
}

static ztca_rc
store_cert_add(store *s, const store_cert *c, const store_audit_event *ev)
{
    ZTCA_GUARD(store_head_load(s)); /* lock order: chain head first, always */
    store_param p[7] = {
        store_p_text(c->serial),
        store_p_text_opt(c->device_id),
        store_p_text_opt(c->user),
        store_p_text(c->profile),
        store_p_int(c->not_before),
        store_p_int(c->not_after),
        store_p_int(store_now(c->issued_at)),
    };
    ZTCA_GUARD(store_exec(s, STORE_STMT_CERT_INSERT, p, 7, NULL));
    store_param b[2] = { store_p_text(c->serial), store_p_blob(c->der, c->der_len) };
    ZTCA_GUARD(store_exec(s, STORE_STMT_CERT_BODY_INSERT, b, 2, NULL));
    return store_audit_add(s, ev);
}

ztca_rc
store_cert_insert(store *s, const store_cert *c, const store_audit_event *ev)
{
    ZTCA_GUARD(store_cert_check(c));
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_cert_add(s, c, ev));
}

static int
store_cert_by_serial(const void *a, const void *b)
{
    const store_cert *x = *(const store_cert *const *)a, *y = *(const store_cert *const *)b;
    /* Byte order, the order of the serial indexes (BINARY in SQLite, COLLATE "C" in PostgreSQL). */
    return strcmp(x->serial, y->serial);
}

/* The batch goes out as three statement runs (rows, bodies, audit entries: COPY on PostgreSQL,
 * prepared INSERTs reused on SQLite); the audit hashes are computed here in order from the
 * locked head, as store_audit_add would. Rows and bodies go in serial order: each index insert
 * then lands next to the previous one, on pages the database has just read, instead of on a
 * random page of a table larger than its cache. The audit entries keep the caller's order. */
static ztca_rc
store_cert_add_batch(store *s, const store_cert *certs, const store_audit_event *evs, size_t num)
{
    ztca_rc rc = ZTCA_RC_OK;
    store_param *p = NULL;
    uint8_t(*hashes)[2][STORE_HASH_LEN] = NULL;
    const store_cert **sorted = NULL;
    ZTCA_CHECK(store_head_load(s));
    p = ztca_calloc(num, 8 * sizeof(*p));
    hashes = ztca_calloc(num, sizeof(*hashes));
    sorted = ztca_calloc(num, sizeof(const store_cert *));
    ZTCA_REQUIRE(p != NULL && hashes != NULL && sorted != NULL, ZTCA_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < num; i++) {
        sorted[i] = &certs[i];
    }
    qsort(sorted, num, sizeof(const store_cert *), store_cert_by_serial);
    ztca_time now = ztca_now();
    for (size_t i = 0; i < num; i++) {
        const store_cert *c = sorted[i];
        store_param *q = p + i * 7;
        q[0] = store_p_text(c->serial);
        q[1] = store_p_text_opt(c->device_id);
        q[2] = store_p_text_opt(c->user);
        q[3] = store_p_text(c->profile);
        q[4] = store_p_int(c->not_before);
        q[5] = store_p_int(c->not_after);
        q[6] = store_p_int(c->issued_at != 0 ? c->issued_at : now);
    }
    ZTCA_CHECK(s->drv->exec_many(s->conn, STORE_STMT_CERT_INSERT, p, 7, num));
    for (size_t i = 0; i < num; i++) {
        p[i * 2] = store_p_text(sorted[i]->serial);
        p[i * 2 + 1] = store_p_blob(sorted[i]->der, sorted[i]->der_len);
    }
    ZTCA_CHECK(s->drv->exec_many(s->conn, STORE_STMT_CERT_BODY_INSERT, p, 2, num));
    for (size_t i = 0; i < num; i++) {
        const store_audit_event *ev = &evs[i];
        const char *subject = ev->subject != NULL ? ev->subject : "";
        const char *detail = ev->detail != NULL ? ev->detail : "{}";
        int64_t seq = s->head.audit_seq + 1;
        ztca_time at = ev->at != 0 ? ev->at : now;
        memcpy(hashes[i][0], s->head.audit_hash, STORE_HASH_LEN);
        ZTCA_CHECK(store_audit_hash(hashes[i][1], seq, at, ev->actor, ev->action, subject, detail,
                                    strlen(detail), hashes[i][0]));
        store_param *q = p + i * 8;
        q[0] = store_p_int(seq);
        q[1] = store_p_int(at);
        q[2] = store_p_text(ev->actor);
        q[3] = store_p_text(ev->action);
        q[4] = store_p_text(subject);
        q[5] = store_p_text(detail);
        q[6] = store_p_blob(hashes[i][0], STORE_HASH_LEN);
        q[7] = store_p_blob(hashes[i][1], STORE_HASH_LEN);
        s->head.audit_seq = seq;
        memcpy(s->head.audit_hash, hashes[i][1], STORE_HASH_LEN);
    }
    s->head.dirty = true;
    ZTCA_CHECK(s->drv->exec_many(s->conn, STORE_STMT_AUDIT_INSERT, p, 8, num));
out:
    ztca_free(p);
    ztca_free(hashes);
    ztca_free(sorted);
    return rc;
}

ztca_rc
store_cert_insert_batch(store *s, const store_cert *certs, const store_audit_event *evs, size_t num)
{
    ZTCA_ENSURE(num > 0 && num <= 100000, ZTCA_ERR_BAD_INPUT,
                "store: a batch holds 1-100000 certificates");
    for (size_t i = 0; i < num; i++) {
        ZTCA_GUARD(store_cert_check(&certs[i]));
        ZTCA_GUARD(store_event_check(&evs[i]));
    }
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_cert_add_batch(s, certs, evs, num));
}

static ztca_rc
store_cert_read(store *s, store_rows *r, store_cert *c)
{
    int64_t status = 0, reason = 0;
    ZTCA_GUARD(store_col_text(s, r, 0, c->serial, sizeof(c->serial)));
    ZTCA_GUARD(store_col_text(s, r, 1, c->device_id, sizeof(c->device_id)));
    ZTCA_GUARD(store_col_text(s, r, 2, c->user, sizeof(c->user)));
    ZTCA_GUARD(store_col_text(s, r, 3, c->profile, sizeof(c->profile)));
    ZTCA_GUARD(store_col_int(s, r, 4, &c->not_before));
    ZTCA_GUARD(store_col_int(s, r, 5, &c->not_after));
    ZTCA_GUARD(store_col_int(s, r, 6, &c->issued_at));
    ZTCA_GUARD(store_col_int(s, r, 7, &status));
    ZTCA_GUARD(store_col_int_opt(s, r, 8, 0, &c->revoked_at));
    ZTCA_GUARD(store_col_int_opt(s, r, 9, STORE_REASON_NONE, &reason));
    c->status = (store_cert_status)status;
    c->reason = (int)reason;
    return ZTCA_RC_OK;
}

static ztca_rc
store_cert_get_locked(store *s, const char *serial, bool with_der, store_cert *out)
{
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[1] = { store_p_text(serial) };
    ZTCA_CHECK(store_query(s, STORE_STMT_CERT_GET, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no certificate with this serial");
    ZTCA_CHECK(store_cert_read(s, r, out));
    store_done(s, r);
    r = NULL;
    if (with_der) {
        ZTCA_CHECK(store_query(s, STORE_STMT_CERT_BODY_GET, p, 1, &r));
        ZTCA_CHECK(store_step(s, r, &row));
        ZTCA_REQUIRE(row, ZTCA_ERR_STORE, "store: certificate body missing");
        ZTCA_CHECK(store_col_dup(s, r, 0, &out->der, &out->der_len));
    }
out:
    store_done(s, r);
    return rc;
}

ztca_rc
store_cert_get(store *s, const char *serial, bool with_der, store_cert *out)
{
    store_cert_init(out);
    ZTCA_ENSURE(store_serial_is_valid(serial), ZTCA_ERR_BAD_INPUT,
                "store: serial must be 2-40 lowercase hex digits, an even number");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    ztca_rc rc = store_leave(s, STORE_READ, store_cert_get_locked(s, serial, with_der, out));
    if (!ZTCA_IS_OK(rc)) {
        store_cert_free(out);
    }
    return rc;
}

ztca_rc
store_cert_status_get(store *s, const char *serial, store_cert_state *out)
{
    memset(out, 0, sizeof(*out));
    ZTCA_ENSURE(store_serial_is_valid(serial), ZTCA_ERR_BAD_INPUT,
                "store: serial must be 2-40 lowercase hex digits, an even number");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    bool row = false;
    int64_t status = 0, reason = 0;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[1] = { store_p_text(serial) };
    ZTCA_CHECK(store_query(s, STORE_STMT_CERT_STATE, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no certificate with this serial");
    ZTCA_CHECK(store_col_int(s, r, 0, &status));
    ZTCA_CHECK(store_col_int_opt(s, r, 1, 0, &out->revoked_at));
    ZTCA_CHECK(store_col_int_opt(s, r, 2, STORE_REASON_NONE, &reason));
    ZTCA_CHECK(store_col_int(s, r, 3, &out->not_after));
    ZTCA_CHECK(store_col_text(s, r, 4, out->device_id, sizeof(out->device_id)));
    ZTCA_CHECK(store_col_text(s, r, 5, out->user, sizeof(out->user)));
    int64_t score = -1;
    ZTCA_CHECK(store_col_int_opt(s, r, 6, -1, &score));
    ZTCA_REQUIRE(score >= -1 && score <= 100, ZTCA_ERR_STORE, "store: trust score out of range");
    out->score = (int)score;
    out->status = (store_cert_status)status;
    out->reason = (int)reason;
out:
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

/* store_cert_change: one transition of one certificate, inside a write call. */
static ztca_rc
store_cert_change(store *s, const char *serial, store_cert_status status, int reason, ztca_time at)
{
    store_rows *r = NULL;
    bool row = false;
    int64_t cur = 0;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[1] = { store_p_text(serial) };
    ZTCA_CHECK(store_query(s, STORE_STMT_CERT_LOCK, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: no certificate with this serial");
    ZTCA_CHECK(store_col_int(s, r, 0, &cur));
    store_done(s, r);
    r = NULL;
    ZTCA_REQUIRE(cur != STORE_CERT_REVOKED, ZTCA_ERR_CONFLICT,
                 "store: the certificate is revoked, which is final");
    ZTCA_REQUIRE(cur != (int64_t)status, ZTCA_ERR_CONFLICT,
                 "store: the certificate already has this status");
    int stored_reason = status == STORE_CERT_HOLD ? STORE_REASON_CERTIFICATE_HOLD : reason;
    store_param u[4] = {
        store_p_text(serial),
        store_p_int(status),
        status == STORE_CERT_GOOD ? store_p_null() : store_p_int(at),
        status == STORE_CERT_GOOD ? store_p_null() : store_p_int(stored_reason),
    };
    ZTCA_CHECK(store_exec(s, STORE_STMT_CERT_SET_STATUS, u, 4, NULL));
    ZTCA_CHECK(store_change_add(s, STORE_CHANGE_CERT, serial, status,
                                status == STORE_CERT_GOOD ? STORE_REASON_NONE : stored_reason, at));
out:
    store_done(s, r);
    return rc;
}

static ztca_rc
store_cert_set_status_locked(store *s, const char *serial, store_cert_status status, int reason,
                             ztca_time at, const store_audit_event *ev)
{
    ZTCA_GUARD(store_head_load(s));
    ZTCA_GUARD(store_cert_change(s, serial, status, reason, at));
    return store_audit_add(s, ev);
}

ztca_rc
store_cert_set_status(store *s, const char *serial, store_cert_status status, int reason,
                      ztca_time at, const store_audit_event *ev)
{
    ZTCA_ENSURE(store_serial_is_valid(serial), ZTCA_ERR_BAD_INPUT,
                "store: serial must be 2-40 lowercase hex digits, an even number");
    ZTCA_ENSURE(status == STORE_CERT_GOOD || status == STORE_CERT_HOLD
                    || status == STORE_CERT_REVOKED,
                ZTCA_ERR_BAD_INPUT, "store: unknown certificate status");
    if (status == STORE_CERT_REVOKED) {
        ZTCA_ENSURE(store_reason_is_revocation(reason), ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 5.3.1: revocation reason must be 0-5, 9 or 10");
    } else {
        ZTCA_ENSURE(reason == STORE_REASON_NONE, ZTCA_ERR_BAD_INPUT,
                    "store: only a revocation takes a reason");
    }
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE,
                       store_cert_set_status_locked(s, serial, status, reason, store_now(at), ev));
}

/* store_cert_walk: pages of a listing statement whose last two parameters are (after, limit)
 * in some order; `key_param` is the index of the serial cursor, `limit_param` of the limit. */
static ztca_rc
store_cert_walk(store *s, store_stmt id, store_param *p, size_t num_params, size_t key_param,
                size_t limit_param, size_t limit, bool all_pages, store_cert_cb cb, void *ctx)
{
    char after[STORE_SERIAL_MAX + 1];
    ZTCA_GUARD(store_copy_text(after, sizeof(after),
                               p[key_param].type == STORE_P_TEXT ? p[key_param].p : ""));
    for (;;) {
        size_t n = 0;
        store_rows *r = NULL;
        store_cert c;
        ztca_rc rc = ZTCA_RC_OK;
        p[key_param] = store_p_text(after);
        p[limit_param] = store_p_int((int64_t)limit);
        ZTCA_GUARD(store_enter(s, STORE_READ));
        ZTCA_CHECK(store_query(s, id, p, num_params, &r));
        for (;;) {
            bool row = false;
            ZTCA_CHECK(store_step(s, r, &row));
            if (!row) {
                break;
            }
            store_cert_init(&c);
            ZTCA_CHECK(store_cert_read(s, r, &c));
            memcpy(after, c.serial, sizeof(after));
            n++;
            STORE_RUN_CB(s, cb(ctx, &c));
        }
out:
        store_done(s, r);
        ZTCA_GUARD(store_leave(s, STORE_READ, rc));
        if (!all_pages || n < limit) {
            return ZTCA_RC_OK;
        }
    }
}

ztca_rc
store_cert_list(store *s, const char *after_serial, size_t limit, store_cert_cb cb, void *ctx)
{
    ZTCA_ENSURE(limit > 0 && limit <= STORE_LIST_MAX, ZTCA_ERR_BAD_INPUT,
                "store: list limit must be 1-1000");
    ZTCA_ENSURE(after_serial == NULL || after_serial[0] == '\0'
                    || store_serial_is_valid(after_serial),
                ZTCA_ERR_BAD_INPUT, "store: cursor must be a serial");
    store_param p[2] = { store_p_text(after_serial != NULL ? after_serial : ""), store_p_null() };
    return store_cert_walk(s, STORE_STMT_CERT_LIST, p, 2, 0, 1, limit, false, cb, ctx);
}

ztca_rc
store_cert_list_by_device(store *s, const char *device_id, store_cert_cb cb, void *ctx)
{
    ZTCA_ENSURE(store_text_is_valid(device_id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: device id is not valid text");
    store_param p[3] = { store_p_text(device_id), store_p_text(""), store_p_null() };
    return store_cert_walk(s, STORE_STMT_CERT_LIST_DEVICE, p, 3, 1, 2, STORE_LIST_MAX, true, cb,
                           ctx);
}

ztca_rc
store_cert_list_revoked(store *s, ztca_time now, store_cert_cb cb, void *ctx)
{
    store_param p[3] = { store_p_text(""), store_p_int(store_now(now)), store_p_null() };
    return store_cert_walk(s, STORE_STMT_CERT_LIST_REVOKED, p, 3, 0, 2, STORE_LIST_MAX, true, cb,
                           ctx);
}

/* ---- device revocation (called from store_identity.c) --------------------------------------- */

/* store_cert_revoke_device: inside a write call with the head loaded: every live certificate
 * of the device becomes REVOKED with `reason`, each with its change-log entry. The serials are
 * read first (one statement at a time per connection), then changed. */
ztca_rc
store_cert_revoke_device(store *s, const char *device_id, int reason, ztca_time at, size_t *out_num)
{
    ztca_rc rc = ZTCA_RC_OK;
    store_rows *r = NULL;
    char(*serials)[STORE_SERIAL_MAX + 1] = NULL;
    size_t num = 0, cap = 0;
    store_param p[2] = { store_p_text(device_id), store_p_int(at) };
    ZTCA_CHECK(store_query(s, STORE_STMT_CERT_LIVE_OF_DEVICE, p, 2, &r));
    for (;;) {
        bool row = false;
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        if (num == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            void *g = ztca_realloc(serials, ncap * sizeof(*serials));
            ZTCA_REQUIRE(g != NULL, ZTCA_ERR_NOMEM, "out of memory");
            serials = g;
            cap = ncap;
        }
        ZTCA_CHECK(store_col_text(s, r, 0, serials[num], sizeof(serials[num])));
        num++;
    }
    store_done(s, r);
    r = NULL;
    for (size_t i = 0; i < num; i++) {
        ZTCA_CHECK(store_cert_change(s, serials[i], STORE_CERT_REVOKED, reason, at));
    }
    *out_num = num;
out:
    store_done(s, r);
    ztca_free(serials);
    return rc;
}
