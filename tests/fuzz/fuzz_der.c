/* Target: der_get_any and the typed DER getters (core/der_read.c), with the der_buf writer
 * (core/der_write.c) as a round-trip oracle.
 * Why: every parser in the tree stands on this reader; a getter that over-reads, moves the cursor
 * on failure or accepts non-DER lets malformed input through every layer above it.
 *
 * Checks, each an abort():
 * - a failed getter leaves the cursor unchanged; a successful one consumes exactly the element
 *   that der_get_any saw there (STYLE.md 4);
 * - typed values re-encode to the same bytes (der_add_uint64, der_add_time, ...);
 * - when the whole input is a sequence of strictly valid elements (constructed ones down to the
 *   depth bound), the writer re-encodes it byte for byte (BoringSSL der_roundtrip). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/der.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DER_MAX_DEPTH 16
#define FUZZ_DER_OUT_MAX   (1024 * 1024)

/* The writer must take whatever the reader accepted. */
static void
fuzz_der_must(ztca_rc rc)
{
    if (!ZTCA_IS_OK(rc)) {
        abort();
    }
}

static bool
fuzz_der_cur_equal(const der_cur *a, const der_cur *b)
{
    return a->p == b->p && a->len == b->len;
}

/* After a getter ran on `after` (a copy of `before`): failure must not have moved it, success
 * must have consumed exactly `element`. */
static void
fuzz_der_check_move(ztca_rc rc, const der_cur *before, const der_cur *after, const der_cur *element)
{
    if (!ZTCA_IS_OK(rc)) {
        if (!fuzz_der_cur_equal(before, after)) {
            abort(); /* a failed getter moved the cursor */
        }
        return;
    }
    if (element == NULL || after->p != before->p + element->len
        || after->len != before->len - element->len) {
        abort(); /* success without consuming exactly one element */
    }
}

/* `element` (the whole TLV) must be what `b` holds. */
static void
fuzz_der_expect_bytes(der_buf *b, const der_cur *element)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    if (!ZTCA_IS_OK(der_buf_take(b, &out, &out_len))) {
        abort(); /* the writer refused a value the reader produced */
    }
    if (out_len != element->len || memcmp(out, element->p, out_len) != 0) {
        abort(); /* typed value did not re-encode to its input */
    }
    free(out);
}

/* Every typed getter on a copy of the cursor `at`, which starts with `element` (seen by
 * der_get_any with `tag`). Each either fails without moving or consumes exactly that element,
 * and what it returns encodes back to the same bytes. With `element` NULL der_get_any refused
 * what `at` holds, so every getter must fail too. */
