/* test_store.c: the store conformance suite (STYLE.md 9). Every test runs against SQLite, then
 * again against PostgreSQL when ZTCA_TEST_PG holds a connection URL: one suite, the same
 * assertions, so both backends behave the same. Each test gets an empty store of its own (a new
 * SQLite file; a new PostgreSQL schema, selected through search_path, dropped at the end).
 *
 * tests/integration/test_store_pg.sh starts a real PostgreSQL 15 and runs this binary against
 * it; it also sets ZTCA_TEST_PG_STOP and ZTCA_TEST_PG_START (commands that stop and start the
 * server) for the reconnect test. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <mbedtls/sha256.h>
#include <sqlite3.h>

#include "store/internal.h" /* the sync tests wrap the driver */
#include "store/store.h"
#include "tests/unit/unit.h"

#define T0 ((ztca_time)1795000000) /* 2026-11-19T11:06:40Z: a fixed "now" */

/* ---- fixtures: one empty store per test ----------------------------------------------------- */

static store_backend test_backend;
static const char *test_pg_base; /* ZTCA_TEST_PG */
static PGconn *test_pg_admin;    /* creates and drops the per-test schemas */
static char test_dir[256];       /* SQLite files */
static int test_counter;
static char test_url[2048]; /* the current test's store */
static char test_path[512]; /* its SQLite file */

static void
test_fresh_url(void)
{
    test_counter++;
    if (test_backend == STORE_BACKEND_SQLITE) {
        snprintf(test_path, sizeof(test_path), "%s/t%d.db", test_dir, test_counter);
        snprintf(test_url, sizeof(test_url), "sqlite:%s", test_path);
        return;
    }
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA ztca_t_%d_%d", (int)getpid(), test_counter);
    PGresult *res = PQexec(test_pg_admin, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQstatus(test_pg_admin) == CONNECTION_BAD) {
        /* pg_reconnect restarted the server under this connection; the suite then runs again
         * with a read pool. */
        PQclear(res);
        PQreset(test_pg_admin);
        res = PQexec(test_pg_admin, sql);
    }
    CU_ASSERT_EQUAL_FATAL(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    snprintf(test_url, sizeof(test_url), "%s%coptions=-csearch_path%%3Dztca_t_%d_%d", test_pg_base,
             strchr(test_pg_base, '?') != NULL ? '&' : '?', (int)getpid(), test_counter);
}

/* Read connections per handle of test_open: each backend's suite runs once with none (every
 * call on the one connection) and once with a pool, so every read call goes both ways. */
static int test_readers;

static store *
test_open(void)
{
    store *s = NULL;
    test_fresh_url();
    store_options o = { .readers = test_readers };
    UNIT_ASSERT_OK(store_open_ex(&s, test_url, &o));
    return s;
}

/* test_raw: SQL straight to the current test's database, around the store (to tamper, or to
 * plant a newer schema version). Returns true when it succeeded. */
static bool
test_raw(const char *sql)
{
    if (test_backend == STORE_BACKEND_SQLITE) {
        sqlite3 *db = NULL;
        bool ok = sqlite3_open(test_path, &db) == SQLITE_OK
                  && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(db);
        return ok;
    }
    PGconn *c = PQconnectdb(test_url);
    bool ok = false;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *res = PQexec(c, sql);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
    }
    PQfinish(c);
    return ok;
}

/* test_raw_count: SELECT count(*) ... straight from the database; -1 on failure. */
static long
test_raw_count(const char *sql)
{
    long n = -1;
    if (test_backend == STORE_BACKEND_SQLITE) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open(test_path, &db) == SQLITE_OK
            && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK
            && sqlite3_step(st) == SQLITE_ROW) {
            n = (long)sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
    }
    PGconn *c = PQconnectdb(test_url);
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *res = PQexec(c, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            n = atol(PQgetvalue(res, 0, 0));
        }
        PQclear(res);
    }
    PQfinish(c);
    return n;
}

static const uint8_t test_der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 }; /* stands in for a cert */

static void
test_cert(store_cert *c, const char *serial, const char *device, const char *user,
          ztca_time not_after)
{
    store_cert_init(c);
    snprintf(c->serial, sizeof(c->serial), "%s", serial);
    snprintf(c->device_id, sizeof(c->device_id), "%s", device != NULL ? device : "");
    snprintf(c->user, sizeof(c->user), "%s", user != NULL ? user : "");
    snprintf(c->profile, sizeof(c->profile), "%s", "agent");
    c->not_before = T0 - 7200;
    c->not_after = not_after;
    c->issued_at = T0;
    c->der = (uint8_t *)(uintptr_t)test_der;
    c->der_len = sizeof(test_der);
}

static store_audit_event
test_ev(const char *action, const char *subject)
{
    store_audit_event ev = { "test", action, subject, "{\"k\":\"v\"}", T0 };
    return ev;
}

static void
test_insert(store *s, const char *serial, const char *device, ztca_time not_after)
{
    store_cert c;
    test_cert(&c, serial, device, "alice", not_after);
    store_audit_event ev = test_ev("cert.issue", serial);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
}

static int64_t
test_verify_count(store *s)
{
    store_audit_report rep;
    UNIT_ASSERT_OK(store_audit_verify(s, &rep));
    CU_ASSERT_TRUE(rep.intact);
    CU_ASSERT_EQUAL(rep.broken_seq, 0);
    return rep.count;
}

/* Collects what a list or a subscription delivers. */
typedef struct test_bag {
    char keys[64][4 * STORE_NAME_MAX + 8];
    int status[64];
    int reason[64];
    int64_t seq[64];
    size_t num;
} test_bag;

static ztca_rc
test_bag_cert(void *ctx, const store_cert *c)
{
    test_bag *b = ctx;
    CU_ASSERT_PTR_NULL(c->der);
    if (b->num < 64) {
        snprintf(b->keys[b->num], sizeof(b->keys[0]), "%s", c->serial);
        b->status[b->num] = c->status;
        b->reason[b->num] = c->reason;
        b->num++;
    }
    return ZTCA_RC_OK;
}

static ztca_rc
test_bag_change(void *ctx, const store_change *c)
{
    test_bag *b = ctx;
    if (b->num < 64) {
        snprintf(b->keys[b->num], sizeof(b->keys[0]), "%s", c->subject);
        b->status[b->num] = c->status;
        b->reason[b->num] = c->reason;
        b->seq[b->num] = c->seq;
        b->num++;
    }
    return ZTCA_RC_OK;
}

/* ---- URLs and JSON (pure functions, fuzzed too) --------------------------------------------- */

static void
test_url_parse(void)
{
    static const struct {
        const char *url;
        ztca_err err;
        store_backend backend;
        const char *path;
    } cases[] = {
        { "sqlite:store/ztca.db", ZTCA_OK, STORE_BACKEND_SQLITE, "store/ztca.db" },
        { "sqlite:/var/lib/ztca/ztca.db", ZTCA_OK, STORE_BACKEND_SQLITE, "/var/lib/ztca/ztca.db" },
        { "sqlite:a?b", ZTCA_OK, STORE_BACKEND_SQLITE, "a?b" },
        { "postgresql://ztca@127.0.0.1:5432/ztca", ZTCA_OK, STORE_BACKEND_POSTGRESQL, "" },
        { "postgres://u:p@db/ztca?sslmode=verify-full", ZTCA_OK, STORE_BACKEND_POSTGRESQL, "" },
        { "postgresql:///ztca?host=/run/postgresql", ZTCA_OK, STORE_BACKEND_POSTGRESQL, "" },
        { "", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "sqlite:", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "sqlite:///abs.db", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "sqlite::memory:", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "sqlite:file:x.db?mode=memory", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "sqlite:a\nb", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "mysql://db/ztca", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "postgresql://h/db?nosuchoption=1", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "postgresql://[::1/db", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "/path/without/scheme.db", ZTCA_ERR_BAD_INPUT, 0, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        store_url_info u;
        ztca_rc rc = store_url_parse(&u, cases[i].url, strlen(cases[i].url));
        CU_ASSERT_EQUAL(rc.err, cases[i].err);
        if (cases[i].err == ZTCA_OK && rc.err == ZTCA_OK) {
            CU_ASSERT_EQUAL(u.backend, cases[i].backend);
            CU_ASSERT_STRING_EQUAL(u.path, cases[i].path);
        }
    }
    /* Not NUL-terminated input: only url_len bytes count. */
    store_url_info u;
    UNIT_ASSERT_OK(store_url_parse(&u, "sqlite:abcdef", 10));
    CU_ASSERT_STRING_EQUAL(u.path, "abc");
    UNIT_ASSERT_ERR(store_url_parse(&u, "sqlite:a\0b", 10), ZTCA_ERR_BAD_INPUT);
    char long_url[STORE_URL_MAX + 8];
    memset(long_url, 'a', sizeof(long_url));
    memcpy(long_url, "sqlite:", 7); /* NOLINT(bugprone-not-null-terminated-result): on purpose */
    UNIT_ASSERT_ERR(store_url_parse(&u, long_url, STORE_URL_MAX), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_OK(store_url_parse(&u, long_url, STORE_URL_MAX - 1));

    char out[256];
    UNIT_ASSERT_OK(store_url_resolve(out, sizeof(out), "sqlite:store/ztca.db", "/srv/ca"));
    CU_ASSERT_STRING_EQUAL(out, "sqlite:/srv/ca/store/ztca.db");
    UNIT_ASSERT_OK(store_url_resolve(out, sizeof(out), "sqlite:/abs.db", "/srv/ca"));
    CU_ASSERT_STRING_EQUAL(out, "sqlite:/abs.db");
    UNIT_ASSERT_OK(store_url_resolve(out, sizeof(out), "postgres://h/db", "/srv/ca"));
    CU_ASSERT_STRING_EQUAL(out, "postgres://h/db");
    UNIT_ASSERT_ERR(store_url_resolve(out, 16, "sqlite:store/ztca.db", "/srv/ca"),
                    ZTCA_ERR_BAD_INPUT);
    /* A relative path that fits alone but not under the directory: refused, since the result
     * would not parse again (fuzz_store_url found it; corpus crash_resolve_too_long). */
    {
        char big[2 * STORE_URL_MAX];
        char rel[STORE_URL_MAX];
        memset(rel, 'a', sizeof(rel));
        memcpy(rel, "sqlite:", 7);
        rel[STORE_URL_MAX - 1] = '\0'; /* 1023 bytes: the longest URL the parser takes */
        UNIT_ASSERT_OK(store_url_parse(&u, rel, strlen(rel)));
        UNIT_ASSERT_ERR(store_url_resolve(big, sizeof(big), rel, "/srv/ca"), ZTCA_ERR_BAD_INPUT);
        rel[STORE_URL_MAX - 1 - 8] = '\0'; /* room for "/srv/ca/": exactly fits */
        UNIT_ASSERT_OK(store_url_resolve(big, sizeof(big), rel, "/srv/ca"));
        CU_ASSERT_EQUAL(strlen(big), STORE_URL_MAX - 1);
        UNIT_ASSERT_OK(store_url_parse(&u, big, strlen(big)));
    }

    static const char *const redact[][2] = {
        { "postgresql://ztca:s3cret@db:5432/ztca", "postgresql://ztca:***@db:5432/ztca" },
        { "postgresql://db/ztca?user=u&password=s3cret&sslmode=require",
          "postgresql://db/ztca?user=u&password=***&sslmode=require" },
        { "postgresql://ztca@db/ztca", "postgresql://ztca@db/ztca" },
        { "sqlite:/a:b@c", "sqlite:/a:b@c" },
    };
    for (size_t i = 0; i < sizeof(redact) / sizeof(redact[0]); i++) {
        store_url_redact(out, sizeof(out), redact[i][0]);
        CU_ASSERT_STRING_EQUAL(out, redact[i][1]);
    }
}

static void
test_json_check(void)
{
    static const struct {
        const char *json;
        size_t len; /* 0: strlen */
        ztca_err err;
    } cases[] = {
        { "{}", 0, ZTCA_OK },
        { "{\"os\":\"debian 12\",\"tpm\":{\"vendor\":\"IFX\"},\"n\":[1,2]}", 0, ZTCA_OK },
        { "{\"caf\xc3\xa9\":1}", 0, ZTCA_OK },
        { "[]", 0, ZTCA_ERR_BAD_INPUT },
        { "\"s\"", 0, ZTCA_ERR_BAD_INPUT },
        { "{\"a\":1,\"a\":2}", 0, ZTCA_ERR_BAD_INPUT }, /* duplicate key */
        { "{\"a\":1", 0, ZTCA_ERR_BAD_INPUT },
        { "{} {}", 0, ZTCA_ERR_BAD_INPUT },
        { "{\"a\":\"\xc3\"}", 0, ZTCA_ERR_BAD_INPUT },         /* truncated UTF-8 */
        { "{\"a\":\"\xed\xa0\x80\"}", 0, ZTCA_ERR_BAD_INPUT }, /* surrogate */
        { "{\"a\":\"\\u0000\"}", 0, ZTCA_ERR_BAD_INPUT },
        { "{}\0", 3, ZTCA_ERR_BAD_INPUT },
        { "", 0, ZTCA_ERR_BAD_INPUT },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].json);
        CU_ASSERT_EQUAL(store_json_object_check(cases[i].json, len).err, cases[i].err);
    }
    /* Exactly 64 KiB is accepted, one byte more is not. */
    char *j = malloc(STORE_JSON_MAX + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    memset(j, ' ', STORE_JSON_MAX + 1);
    j[0] = '{';
    j[STORE_JSON_MAX - 1] = '}';
    UNIT_ASSERT_OK(store_json_object_check(j, STORE_JSON_MAX));
    j[STORE_JSON_MAX - 1] = ' ';
    j[STORE_JSON_MAX] = '}';
    UNIT_ASSERT_ERR(store_json_object_check(j, STORE_JSON_MAX + 1), ZTCA_ERR_BAD_INPUT);
    free(j);

    static const char *const serials[] = { "00", "7f", "0123456789abcdef0123456789abcdef",
                                           "0123456789abcdef0123456789abcdef01234567" };
    static const char *const bad_serials[] = {
        "", "0", "abc", "7F", "zz", "-1", "0123456789abcdef0123456789abcdef0123456789"
    };
    for (size_t i = 0; i < sizeof(serials) / sizeof(serials[0]); i++) {
        CU_ASSERT_TRUE(store_serial_is_valid(serials[i]));
    }
    for (size_t i = 0; i < sizeof(bad_serials) / sizeof(bad_serials[0]); i++) {
        CU_ASSERT_FALSE(store_serial_is_valid(bad_serials[i]));
    }
    CU_ASSERT_FALSE(store_serial_is_valid(NULL));
}

/* ---- schema and migrations ------------------------------------------------------------------- */

static void
test_open_migrate(void)
{
    store *s = test_open();
    int64_t v = 0;
    UNIT_ASSERT_OK(store_schema_version(s, &v));
    CU_ASSERT_EQUAL(v, STORE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(store_get_backend(s), test_backend);
    test_insert(s, "0a01", "dev-a", T0 + 3600);
    store_close(s);
    /* Re-open: nothing to migrate, data intact, one version row. */
    UNIT_ASSERT_OK(store_open(&s, test_url));
    UNIT_ASSERT_OK(store_schema_version(s, &v));
    CU_ASSERT_EQUAL(v, STORE_SCHEMA_VERSION);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM ztca_schema"), STORE_SCHEMA_VERSION);
    store_cert_state st;
    UNIT_ASSERT_OK(store_cert_status_get(s, "0a01", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_GOOD);
    CU_ASSERT_EQUAL(test_verify_count(s), 1);
    store_close(s);
}

static void
test_refuse_newer_schema(void)
{
    store *s = test_open();
    store_close(s);
    char sql[128];
    snprintf(sql, sizeof(sql),
             "INSERT INTO ztca_schema (version, name, applied_at) VALUES (%d, 'future', 0)",
             STORE_SCHEMA_VERSION + 1);
    CU_ASSERT_TRUE_FATAL(test_raw(sql));
    s = NULL;
    ztca_rc rc = store_open(&s, test_url);
    CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ztca_last_what(), "newer than this ztca"));
    store_close(s);
}

static void
test_open_errors(void)
{
    store *s = NULL;
    char err[256] = "unchanged";
    store_options o = { .connect_timeout_s = 2, .errbuf = err, .errbuf_size = sizeof(err) };
    UNIT_ASSERT_ERR(store_open_ex(&s, "sqlite:/nonexistent-dir/x/ztca.db", &o), ZTCA_ERR_STORE);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_STRING_EQUAL(err, "cannot open /nonexistent-dir/x/ztca.db");
    UNIT_ASSERT_ERR(store_open(&s, "mysql://x"), ZTCA_ERR_BAD_INPUT);
    /* Nothing listens on port 1: a clean STORE with libpq's reason. */
    UNIT_ASSERT_ERR(store_open_ex(&s, "postgresql://127.0.0.1:1/ztca", &o), ZTCA_ERR_STORE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "127.0.0.1"));
    CU_ASSERT_PTR_NULL(s);
}

/* ---- certificates ---------------------------------------------------------------------------- */

