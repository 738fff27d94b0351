/* Target: ca_issue (ca/ca_issue.c, ca/ca_cert.c, ca/ca_name.c) as a round-trip encoder fuzzer.
 * Why: the identity strings, host names, TTL and time of a request reach the certificate builder
 * from authenticated but untrusted clients; what it emits must be strict DER that mbedTLS parses,
 * with a signature over exactly the bytes emitted (STYLE.md 5).
 *
 * Input: byte 0 profile, byte 1 attestation (bits 0-1), subject key (bit 2), whether a TTL is
 * requested (bit 3) and identity_extension off (bit 4), bytes 2-5 the TTL, bytes 6-9 an offset
 * added to the issuing time, then newline-separated strings: device id, user, workload path, hosts
 * (a missing line is NULL). A fixed in-memory PKI (ca_pki_create, once) issues. Whenever ca_issue
 * succeeds, abort() unless the certificate is strict DER all the way down, mbedTLS parses it, its
 * serial, validity and key are those reported and requested, our own reader (ca_cert_info_parse,
 * ca_spiffe_parse) reads back the identity that went in, and the issuing CA's key verifies its
 * signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "ca/ca.h"
#include "core/der.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CERT_MAX_LINES 40 /* above the 32 hosts a server certificate may carry */
#define FUZZ_CERT_MAX_DEPTH 16
/* Issue around 2049-06-01: leaf validity then crosses 2050, where RFC 5280 4.1.2.5 switches
 * from UTCTime to GeneralizedTime, and the intermediate (2 years) expires inside the offset
 * range, so the "never outlives its issuer" clamp and the expired-CA refusal are reached. */
#define FUZZ_CERT_OFFSET_RANGE (800LL * 86400)

/* The issuing side, built once: a fuzz target may keep state, the library may not. */
static struct {
    ca_rng *rng;
    ca_config cfg;
    ca_signer *signer;
    ca_issuer *issuer;
    mbedtls_x509_crt issuer_crt; /* the intermediate, parsed by mbedTLS: the verifying oracle */
    uint8_t *spki[2];            /* subject keys: P-256, P-384 */
    size_t spki_len[2];
    ztca_time base;
} fuzz_cert;

static void
fuzz_cert_cleanup(void)
{
    ca_issuer_free(fuzz_cert.issuer);
    ca_signer_free(fuzz_cert.signer);
    mbedtls_x509_crt_free(&fuzz_cert.issuer_crt);
    for (size_t i = 0; i < 2; i++) {
        free(fuzz_cert.spki[i]);
    }
    ca_rng_free(fuzz_cert.rng);
    memset(&fuzz_cert, 0, sizeof(fuzz_cert));
}

static void
fuzz_cert_subject_key(size_t i, ca_key_type type)
{
    ca_key *key = NULL;
    if (!ZTCA_IS_OK(ca_key_generate(&key, fuzz_cert.rng, type))
        || !ZTCA_IS_OK(ca_key_spki(key, &fuzz_cert.spki[i], &fuzz_cert.spki_len[i]))) {
        abort();
    }
    ca_key_free(key);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const ztca_tm base_tm = { 2049, 6, 1, 0, 0, 0 };
    ca_pki pki;
    ca_key *key = NULL;
    uint8_t *inter = NULL;
    size_t inter_len = 0;
    (void)argc;
    (void)argv;
    ca_pki_init(&pki);
    mbedtls_x509_crt_init(&fuzz_cert.issuer_crt);
    ca_config *cfg = &fuzz_cert.cfg;
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->trust_domain, "example.org", sizeof("example.org"));
    memcpy(cfg->public_url, "http://ca.example.org:8080", sizeof("http://ca.example.org:8080"));
    memcpy(cfg->api_url, "https://ca.example.org:8443", sizeof("https://ca.example.org:8443"));
    cfg->key_type = CA_KEY_P256;
    cfg->identity_extension = true;
    ca_pki_params params = { .cfg = cfg, .admin_user = "admin" };
    if (!ZTCA_IS_OK(ztca_time_from_tm(&fuzz_cert.base, &base_tm))) {
        abort();
    }
    params.now = fuzz_cert.base;
    if (!ZTCA_IS_OK(ca_rng_new(&fuzz_cert.rng))
        || !ZTCA_IS_OK(ca_pki_create(&pki, fuzz_cert.rng, &params, NULL, 0))
        || !ZTCA_IS_OK(ca_key_parse(&key, (const uint8_t *)pki.intermediate_key_pem,
                                    pki.intermediate_key_len, NULL, 0))
        || !ZTCA_IS_OK(ca_signer_new(&fuzz_cert.signer, key, fuzz_cert.rng))) {
        abort();
    }
    if (!ZTCA_IS_OK(ztca_pem_decode_one(&inter, &inter_len, "CERTIFICATE",
                                        (const uint8_t *)pki.intermediate_cert_pem,
                                        strlen(pki.intermediate_cert_pem)))
        || !ZTCA_IS_OK(ca_issuer_new(&fuzz_cert.issuer, inter, inter_len, fuzz_cert.signer))
        || mbedtls_x509_crt_parse_der(&fuzz_cert.issuer_crt, inter, inter_len) != 0) {
        abort();
    }
    free(inter);
    ca_pki_free(&pki);
    fuzz_cert_subject_key(0, CA_KEY_P256);
    fuzz_cert_subject_key(1, CA_KEY_P384);
    atexit(fuzz_cert_cleanup);
    return 0;
}

