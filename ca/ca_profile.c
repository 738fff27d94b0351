/* ca_profile.c: the certificate profiles of DESIGN.md section 2 and the identity names that go
 * into certificates. */
#include <arpa/inet.h>
#include <string.h>

#include "ca/internal.h"

#define HOUR ((int64_t)3600)
#define DAY  ((int64_t)86400)

static const ca_profile ca_profiles[] = {
    { CA_PROFILE_DEVICE, "device", CA_EKU_CLIENT | CA_EKU_SERVER, 24 * HOUR, 7 * DAY, true, true,
      true },
    { CA_PROFILE_AGENT, "agent", CA_EKU_CLIENT, 8 * HOUR, 24 * HOUR, true, true, true },
    { CA_PROFILE_WORKLOAD, "workload", CA_EKU_CLIENT, HOUR / 4, HOUR, false, true, true },
    { CA_PROFILE_ADMIN, "admin", CA_EKU_CLIENT, 30 * DAY, 30 * DAY, false, true, true },
    { CA_PROFILE_SERVER, "server", CA_EKU_SERVER, 90 * DAY, 90 * DAY, false, true, false },
    /* RFC 6960 4.2.2.2.1: a delegated responder certificate carries id-pkix-ocsp-nocheck and
     * no revocation pointers, so it must be short-lived. */
    { CA_PROFILE_OCSP, "ocsp", CA_EKU_OCSP, 7 * DAY, 7 * DAY, false, false, false },
    /* An EDR, MDM or SIEM integration: it posts trust signals and nothing else (least
     * privilege); the name goes where the admin profile has its user. */
    { CA_PROFILE_FEEDER, "signal-feeder", CA_EKU_CLIENT, 30 * DAY, 90 * DAY, false, true, true },
    /* An enforcement point (nginx, Envoy) asking /v1/authz over mutual TLS, and nothing else. */
    { CA_PROFILE_PEP, "pep", CA_EKU_CLIENT, 30 * DAY, 90 * DAY, false, true, true },
};

const ca_profile *
ca_profile_get(ca_profile_id id)
{
    for (size_t i = 0; i < sizeof(ca_profiles) / sizeof(ca_profiles[0]); i++) {
        if (ca_profiles[i].id == id) {
            return &ca_profiles[i];
        }
    }
    return NULL;
}

const ca_profile *
ca_profile_find(const char *name)
{
    for (size_t i = 0; i < sizeof(ca_profiles) / sizeof(ca_profiles[0]); i++) {
        if (strcmp(ca_profiles[i].name, name) == 0) {
            return &ca_profiles[i];
        }
    }
    return NULL;
}

ztca_rc
ca_profile_ttl(const ca_profile *p, int64_t requested, int64_t *out)
{
    ZTCA_ENSURE(requested >= 0, ZTCA_ERR_BAD_INPUT, "TTL must be positive");
    if (requested == 0) {
        *out = p->default_ttl;
        return ZTCA_RC_OK;
    }
    ZTCA_ENSURE(requested <= p->max_ttl, ZTCA_ERR_DENIED,
                "requested TTL exceeds the profile's maximum");
    ZTCA_ENSURE(requested >= 60, ZTCA_ERR_BAD_INPUT, "TTL must be at least one minute");
    *out = requested;
    return ZTCA_RC_OK;
}

ztca_rc
ca_attestation_parse(ca_attestation *out, const char *s)
{
    static const char *const names[] = { "none", "software", "tpm", "tpmMeasuredBoot" };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (ca_attestation)i;
            return ZTCA_RC_OK;
        }
    }
    ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "attestation must be none, software, tpm or tpmMeasuredBoot");
}

const char *
ca_attestation_name(ca_attestation a)
{
    switch (a) {
    case CA_ATTEST_NONE:
        return "none";
    case CA_ATTEST_SOFTWARE:
        return "software";
    case CA_ATTEST_TPM:
        return "tpm";
    case CA_ATTEST_TPM_MEASURED_BOOT:
        return "tpmMeasuredBoot";
    }
    return "none";
}

static bool
ca_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
ca_segment_is_valid(const char *s, size_t n)
{
    if (n == 0 || n > CA_NAME_MAX || !ca_is_alnum(s[0])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ca_is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-') {
            return false;
        }
    }
    return true;
}

bool
ca_name_is_valid(const char *s)
{
    return ca_segment_is_valid(s, strlen(s));
}

bool
ca_workload_path_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200) {
        return false;
    }
    const char *seg = s;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash != NULL ? (size_t)(slash - seg) : strlen(seg);
        if (!ca_segment_is_valid(seg, len)) {
            return false;
        }
        if (slash == NULL) {
            return true;
        }
        seg = slash + 1;
    }
}

bool
ca_trust_domain_is_valid(const char *s)
{
    /* SPIFFE ID spec 2.1: lowercase letters, digits, dots, dashes and underscores. */
    size_t n = strlen(s);
    if (n == 0 || n > CA_TD_MAX || s[0] == '.' || s[n - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
        if (!ok || (c == '.' && s[i + 1] == '.')) {
            return false;
        }
    }
    return true;
}

static bool
ca_dns_is_valid(const char *s)
{
    /* RFC 1123 host names: LDH labels of 1-63, 253 in all; a trailing dot is not accepted. */
    size_t n = strlen(s);
    size_t label = 0;
    if (n == 0 || n > 253) {
        return false;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || s[i - 1] == '-') {
                return false;
            }
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || (c == '-' && label > 0);
        if (!ok || ++label > 63) {
            return false;
        }
    }
    return true;
}

