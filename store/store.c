/* store.c: opening and closing, the lock and transaction around every call, statement and
 * column helpers, and the public transaction API. The backends (store_sqlite.c, store_pg.c) only
 * move bytes; every rule lives here and in the entity files, once for both. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/internal.h"

/* ---- open and close ------------------------------------------------------------------------ */

static void
store_set_errbuf(const store_options *opts, const char *msg)
{
    if (opts != NULL && opts->errbuf != NULL && opts->errbuf_size > 0) {
        snprintf(opts->errbuf, opts->errbuf_size, "%s", msg);
    }
}

static void
store_free_handle(store *s)
{
    for (size_t i = 0; s->rd_all != NULL && i < s->rd_max; i++) {
        if (s->rd_all[i].conn != NULL) {
            s->drv->disconnect(s->rd_all[i].conn);
        }
    }
    if (s->conn != NULL) {
        s->drv->disconnect(s->conn);
    }
    pthread_cond_destroy(&s->rd_cond);
    pthread_mutex_destroy(&s->rd_mu);
    pthread_mutex_destroy(&s->err_mu);
    pthread_cond_destroy(&s->gc_cond);
    pthread_mutex_destroy(&s->gc_mu);
    pthread_mutex_destroy(&s->subs_mu);
    pthread_mutex_destroy(&s->mu);
    ztca_free(s->rd_all);
    ztca_free(s->url);
    ztca_free(s->last_err);
    ztca_free(s);
}

/* store_locks_init: every mutex and condition of a zeroed handle, or none (false). */
static bool
store_locks_init(store *s)
{
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0) {
        return false;
    }
    int n = 0; /* how many of the objects below exist, to undo exactly those */
    if (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK) == 0
        && pthread_mutex_init(&s->mu, &attr) == 0) {
        n++;
        n += pthread_mutex_init(&s->subs_mu, NULL) == 0;
        n += n == 2 && pthread_mutex_init(&s->gc_mu, NULL) == 0;
        n += n == 3 && pthread_cond_init(&s->gc_cond, NULL) == 0;
        n += n == 4 && pthread_mutex_init(&s->err_mu, NULL) == 0;
        n += n == 5 && pthread_mutex_init(&s->rd_mu, NULL) == 0;
        n += n == 6 && pthread_cond_init(&s->rd_cond, NULL) == 0;
    }
    pthread_mutexattr_destroy(&attr);
    if (n == 7) {
        return true;
    }
    if (n > 5) {
        pthread_mutex_destroy(&s->rd_mu);
    }
    if (n > 4) {
        pthread_mutex_destroy(&s->err_mu);
    }
    if (n > 3) {
        pthread_cond_destroy(&s->gc_cond);
    }
    if (n > 2) {
        pthread_mutex_destroy(&s->gc_mu);
    }
    if (n > 1) {
        pthread_mutex_destroy(&s->subs_mu);
    }
    if (n > 0) {
        pthread_mutex_destroy(&s->mu);
    }
    return false;
}