/* Strict DER down to the depth bound: every element re-read by our reader, nothing left over. */
static bool
fuzz_cert_is_der(der_cur c, int depth)
{
    while (c.len > 0) {
        der_cur contents;
        uint8_t tag = 0;
        if (!ZTCA_IS_OK(der_get_any(&c, &tag, &contents, NULL))) {
            return false;
        }
        /* Primitive contents (extension values in OCTET STRINGs, keys and signatures in BIT
         * STRINGs) are not walked: only some of them hold DER. */
        if ((tag & 0x20) != 0 && depth < FUZZ_CERT_MAX_DEPTH
            && !fuzz_cert_is_der(contents, depth + 1)) {
            return false;
        }
    }
    return true;
}

static ztca_time
fuzz_cert_time(const mbedtls_x509_time *t)
{
    ztca_tm tm = { t->year, t->mon, t->day, t->hour, t->min, t->sec };
    ztca_time out = 0;
    if (!ZTCA_IS_OK(ztca_time_from_tm(&out, &tm))) {
        abort();
    }
    return out;
}

/* Our own reader (ca_cert_info_parse, ca_spiffe_parse) gets back what ca_issue put in. */
static void
fuzz_cert_info_check(const ca_issued *res, const ca_issue_req *req, const ca_config *cfg)
{
    ca_cert_info info;
    ca_spiffe id;
    const ca_identity *want = &req->id;
    ca_profile_id kind = req->profile->id;
    if (!ZTCA_IS_OK(ca_cert_info_parse(&info, res->der, res->der_len))) {
        abort(); /* our reader refuses what our writer produced */
    }
    if (strcmp(info.serial_hex, res->serial_hex) != 0 || strcmp(info.uri, res->uri) != 0
        || info.not_before != res->not_before || info.not_after != res->not_after) {
        abort();
    }
    if (info.has_identity != (req->profile->identity_ext && cfg->identity_extension)) {
        abort(); /* ztca-identity present where the profile and config say it is not */
    }
    if (info.has_identity
        && (strcmp(info.device_id, want->device_id) != 0 || info.attestation != want->attestation
            || strcmp(info.user, kind == CA_PROFILE_AGENT ? want->user : "") != 0)) {
        abort();
    }
    if (kind == CA_PROFILE_SERVER || kind == CA_PROFILE_OCSP) {
        if (info.uri[0] != '\0') {
            abort(); /* server and OCSP certificates carry no SPIFFE ID */
        }
        return;
    }
    if (!ZTCA_IS_OK(ca_spiffe_parse(&id, info.uri, cfg->trust_domain)) || id.kind != kind) {
        abort(); /* the URI SAN we wrote is not a SPIFFE ID of ours */
    }
    if ((kind == CA_PROFILE_DEVICE || kind == CA_PROFILE_AGENT)
        && strcmp(id.device_id, want->device_id) != 0) {
        abort();
    }
    if ((kind == CA_PROFILE_AGENT || kind == CA_PROFILE_ADMIN)
        && strcmp(id.user, want->user) != 0) {
        abort();
    }
    if (kind == CA_PROFILE_WORKLOAD && strcmp(id.workload, want->workload) != 0) {
        abort();
    }
}