bool
ca_host_is_valid(const char *s)
{
    uint8_t addr[16];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1
           || ca_dns_is_valid(s);
}

ztca_rc
ca_device_id_from_spki(char *out, size_t out_size, const uint8_t *spki, size_t spki_len)
{
    /* RFC 4648 base32 alphabet, lower case; 26 characters carry 130 bits of the digest. */
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint8_t h[32];
    ZTCA_ENSURE(out_size >= 4 + 26 + 1, ZTCA_ERR_INTERNAL, "device id buffer too small");
    ZTCA_GUARD(ca_hash(CA_MD_SHA256, spki, spki_len, h, sizeof(h)));
    memcpy(out, "dev-", 4);
    for (size_t i = 0; i < 26; i++) {
        size_t bit = i * 5;
        unsigned v = (unsigned)h[bit / 8] << 8 | h[bit / 8 + 1];
        out[4 + i] = b32[(v >> (11 - bit % 8)) & 0x1f];
    }
    out[30] = '\0';
    return ZTCA_RC_OK;
}

ztca_rc
ca_spiffe_parse(ca_spiffe *out, const char *uri, const char *td)
{
    ca_spiffe id;
    size_t tdl = strlen(td);
    memset(&id, 0, sizeof(id));
    ZTCA_ENSURE(strncmp(uri, "spiffe://", 9) == 0 && strncmp(uri + 9, td, tdl) == 0
                    && uri[9 + tdl] == '/',
                ZTCA_ERR_BAD_INPUT, "not a SPIFFE ID of this trust domain");
    const char *path = uri + 9 + tdl + 1;
    const char *rest = strchr(path, '/');
    ZTCA_ENSURE(rest != NULL, ZTCA_ERR_BAD_INPUT, "SPIFFE ID without a kind");
    size_t kind_len = (size_t)(rest - path);
    rest++;
    if (kind_len == 6 && memcmp(path, "device", 6) == 0) {
        id.kind = CA_PROFILE_DEVICE;
        ZTCA_ENSURE(strlen(rest) <= CA_NAME_MAX && ca_name_is_valid(rest), ZTCA_ERR_BAD_INPUT,
                    "SPIFFE ID: bad device id");
        memcpy(id.device_id, rest, strlen(rest) + 1);
    } else if (kind_len == 5 && memcmp(path, "agent", 5) == 0) {
        const char *slash = strchr(rest, '/');
        ZTCA_ENSURE(slash != NULL && (size_t)(slash - rest) <= CA_NAME_MAX, ZTCA_ERR_BAD_INPUT,
                    "SPIFFE ID: agent needs device and user");
        memcpy(id.device_id, rest, (size_t)(slash - rest));
        id.device_id[slash - rest] = '\0';
        ZTCA_ENSURE(ca_name_is_valid(id.device_id) && strlen(slash + 1) <= CA_NAME_MAX
                        && ca_name_is_valid(slash + 1),
                    ZTCA_ERR_BAD_INPUT, "SPIFFE ID: bad agent device or user");
        memcpy(id.user, slash + 1, strlen(slash + 1) + 1);
        id.kind = CA_PROFILE_AGENT;
    } else if (kind_len == 8 && memcmp(path, "workload", 8) == 0) {
        ZTCA_ENSURE(ca_workload_path_is_valid(rest), ZTCA_ERR_BAD_INPUT,
                    "SPIFFE ID: bad workload path");
        memcpy(id.workload, rest, strlen(rest) + 1);
        id.kind = CA_PROFILE_WORKLOAD;
    } else if (kind_len == 5 && memcmp(path, "admin", 5) == 0) {
        ZTCA_ENSURE(strlen(rest) <= CA_NAME_MAX && ca_name_is_valid(rest), ZTCA_ERR_BAD_INPUT,
                    "SPIFFE ID: bad admin user");
        memcpy(id.user, rest, strlen(rest) + 1);
        id.kind = CA_PROFILE_ADMIN;
    } else if (kind_len == 13 && memcmp(path, "signal-feeder", 13) == 0) {
        ZTCA_ENSURE(strlen(rest) <= CA_NAME_MAX && ca_name_is_valid(rest), ZTCA_ERR_BAD_INPUT,
                    "SPIFFE ID: bad signal feeder name");
        memcpy(id.user, rest, strlen(rest) + 1);
        id.kind = CA_PROFILE_FEEDER;
    } else if (kind_len == 3 && memcmp(path, "pep", 3) == 0) {
        ZTCA_ENSURE(strlen(rest) <= CA_NAME_MAX && ca_name_is_valid(rest), ZTCA_ERR_BAD_INPUT,
                    "SPIFFE ID: bad enforcement point name");
        memcpy(id.user, rest, strlen(rest) + 1);
        id.kind = CA_PROFILE_PEP;
    } else {
        ZTCA_BAIL(ZTCA_ERR_BAD_INPUT, "SPIFFE ID: unknown kind");
    }
    *out = id;
    return ZTCA_RC_OK;
}
