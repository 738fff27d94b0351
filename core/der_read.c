/* der_read.c: the strict DER reader. mbedtls_asn1_get_tag parses each header; this wrapper adds
 * what DER requires and mbedTLS 2.28 does not check (minimal lengths, low tag numbers), keeps the
 * cursor unchanged on failure (mbedTLS leaves *p undefined), and holds the tree's only const-cast.
 */
#include <string.h>

#include <mbedtls/asn1.h>

#include "core/der.h"

/* X.690 8.1.3.5: a length in long form must need its long form and have no leading zero. */
static size_t
der_min_len_octets(size_t len)
{
    size_t n = 1;
    if (len < 0x80) {
        return 1;
    }
    while (len > 0) {
        n++;
        len >>= 8;
    }
    return n;
}

/* Reads one header with exactly `tag` and its contents; *out_hdr_len is the header size. */
static ztca_rc
der_read_tlv(const der_cur *c, uint8_t tag, der_cur *out_contents, size_t *out_hdr_len)
{
    size_t len = 0;
    /* First: an empty cursor may have a NULL pointer, and NULL + 0 is undefined in C. */
    ZTCA_ENSURE(c->len >= 2, ZTCA_ERR_BAD_INPUT, "DER: truncated element");
    unsigned char *p = (unsigned char *)(uintptr_t)c->p; /* mbedTLS takes non-const; reads only */
    const unsigned char *end = c->p + c->len;
    ZTCA_ENSURE((tag & 0x1f) != 0x1f, ZTCA_ERR_INTERNAL, "DER: high tag numbers are not used");
    ZTCA_ENSURE(c->p[0] == tag, ZTCA_ERR_BAD_INPUT, "DER: unexpected tag");
    ZTCA_ENSURE(mbedtls_asn1_get_tag(&p, end, &len, tag) == 0, ZTCA_ERR_BAD_INPUT,
                "DER: bad or truncated length (X.690 8.1.3)");
    size_t hdr = (size_t)(p - c->p);
    ZTCA_ENSURE(hdr == 1 + der_min_len_octets(len), ZTCA_ERR_BAD_INPUT,
                "DER: non-minimal length (X.690 10.1)");
    out_contents->p = p;
    out_contents->len = len;
    *out_hdr_len = hdr;
    return ZTCA_RC_OK;
}

ztca_rc
der_get(der_cur *c, der_cur *out_contents, uint8_t tag)
{
    der_cur contents;
    size_t hdr;
    ZTCA_GUARD(der_read_tlv(c, tag, &contents, &hdr));
    *out_contents = contents;
    c->p += hdr + contents.len;
    c->len -= hdr + contents.len;
    return ZTCA_RC_OK;
}

ztca_rc
der_get_element(der_cur *c, der_cur *out_element, uint8_t tag)
{
    der_cur contents;
    size_t hdr;
    ZTCA_GUARD(der_read_tlv(c, tag, &contents, &hdr));
    out_element->p = c->p;
    out_element->len = hdr + contents.len;
    c->p += hdr + contents.len;
    c->len -= hdr + contents.len;
    return ZTCA_RC_OK;
}

ztca_rc
der_get_any(der_cur *c, uint8_t *out_tag, der_cur *out_contents, der_cur *out_element)
{
    der_cur contents;
    size_t hdr;
    ZTCA_ENSURE(c->len >= 2, ZTCA_ERR_BAD_INPUT, "DER: truncated element");
    uint8_t tag = c->p[0];
    ZTCA_ENSURE((tag & 0x1f) != 0x1f, ZTCA_ERR_BAD_INPUT, "DER: high tag number form");
    ZTCA_GUARD(der_read_tlv(c, tag, &contents, &hdr));
    if (out_tag != NULL) {
        *out_tag = tag;
    }
    if (out_contents != NULL) {
        *out_contents = contents;
    }
    if (out_element != NULL) {
        out_element->p = c->p;
        out_element->len = hdr + contents.len;
    }
    c->p += hdr + contents.len;
    c->len -= hdr + contents.len;
    return ZTCA_RC_OK;
}

bool
der_peek_tag(const der_cur *c, uint8_t tag)
{
    return c->len > 0 && c->p[0] == tag;
}

ztca_rc
der_get_optional(der_cur *c, der_cur *out_contents, bool *out_present, uint8_t tag)
{
    if (!der_peek_tag(c, tag)) {
        *out_present = false;
        return ZTCA_RC_OK;
    }
    ZTCA_GUARD(der_get(c, out_contents, tag));
    *out_present = true;
    return ZTCA_RC_OK;
}

