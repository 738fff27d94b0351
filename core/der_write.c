/* der_write.c: the forward DER writer. Elements nest like parentheses: der_begin writes the tag
 * and reserves one length octet, der_end fixes the length up and moves the contents when the
 * length needs the long form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "core/der.h"

void
der_buf_init(der_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
der_buf_free(der_buf *b)
{
    if (b == NULL) {
        return;
    }
    if (b->data != NULL) {
        /* TBS and key encodings pass through here: leave nothing behind. */
        mbedtls_platform_zeroize(b->data, b->cap);
        ztca_free(b->data);
    }
    der_buf_init(b, b->max);
}

#define DER_FAIL(b, e, what)              \
    do {                                  \
        (b)->poisoned = true;             \
        return ZTCA_NOTE((e), (what), 0); \
    } while (0)

static ztca_rc
der_reserve(der_buf *b, size_t extra)
{
    size_t need;
    if (b->poisoned) {
        DER_FAIL(b, ZTCA_ERR_INTERNAL, "DER writer: use after an earlier failure");
    }
    if (extra > b->max || b->len > b->max - extra) {
        DER_FAIL(b, ZTCA_ERR_BAD_INPUT, "DER writer: output exceeds its size limit");
    }
    need = b->len + extra;
    if (need <= b->cap) {
        return ZTCA_RC_OK;
    }
    size_t cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > b->max) {
        cap = b->max;
    }
    uint8_t *data = ztca_malloc(cap);
    if (data == NULL) {
        DER_FAIL(b, ZTCA_ERR_NOMEM, "DER writer: out of memory");
    }
    /* Copy instead of realloc so the old bytes can be wiped. */
    if (b->data != NULL) {
        memcpy(data, b->data, b->len);
        mbedtls_platform_zeroize(b->data, b->cap);
        ztca_free(b->data);
    }
    b->data = data;
    b->cap = cap;
    return ZTCA_RC_OK;
}

ztca_rc
der_buf_take(der_buf *b, uint8_t **out, size_t *out_len)
{
    if (b->poisoned) {
        DER_FAIL(b, ZTCA_ERR_INTERNAL, "DER writer: take after an earlier failure");
    }
    if (b->depth != 0) {
        DER_FAIL(b, ZTCA_ERR_INTERNAL, "DER writer: take with open elements");
    }
    if (b->data == NULL) {
        ZTCA_GUARD(der_reserve(b, 1));
    }
    *out = b->data;
    *out_len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return ZTCA_RC_OK;
}

ztca_rc
der_begin(der_buf *b, uint8_t tag)
{
    if (b->depth >= DER_MAX_DEPTH) {
        DER_FAIL(b, ZTCA_ERR_INTERNAL, "DER writer: nesting too deep");
    }
    ZTCA_GUARD(der_reserve(b, 2));
    b->open[b->depth++] = b->len;
    b->data[b->len++] = tag;
    b->data[b->len++] = 0; /* length placeholder */
    return ZTCA_RC_OK;
}

ztca_rc
der_end(der_buf *b)
{
    if (b->depth == 0) {
        DER_FAIL(b, ZTCA_ERR_INTERNAL, "DER writer: end without begin");
    }
    if (b->poisoned) {
        DER_FAIL(b, ZTCA_ERR_INTERNAL, "DER writer: use after an earlier failure");
    }
    size_t start = b->open[b->depth - 1] + 2; /* first contents octet */
    size_t len = b->len - start;
    size_t extra = 0;
    for (size_t v = len; len >= 0x80 && v > 0; v >>= 8) {
        extra++;
    }
    if (extra > 0) {
        ZTCA_GUARD(der_reserve(b, extra));
        memmove(b->data + start + extra, b->data + start, len);
        b->data[start - 1] = (uint8_t)(0x80 | extra);
        for (size_t i = 0; i < extra; i++) {
            b->data[start + i] = (uint8_t)(len >> (8 * (extra - 1 - i)));
        }
        b->len += extra;
    } else {
        b->data[start - 1] = (uint8_t)len;
    }
    b->depth--;
    return ZTCA_RC_OK;
}

