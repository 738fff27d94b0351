/* internal.h: declarations shared by the files of api/ only. */
#ifndef ZTCA_API_INTERNAL_H
#define ZTCA_API_INTERNAL_H

#include <stdatomic.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/api.h"
#include "enroll/enroll.h"
#include "store/store.h"
#include "trust/trust.h"

#define API_PATH_MAX   2048 /* longest request path (without the query) */
#define API_MAX_PARAMS 4
#define API_PARAM_MAX  256                 /* longest decoded path segment */
#define API_PROBLEM    "urn:ztca:problem:" /* prefix of every problem type (RFC 9457 3.1.1) */

typedef enum api_auth {
    API_AUTH_NONE,   /* public */
    API_AUTH_ADMIN,  /* an unrevoked admin certificate of this CA */
    API_AUTH_CLIENT, /* any unrevoked client certificate of this CA (the handler checks whose) */
    API_AUTH_BEARER, /* Authorization: Bearer; the handler checks it */
    API_AUTH_FEEDER, /* an unrevoked admin or signal-feeder certificate (trust signals only) */
    API_AUTH_PEP,    /* an unrevoked pep certificate, or the loopback/Unix authz listener */
} api_auth;

typedef struct api_req api_req;

/* A handler answers through the api_reply_* functions; returning an error without an answer
 * makes the dispatcher answer from the error code (api_reply_error). */
typedef ztca_rc (*api_handler)(api_req *r);

typedef struct api_route {
    const char *method;
    const char *pattern; /* "/v1/certs/{}/revoke": each {} takes one path segment */
    api_handler handler;
    api_auth auth;
    size_t max_body;  /* 0: no body */
    bool public_http; /* also on the plain HTTP listener (HTTPS only otherwise) */
    bool prefix;      /* the pattern is a prefix; the raw rest of the path is r->rest */
} api_route;

/* api_peer: the caller's client certificate, when it chains to our CA with clientAuth. */
typedef struct api_peer {
    bool verified; /* chain checked by GnuTLS; revocation checked separately */
    char uri[CA_URL_MAX];
    char kind[16]; /* "admin", "agent", "device", "workload" (the URI SAN's first segment) */
    char device_id[STORE_NAME_MAX + 1];
    char user[STORE_NAME_MAX + 1];
    char serial[STORE_SERIAL_MAX + 1];
} api_peer;

struct api_req {
    api_server *srv;
    const api_app *app;
    const ca_config *cfg; /* the configuration when the request started */
    struct MHD_Connection *conn;
    bool https;
    bool authz_listener;    /* the loopback/Unix listener that serves only /v1/authz */
    const api_route *route; /* NULL when nothing matched: see miss_status */
    unsigned miss_status;   /* 404 or 405 */
    int route_index;        /* for metrics; -1 when nothing matched */
    char method[16];
    char path[API_PATH_MAX];
    char params[API_MAX_PARAMS][API_PARAM_MAX];
    size_t num_params;
    const char *rest; /* prefix routes: the raw path after the prefix, inside `path` */
    uint8_t *body;    /* owned; at most route->max_body bytes */
    size_t body_len;
    size_t body_cap;
    bool body_too_large;
    bool path_bad;
    char id[17]; /* request id: 16 hex digits */
    int64_t start_ns;
    unsigned status;            /* what was queued */
    struct MHD_Response *reply; /* built by a handler, queued by the dispatcher */
    bool queued;                /* a shared answer was queued already (api_reply_queue_shared) */
    enum MHD_Result queue_result;
    api_peer peer;
    bool peer_checked;
};

/* ---- server internals (api_server.c) ------------------------------------------------------- */

typedef struct api_ocsp api_ocsp;
typedef struct api_crl api_crl;
typedef struct api_oidc api_oidc;
typedef struct api_authz api_authz;

#define API_FEED_DEVICES_MAX 256 /* score changes per feed poll evicted by device; more: all */

const ca_config *api_server_config(api_server *s);
const api_app *api_server_app(api_server *s);
api_authz *api_server_authz(api_server *s);
api_ocsp *api_server_ocsp(api_server *s); /* NULL when the server has no OCSP signer */
api_crl *api_server_crl(api_server *s);
api_oidc *api_server_oidc(api_server *s);
/* api_server_status_changed: a certificate's status changed here (revoke handler) or anywhere
 * (change feed): its cached OCSP answers go and the CRL is rebuilt on the next request. */
void api_server_status_changed(api_server *s, const char *serial_hex);
/* api_server_device_changed: the same for every certificate of a device (its trust score). */
void api_server_device_changed(api_server *s, const char *device_id);

