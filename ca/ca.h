/* ca.h: keys, the signer and verifier interface, CSR intake, certificate profiles, issuance and
 * the creation of a complete private PKI. Pure: bytes in, bytes out, no file or network I/O. */
#ifndef ZTCA_CA_CA_H
#define ZTCA_CA_CA_H

#include "core/core.h"
#include "core/der.h"

/* ztca-identity and ztca-trust-score (DESIGN.md sections 2 and 4): OID contents bytes of
 * 2.25.268636304145565434259279403583513411684.1 and .2 */
#define CA_OID_ZTCA_ARC \
    "\x69\x83\x94\x99\xbc\x98\xa0\xc1\xb2\x8d\xff\x81\x84\x8e\x80\x9b\x95\xd7\x80\x64"
#define CA_OID_ZTCA_IDENTITY    CA_OID_ZTCA_ARC "\x01"
#define CA_OID_ZTCA_TRUST_SCORE CA_OID_ZTCA_ARC "\x02"

#define CA_CERT_MAX   ((size_t)64 * 1024) /* largest certificate we build or accept */
#define CA_CSR_MAX    ((size_t)16 * 1024) /* largest CSR we accept (DER or PEM) */
#define CA_KEY_MAX    ((size_t)16 * 1024) /* largest key file we read */
#define CA_CONFIG_MAX ((size_t)256 * 1024)
#define CA_SERIAL_LEN 16
#define CA_SIG_MAX    512 /* ECDSA P-521 DER or RSA-4096 */
#define CA_HASH_MAX   64
#define CA_NAME_MAX   64 /* user names, device ids, path segments */
#define CA_TD_MAX     255
#define CA_URL_MAX    512
#define CA_BACKDATE   60 /* seconds: notBefore is backdated by one minute (clock skew) */

/* ---- hashes ------------------------------------------------------------------------------- */

typedef enum ca_md { CA_MD_SHA1, CA_MD_SHA256, CA_MD_SHA384, CA_MD_SHA512 } ca_md;

size_t ca_md_size(ca_md md);
/* ca_hash: out_size must be at least ca_md_size(md). */
ZTCA_RC ca_hash(ca_md md, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_size);

/* ---- randomness --------------------------------------------------------------------------- */

/* ca_rng: CTR_DRBG seeded from the system entropy source; safe to share between threads. */
typedef struct ca_rng ca_rng;

ZTCA_RC ca_rng_new(ca_rng **out);
void ca_rng_free(ca_rng *rng);
ZTCA_RC ca_rng_bytes(ca_rng *rng, uint8_t *out, size_t len);

/* ---- keys --------------------------------------------------------------------------------- */

typedef enum ca_key_type { CA_KEY_P256, CA_KEY_P384 } ca_key_type;

/* ca_key_type_parse: "p256" or "p384". */
ZTCA_RC ca_key_type_parse(ca_key_type *out, const char *s);
const char *ca_key_type_name(ca_key_type t);

/* ca_key: a private key of ztca's own (CA, OCSP signer, server, admin): ECDSA P-256 or P-384. */
typedef struct ca_key ca_key;

ZTCA_RC ca_key_generate(ca_key **out, ca_rng *rng, ca_key_type type);
/* ca_key_parse: a PEM "PRIVATE KEY" (PKCS#8), "ENCRYPTED PRIVATE KEY" (PKCS#8 PBES2 with
 * PBKDF2-HMAC-SHA1/256/384/512 and AES-128/192/256-CBC) or "EC PRIVATE KEY" (SEC1). An encrypted
 * key needs `pass`; a wrong passphrase is DENIED. Only P-256 and P-384 keys are accepted. */
ZTCA_RC ca_key_parse(ca_key **out, const uint8_t *pem, size_t pem_len, const uint8_t *pass,
                     size_t pass_len);
/* ca_key_write_pem: PKCS#8; with a passphrase (pass_len > 0) encrypted with PBES2,
 * PBKDF2-HMAC-SHA256 (CA_KEY_PBKDF2_ITER iterations, 16-byte salt) and AES-256-CBC. The output is
 * malloc'd and NUL-terminated; free it with ztca_free_secret(out, out_len). */
#define CA_KEY_PBKDF2_ITER 210000
ZTCA_RC ca_key_write_pem(char **out, size_t *out_len, const ca_key *key, ca_rng *rng,
                         const uint8_t *pass, size_t pass_len);
ca_key_type ca_key_get_type(const ca_key *key);
/* ca_key_spki: the DER SubjectPublicKeyInfo, malloc'd. */
ZTCA_RC ca_key_spki(const ca_key *key, uint8_t **out, size_t *out_len);
void ca_key_free(ca_key *key);

/* ---- crypto backends ---------------------------------------------------------------------- */

/* ca_crypto_backend: who does the public-key operations behind ca_signer and ca_verify. mbedTLS
 * stays the X.509/ASN.1 library and is always built; OpenSSL libcrypto (CMake ZTCA_OPENSSL, on when
 * found) is 16x faster at ECDSA P-256 signing (docs/performance.md "Signing backends"). */