ztca_rc
der_add_raw(der_buf *b, const uint8_t *p, size_t len)
{
    ZTCA_GUARD(der_reserve(b, len));
    if (len > 0) {
        memcpy(b->data + b->len, p, len);
    }
    b->len += len;
    return ZTCA_RC_OK;
}

ztca_rc
der_add_tlv(der_buf *b, uint8_t tag, const uint8_t *p, size_t len)
{
    ZTCA_GUARD(der_begin(b, tag));
    ZTCA_GUARD(der_add_raw(b, p, len));
    return der_end(b);
}

ztca_rc
der_add_uint_bytes(der_buf *b, const uint8_t *p, size_t len)
{
    static const uint8_t zero = 0;
    while (len > 0 && p[0] == 0) {
        p++;
        len--;
    }
    if (len == 0) {
        return der_add_tlv(b, DER_INTEGER, &zero, 1);
    }
    ZTCA_GUARD(der_begin(b, DER_INTEGER));
    if (p[0] & 0x80) {
        ZTCA_GUARD(der_add_raw(b, &zero, 1)); /* keep it non-negative */
    }
    ZTCA_GUARD(der_add_raw(b, p, len));
    return der_end(b);
}

ztca_rc
der_add_uint64(der_buf *b, uint64_t v)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return der_add_uint_bytes(b, be, sizeof(be));
}

ztca_rc
der_add_enumerated(der_buf *b, uint32_t v)
{
    uint8_t be[5] = { 0, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    size_t i = 0;
    while (i < 4 && be[i] == 0 && (be[i + 1] & 0x80) == 0) {
        i++;
    }
    return der_add_tlv(b, DER_ENUMERATED, be + i, sizeof(be) - i);
}

ztca_rc
der_add_bool(der_buf *b, bool v)
{
    uint8_t octet = v ? 0xff : 0x00;
    return der_add_tlv(b, DER_BOOLEAN, &octet, 1);
}

ztca_rc
der_add_null(der_buf *b)
{
    return der_add_tlv(b, DER_NULL, NULL, 0);
}

ztca_rc
der_add_oid(der_buf *b, const char *oid, size_t oid_len)
{
    return der_add_tlv(b, DER_OID, (const uint8_t *)oid, oid_len);
}

ztca_rc
der_add_bitstring(der_buf *b, const uint8_t *p, size_t len)
{
    static const uint8_t no_unused = 0;
    ZTCA_GUARD(der_begin(b, DER_BITSTRING));
    ZTCA_GUARD(der_add_raw(b, &no_unused, 1));
    ZTCA_GUARD(der_add_raw(b, p, len));
    return der_end(b);
}

ztca_rc
der_add_bits(der_buf *b, uint16_t bits)
{
    uint8_t v[3] = { 0, 0, 0 }; /* unused-bits octet, then up to 16 named bits */
    size_t octets = 0;
    int highest = -1;
    for (int n = 0; n < 16; n++) {
        if (bits & (1u << n)) {
            v[1 + n / 8] |= (uint8_t)(0x80 >> (n % 8));
            highest = n;
        }
    }
    if (highest >= 0) {
        octets = (size_t)highest / 8 + 1;
        v[0] = (uint8_t)(7 - highest % 8); /* X.690 11.2.2: no trailing zero bits */
    }
    return der_add_tlv(b, DER_BITSTRING, v, 1 + octets);
}

static ztca_rc
der_add_time_tag(der_buf *b, ztca_time t, bool generalized)
{
    ztca_tm tm;
    char s[16];
    if (!ZTCA_IS_OK(ztca_time_to_tm(&tm, t))) {
        DER_FAIL(b, ZTCA_ERR_BAD_INPUT, "DER writer: time outside years 1-9999");
    }
    if (generalized) {
        snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ", tm.year, tm.mon, tm.day, tm.hour,
                 tm.min, tm.sec);
        return der_add_tlv(b, DER_GENERALIZEDTIME, (const uint8_t *)s, 15);
    }
    if (tm.year < 1950) {
        DER_FAIL(b, ZTCA_ERR_BAD_INPUT, "DER writer: UTCTime before 1950");
    }
    snprintf(s, sizeof(s), "%02d%02d%02d%02d%02d%02dZ", tm.year % 100, tm.mon, tm.day, tm.hour,
             tm.min, tm.sec);
    return der_add_tlv(b, DER_UTCTIME, (const uint8_t *)s, 13);
}

