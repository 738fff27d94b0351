/* store.h: the only way to ztca's data. One interface, two backends selected by URL: SQLite
 * (embedded default, "sqlite:PATH") and PostgreSQL ("postgresql://..." or "postgres://...", libpq)
 * that pass one conformance suite (tests/unit/test_store.c). docs/store.md describes the schema,
 * the audit hash chain and operations.
 *
 * Rules every call follows:
 * - Results are ztca_rc; SQLite and libpq codes never leave store/. A unique key taken is
 *   CONFLICT, a referenced row that does not exist NOT_FOUND, invalid input BAD_INPUT (checked
 *   before anything is sent), anything the database or the connection does wrong STORE.
 * - Every call is one transaction (unless inside store_txn_begin), so a failed call changed
 *   nothing. Every statement is prepared; no SQL text is ever built from input.
 * - Times are ztca_time (seconds since the epoch, UTC). Serials are lowercase hex, as everywhere.
 * - A store handle is thread safe: write calls and transactions from several threads are
 *   serialised on its one connection, and share durable commits (group commit): a call returns
 *   OK only once its changes are durable, and a failing one is undone alone. Read calls run
 *   there too, unless the handle was opened with a read pool (store_options.readers): then a
 *   read call outside the caller's own transaction runs on a read-only connection of its own,
 *   beside the writer and the other readers, and sees every write that returned before it
 *   began. Callbacks run while the handle is busy and must not call into the same handle (they
 *   get INTERNAL if they do).
 * - PostgreSQL: a lost connection is re-established by the next call. A call that fails meanwhile
 *   fails with STORE and changed nothing, except that a COMMIT whose answer was lost may have
 *   happened (the caller then has not handed anything out, which is the safe direction). */
#ifndef ZTCA_STORE_STORE_H
#define ZTCA_STORE_STORE_H

#include "core/core.h"

#define STORE_SCHEMA_VERSION 4 /* the newest schema this build knows (store/schema/) */

#define STORE_URL_MAX           1024
#define STORE_SERIAL_MAX        40  /* hex digits: 20 octets (RFC 5280 4.1.2.2) */
#define STORE_NAME_MAX          255 /* bytes of ids, user names, profiles, actors, kinds */
#define STORE_JSON_MAX          ((size_t)64 * 1024) /* facts, audit and signal details */
#define STORE_BLOB_MAX          ((size_t)64 * 1024) /* DER certificates, TPM blobs, session data */
#define STORE_HASH_LEN          32                  /* SHA-256 */
#define STORE_NONCE_MAX         64
#define STORE_LIST_MAX          1000           /* largest page of a list call */
#define STORE_RETENTION_DEFAULT (90LL * 86400) /* expired rows are kept this long */

typedef struct store store;

/* ---- URLs ---------------------------------------------------------------------------------- */

typedef enum store_backend { STORE_BACKEND_SQLITE, STORE_BACKEND_POSTGRESQL } store_backend;

typedef struct store_url_info {
    store_backend backend;
    char path[STORE_URL_MAX]; /* SQLite: the file; PostgreSQL: "" */
} store_url_info;

/* store_url_parse: "sqlite:PATH" (PATH non-empty; not "sqlite://", which other tools read as a
 * URI) or "postgresql://..." / "postgres://..." as libpq parses it (checked with
 * PQconninfoParse, no I/O). `url` need not be NUL-terminated; at most STORE_URL_MAX - 1 bytes, no
 * NUL or control characters. BAD_INPUT with the reason otherwise. */
ZTCA_RC store_url_parse(store_url_info *out, const char *url, size_t url_len);
/* store_url_resolve: a relative SQLite path taken relative to `dir` ("sqlite:store/ztca.db" in
 * DIR/ztca.conf is DIR/store/ztca.db); any other URL is copied. BAD_INPUT if it does not fit. */
ZTCA_RC store_url_resolve(char *out, size_t out_size, const char *url, const char *dir);
/* store_url_redact: the URL with any password replaced by "***", for messages and logs. */
void store_url_redact(char *out, size_t out_size, const char *url);

/* ---- opening ------------------------------------------------------------------------------- */

