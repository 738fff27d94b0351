/* enroll.h: workload identities for CI jobs from OIDC ID tokens (issue 9; docs/workload.md), and
 * TPM enrollment and renewal of devices (issue 7; docs/enrollment.md, last section below).
 *
 * The OIDC layers are pure: bytes in, bytes out. No network or file I/O, no logging, no store: the
 * caller (api/) fetches JWKS documents, keeps the provisioners and the replay cache in the store,
 * and logs.
 *
 * Layers, each usable on its own:
 *   - base64url (RFC 4648 5), strict: enroll_b64url_decode / _encode
 *   - JWKS (RFC 7517): enroll_jwks_parse, keys converted once to DER SubjectPublicKeyInfo
 *   - compact JWS (RFC 7515 7.1): enroll_jws_verify, signatures through ca_verify
 *   - the OIDC provisioner: config (enroll_provisioner_*) and the claim checks, SAN template and
 *     replay key (enroll_oidc_verify)
 *
 * Refusals of a token are ZTCA_ERR_DENIED together with an enroll_failure that names one stable
 * enroll_reason; api/ answers each reason with its own problem type (401). Any other error code
 * (NOMEM, INTERNAL, CRYPTO from a failing hash) is ours, never the client's (5xx), and leaves the
 * reason at ENROLL_REASON_NONE. */
#ifndef ZTCA_ENROLL_ENROLL_H
#define ZTCA_ENROLL_ENROLL_H

#include "attest/attest.h"
#include "ca/ca.h"
#include "core/core.h"
#include "store/store.h"
#include "trust/trust.h"

#define ENROLL_TOKEN_MAX        ((size_t)16 * 1024)  /* compact JWS, bytes */
#define ENROLL_JWKS_MAX         ((size_t)256 * 1024) /* JWKS document, bytes */
#define ENROLL_JWKS_MAX_KEYS    64                   /* entries of "keys", usable or not */
#define ENROLL_PROVISIONER_MAX  (ENROLL_JWKS_MAX + (size_t)16 * 1024) /* config JSON */
#define ENROLL_KID_MAX          256                                   /* "kid" characters */
#define ENROLL_URL_MAX          256 /* issuer and JWKS URL characters */
#define ENROLL_AUD_MAX          256 /* audience characters */
#define ENROLL_SUB_MAX          512 /* "sub" characters */
#define ENROLL_JTI_MAX          256 /* "jti" characters */
#define ENROLL_CLAIM_NAME_MAX   64  /* [A-Za-z0-9_]{1,64} */
#define ENROLL_CLAIM_VALUE_MAX  256 /* a required claim's value */
#define ENROLL_MAX_REQUIRE      16  /* required claims per provisioner */
#define ENROLL_MAX_AUD          16  /* entries of an "aud" array */
#define ENROLL_SAN_MAX          400 /* template characters */
#define ENROLL_MAX_PLACEHOLDERS 16  /* {claim} placeholders per template */
#define ENROLL_WORKLOAD_MAX     200 /* ca_workload_path_is_valid's limit */

#define ENROLL_SKEW_DEFAULT       60 /* seconds of clock skew tolerated */
#define ENROLL_SKEW_MAX           300
#define ENROLL_TTL_DEFAULT        900 /* certificate TTL: 15 minutes ... */
#define ENROLL_TTL_MIN            60
#define ENROLL_TTL_MAX            3600             /* ... at most 1 hour (profile workload) */
#define ENROLL_TOKEN_MAX_AGE      ((int64_t)86400) /* now - iat, beyond the skew */
#define ENROLL_TOKEN_MAX_LIFETIME ((int64_t)86400) /* exp - now, beyond the skew */
#define ENROLL_REPLAY_KEY_LEN     64               /* lowercase hex of a SHA-256 */

/* ---- refusal reasons ---------------------------------------------------------------------- */

/* enroll_reason: why a token was refused. The values and names are stable (problem types and
 * metrics are derived from the names): append new ones, never renumber. */