/* ---- OCSP (api_ocsp.c) and CRL (api_crl.c) ------------------------------------------------- */

#define API_OCSP_MAX_ISSUERS 4 /* the current intermediate and the ones it replaced */

ZTCA_RC api_ocsp_new(api_ocsp **out, store *st, const uint8_t *const *issuer_certs,
                     const size_t *issuer_lens, size_t num_issuers, int64_t validity,
                     int64_t max_age, size_t max_entries);
void api_ocsp_free(api_ocsp *o);
/* api_ocsp_set_signer: publishes the responder's key and certificate (borrowed, must outlive the
 * responder) and drops the answers the previous one signed. */
void api_ocsp_set_signer(api_ocsp *o, const api_ocsp_signer *signer);
void api_ocsp_clear(api_ocsp *o);
void api_ocsp_evict_serial(api_ocsp *o, const uint8_t *serial, size_t serial_len);
void api_ocsp_evict_serial_hex(api_ocsp *o, const char *serial_hex);
void api_ocsp_stats(api_ocsp *o, unsigned long long *hits, unsigned long long *misses,
                    unsigned long long *fresh, size_t *entries);

ZTCA_RC api_crl_new(api_crl **out, store *st, ca_issuer *issuer, int64_t validity, int64_t max_age);
void api_crl_free(api_crl *c);
void api_crl_invalidate(api_crl *c);

/* ---- the trust engine around trust/ (api_trust.c) ------------------------------------------ */

/* api_server_trust_policy: the policy in force (ztca.conf "trust", reloaded on SIGHUP). */
const trust_policy *api_server_trust_policy(api_server *s);
/* api_server_enroll: the TPM enrollment settings in force (reloaded on SIGHUP). */
const api_enroll_set *api_server_enroll(api_server *s);

typedef struct api_trust_outcome {
    int score;
    bool held;
    bool changed;     /* score or hold differ from what was stored (or nothing was) */
    int previous;     /* the stored score before, -1 when none */
    size_t num_certs; /* certificates put on hold or released by this evaluation */
    trust_decision decision;
    char reasons[512]; /* trust_reasons: the negative contributions */
} api_trust_outcome;

/* api_trust_evaluate: scores a device (user "") or an agent in one store transaction under the
 * device's lock: records `insert` first when not NULL (its id to *out_signal_id), reads the
 * signals and facts, computes (trust/), stores the score with its explanation, and puts the
 * subject's certificates on hold or releases them. A change of score or hold goes to the audit
 * log with its inputs (`actor`) and to the change feed. NOT_FOUND for an unknown device. */
ZTCA_RC api_trust_evaluate(api_server *srv, const char *device_id, const char *user,
                           const store_signal *insert, const store_audit_event *insert_ev,
                           const char *actor, api_trust_outcome *out, int64_t *out_signal_id);
/* api_trust_evaluate_txn: the same inside the caller's store transaction (issuance, enrollment
 * and renewal decide on the score they record with the certificate). `locked`: the device as
 * the caller read it with store_device_lock (or inserted it) in this transaction; NULL: the
 * evaluation locks it. */
ZTCA_RC api_trust_evaluate_txn(api_server *srv, const char *device_id, const char *user,
                               const store_device *locked, const char *actor,
                               api_trust_outcome *out);
/* api_trust_denied: the 403 problem for an issuance the policy refuses (names the reasons). */
void api_trust_denied(api_req *r, const api_trust_outcome *o);
/* api_trust_cap_ttl: the TTL (0: the profile's default) capped by the score's tier. */
ZTCA_RC api_trust_cap_ttl(const ca_profile *p, int64_t requested, const api_trust_outcome *o,
                          int64_t *out);
/* api_trust_json: the stored explanation of a subject's score (docs/trust.md), JSON null when
 * it was never scored; NULL on a store failure (*out_rc says which). */
json_t *api_trust_json(store *st, const char *device_id, const char *user, ztca_rc *out_rc);
/* api_trust_sweep: re-evaluates the subjects an expiry or staleness may have changed by now. */
void api_trust_sweep(api_server *srv);

/* ---- authorization for enforcement points (api_authz.c, docs/authz.md) --------------------- */

ZTCA_RC api_authz_new(api_authz **out, const api_app *app);
void api_authz_free(api_authz *a);
/* api_authz_changed: some status or score changed: cached statuses are read again. */
void api_authz_changed(api_authz *a);

#define API_AUTHZ_CERT_MAX ((size_t)16 * 1024) /* the URL-encoded PEM of one certificate */
#define API_AUTHZ_XFCC_MAX ((size_t)32 * 1024)

