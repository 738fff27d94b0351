/* attest.h: server-side verification of TPM 2.0 evidence (DESIGN.md 3): the EK certificate and
 * public key, attestation key (AK) properties, MakeCredential for credential activation,
 * TPM2_Quote, TPM2_Certify and the PCR policy. Pure functions: bytes in, verdict out; no file or
 * network I/O and no TPM on the server.
 *
 * Every check returns a ztca_rc whose code is coarse (BAD_INPUT for malformed structures,
 * UNSUPPORTED for algorithms ztca does not take, DENIED for evidence that fails a check, INTERNAL
 * / NOMEM / CRYPTO for our own failures) and, through `out_reason`, one precise and stable
 * attest_reason. Tests assert the reason; the API layer reports its name. `out_reason` may be
 * NULL. Outputs are written only on success.
 *
 * References: TPM 2.0 Library Part 1 (architecture), Part 2 (structures), Part 3 (commands),
 * revision 1.59; TCG EK Credential Profile for TPM Family 2.0, version 2.5. */
#ifndef ZTCA_ATTEST_ATTEST_H
#define ZTCA_ATTEST_ATTEST_H

#include "ca/ca.h"
#include "core/core.h"

/* ---- reasons ------------------------------------------------------------------------------ */

/* attest_reason: why a piece of evidence was refused. The names (attest_reason_name) are part of
 * the API: they appear in problem+json bodies and logs and never change meaning. */