typedef enum enroll_reason {
    ENROLL_REASON_NONE = 0,
    ENROLL_REASON_TOKEN_TOO_LARGE = 1,      /* more than ENROLL_TOKEN_MAX bytes */
    ENROLL_REASON_TOKEN_MALFORMED = 2,      /* not 3 strict base64url parts, bad JSON, dup keys */
    ENROLL_REASON_ALG_NONE = 3,             /* "alg": "none" (any case) */
    ENROLL_REASON_ALG_HMAC = 4,             /* "alg": "HS*": never with public keys */
    ENROLL_REASON_ALG_NOT_ALLOWED = 5,      /* unknown, or not in the provisioner's list */
    ENROLL_REASON_TYP_INVALID = 6,          /* "typ" present and not JWT */
    ENROLL_REASON_CRIT_UNSUPPORTED = 7,     /* "crit" present (RFC 7515 4.1.11) */
    ENROLL_REASON_KID_MISSING = 8,          /* no "kid" and the JWKS has several keys */
    ENROLL_REASON_KID_UNKNOWN = 9,          /* no key with that "kid" (caller may refresh) */
    ENROLL_REASON_KEY_MISMATCH = 10,        /* key type, curve or JWK "alg" does not fit "alg" */
    ENROLL_REASON_SIGNATURE_MALFORMED = 11, /* wrong length (e.g. DER for ES256) */
    ENROLL_REASON_SIGNATURE_INVALID = 12,   /* does not verify */
    ENROLL_REASON_CLAIM_INVALID = 13,       /* a claim has the wrong type or is out of range */
    ENROLL_REASON_ISSUER_MISMATCH = 14,     /* "iss" is not the provisioner's issuer */
    ENROLL_REASON_AUDIENCE_MISMATCH = 15,   /* "aud" does not contain the audience */
    ENROLL_REASON_EXPIRED = 16,             /* now >= exp + skew */
    ENROLL_REASON_NOT_YET_VALID = 17,       /* now + skew < nbf */
    ENROLL_REASON_IAT_FUTURE = 18,          /* iat > now + skew */
    ENROLL_REASON_IAT_TOO_OLD = 19,         /* now - iat > ENROLL_TOKEN_MAX_AGE + skew */
    ENROLL_REASON_TOKEN_LIFETIME = 20,      /* exp - now > ENROLL_TOKEN_MAX_LIFETIME + skew */
    ENROLL_REASON_CLAIM_MISSING = 21,       /* a required or template claim is absent */
    ENROLL_REASON_CLAIM_MISMATCH = 22,      /* a required claim has another value */
    ENROLL_REASON_CLAIM_CHARSET = 23,    /* a template claim's value breaks the character rules */
    ENROLL_REASON_TEMPLATE_INVALID = 24, /* the template does not fit this trust domain */
    ENROLL_REASON_SAN_INVALID = 25,      /* the rendered URI is not a valid workload SPIFFE ID */
    ENROLL_REASON_REPLAYED = 26,         /* not produced here: the caller's replay cache */
} enroll_reason;

#define ENROLL_REASON_COUNT 27

/* enroll_reason_name: the stable lower-case name, e.g. "alg_none"; "unknown" out of range. */
const char *enroll_reason_name(enroll_reason r);

/* enroll_failure: what a refusal says. `claim` names the claim concerned ("exp", "repository")
 * or is "" (a header or signature problem); it comes from the provisioner or from RFC 7519, never
 * from the token, so it can go into a problem detail as it is. */
typedef struct enroll_failure {
    enroll_reason reason;
    char claim[ENROLL_CLAIM_NAME_MAX + 1];
} enroll_failure;

void enroll_failure_init(enroll_failure *f);

/* ---- algorithms --------------------------------------------------------------------------- */

/* enroll_alg: the JWS algorithms ztca verifies (RFC 7518 3.3, 3.4), as bits of a set. */
typedef enum enroll_alg {
    ENROLL_ALG_RS256 = 1u << 0,
    ENROLL_ALG_RS384 = 1u << 1,
    ENROLL_ALG_ES256 = 1u << 2,
    ENROLL_ALG_ES384 = 1u << 3,
} enroll_alg;

#define ENROLL_ALGS_DEFAULT ((unsigned)(ENROLL_ALG_RS256 | ENROLL_ALG_ES256))
#define ENROLL_ALGS_ALL \
    ((unsigned)(ENROLL_ALG_RS256 | ENROLL_ALG_RS384 | ENROLL_ALG_ES256 | ENROLL_ALG_ES384))

/* enroll_alg_name: "RS256", ...; "" for anything else. */
const char *enroll_alg_name(enroll_alg alg);
/* enroll_alg_parse: exactly "RS256", "RS384", "ES256" or "ES384" (case-sensitive, RFC 7515
 * 4.1.1); UNSUPPORTED for anything else, "none" and HMAC included. */
ZTCA_RC enroll_alg_parse(enroll_alg *out, const char *s);

/* ---- base64url ---------------------------------------------------------------------------- */

/* enroll_b64url_decode: RFC 4648 5 without padding (RFC 7515 2): only [A-Za-z0-9_-], a length
 * that is not 1 mod 4, zero trailing bits (one value, one encoding). `in` need not be
 * NUL-terminated; empty input decodes to zero bytes. *out is malloc'd (free it), also when
 * *out_len is 0. BAD_INPUT or NOMEM; nothing written on failure. */
ZTCA_RC enroll_b64url_decode(uint8_t **out, size_t *out_len, const char *in, size_t in_len);
/* enroll_b64url_encode: the inverse, NUL-terminated, malloc'd. */
ZTCA_RC enroll_b64url_encode(char **out, size_t *out_len, const uint8_t *in, size_t in_len);

