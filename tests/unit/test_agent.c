/* test_agent.c: the CUnit suite of ztca-agent's pure parts (enroll/agent/): the CSR builder
 * (checked by mbedTLS through ca_csr_parse), the TSS2 PRIVATE KEY file (known layout, round trip,
 * negatives, every prefix), the state file, the renewal schedule and backoff, the group file
 * writes (nothing left behind on abort), and the HTTPS client's handling of 429 + Retry-After
 * against a real local libmicrohttpd server (TLS with a certificate made by the openssl CLI). */
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/der.h"
#include "enroll/agent/agent.h"
#include "tests/unit/unit.h"

static void
test_csr(void)
{
    ca_rng *rng = NULL;
    ca_key *key = NULL;
    ca_signer *signer = NULL;
    uint8_t *spki = NULL, *info = NULL;
    size_t spki_len = 0, info_len = 0, sig_len = 0, pem_len = 0;
    uint8_t digest[32], sig[CA_SIG_MAX];
    char *pem = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    UNIT_ASSERT_OK(ca_key_generate(&key, rng, CA_KEY_P256));
    UNIT_ASSERT_OK(ca_key_spki(key, &spki, &spki_len));
    UNIT_ASSERT_OK(agent_csr_info(&info, &info_len, "laptop-1", spki, spki_len));
    UNIT_ASSERT_OK(ca_hash(CA_MD_SHA256, info, info_len, digest, sizeof(digest)));
    UNIT_ASSERT_OK(ca_signer_new(&signer, key, rng));
    UNIT_ASSERT_OK(
        ca_signer_sign(signer, CA_MD_SHA256, digest, sizeof(digest), sig, sizeof(sig), &sig_len));
    UNIT_ASSERT_OK(agent_csr_pem(&pem, &pem_len, info, info_len, sig, sig_len));
    /* mbedTLS parses it and the self-signature verifies; the key is ours. */
    ca_csr csr;
    ca_csr_init(&csr);
    UNIT_ASSERT_OK(ca_csr_parse(&csr, (const uint8_t *)pem, pem_len));
    CU_ASSERT_EQUAL(csr.spki_len, spki_len);
    CU_ASSERT_EQUAL(memcmp(csr.spki, spki, spki_len), 0);
    ca_csr_free(&csr);
    ztca_free(pem);
    /* A signature over something else does not verify. */
    sig[sig_len - 1] ^= 1;
    UNIT_ASSERT_OK(agent_csr_pem(&pem, &pem_len, info, info_len, sig, sig_len));
    ca_csr_init(&csr);
    CU_ASSERT_FALSE(ZTCA_IS_OK(ca_csr_parse(&csr, (const uint8_t *)pem, pem_len)));
    ca_csr_free(&csr);
    ztca_free(pem);
    ztca_free(info);
    info = NULL;
    UNIT_ASSERT_ERR(agent_csr_info(&info, &info_len, "", spki, spki_len), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(agent_csr_info(&info, &info_len,
                                   "a-very-long-host-name-of-more-than-sixty-four-characters-"
                                   "is-refused",
                                   spki, spki_len),
                    ZTCA_ERR_BAD_INPUT);
    ztca_free(spki);
    ca_signer_free(signer);
    ca_rng_free(rng);
}

static attest_tpm_obj
test_obj(void)
{
    attest_tpm_obj o;
    memset(&o, 0, sizeof(o));
    o.pub_len = 90;
    o.priv_len = 126;
    for (size_t i = 0; i < o.pub_len; i++) {
        o.pub[i] = (uint8_t)i;
    }
    for (size_t i = 0; i < o.priv_len; i++) {
        o.priv[i] = (uint8_t)(255 - i);
    }
    return o;
}

/* PEM of a TPMKey built from raw DER, for the negatives. */
static char *
test_tss2_pem(const uint8_t *der, size_t len)
{
    char *pem = NULL;
    size_t n = 0;
    UNIT_ASSERT_OK(ztca_pem_encode(&pem, &n, "TSS2 PRIVATE KEY", der, len));
    return pem;
}

static void
test_tss2_key(void)
{
    attest_tpm_obj o = test_obj(), back;
    char *pem = NULL;
    size_t pem_len = 0;
    uint32_t parent = 0;
    UNIT_ASSERT_OK(agent_tss2_key_pem(&pem, &pem_len, ATTEST_TPM_KEY_PARENT, &o));
    CU_ASSERT_EQUAL(strncmp(pem, "-----BEGIN TSS2 PRIVATE KEY-----\n", 33), 0);
    /* The layout tpm2-openssl reads: OID loadableKey, [0] { TRUE }, parent 0x40000001. */
    uint8_t *der = NULL;
    size_t der_len = 0;
    UNIT_ASSERT_OK(
        ztca_pem_decode_one(&der, &der_len, "TSS2 PRIVATE KEY", (const uint8_t *)pem, pem_len));
    static const uint8_t head[] = { 0x06, 0x06, 0x67, 0x81, 0x05, 0x0a, 0x01,
                                    0x03, 0xa0, 0x03, 0x01, 0x01, 0xff, 0x02,
                                    0x04, 0x40, 0x00, 0x00, 0x01, 0x04, 0x5a };
    CU_ASSERT_EQUAL(der[0], 0x30);
    CU_ASSERT_EQUAL(memcmp(der + 3, head, sizeof(head)), 0);
    UNIT_ASSERT_OK(agent_tss2_key_parse(&back, &parent, (const uint8_t *)pem, pem_len));
    CU_ASSERT_EQUAL(parent, ATTEST_TPM_KEY_PARENT);
    CU_ASSERT_EQUAL(back.pub_len, o.pub_len);
    CU_ASSERT_EQUAL(back.priv_len, o.priv_len);
    CU_ASSERT_EQUAL(memcmp(back.pub, o.pub, o.pub_len), 0);
    CU_ASSERT_EQUAL(memcmp(back.priv, o.priv, o.priv_len), 0);
    for (size_t n = 0; n < der_len; n++) {
        uint8_t *p = unit_dup(der, n);
        char *cut = test_tss2_pem(p, n);
        if (n > 0) {
            UNIT_ASSERT_ERR(agent_tss2_key_parse(&back, &parent, (const uint8_t *)cut, strlen(cut)),
                            ZTCA_ERR_BAD_INPUT);
        }
        ztca_free(cut);
        free(p);
    }
    for (size_t n = 0; n + 1 < pem_len; n++) { /* without the final newline it is still whole */
        uint8_t *p = unit_dup((const uint8_t *)pem, n);
        UNIT_ASSERT_ERR(agent_tss2_key_parse(&back, &parent, p, n), ZTCA_ERR_BAD_INPUT);
        free(p);
    }
    ztca_free(pem);

    /* Negatives: each built with the DER writer, one field wrong. */
    static const struct {
        const char *name;
        int which;
    } bad[] = {
        { "wrong_oid", 1 },     { "empty_auth_false", 2 }, { "parent_64_bits", 3 },
        { "trailing_data", 4 }, { "policy_present", 5 },   { "empty_public", 6 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        der_buf b;
        uint8_t *x = NULL;
        size_t x_len = 0;
        int w = bad[i].which;
        der_buf_init(&b, 4096);
        UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
        if (w == 1) {
            UNIT_ASSERT_OK(der_add_oid(&b, "\x67\x81\x05\x0a\x01\x04", 6));
        } else {
            UNIT_ASSERT_OK(der_add_oid(&b, "\x67\x81\x05\x0a\x01\x03", 6));
        }
        UNIT_ASSERT_OK(der_begin(&b, DER_CONTEXT_C(0)));
        UNIT_ASSERT_OK(der_add_bool(&b, w != 2));
        UNIT_ASSERT_OK(der_end(&b));
        if (w == 5) {
            UNIT_ASSERT_OK(der_begin(&b, DER_CONTEXT_C(1)));
            UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
            UNIT_ASSERT_OK(der_end(&b));
            UNIT_ASSERT_OK(der_end(&b));
        }
        UNIT_ASSERT_OK(der_add_uint64(&b, w == 3 ? 0x140000001ull : 0x40000001ull));
        UNIT_ASSERT_OK(der_add_tlv(&b, DER_OCTETSTRING, o.pub, w == 6 ? 0 : o.pub_len));
        UNIT_ASSERT_OK(der_add_tlv(&b, DER_OCTETSTRING, o.priv, o.priv_len));
        if (w == 4) {
            UNIT_ASSERT_OK(der_add_null(&b));
        }
        UNIT_ASSERT_OK(der_end(&b));
        UNIT_ASSERT_OK(der_buf_take(&b, &x, &x_len));
        char *p = test_tss2_pem(x, x_len);
        ztca_rc rc = agent_tss2_key_parse(&back, &parent, (const uint8_t *)p, strlen(p));
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "tss2 key case %s: %d\n", bad[i].name, rc.err);
            CU_FAIL("a bad TSS2 key was accepted");
        }
        ztca_free(p);
        ztca_free(x);
        der_buf_free(&b);
    }
    ztca_free(der);
}

