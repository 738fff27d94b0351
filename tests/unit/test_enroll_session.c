/* test_enroll_session.c: the CUnit suite of TPM enrollment's server side (issue 7): the
 * "enrollment" configuration, the session state codec, the device facts, the request decoders
 * of api/api_decode_enroll.c (negative table with the exact problem type, every prefix), and
 * enroll_tpm_begin / _finish / enroll_renew_* against a real SQLite store with swtpm evidence from
 * tests/data/attest: every refusal with its enroll_refusal and attest_reason. A full finish needs
 * a TPM to activate the credential: tests/integration/test_enroll.sh does that on swtpm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/internal.h"
#include "enroll/enroll.h"
#include "enroll/internal.h"
#include "tests/unit/unit.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

static uint8_t *
test_data(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/data/attest/%s", name);
    uint8_t *p = unit_read_file(path, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (p == NULL) {
        abort();
    }
    return p;
}

static json_t *
test_b64_file(const char *name)
{
    size_t len = 0;
    uint8_t *p = test_data(name, &len);
    char *s = NULL;
    size_t n = 0;
    UNIT_ASSERT_OK(ztca_base64_encode(&s, &n, p, len));
    free(p);
    json_t *v = json_string(s);
    ztca_free(s);
    return v;
}

/* A begin body of real swtpm blobs: the RSA EK, its certificate, an ECDSA AK, the TLS key. */
static char *
test_begin_body(bool renew)
{
    json_t *o = json_pack("{s:o, s:o, s:o, s:{s:s}}", "ek_public", test_b64_file("ek_rsa.pub"),
                          "ak_public", test_b64_file("ak_e256.pub"), "key_public",
                          test_b64_file("tls.pub"), "facts", "hostname", "laptop-1");
    if (!renew) {
        json_object_set_new(o, "ek_certificate", test_b64_file("ek_rsa.der"));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

#define T_SESSION "ses_0123456789abcdef0123456789abcdef"

/* A well-formed finish body whose evidence is garbage (base64 of a few bytes). */
static char *
test_finish_body(const char *session, const char *secret_b64)
{
    size_t len = 0;
    uint8_t *csr = test_data("tls.csr", &len);
    char *csr_s = malloc(len + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csr_s);
    memcpy(csr_s, csr, len);
    csr_s[len] = '\0';
    free(csr);
    json_t *o =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:s}", "session", session, "secret",
                  secret_b64, "certify", "attest", "AAEC", "signature", "AAEC", "quote", "attest",
                  "AAEC", "signature", "AAEC", "pcr_values", "AAEC", "csr", csr_s);
    free(csr_s);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

/* ---- configuration ------------------------------------------------------------------------- */

static void
test_config(void)
{
    static const struct {
        const char *json;
        ztca_err err;
        int64_t ttl;
        const char *cls;
    } cases[] = {
        { "{}", ZTCA_OK, ENROLL_SESSION_TTL_DEFAULT, "default" },
        { "{\"trust_domain\":\"x\",\"attestation\":{}}", ZTCA_OK, 300, "default" },
        { "{\"enrollment\":{\"session_ttl\":\"3s\"}}", ZTCA_OK, 3, "default" },
        { "{\"enrollment\":{\"session_ttl\":3600,\"device_class\":\"laptop\"}}", ZTCA_OK, 3600,
          "laptop" },
        { "{\"enrollment\":{\"session_ttl\":0}}", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "{\"enrollment\":{\"session_ttl\":\"2h\"}}", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "{\"enrollment\":{\"session_ttl\":true}}", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "{\"enrollment\":{\"sesion_ttl\":\"5m\"}}", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "{\"enrollment\":{\"device_class\":\"../x\"}}", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "{\"enrollment\":[]}", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "{\"enrollment\":{},\"enrollment\":{}}", ZTCA_ERR_BAD_INPUT, 0, NULL },
        { "[]", ZTCA_ERR_BAD_INPUT, 0, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enroll_config c;
        ztca_rc rc = enroll_config_parse(&c, (const uint8_t *)cases[i].json, strlen(cases[i].json));
        CU_ASSERT_EQUAL(rc.err, cases[i].err);
        if (ZTCA_IS_OK(rc) && cases[i].err == ZTCA_OK) {
            CU_ASSERT_EQUAL(c.session_ttl, cases[i].ttl);
            CU_ASSERT_STRING_EQUAL(c.device_class, cases[i].cls);
        }
    }
}

/* ---- session state ------------------------------------------------------------------------- */

static void
test_session_data(void)
{
    enroll_session_data d, back;
    enroll_session_data_init(&d);
    d.op = ENROLL_OP_RENEW;
    snprintf(d.device_id, sizeof(d.device_id), "dev-abcdefghijklmnopqrstuvwxyz");
    snprintf(d.serial, sizeof(d.serial), "0a0b");
    memset(d.ek_digest, 0x5a, sizeof(d.ek_digest));
    d.ek_public.p = test_data("ek_rsa.pub", &d.ek_public.len);
    d.ak_public.p = test_data("ak_e256.pub", &d.ak_public.len);
    d.key_public.p = test_data("tls.pub", &d.key_public.len);
    d.pcr_bank = ATTEST_ALG_SHA256;
    d.pcr_mask = 0xff;
    d.facts = ztca_strdup("{\"hostname\":\"a\"}");
    d.ek_origin = ATTEST_EK_REGISTERED;
    char *text = NULL;
    size_t len = 0;
    UNIT_ASSERT_OK(enroll_session_data_encode(&text, &len, &d));
    UNIT_ASSERT_OK(enroll_session_data_decode(&back, (const uint8_t *)text, len));
    CU_ASSERT_EQUAL(back.op, ENROLL_OP_RENEW);
    CU_ASSERT_STRING_EQUAL(back.device_id, d.device_id);
    CU_ASSERT_STRING_EQUAL(back.serial, "0a0b");
    CU_ASSERT_EQUAL(memcmp(back.ek_digest, d.ek_digest, sizeof(d.ek_digest)), 0);
    CU_ASSERT_EQUAL(back.ak_public.len, d.ak_public.len);
    CU_ASSERT_EQUAL(memcmp(back.ak_public.p, d.ak_public.p, d.ak_public.len), 0);
    CU_ASSERT_EQUAL(back.pcr_mask, 0xffu);
    CU_ASSERT_PTR_NULL(back.ek_cert.p);
    CU_ASSERT_STRING_EQUAL(back.facts, "{\"hostname\":\"a\"}");
    CU_ASSERT_EQUAL(back.ek_origin, ATTEST_EK_REGISTERED);
    enroll_session_data_free(&back);
    /* Every strict prefix is refused (from an exact-size copy: ASan sees over-reads). */
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = unit_dup((const uint8_t *)text, n);
        enroll_session_data x;
        UNIT_ASSERT_ERR(enroll_session_data_decode(&x, p, n), ZTCA_ERR_BAD_INPUT);
        free(p);
    }
    free(text);
    enroll_session_data_free(&d);

    static const char *const bad[] = {
        "{\"v\":2,\"op\":\"enroll\",\"device_id\":\"dev-a\",\"serial\":\"\",\"ek_sha256\":\"00\","
        "\"pcr_bank\":11,\"pcr_mask\":255}",
        "{\"v\":1,\"op\":\"steal\",\"device_id\":\"dev-a\",\"serial\":\"\",\"ek_sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"pcr_bank\":11,"
        "\"pcr_mask\":255,\"ek_public\":\"AA==\",\"ak_public\":\"AA==\",\"key_public\":\"AA==\"}",
        "{\"v\":1,\"op\":\"enroll\",\"device_id\":\"dev-a\",\"serial\":\"\",\"ek_sha256\":\"00\","
        "\"pcr_bank\":11,\"pcr_mask\":255,\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
        "\"key_public\":\"AA==\"}",
        "{\"v\":1,\"op\":\"enroll\",\"device_id\":\"dev-a\",\"serial\":\"\",\"ek_sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"pcr_bank\":11,"
        "\"pcr_mask\":0,\"ek_public\":\"AA==\",\"ak_public\":\"AA==\",\"key_public\":\"AA==\"}",
        "{\"v\":1,\"op\":\"enroll\",\"device_id\":\"dev-a\",\"serial\":\"\",\"ek_sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"pcr_bank\":11,"
        "\"pcr_mask\":255,\"ek_public\":\"AA==\",\"key_public\":\"AA==\"}",
        "{\"v\":1,\"op\":\"enroll\",\"device_id\":\"dev-a\",\"serial\":\"\",\"ek_sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"pcr_bank\":11,"
        "\"pcr_mask\":255,\"ek_public\":\"AA==\",\"ak_public\":\"!!\",\"key_public\":\"AA==\"}",
        "{\"v\":1,\"op\":\"enroll\",\"device_id\":\"../x\",\"serial\":\"\",\"ek_sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"pcr_bank\":11,"
        "\"pcr_mask\":255,\"ek_public\":\"AA==\",\"ak_public\":\"AA==\",\"key_public\":\"AA==\"}",
        "{\"v\":1,\"op\":\"enroll\",\"device_id\":\"dev-a\",\"serial\":\"\",\"ek_sha256\":"
        "\"0000000000000000000000000000000000000000000000000000000000000000\",\"pcr_bank\":11,"
        "\"pcr_mask\":255,\"ek_public\":\"AA==\",\"ak_public\":\"AA==\",\"key_public\":\"AA==\","
        "\"facts\":[]}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enroll_session_data x;
        ztca_rc rc = enroll_session_data_decode(&x, (const uint8_t *)bad[i], strlen(bad[i]));
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        if (ZTCA_IS_OK(rc)) {
            enroll_session_data_free(&x);
        }
    }
}

/* ---- facts --------------------------------------------------------------------------------- */

static void
test_facts(void)
{
    attest_quote q;
    memset(&q, 0, sizeof(q));
    q.clock.reset_count = 3;
    attest_pcr_verdict v;
    memset(&v, 0, sizeof(v));
    v.decision = ATTEST_PCR_FAIL;
    v.findings[0].reason = ATTEST_R_PCR_CHANGED;
    v.findings[0].pcr = 7;
    v.num_findings = 1;
    attest_key ek, ak;
    memset(&ek, 0, sizeof(ek));
    memset(&ak, 0, sizeof(ak));
    ek.type = ATTEST_KEY_ECC;
    ek.bits = 384;
    ak.type = ATTEST_KEY_RSA;
    ak.bits = 2048;
    enroll_facts_in in = { .old_facts = "{\"enrolled_with\":\"tpm\",\"tpm\":{\"reset_count\":5},"
                                        "\"pcr_baseline\":{\"bank\":\"sha256\",\"pcrs\":{}}}",
                           .client_facts = "{\"hostname\":\"h\"}",
                           .level = "tpm-certified",
                           .ca_level = CA_ATTEST_TPM,
                           .via = "renew",
                           .now = 1790000000,
                           .ek = &ek,
                           .ak = &ak,
                           .quote = &q,
                           .verdict = &v,
                           .pcr_bank = ATTEST_ALG_SHA256,
                           .pcr_mask = 0x81 };
    char *facts = NULL;
    bool regressed = false;
    UNIT_ASSERT_OK(enroll_facts_build(&facts, &regressed, &in));
    CU_ASSERT_TRUE(regressed); /* resetCount 5 -> 3 */
    json_error_t err;
    json_t *o = json_loads(facts, 0, &err);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "attestation")), "tpm");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "ek_type")), "ecc-p384");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "ak_type")), "rsa-2048");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "last_attestation")),
                           "2026-09-21T14:13:20Z");
    json_t *pcr = json_object_get(o, "pcr");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pcr, "decision")), "fail");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(pcr, "bank")), "sha256");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(pcr, "pcrs")), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(pcr, "findings"), 0)),
                           "pcr_changed:7");
    CU_ASSERT_PTR_NOT_NULL(json_object_get(o, "pcr_baseline")); /* kept */
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(o, "client"), "hostname")), "h");
    json_decref(o);
    free(facts);

    /* A software renewal: no TPM members; a first device: enrolled_with token. */
    enroll_facts_in soft = {
        .level = "software", .ca_level = CA_ATTEST_SOFTWARE, .via = "renew", .now = 1
    };
    UNIT_ASSERT_OK(enroll_facts_build(&facts, &regressed, &soft));
    CU_ASSERT_FALSE(regressed);
    CU_ASSERT_PTR_NOT_NULL(strstr(facts, "\"enrolled_with\":\"token\""));
    CU_ASSERT_PTR_NULL(strstr(facts, "\"tpm\""));
    free(facts);
    /* The EK's origin is recorded ("ek"), and a registered EK's facts survive the rebuild. */
    enroll_facts_in reg = { .old_facts = "{\"ek\":\"registered\",\"ek_spki\":\"AA==\"}",
                            .level = "tpm-registered",
                            .ca_level = CA_ATTEST_TPM,
                            .via = "enroll",
                            .now = 1,
                            .ek_origin = "registered" };
    UNIT_ASSERT_OK(enroll_facts_build(&facts, &regressed, &reg));
    CU_ASSERT_PTR_NOT_NULL(strstr(facts, "\"ek\":\"registered\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(facts, "\"ek_spki\":\"AA==\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(facts, "\"attestation_level\":\"tpm-registered\""));
    CU_ASSERT_TRUE(enroll_facts_ek_registered(facts));
    CU_ASSERT_FALSE(enroll_facts_ek_registered("{\"ek\":\"certified\"}"));
    CU_ASSERT_FALSE(enroll_facts_ek_registered(NULL));
    free(facts);
}