static void
test_cert_roundtrip(void)
{
    store *s = test_open();
    store_cert c, got;
    test_cert(&c, "7f00aa", "dev-1", "alice", T0 + 8LL * 3600);
    store_audit_event ev = test_ev("cert.issue", "7f00aa");
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    UNIT_ASSERT_OK(store_cert_get(s, "7f00aa", true, &got));
    CU_ASSERT_STRING_EQUAL(got.serial, "7f00aa");
    CU_ASSERT_STRING_EQUAL(got.device_id, "dev-1");
    CU_ASSERT_STRING_EQUAL(got.user, "alice");
    CU_ASSERT_STRING_EQUAL(got.profile, "agent");
    CU_ASSERT_EQUAL(got.not_before, T0 - 7200);
    CU_ASSERT_EQUAL(got.not_after, T0 + 8LL * 3600);
    CU_ASSERT_EQUAL(got.issued_at, T0);
    CU_ASSERT_EQUAL(got.status, STORE_CERT_GOOD);
    CU_ASSERT_EQUAL(got.revoked_at, 0);
    CU_ASSERT_EQUAL(got.reason, STORE_REASON_NONE);
    CU_ASSERT_EQUAL_FATAL(got.der_len, sizeof(test_der));
    CU_ASSERT_EQUAL(memcmp(got.der, test_der, sizeof(test_der)), 0);
    store_cert_free(&got);
    UNIT_ASSERT_OK(store_cert_get(s, "7f00aa", false, &got));
    CU_ASSERT_PTR_NULL(got.der);

    /* No device, no user: stored as NULL, read back as "". */
    test_cert(&c, "01", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    store_cert_state st;
    UNIT_ASSERT_OK(store_cert_status_get(s, "01", &st));
    CU_ASSERT_STRING_EQUAL(st.device_id, "");
    CU_ASSERT_STRING_EQUAL(st.user, "");
    CU_ASSERT_EQUAL(st.not_after, T0 + 60);
    CU_ASSERT_EQUAL(st.status, STORE_CERT_GOOD);
    CU_ASSERT_EQUAL(st.reason, STORE_REASON_NONE);

    UNIT_ASSERT_ERR(store_cert_status_get(s, "02", &st), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_ERR(store_cert_get(s, "02", true, &got), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(got.der);
    UNIT_ASSERT_ERR(store_cert_status_get(s, "7F00AA", &st), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(store_cert_status_get(s, "' OR 1=1 --", &st), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(test_verify_count(s), 2);
    store_close(s);
}

static void
test_cert_validation(void)
{
    store *s = test_open();
    store_audit_event ev = test_ev("cert.issue", "x");
    store_cert c;
    test_cert(&c, "abc", NULL, NULL, T0); /* odd length */
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_BAD_INPUT);
    test_cert(&c, "AB", NULL, NULL, T0); /* upper case */
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_BAD_INPUT);
    test_cert(&c, "ab", NULL, NULL, T0); /* not_after before not_before */
    c.not_before = T0 + 1;
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_BAD_INPUT);
    test_cert(&c, "ab", "dev\n1", NULL, T0);
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_BAD_INPUT);
    test_cert(&c, "ab", NULL, NULL, T0);
    c.der_len = 0;
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_BAD_INPUT);
    test_cert(&c, "ab", NULL, NULL, T0);
    c.profile[0] = '\0';
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_BAD_INPUT);
    test_cert(&c, "ab", NULL, NULL, T0);
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, NULL), ZTCA_ERR_BAD_INPUT);
    store_audit_event bad = ev;
    bad.detail = "[1]";
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &bad), ZTCA_ERR_BAD_INPUT);
    bad = ev;
    bad.actor = "";
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &bad), ZTCA_ERR_BAD_INPUT);
    bad = ev;
    bad.action = "cert\x01issue";
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &bad), ZTCA_ERR_BAD_INPUT);
    /* Text that is not UTF-8 is refused before it reaches either backend. */
    test_cert(&c, "ab", "dev-\xff", NULL, T0);
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates"), 0);
    CU_ASSERT_EQUAL(test_verify_count(s), 0);
    store_close(s);
}

static void
test_cert_conflict(void)
{
    store *s = test_open();
    test_insert(s, "0102", "dev-a", T0 + 3600);
    store_cert c;
    test_cert(&c, "0102", "dev-b", "bob", T0 + 7200);
    store_audit_event ev = test_ev("cert.issue", "0102");
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_CONFLICT);
    /* The first row is untouched and the failed issuance left no audit entry. */
    store_cert got;
    UNIT_ASSERT_OK(store_cert_get(s, "0102", false, &got));
    CU_ASSERT_STRING_EQUAL(got.device_id, "dev-a");
    CU_ASSERT_EQUAL(got.not_after, T0 + 3600);
    CU_ASSERT_EQUAL(test_verify_count(s), 1);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificate_bodies"), 1);
    /* A new serial goes through. */
    test_cert(&c, "0103", "dev-b", "bob", T0 + 7200);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    CU_ASSERT_EQUAL(test_verify_count(s), 2);
    store_close(s);
}

static void
test_cert_status(void)
{
    store *s = test_open();
    test_insert(s, "aa", "dev-a", T0 + 3600);
    store_audit_event ev = test_ev("cert.status", "aa");
    static const struct {
        store_cert_status to;
        int reason;
        ztca_err err;
        store_cert_status after;
    } steps[] = {
        { STORE_CERT_GOOD, STORE_REASON_NONE, ZTCA_ERR_CONFLICT, STORE_CERT_GOOD },
        { STORE_CERT_HOLD, STORE_REASON_KEY_COMPROMISE, ZTCA_ERR_BAD_INPUT, STORE_CERT_GOOD },
        { STORE_CERT_HOLD, STORE_REASON_NONE, ZTCA_OK, STORE_CERT_HOLD },
        { STORE_CERT_HOLD, STORE_REASON_NONE, ZTCA_ERR_CONFLICT, STORE_CERT_HOLD },
        { STORE_CERT_GOOD, STORE_REASON_NONE, ZTCA_OK, STORE_CERT_GOOD },
        { STORE_CERT_REVOKED, STORE_REASON_CERTIFICATE_HOLD, ZTCA_ERR_BAD_INPUT, STORE_CERT_GOOD },
        { STORE_CERT_REVOKED, 7, ZTCA_ERR_BAD_INPUT, STORE_CERT_GOOD },
        { STORE_CERT_REVOKED, 8, ZTCA_ERR_BAD_INPUT, STORE_CERT_GOOD },
        { STORE_CERT_REVOKED, STORE_REASON_NONE, ZTCA_ERR_BAD_INPUT, STORE_CERT_GOOD },
        { STORE_CERT_HOLD, STORE_REASON_NONE, ZTCA_OK, STORE_CERT_HOLD },
        { STORE_CERT_REVOKED, STORE_REASON_SUPERSEDED, ZTCA_OK, STORE_CERT_REVOKED },
        { STORE_CERT_GOOD, STORE_REASON_NONE, ZTCA_ERR_CONFLICT, STORE_CERT_REVOKED },
        { STORE_CERT_HOLD, STORE_REASON_NONE, ZTCA_ERR_CONFLICT, STORE_CERT_REVOKED },
        { STORE_CERT_REVOKED, STORE_REASON_KEY_COMPROMISE, ZTCA_ERR_CONFLICT, STORE_CERT_REVOKED },
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        ztca_time at = T0 + 10 * (ztca_time)(i + 1);
        CU_ASSERT_EQUAL(store_cert_set_status(s, "aa", steps[i].to, steps[i].reason, at, &ev).err,
                        steps[i].err);
        store_cert_state st;
        UNIT_ASSERT_OK(store_cert_status_get(s, "aa", &st));
        CU_ASSERT_EQUAL(st.status, steps[i].after);
    }
    store_cert_state st;
    UNIT_ASSERT_OK(store_cert_status_get(s, "aa", &st));
    CU_ASSERT_EQUAL(st.reason, STORE_REASON_SUPERSEDED);
    CU_ASSERT_EQUAL(st.revoked_at, T0 + 110);
    UNIT_ASSERT_ERR(store_cert_set_status(s, "bb", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev),
                    ZTCA_ERR_NOT_FOUND);

    /* The change log: hold, good, hold, revoked, numbered 1-4 in that order. */
    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_changes_since(s, 0, 100, test_bag_change, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 4);
    static const int want_status[] = { STORE_CERT_HOLD, STORE_CERT_GOOD, STORE_CERT_HOLD,
                                       STORE_CERT_REVOKED };
    static const int want_reason[] = { STORE_REASON_CERTIFICATE_HOLD, STORE_REASON_NONE,
                                       STORE_REASON_CERTIFICATE_HOLD, STORE_REASON_SUPERSEDED };
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(b.seq[i], (int64_t)i + 1);
        CU_ASSERT_STRING_EQUAL(b.keys[i], "aa");
        CU_ASSERT_EQUAL(b.status[i], want_status[i]);
        CU_ASSERT_EQUAL(b.reason[i], want_reason[i]);
    }
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_changes_since(s, 2, 1, test_bag_change, &b));
    CU_ASSERT_EQUAL(b.num, 1);
    CU_ASSERT_EQUAL(b.seq[0], 3);
    /* One audit entry per issuance and per accepted change, none for refusals. */
    CU_ASSERT_EQUAL(test_verify_count(s), 5);
    store_close(s);
}

static void
test_cert_lists(void)
{
    store *s = test_open();
    test_insert(s, "05", "dev-b", T0 + 100);
    test_insert(s, "01", "dev-a", T0 + 100);
    test_insert(s, "03", "dev-a", T0 - 10); /* expired */
    test_insert(s, "04", NULL, T0 + 100);
    test_insert(s, "02", "dev-a", T0 + 100);
    store_audit_event ev = test_ev("cert.revoke", "x");
    UNIT_ASSERT_OK(store_cert_set_status(s, "03", STORE_CERT_REVOKED, 1, T0, &ev));
    UNIT_ASSERT_OK(store_cert_set_status(s, "05", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    UNIT_ASSERT_OK(store_cert_set_status(s, "02", STORE_CERT_REVOKED, 4, T0, &ev));

    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_cert_list(s, "", 2, test_bag_cert, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 2);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "01");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "02");
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_cert_list(s, "02", 2, test_bag_cert, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 2);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "03");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "04");
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_cert_list(s, "04", 2, test_bag_cert, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 1);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "05");
    UNIT_ASSERT_ERR(store_cert_list(s, "", 0, test_bag_cert, &b), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(store_cert_list(s, "", 1001, test_bag_cert, &b), ZTCA_ERR_BAD_INPUT);

    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_cert_list_by_device(s, "dev-a", test_bag_cert, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 3);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "01");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "02");
    CU_ASSERT_STRING_EQUAL(b.keys[2], "03");
    CU_ASSERT_EQUAL(b.status[1], STORE_CERT_REVOKED);
    CU_ASSERT_EQUAL(b.reason[1], STORE_REASON_SUPERSEDED);
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_cert_list_by_device(s, "dev-none", test_bag_cert, &b));
    CU_ASSERT_EQUAL(b.num, 0);

    /* For a CRL at T0: revoked and held, not the expired 03. */
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_cert_list_revoked(s, T0, test_bag_cert, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 2);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "02");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "05");
    CU_ASSERT_EQUAL(b.status[1], STORE_CERT_HOLD);
    CU_ASSERT_EQUAL(b.reason[1], STORE_REASON_CERTIFICATE_HOLD);
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_cert_list_revoked(s, T0 - 100, test_bag_cert, &b));
    CU_ASSERT_EQUAL(b.num, 3);
    store_close(s);
}

static ztca_rc
test_reenter_cb(void *ctx, const store_cert *c)
{
    store *s = ctx;
    store_cert_state st;
    ztca_rc rc = store_cert_status_get(s, c->serial, &st);
    CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_INTERNAL);
    return rc;
}

static void
test_cert_batch(void)
{
    store *s = test_open();
    enum { N = 600 }; /* more than one pipeline chunk */
    store_cert *certs = calloc(N, sizeof(*certs));
    store_audit_event *evs = calloc(N, sizeof(*evs));
    char(*names)[8] = calloc(N, sizeof(*names));
    CU_ASSERT_FATAL(certs != NULL && evs != NULL && names != NULL);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "%04zx", i + 1);
        test_cert(&certs[i], names[i], "dev-bulk", NULL, T0 + (ztca_time)i);
        evs[i] = test_ev("cert.issue", names[i]);
    }
    UNIT_ASSERT_OK(store_cert_insert_batch(s, certs, evs, N));
    CU_ASSERT_EQUAL(test_verify_count(s), N);
    store_cert_state st;
    UNIT_ASSERT_OK(store_cert_status_get(s, "0258", &st));
    CU_ASSERT_EQUAL(st.not_after, T0 + 599);
    /* One duplicate anywhere: the whole batch is refused and nothing of it stays. */
    for (size_t i = 0; i < 10; i++) {
        snprintf(names[i], sizeof(names[i]), "%04zx", 0x1000 + i);
    }
    snprintf(names[7], sizeof(names[7]), "0001");
    for (size_t i = 0; i < 10; i++) {
        snprintf(certs[i].serial, sizeof(certs[i].serial), "%s", names[i]);
    }
    UNIT_ASSERT_ERR(store_cert_insert_batch(s, certs, evs, 10), ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_ERR(store_cert_status_get(s, "1000", &st), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates"), N);
    CU_ASSERT_EQUAL(test_verify_count(s), N);
    /* A callback that calls back into its handle is refused, not deadlocked. */
    UNIT_ASSERT_ERR(store_cert_list(s, "", 1, test_reenter_cb, s), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_OK(store_cert_status_get(s, "0001", &st));
    free(certs);
    free(evs);
    free(names);
    store_close(s);
}

static ztca_rc
test_keep_subject(void *ctx, const store_audit_entry *e)
{
    test_bag *b = ctx;
    if (b->num < 64) {
        snprintf(b->keys[b->num], sizeof(b->keys[b->num]), "%s", e->subject);
        b->seq[b->num++] = e->seq;
    }
    return ZTCA_RC_OK;
}

/* The bulk path (COPY on PostgreSQL, rows in serial order on both): a batch given in descending
 * order with NULL and non-ASCII columns and bodies large enough to need several COPY buffers.
 * Each row must keep its own fields and body, the audit entries the caller's order; a duplicate
 * inside the batch, after the first buffers went out, refuses the whole batch. */
static void
test_cert_batch_bulk(void)
{
    store *s = test_open();
    enum { N = 40, BODY = 60000 }; /* 40 x 60 KB: about ten 256 KiB COPY buffers */
    store_cert certs[N];
    store_audit_event evs[N];
    char names[N][8];
    uint8_t *bodies = malloc((size_t)N * BODY);
    CU_ASSERT_FATAL(bodies != NULL);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "%04zx", 0x0900 - i); /* descending */
        test_cert(&certs[i], names[i], i % 2 == 0 ? "dev-b\xc3\xa9" : NULL,
                  i % 3 == 0 ? "\xe2\x82\xac-user" : NULL, T0 + (ztca_time)i);
        certs[i].issued_at = T0 + 1000 + (ztca_time)i;
        memset(bodies + i * BODY, (int)i + 1, BODY);
        certs[i].der = bodies + i * BODY;
        certs[i].der_len = i == 5 ? 1 : BODY;
        evs[i] = test_ev("cert.import", names[i]);
    }
    UNIT_ASSERT_OK(store_cert_insert_batch(s, certs, evs, N));
    for (size_t i = 0; i < N; i++) {
        store_cert got;
        UNIT_ASSERT_OK(store_cert_get(s, names[i], true, &got));
        CU_ASSERT_STRING_EQUAL(got.device_id, i % 2 == 0 ? "dev-b\xc3\xa9" : "");
        CU_ASSERT_STRING_EQUAL(got.user, i % 3 == 0 ? "\xe2\x82\xac-user" : "");
        CU_ASSERT_STRING_EQUAL(got.profile, "agent");
        CU_ASSERT_EQUAL(got.not_before, T0 - 7200);
        CU_ASSERT_EQUAL(got.not_after, T0 + (ztca_time)i);
        CU_ASSERT_EQUAL(got.issued_at, T0 + 1000 + (ztca_time)i);
        CU_ASSERT_EQUAL(got.status, STORE_CERT_GOOD);
        CU_ASSERT_EQUAL(got.reason, STORE_REASON_NONE);
        CU_ASSERT_EQUAL(got.revoked_at, 0);
        CU_ASSERT_EQUAL_FATAL(got.der_len, i == 5 ? 1 : (size_t)BODY);
        CU_ASSERT_EQUAL(memcmp(got.der, bodies + i * BODY, got.der_len), 0);
        store_cert_free(&got);
    }
    /* NULL stays NULL (not ""): offline certificates are found by "device_id IS NULL". */
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates WHERE device_id IS NULL"),
                    N / 2);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates WHERE user_name IS NULL"),
                    N - (N + 2) / 3);
    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_audit_list(s, 0, 64, test_keep_subject, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, N);
    for (size_t i = 0; i < N; i++) {
        CU_ASSERT_STRING_EQUAL(b.keys[i], names[i]); /* the caller's order, not the serials' */
        CU_ASSERT_EQUAL(b.seq[i], (int64_t)i + 1);
    }
    CU_ASSERT_EQUAL(test_verify_count(s), N);
    /* New serials, but the last repeats the first: refused after most rows were sent. */
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "%04zx", 0x2000 + i);
        snprintf(certs[i].serial, sizeof(certs[i].serial), "%s", names[i]);
    }
    snprintf(certs[N - 1].serial, sizeof(certs[N - 1].serial), "%s", names[0]);
    UNIT_ASSERT_ERR(store_cert_insert_batch(s, certs, evs, N), ZTCA_ERR_CONFLICT);
    store_cert_state st;
    UNIT_ASSERT_ERR(store_cert_status_get(s, "2000", &st), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_ERR(store_cert_status_get(s, "2001", &st), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates"), N);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificate_bodies"), N);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM audit_log"), N);
    CU_ASSERT_EQUAL(test_verify_count(s), N);
    /* The handle is usable after the refused batch: the chain continues from N. */
    snprintf(certs[N - 1].serial, sizeof(certs[N - 1].serial), "%s", "2fff");
    UNIT_ASSERT_OK(store_cert_insert_batch(s, certs, evs, N));
    CU_ASSERT_EQUAL(test_verify_count(s), 2 * N);
    UNIT_ASSERT_OK(store_cert_status_get(s, "2fff", &st));
    free(bodies);
    store_close(s);
}

/* ---- users, devices, agents ------------------------------------------------------------------ */

