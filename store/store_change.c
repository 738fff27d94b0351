/* store_change.c: the ordered change log and subscriptions to it.
 *
 * Every status change inserts a change_log row numbered chain_head.change_seq + 1 while holding
 * the chain_head row lock, so numbers follow commit order without gaps: a reader that remembers
 * the last number it processed and asks for the ones after it misses nothing, whether it was
 * woken by a NOTIFY (PostgreSQL), by a commit in this process (SQLite), by a timer, or after a
 * reconnect. Notifications are only wake-ups; the table is the truth (and what read replicas
 * follow, issue 11). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"

#define STORE_SUB_SLICE_SQLITE_MS 100 /* how often an SQLite subscriber reads the log */
/* Under LISTEN a safety net; on a hot standby (no NOTIFY) the propagation bound: replication
 * lag plus one slice (docs/scaling.md). */
#define STORE_SUB_SLICE_PG_MS 200

ztca_rc
store_change_add(store *s, store_change_kind kind, const char *subject, int status, int reason,
                 ztca_time at)
{
    ZTCA_GUARD(store_head_load(s));
    int64_t seq = s->head.change_seq + 1;
    store_param p[6] = {
        store_p_int(seq),    store_p_int(at),
        store_p_int(kind),   store_p_text(subject),
        store_p_int(status), reason >= 0 ? store_p_int(reason) : store_p_null(),
    };
    ZTCA_GUARD(store_exec(s, STORE_STMT_CHANGE_INSERT, p, 6, NULL));
    s->head.change_seq = seq;
    s->head.dirty = true;
    s->published = true;
    return ZTCA_RC_OK;
}

static ztca_rc
store_change_read(store *s, store_rows *r, store_change *c)
{
    int64_t kind = 0, status = 0, reason = 0;
    memset(c, 0, sizeof(*c));
    ZTCA_GUARD(store_col_int(s, r, 0, &c->seq));
    ZTCA_GUARD(store_col_int(s, r, 1, &c->at));
    ZTCA_GUARD(store_col_int(s, r, 2, &kind));
    ZTCA_GUARD(store_col_text(s, r, 3, c->subject, sizeof(c->subject)));
    ZTCA_GUARD(store_col_int(s, r, 4, &status));
    ZTCA_GUARD(store_col_int_opt(s, r, 5, STORE_REASON_NONE, &reason));
    c->kind = (store_change_kind)kind;
    c->status = (int)status;
    c->reason = (int)reason;
    return ZTCA_RC_OK;
}

/* store_change_page: one page of the log on connection `conn` (the handle's or a pooled
 * reader with `in_call`, else a subscription's), changes numbered up to `upto` only;
 * *io_cursor advances past every change cb accepted. */
static ztca_rc
store_change_page(store *s, store_conn *conn, bool in_call, int64_t *io_cursor, int64_t upto,
                  size_t limit, store_change_cb cb, void *ctx, size_t *out_num)
{
    store_rows *r = NULL;
    ztca_rc rc = ZTCA_RC_OK;
    *out_num = 0;
    store_param p[2] = { store_p_int(*io_cursor), store_p_int((int64_t)limit) };
    ZTCA_CHECK(s->drv->query(conn, STORE_STMT_CHANGE_LIST, p, 2, &r));
    for (;;) {
        bool row = false;
        store_change c;
        ZTCA_CHECK(s->drv->step(r, &row));
        if (!row) {
            break;
        }
        ZTCA_CHECK(store_change_read(s, r, &c));
        if (c.seq > upto) {
            break;
        }
        if (in_call) {
            STORE_RUN_CB(s, cb(ctx, &c));
        } else {
            ZTCA_CHECK(cb(ctx, &c));
        }
        *io_cursor = c.seq;
        (*out_num)++;
    }
out:
    if (r != NULL) {
        s->drv->done(r);
    }
    return rc;
}

ztca_rc
store_changes_since(store *s, int64_t after_seq, size_t limit, store_change_cb cb, void *ctx)
{
    ZTCA_ENSURE(limit > 0 && limit <= STORE_LIST_MAX, ZTCA_ERR_BAD_INPUT,
                "store: list limit must be 1-1000");
    size_t n = 0;
    ZTCA_GUARD(store_enter(s, STORE_READ));
    return store_leave(
        s, STORE_READ,
        store_change_page(s, store_conn_of(s), true, &after_seq, INT64_MAX, limit, cb, ctx, &n));
}

/* ---- subscriptions --------------------------------------------------------------------------- */