static void
test_state(void)
{
    agent_state s, back;
    memset(&s, 0, sizeof(s));
    snprintf(s.server, sizeof(s.server), "https://ca.example:8443");
    s.tpm = true;
    snprintf(s.tcti, sizeof(s.tcti), "device:/dev/tpmrm0");
    snprintf(s.ek_type, sizeof(s.ek_type), "rsa");
    snprintf(s.ak_type, sizeof(s.ak_type), "ecc");
    snprintf(s.device_id, sizeof(s.device_id), "dev-abcdefghijklmnopqrstuvwxyz");
    snprintf(s.user, sizeof(s.user), "alice");
    snprintf(s.profile, sizeof(s.profile), "agent");
    snprintf(s.uri, sizeof(s.uri), "spiffe://corp.example/agent/dev-abc/alice");
    snprintf(s.serial, sizeof(s.serial), "0a0b0c");
    snprintf(s.attestation, sizeof(s.attestation), "tpm");
    s.not_before = 1790000000;
    s.not_after = 1790028800;
    char *text = NULL;
    size_t len = 0;
    UNIT_ASSERT_OK(agent_state_encode(&text, &len, &s));
    UNIT_ASSERT_OK(agent_state_parse(&back, (const uint8_t *)text, len));
    CU_ASSERT_STRING_EQUAL(back.server, s.server);
    CU_ASSERT_STRING_EQUAL(back.tcti, s.tcti);
    CU_ASSERT_STRING_EQUAL(back.uri, s.uri);
    CU_ASSERT_STRING_EQUAL(back.serial, s.serial);
    CU_ASSERT_STRING_EQUAL(back.user, s.user);
    CU_ASSERT_STRING_EQUAL(back.attestation, s.attestation);
    CU_ASSERT_TRUE(back.tpm);
    CU_ASSERT_EQUAL(back.not_before, s.not_before);
    CU_ASSERT_EQUAL(back.not_after, s.not_after);
    for (size_t n = 0; n + 1 < len; n++) {
        uint8_t *p = unit_dup((const uint8_t *)text, n);
        UNIT_ASSERT_ERR(agent_state_parse(&back, p, n), ZTCA_ERR_BAD_INPUT);
        free(p);
    }
    ztca_free(text);
    static const char *const bad[] = {
        "{}",
        "[]",
        /* unknown member */
        "{\"version\":1,\"server\":\"s\",\"tpm\":false,\"tcti\":\"-\",\"ek_type\":\"-\","
        "\"ak_type\":\"-\",\"device_id\":\"d\",\"user\":\"\",\"profile\":\"agent\",\"uri\":\"u\","
        "\"serial\":\"00\",\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":"
        "\"2026-01-02T00:00:00Z\",\"attestation\":\"software\",\"extra\":1}",
        /* not_after before not_before */
        "{\"version\":1,\"server\":\"s\",\"tpm\":false,\"tcti\":\"-\",\"ek_type\":\"-\","
        "\"ak_type\":\"-\",\"device_id\":\"d\",\"user\":\"\",\"profile\":\"agent\",\"uri\":\"u\","
        "\"serial\":\"00\",\"not_before\":\"2026-01-02T00:00:00Z\",\"not_after\":"
        "\"2026-01-01T00:00:00Z\",\"attestation\":\"software\"}",
        /* TPM with an unknown EK type */
        "{\"version\":1,\"server\":\"s\",\"tpm\":true,\"tcti\":\"-\",\"ek_type\":\"dsa\","
        "\"ak_type\":\"ecc\",\"device_id\":\"d\",\"user\":\"\",\"profile\":\"agent\",\"uri\":\"u\","
        "\"serial\":\"00\",\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":"
        "\"2026-01-02T00:00:00Z\",\"attestation\":\"tpm\"}",
        /* wrong type */
        "{\"version\":1,\"server\":\"s\",\"tpm\":\"yes\",\"tcti\":\"-\",\"ek_type\":\"-\","
        "\"ak_type\":\"-\",\"device_id\":\"d\",\"user\":\"\",\"profile\":\"agent\",\"uri\":\"u\","
        "\"serial\":\"00\",\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":"
        "\"2026-01-02T00:00:00Z\",\"attestation\":\"software\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        UNIT_ASSERT_ERR(agent_state_parse(&back, (const uint8_t *)bad[i], strlen(bad[i])),
                        ZTCA_ERR_BAD_INPUT);
    }
}