static void
test_device_lifecycle(void)
{
    store *s = test_open();
    store_audit_event ev = test_ev("device.register", "dev-1");
    uint8_t ek[STORE_HASH_LEN], ak[40];
    memset(ek, 0xe1, sizeof(ek));
    memset(ak, 0xa1, sizeof(ak));
    static const uint8_t ekcert[] = { 0x30, 0x00 };
    store_device d, got;
    store_device_init(&d);
    snprintf(d.id, sizeof(d.id), "dev-1");
    d.has_ek = true;
    memcpy(d.ek_pub_hash, ek, sizeof(ek));
    d.ek_cert = (uint8_t *)(uintptr_t)ekcert;
    d.ek_cert_len = sizeof(ekcert);
    d.ak_pub = ak;
    d.ak_pub_len = sizeof(ak);
    d.facts = "{\"os\":\"debian\"}";
    d.created_at = T0;
    UNIT_ASSERT_OK(store_device_insert(s, &d, &ev));
    UNIT_ASSERT_ERR(store_device_insert(s, &d, &ev), ZTCA_ERR_CONFLICT); /* same id */
    snprintf(d.id, sizeof(d.id), "dev-2");
    UNIT_ASSERT_ERR(store_device_insert(s, &d, &ev), ZTCA_ERR_CONFLICT); /* same EK */
    d.facts = "{\"os\":";
    UNIT_ASSERT_ERR(store_device_insert(s, &d, &ev), ZTCA_ERR_BAD_INPUT);
    /* A device without a TPM: no EK, no AK, default facts. */
    store_device_init(&d);
    snprintf(d.id, sizeof(d.id), "dev-2");
    d.created_at = T0;
    UNIT_ASSERT_OK(store_device_insert(s, &d, &ev));

    UNIT_ASSERT_OK(store_device_get(s, "dev-1", &got));
    CU_ASSERT_STRING_EQUAL(got.id, "dev-1");
    CU_ASSERT_TRUE(got.has_ek);
    CU_ASSERT_EQUAL(memcmp(got.ek_pub_hash, ek, sizeof(ek)), 0);
    CU_ASSERT_EQUAL_FATAL(got.ek_cert_len, sizeof(ekcert));
    CU_ASSERT_EQUAL(memcmp(got.ek_cert, ekcert, sizeof(ekcert)), 0);
    CU_ASSERT_EQUAL_FATAL(got.ak_pub_len, sizeof(ak));
    CU_ASSERT_EQUAL(memcmp(got.ak_pub, ak, sizeof(ak)), 0);
    CU_ASSERT_STRING_EQUAL(got.facts, "{\"os\":\"debian\"}");
    CU_ASSERT_EQUAL(got.status, STORE_ACTIVE);
    CU_ASSERT_EQUAL(got.created_at, T0);
    CU_ASSERT_EQUAL(got.updated_at, T0);
    store_device_free(&got);
    UNIT_ASSERT_OK(store_device_find_by_ek(s, ek, &got));
    CU_ASSERT_STRING_EQUAL(got.id, "dev-1");
    store_device_free(&got);
    ek[0] ^= 1;
    UNIT_ASSERT_ERR(store_device_find_by_ek(s, ek, &got), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_OK(store_device_get(s, "dev-2", &got));
    CU_ASSERT_FALSE(got.has_ek);
    CU_ASSERT_PTR_NULL(got.ek_cert);
    CU_ASSERT_PTR_NULL(got.ak_pub);
    CU_ASSERT_STRING_EQUAL(got.facts, "{}");
    store_device_free(&got);
    UNIT_ASSERT_ERR(store_device_get(s, "dev-3", &got), ZTCA_ERR_NOT_FOUND);

    /* Fresh evidence: new AK and facts; NULL AK keeps the old one. */
    uint8_t ak2[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    UNIT_ASSERT_OK(
        store_device_update_evidence(s, "dev-1", ak2, sizeof(ak2), "{\"pcr\":1}", T0 + 5, &ev));
    UNIT_ASSERT_OK(store_device_update_evidence(s, "dev-1", NULL, 0, "{\"pcr\":2}", T0 + 6, &ev));
    UNIT_ASSERT_OK(store_device_get(s, "dev-1", &got));
    CU_ASSERT_EQUAL_FATAL(got.ak_pub_len, sizeof(ak2));
    CU_ASSERT_EQUAL(memcmp(got.ak_pub, ak2, sizeof(ak2)), 0);
    CU_ASSERT_STRING_EQUAL(got.facts, "{\"pcr\":2}");
    CU_ASSERT_EQUAL(got.updated_at, T0 + 6);
    store_device_free(&got);
    UNIT_ASSERT_ERR(store_device_update_evidence(s, "dev-9", NULL, 0, "{}", T0, &ev),
                    ZTCA_ERR_NOT_FOUND);

    /* Revoking the device revokes its live certificates (keyCompromise), not the expired or
     * already revoked ones, and not other devices'. */
    test_insert(s, "d101", "dev-1", T0 + 3600);
    test_insert(s, "d102", "dev-1", T0 + 3600);
    test_insert(s, "d103", "dev-1", T0 - 1);
    test_insert(s, "d104", "dev-1", T0 + 3600);
    test_insert(s, "d201", "dev-2", T0 + 3600);
    UNIT_ASSERT_OK(store_cert_set_status(s, "d102", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    UNIT_ASSERT_OK(store_cert_set_status(s, "d104", STORE_CERT_REVOKED, 4, T0, &ev));
    size_t n = 99;
    UNIT_ASSERT_OK(store_device_set_status(s, "dev-1", STORE_DISABLED, STORE_REASON_KEY_COMPROMISE,
                                           T0 + 7, &ev, &n));
    CU_ASSERT_EQUAL(n, 2);
    static const struct {
        const char *serial;
        store_cert_status status;
        int reason;
    } want[] = {
        { "d101", STORE_CERT_REVOKED, STORE_REASON_KEY_COMPROMISE },
        { "d102", STORE_CERT_REVOKED, STORE_REASON_KEY_COMPROMISE },
        { "d103", STORE_CERT_GOOD, STORE_REASON_NONE },
        { "d104", STORE_CERT_REVOKED, STORE_REASON_SUPERSEDED },
        { "d201", STORE_CERT_GOOD, STORE_REASON_NONE },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        store_cert_state st;
        UNIT_ASSERT_OK(store_cert_status_get(s, want[i].serial, &st));
        CU_ASSERT_EQUAL(st.status, want[i].status);
        CU_ASSERT_EQUAL(st.reason, want[i].reason);
    }
    UNIT_ASSERT_ERR(store_device_set_status(s, "dev-1", STORE_DISABLED, 1, T0, &ev, &n),
                    ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_ERR(store_device_set_status(s, "dev-1", STORE_ACTIVE, 1, T0, &ev, &n),
                    ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_OK(
        store_device_set_status(s, "dev-1", STORE_ACTIVE, STORE_REASON_NONE, T0 + 8, &ev, NULL));
    UNIT_ASSERT_ERR(store_device_set_status(s, "dev-9", STORE_DISABLED, 1, T0, &ev, &n),
                    ZTCA_ERR_NOT_FOUND);
    /* Changes: hold d102, revoke d104, then d101, d102, the device, then the device again. */
    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_changes_since(s, 2, 100, test_bag_change, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 4);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "d101");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "d102");
    CU_ASSERT_STRING_EQUAL(b.keys[2], "dev-1");
    CU_ASSERT_EQUAL(b.status[2], STORE_DISABLED);
    CU_ASSERT_EQUAL(b.reason[2], STORE_REASON_KEY_COMPROMISE);
    CU_ASSERT_STRING_EQUAL(b.keys[3], "dev-1");
    CU_ASSERT_EQUAL(b.status[3], STORE_ACTIVE);

    store_close(s);
}

static ztca_rc
test_count_device(void *ctx, const store_device *d)
{
    test_bag *b = ctx;
    if (b->num < 64) {
        snprintf(b->keys[b->num++], sizeof(b->keys[0]), "%s", d->id);
    }
    return ZTCA_RC_OK;
}

static ztca_rc
test_count_agent(void *ctx, const store_agent *a)
{
    test_bag *b = ctx;
    if (b->num < 64) {
        snprintf(b->keys[b->num++], sizeof(b->keys[0]), "%s", a->user);
    }
    return ZTCA_RC_OK;
}

static void
test_users_agents(void)
{
    store *s = test_open();
    store_audit_event ev = test_ev("user.create", "alice");
    UNIT_ASSERT_OK(store_user_put(s, "alice", &ev));
    UNIT_ASSERT_OK(store_user_put(s, "alice", &ev)); /* no change, no audit entry */
    UNIT_ASSERT_OK(store_user_put(s, "bob", NULL));
    CU_ASSERT_EQUAL(test_verify_count(s), 1);
    store_user u;
    UNIT_ASSERT_OK(store_user_get(s, "alice", &u));
    CU_ASSERT_STRING_EQUAL(u.name, "alice");
    CU_ASSERT_EQUAL(u.status, STORE_ACTIVE);
    UNIT_ASSERT_OK(store_user_set_status(s, "alice", STORE_DISABLED, &ev));
    UNIT_ASSERT_ERR(store_user_set_status(s, "alice", STORE_DISABLED, &ev), ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_OK(store_user_get(s, "alice", &u));
    CU_ASSERT_EQUAL(u.status, STORE_DISABLED);
    UNIT_ASSERT_ERR(store_user_get(s, "carol", &u), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_ERR(store_user_set_status(s, "carol", STORE_DISABLED, &ev), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_ERR(store_user_put(s, "", NULL), ZTCA_ERR_BAD_INPUT);

    for (int i = 0; i < 3; i++) {
        store_device d;
        store_device_init(&d);
        snprintf(d.id, sizeof(d.id), "dev-%d", 3 - i);
        UNIT_ASSERT_OK(store_device_insert(s, &d, &ev));
    }
    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_device_list(s, "", 2, test_count_device, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 2);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "dev-1");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "dev-2");
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_device_list(s, "dev-2", 2, test_count_device, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 1);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "dev-3");

    /* Agents need both ends. */
    UNIT_ASSERT_ERR(store_agent_put(s, "dev-9", "alice", T0, NULL), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_ERR(store_agent_put(s, "dev-1", "carol", T0, NULL), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_OK(store_agent_put(s, "dev-1", "bob", T0, &ev));
    UNIT_ASSERT_OK(store_agent_put(s, "dev-1", "alice", T0 + 1, NULL));
    UNIT_ASSERT_OK(store_agent_put(s, "dev-1", "bob", T0 + 50, NULL));
    store_agent a;
    UNIT_ASSERT_OK(store_agent_get(s, "dev-1", "bob", &a));
    CU_ASSERT_STRING_EQUAL(a.device_id, "dev-1");
    CU_ASSERT_STRING_EQUAL(a.user, "bob");
    CU_ASSERT_EQUAL(a.created_at, T0);
    CU_ASSERT_EQUAL(a.last_seen, T0 + 50);
    CU_ASSERT_EQUAL(a.status, STORE_ACTIVE);
    UNIT_ASSERT_ERR(store_agent_get(s, "dev-2", "bob", &a), ZTCA_ERR_NOT_FOUND);
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_agent_list_by_device(s, "dev-1", test_count_agent, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 2);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "alice");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "bob");
    store_close(s);
}

/* ---- tokens, sessions, signals --------------------------------------------------------------- */

static void
test_token(store_token *t, uint8_t fill, const char *user, ztca_time expires)
{
    memset(t, 0, sizeof(*t));
    memset(t->hash, fill, sizeof(t->hash));
    snprintf(t->user, sizeof(t->user), "%s", user);
    snprintf(t->profile, sizeof(t->profile), "agent");
    snprintf(t->created_by, sizeof(t->created_by), "admin:root");
    t->created_at = T0;
    t->expires_at = expires;
}

static void
test_tokens(void)
{
    store *s = test_open();
    store_audit_event ev = test_ev("token.create", "alice");
    store_token t, got;
    test_token(&t, 0x11, "alice", T0 + 600);
    UNIT_ASSERT_OK(store_token_insert(s, &t, &ev));
    UNIT_ASSERT_ERR(store_token_insert(s, &t, NULL), ZTCA_ERR_CONFLICT);
    test_token(&t, 0x22, "", T0 + 600); /* device-only token */
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    test_token(&t, 0x33, "bob", T0 + 10);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));

    uint8_t h[STORE_HASH_LEN];
    memset(h, 0x11, sizeof(h));
    UNIT_ASSERT_OK(store_token_consume(s, h, T0 + 5, &got));
    CU_ASSERT_STRING_EQUAL(got.user, "alice");
    CU_ASSERT_STRING_EQUAL(got.profile, "agent");
    CU_ASSERT_STRING_EQUAL(got.created_by, "admin:root");
    CU_ASSERT_EQUAL(got.created_at, T0);
    CU_ASSERT_EQUAL(got.expires_at, T0 + 600);
    CU_ASSERT_EQUAL(got.used_at, T0 + 5);
    CU_ASSERT_EQUAL(memcmp(got.hash, h, sizeof(h)), 0);
    UNIT_ASSERT_ERR(store_token_consume(s, h, T0 + 6, &got), ZTCA_ERR_DENIED);
    CU_ASSERT_PTR_NOT_NULL(strstr(ztca_last_what(), "already used"));
    memset(h, 0x22, sizeof(h));
    UNIT_ASSERT_OK(store_token_consume(s, h, T0 + 5, &got));
    CU_ASSERT_STRING_EQUAL(got.user, "");
    memset(h, 0x33, sizeof(h));
    UNIT_ASSERT_ERR(store_token_consume(s, h, T0 + 10, &got), ZTCA_ERR_DENIED); /* expired */
    CU_ASSERT_PTR_NOT_NULL(strstr(ztca_last_what(), "expired"));
    memset(h, 0x44, sizeof(h));
    UNIT_ASSERT_ERR(store_token_consume(s, h, T0, &got), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM tokens WHERE used_at IS NOT NULL"), 2);
    CU_ASSERT_EQUAL(test_verify_count(s), 1);
    store_close(s);
}

typedef struct test_race {
    pthread_barrier_t *barrier;
    ztca_err err;
} test_race;

static void *
test_race_thread(void *arg)
{
    test_race *r = arg;
    store *s = NULL;
    store_token got;
    uint8_t h[STORE_HASH_LEN];
    memset(h, 0x55, sizeof(h));
    r->err = store_open(&s, test_url).err;
    pthread_barrier_wait(r->barrier);
    if (r->err == ZTCA_OK) {
        r->err = store_token_consume(s, h, T0 + 1, &got).err;
    }
    store_close(s);
    return NULL;
}

static void
test_token_race(void)
{
    enum { N = 4 };
    store *s = test_open();
    store_token t;
    test_token(&t, 0x55, "alice", T0 + 600);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    pthread_t th[N];
    test_race r[N];
    for (int i = 0; i < N; i++) {
        r[i].barrier = &barrier;
        r[i].err = ZTCA_ERR_INTERNAL;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_race_thread, &r[i]), 0);
    }
    int ok = 0, denied = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].err == ZTCA_OK;
        denied += r[i].err == ZTCA_ERR_DENIED;
    }
    pthread_barrier_destroy(&barrier);
    CU_ASSERT_EQUAL(ok, 1);
    CU_ASSERT_EQUAL(denied, N - 1);
    store_close(s);
}

static void
test_sessions(void)
{
    store *s = test_open();
    store_token t;
    test_token(&t, 0x66, "alice", T0 + 600);
    store_session ses, got;
    store_session_init(&ses);
    snprintf(ses.id, sizeof(ses.id), "ses-1");
    memset(ses.token_hash, 0x66, STORE_HASH_LEN);
    memset(ses.nonce, 0x0a, 32);
    ses.nonce_len = 32;
    memset(ses.secret_hash, 0x5e, STORE_HASH_LEN);
    uint8_t data[300];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)i;
    }
    ses.data = data;
    ses.data_len = sizeof(data);
    ses.created_at = T0;
    ses.expires_at = T0 + 300;
    UNIT_ASSERT_ERR(store_session_insert(s, &ses), ZTCA_ERR_NOT_FOUND); /* no such token */
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    UNIT_ASSERT_OK(store_session_insert(s, &ses));
    UNIT_ASSERT_ERR(store_session_insert(s, &ses), ZTCA_ERR_CONFLICT);
    snprintf(ses.id, sizeof(ses.id), "ses-2");
    ses.data = NULL;
    ses.data_len = 0;
    ses.expires_at = T0 + 1;
    UNIT_ASSERT_OK(store_session_insert(s, &ses));

    UNIT_ASSERT_OK(store_session_consume(s, "ses-1", T0 + 100, &got));
    CU_ASSERT_STRING_EQUAL(got.id, "ses-1");
    CU_ASSERT_EQUAL(got.nonce_len, 32);
    CU_ASSERT_EQUAL(got.nonce[31], 0x0a);
    CU_ASSERT_EQUAL(got.token_hash[0], 0x66);
    CU_ASSERT_EQUAL(got.secret_hash[31], 0x5e);
    CU_ASSERT_EQUAL_FATAL(got.data_len, sizeof(data));
    CU_ASSERT_EQUAL(memcmp(got.data, data, sizeof(data)), 0);
    CU_ASSERT_EQUAL(got.created_at, T0);
    CU_ASSERT_EQUAL(got.expires_at, T0 + 300);
    CU_ASSERT_EQUAL(got.used_at, T0 + 100);
    store_session_free(&got);
    UNIT_ASSERT_ERR(store_session_consume(s, "ses-1", T0 + 101, &got), ZTCA_ERR_DENIED);
    UNIT_ASSERT_ERR(store_session_consume(s, "ses-2", T0 + 1, &got), ZTCA_ERR_DENIED);
    UNIT_ASSERT_ERR(store_session_consume(s, "ses-3", T0, &got), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(got.data);
    ses.nonce_len = 0;
    UNIT_ASSERT_ERR(store_session_insert(s, &ses), ZTCA_ERR_BAD_INPUT);
    store_close(s);
}

static ztca_rc
test_bag_signal(void *ctx, const store_signal *sig)
{
    test_bag *b = ctx;
    if (b->num < 64) {
        snprintf(b->keys[b->num], sizeof(b->keys[0]), "%s/%s/%s", sig->source, sig->kind,
                 sig->detail);
        b->status[b->num] = sig->impact;
        b->seq[b->num] = sig->expires_at;
        b->num++;
    }
    return ZTCA_RC_OK;
}

