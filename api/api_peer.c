/* api_peer.c: who is calling. libmicrohttpd asks for a client certificate but never requires one,
 * and GnuTLS checks only that the client holds its key (../shared/notes/MHD.md): the chain (to our
 * CA, with clientAuth) is checked here per request, then revocation against the store. */
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

void
api_peer_get(api_req *r)
{
    if (r->peer_checked) {
        return;
    }
    r->peer_checked = true;
    memset(&r->peer, 0, sizeof(r->peer));
    if (!r->https) {
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL) {
        return;
    }
    gnutls_session_t session = (gnutls_session_t)ci->tls_session;
    unsigned num = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &num);
    if (chain == NULL || num == 0) {
        return;
    }
    /* verify_peers (not verify_peers2) so the key purpose is checked: a server certificate of
     * the same CA is not a client identity. */
    gnutls_typed_vdata_st vdata = { GNUTLS_DT_KEY_PURPOSE_OID,
                                    (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT, 0 };
    unsigned status = 0;
    if (gnutls_certificate_verify_peers(session, &vdata, 1, &status) < 0 || status != 0) {
        return;
    }
    ca_cert_info info;
    ca_spiffe id;
    if (!ZTCA_IS_OK(ca_cert_info_parse(&info, chain[0].data, chain[0].size))
        || !ZTCA_IS_OK(ca_spiffe_parse(&id, info.uri, r->cfg->trust_domain))) {
        return;
    }
    api_peer *p = &r->peer;
    snprintf(p->uri, sizeof(p->uri), "%s", info.uri);
    snprintf(p->serial, sizeof(p->serial), "%s", info.serial_hex);
    snprintf(p->device_id, sizeof(p->device_id), "%s", id.device_id);
    snprintf(p->user, sizeof(p->user), "%s", id.user);
    snprintf(p->kind, sizeof(p->kind), "%s", ca_profile_get(id.kind)->name);
    p->verified = true;
}

ztca_rc
api_peer_require(api_req *r, const char *kind)
{
    api_peer_get(r);
    if (!r->peer.verified) {
        api_reply_problem(r, 401, "client-certificate-required", "Client certificate required",
                          "present a valid client certificate of this CA");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "no client certificate", 0);
    }
    /* A certificate that chains to us but is revoked, on hold, or unknown to the store (never
     * issued by this CA's records) authenticates no one. */
    store_cert_state st;
    ztca_rc rc = store_cert_status_get(r->app->store, r->peer.serial, &st);
    if (rc.err == ZTCA_ERR_STORE) {
        return rc;
    }
    if (!ZTCA_IS_OK(rc) || st.status != STORE_CERT_GOOD) {
        api_reply_problem(r, 401, "certificate-revoked", "Certificate not valid",
                          "the client certificate is revoked, on hold, or unknown");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "revoked client certificate", 0);
    }
    /* Authentication first (401 above), then authorization: a valid certificate of another
     * kind is refused here. */
    if (kind != NULL && strcmp(r->peer.kind, kind) != 0) {
        api_reply_problem(r, 403, "forbidden", "Forbidden",
                          "this certificate may not use this route");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "wrong certificate kind", 0);
    }
    return ZTCA_RC_OK;
}

ztca_rc
api_peer_require_feeder(api_req *r)
{
    ZTCA_GUARD(api_peer_require(r, NULL));
    if (strcmp(r->peer.kind, "admin") != 0 && strcmp(r->peer.kind, "signal-feeder") != 0) {
        api_reply_problem(r, 403, "forbidden", "Forbidden",
                          "only administrators and signal feeders may post trust signals");
        return ZTCA_NOTE(ZTCA_ERR_DENIED, "wrong certificate kind", 0);
    }
    return ZTCA_RC_OK;
}
