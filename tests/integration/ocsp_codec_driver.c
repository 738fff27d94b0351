/* ocsp_codec_driver.c: answers OCSP requests and makes CRLs with ca/'s codecs, for
 * tests/integration/test_ocsp_codec.sh. It does the file I/O the library must not do and plays
 * the responder's part the way DESIGN.md 4 describes it (what the HTTP layer will do), so that
 * the openssl CLI and python3-cryptography can judge the bytes ca/ produces.
 *
 * usage: ocsp_codec_driver COMMAND [--option value ...]
 *   resp    --req F --signer-cert F --signer-key F --issuer F... [--status SPEC]... [--now T]
 *           [--validity SECONDS] [--no-certs] --out F
 *           SPEC: SERIAL:good[:SCORE] | SERIAL:revoked:REASON:TIME[:SCORE]; any other serial is
 *           answered unknown. SERIAL is hex (leading zeros ignored), REASON an RFC 5280 name or
 *           number, TIME and T seconds since 1970 (T defaults to now).
 *           A request ca_ocsp_req_parse refuses gets malformedRequest; a CertID none of the
 *           --issuer certificates (SHA-1 and SHA-256 hashes) matches gets unauthorized; a CertID
 *           of an unsupported hash is answered unknown.
 *   status  --code malformedRequest|internalError|tryLater|sigRequired|unauthorized --out F
 *   crl     --issuer-cert F --issuer-key F --number N [--revoked SERIAL:REASON:TIME[:INV]]...
 *           [--now T] [--validity SECONDS] --out F       (entries sorted here by serial)
 * Prints one line saying what it answered ("successful n=3 nonce=16", "malformedRequest ...").
 * Exit 0: written, 1: the library refused (message on stderr), 2: usage or I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

#define MAX_OPTS    64
#define MAX_ISSUERS 4
#define MAX_STATUS  32
#define FILE_MAX    ((size_t)1024 * 1024)

typedef struct opt {
    const char *key;
    const char *val;
} opt;

static opt opts[MAX_OPTS];
static size_t num_opts;

static const char *
get(const char *key)
{
    for (size_t i = 0; i < num_opts; i++) {
        if (strcmp(opts[i].key, key) == 0) {
            return opts[i].val;
        }
    }
    return NULL;
}

static size_t
get_all(const char *key, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < num_opts; i++) {
        if (strcmp(opts[i].key, key) == 0) {
            if (n == max) {
                fprintf(stderr, "ocsp_codec_driver: too many --%s\n", key);
                exit(2);
            }
            out[n++] = opts[i].val;
        }
    }
    return n;
}

static void
die(const char *msg, const char *arg)
{
    fprintf(stderr, "ocsp_codec_driver: %s%s%s\n", msg, arg != NULL ? ": " : "",
            arg != NULL ? arg : "");
    exit(2);
}

static const char *
need(const char *key)
{
    const char *v = get(key);
    if (v == NULL) {
        die("missing option", key);
    }
    return v;
}

static void
refused(const char *what, ztca_rc rc)
{
    fprintf(stderr, "ocsp_codec_driver: %s: %s (%s at %s)\n", what, ztca_err_name(rc.err),
            ztca_last_what(), ztca_last_where());
    exit(1);
}

static uint8_t *
read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(FILE_MAX);
    size_t n = 0;
    if (f == NULL || buf == NULL) {
        die("cannot read", path);
    }
    n = fread(buf, 1, FILE_MAX, f);
    if (ferror(f) || !feof(f)) {
        die("cannot read (or larger than 1 MB)", path);
    }
    fclose(f);
    *out_len = n;
    return buf;
}

static void
write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        die("cannot write", path);
    }
}

/* A certificate file, PEM (one CERTIFICATE block) or DER; malloc'd DER. */
static uint8_t *
read_cert(const char *path, size_t *out_len)
{
    size_t len = 0;
    uint8_t *text = read_file(path, &len);
    uint8_t *der = NULL;
    if (len > 0 && text[0] == 0x30) {
        *out_len = len;
        return text;
    }
    ztca_rc rc = ztca_pem_decode_one(&der, out_len, "CERTIFICATE", text, len);
    if (!ZTCA_IS_OK(rc)) {
        refused(path, rc);
    }
    free(text);
    return der;
}

static ca_signer *
read_signer(const char *path, ca_rng *rng)
{
    size_t len = 0;
    uint8_t *pem = read_file(path, &len);
    ca_key *key = NULL;
    ca_signer *s = NULL;
    ztca_rc rc = ca_key_parse(&key, pem, len, NULL, 0);
    if (!ZTCA_IS_OK(rc)) {
        refused(path, rc);
    }
    rc = ca_signer_new(&s, key, rng);
    if (!ZTCA_IS_OK(rc)) {
        refused("signer", rc);
    }
    free(pem);
    return s;
}

