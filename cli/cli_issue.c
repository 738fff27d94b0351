/* cli_issue.c: `ztca issue`: offline issuance from a CSR with the intermediate key in DIR, for
 * bootstrap, scripts and tests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void
cli_issue_usage(FILE *f)
{
    fprintf(
        f, "usage: ztca issue --csr FILE --profile device|agent|workload|admin|signal-feeder|pep\n"
           "                  [--dir DIR]\n"
           "                  [--device-id ID] [--user U] [--workload PATH] [--ttl D]\n"
           "                  [--attestation none|software|tpm|tpmMeasuredBoot]\n"
           "                  [--passphrase-file F] [--out FILE] [--fullchain] [--store URL]\n"
           "\n"
           "Verifies the CSR's signature and key (ECDSA P-256/P-384, RSA 2048-4096) and issues a\n"
           "certificate of the profile, signed by the issuing CA in DIR. The identity comes from\n"
           "the flags, never from the CSR. Profiles and TTLs (default / maximum):\n"
           "  device    spiffe://TD/device/ID          24h / 7d   (--device-id)\n"
           "  agent     spiffe://TD/agent/ID/USER      8h / 24h   (--device-id, --user)\n"
           "  workload  spiffe://TD/workload/PATH      15m / 1h   (--workload)\n"
           "  admin     spiffe://TD/admin/USER         30d / 30d  (--user)\n"
           "  signal-feeder  spiffe://TD/signal-feeder/NAME  30d / 90d  (--user NAME): may only\n"
           "            post trust signals (docs/trust.md)\n"
           "  pep       spiffe://TD/pep/NAME           30d / 90d  (--user NAME): an enforcement\n"
           "            point; may only ask /v1/authz (docs/authz.md)\n"
           "Without --device-id the id is derived from the CSR key: dev- + base32(SHA-256(SPKI)).\n"
           "The certificate (PEM) goes to stdout or --out; --fullchain appends the issuing CA.\n"
           "A summary line goes to stderr.\n"
           "The certificate and its audit entry are recorded in the store in one transaction\n"
           "before it is written out (--store overrides ztca.conf: sqlite:PATH, relative to DIR,\n"
           "or postgresql://...).\n");
}

typedef struct cli_issue_opts {
    const char *dir, *csr, *profile, *device_id, *user, *workload, *ttl, *attestation;
    const char *pass_file, *out, *store;
    bool fullchain;
} cli_issue_opts;

/* A serial collision (two random 127-bit serials, or a broken RNG) is refused by the store's
 * unique key; the certificate is then issued again with a new serial, a few times at most. */
#define CLI_ISSUE_ATTEMPTS 4

/* Loads the issuing CA from DIR (cli_load_issuer) and the intermediate's PEM for --fullchain. */
static ztca_rc
cli_issue_load_ca(const char *dir, const ca_config *cfg, const char *pass_file, ca_rng *rng,
                  ca_signer **out_signer, ca_issuer **out_issuer, char **out_cert_pem)
{
    ztca_rc rc = ZTCA_RC_OK;
    char path[4096];
    uint8_t *pass = NULL, *cert_pem = NULL;
    size_t pass_len = 0, cert_len = 0;

    if (cfg->encrypted_keys) {
        ZTCA_REQUIRE(pass_file != NULL, ZTCA_ERR_DENIED,
                     "the CA keys are encrypted: --passphrase-file is required");
        ZTCA_CHECK(cli_read_passphrase(pass_file, &pass, &pass_len));
    }
    ZTCA_REQUIRE(cli_path(path, sizeof(path), dir, "ca/intermediate.pem"), ZTCA_ERR_BAD_INPUT,
                 "path too long");
    ZTCA_CHECK(cli_read_file(path, CA_CERT_MAX * 2, &cert_pem, &cert_len));
    ZTCA_CHECK(cli_load_issuer(dir, pass, pass_len, rng, out_signer, out_issuer));
    *out_cert_pem = (char *)cert_pem;
    cert_pem = NULL;
out:
    ztca_free_secret(pass, pass_len + 1);
    ztca_free(cert_pem);
    return rc;
}

/* cli_issue_encode: the PEM to hand out (with the intermediate for --fullchain), prepared before
 * the commit so that after it only the output remains. */