typedef enum ca_crypto_backend { CA_CRYPTO_MBEDTLS, CA_CRYPTO_OPENSSL } ca_crypto_backend;

/* CA_CRYPTO_ENV: the environment variable that overrides the configured backend (tests, bench). */
#define CA_CRYPTO_ENV "ZTCA_CRYPTO_BACKEND"

/* ca_crypto_backend_parse: "mbedtls" or "openssl"; BAD_INPUT for other names, UNSUPPORTED for a
 * backend this build lacks. */
ZTCA_RC ca_crypto_backend_parse(ca_crypto_backend *out, const char *s);
const char *ca_crypto_backend_name(ca_crypto_backend b);
bool ca_crypto_backend_is_available(ca_crypto_backend b);
/* ca_crypto_backend_default: OpenSSL when built in, else mbedTLS. */
ca_crypto_backend ca_crypto_backend_default(void);
/* ca_crypto_backend_select: the backend of ca_signer_new and ca_verify for the whole process
 * (ztca.conf "crypto_backend", applied when the configuration is loaded). ZTCA_CRYPTO_BACKEND,
 * when set, wins; an invalid value there is BAD_INPUT, a backend not built in UNSUPPORTED. Signers
 * keep the backend they were created with. */
ZTCA_RC ca_crypto_backend_select(ca_crypto_backend b);
/* ca_crypto_backend_get: the selected backend; before any selection ZTCA_CRYPTO_BACKEND if it
 * names a built-in backend, else ca_crypto_backend_default(). */
ca_crypto_backend ca_crypto_backend_get(void);

/* ---- public keys and signature verification ------------------------------------------------ */

typedef enum ca_pk_kind { CA_PK_EC, CA_PK_RSA } ca_pk_kind;

typedef struct ca_pubkey_info {
    ca_pk_kind kind;
    size_t bits;      /* RSA modulus or EC field size */
    const char *name; /* "P-256", "P-384", "RSA" */
} ca_pubkey_info;

/* ca_pubkey_check: parses an SPKI and applies ztca's key policy for keys it certifies: ECDSA
 * P-256/P-384 or RSA 2048-4096 with a sane exponent. UNSUPPORTED with a clear reason otherwise. */
ZTCA_RC ca_pubkey_check(ca_pubkey_info *out, const uint8_t *spki, size_t spki_len);

typedef enum ca_sig_scheme { CA_SIG_ECDSA, CA_SIG_RSA_PKCS1, CA_SIG_RSA_PSS } ca_sig_scheme;

/* ca_verify: the verifier interface: does `sig` (ECDSA as DER Ecdsa-Sig-Value, RSA as the raw
 * big-endian block) sign `hash` under the key `spki`? CRYPTO when it does not, BAD_INPUT for an
 * unparsable key. RSA-PSS uses MGF1 with the same hash and any salt length. */
ZTCA_RC ca_verify(const uint8_t *spki, size_t spki_len, ca_sig_scheme scheme, ca_md md,
                  const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len);
/* ca_verify_with: ca_verify on a given backend (ca_verify uses ca_crypto_backend_get()). Both
 * accept only DER Ecdsa-Sig-Values and uncompressed EC points. UNSUPPORTED if not built in. */
ZTCA_RC ca_verify_with(ca_crypto_backend backend, const uint8_t *spki, size_t spki_len,
                       ca_sig_scheme scheme, ca_md md, const uint8_t *hash, size_t hash_len,
                       const uint8_t *sig, size_t sig_len);

/* ---- the signer interface ----------------------------------------------------------------- */

/* ca_signer: "sign these bytes with that key", and nothing else crosses it, so the key can move
 * into another process or a TPM/PKCS#11 backend without an API change. Thread safe. */
typedef struct ca_signer ca_signer;

/* ca_signer_new takes ownership of `key` on success; `rng` is borrowed and must outlive it. */
ZTCA_RC ca_signer_new(ca_signer **out, ca_key *key, ca_rng *rng);
/* ca_signer_new_with: ca_signer_new on a given backend (ca_signer_new uses
 * ca_crypto_backend_get()); UNSUPPORTED if not built in. The OpenSSL backend draws its ECDSA
 * nonces from OpenSSL's own DRBG, not from `rng` (docs/performance.md "Signing backends"). */
ZTCA_RC ca_signer_new_with(ca_signer **out, ca_key *key, ca_rng *rng, ca_crypto_backend backend);
ca_crypto_backend ca_signer_backend(const ca_signer *s);
void ca_signer_free(ca_signer *s);
/* ca_signer_sign: ECDSA over a precomputed hash; DER Ecdsa-Sig-Value into sig[sig_size]. */
ZTCA_RC ca_signer_sign(ca_signer *s, ca_md md, const uint8_t *hash, size_t hash_len, uint8_t *sig,
                       size_t sig_size, size_t *sig_len);
