/* cli_admin.c: administrator commands, clients of the HTTPS API (libcurl) authenticated with the
 * admin certificate of DIR: `ztca token create`, `ztca cert list|show|revoke`,
 * `ztca device list|show|revoke|allow`. A readable table by default, the server's JSON with --json.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api_curl.h"
#include "cli/cli.h"

#define CLI_REPLY_MAX ((size_t)4 * 1024 * 1024)

typedef struct cli_buf {
    char *p;
    size_t len;
    bool overflow;
} cli_buf;

static size_t
cli_client_write(char *data, size_t size, size_t n, void *ctx)
{
    cli_buf *b = ctx;
    size_t len = size * n;
    if (b->len + len > CLI_REPLY_MAX) {
        b->overflow = true;
        return 0;
    }
    char *g = realloc(b->p, b->len + len + 1);
    if (g == NULL) {
        return 0;
    }
    memcpy(g + b->len, data, len);
    b->p = g;
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

long
cli_call(const cli_client *c, const char *method, const char *path, json_t *body, json_t **out)
{
    long status = 0;
    char url[2048], cert[4096], key[4096], cafile[4096];
    ca_config cfg;
    uint8_t *pass = NULL, *keybuf = NULL;
    size_t pass_len = 0, keylen = 0;
    char *body_text = NULL;
    struct curl_slist *headers = NULL;
    cli_buf reply = { NULL, 0, false };
    CURL *curl = NULL;
    *out = NULL;

    ztca_rc rc = cli_load_config(c->dir, &cfg);
    if (!ZTCA_IS_OK(rc)) {
        cli_fail(c->cmd, "cannot load the configuration", rc);
        return 0;
    }
    snprintf(url, sizeof(url), "%s%s", c->server != NULL ? c->server : cfg.api_url, path);
    bool own = c->cert != NULL && c->key != NULL; /* e.g. a signal feeder's certificate */
    if ((own
         && (snprintf(cert, sizeof(cert), "%s", c->cert) >= (int)sizeof(cert)
             || snprintf(key, sizeof(key), "%s", c->key) >= (int)sizeof(key)))
        || (!own
            && (!cli_path(cert, sizeof(cert), c->dir, "admin/cert.pem")
                || !cli_path(key, sizeof(key), c->dir, "admin/key.pem")))
        || !cli_path(cafile, sizeof(cafile), c->dir, "ca/root.pem")) {
        fprintf(stderr, "ztca %s: path too long\n", c->cmd);
        return 0;
    }
    /* The same permission rule as every key of ztca: refuse one others can read. */
    rc = cli_read_key_file(key, &keybuf, &keylen);
    ztca_free_secret(keybuf, keylen + 1);
    if (!ZTCA_IS_OK(rc)) {
        cli_fail(c->cmd, own ? "cannot use --key" : "cannot use the admin key (DIR/admin/key.pem)",
                 rc);
        return 0;
    }
    if ((cfg.encrypted_keys && !own) || (own && c->pass_file != NULL)) {
        if (c->pass_file == NULL) {
            fprintf(stderr, "ztca %s: the admin key is encrypted: --passphrase-file is required\n",
                    c->cmd);
            return 0;
        }
        rc = cli_read_passphrase(c->pass_file, &pass, &pass_len);
        if (!ZTCA_IS_OK(rc)) {
            cli_fail(c->cmd, "cannot read --passphrase-file", rc);
            return 0;
        }
    }
    rc = api_curl_load();
    if (!ZTCA_IS_OK(rc)) {
        cli_fail(c->cmd, "cannot load libcurl", rc);
        goto out;
    }
    curl = curl_easy_init();
    if (curl == NULL) {
        fprintf(stderr, "ztca %s: cannot start libcurl\n", c->cmd);
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
    if (pass != NULL) {
        curl_easy_setopt(curl, CURLOPT_KEYPASSWD, (const char *)pass);
    }
    curl_easy_setopt(curl, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(curl, CURLOPT_CAPATH, NULL); /* only our root, not the system's */
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, cli_client_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body != NULL) {
        body_text = json_dumps(body, JSON_COMPACT);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_text != NULL ? body_text : "");
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        fprintf(stderr, "ztca %s: cannot reach %s: %s\n", c->cmd, url,
                reply.overflow ? "answer too large" : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (reply.len > 0) {
        json_error_t err;
        *out = json_loadb(reply.p, reply.len, 0, &err);
    }
out:
    /* Not called when libcurl could not be loaded: its functions are not there. */
    if (headers != NULL) {
        curl_slist_free_all(headers);
    }
    if (curl != NULL) {
        curl_easy_cleanup(curl);
    }
    free(body_text);
    free(reply.p);
    ztca_free_secret(pass, pass_len + 1);
    return status;
}

int
cli_problem(const cli_client *c, long status, json_t *reply)
{
    const char *title = json_string_value(json_object_get(reply, "title"));
    const char *detail = json_string_value(json_object_get(reply, "detail"));
    const char *type = json_string_value(json_object_get(reply, "type"));
    fprintf(stderr, "ztca %s: refused (HTTP %ld%s%s): %s%s%s\n", c->cmd, status,
            type != NULL ? ", " : "", type != NULL ? type : "", title != NULL ? title : "error",
            detail != NULL ? ": " : "", detail != NULL ? detail : "");
    return 1;
}

int
cli_print_json(json_t *reply)
{
    char *text = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        return 1;
    }
    puts(text);
    free(text);
    return 0;
}

