/* attest_ek.c: the endorsement key. Its certificate (TCG EK Credential Profile 2.5, section 3)
 * chains to a TPM manufacturer root the operator trusts, or its public key was pre-registered;
 * its TPM2B_PUBLIC must hold the same key. X.509 is mbedTLS's: we parse with the extension
 * callback so TCG-style critical extensions do not make the parse fail, and verify with an
 * explicit profile (SHA-1 vendor chains only when the operator chose so). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "attest/internal.h"
#include "core/der.h"

/* tcg-kp-EKCertificate 2.23.133.8.1 (EK Credential Profile 3.2.16) */
#define ATTEST_OID_TCG_KP_EK "\x67\x81\x05\x08\x01"
/* id-ce-policyConstraints 2.5.29.36, id-ce-inhibitAnyPolicy 2.5.29.54 (RFC 5280 4.2.1.11/14) */
#define ATTEST_OID_POLICY_CONSTRAINTS MBEDTLS_OID_ID_CE "\x24"
#define ATTEST_OID_INHIBIT_ANY_POLICY MBEDTLS_OID_ID_CE "\x36"

#define ATTEST_ROOTS_MAX 1024 /* certificates in DIR/tpm-roots/ */

struct attest_roots {
    /* Verifying with an EC anchor lets mbedTLS build its comb table in the anchor's group on
     * first use (MBEDTLS_ECP_FIXED_POINT_OPTIM), without a lock: verifications take this mutex.
     * A pointer, so that verification can take a const list. */
    pthread_mutex_t *lock;
    attest_chain_profile profile;
    mbedtls_x509_crt_profile crt_profile;
    mbedtls_x509_crt *anchors; /* owned; self-signed CA certificates */
    size_t num_anchors;
    uint8_t **inter; /* owned DER of the vendor intermediates, re-parsed per verification */
    size_t *inter_lens;
    size_t num_inter;
};

static bool
attest_oid_is(const mbedtls_x509_buf *oid, const char *bytes, size_t len)
{
    return oid != NULL && oid->len == len && memcmp(oid->p, bytes, len) == 0;
}
#define ATTEST_OID_IS(oid, M) attest_oid_is((oid), (M), sizeof(M) - 1)

/* attest_ext_cb: mbedTLS calls it for each extension it does not parse itself, and for a
 * certificatePolicies extension with policies other than anyPolicy. Without it, a critical one
 * fails the parse (notes 5: -0x2562 / -0x2080). Accepted when critical:
 * - subjectDirectoryAttributes (TPM specification and security assertions, EK Credential
 *   Profile 3.2.8; the profile says non-critical, some vendors mark it critical);
 * - certificatePolicies with TCG or vendor policy OIDs (3.2.9);
 * - nameConstraints, policyConstraints, inhibitAnyPolicy in vendor CA certificates.
 * ztca identifies a TPM by its EK key, never by a name or a policy in its chain, so not
 * enforcing these cannot widen what it trusts. Any other unknown critical extension fails. */
static int
attest_ext_cb(void *ctx, mbedtls_x509_crt const *crt, mbedtls_x509_buf const *oid, int critical,
              const unsigned char *p, const unsigned char *end)
{
    (void)ctx;
    (void)crt;
    (void)p;
    (void)end;
    if (!critical || ATTEST_OID_IS(oid, MBEDTLS_OID_SUBJECT_DIRECTORY_ATTRS)
        || ATTEST_OID_IS(oid, MBEDTLS_OID_CERTIFICATE_POLICIES)
        || ATTEST_OID_IS(oid, MBEDTLS_OID_NAME_CONSTRAINTS)
        || ATTEST_OID_IS(oid, ATTEST_OID_POLICY_CONSTRAINTS)
        || ATTEST_OID_IS(oid, ATTEST_OID_INHIBIT_ANY_POLICY)) {
        return 0;
    }
    return MBEDTLS_ERR_X509_INVALID_EXTENSIONS;
}

static int
attest_crt_parse(mbedtls_x509_crt *chain, const uint8_t *der, size_t len)
{
    return mbedtls_x509_crt_parse_der_with_ext_cb(chain, der, len, 1, attest_ext_cb, NULL);
}

/* ---- the trust list ----------------------------------------------------------------------- */

