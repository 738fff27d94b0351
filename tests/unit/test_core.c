/* test_core.c: the CUnit suite of core/: the strict DER reader (hand-written positive vectors, a
 * table of named negative cases, every prefix of multi-element inputs), the DER writer (exact
 * bytes, length forms, poisoning, limits), RFC 5280 and RFC 3339 time, durations, hex, base64
 * (RFC 4648 section 10 vectors), PEM, the error notes, and OOM through ztca_alloc_fail_after.
 * Every expected value is written out by hand (or computed independently, e.g. with Python's
 * calendar.timegm for times), never produced by the code under test. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/oid.h>

#include "core/core.h"
#include "core/der.h"
#include "tests/unit/unit.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* B("...") is the pointer and length of a byte-string literal without its NUL, for tables. Hex
 * escapes are greedy, so a literal that continues with a hex digit is split: "\x17\x0d" "49". */
#define B(s) (const uint8_t *)(s), (sizeof(s) - 1)
#define T(s) (s), (sizeof(s) - 1) /* the same for text */

/* Byte comparisons that report the caller's line; memcmp only when the lengths agree (and never
 * on a NULL pointer, which UBSan's nonnull-attribute check would flag). */
#define ASSERT_BYTES(got, got_len, want, want_len)                     \
    do {                                                               \
        CU_ASSERT_EQUAL((got_len), (want_len));                        \
        if ((got_len) == (want_len) && (want_len) > 0) {               \
            CU_ASSERT_PTR_NOT_NULL(got);                               \
            if ((got) != NULL) {                                       \
                CU_ASSERT_EQUAL(memcmp((got), (want), (want_len)), 0); \
            }                                                          \
        }                                                              \
    } while (0)
#define ASSERT_BYTES_LIT(got, got_len, lit) \
    ASSERT_BYTES((got), (got_len), (const uint8_t *)(lit), sizeof(lit) - 1)

/* A heap buffer of exactly prefix_len + pad bytes: the prefix, then `pad` copies of `fill`. */
static uint8_t *
test_make(const uint8_t *prefix, size_t prefix_len, size_t pad, uint8_t fill)
{
    uint8_t *p = malloc(prefix_len + pad == 0 ? 1 : prefix_len + pad);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (prefix_len > 0) {
        memcpy(p, prefix, prefix_len);
    }
    memset(p + prefix_len, fill, pad);
    return p;
}

/* A recognisable pattern for long contents, so a misplaced memmove cannot go unnoticed. */
static uint8_t
test_pattern(size_t i)
{
    return (uint8_t)(i * 7 + i / 251 + 1);
}