ztca_rc
store_open_ex(store **out, const char *url, const store_options *opts)
{
    ztca_rc rc = ZTCA_RC_OK;
    store *s = NULL;
    store_set_errbuf(opts, "");
    ZTCA_ENSURE(url != NULL, ZTCA_ERR_BAD_INPUT, "store URL missing");
    ZTCA_ENSURE(opts == NULL || (opts->readers >= 0 && opts->readers <= STORE_READERS_MAX),
                ZTCA_ERR_BAD_INPUT, "store: readers must be 0-64");
    store_url_info parsed;
    ZTCA_GUARD(store_url_parse(&parsed, url, strnlen(url, STORE_URL_MAX)));

    s = ztca_calloc(1, sizeof(*s));
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "out of memory");
    atomic_init(&s->gc_waiting, 0);
    atomic_init(&s->gc_commits, 0);
    atomic_init(&s->gc_members, 0);
    atomic_init(&s->mu_owner, 0);
    atomic_init(&s->rd_calls, 0);
    atomic_init(&s->rd_open, 0);
    atomic_init(&s->sync_begun, 0);
    atomic_init(&s->sync_written, 0);
    atomic_init(&s->sync_durable, 0);
    atomic_init(&s->sync_failed, false);
    atomic_init(&s->sync_count, 0);
    atomic_init(&s->sync_read_waits, 0);
    if (!store_locks_init(s)) {
        ztca_free(s);
        ZTCA_BAIL(ZTCA_ERR_INTERNAL, "store: cannot create a mutex");
    }
    s->parsed = parsed;
    s->drv = parsed.backend == STORE_BACKEND_SQLITE ? &store_driver_sqlite : &store_driver_pg;
    if (opts != NULL) {
        s->opts = *opts;
    }
    s->opts.errbuf = NULL;
    s->opts.errbuf_size = 0;
    s->gc_max = s->opts.group_max > 0 ? (size_t)s->opts.group_max : STORE_GROUP_MAX_DEFAULT;
    s->gc_max_age_ns = (long long)(s->opts.group_max_age_ms > 0 ? s->opts.group_max_age_ms
                                                                : STORE_GROUP_AGE_DEFAULT)
                       * 1000000LL;
    s->url = ztca_strdup(url);
    s->last_err = ztca_calloc(1, STORE_ERRMSG_MAX);
    ZTCA_REQUIRE(s->url != NULL && s->last_err != NULL, ZTCA_ERR_NOMEM, "out of memory");
    ZTCA_CHECK(s->drv->connect(&s->conn, &s->parsed, url, &s->opts,
                               opts != NULL ? opts->errbuf : NULL,
                               opts != NULL ? opts->errbuf_size : 0));
    rc = store_migrate(s);
    if (!ZTCA_IS_OK(rc)) {
        store_set_errbuf(opts, s->drv->errmsg(s->conn));
        goto out;
    }
    if (s->opts.readers > 0) {
        /* Readers are opened on demand (store_reader_take), after the migration above: they
         * never see a schema older than this build's. */
        s->rd_all = ztca_calloc((size_t)s->opts.readers, sizeof(*s->rd_all));
        ZTCA_REQUIRE(s->rd_all != NULL, ZTCA_ERR_NOMEM, "out of memory");
        for (int i = s->opts.readers - 1; i >= 0; i--) {
            s->rd_all[i].owner = s;
            atomic_init(&s->rd_all[i].users, 0);
            s->rd_all[i].next = s->rd_spare;
            s->rd_spare = &s->rd_all[i];
        }
        s->rd_max = (size_t)s->opts.readers;
        rc = s->drv->shrink_cache(s->conn);
        if (!ZTCA_IS_OK(rc)) {
            store_set_errbuf(opts, s->drv->errmsg(s->conn));
            goto out;
        }
    }
    *out = s;
    s = NULL;
out:
    if (s != NULL) {
        store_free_handle(s);
    }
    return rc;
}

ztca_rc
store_open(store **out, const char *url)
{
    return store_open_ex(out, url, NULL);
}

void
store_close(store *s)
{
    if (s == NULL) {
        return;
    }
    store_free_handle(s);
}

store_backend
store_get_backend(const store *s)
{
    return s->parsed.backend;
}

void
store_stats_get(const store *s, store_stats *out)
{
    out->commits = atomic_load(&s->gc_commits);
    out->members = atomic_load(&s->gc_members);
    int queued = atomic_load(&s->gc_waiting);
    out->queued = queued > 0 ? (uint64_t)queued : 0;
    out->reads_pooled = atomic_load(&s->rd_calls);
    out->readers = atomic_load(&s->rd_open);
    out->syncs = atomic_load(&s->sync_count);
    out->read_waits = atomic_load(&s->sync_read_waits);
    out->has_wal = s->drv->log_bytes != NULL;
    out->wal_bytes = out->has_wal ? s->drv->log_bytes(s->conn) : 0;
}

const char *
store_errmsg(store *s)
{
    return s->last_err != NULL ? s->last_err : "";
}

/* ---- the lock and the transaction around each call ------------------------------------------ */

/* ---- read connections --------------------------------------------------------------------------
 *
 * With opts.readers > 0 a read call (STORE_READ) outside the caller's own transaction does not
 * take mu: it takes a read-only connection from the pool, binds it to its thread for the call
 * (store_tl_bound, so store_query and the entity files need no new parameter) and gives it back
 * in store_leave. The connections are opened on demand, up to rd_max; a call that finds none
 * free and the pool full waits for one (a lookup holds it for microseconds, a disk read for
 * milliseconds, never across calls). A reader that cannot be opened (PostgreSQL down) leaves the
 * call on the handle's connection, and no new one is tried for a second.
 * Reads inside the caller's transaction, or from a callback of a write call, stay on conn: they
 * must see the transaction's own changes. A reader sees what was committed when its statement
 * (PostgreSQL) or read transaction (SQLite: each statement outside BEGIN) started; a write call
 * returns only after its COMMIT, so a read that starts after a write returned sees it, and an
 * open group-commit batch (not durable yet) is invisible to it, as it was to a read on conn. */

/* Its address identifies this thread in mu_owner. */
static _Thread_local char store_tl_self;
/* The readers bound to this thread, innermost first (more than one only when a callback of one
 * handle's call calls another handle). */
static _Thread_local store_reader *store_tl_bound;

static store_reader *
store_bound(const store *s)
{
    for (store_reader *rd = store_tl_bound; rd != NULL; rd = rd->outer) {
        if (rd->owner == s) {
            return rd;
        }
    }
    return NULL;
}

