/* cli_serve.c: `ztca serve`: starts the signer process that holds the CA and OCSP keys (never the
 * root key), loads the rest of DIR, opens the store, binds, drops root (--user) and runs the API
 * server until SIGTERM/SIGINT; SIGHUP reloads ztca.conf. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/cli.h"
#include "store/store.h"

#define CLI_SERVE_MAX_RELOADS 64 /* configurations kept alive for requests still using them */
#define CLI_SERVE_MAX_SIGNERS 64 /* OCSP responder identities kept alive the same way */
#define CLI_SERVE_TICK_S      60 /* periodic work: OCSP signer rotation, retention */
/* The signer process died: no key is left to sign with and, after the drop to --user, this
 * process could not read the keys to start another. Stop (requests in flight get this long)
 * and exit with EX_TEMPFAIL of sysexits(3), so that the supervisor restarts the pair
 * (docs/cli.md, examples/systemd/ztca.service). */
#define CLI_SERVE_EXIT_SIGNER    75
#define CLI_SERVE_SIGNER_GRACE_S 2
/* A sync of committed data failed (store_options.on_sync_failed): the store refuses every call
 * from then on, since the kernel may have dropped what SQLite counts as committed. Stop the same
 * way and exit EX_IOERR; the next start recovers from what the file holds (docs/store.md). */
#define CLI_SERVE_EXIT_STORE 74

static atomic_bool cli_serve_sync_failed;
static atomic_bool cli_serve_looping; /* the main loop waits for signals: wake it */

static void
cli_serve_on_sync_failed(void *arg)
{
    (void)arg;
    atomic_store(&cli_serve_sync_failed, true);
    if (atomic_load(&cli_serve_looping)) {
        kill(getpid(), SIGUSR1); /* blocked in every thread: only sigtimedwait takes it */
    }
}

static void
cli_serve_usage(FILE *f)
{
    fprintf(
        f, "usage: ztca serve [--dir DIR] [--listen-https ADDR:PORT] [--listen-http ADDR:PORT]\n"
           "                  [--listen-authz 127.0.0.1:PORT|unix:/PATH] [--role all|ocsp]\n"
           "                  [--store URL] [--passphrase-file F] [--threads N] [--user NAME]\n"
           "                  [--max-connections N]\n"
           "\n"
           "Runs the CA: the HTTPS API (client certificates for admin and device routes) on\n"
           "--listen-https (default 127.0.0.1:8443) and the public routes (health, metrics, CA\n"
           "certificates, OCSP, CRL) on plain HTTP --listen-http (default 127.0.0.1:8080); 'none'\n"
           "disables a listener. --listen-authz serves only /v1/authz (nginx auth_request,\n"
           "Envoy ext_authz) without authentication, so it must be loopback or a Unix socket\n"
           "(mode 0660; docs/authz.md). --role ocsp answers OCSP, CRL and authz only and never\n"
           "writes, so its --store may be a PostgreSQL hot standby (docs/scaling.md).\n"
           "--store overrides the store URL of ztca.conf (sqlite:PATH or\n"
           "postgresql://...). SIGTERM/SIGINT stop gracefully, SIGHUP reloads ztca.conf.\n"
           "The root key is never loaded; the CA and OCSP keys stay in a separate signer process.\n"
           "--user NAME (when started as root): the network process drops to NAME after binding\n"
           "and cannot read the key files, which must be 0600 and owned by root; the SQLite store\n"
           "must belong to NAME. Without --user a root server keeps root, with a warning\n"
           "(docs/hardening.md). --max-connections N: open connections per listener (default\n"
           "1024); the open-files limit is raised to fit.\n");
}

/* An OCSP responder identity: the signer with its certificate (owned). */
typedef struct cli_ocsp_id {
    api_ocsp_signer pub;
    ca_signer *signer;
    uint8_t *cert_der;
    size_t cert_len;
    ztca_time not_after;
} cli_ocsp_id;

