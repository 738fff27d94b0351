/* ca_ocsp_resp.c: OCSP responses (RFC 6960 4.2, profiled by RFC 5019 2.2) on the DER writer,
 * signed through the signer interface over exactly the ResponseData emitted; the fixed error
 * responses; and the CertID hashes of our issuing CAs, which the responder matches requests
 * against. mbedTLS 2.28 has no OCSP code. */
#include <string.h>

#include <mbedtls/oid.h>

#include "ca/internal.h"

/* The hash of the value of a SubjectPublicKeyInfo's subjectPublicKey BIT STRING, without tag,
 * length and unused-bits octet (RFC 6960 4.1.1 issuerKeyHash, 4.2.1 KeyHash). */
static ztca_rc
ca_ocsp_key_hash(uint8_t *out, ca_md md, der_cur spki)
{
    /* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
     *                                     subjectPublicKey BIT STRING } */
    der_cur seq, alg, bits;
    uint8_t unused;
    ZTCA_GUARD(der_get(&spki, &seq, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&spki));
    ZTCA_GUARD(der_get(&seq, &alg, DER_SEQUENCE));
    ZTCA_GUARD(der_get_bitstring(&seq, &bits, &unused));
    ZTCA_GUARD(der_expect_end(&seq));
    return ca_hash(md, bits.p, bits.len, out, ca_md_size(md));
}

ztca_rc
ca_ocsp_issuer_hashes(uint8_t *out_name_hash, uint8_t *out_key_hash, ca_md md,
                      const uint8_t *cert_der, size_t cert_len)
{
    ca_cert_fields f;
    uint8_t name_hash[CA_HASH_MAX], key_hash[CA_HASH_MAX];
    size_t n = ca_md_size(md);
    ZTCA_ENSURE(n > 0 && n <= CA_HASH_MAX, ZTCA_ERR_INTERNAL, "OCSP issuer hashes: unknown hash");
    ZTCA_GUARD(ca_cert_split(&f, cert_der, cert_len));
    /* RFC 6960 4.1.1: issuerNameHash is the hash of the DER encoding of the issuer's name field
     * in the certificate being checked, which is this CA's subject field, byte for byte. */
    ZTCA_GUARD(ca_hash(md, f.subject.p, f.subject.len, name_hash, sizeof(name_hash)));
    ZTCA_GUARD(ca_ocsp_key_hash(key_hash, md, f.spki));
    memcpy(out_name_hash, name_hash, n);
    memcpy(out_key_hash, key_hash, n);
    return ZTCA_RC_OK;
}

/* OCSPResponse ::= SEQUENCE { responseStatus OCSPResponseStatus,
 *                             responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 * OCSPResponseStatus ::= ENUMERATED { successful (0), malformedRequest (1), internalError (2),
 *     tryLater (3), -- (4) is not used -- sigRequired (5), unauthorized (6) }   (RFC 6960 4.2.1)
 * Without responseBytes the whole response is these five octets. */
static const uint8_t ca_ocsp_status_der[7][5] = {
    { 0x30, 0x03, 0x0a, 0x01, 0x00 }, { 0x30, 0x03, 0x0a, 0x01, 0x01 },
    { 0x30, 0x03, 0x0a, 0x01, 0x02 }, { 0x30, 0x03, 0x0a, 0x01, 0x03 },
    { 0x30, 0x03, 0x0a, 0x01, 0x04 }, { 0x30, 0x03, 0x0a, 0x01, 0x05 },
    { 0x30, 0x03, 0x0a, 0x01, 0x06 },
};

ztca_rc
ca_ocsp_resp_status_only(const uint8_t **out, size_t *out_len, ca_ocsp_status status)
{
    switch (status) {
    case CA_OCSP_MALFORMED_REQUEST:
    case CA_OCSP_INTERNAL_ERROR:
    case CA_OCSP_TRY_LATER:
    case CA_OCSP_SIG_REQUIRED:
    case CA_OCSP_UNAUTHORIZED:
        *out = ca_ocsp_status_der[status];
        *out_len = sizeof(ca_ocsp_status_der[status]);
        return ZTCA_RC_OK;
    case CA_OCSP_SUCCESSFUL:
        break;
    }
    ZTCA_BAIL(ZTCA_ERR_INTERNAL, "RFC 6960 4.2.1: a successful response needs responseBytes");
}

