/* attest_tpm.c: the device side of DESIGN.md 3 through tpm2-tss ESAPI (attest_tpm.h). Command by
 * command it follows what ../shared/notes/TPM.md measured on swtpm with tpm2-tools, in C:
 * templates of the TCG EK Credential Profile 2.5, PolicySecret(TPM_RH_ENDORSEMENT) for the L
 * templates and the empty password for swtpm's H-3 EK (notes 3.3, P3), nonces as qualifying data
 * for certify and quote (P10), the NULL-scheme TLS key (P7c), and every transient flushed (P4).
 * Structures cross the wire only through Tss2_MU. */
#include "attest/tpm/attest_tpm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "core/der.h"

struct attest_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *ctx;
    int64_t busy_ns;
    uint16_t nv_buffer_max;
};

#define ATTEST_TPM_ECC_P384_TMPL 3

/* TPM2B sizes are UINT16; these copies are bounded by the TPM structures' own capacities. */
#define ATTEST_TPM_GUARD(expr, what)                        \
    do {                                                    \
        TSS2_RC attest_tpm_rc_ = (expr);                    \
        if (attest_tpm_rc_ != TSS2_RC_SUCCESS) {            \
            return attest_tpm_fail(attest_tpm_rc_, (what)); \
        }                                                   \
    } while (0)
#define ATTEST_TPM_CHECK(expr, what)                      \
    do {                                                  \
        TSS2_RC attest_tpm_rc_ = (expr);                  \
        if (attest_tpm_rc_ != TSS2_RC_SUCCESS) {          \
            rc = attest_tpm_fail(attest_tpm_rc_, (what)); \
            goto out;                                     \
        }                                                 \
    } while (0)

/* TPM_RC_LOCKOUT (Part 2 6.6.3): format zero, 0x021 + RC_VER1. */
#define ATTEST_TPM_RC_LOCKOUT 0x921u

static ztca_rc
attest_tpm_fail(TSS2_RC r, const char *what)
{
    if ((r & 0xfffu) == ATTEST_TPM_RC_LOCKOUT) {
        return ZTCA_NOTE(ZTCA_ERR_DENIED,
                         "the TPM is in dictionary-attack lockout; wait for the lockout recovery "
                         "time or clear it (tpm2_dictionarylockout --clear-lockout)",
                         (long)r);
    }
    return ZTCA_NOTE(ZTCA_ERR_TPM, what, (long)r);
}

const char *
attest_tpm_rc_text(long rc)
{
    return Tss2_RC_Decode((TSS2_RC)rc);
}

static int64_t
attest_tpm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
attest_tpm_busy_ns(const attest_tpm *t)
{
    return t->busy_ns;
}

/* ---- connection ---------------------------------------------------------------------------- */

static ztca_rc
attest_tpm_property(attest_tpm *t, TPM2_PT prop, uint32_t *out)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    ATTEST_TPM_GUARD(Esys_GetCapability(t->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        TPM2_CAP_TPM_PROPERTIES, prop, 1, &more, &cap),
                     "TPM2_GetCapability");
    bool found = cap->data.tpmProperties.count == 1
                 && cap->data.tpmProperties.tpmProperty[0].property == prop;
    *out = found ? cap->data.tpmProperties.tpmProperty[0].value : 0;
    Esys_Free(cap);
    ZTCA_ENSURE(found, ZTCA_ERR_TPM, "the TPM does not report a property ztca needs");
    return ZTCA_RC_OK;
}

ztca_rc
attest_tpm_open(attest_tpm **out, const char *tcti, uint32_t *out_lockout_s)
{
    uint32_t perm = 0, value = 0;
    *out_lockout_s = 0;
    attest_tpm *t = ztca_calloc(1, sizeof(*t));
    ZTCA_ENSURE(t != NULL, ZTCA_ERR_NOMEM, "out of memory");
    TSS2_RC r = Tss2_TctiLdr_Initialize(tcti != NULL ? tcti : ATTEST_TPM_DEFAULT_TCTI, &t->tcti);
    if (r != TSS2_RC_SUCCESS) {
        ztca_free(t);
        return ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "no TPM answers at this TCTI", (long)r);
    }
    r = Esys_Initialize(&t->ctx, t->tcti, NULL);
    if (r != TSS2_RC_SUCCESS) {
        attest_tpm_close(t);
        return ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "the TPM at this TCTI does not answer", (long)r);
    }
    ztca_rc rc = attest_tpm_property(t, TPM2_PT_PERMANENT, &perm);
    if (ZTCA_IS_OK(rc) && (perm & TPMA_PERMANENT_INLOCKOUT) != 0) {
        if (ZTCA_IS_OK(attest_tpm_property(t, TPM2_PT_LOCKOUT_RECOVERY, &value))) {
            *out_lockout_s = value;
        }
        rc = ZTCA_NOTE(ZTCA_ERR_DENIED,
                       "the TPM is in dictionary-attack lockout; wait for the lockout recovery "
                       "time or clear it (tpm2_dictionarylockout --clear-lockout)",
                       0);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = attest_tpm_property(t, TPM2_PT_NV_BUFFER_MAX, &value);
        t->nv_buffer_max = (uint16_t)(value > 0 && value < 1024 ? value : 1024);
    }
    if (!ZTCA_IS_OK(rc)) {
        attest_tpm_close(t);
        return rc;
    }
    *out = t;
    return ZTCA_RC_OK;
}

void
attest_tpm_close(attest_tpm *t)
{
    if (t == NULL) {
        return;
    }
    if (t->ctx != NULL) {
        Esys_Finalize(&t->ctx);
    }
    Tss2_TctiLdr_Finalize(&t->tcti);
    ztca_free(t);
}