typedef struct store_options {
    int busy_timeout_ms;   /* SQLite: how long a writer waits for another; 0: 5000 */
    int connect_timeout_s; /* PostgreSQL: connect timeout; 0: 5 */
    char *errbuf;          /* NULL, or receives the backend's message when the open fails (e.g.
                              libpq's "connection refused"; never a password) */
    size_t errbuf_size;
    /* Group commit (docs/store.md): concurrent write calls and transactions on one handle share
     * one durable commit. No wait is ever added for it; these bound how much a call can wait for
     * others' work before its own commit: */
    int group_max;        /* most calls per commit; 0: STORE_GROUP_MAX_DEFAULT; 1: no grouping */
    int group_max_age_ms; /* a batch older than this (from its first finished call) is committed
                             by the next caller instead of joined; 0: STORE_GROUP_AGE_DEFAULT */
    /* Read pool (docs/store.md "Read connections"): at most this many read-only connections,
     * opened when concurrent reads need them, each taken by one read call at a time. 0: none,
     * reads share the one connection (a CLI command, a test); `ztca serve` passes its worker
     * thread count up to STORE_READERS_SERVE_MAX. At most STORE_READERS_MAX. */
    int readers;
    /* Called once, from the thread that saw it, when a sync of committed data failed (SQLite:
     * fdatasync of the WAL; docs/store.md "Syncs outside the lock"). The handle fails every call
     * from then on: SQLite counts those commits as done and the kernel may have dropped the pages,
     * so the process must stop and let the next start recover from the file. NULL: none. */
    void (*on_sync_failed)(void *arg);
    void *on_sync_failed_arg;
} store_options;

#define STORE_READERS_MAX       64
#define STORE_READERS_SERVE_MAX 8

#define STORE_GROUP_MAX_DEFAULT 64
#define STORE_GROUP_AGE_DEFAULT 5 /* ms: two fsyncs of a typical disk */

/* store_open: connects, applies the pending schema migrations (store/schema/, in one transaction
 * per version, serialised between nodes) and returns a handle. A store whose schema is newer than
 * STORE_SCHEMA_VERSION is refused with UNSUPPORTED ("written by a newer ztca"). SQLite files are
 * created 0600, in WAL mode, with a busy timeout; a commit is durable before its call returns
 * (synchronous=NORMAL plus a sync outside the handle's lock, docs/store.md). */
ZTCA_RC store_open(store **out, const char *url);
ZTCA_RC store_open_ex(store **out, const char *url, const store_options *opts);
void store_close(store *s);
store_backend store_get_backend(const store *s);
/* store_schema_version: the version recorded in the database (equals STORE_SCHEMA_VERSION after a
 * successful open). */
ZTCA_RC store_schema_version(store *s, int64_t *out);
/* store_stats: the handle's group commit and read pool counters since it was opened. */
typedef struct store_stats {
    uint64_t commits;      /* durable commits of write calls and transactions (batches) */
    uint64_t members;      /* write calls and transactions those commits covered */
    uint64_t queued;       /* threads waiting for the handle right now */
    uint64_t reads_pooled; /* read calls that ran on a pooled read connection */
    uint64_t readers;      /* read connections open (or being opened) now */
    uint64_t syncs;        /* syncs run outside the lock (SQLite), each covering 1+ commits */
    uint64_t read_waits;   /* reads that waited for a sync of what they had seen */
    bool has_wal;          /* SQLite: wal_bytes is meaningful */
    uint64_t wal_bytes;    /* SQLite: the -wal file's size now (checkpoints keep it near 4 MB) */
} store_stats;

/* store_stats_get: never blocks (the counters are read without the handle's lock). */
void store_stats_get(const store *s, store_stats *out);
/* store_errmsg: the backend's message for the latest failure on this handle, for logs; "" if
 * none. Valid until the next call on the handle. */
const char *store_errmsg(store *s);

/* ---- transactions -------------------------------------------------------------------------- */

/* store_txn_begin: the calls that follow on this handle, from this thread, form one transaction
 * until store_txn_commit or store_txn_rollback (other threads wait). A call that fails inside
 * leaves the transaction as it was before that call (a savepoint), so the caller may go on or
 * roll back. Not nested: a second begin is INTERNAL. */