/* Everything the encoder echoes or states is checked before a byte is written. */
static ztca_rc
ca_ocsp_resp_check(ca_signer *signer, const ca_ocsp_resp_params *p)
{
    ZTCA_ENSURE(p->num_entries > 0 && p->num_entries <= CA_OCSP_MAX_REQS && p->entries != NULL,
                ZTCA_ERR_BAD_INPUT, "OCSP response: 1 to CA_OCSP_MAX_REQS responses");
    ZTCA_ENSURE(p->nonce_len == 0
                    || (p->nonce != NULL && p->nonce_len >= CA_OCSP_NONCE_MIN
                        && p->nonce_len <= CA_OCSP_NONCE_MAX),
                ZTCA_ERR_BAD_INPUT, "RFC 8954 2.1: nonce must be 1 to 32 octets");
    for (size_t i = 0; i < p->num_entries; i++) {
        const ca_ocsp_entry *e = &p->entries[i];
        ca_ocsp_certid id;
        der_cur c = e->certid;
        /* Only what the decoder accepts is echoed, and it must be exactly one CertID. */
        ZTCA_ENSURE(c.p != NULL, ZTCA_ERR_BAD_INPUT, "OCSP response: CertID missing");
        ZTCA_GUARD(ca_ocsp_certid_parse(&id, &c));
        ZTCA_GUARD(der_expect_end(&c));
        ZTCA_ENSURE(e->status == CA_OCSP_GOOD || e->status == CA_OCSP_REVOKED
                        || e->status == CA_OCSP_UNKNOWN,
                    ZTCA_ERR_BAD_INPUT, "RFC 6960 4.2.1: CertStatus is good, revoked or unknown");
        ZTCA_ENSURE(e->status != CA_OCSP_REVOKED || ca_crl_reason_is_allowed(e->reason),
                    ZTCA_ERR_BAD_INPUT, "RFC 5280 5.3.1: CRLReason not allowed here");
        ZTCA_ENSURE(e->next_update > e->this_update, ZTCA_ERR_BAD_INPUT,
                    "RFC 6960 4.2.2.1: nextUpdate must be after thisUpdate");
        ZTCA_ENSURE(e->trust_score == CA_TRUST_SCORE_NONE
                        || (e->trust_score >= 0 && e->trust_score <= 100),
                    ZTCA_ERR_BAD_INPUT, "ztca-trust-score is 0..100");
    }
    if (p->score_oid != NULL) {
        der_cur oid = { p->score_oid, p->score_oid_len };
        ZTCA_ENSURE(p->score_oid_len > 0 && p->score_oid_len <= 64
                        && (p->score_oid[p->score_oid_len - 1] & 0x80) == 0,
                    ZTCA_ERR_BAD_INPUT, "OCSP response: bad trust score OID");
        for (size_t i = 0; i < oid.len; i++) {
            ZTCA_ENSURE(oid.p[i] != 0x80 || (i > 0 && (oid.p[i - 1] & 0x80) != 0),
                        ZTCA_ERR_BAD_INPUT, "OCSP response: trust score OID not minimal");
        }
    }
    if (p->signer_cert != NULL) {
        ca_cert_fields f;
        size_t spki_len = 0;
        const uint8_t *spki = ca_signer_spki(signer, &spki_len);
        ZTCA_GUARD(ca_cert_split(&f, p->signer_cert, p->signer_cert_len));
        ZTCA_ENSURE(f.spki.len == spki_len && memcmp(f.spki.p, spki, spki_len) == 0,
                    ZTCA_ERR_BAD_INPUT, "OCSP response: signer certificate is not the signer's");
    }
    return ZTCA_RC_OK;
}

/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * inside `[tag] EXPLICIT Extensions`; one non-critical extension whose value the caller writes
 * between ca_ocsp_ext_open and ca_ocsp_ext_close. */
static ztca_rc
ca_ocsp_ext_open(der_buf *b, uint8_t tag, const char *oid, size_t oid_len)
{
    ZTCA_GUARD(der_begin(b, tag));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    return ca_ext_begin(b, oid, oid_len, false);
}