static void
test_signals(void)
{
    store *s = test_open();
    store_audit_event ev = test_ev("signal.add", "dev-1");
    store_signal sig;
    store_signal_init(&sig);
    snprintf(sig.device_id, sizeof(sig.device_id), "dev-1");
    snprintf(sig.source, sizeof(sig.source), "edr");
    snprintf(sig.kind, sizeof(sig.kind), "malware");
    sig.impact = -40;
    sig.created_at = T0;
    int64_t id1 = 0, id2 = 0, id3 = 0;
    UNIT_ASSERT_ERR(store_signal_insert(s, &sig, &ev, &id1), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(test_verify_count(s), 0);
    store_device d;
    store_device_init(&d);
    snprintf(d.id, sizeof(d.id), "dev-1");
    UNIT_ASSERT_OK(store_device_insert(s, &d, &ev));
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, &ev, &id1));
    sig.impact = 10;
    snprintf(sig.kind, sizeof(sig.kind), "patched");
    sig.detail = "{\"kb\":5}";
    sig.expires_at = T0 + 100;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, &id2));
    snprintf(sig.kind, sizeof(sig.kind), "usb");
    sig.expires_at = T0 + 10;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, &id3));
    CU_ASSERT_TRUE(id1 < id2 && id2 < id3);
    snprintf(sig.kind, sizeof(sig.kind), "patched");
    sig.expires_at = T0 + 100;
    sig.impact = 101;
    UNIT_ASSERT_ERR(store_signal_insert(s, &sig, NULL, &id3), ZTCA_ERR_BAD_INPUT);
    sig.impact = 0;
    sig.detail = "{";
    UNIT_ASSERT_ERR(store_signal_insert(s, &sig, NULL, &id3), ZTCA_ERR_BAD_INPUT);

    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_signal_list_by_device(s, "dev-1", T0 + 50, test_bag_signal, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 2);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "edr/malware/{}");
    CU_ASSERT_EQUAL(b.status[0], -40);
    CU_ASSERT_EQUAL(b.seq[0], 0);
    CU_ASSERT_STRING_EQUAL(b.keys[1], "edr/patched/{\"kb\":5}");
    CU_ASSERT_EQUAL(b.status[1], 10);
    CU_ASSERT_EQUAL(b.seq[1], T0 + 100);
    CU_ASSERT_EQUAL(test_verify_count(s), 2);

    /* The latest of a target, source and kind replaces the earlier one (docs/trust.md). */
    sig.detail = NULL;
    sig.expires_at = 0;
    sig.impact = -7;
    int64_t id4 = 0;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, &id4));
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_signal_list_by_device(s, "dev-1", T0 + 5, test_bag_signal, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 3);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "edr/malware/{}");
    CU_ASSERT_STRING_EQUAL(b.keys[1], "edr/usb/{\"kb\":5}");
    CU_ASSERT_STRING_EQUAL(b.keys[2], "edr/patched/{}");
    CU_ASSERT_EQUAL(b.status[2], -7);

    /* Agents and users: an agent's score counts the device's, its own and its user's signals;
     * another agent's stay out, and so does everything for the device's own score. */
    UNIT_ASSERT_OK(store_user_put(s, "alice", NULL));
    UNIT_ASSERT_OK(store_user_put(s, "bob", NULL));
    snprintf(sig.user, sizeof(sig.user), "alice");
    snprintf(sig.kind, sizeof(sig.kind), "agent-only");
    sig.impact = -1;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, NULL));
    snprintf(sig.user, sizeof(sig.user), "bob");
    sig.impact = -2;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, NULL));
    sig.device_id[0] = '\0';
    snprintf(sig.user, sizeof(sig.user), "alice");
    snprintf(sig.kind, sizeof(sig.kind), "user-wide");
    sig.impact = -3;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, &ev, NULL));
    sig.impact = -4; /* replaces the user-wide one */
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, NULL));
    sig.user[0] = '\0';
    UNIT_ASSERT_ERR(store_signal_insert(s, &sig, NULL, NULL), ZTCA_ERR_BAD_INPUT);
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_signal_list_for_subject(s, "dev-1", "alice", T0 + 5, test_bag_signal, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 5);
    CU_ASSERT_STRING_EQUAL(b.keys[3], "edr/agent-only/{}");
    CU_ASSERT_EQUAL(b.status[3], -1);
    CU_ASSERT_STRING_EQUAL(b.keys[4], "edr/user-wide/{}");
    CU_ASSERT_EQUAL(b.status[4], -4);
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_signal_list_for_subject(s, "dev-1", "", T0 + 5, test_bag_signal, &b));
    CU_ASSERT_EQUAL(b.num, 3);
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_signal_list_for_subject(s, "dev-1", "bob", T0 + 5, test_bag_signal, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 4);
    CU_ASSERT_EQUAL(b.status[3], -2);
    store_close(s);
}

/* ---- audit chain ----------------------------------------------------------------------------- */

/* The documented layout, computed here independently of store_audit.c. */
static void
test_expected_hash(uint8_t out[32], int64_t seq, int64_t at, const char *actor, const char *action,
                   const char *subject, const char *detail, const uint8_t prev[32])
{
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    CU_ASSERT_EQUAL(mbedtls_sha256_starts_ret(&ctx, 0), 0);
    CU_ASSERT_EQUAL(mbedtls_sha256_update_ret(&ctx, (const uint8_t *)"ztca-audit-v1", 13), 0);
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
    }
    CU_ASSERT_EQUAL(mbedtls_sha256_update_ret(&ctx, b, 8), 0);
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)((uint64_t)at >> (56 - 8 * i));
    }
    CU_ASSERT_EQUAL(mbedtls_sha256_update_ret(&ctx, b, 8), 0);
    const char *fields[4] = { actor, action, subject, detail };
    for (int f = 0; f < 4; f++) {
        uint32_t len = (uint32_t)strlen(fields[f]);
        uint8_t l[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len };
        CU_ASSERT_EQUAL(mbedtls_sha256_update_ret(&ctx, l, 4), 0);
        CU_ASSERT_EQUAL(mbedtls_sha256_update_ret(&ctx, (const uint8_t *)fields[f], len), 0);
    }
    CU_ASSERT_EQUAL(mbedtls_sha256_update_ret(&ctx, prev, 32), 0);
    CU_ASSERT_EQUAL(mbedtls_sha256_finish_ret(&ctx, out), 0);
    mbedtls_sha256_free(&ctx);
}

typedef struct test_entries {
    store_audit_entry e[8];
    size_t num;
} test_entries;

static ztca_rc
test_keep_entry(void *ctx, const store_audit_entry *e)
{
    test_entries *t = ctx;
    if (t->num < 8) {
        store_audit_entry *d = &t->e[t->num++];
        *d = *e;
        d->detail = strdup(e->detail);
    }
    return ZTCA_RC_OK;
}

/* Five entries, the same bytes every time: hashes are reproducible. */
static store *
test_chain5(void)
{
    store *s = test_open();
    for (int i = 1; i <= 5; i++) {
        char subject[16], detail[32];
        snprintf(subject, sizeof(subject), "s%d", i);
        snprintf(detail, sizeof(detail), "{\"n\":%d}", i);
        store_audit_event ev = { "admin:root", i % 2 ? "cert.revoke" : "token.create", subject,
                                 detail, T0 + i };
        int64_t seq = 0;
        UNIT_ASSERT_OK(store_audit_append(s, &ev, &seq));
        CU_ASSERT_EQUAL(seq, i);
    }
    return s;
}

static void
test_audit_chain(void)
{
    store *s = test_chain5();
    test_entries t;
    memset(&t, 0, sizeof(t));
    UNIT_ASSERT_OK(store_audit_list(s, 0, 10, test_keep_entry, &t));
    CU_ASSERT_EQUAL_FATAL(t.num, 5);
    uint8_t prev[32] = { 0 };
    for (size_t i = 0; i < 5; i++) {
        store_audit_entry *e = &t.e[i];
        char subject[16], detail[32];
        snprintf(subject, sizeof(subject), "s%zu", i + 1);
        snprintf(detail, sizeof(detail), "{\"n\":%zu}", i + 1);
        CU_ASSERT_EQUAL(e->seq, (int64_t)i + 1);
        CU_ASSERT_EQUAL(e->at, T0 + (ztca_time)i + 1);
        CU_ASSERT_STRING_EQUAL(e->actor, "admin:root");
        CU_ASSERT_STRING_EQUAL(e->subject, subject);
        CU_ASSERT_STRING_EQUAL(e->detail, detail);
        CU_ASSERT_EQUAL(memcmp(e->prev_hash, prev, 32), 0);
        uint8_t want[32];
        test_expected_hash(want, e->seq, e->at, e->actor, e->action, e->subject, e->detail, prev);
        CU_ASSERT_EQUAL(memcmp(e->hash, want, 32), 0);
        memcpy(prev, e->hash, 32);
        free(e->detail);
    }
    int64_t head_seq = 0;
    uint8_t head[32];
    UNIT_ASSERT_OK(store_audit_head(s, &head_seq, head));
    CU_ASSERT_EQUAL(head_seq, 5);
    CU_ASSERT_EQUAL(memcmp(head, prev, 32), 0);
    store_audit_report rep;
    UNIT_ASSERT_OK(store_audit_verify(s, &rep));
    CU_ASSERT_TRUE(rep.intact);
    CU_ASSERT_EQUAL(rep.count, 5);
    CU_ASSERT_EQUAL(memcmp(rep.head, prev, 32), 0);
    memset(&t, 0, sizeof(t));
    UNIT_ASSERT_OK(store_audit_list(s, 3, 1, test_keep_entry, &t));
    CU_ASSERT_EQUAL_FATAL(t.num, 1);
    CU_ASSERT_EQUAL(t.e[0].seq, 4);
    free(t.e[0].detail);

    /* The database itself refuses changes to the log. */
    CU_ASSERT_FALSE(test_raw("UPDATE audit_log SET actor = 'x' WHERE seq = 2"));
    CU_ASSERT_FALSE(test_raw("DELETE FROM audit_log WHERE seq = 5"));
    CU_ASSERT_EQUAL(test_verify_count(s), 5);
    /* An empty chain verifies with count 0. */
    store *e = test_open();
    CU_ASSERT_EQUAL(test_verify_count(e), 0);
    store_close(e);
    store_close(s);
}

static bool
test_disable_audit_triggers(void)
{
    return test_raw(test_backend == STORE_BACKEND_SQLITE
                        ? "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete"
                        : "ALTER TABLE audit_log DISABLE TRIGGER USER");
}

static void
test_audit_tamper(void)
{
    /* An attacker with write access to the database, triggers dropped. Each change to any row
     * must make verify fail and name exactly that row. */
    static const struct {
        const char *sql; /* followed by " WHERE seq = <row>" */
        const char *reason;
    } cases[] = {
        { "UPDATE audit_log SET actor = 'admin:evil'", "content" },
        { "UPDATE audit_log SET action = 'cert.issue'", "content" },
        { "UPDATE audit_log SET subject = 'other'", "content" },
        { "UPDATE audit_log SET detail = '{\"n\":0}'", "content" },
        { "UPDATE audit_log SET at = at + 1", "content" },
        { "UPDATE audit_log SET hash = prev_hash", "content" },
        { "UPDATE audit_log SET prev_hash = hash", "content" },
        { "DELETE FROM audit_log", "missing" },
    };
    store *s = test_chain5();
    CU_ASSERT_TRUE_FATAL(test_disable_audit_triggers());
    /* The original rows, put back after each case. */
    CU_ASSERT_TRUE_FATAL(test_raw("CREATE TABLE keep AS SELECT * FROM audit_log"));
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int row = 1; row <= 5; row++) {
            char sql[160];
            snprintf(sql, sizeof(sql), "%s WHERE seq = %d", cases[c].sql, row);
            CU_ASSERT_TRUE_FATAL(test_raw(sql));
            store_audit_report rep;
            UNIT_ASSERT_OK(store_audit_verify(s, &rep));
            CU_ASSERT_FALSE(rep.intact);
            CU_ASSERT_EQUAL(rep.broken_seq, row);
            CU_ASSERT_PTR_NOT_NULL(strstr(rep.reason, cases[c].reason));
            if (rep.broken_seq != row) {
                fprintf(stderr, "  case %zu row %d: broken %lld (%s)\n", c, row,
                        (long long)rep.broken_seq, rep.reason);
            }
            CU_ASSERT_TRUE_FATAL(
                test_raw("DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM keep"));
            CU_ASSERT_EQUAL(test_verify_count(s), 5);
        }
    }
    store_close(s);
    /* A consistent rewrite of entry 3 (content and its own hash) still breaks the link that
     * entry 4 holds: entry 3 is named. The hash is computed as the store would. */
    s = test_chain5();
    CU_ASSERT_TRUE_FATAL(test_disable_audit_triggers());
    test_entries t;
    memset(&t, 0, sizeof(t));
    UNIT_ASSERT_OK(store_audit_list(s, 2, 1, test_keep_entry, &t));
    CU_ASSERT_EQUAL_FATAL(t.num, 1);
    uint8_t h[32];
    UNIT_ASSERT_OK(store_audit_hash(h, 3, t.e[0].at, "admin:evil", t.e[0].action, t.e[0].subject,
                                    t.e[0].detail, t.e[0].detail_len, t.e[0].prev_hash));
    free(t.e[0].detail);
    char hex[65], sql[256];
    UNIT_ASSERT_OK(ztca_hex_encode(hex, sizeof(hex), h, 32));
    snprintf(sql, sizeof(sql),
             test_backend == STORE_BACKEND_SQLITE
                 ? "UPDATE audit_log SET actor = 'admin:evil', hash = X'%s' WHERE seq = 3"
                 : "UPDATE audit_log SET actor = 'admin:evil', hash = '\\x%s'::bytea WHERE seq = 3",
             hex);
    CU_ASSERT_TRUE_FATAL(test_raw(sql));
    store_audit_report rep;
    UNIT_ASSERT_OK(store_audit_verify(s, &rep));
    CU_ASSERT_FALSE(rep.intact);
    CU_ASSERT_EQUAL(rep.broken_seq, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep.reason, "next entry commits to"));
    store_close(s);
    /* Dropping the newest entry: the chain head still records it. */
    s = test_chain5();
    CU_ASSERT_TRUE_FATAL(test_disable_audit_triggers());
    CU_ASSERT_TRUE_FATAL(test_raw("DELETE FROM audit_log WHERE seq >= 4"));
    UNIT_ASSERT_OK(store_audit_verify(s, &rep));
    CU_ASSERT_FALSE(rep.intact);
    CU_ASSERT_EQUAL(rep.broken_seq, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep.reason, "chain head"));
    store_close(s);
}

/* ---- change feed ----------------------------------------------------------------------------- */

/* test_poll_until: polls until `want` changes arrived or 10 s passed. */
static void
test_poll_until(store_sub *sub, test_bag *b, size_t want)
{
    for (int i = 0; i < 100 && b->num < want; i++) {
        size_t n = 0;
        UNIT_ASSERT_OK(store_sub_poll(sub, 100, test_bag_change, b, &n));
    }
    CU_ASSERT_EQUAL(b->num, want);
}

static void
test_change_feed(void)
{
    store *a = test_open();
    store *other = NULL;
    UNIT_ASSERT_OK(store_open(&other, test_url)); /* a second node / connection */
    test_insert(a, "c1", "dev-a", T0 + 3600);
    test_insert(a, "c2", "dev-a", T0 + 3600);
    store_audit_event ev = test_ev("cert.hold", "c1");
    UNIT_ASSERT_OK(store_cert_set_status(a, "c1", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));

    store_sub *sub = NULL;
    UNIT_ASSERT_OK(store_sub_open(&sub, a, STORE_SUB_FROM_NOW));
    CU_ASSERT_EQUAL(store_sub_cursor(sub), 1);
    test_bag b;
    memset(&b, 0, sizeof(b));
    size_t n = 99;
    UNIT_ASSERT_OK(store_sub_poll(sub, 0, test_bag_change, &b, &n));
    CU_ASSERT_EQUAL(n, 0);

    /* Through the same handle: delivered at once. */
    UNIT_ASSERT_OK(store_cert_set_status(a, "c1", STORE_CERT_GOOD, STORE_REASON_NONE, T0, &ev));
    UNIT_ASSERT_OK(store_sub_poll(sub, 2000, test_bag_change, &b, &n));
    CU_ASSERT_EQUAL_FATAL(b.num, 1);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "c1");
    CU_ASSERT_EQUAL(b.status[0], STORE_CERT_GOOD);
    CU_ASSERT_EQUAL(b.seq[0], 2);

    /* From the other connection (PostgreSQL: NOTIFY; SQLite: the log read on its timer), in
     * commit order. */
    UNIT_ASSERT_OK(store_cert_set_status(other, "c2", STORE_CERT_REVOKED,
                                         STORE_REASON_AFFILIATION_CHANGED, T0, &ev));
    UNIT_ASSERT_OK(store_cert_set_status(other, "c1", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    test_poll_until(sub, &b, 3);
    CU_ASSERT_STRING_EQUAL(b.keys[1], "c2");
    CU_ASSERT_EQUAL(b.status[1], STORE_CERT_REVOKED);
    CU_ASSERT_EQUAL(b.reason[1], STORE_REASON_AFFILIATION_CHANGED);
    CU_ASSERT_STRING_EQUAL(b.keys[2], "c1");
    CU_ASSERT_EQUAL(b.seq[2], 4);
    CU_ASSERT_EQUAL(store_sub_cursor(sub), 4);

    /* A subscriber that starts from 0 replays the whole log. */
    store_sub *replay = NULL;
    UNIT_ASSERT_OK(store_sub_open(&replay, other, 0));
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_sub_poll(replay, 1000, test_bag_change, &b, &n));
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_EQUAL(b.seq[3], 4);
    store_sub_close(replay);
    UNIT_ASSERT_ERR(store_sub_open(&replay, other, -2), ZTCA_ERR_BAD_INPUT);

    /* A timeout without changes: OK and nothing. */
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_sub_poll(sub, 150, test_bag_change, &b, &n));
    CU_ASSERT_EQUAL(n, 0);
    store_sub_close(sub);
    store_close(other);
    store_close(a);
}

/* ---- transactions, concurrency, retention ---------------------------------------------------- */