static void
fuzz_der_typed(const der_cur *at, const der_cur *element, uint8_t tag)
{
    der_cur c, v;
    der_buf b;
    ztca_rc rc;
    uint64_t u64 = 0;
    uint32_t u32 = 0;
    bool flag = false;
    uint8_t unused = 0;
    ztca_time t = 0;

    c = *at;
    rc = der_get_uint64(&c, &u64);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        der_buf_init(&b, 64);
        fuzz_der_must(der_add_uint64(&b, u64));
        fuzz_der_expect_bytes(&b, element);
        der_buf_free(&b);
    }

    c = *at;
    rc = der_get_enumerated(&c, &u32);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        der_buf_init(&b, 64);
        fuzz_der_must(der_add_enumerated(&b, u32));
        fuzz_der_expect_bytes(&b, element);
        der_buf_free(&b);
    }

    c = *at;
    rc = der_get_serial(&c, &v);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        if (v.len == 0 || v.len > DER_SERIAL_MAX) {
            abort();
        }
        der_buf_init(&b, 64);
        fuzz_der_must(der_add_uint_bytes(&b, v.p, v.len));
        fuzz_der_expect_bytes(&b, element);
        der_buf_free(&b);
    }

    c = *at;
    rc = der_get_bool(&c, &flag);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        der_buf_init(&b, 64);
        fuzz_der_must(der_add_bool(&b, flag));
        fuzz_der_expect_bytes(&b, element);
        der_buf_free(&b);
    }

    c = *at;
    rc = der_get_oid(&c, &v);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        der_buf_init(&b, FUZZ_DER_OUT_MAX);
        fuzz_der_must(der_add_oid(&b, (const char *)v.p, v.len));
        fuzz_der_expect_bytes(&b, element);
        der_buf_free(&b);
        if (!der_oid_equal(&v, (const char *)v.p, v.len)) {
            abort();
        }
    }

    c = *at;
    rc = der_get_bitstring(&c, &v, &unused);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        if (unused > 7 || (v.len == 0 && unused != 0)) {
            abort();
        }
        if (unused == 0) {
            der_buf_init(&b, FUZZ_DER_OUT_MAX);
            fuzz_der_must(der_add_bitstring(&b, v.p, v.len));
            fuzz_der_expect_bytes(&b, element);
            der_buf_free(&b);
        }
    }

    c = *at;
    rc = der_get_time(&c, &t);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        if (t < ZTCA_TIME_MIN || t > ZTCA_TIME_MAX) {
            abort();
        }
        /* UTCTime covers 1950-2049, exactly where der_add_time chooses it. */
        der_buf_init(&b, 64);
        if (tag == DER_UTCTIME) {
            fuzz_der_must(der_add_time(&b, t));
        } else {
            fuzz_der_must(der_add_generalized_time(&b, t));
        }
        fuzz_der_expect_bytes(&b, element);
        der_buf_free(&b);
    }

    c = *at;
    rc = der_get_null(&c);
    fuzz_der_check_move(rc, at, &c, element);
    if (ZTCA_IS_OK(rc)) {
        der_buf_init(&b, 64);
        fuzz_der_must(der_add_null(&b));
        fuzz_der_expect_bytes(&b, element);
        der_buf_free(&b);
    }

    if (element == NULL) {
        if (at->len > 0 && (at->p[0] & 0x1f) != 0x1f) {
            c = *at;
            rc = der_get(&c, &v, at->p[0]);
            if (ZTCA_IS_OK(rc) || !fuzz_der_cur_equal(&c, at)) {
                abort(); /* der_get accepted what der_get_any refused */
            }
        }
        return;
    }

    /* der_get/der_get_element/der_get_optional with the element's own tag succeed alike. */
    c = *at;
    rc = der_get(&c, &v, tag);
    fuzz_der_check_move(rc, at, &c, element);
    if (!ZTCA_IS_OK(rc)) {
        abort(); /* der_get_any accepted it */
    }
    c = *at;
    rc = der_get_element(&c, &v, tag);
    fuzz_der_check_move(rc, at, &c, element);
    if (!ZTCA_IS_OK(rc) || !fuzz_der_cur_equal(&v, element)) {
        abort();
    }
    c = *at;
    rc = der_get_optional(&c, &v, &flag, tag);
    fuzz_der_check_move(rc, at, &c, element);
    if (!ZTCA_IS_OK(rc) || !flag || !der_peek_tag(at, tag)) {
        abort();
    }
    /* A different tag: der_get fails, der_get_optional reports absence; neither moves. */
    uint8_t other = (uint8_t)(tag ^ 0x01);
    c = *at;
    rc = der_get(&c, &v, other);
    if (ZTCA_IS_OK(rc) || !fuzz_der_cur_equal(&c, at)) {
        abort();
    }
    rc = der_get_optional(&c, &v, &flag, other);
    if (!ZTCA_IS_OK(rc) || flag || !fuzz_der_cur_equal(&c, at)) {
        abort();
    }
}

/* Walks the elements of `c`, recursing into constructed ones and re-encoding everything into
 * `out`. Returns true when all of `c` was valid DER. Beyond the depth bound a constructed
 * element is copied as an opaque TLV (still a round trip of its header). */
static bool
fuzz_der_walk(der_cur c, der_buf *out, int depth)
{
    bool valid = true;
    while (c.len > 0) {
        der_cur before = c;
        der_cur contents, element;
        uint8_t tag = 0;
        ztca_rc rc = der_get_any(&c, &tag, &contents, &element);
        if (!ZTCA_IS_OK(rc)) {
            if (!fuzz_der_cur_equal(&before, &c)) {
                abort(); /* der_get_any moved the cursor on failure */
            }
            /* Whatever follows cannot be framed: no typed getter may accept it either. */
            fuzz_der_typed(&before, NULL, 0);
            return false;
        }
        if (element.p != before.p || contents.p + contents.len != element.p + element.len
            || c.p != before.p + element.len) {
            abort(); /* views inconsistent with what was consumed */
        }
        fuzz_der_typed(&before, &element, tag);
        if ((tag & 0x20) != 0 && depth < FUZZ_DER_MAX_DEPTH) {
            fuzz_der_must(der_begin(out, tag));
            valid = fuzz_der_walk(contents, out, depth + 1) && valid;
            fuzz_der_must(der_end(out));
        } else {
            fuzz_der_must(der_add_tlv(out, tag, contents.p, contents.len));
        }
    }
    return valid;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    der_buf out;
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    der_buf_init(&out, FUZZ_DER_OUT_MAX);
    bool valid = fuzz_der_walk(der_cur_make(data, size), &out, 0);
    if (valid && size <= FUZZ_DER_OUT_MAX) {
        if (!ZTCA_IS_OK(der_buf_take(&out, &enc, &enc_len))) {
            abort(); /* the writer failed on input the reader accepted */
        }
        if (enc_len != size || (size > 0 && memcmp(enc, data, size) != 0)) {
            abort(); /* DER round trip changed the bytes */
        }
        free(enc);
    }
    der_buf_free(&out);
    return 0;
}
