/* store_pg.c: the PostgreSQL backend over libpq. One connection per handle (plus one per
 * subscription, and the handle's pooled read connections). Statements are prepared by name on first
 * use per connection; parameters go as text (integers, strings) or binary (bytea), results come
 * back binary, so no server setting (DateStyle, bytea_output, extra_float_digits) changes what we
 * read.
 *
 * Lost connections: a dead connection is only noticed when used. Before a transaction starts, or
 * for a single read outside one, nothing has changed yet, so the connection is re-established and
 * the statement retried once; inside a transaction the call fails with STORE and the next call
 * reconnects. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/internal.h"
#include "store/store_pq.h"

#define STORE_PG_CHANNEL "ztca_change"
#define STORE_PG_CHUNK   256 /* pipelined statements per sync: results stay in socket buffers */
#define STORE_PG_INT2OID 21
#define STORE_PG_INT4OID 23
#define STORE_PG_INT8OID 20

struct store_rows {
    struct store_conn *conn;
    PGresult *res; /* owned while busy */
    int row;
    int num_rows;
    int64_t changes;
};

/* Parameter arrays for one statement; integers are formatted into ints[]. */
typedef struct store_pg_params {
    const char *values[STORE_MAX_PARAMS];
    int lengths[STORE_MAX_PARAMS];
    int formats[STORE_MAX_PARAMS];
    char ints[STORE_MAX_PARAMS][24];
} store_pg_params;

/* A command held back inside a transaction, to go out with the next statement that needs an
 * answer, in one round trip (store_pg_pipeline): a savepoint command, or a statement whose only
 * answer is success or failure (store.c's store_exec without a change count). */
typedef struct store_pg_held {
    const char *script; /* a constant savepoint command; NULL: the statement `id` */
    store_stmt id;
    size_t num_params;
    store_pg_params pp; /* text and blob values point into `data` */
    uint8_t *data;      /* owned */
} store_pg_held;

#define STORE_PG_HELD_MAX 8

struct store_conn {
    PGconn *pg; /* owned; NULL after a failed reconnect */
    char *url;  /* owned */
    int connect_timeout_s;
    bool prepared[STORE_STMT_COUNT];
    bool in_txn;
    bool listening; /* LISTEN again after every reconnect */
    bool standby;   /* a hot standby: no LISTEN there, the subscriber reads the log instead */
    bool read_only; /* a pooled reader: default_transaction_read_only again after a reconnect */
    store_rows rows;
    bool rows_busy;
    store_pg_held held[STORE_PG_HELD_MAX];
    size_t num_held;
    char err[STORE_ERRMSG_MAX];
};

static void store_pg_held_clear(store_conn *c);

static void
store_pg_keep_err(store_conn *c, const char *msg)
{
    snprintf(c->err, sizeof(c->err), "%s", msg != NULL ? msg : "");
    /* libpq messages end with a newline; logs want one line. */
    size_t n = strlen(c->err);
    while (n > 0 && (c->err[n - 1] == '\n' || c->err[n - 1] == '\r')) {
        c->err[--n] = '\0';
    }
}

static bool
store_pg_is_dead(const store_conn *c)
{
    return c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD;
}

/* store_pg_fail: a failed result -> ztca_err. SQLSTATE classes (PostgreSQL appendix A): 23505
 * unique_violation, 23503 foreign_key_violation, 23502/23514 not-null/check. The note keeps the
 * SQLSTATE read as a base-36 number. */
static ztca_rc
store_pg_fail(store_conn *c, const PGresult *res)
{
    const char *msg = res != NULL ? PQresultErrorMessage(res) : NULL;
    store_pg_keep_err(c, msg != NULL && msg[0] != '\0' ? msg
                         : c->pg != NULL               ? PQerrorMessage(c->pg)
                                                       : "no connection");
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    long foreign = state != NULL ? strtol(state, NULL, 36) : 0;
    if (state != NULL && strcmp(state, "23505") == 0) {
        return ztca_note(ZTCA_ERR_CONFLICT, __FILE__, __LINE__, "store: the key already exists",
                         foreign);
    }
    if (state != NULL && strcmp(state, "23503") == 0) {
        return ztca_note(ZTCA_ERR_NOT_FOUND, __FILE__, __LINE__,
                         "store: a referenced row does not exist", foreign);
    }
    if (state != NULL && (strcmp(state, "23502") == 0 || strcmp(state, "23514") == 0)) {
        return ztca_note(ZTCA_ERR_BAD_INPUT, __FILE__, __LINE__,
                         "store: value refused by a constraint", foreign);
    }
    if (store_pg_is_dead(c)) {
        return ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__,
                         "store: lost the connection to PostgreSQL", foreign);
    }
    return ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__, "store: PostgreSQL failed", foreign);
}

