/* ca_cert.c: X.509 v3 certificates (RFC 5280 4.1) on the DER writer: extensions, the
 * TBSCertificate and its signature, and the strict structural reader used for our own CA
 * certificates. mbedTLS 2.28's writer cannot express URI SANs or custom extensions. */
#include <string.h>

#include <mbedtls/oid.h>

#include "ca/internal.h"

ztca_rc
ca_spki_key_id(uint8_t out[CA_KEY_ID_LEN], const uint8_t *spki, size_t spki_len)
{
    /* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
     *                                     subjectPublicKey BIT STRING } */
    der_cur c = der_cur_make(spki, spki_len);
    der_cur seq, alg, bits;
    uint8_t unused;
    ZTCA_GUARD(der_get(&c, &seq, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&c));
    ZTCA_GUARD(der_get(&seq, &alg, DER_SEQUENCE));
    ZTCA_GUARD(der_get_bitstring(&seq, &bits, &unused));
    ZTCA_GUARD(der_expect_end(&seq));
    /* RFC 5280 4.2.1.2 (1): SHA-1 of the value of the BIT STRING, excluding tag, length and the
     * unused-bits octet; what openssl computes too, so identifiers match across tools. */
    return ca_hash(CA_MD_SHA1, bits.p, bits.len, out, CA_KEY_ID_LEN);
}

ztca_rc
ca_ext_begin(der_buf *b, const char *oid, size_t oid_len, bool critical)
{
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_add_oid(b, oid, oid_len));
    if (critical) {
        ZTCA_GUARD(der_add_bool(b, true)); /* FALSE is the DEFAULT and is never encoded */
    }
    return der_begin(b, DER_OCTETSTRING);
}

ztca_rc
ca_ext_end(der_buf *b)
{
    ZTCA_GUARD(der_end(b));
    return der_end(b);
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 *                                 pathLenConstraint INTEGER (0..MAX) OPTIONAL } (4.2.1.9) */
ztca_rc
ca_ext_basic_constraints(der_buf *b, bool is_ca, int path_len)
{
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_BASIC_CONSTRAINTS,
                            sizeof(MBEDTLS_OID_BASIC_CONSTRAINTS) - 1, true));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    if (is_ca) {
        ZTCA_GUARD(der_add_bool(b, true));
        if (path_len >= 0) {
            ZTCA_GUARD(der_add_uint64(b, (uint64_t)path_len));
        }
    }
    ZTCA_GUARD(der_end(b));
    return ca_ext_end(b);
}

/* KeyUsage ::= BIT STRING (4.2.1.3), critical. */
ztca_rc
ca_ext_key_usage(der_buf *b, uint16_t bits)
{
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_KEY_USAGE, sizeof(MBEDTLS_OID_KEY_USAGE) - 1, true));
    ZTCA_GUARD(der_add_bits(b, bits));
    return ca_ext_end(b);
}

/* ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (4.2.1.12), non-critical. */
ztca_rc
ca_ext_eku(der_buf *b, unsigned eku)
{
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                            sizeof(MBEDTLS_OID_EXTENDED_KEY_USAGE) - 1, false));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    if (eku & CA_EKU_SERVER) {
        ZTCA_GUARD(DER_ADD_OID(b, MBEDTLS_OID_SERVER_AUTH));
    }
    if (eku & CA_EKU_CLIENT) {
        ZTCA_GUARD(DER_ADD_OID(b, MBEDTLS_OID_CLIENT_AUTH));
    }
    if (eku & CA_EKU_OCSP) {
        ZTCA_GUARD(DER_ADD_OID(b, MBEDTLS_OID_OCSP_SIGNING));
    }
    ZTCA_GUARD(der_end(b));
    return ca_ext_end(b);
}

/* SubjectKeyIdentifier ::= KeyIdentifier (4.2.1.2). */
ztca_rc
ca_ext_ski(der_buf *b, const uint8_t key_id[CA_KEY_ID_LEN])
{
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER,
                            sizeof(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER) - 1, false));
    ZTCA_GUARD(der_add_tlv(b, DER_OCTETSTRING, key_id, CA_KEY_ID_LEN));
    return ca_ext_end(b);
}

/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] KeyIdentifier OPTIONAL, ... } */
ztca_rc
ca_ext_aki(der_buf *b, const uint8_t *key_id, size_t key_id_len)
{
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
                            sizeof(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER) - 1, false));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(0), key_id, key_id_len));
    ZTCA_GUARD(der_end(b));
    return ca_ext_end(b);
}