/* Flushes a transient object or session; closes the metadata of a persistent handle. */
static void
attest_tpm_release(attest_tpm *t, ESYS_TR *h, bool transient)
{
    if (*h == ESYS_TR_NONE) {
        return;
    }
    if (transient) {
        (void)Esys_FlushContext(t->ctx, *h);
    } else {
        (void)Esys_TR_Close(t->ctx, h);
    }
    *h = ESYS_TR_NONE;
}

/* ---- marshalling ----------------------------------------------------------------------------- */

static ztca_rc
attest_tpm_pub_marshal(const TPM2B_PUBLIC *pub, uint8_t *out, size_t *out_len)
{
    size_t off = 0;
    ATTEST_TPM_GUARD(Tss2_MU_TPM2B_PUBLIC_Marshal(pub, out, ATTEST_TPM_PUB_MAX, &off),
                     "TPM2B_PUBLIC marshal");
    *out_len = off;
    return ZTCA_RC_OK;
}

static ztca_rc
attest_tpm_obj_unmarshal(const attest_tpm_obj *o, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv)
{
    size_t off = 0;
    memset(pub, 0, sizeof(*pub));
    memset(priv, 0, sizeof(*priv));
    ATTEST_TPM_GUARD(Tss2_MU_TPM2B_PUBLIC_Unmarshal(o->pub, o->pub_len, &off, pub),
                     "TPM2B_PUBLIC unmarshal");
    ZTCA_ENSURE(off == o->pub_len, ZTCA_ERR_BAD_INPUT, "TPM2B_PUBLIC has trailing bytes");
    off = 0;
    ATTEST_TPM_GUARD(Tss2_MU_TPM2B_PRIVATE_Unmarshal(o->priv, o->priv_len, &off, priv),
                     "TPM2B_PRIVATE unmarshal");
    ZTCA_ENSURE(off == o->priv_len, ZTCA_ERR_BAD_INPUT, "TPM2B_PRIVATE has trailing bytes");
    return ZTCA_RC_OK;
}

static ztca_rc
attest_tpm_obj_marshal(attest_tpm_obj *o, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
    size_t off = 0;
    ZTCA_GUARD(attest_tpm_pub_marshal(pub, o->pub, &o->pub_len));
    ATTEST_TPM_GUARD(Tss2_MU_TPM2B_PRIVATE_Marshal(priv, o->priv, sizeof(o->priv), &off),
                     "TPM2B_PRIVATE marshal");
    o->priv_len = off;
    return ZTCA_RC_OK;
}

/* ---- templates ----------------------------------------------------------------------------- */

/* TCG EK Credential Profile 2.5, B.3.3: PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256, the
 * authPolicy of templates L-1 and L-2. */
static const uint8_t attest_tpm_policy_a_sha256[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};
/* B.4.5 template H-3: PolicyB SHA-384 (PolicyOR of PolicySecret and the NV-based policies), as
 * read from swtpm 0.7's EK 0x81010016 (notes 2.2). */
static const uint8_t attest_tpm_policy_b_sha384[48] = {
    0xb2, 0x6e, 0x7d, 0x28, 0xd1, 0x1a, 0x50, 0xbc, 0x53, 0xd8, 0x82, 0xbc, 0xf5, 0xfd, 0x3a, 0x1a,
    0x07, 0x41, 0x48, 0xbb, 0x35, 0xd3, 0xb4, 0xe4, 0xcb, 0x1c, 0x0a, 0xd9, 0xbd, 0xe4, 0x19, 0xca,
    0xcb, 0x47, 0xba, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0f, 0x9f, 0xc0, 0x00, 0xf3, 0xf8, 0x0e, 0x12,
};

#define ATTEST_TPM_EK_ATTRS                                                           \
    (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN \
     | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)

static void
attest_tpm_ek_template(int tmpl, TPM2B_PUBLIC *out)
{
    memset(out, 0, sizeof(*out));
    TPMT_PUBLIC *p = &out->publicArea;
    p->objectAttributes = ATTEST_TPM_EK_ATTRS;
    if (tmpl == 1) { /* L-1: RSA-2048, AES-128-CFB, unique = 256 zero bytes */
        p->type = TPM2_ALG_RSA;
        p->nameAlg = TPM2_ALG_SHA256;
        p->authPolicy.size = sizeof(attest_tpm_policy_a_sha256);
        memcpy(p->authPolicy.buffer, attest_tpm_policy_a_sha256,
               sizeof(attest_tpm_policy_a_sha256));
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
        p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
        p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.rsaDetail.keyBits = 2048;
        p->parameters.rsaDetail.exponent = 0;
        p->unique.rsa.size = 256;
    } else if (tmpl == 2) { /* L-2: P-256, AES-128-CFB, unique = two 32-byte zero coordinates */
        p->type = TPM2_ALG_ECC;
        p->nameAlg = TPM2_ALG_SHA256;
        p->authPolicy.size = sizeof(attest_tpm_policy_a_sha256);
        memcpy(p->authPolicy.buffer, attest_tpm_policy_a_sha256,
               sizeof(attest_tpm_policy_a_sha256));
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
        p->parameters.eccDetail.symmetric.keyBits.aes = 128;
        p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        p->unique.ecc.x.size = 32;
        p->unique.ecc.y.size = 32;
    } else { /* H-3: P-384, SHA-384, userWithAuth, AES-256-CFB, empty unique */
        p->type = TPM2_ALG_ECC;
        p->nameAlg = TPM2_ALG_SHA384;
        p->objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
        p->authPolicy.size = sizeof(attest_tpm_policy_b_sha384);
        memcpy(p->authPolicy.buffer, attest_tpm_policy_b_sha384,
               sizeof(attest_tpm_policy_b_sha384));
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
        p->parameters.eccDetail.symmetric.keyBits.aes = 256;
        p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    }
}

