/* ca_ocsp_req.c: the strict decoder of OCSP requests (RFC 6960 4.1, RFC 5019 2.1, RFC 8954).
 * Bytes from anyone on the network: every element is read by the DER reader, every SEQUENCE is
 * checked for trailing data, every list is bounded. What the caller answers for each refusal is in
 * docs/ocsp.md (always malformedRequest). */
#include <string.h>

#include <mbedtls/oid.h>

#include "ca/internal.h"

/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE,
 *                          extnValue OCTET STRING }                            (RFC 5280 4.1)
 * `wrap` is the contents of the [n] EXPLICIT tag around the Extensions. The nonce is understood
 * in requestExtensions only (out_nonce != NULL); every other extension is unknown: ignored when
 * non-critical, refused when critical (RFC 6960 4.4, RFC 5280 4.2). */
static ztca_rc
ca_ocsp_req_extensions(der_cur wrap, bool *out_has_nonce, der_cur *out_nonce)
{
    der_cur exts;
    der_cur seen[CA_OCSP_MAX_EXTS];
    size_t num_seen = 0;
    ZTCA_GUARD(der_get(&wrap, &exts, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&wrap));
    ZTCA_ENSURE(exts.len > 0, ZTCA_ERR_BAD_INPUT, "RFC 5280 4.1: Extensions SIZE (1..MAX)");
    while (exts.len > 0) {
        der_cur ext, id, value;
        bool critical = false;
        ZTCA_ENSURE(num_seen < CA_OCSP_MAX_EXTS, ZTCA_ERR_UNSUPPORTED,
                    "OCSP request: too many extensions");
        ZTCA_GUARD(der_get(&exts, &ext, DER_SEQUENCE));
        ZTCA_GUARD(der_get_oid(&ext, &id));
        if (der_peek_tag(&ext, DER_BOOLEAN)) {
            ZTCA_GUARD(der_get_bool(&ext, &critical));
            ZTCA_ENSURE(critical, ZTCA_ERR_BAD_INPUT,
                        "DER: critical DEFAULT FALSE explicitly encoded (X.690 11.5)");
        }
        ZTCA_GUARD(der_get(&ext, &value, DER_OCTETSTRING));
        ZTCA_GUARD(der_expect_end(&ext));
        for (size_t i = 0; i < num_seen; i++) {
            ZTCA_ENSURE(!der_oid_equal(&seen[i], (const char *)id.p, id.len), ZTCA_ERR_BAD_INPUT,
                        "RFC 5280 4.2: an extension appears twice");
        }
        seen[num_seen++] = id;
        if (out_nonce != NULL && DER_OID_IS(&id, CA_OID_OCSP_NONCE)) {
            /* RFC 8954 2.1: extnValue holds Nonce ::= OCTET STRING (SIZE(1..32)); a server MUST
             * answer a nonce of 0 or more than 32 octets with malformedRequest. */
            der_cur nonce;
            ZTCA_GUARD(der_get(&value, &nonce, DER_OCTETSTRING));
            ZTCA_GUARD(der_expect_end(&value));
            ZTCA_ENSURE(nonce.len >= CA_OCSP_NONCE_MIN && nonce.len <= CA_OCSP_NONCE_MAX,
                        ZTCA_ERR_BAD_INPUT, "RFC 8954 2.1: nonce must be 1 to 32 octets");
            *out_nonce = nonce;
            *out_has_nonce = true;
        } else {
            ZTCA_ENSURE(!critical, ZTCA_ERR_UNSUPPORTED,
                        "RFC 6960 4.4: unrecognized critical extension");
        }
    }
    return ZTCA_RC_OK;
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER,
 *                                    parameters ANY DEFINED BY algorithm OPTIONAL }
 * SHA-1 and SHA-256 take absent or NULL parameters (RFC 3370 2.1, RFC 5754 2); any other hash is
 * well-formed with at most one parameters element, and marked unsupported. */
static ztca_rc
ca_ocsp_req_hash_alg(der_cur alg, ca_ocsp_certid *id)
{
    der_cur oid;
    ZTCA_GUARD(der_get_oid(&alg, &oid));
    id->hash_is_supported = true;
    if (DER_OID_IS(&oid, MBEDTLS_OID_DIGEST_ALG_SHA1)) {
        id->md = CA_MD_SHA1;
    } else if (DER_OID_IS(&oid, MBEDTLS_OID_DIGEST_ALG_SHA256)) {
        id->md = CA_MD_SHA256;
    } else {
        id->hash_is_supported = false;
        id->md = CA_MD_SHA1; /* not meaningful */
    }
    if (alg.len > 0) {
        if (id->hash_is_supported) {
            ZTCA_GUARD(der_get_null(&alg));
        } else {
            ZTCA_GUARD(der_get_any(&alg, NULL, NULL, NULL));
        }
    }
    return der_expect_end(&alg);
}

/* CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
 *                       issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
 *                                                                              (RFC 6960 4.1.1) */
ztca_rc
ca_ocsp_certid_parse(ca_ocsp_certid *out, der_cur *in)
{
    der_cur c = *in;
    der_cur certid, alg;
    ca_ocsp_certid id;
    memset(&id, 0, sizeof(id));
    ZTCA_GUARD(der_get_element(&c, &id.element, DER_SEQUENCE));
    der_cur outer = id.element;
    ZTCA_GUARD(der_get(&outer, &certid, DER_SEQUENCE));
    ZTCA_GUARD(der_get(&certid, &alg, DER_SEQUENCE));
    ZTCA_GUARD(ca_ocsp_req_hash_alg(alg, &id));
    ZTCA_GUARD(der_get(&certid, &id.issuer_name_hash, DER_OCTETSTRING));
    ZTCA_GUARD(der_get(&certid, &id.issuer_key_hash, DER_OCTETSTRING));
    ZTCA_GUARD(der_get_serial(&certid, &id.serial));
    ZTCA_GUARD(der_expect_end(&certid));
    if (id.hash_is_supported) {
        size_t n = ca_md_size(id.md);
        ZTCA_ENSURE(id.issuer_name_hash.len == n && id.issuer_key_hash.len == n, ZTCA_ERR_BAD_INPUT,
                    "RFC 6960 4.1.1: issuer hash length differs from the hash");
    } else {
        /* Not matchable, but still bounded: a hash is 1..CA_HASH_MAX octets. */
        ZTCA_ENSURE(id.issuer_name_hash.len > 0 && id.issuer_name_hash.len <= CA_HASH_MAX
                        && id.issuer_key_hash.len > 0 && id.issuer_key_hash.len <= CA_HASH_MAX,
                    ZTCA_ERR_BAD_INPUT, "RFC 6960 4.1.1: issuer hash length");
    }
    *out = id;
    *in = c;
    return ZTCA_RC_OK;
}

/* Request ::= SEQUENCE { reqCert CertID,
 *                        singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL } */
static ztca_rc
ca_ocsp_req_request(der_cur *list, ca_ocsp_certid *out)
{
    der_cur request, exts;
    bool present = false;
    ZTCA_GUARD(der_get(list, &request, DER_SEQUENCE));
    ZTCA_GUARD(ca_ocsp_certid_parse(out, &request));
    ZTCA_GUARD(der_get_optional(&request, &exts, &present, DER_CONTEXT_C(0)));
    if (present) {
        ZTCA_GUARD(ca_ocsp_req_extensions(exts, NULL, NULL));
    }
    return der_expect_end(&request);
}

/* Signature ::= SEQUENCE { signatureAlgorithm AlgorithmIdentifier, signature BIT STRING,
 *                          certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 * RFC 5019 2.1.2: responders MAY ignore the signature on requests, and ztca does (its answers are
 * public): the structure is checked down to each certificate's outer SEQUENCE, nothing is
 * verified. */
static ztca_rc
ca_ocsp_req_signature(der_cur wrap)
{
    der_cur sig, alg, oid, bits, certs_wrap, certs;
    uint8_t unused;
    bool present = false;
    ZTCA_GUARD(der_get(&wrap, &sig, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&wrap));
    ZTCA_GUARD(der_get(&sig, &alg, DER_SEQUENCE));
    ZTCA_GUARD(der_get_oid(&alg, &oid));
    if (alg.len > 0) {
        ZTCA_GUARD(der_get_any(&alg, NULL, NULL, NULL));
    }
    ZTCA_GUARD(der_expect_end(&alg));
    ZTCA_GUARD(der_get_bitstring(&sig, &bits, &unused));
    ZTCA_GUARD(der_get_optional(&sig, &certs_wrap, &present, DER_CONTEXT_C(0)));
    if (present) {
        ZTCA_GUARD(der_get(&certs_wrap, &certs, DER_SEQUENCE));
        ZTCA_GUARD(der_expect_end(&certs_wrap));
        while (certs.len > 0) {
            der_cur cert;
            ZTCA_GUARD(der_get(&certs, &cert, DER_SEQUENCE));
        }
    }
    return der_expect_end(&sig);
}

/* OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest,
 *                            optionalSignature [0] EXPLICIT Signature OPTIONAL }
 * TBSRequest ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1,
 *                           requestorName [1] EXPLICIT GeneralName OPTIONAL,
 *                           requestList SEQUENCE OF Request,
 *                           requestExtensions [2] EXPLICIT Extensions OPTIONAL }
 * Version ::= INTEGER { v1(0) }                                                (RFC 6960 4.1.1) */
ztca_rc
ca_ocsp_req_parse(ca_ocsp_req *out, const uint8_t *in, size_t in_len)
{
    der_cur c = der_cur_make(in, in_len);
    der_cur req, tbs, wrap, list;
    bool present = false;
    ca_ocsp_req r;
    memset(&r, 0, sizeof(r));

    ZTCA_ENSURE(in_len <= CA_OCSP_REQ_MAX, ZTCA_ERR_BAD_INPUT, "OCSP request too large");
    ZTCA_GUARD(der_get(&c, &req, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&c));
    ZTCA_GUARD(der_get(&req, &tbs, DER_SEQUENCE));

    ZTCA_GUARD(der_get_optional(&tbs, &wrap, &present, DER_CONTEXT_C(0)));
    if (present) {
        uint64_t version = 0;
        ZTCA_GUARD(der_get_uint64(&wrap, &version));
        ZTCA_GUARD(der_expect_end(&wrap));
        ZTCA_ENSURE(version != 0, ZTCA_ERR_BAD_INPUT,
                    "DER: version DEFAULT v1 explicitly encoded (X.690 11.5)");
        ZTCA_BAIL(ZTCA_ERR_UNSUPPORTED, "RFC 6960 4.1.1: only v1 requests exist");
    }
    ZTCA_GUARD(der_get_optional(&tbs, &wrap, &present, DER_CONTEXT_C(1)));
    if (present) {
        /* GeneralName ::= CHOICE { otherName [0] ... registeredID [8] } (RFC 5280 4.2.1.6):
         * one context-specific element; who asks does not change the answer, so it is ignored. */
        uint8_t tag = 0;
        ZTCA_GUARD(der_get_any(&wrap, &tag, NULL, NULL));
        ZTCA_GUARD(der_expect_end(&wrap));
        ZTCA_ENSURE((tag & 0xc0) == 0x80 && (tag & 0x1f) <= 8, ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 4.2.1.6: requestorName is not a GeneralName");
    }
    ZTCA_GUARD(der_get(&tbs, &list, DER_SEQUENCE));
    ZTCA_ENSURE(list.len > 0, ZTCA_ERR_BAD_INPUT, "RFC 6960 4.1.1: empty requestList");
    while (list.len > 0) {
        ZTCA_ENSURE(r.num_ids < CA_OCSP_MAX_REQS, ZTCA_ERR_UNSUPPORTED,
                    "OCSP request: more CertIDs than CA_OCSP_MAX_REQS");
        ZTCA_GUARD(ca_ocsp_req_request(&list, &r.ids[r.num_ids]));
        r.num_ids++;
    }
    ZTCA_GUARD(der_get_optional(&tbs, &wrap, &present, DER_CONTEXT_C(2)));
    if (present) {
        ZTCA_GUARD(ca_ocsp_req_extensions(wrap, &r.has_nonce, &r.nonce));
    }
    ZTCA_GUARD(der_expect_end(&tbs));

    ZTCA_GUARD(der_get_optional(&req, &wrap, &present, DER_CONTEXT_C(0)));
    if (present) {
        ZTCA_GUARD(ca_ocsp_req_signature(wrap));
        r.is_signed = true;
    }
    ZTCA_GUARD(der_expect_end(&req));
    *out = r;
    return ZTCA_RC_OK;
}

bool
ca_ocsp_certid_has_issuer(const ca_ocsp_certid *id, ca_md md, const uint8_t *name_hash,
                          const uint8_t *key_hash)
{
    size_t n = ca_md_size(md);
    return id->hash_is_supported && id->md == md && id->issuer_name_hash.len == n
           && id->issuer_key_hash.len == n && memcmp(id->issuer_name_hash.p, name_hash, n) == 0
           && memcmp(id->issuer_key_hash.p, key_hash, n) == 0;
}