ztca_rc
attest_roots_new(attest_roots **out, attest_chain_profile profile)
{
    attest_roots *r = ztca_calloc(1, sizeof(*r));
    ZTCA_ENSURE(r != NULL, ZTCA_ERR_NOMEM, "tpm roots: out of memory");
    r->anchors = ztca_malloc(sizeof(*r->anchors));
    r->lock = ztca_malloc(sizeof(*r->lock));
    if (r->anchors == NULL || r->lock == NULL || pthread_mutex_init(r->lock, NULL) != 0) {
        free(r->anchors);
        free(r->lock);
        free(r);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "tpm roots: out of memory");
    }
    mbedtls_x509_crt_init(r->anchors);
    r->profile = profile;
    r->crt_profile = mbedtls_x509_crt_profile_default;
    if (profile == ATTEST_CHAIN_SHA1) {
        /* Older TPM vendor roots and intermediates are signed with SHA-1 (notes 5: flags 0x4000
         * under the default profile). Only an explicit operator choice turns this on, and it
         * applies to EK chains only, never to ztca's own PKI. */
        r->crt_profile.allowed_mds |= MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA1);
    }
    *out = r;
    return ZTCA_RC_OK;
}

void
attest_roots_free(attest_roots *r)
{
    if (r == NULL) {
        return;
    }
    mbedtls_x509_crt_free(r->anchors);
    free(r->anchors);
    pthread_mutex_destroy(r->lock);
    free(r->lock);
    for (size_t i = 0; i < r->num_inter; i++) {
        free(r->inter[i]);
    }
    free(r->inter);
    free(r->inter_lens);
    free(r);
}

size_t
attest_roots_num_anchors(const attest_roots *r)
{
    return r->num_anchors;
}

/* attest_roots_check: the certificate parses and is a CA; *out_anchor when it is self-issued. */
static ztca_rc
attest_roots_check(bool *out_anchor, const uint8_t *der, size_t len)
{
    mbedtls_x509_crt c;
    mbedtls_x509_crt_init(&c);
    int r = attest_crt_parse(&c, der, len);
    bool ca = r == 0 && c.ca_istrue;
    bool self = ca && c.issuer_raw.len == c.subject_raw.len
                && memcmp(c.issuer_raw.p, c.subject_raw.p, c.subject_raw.len) == 0;
    mbedtls_x509_crt_free(&c);
    ZTCA_ENSURE(r == 0, ZTCA_ERR_BAD_INPUT, "tpm roots: certificate does not parse");
    ZTCA_ENSURE(ca, ZTCA_ERR_BAD_INPUT, "tpm roots: not a CA certificate (basicConstraints cA)");
    *out_anchor = self;
    return ZTCA_RC_OK;
}

ztca_rc
attest_roots_add(attest_roots *roots, const uint8_t *data, size_t len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ztca_pem_list list;
    ztca_pem_list_init(&list);
    const uint8_t *ders[ZTCA_PEM_MAX_BLOCKS];
    size_t lens[ZTCA_PEM_MAX_BLOCKS];
    bool anchor[ZTCA_PEM_MAX_BLOCKS];
    size_t num = 0;

    ZTCA_REQUIRE(data != NULL && len > 0 && len <= ZTCA_PEM_MAX, ZTCA_ERR_BAD_INPUT,
                 "tpm roots: empty or too large");
    if (data[0] == 0x30) {
        ders[0] = data;
        lens[0] = len;
        num = 1;
    } else {
        ZTCA_CHECK(ztca_pem_decode_all(&list, data, len));
        for (size_t i = 0; i < list.num_blocks && i < ZTCA_PEM_MAX_BLOCKS; i++) {
            ZTCA_REQUIRE(strcmp(list.blocks[i].label, "CERTIFICATE") == 0, ZTCA_ERR_BAD_INPUT,
                         "tpm roots: only CERTIFICATE blocks");
            ders[num] = list.blocks[i].der;
            lens[num] = list.blocks[i].der_len;
            num++;
        }
    }
    ZTCA_REQUIRE(roots->num_anchors + roots->num_inter + num <= ATTEST_ROOTS_MAX,
                 ZTCA_ERR_BAD_INPUT, "tpm roots: too many certificates");
    /* Check every certificate first, so a bad file adds nothing. */
    for (size_t i = 0; i < num; i++) {
        ZTCA_CHECK(attest_roots_check(&anchor[i], ders[i], lens[i]));
    }
    for (size_t i = 0; i < num; i++) {
        if (anchor[i]) {
            ZTCA_REQUIRE(attest_crt_parse(roots->anchors, ders[i], lens[i]) == 0, ZTCA_ERR_INTERNAL,
                         "tpm roots: re-parse");
            roots->num_anchors++;
            continue;
        }
        uint8_t **inter = realloc(roots->inter, (roots->num_inter + 1) * sizeof(*inter));
        ZTCA_REQUIRE(inter != NULL, ZTCA_ERR_NOMEM, "tpm roots: out of memory");
        roots->inter = inter;
        size_t *ilens = realloc(roots->inter_lens, (roots->num_inter + 1) * sizeof(*ilens));
        ZTCA_REQUIRE(ilens != NULL, ZTCA_ERR_NOMEM, "tpm roots: out of memory");
        roots->inter_lens = ilens;
        uint8_t *copy = ztca_malloc(lens[i]);
        ZTCA_REQUIRE(copy != NULL, ZTCA_ERR_NOMEM, "tpm roots: out of memory");
        memcpy(copy, ders[i], lens[i]);
        roots->inter[roots->num_inter] = copy;
        roots->inter_lens[roots->num_inter] = lens[i];
        roots->num_inter++;
    }
out:
    ztca_pem_list_free(&list);
    return rc;
}