/* ---- JWKS --------------------------------------------------------------------------------- */

/* enroll_jwk: one usable verification key, converted at load. Read-only, owned by its set. */
typedef struct enroll_jwk {
    char kid[ENROLL_KID_MAX + 1]; /* "" when the JWK has no "kid" */
    bool has_kid;
    ca_pk_kind kind;     /* CA_PK_RSA or CA_PK_EC */
    size_t bits;         /* modulus bits, or 256/384 */
    unsigned algs;       /* the algorithms it may verify: its "alg", else all that fit it */
    const uint8_t *spki; /* DER SubjectPublicKeyInfo */
    size_t spki_len;
} enroll_jwk;

typedef struct enroll_jwks enroll_jwks;

/* enroll_jwks_parse: a JWK Set {"keys": [...]} of at most ENROLL_JWKS_MAX bytes and
 * ENROLL_JWKS_MAX_KEYS entries, parsed strictly (duplicate JSON members refused).
 * Keys ztca cannot use for verifying signatures are skipped and counted: another "kty" (oct,
 * OKP), another curve (P-521, secp256k1), "use" other than "sig", "key_ops" without "verify",
 * an "alg" ztca does not verify (RS512, PS256, RSA-OAEP), RSA outside 2048..4096 bits.
 * The whole set is refused (BAD_INPUT) for anything broken: not an object, no "keys" array,
 * wrong member types, bad base64url, RSA "n"/"e" with leading zero octets (RFC 7518 2,
 * Base64urlUInt), EC coordinates not of the curve's full length (RFC 7518 6.2.1.2) or not a point
 * on the curve, an "alg" that does not fit the key, private key members ("d", "p", ...),
 * duplicate "kid"s among the usable keys, too many entries or bytes. UNSUPPORTED when no usable
 * key is left. On success *out is the caller's (enroll_jwks_free). */
ZTCA_RC enroll_jwks_parse(enroll_jwks **out, const uint8_t *json, size_t json_len);
void enroll_jwks_free(enroll_jwks *jwks);
size_t enroll_jwks_num_keys(const enroll_jwks *jwks);    /* usable keys, >= 1 */
size_t enroll_jwks_num_skipped(const enroll_jwks *jwks); /* entries skipped as unusable */
/* enroll_jwks_get: key i < num_keys, borrowed from the set; NULL out of range. */
const enroll_jwk *enroll_jwks_get(const enroll_jwks *jwks, size_t i);
/* enroll_jwks_find: the key with this exact "kid"; NULL when there is none. */
const enroll_jwk *enroll_jwks_find(const enroll_jwks *jwks, const char *kid);

/* enroll_jwks_cache: a JWKS fetched from a URL, with the refresh rules of issue 9 and no I/O:
 * the caller asks enroll_jwks_cache_needs_fetch, fetches (libcurl), then reports the body or the
 * failure. A failed fetch or an invalid body keeps the previous keys. Not thread safe: the caller
 * serializes access (a mutex around get + verify + update). */
typedef struct enroll_jwks_cache {
    enroll_jwks *jwks;      /* owned; NULL until a document loaded */
    ztca_time loaded_at;    /* last successful load */
    ztca_time attempted_at; /* last fetch attempt, successful or not */
    bool attempted;
    int64_t min_interval; /* seconds between attempts (ENROLL_JWKS_MIN_INTERVAL) */
    int64_t max_age;      /* refetch keys older than this (ENROLL_JWKS_MAX_AGE) */
} enroll_jwks_cache;

#define ENROLL_JWKS_MIN_INTERVAL 60   /* at most one fetch a minute, even on unknown kids */
#define ENROLL_JWKS_MAX_AGE      3600 /* keys are refetched hourly (rotation) */

void enroll_jwks_cache_init(enroll_jwks_cache *c);
void enroll_jwks_cache_free(enroll_jwks_cache *c);
/* enroll_jwks_cache_needs_fetch: true when a fetch should happen now: nothing loaded yet, keys
 * older than max_age, or `kid_unknown` (a token named a kid the keys lack); and in every case at
 * least min_interval after the previous attempt (a clock that went backwards counts as elapsed). */
bool enroll_jwks_cache_needs_fetch(const enroll_jwks_cache *c, ztca_time now, bool kid_unknown);
/* enroll_jwks_cache_update: parses a fetched body (enroll_jwks_parse); on success it replaces the
 * keys. The attempt is recorded either way; on failure the old keys stay and the error returns. */
ZTCA_RC enroll_jwks_cache_update(enroll_jwks_cache *c, ztca_time now, const uint8_t *body,
                                 size_t body_len);
/* enroll_jwks_cache_fetch_failed: records a failed fetch (network, HTTP status). */
void enroll_jwks_cache_fetch_failed(enroll_jwks_cache *c, ztca_time now);
/* enroll_jwks_cache_get: the current keys, borrowed until the next update or free; may be NULL. */
const enroll_jwks *enroll_jwks_cache_get(const enroll_jwks_cache *c);