ztca_rc
der_expect_end(const der_cur *c)
{
    ZTCA_ENSURE(c->len == 0, ZTCA_ERR_BAD_INPUT, "DER: trailing data");
    return ZTCA_RC_OK;
}

/* X.690 8.3.2: the first nine bits of an INTEGER are not all equal. */
static ztca_rc
der_check_integer(const der_cur *v)
{
    ZTCA_ENSURE(v->len > 0, ZTCA_ERR_BAD_INPUT, "DER: empty INTEGER");
    if (v->len > 1) {
        ZTCA_ENSURE(!(v->p[0] == 0x00 && (v->p[1] & 0x80) == 0), ZTCA_ERR_BAD_INPUT,
                    "DER: INTEGER with a padding zero octet");
        ZTCA_ENSURE(!(v->p[0] == 0xff && (v->p[1] & 0x80) != 0), ZTCA_ERR_BAD_INPUT,
                    "DER: INTEGER with a padding 0xff octet");
    }
    return ZTCA_RC_OK;
}

static ztca_rc
der_get_unsigned(der_cur *c, uint8_t tag, uint64_t max, uint64_t *out)
{
    der_cur copy = *c;
    der_cur v;
    uint64_t x = 0;
    ZTCA_GUARD(der_get(&copy, &v, tag));
    ZTCA_GUARD(der_check_integer(&v));
    ZTCA_ENSURE((v.p[0] & 0x80) == 0, ZTCA_ERR_BAD_INPUT, "DER: negative INTEGER");
    ZTCA_ENSURE(v.len <= 9 && (v.len < 9 || v.p[0] == 0), ZTCA_ERR_BAD_INPUT,
                "DER: INTEGER too large");
    for (size_t i = 0; i < v.len; i++) {
        x = (x << 8) | v.p[i];
    }
    ZTCA_ENSURE(x <= max, ZTCA_ERR_BAD_INPUT, "DER: INTEGER out of range");
    *out = x;
    *c = copy;
    return ZTCA_RC_OK;
}

ztca_rc
der_get_uint64(der_cur *c, uint64_t *out)
{
    return der_get_unsigned(c, DER_INTEGER, UINT64_MAX, out);
}

ztca_rc
der_get_enumerated(der_cur *c, uint32_t *out)
{
    uint64_t v;
    ZTCA_GUARD(der_get_unsigned(c, DER_ENUMERATED, 0x7fffffff, &v));
    *out = (uint32_t)v;
    return ZTCA_RC_OK;
}

ztca_rc
der_get_serial(der_cur *c, der_cur *out)
{
    der_cur copy = *c;
    der_cur v;
    ZTCA_GUARD(der_get(&copy, &v, DER_INTEGER));
    ZTCA_GUARD(der_check_integer(&v));
    ZTCA_ENSURE((v.p[0] & 0x80) == 0, ZTCA_ERR_BAD_INPUT,
                "RFC 5280 4.1.2.2: serial number must be positive");
    ZTCA_ENSURE(!(v.len == 1 && v.p[0] == 0), ZTCA_ERR_BAD_INPUT,
                "RFC 5280 4.1.2.2: serial number must be positive");
    ZTCA_ENSURE(v.len <= DER_SERIAL_MAX, ZTCA_ERR_BAD_INPUT,
                "RFC 5280 4.1.2.2: serial number longer than 20 octets");
    *out = v;
    *c = copy;
    return ZTCA_RC_OK;
}

ztca_rc
der_get_bool(der_cur *c, bool *out)
{
    der_cur copy = *c;
    der_cur v;
    ZTCA_GUARD(der_get(&copy, &v, DER_BOOLEAN));
    ZTCA_ENSURE(v.len == 1 && (v.p[0] == 0x00 || v.p[0] == 0xff), ZTCA_ERR_BAD_INPUT,
                "DER: BOOLEAN must be 0x00 or 0xff (X.690 11.1)");
    *out = v.p[0] == 0xff;
    *c = copy;
    return ZTCA_RC_OK;
}

ztca_rc
der_get_null(der_cur *c)
{
    der_cur copy = *c;
    der_cur v;
    ZTCA_GUARD(der_get(&copy, &v, DER_NULL));
    ZTCA_ENSURE(v.len == 0, ZTCA_ERR_BAD_INPUT, "DER: NULL with contents");
    *c = copy;
    return ZTCA_RC_OK;
}

