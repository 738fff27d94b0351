/* internal.h: declarations shared by the files of attest/ only. */
#ifndef ZTCA_ATTEST_INTERNAL_H
#define ZTCA_ATTEST_INTERNAL_H

#include <mbedtls/pk.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "attest/attest.h"

/* ---- reasons ------------------------------------------------------------------------------ */

/* attest_reason_err: the coarse ztca_err that goes with a reason (one table, attest_util.c). */
ztca_err attest_reason_err(attest_reason r);

/* attest_fail records `what` at file:line (ztca_note), stores `reason` and returns the matching
 * code. */
ztca_rc attest_fail(attest_reason *why, attest_reason reason, const char *file, int line,
                    const char *what);

/* For functions without cleanup. */
#define ATTEST_FAIL(why, reason, what) \
    return attest_fail((why), (reason), __FILE__, __LINE__, (what))
#define ATTEST_ENSURE(cond, why, reason, what)  \
    do {                                        \
        if (!(cond)) {                          \
            ATTEST_FAIL((why), (reason), what); \
        }                                       \
    } while (0)
/* For functions with `ztca_rc rc` and an `out:` label. */
#define ATTEST_REQUIRE(cond, why, reason, what)                            \
    do {                                                                   \
        if (!(cond)) {                                                     \
            rc = attest_fail((why), (reason), __FILE__, __LINE__, (what)); \
            goto out;                                                      \
        }                                                                  \
    } while (0)

/* attest_begin: public entry points point `*why` at a local when the caller passed NULL and
 * preset ATTEST_R_INTERNAL, so any failure that is not an evidence check (out of memory, a
 * library error) reports "internal". */
#define ATTEST_BEGIN(why)            \
    attest_reason attest_why_local_; \
    if ((why) == NULL) {             \
        (why) = &attest_why_local_;  \
    }                                \
    *(why) = ATTEST_R_INTERNAL

/* ---- Tss2_MU ------------------------------------------------------------------------------ */

/* attest_mu_fn: an Unmarshal function of tss2-mu with its destination type erased. Each user
 * writes a two-line adapter so that the call itself has the right type. */
typedef TSS2_RC (*attest_mu_fn)(const uint8_t *buf, size_t len, size_t *offset, void *dst);

/* attest_mu_unmarshal: one whole structure from `buf[0..len)`. The destination is zeroed first
 * (tss2-mu refuses a TPM2B whose size is not 0); success requires offset == len. Failures map to
 * TRUNCATED, OVERSIZED (a TPM2B size or count above the capacity of its type), TRAILING_DATA or
 * MALFORMED. tss2-mu returns TSS2_MU_RC_INSUFFICIENT_BUFFER both for a short buffer and for a
 * TPM2B larger than its type, so on that code the bytes are unmarshalled once more followed by
 * zeros: if that succeeds or fails differently the input was short, otherwise a size field is
 * oversized. */
ztca_rc attest_mu_unmarshal(attest_reason *why, attest_mu_fn fn, void *dst, size_t dst_size,
                            const uint8_t *buf, size_t len, const char *what);

/* attest_tpm2b_split: the contents of an outer TPM2B (TPM2B_PUBLIC, TPM2B_ATTEST) whose size must
 * cover exactly the rest of `buf`. XXX tss2-mu 3.2's TPM2B_PUBLIC_Unmarshal ignores the return
 * code of the inner TPMT_PUBLIC unmarshal and does not bound it by the size field
 * (tpm2-tss src/tss2-mu/tpm2b-types.c, TPM2B_UNMARSHAL_SUBTYPE): a truncated or inconsistent
 * TPM2B_PUBLIC unmarshals "successfully". So the size is read with Tss2_MU_UINT16_Unmarshal and
 * the inner structure is unmarshalled from exactly that many bytes. */
ztca_rc attest_tpm2b_split(attest_reason *why, const uint8_t **out, size_t *out_len,
                           const uint8_t *buf, size_t len, const char *what);

/* ---- algorithms --------------------------------------------------------------------------- */

/* attest_hash_md: TPM_ALG_ID of a hash to ca_md; false for anything else (SM3, NULL). */
bool attest_hash_md(uint16_t alg, ca_md *out);
size_t attest_hash_size(uint16_t alg); /* 0 for unknown */

/* attest_pk_from_spki / attest_pk_equal: the key comparisons (EK certificate vs EK public, CSR vs
 * certified key) are done on parsed keys, so encodings (compressed points, leading zeros) do not
 * matter. */
ztca_rc attest_pk_from_spki(mbedtls_pk_context *pk, const uint8_t *spki, size_t spki_len);
bool attest_pk_equal(const mbedtls_pk_context *a, const mbedtls_pk_context *b);

/* ---- signatures over TPMS_ATTEST (attest_sig.c) ------------------------------------------- */

/* attest_signed_verify: the shared first half of quote and certify: parse `attest`, check magic
 * and `type`, parse `sig`, require the scheme and hash to fit `ak` and verify the signature over
 * H_sighash(attest) with ca_verify, then compare extraData with `nonce` in constant time. */
ztca_rc attest_signed_verify(attest_info *out, attest_sig *out_sig, attest_reason *why,
                             const attest_key *ak, uint16_t type, const uint8_t *attest,
                             size_t attest_len, const uint8_t *sig, size_t sig_len,
                             const uint8_t *nonce, size_t nonce_len);

/* ---- MakeCredential building blocks (attest_cred.c), exposed for known-answer tests -------- */

/* attest_kdfa: KDFa (Part 1 11.4.10.2) with HMAC-`hash_alg`; `label` without its NUL (one 0x00 is
 * appended as the spec's terminator); out_bits a multiple of 8. */
ztca_rc attest_kdfa(uint8_t *out, size_t out_bits, uint16_t hash_alg, const uint8_t *key,
                    size_t key_len, const char *label, const uint8_t *context_u, size_t u_len,
                    const uint8_t *context_v, size_t v_len);
/* attest_kdfe: KDFe (Part 1 11.4.10.3) with `hash_alg`; `label` without its NUL. */
ztca_rc attest_kdfe(uint8_t *out, size_t out_bits, uint16_t hash_alg, const uint8_t *z,
                    size_t z_len, const char *label, const uint8_t *party_u, size_t u_len,
                    const uint8_t *party_v, size_t v_len);
/* attest_cred_wrap: steps 2-5 of MakeCredential from a given seed: the TPM2B_ID_OBJECT for
 * `secret` and `name` (deterministic, so it has a known-answer test). */
ztca_rc attest_cred_wrap(uint8_t *out, size_t out_size, size_t *out_len, const attest_key *ek,
                         const uint8_t *seed, size_t seed_len, const attest_name *name,
                         const uint8_t *secret, size_t secret_len);

#endif /* ZTCA_ATTEST_INTERNAL_H */