/* store_pg_command: one constant command (BEGIN, COMMIT, LISTEN, scripts). */
static ztca_rc
store_pg_command(store_conn *c, const char *sql)
{
    ZTCA_ENSURE(c->pg != NULL, ZTCA_ERR_STORE, "store: no connection to PostgreSQL");
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    ztca_rc rc = ZTCA_RC_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = store_pg_fail(c, res);
    }
    PQclear(res);
    return rc;
}

/* store_pg_dial: a new connection with the handle's URL. Our defaults come before the URL in the
 * keyword list, so the URL may override them; client_encoding comes after, so it may not (the
 * audit hash is over UTF-8 bytes). */
static ztca_rc
store_pg_dial(store_conn *c)
{
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    memset(c->prepared, 0, sizeof(c->prepared));
    c->in_txn = false;
    store_pg_held_clear(c);
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", c->connect_timeout_s);
    const char *const keys[] = { "connect_timeout", "application_name", "dbname", "client_encoding",
                                 NULL };
    const char *const vals[] = { timeout, "ztca", c->url, "UTF8", NULL };
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    ZTCA_ENSURE(pg != NULL, ZTCA_ERR_NOMEM, "out of memory");
    if (PQstatus(pg) != CONNECTION_OK) {
        store_pg_keep_err(c, PQerrorMessage(pg));
        PQfinish(pg);
        ZTCA_BAIL(ZTCA_ERR_STORE, "store: cannot connect to PostgreSQL");
    }
    if (PQserverVersion(pg) < 130000) {
        store_pg_keep_err(c, "server older than PostgreSQL 13");
        PQfinish(pg);
        ZTCA_BAIL(ZTCA_ERR_UNSUPPORTED, "store: PostgreSQL 13 or newer is required");
    }
    c->pg = pg;
    if (c->read_only) {
        /* A pooled reader runs only reads; the server refuses anything else on it. */
        ztca_rc rc = store_pg_command(c, "SET default_transaction_read_only = on");
        if (!ZTCA_IS_OK(rc)) {
            PQfinish(c->pg);
            c->pg = NULL;
            return rc;
        }
    }
    if (c->listening) {
        /* NOTIFY does not reach a standby, and LISTEN is refused during recovery: there the
         * change log, which replicates, is read every poll slice (docs/scaling.md). */
        PGresult *res = PQexec(c->pg, "SELECT pg_is_in_recovery()");
        c->standby = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                     && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
    }
    if (c->listening && !c->standby) {
        ztca_rc rc = store_pg_command(c, "LISTEN " STORE_PG_CHANNEL);
        if (!ZTCA_IS_OK(rc)) {
            PQfinish(c->pg);
            c->pg = NULL;
            return rc;
        }
    }
    return ZTCA_RC_OK;
}

static void
store_pg_disconnect(store_conn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->rows_busy) {
        PQclear(c->rows.res);
    }
    store_pg_held_clear(c);
    PQfinish(c->pg);
    ztca_free(c->url);
    ztca_free(c);
}

static ztca_rc
store_pg_open(store_conn **out, const char *url, const store_options *opts, bool read_only,
              char *errbuf, size_t errbuf_size)
{
    ZTCA_GUARD(store_pq_load());
    store_conn *c = ztca_calloc(1, sizeof(*c));
    ZTCA_ENSURE(c != NULL, ZTCA_ERR_NOMEM, "out of memory");
    c->rows.conn = c;
    c->read_only = read_only;
    c->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 5;
    c->url = ztca_strdup(url);
    if (c->url == NULL) {
        ztca_free(c);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "out of memory");
    }
    ztca_rc rc = store_pg_dial(c);
    if (!ZTCA_IS_OK(rc)) {
        if (errbuf != NULL && errbuf_size > 0) {
            snprintf(errbuf, errbuf_size, "%s", c->err);
        }
        store_pg_disconnect(c);
        return rc;
    }
    *out = c;
    return ZTCA_RC_OK;
}

static ztca_rc
store_pg_connect(store_conn **out, const store_url_info *u, const char *url,
                 const store_options *opts, char *errbuf, size_t errbuf_size)
{
    (void)u;
    return store_pg_open(out, url, opts, false, errbuf, errbuf_size);
}

/* store_pg_connect_reader: one more session; reads outside a transaction each take their own
 * snapshot, as on the handle's connection, so a reader sees every committed write. */
static ztca_rc
store_pg_connect_reader(store_conn **out, const store_url_info *u, const char *url,
                        const store_options *opts)
{
    (void)u;
    return store_pg_open(out, url, opts, true, NULL, 0);
}

