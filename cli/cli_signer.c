/* cli_signer.c: the signer process of `ztca serve` (docs/hardening.md "Privilege separation").
 *
 * `ztca serve` forks it before any thread exists. It holds the issuing CA key (slot 0) and the OCSP
 * signer keys (slot 1, then one slot per rotation), never the root key, and answers only the
 * requests of ca/ca_remote.c over one SOCK_SEQPACKET socketpair per CPU (8 to 64): one blocking
 * request/answer at a time per pair, one thread per pair on each side, so request threads sign in
 * parallel without request ids. The network process checks a pair out of a pool per call. The
 * signer exits when its parent goes away: every pair reads EOF, and PR_SET_PDEATHSIG backs that
 * up. The model is OpenBSD acme-client's keyproc and rpki-client's process_start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

/* ASan builds (clang says so with __has_feature, gcc with __SANITIZE_ADDRESS__). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLI_SIGNER_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CLI_SIGNER_LSAN)
#define CLI_SIGNER_LSAN 1
#endif
#ifdef CLI_SIGNER_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define CLI_SIGNER_TIMEOUT_S 30 /* an answer slower than this: the signer is stuck, fail closed */

typedef struct cli_signer_ctx {
    cli_signer_proc *p; /* borrowed: the owner */
    uint8_t slot;
} cli_signer_ctx;

struct cli_signer_proc {
    pid_t pid;
    int fds[CLI_SIGNER_CONNS_MAX]; /* the network process's ends; -1 once broken */
    int free_conns[CLI_SIGNER_CONNS_MAX];
    size_t num_conns; /* pairs made: fds[0..num_conns) */
    size_t num_free;
    size_t num_live;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cli_signer_ctx ctx[CA_REMOTE_SLOTS]; /* what each remote ca_signer points at */
};

/* ---- key files ----------------------------------------------------------------------------- */

/* The rule of issue 13: a key file is a regular file, 0600 or stricter, owned by the user that
 * reads it (the signer process's). */
static ztca_rc
cli_key_file_check(const char *path, struct stat *out_st)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        ZTCA_ENSURE(errno != ENOENT, ZTCA_ERR_NOT_FOUND, "no such key file");
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot stat the key file");
    }
    *out_st = st;
    ZTCA_ENSURE(S_ISREG(st.st_mode), ZTCA_ERR_BAD_INPUT, "key file is not a regular file");
    ZTCA_ENSURE((st.st_mode & 077) == 0, ZTCA_ERR_DENIED,
                "key file is accessible by group or others (chmod 600 it)");
    ZTCA_ENSURE(st.st_uid == geteuid(), ZTCA_ERR_DENIED,
                "key file is not owned by the user that reads it (chown it)");
    return ZTCA_RC_OK;
}

ztca_rc
cli_signer_check_keys(const char *dir)
{
    char priv[4096], path[4096];
    ZTCA_ENSURE(cli_path(priv, sizeof(priv), dir, "private"), ZTCA_ERR_BAD_INPUT, "path too long");
    DIR *d = opendir(priv);
    ZTCA_ENSURE(d != NULL, ZTCA_ERR_NOT_FOUND, "no private/ directory in DIR");
    ztca_rc rc = ZTCA_RC_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".key") != 0) {
            continue;
        }
        if (!cli_path(path, sizeof(path), priv, e->d_name)) {
            continue;
        }
        struct stat st;
        memset(&st, 0, sizeof(st));
        ztca_rc r = cli_key_file_check(path, &st);
        if (ZTCA_IS_OK(r)) {
            continue;
        }
        /* One line per file, naming the fix: the operator reads this, not a code. */
        if ((st.st_mode & 077) != 0 && S_ISREG(st.st_mode)) {
            fprintf(stderr,
                    "ztca serve: %s: mode %03o lets group or others read a key; run: chmod 600 "
                    "%s\n",
                    path, (unsigned)(st.st_mode & 0777), path);
        } else if (S_ISREG(st.st_mode) && st.st_uid != geteuid()) {
            struct passwd *pw = getpwuid(geteuid());
            char me[64];
            snprintf(me, sizeof(me), "%s", pw != NULL ? pw->pw_name : "");
            if (me[0] == '\0') {
                snprintf(me, sizeof(me), "%u", (unsigned)geteuid());
            }
            fprintf(stderr,
                    "ztca serve: %s: owned by uid %u, but the key files must belong to %s, the "
                    "user of the signer process that reads them; run: chown %s %s\n",
                    path, (unsigned)st.st_uid, me, me, path);
        } else {
            fprintf(stderr, "ztca serve: %s: %s\n", path, ztca_last_what());
        }
        rc = r;
    }
    closedir(d);
    return rc;
}

