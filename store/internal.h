/* internal.h: declarations shared by the files of store/ only: the backend driver vtable, the
 * prepared statement table, typed parameters and the helpers every entity file uses. */
#ifndef ZTCA_STORE_INTERNAL_H
#define ZTCA_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "store/store.h"

/* ---- statements ---------------------------------------------------------------------------- */

/* Every statement ztca runs: X(name, SQL, PostgreSQL variant or NULL when the same). Parameters are
 * written $1, $2, ... for both backends (SQLite binds them by name). Nothing here is ever built at
 * run time: the driver prepares exactly these strings, once per connection. */
#define STORE_CERT_COLS                                                                 \
    "serial, device_id, user_name, profile, not_before, not_after, issued_at, status, " \
    "revoked_at, reason"
#define STORE_DEVICE_COLS "id, ek_pub_hash, ek_cert, ak_pub, facts, status, created_at, updated_at"
#define STORE_AUDIT_COLS  "seq, at, actor, action, subject, detail, prev_hash, hash"
#define STORE_CHANGE_COLS "seq, at, kind, subject, status, reason"
#define STORE_SIGNAL_COLS \
    "id, device_id, user_name, source, kind, impact, detail, created_at, expires_at"

#define STORE_STATEMENTS(X)                                                                        \
    X(SCHEMA_EXISTS,                                                                               \
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ztca_schema'",          \
      "SELECT count(*) FROM pg_catalog.pg_tables "                                                 \
      "WHERE tablename = 'ztca_schema' AND schemaname = current_schema()")                         \
    X(SCHEMA_VERSION, "SELECT COALESCE(MAX(version), 0) FROM ztca_schema", NULL)                   \
    X(SCHEMA_RECORD, "INSERT INTO ztca_schema (version, name, applied_at) VALUES ($1, $2, $3)",    \
      NULL)                                                                                        \
    X(MIGRATE_LOCK, "SELECT 1",                                                                    \
      "SELECT 1 FROM (SELECT pg_advisory_xact_lock(7411720706418245)) l")                          \
    X(HEAD_LOCK, "SELECT audit_seq, audit_hash, change_seq FROM chain_head WHERE id = 1",          \
      "SELECT audit_seq, audit_hash, change_seq FROM chain_head WHERE id = 1 FOR UPDATE")          \
    X(HEAD_PEEK, "SELECT audit_seq, audit_hash, change_seq FROM chain_head WHERE id = 1", NULL)    \
    X(HEAD_UPDATE,                                                                                 \
      "UPDATE chain_head SET audit_seq = $1, audit_hash = $2, change_seq = $3 WHERE id = 1", NULL) \
    X(AUDIT_INSERT,                                                                                \
      "INSERT INTO audit_log (" STORE_AUDIT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",      \
      NULL)                                                                                        \
    X(AUDIT_LIST,                                                                                  \
      "SELECT " STORE_AUDIT_COLS " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", NULL)     \
    X(CHANGE_INSERT,                                                                               \
      "INSERT INTO change_log (" STORE_CHANGE_COLS ") VALUES ($1, $2, $3, $4, $5, $6)", NULL)      \
    X(CHANGE_LIST,                                                                                 \
      "SELECT " STORE_CHANGE_COLS " FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2", NULL)   \
    X(CERT_INSERT,                                                                                 \
      "INSERT INTO certificates (" STORE_CERT_COLS ") "                                            \
      "VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, NULL)",                                        \
      NULL)                                                                                        \
    X(CERT_BODY_INSERT, "INSERT INTO certificate_bodies (serial, der) VALUES ($1, $2)", NULL)      \
    X(CERT_GET, "SELECT " STORE_CERT_COLS " FROM certificates WHERE serial = $1", NULL)            \
    X(CERT_BODY_GET, "SELECT der FROM certificate_bodies WHERE serial = $1", NULL)                 \
    X(CERT_STATE,                                                                                  \
      "SELECT c.status, c.revoked_at, c.reason, c.not_after, c.device_id, c.user_name, t.score "   \
      "FROM certificates c LEFT JOIN trust_scores t ON t.device_id = c.device_id "                 \
      "AND t.user_name = COALESCE(c.user_name, '') WHERE c.serial = $1",                           \
      NULL)                                                                                        \
    X(CERT_LOCK, "SELECT status FROM certificates WHERE serial = $1",                              \
      "SELECT status FROM certificates WHERE serial = $1 FOR UPDATE")                              \
    X(CERT_SET_STATUS,                                                                             \
      "UPDATE certificates SET status = $2, revoked_at = $3, reason = $4, held_by_trust = 0 "      \
      "WHERE serial = $1",                                                                         \
      NULL)                                                                                        \
    X(CERT_SET_TRUST_HOLD,                                                                         \
      "UPDATE certificates SET status = $2, revoked_at = $3, reason = $4, held_by_trust = $5 "     \
      "WHERE serial = $1",                                                                         \
      NULL)                                                                                        \
    X(CERT_LIVE_OF_SUBJECT,                                                                        \
      "SELECT serial, status, held_by_trust FROM certificates WHERE device_id = $1 "               \
      "AND COALESCE(user_name, '') = $2 AND status <> 1 AND not_after >= $3 ORDER BY serial",      \
      "SELECT serial, status, held_by_trust FROM certificates WHERE device_id = $1 "               \
      "AND COALESCE(user_name, '') = $2 AND status <> 1 AND not_after >= $3 ORDER BY serial "      \
      "FOR UPDATE")                                                                                \
    X(CERT_TRUST_HELD_OF_SUBJECT,                                                                  \
      "SELECT serial, status, held_by_trust FROM certificates WHERE device_id = $1 "               \
      "AND held_by_trust = 1 AND COALESCE(user_name, '') = $2 AND not_after >= $3 ORDER BY "       \
      "serial",                                                                                    \
      "SELECT serial, status, held_by_trust FROM certificates WHERE device_id = $1 "               \
      "AND held_by_trust = 1 AND COALESCE(user_name, '') = $2 AND not_after >= $3 ORDER BY "       \
      "serial "                                                                                    \
      "FOR UPDATE")                                                                                \
    X(CERT_LIST,                                                                                   \
      "SELECT " STORE_CERT_COLS " FROM certificates WHERE serial > $1 ORDER BY serial LIMIT $2",   \
      NULL)                                                                                        \
    X(CERT_LIST_DEVICE,                                                                            \
      "SELECT " STORE_CERT_COLS " FROM certificates WHERE device_id = $1 AND serial > $2 "         \
      "ORDER BY serial LIMIT $3",                                                                  \
      NULL)                                                                                        \
    X(CERT_LIST_REVOKED,                                                                           \
      "SELECT " STORE_CERT_COLS " FROM certificates WHERE status <> 0 AND serial > $1 "            \
      "AND not_after >= $2 ORDER BY serial LIMIT $3",                                              \
      NULL)                                                                                        \
    X(CERT_LIVE_OF_DEVICE,                                                                         \
      "SELECT serial, status FROM certificates WHERE device_id = $1 AND status <> 1 "              \
      "AND not_after >= $2 ORDER BY serial",                                                       \
      "SELECT serial, status FROM certificates WHERE device_id = $1 AND status <> 1 "              \
      "AND not_after >= $2 ORDER BY serial FOR UPDATE")                                            \
    X(CERT_PURGE,                                                                                  \
      "DELETE FROM certificates WHERE serial IN (SELECT serial FROM certificates "                 \
      "WHERE not_after < $1 ORDER BY not_after, serial LIMIT $2)",                                 \
      NULL)                                                                                        \
    X(USER_PUT,                                                                                    \
      "INSERT INTO users (name, status, created_at) VALUES ($1, 0, $2) "                           \
      "ON CONFLICT (name) DO NOTHING",                                                             \
      NULL)                                                                                        \
    X(USER_GET, "SELECT name, status, created_at FROM users WHERE name = $1", NULL)                \
    X(USER_LOCK, "SELECT status FROM users WHERE name = $1",                                       \
      "SELECT status FROM users WHERE name = $1 FOR UPDATE")                                       \
    X(USER_SET_STATUS, "UPDATE users SET status = $2 WHERE name = $1", NULL)                       \
    X(DEVICE_INSERT,                                                                               \
      "INSERT INTO devices (" STORE_DEVICE_COLS ") VALUES ($1, $2, $3, $4, $5, 0, $6, $6)", NULL)  \
    X(DEVICE_GET, "SELECT " STORE_DEVICE_COLS " FROM devices WHERE id = $1", NULL)                 \
    X(DEVICE_FIND_EK, "SELECT " STORE_DEVICE_COLS " FROM devices WHERE ek_pub_hash = $1", NULL)    \
    X(DEVICE_LOCK, "SELECT status FROM devices WHERE id = $1",                                     \
      "SELECT status FROM devices WHERE id = $1 FOR UPDATE")                                       \
    X(DEVICE_LOCK_ROW, "SELECT " STORE_DEVICE_COLS " FROM devices WHERE id = $1",                  \
      "SELECT " STORE_DEVICE_COLS " FROM devices WHERE id = $1 FOR UPDATE")                        \
    X(DEVICE_SET_STATUS, "UPDATE devices SET status = $2, updated_at = $3 WHERE id = $1", NULL)    \
    X(DEVICE_UPDATE_EVIDENCE,                                                                      \
      "UPDATE devices SET ak_pub = COALESCE($2, ak_pub), facts = $3, updated_at = $4 "             \
      "WHERE id = $1",                                                                             \
      NULL)                                                                                        \
    X(DEVICE_LIST, "SELECT " STORE_DEVICE_COLS " FROM devices WHERE id > $1 ORDER BY id LIMIT $2", \
      NULL)                                                                                        \
    X(AGENT_PUT,                                                                                   \
      "INSERT INTO agents (device_id, user_name, status, created_at, last_seen) "                  \
      "VALUES ($1, $2, 0, $3, $3) ON CONFLICT (device_id, user_name) "                             \
      "DO UPDATE SET last_seen = excluded.last_seen",                                              \
      NULL)                                                                                        \
    X(AGENT_GET,                                                                                   \
      "SELECT device_id, user_name, status, created_at, last_seen FROM agents "                    \
      "WHERE device_id = $1 AND user_name = $2",                                                   \
      NULL)                                                                                        \
    X(AGENT_LIST_DEVICE,                                                                           \
      "SELECT device_id, user_name, status, created_at, last_seen FROM agents "                    \
      "WHERE device_id = $1 ORDER BY user_name",                                                   \
      NULL)                                                                                        \
    X(PROVISIONER_INSERT,                                                                          \
      "INSERT INTO provisioners (name, config, created_at, updated_at) VALUES ($1, $2, $3, $3)",   \
      NULL)                                                                                        \
    X(PROVISIONER_UPDATE, "UPDATE provisioners SET config = $2, updated_at = $3 WHERE name = $1",  \
      NULL)                                                                                        \
    X(PROVISIONER_GET, "SELECT config FROM provisioners WHERE name = $1", NULL)                    \
    X(PROVISIONER_LIST, "SELECT name, config FROM provisioners ORDER BY name", NULL)               \
    X(PROVISIONER_DELETE, "DELETE FROM provisioners WHERE name = $1", NULL)                        \
    X(REPLAY_CLAIM,                                                                                \
      "INSERT INTO oidc_replay (replay_key, until_at) VALUES ($1, $2) "                            \
      "ON CONFLICT (replay_key) DO UPDATE SET until_at = excluded.until_at "                       \
      "WHERE oidc_replay.until_at <= $3",                                                          \
      NULL)                                                                                        \
    X(REPLAY_PURGE, "DELETE FROM oidc_replay WHERE until_at < $1", NULL)                           \
    X(TOKEN_INSERT,                                                                                \
      "INSERT INTO tokens (hash, user_name, profile, created_by, created_at, expires_at) "         \
      "VALUES ($1, $2, $3, $4, $5, $6)",                                                           \
      NULL)                                                                                        \
    X(TOKEN_CONSUME,                                                                               \
      "UPDATE tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 "    \
      "RETURNING hash, user_name, profile, created_by, created_at, expires_at, used_at",           \
      NULL)                                                                                        \
    X(TOKEN_GET,                                                                                   \
      "SELECT hash, user_name, profile, created_by, created_at, expires_at, used_at "              \
      "FROM tokens WHERE hash = $1",                                                               \
      NULL)                                                                                        \
    X(SESSION_INSERT,                                                                              \
      "INSERT INTO enroll_sessions (id, token_hash, nonce, secret_hash, data, created_at, "        \
      "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",                                           \
      NULL)                                                                                        \
    X(SESSION_CONSUME,                                                                             \
      "UPDATE enroll_sessions SET used_at = $2 WHERE id = $1 AND used_at IS NULL "                 \
      "AND expires_at > $2 RETURNING id, token_hash, nonce, secret_hash, data, created_at, "       \
      "expires_at, used_at",                                                                       \
      NULL)                                                                                        \
    X(SESSION_GET, "SELECT used_at, expires_at FROM enroll_sessions WHERE id = $1", NULL)          \
    X(SIGNAL_INSERT,                                                                               \
      "INSERT INTO trust_signals (device_id, user_name, source, kind, impact, detail, "            \
      "created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",              \
      NULL)                                                                                        \
    X(SIGNAL_LIST_DEVICE,                                                                          \
      "SELECT " STORE_SIGNAL_COLS " FROM trust_signals WHERE device_id = $1 "                      \
      "AND (expires_at IS NULL OR expires_at > $2) ORDER BY id",                                   \
      NULL)                                                                                        \
    X(SIGNAL_LIST_SUBJECT,                                                                         \
      "SELECT " STORE_SIGNAL_COLS " FROM trust_signals WHERE (device_id = $1 "                     \
      "OR (device_id IS NULL AND user_name = $2)) AND (expires_at IS NULL OR expires_at > $3) "    \
      "ORDER BY device_id IS NULL, id",                                                            \
      NULL)                                                                                        \
    X(SIGNAL_REPLACE_DEVICE,                                                                       \
      "DELETE FROM trust_signals WHERE device_id = $1 AND COALESCE(user_name, '') = $2 "           \
      "AND source = $3 AND kind = $4",                                                             \
      NULL)                                                                                        \
    X(SIGNAL_REPLACE_USER,                                                                         \
      "DELETE FROM trust_signals WHERE device_id IS NULL AND user_name = $1 AND source = $2 "      \
      "AND kind = $3",                                                                             \
      NULL)                                                                                        \
    X(TRUST_GET,                                                                                   \
      "SELECT score, held, explanation, computed_at, next_change FROM trust_scores "               \
      "WHERE device_id = $1 AND user_name = $2",                                                   \
      NULL)                                                                                        \
    X(TRUST_PUT,                                                                                   \
      "INSERT INTO trust_scores (device_id, user_name, score, held, explanation, computed_at, "    \
      "next_change) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (device_id, user_name) "       \
      "DO UPDATE SET score = excluded.score, held = excluded.held, "                               \
      "explanation = excluded.explanation, computed_at = excluded.computed_at, "                   \
      "next_change = excluded.next_change",                                                        \
      NULL)                                                                                        \
    X(TRUST_DUE,                                                                                   \
      "SELECT device_id, user_name FROM trust_scores WHERE next_change <= $1 "                     \
      "ORDER BY next_change, device_id, user_name LIMIT $2",                                       \
      NULL)                                                                                        \
    X(AGENT_LIST_USER,                                                                             \
      "SELECT device_id, user_name, status, created_at, last_seen FROM agents "                    \
      "WHERE user_name = $1 ORDER BY device_id",                                                   \
      NULL)                                                                                        \
    X(PURGE_TOKENS,                                                                                \
      "DELETE FROM tokens WHERE hash IN (SELECT hash FROM tokens WHERE expires_at < $1 "           \
      "LIMIT $2)",                                                                                 \
      NULL)                                                                                        \
    X(PURGE_SESSIONS,                                                                              \
      "DELETE FROM enroll_sessions WHERE id IN (SELECT id FROM enroll_sessions "                   \
      "WHERE expires_at < $1 LIMIT $2)",                                                           \
      NULL)                                                                                        \
    X(PURGE_SIGNALS,                                                                               \
      "DELETE FROM trust_signals WHERE id IN (SELECT id FROM trust_signals "                       \
      "WHERE expires_at < $1 LIMIT $2)",                                                           \
      NULL)                                                                                        \
    X(PURGE_CHANGES,                                                                               \
      "DELETE FROM change_log WHERE seq IN (SELECT seq FROM change_log WHERE at < $1 "             \
      "ORDER BY seq LIMIT $2)",                                                                    \
      NULL)

typedef enum store_stmt {
#define STORE_STMT_ENUM(name, sql, pg) STORE_STMT_##name,
    STORE_STATEMENTS(STORE_STMT_ENUM)
#undef STORE_STMT_ENUM
        STORE_STMT_COUNT
} store_stmt;

/* store_sql: the text of statement `id` for `backend`. */
const char *store_sql(store_backend backend, store_stmt id);

/* ---- parameters ---------------------------------------------------------------------------- */

typedef enum store_ptype { STORE_P_NULL, STORE_P_INT, STORE_P_TEXT, STORE_P_BLOB } store_ptype;

/* store_param: one bound value; `p` is borrowed for the duration of the call. */
typedef struct store_param {
    store_ptype type;
    int64_t i;
    const void *p;
    size_t len;
} store_param;

#define STORE_MAX_PARAMS 16
#define STORE_ERRMSG_MAX 256

static inline store_param
store_p_int(int64_t v)
{
    store_param p = { STORE_P_INT, v, NULL, 0 };
    return p;
}

static inline store_param
store_p_null(void)
{
    store_param p = { STORE_P_NULL, 0, NULL, 0 };
    return p;
}

/* store_p_text: NULL is SQL NULL. */
store_param store_p_text(const char *s);
/* store_p_text_opt: NULL and "" are SQL NULL (optional ids). */
store_param store_p_text_opt(const char *s);
/* store_p_blob: NULL is SQL NULL; an empty non-NULL blob stays an empty blob. */
store_param store_p_blob(const void *p, size_t len);
/* store_p_time_opt: 0 is SQL NULL. */
store_param store_p_time_opt(ztca_time t);

/* ---- the driver ---------------------------------------------------------------------------- */

typedef struct store_conn store_conn; /* one backend connection */
typedef struct store_rows store_rows; /* the result of one statement; one at a time per conn */

typedef struct store_driver {
    store_backend backend;
    /* connect: opens a connection; `errbuf` receives the backend's message on failure. */
    ztca_rc (*connect)(store_conn **out, const store_url_info *u, const char *url,
                       const store_options *opts, char *errbuf, size_t errbuf_size);
    /* connect_reader: opens a read-only connection for the read pool (store.c "Read
     * connections") to a database the handle's own connection has opened and migrated. SQLite:
     * read-only, query_only, a small page cache; PostgreSQL: default_transaction_read_only. */
    ztca_rc (*connect_reader)(store_conn **out, const store_url_info *u, const char *url,
                              const store_options *opts);
    /* shrink_cache: the handle's own connection once readers take the lookups (SQLite: a
     * smaller page cache; PostgreSQL: nothing to do). */
    ztca_rc (*shrink_cache)(store_conn *c);
    void (*disconnect)(store_conn *c);
    const char *(*errmsg)(store_conn *c);
    /* exec_script: runs constant SQL (migration scripts, savepoints); never input. Inside a
     * transaction PostgreSQL may hold savepoint commands back until the next statement, which
     * then reports their failure. */
    ztca_rc (*exec_script)(store_conn *c, const char *sql);
    /* begin: a write transaction (SQLite BEGIN IMMEDIATE). PostgreSQL re-establishes a
     * connection found dead first, since nothing has been sent yet. */
    ztca_rc (*begin)(store_conn *c);
    ztca_rc (*commit)(store_conn *c);
    void (*rollback)(store_conn *c);
    /* query: runs statement `id` with `params`; rows are then read with step. Outside a
     * transaction a statement that failed on a dead connection is retried once on a new one
     * (those are single reads). */
    ztca_rc (*query)(store_conn *c, store_stmt id, const store_param *params, size_t num_params,
                     store_rows **out);
    ztca_rc (*step)(store_rows *r, bool *out_has_row);
    /* changes: rows changed by the statement (after the last step). */
    int64_t (*changes)(store_rows *r);
    void (*done)(store_rows *r);
    bool (*col_is_null)(store_rows *r, int col);
    ztca_rc (*col_int)(store_rows *r, int col, int64_t *out);
    /* col_bytes: text or blob, borrowed until the next step; NULL is (NULL, 0). */
    ztca_rc (*col_bytes)(store_rows *r, int col, const uint8_t **out, size_t *out_len);
    /* exec_many: the statement once per row of params (num_rows x num_params), no results
     * read; PostgreSQL pipelines them. Inside a transaction only. */
    ztca_rc (*exec_many)(store_conn *c, store_stmt id, const store_param *params, size_t num_params,
                         size_t num_rows);
    /* exec_later: a statement whose only answer is success or failure; the driver may hold it
     * back inside a transaction and send it with the next statement (PostgreSQL: one round trip
     * for several). NULL: store.c runs it at once. */
    ztca_rc (*exec_later)(store_conn *c, store_stmt id, const store_param *params,
                          size_t num_params);
    /* flush: sends what exec_later holds and reports its first failure; store.c calls it at the
     * end of every write call, so that a failure fails the call that made it. May be NULL. */
    ztca_rc (*flush)(store_conn *c);
    /* sync: makes every COMMIT this connection returned from durable. NULL: COMMIT does it itself
     * (PostgreSQL). SQLite commits with synchronous=NORMAL (the WAL written, not synced) and
     * store.c calls sync after releasing the handle's mutex (docs/store.md "Syncs outside the
     * lock"), so it touches nothing the next transaction on the connection uses. */
    ztca_rc (*sync)(store_conn *c);
    /* log_bytes: the size of the write-ahead log file ztca can watch (SQLite's -wal file; 0 when
     * there is none yet). NULL: nothing to watch here (PostgreSQL manages its own WAL). Called
     * without the handle's mutex, like sync. */
    uint64_t (*log_bytes)(store_conn *c);
    /* listen: subscribes this connection to the change channel (PostgreSQL only). */
    ztca_rc (*listen)(store_conn *c);
    /* wait: blocks up to timeout_ms until a notification arrives (PostgreSQL: reconnects and
     * listens again when the connection is lost; STORE when it cannot). */
    ztca_rc (*wait)(store_conn *c, int timeout_ms);
} store_driver;

extern const store_driver store_driver_sqlite;
extern const store_driver store_driver_pg;

/* ---- the handle ---------------------------------------------------------------------------- */

/* store_head: the chain_head row (newest audit entry, newest change) as read in this call. */
typedef struct store_head {
    bool loaded;
    bool dirty;
    int64_t audit_seq;
    uint8_t audit_hash[STORE_HASH_LEN];
    int64_t change_seq;
} store_head;

/* store_reader: one connection of the read pool. A read call outside a transaction takes one
 * from the free list and gives it back when it leaves; while it runs the connection is bound to
 * its thread (store_tl_bound in store.c), so store_query finds it without a parameter. */
typedef struct store_reader {
    store *owner;               /* borrowed */
    store_conn *conn;           /* owned */
    struct store_reader *next;  /* in owner->rd_free or rd_spare, guarded by owner->rd_mu */
    struct store_reader *outer; /* the binding of this thread it shadows (another handle's) */
    atomic_int users;           /* 0 or 1: checked on every take, a second user is INTERNAL */
} store_reader;

struct store {
    const store_driver *drv;
    store_conn *conn; /* owned: writes, transactions, and reads when there is no read pool */
    char *url;        /* owned: subscriptions open their own connection with it */
    store_url_info parsed;
    store_options opts; /* errbuf cleared */
    pthread_mutex_t mu; /* error-checking: a re-entry from the holder is detected, not a hang */
    /* The address of the holder's store_tl_self (store.c) while mu is held, else 0: tells a
     * read call whether this thread is inside its own transaction without locking mu. */
    atomic_uintptr_t mu_owner;
    pthread_mutex_t err_mu; /* guards last_err: readers fail outside mu */
    /* Guarded by mu: */
    bool user_txn; /* inside store_txn_begin */
    /* The savepoint of the caller's last write call is still open: it succeeded, and its
     * savepoint is released with the next call's SAVEPOINT, or by the end of the transaction. */
    bool call_sp_open;
    bool in_cb;     /* a list callback is running */
    bool published; /* this transaction wrote change-log rows: wake subscribers on commit */
    store_head head;
    char *last_err; /* owned, STORE_ERRMSG_MAX bytes: the backend's latest message */
    /* Group commit (store.c, docs/store.md "Group commit"). A write call or caller's transaction
     * is a member; members run one after another under mu, as before, but a finished member
     * leaves the database transaction open when another thread is about to take mu, so the
     * members of one batch share one durable COMMIT. Guarded by mu: */
    bool member_sp;              /* the running member joined a batch under a savepoint */
    size_t batch_num;            /* finished members in the open transaction (0: none open) */
    bool batch_published;        /* one of them wrote change-log rows */
    struct timespec batch_start; /* CLOCK_MONOTONIC when its first member finished */
    struct store_member *batch;  /* the finished members; their `done` is guarded by gc_mu */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cond;  /* broadcast when a batch ended */
    atomic_int gc_waiting;   /* threads about to lock mu (they will join or commit the batch) */
    size_t gc_max;           /* opts.group_max resolved */
    long long gc_max_age_ns; /* opts.group_max_age_ms resolved */
    _Atomic uint64_t gc_commits;
    _Atomic uint64_t gc_members;
    /* Syncs outside the lock (drv->sync != NULL; store.c "syncs outside the lock"): commits are
     * numbered; a batch's members, and every read, wait until the sync in flight or the next one
     * covers the commits they may have seen. */
    _Atomic uint64_t sync_begun;   /* COMMITs started; incremented under mu before each */
    _Atomic uint64_t sync_written; /* COMMITs returned (their WAL frames written); under mu */
    _Atomic uint64_t sync_durable; /* every COMMIT up to this one is synced; under gc_mu */
    atomic_bool sync_failed;       /* a sync failed: every call fails from then on */
    bool sync_running;             /* one thread is in drv->sync; guarded by gc_mu */
    uint64_t sync_publish;         /* newest commit that wrote change-log rows; gc_mu */
    uint64_t sync_woken;           /* newest such commit subscribers were woken for; gc_mu */
    _Atomic uint64_t sync_count;
    _Atomic uint64_t sync_read_waits;
    /* Subscriptions to wake (SQLite in-process feed), guarded by subs_mu. */
    pthread_mutex_t subs_mu;
    struct store_sub *subs;
    /* Read connections (store.c "Read connections", docs/store.md): up to rd_max opened on
     * demand; 0 means every call uses conn under mu, as before. */
    size_t rd_max;
    store_reader *rd_all; /* owned: rd_max slots; guarded by rd_mu until opened */
    pthread_mutex_t rd_mu;
    pthread_cond_t rd_cond;    /* signalled when a reader is given back */
    atomic_size_t rd_open;     /* readers opened or being opened; changed under rd_mu */
    store_reader *rd_free;     /* open and free, guarded by rd_mu */
    store_reader *rd_spare;    /* not opened yet, guarded by rd_mu */
    struct timespec rd_retry;  /* no new reader before this after one failed to open */
    _Atomic uint64_t rd_calls; /* read calls served by the pool */
};

struct store_sub {
    store *parent;    /* borrowed */
    store_conn *conn; /* owned */
    int64_t cursor;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool woken;
    struct store_sub *next; /* in parent->subs */
};

typedef enum store_mode {
    STORE_READ,  /* statements outside a transaction (each one consistent on its own) */
    STORE_WRITE, /* one transaction, or a savepoint inside the caller's */
} store_mode;

/* store_enter / store_leave bracket every public call: lock (or join the caller's own
 * transaction), begin, ... then commit or roll back, publish, unlock. store_leave returns `rc`,
 * or the commit's failure. */
ZTCA_RC store_enter(store *s, store_mode mode);
ZTCA_RC store_leave(store *s, store_mode mode, ztca_rc rc);

/* store_exec: a statement without result rows; *out_changes (may be NULL) gets rows changed. */
ZTCA_RC store_exec(store *s, store_stmt id, const store_param *params, size_t num_params,
                   int64_t *out_changes);
/* store_query: a statement whose rows are then read with store_step; store_done releases. */
ZTCA_RC store_query(store *s, store_stmt id, const store_param *params, size_t num_params,
                    store_rows **out);
ZTCA_RC store_step(store *s, store_rows *r, bool *out_has_row);
void store_done(store *s, store_rows *r);

/* Column readers with the checks every caller needs. */
ZTCA_RC store_col_int(store *s, store_rows *r, int col, int64_t *out);
/* store_col_int_opt: NULL reads as `null_value`. */
ZTCA_RC store_col_int_opt(store *s, store_rows *r, int col, int64_t null_value, int64_t *out);
/* store_col_text: into buf[size], NUL-terminated; NULL reads as ""; STORE if too long. */
ZTCA_RC store_col_text(store *s, store_rows *r, int col, char *buf, size_t size);
/* store_col_dup: a malloc'd copy plus a NUL (so text is a C string); NULL reads as (NULL, 0). */
ZTCA_RC store_col_dup(store *s, store_rows *r, int col, uint8_t **out, size_t *out_len);
/* store_col_fixed: exactly `len` bytes (hashes); *out_present false for NULL. */
ZTCA_RC store_col_fixed(store *s, store_rows *r, int col, uint8_t *out, size_t len,
                        bool *out_present);

/* store_cb_mark: marks the handle busy in a list callback (re-entry is then INTERNAL). A call on
 * a pooled reader needs no mark: any re-entry from its thread is refused. */
void store_cb_mark(store *s, bool in_cb);

/* store_run_cb: calls a list callback with the handle marked busy (re-entry is INTERNAL). */
#define STORE_RUN_CB(s, call)      \
    do {                           \
        store_cb_mark((s), true);  \
        rc = (call);               \
        store_cb_mark((s), false); \
        if (!ZTCA_IS_OK(rc)) {     \
            goto out;              \
        }                          \
    } while (0)

/* store_conn_of: the connection this thread's current call on `s` uses: its pooled reader, or
 * the handle's own. */
store_conn *store_conn_of(store *s);

/* store_read_settle: once a read took its snapshot (after its first step, whether or not the
 * read has ended since), waits until every commit it may have seen is durable; STORE when a sync
 * failed. Free when nothing is waiting to be synced. */
ZTCA_RC store_read_settle(store *s);

/* ---- chain head, audit and change log (inside a write call) -------------------------------- */

/* store_head_load: reads and (PostgreSQL) locks the chain_head row; every call that appends to
 * the audit or change log does this first, so appends are serialised in commit order and no two
 * writers can deadlock on it. */
ZTCA_RC store_head_load(store *s);
/* store_audit_add: appends `ev` to the chain (head loaded on demand). */
ZTCA_RC store_audit_add(store *s, const store_audit_event *ev);
/* store_audit_prepare: the entry that `ev` becomes after the head, without writing it. */
ZTCA_RC store_audit_prepare(store *s, const store_audit_event *ev, store_audit_entry *out,
                            const char **out_detail);
/* store_change_add: appends one change-log entry and marks the transaction as publishing. */
ZTCA_RC store_change_add(store *s, store_change_kind kind, const char *subject, int status,
                         int reason, ztca_time at);

/* store_cert_revoke_device: inside a write call with the head loaded: every certificate of the
 * device that is neither revoked nor expired at `at` becomes REVOKED with `reason`, each with a
 * change-log entry; *out_num receives how many (store_cert.c). */
ZTCA_RC store_cert_revoke_device(store *s, const char *device_id, int reason, ztca_time at,
                                 size_t *out_num);

/* ---- validation ---------------------------------------------------------------------------- */

/* store_text_is_valid: 1..max bytes of UTF-8 without control characters. */
bool store_text_is_valid(const char *s, size_t max);
/* store_text_opt_is_valid: NULL or "" or store_text_is_valid. */
bool store_text_opt_is_valid(const char *s, size_t max);
bool store_utf8_is_valid(const uint8_t *p, size_t len);
ZTCA_RC store_event_check(const store_audit_event *ev);
/* store_copy_text: strlen(src) < size, else BAD_INPUT. */
ZTCA_RC store_copy_text(char *dst, size_t size, const char *src);

/* ---- migrations ---------------------------------------------------------------------------- */

typedef struct store_migration {
    int64_t version;
    const char *name;
    const char *sql;
} store_migration;

/* Generated at build time from store/schema/<backend>/NNNN_name.sql (schema/embed.cmake). */
extern const store_migration store_migrations_sqlite[];
extern const size_t store_num_migrations_sqlite;
extern const store_migration store_migrations_pg[];
extern const size_t store_num_migrations_pg;

/* store_migrate: brings the schema to STORE_SCHEMA_VERSION (see store_open). */
ZTCA_RC store_migrate(store *s);

/* store_now: ztca_now(), for defaults of `at` arguments. */
ztca_time store_now(ztca_time t);

#endif /* ZTCA_STORE_INTERNAL_H */
