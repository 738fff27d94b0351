/* Target: ztca_pem_decode_all, ztca_pem_decode_one and ztca_base64_decode (core/pem.c), with
 * ztca_pem_encode and ztca_base64_encode as round-trip oracles.
 * Why: every CSR, key and certificate file enters as PEM; the decoder bounds mbedTLS's
 * strstr-based reader, which wants NUL-terminated text, over input that is not.
 *
 * Each decoded block is re-encoded and decoded again: the same label and bytes, or abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_pem_roundtrip(const ztca_pem_block *blk)
{
    char *pem = NULL;
    size_t pem_len = 0;
    ztca_pem_list again;
    ztca_pem_list_init(&again);
    if (blk->der_len == 0 || strlen(blk->label) == 0 || strlen(blk->label) >= sizeof(blk->label)) {
        abort(); /* decode_all promises non-empty blocks with a label */
    }
    if (!ZTCA_IS_OK(ztca_pem_encode(&pem, &pem_len, blk->label, blk->der, blk->der_len))) {
        abort(); /* a block we decoded cannot be written back */
    }
    if (pem_len != strlen(pem)) {
        abort();
    }
    if (!ZTCA_IS_OK(ztca_pem_decode_all(&again, (const uint8_t *)pem, pem_len))) {
        abort(); /* our own encoding does not decode */
    }
    if (again.num_blocks != 1 || strcmp(again.blocks[0].label, blk->label) != 0
        || again.blocks[0].der_len != blk->der_len
        || memcmp(again.blocks[0].der, blk->der, blk->der_len) != 0) {
        abort(); /* PEM round trip changed the block */
    }
    ztca_pem_list_free(&again);
    free(pem);
}

static void
fuzz_base64(const uint8_t *data, size_t size)
{
    uint8_t *dec = NULL, *dec2 = NULL;
    size_t dec_len = 0, dec2_len = 0;
    char *enc = NULL;
    size_t enc_len = 0;
    if (!ZTCA_IS_OK(ztca_base64_decode(&dec, &dec_len, (const char *)data, size))) {
        return;
    }
    /* Decoding accepts only canonical text, so encoding gives back the very same bytes. */
    if (!ZTCA_IS_OK(ztca_base64_encode(&enc, &enc_len, dec, dec_len)) || enc_len != size
        || memcmp(enc, data, size) != 0) {
        abort();
    }
    if (enc[enc_len] != '\0') {
        abort(); /* the header promises a NUL-terminated string */
    }
    if (!ZTCA_IS_OK(ztca_base64_decode(&dec2, &dec2_len, enc, enc_len)) || dec2_len != dec_len
        || memcmp(dec, dec2, dec_len) != 0) {
        abort(); /* base64 round trip changed the bytes */
    }
    free(dec);
    free(dec2);
    free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ztca_pem_list list;
    uint8_t *der = NULL;
    size_t der_len = 0;

    ztca_pem_list_init(&list);
    if (ZTCA_IS_OK(ztca_pem_decode_all(&list, data, size))) {
        if (list.num_blocks == 0 || list.num_blocks > ZTCA_PEM_MAX_BLOCKS) {
            abort();
        }
        for (size_t i = 0; i < list.num_blocks; i++) {
            fuzz_pem_roundtrip(&list.blocks[i]);
        }
    }

    /* decode_one is decode_all restricted to one block with that label, both ways. */
    bool one_cert = list.num_blocks == 1 && strcmp(list.blocks[0].label, "CERTIFICATE") == 0;
    if (ZTCA_IS_OK(ztca_pem_decode_one(&der, &der_len, "CERTIFICATE", data, size))) {
        if (!one_cert || list.blocks[0].der_len != der_len
            || memcmp(list.blocks[0].der, der, der_len) != 0) {
            abort();
        }
        free(der);
    } else if (one_cert) {
        abort();
    }
    ztca_pem_list_free(&list);

    fuzz_base64(data, size);
    return 0;
}