/* ---- EK certificate ----------------------------------------------------------------------- */

/* attest_ek_chain_reason: mbedTLS verification flags to one reason, most specific first: a SHA-1
 * vendor chain is "weak" (the operator may enable the SHA-1 profile), not "untrusted". */
static attest_reason
attest_ek_chain_reason(uint32_t flags)
{
    if (flags
        & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK
           | MBEDTLS_X509_BADCERT_BAD_KEY)) {
        return ATTEST_R_EK_CERT_WEAK;
    }
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        return ATTEST_R_EK_CERT_UNTRUSTED;
    }
    if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) {
        return ATTEST_R_EK_CERT_EXPIRED;
    }
    return ATTEST_R_EK_CERT_UNTRUSTED;
}

/* attest_ek_from_cert_key: the EK parameters MakeCredential needs when only the certificate is
 * known, from the TCG default EK templates (EK Credential Profile 2.5, 2.2.1.4 and 2.2.1.5):
 * L-1 RSA-2048 and L-2 P-256 use SHA-256 and AES-128-CFB; H-3 P-384, H-6 RSA-3072 and H-7
 * RSA-4096 use SHA-384 and AES-256-CFB. */
static ztca_rc
attest_ek_from_cert_key(attest_key *k, attest_reason *why, mbedtls_x509_crt *crt)
{
    mbedtls_pk_type_t t = mbedtls_pk_get_type(&crt->pk);
    size_t bits = mbedtls_pk_get_bitlen(&crt->pk);
    memset(k, 0, sizeof(*k));
    if (t == MBEDTLS_PK_RSA) {
        ATTEST_ENSURE(bits == 2048 || bits == 3072 || bits == 4096, why,
                      ATTEST_R_EK_KEY_UNSUPPORTED, "EK certificate: RSA 2048, 3072 or 4096 only");
        k->type = ATTEST_KEY_RSA;
    } else if (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECKEY_DH) {
        mbedtls_ecp_group_id gid = mbedtls_pk_ec(crt->pk)->grp.id;
        ATTEST_ENSURE(gid == MBEDTLS_ECP_DP_SECP256R1 || gid == MBEDTLS_ECP_DP_SECP384R1, why,
                      ATTEST_R_EK_KEY_UNSUPPORTED, "EK certificate: ECC P-256 or P-384 only");
        k->type = ATTEST_KEY_ECC;
        k->curve = gid == MBEDTLS_ECP_DP_SECP256R1 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
    } else {
        ATTEST_FAIL(why, ATTEST_R_EK_KEY_UNSUPPORTED, "EK certificate: RSA or ECC keys only");
    }
    k->bits = (uint16_t)bits;
    bool low = (k->type == ATTEST_KEY_RSA && bits == 2048) || k->curve == TPM2_ECC_NIST_P256;
    k->name_alg = low ? TPM2_ALG_SHA256 : TPM2_ALG_SHA384;
    k->sym_alg = TPM2_ALG_AES;
    k->sym_mode = TPM2_ALG_CFB;
    k->sym_bits = low ? 128 : 256;
    k->scheme = TPM2_ALG_NULL;
    k->scheme_hash = TPM2_ALG_NULL;
    k->attributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN
                    | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    ATTEST_ENSURE(crt->pk_raw.len <= sizeof(k->spki), why, ATTEST_R_EK_KEY_UNSUPPORTED,
                  "EK certificate: public key too large");
    memcpy(k->spki, crt->pk_raw.p, crt->pk_raw.len);
    k->spki_len = crt->pk_raw.len;
    return ZTCA_RC_OK;
}