static ztca_rc
store_pg_shrink_cache(store_conn *c)
{
    (void)c; /* the server's shared_buffers are the cache, shared by every session */
    return ZTCA_RC_OK;
}

static const char *
store_pg_errmsg(store_conn *c)
{
    return c->err;
}

static ztca_rc store_pg_pipeline(store_conn *c, const char *name, const store_pg_params *pp,
                                 size_t num_params, PGresult **out);
static void store_pg_rollback(store_conn *c);
static ztca_rc store_pg_read_pipeline(store_conn *c, size_t num_sent, PGresult **keep);
static bool store_pg_holds_statement(const store_conn *c);

/* The savepoint commands store.c sends around every call inside a transaction. They matter
 * only once a statement follows, so they wait and go out with it (store_pg_pipeline): on the
 * handle's one connection a round trip each was most of what a call cost. */
static bool
store_pg_is_deferrable(const char *sql)
{
    static const char *const deferrable[] = { "SAVEPOINT ztca_call", "RELEASE SAVEPOINT ztca_call",
                                              "SAVEPOINT ztca_member",
                                              "RELEASE SAVEPOINT ztca_member" };
    for (size_t i = 0; i < sizeof(deferrable) / sizeof(deferrable[0]); i++) {
        if (strcmp(sql, deferrable[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* store_pg_flush_held: sends what is held, if anything, and waits for the answers. */
static ztca_rc
store_pg_flush_held(store_conn *c)
{
    return c->num_held > 0 ? store_pg_pipeline(c, NULL, NULL, 0, NULL) : ZTCA_RC_OK;
}

static ztca_rc
store_pg_exec_script(store_conn *c, const char *sql)
{
    if (c->in_txn && c->pg != NULL && store_pg_is_deferrable(sql)) {
        if (c->num_held == STORE_PG_HELD_MAX) {
            ZTCA_GUARD(store_pg_flush_held(c));
        }
        memset(&c->held[c->num_held], 0, sizeof(c->held[0]));
        c->held[c->num_held++].script = sql;
        return ZTCA_RC_OK;
    }
    /* Anything else (ROLLBACK TO after a failed call, scripts): what is held goes first. The
     * command runs even when that failed: a ROLLBACK TO is what undoes such a failure. */
    ztca_rc rc = store_pg_flush_held(c);
    ztca_rc r2 = store_pg_command(c, sql);
    return ZTCA_IS_OK(rc) ? r2 : rc;
}

static ztca_rc
store_pg_begin(store_conn *c)
{
    if (store_pg_is_dead(c)) {
        ZTCA_GUARD(store_pg_dial(c));
    }
    ztca_rc rc = store_pg_command(c, "BEGIN");
    if (!ZTCA_IS_OK(rc) && store_pg_is_dead(c)) {
        /* An idle connection that died (server restart, failover): nothing was sent that could
         * have changed anything, so a new connection may try again. */
        ZTCA_GUARD(store_pg_dial(c));
        rc = store_pg_command(c, "BEGIN");
    }
    ZTCA_GUARD(rc);
    c->in_txn = true;
    return ZTCA_RC_OK;
}

static ztca_rc
store_pg_commit(store_conn *c)
{
    ZTCA_ENSURE(c->pg != NULL, ZTCA_ERR_STORE, "store: no connection to PostgreSQL");
    if (store_pg_holds_statement(c)) {
        ztca_rc rc = store_pg_flush_held(c);
        if (!ZTCA_IS_OK(rc)) {
            store_pg_rollback(c);
            return rc;
        }
    }
    store_pg_held_clear(c); /* savepoint commands: COMMIT ends them all */
    PGresult *res = PQexec(c->pg, "COMMIT");
    ztca_rc rc = ZTCA_RC_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = store_pg_fail(c, res);
    } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        /* COMMIT of a failed transaction succeeds as a ROLLBACK. */
        store_pg_keep_err(c, "the transaction was rolled back");
        rc = ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__, "store: the transaction was rolled back",
                       0);
    }
    PQclear(res);
    c->in_txn = false;
    return rc;
}

static void
store_pg_rollback(store_conn *c)
{
    store_pg_held_clear(c);
    if (!store_pg_is_dead(c) && c->in_txn) {
        char keep[STORE_ERRMSG_MAX];
        memcpy(keep, c->err, sizeof(keep));
        ztca_rc ignored = store_pg_command(c, "ROLLBACK");
        (void)ignored;
        memcpy(c->err, keep, sizeof(keep));
    }
    c->in_txn = false;
}

static void
store_pg_set_params(store_pg_params *pp, const store_param *params, size_t num_params)
{
    static const char empty[1];
    for (size_t i = 0; i < num_params; i++) {
        const store_param *p = &params[i];
        pp->formats[i] = 0;
        pp->lengths[i] = 0;
        switch (p->type) {
        case STORE_P_INT:
            snprintf(pp->ints[i], sizeof(pp->ints[i]), "%lld", (long long)p->i);
            pp->values[i] = pp->ints[i];
            break;
        case STORE_P_TEXT:
            pp->values[i] = p->p; /* NUL-terminated: text parameters are C strings */
            break;
        case STORE_P_BLOB:
            pp->values[i] = p->len > 0 ? p->p : empty;
            pp->lengths[i] = (int)p->len;
            pp->formats[i] = 1;
            break;
        default:
            pp->values[i] = NULL;
            break;
        }
    }
}

static ztca_rc
store_pg_prepare(store_conn *c, store_stmt id, char *name, size_t name_size)
{
    snprintf(name, name_size, "ztca_%d", (int)id);
    if (c->prepared[id]) {
        return ZTCA_RC_OK;
    }
    PGresult *res = PQprepare(c->pg, name, store_sql(STORE_BACKEND_POSTGRESQL, id), 0, NULL);
    ztca_rc rc = ZTCA_RC_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = store_pg_fail(c, res);
    } else {
        c->prepared[id] = true;
    }
    PQclear(res);
    return rc;
}

static void
store_pg_held_clear(store_conn *c)
{
    for (size_t i = 0; i < c->num_held; i++) {
        ztca_free(c->held[i].data);
        c->held[i].data = NULL;
    }
    c->num_held = 0;
}

static bool
store_pg_holds_statement(const store_conn *c)
{
    for (size_t i = 0; i < c->num_held; i++) {
        if (c->held[i].script == NULL) {
            return true;
        }
    }
    return false;
}

/* store_pg_hold: keeps statement `id` with a copy of its parameters (the caller's go away when
 * its call returns), to go out with the next statement that needs an answer. */
static ztca_rc
store_pg_hold(store_conn *c, store_stmt id, const store_param *params, size_t num_params)
{
    if (c->num_held == STORE_PG_HELD_MAX) {
        ZTCA_GUARD(store_pg_flush_held(c));
    }
    size_t size = 0;
    for (size_t i = 0; i < num_params; i++) {
        size += params[i].type == STORE_P_TEXT   ? strlen(params[i].p) + 1
                : params[i].type == STORE_P_BLOB ? params[i].len
                                                 : 0;
    }
    store_pg_held *h = &c->held[c->num_held];
    memset(h, 0, sizeof(*h));
    h->data = ztca_malloc(size > 0 ? size : 1);
    ZTCA_ENSURE(h->data != NULL, ZTCA_ERR_NOMEM, "store: out of memory");
    store_param copy[STORE_MAX_PARAMS];
    size_t off = 0;
    for (size_t i = 0; i < num_params; i++) {
        copy[i] = params[i];
        size_t n = params[i].type == STORE_P_TEXT   ? strlen(params[i].p) + 1
                   : params[i].type == STORE_P_BLOB ? params[i].len
                                                    : 0;
        if (n > 0) {
            memcpy(h->data + off, params[i].p, n);
            copy[i].p = h->data + off;
            off += n;
        }
    }
    h->id = id;
    h->num_params = num_params;
    store_pg_set_params(&h->pp, copy, num_params); /* in place: values point into h */
    c->num_held++;
    return ZTCA_RC_OK;
}

/* store_pg_pipeline: what is held, then the prepared statement `name` if given, in one round
 * trip (libpq pipeline mode); the first failure is the one reported (store_pg_read_pipeline).
 * With `out`, the statement's result is kept there. */
static ztca_rc
store_pg_pipeline(store_conn *c, const char *name, const store_pg_params *pp, size_t num_params,
                  PGresult **out)
{
    ZTCA_ENSURE(c->pg != NULL, ZTCA_ERR_STORE, "store: no connection to PostgreSQL");
    ztca_rc rc = ZTCA_RC_OK;
    for (size_t i = 0; i < c->num_held && ZTCA_IS_OK(rc); i++) {
        char held_name[32];
        if (c->held[i].script == NULL) {
            rc = store_pg_prepare(c, c->held[i].id, held_name, sizeof(held_name));
        }
    }
    if (!ZTCA_IS_OK(rc) || PQenterPipelineMode(c->pg) != 1) {
        store_pg_held_clear(c);
        return ZTCA_IS_OK(rc) ? store_pg_fail(c, NULL) : rc;
    }
    size_t num_sent = 0;
    for (size_t i = 0; i < c->num_held && ZTCA_IS_OK(rc); i++) {
        const store_pg_held *h = &c->held[i];
        char held_name[32];
        snprintf(held_name, sizeof(held_name), "ztca_%d", (int)h->id);
        int ok = h->script != NULL
                     ? PQsendQueryParams(c->pg, h->script, 0, NULL, NULL, NULL, NULL, 0)
                     : PQsendQueryPrepared(c->pg, held_name, (int)h->num_params, h->pp.values,
                                           h->pp.lengths, h->pp.formats, 1);
        if (ok != 1) {
            rc = store_pg_fail(c, NULL);
        } else {
            num_sent++;
        }
    }
    store_pg_held_clear(c);
    if (ZTCA_IS_OK(rc) && name != NULL) {
        if (PQsendQueryPrepared(c->pg, name, (int)num_params, pp->values, pp->lengths, pp->formats,
                                1)
            != 1) {
            rc = store_pg_fail(c, NULL);
        } else {
            num_sent++;
        }
    }
    if (PQpipelineSync(c->pg) != 1) {
        if (ZTCA_IS_OK(rc)) {
            rc = store_pg_fail(c, NULL);
        }
        PQexitPipelineMode(c->pg);
        return rc;
    }
    PGresult *keep = NULL;
    ztca_rc r = store_pg_read_pipeline(c, num_sent, out != NULL && name != NULL ? &keep : NULL);
    if (ZTCA_IS_OK(rc)) {
        rc = r;
    }
    if (PQexitPipelineMode(c->pg) != 1 && ZTCA_IS_OK(rc)) {
        rc = store_pg_fail(c, NULL);
    }
    if (!ZTCA_IS_OK(rc)) {
        PQclear(keep);
        return rc;
    }
    if (out != NULL) {
        *out = keep;
    }
    return ZTCA_RC_OK;
}

static ztca_rc
store_pg_query_once(store_conn *c, store_stmt id, const store_pg_params *pp, size_t num_params,
                    PGresult **out)
{
    char name[32];
    ZTCA_ENSURE(c->pg != NULL, ZTCA_ERR_STORE, "store: no connection to PostgreSQL");
    ZTCA_GUARD(store_pg_prepare(c, id, name, sizeof(name)));
    if (c->num_held > 0) {
        return store_pg_pipeline(c, name, pp, num_params, out);
    }
    PGresult *res =
        PQexecPrepared(c->pg, name, (int)num_params, pp->values, pp->lengths, pp->formats, 1);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        ztca_rc rc = store_pg_fail(c, res);
        PQclear(res);
        return rc;
    }
    *out = res;
    return ZTCA_RC_OK;
}