typedef struct api_authz_req {
    const char *cert_text; /* borrowed from the header: the URL-encoded PEM (the cache key) */
    size_t cert_text_len;
    uint8_t *der; /* owned, after api_authz_req_decode: the client certificate */
    size_t der_len;
    int min_score; /* X-Ztca-Min-Score, 0 when absent */
    bool from_xfcc;
} api_authz_req;

/* api_decode_authz (api_decode_authz.c, pure): the header values, NULL when absent, checked
 * and split; the certificate itself is decoded only on a cache miss (api_authz_req_decode). On
 * failure *out_type is the problem type ("authz-...") and ztca_last_what() the detail. */
ZTCA_RC api_decode_authz(const char *client_cert, const char *xfcc, const char *min_score,
                         api_authz_req *out, const char **out_type);
/* api_authz_req_decode: %-unescapes cert_text and decodes its one PEM certificate into der. */
ZTCA_RC api_authz_req_decode(api_authz_req *r, const char **out_type);
void api_authz_req_free(api_authz_req *r);

/* ---- OIDC workload certificates (api_oidc.c) ----------------------------------------------- */

ZTCA_RC api_oidc_new(api_oidc **out, store *st);
void api_oidc_free(api_oidc *o);
void api_oidc_invalidate(api_oidc *o);
/* api_oidc_issue: POST /v1/certs for a bearer that is not an enrollment token (an ID token). */
ZTCA_RC api_oidc_issue(api_req *r, const char *bearer);

/* RFC 9110 5.6.7 IMF-fixdate, for Last-Modified and Expires. */
void api_http_date(char *out, size_t out_size, ztca_time t);

/* ---- routing (api_route.c) ----------------------------------------------------------------- */

extern const api_route api_routes[];
extern const size_t api_num_routes;
/* api_route_is_rate_limited: the token, enrollment and issuance routes (api_ratelimit.h). */
bool api_route_is_rate_limited(const api_route *rt);
/* api_route_match: finds the route of `method` and raw `path` and fills r->params (percent-
 * decoded, strictly). Sets r->route or r->miss_status (404, or 405 when the path exists with
 * another method); r->path_bad for a malformed path (400). */
void api_route_match(api_req *r, const char *method, const char *path);
/* api_percent_decode: %XX escapes only; refuses bad escapes, NUL and control characters. */
ZTCA_RC api_percent_decode(char *out, size_t out_size, const char *in, size_t in_len);
/* api_query: the decoded value of query argument `name`, or NULL when absent; BAD_INPUT when it
 * does not decode. */
ZTCA_RC api_query(api_req *r, const char *name, char *out, size_t out_size, bool *out_present);

/* ---- replies (api_reply.c) ----------------------------------------------------------------- */

/* Each replaces a reply built earlier by the same request. They cannot fail from the caller's
 * point of view: without memory the dispatcher answers 500 from a static response. */
void api_reply_bytes(api_req *r, unsigned status, const char *content_type, const void *data,
                     size_t len);
/* api_reply_json: takes the reference to `obj` in all cases. */
void api_reply_json(api_req *r, unsigned status, json_t *obj);
/* api_reply_problem: RFC 9457 application/problem+json with type API_PROBLEM + `type`. */
void api_reply_problem(api_req *r, unsigned status, const char *type, const char *title,
                       const char *detail);
/* api_reply_error: the answer for a failure code (4xx with ztca_last_what as detail, 5xx with
 * a generic detail; the real cause goes to the log). */
void api_reply_error(api_req *r, ztca_rc rc);
void api_reply_header(api_req *r, const char *name, const char *value);
/* api_reply_queue_shared: queues a response object shared between requests (a cached OCSP
 * answer or CRL) at once; it must be the request's final answer, and the caller's reference to
 * `resp` stays the caller's. */
void api_reply_queue_shared(api_req *r, unsigned status, struct MHD_Response *resp);

/* api_require_json: Content-Type must be application/json; answers 415 and returns BAD_INPUT
 * otherwise. */
ZTCA_RC api_require_json(api_req *r);
/* api_reply_decode_error: 400 with the problem type an api_decode_* function chose. */
void api_reply_decode_error(api_req *r, const char *type);

/* ---- request bodies (api_decode.c): pure, fuzzed ------------------------------------------- */

/* libmicrohttpd's memory pool per connection (request headers, read and write buffers; bodies are
 * copied out as they arrive). libmicrohttpd 0.9.75 mmaps a pool above 32 KiB afresh for every
 * connection and zeroes the whole pool between requests: at 64 KiB that was a third of the CPU of
 * a cached OCSP answer on a new connection (docs/performance.md "OCSP"). 32 KiB holds the largest
 * headers ztca expects (a PEM client certificate from a proxy, an OIDC ID token) many times. */