static long long
parse_ll(const char *s, const char *what)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        die("not a number", what);
    }
    return v;
}

/* Hex serial into its magnitude (leading zero octets dropped). */
static void
parse_serial(const char *hex, uint8_t out[32], size_t *out_len)
{
    char buf[70];
    size_t n = strlen(hex);
    if (n == 0 || n > 64) {
        die("bad serial", hex);
    }
    /* An odd number of digits gets a leading 0. */
    snprintf(buf, sizeof(buf), "%s%s", n % 2 ? "0" : "", hex);
    if (!ZTCA_IS_OK(ztca_hex_decode(out, 32, out_len, buf))) {
        die("bad serial", hex);
    }
    size_t z = 0;
    while (z + 1 < *out_len && out[z] == 0) {
        z++;
    }
    memmove(out, out + z, *out_len - z);
    *out_len -= z;
}

static bool
serial_equal(der_cur s, const uint8_t *mag, size_t mag_len)
{
    while (s.len > 1 && s.p[0] == 0) {
        s.p++;
        s.len--;
    }
    return s.len == mag_len && memcmp(s.p, mag, mag_len) == 0;
}

static int
parse_reason(const char *s)
{
    static const char *const names[] = {
        "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
        "superseded",    "cessationOfOperation", "certificateHold", "",
        "removeFromCRL", "privilegeWithdrawn",   "aACompromise"
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i][0] != '\0' && strcmp(s, names[i]) == 0) {
            return (int)i;
        }
    }
    return (int)parse_ll(s, "reason");
}

/* Splits "a:b:c" in place into at most `max` fields. */
static size_t
split(char *s, char **out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        out[n++] = s;
        char *c = strchr(s, ':');
        if (c == NULL) {
            break;
        }
        *c = '\0';
        s = c + 1;
    }
    return n;
}

typedef struct status_spec {
    uint8_t serial[32];
    size_t serial_len;
    ca_ocsp_cert_status status;
    ca_crl_reason reason;
    ztca_time revoked_at;
    int score;
} status_spec;

static size_t
parse_status_specs(status_spec *out)
{
    const char *raw[MAX_STATUS];
    size_t n = get_all("status", raw, MAX_STATUS);
    for (size_t i = 0; i < n; i++) {
        char buf[256];
        char *f[6];
        snprintf(buf, sizeof(buf), "%s", raw[i]);
        size_t nf = split(buf, f, 6);
        status_spec *s = &out[i];
        memset(s, 0, sizeof(*s));
        s->score = CA_TRUST_SCORE_NONE;
        parse_serial(f[0], s->serial, &s->serial_len);
        if (nf >= 2 && strcmp(f[1], "good") == 0 && nf <= 3) {
            s->status = CA_OCSP_GOOD;
            if (nf == 3) {
                s->score = (int)parse_ll(f[2], "score");
            }
        } else if (nf >= 4 && strcmp(f[1], "revoked") == 0 && nf <= 5) {
            s->status = CA_OCSP_REVOKED;
            s->reason = (ca_crl_reason)parse_reason(f[2]);
            s->revoked_at = (ztca_time)parse_ll(f[3], "revocation time");
            if (nf == 5) {
                s->score = (int)parse_ll(f[4], "score");
            }
        } else {
            die("bad --status", raw[i]);
        }
    }
    return n;
}

typedef struct issuer_hashes {
    uint8_t name[2][CA_HASH_MAX];
    uint8_t key[2][CA_HASH_MAX];
} issuer_hashes;