/* ---- compact JWS -------------------------------------------------------------------------- */

/* enroll_jws: a verified JWS. */
typedef struct enroll_jws {
    enroll_alg alg;
    char kid[ENROLL_KID_MAX + 1]; /* the verifying key's "kid", "" when it has none */
    uint8_t *payload;             /* owned (malloc'd): the verified payload octets */
    size_t payload_len;
    /* SHA-256 of the JWS Signing Input (header "." payload): identifies the signed content
     * whatever the signature bytes (ECDSA signatures are malleable), used as the replay key. */
    uint8_t input_hash[32];
} enroll_jws;

void enroll_jws_init(enroll_jws *jws);
void enroll_jws_free(enroll_jws *jws);

/* enroll_jws_verify: decodes and verifies a JWS Compact Serialization (RFC 7515 7.1) against
 * `jwks` with one of the algorithms in `algs`; the payload is returned, not interpreted.
 * Checks, in this order, each with its reason: size (TOKEN_TOO_LARGE); exactly three strict
 * base64url parts with a non-empty header and payload, a header that is a JSON object without
 * duplicate members and with a string "alg" (TOKEN_MALFORMED); "alg" none (ALG_NONE), HS*
 * (ALG_HMAC), anything else not in `algs` (ALG_NOT_ALLOWED); "crit" (CRIT_UNSUPPORTED); "typ"
 * other than JWT or application/jwt, any case (TYP_INVALID); the key by "kid", or the only key when
 * there is no "kid" (KID_UNKNOWN, KID_MISSING); key type, curve and the JWK's "alg" against "alg"
 * (KEY_MISMATCH); signature length: the modulus length for RS*, raw r||s of 64 or 96 octets for
 * ES256/ES384 (SIGNATURE_MALFORMED); the signature (SIGNATURE_INVALID). "jku", "x5u", "jwk" and
 * "x5c" are ignored: keys come from the JWKS only. DENIED with *out_fail set for those; NOMEM,
 * INTERNAL otherwise. *out is written only on success (enroll_jws_free it). */
ZTCA_RC enroll_jws_verify(enroll_jws *out, enroll_failure *out_fail, const enroll_jwks *jwks,
                          unsigned algs, const char *token, size_t token_len);

/* enroll_jwt_peek_issuer: the "iss" of a token, NOT verified: only to choose the provisioner
 * whose keys then verify it. BAD_INPUT when the token is not three strict base64url parts with a
 * JSON object payload that has a string "iss" shorter than out_size. */
ZTCA_RC enroll_jwt_peek_issuer(char *out, size_t out_size, const char *token, size_t token_len);

/* ---- provisioners ------------------------------------------------------------------------- */

typedef struct enroll_require {
    char claim[ENROLL_CLAIM_NAME_MAX + 1];
    char value[ENROLL_CLAIM_VALUE_MAX + 1];
} enroll_require;

/* enroll_provisioner: an OIDC provisioner (`ztca provisioner add NAME --type oidc ...`). Keys come
 * either from `jwks_uri` (fetched by the caller, enroll_jwks_cache) or from an inline JWKS stored
 * with the provisioner (`--jwks FILE`: the CLI reads the file, so every node has the same keys). */
typedef struct enroll_provisioner {
    char name[CA_NAME_MAX + 1];      /* ca_name_is_valid */
    char issuer[ENROLL_URL_MAX + 1]; /* exact "iss"; https URL (http only for loopback) */
    char audience[ENROLL_AUD_MAX + 1];
    char jwks_uri[ENROLL_URL_MAX + 1]; /* "" when the JWKS is inline */
    char *jwks_json;   /* owned: the inline JWKS as compact JSON with sorted keys, or NULL */
    enroll_jwks *jwks; /* owned: jwks_json parsed, or NULL */
    char san[ENROLL_SAN_MAX + 1]; /* "spiffe://TD/workload/..." with {claim} placeholders */
    unsigned algs;                /* ENROLL_ALG_* set, not empty */
    enroll_require require[ENROLL_MAX_REQUIRE];
    size_t num_require;
    int64_t max_ttl;    /* certificate TTL cap, ENROLL_TTL_MIN..ENROLL_TTL_MAX seconds */
    int64_t clock_skew; /* 0..ENROLL_SKEW_MAX seconds */
} enroll_provisioner;

/* enroll_provisioner_init: the zero state with the defaults (algs RS256+ES256, max_ttl 15m,
 * clock_skew 60 s); fill the strings, then check or write it. */
void enroll_provisioner_init(enroll_provisioner *p);
void enroll_provisioner_free(enroll_provisioner *p);