static void
test_txn(void)
{
    store *s = test_open();
    store_cert c;
    store_audit_event ev = test_ev("cert.issue", "t");
    store_cert_state st;
    UNIT_ASSERT_OK(store_txn_begin(s));
    UNIT_ASSERT_ERR(store_txn_begin(s), ZTCA_ERR_INTERNAL);
    test_cert(&c, "e1", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    test_cert(&c, "e2", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    UNIT_ASSERT_OK(store_cert_status_get(s, "e1", &st)); /* reads see the transaction */
    store_txn_rollback(s);
    UNIT_ASSERT_ERR(store_cert_status_get(s, "e1", &st), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(test_verify_count(s), 0);

    /* A failed call inside a transaction undoes only itself. */
    UNIT_ASSERT_OK(store_txn_begin(s));
    test_cert(&c, "e1", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_ERR(store_cert_set_status(s, "e9", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev),
                    ZTCA_ERR_NOT_FOUND);
    test_cert(&c, "e3", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    UNIT_ASSERT_OK(store_cert_set_status(s, "e3", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    UNIT_ASSERT_OK(store_txn_commit(s));
    UNIT_ASSERT_ERR(store_txn_commit(s), ZTCA_ERR_INTERNAL);
    store_txn_rollback(s); /* nothing to roll back: harmless */
    UNIT_ASSERT_OK(store_cert_status_get(s, "e1", &st));
    UNIT_ASSERT_OK(store_cert_status_get(s, "e3", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_HOLD);
    CU_ASSERT_EQUAL(test_verify_count(s), 3);
    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_changes_since(s, 0, 10, test_bag_change, &b));
    CU_ASSERT_EQUAL(b.num, 1);
    CU_ASSERT_EQUAL(b.seq[0], 1);

    /* A call's savepoint stays open after it succeeded and is released with the next call's
     * (store.c, store_call_savepoint): failures first, between and after successes undo only
     * themselves, on PostgreSQL too, where a failed statement aborts the transaction unless
     * rolled back to its savepoint. */
    UNIT_ASSERT_OK(store_txn_begin(s));
    test_cert(&c, "e1", NULL, NULL, T0 + 60);
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_CONFLICT);
    test_cert(&c, "e4", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    test_cert(&c, "e5", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_ERR(store_cert_insert(s, &c, &ev), ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_OK(store_cert_set_status(s, "e5", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    UNIT_ASSERT_ERR(store_cert_set_status(s, "e5", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev),
                    ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_OK(store_txn_commit(s));
    UNIT_ASSERT_OK(store_cert_status_get(s, "e4", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_GOOD);
    UNIT_ASSERT_OK(store_cert_status_get(s, "e5", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_HOLD);
    CU_ASSERT_EQUAL(test_verify_count(s), 6);

    /* A call that writes no audit entry fails by itself too, though the PostgreSQL driver holds
     * its statement back (exec_later) until the call ends. */
    store_token t, tgot;
    UNIT_ASSERT_OK(store_txn_begin(s));
    test_token(&t, 0x5a, "", T0 + 600);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    UNIT_ASSERT_ERR(store_token_insert(s, &t, NULL), ZTCA_ERR_CONFLICT);
    test_token(&t, 0x5b, "", T0 + 600);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    UNIT_ASSERT_OK(store_txn_commit(s));
    UNIT_ASSERT_OK(store_token_consume(s, t.hash, T0, &tgot));
    memset(t.hash, 0x5a, sizeof(t.hash));
    UNIT_ASSERT_OK(store_token_consume(s, t.hash, T0, &tgot));
    store_close(s);
}

typedef struct test_writer {
    int id;
    int num;
    ztca_err err;
} test_writer;

static void *
test_writer_thread(void *arg)
{
    test_writer *w = arg;
    store *s = NULL;
    w->err = store_open(&s, test_url).err;
    for (int i = 0; i < w->num && w->err == ZTCA_OK; i++) {
        char serial[16];
        snprintf(serial, sizeof(serial), "%02x%04x", w->id, i);
        store_cert c;
        test_cert(&c, serial, "dev-w", NULL, T0 + 60);
        store_audit_event ev = test_ev("cert.issue", serial);
        w->err = store_cert_insert(s, &c, &ev).err;
        if (w->err == ZTCA_OK && i % 10 == 0) {
            w->err =
                store_cert_set_status(s, serial, STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev).err;
        }
    }
    store_close(s);
    return NULL;
}

static void
test_concurrency(void)
{
    enum { N = 3, PER = 60 };
    store *s = test_open();
    pthread_t th[N];
    test_writer w[N];
    for (int i = 0; i < N; i++) {
        w[i].id = i + 1;
        w[i].num = PER;
        w[i].err = ZTCA_ERR_INTERNAL;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_writer_thread, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].err, ZTCA_OK);
    }
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates"), (long)N * PER);
    CU_ASSERT_EQUAL(test_verify_count(s), N * PER + N * PER / 10);
    /* Change numbers have no gaps: 1..N*PER/10. */
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM change_log"), N * PER / 10);
    CU_ASSERT_EQUAL(test_raw_count("SELECT max(seq) FROM change_log"), N * PER / 10);
    store_close(s);
}

/* ---- group commit: concurrent calls on one handle share durable commits -----------------------
 */

enum { TEST_GC_THREADS = 8, TEST_GC_PER = 25 };

typedef struct test_gc_worker {
    store *s;
    int id;
    int ok;         /* members that committed */
    int refused;    /* members refused as expected (a used token, a taken serial) */
    ztca_err first; /* the first unexpected result, ZTCA_OK when none */
} test_gc_worker;

static void
test_gc_expect(test_gc_worker *w, ztca_rc rc, ztca_err want)
{
    if (rc.err != want && w->first == ZTCA_OK) {
        w->first = rc.err != ZTCA_OK ? rc.err : ZTCA_ERR_INTERNAL;
    }
}

static void
test_gc_hash(uint8_t h[STORE_HASH_LEN], int id, int j)
{
    memset(h, 0, STORE_HASH_LEN);
    h[0] = 0x6c;
    h[1] = (uint8_t)id;
    h[2] = (uint8_t)j;
}

/* As POST /v1/certs issues: consume the token, record the certificate, commit; every fifth
 * round also a replayed token and a taken serial, which must fail alone, and a plain insert
 * plus a hold outside any transaction (change-log rows in the same batches). */
static void *
test_gc_thread(void *arg)
{
    test_gc_worker *w = arg;
    for (int j = 0; j < TEST_GC_PER; j++) {
        uint8_t h[STORE_HASH_LEN];
        char serial[16];
        store_token tok;
        store_cert c;
        snprintf(serial, sizeof(serial), "%02x%02x01", w->id, j);
        test_cert(&c, serial, "dev-gc", NULL, T0 + 60);
        store_audit_event ev = test_ev("cert.issue", serial);
        test_gc_hash(h, w->id, j);
        test_gc_expect(w, store_txn_begin(w->s), ZTCA_OK);
        ztca_rc rc = store_token_consume(w->s, h, T0, &tok);
        test_gc_expect(w, rc, ZTCA_OK);
        if (ZTCA_IS_OK(rc)) {
            test_gc_expect(w, store_cert_insert(w->s, &c, &ev), ZTCA_OK);
            rc = store_txn_commit(w->s);
            test_gc_expect(w, rc, ZTCA_OK);
            w->ok += ZTCA_IS_OK(rc);
        } else {
            store_txn_rollback(w->s);
        }
        if (j % 5 != 4) {
            continue;
        }
        test_gc_expect(w, store_txn_begin(w->s), ZTCA_OK);
        test_gc_expect(w, store_token_consume(w->s, h, T0, &tok), ZTCA_ERR_DENIED);
        store_txn_rollback(w->s);
        w->refused++;
        test_gc_expect(w, store_cert_insert(w->s, &c, &ev), ZTCA_ERR_CONFLICT);
        w->refused++;
        snprintf(serial, sizeof(serial), "%02x%02x02", w->id, j);
        test_cert(&c, serial, "dev-gc", NULL, T0 + 60);
        rc = store_cert_insert(w->s, &c, &ev);
        test_gc_expect(w, rc, ZTCA_OK);
        w->ok += ZTCA_IS_OK(rc);
        rc = store_cert_set_status(w->s, serial, STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev);
        test_gc_expect(w, rc, ZTCA_OK);
        w->ok += ZTCA_IS_OK(rc);
    }
    return NULL;
}

static void
test_group_many_threads(void)
{
    enum { N = TEST_GC_THREADS, PER = TEST_GC_PER, EXTRA = PER / 5 };
    store *s = test_open();
    store_audit_event tev = test_ev("token.create", "gc");
    UNIT_ASSERT_OK(store_txn_begin(s));
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < PER; j++) {
            store_token t;
            test_token(&t, 0, "", T0 + 600);
            test_gc_hash(t.hash, i + 1, j);
            UNIT_ASSERT_OK(store_token_insert(s, &t, &tev));
        }
    }
    UNIT_ASSERT_OK(store_txn_commit(s));
    store_stats before, after;
    store_stats_get(s, &before);
    pthread_t th[N];
    test_gc_worker w[N];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < N; i++) {
        w[i].s = s; /* one handle, as `ztca serve` shares it between its threads */
        w[i].id = i + 1;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_gc_thread, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].first, ZTCA_OK);
        CU_ASSERT_EQUAL(w[i].ok, PER + 2 * EXTRA);
        CU_ASSERT_EQUAL(w[i].refused, 2 * EXTRA);
        ok += w[i].ok;
    }
    store_stats_get(s, &after);
    CU_ASSERT_EQUAL(after.members - before.members, (uint64_t)ok);
    CU_ASSERT_TRUE(after.commits - before.commits >= 1);
    CU_ASSERT_TRUE(after.commits - before.commits <= (uint64_t)ok);
    CU_ASSERT_EQUAL(after.queued, 0);
    /* Every row, from another connection: committed and visible, none from a refused member. */
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates"), (long)N * (PER + EXTRA));
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificate_bodies"),
                    (long)N * (PER + EXTRA));
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM tokens WHERE used_at IS NOT NULL"),
                    (long)N * PER);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates WHERE status = 2"),
                    (long)N * EXTRA);
    /* The chain: token entries, one per certificate, one per hold, in commit order. */
    CU_ASSERT_EQUAL(test_verify_count(s), (int64_t)N * PER + N * (PER + EXTRA) + N * EXTRA);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM change_log"), (long)N * EXTRA);
    CU_ASSERT_EQUAL(test_raw_count("SELECT max(seq) FROM change_log"), (long)N * EXTRA);
    store_close(s);
}

typedef struct test_gc_member {
    store *s;
    int kind; /* 0: taken serial, 1: new serial, 2: used token, 3: transaction with a hold */
    ztca_err err;
} test_gc_member;

static void *
test_gc_member_main(void *arg)
{
    test_gc_member *m = arg;
    store_cert c;
    store_token tok;
    store_audit_event ev = test_ev("cert.issue", "m");
    uint8_t h[STORE_HASH_LEN];
    switch (m->kind) {
    case 0:
        test_cert(&c, "c0", NULL, NULL, T0 + 60);
        m->err = store_cert_insert(m->s, &c, &ev).err;
        break;
    case 1:
        test_cert(&c, "c1", NULL, NULL, T0 + 60);
        m->err = store_cert_insert(m->s, &c, &ev).err;
        break;
    case 2:
        memset(h, 0x72, sizeof(h));
        m->err = store_txn_begin(m->s).err;
        if (m->err == ZTCA_OK) {
            m->err = store_token_consume(m->s, h, T0, &tok).err;
            store_txn_rollback(m->s);
        }
        break;
    default:
        test_cert(&c, "e1", NULL, NULL, T0 + 60);
        m->err = store_txn_begin(m->s).err;
        if (m->err == ZTCA_OK) {
            m->err = store_cert_insert(m->s, &c, &ev).err;
        }
        if (m->err == ZTCA_OK) {
            m->err =
                store_cert_set_status(m->s, "e1", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev).err;
        }
        if (m->err == ZTCA_OK) {
            m->err = store_txn_commit(m->s).err;
        } else {
            store_txn_rollback(m->s);
        }
        break;
    }
    return NULL;
}

/* One batch made on purpose: this thread holds a transaction open until four others queue on
 * the handle, then commits; with grouping its commit waits for them and the last one commits
 * for all. The members that fail (a taken serial, a used token) are undone alone. */
static void
test_group_scenario(int group_max, uint64_t want_commits)
{
    char err[64];
    store_options o = { .errbuf = err,
                        .errbuf_size = sizeof(err),
                        .group_max = group_max,
                        .group_max_age_ms = 600000 }; /* no age limit within the test */
    store *s = NULL;
    test_fresh_url();
    UNIT_ASSERT_OK(store_open_ex(&s, test_url, &o));
    store_audit_event ev = test_ev("cert.issue", "setup");
    store_cert c;
    store_token t, got;
    test_cert(&c, "c0", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    test_token(&t, 0x71, "", T0 + 600);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    test_token(&t, 0x72, "", T0 + 600);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    UNIT_ASSERT_OK(store_token_consume(s, t.hash, T0, &got));
    int64_t audit0 = test_verify_count(s);

    UNIT_ASSERT_OK(store_txn_begin(s));
    memset(t.hash, 0x71, sizeof(t.hash));
    UNIT_ASSERT_OK(store_token_consume(s, t.hash, T0, &got));
    test_cert(&c, "a1", NULL, NULL, T0 + 60);
    UNIT_ASSERT_OK(store_cert_insert(s, &c, &ev));
    enum { N = 4 };
    pthread_t th[N];
    test_gc_member m[N];
    for (int i = 0; i < N; i++) {
        m[i].s = s;
        m[i].kind = i;
        m[i].err = ZTCA_ERR_INTERNAL;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_gc_member_main, &m[i]), 0);
    }
    store_stats st;
    for (int spins = 0; spins < 60000; spins++) { /* they queue within milliseconds */
        store_stats_get(s, &st);
        if (st.queued == N) {
            break;
        }
        usleep(1000);
    }
    CU_ASSERT_EQUAL(st.queued, N);
    store_stats before, after;
    store_stats_get(s, &before);
    UNIT_ASSERT_OK(store_txn_commit(s));
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
    }
    store_stats_get(s, &after);
    CU_ASSERT_EQUAL(m[0].err, ZTCA_ERR_CONFLICT);
    CU_ASSERT_EQUAL(m[1].err, ZTCA_OK);
    CU_ASSERT_EQUAL(m[2].err, ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(m[3].err, ZTCA_OK);
    CU_ASSERT_EQUAL(after.members - before.members, 3); /* a1's transaction, c1, e1's */
    CU_ASSERT_EQUAL(after.commits - before.commits, want_commits);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates WHERE serial IN "
                                   "('c0', 'a1', 'c1', 'e1')"),
                    4);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates WHERE status = 2"), 1);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM tokens WHERE used_at IS NOT NULL"), 2);
    CU_ASSERT_EQUAL(test_verify_count(s), audit0 + 4);
    CU_ASSERT_EQUAL(test_raw_count("SELECT max(seq) FROM change_log"), 1);
    store_close(s);
}

static void
test_group_failing_member(void)
{
    test_group_scenario(0, 1); /* one batch, one commit */
    test_group_scenario(1, 3); /* grouping off: a commit per member */
}

static void
test_purge(void)
{
    store *s = test_open();
    /* Five certificates expired before the cutoff (T0), two after. */
    for (int i = 0; i < 7; i++) {
        char serial[8];
        snprintf(serial, sizeof(serial), "f%d", i);
        test_insert(s, serial, "dev-p", i < 5 ? T0 - 100 + i : T0 + i);
    }
    store_token t;
    test_token(&t, 0x77, "alice", T0 - 1);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    test_token(&t, 0x78, "alice", T0 + 1);
    UNIT_ASSERT_OK(store_token_insert(s, &t, NULL));
    store_device d;
    store_device_init(&d);
    snprintf(d.id, sizeof(d.id), "dev-p");
    store_audit_event ev = test_ev("device.register", "dev-p");
    UNIT_ASSERT_OK(store_device_insert(s, &d, &ev));
    store_signal sig;
    store_signal_init(&sig);
    snprintf(sig.device_id, sizeof(sig.device_id), "dev-p");
    snprintf(sig.source, sizeof(sig.source), "edr");
    snprintf(sig.kind, sizeof(sig.kind), "k");
    sig.expires_at = T0 - 5;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, NULL));
    snprintf(sig.kind, sizeof(sig.kind), "k2");
    sig.expires_at = 0;
    UNIT_ASSERT_OK(store_signal_insert(s, &sig, NULL, NULL));
    UNIT_ASSERT_OK(
        store_cert_set_status(s, "f6", STORE_CERT_HOLD, STORE_REASON_NONE, T0 - 50, &ev));

    /* At most two batches of two: four certificates go, one stays for the next run. */
    store_purge_stats st;
    UNIT_ASSERT_OK(store_purge(s, T0, 2, 2, &st));
    CU_ASSERT_EQUAL(st.certs, 4);
    CU_ASSERT_EQUAL(st.tokens, 0);
    UNIT_ASSERT_OK(store_purge(s, T0, 2, 0, &st));
    CU_ASSERT_EQUAL(st.certs, 1);
    CU_ASSERT_EQUAL(st.tokens, 1);
    CU_ASSERT_EQUAL(st.signals, 1);
    CU_ASSERT_EQUAL(st.changes, 1);
    store_cert got;
    UNIT_ASSERT_ERR(store_cert_get(s, "f4", true, &got), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_OK(store_cert_get(s, "f5", true, &got));
    CU_ASSERT_EQUAL(got.der_len, sizeof(test_der));
    store_cert_free(&got);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificates"), 2);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM certificate_bodies"), 2);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM tokens"), 1);
    CU_ASSERT_EQUAL(test_raw_count("SELECT count(*) FROM trust_signals"), 1);
    /* The audit log is never purged. */
    CU_ASSERT_EQUAL(test_verify_count(s), 9);
    UNIT_ASSERT_OK(store_purge(s, T0, 2, 0, &st));
    CU_ASSERT_EQUAL(st.certs + st.tokens + st.signals + st.changes, 0);
    UNIT_ASSERT_ERR(store_purge(s, T0, 0, 0, &st), ZTCA_ERR_BAD_INPUT);
    store_close(s);
}