typedef struct cli_serve_state {
    ca_config *configs[CLI_SERVE_MAX_RELOADS + 1];
    size_t num_configs;
    trust_policy *policies[CLI_SERVE_MAX_RELOADS + 1]; /* beside configs, one per load */
    size_t num_policies;
    cli_ocsp_id *ocsp[CLI_SERVE_MAX_SIGNERS];
    size_t num_ocsp;
    cli_signer_proc *proc; /* the signer process: every ca_signer here is a remote one */
    uint8_t *issuer_der;
    size_t issuer_der_len;
    ca_rng *rng;
    ca_signer *signer;
    ca_issuer *issuer;
    store *st;
    char *root_pem, *chain_pem, *tls_cert_pem, *tls_key_pem;
    size_t tls_key_len;
    cli_enroll enroll;
    /* SIGHUP's TPM roots, PCR policy and enrollment settings, kept like the configurations. */
    struct cli_serve_enroll *reloaded_enroll[CLI_SERVE_MAX_RELOADS + 1];
    size_t num_reloaded_enroll;
} cli_serve_state;

typedef struct cli_serve_enroll {
    cli_enroll e;
    api_enroll_set set; /* points into e */
} cli_serve_enroll;

static void
cli_serve_state_free(cli_serve_state *s)
{
    for (size_t i = 0; i < s->num_configs; i++) {
        free(s->configs[i]);
    }
    for (size_t i = 0; i < s->num_policies; i++) {
        free(s->policies[i]);
    }
    for (size_t i = 0; i < s->num_reloaded_enroll; i++) {
        cli_enroll_free(&s->reloaded_enroll[i]->e);
        free(s->reloaded_enroll[i]);
    }
    for (size_t i = 0; i < s->num_ocsp; i++) {
        ca_signer_free(s->ocsp[i]->signer);
        ztca_free(s->ocsp[i]->cert_der);
        free(s->ocsp[i]);
    }
    ztca_free(s->issuer_der);
    ca_issuer_free(s->issuer);
    ca_signer_free(s->signer);
    cli_signer_stop(s->proc); /* after every signer that points into it */
    ca_rng_free(s->rng);
    store_close(s->st);
    ztca_free(s->root_pem);
    ztca_free(s->chain_pem);
    ztca_free(s->tls_cert_pem);
    ztca_free_secret(s->tls_key_pem, s->tls_key_len);
    cli_enroll_free(&s->enroll);
}

static ztca_rc
cli_serve_read_text(const char *dir, const char *rel, char **out)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, rel), ZTCA_ERR_BAD_INPUT, "path too long");
    ZTCA_GUARD(cli_read_file(path, CA_CERT_MAX * 4, &buf, &len));
    *out = (char *)buf; /* NUL-terminated by cli_read_file */
    return ZTCA_RC_OK;
}

/* The TLS key goes to libmicrohttpd as PEM in memory, decrypted here so that GnuTLS never needs
 * the passphrase. */
static ztca_rc
cli_serve_tls_key(const char *dir, const uint8_t *pass, size_t pass_len, ca_rng *rng, char **out,
                  size_t *out_len)
{
    char path[4096];
    uint8_t *pem = NULL;
    size_t len = 0;
    ca_key *key = NULL;
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, "private/server.key"), ZTCA_ERR_BAD_INPUT,
                "path too long");
    ZTCA_GUARD(cli_read_key_file(path, &pem, &len));
    ztca_rc rc = ca_key_parse(&key, pem, len, pass, pass_len);
    ztca_free_secret(pem, len + 1);
    if (ZTCA_IS_OK(rc)) {
        rc = ca_key_write_pem(out, out_len, key, rng, NULL, 0);
    }
    ca_key_free(key);
    return rc;
}

/* The DER of the first certificate of a PEM file in DIR. */
static ztca_rc
cli_serve_read_cert(const char *dir, const char *rel, uint8_t **out, size_t *out_len)
{
    char path[4096];
    uint8_t *pem = NULL;
    size_t len = 0;
    ztca_pem_list list;
    ztca_pem_list_init(&list);
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, rel), ZTCA_ERR_BAD_INPUT, "path too long");
    ZTCA_GUARD(cli_read_file(path, CA_CERT_MAX * 4, &pem, &len));
    ztca_rc rc = ztca_pem_decode_all(&list, pem, len);
    ztca_free(pem);
    if (ZTCA_IS_OK(rc) && strcmp(list.blocks[0].label, "CERTIFICATE") != 0) {
        rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "not a certificate", 0);
    }
    if (ZTCA_IS_OK(rc)) {
        *out = list.blocks[0].der;
        *out_len = list.blocks[0].der_len;
        list.blocks[0].der = NULL;
        list.blocks[0].der_len = 0;
    }
    ztca_pem_list_free(&list);
    return rc;
}