static void
test_schedule(void)
{
    /* 8 h certificate backdated a minute: two thirds of 8h01m in. */
    ztca_time nb = 1000000, na = nb + 8 * 3600 + 60;
    CU_ASSERT_EQUAL(agent_renew_at(nb, na, 0.0), nb + (na - nb) * 2 / 3);
    CU_ASSERT_EQUAL(agent_renew_at(nb, na, 1.0), nb + (na - nb) * 2 / 3 + (na - nb) / 20);
    CU_ASSERT_EQUAL(agent_renew_at(nb, na, -1.0), nb + (na - nb) * 2 / 3 - (na - nb) / 20);
    CU_ASSERT_EQUAL(agent_renew_at(nb, na, 7.0), agent_renew_at(nb, na, 1.0)); /* clamped */
    CU_ASSERT_TRUE(agent_renew_at(nb, na, 1.0) <= na - (na - nb) / 10);
    CU_ASSERT_EQUAL(agent_renew_at(nb, nb, 0.0), nb); /* degenerate: at once */
    static const int64_t want[] = { 5, 10, 20, 40, 80, 160, 320, 600, 600, 600 };
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CU_ASSERT_EQUAL(agent_backoff(i, 0.0), want[i]);
    }
    CU_ASSERT_EQUAL(agent_backoff(0, 0.999), 5 + 1);
    CU_ASSERT_EQUAL(agent_backoff(10, 0.5), 600 + 75);
    CU_ASSERT_EQUAL(agent_backoff(100, 2.0), 600); /* out-of-range jitter ignored */
}

