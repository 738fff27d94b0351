/* agent_cmd.c: `ztca-agent enroll`, `renew` and `status` (docs/enrollment.md): the TPM steps of
 * DESIGN.md 3 through attest/tpm/, the two round trips with the server, and DIR written as a
 * group at the very end (agent_files), so a failure leaves no partial files. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "enroll/agent/agent.h"

/* ---- messages ------------------------------------------------------------------------------ */

static int agent_fail(const char *cmd, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
agent_fail(const char *cmd, int status, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ztca-agent %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

/* A TPM failure in words a user can act on. */
static int
agent_tpm_fail(const char *cmd, const char *tcti, ztca_rc rc, uint32_t lockout_s)
{
    long foreign = ztca_last_foreign();
    if (rc.err == ZTCA_ERR_NOT_FOUND) {
        return agent_fail(cmd, AGENT_EXIT_TPM,
                          "no TPM at %s: %s (%s); name it with --tcti, or "
                          "enroll without one with --no-tpm",
                          tcti != NULL ? tcti : "this TCTI", ztca_last_what(),
                          foreign != 0 ? attest_tpm_rc_text(foreign) : "-");
    }
    if (rc.err == ZTCA_ERR_DENIED && lockout_s > 0) {
        return agent_fail(cmd, AGENT_EXIT_TPM, "%s (recovery in %u s)", ztca_last_what(),
                          (unsigned)lockout_s);
    }
    if (rc.err == ZTCA_ERR_DENIED) {
        return agent_fail(cmd, AGENT_EXIT_TPM, "%s", ztca_last_what());
    }
    return agent_fail(cmd, AGENT_EXIT_TPM, "TPM%s%s: %s: %s", tcti != NULL ? " at " : "",
                      tcti != NULL ? tcti : "", ztca_last_what(),
                      foreign != 0 ? attest_tpm_rc_text(foreign) : "-");
}

/* The server's answer, or the lack of one, as an exit status (0: the expected status came). */
static int
agent_reply_check(const char *cmd, const agent_http *h, ztca_rc rc, const agent_reply *r,
                  long expect)
{
    if (!ZTCA_IS_OK(rc)) {
        if (r->tls_verify) {
            return agent_fail(cmd, AGENT_EXIT_NETWORK,
                              "TLS: the server's certificate does not verify against %s: %s "
                              "(wrong --ca-cert, or a clock far off)",
                              h->ca_file, r->error);
        }
        return agent_fail(cmd, AGENT_EXIT_NETWORK, "cannot reach %s: %s", h->server, r->error);
    }
    if (r->date != 0) {
        int64_t skew = r->date - ztca_now();
        if (skew > 60 || skew < -60) {
            fprintf(stderr,
                    "ztca-agent %s: warning: clock skew: this machine's clock is %lld s %s the "
                    "server's; certificates are backdated by only 60 s: fix the time (NTP)\n",
                    cmd, (long long)(skew < 0 ? -skew : skew), skew < 0 ? "ahead of" : "behind");
        }
    }
    if (r->status == expect) {
        return 0;
    }
    const char *type = json_string_value(json_object_get(r->body, "type"));
    const char *title = json_string_value(json_object_get(r->body, "title"));
    const char *detail = json_string_value(json_object_get(r->body, "detail"));
    const char *reason = json_string_value(json_object_get(r->body, "reason"));
    if (type != NULL && strncmp(type, "urn:ztca:problem:", 17) == 0) {
        type += 17;
    }
    if (r->status >= 500 || r->status == 429) {
        /* 429 (rate-limited) passes with time like a 5xx: `run` backs off and tries again
         * instead of giving up as it does on a refusal. */
        return agent_fail(cmd, AGENT_EXIT_NETWORK, "server error (HTTP %ld, %s): %s", r->status,
                          type != NULL ? type : "-", detail != NULL ? detail : "-");
    }
    if (type != NULL && strcmp(type, "token-invalid") == 0) {
        return agent_fail(cmd, AGENT_EXIT_REFUSED,
                          "the server refused the token (HTTP %ld, token-invalid): it is unknown, "
                          "already used or expired; ask an administrator for a new one",
                          r->status);
    }
    return agent_fail(cmd, AGENT_EXIT_REFUSED, "the server refused (HTTP %ld, %s%s%s): %s: %s",
                      r->status, type != NULL ? type : "no problem type",
                      reason != NULL ? ", " : "", reason != NULL ? reason : "",
                      title != NULL ? title : "-", detail != NULL ? detail : "-");
}

/* ---- JSON helpers -------------------------------------------------------------------------- */

static json_t *
agent_b64(const uint8_t *p, size_t len)
{
    char *s = NULL;
    size_t n = 0;
    if (!ZTCA_IS_OK(ztca_base64_encode(&s, &n, p, len))) {
        return NULL;
    }
    json_t *v = json_string(s);
    ztca_free(s);
    return v;
}

/* A base64 member of the server's answer into out[out_size]. */
static bool
agent_get_b64(const json_t *o, const char *key, uint8_t *out, size_t out_size, size_t *out_len)
{
    const json_t *v = json_object_get(o, key);
    uint8_t *p = NULL;
    size_t n = 0;
    if (!json_is_string(v)
        || !ZTCA_IS_OK(ztca_base64_decode(&p, &n, json_string_value(v), json_string_length(v)))) {
        return false;
    }
    bool ok = n <= out_size;
    if (ok) {
        memcpy(out, p, n);
        *out_len = n;
    }
    ztca_free(p);
    return ok;
}

/* What the device says about itself (kept apart from what the server verifies). */
static json_t *
agent_facts(bool tpm, const attest_tpm_ek *ek)
{
    char host[256] = "";
    struct utsname u;
    json_t *f = json_object();
    if (f == NULL) {
        return NULL;
    }
    if (gethostname(host, sizeof(host) - 1) == 0) {
        json_object_set_new(f, "hostname", json_string(host));
    }
    if (uname(&u) == 0) {
        char os[3 * 65 + 4];
        snprintf(os, sizeof(os), "%s %s %s", u.sysname, u.release, u.machine);
        json_object_set_new(f, "os", json_string(os));
    }
    json_object_set_new(f, "agent", json_string("ztca-agent " ZTCA_VERSION));
    json_object_set_new(f, "key", json_string(tpm ? "tpm" : "software"));
    if (ek != NULL && ek->cert_len > 0) {
        char nv[16];
        snprintf(nv, sizeof(nv), "0x%08x", (unsigned)ek->nv_index);
        json_object_set_new(f, "ek_nv_index", json_string(nv));
    }
    return f;
}

/* CN of the CSR (the server ignores the subject; it helps a human reading the CSR). */
static void
agent_cn(char *out, size_t out_size)
{
    if (gethostname(out, out_size - 1) != 0 || out[0] == '\0' || strlen(out) > 64) {
        snprintf(out, out_size, "ztca-agent");
    }
    out[out_size - 1] = '\0';
}

static int64_t
agent_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the TPM proof (enroll and renew share it) --------------------------------------------- */

typedef struct agent_tpm_ctx {
    attest_tpm *tpm;
    attest_tpm_ek ek;
    attest_tpm_obj ak;
    attest_tpm_obj key;
} agent_tpm_ctx;

/* The answer to a begin: activation, CSR, certify, quote; the finish body into *out. */
static int
agent_tpm_finish_body(const char *cmd, agent_tpm_ctx *x, const json_t *chal, int64_t ttl,
                      json_t **out)
{
    uint8_t id_obj[ATTEST_ID_OBJECT_MAX], enc[ATTEST_ENC_SECRET_MAX], nonce[ATTEST_DIGEST_MAX];
    uint8_t secret[ATTEST_SECRET_MAX], digest[32];
    size_t id_len = 0, enc_len = 0, nonce_len = 0, secret_len = 0;
    const json_t *cred = json_object_get(chal, "credential");
    const json_t *sel = json_object_get(chal, "pcr_selection");
    const char *session = json_string_value(json_object_get(chal, "session"));
    const char *bank_name = json_string_value(json_object_get(sel, "bank"));
    const json_t *pcrs = json_object_get(sel, "pcrs");
    uint32_t mask = 0;
    size_t i;
    const json_t *v;
    if (session == NULL || bank_name == NULL || !json_is_array(pcrs)
        || !agent_get_b64(chal, "nonce", nonce, sizeof(nonce), &nonce_len)
        || !agent_get_b64(cred, "id_object", id_obj, sizeof(id_obj), &id_len)
        || !agent_get_b64(cred, "encrypted_secret", enc, sizeof(enc), &enc_len)) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "the server's challenge is malformed");
    }
    json_array_foreach(pcrs, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0
            || json_integer_value(v) >= ATTEST_PCR_MAX) {
            return agent_fail(cmd, AGENT_EXIT_ERROR, "the server asked for an unknown PCR");
        }
        mask |= 1u << json_integer_value(v);
    }
    uint16_t bank = strcmp(bank_name, "sha1") == 0     ? ATTEST_ALG_SHA1
                    : strcmp(bank_name, "sha256") == 0 ? ATTEST_ALG_SHA256
                    : strcmp(bank_name, "sha384") == 0 ? ATTEST_ALG_SHA384
                    : strcmp(bank_name, "sha512") == 0 ? ATTEST_ALG_SHA512
                                                       : 0;
    if (bank == 0 || mask == 0) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "the server asked for an unknown PCR bank");
    }
    ztca_rc rc = attest_tpm_activate(x->tpm, &x->ek, &x->ak, id_obj, id_len, enc, enc_len, secret,
                                     sizeof(secret), &secret_len);
    if (!ZTCA_IS_OK(rc)) {
        return agent_tpm_fail(cmd, NULL, rc, 0);
    }
    /* The CSR: its info is built from the TLS key's public area, its signature made by the TPM
     * in the same session as the certify. */
    attest_key k;
    uint8_t *info = NULL;
    size_t info_len = 0;
    char cn[65];
    agent_cn(cn, sizeof(cn));
    attest_tpm_evidence *ev = ztca_calloc(1, sizeof(*ev));
    char *csr = NULL;
    size_t csr_len = 0;
    int status = AGENT_EXIT_ERROR;
    if (ev == NULL || !ZTCA_IS_OK(attest_key_parse(&k, NULL, x->key.pub, x->key.pub_len))
        || !ZTCA_IS_OK(agent_csr_info(&info, &info_len, cn, k.spki, k.spki_len))
        || !ZTCA_IS_OK(ca_hash(CA_MD_SHA256, info, info_len, digest, sizeof(digest)))) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot build the CSR: %s", ztca_last_what());
        goto out;
    }
    rc =
        attest_tpm_prove(x->tpm, &x->ek, &x->ak, &x->key, nonce, nonce_len, bank, mask, digest, ev);
    if (!ZTCA_IS_OK(rc)) {
        status = agent_tpm_fail(cmd, NULL, rc, 0);
        goto out;
    }
    if (!ZTCA_IS_OK(agent_csr_pem(&csr, &csr_len, info, info_len, ev->csr_sig, ev->csr_sig_len))) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot build the CSR: %s", ztca_last_what());
        goto out;
    }
    *out = json_pack("{s:s, s:o, s:{s:o, s:o}, s:{s:o, s:o, s:o}, s:s}", "session", session,
                     "secret", agent_b64(secret, secret_len), "certify", "attest",
                     agent_b64(ev->certify_attest, ev->certify_attest_len), "signature",
                     agent_b64(ev->certify_sig, ev->certify_sig_len), "quote", "attest",
                     agent_b64(ev->quote_attest, ev->quote_attest_len), "signature",
                     agent_b64(ev->quote_sig, ev->quote_sig_len), "pcr_values",
                     agent_b64(ev->pcr_values, ev->pcr_values_len), "csr", csr);
    if (*out != NULL && ttl > 0) {
        json_object_set_new(*out, "ttl", json_integer(ttl));
    }
    status = *out != NULL ? AGENT_EXIT_OK : agent_fail(cmd, AGENT_EXIT_ERROR, "out of memory");