/* ---- out of memory --------------------------------------------------------------------------- */

static void
test_oom(void)
{
    test_fresh_url();
    /* Fail our allocations one after the other until the whole sequence succeeds: each failure
     * is a clean NOMEM and leaks nothing (ASan's leak check). libpq's and SQLite's own
     * allocations are not hooked. */
    for (long n = 0;; n++) {
        store *s = NULL;
        store_cert c, got;
        store_cert_init(&got);
        test_cert(&c, "0b", NULL, NULL, T0 + 60);
        store_audit_event ev = test_ev("cert.issue", "0b");
        ztca_alloc_fail_after(n);
        ztca_rc rc = store_open(&s, test_url);
        if (ZTCA_IS_OK(rc)) {
            rc = store_cert_insert(s, &c, &ev);
            if (rc.err == ZTCA_ERR_CONFLICT) {
                rc = ZTCA_RC_OK; /* inserted by an earlier round */
            }
        }
        if (ZTCA_IS_OK(rc)) {
            rc = store_cert_get(s, "0b", true, &got);
        }
        ztca_alloc_fail_after(-1);
        store_cert_free(&got);
        store_close(s);
        if (ZTCA_IS_OK(rc)) {
            CU_ASSERT_TRUE(n > 3);
            break;
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_NOMEM);
        if (rc.err != ZTCA_ERR_NOMEM || n > 200) {
            fprintf(stderr, "  oom round %ld: %s at %s\n", n, ztca_err_name(rc.err),
                    ztca_last_where());
            break;
        }
    }
}

/* ---- PostgreSQL restarts (run by tests/integration/test_store_pg.sh) ------------------------ */

static void
test_pg_reconnect(void)
{
    const char *stop = getenv("ZTCA_TEST_PG_STOP"), *start = getenv("ZTCA_TEST_PG_START");
    if (test_backend != STORE_BACKEND_POSTGRESQL || stop == NULL || start == NULL) {
        return; /* needs a server this process may stop: the integration script's */
    }
    store *s = test_open();
    test_insert(s, "ee01", "dev-r", T0 + 3600);
    store_sub *sub = NULL;
    UNIT_ASSERT_OK(store_sub_open(&sub, s, STORE_SUB_FROM_NOW));
    store_audit_event ev = test_ev("cert.hold", "ee01");
    UNIT_ASSERT_OK(store_cert_set_status(s, "ee01", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    test_bag b;
    memset(&b, 0, sizeof(b));
    test_poll_until(sub, &b, 1);

    CU_ASSERT_EQUAL_FATAL(system(stop), 0);
    /* While the server is down, calls fail cleanly and quickly. */
    store_cert_state st;
    UNIT_ASSERT_ERR(store_cert_status_get(s, "ee01", &st), ZTCA_ERR_STORE);
    UNIT_ASSERT_ERR(store_cert_set_status(s, "ee01", STORE_CERT_GOOD, STORE_REASON_NONE, T0, &ev),
                    ZTCA_ERR_STORE);
    size_t n = 0;
    UNIT_ASSERT_ERR(store_sub_poll(sub, 300, test_bag_change, &b, &n), ZTCA_ERR_STORE);
    CU_ASSERT_STRING_NOT_EQUAL(store_errmsg(s), "");

    CU_ASSERT_EQUAL_FATAL(system(start), 0);
    /* The next calls reconnect by themselves; nothing was changed while it was down. */
    UNIT_ASSERT_OK(store_cert_status_get(s, "ee01", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_HOLD);
    UNIT_ASSERT_OK(store_cert_set_status(s, "ee01", STORE_CERT_GOOD, STORE_REASON_NONE, T0, &ev));
    /* The subscription reconnects, listens again and reads the log from its cursor. */
    test_poll_until(sub, &b, 2);
    CU_ASSERT_EQUAL(b.status[1], STORE_CERT_GOOD);
    CU_ASSERT_EQUAL(b.seq[1], 2);
    /* A restart between two calls is invisible: the idle connection is replaced. */
    CU_ASSERT_EQUAL_FATAL(system(stop), 0);
    CU_ASSERT_EQUAL_FATAL(system(start), 0);
    UNIT_ASSERT_OK(store_cert_set_status(s, "ee01", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    UNIT_ASSERT_OK(store_cert_status_get(s, "ee01", &st));
    test_poll_until(sub, &b, 3);
    CU_ASSERT_EQUAL(test_verify_count(s), 4);
    /* test_store_pg.sh looks for this line: the test ran rather than returned early. */
    printf("\n  pg_reconnect: stopped and started the server twice\n");
    store_sub_close(sub);
    store_close(s);
}

/* A handle with a live subscription must keep seeing what other handles (other processes)
 * commit. Regression: opening the SQLite file for the subscription's connection closed a
 * descriptor of the file, which drops every POSIX lock of the process on it, and the first
 * handle went on reading a stale snapshot (a certificate issued after it was "unknown"). */
/* test_child_insert: a certificate recorded by another process (as `ztca issue` or a second
 * node would), waited for. */
static void
test_child_insert(const char *serial)
{
    /* The path readlink gives, not "/proc/self/exe" itself: under valgrind that link names the
     * tool, while readlink of it names this program. */
    char self[4096];
    ssize_t self_len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    CU_ASSERT_FATAL(self_len > 0);
    self[self_len] = '\0';
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        /* exec, not just fork: a forked child would share the parent's SQLite lock bookkeeping
         * (memory copied at fork), which hides what another process sees. */
        execl(self, "test_store", "--child-insert", test_url, serial, (char *)NULL);
        _exit(127);
    }
    int wstatus = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &wstatus, 0), pid);
    CU_ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
}

typedef struct test_poller {
    store_sub *sub;
    atomic_bool stop;
} test_poller;

static ztca_rc
test_poller_cb(void *ctx, const store_change *c)
{
    (void)ctx;
    (void)c;
    return ZTCA_RC_OK;
}

static void *
test_poller_main(void *arg)
{
    test_poller *p = arg;
    while (!atomic_load(&p->stop)) {
        size_t n = 0;
        ztca_rc rc = store_sub_poll(p->sub, 50, test_poller_cb, NULL, &n);
        (void)rc;
    }
    return NULL;
}

static void
test_fresh_reads_with_feed(void)
{
    store *a = test_open();
    store_sub *sub = NULL;
    store_cert_state st;
    UNIT_ASSERT_OK(store_sub_open(&sub, a, STORE_SUB_FROM_NOW));
    /* as in `ztca serve`: a thread polls the feed while requests read through the handle */
    test_poller poller = { sub, false };
    pthread_t thread;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&thread, NULL, test_poller_main, &poller), 0);
    UNIT_ASSERT_ERR(store_cert_status_get(a, "0a01", &st), ZTCA_ERR_NOT_FOUND);
    for (int i = 1; i <= 3; i++) {
        char serial[8];
        snprintf(serial, sizeof(serial), "0a0%d", i);
        test_child_insert(serial);
        UNIT_ASSERT_OK(store_cert_status_get(a, serial, &st));
        CU_ASSERT_EQUAL(st.status, STORE_CERT_GOOD);
    }
    atomic_store(&poller.stop, true);
    pthread_join(thread, NULL);
    store_sub_close(sub);
    store_close(a);
}

static ztca_rc
test_prov_cb(void *ctx, const char *name, const char *config)
{
    char *acc = ctx;
    size_t n = strlen(acc);
    snprintf(acc + n, 256 - n, "%s=%s;", name, config);
    return ZTCA_RC_OK;
}

/* OIDC provisioners and the token replay cache, on both backends. */
static void
test_oidc(void)
{
    store *s = test_open();
    store_audit_event ev = test_ev("provisioner.add", "gh");
    char *config = NULL;
    char acc[256] = "";
    UNIT_ASSERT_OK(store_provisioner_put(s, "gh", "{\"v\":1}", false, &ev));
    UNIT_ASSERT_ERR(store_provisioner_put(s, "gh", "{\"v\":2}", false, &ev), ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_OK(store_provisioner_get(s, "gh", &config));
    CU_ASSERT_STRING_EQUAL(config, "{\"v\":1}");
    free(config);
    UNIT_ASSERT_OK(store_provisioner_put(s, "gh", "{\"v\":2}", true, &ev));
    UNIT_ASSERT_OK(store_provisioner_put(s, "gl", "{\"v\":3}", true, &ev)); /* replace = upsert */
    UNIT_ASSERT_OK(store_provisioner_list(s, test_prov_cb, acc));
    CU_ASSERT_STRING_EQUAL(acc, "gh={\"v\":2};gl={\"v\":3};");
    UNIT_ASSERT_ERR(store_provisioner_get(s, "nope", &config), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_OK(store_provisioner_remove(s, "gl", &ev));
    UNIT_ASSERT_ERR(store_provisioner_remove(s, "gl", &ev), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_ERR(store_provisioner_put(s, "gh", "{}", true, NULL), ZTCA_ERR_BAD_INPUT);

    const char *key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    UNIT_ASSERT_OK(store_replay_claim(s, key, T0 + 600, T0));
    UNIT_ASSERT_ERR(store_replay_claim(s, key, T0 + 600, T0 + 1), ZTCA_ERR_CONFLICT);
    UNIT_ASSERT_ERR(store_replay_claim(s, key, T0 + 900, T0 + 599), ZTCA_ERR_CONFLICT);
    /* once it could no longer be replayed, the key may be taken again (a token re-minted with
     * the same jti after its predecessor expired) */
    UNIT_ASSERT_OK(store_replay_claim(s, key, T0 + 2000, T0 + 601));
    UNIT_ASSERT_ERR(store_replay_claim(s, "00", T0 + 600, T0), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(
        store_replay_claim(s,
                           "0011223344556677889900AABBCCDDEEFF00112233445566778899aabbccdd"
                           "eeff",
                           T0 + 600, T0),
        ZTCA_ERR_BAD_INPUT);
    int64_t seq = 0;
    uint8_t head[STORE_HASH_LEN];
    UNIT_ASSERT_OK(store_audit_head(s, &seq, head));
    CU_ASSERT_EQUAL(seq, 4); /* the 4 changes that committed; refused ones left no entry */
    store_close(s);
}

/* ---- trust scores and holds ------------------------------------------------------------------ */

static ztca_rc
test_due_cb(void *ctx, const char *device_id, const char *user)
{
    test_bag *b = ctx;
    if (b->num < 64) {
        snprintf(b->keys[b->num], sizeof(b->keys[0]), "%s/%s", device_id, user);
        b->num++;
    }
    return ZTCA_RC_OK;
}

static void
test_trust_scores(void)
{
    store *s = test_open();
    store_audit_event ev = test_ev("trust.score", "dev-t/alice");
    store_device d;
    store_device_init(&d);
    snprintf(d.id, sizeof(d.id), "dev-t");
    store_audit_event de = test_ev("device.register", "dev-t");
    UNIT_ASSERT_OK(store_device_insert(s, &d, &de));
    UNIT_ASSERT_OK(store_user_put(s, "alice", NULL));
    /* Two agent certificates of alice, one device certificate, one of bob, one expired. */
    store_cert c;
    const char *serials[] = { "a1", "a2", "d1", "b1", "a0" };
    const char *users[] = { "alice", "alice", "", "bob", "alice" };
    for (size_t i = 0; i < 5; i++) {
        test_cert(&c, serials[i], "dev-t", users[i], i == 4 ? T0 - 1 : T0 + 3600);
        store_audit_event ce = test_ev("cert.issue", serials[i]);
        UNIT_ASSERT_OK(store_cert_insert(s, &c, &ce));
    }
    store_cert_state st;
    UNIT_ASSERT_OK(store_cert_status_get(s, "a1", &st));
    CU_ASSERT_EQUAL(st.score, -1); /* never scored */

    store_trust t;
    UNIT_ASSERT_ERR(store_trust_get(s, "dev-t", "alice", &t), ZTCA_ERR_NOT_FOUND);
    store_trust_init(&t);
    snprintf(t.device_id, sizeof(t.device_id), "dev-t");
    snprintf(t.user, sizeof(t.user), "alice");
    t.score = 20;
    t.held = true;
    t.explanation = "{\"score\":20}";
    t.computed_at = T0;
    t.next_change = T0 + 60;
    int64_t seq0 = 0;
    uint8_t head[STORE_HASH_LEN];
    UNIT_ASSERT_OK(store_audit_head(s, &seq0, head));
    UNIT_ASSERT_OK(store_trust_put(s, &t, true, &ev));
    t.explanation = "{";
    UNIT_ASSERT_ERR(store_trust_put(s, &t, true, &ev), ZTCA_ERR_BAD_INPUT);
    t.explanation = "{}";
    t.score = 101;
    UNIT_ASSERT_ERR(store_trust_put(s, &t, true, &ev), ZTCA_ERR_BAD_INPUT);
    store_trust got;
    UNIT_ASSERT_OK(store_trust_get(s, "dev-t", "alice", &got));
    CU_ASSERT_EQUAL(got.score, 20);
    CU_ASSERT_TRUE(got.held);
    CU_ASSERT_STRING_EQUAL(got.explanation, "{\"score\":20}");
    CU_ASSERT_EQUAL(got.computed_at, T0);
    CU_ASSERT_EQUAL(got.next_change, T0 + 60);
    store_trust_free(&got);
    UNIT_ASSERT_OK(store_cert_status_get(s, "a1", &st));
    CU_ASSERT_EQUAL(st.score, 20);
    UNIT_ASSERT_OK(store_cert_status_get(s, "d1", &st));
    CU_ASSERT_EQUAL(st.score, -1); /* the device's own score is another subject */

    /* An administrator's hold on a2 stays when the engine releases. */
    store_audit_event he = test_ev("cert.hold", "a2");
    UNIT_ASSERT_OK(store_cert_set_status(s, "a2", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &he));
    int64_t after_admin = 0;
    test_bag b;
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_changes_since(s, 0, 100, test_bag_change, &b));
    after_admin = b.num > 0 ? b.seq[b.num - 1] : 0;
    size_t n = 99;
    UNIT_ASSERT_OK(store_trust_hold(s, "dev-t", "alice", true, T0, &n));
    CU_ASSERT_EQUAL(n, 1); /* a1 only: a2 is held already, a0 expired, d1 and b1 are others' */
    UNIT_ASSERT_OK(store_trust_hold(s, "dev-t", "alice", true, T0, &n));
    CU_ASSERT_EQUAL(n, 0); /* idempotent */
    UNIT_ASSERT_OK(store_cert_status_get(s, "a1", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_HOLD);
    CU_ASSERT_EQUAL(st.reason, STORE_REASON_CERTIFICATE_HOLD);
    CU_ASSERT_EQUAL(st.revoked_at, T0);
    UNIT_ASSERT_OK(store_cert_status_get(s, "b1", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_GOOD);
    UNIT_ASSERT_OK(store_trust_hold(s, "dev-t", "alice", false, T0 + 5, &n));
    CU_ASSERT_EQUAL(n, 1);
    UNIT_ASSERT_OK(store_cert_status_get(s, "a1", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_GOOD);
    CU_ASSERT_EQUAL(st.revoked_at, 0);
    UNIT_ASSERT_OK(store_cert_status_get(s, "a2", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_HOLD);
    /* The device's own certificates. */
    UNIT_ASSERT_OK(store_trust_hold(s, "dev-t", "", true, T0, &n));
    CU_ASSERT_EQUAL(n, 1);
    UNIT_ASSERT_OK(store_cert_status_get(s, "d1", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_HOLD);
    /* An administrator who revokes a held certificate ends the engine's claim on it. */
    store_audit_event re = test_ev("cert.revoke", "d1");
    UNIT_ASSERT_OK(
        store_cert_set_status(s, "d1", STORE_CERT_REVOKED, STORE_REASON_KEY_COMPROMISE, T0, &re));
    UNIT_ASSERT_OK(store_trust_hold(s, "dev-t", "", false, T0, &n));
    CU_ASSERT_EQUAL(n, 0);

    /* The change feed: the score (subject: the device) and each certificate transition. */
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_changes_since(s, 0, 100, test_bag_change, &b));
    size_t trust_changes = 0, cert_changes = 0;
    for (size_t i = 0; i < b.num; i++) {
        if (strcmp(b.keys[i], "dev-t") == 0 && b.status[i] == 20 && b.reason[i] == 1) {
            trust_changes++;
        }
        if (b.seq[i] > after_admin) {
            cert_changes++;
        }
    }
    CU_ASSERT_EQUAL(trust_changes, 1);
    CU_ASSERT_EQUAL(cert_changes, 4); /* hold a1, release a1, hold d1, revoke d1 */

    /* Without publish nothing enters the feed; without ev nothing enters the audit log. */
    int64_t seq1 = 0;
    UNIT_ASSERT_OK(store_audit_head(s, &seq1, head));
    size_t before = b.num;
    snprintf(t.user, sizeof(t.user), "%s", "");
    t.score = 90;
    t.held = false;
    t.explanation = "{}";
    t.next_change = 0;
    UNIT_ASSERT_OK(store_trust_put(s, &t, false, NULL));
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_changes_since(s, 0, 100, test_bag_change, &b));
    CU_ASSERT_EQUAL(b.num, before);
    int64_t seq2 = 0;
    UNIT_ASSERT_OK(store_audit_head(s, &seq2, head));
    CU_ASSERT_EQUAL(seq2, seq1);
    CU_ASSERT_EQUAL(seq1, seq0 + 3); /* the score's entry and the administrator's two changes */

    /* Due: only subjects with next_change at or before now. */
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_trust_list_due(s, T0 + 59, 10, test_due_cb, &b));
    CU_ASSERT_EQUAL(b.num, 0);
    UNIT_ASSERT_OK(store_trust_list_due(s, T0 + 60, 10, test_due_cb, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 1);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "dev-t/alice");
    UNIT_ASSERT_ERR(store_trust_list_due(s, T0, 0, test_due_cb, &b), ZTCA_ERR_BAD_INPUT);

    /* The device lock: inside a transaction, NOT_FOUND for an unknown device. */
    UNIT_ASSERT_OK(store_txn_begin(s));
    UNIT_ASSERT_OK(store_device_lock(s, "dev-t", NULL));
    store_device locked;
    UNIT_ASSERT_OK(store_device_lock(s, "dev-t", &locked));
    CU_ASSERT_STRING_EQUAL(locked.id, "dev-t");
    store_device dgot;
    UNIT_ASSERT_OK(store_device_get(s, "dev-t", &dgot));
    CU_ASSERT_EQUAL(locked.status, dgot.status);
    CU_ASSERT_EQUAL(locked.created_at, dgot.created_at);
    CU_ASSERT_EQUAL(locked.ak_pub_len, dgot.ak_pub_len);
    CU_ASSERT_STRING_EQUAL(locked.facts, dgot.facts);
    store_device_free(&dgot);
    store_device_free(&locked);
    UNIT_ASSERT_ERR(store_device_lock(s, "nobody", &locked), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_OK(store_txn_commit(s));

    /* Agents by user. */
    UNIT_ASSERT_OK(store_agent_put(s, "dev-t", "alice", T0, NULL));
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_agent_list_by_user(s, "alice", test_count_agent, &b));
    CU_ASSERT_EQUAL_FATAL(b.num, 1);
    CU_ASSERT_STRING_EQUAL(b.keys[0], "alice");
    memset(&b, 0, sizeof(b));
    UNIT_ASSERT_OK(store_agent_list_by_user(s, "bob", test_count_agent, &b));
    CU_ASSERT_EQUAL(b.num, 0);
    CU_ASSERT_EQUAL(test_verify_count(s) > 0, true);
    store_close(s);
}

/* ---- read connections: lookups beside the writer -------------------------------------------- */

enum { TEST_RD_CERTS = 200, TEST_RD_REVOKE = 60, TEST_RD_READERS = 8, TEST_RD_LOOKUPS = 1500 };

static void
test_rd_serial(char *out, size_t size, int i)
{
    snprintf(out, size, "%04x", i);
}

typedef struct test_rd_shared {
    store *s;
    atomic_int revoked;    /* certificates 0..revoked-1 are revoked: their calls have returned */
    atomic_int issued;     /* certificates TEST_RD_CERTS..issued-1 exist: their calls returned */
    atomic_bool done;      /* the writer finished */
    ztca_err writer_first; /* the writer's first unexpected result */
} test_rd_shared;

typedef struct test_rd_worker {
    test_rd_shared *sh;
    int id;
    int lookups;
    int wrong; /* answers that contradict a write that had returned before the lookup began */
    ztca_err first;
} test_rd_worker;

/* The writer: revokes the first TEST_RD_REVOKE certificates one by one and issues as many new
 * ones, publishing each only after its call returned (committed), and reads each back itself. */
static void *
test_rd_writer(void *arg)
{
    test_rd_shared *sh = arg;
    for (int i = 0; i < TEST_RD_REVOKE; i++) {
        char serial[16];
        store_cert_state st;
        test_rd_serial(serial, sizeof(serial), i);
        store_audit_event ev = test_ev("cert.revoke", serial);
        ztca_rc rc = store_cert_set_status(sh->s, serial, STORE_CERT_REVOKED,
                                           STORE_REASON_KEY_COMPROMISE, T0, &ev);
        if (ZTCA_IS_OK(rc)) {
            atomic_store(&sh->revoked, i + 1);
            rc = store_cert_status_get(sh->s, serial, &st);
        }
        if (ZTCA_IS_OK(rc) && st.status != STORE_CERT_REVOKED) {
            rc.err = ZTCA_ERR_INTERNAL; /* its own committed write, not seen */
        }
        test_rd_serial(serial, sizeof(serial), TEST_RD_CERTS + i);
        store_cert c;
        test_cert(&c, serial, "dev-rd", "alice", T0 + 3600);
        if (ZTCA_IS_OK(rc)) {
            ev = test_ev("cert.issue", serial);
            rc = store_cert_insert(sh->s, &c, &ev);
        }
        if (ZTCA_IS_OK(rc)) {
            atomic_store(&sh->issued, TEST_RD_CERTS + i + 1);
        }
        if (!ZTCA_IS_OK(rc) && sh->writer_first == ZTCA_OK) {
            sh->writer_first = rc.err;
        }
    }
    atomic_store(&sh->done, true);
    return NULL;
}

/* A reader: status lookups of every serial, each checked against what had been committed when
 * it began: a revocation or an issuance that returned before must show. A connection handed to
 * two threads at once shows as INTERNAL (the pool's check, or the driver's one statement at a
 * time) or as a row of the other thread's serial. */
static void *
test_rd_reader(void *arg)
{
    test_rd_worker *w = arg;
    test_rd_shared *sh = w->sh;
    unsigned x = (unsigned)w->id * 2654435761u;
    for (int n = 0; n < TEST_RD_LOOKUPS || !atomic_load(&sh->done); n++) {
        x = x * 1103515245u + 12345u;
        int i = (int)((x >> 8) % (TEST_RD_CERTS + TEST_RD_REVOKE));
        char serial[16];
        test_rd_serial(serial, sizeof(serial), i);
        int revoked = atomic_load(&sh->revoked), issued = atomic_load(&sh->issued);
        store_cert_state st;
        ztca_rc rc = store_cert_status_get(sh->s, serial, &st);
        w->lookups++;
        if (rc.err == ZTCA_ERR_NOT_FOUND) {
            w->wrong += i < issued; /* issued before the lookup began: must be found */
            continue;
        }
        if (!ZTCA_IS_OK(rc)) {
            if (w->first == ZTCA_OK) {
                w->first = rc.err;
            }
            continue;
        }
        bool is_new = i >= TEST_RD_CERTS;
        w->wrong += strcmp(st.device_id, is_new ? "dev-rd" : "dev-a") != 0;
        w->wrong += st.not_after != (is_new ? T0 + 3600 : T0 + 86400 + i);
        w->wrong += i < revoked && st.status != STORE_CERT_REVOKED;
        w->wrong += i >= TEST_RD_REVOKE && st.status != STORE_CERT_GOOD;
    }
    return NULL;
}

static void
test_rd_load(store *s)
{
    store_cert c[TEST_RD_CERTS];
    store_audit_event ev[TEST_RD_CERTS];
    for (int i = 0; i < TEST_RD_CERTS; i++) {
        char serial[16];
        test_rd_serial(serial, sizeof(serial), i);
        test_cert(&c[i], serial, "dev-a", "alice", T0 + 86400 + i);
        ev[i] = test_ev("cert.issue", "bulk");
    }
    UNIT_ASSERT_OK(store_cert_insert_batch(s, c, ev, TEST_RD_CERTS));
}

/* Eight threads hammer lookups on a pool of `readers` while a ninth writes: every answer
 * matches the writes that had returned, and the pool stays within its bound. */
static void
test_rd_hammer(int readers)
{
    store *s = NULL;
    test_fresh_url();
    store_options o = { .readers = readers };
    UNIT_ASSERT_OK(store_open_ex(&s, test_url, &o));
    test_rd_load(s);
    test_rd_shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.s = s;
    atomic_init(&sh.revoked, 0);
    atomic_init(&sh.issued, TEST_RD_CERTS);
    atomic_init(&sh.done, false);
    store_stats before, after;
    store_stats_get(s, &before);
    pthread_t th[TEST_RD_READERS], wt;
    test_rd_worker w[TEST_RD_READERS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < TEST_RD_READERS; i++) {
        w[i].sh = &sh;
        w[i].id = i + 1;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_rd_reader, &w[i]), 0);
    }
    CU_ASSERT_EQUAL_FATAL(pthread_create(&wt, NULL, test_rd_writer, &sh), 0);
    pthread_join(wt, NULL);
    uint64_t lookups = 0;
    for (int i = 0; i < TEST_RD_READERS; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].first, ZTCA_OK);
        CU_ASSERT_EQUAL(w[i].wrong, 0);
        CU_ASSERT_TRUE(w[i].lookups >= TEST_RD_LOOKUPS);
        lookups += (uint64_t)w[i].lookups;
    }
    CU_ASSERT_EQUAL(sh.writer_first, ZTCA_OK);
    store_stats_get(s, &after);
    /* Every lookup and the writer's read-backs went through the pool (nothing failed to open). */
    CU_ASSERT_EQUAL(after.reads_pooled - before.reads_pooled, lookups + TEST_RD_REVOKE);
    CU_ASSERT_TRUE(after.readers >= 1 && after.readers <= (uint64_t)readers);
    CU_ASSERT_EQUAL(after.commits - before.commits, 2 * TEST_RD_REVOKE);
    CU_ASSERT_EQUAL(test_verify_count(s), TEST_RD_CERTS + 2 * TEST_RD_REVOKE);
    store_close(s);
}

static void
test_readers_hammer(void)
{
    test_rd_hammer(3); /* fewer connections than threads: calls wait for a free one */
    test_rd_hammer(TEST_RD_READERS);
}

typedef struct test_rd_peek {
    store *s;
    const char *serial;
    ztca_err err;
    store_cert_status status;
} test_rd_peek;

static void *
test_rd_peek_main(void *arg)
{
    test_rd_peek *p = arg;
    store_cert_state st;
    memset(&st, 0, sizeof(st));
    p->err = store_cert_status_get(p->s, p->serial, &st).err;
    p->status = st.status;
    return NULL;
}

static ztca_err
test_rd_peek_from_thread(store *s, const char *serial, store_cert_status *out_status)
{
    test_rd_peek p = { s, serial, ZTCA_ERR_INTERNAL, STORE_CERT_GOOD };
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, test_rd_peek_main, &p), 0);
    pthread_join(th, NULL);
    *out_status = p.status;
    return p.err;
}

