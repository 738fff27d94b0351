/* agent.h: ztca-agent's parts (docs/enrollment.md). Pure pieces (CSR, TSS2 key file, state
 * file, schedule) are unit-tested and fuzzed; the TPM goes through attest/tpm/, HTTP through
 * libcurl, JSON through jansson. */
#ifndef ZTCA_ENROLL_AGENT_AGENT_H
#define ZTCA_ENROLL_AGENT_AGENT_H

#include <sys/types.h>

#include <jansson.h>

#include "attest/tpm/attest_tpm.h"
#include "ca/ca.h"
#include "core/core.h"

/* Exit statuses (docs/enrollment.md): scripts and the systemd unit tell retryable failures (4)
 * from refusals that need a person (5). */
#define AGENT_EXIT_OK      0
#define AGENT_EXIT_ERROR   1 /* local: files, configuration, our own failure */
#define AGENT_EXIT_USAGE   2
#define AGENT_EXIT_TPM     3 /* no TPM, TPM error, TPM in lockout */
#define AGENT_EXIT_NETWORK 4 /* server unreachable, TLS failure, 5xx: retry later */
#define AGENT_EXIT_REFUSED 5 /* the server refused (4xx): token, revocation, evidence */

#define AGENT_STATE_MAX   ((size_t)64 * 1024)
#define AGENT_FILE_MAX    ((size_t)256 * 1024)
#define AGENT_SERVER_MAX  512
#define AGENT_TCTI_MAX    512
#define AGENT_SKEW_MAX    300 /* seconds of clock difference tolerated with the server */
#define AGENT_STATE_FILE  "agent.json"
#define AGENT_STATUS_FILE "status.json"

/* ---- CSR (agent_csr.c) ---------------------------------------------------------------------- */

/* agent_csr_info: the DER CertificationRequestInfo (RFC 2986 4.1) for `spki` with subject
 * CN=`cn` and no attributes; malloc'd. The server takes only the key from a CSR. */
ZTCA_RC agent_csr_info(uint8_t **out, size_t *out_len, const char *cn, const uint8_t *spki,
                       size_t spki_len);
/* agent_csr_pem: CertificationRequest { info, ecdsa-with-SHA256, BIT STRING sig } as PEM, with
 * `sig` a DER Ecdsa-Sig-Value over SHA-256(info); malloc'd, NUL-terminated. */
ZTCA_RC agent_csr_pem(char **out, size_t *out_len, const uint8_t *info, size_t info_len,
                      const uint8_t *sig, size_t sig_len);

/* ---- TSS2 PRIVATE KEY (agent_keyfile.c) --------------------------------------------------------
 */

/* agent_tss2_key_pem: the "TSS2 PRIVATE KEY" file the tpm2-openssl provider loads
 * (draft-bottomley-tpm2-keys: TPMKey ::= SEQUENCE { type OID loadableKey 2.23.133.10.1.3,
 * emptyAuth [0] EXPLICIT BOOLEAN, parent INTEGER, pubkey OCTET STRING, privkey OCTET STRING }).
 * emptyAuth TRUE: the key has no password (tpm2_encodeobject 5.4 writes it inverted: notes P8). */
ZTCA_RC agent_tss2_key_pem(char **out, size_t *out_len, uint32_t parent, const attest_tpm_obj *key);
/* agent_tss2_key_parse: the inverse, strict; BAD_INPUT for anything else. */
ZTCA_RC agent_tss2_key_parse(attest_tpm_obj *out, uint32_t *out_parent, const uint8_t *pem,
                             size_t pem_len);

/* ---- state (agent_state.c) ------------------------------------------------------------------- */

/* agent_state: DIR/agent.json, what renew and run need besides the PEM files. */
typedef struct agent_state {
    char server[AGENT_SERVER_MAX];
    bool tpm;
    char tcti[AGENT_TCTI_MAX]; /* TPM: the TCTI of the enrollment */
    char ek_type[8];           /* "rsa" or "ecc" */
    char ak_type[8];           /* "ecc" or "rsa" */
    char device_id[CA_NAME_MAX + 1];
    char user[CA_NAME_MAX + 1];
    char profile[16];
    char uri[CA_URL_MAX];
    char serial[41];
    ztca_time not_before;
    ztca_time not_after;
    char attestation[32]; /* the level the server answered: "tpm", "software", ... */
} agent_state;

/* agent_state_encode: pretty JSON, malloc'd, NUL-terminated. */
ZTCA_RC agent_state_encode(char **out, size_t *out_len, const agent_state *s);
/* agent_state_parse: strict: every member of the right type, known members only. */
ZTCA_RC agent_state_parse(agent_state *out, const uint8_t *json, size_t len);

/* ---- schedule (agent_state.c) ---------------------------------------------------------------- */