out:
    ztca_zeroize(secret, sizeof(secret));
    ztca_free(csr);
    ztca_free(info);
    ztca_free(ev);
    return status;
}

/* ---- results ------------------------------------------------------------------------------- */

/* The issued certificate's facts into the state, and its PEM files into the group. */
static int
agent_take_cert(const char *cmd, const json_t *reply, agent_state *st, agent_files *files)
{
    const char *cert = json_string_value(json_object_get(reply, "certificate"));
    const char *chain = json_string_value(json_object_get(reply, "chain"));
    const char *device = json_string_value(json_object_get(reply, "device_id"));
    const json_t *att = json_object_get(reply, "attestation");
    const char *level = json_string_value(json_object_get(att, "level"));
    uint8_t *der = NULL;
    size_t der_len = 0;
    ca_cert_info info;
    if (cert == NULL || chain == NULL || device == NULL
        || !ZTCA_IS_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE", (const uint8_t *)cert,
                                           strlen(cert)))) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "the server's answer lacks the certificate");
    }
    ztca_rc rc = ca_cert_info_parse(&info, der, der_len);
    ztca_free(der);
    if (!ZTCA_IS_OK(rc)) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "the issued certificate does not parse: %s",
                          ztca_last_what());
    }
    ca_spiffe id;
    const char *td_start = strncmp(info.uri, "spiffe://", 9) == 0 ? info.uri + 9 : "";
    char td[CA_TD_MAX + 1];
    snprintf(td, sizeof(td), "%.*s", (int)strcspn(td_start, "/"), td_start);
    if (ZTCA_IS_OK(ca_spiffe_parse(&id, info.uri, td))) {
        snprintf(st->user, sizeof(st->user), "%s", id.user);
        snprintf(st->profile, sizeof(st->profile), "%s", ca_profile_get(id.kind)->name);
    }
    snprintf(st->device_id, sizeof(st->device_id), "%s", device);
    snprintf(st->uri, sizeof(st->uri), "%s", info.uri);
    snprintf(st->serial, sizeof(st->serial), "%s", info.serial_hex);
    snprintf(st->attestation, sizeof(st->attestation), "%s",
             level != NULL ? level : (st->tpm ? "tpm" : "software"));
    st->not_before = info.not_before;
    st->not_after = info.not_after;
    if (info.not_before > ztca_now() + AGENT_SKEW_MAX) {
        fprintf(stderr,
                "ztca-agent %s: warning: clock skew: the certificate is valid only from %lld s "
                "from now by this machine's clock: fix the time (NTP)\n",
                cmd, (long long)(info.not_before - ztca_now()));
    }
    char *state = NULL;
    size_t state_len = 0;
    if (!ZTCA_IS_OK(agent_files_add(files, "cert.pem", 0644, cert, strlen(cert)))
        || !ZTCA_IS_OK(agent_files_add(files, "chain.pem", 0644, chain, strlen(chain)))
        || !ZTCA_IS_OK(agent_state_encode(&state, &state_len, st))
        || !ZTCA_IS_OK(agent_files_add(files, AGENT_STATE_FILE, 0600, state, state_len))) {
        ztca_free(state);
        return agent_fail(cmd, AGENT_EXIT_ERROR, "cannot write DIR: %s", ztca_last_what());
    }
    ztca_free(state);
    return AGENT_EXIT_OK;
}