/* enroll_provisioner_check: BAD_INPUT (with a ztca_last_what) unless every field is valid:
 * name (ca_name_is_valid), issuer and jwks_uri (https://HOST[:PORT][/PATH], http:// only for
 * localhost, 127.0.0.1 and [::1]; no query, fragment or user info), exactly one of jwks_uri and an
 * inline JWKS, audience (1..256 printable ASCII, no spaces), template (see docs/workload.md:
 * spiffe://TD/workload/ then literal [A-Za-z0-9._-/] and {claim} placeholders, at least one
 * placeholder or one required claim), required claims (unique names [A-Za-z0-9_]{1,64}, values
 * of 1..256 printable ASCII characters), algs, max_ttl and clock_skew in range. */
ZTCA_RC enroll_provisioner_check(const enroll_provisioner *p);

/* enroll_provisioner_set_jwks: parses `json` (enroll_jwks_parse) and stores it inline, replacing
 * jwks_uri and any previous inline JWKS. On failure `p` is unchanged. */
ZTCA_RC enroll_provisioner_set_jwks(enroll_provisioner *p, const uint8_t *json, size_t json_len);

/* enroll_provisioner_add_require: one "CLAIM=VALUE" (the CLI's --require). BAD_INPUT for a bad
 * name or value, a duplicate claim or more than ENROLL_MAX_REQUIRE. */
ZTCA_RC enroll_provisioner_add_require(enroll_provisioner *p, const char *claim_eq_value);

/* enroll_provisioner_parse: the stored JSON object (at most ENROLL_PROVISIONER_MAX bytes):
 *   {"name", "type": "oidc", "issuer", "audience", "jwks_uri" | "jwks": {JWKS}, "san",
 *    "algorithms": [..] (default ["RS256","ES256"]), "require": {"claim": "value", ...} (default
 *    none), "max_ttl": seconds (default 900), "clock_skew": seconds (default 60)}
 * Unknown members, duplicate members and wrong types are refused (a misspelt "require" must not
 * silently drop a restriction), then enroll_provisioner_check. On success the result is moved
 * into *out, which must not own anything yet (fresh from enroll_provisioner_init, or freed);
 * on failure *out is untouched. */
ZTCA_RC enroll_provisioner_parse(enroll_provisioner *out, const uint8_t *json, size_t json_len);

/* enroll_provisioner_write: the canonical compact JSON (sorted keys, every member written) of a
 * valid provisioner; parse(write(p)) gives p back. malloc'd, NUL-terminated. */
ZTCA_RC enroll_provisioner_write(char **out, size_t *out_len, const enroll_provisioner *p);

/* enroll_provisioner_ttl: the certificate TTL for a request: `requested` 0 means
 * min(ENROLL_TTL_DEFAULT, max_ttl); anything above max_ttl is capped to it (never beyond
 * ENROLL_TTL_MAX). It does not depend on the token's exp (docs/workload.md). BAD_INPUT when
 * requested < 0. */
ZTCA_RC enroll_provisioner_ttl(const enroll_provisioner *p, int64_t requested, int64_t *out);

/* ---- verification ------------------------------------------------------------------------- */

/* enroll_verdict: what an accepted token grants. */
typedef struct enroll_verdict {
    char provisioner[CA_NAME_MAX + 1];
    char issuer[ENROLL_URL_MAX + 1];
    char subject[ENROLL_SUB_MAX + 1]; /* "sub" */
    enroll_alg alg;
    char kid[ENROLL_KID_MAX + 1];
    /* owned (malloc'd, free() it; enroll_verdict_free does): compact JSON object with sorted keys
     * of the claims used: iss, sub, aud (the matching audience), exp, and iat, nbf, jti when
     * present, the required claims and the template claims. For the audit log. */
    char *claims_json;
    char uri[CA_URL_MAX];                   /* spiffe://TD/workload/PATH */
    char workload[ENROLL_WORKLOAD_MAX + 1]; /* PATH, for ca_identity.workload */
    /* The caller refuses a key it has seen (REPLAYED) and remembers it until replay_until. It is
     * hex SHA-256 of ("ztca-oidc-jti" NUL iss NUL jti) with a jti, else hex SHA-256 of the JWS
     * Signing Input (enroll_jws.input_hash): never of the whole token, whose ECDSA signature
     * bytes an attacker can change (s -> n - s) without invalidating it. */
    char replay_key[ENROLL_REPLAY_KEY_LEN + 1];
    bool replay_from_jti;
    ztca_time expires;      /* the token's exp */
    ztca_time replay_until; /* exp + clock skew: until then the token would be accepted */
    int64_t max_ttl;        /* the provisioner's cap (enroll_provisioner_ttl) */
} enroll_verdict;

void enroll_verdict_init(enroll_verdict *v);
void enroll_verdict_free(enroll_verdict *v);