static int
cmd_resp(void)
{
    static const ca_md mds[2] = { CA_MD_SHA1, CA_MD_SHA256 };
    ca_rng *rng = NULL;
    size_t req_len = 0, cert_len = 0;
    uint8_t *req_der = read_file(need("req"), &req_len);
    uint8_t *cert = read_cert(need("signer-cert"), &cert_len);
    const char *issuer_files[MAX_ISSUERS];
    size_t num_issuers = get_all("issuer", issuer_files, MAX_ISSUERS);
    issuer_hashes iss[MAX_ISSUERS];
    status_spec specs[MAX_STATUS];
    size_t num_specs = parse_status_specs(specs);
    ztca_time now = get("now") != NULL ? (ztca_time)parse_ll(get("now"), "now") : ztca_now();
    int64_t validity = get("validity") != NULL ? parse_ll(get("validity"), "validity") : 3600;
    const char *out = need("out");
    ca_ocsp_req req;
    ztca_rc rc;

    if (num_issuers == 0) {
        die("missing option", "issuer");
    }
    for (size_t i = 0; i < num_issuers; i++) {
        size_t len = 0;
        uint8_t *der = read_cert(issuer_files[i], &len);
        for (int m = 0; m < 2; m++) {
            rc = ca_ocsp_issuer_hashes(iss[i].name[m], iss[i].key[m], mds[m], der, len);
            if (!ZTCA_IS_OK(rc)) {
                refused(issuer_files[i], rc);
            }
        }
        free(der);
    }
    if (ca_rng_new(&rng).err != ZTCA_OK) {
        die("rng", NULL);
    }
    ca_signer *signer = read_signer(need("signer-key"), rng);

    rc = ca_ocsp_req_parse(&req, req_der, req_len);
    if (!ZTCA_IS_OK(rc)) {
        const uint8_t *p = NULL;
        size_t len = 0;
        if (!ZTCA_IS_OK(ca_ocsp_resp_status_only(&p, &len, CA_OCSP_MALFORMED_REQUEST))) {
            die("status", NULL);
        }
        write_file(out, p, len);
        printf("malformedRequest %s: %s\n", ztca_err_name(rc.err), ztca_last_what());
        goto done;
    }
    ca_ocsp_entry entries[CA_OCSP_MAX_REQS];
    for (size_t i = 0; i < req.num_ids; i++) {
        const ca_ocsp_certid *id = &req.ids[i];
        bool ours = false;
        for (size_t k = 0; k < num_issuers && !ours; k++) {
            for (int m = 0; m < 2 && !ours; m++) {
                ours = ca_ocsp_certid_has_issuer(id, mds[m], iss[k].name[m], iss[k].key[m]);
            }
        }
        if (id->hash_is_supported && !ours) {
            /* DESIGN.md 4: a CertID of an issuer we do not serve makes the whole answer
             * unauthorized (RFC 5019 2.2.3). */
            const uint8_t *p = NULL;
            size_t len = 0;
            if (!ZTCA_IS_OK(ca_ocsp_resp_status_only(&p, &len, CA_OCSP_UNAUTHORIZED))) {
                die("status", NULL);
            }
            write_file(out, p, len);
            printf("unauthorized certid=%zu\n", i);
            goto done;
        }
        entries[i] = (ca_ocsp_entry){ .certid = id->element,
                                      .status = CA_OCSP_UNKNOWN,
                                      .this_update = now,
                                      .next_update = now + validity,
                                      .trust_score = CA_TRUST_SCORE_NONE };
        for (size_t s = 0; id->hash_is_supported && s < num_specs; s++) {
            if (serial_equal(id->serial, specs[s].serial, specs[s].serial_len)) {
                entries[i].status = specs[s].status;
                entries[i].reason = specs[s].reason;
                entries[i].revocation_time = specs[s].revoked_at;
                entries[i].trust_score = specs[s].score;
            }
        }
    }
    ca_ocsp_resp_params params = {
        .signer_cert = get("no-certs") != NULL ? NULL : cert,
        .signer_cert_len = get("no-certs") != NULL ? 0 : cert_len,
        .produced_at = now,
        .entries = entries,
        .num_entries = req.num_ids,
        .nonce = req.has_nonce ? req.nonce.p : NULL,
        .nonce_len = req.has_nonce ? req.nonce.len : 0,
    };
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    rc = ca_ocsp_resp_build(&resp, &resp_len, signer, &params);
    if (!ZTCA_IS_OK(rc)) {
        refused("ca_ocsp_resp_build", rc);
    }
    write_file(out, resp, resp_len);
    printf("successful n=%zu nonce=%zu bytes=%zu\n", req.num_ids, req.has_nonce ? req.nonce.len : 0,
           resp_len);
    free(resp);
done:
    ca_signer_free(signer);
    ca_rng_free(rng);
    free(cert);
    free(req_der);
    return 0;
}

static int
cmd_status(void)
{
    static const struct {
        const char *name;
        ca_ocsp_status status;
    } codes[] = {
        { "malformedRequest", CA_OCSP_MALFORMED_REQUEST },
        { "internalError", CA_OCSP_INTERNAL_ERROR },
        { "tryLater", CA_OCSP_TRY_LATER },
        { "sigRequired", CA_OCSP_SIG_REQUIRED },
        { "unauthorized", CA_OCSP_UNAUTHORIZED },
    };
    const char *code = need("code");
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strcmp(code, codes[i].name) == 0) {
            const uint8_t *p = NULL;
            size_t len = 0;
            ztca_rc rc = ca_ocsp_resp_status_only(&p, &len, codes[i].status);
            if (!ZTCA_IS_OK(rc)) {
                refused("ca_ocsp_resp_status_only", rc);
            }
            write_file(need("out"), p, len);
            printf("%s\n", code);
            return 0;
        }
    }
    die("unknown --code", code);
    return 2;
}