static void
agent_status_add(agent_files *files, const char *op, int status, const char *message)
{
    char when[32];
    if (!ZTCA_IS_OK(ztca_time_format_rfc3339(when, sizeof(when), ztca_now()))) {
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "at", when, "op", op, "result",
                          status == 0 ? "ok" : "error", "exit", status, "message", message);
    char *text = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text != NULL) {
        /* Best effort: the status file never decides the outcome. */
        ztca_rc ignored = agent_files_add(files, AGENT_STATUS_FILE, 0644, text, strlen(text));
        (void)ignored;
    }
    free(text);
}

void
agent_status_record(const char *dir, const char *op, int status, const char *message)
{
    agent_files files;
    agent_files_init(&files, dir);
    agent_status_add(&files, op, status, message);
    if (!ZTCA_IS_OK(agent_files_commit(&files))) {
        agent_files_abort(&files);
    }
}

/* ---- enroll -------------------------------------------------------------------------------- */

typedef struct agent_enroll_opts {
    const char *server;
    const char *token;
    const char *ca_cert;
    const char *dir;
    const char *tcti;
    const char *ek_type; /* "auto", "rsa", "ecc" */
    const char *ak_type; /* "ecc", "rsa" */
    int64_t ttl;
    bool no_tpm;
    bool no_ek_cert; /* send the EK public alone, as a TPM without a certificate does */
    bool timings;
} agent_enroll_opts;

/* The EK of `type` with its certificate from NV; without one (or with `no_cert`) the EK public
 * alone, which the server takes only for an EK on record (pre-registered: `ztca device allow`). */
static ztca_rc
agent_ek_read(attest_tpm *tpm, attest_tpm_ek_type type, bool no_cert, attest_tpm_ek *out)
{
    if (!no_cert) {
        ztca_rc rc = attest_tpm_ek_read(tpm, type, out);
        if (rc.err != ZTCA_ERR_NOT_FOUND) {
            return rc;
        }
    }
    return attest_tpm_ek_read_public(tpm, type, out);
}

