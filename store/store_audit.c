/* store_audit.c: the append-only, hash-chained audit log.
 *
 * Entry n commits to its own content and to entry n-1's hash:
 *   hash_n = SHA-256( "ztca-audit-v1" || u64be(n) || i64be(at) || u32be(len) actor
 *                     || u32be(len) action || u32be(len) subject || u32be(len) detail
 *                     || hash_{n-1} )          with hash_0 = 32 zero bytes.
 * Lengths make the encoding unambiguous (no field can borrow bytes from its neighbour); the
 * version prefix lets a later layout coexist. chain_head stores (n, hash_n) of the newest entry,
 * written in the same transaction, so deleting the newest entries is detected as well. A writer
 * with full database access can still rewrite the whole tail consistently: anchor the head hash
 * that `ztca audit verify` prints somewhere else (docs/store.md). */
#include <string.h>

#include <mbedtls/sha256.h>

#include "store/internal.h"

#define STORE_AUDIT_DOMAIN "ztca-audit-v1"

void
store_audit_entry_init(store_audit_entry *e)
{
    memset(e, 0, sizeof(*e));
}

void
store_audit_entry_free(store_audit_entry *e)
{
    if (e == NULL) {
        return;
    }
    ztca_free(e->detail);
    store_audit_entry_init(e);
}

static void
store_put_be(uint8_t *out, uint64_t v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        out[len - 1 - i] = (uint8_t)(v >> (8 * i));
    }
}

static int
store_sha_field(mbedtls_sha256_context *ctx, const void *p, size_t len)
{
    uint8_t n[4];
    store_put_be(n, (uint64_t)len, 4);
    int e = mbedtls_sha256_update_ret(ctx, n, 4);
    return e != 0 ? e : mbedtls_sha256_update_ret(ctx, p, len);
}

