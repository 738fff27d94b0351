/* Target: ca_ocsp_resp_build (ca/ca_ocsp_resp.c) as a round-trip encoder fuzzer.
 * Why: its inputs come from the store (statuses, reasons, times, scores) and from requests
 * (CertIDs, nonces); what it signs must be exactly what it emits, strict DER, field for field
 * what it was asked, and it must refuse exactly the inconsistent inputs.
 *
 * Input: byte 0 flags (bit 0: the delegated signer's certificate in certs; bit 1: sign with the
 * issuing CA instead), byte 1 nonce length n, bytes 2-5 producedAt offset, n nonce octets, then
 * 16-octet entries (at most 40): [0] status, [1] reason, [2] score (0xff: none), [3] CertID kind
 * (SHA-1, SHA-256, SHA-512, an extra element inside: refused), [4] serial length, [5] first
 * serial octet, [6-9] thisUpdate offset, [10-12] nextUpdate - thisUpdate in seconds, [13-15]
 * revocationTime offset. Offsets count 128 s (revocation: 100000 s) from 2026-11-18, so times
 * run from before year 1 to after 9999. A fixed PKI (ca_pki_create, once) signs. abort() when the
 * build result differs from an independent prediction of validity, or when a response does not
 * parse back strictly with every field as asked and a signature that ca_verify accepts over
 * ResponseData. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>

#include "ca/ca.h"
#include "core/der.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_T0        ((ztca_time)1795000000)
#define FUZZ_MAX_ENTRY 40
#define FUZZ_HDR       6
#define FUZZ_ENTRY     16
#define FUZZ_BASIC_OID "\x2b\x06\x01\x05\x05\x07\x30\x01\x01"
#define FUZZ_NONCE_OID "\x2b\x06\x01\x05\x05\x07\x30\x01\x02"

static struct {
    ca_rng *rng;
    ca_signer *ocsp;
    ca_signer *ca;
    uint8_t *ocsp_cert;
    size_t ocsp_cert_len;
} fz;

static void
fuzz_cleanup(void)
{
    ca_signer_free(fz.ocsp);
    ca_signer_free(fz.ca);
    free(fz.ocsp_cert);
    ca_rng_free(fz.rng);
}

static ca_signer *
fuzz_signer(const char *pem, size_t len)
{
    ca_key *key = NULL;
    ca_signer *s = NULL;
    if (!ZTCA_IS_OK(ca_key_parse(&key, (const uint8_t *)pem, len, NULL, 0))
        || !ZTCA_IS_OK(ca_signer_new(&s, key, fz.rng))) {
        abort();
    }
    return s;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ca_config cfg;
    ca_pki pki;
    (void)argc;
    (void)argv;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(cfg.trust_domain, "example.org", sizeof("example.org"));
    memcpy(cfg.public_url, "http://ca.example.org:8080", sizeof("http://ca.example.org:8080"));
    memcpy(cfg.api_url, "https://ca.example.org:8443", sizeof("https://ca.example.org:8443"));
    cfg.key_type = CA_KEY_P256;
    ca_pki_init(&pki);
    ca_pki_params params = { .cfg = &cfg, .admin_user = "admin", .now = FUZZ_T0 };
    if (!ZTCA_IS_OK(ca_rng_new(&fz.rng))
        || !ZTCA_IS_OK(ca_pki_create(&pki, fz.rng, &params, NULL, 0))
        || !ZTCA_IS_OK(ztca_pem_decode_one(&fz.ocsp_cert, &fz.ocsp_cert_len, "CERTIFICATE",
                                           (const uint8_t *)pki.ocsp_cert_pem,
                                           strlen(pki.ocsp_cert_pem)))) {
        abort();
    }
    fz.ocsp = fuzz_signer(pki.ocsp_key_pem, pki.ocsp_key_len);
    fz.ca = fuzz_signer(pki.intermediate_key_pem, pki.intermediate_key_len);
    ca_pki_free(&pki);
    atexit(fuzz_cleanup);
    return 0;
}

static int32_t
fuzz_i32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int32_t
fuzz_i24(const uint8_t *p)
{
    int32_t v = (int32_t)((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]);
    return v >= 0x800000 ? v - 0x1000000 : v;
}

static bool
fuzz_time_ok(ztca_time t)
{
    return t >= ZTCA_TIME_MIN && t <= ZTCA_TIME_MAX;
}

/* One CertID of `kind` (3: an element too many inside, which the encoder must refuse). */
static size_t
fuzz_certid(uint8_t *out, size_t out_size, uint8_t kind, const uint8_t *serial, size_t serial_len)
{
    static const uint8_t hash[64] = { 0x5a };
    der_buf b;
    uint8_t *der = NULL;
    size_t len = 0, hlen = kind % 4 == 1 ? 32 : kind % 4 == 2 ? 64 : 20;
    der_buf_init(&b, out_size);
    bool ok = ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE)) && ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE));
    if (kind % 4 == 1) {
        ok = ok && ZTCA_IS_OK(DER_ADD_OID(&b, MBEDTLS_OID_DIGEST_ALG_SHA256));
    } else if (kind % 4 == 2) {
        ok = ok && ZTCA_IS_OK(DER_ADD_OID(&b, MBEDTLS_OID_DIGEST_ALG_SHA512));
    } else {
        ok = ok && ZTCA_IS_OK(DER_ADD_OID(&b, MBEDTLS_OID_DIGEST_ALG_SHA1));
    }
    ok = ok && ZTCA_IS_OK(der_add_null(&b)) && ZTCA_IS_OK(der_end(&b))
         && ZTCA_IS_OK(der_add_tlv(&b, DER_OCTETSTRING, hash, hlen))
         && ZTCA_IS_OK(der_add_tlv(&b, DER_OCTETSTRING, hash, hlen))
         && ZTCA_IS_OK(der_add_tlv(&b, DER_INTEGER, serial, serial_len));
    if (kind % 4 == 3) {
        ok = ok && ZTCA_IS_OK(der_add_null(&b));
    }
    ok = ok && ZTCA_IS_OK(der_end(&b)) && ZTCA_IS_OK(der_buf_take(&b, &der, &len));
    if (!ok || len > out_size) {
        abort();
    }
    memcpy(out, der, len);
    free(der);
    der_buf_free(&b);
    return len;
}