ZTCA_RC store_txn_begin(store *s);
/* store_txn_commit: STORE if the commit failed (everything is then rolled back). */
ZTCA_RC store_txn_commit(store *s);
void store_txn_rollback(store *s);

/* ---- audit log ----------------------------------------------------------------------------- */

/* store_audit_event: what a change records in the audit log, in the same transaction. Borrowed. */
typedef struct store_audit_event {
    const char *actor;   /* who: "cli:uid=0", "admin:alice", "system:trust" (required) */
    const char *action;  /* "cert.issue", "cert.revoke", "device.register", ... (required) */
    const char *subject; /* a serial, a device id, a user; NULL: "" */
    const char *detail;  /* a JSON object; NULL: "{}" */
    ztca_time at;        /* 0: now */
} store_audit_event;

/* store_audit_entry: one row of the chain. The hash commits to every other field, and through
 * prev_hash to every earlier entry (layout in docs/store.md and store_audit_hash). */
typedef struct store_audit_entry {
    int64_t seq; /* 1, 2, 3, ... without gaps */
    ztca_time at;
    char actor[STORE_NAME_MAX + 1];
    char action[STORE_NAME_MAX + 1];
    char subject[STORE_NAME_MAX + 1];
    char *detail; /* owned, NUL-terminated JSON */
    size_t detail_len;
    uint8_t prev_hash[STORE_HASH_LEN]; /* all zero for seq 1 */
    uint8_t hash[STORE_HASH_LEN];
} store_audit_entry;

void store_audit_entry_init(store_audit_entry *e);
void store_audit_entry_free(store_audit_entry *e);

/* store_audit_hash: SHA-256 over the canonical bytes of an entry (docs/store.md):
 *   "ztca-audit-v1" || u64be(seq) || i64be(at) || u32be(len) actor || u32be(len) action
 *   || u32be(len) subject || u32be(len) detail || prev_hash[32] */
ZTCA_RC store_audit_hash(uint8_t out[STORE_HASH_LEN], int64_t seq, ztca_time at, const char *actor,
                         const char *action, const char *subject, const char *detail,
                         size_t detail_len, const uint8_t prev_hash[STORE_HASH_LEN]);

/* store_audit_append: one entry on its own; *out_seq (may be NULL) receives its number. */
ZTCA_RC store_audit_append(store *s, const store_audit_event *ev, int64_t *out_seq);
/* store_audit_head: the number and hash of the newest entry (0 and zeros when empty). */
ZTCA_RC store_audit_head(store *s, int64_t *out_seq, uint8_t out_hash[STORE_HASH_LEN]);

typedef ztca_rc (*store_audit_cb)(void *ctx, const store_audit_entry *e);
/* store_audit_list: entries with seq > after_seq in order, at most `limit` (1..STORE_LIST_MAX).
 * A callback failure stops the walk and is returned. */
ZTCA_RC store_audit_list(store *s, int64_t after_seq, size_t limit, store_audit_cb cb, void *ctx);

typedef struct store_audit_report {
    bool intact;
    int64_t count;                /* entries checked */
    int64_t broken_seq;           /* first broken entry (0 when intact) */
    const char *reason;           /* static text, "" when intact */
    uint8_t head[STORE_HASH_LEN]; /* hash of the last entry (anchor it elsewhere) */
} store_audit_report;

/* store_audit_verify: walks the whole chain in pages: every entry's hash must match its content,
 * its prev_hash the previous entry's hash, its number the previous plus one, and the last entry
 * the head recorded with the chain. OK with report->intact false when the chain is broken; the
 * result code says only whether the walk itself worked. */
ZTCA_RC store_audit_verify(store *s, store_audit_report *out);

/* ---- certificates -------------------------------------------------------------------------- */

typedef enum store_cert_status {
    STORE_CERT_GOOD = 0,
    STORE_CERT_REVOKED = 1, /* final */
    STORE_CERT_HOLD = 2,    /* revoked with reason certificateHold: reversible */
} store_cert_status;