/* ---- request decoders ---------------------------------------------------------------------- */

static void
test_decode_begin(void)
{
    enroll_begin_req req;
    const char *type = NULL;
    char *body = test_begin_body(false);
    UNIT_ASSERT_OK(
        api_decode_enroll_begin((const uint8_t *)body, strlen(body), false, &req, &type));
    CU_ASSERT_TRUE(req.ek_cert.len > 500 && req.ek_public.len > 200 && req.ak_public.len > 50);
    CU_ASSERT_STRING_EQUAL(req.facts, "{\"hostname\":\"laptop-1\"}");
    enroll_begin_req_free(&req);
    /* A renewal carries no EK certificate. */
    type = NULL;
    UNIT_ASSERT_ERR(api_decode_enroll_begin((const uint8_t *)body, strlen(body), true, &req, &type),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(type, "invalid-field");
    for (size_t n = 0; n < strlen(body); n++) {
        uint8_t *p = unit_dup((const uint8_t *)body, n);
        type = NULL;
        UNIT_ASSERT_ERR(api_decode_enroll_begin(p, n, false, &req, &type), ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_PTR_NOT_NULL(type);
        free(p);
    }
    free(body);
    body = test_begin_body(true);
    UNIT_ASSERT_OK(api_decode_enroll_begin((const uint8_t *)body, strlen(body), true, &req, &type));
    CU_ASSERT_PTR_NULL(req.ek_cert.p);
    enroll_begin_req_free(&req);
    /* An enrollment without an EK certificate decodes (the EK must be on record: enroll/). */
    type = NULL;
    UNIT_ASSERT_OK(
        api_decode_enroll_begin((const uint8_t *)body, strlen(body), false, &req, &type));
    CU_ASSERT_PTR_NULL(req.ek_cert.p);
    CU_ASSERT_TRUE(req.ek_public.len > 200);
    enroll_begin_req_free(&req);
    free(body);

    static const struct {
        const char *name;
        const char *json;
        const char *type;
    } bad[] = {
        { "not_json", "{", "invalid-json" },
        { "array", "[]", "invalid-json" },
        { "duplicate_key", "{\"ek_public\":\"AA==\",\"ek_public\":\"AA==\"}", "invalid-json" },
        { "ek_chain_without_certificate",
          "{\"ek_chain\":[\"AA==\"],\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
          "\"key_public\":\"AA==\"}",
          "invalid-field" },
        { "ek_certificate_number",
          "{\"ek_certificate\":1,\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
          "\"key_public\":\"AA==\"}",
          "invalid-field" },
        { "ek_certificate_not_base64",
          "{\"ek_certificate\":\"!!!!\",\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
          "\"key_public\":\"AA==\"}",
          "invalid-field" },
        { "ek_certificate_empty",
          "{\"ek_certificate\":\"\",\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
          "\"key_public\":\"AA==\"}",
          "invalid-field" },
        { "ek_chain_not_array",
          "{\"ek_certificate\":\"AA==\",\"ek_chain\":\"AA==\",\"ek_public\":\"AA==\","
          "\"ak_public\":\"AA==\",\"key_public\":\"AA==\"}",
          "invalid-field" },
        { "ek_chain_too_long",
          "{\"ek_certificate\":\"AA==\",\"ek_chain\":[\"AA==\",\"AA==\",\"AA==\",\"AA==\","
          "\"AA==\"],\"ek_public\":\"AA==\",\"ak_public\":\"AA==\",\"key_public\":\"AA==\"}",
          "invalid-field" },
        { "no_ak_public",
          "{\"ek_certificate\":\"AA==\",\"ek_public\":\"AA==\",\"key_public\":\"AA==\"}",
          "invalid-field" },
        { "key_public_number",
          "{\"ek_certificate\":\"AA==\",\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
          "\"key_public\":7}",
          "invalid-field" },
        { "facts_not_object",
          "{\"ek_certificate\":\"AA==\",\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
          "\"key_public\":\"AA==\",\"facts\":\"x\"}",
          "invalid-field" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        type = NULL;
        ztca_rc rc = api_decode_enroll_begin((const uint8_t *)bad[i].json, strlen(bad[i].json),
                                             false, &req, &type);
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        if (type == NULL || strcmp(type, bad[i].type) != 0) {
            fprintf(stderr, "case %s: type %s\n", bad[i].name, type != NULL ? type : "(null)");
            CU_FAIL("begin decoder: wrong problem type");
        }
    }
    /* Facts over 4 KiB. */
    char big[6000];
    int n = snprintf(big, sizeof(big),
                     "{\"ek_certificate\":\"AA==\",\"ek_public\":\"AA==\",\"ak_public\":\"AA==\","
                     "\"key_public\":\"AA==\",\"facts\":{\"x\":\"");
    memset(big + n, 'a', 4200);
    snprintf(big + n + 4200, sizeof(big) - (size_t)n - 4200, "\"}}");
    UNIT_ASSERT_ERR(api_decode_enroll_begin((const uint8_t *)big, strlen(big), false, &req, &type),
                    ZTCA_ERR_BAD_INPUT);
}

static void
test_decode_finish(void)
{
    enroll_finish_req req;
    const char *type = NULL;
    char *body = test_finish_body(T_SESSION, "c2VjcmV0");
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)body, strlen(body), false, &req, &type));
    CU_ASSERT_TRUE(req.has_evidence);
    CU_ASSERT_STRING_EQUAL(req.session, T_SESSION);
    CU_ASSERT_EQUAL(req.secret.len, 6);
    CU_ASSERT_EQUAL(memcmp(req.secret.p, "secret", 6), 0);
    CU_ASSERT_EQUAL(req.csr_len, strlen(req.csr));
    enroll_finish_req_free(&req);
    for (size_t n = 0; n < strlen(body); n++) {
        uint8_t *p = unit_dup((const uint8_t *)body, n);
        type = NULL;
        UNIT_ASSERT_ERR(api_decode_enroll_finish(p, n, false, &req, &type), ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_PTR_NOT_NULL(type);
        free(p);
    }
    free(body);
    /* A software renewal: the CSR alone. */
    static const char soft[] =
        "{\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"ttl\":\"8h\"}";
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)soft, strlen(soft), true, &req, &type));
    CU_ASSERT_FALSE(req.has_evidence);
    CU_ASSERT_EQUAL(req.ttl, 8 * 3600);
    enroll_finish_req_free(&req);
    UNIT_ASSERT_ERR(
        api_decode_enroll_finish((const uint8_t *)soft, strlen(soft), false, &req, &type),
        ZTCA_ERR_BAD_INPUT); /* an enrollment always proves the TPM */

    /* jansson refuses \u0000 escapes itself (no JSON_ALLOW_NUL): invalid-json. */
    static const struct {
        const char *name;
        const char *json;
        bool renew;
        const char *type;
    } bad[] = {
        { "session_short", "{\"session\":\"ses_0\",\"csr\":\"x\"}", false, "invalid-field" },
        { "session_upper", "{\"session\":\"ses_0123456789ABCDEF0123456789abcdef\",\"csr\":\"x\"}",
          false, "invalid-field" },
        { "session_nul",
          "{\"session\":\"ses_0123456789abcdef0123456789abcde\\u0000\",\"csr\":\"x\"}", false,
          "invalid-json" },
        { "session_nul_long",
          "{\"session\":\"ses_0123456789abcdef0123456789abcdef\\u0000aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
          "\"csr\":\"x\"}",
          false, "invalid-json" },
        { "no_csr", "{\"session\":\"" T_SESSION "\"}", true, "invalid-field" },
        { "csr_nul", "{\"csr\":\"a\\u0000b\"}", true, "invalid-json" },
        { "renew_partial_evidence", "{\"session\":\"" T_SESSION "\",\"csr\":\"x\"}", true,
          "invalid-field" },
        { "no_quote",
          "{\"session\":\"" T_SESSION "\",\"secret\":\"AA==\",\"certify\":{\"attest\":\"AA==\","
          "\"signature\":\"AA==\"},\"csr\":\"x\"}",
          false, "invalid-field" },
        { "secret_too_long",
          "{\"session\":\"" T_SESSION
          "\",\"secret\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"certify\":{},\"quote\":{},"
          "\"csr\":\"x\"}",
          false, "invalid-field" },
        { "ttl_negative", "{\"csr\":\"x\",\"ttl\":-1}", true, "invalid-field" },
        { "ttl_garbage", "{\"csr\":\"x\",\"ttl\":\"soon\"}", true, "invalid-field" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        type = NULL;
        ztca_rc rc = api_decode_enroll_finish((const uint8_t *)bad[i].json, strlen(bad[i].json),
                                              bad[i].renew, &req, &type);
        if (rc.err != ZTCA_ERR_BAD_INPUT || type == NULL || strcmp(type, bad[i].type) != 0) {
            fprintf(stderr, "case %s: %d %s\n", bad[i].name, rc.err, type != NULL ? type : "-");
            CU_FAIL("finish decoder accepted or mislabelled a bad body");
        }
    }
}