/* ca_signer_md: the hash that matches the key (SHA-256 for P-256, SHA-384 for P-384). */
ca_md ca_signer_md(const ca_signer *s);
/* ca_signer_spki: the public key, borrowed from the signer. */
const uint8_t *ca_signer_spki(const ca_signer *s, size_t *out_len);
/* ca_signer_sig_alg: DER AlgorithmIdentifier of the signatures it makes, borrowed. */
const uint8_t *ca_signer_sig_alg(const ca_signer *s, size_t *out_len);

/* ---- the remote signer (privilege separation, docs/hardening.md) --------------------------- */

/* ca_signer_remote_fn: how a remote signer's key signs: the transport's function (`ztca serve`
 * reaches its signer process over a socketpair, cli/cli_signer.c). Same contract as
 * ca_signer_sign; the answer is checked to be one DER Ecdsa-Sig-Value before it is used. */
typedef ztca_rc (*ca_signer_remote_fn)(void *ctx, ca_md md, const uint8_t *hash, size_t hash_len,
                                       uint8_t *sig, size_t sig_size, size_t *sig_len);

/* ca_signer_new_remote: a signer whose private key is elsewhere: `spki` (copied) is its public
 * key, an ECDSA P-256 or P-384 key (else UNSUPPORTED, BAD_INPUT when malformed), and `fn(ctx)`
 * signs. `ctx` is borrowed and must outlive the signer. Issuance, OCSP and CRL code cannot tell
 * it from a local signer. */
ZTCA_RC ca_signer_new_remote(ca_signer **out, const uint8_t *spki, size_t spki_len,
                             ca_signer_remote_fn fn, void *ctx);
bool ca_signer_is_remote(const ca_signer *s);

/* The signer protocol: one SOCK_SEQPACKET message per request and per answer, both
 *   version(1) op(1) slot(1) arg(1) body_len(2, big-endian) body(body_len)
 * with nothing after the body. In a request `arg` is the ca_md (SIGN) or the ca_key_type
 * (OCSP_NEW), else 0; in an answer it is the ztca_err of the outcome and a failure has no body.
 * The signer process parses requests from the network process, which it does not trust, and the
 * network process parses answers: both parsers are strict and bounded (fuzz_signer_msg). */
#define CA_REMOTE_VERSION  1
#define CA_REMOTE_SLOTS    128 /* key slots: 0 the issuing CA, then OCSP signer generations */
#define CA_REMOTE_HDR_LEN  6
#define CA_REMOTE_BODY_MAX ((size_t)8 * 1024) /* a certificate, an SPKI or a signature */
#define CA_REMOTE_MSG_MAX  (CA_REMOTE_HDR_LEN + CA_REMOTE_BODY_MAX)

typedef enum ca_remote_op {
    CA_REMOTE_SIGN = 1,     /* slot, md, hash -> DER Ecdsa-Sig-Value */
    CA_REMOTE_INFO = 2,     /* slot -> its SubjectPublicKeyInfo */
    CA_REMOTE_OCSP_NEW = 3, /* key type -> a new slot holding a fresh key (not yet on disk), SPKI */
    CA_REMOTE_OCSP_COMMIT =
        4, /* slot, certificate DER for that key -> writes key, then certificate */
    CA_REMOTE_OCSP_LOAD = 5, /* -> the slot of the OCSP key now on disk (new or known), SPKI */
} ca_remote_op;

/* ca_remote_msg: a decoded message; `body` views the buffer given to the parser. */
typedef struct ca_remote_msg {
    ca_remote_op op;
    uint8_t slot;
    uint8_t arg;
    der_cur body;
} ca_remote_msg;

/* ca_remote_encode: one message into out[out_size] (at least CA_REMOTE_HDR_LEN + body_len);
 * INTERNAL when it does not fit or body_len > CA_REMOTE_BODY_MAX. `op` is a raw octet so that an
 * answer can echo the op of a request that did not parse. */
ZTCA_RC ca_remote_encode(uint8_t *out, size_t out_size, size_t *out_len, uint8_t op, uint8_t slot,
                         uint8_t arg, const uint8_t *body, size_t body_len);
/* ca_remote_req_parse: a request as the signer process accepts it: known version and op, slot
 * below CA_REMOTE_SLOTS, body length as announced and as the op requires (SIGN: the hash size of
 * a SHA-2 `arg`; OCSP_COMMIT: 1..CA_REMOTE_BODY_MAX; others: empty), `arg` 0 unless the op uses
 * it, slot 0 for OCSP_NEW and OCSP_LOAD. BAD_INPUT otherwise; *out written only on success. */
ZTCA_RC ca_remote_req_parse(ca_remote_msg *out, const uint8_t *in, size_t in_len);
/* ca_remote_resp_parse: the answer to a request of op `op`: same version and op, a known ztca_err
 * in `arg`, no body on failure; on success SIGN carries one DER Ecdsa-Sig-Value of at most
 * CA_SIG_MAX octets, INFO/OCSP_NEW/OCSP_LOAD a non-empty body (the SPKI), OCSP_COMMIT none.
 * BAD_INPUT otherwise. A well-formed failure answer parses: the caller reads arg. */