/* The key of DIR/rel, after the checks above. */
static ztca_rc
cli_signer_read_key(const char *dir, const char *rel, const uint8_t *pass, size_t pass_len,
                    ca_key **out)
{
    char path[4096];
    struct stat st;
    uint8_t *pem = NULL;
    size_t len = 0;
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, rel), ZTCA_ERR_BAD_INPUT, "path too long");
    ZTCA_GUARD(cli_key_file_check(path, &st));
    ZTCA_GUARD(cli_read_key_file(path, &pem, &len));
    ztca_rc rc = ca_key_parse(out, pem, len, pass, pass_len);
    ztca_free_secret(pem, len + 1);
    return rc;
}

/* ---- the signer process ------------------------------------------------------------------- */

typedef struct cli_signer_key {
    ca_signer *signer; /* owned; never freed before the process ends (threads sign with it) */
    bool is_ocsp;
    char *pending_pem; /* owned: a fresh OCSP key not written yet (OCSP_NEW until COMMIT) */
    size_t pending_len;
} cli_signer_key;

typedef struct cli_signer_child {
    const char *dir;
    const uint8_t *pass; /* borrowed */
    size_t pass_len;
    ca_rng *rng; /* its own: a DRBG state copied by fork must never serve two processes */
    pthread_mutex_t lock;
    cli_signer_key keys[CA_REMOTE_SLOTS];
    size_t num_keys;
} cli_signer_child;

typedef struct cli_signer_conn {
    cli_signer_child *c;
    int fd;
} cli_signer_conn;

/* Appends a signer; CONFLICT when every slot is taken. Takes `s` only on success. */
static ztca_rc
cli_signer_add(cli_signer_child *c, ca_signer *s, bool is_ocsp, char *pending, size_t pending_len,
               uint8_t *out_slot)
{
    pthread_mutex_lock(&c->lock);
    bool full = c->num_keys >= CA_REMOTE_SLOTS;
    if (!full) {
        c->keys[c->num_keys] = (cli_signer_key){ s, is_ocsp, pending, pending_len };
        *out_slot = (uint8_t)c->num_keys++;
    }
    pthread_mutex_unlock(&c->lock);
    ZTCA_ENSURE(!full, ZTCA_ERR_CONFLICT, "signer: every key slot is taken");
    return ZTCA_RC_OK;
}

static ca_signer *
cli_signer_get(cli_signer_child *c, uint8_t slot)
{
    pthread_mutex_lock(&c->lock);
    ca_signer *s = slot < c->num_keys ? c->keys[slot].signer : NULL;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static ztca_rc
cli_signer_op_sign(cli_signer_child *c, const ca_remote_msg *m, uint8_t *sig, size_t *sig_len)
{
    ca_signer *s = cli_signer_get(c, m->slot);
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOT_FOUND, "signer: no key in that slot");
    ZTCA_ENSURE((ca_md)m->arg == ca_signer_md(s), ZTCA_ERR_BAD_INPUT,
                "signer: the hash does not match the key");
    return ca_signer_sign(s, (ca_md)m->arg, m->body.p, m->body.len, sig, CA_SIG_MAX, sig_len);
}

static ztca_rc
cli_signer_op_new(cli_signer_child *c, ca_key_type type, uint8_t *out_slot)
{
    ca_key *key = NULL;
    ca_signer *s = NULL;
    char *pem = NULL;
    size_t pem_len = 0;
    ztca_rc rc = ca_key_generate(&key, c->rng, type);
    if (ZTCA_IS_OK(rc)) {
        rc = ca_key_write_pem(&pem, &pem_len, key, c->rng, c->pass, c->pass_len);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = ca_signer_new(&s, key, c->rng);
        key = ZTCA_IS_OK(rc) ? NULL : key;
    }
    if (ZTCA_IS_OK(rc)) {
        rc = cli_signer_add(c, s, true, pem, pem_len, out_slot);
    }
    if (!ZTCA_IS_OK(rc)) {
        ca_signer_free(s);
        ztca_free_secret(pem, pem_len);
    }
    ca_key_free(key);
    return rc;
}

