/* cli_provisioner.c: `ztca provisioner add|list|remove`: OIDC provisioners for workload
 * certificates (docs/workload.md), built and checked here with enroll/ and sent to the API. A
 * JWKS given as a file is read here and stored inline, so every node has the same keys. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "enroll/enroll.h"

static void
cli_provisioner_usage(FILE *f)
{
    fprintf(f,
            "usage: ztca provisioner add NAME --type oidc --issuer URL --audience A\n"
            "                        --jwks FILE|URL --san TEMPLATE [--require CLAIM=VALUE]...\n"
            "                        [--max-ttl D] [--algorithms RS256,ES256] [--clock-skew D]\n"
            "                        [--replace]\n"
            "       ztca provisioner list\n"
            "       ztca provisioner remove NAME\n"
            "common options: [--dir DIR] [--server https://HOST:PORT] [--json]\n"
            "                [--passphrase-file F]\n"
            "\n"
            "TEMPLATE is spiffe://TRUST_DOMAIN/workload/... with {claim} placeholders, e.g.\n"
            "'spiffe://corp.example/workload/github/{repository}/{ref}'. For an issuer shared by\n"
            "many owners (GitHub Actions, gitlab.com) always --require the owner claim.\n");
}

typedef struct cli_prov_opts {
    const char *type, *issuer, *audience, *jwks, *san, *max_ttl, *algorithms, *skew;
    const char *requires[ENROLL_MAX_REQUIRE];
    size_t num_requires;
    bool replace;
} cli_prov_opts;

static int
cli_prov_build(const char *name, const cli_prov_opts *o, char **out_text, size_t *out_len)
{
    enroll_provisioner p;
    enroll_provisioner_init(&p);
    ztca_rc rc = ZTCA_RC_OK;
    int status = 1;
    uint8_t *file = NULL;
    size_t file_len = 0;
    if (o->type == NULL || strcmp(o->type, "oidc") != 0) {
        fprintf(stderr, "ztca provisioner add: --type oidc is the only type\n");
        goto out;
    }
    if (o->issuer == NULL || o->audience == NULL || o->jwks == NULL || o->san == NULL) {
        fprintf(stderr,
                "ztca provisioner add: --issuer, --audience, --jwks and --san are required\n");
        goto out;
    }
    snprintf(p.name, sizeof(p.name), "%s", name);
    snprintf(p.issuer, sizeof(p.issuer), "%s", o->issuer);
    snprintf(p.audience, sizeof(p.audience), "%s", o->audience);
    snprintf(p.san, sizeof(p.san), "%s", o->san);
    if (strncmp(o->jwks, "https://", 8) == 0 || strncmp(o->jwks, "http://", 7) == 0) {
        snprintf(p.jwks_uri, sizeof(p.jwks_uri), "%s", o->jwks);
    } else {
        rc = cli_read_file(o->jwks, ENROLL_JWKS_MAX, &file, &file_len);
        if (ZTCA_IS_OK(rc)) {
            rc = enroll_provisioner_set_jwks(&p, file, file_len);
        }
        if (!ZTCA_IS_OK(rc)) {
            status = cli_fail("provisioner add", "cannot use --jwks", rc);
            goto out;
        }
    }
    for (size_t i = 0; i < o->num_requires && ZTCA_IS_OK(rc); i++) {
        rc = enroll_provisioner_add_require(&p, o->requires[i]);
    }
    if (ZTCA_IS_OK(rc) && o->max_ttl != NULL) {
        rc = ztca_duration_parse(&p.max_ttl, o->max_ttl);
    }
    if (ZTCA_IS_OK(rc) && o->skew != NULL) {
        rc = ztca_duration_parse(&p.clock_skew, o->skew);
    }
    if (ZTCA_IS_OK(rc) && o->algorithms != NULL) {
        char list[128];
        snprintf(list, sizeof(list), "%s", o->algorithms);
        p.algs = 0;
        for (char *save = NULL, *a = strtok_r(list, ",", &save); a != NULL && ZTCA_IS_OK(rc);
             a = strtok_r(NULL, ",", &save)) {
            enroll_alg alg;
            rc = enroll_alg_parse(&alg, a);
            p.algs |= ZTCA_IS_OK(rc) ? (unsigned)alg : 0u;
        }
    }
    if (ZTCA_IS_OK(rc)) {
        rc = enroll_provisioner_check(&p);
    }
    if (ZTCA_IS_OK(rc)) {
        rc = enroll_provisioner_write(out_text, out_len, &p);
    }
    if (!ZTCA_IS_OK(rc)) {
        status = cli_fail("provisioner add", "invalid provisioner", rc);
        goto out;
    }
    status = 0;
out:
    ztca_free(file);
    enroll_provisioner_free(&p);
    return status;
}

int
cli_provisioner_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "server", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "passphrase-file", required_argument, NULL, 'P' },
        { "type", required_argument, NULL, 't' },
        { "issuer", required_argument, NULL, 'i' },
        { "audience", required_argument, NULL, 'a' },
        { "jwks", required_argument, NULL, 'k' },
        { "san", required_argument, NULL, 'n' },
        { "require", required_argument, NULL, 'r' },
        { "max-ttl", required_argument, NULL, 'm' },
        { "algorithms", required_argument, NULL, 'A' },
        { "clock-skew", required_argument, NULL, 'S' },
        { "replace", no_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    cli_client c;
    cli_prov_opts o;
    memset(&c, 0, sizeof(c));
    memset(&o, 0, sizeof(o));
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_provisioner_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    char cmd[48];
    snprintf(cmd, sizeof(cmd), "provisioner %s", argv[1]);
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
        case 't':
            o.type = optarg;
            break;
        case 'i':
            o.issuer = optarg;
            break;
        case 'a':
            o.audience = optarg;
            break;
        case 'k':
            o.jwks = optarg;
            break;
        case 'n':
            o.san = optarg;
            break;
        case 'r':
            if (o.num_requires == ENROLL_MAX_REQUIRE) {
                return cli_usage_error("provisioner", "at most 16 --require");
            }
            o.requires[o.num_requires++] = optarg;
            break;
        case 'm':
            o.max_ttl = optarg;
            break;
        case 'A':
            o.algorithms = optarg;
            break;
        case 'S':
            o.skew = optarg;
            break;
        case 'R':
            o.replace = true;
            break;
        case 'h':
            cli_provisioner_usage(stdout);
            return 0;
        default:
            return cli_usage_error("provisioner", "invalid option");
        }
    }
    c.dir = cli_default_dir(c.dir);
    const char *verb = argv[1];
    const char *name = optind < argc ? argv[optind] : NULL;
    if (optind + (name != NULL ? 1 : 0) != argc) {
        return cli_usage_error("provisioner", "too many arguments");
    }
    json_t *reply = NULL;
    long status = 0;
    int rc = 1;
    if (strcmp(verb, "list") == 0 && name == NULL) {
        status = cli_call(&c, "GET", "/v1/provisioners", NULL, &reply);
        if (status == 200) {
            if (c.json) {
                rc = cli_print_json(reply);
            } else {
                size_t i;
                json_t *p;
                printf("%-20s %-48s %s\n", "NAME", "ISSUER", "SAN");
                json_array_foreach(json_object_get(reply, "provisioners"), i, p)
                {
                    printf("%-20s %-48s %s\n", json_string_value(json_object_get(p, "name")),
                           json_string_value(json_object_get(p, "issuer")),
                           json_string_value(json_object_get(p, "san")));
                }
                rc = 0;
            }
        }
    } else if (strcmp(verb, "add") == 0 && name != NULL) {
        char *text = NULL;
        size_t len = 0;
        if (cli_prov_build(name, &o, &text, &len) != 0) {
            return 1;
        }
        json_error_t err;
        json_t *body = json_loadb(text, len, 0, &err);
        free(text);
        status =
            cli_call(&c, "POST", o.replace ? "/v1/provisioners?replace=true" : "/v1/provisioners",
                     body, &reply);
        json_decref(body);
        if (status == 201) {
            rc = c.json ? cli_print_json(reply) : (printf("added provisioner %s\n", name), 0);
        }
    } else if (strcmp(verb, "remove") == 0 && name != NULL && ca_name_is_valid(name)) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/provisioners/%s", name);
        status = cli_call(&c, "DELETE", path, NULL, &reply);
        if (status == 200) {
            rc = c.json ? cli_print_json(reply) : (printf("removed provisioner %s\n", name), 0);
        }
    } else {
        return cli_usage_error("provisioner", "expected: add NAME ..., list, or remove NAME");
    }
    if (status != 0 && rc != 0) {
        rc = cli_problem(&c, status, reply);
    }
    json_decref(reply);
    return rc;
}
