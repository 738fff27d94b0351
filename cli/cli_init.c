/* cli_init.c: `ztca init`: a complete private PKI in DIR, all or nothing. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

#define CLI_INIT_MAX_SANS  32
#define CLI_INIT_MAX_PATHS 32

static void
cli_init_usage(FILE *f)
{
    fprintf(f,
            "usage: ztca init --trust-domain TD [--dir DIR] [--public-url http://HOST:PORT]\n"
            "                 [--api-url https://HOST:PORT] [--key-type p256|p384]\n"
            "                 [--passphrase-file F] [--server-san NAME]... [--admin-user NAME]\n"
            "                 [--store URL]\n"
            "\n"
            "Creates a root CA (10 years), an issuing intermediate (2 years), a delegated OCSP\n"
            "signer (7 days), the API server certificate (90 days) and the first admin\n"
            "certificate (30 days) in DIR (default $ZTCA_DIR or ./ztca-data). DIR must be absent\n"
            "or empty. With --passphrase-file every private key is encrypted (PKCS#8, PBES2,\n"
            "AES-256-CBC).\n"
            "\n"
            "  --public-url   base URL of the OCSP and CRL endpoints written into every\n"
            "                 certificate (default http://127.0.0.1:8080)\n"
            "  --api-url      the HTTPS API (default https://HOST-OF-PUBLIC-URL:8443)\n"
            "  --server-san   extra DNS name or IP address for the API server certificate\n"
            "  --admin-user   user name of the first admin (default admin)\n"
            "  --store        where ztca keeps its data: sqlite:PATH (relative to DIR; default\n"
            "                 sqlite:store/ztca.db) or postgresql://USER@HOST:PORT/DB (an empty\n"
            "                 database); recorded in ztca.conf. The certificates init issues are\n"
            "                 recorded there with their audit entries.\n");
}

/* Files and directories created so far, undone in reverse on failure. */
typedef struct cli_undo {
    char paths[CLI_INIT_MAX_PATHS][4096];
    bool is_dir[CLI_INIT_MAX_PATHS];
    size_t num;
} cli_undo;

static void
cli_undo_all(cli_undo *u)
{
    while (u->num > 0) {
        u->num--;
        if (u->is_dir[u->num]) {
            rmdir(u->paths[u->num]);
        } else {
            unlink(u->paths[u->num]);
        }
    }
}

static ztca_rc
cli_init_mkdir(cli_undo *u, const char *dir, const char *rel, mode_t mode)
{
    char path[4096];
    ZTCA_ENSURE(u->num < CLI_INIT_MAX_PATHS, ZTCA_ERR_INTERNAL, "too many paths");
    ZTCA_ENSURE(rel == NULL || cli_path(path, sizeof(path), dir, rel), ZTCA_ERR_BAD_INPUT,
                "path too long");
    if (rel == NULL) {
        ZTCA_ENSURE(strlen(dir) < sizeof(path), ZTCA_ERR_BAD_INPUT, "path too long");
        memcpy(path, dir, strlen(dir) + 1);
    }
    ZTCA_ENSURE(mkdir(path, mode) == 0, ZTCA_ERR_IO, "cannot create directory");
    ZTCA_ENSURE(chmod(path, mode) == 0, ZTCA_ERR_IO, "cannot set directory mode");
    memcpy(u->paths[u->num], path, strlen(path) + 1);
    u->is_dir[u->num++] = true;
    return ZTCA_RC_OK;
}

static ztca_rc
cli_init_write(cli_undo *u, const char *dir, const char *rel, mode_t mode, const char *data,
               size_t len)
{
    char path[4096];
    ZTCA_ENSURE(u->num < CLI_INIT_MAX_PATHS, ZTCA_ERR_INTERNAL, "too many paths");
    ZTCA_ENSURE(cli_path(path, sizeof(path), dir, rel), ZTCA_ERR_BAD_INPUT, "path too long");
    ZTCA_GUARD(cli_write_new_file(path, mode, data, len));
    memcpy(u->paths[u->num], path, strlen(path) + 1);
    u->is_dir[u->num++] = false;
    return ZTCA_RC_OK;
}