ZTCA_RC ca_remote_resp_parse(ca_remote_msg *out, ca_remote_op op, const uint8_t *in, size_t in_len);

/* ---- CSR intake --------------------------------------------------------------------------- */

/* ca_csr: what ztca takes from a PKCS#10 request: only the public key. The subject and any
 * requested extensions are ignored; identity comes from authentication, never from the CSR. */
typedef struct ca_csr {
    uint8_t *spki; /* owned DER SubjectPublicKeyInfo, exactly as in the request */
    size_t spki_len;
    ca_pubkey_info key;
} ca_csr;

void ca_csr_init(ca_csr *csr);
void ca_csr_free(ca_csr *csr);
/* ca_csr_parse: PEM ("CERTIFICATE REQUEST") or DER, at most CA_CSR_MAX bytes; verifies the
 * signature (proof of possession; SHA-256 or stronger) through ca_verify and applies
 * ca_pubkey_check. BAD_INPUT, UNSUPPORTED or CRYPTO (bad signature) with a clear reason. */
ZTCA_RC ca_csr_parse(ca_csr *out, const uint8_t *in, size_t in_len);

/* ---- profiles ----------------------------------------------------------------------------- */

typedef enum ca_profile_id {
    CA_PROFILE_DEVICE,
    CA_PROFILE_AGENT,
    CA_PROFILE_WORKLOAD,
    CA_PROFILE_ADMIN,
    CA_PROFILE_SERVER,
    CA_PROFILE_OCSP,
    CA_PROFILE_FEEDER, /* "signal-feeder": may only post trust signals (docs/trust.md) */
    CA_PROFILE_PEP,    /* "pep": an enforcement point; may only ask /v1/authz (docs/authz.md) */
} ca_profile_id;

#define CA_EKU_CLIENT (1u << 0)
#define CA_EKU_SERVER (1u << 1)
#define CA_EKU_OCSP   (1u << 2)

typedef struct ca_profile {
    ca_profile_id id;
    const char *name;
    unsigned eku;        /* CA_EKU_* */
    int64_t default_ttl; /* seconds */
    int64_t max_ttl;
    bool identity_ext; /* carries ztca-identity */
    bool revocable;    /* AIA OCSP URL and CRL distribution point; else id-pkix-ocsp-nocheck */
    bool by_request;   /* may be requested (ztca issue, API); else issued by ztca itself */
} ca_profile;

const ca_profile *ca_profile_get(ca_profile_id id);
/* ca_profile_find: by name; NULL if unknown. */
const ca_profile *ca_profile_find(const char *name);
/* ca_profile_ttl: `requested` 0 means the default; above the profile's maximum is DENIED. */
ZTCA_RC ca_profile_ttl(const ca_profile *p, int64_t requested, int64_t *out);

/* ---- identities --------------------------------------------------------------------------- */

typedef enum ca_attestation {
    CA_ATTEST_NONE = 0,
    CA_ATTEST_SOFTWARE = 1,
    CA_ATTEST_TPM = 2,
    CA_ATTEST_TPM_MEASURED_BOOT = 3,
} ca_attestation;

ZTCA_RC ca_attestation_parse(ca_attestation *out, const char *s);
const char *ca_attestation_name(ca_attestation a);

/* Names that end up in URIs and certificates: 1-64 of [A-Za-z0-9._-], starting with a letter
 * or digit (SPIFFE path segment characters, no "." or ".."). */
bool ca_name_is_valid(const char *s);
/* Trust domain: a SPIFFE trust domain name, [a-z0-9.-_], 1-255, no leading/trailing dot. */
bool ca_trust_domain_is_valid(const char *s);
/* Workload path: name segments separated by "/", at most 200 characters. */
bool ca_workload_path_is_valid(const char *s);
/* Server host names: a DNS name (LDH labels) or an IPv4/IPv6 address. */
bool ca_host_is_valid(const char *s);
/* ca_device_id_from_spki: "dev-" + 26 chars of lowercase base32(SHA-256(spki)); out_size >= 31. */
ZTCA_RC ca_device_id_from_spki(char *out, size_t out_size, const uint8_t *spki, size_t spki_len);

/* ---- configuration ------------------------------------------------------------------------ */

/* ca_rate_limit: `rate` requests per second refill a bucket of `burst`; rate 0: no limit. */
typedef struct ca_rate_limit {
    double rate;
    uint32_t burst;
} ca_rate_limit;

#define CA_RATE_MIN  0.001 /* one request per 1000 s: keeps the interval in range */
#define CA_RATE_MAX  1e6
#define CA_BURST_MAX 1000000u