/* RFC 5280 5.3.1 CRLReason values accepted for STORE_CERT_REVOKED. */
#define STORE_REASON_NONE                (-1)
#define STORE_REASON_UNSPECIFIED         0
#define STORE_REASON_KEY_COMPROMISE      1
#define STORE_REASON_CA_COMPROMISE       2
#define STORE_REASON_AFFILIATION_CHANGED 3
#define STORE_REASON_SUPERSEDED          4
#define STORE_REASON_CESSATION           5
#define STORE_REASON_CERTIFICATE_HOLD    6
#define STORE_REASON_PRIVILEGE_WITHDRAWN 9
#define STORE_REASON_AA_COMPROMISE       10

typedef struct store_cert {
    char serial[STORE_SERIAL_MAX + 1];  /* lowercase hex, even length */
    char device_id[STORE_NAME_MAX + 1]; /* "" when none */
    char user[STORE_NAME_MAX + 1];      /* "" when none */
    char profile[STORE_NAME_MAX + 1];
    ztca_time not_before;
    ztca_time not_after;
    ztca_time issued_at;      /* 0 on insert: now */
    store_cert_status status; /* ignored on insert: a new certificate is good */
    ztca_time revoked_at;     /* 0 when good */
    int reason;               /* STORE_REASON_*; NONE when good */
    uint8_t *der;             /* owned by store_cert_get's output; borrowed on insert */
    size_t der_len;
} store_cert;

void store_cert_init(store_cert *c);
/* store_cert_free: frees `der` (only for structs filled by store_cert_get). */
void store_cert_free(store_cert *c);

/* store_cert_insert: records an issued certificate and its audit entry (`ev`, required) in one
 * transaction. The serial must be new: CONFLICT otherwise (the database enforces it; issue again
 * with a new serial). Hand the certificate out only after this returned OK. */
ZTCA_RC store_cert_insert(store *s, const store_cert *c, const store_audit_event *ev);
/* store_cert_insert_batch: `num` certificates with one audit entry each (evs[i], chained in
 * that order) in one transaction, all or nothing (CONFLICT if any serial exists or repeats). For
 * bulk loads and imports: rows go in serial order, on PostgreSQL as one COPY per table. */
ZTCA_RC store_cert_insert_batch(store *s, const store_cert *certs, const store_audit_event *evs,
                                size_t num);
/* store_cert_get: the row, and its DER when with_der (malloc'd into out->der; free with
 * store_cert_free). NOT_FOUND for an unknown serial. */
ZTCA_RC store_cert_get(store *s, const char *serial, bool with_der, store_cert *out);

/* store_cert_state: what an OCSP answer needs, from one primary-key lookup. */
typedef struct store_cert_state {
    store_cert_status status;
    ztca_time revoked_at;
    int reason;
    ztca_time not_after;
    char device_id[STORE_NAME_MAX + 1];
    char user[STORE_NAME_MAX + 1];
    int score; /* the trust score of the certificate's agent or device; -1 when it has none */
} store_cert_state;

/* store_cert_status_get: NOT_FOUND when the serial was never issued (or was purged). */
ZTCA_RC store_cert_status_get(store *s, const char *serial, store_cert_state *out);

/* store_cert_set_status: GOOD->HOLD, HOLD->GOOD, GOOD->REVOKED, HOLD->REVOKED; anything else
 * (same status, or from REVOKED) is CONFLICT and changes nothing. `reason` is one of the RFC 5280
 * reasons above for REVOKED (certificateHold is HOLD's), and NONE for GOOD and HOLD. `at` 0: now.
 * Writes the row, a change-log entry (published to subscribers on commit) and `ev` (required). */
ZTCA_RC store_cert_set_status(store *s, const char *serial, store_cert_status status, int reason,
                              ztca_time at, const store_audit_event *ev);

typedef ztca_rc (*store_cert_cb)(void *ctx, const store_cert *c); /* c->der is NULL */
/* store_cert_list: certificates with serial > after_serial ("" for the first page) in serial
 * order, at most `limit` (1..STORE_LIST_MAX): keyset pagination for the admin API. */