/* The OCSP responder identity of DIR: the signer process's key (slot 1 as it started, or, with
 * `reload`, private/ocsp.key as it is now) and ca/ocsp.pem. */
static ztca_rc
cli_serve_load_ocsp(cli_serve_state *s, const char *dir, bool reload, cli_ocsp_id **out)
{
    ca_cert_info info;
    cli_ocsp_id *id = calloc(1, sizeof(*id));
    ZTCA_ENSURE(id != NULL, ZTCA_ERR_NOMEM, "out of memory");
    ztca_rc rc = reload ? cli_signer_ocsp_load(s->proc, &id->signer)
                        : cli_signer_open(s->proc, 1, &id->signer);
    if (ZTCA_IS_OK(rc)) {
        rc = cli_serve_read_cert(dir, "ca/ocsp.pem", &id->cert_der, &id->cert_len);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = ca_cert_info_parse(&info, id->cert_der, id->cert_len);
    }
    if (!ZTCA_IS_OK(rc)) {
        ca_signer_free(id->signer);
        ztca_free(id->cert_der);
        free(id);
        return rc;
    }
    id->not_after = info.not_after;
    id->pub = (api_ocsp_signer){ id->signer, id->cert_der, id->cert_len };
    *out = id;
    return ZTCA_RC_OK;
}

/* --role ocsp: the read-write nodes rotate the OCSP signer and write ca/ocsp.pem and
 * private/ocsp.key; an OCSP node (whose store may be a read-only replica) takes the new pair
 * when it appears. The key is written first: a certificate without its key yet is skipped until
 * the next tick. */