/* enroll_oidc_verify: the whole check of an OIDC ID token for provisioner `p`, at time `now`,
 * with `jwks` (NULL: the provisioner's inline JWKS) and the CA's `trust_domain`:
 * enroll_jws_verify with p->algs, then the payload (a JSON object without duplicate members:
 * TOKEN_MALFORMED), then the claims: iss (exact), aud (string or array containing p->audience),
 * exp (required), nbf, iat (optional) with p->clock_skew, sub (required string), jti (optional
 * string), the required claims (exact strings), the template claims (strings within the character
 * rules) and the rendered URI (ca_workload_path_is_valid, under spiffe://trust_domain/workload/).
 * A missing claim is CLAIM_MISSING, a claim of the wrong type or size CLAIM_INVALID, each other
 * refusal its own reason (see enroll_reason). DENIED with *out_fail set for a refusal; NOMEM,
 * INTERNAL (no keys, invalid provisioner) otherwise. *out is written only on success. The replay
 * check itself is the caller's (enroll_verdict.replay_key). */
ZTCA_RC enroll_oidc_verify(enroll_verdict *out, enroll_failure *out_fail,
                           const enroll_provisioner *p, const enroll_jwks *jwks,
                           const char *trust_domain, const char *token, size_t token_len,
                           ztca_time now);

/* ---- TPM enrollment and renewal (DESIGN.md 3; docs/enrollment.md) ------------------------- */

/* Unlike the OIDC layers above, this part composes (DESIGN.md 1: enroll -> {attest, ca, store}):
 * it checks tokens and sessions in the store, the evidence through attest/, issues through ca/ and
 * records the device, the agent, the certificate and the audit entries, each step's writes in one
 * store transaction, so nothing is handed out before its commit. No HTTP and no logging: api/
 * decodes the bodies (api/api_decode_enroll.c), calls these functions and answers.
 *
 * A refusal returns DENIED (or BAD_INPUT / UNSUPPORTED for malformed evidence) with an
 * enroll_outcome naming one stable enroll_refusal (and for evidence the attest_reason); any other
 * code (NOMEM, STORE, CRYPTO, INTERNAL) is ours and leaves the refusal at ENROLL_REFUSED_NONE. */

#define ENROLL_SESSION_TTL_DEFAULT 300 /* DESIGN.md 3: sessions expire in 5 minutes */
#define ENROLL_SESSION_TTL_MAX     3600
#define ENROLL_SESSION_ID_MAX      64
#define ENROLL_NONCE_LEN           32
#define ENROLL_SECRET_LEN          32             /* at most the digest size of every EK nameAlg */
#define ENROLL_FACTS_MAX           ((size_t)4096) /* the device's own facts, compact JSON */
#define ENROLL_EK_CERT_MAX         ((size_t)8192) /* one DER certificate of the EK chain */
#define ENROLL_EK_CHAIN_MAX        4              /* intermediates a device may send */
#define ENROLL_DEVICE_CLASS        "default"      /* PCR policy class until tokens carry one */

/* enroll_blob: bytes decoded from a request; `p` is owned (malloc'd), NULL when absent. */
typedef struct enroll_blob {
    uint8_t *p;
    size_t len;
} enroll_blob;

/* enroll_begin_req: POST /v1/enroll/begin and POST /v1/renew/begin (docs/api.md). */
typedef struct enroll_begin_req {
    enroll_blob ek_cert;                       /* DER from NV; empty for a renewal */
    enroll_blob ek_chain[ENROLL_EK_CHAIN_MAX]; /* optional vendor intermediates, DER */
    size_t num_ek_chain;
    enroll_blob ek_public;  /* TPM2B_PUBLIC of the EK */
    enroll_blob ak_public;  /* TPM2B_PUBLIC of the attestation key */
    enroll_blob key_public; /* TPM2B_PUBLIC of the TLS key the CSR will carry */
    char *facts;            /* owned: the device's facts as compact JSON object text, or NULL */
} enroll_begin_req;

/* enroll_finish_req: POST /v1/enroll/finish and POST /v1/renew. The TPM members are all present
 * or all absent (has_evidence); a software device renews with the CSR alone. */
typedef struct enroll_finish_req {
    char session[ENROLL_SESSION_ID_MAX + 1]; /* "" when absent */
    bool has_evidence;
    enroll_blob secret;         /* from TPM2_ActivateCredential */
    enroll_blob certify_attest; /* TPMS_ATTEST of TPM2_Certify(key, AK, nonce) */
    enroll_blob certify_sig;    /* TPMT_SIGNATURE */
    enroll_blob quote_attest;   /* TPMS_ATTEST of TPM2_Quote(AK, nonce, selection) */
    enroll_blob quote_sig;      /* TPMT_SIGNATURE */
    enroll_blob pcr_values;     /* the selected PCRs' digests in ascending order */
    char *csr;                  /* owned, NUL-terminated PEM */
    size_t csr_len;
    int64_t ttl; /* 0: the profile's default */
} enroll_finish_req;