typedef enum attest_reason {
    ATTEST_OK = 0,
    /* structure of TPM blobs (BAD_INPUT) */
    ATTEST_R_TRUNCATED,     /* "truncated": the structure ends before its fields do */
    ATTEST_R_OVERSIZED,     /* "oversized": a TPM2B size or list count above what its type or
                             * algorithm allows */
    ATTEST_R_TRAILING_DATA, /* "trailing_data": bytes after the structure (or inside a TPM2B) */
    ATTEST_R_MALFORMED,     /* "malformed": a value Part 2 does not allow (unknown selector) */
    ATTEST_R_BAD_MAGIC,     /* "bad_magic": TPMS_ATTEST.magic is not TPM_GENERATED_VALUE */
    ATTEST_R_WRONG_TYPE,    /* "wrong_type": TPMS_ATTEST.type is not the expected TPM_ST */
    /* algorithms (UNSUPPORTED) */
    ATTEST_R_UNSUPPORTED_ALG, /* "unsupported_alg": key type, curve, size, hash or scheme */
    /* EK (DENIED unless noted) */
    ATTEST_R_EK_CERT_MALFORMED,  /* "ek_cert_malformed" (BAD_INPUT): not an X.509 certificate
                                  * mbedTLS accepts, or an unknown critical extension */
    ATTEST_R_EK_CERT_UNTRUSTED,  /* "ek_cert_untrusted": no chain to a configured TPM root */
    ATTEST_R_EK_CERT_EXPIRED,    /* "ek_cert_expired": a certificate of the chain is outside its
                                  * validity period */
    ATTEST_R_EK_CERT_WEAK,       /* "ek_cert_weak": signed with SHA-1 (or a weak key) and the
                                  * SHA-1 vendor profile is off */
    ATTEST_R_EK_CERT_EKU,        /* "ek_cert_eku": an EKU extension without 2.23.133.8.1 */
    ATTEST_R_EK_KEY_UNSUPPORTED, /* "ek_key_unsupported" (UNSUPPORTED): not RSA 2048-4096,
                                  * P-256 or P-384 */
    ATTEST_R_EK_ATTRIBUTES,      /* "ek_attributes": the EK public is not a restricted decryption
                                  * key with AES-CFB (not an EK template) */
    ATTEST_R_EK_PUB_MISMATCH,    /* "ek_pub_mismatch": EK public differs from the certificate key */
    ATTEST_R_EK_NOT_REGISTERED,  /* "ek_not_registered": no EK certificate and the EK is not on
                                  * record, or it differs from the pre-registered EK */
    /* AK */
    ATTEST_R_AK_NOT_FIXED,         /* "ak_not_fixed": fixedTPM or fixedParent clear (duplicable) */
    ATTEST_R_AK_NOT_TPM_GENERATED, /* "ak_not_tpm_generated": sensitiveDataOrigin clear */
    ATTEST_R_AK_DECRYPT,           /* "ak_decrypt": decrypt set */
    ATTEST_R_AK_NOT_RESTRICTED, /* "ak_not_restricted": restricted clear (could sign forgeries) */
    ATTEST_R_AK_NOT_SIGN,       /* "ak_not_sign": sign clear */
    /* credential activation */
    ATTEST_R_SECRET_MISMATCH, /* "secret_mismatch": the returned secret is not ours */
    /* quote and certify */
    ATTEST_R_SIG_SCHEME,          /* "sig_scheme": signature scheme or hash does not fit the AK */
    ATTEST_R_SIGNATURE_INVALID,   /* "signature_invalid": the AK did not sign these bytes */
    ATTEST_R_NONCE_MISMATCH,      /* "nonce_mismatch": qualifying data is not this session's
                                   * nonce (stale or replayed evidence) */
    ATTEST_R_PCR_SELECTION,       /* "pcr_selection": not the requested bank and PCRs, or the
                                   * values do not fit the selection */
    ATTEST_R_PCR_DIGEST_MISMATCH, /* "pcr_digest_mismatch": the PCR values are not the quoted */
    ATTEST_R_CERTIFIED_NAME_MISMATCH, /* "certified_name_mismatch": certified Name is not the
                                       * Name of the key's public area */
    ATTEST_R_KEY_EXPORTABLE,   /* "key_exportable": certified key lacks fixedTPM, fixedParent or
                                * sensitiveDataOrigin */
    ATTEST_R_KEY_USAGE,        /* "key_usage": certified key not sign-only unrestricted */
    ATTEST_R_CSR_INVALID,      /* "csr_invalid": CSR unparsable, unsupported or self-signature
                                * wrong */
    ATTEST_R_CSR_KEY_MISMATCH, /* "csr_key_mismatch": CSR key is not the certified key */
    /* PCR policy (findings of a verdict) */
    ATTEST_R_PCR_NO_POLICY,   /* "pcr_no_policy": no policy for this device class */
    ATTEST_R_PCR_NOT_COVERED, /* "pcr_not_covered": the quote lacks a PCR the policy needs */
    ATTEST_R_PCR_NOT_ALLOWED, /* "pcr_not_allowed": value in no allowed set */
    ATTEST_R_PCR_CHANGED,     /* "pcr_changed": differs from the recorded baseline */
    ATTEST_R_POLICY_INVALID,  /* "policy_invalid" (BAD_INPUT): bad "attestation" config */
    /* ours */
    ATTEST_R_INTERNAL, /* "internal": out of memory, RNG or library failure */
    ATTEST_R_COUNT_,
} attest_reason;

/* attest_reason_name: the stable snake_case name ("nonce_mismatch"); "unknown" if out of range. */
const char *attest_reason_name(attest_reason r);
/* attest_reason_text: one sentence for operators (docs/attestation.md lists them all). */
const char *attest_reason_text(attest_reason r);

/* ---- TPM objects -------------------------------------------------------------------------- */

#define ATTEST_DIGEST_MAX 64                  /* SHA-512 */
#define ATTEST_NAME_MAX   (2 + 64)            /* BE16 nameAlg || digest (Part 1 16) */
#define ATTEST_SPKI_MAX   600                 /* RSA-4096 SubjectPublicKeyInfo is 550 bytes */
#define ATTEST_SIG_MAX    CA_SIG_MAX          /* RSA-4096, or ECDSA P-384 as DER */
#define ATTEST_PCR_MAX    24                  /* PC Client TPMs implement PCRs 0-23 */
#define ATTEST_BLOB_MAX   ((size_t)16 * 1024) /* largest TPM blob accepted by any function */
#define ATTEST_SECRET_MAX ATTEST_DIGEST_MAX