/* The owner storage primary of tpm2-openssl (and tpm2-tss-engine) for keys whose parent is
 * TPM2_RH_OWNER: ECC P-256, AES-128-CFB, noDA, restricted decryption, empty unique. */
static void
attest_tpm_srk_template(TPM2B_PUBLIC *out)
{
    memset(out, 0, sizeof(*out));
    TPMT_PUBLIC *p = &out->publicArea;
    p->type = TPM2_ALG_ECC;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT
                          | TPMA_OBJECT_NODA | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT
                          | TPMA_OBJECT_SENSITIVEDATAORIGIN;
    p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    p->parameters.eccDetail.symmetric.keyBits.aes = 128;
    p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

/* Keys of ours: fixedTPM, fixedParent, sensitiveDataOrigin (non-exportable, born in the TPM),
 * userWithAuth with an empty auth value, noDA (no password, so nothing for the dictionary-attack
 * logic to protect, and a killed process cannot push the TPM towards lockout: notes P9). */
#define ATTEST_TPM_KEY_ATTRS                                                          \
    (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN \
     | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT)

static void
attest_tpm_ak_template(attest_tpm_ak_type type, TPM2B_PUBLIC *out)
{
    memset(out, 0, sizeof(*out));
    TPMT_PUBLIC *p = &out->publicArea;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = ATTEST_TPM_KEY_ATTRS | TPMA_OBJECT_RESTRICTED;
    if (type == ATTEST_TPM_AK_RSA) {
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
        p->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.rsaDetail.keyBits = 2048;
    } else {
        p->type = TPM2_ALG_ECC;
        p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
        p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    }
}

static void
attest_tpm_tls_template(TPM2B_PUBLIC *out)
{
    memset(out, 0, sizeof(*out));
    TPMT_PUBLIC *p = &out->publicArea;
    p->type = TPM2_ALG_ECC;
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = ATTEST_TPM_KEY_ATTRS;
    p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL; /* notes P7c: TLS chooses the hash */
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

/* ---- primaries and sessions ---------------------------------------------------------------- */

static ztca_rc
attest_tpm_create_primary(attest_tpm *t, ESYS_TR hierarchy, const TPM2B_PUBLIC *tmpl, ESYS_TR *out,
                          TPM2B_PUBLIC **out_pub)
{
    TPM2B_SENSITIVE_CREATE sensitive;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION creation_pcr;
    memset(&sensitive, 0, sizeof(sensitive));
    memset(&outside, 0, sizeof(outside));
    memset(&creation_pcr, 0, sizeof(creation_pcr));
    ATTEST_TPM_GUARD(Esys_CreatePrimary(t->ctx, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &sensitive, tmpl, &outside, &creation_pcr,
                                        out, out_pub, NULL, NULL, NULL),
                     "TPM2_CreatePrimary");
    return ZTCA_RC_OK;
}

/* The EK, loaded for use: the persistent one, or created from its template. */
static ztca_rc
attest_tpm_ek_load(attest_tpm *t, const attest_tpm_ek *ek, ESYS_TR *out)
{
    if (ek->persistent != 0) {
        ATTEST_TPM_GUARD(Esys_TR_FromTPMPublic(t->ctx, ek->persistent, ESYS_TR_NONE, ESYS_TR_NONE,
                                               ESYS_TR_NONE, out),
                         "the persistent EK");
        return ZTCA_RC_OK;
    }
    TPM2B_PUBLIC tmpl;
    attest_tpm_ek_template(ek->tmpl, &tmpl);
    return attest_tpm_create_primary(t, ESYS_TR_RH_ENDORSEMENT, &tmpl, out, NULL);
}

/* An authorization for one use of the EK: the empty password for H-3 (userWithAuth), else a
 * policy session satisfying PolicySecret(TPM_RH_ENDORSEMENT) with the EK's nameAlg (notes P3).
 * *out_session is ESYS_TR_NONE for the password (nothing to flush). */
static ztca_rc
attest_tpm_ek_auth(attest_tpm *t, const attest_tpm_ek *ek, ESYS_TR *out_auth, ESYS_TR *out_session)
{
    *out_session = ESYS_TR_NONE;
    if (ek->user_with_auth) {
        *out_auth = ESYS_TR_PASSWORD;
        return ZTCA_RC_OK;
    }
    TPMT_SYM_DEF sym;
    memset(&sym, 0, sizeof(sym));
    sym.algorithm = TPM2_ALG_NULL;
    ATTEST_TPM_GUARD(Esys_StartAuthSession(t->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                           ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym,
                                           ek->name_alg, out_session),
                     "TPM2_StartAuthSession");
    TPM2B_TIMEOUT *timeout = NULL;
    TPMT_TK_AUTH *ticket = NULL;
    TSS2_RC r =
        Esys_PolicySecret(t->ctx, ESYS_TR_RH_ENDORSEMENT, *out_session, ESYS_TR_PASSWORD,
                          ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, &timeout, &ticket);
    Esys_Free(timeout);
    Esys_Free(ticket);
    if (r != TSS2_RC_SUCCESS) {
        attest_tpm_release(t, out_session, true);
        return attest_tpm_fail(r, "TPM2_PolicySecret(TPM_RH_ENDORSEMENT)");
    }
    *out_auth = *out_session;
    return ZTCA_RC_OK;
}

/* Loads `o` under the EK (the AK): one EK authorization. */
static ztca_rc
attest_tpm_load_under_ek(attest_tpm *t, const attest_tpm_ek *ek, ESYS_TR ek_h,
                         const attest_tpm_obj *o, ESYS_TR *out)
{
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    ESYS_TR auth = ESYS_TR_NONE, session = ESYS_TR_NONE;
    ZTCA_GUARD(attest_tpm_obj_unmarshal(o, &pub, &priv));
    ZTCA_GUARD(attest_tpm_ek_auth(t, ek, &auth, &session));
    TSS2_RC r = Esys_Load(t->ctx, ek_h, auth, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, out);
    attest_tpm_release(t, &session, true);
    ATTEST_TPM_GUARD(r, "TPM2_Load of the AK under the EK (an AK of another TPM or EK?)");
    return ZTCA_RC_OK;
}

/* ---- EK ------------------------------------------------------------------------------------ */

/* One NV index into buf, in chunks the TPM accepts; NOT_FOUND when the index is not defined. */
static ztca_rc
attest_tpm_nv_read(attest_tpm *t, uint32_t index, uint8_t *buf, size_t size, size_t *out_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    ESYS_TR nv = ESYS_TR_NONE;
    TPM2B_NV_PUBLIC *nv_pub = NULL;
    TPM2B_NAME *nv_name = NULL;
    TSS2_RC r = Esys_TR_FromTPMPublic(t->ctx, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (r != TSS2_RC_SUCCESS) {
        return ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "the TPM has no EK certificate of this kind", (long)r);
    }
    ATTEST_TPM_CHECK(
        Esys_NV_ReadPublic(t->ctx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv_pub, &nv_name),
        "TPM2_NV_ReadPublic of the EK certificate");
    size_t total = nv_pub->nvPublic.dataSize;
    ZTCA_REQUIRE(total > 0 && total <= size, ZTCA_ERR_TPM, "EK certificate NV index too large");
    for (size_t off = 0; off < total;) {
        uint16_t chunk =
            (uint16_t)(total - off < t->nv_buffer_max ? total - off : t->nv_buffer_max);
        TPM2B_MAX_NV_BUFFER *data = NULL;
        /* EK certificate indices have authRead with an empty auth value (EK Credential Profile
         * 2.2.1.5), so no owner password is needed. */
        r = Esys_NV_Read(t->ctx, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, chunk,
                         (uint16_t)off, &data);
        if (r != TSS2_RC_SUCCESS) {
            r = Esys_NV_Read(t->ctx, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                             ESYS_TR_NONE, chunk, (uint16_t)off, &data);
        }
        ATTEST_TPM_CHECK(r, "TPM2_NV_Read of the EK certificate");
        bool ok = data->size == chunk;
        if (ok) {
            memcpy(buf + off, data->buffer, chunk);
        }
        Esys_Free(data);
        ZTCA_REQUIRE(ok, ZTCA_ERR_TPM, "TPM2_NV_Read returned a short chunk");
        off += chunk;
    }
    *out_len = total;
out:
    Esys_Free(nv_pub);
    Esys_Free(nv_name);
    attest_tpm_release(t, &nv, false);
    return rc;
}

/* NV indices may be larger than the certificate (padding): keep the one DER element. */
static ztca_rc
attest_tpm_der_trim(const uint8_t *buf, size_t len, size_t *out_len)
{
    der_cur c = der_cur_make(buf, len), elem;
    ZTCA_ENSURE(ZTCA_IS_OK(der_get_element(&c, &elem, DER_SEQUENCE)), ZTCA_ERR_TPM,
                "the EK certificate in NV is not DER");
    *out_len = elem.len;
    return ZTCA_RC_OK;
}

/* The persistent EK's public area, if the TPM holds one at `handle` of the expected template. */
static bool
attest_tpm_persistent_pub(attest_tpm *t, uint32_t handle, int tmpl, TPM2B_PUBLIC **out)
{
    ESYS_TR h = ESYS_TR_NONE;
    TPM2B_NAME *name = NULL, *qname = NULL;
    *out = NULL;
    if (Esys_TR_FromTPMPublic(t->ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h)
        != TSS2_RC_SUCCESS) {
        return false;
    }
    TSS2_RC r =
        Esys_ReadPublic(t->ctx, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, out, &name, &qname);
    attest_tpm_release(t, &h, false);
    Esys_Free(name);
    Esys_Free(qname);
    if (r != TSS2_RC_SUCCESS) {
        return false;
    }
    TPM2B_PUBLIC want;
    attest_tpm_ek_template(tmpl, &want);
    const TPMT_PUBLIC *p = &(*out)->publicArea;
    if (p->type != want.publicArea.type || p->nameAlg != want.publicArea.nameAlg
        || p->objectAttributes != want.publicArea.objectAttributes) {
        Esys_Free(*out);
        *out = NULL;
        return false;
    }
    return true;
}

/* The EK kinds ztca uses, in the order it looks for them. */
static const struct {
    attest_tpm_ek_type type;
    uint32_t nv;
    uint32_t persistent;
    int tmpl;
} attest_tpm_ek_kinds[] = {
    { ATTEST_TPM_EK_RSA, 0x01c00002, 0x81010001, 1 },
    { ATTEST_TPM_EK_ECC, 0x01c0000a, 0x81010002, 2 },
    { ATTEST_TPM_EK_ECC, 0x01c00016, 0x81010016, ATTEST_TPM_ECC_P384_TMPL },
};

/* The EK public area of kind `i`: the persistent EK when the TPM holds one (only with `create`
 * false and none there: NOT_FOUND), else created from the TCG template. */
static ztca_rc
attest_tpm_ek_public(attest_tpm *t, size_t i, bool create, attest_tpm_ek *ek)
{
    ztca_rc rc = ZTCA_RC_OK;
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    ek->type = attest_tpm_ek_kinds[i].type;
    ek->tmpl = attest_tpm_ek_kinds[i].tmpl;
    if (attest_tpm_persistent_pub(t, attest_tpm_ek_kinds[i].persistent, ek->tmpl, &pub)) {
        ek->persistent = attest_tpm_ek_kinds[i].persistent;
    } else if (!create) {
        return ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "no persistent EK of this kind", 0);
    } else {
        TPM2B_PUBLIC tmpl;
        attest_tpm_ek_template(ek->tmpl, &tmpl);
        rc = attest_tpm_create_primary(t, ESYS_TR_RH_ENDORSEMENT, &tmpl, &h, &pub);
        attest_tpm_release(t, &h, true);
    }
    if (ZTCA_IS_OK(rc)) {
        ek->user_with_auth = (pub->publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH) != 0;
        ek->name_alg = pub->publicArea.nameAlg;
        rc = attest_tpm_pub_marshal(pub, ek->pub, &ek->pub_len);
    }
    Esys_Free(pub);
    return rc;
}

ztca_rc
attest_tpm_ek_read(attest_tpm *t, attest_tpm_ek_type type, attest_tpm_ek *out)
{
    int64_t start = attest_tpm_now_ns();
    ztca_rc rc = ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "the TPM has no EK certificate of this kind", 0);
    attest_tpm_ek *ek = ztca_calloc(1, sizeof(*ek));
    ZTCA_ENSURE(ek != NULL, ZTCA_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof(attest_tpm_ek_kinds) / sizeof(attest_tpm_ek_kinds[0]); i++) {
        if (attest_tpm_ek_kinds[i].type != type) {
            continue;
        }
        size_t len = 0;
        rc = attest_tpm_nv_read(t, attest_tpm_ek_kinds[i].nv, ek->cert, sizeof(ek->cert), &len);
        if (rc.err == ZTCA_ERR_NOT_FOUND) {
            continue;
        }
        if (ZTCA_IS_OK(rc)) {
            rc = attest_tpm_der_trim(ek->cert, len, &ek->cert_len);
        }
        if (ZTCA_IS_OK(rc)) {
            ek->nv_index = attest_tpm_ek_kinds[i].nv;
            rc = attest_tpm_ek_public(t, i, true, ek);
        }
        break;
    }
    if (ZTCA_IS_OK(rc)) {
        *out = *ek;
    }
    ztca_free(ek);
    t->busy_ns += attest_tpm_now_ns() - start;
    return rc;
}

