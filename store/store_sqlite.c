/* store_sqlite.c: the embedded backend. One sqlite3 connection per handle (the handle's mutex
 * serialises it, so SQLite's own mutexes are off) plus its pooled read-only connections (each
 * used by one call at a time), WAL so readers never wait for the writer,
 * BEGIN IMMEDIATE so writers queue on the busy timeout instead of failing on lock upgrade, and
 * every commit synced before it is handed out, because a CA must not lose a commit it already
 * handed a certificate out for (synchronous=NORMAL plus store.c's sync outside the lock).
 * Statements are prepared once (SQLITE_PREPARE_PERSISTENT) and parameters bound by name ($1). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/internal.h"

struct store_rows {
    struct store_conn *conn;
    sqlite3_stmt *st; /* borrowed from conn->stmts */
};

/* The statements every transaction repeats, sent through exec_script by store.c: kept prepared,
 * since parsing them again cost 4% of an issuance's CPU (docs/performance.md). */
static const char *const store_sqlite_ctl_sql[] = {
    "SAVEPOINT ztca_call",
    "RELEASE SAVEPOINT ztca_call",
    "ROLLBACK TO SAVEPOINT ztca_call",
    "SAVEPOINT ztca_member",
    "RELEASE SAVEPOINT ztca_member",
    "ROLLBACK TO SAVEPOINT ztca_member",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};
#define STORE_SQLITE_NUM_CTL (sizeof(store_sqlite_ctl_sql) / sizeof(store_sqlite_ctl_sql[0]))

struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[STORE_STMT_COUNT];   /* prepared on first use */
    sqlite3_stmt *ctl[STORE_SQLITE_NUM_CTL]; /* likewise, store_sqlite_ctl_sql */
    store_rows rows;                         /* the one statement in progress */
    bool rows_busy;
    char err[STORE_ERRMSG_MAX];
    /* Our own descriptor of the -wal file, for store_sqlite_sync: opened by connect, or by the
     * first COMMIT (under the handle's mutex) when the database had no WAL yet; read by the
     * syncing thread without the mutex. The WAL is never replaced while a connection has the
     * database open, and SQLite takes no lock on it, so closing this one releases nothing of
     * SQLite's (unlike the main file, see connect). */
    atomic_int wal_fd;
    char *wal_path;
};

static void
store_sqlite_keep_err(store_conn *c)
{
    snprintf(c->err, sizeof(c->err), "%s", sqlite3_errmsg(c->db));
}

/* store_sqlite_fail: SQLite's code -> ztca_err, with its message kept for store_errmsg. The
 * foreign code kept with the note is SQLite's extended result code. */
static ztca_rc
store_sqlite_fail(store_conn *c, int code)
{
    store_sqlite_keep_err(c);
    int ext = sqlite3_extended_errcode(c->db);
    switch (ext) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        return ztca_note(ZTCA_ERR_CONFLICT, __FILE__, __LINE__, "store: the key already exists",
                         ext);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return ztca_note(ZTCA_ERR_NOT_FOUND, __FILE__, __LINE__,
                         "store: a referenced row does not exist", ext);
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return ztca_note(ZTCA_ERR_BAD_INPUT, __FILE__, __LINE__,
                         "store: value refused by a constraint", ext);
    default:
        break;
    }
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
        return ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__,
                         "store: the SQLite database stayed busy past the busy timeout", ext);
    }
    if ((code & 0xff) == SQLITE_FULL) {
        /* ENOSPC: the write was undone, the file is intact; an operator must free space. */
        return ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__,
                         "store: the disk holding the SQLite database is full", ext);
    }
    return ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__, "store: SQLite failed", ext);
}

static void
store_sqlite_disconnect(store_conn *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < STORE_STMT_COUNT; i++) {
        sqlite3_finalize(c->stmts[i]);
    }
    for (size_t i = 0; i < STORE_SQLITE_NUM_CTL; i++) {
        sqlite3_finalize(c->ctl[i]);
    }
    sqlite3_close(c->db);
    int fd = atomic_load(&c->wal_fd);
    if (fd >= 0) {
        close(fd);
    }
    ztca_free(c->wal_path);
    ztca_free(c);
}