ztca_rc
store_audit_hash(uint8_t out[STORE_HASH_LEN], int64_t seq, ztca_time at, const char *actor,
                 const char *action, const char *subject, const char *detail, size_t detail_len,
                 const uint8_t prev_hash[STORE_HASH_LEN])
{
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    uint8_t num[16];
    store_put_be(num, (uint64_t)seq, 8);
    store_put_be(num + 8, (uint64_t)at, 8);
    ZTCA_CHECK_MBEDTLS(mbedtls_sha256_starts_ret(&ctx, 0), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_sha256_update_ret(&ctx, (const uint8_t *)STORE_AUDIT_DOMAIN,
                                                 sizeof(STORE_AUDIT_DOMAIN) - 1),
                       ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_sha256_update_ret(&ctx, num, sizeof(num)), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(store_sha_field(&ctx, actor, strlen(actor)), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(store_sha_field(&ctx, action, strlen(action)), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(store_sha_field(&ctx, subject, strlen(subject)), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(store_sha_field(&ctx, detail, detail_len), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_sha256_update_ret(&ctx, prev_hash, STORE_HASH_LEN), ZTCA_ERR_CRYPTO);
    ZTCA_CHECK_MBEDTLS(mbedtls_sha256_finish_ret(&ctx, out), ZTCA_ERR_CRYPTO);
out:
    mbedtls_sha256_free(&ctx);
    return rc;
}

ztca_rc
store_audit_add(store *s, const store_audit_event *ev)
{
    ZTCA_GUARD(store_head_load(s));
    int64_t seq = s->head.audit_seq + 1;
    ztca_time at = store_now(ev->at);
    const char *subject = ev->subject != NULL ? ev->subject : "";
    const char *detail = ev->detail != NULL ? ev->detail : "{}";
    size_t detail_len = strlen(detail);
    uint8_t hash[STORE_HASH_LEN];
    ZTCA_GUARD(store_audit_hash(hash, seq, at, ev->actor, ev->action, subject, detail, detail_len,
                                s->head.audit_hash));
    store_param p[8] = {
        store_p_int(seq),
        store_p_int(at),
        store_p_text(ev->actor),
        store_p_text(ev->action),
        store_p_text(subject),
        store_p_text(detail),
        store_p_blob(s->head.audit_hash, STORE_HASH_LEN),
        store_p_blob(hash, STORE_HASH_LEN),
    };
    ZTCA_GUARD(store_exec(s, STORE_STMT_AUDIT_INSERT, p, 8, NULL));
    s->head.audit_seq = seq;
    memcpy(s->head.audit_hash, hash, STORE_HASH_LEN);
    s->head.dirty = true;
    return ZTCA_RC_OK;
}

ztca_rc
store_audit_append(store *s, const store_audit_event *ev, int64_t *out_seq)
{
    ZTCA_GUARD(store_event_check(ev));
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    ztca_rc rc = store_audit_add(s, ev);
    int64_t seq = s->head.audit_seq;
    rc = store_leave(s, STORE_WRITE, rc);
    if (ZTCA_IS_OK(rc) && out_seq != NULL) {
        *out_seq = seq;
    }
    return rc;
}

ztca_rc
store_audit_head(store *s, int64_t *out_seq, uint8_t out_hash[STORE_HASH_LEN])
{
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_CHECK(store_query(s, STORE_STMT_HEAD_PEEK, NULL, 0, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_STORE, "store: chain_head row missing");
    ZTCA_CHECK(store_col_int(s, r, 0, out_seq));
    ZTCA_CHECK(store_col_fixed(s, r, 1, out_hash, STORE_HASH_LEN, NULL));
out:
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

/* store_audit_read: one row of AUDIT_LIST (seq first, so a caller can name a row whose other
 * columns do not decode). */
static ztca_rc
store_audit_read(store *s, store_rows *r, store_audit_entry *e)
{
    size_t len = 0;
    ZTCA_GUARD(store_col_int(s, r, 1, &e->at));
    ZTCA_GUARD(store_col_text(s, r, 2, e->actor, sizeof(e->actor)));
    ZTCA_GUARD(store_col_text(s, r, 3, e->action, sizeof(e->action)));
    ZTCA_GUARD(store_col_text(s, r, 4, e->subject, sizeof(e->subject)));
    ZTCA_GUARD(store_col_dup(s, r, 5, (uint8_t **)&e->detail, &len));
    e->detail_len = len;
    ZTCA_ENSURE(e->detail != NULL && memchr(e->detail, '\0', len) == NULL, ZTCA_ERR_STORE,
                "store: audit detail unreadable");
    ZTCA_GUARD(store_col_fixed(s, r, 6, e->prev_hash, STORE_HASH_LEN, NULL));
    ZTCA_GUARD(store_col_fixed(s, r, 7, e->hash, STORE_HASH_LEN, NULL));
    return ZTCA_RC_OK;
}

/* store_audit_walk: calls cb for every entry of a page. With `tolerant`, a row whose columns do
 * not decode reaches cb with e->detail NULL (verify names it) instead of failing the walk. */
static ztca_rc
store_audit_walk(store *s, int64_t after_seq, size_t limit, bool tolerant, store_audit_cb cb,
                 void *ctx)
{
    ZTCA_ENSURE(limit > 0 && limit <= STORE_LIST_MAX, ZTCA_ERR_BAD_INPUT,
                "store: list limit must be 1-1000");
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    store_audit_entry e;
    store_audit_entry_init(&e);
    ztca_rc rc = ZTCA_RC_OK;
    store_param p[2] = { store_p_int(after_seq), store_p_int((int64_t)limit) };
    ZTCA_CHECK(store_query(s, STORE_STMT_AUDIT_LIST, p, 2, &r));
    for (;;) {
        bool row = false;
        ZTCA_CHECK(store_step(s, r, &row));
        if (!row) {
            break;
        }
        store_audit_entry_free(&e);
        ZTCA_CHECK(store_col_int(s, r, 0, &e.seq));
        ztca_rc read = store_audit_read(s, r, &e);
        if (!ZTCA_IS_OK(read)) {
            ZTCA_CHECK(tolerant ? ZTCA_RC_OK : read);
            ztca_free(e.detail);
            e.detail = NULL;
        }
        STORE_RUN_CB(s, cb(ctx, &e));
    }
out:
    store_audit_entry_free(&e);
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

ztca_rc
store_audit_list(store *s, int64_t after_seq, size_t limit, store_audit_cb cb, void *ctx)
{
    return store_audit_walk(s, after_seq, limit, false, cb, ctx);
}

typedef struct store_verify {
    store_audit_report *rep;
    int64_t head_seq;
    int64_t expected;
    uint8_t prev[STORE_HASH_LEN];
    bool stop;
} store_verify;

static ztca_rc
store_verify_cb(void *ctx, const store_audit_entry *e)
{
    store_verify *v = ctx;
    if (v->stop || e->seq > v->head_seq) {
        v->stop = true; /* appended after we read the head: not part of this check */
        return ZTCA_RC_OK;
    }
    store_audit_report *rep = v->rep;
    const char *reason = NULL;
    int64_t broken = e->seq;
    uint8_t h[STORE_HASH_LEN];
    if (e->seq != v->expected) {
        broken = v->expected;
        reason = "missing: the sequence jumps over it";
    } else if (e->detail == NULL) {
        reason = "unreadable: a column has the wrong type or size";
    } else {
        ZTCA_GUARD(store_audit_hash(h, e->seq, e->at, e->actor, e->action, e->subject, e->detail,
                                    e->detail_len, e->prev_hash));
        if (memcmp(h, e->hash, STORE_HASH_LEN) != 0) {
            reason = "its content does not match its hash";
        } else if (memcmp(e->prev_hash, v->prev, STORE_HASH_LEN) != 0) {
            /* This entry is consistent in itself, so the one before is not what it committed
             * to (or, for the first, the chain does not start at zero). */
            broken = e->seq > 1 ? e->seq - 1 : 1;
            reason = e->seq > 1 ? "its hash differs from the one the next entry commits to"
                                : "the first entry does not start the chain";
        }
    }
    if (reason != NULL) {
        rep->intact = false;
        rep->broken_seq = broken;
        rep->reason = reason;
        v->stop = true;
        return ZTCA_RC_OK;
    }
    memcpy(v->prev, e->hash, STORE_HASH_LEN);
    v->expected++;
    rep->count++;
    return ZTCA_RC_OK;
}

ztca_rc
store_audit_verify(store *s, store_audit_report *out)
{
    memset(out, 0, sizeof(*out));
    out->intact = true;
    out->reason = "";
    store_verify v;
    memset(&v, 0, sizeof(v));
    v.rep = out;
    v.expected = 1;
    uint8_t head_hash[STORE_HASH_LEN];
    ZTCA_GUARD(store_audit_head(s, &v.head_seq, head_hash));
    /* One page per lock, so writers are held up by at most a page. */
    int64_t after = 0;
    while (!v.stop && after < v.head_seq) {
        int64_t before = v.expected;
        ZTCA_GUARD(store_audit_walk(s, after, STORE_LIST_MAX, true, store_verify_cb, &v));
        if (v.expected == before && !v.stop) {
            break; /* nothing more in the table */
        }
        after = v.expected - 1;
    }
    if (out->intact && v.expected - 1 != v.head_seq) {
        out->intact = false;
        out->broken_seq = v.expected;
        out->reason = "missing: the chain head records more entries";
    } else if (out->intact && v.head_seq > 0 && memcmp(v.prev, head_hash, STORE_HASH_LEN) != 0) {
        out->intact = false;
        out->broken_seq = v.head_seq;
        out->reason = "its hash differs from the one the chain head records";
    }
    if (out->intact) {
        memcpy(out->head, head_hash, STORE_HASH_LEN);
    }
    return ZTCA_RC_OK;
}
