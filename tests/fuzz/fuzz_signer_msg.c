/* Target: ca_remote_req_parse and ca_remote_resp_parse (ca/ca_remote.c).
 * Why: the signer process of `ztca serve` parses every request of the network process, which it
 * must assume compromised (docs/hardening.md "Privilege separation"); the network process parses
 * the answers. Neither may crash, over-read or accept a malformed message.
 *
 * Input: octet 0 picks the parser (high bit clear: request; set: answer to the op in its low three
 * bits), the rest is the message. Whenever it is accepted, abort() unless the body lies inside
 * the input right after the header, the fields obey the rules of ca.h, and ca_remote_encode of
 * what was read gives back the same octets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[CA_REMOTE_MSG_MAX];
    if (size < 1) {
        return 0;
    }
    bool answer = (data[0] & 0x80) != 0;
    ca_remote_op op = (ca_remote_op)(data[0] & 7);
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    ca_remote_msg m;
    ztca_rc rc =
        answer ? ca_remote_resp_parse(&m, op, msg, len) : ca_remote_req_parse(&m, msg, len);
    if (!ZTCA_IS_OK(rc)) {
        if (rc.err != ZTCA_ERR_BAD_INPUT) {
            abort(); /* a refusal is always BAD_INPUT */
        }
        return 0;
    }
    if (len < CA_REMOTE_HDR_LEN || m.body.p != msg + CA_REMOTE_HDR_LEN
        || m.body.len != len - CA_REMOTE_HDR_LEN || m.body.len > CA_REMOTE_BODY_MAX
        || m.slot >= CA_REMOTE_SLOTS) {
        abort();
    }
    if (answer
        && (m.op != op || m.arg > ZTCA_ERR_UNAVAILABLE || (m.arg != ZTCA_OK && m.body.len != 0)
            || (m.arg == ZTCA_OK && op == CA_REMOTE_SIGN
                && (m.body.len == 0 || m.body.len > CA_SIG_MAX)))) {
        abort();
    }
    if (!answer && m.op == CA_REMOTE_SIGN && m.body.len != ca_md_size((ca_md)m.arg)) {
        abort();
    }
    if (!answer && (m.op == CA_REMOTE_OCSP_NEW || m.op == CA_REMOTE_OCSP_LOAD) && m.slot != 0) {
        abort();
    }
    size_t n = 0;
    if (!ZTCA_IS_OK(ca_remote_encode(out, sizeof(out), &n, (uint8_t)m.op, m.slot, m.arg, m.body.p,
                                     m.body.len))
        || n != len || memcmp(out, msg, n) != 0) {
        abort();
    }
    return 0;
}