/* What the decoder accepts as a serial (RFC 5280 4.1.2.2, DER): the encoder echoes only that. */
static bool
fuzz_serial_ok(const uint8_t *s, size_t n)
{
    return n >= 1 && n <= 20 && (s[0] & 0x80) == 0 && !(n == 1 && s[0] == 0)
           && !(n > 1 && s[0] == 0 && (s[1] & 0x80) == 0);
}

static void
fuzz_expect_gt(der_cur *c, ztca_time want)
{
    ztca_time t = 0;
    if (!der_peek_tag(c, DER_GENERALIZEDTIME) || !ZTCA_IS_OK(der_get_time(c, &t)) || t != want) {
        abort(); /* RFC 6960: GeneralizedTime everywhere, and the time asked for */
    }
}

static void
fuzz_get(der_cur *c, der_cur *out, uint8_t tag)
{
    if (!ZTCA_IS_OK(der_get(c, out, tag))) {
        abort();
    }
}

static void
fuzz_end(const der_cur *c)
{
    if (c->len != 0) {
        abort();
    }
}

/* [tag] EXPLICIT Extensions holding one non-critical extension `oid`; returns extnValue. */
static der_cur
fuzz_one_ext(der_cur *c, uint8_t tag, const char *oid, size_t oid_len)
{
    der_cur w, exts, ext, id, v;
    fuzz_get(c, &w, tag);
    fuzz_get(&w, &exts, DER_SEQUENCE);
    fuzz_end(&w);
    fuzz_get(&exts, &ext, DER_SEQUENCE);
    fuzz_end(&exts);
    if (!ZTCA_IS_OK(der_get_oid(&ext, &id)) || !der_oid_equal(&id, oid, oid_len)) {
        abort();
    }
    fuzz_get(&ext, &v, DER_OCTETSTRING);
    fuzz_end(&ext);
    return v;
}

