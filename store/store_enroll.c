/* store_enroll.c: one-time tokens (only their SHA-256 is stored) and enrollment sessions, both
 * single use. Consumption is one conditional UPDATE ... RETURNING: the database decides which
 * of two concurrent consumers wins (PostgreSQL re-checks the WHERE clause after the row lock,
 * SQLite has one writer), so the loser sees no row and gets DENIED. */
#include <string.h>

#include "store/internal.h"

/* ---- tokens ---------------------------------------------------------------------------------- */

static ztca_rc
store_token_add(store *s, const store_token *t, const store_audit_event *ev)
{
    if (ev != NULL) {
        ZTCA_GUARD(store_head_load(s));
    }
    store_param p[6] = {
        store_p_blob(t->hash, STORE_HASH_LEN),
        store_p_text_opt(t->user),
        store_p_text(t->profile),
        store_p_text(t->created_by),
        store_p_int(store_now(t->created_at)),
        store_p_int(t->expires_at),
    };
    ZTCA_GUARD(store_exec(s, STORE_STMT_TOKEN_INSERT, p, 6, NULL));
    return ev != NULL ? store_audit_add(s, ev) : ZTCA_RC_OK;
}

ztca_rc
store_token_insert(store *s, const store_token *t, const store_audit_event *ev)
{
    ZTCA_ENSURE(store_text_opt_is_valid(t->user, STORE_NAME_MAX)
                    && store_text_is_valid(t->profile, STORE_NAME_MAX)
                    && store_text_is_valid(t->created_by, STORE_NAME_MAX),
                ZTCA_ERR_BAD_INPUT, "store: token user, profile or creator is not valid text");
    ZTCA_ENSURE(t->expires_at > 0, ZTCA_ERR_BAD_INPUT, "store: a token needs an expiry");
    if (ev != NULL) {
        ZTCA_GUARD(store_event_check(ev));
    }
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_token_add(s, t, ev));
}

static ztca_rc
store_token_read(store *s, store_rows *r, store_token *t)
{
    ZTCA_GUARD(store_col_fixed(s, r, 0, t->hash, STORE_HASH_LEN, NULL));
    ZTCA_GUARD(store_col_text(s, r, 1, t->user, sizeof(t->user)));
    ZTCA_GUARD(store_col_text(s, r, 2, t->profile, sizeof(t->profile)));
    ZTCA_GUARD(store_col_text(s, r, 3, t->created_by, sizeof(t->created_by)));
    ZTCA_GUARD(store_col_int(s, r, 4, &t->created_at));
    ZTCA_GUARD(store_col_int(s, r, 5, &t->expires_at));
    ZTCA_GUARD(store_col_int_opt(s, r, 6, 0, &t->used_at));
    return ZTCA_RC_OK;
}

