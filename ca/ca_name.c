/* ca_name.c: distinguished names. ztca's names are built, never copied from requests. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/oid.h>

#include "ca/internal.h"

/* Name ::= CHOICE { rdnSequence RDNSequence }, RDNSequence ::= SEQUENCE OF
 * RelativeDistinguishedName, RelativeDistinguishedName ::= SET SIZE (1..MAX) OF
 * AttributeTypeAndValue, AttributeTypeAndValue ::= SEQUENCE { type, value }   (RFC 5280 4.1.2.4) */
static ztca_rc
ca_name_add_rdn(der_buf *b, const char *oid, size_t oid_len, const char *value)
{
    ZTCA_ENSURE(strlen(value) > 0 && strlen(value) <= 64, ZTCA_ERR_BAD_INPUT,
                "name attribute must be 1-64 characters (RFC 5280 ub-common-name)");
    ZTCA_GUARD(der_begin(b, DER_SET));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_add_oid(b, oid, oid_len));
    ZTCA_GUARD(der_add_tlv(b, DER_UTF8STRING, (const uint8_t *)value, strlen(value)));
    ZTCA_GUARD(der_end(b));
    return der_end(b);
}

ztca_rc
ca_name_add(der_buf *b, const char *o, const char *ou, const char *cn)
{
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    if (o != NULL) {
        ZTCA_GUARD(ca_name_add_rdn(b, MBEDTLS_OID_AT_ORGANIZATION,
                                   sizeof(MBEDTLS_OID_AT_ORGANIZATION) - 1, o));
    }
    if (ou != NULL) {
        ZTCA_GUARD(
            ca_name_add_rdn(b, MBEDTLS_OID_AT_ORG_UNIT, sizeof(MBEDTLS_OID_AT_ORG_UNIT) - 1, ou));
    }
    if (cn != NULL) {
        ZTCA_GUARD(ca_name_add_rdn(b, MBEDTLS_OID_AT_CN, sizeof(MBEDTLS_OID_AT_CN) - 1, cn));
    }
    return der_end(b);
}

ztca_rc
ca_pem_concat(char **out, const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    char *s = ztca_malloc(la + lb + 1);
    ZTCA_ENSURE(s != NULL, ZTCA_ERR_NOMEM, "out of memory");
    snprintf(s, la + lb + 1, "%s%s", a, b);
    *out = s;
    return ZTCA_RC_OK;
}
