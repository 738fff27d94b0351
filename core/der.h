/* der.h: the bounded DER reader (a CBS-like borrowed cursor on mbedTLS's asn1 parser) and the
 * forward DER writer (a CBB-like growing buffer). Strict DER only: definite minimal lengths,
 * low tag numbers, minimal INTEGERs, DER BOOLEANs, RFC 5280 times. */
#ifndef ZTCA_CORE_DER_H
#define ZTCA_CORE_DER_H

#include "core/core.h"

#define DER_BOOLEAN         0x01
#define DER_INTEGER         0x02
#define DER_BITSTRING       0x03
#define DER_OCTETSTRING     0x04
#define DER_NULL            0x05
#define DER_OID             0x06
#define DER_ENUMERATED      0x0a
#define DER_UTF8STRING      0x0c
#define DER_PRINTABLESTRING 0x13
#define DER_IA5STRING       0x16
#define DER_UTCTIME         0x17
#define DER_GENERALIZEDTIME 0x18
#define DER_SEQUENCE        0x30
#define DER_SET             0x31
#define DER_CONTEXT(n)      (0x80 | (n))        /* [n] IMPLICIT, primitive */
#define DER_CONTEXT_C(n)    (0x80 | 0x20 | (n)) /* [n] EXPLICIT or constructed */

#define DER_MAX_DEPTH  32 /* nesting depth of the writer */
#define DER_SERIAL_MAX 20 /* RFC 5280 4.1.2.2 */

/* der_cur: a borrowed view into bytes the caller keeps alive. */
typedef struct der_cur {
    const uint8_t *p;
    size_t len;
} der_cur;

static inline der_cur
der_cur_make(const uint8_t *p, size_t len)
{
    der_cur c = { p, len };
    return c;
}

/* Every getter consumes exactly one element on success, or leaves the cursor unchanged and
 * returns ZTCA_ERR_BAD_INPUT. */

/* der_get: an element with exactly `tag`; *out_contents views its contents. */
ZTCA_RC der_get(der_cur *c, der_cur *out_contents, uint8_t tag);
/* der_get_element: like der_get, but *out_element views the whole TLV (for signed bytes). */
ZTCA_RC der_get_element(der_cur *c, der_cur *out_element, uint8_t tag);
/* der_get_any: any low-number tag; outputs may be NULL. */
ZTCA_RC der_get_any(der_cur *c, uint8_t *out_tag, der_cur *out_contents, der_cur *out_element);
/* der_get_optional: if the next tag is `tag` read it and set *out_present, else leave it. */
ZTCA_RC der_get_optional(der_cur *c, der_cur *out_contents, bool *out_present, uint8_t tag);
/* der_peek_tag: true when the next element starts with `tag` (length not checked). */
bool der_peek_tag(const der_cur *c, uint8_t tag);
/* der_expect_end: BAD_INPUT when bytes remain ("trailing data"). */
ZTCA_RC der_expect_end(const der_cur *c);

/* der_get_uint64: a non-negative minimal INTEGER that fits in 64 bits. */
ZTCA_RC der_get_uint64(der_cur *c, uint64_t *out);
/* der_get_enumerated: a non-negative minimal ENUMERATED up to 2^31-1. */
ZTCA_RC der_get_enumerated(der_cur *c, uint32_t *out);
/* der_get_serial: a positive minimal INTEGER of at most 20 octets; view of its octets (a leading
 * 0x00 sign octet is kept in the view, as DER has it). */
ZTCA_RC der_get_serial(der_cur *c, der_cur *out);
/* der_get_bool: DER BOOLEAN (0x00 or 0xff). */
ZTCA_RC der_get_bool(der_cur *c, bool *out);
/* der_get_oid: contents of an OBJECT IDENTIFIER, checked for minimal sub-identifiers. */
ZTCA_RC der_get_oid(der_cur *c, der_cur *out);
/* der_get_bitstring: contents after the unused-bits octet; *out_unused_bits is 0..7 and the
 * unused bits must be zero (DER). */