static size_t
test_count_files(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return 0;
    }
    for (const struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++; /* temporaries (".key.pem.XXXXXX") count */
        }
    }
    closedir(d);
    return n;
}

static void
test_files(void)
{
    char dir[] = "/tmp/ztca-test-agent-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    agent_files f;
    agent_files_init(&f, dir);
    UNIT_ASSERT_OK(agent_files_add(&f, "key.pem", 0600, "secret", 6));
    UNIT_ASSERT_OK(agent_files_add(&f, "cert.pem", 0644, "cert", 4));
    CU_ASSERT_EQUAL(test_count_files(dir), 2); /* two temporaries */
    agent_files_abort(&f);
    CU_ASSERT_EQUAL(test_count_files(dir), 0);
    UNIT_ASSERT_OK(agent_files_add(&f, "key.pem", 0600, "secret", 6));
    UNIT_ASSERT_OK(agent_files_add(&f, "cert.pem", 0644, "cert", 4));
    UNIT_ASSERT_OK(agent_files_commit(&f));
    CU_ASSERT_EQUAL(test_count_files(dir), 2);
    uint8_t *p = NULL;
    size_t len = 0;
    UNIT_ASSERT_OK(agent_file_read(dir, "key.pem", &p, &len));
    CU_ASSERT_EQUAL(len, 6);
    CU_ASSERT_EQUAL(memcmp(p, "secret", 6), 0);
    ztca_free(p);
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    UNIT_ASSERT_ERR(agent_file_read(dir, "absent", &p, &len), ZTCA_ERR_NOT_FOUND);
    unlink(path);
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    unlink(path);
    rmdir(dir);
}

