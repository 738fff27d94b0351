/* test_ca_remote.c: the CUnit suite of ca/ca_remote.c (the signer protocol of privilege
 * separation) and of the remote signer kind: round trips of every operation, a table of named
 * negative requests and answers built one defect at a time, every prefix from exact-size heap
 * copies, and a remote signer driven through the codec in memory whose signatures ca_verify
 * accepts and whose broken answers are refused. */
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "core/der.h"
#include "tests/unit/unit.h"

static uint8_t test_hash32[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

/* A DER Ecdsa-Sig-Value with r = s = 1. */
static const uint8_t test_sig[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01 };

static size_t
test_msg(uint8_t *out, uint8_t op, uint8_t slot, uint8_t arg, const uint8_t *body, size_t len)
{
    size_t n = 0;
    UNIT_ASSERT_OK(ca_remote_encode(out, CA_REMOTE_MSG_MAX, &n, op, slot, arg, body, len));
    return n;
}

static void
test_req_roundtrip(void)
{
    static uint8_t buf[CA_REMOTE_MSG_MAX];
    ca_remote_msg m;
    size_t n = test_msg(buf, CA_REMOTE_SIGN, 7, CA_MD_SHA256, test_hash32, 32);
    CU_ASSERT_EQUAL(n, CA_REMOTE_HDR_LEN + 32);
    CU_ASSERT_EQUAL(buf[0], CA_REMOTE_VERSION);
    CU_ASSERT_EQUAL(buf[4], 0);
    CU_ASSERT_EQUAL(buf[5], 32);
    uint8_t *copy = unit_dup(buf, n);
    UNIT_ASSERT_OK(ca_remote_req_parse(&m, copy, n));
    CU_ASSERT_EQUAL(m.op, CA_REMOTE_SIGN);
    CU_ASSERT_EQUAL(m.slot, 7);
    CU_ASSERT_EQUAL(m.arg, CA_MD_SHA256);
    CU_ASSERT_EQUAL(m.body.len, 32);
    CU_ASSERT_PTR_EQUAL(m.body.p, copy + CA_REMOTE_HDR_LEN);
    CU_ASSERT_EQUAL(memcmp(m.body.p, test_hash32, 32), 0);
    free(copy);

    uint8_t h48[48] = { 0 };
    n = test_msg(buf, CA_REMOTE_SIGN, 0, CA_MD_SHA384, h48, 48);
    UNIT_ASSERT_OK(ca_remote_req_parse(&m, buf, n));
    CU_ASSERT_EQUAL(m.body.len, 48);
    n = test_msg(buf, CA_REMOTE_INFO, 127, 0, NULL, 0);
    UNIT_ASSERT_OK(ca_remote_req_parse(&m, buf, n));
    CU_ASSERT_EQUAL(m.op, CA_REMOTE_INFO);
    CU_ASSERT_EQUAL(m.slot, 127);
    n = test_msg(buf, CA_REMOTE_OCSP_NEW, 0, CA_KEY_P384, NULL, 0);
    UNIT_ASSERT_OK(ca_remote_req_parse(&m, buf, n));
    CU_ASSERT_EQUAL(m.arg, CA_KEY_P384);
    n = test_msg(buf, CA_REMOTE_OCSP_LOAD, 0, 0, NULL, 0);
    UNIT_ASSERT_OK(ca_remote_req_parse(&m, buf, n));
    CU_ASSERT_EQUAL(m.op, CA_REMOTE_OCSP_LOAD);
    /* The largest body there is: a 256-octet length needs the high length octet. */
    static uint8_t big[CA_REMOTE_BODY_MAX];
    memset(big, 0x5a, sizeof(big));
    n = test_msg(buf, CA_REMOTE_OCSP_COMMIT, 3, 0, big, sizeof(big));
    CU_ASSERT_EQUAL(n, CA_REMOTE_MSG_MAX);
    CU_ASSERT_EQUAL(buf[4], (uint8_t)(CA_REMOTE_BODY_MAX >> 8));
    UNIT_ASSERT_OK(ca_remote_req_parse(&m, buf, n));
    CU_ASSERT_EQUAL(m.body.len, CA_REMOTE_BODY_MAX);
    CU_ASSERT_EQUAL(m.slot, 3);
}

static void
test_encode_refusals(void)
{
    static uint8_t buf[CA_REMOTE_MSG_MAX + 1];
    static uint8_t big[CA_REMOTE_BODY_MAX + 1];
    size_t n = 99;
    UNIT_ASSERT_ERR(
        ca_remote_encode(buf, sizeof(buf), &n, CA_REMOTE_OCSP_COMMIT, 1, 0, big, sizeof(big)),
        ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(ca_remote_encode(buf, CA_REMOTE_HDR_LEN + 31, &n, CA_REMOTE_SIGN, 0,
                                     CA_MD_SHA256, test_hash32, 32),
                    ZTCA_ERR_INTERNAL);
    CU_ASSERT_EQUAL(n, 99); /* nothing written on failure */
}

typedef struct test_case {
    const char *name;
    uint8_t hdr[CA_REMOTE_HDR_LEN];
    size_t body_len; /* bytes of 0x11 after the header */
} test_case;

/* One defect each; every other field is valid. */
static const test_case test_bad_reqs[] = {
    { "wrong_version", { 2, CA_REMOTE_INFO, 0, 0, 0, 0 }, 0 },
    { "version_zero", { 0, CA_REMOTE_INFO, 0, 0, 0, 0 }, 0 },
    { "op_zero", { 1, 0, 0, 0, 0, 0 }, 0 },
    { "op_unknown", { 1, 6, 0, 0, 0, 0 }, 0 },
    { "op_high", { 1, 0x81, 0, 0, 0, 0 }, 0 },
    { "slot_out_of_range", { 1, CA_REMOTE_INFO, CA_REMOTE_SLOTS, 0, 0, 0 }, 0 },
    { "slot_255", { 1, CA_REMOTE_SIGN, 255, CA_MD_SHA256, 0, 32 }, 32 },
    { "sign_sha1", { 1, CA_REMOTE_SIGN, 0, CA_MD_SHA1, 0, 20 }, 20 },
    { "sign_md_unknown", { 1, CA_REMOTE_SIGN, 0, 9, 0, 32 }, 32 },
    { "sign_hash_short", { 1, CA_REMOTE_SIGN, 0, CA_MD_SHA256, 0, 31 }, 31 },
    { "sign_hash_long", { 1, CA_REMOTE_SIGN, 0, CA_MD_SHA256, 0, 33 }, 33 },
    { "sign_no_hash", { 1, CA_REMOTE_SIGN, 0, CA_MD_SHA256, 0, 0 }, 0 },
    { "length_says_more", { 1, CA_REMOTE_SIGN, 0, CA_MD_SHA256, 0, 32 }, 31 },
    { "trailing_data", { 1, CA_REMOTE_SIGN, 0, CA_MD_SHA256, 0, 32 }, 33 },
    { "length_high_octet", { 1, CA_REMOTE_SIGN, 0, CA_MD_SHA256, 1, 32 }, 32 },
    { "info_with_arg", { 1, CA_REMOTE_INFO, 0, 1, 0, 0 }, 0 },
    { "info_with_body", { 1, CA_REMOTE_INFO, 0, 0, 0, 1 }, 1 },
    { "new_with_slot", { 1, CA_REMOTE_OCSP_NEW, 1, CA_KEY_P256, 0, 0 }, 0 },
    { "new_bad_key_type", { 1, CA_REMOTE_OCSP_NEW, 0, 2, 0, 0 }, 0 },
    { "new_with_body", { 1, CA_REMOTE_OCSP_NEW, 0, CA_KEY_P256, 0, 1 }, 1 },
    { "commit_empty", { 1, CA_REMOTE_OCSP_COMMIT, 1, 0, 0, 0 }, 0 },
    { "commit_with_arg", { 1, CA_REMOTE_OCSP_COMMIT, 1, 1, 0, 4 }, 4 },
    { "commit_too_long", { 1, CA_REMOTE_OCSP_COMMIT, 1, 0, 0x20, 0x01 }, 0x2001 },
    { "load_with_slot", { 1, CA_REMOTE_OCSP_LOAD, 1, 0, 0, 0 }, 0 },
    { "load_with_arg", { 1, CA_REMOTE_OCSP_LOAD, 0, 1, 0, 0 }, 0 },
    { "load_with_body", { 1, CA_REMOTE_OCSP_LOAD, 0, 0, 0, 1 }, 1 },
};

static void
test_req_table(void)
{
    for (size_t i = 0; i < sizeof(test_bad_reqs) / sizeof(test_bad_reqs[0]); i++) {
        const test_case *t = &test_bad_reqs[i];
        size_t len = CA_REMOTE_HDR_LEN + t->body_len;
        uint8_t *in = malloc(len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        memcpy(in, t->hdr, CA_REMOTE_HDR_LEN);
        memset(in + CA_REMOTE_HDR_LEN, 0x11, t->body_len);
        ca_remote_msg m;
        memset(&m, 0xee, sizeof(m));
        ztca_rc rc = ca_remote_req_parse(&m, in, len);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  request case %s: %s\n", t->name, ztca_err_name(rc.err));
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_EQUAL(m.slot, 0xee); /* untouched */
        free(in);
    }
}

static const test_case test_bad_resps[] = {
    { "other_op", { 1, CA_REMOTE_INFO, 0, 0, 0, 8 }, 8 },
    { "unknown_code", { 1, CA_REMOTE_SIGN, 0, ZTCA_ERR_UNAVAILABLE + 1, 0, 0 }, 0 },
    { "body_on_failure", { 1, CA_REMOTE_SIGN, 0, ZTCA_ERR_CRYPTO, 0, 8 }, 8 },
    { "sign_not_der", { 1, CA_REMOTE_SIGN, 0, 0, 0, 8 }, 8 }, /* 0x11 octets */
    { "sign_empty", { 1, CA_REMOTE_SIGN, 0, 0, 0, 0 }, 0 },
    { "slot_out_of_range", { 1, CA_REMOTE_SIGN, CA_REMOTE_SLOTS, 0, 0, 0 }, 0 },
    { "wrong_version", { 3, CA_REMOTE_SIGN, 0, ZTCA_ERR_CRYPTO, 0, 0 }, 0 },
    { "trailing_data", { 1, CA_REMOTE_SIGN, 0, ZTCA_ERR_CRYPTO, 0, 0 }, 1 },
};

static void
test_resp_table(void)
{
    for (size_t i = 0; i < sizeof(test_bad_resps) / sizeof(test_bad_resps[0]); i++) {
        const test_case *t = &test_bad_resps[i];
        size_t len = CA_REMOTE_HDR_LEN + t->body_len;
        uint8_t *in = malloc(len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(in);
        memcpy(in, t->hdr, CA_REMOTE_HDR_LEN);
        memset(in + CA_REMOTE_HDR_LEN, 0x11, t->body_len);
        ca_remote_msg m;
        ztca_rc rc = ca_remote_resp_parse(&m, CA_REMOTE_SIGN, in, len);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  answer case %s: %s\n", t->name, ztca_err_name(rc.err));
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        free(in);
    }
    /* And the good ones: a signature, a refusal with its code, a commit, a public key. */
    static uint8_t buf[CA_REMOTE_MSG_MAX];
    ca_remote_msg m;
    size_t n = test_msg(buf, CA_REMOTE_SIGN, 0, ZTCA_OK, test_sig, sizeof(test_sig));
    UNIT_ASSERT_OK(ca_remote_resp_parse(&m, CA_REMOTE_SIGN, buf, n));
    CU_ASSERT_EQUAL(m.body.len, sizeof(test_sig));
    n = test_msg(buf, CA_REMOTE_SIGN, 0, ZTCA_ERR_NOT_FOUND, NULL, 0);
    UNIT_ASSERT_OK(ca_remote_resp_parse(&m, CA_REMOTE_SIGN, buf, n));
    CU_ASSERT_EQUAL(m.arg, ZTCA_ERR_NOT_FOUND);
    n = test_msg(buf, CA_REMOTE_OCSP_COMMIT, 2, ZTCA_OK, NULL, 0);
    UNIT_ASSERT_OK(ca_remote_resp_parse(&m, CA_REMOTE_OCSP_COMMIT, buf, n));
    UNIT_ASSERT_ERR(ca_remote_resp_parse(&m, CA_REMOTE_INFO, buf, n), ZTCA_ERR_BAD_INPUT);
    n = test_msg(buf, CA_REMOTE_OCSP_COMMIT, 2, ZTCA_OK, test_sig, 1);
    UNIT_ASSERT_ERR(ca_remote_resp_parse(&m, CA_REMOTE_OCSP_COMMIT, buf, n), ZTCA_ERR_BAD_INPUT);
    n = test_msg(buf, CA_REMOTE_OCSP_NEW, 5, ZTCA_OK, NULL, 0);
    UNIT_ASSERT_ERR(ca_remote_resp_parse(&m, CA_REMOTE_OCSP_NEW, buf, n), ZTCA_ERR_BAD_INPUT);
    n = test_msg(buf, CA_REMOTE_OCSP_NEW, 5, ZTCA_OK, test_sig, sizeof(test_sig));
    UNIT_ASSERT_OK(ca_remote_resp_parse(&m, CA_REMOTE_OCSP_NEW, buf, n));
    CU_ASSERT_EQUAL(m.slot, 5);
}

/* Only the whole message parses; each truncation is refused without reading past it. */
static void
test_every_prefix(void)
{
    static uint8_t buf[CA_REMOTE_MSG_MAX];
    size_t n = test_msg(buf, CA_REMOTE_SIGN, 1, CA_MD_SHA256, test_hash32, 32);
    for (size_t len = 0; len <= n; len++) {
        uint8_t *copy = unit_dup(buf, len);
        ca_remote_msg m;
        ztca_rc rc = ca_remote_req_parse(&m, copy, len);
        CU_ASSERT_EQUAL(rc.err, len == n ? ZTCA_OK : ZTCA_ERR_BAD_INPUT);
        free(copy);
    }
    n = test_msg(buf, CA_REMOTE_SIGN, 1, ZTCA_OK, test_sig, sizeof(test_sig));
    for (size_t len = 0; len <= n; len++) {
        uint8_t *copy = unit_dup(buf, len);
        ca_remote_msg m;
        ztca_rc rc = ca_remote_resp_parse(&m, CA_REMOTE_SIGN, copy, len);
        CU_ASSERT_EQUAL(rc.err, len == n ? ZTCA_OK : ZTCA_ERR_BAD_INPUT);
        free(copy);
    }
}

/* ---- the remote signer kind, over the codec in memory ------------------------------------- */

typedef struct test_far {
    ca_signer *local; /* the "signer process" */
    int mode;         /* 0 honest, 1 garbage signature, 2 refuses */
    int calls;
} test_far;

static ztca_rc
test_far_sign(void *ctx, ca_md md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
              size_t sig_size, size_t *sig_len)
{
    test_far *f = ctx;
    uint8_t req[CA_REMOTE_MSG_MAX], resp[CA_REMOTE_MSG_MAX], s[CA_SIG_MAX];
    size_t req_len = 0, resp_len = 0, s_len = 0;
    ca_remote_msg m;
    f->calls++;
    ZTCA_GUARD(ca_remote_encode(req, sizeof(req), &req_len, CA_REMOTE_SIGN, 0, (uint8_t)md, hash,
                                hash_len));
    /* the far side */
    ZTCA_GUARD(ca_remote_req_parse(&m, req, req_len));
    ZTCA_GUARD(ca_signer_sign(f->local, (ca_md)m.arg, m.body.p, m.body.len, s, sizeof(s), &s_len));
    if (f->mode == 2) {
        ZTCA_GUARD(ca_remote_encode(resp, sizeof(resp), &resp_len, CA_REMOTE_SIGN, 0,
                                    ZTCA_ERR_CRYPTO, NULL, 0));
    } else {
        ZTCA_GUARD(
            ca_remote_encode(resp, sizeof(resp), &resp_len, CA_REMOTE_SIGN, 0, ZTCA_OK, s, s_len));
    }
    /* back here */
    ZTCA_GUARD(ca_remote_resp_parse(&m, CA_REMOTE_SIGN, resp, resp_len));
    ZTCA_ENSURE(m.arg == ZTCA_OK, ZTCA_ERR_UNAVAILABLE, "test: refused");
    ZTCA_ENSURE(m.body.len <= sig_size, ZTCA_ERR_INTERNAL, "test: size");
    memcpy(sig, m.body.p, m.body.len);
    *sig_len = m.body.len;
    if (f->mode == 1) {
        sig[2] = 0x04; /* no longer an Ecdsa-Sig-Value */
    }
    return ZTCA_RC_OK;
}

static void
test_remote_signer(void)
{
    ca_rng *rng = NULL;
    ca_key *key = NULL;
    test_far far = { NULL, 0, 0 };
    ca_signer *remote = NULL;
    UNIT_ASSERT_OK(ca_rng_new(&rng));
    for (int type = CA_KEY_P256; type <= CA_KEY_P384; type++) {
        UNIT_ASSERT_OK(ca_key_generate(&key, rng, (ca_key_type)type));
        UNIT_ASSERT_OK(ca_signer_new(&far.local, key, rng));
        size_t spki_len = 0, alg_len = 0, ralg_len = 0;
        const uint8_t *spki = ca_signer_spki(far.local, &spki_len);
        UNIT_ASSERT_OK(ca_signer_new_remote(&remote, spki, spki_len, test_far_sign, &far));
        CU_ASSERT_TRUE(ca_signer_is_remote(remote));
        CU_ASSERT_FALSE(ca_signer_is_remote(far.local));
        CU_ASSERT_EQUAL(ca_signer_md(remote), ca_signer_md(far.local));
        const uint8_t *alg = ca_signer_sig_alg(far.local, &alg_len);
        const uint8_t *ralg = ca_signer_sig_alg(remote, &ralg_len);
        CU_ASSERT_TRUE(alg_len == ralg_len && memcmp(alg, ralg, alg_len) == 0);
        size_t rspki_len = 0;
        const uint8_t *rspki = ca_signer_spki(remote, &rspki_len);
        CU_ASSERT_TRUE(rspki_len == spki_len && memcmp(rspki, spki, spki_len) == 0);

        ca_md md = ca_signer_md(remote);
        uint8_t hash[CA_HASH_MAX], sig[CA_SIG_MAX];
        size_t sig_len = 0;
        UNIT_ASSERT_OK(ca_hash(md, (const uint8_t *)"tbs", 3, hash, sizeof(hash)));
        far.mode = 0;
        UNIT_ASSERT_OK(
            ca_signer_sign(remote, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len));
        UNIT_ASSERT_OK(
            ca_verify(spki, spki_len, CA_SIG_ECDSA, md, hash, ca_md_size(md), sig, sig_len));
        /* A different hash does not verify: the signature is over what was sent. */
        hash[0] ^= 1;
        UNIT_ASSERT_ERR(
            ca_verify(spki, spki_len, CA_SIG_ECDSA, md, hash, ca_md_size(md), sig, sig_len),
            ZTCA_ERR_CRYPTO);
        far.mode = 1;
        UNIT_ASSERT_ERR(
            ca_signer_sign(remote, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len),
            ZTCA_ERR_CRYPTO);
        far.mode = 2;
        UNIT_ASSERT_ERR(
            ca_signer_sign(remote, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len),
            ZTCA_ERR_UNAVAILABLE);
        CU_ASSERT_EQUAL(far.calls, 3 * (type + 1));
        ca_signer_free(remote);
        ca_signer_free(far.local);
        key = NULL;
    }
    /* Not a key: refused before any call. */
    UNIT_ASSERT_ERR(ca_signer_new_remote(&remote, test_sig, sizeof(test_sig), test_far_sign, &far),
                    ZTCA_ERR_BAD_INPUT);
    ca_rng_free(rng);
}

int
main(void)
{
    static const unit_test tests[] = {
        { "req_roundtrip", test_req_roundtrip },
        { "encode_refusals", test_encode_refusals },
        { "req_table", test_req_table },
        { "resp_table", test_resp_table },
        { "every_prefix", test_every_prefix },
        { "remote_signer", test_remote_signer },
        { NULL, NULL },
    };
    return unit_run("ca_remote", tests);
}