static ztca_rc
store_pg_query(store_conn *c, store_stmt id, const store_param *params, size_t num_params,
               store_rows **out)
{
    ZTCA_ENSURE(!c->rows_busy, ZTCA_ERR_INTERNAL, "store: one statement at a time");
    ZTCA_ENSURE(num_params <= STORE_MAX_PARAMS, ZTCA_ERR_INTERNAL, "store: too many parameters");
    store_pg_params pp;
    store_pg_set_params(&pp, params, num_params);
    if (!c->in_txn && store_pg_is_dead(c)) {
        ZTCA_GUARD(store_pg_dial(c));
    }
    PGresult *res = NULL;
    ztca_rc rc = store_pg_query_once(c, id, &pp, num_params, &res);
    if (!ZTCA_IS_OK(rc) && !c->in_txn && store_pg_is_dead(c)) {
        /* Outside a transaction only reads run: one retry on a new connection is safe. */
        ZTCA_GUARD(store_pg_dial(c));
        rc = store_pg_query_once(c, id, &pp, num_params, &res);
    }
    ZTCA_GUARD(rc);
    c->rows.res = res;
    c->rows.row = -1;
    c->rows.num_rows = PQntuples(res);
    const char *n = PQcmdTuples(res);
    c->rows.changes = n[0] != '\0' ? strtoll(n, NULL, 10) : 0;
    c->rows_busy = true;
    *out = &c->rows;
    return ZTCA_RC_OK;
}

