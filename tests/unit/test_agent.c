/* test_agent.c: the CUnit suite of ztca-agent's pure parts (enroll/agent/): the CSR builder
 * (checked by mbedTLS through ca_csr_parse), the TSS2 PRIVATE KEY file (known layout, round trip,
 * negatives, every prefix), the state file, the renewal schedule and backoff, and the group file
 * writes (nothing left behind on abort). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int
main(void)
{
    static const unit_test tests[] = {
        { "csr", test_csr },           { "tss2_key", test_tss2_key }, { "state", test_state },
        { "schedule", test_schedule }, { "files", test_files },       { NULL, NULL },
    };
    return unit_run("agent", tests);
}