typedef struct ca_config {
    char trust_domain[CA_TD_MAX + 1];
    char public_url[CA_URL_MAX]; /* base of the OCSP and CRL URLs (plain HTTP listener) */
    char api_url[CA_URL_MAX];    /* HTTPS API, the CLI's default --server */
    ca_key_type key_type;
    bool encrypted_keys;    /* keys under DIR/private need a passphrase */
    char store[CA_URL_MAX]; /* store URL, read by store/; "" for the default */
    /* ztca-identity in device and agent certificates, off unless the config says true: its OID
     * (DESIGN.md 2) has a 128-bit arc that GnuTLS, Go's crypto/x509 and python-cryptography < 44
     * cannot parse, so certificates carrying it fail with them, libmicrohttpd's TLS included
     * (docs/certificates.md). The URI SAN names device and user either way. */
    bool identity_extension;
    /* "ocsp": {"validity", "max_age", "cache_entries", "signer_renew_before"} and
     * "crl": {"validity"} (docs/ocsp.md); durations as "1h" or seconds. */
    int64_t ocsp_validity;     /* nextUpdate - thisUpdate; default 1h */
    int64_t ocsp_max_age;      /* Cache-Control max-age cap; default 60 s */
    size_t ocsp_cache_entries; /* pre-signed answers kept; default 20000, 0 disables */
    int64_t ocsp_renew_before; /* rotate the OCSP signer this long before it expires; 2d */
    int64_t crl_validity;      /* default 1h */
    /* "crypto_backend": "mbedtls" | "openssl"; default ca_crypto_backend_default(), and written
     * back only when it differs, so a ztca.conf moves between builds with and without OpenSSL. */
    ca_crypto_backend crypto_backend;
    /* "rate_limits": {"per_identity": {"rate", "burst"}, "per_address": {"rate", "burst",
     * "exempt_loopback"}} (docs/hardening.md): token buckets on the token, enrollment and
     * issuance routes, read per request, so SIGHUP changes them. */
    ca_rate_limit rate_identity; /* per certificate URI or bearer; default 0.2/s, burst 10 */
    ca_rate_limit rate_address;  /* per IPv4 address or IPv6 /64; default 10/s, burst 100 */
    bool rate_exempt_loopback;   /* loopback peers skip the address limit; default true */
} ca_config;

/* ca_config_defaults: a configuration with every optional member at its default. */
void ca_config_defaults(ca_config *cfg);

/* ca_config_parse: the JSON of DIR/ztca.conf; unknown members are kept for other modules and
 * ignored here; wrong types or invalid values are BAD_INPUT. */
ZTCA_RC ca_config_parse(ca_config *out, const uint8_t *json, size_t json_len);
/* ca_config_write: pretty JSON, malloc'd, NUL-terminated. */
ZTCA_RC ca_config_write(char **out, size_t *out_len, const ca_config *cfg);
/* ca_url_is_valid: http:// or https:// with a valid host, an optional port and no query. */
bool ca_url_is_valid(const char *url);
/* ca_url_host: the host of an http(s) URL (without brackets for IPv6). */
ZTCA_RC ca_url_host(char *out, size_t out_size, const char *url);

/* ---- issuance ----------------------------------------------------------------------------- */

/* ca_issuer: a CA certificate together with the signer of its key. */
typedef struct ca_issuer ca_issuer;

/* ca_issuer_new: parses `cert_der` (copied), checks it is a CA certificate whose public key is the
 * signer's; `signer` is borrowed and must outlive the issuer. */
ZTCA_RC ca_issuer_new(ca_issuer **out, const uint8_t *cert_der, size_t cert_len, ca_signer *signer);
void ca_issuer_free(ca_issuer *iss);
ztca_time ca_issuer_not_after(const ca_issuer *iss);

typedef struct ca_identity {
    const char *device_id; /* device, agent */
    const char *user;      /* agent, admin */
    const char *workload;  /* workload path */
    ca_attestation attestation;
    const char *const *hosts; /* server: DNS names and IP addresses */
    size_t num_hosts;
} ca_identity;

typedef struct ca_issue_req {
    const ca_profile *profile;
    const uint8_t *spki; /* borrowed: the key to certify (from a CSR) */
    size_t spki_len;
    ca_identity id;
    int64_t ttl;   /* 0: the profile's default */
    ztca_time now; /* 0: the current time */
} ca_issue_req;

typedef struct ca_issued {
    uint8_t *der; /* owned, malloc'd */
    size_t der_len;
    uint8_t serial[CA_SERIAL_LEN];
    char serial_hex[2 * CA_SERIAL_LEN + 1]; /* lowercase */
    ztca_time not_before;
    ztca_time not_after;
    char uri[CA_URL_MAX]; /* the URI SAN, "" for server and OCSP certificates */
} ca_issued;

void ca_issued_init(ca_issued *c);
void ca_issued_free(ca_issued *c);

/* ca_issue: a leaf certificate of `req->profile` for `req->spki`, signed by `iss`. The TTL is the
 * profile's (DENIED above its maximum) and never extends past the issuer's notAfter. */
ZTCA_RC ca_issue(ca_issued *out, ca_issuer *iss, const ca_config *cfg, ca_rng *rng,
                 const ca_issue_req *req);

/* ---- reading certificates ---------------------------------------------------------------- */

