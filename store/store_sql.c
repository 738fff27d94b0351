/* store_sql.c: the statement table of internal.h, per backend. */
#include "store/internal.h"

/* The X-macro table concatenates literals on purpose and passes SQL text, not expressions. */
/* NOLINTBEGIN(bugprone-macro-parentheses,bugprone-suspicious-missing-comma) */
static const char *const store_sql_sqlite[STORE_STMT_COUNT] = {
#define STORE_SQL_SQLITE(name, sql, pg) [STORE_STMT_##name] = sql,
    STORE_STATEMENTS(STORE_SQL_SQLITE)
#undef STORE_SQL_SQLITE
};

/* NULL where PostgreSQL runs the SQLite text unchanged. */
static const char *const store_sql_pg[STORE_STMT_COUNT] = {
#define STORE_SQL_PG(name, sql, pg) [STORE_STMT_##name] = pg,
    STORE_STATEMENTS(STORE_SQL_PG)
#undef STORE_SQL_PG
};
/* NOLINTEND(bugprone-macro-parentheses,bugprone-suspicious-missing-comma) */

const char *
store_sql(store_backend backend, store_stmt id)
{
    if (backend == STORE_BACKEND_POSTGRESQL && store_sql_pg[id] != NULL) {
        return store_sql_pg[id];
    }
    return store_sql_sqlite[id];
}