#define API_CONN_MEMORY ((size_t)32 * 1024)

#define API_TOKEN_TTL_DEFAULT 3600
#define API_TOKEN_TTL_MAX     ((int64_t)7 * 86400)

typedef struct api_token_req {  /* POST /v1/tokens */
    char user[CA_NAME_MAX + 1]; /* "" for a device-only token */
    char profile[16];           /* "agent" (default) or "device" */
    int64_t ttl;                /* seconds, defaulted */
} api_token_req;

typedef struct api_cert_req { /* POST /v1/certs */
    char *csr;                /* owned, NUL-terminated PEM */
    size_t csr_len;
    char profile[16]; /* "" when absent */
    int64_t ttl;      /* 0 when absent */
} api_cert_req;

ZTCA_RC api_decode_token(const uint8_t *body, size_t len, api_token_req *out,
                         const char **out_type);
ZTCA_RC api_decode_cert(const uint8_t *body, size_t len, api_cert_req *out, const char **out_type);
void api_cert_req_free(api_cert_req *req);
/* api_decode_revoke: {"reason": name}, optional; `device` refuses certificateHold and defaults
 * to keyCompromise (certificates default to unspecified). */
ZTCA_RC api_decode_revoke(const uint8_t *body, size_t len, bool device, int *out,
                          const char **out_type);

/* POST /v1/devices/{id}/signals, /v1/agents/{id}/{user}/signals, /v1/users/{user}/signals
 * (api_decode_trust.c; docs/api.md "Trust signals"). */
#define API_SIGNAL_TTL_MAX ((int64_t)366 * 86400)
typedef struct api_signal_req {
    char source[TRUST_NAME_MAX + 1]; /* "" when absent (the caller's default applies) */
    char kind[TRUST_NAME_MAX + 1];
    int impact;
    int64_t expires_in; /* seconds; 0: never */
    char note[TRUST_NOTE_MAX + 1];
} api_signal_req;

ZTCA_RC api_decode_signal(const uint8_t *body, size_t len, api_signal_req *out,
                          const char **out_type);

/* api_decode_enroll_begin / _finish (api_decode_enroll.c): POST /v1/enroll/begin and /finish, and
 * with `renew` POST /v1/renew/begin and /v1/renew (docs/api.md, "Enrollment"). Free the output
 * with enroll_begin_req_free / enroll_finish_req_free. */
ZTCA_RC api_decode_enroll_begin(const uint8_t *body, size_t len, bool renew, enroll_begin_req *out,
                                const char **out_type);
ZTCA_RC api_decode_enroll_finish(const uint8_t *body, size_t len, bool renew,
                                 enroll_finish_req *out, const char **out_type);

/* api_device_allow_req: POST /v1/devices (api_decode_enroll.c; docs/api.md "Devices"). */
typedef struct api_device_allow_req {
    enroll_blob ek_public;          /* owned: TPM2B_PUBLIC of the EK, 1..ATTEST_BLOB_MAX */
    char note[ENROLL_NOTE_MAX + 1]; /* "" when absent */
    char *facts;                    /* owned: a JSON object (compact), or NULL */
} api_device_allow_req;

/* api_decode_device_allow: {"ek_public": base64 TPM2B_PUBLIC, "note"?, "facts"?}. Structure and
 * bounds only: enroll_ek_allow judges the EK public itself. A PEM public key is refused with a
 * detail saying why (the device id is derived from the TPMT_PUBLIC, which a PEM key lacks). Free
 * the output with api_device_allow_req_free. */
ZTCA_RC api_decode_device_allow(const uint8_t *body, size_t len, api_device_allow_req *out,
                                const char **out_type);
void api_device_allow_req_free(api_device_allow_req *req);

/* ---- callers (api_peer.c) ------------------------------------------------------------------ */

/* api_peer_get: verifies the TLS client certificate of the connection (GnuTLS chain check with
 * clientAuth) and reads its identity; r->peer.verified false when there is none or it is not
 * ours. Cheap to call twice (cached on the request), and on the next requests of a keep-alive
 * connection (cached on the connection, see api_conn). */
void api_peer_get(api_req *r);