ZTCA_RC der_get_bitstring(der_cur *c, der_cur *out, uint8_t *out_unused_bits);
/* der_get_time: UTCTime (1950-2049) or GeneralizedTime, "Z" and seconds required, no fractions
 * (RFC 5280 4.1.2.5). */
ZTCA_RC der_get_time(der_cur *c, ztca_time *out);
/* der_get_null: NULL with empty contents. */
ZTCA_RC der_get_null(der_cur *c);

/* der_oid_equal: contents of an OID against DER contents bytes such as MBEDTLS_OID_*. */
bool der_oid_equal(const der_cur *oid, const char *oid_bytes, size_t oid_len);
#define DER_OID_IS(cur, MBED_OID) der_oid_equal((cur), (MBED_OID), sizeof(MBED_OID) - 1)

/* ---- writer ------------------------------------------------------------------------------- */

/* der_buf: grows forward up to `max`. Any failure poisons it: every later call fails too, so a
 * missed check cannot produce truncated but valid-looking DER. */
typedef struct der_buf {
    uint8_t *data; /* owned */
    size_t len;
    size_t cap;
    size_t max;
    size_t open[DER_MAX_DEPTH]; /* offsets of the open elements' tags */
    size_t depth;
    bool poisoned;
} der_buf;

void der_buf_init(der_buf *b, size_t max);
void der_buf_free(der_buf *b);
/* der_buf_take: hands over the malloc'd bytes (all elements closed, not poisoned); the buffer
 * returns to the zero state. */
ZTCA_RC der_buf_take(der_buf *b, uint8_t **out, size_t *out_len);

ZTCA_RC der_begin(der_buf *b, uint8_t tag);
ZTCA_RC der_end(der_buf *b);
/* der_add_raw: bytes that are already DER (a TBS, a Name, an SPKI). */
ZTCA_RC der_add_raw(der_buf *b, const uint8_t *p, size_t len);
/* der_add_tlv: a primitive element with these contents. */
ZTCA_RC der_add_tlv(der_buf *b, uint8_t tag, const uint8_t *p, size_t len);
ZTCA_RC der_add_uint64(der_buf *b, uint64_t v);
ZTCA_RC der_add_enumerated(der_buf *b, uint32_t v);
/* der_add_uint_bytes: an unsigned big-endian magnitude as a minimal non-negative INTEGER. */
ZTCA_RC der_add_uint_bytes(der_buf *b, const uint8_t *p, size_t len);
ZTCA_RC der_add_bool(der_buf *b, bool v);
ZTCA_RC der_add_null(der_buf *b);
/* der_add_oid: OID contents (MBEDTLS_OID_* strings); DER_ADD_OID for literals. */
ZTCA_RC der_add_oid(der_buf *b, const char *oid, size_t oid_len);
#define DER_ADD_OID(b, MBED_OID) der_add_oid((b), (MBED_OID), sizeof(MBED_OID) - 1)
/* der_oid_from_dotted: "1.3.6.1.4.1.32473.2" as OID contents octets (X.690 8.19) into
 * out[out_size]; at least two arcs, the first 0..2 (the second below 40 unless the first is 2),
 * each arc below 2^64, decimal without leading zeros. BAD_INPUT otherwise (mbedTLS 2.28 has no
 * such function; 3.x's mbedtls_oid_from_numeric_string does the same). */
ZTCA_RC der_oid_from_dotted(uint8_t *out, size_t out_size, size_t *out_len, const char *dotted);
/* der_add_bitstring: whole octets, no unused bits. */
ZTCA_RC der_add_bitstring(der_buf *b, const uint8_t *p, size_t len);
/* der_add_bits: a named-bit BIT STRING from `bits` (bit 0 = the MSB of the first octet), DER
 * trailing-zero trimming (X.690 11.2.2); width at most 16 bits. */
ZTCA_RC der_add_bits(der_buf *b, uint16_t bits);
/* der_add_time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
ZTCA_RC der_add_time(der_buf *b, ztca_time t);
ZTCA_RC der_add_generalized_time(der_buf *b, ztca_time t);

#endif /* ZTCA_CORE_DER_H */