static int
agent_enroll_tpm(const agent_enroll_opts *o, const agent_http *h, agent_state *st,
                 agent_files *files, int64_t *http_ns, int64_t *tpm_ns)
{
    const char *cmd = "enroll";
    agent_tpm_ctx *x = ztca_calloc(1, sizeof(*x));
    uint32_t lockout = 0;
    int status = AGENT_EXIT_ERROR;
    json_t *begin = NULL, *finish = NULL;
    agent_reply r1, r2;
    char *key_pem = NULL;
    size_t key_pem_len = 0;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    if (x == NULL) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "out of memory");
    }
    ztca_rc rc = attest_tpm_open(&x->tpm, o->tcti, &lockout);
    if (!ZTCA_IS_OK(rc)) {
        status = agent_tpm_fail(cmd, o->tcti, rc, lockout);
        goto out;
    }
    bool want_rsa = strcmp(o->ek_type, "ecc") != 0;
    if (o->no_ek_cert) {
        rc = agent_ek_read(x->tpm, want_rsa ? ATTEST_TPM_EK_RSA : ATTEST_TPM_EK_ECC, true, &x->ek);
    } else {
        /* A certificate of either type first (with --ek auto), then an EK public alone. */
        rc = attest_tpm_ek_read(x->tpm, want_rsa ? ATTEST_TPM_EK_RSA : ATTEST_TPM_EK_ECC, &x->ek);
        if (rc.err == ZTCA_ERR_NOT_FOUND && strcmp(o->ek_type, "auto") == 0) {
            rc = attest_tpm_ek_read(x->tpm, ATTEST_TPM_EK_ECC, &x->ek);
        }
        if (rc.err == ZTCA_ERR_NOT_FOUND) {
            fprintf(stderr,
                    "ztca-agent %s: the TPM has no %s EK certificate in NV (0x01c00002 RSA, "
                    "0x01c0000a / 0x01c00016 ECC): sending the EK public alone, which the "
                    "server accepts only if it was pre-registered (ztca device allow --ek-pub)\n",
                    cmd, o->ek_type);
            rc = agent_ek_read(x->tpm, want_rsa ? ATTEST_TPM_EK_RSA : ATTEST_TPM_EK_ECC, true,
                               &x->ek);
        }
    }
    if (!ZTCA_IS_OK(rc)) {
        status = agent_tpm_fail(cmd, o->tcti, rc, 0);
        goto out;
    }
    rc = attest_tpm_ak_create(
        x->tpm, &x->ek, strcmp(o->ak_type, "rsa") == 0 ? ATTEST_TPM_AK_RSA : ATTEST_TPM_AK_ECC,
        &x->ak);
    if (ZTCA_IS_OK(rc)) {
        rc = attest_tpm_key_create(x->tpm, &x->key);
    }
    if (!ZTCA_IS_OK(rc)) {
        status = agent_tpm_fail(cmd, o->tcti, rc, 0);
        goto out;
    }
    begin = json_pack("{s:o, s:o, s:o, s:o}", "ek_public", agent_b64(x->ek.pub, x->ek.pub_len),
                      "ak_public", agent_b64(x->ak.pub, x->ak.pub_len), "key_public",
                      agent_b64(x->key.pub, x->key.pub_len), "facts", agent_facts(true, &x->ek));
    if (begin != NULL && x->ek.cert_len > 0
        && json_object_set_new(begin, "ek_certificate", agent_b64(x->ek.cert, x->ek.cert_len))
               != 0) {
        json_decref(begin);
        begin = NULL;
    }
    if (begin == NULL) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "out of memory");
        goto out;
    }
    int64_t t0 = agent_now_ns();
    rc = agent_http_post(h, "/v1/enroll/begin", o->token, begin, &r1);
    *http_ns += agent_now_ns() - t0;
    if ((status = agent_reply_check(cmd, h, rc, &r1, 201)) != 0) {
        goto out;
    }
    if (r1.date != 0
        && (r1.date - ztca_now() > AGENT_SKEW_MAX || ztca_now() - r1.date > AGENT_SKEW_MAX)) {
        /* Before the token is used: a device this far off would get a certificate it cannot use
         * (not yet valid, or already expired by its own clock). */
        status = agent_fail(cmd, AGENT_EXIT_ERROR,
                            "clock skew: this machine's clock differs from the server's by %lld s "
                            "(more than %d): fix the time (NTP) and enroll again",
                            (long long)(r1.date - ztca_now()), AGENT_SKEW_MAX);
        goto out;
    }
    if ((status = agent_tpm_finish_body(cmd, x, r1.body, o->ttl, &finish)) != 0) {
        goto out;
    }
    t0 = agent_now_ns();
    rc = agent_http_post(h, "/v1/enroll/finish", o->token, finish, &r2);
    *http_ns += agent_now_ns() - t0;
    if ((status = agent_reply_check(cmd, h, rc, &r2, 201)) != 0) {
        goto out;
    }
    st->tpm = true;
    snprintf(st->tcti, sizeof(st->tcti), "%s", o->tcti);
    snprintf(st->ek_type, sizeof(st->ek_type), "%s",
             x->ek.type == ATTEST_TPM_EK_RSA ? "rsa" : "ecc");
    snprintf(st->ak_type, sizeof(st->ak_type), "%s",
             strcmp(o->ak_type, "rsa") == 0 ? "rsa" : "ecc");
    if (!ZTCA_IS_OK(agent_tss2_key_pem(&key_pem, &key_pem_len, ATTEST_TPM_KEY_PARENT, &x->key))
        || !ZTCA_IS_OK(agent_files_add(files, "key.pem", 0600, key_pem, key_pem_len))
        || !ZTCA_IS_OK(agent_files_add(files, "ak.pub", 0644, x->ak.pub, x->ak.pub_len))
        || !ZTCA_IS_OK(agent_files_add(files, "ak.priv", 0600, x->ak.priv, x->ak.priv_len))) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot write DIR: %s", ztca_last_what());
        goto out;
    }
    status = agent_take_cert(cmd, r2.body, st, files);
out:
    if (x->tpm != NULL) {
        *tpm_ns += attest_tpm_busy_ns(x->tpm);
    }
    attest_tpm_close(x->tpm);
    ztca_free(key_pem);
    json_decref(begin);
    json_decref(finish);
    agent_reply_free(&r1);
    agent_reply_free(&r2);
    ztca_zeroize(x, sizeof(*x));
    ztca_free(x);
    return status;
}

/* A software key signs a CSR (ca_signer: the key never leaves it). */
static int
agent_soft_csr(const char *cmd, ca_key *key, ca_rng *rng, char **out_csr)
{
    uint8_t *spki = NULL, *info = NULL;
    size_t spki_len = 0, info_len = 0, csr_len = 0, sig_len = 0;
    uint8_t digest[32], sig[CA_SIG_MAX];
    ca_signer *signer = NULL;
    char cn[65];
    agent_cn(cn, sizeof(cn));
    ztca_rc rc = ca_key_spki(key, &spki, &spki_len);
    if (ZTCA_IS_OK(rc)) {
        rc = agent_csr_info(&info, &info_len, cn, spki, spki_len);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = ca_hash(CA_MD_SHA256, info, info_len, digest, sizeof(digest));
    }
    if (ZTCA_IS_OK(rc)) {
        rc = ca_signer_new(&signer, key, rng); /* takes the key */
    }
    if (ZTCA_IS_OK(rc)) {
        rc = ca_signer_sign(signer, CA_MD_SHA256, digest, sizeof(digest), sig, sizeof(sig),
                            &sig_len);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = agent_csr_pem(out_csr, &csr_len, info, info_len, sig, sig_len);
    }
    ca_signer_free(signer);
    ztca_free(spki);
    ztca_free(info);
    if (!ZTCA_IS_OK(rc)) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "cannot make the CSR: %s", ztca_last_what());
    }
    return AGENT_EXIT_OK;
}