static ztca_rc
cli_serve_follow_ocsp(cli_serve_state *s, const char *dir, bool *out_changed)
{
    uint8_t *der = NULL;
    size_t len = 0;
    cli_ocsp_id *cur = s->ocsp[s->num_ocsp - 1];
    *out_changed = false;
    ZTCA_GUARD(cli_serve_read_cert(dir, "ca/ocsp.pem", &der, &len));
    bool same = len == cur->cert_len && memcmp(der, cur->cert_der, len) == 0;
    ztca_free(der);
    if (same) {
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(s->num_ocsp < CLI_SERVE_MAX_SIGNERS, ZTCA_ERR_INTERNAL,
                "too many OCSP signer changes in one run");
    cli_ocsp_id *id = NULL;
    ZTCA_GUARD(cli_serve_load_ocsp(s, dir, true, &id));
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(id->signer, &spki_len);
    if (!ca_cert_has_key(id->cert_der, id->cert_len, spki, spki_len)) {
        ca_signer_free(id->signer);
        ztca_free(id->cert_der);
        free(id);
        return ZTCA_RC_OK; /* mid-rotation: try again at the next tick */
    }
    s->ocsp[s->num_ocsp++] = id;
    *out_changed = true;
    ztca_log(ZTCA_LOG_INFO, "event=ocsp_signer_followed not_after=%lld", (long long)id->not_after);
    return ZTCA_RC_OK;
}

/* Rotation (RFC 6960 4.2.2.2.1: a delegated responder certificate with id-pkix-ocsp-nocheck is
 * short-lived): a new key (made and kept by the signer process) and certificate before the old
 * one expires, recorded in the store, written by the signer process over private/ocsp.key and
 * ca/ocsp.pem, then published. Answers signed by the old identity stay valid: its certificate
 * outlives their nextUpdate by renew_before. */
static ztca_rc
cli_serve_rotate_ocsp(cli_serve_state *s, const ca_config *cfg, bool *out_rotated)
{
    ztca_rc rc = ZTCA_RC_OK;
    cli_ocsp_id *cur = s->ocsp[s->num_ocsp - 1];
    ca_signer *signer = NULL;
    uint8_t slot = 0;
    char *detail = NULL;
    char actor[64];
    ca_issued cert;
    ca_issued_init(&cert);
    cli_ocsp_id *id = NULL;
    *out_rotated = false;
    if (cur->not_after - ztca_now() > cfg->ocsp_renew_before) {
        return ZTCA_RC_OK;
    }
    id = calloc(1, sizeof(*id));
    ZTCA_REQUIRE(id != NULL, ZTCA_ERR_NOMEM, "out of memory");
    ZTCA_REQUIRE(s->num_ocsp < CLI_SERVE_MAX_SIGNERS, ZTCA_ERR_INTERNAL,
                 "too many OCSP signer rotations in one run");
    ZTCA_CHECK(cli_signer_ocsp_new(s->proc, cfg->key_type, &slot, &signer));
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(signer, &spki_len);
    ca_issue_req req = { .profile = ca_profile_get(CA_PROFILE_OCSP),
                         .spki = spki,
                         .spki_len = spki_len };
    ZTCA_CHECK(ca_issue(&cert, s->issuer, cfg, s->rng, &req));
    store_cert c;
    store_cert_init(&c);
    snprintf(c.serial, sizeof(c.serial), "%s", cert.serial_hex);
    snprintf(c.profile, sizeof(c.profile), "ocsp");
    c.not_before = cert.not_before;
    c.not_after = cert.not_after;
    c.der = cert.der;
    c.der_len = cert.der_len;
    snprintf(actor, sizeof(actor), "system:serve");
    ZTCA_CHECK(cli_store_issue_detail(&detail, "ztca serve (OCSP signer rotation)", &c, ""));
    store_audit_event ev = { actor, "cert.issue", c.serial, detail, 0 };
    ZTCA_CHECK(store_cert_insert(s->st, &c, &ev));
    /* The signer process writes the key first, then the certificate: a crash in between leaves
     * a key without its certificate, which the next start rotates away, never a certificate
     * without its key. */
    ZTCA_CHECK(cli_signer_ocsp_commit(s->proc, slot, cert.der, cert.der_len));

    id->signer = signer;
    signer = NULL;
    id->cert_der = cert.der;
    id->cert_len = cert.der_len;
    cert.der = NULL;
    id->not_after = cert.not_after;
    id->pub = (api_ocsp_signer){ id->signer, id->cert_der, id->cert_len };
    ztca_log(ZTCA_LOG_INFO, "event=ocsp_signer_rotated serial=%s not_after=%lld", cert.serial_hex,
             (long long)id->not_after);
    s->ocsp[s->num_ocsp++] = id;
    id = NULL; /* NOLINT(clang-analyzer-unix.Malloc): owned by s->ocsp now */
    *out_rotated = true;
out:
    free(id); /* only on failure, before it holds anything */
    ca_signer_free(signer);
    free(detail);
    ca_issued_free(&cert);
    return rc;
}

/* api_listen.after_bind: the listeners are bound and no thread runs yet. */
typedef struct cli_serve_drop {
    const cli_user *user; /* NULL: keep the current user */
} cli_serve_drop;

static ztca_rc
cli_serve_after_bind(void *ctx)
{
    const cli_serve_drop *d = ctx;
    if (d->user == NULL) {
        if (geteuid() == 0) {
            ztca_log(ZTCA_LOG_WARN,
                     "event=privsep_warning reason=\"running as root without --user: the network "
                     "process can read the key files (docs/hardening.md)\"");
        }
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(cli_privsep_drop(d->user));
    ztca_log(ZTCA_LOG_INFO, "event=privileges_dropped user=%s uid=%u gid=%u", d->user->name,
             (unsigned)d->user->uid, (unsigned)d->user->gid);
    return ZTCA_RC_OK;
}

/* The issuing CA: the signer process's slot 0 and ca/intermediate.pem. */
static ztca_rc
cli_serve_load_issuer(cli_serve_state *s, const char *dir)
{
    ZTCA_GUARD(cli_signer_open(s->proc, 0, &s->signer));
    ZTCA_GUARD(cli_serve_read_cert(dir, "ca/intermediate.pem", &s->issuer_der, &s->issuer_der_len));
    return ca_issuer_new(&s->issuer, s->issuer_der, s->issuer_der_len, s->signer);
}

/* The OCSP work of a tick: an OCSP node follows ca/ocsp.pem, a read-write node rotates the
 * signer when due; either way the server then answers with the newest identity. */
static void
cli_serve_ocsp_step(cli_serve_state *s, const char *dir, bool read_only, api_server *srv)
{
    bool changed = false;
    ztca_rc rc = read_only ? cli_serve_follow_ocsp(s, dir, &changed)
                           : cli_serve_rotate_ocsp(s, s->configs[s->num_configs - 1], &changed);
    if (!ZTCA_IS_OK(rc)) {
        ztca_log(ZTCA_LOG_ERROR, "event=ocsp_rotation_failed what=\"%s\"", ztca_last_what());
    } else if (changed) {
        api_server_set_ocsp_signer(srv, &s->ocsp[s->num_ocsp - 1]->pub);
    }
}

/* SIGHUP: ztca.conf, its trust policy and the TPM enrollment settings (DIR/tpm-roots, a vendor
 * root added or withdrawn) again. A broken file must not take a running CA down: it is logged
 * and everything in force kept. */
static void
cli_serve_reload(cli_serve_state *s, const char *dir, api_server *srv)
{
    if (s->num_configs > CLI_SERVE_MAX_RELOADS) {
        ztca_log(ZTCA_LOG_ERROR, "event=reload_failed reason=\"too many reloads\"");
        return;
    }
    ca_config *next = calloc(1, sizeof(*next));
    trust_policy *next_policy = calloc(1, sizeof(*next_policy));
    ztca_rc rc = next != NULL && next_policy != NULL
                     ? cli_load_config(dir, next)
                     : ZTCA_NOTE(ZTCA_ERR_NOMEM, "out of memory", 0);
    if (ZTCA_IS_OK(rc)) {
        rc = cli_load_trust(dir, next_policy);
    }
    cli_serve_enroll *next_enroll = NULL;
    if (ZTCA_IS_OK(rc)) {
        next_enroll = calloc(1, sizeof(*next_enroll));
        if (next_enroll == NULL) {
            rc = ZTCA_NOTE(ZTCA_ERR_NOMEM, "out of memory", 0);
        } else {
            cli_enroll_init(&next_enroll->e);
            rc = cli_enroll_load(dir, &next_enroll->e);
        }
    }
    if (!ZTCA_IS_OK(rc)) {
        ztca_log(ZTCA_LOG_ERROR, "event=reload_failed what=\"%s\"", ztca_last_what());
        if (next_enroll != NULL) {
            cli_enroll_free(&next_enroll->e);
            free(next_enroll);
        }
        free(next);
        free(next_policy);
        return;
    }
    next_enroll->set =
        (api_enroll_set){ next_enroll->e.roots, next_enroll->e.policy, &next_enroll->e.conf };
    s->configs[s->num_configs++] = next;
    s->policies[s->num_policies++] = next_policy;
    s->reloaded_enroll[s->num_reloaded_enroll++] = next_enroll;
    api_server_set_config(srv, next);
    api_server_set_trust_policy(srv, next_policy);
    api_server_set_enroll(srv, &next_enroll->set);
    ztca_log(ZTCA_LOG_INFO, "event=reloaded");
}

/* Each listener may hold `per_listener` sockets, plus the store's, the signer's, logs and the
 * TLS files: raise the soft open-files limit to fit, as far as the hard limit allows (the default
 * soft limit of 1024 would refuse connections long before --max-connections). */
static void
cli_serve_fd_limit(unsigned listeners, unsigned per_listener)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)listeners * per_listener + 256;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) {
        return;
    }
    rlim_t want = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
    if (want > rl.rlim_cur) {
        rl.rlim_cur = want;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (want < need) {
        ztca_log(ZTCA_LOG_WARN,
                 "event=fd_limit_low open_files=%llu needed=%llu what=\"the hard RLIMIT_NOFILE "
                 "caps the connections: raise it (LimitNOFILE= in systemd) or lower "
                 "--max-connections\"",
                 (unsigned long long)want, (unsigned long long)need);
    }
}

