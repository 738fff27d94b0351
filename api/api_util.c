/* api_util.c: small conversions shared by the handlers. */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

/* RFC 5280 5.3.1 CRLReason names (removeFromCRL(8) is a delta-CRL value, never a request). */
static const struct {
    const char *name;
    int value;
} api_reasons[] = {
    { "unspecified", STORE_REASON_UNSPECIFIED },
    { "keyCompromise", STORE_REASON_KEY_COMPROMISE },
    { "cACompromise", STORE_REASON_CA_COMPROMISE },
    { "affiliationChanged", STORE_REASON_AFFILIATION_CHANGED },
    { "superseded", STORE_REASON_SUPERSEDED },
    { "cessationOfOperation", STORE_REASON_CESSATION },
    { "certificateHold", STORE_REASON_CERTIFICATE_HOLD },
    { "privilegeWithdrawn", STORE_REASON_PRIVILEGE_WITHDRAWN },
    { "aACompromise", STORE_REASON_AA_COMPROMISE },
};

ztca_rc
api_reason_parse(const char *name, int *out)
{
    for (size_t i = 0; i < sizeof(api_reasons) / sizeof(api_reasons[0]); i++) {
        if (strcmp(api_reasons[i].name, name) == 0) {
            *out = api_reasons[i].value;
            return ZTCA_RC_OK;
        }
    }
    ZTCA_BAIL(ZTCA_ERR_BAD_INPUT,
              "reason must be an RFC 5280 CRLReason: unspecified, keyCompromise, cACompromise, "
              "affiliationChanged, superseded, cessationOfOperation, certificateHold, "
              "privilegeWithdrawn or aACompromise");
}

const char *
api_reason_name(int reason)
{
    for (size_t i = 0; i < sizeof(api_reasons) / sizeof(api_reasons[0]); i++) {
        if (api_reasons[i].value == reason) {
            return api_reasons[i].name;
        }
    }
    return NULL;
}

const char *
api_cert_status_name(store_cert_status st)
{
    switch (st) {
    case STORE_CERT_GOOD:
        return "good";
    case STORE_CERT_REVOKED:
        return "revoked";
    case STORE_CERT_HOLD:
        return "hold";
    }
    return "unknown";
}

json_t *
api_time_json(ztca_time t)
{
    char s[32];
    if (t == 0 || !ZTCA_IS_OK(ztca_time_format_rfc3339(s, sizeof(s), t))) {
        return json_null();
    }
    return json_string(s);
}

void
api_actor(api_req *r, char *out, size_t out_size)
{
    if (r->peer.verified) {
        snprintf(out, out_size, "%s:%s", r->peer.kind,
                 r->peer.user[0] != '\0' ? r->peer.user : r->peer.device_id);
    } else {
        snprintf(out, out_size, "anonymous");
    }
}