ztca_rc
der_add_time(der_buf *b, ztca_time t)
{
    ztca_tm tm;
    if (!ZTCA_IS_OK(ztca_time_to_tm(&tm, t))) {
        DER_FAIL(b, ZTCA_ERR_BAD_INPUT, "DER writer: time outside years 1-9999");
    }
    /* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
    return der_add_time_tag(b, t, tm.year >= 2050 || tm.year < 1950);
}

ztca_rc
der_add_generalized_time(der_buf *b, ztca_time t)
{
    return der_add_time_tag(b, t, true);
}

/* One sub-identifier, base 128, most significant group first, the high bit on all but the last. */
static ztca_rc
der_oid_put_arc(uint8_t *out, size_t out_size, size_t *pos, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)(v & 0x7f);
        v >>= 7;
    } while (v != 0);
    ZTCA_ENSURE(*pos + n <= out_size, ZTCA_ERR_BAD_INPUT, "OID: too long");
    while (n > 0) {
        n--;
        out[(*pos)++] = (uint8_t)(tmp[n] | (n > 0 ? 0x80 : 0));
    }
    return ZTCA_RC_OK;
}

ztca_rc
der_oid_from_dotted(uint8_t *out, size_t out_size, size_t *out_len, const char *dotted)
{
    uint64_t arcs[2] = { 0, 0 };
    size_t num = 0, pos = 0;
    const char *s = dotted;
    for (;;) {
        uint64_t v = 0;
        const char *start = s;
        while (*s >= '0' && *s <= '9') {
            unsigned d = (unsigned)(*s - '0');
            ZTCA_ENSURE(v <= (UINT64_MAX - d) / 10, ZTCA_ERR_BAD_INPUT, "OID: arc too large");
            v = v * 10 + d;
            s++;
        }
        ZTCA_ENSURE(s > start && (s - start == 1 || *start != '0'), ZTCA_ERR_BAD_INPUT,
                    "OID: arcs are decimal numbers without leading zeros");
        if (num < 2) {
            arcs[num] = v;
        } else {
            ZTCA_GUARD(der_oid_put_arc(out, out_size, &pos, v));
        }
        num++;
        if (num == 2) {
            ZTCA_ENSURE(arcs[0] <= 2 && (arcs[0] == 2 || arcs[1] < 40), ZTCA_ERR_BAD_INPUT,
                        "OID: the first arc is 0, 1 or 2 and the second below 40 under 0 and 1");
            ZTCA_ENSURE(arcs[1] <= UINT64_MAX - 80, ZTCA_ERR_BAD_INPUT, "OID: arc too large");
            ZTCA_GUARD(der_oid_put_arc(out, out_size, &pos, arcs[0] * 40 + arcs[1]));
        }
        if (*s == '\0') {
            break;
        }
        ZTCA_ENSURE(*s == '.', ZTCA_ERR_BAD_INPUT, "OID: arcs are separated by dots");
        s++;
    }
    ZTCA_ENSURE(num >= 2, ZTCA_ERR_BAD_INPUT, "OID: at least two arcs");
    *out_len = pos;
    return ZTCA_RC_OK;
}