/* ---- enrollment against a store ------------------------------------------------------------ */

typedef struct test_ctx {
    char path[256];
    store *st;
    ca_rng *rng;
    attest_roots *roots;
    enroll_env env;
    enroll_config conf;
} test_ctx;

static void
test_ctx_open(test_ctx *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->path, sizeof(c->path), "/tmp/ztca-test-enroll-%d.db", (int)getpid());
    unlink(c->path);
    char url[300];
    snprintf(url, sizeof(url), "sqlite:%s", c->path);
    UNIT_ASSERT_OK(store_open(&c->st, url));
    UNIT_ASSERT_OK(ca_rng_new(&c->rng));
    UNIT_ASSERT_OK(attest_roots_new(&c->roots, ATTEST_CHAIN_DEFAULT));
    size_t len = 0;
    uint8_t *pem = test_data("localca.pem", &len);
    UNIT_ASSERT_OK(attest_roots_add(c->roots, pem, len));
    free(pem);
    enroll_config_defaults(&c->conf);
    c->env.rng = c->rng;
    c->env.st = c->st;
    c->env.roots = c->roots;
    c->env.conf = &c->conf;
}

static void
test_ctx_close(test_ctx *c)
{
    attest_roots_free(c->roots);
    ca_rng_free(c->rng);
    store_close(c->st);
    unlink(c->path);
    char wal[300];
    snprintf(wal, sizeof(wal), "%s-wal", c->path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", c->path);
    unlink(wal);
}

/* A token in the store; its hash into `hash`. */
static void
test_token(test_ctx *c, const char *user, const char *profile, int64_t ttl, uint8_t hash[32])
{
    store_token t;
    memset(&t, 0, sizeof(t));
    UNIT_ASSERT_OK(ca_rng_bytes(c->rng, t.hash, sizeof(t.hash)));
    snprintf(t.user, sizeof(t.user), "%s", user);
    snprintf(t.profile, sizeof(t.profile), "%s", profile);
    snprintf(t.created_by, sizeof(t.created_by), "test");
    t.expires_at = ztca_now() + ttl;
    if (user[0] != '\0') {
        UNIT_ASSERT_OK(store_user_put(c->st, user, NULL));
    }
    UNIT_ASSERT_OK(store_token_insert(c->st, &t, NULL));
    memcpy(hash, t.hash, 32);
}

static void
test_begin_req(enroll_begin_req *req, const char *ek_cert, const char *ek_pub)
{
    enroll_begin_req_init(req);
    if (ek_cert != NULL) {
        req->ek_cert.p = test_data(ek_cert, &req->ek_cert.len);
    }
    req->ek_public.p = test_data(ek_pub, &req->ek_public.len);
    req->ak_public.p = test_data("ak_e256.pub", &req->ak_public.len);
    req->key_public.p = test_data("tls.pub", &req->key_public.len);
}

static void
test_enroll_begin(void)
{
    test_ctx c;
    test_ctx_open(&c);
    uint8_t tok[32], other[32], used[32];
    test_token(&c, "alice", "agent", 600, tok);
    test_token(&c, "bob", "agent", 600, other);
    enroll_begin_req req;
    enroll_challenge ch;
    enroll_outcome why;

    /* The RSA EK of swtpm, its certificate from the local CA: a challenge. */
    test_begin_req(&req, "ek_rsa.der", "ek_rsa.pub");
    UNIT_ASSERT_OK(enroll_tpm_begin(&c.env, tok, &req, &ch, &why));
    CU_ASSERT_EQUAL(strncmp(ch.session, "ses_", 4), 0);
    CU_ASSERT_EQUAL(strlen(ch.session), 36);
    CU_ASSERT_EQUAL(ch.pcr_bank, ATTEST_ALG_SHA256);
    CU_ASSERT_EQUAL(ch.pcr_mask, 0xffu);
    CU_ASSERT_EQUAL(strncmp(ch.device_id, "dev-", 4), 0);
    CU_ASSERT_TRUE(ch.expires_at > ztca_now() && ch.expires_at <= ztca_now() + 300);
    /* MakeCredential for an RSA-2048 EK: TPM2B_ID_OBJECT 2+2+32+34, OAEP secret 2+256. */
    CU_ASSERT_EQUAL(ch.cred.id_object_len, 70);
    CU_ASSERT_EQUAL(ch.cred.encrypted_secret_len, 258);
    /* The token was only checked: a second begin with it works too. */
    enroll_challenge ch2;
    UNIT_ASSERT_OK(enroll_tpm_begin(&c.env, tok, &req, &ch2, &why));
    CU_ASSERT_NOT_EQUAL(strcmp(ch.session, ch2.session), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(ch.nonce, ch2.nonce, sizeof(ch.nonce)), 0);
    enroll_begin_req_free(&req);

    /* Unknown token, used token. */
    memset(used, 0x11, sizeof(used));
    test_begin_req(&req, "ek_rsa.der", "ek_rsa.pub");
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, used, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_TOKEN);
    store_token t;
    UNIT_ASSERT_OK(store_token_consume(c.st, other, ztca_now(), &t));
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, other, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_TOKEN);
    enroll_begin_req_free(&req);

    /* Evidence: an EK public that is not the certificate's key; a certificate of an untrusted
     * CA; no roots at all; an AK that is not restricted (the TLS key). */
    test_begin_req(&req, "ek_rsa.der", "ek_p384.pub");
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_EK_PUB_MISMATCH);
    enroll_begin_req_free(&req);
    test_begin_req(&req, "ek_p384_untrusted.der", "ek_p384.pub");
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_EK_CERT_UNTRUSTED);
    c.env.roots = NULL;
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_EK_CERT_UNTRUSTED);
    c.env.roots = c.roots;
    enroll_begin_req_free(&req);
    test_begin_req(&req, "ek_rsa.der", "ek_rsa.pub");
    ztca_free(req.ak_public.p);
    req.ak_public.p = test_data("tls.pub", &req.ak_public.len);
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_AK_NOT_RESTRICTED);
    /* No EK certificate and an EK nobody registered: an attestation failure that says so. */
    ztca_free(req.ek_cert.p);
    req.ek_cert.p = NULL;
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_EK_NOT_REGISTERED);
    /* No EK public at all: the shape of the evidence is wrong. */
    ztca_free(req.ek_public.p);
    req.ek_public.p = NULL;
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE_SHAPE);
    enroll_begin_req_free(&req);

    /* A revoked device is refused at begin. */
    test_begin_req(&req, "ek_rsa.der", "ek_rsa.pub");
    store_device dev;
    store_device_init(&dev);
    snprintf(dev.id, sizeof(dev.id), "%s", ch.device_id);
    dev.has_ek = true;
    UNIT_ASSERT_OK(enroll_ek_identity(dev.ek_pub_hash, dev.id, sizeof(dev.id), req.ek_public.p,
                                      req.ek_public.len));
    store_audit_event ev = { .actor = "test", .action = "device.register", .subject = dev.id };
    UNIT_ASSERT_OK(store_device_insert(c.st, &dev, &ev));
    ev.action = "device.revoke";
    UNIT_ASSERT_OK(store_device_set_status(c.st, dev.id, STORE_DISABLED,
                                           STORE_REASON_KEY_COMPROMISE, 0, &ev, NULL));
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_DEVICE_REVOKED);
    enroll_begin_req_free(&req);
    test_ctx_close(&c);
}

