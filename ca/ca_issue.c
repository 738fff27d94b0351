/* ca_issue.c: leaf issuance under the profiles of DESIGN.md section 2. The request brings only a
 * key and an authenticated identity; everything else comes from the profile. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>

#include "ca/internal.h"

#define CA_OID_AUTHORITY_INFO_ACCESS MBEDTLS_OID_PKIX "\x01\x01" /* id-pe 1 */
#define CA_OID_AD_OCSP               MBEDTLS_OID_PKIX "\x30\x01" /* id-ad-ocsp */
#define CA_OID_OCSP_NOCHECK          MBEDTLS_OID_PKIX "\x30\x01\x05"

void
ca_issuer_free(ca_issuer *iss)
{
    if (iss == NULL) {
        return;
    }
    ztca_free(iss->cert);
    free(iss);
}

ztca_time
ca_issuer_not_after(const ca_issuer *iss)
{
    return iss->f.not_after;
}

ztca_rc
ca_issuer_new(ca_issuer **out, const uint8_t *cert_der, size_t cert_len, ca_signer *signer)
{
    ztca_rc rc = ZTCA_RC_OK;
    ca_issuer *iss = ztca_calloc(1, sizeof(*iss));
    der_cur bc, seq, ski;
    bool is_ca = false;
    bool critical = false;
    size_t spki_len = 0;
    const uint8_t *spki;
    ZTCA_ENSURE(iss != NULL, ZTCA_ERR_NOMEM, "issuer: out of memory");
    iss->signer = signer;
    iss->cert = ztca_malloc(cert_len);
    ZTCA_REQUIRE(iss->cert != NULL, ZTCA_ERR_NOMEM, "issuer: out of memory");
    memcpy(iss->cert, cert_der, cert_len);
    iss->cert_len = cert_len;
    ZTCA_CHECK(ca_cert_split(&iss->f, iss->cert, iss->cert_len));

    ZTCA_CHECK(ca_cert_find_ext(&iss->f, MBEDTLS_OID_BASIC_CONSTRAINTS,
                                sizeof(MBEDTLS_OID_BASIC_CONSTRAINTS) - 1, &bc, &critical));
    ZTCA_CHECK(der_get(&bc, &seq, DER_SEQUENCE));
    if (der_peek_tag(&seq, DER_BOOLEAN)) {
        ZTCA_CHECK(der_get_bool(&seq, &is_ca));
    }
    ZTCA_REQUIRE(is_ca, ZTCA_ERR_BAD_INPUT, "issuer: certificate is not a CA (basicConstraints)");

    spki = ca_signer_spki(signer, &spki_len);
    ZTCA_REQUIRE(iss->f.spki.len == spki_len && memcmp(iss->f.spki.p, spki, spki_len) == 0,
                 ZTCA_ERR_BAD_INPUT, "issuer: certificate does not match its private key");

    /* RFC 5280 4.2.1.1: the AKI of what we issue is the issuer's SKI as it stands. */
    rc = ca_cert_find_ext(&iss->f, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER,
                          sizeof(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER) - 1, &ski, &critical);
    if (ZTCA_IS_OK(rc)) {
        der_cur id;
        ZTCA_CHECK(der_get(&ski, &id, DER_OCTETSTRING));
        ZTCA_REQUIRE(id.len > 0 && id.len <= sizeof(iss->key_id), ZTCA_ERR_BAD_INPUT,
                     "issuer: subjectKeyIdentifier length");
        memcpy(iss->key_id, id.p, id.len);
        iss->key_id_len = id.len;
    } else if (rc.err == ZTCA_ERR_NOT_FOUND) {
        ZTCA_CHECK(ca_spki_key_id(iss->key_id, spki, spki_len));
        iss->key_id_len = CA_KEY_ID_LEN;
    }
    ZTCA_CHECK(rc);
    *out = iss;
    iss = NULL;
out:
    ca_issuer_free(iss);
    return rc;
}

void
ca_issued_init(ca_issued *c)
{
    memset(c, 0, sizeof(*c));
}

void
ca_issued_free(ca_issued *c)
{
    if (c == NULL) {
        return;
    }
    ztca_free(c->der);
    ca_issued_init(c);
}