static const char *
cli_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL && s[0] != '\0' ? s : "-";
}

/* ---- commands ------------------------------------------------------------------------------ */

static int
cli_token_create(const cli_client *c, const char *user, const char *profile, const char *ttl)
{
    json_t *body = json_object();
    json_t *reply = NULL;
    if (user != NULL) {
        json_object_set_new(body, "user", json_string(user));
    }
    json_object_set_new(body, "profile", json_string(profile != NULL ? profile : "agent"));
    if (ttl != NULL) {
        json_object_set_new(body, "ttl", json_string(ttl));
    }
    long status = cli_call(c, "POST", "/v1/tokens", body, &reply);
    json_decref(body);
    int rc = 1;
    if (status == 201 && json_is_string(json_object_get(reply, "token"))) {
        /* The token alone on stdout, so scripts can capture it; when it expires on stderr. */
        rc = c->json ? cli_print_json(reply)
                     : (puts(json_string_value(json_object_get(reply, "token"))), 0);
        if (!c->json) {
            fprintf(stderr, "ztca token create: expires %s\n", cli_str(reply, "expires_at"));
        }
    } else if (status != 0) {
        rc = cli_problem(c, status, reply);
    }
    json_decref(reply);
    return rc;
}

static int
cli_list(const cli_client *c, const char *path, const char *key, bool certs)
{
    json_t *reply = NULL;
    long status = cli_call(c, "GET", path, NULL, &reply);
    int rc = 1;
    if (status == 200 && json_is_array(json_object_get(reply, key))) {
        if (c->json) {
            rc = cli_print_json(reply);
        } else {
            size_t i;
            json_t *o;
            if (certs) {
                printf("%-34s %-9s %-8s %-32s %-16s %s\n", "SERIAL", "PROFILE", "STATUS", "DEVICE",
                       "USER", "NOT AFTER");
            } else {
                printf("%-34s %-8s %s\n", "DEVICE", "STATUS", "CREATED");
            }
            json_array_foreach(json_object_get(reply, key), i, o)
            {
                if (certs) {
                    printf("%-34s %-9s %-8s %-32s %-16s %s\n", cli_str(o, "serial"),
                           cli_str(o, "profile"), cli_str(o, "status"), cli_str(o, "device_id"),
                           cli_str(o, "user"), cli_str(o, "not_after"));
                } else {
                    printf("%-34s %-8s %s\n", cli_str(o, "device_id"), cli_str(o, "status"),
                           cli_str(o, "created_at"));
                }
            }
            if (json_is_string(json_object_get(reply, "next"))) {
                fprintf(stderr, "(more: --after %s)\n", cli_str(reply, "next"));
            }
            rc = 0;
        }
    } else if (status != 0) {
        rc = cli_problem(c, status, reply);
    }
    json_decref(reply);
    return rc;
}