/* TPM_ALG_ID values used in the structures below (Part 2 6.3). */
#define ATTEST_ALG_RSA    0x0001
#define ATTEST_ALG_SHA1   0x0004
#define ATTEST_ALG_AES    0x0006
#define ATTEST_ALG_SHA256 0x000b
#define ATTEST_ALG_SHA384 0x000c
#define ATTEST_ALG_SHA512 0x000d
#define ATTEST_ALG_NULL   0x0010
#define ATTEST_ALG_RSASSA 0x0014
#define ATTEST_ALG_RSAPSS 0x0016
#define ATTEST_ALG_ECDSA  0x0018
#define ATTEST_ALG_ECC    0x0023
#define ATTEST_ALG_CFB    0x0043
/* TPM_ECC_CURVE (Part 2 6.4) */
#define ATTEST_ECC_P256 0x0003
#define ATTEST_ECC_P384 0x0004
/* TPMA_OBJECT bits (Part 2 8.3) */
#define ATTEST_OBJ_FIXED_TPM        0x00000002u
#define ATTEST_OBJ_FIXED_PARENT     0x00000010u
#define ATTEST_OBJ_SENSITIVE_ORIGIN 0x00000020u
#define ATTEST_OBJ_USER_WITH_AUTH   0x00000040u
#define ATTEST_OBJ_RESTRICTED       0x00010000u
#define ATTEST_OBJ_DECRYPT          0x00020000u
#define ATTEST_OBJ_SIGN             0x00040000u
/* TPM_ST attestation types (Part 2 6.9) */
#define ATTEST_ST_CERTIFY 0x8017
#define ATTEST_ST_QUOTE   0x8018

/* attest_name: a TPM object Name, BE16(nameAlg) || H_nameAlg(TPMT_PUBLIC) (Part 1 16). */
typedef struct attest_name {
    uint8_t bytes[ATTEST_NAME_MAX];
    size_t len; /* 0: unknown (an EK known only from its certificate) */
} attest_name;

typedef enum attest_key_type { ATTEST_KEY_RSA, ATTEST_KEY_ECC } attest_key_type;

/* attest_key: a TPM object's public area (TPM2B_PUBLIC, Part 2 12.2.5) reduced to what the checks
 * need. A value: no pointers, nothing to free. */
typedef struct attest_key {
    attest_key_type type;
    uint16_t name_alg;   /* ATTEST_ALG_SHA* */
    uint32_t attributes; /* TPMA_OBJECT */
    uint16_t bits;       /* RSA modulus or EC field size */
    uint16_t curve;      /* ATTEST_ECC_* (ECC) */
    uint16_t scheme;     /* signing scheme fixed in the public area, ATTEST_ALG_NULL if none */
    uint16_t scheme_hash;
    uint16_t sym_alg; /* storage keys (the EK): symmetric.algorithm, keyBits, mode */
    uint16_t sym_bits;
    uint16_t sym_mode;
    attest_name name;
    uint8_t spki[ATTEST_SPKI_MAX]; /* the same public key as DER SubjectPublicKeyInfo */
    size_t spki_len;
} attest_key;

/* attest_key_parse: any TPM2B_PUBLIC of an RSA (2048-4096) or ECC (P-256, P-384) key with a
 * SHA-1/256/384/512 nameAlg; computes the Name over the exact TPMT_PUBLIC bytes received. No
 * attribute policy. */
ZTCA_RC attest_key_parse(attest_key *out, attest_reason *out_reason, const uint8_t *tpm2b_public,
                         size_t len);
/* attest_ak_parse: attest_key_parse plus the attestation-key policy (DESIGN.md 3): fixedTPM,
 * fixedParent, sensitiveDataOrigin, restricted and sign set, decrypt clear. */
ZTCA_RC attest_ak_parse(attest_key *out, attest_reason *out_reason, const uint8_t *tpm2b_public,
                        size_t len);
/* attest_ek_public_parse: attest_key_parse plus the EK template policy (EK Credential Profile
 * 2.2.1): restricted decryption key, fixedTPM, fixedParent, not sign, AES-128/256-CFB. */
ZTCA_RC attest_ek_public_parse(attest_key *out, attest_reason *out_reason,
                               const uint8_t *tpm2b_public, size_t len);
/* attest_key_matches_spki: true when `spki` (DER) holds the same public key (RSA modulus and
 * exponent, or curve and point). */
bool attest_key_matches_spki(const attest_key *key, const uint8_t *spki, size_t spki_len);