static ztca_rc
cli_init_mkdirs(cli_undo *u, const char *dir, bool create_dir)
{
    if (create_dir) {
        ZTCA_GUARD(cli_init_mkdir(u, dir, NULL, 0755));
    }
    ZTCA_GUARD(cli_init_mkdir(u, dir, "ca", 0755));
    ZTCA_GUARD(cli_init_mkdir(u, dir, "private", 0700));
    ZTCA_GUARD(cli_init_mkdir(u, dir, "admin", 0700));
    ZTCA_GUARD(cli_init_mkdir(u, dir, "store", 0700));
    return ZTCA_RC_OK;
}

static ztca_rc
cli_init_write_files(cli_undo *u, const char *dir, const ca_pki *pki, const char *conf,
                     size_t conf_len)
{
    ZTCA_GUARD(cli_init_write(u, dir, "ca/root.pem", 0644, pki->root_cert_pem,
                              strlen(pki->root_cert_pem)));
    ZTCA_GUARD(cli_init_write(u, dir, "ca/intermediate.pem", 0644, pki->intermediate_cert_pem,
                              strlen(pki->intermediate_cert_pem)));
    ZTCA_GUARD(
        cli_init_write(u, dir, "ca/chain.pem", 0644, pki->chain_pem, strlen(pki->chain_pem)));
    ZTCA_GUARD(cli_init_write(u, dir, "ca/ocsp.pem", 0644, pki->ocsp_cert_pem,
                              strlen(pki->ocsp_cert_pem)));
    ZTCA_GUARD(cli_init_write(u, dir, "ca/server.pem", 0644, pki->server_chain_pem,
                              strlen(pki->server_chain_pem)));
    ZTCA_GUARD(
        cli_init_write(u, dir, "private/root.key", 0600, pki->root_key_pem, pki->root_key_len));
    ZTCA_GUARD(cli_init_write(u, dir, "private/intermediate.key", 0600, pki->intermediate_key_pem,
                              pki->intermediate_key_len));
    ZTCA_GUARD(
        cli_init_write(u, dir, "private/ocsp.key", 0600, pki->ocsp_key_pem, pki->ocsp_key_len));
    ZTCA_GUARD(cli_init_write(u, dir, "private/server.key", 0600, pki->server_key_pem,
                              pki->server_key_len));
    ZTCA_GUARD(cli_init_write(u, dir, "admin/cert.pem", 0644, pki->admin_cert_pem,
                              strlen(pki->admin_cert_pem)));
    ZTCA_GUARD(
        cli_init_write(u, dir, "admin/key.pem", 0600, pki->admin_key_pem, pki->admin_key_len));
    /* Written last: its presence marks a complete CA directory. */
    ZTCA_GUARD(cli_init_write(u, dir, "ztca.conf", 0644, conf, conf_len));
    return ZTCA_RC_OK;
}

/* cli_init_record_cert: one certificate init issued (OCSP signer, API server, first admin), with
 * its audit entry, inside the caller's transaction. */
static ztca_rc
cli_init_record_cert(store *st, const char *actor, const char *pem, ca_profile_id profile,
                     const char *user)
{
    ztca_rc rc = ZTCA_RC_OK;
    uint8_t *der = NULL;
    size_t der_len = 0;
    char *detail = NULL;
    ca_cert_info info;
    store_cert c;
    store_cert_init(&c);
    ZTCA_CHECK(
        ztca_pem_decode_one(&der, &der_len, "CERTIFICATE", (const uint8_t *)pem, strlen(pem)));
    ZTCA_CHECK(ca_cert_info_parse(&info, der, der_len));
    snprintf(c.serial, sizeof(c.serial), "%s", info.serial_hex);
    snprintf(c.user, sizeof(c.user), "%s", user != NULL ? user : "");
    snprintf(c.profile, sizeof(c.profile), "%s", ca_profile_get(profile)->name);
    c.not_before = info.not_before;
    c.not_after = info.not_after;
    c.der = der;
    c.der_len = der_len;
    ZTCA_CHECK(cli_store_issue_detail(&detail, "ztca init", &c, info.uri));
    store_audit_event ev = { actor, "cert.issue", c.serial, detail, 0 };
    ZTCA_CHECK(store_cert_insert(st, &c, &ev));
out:
    free(detail);
    ztca_free(der);
    return rc;
}

