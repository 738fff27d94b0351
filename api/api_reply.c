/* api_reply.c: answers: bytes, JSON, RFC 9457 problems, and the one table that maps result codes
 * to HTTP statuses (STYLE.md 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"

void
api_reply_header(api_req *r, const char *name, const char *value)
{
    if (r->reply != NULL) {
        MHD_add_response_header(r->reply, name, value);
    }
}

void
api_reply_bytes(api_req *r, unsigned status, const char *content_type, const void *data, size_t len)
{
    if (r->reply != NULL) {
        MHD_destroy_response(r->reply);
        r->reply = NULL;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        r->status = 500;
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (r->route == NULL || !r->route->public_http) {
        /* Answers of the API are about one caller at one moment: never cache them. */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
    r->reply = resp;
    r->status = status;
}

void
api_reply_queue_shared(api_req *r, unsigned status, struct MHD_Response *resp)
{
    if (r->reply != NULL) {
        MHD_destroy_response(r->reply);
        r->reply = NULL;
    }
    r->status = status;
    r->queue_result = MHD_queue_response(r->conn, status, resp);
    r->queued = true;
}

void
api_reply_json(api_req *r, unsigned status, json_t *obj)
{
    char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (text == NULL) {
        api_reply_problem(r, 500, "internal", "Internal error", "out of memory");
        return;
    }
    api_reply_bytes(r, status, "application/json", text, strlen(text));
    free(text);
}

void
api_reply_problem(api_req *r, unsigned status, const char *type, const char *title,
                  const char *detail)
{
    char type_uri[128];
    snprintf(type_uri, sizeof(type_uri), API_PROBLEM "%s", type);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type_uri, "title", title, "status",
                          (json_int_t)status, "instance", r->id);
    if (p != NULL && detail != NULL && detail[0] != '\0') {
        json_object_set_new(p, "detail", json_string(detail));
    }
    char *text = p != NULL ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(p);
    if (text == NULL) {
        static const char fallback[] = "{\"type\":\"" API_PROBLEM "internal\",\"status\":500}";
        api_reply_bytes(r, 500, "application/problem+json", fallback, sizeof(fallback) - 1);
        return;
    }
    api_reply_bytes(r, status, "application/problem+json", text, strlen(text));
    free(text);
}

void
api_reply_error(api_req *r, ztca_rc rc)
{
    const char *what = ztca_last_what();
    switch (rc.err) {
    case ZTCA_OK:
        api_reply_problem(r, 500, "internal", "Internal error", "no answer was produced");
        return;
    case ZTCA_ERR_BAD_INPUT:
        api_reply_problem(r, 400, "bad-request", "Bad request", what);
        return;
    case ZTCA_ERR_UNSUPPORTED:
        api_reply_problem(r, 400, "unsupported", "Not supported", what);
        return;
    case ZTCA_ERR_NOT_FOUND:
        api_reply_problem(r, 404, "not-found", "Not found", what);
        return;
    case ZTCA_ERR_DENIED:
        api_reply_problem(r, 403, "denied", "Denied by policy", what);
        return;
    case ZTCA_ERR_CONFLICT:
        api_reply_problem(r, 409, "conflict", "Conflict", what);
        return;
    case ZTCA_ERR_STORE:
        /* The store is away (restart, failover): a client may retry. */
        ztca_log(ZTCA_LOG_ERROR, "request_id=%s event=store_error what=\"%s\" where=%s", r->id,
                 what, ztca_last_where());
        api_reply_problem(r, 503, "unavailable", "Service unavailable",
                          "the store is unavailable; retry later");
        api_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "2");
        return;
    case ZTCA_ERR_UNAVAILABLE:
        /* The signer process is gone (docs/hardening.md): fail closed, never sign in-process. */
        ztca_log(ZTCA_LOG_ERROR, "request_id=%s event=unavailable what=\"%s\" where=%s", r->id,
                 what, ztca_last_where());
        api_reply_problem(r, 503, "unavailable", "Service unavailable", what);
        api_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "30");
        return;
    case ZTCA_ERR_NOMEM:
    case ZTCA_ERR_CRYPTO:
    case ZTCA_ERR_TPM:
    case ZTCA_ERR_IO:
    case ZTCA_ERR_INTERNAL:
        break;
    }
    ztca_log(ZTCA_LOG_ERROR,
             "request_id=%s event=internal_error code=%s what=\"%s\" where=%s "
             "foreign=%ld",
             r->id, ztca_err_name(rc.err), what, ztca_last_where(), ztca_last_foreign());
    api_reply_problem(r, 500, "internal", "Internal error",
                      "the server failed; the request id is in its log");
}

ztca_rc
api_require_json(api_req *r)
{
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = ct != NULL ? strcspn(ct, "; ") : 0;
    if (ct == NULL || n != strlen("application/json")
        || strncasecmp(ct, "application/json", n) != 0) {
        api_reply_problem(r, 415, "unsupported-media-type", "Unsupported media type",
                          "send Content-Type: application/json");
        return ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "content type", 0);
    }
    return ZTCA_RC_OK;
}

void
api_reply_decode_error(api_req *r, const char *type)
{
    const char *title = strcmp(type, "invalid-json") == 0 ? "Invalid JSON"
                        : strcmp(type, "bad-reason") == 0 ? "Unknown reason"
                                                          : "Invalid field";
    api_reply_problem(r, 400, type, title, ztca_last_what());
}
