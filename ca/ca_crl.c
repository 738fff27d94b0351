/* ca_crl.c: full X.509 v2 CRLs (RFC 5280 5) on the DER writer, signed by the issuing CA over
 * exactly the TBSCertList emitted. mbedTLS 2.28 parses CRLs but cannot write them. */
#include <string.h>

#include <mbedtls/oid.h>

#include "ca/internal.h"

#define CA_OID_CRL_REASON      MBEDTLS_OID_ID_CE "\x15" /* id-ce-cRLReasons (5.3.1) */
#define CA_OID_INVALIDITY_DATE MBEDTLS_OID_ID_CE "\x18" /* id-ce-invalidityDate (5.3.2) */

bool
ca_crl_reason_is_allowed(ca_crl_reason reason)
{
    switch (reason) {
    case CA_REASON_UNSPECIFIED:
    case CA_REASON_KEY_COMPROMISE:
    case CA_REASON_CA_COMPROMISE:
    case CA_REASON_AFFILIATION_CHANGED:
    case CA_REASON_SUPERSEDED:
    case CA_REASON_CESSATION_OF_OPERATION:
    case CA_REASON_CERTIFICATE_HOLD:
    case CA_REASON_PRIVILEGE_WITHDRAWN:
    case CA_REASON_AA_COMPROMISE:
        return true;
    case CA_REASON_REMOVE_FROM_CRL: /* delta CRLs only */
        break;
    }
    return false;
}

/* A serial as given (big-endian magnitude) without its leading zero octets. */
static der_cur
ca_crl_magnitude(const ca_crl_entry *e)
{
    der_cur m = der_cur_make(e->serial, e->serial_len);
    while (m.len > 0 && m.p[0] == 0) {
        m.p++;
        m.len--;
    }
    return m;
}

/* Numeric order of two magnitudes without leading zeros: longer is larger. */
static int
ca_crl_serial_cmp(der_cur a, der_cur b)
{
    if (a.len != b.len) {
        return a.len < b.len ? -1 : 1;
    }
    return memcmp(a.p, b.p, a.len);
}

