/* store_purge.c: retention. Rows that expired before the cutoff go in small transactions, each
 * deleting at most `batch_size` rows picked through an index, so a writer waits at most one batch
 * and readers never wait (SQLite WAL readers see their snapshot; PostgreSQL MVCC). */
#include <string.h>

#include "store/internal.h"

/* store_purge_one: one batch of one statement in its own write call; *out_num rows went. A
 * certificate's body goes with it (ON DELETE CASCADE). */
static ztca_rc
store_purge_one(store *s, store_stmt id, ztca_time cutoff, size_t batch, int64_t *out_num)
{
    store_param p[2] = { store_p_int(cutoff), store_p_int((int64_t)batch) };
    *out_num = 0;
    ZTCA_GUARD(store_enter(s, STORE_WRITE));
    return store_leave(s, STORE_WRITE, store_exec(s, id, p, 2, out_num));
}

ztca_rc
store_purge(store *s, ztca_time cutoff, size_t batch_size, size_t max_batches,
            store_purge_stats *out)
{
    memset(out, 0, sizeof(*out));
    ZTCA_ENSURE(batch_size > 0 && batch_size <= 10000, ZTCA_ERR_BAD_INPUT,
                "store: purge batch size must be 1-10000");
    static const struct {
        store_stmt id;
        int target; /* 0 certs, 1 tokens, 2 signals, 3 changes */
    } steps[] = {
        { STORE_STMT_CERT_PURGE, 0 },    { STORE_STMT_PURGE_SESSIONS, 1 },
        { STORE_STMT_PURGE_TOKENS, 1 },  { STORE_STMT_PURGE_SIGNALS, 2 },
        { STORE_STMT_PURGE_CHANGES, 3 },
    };
    size_t batches = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        for (;;) {
            if (max_batches != 0 && batches == max_batches) {
                return ZTCA_RC_OK;
            }
            int64_t n = 0;
            ZTCA_GUARD(store_purge_one(s, steps[i].id, cutoff, batch_size, &n));
            batches++;
            size_t *count = steps[i].target == 0   ? &out->certs
                            : steps[i].target == 1 ? &out->tokens
                            : steps[i].target == 2 ? &out->signals
                                                   : &out->changes;
            *count += (size_t)n;
            if ((size_t)n < batch_size) {
                break;
            }
        }
    }
    return ZTCA_RC_OK;
}
