/* api_devices.c: device inventory and device revocation for administrators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

static json_t *
api_device_json(const store_device *d)
{
    json_error_t err;
    json_t *facts = d->facts != NULL ? json_loads(d->facts, 0, &err) : NULL;
    char ek[2 * STORE_HASH_LEN + 1] = "";
    if (d->has_ek && !ZTCA_IS_OK(ztca_hex_encode(ek, sizeof(ek), d->ek_pub_hash, STORE_HASH_LEN))) {
        ek[0] = '\0';
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "device_id", d->id, "status",
                     d->status == STORE_DISABLED ? "revoked" : "active", "ek_pub_sha256",
                     d->has_ek ? json_string(ek) : json_null(), "facts",
                     facts != NULL ? facts : json_object(), "created_at",
                     api_time_json(d->created_at), "updated_at", api_time_json(d->updated_at));
}

typedef struct api_dev_list {
    json_t *items;
    char last[STORE_NAME_MAX + 1];
    size_t num;
} api_dev_list;

static ztca_rc
api_devices_list_cb(void *ctx, const store_device *d)
{
    api_dev_list *l = ctx;
    json_t *o = api_device_json(d);
    ZTCA_ENSURE(o != NULL && json_array_append_new(l->items, o) == 0, ZTCA_ERR_NOMEM,
                "list: out of memory");
    snprintf(l->last, sizeof(l->last), "%s", d->id);
    l->num++;
    return ZTCA_RC_OK;
}

ztca_rc
api_h_devices_list(api_req *r)
{
    char after[STORE_NAME_MAX + 1], limit_s[16];
    bool present = false;
    size_t limit = 100;
    ZTCA_GUARD(api_query(r, "after", after, sizeof(after), &present));
    if (!present) {
        after[0] = '\0';
    }
    ZTCA_GUARD(api_query(r, "limit", limit_s, sizeof(limit_s), &present));
    if (present) {
        char *end = NULL;
        long v = strtol(limit_s, &end, 10);
        ZTCA_ENSURE(end != limit_s && *end == '\0' && v >= 1 && v <= STORE_LIST_MAX,
                    ZTCA_ERR_BAD_INPUT, "limit must be 1-1000");
        limit = (size_t)v;
    }
    api_dev_list l = { json_array(), "", 0 };
    ZTCA_ENSURE(l.items != NULL, ZTCA_ERR_NOMEM, "list: out of memory");
    ztca_rc rc = store_device_list(r->app->store, after, limit, api_devices_list_cb, &l);
    if (!ZTCA_IS_OK(rc)) {
        json_decref(l.items);
        return rc;
    }
    api_reply_json(r, 200,
                   json_pack("{s:o, s:o}", "devices", l.items, "next",
                             l.num == limit ? json_string(l.last) : json_null()));
    return ZTCA_RC_OK;
}

static ztca_rc
api_device_certs_cb(void *ctx, const store_cert *c)
{
    json_t *items = ctx;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "serial", c->serial, "profile", c->profile,
                          "user", c->user, "status", api_cert_status_name(c->status), "not_after",
                          api_time_json(c->not_after));
    ZTCA_ENSURE(o != NULL && json_array_append_new(items, o) == 0, ZTCA_ERR_NOMEM,
                "list: out of memory");
    return ZTCA_RC_OK;
}

static ztca_rc
api_device_agents_cb(void *ctx, const store_agent *a)
{
    json_t *items = ctx;
    json_t *o = json_pack("{s:s, s:s, s:o}", "user", a->user, "status",
                          a->status == STORE_DISABLED ? "disabled" : "active", "last_seen",
                          api_time_json(a->last_seen));
    ZTCA_ENSURE(o != NULL && json_array_append_new(items, o) == 0, ZTCA_ERR_NOMEM,
                "list: out of memory");
    return ZTCA_RC_OK;
}

static ztca_rc
api_device_changed_cb(void *ctx, const store_cert *c)
{
    api_server_status_changed(ctx, c->serial);
    return ZTCA_RC_OK;
}

static bool
api_device_id_ok(api_req *r)
{
    if (ca_name_is_valid(r->params[0])) {
        return true;
    }
    api_reply_problem(r, 400, "bad-device-id", "Malformed device id",
                      "a device id is 1-64 of [A-Za-z0-9._-]");
    return false;
}

ztca_rc
api_h_devices_get(api_req *r)
{
    store_device d;
    if (!api_device_id_ok(r)) {
        return ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "device id", 0);
    }
    store_device_init(&d);
    ztca_rc rc = store_device_get(r->app->store, r->params[0], &d);
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        api_reply_problem(r, 404, "not-found", "Not found", "no device with this id");
        return rc;
    }
    ZTCA_GUARD(rc);
    json_t *o = api_device_json(&d);
    store_device_free(&d);
    json_t *certs = json_array(), *agents = json_array();
    if (o == NULL || certs == NULL || agents == NULL) {
        json_decref(o);
        json_decref(certs);
        json_decref(agents);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "device: out of memory");
    }
    json_object_set_new(o, "certificates", certs);
    json_object_set_new(o, "agents", agents);
    rc = store_cert_list_by_device(r->app->store, r->params[0], api_device_certs_cb, certs);
    if (ZTCA_IS_OK(rc)) {
        rc = store_agent_list_by_device(r->app->store, r->params[0], api_device_agents_cb, agents);
    }
    /* docs/trust.md: each score with the signals that made it (explainable). */
    if (ZTCA_IS_OK(rc)) {
        json_t *t = api_trust_json(r->app->store, r->params[0], "", &rc);
        json_object_set_new(o, "trust", t);
    }
    for (size_t i = 0; ZTCA_IS_OK(rc) && i < json_array_size(agents); i++) {
        json_t *a = json_array_get(agents, i);
        json_t *t = api_trust_json(r->app->store, r->params[0],
                                   json_string_value(json_object_get(a, "user")), &rc);
        json_object_set_new(a, "trust", t);
    }
    if (!ZTCA_IS_OK(rc)) {
        json_decref(o);
        return rc;
    }
    api_reply_json(r, 200, o);
    return ZTCA_RC_OK;
}

