/* Target: ca_crl_build (ca/ca_crl.c) as a round-trip encoder fuzzer.
 * Why: the CRL is rebuilt from the store on every status change; whatever serials, reasons and
 * times it holds, the CRL must be strict DER that mbedTLS parses, signed over exactly the
 * TBSCertList emitted, with every entry as asked, and inconsistent input must be refused.
 *
 * Input: bytes 0-7 cRLNumber, 8-11 thisUpdate offset (units of 128 s around 2026), 12-14
 * nextUpdate - thisUpdate in seconds (signed), then 8-octet entries (at most 300): [0] serial
 * length (bits 0-6, modulo 23) and bit 7, [1] reason, [2-5] revocationDate offset, [6]
 * invalidityDate (odd: revocationDate - n hours), [7] added to a running 24-octet counter whose
 * last `length` octets are the serial (so serials mostly increase; 0 repeats one); with bit 7 the
 * serial's first octet is [7] | 1 instead (long and negative-looking serials). A fixed issuing CA
 * (ca_pki_create, once) signs. abort() when the result differs from an independent prediction of
 * validity, or when the CRL does not parse back with mbedTLS with the same number, times, serials,
 * reasons and invalidity dates, or its signature does not verify under the issuer's key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "ca/ca.h"
#include "core/der.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_T0        ((ztca_time)1795000000)
#define FUZZ_HDR       15
#define FUZZ_ENTRY     8
#define FUZZ_MAX_ENTRY 300

static struct {
    ca_rng *rng;
    ca_signer *signer;
    ca_issuer *issuer;
    mbedtls_x509_crt crt; /* the issuing CA, parsed by mbedTLS: the verifying oracle */
} fz;

static void
fuzz_cleanup(void)
{
    ca_issuer_free(fz.issuer);
    ca_signer_free(fz.signer);
    mbedtls_x509_crt_free(&fz.crt);
    ca_rng_free(fz.rng);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ca_config cfg;
    ca_pki pki;
    ca_key *key = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    (void)argc;
    (void)argv;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(cfg.trust_domain, "example.org", sizeof("example.org"));
    memcpy(cfg.public_url, "http://ca.example.org:8080", sizeof("http://ca.example.org:8080"));
    memcpy(cfg.api_url, "https://ca.example.org:8443", sizeof("https://ca.example.org:8443"));
    cfg.key_type = CA_KEY_P256;
    ca_pki_init(&pki);
    mbedtls_x509_crt_init(&fz.crt);
    ca_pki_params params = { .cfg = &cfg, .admin_user = "admin", .now = FUZZ_T0 };
    if (!ZTCA_IS_OK(ca_rng_new(&fz.rng))
        || !ZTCA_IS_OK(ca_pki_create(&pki, fz.rng, &params, NULL, 0))
        || !ZTCA_IS_OK(ca_key_parse(&key, (const uint8_t *)pki.intermediate_key_pem,
                                    pki.intermediate_key_len, NULL, 0))
        || !ZTCA_IS_OK(ca_signer_new(&fz.signer, key, fz.rng))
        || !ZTCA_IS_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE",
                                           (const uint8_t *)pki.intermediate_cert_pem,
                                           strlen(pki.intermediate_cert_pem)))
        || !ZTCA_IS_OK(ca_issuer_new(&fz.issuer, der, der_len, fz.signer))
        || mbedtls_x509_crt_parse_der(&fz.crt, der, der_len) != 0) {
        abort();
    }
    free(der);
    ca_pki_free(&pki);
    atexit(fuzz_cleanup);
    return 0;
}

static int64_t
fuzz_i32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static bool
fuzz_time_ok(ztca_time t)
{
    return t >= ZTCA_TIME_MIN && t <= ZTCA_TIME_MAX;
}

static ztca_time
fuzz_mbed_time(const mbedtls_x509_time *t)
{
    ztca_tm tm = { t->year, t->mon, t->day, t->hour, t->min, t->sec };
    ztca_time out = 0;
    if (!ZTCA_IS_OK(ztca_time_from_tm(&out, &tm))) {
        abort();
    }
    return out;
}

/* A serial's magnitude: the octets after its leading zeros. */
static void
fuzz_magnitude(const uint8_t **p, size_t *n)
{
    while (*n > 0 && (*p)[0] == 0) {
        (*p)++;
        (*n)--;
    }
}

/* The entry extensions mbedTLS hands over: entry_ext.p is the Extensions header, .len the
 * contents' length; the element ends the entry. */