void enroll_begin_req_init(enroll_begin_req *r);
void enroll_begin_req_free(enroll_begin_req *r);
void enroll_finish_req_init(enroll_finish_req *r);
void enroll_finish_req_free(enroll_finish_req *r);

/* enroll_config: the "enrollment" member of ztca.conf:
 *   {"session_ttl": "5m", "device_class": "default"}
 * session_ttl: a duration or seconds, 1 s to 1 h (default 5 minutes; tests shorten it);
 * device_class: the PCR policy class of TPM devices (default "default"). */
typedef struct enroll_config {
    int64_t session_ttl;
    char device_class[CA_NAME_MAX + 1];
} enroll_config;

void enroll_config_defaults(enroll_config *c);
/* enroll_config_parse: the whole ztca.conf JSON; defaults without an "enrollment" member,
 * BAD_INPUT for unknown members, wrong types or values out of range. */
ZTCA_RC enroll_config_parse(enroll_config *out, const uint8_t *json, size_t json_len);

/* enroll_trust_fn: the trust engine (docs/trust.md), called inside the issuing transaction once
 * the device, the agent and the attestation's signals are recorded: it scores the subject (user
 * "" for a device) and says whether it may get a certificate (*out_allowed) and for how long
 * (`requested` 0: the profile's default; *out_ttl: capped by the score's tier). */
typedef ztca_rc (*enroll_trust_fn)(void *ctx, const char *device_id, const char *user,
                                   const ca_profile *profile, int64_t requested, int64_t *out_ttl,
                                   bool *out_allowed);

/* enroll_env: what enrollment works with; everything borrowed. */
typedef struct enroll_env {
    const ca_config *cfg;
    ca_rng *rng;
    ca_issuer *issuer;
    store *st;
    const attest_roots *roots;       /* DIR/tpm-roots; NULL: no EK certificate is trusted */
    const attest_pcr_policy *policy; /* the "attestation" member; NULL: no policy */
    const enroll_config *conf;       /* NULL: the defaults */
    /* The impacts of the built-in signals ztca records from an attestation (source "ztca":
     * pcr-changed, pcr-policy, tpm-counters-backwards); NULL: the defaults. */
    const trust_policy *trust_policy;
    enroll_trust_fn trust; /* NULL: no trust engine (every issuance allowed) */
    void *trust_ctx;
} enroll_env;

/* enroll_refusal: why a request was refused; api/ answers each with its own problem type. Stable
 * names (enroll_refusal_name): append, never renumber. */
typedef enum enroll_refusal {
    ENROLL_REFUSED_NONE = 0,
    ENROLL_REFUSED_TOKEN,          /* "token_invalid": unknown, used or expired token */
    ENROLL_REFUSED_SESSION,        /* "session_invalid": unknown, used, expired or not this
                                    * caller's session */
    ENROLL_REFUSED_SESSION_TOKEN,  /* "session_token_mismatch": opened with another token */
    ENROLL_REFUSED_DEVICE_REVOKED, /* "device_revoked" (DESIGN.md 4) */
    ENROLL_REFUSED_DEVICE_UNKNOWN, /* "device_unknown": renewal for a device not on record */
    ENROLL_REFUSED_EVIDENCE,       /* "attestation_failed": see enroll_outcome.attest */
    ENROLL_REFUSED_EVIDENCE_SHAPE, /* "evidence_required": TPM evidence missing for a TPM
                                    * device, or sent for a software one */
    ENROLL_REFUSED_CSR,            /* "csr_rejected" */
    ENROLL_REFUSED_TTL,            /* "ttl_too_long" */
    ENROLL_REFUSED_KIND,           /* "certificate_kind": renewal with a certificate that is not
                                    * an agent or device certificate */
    ENROLL_REFUSED_TRUST,          /* "trust_denied": the score is below the issuance threshold */
    ENROLL_REFUSED_COUNT_,
} enroll_refusal;

const char *enroll_refusal_name(enroll_refusal r);

typedef struct enroll_outcome {
    enroll_refusal refusal;
    attest_reason attest; /* ENROLL_REFUSED_EVIDENCE: the precise reason */
} enroll_outcome;

/* enroll_challenge: the answer to a begin. */
typedef struct enroll_challenge {
    char session[ENROLL_SESSION_ID_MAX + 1];
    uint8_t nonce[ENROLL_NONCE_LEN];
    attest_credential cred; /* for TPM2_ActivateCredential(AK, EK) */
    uint16_t pcr_bank;      /* ATTEST_ALG_SHA256 ... */
    uint32_t pcr_mask;      /* bit i: PCR i */
    ztca_time expires_at;
    char device_id[CA_NAME_MAX + 1];
} enroll_challenge;

/* enroll_peer: the caller of a renewal, from its verified client certificate. */
typedef struct enroll_peer {
    ca_profile_id kind;
    char device_id[STORE_NAME_MAX + 1];
    char user[STORE_NAME_MAX + 1];
    char serial[STORE_SERIAL_MAX + 1];
} enroll_peer;

