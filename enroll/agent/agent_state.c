/* agent_state.c: DIR/agent.json (what renew and run need besides the PEM files) and the renewal
 * schedule. Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/agent/agent.h"

ztca_rc
agent_state_encode(char **out, size_t *out_len, const agent_state *s)
{
    char nb[32], na[32];
    ZTCA_GUARD(ztca_time_format_rfc3339(nb, sizeof(nb), s->not_before));
    ZTCA_GUARD(ztca_time_format_rfc3339(na, sizeof(na), s->not_after));
    json_t *o =
        json_pack("{s:i, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                  "version", 1, "server", s->server, "tpm", s->tpm, "tcti", s->tcti, "ek_type",
                  s->ek_type, "ak_type", s->ak_type, "device_id", s->device_id, "user", s->user,
                  "profile", s->profile, "uri", s->uri, "serial", s->serial, "not_before", nb,
                  "not_after", na, "attestation", s->attestation);
    char *text = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    ZTCA_ENSURE(text != NULL, ZTCA_ERR_NOMEM, "out of memory");
    *out_len = strlen(text);
    *out = ztca_malloc(*out_len + 2);
    if (*out == NULL) {
        free(text);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "out of memory");
    }
    memcpy(*out, text, *out_len);
    (*out)[(*out_len)++] = '\n';
    (*out)[*out_len] = '\0';
    free(text);
    return ZTCA_RC_OK;
}

/* A string member into out[out_size] (required, no NUL, fits). */
static bool
agent_state_str(const json_t *o, const char *key, char *out, size_t out_size)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= out_size
        || strlen(json_string_value(v)) != json_string_length(v)) {
        return false;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

static bool
agent_state_time(const json_t *o, const char *key, ztca_time *out)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL && ZTCA_IS_OK(ztca_time_parse_rfc3339(out, s));
}

ztca_rc
agent_state_parse(agent_state *out, const uint8_t *json, size_t len)
{
    static const char *const known[] = { "version",   "server",     "tpm",       "tcti",
                                         "ek_type",   "ak_type",    "device_id", "user",
                                         "profile",   "uri",        "serial",    "not_before",
                                         "not_after", "attestation" };
    json_error_t err;
    agent_state s;
    memset(&s, 0, sizeof(s));
    ZTCA_ENSURE(len <= AGENT_STATE_MAX, ZTCA_ERR_BAD_INPUT, "agent.json: too large");
    json_t *o = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &err);
    const char *key;
    json_t *v;
    bool ok = json_is_object(o);
    json_object_foreach(o, key, v)
    {
        bool is_known = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            is_known = is_known || strcmp(key, known[i]) == 0;
        }
        ok = ok && is_known;
    }
    json_t *version = json_object_get(o, "version");
    json_t *tpm = json_object_get(o, "tpm");
    ok = ok && json_is_integer(version) && json_integer_value(version) == 1 && json_is_boolean(tpm)
         && agent_state_str(o, "server", s.server, sizeof(s.server))
         && agent_state_str(o, "tcti", s.tcti, sizeof(s.tcti))
         && agent_state_str(o, "ek_type", s.ek_type, sizeof(s.ek_type))
         && agent_state_str(o, "ak_type", s.ak_type, sizeof(s.ak_type))
         && agent_state_str(o, "device_id", s.device_id, sizeof(s.device_id))
         && agent_state_str(o, "user", s.user, sizeof(s.user))
         && agent_state_str(o, "profile", s.profile, sizeof(s.profile))
         && agent_state_str(o, "uri", s.uri, sizeof(s.uri))
         && agent_state_str(o, "serial", s.serial, sizeof(s.serial))
         && agent_state_str(o, "attestation", s.attestation, sizeof(s.attestation))
         && agent_state_time(o, "not_before", &s.not_before)
         && agent_state_time(o, "not_after", &s.not_after);
    s.tpm = ok && json_is_true(tpm);
    json_decref(o);
    ZTCA_ENSURE(ok, ZTCA_ERR_BAD_INPUT, "agent.json is not a ztca-agent state file");
    ZTCA_ENSURE(s.not_after > s.not_before, ZTCA_ERR_BAD_INPUT, "agent.json: bad validity");
    ZTCA_ENSURE(!s.tpm
                    || ((strcmp(s.ek_type, "rsa") == 0 || strcmp(s.ek_type, "ecc") == 0)
                        && (strcmp(s.ak_type, "rsa") == 0 || strcmp(s.ak_type, "ecc") == 0)),
                ZTCA_ERR_BAD_INPUT, "agent.json: unknown EK or AK type");
    *out = s;
    return ZTCA_RC_OK;
}

ztca_time
agent_renew_at(ztca_time nb, ztca_time na, double jitter)
{
    int64_t life = na > nb ? na - nb : 0;
    if (jitter < -1.0) {
        jitter = -1.0;
    } else if (jitter > 1.0) {
        jitter = 1.0;
    }
    /* Two thirds in, spread by up to a twentieth of the lifetime either way so that a fleet
     * enrolled at the same moment does not renew at the same second. */
    ztca_time at = nb + life * 2 / 3 + (ztca_time)(jitter * (double)life / 20.0);
    ztca_time latest = na - life / 10;
    return at < latest ? at : latest;
}

int64_t
agent_backoff(unsigned n, double jitter)
{
    int64_t s = 5;
    for (unsigned i = 0; i < n && s < 600; i++) {
        s *= 2;
    }
    s = s > 600 ? 600 : s;
    if (jitter < 0.0 || jitter >= 1.0) {
        jitter = 0.0;
    }
    return s + (int64_t)(jitter * (double)s / 4.0);
}