/* Writes the pending key of `slot`, then its certificate: the order of cli_serve's rotation (a
 * crash in between leaves a key without its certificate, never the reverse). */
static ztca_rc
cli_signer_op_commit(cli_signer_child *c, const ca_remote_msg *m)
{
    char path[4096];
    char *cert_pem = NULL;
    size_t cert_pem_len = 0;
    pthread_mutex_lock(&c->lock);
    cli_signer_key *k = m->slot < c->num_keys ? &c->keys[m->slot] : NULL;
    char *pem = k != NULL && k->is_ocsp ? k->pending_pem : NULL;
    size_t pem_len = pem != NULL ? k->pending_len : 0;
    if (pem != NULL) {
        k->pending_pem = NULL; /* one commit per key */
        k->pending_len = 0;
    }
    pthread_mutex_unlock(&c->lock);
    ZTCA_ENSURE(pem != NULL, ZTCA_ERR_CONFLICT, "signer: no new OCSP key in that slot");
    size_t spki_len = 0;
    const uint8_t *spki = ca_signer_spki(k->signer, &spki_len);
    ztca_rc rc =
        ca_cert_has_key(m->body.p, m->body.len, spki, spki_len)
            ? ZTCA_RC_OK
            : ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "signer: the certificate is not for that key", 0);
    if (ZTCA_IS_OK(rc)) {
        rc = ztca_pem_encode(&cert_pem, &cert_pem_len, "CERTIFICATE", m->body.p, m->body.len);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = cli_path(path, sizeof(path), c->dir, "private/ocsp.key")
                 ? cli_write_file(path, 0600, pem, pem_len)
                 : ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "path too long", 0);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = cli_path(path, sizeof(path), c->dir, "ca/ocsp.pem")
                 ? cli_write_file(path, 0644, cert_pem, cert_pem_len)
                 : ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "path too long", 0);
    }
    ztca_free_secret(pem, pem_len);
    ztca_free(cert_pem);
    return rc;
}

/* The OCSP key now on disk: its slot when known (a follower asks at every change of ca/ocsp.pem,
 * so slots are bounded by distinct keys, not by ticks), else a new one. */