/* ---- EK: certificates and trust ----------------------------------------------------------- */

/* attest_chain_profile: which signatures the EK chain may use. DEFAULT: mbedTLS's default
 * profile (SHA-256 or better, RSA >= 2048). SHA1: the same plus SHA-1, for older TPM vendor
 * chains; an explicit operator choice ("ek_chain_profile": "sha1-vendor"). */
typedef enum attest_chain_profile { ATTEST_CHAIN_DEFAULT, ATTEST_CHAIN_SHA1 } attest_chain_profile;

/* attest_roots: the TPM manufacturer trust list (DIR/tpm-roots/). Once built (attest_roots_add
 * is not thread safe), any number of threads may verify against it. */
typedef struct attest_roots attest_roots;

ZTCA_RC attest_roots_new(attest_roots **out, attest_chain_profile profile);
void attest_roots_free(attest_roots *roots);
/* attest_roots_add: the certificates of one file, PEM (one or many "CERTIFICATE" blocks) or one
 * DER certificate. Self-signed CA certificates become trust anchors; other CA certificates are
 * vendor intermediates offered to path building but never trusted on their own. BAD_INPUT for an
 * unparsable certificate or a non-CA one; nothing is added then. */
ZTCA_RC attest_roots_add(attest_roots *roots, const uint8_t *data, size_t len);
size_t attest_roots_num_anchors(const attest_roots *roots);
/* attest_chain_profile_parse: "attestation"."ek_chain_profile" of ztca.conf: "default" (also when
 * absent) or "sha1-vendor". BAD_INPUT for anything else. */
ZTCA_RC attest_chain_profile_parse(attest_chain_profile *out, const uint8_t *json, size_t json_len);

typedef enum attest_ek_origin {
    ATTEST_EK_CERTIFIED,  /* certificate chains to a configured manufacturer root */
    ATTEST_EK_REGISTERED, /* public key pre-registered by an operator */
} attest_ek_origin;

/* attest_ek: a verified endorsement key and the parameters MakeCredential needs. */
typedef struct attest_ek {
    attest_ek_origin origin;
    attest_key key; /* from the EK TPM2B_PUBLIC, or inferred from the certificate key and the TCG
                     * default templates (name is then empty) */
    bool from_public;
} attest_ek;

typedef struct attest_ek_in {
    const uint8_t *cert; /* EK certificate, DER, as read from NV (0x01c00002/0a/16) */
    size_t cert_len;
    const uint8_t *const *chain; /* intermediates sent by the device (DER), may be empty */
    const size_t *chain_lens;
    size_t num_chain;
    const uint8_t *pub; /* EK TPM2B_PUBLIC or NULL */
    size_t pub_len;
} attest_ek_in;

/* attest_ek_verify: parses the certificate (TCG extensions accepted: subjectDirectoryAttributes
 * and certificatePolicies even when critical), verifies its chain to `roots` under the roots'
 * profile, requires the TCG EK EKU (2.23.133.8.1) when an EKU is present, and that `in->pub`, when
 * given, is an EK template for the certificate's key. Without `in->pub` the key parameters follow
 * the TCG default templates: RSA-2048 and P-256 SHA-256/AES-128 (L-1, L-2), RSA-3072/4096 and
 * P-384 SHA-384/AES-256 (H-6, H-7, H-3). Uses the current time for validity. */
ZTCA_RC attest_ek_verify(attest_ek *out, attest_reason *out_reason, const attest_roots *roots,
                         const attest_ek_in *in);
/* attest_ek_registered: an EK without a certificate, pre-registered by an operator (`ztca device
 * allow --ek-pub`): `pub` (TPM2B_PUBLIC) must be an EK template holding the key of
 * `registered_spki` (DER SubjectPublicKeyInfo, as the store keeps it). */
ZTCA_RC attest_ek_registered(attest_ek *out, attest_reason *out_reason, const uint8_t *pub,
                             size_t pub_len, const uint8_t *registered_spki, size_t spki_len);

/* ---- credential activation (MakeCredential, Part 1 24 and Part 3 12.6) ---------------------- */

