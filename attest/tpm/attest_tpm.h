/* attest_tpm.h: the device side of TPM enrollment (DESIGN.md 3) through tpm2-tss ESAPI, for
 * ztca-agent only (built as ztca_attest_tpm; the server libraries never link it). It reads the EK
 * certificate from NV and the EK from its standard template, creates the attestation key and the
 * non-exportable TLS key, activates the server's credential, and produces the certify, the quote
 * and the CSR signature over the server's nonce.
 *
 * Every operation loads what it needs and flushes every transient object (and session) it loaded
 * before it returns, on success and on failure: swtpm and some firmware TPMs have only three
 * transient slots and no resource manager in front (../shared/notes/TPM.md P4), and nothing is
 * left behind for the next program. At most three objects are loaded at once.
 *
 * Errors are ZTCA_ERR_TPM with a static `what` and the TSS2_RC kept as the foreign code
 * (Tss2_RC_Decode names it); attest_tpm_open fails with ZTCA_ERR_NOT_FOUND when no TPM answers at
 * the TCTI, and any operation with ZTCA_ERR_DENIED when the TPM is in dictionary-attack lockout. */
#ifndef ZTCA_ATTEST_TPM_ATTEST_TPM_H
#define ZTCA_ATTEST_TPM_ATTEST_TPM_H

#include "attest/attest.h"
#include "core/core.h"

#define ATTEST_TPM_PUB_MAX      1024 /* a marshalled TPM2B_PUBLIC of RSA-4096 is ~ 600 bytes */
#define ATTEST_TPM_PRIV_MAX     1024 /* TPM2B_PRIVATE */
#define ATTEST_TPM_CERT_MAX     8192 /* an EK certificate read from NV */
#define ATTEST_TPM_ATTEST_MAX   1024 /* TPMS_ATTEST */
#define ATTEST_TPM_SIG_MAX      1024 /* TPMT_SIGNATURE, or a DER ECDSA signature */
#define ATTEST_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
/* TPM2_RH_OWNER as the parent of the TLS key: the tpm2-openssl provider recreates the owner
 * storage primary from its standard ECC template (the one attest_tpm_key_create uses) when a
 * TSS2 PRIVATE KEY names this parent, so no persistent handle is needed. */
#define ATTEST_TPM_KEY_PARENT 0x40000001u

typedef struct attest_tpm attest_tpm;

typedef enum attest_tpm_ek_type { ATTEST_TPM_EK_RSA, ATTEST_TPM_EK_ECC } attest_tpm_ek_type;
typedef enum attest_tpm_ak_type { ATTEST_TPM_AK_ECC, ATTEST_TPM_AK_RSA } attest_tpm_ak_type;

/* attest_tpm_ek: the endorsement key as the server needs it, and how to use it here. */
typedef struct attest_tpm_ek {
    attest_tpm_ek_type type;
    uint32_t nv_index;   /* where the certificate was read: 0x01c00002, 0x01c0000a, 0x01c00016 */
    uint32_t persistent; /* the persistent handle of the EK when the TPM holds one, else 0 */
    int tmpl;            /* the TCG template: 1 = RSA L-1, 2 = ECC P-256 L-2, 3 = ECC P-384 H-3 */
    bool user_with_auth; /* password authorization (H-3), else PolicySecret(endorsement) */
    uint16_t name_alg;
    uint8_t cert[ATTEST_TPM_CERT_MAX]; /* DER, NV padding trimmed */
    size_t cert_len;
    uint8_t pub[ATTEST_TPM_PUB_MAX]; /* TPM2B_PUBLIC */
    size_t pub_len;
} attest_tpm_ek;

/* attest_tpm_obj: a key in loadable form (TPM2B_PUBLIC and TPM2B_PRIVATE, marshalled); the
 * private part is wrapped by its parent and useless outside this TPM. */
typedef struct attest_tpm_obj {
    uint8_t pub[ATTEST_TPM_PUB_MAX];
    size_t pub_len;
    uint8_t priv[ATTEST_TPM_PRIV_MAX];
    size_t priv_len;
} attest_tpm_obj;

/* attest_tpm_evidence: what a finish sends, and the CSR signature. */
typedef struct attest_tpm_evidence {
    uint8_t certify_attest[ATTEST_TPM_ATTEST_MAX]; /* TPMS_ATTEST as signed */
    size_t certify_attest_len;
    uint8_t certify_sig[ATTEST_TPM_SIG_MAX]; /* TPMT_SIGNATURE */
    size_t certify_sig_len;
    uint8_t quote_attest[ATTEST_TPM_ATTEST_MAX];
    size_t quote_attest_len;
    uint8_t quote_sig[ATTEST_TPM_SIG_MAX];
    size_t quote_sig_len;
    uint8_t pcr_values[ATTEST_PCR_MAX * ATTEST_DIGEST_MAX]; /* ascending PCR order */
    size_t pcr_values_len;
    uint8_t csr_sig[ATTEST_TPM_SIG_MAX]; /* DER Ecdsa-Sig-Value over the CSR digest */
    size_t csr_sig_len;
} attest_tpm_evidence;