static ztca_rc
store_sqlite_exec_script(store_conn *c, const char *sql)
{
    for (size_t i = 0; i < STORE_SQLITE_NUM_CTL; i++) {
        if (strcmp(sql, store_sqlite_ctl_sql[i]) != 0) {
            continue;
        }
        int code = SQLITE_OK;
        if (c->ctl[i] == NULL) {
            code = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->ctl[i], NULL);
        }
        if (code == SQLITE_OK) {
            code = sqlite3_step(c->ctl[i]);
            /* reset repeats step's error (and clears it); DONE is the one success. */
            int reset = sqlite3_reset(c->ctl[i]);
            code = code == SQLITE_DONE ? SQLITE_OK : reset != SQLITE_OK ? reset : code;
        }
        return code == SQLITE_OK ? ZTCA_RC_OK : store_sqlite_fail(c, code);
    }
    char *msg = NULL;
    int code = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    if (code != SQLITE_OK) {
        return store_sqlite_fail(c, code);
    }
    return ZTCA_RC_OK;
}

static int
store_sqlite_mode_cb(void *ctx, int ncols, char **vals, char **names)
{
    (void)names;
    if (ncols == 1 && vals[0] != NULL) {
        snprintf(ctx, 16, "%s", vals[0]);
    }
    return 0;
}

/* A savepoint's undo records (SQLite's statement journal) go to a temporary file once they pass
 * 64 KiB. Group commit keeps a savepoint open from one member of a batch to the next, so nearly
 * every batch passed it: a temporary file opened, unlinked, written and closed per batch was 11%
 * of an issuance's CPU (docs/performance.md "Issuance, fourth profile"). They stay in memory up
 * to this size now, and the memory goes with the transaction. */
#define STORE_SQLITE_STMTJ_SPILL (16 * 1024 * 1024)

static pthread_once_t store_sqlite_once = PTHREAD_ONCE_INIT;

static void
store_sqlite_configure(void)
{
    /* Takes only before SQLite initializes, which the first sqlite3_open_v2 below does; should
     * something else in the process have initialized it first, the default stays (slower, not
     * wrong). */
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STORE_SQLITE_STMTJ_SPILL);
}

/* store_sqlite_open_db: c->db on `path` (the writer READWRITE, a reader READONLY), each
 * connection with its own page cache, extended result codes and the busy timeout. */
static ztca_rc
store_sqlite_open_db(store_conn *c, const char *path, int mode, const store_options *opts)
{
    pthread_once(&store_sqlite_once, store_sqlite_configure);
    int code =
        sqlite3_open_v2(path, &c->db, mode | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE, NULL);
    if (code != SQLITE_OK) {
        return c->db != NULL ? store_sqlite_fail(c, code)
                             : ztca_note(ZTCA_ERR_NOMEM, __FILE__, __LINE__, "out of memory", 0);
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000);
    return ZTCA_RC_OK;
}

static ztca_rc
store_sqlite_connect(store_conn **out, const store_url_info *u, const char *url,
                     const store_options *opts, char *errbuf, size_t errbuf_size)
{
    (void)url;
    ztca_rc rc = ZTCA_RC_OK;
    store_conn *c = ztca_calloc(1, sizeof(*c));
    ZTCA_ENSURE(c != NULL, ZTCA_ERR_NOMEM, "out of memory");
    c->rows.conn = c;
    atomic_init(&c->wal_fd, -1);
    size_t wal_len = strlen(u->path) + sizeof("-wal");
    c->wal_path = ztca_malloc(wal_len);
    if (c->wal_path == NULL) {
        ztca_free(c);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "out of memory");
    }
    snprintf(c->wal_path, wal_len, "%s-wal", u->path);
    /* Create the file 0600 ourselves: SQLite would use 0644 minus the umask, and its -wal and
     * -shm files copy the main file's mode. Only when it does not exist (O_EXCL): closing any
     * descriptor of a file drops every POSIX lock this process holds on it, so opening and
     * closing an existing database next to a live connection (a change-feed subscription is
     * one) would release that connection's locks and leave it reading a stale snapshot. */
    int fd = open(u->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
    } else if (errno != EEXIST) {
        if (errbuf != NULL && errbuf_size > 0) {
            snprintf(errbuf, errbuf_size, "cannot open %s", u->path);
        }
        ztca_free(c->wal_path);
        ztca_free(c);
        ZTCA_BAIL(ZTCA_ERR_STORE, "store: cannot open or create the SQLite file");
    }
    ZTCA_CHECK(store_sqlite_open_db(c, u->path, SQLITE_OPEN_READWRITE, opts));
    char mode[16] = "";
    int code = sqlite3_exec(c->db, "PRAGMA journal_mode = WAL", store_sqlite_mode_cb, mode, NULL);
    if (code != SQLITE_OK) {
        rc = store_sqlite_fail(c, code);
        goto out;
    }
    ZTCA_REQUIRE(strcmp(mode, "wal") == 0, ZTCA_ERR_STORE,
                 "store: SQLite refused WAL mode (a network file system?)");
    /* A 64 MiB page cache (a ceiling, not an allocation) keeps the status index of a few million
     * certificates in memory when this one connection answers every lookup (a CLI command,
     * bench/store); with a read pool the handle shrinks it (store_sqlite_shrink_cache).
     * synchronous=NORMAL: COMMIT writes the WAL and store.c syncs it after releasing the handle
     * (store_sqlite_sync); a commit is handed out only once synced, as with FULL. */
    ZTCA_CHECK(store_sqlite_exec_script(c, "PRAGMA synchronous = NORMAL; "
                                           "PRAGMA foreign_keys = ON; "
                                           "PRAGMA trusted_schema = OFF; "
                                           "PRAGMA cache_size = -65536"));
    /* The descriptor for store_sqlite_sync now, at start, while descriptors are plentiful: at the
     * first COMMIT under load, running out of them would fail that commit's sync, and with it
     * the handle. A database that never had a WAL has none yet: the first COMMIT opens it. */
    atomic_store(&c->wal_fd, open(c->wal_path, O_RDONLY | O_CLOEXEC));
    *out = c;
    c = NULL;