ztca_rc
attest_ek_verify(attest_ek *out, attest_reason *why, const attest_roots *roots,
                 const attest_ek_in *in)
{
    ATTEST_BEGIN(why);
    ztca_rc rc = ZTCA_RC_OK;
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    mbedtls_pk_context pub_pk;
    mbedtls_pk_init(&pub_pk);
    attest_ek ek;
    memset(&ek, 0, sizeof(ek));
    uint32_t flags = 0;

    ATTEST_REQUIRE(in->cert != NULL && in->cert_len > 0 && in->cert_len <= CA_CERT_MAX, why,
                   ATTEST_R_EK_CERT_MALFORMED, "EK certificate: empty or too large");
    {
        /* mbedTLS ignores bytes after the certificate: require exactly one DER element (an agent
         * trims the NV index's padding before sending). */
        der_cur c = der_cur_make(in->cert, in->cert_len), elem;
        ATTEST_REQUIRE(
            ZTCA_IS_OK(der_get_element(&c, &elem, DER_SEQUENCE)) && ZTCA_IS_OK(der_expect_end(&c)),
            why, ATTEST_R_EK_CERT_MALFORMED, "EK certificate: not exactly one DER SEQUENCE");
    }
    ATTEST_REQUIRE(attest_crt_parse(&chain, in->cert, in->cert_len) == 0, why,
                   ATTEST_R_EK_CERT_MALFORMED, "EK certificate: X.509 parse failed");
    ATTEST_REQUIRE(in->num_chain <= 8, why, ATTEST_R_EK_CERT_MALFORMED,
                   "EK certificate: more than 8 intermediates");
    for (size_t i = 0; i < in->num_chain; i++) {
        ATTEST_REQUIRE(attest_crt_parse(&chain, in->chain[i], in->chain_lens[i]) == 0, why,
                       ATTEST_R_EK_CERT_MALFORMED, "EK intermediate: X.509 parse failed");
    }
    /* Vendor intermediates from DIR/tpm-roots/ join the untrusted part of the chain: mbedTLS
     * looks for a parent among all certificates that follow the child. */
    for (size_t i = 0; i < roots->num_inter; i++) {
        ZTCA_CHECK_MBEDTLS(attest_crt_parse(&chain, roots->inter[i], roots->inter_lens[i]),
                           ZTCA_ERR_INTERNAL);
    }
    /* The EK key type first: an RSA-1024 EK would otherwise surface as a "weak" chain (mbedTLS
     * applies the profile to the leaf key too), and it also tells a pub-less caller the template.
     */
    ZTCA_CHECK(attest_ek_from_cert_key(&ek.key, why, &chain));
    pthread_mutex_lock(roots->lock);
    int r = mbedtls_x509_crt_verify_with_profile(&chain, roots->anchors, NULL, &roots->crt_profile,
                                                 NULL, &flags, NULL, NULL);
    pthread_mutex_unlock(roots->lock);
    if (r != 0) {
        ATTEST_REQUIRE(false, why, attest_ek_chain_reason(flags),
                       "EK certificate: chain verification failed");
    }
    /* EK Credential Profile 3.2.16: the EKU, when present, is tcg-kp-EKCertificate (mbedTLS also
     * accepts anyExtendedKeyUsage here). The platform certificate's .8.2 fails. */
    ATTEST_REQUIRE(mbedtls_x509_crt_check_extended_key_usage(&chain, ATTEST_OID_TCG_KP_EK,
                                                             sizeof(ATTEST_OID_TCG_KP_EK) - 1)
                       == 0,
                   why, ATTEST_R_EK_CERT_EKU, "EK certificate: EKU lacks 2.23.133.8.1");
    if (in->pub != NULL) {
        ZTCA_CHECK(attest_ek_public_parse(&ek.key, why, in->pub, in->pub_len));
        ZTCA_CHECK(attest_pk_from_spki(&pub_pk, ek.key.spki, ek.key.spki_len));
        ATTEST_REQUIRE(attest_pk_equal(&chain.pk, &pub_pk), why, ATTEST_R_EK_PUB_MISMATCH,
                       "EK TPM2B_PUBLIC does not hold the EK certificate's key");
        ek.from_public = true;
    }
    ek.origin = ATTEST_EK_CERTIFIED;
    *out = ek;
    *why = ATTEST_OK;
out:
    mbedtls_pk_free(&pub_pk);
    mbedtls_x509_crt_free(&chain);
    return rc;
}

ztca_rc
attest_ek_registered(attest_ek *out, attest_reason *why, const uint8_t *pub, size_t pub_len,
                     const uint8_t *registered_spki, size_t spki_len)
{
    ATTEST_BEGIN(why);
    attest_ek ek;
    memset(&ek, 0, sizeof(ek));
    ZTCA_ENSURE(registered_spki != NULL && spki_len > 0, ZTCA_ERR_INTERNAL,
                "registered EK: no key");
    ZTCA_GUARD(attest_ek_public_parse(&ek.key, why, pub, pub_len));
    ATTEST_ENSURE(attest_key_matches_spki(&ek.key, registered_spki, spki_len), why,
                  ATTEST_R_EK_NOT_REGISTERED, "EK public is not the pre-registered key");
    ek.origin = ATTEST_EK_REGISTERED;
    ek.from_public = true;
    *out = ek;
    *why = ATTEST_OK;
    return ZTCA_RC_OK;
}