static int
agent_enroll_soft(const agent_enroll_opts *o, const agent_http *h, agent_state *st,
                  agent_files *files, int64_t *http_ns)
{
    const char *cmd = "enroll";
    ca_rng *rng = NULL;
    ca_key *key = NULL;
    char *key_pem = NULL, *csr = NULL;
    size_t key_pem_len = 0;
    json_t *body = NULL;
    agent_reply r;
    int status = AGENT_EXIT_ERROR;
    memset(&r, 0, sizeof(r));
    ztca_rc rc = ca_rng_new(&rng);
    if (ZTCA_IS_OK(rc)) {
        rc = ca_key_generate(&key, rng, CA_KEY_P256);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = ca_key_write_pem(&key_pem, &key_pem_len, key, rng, NULL, 0);
    }
    if (!ZTCA_IS_OK(rc)) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot make a key: %s", ztca_last_what());
        ca_key_free(key);
        goto out;
    }
    if ((status = agent_soft_csr(cmd, key, rng, &csr)) != 0) {
        goto out;
    }
    /* --no-tpm uses the token route (docs/enrollment.md): the device id comes from this key. */
    body = json_pack("{s:s}", "csr", csr);
    if (body != NULL && o->ttl > 0) {
        json_object_set_new(body, "ttl", json_integer(o->ttl));
    }
    int64_t t0 = agent_now_ns();
    rc = agent_http_post(h, "/v1/certs", o->token, body, &r);
    *http_ns += agent_now_ns() - t0;
    if ((status = agent_reply_check(cmd, h, rc, &r, 201)) != 0) {
        goto out;
    }
    st->tpm = false;
    if (!ZTCA_IS_OK(agent_files_add(files, "key.pem", 0600, key_pem, key_pem_len))) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot write DIR: %s", ztca_last_what());
        goto out;
    }
    status = agent_take_cert(cmd, r.body, st, files);
out:
    agent_reply_free(&r);
    json_decref(body);
    ztca_free(csr);
    ztca_free_secret(key_pem, key_pem_len);
    ca_rng_free(rng);
    return status;
}

static void
agent_enroll_usage(FILE *f)
{
    fprintf(f,
            "usage: ztca-agent enroll --server URL --token T --ca-cert ROOT.pem --out DIR\n"
            "                         [--tcti TCTI | --no-tpm] [--ek rsa|ecc|auto] [--ak ecc|rsa]\n"
            "                         [--no-ek-cert] [--ttl D] [--timings]\n"
            "\n"
            "Enrolls this device for the user the one-time token names and writes DIR/cert.pem,\n"
            "DIR/chain.pem and DIR/key.pem. With a TPM (default TCTI %s; e.g.\n"
            "swtpm:host=127.0.0.1,port=2321 or tabrmd:bus_type=session) the key never leaves it:\n"
            "key.pem is a TSS2 PRIVATE KEY for the tpm2-openssl provider. --no-tpm: a software\n"
            "P-256 key (attestation level software). --no-ek-cert: send the EK public without\n"
            "the EK certificate even if NV holds one, as a TPM without a certificate does (the\n"
            "default without one); the server takes it only for an EK pre-registered with\n"
            "`ztca device allow --ek-pub`. Nothing is written unless it all succeeds.\n",
            ATTEST_TPM_DEFAULT_TCTI);
}