static ztca_rc
cli_init_record(store *st, const ca_config *cfg, const ca_pki *pki, const char *admin_user)
{
    char actor[64], *detail = NULL;
    cli_store_actor(actor, sizeof(actor));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "trust_domain", cfg->trust_domain, "root_serial",
                          pki->root_serial, "intermediate_serial", pki->intermediate_serial,
                          "key_type", ca_key_type_name(cfg->key_type));
    if (o != NULL) {
        detail = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
    }
    ZTCA_ENSURE(detail != NULL, ZTCA_ERR_NOMEM, "out of memory");
    store_audit_event ev = { actor, "ca.init", cfg->trust_domain, detail, 0 };
    ztca_rc rc = store_txn_begin(st);
    if (ZTCA_IS_OK(rc)) {
        rc = store_audit_append(st, &ev, NULL);
        if (ZTCA_IS_OK(rc)) {
            rc = cli_init_record_cert(st, actor, pki->ocsp_cert_pem, CA_PROFILE_OCSP, NULL);
        }
        if (ZTCA_IS_OK(rc)) {
            rc = cli_init_record_cert(st, actor, pki->server_cert_pem, CA_PROFILE_SERVER, NULL);
        }
        if (ZTCA_IS_OK(rc)) {
            rc = cli_init_record_cert(st, actor, pki->admin_cert_pem, CA_PROFILE_ADMIN, admin_user);
        }
        if (ZTCA_IS_OK(rc)) {
            rc = store_txn_commit(st);
        } else {
            store_txn_rollback(st);
        }
    }
    free(detail);
    return rc;
}

/* cli_init_store: creates and migrates the store and records what init issued, before any
 * certificate is written out. SQLite files it creates join the undo list (a file that was there
 * before is never removed); a store that already holds an audit log is refused. Prints its own
 * failure and returns the exit status. */
static int
cli_init_store(cli_undo *u, const char *dir, const ca_config *cfg, const ca_pki *pki,
               const char *admin_user)
{
    char url[STORE_URL_MAX + 4096];
    store_url_info parsed;
    ztca_rc rc = store_url_resolve(url, sizeof(url), cfg->store, dir);
    if (ZTCA_IS_OK(rc)) {
        rc = store_url_parse(&parsed, url, strlen(url));
    }
    if (!ZTCA_IS_OK(rc)) {
        return cli_fail("init", "invalid store URL", rc);
    }
    if (parsed.backend == STORE_BACKEND_SQLITE) {
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
            char path[sizeof(u->paths[0])];
            int n = snprintf(path, sizeof(path), "%s%s", parsed.path, suffixes[i]);
            if (n <= 0 || (size_t)n >= sizeof(path) || u->num == CLI_INIT_MAX_PATHS) {
                fprintf(stderr, "ztca init: store path too long\n");
                return 1;
            }
            if (access(path, F_OK) != 0) {
                memcpy(u->paths[u->num], path, (size_t)n + 1);
                u->is_dir[u->num++] = false;
            }
        }
    }
    store *st = NULL;
    if (cli_store_open(&st, "init", dir, cfg, NULL) != 0) {
        return 1;
    }
    int64_t seq = 0;
    uint8_t head[STORE_HASH_LEN];
    rc = store_audit_head(st, &seq, head);
    if (ZTCA_IS_OK(rc) && seq != 0) {
        store_close(st);
        fprintf(stderr, "ztca init: the store already holds an audit log (another CA's?): "
                        "refusing to initialize into it; nothing was changed. Use an empty "
                        "database.\n");
        return 1;
    }
    if (ZTCA_IS_OK(rc)) {
        rc = cli_init_record(st, cfg, pki, admin_user);
    }
    store_close(st);
    if (!ZTCA_IS_OK(rc)) {
        return cli_fail("init", "cannot record the new certificates in the store", rc);
    }
    return 0;
}

