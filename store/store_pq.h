/* store_pq.h: libpq, loaded when a PostgreSQL store is first used (docs/performance.md "Memory").
 *
 * Linking libpq loads it and what it needs (Kerberos, LDAP, SASL, libssl) into every ztca
 * process, about 1.3 MB of RSS each, though the default store is SQLite. So ztca opens libpq.so.5
 * with dlopen at the first postgresql:// URL and calls it through this table; the rest of the
 * code keeps libpq's own names, which the macros below send to the table. Include this instead of
 * <libpq-fe.h>, and call store_pq_load() before the first PQ call. */
#ifndef ZTCA_STORE_PQ_H
#define ZTCA_STORE_PQ_H

#include <libpq-fe.h>

#include "core/core.h"

/* Every libpq function ztca calls: X(name). */
#define STORE_PQ_FUNCS(X)   \
    X(PQclear)              \
    X(PQcmdStatus)          \
    X(PQcmdTuples)          \
    X(PQconnectdbParams)    \
    X(PQconninfoFree)       \
    X(PQconninfoParse)      \
    X(PQconsumeInput)       \
    X(PQenterPipelineMode)  \
    X(PQerrorMessage)       \
    X(PQexec)               \
    X(PQexecPrepared)       \
    X(PQexitPipelineMode)   \
    X(PQfinish)             \
    X(PQfreemem)            \
    X(PQftype)              \
    X(PQgetisnull)          \
    X(PQgetlength)          \
    X(PQgetResult)          \
    X(PQgetvalue)           \
    X(PQnotifies)           \
    X(PQntuples)            \
    X(PQpipelineSync)       \
    X(PQprepare)            \
    X(PQputCopyData)        \
    X(PQputCopyEnd)         \
    X(PQresultErrorField)   \
    X(PQresultErrorMessage) \
    X(PQresultStatus)       \
    X(PQsendQueryParams)    \
    X(PQsendQueryPrepared)  \
    X(PQserverVersion)      \
    X(PQsocket)             \
    X(PQstatus)

typedef struct store_pq_fns {
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a declarator, not an expression */
#define STORE_PQ_MEMBER(name) __typeof__(name) *name;
    STORE_PQ_FUNCS(STORE_PQ_MEMBER)
#undef STORE_PQ_MEMBER
} store_pq_fns;

/* Filled once by store_pq_load (pthread_once), read-only after. */
extern store_pq_fns store_pq;

/* store_pq_load: opens libpq.so.5 and finds every function, once per process. UNSUPPORTED with
 * the reason when libpq is not installed or lacks a function (libpq 14 or later is needed for
 * pipeline mode). */
ZTCA_RC store_pq_load(void);

#ifndef STORE_PQ_IMPL
#define PQclear              store_pq.PQclear
#define PQcmdStatus          store_pq.PQcmdStatus
#define PQcmdTuples          store_pq.PQcmdTuples
#define PQconnectdbParams    store_pq.PQconnectdbParams
#define PQconninfoFree       store_pq.PQconninfoFree
#define PQconninfoParse      store_pq.PQconninfoParse
#define PQconsumeInput       store_pq.PQconsumeInput
#define PQenterPipelineMode  store_pq.PQenterPipelineMode
#define PQerrorMessage       store_pq.PQerrorMessage
#define PQexec               store_pq.PQexec
#define PQexecPrepared       store_pq.PQexecPrepared
#define PQexitPipelineMode   store_pq.PQexitPipelineMode
#define PQfinish             store_pq.PQfinish
#define PQfreemem            store_pq.PQfreemem
#define PQftype              store_pq.PQftype
#define PQgetisnull          store_pq.PQgetisnull
#define PQgetlength          store_pq.PQgetlength
#define PQgetResult          store_pq.PQgetResult
#define PQgetvalue           store_pq.PQgetvalue
#define PQnotifies           store_pq.PQnotifies
#define PQntuples            store_pq.PQntuples
#define PQpipelineSync       store_pq.PQpipelineSync
#define PQprepare            store_pq.PQprepare
#define PQputCopyData        store_pq.PQputCopyData
#define PQputCopyEnd         store_pq.PQputCopyEnd
#define PQresultErrorField   store_pq.PQresultErrorField
#define PQresultErrorMessage store_pq.PQresultErrorMessage
#define PQresultStatus       store_pq.PQresultStatus
#define PQsendQueryParams    store_pq.PQsendQueryParams
#define PQsendQueryPrepared  store_pq.PQsendQueryPrepared
#define PQserverVersion      store_pq.PQserverVersion
#define PQsocket             store_pq.PQsocket
#define PQstatus             store_pq.PQstatus
#endif

#endif