store_conn *
store_conn_of(store *s)
{
    if (s->rd_max > 0) {
        store_reader *rd = store_bound(s);
        if (rd != NULL) {
            return rd->conn;
        }
    }
    return s->conn;
}

void
store_cb_mark(store *s, bool in_cb)
{
    if (s->rd_max == 0 || store_bound(s) == NULL) {
        s->in_cb = in_cb; /* mu is held: the call runs on conn */
    }
}

static bool
store_mu_is_mine(const store *s)
{
    return atomic_load(&s->mu_owner) == (uintptr_t)&store_tl_self;
}

static bool
store_rd_may_open(const store *s)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > s->rd_retry.tv_sec
           || (now.tv_sec == s->rd_retry.tv_sec && now.tv_nsec >= s->rd_retry.tv_nsec);
}

/* store_reader_take: a free reader, a newly opened one, or (none could be opened) NULL. */
static ztca_rc
store_reader_take(store *s, store_reader **out)
{
    store_reader *rd = NULL;
    *out = NULL;
    pthread_mutex_lock(&s->rd_mu);
    for (;;) {
        if (s->rd_free != NULL) {
            rd = s->rd_free;
            s->rd_free = rd->next;
            break;
        }
        if (s->rd_spare != NULL && store_rd_may_open(s)) {
            /* Connect outside the lock (PostgreSQL: a round trip, or a timeout), so other
             * readers come and go meanwhile. */
            rd = s->rd_spare;
            s->rd_spare = rd->next;
            s->rd_open++;
            pthread_mutex_unlock(&s->rd_mu);
            ztca_rc rc = s->drv->connect_reader(&rd->conn, &s->parsed, s->url, &s->opts);
            pthread_mutex_lock(&s->rd_mu);
            if (ZTCA_IS_OK(rc)) {
                break;
            }
            rd->conn = NULL;
            rd->next = s->rd_spare;
            s->rd_spare = rd;
            s->rd_open--;
            rd = NULL;
            clock_gettime(CLOCK_MONOTONIC, &s->rd_retry);
            s->rd_retry.tv_sec += 1;
            pthread_cond_broadcast(&s->rd_cond); /* waiters may now have nothing to wait for */
            break;
        }
        if (s->rd_open == 0) {
            break; /* none open and none may be opened now: use conn */
        }
        pthread_cond_wait(&s->rd_cond, &s->rd_mu);
    }
    pthread_mutex_unlock(&s->rd_mu);
    if (rd == NULL) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(atomic_fetch_add(&rd->users, 1) == 0, ZTCA_ERR_INTERNAL,
                "store: a read connection handed to two calls");
    *out = rd;
    return ZTCA_RC_OK;
}

static void
store_reader_give(store *s, store_reader *rd)
{
    atomic_fetch_sub(&rd->users, 1);
    pthread_mutex_lock(&s->rd_mu);
    rd->next = s->rd_free;
    s->rd_free = rd;
    pthread_cond_signal(&s->rd_cond);
    pthread_mutex_unlock(&s->rd_mu);
}

static void
store_note_errmsg(store *s)
{
    if (s->last_err != NULL) {
        pthread_mutex_lock(&s->err_mu);
        snprintf(s->last_err, STORE_ERRMSG_MAX, "%s", s->drv->errmsg(store_conn_of(s)));
        pthread_mutex_unlock(&s->err_mu);
    }
}

static void
store_wake_subs(store *s)
{
    pthread_mutex_lock(&s->subs_mu);
    for (store_sub *sub = s->subs; sub != NULL; sub = sub->next) {
        pthread_mutex_lock(&sub->mu);
        sub->woken = true;
        pthread_cond_signal(&sub->cond);
        pthread_mutex_unlock(&sub->mu);
    }
    pthread_mutex_unlock(&s->subs_mu);
}

static ztca_rc
store_head_write(store *s)
{
    store_param p[3] = { store_p_int(s->head.audit_seq),
                         store_p_blob(s->head.audit_hash, STORE_HASH_LEN),
                         store_p_int(s->head.change_seq) };
    int64_t n = 0;
    ZTCA_GUARD(store_exec(s, STORE_STMT_HEAD_UPDATE, p, 3, &n));
    ZTCA_ENSURE(n == 1, ZTCA_ERR_STORE, "store: chain_head row missing");
    s->head.dirty = false;
    return ZTCA_RC_OK;
}

