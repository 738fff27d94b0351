/* ca_trust.c: "was this client certificate issued by us, and may it authenticate now?" for
 * callers that see a certificate outside a TLS handshake (the authz endpoint: nginx and Envoy
 * hand over the client certificate they verified). Chain and signature checks are mbedTLS's;
 * the time check uses ztca's clock so that every decision of a request uses one instant. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "ca/internal.h"

struct ca_trust {
    mbedtls_x509_crt cas; /* the issuing CA certificates we answer for, as trust anchors */
};

ztca_rc
ca_trust_new(ca_trust **out, const uint8_t *const *certs, const size_t *lens, size_t num)
{
    ZTCA_ENSURE(num > 0, ZTCA_ERR_BAD_INPUT, "trust: no CA certificate");
    ca_trust *t = calloc(1, sizeof(*t));
    ZTCA_ENSURE(t != NULL, ZTCA_ERR_NOMEM, "trust: out of memory");
    mbedtls_x509_crt_init(&t->cas);
    for (size_t i = 0; i < num; i++) {
        int e = mbedtls_x509_crt_parse_der(&t->cas, certs[i], lens[i]);
        if (e != 0) {
            ca_trust_free(t);
            return ZTCA_NOTE(ZTCA_ERR_BAD_INPUT, "trust: a CA certificate does not parse", e);
        }
    }
    *out = t;
    return ZTCA_RC_OK;
}

void
ca_trust_free(ca_trust *t)
{
    if (t != NULL) {
        mbedtls_x509_crt_free(&t->cas);
        free(t);
    }
}

ztca_rc
ca_trust_check_client(const ca_trust *t, const uint8_t *der, size_t der_len, ztca_time now,
                      const char **out_reason)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_cert_fields f;
    uint32_t flags = 0;
    mbedtls_x509_crt leaf;
    mbedtls_x509_crt_init(&leaf);
    *out_reason = "";
    /* Our strict walk first: mbedTLS accepts some encodings ztca never issues. */
    if (!ZTCA_IS_OK(ca_cert_split(&f, der, der_len))
        || mbedtls_x509_crt_parse_der(&leaf, der, der_len) != 0) {
        *out_reason = "not a certificate (strict DER, X.509 v3)";
        ZTCA_REQUIRE(false, ZTCA_ERR_BAD_INPUT, "client certificate does not parse");
    }
    /* The trust anchors are our issuing CAs, so a chain of one: the certificate itself. The
     * mbedTLS clock flags are ignored in favour of ztca's instant below. */
    int e = mbedtls_x509_crt_verify(&leaf, (mbedtls_x509_crt *)(uintptr_t)&t->cas, NULL, NULL,
                                    &flags, NULL, NULL);
    flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    if (e != 0 && flags != 0) {
        *out_reason = "not issued by this CA (or its signature does not verify)";
        ZTCA_REQUIRE(false, ZTCA_ERR_DENIED, "client certificate from another CA");
    }
    if (now < f.not_before || now > f.not_after) {
        *out_reason = now < f.not_before ? "not yet valid" : "expired";
        ZTCA_REQUIRE(false, ZTCA_ERR_DENIED, "client certificate outside its validity");
    }
    if (mbedtls_x509_crt_check_extended_key_usage(&leaf, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH))
        != 0) {
        *out_reason = "not a client certificate (no clientAuth)";
        ZTCA_REQUIRE(false, ZTCA_ERR_DENIED, "certificate without clientAuth");
    }
out:
    mbedtls_x509_crt_free(&leaf);
    return rc;
}
