/* cli.h: the ztca command: subcommands and the file helpers they share. */
#ifndef ZTCA_CLI_CLI_H
#define ZTCA_CLI_CLI_H

#include <sys/types.h>

#include "attest/attest.h"
#include "ca/ca.h"
#include "core/core.h"
#include "enroll/enroll.h"
#include "store/store.h"
#include "trust/trust.h"

int cli_init_main(int argc, char **argv);
int cli_issue_main(int argc, char **argv);
/* cli_audit_main: "audit verify"; argv[0] is "audit". */
int cli_audit_main(int argc, char **argv);
int cli_serve_main(int argc, char **argv);
/* cli_admin_main: "token create", "cert list|show|revoke", "device list|show|revoke";
 * argv[0] is the noun. */
int cli_admin_main(int argc, char **argv);

/* ---- API clients (cli_admin.c) ------------------------------------------------------------ */

struct json_t;

typedef struct cli_client {
    const char *cmd; /* "token create", for messages */
    const char *dir;
    const char *server; /* NULL: api_url of ztca.conf */
    const char *pass_file;
    bool json;
    const char *cert; /* with key: this client certificate instead of DIR/admin's */
    const char *key;
} cli_client;

/* cli_call: one HTTPS API request with the admin certificate of c->dir; *out gets the parsed JSON
 * answer (problems too). Returns the HTTP status, or 0 when no answer came (reason printed). */
long cli_call(const cli_client *c, const char *method, const char *path, struct json_t *body,
              struct json_t **out);
/* cli_problem prints a problem answer as "ztca CMD: refused (HTTP N, type): title: detail" and
 * returns exit status 1. */
int cli_problem(const cli_client *c, long status, struct json_t *reply);
int cli_print_json(struct json_t *reply);
/* cli_provisioner_run: "provisioner add|list|remove" after the common options were parsed. */
int cli_provisioner_main(int argc, char **argv);
/* cli_signal_main: "signal ..." (docs/trust.md). */
int cli_signal_main(int argc, char **argv);

/* cli_fail prints "ztca <cmd>: <msg>: <what of the last failure>" and returns exit status 1. */
int cli_fail(const char *cmd, const char *msg, ztca_rc rc);
/* cli_usage_error prints the message and a pointer to --help; exit status 2. */
int cli_usage_error(const char *cmd, const char *msg);

/* cli_default_dir: --dir, else $ZTCA_DIR, else ./ztca-data. */
const char *cli_default_dir(const char *flag);

/* cli_read_file: the whole file, at most `max` bytes, malloc'd, NUL-terminated (not counted).
 * NOT_FOUND if absent, BAD_INPUT if larger than max, IO otherwise. */
ZTCA_RC cli_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);
/* cli_read_secret_file: like cli_read_file for keys: refuses a group- or world-accessible file
 * (DENIED), and a file that is not regular. */
ZTCA_RC cli_read_key_file(const char *path, uint8_t **out, size_t *out_len);
/* cli_read_passphrase: the first line of a file, without its line end; 1-1024 bytes. */
ZTCA_RC cli_read_passphrase(const char *path, uint8_t **out, size_t *out_len);
/* cli_write_new_file: creates `path` (it must not exist) with `mode`, writes, fsyncs. On failure
 * nothing is left behind. */
ZTCA_RC cli_write_new_file(const char *path, mode_t mode, const void *data, size_t len);
/* cli_write_file: atomically replaces `path` (temp file + rename) with `mode`. */
ZTCA_RC cli_write_file(const char *path, mode_t mode, const void *data, size_t len);
/* cli_dir_state: 0 absent, 1 empty directory, 2 non-empty directory, 3 not a directory. */
int cli_dir_state(const char *path);
/* cli_path: snprintf into buf; false when it does not fit. */
bool cli_path(char *buf, size_t size, const char *dir, const char *rel);

/* cli_load_issuer: the issuing CA of DIR: a signer over private/intermediate.key (refused unless
 * 0600; `pass` when encrypted) and an issuer for ca/intermediate.pem. */
ZTCA_RC cli_load_issuer(const char *dir, const uint8_t *pass, size_t pass_len, ca_rng *rng,
                        ca_signer **out_signer, ca_issuer **out_issuer);

/* cli_load_config: DIR/ztca.conf. */
ZTCA_RC cli_load_config(const char *dir, ca_config *out);
/* cli_load_trust: the "trust" member of DIR/ztca.conf (docs/trust.md), defaults when absent. */
ZTCA_RC cli_load_trust(const char *dir, trust_policy *out);

/* ---- the store (cli_store.c) ---------------------------------------------------------------- */

/* cli_store_url: --store when given, else ztca.conf's "store", else sqlite:store/ztca.db. */
const char *cli_store_url(const ca_config *cfg, const char *flag);
/* cli_store_open: opens (and migrates) DIR's store; a relative sqlite: path is relative to DIR.
 * On failure prints "ztca CMD: cannot open the store URL: why (backend's reason)" with any
 * password redacted, and returns exit status 1 (*out NULL); 0 on success. */
int cli_store_open(store **out, const char *cmd, const char *dir, const ca_config *cfg,
                   const char *flag);
/* cli_store_actor: who the audit log names for this command: "cli:uid=N". */
void cli_store_actor(char *out, size_t out_size);
/* cli_store_issue_detail: the audit detail of an issued certificate, compact JSON with sorted
 * keys (tool, profile, device_id, user, uri, not_before, not_after), malloc'd. */