static ztca_rc
ca_ocsp_ext_close(der_buf *b)
{
    ZTCA_GUARD(ca_ext_end(b));
    ZTCA_GUARD(der_end(b));
    return der_end(b);
}

/* SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus,
 *     thisUpdate GeneralizedTime, nextUpdate [0] EXPLICIT GeneralizedTime OPTIONAL,
 *     singleExtensions [1] EXPLICIT Extensions OPTIONAL }
 * CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo,
 *                         unknown [2] IMPLICIT UnknownInfo }
 * RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime,
 *                            revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 * UnknownInfo ::= NULL                                                         (RFC 6960 4.2.1)
 * ztca-trust-score ::= INTEGER (0..100), a non-critical single extension (DESIGN.md 4). */
static ztca_rc
ca_ocsp_single(der_buf *b, const ca_ocsp_entry *e, const ca_ocsp_resp_params *p)
{
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_add_raw(b, e->certid.p, e->certid.len));
    switch (e->status) {
    case CA_OCSP_GOOD:
        ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(0), NULL, 0));
        break;
    case CA_OCSP_REVOKED:
        ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(1)));
        ZTCA_GUARD(der_add_generalized_time(b, e->revocation_time));
        /* unspecified(0) is left out, as RFC 5280 5.3.1 asks of CRL entries: "revoked" without
         * a reason says the same, and OCSP and CRL then agree entry for entry. */
        if (e->reason != CA_REASON_UNSPECIFIED) {
            ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(0)));
            ZTCA_GUARD(der_add_enumerated(b, (uint32_t)e->reason));
            ZTCA_GUARD(der_end(b));
        }
        ZTCA_GUARD(der_end(b));
        break;
    case CA_OCSP_UNKNOWN:
        ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(2), NULL, 0));
        break;
    }
    ZTCA_GUARD(der_add_generalized_time(b, e->this_update));
    ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(0)));
    ZTCA_GUARD(der_add_generalized_time(b, e->next_update));
    ZTCA_GUARD(der_end(b));
    if (e->trust_score != CA_TRUST_SCORE_NONE) {
        if (p->score_oid != NULL) {
            ZTCA_GUARD(ca_ocsp_ext_open(b, DER_CONTEXT_C(1), (const char *)p->score_oid,
                                        p->score_oid_len));
        } else {
            ZTCA_GUARD(ca_ocsp_ext_open(b, DER_CONTEXT_C(1), CA_OID_ZTCA_TRUST_SCORE,
                                        sizeof(CA_OID_ZTCA_TRUST_SCORE) - 1));
        }
        ZTCA_GUARD(der_add_uint64(b, (uint64_t)e->trust_score));
        ZTCA_GUARD(ca_ocsp_ext_close(b));
    }
    return der_end(b);
}

/* ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1,
 *     responderID ResponderID, producedAt GeneralizedTime,
 *     responses SEQUENCE OF SingleResponse,
 *     responseExtensions [1] EXPLICIT Extensions OPTIONAL }
 * ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash }   -- EXPLICIT TAGS module
 * KeyHash ::= OCTET STRING -- SHA-1 hash of responder's public key (excluding the tag and length
 *                          -- fields)                                          (RFC 6960 4.2.1)
 * Version v1 is the DEFAULT and is not encoded; byKey is what RFC 5019 2.2.3 and 6960 4.2.2.3
 * recommend (no Name comparison for the client). The nonce is echoed as the request had it:
 * extnValue OCTET STRING { Nonce OCTET STRING } (RFC 8954 2.1). */
static ztca_rc
ca_ocsp_response_data(der_buf *b, const uint8_t key_hash[CA_KEY_ID_LEN],
                      const ca_ocsp_resp_params *p)
{
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(2)));
    ZTCA_GUARD(der_add_tlv(b, DER_OCTETSTRING, key_hash, CA_KEY_ID_LEN));
    ZTCA_GUARD(der_end(b));
    ZTCA_GUARD(der_add_generalized_time(b, p->produced_at));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    for (size_t i = 0; i < p->num_entries; i++) {
        ZTCA_GUARD(ca_ocsp_single(b, &p->entries[i], p));
    }
    ZTCA_GUARD(der_end(b));
    if (p->nonce_len > 0) {
        ZTCA_GUARD(ca_ocsp_ext_open(b, DER_CONTEXT_C(1), CA_OID_OCSP_NONCE,
                                    sizeof(CA_OID_OCSP_NONCE) - 1));
        ZTCA_GUARD(der_add_tlv(b, DER_OCTETSTRING, p->nonce, p->nonce_len));
        ZTCA_GUARD(ca_ocsp_ext_close(b));
    }
    return der_end(b);
}