static void
fuzz_entry_exts(const mbedtls_x509_crl_entry *me, const ca_crl_entry *e)
{
    bool want_reason = e->reason != CA_REASON_UNSPECIFIED;
    bool want_inv = e->invalidity_date != 0;
    if (!want_reason && !want_inv) {
        if (me->entry_ext.len != 0) {
            abort();
        }
        return;
    }
    const uint8_t *end = me->raw.p + me->raw.len;
    if (me->entry_ext.p == NULL || me->entry_ext.p < me->raw.p || me->entry_ext.p >= end) {
        abort();
    }
    der_cur c = der_cur_make(me->entry_ext.p, (size_t)(end - me->entry_ext.p)), exts, ext, id, v;
    if (!ZTCA_IS_OK(der_get(&c, &exts, DER_SEQUENCE)) || c.len != 0) {
        abort();
    }
    if (want_reason) {
        uint32_t r = 99;
        if (!ZTCA_IS_OK(der_get(&exts, &ext, DER_SEQUENCE)) || !ZTCA_IS_OK(der_get_oid(&ext, &id))
            || !der_oid_equal(&id, "\x55\x1d\x15", 3) || der_peek_tag(&ext, DER_BOOLEAN)
            || !ZTCA_IS_OK(der_get(&ext, &v, DER_OCTETSTRING))
            || !ZTCA_IS_OK(der_get_enumerated(&v, &r)) || v.len != 0 || ext.len != 0
            || r != (uint32_t)e->reason) {
            abort();
        }
    }
    if (want_inv) {
        ztca_time t = 0;
        if (!ZTCA_IS_OK(der_get(&exts, &ext, DER_SEQUENCE)) || !ZTCA_IS_OK(der_get_oid(&ext, &id))
            || !der_oid_equal(&id, "\x55\x1d\x18", 3) || der_peek_tag(&ext, DER_BOOLEAN)
            || !ZTCA_IS_OK(der_get(&ext, &v, DER_OCTETSTRING))
            || !der_peek_tag(&v, DER_GENERALIZEDTIME) || !ZTCA_IS_OK(der_get_time(&v, &t))
            || v.len != 0 || ext.len != 0 || t != e->invalidity_date) {
            abort();
        }
    }
    if (exts.len != 0) {
        abort();
    }
}