ztca_rc
attest_tpm_ek_read_public(attest_tpm *t, attest_tpm_ek_type type, attest_tpm_ek *out)
{
    int64_t start = attest_tpm_now_ns();
    ztca_rc rc = ZTCA_NOTE(ZTCA_ERR_NOT_FOUND, "no EK of this kind", 0);
    size_t first = SIZE_MAX;
    attest_tpm_ek *ek = ztca_calloc(1, sizeof(*ek));
    ZTCA_ENSURE(ek != NULL, ZTCA_ERR_NOMEM, "out of memory");
    /* A persistent EK first (what tpm2_readpublic shows an operator), of any template of the type;
     * none: the first template, created as the TPM's firmware would. */
    for (size_t i = 0; i < sizeof(attest_tpm_ek_kinds) / sizeof(attest_tpm_ek_kinds[0]); i++) {
        if (attest_tpm_ek_kinds[i].type != type) {
            continue;
        }
        first = first == SIZE_MAX ? i : first;
        rc = attest_tpm_ek_public(t, i, false, ek);
        if (rc.err != ZTCA_ERR_NOT_FOUND) {
            break;
        }
    }
    if (rc.err == ZTCA_ERR_NOT_FOUND && first != SIZE_MAX) {
        rc = attest_tpm_ek_public(t, first, true, ek);
    }
    if (ZTCA_IS_OK(rc)) {
        *out = *ek;
    }
    ztca_free(ek);
    t->busy_ns += attest_tpm_now_ns() - start;
    return rc;
}

