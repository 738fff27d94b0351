/* internal.h: declarations shared by the files of enroll/ and its tests; not part of the API. */
#ifndef ZTCA_ENROLL_INTERNAL_H
#define ZTCA_ENROLL_INTERNAL_H

#include <jansson.h>

#include "enroll/enroll.h"

/* enroll_fail_set: records a refusal (claim may be NULL). */
void enroll_fail_set(enroll_failure *f, enroll_reason r, const char *claim);

/* ENROLL_REFUSE: a DENIED result carrying `reason`, with `what` noted for the log (RFC section). */
#define ENROLL_REFUSE(f, r, claim, what) \
    (enroll_fail_set((f), (r), (claim)), ZTCA_NOTE(ZTCA_ERR_DENIED, (what), 0))

/* ---- JSON (enroll_json.c) ----------------------------------------------------------------- */

/* enroll_json_load: exactly one JSON object, duplicate members refused (RFC 7515 5.2 step 4 lets
 * a parser refuse them; ambiguous claims are never acceptable here), at most `max` bytes, no NUL
 * escapes. BAD_INPUT, or NOMEM when jansson ran out of memory. */
ZTCA_RC enroll_json_load(json_t **out, const uint8_t *text, size_t text_len, size_t max);

/* enroll_json_time: a NumericDate (RFC 7519 2): a JSON number of seconds, 0..ZTCA_TIME_MAX. A
 * fractional value is rounded toward the stricter side: down for exp, up for nbf and iat. */
bool enroll_json_time(const json_t *v, bool round_up, ztca_time *out);

/* enroll_json_string: the member `key` of `obj` when it is a string of 1..max_len bytes without
 * control characters; NULL otherwise (*out_present tells absent from wrong). */
const char *enroll_json_string(const json_t *obj, const char *key, size_t max_len,
                               bool *out_present);

/* enroll_str_is_printable: 1..max_len bytes, none below 0x20 or 0x7f (UTF-8 above is fine). */
bool enroll_str_is_printable(const char *s, size_t max_len);

/* enroll_claim_name_is_valid: [A-Za-z0-9_]{1,ENROLL_CLAIM_NAME_MAX}. */
bool enroll_claim_name_is_valid(const char *s, size_t len);

/* ---- JWKS (enroll_jwk.c) ------------------------------------------------------------------ */

/* The set owns each key's SPKI; `pub` is what enroll_jwks_get hands out. */
typedef struct enroll_jwk_slot {
    enroll_jwk pub;
    uint8_t *spki; /* owned; pub.spki points here */
} enroll_jwk_slot;

struct enroll_jwks {
    enroll_jwk_slot *keys; /* owned, num_keys entries */
    size_t num_keys;
    size_t num_skipped;
};

/* enroll_jwk_spki_rsa / _ec: DER SubjectPublicKeyInfo (RFC 5280 4.1, RFC 3279 2.3.1, RFC 5480
 * 2) from JWK members, malloc'd. Structure only: ca_pubkey_check judges the key. */
ZTCA_RC enroll_jwk_spki_rsa(uint8_t **out, size_t *out_len, const uint8_t *n, size_t n_len,
                            const uint8_t *e, size_t e_len);
ZTCA_RC enroll_jwk_spki_ec(uint8_t **out, size_t *out_len, size_t bits, const uint8_t *x,
                           const uint8_t *y, size_t coord_len);

/* ---- JWS (enroll_jwt.c) ------------------------------------------------------------------- */

/* enroll_jws_split: the three parts of a compact JWS (views into the token); false unless there
 * are exactly two dots and every other byte is in the base64url alphabet. */
typedef struct enroll_jws_parts {
    const char *header;
    size_t header_len;
    const char *payload;
    size_t payload_len;
    const char *sig;
    size_t sig_len;
} enroll_jws_parts;

bool enroll_jws_split(enroll_jws_parts *out, const char *token, size_t token_len);

/* enroll_ecdsa_raw_to_der: r||s (RFC 7518 3.4) to Ecdsa-Sig-Value (RFC 3279 2.2.3), malloc'd. */
ZTCA_RC enroll_ecdsa_raw_to_der(uint8_t **out, size_t *out_len, const uint8_t *raw, size_t raw_len);

/* ---- SAN template (enroll_template.c) ----------------------------------------------------- */

#define ENROLL_SPIFFE_PREFIX "spiffe://"

/* enroll_template_check: the syntax of a provisioner's template (docs/workload.md); the trust
 * domain it names is copied to out_td. BAD_INPUT with a ztca_last_what. */
ZTCA_RC enroll_template_check(const char *tmpl, char *out_td, size_t td_size,
                              size_t *out_num_placeholders);

/* enroll_template_render: the template with each {claim} replaced by the token's string claim,
 * checked by the character rules; the URI and its workload path go to out_uri / out_path. Each
 * claim used is added to `used` (name -> value). DENIED with the reason in *f (CLAIM_MISSING,
 * CLAIM_INVALID, CLAIM_CHARSET, TEMPLATE_INVALID, SAN_INVALID), NOMEM. */
ZTCA_RC enroll_template_render(char *out_uri, size_t uri_size, char *out_path, size_t path_size,
                               enroll_failure *f, const char *tmpl, const char *trust_domain,
                               const json_t *claims, json_t *used);

/* ---- claims (enroll_oidc.c) --------------------------------------------------------------- */

/* enroll_oidc_check_claims: enroll_oidc_verify after the signature: `jws` is verified (or, in
 * the fuzz target, made up). Same results. The provisioner must be valid. */