static int64_t
store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ztca_rc
store_sub_newest(store_sub *sub, int64_t *out)
{
    store *s = sub->parent;
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_CHECK(s->drv->query(sub->conn, STORE_STMT_HEAD_PEEK, NULL, 0, &r));
    ZTCA_CHECK(s->drv->step(r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_STORE, "store: chain_head row missing");
    ZTCA_CHECK(store_col_int(s, r, 2, out));
out:
    if (r != NULL) {
        s->drv->done(r);
    }
    return rc;
}

/* store_sub_settled: where a subscription may read up to when the driver syncs outside the
 * handle's lock (SQLite): the newest change of a snapshot taken now, once every commit that
 * snapshot may hold is durable. Its callbacks act at once (the OCSP cache), so they must not see
 * a change a power cut could undo. The wait is made between two read transactions, not inside
 * one: a snapshot held through a sync keeps SQLite's checkpoints from copying the frames written
 * meanwhile and the WAL from starting over, so under steady writes the WAL can grow (docs/store.md
 * "Syncs outside the lock"). Changes are numbered in commit order, so those up to the newest
 * seen here are exactly the ones this snapshot held. */
static ztca_rc
store_sub_settled(store_sub *sub, int64_t *out_upto)
{
    int64_t newest = 0;
    ZTCA_GUARD(store_sub_newest(sub, &newest));
    /* Nothing new needs no wait, but a failed handle answers STORE all the same. */
    if (newest > sub->cursor || atomic_load(&sub->parent->sync_failed)) {
        ZTCA_GUARD(store_read_settle(sub->parent));
    }
    *out_upto = newest;
    return ZTCA_RC_OK;
}

ztca_rc
store_sub_open(store_sub **out, store *s, int64_t after_seq)
{
    ZTCA_ENSURE(after_seq >= STORE_SUB_FROM_NOW, ZTCA_ERR_BAD_INPUT,
                "store: subscription cursor must be >= 0 or STORE_SUB_FROM_NOW");
    store_sub *sub = ztca_calloc(1, sizeof(*sub));
    ZTCA_ENSURE(sub != NULL, ZTCA_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&sub->mu, NULL) != 0) {
        ztca_free(sub);
        ZTCA_BAIL(ZTCA_ERR_INTERNAL, "store: cannot create a mutex");
    }
    pthread_condattr_t attr;
    bool cond = false;
    if (pthread_condattr_init(&attr) == 0) {
        cond = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0
               && pthread_cond_init(&sub->cond, &attr) == 0;
        pthread_condattr_destroy(&attr);
    }
    if (!cond) {
        pthread_mutex_destroy(&sub->mu);
        ztca_free(sub);
        ZTCA_BAIL(ZTCA_ERR_INTERNAL, "store: cannot create a condition variable");
    }
    sub->parent = s;
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_CHECK(s->drv->connect(&sub->conn, &s->parsed, s->url, &s->opts, NULL, 0));
    if (s->drv->listen != NULL) {
        /* Listen before reading the cursor: a change committed in between is then both in the
         * log after the cursor and notified, never in neither. */
        ZTCA_CHECK(s->drv->listen(sub->conn));
    }
    if (after_seq == STORE_SUB_FROM_NOW) {
        ZTCA_CHECK(store_sub_newest(sub, &sub->cursor));
    } else {
        sub->cursor = after_seq;
    }
    pthread_mutex_lock(&s->subs_mu);
    sub->next = s->subs;
    s->subs = sub;
    pthread_mutex_unlock(&s->subs_mu);
    *out = sub;
    sub = NULL;
out:
    if (sub != NULL) {
        if (sub->conn != NULL) {
            s->drv->disconnect(sub->conn);
        }
        pthread_cond_destroy(&sub->cond);
        pthread_mutex_destroy(&sub->mu);
        ztca_free(sub);
    }
    return rc;
}

void
store_sub_close(store_sub *sub)
{
    if (sub == NULL) {
        return;
    }
    store *s = sub->parent;
    pthread_mutex_lock(&s->subs_mu);
    for (store_sub **p = &s->subs; *p != NULL; p = &(*p)->next) {
        if (*p == sub) {
            *p = sub->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->subs_mu);
    s->drv->disconnect(sub->conn);
    pthread_cond_destroy(&sub->cond);
    pthread_mutex_destroy(&sub->mu);
    ztca_free(sub);
}

int64_t
store_sub_cursor(const store_sub *sub)
{
    return sub->cursor;
}

/* store_sub_sleep: SQLite: until a commit through the parent handle wakes us, or `ms` pass. */
static void
store_sub_sleep(store_sub *sub, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sub->mu);
    while (!sub->woken) {
        if (pthread_cond_timedwait(&sub->cond, &sub->mu, &until) == ETIMEDOUT) {
            break;
        }
    }
    sub->woken = false;
    pthread_mutex_unlock(&sub->mu);
}

ztca_rc
store_sub_poll(store_sub *sub, int timeout_ms, store_change_cb cb, void *ctx, size_t *out_num)
{
    store *s = sub->parent;
    int64_t deadline = store_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    ztca_rc last = ZTCA_RC_OK;
    if (out_num != NULL) {
        *out_num = 0;
    }
    for (;;) {
        size_t n = 0;
        int64_t upto = INT64_MAX;
        ztca_rc rc = s->drv->sync != NULL ? store_sub_settled(sub, &upto) : ZTCA_RC_OK;
        if (ZTCA_IS_OK(rc) && upto > sub->cursor) {
            rc = store_change_page(s, sub->conn, false, &sub->cursor, upto, STORE_LIST_MAX, cb, ctx,
                                   &n);
        }
        last = rc;
        if (out_num != NULL) {
            *out_num = n;
        }
        if (n > 0) {
            return last; /* a callback failure after some changes is reported too */
        }
        int64_t remaining = deadline - store_now_ms();
        if (remaining <= 0) {
            return last;
        }
        if (s->drv->wait == NULL) {
            int slice =
                remaining < STORE_SUB_SLICE_SQLITE_MS ? (int)remaining : STORE_SUB_SLICE_SQLITE_MS;
            store_sub_sleep(sub, slice);
        } else {
            int slice = remaining < STORE_SUB_SLICE_PG_MS ? (int)remaining : STORE_SUB_SLICE_PG_MS;
            ztca_rc w = s->drv->wait(sub->conn, slice);
            if (!ZTCA_IS_OK(w)) {
                last = w;
            }
        }
    }
}