static void
test_retry_after_parse(void)
{
    static const struct {
        const char *name;
        const char *value;
        size_t len; /* 0: strlen */
        int64_t want;
    } cases[] = {
        { "one", "1", 0, 1 },
        { "blanks_and_crlf", " \t2\r\n", 0, 2 },
        { "bound", "30", 0, AGENT_RETRY_AFTER_MAX },
        { "over_bound", "31", 0, 0 },
        { "leading_zeros", "007", 0, 7 },
        { "four_digits", "0001", 0, 0 },
        { "zero", "0", 0, 0 },
        { "empty", "", 0, 0 },
        { "blank_only", "  \r\n", 0, 0 },
        { "negative", "-1", 0, 0 },
        { "plus", "+1", 0, 0 },
        { "fraction", "1.5", 0, 0 },
        { "inner_blank", "1 2", 0, 0 },
        { "http_date", "Fri, 31 Dec 1999 23:59:59 GMT", 0, 0 },
        { "nul_inside", "1\0", 2, 0 },
        { "huge", "99999999999999999999999", 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].value);
        int64_t got = agent_retry_after_parse(cases[i].value, len);
        if (got != cases[i].want) {
            fprintf(stderr, "\n  retry_after %s: got %lld\n", cases[i].name, (long long)got);
        }
        CU_ASSERT_EQUAL(got, cases[i].want);
    }
}

/* A ztca stand-in for one route: the first `limited` requests get 429 (with `retry_after` as
 * the header, when set), then 200. Each request's arrival is noted on CLOCK_MONOTONIC. */
#define TEST_SRV_MAX 8
typedef struct test_srv {
    pthread_mutex_t lock;
    unsigned limited;
    const char *retry_after;
    unsigned num;
    struct timespec at[TEST_SRV_MAX];
    char bearer[64];
} test_srv;

static enum MHD_Result
test_srv_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    static int started;
    test_srv *s = cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (*con_cls == NULL) {
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* the JSON body: not looked at */
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&s->lock);
    unsigned i = s->num++;
    if (i < TEST_SRV_MAX) {
        clock_gettime(CLOCK_MONOTONIC, &s->at[i]);
    }
    snprintf(s->bearer, sizeof(s->bearer), "%s", auth != NULL ? auth : "");
    bool limited = i < s->limited;
    pthread_mutex_unlock(&s->lock);
    static const char problem[] = "{\"type\":\"urn:ztca:problem:rate-limited\",\"title\":\"Too "
                                  "many requests\",\"status\":429}";
    static const char done[] = "{\"ok\":true}";
    const char *body = limited ? problem : done;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                                             MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type",
                            limited ? "application/problem+json" : "application/json");
    if (limited && s->retry_after != NULL) {
        MHD_add_response_header(r, "Retry-After", s->retry_after);
    }
    enum MHD_Result ret = MHD_queue_response(conn, limited ? 429 : 200, r);
    MHD_destroy_response(r);
    return ret;
}