/* exec_later: inside a transaction a statement whose only answer is success or failure waits
 * for the next one that needs an answer; store.c flushes at the end of every call, so a failure
 * still fails the call that made it. */
static ztca_rc
store_pg_exec_later(store_conn *c, store_stmt id, const store_param *params, size_t num_params)
{
    ZTCA_ENSURE(num_params <= STORE_MAX_PARAMS, ZTCA_ERR_INTERNAL, "store: too many parameters");
    if (c->in_txn && c->pg != NULL && !c->rows_busy) {
        return store_pg_hold(c, id, params, num_params);
    }
    store_rows *r = NULL;
    ZTCA_GUARD(store_pg_query(c, id, params, num_params, &r));
    PQclear(r->res);
    r->res = NULL;
    c->rows_busy = false;
    return ZTCA_RC_OK;
}

static ztca_rc
store_pg_flush(store_conn *c)
{
    return store_pg_holds_statement(c) ? store_pg_flush_held(c) : ZTCA_RC_OK;
}

static ztca_rc
store_pg_step(store_rows *r, bool *out_has_row)
{
    if (r->row < r->num_rows) {
        r->row++;
    }
    *out_has_row = r->row < r->num_rows;
    return ZTCA_RC_OK;
}

static int64_t
store_pg_changes(store_rows *r)
{
    return r->changes;
}