static ztca_rc
cli_signer_op_load(cli_signer_child *c, uint8_t *out_slot)
{
    ca_key *key = NULL;
    ca_signer *s = NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    ztca_rc rc = cli_signer_read_key(c->dir, "private/ocsp.key", c->pass, c->pass_len, &key);
    if (ZTCA_IS_OK(rc)) {
        rc = ca_key_spki(key, &spki, &spki_len);
    }
    bool known = false;
    if (ZTCA_IS_OK(rc)) {
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < c->num_keys && !known; i++) {
            size_t n = 0;
            const uint8_t *have = ca_signer_spki(c->keys[i].signer, &n);
            if (c->keys[i].is_ocsp && n == spki_len && memcmp(have, spki, n) == 0) {
                known = true;
                *out_slot = (uint8_t)i;
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (ZTCA_IS_OK(rc) && !known) {
        rc = ca_signer_new(&s, key, c->rng);
        key = ZTCA_IS_OK(rc) ? NULL : key;
        if (ZTCA_IS_OK(rc)) {
            rc = cli_signer_add(c, s, true, NULL, 0, out_slot);
        }
        if (!ZTCA_IS_OK(rc)) {
            ca_signer_free(s);
        }
    }
    ca_key_free(key);
    ztca_free(spki);
    return rc;
}

/* One request in, one answer out (always: a refusal is an answer with its code). */
static size_t
cli_signer_handle(cli_signer_child *c, const uint8_t *in, size_t in_len, uint8_t *out,
                  size_t out_size)
{
    ca_remote_msg m;
    uint8_t body[CA_REMOTE_BODY_MAX];
    size_t body_len = 0, out_len = 0;
    uint8_t slot = 0;
    ztca_rc rc = ca_remote_req_parse(&m, in, in_len);
    uint8_t op = in_len > 1 ? in[1] : 0;
    if (ZTCA_IS_OK(rc)) {
        slot = m.slot;
        switch (m.op) {
        case CA_REMOTE_SIGN:
            rc = cli_signer_op_sign(c, &m, body, &body_len);
            break;
        case CA_REMOTE_INFO: {
            ca_signer *s = cli_signer_get(c, m.slot);
            size_t n = 0;
            const uint8_t *spki = s != NULL ? ca_signer_spki(s, &n) : NULL;
            rc = spki != NULL && n <= sizeof(body)
                     ? ZTCA_RC_OK
                     : ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "signer: no key in that slot", 0);
            if (ZTCA_IS_OK(rc)) {
                memcpy(body, spki, n);
                body_len = n;
            }
            break;
        }
        case CA_REMOTE_OCSP_NEW:
        case CA_REMOTE_OCSP_LOAD:
            rc = m.op == CA_REMOTE_OCSP_NEW ? cli_signer_op_new(c, (ca_key_type)m.arg, &slot)
                                            : cli_signer_op_load(c, &slot);
            if (ZTCA_IS_OK(rc)) {
                size_t n = 0;
                const uint8_t *spki = ca_signer_spki(cli_signer_get(c, slot), &n);
                rc = n <= sizeof(body) ? ZTCA_RC_OK
                                       : ZTCA_NOTE(ZTCA_ERR_INTERNAL, "signer: SPKI size", 0);
                if (ZTCA_IS_OK(rc)) {
                    memcpy(body, spki, n);
                    body_len = n;
                }
            }
            break;
        case CA_REMOTE_OCSP_COMMIT:
            rc = cli_signer_op_commit(c, &m);
            break;
        }
    }
    if (!ZTCA_IS_OK(rc)) {
        ztca_log(ZTCA_LOG_ERROR, "event=signer_refused op=%u slot=%u code=%s what=\"%s\"",
                 (unsigned)op, (unsigned)slot, ztca_err_name(rc.err), ztca_last_what());
        body_len = 0;
    }
    if (!ZTCA_IS_OK(
            ca_remote_encode(out, out_size, &out_len, op, slot, (uint8_t)rc.err, body, body_len))) {
        return 0;
    }
    return out_len;
}

static void *
cli_signer_serve(void *arg)
{
    cli_signer_conn *conn = arg;
    uint8_t in[CA_REMOTE_MSG_MAX], out[CA_REMOTE_MSG_MAX];
    for (;;) {
        /* MSG_TRUNC: the real length of an over-long message, which is then refused whole. */
        ssize_t n = recv(conn->fd, in, sizeof(in), MSG_TRUNC);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* EOF: the network process closed its end or exited */
        }
        size_t len = (size_t)n > sizeof(in) ? 0 : (size_t)n; /* 0 never parses */
        size_t out_len = cli_signer_handle(conn->c, in, len, out, sizeof(out));
        ztca_zeroize(in, sizeof(in));
        if (out_len == 0 || send(conn->fd, out, out_len, MSG_NOSIGNAL) != (ssize_t)out_len) {
            break;
        }
    }
    close(conn->fd);
    return NULL;
}

static void
cli_signer_child_free(cli_signer_child *c)
{
    for (size_t i = 0; i < c->num_keys; i++) {
        ca_signer_free(c->keys[i].signer);
        ztca_free_secret(c->keys[i].pending_pem, c->keys[i].pending_len);
    }
    ca_rng_free(c->rng);
    pthread_mutex_destroy(&c->lock);
}

static ztca_rc
cli_signer_child_load(cli_signer_child *c, const char *rel, bool is_ocsp)
{
    ca_key *key = NULL;
    ca_signer *s = NULL;
    uint8_t slot = 0;
    ZTCA_GUARD(cli_signer_read_key(c->dir, rel, c->pass, c->pass_len, &key));
    ztca_rc rc = ca_signer_new(&s, key, c->rng);
    if (!ZTCA_IS_OK(rc)) {
        ca_key_free(key);
        return rc;
    }
    rc = cli_signer_add(c, s, is_ocsp, NULL, 0, &slot);
    if (!ZTCA_IS_OK(rc)) {
        ca_signer_free(s);
    }
    return rc;
}