ztca_rc
ca_serial_new(ca_rng *rng, uint8_t out[CA_SERIAL_LEN])
{
    /* 16 random octets, positive, and always 16 octets long in DER (no leading zero octet): a
     * fixed-length hex serial everywhere, 126 bits of randomness (CA/B BR 7.1 asks for 64). */
    do {
        ZTCA_GUARD(ca_rng_bytes(rng, out, CA_SERIAL_LEN));
        out[0] &= 0x7f;
    } while (out[0] == 0);
    return ZTCA_RC_OK;
}

/* SubjectAltName ::= GeneralNames, GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName;
 * uniformResourceIdentifier [6] IA5String, dNSName [2] IA5String, iPAddress [7] OCTET STRING */
static ztca_rc
ca_ext_san(der_buf *b, const char *uri, const char *const *hosts, size_t num_hosts)
{
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_SUBJECT_ALT_NAME,
                            sizeof(MBEDTLS_OID_SUBJECT_ALT_NAME) - 1, false));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    if (uri != NULL) {
        ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(6), (const uint8_t *)uri, strlen(uri)));
    }
    for (size_t i = 0; i < num_hosts; i++) {
        uint8_t addr[16];
        if (inet_pton(AF_INET, hosts[i], addr) == 1) {
            ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(7), addr, 4));
        } else if (inet_pton(AF_INET6, hosts[i], addr) == 1) {
            ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(7), addr, 16));
        } else {
            ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(2), (const uint8_t *)hosts[i], strlen(hosts[i])));
        }
    }
    ZTCA_GUARD(der_end(b));
    return ca_ext_end(b);
}

/* AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription,
 * AccessDescription ::= SEQUENCE { accessMethod OID, accessLocation GeneralName } (4.2.2.1) */
static ztca_rc
ca_ext_aia_ocsp(der_buf *b, const char *url)
{
    ZTCA_GUARD(ca_ext_begin(b, CA_OID_AUTHORITY_INFO_ACCESS,
                            sizeof(CA_OID_AUTHORITY_INFO_ACCESS) - 1, false));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(DER_ADD_OID(b, CA_OID_AD_OCSP));
    ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(6), (const uint8_t *)url, strlen(url)));
    ZTCA_GUARD(der_end(b));
    ZTCA_GUARD(der_end(b));
    return ca_ext_end(b);
}

/* CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint,
 * DistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL, ... },
 * DistributionPointName ::= CHOICE { fullName [0] GeneralNames, ... }        (4.2.1.13) */
static ztca_rc
ca_ext_crldp(der_buf *b, const char *url)
{
    ZTCA_GUARD(ca_ext_begin(b, MBEDTLS_OID_CRL_DISTRIBUTION_POINTS,
                            sizeof(MBEDTLS_OID_CRL_DISTRIBUTION_POINTS) - 1, false));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(0)));
    ZTCA_GUARD(der_begin(b, DER_CONTEXT_C(0)));
    ZTCA_GUARD(der_add_tlv(b, DER_CONTEXT(6), (const uint8_t *)url, strlen(url)));
    ZTCA_GUARD(der_end(b));
    ZTCA_GUARD(der_end(b));
    ZTCA_GUARD(der_end(b));
    ZTCA_GUARD(der_end(b));
    return ca_ext_end(b);
}

/* ztca-identity ::= SEQUENCE { deviceId UTF8String, user UTF8String OPTIONAL,
 *   attestation ENUMERATED { none(0), software(1), tpm(2), tpmMeasuredBoot(3) } } (DESIGN 2) */
static ztca_rc
ca_ext_identity(der_buf *b, const char *device_id, const char *user, ca_attestation att)
{
    ZTCA_GUARD(ca_ext_begin(b, CA_OID_ZTCA_IDENTITY, sizeof(CA_OID_ZTCA_IDENTITY) - 1, false));
    ZTCA_GUARD(der_begin(b, DER_SEQUENCE));
    ZTCA_GUARD(der_add_tlv(b, DER_UTF8STRING, (const uint8_t *)device_id, strlen(device_id)));
    if (user != NULL) {
        ZTCA_GUARD(der_add_tlv(b, DER_UTF8STRING, (const uint8_t *)user, strlen(user)));
    }
    ZTCA_GUARD(der_add_enumerated(b, (uint32_t)att));
    ZTCA_GUARD(der_end(b));
    return ca_ext_end(b);
}

/* id-pkix-ocsp-nocheck: extnValue NULL (RFC 6960 4.2.2.2.1). */
static ztca_rc
ca_ext_ocsp_nocheck(der_buf *b)
{
    ZTCA_GUARD(ca_ext_begin(b, CA_OID_OCSP_NOCHECK, sizeof(CA_OID_OCSP_NOCHECK) - 1, false));
    ZTCA_GUARD(der_add_null(b));
    return ca_ext_end(b);
}

