/* Target: api_route_match, api_percent_decode, api_decode_token, api_decode_cert,
 * api_decode_revoke, api_decode_signal: everything the server does to a request's path and body
 * before a handler acts on it. The first line of the input is "METHOD PATH", the rest is the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t line_len = nl != NULL ? (size_t)(nl - data) : size;
    const uint8_t *body = nl != NULL ? nl + 1 : data + size;
    size_t body_len = size - (size_t)(body - data);

    /* The request line, as libmicrohttpd hands it over: NUL-terminated method and path. */
    char line[API_PATH_MAX + 32];
    if (line_len < sizeof(line)) {
        memcpy(line, data, line_len);
        line[line_len] = '\0';
        char *space = strchr(line, ' ');
        if (space != NULL) {
            *space = '\0';
            api_req *r = calloc(1, sizeof(*r));
            if (r == NULL) {
                return 0;
            }
            api_route_match(r, line, space + 1);
            if (r->route != NULL) {
                /* A matched route's parameters are decoded, bounded, without '/' or NUL. */
                for (size_t i = 0; i < r->num_params; i++) {
                    size_t n = strnlen(r->params[i], API_PARAM_MAX);
                    if (n == 0 || n >= API_PARAM_MAX || strchr(r->params[i], '/') != NULL
                        || strcmp(r->params[i], "..") == 0) {
                        abort();
                    }
                }
            }
            free(r);
        }
        char decoded[API_PARAM_MAX];
        if (ZTCA_IS_OK(api_percent_decode(decoded, sizeof(decoded), line, line_len))
            && strlen(decoded) >= sizeof(decoded)) {
            abort();
        }
    }

    const char *type = NULL;
    api_token_req tok;
    if (ZTCA_IS_OK(api_decode_token(body, body_len, &tok, &type))) {
        if (!(strcmp(tok.profile, "agent") == 0 || strcmp(tok.profile, "device") == 0)
            || tok.ttl < 1 || tok.ttl > API_TOKEN_TTL_MAX) {
            abort();
        }
    } else if (type == NULL) {
        abort(); /* every refusal names its problem type */
    }
    api_cert_req cert;
    memset(&cert, 0, sizeof(cert));
    type = NULL;
    if (ZTCA_IS_OK(api_decode_cert(body, body_len, &cert, &type))) {
        if (cert.csr == NULL || strlen(cert.csr) != cert.csr_len) {
            abort();
        }
        api_cert_req_free(&cert);
    } else if (type == NULL) {
        abort();
    }
    int reason = -2;
    type = NULL;
    if (ZTCA_IS_OK(api_decode_revoke(body, body_len, true, &reason, &type))
        && (reason < 0 || reason == STORE_REASON_CERTIFICATE_HOLD)) {
        abort();
    }
    api_signal_req sig;
    type = NULL;
    if (ZTCA_IS_OK(api_decode_signal(body, body_len, &sig, &type))) {
        if (!trust_name_is_valid(sig.kind)
            || (sig.source[0] != '\0' && !trust_name_is_valid(sig.source))
            || sig.impact < TRUST_IMPACT_MIN || sig.impact > TRUST_IMPACT_MAX || sig.expires_in < 0
            || sig.expires_in > API_SIGNAL_TTL_MAX || strlen(sig.note) > TRUST_NOTE_MAX) {
            abort();
        }
    } else if (type == NULL) {
        abort();
    }
    return 0;
}
