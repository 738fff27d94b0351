/* api_peer.c: who is calling. libmicrohttpd asks for a client certificate but never requires one,
 * and GnuTLS checks only that the client holds its key (../shared/notes/MHD.md): the chain (to our
 * CA, with clientAuth) is checked here, once per connection and chain (api_conn), then
 * revocation against the store on every request. */
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

void
api_conn_free(api_conn *c)
{
    if (c != NULL) {
        free(c->chain);
        free(c);
    }
}

/* The chain GnuTLS holds for the session, as one byte string: its certificates' DER back to back
 * (each DER carries its own length, so equal strings mean equal chains). */
static size_t
api_chain_len(const gnutls_datum_t *chain, unsigned num)
{
    size_t len = 0;
    for (unsigned i = 0; i < num; i++) {
        len += chain[i].size;
    }
    return len;
}

static bool
api_chain_same(const api_conn *c, const gnutls_datum_t *chain, unsigned num)
{
    if (c->chain == NULL || c->chain_len != api_chain_len(chain, num)) {
        return false;
    }
    size_t off = 0;
    for (unsigned i = 0; i < num; i++) {
        if (memcmp(c->chain + off, chain[i].data, chain[i].size) != 0) {
            return false;
        }
        off += chain[i].size;
    }
    return true;
}

/* Keeps what the chain was found to be. Nothing is kept when it cannot be (out of memory, a
 * chain longer than API_PEER_CHAIN_KEEP): the next request checks again. */
static void
api_conn_keep(api_conn *c, const gnutls_datum_t *chain, unsigned num, const api_peer *peer,
              ztca_time not_after)
{
    size_t len = api_chain_len(chain, num);
    c->checked = false;
    if (len > API_PEER_CHAIN_KEEP) {
        return;
    }
    if (len > c->chain_len || c->chain == NULL) {
        uint8_t *g = realloc(c->chain, len);
        if (g == NULL) {
            return;
        }
        c->chain = g;
    }
    size_t off = 0;
    for (unsigned i = 0; i < num; i++) {
        memcpy(c->chain + off, chain[i].data, chain[i].size);
        off += chain[i].size;
    }
    c->chain_len = len;
    c->peer = *peer;
    c->recheck_ns = api_now_ns() + (int64_t)API_PEER_RECHECK_S * 1000000000;
    c->not_after = not_after;
    c->checked = true;
}

/* The chain check itself; `not_after` is the verified leaf's notAfter. */
static void
api_peer_check(api_req *r, gnutls_session_t session, const gnutls_datum_t *leaf, api_peer *p,
               ztca_time *not_after)
{
    *not_after = 0;
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
    if (!ZTCA_IS_OK(ca_cert_info_parse(&info, leaf->data, leaf->size))
        || !ZTCA_IS_OK(ca_spiffe_parse(&id, info.uri, r->cfg->trust_domain))) {
        return;
    }
    snprintf(p->uri, sizeof(p->uri), "%s", info.uri);
    snprintf(p->serial, sizeof(p->serial), "%s", info.serial_hex);
    snprintf(p->device_id, sizeof(p->device_id), "%s", id.device_id);
    snprintf(p->user, sizeof(p->user), "%s", id.user);
    snprintf(p->kind, sizeof(p->kind), "%s", ca_profile_get(id.kind)->name);
    p->verified = true;
    *not_after = info.not_after;
}

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
    const union MHD_ConnectionInfo *sc =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    api_conn *c = sc != NULL ? sc->socket_context : NULL;
    /* A verified leaf is valid through its notAfter second (RFC 5280 4.1.2.5), not one more. */
    if (c != NULL && c->checked && api_now_ns() < c->recheck_ns
        && (!c->peer.verified || ztca_now() <= c->not_after) && api_chain_same(c, chain, num)) {
        r->peer = c->peer;
        return;
    }
    ztca_time not_after = 0;
    api_peer_check(r, session, &chain[0], &r->peer, &not_after);
    if (c != NULL) {
        api_conn_keep(c, chain, num, &r->peer, not_after);
    }
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