/* Checks the identity fields the profile needs and writes the URI SAN and the subject CN. */
static ztca_rc
ca_issue_identity(const ca_issue_req *req, const ca_config *cfg, char *uri, size_t uri_size,
                  const char **out_cn)
{
    const ca_identity *id = &req->id;
    const char *td = cfg->trust_domain;
    int n = 0;
    uri[0] = '\0';
    switch (req->profile->id) {
    case CA_PROFILE_DEVICE:
        ZTCA_ENSURE(id->device_id != NULL && ca_name_is_valid(id->device_id), ZTCA_ERR_BAD_INPUT,
                    "device id must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit");
        n = snprintf(uri, uri_size, "spiffe://%s/device/%s", td, id->device_id);
        *out_cn = id->device_id;
        break;
    case CA_PROFILE_AGENT:
        ZTCA_ENSURE(id->device_id != NULL && ca_name_is_valid(id->device_id), ZTCA_ERR_BAD_INPUT,
                    "device id must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit");
        ZTCA_ENSURE(id->user != NULL && ca_name_is_valid(id->user), ZTCA_ERR_BAD_INPUT,
                    "agent certificates need a user: 1-64 of [A-Za-z0-9._-]");
        n = snprintf(uri, uri_size, "spiffe://%s/agent/%s/%s", td, id->device_id, id->user);
        *out_cn = id->user;
        break;
    case CA_PROFILE_WORKLOAD:
        ZTCA_ENSURE(id->workload != NULL && ca_workload_path_is_valid(id->workload),
                    ZTCA_ERR_BAD_INPUT,
                    "workload path must be segments of [A-Za-z0-9._-] separated by '/'");
        n = snprintf(uri, uri_size, "spiffe://%s/workload/%s", td, id->workload);
        *out_cn = NULL; /* a path does not fit a 64-character CN; the URI SAN names it */
        break;
    case CA_PROFILE_ADMIN:
        ZTCA_ENSURE(id->user != NULL && ca_name_is_valid(id->user), ZTCA_ERR_BAD_INPUT,
                    "admin certificates need a user: 1-64 of [A-Za-z0-9._-]");
        n = snprintf(uri, uri_size, "spiffe://%s/admin/%s", td, id->user);
        *out_cn = id->user;
        break;
    case CA_PROFILE_SERVER:
        ZTCA_ENSURE(id->num_hosts > 0 && id->num_hosts <= 32, ZTCA_ERR_BAD_INPUT,
                    "server certificates need 1-32 host names");
        for (size_t i = 0; i < id->num_hosts; i++) {
            ZTCA_ENSURE(ca_host_is_valid(id->hosts[i]), ZTCA_ERR_BAD_INPUT,
                        "server host must be a DNS name or an IP address");
        }
        *out_cn = strlen(id->hosts[0]) <= 64 ? id->hosts[0] : NULL;
        break;
    case CA_PROFILE_OCSP:
        *out_cn = "ztca OCSP signer";
        break;
    case CA_PROFILE_FEEDER:
        ZTCA_ENSURE(id->user != NULL && ca_name_is_valid(id->user), ZTCA_ERR_BAD_INPUT,
                    "signal-feeder certificates need a name (--user): 1-64 of [A-Za-z0-9._-]");
        n = snprintf(uri, uri_size, "spiffe://%s/signal-feeder/%s", td, id->user);
        *out_cn = id->user;
        break;
    case CA_PROFILE_PEP:
        ZTCA_ENSURE(id->user != NULL && ca_name_is_valid(id->user), ZTCA_ERR_BAD_INPUT,
                    "pep certificates need a name (--user): 1-64 of [A-Za-z0-9._-]");
        n = snprintf(uri, uri_size, "spiffe://%s/pep/%s", td, id->user);
        *out_cn = id->user;
        break;
    }
    ZTCA_ENSURE(n >= 0 && (size_t)n < uri_size, ZTCA_ERR_BAD_INPUT, "identity URI too long");
    return ZTCA_RC_OK;
}