/* ---- keys ---------------------------------------------------------------------------------- */

static ztca_rc
attest_tpm_create(attest_tpm *t, ESYS_TR parent, ESYS_TR auth, const TPM2B_PUBLIC *tmpl,
                  attest_tpm_obj *out)
{
    TPM2B_SENSITIVE_CREATE sensitive;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION creation_pcr;
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    memset(&sensitive, 0, sizeof(sensitive));
    memset(&outside, 0, sizeof(outside));
    memset(&creation_pcr, 0, sizeof(creation_pcr));
    ATTEST_TPM_GUARD(Esys_Create(t->ctx, parent, auth, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, tmpl,
                                 &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL),
                     "TPM2_Create");
    ztca_rc rc = attest_tpm_obj_marshal(out, pub, priv);
    Esys_Free(priv);
    Esys_Free(pub);
    return rc;
}

ztca_rc
attest_tpm_ak_create(attest_tpm *t, const attest_tpm_ek *ek, attest_tpm_ak_type type,
                     attest_tpm_obj *out)
{
    int64_t start = attest_tpm_now_ns();
    ztca_rc rc = ZTCA_RC_OK;
    ESYS_TR ek_h = ESYS_TR_NONE, auth = ESYS_TR_NONE, session = ESYS_TR_NONE;
    TPM2B_PUBLIC tmpl;
    attest_tpm_ak_template(type, &tmpl);
    ZTCA_CHECK(attest_tpm_ek_load(t, ek, &ek_h));
    ZTCA_CHECK(attest_tpm_ek_auth(t, ek, &auth, &session));
    ZTCA_CHECK(attest_tpm_create(t, ek_h, auth, &tmpl, out));
out:
    attest_tpm_release(t, &session, true);
    attest_tpm_release(t, &ek_h, ek->persistent == 0);
    t->busy_ns += attest_tpm_now_ns() - start;
    return rc;
}

