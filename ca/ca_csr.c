/* ca_csr.c: PKCS#10 intake (RFC 2986). mbedTLS parses the request; our strict DER reader checks
 * its outer structure and takes the exact SubjectPublicKeyInfo bytes; the signature goes through
 * the verifier interface. */
#include <string.h>

#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_csr.h>

#include "ca/internal.h"

#if MBEDTLS_VERSION_MAJOR >= 3
#define CA_MBED_PRIV(x) MBEDTLS_PRIVATE(x)
#else
#define CA_MBED_PRIV(x) x
#endif

void
ca_csr_init(ca_csr *csr)
{
    memset(csr, 0, sizeof(*csr));
}

void
ca_csr_free(ca_csr *csr)
{
    if (csr == NULL) {
        return;
    }
    ztca_free(csr->spki);
    ca_csr_init(csr);
}

/* CertificationRequest ::= SEQUENCE { certificationRequestInfo CertificationRequestInfo,
 *     signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER { v1(0) }, subject Name,
 *     subjectPKInfo SubjectPublicKeyInfo, attributes [0] Attributes }          (RFC 2986 4) */
static ztca_rc
ca_csr_spki(der_cur *out_spki, const uint8_t *der, size_t der_len)
{
    der_cur c = der_cur_make(der, der_len);
    der_cur req, info, alg, sig, subject, attrs;
    uint64_t version = 0;
    uint8_t unused = 0;
    ZTCA_GUARD(der_get(&c, &req, DER_SEQUENCE));
    ZTCA_GUARD(der_expect_end(&c));
    ZTCA_GUARD(der_get(&req, &info, DER_SEQUENCE));
    ZTCA_GUARD(der_get(&req, &alg, DER_SEQUENCE));
    ZTCA_GUARD(der_get_bitstring(&req, &sig, &unused));
    ZTCA_GUARD(der_expect_end(&req));
    ZTCA_GUARD(der_get_uint64(&info, &version));
    ZTCA_ENSURE(version == 0, ZTCA_ERR_BAD_INPUT, "CSR: version must be v1 (RFC 2986 4.1)");
    ZTCA_GUARD(der_get(&info, &subject, DER_SEQUENCE));
    ZTCA_GUARD(der_get_element(&info, out_spki, DER_SEQUENCE));
    ZTCA_GUARD(der_get(&info, &attrs, DER_CONTEXT_C(0)));
    ZTCA_GUARD(der_expect_end(&info));
    return ZTCA_RC_OK;
}

static ztca_rc
ca_csr_md(ca_md *out, mbedtls_md_type_t md)
{
    switch (md) {
    case MBEDTLS_MD_SHA256:
        *out = CA_MD_SHA256;
        return ZTCA_RC_OK;
    case MBEDTLS_MD_SHA384:
        *out = CA_MD_SHA384;
        return ZTCA_RC_OK;
    case MBEDTLS_MD_SHA512:
        *out = CA_MD_SHA512;
        return ZTCA_RC_OK;
    default:
        ZTCA_BAIL(ZTCA_ERR_UNSUPPORTED,
                  "CSR signature hash not accepted: use SHA-256, SHA-384 or SHA-512");
    }
}

ztca_rc
ca_csr_parse(ca_csr *out, const uint8_t *in, size_t in_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    uint8_t *der = NULL;
    size_t der_len = 0;
    der_cur spki;
    ca_md md = CA_MD_SHA256;
    ca_sig_scheme scheme;
    uint8_t hash[CA_HASH_MAX];
    ca_csr res;
    ca_csr_init(&res);

    ZTCA_REQUIRE(in_len > 0 && in_len <= CA_CSR_MAX, ZTCA_ERR_BAD_INPUT,
                 "CSR: empty or larger than 16 KiB");
    if (in[0] == 0x30) {
        der = ztca_malloc(in_len);
        ZTCA_REQUIRE(der != NULL, ZTCA_ERR_NOMEM, "CSR: out of memory");
        memcpy(der, in, in_len);
        der_len = in_len;
    } else {
        ztca_pem_list list;
        ztca_pem_list_init(&list);
        rc = ztca_pem_decode_all(&list, in, in_len);
        if (ZTCA_IS_OK(rc) && list.num_blocks == 1
            && (strcmp(list.blocks[0].label, "CERTIFICATE REQUEST") == 0
                || strcmp(list.blocks[0].label, "NEW CERTIFICATE REQUEST") == 0)) {
            der = list.blocks[0].der;
            der_len = list.blocks[0].der_len;
            list.blocks[0].der = NULL;
        } else if (ZTCA_IS_OK(rc)) {
            rc = ZTCA_NOTE(ZTCA_ERR_BAD_INPUT,
                           "CSR: expected one PEM block \"CERTIFICATE REQUEST\"", 0);
        }
        ztca_pem_list_free(&list);
        ZTCA_CHECK(rc);
    }

    ZTCA_CHECK(ca_csr_spki(&spki, der, der_len));
    int r = mbedtls_x509_csr_parse_der(&csr, der, der_len);
    ZTCA_REQUIRE(r != MBEDTLS_ERR_PK_UNKNOWN_PK_ALG, ZTCA_ERR_UNSUPPORTED,
                 "CSR: key algorithm not supported (ECDSA P-256/P-384 or RSA 2048-4096 only)");
    ZTCA_REQUIRE(r == 0, ZTCA_ERR_BAD_INPUT, "CSR: not a valid PKCS#10 request");
    ZTCA_CHECK(ca_pubkey_check(&res.key, spki.p, spki.len));

    /* Proof of possession: the request is signed by the key it asks us to certify. */
    ZTCA_CHECK(ca_csr_md(&md, csr.CA_MBED_PRIV(sig_md)));
    switch (csr.CA_MBED_PRIV(sig_pk)) {
    case MBEDTLS_PK_ECDSA:
        scheme = CA_SIG_ECDSA;
        break;
    case MBEDTLS_PK_RSA:
        scheme = CA_SIG_RSA_PKCS1;
        break;
    case MBEDTLS_PK_RSASSA_PSS:
        scheme = CA_SIG_RSA_PSS;
        break;
    default:
        ZTCA_REQUIRE(false, ZTCA_ERR_UNSUPPORTED, "CSR: unsupported signature algorithm");
    }
    ZTCA_CHECK(ca_hash(md, csr.cri.p, csr.cri.len, hash, sizeof(hash)));
    rc = ca_verify(spki.p, spki.len, scheme, md, hash, ca_md_size(md), csr.CA_MBED_PRIV(sig).p,
                   csr.CA_MBED_PRIV(sig).len);
    ZTCA_REQUIRE(ZTCA_IS_OK(rc), ZTCA_ERR_CRYPTO,
                 "CSR: signature does not verify with its own key (no proof of possession)");

    res.spki = ztca_malloc(spki.len);
    ZTCA_REQUIRE(res.spki != NULL, ZTCA_ERR_NOMEM, "CSR: out of memory");
    memcpy(res.spki, spki.p, spki.len);
    res.spki_len = spki.len;
    *out = res;
    ca_csr_init(&res);
out:
    ca_csr_free(&res);
    mbedtls_x509_csr_free(&csr);
    ztca_free(der);
    return rc;
}