/* ca_spiffe: a SPIFFE ID of this trust domain, split by DESIGN.md section 2. */
typedef struct ca_spiffe {
    ca_profile_id kind; /* DEVICE, AGENT, WORKLOAD, ADMIN, FEEDER or PEP */
    char device_id[CA_NAME_MAX + 1];
    char user[CA_NAME_MAX + 1];
    char workload[201];
} ca_spiffe;

/* ca_spiffe_parse: "spiffe://TD/device/ID", ".../agent/ID/USER", ".../workload/PATH",
 * ".../admin/USER", ".../signal-feeder/NAME", ".../pep/NAME" with `td` as trust domain and
 * valid names;
 * BAD_INPUT otherwise. */
ZTCA_RC ca_spiffe_parse(ca_spiffe *out, const char *uri, const char *td);

typedef struct ca_cert_info {
    char serial_hex[2 * 20 + 1]; /* lowercase, as DER has it (a leading 00 octet included) */
    char uri[CA_URL_MAX];        /* the certificate's one URI SAN, "" when it has none */
    ztca_time not_before;
    ztca_time not_after;
    bool has_identity; /* ztca-identity present: the three fields below */
    char device_id[CA_NAME_MAX + 1];
    char user[CA_NAME_MAX + 1];
    ca_attestation attestation;
} ca_cert_info;

/* ca_cert_has_key: `der` is a certificate (strict walk) for the public key `spki`. */
bool ca_cert_has_key(const uint8_t *der, size_t der_len, const uint8_t *spki, size_t spki_len);

/* ca_cert_info_parse: reads what ztca needs from a certificate (strict DER walk; signatures are
 * not checked here). More than one URI SAN is BAD_INPUT: an identity must be unambiguous. */
ZTCA_RC ca_cert_info_parse(ca_cert_info *out, const uint8_t *der, size_t der_len);

/* ---- client certificates seen outside a handshake (the authz endpoint) ------------------- */

/* ca_trust: the issuing CA certificates whose client certificates we judge. Thread safe to use. */
typedef struct ca_trust ca_trust;

ZTCA_RC ca_trust_new(ca_trust **out, const uint8_t *const *certs, const size_t *lens, size_t num);
void ca_trust_free(ca_trust *t);
/* ca_trust_check_client: `der` parses strictly, was signed by one of the CAs (mbedTLS chain
 * verification), is valid at `now` and has clientAuth. BAD_INPUT when it is not a certificate,
 * DENIED otherwise; *out_reason (static text) says why, "" when OK. */
ZTCA_RC ca_trust_check_client(const ca_trust *t, const uint8_t *der, size_t der_len, ztca_time now,
                              const char **out_reason);

/* ---- a whole PKI (ztca init) -------------------------------------------------------------- */

typedef struct ca_pki_params {
    const ca_config *cfg;
    const char *admin_user;
    const char *const *server_sans; /* extra host names for the API server certificate */
    size_t num_server_sans;
    ztca_time now; /* 0: the current time */
} ca_pki_params;

/* ca_pki: every object `ztca init` writes, in memory. Keys are PEM, encrypted when a passphrase
 * was given (admin key included). */
typedef struct ca_pki {
    char *root_cert_pem, *intermediate_cert_pem, *chain_pem, *ocsp_cert_pem, *server_cert_pem,
        *server_chain_pem, *admin_cert_pem;
    char *root_key_pem, *intermediate_key_pem, *ocsp_key_pem, *server_key_pem, *admin_key_pem;
    size_t root_key_len, intermediate_key_len, ocsp_key_len, server_key_len, admin_key_len;
    char root_serial[2 * CA_SERIAL_LEN + 1];
    char intermediate_serial[2 * CA_SERIAL_LEN + 1];
} ca_pki;

#define CA_ROOT_TTL         (3653LL * 86400) /* 10 years */
#define CA_INTERMEDIATE_TTL (731LL * 86400)  /* 2 years */

void ca_pki_init(ca_pki *pki);
void ca_pki_free(ca_pki *pki);
ZTCA_RC ca_pki_create(ca_pki *out, ca_rng *rng, const ca_pki_params *params, const uint8_t *pass,
                      size_t pass_len);

/* ---- OCSP and CRL ------------------------------------------------------------------------- */

/* RFC 6960 (OCSP), RFC 5019 (its lightweight profile), RFC 8954 (nonce), RFC 5280 5 (CRL). The
 * decoder and the encoders are pure: bytes in, bytes out; HTTP, caching and the store are the
 * caller's (docs/ocsp.md). */

#define CA_OCSP_REQ_MAX   ((size_t)64 * 1024) /* largest OCSPRequest we parse (body limit too) */
#define CA_OCSP_RESP_MAX  ((size_t)64 * 1024) /* largest OCSPResponse we build */
#define CA_OCSP_MAX_REQS  32                  /* Requests (CertIDs) per OCSPRequest */
#define CA_OCSP_MAX_EXTS  16                  /* extensions per Extensions list */
#define CA_OCSP_NONCE_MIN 1                   /* RFC 8954 2.1: Nonce ::= OCTET STRING (1..32) */
#define CA_OCSP_NONCE_MAX 32
#define CA_CRL_MAX        ((size_t)64 * 1024 * 1024) /* largest CRL we build */