static void
fuzz_check(const uint8_t *der, size_t len, const ca_ocsp_resp_params *p, ca_signer *signer)
{
    der_cur c = der_cur_make(der, len), resp, wrap, bytes, oid, os, basic, tbs_elem, tbs, rid_w,
            rid, list, alg, sig;
    uint32_t status = 9;
    uint8_t unused = 0, key_id[20], hash[CA_HASH_MAX];
    size_t spki_len = 0, alg_len = 0;
    const uint8_t *spki = ca_signer_spki(signer, &spki_len);
    const uint8_t *sig_alg = ca_signer_sig_alg(signer, &alg_len);
    fuzz_get(&c, &resp, DER_SEQUENCE);
    fuzz_end(&c);
    if (!ZTCA_IS_OK(der_get_enumerated(&resp, &status)) || status != 0) {
        abort();
    }
    fuzz_get(&resp, &wrap, DER_CONTEXT_C(0));
    fuzz_end(&resp);
    fuzz_get(&wrap, &bytes, DER_SEQUENCE);
    fuzz_end(&wrap);
    if (!ZTCA_IS_OK(der_get_oid(&bytes, &oid))
        || !der_oid_equal(&oid, FUZZ_BASIC_OID, sizeof(FUZZ_BASIC_OID) - 1)) {
        abort();
    }
    fuzz_get(&bytes, &os, DER_OCTETSTRING);
    fuzz_end(&bytes);
    fuzz_get(&os, &basic, DER_SEQUENCE);
    fuzz_end(&os);
    if (!ZTCA_IS_OK(der_get_element(&basic, &tbs_elem, DER_SEQUENCE))) {
        abort();
    }
    der_cur t = tbs_elem;
    fuzz_get(&t, &tbs, DER_SEQUENCE);
    /* responderID byKey: SHA-1 of the signer's subjectPublicKey (RFC 6960 4.2.1) */
    {
        der_cur s = der_cur_make(spki, spki_len), seq, a, bits;
        fuzz_get(&s, &seq, DER_SEQUENCE);
        fuzz_get(&seq, &a, DER_SEQUENCE);
        if (!ZTCA_IS_OK(der_get_bitstring(&seq, &bits, &unused))
            || !ZTCA_IS_OK(ca_hash(CA_MD_SHA1, bits.p, bits.len, key_id, sizeof(key_id)))) {
            abort();
        }
    }
    fuzz_get(&tbs, &rid_w, DER_CONTEXT_C(2));
    fuzz_get(&rid_w, &rid, DER_OCTETSTRING);
    fuzz_end(&rid_w);
    if (rid.len != 20 || memcmp(rid.p, key_id, 20) != 0) {
        abort();
    }
    fuzz_expect_gt(&tbs, p->produced_at);
    fuzz_get(&tbs, &list, DER_SEQUENCE);
    for (size_t i = 0; i < p->num_entries; i++) {
        const ca_ocsp_entry *e = &p->entries[i];
        der_cur single, certid, st, nu;
        fuzz_get(&list, &single, DER_SEQUENCE);
        if (!ZTCA_IS_OK(der_get_element(&single, &certid, DER_SEQUENCE))
            || certid.len != e->certid.len || memcmp(certid.p, e->certid.p, certid.len) != 0) {
            abort(); /* the CertID is echoed byte for byte */
        }
        if (e->status == CA_OCSP_REVOKED) {
            fuzz_get(&single, &st, DER_CONTEXT_C(1));
            fuzz_expect_gt(&st, e->revocation_time);
            if (e->reason != CA_REASON_UNSPECIFIED) {
                der_cur rw;
                uint32_t reason = 99;
                fuzz_get(&st, &rw, DER_CONTEXT_C(0));
                if (!ZTCA_IS_OK(der_get_enumerated(&rw, &reason))
                    || reason != (uint32_t)e->reason) {
                    abort();
                }
                fuzz_end(&rw);
            }
            fuzz_end(&st);
        } else {
            fuzz_get(&single, &st, e->status == CA_OCSP_GOOD ? DER_CONTEXT(0) : DER_CONTEXT(2));
            fuzz_end(&st);
        }
        fuzz_expect_gt(&single, e->this_update);
        fuzz_get(&single, &nu, DER_CONTEXT_C(0));
        fuzz_expect_gt(&nu, e->next_update);
        fuzz_end(&nu);
        if (e->trust_score != CA_TRUST_SCORE_NONE) {
            der_cur v = fuzz_one_ext(&single, DER_CONTEXT_C(1), CA_OID_ZTCA_TRUST_SCORE,
                                     sizeof(CA_OID_ZTCA_TRUST_SCORE) - 1);
            uint64_t score = 999;
            if (!ZTCA_IS_OK(der_get_uint64(&v, &score)) || score != (uint64_t)e->trust_score) {
                abort();
            }
            fuzz_end(&v);
        }
        fuzz_end(&single);
    }
    fuzz_end(&list);
    if (p->nonce_len > 0) {
        der_cur v = fuzz_one_ext(&tbs, DER_CONTEXT_C(1), FUZZ_NONCE_OID,
                                 sizeof(FUZZ_NONCE_OID) - 1),
                n;
        fuzz_get(&v, &n, DER_OCTETSTRING);
        fuzz_end(&v);
        if (n.len != p->nonce_len || memcmp(n.p, p->nonce, n.len) != 0) {
            abort();
        }
    }
    fuzz_end(&tbs);
    if (!ZTCA_IS_OK(der_get_element(&basic, &alg, DER_SEQUENCE)) || alg.len != alg_len
        || memcmp(alg.p, sig_alg, alg_len) != 0) {
        abort();
    }
    if (!ZTCA_IS_OK(der_get_bitstring(&basic, &sig, &unused)) || unused != 0) {
        abort();
    }
    ca_md md = ca_signer_md(signer);
    if (!ZTCA_IS_OK(ca_hash(md, tbs_elem.p, tbs_elem.len, hash, sizeof(hash)))
        || !ZTCA_IS_OK(
            ca_verify(spki, spki_len, CA_SIG_ECDSA, md, hash, ca_md_size(md), sig.p, sig.len))) {
        abort(); /* the signature does not cover the ResponseData emitted */
    }
    if (p->signer_cert != NULL) {
        der_cur cw, certs, cert;
        fuzz_get(&basic, &cw, DER_CONTEXT_C(0));
        fuzz_get(&cw, &certs, DER_SEQUENCE);
        fuzz_end(&cw);
        if (!ZTCA_IS_OK(der_get_element(&certs, &cert, DER_SEQUENCE))
            || cert.len != p->signer_cert_len || memcmp(cert.p, p->signer_cert, cert.len) != 0) {
            abort();
        }
        fuzz_end(&certs);
    }
    fuzz_end(&basic);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t certids[FUZZ_MAX_ENTRY][256];
    ca_ocsp_entry entries[FUZZ_MAX_ENTRY];
    if (size < FUZZ_HDR) {
        return 0;
    }
    uint8_t flags = data[0];
    size_t nonce_len = data[1];
    ztca_time produced = FUZZ_T0 + (ztca_time)fuzz_i32(data + 2) * 128;
    if (nonce_len > size - FUZZ_HDR) {
        nonce_len = size - FUZZ_HDR;
    }
    const uint8_t *nonce = data + FUZZ_HDR;
    const uint8_t *ents = nonce + nonce_len;
    size_t num = (size - FUZZ_HDR - nonce_len) / FUZZ_ENTRY;
    if (num > FUZZ_MAX_ENTRY) {
        num = FUZZ_MAX_ENTRY;
    }
    bool valid = num >= 1 && num <= CA_OCSP_MAX_REQS && nonce_len <= CA_OCSP_NONCE_MAX
                 && fuzz_time_ok(produced);
    for (size_t i = 0; i < num; i++) {
        const uint8_t *q = ents + i * FUZZ_ENTRY;
        uint8_t serial[24];
        size_t serial_len = q[4] % 23;
        for (size_t k = 0; k < serial_len; k++) {
            serial[k] = (uint8_t)(k == 0 ? q[5] : q[(k % 10) + 6] ^ (uint8_t)k);
        }
        ca_ocsp_entry *e = &entries[i];
        memset(e, 0, sizeof(*e));
        e->certid = der_cur_make(
            certids[i], fuzz_certid(certids[i], sizeof(certids[i]), q[3], serial, serial_len));
        e->status = (ca_ocsp_cert_status)(q[0] % 4);
        e->reason = (ca_crl_reason)(q[1] % 12);
        e->trust_score = q[2] == 0xff ? CA_TRUST_SCORE_NONE : (int)(q[2] % 128);
        e->this_update = FUZZ_T0 + (ztca_time)fuzz_i32(q + 6) * 128;
        e->next_update = e->this_update + (ztca_time)fuzz_i24(q + 10);
        e->revocation_time = FUZZ_T0 + (ztca_time)fuzz_i24(q + 13) * 100000;
        bool reason_ok =
            e->reason <= 10 && e->reason != 7 && e->reason != CA_REASON_REMOVE_FROM_CRL;
        valid = valid && q[3] % 4 != 3 && fuzz_serial_ok(serial, serial_len) && q[0] % 4 != 3
                && (e->status != CA_OCSP_REVOKED || (reason_ok && fuzz_time_ok(e->revocation_time)))
                && e->next_update > e->this_update && fuzz_time_ok(e->this_update)
                && fuzz_time_ok(e->next_update) && (q[2] == 0xff || q[2] % 128 <= 100);
    }
    ca_signer *signer = (flags & 2) != 0 ? fz.ca : fz.ocsp;
    ca_ocsp_resp_params p = {
        /* The delegated signer's certificate with the CA's key is refused: not the signer's. */
        .signer_cert = (flags & 1) != 0 ? fz.ocsp_cert : NULL,
        .signer_cert_len = (flags & 1) != 0 ? fz.ocsp_cert_len : 0,
        .produced_at = produced,
        .entries = entries,
        .num_entries = num,
        .nonce = nonce_len > 0 ? nonce : NULL,
        .nonce_len = nonce_len,
    };
    valid = valid && !((flags & 1) != 0 && (flags & 2) != 0);
    uint8_t *out = NULL;
    size_t out_len = 0;
    ztca_rc rc = ca_ocsp_resp_build(&out, &out_len, signer, &p);
    if (ZTCA_IS_OK(rc) != valid) {
        abort(); /* accepted something inconsistent, or refused something consistent */
    }
    if (!ZTCA_IS_OK(rc)) {
        if (rc.err != ZTCA_ERR_BAD_INPUT || out != NULL) {
            abort();
        }
        return 0;
    }
    fuzz_check(out, out_len, &p, signer);
    free(out);
    return 0;
}
