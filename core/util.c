/* util.c: constant-time comparison and hex. */
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/platform_util.h>

#include "core/core.h"

bool
ztca_ct_equal(const void *a, const void *b, size_t len)
{
    return mbedtls_ct_memcmp(a, b, len) == 0;
}

void
ztca_zeroize(void *p, size_t len)
{
    mbedtls_platform_zeroize(p, len);
}

ztca_rc
ztca_hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    ZTCA_ENSURE(len <= (SIZE_MAX - 1) / 2 && out_size >= 2 * len + 1, ZTCA_ERR_INTERNAL,
                "hex output buffer too small");
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return ZTCA_RC_OK;
}

static int
ztca_hex_val(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

ztca_rc
ztca_hex_decode(uint8_t *out, size_t out_size, size_t *out_len, const char *in)
{
    size_t n = strlen(in);
    ZTCA_ENSURE(n % 2 == 0, ZTCA_ERR_BAD_INPUT, "hex: odd number of digits");
    ZTCA_ENSURE(n / 2 <= out_size, ZTCA_ERR_BAD_INPUT, "hex: value too long");
    for (size_t i = 0; i < n; i++) {
        ZTCA_ENSURE(ztca_hex_val(in[i]) >= 0, ZTCA_ERR_BAD_INPUT, "hex: not a hex digit");
    }
    for (size_t i = 0; i < n; i += 2) {
        out[i / 2] = (uint8_t)(ztca_hex_val(in[i]) << 4 | ztca_hex_val(in[i + 1]));
    }
    *out_len = n / 2;
    return ZTCA_RC_OK;
}
