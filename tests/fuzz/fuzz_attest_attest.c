/* Target: attest_attest_parse and attest_attest2b_parse (attest/attest_sig.c), a TPMS_ATTEST as
 * signed and the same inside a TPM2B_ATTEST.
 * Why: quotes and certifications are the bulk of the evidence; tss2-mu unmarshals unions keyed by
 * the attestation type, PCR selections and several TPM2B fields, and our pad-and-retry diagnosis
 * runs on every short or oversized input.
 *
 * The same bytes wrapped in a TPM2B_ATTEST must give the same verdict and the same fields, and
 * the body view must point inside the input; abort() otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
name_eq(const attest_name *a, const attest_name *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* info_eq: field by field (the structs have padding). */
static bool
info_eq(const attest_info *a, const attest_info *b)
{
    if (a->type != b->type || !name_eq(&a->qualified_signer, &b->qualified_signer)
        || a->extra_data_len != b->extra_data_len
        || memcmp(a->extra_data, b->extra_data, a->extra_data_len) != 0
        || a->clock.clock != b->clock.clock || a->clock.reset_count != b->clock.reset_count
        || a->clock.restart_count != b->clock.restart_count || a->clock.safe != b->clock.safe
        || a->firmware_version != b->firmware_version || a->num_pcr_select != b->num_pcr_select
        || a->pcr_digest_len != b->pcr_digest_len
        || memcmp(a->pcr_digest, b->pcr_digest, a->pcr_digest_len) != 0
        || !name_eq(&a->certified_name, &b->certified_name)
        || !name_eq(&a->certified_qualified_name, &b->certified_qualified_name)) {
        return false;
    }
    for (size_t i = 0; i < a->num_pcr_select; i++) {
        if (a->pcr_select[i].hash_alg != b->pcr_select[i].hash_alg
            || a->pcr_select[i].mask != b->pcr_select[i].mask) {
            return false;
        }
    }
    return true;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("TSS2_LOG", "all+NONE", 1); /* tss2-mu logs each refused structure */
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attest_info a, b;
    attest_reason wa = ATTEST_OK, wb = ATTEST_OK;
    const uint8_t *body = NULL;
    size_t body_len = 0;

    /* As received: TPMS_ATTEST, and TPM2B_ATTEST (a fuzzer input may be either). */
    ztca_rc ra = attest_attest_parse(&a, &wa, data, size);
    ztca_rc rb = attest_attest2b_parse(&b, &wb, &body, &body_len, data, size);
    if ((wa == ATTEST_OK) != ZTCA_IS_OK(ra) || (wb == ATTEST_OK) != ZTCA_IS_OK(rb)) {
        abort();
    }
    if (ZTCA_IS_OK(rb) && (body != data + 2 || body_len + 2 != size)) {
        abort();
    }
    if (ZTCA_IS_OK(ra)) {
        if (a.extra_data_len > sizeof(a.extra_data) || a.num_pcr_select > ATTEST_PCR_BANKS_MAX
            || a.pcr_digest_len > sizeof(a.pcr_digest)) {
            abort();
        }
    }
    /* Wrapped: the verdict and fields cannot depend on the wrapping. */
    if (size <= 0xffff) {
        uint8_t *w = malloc(size + 2);
        if (w == NULL) {
            return 0;
        }
        w[0] = (uint8_t)(size >> 8);
        w[1] = (uint8_t)size;
        if (size > 0) {
            memcpy(w + 2, data, size);
        }
        wb = ATTEST_OK;
        rb = attest_attest2b_parse(&b, &wb, &body, &body_len, w, size + 2);
        if (ZTCA_IS_OK(ra) != ZTCA_IS_OK(rb) || (size > 0 && !ZTCA_IS_OK(ra) && wa != wb)
            || (ZTCA_IS_OK(ra) && !info_eq(&a, &b))) {
            abort();
        }
        free(w);
    }
    return 0;
}