ZTCA_RC cli_store_issue_detail(char **out, const char *tool, const store_cert *c, const char *uri);

/* ---- privilege separation (cli_signer.c, cli_privsep.c; docs/hardening.md) ------------------ */

/* cli_signer_proc: the signer process of `ztca serve`, which alone holds the issuing CA key (slot
 * 0) and the OCSP signer keys (slot 1, then one per rotation), and the pool of socketpairs to it.
 */
typedef struct cli_signer_proc cli_signer_proc;
/* Socketpairs to the signer process, one signer thread each: signatures in parallel. One per
 * online CPU, at least CLI_SIGNER_CONNS_MIN (requests wait for the signer while others run) and at
 * most CLI_SIGNER_CONNS_MAX (docs/performance.md "Threads and cores"). */
#define CLI_SIGNER_CONNS_MIN 8
#define CLI_SIGNER_CONNS_MAX 64

/* cli_signer_check_keys: every DIR/private/\*.key is a regular file, mode 0600 or stricter and
 * owned by the effective uid (the signer process's); prints one line per offending file naming
 * the chmod/chown that fixes it, and returns DENIED (or the first other failure). */
ZTCA_RC cli_signer_check_keys(const char *dir);
/* cli_signer_start: forks the signer process, which loads private/intermediate.key and
 * private/ocsp.key of DIR (`pass` when encrypted; it keeps its copy of pass for OCSP keys). Call
 * it before any thread exists. A key that does not load makes the process exit with its reason on
 * stderr; the first cli_signer_open then fails. */
ZTCA_RC cli_signer_start(cli_signer_proc **out, const char *dir, const uint8_t *pass,
                         size_t pass_len);
/* cli_signer_stop: closes the pairs (the signer exits on EOF), reaps it, frees `p`. Every signer
 * from `p` must be freed already. */
void cli_signer_stop(cli_signer_proc *p);
pid_t cli_signer_pid(const cli_signer_proc *p);
/* cli_signer_reap: true (and its wait status) once the signer process has exited. */
bool cli_signer_reap(cli_signer_proc *p, int *out_status);
/* cli_signer_open: a remote ca_signer for `slot`, borrowed from `p` (free it before p). Signing
 * fails with UNAVAILABLE once the signer process is gone. */
ZTCA_RC cli_signer_open(cli_signer_proc *p, uint8_t slot, ca_signer **out);
/* cli_signer_ocsp_new: OCSP signer rotation, step 1: a fresh key of `type` in a new slot, kept
 * in the signer process only. Step 2, cli_signer_ocsp_commit with its certificate, writes
 * private/ocsp.key (0600) then ca/ocsp.pem there: the network process cannot write either. */
ZTCA_RC cli_signer_ocsp_new(cli_signer_proc *p, ca_key_type type, uint8_t *out_slot,
                            ca_signer **out);
ZTCA_RC cli_signer_ocsp_commit(cli_signer_proc *p, uint8_t slot, const uint8_t *cert,
                               size_t cert_len);
/* cli_signer_ocsp_load: a signer for the private/ocsp.key now on disk (--role ocsp follows the
 * rotation of another node); the same slot again for a key already loaded. */
ZTCA_RC cli_signer_ocsp_load(cli_signer_proc *p, ca_signer **out);

/* cli_user: whom the network process becomes (--user). */
typedef struct cli_user {
    char name[64];
    uid_t uid;
    gid_t gid;
} cli_user;

/* cli_privsep_user: looks NAME up; BAD_INPUT when unknown or uid 0, DENIED unless running as
 * root (only root can change user). */
ZTCA_RC cli_privsep_user(cli_user *out, const char *name);
/* cli_privsep_prepare: PR_SET_NO_NEW_PRIVS and, as root, an empty capability bounding set; both
 * are per thread and inherited, so call it before any thread starts. */
ZTCA_RC cli_privsep_prepare(void);
/* cli_privsep_drop: setgroups(none), setresgid, setresuid to `u` (glibc applies them to every
 * thread), PR_SET_DUMPABLE 0, then checks that root cannot be regained; INTERNAL otherwise. */
ZTCA_RC cli_privsep_drop(const cli_user *u);
/* cli_privsep_check_store: for a sqlite: store the network process writes after the drop, its
 * directory and files must belong to `u`; prints the chown that fixes it and returns DENIED. */
ZTCA_RC cli_privsep_check_store(const char *url, const cli_user *u);

/* ---- TPM enrollment (cli_enroll.c) --------------------------------------------------------- */

/* cli_enroll: what `ztca serve` needs for TPM enrollment, owned. */
typedef struct cli_enroll {
    attest_roots *roots;       /* DIR/tpm-roots/ under "attestation"."ek_chain_profile" */
    attest_pcr_policy *policy; /* "attestation" of ztca.conf */
    enroll_config conf;        /* "enrollment" of ztca.conf */
} cli_enroll;

void cli_enroll_init(cli_enroll *e);
void cli_enroll_free(cli_enroll *e);
/* cli_enroll_load: reads DIR/ztca.conf and every file of DIR/tpm-roots/ (a missing directory
 * leaves the roots empty); BAD_INPUT with the reason for anything unusable. */
ZTCA_RC cli_enroll_load(const char *dir, cli_enroll *out);

#endif /* ZTCA_CLI_CLI_H */