static void
test_enroll_finish(void)
{
    test_ctx c;
    test_ctx_open(&c);
    c.conf.session_ttl = 1;
    uint8_t tok[32], tok2[32];
    test_token(&c, "alice", "agent", 600, tok);
    test_token(&c, "bob", "agent", 600, tok2);
    enroll_begin_req req;
    enroll_challenge ch;
    enroll_outcome why;
    enroll_result res;
    enroll_finish_req fin;
    const char *type = NULL;
    test_begin_req(&req, "ek_rsa.der", "ek_rsa.pub");

    /* Another token: the session is burnt (single use) and the tokens stay unused. */
    UNIT_ASSERT_OK(enroll_tpm_begin(&c.env, tok, &req, &ch, &why));
    char *body = test_finish_body(ch.session, "c2VjcmV0");
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)body, strlen(body), false, &fin, &type));
    free(body);
    enroll_result_init(&res);
    UNIT_ASSERT_ERR(enroll_tpm_finish(&c.env, tok2, &fin, &res, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_SESSION_TOKEN);
    UNIT_ASSERT_ERR(enroll_tpm_finish(&c.env, tok, &fin, &res, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_SESSION);
    enroll_finish_req_free(&fin);

    /* The right token, a wrong secret: refused on the secret, before any other evidence. */
    UNIT_ASSERT_OK(enroll_tpm_begin(&c.env, tok, &req, &ch, &why));
    body = test_finish_body(ch.session, "c2VjcmV0");
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)body, strlen(body), false, &fin, &type));
    free(body);
    UNIT_ASSERT_ERR(enroll_tpm_finish(&c.env, tok, &fin, &res, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_SECRET_MISMATCH);
    enroll_finish_req_free(&fin);

    /* Unknown session; expired session (TTL 1 s here). */
    body = test_finish_body(T_SESSION, "c2VjcmV0");
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)body, strlen(body), false, &fin, &type));
    free(body);
    UNIT_ASSERT_ERR(enroll_tpm_finish(&c.env, tok, &fin, &res, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_SESSION);
    enroll_finish_req_free(&fin);
    UNIT_ASSERT_OK(enroll_tpm_begin(&c.env, tok, &req, &ch, &why));
    body = test_finish_body(ch.session, "c2VjcmV0");
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)body, strlen(body), false, &fin, &type));
    free(body);
    sleep(2);
    UNIT_ASSERT_ERR(enroll_tpm_finish(&c.env, tok, &fin, &res, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_SESSION);
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "store: the enrollment session expired");
    enroll_finish_req_free(&fin);

    /* Nothing of it used a token. */
    store_token t;
    UNIT_ASSERT_OK(store_token_consume(c.st, tok, ztca_now(), &t));
    UNIT_ASSERT_OK(store_token_consume(c.st, tok2, ztca_now(), &t));
    enroll_result_free(&res);
    enroll_begin_req_free(&req);
    test_ctx_close(&c);
}