static _Noreturn void
cli_signer_child_main(const char *dir, const uint8_t *pass, size_t pass_len, const int *fds,
                      size_t num_fds, pid_t parent)
{
    cli_signer_child c;
    memset(&c, 0, sizeof(c));
    int status = 1;
    /* Die with the network process even if a pair stays open somewhere (a fork of it). */
    if (num_fds == 0 || num_fds > CLI_SIGNER_CONNS_MAX || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0
        || getppid() != parent) {
        _exit(1);
    }
    /* Its own process group: a terminal's ^C stops the network process, which then closes the
     * pairs, instead of killing the signer under requests in flight. */
    (void)setpgid(0, 0);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    c.dir = dir;
    c.pass = pass;
    c.pass_len = pass_len;
    pthread_mutex_init(&c.lock, NULL);
    ztca_rc rc = ca_rng_new(&c.rng);
    if (!ZTCA_IS_OK(rc)) {
        cli_fail("serve", "signer process: cannot seed its DRBG", rc);
        goto out;
    }
    rc = cli_signer_child_load(&c, "private/intermediate.key", false);
    if (!ZTCA_IS_OK(rc)) {
        cli_fail("serve", "signer process: cannot load private/intermediate.key", rc);
        goto out;
    }
    rc = cli_signer_child_load(&c, "private/ocsp.key", true);
    if (!ZTCA_IS_OK(rc)) {
        cli_fail("serve", "signer process: cannot load private/ocsp.key", rc);
        goto out;
    }
    cli_signer_conn conns[CLI_SIGNER_CONNS_MAX];
    pthread_t threads[CLI_SIGNER_CONNS_MAX];
    bool started[CLI_SIGNER_CONNS_MAX] = { false };
    for (size_t i = 0; i < num_fds; i++) {
        conns[i] = (cli_signer_conn){ &c, fds[i] };
    }
    for (size_t i = 1; i < num_fds; i++) {
        started[i] = pthread_create(&threads[i], NULL, cli_signer_serve, &conns[i]) == 0;
        if (!started[i]) {
            close(fds[i]); /* that pair reads EOF in the network process: one fewer in the pool */
        }
    }
    (void)cli_signer_serve(&conns[0]);
    for (size_t i = 1; i < num_fds; i++) {
        if (started[i]) {
            pthread_join(threads[i], NULL);
        }
    }
    status = 0;
out:
    cli_signer_child_free(&c);
#ifdef CLI_SIGNER_LSAN
    /* _exit skips LeakSanitizer's check at exit: without this the signer process's leaks would
     * never be reported (a leak makes it abort, and the report goes where ASAN_OPTIONS says). */
    __lsan_do_leak_check();
#endif
    _exit(status);
}

/* ---- the network process's side ----------------------------------------------------------- */

ztca_rc
cli_signer_start(cli_signer_proc **out, const char *dir, const uint8_t *pass, size_t pass_len)
{
    int pairs[CLI_SIGNER_CONNS_MAX][2];
    size_t made = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = cpus < CLI_SIGNER_CONNS_MIN   ? CLI_SIGNER_CONNS_MIN
               : cpus > CLI_SIGNER_CONNS_MAX ? CLI_SIGNER_CONNS_MAX
                                             : (size_t)cpus;
    cli_signer_proc *p = calloc(1, sizeof(*p));
    ZTCA_ENSURE(p != NULL, ZTCA_ERR_NOMEM, "out of memory");
    for (; made < n; made++) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pairs[made]) != 0) {
            break;
        }
    }
    pid_t parent = getpid();
    pid_t pid = made == n ? fork() : -1;
    if (pid == 0) {
        int child_fds[CLI_SIGNER_CONNS_MAX];
        for (size_t i = 0; i < n; i++) {
            close(pairs[i][0]);
            child_fds[i] = pairs[i][1];
        }
        cli_signer_child_main(dir, pass, pass_len, child_fds, n, parent);
    }
    for (size_t i = 0; i < made; i++) {
        close(pairs[i][1]);
        if (pid < 0) {
            close(pairs[i][0]);
        }
    }
    if (pid < 0) {
        free(p);
        ZTCA_BAIL(ZTCA_ERR_IO, "cannot start the signer process (socketpair or fork failed)");
    }
    p->pid = pid;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    struct timeval tv = { CLI_SIGNER_TIMEOUT_S, 0 };
    p->num_conns = n;
    for (size_t i = 0; i < n; i++) {
        p->fds[i] = pairs[i][0];
        (void)setsockopt(p->fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        p->free_conns[i] = (int)i;
    }
    p->num_free = n;
    p->num_live = n;
    for (size_t i = 0; i < CA_REMOTE_SLOTS; i++) {
        p->ctx[i] = (cli_signer_ctx){ p, (uint8_t)i };
    }
    *out = p;
    return ZTCA_RC_OK;
}