ztca_rc
ca_cert_sign(uint8_t **out, size_t *out_len, ca_signer *signer, const ca_cert_spec *spec)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf tbs, cert;
    der_buf_init(&tbs, CA_CERT_MAX);
    der_buf_init(&cert, CA_CERT_MAX);
    uint8_t *tbs_der = NULL;
    size_t tbs_len = 0;
    size_t alg_len = 0;
    const uint8_t *alg = ca_signer_sig_alg(signer, &alg_len);
    ca_md md = ca_signer_md(signer);
    uint8_t hash[CA_HASH_MAX];
    uint8_t sig[CA_SIG_MAX];
    size_t sig_len = 0;

    /* TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, serialNumber,
     *   signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name,
     *   subjectPublicKeyInfo, extensions [3] EXPLICIT Extensions OPTIONAL }   (4.1) */
    ZTCA_CHECK(der_begin(&tbs, DER_SEQUENCE));
    ZTCA_CHECK(der_begin(&tbs, DER_CONTEXT_C(0)));
    ZTCA_CHECK(der_add_uint64(&tbs, 2)); /* v3 */
    ZTCA_CHECK(der_end(&tbs));
    ZTCA_CHECK(der_add_uint_bytes(&tbs, spec->serial, spec->serial_len));
    ZTCA_CHECK(der_add_raw(&tbs, alg, alg_len));
    ZTCA_CHECK(der_add_raw(&tbs, spec->issuer_name, spec->issuer_name_len));
    ZTCA_CHECK(der_begin(&tbs, DER_SEQUENCE));
    ZTCA_CHECK(der_add_time(&tbs, spec->not_before));
    ZTCA_CHECK(der_add_time(&tbs, spec->not_after));
    ZTCA_CHECK(der_end(&tbs));
    ZTCA_CHECK(der_add_raw(&tbs, spec->subject_name, spec->subject_name_len));
    ZTCA_CHECK(der_add_raw(&tbs, spec->spki, spec->spki_len));
    if (spec->extensions_len > 0) {
        ZTCA_CHECK(der_begin(&tbs, DER_CONTEXT_C(3)));
        ZTCA_CHECK(der_begin(&tbs, DER_SEQUENCE));
        ZTCA_CHECK(der_add_raw(&tbs, spec->extensions, spec->extensions_len));
        ZTCA_CHECK(der_end(&tbs));
        ZTCA_CHECK(der_end(&tbs));
    }
    ZTCA_CHECK(der_end(&tbs));
    ZTCA_CHECK(der_buf_take(&tbs, &tbs_der, &tbs_len));

    /* Sign exactly the bytes emitted. */
    ZTCA_CHECK(ca_hash(md, tbs_der, tbs_len, hash, sizeof(hash)));
    ZTCA_CHECK(ca_signer_sign(signer, md, hash, ca_md_size(md), sig, sizeof(sig), &sig_len));

    /* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
    ZTCA_CHECK(der_begin(&cert, DER_SEQUENCE));
    ZTCA_CHECK(der_add_raw(&cert, tbs_der, tbs_len));
    ZTCA_CHECK(der_add_raw(&cert, alg, alg_len));
    ZTCA_CHECK(der_add_bitstring(&cert, sig, sig_len));
    ZTCA_CHECK(der_end(&cert));
    ZTCA_CHECK(der_buf_take(&cert, out, out_len));
out:
    ztca_free(tbs_der);
    der_buf_free(&tbs);
    der_buf_free(&cert);
    return rc;
}

ztca_rc
ca_cert_split(ca_cert_fields *out, const uint8_t *der, size_t der_len)
{
    der_cur c = der_cur_make(der, der_len);
    der_cur cert, tbs_elem, tbs, version, alg, validity, sig_alg, ext_wrap;
    ca_cert_fields f;
    uint64_t v = 0;
    uint8_t unused;
    der_cur sig;
    bool present;
    memset(&f, 0, sizeof(f));

    ZTCA_ENSURE(der_len <= CA_CERT_MAX, ZTCA_ERR_BAD_INPUT, "certificate too large");
    /* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
    ZTCA_GUARD(der_get(&c, &cert, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&c));
    ZTCA_GUARD(der_get_element(&cert, &tbs_elem, DER_SEQUENCE));
    ZTCA_GUARD(der_get(&cert, &sig_alg, DER_SEQUENCE));
    ZTCA_GUARD(der_get_bitstring(&cert, &sig, &unused));
    ZTCA_GUARD(der_expect_end(&cert));
    f.tbs = tbs_elem;

    der_cur tbs_outer = tbs_elem;
    ZTCA_GUARD(der_get(&tbs_outer, &tbs, DER_SEQUENCE));
    ZTCA_GUARD(der_get(&tbs, &version, DER_CONTEXT_C(0)));
    ZTCA_GUARD(der_get_uint64(&version, &v));
    ZTCA_GUARD(der_expect_end(&version));
    ZTCA_ENSURE(v == 2, ZTCA_ERR_UNSUPPORTED, "RFC 5280 4.1.2.1: only v3 certificates");
    ZTCA_GUARD(der_get_serial(&tbs, &f.serial));
    ZTCA_GUARD(der_get(&tbs, &alg, DER_SEQUENCE));
    ZTCA_GUARD(der_get_element(&tbs, &f.issuer, DER_SEQUENCE));
    ZTCA_GUARD(der_get(&tbs, &validity, DER_SEQUENCE));
    ZTCA_GUARD(der_get_time(&validity, &f.not_before));
    ZTCA_GUARD(der_get_time(&validity, &f.not_after));
    ZTCA_GUARD(der_expect_end(&validity));
    ZTCA_GUARD(der_get_element(&tbs, &f.subject, DER_SEQUENCE));
    ZTCA_GUARD(der_get_element(&tbs, &f.spki, DER_SEQUENCE));
    /* issuerUniqueID [1] and subjectUniqueID [2]: CAs must not generate them (4.1.2.8). */
    ZTCA_ENSURE(!der_peek_tag(&tbs, DER_CONTEXT(1)) && !der_peek_tag(&tbs, DER_CONTEXT(2)),
                ZTCA_ERR_UNSUPPORTED, "RFC 5280 4.1.2.8: unique identifiers are not supported");
    ZTCA_GUARD(der_get_optional(&tbs, &ext_wrap, &present, DER_CONTEXT_C(3)));
    if (present) {
        ZTCA_GUARD(der_get(&ext_wrap, &f.extensions, DER_SEQUENCE));
        ZTCA_GUARD(der_expect_end(&ext_wrap));
        ZTCA_ENSURE(f.extensions.len > 0, ZTCA_ERR_BAD_INPUT,
                    "RFC 5280 4.1: Extensions SIZE (1..MAX)");
    }
    ZTCA_GUARD(der_expect_end(&tbs));
    *out = f;
    return ZTCA_RC_OK;
}