/* Inside a transaction its own thread reads its own changes (on the writer); another thread
 * reads the committed state on a reader at once, without waiting for the transaction, and
 * sees the changes as soon as the commit returned. */
static void
test_readers_txn(void)
{
    store *s = NULL;
    test_fresh_url();
    store_options o = { .readers = 2 };
    UNIT_ASSERT_OK(store_open_ex(&s, test_url, &o));
    test_insert(s, "aa01", "dev-a", T0 + 3600);
    store_cert_state st;
    store_cert_status other = STORE_CERT_GOOD;
    UNIT_ASSERT_OK(store_txn_begin(s));
    test_insert(s, "aa02", "dev-a", T0 + 3600);
    store_audit_event ev = test_ev("cert.hold", "aa01");
    UNIT_ASSERT_OK(store_cert_set_status(s, "aa01", STORE_CERT_HOLD, STORE_REASON_NONE, T0, &ev));
    UNIT_ASSERT_OK(store_cert_status_get(s, "aa02", &st));
    UNIT_ASSERT_OK(store_cert_status_get(s, "aa01", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_HOLD);
    /* Without a pool this thread would wait for the commit below, which never comes. */
    CU_ASSERT_EQUAL(test_rd_peek_from_thread(s, "aa02", &other), ZTCA_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(test_rd_peek_from_thread(s, "aa01", &other), ZTCA_OK);
    CU_ASSERT_EQUAL(other, STORE_CERT_GOOD);
    UNIT_ASSERT_OK(store_txn_commit(s));
    CU_ASSERT_EQUAL(test_rd_peek_from_thread(s, "aa02", &other), ZTCA_OK);
    CU_ASSERT_EQUAL(test_rd_peek_from_thread(s, "aa01", &other), ZTCA_OK);
    CU_ASSERT_EQUAL(other, STORE_CERT_HOLD);
    /* A rolled-back change never shows on a reader. */
    UNIT_ASSERT_OK(store_txn_begin(s));
    test_insert(s, "aa03", "dev-a", T0 + 3600);
    store_txn_rollback(s);
    CU_ASSERT_EQUAL(test_rd_peek_from_thread(s, "aa03", &other), ZTCA_ERR_NOT_FOUND);
    UNIT_ASSERT_ERR(store_cert_status_get(s, "aa03", &st), ZTCA_ERR_NOT_FOUND);
    store_stats after;
    store_stats_get(s, &after);
    CU_ASSERT_EQUAL(after.reads_pooled, 6); /* five peeks, one read outside the transaction */
    store_close(s);
}

/* The pool's size is bounded, and its connections are opened when a read first needs one. */
static void
test_readers_bounds(void)
{
    store *s = NULL;
    store_options o = { .readers = STORE_READERS_MAX + 1 };
    test_fresh_url();
    UNIT_ASSERT_ERR(store_open_ex(&s, test_url, &o), ZTCA_ERR_BAD_INPUT);
    o.readers = -1;
    UNIT_ASSERT_ERR(store_open_ex(&s, test_url, &o), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(s);
    o.readers = 1;
    UNIT_ASSERT_OK(store_open_ex(&s, test_url, &o));
    store_stats st;
    store_stats_get(s, &st);
    CU_ASSERT_EQUAL(st.readers, 0); /* opened on demand only */
    test_insert(s, "bb01", "dev-a", T0 + 3600);
    store_cert c;
    UNIT_ASSERT_OK(store_cert_get(s, "bb01", true, &c));
    CU_ASSERT_EQUAL(c.der_len, sizeof(test_der));
    store_cert_free(&c);
    int64_t v = 0;
    UNIT_ASSERT_OK(store_schema_version(s, &v));
    CU_ASSERT_EQUAL(v, STORE_SCHEMA_VERSION);
    store_stats_get(s, &st);
    CU_ASSERT_EQUAL(st.readers, 1);
    CU_ASSERT_EQUAL(st.reads_pooled, 2);
    store_close(s);
}

/* ---- syncs outside the lock (SQLite; docs/store.md) ------------------------------------------
 * The driver's sync is wrapped so that a test can hold it (the disk is slow) or fail it (the disk
 * lost the write); everything else is the real SQLite driver. */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool hold;     /* syncs wait while set */
    bool fail;     /* syncs fail */
    int entered;   /* syncs started */
    int fail_from; /* > 0: the syncs from this one (counted by entered) on fail */
    int told;      /* on_sync_failed calls */
} test_sync = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0, 0, 0 };

static store_driver test_sync_drv;

static ztca_rc
test_sync_hook(store_conn *c)
{
    pthread_mutex_lock(&test_sync.mu);
    test_sync.entered++;
    pthread_cond_broadcast(&test_sync.cond);
    while (test_sync.hold) {
        pthread_cond_wait(&test_sync.cond, &test_sync.mu);
    }
    bool fail =
        test_sync.fail || (test_sync.fail_from > 0 && test_sync.entered >= test_sync.fail_from);
    pthread_mutex_unlock(&test_sync.mu);
    if (fail) {
        return ztca_note(ZTCA_ERR_STORE, __FILE__, __LINE__, "test: the disk lost the write", 0);
    }
    return store_driver_sqlite.sync(c);
}

static void
test_sync_told(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&test_sync.mu);
    test_sync.told++;
    pthread_mutex_unlock(&test_sync.mu);
}

/* test_sync_open: a SQLite store whose syncs go through test_sync_hook (NULL on PostgreSQL,
 * whose COMMIT syncs by itself). */
static store *
test_sync_open(void)
{
    if (test_backend != STORE_BACKEND_SQLITE) {
        return NULL;
    }
    test_fresh_url();
    store *s = NULL;
    store_options o = { .readers = test_readers, .on_sync_failed = test_sync_told };
    UNIT_ASSERT_OK(store_open_ex(&s, test_url, &o));
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->drv->sync);
    test_sync_drv = *s->drv;
    test_sync_drv.sync = test_sync_hook;
    s->drv = &test_sync_drv;
    pthread_mutex_lock(&test_sync.mu);
    test_sync.hold = false;
    test_sync.fail = false;
    test_sync.entered = 0;
    test_sync.fail_from = 0;
    test_sync.told = 0;
    pthread_mutex_unlock(&test_sync.mu);
    return s;
}

static void
test_sync_set(bool hold, bool fail)
{
    pthread_mutex_lock(&test_sync.mu);
    test_sync.hold = hold;
    test_sync.fail = fail;
    pthread_cond_broadcast(&test_sync.cond);
    pthread_mutex_unlock(&test_sync.mu);
}

/* test_sync_await_entered: until `n` syncs have started (10 s at most). */
static void
test_sync_await_entered(int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&test_sync.mu);
    while (test_sync.entered < n) {
        if (pthread_cond_timedwait(&test_sync.cond, &test_sync.mu, &until) != 0) {
            break;
        }
    }
    int entered = test_sync.entered;
    pthread_mutex_unlock(&test_sync.mu);
    CU_ASSERT_FATAL(entered >= n);
}

typedef struct test_sync_call {
    store *s;
    int what; /* 0: revoke c1; 1: status of c1; 2: poll the subscription; 3: insert a1 */
    store_sub *sub;
    test_bag bag;
    store_cert_state state;
    ztca_rc rc;
    atomic_bool returned;
} test_sync_call;

static void *
test_sync_thread(void *arg)
{
    test_sync_call *t = arg;
    if (t->what == 0) {
        store_audit_event ev = test_ev("cert.revoke", "c1");
        t->rc = store_cert_set_status(t->s, "c1", STORE_CERT_REVOKED, STORE_REASON_KEY_COMPROMISE,
                                      T0, &ev);
    } else if (t->what == 1) {
        t->rc = store_cert_status_get(t->s, "c1", &t->state);
    } else if (t->what == 3) {
        store_cert c;
        test_cert(&c, "a1", "dev-t", "alice", T0 + 3600);
        store_audit_event ev = test_ev("cert.issue", "a1");
        t->rc = store_cert_insert(t->s, &c, &ev);
    } else {
        size_t n = 0;
        t->rc = store_sub_poll(t->sub, 10000, test_bag_change, &t->bag, &n);
    }
    atomic_store(&t->returned, true);
    return NULL;
}

/* test_sync_begin: a store whose syncs test_sync_hook controls (NULL on PostgreSQL), holding
 * certificate c1, with a subscription from now and the counters at that point. */
static store *
test_sync_begin(store_sub **out_sub, store_stats *out_before)
{
    store *s = test_sync_open();
    if (s == NULL) {
        return NULL;
    }
    test_insert(s, "c1", "dev-a", T0 + 3600);
    UNIT_ASSERT_OK(store_sub_open(out_sub, s, STORE_SUB_FROM_NOW));
    store_stats_get(s, out_before);
    CU_ASSERT(out_before->syncs >= 1); /* the insert's */
    return s;
}