static void
fuzz_check(const uint8_t *der, size_t len, const ca_crl_params *p)
{
    mbedtls_x509_crl crl;
    uint8_t hash[MBEDTLS_MD_MAX_SIZE];
    mbedtls_x509_crl_init(&crl);
    if (mbedtls_x509_crl_parse_der(&crl, der, len) != 0 || crl.version != 2) {
        abort(); /* mbedTLS cannot parse what we built */
    }
    if (crl.issuer_raw.len != fz.crt.subject_raw.len
        || memcmp(crl.issuer_raw.p, fz.crt.subject_raw.p, crl.issuer_raw.len) != 0
        || fuzz_mbed_time(&crl.this_update) != p->this_update
        || fuzz_mbed_time(&crl.next_update) != p->next_update) {
        abort();
    }
    const mbedtls_x509_crl_entry *me = &crl.entry;
    for (size_t i = 0; i < p->num_entries; i++, me = me->next) {
        const ca_crl_entry *e = &p->entries[i];
        const uint8_t *want = e->serial, *got = me != NULL ? me->serial.p : NULL;
        size_t want_len = e->serial_len, got_len = me != NULL ? me->serial.len : 0;
        if (me == NULL) {
            abort();
        }
        fuzz_magnitude(&want, &want_len);
        /* DER: a 00 octet only before a top bit, and nothing else */
        if (got_len == 0 || (got[0] == 0 && (got_len == 1 || (got[1] & 0x80) == 0))) {
            abort();
        }
        fuzz_magnitude(&got, &got_len);
        if (got_len != want_len || memcmp(got, want, got_len) != 0
            || fuzz_mbed_time(&me->revocation_date) != e->revocation_date) {
            abort();
        }
        fuzz_entry_exts(me, e);
    }
    if (p->num_entries == 0 ? crl.entry.serial.len != 0 : me != NULL) {
        abort(); /* more entries than asked, or an empty list that is not left out */
    }
    /* crlExtensions: the AKI, then cRLNumber */
    der_cur c = der_cur_make(crl.crl_ext.p, crl.crl_ext.len), exts, ext, id, v;
    uint64_t number = 0;
    if (!ZTCA_IS_OK(der_get(&c, &exts, DER_SEQUENCE)) || c.len != 0
        || !ZTCA_IS_OK(der_get(&exts, &ext, DER_SEQUENCE)) || !ZTCA_IS_OK(der_get_oid(&ext, &id))
        || !der_oid_equal(&id, "\x55\x1d\x23", 3) || !ZTCA_IS_OK(der_get(&exts, &ext, DER_SEQUENCE))
        || !ZTCA_IS_OK(der_get_oid(&ext, &id)) || !der_oid_equal(&id, "\x55\x1d\x14", 3)
        || !ZTCA_IS_OK(der_get(&ext, &v, DER_OCTETSTRING))
        || !ZTCA_IS_OK(der_get_uint64(&v, &number)) || number != p->number || exts.len != 0) {
        abort();
    }
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl.sig_md);
    if (md == NULL || mbedtls_md(md, crl.tbs.p, crl.tbs.len, hash) != 0
        || mbedtls_pk_verify(&fz.crt.pk, crl.sig_md, hash, mbedtls_md_get_size(md), crl.sig.p,
                             crl.sig.len)
               != 0) {
        abort(); /* the signature does not cover the TBSCertList emitted */
    }
    mbedtls_x509_crl_free(&crl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ca_crl_entry entries[FUZZ_MAX_ENTRY];
    static uint8_t serials[FUZZ_MAX_ENTRY][24];
    uint8_t counter[24];
    if (size < FUZZ_HDR) {
        return 0;
    }
    memset(counter, 0, sizeof(counter));
    ca_crl_params p;
    memset(&p, 0, sizeof(p));
    for (int i = 0; i < 8; i++) {
        p.number = p.number << 8 | data[i];
    }
    p.this_update = FUZZ_T0 + fuzz_i32(data + 8) * 128;
    int32_t delta = (int32_t)((uint32_t)data[12] << 16 | (uint32_t)data[13] << 8 | data[14]);
    p.next_update = p.this_update + (delta >= 0x800000 ? delta - 0x1000000 : delta);
    p.num_entries = (size - FUZZ_HDR) / FUZZ_ENTRY;
    if (p.num_entries > FUZZ_MAX_ENTRY) {
        p.num_entries = FUZZ_MAX_ENTRY;
    }
    p.entries = p.num_entries > 0 ? entries : NULL;
    bool valid =
        p.next_update > p.this_update && fuzz_time_ok(p.this_update) && fuzz_time_ok(p.next_update);
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < p.num_entries; i++) {
        const uint8_t *q = data + FUZZ_HDR + i * FUZZ_ENTRY;
        /* counter += q[7] */
        unsigned carry = q[7];
        for (size_t k = sizeof(counter); k-- > 0 && carry != 0;) {
            carry += counter[k];
            counter[k] = (uint8_t)carry;
            carry >>= 8;
        }
        ca_crl_entry *e = &entries[i];
        e->serial_len = (q[0] & 0x7f) % 23;
        memcpy(serials[i], counter + sizeof(counter) - e->serial_len, e->serial_len);
        if ((q[0] & 0x80) != 0 && e->serial_len > 0) {
            serials[i][0] = q[7] | 1;
        }
        e->serial = serials[i];
        e->reason = (ca_crl_reason)(q[1] % 12);
        e->revocation_date = FUZZ_T0 + fuzz_i32(q + 2) * 128;
        e->invalidity_date = (q[6] & 1) != 0 ? e->revocation_date - (ztca_time)q[6] * 3600 : 0;
        /* independent prediction: positive, at most 20 octets in DER, strictly increasing */
        const uint8_t *m = e->serial;
        size_t n = e->serial_len;
        fuzz_magnitude(&m, &n);
        bool bigger = prev == NULL || n > prev_len || (n == prev_len && memcmp(m, prev, n) > 0);
        valid = valid && n > 0 && n + ((m[0] & 0x80) != 0) <= 20 && bigger && e->reason <= 10
                && e->reason != 7 && e->reason != CA_REASON_REMOVE_FROM_CRL
                && fuzz_time_ok(e->revocation_date)
                && (e->invalidity_date == 0 || fuzz_time_ok(e->invalidity_date));
        prev = m;
        prev_len = n;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    ztca_rc rc = ca_crl_build(&out, &out_len, fz.issuer, &p);
    if (ZTCA_IS_OK(rc) != valid) {
        abort(); /* accepted something inconsistent, or refused something consistent */
    }
    if (!ZTCA_IS_OK(rc)) {
        if (rc.err != ZTCA_ERR_BAD_INPUT || out != NULL) {
            abort();
        }
        return 0;
    }
    fuzz_check(out, out_len, &p);
    free(out);
    return 0;
}