static ztca_rc
ca_crl_check(const ca_crl_params *p)
{
    der_cur prev = { NULL, 0 };
    ZTCA_ENSURE(p->next_update > p->this_update, ZTCA_ERR_BAD_INPUT,
                "RFC 5280 5.1.2.5: nextUpdate must be after thisUpdate");
    ZTCA_ENSURE(p->num_entries == 0 || p->entries != NULL, ZTCA_ERR_BAD_INPUT, "CRL: no entries");
    for (size_t i = 0; i < p->num_entries; i++) {
        const ca_crl_entry *e = &p->entries[i];
        ZTCA_ENSURE(e->serial != NULL, ZTCA_ERR_BAD_INPUT, "CRL: entry without serial");
        der_cur m = ca_crl_magnitude(e);
        /* RFC 5280 4.1.2.2: positive, at most 20 octets in DER (a sign octet counts). */
        ZTCA_ENSURE(m.len > 0, ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 4.1.2.2: serial number must be positive");
        ZTCA_ENSURE(m.len + ((m.p[0] & 0x80) != 0) <= DER_SERIAL_MAX, ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 4.1.2.2: serial number longer than 20 octets");
        ZTCA_ENSURE(prev.p == NULL || ca_crl_serial_cmp(prev, m) < 0, ZTCA_ERR_BAD_INPUT,
                    "CRL: serials must be strictly increasing");
        ZTCA_ENSURE(ca_crl_reason_is_allowed(e->reason), ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 5.3.1: CRLReason not allowed in a full CRL");
        prev = m;
    }
    return ZTCA_RC_OK;
}

/* revokedCertificates entry: SEQUENCE { userCertificate CertificateSerialNumber,
 *     revocationDate Time, crlEntryExtensions Extensions OPTIONAL }
 * CRLReason ::= ENUMERATED (5.3.1): "the reason code CRL entry extension SHOULD be absent instead
 * of using the unspecified (0) reasonCode value", so unspecified writes none.
 * InvalidityDate ::= GeneralizedTime (5.3.2). Both non-critical. */
static ztca_rc
ca_crl_entry_add(der_buf *b, const ca_crl_entry *e)
{
    der_cur m = ca_crl_magnitude(e);
    bool has_reason = e->reason != CA_REASON_UNSPECIFIED;
    bool has_invalidity = e->invalidity_date != 0;
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_add_uint_bytes(b, m.p, m.len));
    ZTCA_GUARD(der_add_time(b, e->revocation_date));
    if (has_reason || has_invalidity) {
        ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
        if (has_reason) {
            ZTCA_GUARD(ca_ext_begin(b, CA_OID_CRL_REASON, sizeof(CA_OID_CRL_REASON) - 1, false));
            ZTCA_GUARD(der_add_enumerated(b, (uint32_t)e->reason));
            ZTCA_GUARD(ca_ext_end(b));
        }
        if (has_invalidity) {
            ZTCA_GUARD(
                ca_ext_begin(b, CA_OID_INVALIDITY_DATE, sizeof(CA_OID_INVALIDITY_DATE) - 1, false));
            ZTCA_GUARD(der_add_generalized_time(b, e->invalidity_date));
            ZTCA_GUARD(ca_ext_end(b));
        }
        ZTCA_GUARD(der_end(b));
    }
    return der_end(b);
}

/* TBSCertList ::= SEQUENCE { version Version OPTIONAL -- if present, MUST be v2,
 *     signature AlgorithmIdentifier, issuer Name, thisUpdate Time, nextUpdate Time OPTIONAL,
 *     revokedCertificates SEQUENCE OF SEQUENCE { ... } OPTIONAL,
 *     crlExtensions [0] EXPLICIT Extensions OPTIONAL -- if present, version MUST be v2 }
 * Version ::= INTEGER { v1(0), v2(1), v3(2) }                                   (RFC 5280 5.1)
 * Time is UTCTime through 2049 and GeneralizedTime from 2050 (5.1.2.4-6, der_add_time). An empty
 * list is left out, as 5.1.2.6 requires. crlExtensions: authorityKeyIdentifier (5.2.1, the
 * issuer's subjectKeyIdentifier) and cRLNumber (5.2.3, INTEGER (0..MAX), at most 20 octets: a
 * uint64_t always fits), both non-critical. */
static ztca_rc
ca_crl_tbs(der_buf *b, const ca_issuer *iss, const ca_crl_params *p)
{
    size_t alg_len = 0;
    const uint8_t *alg = ca_signer_sig_alg(iss->signer, &alg_len);
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_add_uint64(b, 1)); /* v2 */
    ZTCA_GUARD(der_add_raw(b, alg, alg_len));
    ZTCA_GUARD(der_add_raw(b, iss->f.subject.p, iss->f.subject.len));
    ZTCA_GUARD(der_add_time(b, p->this_update));
    ZTCA_GUARD(der_add_time(b, p->next_update));
    if (p->num_entries > 0) {
        ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
        for (size_t i = 0; i < p->num_entries; i++) {
            ZTCA_GUARD(ca_crl_entry_add(b, &p->entries[i]));
        }
        ZTCA_GUARD(der_end(b));
    }
    ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(0)));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(ca_ext_aki(b, iss->key_id, iss->key_id_len));
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_CRL_NUMBER, sizeof(MBEDTLS_OID_CRL_NUMBER) - 1, false));
    ZTCA_GUARD(der_add_uint64(b, p->number));
    ZTCA_GUARD(ca_ext_end(b));
    ZTCA_GUARD(der_end(b));
    ZTCA_GUARD(der_end(b));
    return der_end(b);
}

/* CertificateList ::= SEQUENCE { tbsCertList TBSCertList,
 *     signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }      (RFC 5280 5.1) */
ztca_rc
ca_crl_build(uint8_t **out, size_t *out_len, ca_issuer *iss, const ca_crl_params *params)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf tbs, crl;
    der_buf_init(&tbs, CA_CRL_MAX);
    der_buf_init(&crl, CA_CRL_MAX);
    uint8_t *tbs_der = NULL;
    size_t tbs_len = 0;
    size_t alg_len = 0, sig_len = 0;
    const uint8_t *alg = ca_signer_sig_alg(iss->signer, &alg_len);
    ca_md md = ca_signer_md(iss->signer);
    uint8_t hash[CA_HASH_MAX];
    uint8_t sig[CA_SIG_MAX];

    ZTCA_CHECK(ca_crl_check(params));
    ZTCA_CHECK(ca_crl_tbs(&tbs, iss, params));
    ZTCA_CHECK(der_buf_take(&tbs, &tbs_der, &tbs_len));

    /* Sign exactly the bytes emitted. */
    ZTCA_CHECK(ca_hash(md, tbs_der, tbs_len, hash, sizeof(hash)));
    ZTCA_CHECK(ca_signer_sign(iss->signer, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len));

    ZTCA_CHECK(der_begin(&crl, DER_SEQUENCE));
    ZTCA_CHECK(der_add_raw(&crl, tbs_der, tbs_len));
    ZTCA_CHECK(der_add_raw(&crl, alg, alg_len));
    ZTCA_CHECK(der_add_bitstring(&crl, sig, sig_len));
    ZTCA_CHECK(der_end(&crl));
    ZTCA_CHECK(der_buf_take(&crl, out, out_len));
out:
    ztca_free(tbs_der);
    der_buf_free(&tbs);
    der_buf_free(&crl);
    return rc;
}
