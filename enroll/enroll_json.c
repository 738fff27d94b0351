/* enroll_json.c: the strict JSON intake shared by the JWS header, the claims, JWKS documents and
 * provisioner configs (jansson underneath). */
#include <math.h>
#include <string.h>

#include "enroll/internal.h"

ztca_rc
enroll_json_load(json_t **out, const uint8_t *text, size_t text_len, size_t max)
{
    /* Zeroed: json_error_code() reads the last byte of err.text, which jansson 2.14 leaves
     * unset when it fails without reporting an error (valgrind: a jump on an uninitialised
     * value in the OOM tests). */
    json_error_t err;
    memset(&err, 0, sizeof(err));
    ZTCA_ENSURE(text_len <= max, ZTCA_ERR_BAD_INPUT, "JSON text too large");
    /* JSON_REJECT_DUPLICATES at every level; without JSON_ALLOW_NUL "\u0000" is refused; without
     * JSON_DISABLE_EOF_CHECK trailing bytes are refused; jansson validates UTF-8 and bounds the
     * nesting depth (JSON_PARSER_MAX_DEPTH). */
    json_t *v = json_loadb((const char *)text, text_len, JSON_REJECT_DUPLICATES, &err);
    if (v == NULL) {
        /* XXX jansson 2.14 does not report every allocation failure as such: the parser's own
         * json_object()/json_string() failures return without setting an error (empty text),
         * which is mapped to NOMEM here, but a failed allocation in the lexer's string buffer
         * is reported as a syntax error ("invalid token"), so under memory exhaustion a token
         * can be refused as malformed (fail closed) instead of a 5xx. The OOM tests allow it
         * at this one site. https://github.com/akheron/jansson (load.c, lex_scan_string) */
        ZTCA_ENSURE(json_error_code(&err) != json_error_out_of_memory && err.text[0] != '\0',
                    ZTCA_ERR_NOMEM, "JSON: out of memory");
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "JSON: not valid JSON (or duplicate member)");
    }
    if (!json_is_object(v)) {
        json_decref(v);
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "JSON: not an object");
    }
    *out = v;
    return ZTCA_RC_OK;
}

bool
enroll_json_time(const json_t *v, bool round_up, ztca_time *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > ZTCA_TIME_MAX) {
            return false;
        }
        *out = (ztca_time)i;
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d < 0 || d > (double)ZTCA_TIME_MAX) {
            return false;
        }
        *out = (ztca_time)(round_up ? ceil(d) : floor(d));
        return true;
    }
    return false;
}

bool
enroll_str_is_printable(const char *s, size_t max_len)
{
    size_t n = strlen(s);
    if (n == 0 || n > max_len) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

const char *
enroll_json_string(const json_t *obj, const char *key, size_t max_len, bool *out_present)
{
    const json_t *v = json_object_get(obj, key);
    *out_present = v != NULL;
    if (v == NULL || !json_is_string(v)) {
        return NULL;
    }
    const char *s = json_string_value(v);
    /* Strings with NUL never load (no JSON_ALLOW_NUL), so strlen is the JSON length. */
    return enroll_str_is_printable(s, max_len) ? s : NULL;
}

bool
enroll_claim_name_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > ENROLL_CLAIM_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_')) {
            return false;
        }
    }
    return true;
}