ztca_rc
ca_cert_find_ext(const ca_cert_fields *f, const char *oid, size_t oid_len, der_cur *out_value,
                 bool *out_critical)
{
    der_cur exts = f->extensions;
    while (exts.len > 0) {
        /* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue } */
        der_cur ext, id, value;
        bool critical = false;
        ZTCA_GUARD(der_get(&exts, &ext, DER_SEQUENCE));
        ZTCA_GUARD(der_get_oid(&ext, &id));
        if (der_peek_tag(&ext, DER_BOOLEAN)) {
            ZTCA_GUARD(der_get_bool(&ext, &critical));
            ZTCA_ENSURE(critical, ZTCA_ERR_BAD_INPUT, "DER: explicitly encoded DEFAULT FALSE");
        }
        ZTCA_GUARD(der_get(&ext, &value, DER_OCTETSTRING));
        ZTCA_GUARD(der_expect_end(&ext));
        if (der_oid_equal(&id, oid, oid_len)) {
            *out_value = value;
            if (out_critical != NULL) {
                *out_critical = critical;
            }
            return ZTCA_RC_OK;
        }
    }
    ZTCA_BAIL(ZTCA_ERR_NOT_FOUND, "certificate extension not present");
}

/* SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName: the one
 * uniformResourceIdentifier [6] IA5String, if any. */