ZTCA_RC store_cert_list(store *s, const char *after_serial, size_t limit, store_cert_cb cb,
                        void *ctx);
/* store_cert_list_by_device: every certificate of a device in serial order (indexed). */
ZTCA_RC store_cert_list_by_device(store *s, const char *device_id, store_cert_cb cb, void *ctx);
/* store_cert_list_revoked: every REVOKED or HOLD certificate not expired at `now`, in serial
 * order, walked in pages through a partial index (for CRLs). */
ZTCA_RC store_cert_list_revoked(store *s, ztca_time now, store_cert_cb cb, void *ctx);

/* ---- users, devices, agents ---------------------------------------------------------------- */

typedef enum store_entity_status { STORE_ACTIVE = 0, STORE_DISABLED = 1 } store_entity_status;

typedef struct store_user {
    char name[STORE_NAME_MAX + 1];
    store_entity_status status;
    ztca_time created_at;
} store_user;

/* store_user_put: creates the user if absent (no change if present). `ev` may be NULL. */
ZTCA_RC store_user_put(store *s, const char *name, const store_audit_event *ev);
ZTCA_RC store_user_get(store *s, const char *name, store_user *out);
ZTCA_RC store_user_set_status(store *s, const char *name, store_entity_status status,
                              const store_audit_event *ev);

typedef struct store_device {
    char id[STORE_NAME_MAX + 1];
    bool has_ek;                         /* ek_pub_hash is set (a TPM device) */
    uint8_t ek_pub_hash[STORE_HASH_LEN]; /* SHA-256 of the EK public area; unique */
    uint8_t *ek_cert;                    /* DER, NULL when none */
    size_t ek_cert_len;
    uint8_t *ak_pub; /* TPM2B_PUBLIC of the AK, NULL when none */
    size_t ak_pub_len;
    char *facts;                /* JSON object text; NULL on insert means "{}" */
    store_entity_status status; /* DISABLED = revoked */
    ztca_time created_at;       /* 0 on insert: now */
    ztca_time updated_at;
} store_device;

/* store_device_init/free: the pointers are owned by outputs of store_device_get* and borrowed by
 * inputs; store_device_free frees them (call it only on outputs). */
void store_device_init(store_device *d);
void store_device_free(store_device *d);

/* store_device_insert: CONFLICT if the id or the EK hash is taken; facts must be a JSON object. */
ZTCA_RC store_device_insert(store *s, const store_device *d, const store_audit_event *ev);
ZTCA_RC store_device_get(store *s, const char *id, store_device *out);
ZTCA_RC store_device_find_by_ek(store *s, const uint8_t ek_pub_hash[STORE_HASH_LEN],
                                store_device *out);
/* store_device_update_evidence: new AK and facts after a fresh attestation (ak_pub may be NULL
 * to keep it). */
ZTCA_RC store_device_update_evidence(store *s, const char *id, const uint8_t *ak_pub,
                                     size_t ak_pub_len, const char *facts, ztca_time at,
                                     const store_audit_event *ev);
/* store_device_set_status: DISABLED revokes the device and, in the same transaction, every one
 * of its certificates that is not revoked and not expired at `at`, with `reason` (DESIGN.md 4:
 * keyCompromise by default), each with a change-log entry; *out_num_revoked (may be NULL)
 * receives how many. ACTIVE allows the device again (its revoked certificates stay revoked).
 * CONFLICT when the device already has that status. */
ZTCA_RC store_device_set_status(store *s, const char *id, store_entity_status status, int reason,
                                ztca_time at, const store_audit_event *ev, size_t *out_num_revoked);
typedef ztca_rc (*store_device_cb)(void *ctx, const store_device *d);
/* store_device_list: keyset pagination by id, like store_cert_list. */
ZTCA_RC store_device_list(store *s, const char *after_id, size_t limit, store_device_cb cb,
                          void *ctx);

typedef struct store_agent {
    char device_id[STORE_NAME_MAX + 1];
    char user[STORE_NAME_MAX + 1];
    store_entity_status status;
    ztca_time created_at;
    ztca_time last_seen;
} store_agent;