/* OCSPResponseStatus (RFC 6960 4.2.1); 4 is not used. */
typedef enum ca_ocsp_status {
    CA_OCSP_SUCCESSFUL = 0,
    CA_OCSP_MALFORMED_REQUEST = 1,
    CA_OCSP_INTERNAL_ERROR = 2,
    CA_OCSP_TRY_LATER = 3,
    CA_OCSP_SIG_REQUIRED = 5,
    CA_OCSP_UNAUTHORIZED = 6,
} ca_ocsp_status;

/* CRLReason (RFC 5280 5.3.1); 7 is not used. removeFromCRL belongs to delta CRLs only and is
 * refused by both encoders. */
typedef enum ca_crl_reason {
    CA_REASON_UNSPECIFIED = 0,
    CA_REASON_KEY_COMPROMISE = 1,
    CA_REASON_CA_COMPROMISE = 2,
    CA_REASON_AFFILIATION_CHANGED = 3,
    CA_REASON_SUPERSEDED = 4,
    CA_REASON_CESSATION_OF_OPERATION = 5,
    CA_REASON_CERTIFICATE_HOLD = 6,
    CA_REASON_REMOVE_FROM_CRL = 8,
    CA_REASON_PRIVILEGE_WITHDRAWN = 9,
    CA_REASON_AA_COMPROMISE = 10,
} ca_crl_reason;

/* ca_ocsp_certid: one CertID of a request, as views into the request bytes. */
typedef struct ca_ocsp_certid {
    der_cur element; /* the whole CertID element: a response echoes it byte for byte */
    /* hashAlgorithm is SHA-1 or SHA-256 (parameters absent or NULL): `md` is set and both hashes
     * have its length. Otherwise false: the CertID is well-formed but cannot match any issuer of
     * ours; the responder answers it `unknown` (docs/ocsp.md). */
    bool hash_is_supported;
    ca_md md;
    der_cur issuer_name_hash; /* OCTET STRING contents */
    der_cur issuer_key_hash;  /* OCTET STRING contents */
    der_cur serial; /* INTEGER contents as DER has them (der_get_serial: positive, 1..20 octets) */
} ca_ocsp_certid;

/* ca_ocsp_req: a parsed OCSPRequest. Every der_cur views the buffer given to ca_ocsp_req_parse,
 * which the caller keeps alive and unchanged while the struct is used; there is nothing to free. */
typedef struct ca_ocsp_req {
    ca_ocsp_certid ids[CA_OCSP_MAX_REQS];
    size_t num_ids; /* 1..CA_OCSP_MAX_REQS */
    bool has_nonce;
    der_cur nonce;  /* the Nonce's octets (inner OCTET STRING contents), 1..32 */
    bool is_signed; /* optionalSignature was present; it is not checked (RFC 5019 2.1.2) */
} ca_ocsp_req;

/* ca_ocsp_req_parse: the strict decoder of an OCSPRequest (DER, at most CA_OCSP_REQ_MAX bytes).
 * BAD_INPUT for anything malformed (not DER, trailing data at any level, an explicitly encoded v1
 * version, an empty requestList, hash lengths that do not match the hash, a serial that is not
 * positive or longer than 20 octets, a nonce outside 1..32 octets, a duplicate extension);
 * UNSUPPORTED for well-formed requests ztca refuses (a version other than v1, more than
 * CA_OCSP_MAX_REQS Requests or CA_OCSP_MAX_EXTS extensions in a list, an unknown critical
 * extension). The caller answers both with ca_ocsp_resp_status_only(CA_OCSP_MALFORMED_REQUEST).
 * *out is written only on success and views `in` (see ca_ocsp_req). */
ZTCA_RC ca_ocsp_req_parse(ca_ocsp_req *out, const uint8_t *in, size_t in_len);

/* ca_ocsp_certid_has_issuer: true when `id` uses hash `md` and its issuer hashes are these (from
 * ca_ocsp_issuer_hashes). The hashes are public values: a plain comparison. */
bool ca_ocsp_certid_has_issuer(const ca_ocsp_certid *id, ca_md md, const uint8_t *name_hash,
                               const uint8_t *key_hash);

/* ca_ocsp_issuer_hashes: the CertID hashes of an issuing CA certificate (RFC 6960 4.1.1): `md` of
 * the DER of its subject Name and of the value of its subjectPublicKey BIT STRING (no tag, length
 * or unused-bits octet). Each output needs ca_md_size(md) bytes (CA_HASH_MAX always suffices).
 * BAD_INPUT when `cert_der` is not a strict DER certificate, UNSUPPORTED when it is not v3;
 * outputs written only on success. */
ZTCA_RC ca_ocsp_issuer_hashes(uint8_t *out_name_hash, uint8_t *out_key_hash, ca_md md,
                              const uint8_t *cert_der, size_t cert_len);