ztca_rc
attest_tpm_key_create(attest_tpm *t, attest_tpm_obj *out)
{
    int64_t start = attest_tpm_now_ns();
    ztca_rc rc = ZTCA_RC_OK;
    ESYS_TR srk = ESYS_TR_NONE;
    TPM2B_PUBLIC srk_tmpl, tmpl;
    attest_tpm_srk_template(&srk_tmpl);
    attest_tpm_tls_template(&tmpl);
    ZTCA_CHECK(attest_tpm_create_primary(t, ESYS_TR_RH_OWNER, &srk_tmpl, &srk, NULL));
    ZTCA_CHECK(attest_tpm_create(t, srk, ESYS_TR_PASSWORD, &tmpl, out));
out:
    attest_tpm_release(t, &srk, true);
    t->busy_ns += attest_tpm_now_ns() - start;
    return rc;
}

/* The TLS key loaded under the owner primary; the primary is flushed at once (a loaded object
 * does not need its parent), so only the key occupies a slot afterwards. */
static ztca_rc
attest_tpm_key_load(attest_tpm *t, const attest_tpm_obj *key, ESYS_TR *out)
{
    TPM2B_PUBLIC pub, srk_tmpl;
    TPM2B_PRIVATE priv;
    ESYS_TR srk = ESYS_TR_NONE;
    ZTCA_GUARD(attest_tpm_obj_unmarshal(key, &pub, &priv));
    attest_tpm_srk_template(&srk_tmpl);
    ZTCA_GUARD(attest_tpm_create_primary(t, ESYS_TR_RH_OWNER, &srk_tmpl, &srk, NULL));
    TSS2_RC r =
        Esys_Load(t->ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, out);
    attest_tpm_release(t, &srk, true);
    ATTEST_TPM_GUARD(r, "TPM2_Load of the TLS key (a key of another TPM?)");
    return ZTCA_RC_OK;
}

/* The AK loaded under the EK; the EK is released at once unless `keep_ek` (activation needs it). */
static ztca_rc
attest_tpm_ak_load(attest_tpm *t, const attest_tpm_ek *ek, const attest_tpm_obj *ak,
                   ESYS_TR *out_ak, ESYS_TR *out_ek, bool keep_ek)
{
    ESYS_TR ek_h = ESYS_TR_NONE;
    ZTCA_GUARD(attest_tpm_ek_load(t, ek, &ek_h));
    ztca_rc rc = attest_tpm_load_under_ek(t, ek, ek_h, ak, out_ak);
    if (ZTCA_IS_OK(rc) && keep_ek) {
        *out_ek = ek_h;
    } else {
        attest_tpm_release(t, &ek_h, ek->persistent == 0);
    }
    return rc;
}

ztca_rc
attest_tpm_activate(attest_tpm *t, const attest_tpm_ek *ek, const attest_tpm_obj *ak,
                    const uint8_t *id_object, size_t id_object_len, const uint8_t *enc_secret,
                    size_t enc_secret_len, uint8_t *out, size_t out_size, size_t *out_len)
{
    int64_t start = attest_tpm_now_ns();
    ztca_rc rc = ZTCA_RC_OK;
    ESYS_TR ak_h = ESYS_TR_NONE, ek_h = ESYS_TR_NONE, auth = ESYS_TR_NONE, session = ESYS_TR_NONE;
    TPM2B_ID_OBJECT cred;
    TPM2B_ENCRYPTED_SECRET secret;
    TPM2B_DIGEST *cert_info = NULL;
    size_t off = 0;
    memset(&cred, 0, sizeof(cred));
    memset(&secret, 0, sizeof(secret));
    ATTEST_TPM_CHECK(Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id_object, id_object_len, &off, &cred),
                     "the server's TPM2B_ID_OBJECT");
    ZTCA_REQUIRE(off == id_object_len, ZTCA_ERR_BAD_INPUT, "TPM2B_ID_OBJECT: trailing bytes");
    off = 0;
    ATTEST_TPM_CHECK(
        Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc_secret, enc_secret_len, &off, &secret),
        "the server's TPM2B_ENCRYPTED_SECRET");
    ZTCA_REQUIRE(off == enc_secret_len, ZTCA_ERR_BAD_INPUT,
                 "TPM2B_ENCRYPTED_SECRET: trailing bytes");
    ZTCA_CHECK(attest_tpm_ak_load(t, ek, ak, &ak_h, &ek_h, true));
    ZTCA_CHECK(attest_tpm_ek_auth(t, ek, &auth, &session));
    /* Part 3 12.5: the AK with the ADMIN role (password: adminWithPolicy is clear), the EK with
     * the USER role. The TPM releases the secret only if the credential names this AK's Name and
     * was made for this EK. */
    ATTEST_TPM_CHECK(Esys_ActivateCredential(t->ctx, ak_h, ek_h, ESYS_TR_PASSWORD, auth,
                                             ESYS_TR_NONE, &cred, &secret, &cert_info),
                     "TPM2_ActivateCredential: the challenge is not for this TPM and AK");
    ZTCA_REQUIRE(cert_info->size <= out_size, ZTCA_ERR_BAD_INPUT, "credential secret too large");
    memcpy(out, cert_info->buffer, cert_info->size);
    *out_len = cert_info->size;