/* attest_tpm_open: connects to the TPM behind `tcti` ("device:/dev/tpmrm0",
 * "swtpm:host=H,port=P", "swtpm:path=S", "tabrmd:bus_type=session"; NULL: the default device) and
 * checks that it is not in dictionary-attack lockout (DENIED, with the seconds until recovery in
 * *out_lockout_s). */
ZTCA_RC attest_tpm_open(attest_tpm **out, const char *tcti, uint32_t *out_lockout_s);
/* attest_tpm_close: closes the connection (every operation has flushed what it loaded). */
void attest_tpm_close(attest_tpm *t);
/* attest_tpm_busy_ns: the time spent in TPM operations since open, for timings. */
int64_t attest_tpm_busy_ns(const attest_tpm *t);
/* attest_tpm_rc_text: a name for the TSS2_RC of the last failure (Tss2_RC_Decode). */
const char *attest_tpm_rc_text(long rc);

/* attest_tpm_ek_read: the EK certificate of `type` from NV (ECC: P-256 at 0x01c0000a first, then
 * swtpm's P-384 at 0x01c00016) and the EK public area: from the persistent EK when the TPM has
 * one (0x81010001, 0x81010002, 0x81010016), else created from the TCG template (EK Credential
 * Profile 2.5, B.3.3 L-1, L-2 and B.4.5 H-3). NOT_FOUND when the TPM has no such certificate. */
ZTCA_RC attest_tpm_ek_read(attest_tpm *t, attest_tpm_ek_type type, attest_tpm_ek *out);
/* attest_tpm_ek_read_public: the EK public area of `type` without its certificate (cert_len 0,
 * nv_index 0), for a TPM whose EK was pre-registered (`ztca device allow`): the persistent EK
 * (RSA 0x81010001; ECC 0x81010002, then 0x81010016), else one created from the first template of
 * the type (L-1, L-2). The operator registers what `tpm2_readpublic -c HANDLE -f tss` shows. */
ZTCA_RC attest_tpm_ek_read_public(attest_tpm *t, attest_tpm_ek_type type, attest_tpm_ek *out);

/* attest_tpm_ak_create: a restricted signing key under the EK (fixedTPM, fixedParent,
 * sensitiveDataOrigin, userWithAuth, noDA, restricted, sign): ECDSA P-256 or RSASSA-2048, SHA-256.
 */
ZTCA_RC attest_tpm_ak_create(attest_tpm *t, const attest_tpm_ek *ek, attest_tpm_ak_type type,
                             attest_tpm_obj *out);
/* attest_tpm_key_create: the TLS key: ECC P-256 with a NULL scheme (TLS picks the hash, notes
 * P7c), fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA, sign; empty auth; under
 * the owner storage primary of ATTEST_TPM_KEY_PARENT. */
ZTCA_RC attest_tpm_key_create(attest_tpm *t, attest_tpm_obj *out);

/* attest_tpm_activate: TPM2_ActivateCredential of the server's challenge (marshalled
 * TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET) with the AK and the EK; the secret goes to out. */
ZTCA_RC attest_tpm_activate(attest_tpm *t, const attest_tpm_ek *ek, const attest_tpm_obj *ak,
                            const uint8_t *id_object, size_t id_object_len,
                            const uint8_t *enc_secret, size_t enc_secret_len, uint8_t *out,
                            size_t out_size, size_t *out_len);

/* attest_tpm_prove: with the AK: TPM2_Certify of the TLS key and TPM2_Quote of the selection
 * (bank, mask) over `nonce`, the PCR values (read before and after the quote; retried if they
 * moved), and with the TLS key the ECDSA signature of `csr_digest` (SHA-256 of the CSR's
 * CertificationRequestInfo). */
ZTCA_RC attest_tpm_prove(attest_tpm *t, const attest_tpm_ek *ek, const attest_tpm_obj *ak,
                         const attest_tpm_obj *key, const uint8_t *nonce, size_t nonce_len,
                         uint16_t bank, uint32_t mask, const uint8_t csr_digest[32],
                         attest_tpm_evidence *out);

#endif /* ZTCA_ATTEST_TPM_ATTEST_TPM_H */
