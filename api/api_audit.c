/* api_audit.c: the hash-chained audit log, read by administrators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

typedef struct api_audit_ctx {
    json_t *items;
    int64_t last;
    size_t num;
} api_audit_ctx;

static ztca_rc
api_audit_cb(void *ctx, const store_audit_entry *e)
{
    api_audit_ctx *a = ctx;
    char prev[2 * STORE_HASH_LEN + 1], hash[2 * STORE_HASH_LEN + 1];
    json_error_t err;
    ZTCA_GUARD(ztca_hex_encode(prev, sizeof(prev), e->prev_hash, STORE_HASH_LEN));
    ZTCA_GUARD(ztca_hex_encode(hash, sizeof(hash), e->hash, STORE_HASH_LEN));
    json_t *detail = json_loadb(e->detail, e->detail_len, 0, &err);
    json_t *o =
        json_pack("{s:I, s:o, s:s, s:s, s:s, s:o, s:s, s:s}", "seq", (json_int_t)e->seq, "at",
                  api_time_json(e->at), "actor", e->actor, "action", e->action, "subject",
                  e->subject, "detail", detail != NULL ? detail : json_string(e->detail),
                  "prev_hash", prev, "hash", hash);
    ZTCA_ENSURE(o != NULL && json_array_append_new(a->items, o) == 0, ZTCA_ERR_NOMEM,
                "audit: out of memory");
    a->last = e->seq;
    a->num++;
    return ZTCA_RC_OK;
}

ztca_rc
api_h_audit_list(api_req *r)
{
    char after_s[24], limit_s[16];
    bool present = false;
    int64_t after = 0;
    size_t limit = 100;
    ZTCA_GUARD(api_query(r, "after", after_s, sizeof(after_s), &present));
    if (present) {
        char *end = NULL;
        long long v = strtoll(after_s, &end, 10);
        ZTCA_ENSURE(end != after_s && *end == '\0' && v >= 0, ZTCA_ERR_BAD_INPUT,
                    "after must be an audit sequence number");
        after = v;
    }
    ZTCA_GUARD(api_query(r, "limit", limit_s, sizeof(limit_s), &present));
    if (present) {
        char *end = NULL;
        long v = strtol(limit_s, &end, 10);
        ZTCA_ENSURE(end != limit_s && *end == '\0' && v >= 1 && v <= STORE_LIST_MAX,
                    ZTCA_ERR_BAD_INPUT, "limit must be 1-1000");
        limit = (size_t)v;
    }
    api_audit_ctx a = { json_array(), 0, 0 };
    ZTCA_ENSURE(a.items != NULL, ZTCA_ERR_NOMEM, "audit: out of memory");
    ztca_rc rc = store_audit_list(r->app->store, after, limit, api_audit_cb, &a);
    if (!ZTCA_IS_OK(rc)) {
        json_decref(a.items);
        return rc;
    }
    api_reply_json(r, 200,
                   json_pack("{s:o, s:o}", "entries", a.items, "next",
                             a.num == limit ? json_integer(a.last) : json_null()));
    return ZTCA_RC_OK;
}