static ztca_rc
store_token_consume_locked(store *s, const uint8_t hash[STORE_HASH_LEN], ztca_time now,
                           store_token *out)
{
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[2] = { store_p_blob(hash, STORE_HASH_LEN), store_p_int(now) };
    ZTCA_CHECK(store_query(s, STORE_STMT_TOKEN_CONSUME, p, 2, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    if (row) {
        ZTCA_CHECK(store_token_read(s, r, out));
        goto out;
    }
    store_done(s, r);
    r = NULL;
    /* Not consumed: say why (the caller maps both refusals to one answer for the client). */
    ZTCA_CHECK(store_query(s, STORE_STMT_TOKEN_GET, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: unknown token");
    ZTCA_CHECK(store_token_read(s, r, out));
    ZTCA_REQUIRE(out->used_at == 0, ZTCA_ERR_DENIED, "store: the token was already used");
    rc = ztca_note(ZTCA_ERR_DENIED, __FILE__, __LINE__, "store: the token has expired", 0);
out:
    store_done(s, r);
    return rc;
}

ztca_rc
store_token_consume(store *s, const uint8_t hash[STORE_HASH_LEN], ztca_time now, store_token *out)
{
    memset(out, 0, sizeof(*out));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    ztca_rc rc =
        store_leave(s, STORE_WRITE, store_token_consume_locked(s, hash, store_now(now), out));
    if (!ZTCA_IS_OK(rc)) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- enrollment sessions --------------------------------------------------------------------- */

void
store_session_init(store_session *ses)
{
    memset(ses, 0, sizeof(*ses));
}

void
store_session_free(store_session *ses)
{
    if (ses == NULL) {
        return;
    }
    ztca_free(ses->data);
    store_session_init(ses);
}

static ztca_rc
store_session_add(store *s, const store_session *ses)
{
    store_param p[7] = {
        store_p_text(ses->id),
        store_p_blob(ses->token_hash, STORE_HASH_LEN),
        store_p_blob(ses->nonce, ses->nonce_len),
        store_p_blob(ses->secret_hash, STORE_HASH_LEN),
        store_p_blob(ses->data != NULL ? ses->data : (const uint8_t *)"", ses->data_len),
        store_p_int(store_now(ses->created_at)),
        store_p_int(ses->expires_at),
    };
    return store_exec(s, STORE_STMT_SESSION_INSERT, p, 7, NULL);
}

ztca_rc
store_session_insert(store *s, const store_session *ses)
{
    ZTCA_ENSURE(store_text_is_valid(ses->id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: session id is not valid text");
    ZTCA_ENSURE(ses->nonce_len > 0 && ses->nonce_len <= STORE_NONCE_MAX, ZTCA_ERR_BAD_INPUT,
                "store: session nonce must be 1-64 bytes");
    ZTCA_ENSURE(ses->data_len <= STORE_BLOB_MAX, ZTCA_ERR_BAD_INPUT,
                "store: session data larger than 64 KiB");
    ZTCA_ENSURE(ses->expires_at > 0, ZTCA_ERR_BAD_INPUT, "store: a session needs an expiry");
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_session_add(s, ses));
}

static ztca_rc
store_session_consume_locked(store *s, const char *id, ztca_time now, store_session *out)
{
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    int64_t used = 0;
    store_param p[2] = { store_p_text(id), store_p_int(now) };
    ZTCA_CHECK(store_query(s, STORE_STMT_SESSION_CONSUME, p, 2, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    if (row) {
        const uint8_t *nonce = NULL;
        size_t nonce_len = 0;
        ZTCA_CHECK(store_col_text(s, r, 0, out->id, sizeof(out->id)));
        ZTCA_CHECK(store_col_fixed(s, r, 1, out->token_hash, STORE_HASH_LEN, NULL));
        ZTCA_CHECK(s->drv->col_bytes(r, 2, &nonce, &nonce_len));
        ZTCA_REQUIRE(nonce_len <= STORE_NONCE_MAX, ZTCA_ERR_STORE, "store: stored nonce too long");
        memcpy(out->nonce, nonce, nonce_len);
        out->nonce_len = nonce_len;
        ZTCA_CHECK(store_col_fixed(s, r, 3, out->secret_hash, STORE_HASH_LEN, NULL));
        ZTCA_CHECK(store_col_dup(s, r, 4, &out->data, &out->data_len));
        ZTCA_CHECK(store_col_int(s, r, 5, &out->created_at));
        ZTCA_CHECK(store_col_int(s, r, 6, &out->expires_at));
        ZTCA_CHECK(store_col_int(s, r, 7, &out->used_at));
        goto out;
    }
    store_done(s, r);
    r = NULL;
    ZTCA_CHECK(store_query(s, STORE_STMT_SESSION_GET, p, 1, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_NOT_FOUND, "store: unknown enrollment session");
    ZTCA_CHECK(store_col_int_opt(s, r, 0, 0, &used));
    ZTCA_REQUIRE(used == 0, ZTCA_ERR_DENIED, "store: the enrollment session was already used");
    rc = ztca_note(ZTCA_ERR_DENIED, __FILE__, __LINE__, "store: the enrollment session expired", 0);
out:
    store_done(s, r);
    return rc;
}

ztca_rc
store_session_consume(store *s, const char *id, ztca_time now, store_session *out)
{
    store_session_init(out);
    ZTCA_ENSURE(store_text_is_valid(id, STORE_NAME_MAX), ZTCA_ERR_BAD_INPUT,
                "store: session id is not valid text");
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    ztca_rc rc =
        store_leave(s, STORE_WRITE, store_session_consume_locked(s, id, store_now(now), out));
    if (!ZTCA_IS_OK(rc)) {
        store_session_free(out);
    }
    return rc;
}