out:
    if (cert_info != NULL) {
        ztca_zeroize(cert_info->buffer, sizeof(cert_info->buffer));
    }
    Esys_Free(cert_info);
    attest_tpm_release(t, &session, true);
    attest_tpm_release(t, &ak_h, true);
    attest_tpm_release(t, &ek_h, ek->persistent == 0);
    t->busy_ns += attest_tpm_now_ns() - start;
    return rc;
}

/* ---- evidence ------------------------------------------------------------------------------ */

/* The values of the selected PCRs of one bank in ascending order (TPM2_PCR_Read returns at most
 * eight digests per call, so it is asked again for the rest). */
static ztca_rc
attest_tpm_pcr_values(attest_tpm *t, uint16_t bank, uint32_t mask, uint8_t *out, size_t out_size,
                      size_t *out_len)
{
    size_t dlen = bank == TPM2_ALG_SHA1     ? 20
                  : bank == TPM2_ALG_SHA256 ? 32
                  : bank == TPM2_ALG_SHA384 ? 48
                  : bank == TPM2_ALG_SHA512 ? 64
                                            : 0;
    ZTCA_ENSURE(dlen != 0, ZTCA_ERR_BAD_INPUT, "the server asked for an unknown PCR bank");
    uint8_t vals[ATTEST_PCR_MAX][ATTEST_DIGEST_MAX];
    uint32_t todo = mask;
    while (todo != 0) {
        TPML_PCR_SELECTION sel, *sel_out = NULL;
        TPML_DIGEST *digests = NULL;
        UINT32 counter = 0;
        memset(&sel, 0, sizeof(sel));
        sel.count = 1;
        sel.pcrSelections[0].hash = bank;
        sel.pcrSelections[0].sizeofSelect = 3;
        for (int i = 0; i < ATTEST_PCR_MAX; i++) {
            if (todo & (1u << i)) {
                sel.pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
            }
        }
        ATTEST_TPM_GUARD(Esys_PCR_Read(t->ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
                                       &counter, &sel_out, &digests),
                         "TPM2_PCR_Read");
        uint32_t got = 0;
        size_t k = 0;
        bool ok = sel_out->count == 1 && sel_out->pcrSelections[0].hash == bank;
        for (int i = 0; ok && i < ATTEST_PCR_MAX; i++) {
            if ((sel_out->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8))) == 0) {
                continue;
            }
            ok = k < digests->count && digests->digests[k].size == dlen && (todo & (1u << i));
            if (ok) {
                memcpy(vals[i], digests->digests[k].buffer, dlen);
                got |= 1u << i;
                k++;
            }
        }
        Esys_Free(sel_out);
        Esys_Free(digests);
        ZTCA_ENSURE(ok && got != 0, ZTCA_ERR_TPM,
                    "TPM2_PCR_Read did not return the bank the server asked for");
        todo &= ~got;
    }
    size_t n = 0;
    for (int i = 0; i < ATTEST_PCR_MAX; i++) {
        if (mask & (1u << i)) {
            ZTCA_ENSURE(n + dlen <= out_size, ZTCA_ERR_INTERNAL, "PCR buffer too small");
            memcpy(out + n, vals[i], dlen);
            n += dlen;
        }
    }
    *out_len = n;
    return ZTCA_RC_OK;
}

static ztca_rc
attest_tpm_sig_marshal(const TPMT_SIGNATURE *sig, uint8_t *out, size_t *out_len)
{
    size_t off = 0;
    ATTEST_TPM_GUARD(Tss2_MU_TPMT_SIGNATURE_Marshal(sig, out, ATTEST_TPM_SIG_MAX, &off),
                     "TPMT_SIGNATURE marshal");
    *out_len = off;
    return ZTCA_RC_OK;
}

/* RFC 3279 2.2.3 Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from the TPM's r and s. */
static ztca_rc
attest_tpm_ecdsa_der(const TPMT_SIGNATURE *sig, uint8_t *out, size_t out_size, size_t *out_len)
{
    ztca_rc rc = ZTCA_RC_OK;
    der_buf b;
    uint8_t *p = NULL;
    size_t n = 0;
    der_buf_init(&b, ATTEST_TPM_SIG_MAX);
    ZTCA_REQUIRE(sig->sigAlg == TPM2_ALG_ECDSA, ZTCA_ERR_TPM, "the TLS key did not sign ECDSA");
    ZTCA_CHECK(der_begin(&b, DER_SEQUENCE));
    ZTCA_CHECK(der_add_uint_bytes(&b, sig->signature.ecdsa.signatureR.buffer,
                                  sig->signature.ecdsa.signatureR.size));
    ZTCA_CHECK(der_add_uint_bytes(&b, sig->signature.ecdsa.signatureS.buffer,
                                  sig->signature.ecdsa.signatureS.size));
    ZTCA_CHECK(der_end(&b));
    ZTCA_CHECK(der_buf_take(&b, &p, &n));
    ZTCA_REQUIRE(n <= out_size, ZTCA_ERR_INTERNAL, "signature buffer too small");
    memcpy(out, p, n);
    *out_len = n;
out:
    ztca_free(p);
    der_buf_free(&b);
    return rc;
}

static ztca_rc
attest_tpm_attest_copy(const TPM2B_ATTEST *a, uint8_t *out, size_t *out_len)
{
    ZTCA_ENSURE(a->size <= ATTEST_TPM_ATTEST_MAX, ZTCA_ERR_TPM, "TPMS_ATTEST too large");
    memcpy(out, a->attestationData, a->size);
    *out_len = a->size;
    return ZTCA_RC_OK;
}