ztca_rc
api_h_devices_revoke(api_req *r)
{
    int reason = STORE_REASON_KEY_COMPROMISE; /* DESIGN.md 4: the default for a device */
    char actor[STORE_NAME_MAX + 1];
    char detail[128];
    size_t num = 0;
    if (!api_device_id_ok(r)) {
        return ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "device id", 0);
    }
    if (r->body_len > 0) {
        ZTCA_GUARD(api_require_json(r));
    }
    const char *type = NULL;
    ztca_rc drc = api_decode_revoke(r->body, r->body_len, true, &reason, &type);
    if (!ZTCA_IS_OK(drc)) {
        api_reply_decode_error(r, type);
        return drc;
    }
    api_actor(r, actor, sizeof(actor));
    snprintf(detail, sizeof(detail), "{\"reason\":\"%s\"}", api_reason_name(reason));
    store_audit_event ev = {
        .actor = actor, .action = "device.revoke", .subject = r->params[0], .detail = detail
    };
    ztca_rc rc = store_device_set_status(r->app->store, r->params[0], STORE_DISABLED, reason,
                                         ztca_now(), &ev, &num);
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        api_reply_problem(r, 404, "not-found", "Not found", "no device with this id");
        return rc;
    }
    if (rc.err == ZTCA_ERR_CONFLICT) {
        api_reply_problem(r, 409, "already-revoked", "Already revoked",
                          "the device is already revoked");
        return rc;
    }
    ZTCA_GUARD(rc);
    /* Every certificate of the device, at once on this node (the feed tells the others). */
    if (!ZTCA_IS_OK(store_cert_list_by_device(r->app->store, r->params[0], api_device_changed_cb,
                                              r->srv))) {
        ztca_log(ZTCA_LOG_WARN, "request_id=%s event=evict_failed what=\"%s\"", r->id,
                 ztca_last_what()); /* the change feed evicts them within one poll */
    }
    api_reply_json(r, 200,
                   json_pack("{s:s, s:s, s:s, s:I}", "device_id", r->params[0], "status", "revoked",
                             "reason", api_reason_name(reason), "certificates_revoked",
                             (json_int_t)num));
    return ZTCA_RC_OK;
}

/* POST /v1/devices: pre-registers a TPM without an EK certificate (docs/attestation.md
 * "Pre-registering EK public keys"). */
ztca_rc
api_h_devices_allow(api_req *r)
{
    api_device_allow_req req;
    char actor[STORE_NAME_MAX + 1], id[CA_NAME_MAX + 1], detail[256];
    attest_reason ar = ATTEST_OK;
    const char *type = NULL;
    ZTCA_GUARD(api_require_json(r));
    ztca_rc rc = api_decode_device_allow(r->body, r->body_len, &req, &type);
    if (!ZTCA_IS_OK(rc)) {
        api_reply_decode_error(r, type);
        return rc;
    }
    api_actor(r, actor, sizeof(actor));
    enroll_env env;
    memset(&env, 0, sizeof(env));
    env.st = r->app->store;
    enroll_ek_allow_req in = { .ek_public = req.ek_public.p,
                               .ek_public_len = req.ek_public.len,
                               .note = req.note[0] != '\0' ? req.note : NULL,
                               .facts = req.facts,
                               .actor = actor };
    rc = enroll_ek_allow(&env, &in, id, sizeof(id), &ar);
    api_device_allow_req_free(&req);
    if (!ZTCA_IS_OK(rc) && ar != ATTEST_OK && ar != ATTEST_R_INTERNAL) {
        /* The reason names the check, as an enrollment refusal would (docs/attestation.md). */
        snprintf(detail, sizeof(detail), "%s: %s", attest_reason_name(ar), attest_reason_text(ar));
        api_reply_problem(r, 400, "invalid-ek-public", "Not an EK public area", detail);
        return rc;
    }
    if (rc.err == ZTCA_ERR_CONFLICT) {
        api_reply_problem(r, 409, "device-exists", "Device exists",
                          "a device with this EK is already on record");
        return rc;
    }
    ZTCA_GUARD(rc);
    api_reply_json(
        r, 201,
        json_pack("{s:s, s:s, s:s}", "device_id", id, "status", "active", "ek", "registered"));
    return ZTCA_RC_OK;
}
