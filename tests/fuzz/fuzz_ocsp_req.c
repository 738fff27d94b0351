/* Target: ca_ocsp_req_parse (ca/ca_ocsp_req.c), with ca_ocsp_certid_has_issuer.
 * Why: every enforcement point's OCSP request reaches it from the network, unauthenticated
 * (POST bodies and base64 GET paths); it must refuse, never crash or over-read.
 *
 * Input: the request DER as received. Whenever it is accepted, abort() unless: 1..32 CertIDs,
 * every view lies inside the input, each CertID element re-parses to the same fields, supported
 * hashes have their length, serials are positive minimal INTEGERs of at most 20 octets, the nonce
 * has 1..32 octets; and a canonical re-encoding of what was read (the DER writer: TBSRequest with
 * the CertID elements and the nonce) parses back to the same CertIDs and nonce. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/internal.h"
#include "core/der.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NONCE_OID "\x2b\x06\x01\x05\x05\x07\x30\x01\x02"

static bool
fuzz_inside(der_cur v, const uint8_t *data, size_t size)
{
    return v.p >= data && v.len <= size && v.p + v.len <= data + size;
}

static bool
fuzz_cur_equal(der_cur a, der_cur b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool
fuzz_certid_equal(const ca_ocsp_certid *a, const ca_ocsp_certid *b)
{
    return fuzz_cur_equal(a->element, b->element) && a->hash_is_supported == b->hash_is_supported
           && (!a->hash_is_supported || a->md == b->md)
           && fuzz_cur_equal(a->issuer_name_hash, b->issuer_name_hash)
           && fuzz_cur_equal(a->issuer_key_hash, b->issuer_key_hash)
           && fuzz_cur_equal(a->serial, b->serial);
}

/* The canonical request of `r`: no version, no requestorName, no signature, nothing but the
 * CertIDs and the nonce. */
static void
fuzz_reencode(const ca_ocsp_req *r)
{
    der_buf b;
    uint8_t *der = NULL;
    size_t len = 0;
    ca_ocsp_req back;
    bool ok = true;
    der_buf_init(&b, CA_OCSP_REQ_MAX);
    ok = ok && ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE)) && ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE))
         && ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE));
    for (size_t i = 0; ok && i < r->num_ids; i++) {
        ok = ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE))
             && ZTCA_IS_OK(der_add_raw(&b, r->ids[i].element.p, r->ids[i].element.len))
             && ZTCA_IS_OK(der_end(&b));
    }
    ok = ok && ZTCA_IS_OK(der_end(&b));
    if (ok && r->has_nonce) {
        ok = ZTCA_IS_OK(der_begin(&b, DER_CONTEXT_C(2))) && ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE))
             && ZTCA_IS_OK(der_begin(&b, DER_SEQUENCE))
             && ZTCA_IS_OK(der_add_oid(&b, FUZZ_NONCE_OID, sizeof(FUZZ_NONCE_OID) - 1))
             && ZTCA_IS_OK(der_begin(&b, DER_OCTETSTRING))
             && ZTCA_IS_OK(der_add_tlv(&b, DER_OCTETSTRING, r->nonce.p, r->nonce.len))
             && ZTCA_IS_OK(der_end(&b)) && ZTCA_IS_OK(der_end(&b)) && ZTCA_IS_OK(der_end(&b))
             && ZTCA_IS_OK(der_end(&b));
    }
    ok = ok && ZTCA_IS_OK(der_end(&b)) && ZTCA_IS_OK(der_end(&b))
         && ZTCA_IS_OK(der_buf_take(&b, &der, &len));
    if (!ok) {
        abort(); /* what was accepted always fits CA_OCSP_REQ_MAX again */
    }
    if (!ZTCA_IS_OK(ca_ocsp_req_parse(&back, der, len)) || back.num_ids != r->num_ids
        || back.has_nonce != r->has_nonce || back.is_signed
        || (r->has_nonce && !fuzz_cur_equal(back.nonce, r->nonce))) {
        abort();
    }
    for (size_t i = 0; i < r->num_ids; i++) {
        if (!fuzz_certid_equal(&back.ids[i], &r->ids[i])) {
            abort();
        }
    }
    free(der);
    der_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ca_ocsp_req r;
    if (!ZTCA_IS_OK(ca_ocsp_req_parse(&r, data, size))) {
        return 0;
    }
    if (r.num_ids < 1 || r.num_ids > CA_OCSP_MAX_REQS) {
        abort();
    }
    if (r.has_nonce
        && (r.nonce.len < CA_OCSP_NONCE_MIN || r.nonce.len > CA_OCSP_NONCE_MAX
            || !fuzz_inside(r.nonce, data, size))) {
        abort();
    }
    for (size_t i = 0; i < r.num_ids; i++) {
        const ca_ocsp_certid *id = &r.ids[i];
        if (!fuzz_inside(id->element, data, size) || !fuzz_inside(id->serial, data, size)
            || !fuzz_inside(id->issuer_name_hash, data, size)
            || !fuzz_inside(id->issuer_key_hash, data, size)) {
            abort();
        }
        /* The views lie inside the element they came from. */
        if (id->serial.p < id->element.p
            || id->serial.p + id->serial.len > id->element.p + id->element.len) {
            abort();
        }
        der_cur again = id->element;
        ca_ocsp_certid id2;
        if (!ZTCA_IS_OK(ca_ocsp_certid_parse(&id2, &again)) || again.len != 0
            || !fuzz_certid_equal(&id2, id)) {
            abort();
        }
        size_t n = id->serial.len;
        const uint8_t *s = id->serial.p;
        if (n < 1 || n > 20 || (s[0] & 0x80) != 0 || (n == 1 && s[0] == 0)
            || (n > 1 && s[0] == 0 && (s[1] & 0x80) == 0)) {
            abort();
        }
        if (id->hash_is_supported) {
            size_t h = ca_md_size(id->md);
            if ((id->md != CA_MD_SHA1 && id->md != CA_MD_SHA256) || id->issuer_name_hash.len != h
                || id->issuer_key_hash.len != h
                || !ca_ocsp_certid_has_issuer(id, id->md, id->issuer_name_hash.p,
                                              id->issuer_key_hash.p)) {
                abort();
            }
        } else if (ca_ocsp_certid_has_issuer(id, CA_MD_SHA1, id->issuer_name_hash.p,
                                             id->issuer_key_hash.p)) {
            abort(); /* an unsupported hash never matches an issuer */
        }
    }
    fuzz_reencode(&r);
    return 0;
}