/* enroll_result: a committed issuance. */
typedef struct enroll_result {
    ca_issued cert; /* owned */
    const ca_profile *profile;
    char device_id[CA_NAME_MAX + 1];
    char user[CA_NAME_MAX + 1]; /* "" for a device certificate */
    ca_attestation attestation; /* the level in the certificate and the store */
    const char *level;          /* "tpm-certified", ..., or "software" (static) */
    const char *pcr;            /* "pass", "record", "fail", "no_policy" or "" */
} enroll_result;

void enroll_result_init(enroll_result *r);
void enroll_result_free(enroll_result *r);

/* enroll_tpm_begin: step 1 of DESIGN.md 3 for the holder of the token whose SHA-256 is
 * `token_hash`. The token must be valid (it is checked, not used: it is consumed by the finish
 * that issues), the EK certificate must chain to `env->roots` and hold the EK public (or, without
 * a certificate, the EK must be on record: pre-registered with enroll_ek_allow, or enrolled
 * before with a verified certificate; "ek_not_registered" otherwise), the AK must be an
 * attestation key, the device (dev- + base32 SHA-256 of the EK's TPMT_PUBLIC) must not be
 * revoked. Records a single-use session bound to the token and returns the nonce and the
 * MakeCredential challenge for the AK. */
ZTCA_RC enroll_tpm_begin(const enroll_env *env, const uint8_t token_hash[32],
                         const enroll_begin_req *req, enroll_challenge *out, enroll_outcome *why);
/* enroll_tpm_finish: step 2: consumes the session (single use, whatever the outcome), requires
 * the same token, checks the returned secret (constant time), the certify (the CSR key is the
 * TPM key of begin, non-exportable, certified by the AK over the nonce), the quote (nonce, PCR
 * selection and digest) and the PCR policy, then in one transaction consumes the token, records
 * or updates the device (EK hash and certificate, AK, facts with the attestation level), the user
 * and the agent, and issues the token's profile with the attestation level in ca_identity. */
ZTCA_RC enroll_tpm_finish(const enroll_env *env, const uint8_t token_hash[32],
                          const enroll_finish_req *req, enroll_result *out, enroll_outcome *why);

/* enroll_renew_begin: a TPM device renewing (the caller is authenticated by its current
 * certificate): the EK public must be the device's recorded EK; a fresh credential challenge
 * for the AK and a nonce, in a session bound to the caller's certificate serial. */
ZTCA_RC enroll_renew_begin(const enroll_env *env, const enroll_peer *peer,
                           const enroll_begin_req *req, enroll_challenge *out, enroll_outcome *why);
/* enroll_renew_finish: a new certificate (new serial) for the caller's identity and profile. A
 * TPM device proves the key and the boot state afresh exactly as enroll_tpm_finish does; a
 * software device sends its CSR alone. The attestation result updates the device's facts and is
 * recorded as a trust signal (source "attestation", kind "renewal"). */
ZTCA_RC enroll_renew_finish(const enroll_env *env, const enroll_peer *peer,
                            const enroll_finish_req *req, enroll_result *out, enroll_outcome *why);

/* ---- EK pre-registration (docs/attestation.md "Pre-registering EK public keys") ------------ */

#define ENROLL_NOTE_MAX 256 /* an operator's note on a pre-registered device */

/* enroll_ek_allow_req: POST /v1/devices. Everything borrowed. */
typedef struct enroll_ek_allow_req {
    const uint8_t *ek_public; /* TPM2B_PUBLIC of the EK (`tpm2_readpublic -f tss`) */
    size_t ek_public_len;
    const char *note;  /* NULL or 1..ENROLL_NOTE_MAX printable bytes */
    const char *facts; /* NULL or a JSON object (compact text): the operator's facts */
    const char *actor; /* who registers, for the facts and the audit entry ("admin:...") */
} enroll_ek_allow_req;

/* enroll_ek_allow: records a TPM that has no EK certificate, so that it can enroll with its EK
 * public alone (enroll_tpm_begin). The EK public must be an EK template (attest_ek_public_parse:
 * BAD_INPUT / UNSUPPORTED with *out_reason); the device id is derived from it as at enrollment
 * (out_id, at least CA_NAME_MAX + 1 bytes). The device's facts say "ek": "registered", who and
 * when, and keep the EK's SubjectPublicKeyInfo ("ek_spki") for attest_ek_registered; the audit
 * entry is "device.allow" by `actor`. CONFLICT when a device with this EK (or id) exists. */
ZTCA_RC enroll_ek_allow(const enroll_env *env, const enroll_ek_allow_req *req, char *out_id,
                        size_t id_size, attest_reason *out_reason);

#endif /* ZTCA_ENROLL_ENROLL_H */