static ztca_rc
cli_issue_encode(char **out, const ca_issued *cert, const char *inter_pem, bool fullchain)
{
    char *pem = NULL;
    size_t pem_len = 0;
    ZTCA_GUARD(ztca_pem_encode(&pem, &pem_len, "CERTIFICATE", cert->der, cert->der_len));
    if (!fullchain) {
        *out = pem;
        return ZTCA_RC_OK;
    }
    size_t a = strlen(pem), b = strlen(inter_pem);
    char *both = ztca_malloc(a + b + 1);
    if (both == NULL) {
        ztca_free(pem);
        ZTCA_BAIL(ZTCA_ERR_NOMEM, "out of memory");
    }
    snprintf(both, a + b + 1, "%s%s", pem, inter_pem);
    ztca_free(pem);
    *out = both;
    return ZTCA_RC_OK;
}

/* cli_issue_record: the certificate row and its audit entry, in one transaction. */
static ztca_rc
cli_issue_record(store *st, const ca_issued *cert, const ca_profile *profile,
                 const ca_issue_req *req)
{
    store_cert c;
    store_cert_init(&c);
    bool has_device = profile->id == CA_PROFILE_DEVICE || profile->id == CA_PROFILE_AGENT;
    bool has_user = profile->id == CA_PROFILE_AGENT || profile->id == CA_PROFILE_ADMIN
                    || profile->id == CA_PROFILE_FEEDER || profile->id == CA_PROFILE_PEP;
    snprintf(c.serial, sizeof(c.serial), "%s", cert->serial_hex);
    snprintf(c.device_id, sizeof(c.device_id), "%s",
             has_device && req->id.device_id != NULL ? req->id.device_id : "");
    snprintf(c.user, sizeof(c.user), "%s", has_user && req->id.user != NULL ? req->id.user : "");
    snprintf(c.profile, sizeof(c.profile), "%s", profile->name);
    c.not_before = cert->not_before;
    c.not_after = cert->not_after;
    c.der = cert->der;
    c.der_len = cert->der_len;
    char actor[64], *detail = NULL;
    cli_store_actor(actor, sizeof(actor));
    ZTCA_GUARD(cli_store_issue_detail(&detail, "ztca issue", &c, cert->uri));
    store_audit_event ev = { actor, "cert.issue", c.serial, detail, 0 };
    ztca_rc rc = store_cert_insert(st, &c, &ev);
    free(detail);
    return rc;
}