/* An exact-size heap copy of the DER time element `tag` with `text` as its contents. */
static uint8_t *
test_time_tlv(uint8_t tag, const char *text, size_t *out_len)
{
    size_t n = strlen(text);
    CU_ASSERT_FATAL(n < 0x80);
    uint8_t *p = malloc(2 + n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p[0] = tag;
    p[1] = (uint8_t)n;
    memcpy(p + 2, text, n);
    *out_len = 2 + n;
    return p;
}

/* ---- DER reader: positive vectors ----------------------------------------------------------- */

static void
test_der_read_sequence(void)
{
    /* An empty cursor may carry a NULL pointer (an empty HTTP body): refused, no pointer
     * arithmetic on NULL (UBSan checks). */
    der_cur empty = der_cur_make(NULL, 0);
    der_cur out;
    UNIT_ASSERT_ERR(der_get(&empty, &out, DER_SEQUENCE), ZTCA_ERR_BAD_INPUT);
    uint8_t any_tag = 0;
    UNIT_ASSERT_ERR(der_get_any(&empty, &any_tag, NULL, NULL), ZTCA_ERR_BAD_INPUT);

    /* SEQUENCE { INTEGER 5, OCTET STRING ab cd, NULL }, then BOOLEAN TRUE */
    static const uint8_t der[] = { 0x30, 0x09, 0x02, 0x01, 0x05, 0x04, 0x02,
                                   0xab, 0xcd, 0x05, 0x00, 0x01, 0x01, 0xff };
    uint8_t *buf = unit_dup(der, sizeof(der));
    der_cur c = der_cur_make(buf, sizeof(der));
    der_cur seq, oct, elem;
    uint64_t v = 99;
    bool b = false;

    CU_ASSERT_TRUE(der_peek_tag(&c, DER_SEQUENCE));
    CU_ASSERT_FALSE(der_peek_tag(&c, DER_SET));
    UNIT_ASSERT_OK(der_get(&c, &seq, DER_SEQUENCE));
    CU_ASSERT_PTR_EQUAL(seq.p, buf + 2);
    CU_ASSERT_EQUAL(seq.len, 9);
    CU_ASSERT_PTR_EQUAL(c.p, buf + 11);
    CU_ASSERT_EQUAL(c.len, 3);
    UNIT_ASSERT_OK(der_get_uint64(&seq, &v));
    CU_ASSERT_EQUAL(v, 5);
    UNIT_ASSERT_OK(der_get(&seq, &oct, DER_OCTETSTRING));
    CU_ASSERT_PTR_EQUAL(oct.p, buf + 7);
    CU_ASSERT_EQUAL(oct.len, 2);
    UNIT_ASSERT_OK(der_get_null(&seq));
    UNIT_ASSERT_OK(der_expect_end(&seq));
    UNIT_ASSERT_OK(der_get_bool(&c, &b));
    CU_ASSERT_TRUE(b);
    UNIT_ASSERT_OK(der_expect_end(&c));
    CU_ASSERT_FALSE(der_peek_tag(&c, DER_SEQUENCE)); /* empty: nothing to peek at */

    /* der_get_element views the whole TLV, as signed bytes are taken. */
    c = der_cur_make(buf, sizeof(der));
    UNIT_ASSERT_OK(der_get_element(&c, &elem, DER_SEQUENCE));
    CU_ASSERT_PTR_EQUAL(elem.p, buf);
    CU_ASSERT_EQUAL(elem.len, 11);
    CU_ASSERT_PTR_EQUAL(c.p, buf + 11);
    CU_ASSERT_EQUAL(c.len, 3);
    free(buf);
}

static void
test_der_read_any_and_context(void)
{
    /* SET { INTEGER 7 }, [0] EXPLICIT { INTEGER 5 }, [1] IMPLICIT OCTET STRING aa bb */
    static const uint8_t der[] = { 0x31, 0x03, 0x02, 0x01, 0x07, 0xa0, 0x03,
                                   0x02, 0x01, 0x05, 0x81, 0x02, 0xaa, 0xbb };
    uint8_t *buf = unit_dup(der, sizeof(der));
    der_cur c = der_cur_make(buf, sizeof(der));
    der_cur contents, elem, expl, impl;
    uint8_t tag = 0;
    uint64_t v = 0;
    bool present = false;

    UNIT_ASSERT_OK(der_get_any(&c, &tag, &contents, &elem));
    CU_ASSERT_EQUAL(tag, DER_SET);
    CU_ASSERT_PTR_EQUAL(contents.p, buf + 2);
    CU_ASSERT_EQUAL(contents.len, 3);
    CU_ASSERT_PTR_EQUAL(elem.p, buf);
    CU_ASSERT_EQUAL(elem.len, 5);
    CU_ASSERT_PTR_EQUAL(c.p, buf + 5);

    /* An absent OPTIONAL leaves the cursor where it was. */
    UNIT_ASSERT_OK(der_get_optional(&c, &expl, &present, DER_CONTEXT_C(1)));
    CU_ASSERT_FALSE(present);
    CU_ASSERT_PTR_EQUAL(c.p, buf + 5);
    CU_ASSERT_EQUAL(c.len, 9);
    UNIT_ASSERT_OK(der_get_optional(&c, &expl, &present, DER_CONTEXT_C(0)));
    CU_ASSERT_TRUE(present);
    CU_ASSERT_PTR_EQUAL(expl.p, buf + 7);
    CU_ASSERT_EQUAL(expl.len, 3);
    UNIT_ASSERT_OK(der_get_uint64(&expl, &v));
    CU_ASSERT_EQUAL(v, 5);
    UNIT_ASSERT_OK(der_expect_end(&expl));
    CU_ASSERT_TRUE(der_peek_tag(&c, DER_CONTEXT(1)));
    CU_ASSERT_FALSE(der_peek_tag(&c, DER_CONTEXT_C(1)));
    UNIT_ASSERT_OK(der_get(&c, &impl, DER_CONTEXT(1)));
    ASSERT_BYTES_LIT(impl.p, impl.len, "\xaa\xbb");
    UNIT_ASSERT_OK(der_expect_end(&c));
    UNIT_ASSERT_OK(der_get_optional(&c, &impl, &present, DER_CONTEXT(2)));
    CU_ASSERT_FALSE(present);

    /* der_get_any with every output NULL still consumes one element. */
    c = der_cur_make(buf, sizeof(der));
    UNIT_ASSERT_OK(der_get_any(&c, NULL, NULL, NULL));
    CU_ASSERT_PTR_EQUAL(c.p, buf + 5);
    CU_ASSERT_EQUAL(c.len, 9);
    free(buf);
}

static void
test_der_read_integers(void)
{
    static const struct {
        const uint8_t *der;
        size_t len;
        uint64_t want;
    } ints[] = {
        { B("\x02\x01\x00"), 0 },
        { B("\x02\x01\x01"), 1 },
        { B("\x02\x01\x7f"), 127 },
        { B("\x02\x02\x00\x80"), 128 },
        { B("\x02\x02\x01\x00"), 256 },
        { B("\x02\x04\x7f\xff\xff\xff"), 0x7fffffff },
        { B("\x02\x08\x7f\xff\xff\xff\xff\xff\xff\xff"), 0x7fffffffffffffffULL },
        { B("\x02\x09\x00\x80\x00\x00\x00\x00\x00\x00\x00"), 0x8000000000000000ULL },
        { B("\x02\x09\x00\xff\xff\xff\xff\xff\xff\xff\xff"), UINT64_MAX },
    };
    for (size_t i = 0; i < NELEMS(ints); i++) {
        uint8_t *buf = unit_dup(ints[i].der, ints[i].len);
        der_cur c = der_cur_make(buf, ints[i].len);
        uint64_t v = 12345;
        UNIT_ASSERT_OK(der_get_uint64(&c, &v));
        CU_ASSERT_EQUAL(v, ints[i].want);
        CU_ASSERT_EQUAL(c.len, 0);
        free(buf);
    }

    static const struct {
        const uint8_t *der;
        size_t len;
        uint32_t want;
    } enums[] = {
        { B("\x0a\x01\x00"), 0 },
        { B("\x0a\x01\x05"), 5 },
        { B("\x0a\x02\x00\x80"), 128 },
        { B("\x0a\x04\x7f\xff\xff\xff"), 0x7fffffff },
    };
    for (size_t i = 0; i < NELEMS(enums); i++) {
        uint8_t *buf = unit_dup(enums[i].der, enums[i].len);
        der_cur c = der_cur_make(buf, enums[i].len);
        uint32_t v = 12345;
        UNIT_ASSERT_OK(der_get_enumerated(&c, &v));
        CU_ASSERT_EQUAL(v, enums[i].want);
        CU_ASSERT_EQUAL(c.len, 0);
        free(buf);
    }

    /* Serials: the view keeps the sign octet; 20 octets is the RFC 5280 4.1.2.2 maximum. */
    static const struct {
        const uint8_t *der;
        size_t len;
        size_t pad;
    } serials[] = {
        { B("\x02\x01\x01"), 0 },  { B("\x02\x02\x00\x80"), 0 },  { B("\x02\x03\x01\x00\x00"), 0 },
        { B("\x02\x14\x7f"), 19 }, { B("\x02\x14\x00\x80"), 18 },
    };
    for (size_t i = 0; i < NELEMS(serials); i++) {
        uint8_t *buf = test_make(serials[i].der, serials[i].len, serials[i].pad, 0xff);
        size_t len = serials[i].len + serials[i].pad;
        der_cur c = der_cur_make(buf, len);
        der_cur s = { NULL, 0 };
        UNIT_ASSERT_OK(der_get_serial(&c, &s));
        CU_ASSERT_PTR_EQUAL(s.p, buf + 2);
        CU_ASSERT_EQUAL(s.len, len - 2);
        CU_ASSERT_EQUAL(c.len, 0);
        free(buf);
    }
}

/* X.690 8.19 against mbedTLS's constants, and every refusal. */
static void
test_der_oid_from_dotted(void)
{
    uint8_t out[64];
    size_t n = 0;
    UNIT_ASSERT_OK(der_oid_from_dotted(out, sizeof(out), &n, "1.2.840.113549.1.1.11"));
    ASSERT_BYTES_LIT(out, n, MBEDTLS_OID_PKCS1_SHA256);
    UNIT_ASSERT_OK(der_oid_from_dotted(out, sizeof(out), &n, "2.5.29.15"));
    ASSERT_BYTES_LIT(out, n, MBEDTLS_OID_KEY_USAGE);
    UNIT_ASSERT_OK(der_oid_from_dotted(out, sizeof(out), &n, "1.3.6.1.4.1.32473.2"));
    ASSERT_BYTES_LIT(out, n, "\x2b\x06\x01\x04\x01\x81\xfd\x59\x02");
    UNIT_ASSERT_OK(der_oid_from_dotted(out, sizeof(out), &n, "2.999.0"));
    ASSERT_BYTES_LIT(out, n, "\x88\x37\x00"); /* X.690 8.19.5 example: 2*40+999 = 1079 */
    UNIT_ASSERT_OK(der_oid_from_dotted(out, sizeof(out), &n, "0.0"));
    ASSERT_BYTES_LIT(out, n, "\x00");
    UNIT_ASSERT_OK(der_oid_from_dotted(out, sizeof(out), &n, "1.2.18446744073709551615"));
    ASSERT_BYTES_LIT(out, n, "\x2a\x81\xff\xff\xff\xff\xff\xff\xff\xff\x7f");
    static const char *const bad[] = { "",      "1",    "1.",   ".1",
                                       "1..2",  "3.1",  "0.40", "1.02",
                                       "1.2.a", "1.2 ", "-1.2", "1.2.18446744073709551616",
                                       "1.2.3." };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        UNIT_ASSERT_ERR(der_oid_from_dotted(out, sizeof(out), &n, bad[i]), ZTCA_ERR_BAD_INPUT);
    }
    /* The output bound holds: 2 octets do not take 1.2.840. */
    UNIT_ASSERT_ERR(der_oid_from_dotted(out, 2, &n, "1.2.840"), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_OK(der_oid_from_dotted(out, 3, &n, "1.2.840"));
    CU_ASSERT_EQUAL(n, 3);
}

static void
test_der_read_primitives(void)
{
    /* sha256WithRSAEncryption (1.2.840.113549.1.1.11), id-ce-keyUsage (2.5.29.15), BOOLEAN
     * FALSE and TRUE, NULL, three BIT STRINGs, OCTET STRING */
    static const uint8_t der[] = {
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, /* OID */
        0x06, 0x03, 0x55, 0x1d, 0x0f,                                     /* OID */
        0x01, 0x01, 0x00,                                                 /* FALSE */
        0x01, 0x01, 0xff,                                                 /* TRUE */
        0x05, 0x00,                                                       /* NULL */
        0x03, 0x02, 0x07, 0x80,                                           /* bit 0 */
        0x03, 0x01, 0x00,                                                 /* empty */
        0x03, 0x03, 0x00, 0xab, 0xcd,                                     /* octets */
        0x03, 0x02, 0x01, 0x06,                                           /* bits 5, 6 */
        0x04, 0x03, 0x01, 0x02, 0x03,                                     /* OCTET STRING */
    };
    uint8_t *buf = unit_dup(der, sizeof(der));
    der_cur c = der_cur_make(buf, sizeof(der));
    der_cur oid, bits, oct;
    uint8_t unused = 99;
    bool b = true;

    UNIT_ASSERT_OK(der_get_oid(&c, &oid));
    CU_ASSERT_PTR_EQUAL(oid.p, buf + 2);
    CU_ASSERT_EQUAL(oid.len, 9);
    CU_ASSERT_TRUE(DER_OID_IS(&oid, MBEDTLS_OID_PKCS1_SHA256));
    CU_ASSERT_FALSE(DER_OID_IS(&oid, MBEDTLS_OID_PKCS1)); /* a prefix is not equal */
    CU_ASSERT_FALSE(DER_OID_IS(&oid, MBEDTLS_OID_KEY_USAGE));
    UNIT_ASSERT_OK(der_get_oid(&c, &oid));
    ASSERT_BYTES_LIT(oid.p, oid.len, "\x55\x1d\x0f");
    CU_ASSERT_TRUE(DER_OID_IS(&oid, MBEDTLS_OID_KEY_USAGE));
    CU_ASSERT_FALSE(der_oid_equal(&oid, "\x55\x1d\x0e", 3)); /* same length, last octet differs */

    UNIT_ASSERT_OK(der_get_bool(&c, &b));
    CU_ASSERT_FALSE(b);
    UNIT_ASSERT_OK(der_get_bool(&c, &b));
    CU_ASSERT_TRUE(b);
    UNIT_ASSERT_OK(der_get_null(&c));

    UNIT_ASSERT_OK(der_get_bitstring(&c, &bits, &unused));
    CU_ASSERT_EQUAL(unused, 7);
    ASSERT_BYTES_LIT(bits.p, bits.len, "\x80");
    UNIT_ASSERT_OK(der_get_bitstring(&c, &bits, &unused));
    CU_ASSERT_EQUAL(unused, 0);
    CU_ASSERT_EQUAL(bits.len, 0);
    UNIT_ASSERT_OK(der_get_bitstring(&c, &bits, &unused));
    CU_ASSERT_EQUAL(unused, 0);
    ASSERT_BYTES_LIT(bits.p, bits.len, "\xab\xcd");
    UNIT_ASSERT_OK(der_get_bitstring(&c, &bits, &unused));
    CU_ASSERT_EQUAL(unused, 1);
    ASSERT_BYTES_LIT(bits.p, bits.len, "\x06");

    UNIT_ASSERT_OK(der_get(&c, &oct, DER_OCTETSTRING));
    ASSERT_BYTES_LIT(oct.p, oct.len, "\x01\x02\x03");
    UNIT_ASSERT_OK(der_expect_end(&c));
    free(buf);
}

static void
test_der_read_times(void)
{
    /* Expected values from Python: calendar.timegm(datetime.fromisoformat(...).timetuple()). */
    static const struct {
        uint8_t tag;
        const char *text;
        ztca_time want;
    } times[] = {
        { DER_UTCTIME, "491231235959Z", 2524607999 }, /* RFC 5280 4.1.2.5.1: YY < 50 is 20YY */
        { DER_UTCTIME, "500101000000Z", -631152000 }, /* YY >= 50 is 19YY */
        { DER_UTCTIME, "700101000000Z", 0 },
        { DER_UTCTIME, "000229000000Z", 951782400 }, /* 2000 is a leap year */
        { DER_UTCTIME, "691231235959Z", -1 },
        { DER_GENERALIZEDTIME, "20500101000000Z", 2524608000 },
        { DER_GENERALIZEDTIME, "19491231235959Z", -631152001 },
        { DER_GENERALIZEDTIME, "20491231235959Z", 2524607999 }, /* readers accept either */
        { DER_GENERALIZEDTIME, "99991231235959Z", 253402300799 },
        { DER_GENERALIZEDTIME, "00010101000000Z", -62135596800 },
        { DER_GENERALIZEDTIME, "21000301000000Z", 4107542400 }, /* 2100 is not a leap year */
    };
    for (size_t i = 0; i < NELEMS(times); i++) {
        size_t len = 0;
        uint8_t *buf = test_time_tlv(times[i].tag, times[i].text, &len);
        der_cur c = der_cur_make(buf, len);
        ztca_time t = 42;
        UNIT_ASSERT_OK(der_get_time(&c, &t));
        CU_ASSERT_EQUAL(t, times[i].want);
        CU_ASSERT_EQUAL(c.len, 0);
        free(buf);
    }
}

/* Long-form lengths: one, two, three and four length octets, each at the smallest value that
 * needs it and the largest of the previous form (X.690 8.1.3.5). */
static void
test_der_read_long_lengths(void)
{
    static const struct {
        const uint8_t *hdr;
        size_t hdr_len;
        size_t len;
    } cases[] = {
        { B("\x04\x7f"), 127 },
        { B("\x04\x81\x80"), 128 },
        { B("\x04\x81\xff"), 255 },
        { B("\x04\x82\x01\x00"), 256 },
        { B("\x04\x82\xff\xff"), 65535 },
        { B("\x04\x83\x01\x00\x00"), 65536 },
        { B("\x04\x83\x01\x11\x70"), 70000 },
        { B("\x04\x84\x01\x00\x00\x00"), 16777216 },
    };
    for (size_t i = 0; i < NELEMS(cases); i++) {
        size_t total = cases[i].hdr_len + cases[i].len;
        uint8_t *buf = test_make(cases[i].hdr, cases[i].hdr_len, cases[i].len, 0x5a);
        der_cur c = der_cur_make(buf, total);
        der_cur oct;
        UNIT_ASSERT_OK(der_get(&c, &oct, DER_OCTETSTRING));
        CU_ASSERT_PTR_EQUAL(oct.p, buf + cases[i].hdr_len);
        CU_ASSERT_EQUAL(oct.len, cases[i].len);
        CU_ASSERT_EQUAL(c.len, 0);
        free(buf);
    }
}

/* ---- DER reader: named negative cases ------------------------------------------------------- */

typedef enum test_op {
    OP_EXPECT_END,
    OP_GET_SEQ,
    OP_GET_OCTETS,
    OP_GET_ELEMENT,
    OP_GET_ANY,
    OP_GET_OPTIONAL, /* [0] EXPLICIT */
    OP_UINT64,
    OP_ENUM,
    OP_SERIAL,
    OP_BOOL,
    OP_NULL,
    OP_OID,
    OP_BITS,
    OP_TIME,
} test_op;

/* Runs one getter on *c. Outputs start as sentinels, and on failure they must be untouched
 * (STYLE 3: outputs are written only on success). */
static ztca_rc
test_op_run(test_op op, der_cur *c)
{
    static const uint8_t sentinel_byte = 0;
    const der_cur sentinel = { &sentinel_byte, 77 };
    der_cur out = sentinel;
    uint64_t u64 = 77;
    uint32_t u32 = 77;
    uint8_t u8 = 77;
    bool b = true;
    bool present = true;
    ztca_time t = 77;
    ztca_rc rc = ZTCA_RC_OK;

    switch (op) {
    case OP_EXPECT_END:
        rc = der_expect_end(c);
        break;
    case OP_GET_SEQ:
        rc = der_get(c, &out, DER_SEQUENCE);
        break;
    case OP_GET_OCTETS:
        rc = der_get(c, &out, DER_OCTETSTRING);
        break;
    case OP_GET_ELEMENT:
        rc = der_get_element(c, &out, DER_OCTETSTRING);
        break;
    case OP_GET_ANY:
        rc = der_get_any(c, &u8, &out, &out);
        break;
    case OP_GET_OPTIONAL:
        rc = der_get_optional(c, &out, &present, DER_CONTEXT_C(0));
        break;
    case OP_UINT64:
        rc = der_get_uint64(c, &u64);
        break;
    case OP_ENUM:
        rc = der_get_enumerated(c, &u32);
        break;
    case OP_SERIAL:
        rc = der_get_serial(c, &out);
        break;
    case OP_BOOL:
        rc = der_get_bool(c, &b);
        break;
    case OP_NULL:
        rc = der_get_null(c);
        break;
    case OP_OID:
        rc = der_get_oid(c, &out);
        break;
    case OP_BITS:
        rc = der_get_bitstring(c, &out, &u8);
        break;
    case OP_TIME:
        rc = der_get_time(c, &t);
        break;
    }
    if (!ZTCA_IS_OK(rc)) {
        CU_ASSERT_PTR_EQUAL(out.p, sentinel.p);
        CU_ASSERT_EQUAL(out.len, sentinel.len);
        CU_ASSERT_EQUAL(u64, 77);
        CU_ASSERT_EQUAL(u32, 77);
        CU_ASSERT_EQUAL(u8, 77);
        CU_ASSERT_TRUE(b);
        CU_ASSERT_TRUE(present);
        CU_ASSERT_EQUAL(t, 77);
    }
    return rc;
}

/* A negative case: BAD_INPUT, a note saying why, and the cursor exactly where it was. */
static void
test_negative_one(const char *name, test_op op, const uint8_t *buf, size_t len)
{
    der_cur c = der_cur_make(buf, len);
    ztca_clear_error();
    ztca_rc rc = test_op_run(op, &c);
    if (rc.err != ZTCA_ERR_BAD_INPUT || c.p != buf || c.len != len) {
        fprintf(stderr, "\n  negative case %s: got %s (%s), cursor moved by %zu\n", name,
                ztca_err_name(rc.err), ztca_last_what(), (size_t)(c.p - buf));
    }
    CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_EQUAL(c.p, buf);
    CU_ASSERT_EQUAL(c.len, len);
    CU_ASSERT_STRING_NOT_EQUAL(ztca_last_what(), ""); /* every failure says why */
}

static void
test_der_read_negative(void)
{
    static const struct {
        const char *name;
        test_op op;
        const uint8_t *der;
        size_t len;
        size_t pad; /* zero octets appended, for long contents */
    } cases[] = {
        { "trailing_data", OP_EXPECT_END, B("\x05\x00"), 0 },
        { "trailing_data_one_octet", OP_EXPECT_END, B("\x00"), 0 },
        { "non_minimal_length_81", OP_GET_OCTETS, B("\x04\x81\x05"), 5 },
        { "non_minimal_length_81_zero", OP_GET_OCTETS, B("\x04\x81\x00"), 0 },
        { "non_minimal_length_82", OP_GET_OCTETS, B("\x04\x82\x00\x80"), 128 },
        { "non_minimal_length_82_short", OP_GET_OCTETS, B("\x04\x82\x00\x05"), 5 },
        { "non_minimal_length_83", OP_GET_OCTETS, B("\x04\x83\x00\xff\xff"), 65535 },
        { "non_minimal_length_84", OP_GET_OCTETS, B("\x04\x84\x00\x01\x00\x00"), 65536 },
        { "non_minimal_length_sequence", OP_GET_SEQ, B("\x30\x81\x03\x02\x01\x05"), 0 },
        { "non_minimal_length_element", OP_GET_ELEMENT, B("\x04\x81\x01\x00"), 0 },
        { "non_minimal_length_any", OP_GET_ANY, B("\x31\x82\x00\x03\x02\x01\x05"), 0 },
        { "indefinite_length", OP_GET_SEQ, B("\x30\x80\x02\x01\x05\x00\x00"), 0 },
        { "indefinite_length_any", OP_GET_ANY, B("\x30\x80\x02\x01\x05\x00\x00"), 0 },
        { "indefinite_length_optional", OP_GET_OPTIONAL, B("\xa0\x80\x05\x00\x00\x00"), 0 },
        { "length_of_length_5", OP_GET_OCTETS, B("\x04\x85\x01\x00\x00\x00\x00"), 0 },
        { "wrong_tag", OP_GET_SEQ, B("\x31\x00"), 0 },
        { "wrong_tag_element", OP_GET_ELEMENT, B("\x03\x01\x00"), 0 },
        { "wrong_tag_integer", OP_UINT64, B("\x0a\x01\x05"), 0 },
        { "wrong_tag_enumerated", OP_ENUM, B("\x02\x01\x05"), 0 },
        { "wrong_tag_serial", OP_SERIAL, B("\x04\x01\x05"), 0 },
        { "wrong_tag_bool", OP_BOOL, B("\x02\x01\xff"), 0 },
        { "wrong_tag_null", OP_NULL, B("\x04\x00"), 0 },
        { "wrong_tag_oid", OP_OID, B("\x04\x01\x2a"), 0 },
        { "wrong_tag_bitstring", OP_BITS, B("\x04\x02\x00\x01"), 0 },
        { "wrong_tag_constructed", OP_GET_OCTETS, B("\x24\x03\x04\x01\x00"), 0 },
        { "high_tag_number", OP_GET_ANY, B("\x1f\x21\x01\x00"), 0 },
        { "high_tag_number_constructed", OP_GET_ANY, B("\xbf\x21\x00"), 0 },
        { "high_tag_number_two_octets", OP_GET_ANY, B("\x5f\x81\x01\x00"), 0 },
        { "truncated_empty", OP_GET_ANY, B(""), 0 },
        { "truncated_empty_uint64", OP_UINT64, B(""), 0 },
        { "truncated_empty_time", OP_TIME, B(""), 0 },
        { "truncated_tag_only", OP_GET_SEQ, B("\x30"), 0 },
        { "truncated_tag_only_any", OP_GET_ANY, B("\x30"), 0 },
        { "truncated_tag_only_optional", OP_GET_OPTIONAL, B("\xa0"), 0 },
        { "truncated_length_81", OP_GET_OCTETS, B("\x04\x81"), 0 },
        { "truncated_length_82", OP_GET_OCTETS, B("\x04\x82\x01"), 0 },
        { "truncated_length_83", OP_GET_ANY, B("\x04\x83\x01\x00"), 0 },
        { "length_beyond_buffer", OP_GET_OCTETS, B("\x04\x05\x01\x02\x03\x04"), 0 },
        { "length_beyond_buffer_by_one", OP_GET_ELEMENT, B("\x04\x81\x80"), 127 },
        { "length_beyond_buffer_long", OP_GET_OCTETS, B("\x04\x82\x01\x00"), 255 },
        { "length_beyond_buffer_sequence", OP_GET_SEQ, B("\x30\x03\x02\x01"), 0 },
        { "length_beyond_buffer_huge", OP_GET_ANY, B("\x04\x84\xff\xff\xff\xff\x00"), 0 },
        { "length_beyond_buffer_optional", OP_GET_OPTIONAL, B("\xa0\x03\x02\x01"), 0 },
        { "negative_integer", OP_UINT64, B("\x02\x01\x80"), 0 },
        { "negative_integer_minus_one", OP_UINT64, B("\x02\x01\xff"), 0 },
        { "negative_integer_long", OP_UINT64, B("\x02\x02\x80\x00"), 0 },
        { "negative_serial", OP_SERIAL, B("\x02\x01\xff"), 0 },
        { "negative_serial_long", OP_SERIAL, B("\x02\x09\x80"), 8 },
        { "padded_integer_00", OP_UINT64, B("\x02\x02\x00\x01"), 0 },
        { "padded_integer_ff", OP_UINT64, B("\x02\x02\xff\x80"), 0 },
        { "padded_integer_00_long", OP_UINT64, B("\x02\x09\x00\x00\xff"), 6 },
        { "padded_serial_00", OP_SERIAL, B("\x02\x02\x00\x01"), 0 },
        { "padded_serial_ff", OP_SERIAL, B("\x02\x02\xff\x80"), 0 },
        { "empty_integer", OP_UINT64, B("\x02\x00"), 0 },
        { "empty_serial", OP_SERIAL, B("\x02\x00"), 0 },
        { "integer_over_64_bits", OP_UINT64, B("\x02\x09\x01"), 8 },
        { "integer_over_64_bits_10_octets", OP_UINT64, B("\x02\x0a\x00\x80"), 8 },
        { "zero_serial", OP_SERIAL, B("\x02\x01\x00"), 0 },
        { "serial_21_octets", OP_SERIAL, B("\x02\x15\x01"), 20 },
        { "serial_21_octets_with_sign", OP_SERIAL, B("\x02\x15\x00\x80"), 19 },
        { "enumerated_negative", OP_ENUM, B("\x0a\x01\x80"), 0 },
        { "enumerated_padded", OP_ENUM, B("\x0a\x02\x00\x05"), 0 },
        { "enumerated_over_31_bits", OP_ENUM, B("\x0a\x05\x00\x80\x00\x00\x00"), 0 },
        { "enumerated_empty", OP_ENUM, B("\x0a\x00"), 0 },
        { "bool_01", OP_BOOL, B("\x01\x01\x01"), 0 },
        { "bool_7f", OP_BOOL, B("\x01\x01\x7f"), 0 },
        { "bool_empty", OP_BOOL, B("\x01\x00"), 0 },
        { "bool_two_octets", OP_BOOL, B("\x01\x02\xff\xff"), 0 },
        { "null_with_contents", OP_NULL, B("\x05\x01\x00"), 0 },
        { "oid_sub_identifier_leading_80", OP_OID, B("\x06\x03\x2a\x80\x01"), 0 },
        { "oid_first_sub_identifier_leading_80", OP_OID, B("\x06\x02\x80\x01"), 0 },
        { "oid_ends_inside_sub_identifier", OP_OID, B("\x06\x02\x2a\x86"), 0 },
        { "oid_only_continuation", OP_OID, B("\x06\x01\x81"), 0 },
        { "oid_empty", OP_OID, B("\x06\x00"), 0 },
        { "bitstring_unused_8", OP_BITS, B("\x03\x02\x08\x00"), 0 },
        { "bitstring_unused_ff", OP_BITS, B("\x03\x02\xff\x00"), 0 },
        { "bitstring_unused_bits_not_zero", OP_BITS, B("\x03\x02\x07\x81"), 0 },
        { "bitstring_unused_bit_not_zero", OP_BITS, B("\x03\x02\x01\x07"), 0 },
        { "bitstring_no_unused_octet", OP_BITS, B("\x03\x00"), 0 },
        { "bitstring_unused_without_octets", OP_BITS, B("\x03\x01\x07"), 0 },
        { "generalizedtime_non_minimal_length", OP_TIME,
          B("\x18\x81\x0f"
            "20500101000000Z"),
          0 },
    };
    for (size_t i = 0; i < NELEMS(cases); i++) {
        size_t len = cases[i].len + cases[i].pad;
        uint8_t *buf = test_make(cases[i].der, cases[i].len, cases[i].pad, 0x00);
        test_negative_one(cases[i].name, cases[i].op, buf, len);
        free(buf);
    }

    /* RFC 5280 4.1.2.5: "Z" and seconds required, no fractions, a valid date. */
    static const struct {
        const char *name;
        uint8_t tag;
        const char *text;
    } times[] = {
        { "utctime_without_z", DER_UTCTIME, "491231235959" },
        { "utctime_z_replaced", DER_UTCTIME, "4912312359590" },
        { "utctime_offset", DER_UTCTIME, "491231235959+0000" },
        { "utctime_offset_without_seconds", DER_UTCTIME, "4912312359+0000" },
        { "utctime_missing_seconds", DER_UTCTIME, "4912312359Z" },
        { "utctime_fraction", DER_UTCTIME, "491231235959.5Z" },
        { "utctime_lower_case_z", DER_UTCTIME, "491231235959z" },
        { "utctime_feb30", DER_UTCTIME, "490230000000Z" },
        { "utctime_feb29_2049", DER_UTCTIME, "490229000000Z" },
        { "utctime_month_13", DER_UTCTIME, "491301000000Z" },
        { "utctime_day_0", DER_UTCTIME, "491200000000Z" },
        { "utctime_hour_24", DER_UTCTIME, "491231240000Z" },
        { "utctime_second_60", DER_UTCTIME, "491231235960Z" },
        { "utctime_non_digit", DER_UTCTIME, "49123123595aZ" },
        { "utctime_sign", DER_UTCTIME, "+91231235959Z" },
        { "utctime_space", DER_UTCTIME, "4912312359 9Z" },
        { "utctime_empty", DER_UTCTIME, "" },
        { "generalizedtime_fraction", DER_GENERALIZEDTIME, "20500101000000.5Z" },
        { "generalizedtime_fraction_zero", DER_GENERALIZEDTIME, "20500101000000.0Z" },
        { "generalizedtime_without_z", DER_GENERALIZEDTIME, "20500101000000" },
        { "generalizedtime_offset", DER_GENERALIZEDTIME, "20500101000000+0000" },
        { "generalizedtime_missing_seconds", DER_GENERALIZEDTIME, "205001010000Z" },
        { "generalizedtime_two_digit_year", DER_GENERALIZEDTIME, "500101000000Z" },
        { "generalizedtime_year_0", DER_GENERALIZEDTIME, "00000101000000Z" },
        { "generalizedtime_feb29_2100", DER_GENERALIZEDTIME, "21000229000000Z" },
        { "generalizedtime_non_digit", DER_GENERALIZEDTIME, "2050010100000aZ" },
        { "utctime_as_generalizedtime", DER_UTCTIME, "20500101000000Z" },
        { "time_wrong_tag", DER_OCTETSTRING, "491231235959Z" },
        { "time_as_printablestring", DER_PRINTABLESTRING, "20500101000000Z" },
    };
    for (size_t i = 0; i < NELEMS(times); i++) {
        size_t len = 0;
        uint8_t *buf = test_time_tlv(times[i].tag, times[i].text, &len);
        test_negative_one(times[i].name, OP_TIME, buf, len);
        free(buf);
    }
}

/* ---- DER reader: every prefix -------------------------------------------------------------- */

/* A small program for a full, strict walk of one input: each step is one getter on the innermost
 * open element; W_OPEN descends into the contents and W_CLOSE requires its end, so every level's
 * trailing data is checked, and the walk ends with der_expect_end on the whole input. */
typedef enum test_walk_kind {
    W_STOP = 0,
    W_OPEN,     /* der_get(tag), then walk its contents */
    W_OPTIONAL, /* der_get_optional(tag), must be present, then walk its contents */
    W_CLOSE,    /* der_expect_end, back to the parent */
    W_TLV,      /* der_get(tag): records the contents length */
    W_ELEMENT,  /* der_get_element(tag): records the element length */
    W_ANY,      /* der_get_any: records the tag and the contents length */
    W_UINT,
    W_ENUM,
    W_SERIAL, /* records the length of the view */
    W_BOOL,
    W_NULL,
    W_OID,  /* records the length */
    W_BITS, /* records the unused bits and the length */
    W_TIME,
} test_walk_kind;

typedef struct test_walk_step {
    test_walk_kind kind;
    uint8_t tag;
} test_walk_step;

#define TEST_WALK_DEPTH 8
#define TEST_WALK_VALS  32

typedef struct test_walk_out {
    uint64_t vals[TEST_WALK_VALS];
    size_t num_vals;
} test_walk_out;

static void
test_walk_push(test_walk_out *out, uint64_t v)
{
    CU_ASSERT_FATAL(out->num_vals < TEST_WALK_VALS);
    out->vals[out->num_vals++] = v;
}

static ztca_rc
test_walk_step_run(const test_walk_step *s, der_cur *c, der_cur *child, test_walk_out *out)
{
    der_cur v;
    uint64_t u64 = 0;
    uint32_t u32 = 0;
    uint8_t u8 = 0;
    bool b = false;
    ztca_time t = 0;
    switch (s->kind) {
    case W_OPEN:
        return der_get(c, child, s->tag);
    case W_OPTIONAL:
        /* Every program's OPTIONAL element is present in the whole input, so in a prefix its
         * absence is as much a failure as a truncated element. */
        ZTCA_GUARD(der_get_optional(c, child, &b, s->tag));
        ZTCA_ENSURE(b, ZTCA_ERR_BAD_INPUT, "test walk: OPTIONAL element absent");
        return ZTCA_RC_OK;
    case W_CLOSE:
        return der_expect_end(c);
    case W_TLV:
        ZTCA_GUARD(der_get(c, &v, s->tag));
        test_walk_push(out, v.len);
        return ZTCA_RC_OK;
    case W_ELEMENT:
        ZTCA_GUARD(der_get_element(c, &v, s->tag));
        test_walk_push(out, v.len);
        return ZTCA_RC_OK;
    case W_ANY:
        ZTCA_GUARD(der_get_any(c, &u8, &v, NULL));
        test_walk_push(out, u8);
        test_walk_push(out, v.len);
        return ZTCA_RC_OK;
    case W_UINT:
        ZTCA_GUARD(der_get_uint64(c, &u64));
        test_walk_push(out, u64);
        return ZTCA_RC_OK;
    case W_ENUM:
        ZTCA_GUARD(der_get_enumerated(c, &u32));
        test_walk_push(out, u32);
        return ZTCA_RC_OK;
    case W_SERIAL:
        ZTCA_GUARD(der_get_serial(c, &v));
        test_walk_push(out, v.len);
        return ZTCA_RC_OK;
    case W_BOOL:
        ZTCA_GUARD(der_get_bool(c, &b));
        test_walk_push(out, b ? 1 : 0);
        return ZTCA_RC_OK;
    case W_NULL:
        return der_get_null(c);
    case W_OID:
        ZTCA_GUARD(der_get_oid(c, &v));
        test_walk_push(out, v.len);
        return ZTCA_RC_OK;
    case W_BITS:
        ZTCA_GUARD(der_get_bitstring(c, &v, &u8));
        test_walk_push(out, u8);
        test_walk_push(out, v.len);
        return ZTCA_RC_OK;
    case W_TIME:
        ZTCA_GUARD(der_get_time(c, &t));
        test_walk_push(out, (uint64_t)t);
        return ZTCA_RC_OK;
    case W_STOP:
        break;
    }
    CU_FAIL_FATAL("bad walk program");
    return ZTCA_NOTE(ZTCA_ERR_INTERNAL, "test walk", 0);
}

static ztca_rc
test_walk(const test_walk_step *steps, const uint8_t *p, size_t len, test_walk_out *out)
{
    der_cur stack[TEST_WALK_DEPTH];
    size_t depth = 0;
    out->num_vals = 0;
    stack[0] = der_cur_make(p, len);
    for (const test_walk_step *s = steps; s->kind != W_STOP; s++) {
        der_cur *c = &stack[depth];
        der_cur before = *c;
        CU_ASSERT_FATAL(depth + 1 < TEST_WALK_DEPTH);
        ztca_rc rc = test_walk_step_run(s, c, &stack[depth + 1], out);
        if (!ZTCA_IS_OK(rc)) {
            /* The failing getter left its cursor as it was. */
            CU_ASSERT_PTR_EQUAL(c->p, before.p);
            CU_ASSERT_EQUAL(c->len, before.len);
            return rc;
        }
        if (s->kind == W_OPEN || s->kind == W_OPTIONAL) {
            depth++;
        } else if (s->kind == W_CLOSE) {
            CU_ASSERT_FATAL(depth > 0);
            depth--;
        }
    }
    CU_ASSERT_EQUAL_FATAL(depth, 0);
    return der_expect_end(&stack[0]);
}

/* Every truncation 0..len-1, from an exact-size heap copy so ASan sees any read past the end,
 * fails with BAD_INPUT; the whole input walks and yields `want`; one extra octet is trailing
 * data. */
static void
test_every_prefix(const char *name, const test_walk_step *steps, const uint8_t *der, size_t len,
                  const uint64_t *want, size_t num_want)
{
    test_walk_out out;
    size_t failed = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *exact = unit_dup(der, n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
        ztca_rc rc = test_walk(steps, exact, n, &out);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  %s: prefix %zu of %zu gave %s\n", name, n, len,
                    ztca_err_name(rc.err));
            failed++;
        }
        free(exact);
    }
    CU_ASSERT_EQUAL(failed, 0);

    uint8_t *exact = unit_dup(der, len);
    UNIT_ASSERT_OK(test_walk(steps, exact, len, &out));
    CU_ASSERT_EQUAL(out.num_vals, num_want);
    for (size_t i = 0; i < num_want && i < out.num_vals; i++) {
        CU_ASSERT_EQUAL(out.vals[i], want[i]);
    }
    free(exact);

    uint8_t *longer = test_make(der, len, 1, 0x00);
    CU_ASSERT_EQUAL(test_walk(steps, longer, len + 1, &out).err, ZTCA_ERR_BAD_INPUT);
    free(longer);
}