pid_t
cli_signer_pid(const cli_signer_proc *p)
{
    return p->pid;
}

void
cli_signer_stop(cli_signer_proc *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->num_conns; i++) {
        if (p->fds[i] >= 0) {
            close(p->fds[i]);
        }
    }
    /* EOF on every pair ends it; it may be gone already (reaped by cli_signer_reap). */
    if (p->pid > 0) {
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

bool
cli_signer_reap(cli_signer_proc *p, int *out_status)
{
    int st = 0;
    /* Under the lock: a request thread may kill the pid (a stuck signer), which is safe only
     * while it is not reaped (a zombie's pid is not reused). */
    pthread_mutex_lock(&p->lock);
    bool gone = p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid;
    if (gone) {
        p->pid = -1;
    }
    pthread_mutex_unlock(&p->lock);
    if (gone) {
        *out_status = st;
    }
    return gone;
}

/* One request and its answer on a pair of the pool. A pair that fails is closed for good (an
 * answer may still be on its way, and would answer the next request): when none is left the
 * signer is gone and every call is UNAVAILABLE, so signing routes fail closed with 503. */
static ztca_rc
cli_signer_call(cli_signer_proc *p, const uint8_t *req, size_t req_len, ca_remote_op op,
                uint8_t *resp, size_t resp_size, ca_remote_msg *out)
{
    pthread_mutex_lock(&p->lock);
    while (p->num_free == 0 && p->num_live > 0) {
        pthread_cond_wait(&p->cond, &p->lock);
    }
    if (p->num_live == 0) {
        pthread_mutex_unlock(&p->lock);
        ZTCA_BAIL(ZTCA_ERR_UNAVAILABLE, "the signer process is gone: ztca serve is stopping");
    }
    int i = p->free_conns[--p->num_free];
    int fd = p->fds[i];
    pthread_mutex_unlock(&p->lock);

    ssize_t n;
    do {
        n = send(fd, req, req_len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    ssize_t r = -1;
    if (n == (ssize_t)req_len) {
        do {
            r = recv(fd, resp, resp_size, MSG_TRUNC);
        } while (r < 0 && errno == EINTR);
    }
    bool ok = r > 0 && (size_t)r <= resp_size;

    /* No answer within SO_RCVTIMEO: the signer process is stuck. It is killed, so that it is
     * handled as a dead one (ztca serve stops and its supervisor restarts it) rather than
     * leaving the pool to shrink one pair per timeout. */
    bool stuck = n == (ssize_t)req_len && r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);

    pthread_mutex_lock(&p->lock);
    if (ok) {
        p->free_conns[p->num_free++] = i;
    } else {
        close(fd);
        p->fds[i] = -1;
        p->num_live--;
    }
    if (stuck && p->pid > 0) {
        ztca_log(ZTCA_LOG_ERROR, "event=signer_stuck timeout_s=%d pid=%d", CLI_SIGNER_TIMEOUT_S,
                 (int)p->pid);
        (void)kill(p->pid, SIGKILL);
    }
    pthread_cond_signal(&p->cond);
    if (!ok) {
        pthread_cond_broadcast(&p->cond); /* waiters must see num_live reach 0 */
    }
    pthread_mutex_unlock(&p->lock);
    ZTCA_ENSURE(ok, ZTCA_ERR_UNAVAILABLE,
                "the signer process does not answer: ztca serve is stopping");
    /* Neither a malformed answer nor a refusal is the HTTP client's fault: never a 4xx. */
    ZTCA_ENSURE(ZTCA_IS_OK(ca_remote_resp_parse(out, op, resp, (size_t)r)), ZTCA_ERR_INTERNAL,
                "the signer process sent a malformed answer");
    ZTCA_ENSURE(out->arg == ZTCA_OK, ZTCA_ERR_INTERNAL,
                "the signer process refused the request (its reason is in the log)");
    return ZTCA_RC_OK;
}

static ztca_rc
cli_signer_sign_fn(void *ctx, ca_md md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
                   size_t sig_size, size_t *sig_len)
{
    const cli_signer_ctx *c = ctx;
    uint8_t req[CA_REMOTE_HDR_LEN + CA_HASH_MAX], resp[CA_REMOTE_MSG_MAX];
    size_t req_len = 0;
    ca_remote_msg m;
    ZTCA_GUARD(ca_remote_encode(req, sizeof(req), &req_len, CA_REMOTE_SIGN, c->slot, (uint8_t)md,
                                hash, hash_len));
    ZTCA_GUARD(cli_signer_call(c->p, req, req_len, CA_REMOTE_SIGN, resp, sizeof(resp), &m));
    ZTCA_ENSURE(m.body.len <= sig_size, ZTCA_ERR_INTERNAL, "sign: buffer too small");
    memcpy(sig, m.body.p, m.body.len);
    *sig_len = m.body.len;
    return ZTCA_RC_OK;
}

/* A request without a body whose answer names a slot and its public key: a remote signer. */
static ztca_rc
cli_signer_open_op(cli_signer_proc *p, ca_remote_op op, uint8_t slot, uint8_t arg,
                   uint8_t *out_slot, ca_signer **out)
{
    uint8_t req[CA_REMOTE_HDR_LEN], resp[CA_REMOTE_MSG_MAX];
    size_t req_len = 0;
    ca_remote_msg m;
    ZTCA_GUARD(ca_remote_encode(req, sizeof(req), &req_len, (uint8_t)op, slot, arg, NULL, 0));
    ZTCA_GUARD(cli_signer_call(p, req, req_len, op, resp, sizeof(resp), &m));
    ZTCA_ENSURE(op != CA_REMOTE_INFO || m.slot == slot, ZTCA_ERR_INTERNAL,
                "the signer process answered for another slot");
    ZTCA_GUARD(
        ca_signer_new_remote(out, m.body.p, m.body.len, cli_signer_sign_fn, &p->ctx[m.slot]));
    if (out_slot != NULL) {
        *out_slot = m.slot;
    }
    return ZTCA_RC_OK;
}

ztca_rc
cli_signer_open(cli_signer_proc *p, uint8_t slot, ca_signer **out)
{
    return cli_signer_open_op(p, CA_REMOTE_INFO, slot, 0, NULL, out);
}

ztca_rc
cli_signer_ocsp_new(cli_signer_proc *p, ca_key_type type, uint8_t *out_slot, ca_signer **out)
{
    return cli_signer_open_op(p, CA_REMOTE_OCSP_NEW, 0, (uint8_t)type, out_slot, out);
}

ztca_rc
cli_signer_ocsp_load(cli_signer_proc *p, ca_signer **out)
{
    return cli_signer_open_op(p, CA_REMOTE_OCSP_LOAD, 0, 0, NULL, out);
}

ztca_rc
cli_signer_ocsp_commit(cli_signer_proc *p, uint8_t slot, const uint8_t *cert, size_t cert_len)
{
    uint8_t req[CA_REMOTE_MSG_MAX], resp[CA_REMOTE_HDR_LEN + 16];
    size_t req_len = 0;
    ca_remote_msg m;
    ZTCA_GUARD(ca_remote_encode(req, sizeof(req), &req_len, CA_REMOTE_OCSP_COMMIT, slot, 0, cert,
                                cert_len));
    return cli_signer_call(p, req, req_len, CA_REMOTE_OCSP_COMMIT, resp, sizeof(resp), &m);
}
