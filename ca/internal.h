/* internal.h: declarations shared by the files of ca/ only. */
#ifndef ZTCA_CA_INTERNAL_H
#define ZTCA_CA_INTERNAL_H

#include <mbedtls/pk.h>

#include "ca/ca.h"
#include "core/der.h"

struct ca_key {
    mbedtls_pk_context pk; /* owned; PK_ECKEY */
    ca_key_type type;
};

/* mbedTLS's f_rng adapter for a ca_rng. */
int ca_rng_mbedtls(void *rng, unsigned char *out, size_t len);

mbedtls_md_type_t ca_md_to_mbedtls(ca_md md);

/* ca_ecdsa_sig_check (ca_signer.c): `sig` is one DER Ecdsa-Sig-Value with positive, minimally
 * encoded r and s, nothing after it; CRYPTO otherwise. Both backends call it before verifying. */
ZTCA_RC ca_ecdsa_sig_check(const uint8_t *sig, size_t sig_len);

#ifdef ZTCA_HAVE_OPENSSL
/* The OpenSSL backend (ca_signer_openssl.c), reached only through ca_signer.c. */
typedef struct ca_openssl_key ca_openssl_key;

/* ca_openssl_key_new: an ECDSA signing key from its SEC1 ECPrivateKey DER, which must belong to
 * `spki` (the signer's public key) or the result is CRYPTO. The DER is the caller's to wipe. */
ZTCA_RC ca_openssl_key_new(ca_openssl_key **out, const uint8_t *sec1, size_t sec1_len,
                           const uint8_t *spki, size_t spki_len);
void ca_openssl_key_free(ca_openssl_key *key);
/* ca_openssl_sign: ECDSA over `hash`, DER into sig[sig_size]; safe from many threads at once. */
ZTCA_RC ca_openssl_sign(ca_openssl_key *key, const uint8_t *hash, size_t hash_len, uint8_t *sig,
                        size_t sig_size, size_t *sig_len);
/* ca_openssl_verify: ca_verify's contract after its common checks (hash and signature sizes). */
ZTCA_RC ca_openssl_verify(const uint8_t *spki, size_t spki_len, ca_sig_scheme scheme, ca_md md,
                          const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len);
#endif

/* ca_name_add: Name ::= SEQUENCE OF RDN with one attribute each, in this order, UTF8String
 * values (RFC 5280 4.1.2.4); NULL attributes are left out. */
ZTCA_RC ca_name_add(der_buf *b, const char *o, const char *ou, const char *cn);

/* ca_spki_key_id: RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING. */
#define CA_KEY_ID_LEN 20
ZTCA_RC ca_spki_key_id(uint8_t out[CA_KEY_ID_LEN], const uint8_t *spki, size_t spki_len);

/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }:
 * ca_ext_begin opens it up to the inside of extnValue, ca_ext_end closes both. */
ZTCA_RC ca_ext_begin(der_buf *b, const char *oid, size_t oid_len, bool critical);
ZTCA_RC ca_ext_end(der_buf *b);
ZTCA_RC ca_ext_basic_constraints(der_buf *b, bool is_ca, int path_len /* -1: none */);
/* CA_KU_* are the named bits of RFC 5280 4.2.1.3. */
#define CA_KU_DIGITAL_SIGNATURE (1u << 0)
#define CA_KU_KEY_CERT_SIGN     (1u << 5)
#define CA_KU_CRL_SIGN          (1u << 6)
ZTCA_RC ca_ext_key_usage(der_buf *b, uint16_t bits);
ZTCA_RC ca_ext_eku(der_buf *b, unsigned eku);
ZTCA_RC ca_ext_ski(der_buf *b, const uint8_t key_id[CA_KEY_ID_LEN]);
ZTCA_RC ca_ext_aki(der_buf *b, const uint8_t *key_id, size_t key_id_len);

/* ca_cert_spec: the fields of a TBSCertificate; every pointer is borrowed DER. */
typedef struct ca_cert_spec {
    const uint8_t *serial;
    size_t serial_len;
    const uint8_t *issuer_name;
    size_t issuer_name_len;
    const uint8_t *subject_name;
    size_t subject_name_len;
    ztca_time not_before;
    ztca_time not_after;
    const uint8_t *spki;
    size_t spki_len;
    const uint8_t *extensions; /* the Extension elements, concatenated */
    size_t extensions_len;
} ca_cert_spec;

/* ca_cert_sign: builds the TBSCertificate, hashes exactly those bytes, signs through `signer` and
 * returns the malloc'd Certificate. */
ZTCA_RC ca_cert_sign(uint8_t **out, size_t *out_len, ca_signer *signer, const ca_cert_spec *spec);

/* ca_cert_fields: views into a certificate the caller keeps alive. */
typedef struct ca_cert_fields {
    der_cur tbs;        /* the whole TBSCertificate element */
    der_cur serial;     /* INTEGER contents */
    der_cur issuer;     /* Name element */
    der_cur subject;    /* Name element */
    der_cur spki;       /* SubjectPublicKeyInfo element */
    der_cur extensions; /* contents of the Extensions SEQUENCE, empty if absent */
    ztca_time not_before;
    ztca_time not_after;
} ca_cert_fields;

/* ca_cert_split: the strict structural walk of RFC 5280 4.1 (v3 only); signatures unchecked. */
ZTCA_RC ca_cert_split(ca_cert_fields *out, const uint8_t *der, size_t der_len);
/* ca_cert_find_ext: the extnValue contents of extension `oid`; NOT_FOUND when absent. */
ZTCA_RC ca_cert_find_ext(const ca_cert_fields *f, const char *oid, size_t oid_len,
                         der_cur *out_value, bool *out_critical);

/* struct ca_issuer (ca_issue.c): shared with ca_crl.c, which signs CRLs as the same CA. */
struct ca_issuer {
    uint8_t *cert; /* owned copy */
    size_t cert_len;
    ca_cert_fields f; /* views into cert */
    uint8_t key_id[64];
    size_t key_id_len;
    ca_signer *signer; /* borrowed */
};

ZTCA_RC ca_serial_new(ca_rng *rng, uint8_t out[CA_SERIAL_LEN]);

/* OCSP OIDs (RFC 6960 4.4): id-pkix-ocsp 1.3.6.1.5.5.7.48.1, its basic response type (.1) and
 * nonce extension (.2). */
#define CA_OID_PKIX_OCSP  "\x2b\x06\x01\x05\x05\x07\x30\x01"
#define CA_OID_OCSP_BASIC CA_OID_PKIX_OCSP "\x01"
#define CA_OID_OCSP_NONCE CA_OID_PKIX_OCSP "\x02"

/* ca_ocsp_certid_parse (ca_ocsp_req.c): one CertID element from *in, with the decoder's rules;
 * the response encoder uses it to echo only CertIDs the decoder would accept. */
ZTCA_RC ca_ocsp_certid_parse(ca_ocsp_certid *out, der_cur *in);

/* ca_crl_reason_is_allowed (ca_crl.c): a CRLReason a full CRL or an OCSP response may carry:
 * 0-6, 9 and 10 (7 is unused, removeFromCRL(8) is for delta CRLs, RFC 5280 5.3.1). */
bool ca_crl_reason_is_allowed(ca_crl_reason reason);

/* ca_pem_concat: malloc'd a then b (for chains). */
ZTCA_RC ca_pem_concat(char **out, const char *a, const char *b);

#endif /* ZTCA_CA_INTERNAL_H */
