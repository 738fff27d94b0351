/* Target: ca_cert_info_parse and ca_spiffe_parse: what the server reads from a client
 * certificate (serial, the one URI SAN, ztca-identity) and the SPIFFE ID in it. Client
 * certificates are outside bytes even after GnuTLS checked their chain. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ca_cert_info info;
    if (!ZTCA_IS_OK(ca_cert_info_parse(&info, data, size))) {
        return 0;
    }
    /* What it returns is bounded and printable, ready for logs and comparisons. */
    if (strlen(info.serial_hex) % 2 != 0 || strlen(info.serial_hex) > 2 * 20) {
        abort();
    }
    for (const char *p = info.uri; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            abort();
        }
    }
    if (info.has_identity
        && (info.device_id[0] == '\0' || info.attestation > CA_ATTEST_TPM_MEASURED_BOOT)) {
        abort();
    }
    ca_spiffe id;
    if (ZTCA_IS_OK(ca_spiffe_parse(&id, info.uri, "corp.example"))) {
        if (id.kind == CA_PROFILE_AGENT
            && (!ca_name_is_valid(id.device_id) || !ca_name_is_valid(id.user))) {
            abort();
        }
    }
    return 0;
}