/* A decimal option value within [min, max]. */
static bool
cli_serve_uint(const char *s, long min, long max, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < min || v > max) {
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static int
cli_serve_run(const char *dir, const char *https, const char *http, const char *authz,
              bool read_only, const char *store_flag, const char *pass_file, unsigned threads,
              unsigned max_conns, const char *user_name)
{
    cli_user user;
    memset(&user, 0, sizeof(user));
    cli_serve_state s;
    memset(&s, 0, sizeof(s));
    int status = 1;
    ztca_rc rc;
    uint8_t *pass = NULL;
    size_t pass_len = 0;
    api_server *srv = NULL;
    char url[STORE_URL_MAX], shown[STORE_URL_MAX];
    sigset_t sigs;

    ca_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        fprintf(stderr, "ztca serve: out of memory\n");
        return 1;
    }
    s.configs[s.num_configs++] = cfg;
    rc = cli_load_config(dir, cfg);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot load the configuration", rc);
        goto out;
    }
    trust_policy *policy = calloc(1, sizeof(*policy));
    if (policy == NULL) {
        fprintf(stderr, "ztca serve: out of memory\n");
        goto out;
    }
    s.policies[s.num_policies++] = policy;
    rc = cli_load_trust(dir, policy);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot load the trust policy (\"trust\" in ztca.conf)", rc);
        goto out;
    }
    if (user_name != NULL) {
        rc = cli_privsep_user(&user, user_name);
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("serve", "cannot use --user", rc);
            goto out;
        }
    }
    if (cfg->encrypted_keys) {
        if (pass_file == NULL) {
            fprintf(stderr, "ztca serve: the keys are encrypted: --passphrase-file is required\n");
            goto out;
        }
        rc = cli_read_passphrase(pass_file, &pass, &pass_len);
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("serve", "cannot read --passphrase-file", rc);
            goto out;
        }
    }
    /* The key rule (issue 13) before anything reads a key: 0600, owned by this uid. */
    rc = cli_signer_check_keys(dir);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "refusing to start: fix the key files named above", rc);
        goto out;
    }
    /* Fork while there is one thread; no_new_privs and the bounding set then reach every thread
     * started later. */
    rc = cli_signer_start(&s.proc, dir, pass, pass_len);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot start the signer process", rc);
        goto out;
    }
    rc = cli_privsep_prepare();
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot restrict the process", rc);
        goto out;
    }
    rc = ca_rng_new(&s.rng);
    if (ZTCA_IS_OK(rc)) {
        rc = cli_serve_load_issuer(&s, dir);
    }
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot load the issuing CA", rc);
        goto out;
    }
    rc = cli_serve_read_text(dir, "ca/root.pem", &s.root_pem);
    if (ZTCA_IS_OK(rc)) {
        rc = cli_serve_read_text(dir, "ca/chain.pem", &s.chain_pem);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = cli_serve_read_text(dir, "ca/server.pem", &s.tls_cert_pem);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = cli_serve_tls_key(dir, pass, pass_len, s.rng, &s.tls_key_pem, &s.tls_key_len);
    }
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot load the certificates or the server key", rc);
        goto out;
    }
    /* The TLS key was the last key this process reads (GnuTLS keeps it in memory); the
     * passphrase now lives only in the signer process. */
    ztca_free_secret(pass, pass_len + 1);
    pass = NULL;
    pass_len = 0;
    rc = store_url_resolve(url, sizeof(url), store_flag != NULL ? store_flag : cfg->store, dir);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "bad store URL", rc);
        goto out;
    }
    store_url_redact(shown, sizeof(shown), url);
    if (user_name != NULL) {
        rc = cli_privsep_check_store(url, &user);
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("serve", "refusing to start", rc);
            goto out;
        }
    }
    /* One read connection per worker thread (as many as api/ starts), at most 8: OCSP and authz
     * lookups then wait neither for each other nor for writes (docs/store.md). */
    unsigned workers = threads != 0 ? threads : api_default_threads();
    store_options sopts = { .readers = workers < STORE_READERS_SERVE_MAX ? (int)workers
                                                                         : STORE_READERS_SERVE_MAX,
                            .on_sync_failed = cli_serve_on_sync_failed };
    rc = store_open_ex(&s.st, url, &sopts);
    if (!ZTCA_IS_OK(rc)) {
        fprintf(stderr, "ztca serve: cannot open the store %s\n", shown);
        status = cli_fail("serve", "cannot open the store", rc);
        goto out;
    }

    rc = cli_enroll_load(dir, &s.enroll);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve",
                          "cannot load the TPM enrollment settings (tpm-roots/, "
                          "\"attestation\", \"enrollment\")",
                          rc);
        goto out;
    }

    cli_ocsp_id *first = NULL;
    rc = cli_serve_load_ocsp(&s, dir, false, &first);
    if (!ZTCA_IS_OK(rc)) {
        status =
            cli_fail("serve", "cannot load the OCSP signer (ca/ocsp.pem, private/ocsp.key)", rc);
        goto out;
    }
    s.ocsp[s.num_ocsp++] = first;
    bool rotated = false;
    rc = read_only ? ZTCA_RC_OK : cli_serve_rotate_ocsp(&s, cfg, &rotated);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot renew the OCSP signer", rc);
        goto out;
    }

    /* Every thread the server starts inherits this mask: signals reach only sigwait below. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGPIPE);
    sigaddset(&sigs, SIGCHLD); /* the signer process */
    sigaddset(&sigs, SIGUSR1); /* cli_serve_on_sync_failed */
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    const uint8_t *issuer_certs[1] = { s.issuer_der };
    size_t issuer_lens[1] = { s.issuer_der_len };
    api_app app = { .cfg = cfg,
                    .rng = s.rng,
                    .issuer = s.issuer,
                    .store = s.st,
                    .root_pem = s.root_pem,
                    .chain_pem = s.chain_pem,
                    .tls_cert_pem = s.tls_cert_pem,
                    .tls_key_pem = s.tls_key_pem,
                    .tls_trust_pem = s.chain_pem,
                    .issuer_certs = issuer_certs,
                    .issuer_cert_lens = issuer_lens,
                    .num_issuer_certs = 1,
                    .ocsp_signer = &s.ocsp[s.num_ocsp - 1]->pub,
                    .tpm_roots = s.enroll.roots,
                    .pcr_policy = s.enroll.policy,
                    .enroll = &s.enroll.conf,
                    .trust = policy,
                    .read_only = read_only };
    cli_serve_drop drop = { user_name != NULL ? &user : NULL };
    cli_serve_fd_limit((https != NULL) + (http != NULL) + (authz != NULL),
                       max_conns != 0 ? max_conns : API_CONNECTION_LIMIT_DEFAULT);
    api_listen listen = { .https = https,
                          .http = http,
                          .authz = authz,
                          .threads = threads,
                          .connection_limit = max_conns,
                          .after_bind = cli_serve_after_bind,
                          .after_bind_ctx = &drop };
    rc = api_server_start(&srv, &app, &listen);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("serve", "cannot start the server", rc);
        goto out;
    }
    ztca_log(ZTCA_LOG_INFO, "event=serving https=%s http=%s authz=%s store=%s trust_domain=%s",
             https != NULL ? https : "none", http != NULL ? http : "none",
             authz != NULL ? authz : "none", shown, cfg->trust_domain);

    ztca_time next_purge = 0;
    int exit_status = 0;
    unsigned grace_s = 10;
    atomic_store(&cli_serve_looping, true);
    for (;;) {
        if (atomic_load(&cli_serve_sync_failed)) {
            ztca_log(ZTCA_LOG_ERROR,
                     "event=store_sync_failed reason=\"committed data may not be on disk: "
                     "stopping, exit %d for the supervisor to restart ztca serve\"",
                     CLI_SERVE_EXIT_STORE);
            ztca_log(ZTCA_LOG_INFO, "event=stopping reason=store_sync_failed grace_s=%d",
                     CLI_SERVE_SIGNER_GRACE_S);
            exit_status = CLI_SERVE_EXIT_STORE;
            grace_s = CLI_SERVE_SIGNER_GRACE_S;
            break;
        }
        /* Checked before every wait, not only on SIGCHLD: a signer that died before the mask
         * was set sent a SIGCHLD that was discarded. */
        int st = 0;
        if (cli_signer_reap(s.proc, &st)) {
            ztca_log(ZTCA_LOG_ERROR,
                     "event=signer_exited status=%d signal=%d reason=\"no key left to sign "
                     "with: stopping, exit %d for the supervisor to restart ztca serve\"",
                     WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
                     CLI_SERVE_EXIT_SIGNER);
            ztca_log(ZTCA_LOG_INFO, "event=stopping reason=signer_exited grace_s=%d",
                     CLI_SERVE_SIGNER_GRACE_S);
            exit_status = CLI_SERVE_EXIT_SIGNER;
            grace_s = CLI_SERVE_SIGNER_GRACE_S;
            break;
        }
        struct timespec tick = { CLI_SERVE_TICK_S, 0 };
        int sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig < 0) {
            /* Periodic work, on the configuration now in force. */
            cli_serve_ocsp_step(&s, dir, read_only, srv);
            if (!read_only && ztca_now() >= next_purge) {
                store_purge_stats ps;
                rc = store_purge(s.st, ztca_now() - STORE_RETENTION_DEFAULT, 1000, 10, &ps);
                if (ZTCA_IS_OK(rc) && ps.certs + ps.tokens + ps.signals + ps.changes > 0) {
                    ztca_log(ZTCA_LOG_INFO,
                             "event=purged certs=%zu tokens=%zu signals=%zu "
                             "changes=%zu",
                             ps.certs, ps.tokens, ps.signals, ps.changes);
                }
                next_purge = ztca_now() + 3600;
            }
            continue;
        }
        if (sig == SIGPIPE || sig == SIGCHLD || sig == SIGUSR1) {
            continue; /* SIGCHLD, SIGUSR1: checked at the top of the loop */
        }
        if (sig == SIGHUP) {
            cli_serve_reload(&s, dir, srv);
            /* An OCSP node takes a responder identity put in place by the read-write nodes (or
             * by hand) now rather than at the next tick; a read-write node applies a changed
             * signer_renew_before. */
            cli_serve_ocsp_step(&s, dir, read_only, srv);
            continue;
        }
        ztca_log(ZTCA_LOG_INFO, "event=stopping signal=%d", sig);
        break;
    }
    api_server_stop(srv, grace_s);
    srv = NULL;
    ztca_log(ZTCA_LOG_INFO, "event=stopped status=%d", exit_status);
    status = exit_status;