/* OCSPResponse ::= SEQUENCE { responseStatus OCSPResponseStatus,
 *                             responseBytes [0] EXPLICIT ResponseBytes OPTIONAL }
 * ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
 * BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData,
 *     signatureAlgorithm AlgorithmIdentifier, signature BIT STRING,
 *     certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }                     (RFC 6960 4.2.1) */
ztca_rc
ca_ocsp_resp_build(uint8_t **out, size_t *out_len, ca_signer *signer,
                   const ca_ocsp_resp_params *params)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf tbs, resp;
    der_buf_init(&tbs, CA_OCSP_RESP_MAX);
    der_buf_init(&resp, CA_OCSP_RESP_MAX);
    uint8_t *tbs_der = NULL;
    size_t tbs_len = 0;
    uint8_t key_hash[CA_KEY_ID_LEN];
    size_t spki_len = 0, alg_len = 0, sig_len = 0;
    const uint8_t *spki = ca_signer_spki(signer, &spki_len);
    const uint8_t *alg = ca_signer_sig_alg(signer, &alg_len);
    ca_md md = ca_signer_md(signer);
    uint8_t hash[CA_HASH_MAX];
    uint8_t sig[CA_SIG_MAX];

    ZTCA_CHECK(ca_ocsp_resp_check(signer, params));
    ZTCA_CHECK(ca_spki_key_id(key_hash, spki, spki_len));
    ZTCA_CHECK(ca_ocsp_response_data(&tbs, key_hash, params));
    ZTCA_CHECK(der_buf_take(&tbs, &tbs_der, &tbs_len));

    /* Sign exactly the bytes emitted. */
    ZTCA_CHECK(ca_hash(md, tbs_der, tbs_len, hash, sizeof(hash)));
    ZTCA_CHECK(ca_signer_sign(signer, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len));

    ZTCA_CHECK(der_begin(&resp, DER_SEQUENCE));
    ZTCA_CHECK(der_add_enumerated(&resp, CA_OCSP_SUCCESSFUL));
    ZTCA_CHECK(der_begin(&resp, DER_CONTEXT_C(0)));
    ZTCA_CHECK(der_begin(&resp, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(&resp, CA_OID_OCSP_BASIC));
    ZTCA_CHECK(der_begin(&resp, DER_OCTETSTRING));
    ZTCA_CHECK(der_begin(&resp, DER_SEQUENCE));
    ZTCA_CHECK(der_add_raw(&resp, tbs_der, tbs_len));
    ZTCA_CHECK(der_add_raw(&resp, alg, alg_len));
    ZTCA_CHECK(der_add_bitstring(&resp, sig, sig_len));
    if (params->signer_cert != NULL) {
        /* RFC 6960 4.2.2.2: a delegated responder's certificate travels with the response. */
        ZTCA_CHECK(der_begin(&resp, DER_CONTEXT_C(0)));
        ZTCA_CHECK(der_begin(&resp, DER_SEQUENCE));
        ZTCA_CHECK(der_add_raw(&resp, params->signer_cert, params->signer_cert_len));
        ZTCA_CHECK(der_end(&resp));
        ZTCA_CHECK(der_end(&resp));
    }
    ZTCA_CHECK(der_end(&resp)); /* BasicOCSPResponse */
    ZTCA_CHECK(der_end(&resp)); /* response OCTET STRING */
    ZTCA_CHECK(der_end(&resp)); /* ResponseBytes */
    ZTCA_CHECK(der_end(&resp)); /* [0] */
    ZTCA_CHECK(der_end(&resp)); /* OCSPResponse */
    ZTCA_CHECK(der_buf_take(&resp, out, out_len));
out:
    ztca_free(tbs_der);
    der_buf_free(&tbs);
    der_buf_free(&resp);
    return rc;
}
