/* enroll_driver.c: the two enrollment round trips as separate steps, for the negative cases of
 * tests/integration/test_enroll.sh that ztca-agent never produces on purpose: a finish with
 * another token than the begin, a finish after the session expired, and the evidence of a second
 * TPM sent with the first one's session. A test helper only; it uses the agent's own building
 * blocks (attest/tpm/, agent_http_post, agent_csr_*).
 *
 * usage: enroll_driver begin  SERVER CA TOKEN TCTI EK STATE_DIR
 *        enroll_driver finish SERVER CA TOKEN TCTI EK STATE_DIR [fresh]
 * begin creates an AK and a TLS key on the TPM at TCTI, posts /v1/enroll/begin and keeps the
 * challenge and the blobs in STATE_DIR; finish answers it with the TPM at TCTI (with "fresh": with
 * a new AK and key made there, i.e. another TPM's evidence; a credential this TPM cannot
 * activate is answered with a random secret) and posts /v1/enroll/finish. Each prints
 * "status=N type=T reason=R" (and "activation=ok|refused"); exit 0 when an answer came. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "enroll/agent/agent.h"

static int
drv_fail(const char *what)
{
    fprintf(stderr, "enroll_driver: %s: %s\n", what, ztca_last_what());
    return 1;
}

static json_t *
drv_b64(const uint8_t *p, size_t len)
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

static bool
drv_get_b64(const json_t *o, const char *key, uint8_t *out, size_t size, size_t *out_len)
{
    const json_t *v = json_object_get(o, key);
    uint8_t *p = NULL;
    size_t n = 0;
    if (!json_is_string(v)
        || !ZTCA_IS_OK(ztca_base64_decode(&p, &n, json_string_value(v), json_string_length(v)))
        || n > size) {
        ztca_free(p);
        return false;
    }
    memcpy(out, p, n);
    *out_len = n;
    ztca_free(p);
    return true;
}

static void
drv_print(const agent_reply *r)
{
    const char *type = json_string_value(json_object_get(r->body, "type"));
    const char *reason = json_string_value(json_object_get(r->body, "reason"));
    printf("status=%ld type=%s reason=%s\n", r->status,
           type != NULL ? type + (strncmp(type, "urn:ztca:problem:", 17) == 0 ? 17 : 0) : "-",
           reason != NULL ? reason : "-");
}

static ztca_rc
drv_save(const char *dir, const char *name, const void *p, size_t len)
{
    agent_files f;
    agent_files_init(&f, dir);
    ZTCA_GUARD(agent_files_add(&f, name, 0600, p, len));
    return agent_files_commit(&f);
}

static ztca_rc
drv_load(const char *dir, const char *name, uint8_t *out, size_t size, size_t *out_len)
{
    uint8_t *p = NULL;
    size_t n = 0;
    ZTCA_GUARD(agent_file_read(dir, name, &p, &n));
    bool ok = n <= size;
    if (ok) {
        memcpy(out, p, n);
        *out_len = n;
    }
    ztca_free(p);
    ZTCA_ENSURE(ok, ZTCA_ERR_BAD_INPUT, "state file too large");
    return ZTCA_RC_OK;
}

typedef struct drv {
    attest_tpm *tpm;
    attest_tpm_ek ek;
    attest_tpm_obj ak;
    attest_tpm_obj key;
} drv;

static int
drv_begin(const agent_http *h, const char *token, drv *d, const char *dir)
{
    agent_reply r;
    if (!ZTCA_IS_OK(attest_tpm_ak_create(d->tpm, &d->ek, ATTEST_TPM_AK_ECC, &d->ak))
        || !ZTCA_IS_OK(attest_tpm_key_create(d->tpm, &d->key))) {
        return drv_fail("AK or key");
    }
    json_t *body = json_pack(
        "{s:o, s:o, s:o, s:o}", "ek_certificate", drv_b64(d->ek.cert, d->ek.cert_len), "ek_public",
        drv_b64(d->ek.pub, d->ek.pub_len), "ak_public", drv_b64(d->ak.pub, d->ak.pub_len),
        "key_public", drv_b64(d->key.pub, d->key.pub_len));
    ztca_rc rc = agent_http_post(h, "/v1/enroll/begin", token, body, &r);
    json_decref(body);
    if (!ZTCA_IS_OK(rc)) {
        fprintf(stderr, "enroll_driver: no answer: %s\n", r.error);
        return 1;
    }
    drv_print(&r);
    char *text = r.body != NULL ? json_dumps(r.body, JSON_COMPACT) : NULL;
    if (r.status == 201
        && (text == NULL || !ZTCA_IS_OK(drv_save(dir, "challenge.json", text, strlen(text)))
            || !ZTCA_IS_OK(drv_save(dir, "ak.pub", d->ak.pub, d->ak.pub_len))
            || !ZTCA_IS_OK(drv_save(dir, "ak.priv", d->ak.priv, d->ak.priv_len))
            || !ZTCA_IS_OK(drv_save(dir, "key.pub", d->key.pub, d->key.pub_len))
            || !ZTCA_IS_OK(drv_save(dir, "key.priv", d->key.priv, d->key.priv_len)))) {
        free(text);
        agent_reply_free(&r);
        return drv_fail("saving the state");
    }
    free(text);
    agent_reply_free(&r);
    return 0;
}

static int
drv_finish(const agent_http *h, const char *token, drv *d, const char *dir, bool fresh)
{
    uint8_t chal_buf[16384], id[ATTEST_ID_OBJECT_MAX], enc[ATTEST_ENC_SECRET_MAX];
    uint8_t nonce[ATTEST_DIGEST_MAX], secret[ATTEST_SECRET_MAX], digest[32];
    size_t chal_len = 0, id_len = 0, enc_len = 0, nonce_len = 0, secret_len = 0;
    json_error_t err;
    if (!ZTCA_IS_OK(drv_load(dir, "challenge.json", chal_buf, sizeof(chal_buf), &chal_len))) {
        return drv_fail("challenge");
    }
    json_t *chal = json_loadb((const char *)chal_buf, chal_len, 0, &err);
    const json_t *cred = json_object_get(chal, "credential");
    const char *session = json_string_value(json_object_get(chal, "session"));
    if (session == NULL || !drv_get_b64(chal, "nonce", nonce, sizeof(nonce), &nonce_len)
        || !drv_get_b64(cred, "id_object", id, sizeof(id), &id_len)
        || !drv_get_b64(cred, "encrypted_secret", enc, sizeof(enc), &enc_len)) {
        json_decref(chal);
        fprintf(stderr, "enroll_driver: malformed challenge\n");
        return 1;
    }
    if (fresh) {
        if (!ZTCA_IS_OK(attest_tpm_ak_create(d->tpm, &d->ek, ATTEST_TPM_AK_ECC, &d->ak))
            || !ZTCA_IS_OK(attest_tpm_key_create(d->tpm, &d->key))) {
            json_decref(chal);
            return drv_fail("AK or key");
        }
    } else if (!ZTCA_IS_OK(drv_load(dir, "ak.pub", d->ak.pub, sizeof(d->ak.pub), &d->ak.pub_len))
               || !ZTCA_IS_OK(
                   drv_load(dir, "ak.priv", d->ak.priv, sizeof(d->ak.priv), &d->ak.priv_len))
               || !ZTCA_IS_OK(
                   drv_load(dir, "key.pub", d->key.pub, sizeof(d->key.pub), &d->key.pub_len))
               || !ZTCA_IS_OK(
                   drv_load(dir, "key.priv", d->key.priv, sizeof(d->key.priv), &d->key.priv_len))) {
        json_decref(chal);
        return drv_fail("state");
    }
    ztca_rc rc = attest_tpm_activate(d->tpm, &d->ek, &d->ak, id, id_len, enc, enc_len, secret,
                                     sizeof(secret), &secret_len);
    if (ZTCA_IS_OK(rc)) {
        printf("activation=ok\n");
    } else {
        /* Another TPM cannot recover the secret (the TPM says so); send a guess. */
        printf("activation=refused rc=0x%lx\n", (unsigned long)ztca_last_foreign());
        secret_len = 32;
        for (size_t i = 0; i < secret_len; i++) {
            secret[i] = (uint8_t)(rand() & 0xff);
        }
    }
    attest_key k;
    uint8_t *info = NULL;
    size_t info_len = 0;
    char *csr = NULL;
    size_t csr_len = 0;
    attest_tpm_evidence *ev = ztca_calloc(1, sizeof(*ev));
    int status = 1;
    if (ev == NULL || !ZTCA_IS_OK(attest_key_parse(&k, NULL, d->key.pub, d->key.pub_len))
        || !ZTCA_IS_OK(agent_csr_info(&info, &info_len, "driver", k.spki, k.spki_len))
        || !ZTCA_IS_OK(ca_hash(CA_MD_SHA256, info, info_len, digest, sizeof(digest)))
        || !ZTCA_IS_OK(attest_tpm_prove(d->tpm, &d->ek, &d->ak, &d->key, nonce, nonce_len,
                                        ATTEST_ALG_SHA256, 0xff, digest, ev))
        || !ZTCA_IS_OK(
            agent_csr_pem(&csr, &csr_len, info, info_len, ev->csr_sig, ev->csr_sig_len))) {
        status = drv_fail("evidence");
        goto out;
    }
    json_t *body = json_pack("{s:s, s:o, s:{s:o, s:o}, s:{s:o, s:o, s:o}, s:s}", "session", session,
                             "secret", drv_b64(secret, secret_len), "certify", "attest",
                             drv_b64(ev->certify_attest, ev->certify_attest_len), "signature",
                             drv_b64(ev->certify_sig, ev->certify_sig_len), "quote", "attest",
                             drv_b64(ev->quote_attest, ev->quote_attest_len), "signature",
                             drv_b64(ev->quote_sig, ev->quote_sig_len), "pcr_values",
                             drv_b64(ev->pcr_values, ev->pcr_values_len), "csr", csr);
    agent_reply r;
    rc = agent_http_post(h, "/v1/enroll/finish", token, body, &r);
    json_decref(body);
    if (!ZTCA_IS_OK(rc)) {
        fprintf(stderr, "enroll_driver: no answer: %s\n", r.error);
        goto out;
    }
    drv_print(&r);
    agent_reply_free(&r);
    status = 0;