static int64_t
test_ms_between(const struct timespec *a, const struct timespec *b)
{
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* One agent_http_post to a fresh server configured as given; the reply in *out. */
static void
test_post_429(const char *dir, unsigned limited, const char *retry_after, test_srv *s,
              agent_reply *out)
{
    char key_path[256], cert_path[256], server[64];
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
    size_t key_len = 0, cert_len = 0;
    uint8_t *key = NULL, *cert = NULL;
    UNIT_ASSERT_OK(agent_file_read(dir, "key.pem", &key, &key_len));
    UNIT_ASSERT_OK(agent_file_read(dir, "cert.pem", &cert, &cert_len));
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->limited = limited;
    s->retry_after = retry_after;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, test_srv_handler, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_HTTPS_MEM_KEY, (const char *)key,
        MHD_OPTION_HTTPS_MEM_CERT, (const char *)cert, MHD_OPTION_END);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(info);
    snprintf(server, sizeof(server), "https://127.0.0.1:%u", (unsigned)info->port);
    agent_http h = { .server = server, .ca_file = cert_path, .timeout_s = 30 };
    json_t *body = json_pack("{s:s}", "csr", "x");
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    UNIT_ASSERT_OK(agent_http_post(&h, "/v1/certs", "ztca_tok_test", body, out));
    json_decref(body);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&s->lock);
    ztca_free(key);
    ztca_free(cert);
}

static void
test_http_429(void)
{
    char dir[] = "/tmp/ztca-test-agent-http-XXXXXX";
    char cmd[1024];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    /* The server's certificate, also the CA the agent is told to trust. */
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/key.pem -out %s/cert.pem -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 2>/dev/null",
             dir, dir);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    test_srv s;
    agent_reply r;

    /* 429 with Retry-After: 1, then 200: waited (at least the second between the two
     * arrivals), sent again with the same token, and the 200 is the answer. */
    test_post_429(dir, 1, "1", &s, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_EQUAL(r.tries, 2);
    CU_ASSERT_EQUAL(s.num, 2);
    CU_ASSERT_STRING_EQUAL(s.bearer, "Bearer ztca_tok_test");
    CU_ASSERT_TRUE(json_is_true(json_object_get(r.body, "ok")));
    int64_t waited = test_ms_between(&s.at[0], &s.at[1]);
    if (waited < 1000) {
        fprintf(stderr, "\n  waited %lld ms for Retry-After: 1\n", (long long)waited);
    }
    CU_ASSERT_TRUE(waited >= 1000);
    agent_reply_free(&r);

    /* Always 429: it gives up after AGENT_RETRY_429_MAX waits; the 429 is the answer. */
    test_post_429(dir, UINT_MAX, "1", &s, &r);
    CU_ASSERT_EQUAL(r.status, 429);
    CU_ASSERT_EQUAL(r.tries, 1 + AGENT_RETRY_429_MAX);
    CU_ASSERT_EQUAL(s.num, 1 + AGENT_RETRY_429_MAX);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.body, "type")),
                           "urn:ztca:problem:rate-limited");
    for (unsigned i = 1; i < s.num && i < TEST_SRV_MAX; i++) {
        CU_ASSERT_TRUE(test_ms_between(&s.at[i - 1], &s.at[i]) >= 1000);
    }
    agent_reply_free(&r);

    /* Not waited in place: a wait past the bound, no Retry-After, an HTTP-date. */
    static const char *const no_wait[] = { "3600", NULL, "Fri, 31 Dec 1999 23:59:59 GMT" };
    for (size_t i = 0; i < 3; i++) {
        test_post_429(dir, UINT_MAX, no_wait[i], &s, &r);
        CU_ASSERT_EQUAL(r.status, 429);
        CU_ASSERT_EQUAL(r.tries, 1);
        CU_ASSERT_EQUAL(s.num, 1);
        agent_reply_free(&r);
    }

    snprintf(cmd, sizeof(cmd), "%s/key.pem", dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/cert.pem", dir);
    unlink(cmd);
    rmdir(dir);
}

int
main(void)
{
    static const unit_test tests[] = {
        { "csr", test_csr },           { "tss2_key", test_tss2_key },
        { "state", test_state },       { "schedule", test_schedule },
        { "files", test_files },       { "retry_after_parse", test_retry_after_parse },
        { "http_429", test_http_429 }, { NULL, NULL },
    };
    return unit_run("agent", tests);
}