/* TPM2_Quote over the selection, with the PCR values it covers: read before and after, so that a
 * PCR extended in between cannot make the values disagree with the quoted digest. */
static ztca_rc
attest_tpm_quote(attest_tpm *t, ESYS_TR ak, const TPM2B_DATA *nonce, uint16_t bank, uint32_t mask,
                 attest_tpm_evidence *out)
{
    uint8_t after[sizeof(out->pcr_values)];
    size_t after_len = 0;
    TPML_PCR_SELECTION sel;
    TPMT_SIG_SCHEME scheme;
    memset(&sel, 0, sizeof(sel));
    memset(&scheme, 0, sizeof(scheme));
    scheme.scheme = TPM2_ALG_NULL; /* the AK's own scheme (Part 3 18.4.1) */
    sel.count = 1;
    sel.pcrSelections[0].hash = bank;
    sel.pcrSelections[0].sizeofSelect = 3;
    for (int i = 0; i < ATTEST_PCR_MAX; i++) {
        if (mask & (1u << i)) {
            sel.pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
        }
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        TPM2B_ATTEST *quoted = NULL;
        TPMT_SIGNATURE *sig = NULL;
        ZTCA_GUARD(attest_tpm_pcr_values(t, bank, mask, out->pcr_values, sizeof(out->pcr_values),
                                         &out->pcr_values_len));
        ATTEST_TPM_GUARD(Esys_Quote(t->ctx, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nonce,
                                    &scheme, &sel, &quoted, &sig),
                         "TPM2_Quote");
        ztca_rc rc = attest_tpm_attest_copy(quoted, out->quote_attest, &out->quote_attest_len);
        if (ZTCA_IS_OK(rc)) {
            rc = attest_tpm_sig_marshal(sig, out->quote_sig, &out->quote_sig_len);
        }
        Esys_Free(quoted);
        Esys_Free(sig);
        ZTCA_GUARD(rc);
        ZTCA_GUARD(attest_tpm_pcr_values(t, bank, mask, after, sizeof(after), &after_len));
        if (after_len == out->pcr_values_len && memcmp(after, out->pcr_values, after_len) == 0) {
            return ZTCA_RC_OK;
        }
    }
    ZTCA_BAIL(ZTCA_ERR_TPM, "the PCRs keep changing during the quote");
}

ztca_rc
attest_tpm_prove(attest_tpm *t, const attest_tpm_ek *ek, const attest_tpm_obj *ak,
                 const attest_tpm_obj *key, const uint8_t *nonce, size_t nonce_len, uint16_t bank,
                 uint32_t mask, const uint8_t csr_digest[32], attest_tpm_evidence *out)
{
    int64_t start = attest_tpm_now_ns();
    ztca_rc rc = ZTCA_RC_OK;
    ESYS_TR ak_h = ESYS_TR_NONE, key_h = ESYS_TR_NONE, unused = ESYS_TR_NONE;
    TPM2B_ATTEST *certified = NULL;
    TPMT_SIGNATURE *certify_sig = NULL, *csr_sig = NULL;
    TPM2B_DATA qualifying;
    TPMT_SIG_SCHEME scheme;
    memset(&qualifying, 0, sizeof(qualifying));
    memset(&scheme, 0, sizeof(scheme));
    ZTCA_REQUIRE(nonce_len > 0 && nonce_len <= sizeof(qualifying.buffer), ZTCA_ERR_BAD_INPUT,
                 "the server's nonce has an unusable size");
    memcpy(qualifying.buffer, nonce, nonce_len);
    qualifying.size = (UINT16)nonce_len;

    ZTCA_CHECK(attest_tpm_ak_load(t, ek, ak, &ak_h, &unused, false));
    ZTCA_CHECK(attest_tpm_key_load(t, key, &key_h));
    ZTCA_CHECK(attest_tpm_quote(t, ak_h, &qualifying, bank, mask, out));
    /* Part 3 18.2: the AK vouches that the TLS key lives in this TPM (its Name, with its
     * attributes); the nonce makes it fresh (notes P10: tpm2_certify cannot pass one). */
    scheme.scheme = TPM2_ALG_NULL;
    ATTEST_TPM_CHECK(Esys_Certify(t->ctx, key_h, ak_h, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD,
                                  ESYS_TR_NONE, &qualifying, &scheme, &certified, &certify_sig),
                     "TPM2_Certify");
    ZTCA_CHECK(attest_tpm_attest_copy(certified, out->certify_attest, &out->certify_attest_len));
    ZTCA_CHECK(attest_tpm_sig_marshal(certify_sig, out->certify_sig, &out->certify_sig_len));

    /* The CSR's signature: an unrestricted key signs a digest from outside with a NULL ticket. */
    TPM2B_DIGEST digest;
    TPMT_TK_HASHCHECK ticket;
    memset(&digest, 0, sizeof(digest));
    memset(&ticket, 0, sizeof(ticket));
    digest.size = 32;
    memcpy(digest.buffer, csr_digest, 32);
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    ATTEST_TPM_CHECK(Esys_Sign(t->ctx, key_h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest,
                               &scheme, &ticket, &csr_sig),
                     "TPM2_Sign of the CSR");
    ZTCA_CHECK(
        attest_tpm_ecdsa_der(csr_sig, out->csr_sig, sizeof(out->csr_sig), &out->csr_sig_len));
out:
    Esys_Free(certified);
    Esys_Free(certify_sig);
    Esys_Free(csr_sig);
    attest_tpm_release(t, &key_h, true);
    attest_tpm_release(t, &ak_h, true);
    t->busy_ns += attest_tpm_now_ns() - start;
    return rc;
}
