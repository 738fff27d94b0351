/* agent_keyfile.c: the "TSS2 PRIVATE KEY" PEM of a TPM-resident key, the format tpm2-openssl,
 * tpm2-tss-engine and the kernel's trusted keys share (draft-bottomley-tpm2-keys, "ASN.1
 * Specification for TPM 2.0 Key Files"). Written and read with core/der.h. */
#include <string.h>

#include "core/der.h"
#include "enroll/agent/agent.h"

/* id-loadablekey 2.23.133.10.1.3 (TCG), DER contents octets. */
#define AGENT_OID_LOADABLE_KEY "\x67\x81\x05\x0a\x01\x03"
#define AGENT_TSS2_LABEL       "TSS2 PRIVATE KEY"
#define AGENT_TSS2_MAX         ((size_t)4096)

/* TPMKey ::= SEQUENCE {
 *     type      OBJECT IDENTIFIER,              -- id-loadablekey
 *     emptyAuth [0] EXPLICIT BOOLEAN OPTIONAL,
 *     policy    [1] EXPLICIT SEQUENCE OF TPMPolicy OPTIONAL,
 *     secret    [2] EXPLICIT OCTET STRING OPTIONAL,
 *     parent    INTEGER,
 *     pubkey    OCTET STRING,                   -- TPM2B_PUBLIC
 *     privkey   OCTET STRING }                  -- TPM2B_PRIVATE */
ztca_rc
agent_tss2_key_pem(char **out, size_t *out_len, uint32_t parent, const attest_tpm_obj *key)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf b;
    uint8_t *der = NULL;
    size_t der_len = 0;
    der_buf_init(&b, AGENT_TSS2_MAX);
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(DER_ADD_OID(&b, AGENT_OID_LOADABLE_KEY));
    /* emptyAuth TRUE: the key has no password (notes P8: tpm2_encodeobject 5.4 inverts it). */
    ZTCA_CHECK(der_begin(&b, DER_CONTEXT_C(0)));
    ZTCA_CHECK(der_add_bool(&b, true));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_add_uint64(&b, parent));
    ZTCA_CHECK(der_add_tlv(&b, DER_OCTETSTRING, key->pub, key->pub_len));
    ZTCA_CHECK(der_add_tlv(&b, DER_OCTETSTRING, key->priv, key->priv_len));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_buf_take(&b, &der, &der_len));
    ZTCA_CHECK(ztca_pem_encode(out, out_len, AGENT_TSS2_LABEL, der, der_len));
out:
    ztca_free(der);
    der_buf_free(&b);
    return rc;
}

ztca_rc
agent_tss2_key_parse(attest_tpm_obj *out, uint32_t *out_parent, const uint8_t *pem, size_t pem_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t *der = NULL;
    size_t der_len = 0;
    uint64_t parent = 0;
    bool empty_auth = false, present = false;
    der_cur top, seq, oid, auth, pub, priv;
    attest_tpm_obj o;
    memset(&o, 0, sizeof(o));
    ZTCA_CHECK(ztca_pem_decode_one(&der, &der_len, AGENT_TSS2_LABEL, pem, pem_len));
    top = der_cur_make(der, der_len);
    ZTCA_CHECK(der_get(&top, &seq, DER_SEQUENCE));
    ZTCA_CHECK(der_expect_end(&top));
    ZTCA_CHECK(der_get_oid(&seq, &oid));
    ZTCA_REQUIRE(DER_OID_IS(&oid, AGENT_OID_LOADABLE_KEY), ZTCA_ERR_BAD_INPUT,
                 "TSS2 key: not a loadable key");
    ZTCA_CHECK(der_get_optional(&seq, &auth, &present, DER_CONTEXT_C(0)));
    if (present) {
        ZTCA_CHECK(der_get_bool(&auth, &empty_auth));
        ZTCA_CHECK(der_expect_end(&auth));
    }
    /* ztca-agent's keys have no password and no policy. */
    ZTCA_REQUIRE(empty_auth, ZTCA_ERR_BAD_INPUT, "TSS2 key: the key needs a password");
    ZTCA_CHECK(der_get_uint64(&seq, &parent));
    ZTCA_REQUIRE(parent <= UINT32_MAX, ZTCA_ERR_BAD_INPUT, "TSS2 key: parent is not a handle");
    ZTCA_CHECK(der_get(&seq, &pub, DER_OCTETSTRING));
    ZTCA_CHECK(der_get(&seq, &priv, DER_OCTETSTRING));
    ZTCA_CHECK(der_expect_end(&seq));
    ZTCA_REQUIRE(pub.len > 0 && pub.len <= sizeof(o.pub) && priv.len > 0
                     && priv.len <= sizeof(o.priv),
                 ZTCA_ERR_BAD_INPUT, "TSS2 key: public or private part of a bad size");
    memcpy(o.pub, pub.p, pub.len);
    o.pub_len = pub.len;
    memcpy(o.priv, priv.p, priv.len);
    o.priv_len = priv.len;
    *out = o;
    *out_parent = (uint32_t)parent;
out:
    ztca_free(der);
    return rc;
}