ztca_rc
ca_issue(ca_issued *out, ca_issuer *iss, const ca_config *cfg, ca_rng *rng, const ca_issue_req *req)
{
    ztca_rc rc = ZTCA_RC_OK;
    const ca_profile *p = req->profile;
    der_buf ext, name;
    der_buf_init(&ext, CA_CERT_MAX);
    der_buf_init(&name, 4096);
    uint8_t *ext_der = NULL, *name_der = NULL;
    size_t ext_len = 0, name_len = 0;
    ca_issued res;
    ca_issued_init(&res);
    ca_pubkey_info key;
    int64_t ttl = 0;
    const char *cn = NULL;
    uint8_t key_id[CA_KEY_ID_LEN];
    char url[CA_URL_MAX + 8];

    ZTCA_REQUIRE(p != NULL, ZTCA_ERR_BAD_INPUT, "unknown profile");
    ZTCA_CHECK(ca_profile_ttl(p, req->ttl, &ttl));
    ZTCA_CHECK(ca_issue_identity(req, cfg, res.uri, sizeof(res.uri), &cn));
    ZTCA_CHECK(ca_pubkey_check(&key, req->spki, req->spki_len));
    ZTCA_CHECK(ca_spki_key_id(key_id, req->spki, req->spki_len));

    ztca_time now = req->now != 0 ? req->now : ztca_now();
    res.not_before = now - CA_BACKDATE;
    res.not_after = now + ttl;
    if (res.not_after > iss->f.not_after) {
        res.not_after = iss->f.not_after; /* a leaf never outlives its issuer */
    }
    ZTCA_REQUIRE(res.not_after > now, ZTCA_ERR_DENIED, "issuing CA certificate has expired");

    /* RFC 5280 ub-organization-name is 64: a longer trust domain stays in the URI only. */
    ZTCA_CHECK(ca_name_add(&name, strlen(cfg->trust_domain) <= 64 ? cfg->trust_domain : NULL,
                           p->name, cn));
    ZTCA_CHECK(der_buf_take(&name, &name_der, &name_len));

    ZTCA_CHECK(ca_ext_basic_constraints(&ext, false, -1));
    ZTCA_CHECK(ca_ext_key_usage(&ext, CA_KU_DIGITAL_SIGNATURE));
    ZTCA_CHECK(ca_ext_eku(&ext, p->eku));
    ZTCA_CHECK(ca_ext_ski(&ext, key_id));
    ZTCA_CHECK(ca_ext_aki(&ext, iss->key_id, iss->key_id_len));
    if (res.uri[0] != '\0' || req->id.num_hosts > 0) {
        ZTCA_CHECK(ca_ext_san(&ext, res.uri[0] != '\0' ? res.uri : NULL, req->id.hosts,
                              req->id.num_hosts));
    }
    if (p->revocable) {
        snprintf(url, sizeof(url), "%s/ocsp", cfg->public_url);
        ZTCA_CHECK(ca_ext_aia_ocsp(&ext, url));
        snprintf(url, sizeof(url), "%s/crl", cfg->public_url);
        ZTCA_CHECK(ca_ext_crldp(&ext, url));
    } else {
        ZTCA_CHECK(ca_ext_ocsp_nocheck(&ext));
    }
    if (p->identity_ext && cfg->identity_extension) {
        ZTCA_CHECK(ca_ext_identity(&ext, req->id.device_id,
                                   p->id == CA_PROFILE_AGENT ? req->id.user : NULL,
                                   req->id.attestation));
    }
    ZTCA_CHECK(der_buf_take(&ext, &ext_der, &ext_len));

    ZTCA_CHECK(ca_serial_new(rng, res.serial));
    ZTCA_CHECK(ztca_hex_encode(res.serial_hex, sizeof(res.serial_hex), res.serial, CA_SERIAL_LEN));
    ca_cert_spec spec = {
        .serial = res.serial,
        .serial_len = CA_SERIAL_LEN,
        .issuer_name = iss->f.subject.p,
        .issuer_name_len = iss->f.subject.len,
        .subject_name = name_der,
        .subject_name_len = name_len,
        .not_before = res.not_before,
        .not_after = res.not_after,
        .spki = req->spki,
        .spki_len = req->spki_len,
        .extensions = ext_der,
        .extensions_len = ext_len,
    };
    ZTCA_CHECK(ca_cert_sign(&res.der, &res.der_len, iss->signer, &spec));
    *out = res;
    ca_issued_init(&res);
out:
    ca_issued_free(&res);
    ztca_free(ext_der);
    ztca_free(name_der);
    der_buf_free(&ext);
    der_buf_free(&name);
    return rc;
}