static int
cli_issue_run(const cli_issue_opts *o)
{
    int status = 1;
    ztca_rc rc;
    ca_config cfg;
    const ca_profile *profile = ca_profile_find(o->profile);
    int64_t ttl = 0;
    ca_attestation att = CA_ATTEST_NONE;
    uint8_t *csr_buf = NULL;
    size_t csr_len = 0;
    ca_csr csr;
    ca_csr_init(&csr);
    char derived_id[40];
    ca_rng *rng = NULL;
    ca_signer *signer = NULL;
    ca_issuer *issuer = NULL;
    char *inter_pem = NULL, *text = NULL;
    store *st = NULL;
    ca_issued cert;
    ca_issued_init(&cert);

    if (profile == NULL || !profile->by_request || profile->id == CA_PROFILE_SERVER) {
        return cli_usage_error(
            "issue", "--profile must be device, agent, workload, admin, signal-feeder or pep");
    }
    if (o->ttl != NULL && !ZTCA_IS_OK(ztca_duration_parse(&ttl, o->ttl))) {
        return cli_usage_error("issue", "--ttl must be a duration such as 15m, 8h or 7d");
    }
    if (!ZTCA_IS_OK(ca_profile_ttl(profile, ttl, &ttl))) {
        char max[32];
        ztca_duration_format(max, sizeof(max), profile->max_ttl);
        fprintf(stderr,
                "ztca issue: --ttl %s exceeds the maximum of %s for profile %s; nothing issued\n",
                o->ttl, max, profile->name);
        return 1;
    }
    if (o->attestation != NULL && !ZTCA_IS_OK(ca_attestation_parse(&att, o->attestation))) {
        return cli_usage_error("issue",
                               "--attestation must be none, software, tpm or tpmMeasuredBoot");
    }
    const char *dir = cli_default_dir(o->dir);
    rc = cli_load_config(dir, &cfg);
    if (!ZTCA_IS_OK(rc)) {
        return cli_fail("issue", "cannot load the configuration", rc);
    }
    rc = cli_read_file(o->csr, CA_CSR_MAX, &csr_buf, &csr_len);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("issue", "cannot read --csr", rc);
        goto out;
    }
    rc = ca_csr_parse(&csr, csr_buf, csr_len);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("issue", "CSR refused, nothing issued", rc);
        goto out;
    }
    ca_issue_req req = {
        .profile = profile, .spki = csr.spki, .spki_len = csr.spki_len, .ttl = ttl
    };
    req.id.device_id = o->device_id;
    req.id.user = o->user;
    req.id.workload = o->workload;
    req.id.attestation = att;
    if ((profile->id == CA_PROFILE_DEVICE || profile->id == CA_PROFILE_AGENT)
        && o->device_id == NULL) {
        rc = ca_device_id_from_spki(derived_id, sizeof(derived_id), csr.spki, csr.spki_len);
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("issue", "cannot derive the device id", rc);
            goto out;
        }
        req.id.device_id = derived_id;
    }
    rc = ca_rng_new(&rng);
    if (ZTCA_IS_OK(rc)) {
        rc = cli_issue_load_ca(dir, &cfg, o->pass_file, rng, &signer, &issuer, &inter_pem);
    }
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("issue", "cannot load the issuing CA", rc);
        goto out;
    }
    if (cli_store_open(&st, "issue", dir, &cfg, o->store) != 0) {
        goto out;
    }
    for (int attempt = 1;; attempt++) {
        rc = ca_issue(&cert, issuer, &cfg, rng, &req);
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("issue", "refused, nothing issued", rc);
            goto out;
        }
        rc = cli_issue_encode(&text, &cert, inter_pem, o->fullchain);
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("issue", "cannot encode the certificate", rc);
            goto out;
        }
        rc = cli_issue_record(st, &cert, profile, &req);
        if (rc.err != ZTCA_ERR_CONFLICT || attempt == CLI_ISSUE_ATTEMPTS) {
            break;
        }
        ca_issued_free(&cert);
        ca_issued_init(&cert);
        ztca_free(text);
        text = NULL;
    }
    if (!ZTCA_IS_OK(rc)) {
        status =
            cli_fail("issue", "cannot record the certificate in the store, nothing issued", rc);
        goto out;
    }
    /* Committed: from here on the certificate may be handed out. */
    if (o->out != NULL) {
        rc = cli_write_file(o->out, 0644, text, strlen(text));
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("issue", "cannot write --out", rc);
            goto out;
        }
    } else if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "ztca issue: cannot write the certificate to stdout\n");
        goto out;
    }
    char until[32];
    if (!ZTCA_IS_OK(ztca_time_format_rfc3339(until, sizeof(until), cert.not_after))) {
        until[0] = '\0';
    }
    fprintf(stderr, "ztca issue: serial=%s profile=%s uri=%s not_after=%s device_id=%s\n",
            cert.serial_hex, profile->name, cert.uri, until,
            req.id.device_id != NULL ? req.id.device_id : "-");
    status = 0;
out:
    store_close(st);
    ca_issued_free(&cert);
    ztca_free(text);
    ztca_free(inter_pem);
    ca_issuer_free(issuer);
    ca_signer_free(signer);
    ca_rng_free(rng);
    ca_csr_free(&csr);
    ztca_free(csr_buf);
    return status;
}

int
cli_issue_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "csr", required_argument, NULL, 'c' },
        { "profile", required_argument, NULL, 'p' },
        { "device-id", required_argument, NULL, 'i' },
        { "user", required_argument, NULL, 'u' },
        { "workload", required_argument, NULL, 'w' },
        { "ttl", required_argument, NULL, 't' },
        { "attestation", required_argument, NULL, 'a' },
        { "passphrase-file", required_argument, NULL, 'P' },
        { "out", required_argument, NULL, 'o' },
        { "fullchain", no_argument, NULL, 'f' },
        { "store", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    cli_issue_opts o;
    memset(&o, 0, sizeof(o));
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.dir = optarg;
            break;
        case 'c':
            o.csr = optarg;
            break;
        case 'p':
            o.profile = optarg;
            break;
        case 'i':
            o.device_id = optarg;
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'w':
            o.workload = optarg;
            break;
        case 't':
            o.ttl = optarg;
            break;
        case 'a':
            o.attestation = optarg;
            break;
        case 'P':
            o.pass_file = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'f':
            o.fullchain = true;
            break;
        case 'S':
            o.store = optarg;
            break;
        case 'h':
            cli_issue_usage(stdout);
            return 0;
        default:
            return cli_usage_error("issue", "invalid option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("issue", "unexpected argument");
    }
    if (o.csr == NULL || o.profile == NULL) {
        return cli_usage_error("issue", "--csr and --profile are required");
    }
    return cli_issue_run(&o);
}