static void
test_renew(void)
{
    test_ctx c;
    test_ctx_open(&c);
    enroll_begin_req req;
    enroll_challenge ch;
    enroll_outcome why;
    enroll_peer peer;
    memset(&peer, 0, sizeof(peer));
    peer.kind = CA_PROFILE_AGENT;
    snprintf(peer.user, sizeof(peer.user), "alice");
    snprintf(peer.serial, sizeof(peer.serial), "0123");

    test_begin_req(&req, NULL, "ek_rsa.pub");
    store_device dev;
    store_device_init(&dev);
    dev.has_ek = true;
    UNIT_ASSERT_OK(enroll_ek_identity(dev.ek_pub_hash, dev.id, sizeof(dev.id), req.ek_public.p,
                                      req.ek_public.len));
    snprintf(peer.device_id, sizeof(peer.device_id), "%s", dev.id);

    /* Not on record; an admin certificate; then the device. */
    UNIT_ASSERT_ERR(enroll_renew_begin(&c.env, &peer, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_DEVICE_UNKNOWN);
    peer.kind = CA_PROFILE_ADMIN;
    UNIT_ASSERT_ERR(enroll_renew_begin(&c.env, &peer, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_KIND);
    peer.kind = CA_PROFILE_AGENT;
    store_audit_event ev = { .actor = "test", .action = "device.register", .subject = dev.id };
    UNIT_ASSERT_OK(store_device_insert(c.st, &dev, &ev));
    UNIT_ASSERT_OK(enroll_renew_begin(&c.env, &peer, &req, &ch, &why));
    CU_ASSERT_STRING_EQUAL(ch.device_id, dev.id);
    CU_ASSERT_EQUAL(ch.cred.encrypted_secret_len, 258);
    enroll_begin_req_free(&req);

    /* Another TPM's EK for this device. */
    test_begin_req(&req, NULL, "ek_p384.pub");
    UNIT_ASSERT_ERR(enroll_renew_begin(&c.env, &peer, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_EK_NOT_REGISTERED);
    enroll_begin_req_free(&req);

    /* A TPM device must send evidence; a session of another certificate is refused. */
    enroll_finish_req fin;
    enroll_result res;
    const char *type = NULL;
    static const char soft[] = "{\"csr\":\"x\"}";
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)soft, strlen(soft), true, &fin, &type));
    enroll_result_init(&res);
    UNIT_ASSERT_ERR(enroll_renew_finish(&c.env, &peer, &fin, &res, &why), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE_SHAPE);
    enroll_finish_req_free(&fin);
    char *body = test_finish_body(ch.session, "c2VjcmV0");
    UNIT_ASSERT_OK(
        api_decode_enroll_finish((const uint8_t *)body, strlen(body), true, &fin, &type));
    free(body);
    snprintf(peer.serial, sizeof(peer.serial), "4567");
    UNIT_ASSERT_ERR(enroll_renew_finish(&c.env, &peer, &fin, &res, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_SESSION);
    enroll_finish_req_free(&fin);
    enroll_result_free(&res);
    test_ctx_close(&c);
}

/* ---- EK pre-registration ------------------------------------------------------------------- */

static char *
test_allow_body(void)
{
    json_t *o = json_pack("{s:o, s:s, s:{s:s}}", "ek_public", test_b64_file("ek_p384.pub"), "note",
                          "rack 7, vTPM", "facts", "asset", "A-1234");
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static void
test_decode_allow(void)
{
    api_device_allow_req req;
    const char *type = NULL;
    char *body = test_allow_body();
    size_t len = strlen(body);
    UNIT_ASSERT_OK(api_decode_device_allow((const uint8_t *)body, len, &req, &type));
    size_t pub_len = 0;
    uint8_t *pub = test_data("ek_p384.pub", &pub_len);
    CU_ASSERT_EQUAL(req.ek_public.len, pub_len);
    CU_ASSERT_EQUAL(memcmp(req.ek_public.p, pub, pub_len), 0);
    CU_ASSERT_STRING_EQUAL(req.note, "rack 7, vTPM");
    CU_ASSERT_STRING_EQUAL(req.facts, "{\"asset\":\"A-1234\"}");
    api_device_allow_req_free(&req);
    free(pub);
    /* Every strict prefix is refused, from an exact-size copy. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *p = unit_dup((const uint8_t *)body, n);
        type = NULL;
        UNIT_ASSERT_ERR(api_decode_device_allow(p, n, &req, &type), ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_PTR_NOT_NULL(type);
        free(p);
    }
    /* Trailing data after the object. */
    char *trailing = malloc(len + 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(trailing);
    memcpy(trailing, body, len);
    memcpy(trailing + len, "{}", 3);
    type = NULL;
    UNIT_ASSERT_ERR(api_decode_device_allow((const uint8_t *)trailing, len + 2, &req, &type),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(type, "invalid-json");
    free(trailing);
    free(body);

    char long_note[400];
    int n = snprintf(long_note, sizeof(long_note), "{\"ek_public\":\"AA==\",\"note\":\"");
    memset(long_note + n, 'a', 257);
    snprintf(long_note + n + 257, sizeof(long_note) - (size_t)n - 257, "\"}");
    char big_b64[ATTEST_BLOB_MAX / 3 * 4 + 64];
    n = snprintf(big_b64, sizeof(big_b64), "{\"ek_public\":\"");
    memset(big_b64 + n, 'A', ATTEST_BLOB_MAX / 3 * 4 + 4);
    snprintf(big_b64 + n + ATTEST_BLOB_MAX / 3 * 4 + 4,
             sizeof(big_b64) - (size_t)n - ATTEST_BLOB_MAX / 3 * 4 - 4, "\"}");
    const struct {
        const char *name;
        const char *json;
        const char *type;
    } bad[] = {
        { "not_json", "{", "invalid-json" },
        { "array", "[]", "invalid-json" },
        { "duplicate_key", "{\"ek_public\":\"AA==\",\"ek_public\":\"AA==\"}", "invalid-json" },
        { "no_ek_public", "{\"note\":\"x\"}", "invalid-field" },
        { "ek_public_null", "{\"ek_public\":null}", "invalid-field" },
        { "ek_public_empty", "{\"ek_public\":\"\"}", "invalid-field" },
        { "ek_public_not_base64", "{\"ek_public\":\"!!!!\"}", "invalid-field" },
        { "ek_public_unpadded", "{\"ek_public\":\"AA\"}", "invalid-field" },
        { "ek_public_number", "{\"ek_public\":7}", "invalid-field" },
        { "ek_public_pem",
          "{\"ek_public\":\"-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----\\n\"}",
          "invalid-field" },
        { "ek_public_too_large", big_b64, "invalid-field" },
        { "note_number", "{\"ek_public\":\"AA==\",\"note\":1}", "invalid-field" },
        { "note_empty", "{\"ek_public\":\"AA==\",\"note\":\"\"}", "invalid-field" },
        { "note_control", "{\"ek_public\":\"AA==\",\"note\":\"a\\nb\"}", "invalid-field" },
        { "note_too_long", long_note, "invalid-field" },
        { "note_nul", "{\"ek_public\":\"AA==\",\"note\":\"a\\u0000b\"}", "invalid-json" },
        { "facts_not_object", "{\"ek_public\":\"AA==\",\"facts\":[1]}", "invalid-field" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        type = NULL;
        ztca_rc rc =
            api_decode_device_allow((const uint8_t *)bad[i].json, strlen(bad[i].json), &req, &type);
        if (rc.err != ZTCA_ERR_BAD_INPUT || type == NULL || strcmp(type, bad[i].type) != 0) {
            fprintf(stderr, "case %s: %d %s\n", bad[i].name, rc.err, type != NULL ? type : "-");
            CU_FAIL("allow decoder accepted or mislabelled a bad body");
            if (ZTCA_IS_OK(rc)) {
                api_device_allow_req_free(&req);
            }
        }
    }
    /* The PEM refusal says what to send instead. */
    const char *pem = bad[9].json;
    UNIT_ASSERT_ERR(api_decode_device_allow((const uint8_t *)pem, strlen(pem), &req, &type),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ztca_last_what(), "tpm2_readpublic -f tss"));
}

static void
test_ek_allow(void)
{
    test_ctx c;
    test_ctx_open(&c);
    uint8_t tok[32];
    test_token(&c, "alice", "agent", 600, tok);
    enroll_begin_req req;
    enroll_challenge ch;
    enroll_outcome why;
    attest_reason ar = ATTEST_OK;
    char id[CA_NAME_MAX + 1], again[CA_NAME_MAX + 1];

    /* The P-384 EK without its certificate: refused until an operator registers it. */
    test_begin_req(&req, NULL, "ek_p384.pub");
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_EK_NOT_REGISTERED);

    enroll_ek_allow_req in = { .ek_public = req.ek_public.p,
                               .ek_public_len = req.ek_public.len,
                               .note = "rack 7",
                               .facts = "{\"asset\":\"A-1\"}",
                               .actor = "admin:ops" };
    UNIT_ASSERT_OK(enroll_ek_allow(&c.env, &in, id, sizeof(id), &ar));
    CU_ASSERT_EQUAL(ar, ATTEST_OK);
    /* The id enrollment derives from the same EK. */
    uint8_t digest[STORE_HASH_LEN];
    char want[CA_NAME_MAX + 1];
    UNIT_ASSERT_OK(
        enroll_ek_identity(digest, want, sizeof(want), req.ek_public.p, req.ek_public.len));
    CU_ASSERT_STRING_EQUAL(id, want);
    store_device dev;
    store_device_init(&dev);
    UNIT_ASSERT_OK(store_device_get(c.st, id, &dev));
    CU_ASSERT_TRUE(dev.has_ek);
    CU_ASSERT_EQUAL(memcmp(dev.ek_pub_hash, digest, STORE_HASH_LEN), 0);
    CU_ASSERT_PTR_NULL(dev.ek_cert);
    json_error_t jerr;
    json_t *f = json_loads(dev.facts, 0, &jerr);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "ek")), "registered");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "ek_registered_by")), "admin:ops");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "note")), "rack 7");
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(f, "operator"), "asset")), "A-1");
    CU_ASSERT_TRUE(json_is_string(json_object_get(f, "ek_spki")));
    json_decref(f);
    CU_ASSERT_TRUE(enroll_facts_ek_registered(dev.facts));
    store_device_free(&dev);

    /* The same EK again: CONFLICT. An AK, the TLS key, garbage: not EK public areas. */
    UNIT_ASSERT_ERR(enroll_ek_allow(&c.env, &in, again, sizeof(again), &ar), ZTCA_ERR_CONFLICT);
    size_t n = 0;
    uint8_t *ak = test_data("ak_e256.pub", &n);
    enroll_ek_allow_req bad = { .ek_public = ak, .ek_public_len = n, .actor = "admin:ops" };
    ztca_rc rc = enroll_ek_allow(&c.env, &bad, again, sizeof(again), &ar);
    CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(ar, ATTEST_R_EK_ATTRIBUTES);
    /* Every truncation of a real EK public, and a trailing byte, from exact-size copies. */
    for (size_t k = 0; k <= req.ek_public.len; k++) {
        uint8_t *p = unit_dup(req.ek_public.p, k);
        if (k == req.ek_public.len) {
            free(p);
            p = malloc(k + 1);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p);
            memcpy(p, req.ek_public.p, k);
            p[k] = 0;
        }
        enroll_ek_allow_req t = { .ek_public = p,
                                  .ek_public_len = k == req.ek_public.len ? k + 1 : k,
                                  .actor = "admin:ops" };
        ar = ATTEST_OK;
        UNIT_ASSERT_ERR(enroll_ek_allow(&c.env, &t, again, sizeof(again), &ar), ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_NOT_EQUAL(ar, ATTEST_OK);
        free(p);
    }
    free(ak);

    /* Now the EK enrolls without a certificate: a challenge for the registered device. */
    UNIT_ASSERT_OK(enroll_tpm_begin(&c.env, tok, &req, &ch, &why));
    CU_ASSERT_STRING_EQUAL(ch.device_id, id);
    /* MakeCredential for the P-384 EK (H-3, SHA-384): the ephemeral point (TPMS_ECC_POINT, two
     * 48-byte coordinates) and an ID object with a SHA-384 HMAC: 2+2+48+(2+32). */
    CU_ASSERT_EQUAL(ch.cred.encrypted_secret_len, 2 + 2 * (2 + 48));
    CU_ASSERT_EQUAL(ch.cred.id_object_len, 2 + 2 + 48 + 2 + 32);
    store_session ses;
    store_session_init(&ses);
    UNIT_ASSERT_OK(store_session_consume(c.st, ch.session, ztca_now(), &ses));
    enroll_session_data d;
    UNIT_ASSERT_OK(enroll_session_data_decode(&d, ses.data, ses.data_len));
    CU_ASSERT_EQUAL(d.ek_origin, ATTEST_EK_REGISTERED);
    CU_ASSERT_PTR_NULL(d.ek_cert.p);
    enroll_session_data_free(&d);
    store_session_free(&ses);

    /* The registered key is what counts: facts whose key is another EK's refuse it. */
    size_t rsa_len = 0;
    uint8_t *rsa = test_data("ek_rsa.pub", &rsa_len);
    attest_key rk;
    UNIT_ASSERT_OK(attest_ek_public_parse(&rk, NULL, rsa, rsa_len));
    char *spki = NULL;
    size_t spki_len = 0;
    UNIT_ASSERT_OK(ztca_base64_encode(&spki, &spki_len, rk.spki, rk.spki_len));
    char facts[1024];
    snprintf(facts, sizeof(facts), "{\"ek\":\"registered\",\"ek_spki\":\"%s\"}", spki);
    ztca_free(spki);
    store_audit_event ev = { .actor = "test", .action = "device.attest", .subject = id };
    UNIT_ASSERT_OK(store_device_update_evidence(c.st, id, NULL, 0, facts, ztca_now(), &ev));
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_EVIDENCE);
    CU_ASSERT_EQUAL(why.attest, ATTEST_R_EK_NOT_REGISTERED);

    /* A revoked registration refuses the device. */
    ev.action = "device.revoke";
    UNIT_ASSERT_OK(store_device_set_status(c.st, id, STORE_DISABLED, STORE_REASON_KEY_COMPROMISE, 0,
                                           &ev, NULL));
    UNIT_ASSERT_ERR(enroll_tpm_begin(&c.env, tok, &req, &ch, &why), ZTCA_ERR_DENIED);
    CU_ASSERT_EQUAL(why.refusal, ENROLL_REFUSED_DEVICE_REVOKED);
    enroll_begin_req_free(&req);

    /* A device enrolled before with a verified certificate (kept in its record) may come back
     * without it: its certificate's key vouches for the EK, at the certified level. */
    test_begin_req(&req, NULL, "ek_rsa.pub");
    store_device_init(&dev);
    dev.has_ek = true;
    UNIT_ASSERT_OK(enroll_ek_identity(dev.ek_pub_hash, dev.id, sizeof(dev.id), req.ek_public.p,
                                      req.ek_public.len));
    dev.ek_cert = test_data("ek_rsa.der", &dev.ek_cert_len);
    ev.action = "device.register";
    ev.subject = dev.id;
    UNIT_ASSERT_OK(store_device_insert(c.st, &dev, &ev));
    free(dev.ek_cert);
    UNIT_ASSERT_OK(enroll_tpm_begin(&c.env, tok, &req, &ch, &why));
    UNIT_ASSERT_OK(store_session_consume(c.st, ch.session, ztca_now(), &ses));
    UNIT_ASSERT_OK(enroll_session_data_decode(&d, ses.data, ses.data_len));
    CU_ASSERT_EQUAL(d.ek_origin, ATTEST_EK_CERTIFIED);
    enroll_session_data_free(&d);
    store_session_free(&ses);
    enroll_begin_req_free(&req);
    free(rsa);
    test_ctx_close(&c);
}

