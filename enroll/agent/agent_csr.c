/* agent_csr.c: PKCS#10 requests (RFC 2986) built with core/der.h. The signature is made
 * elsewhere (by the TPM over SHA-256 of the CertificationRequestInfo, or by ca_signer for a
 * software key), so building is split in two: the info to be signed, then the request. */
#include <string.h>

#include <mbedtls/oid.h>

#include "core/der.h"
#include "enroll/agent/agent.h"

#define AGENT_CSR_MAX CA_CSR_MAX

/* CertificationRequestInfo ::= SEQUENCE {
 *     version       INTEGER { v1(0) },
 *     subject       Name,
 *     subjectPKInfo SubjectPublicKeyInfo,
 *     attributes    [0] Attributes }                  -- empty SET: IMPLICIT [0] constructed
 * Name ::= SEQUENCE OF RelativeDistinguishedName (one: CN, UTF8String) */
ztca_rc
agent_csr_info(uint8_t **out, size_t *out_len, const char *cn, const uint8_t *spki, size_t spki_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf b;
    size_t cn_len = strlen(cn);
    der_buf_init(&b, AGENT_CSR_MAX);
    ZTCA_REQUIRE(cn_len >= 1 && cn_len <= 64, ZTCA_ERR_BAD_INPUT, "CSR: CN must be 1-64 bytes");
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(der_add_uint64(&b, 0));
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(der_begin(&b, DER_SET));
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(&b, MBEDTLS_OID_AT_CN));
    ZTCA_CHECK(der_add_tlv(&b, DER_UTF8STRING, (const uint8_t *)cn, cn_len));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_add_raw(&b, spki, spki_len));
    ZTCA_CHECK(der_begin(&b, DER_CONTEXT_C(0)));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_buf_take(&b, out, out_len));
out:
    der_buf_free(&b);
    return rc;
}

/* CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo CertificationRequestInfo,
 *     signatureAlgorithm       AlgorithmIdentifier,   -- ecdsa-with-SHA256, no parameters
 *     signature                BIT STRING }           -- RFC 5758 3.2 */
ztca_rc
agent_csr_pem(char **out, size_t *out_len, const uint8_t *info, size_t info_len, const uint8_t *sig,
              size_t sig_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf b;
    uint8_t *der = NULL;
    size_t der_len = 0;
    der_buf_init(&b, AGENT_CSR_MAX);
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(der_add_raw(&b, info, info_len));
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(&b, MBEDTLS_OID_ECDSA_SHA256));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_add_bitstring(&b, sig, sig_len));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_buf_take(&b, &der, &der_len));
    ZTCA_CHECK(ztca_pem_encode(out, out_len, "CERTIFICATE REQUEST", der, der_len));
out:
    ztca_free(der);
    der_buf_free(&b);
    return rc;
}