/* A score and the signals behind it (docs/trust.md "Explanation"), one per line. */
static void
cli_print_trust(const char *label, const json_t *t)
{
    size_t i;
    json_t *item;
    if (!json_is_object(t)) {
        printf("%-22s not scored yet\n", label);
        return;
    }
    printf("%-22s %lld%s\n", label, (long long)json_integer_value(json_object_get(t, "score")),
           json_is_true(json_object_get(t, "held"))             ? " (held: certificates on hold)"
           : !json_is_true(json_object_get(t, "issue_allowed")) ? " (issuance denied)"
                                                                : "");
    json_array_foreach(json_object_get(t, "contributions"), i, item)
    {
        printf("%-22s   %+4lld  %s/%s (%s%s)\n", "",
               (long long)json_integer_value(json_object_get(item, "effective")),
               json_string_value(json_object_get(item, "source")),
               json_string_value(json_object_get(item, "kind")),
               json_string_value(json_object_get(item, "scope")),
               json_is_true(json_object_get(item, "derived")) ? ", derived" : "");
    }
}

static int
cli_show(const cli_client *c, const char *path)
{
    json_t *reply = NULL;
    long status = cli_call(c, "GET", path, NULL, &reply);
    int rc = 1;
    if (status == 200 && json_is_object(reply)) {
        if (c->json) {
            rc = cli_print_json(reply);
        } else {
            const char *k;
            json_t *v;
            json_object_foreach(reply, k, v)
            {
                if (strcmp(k, "trust") == 0) {
                    cli_print_trust("trust score", v);
                } else if (strcmp(k, "agents") == 0 && json_is_array(v)) {
                    size_t i;
                    json_t *a;
                    char label[96];
                    json_array_foreach(v, i, a)
                    {
                        snprintf(label, sizeof(label), "agent %s",
                                 json_string_value(json_object_get(a, "user")));
                        cli_print_trust(label, json_object_get(a, "trust"));
                    }
                } else if (json_is_string(v) && strcmp(k, "certificate") != 0) {
                    printf("%-22s %s\n", k, json_string_value(v));
                } else if (json_is_null(v)) {
                    printf("%-22s -\n", k);
                } else if (!json_is_string(v)) {
                    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                    printf("%-22s %s\n", k, text != NULL ? text : "?");
                    free(text);
                }
            }
            if (json_is_string(json_object_get(reply, "certificate"))) {
                fputs(json_string_value(json_object_get(reply, "certificate")), stdout);
            }
            rc = 0;
        }
    } else if (status != 0) {
        rc = cli_problem(c, status, reply);
    }
    json_decref(reply);
    return rc;
}

static int
cli_revoke(const cli_client *c, const char *path, const char *reason)
{
    json_t *body = json_object();
    json_t *reply = NULL;
    if (reason != NULL) {
        json_object_set_new(body, "reason", json_string(reason));
    }
    long status = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    int rc = 1;
    if (status == 200) {
        if (c->json) {
            rc = cli_print_json(reply);
        } else {
            printf("revoked %s (%s)\n",
                   json_is_string(json_object_get(reply, "serial")) ? cli_str(reply, "serial")
                                                                    : cli_str(reply, "device_id"),
                   cli_str(reply, "reason"));
            if (json_is_integer(json_object_get(reply, "certificates_revoked"))) {
                printf(
                    "certificates revoked: %lld\n",
                    (long long)json_integer_value(json_object_get(reply, "certificates_revoked")));
            }
            rc = 0;
        }
    } else if (status != 0) {
        rc = cli_problem(c, status, reply);
    }
    json_decref(reply);
    return rc;
}

/* `device allow --ek-pub FILE`: the EK's TPM2B_PUBLIC as tpm2-tools writes it (`tpm2_readpublic
 * -f tss`, `tpm2_createek -u ... -f tss`), sent as it is; the server judges it. */