static void
test_refusal_names(void)
{
    CU_ASSERT_STRING_EQUAL(enroll_refusal_name(ENROLL_REFUSED_SESSION_TOKEN),
                           "session_token_mismatch");
    CU_ASSERT_STRING_EQUAL(enroll_refusal_name(ENROLL_REFUSED_EVIDENCE), "attestation_failed");
    CU_ASSERT_STRING_EQUAL(enroll_refusal_name(ENROLL_REFUSED_COUNT_), "unknown");
    for (int i = 0; i < ENROLL_REFUSED_COUNT_; i++) {
        CU_ASSERT_STRING_NOT_EQUAL(enroll_refusal_name((enroll_refusal)i), "unknown");
    }
}

int
main(void)
{
    static const unit_test tests[] = {
        { "config", test_config },
        { "session_data", test_session_data },
        { "facts", test_facts },
        { "decode_begin", test_decode_begin },
        { "decode_finish", test_decode_finish },
        { "enroll_begin", test_enroll_begin },
        { "enroll_finish", test_enroll_finish },
        { "renew", test_renew },
        { "decode_allow", test_decode_allow },
        { "ek_allow", test_ek_allow },
        { "refusal_names", test_refusal_names },
        { NULL, NULL },
    };
    return unit_run("enroll_session", tests);
}
