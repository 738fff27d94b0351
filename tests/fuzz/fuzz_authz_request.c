/* Target: api_decode_authz (api/api_decode_authz.c): the headers an enforcement point sends to
 * /v1/authz. Why: they come from the proxy but carry what the client presented; nginx escapes
 * the PEM, Envoy's x-forwarded-client-cert has its own quoting.
 *
 * Input: three lines: X-Client-Cert, X-Forwarded-Client-Cert, X-Ztca-Min-Score; a line "-"
 * means the header is absent. Invariants (abort() otherwise): a success has non-empty
 * certificate text, a score within 0..100, and decodes to a certificate or is refused; every
 * refusal names an "authz-" problem type. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char *lines[3] = { NULL, NULL, NULL };
    char *p = text;
    for (int i = 0; i < 3 && p != NULL; i++) {
        char *nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        lines[i] = strcmp(p, "-") == 0 ? NULL : p;
        p = nl != NULL ? nl + 1 : NULL;
    }
    /* A header value never holds NUL; the copy above stops at the first one like MHD does. */
    api_authz_req req;
    const char *type = NULL;
    if (ZTCA_IS_OK(api_decode_authz(lines[0], lines[1], lines[2], &req, &type))) {
        if (req.cert_text == NULL || req.cert_text_len == 0 || req.min_score < 0
            || req.min_score > 100 || req.der != NULL) {
            abort();
        }
        if (ZTCA_IS_OK(api_authz_req_decode(&req, &type))) {
            if (req.der == NULL || req.der_len == 0) {
                abort();
            }
        } else if (type == NULL || strncmp(type, "authz-", 6) != 0) {
            abort();
        }
        api_authz_req_free(&req);
    } else if (type == NULL || strncmp(type, "authz-", 6) != 0 || req.der != NULL) {
        abort();
    }
    free(text);
    return 0;
}