/* api_conn: what a TLS connection's client chain was found to be. The chain check (GnuTLS: ASN.1
 * parsing and ECDSA in nettle) cost more than the rest of an admin request, and a connection's
 * chain does not change between its requests; the answer is reused while the chain presented is
 * byte for byte the one checked, for at most API_PEER_RECHECK_S and never past the leaf's
 * notAfter. Revocation is not cached: api_peer_require reads it per request. One per HTTPS
 * connection (MHD's socket context), used only by the thread serving the connection. */
#define API_PEER_RECHECK_S  60
#define API_PEER_CHAIN_KEEP ((size_t)32 * 1024) /* longer chains are checked every time */
typedef struct api_conn {
    bool checked;
    int64_t recheck_ns;  /* monotonic (api_now_ns): check again from then on, whatever the
                          * wall clock does */
    ztca_time not_after; /* the leaf's, when verified: not kept past it (wall clock, as the
                          * check itself judges validity) */
    uint8_t *chain;      /* the DER certificates as presented, concatenated (self-delimiting) */
    size_t chain_len;
    api_peer peer;
} api_conn;
void api_conn_free(api_conn *c);
/* api_peer_require: 401 when there is no verified, unrevoked certificate, 403 when `kind` is
 * given and the certificate is another kind. Answers itself and returns DENIED on refusal. */
ZTCA_RC api_peer_require(api_req *r, const char *kind);
/* api_peer_require_feeder: an administrator or a signal feeder (docs/trust.md). */
ZTCA_RC api_peer_require_feeder(api_req *r);

/* ---- metrics (api_metrics.c) --------------------------------------------------------------- */

void api_metrics_request(int route_index, unsigned status, int64_t latency_ns);
void api_metrics_issued(const char *profile);
/* api_metrics_render: Prometheus text exposition format 0.0.4, malloc'd; the store's group
 * commit counters and the OCSP cache's when given (either may be NULL). */
ZTCA_RC api_metrics_render(const store *st, api_ocsp *ocsp, char **out, size_t *out_len);

/* ---- handlers ------------------------------------------------------------------------------ */

ztca_rc api_h_healthz(api_req *r);
ztca_rc api_h_metrics(api_req *r);
ztca_rc api_h_root_pem(api_req *r);
ztca_rc api_h_chain_pem(api_req *r);
ztca_rc api_h_tokens_create(api_req *r);
ztca_rc api_h_certs_create(api_req *r);
ztca_rc api_h_certs_list(api_req *r);
ztca_rc api_h_certs_get(api_req *r);
ztca_rc api_h_certs_revoke(api_req *r);
ztca_rc api_h_devices_list(api_req *r);
ztca_rc api_h_devices_get(api_req *r);
ztca_rc api_h_devices_revoke(api_req *r);
ztca_rc api_h_devices_allow(api_req *r);
ztca_rc api_h_audit_list(api_req *r);
ztca_rc api_h_ocsp_post(api_req *r);
ztca_rc api_h_ocsp_get(api_req *r);
ztca_rc api_h_crl(api_req *r);
ztca_rc api_h_enroll_begin(api_req *r);
ztca_rc api_h_enroll_finish(api_req *r);
ztca_rc api_h_renew_begin(api_req *r);
ztca_rc api_h_renew(api_req *r);
ztca_rc api_h_authz(api_req *r);
ztca_rc api_h_signals_device(api_req *r);
ztca_rc api_h_signals_agent(api_req *r);
ztca_rc api_h_signals_user(api_req *r);
ztca_rc api_h_provisioners_add(api_req *r);
ztca_rc api_h_provisioners_list(api_req *r);
ztca_rc api_h_provisioners_remove(api_req *r);

/* ---- enrollment tokens (api_tokens.c) ------------------------------------------------------ */

/* api_bearer: the credential of "Authorization: Bearer X" (RFC 6750 2.1), or NULL. */
const char *api_bearer(api_req *r);
/* api_token_hash: SHA-256 of a one-time token's text; BAD_INPUT when it is not one of ours. */
ZTCA_RC api_token_hash(const char *token, uint8_t out[STORE_HASH_LEN]);

/* ---- shared helpers (api_util.c) ----------------------------------------------------------- */

/* api_reason_parse: an RFC 5280 CRLReason name ("keyCompromise", ...) to its value. */
ZTCA_RC api_reason_parse(const char *name, int *out);
const char *api_reason_name(int reason);
const char *api_cert_status_name(store_cert_status st);
/* api_time_json: RFC 3339 string, or JSON null for 0. */
json_t *api_time_json(ztca_time t);
/* api_actor: "admin:USER" for an admin caller, "token:USER" etc., for audit entries. */
void api_actor(api_req *r, char *out, size_t out_size);
int64_t api_now_ns(void);

#endif /* ZTCA_API_INTERNAL_H */