#define ATTEST_ID_OBJECT_MAX  (2 + 2 + ATTEST_DIGEST_MAX + 2 + ATTEST_DIGEST_MAX)
#define ATTEST_ENC_SECRET_MAX (2 + 512)

/* attest_credential: the challenge for TPM2_ActivateCredential, as marshalled TPM2B_ID_OBJECT and
 * TPM2B_ENCRYPTED_SECRET (size fields included), ready for Esys_ActivateCredential. */
typedef struct attest_credential {
    uint8_t id_object[ATTEST_ID_OBJECT_MAX];
    size_t id_object_len;
    uint8_t encrypted_secret[ATTEST_ENC_SECRET_MAX];
    size_t encrypted_secret_len;
} attest_credential;

/* attest_cred_make: MakeCredential in software for `ek` (RSA-OAEP or ECDH seed, KDFa/KDFe,
 * AES-CFB, HMAC with the EK's nameAlg and symmetric key size) binding `secret` (1 to the nameAlg
 * digest size bytes, from the caller's DRBG) to the object Name `ak_name`. Only the TPM holding
 * the EK, with the object of that Name loaded, recovers it. */
ZTCA_RC attest_cred_make(attest_credential *out, attest_reason *out_reason, ca_rng *rng,
                         const attest_ek *ek, const attest_name *ak_name, const uint8_t *secret,
                         size_t secret_len);
/* attest_cred_check: does the secret the device returned equal the one we sent? Constant time in
 * the contents (the lengths are public). SECRET_MISMATCH otherwise. */
ZTCA_RC attest_cred_check(attest_reason *out_reason, const uint8_t *expected, size_t expected_len,
                          const uint8_t *returned, size_t returned_len);

/* ---- TPMS_ATTEST and TPMT_SIGNATURE --------------------------------------------------------- */

typedef struct attest_clock {
    uint64_t clock;         /* ms the TPM has been powered, not wall time */
    uint32_t reset_count;   /* TPM2_Startup(CLEAR) count: changes on every reboot */
    uint32_t restart_count; /* resume from hibernation/suspend since the last reset */
    bool safe;
} attest_clock;

typedef struct attest_pcr_select {
    uint16_t hash_alg;
    uint32_t mask; /* bit i: PCR i */
} attest_pcr_select;

#define ATTEST_PCR_BANKS_MAX 16 /* TPM2_NUM_PCR_BANKS */

/* attest_info: the fields of a TPMS_ATTEST (Part 2 10.12.12) that ztca uses. */
typedef struct attest_info {
    uint16_t type; /* ATTEST_ST_* or another TPM_ST_ATTEST_* */
    attest_name qualified_signer;
    uint8_t extra_data[ATTEST_DIGEST_MAX];
    size_t extra_data_len;
    attest_clock clock;
    uint64_t firmware_version;
    /* ATTEST_ST_QUOTE: TPMS_QUOTE_INFO (10.12.4) */
    attest_pcr_select pcr_select[ATTEST_PCR_BANKS_MAX];
    size_t num_pcr_select;
    uint8_t pcr_digest[ATTEST_DIGEST_MAX];
    size_t pcr_digest_len;
    /* ATTEST_ST_CERTIFY: TPMS_CERTIFY_INFO (10.12.3) */
    attest_name certified_name;
    attest_name certified_qualified_name;
} attest_info;

/* attest_attest_parse: a TPMS_ATTEST exactly as signed (`tpm2_quote -m`, `tpm2_certify -o`, the
 * contents of TPM2B_ATTEST); checks magic (TPM_GENERATED_VALUE) but not the type. */
ZTCA_RC attest_attest_parse(attest_info *out, attest_reason *out_reason, const uint8_t *attest,
                            size_t len);
/* attest_attest2b_parse: the same inside a TPM2B_ATTEST (as ESAPI returns it); *out_body views
 * the TPMS_ATTEST bytes inside `tpm2b` (what the AK signed). */
ZTCA_RC attest_attest2b_parse(attest_info *out, attest_reason *out_reason, const uint8_t **out_body,
                              size_t *out_body_len, const uint8_t *tpm2b, size_t len);

/* attest_sig: a TPMT_SIGNATURE (Part 2 11.3.4) in the form ca_verify takes (RSA: the raw block;
 * ECDSA: DER Ecdsa-Sig-Value built from r and s). */