/* store_agent_put: records that `user` works on `device_id` (both must exist: NOT_FOUND),
 * or refreshes last_seen. */
ZTCA_RC store_agent_put(store *s, const char *device_id, const char *user, ztca_time at,
                        const store_audit_event *ev);
ZTCA_RC store_agent_get(store *s, const char *device_id, const char *user, store_agent *out);
typedef ztca_rc (*store_agent_cb)(void *ctx, const store_agent *a);
ZTCA_RC store_agent_list_by_device(store *s, const char *device_id, store_agent_cb cb, void *ctx);
/* store_agent_list_by_user: every device the user works on (indexed), by device id. */
ZTCA_RC store_agent_list_by_user(store *s, const char *user, store_agent_cb cb, void *ctx);

/* ---- one-time tokens and enrollment sessions ----------------------------------------------- */

/* store_token: only the SHA-256 of a token is ever stored. */
typedef struct store_token {
    uint8_t hash[STORE_HASH_LEN];
    char user[STORE_NAME_MAX + 1]; /* "" for a device-only token */
    char profile[STORE_NAME_MAX + 1];
    char created_by[STORE_NAME_MAX + 1];
    ztca_time created_at; /* 0 on insert: now */
    ztca_time expires_at;
    ztca_time used_at; /* 0 while unused */
} store_token;

ZTCA_RC store_token_insert(store *s, const store_token *t, const store_audit_event *ev);
/* store_token_consume: marks the token used at `now` if it exists, is unused and has not expired,
 * atomically (of two concurrent calls, one wins), and returns it. NOT_FOUND for an unknown hash,
 * DENIED when used or expired. */
ZTCA_RC store_token_consume(store *s, const uint8_t hash[STORE_HASH_LEN], ztca_time now,
                            store_token *out);

/* store_session: an enrollment in progress (DESIGN.md 3), bound to the token that opened it. */
typedef struct store_session {
    char id[STORE_NAME_MAX + 1];
    uint8_t token_hash[STORE_HASH_LEN];
    uint8_t nonce[STORE_NONCE_MAX];
    size_t nonce_len;
    uint8_t secret_hash[STORE_HASH_LEN]; /* hash of the MakeCredential secret */
    uint8_t *data;                       /* enroll/'s state; owned by outputs, borrowed by inputs */
    size_t data_len;
    ztca_time created_at; /* 0 on insert: now */
    ztca_time expires_at;
    ztca_time used_at;
} store_session;

void store_session_init(store_session *ses);
void store_session_free(store_session *ses);
/* store_session_insert: NOT_FOUND if the token does not exist, CONFLICT if the id is taken. */
ZTCA_RC store_session_insert(store *s, const store_session *ses);
/* store_session_consume: single use, like store_token_consume. */
ZTCA_RC store_session_consume(store *s, const char *id, ztca_time now, store_session *out);

/* ---- trust signals ------------------------------------------------------------------------- */

typedef struct store_signal {
    int64_t id; /* assigned on insert */
    char device_id[STORE_NAME_MAX + 1];
    char user[STORE_NAME_MAX + 1]; /* "" when about the device */
    char source[STORE_NAME_MAX + 1];
    char kind[STORE_NAME_MAX + 1];
    int impact;           /* -100..100 */
    char *detail;         /* JSON object; owned by outputs, borrowed by inputs; NULL: "{}" */
    ztca_time created_at; /* 0 on insert: now */
    ztca_time expires_at; /* 0: never */
} store_signal;

void store_signal_init(store_signal *sig);
void store_signal_free(store_signal *sig);
/* store_signal_insert: records a signal about a device (user ""), an agent (both) or a user
 * (device_id ""), replacing the one of the same target, source and kind (docs/trust.md: the
 * latest counts; the audit log keeps them all). NOT_FOUND if the device does not exist. */
ZTCA_RC store_signal_insert(store *s, const store_signal *sig, const store_audit_event *ev,
                            int64_t *out_id);
typedef ztca_rc (*store_signal_cb)(void *ctx, const store_signal *sig);
/* store_signal_list_by_device: the device's signals not expired at `now` (about the device or
 * any of its agents), oldest first. */