typedef struct crl_spec {
    uint8_t serial[32];
    ca_crl_entry e;
} crl_spec;

static int
crl_spec_cmp(const void *a, const void *b)
{
    /* Numeric order of the magnitudes; the spec's own array, never e.serial, which qsort's
     * moves would leave pointing at another slot. */
    const crl_spec *x = a, *y = b;
    if (x->e.serial_len != y->e.serial_len) {
        return x->e.serial_len < y->e.serial_len ? -1 : 1;
    }
    return memcmp(x->serial, y->serial, x->e.serial_len);
}

static int
cmd_crl(void)
{
    ca_rng *rng = NULL;
    ca_issuer *issuer = NULL;
    size_t cert_len = 0;
    uint8_t *cert = read_cert(need("issuer-cert"), &cert_len);
    const char *raw[MAX_STATUS];
    size_t n = get_all("revoked", raw, MAX_STATUS);
    crl_spec specs[MAX_STATUS];
    ca_crl_entry entries[MAX_STATUS];
    ztca_time now = get("now") != NULL ? (ztca_time)parse_ll(get("now"), "now") : ztca_now();
    int64_t validity = get("validity") != NULL ? parse_ll(get("validity"), "validity") : 86400;
    ztca_rc rc;

    for (size_t i = 0; i < n; i++) {
        char buf[256];
        char *f[4];
        snprintf(buf, sizeof(buf), "%s", raw[i]);
        size_t nf = split(buf, f, 4);
        if (nf < 3) {
            die("bad --revoked", raw[i]);
        }
        parse_serial(f[0], specs[i].serial, &specs[i].e.serial_len);
        specs[i].e.reason = (ca_crl_reason)parse_reason(f[1]);
        specs[i].e.revocation_date = (ztca_time)parse_ll(f[2], "revocation time");
        specs[i].e.invalidity_date = nf == 4 ? (ztca_time)parse_ll(f[3], "invalidity") : 0;
    }
    qsort(specs, n, sizeof(specs[0]), crl_spec_cmp);
    for (size_t i = 0; i < n; i++) {
        entries[i] = specs[i].e;
        entries[i].serial = specs[i].serial;
    }
    if (ca_rng_new(&rng).err != ZTCA_OK) {
        die("rng", NULL);
    }
    ca_signer *signer = read_signer(need("issuer-key"), rng);
    rc = ca_issuer_new(&issuer, cert, cert_len, signer);
    if (!ZTCA_IS_OK(rc)) {
        refused("ca_issuer_new", rc);
    }
    ca_crl_params params = {
        .number = (uint64_t)parse_ll(need("number"), "number"),
        .this_update = now,
        .next_update = now + validity,
        .entries = entries,
        .num_entries = n,
    };
    uint8_t *crl = NULL;
    size_t crl_len = 0;
    rc = ca_crl_build(&crl, &crl_len, issuer, &params);
    if (!ZTCA_IS_OK(rc)) {
        refused("ca_crl_build", rc);
    }
    write_file(need("out"), crl, crl_len);
    printf("crl entries=%zu bytes=%zu\n", n, crl_len);
    free(crl);
    ca_issuer_free(issuer);
    ca_signer_free(signer);
    ca_rng_free(rng);
    free(cert);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        die("usage: ocsp_codec_driver resp|status|crl [--option value]...", NULL);
    }
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || num_opts == MAX_OPTS) {
            die("bad argument", argv[i]);
        }
        opts[num_opts].key = argv[i] + 2;
        /* --no-certs takes no value */
        if (strcmp(argv[i], "--no-certs") == 0) {
            opts[num_opts++].val = "";
            continue;
        }
        if (i + 1 >= argc) {
            die("missing value", argv[i]);
        }
        opts[num_opts++].val = argv[++i];
    }
    if (strcmp(argv[1], "resp") == 0) {
        return cmd_resp();
    }
    if (strcmp(argv[1], "status") == 0) {
        return cmd_status();
    }
    if (strcmp(argv[1], "crl") == 0) {
        return cmd_crl();
    }
    die("unknown command", argv[1]);
    return 2;
}