out:
    ztca_free(csr);
    ztca_free(info);
    ztca_free(ev);
    json_decref(chal);
    return status;
}

int
main(int argc, char **argv)
{
    if (argc < 8 || (strcmp(argv[1], "begin") != 0 && strcmp(argv[1], "finish") != 0)) {
        fprintf(stderr, "usage: enroll_driver begin|finish SERVER CA TOKEN TCTI EK STATE_DIR "
                        "[fresh]\n");
        return 2;
    }
    setenv("TSS2_LOG", "all+NONE", 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    agent_http h = { .server = argv[2], .ca_file = argv[3], .timeout_s = 30 };
    drv d;
    uint32_t lockout = 0;
    memset(&d, 0, sizeof(d));
    int status = 1;
    if (!ZTCA_IS_OK(attest_tpm_open(&d.tpm, argv[5], &lockout))) {
        status = drv_fail("TPM");
    } else if (!ZTCA_IS_OK(attest_tpm_ek_read(
                   d.tpm, strcmp(argv[6], "rsa") == 0 ? ATTEST_TPM_EK_RSA : ATTEST_TPM_EK_ECC,
                   &d.ek))) {
        status = drv_fail("EK");
    } else if (strcmp(argv[1], "begin") == 0) {
        status = drv_begin(&h, argv[4], &d, argv[7]);
    } else {
        status = drv_finish(&h, argv[4], &d, argv[7], argc > 8 && strcmp(argv[8], "fresh") == 0);
    }
    attest_tpm_close(d.tpm);
    curl_global_cleanup();
    return status;
}
