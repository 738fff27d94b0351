/* Target: agent_tss2_key_parse and agent_state_parse (ztca-agent's DIR/key.pem and
 * DIR/agent.json, files a local user could tamper with), each with an encode/parse round trip;
 * and agent_retry_after_parse (the server's Retry-After header), which must stay in its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attest_tpm_obj o, back;
    uint32_t parent = 0, parent2 = 0;
    if (ZTCA_IS_OK(agent_tss2_key_parse(&o, &parent, data, size))) {
        char *pem = NULL;
        size_t len = 0;
        if (o.pub_len == 0 || o.pub_len > sizeof(o.pub) || o.priv_len == 0
            || o.priv_len > sizeof(o.priv)) {
            abort();
        }
        if (ZTCA_IS_OK(agent_tss2_key_pem(&pem, &len, parent, &o))) {
            if (!ZTCA_IS_OK(agent_tss2_key_parse(&back, &parent2, (const uint8_t *)pem, len))
                || parent2 != parent || back.pub_len != o.pub_len
                || memcmp(back.pub, o.pub, o.pub_len) != 0 || back.priv_len != o.priv_len
                || memcmp(back.priv, o.priv, o.priv_len) != 0) {
                abort();
            }
            ztca_free(pem);
        }
    }
    agent_state s, s2;
    memset(&s, 0, sizeof(s));
    memset(&s2, 0, sizeof(s2));
    if (ZTCA_IS_OK(agent_state_parse(&s, data, size))) {
        char *text = NULL;
        size_t len = 0;
        if (ZTCA_IS_OK(agent_state_encode(&text, &len, &s))) {
            if (!ZTCA_IS_OK(agent_state_parse(&s2, (const uint8_t *)text, len))
                || strcmp(s.server, s2.server) != 0 || strcmp(s.serial, s2.serial) != 0
                || strcmp(s.uri, s2.uri) != 0 || s.tpm != s2.tpm || s.not_before != s2.not_before
                || s.not_after != s2.not_after) {
                abort();
            }
            ztca_free(text);
        }
    }
    int64_t wait = agent_retry_after_parse((const char *)data, size);
    if (wait < 0 || wait > AGENT_RETRY_AFTER_MAX) {
        abort();
    }
    return 0;
}