/* ---- group commit ------------------------------------------------------------------------------
 *
 * Every write call (outside a caller's transaction) and every caller's transaction is a member.
 * Members still run one at a time under mu on the one connection, but the durable COMMIT (for
 * SQLite a sync of the WAL, made outside mu: see below; for PostgreSQL its WAL flush) is shared:
 *   - the first member BEGINs; a member that finds a batch open joins it under SAVEPOINT
 *     ztca_member, so when it fails, ROLLBACK TO undoes its own changes only;
 *   - a member that finished well stays in the open transaction and, if another thread is
 *     about to take mu (gc_waiting > 0), hands mu on and sleeps until the batch ends: the last
 *     member, the one nobody is waiting behind, COMMITs for all and wakes them with the outcome;
 *   - with no other thread waiting the member COMMITs at once, as before: no added wait;
 *   - a batch of gc_max members, or older than gc_max_age_ns since its first member finished,
 *     is committed by the next thread instead of joined, which bounds what a member waits for;
 *   - a read outside a transaction commits an open batch first, so it never sees changes that
 *     are not durable yet.
 * Nothing is handed out before the COMMIT that holds it is durable: a member's call returns only
 * then. Members run in order on one connection, so the audit chain and the change log are
 * written in commit order, each member reading the head its predecessor left.
 *
 * Syncs outside the lock (drv->sync != NULL: SQLite). COMMIT writes the WAL without syncing it
 * (synchronous=NORMAL) under mu; the sync follows after mu is released, so the next batch runs
 * while the disk flushes (docs/store.md). Commits are numbered: sync_begun before COMMIT,
 * sync_written after it returned, sync_durable once a sync that started after it returned. One
 * sync runs at a time, by whichever waiting thread finds none running: a member of a committed
 * batch, or a read. A sync covers every commit written before it started, so one sync usually
 * settles several batches. Members learn the outcome only when their commit is durable, and a
 * read waits after its first step until every commit its snapshot can hold (those begun by
 * then) is durable; so nothing that a power cut could undo is handed out or answered. A failed
 * sync fails the handle for good (store_options.on_sync_failed). */

struct store_member {
    struct store_member *next;
    bool done;    /* guarded by gc_mu */
    ztca_err err; /* the batch's outcome, once done */
    uint64_t seq; /* its batch's commit number once committed (syncs outside the lock); gc_mu */
};

/* store_sync_wait: with `m` (a member): until its batch is done, failed, or committed and
 * durable; else until every commit up to `target` is durable. Runs the sync when this thread
 * finds commits written and none running. */
static ztca_rc
store_sync_wait(store *s, struct store_member *m, uint64_t target)
{
    ztca_err err = ZTCA_OK;
    bool wake_subs = false, tell_failed = false;
    pthread_mutex_lock(&s->gc_mu);
    for (;;) {
        if (m != NULL && m->done) {
            err = m->err;
            break;
        }
        if (m != NULL) {
            target = m->seq; /* 0 until its batch committed */
        }
        if (target != 0 && atomic_load(&s->sync_durable) >= target) {
            break;
        }
        /* A member leaves only once its batch is committed (seq set) or done: until then it is
         * linked in s->batch, which the batch's COMMIT walks. */
        if (atomic_load(&s->sync_failed) && (m == NULL || m->seq != 0)) {
            err = ZTCA_ERR_STORE;
            break;
        }
        uint64_t written = atomic_load(&s->sync_written);
        if (target != 0 && !s->sync_running && written > atomic_load(&s->sync_durable)) {
            s->sync_running = true;
            pthread_mutex_unlock(&s->gc_mu);
            ztca_rc rc = s->drv->sync(s->conn);
            atomic_fetch_add(&s->sync_count, 1);
            pthread_mutex_lock(&s->gc_mu);
            s->sync_running = false;
            if (ZTCA_IS_OK(rc)) {
                if (written > atomic_load(&s->sync_durable)) {
                    atomic_store(&s->sync_durable, written);
                }
                if (s->sync_publish > s->sync_woken && s->sync_publish <= written) {
                    s->sync_woken = s->sync_publish;
                    wake_subs = true;
                }
            } else if (!atomic_exchange(&s->sync_failed, true)) {
                tell_failed = true;
            }
            pthread_cond_broadcast(&s->gc_cond);
            continue;
        }
        pthread_cond_wait(&s->gc_cond, &s->gc_mu);
    }
    pthread_mutex_unlock(&s->gc_mu);
    if (wake_subs) {
        store_wake_subs(s);
    }
    if (tell_failed) {
        pthread_mutex_lock(&s->err_mu);
        snprintf(s->last_err, STORE_ERRMSG_MAX, "%s", "the sync of committed data failed");
        pthread_mutex_unlock(&s->err_mu);
        if (s->opts.on_sync_failed != NULL) {
            s->opts.on_sync_failed(s->opts.on_sync_failed_arg);
        }
    }
    if (err != ZTCA_OK) {
        return ztca_note(err, __FILE__, __LINE__,
                         atomic_load(&s->sync_failed) ? "store: a sync to disk failed"
                                                      : "store: the group commit failed",
                         0);
    }
    return ZTCA_RC_OK;
}