ZTCA_RC store_signal_list_by_device(store *s, const char *device_id, ztca_time now,
                                    store_signal_cb cb, void *ctx);
/* store_signal_list_for_subject: what the score of a device (user "") or an agent counts: the
 * device's own signals and, for an agent, the agent's and the user's, not expired at `now`. */
ZTCA_RC store_signal_list_for_subject(store *s, const char *device_id, const char *user,
                                      ztca_time now, store_signal_cb cb, void *ctx);

/* ---- trust scores -------------------------------------------------------------------------- */

/* store_trust: the latest score of a device (user "") or an agent, as trust/ computed it. */
typedef struct store_trust {
    char device_id[STORE_NAME_MAX + 1];
    char user[STORE_NAME_MAX + 1];
    int score;             /* 0..100 */
    bool held;             /* its certificates are on hold (score below the hold threshold) */
    char *explanation;     /* JSON object; owned by outputs, borrowed by inputs */
    ztca_time computed_at; /* 0 on put: now */
    ztca_time next_change; /* when an expiry or staleness may change it; 0: never */
} store_trust;

void store_trust_init(store_trust *t);
void store_trust_free(store_trust *t);
/* store_trust_get: NOT_FOUND when the subject was never scored. */
ZTCA_RC store_trust_get(store *s, const char *device_id, const char *user, store_trust *out);
/* store_trust_put: records the subject's score. With `publish`, a change-log entry
 * (STORE_CHANGE_TRUST, the device id) tells every node that the device's OCSP answers carry an
 * old score. `ev` (may be NULL) goes to the audit log. */
ZTCA_RC store_trust_put(store *s, const store_trust *t, bool publish, const store_audit_event *ev);
/* store_trust_hold: makes the subject's live certificates follow `hold`: each GOOD one becomes
 * HOLD, marked as held by the trust engine; when !hold each HOLD one so marked becomes GOOD (an
 * administrator's hold stays). One change-log entry per certificate; *out_num (may be NULL)
 * receives how many changed. */
ZTCA_RC store_trust_hold(store *s, const char *device_id, const char *user, bool hold, ztca_time at,
                         size_t *out_num);
typedef ztca_rc (*store_trust_due_cb)(void *ctx, const char *device_id, const char *user);
/* store_trust_list_due: subjects whose next_change is at or before `now`, at most `limit`
 * (1..STORE_LIST_MAX), earliest first. */
ZTCA_RC store_trust_list_due(store *s, ztca_time now, size_t limit, store_trust_due_cb cb,
                             void *ctx);
/* store_device_lock: inside store_txn_begin, serialises every trust update of one device across
 * nodes until commit (PostgreSQL row lock; SQLite transactions are serial anyway). NOT_FOUND for
 * an unknown device. `out` (may be NULL) receives the device as locked, as store_device_get
 * would (one round trip instead of two). */
ZTCA_RC store_device_lock(store *s, const char *device_id, store_device *out);

/* ---- OIDC provisioners and replay cache (workload certificates) ---------------------------- */

#define STORE_PROVISIONER_MAX ((size_t)300 * 1024) /* config JSON (an inline JWKS included) */

/* store_provisioner_put: records provisioner `name` with its JSON config (enroll/ checks it);
 * CONFLICT when it exists and !replace. `ev` (required) goes to the audit log. */
ZTCA_RC store_provisioner_put(store *s, const char *name, const char *config, bool replace,
                              const store_audit_event *ev);
/* store_provisioner_get: the config, malloc'd and NUL-terminated; NOT_FOUND. */
ZTCA_RC store_provisioner_get(store *s, const char *name, char **out_config);
typedef ztca_rc (*store_provisioner_cb)(void *ctx, const char *name, const char *config);
/* store_provisioner_list: every provisioner, by name. */
ZTCA_RC store_provisioner_list(store *s, store_provisioner_cb cb, void *ctx);
/* store_provisioner_remove: NOT_FOUND when absent. */
ZTCA_RC store_provisioner_remove(store *s, const char *name, const store_audit_event *ev);
/* store_replay_claim: records that the token of `key` (64 lowercase hex) was used, to be
 * remembered until `until`; CONFLICT when it was used before and is still remembered at `now`.
 * Atomic: of two concurrent claims, one wins, on every node. */