static int
cli_device_allow(const cli_client *c, const char *ek_pub, const char *note)
{
    uint8_t *pub = NULL;
    size_t pub_len = 0;
    char *b64 = NULL;
    size_t b64_len = 0;
    json_t *body = NULL, *reply = NULL;
    int rc = 1;
    ztca_rc r = cli_read_file(ek_pub, ATTEST_BLOB_MAX, &pub, &pub_len);
    if (!ZTCA_IS_OK(r)) {
        return cli_fail(c->cmd, "cannot read --ek-pub", r);
    }
    if (pub_len >= 10 && memcmp(pub, "-----BEGIN", 10) == 0) {
        fprintf(stderr,
                "ztca %s: %s is PEM; the EK's TPM2B_PUBLIC is needed (tpm2_readpublic -c "
                "0x81010001 -f tss -o ek.pub): the device id is derived from the whole public "
                "area, not only the key\n",
                c->cmd, ek_pub);
        ztca_free(pub);
        return 1;
    }
    r = ztca_base64_encode(&b64, &b64_len, pub, pub_len);
    ztca_free(pub);
    if (!ZTCA_IS_OK(r)) {
        return cli_fail(c->cmd, "cannot encode --ek-pub", r);
    }
    body = json_pack("{s:s}", "ek_public", b64);
    ztca_free(b64);
    if (body != NULL && note != NULL) {
        json_object_set_new(body, "note", json_string(note));
    }
    long status = body != NULL ? cli_call(c, "POST", "/v1/devices", body, &reply) : 0;
    json_decref(body);
    if (status == 201 && json_is_string(json_object_get(reply, "device_id"))) {
        /* The device id alone on stdout, for scripts. */
        rc = c->json ? cli_print_json(reply) : (puts(cli_str(reply, "device_id")), 0);
    } else if (status != 0) {
        rc = cli_problem(c, status, reply);
    }
    json_decref(reply);
    return rc;
}

/* ---- argument parsing ---------------------------------------------------------------------- */

static void
cli_admin_usage(FILE *f)
{
    fprintf(
        f,
        "usage: ztca token create --user U [--profile agent|device] [--ttl D]\n"
        "       ztca cert list [--after SERIAL] [--limit N]\n"
        "       ztca cert show SERIAL\n"
        "       ztca cert revoke SERIAL [--reason R]\n"
        "       ztca device list [--after ID] [--limit N]\n"
        "       ztca device show ID\n"
        "       ztca device revoke ID [--reason R]\n"
        "       ztca device allow --ek-pub FILE [--note TEXT]\n"
        "common options: [--dir DIR] [--server https://HOST:PORT] [--json]\n"
        "                [--passphrase-file F]\n"
        "\n"
        "Clients of the HTTPS API, authenticated with DIR/admin/cert.pem and key.pem; the\n"
        "server (default: api_url of ztca.conf) is verified against DIR/ca/root.pem.\n"
        "Reasons are RFC 5280 names: unspecified, keyCompromise, cACompromise,\n"
        "affiliationChanged, superseded, cessationOfOperation, certificateHold (certificates\n"
        "only: reversible), privilegeWithdrawn, aACompromise. A device revocation revokes every\n"
        "certificate of the device (default reason keyCompromise) and refuses its future\n"
        "enrollment. `device allow` pre-registers a TPM that has no EK certificate: FILE is\n"
        "its EK's TPM2B_PUBLIC (tpm2_readpublic -c 0x81010001 -f tss -o FILE); it prints the\n"
        "device id, and the TPM may then enroll without an EK certificate.\n");
}

/* Path segments from the command line are percent-encoded so nothing can add a segment. */
static bool
cli_path_segment(char *out, size_t out_size, const char *in)
{
    size_t n = 0;
    for (const char *p = in; *p != '\0'; p++) {
        unsigned char ch = (unsigned char)*p;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                     || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        if (n + 4 >= out_size) {
            return false;
        }
        n += (size_t)snprintf(out + n, out_size - n, plain ? "%c" : "%%%02X", ch);
    }
    return n > 0;
}

