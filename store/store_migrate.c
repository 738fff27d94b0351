/* store_migrate.c: versioned schema migrations, applied at open. ztca_schema holds one row per
 * applied version. A node whose STORE_SCHEMA_VERSION is below the database's refuses to run:
 * it would misread tables a newer ztca changed. Migrations run in one write transaction
 * (PostgreSQL also takes an advisory lock, so nodes starting together migrate once); DDL is
 * transactional on both backends, so a failed migration leaves the previous version. */
#include <string.h>

#include "store/internal.h"

static ztca_rc
store_migrate_read(store *s, bool *out_exists, int64_t *out_version)
{
    store_rows *r = NULL;
    bool row = false;
    int64_t n = 0;
    ztca_rc rc = ZTCA_RC_OK;
    *out_exists = false;
    *out_version = 0;
    ZTCA_CHECK(store_query(s, STORE_STMT_SCHEMA_EXISTS, NULL, 0, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_STORE, "store: cannot read the catalog");
    ZTCA_CHECK(store_col_int(s, r, 0, &n));
    store_done(s, r);
    r = NULL;
    if (n == 0) {
        goto out;
    }
    *out_exists = true;
    ZTCA_CHECK(store_query(s, STORE_STMT_SCHEMA_VERSION, NULL, 0, &r));
    ZTCA_CHECK(store_step(s, r, &row));
    ZTCA_REQUIRE(row, ZTCA_ERR_STORE, "store: cannot read the schema version");
    ZTCA_CHECK(store_col_int(s, r, 0, out_version));
out:
    store_done(s, r);
    return rc;
}

static ztca_rc
store_migrate_apply(store *s, const store_migration *m, size_t num)
{
    bool exists = false;
    int64_t version = 0;
    ZTCA_GUARD(store_exec(s, STORE_STMT_MIGRATE_LOCK, NULL, 0, NULL));
    ZTCA_GUARD(s->drv->exec_script(s->conn, "CREATE TABLE IF NOT EXISTS ztca_schema ("
                                            "version BIGINT PRIMARY KEY, "
                                            "name TEXT NOT NULL, "
                                            "applied_at BIGINT NOT NULL)"));
    /* Again under the lock: another node may have migrated meanwhile. */
    ZTCA_GUARD(store_migrate_read(s, &exists, &version));
    ZTCA_ENSURE(version <= STORE_SCHEMA_VERSION, ZTCA_ERR_UNSUPPORTED,
                "store: the database schema is newer than this ztca knows (written by a newer "
                "ztca): upgrade ztca");
    for (size_t i = 0; i < num; i++) {
        if (m[i].version <= version) {
            continue;
        }
        ZTCA_GUARD(s->drv->exec_script(s->conn, m[i].sql));
        store_param p[3] = { store_p_int(m[i].version), store_p_text(m[i].name),
                             store_p_int(ztca_now()) };
        ZTCA_GUARD(store_exec(s, STORE_STMT_SCHEMA_RECORD, p, 3, NULL));
    }
    return ZTCA_RC_OK;
}

ztca_rc
store_migrate(store *s)
{
    const store_migration *m =
        s->parsed.backend == STORE_BACKEND_SQLITE ? store_migrations_sqlite : store_migrations_pg;
    size_t num = s->parsed.backend == STORE_BACKEND_SQLITE ? store_num_migrations_sqlite
                                                           : store_num_migrations_pg;
    ZTCA_ENSURE(num > 0 && m[num - 1].version == STORE_SCHEMA_VERSION, ZTCA_ERR_INTERNAL,
                "store: the compiled schema does not match STORE_SCHEMA_VERSION");

    /* Usually nothing to do: find that out without taking the write lock, so read-only nodes
     * and concurrent CLI runs do not queue behind each other. */
    bool exists = false;
    int64_t version = 0;
    ZTCA_GUARD(store_enter(s, STORE_READ));
    ztca_rc rc = store_leave(s, STORE_READ, store_migrate_read(s, &exists, &version));
    ZTCA_GUARD(rc);
    ZTCA_ENSURE(version <= STORE_SCHEMA_VERSION, ZTCA_ERR_UNSUPPORTED,
                "store: the database schema is newer than this ztca knows (written by a newer "
                "ztca): upgrade ztca");
    if (exists && version == STORE_SCHEMA_VERSION) {
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_migrate_apply(s, m, num));
}