ZTCA_RC store_replay_claim(store *s, const char *key, ztca_time until, ztca_time now);

/* ---- change feed --------------------------------------------------------------------------- */

typedef enum store_change_kind {
    STORE_CHANGE_CERT = 1,   /* subject: serial; status: store_cert_status */
    STORE_CHANGE_DEVICE = 2, /* subject: device id; status: store_entity_status */
    STORE_CHANGE_TRUST = 3,  /* subject: device id; status: the new score; reason: held (0/1) */
} store_change_kind;

/* store_change: one row of the ordered change log. Every status change writes one in its
 * transaction; numbers grow by one in commit order, so a reader that remembers the last number
 * it saw misses nothing. */
typedef struct store_change {
    int64_t seq;
    ztca_time at;
    store_change_kind kind;
    char subject[STORE_NAME_MAX + 1];
    int status;
    int reason; /* STORE_REASON_* */
} store_change;

typedef ztca_rc (*store_change_cb)(void *ctx, const store_change *c);
/* store_changes_since: changes with seq > after_seq in order, at most `limit` (replicas, resync).
 */
ZTCA_RC store_changes_since(store *s, int64_t after_seq, size_t limit, store_change_cb cb,
                            void *ctx);

/* store_sub: a subscription to the change feed, with its own connection. PostgreSQL: LISTEN on
 * channel "ztca_change" (a trigger on the change log NOTIFYs on commit), so changes committed by
 * any node arrive; the connection is re-established when lost. SQLite: commits through the
 * parent handle wake it at once, and it also reads the log every 100 ms (other processes). */
typedef struct store_sub store_sub;

#define STORE_SUB_FROM_NOW (-1) /* start after the newest change */

/* store_sub_open: `s` is borrowed and must outlive the subscription. */
ZTCA_RC store_sub_open(store_sub **out, store *s, int64_t after_seq);
void store_sub_close(store_sub *sub);
/* store_sub_poll: waits up to timeout_ms for changes after the cursor and passes them in order
 * to `cb` (at most STORE_LIST_MAX per call), advancing the cursor past each one `cb` accepted;
 * *out_num (may be NULL) receives how many. OK with 0 on timeout. While PostgreSQL is unreachable
 * it keeps trying to reconnect until the timeout, then returns STORE; nothing is lost since the
 * next successful poll reads the log from the cursor. Not thread safe: one consumer. */
ZTCA_RC store_sub_poll(store_sub *sub, int timeout_ms, store_change_cb cb, void *ctx,
                       size_t *out_num);
int64_t store_sub_cursor(const store_sub *sub);

/* ---- retention ----------------------------------------------------------------------------- */

typedef struct store_purge_stats {
    size_t certs;  /* certificates (with their DER) */
    size_t tokens; /* tokens and enrollment sessions */
    size_t signals;
    size_t changes; /* change-log entries */
} store_purge_stats;

/* store_purge: deletes certificates that expired before `cutoff` (the caller passes
 * now - retention, STORE_RETENTION_DEFAULT by default), tokens, sessions and signals that
 * expired before it, and change-log entries older than it, in transactions of at most
 * `batch_size` rows (1..10000), so writers wait at most one small batch and readers never wait;
 * stops after `max_batches` batches (0: until done). The audit log is never purged. */
ZTCA_RC store_purge(store *s, ztca_time cutoff, size_t batch_size, size_t max_batches,
                    store_purge_stats *out);

/* ---- checks shared with callers and fuzzers ------------------------------------------------ */

/* store_serial_is_valid: 2..40 lowercase hex digits, an even number. */
bool store_serial_is_valid(const char *serial);
/* store_json_object_check: a JSON object (jansson, duplicate keys refused) of at most
 * STORE_JSON_MAX bytes in valid UTF-8. BAD_INPUT otherwise. */
ZTCA_RC store_json_object_check(const char *json, size_t len);

#endif /* ZTCA_STORE_STORE_H */