int
agent_enroll_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "token", required_argument, NULL, 'T' },
        { "ca-cert", required_argument, NULL, 'c' },
        { "out", required_argument, NULL, 'o' },
        { "tcti", required_argument, NULL, 't' },
        { "no-tpm", no_argument, NULL, 'n' },
        { "ek", required_argument, NULL, 'e' },
        { "ak", required_argument, NULL, 'a' },
        { "ttl", required_argument, NULL, 'l' },
        { "timings", no_argument, NULL, 'm' },
        { "no-ek-cert", no_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd = "enroll";
    agent_enroll_opts o = { .tcti = ATTEST_TPM_DEFAULT_TCTI, .ek_type = "auto", .ak_type = "ecc" };
    bool tcti_given = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o.server = optarg;
            break;
        case 'T':
            o.token = optarg;
            break;
        case 'c':
            o.ca_cert = optarg;
            break;
        case 'o':
            o.dir = optarg;
            break;
        case 't':
            o.tcti = optarg;
            tcti_given = true;
            break;
        case 'n':
            o.no_tpm = true;
            break;
        case 'e':
            o.ek_type = optarg;
            break;
        case 'a':
            o.ak_type = optarg;
            break;
        case 'l':
            if (!ZTCA_IS_OK(ztca_duration_parse(&o.ttl, optarg))) {
                return agent_fail(cmd, AGENT_EXIT_USAGE, "--ttl must be a duration like 8h");
            }
            break;
        case 'm':
            o.timings = true;
            break;
        case 'N':
            o.no_ek_cert = true;
            break;
        case 'h':
            agent_enroll_usage(stdout);
            return AGENT_EXIT_OK;
        default:
            agent_enroll_usage(stderr);
            return AGENT_EXIT_USAGE;
        }
    }
    if (optind != argc || o.server == NULL || o.token == NULL || o.ca_cert == NULL
        || o.dir == NULL) {
        agent_enroll_usage(stderr);
        return agent_fail(cmd, AGENT_EXIT_USAGE,
                          "--server, --token, --ca-cert and --out are "
                          "required");
    }
    if (o.no_tpm && tcti_given) {
        return agent_fail(cmd, AGENT_EXIT_USAGE, "--tcti and --no-tpm exclude each other");
    }
    if (o.no_tpm && o.no_ek_cert) {
        return agent_fail(cmd, AGENT_EXIT_USAGE, "--no-ek-cert needs a TPM (not --no-tpm)");
    }
    if (strcmp(o.ek_type, "auto") != 0 && strcmp(o.ek_type, "rsa") != 0
        && strcmp(o.ek_type, "ecc") != 0) {
        return agent_fail(cmd, AGENT_EXIT_USAGE, "--ek must be rsa, ecc or auto");
    }
    if (strcmp(o.ak_type, "ecc") != 0 && strcmp(o.ak_type, "rsa") != 0) {
        return agent_fail(cmd, AGENT_EXIT_USAGE, "--ak must be ecc or rsa");
    }
    if (strncmp(o.server, "https://", 8) != 0 || strlen(o.server) >= AGENT_SERVER_MAX) {
        return agent_fail(cmd, AGENT_EXIT_USAGE, "--server must be an https:// URL");
    }
    if (strlen(o.tcti) >= AGENT_TCTI_MAX) {
        return agent_fail(cmd, AGENT_EXIT_USAGE, "--tcti is too long");
    }

    /* The CA certificate is checked and kept in DIR for renewals. */
    uint8_t *ca = NULL;
    size_t ca_len = 0;
    FILE *fp = fopen(o.ca_cert, "rb");
    if (fp != NULL) {
        ca = ztca_malloc(AGENT_FILE_MAX + 1);
        ca_len = ca != NULL ? fread(ca, 1, AGENT_FILE_MAX + 1, fp) : 0;
        fclose(fp);
    }
    ztca_pem_list certs;
    ztca_pem_list_init(&certs);
    if (ca == NULL || ca_len == 0 || ca_len > AGENT_FILE_MAX
        || !ZTCA_IS_OK(ztca_pem_decode_all(&certs, ca, ca_len))
        || strcmp(certs.blocks[0].label, "CERTIFICATE") != 0) {
        ztca_pem_list_free(&certs);
        ztca_free(ca);
        return agent_fail(cmd, AGENT_EXIT_ERROR,
                          "--ca-cert %s: not a readable PEM certificate file (the CA's root.pem)",
                          o.ca_cert);
    }
    ztca_pem_list_free(&certs);

    /* DIR: created 0700 if absent; never over an existing enrollment. */
    struct stat sb;
    bool created = false;
    char probe[4096];
    if (stat(o.dir, &sb) != 0) {
        if (mkdir(o.dir, 0700) != 0) {
            ztca_free(ca);
            return agent_fail(cmd, AGENT_EXIT_ERROR, "cannot create --out %s", o.dir);
        }
        created = true;
    } else if (!S_ISDIR(sb.st_mode)) {
        ztca_free(ca);
        return agent_fail(cmd, AGENT_EXIT_ERROR, "--out %s is not a directory", o.dir);
    } else if (snprintf(probe, sizeof(probe), "%s/" AGENT_STATE_FILE, o.dir) < (int)sizeof(probe)
               && access(probe, F_OK) == 0) {
        ztca_free(ca);
        return agent_fail(cmd, AGENT_EXIT_ERROR,
                          "%s already holds an enrollment: renew it, or enroll into another "
                          "directory",
                          o.dir);
    }

    if (getenv("ZTCA_AGENT_TSS2_LOG") == NULL) {
        setenv("TSS2_LOG", "all+NONE", 0); /* our own messages say what failed */
    }
    agent_http h = { .server = o.server, .ca_file = o.ca_cert, .timeout_s = 60 };
    agent_state st;
    memset(&st, 0, sizeof(st));
    snprintf(st.server, sizeof(st.server), "%s", o.server);
    snprintf(st.ek_type, sizeof(st.ek_type), "-");
    snprintf(st.ak_type, sizeof(st.ak_type), "-");
    snprintf(st.tcti, sizeof(st.tcti), "-");
    agent_files files;
    agent_files_init(&files, o.dir);
    int64_t t0 = agent_now_ns(), http_ns = 0, tpm_ns = 0;
    int status = o.no_tpm ? agent_enroll_soft(&o, &h, &st, &files, &http_ns)
                          : agent_enroll_tpm(&o, &h, &st, &files, &http_ns, &tpm_ns);
    if (status == AGENT_EXIT_OK) {
        agent_status_add(&files, "enroll", 0, "enrolled");
        if (!ZTCA_IS_OK(agent_files_add(&files, "ca.pem", 0644, ca, ca_len))
            || !ZTCA_IS_OK(agent_files_commit(&files))) {
            status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot write DIR: %s", ztca_last_what());
        }
    }
    agent_files_abort(&files);
    ztca_free(ca);
    if (status != AGENT_EXIT_OK) {
        if (created) {
            (void)rmdir(o.dir);
        }
        return status;
    }
    printf("enrolled %s\n  device:      %s\n  serial:      %s\n  attestation: %s\n  files:       "
           "%s/{cert,chain,key}.pem\n",
           st.uri, st.device_id, st.serial, st.attestation, o.dir);
    if (o.timings) {
        fprintf(stderr, "timings: total_ms=%.1f tpm_ms=%.1f http_ms=%.1f\n",
                (double)(agent_now_ns() - t0) / 1e6, (double)tpm_ns / 1e6, (double)http_ns / 1e6);
    }
    return AGENT_EXIT_OK;
}

/* ---- renew --------------------------------------------------------------------------------- */

static int
agent_renew_tpm(const char *dir, const agent_state *st, const char *tcti, const agent_http *h,
                json_t **out_reply, int64_t *http_ns, int64_t *tpm_ns)
{
    const char *cmd = "renew";
    agent_tpm_ctx *x = ztca_calloc(1, sizeof(*x));
    uint32_t lockout = 0, parent = 0;
    int status = AGENT_EXIT_ERROR;
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *begin = NULL, *finish = NULL;
    agent_reply r1, r2;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    if (x == NULL) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "out of memory");
    }
    /* The AK and the TLS key of the enrollment. */
    ztca_rc rc = agent_file_read(dir, "key.pem", &buf, &len);
    if (ZTCA_IS_OK(rc)) {
        rc = agent_tss2_key_parse(&x->key, &parent, buf, len);
    }
    ztca_free(buf);
    buf = NULL;
    if (ZTCA_IS_OK(rc)) {
        rc = agent_file_read(dir, "ak.pub", &buf, &len);
        if (ZTCA_IS_OK(rc) && len <= sizeof(x->ak.pub)) {
            memcpy(x->ak.pub, buf, len);
            x->ak.pub_len = len;
        }
        ztca_free(buf);
        buf = NULL;
    }
    if (ZTCA_IS_OK(rc)) {
        rc = agent_file_read(dir, "ak.priv", &buf, &len);
        if (ZTCA_IS_OK(rc) && len <= sizeof(x->ak.priv)) {
            memcpy(x->ak.priv, buf, len);
            x->ak.priv_len = len;
        }
        ztca_free(buf);
        buf = NULL;
    }
    if (!ZTCA_IS_OK(rc) || x->ak.pub_len == 0 || x->ak.priv_len == 0
        || parent != ATTEST_TPM_KEY_PARENT) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "DIR lacks a usable key.pem, ak.pub or ak.priv");
        goto out;
    }
    rc = attest_tpm_open(&x->tpm, tcti, &lockout);
    if (!ZTCA_IS_OK(rc)) {
        status = agent_tpm_fail(cmd, tcti, rc, lockout);
        goto out;
    }
    /* The certificate is not sent (the server has the EK on record); its NV index picks the EK
     * that enrolled, and a TPM without one uses the EK public as at a pre-registered enrollment. */
    rc = agent_ek_read(x->tpm,
                       strcmp(st->ek_type, "rsa") == 0 ? ATTEST_TPM_EK_RSA : ATTEST_TPM_EK_ECC,
                       false, &x->ek);
    if (!ZTCA_IS_OK(rc)) {
        status = agent_tpm_fail(cmd, tcti, rc, 0);
        goto out;
    }
    begin = json_pack("{s:o, s:o, s:o, s:o}", "ek_public", agent_b64(x->ek.pub, x->ek.pub_len),
                      "ak_public", agent_b64(x->ak.pub, x->ak.pub_len), "key_public",
                      agent_b64(x->key.pub, x->key.pub_len), "facts", agent_facts(true, &x->ek));
    if (begin == NULL) {
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "out of memory");
        goto out;
    }
    int64_t t0 = agent_now_ns();
    rc = agent_http_post(h, "/v1/renew/begin", NULL, begin, &r1);
    *http_ns += agent_now_ns() - t0;
    if ((status = agent_reply_check(cmd, h, rc, &r1, 201)) != 0) {
        goto out;
    }
    if ((status = agent_tpm_finish_body(cmd, x, r1.body, 0, &finish)) != 0) {
        goto out;
    }
    t0 = agent_now_ns();
    rc = agent_http_post(h, "/v1/renew", NULL, finish, &r2);
    *http_ns += agent_now_ns() - t0;
    if ((status = agent_reply_check(cmd, h, rc, &r2, 201)) != 0) {
        goto out;
    }
    *out_reply = json_incref(r2.body);