static void
store_pg_done(store_rows *r)
{
    PQclear(r->res);
    r->res = NULL;
    r->conn->rows_busy = false;
}

static bool
store_pg_col_is_null(store_rows *r, int col)
{
    return PQgetisnull(r->res, r->row, col) != 0;
}

static ztca_rc
store_pg_col_int(store_rows *r, int col, int64_t *out)
{
    const uint8_t *p = (const uint8_t *)PQgetvalue(r->res, r->row, col);
    int len = PQgetlength(r->res, r->row, col);
    Oid type = PQftype(r->res, col);
    int want = type == STORE_PG_INT8OID   ? 8
               : type == STORE_PG_INT4OID ? 4
               : type == STORE_PG_INT2OID ? 2
                                          : 0;
    ZTCA_ENSURE(want != 0 && len == want, ZTCA_ERR_STORE, "store: stored value is not an integer");
    /* Binary format: big-endian two's complement (PostgreSQL int8send). */
    uint64_t v = 0;
    for (int i = 0; i < len; i++) {
        v = (v << 8) | p[i];
    }
    if (len < 8 && (p[0] & 0x80) != 0) {
        v |= ~(uint64_t)0 << (8 * len); /* sign-extend int2/int4 */
    }
    *out = (int64_t)v;
    return ZTCA_RC_OK;
}

static ztca_rc
store_pg_col_bytes(store_rows *r, int col, const uint8_t **out, size_t *out_len)
{
    if (PQgetisnull(r->res, r->row, col)) {
        *out = NULL;
        *out_len = 0;
        return ZTCA_RC_OK;
    }
    *out = (const uint8_t *)PQgetvalue(r->res, r->row, col);
    *out_len = (size_t)PQgetlength(r->res, r->row, col);
    return ZTCA_RC_OK;
}

/* store_pg_read_pipeline: the results of one pipelined chunk of `num_sent` statements, up to its
 * sync. Results come in order, each followed by NULL; the first failure is kept, and statements
 * after it come back PIPELINE_ABORTED. With `keep`, the last statement's result is handed
 * there when all went well (NULL otherwise). */
static ztca_rc
store_pg_read_pipeline(store_conn *c, size_t num_sent, PGresult **keep)
{
    ztca_rc rc = ZTCA_RC_OK;
    size_t ended = 0;
    PGresult *last = NULL;
    for (;;) {
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            /* More NULLs than statements means the connection broke before the sync arrived. */
            if (store_pg_is_dead(c) || ++ended > num_sent + 1) {
                if (ZTCA_IS_OK(rc)) {
                    rc = store_pg_fail(c, NULL);
                }
                break;
            }
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            if (st != PGRES_PIPELINE_ABORTED && ZTCA_IS_OK(rc)) {
                rc = store_pg_fail(c, res);
            }
            PQclear(res);
        } else if (keep != NULL && ended + 1 == num_sent && last == NULL) {
            last = res;
        } else {
            PQclear(res);
        }
    }
    if (keep != NULL) {
        if (ZTCA_IS_OK(rc) && last == NULL) {
            rc = store_pg_fail(c, NULL);
        }
        if (!ZTCA_IS_OK(rc)) {
            PQclear(last);
            last = NULL;
        }
        *keep = last;
    }
    return rc;
}

/* COPY twins of the bulk INSERTs: the same columns in the same order as their parameters, so a
 * row of parameters is a row of COPY. Status, revoked_at and reason take their defaults (0,
 * NULL, NULL) as in CERT_INSERT. */
static const char *
store_pg_copy_sql(store_stmt id)
{
    switch (id) {
    case STORE_STMT_CERT_INSERT:
        return "COPY certificates (serial, device_id, user_name, profile, not_before, not_after, "
               "issued_at) FROM STDIN (FORMAT binary)";
    case STORE_STMT_CERT_BODY_INSERT:
        return "COPY certificate_bodies (serial, der) FROM STDIN (FORMAT binary)";
    case STORE_STMT_AUDIT_INSERT:
        return "COPY audit_log (" STORE_AUDIT_COLS ") FROM STDIN (FORMAT binary)";
    default:
        return NULL;
    }
}

#define STORE_PG_COPY_BUF ((size_t)256 * 1024)

