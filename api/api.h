/* api.h: ztca's HTTP(S) server: libmicrohttpd listeners, routing, authentication of callers,
 * RFC 9457 problem answers, metrics and the handlers of DESIGN.md section 5. The only module that
 * speaks HTTP. The caller (cli/cli_serve.c) loads files and keys and hands them over. */
#ifndef ZTCA_API_API_H
#define ZTCA_API_API_H

#include "ca/ca.h"
#include "core/core.h"

struct store;
struct attest_roots;
struct attest_pcr_policy;
struct enroll_config;
struct trust_policy;

/* api_ocsp_signer: the delegated OCSP responder's key and certificate (RFC 6960 4.2.2.2). */
typedef struct api_ocsp_signer {
    ca_signer *signer;
    const uint8_t *cert_der;
    size_t cert_len;
} api_ocsp_signer;

/* api_app: what the handlers work with. Everything is borrowed and must outlive the server. */
typedef struct api_app {
    const ca_config *cfg;
    ca_rng *rng;
    ca_issuer *issuer;     /* the issuing intermediate */
    struct store *store;   /* thread safe */
    const char *root_pem;  /* DIR/ca/root.pem */
    const char *chain_pem; /* DIR/ca/chain.pem: intermediate then root */
    /* The HTTPS listener: its certificate chain and unencrypted key (PEM, in memory only), and
     * the CA certificates client certificates must chain to (the chain above). */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    const char *tls_trust_pem;
    /* OCSP and CRL: the DER of the issuing CA certificates the responder answers for (current
     * first), and the first responder identity (api_server_set_ocsp_signer swaps it). */
    const uint8_t *const *issuer_certs;
    const size_t *issuer_cert_lens;
    size_t num_issuer_certs;
    const api_ocsp_signer *ocsp_signer;
    /* TPM enrollment (docs/enrollment.md): the manufacturer roots of DIR/tpm-roots, the PCR
     * policy ("attestation") and the "enrollment" settings of ztca.conf. NULL: no roots (every
     * EK certificate is untrusted), no PCR policy, the default settings. api_server_set_enroll
     * swaps them on SIGHUP. */
    const struct attest_roots *tpm_roots;
    const struct attest_pcr_policy *pcr_policy;
    const struct enroll_config *enroll;
    /* The trust policy (the "trust" member of ztca.conf, docs/trust.md); NULL: the defaults.
     * api_server_set_trust_policy swaps it on SIGHUP. */
    const struct trust_policy *trust;
    /* --role ocsp (docs/scaling.md): OCSP, CRL, authz and the public routes only, and no writes
     * (the store may be a hot standby): no trust sweep. */
    bool read_only;
} api_app;

typedef struct api_listen {
    const char *https; /* "ADDR:PORT" ("127.0.0.1:8443", "[::1]:8443"), NULL: no HTTPS */
    const char *http;  /* plain HTTP for the public routes, NULL: none */
    /* plain HTTP serving only /v1/authz to enforcement points on this host: a loopback
     * "ADDR:PORT" or "unix:/PATH" (docs/authz.md); NULL: none */
    const char *authz;
    unsigned threads;          /* per listener; 0: api_default_threads() (HTTPS: 4 times) */
    unsigned connection_limit; /* per listener; 0: API_CONNECTION_LIMIT_DEFAULT */
    unsigned timeout_s;        /* idle connection timeout; 0: 30 */
    /* after_bind: called once every listener is bound, before any thread of the server starts
     * or any request is read (the privilege drop, docs/hardening.md); its failure fails the start.
     * NULL: none. */
    ztca_rc (*after_bind)(void *ctx);
    void *after_bind_ctx;
} api_listen;

#define API_CONNECTION_LIMIT_DEFAULT 1024u

/* api_default_threads: the worker threads of a plain HTTP listener when api_listen.threads is 0:
 * one per online CPU (2 when unknown, at most 64). `ztca serve` sizes its store's read pool by
 * it, one connection per worker. */
unsigned api_default_threads(void);

typedef struct api_server api_server;

/* api_server_start: binds every listener, calls listen->after_bind, then starts the server.
 * BAD_INPUT for an unusable address, IO when binding fails (port taken), CRYPTO for a TLS setup
 * failure. */
ZTCA_RC api_server_start(api_server **out, const api_app *app, const api_listen *listen);
/* api_server_stop: stops accepting, waits up to `grace_s` seconds for requests in flight to
 * finish, then closes everything and frees the server. */
void api_server_stop(api_server *s, unsigned grace_s);
/* api_server_set_config: swaps the configuration the handlers see (SIGHUP); `cfg` is borrowed
 * and must outlive the server (the old one too, as requests may still hold it). */
void api_server_set_config(api_server *s, const ca_config *cfg);
/* api_server_set_ocsp_signer: a rotated responder identity (borrowed; keep the old one alive
 * until the server stops, as requests in flight may still use it). */
void api_server_set_ocsp_signer(api_server *s, const api_ocsp_signer *signer);
/* api_server_set_trust_policy: a reloaded trust policy (borrowed; keep the old one alive until
 * the server stops). Cached OCSP answers are dropped, since the score extension may change. */
void api_server_set_trust_policy(api_server *s, const struct trust_policy *p);
/* api_enroll_set: the TPM enrollment settings of api_app, swapped together on SIGHUP. */
typedef struct api_enroll_set {
    const struct attest_roots *tpm_roots;
    const struct attest_pcr_policy *pcr_policy;
    const struct enroll_config *enroll;
} api_enroll_set;
/* api_server_set_enroll: reloaded TPM roots, PCR policy and enrollment settings (borrowed, with
 * what they point to; keep the old ones alive until the server stops). Sessions begun before
 * are finished under the new settings. */
void api_server_set_enroll(api_server *s, const api_enroll_set *e);
/* api_server_port: the bound port of a listener (0 if not running); for tests that bind port 0. */
unsigned api_server_port(const api_server *s, bool https);

#endif /* ZTCA_API_API_H */