ZTCA_RC enroll_oidc_check_claims(enroll_verdict *out, enroll_failure *f,
                                 const enroll_provisioner *p, const char *trust_domain,
                                 const enroll_jws *jws, ztca_time now);

/* ---- provisioner (enroll_provisioner.c) --------------------------------------------------- */

/* enroll_url_is_valid: issuer / JWKS URL rules of enroll_provisioner_check. */
bool enroll_url_is_valid(const char *url);

/* ---- TPM enrollment (enroll_session.c, enroll_tpm.c) ---------------------------------------- */

/* enroll_refuse: records a refusal and returns `err` noted with `what` (see ENROLL_REFUSE_TPM). */
ztca_rc enroll_refuse(enroll_outcome *why, enroll_refusal refusal, attest_reason attest,
                      ztca_err err, const char *file, int line, const char *what);
#define ENROLL_REFUSE_TPM(why, refusal, err, what) \
    enroll_refuse((why), (refusal), ATTEST_OK, (err), __FILE__, __LINE__, (what))

/* enroll_ek_identity: SHA-256 of the EK's TPMT_PUBLIC (the store's EK hash) and the device id
 * derived from it (DESIGN.md 2), from a TPM2B_PUBLIC already checked by attest. */
ZTCA_RC enroll_ek_identity(uint8_t out_digest[STORE_HASH_LEN], char *out_id, size_t id_size,
                           const uint8_t *ek_public, size_t ek_public_len);

typedef enum enroll_op { ENROLL_OP_ENROLL = 1, ENROLL_OP_RENEW = 2 } enroll_op;

/* enroll_session_data: what a begin keeps for its finish in store_session.data, as JSON. The
 * nonce and the hash of the credential secret live in the session row itself. */
typedef struct enroll_session_data {
    enroll_op op;
    char device_id[CA_NAME_MAX + 1];
    uint8_t ek_digest[STORE_HASH_LEN];
    enroll_blob ek_cert;    /* enroll: the verified EK certificate, for the device record */
    enroll_blob ek_public;  /* TPM2B_PUBLIC */
    enroll_blob ak_public;  /* TPM2B_PUBLIC, checked by attest_ak_parse at begin */
    enroll_blob key_public; /* TPM2B_PUBLIC of the key the CSR must hold */
    uint16_t pcr_bank;      /* the selection the quote must cover */
    uint32_t pcr_mask;
    char serial[2 * 20 + 1];    /* renew: the certificate that opened the session */
    attest_ek_origin ek_origin; /* CERTIFIED, or REGISTERED: the level the finish may give */
    char *facts;                /* owned: the device's own facts (JSON object text) or NULL */
} enroll_session_data;

void enroll_session_data_init(enroll_session_data *d);
void enroll_session_data_free(enroll_session_data *d);
/* enroll_session_data_encode: compact JSON, malloc'd (free()), at most STORE_BLOB_MAX bytes. */
ZTCA_RC enroll_session_data_encode(char **out, size_t *out_len, const enroll_session_data *d);
/* enroll_session_data_decode: the inverse; BAD_INPUT for anything it did not write. */
ZTCA_RC enroll_session_data_decode(enroll_session_data *out, const uint8_t *data, size_t len);

const char *enroll_pcr_decision_name(attest_pcr_decision d);

/* enroll_facts_in: what an attestation says about a device, for its facts in the store. */
typedef struct enroll_facts_in {
    const char *old_facts;    /* the device's facts so far (JSON), or NULL */
    const char *client_facts; /* what the device reported about itself, or NULL */
    const char *level;        /* attest_level_name, or "software" */
    ca_attestation ca_level;
    const char *via; /* "enroll" or "renew" */
    ztca_time now;
    const attest_key *ek; /* NULL for software devices (and the members below too) */
    const attest_key *ak;
    const attest_quote *quote;
    const attest_pcr_verdict *verdict;
    uint16_t pcr_bank;
    uint32_t pcr_mask;
    const char *baseline;  /* a new PCR baseline (JSON) to record, or NULL to keep the old */
    const char *ek_origin; /* "certified", "registered", or NULL (software: unchanged) */
} enroll_facts_in;

/* enroll_facts_build: the device's new facts (compact JSON, sorted keys, malloc'd; free()):
 * the old ones updated with the attestation level, the time, the key kinds, the TPM clock
 * counters, the PCR verdict, the baseline and the device's own facts under "client".
 * *out_counter_regressed: the TPM's resetCount went down since the last attestation. */
ZTCA_RC enroll_facts_build(char **out, bool *out_counter_regressed, const enroll_facts_in *in);
/* enroll_facts_pcr_failed: the device's last recorded PCR verdict was "fail". */
bool enroll_facts_pcr_failed(const char *facts);
/* enroll_facts_baseline: the "pcr_baseline" recorded in a device's facts, if any. */
ZTCA_RC enroll_facts_baseline(attest_pcr_bank *out, bool *out_found, const char *facts);

/* ---- EK pre-registration (enroll_ek_allow.c) ---------------------------------------------- */

/* enroll_facts_ek_registered: the device's facts say its EK was pre-registered ("ek"). */
bool enroll_facts_ek_registered(const char *facts);
/* enroll_facts_ek_spki: the "ek_spki" that enroll_ek_allow recorded, decoded (malloc'd, free());
 * *out NULL when the facts hold none. BAD_INPUT when it is there but not base64. */
ZTCA_RC enroll_facts_ek_spki(uint8_t **out, size_t *out_len, const char *facts);

#endif /* ZTCA_ENROLL_INTERNAL_H */