typedef struct attest_sig {
    uint16_t alg;  /* ATTEST_ALG_RSASSA, _RSAPSS or _ECDSA */
    uint16_t hash; /* ATTEST_ALG_SHA256/384/512 */
    uint8_t sig[ATTEST_SIG_MAX];
    size_t sig_len;
} attest_sig;

/* attest_signature_parse: RSASSA, RSAPSS and ECDSA with SHA-256/384/512; other schemes and SHA-1
 * are UNSUPPORTED_ALG. */
ZTCA_RC attest_signature_parse(attest_sig *out, attest_reason *out_reason, const uint8_t *sig,
                               size_t len);

/* ---- quote -------------------------------------------------------------------------------- */

/* attest_pcr_bank: PCR values of one bank, indexed by PCR number. */
typedef struct attest_pcr_bank {
    uint16_t hash_alg; /* ATTEST_ALG_SHA256 ... */
    uint32_t mask;     /* PCRs present */
    uint8_t values[ATTEST_PCR_MAX][ATTEST_DIGEST_MAX];
} attest_pcr_bank;

typedef struct attest_quote_in {
    const uint8_t *attest; /* TPMS_ATTEST exactly as signed */
    size_t attest_len;
    const uint8_t *sig; /* TPMT_SIGNATURE */
    size_t sig_len;
    const uint8_t *pcr_values; /* the selected PCRs' digests in ascending PCR order, concatenated
                                * (`tpm2_quote -o FILE -F values`, `tpm2_pcrread -o`) */
    size_t pcr_values_len;
    const uint8_t *nonce; /* this session's nonce, 1-64 bytes */
    size_t nonce_len;
    uint16_t pcr_hash_alg; /* the bank that was asked for: ATTEST_ALG_SHA256 */
    uint32_t pcr_mask;     /* the PCRs that were asked for: 0xff (PCRs 0-7) */
} attest_quote_in;

typedef struct attest_quote {
    attest_clock clock; /* for the trust engine: reboots, staleness */
    uint64_t firmware_version;
    attest_pcr_bank pcrs; /* the values, now bound to the AK signature */
} attest_quote;

/* attest_quote_verify: TPM2_Quote (Part 3 18.4) by `ak` (from attest_ak_parse): magic and type
 * QUOTE, the AK's signature over the exact bytes received (scheme and hash must fit the AK),
 * qualifyingData equal to the nonce (constant time), the selection equal to the one requested,
 * and the PCR digest recomputed from `pcr_values` with the signature's hash. */
ZTCA_RC attest_quote_verify(attest_quote *out, attest_reason *out_reason, const attest_key *ak,
                            const attest_quote_in *in);

/* ---- certify ------------------------------------------------------------------------------ */

typedef struct attest_certify_in {
    const uint8_t *attest; /* TPMS_ATTEST from TPM2_Certify */
    size_t attest_len;
    const uint8_t *sig; /* TPMT_SIGNATURE */
    size_t sig_len;
    const uint8_t *key_pub; /* TPM2B_PUBLIC of the certified key */
    size_t key_pub_len;
    const uint8_t *csr; /* PKCS#10, PEM or DER, whose key must be the certified key; NULL: none */
    size_t csr_len;
    const uint8_t *nonce; /* qualifyingData that was asked for, 1-64 bytes */
    size_t nonce_len;
} attest_certify_in;

typedef struct attest_certify {
    attest_key key; /* the certified key */
    attest_clock clock;
} attest_certify;

/* attest_certify_verify: TPM2_Certify (Part 3 18.2) of a key by `ak`: magic and type CERTIFY, the
 * AK signature, qualifyingData equal to the nonce, certified Name equal to the Name of `key_pub`,
 * the key non-exportable (fixedTPM, fixedParent, sensitiveDataOrigin) and an unrestricted
 * sign-only key, and the CSR (self-signature checked) holding that very key. */
ZTCA_RC attest_certify_verify(attest_certify *out, attest_reason *out_reason, const attest_key *ak,
                              const attest_certify_in *in);

/* ---- PCR policy --------------------------------------------------------------------------- */