out:
    if (c != NULL) {
        if (errbuf != NULL && errbuf_size > 0 && c->err[0] != '\0') {
            snprintf(errbuf, errbuf_size, "%s", c->err);
        }
        store_sqlite_disconnect(c);
    }
    return rc;
}

/* store_sqlite_connect_reader: a read-only connection to the file the handle opened (it exists
 * and is in WAL mode: a WAL file takes any number of readers beside one writer). No open(2) of
 * our own: closing that descriptor would drop the handle's POSIX locks (see above).
 * The page caches are private per connection, so they add up: the readers share a budget of
 * STORE_SQLITE_READERS_KIB, at most 12 MiB and at least 2 MiB each. 2 MiB hold the interior
 * pages of the certificate B-tree of a million rows (565 pages, measured); what more a cache
 * holds are leaves, which the kernel's page cache, shared by every connection, holds too
 * (docs/store.md "Read connections"). */
#define STORE_SQLITE_READERS_KIB (24 * 1024)

static ztca_rc
store_sqlite_connect_reader(store_conn **out, const store_url_info *u, const char *url,
                            const store_options *opts)
{
    (void)url;
    ztca_rc rc = ZTCA_RC_OK;
    store_conn *c = ztca_calloc(1, sizeof(*c));
    ZTCA_ENSURE(c != NULL, ZTCA_ERR_NOMEM, "out of memory");
    c->rows.conn = c;
    atomic_init(&c->wal_fd, -1); /* a reader never commits */
    ZTCA_CHECK(store_sqlite_open_db(c, u->path, SQLITE_OPEN_READONLY, opts));
    int kib = STORE_SQLITE_READERS_KIB / (opts->readers > 0 ? opts->readers : 1);
    kib = kib > 12 * 1024 ? 12 * 1024 : kib < 2 * 1024 ? 2 * 1024 : kib;
    char sql[96]; /* a number computed here, not input */
    snprintf(sql, sizeof(sql),
             "PRAGMA query_only = ON; PRAGMA trusted_schema = OFF; PRAGMA cache_size = -%d", kib);
    ZTCA_CHECK(store_sqlite_exec_script(c, sql));
    *out = c;
    c = NULL;
out:
    store_sqlite_disconnect(c);
    return rc;
}

/* store_sqlite_shrink_cache: with readers answering the lookups the writer's cache serves
 * writes only (index pages of inserts and status changes): 8 MiB. */
static ztca_rc
store_sqlite_shrink_cache(store_conn *c)
{
    return store_sqlite_exec_script(c, "PRAGMA cache_size = -8192");
}

static const char *
store_sqlite_errmsg(store_conn *c)
{
    return c->err;
}

static ztca_rc
store_sqlite_begin(store_conn *c)
{
    return store_sqlite_exec_script(c, "BEGIN IMMEDIATE");
}