static void
fuzz_cert_check(const ca_issued *res, const ca_issue_req *req, const ca_config *cfg)
{
    mbedtls_x509_crt crt;
    uint8_t hash[MBEDTLS_MD_MAX_SIZE];
    mbedtls_x509_crt_init(&crt);
    if (res->der == NULL || res->der_len == 0
        || !fuzz_cert_is_der(der_cur_make(res->der, res->der_len), 0)) {
        abort(); /* not strict DER */
    }
    if (mbedtls_x509_crt_parse_der(&crt, res->der, res->der_len) != 0) {
        abort(); /* mbedTLS cannot parse what we issued */
    }
    if (crt.version != 3 || crt.serial.len != CA_SERIAL_LEN
        || memcmp(crt.serial.p, res->serial, CA_SERIAL_LEN) != 0 || (crt.serial.p[0] & 0x80) != 0) {
        abort();
    }
    if (fuzz_cert_time(&crt.valid_from) != res->not_before
        || fuzz_cert_time(&crt.valid_to) != res->not_after || res->not_after <= res->not_before
        || res->not_after > fuzz_cert_time(&fuzz_cert.issuer_crt.valid_to)) {
        abort(); /* validity differs from what ca_issue reported, or outlives the issuer */
    }
    if (crt.pk_raw.len != req->spki_len || memcmp(crt.pk_raw.p, req->spki, req->spki_len) != 0) {
        abort(); /* the certified key is not the requested one */
    }
    if ((crt.ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS) == 0 || crt.ca_istrue != 0
        || crt.issuer_raw.len != fuzz_cert.issuer_crt.subject_raw.len
        || memcmp(crt.issuer_raw.p, fuzz_cert.issuer_crt.subject_raw.p, crt.issuer_raw.len) != 0) {
        abort(); /* a leaf must not be a CA and must name its issuer */
    }
    fuzz_cert_info_check(res, req, cfg);
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crt.sig_md);
    if (md == NULL || mbedtls_md(md, crt.tbs.p, crt.tbs.len, hash) != 0
        || mbedtls_pk_verify(&fuzz_cert.issuer_crt.pk, crt.sig_md, hash, mbedtls_md_get_size(md),
                             crt.sig.p, crt.sig.len)
               != 0) {
        abort(); /* the signature does not cover the TBSCertificate we emitted */
    }
    mbedtls_x509_crt_free(&crt);
}

static uint32_t
fuzz_cert_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ca_profile_id profiles[] = { CA_PROFILE_DEVICE,   CA_PROFILE_AGENT,
                                              CA_PROFILE_WORKLOAD, CA_PROFILE_ADMIN,
                                              CA_PROFILE_SERVER,   CA_PROFILE_OCSP };
    const char *lines[FUZZ_CERT_MAX_LINES];
    size_t num_lines = 0;
    ca_issued res;
    char *text;
    if (size < 10) {
        return 0;
    }
    /* Exact-size copy plus a terminator; newlines become NULs to split the strings in place. */
    text = malloc(size - 10 + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data + 10, size - 10);
    text[size - 10] = '\0';
    for (char *p = text; num_lines < FUZZ_CERT_MAX_LINES;) {
        char *nl = memchr(p, '\n', (size_t)(text + (size - 10) - p));
        lines[num_lines++] = p;
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    size_t key = (data[1] >> 2) & 1;
    ca_issue_req req = {
        .profile = ca_profile_get(profiles[data[0] % 6]),
        .spki = fuzz_cert.spki[key],
        .spki_len = fuzz_cert.spki_len[key],
        .id = {
            .device_id = num_lines > 0 ? lines[0] : NULL,
            .user = num_lines > 1 ? lines[1] : NULL,
            .workload = num_lines > 2 ? lines[2] : NULL,
            .attestation = (ca_attestation)(data[1] & 3),
            .hosts = num_lines > 3 ? &lines[3] : NULL,
            .num_hosts = num_lines > 3 ? num_lines - 3 : 0,
        },
        .ttl = (data[1] & 8) != 0 ? (int64_t)fuzz_cert_u32(data + 2) : 0,
        .now = fuzz_cert.base + (ztca_time)(fuzz_cert_u32(data + 6) % FUZZ_CERT_OFFSET_RANGE),
    };
    ca_config cfg = fuzz_cert.cfg;
    cfg.identity_extension = (data[1] & 16) == 0;
    ca_issued_init(&res);
    if (ZTCA_IS_OK(ca_issue(&res, fuzz_cert.issuer, &cfg, fuzz_cert.rng, &req))) {
        fuzz_cert_check(&res, &req, &cfg);
    }
    ca_issued_free(&res);
    free(text);
    return 0;
}
