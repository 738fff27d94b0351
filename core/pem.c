/* pem.c: base64 and PEM on mbedTLS's base64 and pem modules, with the bounds they lack (mbedTLS
 * wants NUL-terminated input and finds blocks with strstr). */
#include <stdio.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/pem.h>

#include "core/core.h"

ztca_rc
ztca_base64_encode(char **out, size_t *out_len, const uint8_t *in, size_t in_len)
{
    size_t need = 0;
    size_t olen = 0;
    char *buf;
    ZTCA_ENSURE(in_len <= ZTCA_PEM_MAX, ZTCA_ERR_BAD_INPUT, "base64: input too large");
    (void)mbedtls_base64_encode(NULL, 0, &need, in, in_len); /* sizes the output, incl. NUL */
    need = need > 0 ? need : 1; /* mbedTLS returns early, without a size, for empty input */
    buf = ztca_malloc(need);
    ZTCA_ENSURE(buf != NULL, ZTCA_ERR_NOMEM, "base64: out of memory");
    if (mbedtls_base64_encode((unsigned char *)buf, need, &olen, in, in_len) != 0) {
        ztca_free(buf);
        ZTCA_BAIL(ZTCA_ERR_INTERNAL, "base64: encoder failed");
    }
    buf[olen] = '\0';
    *out = buf;
    *out_len = olen;
    return ZTCA_RC_OK;
}

ztca_rc
ztca_base64_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len)
{
    size_t need = 0;
    size_t olen = 0;
    uint8_t *buf;
    /* mbedTLS skips spaces and line breaks; a strict decoder for transport values does not. */
    ZTCA_ENSURE(in_len <= ZTCA_PEM_MAX && in_len % 4 == 0, ZTCA_ERR_BAD_INPUT,
                "base64: length must be a multiple of 4");
    for (size_t i = 0; i < in_len; i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || c == '+' || c == '/' || (c == '=' && i + 2 >= in_len);
        ZTCA_ENSURE(ok, ZTCA_ERR_BAD_INPUT, "base64: character outside the alphabet");
    }
    /* The size is known from the length (every 4 characters make at most 3 bytes): mbedTLS's
     * constant-time decoder then runs once, not once to size and once to decode (it was 8-10% of
     * a cached OCSP GET, which decodes its path). */
    need = in_len / 4 * 3;
    buf = ztca_malloc(need > 0 ? need : 1);
    ZTCA_ENSURE(buf != NULL, ZTCA_ERR_NOMEM, "base64: out of memory");
    if (mbedtls_base64_decode(buf, need, &olen, (const unsigned char *)in, in_len) != 0) {
        ztca_free(buf);
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "base64: invalid encoding");
    }
    /* Canonical only (RFC 4648 3.5): the bits under the padding must be zero, so that one value
     * has one encoding ("Zh==" is refused, "Zg==" is "f"). */
    if (in_len >= 2 && in[in_len - 1] == '=') {
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        bool two = in[in_len - 2] == '=';
        char last = in[in_len - (two ? 3 : 2)];
        size_t v = (size_t)(strchr(alphabet, last) - alphabet);
        if ((two && (v & 0x0f) != 0) || (!two && (v & 0x03) != 0)) {
            ztca_free(buf);
            ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "base64: non-canonical padding bits");
        }
    }
    *out = buf;
    *out_len = olen;
    return ZTCA_RC_OK;
}

ztca_rc
ztca_pem_encode(char **out, size_t *out_len, const char *label, const uint8_t *der, size_t der_len)
{
    char header[96];
    char footer[96];
    size_t need = 0;
    size_t olen = 0;
    char *buf;
    ZTCA_ENSURE(strlen(label) < 64, ZTCA_ERR_INTERNAL, "pem: label too long");
    ZTCA_ENSURE(der_len <= ZTCA_PEM_MAX / 2, ZTCA_ERR_BAD_INPUT, "pem: input too large");
    snprintf(header, sizeof(header), "-----BEGIN %s-----\n", label);
    snprintf(footer, sizeof(footer), "-----END %s-----\n", label);
    /* base64 grows by 4/3, plus one newline per 64 columns, the two lines and a NUL. */
    need = (der_len + 2) / 3 * 4;
    need += need / 64 + 1 + strlen(header) + strlen(footer) + 1;
    buf = ztca_malloc(need);
    ZTCA_ENSURE(buf != NULL, ZTCA_ERR_NOMEM, "pem: out of memory");
    if (mbedtls_pem_write_buffer(header, footer, der, der_len, (unsigned char *)buf, need, &olen)
        != 0) {
        ztca_free(buf);
        ZTCA_BAIL(ZTCA_ERR_INTERNAL, "pem: encoder failed");
    }
    /* olen counts the terminating NUL. */
    *out = buf;
    *out_len = olen - 1;
    return ZTCA_RC_OK;
}

void
ztca_pem_list_init(ztca_pem_list *l)
{
    l->blocks = NULL;
    l->num_blocks = 0;
}

void
ztca_pem_list_free(ztca_pem_list *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->num_blocks; i++) {
        ztca_free_secret(l->blocks[i].der, l->blocks[i].der_len); /* may hold a private key */
    }
    ztca_free(l->blocks);
    ztca_pem_list_init(l);
}