/* CertStatus (RFC 6960 4.2.1). */
typedef enum ca_ocsp_cert_status {
    CA_OCSP_GOOD = 0,
    CA_OCSP_REVOKED = 1,
    CA_OCSP_UNKNOWN = 2,
} ca_ocsp_cert_status;

#define CA_TRUST_SCORE_NONE (-1)

/* ca_ocsp_entry: one SingleResponse. */
typedef struct ca_ocsp_entry {
    der_cur certid; /* borrowed: a CertID element (ca_ocsp_certid.element), copied verbatim */
    ca_ocsp_cert_status status;
    ztca_time revocation_time; /* REVOKED only */
    ca_crl_reason reason;      /* REVOKED only; UNSPECIFIED leaves revocationReason out */
    ztca_time this_update;
    ztca_time next_update; /* after this_update; always sent (RFC 5019 2.2.4) */
    int trust_score;       /* 0..100 as the ztca-trust-score single extension, or NONE */
} ca_ocsp_entry;

/* ca_ocsp_resp_params: what a successful response says. Everything is borrowed. */
typedef struct ca_ocsp_resp_params {
    const uint8_t *signer_cert; /* DER of the certificate of `signer`'s key, sent in `certs`, */
    size_t signer_cert_len;     /* or NULL when the issuing CA signs itself (no certs) */
    ztca_time produced_at;
    const ca_ocsp_entry *entries;
    size_t num_entries;   /* 1..CA_OCSP_MAX_REQS */
    const uint8_t *nonce; /* echoed in responseExtensions when nonce_len > 0 (1..32 octets) */
    size_t nonce_len;
    /* The OID (contents octets) of the trust score extension; NULL: ztca-trust-score. A
     * deployment with its own short arc sets it (docs/trust.md, "The score in OCSP"). */
    const uint8_t *score_oid;
    size_t score_oid_len;
} ca_ocsp_resp_params;

/* ca_ocsp_resp_build: a successful OCSPResponse holding a BasicOCSPResponse (RFC 6960 4.2.1):
 * responder ID by key (SHA-1 of the signer's subjectPublicKey), one SingleResponse per entry in
 * order, GeneralizedTime everywhere, signed by `signer` over exactly the ResponseData emitted.
 * BAD_INPUT for inconsistent params (no or too many entries, a CertID that is not one DER
 * element, nextUpdate not after thisUpdate, a reason not allowed, a score outside 0..100, a
 * nonce outside 1..32 octets, a signer certificate whose key is not the signer's); NOMEM, CRYPTO.
 * On success *out is malloc'd (free it) and owned by the caller; nothing is written on failure. */
ZTCA_RC ca_ocsp_resp_build(uint8_t **out, size_t *out_len, ca_signer *signer,
                           const ca_ocsp_resp_params *params);

/* ca_ocsp_resp_status_only: the OCSPResponse that carries only `status` (no responseBytes, RFC
 * 6960 4.2.1): MALFORMED_REQUEST, INTERNAL_ERROR, TRY_LATER, SIG_REQUIRED or UNAUTHORIZED.
 * *out points to a static constant (never free it; MHD_RESPMEM_PERSISTENT); INTERNAL for
 * SUCCESSFUL or any other value. */
ZTCA_RC ca_ocsp_resp_status_only(const uint8_t **out, size_t *out_len, ca_ocsp_status status);

/* ca_crl_entry: one revoked certificate. */
typedef struct ca_crl_entry {
    const uint8_t *serial; /* borrowed big-endian magnitude (leading 00 octets allowed, so */
    size_t serial_len;     /* INTEGER contents work as is); non-zero, at most 20 octets in DER */
    ztca_time revocation_date;
    ca_crl_reason reason;      /* UNSPECIFIED: no reasonCode (RFC 5280 5.3.1) */
    ztca_time invalidity_date; /* 0: no invalidityDate */
} ca_crl_entry;

typedef struct ca_crl_params {
    uint64_t number; /* cRLNumber: monotonically increasing (RFC 5280 5.2.3) */
    ztca_time this_update;
    ztca_time next_update;       /* after this_update */
    const ca_crl_entry *entries; /* borrowed; strictly increasing serials */
    size_t num_entries;          /* 0: revokedCertificates is left out */
} ca_crl_params;

/* ca_crl_build: a complete X.509 v2 CRL (RFC 5280 5.1) issued and signed by `iss`: its subject
 * as issuer, AKI and cRLNumber extensions, the entries in the order given. BAD_INPUT for a reason
 * not allowed, a zero or over-long serial, serials not strictly increasing (numerically), times
 * out of order or range, or more than CA_CRL_MAX bytes; NOMEM, CRYPTO. On success *out is
 * malloc'd and owned by the caller; nothing is written on failure. */
ZTCA_RC ca_crl_build(uint8_t **out, size_t *out_len, ca_issuer *iss, const ca_crl_params *params);

#endif /* ZTCA_CA_CA_H */
