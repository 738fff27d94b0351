/* api_certs.c: certificate inventory and revocation for administrators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

#define API_LIST_DEFAULT 100

/* ?limit=N (1..STORE_LIST_MAX) and ?after=CURSOR for keyset pagination. */
static ztca_rc
api_page(api_req *r, char *after, size_t after_size, size_t *out_limit)
{
    char limit[16];
    bool present = false;
    ZTCA_GUARD(api_query(r, "after", after, after_size, &present));
    if (!present) {
        after[0] = '\0';
    }
    ZTCA_GUARD(api_query(r, "limit", limit, sizeof(limit), &present));
    *out_limit = API_LIST_DEFAULT;
    if (present) {
        char *end = NULL;
        long v = strtol(limit, &end, 10);
        ZTCA_ENSURE(end != limit && *end == '\0' && v >= 1 && v <= STORE_LIST_MAX,
                    ZTCA_ERR_BAD_INPUT, "limit must be 1-1000");
        *out_limit = (size_t)v;
    }
    return ZTCA_RC_OK;
}

static json_t *
api_cert_json(const store_cert *c)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "serial", c->serial,
                          "profile", c->profile, "device_id", c->device_id, "user", c->user,
                          "status", api_cert_status_name(c->status), "not_before",
                          api_time_json(c->not_before), "not_after", api_time_json(c->not_after),
                          "issued_at", api_time_json(c->issued_at));
    if (o != NULL && c->status != STORE_CERT_GOOD) {
        const char *reason = api_reason_name(c->reason);
        json_object_set_new(o, "revoked_at", api_time_json(c->revoked_at));
        json_object_set_new(o, "reason", reason != NULL ? json_string(reason) : json_null());
    }
    return o;
}

typedef struct api_list_ctx {
    json_t *items;
    char last[STORE_NAME_MAX + 1];
    size_t num;
} api_list_ctx;

static ztca_rc
api_certs_list_cb(void *ctx, const store_cert *c)
{
    api_list_ctx *l = ctx;
    json_t *o = api_cert_json(c);
    ZTCA_ENSURE(o != NULL && json_array_append_new(l->items, o) == 0, ZTCA_ERR_NOMEM,
                "list: out of memory");
    snprintf(l->last, sizeof(l->last), "%s", c->serial);
    l->num++;
    return ZTCA_RC_OK;
}

ztca_rc
api_h_certs_list(api_req *r)
{
    char after[STORE_SERIAL_MAX + 1];
    size_t limit = 0;
    ZTCA_GUARD(api_page(r, after, sizeof(after), &limit));
    ZTCA_ENSURE(after[0] == '\0' || store_serial_is_valid(after), ZTCA_ERR_BAD_INPUT,
                "after must be a serial (lowercase hex)");
    api_list_ctx l = { json_array(), "", 0 };
    ZTCA_ENSURE(l.items != NULL, ZTCA_ERR_NOMEM, "list: out of memory");
    ztca_rc rc = store_cert_list(r->app->store, after, limit, api_certs_list_cb, &l);
    if (!ZTCA_IS_OK(rc)) {
        json_decref(l.items);
        return rc;
    }
    json_t *reply = json_pack("{s:o, s:o}", "certificates", l.items, "next",
                              l.num == limit ? json_string(l.last) : json_null());
    api_reply_json(r, 200, reply);
    return ZTCA_RC_OK;
}

/* The serial of the path: malformed is 400, unknown 404 (no difference in timing matters:
 * serials are not secrets). */
static ztca_rc
api_serial_param(api_req *r, const char **out)
{
    const char *serial = r->params[0];
    if (!store_serial_is_valid(serial)) {
        api_reply_problem(r, 400, "bad-serial", "Malformed serial",
                          "a serial is 2-40 lowercase hex digits");
        return ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "serial", 0);
    }
    *out = serial;
    return ZTCA_RC_OK;
}

ztca_rc
api_h_certs_get(api_req *r)
{
    const char *serial = NULL;
    store_cert c;
    char *pem = NULL;
    size_t pem_len = 0;
    ZTCA_GUARD(api_serial_param(r, &serial));
    store_cert_init(&c);
    ztca_rc rc = store_cert_get(r->app->store, serial, true, &c);
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        api_reply_problem(r, 404, "not-found", "Not found", "no certificate with this serial");
        return rc;
    }
    ZTCA_GUARD(rc);
    rc = ztca_pem_encode(&pem, &pem_len, "CERTIFICATE", c.der, c.der_len);
    if (ZTCA_IS_OK(rc)) {
        json_t *o = api_cert_json(&c);
        if (o != NULL) {
            json_object_set_new(o, "certificate", json_string(pem));
        }
        api_reply_json(r, 200, o);
    }
    ztca_free(pem);
    store_cert_free(&c);
    return rc;
}

ztca_rc
api_h_certs_revoke(api_req *r)
{
    const char *serial = NULL;
    int reason = STORE_REASON_UNSPECIFIED;
    char actor[STORE_NAME_MAX + 1];
    char detail[128];
    const char *type = NULL;
    ZTCA_GUARD(api_serial_param(r, &serial));
    if (r->body_len > 0) {
        ZTCA_GUARD(api_require_json(r));
    }
    ztca_rc drc = api_decode_revoke(r->body, r->body_len, false, &reason, &type);
    if (!ZTCA_IS_OK(drc)) {
        api_reply_decode_error(r, type);
        return drc;
    }
    store_cert_status status =
        reason == STORE_REASON_CERTIFICATE_HOLD ? STORE_CERT_HOLD : STORE_CERT_REVOKED;
    api_actor(r, actor, sizeof(actor));
    snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", api_reason_name(reason));
    store_audit_event ev = {
        .actor = actor, .action = "cert.revoke", .subject = serial, .detail = detail
    };
    ztca_time now = ztca_now();
    ztca_rc rc =
        store_cert_set_status(r->app->store, serial, status,
                              status == STORE_CERT_HOLD ? STORE_REASON_NONE : reason, now, &ev);
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        api_reply_problem(r, 404, "not-found", "Not found", "no certificate with this serial");
        return rc;
    }
    if (rc.err == ZTCA_ERR_CONFLICT) {
        api_reply_problem(r, 409, "already-revoked", "Already revoked",
                          "the certificate is already revoked (or on hold)");
        return rc;
    }
    ZTCA_GUARD(rc);
    json_t *reply =
        json_pack("{s:s, s:s, s:s, s:o}", "serial", serial, "status", api_cert_status_name(status),
                  "reason", api_reason_name(reason), "revoked_at", api_time_json(now));
    api_reply_json(r, 200, reply);
    return ZTCA_RC_OK;
}
