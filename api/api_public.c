/* api_public.c: the routes anyone may call, on both listeners: health, metrics, trust anchors. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

ztca_rc
api_h_healthz(api_req *r)
{
    /* Liveness plus the one dependency that matters: can the store answer? Without it the node
     * still serves cached OCSP and authz answers (fail static, docs/scaling.md), so it stays
     * in rotation: 200, and the body says degraded. */
    int64_t version = 0;
    bool store_ok = ZTCA_IS_OK(store_schema_version(r->app->store, &version));
    json_t *obj =
        json_pack("{s:s, s:s, s:s}", "status", store_ok ? "ok" : "degraded", "store",
                  store_ok ? "ok" : "unavailable", "role", r->app->read_only ? "ocsp" : "all");
    api_reply_json(r, 200, obj);
    return ZTCA_RC_OK;
}

ztca_rc
api_h_metrics(api_req *r)
{
    char *text = NULL;
    size_t len = 0;
    ZTCA_GUARD(api_metrics_render(r->app->store, api_server_ocsp(r->srv), &text, &len));
    api_reply_bytes(r, 200, "text/plain; version=0.0.4", text, len);
    ztca_free(text);
    return ZTCA_RC_OK;
}

ztca_rc
api_h_root_pem(api_req *r)
{
    api_reply_bytes(r, 200, "application/x-pem-file", r->app->root_pem, strlen(r->app->root_pem));
    return ZTCA_RC_OK;
}

ztca_rc
api_h_chain_pem(api_req *r)
{
    api_reply_bytes(r, 200, "application/x-pem-file", r->app->chain_pem, strlen(r->app->chain_pem));
    return ZTCA_RC_OK;
}