out:
    api_server_stop(srv, 0);
    ztca_free_secret(pass, pass_len + 1);
    cli_serve_state_free(&s);
    return status;
}

int
cli_serve_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "listen-https", required_argument, NULL, 's' },
        { "listen-http", required_argument, NULL, 'p' },
        { "listen-authz", required_argument, NULL, 'a' },
        { "role", required_argument, NULL, 'r' },
        { "store", required_argument, NULL, 'S' },
        { "passphrase-file", required_argument, NULL, 'P' },
        { "threads", required_argument, NULL, 't' },
        { "max-connections", required_argument, NULL, 'm' },
        { "user", required_argument, NULL, 'u' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *https = "127.0.0.1:8443", *http = "127.0.0.1:8080";
    const char *store_flag = NULL, *pass_file = NULL, *authz = NULL, *user = NULL;
    bool read_only = false;
    unsigned threads = 0, max_conns = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 's':
            https = strcmp(optarg, "none") == 0 ? NULL : optarg;
            break;
        case 'p':
            http = strcmp(optarg, "none") == 0 ? NULL : optarg;
            break;
        case 'a':
            authz = optarg;
            break;
        case 'r':
            if (strcmp(optarg, "all") != 0 && strcmp(optarg, "ocsp") != 0) {
                return cli_usage_error("serve", "--role must be all or ocsp");
            }
            read_only = strcmp(optarg, "ocsp") == 0;
            break;
        case 'S':
            store_flag = optarg;
            break;
        case 'P':
            pass_file = optarg;
            break;
        case 't':
            if (!cli_serve_uint(optarg, 1, 256, &threads)) {
                return cli_usage_error("serve", "--threads must be 1-256");
            }
            break;
        case 'm':
            if (!cli_serve_uint(optarg, 16, 1000000, &max_conns)) {
                return cli_usage_error("serve", "--max-connections must be 16-1000000");
            }
            break;
        case 'u':
            user = optarg;
            break;
        case 'h':
            cli_serve_usage(stdout);
            return 0;
        default:
            return cli_usage_error("serve", "invalid option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("serve", "unexpected argument");
    }
    if (https == NULL && http == NULL && authz == NULL) {
        return cli_usage_error("serve", "at least one listener is needed");
    }
    return cli_serve_run(cli_default_dir(dir), https, http, authz, read_only, store_flag, pass_file,
                         threads, max_conns, user);
}