/* Finds the next "-----BEGIN <label>-----" at or after `from`; the label is 1..63 characters
 * of upper-case letters, digits, spaces and hyphens (RFC 7468 labels). */
static const char *
ztca_pem_find_begin(const char *from, char *label, size_t label_size)
{
    static const char begin[] = "-----BEGIN ";
    const char *p = from;
    while ((p = strstr(p, begin)) != NULL) {
        const char *l = p + sizeof(begin) - 1;
        const char *e = strstr(l, "-----");
        size_t n = e != NULL ? (size_t)(e - l) : 0;
        bool ok = e != NULL && n > 0 && n < label_size;
        for (size_t i = 0; ok && i < n; i++) {
            char c = l[i];
            ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' || c == '-';
        }
        if (ok) {
            memcpy(label, l, n);
            label[n] = '\0';
            return p;
        }
        p = l;
    }
    return NULL;
}

ztca_rc
ztca_pem_decode_all(ztca_pem_list *out, const uint8_t *text, size_t text_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ztca_pem_list list;
    char *copy = NULL;
    const char *p;
    ztca_pem_list_init(&list);
    mbedtls_pem_context pem;
    mbedtls_pem_init(&pem);

    ZTCA_REQUIRE(text_len <= ZTCA_PEM_MAX, ZTCA_ERR_BAD_INPUT, "pem: input too large");
    ZTCA_REQUIRE(memchr(text, '\0', text_len) == NULL, ZTCA_ERR_BAD_INPUT, "pem: NUL byte in text");
    copy = ztca_malloc(text_len + 1);
    ZTCA_REQUIRE(copy != NULL, ZTCA_ERR_NOMEM, "pem: out of memory");
    memcpy(copy, text, text_len);
    copy[text_len] = '\0';

    p = copy;
    for (;;) {
        char label[64];
        char header[96];
        char footer[96];
        size_t used = 0;
        ztca_pem_block *grown;
        p = ztca_pem_find_begin(p, label, sizeof(label));
        if (p == NULL) {
            break;
        }
        ZTCA_REQUIRE(list.num_blocks < ZTCA_PEM_MAX_BLOCKS, ZTCA_ERR_BAD_INPUT,
                     "pem: too many blocks");
        snprintf(header, sizeof(header), "-----BEGIN %s-----", label);
        snprintf(footer, sizeof(footer), "-----END %s-----", label);
        mbedtls_pem_free(&pem);
        mbedtls_pem_init(&pem);
        /* No password: legacy "Proc-Type: 4,ENCRYPTED" blocks are refused; ztca writes and
         * reads encrypted keys as PKCS#8 only. */
        int r =
            mbedtls_pem_read_buffer(&pem, header, footer, (const unsigned char *)p, NULL, 0, &used);
        ZTCA_REQUIRE(r == 0, ZTCA_ERR_BAD_INPUT,
                     "pem: malformed block (bad base64, missing END line or encrypted legacy PEM)");
        ZTCA_REQUIRE(pem.buflen > 0, ZTCA_ERR_BAD_INPUT, "pem: empty block");
        grown = ztca_realloc(list.blocks, (list.num_blocks + 1) * sizeof(*grown));
        ZTCA_REQUIRE(grown != NULL, ZTCA_ERR_NOMEM, "pem: out of memory");
        list.blocks = grown;
        ztca_pem_block *blk = &list.blocks[list.num_blocks];
        blk->der = ztca_malloc(pem.buflen);
        ZTCA_REQUIRE(blk->der != NULL, ZTCA_ERR_NOMEM, "pem: out of memory");
        memcpy(blk->der, pem.buf, pem.buflen);
        blk->der_len = pem.buflen;
        memcpy(blk->label, label, sizeof(label));
        list.num_blocks++;
        p += used;
    }
    ZTCA_REQUIRE(list.num_blocks > 0, ZTCA_ERR_BAD_INPUT, "pem: no PEM block found");
    *out = list;
    ztca_pem_list_init(&list);
out:
    mbedtls_pem_free(&pem);
    ztca_free_secret(copy, text_len + 1);
    ztca_pem_list_free(&list);
    return rc;
}

ztca_rc
ztca_pem_decode_one(uint8_t **out, size_t *out_len, const char *label, const uint8_t *text,
                    size_t text_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ztca_pem_list list;
    ztca_pem_list_init(&list);
    ZTCA_CHECK(ztca_pem_decode_all(&list, text, text_len));
    ZTCA_REQUIRE(list.num_blocks == 1, ZTCA_ERR_BAD_INPUT, "pem: expected exactly one block");
    ZTCA_REQUIRE(strcmp(list.blocks[0].label, label) == 0, ZTCA_ERR_BAD_INPUT,
                 "pem: unexpected block label");
    *out = list.blocks[0].der;
    *out_len = list.blocks[0].der_len;
    list.blocks[0].der = NULL;
    list.blocks[0].der_len = 0;
out:
    ztca_pem_list_free(&list);
    return rc;
}
