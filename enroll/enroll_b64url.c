/* enroll_b64url.c: strict base64url (RFC 4648 5, unpadded as RFC 7515 2 wants it) on top of
 * core's standard base64, which is mbedTLS's decoder plus the canonical-padding check. */
#include <string.h>

#include "enroll/internal.h"

static bool
enroll_b64url_char_is_valid(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
}

ztca_rc
enroll_b64url_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    char *std = NULL;
    /* One leftover character carries 6 bits, less than an octet: never a valid encoding. */
    ZTCA_ENSURE(in_len % 4 != 1, ZTCA_ERR_BAD_INPUT, "RFC 4648 5: base64url length");
    ZTCA_ENSURE(in_len <= ZTCA_PEM_MAX - 3, ZTCA_ERR_BAD_INPUT, "base64url: input too large");
    for (size_t i = 0; i < in_len; i++) {
        /* No '=', '+', '/', whitespace or NUL: RFC 7515 2 (no padding), RFC 4648 5 alphabet. */
        ZTCA_ENSURE(enroll_b64url_char_is_valid(in[i]), ZTCA_ERR_BAD_INPUT,
                    "RFC 7515 2: character outside the base64url alphabet");
    }
    size_t pad = (4 - in_len % 4) % 4;
    std = ztca_malloc(in_len + pad + 1);
    ZTCA_ENSURE(std != NULL, ZTCA_ERR_NOMEM, "base64url: out of memory");
    for (size_t i = 0; i < in_len; i++) {
        char c = in[i];
        if (c == '-') {
            c = '+';
        } else if (c == '_') {
            c = '/';
        }
        std[i] = c;
    }
    memset(std + in_len, '=', pad);
    std[in_len + pad] = '\0';
    /* ztca_base64_decode also refuses non-zero bits under the padding, so each value has exactly
     * one encoding and a token cannot be altered without changing its signing input. */
    ZTCA_CHECK(ztca_base64_decode(out, out_len, std, in_len + pad));
out:
    ztca_free(std);
    return rc;
}

ztca_rc
enroll_b64url_encode(char **out, size_t *out_len, const uint8_t *in, size_t in_len)
{
    char *s = NULL;
    size_t n = 0;
    ZTCA_GUARD(ztca_base64_encode(&s, &n, in, in_len));
    while (n > 0 && s[n - 1] == '=') {
        n--;
    }
    s[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[i] = '-';
        } else if (s[i] == '/') {
            s[i] = '_';
        }
    }
    *out = s;
    *out_len = n;
    return ZTCA_RC_OK;
}