static ztca_rc
store_sqlite_commit(store_conn *c)
{
    ztca_rc rc = store_sqlite_exec_script(c, "COMMIT");
    if (ZTCA_IS_OK(rc) && atomic_load(&c->wal_fd) < 0) {
        /* A failure shows in store_sqlite_sync, which then fails the handle. */
        atomic_store(&c->wal_fd, open(c->wal_path, O_RDONLY | O_CLOEXEC));
    }
    if (!ZTCA_IS_OK(rc) && !sqlite3_get_autocommit(c->db)) {
        char keep[STORE_ERRMSG_MAX];
        memcpy(keep, c->err, sizeof(keep));
        ztca_rc ignored = store_sqlite_exec_script(c, "ROLLBACK");
        (void)ignored;
        memcpy(c->err, keep, sizeof(keep));
    }
    return rc;
}

/* store_sqlite_sync: fdatasync of the WAL, what COMMIT does itself under synchronous=FULL; it
 * covers every frame written before it, so every commit returned before it. Checkpoints are
 * SQLite's: under NORMAL it syncs the WAL before copying pages into the database file. */
static ztca_rc
store_sqlite_sync(store_conn *c)
{
    int fd = atomic_load(&c->wal_fd);
    ZTCA_ENSURE(fd >= 0, ZTCA_ERR_STORE, "store: cannot open the SQLite WAL to sync it");
    ZTCA_ENSURE(fdatasync(fd) == 0, ZTCA_ERR_STORE, "store: fdatasync of the SQLite WAL failed");
    return ZTCA_RC_OK;
}

/* store_sqlite_log_bytes: fstat of the descriptor store_sqlite_sync uses: SQLite starts the WAL
 * over in place after a complete checkpoint, so its size is its high-water mark, and a size that
 * keeps growing means checkpoints cannot catch up (a reader holding an old snapshot). */
static uint64_t
store_sqlite_log_bytes(store_conn *c)
{
    struct stat st;
    int fd = atomic_load(&c->wal_fd);
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

static void
store_sqlite_rollback(store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db)) {
        char keep[STORE_ERRMSG_MAX];
        memcpy(keep, c->err, sizeof(keep));
        ztca_rc ignored = store_sqlite_exec_script(c, "ROLLBACK");
        (void)ignored;
        memcpy(c->err, keep, sizeof(keep));
    }
}

static ztca_rc
store_sqlite_bind(store_conn *c, sqlite3_stmt *st, const store_param *params, size_t num_params)
{
    ZTCA_ENSURE((size_t)sqlite3_bind_parameter_count(st) == num_params, ZTCA_ERR_INTERNAL,
                "store: parameter count does not match the statement");
    for (size_t i = 0; i < num_params; i++) {
        char name[24];
        snprintf(name, sizeof(name), "$%zu", i + 1);
        int idx = sqlite3_bind_parameter_index(st, name);
        ZTCA_ENSURE(idx > 0, ZTCA_ERR_INTERNAL, "store: statement lacks a parameter");
        const store_param *p = &params[i];
        int code;
        switch (p->type) {
        case STORE_P_INT:
            code = sqlite3_bind_int64(st, idx, p->i);
            break;
        case STORE_P_TEXT:
            code = sqlite3_bind_text64(st, idx, p->p, p->len, SQLITE_STATIC, SQLITE_UTF8);
            break;
        case STORE_P_BLOB:
            /* A NULL pointer would bind SQL NULL: an empty blob is a zeroblob. */
            code = p->len == 0 ? sqlite3_bind_zeroblob(st, idx, 0)
                               : sqlite3_bind_blob64(st, idx, p->p, p->len, SQLITE_STATIC);
            break;
        default:
            code = sqlite3_bind_null(st, idx);
            break;
        }
        if (code != SQLITE_OK) {
            return store_sqlite_fail(c, code);
        }
    }
    return ZTCA_RC_OK;
}

