/* Target: api_decode_enroll_begin, api_decode_enroll_finish (enrollment and renewal bodies),
 * api_decode_device_allow (POST /v1/devices: EK pre-registration), enroll_session_data_decode (with
 * an encode/decode round trip) and enroll_config_parse: every parser of the enrollment routes
 * (docs/api.md, "Enrollment"). The whole input is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "enroll/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int renew = 0; renew < 2; renew++) {
        const char *type = NULL;
        enroll_begin_req b;
        if (ZTCA_IS_OK(api_decode_enroll_begin(data, size, renew != 0, &b, &type))) {
            /* Decoded members are bounded and present as the route requires. */
            if (b.ek_public.len == 0 || b.ak_public.len == 0 || b.key_public.len == 0
                || b.ak_public.len > ATTEST_BLOB_MAX || b.num_ek_chain > ENROLL_EK_CHAIN_MAX
                || (renew != 0 && b.ek_cert.p != NULL)
                || (b.ek_cert.p == NULL && b.num_ek_chain != 0)
                || (b.facts != NULL && strlen(b.facts) > ENROLL_FACTS_MAX)) {
                abort();
            }
            enroll_begin_req_free(&b);
        } else if (type == NULL) {
            abort(); /* every refusal names its problem type */
        }
        type = NULL;
        enroll_finish_req f;
        if (ZTCA_IS_OK(api_decode_enroll_finish(data, size, renew != 0, &f, &type))) {
            if (f.csr == NULL || strlen(f.csr) != f.csr_len || (renew == 0 && !f.has_evidence)
                || (f.has_evidence && (strlen(f.session) != 36 || f.secret.len == 0))) {
                abort();
            }
            enroll_finish_req_free(&f);
        } else if (type == NULL) {
            abort();
        }
    }
    const char *type = NULL;
    api_device_allow_req a;
    if (ZTCA_IS_OK(api_decode_device_allow(data, size, &a, &type))) {
        if (a.ek_public.p == NULL || a.ek_public.len == 0 || a.ek_public.len > ATTEST_BLOB_MAX
            || strlen(a.note) > ENROLL_NOTE_MAX
            || (a.facts != NULL && strlen(a.facts) > ENROLL_FACTS_MAX)) {
            abort();
        }
        /* What the route does next with the bytes: the EK template check (bounded). */
        attest_key k;
        if (ZTCA_IS_OK(attest_ek_public_parse(&k, NULL, a.ek_public.p, a.ek_public.len))
            && (k.spki_len == 0 || k.spki_len > sizeof(k.spki))) {
            abort();
        }
        api_device_allow_req_free(&a);
    } else if (type == NULL) {
        abort();
    }
    enroll_session_data d;
    if (ZTCA_IS_OK(enroll_session_data_decode(&d, data, size))) {
        char *text = NULL;
        size_t len = 0;
        enroll_session_data again;
        if (ZTCA_IS_OK(enroll_session_data_encode(&text, &len, &d))) {
            /* What was accepted encodes to something accepted again, with the same meaning. */
            if (!ZTCA_IS_OK(enroll_session_data_decode(&again, (const uint8_t *)text, len))
                || again.op != d.op || strcmp(again.device_id, d.device_id) != 0
                || again.ak_public.len != d.ak_public.len || again.pcr_mask != d.pcr_mask) {
                abort();
            }
            enroll_session_data_free(&again);
            free(text);
        }
        enroll_session_data_free(&d);
    }
    enroll_config c;
    if (ZTCA_IS_OK(enroll_config_parse(&c, data, size))
        && (c.session_ttl < 1 || c.session_ttl > ENROLL_SESSION_TTL_MAX)) {
        abort();
    }
    return 0;
}