static void
test_der_read_every_prefix(void)
{
    /* A certificate-shaped input:
     * SEQUENCE { [0] EXPLICIT INTEGER 2, serial (9 octets with its sign octet),
     *            SEQUENCE { sha256WithRSAEncryption, NULL },
     *            SEQUENCE { UTCTime 2049-12-31T23:59:59Z, GeneralizedTime 2050-01-01T00:00:00Z },
     *            BIT STRING keyCertSign|cRLSign,
     *            [3] EXPLICIT SEQUENCE { keyUsage, TRUE, OCTET STRING { BIT STRING } } } */
    static const uint8_t cert[] = "\x30\x57"                                     /* SEQUENCE */
                                  "\xa0\x03\x02\x01\x02"                         /* [0] 2 */
                                  "\x02\x09\x00\x8f\x01\x02\x03\x04\x05\x06\x07" /* serial */
                                  "\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"
                                  "\x05\x00"         /* AlgorithmIdentifier */
                                  "\x30\x20\x17\x0d" /* Validity */
                                  "491231235959Z"
                                  "\x18\x0f"
                                  "20500101000000Z"
                                  "\x03\x02\x01\x06"                      /* BIT STRING */
                                  "\xa3\x10\x30\x0e\x06\x03\x55\x1d\x0f"  /* [3] { keyUsage */
                                  "\x01\x01\xff\x04\x04\x03\x02\x01\x06"; /* TRUE, value } */
    static const test_walk_step cert_steps[] = {
        { W_OPEN, DER_SEQUENCE },
        { W_OPEN, DER_CONTEXT_C(0) },
        { W_UINT, 0 },
        { W_CLOSE, 0 },
        { W_SERIAL, 0 },
        { W_OPEN, DER_SEQUENCE },
        { W_OID, 0 },
        { W_NULL, 0 },
        { W_CLOSE, 0 },
        { W_OPEN, DER_SEQUENCE },
        { W_TIME, 0 },
        { W_TIME, 0 },
        { W_CLOSE, 0 },
        { W_BITS, 0 },
        { W_OPEN, DER_CONTEXT_C(3) },
        { W_OPEN, DER_SEQUENCE },
        { W_OID, 0 },
        { W_BOOL, 0 },
        { W_OPEN, DER_OCTETSTRING },
        { W_BITS, 0 },
        { W_CLOSE, 0 },
        { W_CLOSE, 0 },
        { W_CLOSE, 0 },
        { W_CLOSE, 0 },
        { W_STOP, 0 },
    };
    static const uint64_t cert_want[] = { 2, 9, 9, 2524607999, 2524608000, 1, 1, 3, 1, 1, 1 };
    CU_ASSERT_EQUAL_FATAL(sizeof(cert) - 1, 89);
    test_every_prefix("cert", cert_steps, cert, sizeof(cert) - 1, cert_want, NELEMS(cert_want));

    /* Six elements side by side, one with a long-form length (81 c8):
     * INTEGER 5, ENUMERATED 1, OCTET STRING (200 octets), SET { NULL }, [1] IMPLICIT "ab",
     * [0] EXPLICIT BOOLEAN FALSE (an OPTIONAL that is present) */
    uint8_t flat[3 + 3 + 203 + 4 + 4 + 5];
    size_t n = 0;
    memcpy(flat + n, "\x02\x01\x05\x0a\x01\x01\x04\x81\xc8", 9);
    n += 9;
    for (size_t i = 0; i < 200; i++) {
        flat[n++] = (uint8_t)i;
    }
    memcpy(flat + n,
           "\x31\x02\x05\x00\x81\x02"
           "ab\xa0\x03\x01\x01\x00",
           13);
    n += 13;
    CU_ASSERT_EQUAL_FATAL(n, sizeof(flat));
    static const test_walk_step flat_steps[] = {
        { W_UINT, 0 },
        { W_ENUM, 0 },
        { W_TLV, DER_OCTETSTRING },
        { W_OPEN, DER_SET },
        { W_NULL, 0 },
        { W_CLOSE, 0 },
        { W_TLV, DER_CONTEXT(1) },
        { W_OPTIONAL, DER_CONTEXT_C(0) },
        { W_BOOL, 0 },
        { W_CLOSE, 0 },
        { W_STOP, 0 },
    };
    static const uint64_t flat_want[] = { 5, 1, 200, 2, 0 };
    test_every_prefix("flat", flat_steps, flat, sizeof(flat), flat_want, NELEMS(flat_want));

    /* Two-octet lengths, nested: SEQUENCE (82 01 49) { OCTET STRING (82 01 2c, 300 octets),
     * SEQUENCE { INTEGER 256, OID 1.2.3 }, UTCTime 2049-12-31T23:59:59Z } */
    uint8_t nested[4 + 304 + 10 + 15];
    n = 0;
    memcpy(nested + n, "\x30\x82\x01\x49\x04\x82\x01\x2c", 8);
    n += 8;
    for (size_t i = 0; i < 300; i++) {
        nested[n++] = (uint8_t)(255 - i % 256);
    }
    memcpy(nested + n,
           "\x30\x08\x02\x02\x01\x00\x06\x02\x2a\x03\x17\x0d"
           "491231235959Z",
           25);
    n += 25;
    CU_ASSERT_EQUAL_FATAL(n, sizeof(nested));
    static const test_walk_step nested_steps[] = {
        { W_OPEN, DER_SEQUENCE },
        { W_ELEMENT, DER_OCTETSTRING },
        { W_OPEN, DER_SEQUENCE },
        { W_UINT, 0 },
        { W_OID, 0 },
        { W_CLOSE, 0 },
        { W_ANY, 0 },
        { W_CLOSE, 0 },
        { W_STOP, 0 },
    };
    static const uint64_t nested_want[] = { 304, 256, 2, DER_UTCTIME, 13 };
    test_every_prefix("nested", nested_steps, nested, sizeof(nested), nested_want,
                      NELEMS(nested_want));
}

