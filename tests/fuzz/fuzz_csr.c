/* Target: ca_csr_parse (ca/ca_csr.c), DER and PEM inputs.
 * Why: a CSR is the first thing an unauthenticated client sends; it goes through our strict DER
 * walk, mbedTLS's PKCS#10 parser, the key policy and a signature verification.
 *
 * A request that parses must hold a key that the policy accepts on its own (ca_pubkey_check
 * gives the same answer) and that yields a device id: abort() otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ca_csr csr;
    ca_csr_init(&csr);
    if (ZTCA_IS_OK(ca_csr_parse(&csr, data, size))) {
        ca_pubkey_info info;
        char id[64];
        if (csr.spki == NULL || csr.spki_len == 0) {
            abort();
        }
        if (!ZTCA_IS_OK(ca_pubkey_check(&info, csr.spki, csr.spki_len))) {
            abort(); /* the parser accepted a key its own policy refuses */
        }
        if (info.kind != csr.key.kind || info.bits != csr.key.bits
            || strcmp(info.name, csr.key.name) != 0) {
            abort();
        }
        if (!ZTCA_IS_OK(ca_device_id_from_spki(id, sizeof(id), csr.spki, csr.spki_len))
            || strlen(id) != 30 || strncmp(id, "dev-", 4) != 0 || !ca_name_is_valid(id)) {
            abort(); /* device ids must be usable as names (URI SAN, CN) */
        }
    }
    ca_csr_free(&csr);
    return 0;
}