/* attest_pcr_policy: the "attestation" member of ztca.conf (docs/attestation.md): named allowed
 * sets of PCR values per device class, or "baseline" mode. Immutable once parsed. */
typedef struct attest_pcr_policy attest_pcr_policy;

/* attest_pcr_policy_parse: the whole ztca.conf JSON; without an "attestation" member the result
 * is an empty policy (every class gets NO_POLICY). BAD_INPUT with POLICY_INVALID otherwise. */
ZTCA_RC attest_pcr_policy_parse(attest_pcr_policy **out, attest_reason *out_reason,
                                const uint8_t *json, size_t json_len);
void attest_pcr_policy_free(attest_pcr_policy *policy);
/* attest_pcr_policy_request: the bank and PCRs quotes of `device_class` must cover (what the
 * server asks for); sha256 and 0xff when the class has no policy. */
void attest_pcr_policy_request(const attest_pcr_policy *policy, const char *device_class,
                               uint16_t *out_hash_alg, uint32_t *out_mask);

typedef enum attest_pcr_decision {
    ATTEST_PCR_NO_POLICY, /* no policy for this class: nothing was judged */
    ATTEST_PCR_PASS,      /* allowlist: equals a named set; baseline: equals the baseline */
    ATTEST_PCR_RECORD,    /* baseline mode, first quote: store `quoted` as the baseline */
    ATTEST_PCR_FAIL,      /* see the findings */
} attest_pcr_decision;

typedef struct attest_pcr_finding {
    attest_reason reason; /* PCR_NO_POLICY, PCR_NOT_COVERED, PCR_NOT_ALLOWED, PCR_CHANGED */
    int pcr;              /* the PCR concerned, -1 for the whole quote */
} attest_pcr_finding;

#define ATTEST_PCR_SET_NAME_MAX 64

/* attest_pcr_verdict: a decision with its reasons, never a bare boolean. */
typedef struct attest_pcr_verdict {
    attest_pcr_decision decision;
    char matched[ATTEST_PCR_SET_NAME_MAX + 1]; /* PASS in allowlist mode: the set's name */
    uint32_t differing; /* FAIL: PCRs that differ from the baseline or the closest allowed set */
    attest_pcr_finding findings[ATTEST_PCR_MAX + 1];
    size_t num_findings;
} attest_pcr_verdict;

/* attest_pcr_evaluate: judges verified PCR values (attest_quote.pcrs) of a device of
 * `device_class` against the policy; `baseline` is the stored first quote of that device or
 * NULL. Fails only on bad arguments; every judgement is in the verdict. */
ZTCA_RC attest_pcr_evaluate(attest_pcr_verdict *out, const attest_pcr_policy *policy,
                            const char *device_class, const attest_pcr_bank *quoted,
                            const attest_pcr_bank *baseline);
/* attest_pcr_baseline_encode: {"bank":"sha256","pcrs":{"0":"<hex>",...}}, malloc'd and
 * NUL-terminated, for the store. */
ZTCA_RC attest_pcr_baseline_encode(char **out, size_t *out_len, const attest_pcr_bank *bank);
ZTCA_RC attest_pcr_baseline_parse(attest_pcr_bank *out, const uint8_t *json, size_t json_len);

/* ---- attestation level -------------------------------------------------------------------- */

/* attest_level: how much the evidence proved, for the trust engine and the ztca-identity
 * extension (ca_attestation). */
typedef enum attest_level {
    ATTEST_LEVEL_TPM_REGISTERED, /* EK pre-registered, AK activated, key certified */
    ATTEST_LEVEL_TPM_CERTIFIED,  /* EK certificate from a trusted manufacturer, AK, key */
    ATTEST_LEVEL_MEASURED_BOOT,  /* TPM_CERTIFIED and the quote passed the PCR policy */
} attest_level;

attest_level attest_level_of(attest_ek_origin origin, attest_pcr_decision pcr);
const char *attest_level_name(attest_level level);
/* attest_level_to_ca: tpm (2) for the first two, tpmMeasuredBoot (3) for the last. */
ca_attestation attest_level_to_ca(attest_level level);

#endif /* ZTCA_ATTEST_ATTEST_H */