/* ---- DER writer ----------------------------------------------------------------------------- */

/* Takes the bytes out of `b` and compares them with `want`. */
static void
test_take_expect(der_buf *b, const uint8_t *want, size_t want_len)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    UNIT_ASSERT_OK(der_buf_take(b, &out, &out_len));
    ASSERT_BYTES(out, out_len, want, want_len);
    free(out);
}

static void
test_der_write_roundtrip(void)
{
    /* SEQUENCE { INTEGER 5, SEQUENCE { sha256WithRSAEncryption, NULL }, [0] EXPLICIT TRUE,
     *            [1] IMPLICIT "ab", BIT STRING ab cd, BIT STRING digitalSignature,
     *            UTCTime 2049-12-31T23:59:59Z, ENUMERATED 1, NULL (added raw) } */
    static const uint8_t want[] = "\x30\x38"     /* SEQUENCE */
                                  "\x02\x01\x05" /* INTEGER */
                                  "\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"
                                  "\x05\x00"             /* AlgorithmIdentifier */
                                  "\xa0\x03\x01\x01\xff" /* [0] EXPLICIT TRUE */
                                  "\x81\x02"             /* [1] IMPLICIT */
                                  "ab"
                                  "\x03\x03\x00\xab\xcd" /* BIT STRING */
                                  "\x03\x02\x07\x80"     /* digitalSignature */
                                  "\x17\x0d"             /* UTCTime */
                                  "491231235959Z"
                                  "\x0a\x01\x01" /* ENUMERATED */
                                  "\x05\x00";    /* raw NULL */
    der_buf b;
    der_buf_init(&b, 1024);
    UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_add_uint64(&b, 5));
    UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
    UNIT_ASSERT_OK(DER_ADD_OID(&b, MBEDTLS_OID_PKCS1_SHA256));
    UNIT_ASSERT_OK(der_add_null(&b));
    UNIT_ASSERT_OK(der_end(&b));
    UNIT_ASSERT_OK(der_begin(&b, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_add_bool(&b, true));
    UNIT_ASSERT_OK(der_end(&b));
    UNIT_ASSERT_OK(der_add_tlv(&b, DER_CONTEXT(1), (const uint8_t *)"ab", 2));
    UNIT_ASSERT_OK(der_add_bitstring(&b, (const uint8_t *)"\xab\xcd", 2));
    UNIT_ASSERT_OK(der_add_bits(&b, 1u << 0));
    UNIT_ASSERT_OK(der_add_time(&b, 2524607999));
    UNIT_ASSERT_OK(der_add_enumerated(&b, 1));
    UNIT_ASSERT_OK(der_add_raw(&b, (const uint8_t *)"\x05\x00", 2));
    UNIT_ASSERT_OK(der_end(&b));

    uint8_t *out = NULL;
    size_t out_len = 0;
    UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
    ASSERT_BYTES(out, out_len, want, sizeof(want) - 1);
    CU_ASSERT_PTR_NULL(b.data); /* ownership moved to the caller */
    CU_ASSERT_EQUAL(b.len, 0);

    /* ... and our reader takes it back, field by field. */
    der_cur c = der_cur_make(out, out_len), seq, alg, oid, expl, impl, bits;
    uint64_t v = 0;
    uint32_t e = 0;
    bool flag = false;
    uint8_t unused = 0;
    ztca_time t = 0;
    UNIT_ASSERT_OK(der_get(&c, &seq, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&c));
    UNIT_ASSERT_OK(der_get_uint64(&seq, &v));
    CU_ASSERT_EQUAL(v, 5);
    UNIT_ASSERT_OK(der_get(&seq, &alg, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_get_oid(&alg, &oid));
    CU_ASSERT_TRUE(DER_OID_IS(&oid, MBEDTLS_OID_PKCS1_SHA256));
    UNIT_ASSERT_OK(der_get_null(&alg));
    UNIT_ASSERT_OK(der_expect_end(&alg));
    UNIT_ASSERT_OK(der_get(&seq, &expl, DER_CONTEXT_C(0)));
    UNIT_ASSERT_OK(der_get_bool(&expl, &flag));
    CU_ASSERT_TRUE(flag);
    UNIT_ASSERT_OK(der_expect_end(&expl));
    UNIT_ASSERT_OK(der_get(&seq, &impl, DER_CONTEXT(1)));
    ASSERT_BYTES_LIT(impl.p, impl.len, "ab");
    UNIT_ASSERT_OK(der_get_bitstring(&seq, &bits, &unused));
    CU_ASSERT_EQUAL(unused, 0);
    ASSERT_BYTES_LIT(bits.p, bits.len, "\xab\xcd");
    UNIT_ASSERT_OK(der_get_bitstring(&seq, &bits, &unused));
    CU_ASSERT_EQUAL(unused, 7);
    ASSERT_BYTES_LIT(bits.p, bits.len, "\x80");
    UNIT_ASSERT_OK(der_get_time(&seq, &t));
    CU_ASSERT_EQUAL(t, 2524607999);
    UNIT_ASSERT_OK(der_get_enumerated(&seq, &e));
    CU_ASSERT_EQUAL(e, 1);
    UNIT_ASSERT_OK(der_get_null(&seq));
    UNIT_ASSERT_OK(der_expect_end(&seq));
    free(out);
    der_buf_free(&b);
}

/* Contents at each length-form boundary, as a primitive element and wrapped in a SEQUENCE built
 * with der_begin/der_end (so both the inner and the outer fix-up move their contents). The
 * contents go in 1000-octet pieces so the buffer grows several times. */
static void
test_der_write_lengths(void)
{
    static const struct {
        size_t len;
        const uint8_t *inner; /* OCTET STRING header */
        size_t inner_len;
        const uint8_t *outer; /* SEQUENCE header: its contents are the whole OCTET STRING */
        size_t outer_len;
    } cases[] = {
        { 0, B("\x04\x00"), B("\x30\x02") },
        { 1, B("\x04\x01"), B("\x30\x03") },
        { 125, B("\x04\x7d"), B("\x30\x7f") },
        { 126, B("\x04\x7e"), B("\x30\x81\x80") },
        { 127, B("\x04\x7f"), B("\x30\x81\x81") },
        { 128, B("\x04\x81\x80"), B("\x30\x81\x83") },
        { 255, B("\x04\x81\xff"), B("\x30\x82\x01\x02") },
        { 256, B("\x04\x82\x01\x00"), B("\x30\x82\x01\x04") },
        { 65535, B("\x04\x82\xff\xff"), B("\x30\x83\x01\x00\x03") },
        { 65536, B("\x04\x83\x01\x00\x00"), B("\x30\x83\x01\x00\x05") },
        { 70000, B("\x04\x83\x01\x11\x70"), B("\x30\x83\x01\x11\x75") },
    };
    uint8_t *contents = malloc(70000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(contents);
    for (size_t i = 0; i < 70000; i++) {
        contents[i] = test_pattern(i);
    }
    for (size_t i = 0; i < NELEMS(cases); i++) {
        size_t n = cases[i].len;
        uint8_t *out = NULL;
        size_t out_len = 0;
        der_buf b;

        /* Primitive: der_add_tlv. */
        der_buf_init(&b, 1 << 20);
        UNIT_ASSERT_OK(der_add_tlv(&b, DER_OCTETSTRING, contents, n));
        UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
        CU_ASSERT_EQUAL_FATAL(out_len, cases[i].inner_len + n);
        ASSERT_BYTES(out, cases[i].inner_len, cases[i].inner, cases[i].inner_len);
        ASSERT_BYTES(out + cases[i].inner_len, n, contents, n);
        free(out);

        /* Nested, built piecewise. */
        UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_begin(&b, DER_OCTETSTRING));
        for (size_t off = 0; off < n; off += 1000) {
            UNIT_ASSERT_OK(der_add_raw(&b, contents + off, n - off < 1000 ? n - off : 1000));
        }
        UNIT_ASSERT_OK(der_end(&b));
        UNIT_ASSERT_OK(der_end(&b));
        UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
        size_t hdrs = cases[i].outer_len + cases[i].inner_len;
        CU_ASSERT_EQUAL_FATAL(out_len, hdrs + n);
        ASSERT_BYTES(out, cases[i].outer_len, cases[i].outer, cases[i].outer_len);
        ASSERT_BYTES(out + cases[i].outer_len, cases[i].inner_len, cases[i].inner,
                     cases[i].inner_len);
        ASSERT_BYTES(out + hdrs, n, contents, n);

        /* The reader agrees. */
        der_cur c = der_cur_make(out, out_len), seq, oct;
        UNIT_ASSERT_OK(der_get(&c, &seq, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_expect_end(&c));
        UNIT_ASSERT_OK(der_get(&seq, &oct, DER_OCTETSTRING));
        UNIT_ASSERT_OK(der_expect_end(&seq));
        CU_ASSERT_PTR_EQUAL(oct.p, out + hdrs);
        CU_ASSERT_EQUAL(oct.len, n);
        free(out);
        der_buf_free(&b);
    }
    free(contents);
}

static void
test_der_write_integers(void)
{
    static const struct {
        const uint8_t *in;
        size_t in_len;
        const uint8_t *want;
        size_t want_len;
    } mags[] = {
        { B(""), B("\x02\x01\x00") },
        { B("\x00"), B("\x02\x01\x00") },
        { B("\x00\x00\x00"), B("\x02\x01\x00") },
        { B("\x01"), B("\x02\x01\x01") },
        { B("\x7f"), B("\x02\x01\x7f") },
        { B("\x80"), B("\x02\x02\x00\x80") },
        { B("\x00\x80"), B("\x02\x02\x00\x80") },
        { B("\x00\x00\x01\x02"), B("\x02\x02\x01\x02") },
        { B("\x00\x00\xff\x00"), B("\x02\x03\x00\xff\x00") },
        { B("\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
          B("\x02\x0a\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff") },
    };
    for (size_t i = 0; i < NELEMS(mags); i++) {
        der_buf b;
        der_buf_init(&b, 64);
        UNIT_ASSERT_OK(der_add_uint_bytes(&b, mags[i].in, mags[i].in_len));
        test_take_expect(&b, mags[i].want, mags[i].want_len);
        der_buf_free(&b);
    }

    static const struct {
        uint64_t v;
        const uint8_t *want;
        size_t want_len;
    } u64s[] = {
        { 0, B("\x02\x01\x00") },
        { 1, B("\x02\x01\x01") },
        { 0x7f, B("\x02\x01\x7f") },
        { 0x80, B("\x02\x02\x00\x80") },
        { 0xff, B("\x02\x02\x00\xff") },
        { 0x100, B("\x02\x02\x01\x00") },
        { 0x7fff, B("\x02\x02\x7f\xff") },
        { 0x8000, B("\x02\x03\x00\x80\x00") },
        { 0x7fffffffffffffffULL, B("\x02\x08\x7f\xff\xff\xff\xff\xff\xff\xff") },
        { UINT64_MAX, B("\x02\x09\x00\xff\xff\xff\xff\xff\xff\xff\xff") },
    };
    for (size_t i = 0; i < NELEMS(u64s); i++) {
        der_buf b;
        uint8_t *out = NULL;
        size_t out_len = 0;
        uint64_t back = 0;
        der_buf_init(&b, 64);
        UNIT_ASSERT_OK(der_add_uint64(&b, u64s[i].v));
        UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
        ASSERT_BYTES(out, out_len, u64s[i].want, u64s[i].want_len);
        der_cur c = der_cur_make(out, out_len);
        UNIT_ASSERT_OK(der_get_uint64(&c, &back));
        CU_ASSERT_EQUAL(back, u64s[i].v);
        free(out);
        der_buf_free(&b);
    }

    static const struct {
        uint32_t v;
        const uint8_t *want;
        size_t want_len;
    } enums[] = {
        { 0, B("\x0a\x01\x00") },
        { 5, B("\x0a\x01\x05") },
        { 0x7f, B("\x0a\x01\x7f") },
        { 0x80, B("\x0a\x02\x00\x80") },
        { 0x1234, B("\x0a\x02\x12\x34") },
        { 0x7fffffff, B("\x0a\x04\x7f\xff\xff\xff") },
        { 0x80000000, B("\x0a\x05\x00\x80\x00\x00\x00") },
        { 0xffffffff, B("\x0a\x05\x00\xff\xff\xff\xff") },
    };
    for (size_t i = 0; i < NELEMS(enums); i++) {
        der_buf b;
        uint8_t *out = NULL;
        size_t out_len = 0;
        uint32_t back = 0;
        der_buf_init(&b, 64);
        UNIT_ASSERT_OK(der_add_enumerated(&b, enums[i].v));
        UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
        ASSERT_BYTES(out, out_len, enums[i].want, enums[i].want_len);
        der_cur c = der_cur_make(out, out_len);
        /* The reader takes ENUMERATED up to 2^31-1 only. */
        CU_ASSERT_EQUAL(der_get_enumerated(&c, &back).err,
                        enums[i].v <= 0x7fffffff ? ZTCA_OK : ZTCA_ERR_BAD_INPUT);
        if (enums[i].v <= 0x7fffffff) {
            CU_ASSERT_EQUAL(back, enums[i].v);
        }
        free(out);
        der_buf_free(&b);
    }
}

static void
test_der_write_bits_and_small(void)
{
    /* Named bits (X.690 11.2.2: trailing zero bits trimmed). KeyUsage (RFC 5280 4.2.1.3):
     * digitalSignature(0), keyEncipherment(2), keyCertSign(5), cRLSign(6), decipherOnly(8). */
    static const struct {
        uint16_t bits;
        const uint8_t *want;
        size_t want_len;
        uint8_t unused;
    } named[] = {
        { 0, B("\x03\x01\x00"), 0 },
        { 1u << 0, B("\x03\x02\x07\x80"), 7 },
        { (1u << 5) | (1u << 6), B("\x03\x02\x01\x06"), 1 },
        { (1u << 0) | (1u << 2), B("\x03\x02\x05\xa0"), 5 },
        { 1u << 7, B("\x03\x02\x00\x01"), 0 },
        { 1u << 8, B("\x03\x03\x07\x00\x80"), 7 },
        { (1u << 0) | (1u << 9), B("\x03\x03\x06\x80\x40"), 6 },
        { 1u << 15, B("\x03\x03\x00\x00\x01"), 0 },
        { 0xffff, B("\x03\x03\x00\xff\xff"), 0 },
    };
    for (size_t i = 0; i < NELEMS(named); i++) {
        der_buf b;
        uint8_t *out = NULL;
        size_t out_len = 0;
        der_cur bits;
        uint8_t unused = 99;
        der_buf_init(&b, 64);
        UNIT_ASSERT_OK(der_add_bits(&b, named[i].bits));
        UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
        ASSERT_BYTES(out, out_len, named[i].want, named[i].want_len);
        der_cur c = der_cur_make(out, out_len);
        UNIT_ASSERT_OK(der_get_bitstring(&c, &bits, &unused));
        CU_ASSERT_EQUAL(unused, named[i].unused);
        CU_ASSERT_EQUAL(bits.len, named[i].want_len - 3);
        free(out);
        der_buf_free(&b);
    }

    der_buf b;
    der_buf_init(&b, 64);
    UNIT_ASSERT_OK(der_add_bool(&b, true));
    UNIT_ASSERT_OK(der_add_bool(&b, false));
    UNIT_ASSERT_OK(der_add_null(&b));
    UNIT_ASSERT_OK(DER_ADD_OID(&b, MBEDTLS_OID_AT_CN));
    UNIT_ASSERT_OK(der_add_bitstring(&b, (const uint8_t *)"", 0));
    UNIT_ASSERT_OK(der_add_tlv(&b, DER_UTF8STRING, (const uint8_t *)"x", 1));
    UNIT_ASSERT_OK(der_add_raw(&b, (const uint8_t *)"", 0)); /* adds nothing */
    test_take_expect(&b, B("\x01\x01\xff\x01\x01\x00\x05\x00\x06\x03\x55\x04\x03\x03\x01\x00"
                           "\x0c\x01x"));
    der_buf_free(&b);
}

static void
test_der_write_misuse(void)
{
    der_buf b;
    static uint8_t sentinel_byte;
    uint8_t *const sentinel = &sentinel_byte;
    uint8_t *out = sentinel;
    size_t out_len = 77;

    /* `max` is a hard limit: exactly max octets fit, one more poisons the buffer, and every
     * later call fails, including ones that would fit and der_buf_take. */
    der_buf_init(&b, 10);
    UNIT_ASSERT_OK(der_add_tlv(&b, DER_OCTETSTRING, (const uint8_t *)"12345678", 8));
    test_take_expect(&b, B("\x04\x08"
                           "12345678"));
    UNIT_ASSERT_ERR(der_add_tlv(&b, DER_OCTETSTRING, (const uint8_t *)"123456789", 9),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_TRUE(b.poisoned);
    UNIT_ASSERT_ERR(der_add_null(&b), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_add_raw(&b, (const uint8_t *)"\x05\x00", 2), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_add_bool(&b, true), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_add_uint64(&b, 1), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_add_bits(&b, 1), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_add_time(&b, 0), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_begin(&b, DER_SEQUENCE), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_end(&b), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    CU_ASSERT_PTR_EQUAL(out, sentinel); /* outputs written only on success */
    CU_ASSERT_EQUAL(out_len, 77);
    der_buf_free(&b);

    /* The limit also holds when der_end needs a longer length: 2 + 128 octets fit in 130, the
     * long form's extra length octet does not. */
    uint8_t fill[128];
    memset(fill, 0xee, sizeof(fill));
    der_buf_init(&b, 130);
    UNIT_ASSERT_OK(der_begin(&b, DER_OCTETSTRING));
    UNIT_ASSERT_OK(der_add_raw(&b, fill, sizeof(fill)));
    UNIT_ASSERT_ERR(der_end(&b), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    der_buf_free(&b);
    der_buf_init(&b, 131);
    UNIT_ASSERT_OK(der_begin(&b, DER_OCTETSTRING));
    UNIT_ASSERT_OK(der_add_raw(&b, fill, sizeof(fill)));
    UNIT_ASSERT_OK(der_end(&b));
    UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
    CU_ASSERT_EQUAL_FATAL(out_len, 131);
    ASSERT_BYTES_LIT(out, 3, "\x04\x81\x80");
    ASSERT_BYTES(out + 3, 128, fill, 128);
    free(out);
    der_buf_free(&b);

    /* der_end without der_begin. */
    der_buf_init(&b, 64);
    UNIT_ASSERT_ERR(der_end(&b), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_add_null(&b), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    der_buf_free(&b);

    /* One der_end too many. */
    der_buf_init(&b, 64);
    UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_end(&b));
    UNIT_ASSERT_ERR(der_end(&b), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    der_buf_free(&b);

    /* der_buf_take with an element still open poisons too: a later der_end cannot rescue it. */
    der_buf_init(&b, 64);
    UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_add_null(&b));
    out = sentinel;
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    CU_ASSERT_PTR_EQUAL(out, sentinel);
    UNIT_ASSERT_ERR(der_end(&b), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    der_buf_free(&b);

    /* A time outside years 1-9999 fails and poisons. */
    der_buf_init(&b, 64);
    UNIT_ASSERT_ERR(der_add_time(&b, ZTCA_TIME_MAX + 1), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(der_add_null(&b), ZTCA_ERR_INTERNAL);
    der_buf_free(&b);
    der_buf_init(&b, 64);
    UNIT_ASSERT_ERR(der_add_generalized_time(&b, ZTCA_TIME_MIN - 1), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    der_buf_free(&b);

    /* Empty output: a valid (non-NULL, freeable) buffer of length 0; then the buffer is back in
     * its zero state and can be used again. */
    der_buf_init(&b, 64);
    UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
    CU_ASSERT_PTR_NOT_NULL(out);
    CU_ASSERT_EQUAL(out_len, 0);
    free(out);
    UNIT_ASSERT_OK(der_add_null(&b));
    test_take_expect(&b, B("\x05\x00"));
    der_buf_free(&b);
    der_buf_free(&b); /* twice is fine */
    der_buf_free(NULL);
}

static void
test_der_write_depth(void)
{
    der_buf b;
    uint8_t *out = NULL;
    size_t out_len = 0;

    /* DER_MAX_DEPTH nested SEQUENCEs are fine: 30 3e 30 3c ... 30 02 30 00. */
    uint8_t want[2 * DER_MAX_DEPTH];
    for (size_t i = 0; i < DER_MAX_DEPTH; i++) {
        want[2 * i] = DER_SEQUENCE;
        want[2 * i + 1] = (uint8_t)(2 * (DER_MAX_DEPTH - 1 - i));
    }
    der_buf_init(&b, 1024);
    for (size_t i = 0; i < DER_MAX_DEPTH; i++) {
        UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
    }
    for (size_t i = 0; i < DER_MAX_DEPTH; i++) {
        UNIT_ASSERT_OK(der_end(&b));
    }
    test_take_expect(&b, want, sizeof(want));
    CU_ASSERT_EQUAL(want[1], 0x3e);

    /* One more level fails and poisons: closing everything does not produce output. */
    for (size_t i = 0; i < DER_MAX_DEPTH; i++) {
        UNIT_ASSERT_OK(der_begin(&b, DER_SEQUENCE));
    }
    UNIT_ASSERT_ERR(der_begin(&b, DER_SEQUENCE), ZTCA_ERR_INTERNAL);
    for (size_t i = 0; i < DER_MAX_DEPTH; i++) {
        UNIT_ASSERT_ERR(der_end(&b), ZTCA_ERR_INTERNAL);
    }
    UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
    CU_ASSERT_PTR_NULL(out);
    der_buf_free(&b);
}

/* ---- time ---------------------------------------------------------------------------------- */

/* Expected seconds from Python: calendar.timegm(datetime.fromisoformat(...).timetuple()). */
static const struct {
    ztca_tm tm;
    ztca_time t;
    const char *rfc3339;
} test_times[] = {
    { { 1950, 1, 1, 0, 0, 0 }, -631152000, "1950-01-01T00:00:00Z" },
    { { 1970, 1, 1, 0, 0, 0 }, 0, "1970-01-01T00:00:00Z" },
    { { 1969, 12, 31, 23, 59, 59 }, -1, "1969-12-31T23:59:59Z" },
    { { 2000, 2, 29, 0, 0, 0 }, 951782400, "2000-02-29T00:00:00Z" },
    { { 2049, 12, 31, 23, 59, 59 }, 2524607999, "2049-12-31T23:59:59Z" },
    { { 2050, 1, 1, 0, 0, 0 }, 2524608000, "2050-01-01T00:00:00Z" },
    { { 2026, 11, 19, 11, 6, 40 }, 1795086400, "2026-11-19T11:06:40Z" },
    { { 2100, 3, 1, 0, 0, 0 }, 4107542400, "2100-03-01T00:00:00Z" },
    { { 9999, 12, 31, 23, 59, 59 }, 253402300799, "9999-12-31T23:59:59Z" },
    { { 1, 1, 1, 0, 0, 0 }, -62135596800, "0001-01-01T00:00:00Z" },
};

static void
test_time_tm(void)
{
    CU_ASSERT_EQUAL(ZTCA_TIME_MAX, 253402300799);
    CU_ASSERT_EQUAL(ZTCA_TIME_MIN, -62135596800);
    for (size_t i = 0; i < NELEMS(test_times); i++) {
        ztca_time t = 42;
        ztca_tm tm;
        memset(&tm, 0xff, sizeof(tm));
        UNIT_ASSERT_OK(ztca_time_from_tm(&t, &test_times[i].tm));
        CU_ASSERT_EQUAL(t, test_times[i].t);
        UNIT_ASSERT_OK(ztca_time_to_tm(&tm, test_times[i].t));
        CU_ASSERT_EQUAL(tm.year, test_times[i].tm.year);
        CU_ASSERT_EQUAL(tm.mon, test_times[i].tm.mon);
        CU_ASSERT_EQUAL(tm.day, test_times[i].tm.day);
        CU_ASSERT_EQUAL(tm.hour, test_times[i].tm.hour);
        CU_ASSERT_EQUAL(tm.min, test_times[i].tm.min);
        CU_ASSERT_EQUAL(tm.sec, test_times[i].tm.sec);
    }

    static const ztca_tm bad[] = {
        { 0, 1, 1, 0, 0, 0 },     { 10000, 1, 1, 0, 0, 0 }, { 2026, 0, 1, 0, 0, 0 },
        { 2026, 13, 1, 0, 0, 0 }, { 2026, 1, 0, 0, 0, 0 },  { 2026, 1, 32, 0, 0, 0 },
        { 2026, 4, 31, 0, 0, 0 }, { 2000, 2, 30, 0, 0, 0 }, { 1900, 2, 29, 0, 0, 0 },
        { 2100, 2, 29, 0, 0, 0 }, { 2026, 2, 29, 0, 0, 0 }, { 2026, 1, 1, 24, 0, 0 },
        { 2026, 1, 1, -1, 0, 0 }, { 2026, 1, 1, 0, 60, 0 }, { 2026, 1, 1, 0, -1, 0 },
        { 2026, 1, 1, 0, 0, 60 }, { 2026, 1, 1, 0, 0, -1 }, { -2026, 1, 1, 0, 0, 0 },
    };
    for (size_t i = 0; i < NELEMS(bad); i++) {
        ztca_time t = 42;
        UNIT_ASSERT_ERR(ztca_time_from_tm(&t, &bad[i]), ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_EQUAL(t, 42);
    }
    ztca_tm tm = { 7, 7, 7, 7, 7, 7 };
    UNIT_ASSERT_ERR(ztca_time_to_tm(&tm, ZTCA_TIME_MAX + 1), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(ztca_time_to_tm(&tm, ZTCA_TIME_MIN - 1), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(ztca_time_to_tm(&tm, INT64_MIN), ZTCA_ERR_BAD_INPUT);
    UNIT_ASSERT_ERR(ztca_time_to_tm(&tm, INT64_MAX), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_EQUAL(tm.year, 7);

    /* Every day of a leap and a common year, and a few past and future years, round trip. */
    for (ztca_time t = 946684800 - 86400 * 370; t < 946684800 + 86400 * 740; t += 86400 - 1) {
        ztca_time back = 0;
        UNIT_ASSERT_OK(ztca_time_to_tm(&tm, t));
        UNIT_ASSERT_OK(ztca_time_from_tm(&back, &tm));
        CU_ASSERT_EQUAL(back, t);
    }
    CU_ASSERT(ztca_now() > 1700000000); /* 2023-11-14: the clock is not at the epoch */
}

static void
test_time_der(void)
{
    /* RFC 5280 4.1.2.5: UTCTime for 1950 through 2049, GeneralizedTime otherwise; always Z. */
    static const struct {
        ztca_time t;
        bool generalized; /* der_add_generalized_time instead of der_add_time */
        uint8_t tag;
        const char *text;
    } cases[] = {
        { 2524607999, false, DER_UTCTIME, "491231235959Z" },
        { 2524608000, false, DER_GENERALIZEDTIME, "20500101000000Z" },
        { -631152000, false, DER_UTCTIME, "500101000000Z" },
        { -631152001, false, DER_GENERALIZEDTIME, "19491231235959Z" },
        { 0, false, DER_UTCTIME, "700101000000Z" },
        { 951782400, false, DER_UTCTIME, "000229000000Z" },
        { 1795086400, false, DER_UTCTIME, "261119110640Z" },
        { ZTCA_TIME_MAX, false, DER_GENERALIZEDTIME, "99991231235959Z" },
        { ZTCA_TIME_MIN, false, DER_GENERALIZEDTIME, "00010101000000Z" },
        { 0, true, DER_GENERALIZEDTIME, "19700101000000Z" },
        { 2524607999, true, DER_GENERALIZEDTIME, "20491231235959Z" },
    };
    for (size_t i = 0; i < NELEMS(cases); i++) {
        der_buf b;
        uint8_t *out = NULL;
        size_t out_len = 0;
        ztca_time back = 42;
        der_buf_init(&b, 64);
        if (cases[i].generalized) {
            UNIT_ASSERT_OK(der_add_generalized_time(&b, cases[i].t));
        } else {
            UNIT_ASSERT_OK(der_add_time(&b, cases[i].t));
        }
        UNIT_ASSERT_OK(der_buf_take(&b, &out, &out_len));
        size_t want_len = 0;
        uint8_t *want = test_time_tlv(cases[i].tag, cases[i].text, &want_len);
        ASSERT_BYTES(out, out_len, want, want_len);
        free(want);
        der_cur c = der_cur_make(out, out_len);
        UNIT_ASSERT_OK(der_get_time(&c, &back));
        CU_ASSERT_EQUAL(back, cases[i].t);
        CU_ASSERT_EQUAL(c.len, 0);
        free(out);
        der_buf_free(&b);
    }
}

static void
test_time_rfc3339(void)
{
    char buf[32];
    for (size_t i = 0; i < NELEMS(test_times); i++) {
        ztca_time t = 42;
        memset(buf, 'x', sizeof(buf));
        UNIT_ASSERT_OK(ztca_time_format_rfc3339(buf, sizeof(buf), test_times[i].t));
        CU_ASSERT_STRING_EQUAL(buf, test_times[i].rfc3339);
        UNIT_ASSERT_OK(ztca_time_parse_rfc3339(&t, test_times[i].rfc3339));
        CU_ASSERT_EQUAL(t, test_times[i].t);
    }
    /* Exactly 21 octets is enough; 20 is not. */
    UNIT_ASSERT_OK(ztca_time_format_rfc3339(buf, 21, 2524608000));
    CU_ASSERT_STRING_EQUAL(buf, "2050-01-01T00:00:00Z");
    UNIT_ASSERT_ERR(ztca_time_format_rfc3339(buf, 20, 0), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(ztca_time_format_rfc3339(buf, sizeof(buf), ZTCA_TIME_MAX + 1),
                    ZTCA_ERR_BAD_INPUT);

    static const char *const bad[] = {
        "",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z", /* no leap seconds */
        "0000-01-01T00:00:00Z",
        "2026-01-01T00:00:00", /* missing Z */
        "2026-01-01T00:00:00+01:00",
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00-05:00",
        "2026-01-01T00:00:00.5Z", /* fractions */
        "2026-01-01T00:00:00.000Z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00ZZ",
        "2026-1-01T00:00:00Z",
        "+026-01-01T00:00:00Z",
        "2026-01-01T0a:00:00Z",
        "2026/01/01T00:00:00Z",
        "12026-01-01T00:00:00Z",
        "2026-01-01t00:00:00Z", /* RFC 3339 5.6 allows lower case; we read only what we emit */
        "2026-01-01T00:00:00z",
    };
    for (size_t i = 0; i < NELEMS(bad); i++) {
        ztca_time t = 42;
        ztca_rc rc = ztca_time_parse_rfc3339(&t, bad[i]);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  RFC 3339 \"%s\": got %s\n", bad[i], ztca_err_name(rc.err));
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_EQUAL(t, 42);
    }
}

/* ---- durations ------------------------------------------------------------------------------ */

static void
test_duration(void)
{
    static const struct {
        const char *s;
        int64_t want;
    } good[] = {
        { "90s", 90 },         { "15m", 900 },
        { "8h", 28800 },       { "7d", 604800 },
        { "1h30m", 5400 },     { "1s", 1 },
        { "1d1h1m1s", 90061 }, { "2d12h", 216000 },
        { "1m30s", 90 },       { "36500d", 3153600000 },
    };
    for (size_t i = 0; i < NELEMS(good); i++) {
        int64_t v = 42;
        ztca_rc rc = ztca_duration_parse(&v, good[i].s);
        if (!ZTCA_IS_OK(rc)) {
            fprintf(stderr, "\n  duration \"%s\": got %s\n", good[i].s, ztca_err_name(rc.err));
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_OK);
        CU_ASSERT_EQUAL(v, good[i].want);
    }

    static const char *const bad[] = {
        "",      "0s",   "0m0s",         "15",   "m",      "1x",
        "30m1h", "1h1h", "99999999999d", "-5m",  "+5m",    "5 m",
        " 5m",   "5m ",  "5M",           "1h30", "h1",     "1.5h",
        "1w",    "5mm",  "1d1d",         "1s1m", "40000d", "99999999999999999999999s",
    };
    for (size_t i = 0; i < NELEMS(bad); i++) {
        int64_t v = 42;
        ztca_rc rc = ztca_duration_parse(&v, bad[i]);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  duration \"%s\": got %s\n", bad[i], ztca_err_name(rc.err));
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_EQUAL(v, 42);
    }

    static const struct {
        int64_t v;
        const char *want;
    } fmt[] = {
        { 5400, "1h30m" }, { 86400, "1d" }, { 90, "1m30s" },  { 1, "1s" },
        { 60, "1m" },      { 3600, "1h" },  { 604800, "7d" }, { 90061, "1d1h1m1s" },
        { 86401, "1d1s" }, { 900, "15m" },  { 28800, "8h" },  { 3153600000, "36500d" },
    };
    for (size_t i = 0; i < NELEMS(fmt); i++) {
        char buf[32];
        int64_t back = 0;
        ztca_duration_format(buf, sizeof(buf), fmt[i].v);
        CU_ASSERT_STRING_EQUAL(buf, fmt[i].want);
        UNIT_ASSERT_OK(ztca_duration_parse(&back, buf));
        CU_ASSERT_EQUAL(back, fmt[i].v);
    }
    /* Too small a buffer gets nothing rather than a shorter, valid-looking duration. */
    char small[ZTCA_DURATION_TEXT - 1];
    memset(small, 'x', sizeof(small));
    ztca_duration_format(small, sizeof(small), 5400);
    CU_ASSERT_STRING_EQUAL(small, "");
}

/* ---- hex and base64 ------------------------------------------------------------------------ */

static void
test_hex(void)
{
    static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char text[13];
    uint8_t out[8];
    size_t out_len = 0;

    memset(text, 'x', sizeof(text));
    UNIT_ASSERT_OK(ztca_hex_encode(text, sizeof(text), bytes, sizeof(bytes)));
    CU_ASSERT_STRING_EQUAL(text, "00017f80abff"); /* lower case */
    UNIT_ASSERT_OK(ztca_hex_encode(text, 1, bytes, 0));
    CU_ASSERT_STRING_EQUAL(text, "");
    /* 2*len+1 octets are needed: 2*len leaves no room for the NUL. */
    memset(text, 'x', sizeof(text));
    UNIT_ASSERT_ERR(ztca_hex_encode(text, 12, bytes, sizeof(bytes)), ZTCA_ERR_INTERNAL);
    UNIT_ASSERT_ERR(ztca_hex_encode(text, 0, bytes, 0), ZTCA_ERR_INTERNAL);

    /* Upper, lower and mixed case decode alike. */
    static const char *const forms[] = { "00017f80abff", "00017F80ABFF", "00017f80AbFf" };
    for (size_t i = 0; i < NELEMS(forms); i++) {
        memset(out, 0xee, sizeof(out));
        UNIT_ASSERT_OK(ztca_hex_decode(out, sizeof(out), &out_len, forms[i]));
        ASSERT_BYTES(out, out_len, bytes, sizeof(bytes));
        CU_ASSERT_EQUAL(out[6], 0xee); /* nothing written past the value */
    }
    /* An exact fit, and the empty string. */
    UNIT_ASSERT_OK(ztca_hex_decode(out, 6, &out_len, "00017f80abff"));
    CU_ASSERT_EQUAL(out_len, 6);
    UNIT_ASSERT_OK(ztca_hex_decode(out, 0, &out_len, ""));
    CU_ASSERT_EQUAL(out_len, 0);

    static const struct {
        const char *in;
        size_t out_size;
    } bad[] = {
        { "abc", 8 },        /* odd length */
        { "a", 8 },          /* odd length */
        { "0g", 8 },         /* bad digit */
        { "g0", 8 },         /* bad digit */
        { "0x00", 8 },       /* prefix */
        { "00 11", 8 },      /* space, odd */
        { "00 011", 8 },     /* space, even */
        { "-1", 8 },         /* sign */
        { "00112233", 3 },   /* output too small */
        { "00112233", 0 },   /* output too small */
        { "0011223344", 4 }, /* output too small by one */
    };
    for (size_t i = 0; i < NELEMS(bad); i++) {
        memset(out, 0xee, sizeof(out));
        out_len = 77;
        UNIT_ASSERT_ERR(ztca_hex_decode(out, bad[i].out_size, &out_len, bad[i].in),
                        ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_EQUAL(out_len, 77);
        CU_ASSERT_EQUAL(out[0], 0xee); /* outputs written only on success */
    }
}

/* RFC 4648 section 10 test vectors. */
static const struct {
    const char *raw;
    const char *b64;
} test_b64[] = {
    { "", "" },
    { "f", "Zg==" },
    { "fo", "Zm8=" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
};

static void
test_base64(void)
{
    for (size_t i = 0; i < NELEMS(test_b64); i++) {
        size_t raw_len = strlen(test_b64[i].raw);
        size_t b64_len = strlen(test_b64[i].b64);
        char *enc = NULL;
        size_t enc_len = 77;
        uint8_t *dec = NULL;
        size_t dec_len = 77;

        /* Exact-size, not NUL-terminated copies: neither side may read past `len`. */
        uint8_t *raw = unit_dup((const uint8_t *)test_b64[i].raw, raw_len);
        UNIT_ASSERT_OK(ztca_base64_encode(&enc, &enc_len, raw, raw_len));
        CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
        ASSERT_BYTES(enc, enc_len, test_b64[i].b64, b64_len);
        /* NUL-terminated, as the header promises: check the octet itself, not via strlen. */
        if (enc[enc_len] != '\0') {
            fprintf(stderr, "\n  base64 of \"%s\": no NUL after %zu chars (0x%02x)\n",
                    test_b64[i].raw, enc_len, (unsigned)(uint8_t)enc[enc_len]);
        }
        CU_ASSERT_EQUAL(enc[enc_len], '\0');
        free(enc);
        free(raw);

        uint8_t *b64 = unit_dup((const uint8_t *)test_b64[i].b64, b64_len);
        UNIT_ASSERT_OK(ztca_base64_decode(&dec, &dec_len, (const char *)b64, b64_len));
        CU_ASSERT_PTR_NOT_NULL(dec);
        ASSERT_BYTES(dec, dec_len, test_b64[i].raw, raw_len);
        free(dec);
        free(b64);
    }

    /* All 256 octet values, against a hand-checked prefix and suffix of the encoding. */
    uint8_t all[256];
    for (size_t i = 0; i < sizeof(all); i++) {
        all[i] = (uint8_t)i;
    }
    char *enc = NULL;
    size_t enc_len = 0;
    uint8_t *dec = NULL;
    size_t dec_len = 0;
    UNIT_ASSERT_OK(ztca_base64_encode(&enc, &enc_len, all, sizeof(all)));
    CU_ASSERT_EQUAL_FATAL(enc_len, 344);
    ASSERT_BYTES_LIT(enc, 12, "AAECAwQFBgcI");
    ASSERT_BYTES_LIT(enc + 336, 8, "/P3+/w==");
    UNIT_ASSERT_OK(ztca_base64_decode(&dec, &dec_len, enc, enc_len));
    ASSERT_BYTES(dec, dec_len, all, sizeof(all));
    free(dec);
    free(enc);

    static const char *const bad[] = {
        "Zm9v!A==",   /* character outside the alphabet */
        "Zm9v-_==",   /* base64url is not base64 */
        "Zm=vYg==",   /* '=' in the middle */
        "=m9v",       /* '=' first */
        "Zg=a",       /* data after padding */
        "====",       /* padding only */
        "Z===",       /* three padding characters */
        "Zm9",        /* length not a multiple of 4 */
        "Zm9vY",      /* length not a multiple of 4 */
        "Zg",         /* padding required */
        "Zm9\nYmFy",  /* embedded newline */
        "Zm9v\r\nYm", /* embedded CRLF */
        "Zm9 ",       /* space */
        " Zm9",       /* space */
        "Zm9\t",      /* tab */
        "Zm9\xc3",    /* a non-ASCII octet */
        "Zh==",       /* non-zero bits under the padding: "f" has one encoding, "Zg==" */
        "Zm9=",       /* non-zero bits under one '=': "fo" is "Zm8=" */
    };
    for (size_t i = 0; i < NELEMS(bad); i++) {
        size_t len = strlen(bad[i]);
        uint8_t *in = unit_dup((const uint8_t *)bad[i], len);
        uint8_t *out = NULL;
        size_t out_len = 77;
        ztca_rc rc = ztca_base64_decode(&out, &out_len, (const char *)in, len);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  base64 case %zu: got %s\n", i, ztca_err_name(rc.err));
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_PTR_NULL(out);
        CU_ASSERT_EQUAL(out_len, 77);
        free(out); /* in case a buggy decoder accepted it */
        free(in);
    }
}

/* ---- PEM ----------------------------------------------------------------------------------- */

/* Decodes `len` octets of `text` from an exact-size, not NUL-terminated heap copy. */
static ztca_rc
test_pem_decode(ztca_pem_list *out, const char *text, size_t len)
{
    uint8_t *exact = unit_dup((const uint8_t *)text, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
    ztca_rc rc = ztca_pem_decode_all(out, exact, len);
    free(exact);
    return rc;
}

static void
test_pem_encode(void)
{
    char *pem = NULL;
    size_t pem_len = 0;
    ztca_pem_list list;

    UNIT_ASSERT_OK(ztca_pem_encode(&pem, &pem_len, "TEST", (const uint8_t *)"foobar", 6));
    ASSERT_BYTES_LIT(pem, pem_len, "-----BEGIN TEST-----\nZm9vYmFy\n-----END TEST-----\n");
    CU_ASSERT_EQUAL(pem[pem_len], '\0');
    free(pem);

    /* 48 octets are exactly one 64-column line; 49 need a second. */
    uint8_t zeros[49];
    memset(zeros, 0, sizeof(zeros));
    UNIT_ASSERT_OK(ztca_pem_encode(&pem, &pem_len, "X", zeros, 48));
    ASSERT_BYTES_LIT(pem, pem_len,
                     "-----BEGIN X-----\n"
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
                     "-----END X-----\n");
    free(pem);
    UNIT_ASSERT_OK(ztca_pem_encode(&pem, &pem_len, "X", zeros, 49));
    ASSERT_BYTES_LIT(pem, pem_len,
                     "-----BEGIN X-----\n"
                     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
                     "AA==\n"
                     "-----END X-----\n");
    free(pem);

    /* Round trip through decode_all for sizes around the line and padding boundaries. */
    static const size_t sizes[] = { 1, 2, 3, 47, 48, 49, 95, 96, 97, 1000, 4099 };
    uint8_t *der = malloc(4099);
    CU_ASSERT_PTR_NOT_NULL_FATAL(der);
    for (size_t i = 0; i < 4099; i++) {
        der[i] = test_pattern(i);
    }
    for (size_t i = 0; i < NELEMS(sizes); i++) {
        UNIT_ASSERT_OK(ztca_pem_encode(&pem, &pem_len, "CERTIFICATE", der, sizes[i]));
        CU_ASSERT_EQUAL(pem_len, strlen(pem));
        /* Lines: 64 base64 columns at most, every line ends with \n. */
        size_t b64_len = (sizes[i] + 2) / 3 * 4;
        CU_ASSERT_EQUAL(pem_len, 28 + b64_len + (b64_len + 63) / 64 + 26);
        ztca_pem_list_init(&list);
        UNIT_ASSERT_OK(test_pem_decode(&list, pem, pem_len));
        CU_ASSERT_EQUAL_FATAL(list.num_blocks, 1);
        CU_ASSERT_STRING_EQUAL(list.blocks[0].label, "CERTIFICATE");
        ASSERT_BYTES(list.blocks[0].der, list.blocks[0].der_len, der, sizes[i]);
        ztca_pem_list_free(&list);
        CU_ASSERT_PTR_NULL(list.blocks);
        CU_ASSERT_EQUAL(list.num_blocks, 0);
        free(pem);
    }
    free(der);

    char label[70];
    memset(label, 'A', 64);
    label[64] = '\0';
    pem = NULL;
    UNIT_ASSERT_ERR(ztca_pem_encode(&pem, &pem_len, label, zeros, 3), ZTCA_ERR_INTERNAL);
    CU_ASSERT_PTR_NULL(pem);
    label[63] = '\0'; /* 63 characters is the longest label */
    UNIT_ASSERT_OK(ztca_pem_encode(&pem, &pem_len, label, zeros, 3));
    ztca_pem_list_init(&list);
    UNIT_ASSERT_OK(test_pem_decode(&list, pem, pem_len));
    CU_ASSERT_EQUAL_FATAL(list.num_blocks, 1);
    CU_ASSERT_STRING_EQUAL(list.blocks[0].label, label);
    ztca_pem_list_free(&list);
    free(pem);
}

#define TEST_PEM_A "-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n"
#define TEST_PEM_B "-----BEGIN PRIVATE KEY-----\nZm9vYmFy\n-----END PRIVATE KEY-----\n"

static void
test_pem_decode_all(void)
{
    ztca_pem_list list;
    static const char two[] = "Subject: text before, as openssl writes it\n" TEST_PEM_A
                              "text between\n" TEST_PEM_B "and after\n";
    ztca_pem_list_init(&list);
    UNIT_ASSERT_OK(test_pem_decode(&list, two, sizeof(two) - 1));
    CU_ASSERT_EQUAL_FATAL(list.num_blocks, 2);
    CU_ASSERT_STRING_EQUAL(list.blocks[0].label, "CERTIFICATE");
    ASSERT_BYTES_LIT(list.blocks[0].der, list.blocks[0].der_len, "foo");
    CU_ASSERT_STRING_EQUAL(list.blocks[1].label, "PRIVATE KEY");
    ASSERT_BYTES_LIT(list.blocks[1].der, list.blocks[1].der_len, "foobar");
    ztca_pem_list_free(&list);
    ztca_pem_list_free(&list); /* the zero state again: freeing twice is fine */
    ztca_pem_list_free(NULL);

    /* CRLF line ends, and base64 wrapped over several lines. */
    static const char crlf[] = "-----BEGIN X-----\r\nZm9v\r\nYmFy\r\n-----END X-----\r\n";
    UNIT_ASSERT_OK(test_pem_decode(&list, crlf, sizeof(crlf) - 1));
    CU_ASSERT_EQUAL_FATAL(list.num_blocks, 1);
    ASSERT_BYTES_LIT(list.blocks[0].der, list.blocks[0].der_len, "foobar");
    ztca_pem_list_free(&list);

    static const struct {
        const char *name;
        const char *text;
        size_t len;
    } bad[] = {
        { "empty", T("") },
        { "no_block", T("hello world\n") },
        { "begin_without_label", T("-----BEGIN -----\nZm9v\n-----END -----\n") },
        { "nul_byte", T(TEST_PEM_A "\0" TEST_PEM_B) },
        { "nul_byte_inside_block", T("-----BEGIN X-----\nZm\0v\n-----END X-----\n") },
        { "missing_end", T("-----BEGIN X-----\nZm9v\n") },
        { "missing_end_second", T(TEST_PEM_A "-----BEGIN X-----\nZm9v\n") },
        { "end_other_label", T("-----BEGIN X-----\nZm9v\n-----END Y-----\n") },
        { "end_before_begin", T("-----END X-----\n-----BEGIN X-----\nZm9v\n") },
        { "bad_base64", T("-----BEGIN X-----\nZm9v!!!!\n-----END X-----\n") },
        { "bad_base64_second", T(TEST_PEM_A "-----BEGIN X-----\nZm=v\n-----END X-----\n") },
        { "empty_block", T("-----BEGIN X-----\n-----END X-----\n") },
        { "junk_after_begin", T("-----BEGIN X-----junk\nZm9v\n-----END X-----\n") },
        { "legacy_encrypted", T("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                                "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nZm9v\n"
                                "-----END RSA PRIVATE KEY-----\n") },
    };
    for (size_t i = 0; i < NELEMS(bad); i++) {
        ztca_pem_block dummy;
        ztca_pem_list out = { &dummy, 99 };
        ztca_rc rc = test_pem_decode(&out, bad[i].text, bad[i].len);
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            fprintf(stderr, "\n  PEM case %s: got %s\n", bad[i].name, ztca_err_name(rc.err));
        }
        CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_PTR_EQUAL(out.blocks, &dummy); /* untouched on failure */
        CU_ASSERT_EQUAL(out.num_blocks, 99);
        if (out.blocks != &dummy) {
            ztca_pem_list_free(&out);
        }
    }

    /* ZTCA_PEM_MAX_BLOCKS blocks are fine, one more is not. */
    static const char block[] = "-----BEGIN A-----\nZm9v\n-----END A-----\n";
    size_t block_len = sizeof(block) - 1;
    char *many = malloc(block_len * (ZTCA_PEM_MAX_BLOCKS + 1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(many);
    for (size_t i = 0; i <= ZTCA_PEM_MAX_BLOCKS; i++) {
        memcpy(many + i * block_len, block, block_len);
    }
    UNIT_ASSERT_OK(test_pem_decode(&list, many, block_len * ZTCA_PEM_MAX_BLOCKS));
    CU_ASSERT_EQUAL(list.num_blocks, ZTCA_PEM_MAX_BLOCKS);
    ztca_pem_list_free(&list);
    UNIT_ASSERT_ERR(test_pem_decode(&list, many, block_len * (ZTCA_PEM_MAX_BLOCKS + 1)),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(list.blocks);
    free(many);

    /* ZTCA_PEM_MAX octets of text are read; one more is refused before any parsing. */
    char *big = malloc(ZTCA_PEM_MAX + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, '\n', ZTCA_PEM_MAX + 1);
    memcpy(big, block, block_len);
    UNIT_ASSERT_OK(test_pem_decode(&list, big, ZTCA_PEM_MAX));
    CU_ASSERT_EQUAL(list.num_blocks, 1);
    ztca_pem_list_free(&list);
    UNIT_ASSERT_ERR(test_pem_decode(&list, big, ZTCA_PEM_MAX + 1), ZTCA_ERR_BAD_INPUT);
    free(big);
}

static void
test_pem_decode_one(void)
{
    static const char one[] = "# a comment\n" TEST_PEM_A;
    static const char two[] = TEST_PEM_A TEST_PEM_A;
    uint8_t *exact = unit_dup((const uint8_t *)one, sizeof(one) - 1);
    uint8_t *der = NULL;
    size_t der_len = 0;
    UNIT_ASSERT_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE", exact, sizeof(one) - 1));
    ASSERT_BYTES_LIT(der, der_len, "foo");
    free(der);

    /* A wrong label, a label that is only a prefix, no block, two blocks (even of the right
     * label): all BAD_INPUT, outputs untouched. */
    static const char *const labels[] = { "PRIVATE KEY", "CERT", "CERTIFICATES", "" };
    for (size_t i = 0; i < NELEMS(labels); i++) {
        der = NULL;
        der_len = 77;
        UNIT_ASSERT_ERR(ztca_pem_decode_one(&der, &der_len, labels[i], exact, sizeof(one) - 1),
                        ZTCA_ERR_BAD_INPUT);
        CU_ASSERT_PTR_NULL(der);
        CU_ASSERT_EQUAL(der_len, 77);
    }
    free(exact);
    exact = unit_dup((const uint8_t *)two, sizeof(two) - 1);
    UNIT_ASSERT_ERR(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE", exact, sizeof(two) - 1),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(der);
    free(exact);
    exact = unit_dup((const uint8_t *)"no PEM here", 11);
    UNIT_ASSERT_ERR(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE", exact, 11),
                    ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_PTR_NULL(der);
    free(exact);
}

/* Every prefix of a two-block text, from an exact-size copy: nothing reads past the end (ASan),
 * and the outcome is exactly what the prefix contains. The text ends right after the last
 * "-----END ...-----" because RFC 7468 makes the final line break optional: so only the whole
 * text holds both blocks. */
static void
test_pem_every_prefix(void)
{
    static const char text[] = "intro\n" TEST_PEM_A "between\n"
                               "-----BEGIN PRIVATE KEY-----\nZm9vYmFy\n-----END PRIVATE KEY-----";
    const size_t len = sizeof(text) - 1;
    /* The first block is complete from the end of its END line; a prefix holding the whole
     * second BEGIN line but not its END fails as a whole. */
    const char *a_end = strstr(text, "-----END CERTIFICATE-----");
    const char *b_begin = strstr(text, "-----BEGIN PRIVATE KEY-----");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a_end);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b_begin);
    const size_t one_from = (size_t)(a_end - text) + strlen("-----END CERTIFICATE-----");
    const size_t one_until = (size_t)(b_begin - text) + strlen("-----BEGIN PRIVATE KEY-----");
    size_t wrong = 0;

    for (size_t n = 0; n <= len; n++) {
        ztca_pem_list list;
        ztca_pem_list_init(&list);
        ztca_rc rc = test_pem_decode(&list, text, n);
        size_t want_blocks = n == len ? 2 : (n >= one_from && n < one_until ? 1 : 0);
        bool ok = want_blocks == 0 ? rc.err == ZTCA_ERR_BAD_INPUT
                                   : ZTCA_IS_OK(rc) && list.num_blocks == want_blocks;
        if (ok && want_blocks > 0) {
            ok = strcmp(list.blocks[0].label, "CERTIFICATE") == 0 && list.blocks[0].der_len == 3
                 && memcmp(list.blocks[0].der, "foo", 3) == 0;
        }
        if (ok && want_blocks > 1) {
            ok = strcmp(list.blocks[1].label, "PRIVATE KEY") == 0 && list.blocks[1].der_len == 6
                 && memcmp(list.blocks[1].der, "foobar", 6) == 0;
        }
        if (!ok) {
            fprintf(stderr, "\n  PEM prefix %zu of %zu: got %s with %zu blocks, want %zu\n", n, len,
                    ztca_err_name(rc.err), list.num_blocks, want_blocks);
            wrong++;
        }
        ztca_pem_list_free(&list);
    }
    CU_ASSERT_EQUAL(wrong, 0);
}

/* ---- results, notes, small helpers ---------------------------------------------------------- */

static void
test_ct_equal(void)
{
    static const uint8_t a[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
    uint8_t b[32];
    memcpy(b, a, sizeof(b));
    CU_ASSERT_TRUE(ztca_ct_equal(a, b, sizeof(a)));
    CU_ASSERT_TRUE(ztca_ct_equal(a, b, 0));
    for (size_t i = 0; i < sizeof(b); i++) {
        /* A difference anywhere, and in any single bit, is seen. */
        b[i] ^= (uint8_t)(1u << (i % 8));
        CU_ASSERT_FALSE(ztca_ct_equal(a, b, sizeof(a)));
        CU_ASSERT_TRUE(ztca_ct_equal(a, b, i)); /* the prefix before it still matches */
        b[i] = a[i];
    }
    uint8_t z[4] = { 1, 2, 3, 4 };
    ztca_zeroize(z, sizeof(z));
    CU_ASSERT_TRUE(ztca_ct_equal(z, "\0\0\0\0", 4));
}

static void
test_err_names(void)
{
    static const struct {
        ztca_err err;
        const char *name;
    } names[] = {
        { ZTCA_OK, "ok" },
        { ZTCA_ERR_BAD_INPUT, "bad_input" },
        { ZTCA_ERR_UNSUPPORTED, "unsupported" },
        { ZTCA_ERR_NOT_FOUND, "not_found" },
        { ZTCA_ERR_DENIED, "denied" },
        { ZTCA_ERR_CONFLICT, "conflict" },
        { ZTCA_ERR_NOMEM, "nomem" },
        { ZTCA_ERR_CRYPTO, "crypto" },
        { ZTCA_ERR_STORE, "store" },
        { ZTCA_ERR_TPM, "tpm" },
        { ZTCA_ERR_IO, "io" },
        { ZTCA_ERR_INTERNAL, "internal" },
        { ZTCA_ERR_UNAVAILABLE, "unavailable" },
    };
    /* The table covers every code: they are dense from ZTCA_OK to ZTCA_ERR_UNAVAILABLE. */
    CU_ASSERT_EQUAL(NELEMS(names), (size_t)ZTCA_ERR_UNAVAILABLE + 1);
    for (size_t i = 0; i < NELEMS(names); i++) {
        CU_ASSERT_EQUAL((size_t)names[i].err, i);
        CU_ASSERT_STRING_EQUAL(ztca_err_name(names[i].err), names[i].name);
        for (size_t j = 0; j < i; j++) {
            CU_ASSERT_STRING_NOT_EQUAL(ztca_err_name(names[i].err), ztca_err_name(names[j].err));
        }
    }
    CU_ASSERT_STRING_EQUAL(ztca_err_name((ztca_err)(ZTCA_ERR_UNAVAILABLE + 1)), "unknown");
}

/* True when `where` is "<...>/<file>:<line>" with a positive decimal line. */
static bool
test_where_is(const char *where, const char *file)
{
    const char *colon = strrchr(where, ':');
    size_t flen = strlen(file);
    if (colon == NULL || (size_t)(colon - where) < flen || strncmp(colon - flen, file, flen) != 0
        || colon[1] == '\0' || colon[1] == '0') {
        return false;
    }
    for (const char *d = colon + 1; *d != '\0'; d++) {
        if (*d < '0' || *d > '9') {
            return false;
        }
    }
    return true;
}

static void *
test_note_thread(void *arg)
{
    /* The notes are per thread: this thread starts with none and its own does not leak. */
    bool *clean = arg;
    *clean = strcmp(ztca_last_what(), "") == 0 && strcmp(ztca_last_where(), "") == 0;
    ztca_note_set("other.c", 1, "from another thread", 5);
    return NULL;
}

static void
test_notes(void)
{
    static const uint8_t trailing[] = { 0x05, 0x00 };
    static const uint8_t zero[] = { 0x02, 0x01, 0x00 };
    uint8_t out[4];
    size_t out_len = 0;

    ztca_clear_error();
    CU_ASSERT_STRING_EQUAL(ztca_last_where(), "");
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "");
    CU_ASSERT_EQUAL(ztca_last_foreign(), 0);

    der_cur c = der_cur_make(trailing, sizeof(trailing));
    UNIT_ASSERT_ERR(der_expect_end(&c), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "DER: trailing data");
    CU_ASSERT_TRUE(test_where_is(ztca_last_where(), "core/der_read.c"));
    CU_ASSERT_EQUAL(ztca_last_foreign(), 0);

    der_cur s;
    c = der_cur_make(zero, sizeof(zero));
    UNIT_ASSERT_ERR(der_get_serial(&c, &s), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "RFC 5280 4.1.2.2: serial number must be positive");
    CU_ASSERT_TRUE(test_where_is(ztca_last_where(), "core/der_read.c"));

    UNIT_ASSERT_ERR(ztca_hex_decode(out, sizeof(out), &out_len, "zz"), ZTCA_ERR_BAD_INPUT);
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "hex: not a hex digit");
    CU_ASSERT_TRUE(test_where_is(ztca_last_where(), "core/util.c"));

    /* A success does not clear the note of an earlier failure. */
    c = der_cur_make(trailing, sizeof(trailing));
    UNIT_ASSERT_OK(der_get_null(&c));
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "hex: not a hex digit");

    ztca_rc rc = ztca_note(ZTCA_ERR_CRYPTO, "ca/ca_signer.c", 42, "mbedtls_pk_sign", -0x4380);
    CU_ASSERT_EQUAL(rc.err, ZTCA_ERR_CRYPTO);
    CU_ASSERT_STRING_EQUAL(ztca_last_where(), "ca/ca_signer.c:42");
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "mbedtls_pk_sign");
    CU_ASSERT_EQUAL(ztca_last_foreign(), -0x4380);

    pthread_t th;
    bool clean = false;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, test_note_thread, &clean), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_join(th, NULL), 0);
    CU_ASSERT_TRUE(clean);
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "mbedtls_pk_sign");
    CU_ASSERT_EQUAL(ztca_last_foreign(), -0x4380);

    ztca_clear_error();
    CU_ASSERT_STRING_EQUAL(ztca_last_where(), "");
    CU_ASSERT_STRING_EQUAL(ztca_last_what(), "");
    CU_ASSERT_EQUAL(ztca_last_foreign(), 0);
}

/* The four macros, in the two function shapes STYLE 3 describes. */
static ztca_rc
test_guarded(int step)
{
    ZTCA_ENSURE(step != 1, ZTCA_ERR_DENIED, "test: ensure");
    ZTCA_GUARD(step == 2 ? ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "test: guard", 0) : ZTCA_RC_OK);
    if (step == 3) {
        ZTCA_BAIL(ZTCA_ERR_CONFLICT, "test: bail");
    }
    ZTCA_GUARD_MBEDTLS(step == 4 ? -0x10 : 0, ZTCA_ERR_CRYPTO);
    return ZTCA_RC_OK;
}

static ztca_rc
test_checked(int step, int *cleanups)
{
    ztca_rc rc = ZTCA_RC_OK;
    ZTCA_CHECK(test_guarded(step));
    ZTCA_REQUIRE(step != 5, ZTCA_ERR_UNSUPPORTED, "test: require");
    ZTCA_CHECK_MBEDTLS(step == 6 ? -0x20 : 0, ZTCA_ERR_IO);
out:
    (*cleanups)++;
    return rc;
}

static void
test_macros(void)
{
    static const struct {
        ztca_err err;
        const char *what;
        long foreign;
    } want[] = {
        { ZTCA_OK, "", 0 },
        { ZTCA_ERR_DENIED, "test: ensure", 0 },
        { ZTCA_ERR_NOT_FOUND, "test: guard", 0 },
        { ZTCA_ERR_CONFLICT, "test: bail", 0 },
        { ZTCA_ERR_CRYPTO, "step == 4 ? -0x10 : 0", -0x10 },
        { ZTCA_ERR_UNSUPPORTED, "test: require", 0 },
        { ZTCA_ERR_IO, "step == 6 ? -0x20 : 0", -0x20 },
    };
    for (size_t i = 0; i < NELEMS(want); i++) {
        int cleanups = 0;
        ztca_clear_error();
        ztca_rc rc = test_checked((int)i, &cleanups);
        CU_ASSERT_EQUAL(rc.err, want[i].err);
        CU_ASSERT_EQUAL(ZTCA_IS_OK(rc), want[i].err == ZTCA_OK);
        CU_ASSERT_STRING_EQUAL(ztca_last_what(), want[i].what);
        CU_ASSERT_EQUAL(ztca_last_foreign(), want[i].foreign);
        CU_ASSERT_EQUAL(cleanups, 1); /* the out: label runs exactly once on every path */
        if (want[i].err != ZTCA_OK) {
            CU_ASSERT_TRUE(test_where_is(ztca_last_where(), "tests/unit/test_core.c"));
        }
    }
}

static void
test_alloc(void)
{
    /* The hook: allocation number 1 (the second) and all after it fail; the return value
     * counts the attempts since the previous call. */
    ztca_alloc_fail_after(-1);
    ztca_alloc_fail_after(1);
    void *a = ztca_malloc(16);
    void *b = ztca_malloc(16);
    void *c = ztca_calloc(2, 8);
    char *d = ztca_strdup("x");
    void *e = ztca_realloc(NULL, 8);
    CU_ASSERT_EQUAL(ztca_alloc_fail_after(-1), 5);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_PTR_NULL(e);
    ztca_free(a);
    CU_ASSERT_EQUAL(ztca_alloc_fail_after(-1), 0);

    /* Disabled, everything works; zero sizes give a freeable pointer. (calloc's overflow check
     * is not exercised here: ASan aborts on an overflowing calloc instead of returning NULL.) */
    a = ztca_malloc(0);
    CU_ASSERT_PTR_NOT_NULL(a);
    c = ztca_calloc(0, 8);
    CU_ASSERT_PTR_NOT_NULL(c);
    d = ztca_strdup("secret");
    CU_ASSERT_STRING_EQUAL(d, "secret");
    e = ztca_realloc(NULL, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    memcpy(e, "abcd", 4);
    e = ztca_realloc(e, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(memcmp(e, "abcd", 4), 0);
    ztca_free(a);
    ztca_free(c);
    ztca_free_secret(d, strlen(d));
    ztca_free_secret(NULL, 10);
    ztca_free(e);
    ztca_free(NULL);
    CU_ASSERT_EQUAL(ztca_alloc_fail_after(-1), 5); /* malloc, calloc, strdup, 2 realloc */
}

/* Runs `fn` with stderr sent to a temporary file and returns what it wrote (malloc'd). */
static char *
test_capture_stderr(void (*fn)(void))
{
    char *text = NULL;
    FILE *tmp = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    CU_ASSERT_FATAL(saved >= 0);
    CU_ASSERT_FATAL(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn();
    fflush(stderr);
    CU_ASSERT_FATAL(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    /* fd 2 shared tmp's file offset, so the end of the file is where the writes stopped. */
    CU_ASSERT_FATAL(fseek(tmp, 0, SEEK_END) == 0);
    long size = ftell(tmp);
    CU_ASSERT_FATAL(size >= 0);
    text = calloc(1, (size_t)size + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    rewind(tmp);
    CU_ASSERT_EQUAL(fread(text, 1, (size_t)size, tmp), (size_t)size);
    fclose(tmp);
    return text;
}

static void
test_log_lines(void)
{
    ztca_log_set_level(ZTCA_LOG_WARN);
    ztca_log(ZTCA_LOG_DEBUG, "event=%s", "debug-hidden");
    ztca_log(ZTCA_LOG_INFO, "event=%s", "info-hidden");
    ztca_log(ZTCA_LOG_WARN, "event=%s n=%d", "shown", 5);
    ztca_log(ZTCA_LOG_ERROR, "event=%s", "error");
    ztca_log(ZTCA_LOG_OFF, "event=%s", "off-is-not-a-level");
    ztca_log_set_level(ZTCA_LOG_OFF);
    ztca_log(ZTCA_LOG_ERROR, "event=%s", "silenced");
    ztca_log_set_level(ZTCA_LOG_INFO);
}

static void
test_log(void)
{
    char *text = test_capture_stderr(test_log_lines);
    /* Two lines: "ts=YYYY-MM-DDTHH:MM:SSZ level=warn event=shown n=5" and the error. */
    const char *line1 = text;
    const char *line2 = strchr(text, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(line2);
    line2++;
    CU_ASSERT_EQUAL(strncmp(line1, "ts=", 3), 0);
    CU_ASSERT_EQUAL(line1[3 + 4], '-');
    CU_ASSERT_EQUAL(line1[3 + 19], 'Z');
    CU_ASSERT_EQUAL(strncmp(line1 + 3 + 20, " level=warn event=shown n=5\n", 28), 0);
    CU_ASSERT_EQUAL(strncmp(line2, "ts=", 3), 0);
    CU_ASSERT_EQUAL(strncmp(line2 + 3 + 20, " level=error event=error\n", 25), 0);
    CU_ASSERT_EQUAL(strlen(line2), 3 + 20 + 25); /* nothing after the second line */
    CU_ASSERT_PTR_NULL(strstr(text, "hidden"));
    CU_ASSERT_PTR_NULL(strstr(text, "silenced"));
    CU_ASSERT_PTR_NULL(strstr(text, "off-is-not"));
    free(text);
}

/* ---- OOM (STYLE 9) --------------------------------------------------------------------------- */

/* The verdict on attempt `n` of an operation whose undisturbed run made `attempts` allocations:
 * every earlier attempt fails cleanly with NOMEM, attempt `attempts` (nothing fails) succeeds. */
static bool
test_oom_verdict(const char *what, long n, long attempts, ztca_rc rc)
{
    ztca_err want = n < attempts ? ZTCA_ERR_NOMEM : ZTCA_OK;
    if (rc.err != want) {
        fprintf(stderr, "\n  OOM %s: allocation %ld of %ld failing gave %s (%s)\n", what, n,
                attempts, ztca_err_name(rc.err), ztca_last_what());
    }
    CU_ASSERT_EQUAL(rc.err, want);
    return ZTCA_IS_OK(rc);
}

#define TEST_OOM_MAX_ATTEMPTS 1000 /* the bound within which every operation must succeed */

/* SEQUENCE { 40 x SEQUENCE { INTEGER i, OCTET STRING (i*37 octets), [0] { UTCTime } },
 *            BIT STRING } : about 30 KB, so the buffer grows and lengths go long-form. */
static ztca_rc
test_oom_build(der_buf *b, const uint8_t *fill)
{
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    for (uint64_t i = 0; i < 40; i++) {
        ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
        ZTCA_GUARD(der_add_uint64(b, i * 1000));
        ZTCA_GUARD(der_add_tlv(b, DER_OCTETSTRING, fill, (size_t)i * 37));
        ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(0)));
        ZTCA_GUARD(der_add_time(b, 2524607999 - (ztca_time)i));
        ZTCA_GUARD(der_end(b));
        ZTCA_GUARD(der_end(b));
    }
    ZTCA_GUARD(der_add_bits(b, (1u << 5) | (1u << 6)));
    return der_end(b);
}

static void
test_oom_der_writer(void)
{
    uint8_t fill[40 * 37];
    for (size_t i = 0; i < sizeof(fill); i++) {
        fill[i] = test_pattern(i);
    }
    der_buf b;
    uint8_t *ref = NULL;
    size_t ref_len = 0;
    der_buf_init(&b, 1 << 20);
    ztca_alloc_fail_after(-1);
    UNIT_ASSERT_OK(test_oom_build(&b, fill));
    UNIT_ASSERT_OK(der_buf_take(&b, &ref, &ref_len));
    long attempts = ztca_alloc_fail_after(-1);
    der_buf_free(&b);
    CU_ASSERT(attempts >= 5 && attempts < TEST_OOM_MAX_ATTEMPTS); /* 256 octets doubling */
    /* Worked out by hand: INTEGERs 3 + 32*4 + 7*5 (i*1000 > 0x7fff from i = 33) = 166; OCTET
     * STRING headers 4*2 + 3*3 + 33*4 = 149 and contents 37*780 = 28860; [0] { UTCTime } 40*17
     * = 680; item SEQUENCE headers 3*2 + 4*3 + 33*4 = 150; BIT STRING 4: contents 30009 =
     * 0x7539, plus the 4-octet header. */
    CU_ASSERT_EQUAL_FATAL(ref_len, 30013);
    ASSERT_BYTES_LIT(ref, 4, "\x30\x82\x75\x39");
    der_cur c = der_cur_make(ref, ref_len), seq;
    UNIT_ASSERT_OK(der_get(&c, &seq, DER_SEQUENCE));
    UNIT_ASSERT_OK(der_expect_end(&c));
    for (uint64_t i = 0; i < 40; i++) {
        der_cur item, oct, expl;
        uint64_t v = 0;
        ztca_time t = 0;
        UNIT_ASSERT_OK(der_get(&seq, &item, DER_SEQUENCE));
        UNIT_ASSERT_OK(der_get_uint64(&item, &v));
        CU_ASSERT_EQUAL(v, i * 1000);
        UNIT_ASSERT_OK(der_get(&item, &oct, DER_OCTETSTRING));
        ASSERT_BYTES(oct.p, oct.len, fill, (size_t)i * 37);
        UNIT_ASSERT_OK(der_get(&item, &expl, DER_CONTEXT_C(0)));
        UNIT_ASSERT_OK(der_get_time(&expl, &t));
        CU_ASSERT_EQUAL(t, 2524607999 - (ztca_time)i);
        UNIT_ASSERT_OK(der_expect_end(&expl));
        UNIT_ASSERT_OK(der_expect_end(&item));
    }
    ASSERT_BYTES_LIT(seq.p, seq.len, "\x03\x02\x01\x06");

    bool done = false;
    for (long n = 0; n < TEST_OOM_MAX_ATTEMPTS && !done; n++) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        der_buf_init(&b, 1 << 20);
        ztca_alloc_fail_after(n);
        ztca_rc rc = test_oom_build(&b, fill);
        if (ZTCA_IS_OK(rc)) {
            rc = der_buf_take(&b, &out, &out_len);
        }
        ztca_alloc_fail_after(-1);
        done = test_oom_verdict("der writer", n, attempts, rc);
        if (done) {
            ASSERT_BYTES(out, out_len, ref, ref_len);
        } else {
            /* The failure poisoned the buffer: nothing can be taken out of it. */
            CU_ASSERT_TRUE(b.poisoned);
            UNIT_ASSERT_ERR(der_buf_take(&b, &out, &out_len), ZTCA_ERR_INTERNAL);
            CU_ASSERT_PTR_NULL(out);
        }
        free(out);
        der_buf_free(&b);
    }
    CU_ASSERT_TRUE(done);
    free(ref);
}

static void
test_oom_base64_pem(void)
{
    static const char text[] =
        "x\n" TEST_PEM_A TEST_PEM_B "-----BEGIN X-----\nAAEC\n-----END X-----\n";
    const uint8_t raw[] = "any octets \x00\x01\xfe\xff";
    long attempts;
    bool done;

    /* ztca_base64_encode */
    char *enc = NULL;
    size_t enc_len = 0;
    ztca_alloc_fail_after(-1);
    UNIT_ASSERT_OK(ztca_base64_encode(&enc, &enc_len, raw, sizeof(raw)));
    attempts = ztca_alloc_fail_after(-1);
    CU_ASSERT_EQUAL(attempts, 1);
    ASSERT_BYTES_LIT(enc, enc_len, "YW55IG9jdGV0cyAAAf7/AA=="); /* Python's base64.b64encode */
    done = false;
    for (long n = 0; n < TEST_OOM_MAX_ATTEMPTS && !done; n++) {
        char *out = NULL;
        size_t out_len = 77;
        ztca_alloc_fail_after(n);
        ztca_rc rc = ztca_base64_encode(&out, &out_len, raw, sizeof(raw));
        ztca_alloc_fail_after(-1);
        done = test_oom_verdict("base64 encode", n, attempts, rc);
        if (done) {
            ASSERT_BYTES(out, out_len, enc, enc_len);
        } else {
            CU_ASSERT_PTR_NULL(out);
            CU_ASSERT_EQUAL(out_len, 77);
        }
        free(out);
    }
    CU_ASSERT_TRUE(done);

    /* ztca_base64_decode */
    uint8_t *dec = NULL;
    size_t dec_len = 0;
    ztca_alloc_fail_after(-1);
    UNIT_ASSERT_OK(ztca_base64_decode(&dec, &dec_len, enc, enc_len));
    attempts = ztca_alloc_fail_after(-1);
    CU_ASSERT_EQUAL(attempts, 1);
    ASSERT_BYTES(dec, dec_len, raw, sizeof(raw));
    free(dec);
    done = false;
    for (long n = 0; n < TEST_OOM_MAX_ATTEMPTS && !done; n++) {
        uint8_t *out = NULL;
        size_t out_len = 77;
        ztca_alloc_fail_after(n);
        ztca_rc rc = ztca_base64_decode(&out, &out_len, enc, enc_len);
        ztca_alloc_fail_after(-1);
        done = test_oom_verdict("base64 decode", n, attempts, rc);
        if (done) {
            ASSERT_BYTES(out, out_len, raw, sizeof(raw));
        } else {
            CU_ASSERT_PTR_NULL(out);
            CU_ASSERT_EQUAL(out_len, 77);
        }
        free(out);
    }
    CU_ASSERT_TRUE(done);
    free(enc);

    /* ztca_pem_decode_all over three blocks: a copy of the text, then per block the list and
     * the block's octets. */
    ztca_pem_list list;
    ztca_pem_list_init(&list);
    ztca_alloc_fail_after(-1);
    UNIT_ASSERT_OK(ztca_pem_decode_all(&list, (const uint8_t *)text, sizeof(text) - 1));
    attempts = ztca_alloc_fail_after(-1);
    ztca_pem_list_free(&list);
    CU_ASSERT_EQUAL(attempts, 7);
    done = false;
    for (long n = 0; n < TEST_OOM_MAX_ATTEMPTS && !done; n++) {
        ztca_pem_list_init(&list);
        ztca_alloc_fail_after(n);
        ztca_rc rc = ztca_pem_decode_all(&list, (const uint8_t *)text, sizeof(text) - 1);
        ztca_alloc_fail_after(-1);
        done = test_oom_verdict("pem decode_all", n, attempts, rc);
        if (done) {
            CU_ASSERT_EQUAL_FATAL(list.num_blocks, 3);
            ASSERT_BYTES_LIT(list.blocks[0].der, list.blocks[0].der_len, "foo");
            ASSERT_BYTES_LIT(list.blocks[1].der, list.blocks[1].der_len, "foobar");
            ASSERT_BYTES_LIT(list.blocks[2].der, list.blocks[2].der_len, "\x00\x01\x02");
            CU_ASSERT_STRING_EQUAL(list.blocks[2].label, "X");
        } else {
            CU_ASSERT_PTR_NULL(list.blocks);
            CU_ASSERT_EQUAL(list.num_blocks, 0);
        }
        ztca_pem_list_free(&list);
    }
    CU_ASSERT_TRUE(done);

    /* ztca_pem_encode: one allocation of ours (mbedTLS's own calloc is not hooked: Debian's
     * build lacks MBEDTLS_PLATFORM_MEMORY, STYLE 9). */
    static const char want_pem[] = "-----BEGIN X-----\nYW55IG9jdGV0cyAAAf7/AA==\n-----END X-----\n";
    done = false;
    for (long n = 0; n < TEST_OOM_MAX_ATTEMPTS && !done; n++) {
        char *pem = NULL;
        size_t pem_len = 0;
        ztca_alloc_fail_after(n);
        ztca_rc rc = ztca_pem_encode(&pem, &pem_len, "X", raw, sizeof(raw));
        ztca_alloc_fail_after(-1);
        done = test_oom_verdict("pem encode", n, 1, rc);
        if (done) {
            ASSERT_BYTES_LIT(pem, pem_len, want_pem);
        } else {
            CU_ASSERT_PTR_NULL(pem);
        }
        free(pem);
    }
    CU_ASSERT_TRUE(done);

    /* ztca_pem_decode_one: decode_all's copy, list and block, then the block is handed over. */
    done = false;
    for (long n = 0; n < TEST_OOM_MAX_ATTEMPTS && !done; n++) {
        uint8_t *der = NULL;
        size_t der_len = 0;
        ztca_alloc_fail_after(n);
        ztca_rc rc = ztca_pem_decode_one(&der, &der_len, "X", (const uint8_t *)want_pem,
                                         sizeof(want_pem) - 1);
        ztca_alloc_fail_after(-1);
        done = test_oom_verdict("pem decode_one", n, 3, rc);
        if (done) {
            ASSERT_BYTES(der, der_len, raw, sizeof(raw));
        } else {
            CU_ASSERT_PTR_NULL(der);
        }
        free(der);
    }
    CU_ASSERT_TRUE(done);
}

int
main(void)
{
    static const unit_test tests[] = {
        { "der_read_sequence", test_der_read_sequence },
        { "der_read_any_and_context", test_der_read_any_and_context },
        { "der_read_integers", test_der_read_integers },
        { "der_read_primitives", test_der_read_primitives },
        { "der_oid_from_dotted", test_der_oid_from_dotted },
        { "der_read_times", test_der_read_times },
        { "der_read_long_lengths", test_der_read_long_lengths },
        { "der_read_negative", test_der_read_negative },
        { "der_read_every_prefix", test_der_read_every_prefix },
        { "der_write_roundtrip", test_der_write_roundtrip },
        { "der_write_lengths", test_der_write_lengths },
        { "der_write_integers", test_der_write_integers },
        { "der_write_bits_and_small", test_der_write_bits_and_small },
        { "der_write_misuse", test_der_write_misuse },
        { "der_write_depth", test_der_write_depth },
        { "time_tm", test_time_tm },
        { "time_der", test_time_der },
        { "time_rfc3339", test_time_rfc3339 },
        { "duration", test_duration },
        { "hex", test_hex },
        { "base64", test_base64 },
        { "pem_encode", test_pem_encode },
        { "pem_decode_all", test_pem_decode_all },
        { "pem_decode_one", test_pem_decode_one },
        { "pem_every_prefix", test_pem_every_prefix },
        { "ct_equal", test_ct_equal },
        { "err_names", test_err_names },
        { "notes", test_notes },
        { "macros", test_macros },
        { "alloc", test_alloc },
        { "log", test_log },
        { "oom_der_writer", test_oom_der_writer },
        { "oom_base64_pem", test_oom_base64_pem },
        { NULL, NULL },
    };
    return unit_run("core", tests);
}