static ztca_rc
store_sqlite_query(store_conn *c, store_stmt id, const store_param *params, size_t num_params,
                   store_rows **out)
{
    ZTCA_ENSURE(!c->rows_busy, ZTCA_ERR_INTERNAL, "store: one statement at a time");
    if (c->stmts[id] == NULL) {
        int code = sqlite3_prepare_v3(c->db, store_sql(STORE_BACKEND_SQLITE, id), -1,
                                      SQLITE_PREPARE_PERSISTENT, &c->stmts[id], NULL);
        if (code != SQLITE_OK) {
            return store_sqlite_fail(c, code);
        }
    }
    sqlite3_stmt *st = c->stmts[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    ZTCA_GUARD(store_sqlite_bind(c, st, params, num_params));
    c->rows.st = st;
    c->rows_busy = true;
    *out = &c->rows;
    return ZTCA_RC_OK;
}

static ztca_rc
store_sqlite_step(store_rows *r, bool *out_has_row)
{
    int code = sqlite3_step(r->st);
    if (code == SQLITE_ROW) {
        *out_has_row = true;
        return ZTCA_RC_OK;
    }
    *out_has_row = false;
    if (code == SQLITE_DONE) {
        return ZTCA_RC_OK;
    }
    return store_sqlite_fail(r->conn, code);
}

static int64_t
store_sqlite_changes(store_rows *r)
{
    return sqlite3_changes64(r->conn->db);
}

static void
store_sqlite_done(store_rows *r)
{
    sqlite3_reset(r->st);
    sqlite3_clear_bindings(r->st);
    r->conn->rows_busy = false;
}

static bool
store_sqlite_col_is_null(store_rows *r, int col)
{
    return sqlite3_column_type(r->st, col) == SQLITE_NULL;
}

static ztca_rc
store_sqlite_col_int(store_rows *r, int col, int64_t *out)
{
    ZTCA_ENSURE(sqlite3_column_type(r->st, col) == SQLITE_INTEGER, ZTCA_ERR_STORE,
                "store: stored value is not an integer");
    *out = sqlite3_column_int64(r->st, col);
    return ZTCA_RC_OK;
}

static ztca_rc
store_sqlite_col_bytes(store_rows *r, int col, const uint8_t **out, size_t *out_len)
{
    static const uint8_t empty[1];
    switch (sqlite3_column_type(r->st, col)) {
    case SQLITE_NULL:
        *out = NULL;
        *out_len = 0;
        return ZTCA_RC_OK;
    case SQLITE_TEXT:
        *out = sqlite3_column_text(r->st, col);
        break;
    case SQLITE_BLOB:
        *out = sqlite3_column_blob(r->st, col);
        break;
    default:
        ZTCA_BAIL(ZTCA_ERR_STORE, "store: stored value is not text or a blob");
    }
    int n = sqlite3_column_bytes(r->st, col);
    if (*out == NULL) {
        ZTCA_ENSURE(n == 0 && sqlite3_errcode(r->conn->db) != SQLITE_NOMEM, ZTCA_ERR_NOMEM,
                    "out of memory");
        *out = empty;
    }
    *out_len = (size_t)n;
    return ZTCA_RC_OK;
}

static ztca_rc
store_sqlite_exec_many(store_conn *c, store_stmt id, const store_param *params, size_t num_params,
                       size_t num_rows)
{
    for (size_t i = 0; i < num_rows; i++) {
        store_rows *r = NULL;
        ZTCA_GUARD(store_sqlite_query(c, id, params + i * num_params, num_params, &r));
        ZTCA_ENSURE(r != NULL, ZTCA_ERR_INTERNAL, "store: no statement");
        bool row = true;
        ztca_rc rc = ZTCA_RC_OK;
        while (row && ZTCA_IS_OK(rc)) {
            rc = store_sqlite_step(r, &row);
        }
        store_sqlite_done(r);
        ZTCA_GUARD(rc);
    }
    return ZTCA_RC_OK;
}

const store_driver store_driver_sqlite = {
    .backend = STORE_BACKEND_SQLITE,
    .connect = store_sqlite_connect,
    .connect_reader = store_sqlite_connect_reader,
    .shrink_cache = store_sqlite_shrink_cache,
    .disconnect = store_sqlite_disconnect,
    .errmsg = store_sqlite_errmsg,
    .exec_script = store_sqlite_exec_script,
    .begin = store_sqlite_begin,
    .commit = store_sqlite_commit,
    .sync = store_sqlite_sync,
    .log_bytes = store_sqlite_log_bytes,
    .rollback = store_sqlite_rollback,
    .query = store_sqlite_query,
    .step = store_sqlite_step,
    .changes = store_sqlite_changes,
    .done = store_sqlite_done,
    .col_is_null = store_sqlite_col_is_null,
    .col_int = store_sqlite_col_int,
    .col_bytes = store_sqlite_col_bytes,
    .exec_many = store_sqlite_exec_many,
    .listen = NULL,
    .wait = NULL,
};
