/* attest_tpm_certify.c: the device side of TPM2_Certify (TPM 2.0 Part 3 18.2) with a nonce as
 * qualifyingData, through ESAPI. A test helper only: tpm2_certify 5.4 has no option for
 * qualifyingData and always sends 00ff55aa (../shared/notes/TPM.md, pitfall P10), so it cannot
 * show that ztca binds the certification to the session nonce.
 *
 * usage: attest_tpm_certify SIGNER_HANDLE KEY_HANDLE NONCE_HEX OUT_ATTEST OUT_SIGNATURE
 * Both keys are persistent with empty authValues; the TCTI comes from $TPM2TOOLS_TCTI. Writes the
 * TPMS_ATTEST bytes exactly as signed (the contents of TPM2B_ATTEST) and the marshalled
 * TPMT_SIGNATURE, as `tpm2_certify -o ... -s ... -f tss` does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

static int
write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t n = fwrite(p, 1, len, f);
    if (fclose(f) != 0 || n != len) {
        perror(path);
        return -1;
    }
    return 0;
}

static int
hex_to_bytes(uint8_t *out, size_t out_size, size_t *out_len, const char *hex)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > out_size) {
        return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = (uint8_t)v;
    }
    *out_len = n / 2;
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s SIGNER_HANDLE KEY_HANDLE NONCE_HEX OUT_ATTEST OUT_SIG\n",
                argv[0]);
        return 2;
    }
    TPM2_HANDLE signer = (TPM2_HANDLE)strtoul(argv[1], NULL, 0);
    TPM2_HANDLE key = (TPM2_HANDLE)strtoul(argv[2], NULL, 0);
    TPM2B_DATA nonce = { 0 };
    size_t nonce_len = 0;
    if (hex_to_bytes(nonce.buffer, sizeof(nonce.buffer), &nonce_len, argv[3]) != 0) {
        fprintf(stderr, "bad nonce\n");
        return 2;
    }
    nonce.size = (UINT16)nonce_len;

    TSS2_TCTI_CONTEXT *tcti = NULL;
    ESYS_CONTEXT *ctx = NULL;
    TPM2B_ATTEST *info = NULL;
    TPMT_SIGNATURE *sig = NULL;
    int status = 1;
    TSS2_RC r = Tss2_TctiLdr_Initialize(getenv("TPM2TOOLS_TCTI"), &tcti);
    if (r != TSS2_RC_SUCCESS) {
        fprintf(stderr, "Tss2_TctiLdr_Initialize: 0x%x\n", r);
        return 1;
    }
    r = Esys_Initialize(&ctx, tcti, NULL);
    if (r != TSS2_RC_SUCCESS) {
        fprintf(stderr, "Esys_Initialize: 0x%x\n", r);
        goto out;
    }
    ESYS_TR signer_tr, key_tr;
    r = Esys_TR_FromTPMPublic(ctx, signer, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &signer_tr);
    if (r == TSS2_RC_SUCCESS) {
        r = Esys_TR_FromTPMPublic(ctx, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &key_tr);
    }
    if (r != TSS2_RC_SUCCESS) {
        fprintf(stderr, "Esys_TR_FromTPMPublic: 0x%x\n", r);
        goto out;
    }
    /* inScheme TPM_ALG_NULL: the AK's own scheme signs (Part 3 18.2.1). */
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
    r = Esys_Certify(ctx, key_tr, signer_tr, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                     &nonce, &scheme, &info, &sig);
    if (r != TSS2_RC_SUCCESS) {
        fprintf(stderr, "Esys_Certify: 0x%x\n", r);
        goto out;
    }
    uint8_t sig_buf[sizeof(TPMT_SIGNATURE)];
    size_t sig_len = 0;
    r = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sig_buf, sizeof(sig_buf), &sig_len);
    if (r != TSS2_RC_SUCCESS) {
        fprintf(stderr, "Tss2_MU_TPMT_SIGNATURE_Marshal: 0x%x\n", r);
        goto out;
    }
    if (write_file(argv[4], info->attestationData, info->size) == 0
        && write_file(argv[5], sig_buf, sig_len) == 0) {
        status = 0;
    }
out:
    Esys_Free(info);
    Esys_Free(sig);
    if (ctx != NULL) {
        Esys_Finalize(&ctx);
    }
    Tss2_TctiLdr_Finalize(&tcti);
    return status;
}