/* agent_renew_at: when to renew a certificate valid from nb to na: at two thirds of its lifetime,
 * moved by up to `jitter` (a value in [-1, 1] times a twentieth of the lifetime), never after
 * na - lifetime/10. */
ztca_time agent_renew_at(ztca_time nb, ztca_time na, double jitter);
/* agent_backoff: seconds to wait before attempt `n` (0-based) after failures: 5 s doubling to 10
 * minutes, with `jitter` in [0, 1) adding up to a quarter. */
int64_t agent_backoff(unsigned n, double jitter);

/* ---- files (agent_files.c) ------------------------------------------------------------------- */

/* agent_files: a set of files written into DIR atomically as a group: each to a temporary name
 * first, then all renamed; on failure (or agent_files_abort) every temporary is removed. */
#define AGENT_FILES_MAX 10
typedef struct agent_files {
    const char *dir;
    char tmp[AGENT_FILES_MAX][4096];
    char dst[AGENT_FILES_MAX][4096];
    size_t num;
} agent_files;

void agent_files_init(agent_files *f, const char *dir);
ZTCA_RC agent_files_add(agent_files *f, const char *name, mode_t mode, const void *data,
                        size_t len);
ZTCA_RC agent_files_commit(agent_files *f);
void agent_files_abort(agent_files *f);
/* agent_file_read: DIR/name, at most AGENT_FILE_MAX bytes, NUL-terminated, malloc'd. */
ZTCA_RC agent_file_read(const char *dir, const char *name, uint8_t **out, size_t *out_len);

/* ---- HTTP (agent_http.c) --------------------------------------------------------------------- */

/* A 429 (rate-limited) answer is waited out in place, as its Retry-After says, at most
 * AGENT_RETRY_429_MAX times per request and only for waits of 1 to AGENT_RETRY_AFTER_MAX
 * seconds; otherwise (or then) the 429 is the answer, and `run` backs off as after a 5xx.
 * The server's limiter takes nothing for a refused request, so the same request (token
 * included) is sent again. */
#define AGENT_RETRY_429_MAX   3
#define AGENT_RETRY_AFTER_MAX 30

/* agent_retry_after_parse: the delay-seconds form of a Retry-After value (RFC 9110 10.2.3:
 * 1*DIGIT; surrounding blanks allowed), 1 to AGENT_RETRY_AFTER_MAX; 0 for anything else (an
 * HTTP-date, a longer or zero wait, junk): no wait in place. */
int64_t agent_retry_after_parse(const char *value, size_t len);

typedef struct agent_http {
    const char *server;    /* https://HOST:PORT */
    const char *ca_file;   /* the CA to verify the server with */
    const char *cert_file; /* client certificate (renewal), or NULL */
    const char *key_file;  /* its key: PKCS#8, or TSS2 PRIVATE KEY with the provider loaded */
    long timeout_s;
} agent_http;

typedef struct agent_reply {
    long status;     /* HTTP status, 0 when no answer came */
    json_t *body;    /* parsed JSON answer (also problems), or NULL */
    ztca_time date;  /* the server's Date header, 0 when absent */
    char error[512]; /* what went wrong without an answer */
    bool tls_verify; /* the failure was the server's certificate */
    unsigned tries;  /* requests sent (more than 1 after waiting out a 429) */
} agent_reply;

void agent_reply_free(agent_reply *r);
/* agent_http_post: POST path with a JSON body (and "Authorization: Bearer" when `bearer`). OK
 * whenever an answer came (any status); IO with out->error otherwise. A 429 is waited out and
 * sent again as AGENT_RETRY_429_MAX says; a signal ends the wait (the 429 is then the answer). */
ZTCA_RC agent_http_post(const agent_http *h, const char *path, const char *bearer,
                        const json_t *body, agent_reply *out);
/* agent_tls_use_tpm: loads the tpm2-openssl provider into this process's OpenSSL (before the
 * default provider, with the default DRBG: notes P7b, P7d) so that libcurl can use a TSS2 key
 * file; the provider talks to `tcti`. */
ZTCA_RC agent_tls_use_tpm(const char *tcti);
/* agent_tls_release: unloads what agent_tls_use_tpm loaded (at exit). */
void agent_tls_release(void);

/* ---- commands (agent_cmd.c, agent_run.c) ----------------------------------------------------- */

int agent_enroll_main(int argc, char **argv);
int agent_renew_main(int argc, char **argv);
int agent_run_main(int argc, char **argv);
int agent_status_main(int argc, char **argv);

/* agent_renew_once: one renewal of DIR (used by renew and run); returns an AGENT_EXIT_*. */
int agent_renew_once(const char *dir, const char *tcti_override, bool timings);
/* agent_status_record: DIR/status.json with the outcome of the latest attempt. */
void agent_status_record(const char *dir, const char *op, int status, const char *message);

#endif /* ZTCA_ENROLL_AGENT_AGENT_H */