out:
    if (x->tpm != NULL) {
        *tpm_ns += attest_tpm_busy_ns(x->tpm);
    }
    attest_tpm_close(x->tpm);
    json_decref(begin);
    json_decref(finish);
    agent_reply_free(&r1);
    agent_reply_free(&r2);
    ztca_free(x);
    return status;
}

static int
agent_renew_soft(const char *dir, const agent_http *h, json_t **out_reply, int64_t *http_ns)
{
    const char *cmd = "renew";
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    ca_rng *rng = NULL;
    ca_key *key = NULL;
    char *csr = NULL;
    json_t *body = NULL;
    agent_reply r;
    int status = AGENT_EXIT_ERROR;
    memset(&r, 0, sizeof(r));
    ztca_rc rc = agent_file_read(dir, "key.pem", &pem, &pem_len);
    if (ZTCA_IS_OK(rc)) {
        rc = ca_key_parse(&key, pem, pem_len, NULL, 0);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = ca_rng_new(&rng);
    }
    ztca_free_secret(pem, pem_len + 1);
    if (!ZTCA_IS_OK(rc)) {
        ca_key_free(key);
        status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot load DIR/key.pem: %s", ztca_last_what());
        goto out;
    }
    if ((status = agent_soft_csr(cmd, key, rng, &csr)) != 0) {
        goto out;
    }
    body = json_pack("{s:s}", "csr", csr);
    int64_t t0 = agent_now_ns();
    rc = agent_http_post(h, "/v1/renew", NULL, body, &r);
    *http_ns += agent_now_ns() - t0;
    if ((status = agent_reply_check(cmd, h, rc, &r, 201)) != 0) {
        goto out;
    }
    *out_reply = json_incref(r.body);
out:
    agent_reply_free(&r);
    json_decref(body);
    ztca_free(csr);
    ca_rng_free(rng);
    return status;
}

int
agent_renew_once(const char *dir, const char *tcti_override, bool timings)
{
    const char *cmd = "renew";
    static bool provider_loaded = false;
    char ca[4096], cert[4096], key[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    agent_state st;
    json_t *reply = NULL;
    int64_t t0 = agent_now_ns(), http_ns = 0, tpm_ns = 0;
    ztca_rc rc = agent_file_read(dir, AGENT_STATE_FILE, &buf, &len);
    if (ZTCA_IS_OK(rc)) {
        rc = agent_state_parse(&st, buf, len);
    }
    ztca_free(buf);
    if (!ZTCA_IS_OK(rc)) {
        return agent_fail(cmd, AGENT_EXIT_ERROR, "%s/%s: %s (enroll first)", dir, AGENT_STATE_FILE,
                          ztca_last_what());
    }
    if (snprintf(ca, sizeof(ca), "%s/ca.pem", dir) >= (int)sizeof(ca)
        || snprintf(cert, sizeof(cert), "%s/cert.pem", dir) >= (int)sizeof(cert)
        || snprintf(key, sizeof(key), "%s/key.pem", dir) >= (int)sizeof(key)) {
        return agent_fail(cmd, AGENT_EXIT_USAGE, "DIR path too long");
    }
    if (ztca_now() >= st.not_after) {
        return agent_fail(cmd, AGENT_EXIT_REFUSED,
                          "the certificate expired at its not_after: renewal needs a valid "
                          "certificate; enroll again with a new token");
    }
    agent_http h = {
        .server = st.server, .ca_file = ca, .cert_file = cert, .key_file = key, .timeout_s = 60
    };
    int status;
    if (st.tpm) {
        const char *tcti = tcti_override != NULL ? tcti_override : st.tcti;
        /* The TLS handshake signs with the TPM through the tpm2-openssl provider, which keeps its
         * own connection to the TPM next to ours, and uses more than three objects (notes P6): a
         * raw simulator socket serves one client at a time. */
        if (strncmp(tcti, "swtpm:", 6) == 0 || strncmp(tcti, "mssim:", 6) == 0) {
            return agent_fail(cmd, AGENT_EXIT_USAGE,
                              "renewal over mTLS with a TPM key needs a resource manager: use "
                              "--tcti device:/dev/tpmrm0 or tabrmd:bus_type=...; %s is a raw "
                              "simulator socket",
                              tcti);
        }
        if (!provider_loaded) {
            if (!ZTCA_IS_OK(agent_tls_use_tpm(tcti))) {
                return agent_fail(cmd, AGENT_EXIT_TPM, "%s", ztca_last_what());
            }
            provider_loaded = true;
        }
        status = agent_renew_tpm(dir, &st, tcti, &h, &reply, &http_ns, &tpm_ns);
    } else {
        status = agent_renew_soft(dir, &h, &reply, &http_ns);
    }
    if (status != AGENT_EXIT_OK) {
        return status;
    }
    char old_serial[sizeof(st.serial)];
    snprintf(old_serial, sizeof(old_serial), "%s", st.serial);
    agent_files files;
    agent_files_init(&files, dir);
    status = agent_take_cert(cmd, reply, &st, &files);
    json_decref(reply);
    if (status == AGENT_EXIT_OK) {
        agent_status_add(&files, "renew", 0, "renewed");
        if (!ZTCA_IS_OK(agent_files_commit(&files))) {
            status = agent_fail(cmd, AGENT_EXIT_ERROR, "cannot write DIR: %s", ztca_last_what());
        }
    }
    agent_files_abort(&files);
    if (status == AGENT_EXIT_OK) {
        printf("renewed %s\n  serial:      %s (was %s)\n  attestation: %s\n", st.uri, st.serial,
               old_serial, st.attestation);
        if (timings) {
            fprintf(stderr, "timings: total_ms=%.1f tpm_ms=%.1f http_ms=%.1f\n",
                    (double)(agent_now_ns() - t0) / 1e6, (double)tpm_ns / 1e6,
                    (double)http_ns / 1e6);
        }
    }
    return status;
}

int
agent_renew_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "tcti", required_argument, NULL, 't' },
        { "timings", no_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *tcti = NULL;
    bool timings = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 't':
            tcti = optarg;
            break;
        case 'm':
            timings = true;
            break;
        case 'h':
            printf("usage: ztca-agent renew --dir DIR [--tcti TCTI] [--timings]\n\n"
                   "Renews DIR's certificate now: mTLS with the current certificate, fresh TPM\n"
                   "evidence for a TPM key. --tcti overrides the enrollment's TCTI.\n");
            return AGENT_EXIT_OK;
        default:
            return agent_fail("renew", AGENT_EXIT_USAGE, "usage: ztca-agent renew --dir DIR");
        }
    }
    if (dir == NULL || optind != argc) {
        return agent_fail("renew", AGENT_EXIT_USAGE, "usage: ztca-agent renew --dir DIR");
    }
    if (getenv("ZTCA_AGENT_TSS2_LOG") == NULL) {
        setenv("TSS2_LOG", "all+NONE", 0);
    }
    int status = agent_renew_once(dir, tcti, timings);
    if (status != AGENT_EXIT_OK && status != AGENT_EXIT_USAGE) {
        agent_status_record(dir, "renew", status, "renewal failed (see the agent's stderr)");
    }
    return status;
}