/* test_sync_sub_saw_revocation: the subscription's poll returned c1's revocation, and only it. */
static void
test_sync_sub_saw_revocation(const test_sync_call *p)
{
    UNIT_ASSERT_OK(p->rc);
    CU_ASSERT_EQUAL_FATAL(p->bag.num, 1);
    CU_ASSERT_STRING_EQUAL(p->bag.keys[0], "c1");
    CU_ASSERT_EQUAL(p->bag.status[0], STORE_CERT_REVOKED);
}

/* A revocation committed but not yet synced: its call does not return, and neither a read nor a
 * subscription hands it out, until the sync finishes; then all three see it. */
static void
test_sync_slow(void)
{
    store_sub *sub = NULL;
    store_stats before;
    store *s = test_sync_begin(&sub, &before);
    if (s == NULL) {
        return;
    }

    test_sync_set(true, false);
    int entered = test_sync.entered;
    test_sync_call w = { .s = s, .what = 0 }, r = { .s = s, .what = 1 },
                   p = { .s = s, .what = 2, .sub = sub };
    pthread_t tw, tr, tp;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tw, NULL, test_sync_thread, &w), 0);
    test_sync_await_entered(entered + 1); /* committed, now syncing */
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tr, NULL, test_sync_thread, &r), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tp, NULL, test_sync_thread, &p), 0);
    usleep(300 * 1000); /* ample for a read that would not wait */
    CU_ASSERT_FALSE(atomic_load(&w.returned));
    CU_ASSERT_FALSE(atomic_load(&r.returned));
    CU_ASSERT_FALSE(atomic_load(&p.returned));

    test_sync_set(false, false);
    pthread_join(tw, NULL);
    pthread_join(tr, NULL);
    pthread_join(tp, NULL);
    UNIT_ASSERT_OK(w.rc);
    UNIT_ASSERT_OK(r.rc);
    CU_ASSERT_EQUAL(r.state.status, STORE_CERT_REVOKED);
    test_sync_sub_saw_revocation(&p);

    store_stats mid;
    store_stats_get(s, &mid);
    CU_ASSERT(mid.read_waits >= before.read_waits + 1);
    /* Nothing waiting to be synced: a read goes straight through. */
    store_cert_state st;
    UNIT_ASSERT_OK(store_cert_status_get(s, "c1", &st));
    store_stats after;
    store_stats_get(s, &after);
    CU_ASSERT_EQUAL(after.read_waits, mid.read_waits);
    CU_ASSERT_EQUAL(after.syncs, mid.syncs);
    store_sub_close(sub);
    store_close(s);
}

/* test_sync_await_read_waits: until the handle counted `n` reads waiting for a sync (10 s). */
static void
test_sync_await_read_waits(store *s, uint64_t n)
{
    store_stats st;
    for (int i = 0; i < 10000; i++) {
        store_stats_get(s, &st);
        if (st.read_waits >= n) {
            return;
        }
        usleep(1000);
    }
    CU_FAIL_FATAL("no read waited for the sync");
}

/* A subscription waiting for a sync holds no snapshot meanwhile: one did (its first step's),
 * and a snapshot held through the writes keeps SQLite's checkpoints from copying them and the WAL
 * from starting over. Here a commit lands after the subscription started to wait; a checkpoint
 * from another connection must then copy every frame, which a reader's older snapshot forbids. */
static void
test_sync_sub_snapshot(void)
{
    store_sub *sub = NULL;
    store_stats before;
    store *s = test_sync_begin(&sub, &before);
    if (s == NULL) {
        return;
    }

    test_sync_set(true, false);
    int entered = test_sync.entered;
    test_sync_call w = { .s = s, .what = 0 }, p = { .s = s, .what = 2, .sub = sub },
                   i = { .s = s, .what = 3 };
    pthread_t tw, tp, ti;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tw, NULL, test_sync_thread, &w), 0);
    test_sync_await_entered(entered + 1); /* the revocation committed, its sync held */
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tp, NULL, test_sync_thread, &p), 0);
    test_sync_await_read_waits(s, before.read_waits + 1); /* the subscription waits */
    CU_ASSERT_EQUAL_FATAL(pthread_create(&ti, NULL, test_sync_thread, &i), 0);
    store_stats st;
    for (int n = 0; n < 10000; n++) { /* until the insert committed: it waits for a sync */
        store_stats_get(s, &st);
        if (st.commits >= before.commits + 2) {
            break;
        }
        usleep(1000);
    }
    CU_ASSERT_EQUAL_FATAL(st.commits, before.commits + 2);

    sqlite3 *db = NULL;
    int log = -1, copied = -2;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(test_path, &db), SQLITE_OK);
    /* A first read opens the WAL for this connection; a checkpoint alone would not. */
    CU_ASSERT_EQUAL(sqlite3_exec(db, "SELECT count(*) FROM certificates", NULL, NULL, NULL),
                    SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied),
                    SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT(log > 0);
    CU_ASSERT_EQUAL(copied, log);
    CU_ASSERT_FALSE(atomic_load(&p.returned));

    test_sync_set(false, false);
    pthread_join(tw, NULL);
    pthread_join(tp, NULL);
    pthread_join(ti, NULL);
    UNIT_ASSERT_OK(w.rc);
    UNIT_ASSERT_OK(i.rc);
    test_sync_sub_saw_revocation(&p);
    store_sub_close(sub);
    store_close(s);
}

/* The WAL's size, for the metrics: SQLite's -wal file as the file system has it; PostgreSQL has
 * none to show. */
static void
test_stats_wal(void)
{
    store *s = test_open();
    test_insert(s, "c1", "dev-a", T0 + 3600);
    store_stats st;
    store_stats_get(s, &st);
    if (test_backend != STORE_BACKEND_SQLITE) {
        CU_ASSERT_FALSE(st.has_wal);
        CU_ASSERT_EQUAL(st.wal_bytes, 0);
        store_close(s);
        return;
    }
    char wal[600];
    struct stat fs;
    snprintf(wal, sizeof(wal), "%s-wal", test_path);
    CU_ASSERT_EQUAL_FATAL(stat(wal, &fs), 0);
    CU_ASSERT(st.has_wal);
    CU_ASSERT(st.wal_bytes > 0);
    CU_ASSERT_EQUAL(st.wal_bytes, (uint64_t)fs.st_size);
    store_close(s);
}

/* A failed sync: the call whose commit it was gets STORE, the owner is told once, and the
 * handle refuses every call after (its commits may be gone from the disk). A new handle opens
 * the file and finds the audit chain intact. */
static void
test_sync_failure(void)
{
    store *s = test_sync_open();
    if (s == NULL) {
        return;
    }
    test_insert(s, "c1", "dev-a", T0 + 3600);
    test_insert(s, "c2", "dev-a", T0 + 3600);
    test_sync_set(false, true);
    store_audit_event ev = test_ev("cert.revoke", "c1");
    UNIT_ASSERT_ERR(
        store_cert_set_status(s, "c1", STORE_CERT_REVOKED, STORE_REASON_KEY_COMPROMISE, T0, &ev),
        ZTCA_ERR_STORE);
    CU_ASSERT_EQUAL(test_sync.told, 1);
    CU_ASSERT(strstr(store_errmsg(s), "sync") != NULL);

    test_sync_set(false, false); /* even with the disk back: refused */
    store_cert_state st;
    UNIT_ASSERT_ERR(store_cert_status_get(s, "c2", &st), ZTCA_ERR_STORE);
    ev = test_ev("cert.revoke", "c2");
    UNIT_ASSERT_ERR(
        store_cert_set_status(s, "c2", STORE_CERT_REVOKED, STORE_REASON_KEY_COMPROMISE, T0, &ev),
        ZTCA_ERR_STORE);
    CU_ASSERT_EQUAL(test_sync.told, 1);
    store_close(s);

    store *again = NULL;
    UNIT_ASSERT_OK(store_open(&again, test_url));
    UNIT_ASSERT_OK(store_cert_status_get(again, "c2", &st));
    CU_ASSERT_EQUAL(st.status, STORE_CERT_GOOD);
    CU_ASSERT(test_verify_count(again) >= 2);
    store_close(again);
}

typedef struct test_sync_writer {
    store *s;
    int id;
    int ok;        /* inserts that returned OK: serials <id><0000> up to ok - 1 */
    ztca_err last; /* the failure that stopped it */
} test_sync_writer;

static void *
test_sync_writer_thread(void *arg)
{
    test_sync_writer *w = arg;
    for (int j = 0; j < 200; j++) {
        char serial[32];
        snprintf(serial, sizeof(serial), "%02x%04x", w->id, j);
        store_cert c;
        test_cert(&c, serial, "dev-w", "alice", T0 + 3600);
        store_audit_event ev = test_ev("cert.issue", serial);
        ztca_rc rc = store_cert_insert(w->s, &c, &ev);
        if (!ZTCA_IS_OK(rc)) {
            w->last = rc.err;
            return NULL;
        }
        w->ok++;
    }
    return NULL;
}

/* Eight threads insert while the syncs start failing from the 20th on: batches are open,
 * committed and waiting at that moment. Every thread ends with STORE, the owner is told once,
 * and every insert that returned OK is in the file (sync_failure_in_batch builds the worst
 * order of this on purpose). */
static void
test_sync_failure_concurrent(void)
{
    store *s = test_sync_open();
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&test_sync.mu);
    test_sync.fail_from = 20;
    pthread_mutex_unlock(&test_sync.mu);
    enum { N = 8 };
    test_sync_writer w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (test_sync_writer){ .s = s, .id = i, .ok = 0, .last = ZTCA_OK };
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, test_sync_writer_thread, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].last, ZTCA_ERR_STORE);
        ok += w[i].ok;
    }
    CU_ASSERT_EQUAL(test_sync.told, 1);
    CU_ASSERT(ok > 0 && ok < N * 200);
    store_close(s);

    store *again = NULL;
    UNIT_ASSERT_OK(store_open(&again, test_url));
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < w[i].ok; j++) {
            char serial[32];
            snprintf(serial, sizeof(serial), "%02x%04x", i, j);
            store_cert_state st;
            UNIT_ASSERT_OK(store_cert_status_get(again, serial, &st));
        }
    }
    CU_ASSERT(test_verify_count(again) >= ok);
    store_close(again);
}

/* The order of a failure inside a batch: B finished its transaction and waits in a batch that
 * C, holding the handle, has not committed yet, when A's sync fails. B must keep waiting until
 * C's COMMIT has written B's outcome (B is linked in the batch until then), and then gets STORE
 * like everyone else. */
typedef struct test_sync_txn {
    store *s;
    const char *serial;
    atomic_int stage; /* 1: holds the handle (B: inserted); 2: go on and commit */
    atomic_bool returned;
    ztca_rc rc;
} test_sync_txn;

static void *
test_sync_txn_thread(void *arg)
{
    test_sync_txn *t = arg;
    t->rc = store_txn_begin(t->s);
    if (ZTCA_IS_OK(t->rc)) {
        store_cert c;
        test_cert(&c, t->serial, "dev-t", "alice", T0 + 3600);
        store_audit_event ev = test_ev("cert.issue", t->serial);
        t->rc = store_cert_insert(t->s, &c, &ev);
        atomic_store(&t->stage, 1);
        while (atomic_load(&t->stage) != 2) {
            usleep(1000);
        }
        ztca_rc rc = store_txn_commit(t->s);
        if (ZTCA_IS_OK(t->rc)) {
            t->rc = rc;
        }
    }
    atomic_store(&t->returned, true);
    return NULL;
}

/* test_sync_await_stage: until the thread reached stage 1 (10 s at most). */
static void
test_sync_await_stage(atomic_int *stage)
{
    for (int i = 0; i < 10000 && atomic_load(stage) != 1; i++) {
        usleep(1000);
    }
    CU_ASSERT_EQUAL_FATAL(atomic_load(stage), 1);
}

static void
test_sync_failure_in_batch(void)
{
    store *s = test_sync_open();
    if (s == NULL) {
        return;
    }
    s->gc_max_age_ns = 60LL * 1000000000LL; /* C joins B's batch, however slow this machine */
    test_sync_set(true, false);
    int entered = test_sync.entered;
    test_sync_call a = { .s = s, .what = 3 };
    pthread_t ta, tb, tc;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&ta, NULL, test_sync_thread, &a), 0);
    test_sync_await_entered(entered + 1); /* A committed, its sync held */

    test_sync_txn b = { .s = s, .serial = "b1" }, c = { .s = s, .serial = "c1" };
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tb, NULL, test_sync_txn_thread, &b), 0);
    test_sync_await_stage(&b.stage);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tc, NULL, test_sync_txn_thread, &c), 0);
    store_stats st;
    store_stats_get(s, &st);
    for (int i = 0; i < 10000 && st.queued != 1; i++) {
        usleep(1000);
        store_stats_get(s, &st);
    }
    CU_ASSERT_EQUAL_FATAL(st.queued, 1); /* C waits for the handle */
    atomic_store(&b.stage, 2);           /* B commits: C is queued, so B joins and waits */
    test_sync_await_stage(&c.stage);     /* C holds the handle, B's batch open */

    test_sync_set(false, true); /* A's sync fails */
    pthread_join(ta, NULL);
    UNIT_ASSERT_ERR(a.rc, ZTCA_ERR_STORE);
    usleep(200 * 1000);
    CU_ASSERT_FALSE(atomic_load(&b.returned));

    atomic_store(&c.stage, 2);
    pthread_join(tc, NULL);
    pthread_join(tb, NULL);
    UNIT_ASSERT_ERR(b.rc, ZTCA_ERR_STORE);
    UNIT_ASSERT_ERR(c.rc, ZTCA_ERR_STORE);
    CU_ASSERT_EQUAL(test_sync.told, 1);
    store_close(s);
}

static const unit_test test_store_tests[] = {
    { "url_parse", test_url_parse },
    { "json_check", test_json_check },
    { "open_migrate", test_open_migrate },
    { "refuse_newer_schema", test_refuse_newer_schema },
    { "open_errors", test_open_errors },
    { "cert_roundtrip", test_cert_roundtrip },
    { "cert_validation", test_cert_validation },
    { "cert_conflict", test_cert_conflict },
    { "cert_status", test_cert_status },
    { "cert_lists", test_cert_lists },
    { "cert_batch", test_cert_batch },
    { "cert_batch_bulk", test_cert_batch_bulk },
    { "device_lifecycle", test_device_lifecycle },
    { "users_agents", test_users_agents },
    { "tokens", test_tokens },
    { "token_race", test_token_race },
    { "sessions", test_sessions },
    { "signals", test_signals },
    { "trust_scores", test_trust_scores },
    { "audit_chain", test_audit_chain },
    { "audit_tamper", test_audit_tamper },
    { "change_feed", test_change_feed },
    { "fresh_reads_with_feed", test_fresh_reads_with_feed },
    { "oidc", test_oidc },
    { "txn", test_txn },
    { "concurrency", test_concurrency },
    { "group_many_threads", test_group_many_threads },
    { "group_failing_member", test_group_failing_member },
    { "purge", test_purge },
    { "oom", test_oom },
    { "readers_hammer", test_readers_hammer },
    { "readers_txn", test_readers_txn },
    { "readers_bounds", test_readers_bounds },
    { "pg_reconnect", test_pg_reconnect },
    { "sync_slow", test_sync_slow },
    { "sync_sub_snapshot", test_sync_sub_snapshot },
    { "stats_wal", test_stats_wal },
    { "sync_failure", test_sync_failure },
    { "sync_failure_concurrent", test_sync_failure_concurrent },
    { "sync_failure_in_batch", test_sync_failure_in_batch },
    { NULL, NULL },
};

static int test_pg_first; /* schemas ztca_t_<pid>_<n> for n > this are PostgreSQL's */

static void
test_pg_drop_schemas(void)
{
    for (int i = test_pg_first + 1; i <= test_counter; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS ztca_t_%d_%d CASCADE", (int)getpid(), i);
        PQclear(PQexec(test_pg_admin, sql));
    }
}

/* `test_store --child-insert URL SERIAL`: the other process of test_child_insert. */
static int
test_child_main(const char *url, const char *serial)
{
    store *b = NULL;
    store_cert c;
    test_cert(&c, serial, "dev-a", "alice", T0 + 86400);
    store_audit_event ev = test_ev("cert.issue", serial);
    bool ok = ZTCA_IS_OK(store_open(&b, url)) && ZTCA_IS_OK(store_cert_insert(b, &c, &ev));
    store_close(b);
    return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child-insert") == 0) {
        return test_child_main(argv[2], argv[3]);
    }
    int status = 0;
    snprintf(test_dir, sizeof(test_dir), "/tmp/ztca-test-store.XXXXXX");
    if (mkdtemp(test_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_backend = STORE_BACKEND_SQLITE;
    status |= unit_run("store_sqlite", test_store_tests);
    test_readers = 4;
    status |= unit_run("store_sqlite_readers", test_store_tests);
    test_readers = 0;

    test_pg_base = getenv("ZTCA_TEST_PG");
    if (test_pg_base != NULL && test_pg_base[0] != '\0') {
        test_pg_admin = PQconnectdb(test_pg_base);
        PQclear(PQexec(test_pg_admin, "SET client_min_messages = warning"));
        if (PQstatus(test_pg_admin) != CONNECTION_OK) {
            fprintf(stderr, "ZTCA_TEST_PG: cannot connect: %s", PQerrorMessage(test_pg_admin));
            status = 1;
        } else {
            test_backend = STORE_BACKEND_POSTGRESQL;
            test_pg_first = test_counter;
            status |= unit_run("store_postgresql", test_store_tests);
            test_readers = 4;
            status |= unit_run("store_postgresql_readers", test_store_tests);
            test_readers = 0;
            test_pg_drop_schemas();
        }
        PQfinish(test_pg_admin);
    } else {
        printf("store_postgresql: not run (set ZTCA_TEST_PG to a PostgreSQL URL)\n");
    }
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
    if (system(cmd) != 0) {
        status = 1;
    }
    return status;
}