int
cli_admin_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "server", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "passphrase-file", required_argument, NULL, 'P' },
        { "user", required_argument, NULL, 'u' },
        { "profile", required_argument, NULL, 'p' },
        { "ttl", required_argument, NULL, 't' },
        { "reason", required_argument, NULL, 'r' },
        { "after", required_argument, NULL, 'a' },
        { "limit", required_argument, NULL, 'l' },
        { "ek-pub", required_argument, NULL, 'e' },
        { "note", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char cmd[32];
    cli_client c;
    const char *user = NULL, *profile = NULL, *ttl = NULL, *reason = NULL, *after = NULL;
    const char *limit = NULL, *ek_pub = NULL, *note = NULL;
    memset(&c, 0, sizeof(c));
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_admin_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    snprintf(cmd, sizeof(cmd), "%s %s", argv[0], argv[1]);
    c.cmd = cmd;
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            c.dir = optarg;
            break;
        case 's':
            c.server = optarg;
            break;
        case 'j':
            c.json = true;
            break;
        case 'P':
            c.pass_file = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'p':
            profile = optarg;
            break;
        case 't':
            ttl = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'a':
            after = optarg;
            break;
        case 'l':
            limit = optarg;
            break;
        case 'e':
            ek_pub = optarg;
            break;
        case 'n':
            note = optarg;
            break;
        case 'h':
            cli_admin_usage(stdout);
            return 0;
        default:
            return cli_usage_error(argv[0], "invalid option");
        }
    }
    c.dir = cli_default_dir(c.dir);
    const char *what = argv[0], *verb = argv[1];
    const char *arg = optind < argc ? argv[optind] : NULL;
    if (optind + (arg != NULL ? 1 : 0) != argc) {
        return cli_usage_error(what, "too many arguments");
    }
    char seg[512], path[1024];
    if (strcmp(what, "token") == 0 && strcmp(verb, "create") == 0 && arg == NULL) {
        if (user == NULL && (profile == NULL || strcmp(profile, "device") != 0)) {
            return cli_usage_error(what, "--user is required (or --profile device)");
        }
        return cli_token_create(&c, user, profile, ttl);
    }
    bool certs = strcmp(what, "cert") == 0;
    if (!certs && strcmp(what, "device") != 0) {
        return cli_usage_error(what, "unknown command");
    }
    if (!certs && strcmp(verb, "allow") == 0 && arg == NULL) {
        if (ek_pub == NULL) {
            return cli_usage_error(what, "--ek-pub FILE is required");
        }
        return cli_device_allow(&c, ek_pub, note);
    }
    if (ek_pub != NULL || note != NULL) {
        return cli_usage_error(what, "--ek-pub and --note belong to `device allow`");
    }
    const char *base = certs ? "/v1/certs" : "/v1/devices";
    if (strcmp(verb, "list") == 0 && arg == NULL) {
        char a[256] = "", l[32] = "";
        if (after != NULL && !cli_path_segment(a, sizeof(a), after)) {
            return cli_usage_error(what, "bad --after");
        }
        if (limit != NULL && !cli_path_segment(l, sizeof(l), limit)) {
            return cli_usage_error(what, "bad --limit");
        }
        snprintf(path, sizeof(path), "%s?%s%s%s%s%s", base, after != NULL ? "after=" : "", a,
                 after != NULL && limit != NULL ? "&" : "", limit != NULL ? "limit=" : "", l);
        return cli_list(&c, path, certs ? "certificates" : "devices", certs);
    }
    if (arg == NULL || !cli_path_segment(seg, sizeof(seg), arg)) {
        return cli_usage_error(what, certs ? "a SERIAL is required" : "a device ID is required");
    }
    if (strcmp(verb, "show") == 0) {
        snprintf(path, sizeof(path), "%s/%s", base, seg);
        return cli_show(&c, path);
    }
    if (strcmp(verb, "revoke") == 0) {
        snprintf(path, sizeof(path), "%s/%s/revoke", base, seg);
        return cli_revoke(&c, path, reason);
    }
    return cli_usage_error(what, "unknown command");
}