typedef struct store_pg_copybuf {
    uint8_t *b;
    size_t len;
} store_pg_copybuf;

static void
store_pg_put_be(store_pg_copybuf *cb, uint64_t v, int octets)
{
    for (int i = octets - 1; i >= 0; i--) {
        cb->b[cb->len++] = (uint8_t)(v >> (8 * i));
    }
}

static ztca_rc
store_pg_copy_flush(store_conn *c, store_pg_copybuf *cb)
{
    if (cb->len > 0 && PQputCopyData(c->pg, (const char *)cb->b, (int)cb->len) != 1) {
        return store_pg_fail(c, NULL);
    }
    cb->len = 0;
    return ZTCA_RC_OK;
}

/* store_pg_copy_row: one tuple in COPY binary format (PostgreSQL "COPY", File Formats): a
 * 16-bit field count, then per field a 32-bit length (-1 for NULL) and the value in its type's
 * binary form: int8 big-endian for BIGINT, the UTF-8 octets for TEXT, the octets for BYTEA. */
static ztca_rc
store_pg_copy_row(store_conn *c, store_pg_copybuf *cb, const store_param *row, size_t num_params)
{
    size_t need = 2;
    for (size_t i = 0; i < num_params; i++) {
        const store_param *p = &row[i];
        need += 4
                + (p->type == STORE_P_INT    ? 8
                   : p->type == STORE_P_TEXT ? strlen(p->p)
                   : p->type == STORE_P_BLOB ? p->len
                                             : 0);
    }
    ZTCA_ENSURE(need <= STORE_PG_COPY_BUF, ZTCA_ERR_INTERNAL, "store: a COPY row over 256 KiB");
    if (cb->len + need > STORE_PG_COPY_BUF) {
        ZTCA_GUARD(store_pg_copy_flush(c, cb));
    }
    store_pg_put_be(cb, num_params, 2);
    for (size_t i = 0; i < num_params; i++) {
        const store_param *p = &row[i];
        size_t n = p->type == STORE_P_TEXT ? strlen(p->p) : p->type == STORE_P_BLOB ? p->len : 0;
        switch (p->type) {
        case STORE_P_INT:
            store_pg_put_be(cb, 8, 4);
            store_pg_put_be(cb, (uint64_t)p->i, 8);
            break;
        case STORE_P_TEXT:
        case STORE_P_BLOB:
            store_pg_put_be(cb, n, 4);
            if (n > 0) {
                memcpy(cb->b + cb->len, p->p, n);
                cb->len += n;
            }
            break;
        default:
            store_pg_put_be(cb, 0xffffffffU, 4); /* -1: NULL */
            break;
        }
    }
    return ZTCA_RC_OK;
}

/* store_pg_copy: the rows through one COPY FROM STDIN. The server parses and checks them as
 * INSERTs (constraints, foreign keys, the audit triggers), without a statement per row; a
 * refused row fails the whole COPY, and with it the caller's transaction. */