ztca_rc
der_get_oid(der_cur *c, der_cur *out)
{
    der_cur copy = *c;
    der_cur v;
    ZTCA_GUARD(der_get(&copy, &v, DER_OID));
    ZTCA_ENSURE(v.len > 0, ZTCA_ERR_BAD_INPUT, "DER: empty OBJECT IDENTIFIER");
    ZTCA_ENSURE((v.p[v.len - 1] & 0x80) == 0, ZTCA_ERR_BAD_INPUT,
                "DER: OBJECT IDENTIFIER ends inside a sub-identifier");
    for (size_t i = 0; i < v.len; i++) {
        /* X.690 8.19.2: a sub-identifier does not start with 0x80. */
        bool starts = i == 0 || (v.p[i - 1] & 0x80) == 0;
        ZTCA_ENSURE(!(starts && v.p[i] == 0x80), ZTCA_ERR_BAD_INPUT,
                    "DER: non-minimal OBJECT IDENTIFIER sub-identifier");
    }
    *out = v;
    *c = copy;
    return ZTCA_RC_OK;
}

bool
der_oid_equal(const der_cur *oid, const char *oid_bytes, size_t oid_len)
{
    return oid->len == oid_len && memcmp(oid->p, oid_bytes, oid_len) == 0;
}

ztca_rc
der_get_bitstring(der_cur *c, der_cur *out, uint8_t *out_unused_bits)
{
    der_cur copy = *c;
    der_cur v;
    ZTCA_GUARD(der_get(&copy, &v, DER_BITSTRING));
    ZTCA_ENSURE(v.len >= 1, ZTCA_ERR_BAD_INPUT, "DER: BIT STRING without its unused-bits octet");
    uint8_t unused = v.p[0];
    ZTCA_ENSURE(unused <= 7, ZTCA_ERR_BAD_INPUT, "DER: BIT STRING unused bits above 7");
    ZTCA_ENSURE(v.len > 1 || unused == 0, ZTCA_ERR_BAD_INPUT,
                "DER: empty BIT STRING with unused bits");
    if (unused > 0) {
        ZTCA_ENSURE((v.p[v.len - 1] & ((1u << unused) - 1)) == 0, ZTCA_ERR_BAD_INPUT,
                    "DER: BIT STRING unused bits not zero (X.690 11.2.1)");
    }
    out->p = v.p + 1;
    out->len = v.len - 1;
    *out_unused_bits = unused;
    *c = copy;
    return ZTCA_RC_OK;
}

static bool
der_digits(const uint8_t *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

ztca_rc
der_get_time(der_cur *c, ztca_time *out)
{
    der_cur copy = *c;
    der_cur v;
    ztca_tm tm;
    ztca_time t;
    const uint8_t *s;
    if (der_peek_tag(c, DER_UTCTIME)) {
        /* RFC 5280 4.1.2.5.1: YYMMDDHHMMSSZ; YY >= 50 is 19YY, otherwise 20YY. */
        ZTCA_GUARD(der_get(&copy, &v, DER_UTCTIME));
        ZTCA_ENSURE(v.len == 13 && v.p[12] == 'Z', ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 4.1.2.5.1: UTCTime must be YYMMDDHHMMSSZ");
        s = v.p;
        ZTCA_ENSURE(der_digits(s, 2, &tm.year), ZTCA_ERR_BAD_INPUT, "UTCTime: bad year");
        tm.year += tm.year >= 50 ? 1900 : 2000;
        s += 2;
    } else {
        /* RFC 5280 4.1.2.5.2: YYYYMMDDHHMMSSZ, no fractional seconds. */
        ZTCA_GUARD(der_get(&copy, &v, DER_GENERALIZEDTIME));
        ZTCA_ENSURE(v.len == 15 && v.p[14] == 'Z', ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 4.1.2.5.2: GeneralizedTime must be YYYYMMDDHHMMSSZ");
        s = v.p;
        ZTCA_ENSURE(der_digits(s, 4, &tm.year), ZTCA_ERR_BAD_INPUT, "GeneralizedTime: bad year");
        s += 4;
    }
    ZTCA_ENSURE(der_digits(s, 2, &tm.mon) && der_digits(s + 2, 2, &tm.day)
                    && der_digits(s + 4, 2, &tm.hour) && der_digits(s + 6, 2, &tm.min)
                    && der_digits(s + 8, 2, &tm.sec),
                ZTCA_ERR_BAD_INPUT, "DER time: non-digit in date or time");
    ZTCA_GUARD(ztca_time_from_tm(&t, &tm));
    *out = t;
    *c = copy;
    return ZTCA_RC_OK;
}