ztca_rc
store_read_settle(store *s)
{
    if (s->drv->sync == NULL) {
        return ZTCA_RC_OK;
    }
    uint64_t target = atomic_load(&s->sync_begun);
    if (atomic_load(&s->sync_durable) >= target && !atomic_load(&s->sync_failed)) {
        return ZTCA_RC_OK;
    }
    atomic_fetch_add(&s->sync_read_waits, 1);
    return store_sync_wait(s, NULL, target);
}

/* store_lock: locks mu, counting this thread meanwhile in gc_waiting: a member that sees it
 * leaves the commit to this thread. */
static int
store_lock(store *s)
{
    atomic_fetch_add(&s->gc_waiting, 1);
    int e = pthread_mutex_lock(&s->mu);
    atomic_fetch_sub(&s->gc_waiting, 1);
    if (e == 0) {
        atomic_store(&s->mu_owner, (uintptr_t)&store_tl_self);
    }
    return e;
}

/* store_mu_release: unlocks mu, which this thread holds. */
static void
store_mu_release(store *s)
{
    atomic_store(&s->mu_owner, 0);
    pthread_mutex_unlock(&s->mu);
}

static bool
store_batch_is_due(const store *s)
{
    if (s->batch_num >= s->gc_max) {
        return true;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ns = (long long)(now.tv_sec - s->batch_start.tv_sec) * 1000000000LL
                   + (now.tv_nsec - s->batch_start.tv_nsec);
    return ns >= s->gc_max_age_ns;
}

/* store_batch_end: commits the open transaction (or rolls it back when a failure left it
 * unusable) and tells every finished member the outcome. mu held. */
static ztca_rc
store_batch_end(store *s, bool commit)
{
    ztca_rc rc = ZTCA_RC_OK;
    bool deferred = false;
    uint64_t seq = 0;
    if (commit) {
        deferred = s->drv->sync != NULL;
        seq = atomic_fetch_add(&s->sync_begun, 1) + 1;
        rc = s->drv->commit(s->conn);
        atomic_store(&s->sync_written, seq); /* a failed COMMIT wrote nothing to wait for */
        if (!ZTCA_IS_OK(rc)) {
            store_note_errmsg(s);
        }
    } else {
        s->drv->rollback(s->conn);
        rc = ZTCA_NOTE(ZTCA_ERR_STORE, "store: a savepoint failed, the batch was rolled back", 0);
    }
    bool publish = ZTCA_IS_OK(rc) && s->batch_published;
    deferred = deferred && ZTCA_IS_OK(rc);
    atomic_fetch_add(&s->gc_commits, 1);
    atomic_fetch_add(&s->gc_members, (uint64_t)s->batch_num);
    pthread_mutex_lock(&s->gc_mu);
    for (struct store_member *m = s->batch; m != NULL;) {
        struct store_member *next = m->next; /* m lives on its waiter's stack until done */
        if (deferred) {
            m->seq = seq; /* done once durable (store_sync_wait) */
        } else {
            m->err = rc.err;
            m->done = true;
        }
        m = next;
    }
    if (deferred && publish) {
        s->sync_publish = seq; /* subscribers are woken once it is durable */
        publish = false;
    }
    s->batch = NULL;
    pthread_cond_broadcast(&s->gc_cond);
    pthread_mutex_unlock(&s->gc_mu);
    s->batch_num = 0;
    s->batch_published = false;
    if (publish) {
        store_wake_subs(s);
    }
    return rc;
}

/* store_unlock: releases mu; an open batch that no waiting thread will join is committed
 * first (its members get the outcome). */
static void
store_unlock(store *s)
{
    if (s->batch_num > 0 && (atomic_load(&s->gc_waiting) == 0 || store_batch_is_due(s))) {
        ztca_rc ignored = store_batch_end(s, true);
        (void)ignored;
    }
    store_mu_release(s);
}

/* store_member_begin: mu held, outside a caller's transaction: BEGIN, or join the open batch. */
static ztca_rc
store_member_begin(store *s)
{
    s->published = false;
    if (s->batch_num > 0 && store_batch_is_due(s)) {
        ztca_rc ignored = store_batch_end(s, true);
        (void)ignored;
    }
    ztca_rc rc = ZTCA_RC_OK;
    if (s->batch_num == 0) {
        s->member_sp = false;
        rc = s->drv->begin(s->conn);
        if (!ZTCA_IS_OK(rc)) {
            store_note_errmsg(s);
        }
        return rc;
    }
    s->member_sp = true;
    rc = s->drv->exec_script(s->conn, "SAVEPOINT ztca_member");
    if (!ZTCA_IS_OK(rc)) {
        store_note_errmsg(s);
        ztca_rc ignored = store_batch_end(s, false);
        (void)ignored;
    }
    return rc;
}

/* store_member_end: mu held; ends the running member and unlocks mu. With `keep` its changes
 * join the batch and the result is the outcome of the COMMIT that holds them (this thread's or
 * the one it waited for); without, only its own changes are undone and `rc` is returned. */
static ztca_rc
store_member_end(store *s, ztca_rc rc, bool keep)
{
    if (!keep) {
        if (s->member_sp) {
            ztca_rc r1 = s->drv->exec_script(s->conn, "ROLLBACK TO SAVEPOINT ztca_member");
            ztca_rc r2 = s->drv->exec_script(s->conn, "RELEASE SAVEPOINT ztca_member");
            if (!ZTCA_IS_OK(r1) || !ZTCA_IS_OK(r2)) {
                ztca_rc ignored = store_batch_end(s, false);
                (void)ignored;
            }
        } else {
            s->drv->rollback(s->conn); /* it began the transaction: nobody else is in it */
        }
        store_unlock(s);
        return rc;
    }
    if (s->member_sp) {
        rc = s->drv->exec_script(s->conn, "RELEASE SAVEPOINT ztca_member");
        if (!ZTCA_IS_OK(rc)) {
            store_note_errmsg(s);
            ztca_rc ignored = store_batch_end(s, false);
            (void)ignored;
            store_mu_release(s);
            return rc;
        }
    }
    struct store_member self = { s->batch, false, ZTCA_OK, 0 };
    s->batch = &self;
    if (s->batch_num++ == 0) {
        clock_gettime(CLOCK_MONOTONIC, &s->batch_start);
    }
    s->batch_published = s->batch_published || s->published;
    if (atomic_load(&s->gc_waiting) == 0 || store_batch_is_due(s)) {
        rc = store_batch_end(s, true);
        store_mu_release(s);
        if (!ZTCA_IS_OK(rc)) {
            return rc; /* the COMMIT's own reason (a full disk), not the batch's summary */
        }
        return store_sync_wait(s, &self, 0);
    }
    store_mu_release(s);
    return store_sync_wait(s, &self, 0);
}

/* ---- entering and leaving a call ---------------------------------------------------------- */

/* store_call_savepoint: a write call inside the caller's transaction runs under SAVEPOINT
 * ztca_call, so that its failure undoes it alone. The savepoint of the call before it, which
 * succeeded, is released only now: the PostgreSQL driver holds both commands back and sends them
 * with the call's first statement, where a RELEASE after every call, and every SAVEPOINT, had been
 * a round trip of its own (14 of the 32 of an issuance). mu held. */
static ztca_rc
store_call_savepoint(store *s)
{
    ztca_rc rc = ZTCA_RC_OK;
    if (s->call_sp_open) {
        rc = s->drv->exec_script(s->conn, "RELEASE SAVEPOINT ztca_call");
    }
    if (ZTCA_IS_OK(rc)) {
        rc = s->drv->exec_script(s->conn, "SAVEPOINT ztca_call");
    }
    s->call_sp_open = ZTCA_IS_OK(rc);
    if (!ZTCA_IS_OK(rc)) {
        store_note_errmsg(s);
    }
    return rc;
}

ztca_rc
store_enter(store *s, store_mode mode)
{
    ZTCA_ENSURE(!atomic_load(&s->sync_failed), ZTCA_ERR_STORE,
                "store: a sync to disk failed; restart to recover from the file");
    if (s->rd_max > 0) {
        /* A thread in a call on a pooled reader re-enters only from a list callback. */
        ZTCA_ENSURE(store_bound(s) == NULL, ZTCA_ERR_INTERNAL,
                    "store: called from a list callback on the same handle");
        if (mode == STORE_READ && !store_mu_is_mine(s)) {
            store_reader *rd = NULL;
            ZTCA_GUARD(store_reader_take(s, &rd));
            if (rd != NULL) {
                atomic_fetch_add(&s->rd_calls, 1);
                rd->outer = store_tl_bound;
                store_tl_bound = rd;
                return ZTCA_RC_OK;
            }
        }
    }
    int e = store_lock(s);
    if (e == EDEADLK) {
        /* This thread holds the handle already: its own transaction (join it under a savepoint)
         * or a list callback calling back in (refused: the handle is in the middle of a read). */
        ZTCA_ENSURE(!s->in_cb, ZTCA_ERR_INTERNAL,
                    "store: called from a list callback on the same handle");
        ZTCA_ENSURE(s->user_txn, ZTCA_ERR_INTERNAL, "store: handle re-entered");
        memset(&s->head, 0, sizeof(s->head));
        return mode == STORE_WRITE ? store_call_savepoint(s) : ZTCA_RC_OK;
    }
    ZTCA_ENSURE(e == 0, ZTCA_ERR_INTERNAL, "store: cannot lock the handle");
    memset(&s->head, 0, sizeof(s->head));
    if (mode == STORE_WRITE) {
        ztca_rc rc = store_member_begin(s);
        if (!ZTCA_IS_OK(rc)) {
            store_unlock(s);
            return rc;
        }
    } else if (s->batch_num > 0) {
        /* Reads see durable data only. */
        ztca_rc ignored = store_batch_end(s, true);
        (void)ignored;
    }
    return ZTCA_RC_OK;
}

ztca_rc
store_leave(store *s, store_mode mode, ztca_rc rc)
{
    store_reader *rd = mode == STORE_READ && s->rd_max > 0 ? store_bound(s) : NULL;
    if (rd != NULL) {
        if (!ZTCA_IS_OK(rc)) {
            store_note_errmsg(s);
        }
        store_tl_bound = rd->outer; /* the innermost: calls nest like parentheses */
        rd->outer = NULL;
        store_reader_give(s, rd);
        return ZTCA_IS_OK(rc) ? store_read_settle(s) : rc;
    }
    if (mode == STORE_WRITE && ZTCA_IS_OK(rc) && s->head.dirty) {
        rc = store_head_write(s);
    }
    if (mode == STORE_WRITE && ZTCA_IS_OK(rc) && s->drv->flush != NULL) {
        rc = s->drv->flush(s->conn); /* statements held back answer now, inside this call */
    }
    if (!ZTCA_IS_OK(rc)) {
        store_note_errmsg(s);
    }
    if (s->user_txn) {
        if (mode == STORE_WRITE && !ZTCA_IS_OK(rc)) {
            /* Undo this call only; the caller's transaction goes on as before it (the savepoint
             * of the call before was released when this one's was set). A call that succeeded
             * keeps its savepoint open (store_call_savepoint). */
            ztca_rc ignored = s->drv->exec_script(s->conn, "ROLLBACK TO SAVEPOINT ztca_call");
            ignored = s->drv->exec_script(s->conn, "RELEASE SAVEPOINT ztca_call");
            (void)ignored;
            s->call_sp_open = false;
        }
        return rc;
    }
    if (mode == STORE_WRITE) {
        return store_member_end(s, rc, ZTCA_IS_OK(rc));
    }
    store_unlock(s);
    return ZTCA_IS_OK(rc) ? store_read_settle(s) : rc;
}

/* ---- the caller's transaction --------------------------------------------------------------- */

ztca_rc
store_txn_begin(store *s)
{
    ZTCA_ENSURE(s->rd_max == 0 || store_bound(s) == NULL, ZTCA_ERR_INTERNAL,
                "store: called from a list callback on the same handle");
    int e = store_lock(s);
    ZTCA_ENSURE(e != EDEADLK, ZTCA_ERR_INTERNAL, "store: transactions do not nest");
    ZTCA_ENSURE(e == 0, ZTCA_ERR_INTERNAL, "store: cannot lock the handle");
    ztca_rc rc = store_member_begin(s);
    if (!ZTCA_IS_OK(rc)) {
        store_unlock(s);
        return rc;
    }
    s->user_txn = true;
    s->call_sp_open = false;
    return ZTCA_RC_OK; /* the lock stays with this thread until commit or rollback */
}

/* store_txn_holder: true when this thread is inside its own transaction on `s`: relocking an
 * error-checking mutex we hold reports EDEADLK (misuse from another thread waits, then is
 * refused). */
static bool
store_txn_holder(store *s)
{
    int e = pthread_mutex_lock(&s->mu);
    if (e == EDEADLK) {
        return s->user_txn;
    }
    if (e == 0) {
        pthread_mutex_unlock(&s->mu);
    }
    return false;
}

ztca_rc
store_txn_commit(store *s)
{
    ZTCA_ENSURE(store_txn_holder(s), ZTCA_ERR_INTERNAL, "store: no transaction to commit");
    s->user_txn = false;
    s->call_sp_open = false; /* released with the member's savepoint, or by the COMMIT */
    return store_member_end(s, ZTCA_RC_OK, true);
}

void
store_txn_rollback(store *s)
{
    if (!store_txn_holder(s)) {
        return;
    }
    s->user_txn = false;
    s->call_sp_open = false;
    ztca_rc ignored = store_member_end(s, ZTCA_RC_OK, false);
    (void)ignored;
}

/* ---- statements and columns ----------------------------------------------------------------- */

ztca_rc
store_query(store *s, store_stmt id, const store_param *params, size_t num_params, store_rows **out)
{
    return s->drv->query(store_conn_of(s), id, params, num_params, out);
}

ztca_rc
store_step(store *s, store_rows *r, bool *out_has_row)
{
    return s->drv->step(r, out_has_row);
}

void
store_done(store *s, store_rows *r)
{
    if (r != NULL) {
        s->drv->done(r);
    }
}

ztca_rc
store_exec(store *s, store_stmt id, const store_param *params, size_t num_params,
           int64_t *out_changes)
{
    if (out_changes == NULL && s->drv->exec_later != NULL) {
        return s->drv->exec_later(store_conn_of(s), id, params, num_params);
    }
    store_rows *r = NULL;
    ZTCA_GUARD(store_query(s, id, params, num_params, &r));
    bool row = true;
    ztca_rc rc = ZTCA_RC_OK;
    while (row && ZTCA_IS_OK(rc)) {
        rc = store_step(s, r, &row);
    }
    if (ZTCA_IS_OK(rc) && out_changes != NULL) {
        *out_changes = s->drv->changes(r);
    }
    store_done(s, r);
    return rc;
}

ztca_rc
store_col_int(store *s, store_rows *r, int col, int64_t *out)
{
    ZTCA_ENSURE(!s->drv->col_is_null(r, col), ZTCA_ERR_STORE, "store: unexpected NULL");
    return s->drv->col_int(r, col, out);
}

ztca_rc
store_col_int_opt(store *s, store_rows *r, int col, int64_t null_value, int64_t *out)
{
    if (s->drv->col_is_null(r, col)) {
        *out = null_value;
        return ZTCA_RC_OK;
    }
    return s->drv->col_int(r, col, out);
}

ztca_rc
store_col_text(store *s, store_rows *r, int col, char *buf, size_t size)
{
    const uint8_t *p = NULL;
    size_t len = 0;
    ZTCA_GUARD(s->drv->col_bytes(r, col, &p, &len));
    ZTCA_ENSURE(len < size, ZTCA_ERR_STORE, "store: stored text longer than expected");
    ZTCA_ENSURE(len == 0 || memchr(p, '\0', len) == NULL, ZTCA_ERR_STORE,
                "store: NUL in stored text");
    if (len > 0) {
        memcpy(buf, p, len);
    }
    buf[len] = '\0';
    return ZTCA_RC_OK;
}

ztca_rc
store_col_dup(store *s, store_rows *r, int col, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (s->drv->col_is_null(r, col)) {
        return ZTCA_RC_OK;
    }
    const uint8_t *p = NULL;
    size_t len = 0;
    ZTCA_GUARD(s->drv->col_bytes(r, col, &p, &len));
    uint8_t *d = ztca_malloc(len + 1);
    ZTCA_ENSURE(d != NULL, ZTCA_ERR_NOMEM, "out of memory");
    if (len > 0) {
        memcpy(d, p, len);
    }
    d[len] = '\0';
    *out = d;
    *out_len = len;
    return ZTCA_RC_OK;
}

ztca_rc
store_col_fixed(store *s, store_rows *r, int col, uint8_t *out, size_t len, bool *out_present)
{
    if (s->drv->col_is_null(r, col)) {
        ZTCA_ENSURE(out_present != NULL, ZTCA_ERR_STORE, "store: unexpected NULL");
        *out_present = false;
        memset(out, 0, len);
        return ZTCA_RC_OK;
    }
    const uint8_t *p = NULL;
    size_t n = 0;
    ZTCA_GUARD(s->drv->col_bytes(r, col, &p, &n));
    ZTCA_ENSURE(n == len, ZTCA_ERR_STORE, "store: stored hash of the wrong length");
    memcpy(out, p, len);
    if (out_present != NULL) {
        *out_present = true;
    }
    return ZTCA_RC_OK;
}

ztca_rc
store_schema_version(store *s, int64_t *out)
{
    ZTCA_GUARD(store_enter(s, STORE_READ));
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = store_query(s, STORE_STMT_SCHEMA_VERSION, NULL, 0, &r);
    if (ZTCA_IS_OK(rc)) {
        rc = store_step(s, r, &row);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = row ? store_col_int(s, r, 0, out)
                 : ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__, "store: no schema version", 0);
    }
    store_done(s, r);
    return store_leave(s, STORE_READ, rc);
}

/* ---- the chain head -------------------------------------------------------------------------- */

ztca_rc
store_head_load(store *s)
{
    if (s->head.loaded) {
        return ZTCA_RC_OK;
    }
    store_rows *r = NULL;
    bool row = false;
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_CHECK(store_query(s, STORE_STMT_HEAD_LOCK, NULL, 0, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_STORE, "store: chain_head row missing");
    ZTCA_CHECK(store_col_int(s, r, 0, &s->head.audit_seq));
    ZTCA_CHECK(store_col_fixed(s, r, 1, s->head.audit_hash, STORE_HASH_LEN, NULL));
    ZTCA_CHECK(store_col_int(s, r, 2, &s->head.change_seq));
    s->head.loaded = true;
    s->head.dirty = false;
out:
    store_done(s, r);
    return rc;
}
