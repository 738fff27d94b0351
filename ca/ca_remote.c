/* ca_remote.c: the codec of the signer protocol (ca.h, docs/hardening.md "Privilege
 * separation"). Pure: the socket belongs to cli/cli_signer.c. Both directions are parsed as
 * outside bytes: requests by the signer process (the network process may be compromised), answers
 * by the network process. */
#include <string.h>

#include "ca/internal.h"

ztca_rc
ca_remote_encode(uint8_t *out, size_t out_size, size_t *out_len, uint8_t op, uint8_t slot,
                 uint8_t arg, const uint8_t *body, size_t body_len)
{
    ZTCA_ENSURE(body_len <= CA_REMOTE_BODY_MAX, ZTCA_ERR_INTERNAL, "signer protocol: body size");
    ZTCA_ENSURE(out_size >= CA_REMOTE_HDR_LEN + body_len, ZTCA_ERR_INTERNAL,
                "signer protocol: buffer too small");
    out[0] = CA_REMOTE_VERSION;
    out[1] = op;
    out[2] = slot;
    out[3] = arg;
    out[4] = (uint8_t)(body_len >> 8);
    out[5] = (uint8_t)body_len;
    if (body_len > 0) {
        memcpy(out + CA_REMOTE_HDR_LEN, body, body_len);
    }
    *out_len = CA_REMOTE_HDR_LEN + body_len;
    return ZTCA_RC_OK;
}

/* The header, and a body exactly as long as announced. */
static ztca_rc
ca_remote_split(ca_remote_msg *out, uint8_t *out_op, const uint8_t *in, size_t in_len)
{
    ZTCA_ENSURE(in_len >= CA_REMOTE_HDR_LEN && in_len <= CA_REMOTE_MSG_MAX, ZTCA_ERR_BAD_INPUT,
                "signer protocol: message size");
    ZTCA_ENSURE(in[0] == CA_REMOTE_VERSION, ZTCA_ERR_BAD_INPUT, "signer protocol: version");
    size_t body_len = (size_t)in[4] << 8 | in[5];
    ZTCA_ENSURE(body_len == in_len - CA_REMOTE_HDR_LEN, ZTCA_ERR_BAD_INPUT,
                "signer protocol: body length does not match the message");
    *out_op = in[1];
    out->slot = in[2];
    out->arg = in[3];
    out->body = der_cur_make(in + CA_REMOTE_HDR_LEN, body_len);
    return ZTCA_RC_OK;
}

static bool
ca_remote_md_is_valid(uint8_t arg)
{
    return arg == CA_MD_SHA256 || arg == CA_MD_SHA384 || arg == CA_MD_SHA512;
}

ztca_rc
ca_remote_req_parse(ca_remote_msg *out, const uint8_t *in, size_t in_len)
{
    ca_remote_msg m;
    uint8_t op = 0;
    ZTCA_GUARD(ca_remote_split(&m, &op, in, in_len));
    ZTCA_ENSURE(m.slot < CA_REMOTE_SLOTS, ZTCA_ERR_BAD_INPUT, "signer protocol: slot");
    switch (op) {
    case CA_REMOTE_SIGN:
        ZTCA_ENSURE(ca_remote_md_is_valid(m.arg), ZTCA_ERR_BAD_INPUT,
                    "signer protocol: SIGN needs SHA-256, SHA-384 or SHA-512");
        ZTCA_ENSURE(m.body.len == ca_md_size((ca_md)m.arg), ZTCA_ERR_BAD_INPUT,
                    "signer protocol: SIGN hash length");
        break;
    case CA_REMOTE_INFO:
        ZTCA_ENSURE(m.arg == 0 && m.body.len == 0, ZTCA_ERR_BAD_INPUT,
                    "signer protocol: INFO has no argument");
        break;
    case CA_REMOTE_OCSP_NEW:
        ZTCA_ENSURE(m.slot == 0 && m.body.len == 0, ZTCA_ERR_BAD_INPUT,
                    "signer protocol: OCSP_NEW has no slot and no body");
        ZTCA_ENSURE(m.arg == CA_KEY_P256 || m.arg == CA_KEY_P384, ZTCA_ERR_BAD_INPUT,
                    "signer protocol: OCSP_NEW key type");
        break;
    case CA_REMOTE_OCSP_COMMIT:
        ZTCA_ENSURE(m.arg == 0 && m.body.len > 0, ZTCA_ERR_BAD_INPUT,
                    "signer protocol: OCSP_COMMIT needs a certificate");
        break;
    case CA_REMOTE_OCSP_LOAD:
        ZTCA_ENSURE(m.slot == 0 && m.arg == 0 && m.body.len == 0, ZTCA_ERR_BAD_INPUT,
                    "signer protocol: OCSP_LOAD has no argument");
        break;
    default:
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "signer protocol: unknown operation");
    }
    m.op = (ca_remote_op)op;
    *out = m;
    return ZTCA_RC_OK;
}

ztca_rc
ca_remote_resp_parse(ca_remote_msg *out, ca_remote_op op, const uint8_t *in, size_t in_len)
{
    ca_remote_msg m;
    uint8_t got = 0;
    ZTCA_GUARD(ca_remote_split(&m, &got, in, in_len));
    ZTCA_ENSURE(got == (uint8_t)op, ZTCA_ERR_BAD_INPUT,
                "signer protocol: answer to another operation");
    ZTCA_ENSURE(m.slot < CA_REMOTE_SLOTS, ZTCA_ERR_BAD_INPUT, "signer protocol: slot");
    ZTCA_ENSURE(m.arg <= ZTCA_ERR_UNAVAILABLE, ZTCA_ERR_BAD_INPUT,
                "signer protocol: unknown result code");
    m.op = op;
    if (m.arg != ZTCA_OK) {
        ZTCA_ENSURE(m.body.len == 0, ZTCA_ERR_BAD_INPUT, "signer protocol: body on a failure");
        *out = m;
        return ZTCA_RC_OK;
    }
    switch (op) {
    case CA_REMOTE_SIGN:
        ZTCA_ENSURE(m.body.len <= CA_SIG_MAX, ZTCA_ERR_BAD_INPUT,
                    "signer protocol: signature too long");
        ZTCA_ENSURE(ZTCA_IS_OK(ca_ecdsa_sig_check(m.body.p, m.body.len)), ZTCA_ERR_BAD_INPUT,
                    "signer protocol: not a DER Ecdsa-Sig-Value");
        break;
    case CA_REMOTE_INFO:
    case CA_REMOTE_OCSP_NEW:
    case CA_REMOTE_OCSP_LOAD:
        ZTCA_ENSURE(m.body.len > 0, ZTCA_ERR_BAD_INPUT, "signer protocol: no public key");
        break;
    case CA_REMOTE_OCSP_COMMIT:
        ZTCA_ENSURE(m.body.len == 0, ZTCA_ERR_BAD_INPUT, "signer protocol: COMMIT has no body");
        break;
    default:
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "signer protocol: unknown operation");
    }
    *out = m;
    return ZTCA_RC_OK;
}