static ztca_rc
store_pg_copy(store_conn *c, const char *sql, const store_param *params, size_t num_params,
              size_t num_rows)
{
    static const uint8_t header[19] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0 };
    PGresult *res = PQexec(c->pg, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        ztca_rc rc = store_pg_fail(c, res);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    ztca_rc rc = ZTCA_RC_OK;
    store_pg_copybuf cb = { ztca_malloc(STORE_PG_COPY_BUF), 0 };
    if (cb.b == NULL) {
        rc = ztca_note(ZTCA_ERR_NOMEM, __FILE__, __LINE__, "out of memory", 0);
    } else {
        memcpy(cb.b, header, sizeof(header)); /* signature, flags 0, no header extension */
        cb.len = sizeof(header);
        for (size_t i = 0; i < num_rows && ZTCA_IS_OK(rc); i++) {
            rc = store_pg_copy_row(c, &cb, params + i * num_params, num_params);
        }
        if (ZTCA_IS_OK(rc)) {
            store_pg_put_be(&cb, 0xffffU, 2); /* trailer: field count -1 */
            rc = store_pg_copy_flush(c, &cb);
        }
    }
    ztca_free(cb.b);
    /* An error message to PQputCopyEnd makes the server abort the COPY. */
    if (PQputCopyEnd(c->pg, ZTCA_IS_OK(rc) ? NULL : "ztca: bulk load abandoned") != 1
        && ZTCA_IS_OK(rc)) {
        rc = store_pg_fail(c, NULL);
    }
    while ((res = PQgetResult(c->pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && ZTCA_IS_OK(rc)) {
            rc = store_pg_fail(c, res);
        }
        PQclear(res);
        if (store_pg_is_dead(c)) {
            break;
        }
    }
    return rc;
}

static ztca_rc
store_pg_exec_many(store_conn *c, store_stmt id, const store_param *params, size_t num_params,
                   size_t num_rows)
{
    ZTCA_ENSURE(c->in_txn && c->pg != NULL, ZTCA_ERR_INTERNAL,
                "store: exec_many outside a transaction");
    ZTCA_ENSURE(num_params <= STORE_MAX_PARAMS, ZTCA_ERR_INTERNAL, "store: too many parameters");
    ZTCA_GUARD(store_pg_flush_held(c));
    const char *copy = store_pg_copy_sql(id);
    if (copy != NULL) {
        return store_pg_copy(c, copy, params, num_params, num_rows);
    }
    char name[32];
    ZTCA_GUARD(store_pg_prepare(c, id, name, sizeof(name)));
    ZTCA_ENSURE(PQenterPipelineMode(c->pg) == 1, ZTCA_ERR_STORE,
                "store: cannot enter libpq pipeline mode");
    ztca_rc rc = ZTCA_RC_OK;
    for (size_t done = 0; done < num_rows && ZTCA_IS_OK(rc);) {
        size_t n = num_rows - done < STORE_PG_CHUNK ? num_rows - done : STORE_PG_CHUNK;
        size_t sent = 0;
        for (; sent < n; sent++) {
            store_pg_params pp;
            store_pg_set_params(&pp, params + (done + sent) * num_params, num_params);
            if (PQsendQueryPrepared(c->pg, name, (int)num_params, pp.values, pp.lengths, pp.formats,
                                    1)
                != 1) {
                rc = store_pg_fail(c, NULL);
                break;
            }
        }
        if (PQpipelineSync(c->pg) != 1) {
            if (ZTCA_IS_OK(rc)) {
                rc = store_pg_fail(c, NULL);
            }
            break;
        }
        ztca_rc r = store_pg_read_pipeline(c, sent, NULL);
        if (ZTCA_IS_OK(rc)) {
            rc = r;
        }
        done += n;
    }
    if (PQexitPipelineMode(c->pg) != 1 && ZTCA_IS_OK(rc)) {
        rc = store_pg_fail(c, NULL);
    }
    return rc;
}

static ztca_rc
store_pg_listen(store_conn *c)
{
    c->listening = true;
    return store_pg_dial(c); /* decides between LISTEN and reading the log (standby) */
}

static void
store_pg_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int
store_pg_drain(store_conn *c)
{
    int n = 0;
    PGnotify *note;
    while ((note = PQnotifies(c->pg)) != NULL) {
        PQfreemem(note);
        n++;
    }
    return n;
}

static ztca_rc
store_pg_wait(store_conn *c, int timeout_ms)
{
    if (store_pg_is_dead(c)) {
        ztca_rc rc = store_pg_dial(c);
        if (!ZTCA_IS_OK(rc)) {
            /* Down: do not spin; the caller's poll retries until its deadline. */
            store_pg_sleep_ms(timeout_ms < 250 ? timeout_ms : 250);
            return rc;
        }
        return ZTCA_RC_OK; /* reconnected: read the log, changes may have been missed */
    }
    if (PQconsumeInput(c->pg) == 1 && store_pg_drain(c) > 0) {
        return ZTCA_RC_OK;
    }
    struct pollfd pfd = { PQsocket(c->pg), POLLIN, 0 };
    ZTCA_ENSURE(pfd.fd >= 0, ZTCA_ERR_STORE, "store: no PostgreSQL socket");
    int n = poll(&pfd, 1, timeout_ms);
    if (n > 0) {
        if (PQconsumeInput(c->pg) != 1) {
            store_pg_keep_err(c, PQerrorMessage(c->pg));
            return ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__,
                             "store: lost the connection to PostgreSQL", 0);
        }
        store_pg_drain(c);
    }
    return ZTCA_RC_OK;
}

const store_driver store_driver_pg = {
    .backend = STORE_BACKEND_POSTGRESQL,
    .connect = store_pg_connect,
    .connect_reader = store_pg_connect_reader,
    .shrink_cache = store_pg_shrink_cache,
    .disconnect = store_pg_disconnect,
    .errmsg = store_pg_errmsg,
    .exec_script = store_pg_exec_script,
    .begin = store_pg_begin,
    .commit = store_pg_commit,
    .rollback = store_pg_rollback,
    .query = store_pg_query,
    .step = store_pg_step,
    .changes = store_pg_changes,
    .done = store_pg_done,
    .col_is_null = store_pg_col_is_null,
    .col_int = store_pg_col_int,
    .col_bytes = store_pg_col_bytes,
    .exec_many = store_pg_exec_many,
    .exec_later = store_pg_exec_later,
    .flush = store_pg_flush,
    .listen = store_pg_listen,
    .wait = store_pg_wait,
};