static ztca_rc
ca_cert_uri_san(char *out, size_t out_size, der_cur san)
{
    der_cur names;
    bool found = false;
    ZTCA_GUARD(der_get(&san, &names, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&san));
    ZTCA_ENSURE(names.len > 0, ZTCA_ERR_BAD_INPUT, "RFC 5280 4.2.1.6: empty GeneralNames");
    while (names.len > 0) {
        uint8_t tag;
        der_cur v;
        ZTCA_GUARD(der_get_any(&names, &tag, &v, NULL));
        if (tag != DER_CONTEXT(6)) {
            continue;
        }
        ZTCA_ENSURE(!found, ZTCA_ERR_BAD_INPUT, "certificate has more than one URI SAN");
        ZTCA_ENSURE(v.len > 0 && v.len < out_size, ZTCA_ERR_BAD_INPUT, "URI SAN length");
        for (size_t i = 0; i < v.len; i++) {
            ZTCA_ENSURE(v.p[i] > 0x20 && v.p[i] < 0x7f, ZTCA_ERR_BAD_INPUT,
                        "URI SAN: not printable IA5");
        }
        memcpy(out, v.p, v.len);
        out[v.len] = '\0';
        found = true;
    }
    return ZTCA_RC_OK;
}

static ztca_rc
ca_cert_utf8(char *out, size_t out_size, const der_cur *v)
{
    ZTCA_ENSURE(v->len > 0 && v->len < out_size, ZTCA_ERR_BAD_INPUT, "ztca-identity: length");
    ZTCA_ENSURE(memchr(v->p, 0, v->len) == NULL, ZTCA_ERR_BAD_INPUT, "ztca-identity: NUL");
    memcpy(out, v->p, v->len);
    out[v->len] = '\0';
    return ZTCA_RC_OK;
}

ztca_rc
ca_cert_info_parse(ca_cert_info *out, const uint8_t *der, size_t der_len)
{
    ca_cert_fields f;
    ca_cert_info info;
    der_cur v;
    ztca_rc rc;
    memset(&info, 0, sizeof(info));
    ZTCA_GUARD(ca_cert_split(&f, der, der_len));
    ZTCA_GUARD(ztca_hex_encode(info.serial_hex, sizeof(info.serial_hex), f.serial.p, f.serial.len));
    info.not_before = f.not_before;
    info.not_after = f.not_after;
    rc = ca_cert_find_ext(&f, MBEDTLS_OID_SUBJECT_ALT_NAME,
                          sizeof(MBEDTLS_OID_SUBJECT_ALT_NAME) - 1, &v, NULL);
    if (ZTCA_IS_OK(rc)) {
        ZTCA_GUARD(ca_cert_uri_san(info.uri, sizeof(info.uri), v));
    } else if (rc.err != ZTCA_ERR_NOT_FOUND) {
        return rc;
    }
    rc = ca_cert_find_ext(&f, CA_OID_ZTCA_IDENTITY, sizeof(CA_OID_ZTCA_IDENTITY) - 1, &v, NULL);
    if (ZTCA_IS_OK(rc)) {
        /* ztca-identity ::= SEQUENCE { deviceId UTF8String, user UTF8String OPTIONAL,
         *                              attestation ENUMERATED } */
        der_cur seq, s;
        uint32_t level = 0;
        bool present = false;
        ZTCA_GUARD(der_get(&v, &seq, DER_SEQUENCE));
        ZTCA_GUARD(der_expect_end(&v));
        ZTCA_GUARD(der_get(&seq, &s, DER_UTF8STRING));
        ZTCA_GUARD(ca_cert_utf8(info.device_id, sizeof(info.device_id), &s));
        ZTCA_GUARD(der_get_optional(&seq, &s, &present, DER_UTF8STRING));
        if (present) {
            ZTCA_GUARD(ca_cert_utf8(info.user, sizeof(info.user), &s));
        }
        ZTCA_GUARD(der_get_enumerated(&seq, &level));
        ZTCA_GUARD(der_expect_end(&seq));
        ZTCA_ENSURE(level <= CA_ATTEST_TPM_MEASURED_BOOT, ZTCA_ERR_BAD_INPUT,
                    "ztca-identity: unknown attestation level");
        info.attestation = (ca_attestation)level;
        info.has_identity = true;
    } else if (rc.err != ZTCA_ERR_NOT_FOUND) {
        return rc;
    }
    *out = info;
    return ZTCA_RC_OK;
}

bool
ca_cert_has_key(const uint8_t *der, size_t der_len, const uint8_t *spki, size_t spki_len)
{
    ca_cert_fields f;
    if (!ZTCA_IS_OK(ca_cert_split(&f, der, der_len))) {
        ztca_clear_error();
        return false;
    }
    return f.spki.len == spki_len && memcmp(f.spki.p, spki, spki_len) == 0;
}