int
cli_init_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "trust-domain", required_argument, NULL, 't' },
        { "public-url", required_argument, NULL, 'u' },
        { "api-url", required_argument, NULL, 'a' },
        { "key-type", required_argument, NULL, 'k' },
        { "passphrase-file", required_argument, NULL, 'p' },
        { "server-san", required_argument, NULL, 's' },
        { "admin-user", required_argument, NULL, 'n' },
        { "store", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir_flag = NULL, *td = NULL, *public_url = "http://127.0.0.1:8080";
    const char *api_url = NULL, *key_type = "p256", *pass_file = NULL, *admin_user = "admin";
    const char *store_flag = NULL;
    const char *sans[CLI_INIT_MAX_SANS];
    size_t num_sans = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir_flag = optarg;
            break;
        case 't':
            td = optarg;
            break;
        case 'u':
            public_url = optarg;
            break;
        case 'a':
            api_url = optarg;
            break;
        case 'k':
            key_type = optarg;
            break;
        case 'p':
            pass_file = optarg;
            break;
        case 's':
            if (num_sans == CLI_INIT_MAX_SANS) {
                return cli_usage_error("init", "at most 32 --server-san");
            }
            sans[num_sans++] = optarg;
            break;
        case 'n':
            admin_user = optarg;
            break;
        case 'S':
            store_flag = optarg;
            break;
        case 'h':
            cli_init_usage(stdout);
            return 0;
        default:
            return cli_usage_error("init", "invalid option");
        }
    }
    if (optind != argc) {
        return cli_usage_error("init", "unexpected argument");
    }
    if (td == NULL) {
        return cli_usage_error("init", "--trust-domain is required");
    }
    const char *dir = cli_default_dir(dir_flag);

    /* Everything is checked before anything is created. */
    ca_config cfg;
    ca_config_defaults(&cfg);
    cfg.identity_extension = false; /* docs/certificates.md: opt-in until its OID can be parsed */
    if (!ca_trust_domain_is_valid(td)) {
        return cli_usage_error("init", "--trust-domain must be 1-255 of lowercase letters, "
                                       "digits, '.', '-' and '_' (e.g. corp.example)");
    }
    snprintf(cfg.trust_domain, sizeof(cfg.trust_domain), "%s", td);
    if (!ca_url_is_valid(public_url)) {
        return cli_usage_error("init", "--public-url must be http(s)://HOST[:PORT][/PATH] "
                                       "without a trailing slash");
    }
    snprintf(cfg.public_url, sizeof(cfg.public_url), "%s", public_url);
    if (api_url == NULL) {
        char host[256];
        if (!ZTCA_IS_OK(ca_url_host(host, sizeof(host), public_url))) {
            return cli_usage_error("init", "cannot take the host of --public-url");
        }
        snprintf(cfg.api_url, sizeof(cfg.api_url),
                 strchr(host, ':') != NULL ? "https://[%s]:8443" : "https://%s:8443", host);
    } else {
        if (!ca_url_is_valid(api_url) || strncmp(api_url, "https://", 8) != 0) {
            return cli_usage_error("init", "--api-url must be https://HOST[:PORT]");
        }
        snprintf(cfg.api_url, sizeof(cfg.api_url), "%s", api_url);
    }
    if (!ZTCA_IS_OK(ca_key_type_parse(&cfg.key_type, key_type))) {
        return cli_usage_error("init", "--key-type must be p256 or p384");
    }
    if (!ca_name_is_valid(admin_user)) {
        return cli_usage_error("init", "--admin-user must be 1-64 of [A-Za-z0-9._-]");
    }
    for (size_t i = 0; i < num_sans; i++) {
        if (!ca_host_is_valid(sans[i])) {
            return cli_usage_error("init", "--server-san must be a DNS name or an IP address");
        }
    }
    store_url_info parsed_store;
    if (store_flag != NULL
        && (strlen(store_flag) >= sizeof(cfg.store)
            || !ZTCA_IS_OK(store_url_parse(&parsed_store, store_flag, strlen(store_flag))))) {
        return cli_usage_error("init", "--store must be sqlite:PATH or postgresql://...");
    }
    snprintf(cfg.store, sizeof(cfg.store), "%s",
             store_flag != NULL ? store_flag : "sqlite:store/ztca.db");

    int state = cli_dir_state(dir);
    if (state == 2) {
        fprintf(stderr,
                "ztca init: %s is not empty: refusing to overwrite it (an existing CA?); "
                "nothing was changed. Choose an absent or empty --dir.\n",
                dir);
        return 1;
    }
    if (state == 3) {
        fprintf(stderr, "ztca init: %s exists and is not a usable directory; nothing changed\n",
                dir);
        return 1;
    }

    int status = 1;
    ztca_rc rc;
    uint8_t *pass = NULL;
    size_t pass_len = 0;
    ca_rng *rng = NULL;
    ca_pki pki;
    ca_pki_init(&pki);
    char *conf = NULL;
    size_t conf_len = 0;
    cli_undo *undo = calloc(1, sizeof(*undo));
    if (undo == NULL) {
        fprintf(stderr, "ztca init: out of memory\n");
        return 1;
    }

    if (pass_file != NULL) {
        rc = cli_read_passphrase(pass_file, &pass, &pass_len);
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("init", "cannot read --passphrase-file", rc);
            goto out;
        }
        cfg.encrypted_keys = true;
    }
    rc = ca_rng_new(&rng);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("init", "cannot seed the random generator", rc);
        goto out;
    }
    ca_pki_params params = {
        .cfg = &cfg, .admin_user = admin_user, .server_sans = sans, .num_server_sans = num_sans
    };
    rc = ca_pki_create(&pki, rng, &params, pass, pass_len);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("init", "cannot create the PKI", rc);
        goto out;
    }
    rc = ca_config_write(&conf, &conf_len, &cfg);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("init", "cannot write the configuration", rc);
        goto out;
    }
    rc = cli_init_mkdirs(undo, dir, state == 0);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("init", "cannot write the CA directory", rc);
        cli_undo_all(undo);
        goto out;
    }
    /* The store first: a certificate is written out only after it is recorded. */
    if (cli_init_store(undo, dir, &cfg, &pki, admin_user) != 0) {
        cli_undo_all(undo);
        goto out;
    }
    rc = cli_init_write_files(undo, dir, &pki, conf, conf_len);
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("init", "cannot write the CA directory", rc);
        cli_undo_all(undo);
        goto out;
    }
    printf("ztca: initialized a CA for trust domain %s in %s\n"
           "  root CA       %s/ca/root.pem (serial %s, 10 years)\n"
           "  issuing CA    %s/ca/intermediate.pem (serial %s, 2 years)\n"
           "  chain         %s/ca/chain.pem\n"
           "  admin         %s/admin/cert.pem and key.pem (user %s, 30 days)\n"
           "  OCSP and CRL  %s/ocsp, %s/crl\n"
           "The root key %s/private/root.key is needed only to rotate the issuing CA: keep it "
           "offline.\n",
           cfg.trust_domain, dir, dir, pki.root_serial, dir, pki.intermediate_serial, dir, dir,
           admin_user, cfg.public_url, cfg.public_url, dir);
    status = 0;
out:
    free(undo);
    ztca_free(conf);
    ca_pki_free(&pki);
    ca_rng_free(rng);
    ztca_free_secret(pass, pass_len + 1);
    return status;
}