/* ---- status -------------------------------------------------------------------------------- */

int
agent_status_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL;
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'j':
            as_json = true;
            break;
        case 'h':
            printf("usage: ztca-agent status --dir DIR [--json]\n\n"
                   "Identity, validity, the next renewal and the last result. Exit 0 while the\n"
                   "certificate is valid, 1 otherwise.\n");
            return AGENT_EXIT_OK;
        default:
            return agent_fail("status", AGENT_EXIT_USAGE, "usage: ztca-agent status --dir DIR");
        }
    }
    if (dir == NULL || optind != argc) {
        return agent_fail("status", AGENT_EXIT_USAGE, "usage: ztca-agent status --dir DIR");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    agent_state st;
    ztca_rc rc = agent_file_read(dir, AGENT_STATE_FILE, &buf, &len);
    if (ZTCA_IS_OK(rc)) {
        rc = agent_state_parse(&st, buf, len);
    }
    ztca_free(buf);
    if (!ZTCA_IS_OK(rc)) {
        return agent_fail("status", AGENT_EXIT_ERROR, "%s/%s: %s (not enrolled?)", dir,
                          AGENT_STATE_FILE, ztca_last_what());
    }
    json_error_t err;
    json_t *last = NULL;
    if (ZTCA_IS_OK(agent_file_read(dir, AGENT_STATUS_FILE, &buf, &len))) {
        last = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
        ztca_free(buf);
    }
    ztca_time now = ztca_now();
    ztca_time renew_at = agent_renew_at(st.not_before, st.not_after, 0.0);
    char nb[32] = "", na[32] = "", ra[32] = "", left[ZTCA_DURATION_TEXT] = "";
    if (!ZTCA_IS_OK(ztca_time_format_rfc3339(nb, sizeof(nb), st.not_before))
        || !ZTCA_IS_OK(ztca_time_format_rfc3339(na, sizeof(na), st.not_after))
        || !ZTCA_IS_OK(ztca_time_format_rfc3339(ra, sizeof(ra), renew_at))) {
        json_decref(last);
        return agent_fail("status", AGENT_EXIT_ERROR, "agent.json: times out of range");
    }
    bool valid = now >= st.not_before && now < st.not_after;
    if (valid) {
        ztca_duration_format(left, sizeof(left), st.not_after - now);
    }
    if (as_json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:O*}",
                              "uri", st.uri, "device_id", st.device_id, "user", st.user, "profile",
                              st.profile, "serial", st.serial, "not_before", nb, "not_after", na,
                              "renew_at", ra, "valid", valid, "key", st.tpm ? "tpm" : "software",
                              "attestation", st.attestation, "last_result", last);
        char *text = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text != NULL) {
            printf("%s\n", text);
        }
        free(text);
        json_decref(o);
    } else {
        printf("identity:    %s\ndevice:      %s\n", st.uri, st.device_id);
        if (st.user[0] != '\0') {
            printf("user:        %s\n", st.user);
        }
        printf("profile:     %s\nserial:      %s\nvalid:       %s .. %s (%s)\nrenew at:    %s "
               "(two thirds of the lifetime, +-5%% jitter)\n",
               st.profile, st.serial, nb, na, valid ? left : "NOT VALID NOW", ra);
        if (st.tpm) {
            printf("key:         TPM (tcti %s, EK %s, AK %s), DIR/key.pem is a TSS2 PRIVATE KEY\n",
                   st.tcti, st.ek_type, st.ak_type);
        } else {
            printf("key:         software P-256 (DIR/key.pem)\n");
        }
        printf("attestation: %s\nserver:      %s\n", st.attestation, st.server);
        const char *at = json_string_value(json_object_get(last, "at"));
        const char *op = json_string_value(json_object_get(last, "op"));
        const char *res = json_string_value(json_object_get(last, "result"));
        const char *msg = json_string_value(json_object_get(last, "message"));
        if (at != NULL && op != NULL && res != NULL) {
            printf("last result: %s %s at %s: %s\n", op, res, at, msg != NULL ? msg : "");
        }
    }
    json_decref(last);
    return valid ? AGENT_EXIT_OK : AGENT_EXIT_ERROR;
}
